"""Floors that need no model: the whole frame, a centred box, a seeded random box, the two halves, as box predictions.

A floor says what a protocol gives for free: on Flickr-SoundNet the whole frame alone is
reported to pass cIoU@0.5 on about 60% of the images. Each floor of `FLOORS` is one box per
frame, absolute pixels ``(x1, y1, x2, y2)`` of a W x H frame, with score 1:

- ``full-frame``: ``(0, 0, W, H)``;
- ``center``: the centred box of half the width and half the height,
  ``(W/4, H/4, 3W/4, 3H/4)`` (a quarter of the frame's area);
- ``random-box``: width ~ U(0, W), height ~ U(0, H), then its top-left corner uniform
  among the positions that keep it inside the frame. The generator of each frame is
  seeded from (seed, CRC32 of the frame's key), so a floor does not depend on the order
  or the subset of frames scored.

The two-region floor of `TWO_REGION_FLOORS`, for the multi-source protocols (dsol-multi,
dsol-duet), gives two boxes per frame, both with score 1:

- ``two-halves``: the left half ``(0, 0, W/2, H)``, then the right half ``(W/2, 0, W, H)``.

(The audio-free visual prior and the ground-truth ceilings need the frames or the annotations:
`sslprop.evaluation.prior`.)
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np

from sslprop.errors import SSLPropError

FLOORS = ("full-frame", "center", "random-box")  # one box per frame: any protocol
TWO_REGION_FLOORS = ("two-halves",)  # two boxes per frame: the multi-source protocols


def full_frame_box(width: float, height: float) -> np.ndarray:
    """The whole frame -> float64 (4,) xyxy."""
    return np.array([0.0, 0.0, float(width), float(height)])


def center_box(width: float, height: float, fraction: float = 0.5) -> np.ndarray:
    """The centred box whose sides are `fraction` of the frame's -> float64 (4,) xyxy."""
    w, h = float(width), float(height)
    return np.array([w * (1 - fraction) / 2, h * (1 - fraction) / 2, w * (1 + fraction) / 2, h * (1 + fraction) / 2])


def random_box(width: float, height: float, rng: np.random.Generator) -> np.ndarray:
    """A uniformly sized, uniformly placed box inside the frame -> float64 (4,) xyxy."""
    w = rng.uniform(0.0, width)
    h = rng.uniform(0.0, height)
    x1 = rng.uniform(0.0, width - w)
    y1 = rng.uniform(0.0, height - h)
    return np.array([x1, y1, x1 + w, y1 + h])


def key_rng(seed: int, key: str) -> np.random.Generator:
    """The generator of one frame: seeded from (seed, CRC32 of its key), independent of order."""
    return np.random.default_rng([int(seed) % (2**32), zlib.crc32(key.encode("utf-8"))])


def two_halves(width: float, height: float) -> np.ndarray:
    """The left and the right half of the frame -> float64 (2, 4) xyxy."""
    w, h = float(width), float(height)
    return np.array([[0.0, 0.0, w / 2, h], [w / 2, 0.0, w, h]])


def floor_box(method: str, width: float, height: float, key: str = "", seed: int = 0) -> np.ndarray:
    """One floor's prediction for one W x H frame -> float64 (M, 5): [[x1, y1, x2, y2, score=1], ...], M = 1 (2 for two-halves)."""
    if width <= 0 or height <= 0:
        raise SSLPropError(f"frame {key!r}: size {width} x {height} is not positive")
    if method == "two-halves":
        return np.concatenate([two_halves(width, height), np.ones((2, 1))], axis=1)  # (2, 5)
    if method == "full-frame":
        box = full_frame_box(width, height)
    elif method == "center":
        box = center_box(width, height)
    elif method == "random-box":
        box = random_box(width, height, key_rng(seed, key))
    else:
        raise SSLPropError(f"--method {method}: unknown floor (one of {', '.join(FLOORS + TWO_REGION_FLOORS)})")
    return np.concatenate([box, [1.0]])[None]  # (1, 5)


def floor_predictions(method: str, frames: Mapping[str, tuple[float, float]], seed: int = 0) -> dict[str, np.ndarray]:
    """{key: (W, H)} -> {key: float64 (M, 5) box prediction}, the same layout as a predictions JSON."""
    return {key: floor_box(method, w, h, key, seed) for key, (w, h) in frames.items()}
