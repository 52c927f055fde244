"""Tables 2, 3 and 4 of the paper: each method trained, predicted and scored end to end through the cached workflow.

A notebook builds one `Setup` from its parameters and asks for a table:

    setup = Setup(data_root, runs_root, budget, seed, profile, device)
    records = table2_records(setup)          # every method and floor on solo, mosaic and scenes
    rows = table2_rows(records)              # one row per method and paradigm, in percent, with intervals
    viz.paper_beside(rows, PAPER_TABLE2, "method", TABLE2_COLUMNS)
    paired(record(records, method="ours", preset="scenes"), record(records, method="attention", view="map", preset="scenes"))

Every run goes through `workflow.ensure_run` (trained once, shared with the other notebooks:
the `ours` run on `scenes` with no overrides is the main run of notebooks 02-08), every
prediction through `workflow.ensure_predictions`, and every score through
`sslprop.evaluation.evaluate.evaluate` on the data set's test split under the protocol that the paper's
column uses (`PRESET_PROTOCOL`). Rates are fractions in [0, 1] in records and percent (as the
paper prints them) in table rows. Every score carries its 95 % bootstrap interval over the test
samples (`CI`; columns "<column> low" / "<column> high") and its per-frame values, so that two
methods scored on the same frames are compared by a paired bootstrap (`paired`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sslprop.data.format import read_manifest
from sslprop.data.predfiles import check_member
from sslprop.errors import SSLPropError
from sslprop.evaluation import metrics
from sslprop.evaluation.bootstrap import paired_difference
from sslprop.evaluation.evaluate import REFERENCE_METHODS, evaluate
from sslprop.evaluation.floors import FLOORS, TWO_REGION_FLOORS
from sslprop.evaluation.listening import PRIOR, listen
from sslprop.evaluation.metrics import get_protocol
from sslprop.lab import workflow as wf

# The paper's data sets and the embedded presets that stand in for them, with each column's protocol.
PRESET_PROTOCOL = {"solo": "dsol-solo", "mosaic": "dsol-multi", "scenes": "lvs"}
PRESET_PAPER = {"solo": "MUSIC-solo", "mosaic": "MUSIC-Synthetic", "scenes": "SSL (Flickr-SoundNet)"}
# Table 2's rows, in the paper's order: method name -> the paper's label; then the map methods that users of the
# field run today (EZ-VSL, ECCV'22; SLAVC, NeurIPS'22), not in the paper, trained and scored on the same terms.
METHOD_LABELS = {
    "pixelplayer": "PixelPlayer",
    "avol": "Objects-that-Sound",
    "attention": "Attention",
    "dmc": "DMC",
    "dsol": "AV-Matching",
    "lvs": "SS-Hard-Way",
    "ours": "Ours",
    "ezvsl": "EZ-VSL (not in the paper)",
    "ezvsl-ogl": "EZ-VSL + OGL (not in the paper)",
    "slavc": "SLAVC (not in the paper)",
}
PAPER_METHODS = ("pixelplayer", "avol", "attention", "dmc", "dsol", "lvs", "ours")  # the rows of the paper's Table 2
EXTRA_METHODS = ("ezvsl", "ezvsl-ogl", "slavc")  # rows not in the paper
# A row that is a method with settings: row key -> (method, overrides). EZ-VSL's object-guided localisation (OGL) with
# its paper's alpha 0.4: the same training, the map combined with the visual encoder's object prior at read-out.
ROW_RUNS = {"ezvsl-ogl": ("ezvsl", {"model.ogl_alpha": 0.4})}
# The references without a trained model that `score_floor` scores (`sslprop eval --method`): the floors, the
# audio-free visual prior (a floor: the frozen visual encoder's saliency) and the ground-truth ceilings.
FLOOR_LABELS = {
    "full-frame": "floor: full frame",
    "center": "floor: centre box",
    "random-box": "floor: random box",
    "two-halves": "floor: two halves",  # two boxes: multi-source protocols only
    "visual-prior": "floor: visual prior, no audio (map)",
    "visual-prior-box": "floor: visual prior, no audio (best proposal)",
    "ceiling": "ceiling: ground-truth mask as a map",
    "ceiling-grid": "ceiling: ground-truth mask on the stride-8 grid",
    "ceiling-ranked": "ceiling: ground-truth order, background not flat",
}
# mosaic (MUSIC-Synthetic, dsol-multi): DSOL's headline CIoU@0.3 first, the paper's IoU@0.5 kept beside it
TABLE2_COLUMNS = ("solo IoU@0.5", "solo AUC", "mosaic CIoU@0.3", "mosaic IoU@0.5", "mosaic AUC", "scenes cIoU@0.5", "scenes AUC")
BOX_FLOORS = ("full-frame", "center", "random-box", "two-halves")  # what a protocol gives for free ("every method beats the floors")
PRIORS = ("visual-prior", "visual-prior-box")  # the audio-free prior: "Ours beats the audio-free prior"
CEILINGS = ("ceiling-grid", "ceiling-ranked")  # the most a map can score under the protocol
TABLE_FLOORS = BOX_FLOORS + PRIORS + CEILINGS  # the reference rows of Tables 2 and 3
TABLE3_COLUMNS = ("cIoU@0.5", "AUC")

# Table 4: training samples drawn from Flickr-SoundNet; "—" in the paper is None here.
PAPER_TABLE4_SIZES = {"10k": 10_000, "50k": 50_000, "90k": 90_000, "144k": 144_000}
TABLE4_COLUMNS = ("cIoU@0.5 Attention", "cIoU@0.5 Ours", "AUC Attention", "AUC Ours")
# Table 3's variants of the main run (K = 20, scorer soft_iou, the default): the overrides of each.
TABLE3_RUNS = {
    "Ours (K=10)": {"model.k": 10},
    "Ours (K=20)": {},
    "Ours (K=30)": {"model.k": 30},
    "Ours - ProSelectNet": {"model.select_proposals": False, "train.lam": 0.0},  # as the paper defines it: L_tri alone
    "Ours - ProSelectNet (Ours' loss)": {"model.select_proposals": False},  # selection alone removed
    "Ours (scorer sum)": {"model.scorer": "sum"},
    "Ours (scorer mean)": {"model.scorer": "mean"},
}


@dataclass(frozen=True)
class Setup:
    """A notebook's parameters, passed to every experiment (see notebooks/README.md)."""

    data_root: str | os.PathLike
    runs_root: str | os.PathLike
    budget: str
    seed: int = 0
    profile: str = "cpu"
    device: str = "cpu"

    def data(self, preset: str) -> Path:
        """The preset's data set at this budget (`workflow.ensure_dataset`)."""
        return wf.ensure_dataset(preset, self.data_root, self.budget, self.seed)

    def run(self, method: str, data: str | os.PathLike, overrides: Mapping[str, Any] | None = None,
            log: Callable[[str], None] = lambda msg: None) -> Path:
        """`workflow.ensure_run` with this setup's budget, seed, profile and device."""
        return wf.ensure_run(method, data, self.runs_root, self.budget, self.seed, overrides=overrides,
                             profile=self.profile, device=self.device, log=log)

    def row_run(self, row: str, data: str | os.PathLike, log: Callable[[str], None] = lambda msg: None) -> Path:
        """The run of a Table 2 row key (`METHOD_LABELS`): the method itself, or its settings in `ROW_RUNS`."""
        method, overrides = ROW_RUNS.get(row, (row, None))
        return self.run(method, data, overrides, log)


