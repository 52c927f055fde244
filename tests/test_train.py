"""The trainer and predict: determinism, resume, run folders, prediction files, torchrun on CPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sslprop.config import get_profile
from sslprop.data.audio import write_wav
from sslprop.data.dataset import SSLDataset, collate
from sslprop.data.format import Frame, Sample, write_manifest
from sslprop.errors import SSLPropError
from sslprop.losses import negative_indices
from sslprop.methods import get_method
from sslprop.predict import calibrate_m_on, map_box, predict, two_sources
from sslprop.proposals import extract_dataset
from sslprop.train import load_checkpoint, train

ROOT = Path(__file__).resolve().parents[1]


def _tiny_set(root: Path, n: int = 16, size: int = 48) -> Path:
    """n single-frame samples: a coloured square on grey whose tone pitch follows its colour."""
    import cv2

    rng = np.random.default_rng(0)
    samples = []
    for i in range(n):
        img = np.full((size, size, 3), 120, np.uint8)
        x, y, s = rng.integers(0, size // 2, 2).tolist() + [size // 3]
        colour = [(255, 0, 0), (0, 255, 0), (0, 0, 255)][i % 3]
        img[y : y + s, x : x + s] = colour
        (root / "frames").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / f"frames/{i}.png"), img[:, :, ::-1])
        t = np.arange(16000) / 16000
        write_wav(root / f"audio/{i}.wav", 0.5 * np.sin(2 * np.pi * (300 + 400 * (i % 3)) * t))
        frame = Frame(f"frames/{i}.png", 0.5, size, size, [[[x, y, x + s, y + s]]], onscreen=True)
        samples.append(Sample(f"s{i}", f"v{i}", "train" if i < n - 6 else "test", f"audio/{i}.wav", [frame]))
    write_manifest(root, samples, {"name": "tiny"})
    extract_dataset(root, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return _tiny_set(tmp_path_factory.mktemp("tiny"))


def _cfg(**over):
    base = {"data.frame_size": 48, "model.pretrained": False, "model.visual_width": 8, "model.audio_width": 4, "model.dim": 16,
            "model.attn_dim": 8, "model.k": 5, "train.epochs": 2, "train.batch_size": 4, "train.device": "cpu"}
    return get_profile("cpu").replace(**{**base, **over})


def _weights(run: Path) -> dict:
    return load_checkpoint(run / "latest.pth")["model"]


def test_two_seeded_runs_agree(tiny, tmp_path):
    h1 = train(_cfg(), tiny, tmp_path / "a", progress=False, log=lambda m: None)
    h2 = train(_cfg(), tiny, tmp_path / "b", progress=False, log=lambda m: None)
    assert [r["loss"] for r in h1] == [r["loss"] for r in h2]
    assert len(h1) == 2 and all(np.isfinite(r["loss"]) for r in h1)
    w1, w2 = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    h3 = train(_cfg(**{"train.seed": 1}), tiny, tmp_path / "c", progress=False, log=lambda m: None)
    assert [r["loss"] for r in h3] != [r["loss"] for r in h1]
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(l)["epoch"] for l in lines] == [1, 2]


def test_resume_equals_uninterrupted(tiny, tmp_path):
    full = train(_cfg(), tiny, tmp_path / "full", progress=False, log=lambda m: None)
    part = train(_cfg(), tiny, tmp_path / "cut", max_steps=1, progress=False, log=lambda m: None)
    assert part == []  # stopped inside the first epoch
    state = load_checkpoint(tmp_path / "cut" / "latest.pth")
    assert (state["epoch"], state["step"], state["finished"]) == (0, 1, False)
    resumed = train(_cfg(), tiny, tmp_path / "cut", resume=True, progress=False, log=lambda m: None)
    assert [r["loss"] for r in resumed[1:]] == [r["loss"] for r in full[1:]]
    w_full, w_cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(w_full[k], w_cut[k]) for k in w_full)


def test_run_folder_is_not_overwritten(tiny, tmp_path):
    train(_cfg(**{"train.epochs": 1}), tiny, tmp_path / "r", progress=False, log=lambda m: None)
    with pytest.raises(SSLPropError, match="already holds a checkpoint"):
        train(_cfg(**{"train.epochs": 1}), tiny, tmp_path / "r", progress=False, log=lambda m: None)
    with pytest.raises(SSLPropError, match="another method or configuration"):
        train(_cfg(**{"train.epochs": 1, "model.k": 3}), tiny, tmp_path / "r", resume=True, progress=False, log=lambda m: None)


def test_predict_writes_what_eval_reads(tiny, tmp_path):
    train(_cfg(**{"train.epochs": 1}), tiny, tmp_path / "r", progress=False, log=lambda m: None)
    info = predict(tmp_path / "r", tiny, tmp_path / "p", progress=False)
    assert info["frames"] == 6 and info["split"] == "test"
    boxes = json.loads((tmp_path / "p" / "boxes.json").read_text())
    assert sorted(boxes) == [f"s{i}" for i in range(10, 16)]
    for rows in boxes.values():
        assert 1 <= len(rows) <= 5 and all(len(r) == 5 for r in rows)
        scores = [r[4] for r in rows]
        assert scores == sorted(scores, reverse=True)
        assert all(0 <= r[0] <= r[2] <= 48 and 0 <= r[1] <= r[3] <= 48 for r in rows)
    two = json.loads((tmp_path / "p" / "two_sources.json").read_text())
    assert all(len(two[k]) == min(2, len(boxes[k])) and two[k][0] == boxes[k][0] for k in boxes)
    maps = np.load(tmp_path / "p" / "maps.npz")
    assert sorted(maps.files) == sorted(boxes) and maps["s10"].shape == (48, 48)
    on = json.loads((tmp_path / "p" / "onscreen.json").read_text())
    assert set(on["s10"]) == {"distance", "on_m", "d_on", "on_d", "on_or"}
    assert all(r["on_or"] == (r["on_d"] or r["on_m"]) and r["on_d"] == (r["d_on"] > 0.2) for r in on.values())


def test_two_sources_prefers_a_disjoint_box():
    boxes = torch.tensor([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30], [40, 40, 50, 50]], dtype=torch.float)
    assert two_sources(boxes) == [0, 2]
    overlapping = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [5, 5, 15, 15]], dtype=torch.float)
    assert two_sources(overlapping) == [0, 2]  # IoU 25/175 < 81/100
    assert two_sources(boxes[:1]) == [0]


def test_map_box_and_m_on_calibration():
    m = torch.zeros(8, 10)
    m[2:4, 3:7] = 1.0
    assert map_box(m, 0.5).tolist() == [3.0, 2.0, 7.0, 4.0]
    assert map_box(torch.ones(8, 10), 0.5).tolist() == [0.0, 0.0, 10.0, 8.0]
    f_v = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    f_s = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    pos, thr = calibrate_m_on(f_v, f_s, ["a", "b", "c", "d"], seed=0)
    assert pos.tolist() == [0.0, 0.0, 1.0, 0.0]
    neg_idx = __import__("sslprop.losses", fromlist=["x"]).negative_indices(["a", "b", "c", "d"], torch.Generator().manual_seed(0))
    neg = torch.linalg.vector_norm(f_v - f_s[neg_idx], dim=1)
    assert thr == pytest.approx(float((pos.median() + neg.median()) / 2))
    # negative distances as the loss formed them: NaN (no negative in its batch) left out
    given = torch.tensor([2.0, float("nan"), 4.0, 0.5])
    assert calibrate_m_on(f_v, f_s, ["a", "b", "c", "d"], neg_distance=given)[1] == pytest.approx((0.0 + 2.0) / 2)
    with pytest.raises(SSLPropError, match="no frame has a negative pair"):
        calibrate_m_on(f_v, f_s, ["a", "b", "c", "d"], neg_distance=torch.full((4,), float("nan")))


def test_ours_infer_pairs_each_frame_with_another_videos_audio(tiny):
    # neg_distance[i] is frame i localised with the audio of clip j (another video), against f_s of clip j:
    # the same numbers as running the model on frame i with clip j's audio as if it were its own
    cfg = _cfg()
    assert cfg.train.paired_negatives > 0
    method = get_method("ours")
    torch.manual_seed(0)
    model = method.build(cfg, None, None, lambda m: None).eval()
    ds = SSLDataset(tiny, "train", cfg.data, max_proposals=cfg.model.max_proposals)
    batch = collate([ds[i] for i in range(4)])
    with torch.no_grad():
        inf = method.infer(model, batch, cfg)
        j = negative_indices(batch["video_id"], torch.Generator().manual_seed(cfg.train.seed * 1_000_003 + int(batch["index"][0])))
        swapped = model(batch["frames"], batch["audio"][j], batch["proposals"])
    unit = lambda x: torch.nn.functional.normalize(x, dim=-1)
    expect = torch.linalg.vector_norm(unit(swapped.f_v) - unit(swapped.f_s), dim=-1).flatten()
    assert torch.allclose(inf.neg_distance, expect, atol=1e-5)
    assert not torch.allclose(inf.neg_distance, torch.linalg.vector_norm(unit(inf.f_v) - unit(inf.f_s), dim=-1))
    with torch.no_grad():  # one video in the batch: no negative, NaN
        one = method.infer(model, collate([ds[0]]), cfg)
    assert torch.isnan(one.neg_distance).all()


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
        train(_cfg(**{"train.epochs": 1}), tiny, tmp_path / "r", progress=False, log=lambda m: None)
    finally:
        os.umask(old)
    for name in ("latest.pth", "config.json", "metrics.jsonl"):
        assert (tmp_path / "r" / name).stat().st_mode & 0o777 == 0o644, name
