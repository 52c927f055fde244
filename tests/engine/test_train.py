"""Tests for sslprop/engine/train.py."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sslprop import cli
from sslprop.config import OVERLAYS, get_profile
from sslprop.data.dataset import EXAMPLE_CACHE
from sslprop.engine.checkpoint import load_checkpoint
from sslprop.engine.train import EpochBatches, config_from_args, loader_workers, make_loader, train
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
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2]


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


class _WhoReads(torch.utils.data.Dataset):
    """Items in the collated format whose video_id is the process that read them."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict:
        return {"frames": torch.zeros(1), "audio": torch.zeros(1), "proposals": [], "index": i, "keys": [str(i)],
                "sample_id": str(i), "video_id": str(os.getpid())}


def test_one_loader_serves_every_epoch_from_the_same_spawned_workers():
    batches = EpochBatches([[0, 1], [2, 3]])
    loader = make_loader(_WhoReads(), batches, 1, torch.device("cpu"))
    assert loader.persistent_workers and loader.prefetch_factor == 4 and not loader.pin_memory
    assert loader.multiprocessing_context.get_start_method() == "spawn"
    first = list(loader)
    batches.batches = [[7, 6], [5, 4], [3, 2]]  # the next epoch's order, set on the same loader
    second = list(loader)
    assert [b["index"].tolist() for b in first] == [[0, 1], [2, 3]]
    assert [b["index"].tolist() for b in second] == [[7, 6], [5, 4], [3, 2]]
    pids = {v for b in first + second for v in b["video_id"]}
    assert len(pids) == 1 and pids != {str(os.getpid())}  # one worker, not this process, kept across epochs
    assert make_loader(_WhoReads(), batches, 0, torch.device("cpu")).num_workers == 0


def test_loader_workers_are_capped_at_the_cores(monkeypatch):
    from sslprop.engine import train as train_module

    monkeypatch.setattr(train_module, "available_cores", lambda: 16)
    lines: list[str] = []
    assert loader_workers(8, lines.append) == 8 and lines == []
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun: 4 processes share the 16 cores
    assert loader_workers(8, lines.append) == 4
    assert lines == ["8 DataLoader workers > 4 cores for this process: using 4"]


@pytest.mark.slow
def test_workers_train_what_the_main_process_trains_and_keep_patches_on_disk(tiny, tmp_path):
    data = Path(shutil.copytree(tiny, tmp_path / "data"))
    h0 = train(train_cfg(), data, tmp_path / "w0", progress=False, log=lambda m: None)
    assert not (data / EXAMPLE_CACHE).exists()  # without workers the patches stay in memory, as before
    h2 = train(train_cfg(**{"train.num_workers": 2}), data, tmp_path / "w2", progress=False, log=lambda m: None)
    assert [r["loss"] for r in h2] == [r["loss"] for r in h0] and len(h2) == 2
    w0, w2 = _weights(tmp_path / "w0"), _weights(tmp_path / "w2")
    assert all(torch.equal(w0[k], w2[k]) for k in w0)
    stored = sorted((data / EXAMPLE_CACHE).rglob("*.npy"))
    assert len(stored) == 10  # one patch per training clip, written by the workers in the first epoch
    again = train(train_cfg(**{"train.num_workers": 2, "train.epochs": 1}), data, tmp_path / "w3", progress=False,
                  log=lambda m: None)  # read back from disk
    assert again[0]["loss"] == h0[0]["loss"] and sorted((data / EXAMPLE_CACHE).rglob("*.npy")) == stored


def test_resume_reads_no_weight_file_and_keeps_the_one_the_run_started_from(tiny, tmp_path):
    from sslprop.models.encoders import SmallVisual

    weights = tmp_path / "visual.pth"
    torch.manual_seed(5)
    torch.save(SmallVisual(8).state_dict(), weights)
    full = train(train_cfg(), tiny, tmp_path / "full", visual_weights=str(weights), progress=False, log=lambda m: None)
    train(train_cfg(), tiny, tmp_path / "cut", visual_weights=str(weights), max_steps=1, progress=False, log=lambda m: None)
    weights.unlink()  # e.g. another node, without the cache: the checkpoint holds the weights
    resumed = train(train_cfg(), tiny, tmp_path / "cut", resume=True, progress=False, log=lambda m: None)
    assert [r["loss"] for r in resumed] == [r["loss"] for r in full]
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["visual_weights"] == str(weights)


def test_every_method_trains_with_the_shipped_pretrained_encoders(tiny, tmp_path):
    # the cpu profile resolves the shipped weight files before building; a method with its own audio network
    # (pixelplayer's U-Net) must not be handed the audio encoder's file (it refuses one given by the user)
    cfg = train_cfg(**{"model.pretrained": True, "model.visual_width": 32, "model.audio_width": 16, "train.epochs": 1,
                       "train.freeze_encoders": True})
    for method in ("pixelplayer", "attention"):
        history = train(cfg, tiny, tmp_path / method, method=method, progress=False, log=lambda m: None)
        config = json.loads((tmp_path / method / "config.json").read_text())
        assert len(history) == 1 and config["visual_weights"].endswith("small_visual.pt")
        assert (config["audio_weights"] is None) == (method == "pixelplayer")
    with pytest.raises(SSLPropError, match="--audio-weights does not apply"):
        train(cfg, tiny, tmp_path / "pp2", method="pixelplayer", audio_weights=config["audio_weights"], progress=False,
              log=lambda m: None)


def test_from_scratch_is_the_scratch_overlay_over_either_profile():
    def cfg(*argv: str):
        return config_from_args(cli.build_parser("train").parse_args(["train", "--data", "d", "--out", "o", *argv]))

    explicit = {"model.pretrained": False, "train.freeze_encoders": False, "train.lam": 0.5}
    assert OVERLAYS["scratch"] == explicit
    for profile in ("cpu", "paper"):
        assert cfg("--profile", profile, "--from-scratch") == get_profile(profile).replace(**explicit)
    # laid over --no-selection's lambda 0 as well; --set comes after it
    assert cfg("--from-scratch", "--no-selection") == get_profile("cpu").replace(**explicit, **{"model.select_proposals": False})
    assert cfg("--from-scratch", "--set", "train.lam=0.3").train.lam == 0.3
