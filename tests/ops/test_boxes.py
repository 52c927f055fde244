"""Tests for sslprop/ops/boxes.py."""

from __future__ import annotations

import torch

from sslprop.ops.boxes import cap_proposals, pad_proposals, rescale_boxes, two_sources


def test_pad_proposals_and_cap():
    b = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 2.0, 2.0]])
    out, mask = pad_proposals([b, b[:1]], 2)
    assert out.shape == (2, 2, 4)
    assert mask.tolist() == [[True, True], [True, False]]
    assert torch.equal(out[0], b[:2]) and out[1, 1].tolist() == [0.0] * 4
    assert torch.equal(cap_proposals(b, 2), b[1:])  # the two largest, original order
    assert torch.equal(cap_proposals(b, 5), b)


def test_rescale_boxes():
    b = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    assert rescale_boxes(b, (100, 200), (50, 50)).tolist() == [[2.5, 10.0, 7.5, 20.0]]


def test_two_sources_prefers_a_disjoint_box():
    boxes = torch.tensor([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30], [40, 40, 50, 50]], dtype=torch.float)
    assert two_sources(boxes) == [0, 2]
    overlapping = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [5, 5, 15, 15]], dtype=torch.float)
    assert two_sources(overlapping) == [0, 2]  # IoU 25/175 < 81/100
    assert two_sources(boxes[:1]) == [0]
