"""Objects-that-Sound, AVOL-Net (Arandjelovic & Zisserman, ECCV 2018): location-wise audio-visual correspondence.

Read after the paper (section 4, "AVOL-Net"):

    frame -> visual encoder -> two 1x1 convs -> f_v_i (d), L2-normalised at each location i
    audio -> audio encoder -> two FC -> f_s (d), L2-normalised
    sim_i = <f_v_i, f_s>                        (in [-1, 1], one per location)
    p_i = sigmoid(a * sim_i + b)                 (calibration: a learnt scale and bias; the map)
    p = max_i p_i                                (multiple-instance: the best location decides)
    loss = binary cross-entropy of p: 1 for a frame with its own audio, 0 with the audio of
           a frame of another video (one of each per frame, so the two classes are balanced)

What differs from the original, and why:
- Encoders: the shared ones of this package, pretrained and frozen in the cpu profile, fine-tuned
  with the rest in the paper profile (the paper trains its own
  VGG-like networks from scratch on AudioSet; here the embedding size d is `model.dim`, 128
  in the paper).
- a and b start at 5 and 0 (`AVOLNet(scale=...)`; the paper gives no initial values). With
  a = 1 the sigmoid of a cosine stays within [0.27, 0.73], and Adam, whose steps are about lr
  in size, needs thousands of steps to widen it: a 3-epoch CPU run at a = 1 barely leaves
  the chance loss ln 2. The maximum is taken on the logits (sigmoid is increasing, so
  max_i p_i = sigmoid(max_i logit_i)) and the loss uses the numerically stable BCE-with-logits.
- The paper draws negatives from anywhere in the data set; here they are frames of other
  videos in the same batch (as every method of this package).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config
from sslprop.models.baselines.common import encode, location_head, location_similarity, max_location_embedding, upsample_map
from sslprop.models.baselines.method import MapMethod
from sslprop.models.model import mlp
from sslprop.models.negatives import StepContext


@dataclass
class AVOLOutput:
    """AVOL-Net on F = B*N frames (frame-major, index b * N + n).

    f_v:        Tensor[F, d, h, w]  unit-norm visual embedding of every location
    f_s:        Tensor[F, d]        unit-norm audio embedding
    logits:     Tensor[F, h, w]     a * <f_v_i, f_s> + b, the calibrated location-wise similarity
    map:        Tensor[F, S, S]     sigmoid(logits) upsampled (bilinear) to the input frame
    neg_logits: Tensor[F, h, w]     the same with the audio of frame `neg[f]`, or None without `neg`
    """

    f_v: Tensor
    f_s: Tensor
    logits: Tensor
    map: Tensor
    neg_logits: Tensor | None


class AVOLNet(nn.Module):
    """forward(frames Tensor[B, N, 3, S, S], audio Tensor[B, N, 1, T, n_mels], neg Tensor[F] | None) -> AVOLOutput."""

    def __init__(self, visual: nn.Module, audio: nn.Module, dim: int, scale: float = 5.0) -> None:
        super().__init__()
        self.visual = visual
        self.audio = audio
        self.visual_head = location_head(visual.out_channels, dim)
        self.audio_head = mlp(audio.out_dim, dim)
        self.scale = nn.Parameter(torch.tensor(float(scale)))  # calibration a
        self.bias = nn.Parameter(torch.tensor(0.0))  # calibration b

    def forward(self, frames: Tensor, audio: Tensor, neg: Tensor | None = None) -> AVOLOutput:
        """neg: Tensor[F] long, for each frame the frame whose audio makes its negative pair (None: none)."""
        fmap, s = encode(self.visual, self.audio, frames, audio)  # (F, C, h, w), (F, D)
        f_v = F.normalize(self.visual_head(fmap), dim=1)  # (F, d, h, w)
        f_s = F.normalize(self.audio_head(s), dim=1)  # (F, d)
        logits = self.scale * location_similarity(f_v, f_s) + self.bias  # (F, h, w)
        neg_logits = None if neg is None else self.scale * location_similarity(f_v, f_s[neg]) + self.bias
        return AVOLOutput(
            f_v=f_v, f_s=f_s, logits=logits, map=upsample_map(torch.sigmoid(logits), frames.shape[-2:]),
            neg_logits=neg_logits,
        )


def correspondence_loss(pos_logits: Tensor, neg_logits: Tensor) -> tuple[Tensor, Tensor]:
    """BCE of the max-pooled calibrated maps: positives labelled 1, negatives 0, averaged over both.

    pos_logits, neg_logits: Tensor[F, h, w] -> (loss Tensor[], accuracy Tensor[] of p > 0.5 on both).
    """
    pos = pos_logits.flatten(1).amax(dim=1)  # (F,)
    neg = neg_logits.flatten(1).amax(dim=1)  # (F,)
    logits = torch.cat([pos, neg])  # (2F,)
    labels = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])  # (2F,)
    loss = F.binary_cross_entropy_with_logits(logits, labels)
    accuracy = ((logits > 0).to(labels.dtype) == labels).to(labels.dtype).mean()
    return loss, accuracy


class AVOL(MapMethod):
    """The `avol` method (see the module docstring)."""

    name = "avol"

    def network(self, visual: nn.Module, audio: nn.Module, cfg: Config) -> AVOLNet:
        return AVOLNet(visual, audio, cfg.model.dim)

    def objective(self, model: nn.Module, frames: Tensor, audio: Tensor, batch: dict[str, Any], ctx: StepContext,
                  cfg: Config) -> tuple[Tensor, dict[str, Tensor]]:
        out: AVOLOutput = model(frames, audio, self.negatives(batch, ctx, frames))
        loss, accuracy = correspondence_loss(out.logits, out.neg_logits)
        return loss, {"loss": loss, "accuracy": accuracy}

    def read_out(self, out: AVOLOutput, size: tuple[int, int], cfg: Config) -> tuple[Tensor, Tensor, Tensor]:
        # f_v: the embedding at the location that decides the correspondence
        return out.map, max_location_embedding(out.f_v, out.logits), out.f_s


METHOD = AVOL()
