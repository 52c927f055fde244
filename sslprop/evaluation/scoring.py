"""Scoring one prediction set on annotated frames: the per-frame values (`score_frames` -> `Scored`), the JSON-able report
of their rates and accounting (`summarise_scored`; both at once: `score`), the extended evaluation's per-frame confidence
(`read_confidence`), and two prediction sets on the same frames compared by the paired bootstrap (`compare_scored`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from sslprop.data.annotations import load_json, summarise_problems
from sslprop.data.predfiles import Predictions, read_onscreen
from sslprop.errors import SSLPropError
from sslprop.evaluation import metrics
from sslprop.evaluation import pointing as pointing_game
from sslprop.evaluation.annotated import Annotated, clip_to_frame
from sslprop.evaluation.bootstrap import bootstrap_intervals, paired_difference
from sslprop.evaluation.bootstrap import settings as _ci_settings
from sslprop.evaluation.extended import average_precision, box_confidence, extended_scores, map_confidence, max_f1

EXAMPLES = 5  # ids quoted per reported category


def _nan_to_none(x: float) -> float | None:
    return None if isinstance(x, float) and math.isnan(x) else x


def _examples(keys: Sequence[str]) -> list[str]:
    return list(keys[:EXAMPLES])


@dataclass
class Scored:
    """Per-frame values of one prediction set on the annotated frames (what the report summarises).

    keys:        the scored frames, in order; every list below but the non-visible ones is aligned with it
    cious:       (F,) cIoU (NaN: empty ground truth and empty prediction)
    hits:        box_iou@0.5 hits (single-source box predictions; else empty)
    silents:     multi-source: the silent score of each frame with silent objects
    pointing:    pointing-game hits (when asked; else empty)
    confidence:  the extended evaluation's confidence per scored frame (when asked; -inf: none)
    nonvisible_keys / nonvisible_confidence: the extended evaluation's frames whose source is not visible
    """

    keys: list[str] = field(default_factory=list)
    cious: list[float] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    silents: list[float] = field(default_factory=list)
    pointing: list[bool] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    nonvisible_keys: list[str] = field(default_factory=list)
    nonvisible_confidence: list[float] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    missing_nonvisible: list[str] = field(default_factory=list)
    unannotated: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


CONFIDENCE_RULES = ("auto", "top-quarter", "d_on")


def read_confidence(spec: str, predictions_path: str | os.PathLike | None) -> str | dict[str, float]:
    """`--confidence` -> a rule ("auto", "top-quarter") or {key: d_on} from an onscreen.json.

    "d_on" reads the onscreen.json beside the predictions (in the predictions folder, or in the folder
    of the predictions file); any other value is the path of an onscreen.json.
    """
    if spec in ("auto", "top-quarter"):
        return spec
    if spec == "d_on":
        if predictions_path is None:
            raise SSLPropError("--confidence d_on: reads the onscreen.json beside --predictions; a --method floor has none")
        p = Path(predictions_path)
        folder, path = (p if p.is_dir() else p.parent), None
    else:
        path = Path(spec)
        if path.is_dir():
            path = path / "onscreen.json"
        folder = path.parent
    records = read_onscreen(folder) if path is None or path.name == "onscreen.json" else None
    if records is None:
        records = load_json(path)
        if not isinstance(records, dict):
            raise SSLPropError(f"--confidence {spec}: expected an onscreen.json object {{key: {{\"d_on\": ...}}}}")
    out = {}
    for k, r in records.items():
        d = r.get("d_on") if isinstance(r, dict) else None
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d):
            raise SSLPropError(f"--confidence {spec}: record {k!r} has no finite d_on")
        out[str(k)] = float(d)
    return out


def _confidence(key: str, pred: np.ndarray | None, kind: str, rule: str | Mapping[str, float], protocol: metrics.Protocol,
                size: int) -> float:
    """One frame's confidence: -inf without a prediction; else d_on from the records, the top box's score,
    or the map's maximum ("auto") / the mean of the top quarter of its grid map ("top-quarter")."""
    if pred is None:
        return -math.inf
    if isinstance(rule, Mapping):
        if key not in rule:
            raise SSLPropError(f"--confidence: the onscreen.json has no d_on for frame {key!r}")
        return rule[key]
    if kind == "boxes":
        if rule != "auto":
            raise SSLPropError(f"--confidence {rule}: for map predictions only (boxes use the top box's score)")
        return box_confidence(pred)
    m = pred if pred.ndim == 2 else pred[0]
    return map_confidence(m if rule == "auto" else protocol.resize(m, size), "max" if rule == "auto" else rule)


