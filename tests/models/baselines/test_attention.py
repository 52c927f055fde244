"""Tests for sslprop/models/baselines/attention.py."""

import torch

from tests.helpers import build_small, small_batch, small_cfg


def test_attention_sums_to_one_and_maps_into_the_audio_space():
    cfg = small_cfg()
    model = build_small("attention", cfg).eval()
    b = small_batch(n=2)
    with torch.no_grad():
        out = model(b["frames"], b["audio"])
    assert out.attention.shape == (8, 4, 4) and torch.allclose(out.attention.sum(dim=(1, 2)), torch.ones(8))
    assert out.map.shape == (8, 32, 32)
    assert out.f_v.shape == out.f_s.shape == (8, 128) and bool((out.f_s >= 0).all())
