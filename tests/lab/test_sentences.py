"""Tests for sslprop/lab/sentences.py."""

from __future__ import annotations

import matplotlib

from sslprop.evaluation import onscreen as on
from sslprop.lab import sentences
from tests.helpers import LABELS, RECORDS

matplotlib.use("Agg")

def test_compare_sentence():
    rows = [{"m": "A", "c": 30.0}, {"m": "B", "c": 50.0}, {"m": "Ours", "c": 40.0}, {"m": "F", "c": None}]
    paper = [{"m": "A", "c": 60.0}, {"m": "B", "c": 70.0}, {"m": "Ours", "c": 72.8}]
    assert sentences.compare_sentence(rows, paper, "m", "c", "Ours", ["A", "B"]) == (
        "c: Ours 40.0 vs. best other 50.0 (B); the paper: Ours 72.8 vs. 70.0 (B); "
        "the order differs (Ours does not lead here, leads in the paper).")
    rows[1]["c"] = 10.0
    assert sentences.compare_sentence(rows, paper, "m", "c", "Ours", ["A", "B"]).endswith(
        "Ours 40.0 vs. best other 30.0 (A); the paper: Ours 72.8 vs. 70.0 (B); the order agrees (Ours leads in both).")
    assert sentences.compare_sentence(rows, [], "m", "c", "Ours", ["A"]) == "c: Ours 40.0 vs. best other 30.0 (A)."
    assert sentences.compare_sentence(rows, paper, "m", "c", "F", ["A"]) == "c: not computed."


def test_delta_gap_and_best_sentences():
    rows = [{"v": "a", "c": 40.0, "d": 10.0}, {"v": "b", "c": 50.0, "d": 10.0}, {"v": "x", "c": 50.0, "d": None}]
    paper = [{"v": "a", "c": 72.8, "d": 60.0}, {"v": "b", "c": 58.9, "d": 61.0}]
    assert sentences.delta_sentence(rows, paper, "v", "c", "a", "b") == \
        "c, [a] - [b]: -10.0 here, +13.9 in the paper; the sign differs."
    assert sentences.delta_sentence(rows, paper, "v", "d", "a", "b") == "d, [a] - [b]: +0.0 here, -1.0 in the paper; the sign differs."
    assert sentences.delta_sentence(rows, [], "v", "c", "b", "a") == "c, [b] - [a]: +10.0 here."
    assert sentences.delta_sentence(rows, paper, "v", "d", "a", "x") == "d, [a] - [x]: not computed."
    assert sentences.gap_sentence(rows, paper, "v", "a", "c", "d") == "a, [c] - [d]: +30.0 here, +12.8 in the paper; the sign agrees."
    assert sentences.best_sentence(rows, paper, "v", "c", ["a", "b", "x"]) == "c: best here b = x; in the paper a; not the same."
    assert sentences.best_sentence(rows, paper, "v", "d", ["a", "b"]) == "d: best here a = b; in the paper b; not the same."
    assert sentences.best_sentence(rows, [], "v", "c", ["a"]) == "c: best here a."


def test_describe_table1_reads_the_numbers():
    text = sentences.describe_table1(on.table1(RECORDS, LABELS), "SSL", "toy")
    assert "the paper's m_on || d_on (78.5%) is 6.7 points above its better single criterion (m_on, 71.8%)" in text
    assert "here it is 20.0 points below m_on (80.0%): the paper's gain from combining them is not reproduced" in text
    assert "beats answering \"on-screen\" for every frame (60.0%) by 20.0 points" in text
    one_class = on.table1(RECORDS, {"a": True, "b": True})
    assert "frames of one class only" in sentences.describe_table1(one_class, "AVE", "toy")


def test_an_identical_pair_is_no_difference_not_unresolved():
    same = {"difference": 0.0, "low": 0.0, "high": 0.0, "resolved": False}
    assert sentences.resolution(same) == ("there is no difference, +0.0 points [+0.0, +0.0]: "
                                          "the two give the same results on the test frames")
    assert sentences.resolution({"difference": 0.0, "low": -1.2, "high": 1.4, "resolved": False}).endswith(
        "is not resolved by the test frames (its 95 % interval holds 0)")
    # d_on calls on-screen every frame m_on does, so m_on || d_on decides as d_on alone: the paragraph says so
    records = {k: {**r, "d_on": 0.3 if LABELS[k] else 0.1, "on_m": k == "a"} for k, r in RECORDS.items()}
    report = on.onscreen_summary(records, LABELS, ci={"resamples": 200, "seed": 0})
    text = sentences.describe_table1(report["rows"], "SSL", "toy", report["paired"])
    assert "here it ties with d_on" in text and "there is no difference, +0.0 points [+0.0, +0.0]" in text
    assert "not resolved" not in text
