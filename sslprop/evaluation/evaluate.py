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

This module is the entry: `evaluate` (the whole of ``eval`` as a function), what a ``--method`` predicts
(`method_predictions`), and the command line. The work is done in `sslprop.evaluation.annotated` (annotations ->
the scored frames), `sslprop.evaluation.scoring` (per-frame values, the report, the paired comparison) and
`sslprop.evaluation.report` (the plain-text table).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from typing import Any

from sslprop.argtypes import nonnegative_int, positive_int
from sslprop.data.annotations import read_id_list
from sslprop.data.predfiles import Predictions, load_predictions
from sslprop.errors import SSLPropError
from sslprop.evaluation import metrics
from sslprop.evaluation.annotated import FORMATS, Annotated, detect_format, load_annotated, restrict_to_ids
from sslprop.evaluation.bootstrap import settings as _ci_settings
from sslprop.evaluation.coco import write_coco
from sslprop.evaluation.floors import FLOORS, TWO_REGION_FLOORS, floor_predictions
from sslprop.evaluation.onscreen import format_onscreen_report, onscreen_report
from sslprop.evaluation.prior import CEILINGS, PRIOR_METHODS, ceiling_maps, visual_prior
from sslprop.evaluation.report import RATES, format_report
from sslprop.evaluation.scoring import compare_scored, per_frame, read_confidence, score_frames, summarise_scored
from sslprop.utils import atomic_write_json

REFERENCE_METHODS = FLOORS + TWO_REGION_FLOORS + PRIOR_METHODS + CEILINGS  # what --method scores without a predictions file


def method_predictions(method: str, annotated: Annotated, protocol: metrics.Protocol, annotations: str | os.PathLike, fmt: str,
                       split: str = "test", seed: int = 0, visual_weights: str | os.PathLike | None = None) -> Predictions:
    """The predictions of a `--method` (`REFERENCE_METHODS`) on the annotated frames, made here without a predictions file.

    - a floor of `sslprop.evaluation.floors`: boxes (``two-halves``: two boxes, multi-source protocols only);
    - ``visual-prior`` / ``visual-prior-box``: the audio-free visual prior's map / best proposal
      (`sslprop.evaluation.prior.visual_prior`, sslprop data sets only: it reads the frames and their proposals);
    - ``ceiling`` / ``ceiling-grid`` / ``ceiling-ranked``: the ground-truth mask as a map, at the frame's
      resolution / as a stride-8 map draws it / over a vanishing, non-flat background
      (`sslprop.evaluation.prior.ceiling_maps`).
    The scored frames' predictions, and those of the off-screen frames (the non-visible samples of ``--extended``).
    """
    if method not in REFERENCE_METHODS:
        raise SSLPropError(f"--method {method}: unknown (one of {', '.join(REFERENCE_METHODS)})")
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
        return Predictions("maps", ceiling_maps(frames, method), f"{method}: {what}, read out as a map")
    if fmt != "sslprop":
        raise SSLPropError(f"--method {method}: reads the frames of an sslprop data set; {fmt} annotations have none here")
    keys = [it.key for it in annotated.items] + list(annotated.excluded.get("offscreen", []))
    vp = visual_prior(annotations, split, keys, visual_weights)
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
    extended evaluation when asked, see `sslprop.evaluation.scoring.score`).

    extended: {"ciou_threshold": T, "confidence": "auto" | "top-quarter" | "d_on" | path of an onscreen.json}.
    compare: a second predictions file scored on the same frames; adds "compare" (its rates) and
    "paired" (`scoring.compare_scored`: A - B with paired bootstrap intervals, `ci`'s settings or the defaults).
    coco: a folder for `sslprop.evaluation.coco.write_coco` (box predictions only); adds "coco" (the paths).
    frames: adds "frames", the per-frame values behind the rates (`scoring.per_frame`).
    visual_weights: the SmallVisual weight file of ``visual-prior`` / ``visual-prior-box`` (default: the shipped one).
    """
    if (predictions is None) == (method is None):
        raise SSLPropError("give exactly one of --predictions PATH or --method {" + ",".join(REFERENCE_METHODS) + "}")
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
    report = summarise_scored(annotated, preds, proto, sa, missing, ci, t, spec or "")
    if frames:
        report["frames"] = per_frame(sa)
    if compare is not None:
        other = load_predictions(compare)
        sb = score_frames(annotated, other, proto, size, missing, pointing, None if spec is None else read_confidence(spec, compare))
        rb = summarise_scored(annotated, other, proto, sb, missing, None, t, spec or "")
        report["compare"] = {k: rb[k] for k in ("predictions", "kind", "n", *RATES, f"ap@{t:g}", f"max_f1@{t:g}") if k in rb}
        both_boxes = preds.kind == "boxes" and other.kind == "boxes"
        report["paired"] = compare_scored(sa, sb, proto, both_boxes, ci, None if spec is None else t)
        report["paired_settings"] = {**_ci_settings(ci), "difference": "first - second (--predictions/--method minus --compare)"}
    if coco is not None:
        paths = write_coco(coco, {it.key: (it.width, it.height, it.gt_boxes) for it in annotated.items}, preds.data)
        report["coco"] = {**paths, "images": len(annotated.items)}
    return report



def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m sslprop eval`."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--predictions", metavar="PATH", help="maps (.npz, or a folder of <key>.npy) or boxes (.json {key: [[x1,y1,x2,y2,score],...]})")
    what.add_argument("--method", choices=REFERENCE_METHODS, metavar="METHOD", help="score, instead of predictions, what needs no trained "
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
        atomic_write_json(args.output, report)
    print(json.dumps(report, sort_keys=True) if args.json else text(report))
    return 0
