"""Tests for sslprop/models/baselines/slavc.py."""

import math

import pytest
import torch

from sslprop.engine.predict import predict
from sslprop.engine.train import train
from sslprop.evaluation.evaluate import evaluate
from sslprop.models.baselines import common, slavc
from sslprop.models.methods import METHODS
from sslprop.models.negatives import StepContext
from tests.helpers import MAP_S, build_method, map_batch, map_cfg, step_lowers_loss


def _out(v1, v2, s1, s2):
    """An SLAVCOutput whose momentum features equal the online ones."""
    return slavc.SLAVCOutput(None, v1, v2, s1, s2, v1, v2, s1, s2)


def test_slavc_is_registered():
    assert METHODS["slavc"] is slavc.METHOD and slavc.METHOD.needs_proposals is False


def test_slavc_loss_by_hand():
    # one location: the localisation softmax is 1, so i2a = log_softmax over audios of <v1, s1> / tau
    eye = torch.eye(2)
    loss, parts = slavc.slavc_loss(_out(eye[:, :, None, None], eye[:, :, None, None], eye, eye), tau=0.5)
    assert float(loss) == pytest.approx(2 * math.log(1 + math.exp(-2.0)), rel=1e-6)
    assert float(parts["i2a"]) == pytest.approx(float(parts["a2i"]))
    # identical embeddings everywhere: match = 1/B, loc = 1/(hw), i2a = log(1/B) for every pair: log(B) twice
    B = 4
    u = torch.nn.functional.normalize(torch.ones(B, 3), dim=1)
    v = u[:, :, None, None].expand(B, 3, 2, 3)
    loss, _ = slavc.slavc_loss(_out(v, v, u, u))
    assert float(loss) == pytest.approx(2 * math.log(B), rel=1e-5)
    # two frames of one video: nothing to contrast
    loss, _ = slavc.slavc_loss(_out(eye[:, :, None, None], eye[:, :, None, None], eye.flip(0), eye.flip(0)), torch.tensor([3, 3]))
    assert float(loss) == pytest.approx(0.0, abs=1e-6)


def test_match_and_localise_by_hand():
    # one frame, two locations, two audios; tau = 1
    v1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).T.reshape(1, 2, 1, 2)  # location 0 = e0, location 1 = e1
    s = torch.eye(2)
    got = slavc.match_and_localise(v1, v1, s, s, None, tau=1.0)  # (1, 2)
    e = math.e
    match = [[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]]  # [audio][location], softmax over audios
    loc = [[e / (e + 1), 1 / (e + 1)], [1 / (1 + e), e / (1 + e)]]  # [audio][location], softmax over locations
    want = [math.log(sum(match[g][i] * loc[g][i] for i in range(2))) for g in range(2)]
    assert torch.allclose(got, torch.tensor([want]), atol=1e-6)


def test_momentum_heads_move_by_the_ema_rule_in_training_only():
    cfg = map_cfg()
    _, model = build_method("slavc", cfg)
    assert all(not p.requires_grad for p in model.momentum_heads.parameters())
    with torch.no_grad():
        for p in model.heads.parameters():
            p.fill_(1.0)
        for p in model.momentum_heads.parameters():
            p.fill_(3.0)
    model.update_momentum()
    m = slavc.MOMENTUM
    assert all(torch.allclose(p, torch.full_like(p, 3.0 * m + 1.0 * (1 - m))) for p in model.momentum_heads.parameters())
    before = [p.clone() for p in model.momentum_heads.parameters()]
    batch = map_batch()
    model.eval()
    with torch.no_grad():
        model(batch["frames"], batch["audio"])  # inference: no update
    assert all(torch.equal(a, b) for a, b in zip(before, model.momentum_heads.parameters()))
    model.train()
    with torch.no_grad():
        model(batch["frames"], batch["audio"], torch.Generator().manual_seed(0))  # a training forward: one update
    assert all(torch.allclose(b, a * m + (1 - m)) for a, b in zip(before, model.momentum_heads.parameters()))


def test_slavc_one_step_lowers_the_loss_and_dropout_follows_the_generator():
    cfg = map_cfg()
    method, model = build_method("slavc", cfg)
    model.train()
    batch = map_batch()
    with torch.no_grad():  # the momentum heads equal the online ones until a step: updates leave them so (to rounding)
        a = float(method.loss(model, batch, StepContext(torch.Generator().manual_seed(1)), cfg)[0])
        b = float(method.loss(model, batch, StepContext(torch.Generator().manual_seed(1)), cfg)[0])
        c = float(method.loss(model, batch, StepContext(torch.Generator().manual_seed(2)), cfg)[0])
    assert a == pytest.approx(b, rel=1e-6) and abs(a - c) > 1e-3
    before, after = step_lowers_loss(method, model, batch, cfg)
    assert math.isfinite(before) and after < before


def test_slavc_dropout_rate_and_scale():
    x = torch.ones(20000)
    y = slavc.dropout(x, 0.9, torch.Generator().manual_seed(0))
    assert set(torch.unique(y).tolist()) <= {0.0, 10.0} and abs(float((y > 0).float().mean()) - 0.1) < 0.01
    assert slavc.dropout(x, 0.0, None) is x


def test_slavc_read_out_uses_the_momentum_heads_and_ogl_when_on():
    cfg = map_cfg()
    method, model = build_method("slavc", cfg)
    model.eval()
    batch = {**map_batch(b=4), "index": torch.arange(4)}
    inf = method.infer(model, batch, cfg)
    assert inf.maps.shape == (4, MAP_S, MAP_S) and torch.allclose(inf.f_v.norm(dim=1), torch.ones(4), atol=1e-5)
    with torch.no_grad():
        for p in model.heads.parameters():  # the online heads play no part in the read-out
            p.add_(torch.randn_like(p))
    assert torch.equal(method.infer(model, batch, cfg).maps, inf.maps)
    on = method.infer(model, batch, cfg.replace(**{"model.ogl_alpha": 0.9}))
    with torch.no_grad():
        fmap = model(batch["frames"], batch["audio"]).fmap
    prior = common.upsample_map(common.object_prior(fmap), (MAP_S, MAP_S))
    want = common.minmax(0.9 * common.minmax(inf.maps) + 0.1 * common.minmax(prior))
    assert torch.allclose(on.maps, want, atol=1e-6) and not torch.allclose(on.maps, common.minmax(inf.maps), atol=1e-3)


def test_slavc_train_predict_eval(solo, tmp_path):
    cfg = map_cfg()
    history = train(cfg, solo, tmp_path / "run", method="slavc", progress=False, log=lambda msg: None)
    assert len(history) == 1 and math.isfinite(history[0]["loss"]) and {"i2a", "a2i"} <= set(history[0])
    info = predict(tmp_path / "run", solo, tmp_path / "pred", progress=False, log=lambda msg: None)
    assert info["method"] == "slavc" and info["frames"] == 3
    for predictions in ("boxes.json", "maps.npz"):
        report = evaluate(solo, "dsol-solo", predictions=tmp_path / "pred" / predictions, fmt="sslprop")
        assert report["n"] == 3 and report["missing_predictions"] == 0 and 0.0 <= report["auc"] <= 1.0
