"""Tests for sslprop/engine/predict.py."""

import json

import numpy as np
import pytest
import torch

from sslprop.data.dataset import SSLDataset, collate
from sslprop.engine.predict import predict
from sslprop.engine.train import train
from sslprop.errors import SSLPropError
from sslprop.models.inference import calibrate_m_on
from sslprop.models.methods import get_method
from sslprop.models.negatives import negative_indices
from sslprop.ops.boxes import map_box
from tests.helpers import train_cfg


def test_predict_writes_what_eval_reads(tiny, tmp_path):
    train(train_cfg(**{"train.epochs": 1}), tiny, tmp_path / "r", progress=False, log=lambda m: None)
    info = predict(tmp_path / "r", tiny, tmp_path / "p", progress=False)
    assert info["frames"] == 6 and info["split"] == "test"
    boxes = json.loads((tmp_path / "p" / "boxes.json").read_text())
    assert sorted(boxes) == [f"s{i}" for i in range(10, 16)]
    for rows in boxes.values():
        assert 1 <= len(rows) <= 5 and all(len(r) == 5 for r in rows)
        scores = [r[4] for r in rows]
        assert scores == sorted(scores, reverse=True)
        assert all(0 <= r[0] <= r[2] <= 48 and 0 <= r[1] <= r[3] <= 48 for r in rows)
    two = json.loads((tmp_path / "p" / "two_sources.json").read_text())
    assert all(len(two[k]) == min(2, len(boxes[k])) and two[k][0] == boxes[k][0] for k in boxes)
    maps = np.load(tmp_path / "p" / "maps.npz")
    assert sorted(maps.files) == sorted(boxes) and maps["s10"].shape == (48, 48)
    on = json.loads((tmp_path / "p" / "onscreen.json").read_text())
    assert set(on["s10"]) == {"distance", "on_m", "d_on", "on_d", "on_or", "on_dc", "on_orc"}
    assert all(r["on_or"] == (r["on_d"] or r["on_m"]) and r["on_d"] == (r["d_on"] > 0.2) for r in on.values())


def test_map_box_and_m_on_calibration():
    m = torch.zeros(8, 10)
    m[2:4, 3:7] = 1.0
    assert map_box(m, 0.5).tolist() == [3.0, 2.0, 7.0, 4.0]
    assert map_box(torch.ones(8, 10), 0.5).tolist() == [0.0, 0.0, 10.0, 8.0]
    f_v = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    f_s = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    pos, thr = calibrate_m_on(f_v, f_s, ["a", "b", "c", "d"], seed=0)
    assert pos.tolist() == [0.0, 0.0, 1.0, 0.0]
    neg_idx = negative_indices(["a", "b", "c", "d"], torch.Generator().manual_seed(0))
    neg = torch.linalg.vector_norm(f_v - f_s[neg_idx], dim=1)
    assert thr == pytest.approx(float((pos.median() + neg.median()) / 2))
    # negative distances as the loss formed them: NaN (no negative in its batch) left out
    given = torch.tensor([2.0, float("nan"), 4.0, 0.5])
    assert calibrate_m_on(f_v, f_s, ["a", "b", "c", "d"], neg_distance=given)[1] == pytest.approx((0.0 + 2.0) / 2)
    with pytest.raises(SSLPropError, match="no frame has a negative pair \\(the frames are of one video\\)"):
        calibrate_m_on(f_v, f_s, ["a", "b", "c", "d"], neg_distance=torch.full((4,), float("nan")))


