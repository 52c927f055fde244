"""Map-based baselines dsol, lvs and pixelplayer: their losses learn, their read-out is what predict and eval use."""

import math

import pytest
import torch

from sslprop.baselines import dsol, lvs, pixelplayer
from sslprop.config import get_profile
from sslprop.data.format import read_manifest
from sslprop.evaluate import evaluate
from sslprop.methods import get_method
from sslprop.predict import predict
from sslprop.train import _step_generator, load_checkpoint, train

METHODS = ("dsol", "lvs", "pixelplayer")
S = 48


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The models here are tiny: one intra-op thread is faster than several on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cfg(**over):
    base = {"data.frame_size": S, "model.pretrained": False, "model.visual_width": 8, "model.audio_width": 4, "model.dim": 16,
            "train.epochs": 1, "train.batch_size": 4, "train.device": "cpu", "train.lr": 1e-3}
    return get_profile("cpu").replace(**{**base, **over})


def _batch(b: int = 6, n: int = 1, videos: list[str] | None = None) -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "frames": torch.rand(b, n, 3, S, S, generator=g),
        "audio": torch.randn(b, n, 1, 96, 64, generator=g) - 2.0,
        "proposals": [torch.zeros(0, 4)] * (b * n),
        "video_id": videos or [f"v{i}" for i in range(b)],
        "keys": [f"{i}/{j}" for i in range(b) for j in range(n)],
    }


def _build(name: str, cfg):
    torch.manual_seed(0)
    method = get_method(name)
    return method, method.build(cfg, None, None, lambda msg: None)


def _step_lowers_loss(method, model, batch, cfg, generator=lambda: torch.Generator().manual_seed(3)) -> tuple[float, float]:
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    before, _ = method.loss(model, batch, generator(), cfg)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after, _ = method.loss(model, batch, generator(), cfg)
    return float(before.detach()), float(after)


# ----------------------------------------------------------------------------- every method


@pytest.mark.parametrize("name", METHODS)
def test_one_step_lowers_the_loss(name):
    cfg = _cfg()
    method, model = _build(name, cfg)
    before, after = _step_lowers_loss(method, model, _batch(), cfg)
    assert math.isfinite(before) and after < before


@pytest.mark.parametrize("name", METHODS)
def test_infer_is_a_map_read_out(name):
    cfg = _cfg(**{"data.num_frames": 2})
    method, model = _build(name, cfg)
    model.eval()
    inf = method.infer(model, _batch(b=3, n=2), cfg)
    assert inf.maps.shape == (6, S, S) and torch.isfinite(inf.maps).all()
    assert inf.boxes.shape == (6, 0, 4) and inf.scores.shape == (6, 0) and inf.mask.shape == (6, 0)
    assert inf.mask.dtype == torch.bool and inf.d_on is None
    if name == "pixelplayer":
        assert inf.f_v is None and inf.f_s is None  # no common embedding
    else:
        assert inf.f_v.shape == inf.f_s.shape == (6, 16)
        assert torch.allclose(inf.f_v.norm(dim=1), torch.ones(6), atol=1e-5)


@pytest.mark.parametrize("name", METHODS)
def test_two_losses_with_one_seed_agree_and_the_seed_matters_where_it_is_used(name):
    cfg = _cfg()
    method, model = _build(name, cfg)
    model.eval()  # BatchNorm statistics left alone
    batch = _batch()
    a = float(method.loss(model, batch, torch.Generator().manual_seed(1), cfg)[0].detach())
    b = float(method.loss(model, batch, torch.Generator().manual_seed(1), cfg)[0].detach())
    c = float(method.loss(model, batch, torch.Generator().manual_seed(2), cfg)[0].detach())
    assert a == b
    assert (a == c) == (name == "lvs")  # lvs uses every other video of the batch: no draw


@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    from sslprop.data.synth import generate

    return generate("solo", 12, 0, tmp_path_factory.mktemp("solo") / "solo", size=S, progress=False)


