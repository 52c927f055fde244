"""SLAVC, "A Closer Look at Weakly-Supervised Audio-Visual Source Localization" (Mo and Morgado, NeurIPS 2022).

Read from the public code (stoneMo/SLAVC): `model.py` (class SLAVC: `forward_img_features`,
`forward_aud_features`, `_update_momentum_encoder`, `forward`), `train.py` and
`scripts/train_vggsound144k.sh` (tau 0.03, `--dropout_img 0.9 --dropout_aud 0`, `--m_img 0.999
--m_aud 0.999`, `--use_momentum --use_mom_eval`), `test.py` (the map, min-max and OGL, `--alpha`):

    frame -> visual encoder -> fmap -> dropout(p_img) -> 1x1 conv P1, 1x1 conv P2 -> v1, v2 (d x h x w), L2-normalised
    audio -> audio encoder  -> s    -> dropout(p_aud) -> Linear Q1, Linear Q2     -> s1, s2 (d), L2-normalised
    momentum heads P1', P2', Q1', Q2': theta' <- m theta' + (1 - m) theta before every training forward,
    fed the same encoder outputs (with their own dropout mask): targets v1', v2', s1', s2' (no gradient)

    match[f, g, i] = softmax over audios g  of <v1_f,i, s1'_g> / tau        (which audio, at each location)
    loc[f, g, i]   = softmax over locations i of <v2_f,i, s2'_g> / tau      (where, for each audio)
    i2a[f, g]      = log sum_i match * loc                                   (online frames, target audio)
    a2i[f, g]      = the same with target frames v1', v2' and online audio s1, s2
    loss = CE(a2i, diag) + CE(i2a, diag)                                     (both over the audios g, as in their code)
    map  = (<v1'_f,i, s1'_f> + <v2'_f,i, s2'_f>) / 2                          (momentum heads: `--use_mom_eval`)
    OGL  with `model.ogl_alpha` (their `--alpha`, 0.9 in their extended-Flickr script), as in `ezvsl`

What differs from the original, and why:
- Momentum encoders: SLAVC keeps an EMA copy of the whole network, ResNet backbones included. In the
  cpu profile our backbones are pretrained and frozen, so an EMA copy of them would equal them at
  every step; we keep EMA copies of the four projection heads only and feed them the (shared)
  encoders' outputs. When the encoders are fine-tuned (`--from-scratch`, the paper profile) the
  targets therefore come from the online encoders, detached: a simplification there.
- Dropout is drawn from the step's generator (not the global one), so a loss is a function of the
  model, the batch and the step (like every method here); p_img = 0.9, p_aud = 0 as in their script.
  As in their code the target path gets dropout too (its own mask) in training; none at inference.
- Encoders and widths as in `ezvsl` (our shared encoders, projections to `cfg.model.dim`); their
  weight initialisation of the heads (Kaiming, truncated normal) is left at PyTorch's default.
- Frames of the same video are not each other's negatives: masked out of the softmax over audios
  and of the cross-entropy (SLAVC draws one frame per video). Their optional semi-supervised term
  and `num_negs` are left out (not in the weakly-supervised setting of their script).
- The map is on the cosine scale (their Savl / tau, then min-max over [-1/tau, 1/tau]: the same
  ranking). OGL: SLAVC's `test.py` scales the map by that fixed range and the object prior by a
  fixed [0, 2.5] (a ResNet-18 value, meaningless for our encoders); we scale both per frame by
  min-max, as EZ-VSL's `test.py` does (`common.object_guided`). f_v for m_on is the matching embedding v1' pooled with the localisation softmax
  (softmax over locations of <v2', s2'> / tau), L2-normalised; f_s = s1'.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config
from sslprop.models.baselines.common import encode, localisation_maps
from sslprop.models.baselines.ezvsl import MASKED, same_video_mask
from sslprop.models.baselines.method import MapMethod
from sslprop.models.negatives import StepContext

TAU = 0.03  # temperature (SLAVC `--tau`)
DROPOUT_IMG = 0.9  # dropout on the visual feature map before the projections (`--dropout_img`)
DROPOUT_AUD = 0.0  # dropout on the audio feature (`--dropout_aud`)
MOMENTUM = 0.999  # EMA rate of the target heads (`--m_img`, `--m_aud`)


@dataclass
class SLAVCOutput:
    """SLAVC's forward for F = B*N frames (frame-major) on the h x w feature grid.

    fmap:           Tensor[F, C, h, w]  the visual encoder's feature map (before dropout)
    v1, v2:         Tensor[F, d, h, w]  online matching and localisation embeddings, L2-normalised
    s1, s2:         Tensor[F, d]        online audio embeddings, L2-normalised
    v1t, v2t, s1t, s2t: the same from the momentum heads (no gradient)
    """

    fmap: Tensor
    v1: Tensor
    v2: Tensor
    s1: Tensor
    s2: Tensor
    v1t: Tensor
    v2t: Tensor
    s1t: Tensor
    s2t: Tensor


def dropout(x: Tensor, p: float, generator: torch.Generator | None) -> Tensor:
    """Inverted dropout with a mask drawn from `generator` (on the CPU, then moved to x's device); p = 0: x itself."""
    if p <= 0.0:
        return x
    if generator is None:
        return F.dropout(x, p, training=True)
    keep = torch.rand(x.shape, generator=generator) >= p
    return x * keep.to(device=x.device, dtype=x.dtype) / (1.0 - p)


class SLAVCNet(nn.Module):
    """forward(frames, audio, generator=None) -> SLAVCOutput; in training mode it first moves the momentum heads."""

    def __init__(self, visual: nn.Module, audio: nn.Module, dim: int, momentum: float = MOMENTUM,
                 dropout_img: float = DROPOUT_IMG, dropout_aud: float = DROPOUT_AUD) -> None:
        super().__init__()
        self.visual, self.audio = visual, audio
        C, D, d = self.visual.out_channels, self.audio.out_dim, dim
        self.heads = nn.ModuleDict({"v1": nn.Conv2d(C, d, 1), "v2": nn.Conv2d(C, d, 1),
                                    "s1": nn.Linear(D, d), "s2": nn.Linear(D, d)})
        self.momentum_heads = copy.deepcopy(self.heads)  # starts equal; moved only by the EMA rule
        for p in self.momentum_heads.parameters():
            p.requires_grad_(False)
        self.momentum, self.dropout_img, self.dropout_aud = momentum, dropout_img, dropout_aud

    @torch.no_grad()
    def update_momentum(self) -> None:
        """theta' <- m theta' + (1 - m) theta for every parameter of the momentum heads."""
        for online, target in zip(self.heads.parameters(), self.momentum_heads.parameters()):
            target.mul_(self.momentum).add_(online.detach(), alpha=1.0 - self.momentum)

    def _embed(self, heads: nn.ModuleDict, fmap: Tensor, s: Tensor, generator) -> tuple[Tensor, ...]:
        if self.training:
            fmap, s = dropout(fmap, self.dropout_img, generator), dropout(s, self.dropout_aud, generator)
        return (F.normalize(heads["v1"](fmap), dim=1), F.normalize(heads["v2"](fmap), dim=1),
                F.normalize(heads["s1"](s), dim=1), F.normalize(heads["s2"](s), dim=1))

    def forward(self, frames: Tensor, audio: Tensor, generator: torch.Generator | None = None) -> SLAVCOutput:
        fmap, s = encode(self.visual, self.audio, frames, audio)  # (F, C, h, w), (F, D)
        if self.training:
            self.update_momentum()
        v1, v2, s1, s2 = self._embed(self.heads, fmap, s, generator)
        with torch.no_grad():
            v1t, v2t, s1t, s2t = self._embed(self.momentum_heads, fmap.detach(), s.detach(), generator)
        return SLAVCOutput(fmap, v1, v2, s1, s2, v1t, v2t, s1t, s2t)


def match_and_localise(v1: Tensor, v2: Tensor, s1: Tensor, s2: Tensor, mask: Tensor | None, tau: float = TAU) -> Tensor:
    """log sum_i softmax_g(<v1_f,i, s1_g> / tau) * softmax_i(<v2_f,i, s2_g> / tau): Tensor[F, G].

    v1, v2: Tensor[F, d, h, w]; s1, s2: Tensor[G, d]; mask: Tensor[F, G] bool, pairs left out of the
    softmax over audios (their entries come out about MASKED), or None. Computed in log space.
    """
    l1 = torch.einsum("fdhw,gd->fghw", v1.float(), s1.float()).flatten(2) / tau  # (F, G, hw)
    l2 = torch.einsum("fdhw,gd->fghw", v2.float(), s2.float()).flatten(2) / tau
    if mask is not None:
        l1 = l1.masked_fill(mask[:, :, None], MASKED)
    return torch.logsumexp(F.log_softmax(l1, dim=1) + F.log_softmax(l2, dim=2), dim=2)  # (F, G)


def slavc_loss(out: SLAVCOutput, codes: Tensor | None = None, tau: float = TAU) -> tuple[Tensor, dict[str, Tensor]]:
    """SLAVC's loss CE(a2i, diag) + CE(i2a, diag) (module docstring); codes Tensor[F]: frames of one video are no negatives."""
    mask = None if codes is None else same_video_mask(codes.to(out.v1.device))
    i2a = match_and_localise(out.v1, out.v2, out.s1t, out.s2t, mask, tau)  # online frames, target audio
    a2i = match_and_localise(out.v1t, out.v2t, out.s1, out.s2, mask, tau)  # target frames, online audio
    if mask is not None:
        i2a, a2i = i2a.masked_fill(mask, MASKED), a2i.masked_fill(mask, MASKED)
    target = torch.arange(len(i2a), device=i2a.device)
    loss = F.cross_entropy(a2i, target) + F.cross_entropy(i2a, target)
    return loss, {"loss": loss.detach(), "i2a": F.cross_entropy(i2a, target).detach(),
                  "a2i": F.cross_entropy(a2i, target).detach()}


class SLAVC(MapMethod):
    """SLAVC (Mo and Morgado 2022) as a `Method`: momentum heads, dropout, match x localise loss; OGL with `model.ogl_alpha`."""

    name = "slavc"

    def network(self, visual: nn.Module, audio: nn.Module, cfg: Config) -> SLAVCNet:
        return SLAVCNet(visual, audio, cfg.model.dim)

    def objective(self, model: nn.Module, frames: Tensor, audio: Tensor, batch: dict[str, Any], ctx: StepContext,
                  cfg: Config) -> tuple[Tensor, dict[str, Tensor]]:
        out: SLAVCOutput = model(frames, audio, ctx.generator)
        return slavc_loss(out, self.frame_codes(batch, frames))

    def read_out(self, out: SLAVCOutput, size: tuple[int, int], cfg: Config) -> tuple[Tensor, Tensor, Tensor]:
        A = (torch.einsum("fdhw,fd->fhw", out.v1t.float(), out.s1t.float())
             + torch.einsum("fdhw,fd->fhw", out.v2t.float(), out.s2t.float())) / 2  # (F, h, w)
        loc = F.softmax(torch.einsum("fdhw,fd->fhw", out.v2t.float(), out.s2t.float()).flatten(1) / TAU, dim=1)  # (F, hw)
        f_v = F.normalize(torch.einsum("fdi,fi->fd", out.v1t.float().flatten(2), loc), dim=1)  # (F, d)
        return localisation_maps(A, out.fmap, size, cfg.model.ogl_alpha), f_v, out.s1t


METHOD = SLAVC()