def test_ours_infer_pairs_each_frame_with_its_negatives_audio(tiny):
    # given the negative clips, neg_distance[i] is frame i localised with the audio of its negative clip, against that
    # clip's f_s: the same numbers as running the model on frame i with the negative's audio as if it were its own
    cfg = train_cfg()
    assert cfg.train.paired_negatives > 0
    method = get_method("ours")
    torch.manual_seed(0)
    model = method.build(cfg, None, None, lambda m: None).eval()
    ds = SSLDataset(tiny, "train", cfg.data, max_proposals=cfg.model.max_proposals)
    batch, negatives = collate([ds[i] for i in range(4)]), collate([ds[i] for i in (5, 7, 4, 9)])
    with torch.no_grad():
        inf = method.infer(model, batch, cfg, negatives=negatives)
        alone = method.infer(model, batch, cfg)
        swapped = model(batch["frames"], negatives["audio"], batch["proposals"])
    unit = lambda x: torch.nn.functional.normalize(x, dim=-1)
    # m_on reads the frame stream: the frame attended with the negative's audio, f_att against that audio's f_s
    expect = torch.linalg.vector_norm(unit(swapped.f_att) - unit(swapped.f_s), dim=-1).flatten()
    assert torch.allclose(inf.neg_distance, expect, atol=1e-5)
    assert torch.allclose(inf.neg_d_on, swapped.d_on.flatten(), atol=1e-6)  # d_on's negative for its calibration
    own = model(batch["frames"], batch["audio"], batch["proposals"])
    assert torch.allclose(inf.f_v, own.f_att.flatten(0, 1), atol=1e-6)  # Inference.f_v: m_on's visual feature, f_att
    assert torch.allclose(inf.distance, torch.linalg.vector_norm(unit(inf.f_v) - unit(inf.f_s), dim=-1), atol=1e-6)
    assert not torch.allclose(inf.neg_distance, inf.distance)
    # the batch's own read-out is the same with or without its negatives beside it in the forward
    assert inf.maps.shape == alone.maps.shape and torch.allclose(inf.maps, alone.maps, atol=1e-6)
    assert torch.equal(inf.boxes, alone.boxes) and torch.allclose(inf.d_on, alone.d_on, atol=1e-6)
    assert alone.neg_distance is None


def _trained(tiny, tmp_path):
    run = tmp_path / "r"
    train(train_cfg(**{"train.epochs": 1}), tiny, run, progress=False, log=lambda m: None)
    return run


@pytest.mark.parametrize("method", ["ours", "ezvsl", "attention"])
def test_onscreen_decisions_do_not_depend_on_the_batch_size(tiny, tmp_path, method):
    # issue #27: m_on's negatives were paired inside each batch; now each clip's is drawn from the whole split
    if method == "ours":
        run = _trained(tiny, tmp_path)
    else:
        run = tmp_path / "r"
        train(train_cfg(**{"train.epochs": 1}), tiny, run, method=method, progress=False, log=lambda m: None)
    on, thresholds = {}, {}
    for bs in (1, 3, None):
        info = predict(run, tiny, tmp_path / f"p{bs}", batch_size=bs, split="all", progress=False, log=lambda m: None)
        on[bs] = json.loads((tmp_path / f"p{bs}" / "onscreen.json").read_text())
        thresholds[bs] = info["m_on_threshold"]
        assert info["frames"] == 16 and len(on[bs]) == 16
    decisions = {bs: {k: (r["on_m"], r.get("on_d"), r.get("on_or")) for k, r in records.items()} for bs, records in on.items()}
    assert decisions[1] == decisions[3] == decisions[None]
    assert 0 < sum(d[0] for d in decisions[1].values()) < 16  # the threshold splits the frames
    # the numbers themselves agree up to float32 rounding: a batched forward sums in another order (~1e-7), which
    # the 6 decimals written can show in the last digit
    assert thresholds[1] == pytest.approx(thresholds[3], abs=1e-6) and thresholds[1] == pytest.approx(thresholds[None], abs=1e-6)
    for bs in (3, None):
        for k, r in on[1].items():
            assert all(abs(r[f] - on[bs][k][f]) <= 2e-6 for f in ("distance", "d_on") if f in r), (bs, k)


def test_a_one_video_set_says_why_onscreen_is_empty(tiny, tmp_path):
    import shutil

    from sslprop.data.format import read_manifest, write_manifest

    run = _trained(tiny, tmp_path)
    one = tmp_path / "one"
    shutil.copytree(tiny, one)
    samples = read_manifest(one)
    for s in samples:
        s.video_id = "v0"
    write_manifest(one, samples, {"name": "one video"})
    said = []
    info = predict(run, one, tmp_path / "p", batch_size=1, progress=False, log=said.append)
    assert info["m_on_threshold"] is None and json.loads((tmp_path / "p" / "onscreen.json").read_text()) == {}
    assert [m for m in said if "onscreen.json: empty: the frames are of one video (v0)" in m], said
