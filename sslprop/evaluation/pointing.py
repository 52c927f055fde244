"""The pointing game: a threshold-free localisation score, one point per frame inside any ground-truth box or not.

A map prediction points at its peak: the map is brought to the evaluation grid by the protocol's
own resize (`metrics.Protocol.resize`: cv2 bilinear, or torch bilinear with align_corners for
ezvsl), its first maximum in row-major order is taken (``np.argmax``: ties go to the first), and
the centre of that grid cell is mapped back to frame pixels: ``((c + 0.5) * W / S, (r + 0.5) * H / S)``.
A box prediction points at the centre of its best (highest-score) box, after clipping it to the
frame (a box wholly outside the frame, or no box, points nowhere and misses). The frame is a hit
when the point lies inside ANY ground-truth box of the frame, of any annotator, edges included,
in frame pixels. The score is the rate of hits over the scored frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sslprop.evaluation import metrics


def map_point(grid_map: np.ndarray, width: float, height: float) -> tuple[float, float]:
    """(x, y) frame pixels of the peak of an (S, S) grid map (first maximum) of a `width` x `height` frame."""
    m = np.asarray(grid_map)
    r, c = np.unravel_index(int(np.argmax(m)), m.shape)
    return (c + 0.5) * width / m.shape[1], (r + 0.5) * height / m.shape[0]


def box_point(box: Sequence[float], width: float, height: float) -> tuple[float, float] | None:
    """(x, y) centre of an xyxy pixel box clipped to the frame; None when nothing of it is inside."""
    b = metrics.clip_box(box, width, height)
    if b[2] <= b[0] or b[3] <= b[1]:
        return None
    return (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0


def inside_any(point: tuple[float, float] | None, gt_boxes: np.ndarray) -> bool:
    """Whether the (x, y) point lies inside (edges included) any of the (N, 4) xyxy boxes."""
    if point is None:
        return False
    b = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    x, y = point
    return bool(np.any((b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3])))


def map_hit(heatmap: np.ndarray, protocol: metrics.Protocol, width: float, height: float, gt_boxes: np.ndarray,
            size: int = metrics.GRID) -> bool:
    """A (H, W) map of any size: its peak on the protocol's (size, size) grid, inside any ground-truth box."""
    return inside_any(map_point(protocol.resize(heatmap, size), width, height), gt_boxes)


def box_point_hit(boxes: np.ndarray, width: float, height: float, gt_boxes: np.ndarray) -> bool:
    """(M, 5) score-sorted boxes: the best one's centre inside any ground-truth box (no box: a miss)."""
    return len(boxes) > 0 and inside_any(box_point(boxes[0, :4], width, height), gt_boxes)
