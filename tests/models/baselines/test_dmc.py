"""Tests for sslprop/models/baselines/dmc.py."""

import pytest
import torch

from sslprop.models.baselines import dmc
from tests.helpers import build_small, small_batch, small_cfg


def test_dmc_max_margin_loss_by_hand():
    pos = torch.tensor([[0.5, 0.2, 3.0], [1.0, 2.0, 4.0]])  # min 0.2, 1.0
    neg = torch.tensor([[0.4, 2.0, 2.0], [3.0, 1.5, 2.0]])  # min 0.4 -> hinge 0.6; min 1.5 -> hinge 0
    assert dmc.max_margin_loss(pos, neg, margin=1.0).item() == pytest.approx(((0.2 + 0.6) + (1.0 + 0.0)) / 2)


def test_dmc_soft_cluster_finds_two_groups():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    u = torch.stack([a, a, a, b, b])[None]  # (1, 5, 2): three locations on one axis, two on the other
    init = torch.tensor([[1.0, 0.2], [0.2, 1.0]])
    assign, centres = dmc.soft_cluster(u, init, iterations=3, temperature=0.05)
    assert torch.allclose(centres[0], torch.eye(2), atol=1e-6)
    assert assign[0, :3, 0].min().item() > 0.999 and assign[0, 3:, 1].min().item() > 0.999
    assert torch.allclose(assign.sum(dim=2), torch.ones(1, 5))


def test_dmc_squared_distances_of_unit_vectors():
    centres = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]])  # (1, 3, 2)
    d = dmc.squared_distances(centres, torch.tensor([[1.0, 0.0]]))
    assert d.tolist() == [[0.0, 2.0, 4.0]]


def test_dmc_map_is_the_assignment_to_the_centre_nearest_the_sound():
    cfg = small_cfg()
    model = build_small("dmc", cfg).eval()
    b = small_batch()
    with torch.no_grad():
        out = model(b["frames"], b["audio"])
        inf = dmc.METHOD.infer(model, b, cfg)
    assert out.assign.shape == (4, 4, 4, 3) and torch.allclose(out.assign.sum(dim=3), torch.ones(4, 4, 4))
    assert torch.equal(out.sounding, out.dist.argmin(dim=1))
    f = 0
    j = int(out.sounding[f])
    grid = torch.nn.functional.interpolate(out.assign[f:f + 1, :, :, j][:, None], size=(32, 32), mode="bilinear",
                                           align_corners=False)[0, 0]
    assert torch.allclose(inf.maps[f], grid)
    assert torch.allclose(inf.f_v[f], out.centres[f, j])
    assert out.neg_dist is None
