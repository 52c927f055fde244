"""Per-clip tracks of the sequences preset (Figs. 3 and 4: confidence against loudness, the switch between sources) and Fig. 5's map shapes."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchvision.ops import box_iou

from sslprop.data.format import read_manifest
from sslprop.data.predfiles import frame_key
from sslprop.errors import SSLPropError
from sslprop.evaluation.bootstrap import bootstrap_intervals, paired_difference
from sslprop.evaluation.bootstrap import settings as ci_settings
from sslprop.ops.boxes import box_cells, box_iou_np, map_box


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

    N = len(sample.frames)
    keys = [frame_key(sample.id, n, len(sample.frames)) for n in range(N)]
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


def distance_correlations(tracks: Sequence[SequenceTrack]) -> list[tuple[str, float]]:
    """[(sample id, r), ...] of the distance-mode clips: the Pearson correlation between d_on and the source's gain over the
    clip's on-screen frames (clips with fewer than 3 such frames, or a constant series, are left out)."""
    rs = []
    for t in tracks:
        if t.mode != "distance" or t.gains is None:
            continue
        keep = t.onscreen
        if keep.sum() >= 3:
            r = _pearson(t.d_on[keep], t.gains[keep])
            if not np.isnan(r):
                rs.append((t.sample_id, r))
    return rs


def distance_summary(tracks: Sequence[SequenceTrack]) -> dict[str, Any]:
    """How d_on follows loudness in distance-mode clips (Fig. 3).

    Per clip, the Pearson correlation between d_on and the source's gain over its on-screen frames
    (`distance_correlations`). Returns {"clips", "mean r" (NaN without clips), "clips with r > 0"} over the clips where r exists.
    """
    rs = [r for _, r in distance_correlations(tracks)]
    return {"clips": len(rs), "mean r": float(np.mean(rs)) if rs else float("nan"), "clips with r > 0": sum(r > 0 for r in rs)}


def turns_outcomes(tracks: Sequence[SequenceTrack]) -> tuple[list[tuple[str, bool]], int, int]:
    """Per turns-mode frame where both objects have a matched proposal and exactly one sounds: does the sounding
    one have the higher confidence? Returns ([("<sample id>/<frame>", won), ...], clips, turns frames in all)."""
    outcomes, total, clips = [], 0, 0
    for t in tracks:
        if t.mode != "turns" or len(t.labels) != 2:
            continue
        clips += 1
        for n in range(len(t.times)):
            total += 1
            c, s = t.object_conf[:, n], t.sounding[:, n]
            if np.isnan(c).any() or s.sum() != 1:
                continue
            outcomes.append((f"{t.sample_id}/{n}", bool(c[s][0] > c[~s][0])))
    return outcomes, clips, total


def turns_summary(tracks: Sequence[SequenceTrack]) -> dict[str, Any]:
    """Whether the sounding object's confidence beats the silent one's in turns-mode clips (Fig. 4).

    Counts the frames where both objects have a matched proposal (`SequenceTrack.object_conf` not NaN)
    and exactly one sounds (`turns_outcomes`). Returns {"clips", "frames", "sounding higher" (share, NaN without
    frames), "frames with both matched" (share of the turns frames)}.
    """
    outcomes, clips, total = turns_outcomes(tracks)
    frames, wins = len(outcomes), sum(won for _, won in outcomes)
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


def map_shape(score_map: Any, box: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """How a location map covers an object's box (Fig. 5: "larger and more complete shapes").

    score_map: (H, W) Tensor or array on the grid of `box` (xyxy pixels). The map is min-max normalised;
    its region is the pixels at or above `threshold`. Returns:
        mass in box:  share of the (raw, non-negative) map's mass inside the box
        box covered:  share of the box's pixels inside the region (completeness)
        region in box: share of the region's pixels inside the box (precision)
        map box IoU:  IoU of the region's tight box (`sslprop.ops.boxes.map_box`) with the object's box
        box covered at equal area: share of the box's pixels among the map's top |box| pixels (`covered_at_equal_area`):
                      every map gets a region of the box's own size, so a flatter map cannot cover more by spilling
    """

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
        "box covered at equal area": covered_at_equal_area(m.numpy(), inside.numpy()),
    }