# --------------------------------------------------------------------------------------- scoring


def prediction_file(predictions: str | os.PathLike, kind: str = "boxes", two_sources: bool = False) -> Path:
    """The file of a `sslprop predict` folder that a paradigm is scored on.

    kind "boxes": boxes.json (best box first), or two_sources.json with `two_sources`;
    kind "maps": maps.npz (the method's map, thresholded by the protocol).
    """
    if kind == "maps":
        if two_sources:
            raise SSLPropError("two_sources: only box predictions come as two sources (maps are scored as one map)")
        name = "maps.npz"
    elif kind == "boxes":
        name = "two_sources.json" if two_sources else "boxes.json"
    else:
        raise SSLPropError(f"kind {kind!r}: choose 'boxes' or 'maps'")
    path = Path(predictions) / name
    if not path.is_file():
        raise SSLPropError(f"{path}: no such prediction file (run `sslprop predict` first)")
    return path


CI = {"resamples": 1000, "seed": 0, "level": 0.95}  # the tables' bootstrap (`sslprop.evaluation.bootstrap`)


def summarise(report: Mapping[str, Any]) -> dict[str, Any]:
    """The few numbers of an `evaluate` report that the tables print.

    Returns protocol, kind, metric (the protocol's headline: ``iou@0.5`` or ``ciou@0.5``),
    rate (its value), auc and n (frames scored), rates as fractions; under a multi-source protocol
    also "ciou@0.3" (DSOL's headline there, beside its IoU@0.5); when the report has them,
    "rate low" / "rate high", "auc low" / "auc high" and "ciou@0.3 low" / "ciou@0.3 high" (its
    bootstrap intervals) and "frames" (the per-frame values, for `paired`).
    """

    headline = get_protocol(report["protocol"]).headline
    out = {"protocol": report["protocol"], "kind": report["kind"], "metric": headline,
           "rate": float(report[headline]), "auc": float(report["auc"]), "n": int(report["n"])}
    if "ciou@0.3" in report:
        out["ciou@0.3"] = float(report["ciou@0.3"])
    ci = report.get("ci", {})
    for name, key in (("rate", headline), ("auc", "auc"), ("ciou@0.3", "ciou@0.3")):
        if key in ci:
            out[f"{name} low"], out[f"{name} high"] = (float(v) for v in ci[key])
    if "frames" in report:
        out["frames"] = report["frames"]
    return out


