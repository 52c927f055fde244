"""The embedded benchmark: real stamp cut-outs and their real sounds composited onto real photos (`python -m sslprop synth`).

Material. `sslprop/assets/stamps/` holds 75 Tux Paint stamps (GPL-2-or-later, see the
LICENSE beside them): an RGBA photo cut-out and a recording of what it sounds like.
Backgrounds are photos and textures bundled with scikit-image (`BACKGROUNDS`). Several
stamps share one recording (badger and beaver; goat, mountain goat and ram): stamps
whose decoded recordings are the same sound form one class (`group_recordings`).

Presets mirror the paper's data (see docs/data.md, "The embedded benchmark"):

- ``solo`` (MUSIC-solo): one sounding object and 0-2 silent distractors of other classes;
  1 s of audio: an excerpt of the sounding stamp's recording plus light noise.
- ``mosaic`` (MUSIC-Synthetic): a 2x2 grid of four one-object tiles of four classes; the
  audio mixes two of them with jittered gains: two sounding and two silent objects.
- ``scenes`` (Flickr-SoundNet/SSL): 1-3 objects at several scales, three simulated
  annotators with jittered boxes of the sounding object, about 20% off-screen sounds
  (the audio of a class not in view: ``onscreen=False``, no annotator boxes), and a
  co-occurrence bias (each class has a preferred background and a companion object,
  written to dataset.json) for Fig. 1's pathological-bias story. An off-screen sound is,
  by default, unrelated to its scene (as audio taken from another video would be).
- ``sequences`` (AVE-style, Fig. 3/4): 8 frames at 1 fps with 8 s of audio; either one
  object whose loudness follows its apparent size (distance) and that may leave the
  view, or two objects that take turns (one sounds in the first half, the other in the
  second); per-frame on-screen and sounding flags.

Boxes are absolute pixels of the stored frame, ``[x1, y1, x2, y2]``, pixel-edge
coordinates: the tight box of the pasted alpha > 0 region is ``mask[y1:y2, x1:x2]``.
Every sample draws from its own generator seeded by ``(seed, preset, index)``, so a
sample does not depend on ``n`` and the same command gives byte-identical files.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from sslprop.data.format import (
    DATASET_INFO,
    MANIFEST,
    Frame,
    ObjectAnn,
    Sample,
    write_manifest,
)
from sslprop.errors import SSLPropError

PRESETS = ("solo", "mosaic", "scenes", "sequences")  # the paper's data sets' stand-ins
LISTENING = "listening"  # the listening test's set: each frame of `scenes` kind played with each object's sound in turn
PRESET_CODE = {"solo": 1, "mosaic": 2, "scenes": 3, "sequences": 4, LISTENING: 5}  # mixed into each sample's seed
# Stored frame side (mosaic tiles: half). Larger than the cpu model's input (frames are resized for it, as real data
# is), so that Selective Search finds a bag of the paper's size: docs/data.md, "Proposal bags".
DEFAULT_SIZE = {"solo": 192, "mosaic": 192, "scenes": 192, "sequences": 192, LISTENING: 192}
MIN_SIZE = {"solo": 32, "mosaic": 48, "scenes": 32, "sequences": 32, LISTENING: 32}  # below this a stamp is too few pixels
DEFAULT_TEST_FRACTION = {LISTENING: 1.0}  # a preset's test share when --test-fraction is not given (else 0.25)
LISTEN_NOISE = 0.1  # listening: std of the white noise played as "noise" (a loud sound of no object)
GENERATOR_VERSION = 3  # bump when the same seed would give different files (2: the scenes bias; 3: salience needs the audio)

# scikit-image photos and textures shipped inside its wheel (no download); no people-centric
# photos, nothing that looks like one of the stamp classes (chelsea is a cat, horse a horse).
BACKGROUNDS = (
    "brick",
    "camera",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)
STAMP_MAX_SIDE = 256  # stamps are cropped to their alpha box and shrunk to this at load time
BACKGROUND_MAX_SIDE = 512  # backgrounds are shrunk to this at load time
SINGLE_SECONDS = 1.0  # audio of single-frame samples; the frame sits at 0.5 s, so its 0.96 s clip fits
SEQ_FRAMES = 8  # frames per `sequences` clip, one per second
SEQ_SECONDS = 8.0  # audio of a `sequences` clip
OFFSCREEN_SHARE = 0.2  # scenes whose sound comes from a class not in view
# Salience that needs the audio: sounding and silent objects are drawn from one size range, so the sounding
# one is the largest in view in about 1 / (objects in view) of the frames (`largest_share`).
SOLO_HEIGHT = (0.2, 0.5)  # solo: every object's height, a fraction of the frame (log-uniform)
MOSAIC_HEIGHT = (0.3, 0.55)  # mosaic: the object's height, a fraction of its tile (log-uniform)
SCENE_OBJECTS = (2, 8)  # scenes: objects in view, both included
SCENE_HEIGHT = (0.15, 0.55)  # scenes: every object's height, a fraction of the frame (log-uniform)
SCENE_MIN_VISIBLE = 0.6  # scenes: overlaps allowed while every object keeps at least this share of its pixels
SEQ_MODES = ("distance", "turns", "offscreen")  # sequences: clip kinds (offscreen: the sound's source is not in view)
SEQ_MODE_P = (0.3, 0.3, 0.4)  # their chances: 40 % offscreen clips keep at least 30 % of a test split's frames off-screen
# The co-occurrence bias of `scenes`. Until 2026-11-25 the background chance was 0.7 for on- and
# off-screen scenes alike; a from-scratch cpu-profile model then learned the backgrounds and never
# the objects (docs/findings.md). `--habitat-prob 0.7 --offscreen-habitat-prob 0.7`
# still gives those samples, file for file (dataset.json records the version and the chances).
HABITAT_PROB = 0.3  # on-screen scenes: chance that the sound's class brings its preferred background
COMPANION_PROB = 0.6  # scenes with 2+ objects: chance that the first distractor is the class's companion
OFFSCREEN_HABITAT_PROB = 0.0  # off-screen scenes: the same chance for the unseen sound (0: unrelated to the scene)
NUM_ANNOTATORS = 3  # scenes: simulated annotators, as in Flickr-SoundNet/SSL
ANNOTATOR_JITTER = 0.08  # std of each annotator's box sides, as a fraction of the box's width/height


@dataclass(frozen=True)
class Stamp:
    """One cut-out: its name, its class, premultiplied RGBA pixels and its recording.

    image: float32 array (h, w, 4): RGB premultiplied by alpha, and alpha, all in [0, 1];
           cropped to the alpha > 0 box
    sound: float32 array (T,) at 16 kHz, peak-normalised to 0.9
    """

    name: str
    label: str
    image: np.ndarray = field(repr=False)
    sound: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Bank:
    """Everything a sample is made of: stamps grouped into classes, and background photos.

    classes:     sorted class names
    members:     class -> names of its stamps (stamps that share one recording)
    stamps:      stamp name -> Stamp
    backgrounds: name -> uint8 array (H, W, 3), RGB
    """

    classes: tuple[str, ...]
    members: dict[str, tuple[str, ...]]
    stamps: dict[str, Stamp] = field(repr=False)
    backgrounds: dict[str, np.ndarray] = field(repr=False)


@dataclass
class Built:
    """One generated sample before it is written: its manifest row, pixels, audio and masks.

    images: frame path -> uint8 array (H, W, 3), RGB
    audio:  float32 array (T,) at 16 kHz in [-1, 1]
    masks:  masks[n][j] is the bool (H, W) alpha > 0 mask of frames[n].objects[j]
    """

    sample: Sample
    images: dict[str, np.ndarray]
    audio: np.ndarray
    masks: list[list[np.ndarray]]


# ----------------------------------------------------------------------------- material


def stamps_dir() -> Path:
    """The folder of the shipped stamps (package data, found next to this module)."""
    return Path(__file__).resolve().parent.parent / "assets" / "stamps"


def group_recordings(sounds: dict[str, np.ndarray], min_corr: float = 0.8, length_tol: float = 0.02) -> dict[str, str]:
    """Map each name to its class: names whose decoded recordings are the same sound share one.

    Two recordings are the same sound when their lengths differ by at most `length_tol`
    (relative) and the Pearson correlation of their aligned samples is at least `min_corr`
    (re-encodings of one recording correlate at 0.88-1.0; different recordings near 0).
    A class is named after its alphabetically first member.
    """
    names = sorted(sounds)
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            x, y = sounds[a], sounds[b]
            if abs(len(x) - len(y)) > length_tol * max(len(x), len(y)):
                continue
            t = min(len(x), len(y))
            xa, ya = x[:t].astype(np.float64), y[:t].astype(np.float64)
            xa, ya = xa - xa.mean(), ya - ya.mean()
            denom = math.sqrt(float((xa * xa).sum() * (ya * ya).sum()))
            if denom > 0 and float((xa * ya).sum()) / denom >= min_corr:
                ra, rb = root(a), root(b)
                parent[max(ra, rb)] = min(ra, rb)
    return {n: root(n) for n in names}


def _load_stamp_image(path: Path) -> np.ndarray:
    """RGBA PNG -> premultiplied float32 (h, w, 4), cropped to alpha > 0, longest side <= STAMP_MAX_SIDE."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0  # (h, w, 4)
    except OSError as e:
        raise SSLPropError(f"{path}: cannot read stamp image ({e})") from None
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    if len(ys) == 0:
        raise SSLPropError(f"{path}: stamp has no opaque pixel")
    rgba = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    rgba = np.concatenate([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], axis=2)
    h, w = rgba.shape[:2]
    if max(h, w) > STAMP_MAX_SIDE:
        f = STAMP_MAX_SIDE / max(h, w)
        rgba = cv2.resize(rgba, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgba, dtype=np.float32)


