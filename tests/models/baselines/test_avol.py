"""Tests for sslprop/models/baselines/avol.py."""

import math

import pytest
import torch

from sslprop.models.baselines import avol
from tests.helpers import build_small, small_batch, small_cfg


def test_avol_correspondence_loss_by_hand():
    pos = torch.tensor([[[0.0, 2.0], [-1.0, 1.0]]])  # max 2 -> label 1
    neg = torch.tensor([[[-3.0, -1.0], [0.0, -2.0]]])  # max 0 -> label 0
    loss, acc = avol.correspondence_loss(pos, neg)
    expected = (math.log1p(math.exp(-2.0)) + math.log(2.0)) / 2  # -log sigmoid(2), -log(1 - sigmoid(0))
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert acc.item() == pytest.approx(1.0)  # a logit of 0 (p = 0.5) counts as "no correspondence": right for the negative


def test_avol_map_is_the_sigmoid_of_the_calibrated_similarity():
    cfg = small_cfg()
    model = build_small("avol", cfg).eval()
    b = small_batch()
    with torch.no_grad():
        out = model(b["frames"], b["audio"], torch.tensor([1, 0, 3, 2]))
        sim = torch.einsum("fdhw,fd->fhw", out.f_v, out.f_s)
        assert torch.allclose(out.logits, 5 * sim)  # a = 5, b = 0 at the start
        assert torch.allclose(out.neg_logits[0], 5 * torch.einsum("dhw,d->hw", out.f_v[0], out.f_s[1]))
        assert torch.allclose(out.f_v.norm(dim=1), torch.ones(4, 4, 4), atol=1e-5)
        inf = avol.METHOD.infer(model, b, cfg)
    best = out.logits.flatten(1).argmax(dim=1)
    for f in range(4):
        assert torch.allclose(inf.f_v[f], out.f_v[f].flatten(1)[:, best[f]])