def covered_at_equal_area(score_map: np.ndarray, inside: np.ndarray) -> float:
    """Share of the `inside` (bool (H, W)) pixels among the map's n highest pixels, n = the number of inside pixels.

    At that size the share is both the region's recall and its precision, so two maps are compared on where they put
    their mass, not on how much they spill. Pixels tied at the n-th value count in proportion (the expected share
    under a random order of the ties), so a constant map scores n / (H W) whatever the box's place.
    """
    v = np.asarray(score_map, dtype=np.float64).ravel()
    box = np.asarray(inside, dtype=bool).ravel()
    n = int(box.sum())
    if n == 0:
        return float("nan")
    cut = np.sort(v)[::-1][n - 1]  # the n-th highest value
    above, tied = v > cut, v == cut
    share_tied = (n - int(above.sum())) / int(tied.sum())  # how many of the tied pixels make up the n
    return float((above & box).sum() + share_tied * (tied & box).sum()) / n


def ranking_summary(boxes: Mapping[str, Sequence[Sequence[float]]], gt: Mapping[str, Sequence[Sequence[float]]],
                    iou: float = 0.5, ci: Mapping[str, Any] | None = None) -> dict[str, float]:
    """How well d_k ranks the kept proposals: top-1 hit rate against the rate of a random kept proposal and of any.

    boxes: boxes.json {key: [[x1, y1, x2, y2, d_k], ...] best first}; gt: {key: [[x1, y1, x2, y2], ...]}, the
    annotators' boxes of each frame to score (frames without a box are left out). A proposal hits when its IoU
    with any gt box is at least `iou`. Returns {"frames", "top-1 hits" (share of frames), "random kept proposal hits"
    (mean over frames of the share of kept proposals that hit: the top-1 rate of a random ranking), "any kept hits"}.
    ci: {"resamples", "seed"}: also each rate's 95 % bootstrap interval ("<rate> low" / "<rate> high", samples
    resampled) and "top-1 - random" with its paired interval, in shares.
    """

    keys, per = [], {"top-1 hits": [], "random kept proposal hits": [], "any kept hits": []}  # per frame
    for key, g in sorted(gt.items()):
        if not len(g):
            continue
        if key not in boxes:
            raise SSLPropError(f"boxes.json: no prediction for {key!r}")
        b, _ = _boxes_of(boxes[key])
        keys.append(key)
        if not len(b):
            for v in per.values():
                v.append(0.0)
            continue
        hit = (box_iou(torch.from_numpy(b), torch.tensor(g, dtype=torch.float64).reshape(-1, 4)).amax(dim=1) >= iou).numpy()  # (K,)
        per["top-1 hits"].append(float(hit[0]))
        per["random kept proposal hits"].append(float(hit.mean()))
        per["any kept hits"].append(float(hit.any()))
    if not keys:
        raise SSLPropError("ranking_summary: no frame with a ground-truth box")
    out: dict[str, float] = {"frames": len(keys), **{k: float(np.mean(v)) for k, v in per.items()}}
    if ci is not None:

        settings = ci_settings(ci)
        for k, (lo, hi) in bootstrap_intervals(keys, {k: (v, np.mean) for k, v in per.items()}, **settings).items():
            out[f"{k} low"], out[f"{k} high"] = lo, hi
        d = paired_difference(keys, per["top-1 hits"], per["random kept proposal hits"], np.mean, **settings)
        out["top-1 - random"], out["top-1 - random low"], out["top-1 - random high"] = d["difference"], d["low"], d["high"]
    return out


def gt_boxes(root: str | os.PathLike, split: str = "test") -> dict[str, list[list[float]]]:
    """Every annotator's boxes per frame key of `split` ({key: [[x1, y1, x2, y2], ...]}, empty off-screen)."""

    return {frame_key(s.id, n, len(s.frames)): [list(map(float, b)) for a in f.annotators for b in a]
            for s in read_manifest(root, split) for n, f in enumerate(s.frames)}
