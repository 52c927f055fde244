"""Tests for sslprop/models/baselines/common.py."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sslprop.data.audio import write_wav
from sslprop.data.format import Frame, Sample, read_manifest, write_manifest
from sslprop.engine.predict import predict
from sslprop.engine.train import train
from sslprop.evaluation.evaluate import evaluate
from sslprop.models.baselines import common
from sslprop.models.methods import get_method
from sslprop.models.negatives import StepContext
from tests.helpers import (
    MAP_S,
    SMALL_NAMES,
    build_method,
    build_small,
    map_batch,
    map_cfg,
    small_batch,
    small_cfg,
    step_lowers_loss,
)


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


LATER_NAMES = ("dsol", "lvs", "pixelplayer")


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


@pytest.mark.parametrize("name", SMALL_NAMES)
def test_one_adam_step_lowers_the_loss_on_a_fixed_batch(name):
    cfg = small_cfg()
    method = get_method(name)
    model = build_small(name, cfg).train()
    batch = small_batch()
    before, parts = method.loss(model, batch, StepContext(torch.Generator().manual_seed(3)), cfg)
    assert parts["loss"] == pytest.approx(before.item())
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)  # a small step: the first-order decrease must show
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after, _ = method.loss(model, batch, StepContext(torch.Generator().manual_seed(3)), cfg)
    assert after.item() < before.item()


@pytest.mark.parametrize("name", SMALL_NAMES)
def test_infer_shapes_and_finite_maps(name):
    cfg = small_cfg()
    method = get_method(name)
    model = build_small(name, cfg).eval()
    inf = method.infer(model, small_batch(b=3, n=2), cfg)
    assert inf.maps.shape == (6, 32, 32) and bool(torch.isfinite(inf.maps).all())
    assert inf.boxes.shape == (6, 0, 4) and inf.scores.shape == (6, 0) and inf.mask.shape == (6, 0)
    assert inf.f_v.shape == inf.f_s.shape and inf.f_v.shape[0] == 6 and inf.d_on is None
    assert not torch.equal(inf.maps[0], inf.maps[1])  # a map that depends on the frame


@pytest.mark.parametrize("name", SMALL_NAMES)
def test_train_predict_eval(name, tiny, tmp_path):
    cfg = small_cfg(**{"data.frame_size": 32})
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


@pytest.mark.parametrize("name", LATER_NAMES)
def test_one_step_lowers_the_loss(name):
    cfg = map_cfg()
    method, model = build_method(name, cfg)
    before, after = step_lowers_loss(method, model, map_batch(), cfg)
    assert math.isfinite(before) and after < before


@pytest.mark.parametrize("name", LATER_NAMES)
def test_infer_is_a_map_read_out(name):
    cfg = map_cfg(**{"data.num_frames": 2})
    method, model = build_method(name, cfg)
    model.eval()
    inf = method.infer(model, map_batch(b=3, n=2), cfg)
    assert inf.maps.shape == (6, MAP_S, MAP_S) and torch.isfinite(inf.maps).all()
    assert inf.boxes.shape == (6, 0, 4) and inf.scores.shape == (6, 0) and inf.mask.shape == (6, 0)
    assert inf.mask.dtype == torch.bool and inf.d_on is None
    if name == "pixelplayer":
        assert inf.f_v is None and inf.f_s is None  # no common embedding
    else:
        assert inf.f_v.shape == inf.f_s.shape == (6, 16)
        assert torch.allclose(inf.f_v.norm(dim=1), torch.ones(6), atol=1e-5)


@pytest.mark.parametrize("name", LATER_NAMES)
def test_two_losses_with_one_seed_agree_and_the_seed_matters_where_it_is_used(name):
    cfg = map_cfg()
    method, model = build_method(name, cfg)
    model.eval()  # BatchNorm statistics left alone
    batch = map_batch()
    a = float(method.loss(model, batch, StepContext(torch.Generator().manual_seed(1)), cfg)[0].detach())
    b = float(method.loss(model, batch, StepContext(torch.Generator().manual_seed(1)), cfg)[0].detach())
    c = float(method.loss(model, batch, StepContext(torch.Generator().manual_seed(2)), cfg)[0].detach())
    assert a == b
    assert (a == c) == (name == "lvs")  # lvs uses every other video of the batch: no draw


@pytest.mark.parametrize("name", LATER_NAMES)
def test_train_predict_eval_end_to_end(name, solo, tmp_path):
    cfg = map_cfg()
    history = train(cfg, solo, tmp_path / "run", method=name, progress=False, log=lambda msg: None)
    assert len(history) == 1 and math.isfinite(history[0]["loss"])
    info = predict(tmp_path / "run", solo, tmp_path / "pred", progress=False, log=lambda msg: None)
    assert info["method"] == name and info["map_threshold"] == 0.5
    annotated = sum(1 for s in read_manifest(solo, "test") for f in s.frames if any(f.annotators))
    for predictions in ("boxes.json", "maps.npz"):
        report = evaluate(solo, "dsol-solo", predictions=tmp_path / "pred" / predictions, fmt="sslprop")
        assert report["n"] == annotated == info["frames"] == 3
        assert report["missing_predictions"] == 0 and 0.0 <= report["auc"] <= 1.0 and math.isfinite(report["iou@0.5"])
