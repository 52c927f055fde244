"""Tests for sslprop/evaluation/floors.py."""

import json

import numpy as np
import pytest

from sslprop.errors import SSLPropError
from sslprop.evaluation.floors import floor_box, floor_predictions
from tests.helpers import run_eval


def test_music_solo_floors_boxes_and_maps(capsys, tmp_path, music_json):
    base = ["--annotations", music_json, "--format", "music", "--protocol", "dsol-solo"]
    r = run_eval(capsys, "--method", "full-frame", *base)
    # ground truth [56:168]^2 = 12544 of 50176 -> 0.25; the entry without boxes is excluded and reported
    assert r["n"] == 1 and r["iou@0.5"] == 0.0 and r["mean_ciou"] == 0.25
    assert r["auc"] == pytest.approx(0.275, abs=1e-12)
    assert r["excluded"] == {"no_boxes": 1} and r["problems"]["no_boxes"]["count"] == 1
    # the centre box of a 640x360 frame is exactly the annotated box
    assert run_eval(capsys, "--method", "center", *base)["iou@0.5"] == 1.0
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"m1_0_1000/frame_001/00001.jpg": [[0, 0, 10, 10, 0.1], [160, 90, 480, 270, 0.9]]}))
    r = run_eval(capsys, "--predictions", boxes, *base)
    assert r["iou@0.5"] == 1.0 and r["box_iou@0.5"] == 1.0 and r["kind"] == "boxes"
    # maps in a folder of <key>.npy, keys with "/" as sub-folders; no min-max: 0.05 background stays below 0.1 * 1
    m = np.full((224, 224), 0.05, np.float32)
    m[56:168, 56:168] = 1
    path = tmp_path / "maps" / "m1_0_1000" / "frame_001" / "00001.jpg.npy"
    path.parent.mkdir(parents=True)
    np.save(path, m)
    r = run_eval(capsys, "--predictions", tmp_path / "maps", *base)
    assert r["iou@0.5"] == 1.0 and r["missing_predictions"] == 0


def test_floors_are_deterministic_boxes():
    assert floor_box("full-frame", 640, 360).tolist() == [[0, 0, 640, 360, 1]]
    assert floor_box("center", 640, 360).tolist() == [[160, 90, 480, 270, 1]]
    assert floor_box("two-halves", 640, 360).tolist() == [[0, 0, 320, 360, 1], [320, 0, 640, 360, 1]]
    with pytest.raises(SSLPropError, match="two-halves"):
        floor_box("halves", 640, 360)
    a = floor_predictions("random-box", {"x": (100, 50), "y": (100, 50)}, seed=3)
    b = floor_predictions("random-box", {"y": (100, 50)}, seed=3)
    assert np.array_equal(a["y"], b["y"])  # independent of order and subset
    assert not np.array_equal(a["x"], a["y"])
    x1, y1, x2, y2, _ = a["x"][0]
    assert 0 <= x1 <= x2 <= 100 and 0 <= y1 <= y2 <= 50
    assert not np.array_equal(floor_predictions("random-box", {"x": (100, 50)}, seed=4)["x"], a["x"])
