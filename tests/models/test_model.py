"""Tests for sslprop/models/model.py."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from sslprop.config import get_profile
from sslprop.errors import SSLPropError
from sslprop.models.losses import paper_proposal_loss
from sslprop.models.model import (
    AudioGuidedAttention,
    ModelOutput,
    _mil_weights,
    build_model,
    pool_bag,
)
from sslprop.models.negatives import negative_indices
from sslprop.ops.boxes import cap_proposals
from sslprop.ops.grm import score_boxes
from tests.helpers import S, model_batch, tiny_model


def test_output_shapes():
    model = tiny_model()
    B, N, K = 2, 3, 5
    frames, audio, props = model_batch(B, N, [12, 3, 0, 40, 7, 50])
    out = model(frames, audio, props)
    assert isinstance(out, ModelOutput)
    expected = {
        "f_s": (B, N, 8), "f_att": (B, N, 8), "f_box": (B, N, K, 8), "f_v": (B, N, 8),
        "boxes": (B, N, K, 4), "mask": (B, N, K), "d": (B, N, K), "alpha": (B, N, K),
        "attention": (B, N, 4, 4), "location_map": (B, N, S, S), "grm": (B, N, S, S),
        "box_scores": (B, N, K), "proposal_index": (B, N, K), "d_on": (B, N),
    }
    got = {name: tuple(getattr(out, name).shape) for name in expected}
    assert got == expected
    assert out.mask.dtype == torch.bool and out.proposal_index.dtype == torch.long
    assert model(frames, audio, props, k=2).d.shape == (B, N, 2)


def test_masks_for_few_and_no_proposals_and_no_nan():
    model = tiny_model()
    frames, audio, props = model_batch(1, 3, [12, 3, 0])
    out = model(frames, audio, props)
    for name, value in ((n, v) for n, v in vars(out).items() if v is not None):  # pair_* are None without pair_audio
        if value.is_floating_point():
            assert torch.isfinite(value).all(), name
    assert out.mask[0].sum(dim=1).tolist() == [5, 3, 0]
    assert out.mask[0, 1].tolist() == [True, True, True, False, False]
    assert out.proposal_index[0, 1, 3:].tolist() == [-1, -1] and sorted(out.proposal_index[0, 1, :3].tolist()) == [0, 1, 2]
    assert (out.proposal_index[0, 2] == -1).all()
    empty = ~out.mask
    for name in ("d", "alpha", "box_scores"):
        assert (getattr(out, name)[empty] == 0).all(), name
    assert (out.boxes[empty] == 0).all() and (out.f_box[empty] == 0).all()
    # the frame without proposals: f_v = 0, alpha = 0, d_on = 0
    assert (out.f_v[0, 2] == 0).all() and out.d_on[0, 2].item() == 0.0
    # its loss terms are left out, and backward stays finite
    loss, _ = paper_proposal_loss(out, out.f_s.flip(0).detach() + 1.0, lam=0.5)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_attention_hand_computed():
    att = AudioGuidedAttention(visual_dim=2, audio_dim=2, attn_dim=2)
    with torch.no_grad():
        att.u_v.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
        att.u_v.bias.zero_()
        att.u_s.weight.copy_(torch.eye(2))
        att.u_s.bias.zero_()
    v = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]]).view(1, 2, 1, 2)  # two locations: (0, 0) and (ln 3, 0)
    s = torch.tensor([[math.log(3.0), 0.0]])
    # p = (1/2, 1/2) and (3/4, 1/4); q = (3/4, 1/4); p.q = 1/2 and 5/8; w = (1/2, 5/8) / (9/8)
    w = att(v, s)
    assert w.shape == (1, 1, 2)
    assert w.flatten().tolist() == pytest.approx([4 / 9, 5 / 9], abs=1e-6)
    # silent audio direction: q uniform -> every location 1/2 -> uniform w
    assert att(v, torch.zeros(1, 2)).flatten().tolist() == pytest.approx([0.5, 0.5], abs=1e-6)


def test_attention_sums_to_one_location_map_and_grm():
    model = tiny_model()
    frames, audio, props = model_batch(2, 2, [5, 6, 7, 8])
    out = model(frames, audio, props)
    assert (out.attention > 0).all()
    assert out.attention.sum(dim=(2, 3)).flatten().tolist() == pytest.approx([1.0] * 4, abs=1e-5)
    m = F.interpolate(out.attention.flatten(0, 1)[:, None], size=(S, S), mode="bilinear", align_corners=False)
    assert torch.allclose(out.location_map, m.view(2, 2, S, S))
    # the GRM as printed: (m - min m) / max m, per frame
    lo = out.location_map.amin(dim=(2, 3), keepdim=True)
    hi = out.location_map.amax(dim=(2, 3), keepdim=True)
    assert torch.allclose(out.grm, (out.location_map - lo) / hi, atol=1e-7)
    assert out.grm.amin(dim=(2, 3)).abs().max().item() == 0.0


def test_d_is_relu_cosine_masked_and_alpha_normalised():
    model = tiny_model(seed=3, **{"model.mil_temperature": None})  # alpha = d / sum d, as printed
    frames, audio, props = model_batch(4, 1, [9, 2, 20, 1], seed=5)
    out = model(frames, audio, props)
    cos = F.cosine_similarity(out.f_s[:, :, None, :], out.f_box, dim=-1)
    assert torch.allclose(out.d, cos.clamp_min(0) * out.mask, atol=1e-6)
    assert (out.d >= 0).all() and (out.d <= 1).all()
    assert (out.d > 0).any(), "test needs some positive similarities"
    assert out.alpha.sum(dim=-1).flatten().tolist() == pytest.approx([1.0] * 4, abs=1e-6)
    pos = out.d.sum(dim=-1) > 0  # frames with some positive similarity: alpha = d / sum d
    assert torch.allclose(out.alpha[pos], out.d[pos] / out.d[pos].sum(-1, keepdim=True), atol=1e-6)
    assert torch.allclose(out.f_v, (out.alpha[..., None] * out.f_box).sum(dim=2), atol=1e-6)
    assert torch.equal(out.d_on, out.d.amax(dim=-1))
    model.cfg = dataclasses.replace(model.cfg, mil_temperature=0.1)  # the cpu profile's softmax(d / T)
    out = model(frames, audio, props)
    logits = (out.d / 0.1).masked_fill(~out.mask, float("-inf"))
    assert torch.allclose(out.alpha, torch.softmax(logits, dim=-1), atol=1e-6)


def test_mil_weights_hand_computed():
    d = torch.tensor([[0.2, 0.6, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    e = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    alpha = _mil_weights(d, e)
    assert alpha.tolist() == [
        pytest.approx([0.25, 0.75, 0.0, 0.0]),
        [0.5, 0.5, 0.0, 0.0],  # every d_k = 0: uniform over the existing proposals
        [0.0, 0.0, 0.0, 0.0],  # no proposal at all: no weight
    ]


def test_selected_boxes_are_the_top_k_by_grm_score():
    for scorer in ("sum", "mean", "soft_iou"):
        model = tiny_model(**{"model.scorer": scorer, "model.max_proposals": 30})
        frames, audio, props = model_batch(2, 1, [60, 25], seed=1)
        out = model(frames, audio, props)
        g = out.grm.flatten(0, 1)
        for i, p in enumerate(props):
            capped = cap_proposals(p, 30)  # the model considers the 30 largest
            scores = score_boxes(g[i : i + 1], [capped], scorer)[0]
            idx = out.proposal_index[i, 0]
            assert torch.equal(out.boxes[i, 0], capped[idx])
            assert torch.allclose(out.box_scores[i, 0], scores[idx])
            assert (out.box_scores[i, 0][:-1] >= out.box_scores[i, 0][1:]).all()  # slots by decreasing score
            rest = torch.ones(len(capped), dtype=torch.bool)
            rest[idx] = False
            assert out.box_scores[i, 0].min() >= scores[rest].max(), scorer


def test_gradients_reach_both_encoders_and_every_layer():
    model = tiny_model()
    frames, audio, props = model_batch(3, 2, [8, 4, 6, 0, 9, 3], seed=2)
    out = model(frames, audio, props)
    neg = out.f_s[negative_indices(["a", "b", "c"], torch.Generator().manual_seed(0))]
    loss, parts = paper_proposal_loss(out, neg, lam=0.5)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    for module in ("visual", "audio", "visual_lstm", "audio_lstm", "attention", "fc_s", "fc_att", "fc_box"):
        norm = sum(p.grad.abs().sum() for p in getattr(model, module).parameters())
        assert norm > 0, module


def test_gradient_paths_through_f_v_and_f_att():
    model = tiny_model()
    frames, audio, props = model_batch(2, 1, [8, 4], seed=4)
    out = model(frames, audio, props)
    out.f_v.sum().backward()  # proposal stream: SPP on the visual map -> fc_box
    assert model.visual.features[0][0].weight.grad.abs().sum() > 0
    assert model.fc_box[0].weight.grad.abs().sum() > 0
    assert model.attention.u_v.weight.grad is None  # selection is discrete: no gradient into the attention
    model.zero_grad(set_to_none=True)
    out = model(frames, audio, props)
    out.f_att.sum().backward()  # frame stream: attention guided by the audio
    assert model.attention.u_v.weight.grad.abs().sum() > 0 and model.attention.u_s.weight.grad.abs().sum() > 0
    assert model.audio.fc.weight.grad.abs().sum() > 0
    assert model.fc_box[0].weight.grad is None


def test_eval_forward_is_deterministic_and_audio_embedding_matches():
    model = tiny_model().eval()
    frames, audio, props = model_batch(2, 2, [5, 6, 7, 0])
    a = model(frames, audio, props)
    b = model(frames, audio, props)
    with torch.no_grad():
        c = model(frames, audio, props)
    for name, value in ((n, v) for n, v in vars(a).items() if v is not None):
        assert torch.equal(value, getattr(b, name)), name
        if value.is_floating_point():  # no_grad may take other kernels (LSTM): equal to rounding
            assert torch.allclose(value, getattr(c, name), atol=1e-5), name
        else:
            assert torch.equal(value, getattr(c, name)), name
    assert torch.allclose(model.embed_audio(audio), a.f_s)


def test_lstm_runs_forward_in_time_per_clip():
    """Changing frame 2 of clip 0 leaves its frames 0-1 and all of clip 1 unchanged (reshapes are right)."""
    model = tiny_model().eval()
    frames, audio, props = model_batch(2, 3, [6] * 6)
    a = model(frames, audio, props)
    frames2, audio2 = frames.clone(), audio.clone()
    frames2[0, 2] = torch.rand(3, S, S)
    audio2[0, 2] = torch.randn(1, 96, 16)
    b = model(frames2, audio2, props)
    for name in ("attention", "f_att", "f_s", "f_v"):
        x, y = getattr(a, name), getattr(b, name)
        assert torch.allclose(x[0, :2], y[0, :2], atol=1e-6) and torch.allclose(x[1], y[1], atol=1e-6), name
        assert not torch.allclose(x[0, 2], y[0, 2]), name
    # and frame 2 does depend on frame 1 through the LSTMs
    frames3 = frames.clone()
    frames3[0, 1] = torch.rand(3, S, S)
    c = model(frames3, audio, props)
    assert not torch.allclose(a.attention[0, 2], c.attention[0, 2])


def test_without_lstm():
    model = tiny_model(**{"model.use_lstm": False})
    assert model.visual_lstm is None and model.audio_lstm is None
    frames, audio, props = model_batch(1, 2, [4, 4])
    out = model(frames, audio, props)
    assert out.f_v.shape == (1, 2, 8)


def test_no_selection_ablation_keeps_every_proposal():
    model = tiny_model(**{"model.select_proposals": False, "model.max_proposals": 10})
    frames, audio, props = model_batch(1, 3, [4, 25, 0], seed=6)
    out = model(frames, audio, props, k=2)  # k is ignored: every proposal enters the bag
    assert out.mask.shape == (1, 3, 10)
    assert out.mask[0].sum(dim=1).tolist() == [4, 10, 0]
    assert torch.equal(out.boxes[0, 0, :4], props[0])  # input order kept
    assert torch.equal(out.boxes[0, 1], cap_proposals(props[1], 10))  # the 10 largest, in input order
    assert out.proposal_index[0, 0].tolist() == [0, 1, 2, 3, -1, -1, -1, -1, -1, -1]
    g = out.grm.flatten(0, 1)
    assert torch.allclose(out.box_scores[0, 0, :4], score_boxes(g[:1], [props[0]], model.cfg.scorer)[0])
    assert out.alpha[0, :2].sum(dim=-1).tolist() == pytest.approx([1.0, 1.0], abs=1e-6)
    loss, parts = paper_proposal_loss(out, out.f_s.roll(1, dims=1).detach(), lam=0.5, use_euclidean=False)
    loss.backward()
    assert parts["edu"].item() == 0.0


def test_bad_inputs_are_clear_errors():
    model = tiny_model()
    frames, audio, props = model_batch(1, 2, [4, 4])
    with pytest.raises(SSLPropError, match="proposal sets"):
        model(frames, audio, props[:1])
    with pytest.raises(SSLPropError, match="frames of shape"):
        model(frames[:, :1], audio, props)
    with pytest.raises(SSLPropError, match="audio of shape"):
        model(frames, audio[:, :, 0], props)
    with pytest.raises(SSLPropError, match="scorer"):
        tiny_model(**{"model.scorer": "max"})


@pytest.mark.slow
def test_paper_profile_forward_backward_on_cpu():
    """Dilated VGG16 + VGGish at 224, K = 20, one clip: the paper's sizes run end to end (~8 s on 2 cores)."""
    cfg = get_profile("paper").replace(**{"model.pretrained": False})  # random encoders: no weight files here
    torch.manual_seed(0)
    model = build_model(cfg, log=lambda msg: None)
    assert model.visual.out_channels == 512 and model.audio.out_dim == 128
    frames, audio, props = model_batch(1, 1, [300], size=224, n_mels=64)
    out = model(frames, audio, props)
    assert out.attention.shape == (1, 1, 28, 28) and out.location_map.shape == (1, 1, 224, 224)
    assert out.f_box.shape == (1, 1, 20, 512) and out.mask.all()
    assert out.f_s.shape == out.f_att.shape == out.f_v.shape == (1, 1, 512)
    loss, _ = paper_proposal_loss(out, torch.zeros_like(out.f_s), lam=cfg.train.lam)
    loss.backward()
    assert model.visual.features[0].weight.grad.abs().sum() > 0
    assert model.audio.features[0].weight.grad.abs().sum() > 0


