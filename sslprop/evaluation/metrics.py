"""The field's evaluation protocols, each as its reference code scores a map or a box.

Every function is pure (arrays in, arrays or numbers out) and takes the evaluation grid size
as an argument (`size`, 224 in every reference). Five protocols (plus DSOL's duet variant)
differ in how a predicted map becomes a binary mask and in how ground truth is drawn; DSOL's
three come in two map read-outs (min-max normalised, the default, and ``-raw``, their code
exactly); all share one cIoU formula and one 21-point AUC:

=================  =========================================  ================================  =================
protocol           predicted map -> mask                      ground truth                      reference
=================  =========================================  ================================  =================
``lvs``            cv2 INTER_LINEAR to size, min-max (of the  Flickr: every box                 hche11/Localizing-
                   negated map, then 1 - it), positive where  ``int(224*v/256)``, masks summed,  Visual-Sounds-the-
                   STRICTLY above the element at index N//2   /2, clipped to 1; VGG-SS:          Hard-Way test.py,
                   of the sorted values, or equal to the max  ``int(224*max(v,0))``, union      utils.py
``ezvsl``          torch bilinear, align_corners=True,        as lvs (VGG-SS:                   stoneMo/EZ-VSL
                   min-max, positive where >= that element    ``int(224*clip(v,0,1))``)         test.py, datasets.py
``sspl``           cv2 INTER_LINEAR, (m - min) / ptp,         as lvs                            zjsong/SSPL
                   positive where >= 0.5                                                        test.py, utils.py
``dsol-solo``      cv2 INTER_LINEAR, min-max (as lvs, ezvsl   ``b = normbox*224`` (x, y, w, h), DSOL's rule after
                   and sspl do), positive where > 0.1         ``[int(y):int(y+h),               min-max
                                                              int(x):int(x+w)] = 1``, union
``dsol-multi``     per source: min-max, > 0.5; cIoU per       per category, as dsol-solo        DSOL's rule after
                   category averaged per image; NSA                                             min-max
``dsol-duet``      as dsol-multi with > 0.2                   as dsol-solo                      DSOL's rule after
                                                                                                min-max
``dsol-solo-raw``  cv2 INTER_LINEAR, no normalisation,        as dsol-solo                      DTaoo/DSOL
                   positive where > 0.1 * max                                                   music-exp/tools.py
``dsol-multi-raw`` per source: > 0.5 * max of the raw map     as dsol-multi                     music-exp/eval.py
``dsol-duet-raw``  per source: > 0.2 * max of the raw map     as dsol-multi                     music-exp/eval_duet.py
=================  =========================================  ================================  =================

The ``-raw`` protocols are DSOL's code to the letter. The default dsol protocols min-max
normalise the resized map first, as the other references do before their thresholds: on
the raw map, "> 0.1 x max" keeps every pixel of any map whose minimum is above a tenth of
its maximum (a softmax over ReLU(cos), Attention's, has min / max >= 1/e), so such a map
would score exactly as the full-frame floor. On a map with minimum 0 the two agree.

Multi-source protocols score DSOL's per-image cIoU (the mean over the image's sounding
sources) and report what DSOL prints (DTaoo/Discriminative-Sounding-Objects-Localization,
music-exp/eval.py lines 87-98: ``ciou = np.mean(ciou)`` per image; ``results[i] =
np.sum(cious >= 0.05 * i) / len(cious)`` for i in range(21); ``auc = sklearn.metrics.auc(x,
results)``; ``print(auc, results[6], results[10], ...)``; eval_duet.py lines 102-113 the same):
``auc``, ``ciou@0.3`` (``results[6]``, the step 0.05 * 6 = 0.30000000000000004, DSOL's CIoU@0.3)
and ``iou@0.5`` (``results[10]``), all from `success_curve`. DSOL's maps
are class-aware, one per category; a single class-agnostic map is read out as two regions
(`two_regions`) so that it can name two sources, and a box prediction gives its two best
boxes.

cIoU = sum(P * G) / (sum(G) + sum(P * [G == 0])); a sample whose ground truth and
prediction are both empty gives 0/0 = NaN, which, as in the reference, fails every
threshold and still counts in the denominator. Summaries: the fraction of samples with
cIoU >= t (``ciou@0.5`` / DSOL's ``IoU@0.5``), and the AUC by the trapezoid rule over
x = [0.05 * i for i in range(21)] of the fraction with cIoU >= x (sklearn's ``auc``; note
that 0.05 * 3 = 0.15000000000000002, so a cIoU of exactly 0.15 fails the 0.15 step).

A box prediction is drawn on the same grid by the same rule as the protocol's ground
truth and scored by the cIoU formula directly (a binary mask is never thresholded at its
median). Maps are converted to float32 first: the reference networks produce float32.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from sslprop.data.annotations import FLICKR_FRAME
from sslprop.errors import SSLPropError

GRID = 224  # the evaluation grid of every reference implementation
AUC_STEPS = 21  # thresholds 0, 0.05, ..., 1.0


# --------------------------------------------------------------------------- map -> mask


def _as_map(heatmap: np.ndarray) -> np.ndarray:
    m = np.asarray(heatmap, dtype=np.float32)
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise SSLPropError(f"a prediction map must be a 2-D array (H, W), got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise SSLPropError("a prediction map holds NaN or infinite values")
    return m


def resize_linear(heatmap: np.ndarray, size: int = GRID) -> np.ndarray:
    """``cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR)`` of a float32 (H, W) map -> (size, size)."""

    return cv2.resize(_as_map(heatmap), dsize=(size, size), interpolation=cv2.INTER_LINEAR)


def resize_align_corners(heatmap: np.ndarray, size: int = GRID) -> np.ndarray:
    """``F.interpolate(m, (size, size), mode='bilinear', align_corners=True)`` of an (H, W) map -> (size, size)."""

    t = torch.from_numpy(_as_map(heatmap))[None, None]  # (1, 1, H, W)
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=True)[0, 0].numpy()


def normalize_guarded(value: np.ndarray) -> np.ndarray:
    """LVS / EZ-VSL ``normalize_img``: (v - min) / (max - min), the map unchanged when it is constant."""
    vmin, vmax = value.min(), value.max()
    if not (vmax - vmin) == 0:
        value = (value - vmin) / (vmax - vmin)
    return value


def normalize_ptp(value: np.ndarray) -> np.ndarray:
    """SSPL ``normalize_img``: (v - min) / ptp(v); a constant map becomes all NaN (so all negative)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (value - np.min(value)) / np.ptp(value)


