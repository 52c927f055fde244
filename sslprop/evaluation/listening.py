"""The listening test (`python -m sslprop listen`): change the sound, keep the frame; does the answer follow the sound?

The `listening` preset of `sslprop synth` plays every frame (2-8 objects of different classes in view) with the
recording of each object in view in turn, and with silence (the noise floor alone), loud white noise and the
recording of a class not in view. A method that listens moves its answer to the object being played; one that
does not cannot. For one trained run (any method), from its prediction files:

- **follow rate**: over (frame, played object) pairs, the share where the answer lands on the object played:
  its best box reaches IoU >= 0.5 with the object's box (``follow_box``), or its point (a map's peak, a box's
  centre: the pointing game's rule) lies inside it (``follow_point``);
- **blind rate**: the most a method that ignores the audio can get on the same pairs: one fixed answer per frame
  follows every sound whose object it lands on. A point can lie in several overlapping boxes, so the point rule's
  blind rate is sum_f depth_f / sum_f n_f, depth_f the most object boxes of frame f that one point lies in
  (``blind_point``, at least 1 / n_f per frame); the box rule's takes, as the fixed box, the frame's object box that
  reaches IoU >= 0.5 with the most of them (``blind_box``, usually 1 / n_f). It assumes a perfect localiser, so a
  method that listens but localises loosely can stay below it;
- **other-sound rate**: the same method's answers when it hears *another* object of the frame: over the same pairs
  (frame, object j), the mean over the frame's other object sounds k of whether the answer to k lands on j
  (``other_box``, ``other_point``). It is the blind reference at the method's own precision: a method that ignores
  the audio gives one answer to every sound, so its follow rate equals its other-sound rate exactly; one that
  listens follows the sound played more often than the sounds not played;
- **switch rate**: over pairs of two different object sounds on one frame, the share where the object the answer
  picks changes (a box's object of highest IoU, a map peak's topmost object; or none) (``switch``; a deaf method
  scores 0);
- **silence, noise, offscreen**: the method's on-screen calls (d_on > 0.2, m_on, their OR, where the method
  has them) under each against the same frames with an object's own sound, the ROC AUC with which its confidence
  (d_on; a map method's peak value) separates an object's own sound from it, and how far the box moves (mean IoU
  of the box under it with the boxes under the frame's object sounds: 1 = it does not move).

The unit resampled by ``--ci`` is the frame (all its sounds together). Boxes are absolute pixels
``(x1, y1, x2, y2)`` of the stored frame.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sslprop.data.bags import HIT_IOU
from sslprop.data.format import Sample, read_info, read_manifest
from sslprop.data.predfiles import load_predictions
from sslprop.engine.predict import predict
from sslprop.errors import SSLPropError
from sslprop.evaluation import bootstrap
from sslprop.evaluation.onscreen import auc
from sslprop.evaluation.pointing import box_point, map_point
from sslprop.evaluation.prior import visual_prior
from sslprop.ops.boxes import box_iou_np

SOUNDS = ("silence", "noise", "offscreen")  # the sounds of no object in view
PRIOR = "visual-prior"  # `listen --run visual-prior`: the audio-free visual prior, the blind reference
CALLS = ("on_d", "on_m", "on_or")  # onscreen.json's decisions: d_on > 0.2, m_on, their OR


@dataclass
class Answer:
    """What a method answers for one sample: its best box (or None), the point it points at, its confidence, its
    on-screen calls ({"on_d": bool, ...}, those the method has), and whether it answers with a "box" (its object: the
    one its box overlaps most) or a "map" (its object: the one its peak lands on)."""

    box: np.ndarray | None
    point: tuple[float, float] | None
    confidence: float
    calls: dict[str, bool]
    kind: str = "box"


def answers_from_predictions(pred_dir: str | os.PathLike, samples: Sequence[Sample]) -> dict[str, Answer]:
    """{sample id: Answer} from a `sslprop predict` folder: a box method (ours) answers with its best box (its centre
    is its point, d_on its confidence); a map method with its map's peak (point), the box `predict` read from the map,
    and the map's peak value (confidence)."""

    pred_dir = Path(pred_dir)
    info = json.loads((pred_dir / "predictions.json").read_text(encoding="utf-8"))
    boxes = load_predictions(pred_dir / "boxes.json").data
    maps = load_predictions(pred_dir / "maps.npz").data if info.get("map_threshold") is not None else {}
    onscreen = json.loads((pred_dir / "onscreen.json").read_text(encoding="utf-8")) if (pred_dir / "onscreen.json").is_file() else {}
    out = {}
    for s in samples:
        if s.id not in boxes:
            raise SSLPropError(f"{pred_dir / 'boxes.json'}: no prediction for {s.id} (predicted on another data set?)")
        f = s.frames[0]
        rows = boxes[s.id]
        box = rows[0, :4] if len(rows) else None
        rec = onscreen.get(s.id, {})
        if s.id in maps:  # a map method points at its peak
            m = maps[s.id]
            point, conf = map_point(m, f.width, f.height), float(rows[0, 4]) if len(rows) else float(m.max())
        else:
            point = box_point(box, f.width, f.height) if box is not None else None
            conf = float(rec["d_on"]) if "d_on" in rec else (float(rows[0, 4]) if len(rows) else float("nan"))
        out[s.id] = Answer(box, point, conf, {c: bool(rec[c]) for c in CALLS if c in rec}, "map" if s.id in maps else "box")
    return out


