"""Tables 2, 3 and 4 of the paper: each method trained, predicted and scored end to end through the cached workflow.

A notebook builds one `Setup` from its parameters and asks for a table:

    setup = Setup(data_root, runs_root, budget, seed, profile, device)
    records = table2_records(setup)          # every method and floor on solo, mosaic and scenes
    rows = table2_rows(records)              # one row per method and paradigm, in percent
    viz.paper_beside(rows, PAPER_TABLE2, "method", TABLE2_COLUMNS)

Every run goes through `workflow.ensure_run` (trained once, shared with the other notebooks:
the `ours` run on `scenes` with no overrides is the main run of notebooks 02-08), every
prediction through `workflow.ensure_predictions`, and every score through
`sslprop.evaluate.evaluate` on the data set's test split under the protocol that the paper's
column uses (`PRESET_PROTOCOL`). Rates are fractions in [0, 1] in records and percent (as the
paper prints them) in table rows.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sslprop import workflow as wf
from sslprop.errors import SSLPropError
from sslprop.floors import FLOORS

# The paper's data sets and the embedded presets that stand in for them, with each column's protocol.
PRESET_PROTOCOL = {"solo": "dsol-solo", "mosaic": "dsol-multi", "scenes": "lvs"}
PRESET_PAPER = {"solo": "MUSIC-solo", "mosaic": "MUSIC-Synthetic", "scenes": "SSL (Flickr-SoundNet)"}
# Table 2's rows, in the paper's order: method name -> the paper's label.
METHOD_LABELS = {
    "pixelplayer": "PixelPlayer",
    "avol": "Objects-that-Sound",
    "attention": "Attention",
    "dmc": "DMC",
    "dsol": "AV-Matching",
    "lvs": "SS-Hard-Way",
    "ours": "Ours",
}
FLOOR_LABELS = {"full-frame": "floor: full frame", "center": "floor: centre box", "random-box": "floor: random box"}
TABLE2_COLUMNS = ("solo IoU@0.5", "solo AUC", "mosaic IoU@0.5", "mosaic AUC", "scenes cIoU@0.5", "scenes AUC")
TABLE3_COLUMNS = ("cIoU@0.5", "AUC")

# The paper's numbers (percent), transcribed from Tables 2, 3 and 4 of Xuan et al., CVPR 2022.
PAPER_TABLE2 = [
    {"method": label, **dict(zip(TABLE2_COLUMNS, values))}
    for label, values in (
        ("PixelPlayer", (40.5, 43.3, 35.5, 11.8, 60.4, 50.3)),
        ("Objects-that-Sound", (26.1, 35.8, 20.3, 10.2, 63.6, 48.2)),
        ("Attention", (37.2, 38.7, 25.9, 12.3, 66.0, 55.8)),
        ("DMC", (29.1, 38.0, 31.6, 16.3, 67.1, 56.8)),
        ("AV-Matching", (51.4, 43.6, 40.0, 23.5, 68.7, 56.9)),
        ("SS-Hard-Way", (52.3, 44.1, 40.6, 23.6, 69.9, 57.3)),
        ("Ours", (58.0, 46.3, 46.7, 30.1, 72.8, 61.4)),
    )
]
PAPER_TABLE3 = [
    {"variant": v, "cIoU@0.5": c, "AUC": a}
    for v, c, a in (
        ("Ours (K=10)", 68.9, 56.2),
        ("Ours (K=20)", 72.8, 61.4),
        ("Ours (K=30)", 73.1, 57.3),
        ("Ours - ProSelectNet", 58.9, 48.5),
        ("The location map m_n", 69.2, 59.3),
    )
]
# Table 4: training samples drawn from Flickr-SoundNet; "—" in the paper is None here.
PAPER_TABLE4_SIZES = {"10k": 10_000, "50k": 50_000, "90k": 90_000, "144k": 144_000}
PAPER_TABLE4 = [
    {"size": s, "cIoU@0.5 Attention": ca, "cIoU@0.5 Ours": co, "AUC Attention": aa, "AUC Ours": ao}
    for s, ca, co, aa, ao in (
        ("10k", 43.6, 45.4, 44.9, 51.3),
        ("50k", None, 55.6, None, 55.4),
        ("90k", None, 63.7, None, 58.7),
        ("144k", 66.0, 72.8, 55.8, 61.4),
    )
]
TABLE4_COLUMNS = ("cIoU@0.5 Attention", "cIoU@0.5 Ours", "AUC Attention", "AUC Ours")
# Table 3's variants of the main run (K = 20, scorer soft_iou, the default): the overrides of each.
TABLE3_RUNS = {
    "Ours (K=10)": {"model.k": 10},
    "Ours (K=20)": {},
    "Ours (K=30)": {"model.k": 30},
    "Ours - ProSelectNet": {"model.select_proposals": False},
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


def summarise(report: Mapping[str, Any]) -> dict[str, Any]:
    """The few numbers of an `evaluate` report that the tables print.

    Returns protocol, kind, metric (the protocol's headline: ``iou@0.5`` or ``ciou@0.5``),
    rate (its value), auc and n (frames scored), rates as fractions.
    """
    from sslprop.metrics import get_protocol

    headline = get_protocol(report["protocol"]).headline
    return {"protocol": report["protocol"], "kind": report["kind"], "metric": headline,
            "rate": float(report[headline]), "auc": float(report["auc"]), "n": int(report["n"])}


def score_predictions(predictions: str | os.PathLike, data: str | os.PathLike, protocol: str, kind: str = "boxes",
                      two_sources: bool = False) -> dict[str, Any]:
    """Score a `sslprop predict` folder on the test split of the sslprop data set `data` (see `summarise`)."""
    from sslprop.evaluate import evaluate

    report = evaluate(data, protocol, predictions=prediction_file(predictions, kind, two_sources), fmt="sslprop", split="test")
    return summarise(report)


def score_run(run: str | os.PathLike, data: str | os.PathLike, protocol: str, kind: str = "boxes",
              two_sources: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Predict the test split of `data` with `run` (cached, `workflow.ensure_predictions`) and score it (see `summarise`)."""
    return score_predictions(wf.ensure_predictions(run, data, "test", device=device), data, protocol, kind, two_sources)


def score_floor(floor: str, data: str | os.PathLike, protocol: str, seed: int = 0) -> dict[str, Any]:
    """A floor of `sslprop.floors` (one box per frame, no model) scored on the test split of `data`."""
    from sslprop.evaluate import evaluate

    if floor not in FLOORS:
        raise SSLPropError(f"floor {floor!r}: unknown (choose from {', '.join(FLOORS)})")
    return summarise(evaluate(data, protocol, method=floor, fmt="sslprop", split="test", seed=seed))


def views(method: str, preset: str) -> list[tuple[str, str, bool]]:
    """How a method is scored on a preset: (view, kind, two_sources) per view.

    ours: its boxes (its paradigm), the best box, or on `mosaic` the two best that do not overlap;
    a map-based method: its map (its paradigm) and, second, the box `predict` reads from the map.
    """
    if method == "ours":
        return [("boxes", "boxes", preset == "mosaic")]
    return [("map", "maps", False), ("map box", "boxes", False)]


# --------------------------------------------------------------------------------------- Table 2


def table2_records(setup: Setup, methods: Sequence[str] = tuple(METHOD_LABELS), presets: Sequence[str] = tuple(PRESET_PROTOCOL),
                   floors: Sequence[str] = FLOORS, log: Callable[[str], None] = lambda msg: None) -> list[dict[str, Any]]:
    """Train (cached), predict (cached) and score every method and floor on every preset.

    Returns one record per (method or floor, view, preset): method, view ("boxes", "map",
    "map box" or "floor"), preset, plus the keys of `summarise`.
    """
    records = []
    for preset in presets:
        data = setup.data(preset)
        protocol = PRESET_PROTOCOL[preset]
        for method in methods:
            log(f"{preset}: {method}")
            run = setup.run(method, data)
            for view, kind, two in views(method, preset):
                records.append({"method": method, "view": view, "preset": preset,
                                **score_run(run, data, protocol, kind, two, setup.device)})
        for floor in floors:
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
    A preset that was not scored leaves its two columns None.
    """
    rows: dict[str, dict[str, Any]] = {}
    for r in records:
        label = row_label(r["method"], r["view"])
        row = rows.setdefault(label, {"method": label, **{c: None for c in TABLE2_COLUMNS}})
        rate_col = f"{r['preset']} {'cIoU@0.5' if r['metric'] == 'ciou@0.5' else 'IoU@0.5'}"
        row[rate_col] = scale * r["rate"]
        row[f"{r['preset']} AUC"] = scale * r["auc"]
    order = {row_label(m, v): i for i, (m, v) in enumerate(
        [(m, v) for m in METHOD_LABELS for v in ("boxes", "map", "map box")] + [(f, "floor") for f in FLOOR_LABELS])}
    return sorted(rows.values(), key=lambda row: order.get(row["method"], len(order)))


# --------------------------------------------------------------------------------------- Table 3


def table3_rows(setup: Setup, runs: Mapping[str, Mapping[str, Any]] | None = None, floors: Sequence[str] = FLOORS,
                scale: float = 100.0, log: Callable[[str], None] = lambda msg: None) -> list[dict[str, Any]]:
    """Table 3 on `scenes` under lvs: each variant of `ours` scored on its boxes, and the main run's location map m_n.

    runs: variant label -> overrides of the main run (default `TABLE3_RUNS`); the variant with no
    overrides is the main run, whose map gives the row "The location map m_n".
    floors: floors of `sslprop.floors` scored on the same frames, appended as rows "floor: ...".
    Returns rows {variant, cIoU@0.5, AUC, n} in percent (times `scale`), in the order of `runs`,
    the map row after the variants of K and selection, then the floors.
    """
    data = setup.data("scenes")
    rows, map_row = [], None
    for variant, overrides in (TABLE3_RUNS if runs is None else runs).items():
        log(f"scenes: {variant}")
        run = setup.run("ours", data, overrides)
        s = score_run(run, data, "lvs", "boxes", False, setup.device)
        rows.append({"variant": variant, "cIoU@0.5": scale * s["rate"], "AUC": scale * s["auc"], "n": s["n"]})
        if not overrides:
            m = score_run(run, data, "lvs", "maps", False, setup.device)
            map_row = {"variant": "The location map m_n", "cIoU@0.5": scale * m["rate"], "AUC": scale * m["auc"], "n": m["n"]}
    if map_row is not None:  # the paper's order: K rows, without selection, the map, then our extra scorer rows
        names = [r["variant"] for r in rows]
        place = names.index("Ours - ProSelectNet") + 1 if "Ours - ProSelectNet" in names else len(rows)
        rows.insert(place, map_row)
    for floor in floors:
        f = score_floor(floor, data, "lvs", setup.seed)
        rows.append({"variant": FLOOR_LABELS[floor], "cIoU@0.5": scale * f["rate"], "AUC": scale * f["auc"], "n": f["n"]})
    return rows


# --------------------------------------------------------------------------------------- Table 4


def train_count(data: str | os.PathLike) -> int:
    """Samples in the train split of a data set."""
    from sslprop.data.format import read_manifest

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
    """Like `workflow.ensure_run`, trained on the first `max_samples` training samples of `data` only.

    With `max_samples` None or at least the training split's size this IS `workflow.ensure_run`
    (the same folder, shared with other notebooks). Otherwise the folder is
    ``<method>-<data>-<budget>-m<max_samples>-<hash>`` and holds a finished-run marker that
    records the configuration and `max_samples`; an interrupted run resumes.
    """
    from sslprop.train import CHECKPOINT, train
    from sslprop.utils import atomic_write_json

    data = Path(data)
    if max_samples is None or max_samples >= train_count(data):
        return setup.run(method, data, overrides, log)
    cfg = wf.run_config(setup.profile, setup.budget, setup.seed, setup.device, overrides)
    marker = json.loads(json.dumps({"method": method, "config": cfg.to_dict(), "max_samples": int(max_samples)}))
    digest = hashlib.sha1(json.dumps([marker, data.name], sort_keys=True).encode("utf-8")).hexdigest()[:8]
    folder = Path(setup.runs_root) / f"{method}-{data.name}-{wf.get_budget(setup.budget).name}-m{max_samples}-{digest}"
    done = folder / ".finished.json"
    if done.is_file() and json.loads(done.read_text(encoding="utf-8")) == marker and (folder / CHECKPOINT).is_file():
        return folder
    train(cfg, data, folder, method=method, resume=(folder / CHECKPOINT).exists(), max_samples=int(max_samples),
          progress=False, log=log)
    atomic_write_json(done, marker)
    return folder


def table4_rows(setup: Setup, fractions: Mapping[str, float] | None = None, methods: Sequence[str] = ("attention", "ours"),
                scale: float = 100.0, log: Callable[[str], None] = lambda msg: None) -> list[dict[str, Any]]:
    """Table 4 on `scenes` under lvs: each method trained on a share of the training split, scored on the whole test split.

    fractions: size label -> share of the training split (default `paper_fractions`: 10k / 144k, ...).
    Every size trains for the budget's epochs, so a smaller set also means fewer optimiser steps.
    ours is scored on its boxes, attention on its map (each in its own paradigm).
    Returns rows {size, train samples, cIoU@0.5 <Label>..., AUC <Label>...} in percent (times `scale`).
    """
    data = setup.data("scenes")
    sizes = subset_sizes(train_count(data), paper_fractions() if fractions is None else fractions)
    rows = []
    for label, n in sizes.items():
        row: dict[str, Any] = {"size": label, "train samples": n}
        scores = {}
        for method in methods:
            log(f"scenes: {method} on {n} training samples")
            run = ensure_subset_run(method, data, setup, n)
            kind = "boxes" if method == "ours" else "maps"
            scores[method] = score_run(run, data, "lvs", kind, False, setup.device)
        for method in methods:
            row[f"cIoU@0.5 {METHOD_LABELS.get(method, method)}"] = scale * scores[method]["rate"]
        for method in methods:
            row[f"AUC {METHOD_LABELS.get(method, method)}"] = scale * scores[method]["auc"]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------- reading the tables


def rank_of(rows: Sequence[Mapping[str, Any]], key: str, column: str, name: str) -> int:
    """1-based rank of row `name` (by `key`) in `column`, highest first; rows with None are left out; ties share the best rank."""
    values = [r[column] for r in rows if r.get(column) is not None]
    mine = next((r[column] for r in rows if r[key] == name), None)
    if mine is None:
        raise SSLPropError(f"{name!r} has no value in column {column!r}")
    return 1 + sum(v > mine for v in values)


def compare_sentence(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, column: str,
                     name: str, others: Sequence[str]) -> str:
    """One sentence, from the numbers alone, on whether row `name` leads `others` in `column` as in the paper.

    E.g. "scenes cIoU@0.5: Ours 41.2 vs. best other 38.0 (SS-Hard-Way); the paper: Ours 72.8 vs. 69.9 (SS-Hard-Way);
    the order agrees." Rows missing on either side are left out.
    """
    def best_other(table: Sequence[Mapping[str, Any]]) -> tuple[str, float] | None:
        cands = [(r[key], r[column]) for r in table if r[key] in others and r.get(column) is not None]
        return max(cands, key=lambda c: c[1]) if cands else None

    mine, theirs = _value(rows, key, column, name), _value(paper, key, column, name)
    ours_other, paper_other = best_other(rows), best_other(paper)
    if mine is None or ours_other is None:
        return f"{column}: not computed."
    text = f"{column}: {name} {mine:.1f} vs. best other {ours_other[1]:.1f} ({ours_other[0]})"
    if theirs is None or paper_other is None:
        return text + "."
    text += f"; the paper: {name} {theirs:.1f} vs. {paper_other[1]:.1f} ({paper_other[0]})"
    ours_leads, paper_leads = mine > ours_other[1], theirs > paper_other[1]
    if ours_leads == paper_leads:
        return text + f"; the order agrees ({name} {'leads' if ours_leads else 'does not lead'} in both)."
    return text + f"; the order differs ({name} {'leads' if ours_leads else 'does not lead'} here, "\
                  f"{'leads' if paper_leads else 'does not lead'} in the paper)."


def _value(rows: Sequence[Mapping[str, Any]], key: str, column: str, name: str) -> float | None:
    return next((r[column] for r in rows if r[key] == name and r.get(column) is not None), None)


def delta_sentence(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, column: str,
                   a: str, b: str) -> str:
    """One sentence on the difference `a` - `b` in `column`, here and in the paper, and whether its sign agrees.

    E.g. "cIoU@0.5, Ours (K=20) - Ours - ProSelectNet: -1.2 here, +13.9 in the paper; the sign differs."
    """
    mine = [_value(rows, key, column, n) for n in (a, b)]
    theirs = [_value(paper, key, column, n) for n in (a, b)]
    return _delta_text(f"{column}, [{a}] - [{b}]", mine, theirs)


def gap_sentence(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, name: str,
                 a: str, b: str) -> str:
    """One sentence on column `a` - column `b` in row `name`, here and in the paper, and whether its sign agrees.

    E.g. "10k, [cIoU@0.5 Ours] - [cIoU@0.5 Attention]: +1.0 here, +1.8 in the paper; the sign agrees."
    """
    mine = [_value(rows, key, c, name) for c in (a, b)]
    theirs = [_value(paper, key, c, name) for c in (a, b)]
    return _delta_text(f"{name}, [{a}] - [{b}]", mine, theirs)


def _delta_text(what: str, mine: Sequence[float | None], theirs: Sequence[float | None]) -> str:
    if None in mine:
        return f"{what}: not computed."
    d = mine[0] - mine[1]
    text = f"{what}: {d:+.1f} here"
    if None in theirs:
        return text + "."
    p = theirs[0] - theirs[1]
    return text + f", {p:+.1f} in the paper; the sign {'agrees' if _sign(d) == _sign(p) else 'differs'}."


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def best_sentence(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, column: str,
                  names: Sequence[str]) -> str:
    """One sentence naming the best of `names` in `column` here and in the paper (ties: every best one)."""
    def best(table: Sequence[Mapping[str, Any]]) -> list[str]:
        vals = {n: _value(table, key, column, n) for n in names}
        vals = {n: v for n, v in vals.items() if v is not None}
        top = max(vals.values(), default=None)
        return [n for n, v in vals.items() if v == top]

    mine, theirs = best(rows), best(paper)
    if not mine:
        return f"{column}: not computed."
    text = f"{column}: best here {' = '.join(mine)}"
    if not theirs:
        return text + "."
    return text + f"; in the paper {' = '.join(theirs)}; {'the same' if set(mine) == set(theirs) else 'not the same'}."


def read_outputs(predictions: str | os.PathLike, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What a `sslprop predict` folder holds for some keys: {key: {"map": float32 (S, S), "boxes": (M, 5), "two": (<=2, 5)}}.

    Boxes are xyxy pixels of the stored frame with their score, best first; the map is on the model's input grid.
    """
    import numpy as np

    folder = Path(predictions)
    boxes = json.loads(prediction_file(folder).read_text(encoding="utf-8"))
    two = json.loads(prediction_file(folder, two_sources=True).read_text(encoding="utf-8"))
    with np.load(prediction_file(folder, "maps"), allow_pickle=False) as z:
        missing = [k for k in keys if k not in z.files or k not in boxes]
        if missing:
            raise SSLPropError(f"{folder}: no prediction for {missing[0]!r}")
        return {k: {"map": z[k], "boxes": np.asarray(boxes[k], dtype=np.float64).reshape(-1, 5),
                    "two": np.asarray(two[k], dtype=np.float64).reshape(-1, 5)} for k in keys}


def bar_chart(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, columns: Sequence[str],
              ax: Any, title: str | None = None) -> Any:
    """Grouped horizontal bars of `rows` in `columns` (one colour per column), the paper's values as black ticks.

    Rows without a value in a column get no bar; rows or columns the paper lacks get no tick. Returns `ax`.
    """
    import numpy as np

    names = [r[key] for r in rows]
    h = 0.8 / max(len(columns), 1)
    for j, col in enumerate(columns):
        y = np.arange(len(rows)) + (j - (len(columns) - 1) / 2) * h
        vals = [np.nan if r.get(col) is None else r[col] for r in rows]
        ax.barh(y, vals, height=h, label=col)
        ref = [_value(paper, key, col, n) for n in names]
        ax.scatter([v for v in ref if v is not None], [yy for yy, v in zip(y, ref) if v is not None],
                   marker="|", s=80, color="black", zorder=3, label="paper" if j == 0 else None)
    ax.set_yticks(np.arange(len(rows)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=6, loc="lower right")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def sizes_plot(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], axes: Sequence[Any],
               metrics: Sequence[str] = ("cIoU@0.5", "AUC"), methods: Sequence[tuple[str, str]] = (("Ours", "#ff7f0e"), ("Attention", "#1f77b4"))) -> None:
    """Table 4 as curves, one axes per metric: each method's score against our training samples (solid),
    and the paper's at its sizes drawn at our sample counts of the same shares (dashed).

    rows: `table4_rows`; paper: `PAPER_TABLE4`; methods: (label, colour) pairs.
    """
    count = {r["size"]: r["train samples"] for r in rows}
    for ax, metric in zip(axes, metrics):
        for method, colour in methods:
            col = f"{metric} {method}"
            ax.plot([r["train samples"] for r in rows], [r[col] for r in rows], marker="o", color=colour, label=f"{method} (here)")
            ref = [(count[r["size"]], r[col]) for r in paper if r["size"] in count and r.get(col) is not None]
            ax.plot([x for x, _ in ref], [v for _, v in ref], marker="s", linestyle="--", color=colour, alpha=0.5,
                    label=f"{method} (paper, at its sizes)")
        ax.set_xlabel("training samples (here; the paper's 10k ... 144k at the same shares)", fontsize=7)
        ax.set_title(f"{metric} on scenes (lvs)", fontsize=9)
        ax.set_ylim(0, 100)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("percent", fontsize=8)
    axes[0].legend(fontsize=6)


def examples_figure(setup: Setup, preset: str, count: int, methods: Sequence[str] = tuple(METHOD_LABELS)) -> Any:
    """What each method outputs on the first `count` on-screen test frames of `preset`: one column per method.

    Each panel: the method's map over the frame, the annotators' boxes (green, dashed) and the method's
    box (orange): a map-based method's box read from its map at T = 0.5, ours' best proposal, or on
    `mosaic` ours' two best that do not overlap. Runs and predictions come from the cache (or are made).
    Returns the figure.
    """
    from sslprop import viz
    from sslprop.data.format import read_manifest

    data = setup.data(preset)
    ids = wf.pick_samples(data, "test", count=count, onscreen=True)
    samples = {s.id: s for s in read_manifest(data, "test")}
    fig, axes = viz.grid(len(ids), len(methods), size=1.9)
    for j, method in enumerate(methods):
        out = read_outputs(wf.ensure_predictions(setup.run(method, data), data, "test", device=setup.device), ids)
        for i, key in enumerate(ids):
            ax, frame = axes[i, j], samples[key].frames[0]
            viz.show_map(viz.load_frame(data, frame), out[key]["map"], ax, alpha=0.45,
                         title=METHOD_LABELS.get(method, method) if i == 0 else None)
            viz.show_boxes(None, [b for a in frame.annotators for b in a], ax, viz.SOUNDING, 1.0, "--")
            boxes = out[key]["two"] if (method == "ours" and preset == "mosaic") else out[key]["boxes"][:1]
            viz.show_boxes(None, boxes[:, :4], ax, viz.SELECTED, 1.6)
    fig.tight_layout()
    return fig
