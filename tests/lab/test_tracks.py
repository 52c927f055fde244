"""Tests for sslprop/lab/tracks.py."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from sslprop.errors import SSLPropError
from sslprop.lab import tracks as tracking
from tests.helpers import make_sequence

matplotlib.use("Agg")

def _track(mode, d_on, conf=None, sounding=None, gains=None, onscreen=None):
    n = len(d_on)
    conf = np.zeros((2, n)) if conf is None else np.asarray(conf, dtype=float)
    return tracking.SequenceTrack("x", mode, np.arange(n) + 0.5, np.ones(n, bool) if onscreen is None else np.asarray(onscreen),
                            np.asarray(d_on, dtype=float), np.zeros((n, 4)), ["A", "B"], conf, np.zeros((2, n, 4)),
                            np.zeros((2, n), bool) if sounding is None else np.asarray(sounding), gains if gains is None else np.asarray(gains, dtype=float))


def test_sequence_track_by_hand():
    boxes = {
        "q/0": [[0, 0, 10, 10, 0.5], [20, 0, 30, 10, 0.4], [0, 0, 30, 10, 0.3]],  # the third has IoU 1/3 with A and B
        "q/1": [[20, 0, 30, 10, 0.2]],
        "q/2": [],
    }
    records = {"q/0": {"d_on": 0.51}, "q/1": {"d_on": 0.21}, "q/2": {"d_on": 0.0}}
    t = tracking.sequence_track(make_sequence(), boxes, records, iou=0.5)
    assert t.sample_id == "q" and t.mode == "distance" and t.labels == ["A", "B"]
    np.testing.assert_allclose(t.times, [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(t.onscreen, [True, False, False])
    np.testing.assert_allclose(t.d_on, [0.51, 0.21, 0.0])
    np.testing.assert_allclose(t.top_box[:2], [[0, 0, 10, 10], [20, 0, 30, 10]])
    assert np.isnan(t.top_box[2]).all()
    np.testing.assert_allclose(t.object_conf, [[0.5, np.nan, np.nan], [0.4, 0.2, np.nan]])
    np.testing.assert_allclose(t.object_box[:, :2], [[[0, 0, 10, 10], [np.nan] * 4], [[20, 0, 30, 10], [20, 0, 30, 10]]])
    np.testing.assert_array_equal(t.sounding, [[True, False, False], [False, True, False]])
    np.testing.assert_allclose(t.gains, [1.0, 0.5, 0.25])
    # a looser match takes the third box for both objects in frame 0, but the best d_k still wins
    loose = tracking.sequence_track(make_sequence(), boxes, None, iou=0.3)
    np.testing.assert_allclose(loose.object_conf[:, 0], [0.5, 0.4])
    np.testing.assert_allclose(loose.object_box[:, 0], [[0, 0, 10, 10], [20, 0, 30, 10]])
    np.testing.assert_allclose(loose.d_on, [0.5, 0.2, 0.0])  # without records: the best box's score
    with pytest.raises(SSLPropError, match="no prediction for 'q/2'"):
        tracking.sequence_track(make_sequence(), {"q/0": [], "q/1": []})


def test_distance_and_turns_summaries():
    up = _track("distance", [0.1, 0.2, 0.3, 0.5], gains=[1, 2, 3, 4])
    # d - mean = (-.175, -.075, .025, .225), g - mean = (-1.5, -.5, .5, 1.5): r = .65 / sqrt(.0875 * 5)
    down = _track("distance", [0.4, 0.3, 0.2, 0.9], gains=[1, 2, 3, 4], onscreen=[True, True, True, False])  # r = -1 on 3 frames
    turns = _track("turns", [0, 0, 0, 0])
    s = tracking.distance_summary([up, down, turns])
    assert s["clips"] == 2 and s["clips with r > 0"] == 1
    assert s["mean r"] == pytest.approx((0.65 / np.sqrt(0.0875 * 5) - 1.0) / 2)
    assert np.isnan(tracking.distance_summary([turns])["mean r"])
    t = _track("turns", [0] * 4, conf=[[0.5, 0.3, np.nan, 0.2], [0.4, 0.4, 0.1, 0.6]],
               sounding=[[True, True, False, False], [False, False, True, True]])
    # frames 0, 1, 3 have both; the sounding one is higher in frames 0 and 3
    assert tracking.turns_summary([t, up]) == {"clips": 1, "frames": 3, "sounding higher": pytest.approx(2 / 3), "frames with both matched": 0.75}


def test_map_shape_by_hand():
    m = np.array([[4, 4, 0, 0], [4, 4, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]], dtype=np.float32)
    s = tracking.map_shape(m, [0, 0, 2, 2])
    assert s == {"mass in box": pytest.approx(16 / 17), "box covered": 1.0, "region in box": 1.0, "map box IoU": pytest.approx(1.0),
                 "box covered at equal area": 1.0}
    s = tracking.map_shape(m, [0, 0, 4, 2])
    assert s["box covered"] == 0.5 and s["region in box"] == 1.0 and s["map box IoU"] == pytest.approx(0.5)
    # the top 8 pixels: the four 4s, the 1, then 3 of the 11 tied 0s; in the box: the four 4s and 4 of the 11 zeros
    assert s["box covered at equal area"] == pytest.approx((4 + 3 * 4 / 11) / 8)
    assert tracking.map_shape(m, [0, 0, 4, 2], threshold=0.2)["box covered"] == 0.5  # the 1 (0.25 after min-max) lies outside
    with pytest.raises(SSLPropError, match=r"must be \(H, W\)"):
        tracking.map_shape(np.zeros((1, 4, 4)), [0, 0, 1, 1])


def test_equal_area_coverage_does_not_reward_spill():
    # a flat map covers the whole box when thresholded, but at equal area it scores what chance gives: |box| / (H W)
    inside = np.zeros((8, 8), bool)
    inside[2:4, 2:6] = True
    assert tracking.covered_at_equal_area(np.ones((8, 8)), inside) == pytest.approx(8 / 64)
    peaked = np.zeros((8, 8))
    peaked[2:4, 2:6] = 1.0
    assert tracking.covered_at_equal_area(peaked, inside) == 1.0
    assert tracking.covered_at_equal_area(np.sqrt(peaked + 0.01), inside) == 1.0  # a monotone transform changes nothing
    assert tracking.map_shape(np.ones((8, 8)), [2, 2, 6, 4])["box covered"] == 1.0  # what the thresholded share gives


def test_ranking_summary_by_hand():
    boxes = {"a": [[0, 0, 10, 10, 0.9], [50, 50, 60, 60, 0.1]],
             "b": [[50, 50, 60, 60, 0.9], [0, 0, 10, 10, 0.5], [0, 0, 9, 10, 0.4]],  # IoU(.., [0,0,10,10]) = 0.9
             "c": [[0, 0, 1, 1, 0.3]]}
    gt = {"a": [[0, 0, 10, 10]], "b": [[0, 0, 10, 10]], "c": []}
    assert tracking.ranking_summary(boxes, gt) == {"frames": 2, "top-1 hits": 0.5, "random kept proposal hits": pytest.approx((0.5 + 2 / 3) / 2),
                                             "any kept hits": 1.0}
    with pytest.raises(SSLPropError, match="no prediction for 'd'"):
        tracking.ranking_summary(boxes, {"d": [[0, 0, 1, 1]]})
    # two frames: a (top-1 hit, random 1/2), b (miss, random 2/3); a draw of (a, a), (a, b), (b, a) or (b, b)
    s = tracking.ranking_summary(boxes, gt, ci={"resamples": 400, "seed": 1})
    assert (s["top-1 hits low"], s["top-1 hits high"]) == (0.0, 1.0)
    assert s["top-1 - random"] == pytest.approx(0.5 - (0.5 + 2 / 3) / 2)
    assert s["top-1 - random low"] == pytest.approx(-2 / 3) and s["top-1 - random high"] == pytest.approx(0.5)
