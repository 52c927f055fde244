"""Tests for sslprop/lab/explore.py: summaries, object masks and picked samples of a data set."""

from __future__ import annotations

import math

import pytest

from sslprop.data.bags import dataset_bag_stats
from sslprop.data.format import read_manifest
from sslprop.data.synth import generator
from sslprop.lab import explore


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenes_explore")
    generator.generate("scenes", 12, 5, out, size=64, progress=False)
    return out


def test_dataset_summary_counts_what_the_manifest_holds(scenes):
    samples = read_manifest(scenes)
    row = explore.dataset_summary(scenes)
    assert row["name"] == "scenes" and row["train"] + row["test"] == len(samples) == 12
    assert row["test"] == sum(s.split == "test" for s in samples) > 0
    assert row["frames"] == 12 and row["annotators"] == 3 and math.isnan(row["proposals"])  # no proposals cached yet
    assert 0.0 <= row["offscreen"] <= 1.0 and abs(row["onscreen"] + row["offscreen"] - 1.0) < 1e-9
    assert row["largest"] == generator.salience_shares(samples)["largest"]
    from sslprop.data.proposals import extract_dataset

    extract_dataset(scenes, workers=1, progress=False)
    row = explore.dataset_summary(scenes)
    stats = dataset_bag_stats(scenes)
    assert (row["proposals"], row["p5"], row["p95"], row["hit_share"]) == (stats.median, stats.p5, stats.p95, stats.hit_share)
    assert row["proposals"] > 20 and 0 < row["hit_share"] < 1


def test_pick_samples_and_masks(scenes):
    test = [s for s in read_manifest(scenes, "test")]
    on = [s.id for s in test if s.onscreen is True]
    assert explore.pick_samples(scenes, "test", onscreen=True) == on
    assert explore.pick_samples(scenes, "test", count=1) == [test[0].id]
    assert explore.pick_samples(scenes, "test", where=lambda s: False) == []
    if on:
        masks = explore.sample_masks(scenes, on[0])
        sample = next(s for s in test if s.id == on[0])
        assert len(masks) == len(sample.frames) and len(masks[0]) == len(sample.frames[0].objects)
        assert all(m.shape == (sample.frames[0].height, sample.frames[0].width) and m.any() for m in masks[0])


def test_write_sample_video_plays_a_clip_at_its_frame_rate(tmp_path):
    from sslprop.data.video import probe_video

    seq = tmp_path / "seq"
    generator.generate("sequences", 2, 1, seq, size=64, progress=False)
    sample = read_manifest(seq)[0]
    path = explore.write_sample_video(seq, sample.id, tmp_path / "clip.mp4", size=(128, 96))
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames) == (128, 96, len(sample.frames)) and info.has_audio
    assert info.fps == pytest.approx(1.0) and info.duration == pytest.approx(len(sample.frames), abs=0.05)
    with pytest.raises(Exception, match="no sample 'nope'"):
        explore.write_sample_video(seq, "nope", tmp_path / "x.mp4")
