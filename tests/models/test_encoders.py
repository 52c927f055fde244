"""Tests for sslprop/models/encoders.py."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torchvision

from sslprop.config import ModelConfig, get_profile
from sslprop.errors import SSLPropError
from sslprop.models.encoders import (
    SPP,
    SmallAudio,
    SmallVisual,
    VGG16Backbone,
    VGGish,
    build_encoders,
    load_vgg16_weights,
    load_vggish_weights,
)

# The torchvggish port's state-dict layout (vggish-10086976.pth): key -> shape.
VGGISH_LAYOUT = {
    "features.0.weight": (64, 1, 3, 3), "features.0.bias": (64,),
    "features.3.weight": (128, 64, 3, 3), "features.3.bias": (128,),
    "features.6.weight": (256, 128, 3, 3), "features.6.bias": (256,),
    "features.8.weight": (256, 256, 3, 3), "features.8.bias": (256,),
    "features.11.weight": (512, 256, 3, 3), "features.11.bias": (512,),
    "features.13.weight": (512, 512, 3, 3), "features.13.bias": (512,),
    "embeddings.0.weight": (4096, 12288), "embeddings.0.bias": (4096,),
    "embeddings.2.weight": (4096, 4096), "embeddings.2.bias": (4096,),
    "embeddings.4.weight": (128, 4096), "embeddings.4.bias": (128,),
}  # fmt: skip


def port_state_dict(seed: int = 1234) -> dict[str, torch.Tensor]:
    """A deterministic state dict in the port's layout: He-scaled normal weights, N(0, 0.1) biases."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape in VGGISH_LAYOUT.items():  # insertion order: weight then bias, layer by layer
        if key.endswith(".weight"):
            fan_in = math.prod(shape[1:])
            sd[key] = torch.randn(*shape, generator=g) * math.sqrt(2.0 / fan_in)
        else:
            sd[key] = torch.randn(*shape, generator=g) * 0.1
    return sd


@pytest.fixture(scope="module")
def vggish() -> VGGish:
    return VGGish().eval()


@pytest.fixture(scope="module")
def tv_vgg16_state_dict() -> dict[str, torch.Tensor]:
    return torchvision.models.vgg16(weights=None).state_dict()


def test_vggish_state_dict_has_the_port_layout(vggish):
    assert {k: tuple(v.shape) for k, v in vggish.state_dict().items()} == VGGISH_LAYOUT
    assert vggish.out_dim == 128


