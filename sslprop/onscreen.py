"""On/off-screen recognition (Table 1), confidence over time (Fig. 3/4) and location-map shapes (Fig. 5), from prediction files.

Everything here is a pure function of what `sslprop predict` writes and of a data set's
manifest, so the notebooks only load, call and draw:

    records = read_onscreen(pred_dir)                 # onscreen.json: {key: {d_on, distance, on_m, ...}}
    labels = frame_labels(data, "test")               # {key: True (on-screen) / False (off-screen)}
    table = table1(records, labels)                   # accuracy of on_m, on_d, on_or (paper Table 1)
    sweep = threshold_sweep(records, labels, ts)      # the same as the d_on threshold moves
    track = sequence_track(sample, boxes, records)    # per-frame confidences of a multi-frame sample (Fig. 3/4)
    shape = map_shape(location_map, source_box)       # how a map covers the source (Fig. 5)
    hits = ranking_summary(boxes, gt_boxes(data))     # does d_k rank the kept proposals (notebook 04)

Keys are `sslprop.data.dataset.frame_key`: the sample id, or ``<sample id>/<frame index>`` for a
frame of a multi-frame sample. Boxes are absolute pixels ``(x1, y1, x2, y2)`` of the stored frame.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from sslprop.errors import SSLPropError

D_ON_THRESHOLD = 0.2  # paper Sec. 4.2: on-screen when d_on = max_k d_k > 0.2
CRITERIA = ("on_m", "on_d", "on_or")  # m_on alone, d_on alone, either (the paper's "m_on || d_on")
CRITERION_NAMES = {"on_m": "m_on", "on_d": "d_on", "on_or": "m_on || d_on"}

# Paper Table 1: accuracy (%) of on/out-screen sound recognition, AVE and SSL data sets.
PAPER_TABLE1 = (
    {"criterion": "m_on", "AVE": 64.6, "SSL": 71.8},
    {"criterion": "d_on", "AVE": 66.2, "SSL": 70.5},
    {"criterion": "m_on || d_on", "AVE": 71.2, "SSL": 78.5},
)


# --------------------------------------------------------------------------------------- inputs


def read_onscreen(pred_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """onscreen.json of a predictions folder: {key: {"d_on", "distance", "on_d", "on_m", "on_or"}}.

    Raises a one-line `SSLPropError` when the file is missing or holds no record (a method
    without common-space features, or fewer than two videos to calibrate m_on).
    """
    path = Path(pred_dir) / "onscreen.json"
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise SSLPropError(f"{path}: cannot read on/off-screen predictions ({e})") from None
    if not isinstance(records, dict) or not records:
        raise SSLPropError(f"{path}: no on/off-screen record (method without f_v/f_s, or one video only)")
    return records


def frame_labels(root: str | os.PathLike, split: str = "test") -> dict[str, bool]:
    """On-screen label of every frame of `split` that has one: {key: True (on-screen) / False (off-screen)}.

    Frames whose ``onscreen`` is None (unknown) are left out.
    """
    from sslprop.data.dataset import frame_key
    from sslprop.data.format import read_manifest

    return {frame_key(s, n): bool(f.onscreen) for s in read_manifest(root, split)
            for n, f in enumerate(s.frames) if f.onscreen is not None}


def _aligned(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Keys of `labels` (sorted) with their d_on (F,), distances (F,) and labels (F,) bool; every key must have a record."""
    keys = sorted(labels)
    if not keys:
        raise SSLPropError("on/off-screen: no labelled frame")
    missing = [k for k in keys if k not in records]
    if missing:
        raise SSLPropError(f"on/off-screen: {len(missing)} labelled frame(s) have no prediction, e.g. {missing[0]!r}")
    if any("d_on" not in records[k] for k in keys):
        raise SSLPropError("on/off-screen: records without d_on (not a proposal-based run)")
    d_on = np.array([float(records[k]["d_on"]) for k in keys])
    dist = np.array([float(records[k]["distance"]) for k in keys])
    y = np.array([bool(labels[k]) for k in keys])
    return keys, d_on, dist, y