def median_element(value: np.ndarray) -> float:
    """``np.sort(v.flatten())[int(H * W / 2)]``: the upper median element, the references' threshold."""
    return np.sort(value.flatten())[int(value.shape[0] * value.shape[1] / 2)]


def lvs_mask(heatmap: np.ndarray, size: int = GRID) -> np.ndarray:
    """LVS test.py, step by step -> bool (size, size).

    ``h = cv2.resize(m)``; ``n = normalize_img(-h)``; ``pred = 1 - n``;
    ``thr = sorted(pred)[N//2]``; ``pred[pred > thr] = 1``; ``pred[pred < 1] = 0``; then
    ``cal_CIOU(pred, gt, 0.5)`` keeps ``pred >= 0.5``. For a non-constant map that is
    "strictly above the upper median element, or equal to the maximum": a tie at the
    threshold is dropped unless the tied value is the maximum (1 after normalisation), which
    ``pred[pred < 1] = 0`` leaves in place (a half-0, half-1 map keeps its 1s). A constant map
    c is left unnormalised (pred = 1 + c), so it is all positive when c >= 0, else all negative.
    """
    h = resize_linear(heatmap, size)
    pred = 1 - normalize_guarded(-h)
    thr = median_element(pred)
    pred = pred.copy()
    pred[pred > thr] = 1
    pred[pred < 1] = 0
    return pred >= 0.5


def ezvsl_mask(heatmap: np.ndarray, size: int = GRID) -> np.ndarray:
    """EZ-VSL test.py -> bool (size, size): align_corners bilinear, min-max, ``>= sorted[N//2]``."""
    pred = normalize_guarded(resize_align_corners(heatmap, size))
    return pred >= median_element(pred)


