"""The global response map (GRM), the scoring of proposals on it and the top-K selection with a mask (paper Sec. 3.2-3.3)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from sslprop.errors import SSLPropError
from sslprop.ops.boxes import box_cells

SCORERS = ("sum", "mean", "soft_iou")  # the proposal scorers: config's choices, `train --scorer`, the widgets all read this


def check_scorer(scorer: str) -> str:
    """`scorer` when it names one of `SCORERS`; a one-line SSLPropError listing them otherwise."""
    if scorer not in SCORERS:
        raise SSLPropError(f"unknown proposal scorer {scorer!r} (choose from {', '.join(SCORERS)})")
    return scorer


def grm(location_map: Tensor) -> Tensor:
    """The global response map g = (m - min m) / max m of paper Sec. 3.3, as printed, per frame.

    Args:
        location_map: Tensor[B, H, W], the location map m_n of each frame (the attention
            weights upsampled to the frame; non-negative in our model).
    Returns:
        Tensor[B, H, W]. A frame whose maximum is 0 (an all-zero map) gives zeros instead of
        a division by zero. The formula divides by max m, not by max m - min m, so g lies in
        [0, 1 - min m / max m] for a non-negative map; a positive scale of g changes neither
        the `sum` nor the `mean` ranking of proposals. (A map whose maximum is negative would
        flip the sign, as the printed formula does; softmax-weighted maps never are.)
    """

    if location_map.dim() != 3:
        raise SSLPropError(f"grm: location_map must be Tensor[B, H, W], got shape {tuple(location_map.shape)}")
    lo = location_map.amin(dim=(1, 2), keepdim=True)  # (B, 1, 1)
    hi = location_map.amax(dim=(1, 2), keepdim=True)  # (B, 1, 1)
    zero = hi == 0
    safe = torch.where(zero, torch.ones_like(hi), hi)  # keeps the gradient finite where max == 0
    return torch.where(zero, torch.zeros_like(location_map), (location_map - lo) / safe)


def _acc_dtype(device: torch.device) -> torch.dtype:
    """float64 for the integral image (exact box sums on 224 x 224 maps), float32 where float64 is missing."""

    return torch.float32 if device.type == "mps" else torch.float64


def score_boxes(g: Tensor, boxes: list[Tensor], scorer: str) -> list[Tensor]:
    """Confidence of each proposal from the GRM, with a named scorer.

    Args:
        g: Tensor[B, H, W], the GRM of each frame (see `grm`), on the grid of the boxes.
        boxes: B tensors Tensor[P_i, 4], absolute pixels (x1, y1, x2, y2) of the H x W grid.
            A box covers the cells [floor(x1), ceil(x2)) x [floor(y1), ceil(y2)) clamped to
            the grid, at least one cell (`box_cells`).
        scorer: "sum": the GRM accumulated inside the box, as printed in the paper (it grows
            with the area, so the whole-frame box always wins);
            "mean": that sum divided by the box area in cells;
            "soft_iou": inside / (total + area - inside), a soft IoU between the box and the
            GRM, computed on the GRM min-max normalised per frame to [0, 1]
            (g' = (g - min g) / (max g - min g), zeros for a constant map); it lies in [0, 1].
    Returns:
        B tensors Tensor[P_i] in g's dtype, differentiable in g. Box sums come from one
        integral image per frame (cost O(HW + P)), accumulated in float64 (float32 on MPS).
    """
    check_scorer(scorer)
    if g.dim() != 3:
        raise SSLPropError(f"score_boxes: g must be Tensor[B, H, W], got shape {tuple(g.shape)}")
    if len(boxes) != g.shape[0]:
        raise SSLPropError(f"score_boxes: {len(boxes)} box sets for {g.shape[0]} maps")
    B, H, W = g.shape
    acc = g.to(_acc_dtype(g.device))
    if scorer == "soft_iou":
        lo = acc.amin(dim=(1, 2), keepdim=True)  # (B, 1, 1)
        span = acc.amax(dim=(1, 2), keepdim=True) - lo
        flat = span == 0
        acc = torch.where(flat, torch.zeros_like(acc), (acc - lo) / torch.where(flat, torch.ones_like(span), span))
    integral = torch.nn.functional.pad(acc.cumsum(1).cumsum(2), (1, 0, 1, 0))  # (B, H+1, W+1)
    flat_int = integral.reshape(-1)  # (B * (H+1) * (W+1),)
    counts = [len(b) for b in boxes]
    if sum(counts) == 0:
        return [torch.zeros(0, dtype=g.dtype, device=g.device) for _ in boxes]
    all_boxes = torch.cat([b.reshape(-1, 4).to(device=g.device, dtype=torch.float64) for b in boxes])  # (sum P, 4)
    frame = torch.repeat_interleave(torch.arange(B, device=g.device), torch.tensor(counts, device=g.device))  # (sum P,)
    x1, y1, x2, y2 = box_cells(all_boxes, H, W).unbind(1)
    base = frame * (H + 1) * (W + 1)

    def at(y: Tensor, x: Tensor) -> Tensor:
        return flat_int[base + y * (W + 1) + x]

    inside = at(y2, x2) - at(y1, x2) - at(y2, x1) + at(y1, x1)  # (sum P,)
    area = ((x2 - x1) * (y2 - y1)).to(acc.dtype)
    if scorer == "sum":
        score = inside
    elif scorer == "mean":
        score = inside / area
    else:
        total = integral[:, H, W][frame]  # (sum P,)
        score = inside / (total + area - inside)
    return list(score.to(g.dtype).split(counts))


class TopK(NamedTuple):
    """The K most confident proposals of each frame, padded and masked.

    boxes:  Tensor[B, K, 4], absolute pixels xyxy, zeros where missing
    mask:   Tensor[B, K] bool, the paper's e: True where the proposal exists
    index:  Tensor[B, K] long, position in the frame's input proposals, -1 where missing
    scores: Tensor[B, K], the proposals' scores (differentiable), 0 where missing
    """

    boxes: Tensor
    mask: Tensor
    index: Tensor
    scores: Tensor


def select_topk(boxes: list[Tensor], scores: list[Tensor], k: int) -> TopK:
    """Keep the top `k` proposals of each frame by score; ties go to the lower index.

    Args:
        boxes: B tensors Tensor[P_i, 4], absolute pixels xyxy.
        scores: B tensors Tensor[P_i] (e.g. from `score_boxes`).
        k: K, proposals kept per frame. A frame with fewer than K proposals (or none) is
            padded with zero boxes and mask False.
    Returns:
        `TopK`, slots ordered by decreasing score.
    """

    if k < 1:
        raise SSLPropError(f"select_topk: k must be at least 1, got {k}")
    if len(boxes) != len(scores):
        raise SSLPropError(f"select_topk: {len(boxes)} box sets but {len(scores)} score sets")
    for i, (b, s) in enumerate(zip(boxes, scores)):
        if len(b) != len(s):
            raise SSLPropError(f"select_topk: frame {i} has {len(b)} boxes but {len(s)} scores")
    B = len(boxes)
    device = scores[0].device if B else torch.device("cpu")
    dtype = scores[0].dtype if B else torch.float32
    box_dtype = boxes[0].dtype if B and boxes[0].is_floating_point() else torch.float32
    counts = torch.tensor([len(s) for s in scores], device=device)  # (B,)
    width = max(k, int(counts.max()) if B else 0)
    padded = torch.full((B, width), float("-inf"), dtype=dtype, device=device)  # (B, max(K, max P))
    padded_boxes = torch.zeros(B, width, 4, dtype=box_dtype, device=device)
    for i, (b, s) in enumerate(zip(boxes, scores)):
        padded[i, : len(s)] = s
        padded_boxes[i, : len(b)] = b.reshape(-1, 4).to(device=device, dtype=box_dtype)
    # A stable descending sort keeps equal scores in index order; padding sits after every real
    # proposal (it is -inf and has the larger index), so real -inf scores still come first.
    order = torch.sort(padded, dim=1, descending=True, stable=True).indices[:, :k]  # (B, K)
    mask = order < counts[:, None]  # (B, K)
    index = torch.where(mask, order, torch.full_like(order, -1))
    top_scores = torch.where(mask, padded.gather(1, order), torch.zeros((), dtype=dtype, device=device))
    top_boxes = padded_boxes.gather(1, order[:, :, None].expand(B, k, 4)) * mask[:, :, None]  # (B, K, 4)
    return TopK(top_boxes, mask, index, top_scores)
