"""`python -m sslprop eval`: score predictions, or a floor, against native or sslprop annotations under a named protocol.

Usage::

    python -m sslprop eval --method full-frame --annotations vggss.json --format vggss --protocol lvs --json
    python -m sslprop eval --predictions run/predictions.npz --annotations data/scenes --protocol lvs
    python -m sslprop eval --predictions boxes.json --annotations music_solotest.json --format music --protocol dsol-solo
    python -m sslprop eval --predictions run/boxes.json --annotations data/scenes --protocol lvs --extended --pointing --ci
    python -m sslprop eval --predictions a/boxes.json --compare b/boxes.json --annotations data/scenes --protocol lvs --coco coco/

Annotations (``--format``): ``flickr`` (a folder of Flickr-SoundNet ``<id>.xml``),
``vggss`` (``vggss.json``), ``music`` (DSOL ``solotest.json`` / ``duettest.json``),
``audioset-instrument`` (DSOL ``audioset_box.json``) or ``sslprop`` (a data set folder;
``--split`` picks the split, default ``test``). Without ``--format`` it is guessed from the
path. Protocols: see `sslprop.evaluation.metrics` (lvs, ezvsl, sspl for Flickr / VGG-SS / sslprop;
dsol-solo, dsol-multi, dsol-duet for MUSIC / AudioSet-instrument / sslprop, the map min-max
normalised before DSOL's threshold; dsol-solo-raw, dsol-multi-raw, dsol-duet-raw: DSOL's code
exactly, on the raw map). The multi-source protocols report DSOL's ``ciou@0.3`` and ``auc``
beside ``iou@0.5``; there a single map is read out as two regions (`metrics.two_regions`).

``--method`` scores what needs no trained model (`method_predictions`): the floors ``full-frame``,
``center``, ``random-box`` (`sslprop.evaluation.floors`) and ``two-halves`` (two boxes, for the
multi-source protocols); the audio-free floor ``visual-prior`` (a map: the frozen visual encoder's
saliency) and ``visual-prior-box`` (its best Selective Search proposal), on an sslprop data set,
from the shipped encoder or ``--visual-weights FILE``; the ceilings ``ceiling`` (the ground-truth
mask read out as a map), ``ceiling-grid`` (that mask as a stride-8 map draws it) and
``ceiling-ranked`` (that mask over a vanishing background: a perfect order without a flat
background, which lvs's median threshold caps) (`sslprop.evaluation.prior`).

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

Beyond cIoU (single-source protocols; see docs/design.md, section 6):

- ``--extended``: SLAVC's extended evaluation (`sslprop.evaluation.extended`): ``ap@T`` and ``max_f1@T``
  (T = ``--extended-ciou``, default 0.5) from a per-sample confidence, the off-screen frames of an
  sslprop data set counted as its non-visible samples (false positives when detected) instead of
  excluded; ``--confidence`` auto (the top box's score / the map's maximum), top-quarter (maps: the
  mean of the top quarter of the grid map, SLAVC's), d_on (``onscreen.json`` beside the predictions)
  or the path of an onscreen.json. Details under the report's "extended".
- ``--pointing``: the pointing game (`sslprop.evaluation.pointing`): ``pointing``, the rate of frames
  whose map peak or best box centre lies inside any ground-truth box.
- ``--coco DIR``: box predictions and ground truth as COCO files for pycocotools (`sslprop.evaluation.coco`).
- ``--compare B``: B scored on the same frames, and "paired": {metric: {difference, low, high, resolved}},
  the paired bootstrap of A - B (`sslprop.evaluation.bootstrap.paired_difference`); different frame sets
  are refused.

With ``--ci`` every reported rate, these included, gets a 95 % bootstrap interval.

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

from sslprop.cli import nonnegative_int, positive_int
from sslprop.data.annotations import Problem, match_ids, read_annotations, read_id_list, summarise_problems
from sslprop.errors import SSLPropError
from sslprop.evaluation import metrics
from sslprop.evaluation.bootstrap import settings as _ci_settings
from sslprop.evaluation.floors import FLOORS, TWO_REGION_FLOORS, floor_predictions
from sslprop.evaluation.predfiles import Predictions, frame_key, load_predictions
from sslprop.evaluation.prior import CEILINGS, PRIOR_METHODS

FORMATS = ("sslprop", "flickr", "vggss", "music", "audioset-instrument")
METHODS = FLOORS + TWO_REGION_FLOORS + PRIOR_METHODS + CEILINGS  # what --method scores without a predictions file
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
    known = {it.key for it in annotated.items} | {k for ks in annotated.excluded.values() for k in ks}
    ids, loose = match_ids(list(ids), known)  # a bare YouTube id <-> a VGGSound clip id, when unambiguous
    if loose:
        source = f"{source} ({loose} matched by YouTube id)"
    keep = set(ids)
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
    from sslprop.evaluation.predfiles import read_onscreen

    records = read_onscreen(folder) if path is None or path.name == "onscreen.json" else None
    if records is None:
        from sslprop.data.annotations import load_json

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
    from sslprop.evaluation import extended

    if pred is None:
        return -math.inf
    if isinstance(rule, Mapping):
        if key not in rule:
            raise SSLPropError(f"--confidence: the onscreen.json has no d_on for frame {key!r}")
        return rule[key]
    if kind == "boxes":
        if rule != "auto":
            raise SSLPropError(f"--confidence {rule}: for map predictions only (boxes use the top box's score)")
        return extended.box_confidence(pred)
    m = pred if pred.ndim == 2 else pred[0]
    return extended.map_confidence(m if rule == "auto" else protocol.resize(m, size), "max" if rule == "auto" else rule)


def score_frames(annotated: Annotated, predictions: Predictions, protocol: metrics.Protocol, size: int = metrics.GRID,
                 missing: str = "fail", pointing: bool = False, confidence: str | Mapping[str, float] | None = None) -> Scored:
    """The per-frame values of `predictions` on `annotated` (see `Scored`).

    pointing: also play the pointing game (`sslprop.evaluation.pointing`; single-source protocols).
    confidence: also the extended evaluation's confidences (`read_confidence`), of the scored frames and of
    the off-screen frames (``excluded["offscreen"]``), which become its non-visible samples.
    """
    from sslprop.evaluation import pointing as pointing_game

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
    from sslprop.evaluation import extended

    def pick(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        i = idx.astype(np.int64)
        return visible[i], cious[i], conf[i]

    return {f"ap@{t:g}": lambda idx: extended.average_precision(*pick(idx), t),
            f"max_f1@{t:g}": lambda idx: extended.max_f1(*pick(idx), t)[0]}


def summarise(annotated: Annotated, predictions: Predictions, protocol: metrics.Protocol, s: Scored, missing: str = "fail",
              ci: Mapping[str, Any] | None = None, extended_ciou: float = 0.5, confidence_name: str = "") -> dict[str, Any]:
    """The report (a JSON-able dict) of the per-frame values `s` (see `score` for its keys)."""
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
        from sslprop.evaluation import extended

        ekeys, visible, ecious, conf = _extended_columns(s)
        scores = extended.extended_scores(visible, ecious, conf, extended_ciou)
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
        from sslprop.evaluation.bootstrap import bootstrap_intervals

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
    report = summarise(annotated, predictions, protocol, s, missing, ci, t, name)
    if frames:
        report["frames"] = per_frame(s)
    return report


def paired(a: Scored, b: Scored, protocol: metrics.Protocol, both_boxes: bool, ci: Mapping[str, Any] | None = None,
           extended_ciou: float | None = None) -> dict[str, dict[str, float | bool]]:
    """{metric: {"difference", "low", "high", "resolved"}}: A - B with its paired bootstrap interval (`bootstrap.paired_difference`).

    Metrics: the headline rate and auc (and ciou@0.3 under a multi-source protocol), box_iou@0.5 when both are boxes, pointing when both played it, and
    ap@T / max_f1@T when the extended evaluation ran. A and B must score the same frames (else an SSLPropError).
    """
    from sslprop.evaluation.bootstrap import paired_difference

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


def method_predictions(method: str, annotated: Annotated, protocol: metrics.Protocol, annotations: str | os.PathLike, fmt: str,
                       split: str = "test", seed: int = 0, visual_weights: str | os.PathLike | None = None) -> Predictions:
    """The predictions of a `--method` (`METHODS`) on the annotated frames, made here without a predictions file.

    - a floor of `sslprop.evaluation.floors`: boxes (``two-halves``: two boxes, multi-source protocols only);
    - ``visual-prior`` / ``visual-prior-box``: the audio-free visual prior's map / best proposal
      (`sslprop.evaluation.prior.visual_prior`, sslprop data sets only: it reads the frames and their proposals);
    - ``ceiling`` / ``ceiling-grid`` / ``ceiling-ranked``: the ground-truth mask as a map, at the frame's
      resolution / as a stride-8 map draws it / over a vanishing, non-flat background
      (`sslprop.evaluation.prior.ceiling_maps`).
    The scored frames' predictions, and those of the off-screen frames (the non-visible samples of ``--extended``).
    """
    from sslprop.evaluation import prior

    if method not in METHODS:
        raise SSLPropError(f"--method {method}: unknown (one of {', '.join(METHODS)})")
    if method in TWO_REGION_FLOORS and not protocol.multi:
        raise SSLPropError(f"--method {method}: a two-region floor, for the multi-source protocols "
                           f"({', '.join(n for n, p in metrics.PROTOCOLS.items() if p.multi)}); not {protocol.name}")
    if visual_weights is not None and method not in PRIOR_METHODS:
        raise SSLPropError("--visual-weights: only with --method visual-prior or visual-prior-box")
    if method in FLOORS + TWO_REGION_FLOORS:
        sizes = {it.key: (it.width, it.height) for it in annotated.items}
        return Predictions("boxes", floor_predictions(method, sizes, seed), f"floor:{method}" + (f" (seed {seed})" if method == "random-box" else ""))
    if method in CEILINGS:
        frames = {it.key: (it.gt_boxes, it.width, it.height, it.gt_rule == "consensus") for it in annotated.items}
        what = {"ceiling": "the ground-truth mask at the frame's resolution",
                "ceiling-grid": "the ground-truth mask on the stride-8 grid of the cpu model's input, upsampled bilinearly",
                "ceiling-ranked": "the ground-truth mask at the frame's resolution over a vanishing background that falls "
                                  "with the distance to it (a perfect pixel order without a flat background)"}[method]
        return Predictions("maps", prior.ceiling_maps(frames, method), f"{method}: {what}, read out as a map")
    if fmt != "sslprop":
        raise SSLPropError(f"--method {method}: reads the frames of an sslprop data set; {fmt} annotations have none here")
    keys = [it.key for it in annotated.items] + list(annotated.excluded.get("offscreen", []))
    vp = prior.visual_prior(annotations, split, keys, visual_weights)
    if method == "visual-prior":
        return Predictions("maps", vp.maps, vp.source)
    return Predictions("boxes", vp.boxes, vp.box_source)


def evaluate(annotations: str | os.PathLike, protocol: str, predictions: str | os.PathLike | None = None, method: str | None = None,
             fmt: str | None = None, split: str = "test", frame_size: tuple[float, float] = (metrics.GRID, metrics.GRID),
             seed: int = 0, missing: str = "fail", ids: str | os.PathLike | None = None, size: int = metrics.GRID,
             ci: Mapping[str, Any] | None = None, pointing: bool = False, extended: Mapping[str, Any] | None = None,
             compare: str | os.PathLike | None = None, coco: str | os.PathLike | None = None, frames: bool = False,
             visual_weights: str | os.PathLike | None = None) -> dict[str, Any]:
    """The whole of `eval` as a function: read annotations (optionally only the ids listed in
    `ids`), load predictions or make those of a `--method` (`method_predictions`: a floor, the visual
    prior, a ceiling), score (with bootstrap intervals when `ci` is given, the pointing game and the
    extended evaluation when asked, see `score`).

    extended: {"ciou_threshold": T, "confidence": "auto" | "top-quarter" | "d_on" | path of an onscreen.json}.
    compare: a second predictions file scored on the same frames; adds "compare" (its rates) and
    "paired" (`paired`: A - B with paired bootstrap intervals, `ci`'s settings or the defaults).
    coco: a folder for `sslprop.evaluation.coco.write_coco` (box predictions only); adds "coco" (the paths).
    frames: adds "frames", the per-frame values behind the rates (`per_frame`).
    visual_weights: the SmallVisual weight file of ``visual-prior`` / ``visual-prior-box`` (default: the shipped one).
    """
    if (predictions is None) == (method is None):
        raise SSLPropError("give exactly one of --predictions PATH or --method {" + ",".join(METHODS) + "}")
    if method is None and visual_weights is not None:
        raise SSLPropError("--visual-weights: only with --method visual-prior or visual-prior-box")
    proto = metrics.get_protocol(protocol)
    fmt = fmt or detect_format(annotations)
    annotated = load_annotated(annotations, fmt, proto, split, frame_size, size)
    if ids is not None:
        annotated = restrict_to_ids(annotated, read_id_list(ids), str(ids))
    if method is not None:
        preds = method_predictions(method, annotated, proto, annotations, fmt, split, seed, visual_weights)
    else:
        preds = load_predictions(predictions)
    if coco is not None and preds.kind != "boxes":
        raise SSLPropError(f"--coco: exports box predictions; {preds.source} holds maps")
    t, spec = 0.5, None
    if extended is not None:
        t = float(extended.get("ciou_threshold", 0.5))
        if not 0.0 < t <= 1.0:
            raise SSLPropError(f"--extended-ciou {t:g}: must lie in (0, 1]")
        spec = str(extended.get("confidence", "auto"))
    sa = score_frames(annotated, preds, proto, size, missing, pointing, None if spec is None else read_confidence(spec, predictions))
    report = summarise(annotated, preds, proto, sa, missing, ci, t, spec or "")
    if frames:
        report["frames"] = per_frame(sa)
    if compare is not None:
        other = load_predictions(compare)
        sb = score_frames(annotated, other, proto, size, missing, pointing, None if spec is None else read_confidence(spec, compare))
        rb = summarise(annotated, other, proto, sb, missing, None, t, spec or "")
        report["compare"] = {k: rb[k] for k in ("predictions", "kind", "n", *RATES, f"ap@{t:g}", f"max_f1@{t:g}") if k in rb}
        report["paired"] = paired(sa, sb, proto, preds.kind == "boxes" and other.kind == "boxes", ci, None if spec is None else t)
        report["paired_settings"] = {**_ci_settings(ci), "difference": "first - second (--predictions/--method minus --compare)"}
    if coco is not None:
        from sslprop.evaluation.coco import write_coco

        paths = write_coco(coco, {it.key: (it.width, it.height, it.gt_boxes) for it in annotated.items}, preds.data)
        report["coco"] = {**paths, "images": len(annotated.items)}
    return report


# --------------------------------------------------------------------------- tables


RATES = ("ciou@0.5", "ciou@0.3", "iou@0.5", "box_iou@0.5", "auc", "mean_ciou", "silent", "pointing")


def format_report(report: Mapping[str, Any]) -> str:
    """A short plain-text table of one report."""
    rates = [k for k in RATES if k in report]
    ext = report.get("extended")
    if ext:
        rates += [f"ap@{ext['ciou_threshold']:g}", f"max_f1@{ext['ciou_threshold']:g}"]
    lines = [
        f"protocol     {report['protocol']}",
        f"annotations  {report['annotations']}",
        f"predictions  {report['predictions']} ({report['kind']})",
        f"n            {report['n']}",
    ]
    if "map_readout" in report:
        lines.append(f"read-out     {report['map_readout']}")
    ci = report.get("ci", {})
    for k in rates:
        v = report[k]
        band = f"  [{ci[k][0]:.4f}, {ci[k][1]:.4f}]" if k in ci else ""
        lines.append(f"{k:<12} {'-' if v is None else f'{v:.4f}'}{band}")
    if ext:
        lines.append(f"extended     SLAVC AP / max-F1 at cIoU >= {ext['ciou_threshold']:g}, confidence {ext['confidence']}: {ext['n']} samples "
                     f"({ext['n_visible']} visible, {ext['n_nonvisible']} not), max-F1 at confidence >= {ext['f1_confidence']:.4g}, "
                     f"precision {ext['precision']:.4f}" + (f", {ext['missing_nonvisible']} non-visible without prediction"
                                                           if ext["missing_nonvisible"] else ""))
    if ci:
        s = report["ci_settings"]
        lines.append(f"intervals    {100 * s['level']:g} % bootstrap, {s['resamples']} resamples of samples, seed {s['seed']}")
    if "paired" in report:
        c, s = report["compare"], report["paired_settings"]
        lines.append(f"compare      {c['predictions']} ({c['kind']}): " + ", ".join(f"{k} {c[k]:.4f}" for k in report["paired"] if c.get(k) is not None))
        for k, d in report["paired"].items():
            lines.append(f"{'  ' + k:<12} A - B {d['difference']:+.4f}  [{d['low']:+.4f}, {d['high']:+.4f}]"
                         + ("  resolved" if d["resolved"] else "  not resolved"))
        lines.append(f"paired       {100 * s['level']:g} % paired bootstrap, {s['resamples']} resamples of samples, seed {s['seed']}")
    if "coco" in report:
        lines.append(f"coco         {report['coco']['images']} images: {report['coco']['ground_truth']}, {report['coco']['detections']}")
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
    what.add_argument("--method", choices=METHODS, metavar="METHOD", help="score, instead of predictions, what needs no trained "
                      "model: the floors full-frame, center, random-box (one box per frame), two-halves (the left and right "
                      "halves, two boxes: multi-source protocols); the audio-free floor visual-prior (the frozen visual "
                      "encoder's saliency, mean |activation| over channels, as a map) and visual-prior-box (its best Selective "
                      "Search proposal; both sslprop data sets only); the ceilings ceiling (the ground-truth mask at the frame's "
                      "resolution, read out as a map), ceiling-grid (that mask as a stride-8 map of the cpu model's 96 px "
                      "input draws it) and ceiling-ranked (that mask over a vanishing background falling with the distance "
                      "to it: a perfect pixel order without ties, what lvs's median threshold allows a model's map)")
    what.add_argument("--onscreen", metavar="DIR", help="a predictions folder with onscreen.json: Table 1 (m_on, d_on, their OR) "
                      "and ROC AUCs against the on/off-screen labels of the sslprop data set --annotations (no --protocol)")
    parser.add_argument("--annotations", required=True, metavar="PATH", help="annotation file/folder, or an sslprop data set folder")
    parser.add_argument("--format", choices=FORMATS, default=None, help="annotation format (default: guessed from PATH)")
    parser.add_argument("--protocol", choices=list(metrics.PROTOCOLS), metavar="PROTOCOL", help="evaluation protocol "
                        "(sslprop.evaluation.metrics), needed unless --onscreen: lvs, ezvsl, sspl; dsol-solo, dsol-multi, "
                        "dsol-duet (DSOL's thresholds on the map min-max normalised first, as lvs/ezvsl/sspl do); "
                        "dsol-solo-raw, dsol-multi-raw, dsol-duet-raw (DSOL's code exactly: the raw map). The multi-source "
                        "ones report ciou@0.3 and auc (DSOL's) beside iou@0.5, and read a single map as two regions")
    parser.add_argument("--split", default="test", choices=["train", "test", "all"], help="sslprop data sets: which split to score (default test)")
    parser.add_argument("--frame-size", nargs=2, type=float, default=[metrics.GRID, metrics.GRID], metavar=("W", "H"),
                        help="pixel size of the frames of box predictions on VGG-SS / AudioSet-instrument (default 224 224)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the random-box floor (default 0)")
    parser.add_argument("--visual-weights", metavar="FILE", help="--method visual-prior / visual-prior-box: a SmallVisual "
                        "weight file (default: the shipped sslprop/weights/small_visual.pt)")
    parser.add_argument("--ids", metavar="FILE", help="score only the ids listed in FILE (a test list such as flickr_test.csv); others are counted as outside")
    parser.add_argument("--missing", choices=["fail", "skip"], default="fail", help="ids without a prediction: score as cIoU 0 (default) or leave out of n")
    parser.add_argument("--ci", action="store_true", help="95 %% bootstrap intervals of every rate (samples resampled, seeded); with --onscreen, "
                        "of the accuracies and ROC AUCs, and the paired differences of the OR criterion")
    parser.add_argument("--resamples", type=positive_int, default=1000, help="bootstrap resamples with --ci or --compare (default 1000)")
    parser.add_argument("--ci-seed", type=nonnegative_int, default=0, help="seed of the bootstrap with --ci or --compare (default 0)")
    parser.add_argument("--pointing", action="store_true", help="add the pointing game: the rate of frames whose map peak "
                        "(after the protocol's resize) or best box centre lies inside any ground-truth box")
    parser.add_argument("--extended", action="store_true", help="add SLAVC's extended evaluation: AP and max-F1 of localisation "
                        "with a per-sample confidence, off-screen frames of an sslprop data set as the non-visible samples")
    parser.add_argument("--extended-ciou", type=float, default=0.5, metavar="T", help="--extended: the cIoU threshold of a true positive (default 0.5)")
    parser.add_argument("--confidence", default="auto", metavar="RULE", help="--extended: the per-sample confidence: auto (the top "
                        "box's score, the map's maximum; default), top-quarter (maps: SLAVC's mean of the top quarter of the grid map), "
                        "d_on (the onscreen.json beside --predictions) or the path of an onscreen.json")
    parser.add_argument("--compare", metavar="PATH", help="second predictions scored on the same frames: adds the paired bootstrap "
                        "of first - second (headline rate, auc, box_iou@0.5 when both are boxes, pointing / AP / max-F1 when asked)")
    parser.add_argument("--coco", metavar="DIR", help="box predictions: also write DIR/detections.json (COCO results) and "
                        "DIR/ground_truth.json (COCO annotations, file_name = the key) for pycocotools' COCOeval")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--output", metavar="FILE", help="also write the JSON report to FILE")


def main(args: argparse.Namespace) -> int:
    """Run `eval` and print the report."""
    if args.onscreen:
        from sslprop.evaluation.onscreen import format_onscreen_report, onscreen_report

        given = [flag for flag, value in (("--protocol", args.protocol), ("--format", args.format), ("--ids", args.ids),
                                          ("--compare", args.compare), ("--coco", args.coco), ("--pointing", args.pointing),
                                          ("--extended", args.extended), ("--visual-weights", args.visual_weights)) if value]
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
        if not args.extended and (args.confidence != "auto" or args.extended_ciou != 0.5):
            raise SSLPropError("--confidence / --extended-ciou: only with --extended")
        report = evaluate(args.annotations, args.protocol, predictions=args.predictions, method=args.method, fmt=args.format,
                          split=args.split, frame_size=(w, h), seed=args.seed, missing=args.missing, ids=args.ids,
                          ci={"resamples": args.resamples, "seed": args.ci_seed} if args.ci else None, pointing=args.pointing,
                          extended={"ciou_threshold": args.extended_ciou, "confidence": args.confidence} if args.extended else None,
                          compare=args.compare, coco=args.coco, visual_weights=args.visual_weights)
        text = format_report
    if args.output:
        from sslprop.utils import atomic_write_json

        atomic_write_json(args.output, report)
    print(json.dumps(report, sort_keys=True) if args.json else text(report))
    return 0
