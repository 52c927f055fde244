"""The embedded benchmark's material: stamps with their recordings, background photos, and draws from them.

`sslprop/assets/stamps/` holds 75 Tux Paint stamps (GPL-2-or-later, see the
LICENSE beside them): an RGBA photo cut-out and a recording of what it sounds like.
Backgrounds are photos and textures bundled with scikit-image (`BACKGROUNDS`). Several
stamps share one recording (badger and beaver; goat, mountain goat and ram): stamps
whose decoded recordings are the same sound form one class (`group_recordings`).

Also here: the class subsets of `synth --classes` and of the pretraining corpus (`class_subset`), the `scenes`
co-occurrence bias (`make_bias`: each class's preferred background and companion class), and the random draws
of a stamp, classes and a background crop (`pick_stamp`, `pick_classes`, `pick_background`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

from sslprop.data.audio import load_audio
from sslprop.errors import SSLPropError

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
# The co-occurrence bias of `scenes`: with a background chance of 0.7 for on- and off-screen scenes alike a
# from-scratch cpu-profile model learned the backgrounds and never the objects (docs/findings.md);
# `--habitat-prob 0.7 --offscreen-habitat-prob 0.7` gives those samples, file for file (dataset.json records the chances).
HABITAT_PROB = 0.3  # on-screen scenes: chance that the sound's class brings its preferred background
COMPANION_PROB = 0.6  # scenes with 2+ objects: chance that the first distractor is the class's companion
OFFSCREEN_HABITAT_PROB = 0.0  # off-screen scenes: the same chance for the unseen sound (0: unrelated to the scene)
SUBSETS = ("all", "even", "odd")  # classes used: all, or every other one in sorted order (the reach test)


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


# ----------------------------------------------------------------------------- material


def stamps_dir() -> Path:
    """The folder of the shipped stamps (package data: sslprop/assets/stamps/, found from this module's place)."""
    return Path(__file__).resolve().parents[2] / "assets" / "stamps"


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


def subset_bank(bank: Bank, subset: str) -> Bank:
    """The bank restricted to a class subset (`class_subset`: "all", "even" or "odd")."""
    classes = class_subset(bank.classes, subset)
    if subset == "all":
        return bank
    members = {c: bank.members[c] for c in classes}
    stamps = {n: bank.stamps[n] for c in classes for n in members[c]}
    return Bank(classes, members, stamps, bank.backgrounds)


def check_chance(name: str, p: float) -> None:
    """Refuse a chance `name` outside [0, 1] (one-line `SSLPropError`)."""
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
    check_chance("habitat_prob", habitat_prob)
    check_chance("companion_prob", companion_prob)
    check_chance("offscreen_habitat_prob", offscreen_habitat_prob)
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


# ----------------------------------------------------------------------------- draws


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


def pick_stamp(rng: np.random.Generator, bank: Bank, label: str) -> Stamp:
    """One stamp of class `label`, drawn uniformly among its members."""
    names = bank.members[label]
    return bank.stamps[names[int(rng.integers(0, len(names)))]]


def pick_classes(rng: np.random.Generator, bank: Bank, k: int, exclude: tuple[str, ...] = ()) -> list[str]:
    """`k` different classes of the bank, none of `exclude`, in the order drawn."""
    pool = [c for c in bank.classes if c not in exclude]
    return [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]


def pick_background(rng: np.random.Generator, bank: Bank, side: int,
                    name: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """A (side, side, 3) uint8 crop of background `name` (None: one drawn uniformly) and its meta: name, crop box."""
    name = name if name is not None else BACKGROUNDS[int(rng.integers(0, len(BACKGROUNDS)))]
    img, crop = background_crop(bank.backgrounds[name], rng, side)
    return img, {"name": name, "crop": crop}