@pytest.mark.parametrize("name", METHODS)
def test_train_predict_eval_end_to_end(name, solo, tmp_path):
    cfg = _cfg()
    history = train(cfg, solo, tmp_path / "run", method=name, progress=False, log=lambda msg: None)
    assert len(history) == 1 and math.isfinite(history[0]["loss"])
    info = predict(tmp_path / "run", solo, tmp_path / "pred", progress=False, log=lambda msg: None)
    assert info["method"] == name and info["map_threshold"] == 0.5
    annotated = sum(1 for s in read_manifest(solo, "test") for f in s.frames if any(f.annotators))
    for predictions in ("boxes.json", "maps.npz"):
        report = evaluate(solo, "dsol-solo", predictions=tmp_path / "pred" / predictions, fmt="sslprop")
        assert report["n"] == annotated == info["frames"] == 3
        assert report["missing_predictions"] == 0 and 0.0 <= report["auc"] <= 1.0 and math.isfinite(report["iou@0.5"])


# ----------------------------------------------------------------------------- lvs


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
    assert lvs.video_codes(["a", "b", "a"], 2).tolist() == [0, 0, 1, 1, 0, 0]


# ----------------------------------------------------------------------------- pixelplayer


def test_pixelplayer_magnitude_inverts_the_log_mel():
    mel = torch.tensor([0.0, 0.5, 3.0])
    assert torch.allclose(pixelplayer.magnitude(torch.log(mel + 0.01)), mel, atol=1e-6)


def test_pixelplayer_unet_keeps_the_spectrogram_size():
    net = pixelplayer.UNet(out_channels=5, width=4, depth=4)
    assert net(torch.randn(2, 1, 96, 40)).shape == (2, 5, 96, 40)  # 40 is not a multiple of 16


def test_pixelplayer_targets_are_the_dominant_source():
    cfg = _cfg()
    _, model = _build("pixelplayer", cfg)
    mags = torch.tensor([[1.0, 2.0], [3.0, 2.0]]).repeat(1, 8)  # two clips, 16 bins: (1, 2, 1, 2, ...), (3, 2, ...)
    audio = torch.log(mags + 0.01).reshape(2, 1, 1, 1, 16).expand(2, 1, 1, 96, 16).contiguous()
    out = model(torch.rand(2, 1, 3, S, S), audio, torch.tensor([1, 0]))
    assert out.target[0, :, 0, :2].tolist() == [[0.0, 0.0], [1.0, 0.0]]  # clip 0 vs clip 1: 1 < 2, 2 = 2 (not >)
    assert out.target[1, :, 0, :2].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert torch.allclose(out.weight[0, 0, 0, :2], torch.log1p(torch.tensor([4.0, 4.0])), atol=1e-5)


def test_pixelplayer_energy_with_a_neutral_synthesizer_is_half_the_energy_everywhere():
    cfg = _cfg()
    _, model = _build("pixelplayer", cfg)
    model.eval()
    with torch.no_grad():
        model.scale.zero_()  # every mask = sigmoid(0) = 1/2
    batch = _batch(b=2)
    out = model(batch["frames"], batch["audio"])
    expected = 0.5 * pixelplayer.magnitude(batch["audio"]).flatten(1).sum(1)  # (2,)
    assert torch.allclose(out.energy, expected[:, None, None].expand_as(out.energy), rtol=1e-5)


# ----------------------------------------------------------------------------- dsol


def test_dsol_schedule():
    assert [dsol.stage_schedule(e, 8) for e in range(8)] == [(1, False), (1, True), (1, True), (1, True)] + [(2, True)] * 4
    assert dsol.stage_schedule(0, 1) == (1, False)
    assert [dsol.stage_schedule(e, 3) for e in range(3)] == [(1, False), (1, True), (2, True)]


