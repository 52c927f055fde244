"""Deep Multimodal Clustering (Hu, Nie & Li, CVPR 2019): cluster the frame's locations, match a centre to the sound.

Read after the paper (section 3): the vectors of a convolutional map are grouped by a
differentiable soft clustering with cosine proximity, run for a few EM-like iterations inside
the network; audio and visual centres that correspond are pulled together by a max-margin
loss on the audiovisual distance; the sounding object is the visual cluster whose centre
matches the sound, and its assignment map localises it.

    frame -> visual encoder -> two 1x1 convs -> u_i (d), L2-normalised, i over the h*w locations
    audio -> audio encoder -> two FC -> f_s (d), L2-normalised
    centres c_j, j = 1..k: start from k learnt unit vectors, then `iterations` times
        s_ij = softmax_j(cos(u_i, c_j) / temperature)           (E step: soft assignment)
        c_j  = normalise(sum_i s_ij u_i / sum_i s_ij)           (M step: weighted mean)
    D_j = |c_j - f_s|^2,  D = min_j D_j                          (the sounding centre j*)
    loss = mean over frames of D(own audio) + max(0, margin - D(audio of another video))
    map  = s_{i j*}, the soft assignment of each location to the sounding centre

What is simplified, and why:
- The shared audio encoders of this package pool over time and frequency (they return one
  vector, not a map), so the audio side is one component: the paper also clusters the audio
  map and matches centre pairs; with one audio vector the audiovisual distance is that of the
  audio to its nearest visual centre (a multiple-instance reading of the paper's matching).
- One shared space (the paper runs several clusterings in parallel, one per shared space).
- k, the number of iterations, the temperature and the margin are constructor arguments
  (defaults 3, 3, 0.1 and 1.0, our choice for unit vectors, where D lies in [0, 4]).
- Encoders: the shared ones of this package (pretrained and frozen in the cpu profile, fine-tuned in
  the paper profile); frames are independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config
from sslprop.errors import SSLPropError
from sslprop.models.baselines.common import encode, location_head, upsample_map
from sslprop.models.baselines.method import MapMethod
from sslprop.models.model import mlp
from sslprop.models.negatives import StepContext


@dataclass
class DMCOutput:
    """DMC on F = B*N frames (frame-major, index b * N + n), k centres on an h x w feature grid.

    assign:   Tensor[F, h, w, k]  soft assignment of each location to each centre (sums to 1 over k)
    centres:  Tensor[F, k, d]     unit-norm cluster centres of the frame's locations
    f_s:      Tensor[F, d]        unit-norm audio embedding
    dist:     Tensor[F, k]        |c_j - f_s|^2
    sounding: Tensor[F]           long, j* = argmin_j dist (the centre that matches the sound)
    map:      Tensor[F, S, S]     assign[..., j*] upsampled (bilinear) to the input frame
    neg_dist: Tensor[F, k]        |c_j - f_s[neg]|^2, or None without `neg`
    """

    assign: Tensor
    centres: Tensor
    f_s: Tensor
    dist: Tensor
    sounding: Tensor
    map: Tensor
    neg_dist: Tensor | None


def soft_cluster(u: Tensor, init: Tensor, iterations: int, temperature: float) -> tuple[Tensor, Tensor]:
    """Differentiable soft k-means with cosine proximity.

    u:    Tensor[F, L, d] unit vectors (L locations per frame)
    init: Tensor[k, d] starting centres (normalised here)
    Returns (assign Tensor[F, L, k], softmax over k of cos / temperature with the final centres,
             centres Tensor[F, k, d], unit norm).
    """
    centres = F.normalize(init, dim=1).expand(u.shape[0], -1, -1)  # (F, k, d)
    for _ in range(iterations):
        assign = F.softmax(torch.einsum("fld,fkd->flk", u, centres) / temperature, dim=2)  # (F, L, k)
        centres = F.normalize(torch.einsum("flk,fld->fkd", assign, u), dim=2)  # weighted mean, renormalised
    assign = F.softmax(torch.einsum("fld,fkd->flk", u, centres) / temperature, dim=2)  # (F, L, k)
    return assign, centres


def squared_distances(centres: Tensor, f_s: Tensor) -> Tensor:
    """|c_j - f_s|^2 for every centre: Tensor[F, k, d], Tensor[F, d] -> Tensor[F, k]."""
    return ((centres - f_s[:, None, :]) ** 2).sum(dim=2)


def max_margin_loss(pos_dist: Tensor, neg_dist: Tensor, margin: float) -> Tensor:
    """mean_f [ min_j pos_dist + max(0, margin - min_j neg_dist) ]; pos_dist, neg_dist: Tensor[F, k] -> Tensor[]."""
    return (pos_dist.amin(dim=1) + F.relu(margin - neg_dist.amin(dim=1))).mean()


class DMCNet(nn.Module):
    """forward(frames Tensor[B, N, 3, S, S], audio Tensor[B, N, 1, T, n_mels], neg Tensor[F] | None) -> DMCOutput."""

    def __init__(self, visual: nn.Module, audio: nn.Module, dim: int, centres: int = 3, iterations: int = 3,
                 temperature: float = 0.1) -> None:
        super().__init__()
        if centres < 1 or iterations < 0 or temperature <= 0:
            raise SSLPropError(f"DMC: centres = {centres}, iterations = {iterations}, temperature = {temperature}: "
                               "need at least one centre, no negative iteration count and a positive temperature")
        self.visual = visual
        self.audio = audio
        self.visual_head = location_head(visual.out_channels, dim)
        self.audio_head = mlp(audio.out_dim, dim)
        self.init_centres = nn.Parameter(torch.randn(centres, dim))  # seeded by the trainer's seed_everything
        self.iterations = iterations
        self.temperature = temperature

    def forward(self, frames: Tensor, audio: Tensor, neg: Tensor | None = None) -> DMCOutput:
        """neg: Tensor[F] long, for each frame the frame whose audio makes its negative pair (None: none)."""
        fmap, s = encode(self.visual, self.audio, frames, audio)  # (F, C, h, w), (F, D)
        u = F.normalize(self.visual_head(fmap), dim=1)  # (F, d, h, w)
        n, d, h, w = u.shape
        assign, centres = soft_cluster(u.flatten(2).transpose(1, 2), self.init_centres, self.iterations,
                                       self.temperature)  # (F, h*w, k), (F, k, d)
        assign = assign.view(n, h, w, -1)  # (F, h*w, k) -> (F, h, w, k)
        f_s = F.normalize(self.audio_head(s), dim=1)  # (F, d)
        dist = squared_distances(centres, f_s)  # (F, k)
        sounding = dist.argmin(dim=1)  # (F,)
        chosen = assign[torch.arange(n, device=assign.device), :, :, sounding]  # (F, h, w)
        return DMCOutput(
            assign=assign, centres=centres, f_s=f_s, dist=dist, sounding=sounding,
            map=upsample_map(chosen, frames.shape[-2:]),
            neg_dist=None if neg is None else squared_distances(centres, f_s[neg]),
        )


class DMC(MapMethod):
    """The `dmc` method (see the module docstring); `margin` is that of the max-margin loss."""

    name = "dmc"

    def __init__(self, centres: int = 3, iterations: int = 3, temperature: float = 0.1, margin: float = 1.0) -> None:
        self.centres, self.iterations, self.temperature, self.margin = centres, iterations, temperature, margin

    def network(self, visual: nn.Module, audio: nn.Module, cfg: Config) -> DMCNet:
        return DMCNet(visual, audio, cfg.model.dim, self.centres, self.iterations, self.temperature)

    def objective(self, model: nn.Module, frames: Tensor, audio: Tensor, batch: dict[str, Any], ctx: StepContext,
                  cfg: Config) -> tuple[Tensor, dict[str, Tensor]]:
        out: DMCOutput = model(frames, audio, self.negatives(batch, ctx, frames))
        loss = max_margin_loss(out.dist, out.neg_dist, self.margin)
        return loss, {"loss": loss, "pos": out.dist.detach().amin(dim=1).mean(), "neg": out.neg_dist.detach().amin(dim=1).mean()}

    def read_out(self, out: DMCOutput, size: tuple[int, int], cfg: Config) -> tuple[Tensor, Tensor, Tensor]:
        f_v = out.centres[torch.arange(len(out.sounding), device=out.sounding.device), out.sounding]  # (F, d)
        return out.map, f_v, out.f_s


METHOD = DMC()
