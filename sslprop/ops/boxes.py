"""Box maths on xyxy pixel boxes (x2, y2 exclusive), as plain documented functions beside `torchvision.ops`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision.ops import box_iou

from sslprop.errors import SSLPropError


def box_cells(boxes: Tensor, height: int, width: int) -> Tensor:
    """Integer cell ranges covered by boxes on an H x W grid: Tensor[P, 4] long (x1, y1, x2, y2), half-open.

    A box in absolute pixels xyxy covers the cells [floor(x1), ceil(x2)) x [floor(y1), ceil(y2)),
    clamped to the grid; a box that would cover no cell (degenerate, or outside the grid)
    is widened to the one cell at its clamped corner, so every box covers at least one pixel.
    """

    x1 = boxes[:, 0].floor().long().clamp(0, width - 1)
    y1 = boxes[:, 1].floor().long().clamp(0, height - 1)
    x2 = torch.maximum(boxes[:, 2].ceil().long().clamp(0, width), x1 + 1)
    y2 = torch.maximum(boxes[:, 3].ceil().long().clamp(0, height), y1 + 1)
    return torch.stack([x1, y1, x2, y2], dim=1)


def pad_proposals(boxes: list[Tensor], max_n: int) -> tuple[Tensor, Tensor]:
    """Every proposal in the bag (the "no proposal selection" ablation), padded to `max_n` slots.

    Args:
        boxes: B tensors Tensor[P_i, 4], absolute pixels xyxy, in the order to keep.
        max_n: M, slots per frame. A frame with more than M proposals keeps its first M
            (use `cap_proposals` first to choose which).
    Returns:
        (Tensor[B, M, 4] boxes, zeros where missing; Tensor[B, M] bool mask, True where present).
    """

    if max_n < 1:
        raise SSLPropError(f"pad_proposals: max_n must be at least 1, got {max_n}")
    B = len(boxes)
    device = boxes[0].device if B else torch.device("cpu")
    dtype = boxes[0].dtype if B and boxes[0].is_floating_point() else torch.float32
    out = torch.zeros(B, max_n, 4, dtype=dtype, device=device)
    mask = torch.zeros(B, max_n, dtype=torch.bool, device=device)
    for i, b in enumerate(boxes):
        n = min(len(b), max_n)
        out[i, :n] = b.reshape(-1, 4)[:n].to(device=device, dtype=dtype)
        mask[i, :n] = True
    return out, mask


def cap_proposals(boxes: Tensor, max_n: int) -> Tensor:
    """The `max_n` largest boxes by area (ties: lower index first), in their original order.

    Args:
        boxes: Tensor[P, 4], absolute pixels xyxy.
    Returns:
        Tensor[min(P, max_n), 4].
    """

    if len(boxes) <= max_n:
        return boxes
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])  # (P,)
    keep = torch.sort(area, descending=True, stable=True).indices[:max_n]
    return boxes[keep.sort().values]


def rescale_boxes(boxes: Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> Tensor:
    """Map boxes (Tensor[P, 4], absolute pixels xyxy) from an image of size src_hw = (H, W) to one of size dst_hw."""
    sy = dst_hw[0] / src_hw[0]
    sx = dst_hw[1] / src_hw[1]
    return boxes * boxes.new_tensor([sx, sy, sx, sy])


def two_sources(boxes: torch.Tensor) -> list[int]:
    """Rows of the best box and of the best one that does not overlap it (IoU = 0), else of least IoU.

    boxes: Tensor[K, 4] xyxy, best first -> row indices, [0, j] (or [0] / [] when K < 2).
    """
    if len(boxes) < 2:
        return list(range(len(boxes)))
    iou = box_iou(boxes[:1], boxes[1:])[0]  # (K-1,)
    free = torch.nonzero(iou <= 0).flatten()
    return [0, (int(free[0]) if len(free) else int(torch.argmin(iou))) + 1]  # argmin: first of the least IoU


def map_box(score_map: torch.Tensor, threshold: float) -> torch.Tensor:
    """Box around the map's pixels at or above `threshold` after min-max normalisation.

    score_map: Tensor[H, W] -> Tensor[4] xyxy (pixels; x2/y2 exclusive). A flat map gives the whole frame.
    """
    m = score_map.float()
    lo, hi = m.min(), m.max()
    if hi <= lo:
        return torch.tensor([0.0, 0.0, m.shape[1], m.shape[0]])
    ys, xs = torch.nonzero((m - lo) / (hi - lo) >= threshold, as_tuple=True)
    return torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()


def box_iou_np(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two xyxy boxes (torchvision.ops.box_iou on one pair)."""

    pair = torch.tensor([[float(v) for v in a], [float(v) for v in b]], dtype=torch.float32)  # (2, 4)
    return float(box_iou(pair[:1], pair[1:])[0, 0])
