"""Tests for sslprop/models/baselines/pixelplayer.py."""

import torch

from sslprop.models.baselines import pixelplayer
from tests.helpers import MAP_S, build_method, map_batch, map_cfg


def test_pixelplayer_magnitude_inverts_the_log_mel():
    mel = torch.tensor([0.0, 0.5, 3.0])
    assert torch.allclose(pixelplayer.magnitude(torch.log(mel + 0.01)), mel, atol=1e-6)


def test_pixelplayer_unet_keeps_the_spectrogram_size():
    net = pixelplayer.UNet(out_channels=5, width=4, depth=4)
    assert net(torch.randn(2, 1, 96, 40)).shape == (2, 5, 96, 40)  # 40 is not a multiple of 16


def test_pixelplayer_targets_are_the_dominant_source():
    cfg = map_cfg()
    _, model = build_method("pixelplayer", cfg)
    mags = torch.tensor([[1.0, 2.0], [3.0, 2.0]]).repeat(1, 8)  # two clips, 16 bins: (1, 2, 1, 2, ...), (3, 2, ...)
    audio = torch.log(mags + 0.01).reshape(2, 1, 1, 1, 16).expand(2, 1, 1, 96, 16).contiguous()
    out = model(torch.rand(2, 1, 3, MAP_S, MAP_S), audio, torch.tensor([1, 0]))
    assert out.target[0, :, 0, :2].tolist() == [[0.0, 0.0], [1.0, 0.0]]  # clip 0 vs clip 1: 1 < 2, 2 = 2 (not >)
    assert out.target[1, :, 0, :2].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert torch.allclose(out.weight[0, 0, 0, :2], torch.log1p(torch.tensor([4.0, 4.0])), atol=1e-5)


def test_pixelplayer_energy_with_a_neutral_synthesizer_is_half_the_energy_everywhere():
    cfg = map_cfg()
    _, model = build_method("pixelplayer", cfg)
    model.eval()
    with torch.no_grad():
        model.scale.zero_()  # every mask = sigmoid(0) = 1/2
    batch = map_batch(b=2)
    out = model(batch["frames"], batch["audio"])
    expected = 0.5 * pixelplayer.magnitude(batch["audio"]).flatten(1).sum(1)  # (2,)
    assert torch.allclose(out.energy, expected[:, None, None].expand_as(out.energy), rtol=1e-5)