def sspl_mask(heatmap: np.ndarray, size: int = GRID, thres: float = 0.5) -> np.ndarray:
    """SSPL ``eval_cal_ciou(..., thres=0.5)`` -> bool (size, size): cv2 bilinear, (m-min)/ptp, ``>= 0.5``."""
    return normalize_ptp(resize_linear(heatmap, size)) >= thres


def dsol_mask(heatmap: np.ndarray, ratio: float, size: int = GRID) -> np.ndarray:
    """DSOL -> bool (size, size): ``predmap = cv2.resize(m, (224, 224))``, ``predmap > ratio * max(predmap)``.

    The ``-raw`` protocols' rule (music-exp/tools.py, eval.py lines 73-75). No normalisation. The threshold is formed in float64 and compared in float32, as
    NumPy 1 did for a float32 map against a float64 scalar.
    """
    pred = resize_linear(heatmap, size)
    return pred > np.float32(ratio * float(np.max(pred)))


def dsol_mask_minmax(heatmap: np.ndarray, ratio: float, size: int = GRID) -> np.ndarray:
    """DSOL's threshold after min-max normalisation -> bool (size, size): ``(m - min) / (max - min) > ratio``.

    ``m = cv2.resize(map, (224, 224))`` as in `dsol_mask`, then normalised as LVS, EZ-VSL and SSPL
    normalise before their thresholds, so the mask depends on the map's shape, not on its offset: on
    a map whose minimum is 0 it is `dsol_mask` (up to float rounding). A constant map has no peak
    to threshold: every pixel is positive, as a constant positive map is under `dsol_mask`.
    """
    pred = resize_linear(heatmap, size)
    lo, hi = float(np.min(pred)), float(np.max(pred))
    if not hi > lo:
        return np.ones(pred.shape, dtype=bool)
    return (pred - np.float32(lo)) / np.float32(hi - lo) > np.float32(ratio)


# --------------------------------------------------------------------------- two regions of one map

PEAK_RADIUS = 1 / 8  # `two_regions`: a second peak lies at least this share of the grid's side from the first


def two_regions(value: np.ndarray, positive: np.ndarray, radius: float | None = None) -> list[np.ndarray]:
    """Two source regions read out of ONE map, for the multi-source protocols -> [bool (S, S), bool (S, S)].

    value:    float (S, S), the map on the protocol's grid (after its resize, before its threshold);
    positive: bool (S, S), the protocol's mask of that map (`Protocol.mask`);
    radius:   pixels; default `PEAK_RADIUS` x S (28 at 224).

    The positive pixels are grouped into 8-connected components.
    - Two or more components: the regions are the two whose peak (the largest `value` inside) is
      highest, ties to the larger area, then to the lower label (the first in row-major order);
      the other components are dropped (two sources are named at most).
    - One component: it is split when it holds a second hump. Its maximum p1 is the first peak
      (first in row-major order). A second peak is a local maximum q (no larger value among its 8
      neighbours) at least `radius` from p1 that the pixels of value >= value(q) do not connect to
      p1 (a separate hump: not a shoulder, nor a plateau, of the first); the highest such q is
      taken. The two tops, the connected pixels of value >= value(q) around p1 and around q, are
      the seeds, and every pixel of the component goes to the nearer seed (Euclidean distance,
      ties to the first). Without a second peak the component is the first region and the second
      region is empty.
    - No positive pixel: both regions are empty.
    A map with one blob names one source; a map with two blobs, or one blob with two humps,
    names two. The ground-truth mask of two disjoint sources is read out as exactly those two.
    """

    v = np.asarray(value, dtype=np.float32)
    pos = np.asarray(positive, dtype=bool)
    if v.shape != pos.shape or v.ndim != 2:
        raise SSLPropError(f"two_regions: map {v.shape} and mask {pos.shape} must be the same (S, S)")
    empty = np.zeros(pos.shape, dtype=bool)
    count, labels = cv2.connectedComponents(pos.astype(np.uint8), connectivity=8)
    if count <= 1:
        return [empty, empty.copy()]
    if count > 2:
        ranked = []
        for lab in range(1, count):
            inside = labels == lab
            ranked.append((-float(v[inside].max()), -int(inside.sum()), lab))
        ranked.sort()
        return [labels == ranked[0][2], labels == ranked[1][2]]
    comp = labels == 1
    masked = np.where(comp, v, -np.inf).astype(np.float32)
    p1 = np.unravel_index(int(np.argmax(masked)), v.shape)  # (row, col), the first maximum in row-major order
    r = PEAK_RADIUS * v.shape[0] if radius is None else float(radius)
    rows, cols = np.indices(v.shape)
    neighbours = cv2.dilate(masked, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=-np.inf)
    candidates = comp & (masked >= neighbours) & ((rows - p1[0]) ** 2 + (cols - p1[1]) ** 2 >= r * r)
    seeds = None
    for level in np.unique(v[candidates])[::-1]:  # candidate values, highest first
        _, sup = cv2.connectedComponents((comp & (v >= level)).astype(np.uint8), connectivity=8)
        apart = candidates & (v == level) & (sup != sup[p1])
        if apart.any():
            q = np.unravel_index(int(np.argmax(apart)), v.shape)  # the first such pixel in row-major order
            seeds = (sup == sup[p1], sup == sup[q])
            break
    if seeds is None:
        return [comp, empty]
    d1, d2 = (cv2.distanceTransform((~seed).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) for seed in seeds)
    return [comp & (d1 <= d2), comp & (d2 < d1)]


