"""Tests for sslprop/evaluation/onscreen.py."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

from sslprop.data import predfiles
from sslprop.data.format import Frame, Sample, write_manifest
from sslprop.errors import SSLPropError
from sslprop.evaluation import onscreen as on
from sslprop.lab import tracks as tracking
from tests.helpers import LABELS, RECORDS, make_sequence

matplotlib.use("Agg")

def test_table1_by_hand():
    rows = {r["criterion"]: r for r in on.table1(RECORDS, LABELS)}
    assert list(rows) == ["m_on", "d_on", "m_on || d_on", "always on-screen"]
    # on_m: a b on, c d e off -> right on a b c d
    assert rows["m_on"] == {"criterion": "m_on", "accuracy": 0.8, "balanced accuracy": pytest.approx((2 / 3 + 1) / 2),
                            "on-screen called on": pytest.approx(2 / 3), "off-screen called off": 1.0}
    # on_d (> 0.2): a c on -> right on a d
    assert rows["d_on"] == {"criterion": "d_on", "accuracy": 0.4, "balanced accuracy": pytest.approx((1 / 3 + 0.5) / 2),
                            "on-screen called on": pytest.approx(1 / 3), "off-screen called off": 0.5}
    # either: a b c on -> right on a b d
    assert rows["m_on || d_on"]["accuracy"] == pytest.approx(0.6)
    assert rows["m_on || d_on"]["off-screen called off"] == 0.5
    assert rows["always on-screen"] == {"criterion": "always on-screen", "accuracy": 0.6, "balanced accuracy": 0.5,
                                        "on-screen called on": 1.0, "off-screen called off": 0.0}  # balanced: no better than chance
    # a lower cut: d_on > 0.12 calls a c e on-screen
    rows = {r["criterion"]: r["accuracy"] for r in on.table1(RECORDS, LABELS, d_threshold=0.12)}
    assert rows["d_on"] == pytest.approx(0.6) and rows["m_on || d_on"] == pytest.approx(0.8)
    # another m_on cut, tried on the distances: < 0.85 also calls d on-screen (wrong) -> right on a b c
    rows = {r["criterion"]: r["accuracy"] for r in on.table1(RECORDS, LABELS, m_threshold=0.85)}
    assert rows["m_on"] == pytest.approx(0.6)
    assert on.label_counts(LABELS) == {"frames": 5, "on-screen": 3, "off-screen": 2}


def test_calibrated_d_on_criteria_and_the_rank_correlation():
    # predict's on_dc: d_on above its calibrated threshold (here as if 0.12: a c e on-screen)
    records = {k: {**r, "on_dc": r["d_on"] > 0.12, "on_orc": r["on_m"] or r["d_on"] > 0.12} for k, r in RECORDS.items()}
    rows = {r["criterion"]: r for r in on.table1(records, LABELS, ci={"resamples": 200})}
    assert list(rows) == ["m_on", "d_on", "m_on || d_on", "d_on (calibrated)", "m_on || d_on (calibrated)", "always on-screen"]
    assert rows["d_on (calibrated)"]["accuracy"] == pytest.approx(0.6) and rows["m_on || d_on (calibrated)"]["accuracy"] == pytest.approx(0.8)
    assert rows["always on-screen"]["balanced accuracy low"] == rows["always on-screen"]["balanced accuracy high"] == 0.5
    summary = on.onscreen_summary(records, LABELS, ci={"resamples": 200})
    assert set(summary["paired"]) == {"m_on || d_on - m_on", "m_on || d_on - d_on", "m_on || d_on (calibrated) - m_on",
                                      "m_on || d_on (calibrated) - d_on (calibrated)"}
    assert "rank correlation of the two" in on.format_onscreen_report(summary)
    # d_on (.30 .10 .25 .05 .15) against minus the distance (-.40 -.50 -.90 -.80 -.95): ranks 5 2 4 1 3 vs 5 4 2 3 1
    assert summary["rank correlation"] == pytest.approx(1 - 6 * (0 + 4 + 4 + 4 + 4) / (5 * 24))
    assert on.rank_correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0) and np.isnan(on.rank_correlation([1, 1], [1, 2]))
    with pytest.raises(SSLPropError, match="no calibrated d_on"):
        on.criterion_difference(RECORDS, LABELS, "on_orc", "on_m")


def test_threshold_sweep_and_best():
    sw = on.threshold_sweep(RECORDS, LABELS, [0.0, 0.12, 0.3])
    np.testing.assert_allclose(sw["on_m"], [0.8, 0.8, 0.8])
    np.testing.assert_allclose(sw["on_d"], [0.6, 0.6, 0.4])  # at 0.3 nothing is > 0.3: only c and d are right
    np.testing.assert_allclose(sw["on_or"], [0.6, 0.8, 0.8])
    assert on.best_threshold(sw, "on_d") == (0.0, pytest.approx(0.6))  # the first of the ties
    assert on.best_threshold(sw, "on_or") == (0.12, pytest.approx(0.8))


def test_auc_and_separability_by_hand():
    # positives 3, 2, 2 vs negatives 2, 1: 4 wins (3>2, 3>1, 2>1, 2>1) and 2 ties (2=2) of 6 pairs
    assert on.auc([3, 2, 2, 2, 1], [True, True, True, False, False]) == pytest.approx((4 + 0.5 * 2) / 6)
    assert on.auc([1, 2], [True, True]) != on.auc([1, 2], [True, True])  # NaN: one class only
    sep = on.separability(RECORDS, LABELS)
    # d_on: on (.30, .10, .15) vs off (.25, .05): .30 beats both, .10 beats .05, .15 beats .05 -> 4 of 6
    assert sep["d_on AUC"] == pytest.approx(4 / 6)
    # distance: on (.40, .50, .95) vs off (.90, .80), lower is on-screen: .40 and .50 beat both, .95 beats none -> 4 of 6
    assert sep["m_on AUC"] == pytest.approx(4 / 6)


def test_errors_are_one_line(tmp_path):
    with pytest.raises(SSLPropError, match="no prediction"):
        on.table1(RECORDS, {**LABELS, "z": True})
    with pytest.raises(SSLPropError, match="no labelled frame"):
        on.table1(RECORDS, {})
    with pytest.raises(SSLPropError, match="onscreen.json"):
        predfiles.read_onscreen(tmp_path)
    (tmp_path / "onscreen.json").write_text("{}")
    with pytest.raises(SSLPropError, match="no on/off-screen record"):
        predfiles.read_onscreen(tmp_path)
    (tmp_path / "onscreen.json").write_text(json.dumps(RECORDS))
    assert predfiles.read_onscreen(tmp_path) == RECORDS


def test_frame_labels_and_gt_boxes(tmp_path):
    s = Sample("s", "s", "test", "audio/s.wav", [Frame("frames/s.png", 0.5, 40, 40, [[[1, 1, 5, 5]], [[2, 2, 6, 6]]], [], True)])
    t = Sample("t", "t", "train", "audio/t.wav", [Frame("frames/t.png", 0.5, 40, 40, [], [], False)])
    write_manifest(tmp_path, [s, t, make_sequence()], {"name": "toy"})
    assert on.frame_labels(tmp_path, "test") == {"s": True, "q/0": True, "q/1": False}  # q/2 is unknown
    assert on.frame_labels(tmp_path, "all") == {"s": True, "t": False, "q/0": True, "q/1": False}
    assert tracking.gt_boxes(tmp_path, "test") == {"s": [[1.0, 1.0, 5.0, 5.0], [2.0, 2.0, 6.0, 6.0]], "q/0": [[0.0, 0.0, 10.0, 10.0]],
                                             "q/1": [], "q/2": []}


def test_table1_intervals_match_a_hand_bootstrap():
    from sslprop.evaluation.bootstrap import _draws

    ci = {"resamples": 300, "seed": 4}
    rows = {r["criterion"]: r for r in on.table1(RECORDS, LABELS, ci=ci)}
    keys = sorted(LABELS)  # a..e, one frame per sample: each draw is five frame indices
    right = {"m_on": np.array([1, 1, 1, 1, 0.0]), "always on-screen": np.array([1, 1, 0, 0, 1.0])}  # per key, from above
    for name, v in right.items():
        stats = [v[d].mean() for d in _draws(keys, 300, 4)]
        lo, hi = np.quantile(stats, [0.025, 0.975])
        assert [rows[name]["accuracy low"], rows[name]["accuracy high"]] == [pytest.approx(lo), pytest.approx(hi)]
        assert rows[name]["accuracy low"] <= rows[name]["accuracy"] <= rows[name]["accuracy high"]
    assert "accuracy low" not in on.table1(RECORDS, LABELS)[0]  # only when asked
    # the OR against m_on, paired on the same draws: right on a b d vs a b c d -> -0.2
    d = on.criterion_difference(RECORDS, LABELS, "on_or", "on_m", ci)
    diffs = [(np.array([1, 1, 0, 1, 0.0]) - right["m_on"])[dr].mean() for dr in _draws(keys, 300, 4)]
    assert d["difference"] == pytest.approx(-0.2)
    assert [d["low"], d["high"]] == [pytest.approx(x) for x in np.quantile(diffs, [0.025, 0.975])]
    with pytest.raises(SSLPropError, match="criteria"):
        on.criterion_difference(RECORDS, LABELS, "on_x", "on_m")


def test_separability_intervals_skip_one_class_draws():
    sep = on.separability(RECORDS, LABELS, ci={"resamples": 200, "seed": 0})
    for name in ("d_on AUC", "m_on AUC"):
        assert 0.0 <= sep[f"{name} low"] <= sep[name] <= sep[f"{name} high"] <= 1.0
    assert not any(np.isnan(v) for v in sep.values())  # draws of one class only were left out, not propagated