def m_on_threshold(records: Mapping[str, Mapping[str, Any]]) -> float:
    """The calibrated m_on threshold implied by the records: any value between the largest distance called
    on-screen and the smallest called off-screen reproduces every ``on_m``; we return their midpoint
    (or the one that exists). Raises when the records contradict each other."""
    on = [float(r["distance"]) for r in records.values() if r["on_m"]]
    off = [float(r["distance"]) for r in records.values() if not r["on_m"]]
    if on and off and max(on) >= min(off):
        raise SSLPropError("on/off-screen: on_m is not a threshold on the distance in these records")
    if on and off:
        return (max(on) + min(off)) / 2
    return max(on) + 1e-6 if on else min(off)


# --------------------------------------------------------------------------------------- Table 1


def decisions(d_on: np.ndarray, distance: np.ndarray, d_threshold: float, m_threshold: float) -> dict[str, np.ndarray]:
    """The three criteria of Table 1 per frame: on_m = distance < m_threshold, on_d = d_on > d_threshold, on_or = either.

    d_on, distance: (F,) -> {"on_m", "on_d", "on_or"}: (F,) bool.
    """
    on_m = np.asarray(distance) < m_threshold
    on_d = np.asarray(d_on) > d_threshold
    return {"on_m": on_m, "on_d": on_d, "on_or": on_m | on_d}


def _rates(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """accuracy, on-screen frames called on-screen (TPR), off-screen frames called off-screen (TNR); NaN for an absent class."""
    pos, neg = int(y.sum()), int((~y).sum())
    return {
        "accuracy": float((pred == y).mean()),
        "on-screen called on": float((pred & y).sum() / pos) if pos else float("nan"),
        "off-screen called off": float((~pred & ~y).sum() / neg) if neg else float("nan"),
    }


def table1(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool], d_threshold: float = D_ON_THRESHOLD,
           m_threshold: float | None = None) -> list[dict[str, Any]]:
    """Table 1 on one data set: per criterion (m_on, d_on, m_on || d_on) its accuracy against the labels.

    Args:
        records: onscreen.json of a proposal-based run (`read_onscreen`).
        labels: {key: on-screen?} (`frame_labels`); every labelled key needs a record.
        d_threshold: the d_on cut (paper: 0.2).
        m_threshold: the m_on cut on the distance; default the one the records were decided with
            (`m_on_threshold`), so the rows reproduce the stored ``on_m``.
    Returns:
        Three rows {"criterion", "accuracy", "on-screen called on", "off-screen called off"} (shares in [0, 1]),
        then a fourth, "always on-screen": the accuracy of the majority answer, the floor to beat.
    """
    _, d_on, dist, y = _aligned(records, labels)
    m_thr = m_on_threshold(records) if m_threshold is None else m_threshold
    dec = decisions(d_on, dist, d_threshold, m_thr)
    rows = [{"criterion": CRITERION_NAMES[c], **_rates(dec[c], y)} for c in CRITERIA]
    rows.append({"criterion": "always on-screen", **_rates(np.ones_like(y), y)})
    return rows


def describe_table1(rows: Sequence[Mapping[str, Any]], paper_column: str, name: str) -> str:
    """One paragraph comparing our Table 1 rows (`table1`) with the paper's column ("AVE" or "SSL"), read off the numbers.

    It says whether the OR criterion beats the better single criterion here as in the paper, and whether
    any criterion beats answering "on-screen" for every frame (the majority floor).
    """
    acc = {r["criterion"]: 100.0 * float(r["accuracy"]) for r in rows}
    paper = {r["criterion"]: float(r[paper_column]) for r in PAPER_TABLE1}
    singles = ("m_on", "d_on")
    best_p = max(singles, key=lambda c: paper[c])
    best = max(singles, key=lambda c: acc[c])
    gain_p = paper["m_on || d_on"] - paper[best_p]
    gain = acc["m_on || d_on"] - acc[best]
    floor = acc["always on-screen"]
    top = max(acc[c] for c in (*singles, "m_on || d_on"))
    if gain > 0:
        or_text = f"here too it is the best, {gain:.1f} points above {best} ({acc[best]:.1f}%): this agrees with the paper"
    elif gain == 0:
        or_text = f"here it ties with {best} ({acc[best]:.1f}%): the paper's gain from combining them is not reproduced"
    else:
        or_text = f"here it is {-gain:.1f} points below {best} ({acc[best]:.1f}%): the paper's gain from combining them is not reproduced"
    if any(np.isnan(float(r["off-screen called off"])) or np.isnan(float(r["on-screen called on"])) for r in rows):
        floor_text = ("This set has frames of one class only, so accuracy here measures only how often a criterion "
                      "gives that one answer, not whether it separates on- from off-screen sound.")
    elif top > floor:
        floor_text = (f"The best criterion beats answering \"on-screen\" for every frame ({floor:.1f}%) by {top - floor:.1f} points, "
                      "so the model does separate on- from off-screen sound to that extent.")
    else:
        floor_text = (f"No criterion beats answering \"on-screen\" for every frame ({floor:.1f}%), so on this set the model "
                      "does not yet tell on- from off-screen sound; the accuracies mostly reflect the class balance.")
    return (f"{name} vs. the paper's {paper_column}: the paper's m_on || d_on ({paper['m_on || d_on']:.1f}%) is "
            f"{gain_p:.1f} points above its better single criterion ({best_p}, {paper[best_p]:.1f}%); {or_text}. "
            f"Our accuracies are m_on {acc['m_on']:.1f}%, d_on {acc['d_on']:.1f}%, m_on || d_on {acc['m_on || d_on']:.1f}%. "
            + floor_text)


