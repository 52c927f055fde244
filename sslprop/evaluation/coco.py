"""COCO export: box predictions and ground truth as COCO files, for pycocotools' COCOeval (AP over IoU 0.5:0.95).

    gt, dets = coco_files(frames, boxes)          # plain dicts / lists
    write_coco("coco/", frames, boxes)            # coco/ground_truth.json, coco/detections.json

frames: {key: (width, height, gt_boxes)}: the frame's pixel size and its (N, 4) xyxy ground-truth
boxes in frame pixels (every annotator's; exact duplicates written once). boxes: {key: (M, 5)
xyxy + score} in the same pixels, as `sslprop predict` writes them. The keys are sorted; image
``id`` is the 1-based position of the key and ``file_name`` the key itself, so a detection is
traced back through ``images``. One category, ``{"id": 1, "name": "sound source"}``. Boxes become
COCO ``[x, y, w, h]`` (top-left corner, width, height, in pixels); a predicted box is clipped to its
frame first and dropped when nothing of it is inside (as `sslprop eval` scores it). Annotations
get ``area = w * h`` and ``iscrowd = 0``. Keys of `boxes` that are not frames are left out.

A frame with several annotators contributes every annotator's boxes, so one object boxed by
two annotators counts as two ground-truth objects (a single detection can match only one).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sslprop.errors import SSLPropError
from sslprop.evaluation import metrics
from sslprop.utils import atomic_write_json

CATEGORY = {"id": 1, "name": "sound source"}


def _size(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def _xywh(box: Any) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def coco_ground_truth(frames: Mapping[str, tuple[float, float, np.ndarray]]) -> dict[str, Any]:
    """The COCO annotation file (a dict with "images", "annotations", "categories") of the frames' ground truth."""
    images, annotations = [], []
    for image_id, key in enumerate(sorted(frames), start=1):
        width, height, gt = frames[key]
        images.append({"id": image_id, "file_name": key, "width": _size(width), "height": _size(height)})
        seen: set[tuple[float, ...]] = set()
        for b in np.asarray(gt, dtype=np.float64).reshape(-1, 4):
            t = tuple(float(v) for v in b)
            if t in seen:
                continue
            seen.add(t)
            xywh = _xywh(t)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": CATEGORY["id"], "bbox": xywh,
                                "area": xywh[2] * xywh[3], "iscrowd": 0})
    return {"info": {"description": "sslprop ground truth"}, "images": images, "annotations": annotations, "categories": [dict(CATEGORY)]}


def coco_detections(frames: Mapping[str, tuple[float, float, np.ndarray]], boxes: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """The COCO results list of the box predictions of the frames: [{"image_id", "category_id", "bbox", "score"}, ...]."""
    out = []
    for image_id, key in enumerate(sorted(frames), start=1):
        width, height, _ = frames[key]
        for row in np.asarray(boxes.get(key, np.zeros((0, 5))), dtype=np.float64).reshape(-1, 5):
            b = metrics.clip_box(row[:4], width, height)
            if b[2] <= b[0] or b[3] <= b[1]:
                continue
            out.append({"image_id": image_id, "category_id": CATEGORY["id"], "bbox": _xywh(b), "score": float(row[4])})
    return out


def coco_files(frames: Mapping[str, tuple[float, float, np.ndarray]], boxes: Mapping[str, np.ndarray]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(ground-truth dict, detections list) of the frames."""
    if not frames:
        raise SSLPropError("COCO export: no frame with ground truth")
    return coco_ground_truth(frames), coco_detections(frames, boxes)


def write_coco(folder: str | os.PathLike, frames: Mapping[str, tuple[float, float, np.ndarray]],
               boxes: Mapping[str, np.ndarray]) -> dict[str, str]:
    """Write ``folder/ground_truth.json`` and ``folder/detections.json``; returns {"ground_truth": path, "detections": path}."""
    gt, dets = coco_files(frames, boxes)
    d = Path(folder)
    try:
        d.mkdir(parents=True, exist_ok=True)
        paths = {"ground_truth": d / "ground_truth.json", "detections": d / "detections.json"}
        atomic_write_json(paths["ground_truth"], gt)
        atomic_write_json(paths["detections"], dets)
    except OSError as e:
        raise SSLPropError(f"--coco {folder}: cannot write the COCO files ({e.strerror or e})") from None
    return {k: str(p) for k, p in paths.items()}