def test_mil_weights_softmax_temperature_over_existing_slots():
    d = torch.tensor([[0.2, 0.6, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    e = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    alpha = _mil_weights(d, e, temperature=0.1)
    z = math.exp(2.0) + math.exp(6.0) + math.exp(0.0)  # softmax of d / 0.1 over the three existing slots
    assert alpha[0].tolist() == pytest.approx([math.exp(2.0) / z, math.exp(6.0) / z, 1.0 / z, 0.0])
    assert alpha[1].tolist() == pytest.approx([0.5, 0.5, 0.0, 0.0])
    assert alpha[2].tolist() == [0.0, 0.0, 0.0, 0.0]  # no proposal: no weight, no NaN


def test_pool_bag_broadcasts_one_bag_over_every_audio():
    torch.manual_seed(0)
    f_box = torch.randn(3, 2, 4, 6)  # (B, N, K, d)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]]).expand(3, 2, 4).clone()
    mask[2, 0] = False  # an empty bag
    f_s = torch.randn(3, 2, 6)
    for temperature in (None, 0.1):
        d, alpha, f_v = pool_bag(f_box, mask, f_s, temperature)
        d_all, alpha_all, f_v_all = pool_bag(f_box[:, None], mask[:, None], f_s[None], temperature)  # (B, B, N, ...)
        assert d_all.shape == (3, 3, 2, 4) and f_v_all.shape == (3, 3, 2, 6)
        for b in range(3):
            assert torch.allclose(d_all[b, b], d[b]) and torch.allclose(f_v_all[b, b], f_v[b], atol=1e-6)
            # bag of clip b with the audio of clip j: the same formula on (f_box[b], f_s[j])
            j = (b + 1) % 3
            ref = torch.relu(torch.nn.functional.cosine_similarity(f_s[j][:, None], f_box[b], dim=-1)) * mask[b]
            assert torch.allclose(d_all[b, j], ref, atol=1e-6)
        assert (f_v_all[2, :, 0] == 0).all() and (alpha_all[2, :, 0] == 0).all()


@pytest.mark.parametrize("select", [True, False])  # False: the bag does not depend on the audio and is pooled once
def test_pair_audio_runs_the_whole_localisation_with_the_other_clips_audio(select):
    model = tiny_model(seed=4, **{"model.select_proposals": select}).eval()  # eval: BatchNorm statistics fixed
    frames, audio, props = model_batch(3, 2, [12, 7, 0, 9, 15, 4], seed=6)
    pair = torch.tensor([[1, 2, 0], [2, 0, 1]])  # (M = 2, B = 3): clip b paired with the audio of clip pair[m, b]
    with torch.no_grad():
        out = model(frames, audio, props, pair_audio=pair)
        for m in range(2):
            # the same frames and proposals, with the audio of the paired clips: attention, GRM, selection, pooling
            ref = model(frames, audio[pair[m]], props)
            assert torch.allclose(out.pair_f_v[m], ref.f_v, atol=1e-5)
            assert torch.allclose(out.pair_f_s[m], ref.f_s, atol=1e-6)
        plain = model(frames, audio, props)
    assert torch.allclose(out.f_v, plain.f_v) and plain.pair_f_v is None
    for bad in (torch.tensor([1, 2, 0]), torch.tensor([[0, 1, 3]]), torch.tensor([[0, 1]])):
        with pytest.raises(SSLPropError, match="pair_audio"):
            model(frames, audio, props, pair_audio=bad)


def test_the_model_module_imports_neither_opencv_nor_a_process_pool():
    import subprocess
    import sys

    code = ("import sys, sslprop.models.model, sslprop.models.methods; "
            "print(sorted(m for m in ('cv2', 'multiprocessing.pool', 'concurrent.futures.process', 'sslprop.data.proposals') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
