"""Tests for sslprop/models/baselines/ezvsl.py (and the OGL helpers of common.py)."""

import math

import pytest
import torch

from sslprop.engine.predict import predict
from sslprop.engine.train import train
from sslprop.evaluation.evaluate import evaluate
from sslprop.models.baselines import common, ezvsl
from sslprop.models.methods import METHODS
from sslprop.models.negatives import StepContext
from tests.helpers import MAP_S, build_method, map_batch, map_cfg, step_lowers_loss


def test_ezvsl_is_registered():
    assert METHODS["ezvsl"] is ezvsl.METHOD and ezvsl.METHOD.needs_proposals is False


def test_max_over_locations_similarity_by_hand():
    # one frame, 2 locations (1 x 2 grid), d = 2: location 0 = e0, location 1 = e1
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).T.reshape(1, 2, 1, 2)  # (F=1, d=2, h=1, w=2)
    s = torch.tensor([[0.6, 0.8], [1.0, 0.0], [-1.0, 0.0]])  # three audios
    assert torch.allclose(ezvsl.max_similarity(v, s), torch.tensor([[0.8, 1.0, 0.0]]))


def test_ezvsl_loss_by_hand():
    B = 5
    same = torch.nn.functional.normalize(torch.ones(B, 3), dim=1)
    v = same[:, :, None, None].expand(B, 3, 2, 2)
    loss, parts = ezvsl.ezvsl_loss(v, same)  # every logit 1 / tau: log(B) in each direction
    assert float(loss) == pytest.approx(2 * math.log(B), rel=1e-5) and float(parts["pos"]) == pytest.approx(1.0)
    # two frames, one location each, own audio identical, cross pairs orthogonal: logits (1, 0) / tau
    eye = torch.eye(2)
    loss, _ = ezvsl.ezvsl_loss(eye[:, :, None, None], eye, tau=0.5)
    assert float(loss) == pytest.approx(2 * math.log(1 + math.exp(-2.0)), rel=1e-6)
    # the other frame of the same video is no negative: nothing left to contrast
    loss, _ = ezvsl.ezvsl_loss(eye[:, :, None, None], eye.flip(0), torch.tensor([0, 0]))
    assert float(loss) == pytest.approx(0.0, abs=1e-6)


def test_ezvsl_one_step_lowers_the_loss_and_the_generator_is_unused():
    cfg = map_cfg()
    method, model = build_method("ezvsl", cfg)
    before, after = step_lowers_loss(method, model, map_batch(), cfg)
    assert math.isfinite(before) and after < before
    model.eval()
    with torch.no_grad():
        a = method.loss(model, map_batch(), StepContext(torch.Generator().manual_seed(1)), cfg)[0]
        b = method.loss(model, map_batch(), StepContext(torch.Generator().manual_seed(2)), cfg)[0]
    assert float(a) == float(b)


def test_minmax_and_object_prior():
    m = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[2.0, 2.0], [2.0, 2.0]]])
    assert torch.allclose(common.minmax(m)[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    assert torch.equal(common.minmax(m)[1], m[1])  # a flat map is left alone
    fmap = torch.tensor([[[[1.0, -2.0]], [[-3.0, 0.0]]]])  # (F=1, C=2, h=1, w=2)
    assert torch.allclose(common.object_prior(fmap), torch.tensor([[[2.0, 1.0]]]))


def _batch():
    return {**map_batch(b=4), "index": torch.arange(4)}


def test_ogl_changes_the_map_only_when_on():
    cfg = map_cfg()
    method, model = build_method("ezvsl", cfg)
    model.eval()
    batch = _batch()
    off = method.infer(model, batch, cfg)
    with torch.no_grad():
        out = model(batch["frames"], batch["audio"])
    assert torch.allclose(off.maps, common.upsample_map(out.A, (MAP_S, MAP_S)))  # no OGL: the cosine map
    on = method.infer(model, batch, cfg.replace(**{"model.ogl_alpha": 0.4}))
    expected = common.minmax(0.4 * common.minmax(off.maps) + 0.6 * common.minmax(
        common.upsample_map(common.object_prior(out.fmap), (MAP_S, MAP_S))))
    assert torch.allclose(on.maps, expected, atol=1e-6) and not torch.allclose(on.maps, common.minmax(off.maps), atol=1e-3)
    same = method.infer(model, batch, cfg.replace(**{"model.ogl_alpha": 1.0}))  # alpha = 1: the map alone, rescaled
    assert torch.allclose(same.maps, common.minmax(off.maps), atol=1e-6)
    assert torch.equal(on.f_v, off.f_v) and torch.equal(on.f_s, off.f_s)  # OGL is a read-out of the map only
    gen = lambda: StepContext(torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert float(method.loss(model, batch, gen(), cfg)[0]) == float(
            method.loss(model, batch, gen(), cfg.replace(**{"model.ogl_alpha": 0.4}))[0])


def test_ezvsl_read_out_for_m_on():
    cfg = map_cfg()
    method, model = build_method("ezvsl", cfg)
    model.eval()
    batch = _batch()
    inf = method.infer(model, batch, cfg)
    with torch.no_grad():
        out = model(batch["frames"], batch["audio"])
    best = out.A.flatten(1).max(dim=1).values
    # f_v is the embedding of the best location: its distance to f_s is the loss's max-cosine
    assert torch.allclose((inf.f_v * inf.f_s).sum(1), best, atol=1e-5)
    assert inf.neg_distance is None  # without negatives, predict's default pairs apply
    # given each clip's negative clip (predict draws them from the whole split), the loss's negative distance:
    # sqrt(2 - 2 max_i <v_f,i, s_neg>) with the negative's audio embedding
    order = [2, 3, 0, 1]
    negatives = {k: (v[order] if torch.is_tensor(v) else [v[i] for i in order]) for k, v in batch.items()}
    paired = method.infer(model, batch, cfg, negatives=negatives)
    with torch.no_grad():
        best = torch.einsum("fdhw,fd->fhw", out.v, out.s[order]).flatten(1).max(dim=1).values
    assert torch.allclose(paired.neg_distance, torch.sqrt(torch.clamp(2 - 2 * best, min=0)), atol=1e-5)
    assert torch.allclose(paired.maps, inf.maps, atol=1e-6) and torch.allclose(paired.f_v, inf.f_v, atol=1e-6)


def test_ezvsl_config_option_is_checked():
    from sslprop.errors import SSLPropError

    assert map_cfg(**{"model.ogl_alpha": 0.4}).model.ogl_alpha == 0.4
    with pytest.raises(SSLPropError, match="ogl_alpha"):
        map_cfg(**{"model.ogl_alpha": 1.5})


@pytest.mark.parametrize("alpha", [None, 0.4])
def test_ezvsl_train_predict_eval(alpha, solo, tmp_path):
    cfg = map_cfg(**{"model.ogl_alpha": alpha})
    history = train(cfg, solo, tmp_path / "run", method="ezvsl", progress=False, log=lambda msg: None)
    assert len(history) == 1 and math.isfinite(history[0]["loss"])
    info = predict(tmp_path / "run", solo, tmp_path / "pred", progress=False, log=lambda msg: None)
    assert info["method"] == "ezvsl" and info["frames"] == 3 and info["m_on_threshold"] is not None
    for predictions in ("boxes.json", "maps.npz"):
        report = evaluate(solo, "dsol-solo", predictions=tmp_path / "pred" / predictions, fmt="sslprop")
        assert report["n"] == 3 and report["missing_predictions"] == 0 and 0.0 <= report["auc"] <= 1.0