def label_counts(labels: Mapping[str, bool]) -> dict[str, int]:
    """{"frames", "on-screen", "off-screen"} of a label dict."""
    on = sum(bool(v) for v in labels.values())
    return {"frames": len(labels), "on-screen": on, "off-screen": len(labels) - on}


def threshold_sweep(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool], thresholds: Sequence[float],
                    m_threshold: float | None = None) -> dict[str, np.ndarray]:
    """Table 1's accuracies as the d_on threshold moves (m_on's threshold fixed).

    Returns {"threshold": (T,), "on_m": (T,), "on_d": (T,), "on_or": (T,)} accuracies in [0, 1].
    """
    _, d_on, dist, y = _aligned(records, labels)
    m_thr = m_on_threshold(records) if m_threshold is None else m_threshold
    ts = np.asarray(thresholds, dtype=np.float64)
    out: dict[str, list[float]] = {c: [] for c in CRITERIA}
    for t in ts:
        dec = decisions(d_on, dist, float(t), m_thr)
        for c in CRITERIA:
            out[c].append(float((dec[c] == y).mean()))
    return {"threshold": ts, **{c: np.array(v) for c, v in out.items()}}


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative (ties count half).

    scores, labels: (F,) -> float in [0, 1]; NaN when a class is absent. 0.5: no separation.
    """
    v = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    pos, neg = v[y], v[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    diff = pos[:, None] - neg[None, :]  # (P, Q)
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def separability(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool]) -> dict[str, float]:
    """Threshold-free view of Table 1: ROC AUC of d_on (higher = on-screen) and of m_on's distance (lower = on-screen).

    Returns {"d_on AUC", "m_on AUC"}; 0.5 means the score does not separate on- from off-screen frames at any cut.
    """
    _, d_on, dist, y = _aligned(records, labels)
    return {"d_on AUC": auc(d_on, y), "m_on AUC": auc(-dist, y)}


def onscreen_report(pred_dir: str | os.PathLike, root: str | os.PathLike, split: str = "test") -> dict[str, Any]:
    """Table 1 and its threshold-free view for one predictions folder against a data set's on/off labels.

    Returns {"frames", "on-screen", "off-screen", "rows" (`table1`), "d_on AUC", "m_on AUC"}.
    """
    records, labels = read_onscreen(pred_dir), frame_labels(root, split)
    return {**label_counts(labels), "rows": table1(records, labels), **separability(records, labels)}


def format_onscreen_report(report: Mapping[str, Any]) -> str:
    """The report of `onscreen_report` as a small text table."""
    lines = [f"{report['frames']} labelled frames: {report['on-screen']} on-screen, {report['off-screen']} off-screen",
             f"{'criterion':<18} {'accuracy':>8} {'on called on':>13} {'off called off':>15}"]
    for r in report["rows"]:
        lines.append(f"{r['criterion']:<18} {r['accuracy']:>8.3f} {r['on-screen called on']:>13.3f} {r['off-screen called off']:>15.3f}")
    lines.append(f"ROC AUC: d_on {report['d_on AUC']:.3f}, m_on distance {report['m_on AUC']:.3f} (0.5: chance)")
    return "\n".join(lines)


def best_threshold(sweep: Mapping[str, np.ndarray], criterion: str = "on_d") -> tuple[float, float]:
    """(threshold, accuracy) of the sweep's best `criterion` accuracy (the lowest such threshold on ties)."""
    i = int(np.argmax(sweep[criterion]))
    return float(sweep["threshold"][i]), float(sweep[criterion][i])


