"""What every method does first: a collated batch's model inputs, on the device of the model's parameters."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from torch import Tensor


def batch_inputs(batch: dict[str, Any], device: torch.device) -> tuple[Tensor, Tensor, list[Tensor]]:
    """A collated batch's model inputs on `device`: frames Tensor[B, N, 3, S, S] in [0, 1], audio
    Tensor[B, N, 1, T, n_mels] and the B*N proposal boxes (each Tensor[P_i, 4]; empty without proposals)."""
    frames = batch["frames"].to(device, non_blocking=True)  # (B, N, 3, S, S)
    audio = batch["audio"].to(device, non_blocking=True)  # (B, N, 1, T, n_mels)
    proposals = [p.to(device, non_blocking=True) for p in batch["proposals"]]  # B*N x (P_i, 4)
    return frames, audio, proposals


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's parameters (works through DistributedDataParallel too)."""
    return next(model.parameters()).device
