"""Bootstrap intervals of the scores: which differences the test frames can resolve.

    intervals = bootstrap_intervals(keys, {"ciou@0.5": (cious, success_at_half)}, resamples=1000, seed=0)

The unit resampled is the sample, not the frame: the frames of one multi-frame sample (keys
``<sample id>/<frame index>``, `group_of`) are drawn together, as they are not independent. Each
resample draws as many samples as there are, with replacement; the statistic is recomputed on the
frames drawn; the interval is the percentile interval of the resampled statistics (95 % by default);
a resample whose statistic is undefined (NaN, e.g. a ROC AUC drawing one class only) is left out.
Seeded: the same inputs and seed give the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sslprop.errors import SSLPropError

Statistic = Callable[[np.ndarray], float]  # per-frame values of the drawn frames -> one number


def settings(ci: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """{"resamples", "seed", "level"} of a `ci` mapping, defaults filled in (1,000 resamples, seed 0, 95 %)."""
    ci = ci or {}
    return {"resamples": int(ci.get("resamples", 1000)), "seed": int(ci.get("seed", 0)), "level": float(ci.get("level", 0.95))}


def group_of(key: str) -> str:
    """The sample a prediction key belongs to: ``"id/3"`` -> ``"id"``, ``"id"`` -> ``"id"``."""
    return key.rsplit("/", 1)[0] if "/" in key else key


def _draws(keys: Sequence[str], resamples: int, seed: int) -> list[np.ndarray]:
    """Frame indices of each resample: samples drawn with replacement, each bringing all its frames."""
    if resamples < 1:
        raise SSLPropError(f"--resamples {resamples}: must be at least 1")
    if len(keys) == 0:
        raise SSLPropError("bootstrap: no scored frame")
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(group_of(k), []).append(i)
    members = [np.asarray(v, dtype=np.int64) for v in groups.values()]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(members), size=(resamples, len(members)))  # (R, G)
    if all(len(m) == 1 for m in members):  # one frame per sample: the draw is the frame index
        flat = np.concatenate(members)
        return [flat[p] for p in picks]
    return [np.concatenate([members[g] for g in p]) for p in picks]


def bootstrap_intervals(keys: Sequence[str], columns: Mapping[str, tuple[Sequence[float], Statistic]],
                        resamples: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, list[float]]:
    """{name: [low, high]}: the percentile interval of each statistic over `resamples` sample-level resamples.

    keys:    the scored frames' prediction keys (their samples are the resampling unit)
    columns: {name: (per-frame values aligned with `keys`, statistic of the drawn values)}; every column is
             computed on the same resamples, so intervals of one report come from one set of draws.
    """
    if not 0.0 < level < 1.0:
        raise SSLPropError(f"interval level {level}: must lie in (0, 1)")
    draws = _draws(keys, resamples, seed)
    out = {}
    for name, (values, stat) in columns.items():
        v = np.asarray(values, dtype=np.float64)
        if len(v) != len(keys):
            raise SSLPropError(f"bootstrap column {name}: {len(v)} values for {len(keys)} frames")
        stats = np.array([stat(v[d]) for d in draws], dtype=np.float64)
        if np.isnan(stats).all():  # e.g. a ROC AUC of one class only
            out[name] = [float("nan"), float("nan")]
            continue
        lo, hi = np.nanquantile(stats, [(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0])  # NaN resamples left out
        out[name] = [float(lo), float(hi)]
    return out


def paired_difference(keys: Sequence[str], a: Sequence[float], b: Sequence[float], stat: Statistic,
                      resamples: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, float | bool]:
    """Two methods scored on the same frames: stat(a) - stat(b) with its paired bootstrap interval.

    Both are recomputed on the same resampled frames, so what the frames share cancels. Returns
    {"difference", "low", "high", "resolved"}: resolved when the interval excludes 0.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) != len(keys) or len(b) != len(keys):
        raise SSLPropError(f"paired bootstrap: {len(a)} and {len(b)} values for {len(keys)} frames")
    draws = _draws(keys, resamples, seed)
    diffs = np.array([stat(a[d]) - stat(b[d]) for d in draws])
    lo, hi = np.quantile(diffs, [(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0])
    return {"difference": float(stat(a) - stat(b)), "low": float(lo), "high": float(hi), "resolved": bool(lo > 0 or hi < 0)}