def table1_explorer(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool], threshold: float = D_ON_THRESHOLD,
                    title: str = "", steps: int = 101) -> Any:
    """A d_on threshold slider redrawing Table 1's accuracies (a `sslprop.widgets.Explorer`).

    Left: d_on of on-screen and off-screen frames with the cut; right: accuracy of m_on, d_on and
    m_on || d_on against the threshold, the current one marked; the title gives the three accuracies.
    The slider spans [0, 1] (d_k lies in [0, 1]); `steps` points are precomputed for the curves.
    """
    import ipywidgets as W

    from sslprop.widgets import Explorer

    _, d_on, dist, y = _aligned(records, labels)
    m_thr = m_on_threshold(records)
    sweep = threshold_sweep(records, labels, np.linspace(0.0, 1.0, steps), m_thr)
    lo, hi = float(min(d_on.min(), threshold)), float(max(d_on.max(), threshold))
    pad = max(hi - lo, 1e-3) * 0.1
    edges = np.linspace(lo - pad, hi + pad, 21)
    colours = {"on_m": "#1f77b4", "on_d": "#ff7f0e", "on_or": "#2ca02c"}

    def draw(fig: Any, threshold: float) -> None:
        ax_h, ax_a = fig.subplots(1, 2)
        ax_h.hist(d_on[~y], bins=edges, alpha=0.6, color="#d62728", label=f"off-screen ({int((~y).sum())})")
        ax_h.hist(d_on[y], bins=edges, alpha=0.6, color="#2ca02c", label=f"on-screen ({int(y.sum())})")
        ax_h.axvline(threshold, color="black", linewidth=1.2)
        ax_h.set_xlabel("d_on = max_k d_k", fontsize=8)
        ax_h.set_ylabel("frames", fontsize=8)
        ax_h.legend(fontsize=7)
        for c in CRITERIA:
            ax_a.plot(sweep["threshold"], sweep[c], color=colours[c], label=CRITERION_NAMES[c], linewidth=1.2)
        ax_a.axvline(threshold, color="black", linewidth=1.0)
        ax_a.set_xlabel("d_on threshold", fontsize=8)
        ax_a.set_ylabel("accuracy", fontsize=8)
        ax_a.set_ylim(0, 1)
        ax_a.legend(fontsize=7)
        for a in (ax_h, ax_a):
            a.tick_params(labelsize=7)
        acc = {c: float((v == y).mean()) for c, v in decisions(d_on, dist, threshold, m_thr).items()}
        fig.suptitle(f"{title}{': ' if title else ''}d_on > {threshold:.2f}: accuracy m_on {acc['on_m']:.2f}, "
                     f"d_on {acc['on_d']:.2f}, m_on || d_on {acc['on_or']:.2f}", fontsize=8)
        fig.tight_layout()

    slider = W.FloatSlider(value=float(threshold), min=0.0, max=1.0, step=0.01, description="d_on T",
                           continuous_update=False, readout_format=".2f")
    return Explorer(draw, {"threshold": slider}, figsize=(7.0, 3.0))


# --------------------------------------------------------------------------------------- Fig. 3/4


@dataclass
class SequenceTrack:
    """Per-frame confidences of one multi-frame sample (N frames).

    sample_id, mode: the sample and its `sequences` mode ("distance" or "turns"; "" if not recorded)
    times:     (N,) seconds of each frame
    onscreen:  (N,) bool, the frame's on-screen label (False where unknown)
    d_on:      (N,) max_k d_k of the frame, the model's confidence that the sound is on screen
    top_box:   (N, 4) the frame's best proposal by d_k (NaN row when the frame has none)
    labels:    the objects' class names, in order of first appearance
    object_conf: (J, N) per object, the highest d_k of a kept proposal with IoU >= `iou` with the
               object's box in that frame; NaN where the object is not in view or no proposal matches
    object_box: (J, N, 4) that proposal (NaN rows where `object_conf` is NaN)
    sounding:  (J, N) bool, the object sounds in that frame (False where not in view)
    gains:     (N,) the sounding object's loudness gain per frame (distance mode), else None
    """

    sample_id: str
    mode: str
    times: np.ndarray
    onscreen: np.ndarray
    d_on: np.ndarray
    top_box: np.ndarray
    labels: list[str]
    object_conf: np.ndarray
    object_box: np.ndarray
    sounding: np.ndarray
    gains: np.ndarray | None


