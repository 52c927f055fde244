"""SLAVC's extended evaluation: localisation scored with a per-sample confidence, as AP and max-F1.

Mo and Morgado, "A Closer Look at Weakly-Supervised Audio-Visual Source Localization" (NeurIPS
2022) add to the test set samples whose sound source is not visible, and ask a method both
where the source is and how sure it is that there is one. Each sample has a confidence; at a
confidence threshold t a sample is "detected" when its confidence is >= t, and then

- a visible sample detected with cIoU >= the cIoU threshold (0.5) is a true positive,
- a visible sample detected with a lower cIoU (or a NaN cIoU) is a false positive (it is NOT also
  a false negative),
- a visible sample not detected is a false negative,
- a non-visible sample detected is a false positive; not detected, it counts nowhere;

precision = TP / (TP + FP) (1 when nothing is detected), recall = TP / (TP + FN) (1 when
TP + FN = 0). This is stoneMo/SLAVC utils.py ``EvaluatorFull.calc_precision_recall``, and the two
summaries follow the same file (commit 05b429c6f474ca6f1070d08e1d0142948d1625bf):

- AP (``calc_ap``): the thresholds are the sorted confidences without the largest, from the
  second largest down, every k-th with k = max(1, N // 200); the precision is made
  non-increasing in recall (each point takes the maximum precision of itself and the lower
  thresholds after it), and AP = sum_i pmax_i * (R_{i+1} - R_i) over consecutive thresholds: a
  left Riemann sum with no point at recall 0, so the recall reached at the first threshold adds
  nothing.
- max-F1 (``finalize_stats``): F1 = 2PR / (P + R) (0 when P + R = 0) at the thresholds
  ``sorted(confidences)[::max(1, N // 10)]`` (ascending, about ten of them); SLAVC prints the
  list and the paper reports its maximum.

A sample without a usable confidence (no prediction, an empty box list) gets -inf and is
detected at no threshold (SLAVC has no such sample: its model scores every one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sslprop.errors import SSLPropError

CIOU_THRESHOLD = 0.5  # the threshold of SLAVC's headline AP@50 / F1@50 (it also reports 0.75)


def _arrays(visible: Sequence[bool], cious: Sequence[float], confidence: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = np.asarray(visible, dtype=bool)
    c = np.asarray(cious, dtype=np.float64)
    s = np.asarray(confidence, dtype=np.float64)
    if not (v.shape == c.shape == s.shape) or v.ndim != 1:
        raise SSLPropError(f"extended evaluation: {v.shape}, {c.shape} and {s.shape} values; expected one of each per sample")
    if len(v) == 0:
        raise SSLPropError("extended evaluation: no sample to score")
    if np.any(np.isnan(s)) or np.any(s == np.inf):
        raise SSLPropError("extended evaluation: a confidence is NaN or +inf")
    return v, c, s


def precision_recall(visible: Sequence[bool], cious: Sequence[float], confidence: Sequence[float], thresholds: Sequence[float],
                     ciou_threshold: float = CIOU_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """(T,) precision and (T,) recall at each confidence threshold, SLAVC's counting (see the module docstring).

    visible: (N,) bool, the sample's source is visible (it has ground truth); cious: (N,) cIoU of each
    sample (ignored where not visible; NaN fails); confidence: (N,) any real or -inf; thresholds: (T,).
    """
    v, c, s = _arrays(visible, cious, confidence)
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1, 1)
    detected = (s[None, :] >= t) & np.isfinite(s)[None, :]  # (T, N)
    with np.errstate(invalid="ignore"):
        good = v & (c >= ciou_threshold)  # NaN >= x is False
    tp = np.sum(detected & good[None, :], axis=1)
    fp = np.sum(detected & ~good[None, :], axis=1)
    fn = np.sum(~detected & v[None, :], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp == 0, 1.0, tp / np.maximum(tp + fp, 1))
        recall = np.where(tp + fn == 0, 1.0, tp / np.maximum(tp + fn, 1))
    return precision.astype(np.float64), recall.astype(np.float64)


def ap_thresholds(confidence: Sequence[float]) -> np.ndarray:
    """SLAVC calc_ap's thresholds: ``np.sort(conf)[:-1][::-max(1, N // 200)]`` (descending, the largest left out)."""
    s = np.sort(np.asarray(confidence, dtype=np.float64))
    return s[:-1][:: -max(1, len(s) // 200)]


def f1_thresholds(confidence: Sequence[float]) -> np.ndarray:
    """SLAVC finalize_stats' F1 thresholds: ``sorted(conf)[::max(1, N // 10)]`` (ascending)."""
    s = np.sort(np.asarray(confidence, dtype=np.float64))
    return s[:: max(1, len(s) // 10)]


def average_precision(visible: Sequence[bool], cious: Sequence[float], confidence: Sequence[float],
                      ciou_threshold: float = CIOU_THRESHOLD) -> float:
    """SLAVC's AP in [0, 1] (calc_ap): interpolated precision times recall steps over `ap_thresholds`; 0 for one sample."""
    thresholds = ap_thresholds(confidence)
    if len(thresholds) == 0:
        _arrays(visible, cious, confidence)
        return 0.0
    p, r = precision_recall(visible, cious, confidence, thresholds, ciou_threshold)
    pmax = np.maximum.accumulate(p[::-1])[::-1]  # max(p[i:])
    return float(np.sum(pmax[:-1] * np.diff(r)))


def f1_curve(visible: Sequence[bool], cious: Sequence[float], confidence: Sequence[float],
             ciou_threshold: float = CIOU_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """(K,) thresholds (`f1_thresholds`) and (K,) F1 = 2PR / (P + R), 0 where P + R = 0."""
    thresholds = f1_thresholds(confidence)
    p, r = precision_recall(visible, cious, confidence, thresholds, ciou_threshold)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1.0), 0.0)
    return thresholds, f1


def max_f1(visible: Sequence[bool], cious: Sequence[float], confidence: Sequence[float],
           ciou_threshold: float = CIOU_THRESHOLD) -> tuple[float, float]:
    """(max-F1 in [0, 1], the confidence threshold reaching it: the lowest of ties)."""
    thresholds, f1 = f1_curve(visible, cious, confidence, ciou_threshold)
    i = int(np.argmax(f1))
    return float(f1[i]), float(thresholds[i])


def extended_scores(visible: Sequence[bool], cious: Sequence[float], confidence: Sequence[float],
                    ciou_threshold: float = CIOU_THRESHOLD) -> dict[str, float]:
    """{"ap", "max_f1", "f1_confidence" (the threshold of max-F1), "precision" (every sample detected: SLAVC's Precision)}."""
    f1, at = max_f1(visible, cious, confidence, ciou_threshold)
    p, _ = precision_recall(visible, cious, confidence, [-np.inf], ciou_threshold)
    return {"ap": average_precision(visible, cious, confidence, ciou_threshold), "max_f1": f1, "f1_confidence": at,
            "precision": float(p[0])}


# --------------------------------------------------------------------------- confidences


def box_confidence(boxes: np.ndarray | None) -> float:
    """The top box's score of an (M, 5) score-sorted array; -inf without a box."""
    return float(boxes[0, 4]) if boxes is not None and len(boxes) else -np.inf


def map_confidence(grid_map: np.ndarray, rule: str = "max") -> float:
    """A map's confidence: "max" (its maximum) or "top-quarter" (SLAVC test.py: the mean of its ceil(N / 4) largest values).

    grid_map: (H, W) float, for "top-quarter" the map on the evaluation grid (SLAVC: 224 x 224).
    """
    m = np.asarray(grid_map, dtype=np.float64).ravel()
    if rule == "max":
        return float(np.max(m))
    if rule == "top-quarter":
        return float(np.sort(m)[(-len(m)) // 4:].mean())  # SLAVC: np.sort(scores.flatten())[-n//4:], i.e. the ceil(n / 4) largest
    raise SSLPropError(f"--confidence {rule}: unknown rule for maps (max, top-quarter, d_on or an onscreen.json)")
