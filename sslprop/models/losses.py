"""Loss functions of the proposal-based model, as pure functions: the distance ratio (one or paired negatives) and Euclidean
terms, and the two training losses built from them, `paper_proposal_loss` (as printed) and `paired_proposal_loss`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from sslprop.errors import SSLPropError

if TYPE_CHECKING:
    from sslprop.models.model import ModelOutput


def ratio_loss(d_pos: Tensor, d_neg: Tensor) -> Tensor:
    """The distance ratio loss from the two distances: 2 (p+)^2 with p+ = softmax([d+, d-])[0] = sigmoid(d+ - d-).

    d_pos, d_neg: Tensor[...] (broadcast) -> Tensor[...], in [0, 2).
    """
    return 2 * torch.sigmoid(d_pos - d_neg) ** 2


def common_space(x: Tensor, normalize: bool) -> Tensor:
    """Features in the space the loss compares them in: L2-normalised over the last axis when `normalize`, else as they are."""
    return F.normalize(x, dim=-1) if normalize else x


def distance_ratio_loss(f_v: Tensor, f_pos: Tensor, f_neg: Tensor, reduction: str = "mean") -> Tensor:
    """Distance ratio loss of Senocak et al. (CVPR 2018), after Hoffer & Ailon's triplet network.

    d+ = |f_v - f_pos|_2 and d- = |f_v - f_neg|_2 (Euclidean, on the features as given: Senocak's
    public PyTorch code does not L2-normalise them; the training losses do first when
    `train.normalize` is set, as both profiles do);
    (p+, p-) = softmax([d+, d-]); the loss of one item is |(p+, p- - 1)|_2^2 = (p+)^2 + (1 - p-)^2
    = 2 (p+)^2, the paper's formula. (Senocak's code takes `.mean()` over both entries, half this.)
    It goes from 0 (the negative infinitely farther than the positive) to 2.

    f_v, f_pos, f_neg: Tensor[..., d]
    reduction: "mean" -> Tensor[] (mean over every leading index), "none" -> Tensor[...]
    """
    d_pos = torch.linalg.vector_norm(f_v - f_pos, dim=-1)  # (...)
    d_neg = torch.linalg.vector_norm(f_v - f_neg, dim=-1)  # (...)
    return _reduce(ratio_loss(d_pos, d_neg), reduction)


def euclidean_loss(f_v: Tensor, f_att: Tensor, reduction: str = "mean") -> Tensor:
    """L_edu = |f_v - f_att|_2^2 (squared, summed over the d features), paper eq. in section 3.5.

    f_v, f_att: Tensor[..., d]
    reduction: "mean" -> Tensor[] (mean over every leading index), "none" -> Tensor[...]
    """
    return _reduce(((f_v - f_att) ** 2).sum(dim=-1), reduction)


def _reduce(x: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "none":
        return x
    raise SSLPropError(f"reduction '{reduction}': choose 'mean' or 'none'")


def paired_distance_ratio_loss(out: ModelOutput, normalize: bool = True) -> Tensor:
    """The distance ratio loss where each negative pair is localised with the negative's own audio.

    The positive distance is |f_v - f_s| as in the model's forward; for each negative audio f_s-
    (`out.pair_f_s`, M per clip), the query is f_v- (`out.pair_f_v`): the same frame run through the
    whole localisation with f_s- (attention, GRM, top-K selection, MIL pooling), and the negative
    distance is |f_v- - f_s-|. The loss then asks "does this frame hold a proposal that matches its
    own sound better than it holds one for another sound?". As printed, one f_v, chosen and pooled by
    the frame's own audio, is compared with every audio: a bag of diverse proposal features, selected
    by an audio-guided attention, always holds one close to the audio that picked it, a shortcut
    that a model trained from scratch takes instead of localising (docs/findings.md).
    out.f_v, out.f_s: Tensor[B, N, d]; out.pair_f_v, out.pair_f_s: Tensor[M, B, N, d].
    Returns Tensor[B, N], the mean over the M negatives of 2 (p+)^2.
    """
    if getattr(out, "pair_f_v", None) is None or getattr(out, "pair_f_s", None) is None:
        raise SSLPropError("paired negatives need the model run with pair_audio (ModelOutput.pair_f_v is None)")
    d_pos = torch.linalg.vector_norm(common_space(out.f_v, normalize) - common_space(out.f_s, normalize), dim=-1)  # (B, N)
    d_neg = torch.linalg.vector_norm(common_space(out.pair_f_v, normalize) - common_space(out.pair_f_s, normalize), dim=-1)  # (M, B, N)
    return ratio_loss(d_pos[None], d_neg).mean(dim=0)  # (B, N)


def paper_proposal_loss(
    out: ModelOutput, neg_f_s: Tensor, lam: float = 0.5, use_euclidean: bool = True, normalize: bool = False,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The model's training loss as the paper prints it: L = sum_n (L_tri_n + lam * L_edu_n), averaged over the B videos.

    L_tri_n = distance_ratio_loss(f_v_n, f_s_n, f_s-_n): the positive is the clip's own audio,
    the negative the audio of frame n of another video (`neg_f_s`, e.g. `out.f_s[negative_indices(...)]`).
    L_edu_n = |f_v_n - f_att_n|^2 ties the proposal stream to the frame stream; `use_euclidean=False`
    drops it (Table 3 row 4: every proposal in the bag, distance ratio loss only).
    A frame without any proposal (mask e all False, so f_v = 0) has no bag: its terms are left out.
    normalize: L2-normalise f_v, f_s, f_s- and f_att first (distances between unit vectors, in [0, 2]).
    Without it, shrinking every feature to 0 makes d+ = d- and L_edu = 0, a point the loss
    (0.5 from the distance ratio) cannot leave: trained from scratch the features collapse there.

    out:     the model's output, f_v, f_s, f_att: Tensor[B, N, d], mask: Tensor[B, N, K]
    neg_f_s: Tensor[B, N, d], audio features of the negatives
    Returns (loss Tensor[], parts) with parts "tri", "edu" (both summed over N, mean over B) and
    "loss", detached.
    """
    if neg_f_s.shape != out.f_s.shape:
        raise SSLPropError(f"neg_f_s has shape {tuple(neg_f_s.shape)}, expected {tuple(out.f_s.shape)} like f_s")
    f_v, f_s, f_att = (common_space(x, normalize) for x in (out.f_v, out.f_s, out.f_att))
    per_frame = distance_ratio_loss(f_v, f_s, common_space(neg_f_s, normalize), reduction="none")  # (B, N)
    return _bag_loss(out.mask, per_frame, f_v, f_att, lam, use_euclidean)


