"""Tests for sslprop/models/losses.py."""

import math
from types import SimpleNamespace

import pytest
import torch

from sslprop.errors import SSLPropError
from sslprop.models.losses import distance_ratio_loss, euclidean_loss, paired_proposal_loss, paper_proposal_loss

# p+ = softmax([d+, d-])[0]; the loss of one item is (p+)^2 + (1 - p-)^2 = 2 (p+)^2.
LOSS_D5_D0 = 2 * (1 / (1 + math.exp(-5))) ** 2  # d+ = 5, d- = 0: 1.9733181848098504


LOSS_D0_D5 = 2 * (1 / (1 + math.exp(5))) ** 2  # d+ = 0, d- = 5: 8.958850698940129e-05


LOSS_D0_D1 = 2 * (1 / (1 + math.exp(1))) ** 2  # d+ = 0, d- = 1: 0.1446589762570265


def t(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def _bag_out(f_box, mask, f_s, pair_index):
    """A model output for fixed bags: f_v pooled with the own audio, pair_f_v with the audio of clip pair_index[m, b]."""
    from sslprop.models.model import pool_bag

    d, alpha, f_v = pool_bag(f_box, mask, f_s, None)
    pair_f_s = f_s[pair_index]  # (M, B, N, d)
    pair_f_v = torch.stack([pool_bag(f_box, mask, a, None)[2] for a in pair_f_s])
    return SimpleNamespace(f_v=f_v, f_s=f_s, f_att=f_v, f_box=f_box, mask=mask, d=d, pair_f_v=pair_f_v, pair_f_s=pair_f_s)


def test_distance_ratio_hand_computed():
    assert LOSS_D5_D0 == pytest.approx(1.9733181848098504, abs=1e-15)
    z, p = t([0.0, 0.0]), t([3.0, 4.0])  # |p| = 5
    assert distance_ratio_loss(z, p, z).item() == pytest.approx(LOSS_D5_D0, abs=1e-12)
    assert distance_ratio_loss(z, z, p).item() == pytest.approx(LOSS_D0_D5, abs=1e-12)
    # equal distances: p+ = 1/2, loss 2 * 1/4
    assert distance_ratio_loss(z, p, -p).item() == pytest.approx(0.5, abs=1e-12)


def test_distance_ratio_mean_and_none():
    f_v = t([0.0, 0.0], [0.0, 0.0])
    pos = t([3.0, 4.0], [0.0, 0.0])
    neg = t([0.0, 0.0], [3.0, 4.0])
    per = distance_ratio_loss(f_v, pos, neg, reduction="none")
    assert per.tolist() == pytest.approx([LOSS_D5_D0, LOSS_D0_D5], abs=1e-12)
    assert distance_ratio_loss(f_v, pos, neg).item() == pytest.approx((LOSS_D5_D0 + LOSS_D0_D5) / 2, abs=1e-12)
    with pytest.raises(SSLPropError, match="reduction"):
        distance_ratio_loss(f_v, pos, neg, reduction="sum")


def test_distance_ratio_gradient_finite_at_zero_distance():
    f_v = torch.zeros(1, 3, requires_grad=True)
    pos = torch.zeros(1, 3, requires_grad=True)
    neg = torch.ones(1, 3)
    distance_ratio_loss(f_v, pos, neg).backward()
    assert torch.isfinite(f_v.grad).all() and torch.isfinite(pos.grad).all()
    # at f_v = pos the gradient comes through d- only: moving f_v away from neg = (1, 1, 1) lowers the loss.
    assert (f_v.grad > 0).all()


def test_euclidean_hand_computed():
    assert euclidean_loss(t([1.0, 2.0]), t([4.0, 6.0])).item() == 25.0
    per = euclidean_loss(t([1.0, 2.0], [0.0, 0.0]), t([4.0, 6.0], [0.0, 1.0]), reduction="none")
    assert per.tolist() == [25.0, 1.0]
    assert euclidean_loss(t([1.0, 2.0], [0.0, 0.0]), t([4.0, 6.0], [0.0, 1.0])).item() == 13.0


def test_proposal_loss_sums_frames_averages_videos_and_skips_empty_bags():
    # B = 2 videos, N = 2 frames, d = 2; frame (1, 1) has no proposal at all.
    f_v = t([[0.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]])
    f_s = t([[3.0, 4.0], [0.0, 0.0]], [[1.0, 0.0], [5.0, 0.0]])
    neg = t([[0.0, 0.0], [3.0, 4.0]], [[1.0, 1.0], [0.0, 0.0]])
    f_att = t([[0.0, 0.0], [1.0, 0.0]], [[1.0, 2.0], [7.0, 7.0]])
    mask = torch.tensor([[[True, False], [True, True]], [[True, True], [False, False]]])
    out = SimpleNamespace(f_v=f_v, f_s=f_s, f_att=f_att, mask=mask)
    tri = ((LOSS_D5_D0 + LOSS_D0_D5) + LOSS_D0_D1) / 2
    edu = ((0.0 + 1.0) + 4.0) / 2
    loss, parts = paper_proposal_loss(out, neg, lam=0.5, use_euclidean=True)
    assert loss.item() == pytest.approx(tri + 0.5 * edu, abs=1e-12)
    assert parts["tri"].item() == pytest.approx(tri, abs=1e-12)
    assert parts["edu"].item() == pytest.approx(edu, abs=1e-12)
    assert parts["loss"].item() == pytest.approx(loss.item(), abs=1e-15)
    loss_tri_only, parts = paper_proposal_loss(out, neg, lam=0.5, use_euclidean=False)
    assert loss_tri_only.item() == pytest.approx(tri, abs=1e-12)
    assert parts["edu"].item() == 0.0
    with pytest.raises(SSLPropError, match="neg_f_s"):
        paper_proposal_loss(out, neg[:, :1], lam=0.5)


def test_proposal_loss_normalize_uses_unit_vectors_and_cannot_collapse():
    # Scaled copies give the same normalised loss; all-zero features (the collapse point) give 0.5 raw.
    f_v, f_s, neg = t([[3.0, 4.0]]), t([[6.0, 8.0]]), t([[0.0, -2.0]])
    out = SimpleNamespace(f_v=f_v[None], f_s=f_s[None], f_att=f_v[None], mask=torch.tensor([[[True]]]))
    loss, parts = paper_proposal_loss(out, neg[None], lam=0.5, normalize=True)
    d_neg = math.dist([0.6, 0.8], [0.0, -1.0])  # |(0.6, 0.8) - (0, -1)| = sqrt(0.36 + 3.24)
    assert parts["tri"].item() == pytest.approx(2 * (1 / (1 + math.exp(d_neg))) ** 2, abs=1e-12)  # d+ = 0
    assert parts["edu"].item() == pytest.approx(0.0, abs=1e-12)
    scaled = SimpleNamespace(f_v=10 * f_v[None], f_s=f_s[None], f_att=f_v[None], mask=out.mask)
    assert paper_proposal_loss(scaled, 0.1 * neg[None], normalize=True)[0].item() == pytest.approx(loss.item(), abs=1e-12)
    zero = SimpleNamespace(f_v=0 * f_v[None], f_s=0 * f_s[None], f_att=0 * f_v[None], mask=out.mask)
    assert paper_proposal_loss(zero, 0 * neg[None], lam=0.5)[0].item() == pytest.approx(0.5, abs=1e-12)


def test_paired_negatives_close_the_diverse_bag_shortcut():
    # Two clips whose frames carry no information (the same bag {e1, e2}) and whose sounds are e1 and e2.
    # As printed, f_v is pooled with the clip's own audio, so each picks the proposal equal to its sound:
    # d+ = 0 and d- = |e1 - e2| = sqrt(2), a low loss for a model that has learned nothing about the frame.
    # Paired, the negative pair is localised with the negative's audio and finds an equal match:
    # d+ = d- = 0, the loss of indifference 2 * (1/2)^2 = 0.5.
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    f_box = torch.stack([e1, e2]).expand(2, 1, 2, 2).clone()  # (B = 2, N = 1, K = 2, d = 2)
    mask = torch.ones(2, 1, 2, dtype=torch.bool)
    f_s = torch.stack([e1, e2])[:, None]  # (2, 1, 2)
    out = _bag_out(f_box, mask, f_s, torch.tensor([[1, 0]]))  # d = (1, 0) for clip 0: alpha = (1, 0), f_v = e1
    as_printed = 2 * (1 / (1 + math.exp(math.sqrt(2)))) ** 2
    loss, _ = paper_proposal_loss(out, f_s.flip(0), lam=0.0, use_euclidean=False, normalize=True)  # one negative given
    assert loss.item() == pytest.approx(as_printed, abs=1e-6)
    loss, _ = paired_proposal_loss(out, lam=0.0, use_euclidean=False, normalize=True)
    assert loss.item() == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(SSLPropError, match="pair_audio"):
        paired_proposal_loss(SimpleNamespace(**{**vars(out), "pair_f_v": None}), lam=0.0, normalize=True)


def test_paired_negatives_reward_a_bag_that_holds_the_sound():
    # Clip 0's bag holds e1 (its sound) and e3; clip 1's bag holds e2 (its sound) and e3: each frame
    # matches its own sound and not the other's, so the paired loss is low.
    e1, e2, e3 = torch.eye(3)
    f_box = torch.stack([torch.stack([e1, e3]), torch.stack([e2, e3])])[:, None]  # (2, 1, 2, 3)
    mask = torch.ones(2, 1, 2, dtype=torch.bool)
    f_s = torch.stack([e1, e2])[:, None]
    out = _bag_out(f_box, mask, f_s, torch.tensor([[1, 0]]))
    loss, _ = paired_proposal_loss(out, lam=0.0, use_euclidean=False, normalize=True)
    # the negative pair (bag 0, sound e2): d = (0, 0) -> uniform alpha, f_v- = (e1 + e3) / 2, normalised
    f_neg = torch.nn.functional.normalize((e1 + e3) / 2, dim=0)
    d_neg = float(torch.linalg.vector_norm(f_neg - e2))
    assert loss.item() == pytest.approx(2 * (1 / (1 + math.exp(d_neg))) ** 2, abs=1e-6)
    assert loss.item() < 0.5
