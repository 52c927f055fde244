"""Run folders and checkpoint files: what `train` writes and what `predict`, `localize`, `probe` and the notebooks read.

A run folder's checkpoint is `CHECKPOINT` (latest.pth: model, optimiser, progress, history, config), written
atomically by `save_checkpoint` and read by `load_checkpoint`; `export_run` writes a finished run as one small
file (what `sslprop localize` ships), and `load_run` reads either into (method, model, config, state).
The model a checkpoint's weights load into is the one `build_method_model` builds from its method and config
(frozen encoders are wrapped, which names their weights), so the trainer builds its model here too.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sslprop.config import Config
from sslprop.data.format import MANIFEST
from sslprop.errors import SSLPropError
from sslprop.models.frozen import freeze_encoders
from sslprop.models.methods import Method, get_method
from sslprop.models.weights import card_path
from sslprop.utils import atomic_write_bytes, atomic_write_json, sha256_file

CHECKPOINT = "latest.pth"
CHECKPOINT_VERSION = 1
EXPORT_VERSION = 1  # of the small files `export_run` writes (what `sslprop localize` ships)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """torch.save `state` to `path` atomically (an interrupted write leaves the previous file)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`; a clear error when it is missing or not one."""
    path = Path(path)
    if not path.is_file():
        raise SSLPropError(f"{path}: no checkpoint here")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # a truncated or foreign file: one clear line
        raise SSLPropError(f"{path}: not a readable sslprop checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION or "model" not in state:
        raise SSLPropError(f"{path}: not an sslprop checkpoint (version {CHECKPOINT_VERSION})")
    return state


def export_run(run: str | os.PathLike, out: str | os.PathLike, card: dict[str, Any]) -> dict[str, Any]:
    """Write a finished run as one small file (method, config, model weights; no optimiser) and its card ``out.json``.

    `card` is merged into what is recorded (method, config, sha256, bytes); returns the card.
    `load_run` reads the file as it reads a run folder.
    """
    state = load_checkpoint(Path(run) / CHECKPOINT)
    small = {"version": EXPORT_VERSION, "kind": "sslprop-export", "method": state["method"], "config": state["config"],
             "model": {k: v.detach().cpu().clone() for k, v in state["model"].items()}}
    buf = io.BytesIO()
    torch.save(small, buf)
    atomic_write_bytes(out, buf.getvalue())
    full = {**card, "method": state["method"], "config": state["config"], "sha256": sha256_file(out),
            "bytes": Path(out).stat().st_size}
    atomic_write_json(card_path(out), full)
    return full


def _load_export(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise SSLPropError(f"{path}: not a readable sslprop checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("kind") != "sslprop-export" or state.get("version") != EXPORT_VERSION:
        raise SSLPropError(f"{path}: not an exported sslprop checkpoint (version {EXPORT_VERSION})")
    return state


def load_run(run: str | os.PathLike, device: str | torch.device = "cpu",
             log: Callable[[str], None] = print) -> tuple[Method, torch.nn.Module, Config, dict[str, Any]]:
    """(method, model in eval mode, config, checkpoint) of a run folder's `latest.pth`, or of a file `export_run` wrote."""
    path = Path(run)
    if path.is_file():
        state = _load_export(path)
    elif path.is_dir() or not path.exists():
        state = load_checkpoint(path / CHECKPOINT)
    else:
        raise SSLPropError(f"{path}: no run folder or exported checkpoint here")
    cfg = Config.from_dict(state["config"])
    method = get_method(state["method"])
    # the weights come from the checkpoint: no pretrained file is read (nor downloaded) to be overwritten
    model = build_method_model(method, cfg.replace(**{"model.pretrained": False}), None, None, lambda msg: None)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return method, model, cfg, state


def build_method_model(method: Method, cfg: Config, visual_weights: str | None, audio_weights: str | None,
                       log: Callable[[str], None]) -> torch.nn.Module:
    """`method.build(...)`, with its encoders wrapped as `FrozenEncoder`s when `train.freeze_encoders` is set."""
    model = method.build(cfg, visual_weights, audio_weights, log)
    return freeze_encoders(model) if cfg.train.freeze_encoders else model


def data_fingerprint(data: str | os.PathLike) -> str:
    """sha256 of a data set's manifest: what a checkpoint records of its data, so that `--resume` refuses other data."""
    path = Path(data) / MANIFEST
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
