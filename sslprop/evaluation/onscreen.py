"""On/off-screen recognition (paper Table 1) from prediction files: the three criteria, their accuracies, threshold sweeps and ROC AUCs.

Everything here is a pure function of what `sslprop predict` writes and of a data set's
manifest, so the notebooks only load, call and draw:

    records = predfiles.read_onscreen(pred_dir)               # onscreen.json: {key: {d_on, distance, on_m, ...}}
    labels = frame_labels(data, "test")               # {key: True (on-screen) / False (off-screen)}
    table = table1(records, labels)                   # accuracy of on_m, on_d, on_or (paper Table 1)
    sweep = threshold_sweep(records, labels, ts)      # the same as the d_on threshold moves
    table = table1(records, labels, ci=CI)            # with 95 % bootstrap intervals ("accuracy low", "accuracy high")
    criterion_difference(records, labels, "on_or", "on_m", CI)   # paired: is the OR's gain resolved?
    summary = onscreen_summary(records, labels, CI)   # all of it: Table 1, ROC AUCs, the paired differences

Intervals (``ci`` = {"resamples", "seed", "level"}, `sslprop.evaluation.bootstrap`) resample samples: the
frames of one clip of `sequences` are drawn together.

The per-clip tracks of Figs. 3-5 built on the same files are in `sslprop.lab.tracks`.

Keys are `sslprop.data.predfiles.frame_key`: the sample id, or ``<sample id>/<frame index>`` for a
frame of a multi-frame sample. Boxes are absolute pixels ``(x1, y1, x2, y2)`` of the stored frame.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from sslprop.data.format import read_manifest
from sslprop.data.predfiles import frame_key, read_onscreen
from sslprop.errors import SSLPropError
from sslprop.evaluation.bootstrap import _draws, bootstrap_intervals, paired_difference
from sslprop.evaluation.bootstrap import settings as _ci_settings
from sslprop.models.inference import D_ON_THRESHOLD, onscreen_decisions

# m_on alone, d_on alone (> 0.2, the paper's), either (the paper's "m_on || d_on"); then d_on at its label-free calibrated
# threshold (`models.inference.d_on_threshold`), alone and with m_on, where onscreen.json has them
CRITERIA = ("on_m", "on_d", "on_or", "on_dc", "on_orc")
SWEPT = ("on_m", "on_d", "on_or")  # the criteria `threshold_sweep` follows as the d_on threshold moves
CRITERION_NAMES = {"on_m": "m_on", "on_d": "d_on", "on_or": "m_on || d_on", "on_dc": "d_on (calibrated)",
                   "on_orc": "m_on || d_on (calibrated)"}


# --------------------------------------------------------------------------------------- inputs


def frame_labels(root: str | os.PathLike, split: str = "test") -> dict[str, bool]:
    """On-screen label of every frame of `split` that has one: {key: True (on-screen) / False (off-screen)}.

    Frames whose ``onscreen`` is None (unknown) are left out.
    """

    return {frame_key(s.id, n, len(s.frames)): bool(f.onscreen) for s in read_manifest(root, split)
            for n, f in enumerate(s.frames) if f.onscreen is not None}


def aligned(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool],
            m_threshold: float | None = None) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Keys of `labels` (sorted) with their d_on (F,), m_on decisions (F,) bool and labels (F,) bool.

    The m_on decision is the record's ``on_m`` (decided by `sslprop predict` with the threshold it
    calibrated, recorded in predictions.json), or ``distance < m_threshold`` when a threshold is given.
    Every labelled key must have a record.
    """
    keys = sorted(labels)
    if not keys:
        raise SSLPropError("on/off-screen: no labelled frame")
    missing = [k for k in keys if k not in records]
    if missing:
        raise SSLPropError(f"on/off-screen: {len(missing)} labelled frame(s) have no prediction, e.g. {missing[0]!r}")
    if any("d_on" not in records[k] for k in keys):
        raise SSLPropError("on/off-screen: records without d_on (not a proposal-based run)")
    d_on = np.array([float(records[k]["d_on"]) for k in keys])
    if m_threshold is None:
        on_m = np.array([bool(records[k]["on_m"]) for k in keys])
    else:
        on_m = np.array([float(records[k]["distance"]) for k in keys]) < m_threshold
    y = np.array([bool(labels[k]) for k in keys])
    return keys, d_on, on_m, y


