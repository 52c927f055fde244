"""Map-based baselines attention, avol and dmc: their pieces by hand, one training step, train -> predict -> eval."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sslprop.baselines import attention, avol, common, dmc
from sslprop.config import get_profile
from sslprop.data.audio import write_wav
from sslprop.data.format import Frame, Sample, write_manifest
from sslprop.evaluate import evaluate
from sslprop.methods import METHODS, get_method
from sslprop.predict import predict
from sslprop.train import train

NAMES = ("attention", "avol", "dmc")


def _cfg(**over):
    base = {"data.frame_size": 32, "model.pretrained": False, "model.visual_width": 4, "model.audio_width": 4, "model.dim": 8,
            "train.epochs": 1, "train.batch_size": 4, "train.device": "cpu"}
    return get_profile("cpu").replace(**{**base, **over})


def _batch(b: int = 4, n: int = 1, size: int = 32) -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "frames": torch.rand(b, n, 3, size, size, generator=g),
        "audio": torch.randn(b, n, 1, 96, 64, generator=g),
        "proposals": [torch.zeros(0, 4)] * (b * n),
        "video_id": [f"v{i}" for i in range(b)],
        "keys": [f"s{i}/{j}" for i in range(b) for j in range(n)],
    }


def _build(name: str, cfg):
    torch.manual_seed(0)
    return get_method(name).build(cfg, None, None, lambda msg: None)


# ----------------------------------------------------------------------------- registry and common helpers


def test_registered_as_map_methods():
    for name, module in zip(NAMES, (attention, avol, dmc)):
        assert METHODS[name] is module.METHOD
        assert METHODS[name].name == name and METHODS[name].needs_proposals is False


def test_frame_negatives_pair_the_same_frame_position_of_another_clip():
    video_ids = ["a", "a", "b"]
    neg = common.frame_negatives(video_ids, torch.Generator().manual_seed(0), num_frames=2)  # (B*N,) = (6,)
    # clips 0 and 1 (video a) can only take clip 2; clip 2 takes clip 0 or 1
    assert neg[:4].tolist() == [4, 5, 4, 5]
    assert neg[4].item() in (0, 2) and neg[5].item() == neg[4].item() + 1


def test_map_inference_holds_no_box():
    inf = common.map_inference(torch.ones(3, 8, 8, dtype=torch.float64))
    assert inf.maps.dtype == torch.float32 and inf.boxes.shape == (3, 0, 4)
    assert inf.scores.shape == (3, 0) and inf.mask.shape == (3, 0) and inf.mask.dtype == torch.bool
    assert inf.f_v is None and inf.f_s is None and inf.d_on is None


def test_upsample_map_of_a_constant_is_constant():
    m = common.upsample_map(torch.full((2, 4, 4), 0.25), (32, 32))
    assert m.shape == (2, 32, 32) and torch.allclose(m, torch.full_like(m, 0.25))


# ----------------------------------------------------------------------------- losses and clustering by hand


def test_avol_correspondence_loss_by_hand():
    pos = torch.tensor([[[0.0, 2.0], [-1.0, 1.0]]])  # max 2 -> label 1
    neg = torch.tensor([[[-3.0, -1.0], [0.0, -2.0]]])  # max 0 -> label 0
    loss, acc = avol.correspondence_loss(pos, neg)
    expected = (math.log1p(math.exp(-2.0)) + math.log(2.0)) / 2  # -log sigmoid(2), -log(1 - sigmoid(0))
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert acc.item() == pytest.approx(1.0)  # a logit of 0 (p = 0.5) counts as "no correspondence": right for the negative


def test_dmc_max_margin_loss_by_hand():
    pos = torch.tensor([[0.5, 0.2, 3.0], [1.0, 2.0, 4.0]])  # min 0.2, 1.0
    neg = torch.tensor([[0.4, 2.0, 2.0], [3.0, 1.5, 2.0]])  # min 0.4 -> hinge 0.6; min 1.5 -> hinge 0
    assert dmc.max_margin_loss(pos, neg, margin=1.0).item() == pytest.approx(((0.2 + 0.6) + (1.0 + 0.0)) / 2)


def test_dmc_soft_cluster_finds_two_groups():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    u = torch.stack([a, a, a, b, b])[None]  # (1, 5, 2): three locations on one axis, two on the other
    init = torch.tensor([[1.0, 0.2], [0.2, 1.0]])
    assign, centres = dmc.soft_cluster(u, init, iterations=3, temperature=0.05)
    assert torch.allclose(centres[0], torch.eye(2), atol=1e-6)
    assert assign[0, :3, 0].min().item() > 0.999 and assign[0, 3:, 1].min().item() > 0.999
    assert torch.allclose(assign.sum(dim=2), torch.ones(1, 5))


def test_dmc_squared_distances_of_unit_vectors():
    centres = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]])  # (1, 3, 2)
    d = dmc.squared_distances(centres, torch.tensor([[1.0, 0.0]]))
    assert d.tolist() == [[0.0, 2.0, 4.0]]


# ----------------------------------------------------------------------------- the networks


def test_attention_sums_to_one_and_maps_into_the_audio_space():
    cfg = _cfg()
    model = _build("attention", cfg).eval()
    b = _batch(n=2)
    with torch.no_grad():
        out = model(b["frames"], b["audio"])
    assert out.attention.shape == (8, 4, 4) and torch.allclose(out.attention.sum(dim=(1, 2)), torch.ones(8))
    assert out.map.shape == (8, 32, 32)
    assert out.f_v.shape == out.f_s.shape == (8, 128) and bool((out.f_s >= 0).all())


def test_avol_map_is_the_sigmoid_of_the_calibrated_similarity():
    cfg = _cfg()
    model = _build("avol", cfg).eval()
    b = _batch()
    with torch.no_grad():
        out = model(b["frames"], b["audio"], torch.tensor([1, 0, 3, 2]))
        sim = torch.einsum("fdhw,fd->fhw", out.f_v, out.f_s)
        assert torch.allclose(out.logits, 5 * sim)  # a = 5, b = 0 at the start
        assert torch.allclose(out.neg_logits[0], 5 * torch.einsum("dhw,d->hw", out.f_v[0], out.f_s[1]))
        assert torch.allclose(out.f_v.norm(dim=1), torch.ones(4, 4, 4), atol=1e-5)
        inf = avol.METHOD.infer(model, b, cfg)
    best = out.logits.flatten(1).argmax(dim=1)
    for f in range(4):
        assert torch.allclose(inf.f_v[f], out.f_v[f].flatten(1)[:, best[f]])


def test_dmc_map_is_the_assignment_to_the_centre_nearest_the_sound():
    cfg = _cfg()
    model = _build("dmc", cfg).eval()
    b = _batch()
    with torch.no_grad():
        out = model(b["frames"], b["audio"])
        inf = dmc.METHOD.infer(model, b, cfg)
    assert out.assign.shape == (4, 4, 4, 3) and torch.allclose(out.assign.sum(dim=3), torch.ones(4, 4, 4))
    assert torch.equal(out.sounding, out.dist.argmin(dim=1))
    f = 0
    j = int(out.sounding[f])
    grid = torch.nn.functional.interpolate(out.assign[f:f + 1, :, :, j][:, None], size=(32, 32), mode="bilinear",
                                           align_corners=False)[0, 0]
    assert torch.allclose(inf.maps[f], grid)
    assert torch.allclose(inf.f_v[f], out.centres[f, j])
    assert out.neg_dist is None


@pytest.mark.parametrize("name", NAMES)
def test_one_adam_step_lowers_the_loss_on_a_fixed_batch(name):
    cfg = _cfg()
    method = get_method(name)
    model = _build(name, cfg).train()
    batch = _batch()
    before, parts = method.loss(model, batch, torch.Generator().manual_seed(3), cfg)
    assert parts["loss"] == pytest.approx(before.item())
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)  # a small step: the first-order decrease must show
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after, _ = method.loss(model, batch, torch.Generator().manual_seed(3), cfg)
    assert after.item() < before.item()


@pytest.mark.parametrize("name", NAMES)
def test_infer_shapes_and_finite_maps(name):
    cfg = _cfg()
    method = get_method(name)
    model = _build(name, cfg).eval()
    inf = method.infer(model, _batch(b=3, n=2), cfg)
    assert inf.maps.shape == (6, 32, 32) and bool(torch.isfinite(inf.maps).all())
    assert inf.boxes.shape == (6, 0, 4) and inf.scores.shape == (6, 0) and inf.mask.shape == (6, 0)
    assert inf.f_v.shape == inf.f_s.shape and inf.f_v.shape[0] == 6 and inf.d_on is None
    assert not torch.equal(inf.maps[0], inf.maps[1])  # a map that depends on the frame


# ----------------------------------------------------------------------------- train -> predict -> eval


def _tiny_set(root: Path, n: int = 10, size: int = 40) -> Path:
    """n one-frame samples (a coloured square on grey, a tone); the last 4 are test, one of them off-screen."""
    import cv2

    rng = np.random.default_rng(1)
    samples = []
    (root / "frames").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((size, size, 3), 100, np.uint8)
        x, y = rng.integers(0, size // 2, 2).tolist()
        s = size // 3
        img[y:y + s, x:x + s] = [(250, 0, 0), (0, 250, 0)][i % 2]
        cv2.imwrite(str(root / f"frames/{i}.png"), img[:, :, ::-1])
        t = np.arange(16000) / 16000
        write_wav(root / f"audio/{i}.wav", 0.5 * np.sin(2 * np.pi * (300 + 500 * (i % 2)) * t))
        onscreen = i != n - 1
        annotators = [[[x, y, x + s, y + s]], [[x + 1, y, x + s, y + s - 1]]]  # two annotators, jittered
        frame = Frame(f"frames/{i}.png", 0.5, size, size, annotators, onscreen=onscreen)
        samples.append(Sample(f"s{i}", f"v{i}", "train" if i < n - 4 else "test", f"audio/{i}.wav", [frame]))
    write_manifest(root, samples, {"name": "tiny-a"})
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return _tiny_set(tmp_path_factory.mktemp("tiny_a"))


@pytest.mark.parametrize("name", NAMES)
def test_train_predict_eval(name, tiny, tmp_path):
    cfg = _cfg(**{"data.frame_size": 32})
    run, pred = tmp_path / "run", tmp_path / "pred"
    history = train(cfg, tiny, run, method=name, progress=False, log=lambda msg: None)
    assert len(history) == 1 and math.isfinite(history[0]["loss"]) and history[0]["steps"] == 1
    info = predict(run, tiny, pred, progress=False, log=lambda msg: None, map_threshold=0.5)
    assert info["method"] == name and info["frames"] == 4 and info["map_threshold"] == 0.5
    boxes = json.loads((pred / "boxes.json").read_text())
    assert sorted(boxes) == ["s6", "s7", "s8", "s9"]
    for rows in boxes.values():  # one box from the thresholded map, in stored-frame pixels (40 x 40)
        assert len(rows) == 1 and len(rows[0]) == 5
        x1, y1, x2, y2, _ = rows[0]
        assert 0 <= x1 < x2 <= 40 and 0 <= y1 < y2 <= 40
    with np.load(pred / "maps.npz") as maps:
        assert sorted(maps.files) == sorted(boxes) and all(maps[k].shape == (32, 32) for k in maps.files)
    onscreen = json.loads((pred / "onscreen.json").read_text())
    assert sorted(onscreen) == sorted(boxes) and all("on_m" in r and "d_on" not in r for r in onscreen.values())
    for kind in ("maps.npz", "boxes.json"):
        report = evaluate(tiny, "lvs", predictions=pred / kind)
        assert report["n"] == 3  # four test frames, one off-screen
        assert 0.0 <= report["ciou@0.5"] <= 1.0 and 0.0 <= report["auc"] <= 1.0
        assert report["missing_predictions"] == 0