def _boxes_of(rows: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """boxes.json rows [[x1, y1, x2, y2, score], ...] -> boxes (K, 4), scores (K,)."""
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    return arr[:, :4], arr[:, 4]


def sequence_track(sample: Any, boxes: Mapping[str, Sequence[Sequence[float]]], records: Mapping[str, Mapping[str, Any]] | None = None,
                   iou: float = 0.5) -> SequenceTrack:
    """Confidence over time of one multi-frame sample from `sslprop predict`'s boxes.json (and onscreen.json).

    Args:
        sample: a `Sample` of the data set (its frames in time order).
        boxes: boxes.json {key: [[x1, y1, x2, y2, d_k], ...] best first}; every frame of the sample needs a key.
        records: onscreen.json; its d_on per frame when given (6 decimals), else the best box's score.
        iou: a proposal belongs to an object when their IoU is at least this.
    """
    import torch
    from torchvision.ops import box_iou

    from sslprop.data.dataset import frame_key

    N = len(sample.frames)
    keys = [frame_key(sample, n) for n in range(N)]
    missing = [k for k in keys if k not in boxes]
    if missing:
        raise SSLPropError(f"boxes.json: no prediction for {missing[0]!r}")
    labels = list(dict.fromkeys(o.label for f in sample.frames for o in f.objects))
    conf = np.full((len(labels), N), np.nan)
    obj_box = np.full((len(labels), N, 4), np.nan)
    sounding = np.zeros((len(labels), N), dtype=bool)
    d_on = np.zeros(N)
    top = np.full((N, 4), np.nan)
    for n, (key, frame) in enumerate(zip(keys, sample.frames)):
        b, s = _boxes_of(boxes[key])
        if len(s):
            top[n] = b[0]
        d_on[n] = float(records[key]["d_on"]) if records is not None else (float(s[0]) if len(s) else 0.0)
        for o in frame.objects:
            j = labels.index(o.label)
            sounding[j, n] = bool(o.sounding)
            if len(b):
                hit = box_iou(torch.from_numpy(b), torch.tensor([o.box], dtype=torch.float64))[:, 0].numpy() >= iou  # (K,)
                if hit.any():
                    best = int(np.flatnonzero(hit)[np.argmax(s[hit])])  # the first of the largest d_k among the matches
                    conf[j, n], obj_box[j, n] = float(s[best]), b[best]
    gains = sample.meta.get("gains") if sample.meta.get("mode") == "distance" else None
    return SequenceTrack(sample.id, str(sample.meta.get("mode", "")), np.array([f.time for f in sample.frames]),
                         np.array([f.onscreen is True for f in sample.frames]), d_on, top, labels, conf, obj_box, sounding,
                         None if gains is None else np.asarray(gains, dtype=np.float64))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two (N,) arrays; NaN when either is constant."""
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def distance_summary(tracks: Sequence[SequenceTrack]) -> dict[str, Any]:
    """How d_on follows loudness in distance-mode clips (Fig. 3).

    Per clip, the Pearson correlation between d_on and the source's gain over its on-screen frames.
    Returns {"clips", "mean r" (NaN without clips), "clips with r > 0"} over the clips where r exists.
    """
    rs = []
    for t in tracks:
        if t.mode != "distance" or t.gains is None:
            continue
        keep = t.onscreen
        if keep.sum() >= 3:
            r = _pearson(t.d_on[keep], t.gains[keep])
            if not np.isnan(r):
                rs.append(r)
    return {"clips": len(rs), "mean r": float(np.mean(rs)) if rs else float("nan"), "clips with r > 0": sum(r > 0 for r in rs)}


def turns_summary(tracks: Sequence[SequenceTrack]) -> dict[str, Any]:
    """Whether the sounding object's confidence beats the silent one's in turns-mode clips (Fig. 4).

    Counts the frames where both objects have a matched proposal (`SequenceTrack.object_conf` not NaN)
    and exactly one sounds. Returns {"clips", "frames", "sounding higher" (share, NaN without frames),
    "frames with both matched" (share of the turns frames)}.
    """
    wins, frames, total, clips = 0, 0, 0, 0
    for t in tracks:
        if t.mode != "turns" or len(t.labels) != 2:
            continue
        clips += 1
        for n in range(len(t.times)):
            total += 1
            c, s = t.object_conf[:, n], t.sounding[:, n]
            if np.isnan(c).any() or s.sum() != 1:
                continue
            frames += 1
            wins += bool(c[s][0] > c[~s][0])
    return {"clips": clips, "frames": frames, "sounding higher": wins / frames if frames else float("nan"),
            "frames with both matched": frames / total if total else float("nan")}


def pick_clips(samples: Sequence[Any], mode: str, count: int) -> list[Any]:
    """Up to `count` samples of a `sequences` mode, one per path kind first (distance: recede, approach, away and back)."""
    of_mode = [s for s in samples if s.meta.get("mode") == mode]
    first: dict[Any, Any] = {}
    for s in of_mode:
        first.setdefault(s.meta.get("path"), s)
    chosen = list(first.values())[:count]
    return chosen + [s for s in of_mode if s not in chosen][: count - len(chosen)]


TRACK_COLOURS = ("#ff7f0e", "#d62728")  # orange: the first object of a clip, red: the second (paper Fig. 4)
BEST_COLOUR = "#d62728"  # red: the model's answer (paper Fig. 3)


def sequence_figure(root: str | os.PathLike, samples: Sequence[Any], tracks: Sequence[SequenceTrack], objects: bool = False) -> Any:
    """Fig. 3 / Fig. 4: one row per clip, its N frames then the confidence over time.

    objects=False (Fig. 3): each frame with the best proposal (red) and d_on; the curve is d_on (black) with
    the source's gain (green, right axis); out-of-view frames are greyed.
    objects=True (Fig. 4): each frame with every object's best matching proposal and its confidence
    (`SequenceTrack.object_box`, orange then red); the curves are the objects' confidences, with the second
    half of the clip (after ``meta["switch_time"]``) shaded.
    Returns the pyplot figure.
    """
    import matplotlib.pyplot as plt

    from sslprop import viz

    N = max(len(s.frames) for s in samples)
    fig, axes = plt.subplots(len(samples), N + 1, figsize=(1.3 * N + 4.0, 1.6 * len(samples)), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * N + [3]})
    for row, s, t in zip(axes, samples, tracks):
        for n, (ax, frame) in enumerate(zip(row[:N], s.frames)):
            viz.show_image(viz.load_frame(root, frame), ax)
            if not t.onscreen[n]:
                ax.imshow(np.full((frame.height, frame.width, 3), 200, np.uint8), alpha=0.5)
            if objects:
                for j, colour in zip(range(len(t.labels)), TRACK_COLOURS):
                    if not np.isnan(t.object_conf[j, n]):
                        viz.show_boxes(None, [t.object_box[j, n]], ax, colour, 1.2, labels=[f"{t.object_conf[j, n]:.2f}"])
                ax.set_title(f"{frame.time:.1f} s", fontsize=7)
            elif not np.isnan(t.top_box[n]).any():
                viz.show_boxes(None, [t.top_box[n]], ax, BEST_COLOUR, 1.2)
                ax.set_title(f"{frame.time:.1f} s: {t.d_on[n]:.3f}", fontsize=7)
        for ax in row[len(s.frames):N]:
            ax.axis("off")
        ax = row[N]
        if objects:
            ax.axvspan(float(s.meta.get("switch_time", t.times[-1] / 2)), t.times[-1] + 0.5, color="#eeeeee")
            for j, colour in zip(range(len(t.labels)), TRACK_COLOURS):
                ax.plot(t.times, t.object_conf[j], "o-", color=colour, markersize=3, label=t.labels[j])
            ax.set_ylabel("confidence", fontsize=7)
            ax.set_title(f"{s.id}: {' then '.join(t.labels)}", fontsize=7)
            ax.legend(fontsize=6)
        else:
            ax.plot(t.times, t.d_on, "o-", color="black", markersize=3)
            ax.set_ylabel("d_on", fontsize=7)
            ax.set_title(f"{s.id}: {s.classes[0]} ({str(s.meta.get('path', '')).replace('_', ' ')})", fontsize=7)
            if t.gains is not None:
                gain_ax = ax.twinx()
                gain_ax.plot(t.times, t.gains, "--", color=viz.SOUNDING, linewidth=1.0)
                gain_ax.set_ylabel("gain", fontsize=7, color=viz.SOUNDING)
                gain_ax.tick_params(labelsize=6)
        ax.set_xlim(0, t.times[-1] + 0.5)
        ax.set_xlabel("time (s)", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------- Fig. 5


def map_shape(score_map: Any, box: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """How a location map covers an object's box (Fig. 5: "larger and more complete shapes").

    score_map: (H, W) Tensor or array on the grid of `box` (xyxy pixels). The map is min-max normalised;
    its region is the pixels at or above `threshold`. Returns:
        mass in box:  share of the (raw, non-negative) map's mass inside the box
        box covered:  share of the box's pixels inside the region (completeness)
        region in box: share of the region's pixels inside the box (precision)
        map box IoU:  IoU of the region's tight box (`sslprop.predict.map_box`) with the object's box
    """
    import torch

    from sslprop.predict import map_box
    from sslprop.proposals import box_cells
    from sslprop.workflow import box_iou_np

    m = torch.as_tensor(np.asarray(score_map, dtype=np.float64))
    if m.dim() != 2:
        raise SSLPropError(f"map_shape: map must be (H, W), got shape {tuple(m.shape)}")
    x1, y1, x2, y2 = box_cells(torch.tensor([[float(v) for v in box]]), m.shape[0], m.shape[1])[0].tolist()
    inside = torch.zeros_like(m, dtype=torch.bool)
    inside[y1:y2, x1:x2] = True
    lo, hi = m.min(), m.max()
    region = (m - lo) / (hi - lo) >= threshold if hi > lo else torch.ones_like(inside)
    total = float(m.clamp(min=0).sum())
    return {
        "mass in box": float(m.clamp(min=0)[inside].sum()) / total if total > 0 else float("nan"),
        "box covered": float((region & inside).sum()) / float(inside.sum()),
        "region in box": float((region & inside).sum()) / float(region.sum()),
        "map box IoU": box_iou_np(map_box(m.float(), threshold).tolist(), box),
    }


# --------------------------------------------------------------------------------------- proposals (notebook 04)


def ranking_summary(boxes: Mapping[str, Sequence[Sequence[float]]], gt: Mapping[str, Sequence[Sequence[float]]],
                    iou: float = 0.5) -> dict[str, float]:
    """How well d_k ranks the kept proposals: top-1 hit rate against the rate of a random kept proposal and of any.

    boxes: boxes.json {key: [[x1, y1, x2, y2, d_k], ...] best first}; gt: {key: [[x1, y1, x2, y2], ...]}, the
    annotators' boxes of each frame to score (frames without a box are left out). A proposal hits when its IoU
    with any gt box is at least `iou`. Returns {"frames", "top-1 hits" (share of frames), "random kept proposal hits"
    (mean over frames of the share of kept proposals that hit: the top-1 rate of a random ranking), "any kept hits"}.
    """
    import torch
    from torchvision.ops import box_iou

    top1, rand, anyhit, n = 0, 0.0, 0, 0
    for key, g in sorted(gt.items()):
        if not len(g):
            continue
        if key not in boxes:
            raise SSLPropError(f"boxes.json: no prediction for {key!r}")
        b, _ = _boxes_of(boxes[key])
        n += 1
        if not len(b):
            continue
        hit = (box_iou(torch.from_numpy(b), torch.tensor(g, dtype=torch.float64).reshape(-1, 4)).amax(dim=1) >= iou).numpy()  # (K,)
        top1 += bool(hit[0])
        rand += float(hit.mean())
        anyhit += bool(hit.any())
    if n == 0:
        raise SSLPropError("ranking_summary: no frame with a ground-truth box")
    return {"frames": n, "top-1 hits": top1 / n, "random kept proposal hits": rand / n, "any kept hits": anyhit / n}


def gt_boxes(root: str | os.PathLike, split: str = "test") -> dict[str, list[list[float]]]:
    """Every annotator's boxes per frame key of `split` ({key: [[x1, y1, x2, y2], ...]}, empty off-screen)."""
    from sslprop.data.dataset import frame_key
    from sslprop.data.format import read_manifest

    return {frame_key(s, n): [list(map(float, b)) for a in f.annotators for b in a]
            for s in read_manifest(root, split) for n, f in enumerate(s.frames)}