def test_vggish_matches_the_port_on_the_same_weights(vggish, tmp_path):
    sd = port_state_dict(1234)
    sd["pproc.pca_matrix"] = torch.eye(128)  # a whole saved port model also holds its PCA: ignored
    sd["pproc.pca_means"] = torch.zeros(128, 1)
    path = tmp_path / "vggish.pth"
    torch.save(sd, path)
    assert load_vggish_weights(vggish, path) == ["pproc.pca_matrix", "pproc.pca_means"]
    assert torch.equal(vggish.embeddings[0].weight, sd["embeddings.0.weight"])
    x = torch.randn(3, 1, 96, 64, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        y = vggish(x)
    assert y.shape == (3, 128)
    # Expected values computed with the port's own classes (harritaylor/torchvggish,
    # torchvggish/vggish.py at f3f9096: VGG(make_layers()), eval mode) loaded with
    # port_state_dict(1234) on this input; our outputs matched that model with max abs
    # difference 0.0 over all 3 x 128 numbers (torch 2.9.1, CPU).
    port_row0 = [1.4672904014587402, 0.0, 3.6936705112457275, 0.36653420329093933,
                 0.0, 6.167546272277832, 0.0, 13.100213050842285]  # fmt: skip
    port_sums = [187.0403594970703, 192.9368133544922, 189.06593322753906]
    assert y[0, :8].tolist() == pytest.approx(port_row0, rel=1e-4, abs=1e-4)
    assert y[2, -4:].tolist() == pytest.approx([0.0, 0.0, 0.0, 6.619865417480469], rel=1e-4, abs=1e-4)
    assert y.sum(1).tolist() == pytest.approx(port_sums, rel=1e-5)
    # The port flattens (B, 512, 6, 4) in (h, w, c) order; a channel-first flatten differs.
    with torch.no_grad():
        wrong = vggish.embeddings(vggish.features(x).flatten(1))
    assert (wrong - y).abs().max() > 1.0


def test_vggish_wrong_layout_names_the_keys(vggish, tmp_path):
    sd = {k.replace("embeddings.", "fc."): torch.zeros(1) for k in VGGISH_LAYOUT}
    path = tmp_path / "bad.pth"
    torch.save(sd, path)
    with pytest.raises(SSLPropError, match=r"bad\.pth: not in the VGGish.*missing keys embeddings\.0\.bias.*unexpected keys fc\.0\.bias"):
        load_vggish_weights(vggish, path)
    torch.save({k: torch.zeros(1) for k in VGGISH_LAYOUT}, path)  # right names, wrong shapes
    with pytest.raises(SSLPropError, match=r"wrong shapes: embeddings\.0\.bias \(1,\) \(expected \(4096,\)\)"):
        load_vggish_weights(vggish, path)
    path.write_bytes(b"not a torch file")
    with pytest.raises(SSLPropError, match=r"bad\.pth: cannot read weights"):
        load_vggish_weights(vggish, path)
    torch.save([torch.zeros(1)], path)
    with pytest.raises(SSLPropError, match="not a state dict"):
        load_vggish_weights(vggish, path)
    with pytest.raises(SSLPropError, match="weight file not found"):
        load_vggish_weights(vggish, tmp_path / "absent.pth")


def test_vggish_rejects_patches_of_another_shape(vggish):
    with pytest.raises(SSLPropError, match=r"expected log-mel examples Tensor\[B, 1, 96, 64\], got \(2, 1, 96, 40\)"):
        vggish(torch.zeros(2, 1, 96, 40))


def test_vgg16_loads_torchvision_state_dict_unchanged(tv_vgg16_state_dict, tmp_path):
    tv = tv_vgg16_state_dict
    model = VGG16Backbone()
    assert set(model.state_dict()) == {k for k in tv if k.startswith("features.")}
    path = tmp_path / "vgg16.pth"
    torch.save(tv, path)
    ignored = load_vgg16_weights(model, path)
    assert ignored == sorted(f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias"))
    for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28):
        assert torch.equal(model.features[i].weight, tv[f"features.{i}.weight"])
        assert torch.equal(model.features[i].bias, tv[f"features.{i}.bias"])
    # wrong layout: a conv missing and a batch-norm key (vgg16_bn indices) present
    bad = {k: v for k, v in tv.items() if not k.startswith("features.28.")}
    bad["features.1.running_mean"] = torch.zeros(64)
    torch.save(bad, path)
    with pytest.raises(SSLPropError, match=r"vgg16\.pth: not in the torchvision vgg16 layout \(missing keys features\.28\.bias, "
                                           r"features\.28\.weight; unexpected keys features\.1\.running_mean\)"):
        load_vgg16_weights(model, path)


def test_vgg16_is_dilated_with_stride_8():
    model = VGG16Backbone()
    f = model.features
    assert isinstance(f[23], nn.Identity) and isinstance(f[30], nn.Identity)
    assert [type(f[i]).__name__ for i in (4, 9, 16)] == ["MaxPool2d"] * 3
    for i in (24, 26, 28):
        assert f[i].dilation == (2, 2) and f[i].padding == (2, 2)
    for i in (17, 19, 21):
        assert f[i].dilation == (1, 1) and f[i].padding == (1, 1)
    assert (model.out_channels, model.stride) == (512, 8)
    assert model(torch.rand(1, 3, 96, 96)).shape == (1, 512, 12, 12)


def test_vgg16_forward_backward_at_224():
    torch.manual_seed(0)
    model = VGG16Backbone()
    frames = torch.rand(1, 3, 224, 224, requires_grad=True)
    fmap = model(frames)
    assert fmap.shape == (1, 512, 28, 28)
    spp = SPP((1, 2, 4), stride=model.stride)
    feats = spp(fmap, [torch.tensor([[0.0, 0.0, 224.0, 224.0], [40.0, 60.0, 120.0, 200.0]])])
    assert feats.shape == (2, 512 * 21) and spp.out_dim(512) == 512 * 21
    feats.sum().backward()
    assert frames.grad is not None and frames.grad.abs().sum() > 0
    assert model.features[0].weight.grad.abs().sum() > 0
    assert torch.isfinite(model.features[28].weight.grad).all()


def test_spp_hand_computed_bins():
    g = torch.Generator().manual_seed(0)
    fmap = torch.randn(2, 3, 12, 12, generator=g)  # stride 8: frames of 96 px
    spp = SPP((1, 2), stride=8)
    boxes = [torch.tensor([[0.0, 0.0, 96.0, 96.0], [0.0, 0.0, 88.0, 88.0]]), torch.tensor([[16.0, 16.0, 40.0, 40.0]])]
    out = spp(fmap, boxes)
    assert out.shape == (3, 3 * (1 + 4)) and spp.out_dim(3) == 15
    a, b = fmap[0], fmap[1]
    # level 1, whole frame: the global max of each channel
    assert torch.equal(out[0, :3], a.amax(dim=(1, 2)))
    # level 2, box to 88 px: roi_pool covers cells round(0/8)..round(88/8) = 0..11 inclusive, 6 x 6 quadrants
    quads = out[1, 3:].view(3, 2, 2)  # (C, row, col)
    assert torch.equal(quads[:, 0, 0], a[:, :6, :6].amax(dim=(1, 2)))
    assert torch.equal(quads[:, 0, 1], a[:, :6, 6:].amax(dim=(1, 2)))
    assert torch.equal(quads[:, 1, 0], a[:, 6:, :6].amax(dim=(1, 2)))
    assert torch.equal(quads[:, 1, 1], a[:, 6:, 6:].amax(dim=(1, 2)))
    # box [16, 16, 40, 40] of frame 1: cells 2..5 inclusive
    assert torch.equal(out[2, :3], b[:, 2:6, 2:6].amax(dim=(1, 2)))
    # a frame without proposals adds no rows
    assert spp(fmap, [boxes[0], torch.zeros(0, 4)]).shape == (2, 15)
    assert spp(fmap, [torch.zeros(0, 4), torch.zeros(0, 4)]).shape == (0, 15)


def test_spp_pools_bfloat16_maps_exactly():
    fmap = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(1)).bfloat16()
    out = SPP((1,), stride=8)(fmap, [torch.tensor([[0.0, 0.0, 48.0, 48.0]])])
    assert out.dtype == torch.float32
    assert torch.equal(out[0], fmap[0].float().amax(dim=(1, 2)))


