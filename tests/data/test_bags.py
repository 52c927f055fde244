"""Tests for sslprop/data/bags.py and the `proposals --stats` command (sslprop/engine/proposals.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sslprop import cli
from sslprop.data.audio import write_wav
from sslprop.data.bags import bag_stats, dataset_bag_stats, hits, sounding_boxes
from sslprop.data.format import Frame, ObjectAnn, Sample, write_manifest
from sslprop.data.proposal_cache import ProposalCache
from sslprop.errors import SSLPropError


def _known_set(root):
    """Three frames with hand-made bags: a (4 proposals, 1 hit), b (2 proposals, no hit), c (off-screen, 6 proposals)."""
    src = [10.0, 10.0, 30.0, 30.0]
    frames = {
        "a": Frame("frames/a.png", 0.5, 64, 64, [[src]], [ObjectAnn(src, "dog", True), ObjectAnn([40, 40, 60, 60], "cat", False)], True),
        "b": Frame("frames/b.png", 0.5, 64, 64, [[src]], [ObjectAnn(src, "dog", True)], True),
        "c": Frame("frames/c.png", 0.5, 64, 64, [], [ObjectAnn([40, 40, 60, 60], "cat", False)], False),
    }
    write_manifest(root, [Sample(k, k, "test", f"audio/{k}.wav", [f]) for k, f in frames.items()], {"name": "known"})
    for k in frames:
        write_wav(root / f"audio/{k}.wav", np.zeros(16000))
    cache = ProposalCache(root)
    cache.put("frames/a.png", np.array([[10, 10, 30, 30], [12, 12, 30, 30], [0, 0, 64, 64], [40, 40, 60, 60]]))  # IoU 1, 0.81, 0.1, 0
    cache.put("frames/b.png", np.array([[10, 10, 20, 20], [0, 0, 64, 64]]))  # IoU 0.25, 0.1
    cache.put("frames/c.png", np.zeros((6, 4)) + [0, 0, 8, 8])
    return root


def test_hits_and_sounding_boxes():
    assert hits(np.array([[0, 0, 10, 10], [0, 0, 10, 20], [0, 0, 4, 4]]), [[0, 0, 10, 10]]).tolist() == [True, True, False]
    assert hits(np.zeros((0, 4)), [[0, 0, 1, 1]]).tolist() == [] and hits(np.ones((2, 4)), []).tolist() == [False, False]
    annotated_only = Frame("f.png", 0.5, 10, 10, [[[0, 0, 5, 5]], [[1, 1, 6, 6]]], [], True)
    assert sounding_boxes(annotated_only) == [[0, 0, 5, 5], [1, 1, 6, 6]]  # real data: every annotator's box


def test_bag_statistics_of_a_tiny_set_with_known_boxes(tmp_path):
    root = _known_set(tmp_path / "known")
    s = dataset_bag_stats(root)
    assert (s.frames, s.median, s.mean, s.scored_frames) == (3, 4.0, 4.0, 2)
    assert s.hit_share == pytest.approx(2 / 6)  # a: 2 of 4 reach IoU 0.5, b: 0 of 2; c has no source
    assert s.frames_with_hit == pytest.approx(0.5)
    assert s.p5 == pytest.approx(np.percentile([4, 2, 6], 5)) and s.p95 == pytest.approx(np.percentile([4, 2, 6], 95))
    assert "median 4" in s.summary() and "33.3 % of their proposals hit it" in s.summary()
    assert bag_stats({"x": np.zeros((3, 4))}, {}).scored_frames == 0


def test_proposals_stats_command(tmp_path, capsys):
    root = _known_set(tmp_path / "known")
    assert cli.main(["proposals", str(root), "--stats", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["proposals"] == ProposalCache(root).key and report["cached"]["frames_with_hit"] == 0.5
    assert cli.main(["proposals", str(root), "--stats"]) == 0
    assert "cached bags: 3 frames; proposals per frame median 4" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    write_manifest(empty, [], {"name": "empty"})
    assert cli.main(["proposals", str(empty), "--stats"]) == 2
    assert "no proposals cached" in capsys.readouterr().err
    assert cli.main(["proposals", str(root), "--run", str(tmp_path)]) == 2
    assert "--run: bag statistics of a run need --stats" in capsys.readouterr().err


def test_stats_of_the_top_k_bag_a_run_keeps(tiny, tmp_path, capsys):
    from sslprop.engine.proposals import run_bag_stats
    from sslprop.engine.train import train
    from tests.helpers import train_cfg

    train(train_cfg(**{"train.epochs": 1}), tiny, tmp_path / "run", progress=False, log=lambda m: None)
    s = run_bag_stats(tmp_path / "run", tiny, progress=False)
    assert s.frames == 6 and s.median <= 5 and s.scored_frames == 6  # the 6 test frames, K = 5 kept (fewer when the bag is smaller)
    assert 0 <= s.hit_share <= 1 and "top-K bag of run" in s.what
    assert cli.main(["proposals", str(tiny), "--stats", "--run", str(tmp_path / "run"), "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["selected"]["median"] == s.median and report["cached"]["frames"] == 16
    with pytest.raises(SSLPropError, match="keeps no proposals"):
        train(train_cfg(**{"train.epochs": 1}), tiny, tmp_path / "att", method="attention", progress=False, log=lambda m: None)
        run_bag_stats(tmp_path / "att", tiny, progress=False)
