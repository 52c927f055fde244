"""Tests for sslprop/engine/train.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sslprop.engine.train import load_checkpoint, train
from sslprop.errors import SSLPropError
from tests.helpers import train_cfg

ROOT = Path(__file__).resolve().parents[1]


def _weights(run: Path) -> dict:
    return load_checkpoint(run / "latest.pth")["model"]


def test_two_seeded_runs_agree(tiny, tmp_path):
    h1 = train(train_cfg(), tiny, tmp_path / "a", progress=False, log=lambda m: None)
    h2 = train(train_cfg(), tiny, tmp_path / "b", progress=False, log=lambda m: None)
    assert [r["loss"] for r in h1] == [r["loss"] for r in h2]
    assert len(h1) == 2 and all(np.isfinite(r["loss"]) for r in h1)
    w1, w2 = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    h3 = train(train_cfg(**{"train.seed": 1}), tiny, tmp_path / "c", progress=False, log=lambda m: None)
    assert [r["loss"] for r in h3] != [r["loss"] for r in h1]
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(l)["epoch"] for l in lines] == [1, 2]


def test_resume_equals_uninterrupted(tiny, tmp_path):
    full = train(train_cfg(), tiny, tmp_path / "full", progress=False, log=lambda m: None)
    part = train(train_cfg(), tiny, tmp_path / "cut", max_steps=1, progress=False, log=lambda m: None)
    assert part == []  # stopped inside the first epoch
    state = load_checkpoint(tmp_path / "cut" / "latest.pth")
    assert (state["epoch"], state["step"], state["finished"]) == (0, 1, False)
    resumed = train(train_cfg(), tiny, tmp_path / "cut", resume=True, progress=False, log=lambda m: None)
    # every epoch, the interrupted one too, has the uninterrupted run's metrics (its sums are kept in the checkpoint)
    assert [(r["steps"], r["loss"], r["tri"]) for r in resumed] == [(r["steps"], r["loss"], r["tri"]) for r in full]
    w_full, w_cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(w_full[k], w_cut[k]) for k in w_full)


def test_run_folder_is_not_overwritten(tiny, tmp_path):
    train(train_cfg(**{"train.epochs": 1}), tiny, tmp_path / "r", progress=False, log=lambda m: None)
    with pytest.raises(SSLPropError, match="already holds a checkpoint"):
        train(train_cfg(**{"train.epochs": 1}), tiny, tmp_path / "r", progress=False, log=lambda m: None)
    with pytest.raises(SSLPropError, match="another method or configuration"):
        train(train_cfg(**{"train.epochs": 1, "model.k": 3}), tiny, tmp_path / "r", resume=True, progress=False, log=lambda m: None)


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tiny, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "sslprop", "train",
           "--data", str(tiny), "--out", str(tmp_path / "ddp"), "--epochs", "1", "--batch-size", "2", "--device", "cpu",
           "--frame-size", "48", "--k", "5", "--no-progress", "--from-scratch", "--set", "model.visual_width=8", "--set", "model.audio_width=4",
           "--set", "model.dim=16", "--set", "model.attn_dim=8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    state = load_checkpoint(tmp_path / "ddp" / "latest.pth")
    assert state["finished"] and state["history"][0]["steps"] == 2  # 10 clips / 2 processes / batch 2, drop_last
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["world_size"] == 2


def test_written_files_get_the_umask_mode_not_0600(tiny, tmp_path):
    old = os.umask(0o022)
    try:
        train(train_cfg(**{"train.epochs": 1}), tiny, tmp_path / "r", progress=False, log=lambda m: None)
    finally:
        os.umask(old)
    for name in ("latest.pth", "config.json", "metrics.jsonl"):
        assert (tmp_path / "r" / name).stat().st_mode & 0o777 == 0o644, name
