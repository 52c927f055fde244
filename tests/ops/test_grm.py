"""Tests for sslprop/ops/grm.py."""

from __future__ import annotations

import pytest
import torch

from sslprop.errors import SSLPropError
from sslprop.ops.boxes import box_cells
from sslprop.ops.grm import grm, score_boxes, select_topk


def blob_map() -> torch.Tensor:
    """A 4 x 6 GRM: a 2 x 2 blob of ones at rows 1-2, cols 1-2 and 0.5 in the bottom-right cell (mass 4.5)."""
    g = torch.zeros(4, 6, dtype=torch.float64)
    g[1:3, 1:3] = 1.0
    g[3, 5] = 0.5
    return g


# whole frame, tight box around the blob, loose box around it, the corner cell
BOXES = torch.tensor([[0, 0, 6, 4], [1, 1, 3, 3], [0, 0, 4, 4], [5, 3, 6, 4]], dtype=torch.float32)


def test_grm_is_the_printed_formula():
    m = torch.tensor([[[1.0, 2.0], [3.0, 5.0]], [[0.0, 0.0], [0.0, 0.0]]])
    g = grm(m)
    # (m - 1) / 5, not (m - 1) / 4: the paper divides by max m
    assert torch.equal(g[0], torch.tensor([[0.0, 0.2], [0.4, 0.8]]))
    assert torch.equal(g[1], torch.zeros(2, 2))  # max == 0 -> zeros, no NaN


def test_grm_gradient_is_finite_for_a_zero_map():
    m = torch.zeros(1, 3, 3, requires_grad=True)
    grm(m).sum().backward()
    assert torch.isfinite(m.grad).all()


def test_grm_rejects_a_wrong_shape():
    with pytest.raises(SSLPropError, match=r"Tensor\[B, H, W\]"):
        grm(torch.zeros(3, 3))


def test_sum_scorer_prefers_the_whole_frame():
    (s,) = score_boxes(blob_map()[None], [BOXES], "sum")
    assert s.tolist() == [4.5, 4.0, 4.0, 0.5]
    assert int(s.argmax()) == 0


def test_mean_scorer_prefers_the_tight_box():
    (s,) = score_boxes(blob_map()[None], [BOXES], "mean")
    assert s.tolist() == [4.5 / 24, 1.0, 4.0 / 16, 0.5]
    assert int(s.argmax()) == 1


def test_soft_iou_scorer_prefers_the_tight_box():
    (s,) = score_boxes(blob_map()[None], [BOXES], "soft_iou")
    # inside / (total 4.5 + area - inside)
    expected = [4.5 / 24, 4.0 / 4.5, 4.0 / 16.5, 0.5 / 5.0]
    assert s.tolist() == pytest.approx(expected, abs=1e-12)
    assert int(s.argmax()) == 1


def test_soft_iou_min_max_normalises_the_grm():
    g = blob_map() * 3.0 + 2.0  # min 2, max 5: normalised back to blob_map()
    (a,) = score_boxes(g[None], [BOXES], "soft_iou")
    (b,) = score_boxes(blob_map()[None], [BOXES], "soft_iou")
    assert a.tolist() == pytest.approx(b.tolist(), abs=1e-12)
    (c,) = score_boxes(torch.full((1, 4, 6), 7.0), [BOXES], "soft_iou")
    assert c.tolist() == [0.0, 0.0, 0.0, 0.0]  # constant map -> zero mass


def test_box_rounding_floors_x1_ceils_x2_and_keeps_one_cell():
    boxes = torch.tensor([[0.5, 0.5, 2.2, 2.9], [2.0, 2.0, 2.0, 2.0], [10.0, 10.0, 12.0, 12.0], [-3.0, -1.0, 0.2, 0.1]])
    assert box_cells(boxes, 4, 6).tolist() == [[0, 0, 3, 3], [2, 2, 3, 3], [5, 3, 6, 4], [0, 0, 1, 1]]
    (s,) = score_boxes(blob_map()[None], [boxes], "sum")
    assert s.tolist() == [4.0, 1.0, 0.5, 0.0]
    (m,) = score_boxes(blob_map()[None], [boxes], "mean")
    assert m.tolist() == [4.0 / 9, 1.0, 0.5, 0.0]


def test_score_boxes_batches_frames_with_empty_sets_and_keeps_dtype():
    g = torch.stack([blob_map(), blob_map().flip(0)]).float()
    out = score_boxes(g, [BOXES[:2], torch.zeros(0, 4)], "sum")
    assert out[0].dtype == torch.float32 and out[0].tolist() == [4.5, 4.0]
    assert out[1].shape == (0,)
    out = score_boxes(g, [torch.zeros(0, 4), BOXES[3:]], "mean")
    assert out[0].shape == (0,) and out[1].tolist() == [0.0]  # flipped map: the 0.5 is now at row 0


def test_score_boxes_is_differentiable_in_the_grm():
    g = blob_map()[None].clone().requires_grad_(True)
    (s,) = score_boxes(g, [BOXES[1:2]], "sum")
    s.sum().backward()
    expected = torch.zeros(1, 4, 6, dtype=torch.float64)
    expected[0, 1:3, 1:3] = 1.0
    assert torch.equal(g.grad, expected)


def test_unknown_scorer_lists_the_names():
    with pytest.raises(SSLPropError, match="sum, mean, soft_iou"):
        score_boxes(blob_map()[None], [BOXES], "max")


def test_select_topk_breaks_ties_by_index():
    boxes = torch.arange(20, dtype=torch.float32).reshape(5, 4)
    scores = torch.tensor([0.5, 0.9, 0.5, 0.9, 0.1])
    top = select_topk([boxes], [scores], 3)
    assert top.index.tolist() == [[1, 3, 0]]
    assert top.scores.tolist() == [[pytest.approx(0.9), pytest.approx(0.9), 0.5]]
    assert top.mask.tolist() == [[True, True, True]]
    assert torch.equal(top.boxes[0], boxes[[1, 3, 0]])


def test_select_topk_pads_and_masks_short_and_empty_frames():
    b0 = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]])
    s0 = torch.tensor([0.25, 0.75], requires_grad=True)
    top = select_topk([b0, torch.zeros(0, 4)], [s0, torch.zeros(0)], 3)
    assert top.boxes.shape == (2, 3, 4) and top.mask.shape == (2, 3)
    assert top.mask.tolist() == [[True, True, False], [False, False, False]]
    assert top.index.tolist() == [[1, 0, -1], [-1, -1, -1]]
    assert top.scores.tolist() == [[0.75, 0.25, 0.0], [0.0, 0.0, 0.0]]
    assert torch.equal(top.boxes[0, :2], b0[[1, 0]])
    assert top.boxes[0, 2].tolist() == [0.0] * 4 and top.boxes[1].abs().sum() == 0
    top.scores.sum().backward()
    assert s0.grad.tolist() == [1.0, 1.0]