def score_frames(annotated: Annotated, predictions: Predictions, protocol: metrics.Protocol, size: int = metrics.GRID,
                 missing: str = "fail", pointing: bool = False, confidence: str | Mapping[str, float] | None = None) -> Scored:
    """The per-frame values of `predictions` on `annotated` (see `Scored`).

    pointing: also play the pointing game (`sslprop.evaluation.pointing`; single-source protocols).
    confidence: also the extended evaluation's confidences (`read_confidence`), of the scored frames and of
    the off-screen frames (``excluded["offscreen"]``), which become its non-visible samples.
    """
    if missing not in ("fail", "skip"):
        raise SSLPropError(f"--missing {missing}: must be 'fail' or 'skip'")
    if protocol.multi and (pointing or confidence is not None):
        what = "--pointing" if pointing else "--extended"
        raise SSLPropError(f"{what}: scores one map or box per frame; not with the multi-source --protocol {protocol.name}")
    items = annotated.items
    keys = {it.key for it in items}
    excluded_keys = {k for ks in annotated.excluded.values() for k in ks}
    outside = set(annotated.outside)
    out = Scored()
    out.missing = [it.key for it in items if it.key not in predictions.data]
    out.unannotated = sorted(k for k in predictions.data if k not in keys and k not in excluded_keys and k not in outside)
    for it in tqdm(items, desc=f"eval {protocol.name}", unit="frame", leave=False, disable=None):
        pred = predictions.data.get(it.key)
        if pred is None:
            if missing == "fail":
                out.cious.append(0.0)
                out.keys.append(it.key)
                out.hits.append(False)
                if pointing:
                    out.pointing.append(False)
                if confidence is not None:
                    out.confidence.append(-math.inf)
            continue
        if predictions.kind == "boxes":
            top = pred[: 2 if protocol.multi else 1, :4]
            if len(top) == 0:
                out.empty.append(it.key)
            elif clip_to_frame(top[0], it.width, it.height) is None:  # scores 0, and is counted
                out.outside.append(it.key)
            masks = [it.raster.mask(b) > 0 for b in top]
        else:
            maps = pred if pred.ndim == 3 else pred[None]
            if not protocol.multi and maps.shape[0] != 1:
                raise SSLPropError(f"{predictions.source} key {it.key!r}: {protocol.name} scores one map per frame, got {maps.shape[0]}")
            if protocol.multi and maps.shape[0] == 1:  # one class-agnostic map names two sources: its two regions
                masks = metrics.two_regions(protocol.resize(maps[0], size), protocol.mask(maps[0], size))
            else:
                masks = [protocol.mask(m, size) for m in maps]
        out.keys.append(it.key)
        if protocol.multi:
            out.cious.append(metrics.dsol_multi_image(masks, it.sources).ciou)
            if it.silent_specs:
                positive = np.zeros((size, size), dtype=bool)
                for m in masks:
                    positive |= m
                out.silents.append(metrics.silent_score(positive, it.silent))
            continue
        mask = masks[0] if masks else np.zeros((size, size), dtype=bool)
        out.cious.append(metrics.ciou(mask, it.gt))
        if predictions.kind == "boxes":
            out.hits.append(bool(len(top)) and metrics.box_hit(top[0], it.gt_boxes)[0])
        if pointing:
            out.pointing.append(pointing_game.box_point_hit(pred, it.width, it.height, it.gt_boxes) if predictions.kind == "boxes"
                                else pointing_game.map_hit(maps[0], protocol, it.width, it.height, it.gt_boxes, size))
        if confidence is not None:
            out.confidence.append(_confidence(it.key, pred, predictions.kind, confidence, protocol, size))
    if confidence is not None:
        for key in annotated.excluded.get("offscreen", []):
            pred = predictions.data.get(key)
            if pred is None:
                out.missing_nonvisible.append(key)
                if missing == "skip":
                    continue
            out.nonvisible_keys.append(key)
            out.nonvisible_confidence.append(_confidence(key, pred, predictions.kind, confidence, protocol, size))
    if not out.cious:
        raise SSLPropError(f"{annotated.source}: nothing to score ({len(items)} annotated frames, {len(out.missing)} without predictions)")
    return out


