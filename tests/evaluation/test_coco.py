"""Tests for sslprop/evaluation/coco.py: the COCO files' schema, and pycocotools' COCOeval on them."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from sslprop.evaluation import coco

FRAMES = {
    "b/1": (200, 100, np.array([[10.0, 10.0, 60.0, 80.0], [10.0, 10.0, 60.0, 80.0]])),  # two annotators, one box: written once
    "a": (100, 100, np.array([[0.0, 0.0, 50.0, 50.0], [60.0, 60.0, 90.0, 95.0]])),
}


def exact_boxes() -> dict[str, np.ndarray]:
    return {k: np.hstack([np.unique(gt, axis=0), np.full((len(np.unique(gt, axis=0)), 1), 0.9)]) for k, (_, _, gt) in FRAMES.items()}


def test_schema(tmp_path):
    boxes = {"a": np.array([[-10.0, 0.0, 50.0, 50.0, 0.8], [200.0, 200.0, 300.0, 300.0, 0.5]]), "zzz": np.array([[0, 0, 1, 1, 1.0]])}
    paths = coco.write_coco(tmp_path / "out", FRAMES, boxes)
    gt = json.loads((tmp_path / "out" / "ground_truth.json").read_text())
    dets = json.loads((tmp_path / "out" / "detections.json").read_text())
    assert paths == {"ground_truth": str(tmp_path / "out" / "ground_truth.json"), "detections": str(tmp_path / "out" / "detections.json")}
    assert gt["categories"] == [{"id": 1, "name": "sound source"}]
    assert gt["images"] == [{"id": 1, "file_name": "a", "width": 100, "height": 100}, {"id": 2, "file_name": "b/1", "width": 200, "height": 100}]
    assert gt["annotations"] == [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0.0, 0.0, 50.0, 50.0], "area": 2500.0, "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [60.0, 60.0, 30.0, 35.0], "area": 1050.0, "iscrowd": 0},
        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [10.0, 10.0, 50.0, 70.0], "area": 3500.0, "iscrowd": 0},
    ]
    # clipped to the frame (x -10 -> 0), the box wholly outside dropped, keys that are not frames left out
    assert dets == [{"image_id": 1, "category_id": 1, "bbox": [0.0, 0.0, 50.0, 50.0], "score": 0.8}]


def _coco_ap(folder) -> float:
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(folder / "ground_truth.json"))
        dt = gt.loadRes(str(folder / "detections.json"))
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])  # AP at IoU 0.50:0.95


def test_cocoeval_exact_and_shifted(tmp_path):
    pytest.importorskip("pycocotools")
    coco.write_coco(tmp_path / "exact", FRAMES, exact_boxes())
    assert _coco_ap(tmp_path / "exact") == pytest.approx(1.0)
    shifted = {k: v + np.array([15.0, 0.0, 15.0, 0.0, 0.0]) for k, v in exact_boxes().items()}
    coco.write_coco(tmp_path / "shifted", FRAMES, shifted)
    assert _coco_ap(tmp_path / "shifted") < 0.1  # 0.055: IoUs of 0.5 to 0.6, found at the lowest IoU thresholds only