def test_spp_gradient_reaches_the_maxima():
    fmap = torch.zeros(1, 1, 4, 4)
    fmap[0, 0, 1, 2] = 5.0
    fmap.requires_grad_(True)
    out = SPP((1,), stride=8)(fmap, [torch.tensor([[0.0, 0.0, 32.0, 32.0]])])
    assert out.tolist() == [[5.0]]
    out.sum().backward()
    expected = torch.zeros(1, 1, 4, 4)
    expected[0, 0, 1, 2] = 1.0
    assert torch.equal(fmap.grad, expected)


def test_spp_rejects_bad_levels_and_batch_mismatch():
    with pytest.raises(SSLPropError, match="spp_levels"):
        SPP((0, 2))
    with pytest.raises(ValueError, match="1 box tensors for a batch of 2"):
        SPP((1,))(torch.zeros(2, 4, 3, 3), [torch.zeros(0, 4)])


def test_small_encoders_shapes_and_gradients():
    torch.manual_seed(0)
    vis, aud = SmallVisual(8), SmallAudio(4, out_dim=32)
    assert (vis.out_channels, vis.stride, aud.out_dim) == (32, 8, 32)
    fmap = vis(torch.rand(2, 3, 96, 96))
    emb = aud(torch.randn(2, 1, 96, 64))
    assert fmap.shape == (2, 32, 12, 12) and emb.shape == (2, 32)
    assert vis(torch.rand(2, 3, 64, 64)).shape == (2, 32, 8, 8)
    (fmap.mean() + emb.mean()).backward()
    assert vis.features[0][0].weight.grad.abs().sum() > 0
    assert aud.features[0][0].weight.grad.abs().sum() > 0


