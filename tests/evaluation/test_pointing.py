"""Tests for sslprop/evaluation/pointing.py: the pointing game on hand-made maps and boxes."""

from __future__ import annotations

import numpy as np
import pytest

from sslprop.evaluation import metrics, pointing

GT = np.array([[0.0, 0.0, 50.0, 50.0]])  # the top-left quarter of a 100 x 100 frame


def test_map_peak_inside_and_outside():
    lvs = metrics.get_protocol("lvs")
    m = np.zeros((224, 224), np.float32)
    m[10, 20] = 1.0  # cell (r 10, c 20) -> frame ((20.5) * 100 / 224, (10.5) * 100 / 224) = (9.15, 4.69)
    assert pointing.map_point(m, 100, 100) == pytest.approx((20.5 * 100 / 224, 10.5 * 100 / 224))
    assert pointing.map_hit(m, lvs, 100, 100, GT)
    m = np.zeros((224, 224), np.float32)
    m[200, 200] = 1.0  # bottom right: (89.5, 89.5)
    assert not pointing.map_hit(m, lvs, 100, 100, GT)
    # any box of the frame counts
    assert pointing.map_hit(m, lvs, 100, 100, np.vstack([GT, [[80.0, 80.0, 100.0, 100.0]]]))


def test_map_peak_after_the_protocol_resize_and_ties_first():
    small = np.array([[0.0, 0.0], [0.0, 1.0]], np.float32)  # 2 x 2: the peak in the bottom-right cell
    for name in ("lvs", "ezvsl"):
        grid = metrics.get_protocol(name).resize(small, 224)
        r, c = np.unravel_index(int(np.argmax(grid)), grid.shape)
        assert r >= 112 and c >= 112
        assert not pointing.map_hit(small, metrics.get_protocol(name), 100, 100, GT)
    flat = np.ones((224, 224), np.float32)  # all tied: the first cell (0, 0) -> (0.22, 0.22), inside
    assert pointing.map_point(flat, 100, 100) == pytest.approx((0.5 * 100 / 224, 0.5 * 100 / 224))
    assert pointing.map_hit(flat, metrics.get_protocol("sspl"), 100, 100, GT)


def test_non_square_frame():
    m = np.zeros((224, 224), np.float32)
    m[0, 223] = 1.0  # top-right cell of a 200 x 50 frame: (223.5 * 200 / 224, 0.5 * 50 / 224) = (199.55, 0.11)
    assert pointing.map_point(m, 200, 50) == pytest.approx((223.5 * 200 / 224, 0.5 * 50 / 224))
    assert pointing.map_hit(m, metrics.get_protocol("lvs"), 200, 50, np.array([[150.0, 0.0, 200.0, 10.0]]))


def test_box_centre_inside_outside_and_edges():
    inside = np.array([[10.0, 10.0, 30.0, 30.0, 0.9], [60.0, 60.0, 100.0, 100.0, 0.1]])  # best: centre (20, 20)
    assert pointing.box_point_hit(inside, 100, 100, GT)
    outside = np.array([[40.0, 40.0, 100.0, 100.0, 0.9]])  # centre (70, 70)
    assert not pointing.box_point_hit(outside, 100, 100, GT)
    edge = np.array([[0.0, 0.0, 100.0, 100.0, 1.0]])  # centre (50, 50): on the box's corner, edges included
    assert pointing.box_point_hit(edge, 100, 100, GT)
    # clipped to the frame first: (-100, -100, 40, 40) -> (0, 0, 40, 40), centre (20, 20); unclipped it would be (-30, -30)
    assert pointing.box_point_hit(np.array([[-100.0, -100.0, 40.0, 40.0, 1.0]]), 100, 100, GT)
    assert not pointing.box_point_hit(np.array([[200.0, 200.0, 300.0, 300.0, 1.0]]), 100, 100, GT)  # wholly outside
    assert not pointing.box_point_hit(np.zeros((0, 5)), 100, 100, GT)  # no box