def prior_answers(data: str | os.PathLike, samples: Sequence[Sample], weights: str | os.PathLike | None = None) -> dict[str, Answer]:
    """{sample id: Answer} of the audio-free visual prior (`sslprop.evaluation.prior`): the frozen visual encoder's
    saliency peak (its point), its most salient proposal (its box) and the peak value (its confidence). It hears
    nothing, so every sound of a frame gets the same answer: the blind reference, measured."""

    frames = {}
    for s in samples:
        frames.setdefault(s.meta.get("frame", s.id), s)
    vp = visual_prior(data, "test", keys=[s.id for s in frames.values()], weights=weights, progress=False)
    per_frame = {}
    for frame_id, s in frames.items():
        f, m, b = s.frames[0], vp.maps[s.id], vp.boxes[s.id]
        per_frame[frame_id] = Answer(b[0, :4] if len(b) else None, map_point(m, f.width, f.height), float(m.max()), {}, "map")
    return {s.id: per_frame[s.meta.get("frame", s.id)] for s in samples}


def pointed_object(point: tuple[float, float] | None, objects: Sequence[Any]) -> int:
    """The index of the object a point lands on: the topmost (last painted) whose box contains it; -1 for none."""
    if point is None:
        return -1
    x, y = point
    inside = [j for j, o in enumerate(objects) if o.box[0] <= x <= o.box[2] and o.box[1] <= y <= o.box[3]]
    return inside[-1] if inside else -1


def answered_object(answer: Answer, objects: Sequence[Any]) -> int:
    """The object an answer picks: a box answer's object of highest IoU (-1 when it overlaps none), a map answer's
    object under its peak (`pointed_object`)."""
    if answer.kind == "map":
        return pointed_object(answer.point, objects)
    if answer.box is None:
        return -1
    ious = [box_iou_np(answer.box, o.box) for o in objects]
    return int(np.argmax(ious)) if max(ious) > 0 else -1


@dataclass
class Frame:
    """One listening frame: its object sounds (sample ids by object index) and its other sounds (by name)."""

    frame: str
    objects: list[Any]
    played: dict[int, str]
    others: dict[str, str]


def listening_frames(samples: Sequence[Sample]) -> list[Frame]:
    """The frames of a `listening` set (`meta` frame / played / object), in manifest order; an error for another set."""
    frames: dict[str, Frame] = {}
    for s in samples:
        meta = s.meta
        if "played" not in meta or "frame" not in meta:
            raise SSLPropError(f"sample {s.id}: not a listening sample (make the set with `python -m sslprop synth --preset listening`)")
        fr = frames.setdefault(meta["frame"], Frame(meta["frame"], s.frames[0].objects, {}, {}))
        if meta["played"] == "object":
            fr.played[int(meta["object"])] = s.id
        else:
            fr.others[meta["played"]] = s.id
    usable = [f for f in frames.values() if len(f.played) >= 2]
    if not usable:
        raise SSLPropError("no frame with two objects' sounds to compare")
    return usable


def blind_hits(objects: Sequence[Any]) -> tuple[int, int]:
    """(point, box): how many of a frame's objects one fixed answer can land on. Point: the most object boxes (edges
    included) one point lies in, found among the points (x1_i, y1_j), where the intersection of any closed boxes
    starts. Box: the most objects one of the frame's own object boxes reaches IoU >= 0.5 with (itself included)."""
    boxes = [o.box for o in objects]
    depth = max((sum(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes) for x in (b[0] for b in boxes)
                 for y in (b[1] for b in boxes)), default=0)
    cover = max((sum(box_iou_np(a, b) >= HIT_IOU for b in boxes) for a in boxes), default=0)
    return depth, cover


