"""Helpers shared by the tests of several modules: small fixtures written in the real formats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from sslprop import cli
from sslprop.config import get_profile
from sslprop.data.audio import write_wav
from sslprop.data.format import Frame, ObjectAnn, Sample, write_manifest
from sslprop.data.proposals import extract_dataset
from sslprop.models.methods import get_method
from sslprop.models.model import build_model
from sslprop.models.negatives import StepContext

SMALL_NAMES = ("attention", "avol", "dmc")


def small_cfg(**over):
    base = {"data.frame_size": 32, "model.pretrained": False, "model.visual_width": 4, "model.audio_width": 4, "model.dim": 8,
            "train.epochs": 1, "train.batch_size": 4, "train.device": "cpu"}
    return get_profile("cpu").replace(**{**base, **over})


def small_batch(b: int = 4, n: int = 1, size: int = 32) -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "frames": torch.rand(b, n, 3, size, size, generator=g),
        "audio": torch.randn(b, n, 1, 96, 64, generator=g),
        "proposals": [torch.zeros(0, 4)] * (b * n),
        "video_id": [f"v{i}" for i in range(b)],
        "keys": [f"s{i}/{j}" for i in range(b) for j in range(n)],
    }


def build_small(name: str, cfg):
    torch.manual_seed(0)
    return get_method(name).build(cfg, None, None, lambda msg: None)


MAP_S = 48


def map_cfg(**over):
    base = {"data.frame_size": MAP_S, "model.pretrained": False, "model.visual_width": 8, "model.audio_width": 4, "model.dim": 16,
            "train.epochs": 1, "train.batch_size": 4, "train.device": "cpu", "train.lr": 1e-3}
    return get_profile("cpu").replace(**{**base, **over})


def map_batch(b: int = 6, n: int = 1, videos: list[str] | None = None) -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "frames": torch.rand(b, n, 3, MAP_S, MAP_S, generator=g),
        "audio": torch.randn(b, n, 1, 96, 64, generator=g) - 2.0,
        "proposals": [torch.zeros(0, 4)] * (b * n),
        "video_id": videos or [f"v{i}" for i in range(b)],
        "keys": [f"{i}/{j}" for i in range(b) for j in range(n)],
    }


def build_method(name: str, cfg):
    torch.manual_seed(0)
    method = get_method(name)
    return method, method.build(cfg, None, None, lambda msg: None)


def step_lowers_loss(method, model, batch, cfg, generator=lambda: torch.Generator().manual_seed(3)) -> tuple[float, float]:
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    before, _ = method.loss(model, batch, StepContext(generator()), cfg)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after, _ = method.loss(model, batch, StepContext(generator()), cfg)
    return float(before.detach()), float(after)


def run_eval(capsys, *argv):
    code = cli.main(["eval", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


S = 32  # frame size of the tiny config (feature grid 4 x 4 at stride 8)


TINY = {
    "data.frame_size": S,
    "data.n_mels": 16,
    "model.pretrained": False,
    "model.visual_width": 4,
    "model.audio_width": 4,
    "model.dim": 8,
    "model.attn_dim": 8,
    "model.use_lstm": True,  # the LSTM path is part of the model under test (the cpu profile leaves it out)
    "model.k": 5,
    "model.max_proposals": 40,
    "model.spp_levels": (1, 2),
}


def tiny_cfg(**overrides):
    return get_profile("cpu").replace(**{**TINY, **overrides})


def tiny_model(seed=0, **overrides):
    torch.manual_seed(seed)
    return build_model(tiny_cfg(**overrides), log=lambda msg: None)


def random_boxes(n, size, gen):
    """n integer-valued boxes xyxy inside a size x size frame, each at least 2 px wide and high."""
    xy = torch.randint(0, size - 2, (n, 2), generator=gen)
    wh = torch.randint(2, size, (n, 2), generator=gen)
    x2y2 = torch.minimum(xy + wh, torch.full_like(xy, size))
    return torch.cat([xy, x2y2], dim=1).to(torch.float32)


def model_batch(B, N, counts, seed=0, size=S, n_mels=16):
    gen = torch.Generator().manual_seed(seed)
    frames = torch.rand(B, N, 3, size, size, generator=gen)
    audio = torch.randn(B, N, 1, 96, n_mels, generator=gen)
    props = [random_boxes(c, size, gen) for c in counts]
    return frames, audio, props


# Five frames by hand. m_on: the stored decisions (on-screen where distance < 0.65). Labels: a, b, e on-screen; c, d off-screen.
RECORDS = {
    "a": {"d_on": 0.30, "distance": 0.40, "on_m": True},
    "b": {"d_on": 0.10, "distance": 0.50, "on_m": True},
    "c": {"d_on": 0.25, "distance": 0.90, "on_m": False},
    "d": {"d_on": 0.05, "distance": 0.80, "on_m": False},
    "e": {"d_on": 0.15, "distance": 0.95, "on_m": False},
}


LABELS = {"a": True, "b": True, "c": False, "d": False, "e": True}


def make_sequence() -> Sample:
    a0, b0 = ObjectAnn([0.0, 0.0, 10.0, 10.0], "A", True), ObjectAnn([20.0, 0.0, 30.0, 10.0], "B", False)
    frames = [
        Frame("frames/q/0.png", 0.5, 40, 40, [[a0.box]], [a0, b0], True),
        Frame("frames/q/1.png", 1.5, 40, 40, [], [ObjectAnn([20.0, 0.0, 30.0, 10.0], "B", True)], False),
        Frame("frames/q/2.png", 2.5, 40, 40, [], [], None),
    ]
    return Sample("q", "q", "test", "audio/q.wav", frames, ["A"], {"mode": "distance", "gains": [1.0, 0.5, 0.25]})


def tiny_set(root: Path, n: int = 16, size: int = 48, proposals: bool = True) -> Path:
    """n single-frame samples: a coloured square on grey whose tone pitch follows its colour (the last 6 are test)."""
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
    if proposals:
        extract_dataset(root, workers=1, progress=False)
    return root


def train_cfg(**over):
    base = {"data.frame_size": 48, "model.pretrained": False, "model.visual_width": 8, "model.audio_width": 4, "model.dim": 16,
            "model.attn_dim": 8, "model.k": 5, "train.epochs": 2, "train.batch_size": 4, "train.device": "cpu"}
    return get_profile("cpu").replace(**{**base, **over})
