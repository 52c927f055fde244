"""Tests for sslprop/lab/ship.py: the shipped checkpoint's card is read from the run, its predictions and figures/."""

from __future__ import annotations

import json

import pytest

from sslprop.errors import SSLPropError
from sslprop.lab import ship


def test_card_reads_the_run_the_predictions_and_the_tables(tmp_path):
    data = tmp_path / "scenes-n10-s0"
    data.mkdir()
    (data / "dataset.json").write_text(json.dumps({"name": "synth-scenes", "preset": "scenes", "num_samples": 10, "seed": 0,
                                                  "test_fraction": 0.3, "splits": {"train": 7, "test": 3}}))
    run = tmp_path / "ours-run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"config": {"train": {"epochs": 4, "batch_size": 32, "seed": 0}}}))
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "predictions.json").write_text(json.dumps({"frames": 3, "m_on_threshold": 0.7, "d_on_threshold": 0.2,
                                                       "m_on_calibration": "mean of the medians"}))
    fig = tmp_path / "figures"
    fig.mkdir()
    (fig / "06_table2.csv").write_text("method,scenes cIoU@0.5,scenes AUC\nAttention,10.0,20.0\nOurs,35.2,37.9\n")
    (fig / "05_table1_scenes.csv").write_text("criterion,accuracy\nm_on,0.814\nd_on,0.829\nm_on || d_on,0.829\n")
    card = ship.card_for(run, data, pred, fig)
    assert card["m_on_threshold"] == 0.7 and card["trained_on"]["samples"] == {"train": 7, "test": 3}
    assert card["scores_on_its_test_split"]["scenes cIoU@0.5 (lvs, percent)"] == 35.2
    assert card["scores_on_its_test_split"]["Table 1 accuracy"]["m_on || d_on"] == 0.829
    assert card["command"].startswith("python -m sslprop synth --preset scenes --n 10 --seed 0 --test-fraction 0.3")
    assert "--epochs 4 --batch-size 32 --seed 0" in card["command"]
    (fig / "06_table2.csv").write_text("method,scenes cIoU@0.5,scenes AUC\nAttention,10.0,20.0\n")
    with pytest.raises(SSLPropError, match="no row method = 'Ours'"):
        ship.card_for(run, data, pred, fig)