def test_dsol_reads_the_trainers_position():
    for seed, epoch, step in ((0, 0, 0), (0, 3, 17), (7, 12, 4000), (-5, 2, 1)):
        assert dsol.trainer_position(_step_generator(seed, epoch, step), seed) == (epoch, step)
    assert dsol.trainer_position(_step_generator(1, 3, 17), 0) is None  # another seed's generator


def test_dsol_dilate_and_kmeans():
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, 1, 1] = True
    assert dsol.dilate(mask)[0].int().tolist() == [[0, 1, 0, 0], [1, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    x = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 3.0], [0.1, 1.0]])
    centres, labels = dsol.kmeans(x, torch.tensor([[1.0, 1.0], [0.0, 1.0]]))
    assert labels.tolist() == [0, 0, 1, 1]
    assert torch.allclose(centres.norm(dim=1), torch.ones(2))


def test_dsol_stage_switch_follows_the_trainers_epochs():
    cfg = _cfg(**{"train.epochs": 4})
    method, model = _build("dsol", cfg)
    model.train()
    batch = _batch()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    seen = []
    for epoch in range(4):
        for step in range(2):
            loss, parts = method.loss(model, batch, _step_generator(cfg.train.seed, epoch, step), cfg)
            seen.append((epoch, int(parts["stage"]), parts["classify"] > 0, parts["category"] > 0))
            if (epoch, step) == (2, 0):  # the switch just happened: the teacher is the stage-one audio side
                assert all(torch.equal(a, b) for a, b in zip(model.teacher_audio.parameters(), model.audio.parameters()))
                assert torch.equal(model.teacher_class.weight, model.a_class.weight)
                teacher = {k: v.clone() for k, v in model.teacher_audio.state_dict().items()}
                teacher_class = model.teacher_class.weight.clone()
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert seen == [(0, 1, False, False)] * 2 + [(1, 1, True, False)] * 2 + [(2, 2, False, True)] * 2 + [(3, 2, False, True)] * 2
    assert int(model.clustered_epoch) == 1 and int(model.bank_count) == 6 * 4  # stage one filled the bank
    assert all(torch.equal(teacher[k], v) for k, v in model.teacher_audio.state_dict().items())  # frozen since
    assert torch.equal(teacher_class, model.teacher_class.weight)
    assert torch.count_nonzero(model.obj_rep.abs().sum(1)) > 0


def test_dsol_stage_two_step_lowers_the_loss_and_a_foreign_generator_keeps_the_stage():
    cfg = _cfg()
    method, model = _build("dsol", cfg)
    model.eval()
    method.loss(model, _batch(), torch.Generator().manual_seed(3), cfg)  # fills the bank (6 rows)
    method.loss(model, _batch(), torch.Generator().manual_seed(4), cfg)  # 12 >= 11 clusters
    model.set_stage(2, torch.Generator().manual_seed(0))
    assert int(model.stage) == 2
    before, after = _step_lowers_loss(method, model, _batch(), cfg)
    assert after < before and int(model.stage) == 2


def test_dsol_resumed_run_equals_an_uninterrupted_one(solo, tmp_path):
    cfg = _cfg(**{"train.epochs": 3})  # stage one location-only, stage one classifying, stage two
    quiet = lambda msg: None
    full = train(cfg, solo, tmp_path / "full", method="dsol", progress=False, log=quiet)
    assert [r["stage"] for r in full] == [1.0, 1.0, 2.0] and full[1]["classify"] > 0 and full[2]["category"] > 0
    train(cfg, solo, tmp_path / "cut", method="dsol", max_steps=3, progress=False, log=quiet)  # stops inside epoch 2
    resumed = train(cfg, solo, tmp_path / "cut", method="dsol", resume=True, progress=False, log=quiet)
    assert resumed[2]["loss"] == full[2]["loss"]  # epoch 2's record averages only the steps after the cut
    a = load_checkpoint(tmp_path / "full" / "latest.pth")["model"]
    b = load_checkpoint(tmp_path / "cut" / "latest.pth")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
