"""Proposal bag statistics: how many proposals a frame has, and how many of them hit a sounding object.

The paper's Proposal Selection Network keeps K = 20 of a frame's Selective Search proposals; on real
photos that is 1-4 % of the bag (about 500-2,000 proposals). These numbers say whether a data set gives
selection something to select from: proposals per frame (median, 5th and 95th percentile), the share of
proposals that hit a sounding object (IoU >= 0.5 with its box), and the share of frames where at least one
does. `python -m sslprop proposals DATA --stats` prints them for the cached bags, and with ``--run RUN`` for
the top-K bag that a trained run keeps (`sslprop.engine.proposals`).

Boxes are absolute pixels ``(x1, y1, x2, y2)`` of the stored frame.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.ops import box_iou

from sslprop.data.format import Frame, frame_key, read_manifest
from sslprop.data.proposal_cache import ProposalCache, check_relpath
from sslprop.errors import SSLPropError

HIT_IOU = 0.5  # a proposal hits a sounding object when their IoU reaches this


def sounding_boxes(frame: Frame) -> list[list[float]]:
    """The boxes of what sounds in a frame: its sounding objects' boxes when objects are known (the embedded
    benchmark), else every annotator's boxes (real data sets); [] for a frame without ground truth."""
    boxes = [list(o.box) for o in frame.objects if o.sounding]
    if boxes:
        return boxes
    return [list(b) for ann in frame.annotators for b in ann]


def hits(boxes: np.ndarray, truth: list[list[float]], iou: float = HIT_IOU) -> np.ndarray:
    """bool (P,): which of `boxes` (P, 4) reach IoU >= `iou` with any of the `truth` boxes."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0 or not truth:
        return np.zeros(len(boxes), dtype=bool)
    overlap = box_iou(torch.from_numpy(boxes), torch.tensor(truth, dtype=torch.float32))  # (P, T)
    return (overlap >= iou).any(dim=1).numpy()


@dataclass
class BagStats:
    """Statistics of the proposal bags of a set of frames.

    frames:          frames counted
    median, p5, p95, mean: proposals per frame
    scored_frames:   frames with a sounding object (the rest have no hit to count: off-screen, unannotated)
    hit_share:       of the proposals of the scored frames, the share that hit a sounding object
    frames_with_hit: of the scored frames, the share with at least one hit
    what:            what was counted ("cached bags" or "the top-K bag of RUN")
    """

    frames: int
    median: float
    p5: float
    p95: float
    mean: float
    scored_frames: int
    hit_share: float
    frames_with_hit: float
    what: str = "cached bags"

    def summary(self) -> str:
        """A few lines for the terminal."""
        return (f"{self.what}: {self.frames} frames; proposals per frame median {self.median:.0f} "
                f"(5th-95th percentile {self.p5:.0f}-{self.p95:.0f}, mean {self.mean:.1f})\n"
                f"{self.scored_frames} frames with a sounding object: {100 * self.hit_share:.1f} % of their proposals hit it "
                f"(IoU >= {HIT_IOU}), {100 * self.frames_with_hit:.1f} % of them have at least one hit")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def bag_stats(bags: Mapping[str, np.ndarray], truth: Mapping[str, list[list[float]]], what: str = "cached bags") -> BagStats:
    """`BagStats` of `bags` ({key: (P, 4) boxes}) against `truth` ({key: sounding boxes}, [] or absent: not scored)."""
    if not bags:
        raise SSLPropError("no frame to count proposals of")
    counts = np.array([len(b) for b in bags.values()], dtype=np.float64)
    total = hit = scored = with_hit = 0
    for key, boxes in bags.items():
        gt = truth.get(key) or []
        if not gt:
            continue
        h = hits(boxes, gt)
        scored += 1
        total += len(h)
        hit += int(h.sum())
        with_hit += bool(h.any())
    return BagStats(
        frames=len(counts), median=float(np.median(counts)), p5=float(np.percentile(counts, 5)),
        p95=float(np.percentile(counts, 95)), mean=float(counts.mean()), scored_frames=scored,
        hit_share=hit / total if total else float("nan"), frames_with_hit=with_hit / scored if scored else float("nan"),
        what=what)


def truth_of(root: str | os.PathLike, split: str = "all") -> dict[str, list[list[float]]]:
    """{frame key: sounding boxes} of a data set's frames (`split`: "train", "test" or "all")."""
    out = {}
    for sample in read_manifest(root):
        if split != "all" and sample.split != split:
            continue
        for n, frame in enumerate(sample.frames):
            out[frame_key(sample.id, n, len(sample.frames))] = sounding_boxes(frame)
    return out


def cached_bags(root: str | os.PathLike, split: str = "all", cache: ProposalCache | None = None) -> dict[str, np.ndarray]:
    """{frame key: (P, 4) boxes} of a data set's frames from its proposal cache (a missing entry names the command)."""
    cache = cache if cache is not None else ProposalCache(root)
    if not cache.dir.is_dir():
        raise SSLPropError(f"{Path(root)}: no proposals cached in {cache.dir} (run `{cache.command()}` first)")
    out = {}
    for sample in read_manifest(root):
        if split != "all" and sample.split != split:
            continue
        for n, frame in enumerate(sample.frames):
            out[frame_key(sample.id, n, len(sample.frames))] = cache.get(check_relpath(frame.path))
    return out


def dataset_bag_stats(root: str | os.PathLike, split: str = "all", cache: ProposalCache | None = None) -> BagStats:
    """`BagStats` of the cached Selective Search bags of a data set (every frame of `split`)."""
    return bag_stats(cached_bags(root, split, cache), truth_of(root, split))
