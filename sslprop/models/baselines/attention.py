"""Attention baseline (Senocak et al., CVPR 2018): audio-guided attention over locations, distance-ratio loss.

Read after the paper and its public PyTorch code (ardasnck/learning_to_localize_sound_source,
`network.py`), unsupervised setting:

    audio s (D)       -> FC -> ReLU -> FC -> h (C), L2-normalised              (the attention's query)
    frame v (C x h x w), each location L2-normalised over channels
    alpha = softmax over the h*w locations of ReLU(cos(v_i, h))                (the localisation map)
    z = FC(ReLU(FC(ReLU(sum_i alpha_i v_i))))  (D)   with the *unnormalised* v_i
    f_s = ReLU(s)                                                              (the audio embedding)
    loss = distance ratio (f_v = z, positive f_s, negative f_s of a frame of another video)

What differs from the original, and why:
- Encoders: the shared ones of this package (small CNNs or dilated VGG16 + VGGish): pretrained and
  frozen in the cpu profile (as Senocak's frozen ImageNet VGG16 and fixed SoundNet features),
  fine-tuned with the rest in the paper profile.
  The audio side of the loss is ReLU(s) as in the public code (its `AudioNet` is a ReLU on
  the SoundNet output); here s comes from a trainable encoder.
- Only the unsupervised loss: the semi-supervised term needs box annotations at training time.
- Frames are independent: the N frames of a clip are treated as N separate pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config
from sslprop.models.baselines.common import encode, location_similarity, upsample_map
from sslprop.models.baselines.method import MapMethod
from sslprop.models.losses import distance_ratio_loss
from sslprop.models.model import mlp
from sslprop.models.negatives import StepContext


@dataclass
class AttentionOutput:
    """Senocak's network on F = B*N frames (frame-major, index b * N + n).

    attention: Tensor[F, h, w]  alpha, softmax over locations of ReLU(cos(v_i, h)), sums to 1
    map:       Tensor[F, S, S]  alpha upsampled (bilinear) to the input frame
    f_v:       Tensor[F, D]     z, the attended visual feature mapped into the audio embedding space
    f_s:       Tensor[F, D]     ReLU(s), the audio embedding
    """

    attention: Tensor
    map: Tensor
    f_v: Tensor
    f_s: Tensor


class AttentionNet(nn.Module):
    """forward(frames Tensor[B, N, 3, S, S], audio Tensor[B, N, 1, T, n_mels]) -> AttentionOutput."""

    def __init__(self, visual: nn.Module, audio: nn.Module) -> None:
        super().__init__()
        C, D = visual.out_channels, audio.out_dim
        self.visual = visual
        self.audio = audio
        self.query = mlp(D, C)  # s -> h (sound_fc1, sound_fc2 of the public code)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(C, C), nn.ReLU(inplace=True), nn.Linear(C, D))  # z

    def forward(self, frames: Tensor, audio: Tensor) -> AttentionOutput:
        fmap, s = encode(self.visual, self.audio, frames, audio)  # (F, C, h, w), (F, D)
        h = F.normalize(self.query(s), dim=1)  # (F, C)
        cos = location_similarity(F.normalize(fmap, dim=1), h)  # (F, h, w), in [-1, 1]
        alpha = F.softmax(F.relu(cos).flatten(1), dim=1).view_as(cos)  # (F, h*w) -> (F, h, w)
        z = self.head(torch.einsum("fchw,fhw->fc", fmap, alpha))  # (F, D)
        return AttentionOutput(
            attention=alpha, map=upsample_map(alpha, frames.shape[-2:]), f_v=z, f_s=F.relu(s),
        )


class Attention(MapMethod):
    """The `attention` method (see the module docstring)."""

    name = "attention"

    def network(self, visual: nn.Module, audio: nn.Module, cfg: Config) -> AttentionNet:
        return AttentionNet(visual, audio)

    def objective(self, model: nn.Module, frames: Tensor, audio: Tensor, batch: dict[str, Any], ctx: StepContext,
                  cfg: Config) -> tuple[Tensor, dict[str, Tensor]]:
        out: AttentionOutput = model(frames, audio)
        neg = self.negatives(batch, ctx, frames)  # (F,)
        ratio = distance_ratio_loss(out.f_v, out.f_s, out.f_s[neg])
        return ratio, {"loss": ratio, "ratio": ratio}

    def read_out(self, out: AttentionOutput, size: tuple[int, int], cfg: Config) -> tuple[Tensor, Tensor, Tensor]:
        return out.map, out.f_v, out.f_s


METHOD = Attention()
