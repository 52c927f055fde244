"""Tests for sslprop/models/batch.py: a collated batch's inputs and a model's device."""

from __future__ import annotations

import torch
import torch.nn as nn

from sslprop.models.batch import batch_inputs, model_device


def test_batch_inputs_returns_frames_audio_and_proposals_on_the_device():
    batch = {"frames": torch.rand(2, 1, 3, 8, 8), "audio": torch.rand(2, 1, 1, 96, 16),
             "proposals": [torch.tensor([[0.0, 0.0, 4.0, 4.0]]), torch.zeros(0, 4)], "video_id": ["a", "b"]}
    frames, audio, proposals = batch_inputs(batch, torch.device("cpu"))
    assert frames is batch["frames"] or torch.equal(frames, batch["frames"])
    assert audio.shape == (2, 1, 1, 96, 16) and [p.shape for p in proposals] == [(1, 4), (0, 4)]
    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
