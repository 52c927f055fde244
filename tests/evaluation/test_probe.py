"""Tests for sslprop/evaluation/probe.py."""

import json

import pytest
import torch

from sslprop.cli import main as cli_main
from sslprop.config import get_profile
from sslprop.data.proposals import extract_dataset
from sslprop.data.synth import generator
from sslprop.engine.train import train
from sslprop.errors import SSLPropError
from sslprop.evaluation.probe import background_box, own_sound_preference


def test_background_box_avoids_every_object():
    assert background_box([], 48) == [0.0, 0.0, 16.0, 16.0]
    box = background_box([[0, 0, 30, 30]], 48)  # the first free 16 px square on the 4 px grid, row by row
    assert box == [32.0, 0.0, 48.0, 16.0]
    assert background_box([[0, 0, 48, 48]], 48) is None  # no room left


def test_own_sound_preference_hand_computed():
    # three frames: sounds of classes a, a, b; box 0 points at its own sound, box 1 at b's, box 2 in between
    sound = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    box = torch.tensor([[1.0, 0.1], [0.0, 1.0], [1.0, 1.0]])
    # pairs of other classes: (0, 2), (1, 2), (2, 0), (2, 1); box 0 prefers its own sound, box 1 does not,
    # box 2 is equally close to both (a tie is not a preference)
    share, pairs = own_sound_preference(box, sound, ["a", "a", "b"], [0, 1, 2])
    assert pairs == 4 and share == pytest.approx(1 / 4)
    assert own_sound_preference(box, sound, ["a", "a", "b"], [0]) == (1.0, 1)
    share, pairs = own_sound_preference(box, sound, ["a", "a", "b"], [])
    assert pairs == 0 and share != share  # NaN: no frame


def test_probe_runs_on_a_trained_model_and_refuses_baselines(tmp_path, capsys):
    data = generator.generate("scenes", 24, 2, tmp_path / "scenes", size=48, progress=False)
    extract_dataset(data, workers=1, progress=False)
    base = {"data.frame_size": 48, "model.pretrained": False, "model.visual_width": 8, "model.audio_width": 4, "model.dim": 16,
            "model.attn_dim": 8, "model.k": 5, "train.epochs": 1, "train.batch_size": 4, "train.device": "cpu"}
    train(get_profile("cpu").replace(**base), data, tmp_path / "ours", progress=False, log=lambda m: None)
    assert cli_main(["probe", "--run", str(tmp_path / "ours"), "--data", str(data), "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {(r["box"], r["frames"]): r for r in report["rows"]}
    assert set(rows) == {(b, g) for b in ("object", "background") for g in ("all", "preferred background", "other background")}
    assert rows["object", "all"]["n_frames"] == report["frames"] > 0
    assert rows["object", "all"]["n_frames"] == rows["object", "preferred background"]["n_frames"] + rows["object", "other background"]["n_frames"]
    assert 0.0 <= rows["object", "all"]["own_sound_preferred"] <= 1.0
    train(get_profile("cpu").replace(**base), data, tmp_path / "lvs", method="lvs", progress=False, log=lambda m: None)
    assert cli_main(["probe", "--run", str(tmp_path / "lvs"), "--data", str(data), "--no-progress"]) == 2
    assert "not of `lvs`" in capsys.readouterr().err
    with pytest.raises(SSLPropError):
        from sslprop.evaluation.probe import probe

        probe(tmp_path / "missing", data)
