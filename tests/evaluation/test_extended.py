"""Tests for sslprop/evaluation/extended.py: SLAVC's AP and max-F1, by hand and against SLAVC's own code."""

from __future__ import annotations

import numpy as np
import pytest

from sslprop.errors import SSLPropError
from sslprop.evaluation import extended as x

# Four samples by hand: A visible, cIoU 0.8, conf 0.9; B not visible, conf 0.7; C visible, cIoU 0.3, conf 0.5;
# D visible, cIoU 0.6, conf 0.2.
VIS, CIOU, CONF = [True, False, True, True], [0.8, float("nan"), 0.3, 0.6], [0.9, 0.7, 0.5, 0.2]


def test_precision_recall_counts_as_slavc():
    # t 0.7: A TP, B FP, C and D FN -> P 1/2, R 1/3; t 0.5: C detected in the wrong place is FP (not FN) -> P 1/3, R 1/2;
    # t 0.2: A, D TP; B, C FP -> P 1/2, R 1; t 1.0: nothing detected -> P 1 (by definition), R 0
    p, r = x.precision_recall(VIS, CIOU, CONF, [0.7, 0.5, 0.2, 1.0])
    assert p == pytest.approx([1 / 2, 1 / 3, 1 / 2, 1.0])
    assert r == pytest.approx([1 / 3, 1 / 2, 1.0, 0.0])


def test_ap_by_hand_leaves_out_the_top_threshold():
    # thresholds: the sorted confidences without the largest, descending: 0.7, 0.5, 0.2 (see above);
    # precision made non-increasing: 1/2, 1/2, 1/2; AP = 1/2 (1/2 - 1/3) + 1/2 (1 - 1/2) = 1/3.
    # (the point at 0.9, P 1 and R 1/3, is not a threshold: SLAVC's [:-1])
    assert list(x.ap_thresholds(CONF)) == [0.7, 0.5, 0.2]
    assert x.average_precision(VIS, CIOU, CONF) == pytest.approx(1 / 3)
    # at cIoU 0.7 only A is right: t 0.7 P 1/2 R 1/3, t 0.5 P 1/3 R 1/2, t 0.2 P 1/4 and R 1 (C and D, detected in the
    # wrong place, are false positives, not false negatives: TP + FN = 1) -> 1/2 * 1/6 + 1/3 * 1/2 = 1/4
    assert x.average_precision(VIS, CIOU, CONF, 0.7) == pytest.approx(1 / 4)


def test_max_f1_by_hand():
    # N // 10 = 0 -> every confidence, ascending: 0.2 (P 1/2 R 1: 2/3), 0.5 (0.4), 0.7 (0.4), 0.9 (P 1 R 1/3: 0.5)
    thresholds, f1 = x.f1_curve(VIS, CIOU, CONF)
    assert list(thresholds) == [0.2, 0.5, 0.7, 0.9]
    assert f1 == pytest.approx([2 / 3, 0.4, 0.4, 0.5])
    assert x.max_f1(VIS, CIOU, CONF) == pytest.approx((2 / 3, 0.2))
    s = x.extended_scores(VIS, CIOU, CONF)
    assert s["precision"] == 0.5 and s["ap"] == pytest.approx(1 / 3) and s["max_f1"] == pytest.approx(2 / 3)


# Computed with stoneMo/SLAVC's own code at commit 05b429c6f474ca6f1070d08e1d0142948d1625bf: utils.py
# EvaluatorFull.calc_ap and calc_precision_recall, and the F1 lines of finalize_stats (conf_thr / pr / f1), copied
# into a scratch folder outside this repository (sklearn.metrics.auc stubbed: not used by these), run on the inputs below.
SLAVC_BB = [2, 0, 2, 0, 0, 1, 2, 0, 0, 1, 2, 2]  # number of boxes; 0: not visible
SLAVC_CIOU = [0.111, 0.043, 0.414, 0.989, 0.969, 0.257, 0.559, 0.242, 0.322, 0.891, 0.946, 0.723]
SLAVC_CONF = [0.928, 0.996, 0.249, 0.062, 0.945, 0.65, 0.322, 0.083, 0.219, 0.084, 0.052, 0.205]
SLAVC_OUT = {
    0.5: {"ap": 0.3333333333333333, "max_f1": 0.5, "precision": 0.3333333333333333,
          "f1": [0.5, 0.39999999999999997, 0.4285714285714285, 0.46153846153846156, 0.3333333333333333, 0.18181818181818182,
                 0.2, 0.20000000000000004, 0.0, 0.0, 0.0, 0.0]},
    0.75: {"ap": 0.16666666666666666, "max_f1": 0.2857142857142857, "precision": 0.16666666666666666,
           "f1": [0.2857142857142857, 0.15384615384615385, 0.16666666666666669, 0.1818181818181818] + [0.0] * 8},
}


@pytest.mark.parametrize("t", [0.5, 0.75])
def test_matches_slavc_code_on_twelve_samples(t):
    vis = [b > 0 for b in SLAVC_BB]
    s = x.extended_scores(vis, SLAVC_CIOU, SLAVC_CONF, t)
    assert s["ap"] == pytest.approx(SLAVC_OUT[t]["ap"], rel=1e-12)
    assert s["max_f1"] == pytest.approx(SLAVC_OUT[t]["max_f1"], rel=1e-12)
    assert s["precision"] == pytest.approx(SLAVC_OUT[t]["precision"], rel=1e-12)
    assert x.f1_curve(vis, SLAVC_CIOU, SLAVC_CONF, t)[1] == pytest.approx(SLAVC_OUT[t]["f1"], rel=1e-12)


def test_matches_slavc_code_with_subsampled_thresholds():
    # N = 450: calc_ap takes every 2nd threshold (450 // 200), the F1 every 45th; SLAVC's code gave
    # AP 0.27782675562959386 and max-F1 0.4210526315789474 on these inputs (same commit, same way)
    rng = np.random.default_rng(7)
    bb, ciou, conf = rng.integers(0, 2, 450), rng.uniform(0, 1, 450), rng.uniform(0, 1, 450)
    assert x.average_precision(bb > 0, ciou, conf) == pytest.approx(0.27782675562959386, rel=1e-12)
    assert x.max_f1(bb > 0, ciou, conf)[0] == pytest.approx(0.4210526315789474, rel=1e-12)


def test_edge_cases():
    assert x.average_precision([True], [0.9], [0.5]) == 0.0  # one sample: no threshold (SLAVC: an empty sum)
    # a sample without a prediction (-inf) is never detected, even at the lowest threshold
    p, r = x.precision_recall([True, True], [0.9, 0.9], [0.5, -np.inf], [-np.inf])
    assert p[0] == 1.0 and r[0] == 0.5
    with pytest.raises(SSLPropError, match="NaN"):
        x.average_precision([True, False], [0.9, 0.0], [0.5, float("nan")])
    with pytest.raises(SSLPropError, match="one of each"):
        x.average_precision([True], [0.9, 0.1], [0.5, 0.1])


def test_confidences():
    assert x.box_confidence(np.array([[0, 0, 1, 1, 0.7], [0, 0, 1, 1, 0.2]])) == 0.7
    assert x.box_confidence(np.zeros((0, 5))) == -np.inf
    m = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]])
    assert x.map_confidence(m) == 9.0
    assert x.map_confidence(m, "top-quarter") == pytest.approx(7.0)  # SLAVC [-n//4:] with n = 6: the 2 largest, 9 and 5
    with pytest.raises(SSLPropError, match="unknown rule"):
        x.map_confidence(m, "mean")
