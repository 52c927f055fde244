"""`python -m sslprop eval`: score predictions, or a floor, against native or sslprop annotations under a named protocol.

Usage::

    python -m sslprop eval --method full-frame --annotations vggss.json --format vggss --protocol lvs --json
    python -m sslprop eval --predictions run/predictions.npz --annotations data/scenes --protocol lvs
    python -m sslprop eval --predictions boxes.json --annotations music_solotest.json --format music --protocol dsol-solo

Annotations (``--format``): ``flickr`` (a folder of Flickr-SoundNet ``<id>.xml``),
``vggss`` (``vggss.json``), ``music`` (DSOL ``solotest.json`` / ``duettest.json``),
``audioset-instrument`` (DSOL ``audioset_box.json``) or ``sslprop`` (a data set folder;
``--split`` picks the split, default ``test``). Without ``--format`` it is guessed from the
path. Protocols: see `sslprop.evaluation.metrics` (lvs, ezvsl, sspl for Flickr / VGG-SS / sslprop;
dsol-solo, dsol-multi, dsol-duet for MUSIC / AudioSet-instrument / sslprop).

The prediction contract (what `predict` writes), keyed by the KEY of each scored frame:

- KEY is the annotation id for the native formats (Flickr: the XML file's name up to its
  first dot; VGG-SS: ``file``; MUSIC: the json key, e.g. ``"ytid_0_1000/frame_013/00411.jpg"``;
  AudioSet-instrument: ``"ytid/sec"``). For an sslprop data set it is the sample id for a
  single-frame sample and ``"<sample_id>/<frame_index>"`` (0-based index into
  ``Sample.frames``) for each annotated frame of a multi-frame sample.
- Maps: ``.npz`` with one float array per KEY, (H, W) of any size (resized to 224 by the
  protocol), or (S, H, W) with one map per predicted source for dsol-multi / dsol-duet; or
  a folder of ``<KEY>.npy`` files (a KEY with ``/`` is a sub-folder). A single ``.npy``
  holding a pickled dict is refused: it needs ``allow_pickle``, which can run code.
- Boxes: JSON ``{KEY: [[x1, y1, x2, y2, score], ...]}`` in absolute pixels of the frame:
  Flickr 256 x 256; MUSIC the entry's ``wdith`` x ``height``; sslprop the stored frame's
  ``Frame.width`` x ``Frame.height``; VGG-SS and AudioSet-instrument, whose annotations are
  normalised and carry no size, ``--frame-size W H`` (default 224 224). The highest-score
  box is the single-source prediction; dsol-multi / dsol-duet take the two highest.

A box is clipped to its frame, drawn on the 224 grid by the protocol's own ground-truth rule
(Flickr and sslprop ``int(224*v/W)``; VGG-SS ``int(224*max(v/W, 0))``; DSOL ``normbox*224``
as x, y, w, h) and scored by the cIoU formula directly. Box outputs also get the box-level
``box_iou@0.5``: the top box's IoU (torchvision.ops.box_iou) with ANY annotated box, of any
annotator, in frame pixels, at least 0.5.

``--ids FILE`` restricts scoring to a benchmark's test list (the Flickr-SoundNet
annotation folder holds 5,000 files, the test set 249 or 250; SSPL scores 4,692 of the
5,158 VGG-SS entries): listed ids without annotation are excluded as ``no_annotation``,
annotated ids not listed are counted as ``outside_ids``.

Nothing is dropped silently: ids that the predictions lack are counted (``--missing fail``,
the default, scores them as cIoU 0 so that n stays the benchmark's size; ``skip`` leaves
them out of n, as DSOL's loop over its predictions does), ids that the annotations lack are
counted and ignored, frames without ground truth or off-screen are counted as excluded,
and annotation problems (the garbage coordinates of vggss.json, MUSIC entries without
boxes) are reported by kind.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from sslprop.cli import positive_int
from sslprop.data.annotations import Problem, read_annotations, read_id_list, summarise_problems
from sslprop.errors import SSLPropError
from sslprop.evaluation import metrics
from sslprop.evaluation.floors import FLOORS, floor_predictions
from sslprop.evaluation.predfiles import Predictions, frame_key, load_predictions

FORMATS = ("sslprop", "flickr", "vggss", "music", "audioset-instrument")
EXAMPLES = 5  # ids quoted per reported category


# --------------------------------------------------------------------------- what is scored


@dataclass(frozen=True)
class Rasteriser:
    """Draws a predicted xyxy pixel box of a W x H frame on the grid by a protocol's ground-truth rule.

    rule: "scale" (``int(size*v/W)``, Flickr and sslprop under lvs/ezvsl/sspl),
          "vggss" (``int(size*max(v/W, 0))``), "vggss-clip" (EZ-VSL ``int(clip(v/W,0,1)*size)``),
          "dsol" (``normbox*size`` as x, y, w, h with int() of each edge).
    """

    rule: str
    width: float
    height: float
    size: int = metrics.GRID

    def mask(self, box: Sequence[float]) -> np.ndarray:
        """(4,) xyxy pixels -> (size, size) 0/1 float map; the box is first clipped to the frame."""
        b = metrics.clip_box(box, self.width, self.height)
        if self.rule == "scale":
            return metrics.box_mask(*metrics.scale_box(b, self.width, self.height, self.size), size=self.size)
        if self.rule in ("vggss", "vggss-clip"):
            norm = (b[0] / self.width, b[1] / self.height, b[2] / self.width, b[3] / self.height)
            return metrics.box_mask(*metrics.vggss_grid_box(norm, self.size, clip_top=self.rule == "vggss-clip"), size=self.size)
        if self.rule == "dsol":
            return metrics.dsol_box_mask(metrics.xyxy_to_normxywh(b, self.width, self.height), self.size)
        raise SSLPropError(f"unknown rasterisation rule {self.rule!r}")


@dataclass
class EvalItem:
    """One scored frame; its ground-truth maps are drawn on demand from small box lists.

    key:          the prediction key (see the module docstring)
    width, height: the frame's pixel size, the space of box predictions and `gt_boxes`
    raster:       how a predicted box is drawn on the grid
    gt_boxes:     (N, 4) xyxy ground-truth boxes in frame pixels, every annotator's
    gt_rule:      single-source ground truth: "consensus" or "union" of `gt_spec` grid boxes
                  (int xyxy), or "dsol" (union of `gt_spec` normalised x, y, w, h boxes)
    source_specs: multi-source: the normalised x, y, w, h boxes of each sounding source
    silent_specs: multi-source: the normalised x, y, w, h box of each silent object
    """

    key: str
    width: float
    height: float
    raster: Rasteriser
    gt_boxes: np.ndarray
    gt_rule: str = ""
    gt_spec: list[tuple[float, ...]] = field(default_factory=list)
    source_specs: list[list[tuple[float, ...]]] = field(default_factory=list)
    silent_specs: list[tuple[float, ...]] = field(default_factory=list)
    size: int = metrics.GRID

    @property
    def gt(self) -> np.ndarray:
        """(size, size) ground-truth map of a single-source protocol."""
        if self.gt_rule == "consensus":
            return metrics.consensus_map(self.gt_spec, self.size)
        if self.gt_rule == "union":
            return metrics.union_map(self.gt_spec, self.size)
        if self.gt_rule == "dsol":
            return metrics.dsol_gt_map(self.gt_spec, self.size)
        raise SSLPropError(f"{self.key}: no single-source ground truth (rule {self.gt_rule!r})")

    @property
    def sources(self) -> list[np.ndarray]:
        """Per-source (size, size) 0/1 maps of a multi-source protocol."""
        return [metrics.dsol_gt_map(nbs, self.size) for nbs in self.source_specs]

    @property
    def silent(self) -> list[np.ndarray]:
        """(size, size) 0/1 maps of the visible objects that do not sound."""
        return [metrics.dsol_box_mask(nb, self.size) for nb in self.silent_specs]


@dataclass
class Annotated:
    """Annotations turned into scored items, plus what was left out and why."""

    items: list[EvalItem]
    excluded: dict[str, list[str]]  # reason -> keys left out of scoring (no_boxes, offscreen, no_annotation)
    problems: list[Problem]
    source: str  # what was read, for the report
    outside: list[str] = field(default_factory=list)  # annotated keys left out because --ids does not list them


def _check_protocol_format(protocol: metrics.Protocol, fmt: str) -> None:
    if fmt not in protocol.formats:
        raise SSLPropError(
            f"--protocol {protocol.name} is defined for {', '.join(protocol.formats)} annotations, not {fmt} "
            f"(its reference code never scored that data)"
        )


def _group_sources(boxes: Sequence[Any], category: Callable[[Any], Any], normbox: Callable[[Any], Sequence[float]]) -> list[list[tuple[float, ...]]]:
    """The normalised boxes of each category, categories in order of first appearance."""
    groups: dict[Any, list[tuple[float, ...]]] = {}
    for b in boxes:
        groups.setdefault(category(b), []).append(tuple(normbox(b)))
    return list(groups.values())


def items_from_native(anns: Mapping[str, Any], fmt: str, protocol: metrics.Protocol, frame_size: tuple[float, float], size: int = metrics.GRID) -> tuple[list[EvalItem], dict[str, list[str]]]:
    """Records of `sslprop.data.annotations` -> EvalItems under `protocol`'s ground-truth rule."""
    _check_protocol_format(protocol, fmt)
    items: list[EvalItem] = []
    excluded: dict[str, list[str]] = {"no_boxes": []}
    for key in sorted(anns):
        a = anns[key]
        if not a.boxes:
            excluded["no_boxes"].append(key)
            continue
        if fmt == "flickr":
            grid = metrics.flickr_grid_boxes(a.boxes, size, a.width)
            items.append(EvalItem(key, a.width, a.height, Rasteriser("scale", a.width, a.height, size),
                                  np.array(a.boxes, dtype=np.float64).reshape(-1, 4), "consensus", grid, size=size))
        elif fmt == "vggss":
            w, h = frame_size
            clip_top = protocol.gt_rule == "ezvsl"
            grid = [metrics.vggss_grid_box(b, size, clip_top=clip_top) for b in a.boxes]
            px = np.clip(np.array(a.boxes, dtype=np.float64).reshape(-1, 4), 0, 1) * np.array([w, h, w, h])
            items.append(EvalItem(key, w, h, Rasteriser("vggss-clip" if clip_top else "vggss", w, h, size), px, "union", grid, size=size))
        else:  # music, audioset-instrument: DSOL rule
            w, h = (a.width, a.height) if fmt == "music" else frame_size
            nbs = [b.normbox for b in a.boxes]
            px = np.array([[x * w, y * h, (x + bw) * w, (y + bh) * h] for x, y, bw, bh in nbs], dtype=np.float64)
            item = EvalItem(key, w, h, Rasteriser("dsol", w, h, size), px, size=size)
            if protocol.multi:
                item.source_specs = _group_sources(a.boxes, lambda b: b.category, lambda b: b.normbox)
            else:
                item.gt_rule, item.gt_spec = "dsol", [tuple(nb) for nb in nbs]
            items.append(item)
    return items, excluded