def paired(a: Mapping[str, Any], b: Mapping[str, Any], metric: str = "rate", scale: float = 100.0,
           ci: Mapping[str, Any] = CI) -> dict[str, Any]:
    """Score `a` minus score `b` (two `summarise` results on the same test frames) with its paired bootstrap interval.

    metric: "rate" (the share with cIoU >= 0.5), "auc", or "ciou@0.3" (the share with cIoU >= 0.3, DSOL's
    multi-source rate). Returns {"difference", "low", "high", "resolved"} times `scale` (percent points):
    resolved when the interval excludes 0, i.e. the test frames tell the two apart.
    """

    stats = {"rate": lambda v: metrics.success_rate(v, 0.5), "auc": metrics.ciou_auc,
             "ciou@0.3": lambda v: metrics.success_curve(v)[6]}
    if metric not in stats:
        raise SSLPropError(f"metric {metric!r}: choose 'rate', 'auc' or 'ciou@0.3'")
    if "frames" not in a or "frames" not in b:
        raise SSLPropError("paired: both scores need their per-frame values (score with frames=True)")
    fa, fb = a["frames"], b["frames"]
    if fa["keys"] != fb["keys"]:
        raise SSLPropError(f"paired: the two were scored on different frames ({len(fa['keys'])} and {len(fb['keys'])})")
    d = paired_difference(fa["keys"], fa["ciou"], fb["ciou"], stats[metric], **dict(ci))
    return {"difference": scale * d["difference"], "low": scale * d["low"], "high": scale * d["high"], "resolved": d["resolved"]}


class Comparer:
    """Paired differences between the cells of a table: ``comparer((row_a, column_a), (row_b, column_b))`` -> `paired`.

    Built from a table's records by `table2_comparer`, `table3_comparer`, `table4_comparer`; the generated
    sentences (`sslprop.lab.sentences`) call it to say whether a difference is resolved by the test frames.
    """

    def __init__(self, cells: Mapping[tuple[str, str], tuple[Mapping[str, Any], str]], ci: Mapping[str, Any] = CI):
        self.cells, self.ci = dict(cells), ci

    def __call__(self, a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any] | None:
        """None when either cell is not in the table or was scored without its per-frame values."""
        if a not in self.cells or b not in self.cells:
            return None
        (ra, ma), (rb, mb) = self.cells[a], self.cells[b]
        if ma != mb or "frames" not in ra or "frames" not in rb:
            return None
        return paired(ra, rb, ma, ci=self.ci)


