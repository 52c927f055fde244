"""Tests for sslprop/models/baselines/lvs.py."""

import math

import pytest
import torch

from sslprop.models.baselines import lvs
from sslprop.models.baselines.common import frame_video_codes


def test_lvs_trimap_thresholds():
    pos, neg = lvs.trimap(torch.tensor([0.65, 0.4, 0.68]))
    assert torch.allclose(pos, torch.tensor([0.5, 1 / (1 + math.exp(0.25 / 0.03)), 1 / (1 + math.exp(-1.0))]))
    assert torch.allclose(neg, torch.tensor([1 / (1 + math.exp(0.25 / 0.03)), 0.5, 1 / (1 + math.exp(0.28 / 0.03))]))


def test_lvs_loss_by_hand():
    # two frames, one location each, own audio identical (A = 1), cross pairs orthogonal (A = 0):
    # logits (1, 0, 1) / 0.07 (positive, the other video, the hard negative = the same single location)
    v = torch.eye(2)[:, :, None, None]  # (F=2, d=2, 1, 1)
    s = torch.eye(2)
    loss, parts = lvs.lvs_loss(v, s, torch.tensor([0, 1]))
    assert float(loss) == pytest.approx(math.log(2 + math.exp(-1 / 0.07)), rel=1e-6)
    assert float(parts["pos"]) == pytest.approx(1.0) and float(parts["hard"]) == pytest.approx(1.0)
    easy_only, _ = lvs.lvs_loss(v, s, torch.tensor([0, 1]), hard_negative=False)
    assert float(easy_only) == pytest.approx(math.log(1 + math.exp(-1 / 0.07)), abs=1e-7)  # 6.2e-7, float32
    # a frame of the same video is no negative: only the positive is left in the softmax
    same, _ = lvs.lvs_loss(v, s, torch.tensor([0, 0]), hard_negative=False)
    assert float(same) == pytest.approx(0.0, abs=1e-7)


def test_lvs_video_codes_per_frame():
    assert frame_video_codes(["a", "b", "a"], 2).tolist() == [0, 0, 1, 1, 0, 0]
