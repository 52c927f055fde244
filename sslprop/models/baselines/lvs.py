"""LVS, "Localizing Visual Sounds the Hard Way" (Chen et al., CVPR 2021): tri-map contrastive learning with hard negatives.

Per frame, the audio embedding is compared with every location of the visual embedding
(cosine similarity, both L2-normalised): the map A (h x w). A soft tri-map splits it:
    Pos = sigmoid((A - eps_p) / tau)           eps_p = 0.65   (confidently the source)
    Neg = 1 - sigmoid((A - eps_n) / tau)       eps_n = 0.40   (confidently background)
    tau = 0.03; the band between the two thresholds is ignored.
Three kinds of similarity enter one softmax (temperature 0.07, cross-entropy, target = the positive):
    positive        mean of A over Pos:                          sum(Pos * A) / sum(Pos)
    easy negatives  the same with another clip's audio, for every other clip of the batch
    hard negative   the background of the same frame:            sum(Neg * A) / sum(Neg)
The localisation map is A itself, upsampled (bilinear) to the frame, as in LVS's test code.

Written from the paper and the public code (hche11/Localizing-Visual-Sounds-the-Hard-Way,
`model.py`). Where we differ, and why:
- Embeddings: LVS compares ResNet-18 image features (512 channels) with ResNet-18 audio
  features (512) directly. Our shared encoders need not agree in width (VGG16 512, VGGish
  128), so a 1x1 convolution brings the visual map and a Linear the audio vector to
  `cfg.model.dim` before the normalisation; the rest is unchanged.
- Easy negatives: LVS uses every other clip of the batch and removes the diagonal by
  multiplying it with -99 (a wrong sign when the similarity is negative). We mask every
  pair from the same video (the diagonal included) out of the softmax instead, so a clip
  is never its own negative nor one of another window of its video. No random draw is
  needed: the generator is unused.
- Neg is computed as sigmoid(-(A - eps_n) / tau), the same value without the cancellation
  of 1 - sigmoid(...) in float32, and the tri-map sums are taken in float32 (under AMP too).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config
from sslprop.models.baselines.common import upsample_map
from sslprop.models.baselines.method import MapMethod, ProjectionNet, ProjectionOutput
from sslprop.models.negatives import StepContext

EPSILON_POS = 0.65  # eps: above it a location is positive (LVS `epsilon`)
EPSILON_NEG = 0.40  # eps': below it a location is background (LVS `epsilon2`)
TAU = 0.03  # sharpness of the soft tri-map thresholds
TEMPERATURE = 0.07  # softmax temperature of the contrastive logits


def trimap(A: Tensor, eps_pos: float = EPSILON_POS, eps_neg: float = EPSILON_NEG, tau: float = TAU) -> tuple[Tensor, Tensor]:
    """Soft positive and negative regions of similarity maps: A Tensor[..., h, w] -> (Pos, Neg), same shape."""
    return torch.sigmoid((A - eps_pos) / tau), torch.sigmoid((eps_neg - A) / tau)


def region_mean(A: Tensor, weight: Tensor) -> Tensor:
    """Weighted mean of a map over its locations: sum(weight * A) / sum(weight), Tensor[..., h, w] -> Tensor[...]."""
    return (weight * A).flatten(-2).sum(-1) / weight.flatten(-2).sum(-1)


def lvs_loss(v: Tensor, s: Tensor, video_codes: Tensor, hard_negative: bool = True,
             temperature: float = TEMPERATURE) -> tuple[Tensor, dict[str, Tensor]]:
    """LVS's contrastive loss over the F frames of a batch.

    v: Tensor[F, d, h, w] and s: Tensor[F, d], L2-normalised; video_codes: Tensor[F] long, frames
    with the same code are never each other's negatives. hard_negative=False drops the background
    term (LVS without `--Neg`). Returns (loss Tensor[], parts "loss", "pos", "hard" detached).
    """
    v, s = v.float(), s.float()
    A_all = torch.einsum("fdhw,gd->fghw", v, s)  # (F, F, h, w): frame f's locations with audio g
    pos_all, _ = trimap(A_all)
    sim_all = region_mean(A_all, pos_all)  # (F, F)
    A = torch.diagonal(A_all).permute(2, 0, 1)  # (F, h, w), own audio
    pos, neg = trimap(A)
    sim_pos = region_mean(A, pos)  # (F,)
    same = video_codes[:, None] == video_codes[None, :]  # (F, F)
    easy = sim_all.masked_fill(same, float("-inf"))  # (F, F), only other videos' audio remain
    columns = [sim_pos[:, None], easy]
    sim_hard = region_mean(A, neg)  # (F,)
    if hard_negative:
        columns.append(sim_hard[:, None])
    logits = torch.cat(columns, dim=1) / temperature  # (F, 1 + F [+ 1])
    target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
    loss = F.cross_entropy(logits, target)
    return loss, {"loss": loss.detach(), "pos": sim_pos.mean().detach(), "hard": sim_hard.mean().detach()}


class LVS(MapMethod):
    """Localizing Visual Sounds the Hard Way (Chen et al. 2021) as a `Method`; its network is `ProjectionNet`."""

    name = "lvs"
    hard_negative = True  # LVS's `--Neg`: the background of the same frame as a negative

    def network(self, visual: nn.Module, audio: nn.Module, cfg: Config) -> ProjectionNet:
        return ProjectionNet(visual, audio, cfg.model.dim)

    def objective(self, model: nn.Module, frames: Tensor, audio: Tensor, batch: dict[str, Any], ctx: StepContext,
                  cfg: Config) -> tuple[Tensor, dict[str, Tensor]]:
        out: ProjectionOutput = model(frames, audio)
        return lvs_loss(out.v, out.s, self.frame_codes(batch, frames), self.hard_negative)

    def read_out(self, out: ProjectionOutput, size: tuple[int, int], cfg: Config) -> tuple[Tensor, Tensor, Tensor]:
        pos, _ = trimap(out.A.float())
        weight = pos / pos.flatten(1).sum(1)[:, None, None]  # (F, h, w), sums to 1
        f_v = F.normalize(torch.einsum("fdhw,fhw->fd", out.v.float(), weight), dim=1)  # (F, d) the positive region
        return upsample_map(out.A.float(), size), f_v, out.s


METHOD = LVS()
