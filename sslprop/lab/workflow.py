"""Notebook workflow: budgets, cached data sets, trained runs and predictions, and the small analyses the notebooks share.

Every notebook takes the same parameters (``profile``, ``data_root``, ``runs_root``,
``figures_dir``, ``seed``, ``device``, ``budget``) and asks this module for what it needs:

    data = ensure_dataset("scenes", data_root, budget, seed)      # generated once, proposals cached
    run = ensure_run("ours", data, runs_root, budget, seed)       # trained once (resumed if interrupted)
    preds = ensure_predictions(run, data)                         # `sslprop predict` output, once

Each call returns at once when its result is already on disk with the same settings, so
notebooks share data sets and runs: the first notebook that needs the `ours` run at
``budget="full"`` trains it, the next ones load it. A budget (`BUDGETS`) fixes the data
set sizes and the training length: ``smoke`` runs in seconds (CI), ``full`` is what
``make reproduce`` uses (minutes on a 2-core CPU for the whole paper).

Boxes are absolute pixels ``(x1, y1, x2, y2)`` everywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslprop.config import get_profile
from sslprop.data.format import read_info
from sslprop.data.proposal_cache import ProposalCache
from sslprop.data.proposals import extract_dataset
from sslprop.data.synth import generator
from sslprop.data.synth.generator import DEFAULT_TEST_FRACTION
from sslprop.data.synth.presets import LISTENING, PRESETS
from sslprop.engine.checkpoint import CHECKPOINT, data_fingerprint
from sslprop.engine.predict import predict
from sslprop.engine.train import train
from sslprop.errors import SSLPropError
from sslprop.models.losses import distance_ratio_loss
from sslprop.utils import atomic_write_json

STAMP = ".ensure.json"  # what `ensure_dataset` made in a data set folder, with which settings


@dataclass(frozen=True)
class Budget:
    """How much work a notebook does.

    sizes:      samples generated per preset (solo, mosaic, scenes, sequences)
    test_fractions: share of each preset's samples in its test split (`synth --test-fraction`; default 0.25)
    epochs:     training epochs of `ensure_run`
    batch_size: clips per optimiser step of `ensure_run`
    examples:   samples drawn per figure
    ks:         the K values of top-K analyses
    """

    name: str
    sizes: dict[str, int] = field(hash=False)
    epochs: int
    batch_size: int
    examples: int
    ks: tuple[int, ...] = (1, 5, 10, 20, 30)
    test_fractions: dict[str, float] = field(default_factory=dict, hash=False)

    def test_fraction(self, preset: str) -> float:
        return float(self.test_fractions.get(preset, DEFAULT_TEST_FRACTION.get(preset, 0.25)))


BUDGETS: dict[str, Budget] = {
    # seconds: enough samples for every split and figure to exist, one short epoch
    "smoke": Budget("smoke", {"solo": 16, "mosaic": 16, "scenes": 32, "sequences": 8, "listening": 6}, epochs=1, batch_size=16,
                    examples=2),
    # `make reproduce` on a 2-core CPU (pretrained frozen encoders): every table of notebooks 04-08 on at least 800
    # scored test frames per data set (scenes: 867 on-screen test frames at seed 0; sequences: all 2,720 frames of
    # its 340 clips, of which 1,280 in distance clips (Fig. 3) and 699 turns frames with both objects matched (Fig. 4))
    "full": Budget("full", {"solo": 1700, "mosaic": 1700, "scenes": 3700, "sequences": 340, "listening": 200}, epochs=8,
                   batch_size=32, examples=4, test_fractions={"solo": 0.5, "mosaic": 0.5, "scenes": 0.3}),
}


def get_budget(budget: str | Budget) -> Budget:
    """The named budget (`smoke` or `full`); a `Budget` passes through."""
    if isinstance(budget, Budget):
        return budget
    try:
        return BUDGETS[budget]
    except KeyError:
        raise SSLPropError(f"budget {budget!r}: unknown (choose from {', '.join(BUDGETS)})") from None


def _digest(obj: Any, n: int = 8) -> str:
    """Short stable hash of a JSON-able object (key-sorted)."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:n]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