# --------------------------------------------------------------------------- ground truth


def box_mask(x1: int, y1: int, x2: int, y2: int, size: int = GRID) -> np.ndarray:
    """``temp = zeros((size, size)); temp[y1:y2, x1:x2] = 1`` with NumPy slice semantics -> float64 (size, size)."""
    m = np.zeros((size, size))
    m[y1:y2, x1:x2] = 1
    return m


def consensus_map(grid_boxes: Sequence[Sequence[int]], size: int = GRID) -> np.ndarray:
    """Flickr consensus: one mask per box (every annotator's), summed, divided by 2, clipped to 1 -> (size, size).

    Values are 0, 0.5 or 1: a pixel inside one box counts half, inside two or more fully.
    """
    gt = np.zeros((size, size))
    for x1, y1, x2, y2 in grid_boxes:
        gt += box_mask(x1, y1, x2, y2, size)
    gt /= 2
    gt[gt > 1] = 1
    return gt


def union_map(grid_boxes: Sequence[Sequence[int]], size: int = GRID) -> np.ndarray:
    """VGG-SS / single annotator: box masks summed, set to 1 where positive -> (size, size) of 0/1."""
    gt = np.zeros((size, size))
    for x1, y1, x2, y2 in grid_boxes:
        gt += box_mask(x1, y1, x2, y2, size)
    gt[gt > 0] = 1
    return gt


def scale_box(box: Sequence[float], width: float, height: float, size: int = GRID) -> tuple[int, int, int, int]:
    """The Flickr rule on any frame: ``int(size * v / W)`` for x, ``int(size * v / H)`` for y (xyxy pixels in)."""
    x1, y1, x2, y2 = box
    return int(size * x1 / width), int(size * y1 / height), int(size * x2 / width), int(size * y2 / height)


def flickr_grid_boxes(boxes: Sequence[Sequence[int]], size: int = GRID, frame: int = FLICKR_FRAME) -> list[tuple[int, int, int, int]]:
    """Flickr XML boxes (pixels of the 256x256 frame) -> ``int(size * int(v) / 256)`` each."""
    return [tuple(int(size * int(v) / frame) for v in b) for b in boxes]  # type: ignore[misc]


def vggss_grid_box(box: Sequence[float], size: int = GRID, clip_top: bool = False) -> tuple[int, int, int, int]:
    """A normalised VGG-SS xyxy box on the grid.

    clip_top=False (LVS, SSPL): ``int(size * max(v, 0))``;
    clip_top=True (EZ-VSL): ``(np.clip(v, 0, 1) * size).astype(int)``.
    Either way a garbage -2.88e16 becomes 0.
    """
    if clip_top:
        return tuple(int(v) for v in (np.clip(np.array(box, dtype=np.float64), 0, 1) * size).astype(int))  # type: ignore[return-value]
    return tuple(int(size * max(v, 0)) for v in box)  # type: ignore[return-value]