def test_build_encoders_cpu_profile_loads_the_shipped_weights_or_says_random():
    lines: list[str] = []
    vis, aud = build_encoders(get_profile("cpu").model, log=lines.append)
    assert isinstance(vis, SmallVisual) and isinstance(aud, SmallAudio)
    assert (vis.out_channels, aud.out_dim) == (4 * 32, 128)
    assert len(lines) == 2 and lines[0].startswith("visual encoder small: loaded weights from ")
    assert lines[0].endswith("small_visual.pt") and lines[1].endswith("small_audio.pt")
    lines.clear()
    scratch = get_profile("cpu").replace(**{"model.pretrained": False}).model  # `train --from-scratch`
    build_encoders(scratch, log=lines.append)
    assert lines == [
        "visual encoder small: no --visual-weights given, starting from random weights",
        "audio encoder small: no --audio-weights given, starting from random weights",
    ]


def test_build_encoders_paper_profile_picks_vgg16_and_vggish():
    """Random only when asked (`--from-scratch`): by default the paper profile loads ImageNet / AudioSet (test_hub.py)."""
    assert get_profile("paper").model.pretrained
    lines: list[str] = []
    vis, aud = build_encoders(get_profile("paper").replace(**{"model.pretrained": False}).model, log=lines.append)
    assert isinstance(vis, VGG16Backbone) and isinstance(aud, VGGish)
    assert lines[0] == "visual encoder vgg16: no --visual-weights given, starting from random weights"
    assert lines[1] == "audio encoder vggish: no --audio-weights given, starting from random weights"


def test_build_encoders_loads_small_weights_and_reports_errors(tmp_path):
    cfg = ModelConfig(visual_width=8, audio_width=4)
    torch.manual_seed(3)
    src = SmallVisual(8)
    path = tmp_path / "vis.pth"
    torch.save(src.state_dict(), path)
    lines: list[str] = []
    vis, _ = build_encoders(cfg, visual_weights=str(path), log=lines.append)
    assert all(torch.equal(a, b) for a, b in zip(vis.state_dict().values(), src.state_dict().values()))
    assert lines[0] == f"visual encoder small: loaded weights from {path}"
    with pytest.raises(SSLPropError, match=r"absent\.pth: audio weight file not found \(--audio-weights\)"):
        build_encoders(cfg, audio_weights=str(tmp_path / "absent.pth"), log=lines.append)
    with pytest.raises(SSLPropError, match=r"vis\.pth: not in the sslprop SmallAudio layout"):
        build_encoders(cfg, audio_weights=str(path), log=lines.append)
    with pytest.raises(SSLPropError, match=r"model\.visual 'resnet': unknown visual encoder \(choose from small, vgg16\)"):
        build_encoders(ModelConfig(visual="resnet"), log=lines.append)
    with pytest.raises(SSLPropError, match=r"model\.audio 'panns': unknown audio encoder \(choose from small, vggish\)"):
        build_encoders(ModelConfig(audio="panns"), log=lines.append)