def _load_background(name: str) -> np.ndarray:
    """A scikit-image bundled photo as uint8 RGB (H, W, 3), longest side <= BACKGROUND_MAX_SIDE."""
    from skimage import data as skdata

    img = np.asarray(getattr(skdata, name)())
    if img.dtype != np.uint8:
        raise SSLPropError(f"skimage.data.{name}: expected a uint8 image, got {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = np.ascontiguousarray(img[..., :3])
    h, w = img.shape[:2]
    if max(h, w) > BACKGROUND_MAX_SIDE:
        f = BACKGROUND_MAX_SIDE / max(h, w)
        img = cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    return img


@functools.lru_cache(maxsize=4)
def load_bank(root: str | None = None) -> Bank:
    """Load every stamp (image, recording) under `root` (default: the shipped ones) and the backgrounds.

    Recordings are decoded with `sslprop.data.audio.load_audio` (16 kHz mono) and
    peak-normalised to 0.9; stamps that share a recording become one class. Cached per
    process (about 4 s on one core).
    """
    from sslprop.data.audio import load_audio

    folder = Path(root) if root is not None else stamps_dir()
    names = sorted(p.stem for p in folder.glob("*.png") if (folder / f"{p.stem}.ogg").is_file())
    if len(names) < 4:
        raise SSLPropError(f"{folder}: need at least 4 stamps (NAME.png + NAME.ogg), found {len(names)}")
    sounds = {}
    for n in names:
        wav = load_audio(folder / f"{n}.ogg").numpy().astype(np.float32)
        peak = float(np.abs(wav).max())
        if peak <= 1e-4:
            raise SSLPropError(f"{folder / (n + '.ogg')}: recording is silent")
        sounds[n] = wav * np.float32(0.9 / peak)
    label = group_recordings(sounds)
    stamps = {n: Stamp(n, label[n], _load_stamp_image(folder / f"{n}.png"), sounds[n]) for n in names}
    classes = tuple(sorted(set(label.values())))
    members = {c: tuple(n for n in names if label[n] == c) for c in classes}
    backgrounds = {b: _load_background(b) for b in BACKGROUNDS}
    return Bank(classes, members, stamps, backgrounds)


def subset_bank(bank: Bank, subset: str) -> Bank:
    """The bank restricted to a class subset (`sslprop.data.synth.class_subset`: "all", "even" or "odd")."""
    classes = class_subset(bank.classes, subset)
    if subset == "all":
        return bank
    members = {c: bank.members[c] for c in classes}
    stamps = {n: bank.stamps[n] for c in classes for n in members[c]}
    return Bank(classes, members, stamps, bank.backgrounds)


def _check_chance(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise SSLPropError(f"{name} = {p}: must be a probability in [0, 1]")


def make_bias(bank: Bank, seed: int, habitat_prob: float = HABITAT_PROB, companion_prob: float = COMPANION_PROB,
              offscreen_habitat_prob: float = OFFSCREEN_HABITAT_PROB) -> dict[str, Any]:
    """The `scenes` co-occurrence bias for `seed`: each class's preferred background and companion class.

    habitat_prob:   chance that an on-screen scene shows its sound's preferred background (0: no background bias)
    companion_prob: chance that a scene of 2+ objects shows the sound's companion (0: no companion bias)
    offscreen_habitat_prob: the same chance for an off-screen scene, whose sounding class is not in view
                    (0: an off-screen sound is unrelated to the scene, like audio from another video)
    The pairings depend on `seed` only, so sets that differ in these chances share them.
    """
    _check_chance("habitat_prob", habitat_prob)
    _check_chance("companion_prob", companion_prob)
    _check_chance("offscreen_habitat_prob", offscreen_habitat_prob)
    rng = np.random.default_rng([seed, 99])
    order = [bank.classes[i] for i in rng.permutation(len(bank.classes))]
    habitat = {c: BACKGROUNDS[i % len(BACKGROUNDS)] for i, c in enumerate(order)}
    order = [bank.classes[i] for i in rng.permutation(len(bank.classes))]
    companion = {c: order[(i + 1) % len(order)] for i, c in enumerate(order)}
    return {
        "habitat_prob": float(habitat_prob),
        "companion_prob": float(companion_prob),
        "offscreen_habitat_prob": float(offscreen_habitat_prob),
        "habitat": dict(sorted(habitat.items())),
        "companion": dict(sorted(companion.items())),
    }


# ----------------------------------------------------------------------------- pixels


def resize_stamp(image: np.ndarray, height: int, flip: bool = False) -> np.ndarray:
    """Premultiplied RGBA (h, w, 4) -> (height, round(w * height / h), 4), mirrored if `flip`.

    Alpha below half a grey level is set to 0 (with its colour), so the pasted region is
    exactly where alpha > 0.
    """
    h, w = image.shape[:2]
    new_w = max(1, round(w * height / h))
    interp = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    out = cv2.resize(image, (new_w, height), interpolation=interp)  # (height, new_w, 4)
    out[out[..., 3] < 0.5 / 255.0] = 0.0
    if flip:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def alpha_box(alpha: np.ndarray) -> list[float]:
    """Tight box of alpha > 0 of an (H, W) array: [x1, y1, x2, y2] with mask[y1:y2, x1:x2] covering it."""
    ys, xs = np.nonzero(alpha > 0)
    if len(ys) == 0:
        raise ValueError("alpha_box: empty mask")
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> tuple[list[float], np.ndarray]:
    """Composite a premultiplied RGBA `patch` (h, w, 4) onto float `canvas` (H, W, 3) in place at (x, y).

    The patch must lie inside the canvas. Returns the tight box of the pasted alpha > 0
    region in canvas pixels, ``[x1, y1, x2, y2]``, and that region as a bool (H, W) mask.
    Pixels outside the mask are left unchanged.
    """
    h, w = patch.shape[:2]
    H, W = canvas.shape[:2]
    if x < 0 or y < 0 or x + w > W or y + h > H:
        raise ValueError(f"paste: patch {w}x{h} at ({x}, {y}) leaves the {W}x{H} canvas")
    a = patch[..., 3:]  # (h, w, 1)
    region = canvas[y : y + h, x : x + w]
    region[...] = region * (1.0 - a) + patch[..., :3]
    mask = np.zeros((H, W), dtype=bool)
    mask[y : y + h, x : x + w] = patch[..., 3] > 0
    return alpha_box(mask), mask


def background_crop(image: np.ndarray, rng: np.random.Generator, side: int) -> tuple[np.ndarray, list[int]]:
    """A random square crop (35-100% of the shorter side) of `image`, resized to (side, side, 3) uint8.

    Returns the crop and its box in the source image, [x1, y1, x2, y2].
    """
    H, W = image.shape[:2]
    c = int(round(min(H, W) * rng.uniform(0.35, 1.0)))
    x0 = int(rng.integers(0, W - c + 1))
    y0 = int(rng.integers(0, H - c + 1))
    crop = image[y0 : y0 + c, x0 : x0 + c]
    interp = cv2.INTER_AREA if c > side else cv2.INTER_LINEAR
    out = cv2.resize(crop, (side, side), interpolation=interp)
    return np.ascontiguousarray(out), [x0, y0, x0 + c, y0 + c]


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] -> uint8 (round half to even, clipped)."""
    return np.clip(np.round(canvas * 255.0), 0, 255).astype(np.uint8)


def fit_height(stamp: Stamp, height: float, width_limit: float) -> int:
    """Pixel height at which `stamp` is `height` tall, shrunk so its width stays <= `width_limit`; at least 4."""
    h, w = stamp.image.shape[:2]
    height = min(height, width_limit * h / w)
    return max(4, int(round(height)))


def _overlap_ok(box: list[float], taken: list[list[float]], max_share: float = 0.15) -> bool:
    """True when `box` covers at most `max_share` of each taken box and they cover at most that of it."""
    for t in taken:
        iw = min(box[2], t[2]) - max(box[0], t[0])
        ih = min(box[3], t[3]) - max(box[1], t[1])
        if iw <= 0 or ih <= 0:
            continue
        inter = iw * ih
        area_b = (box[2] - box[0]) * (box[3] - box[1])
        area_t = (t[2] - t[0]) * (t[3] - t[1])
        if inter > max_share * min(area_b, area_t):
            return False
    return True


@dataclass
class Placed:
    """A stamp placed on a frame: the patch, its top-left corner, and what it is."""

    stamp: Stamp
    patch: np.ndarray
    x: int
    y: int
    flip: bool
    sounding: bool


def place(
    rng: np.random.Generator,
    stamp: Stamp,
    frame: int,
    height_frac: tuple[float, float],
    taken: list[list[float]],
    sounding: bool,
    tries: int = 30,
) -> Placed | None:
    """Place `stamp` at a random scale (log-uniform in `height_frac` of the frame) and position.

    The whole patch lies inside the (frame, frame) canvas and overlaps the `taken` boxes
    little (`_overlap_ok`); None when no such place is found in `tries` draws.
    """
    for patch, x, y, flip in candidates(rng, stamp, frame, height_frac, tries):
        h, w = patch.shape[:2]
        if _overlap_ok([x, y, x + w, y + h], taken):
            return Placed(stamp, patch, x, y, flip, sounding)
    return None


def candidates(rng: np.random.Generator, stamp: Stamp, frame: int, height_frac: tuple[float, float],
               tries: int) -> Iterator[tuple[np.ndarray, int, int, bool]]:
    """Up to `tries` random placements of `stamp` inside a (frame, frame) canvas: (patch, x, y, flip), one mirror draw
    for all, each at a scale log-uniform in `height_frac` of the frame (drawn lazily: stop when one fits)."""
    flip = bool(rng.random() < 0.5)
    lo, hi = math.log(height_frac[0]), math.log(height_frac[1])
    for _ in range(tries):
        height = fit_height(stamp, frame * math.exp(rng.uniform(lo, hi)), 0.95 * frame)
        patch = resize_stamp(stamp.image, height, flip)
        h, w = patch.shape[:2]
        yield patch, int(rng.integers(0, frame - w + 1)), int(rng.integers(0, frame - h + 1)), flip


def render(background: np.ndarray, placed: list[Placed], offset: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, list[ObjectAnn], list[np.ndarray]]:
    """Paste `placed` stamps in order onto a uint8 background (H, W, 3).

    Returns the uint8 frame, one `ObjectAnn` per stamp (box xyxy in frame pixels shifted
    by `offset`) and their bool (H, W) masks.
    """
    canvas = background.astype(np.float32) / np.float32(255.0)
    objects, masks = [], []
    for p in placed:
        box, mask = paste(canvas, p.patch, p.x, p.y)
        dx, dy = offset
        objects.append(ObjectAnn([box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy], p.stamp.label, p.sounding))
        masks.append(mask)
    return to_uint8(canvas), objects, masks


def jitter_box(rng: np.random.Generator, box: list[float], size: int, rel: float = ANNOTATOR_JITTER) -> list[float]:
    """One simulated annotator's box: each side moved by N(0, rel * box side), rounded, kept in the frame."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    d = rng.normal(0.0, rel, size=4) * np.array([w, h, w, h])
    j = [round(x1 + d[0]), round(y1 + d[1]), round(x2 + d[2]), round(y2 + d[3])]
    j = [min(max(v, 0), size) for v in j]
    if j[2] - j[0] < 2:
        j[0], j[2] = int(x1), int(x2)
    if j[3] - j[1] < 2:
        j[1], j[3] = int(y1), int(y2)
    return [float(v) for v in j]


# ----------------------------------------------------------------------------- sound


def loop_to(sound: np.ndarray, length: int, rng: np.random.Generator, sr: int = 16000) -> np.ndarray:
    """Repeat `sound` with random 0.05-0.25 s silences in between until it is at least `length` long."""
    parts, total = [sound], len(sound)
    while total < length:
        gap = np.zeros(int(sr * rng.uniform(0.05, 0.25)), dtype=np.float32)
        parts += [gap, sound]
        total += len(gap) + len(sound)
    return np.concatenate(parts)


def excerpt(sound: np.ndarray, length: int, rng: np.random.Generator, hop: int = 160) -> tuple[np.ndarray, int]:
    """A `length`-sample window of `sound` (looped when short) whose RMS is at least half the loudest window's.

    Returns the window (float32, (length,)) and its start in the looped recording.
    """
    x = loop_to(sound, length + len(sound) // 2, rng)
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(0, len(x) - length + 1, hop)
    energy = c[starts + length] - c[starts]
    good = starts[energy >= 0.25 * energy.max()]  # RMS >= half the loudest window's
    s = int(good[rng.integers(0, len(good))])
    return x[s : s + length].astype(np.float32), s


def finish_audio(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """Add light white noise (std 0.002-0.008) and scale down to peak 0.99 if louder; returns (audio, noise std, scale)."""
    std = float(rng.uniform(0.002, 0.008))
    y = x + rng.normal(0.0, std, size=len(x)).astype(np.float32)
    peak = float(np.abs(y).max())
    scale = 0.99 / peak if peak > 0.99 else 1.0
    return (y * np.float32(scale)).astype(np.float32), std, scale


# ----------------------------------------------------------------------------- presets


def _pick_stamp(rng: np.random.Generator, bank: Bank, label: str) -> Stamp:
    names = bank.members[label]
    return bank.stamps[names[int(rng.integers(0, len(names)))]]


def _pick_classes(rng: np.random.Generator, bank: Bank, k: int, exclude: tuple[str, ...] = ()) -> list[str]:
    pool = [c for c in bank.classes if c not in exclude]
    return [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]


def _pick_background(rng: np.random.Generator, bank: Bank, side: int, name: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    name = name if name is not None else BACKGROUNDS[int(rng.integers(0, len(BACKGROUNDS)))]
    img, crop = background_crop(bank.backgrounds[name], rng, side)
    return img, {"name": name, "crop": crop}


def _frame_path(sample_id: str, n: int, n_frames: int) -> str:
    return f"frames/{sample_id}.png" if n_frames == 1 else f"frames/{sample_id}/{n:02d}.png"


def _placed_meta(placed: list[Placed]) -> list[dict[str, Any]]:
    return [{"stamp": p.stamp.name, "height": int(p.patch.shape[0]), "flip": p.flip, "sounding": p.sounding} for p in placed]


def _taken(placed: list[Placed]) -> list[list[float]]:
    return [[q.x, q.y, q.x + q.patch.shape[1], q.y + q.patch.shape[0]] for q in placed]


def _visible_ok(patch: np.ndarray, x: int, y: int, placed: list[Placed], masks: list[np.ndarray],
                size: int, min_visible: float) -> tuple[bool, np.ndarray]:
    """Whether pasting `patch` at (x, y) over the `placed` stamps (bool (size, size) masks of what each still shows)
    leaves each of them at least `min_visible` of its own pixels; returns (ok, the new stamp's mask)."""
    h, w = patch.shape[:2]
    new = np.zeros((size, size), dtype=bool)
    new[y : y + h, x : x + w] = patch[..., 3] > 0
    for q, m in zip(placed, masks):
        full = float((q.patch[..., 3] > 0).sum())
        if float((m & ~new).sum()) < min_visible * full:
            return False, new
    return True, new


def place_cluttered(
    rng: np.random.Generator,
    stamp: Stamp,
    frame: int,
    height_frac: tuple[float, float],
    placed: list[Placed],
    visible: list[np.ndarray],
    sounding: bool,
    min_visible: float = SCENE_MIN_VISIBLE,
    tries: int = 30,
) -> tuple[Placed, np.ndarray] | None:
    """Place `stamp` over the `placed` ones, overlaps allowed: each earlier stamp keeps at least `min_visible` of its pixels.

    Scale log-uniform in `height_frac` of the frame; `visible` holds the bool (frame, frame) mask of what each
    earlier stamp still shows, and is updated in place on success. Returns (the placement, its mask) or None.
    """
    for patch, x, y, flip in candidates(rng, stamp, frame, height_frac, tries):
        ok, mask = _visible_ok(patch, x, y, placed, visible, frame, min_visible)
        if ok:
            for m in visible:
                m &= ~mask
            return Placed(stamp, patch, x, y, flip, sounding), mask
    return None


def visible_boxes(masks: list[np.ndarray]) -> list[list[float]]:
    """The tight box of what each pasted stamp still shows after the later ones: masks in paint order."""
    out = []
    for i, m in enumerate(masks):
        shown = m.copy()
        for later in masks[i + 1 :]:
            shown &= ~later
        out.append(alpha_box(shown))
    return out


def build_solo(rng: np.random.Generator, bank: Bank, sample_id: str, size: int) -> Built:
    """MUSIC-solo: one sounding object and 1-3 silent distractors of other classes, all of one size range; 1 s of its sound.

    Every object (sounding or not) is drawn at SOLO_HEIGHT of the frame, so the sounding one is the largest
    in about 1 / (objects in view) of the frames: size does not give the answer away.
    """
    labels = _pick_classes(rng, bank, 2 + int(rng.integers(0, 3)))
    bg, bg_meta = _pick_background(rng, bank, size)
    placed: list[Placed] = []
    visible: list[np.ndarray] = []
    for i in [int(j) for j in rng.permutation(len(labels))]:  # paint order: the sounding object is hidden as often as any
        got = place_cluttered(rng, _pick_stamp(rng, bank, labels[i]), size, SOLO_HEIGHT, placed, visible, i == 0,
                              tries=30 if i else 300)
        if got is not None:
            placed.append(got[0])
            visible.append(got[1])
    if not any(p.sounding for p in placed):
        raise SSLPropError(f"{sample_id}: no place for the sounding object in a frame of {size} px (use a larger --size)")
    img, objects, _ = render(bg, placed)
    for obj, shown in zip(objects, visible):
        obj.box = alpha_box(shown)
    source = next(i for i, p in enumerate(placed) if p.sounding)
    n = int(SINGLE_SECONDS * 16000)
    gain = float(rng.uniform(0.6, 1.0))
    clip, start = excerpt(placed[source].stamp.sound, n, rng)
    audio, noise, scale = finish_audio(gain * clip, rng)
    path = _frame_path(sample_id, 0, 1)
    frame = Frame(path, SINGLE_SECONDS / 2, size, size, [[list(objects[source].box)]], objects, True)
    meta = {"background": bg_meta, "objects": _placed_meta(placed), "gain": round(gain, 6), "excerpt_start": start, "noise_std": round(noise, 6), "scale": round(scale, 6)}
    sample = Sample(sample_id, sample_id, "train", f"audio/{sample_id}.wav", [frame], [labels[0]], meta)
    return Built(sample, {path: img}, audio, [visible])


def build_mosaic(rng: np.random.Generator, bank: Bank, sample_id: str, size: int) -> Built:
    """MUSIC-Synthetic: a 2x2 grid of four one-object tiles (four classes); audio mixes two of them."""
    tile = size // 2
    labels = _pick_classes(rng, bank, 4)
    sounding = sorted(int(i) for i in rng.choice(4, size=2, replace=False))
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    objects, masks, tiles = [], [], []
    for t, label in enumerate(labels):
        bg, bg_meta = _pick_background(rng, bank, tile)
        p = place(rng, _pick_stamp(rng, bank, label), tile, MOSAIC_HEIGHT, [], t in sounding)
        assert p is not None  # the first object on an empty tile always fits
        ox, oy = (t % 2) * tile, (t // 2) * tile
        img, objs, ms = render(bg, [p], offset=(ox, oy))
        canvas[oy : oy + tile, ox : ox + tile] = img
        full = np.zeros((size, size), dtype=bool)
        full[oy : oy + tile, ox : ox + tile] = ms[0]
        objects += objs
        masks.append(full)
        tiles.append({"background": bg_meta, **_placed_meta([p])[0]})
    n = int(SINGLE_SECONDS * 16000)
    mix = np.zeros(n, dtype=np.float32)
    gains, starts = [], []
    for t in sounding:
        g = float(rng.uniform(0.5, 1.0))
        clip, start = excerpt(bank.stamps[tiles[t]["stamp"]].sound, n, rng)
        mix += np.float32(g) * clip
        gains.append(round(g, 6))
        starts.append(start)
    audio, noise, scale = finish_audio(mix, rng)
    path = _frame_path(sample_id, 0, 1)
    frame = Frame(path, SINGLE_SECONDS / 2, size, size, [[list(objects[t].box) for t in sounding]], objects, True)
    meta = {"tiles": tiles, "sounding_tiles": sounding, "gains": gains, "excerpt_starts": starts, "noise_std": round(noise, 6), "scale": round(scale, 6)}
    sample = Sample(sample_id, sample_id, "train", f"audio/{sample_id}.wav", [frame], [labels[t] for t in sounding], meta)
    return Built(sample, {path: canvas}, audio, [masks])


def scene_layout(rng: np.random.Generator, bank: Bank, labels: Sequence[str], size: int, source: int | None,
                 sample_id: str, keep: int = 1) -> tuple[list[Placed], list[np.ndarray]]:
    """One stamp of each of `labels`, painted in a random order over each other (`place_cluttered`, SCENE_HEIGHT).

    `source`: the index in `labels` of the sounding object, which must find a place (None: every object is silent);
    `keep`: at least this many objects must be placed. Returns the placements in paint order and the bool (size, size)
    mask of what each still shows.
    """
    stamps = [_pick_stamp(rng, bank, label) for label in labels]
    order = [int(i) for i in rng.permutation(len(labels))]  # paint order: the sounding object is hidden as often as any
    placed: list[Placed] = []
    visible: list[np.ndarray] = []
    for i in order:
        must = i == source or len(placed) + (len(order) - order.index(i)) <= keep
        got = place_cluttered(rng, stamps[i], size, SCENE_HEIGHT, placed, visible, i == source)
        if got is None and must:  # the sounding object (or one needed to keep `keep` in view) must be placed: try longer
            got = place_cluttered(rng, stamps[i], size, SCENE_HEIGHT, placed, visible, i == source, tries=300)
        if got is not None:
            placed.append(got[0])
            visible.append(got[1])
    if (source is not None and not any(p.sounding for p in placed)) or len(placed) < keep:
        raise SSLPropError(f"{sample_id}: no place for every object that must be in view in a frame of {size} px (use a larger --size)")
    return placed, visible


def render_visible(background: np.ndarray, placed: list[Placed], visible: list[np.ndarray]) -> tuple[np.ndarray, list[ObjectAnn]]:
    """`render`, with each object's box the tight box of what it still shows (`visible`, from `scene_layout`)."""
    img, objects, _ = render(background, placed)
    for obj, shown in zip(objects, visible):
        obj.box = alpha_box(shown)
    return img, objects


def build_scenes(rng: np.random.Generator, bank: Bank, sample_id: str, size: int, bias: dict[str, Any]) -> Built:
    """Flickr/SSL: 2-8 objects in view drawn from one size range, overlapping and partly hidden; ~20% off-screen sounds.

    The objects are painted in a random order, each over the earlier ones while every object keeps at least
    SCENE_MIN_VISIBLE of its pixels (`place_cluttered`); every box is the tight box of what the object still
    shows, and the three simulated annotators jitter the sounding object's. The sounding object is one of the
    objects in view (none in an off-screen scene, whose sound is of a class not in view), as large as any other
    on average. Every object's stamp (so its recording) is in ``meta["objects"]``; an off-screen scene's sound
    in ``meta["sound_stamp"]``. The co-occurrence bias (habitat background, companion object) as before.
    """
    onscreen = bool(rng.random() >= OFFSCREEN_SHARE)
    k = int(rng.integers(SCENE_OBJECTS[0], SCENE_OBJECTS[1] + 1))
    sound_label = _pick_classes(rng, bank, 1)[0]
    if onscreen:
        labels = [sound_label]
        companion = bool(rng.random() < bias["companion_prob"])
        if companion:
            labels.append(bias["companion"][sound_label])
        labels += _pick_classes(rng, bank, k - len(labels), exclude=tuple(labels))
    else:
        companion = False
        labels = _pick_classes(rng, bank, k, exclude=(sound_label,))
    chance = bias["habitat_prob"] if onscreen else bias.get("offscreen_habitat_prob", bias["habitat_prob"])
    habitat = bool(rng.random() < chance)  # one draw either way: on-screen scenes do not depend on the off-screen chance
    bg, bg_meta = _pick_background(rng, bank, size, bias["habitat"][sound_label] if habitat else None)
    placed, visible = scene_layout(rng, bank, labels, size, 0 if onscreen else None, sample_id)
    sound_stamp = next(p.stamp for p in placed if p.sounding) if onscreen else _pick_stamp(rng, bank, sound_label)
    img, objects = render_visible(bg, placed, visible)
    sounding = [o for o in objects if o.sounding]
    annotators = [[jitter_box(rng, sounding[0].box, size)] for _ in range(NUM_ANNOTATORS)] if onscreen else []
    n = int(SINGLE_SECONDS * 16000)
    gain = float(rng.uniform(0.6, 1.0))
    clip, start = excerpt(sound_stamp.sound, n, rng)
    audio, noise, scale = finish_audio(gain * clip, rng)
    path = _frame_path(sample_id, 0, 1)
    frame = Frame(path, SINGLE_SECONDS / 2, size, size, annotators, objects, onscreen)
    meta = {
        "background": bg_meta,
        "habitat_background": habitat,
        "companion": companion,
        "drawn": len(labels),  # objects drawn for the scene; fewer are in view when one found no place
        "objects": [{**m, "visible": round(float(v.sum()) / float((p.patch[..., 3] > 0).sum()), 4)}
                    for m, v, p in zip(_placed_meta(placed), visible, placed)],
        "sound_stamp": sound_stamp.name,
        "gain": round(gain, 6),
        "excerpt_start": start,
        "noise_std": round(noise, 6),
        "scale": round(scale, 6),
    }
    sample = Sample(sample_id, sample_id, "train", f"audio/{sample_id}.wav", [frame], [sound_label], meta)
    return Built(sample, {path: img}, audio, [visible])


def _interp(a: float, b: float, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t


def build_sequences(rng: np.random.Generator, bank: Bank, sample_id: str, size: int) -> Built:
    """AVE-style clips of 8 frames at 1 fps and 8 s of audio.

    ``distance`` (Fig. 3): one object recedes, approaches, or goes away and comes back; its
    amplitude is proportional to its apparent height; in some clips it is out of view for
    the farthest frames (still audible: on-screen False). ``turns`` (Fig. 4): two objects
    in view, the first sounds for the first 4 s, the second for the last 4 s. ``offscreen``
    (Table 1): the same two objects in view, both silent, and 8 s of a third class's sound
    (every frame on-screen False). Their chances are `SEQ_MODE_P`.
    """
    sr, N = 16000, SEQ_FRAMES
    total = int(SEQ_SECONDS * sr)
    times = np.arange(N) + 0.5  # frame n is centred in second n
    t = np.linspace(0.0, 1.0, N)
    mode = SEQ_MODES[int(rng.choice(len(SEQ_MODES), p=SEQ_MODE_P))]
    bg, bg_meta = _pick_background(rng, bank, size)
    frames_placed: list[list[Placed]] = []
    onscreen = [True] * N
    meta: dict[str, Any] = {"mode": mode, "background": bg_meta}
    if mode == "distance":
        labels = _pick_classes(rng, bank, 2)
        stamp = _pick_stamp(rng, bank, labels[0])
        path_kind = ["recede", "approach", "away_and_back"][int(rng.integers(0, 3))]
        near, far = rng.uniform(0.55, 0.75), rng.uniform(0.15, 0.25)
        if path_kind == "recede":
            hf = _interp(near, far, t)
        elif path_kind == "approach":
            hf = _interp(far, near, t)
        else:
            hf = far + (near - far) * np.abs(2.0 * t - 1.0)
        flip = bool(rng.random() < 0.5)
        x_from, x_to = rng.uniform(0.0, 1.0, size=2)
        ground, horizon = rng.uniform(0.8, 0.98) * size, rng.uniform(0.45, 0.6) * size
        hidden = path_kind == "away_and_back" and bool(rng.random() < 0.4)
        far_frames = set(np.nonzero(hf <= np.sort(hf)[1])[0].tolist()) if hidden else set()
        moving: list[Placed | None] = []
        for n in range(N):
            if n in far_frames:
                onscreen[n] = False
                moving.append(None)
                continue
            height = fit_height(stamp, hf[n] * size, 0.95 * size)
            patch = resize_stamp(stamp.image, height, flip)
            h, w = patch.shape[:2]
            bottom = horizon + (ground - horizon) * hf[n] / near
            y = int(np.clip(round(bottom - h), 0, size - h))
            x = int(round(_interp(x_from, x_to, t[n]) * (size - w)))
            moving.append(Placed(stamp, patch, x, y, flip, True))
        distractor = None
        if rng.random() < 0.5:  # a silent object out of the moving one's way (none if there is no room)
            path_boxes = [[m.x, m.y, m.x + m.patch.shape[1], m.y + m.patch.shape[0]] for m in moving if m is not None]
            distractor = place(rng, _pick_stamp(rng, bank, labels[1]), size, (0.2, 0.35), path_boxes, False)
        for m in moving:
            frames_placed.append([p for p in (distractor, m) if p is not None])
        gains = hf / near  # amplitude proportional to apparent height (1 / distance)
        loud = loop_to(stamp.sound, total, rng)[:total]
        envelope = np.interp(np.arange(total) / sr, times, gains).astype(np.float32)
        mix = loud * envelope
        classes = [labels[0]]
        meta.update(path=path_kind, stamp=stamp.name, gains=[round(float(g), 6) for g in gains], hidden_frames=sorted(far_frames), distractor=None if distractor is None else distractor.stamp.name)
    else:  # turns, or offscreen: the same two objects in view, silent, and the sound of a third class
        labels = _pick_classes(rng, bank, 2 if mode == "turns" else 3)
        stamps = [_pick_stamp(rng, bank, c) for c in labels[:2]]
        half = size // 2
        base = []
        for i, s in enumerate(stamps):
            height = fit_height(s, rng.uniform(0.35, 0.55) * size, 0.45 * size)
            flip = bool(rng.random() < 0.5)
            patch = resize_stamp(s.image, height, flip)
            h, w = patch.shape[:2]
            x = int(rng.integers(i * half, i * half + half - w + 1))
            y = int(rng.integers(0, size - h + 1))
            base.append((s, patch, x, y, flip))
        for n in range(N):
            placed = []
            for i, (s, patch, x, y, flip) in enumerate(base):
                h, w = patch.shape[:2]
                dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))  # a little wobble per frame
                xn = int(np.clip(x + dx, i * half, i * half + half - w))
                yn = int(np.clip(y + dy, 0, size - h))
                placed.append(Placed(s, patch, xn, yn, flip, mode == "turns" and (n < N // 2) == (i == 0)))
            frames_placed.append(placed)
    if mode == "offscreen":
        onscreen = [False] * N
        heard = _pick_stamp(rng, bank, labels[2])
        gain = float(rng.uniform(0.6, 1.0))
        mix = np.float32(gain) * excerpt(heard.sound, total, rng)[0]
        classes = [labels[2]]
        meta.update(stamps=[s.name for s in stamps], sound_stamp=heard.name, gains=[round(gain, 6)])
    elif mode == "turns":
        gains = [float(rng.uniform(0.6, 1.0)) for _ in stamps]
        seg = total // 2
        parts = [np.float32(g) * excerpt(s.sound, seg, rng)[0] for g, s in zip(gains, stamps)]
        fade = int(0.05 * sr)
        ramp = np.linspace(1.0, 0.0, 2 * fade, dtype=np.float32)
        parts[0][seg - fade :] *= ramp[:fade]  # fade the first source out over the last 50 ms of its half
        parts[1][:fade] *= ramp[fade:][::-1]  # and the second in over the first 50 ms of its half
        mix = np.concatenate(parts)
        classes = list(labels)
        meta.update(stamps=[s.name for s in stamps], gains=[round(g, 6) for g in gains], switch_time=SEQ_SECONDS / 2)
    audio, noise, scale = finish_audio(mix.astype(np.float32), rng)
    images, frames, masks = {}, [], []
    for n, placed in enumerate(frames_placed):
        img, objects, ms = render(bg, placed)
        path = _frame_path(sample_id, n, N)
        sounding = [list(o.box) for o in objects if o.sounding]
        frames.append(Frame(path, float(times[n]), size, size, [sounding] if sounding else [], objects, onscreen[n]))
        images[path] = img
        masks.append(ms)
    meta.update(noise_std=round(noise, 6), scale=round(scale, 6), fps=1.0)
    sample = Sample(sample_id, sample_id, "train", f"audio/{sample_id}.wav", frames, classes, meta)
    return Built(sample, images, audio, masks)


def build_listening(rng: np.random.Generator, bank: Bank, frame_id: str, size: int) -> list[Built]:
    """The listening test's frame `frame_id`: 2-8 objects of different classes in view, as in `scenes`, and one sample
    per sound it is played with: each object's own recording in turn (``<frame_id>-o<j>``, that object sounding and
    annotated), "silence" (the noise floor alone), "noise" (loud white noise) and "offscreen" (the recording of a
    class not in view). Every sample of the frame shares its image and its video id (the frame), so negatives come
    from other frames. ``meta``: frame, played ("object", "silence", "noise", "offscreen"), object (its index in
    ``objects``, or None), stamp (what is heard).
    """
    k = int(rng.integers(SCENE_OBJECTS[0], SCENE_OBJECTS[1] + 1))
    labels = _pick_classes(rng, bank, k + 1)
    heard_off = _pick_stamp(rng, bank, labels[-1])  # a class not in view
    bg, bg_meta = _pick_background(rng, bank, size)
    placed, visible = scene_layout(rng, bank, labels[:-1], size, None, frame_id, keep=2)
    img, objects = render_visible(bg, placed, visible)
    path = f"frames/{frame_id}.png"
    n = int(SINGLE_SECONDS * 16000)
    sounds: list[tuple[str, int | None, np.ndarray, str]] = []
    for j, p in enumerate(placed):
        clip, _ = excerpt(p.stamp.sound, n, rng)
        sounds.append((f"o{j}", j, np.float32(rng.uniform(0.6, 1.0)) * clip, p.stamp.name))
    sounds.append(("silence", None, np.zeros(n, np.float32), ""))
    sounds.append(("noise", None, rng.normal(0.0, LISTEN_NOISE, n).astype(np.float32), "white noise"))
    clip, _ = excerpt(heard_off.sound, n, rng)
    sounds.append(("offscreen", None, np.float32(rng.uniform(0.6, 1.0)) * clip, heard_off.name))
    out = []
    for tag, j, wave, heard in sounds:
        audio, noise, scale = finish_audio(wave, rng)
        objs = [ObjectAnn(list(o.box), o.label, i == j) for i, o in enumerate(objects)]
        annotators = [[list(objects[j].box)]] if j is not None else []
        played = "object" if j is not None else tag
        classes = [objects[j].label] if j is not None else ([heard_off.label] if tag == "offscreen" else [])
        frame = Frame(path, SINGLE_SECONDS / 2, size, size, annotators, objs, j is not None)
        meta = {"frame": frame_id, "played": played, "object": j, "stamp": heard, "background": bg_meta,
                "objects": _placed_meta(placed), "noise_std": round(noise, 6), "scale": round(scale, 6)}
        sample = Sample(f"{frame_id}-{tag}", frame_id, "train", f"audio/{frame_id}-{tag}.wav", [frame], classes, meta)
        out.append(Built(sample, {path: img} if not out else {}, audio, [visible]))
    return out


def is_test(index: int, test_fraction: float) -> bool:
    """Sample `index` is in the test split when floor((index + 1) f) > floor(index f): evenly spread, any prefix has round-down(n f)."""
    return math.floor((index + 1) * test_fraction + 1e-9) > math.floor(index * test_fraction + 1e-9)


def build_group(preset: str, bank: Bank, seed: int, index: int, size: int, test_fraction: float = 0.25,
                bias: dict[str, Any] | None = None) -> list[Built]:
    """The samples of item `index` of `preset`: one sample, or for `listening` one per sound the frame is played with."""
    if preset != LISTENING:
        return [build_sample(preset, bank, seed, index, size, test_fraction, bias)]
    rng = np.random.default_rng([seed, PRESET_CODE[preset], index])
    group = build_listening(rng, bank, f"{preset}-{index:06d}", size)
    for built in group:
        built.sample.split = "test" if is_test(index, test_fraction) else "train"
    return group


def build_sample(preset: str, bank: Bank, seed: int, index: int, size: int, test_fraction: float = 0.25, bias: dict[str, Any] | None = None) -> Built:
    """Sample `index` of `preset` for `seed`: drawn from its own generator, independent of every other sample."""
    rng = np.random.default_rng([seed, PRESET_CODE[preset], index])
    sample_id = f"{preset}-{index:06d}"
    if preset == "solo":
        built = build_solo(rng, bank, sample_id, size)
    elif preset == "mosaic":
        built = build_mosaic(rng, bank, sample_id, size)
    elif preset == "scenes":
        built = build_scenes(rng, bank, sample_id, size, bias if bias is not None else make_bias(bank, seed))
    else:
        built = build_sequences(rng, bank, sample_id, size)
    built.sample.split = "test" if is_test(index, test_fraction) else "train"
    return built


# ----------------------------------------------------------------------------- writing


def check_arguments(preset: str, n: int, seed: int, size: int | None, test_fraction: float) -> int:
    """Validate the generator's arguments (one-line `SSLPropError` each); returns the frame size to use."""
    if preset not in PRESETS + (LISTENING,):
        raise SSLPropError(f"--preset {preset}: unknown preset (choose from {', '.join(PRESETS + (LISTENING,))})")
    if not isinstance(n, int) or n <= 0:
        raise SSLPropError(f"--n {n}: the number of samples must be a positive integer")
    if not isinstance(seed, int) or seed < 0:
        raise SSLPropError(f"--seed {seed}: the seed must be a non-negative integer")
    size = DEFAULT_SIZE[preset] if size is None else size
    if not isinstance(size, int) or size < MIN_SIZE[preset]:
        raise SSLPropError(f"--size {size}: frames of preset '{preset}' must be at least {MIN_SIZE[preset]} px for a stamp to stay recognisable")
    if preset == "mosaic" and size % 2:
        raise SSLPropError(f"--size {size}: mosaic frames are a 2x2 grid of tiles, so the size must be even")
    if not (0.0 <= test_fraction <= 1.0):
        raise SSLPropError(f"--test-fraction {test_fraction}: must be between 0 and 1")
    return size


def _is_dataset(folder: Path) -> bool:
    return (folder / MANIFEST).is_file() or (folder / DATASET_INFO).is_file()


def check_out(out: Path) -> None:
    """Refuse an `out` that is a file, or a non-empty folder that is not an sslprop data set."""
    if out.exists() and not out.is_dir():
        raise SSLPropError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not _is_dataset(out):
        raise SSLPropError(f"{out}: folder is not empty and is not an sslprop data set (no {MANIFEST}); refusing to overwrite it")


def write_built(root: Path, built: Built) -> None:
    """Write one sample's frames (PNG, fixed settings) and audio (16 kHz WAV) under `root`."""
    from sslprop.data.audio import write_wav

    for rel, img in built.images.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 6]):
            raise SSLPropError(f"{path}: could not write the frame")
    write_wav(root / built.sample.audio, built.audio)


def dataset_info(preset: str, seed: int, size: int, test_fraction: float, bank: Bank, bias: dict[str, Any] | None) -> dict[str, Any]:
    """What the set is, for dataset.json (no timestamps or paths, so it is the same for the same command)."""
    from sslprop import __version__ as version

    seq = preset == "sequences"
    info: dict[str, Any] = {
        "name": f"synth-{preset}",
        "source": "synth",
        "preset": preset,
        "seed": seed,
        "size": size,
        "test_fraction": test_fraction,
        "generator_version": GENERATOR_VERSION,
        "sslprop_version": version,
        "sample_rate": 16000,
        "audio_seconds": SEQ_SECONDS if seq else SINGLE_SECONDS,
        "frames_per_sample": SEQ_FRAMES if seq else 1,
        "num_classes": len(bank.classes),
        "classes": {c: list(m) for c, m in bank.members.items()},
        "backgrounds": list(BACKGROUNDS),
        "notes": (
            "Embedded benchmark: Tux Paint stamps (GPL-2-or-later, sslprop/assets/stamps/LICENSE) pasted with their "
            "alpha masks onto scikit-image photos; boxes are exact (tight box of alpha > 0, xyxy pixels). "
            "Class labels are for analysis only."
        ),
    }
    if bias is not None:
        info["bias"] = bias
    return info


def generate(
    preset: str,
    n: int,
    seed: int,
    out: str | os.PathLike,
    size: int | None = None,
    test_fraction: float | None = None,
    progress: bool = True,
    bank: Bank | None = None,
    habitat_prob: float | None = None,
    companion_prob: float | None = None,
    offscreen_habitat_prob: float | None = None,
    classes: str = "all",
) -> Path:
    """Generate `n` samples of `preset` into `out` in the sslprop format; returns `out`.

    habitat_prob, companion_prob, offscreen_habitat_prob: `scenes` only, the co-occurrence bias
    (`make_bias`); None keeps the preset's (HABITAT_PROB, COMPANION_PROB, OFFSCREEN_HABITAT_PROB).
    habitat_prob 0 and companion_prob 0 give scenes without the bias.
    classes: "all", or "even" / "odd": only every other class of the sorted list (to test how far
    encoders pretrained on the other half reach, docs/pretrained-encoders.md).

    Files are written to a hidden sibling folder that replaces `out` only when complete,
    so an interrupted run leaves no half set. An existing sslprop data set at `out` is
    replaced; a non-empty folder of anything else is refused.
    """
    from tqdm import tqdm

    test_fraction = DEFAULT_TEST_FRACTION.get(preset, 0.25) if test_fraction is None else test_fraction
    size = check_arguments(preset, n, seed, size, test_fraction)
    chances = {k: v for k, v in (("habitat_prob", habitat_prob), ("companion_prob", companion_prob),
                                 ("offscreen_habitat_prob", offscreen_habitat_prob)) if v is not None}
    if chances and preset != "scenes":
        raise SSLPropError(f"{' and '.join(chances)}: only the scenes preset has a co-occurrence bias, not {preset}")
    for name, p in chances.items():
        _check_chance(name, p)  # before the bank loads, so a bad value fails at once
    out = Path(out)
    check_out(out)
    bank = subset_bank(bank if bank is not None else load_bank(), classes)
    bias = make_bias(bank, seed, **chances) if preset == "scenes" else None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.synth-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        samples = []
        for index in tqdm(range(n), desc=f"synth {preset}", unit="sample", disable=not progress):
            for built in build_group(preset, bank, seed, index, size, test_fraction, bias):
                write_built(tmp, built)
                samples.append(built.sample)
        info = dataset_info(preset, seed, size, test_fraction, bank, bias)
        if preset == LISTENING:
            info["listening"] = {"frames": n, "sounds": ["each object in view, in turn", "silence", "noise", "offscreen"]}
        if classes != "all":
            info["class_subset"] = classes
        write_manifest(tmp, samples, info)
        check_out(out)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp)
        raise
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`python -m sslprop synth` arguments."""
    from sslprop.cli import nonnegative_int, positive_int

    parser.add_argument("--preset", required=True, help=f"one of {', '.join(PRESETS + (LISTENING,))}")
    parser.add_argument("--n", type=positive_int, required=True, help="number of samples")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="the set is a function of the seed (default 0)")
    parser.add_argument("--out", required=True, help="output folder (an existing sslprop data set there is replaced)")
    parser.add_argument("--size", type=positive_int, default=None, help="frame side in pixels (default 192; mosaic tiles are half of it)")
    parser.add_argument("--test-fraction", type=float, default=None,
                        help=f"share of samples in the test split (default 0.25; {LISTENING}: 1.0, a test set)")
    parser.add_argument("--habitat-prob", type=float, default=None,
                        help=f"scenes: chance that an on-screen scene shows its sound's preferred background (default {HABITAT_PROB})")
    parser.add_argument("--companion-prob", type=float, default=None,
                        help=f"scenes: chance that a scene of 2+ objects shows the sound's companion (default {COMPANION_PROB})")
    parser.add_argument("--offscreen-habitat-prob", type=float, default=None,
                        help=f"scenes: chance that an off-screen scene shows the unseen sound's preferred background "
                             f"(default {OFFSCREEN_HABITAT_PROB})")
    parser.add_argument("--classes", default="all", choices=("all", "even", "odd"),
                        help="all classes, or every other one of the sorted list (default all)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def salience_shares(samples: Sequence[Sample]) -> dict[str, float]:
    """How much size and the split give away: {"largest": share of the frames with a sounding object whose sounding
    object (one of them) has the largest box of the frame, "blind": the mean of 1 / (objects in view) over those
    frames, what a blind pick among the objects would hit, "offscreen_test": share of the test frames off-screen}."""
    largest, blind, test, off = [], [], 0, 0
    for sample in samples:
        for frame in sample.frames:
            if sample.split == "test" and frame.onscreen is not None:
                test += 1
                off += frame.onscreen is False
            if not any(o.sounding for o in frame.objects):
                continue
            areas = [(o.box[2] - o.box[0]) * (o.box[3] - o.box[1]) for o in frame.objects]
            top = max(areas)
            largest.append(any(o.sounding and a == top for o, a in zip(frame.objects, areas)))
            blind.append(1.0 / len(frame.objects))
    nan = float("nan")
    return {"largest": float(np.mean(largest)) if largest else nan, "blind": float(np.mean(blind)) if blind else nan,
            "offscreen_test": off / test if test else nan}


def main(args: argparse.Namespace) -> int:
    """Run the generator and print a one-line summary, with how much size gives away."""
    from sslprop.data.format import read_info, read_manifest

    out = generate(args.preset, args.n, args.seed, args.out, args.size, args.test_fraction, progress=not args.no_progress,
                   habitat_prob=args.habitat_prob, companion_prob=args.companion_prob,
                   offscreen_habitat_prob=args.offscreen_habitat_prob, classes=args.classes)
    info = read_info(out)
    print(
        f"wrote {info['num_samples']} {args.preset} samples ({info['splits']['train']} train, {info['splits']['test']} test), "
        f"{info['num_classes']} classes, {info['size']} px, seed {args.seed}, to {out}"
    )
    shares = salience_shares(read_manifest(out))
    print(f"the sounding object is the largest in view in {100 * shares['largest']:.1f} % of the frames with one "
          f"(1 / objects in view: {100 * shares['blind']:.1f} %); {100 * shares['offscreen_test']:.1f} % of the test frames are off-screen")
    return 0


SUBSETS = ("all", "even", "odd")  # classes used: all, or every other one in sorted order (the reach test)


def class_subset(classes: Sequence[str], subset: str = "all") -> tuple[str, ...]:
    """The classes a corpus (or a `synth --classes` set) uses: all, or the even / odd positions of the sorted list."""
    classes = tuple(sorted(classes))
    if subset == "all":
        return classes
    if subset == "even":
        return classes[0::2]
    if subset == "odd":
        return classes[1::2]
    raise SSLPropError(f"--classes {subset}: choose from {', '.join(SUBSETS)}")