def dsol_box_mask(normbox: Sequence[float], size: int = GRID) -> np.ndarray:
    """DSOL: ``b = np.array(normbox) * 224``; ``gt[int(b[1]):int(b[1]+b[3]), int(b[0]):int(b[0]+b[2])] = 1``.

    normbox is (x, y, w, h) normalised; the far edge is truncated after the addition,
    int(y + h), not int(y) + int(h).
    """
    b = np.array(normbox, dtype=np.float64) * size
    m = np.zeros((size, size))
    m[int(b[1]): int(b[1] + b[3]), int(b[0]): int(b[0] + b[2])] = 1
    return m


def dsol_gt_map(normboxes: Sequence[Sequence[float]], size: int = GRID) -> np.ndarray:
    """DSOL ground truth of one source (or every box, for solo): union of `dsol_box_mask` -> (size, size) 0/1."""
    gt = np.zeros((size, size))
    for nb in normboxes:
        gt = np.maximum(gt, dsol_box_mask(nb, size))
    return gt


def xyxy_to_normxywh(box: Sequence[float], width: float, height: float) -> tuple[float, float, float, float]:
    """Absolute xyxy pixels of a W x H frame -> DSOL's normalised (x/W, y/H, w/W, h/H)."""
    x1, y1, x2, y2 = box
    return x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height


def clip_box(box: Sequence[float], width: float, height: float) -> tuple[float, float, float, float]:
    """Clip an xyxy pixel box to the frame [0, W] x [0, H] (predicted boxes only; ground truth is never clipped here)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height)


# --------------------------------------------------------------------------- scores


def ciou(pred: np.ndarray, gt: np.ndarray) -> float:
    """``sum(P*G) / (sum(G) + sum(P*[G==0]))`` for a binary (size, size) prediction and a ground-truth map.

    With a 0/1 ground truth this is the plain IoU of the two masks. 0/0 (both empty) is NaN.
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    if p.shape != g.shape:
        raise SSLPropError(f"prediction mask {p.shape} and ground truth {g.shape} differ in shape")
    inter = np.sum(p * g)
    union = np.sum(g) + np.sum(p * (g == 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.float64(inter) / np.float64(union))


def auc_thresholds() -> list[float]:
    """``[0.05 * i for i in range(21)]``, the x axis of every reference AUC (floating-point values kept)."""
    return [0.05 * i for i in range(AUC_STEPS)]


def success_curve(cious: Sequence[float]) -> list[float]:
    """Fraction of samples with cIoU >= 0.05 * i, i = 0..20 (NaN fails every step).

    DSOL's ``results`` (music-exp/eval.py lines 91-95): index 6 is its CIoU@0.3, index 10 its IoU@0.5.
    """
    if len(cious) == 0:
        raise SSLPropError("no samples to score")
    arr = np.asarray(cious, dtype=np.float64)
    return [float(np.sum(arr >= t) / len(arr)) for t in auc_thresholds()]


def ciou_auc(cious: Sequence[float]) -> float:
    """Area under `success_curve` by the trapezoid rule over `auc_thresholds` (sklearn.metrics.auc)."""
    return float(np.trapezoid(success_curve(cious), auc_thresholds()))


def success_rate(cious: Sequence[float], threshold: float = 0.5) -> float:
    """``np.sum(cious >= t) / len(cious)``: cIoU@0.5 of LVS / EZ-VSL / SSPL, IoU@0.5 of DSOL."""
    if len(cious) == 0:
        raise SSLPropError("no samples to score")
    arr = np.asarray(cious, dtype=np.float64)
    return float(np.sum(arr >= threshold) / len(arr))


def box_hit(pred_box: Sequence[float], gt_boxes: np.ndarray, threshold: float = 0.5) -> tuple[bool, float]:
    """Box-level IoU (torchvision.ops.box_iou) of one predicted xyxy box against every ground-truth box.

    pred_box: (4,) xyxy; gt_boxes: (N, 4) xyxy, same pixel space. Returns (best IoU >= threshold,
    best IoU): a hit when the box overlaps ANY annotated box (of any annotator) by >= threshold.
    """

    gt = torch.as_tensor(np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4))
    if gt.shape[0] == 0:
        return False, 0.0
    iou = box_iou(torch.as_tensor(np.asarray(pred_box, dtype=np.float64)).reshape(1, 4), gt)  # (1, N)
    best = float(iou.max())
    return best >= threshold, best


