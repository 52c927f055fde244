"""Tests for sslprop/lab/workflow.py."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

from sslprop.errors import SSLPropError
from sslprop.lab import explore
from sslprop.lab import workflow as wf

matplotlib.use("Agg")

@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return wf.ensure_dataset("solo", root, "smoke", 0, size=4)


def test_training_summary_reads_the_last_l_tri_against_chance(tmp_path):
    import json as _json

    from sslprop.lab import sentences
    from sslprop.lab import workflow as wf

    run = tmp_path / "ours-run"
    run.mkdir()
    (run / "config.json").write_text(_json.dumps({"config": {"data": {"num_frames": 1}}}))
    rows = [{"epoch": 1, "tri": 0.501, "clips_per_s": 100.0}, {"epoch": 2, "tri": 0.41, "clips_per_s": 120.0}]
    (run / "metrics.jsonl").write_text("".join(_json.dumps(r) + "\n" for r in rows))
    t = wf.training_summary(run)
    assert t["chance"] == pytest.approx(0.5) and t["last L_tri"] == 0.41 and t["learned"] and t["epochs"] == 2
    assert "0.410 in epoch 2 (chance 0.500)" in sentences.training_sentence(run)
    (run / "metrics.jsonl").write_text(_json.dumps(rows[0]) + "\n")
    assert "after its one epoch" in sentences.training_sentence(run) and "not 0.02 below" in sentences.training_sentence(run)
    (run / "metrics.jsonl").write_text(_json.dumps({"epoch": 1, "loss": 0.3}) + "\n")
    with pytest.raises(SSLPropError, match="no L_tri"):
        wf.training_summary(run)


def test_budgets():
    assert wf.get_budget("smoke").sizes["scenes"] < wf.get_budget("full").sizes["scenes"]
    assert wf.get_budget(wf.BUDGETS["full"]) is wf.BUDGETS["full"]
    with pytest.raises(SSLPropError, match="budget 'huge': unknown"):
        wf.get_budget("huge")
    cfg = wf.run_config("cpu", "smoke", 3, overrides={"model.k": 5})
    assert (cfg.train.epochs, cfg.train.seed, cfg.train.device, cfg.model.k) == (1, 3, "cpu", 5)


def test_ensure_dataset_is_idempotent(solo, monkeypatch):
    from sslprop.data.synth import generator

    assert solo.name == "solo-n4-s0"
    stamp = json.loads((solo / wf.STAMP).read_text())
    assert stamp == {"preset": "solo", "n": 4, "seed": 0, "frame_size": None, "test_fraction": 0.25,
                     "generator_version": generator.GENERATOR_VERSION,
                     "proposals": "ss-fast-full-min4-v2"}

    def fail(*args, **kwargs):
        raise AssertionError("called again")

    monkeypatch.setattr(generator, "generate", fail)
    monkeypatch.setattr(wf, "extract_dataset", fail)
    assert wf.ensure_dataset("solo", solo.parent, "smoke", 0, size=4) == solo
    summary = explore.dataset_summary(solo)
    assert {k: summary[k] for k in ("name", "train", "test", "frames", "onscreen", "annotators")} == {
        "name": "solo", "train": 3, "test": 1, "frames": 4, "onscreen": 1.0, "annotators": 1}
    # masks rebuild exactly: the tight box of each mask is the stored box
    sid = "solo-000000"
    from sslprop.data.format import read_manifest

    sample = next(s for s in read_manifest(solo) if s.id == sid)
    masks = explore.sample_masks(solo, sid)[0]
    ys, xs = np.nonzero(masks[0])
    assert [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)] == sample.frames[0].objects[0].box


def test_ensure_dataset_regenerates_nothing_without_stamp(solo, monkeypatch):
    from sslprop.data.synth import generator

    (solo / wf.STAMP).unlink()
    monkeypatch.setattr(generator, "generate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("regenerated")))
    assert wf.ensure_dataset("solo", solo.parent, "smoke", 0, size=4) == solo  # search finds every frame cached
    assert (solo / wf.STAMP).is_file()


def test_ensure_run_and_predictions_are_cached(solo, tmp_path, monkeypatch):
    run = wf.ensure_run("ours", solo, tmp_path, "smoke", 0)
    assert run.parent == tmp_path and run.name.startswith("ours-solo-n4-s0-smoke-")
    assert (run / "latest.pth").is_file() and (run / ".finished.json").is_file()
    other = wf.run_config("cpu", "smoke", 0, overrides={"model.k": 5})
    assert other != wf.run_config("cpu", "smoke", 0)
    preds = wf.ensure_predictions(run, solo)
    assert preds == run / "predictions-solo-n4-s0-test"
    assert set(json.loads((preds / "boxes.json").read_text())) == {"solo-000003"}
    monkeypatch.setattr(wf, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained again")))
    monkeypatch.setattr(wf, "predict", lambda *a, **k: (_ for _ in ()).throw(AssertionError("predicted again")))
    assert wf.ensure_run("ours", solo, tmp_path, "smoke", 0) == run
    assert wf.ensure_predictions(run, solo) == preds
    fw = explore.forward_samples(run, solo, ["solo-000003"])
    assert fw.output.grm.shape == (1, 1, 96, 96) and len(fw.proposals) == 1 and fw.gt[0].shape == (1, 4)