def _rate(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def listen_scores(frames: Sequence[Frame], answers: Mapping[str, Answer], ci: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The listening report of one method's `answers` (see the module docstring); intervals with `ci` ({} for defaults)."""
    pair_keys, follow_box, follow_point, blind_point, blind_box, other_box, other_point = [], [], [], [], [], [], []
    switch_keys, switch = [], []
    for fr in frames:
        picked = {}
        depth, cover = blind_hits([fr.objects[j] for j in fr.played])
        for j, sid in sorted(fr.played.items()):
            a, target = answers[sid], fr.objects[j].box
            pair_keys.append(f"{fr.frame}/{j}")
            follow_box.append(a.box is not None and box_iou_np(a.box, target) >= HIT_IOU)
            x_y = a.point
            follow_point.append(x_y is not None and target[0] <= x_y[0] <= target[2] and target[1] <= x_y[1] <= target[3])
            blind_point.append(depth / len(fr.played))  # one fixed answer follows the sounds of the objects it lands on
            blind_box.append(cover / len(fr.played))
            picked[j] = answered_object(a, fr.objects)
            others = [answers[k_sid] for k, k_sid in sorted(fr.played.items()) if k != j]
            other_box.append(np.mean([b.box is not None and box_iou_np(b.box, target) >= HIT_IOU for b in others]))
            other_point.append(np.mean([b.point is not None and target[0] <= b.point[0] <= target[2]
                                        and target[1] <= b.point[1] <= target[3] for b in others]))
        js = sorted(picked)
        for i, a in enumerate(js):
            for b in js[i + 1 :]:
                switch_keys.append(f"{fr.frame}/{a}-{b}")
                switch.append(picked[a] != picked[b])
    cols = {"follow_box": np.array(follow_box, float), "follow_point": np.array(follow_point, float),
            "blind_box": np.array(blind_box), "blind_point": np.array(blind_point),
            "other_box": np.array(other_box, float), "other_point": np.array(other_point, float)}
    report: dict[str, Any] = {"frames": len(frames), "pairs": len(pair_keys), **{k: _rate(v) for k, v in cols.items()},
                              "switch": _rate(np.array(switch, float))}
    sounds: dict[str, Any] = {}
    own_keys, own_conf, own_calls = [], [], {c: [] for c in CALLS}
    for fr in frames:
        for j, sid in sorted(fr.played.items()):
            a = answers[sid]
            own_keys.append(f"{fr.frame}/{j}")
            own_conf.append(a.confidence)
            for c in CALLS:
                own_calls[c].append(a.calls.get(c, np.nan))
    report["own"] = {"frames": len(frames), **{c: _rate(np.array(v, float)) for c, v in own_calls.items() if not np.isnan(v).all()}}
    for name in SOUNDS:
        rows = [(fr, answers[fr.others[name]]) for fr in frames if name in fr.others]
        if not rows:
            continue
        calls = {c: np.array([a.calls.get(c, np.nan) for _, a in rows], float) for c in CALLS}
        stays = np.array([np.mean([box_iou_np(a.box, answers[sid].box) for sid in fr.played.values()
                                   if a.box is not None and answers[sid].box is not None] or [0.0]) for fr, a in rows])
        conf = [a.confidence for _, a in rows]
        sounds[name] = {"frames": len(rows), **{c: _rate(v) for c, v in calls.items() if not np.isnan(v).all()},
                        "auc_own_vs": auc(own_conf + conf, [True] * len(own_conf) + [False] * len(conf)),
                        "box_stays": _rate(stays)}
    report["sounds"] = sounds
    if ci is not None:
        st = bootstrap.settings(ci)
        bands = bootstrap.bootstrap_intervals(pair_keys, {k: (v, np.mean) for k, v in cols.items()}, **st)
        report["intervals"] = {**bands, **bootstrap.bootstrap_intervals(switch_keys, {"switch": (np.array(switch, float), np.mean)}, **st)}
    report["per_pair"] = {"keys": pair_keys, "follow_box": follow_box, "follow_point": follow_point,
                          "blind_box": blind_box, "blind_point": blind_point, "other_box": other_box, "other_point": other_point}
    return report


def paired_follow(a: Mapping[str, Any], b: Mapping[str, Any], column: str = "follow_box", ci: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Two methods' reports on the same listening set: their follow-rate difference with its paired bootstrap interval."""
    ka, kb = a["per_pair"]["keys"], b["per_pair"]["keys"]
    if ka != kb:
        raise SSLPropError("the two listening reports are not on the same pairs")
    return bootstrap.paired_difference(ka, np.array(a["per_pair"][column], float), np.array(b["per_pair"][column], float),
                                       np.mean, **bootstrap.settings(ci))


def blind_difference(report: Mapping[str, Any], column: str = "follow_box", ci: Mapping[str, Any] | None = None,
                     reference: str = "blind") -> dict[str, Any]:
    """A method's follow rate (`column`: "follow_box" or "follow_point") minus a reference rate of the same rule on the
    same pairs, with its bootstrap interval (frames resampled): `reference` "blind" (the best fixed answer) or
    "other" (its own answers to the frame's other object sounds: exactly 0 for a method that does not listen)."""
    if reference not in ("blind", "other"):
        raise SSLPropError(f"reference {reference!r}: expected 'blind' or 'other'")
    pairs = report["per_pair"]
    blind = np.array(pairs[column.replace("follow", reference)], float)
    return bootstrap.paired_difference(pairs["keys"], np.array(pairs[column], float), blind, np.mean, **bootstrap.settings(ci))


# ---------------------------------------------------------------------------------------------
# running it: predictions of a run on the listening set
# ---------------------------------------------------------------------------------------------


def listen(run: str | os.PathLike, data: str | os.PathLike, ci: Mapping[str, Any] | None = None, device: str | None = None,
           batch_size: int | None = None, progress: bool = True, log: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """Predict with `run` (a run folder or an exported checkpoint) on the listening set `data` and score the answers.

    A run folder keeps its predictions in ``RUN/predictions-<data>-test`` (reused when they are there, as the
    notebooks' `ensure_predictions` does); an exported checkpoint predicts into a temporary folder. `run` =
    "visual-prior" scores the audio-free visual prior instead (`prior_answers`), the blind reference.
    """

    data = Path(data)
    samples = read_manifest(data, "test")
    if not samples:
        raise SSLPropError(f"{data}: no test samples (a listening set is all test: `synth --preset listening`)")
    frames = listening_frames(samples)
    if str(run) == PRIOR:
        return {"run": PRIOR, "data": str(data), "method": PRIOR, **listen_scores(frames, prior_answers(data, samples), ci)}
    run = Path(run)
    with tempfile.TemporaryDirectory(prefix="sslprop-listen-") as tmp:
        out = run / f"predictions-{data.name}-test" if run.is_dir() else Path(tmp) / "pred"
        if not (out / "predictions.json").is_file():
            predict(run, data, out, split="test", device=device, batch_size=batch_size, progress=progress, log=log)
        answers = answers_from_predictions(out, samples)
        method = json.loads((out / "predictions.json").read_text(encoding="utf-8"))["method"]
    report = listen_scores(frames, answers, ci)
    return {"run": str(run), "data": str(data), "method": method, **report}


def format_listening_report(report: Mapping[str, Any]) -> str:
    """The report as a few aligned lines."""
    iv = report.get("intervals", {})

    def pct(name: str, value: float) -> str:
        band = iv.get(name)
        return f"{100 * value:5.1f} %" + (f" [{100 * band[0]:.1f}, {100 * band[1]:.1f}]" if band else "")

    lines = [f"listening test: {report['method']} ({report['run']}) on {report['data']}: {report['frames']} frames, "
             f"{report['pairs']} (frame, object sound) pairs",
             f"  follow rate, best box IoU >= {HIT_IOU}: {pct('follow_box', report['follow_box'])}",
             f"  follow rate, point inside the object:  {pct('follow_point', report['follow_point'])}",
             f"  other-sound rate, box / point (its answers to the frame's other objects): {pct('other_box', report['other_box'])} / "
             f"{pct('other_point', report['other_point'])}",
             f"  blind rate, box / point (the best fixed answer per frame): {pct('blind_box', report['blind_box'])} / "
             f"{pct('blind_point', report['blind_point'])}",
             f"  switch rate (two object sounds):        {pct('switch', report['switch'])}"]
    own = report["own"]
    calls = [c for c in CALLS if c in own]
    if calls:
        lines.append("  on-screen calls, own sound: " + ", ".join(f"{c} {100 * own[c]:.1f} %" for c in calls))
    for name, s in report["sounds"].items():
        parts = [f"{c} {100 * s[c]:.1f} %" for c in CALLS if c in s]
        lines.append(f"  {name:9s}: " + ", ".join(parts + [f"confidence AUC own vs {name} {s['auc_own_vs']:.3f}",
                                                        f"box stays (IoU with the object sounds' boxes) {s['box_stays']:.3f}"]))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="a run folder (`sslprop train`) or an exported checkpoint, of any method; "
                        "'visual-prior': the frozen visual encoder's saliency with no audio (the blind reference)")
    parser.add_argument("--data", required=True, help="a listening set (`python -m sslprop synth --preset listening`) with its proposals")
    parser.add_argument("--ci", action="store_true", help="95 %% bootstrap intervals (frames resampled, 1,000 resamples)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    info = read_info(args.data) if Path(args.data).is_dir() else {}
    if info and info.get("preset") not in (None, "listening"):
        raise SSLPropError(f"{args.data}: a {info.get('preset')} set, not a listening set (`synth --preset listening`)")
    report = listen(args.run, args.data, ci={} if args.ci else None, device=args.device, progress=not args.no_progress,
                    log=lambda msg: print(msg, file=sys.stderr))
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "per_pair"}, indent=2))
    else:
        print(format_listening_report(report))
    return 0