def _extended_columns(s: Scored) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The extended evaluation's samples: keys, (N,) visible, (N,) cIoU (NaN where not visible), (N,) confidence."""
    keys = s.keys + s.nonvisible_keys
    visible = np.array([True] * len(s.keys) + [False] * len(s.nonvisible_keys))
    cious = np.array(list(s.cious) + [math.nan] * len(s.nonvisible_keys), dtype=np.float64)
    return keys, visible, cious, np.array(s.confidence + s.nonvisible_confidence, dtype=np.float64)


def _extended_stats(visible: np.ndarray, cious: np.ndarray, conf: np.ndarray, t: float) -> dict[str, Callable[[np.ndarray], float]]:
    """Statistics of a drawn set of sample indices (the bootstrap resamples indices, as floats)."""
    def pick(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        i = idx.astype(np.int64)
        return visible[i], cious[i], conf[i]

    return {f"ap@{t:g}": lambda idx: average_precision(*pick(idx), t),
            f"max_f1@{t:g}": lambda idx: max_f1(*pick(idx), t)[0]}


def summarise_scored(annotated: Annotated, predictions: Predictions, protocol: metrics.Protocol, s: Scored, missing: str = "fail",
                     ci: Mapping[str, Any] | None = None, extended_ciou: float = 0.5,
                     confidence_name: str = "") -> dict[str, Any]:
    """The report (a JSON-able dict) of the per-frame values `s` (see `score` for its keys); `compare_scored` compares two."""
    cious = s.cious
    curve = metrics.success_curve(cious)
    excluded_keys = {k for ks in annotated.excluded.values() for k in ks}
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
        report["ciou@0.3"] = curve[6]  # DSOL's CIoU@0.3: eval.py prints results[6], the step 0.05 * 6 = 0.30000000000000004
        if predictions.kind == "maps":
            report["map_readout"] = ("two regions of each single map (metrics.two_regions), one mask per map of (S, H, W) maps")
        report["silent"] = _nan_to_none(float(np.mean(s.silents))) if s.silents else None
        report["n_silent"] = len(s.silents)
    elif predictions.kind == "boxes":
        report["box_iou@0.5"] = float(np.mean(s.hits))
        if protocol.headline == "ciou@0.5":
            report["iou@0.5"] = report["box_iou@0.5"]
    if s.pointing:
        report["pointing"] = float(np.mean(s.pointing))
    extended_on = len(s.confidence) == len(s.keys) and (s.confidence or s.nonvisible_keys)
    if extended_on:
        ekeys, visible, ecious, conf = _extended_columns(s)
        scores = extended_scores(visible, ecious, conf, extended_ciou)
        t = f"{extended_ciou:g}"
        report[f"ap@{t}"] = scores["ap"]
        report[f"max_f1@{t}"] = scores["max_f1"]
        report["extended"] = {
            "ciou_threshold": extended_ciou, "confidence": confidence_name, "n": len(ekeys), "n_visible": int(visible.sum()),
            "n_nonvisible": int((~visible).sum()), "f1_confidence": scores["f1_confidence"], "precision": scores["precision"],
            "missing_nonvisible": len(s.missing_nonvisible), "missing_nonvisible_examples": _examples(s.missing_nonvisible),
            "reference": "stoneMo/SLAVC utils.py EvaluatorFull.calc_precision_recall / calc_ap / finalize_stats (F1)",
        }
    report.update({
        "n_annotated": len(annotated.items) + len(excluded_keys),
        "excluded": {reason: len(ks) for reason, ks in annotated.excluded.items()},
        "excluded_examples": {reason: _examples(ks) for reason, ks in annotated.excluded.items() if ks},
        "outside_ids": len(annotated.outside),
        "missing_predictions": len(s.missing),
        "missing_examples": _examples(s.missing),
        "missing_scored_as": "cIoU 0" if missing == "fail" else "left out of n",
        "unannotated_predictions": len(s.unannotated),
        "unannotated_examples": _examples(s.unannotated),
        "empty_predictions": len(s.empty),
        "predictions_outside_frame": len(s.outside),
        "predictions_outside_examples": _examples(s.outside),
        "nan_ciou": int(np.sum(np.isnan(np.asarray(cious, dtype=np.float64)))),
        "problems": summarise_problems(annotated.problems),
        "curve": curve,
    })
    if ci is not None:
        columns: dict[str, Any] = {protocol.headline: (cious, lambda v: metrics.success_rate(v, 0.5)),
                                   "auc": (cious, metrics.ciou_auc), "mean_ciou": (cious, lambda v: float(np.mean(v)))}
        if protocol.multi:
            columns["ciou@0.3"] = (cious, lambda v: metrics.success_curve(v)[6])
        elif predictions.kind == "boxes" and len(s.hits) == len(cious):
            columns["box_iou@0.5"] = (s.hits, lambda v: float(np.mean(v)))
        if s.pointing:
            columns["pointing"] = (s.pointing, lambda v: float(np.mean(v)))
        settings = _ci_settings(ci)
        report["ci"] = bootstrap_intervals(s.keys, columns, **settings)
        if "iou@0.5" in report and "box_iou@0.5" in report["ci"]:  # the same rate under its second name
            report["ci"]["iou@0.5"] = report["ci"]["box_iou@0.5"]
        if extended_on:  # the extended samples (visible and not) are resampled by sample, on their own draws
            idx = np.arange(len(ekeys), dtype=np.float64)
            stats = _extended_stats(visible, ecious, conf, extended_ciou)
            report["ci"].update(bootstrap_intervals(ekeys, {k: (idx, f) for k, f in stats.items()}, **settings))
        report["ci_settings"] = {**settings, "unit": "sample (the frames of one sample are drawn together)"}
    return report


def per_frame(s: Scored) -> dict[str, Any]:
    """{"keys", "ciou"[, "hit"]}: the per-frame values behind a report's rates, in scoring order ("hit": the box-level
    hits of single-source box predictions), for paired comparisons of two methods on the same frames."""
    out: dict[str, Any] = {"keys": list(s.keys), "ciou": [float(c) for c in s.cious]}
    if s.hits and len(s.hits) == len(s.keys):
        out["hit"] = [bool(h) for h in s.hits]
    return out


def score(annotated: Annotated, predictions: Predictions, protocol: metrics.Protocol, size: int = metrics.GRID, missing: str = "fail",
          ci: Mapping[str, Any] | None = None, pointing: bool = False, extended: Mapping[str, Any] | None = None,
          frames: bool = False) -> dict[str, Any]:
    """Score `predictions` on `annotated` under `protocol` -> the report (a JSON-able dict).

    Keys: n (samples in the summary), auc, the headline rate (``ciou@0.5`` or ``iou@0.5``),
    mean_ciou, box_iou@0.5 (box predictions, single source), ciou@0.3 and silent (multi-source),
    and the accounting: n_annotated, excluded, missing_predictions, unannotated_predictions,
    empty_predictions, nan_ciou, problems. Rates are fractions in [0, 1].
    ci: {"resamples": R, "seed": s, "level": 0.95} adds "ci": {metric: [low, high]} (`sslprop.evaluation.bootstrap`,
    samples resampled), with the settings under "ci_settings".
    pointing: adds "pointing", the pointing game's hit rate (`sslprop.evaluation.pointing`).
    extended: {"ciou_threshold": 0.5, "confidence": "auto" | "top-quarter" | "d_on" | path | {key: d_on}, "name": str} adds SLAVC's
    extended evaluation (`sslprop.evaluation.extended`): ``ap@T`` and ``max_f1@T`` at cIoU threshold T, with the
    off-screen frames as its non-visible samples, and its accounting under "extended".
    frames: adds "frames", the per-frame values (`per_frame`).
    """
    conf = None if extended is None else extended.get("confidence", "auto")
    if isinstance(conf, str):  # "d_on" or the path of an onscreen.json -> {key: d_on}
        conf = read_confidence(conf, predictions.source)
    s = score_frames(annotated, predictions, protocol, size, missing, pointing, conf)
    t = 0.5 if extended is None else float(extended.get("ciou_threshold", 0.5))
    name = "" if extended is None else str(extended.get("name", conf if isinstance(conf, str) else "d_on"))
    report = summarise_scored(annotated, predictions, protocol, s, missing, ci, t, name)
    if frames:
        report["frames"] = per_frame(s)
    return report


def compare_scored(a: Scored, b: Scored, protocol: metrics.Protocol, both_boxes: bool, ci: Mapping[str, Any] | None = None,
                   extended_ciou: float | None = None) -> dict[str, dict[str, float | bool]]:
    """{metric: {"difference", "low", "high", "resolved"}}: A - B with its paired bootstrap interval (`bootstrap.paired_difference`).

    Metrics: the headline rate and auc (and ciou@0.3 under a multi-source protocol), box_iou@0.5 when both are boxes, pointing when both played it, and
    ap@T / max_f1@T when the extended evaluation ran. A and B must score the same frames (else an SSLPropError).
    """
    if a.keys != b.keys or a.nonvisible_keys != b.nonvisible_keys:
        only_a = sorted(set(a.keys + a.nonvisible_keys) - set(b.keys + b.nonvisible_keys))
        only_b = sorted(set(b.keys + b.nonvisible_keys) - set(a.keys + a.nonvisible_keys))
        eg = (only_a or only_b or ["(same frames, different order)"])[0]
        raise SSLPropError(f"--compare: the two predictions score different frames ({len(a.keys)} and {len(b.keys)}; "
                           f"{len(only_a)} only in the first, {len(only_b)} only in the second, e.g. {eg!r}); use --missing fail")
    settings = _ci_settings(ci)
    out: dict[str, dict[str, float | bool]] = {
        protocol.headline: paired_difference(a.keys, a.cious, b.cious, lambda v: metrics.success_rate(v, 0.5), **settings),
        "auc": paired_difference(a.keys, a.cious, b.cious, metrics.ciou_auc, **settings),
    }
    if protocol.multi:
        out["ciou@0.3"] = paired_difference(a.keys, a.cious, b.cious, lambda v: metrics.success_curve(v)[6], **settings)
    if both_boxes and not protocol.multi:
        out["box_iou@0.5"] = paired_difference(a.keys, a.hits, b.hits, lambda v: float(np.mean(v)), **settings)
    if a.pointing and b.pointing:
        out["pointing"] = paired_difference(a.keys, a.pointing, b.pointing, lambda v: float(np.mean(v)), **settings)
    if extended_ciou is not None:  # A's samples are indices 0..N-1, B's N..2N-1 of the stacked columns
        ka, va, ca, fa = _extended_columns(a)
        _, vb, cb, fb = _extended_columns(b)
        n = len(ka)
        stats = _extended_stats(np.concatenate([va, vb]), np.concatenate([ca, cb]), np.concatenate([fa, fb]), extended_ciou)
        ia, ib = np.arange(n, dtype=np.float64), np.arange(n, 2 * n, dtype=np.float64)
        for name, f in stats.items():
            out[name] = paired_difference(ka, ia, ib, f, **settings)
    return out