def paired_proposal_loss(
    out: ModelOutput, lam: float = 0.5, use_euclidean: bool = True, normalize: bool = False,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The training loss with paired negatives (`train.paired_negatives` > 0): L = sum_n (L_tri_n + lam * L_edu_n),
    averaged over the B videos, where L_tri_n is `paired_distance_ratio_loss` (the model run with `pair_audio`:
    each negative pair localised with the negative's own audio) and the rest is as in `paper_proposal_loss`.

    out: the model's output, f_v, f_s, f_att: Tensor[B, N, d], mask: Tensor[B, N, K], pair_f_v, pair_f_s: Tensor[M, B, N, d]
    Returns (loss Tensor[], parts) with parts "tri", "edu" (both summed over N, mean over B) and "loss", detached.
    """
    f_v, f_att = (common_space(x, normalize) for x in (out.f_v, out.f_att))
    per_frame = paired_distance_ratio_loss(out, normalize)  # (B, N)
    return _bag_loss(out.mask, per_frame, f_v, f_att, lam, use_euclidean)


def _bag_loss(mask: Tensor, per_frame: Tensor, f_v: Tensor, f_att: Tensor, lam: float,
              use_euclidean: bool) -> tuple[Tensor, dict[str, Tensor]]:
    """tri + lam * edu from the per-frame distance ratio loss Tensor[B, N] and the (normalised) f_v, f_att: Tensor[B, N, d],
    each summed over the frames that have a bag (`mask`: Tensor[B, N, K]) and averaged over the B videos."""
    has_bag = mask.any(dim=-1).to(f_v.dtype)  # (B, N)
    tri = (per_frame * has_bag).sum(dim=1).mean()
    if use_euclidean:
        edu = (euclidean_loss(f_v, f_att, reduction="none") * has_bag).sum(dim=1).mean()
    else:
        edu = torch.zeros((), dtype=tri.dtype, device=tri.device)
    loss = tri + lam * edu
    return loss, {"loss": loss.detach(), "tri": tri.detach(), "edu": edu.detach()}
