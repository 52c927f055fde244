"""Tests for sslprop/evaluation/bootstrap.py: sample-level bootstrap intervals, by hand and against the binomial."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sslprop.errors import SSLPropError
from sslprop.evaluation import bootstrap as B

MEAN = lambda v: float(np.mean(v))


def test_group_of_and_constant_scores():
    assert B.group_of("s1/3") == "s1" and B.group_of("s1") == "s1" and B.group_of("a/b/2") == "a/b"
    assert B.bootstrap_intervals(["a", "b", "c"], {"rate": ([1, 1, 1], MEAN)}) == {"rate": [1.0, 1.0]}


def test_frames_of_one_sample_are_drawn_together():
    # sample a: two frames, both hits; sample b: one miss. Resampling samples, a draw is (a, a) -> 1, (a, b) or
    # (b, a) -> 2/3, (b, b) -> 0: each with chance 1/4, 1/2, 1/4, so the 95 % interval is [0, 1]. Resampling frames
    # would also give 1/3.
    keys, hits = ["a/0", "a/1", "b"], [1.0, 1.0, 0.0]
    seen = {round(MEAN(np.asarray(hits)[d]), 6) for d in B._draws(keys, 400, 3)}
    assert seen == {0.0, round(2 / 3, 6), 1.0}
    assert B.bootstrap_intervals(keys, {"rate": (hits, MEAN)}, resamples=400, seed=3) == {"rate": [0.0, 1.0]}


def test_a_rate_of_independent_frames_gets_the_binomial_interval():
    keys = [f"f{i}" for i in range(400)]
    hits = [1.0] * 100 + [0.0] * 300
    (lo, hi), = B.bootstrap_intervals(keys, {"rate": (hits, MEAN)}, resamples=2000, seed=0).values()
    half = 1.96 * np.sqrt(0.25 * 0.75 / 400)
    assert lo == pytest.approx(0.25 - half, abs=0.01) and hi == pytest.approx(0.25 + half, abs=0.01)
    again = B.bootstrap_intervals(keys, {"rate": (hits, MEAN)}, resamples=2000, seed=0)["rate"]
    other = B.bootstrap_intervals(keys, {"rate": (hits, MEAN)}, resamples=2000, seed=1)["rate"]
    assert again == [lo, hi] and other != [lo, hi]  # seeded


def test_paired_difference_and_bad_input():
    keys = [f"f{i}" for i in range(50)]
    same = B.paired_difference(keys, [0.3] * 50, [0.3] * 50, MEAN)
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0, "resolved": False}
    a = [1.0] * 30 + [0.0] * 20
    b = [1.0] * 28 + [0.0] * 22  # two frames apart: within noise
    near = B.paired_difference(keys, a, b, MEAN, resamples=500)
    assert near["difference"] == pytest.approx(0.04) and near["low"] >= 0.0 and near["resolved"] is False
    far = B.paired_difference(keys, [1.0] * 50, [0.0] * 50, MEAN)
    assert far["resolved"] and far["low"] == 1.0
    with pytest.raises(SSLPropError, match="--resamples 0"):
        B.bootstrap_intervals(keys, {"r": (a, MEAN)}, resamples=0)
    with pytest.raises(SSLPropError, match="3 values for 50 frames"):
        B.bootstrap_intervals(keys, {"r": ([1, 2, 3], MEAN)})
    with pytest.raises(SSLPropError, match="no scored frame"):
        B.bootstrap_intervals([], {"r": ([], MEAN)})


def test_eval_ci_prints_intervals(tmp_path, capsys):
    from sslprop import cli
    from sslprop.data.format import Frame, Sample, write_manifest

    samples = [Sample(f"s{i}", f"s{i}", "test", "a.wav", [Frame(f"{i}.png", 0.5, 40, 40, [[[10, 10, 30, 30]]])]) for i in range(20)]
    write_manifest(tmp_path, samples, {"name": "ci"})
    preds = {f"s{i}": [[10, 10, 30, 30, 1.0]] if i < 10 else [[0, 0, 5, 5, 1.0]] for i in range(20)}
    (tmp_path / "p.json").write_text(json.dumps(preds))
    assert cli.main(["eval", "--predictions", str(tmp_path / "p.json"), "--annotations", str(tmp_path), "--protocol", "lvs",
                     "--ci", "--resamples", "300", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["ciou@0.5"] == 0.5 and r["ci_settings"]["resamples"] == 300
    lo, hi = r["ci"]["ciou@0.5"]
    assert 0.2 < lo < 0.5 < hi < 0.8 and set(r["ci"]) >= {"ciou@0.5", "auc", "mean_ciou", "box_iou@0.5"}
    assert cli.main(["eval", "--predictions", str(tmp_path / "p.json"), "--annotations", str(tmp_path), "--protocol", "lvs", "--ci"]) == 0
    assert "intervals    95 % bootstrap, 1000 resamples of samples, seed 0" in capsys.readouterr().out
