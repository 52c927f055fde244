"""Frames and sounds of the embedded benchmark: stamps resized, placed and pasted, frames rendered, audio excerpts.

Boxes are absolute pixels of the stored frame, ``[x1, y1, x2, y2]``, pixel-edge
coordinates: the tight box of the pasted alpha > 0 region is ``mask[y1:y2, x1:x2]``.
Every function that draws takes the sample's generator (`rng`), so a sample is a function of its seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from sslprop.data.format import ObjectAnn
from sslprop.data.synth.assets import Stamp

# solo and scenes (`place_cluttered`'s default): overlaps allowed while every object keeps at least this share of its pixels
SCENE_MIN_VISIBLE = 0.6
ANNOTATOR_JITTER = 0.08  # scenes (`jitter_box`): std of each annotator's box sides, as a fraction of the box's width/height


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


def _taken(placed: list[Placed]) -> list[list[float]]:
    return [[q.x, q.y, q.x + q.patch.shape[1], q.y + q.patch.shape[0]] for q in placed]


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


def render(background: np.ndarray, placed: list[Placed],
           offset: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, list[ObjectAnn], list[np.ndarray]]:
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


def render_visible(background: np.ndarray, placed: list[Placed], visible: list[np.ndarray]) -> tuple[np.ndarray, list[ObjectAnn]]:
    """`render`, with each object's box the tight box of what it still shows (`visible`, from `scene_layout`)."""
    img, objects, _ = render(background, placed)
    for obj, shown in zip(objects, visible):
        obj.box = alpha_box(shown)
    return img, objects


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