def score_predictions(predictions: str | os.PathLike, data: str | os.PathLike, protocol: str, kind: str = "boxes",
                      two_sources: bool = False) -> dict[str, Any]:
    """Score a `sslprop predict` folder on the test split of the sslprop data set `data` (see `summarise`), with intervals."""

    report = evaluate(data, protocol, predictions=prediction_file(predictions, kind, two_sources), fmt="sslprop", split="test",
                      ci=CI, frames=True)
    return summarise(report)


def score_run(run: str | os.PathLike, data: str | os.PathLike, protocol: str, kind: str = "boxes",
              two_sources: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Predict the test split of `data` with `run` (cached, `workflow.ensure_predictions`) and score it (see `summarise`)."""
    return score_predictions(wf.ensure_predictions(run, data, "test", device=device), data, protocol, kind, two_sources)


def score_floor(floor: str, data: str | os.PathLike, protocol: str, seed: int = 0,
                visual_weights: str | os.PathLike | None = None) -> dict[str, Any]:
    """A reference without a trained model (`FLOOR_LABELS`, `sslprop eval --method`) scored on the test split of `data`, with intervals.

    floor: a box floor of `sslprop.evaluation.floors` (``two-halves`` under multi-source protocols only), the
    audio-free ``visual-prior`` (its map) or ``visual-prior-box`` (its best proposal; `visual_weights`: another
    SmallVisual file than the shipped one), or a ceiling, ``ceiling`` / ``ceiling-grid`` (`sslprop.evaluation.prior`).
    """

    if floor not in REFERENCE_METHODS:
        raise SSLPropError(f"floor {floor!r}: unknown (choose from {', '.join(REFERENCE_METHODS)})")
    return summarise(evaluate(data, protocol, method=floor, fmt="sslprop", split="test", seed=seed, ci=CI, frames=True,
                              visual_weights=visual_weights))


def floors_for(protocol: str, floors: Sequence[str]) -> list[str]:
    """The references of `floors` that a protocol scores: the two-region floors only under a multi-source protocol."""

    multi = get_protocol(protocol).multi
    return [f for f in floors if multi or f not in TWO_REGION_FLOORS]


def cells(score: Mapping[str, Any], column: str, name: str = "rate", scale: float = 100.0) -> dict[str, Any]:
    """{column: value, "column low": ..., "column high": ...} of one score (times `scale`); the interval only when scored."""
    out = {column: scale * score[name]}
    if f"{name} low" in score:
        out[f"{column} low"], out[f"{column} high"] = scale * score[f"{name} low"], scale * score[f"{name} high"]
    return out


def views(method: str, preset: str) -> list[tuple[str, str, bool]]:
    """How a method is scored on a preset: (view, kind, two_sources) per view.

    ours: its boxes (its paradigm), the best box, or on `mosaic` the two best that do not overlap;
    a map-based method: its map (its paradigm; on `mosaic`, under dsol-multi, read out as two regions,
    `sslprop.evaluation.metrics.two_regions`) and, second, the box `predict` reads from the map.
    """
    if method == "ours":
        return [("boxes", "boxes", preset == "mosaic")]
    return [("map", "maps", False), ("map box", "boxes", False)]


# --------------------------------------------------------------------------------------- Table 2


def table2_records(setup: Setup, methods: Sequence[str] = tuple(METHOD_LABELS), presets: Sequence[str] = tuple(PRESET_PROTOCOL),
                   floors: Sequence[str] = FLOORS, log: Callable[[str], None] = lambda msg: None) -> list[dict[str, Any]]:
    """Train (cached), predict (cached) and score every method and floor on every preset.

    methods: row keys of `METHOD_LABELS` (the paper's methods, then EZ-VSL with and without OGL and SLAVC).
    floors: keys of `FLOOR_LABELS` (floors, the visual prior, ceilings); a two-region floor only on multi-source presets.

    Returns one record per (method or floor, view, preset): method, view ("boxes", "map",
    "map box" or "floor"), preset, plus the keys of `summarise`.
    """
    records = []
    for preset in presets:
        data = setup.data(preset)
        protocol = PRESET_PROTOCOL[preset]
        for method in methods:
            log(f"{preset}: {method}")
            run = setup.row_run(method, data)
            for view, kind, two in views(method, preset):
                records.append({"method": method, "view": view, "preset": preset,
                                **score_run(run, data, protocol, kind, two, setup.device)})
        for floor in floors_for(protocol, floors):
            records.append({"method": floor, "view": "floor", "preset": preset, **score_floor(floor, data, protocol, setup.seed)})
    return records


def row_label(method: str, view: str) -> str:
    """Table 2's row label: the paper's name for a method's own paradigm, a suffix for the second view."""
    if view == "floor":
        return FLOOR_LABELS[method]
    label = METHOD_LABELS.get(method, method)
    return label + (", map box (T = 0.5)" if view == "map box" else "")


def table2_rows(records: Sequence[Mapping[str, Any]], scale: float = 100.0) -> list[dict[str, Any]]:
    """Records of `table2_records` -> one row per method and view with `TABLE2_COLUMNS` (times `scale`).

    Row order: methods in the paper's order, each method's own paradigm first, then the floors.
    A preset that was not scored leaves its two columns None. A score with an interval also fills
    "<column> low" and "<column> high" (`cells`).
    """
    rows: dict[str, dict[str, Any]] = {}
    for r in records:
        label = row_label(r["method"], r["view"])
        row = rows.setdefault(label, {"method": label, **{c: None for c in TABLE2_COLUMNS}})
        rate_col = f"{r['preset']} {'cIoU@0.5' if r['metric'] == 'ciou@0.5' else 'IoU@0.5'}"
        row.update(cells(r, rate_col, "rate", scale))
        row.update(cells(r, f"{r['preset']} AUC", "auc", scale))
        if "ciou@0.3" in r:  # multi-source: DSOL's headline
            row.update(cells(r, f"{r['preset']} CIoU@0.3", "ciou@0.3", scale))
    order = {row_label(m, v): i for i, (m, v) in enumerate(
        [(m, v) for m in METHOD_LABELS for v in ("boxes", "map", "map box")] + [(f, "floor") for f in FLOOR_LABELS])}
    return sorted(rows.values(), key=lambda row: order.get(row["method"], len(order)))


def table2_comparer(records: Sequence[Mapping[str, Any]]) -> Comparer:
    """A `Comparer` over the rows (`row_label`) and columns (`TABLE2_COLUMNS`) of `table2_rows(records)`."""
    cells = {}
    for r in records:
        label = row_label(r["method"], r["view"])
        cells[(label, f"{r['preset']} {'cIoU@0.5' if r['metric'] == 'ciou@0.5' else 'IoU@0.5'}")] = (r, "rate")
        cells[(label, f"{r['preset']} AUC")] = (r, "auc")
        if "ciou@0.3" in r:
            cells[(label, f"{r['preset']} CIoU@0.3")] = (r, "ciou@0.3")
    return Comparer(cells)


# --------------------------------------------------------------------------------------- Table 3


def table3_records(setup: Setup, runs: Mapping[str, Mapping[str, Any]] | None = None, floors: Sequence[str] = FLOORS,
                   log: Callable[[str], None] = lambda msg: None) -> list[dict[str, Any]]:
    """Table 3 on `scenes` under lvs: each variant of `ours` scored on its boxes, and the main run's location map m_n.

    runs: variant label -> overrides of the main run (default `TABLE3_RUNS`); the variant with no
    overrides is the main run, whose map gives the row "The location map m_n".
    floors: keys of `FLOOR_LABELS` scored on the same frames, appended as rows "floor: ..." / "ceiling: ..."
    (two-region floors are skipped: lvs is single-source).
    Returns records {variant, **`summarise`} in the order of `runs`, the map after the variants of K and
    selection (the paper's order), then the floors.
    """
    data = setup.data("scenes")
    records, map_record = [], None
    for variant, overrides in (TABLE3_RUNS if runs is None else runs).items():
        log(f"scenes: {variant}")
        run = setup.run("ours", data, overrides)
        records.append({"variant": variant, **score_run(run, data, "lvs", "boxes", False, setup.device)})
        if not overrides:
            map_record = {"variant": "The location map m_n", **score_run(run, data, "lvs", "maps", False, setup.device)}
    if map_record is not None:  # the paper's order: K rows, without selection, the map, then our extra scorer rows
        after = [i for i, r in enumerate(records) if r["variant"].startswith("Ours - ProSelectNet")]  # both no-selection rows
        records.insert(after[-1] + 1 if after else len(records), map_record)
    for floor in floors_for("lvs", floors):
        records.append({"variant": FLOOR_LABELS[floor], **score_floor(floor, data, "lvs", setup.seed)})
    return records


def table3_rows(records: Sequence[Mapping[str, Any]], scale: float = 100.0) -> list[dict[str, Any]]:
    """Records of `table3_records` -> rows {variant, cIoU@0.5, AUC, n} in percent (times `scale`), with their intervals."""
    return [{"variant": r["variant"], **cells(r, "cIoU@0.5", "rate", scale), **cells(r, "AUC", "auc", scale), "n": r["n"]}
            for r in records]


def record(records: Sequence[Mapping[str, Any]], **match: Any) -> Mapping[str, Any]:
    """The one record whose fields equal `match` (e.g. variant="Ours (K=20)"); an SSLPropError when there is none."""
    for r in records:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    raise SSLPropError(f"no record with {match}")


def table3_comparer(records: Sequence[Mapping[str, Any]]) -> Comparer:
    """A `Comparer` over the variants and columns ("cIoU@0.5", "AUC") of `table3_rows(records)`."""
    return Comparer({(r["variant"], col): (r, name) for r in records for col, name in (("cIoU@0.5", "rate"), ("AUC", "auc"))})


# --------------------------------------------------------------------------------------- Table 4


def train_count(data: str | os.PathLike) -> int:
    """Samples in the train split of a data set."""

    return len(read_manifest(data, "train"))


def subset_sizes(total: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Training-set sizes: label -> round(fraction * total), at least 2 (the trainer needs two clips), at most total."""
    return {label: min(total, max(2, int(round(f * total)))) for label, f in fractions.items()}


def paper_fractions() -> dict[str, float]:
    """Table 4's sizes as fractions of the paper's largest set (10k / 144k, ..., 1)."""
    full = max(PAPER_TABLE4_SIZES.values())
    return {label: n / full for label, n in PAPER_TABLE4_SIZES.items()}


def ensure_subset_run(method: str, data: str | os.PathLike, setup: Setup, max_samples: int | None,
                      overrides: Mapping[str, Any] | None = None, log: Callable[[str], None] = lambda msg: None) -> Path:
    """`workflow.ensure_run` on the first `max_samples` training samples of `data` (Table 4's sizes).

    With `max_samples` None or at least the training split's size it is the full run (the same
    folder, shared with the other notebooks).
    """
    data = Path(data)
    if max_samples is None or max_samples >= train_count(data):
        return setup.run(method, data, overrides, log)
    return wf.ensure_run(method, data, setup.runs_root, setup.budget, setup.seed, overrides, profile=setup.profile,
                         device=setup.device, log=log, max_samples=int(max_samples))


def table4_records(setup: Setup, fractions: Mapping[str, float] | None = None, methods: Sequence[str] = ("attention", "ours"),
                   log: Callable[[str], None] = lambda msg: None) -> list[dict[str, Any]]:
    """Table 4 on `scenes` under lvs: each method trained on a share of the training split, scored on the whole test split.

    fractions: size label -> share of the training split (default `paper_fractions`: 10k / 144k, ...).
    Every size trains for the budget's epochs, so a smaller set also means fewer optimiser steps.
    ours is scored on its boxes, attention on its map (each in its own paradigm).
    Returns records {size, train samples, method, **`summarise`}, sizes in order, methods in order within a size.
    """
    data = setup.data("scenes")
    sizes = subset_sizes(train_count(data), paper_fractions() if fractions is None else fractions)
    records = []
    for label, n in sizes.items():
        for method in methods:
            log(f"scenes: {method} on {n} training samples")
            run = ensure_subset_run(method, data, setup, n)
            kind = "boxes" if method == "ours" else "maps"
            records.append({"size": label, "train samples": n, "method": method,
                            **score_run(run, data, "lvs", kind, False, setup.device)})
    return records


def table4_rows(records: Sequence[Mapping[str, Any]], scale: float = 100.0) -> list[dict[str, Any]]:
    """Records of `table4_records` -> one row per size {size, train samples, cIoU@0.5 <Label>..., AUC <Label>...} in
    percent (times `scale`), with their intervals."""
    rows: dict[str, dict[str, Any]] = {}
    for r in records:
        rows.setdefault(r["size"], {"size": r["size"], "train samples": r["train samples"]})
    for metric, name in (("cIoU@0.5", "rate"), ("AUC", "auc")):
        for r in records:
            rows[r["size"]].update(cells(r, f"{metric} {METHOD_LABELS.get(r['method'], r['method'])}", name, scale))
    return list(rows.values())


def table4_comparer(records: Sequence[Mapping[str, Any]]) -> Comparer:
    """A `Comparer` over the sizes and columns ("cIoU@0.5 Ours", "AUC Attention", ...) of `table4_rows(records)`."""
    return Comparer({(r["size"], f"{col} {METHOD_LABELS.get(r['method'], r['method'])}"): (r, name)
                     for r in records for col, name in (("cIoU@0.5", "rate"), ("AUC", "auc"))})


# --------------------------------------------------------------------------------------- seeds


SEEDS = (0, 1, 2)  # the training seeds of the headline scenes runs (`seed_records`)


def seed_records(setup: Setup, methods: Sequence[str] = ("ours", "attention"), seeds: Sequence[int] = SEEDS,
                 log: Callable[[str], None] = lambda msg: None) -> list[dict[str, Any]]:
    """The headline `scenes` runs trained with several training seeds (same data, test frames and budget).

    The seed of the notebook's setup is the main run (shared with the other notebooks); each other seed
    is a separate run that differs only in ``train.seed`` (initial heads, batch order, negatives).
    ours is scored on its boxes, attention on its map. Returns records {method, seed, **`summarise`}.
    """
    data = setup.data("scenes")
    records = []
    for method in methods:
        kind = "boxes" if method == "ours" else "maps"
        for seed in seeds:
            log(f"scenes: {method}, training seed {seed}")
            run = setup.run(method, data) if seed == setup.seed else wf.ensure_run(
                method, data, setup.runs_root, setup.budget, seed, profile=setup.profile, device=setup.device, log=log)
            records.append({"method": method, "seed": seed, **score_run(run, data, "lvs", kind, False, setup.device)})
    return records


def seed_rows(records: Sequence[Mapping[str, Any]], main_seed: int = 0, scale: float = 100.0) -> list[dict[str, Any]]:
    """Records of `seed_records` -> per method: the main seed's score with its bootstrap interval (test frames), and the
    mean, sample standard deviation, minimum and maximum over the training seeds (training noise), in percent."""

    rows = []
    for method in dict.fromkeys(r["method"] for r in records):
        mine = [r for r in records if r["method"] == method]
        main = next((r for r in mine if r["seed"] == main_seed), mine[0])
        for metric, name in (("cIoU@0.5", "rate"), ("AUC", "auc")):
            v = scale * np.array([r[name] for r in mine])
            rows.append({"method": METHOD_LABELS.get(method, method), "metric": metric,
                         **cells(main, f"seed {main['seed']}", name, scale),
                         "seeds": len(v), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
                         "min": float(v.min()), "max": float(v.max()),
                         **{f"seed {r['seed']}": scale * r[name] for r in mine if r["seed"] != main["seed"]}})
    return rows


# --------------------------------------------------------------------------------------- reading the tables


def read_outputs(predictions: str | os.PathLike, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What a `sslprop predict` folder holds for some keys: {key: {"map": float32 (S, S), "boxes": (M, 5), "two": (<=2, 5)}}.

    Boxes are xyxy pixels of the stored frame with their score, best first; the map is on the model's input grid.
    """

    folder = Path(predictions)
    files = [prediction_file(folder), prediction_file(folder, two_sources=True), prediction_file(folder, "maps")]
    for f in files:  # one predict run's set, not a mixture
        check_member(f)
    boxes = json.loads(files[0].read_text(encoding="utf-8"))
    two = json.loads(files[1].read_text(encoding="utf-8"))
    with np.load(files[2], allow_pickle=False) as z:
        missing = [k for k in keys if k not in z.files or k not in boxes]
        if missing:
            raise SSLPropError(f"{folder}: no prediction for {missing[0]!r}")
        return {k: {"map": z[k], "boxes": np.asarray(boxes[k], dtype=np.float64).reshape(-1, 5),
                    "two": np.asarray(two[k], dtype=np.float64).reshape(-1, 5)} for k in keys}


# --------------------------------------------------------------------------------------- the listening test (notebook 11)

LISTEN_COLUMNS = ("follow, point (%)", "other sound, point (%)", "blind, point (%)", "follow, box IoU >= 0.5 (%)",
                  "other sound, box (%)", "blind, box (%)", "switch (%)")
LISTEN_KEYS = ("follow_point", "other_point", "blind_point", "follow_box", "other_box", "blind_box", "switch")


def listening_records(setup: Setup, methods: Sequence[str] = tuple(METHOD_LABELS), prior: bool = True,
                      log: Callable[[str], None] = lambda msg: None) -> list[dict[str, Any]]:
    """The listening test (`sslprop.evaluation.listening`) of every Table 2 row's `scenes` run on the budget's listening
    set, then (`prior`) of the audio-free visual prior, the blind reference measured: records {method (row key),
    label, paradigm ("method" or "floor"), **report} with intervals; the runs are notebook 06's (cached)."""

    scenes, data = setup.data("scenes"), setup.data("listening")
    out = []
    for method in methods:
        log(f"listening: {METHOD_LABELS.get(method, method)}")
        report = listen(setup.row_run(method, scenes, log), data, ci=CI, device=setup.device, progress=False)
        out.append({"method": method, "label": METHOD_LABELS.get(method, method), "paradigm": "method", **report})
    if prior:
        log("listening: the audio-free visual prior")
        out.append({"method": PRIOR, "label": FLOOR_LABELS[PRIOR].replace(" (map)", ""), "paradigm": "floor",
                    **listen(PRIOR, data, ci=CI)})
    return out


def listening_rows(records: Sequence[Mapping[str, Any]], scale: float = 100.0) -> list[dict[str, Any]]:
    """Records of `listening_records` -> rows {method, follow, other sound, blind, switch (with intervals), the on-screen calls and the
    confidence's AUC under silence, noise and an off-screen sound}, rates in percent."""
    rows = []
    for r in records:
        iv = r.get("intervals", {})
        row: dict[str, Any] = {"method": r["label"]}
        for column, key in zip(LISTEN_COLUMNS, LISTEN_KEYS):
            row[column] = scale * r[key]
            if key in iv:
                row[f"{column} low"], row[f"{column} high"] = scale * iv[key][0], scale * iv[key][1]
        own = r["own"].get("on_d", r["own"].get("on_m"))
        row["on-screen calls, own sound (%)"] = None if own is None else scale * own
        for name, s in r["sounds"].items():
            call = s.get("on_d", s.get("on_m"))
            row[f"on-screen calls, {name} (%)"] = None if call is None else scale * call
            row[f"confidence AUC, own vs. {name}"] = s["auc_own_vs"]
        rows.append(row)
    return rows
