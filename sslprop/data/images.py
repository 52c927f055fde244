"""Reading frames from image files, with one-line errors (no torch import: used by proposal workers)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from sslprop.errors import SSLPropError


def read_image(path: str | os.PathLike, min_size: int = 1, rgb: bool = True) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8, RGB (or OpenCV's BGR with `rgb=False`).

    A missing, empty or undecodable file, or one smaller than `min_size` pixels on a side,
    raises `SSLPropError` naming the file.
    """

    path = Path(path)
    if not path.is_file():
        raise SSLPropError(f"{path}: image file not found")
    data = path.read_bytes()
    if not data:
        raise SSLPropError(f"{path}: image file is empty")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SSLPropError(f"{path}: cannot decode image (corrupt or not an image)")
    h, w = bgr.shape[:2]
    if h < min_size or w < min_size:
        raise SSLPropError(f"{path}: frame is {w}x{h} px, smaller than the {min_size} px needed on a side")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if rgb else bgr
