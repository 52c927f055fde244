"""Tests for sslprop/data/images.py: frames read as RGB, and one-line errors naming the file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sslprop.data.images import read_image
from sslprop.errors import SSLPropError


def test_read_image_is_rgb_unless_asked(tmp_path):
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's order
    cv2.imwrite(str(tmp_path / "blue.png"), bgr)
    rgb = read_image(tmp_path / "blue.png")
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8 and (rgb[..., 2] == 200).all() and (rgb[..., 0] == 0).all()
    assert np.array_equal(read_image(tmp_path / "blue.png", rgb=False), bgr)


def test_bad_images_are_one_line(tmp_path):
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((3, 8, 3), np.uint8))
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    for name, message in (("none.png", "image file not found"), ("empty.png", "image file is empty"),
                          ("junk.png", "cannot decode image"), ("small.png", "frame is 8x3 px, smaller than the 4 px")):
        with pytest.raises(SSLPropError, match=message) as err:
            read_image(tmp_path / name, min_size=4)
        assert name in str(err.value) and "\n" not in str(err.value)