def clip_to_frame(box: Sequence[float], width: float, height: float) -> list[float] | None:
    """An xyxy box clipped to the frame [0, width] x [0, height]; None when nothing of it is inside.

    The reference evaluators draw boxes by slicing a grid, which cuts off what lies past the far
    edges (and, for a negative coordinate, wraps around: SSPL / EZ-VSL clamp VGG-SS's to 0); we
    clip both ends to the frame before scaling, so a box partly outside keeps its inside part.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    c = [min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height)]
    return c if c[2] > c[0] and c[3] > c[1] else None


def _clipped_frame(fr: Any, where: str, problems: list[Problem] | None) -> Any:
    """The frame with every annotator and object box clipped to it (`clip_to_frame`), each change noted in `problems`."""
    import dataclasses

    w, h = float(fr.width), float(fr.height)
    changed = False

    def clip(box: Sequence[float]) -> list[float] | None:
        nonlocal changed
        c = clip_to_frame(box, w, h)
        if c != [float(v) for v in box]:
            changed = True
            if problems is not None:
                kind = "box_outside_frame" if c is None else "box_partly_outside_frame"
                what = f"box {list(box)} of a {w:g}x{h:g} frame " + ("lies wholly outside: dropped" if c is None else f"clipped to {c}")
                problems.append(Problem(where, kind, what))
        return c

    annotators = [[c for b in ann if (c := clip(b)) is not None] for ann in fr.annotators]
    objects = [dataclasses.replace(o, box=c) for o in fr.objects if (c := clip(o.box)) is not None]
    return dataclasses.replace(fr, annotators=annotators, objects=objects) if changed else fr


def items_from_sslprop(root: str | os.PathLike, split: str, protocol: metrics.Protocol, size: int = metrics.GRID,
                       problems: list[Problem] | None = None) -> tuple[list[EvalItem], dict[str, list[str]]]:
    """Frames of an sslprop data set -> EvalItems.

    lvs / ezvsl / sspl: every annotator's boxes scaled ``int(224*v/W)`` per axis; the Flickr
    consensus (box masks summed, /2, clipped to 1) when the frame has several annotators,
    their union when it has one, unless dataset.json fixes "gt_rule" ("consensus" for imported
    Flickr-SoundNet, "union" for VGG-SS, as their reference code does). dsol-solo: the union of every box by DSOL's rule on the
    normalised (x/W, y/H, w/W, h/H). dsol-multi / dsol-duet: one source per sounding object
    label of `Frame.objects` (the first annotator's boxes, one source each, when no object
    is listed as sounding); silent objects are the objects listed with sounding False.
    Frames with ``onscreen`` False are excluded as ``offscreen``, frames without any
    annotator box as ``no_boxes``. Boxes partly outside the frame are clipped to it, boxes wholly
    outside dropped (`clip_to_frame`); each is appended to `problems` (the report's "problems").
    """
    from sslprop.data.format import read_info, read_manifest

    _check_protocol_format(protocol, "sslprop")
    gt_rule = read_info(root).get("gt_rule")  # set by importers whose reference fixes the rule (flickr, vggss)
    if gt_rule not in (None, "consensus", "union"):
        raise SSLPropError(f"{root}/dataset.json: gt_rule {gt_rule!r} must be 'consensus' or 'union'")
    items: list[EvalItem] = []
    excluded: dict[str, list[str]] = {"no_boxes": [], "offscreen": []}
    for s in read_manifest(root, split):
        for i, fr in enumerate(s.frames):
            key = frame_key(s.id, i, len(s.frames))
            fr = _clipped_frame(fr, f"{root}: {key}", problems)
            boxes = [b for ann in fr.annotators for b in ann]
            if fr.onscreen is False:
                excluded["offscreen"].append(key)
                continue
            if not boxes:
                excluded["no_boxes"].append(key)
                continue
            w, h = float(fr.width), float(fr.height)
            px = np.array(boxes, dtype=np.float64).reshape(-1, 4)
            if protocol.gt_rule in ("lvs", "ezvsl"):
                grid = [metrics.scale_box(b, w, h, size) for b in boxes]
                annotators = sum(1 for ann in fr.annotators if ann)
                rule = gt_rule or ("consensus" if annotators > 1 else "union")
                items.append(EvalItem(key, w, h, Rasteriser("scale", w, h, size), px, rule, grid, size=size))
                continue
            item = EvalItem(key, w, h, Rasteriser("dsol", w, h, size), px, size=size)
            if protocol.multi:
                sounding = [o for o in fr.objects if o.sounding]
                if sounding:
                    item.source_specs = _group_sources(
                        list(enumerate(sounding)), lambda io: io[1].label or f"#{io[0]}",
                        lambda io: metrics.xyxy_to_normxywh(io[1].box, w, h))
                else:
                    item.source_specs = [[metrics.xyxy_to_normxywh(b, w, h)] for b in fr.annotators[0] or boxes]
                item.silent_specs = [metrics.xyxy_to_normxywh(o.box, w, h) for o in fr.objects if not o.sounding]
            else:
                item.gt_rule, item.gt_spec = "dsol", [metrics.xyxy_to_normxywh(b, w, h) for b in boxes]
            items.append(item)
    return items, excluded


def detect_format(path: str | os.PathLike) -> str:
    """Guess the annotation format from the path: an sslprop folder, a Flickr XML folder, or a json's shape."""
    p = Path(path)
    if p.is_dir():
        if (p / "manifest.jsonl").is_file():
            return "sslprop"
        if any(f.suffix.lower() == ".xml" for f in p.iterdir()):
            return "flickr"
        raise SSLPropError(f"{p}: neither an sslprop data set (manifest.jsonl) nor a folder of Flickr .xml files; give --format")
    if p.suffix.lower() != ".json":
        raise SSLPropError(f"{p}: cannot tell the annotation format from the name; give --format")
    from sslprop.data.annotations import load_json

    data = load_json(p)
    if isinstance(data, list):
        return "vggss"
    if isinstance(data, dict) and data:
        first = next(iter(data.values()))
        if isinstance(first, dict) and ("wdith" in first or "width" in first):
            return "music"
        return "audioset-instrument"
    raise SSLPropError(f"{p}: cannot tell the annotation format from its content; give --format")


def load_annotated(path: str | os.PathLike, fmt: str | None, protocol: metrics.Protocol, split: str = "test",
                   frame_size: tuple[float, float] = (metrics.GRID, metrics.GRID), size: int = metrics.GRID) -> Annotated:
    """Read annotations in any supported format and turn them into EvalItems under `protocol`."""
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise SSLPropError(f"--format {fmt}: unknown (one of {', '.join(FORMATS)})")
    if fmt == "sslprop":
        problems: list[Problem] = []
        items, excluded = items_from_sslprop(path, split, protocol, size, problems)
        return Annotated(items, excluded, problems, f"{path} (sslprop, split {split})")
    _check_protocol_format(protocol, fmt)
    anns, problems = read_annotations(path, fmt)
    items, excluded = items_from_native(anns, fmt, protocol, frame_size, size)
    return Annotated(items, excluded, problems, f"{path} ({fmt})")


def restrict_to_ids(annotated: Annotated, ids: Sequence[str], source: str) -> Annotated:
    """Keep only the listed keys (a benchmark's test list); listed ids without annotation are
    excluded as ``no_annotation``, annotated keys not listed are counted in `outside`."""
    keep = set(ids)
    known = {it.key for it in annotated.items} | {k for ks in annotated.excluded.values() for k in ks}
    excluded = {reason: [k for k in ks if k in keep] for reason, ks in annotated.excluded.items()}
    excluded["no_annotation"] = sorted(set(ids) - known)
    outside = sorted(k for k in known if k not in keep)
    items = [it for it in annotated.items if it.key in keep]
    return Annotated(items, excluded, annotated.problems, f"{annotated.source}, ids from {source}", outside)


# --------------------------------------------------------------------------- scoring


def _nan_to_none(x: float) -> float | None:
    return None if isinstance(x, float) and math.isnan(x) else x


def _examples(keys: Sequence[str]) -> list[str]:
    return list(keys[:EXAMPLES])


def score(annotated: Annotated, predictions: Predictions, protocol: metrics.Protocol, size: int = metrics.GRID, missing: str = "fail",
          ci: Mapping[str, Any] | None = None, frames: bool = False) -> dict[str, Any]:
    """Score `predictions` on `annotated` under `protocol` -> the report (a JSON-able dict).

    Keys: n (samples in the summary), auc, the headline rate (``ciou@0.5`` or ``iou@0.5``),
    mean_ciou, box_iou@0.5 (box predictions, single source), iou@0.3 and silent (multi-source),
    and the accounting: n_annotated, excluded, missing_predictions, unannotated_predictions,
    empty_predictions, nan_ciou, problems. Rates are fractions in [0, 1].
    ci: {"resamples": R, "seed": s, "level": 0.95} adds "ci": {metric: [low, high]} (`sslprop.evaluation.bootstrap`,
    samples resampled), with the settings under "ci_settings".
    frames: add "frames": {"keys", "ciou", "hit"}, the per-frame values behind the rates (in scoring order; "hit" is the
    box-level hit of box predictions, else absent), for paired comparisons of two methods on the same frames.
    """
    if missing not in ("fail", "skip"):
        raise SSLPropError(f"--missing {missing}: must be 'fail' or 'skip'")
    items = annotated.items
    keys = {it.key for it in items}
    excluded_keys = {k for ks in annotated.excluded.values() for k in ks}
    outside = set(annotated.outside)
    missing_keys = [it.key for it in items if it.key not in predictions.data]
    unannotated = sorted(k for k in predictions.data if k not in keys and k not in excluded_keys and k not in outside)
    cious: list[float] = []
    scored: list[str] = []  # the key of each entry of `cious`
    hits: list[bool] = []
    silents: list[float] = []
    empty_preds: list[str] = []
    outside_preds: list[str] = []
    for it in tqdm(items, desc=f"eval {protocol.name}", unit="frame", leave=False, disable=None):
        pred = predictions.data.get(it.key)
        if pred is None:
            if missing == "fail":
                cious.append(0.0)
                scored.append(it.key)
                hits.append(False)
            continue
        if predictions.kind == "boxes":
            top = pred[: 2 if protocol.multi else 1, :4]
            if len(top) == 0:
                empty_preds.append(it.key)
            elif clip_to_frame(top[0], it.width, it.height) is None:  # scores 0, and is counted
                outside_preds.append(it.key)
            masks = [it.raster.mask(b) > 0 for b in top]
        else:
            maps = pred if pred.ndim == 3 else pred[None]
            if not protocol.multi and maps.shape[0] != 1:
                raise SSLPropError(f"{predictions.source} key {it.key!r}: {protocol.name} scores one map per frame, got {maps.shape[0]}")
            masks = [protocol.mask(m, size) for m in maps]
        scored.append(it.key)
        if protocol.multi:
            cious.append(metrics.dsol_multi_image(masks, it.sources).ciou)
            if it.silent_specs:
                positive = np.zeros((size, size), dtype=bool)
                for m in masks:
                    positive |= m
                silents.append(metrics.silent_score(positive, it.silent))
            continue
        mask = masks[0] if masks else np.zeros((size, size), dtype=bool)
        cious.append(metrics.ciou(mask, it.gt))
        if predictions.kind == "boxes":
            hits.append(bool(len(top)) and metrics.box_hit(top[0], it.gt_boxes)[0])
    if not cious:
        raise SSLPropError(f"{annotated.source}: nothing to score ({len(items)} annotated frames, {len(missing_keys)} without predictions)")
    curve = metrics.success_curve(cious)
    report: dict[str, Any] = {
        "protocol": protocol.name,
        "annotations": annotated.source,
        "predictions": predictions.source,
        "kind": predictions.kind,
        "n": len(cious),
        "auc": metrics.ciou_auc(cious),
        protocol.headline: metrics.success_rate(cious, 0.5),
        "mean_ciou": _nan_to_none(float(np.mean(cious))),
    }
    if protocol.multi:
        report["iou@0.3"] = curve[6]  # DSOL prints results[6]: the step 0.05 * 6 = 0.30000000000000004
        report["silent"] = _nan_to_none(float(np.mean(silents))) if silents else None
        report["n_silent"] = len(silents)
    elif predictions.kind == "boxes":
        report["box_iou@0.5"] = float(np.mean(hits))
        if protocol.headline == "ciou@0.5":
            report["iou@0.5"] = report["box_iou@0.5"]
    report.update({
        "n_annotated": len(items) + len(excluded_keys),
        "excluded": {reason: len(ks) for reason, ks in annotated.excluded.items()},
        "excluded_examples": {reason: _examples(ks) for reason, ks in annotated.excluded.items() if ks},
        "outside_ids": len(outside),
        "missing_predictions": len(missing_keys),
        "missing_examples": _examples(missing_keys),
        "missing_scored_as": "cIoU 0" if missing == "fail" else "left out of n",
        "unannotated_predictions": len(unannotated),
        "unannotated_examples": _examples(unannotated),
        "empty_predictions": len(empty_preds),
        "predictions_outside_frame": len(outside_preds),
        "predictions_outside_examples": _examples(outside_preds),
        "nan_ciou": int(np.sum(np.isnan(np.asarray(cious, dtype=np.float64)))),
        "problems": summarise_problems(annotated.problems),
        "curve": curve,
    })
    if ci is not None:
        from sslprop.evaluation.bootstrap import bootstrap_intervals

        columns: dict[str, Any] = {protocol.headline: (cious, lambda v: metrics.success_rate(v, 0.5)),
                                   "auc": (cious, metrics.ciou_auc), "mean_ciou": (cious, lambda v: float(np.mean(v)))}
        if protocol.multi:
            columns["iou@0.3"] = (cious, lambda v: metrics.success_curve(v)[6])
        elif predictions.kind == "boxes" and len(hits) == len(cious):
            columns["box_iou@0.5"] = (hits, lambda v: float(np.mean(v)))
        settings = {"resamples": int(ci.get("resamples", 1000)), "seed": int(ci.get("seed", 0)), "level": float(ci.get("level", 0.95))}
        report["ci"] = bootstrap_intervals(scored, columns, **settings)
        if "iou@0.5" in report and "box_iou@0.5" in report["ci"]:  # the same rate under its second name
            report["ci"]["iou@0.5"] = report["ci"]["box_iou@0.5"]
        report["ci_settings"] = {**settings, "unit": "sample (the frames of one sample are drawn together)"}
    if frames:
        report["frames"] = {"keys": list(scored), "ciou": [float(c) for c in cious]}
        if predictions.kind == "boxes" and not protocol.multi and len(hits) == len(cious):
            report["frames"]["hit"] = [bool(h) for h in hits]
    return report


def evaluate(annotations: str | os.PathLike, protocol: str, predictions: str | os.PathLike | None = None, method: str | None = None,
             fmt: str | None = None, split: str = "test", frame_size: tuple[float, float] = (metrics.GRID, metrics.GRID),
             seed: int = 0, missing: str = "fail", ids: str | os.PathLike | None = None, size: int = metrics.GRID,
             ci: Mapping[str, Any] | None = None, frames: bool = False) -> dict[str, Any]:
    """The whole of `eval` as a function: read annotations (optionally only the ids listed in
    `ids`), load predictions or make a floor, score (with bootstrap intervals when `ci` is given and the
    per-frame values when `frames` is True, see `score`)."""
    if (predictions is None) == (method is None):
        raise SSLPropError("give exactly one of --predictions PATH or --method {" + ",".join(FLOORS) + "}")
    proto = metrics.get_protocol(protocol)
    annotated = load_annotated(annotations, fmt, proto, split, frame_size, size)
    if ids is not None:
        annotated = restrict_to_ids(annotated, read_id_list(ids), str(ids))
    if method is not None:
        frames = {it.key: (it.width, it.height) for it in annotated.items}
        preds = Predictions("boxes", floor_predictions(method, frames, seed), f"floor:{method}" + (f" (seed {seed})" if method == "random-box" else ""))
    else:
        preds = load_predictions(predictions)
    return score(annotated, preds, proto, size, missing, ci, frames)


# --------------------------------------------------------------------------- tables


def format_report(report: Mapping[str, Any]) -> str:
    """A short plain-text table of one report."""
    rates = [k for k in ("ciou@0.5", "iou@0.5", "iou@0.3", "box_iou@0.5", "auc", "mean_ciou", "silent") if k in report]
    lines = [
        f"protocol     {report['protocol']}",
        f"annotations  {report['annotations']}",
        f"predictions  {report['predictions']} ({report['kind']})",
        f"n            {report['n']}",
    ]
    ci = report.get("ci", {})
    for k in rates:
        v = report[k]
        band = f"  [{ci[k][0]:.4f}, {ci[k][1]:.4f}]" if k in ci else ""
        lines.append(f"{k:<12} {'-' if v is None else f'{v:.4f}'}{band}")
    if ci:
        s = report["ci_settings"]
        lines.append(f"intervals    {100 * s['level']:g} % bootstrap, {s['resamples']} resamples of samples, seed {s['seed']}")
    lines.append(f"excluded     {', '.join(f'{r} {c}' for r, c in report['excluded'].items()) or 'none'}")
    lines.append(f"missing      {report['missing_predictions']} (scored as {report['missing_scored_as']})"
                 + (f", e.g. {', '.join(report['missing_examples'])}" if report["missing_examples"] else ""))
    lines.append(f"unannotated  {report['unannotated_predictions']} prediction ids with no annotation (ignored)")
    if report["outside_ids"]:
        lines.append(f"outside      {report['outside_ids']} annotated ids not in --ids (ignored)")
    if report["empty_predictions"]:
        lines.append(f"empty        {report['empty_predictions']} predictions with no box")
    if report.get("predictions_outside_frame"):
        lines.append(f"off-frame    {report['predictions_outside_frame']} predictions whose box lies wholly outside the frame "
                     f"(scored 0), e.g. {', '.join(report['predictions_outside_examples'])}")
    if report["nan_ciou"]:
        lines.append(f"nan cIoU     {report['nan_ciou']} (empty ground truth and empty prediction: counted as failures)")
    for kind, p in report["problems"].items():
        lines.append(f"problem      {kind}: {p['count']}, e.g. {p['examples'][0]}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m sslprop eval`."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--predictions", metavar="PATH", help="maps (.npz, or a folder of <key>.npy) or boxes (.json {key: [[x1,y1,x2,y2,score],...]})")
    what.add_argument("--method", choices=FLOORS, help="score a floor that needs no model instead of predictions")
    what.add_argument("--onscreen", metavar="DIR", help="a predictions folder with onscreen.json: Table 1 (m_on, d_on, their OR) "
                      "and ROC AUCs against the on/off-screen labels of the sslprop data set --annotations (no --protocol)")
    parser.add_argument("--annotations", required=True, metavar="PATH", help="annotation file/folder, or an sslprop data set folder")
    parser.add_argument("--format", choices=FORMATS, default=None, help="annotation format (default: guessed from PATH)")
    parser.add_argument("--protocol", choices=list(metrics.PROTOCOLS), help="evaluation protocol (see sslprop.evaluation.metrics); needed unless --onscreen")
    parser.add_argument("--split", default="test", choices=["train", "test", "all"], help="sslprop data sets: which split to score (default test)")
    parser.add_argument("--frame-size", nargs=2, type=float, default=[metrics.GRID, metrics.GRID], metavar=("W", "H"),
                        help="pixel size of the frames of box predictions on VGG-SS / AudioSet-instrument (default 224 224)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random-box floor (default 0)")
    parser.add_argument("--ids", metavar="FILE", help="score only the ids listed in FILE (a test list such as flickr_test.csv); others are counted as outside")
    parser.add_argument("--missing", choices=["fail", "skip"], default="fail", help="ids without a prediction: score as cIoU 0 (default) or leave out of n")
    parser.add_argument("--ci", action="store_true", help="95 %% bootstrap intervals of every rate (samples resampled, seeded); with --onscreen, of the "
                        "accuracies and ROC AUCs, and the paired differences of the OR criterion")
    parser.add_argument("--resamples", type=positive_int, default=1000, help="bootstrap resamples with --ci (default 1000)")
    parser.add_argument("--ci-seed", type=int, default=0, help="seed of the bootstrap with --ci (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--output", metavar="FILE", help="also write the JSON report to FILE")


def main(args: argparse.Namespace) -> int:
    """Run `eval` and print the report."""
    if args.onscreen:
        from sslprop.evaluation.onscreen import format_onscreen_report, onscreen_report

        given = [flag for flag, value in (("--protocol", args.protocol), ("--format", args.format), ("--ids", args.ids)) if value]
        if given:  # Table 1 reads the on/off labels of an sslprop data set: these would be silently ignored
            raise SSLPropError(f"{', '.join(given)}: not used with --onscreen (it reads an sslprop data set's on/off-screen labels)")

        ci = {"resamples": args.resamples, "seed": args.ci_seed} if args.ci else None
        report, text = onscreen_report(args.onscreen, args.annotations, args.split, ci), format_onscreen_report
    else:
        if args.protocol is None:
            raise SSLPropError("--protocol: required to score --predictions or a --method floor")
        w, h = args.frame_size
        if w <= 0 or h <= 0:
            raise SSLPropError(f"--frame-size {w} {h}: must be positive")
        report = evaluate(args.annotations, args.protocol, predictions=args.predictions, method=args.method, fmt=args.format,
                          split=args.split, frame_size=(w, h), seed=args.seed, missing=args.missing, ids=args.ids,
                          ci={"resamples": args.resamples, "seed": args.ci_seed} if args.ci else None)
        text = format_report
    if args.output:
        from sslprop.utils import atomic_write_json

        atomic_write_json(args.output, report)
    print(json.dumps(report, sort_keys=True) if args.json else text(report))
    return 0