# --------------------------------------------------------------------------------------- data sets


def ensure_dataset(
    preset: str,
    root: str | os.PathLike,
    budget: str | Budget,
    seed: int,
    size: int | None = None,
    frame_size: int | None = None,
    workers: int | None = None,
) -> Path:
    """The embedded-benchmark data set `preset` with its Selective Search proposals cached; made once.

    Args:
        preset: "solo", "mosaic", "scenes" or "sequences" (`sslprop.data.synth.presets.PRESETS`).
        root: folder holding the data sets (a notebook's ``data_root``).
        budget: "smoke" or "full"; sets the number of samples (`Budget.sizes`).
        seed: the generator's seed.
        size: number of samples, overriding the budget's.
        frame_size: frame side in pixels (default: the generator's, 96).
        workers: Selective Search processes (default: 1 for small sets, else every core).
    Returns:
        The data set folder ``root/<preset>-n<size>-s<seed>[-px<frame_size>]``. Calling again with
        the same settings reads one small stamp file and returns (no generation, no search).
        Proposals use `ProposalCache`'s defaults (fast mode, full frame, min size 4).
    """

    b = get_budget(budget)
    presets = PRESETS + (LISTENING,)
    if preset not in presets:
        raise SSLPropError(f"preset {preset!r}: unknown (choose from {', '.join(presets)})")
    n = int(size if size is not None else b.sizes[preset])
    fraction = b.test_fraction(preset)
    name = (f"{preset}-n{n}-s{seed}" + ("" if fraction == 0.25 else f"-t{round(100 * fraction)}")
            + ("" if frame_size is None else f"-px{frame_size}"))
    out = Path(root) / name
    cache = ProposalCache(out)
    settings = {
        "preset": preset,
        "n": n,
        "seed": seed,
        "frame_size": frame_size,
        "test_fraction": fraction,
        "generator_version": generator.GENERATOR_VERSION,
        "proposals": cache.key,
    }
    stamp = _read_json(out / STAMP)
    if stamp == settings and (out / "manifest.jsonl").is_file() and (cache.dir / "index.json").is_file():
        return out
    info = read_info(out) if out.is_dir() else {}
    wanted = {"preset": preset, "seed": seed, "num_samples": n, "generator_version": generator.GENERATOR_VERSION,
              "size": frame_size if frame_size is not None else generator.DEFAULT_SIZE[preset], "test_fraction": fraction}
    if any(info.get(k) != v for k, v in wanted.items()):
        generator.generate(preset, n, seed, out, size=frame_size, test_fraction=fraction, progress=False)
    workers = workers if workers is not None else (1 if n <= 64 else None)
    stats = extract_dataset(out, workers=workers, progress=False)
    if stats.failed:
        first = next(iter(stats.failed.values()))
        raise SSLPropError(f"{out}: Selective Search failed on {len(stats.failed)} frame(s), e.g. {first}")
    atomic_write_json(out / STAMP, settings)
    return out


# --------------------------------------------------------------------------------------- runs


def run_config(profile: str, budget: str | Budget, seed: int, device: str = "cpu", overrides: Mapping[str, Any] | None = None):
    """The `Config` of `ensure_run`: the profile, the budget's epochs and batch size, the seed and device, then `overrides`.

    overrides: dotted keys, e.g. {"model.scorer": "sum", "model.k": 10, "train.epochs": 3}.
    """

    b = get_budget(budget)
    base = {"train.epochs": b.epochs, "train.batch_size": b.batch_size, "train.seed": seed, "train.device": device}
    return get_profile(profile).replace(**{**base, **dict(overrides or {})})