# --------------------------------------------------------------------------- multi-source (DSOL)


@dataclass(frozen=True)
class MultiScore:
    """One multi-source image: the mean of the per-source cIoUs, each source's cIoU, its predicted map index."""

    ciou: float
    per_source: tuple[float, ...]
    assignment: tuple[int, ...]  # predicted map index per source; -1 where no map was left for it


def dsol_multi_image(pred_masks: Sequence[np.ndarray], sources: Sequence[np.ndarray]) -> MultiScore:
    """Per-source cIoU averaged over the image's sounding sources (DSOL eval.py / eval_duet.py).

    pred_masks: S binary (size, size) masks, one per predicted source (class-agnostic);
    sources:    K ground-truth maps, one per sounding category.
    DSOL's maps are class-aware (a map per category); class-agnostic outputs have no
    category, so each source takes the predicted mask that maximises the total cIoU over a
    one-to-one assignment (exhaustive over permutations; S and K are small). A single
    predicted mask (S == 1) is scored against every source, as a single map is. A source
    left without a mask scores 0.
    """
    if not sources:
        raise SSLPropError("dsol-multi: an image needs at least one sounding source")
    k = len(sources)
    if len(pred_masks) == 0:
        return MultiScore(0.0, (0.0,) * k, (-1,) * k)
    table = np.array([[ciou(p, g) for p in pred_masks] for g in sources])  # (K, S)
    table = np.nan_to_num(table, nan=0.0)
    if len(pred_masks) == 1:
        per = tuple(float(v) for v in table[:, 0])
        return MultiScore(float(np.mean(per)), per, (0,) * k)
    s = len(pred_masks)
    best, assign = -1.0, (-1,) * k
    if s >= k:  # every source gets a distinct mask: perm[i] is the mask of source i
        for perm in itertools.permutations(range(s), k):
            total = float(sum(table[i, perm[i]] for i in range(k)))
            if total > best:
                best, assign = total, tuple(perm)
    else:  # fewer masks than sources: order[j] is the source that mask j goes to
        for order in itertools.permutations(range(k), s):
            total = float(sum(table[order[j], j] for j in range(s)))
            if total > best:
                slots = [-1] * k
                for j, src in enumerate(order):
                    slots[src] = j
                best, assign = total, tuple(slots)
    per = tuple(float(table[i, m]) if m >= 0 else 0.0 for i, m in enumerate(assign))
    return MultiScore(float(np.mean(per)), per, assign)


def dsol_nsa(silent_maps: Sequence[np.ndarray], thresvalue: float = 0.2, size: int = GRID) -> float:
    """DSOL's NSA for one image, to the letter, for CLASS-AWARE maps of the silent categories.

    ``mean over silent categories of np.sum(cv2.resize(map, (224, 224)) <= 0.2) / (224 * 224)``
    (an absolute 0.2 on the raw map). NaN when there is no silent map (np.mean of []).
    """
    vals = [float(np.sum(resize_linear(m, size) <= thresvalue) / (size * size)) for m in silent_maps]
    return float(np.mean(vals)) if vals else float("nan")


def silent_score(positive: np.ndarray, silent_objects: Sequence[np.ndarray]) -> float:
    """Class-agnostic silent-object score of one image: mean over silent objects of the
    fraction of each object's ground-truth pixels that the prediction leaves negative.

    positive: bool (size, size), the union of the image's predicted source masks;
    silent_objects: 0/1 (size, size) maps of the visible objects that do not sound.
    1.0 = no silent object is marked as sounding. NaN when the image has no silent object.
    The analogue of DSOL's NSA for methods without class-specific maps (see `dsol_nsa`).
    """
    vals = []
    for g in silent_objects:
        area = float(np.sum(g > 0))
        if area > 0:
            vals.append(float(np.sum((g > 0) & ~positive)) / area)
    return float(np.mean(vals)) if vals else float("nan")


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Protocol:
    """A named protocol: how a map becomes a mask, which ground-truth rule, what it reports.

    gt_rule:  "lvs" (Flickr consensus / VGG-SS max(v,0) union), "ezvsl" (as lvs, VGG-SS
              clip(v,0,1)), or "dsol" (normbox*224 x, y, w, h)
    multi:    True for the per-source, per-image protocols (dsol-multi, dsol-duet and their -raw)
    headline: the key of its headline rate: "ciou@0.5" (lvs family) or "iou@0.5" (DSOL); the
              multi-source ones also report "ciou@0.3", DSOL's headline there
    resize:   how its `mask` brings a map to the grid (the pointing game's peak and the values
              that `two_regions` reads are taken after it)
    """

    name: str
    mask: Callable[[np.ndarray, int], np.ndarray]
    gt_rule: str
    multi: bool
    headline: str
    formats: tuple[str, ...]
    reference: str
    resize: Callable[[np.ndarray, int], np.ndarray] = resize_linear


