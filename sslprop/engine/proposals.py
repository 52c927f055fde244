"""`python -m sslprop proposals DIR`: fill a data set's Selective Search cache, or print its bag statistics.

    python -m sslprop proposals DIR                      # Selective Search on every frame (resumable)
    python -m sslprop proposals DIR --stats              # proposals per frame, share that hit a sounding object
    python -m sslprop proposals DIR --stats --run RUN    # the same for the top-K bag that a trained run keeps

The search and its cache are `sslprop.data.proposals` and `sslprop.data.proposal_cache`; the statistics
`sslprop.data.bags`. This module sits in `engine` because ``--run`` loads a trained model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from sslprop.argtypes import positive_int
from sslprop.data.bags import BagStats, bag_stats, dataset_bag_stats, truth_of
from sslprop.data.dataset import SSLDataset, collate
from sslprop.data.proposal_cache import SS_MODES, ProposalCache
from sslprop.data.proposals import extract_dataset
from sslprop.engine.checkpoint import load_run
from sslprop.errors import SSLPropError
from sslprop.models.frozen import attach_caches, detach_caches
from sslprop.ops.boxes import rescale_boxes
from sslprop.utils import resolve_device


def selected_bags(run: str | os.PathLike, data: str | os.PathLike, split: str = "test", device: str | None = None,
                  batch_size: int | None = None, progress: bool = True,
                  log: Callable[[str], None] = lambda msg: None) -> dict[str, np.ndarray]:
    """{frame key: (K', 4) boxes} the proposals a trained run keeps on each frame of `split` (its top K), in
    absolute pixels of the stored frame. The run must be a proposal method (`ours`)."""

    dev = resolve_device(device)
    method, model, cfg, _ = load_run(run, dev, log)
    if not method.needs_proposals:
        raise SSLPropError(f"{run}: method {method.name} keeps no proposals (a map method): --run needs an `ours` run")
    ds = SSLDataset(data, None if split == "all" else split, cfg.data, with_proposals=True, max_proposals=cfg.model.max_proposals)
    loader = DataLoader(ds, batch_size=batch_size or cfg.train.batch_size, shuffle=False, collate_fn=collate)
    if cfg.train.freeze_encoders:
        attach_caches(model, data, cfg.data)
    S = cfg.data.frame_size
    out: dict[str, np.ndarray] = {}
    try:
        with torch.no_grad():
            for batch in tqdm(loader, desc=f"top-{cfg.model.k} bags", disable=not progress, leave=False):
                inf = method.infer(model, batch, cfg)
                frames = [ds.samples[ds.items[int(i)].sample].frames[f] for i in batch["index"] for f in ds.items[int(i)].frames]
                for j, (key, frame) in enumerate(zip(batch["keys"], frames)):
                    kept = inf.boxes[j].float().cpu()[inf.mask[j].cpu()]
                    out[key] = rescale_boxes(kept, (S, S), (frame.height, frame.width)).numpy()
    finally:
        detach_caches(model)
    return out


def run_bag_stats(run: str | os.PathLike, data: str | os.PathLike, split: str = "test", device: str | None = None,
                  progress: bool = True) -> BagStats:
    """`BagStats` of the top-K bags a trained run keeps on `split` of `data`."""
    bags = selected_bags(run, data, split, device, progress=progress)
    return bag_stats(bags, truth_of(data, split), what=f"the top-K bag of {Path(run).name} ({split} split)")


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, help="data set folder (with manifest.jsonl)")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument("--mode", choices=SS_MODES, default="fast", help="Selective Search strategy (default: fast)")
    parser.add_argument("--max-side", type=positive_int, default=None, help="downscale frames whose longer side exceeds this before the search "
                        "(boxes are scaled back)")
    parser.add_argument("--min-size", type=positive_int, default=4, help="drop boxes narrower or shorter than this many pixels (default: 4)")
    parser.add_argument("--k", type=positive_int, default=20, help="report frames with fewer than K proposals (default: 20)")
    parser.add_argument("--stats", action="store_true",
                        help="print bag statistics of the cached proposals instead of searching: proposals per frame (median, "
                             "5th and 95th percentile), the share that hit a sounding object (IoU >= 0.5), frames with a hit")
    parser.add_argument("--run", type=Path, default=None, help="with --stats: also the top-K bag this trained run keeps")
    parser.add_argument("--split", choices=["train", "test", "all"], default=None,
                        help="with --stats: frames counted (default: all for the cache, test for --run)")
    parser.add_argument("--device", default=None, help="with --run: cpu, cuda, cuda:N or auto")
    parser.add_argument("--json", action="store_true", help="with --stats: print JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _stats(args: argparse.Namespace) -> dict[str, Any]:
    cache = ProposalCache(args.dir, args.mode, args.max_side, args.min_size)
    report: dict[str, Any] = {"data": str(args.dir), "proposals": cache.key,
                              "cached": dataset_bag_stats(args.dir, args.split or "all", cache).to_json()}
    if args.run is not None:
        report["selected"] = run_bag_stats(args.run, args.dir, args.split or "test", args.device, progress=not args.no_progress).to_json()
    return report


def main(args: argparse.Namespace) -> int:
    """Fill the cache (exit status 1 if any frame failed, listed in report.json), or print bag statistics."""
    if args.run is not None and not args.stats:
        raise SSLPropError("--run: bag statistics of a run need --stats")
    if args.stats:
        report = _stats(args)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(BagStats(**report["cached"]).summary())
            if "selected" in report:
                print(BagStats(**report["selected"]).summary())
        return 0
    stats = extract_dataset(
        args.dir,
        workers=args.workers,
        mode=args.mode,
        max_side=args.max_side,
        k=args.k,
        progress=not args.no_progress,
        min_size=args.min_size,
    )
    print(stats.summary())
    if stats.failed:
        for reason in list(stats.failed.values())[:5]:
            print(f"failed: {reason}", file=sys.stderr)
        more = f" ({len(stats.failed) - 5} more)" if len(stats.failed) > 5 else ""
        print(f"{len(stats.failed)} frames failed{more}; all are listed in {Path(stats.cache_dir) / 'report.json'}", file=sys.stderr)
        return 1
    return 0
