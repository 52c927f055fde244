"""Fig. 1's toy maps (centre, oracle, a discriminative part) and the GRM / proposal analyses of notebooks 02-03 (top-K recall, top-1 area)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torchvision.ops import box_iou

from sslprop.data.dataset import read_frame
from sslprop.data.format import read_manifest
from sslprop.data.proposal_cache import ProposalCache
from sslprop.errors import SSLPropError
from sslprop.lab.explore import sample_masks
from sslprop.lab.published import PAPER_TABLE3
from sslprop.ops.boxes import box_cells, box_iou_np, map_box
from sslprop.ops.grm import score_boxes, select_topk


def centre_map(size: int, sigma: float = 0.25) -> np.ndarray:
    """A reference location map with no learning: an isotropic Gaussian at the frame's centre.

    Returns float32 (size, size), peak 1, standard deviation `sigma` * size.
    """
    c = (np.arange(size, dtype=np.float64) + 0.5) / size - 0.5
    g = np.exp(-(c[:, None] ** 2 + c[None, :] ** 2) / (2 * sigma**2))
    return g.astype(np.float32)


def oracle_map(gt_boxes: np.ndarray, size: int) -> np.ndarray:
    """A reference location map from the ground truth: the annotators' boxes summed (a consensus map).

    gt_boxes: (G, 4) xyxy pixels of a size x size frame -> float32 (size, size) (zeros when G = 0).
    """

    m = np.zeros((size, size), dtype=np.float32)
    if len(gt_boxes):
        for x1, y1, x2, y2 in box_cells(torch.as_tensor(np.asarray(gt_boxes, dtype=np.float32)), size, size).tolist():
            m[y1:y2, x1:x2] += 1.0
    return m


def part_map(mask: np.ndarray, share: float = 0.3, blur: float = 2.0) -> np.ndarray:
    """A location map peaked on a discriminative part of an object (Fig. 1, weakness 1).

    The part is the top `share` of the object's mask rows (e.g. an animal's head), smoothed
    by a Gaussian of `blur` pixels. mask: bool (H, W) -> float32 (H, W), peak 1.
    """

    ys = np.nonzero(mask.any(axis=1))[0]
    if len(ys) == 0:
        raise SSLPropError("part_map: empty mask")
    cut = ys.min() + max(1, int(round(share * (ys.max() + 1 - ys.min()))))
    part = mask.copy()
    part[cut:] = False
    m = cv2.GaussianBlur(part.astype(np.float32), (0, 0), blur)
    return m / max(float(m.max()), 1e-12)


def blurred_map(masks: Sequence[np.ndarray], weights: Sequence[float], blur: float = 4.0) -> np.ndarray:
    """A smooth location map like those of map-based methods: sum_j weights[j] * Gaussian-blurred masks[j].

    masks: bool (H, W) object masks; weights: one per mask (e.g. 1 for the sounding object, 0.5 for a
    co-occurring silent one); each blurred mask is scaled to peak 1 before weighting, so a small object
    is not drowned by a large one. blur: the Gaussian's standard deviation in pixels. Returns float32 (H, W), peak 1.
    """

    if not masks or len(masks) != len(weights):
        raise SSLPropError(f"blurred_map: {len(masks)} masks for {len(weights)} weights (need equal, at least one)")
    parts = [cv2.GaussianBlur(mk.astype(np.float32), (0, 0), blur) for mk in masks]
    m = sum(w * p / max(float(p.max()), 1e-12) for p, w in zip(parts, weights))
    return (m / max(float(m.max()), 1e-12)).astype(np.float32)


@dataclass
class PartCase:
    """Fig. 1's first weakness on one real cut-out: a map peaked on a part, its box, and the proposals' best.

    image:         RGB uint8 (H, W, 3), the stored frame
    part_map:      float32 (H, W), peaked on the top of the sounding object (`part_map`)
    object_box:    the sounding object's exact box, xyxy pixels
    map_box:       the box a map-based method reads from `part_map` at `threshold` (`sslprop.ops.boxes.map_box`)
    map_iou:       IoU(map_box, object_box)
    proposals:     (K', 4) the top-K Selective Search proposals ranked on `part_map` by `scorer`
    proposal_box:  the one of them with the highest IoU with the object
    proposal_iou:  that IoU
    """

    sample_id: str
    label: str
    image: np.ndarray
    part_map: np.ndarray
    object_box: list[float]
    map_box: list[float]
    map_iou: float
    proposals: np.ndarray
    proposal_box: list[float]
    proposal_iou: float


def discriminative_part_case(root: str | os.PathLike, sample_id: str, k: int = 20, scorer: str = "mean",
                             threshold: float = 0.5, share: float = 0.3) -> PartCase:
    """Build a `PartCase` for the first sounding object of a generated single-frame sample (cached proposals)."""

    root = Path(root)
    sample = {s.id: s for s in read_manifest(root)}[sample_id]
    frame = sample.frames[0]
    j = next((i for i, o in enumerate(frame.objects) if o.sounding), None)
    if j is None:
        raise SSLPropError(f"{root}: sample {sample_id} has no sounding object in view")
    pm = part_map(sample_masks(root, sample_id)[0][j], share)
    obj = list(frame.objects[j].box)
    mbox = map_box(torch.from_numpy(pm), threshold).tolist()
    props = torch.from_numpy(ProposalCache(root).get(frame.path))  # (P, 4) stored-frame pixels
    top = select_topk([props], score_boxes(torch.from_numpy(pm)[None], [props], scorer), k)
    kept = top.boxes[0][top.mask[0]]  # (K', 4)
    ious = box_iou(kept, torch.tensor([obj]))[:, 0]  # (K',)
    best = int(torch.argmax(ious))
    return PartCase(sample_id, frame.objects[j].label, read_frame(root / frame.path), pm, obj, mbox,
                    box_iou_np(mbox, obj), kept.numpy(), kept[best].tolist(), float(ious[best]))


def mass_ratio(score_map: Any, box: Sequence[float]) -> float:
    """Mean of a map inside a box divided by its mean over the frame (1: no preference; > 1: the box is favoured).

    score_map: (H, W) Tensor or array, non-negative; box: xyxy pixels (covering at least one cell).
    """

    m = torch.as_tensor(np.asarray(score_map, dtype=np.float64))
    x1, y1, x2, y2 = box_cells(torch.tensor([[float(v) for v in box]]), m.shape[0], m.shape[1])[0].tolist()
    total = float(m.mean())
    return float(m[y1:y2, x1:x2].mean()) / total if total > 0 else float("nan")


def topk_recall(
    grms: Sequence[Any],
    proposals: Sequence[Any],
    gt: Sequence[Any],
    ks: Sequence[int],
    scorers: Sequence[str],
    iou: float = 0.5,
    per_frame: bool = False,
) -> dict[str, dict[int, Any]]:
    """How often the top K proposals by the GRM contain the annotated source, per scorer and K.

    Args:
        grms: per frame Tensor[H, W], a GRM (or any map: scorers rank on it).
        proposals: per frame Tensor[P_i, 4], xyxy pixels of the H x W grid.
        gt: per frame Tensor[G_i, 4], every annotator's box on the same grid; frames with G_i = 0
            (off-screen) are left out.
        ks: the K values; scorers: names from `sslprop.ops.grm.SCORERS`.
        iou: a proposal contains the source when its IoU with any annotator's box is at least this.
        per_frame: return, instead of each share, the per-frame 0/1 outcomes it is the mean of (a list
            over the annotated frames, in order), e.g. for bootstrap intervals.
    Returns:
        {scorer: {K: recall}} over the annotated frames, plus {"all": {0: share of frames where ANY
        proposal reaches `iou`}}, the upper bound every K approaches.
    """

    keep = [i for i, g in enumerate(gt) if len(g)]
    if not keep:
        raise SSLPropError("topk_recall: no frame has an annotated source")
    g_maps = torch.stack([torch.as_tensor(grms[i]).float() for i in keep])  # (F, H, W)
    props = [torch.as_tensor(proposals[i]).float().reshape(-1, 4) for i in keep]
    hits = [box_iou(p, torch.as_tensor(gt[i]).float()).amax(dim=1) >= iou if len(p) else torch.zeros(0, dtype=torch.bool)
            for p, i in zip(props, keep)]  # per frame (P_i,)
    result: dict[str, dict[int, float]] = {}
    for scorer in scorers:
        scores = score_boxes(g_maps, props, scorer)
        top = select_topk(props, scores, max(ks))
        row = {}
        for k in ks:
            found = [float(h[top.index[f, :k][top.mask[f, :k]]].any()) for f, h in enumerate(hits)]
            row[int(k)] = found if per_frame else sum(found) / len(found)
        result[scorer] = row
    anyhit = [float(h.any()) for h in hits]
    result["all"] = {0: anyhit if per_frame else sum(anyhit) / len(anyhit)}
    return result


def top1_area(grms: Sequence[Any], proposals: Sequence[Any], scorer: str) -> list[float]:
    """Area of each frame's best proposal under `scorer`, as a share of the frame (1.0: the whole frame).

    grms: per frame Tensor[H, W]; proposals: per frame Tensor[P_i, 4] xyxy pixels of that grid (P_i >= 1).
    """

    g = torch.stack([torch.as_tensor(m).float() for m in grms])  # (F, H, W)
    props = [torch.as_tensor(p).float().reshape(-1, 4) for p in proposals]
    top = select_topk(props, score_boxes(g, props, scorer), 1).boxes[:, 0].double()  # (F, 4)
    area = ((top[:, 2] - top[:, 0]) * (top[:, 3] - top[:, 1])) / (g.shape[1] * g.shape[2])  # (F,)
    return [float(a) for a in area]


def k_beside_paper(recall: Any, scorer: str) -> list[dict[str, Any]]:
    """Notebook 03's K table, every number in percent: our top-K recall of one row of the recall table (`recall`:
    {"K=<k>": share, "K=<k> low" / "K=<k> high": its interval, ...}, e.g. the trained GRM with the run's `scorer`)
    beside the paper's Table 3 cIoU@0.5 and AUC of the whole model at K = 10, 20, 30 (`published.PAPER_TABLE3`).

    A K that `recall` lacks gets None ('-'). Column names carry the unit.
    """

    ours = f"top-K recall, trained GRM, {scorer} (ours, %)"
    rows = []
    for r in PAPER_TABLE3:
        m = re.fullmatch(r"Ours \(K=(\d+)\)", r["variant"])
        if m is None:
            continue
        k = int(m.group(1))
        row: dict[str, Any] = {"K": k, ours: None if recall.get(f"K={k}") is None else 100.0 * float(recall[f"K={k}"])}
        if recall.get(f"K={k} low") is not None and recall.get(f"K={k} high") is not None:
            row[f"{ours} low"], row[f"{ours} high"] = 100.0 * float(recall[f"K={k} low"]), 100.0 * float(recall[f"K={k} high"])
        row["cIoU@0.5 (paper, Table 3, %)"] = r["cIoU@0.5"]
        row["AUC (paper, Table 3, %)"] = r["AUC"]
        rows.append(row)
    return rows