def ensure_run(
    method: str,
    data: str | os.PathLike,
    runs_root: str | os.PathLike,
    budget: str | Budget,
    seed: int,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
    profile: str = "cpu",
    device: str = "cpu",
    log: Callable[[str], None] = lambda msg: None,
    max_samples: int | None = None,
) -> Path:
    """A finished training run of `method` on the train split of `data`; trained once, resumed if interrupted.

    Args:
        method: "ours" or a baseline's name (`sslprop.models.methods.METHODS`).
        data: a data set folder (e.g. from `ensure_dataset`).
        runs_root: folder holding the run folders (a notebook's ``runs_root``).
        budget, seed, overrides, profile, device: see `run_config`.
        name: run folder name; default ``<method>-<data folder>-<budget>-<hash of method, config, data>``,
            so that different settings never share a folder.
        log: where the trainer's messages go (default: nowhere).
        max_samples: train on the first N training samples only (Table 4's sizes); the folder is then
            ``<method>-<data folder>-<budget>-m<N>-<hash>`` and its marker records N.
    Returns:
        The run folder (config.json, latest.pth, metrics.jsonl). A finished run is returned after
        reading its checkpoint; an interrupted one continues from latest.pth to the same result
        as an uninterrupted run; a folder holding another configuration is an `SSLPropError`.
    """

    cfg = run_config(profile, budget, seed, device, overrides)
    data = Path(data)
    b = get_budget(budget)
    # the data set's content is part of what a run is: a set generated again (another generator version) is another run
    marker = {"method": method, "config": cfg.to_dict(), "data": data_fingerprint(data)}
    default = f"{method}-{data.name}-{b.name}-{_digest([method, cfg.to_dict(), data.name, marker['data']])}"
    if max_samples is not None:
        marker["max_samples"] = int(max_samples)
        default = f"{method}-{data.name}-{b.name}-m{max_samples}-{_digest([marker, data.name])}"
    folder = Path(runs_root) / (name or default)
    done = folder / ".finished.json"
    marker = json.loads(json.dumps(marker))  # as read back (tuples -> lists)
    if _read_json(done) == marker and (folder / CHECKPOINT).is_file():
        return folder
    train(cfg, data, folder, method=method, resume=(folder / CHECKPOINT).exists(), max_samples=max_samples,
          progress=False, log=log)

    atomic_write_json(done, marker)
    return folder


def training_summary(run: str | os.PathLike) -> dict[str, Any]:
    """What a trained `ours` run's log says about learning: its last epoch's L_tri beside chance.

    Returns {"run", "epochs", "training clips/s", "first L_tri", "last L_tri", "chance", "learned"}: chance is
    L_tri where the own and the other audio are equally far (d+ = d-, times N frames per clip),
    computed with the loss function itself; "learned" is True when the last L_tri is at least
    0.02 below it.
    """

    run = Path(run)
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    if not history or "tri" not in history[-1]:
        raise SSLPropError(f"{run}: no L_tri in metrics.jsonl (not an `ours` run?)")
    cfg = json.loads((run / "config.json").read_text())["config"]
    e1 = torch.tensor([[1.0, 0.0]])
    chance = cfg["data"]["num_frames"] * float(distance_ratio_loss(e1, e1 * 0.5, e1 * 0.5))
    last = float(history[-1]["tri"])
    return {"run": run.name, "epochs": len(history), "training clips/s": float(np.mean([h["clips_per_s"] for h in history])),
            "first L_tri": float(history[0]["tri"]), "last L_tri": last, "chance": chance, "learned": last <= chance - 0.02}


def ensure_predictions(
    run: str | os.PathLike,
    data: str | os.PathLike,
    split: str = "test",
    device: str = "cpu",
    log: Callable[[str], None] = lambda msg: None,
) -> Path:
    """`sslprop predict` of `run` on `split` of `data`, written once into ``run/predictions-<data>-<split>``.

    Returns the folder holding boxes.json, two_sources.json, maps.npz, onscreen.json and
    predictions.json (see `sslprop.engine.predict`); when predictions.json is there it is returned as is.
    """

    out = Path(run) / f"predictions-{Path(data).name}-{split}"
    if (out / "predictions.json").is_file():
        return out
    predict(run, data, out, split=split, device=device, progress=False, log=log)
    return out
