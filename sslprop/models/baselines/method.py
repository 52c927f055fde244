"""The skeleton every map-based baseline shares (`MapMethod`), and the network two of them share (`ProjectionNet`).

A baseline is a `MapMethod` that names itself and gives only what is its own: its network around the
shared encoders (`network`), its loss (`objective`) and its map (`read_out`). `MapMethod` does the rest
the same way for all of them: no proposals, the encoders from `cfg.model`, the batch's frames and audio
on the model's device, the loss's parts as floats, and `infer`, one forward read out as a map with no
boxes (`common.map_inference`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config
from sslprop.models.baselines.common import encode, frame_negatives, frame_video_codes, map_inference
from sslprop.models.batch import batch_inputs, model_device
from sslprop.models.encoders import build_encoders
from sslprop.models.negatives import StepContext

if TYPE_CHECKING:
    from sslprop.models.methods import Inference


class MapMethod:
    """A map-based method as a `Method` (sslprop.models.methods); a subclass sets `name` and defines

        network(visual, audio, cfg) -> nn.Module
            its model around the encoders that `encoders` built (in that order: encoders first, then the
            network's own layers, so that parameters are created and initialised in one fixed order)
        objective(model, frames, audio, batch, ctx, cfg) -> (loss Tensor[], parts dict[str, Tensor])
            its loss on the batch's frames Tensor[B, N, 3, S, S] and audio Tensor[B, N, 1, T, n_mels]
            (on the model's device); `loss` returns the parts as floats
        read_out(out, size, cfg) -> (maps Tensor[F, S, S], f_v Tensor[F, d] | None, f_s Tensor[F, d] | None)
            its localisation map and m_on's features from the model's output on the F = B*N frames

    and may override `encoders` (a method with an audio network of its own) or `infer` (a method that
    forms m_on's negative pairs itself, see `negative_pairs` in sslprop.models.methods).
    """

    name: str
    needs_proposals = False
    audio_encoder = True  # whether the model uses the shared audio encoder (False: `train` reads no audio weights)

    # ------------------------------------------------------------------ the Method protocol

    def build(self, cfg: Config, visual_weights: str | os.PathLike | None = None,
              audio_weights: str | os.PathLike | None = None, log: Callable[[str], None] = print) -> nn.Module:
        """The method's model: the encoders (`encoders`), then the method's own layers (`network`)."""
        visual, audio = self.encoders(cfg, visual_weights, audio_weights, log)
        return self.network(visual, audio, cfg)

    def loss(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext, cfg: Config) -> tuple[Tensor, dict[str, float]]:
        """The method's `objective` on the batch, its parts as floats."""
        frames, audio = self.inputs(model, batch)
        loss, parts = self.objective(model, frames, audio, batch, ctx, cfg)
        return loss, {k: float(v.detach()) for k, v in parts.items()}

    @torch.no_grad()
    def infer(self, model: nn.Module, batch: dict[str, Any], cfg: Config) -> Inference:
        """One forward on the batch's frames and audio, read out (`read_out`) as a map with no boxes."""
        frames, audio = self.inputs(model, batch)
        return map_inference(*self.read_out(model(frames, audio), frames.shape[-2:], cfg))

    # ------------------------------------------------------------------ what a method defines

    def encoders(self, cfg: Config, visual_weights: str | os.PathLike | None, audio_weights: str | os.PathLike | None,
                 log: Callable[[str], None]) -> tuple[nn.Module, nn.Module | None]:
        """The (visual, audio) encoders the network is built around: the shared ones named by `cfg.model`."""
        return build_encoders(cfg.model, visual_weights, audio_weights, log)

    def network(self, visual: nn.Module, audio: nn.Module | None, cfg: Config) -> nn.Module:
        raise NotImplementedError(f"{type(self).__name__}.network")

    def objective(self, model: nn.Module, frames: Tensor, audio: Tensor, batch: dict[str, Any], ctx: StepContext,
                  cfg: Config) -> tuple[Tensor, dict[str, Tensor]]:
        raise NotImplementedError(f"{type(self).__name__}.objective")

    def read_out(self, out: Any, size: tuple[int, int], cfg: Config) -> tuple[Tensor, Tensor | None, Tensor | None]:
        raise NotImplementedError(f"{type(self).__name__}.read_out")

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def inputs(model: nn.Module, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """The batch's frames Tensor[B, N, 3, S, S] and audio Tensor[B, N, 1, T, n_mels] on the model's device."""
        frames, audio, _ = batch_inputs(batch, model_device(model))
        return frames, audio

    @staticmethod
    def negatives(batch: dict[str, Any], ctx: StepContext, frames: Tensor) -> Tensor:
        """For each of the F = B*N frames, the frame of another video whose audio (or frame) makes its negative
        pair (`frame_negatives`, drawn from the step's generator): Tensor[F] long on the frames' device."""
        return frame_negatives(batch["video_id"], ctx.generator, frames.shape[1]).to(frames.device)

    @staticmethod
    def frame_codes(batch: dict[str, Any], frames: Tensor) -> Tensor:
        """One integer per frame naming its video (`frame_video_codes`): Tensor[F] long on the frames' device."""
        return frame_video_codes(batch["video_id"], frames.shape[1]).to(frames.device)


@dataclass
class ProjectionOutput:
    """`ProjectionNet`'s forward for F = B*N frames (frame-major) on the h x w feature grid.

    fmap: Tensor[F, C, h, w]  the visual encoder's feature map (EZ-VSL's object prior is read from it)
    v:    Tensor[F, d, h, w]  L2-normalised visual embedding at each location
    s:    Tensor[F, d]        L2-normalised audio embedding
    A:    Tensor[F, h, w]     cosine similarity of each location with the frame's own audio
    """

    fmap: Tensor
    v: Tensor
    s: Tensor
    A: Tensor


class ProjectionNet(nn.Module):
    """Shared encoders, a 1x1 visual and a linear audio projection to d, L2-normalised (the network of lvs and ezvsl).

    forward(frames Tensor[B, N, 3, S, S], audio Tensor[B, N, 1, T, n_mels]) -> ProjectionOutput.
    """

    def __init__(self, visual: nn.Module, audio: nn.Module, dim: int) -> None:
        super().__init__()
        self.visual, self.audio = visual, audio
        self.v_proj = nn.Conv2d(self.visual.out_channels, dim, kernel_size=1)
        self.s_proj = nn.Linear(self.audio.out_dim, dim)

    def forward(self, frames: Tensor, audio: Tensor) -> ProjectionOutput:
        fmap, s = encode(self.visual, self.audio, frames, audio)  # (F, C, h, w), (F, D)
        v = F.normalize(self.v_proj(fmap), dim=1)  # (F, d, h, w)
        s = F.normalize(self.s_proj(s), dim=1)  # (F, d)
        return ProjectionOutput(fmap=fmap, v=v, s=s, A=torch.einsum("fdhw,fd->fhw", v, s))
