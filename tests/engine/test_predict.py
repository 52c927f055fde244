"""Tests for sslprop/engine/predict.py."""

import json

import numpy as np
import pytest
import torch

from sslprop.data.dataset import SSLDataset, collate
from sslprop.engine.predict import calibrate_m_on, predict
from sslprop.engine.train import train
from sslprop.errors import SSLPropError
from sslprop.models.methods import get_method
from sslprop.models.negatives import inference_generator, negative_indices
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
    assert set(on["s10"]) == {"distance", "on_m", "d_on", "on_d", "on_or"}
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
    with pytest.raises(SSLPropError, match="no frame has a negative pair"):
        calibrate_m_on(f_v, f_s, ["a", "b", "c", "d"], neg_distance=torch.full((4,), float("nan")))


def test_ours_infer_pairs_each_frame_with_another_videos_audio(tiny):
    # neg_distance[i] is frame i localised with the audio of clip j (another video), against f_s of clip j:
    # the same numbers as running the model on frame i with clip j's audio as if it were its own
    cfg = train_cfg()
    assert cfg.train.paired_negatives > 0
    method = get_method("ours")
    torch.manual_seed(0)
    model = method.build(cfg, None, None, lambda m: None).eval()
    ds = SSLDataset(tiny, "train", cfg.data, max_proposals=cfg.model.max_proposals)
    batch = collate([ds[i] for i in range(4)])
    with torch.no_grad():
        inf = method.infer(model, batch, cfg)
        j = negative_indices(batch["video_id"], inference_generator(cfg.train.seed, int(batch["index"][0])))
        swapped = model(batch["frames"], batch["audio"][j], batch["proposals"])
    unit = lambda x: torch.nn.functional.normalize(x, dim=-1)
    expect = torch.linalg.vector_norm(unit(swapped.f_v) - unit(swapped.f_s), dim=-1).flatten()
    assert torch.allclose(inf.neg_distance, expect, atol=1e-5)
    assert not torch.allclose(inf.neg_distance, torch.linalg.vector_norm(unit(inf.f_v) - unit(inf.f_s), dim=-1))
    with torch.no_grad():  # one video in the batch: no negative, NaN
        one = method.infer(model, collate([ds[0]]), cfg)
    assert torch.isnan(one.neg_distance).all()