# --------------------------------------------------------------------------------------- Table 1


def decisions(d_on: np.ndarray, on_m: np.ndarray, d_threshold: float, on_dc: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The criteria of Table 1 per frame (`models.inference.onscreen_decisions`: on_d = d_on > d_threshold, on_or = on_m
    or on_d; with `on_dc`, d_on at its calibrated threshold as `predict` decided it, also on_dc and on_orc).

    d_on: (F,) float, on_m, on_dc: (F,) bool -> {"on_m", "on_d", "on_or"[, "on_dc", "on_orc"]}: (F,) bool arrays.
    """
    return onscreen_decisions(np.asarray(d_on), np.asarray(on_m, dtype=bool), d_threshold,
                              None if on_dc is None else np.asarray(on_dc, dtype=bool))


def calibrated(records: Mapping[str, Mapping[str, Any]], keys: Sequence[str]) -> np.ndarray | None:
    """The frames' ``on_dc`` decisions (d_on at its calibrated threshold), or None when the records have none."""
    if not keys or any("on_dc" not in records[k] for k in keys):
        return None
    return np.array([bool(records[k]["on_dc"]) for k in keys])


def _rates(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """accuracy, balanced accuracy (the mean of the two classes' rates: what "always on-screen" cannot win by
    the classes' shares), on-screen frames called on-screen (TPR), off-screen frames called off-screen (TNR);
    NaN for an absent class."""
    pos, neg = int(y.sum()), int((~y).sum())
    tpr = float((pred & y).sum() / pos) if pos else float("nan")
    tnr = float((~pred & ~y).sum() / neg) if neg else float("nan")
    return {
        "accuracy": float((pred == y).mean()),
        "balanced accuracy": (tpr + tnr) / 2,
        "on-screen called on": tpr,
        "off-screen called off": tnr,
    }


def balanced(pred: np.ndarray, y: np.ndarray) -> float:
    """Balanced accuracy of bool decisions `pred` against labels `y` (NaN when a class is absent)."""
    return _rates(np.asarray(pred, bool), np.asarray(y, bool))["balanced accuracy"]


def table1(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool], d_threshold: float = D_ON_THRESHOLD,
           m_threshold: float | None = None, ci: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Table 1 on one data set: per criterion (m_on, d_on, m_on || d_on) its accuracy against the labels.

    Args:
        records: onscreen.json of a proposal-based run (`read_onscreen`).
        labels: {key: on-screen?} (`frame_labels`); every labelled key needs a record.
        d_threshold: the d_on cut (paper: 0.2).
        m_threshold: an m_on cut on the distance to try instead of the stored ``on_m`` decisions
            (default: the decisions as `sslprop predict` made them).
        ci: {"resamples", "seed", "level"}: add "accuracy low" and "accuracy high", the bootstrap interval of
            each accuracy (samples resampled, one set of draws for every row).
    Returns:
        Three rows {"criterion", "accuracy", "on-screen called on", "off-screen called off"} (shares in [0, 1]),
        then a fourth, "always on-screen": the accuracy of the majority answer, the floor to beat.
    """
    keys, d_on, on_m, y = aligned(records, labels, m_threshold)
    dec = decisions(d_on, on_m, d_threshold, calibrated(records, keys))
    answers = {**{CRITERION_NAMES[c]: dec[c] for c in CRITERIA if c in dec}, "always on-screen": np.ones_like(y)}
    rows = [{"criterion": name, **_rates(pred, y)} for name, pred in answers.items()]
    if ci is not None:

        columns = {name: ((pred == y).astype(np.float64), np.mean) for name, pred in answers.items()}
        columns.update({f"{name} (balanced)": (np.stack([pred, y], 1).astype(np.float64),
                                                 lambda v: balanced(v[:, 0] > 0.5, v[:, 1] > 0.5))
                        for name, pred in answers.items()})
        bands = _bands(keys, columns, ci)
        for r in rows:
            r["accuracy low"], r["accuracy high"] = bands[r["criterion"]]
            r["balanced accuracy low"], r["balanced accuracy high"] = bands[f"{r['criterion']} (balanced)"]
    return rows


def _bands(keys: Sequence[str], columns: Mapping[str, tuple[np.ndarray, Any]], ci: Mapping[str, Any]) -> dict[str, list[float]]:
    """`bootstrap_intervals` of columns whose per-frame values may be rows (F, c) of several numbers."""

    st = _ci_settings(ci)
    level = st["level"]
    draws = _draws(keys, st["resamples"], st["seed"])
    out = {}
    for name, (values, stat) in columns.items():
        v = np.asarray(values, dtype=np.float64)
        stats = np.array([stat(v[d]) for d in draws], dtype=np.float64)
        if np.isnan(stats).all():
            out[name] = [float("nan"), float("nan")]
            continue
        lo, hi = np.nanquantile(stats, [(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0])
        out[name] = [float(lo), float(hi)]
    return out


def criterion_difference(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool], a: str, b: str,
                         ci: Mapping[str, Any] | None = None, d_threshold: float = D_ON_THRESHOLD) -> dict[str, Any]:
    """Accuracy of criterion `a` minus criterion `b` ("on_m", "on_d", "on_or") on the same frames, with its paired
    bootstrap interval: {"difference", "low", "high", "resolved"} (shares; resolved when the interval excludes 0)."""

    if a not in CRITERIA or b not in CRITERIA:
        raise SSLPropError(f"criteria {a!r}, {b!r}: choose from {', '.join(CRITERIA)}")
    keys, d_on, on_m, y = aligned(records, labels)
    dec = decisions(d_on, on_m, d_threshold, calibrated(records, keys))
    if a not in dec or b not in dec:
        raise SSLPropError(f"criteria {a!r}, {b!r}: onscreen.json has no calibrated d_on decisions (predict again)")
    return paired_difference(keys, (dec[a] == y).astype(np.float64), (dec[b] == y).astype(np.float64), np.mean,
                             **_ci_settings(ci))


def label_counts(labels: Mapping[str, bool]) -> dict[str, int]:
    """{"frames", "on-screen", "off-screen"} of a label dict."""
    on = sum(bool(v) for v in labels.values())
    return {"frames": len(labels), "on-screen": on, "off-screen": len(labels) - on}


def threshold_sweep(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool], thresholds: Sequence[float],
                    m_threshold: float | None = None) -> dict[str, np.ndarray]:
    """Table 1's accuracies as the d_on threshold moves (m_on's threshold fixed).

    Returns {"threshold": (T,), "on_m": (T,), "on_d": (T,), "on_or": (T,)} accuracies in [0, 1].
    """
    _, d_on, on_m, y = aligned(records, labels, m_threshold)
    ts = np.asarray(thresholds, dtype=np.float64)
    out: dict[str, list[float]] = {c: [] for c in SWEPT}
    for t in ts:
        dec = decisions(d_on, on_m, float(t))
        for c in SWEPT:
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


def rank_correlation(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two score arrays (average ranks on ties): 1 when they order the frames alike,
    so that two criteria thresholding them can differ only by their thresholds."""

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def separability(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool],
                 ci: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Threshold-free view of Table 1: ROC AUC of d_on (higher = on-screen) and of m_on's distance (lower = on-screen).

    Returns {"d_on AUC", "m_on AUC", "rank correlation"} (Spearman, of d_on and minus the distance); an AUC of 0.5
    means the score does not separate on- from off-screen frames at any cut.
    ci: also "d_on AUC low", "d_on AUC high", "m_on AUC low", "m_on AUC high" (bootstrap; a resample drawing
    one class only gives NaN and is left out of the percentiles).
    """
    keys, d_on, _, y = aligned(records, labels)
    dist = np.array([float(records[k]["distance"]) for k in keys])
    out = {"d_on AUC": auc(d_on, y), "m_on AUC": auc(-dist, y), "rank correlation": rank_correlation(d_on, -dist)}
    if ci is not None and not np.isnan(out["d_on AUC"]):

        index = np.arange(len(keys), dtype=np.float64)  # resample frame indices, score both arrays on them
        bands = bootstrap_intervals(keys, {
            "d_on AUC": (index, lambda i: auc(d_on[i.astype(int)], y[i.astype(int)])),
            "m_on AUC": (index, lambda i: auc(-dist[i.astype(int)], y[i.astype(int)])),
        }, **_ci_settings(ci))
        for name, (lo, hi) in bands.items():
            out[f"{name} low"], out[f"{name} high"] = lo, hi
    return out


def onscreen_summary(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool],
                     ci: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Table 1 and its threshold-free view of records (`read_onscreen`) against labels (`frame_labels`).

    Returns {"frames", "on-screen", "off-screen", "rows" (`table1`), "d_on AUC", "m_on AUC"}; with `ci`
    the intervals of `table1` and `separability`, the paired differences "m_on || d_on - m_on" and
    "m_on || d_on - d_on" (`criterion_difference`) under "paired", and the settings under "ci_settings".
    """
    report = {**label_counts(labels), "rows": table1(records, labels, ci=ci), **separability(records, labels, ci)}
    if ci is not None:
        pairs = [("on_or", "on_m"), ("on_or", "on_d")]
        if calibrated(records, sorted(labels)) is not None:
            pairs += [("on_orc", "on_m"), ("on_orc", "on_dc")]
        report["paired"] = {f"{CRITERION_NAMES[a]} - {CRITERION_NAMES[b]}": criterion_difference(records, labels, a, b, ci)
                            for a, b in pairs}
        report["ci_settings"] = {**_ci_settings(ci), "unit": "sample (the frames of one clip are drawn together)"}
    return report


def onscreen_report(pred_dir: str | os.PathLike, root: str | os.PathLike, split: str = "test",
                    ci: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`onscreen_summary` of one predictions folder against a data set's on/off labels (`eval --onscreen`)."""
    return onscreen_summary(read_onscreen(pred_dir), frame_labels(root, split), ci)


def _band(row: Mapping[str, Any], name: str) -> str:
    return f" [{row[name + ' low']:.3f}, {row[name + ' high']:.3f}]" if f"{name} low" in row else ""


def format_onscreen_report(report: Mapping[str, Any]) -> str:
    """The report of `onscreen_report` as a small text table (intervals in brackets when computed)."""
    ci = "ci_settings" in report
    w = 24 if ci else 8
    lines = [f"{report['frames']} labelled frames: {report['on-screen']} on-screen, {report['off-screen']} off-screen",
             f"{'criterion':<26} {'accuracy':>{w}} {'balanced':>{w}} {'on called on':>13} {'off called off':>15}"]
    for r in report["rows"]:
        acc = f"{r['accuracy']:.3f}{_band(r, 'accuracy')}"
        bal = f"{r['balanced accuracy']:.3f}{_band(r, 'balanced accuracy')}"
        lines.append(f"{r['criterion']:<26} {acc:>{w}} {bal:>{w}} {r['on-screen called on']:>13.3f} {r['off-screen called off']:>15.3f}")
    lines.append(f"ROC AUC: d_on {report['d_on AUC']:.3f}{_band(report, 'd_on AUC')}, "
                 f"m_on distance {report['m_on AUC']:.3f}{_band(report, 'm_on AUC')} (0.5: chance); "
                 f"rank correlation of the two {report['rank correlation']:.3f}")
    for name, d in report.get("paired", {}).items():
        lines.append(f"paired       {name}: {d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}], "
                     + ("resolved" if d["resolved"] else "not resolved (the interval holds 0)"))
    if ci:
        s = report["ci_settings"]
        lines.append(f"intervals    {100 * s['level']:g} % bootstrap, {s['resamples']} resamples of samples, seed {s['seed']}")
    return "\n".join(lines)


def best_threshold(sweep: Mapping[str, np.ndarray], criterion: str = "on_d") -> tuple[float, float]:
    """(threshold, accuracy) of the sweep's best `criterion` accuracy (the lowest such threshold on ties)."""
    i = int(np.argmax(sweep[criterion]))
    return float(sweep["threshold"][i]), float(sweep[criterion][i])
