"""Shared pieces of the map-based baselines: inputs, encoders per frame, negatives and video codes per frame, map read-out.

A map-based method localises with a map on the visual encoder's grid; `predict` turns the
upsampled map into a box by thresholding it (`--map-threshold`) when the method's `Inference`
holds no box (K = 0, see `map_inference`). Everything here is a pure function of its arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.errors import SSLPropError
from sslprop.models.negatives import negative_indices, video_codes

if TYPE_CHECKING:
    from sslprop.models.methods import Inference


def check_inputs(frames: Tensor, audio: Tensor) -> None:
    """SSLPropError unless frames is Tensor[B, N, 3, H, W] and audio Tensor[B, N, 1, T, n_mels] with the same B, N."""
    if frames.dim() != 5 or frames.shape[2] != 3 or audio.dim() != 5 or audio.shape[2] != 1 \
            or frames.shape[:2] != audio.shape[:2]:
        raise SSLPropError(
            f"frames of shape {tuple(frames.shape)} with audio of shape {tuple(audio.shape)}: "
            "expected frames Tensor[B, N, 3, H, W] and audio Tensor[B, N, 1, T, n_mels] with the same B, N"
        )


def encode(visual: nn.Module, audio_encoder: nn.Module, frames: Tensor, audio: Tensor) -> tuple[Tensor, Tensor]:
    """Run the shared encoders on every frame: F = B*N frames, frame-major (index b * N + n).

    frames: Tensor[B, N, 3, S, S], audio: Tensor[B, N, 1, T, n_mels]
    Returns (fmap Tensor[F, C, h, w], s Tensor[F, D]).
    """
    check_inputs(frames, audio)
    fmap = visual(frames.flatten(0, 1))  # (B*N, C, h, w)
    s = audio_encoder(audio.flatten(0, 1))  # (B*N, D)
    return fmap, s


def upsample_map(m: Tensor, size: int | tuple[int, int]) -> Tensor:
    """A map on the feature grid brought to the frame, bilinear: Tensor[F, h, w] -> Tensor[F, H, W]."""
    return F.interpolate(m[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def frame_negatives(video_ids: list[str], generator: torch.Generator, num_frames: int) -> Tensor:
    """For every frame of a batch, the frame at the same position n of another video's clip.

    One negative clip j per clip b (`negative_indices`, drawn with `generator` only), then frame
    b * N + n is paired with frame j * N + n, as the proposal model pairs f_s[neg].
    Returns Tensor[B*N] long (CPU).
    """
    neg = negative_indices(video_ids, generator)  # (B,)
    n = torch.arange(num_frames)
    return (neg[:, None] * num_frames + n[None, :]).reshape(-1)  # (B, N) -> (B*N,)


def frame_video_codes(video_ids: Sequence[str] | Tensor, num_frames: int) -> Tensor:
    """One integer per frame naming its video: the B clips' `video_codes`, each repeated for its N frames.

    video_ids: the B clips' video ids (strings, or a Tensor[B] of integer codes, kept as they are).
    Returns Tensor[B*N] (long for strings; CPU), frame-major (index b * N + n).
    """
    return video_codes(video_ids).repeat_interleave(num_frames)  # (B,) -> (B*N,)


def map_inference(maps: Tensor, f_v: Tensor | None = None, f_s: Tensor | None = None) -> Inference:
    """The read-out of a map-based method: its maps and no boxes (predict thresholds the map for one).

    maps: Tensor[F, S, S] (higher = more likely the source); f_v, f_s: Tensor[F, d] or None.
    Returns Inference with boxes Tensor[F, 0, 4], scores Tensor[F, 0], mask Tensor[F, 0] (bool), d_on None.
    """
    from sslprop.models.methods import Inference  # noqa: PLC0415  (a cycle: models.methods imports the baselines)

    n = maps.shape[0]
    return Inference(
        maps=maps.float(),
        boxes=maps.new_zeros(n, 0, 4, dtype=torch.float32),
        scores=maps.new_zeros(n, 0, dtype=torch.float32),
        mask=torch.zeros(n, 0, dtype=torch.bool, device=maps.device),
        f_v=None if f_v is None else f_v.float(),
        f_s=None if f_s is None else f_s.float(),
        d_on=None,
    )


def location_head(in_channels: int, dim: int) -> nn.Sequential:
    """Two 1x1 convolutions (ReLU between) that embed every location of a feature map: [F, C, h, w] -> [F, dim, h, w]."""
    return nn.Sequential(nn.Conv2d(in_channels, dim, 1), nn.ReLU(inplace=True), nn.Conv2d(dim, dim, 1))


def location_similarity(f_v: Tensor, f_s: Tensor) -> Tensor:
    """Inner product of each location's embedding with the audio embedding: [F, d, h, w], [F, d] -> [F, h, w]."""
    return torch.einsum("fdhw,fd->fhw", f_v, f_s)


def object_prior(fmap: Tensor) -> Tensor:
    """The object prior of EZ-VSL's object-guided localisation: mean |feature| over channels, [F, C, h, w] -> [F, h, w]."""
    return fmap.float().abs().mean(dim=1)


def minmax(m: Tensor) -> Tensor:
    """Each map scaled to [0, 1] by its own minimum and maximum (a flat map is left as it is): Tensor[F, H, W]."""
    lo = m.flatten(1).min(dim=1).values[:, None, None]
    hi = m.flatten(1).max(dim=1).values[:, None, None]
    span = hi - lo
    return torch.where(span > 0, (m - lo) / torch.where(span > 0, span, torch.ones_like(span)), m)


def object_guided(av_map: Tensor, prior: Tensor, alpha: float) -> Tensor:
    """OGL (EZ-VSL `test.py`): minmax(alpha * minmax(av_map) + (1 - alpha) * minmax(prior)), both Tensor[F, H, W]."""
    return minmax(alpha * minmax(av_map.float()) + (1.0 - alpha) * minmax(prior.float()))


def localisation_maps(av_map: Tensor, fmap: Tensor, size: int | tuple[int, int], alpha: float | None) -> Tensor:
    """A map on the feature grid [F, h, w] brought to the frame; with `alpha` combined with the object prior of `fmap` (OGL)."""
    up = upsample_map(av_map.float(), size)
    if alpha is None:
        return up
    return object_guided(up, upsample_map(object_prior(fmap), size), alpha)


def max_location_embedding(v: Tensor, A: Tensor) -> Tensor:
    """The embedding at each map's best location: v Tensor[F, d, h, w], A Tensor[F, h, w] -> Tensor[F, d]."""
    best = A.flatten(1).argmax(dim=1)  # (F,)
    return v.flatten(2)[torch.arange(len(v), device=v.device), :, best]
