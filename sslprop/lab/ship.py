"""The shipped checkpoint: the main `ours` run of `make reproduce`, exported small, with its card.

    python -m sslprop.lab.ship            # (make ship) after make reproduce: data/, runs/ and figures/ hold its run

The run is the one every notebook shares (`workflow.ensure_run("ours", <scenes at budget full>)`,
seed 0); it is looked up, never trained here unless it is missing. The card records what it was
trained on, the command that reproduces it, its scores from figures/, the m_on threshold its
predictions were calibrated with (used by `sslprop localize` on a single video), and what it can
and cannot be expected to find.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from sslprop.data.format import read_info
from sslprop.engine.checkpoint import export_run
from sslprop.engine.localize import SHIPPED_RUN
from sslprop.errors import SSLPropError, one_line_errors
from sslprop.lab import workflow as wf
from sslprop.models.weights import WEIGHTS_DIR

LIMITS = (
    "Trained self-supervised on the embedded benchmark's `scenes` preset (Tux Paint photo cut-outs of 72 object "
    "classes with their recordings, pasted on photo backgrounds, 192 px frames seen at 96 px) with the cpu profile's small "
    "encoders, pretrained with labels on the same classes and frozen. It finds those objects when they sound; "
    "on real videos it has never seen real-world sound sources: its boxes show how the method behaves, not what a "
    "model trained on real data would find. For real data, train the paper profile (VGG16 + VGGish) on it."
)


def _row(path: Path, key: str, value: str) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row[key] == value:
                return row
    raise SSLPropError(f"{path}: no row {key} = {value!r}")


def card_for(run: Path, data: Path, predictions: Path, figures: Path) -> dict[str, Any]:
    """The card of the main run: data, command, scores (from figures/), thresholds, limits, licence."""

    info = json.loads((predictions / "predictions.json").read_text(encoding="utf-8"))
    ds = read_info(data)
    cfg = json.loads((run / "config.json").read_text(encoding="utf-8"))["config"]
    synth_cmd = (f"python -m sslprop synth --preset {ds['preset']} --n {ds['num_samples']} --seed {ds['seed']} "
                 f"--test-fraction {ds['test_fraction']} --out DATA")
    t2 = _row(figures / "06_table2.csv", "method", "Ours")
    t1 = {r: _row(figures / "05_table1_scenes.csv", "criterion", r)["accuracy"] for r in ("m_on", "d_on", "m_on || d_on")}
    return {
        "name": "ours_scenes",
        "what": "the main `ours` run of make reproduce (cpu profile), the checkpoint `sslprop localize` uses without --run",
        "trained_on": {"data": data.name, "split": "train", "samples": ds["splits"], "generated_by": synth_cmd},
        "command": (f"{synth_cmd}; python -m sslprop proposals DATA; python -m sslprop train --data DATA --out RUN "
                    f"--epochs {cfg['train']['epochs']} --batch-size {cfg['train']['batch_size']} --seed {cfg['train']['seed']}"
                    " (make reproduce trains it as the notebooks' main run; make ship exports it)"),
        "run": run.name,
        "scores_on_its_test_split": {
            "scenes cIoU@0.5 (lvs, percent)": float(t2["scenes cIoU@0.5"]), "scenes AUC (percent)": float(t2["scenes AUC"]),
            "Table 1 accuracy": {k: float(v) for k, v in t1.items()},
            "frames": info["frames"], "source": "figures/06_table2.csv, figures/05_table1_scenes.csv",
        },
        "m_on_threshold": info["m_on_threshold"], "m_on_calibration": info["m_on_calibration"],
        "d_on_threshold": info["d_on_threshold"],
        "can_and_cannot": LIMITS,
        "licence": "GPL-2.0-or-later (trained on the GPL-2-or-later Tux Paint stamps; see sslprop/weights/README.md)",
    }


def ship(data_root: str = "data", runs_root: str = "runs", figures: str = "figures", out: str | None = None,
         device: str = "cpu", budget: str = "full") -> dict[str, Any]:
    """Export the main run into sslprop/weights/ (or `out`) with its card; returns the card."""

    data = wf.ensure_dataset("scenes", data_root, budget, 0)
    run = wf.ensure_run("ours", data, runs_root, budget, 0, device=device)
    predictions = wf.ensure_predictions(run, data, "test", device=device)
    card = card_for(run, data, predictions, Path(figures))
    return export_run(run, Path(out) if out else WEIGHTS_DIR / SHIPPED_RUN, card)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sslprop.lab.ship", description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default="data")
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--figures", default="figures")
    p.add_argument("--out", help="default: sslprop/weights/ours_scenes.pt")
    p.add_argument("--budget", default="full", help="the notebooks' budget whose main run is exported (default full)")
    args = p.parse_args(argv)

    def run() -> str:
        card = ship(args.data_root, args.runs_root, args.figures, args.out, budget=args.budget)
        return f"shipped {card['run']}: {card['bytes']} bytes, sha256 {card['sha256'][:16]}..., m_on threshold {card['m_on_threshold']}"

    return one_line_errors(run)


if __name__ == "__main__":
    raise SystemExit(main())
