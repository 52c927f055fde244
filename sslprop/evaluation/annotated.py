"""Annotations -> the frames that `sslprop eval` scores: read any supported format (or guess it from the path), turn its
records into `EvalItem`s under a protocol's ground-truth rule, and keep only a benchmark's test list (`restrict_to_ids`).

Formats (`FORMATS`): ``sslprop`` (a data set folder, one split), and the native ``flickr``, ``vggss``, ``music`` and
``audioset-instrument`` files read by `sslprop.data.annotations`. An item's key is the prediction key of the frame (the
contract is in `sslprop.evaluation.evaluate`). Boxes of an sslprop frame partly outside it are clipped, wholly outside
dropped (`clip_to_frame`), each noted as a problem; what is not scored is counted by reason in `Annotated.excluded`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sslprop.data.annotations import Problem, load_json, match_ids, read_annotations
from sslprop.data.format import frame_key, read_info, read_manifest
from sslprop.errors import SSLPropError
from sslprop.evaluation import metrics

FORMATS = ("sslprop", "flickr", "vggss", "music", "audioset-instrument")


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

    key:          the prediction key (the contract: `sslprop.evaluation.evaluate`)
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


def items_from_native(anns: Mapping[str, Any], fmt: str, protocol: metrics.Protocol, frame_size: tuple[float, float],
                      size: int = metrics.GRID) -> tuple[list[EvalItem], dict[str, list[str]]]:
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
                        lambda io: metrics.xyxy_to_normxywh(io[1].box, w, h))  # noqa: B023  (called at once, inside the iteration)
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
