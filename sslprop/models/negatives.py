"""Negative pairs: which other clip (its audio or its frame) each clip is contrasted with, and the random streams they are drawn from.

Every method draws its negatives here, from a generator the trainer hands each step, so that a run
is deterministic in its seed; `sslprop predict`'s m_on calibration draws each clip's negative from the
whole split being predicted (`split_negatives`), so that its decisions do not depend on the batch size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from sslprop.errors import SSLPropError

SEED_STRIDE = 1_000_003  # a prime: (seed, epoch, step) and (seed, first sample) give distinct generator seeds


def step_generator(seed: int, epoch: int, step: int) -> torch.Generator:
    """The random stream of one training step: fixed by (seed, epoch, step), so a resumed run draws the same negatives."""
    return torch.Generator().manual_seed(((seed * SEED_STRIDE + epoch) * SEED_STRIDE + step) % (2**63))


@dataclass(frozen=True)
class StepContext:
    """What the trainer hands a method's `loss` at each step: the step's generator and its position.

    epoch and step are None for a call made by hand (a notebook or a test): methods whose loss
    follows a schedule (DSOL's stages) then keep their current stage.
    """

    generator: torch.Generator
    epoch: int | None = None
    step: int | None = None

    @classmethod
    def at(cls, seed: int, epoch: int, step: int) -> StepContext:
        """The trainer's context for (epoch, step) of a run seeded with `seed`."""
        return cls(step_generator(seed, epoch, step), epoch, step)


def negative_indices(video_ids: Sequence[str] | Tensor, generator: torch.Generator | None = None) -> Tensor:
    """For each item of a batch, a uniformly random other item that comes from a different video.

    video_ids: the B items' video ids (strings, or a Tensor[B] of integer codes)
    generator: a CPU torch.Generator for reproducible draws (None: the global RNG)
    Returns Tensor[B] long (on the CPU), index j of the negative of item i with video_ids[j] != video_ids[i].
    Raises SSLPropError when the batch holds clips of one video only (no negative exists).
    """
    codes = video_codes(video_ids)
    if codes.numel() == 0:
        raise SSLPropError("negative_indices: empty batch")
    other = codes[:, None] != codes[None, :]  # (B, B): True where j is from another video than i
    if not bool(other.any(dim=1).all()):
        raise SSLPropError(
            f"batch of {codes.numel()} clips holds one video only ({_first_id(video_ids)!r}): "
            "negatives need clips of another video (shuffle the data or raise the batch size)"
        )
    return torch.multinomial(other.to(torch.float), 1, generator=generator).squeeze(1)  # (B,)


def _first_id(video_ids: Sequence[str] | Tensor) -> str:
    return str(video_ids[0].item() if isinstance(video_ids, Tensor) else video_ids[0])


def paired_indices(video_ids: Sequence[str] | Tensor, generator: torch.Generator, m: int) -> Tensor:
    """The clips whose audio each clip is localised with for its m paired negatives (`train.paired_negatives`).

    Returns Tensor[m, B] long (CPU): row r holds, for every clip, an independent `negative_indices`
    draw, in order, from `generator` (the step's).
    """
    return torch.stack([negative_indices(video_ids, generator) for _ in range(m)])


def split_negatives(video_ids: Sequence[str] | Tensor, generator: torch.Generator) -> Tensor:
    """For each clip of a whole split, a uniformly random clip of another video: what `negative_indices` draws
    within a batch, for any number of clips C (no C x C matrix).

    video_ids: the C clips' video ids; generator: a CPU torch.Generator (predict seeds it with the run's seed).
    Returns Tensor[C] long (CPU). Raises SSLPropError when every clip comes from one video.
    """
    codes = video_codes(video_ids)
    if len(set(codes.tolist())) < 2:
        raise SSLPropError(f"{codes.numel()} clips of one video only ({_first_id(video_ids)!r}): negatives need another video")
    order = torch.argsort(codes, stable=True)  # clips grouped by video
    counts = torch.bincount(codes)  # (V,) clips per video
    start = (torch.cumsum(counts, 0) - counts)[codes]  # (C,) where each clip's video begins in `order`
    own = counts[codes]  # (C,) clips of each clip's own video
    others = codes.numel() - own  # (C,) clips of other videos
    r = torch.minimum((torch.rand(codes.numel(), generator=generator, dtype=torch.float64) * others).long(), others - 1)
    return order[torch.where(r < start, r, r + own)]  # skip over the clip's own video's block


def video_codes(video_ids: Sequence[str] | Tensor) -> Tensor:
    if isinstance(video_ids, Tensor):
        return video_ids.detach().to("cpu").reshape(-1)
    lookup: dict[str, int] = {}
    return torch.tensor([lookup.setdefault(v, len(lookup)) for v in video_ids], dtype=torch.long)