def _dsol(ratio: float, raw: bool) -> Callable[[np.ndarray, int], np.ndarray]:
    """The map -> mask rule of a dsol protocol: `dsol_mask` (raw) or `dsol_mask_minmax` at `ratio`."""
    rule = dsol_mask if raw else dsol_mask_minmax

    def mask(m: np.ndarray, size: int = GRID) -> np.ndarray:
        return rule(m, ratio, size)

    return mask


_DSOL = "DTaoo/Discriminative-Sounding-Objects-Localization"
_FORMATS_DSOL = ("music", "audioset-instrument", "sslprop")

PROTOCOLS: dict[str, Protocol] = {
    "lvs": Protocol("lvs", lvs_mask, "lvs", False, "ciou@0.5", ("flickr", "vggss", "sslprop"),
                    "hche11/Localizing-Visual-Sounds-the-Hard-Way test.py + utils.testset_gt"),
    "ezvsl": Protocol("ezvsl", ezvsl_mask, "ezvsl", False, "ciou@0.5", ("flickr", "vggss", "sslprop"),
                      "stoneMo/EZ-VSL test.py + datasets.bbox2gtmap", resize_align_corners),
    "sspl": Protocol("sspl", sspl_mask, "lvs", False, "ciou@0.5", ("flickr", "vggss", "sslprop"),
                     "zjsong/SSPL sspl_wo_pcm/test.py eval_cal_ciou(thres=0.5) + utils.testset_gt"),
    "dsol-solo": Protocol("dsol-solo", _dsol(0.1, False), "dsol", False, "iou@0.5", _FORMATS_DSOL,
                          f"{_DSOL} music-exp/tools.py cal_ciou, the map min-max normalised first"),
    "dsol-multi": Protocol("dsol-multi", _dsol(0.5, False), "dsol", True, "iou@0.5", _FORMATS_DSOL,
                           f"{_DSOL} music-exp/eval.py (MUSIC-Synthetic), the map min-max normalised first"),
    "dsol-duet": Protocol("dsol-duet", _dsol(0.2, False), "dsol", True, "iou@0.5", _FORMATS_DSOL,
                          f"{_DSOL} music-exp/eval_duet.py (MUSIC-duet), the map min-max normalised first"),
    "dsol-solo-raw": Protocol("dsol-solo-raw", _dsol(0.1, True), "dsol", False, "iou@0.5", _FORMATS_DSOL,
                              f"{_DSOL} music-exp/tools.py cal_ciou"),
    "dsol-multi-raw": Protocol("dsol-multi-raw", _dsol(0.5, True), "dsol", True, "iou@0.5", _FORMATS_DSOL,
                               f"{_DSOL} music-exp/eval.py (MUSIC-Synthetic)"),
    "dsol-duet-raw": Protocol("dsol-duet-raw", _dsol(0.2, True), "dsol", True, "iou@0.5", _FORMATS_DSOL,
                              f"{_DSOL} music-exp/eval_duet.py (MUSIC-duet)"),
}


def get_protocol(name: str) -> Protocol:
    """The named protocol, or an SSLPropError listing the names."""
    if name not in PROTOCOLS:
        raise SSLPropError(f"--protocol {name}: unknown protocol (one of {', '.join(PROTOCOLS)})")
    return PROTOCOLS[name]
