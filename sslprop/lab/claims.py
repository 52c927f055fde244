"""The claims ledger: each claim of the paper, our numbers with their intervals, and a verdict computed from the intervals.

Notebooks 05-08 each turn their tables into ledger rows and save them (``figures/NN_claims.{md,csv}``);
notebook 09 gathers them into one ledger (``figures/09_claims.{md,csv}``):

    d = tables.paired(ours, attention)                 # a paired bootstrap difference, percent points
    row = claim("Ours beats Attention", "Table 2", "scenes", "72.8 vs. 66.0", [("vs. Attention", d)])
    save_claims([row, ...], "06_claims", figures_dir)
    ledger = gather(figures_dir)                         # every NN_claims.csv, in notebook order

A claim is decided by one or more *parts*, each a difference with its 95 % interval (paired bootstrap over
the test samples, `sslprop.evaluation.bootstrap`, or a one-sample bootstrap against a fixed value):

- ``holds``: every part's interval lies above the claim's bound (0 for "beats", minus the margin for
  "is competitive with");
- ``contradicted``: some part's interval lies below the bound (the data say the opposite);
- ``no difference``: none is contradicted, and some part is exactly 0 with an interval of exactly
  [0, 0] while the bound is 0: the two sides give the same result on the test frames (two criteria
  making identical decisions, two methods with identical boxes), so "A beats B" fails there, and not
  for lack of frames;
- ``unresolved``: none of these: the test frames cannot tell.

The row's numbers (difference, low, high) are those of the deciding part: the contradicting one with the
lowest upper end, else the first part with no difference, else the part with the lowest lower end. The intervals measure test-set noise only; the
training-seed spread of the headline runs is in notebook 06's seeds table.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sslprop.errors import SSLPropError
from sslprop.evaluation.bootstrap import bootstrap_intervals, paired_difference, settings
from sslprop.evaluation.listening import blind_difference, paired_follow
from sslprop.lab.published import PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3, PAPER_TABLE4
from sslprop.lab.tables import BOX_FLOORS, EXTRA_METHODS, FLOOR_LABELS, METHOD_LABELS, PAPER_METHODS, PRESET_PAPER, PRIORS, paired
from sslprop.lab.viz import save_table

VERDICTS = ("holds", "contradicted", "no difference", "unresolved")
VERDICT_PHRASES = {"holds": "hold", "contradicted": "are contradicted",
                   "no difference": "show no difference", "unresolved": "are unresolved"}
# scale: what the difference measures, for plots ("points", or "correlation r" for Fig. 3)
COLUMNS = ("claim", "source", "data set", "paper", "ours", "difference", "low", "high", "verdict", "rule", "scale")
COMPETITIVE_MARGIN = 5.0  # points: "competitive" = not resolved more than this below the other
NO_DIFFERENCE_RULE = "no difference if one is exactly 0 with an interval of [0, 0] (identical results)"


def verdict(d: Mapping[str, Any], bound: float = 0.0) -> str:
    """The verdict of one difference {"difference", "low", "high"} against `bound` (see the module docstring)."""
    if d["low"] > bound:
        return "holds"
    if d["high"] < bound:
        return "contradicted"
    if identical(d) and bound == 0:
        return "no difference"
    return "unresolved"


def identical(d: Mapping[str, Any]) -> bool:
    """True when a difference and both ends of its interval are exactly 0: the two sides agree on the test frames."""
    return d["difference"] == 0 and d["low"] == 0 and d["high"] == 0


def _fmt(d: Mapping[str, Any], unit: str) -> str:
    return f"{d['difference']:+.1f}{unit} [{d['low']:+.1f}, {d['high']:+.1f}]"


def claim(text: str, source: str, data: str, paper: str, parts: Sequence[tuple[str, Mapping[str, Any] | None]],
          bound: float = 0.0, unit: str = "", rule: str | None = None, scale: str | None = None) -> dict[str, Any]:
    """One ledger row from its parts [(label, difference or None), ...]; a part that could not be computed (None)
    makes the claim unresolved unless another part contradicts it or shows no difference.

    bound: what each difference must exceed (0 for "beats"; -`COMPETITIVE_MARGIN` for "is competitive with").
    unit: appended to the numbers in the "ours" text (e.g. " pts").
    scale: what the differences measure, for plots (default "points" when unit is " pts", else "value").
    """
    if not parts:
        raise SSLPropError(f"claim {text!r}: no part to decide it")
    known = [(label, d) for label, d in parts if d is not None]
    verdicts = [verdict(d, bound) for _, d in known]
    if "contradicted" in verdicts:
        label, d = min(((label, d) for (label, d), v in zip(known, verdicts) if v == "contradicted"), key=lambda x: x[1]["high"])
        final = "contradicted"
    elif "no difference" in verdicts:
        label, d = next((label, d) for (label, d), v in zip(known, verdicts) if v == "no difference")
        final = "no difference"
    elif known and all(v == "holds" for v in verdicts) and len(known) == len(parts):
        label, d = min(known, key=lambda x: x[1]["low"])
        final = "holds"
    else:
        final = "unresolved"
        label, d = min(known, key=lambda x: x[1]["low"]) if known else (None, None)
    ours = "; ".join(f"{lab} {_fmt(x, unit)}" if x is not None else f"{lab} not computed" for lab, x in parts)
    rule = rule or (f"holds if every interval lies above {bound:g}, contradicted if one lies below it" if bound
                    else f"holds if every paired 95 % interval lies above 0, contradicted if one lies below 0; {NO_DIFFERENCE_RULE}")
    return {"claim": text, "source": source, "data set": data, "paper": paper, "ours": ours,
            "difference": None if d is None else float(d["difference"]), "low": None if d is None else float(d["low"]),
            "high": None if d is None else float(d["high"]), "verdict": final, "rule": rule,
            "scale": scale or ("points" if unit.strip() == "pts" else "value")}


def mean_interval(keys: Sequence[str], values: Sequence[float], null: float, scale: float = 1.0,
                  ci: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A one-sample claim: mean(values) - null with its bootstrap interval over `keys`' samples, times `scale`.

    Returns {"difference", "low", "high", "resolved"} like a paired difference, so `claim` decides it the same way.
    """

    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        raise SSLPropError("mean_interval: no value")
    lo, hi = bootstrap_intervals(keys, {"mean": (v, np.mean)}, **settings(ci))["mean"]
    d = {"difference": scale * (float(v.mean()) - null), "low": scale * (lo - null), "high": scale * (hi - null)}
    return {**d, "resolved": bool(d["low"] > 0 or d["high"] < 0)}


def counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """{verdict: number of rows} for every verdict."""
    return {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}


def summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """The verdict counts as words, e.g. "9 hold, 3 are contradicted, 2 show no difference, 5 are unresolved";
    "no difference" is named only when some row has it."""
    n = counts(rows)
    return ", ".join(f"{n[v]} {VERDICT_PHRASES[v]}" for v in VERDICTS if v != "no difference" or n[v])


def save_claims(rows: Sequence[Mapping[str, Any]], name: str, figures_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ledger rows as ``figures_dir/name.{md,csv}`` (columns `COLUMNS`)."""

    bad = [r["verdict"] for r in rows if r.get("verdict") not in VERDICTS]
    if bad:
        raise SSLPropError(f"claims {name}: unknown verdict {bad[0]!r}")
    return save_table([{c: r.get(c) for c in COLUMNS} for r in rows], name, figures_dir, float_format="{:.1f}")


CLAIM_FILES = ("05_claims.csv", "06_claims.csv", "07_claims.csv", "08_claims.csv", "11_claims.csv")  # the notebooks that decide claims


def gather(figures_dir: str | os.PathLike, names: Sequence[str] = CLAIM_FILES) -> list[dict[str, Any]]:
    """Every ledger row the notebooks saved in `figures_dir` (`names`, in notebook order); numbers back as floats.
    Notebook 09 runs after all of them (the Makefile runs it last)."""
    files = [Path(figures_dir) / n for n in names]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise SSLPropError(f"{figures_dir}: no {', '.join(missing)} (run notebooks 05-08 and 11 first)")
    rows = []
    for f in files:
        with f.open(newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                for c in ("difference", "low", "high"):
                    r[c] = None if r[c] in ("", "-") else float(r[c])
                if not r.get("scale"):  # a ledger written before the column existed
                    r["scale"] = "points" if " pts" in r["ours"] else "correlation r" if "mean r " in r["ours"] else "value"
                rows.append(r)
    return rows


# --------------------------------------------------------------------------------------- the paper's claims, per table


def table1_claims(paired: Mapping[str, Mapping[str, Any]], rows: Sequence[Mapping[str, Any]], data: str,
                  paper_column: str) -> list[dict[str, Any]]:
    """Table 1: m_on || d_on beats each criterion alone. paired: `onscreen_report(..., ci)["paired"]` (shares);
    rows: `table1` rows; paper_column: "SSL" or "AVE"."""

    paper = {r["criterion"]: r[paper_column] for r in PAPER_TABLE1}
    acc = {r["criterion"]: 100.0 * r["accuracy"] for r in rows}
    out = []
    for single in ("m_on", "d_on"):
        d = paired.get(f"m_on || d_on - {single}")
        d = None if d is None else {k: (100.0 * v if k != "resolved" else v) for k, v in d.items()}
        out.append(claim(f"m_on || d_on is more accurate than {single} alone", "Table 1", data,
                         f"{paper['m_on || d_on']:.1f} vs. {paper[single]:.1f} ({paper_column})",
                         [(f"{acc['m_on || d_on']:.1f} vs. {acc[single]:.1f}:", d)], unit=" pts"))
    # the same claim with d_on at its label-free calibrated threshold (models.inference.d_on_threshold), where predict made one:
    # the paper's 0.2 is a constant of its model, and can sit anywhere in another model's d_on distribution
    calibrated_or = "m_on || d_on (calibrated)"
    for single in ("m_on", "d_on (calibrated)"):
        d = paired.get(f"{calibrated_or} - {single}")
        if d is None or calibrated_or not in acc:
            continue
        d = {k: (100.0 * v if k != "resolved" else v) for k, v in d.items()}
        out.append(claim(f"with d_on at its calibrated threshold, m_on || d_on is more accurate than {single.split(' (')[0]} alone",
                         "Table 1, extra",
                         data, f"{paper['m_on || d_on']:.1f} vs. {paper[single.split(' (')[0]]:.1f} ({paper_column}, d_on > 0.2)",
                         [(f"{acc[calibrated_or]:.1f} vs. {acc[single]:.1f}:", d)], unit=" pts"))
    return out


def table2_claims(rows: Sequence[Mapping[str, Any]], comparer: Any, presets: Mapping[str, str]) -> list[dict[str, Any]]:
    """Table 2, per preset: Ours beats each map-based baseline of the paper (each in its own paradigm), and every
    method of the paper beats the floors (the best floor of the column); then one row per preset and method not in
    the paper (EZ-VSL with and without OGL, SLAVC): Ours beats it. rows: `table2_rows`; comparer: `table2_comparer`;
    presets: {preset: its rate column}, e.g. {"scenes": "scenes cIoU@0.5"}."""

    values = {r["method"]: r for r in rows}
    paper = {r["method"]: r for r in PAPER_TABLE2}
    baselines = [METHOD_LABELS[m] for m in PAPER_METHODS if m != "ours" and METHOD_LABELS[m] in values]
    methods = [METHOD_LABELS[m] for m in PAPER_METHODS if METHOD_LABELS[m] in values]
    extras = [METHOD_LABELS[m] for m in EXTRA_METHODS if METHOD_LABELS[m] in values]
    floors = [FLOOR_LABELS[f] for f in BOX_FLOORS if FLOOR_LABELS[f] in values]  # what the protocol gives for free
    priors = [FLOOR_LABELS[f] for f in PRIORS if FLOOR_LABELS[f] in values]  # the frozen visual encoder, no audio
    out = []
    for preset, col in presets.items():
        paper_col = col if col in paper["Ours"] else None  # mosaic's CIoU@0.3: the paper prints none
        best_p = max((m for m in paper if m != "Ours"), key=lambda m: paper[m].get(col) or -1.0)
        out.append(claim(f"Ours beats every map-based baseline ({col})", "Table 2", f"{preset} ({PRESET_PAPER[preset]})",
                         f"Ours {paper['Ours'][col]:.1f} vs. best other {paper[best_p][col]:.1f} ({best_p})" if paper_col
                         else "not reported in this measure",
                         [(f"vs. {m}", comparer(("Ours", col), (m, col))) for m in baselines], unit=" pts"))
        scored = [f for f in floors if values[f].get(col) is not None]
        if scored:
            best_floor = max(scored, key=lambda f: values[f][col])
            out.append(claim(f"every method beats the floors ({col})", "Table 2", f"{preset} ({PRESET_PAPER[preset]})",
                             "implied (no floor reported)",
                             [(f"{m} vs. {best_floor}", comparer((m, col), (best_floor, col))) for m in methods], unit=" pts"))
        scored = [p for p in priors if values[p].get(col) is not None]
        if scored:  # the field's critique: does the audio-visual system beat what vision alone finds?
            out.append(claim(f"Ours beats the audio-free prior ({col}; not in the paper)", "Table 2, extra",
                             f"{preset} ({PRESET_PAPER[preset]})", "not reported",
                             [(f"vs. {p.replace('floor: ', '')}", comparer(("Ours", col), (p, col))) for p in scored], unit=" pts"))
    for preset, col in presets.items():  # the methods users run today, not in the paper: does Ours beat them too?
        for m in extras:
            if values[m].get(col) is None:
                continue
            out.append(claim(f"Ours beats {m} ({col})", "Table 2, extra", f"{preset} ({PRESET_PAPER[preset]})",
                             "not in the paper", [(f"vs. {m.split(' (')[0]}", comparer(("Ours", col), (m, col)))], unit=" pts"))
    return out


def table3_claims(rows: Sequence[Mapping[str, Any]], comparer: Any, map_methods: Sequence[Mapping[str, Any]] | None = None,
                  map_comparer: Any = None) -> list[dict[str, Any]]:
    """Table 3 on scenes: K = 20 is the best K (AUC), selection helps, the location map is competitive with the
    map methods. map_methods: Table 2's scenes rows of the map-based methods with `map_comparer`, a `Comparer`
    holding them and the row "The location map m_n" (column "scenes cIoU@0.5")."""

    p = {r["variant"]: r for r in PAPER_TABLE3}
    k20 = "Ours (K=20)"
    out = [
        claim("K = 20 is the best number of selected proposals (AUC; the paper's cIoU@0.5 has K = 30 0.3 above)", "Table 3",
              "scenes (SSL)", f"AUC {p[k20]['AUC']:.1f} vs. {p['Ours (K=10)']['AUC']:.1f} (K=10), {p['Ours (K=30)']['AUC']:.1f} (K=30)",
              [(f"vs. {k}", comparer((k20, "AUC"), (k, "AUC"))) for k in ("Ours (K=10)", "Ours (K=30)")], unit=" pts"),
        claim("without proposal selection (ProSelectNet) localisation is worse", "Table 3", "scenes (SSL)",
              f"cIoU@0.5 {p[k20]['cIoU@0.5']:.1f} vs. {p['Ours - ProSelectNet']['cIoU@0.5']:.1f}",
              [("K=20 vs. no selection", comparer((k20, "cIoU@0.5"), ("Ours - ProSelectNet", "cIoU@0.5")))], unit=" pts"),
    ]
    own_loss = "Ours - ProSelectNet (Ours' loss)"
    if any(r["variant"] == own_loss for r in rows):  # the same comparison with the loss kept: selection alone differs
        out.append(claim("without proposal selection alone (Ours' loss kept) localisation is worse (not in the paper)",
                         "Table 3, extra", "scenes (SSL)", "not reported (the paper's row also drops L_edu)",
                         [("K=20 vs. no selection, loss kept", comparer((k20, "cIoU@0.5"), (own_loss, "cIoU@0.5")))], unit=" pts"))
    if map_methods:
        col = "scenes cIoU@0.5"
        best = max(map_methods, key=lambda r: r[col])
        best_paper = max((r for r in PAPER_TABLE2 if r["method"] != "Ours"), key=lambda r: r[col])
        out.append(claim(f"the location map m_n is competitive with the map methods (within {COMPETITIVE_MARGIN:g} points of the best)",
                         "Table 3", "scenes (SSL)",
                         f"cIoU@0.5 {p['The location map m_n']['cIoU@0.5']:.1f} vs. {best_paper[col]:.1f} ({best_paper['method']})",
                         [(f"m_n vs. {best['method']}", map_comparer(("The location map m_n", col), (best["method"], col)))],
                         bound=-COMPETITIVE_MARGIN, unit=" pts",
                         rule=f"holds if the interval lies above -{COMPETITIVE_MARGIN:g} points, contradicted if below"))
    return out


def table4_claims(rows: Sequence[Mapping[str, Any]], comparer: Any) -> list[dict[str, Any]]:
    """Table 4 on scenes: Ours is at least as good as Attention at every size, and both improve with size (largest
    vs. smallest), on cIoU@0.5."""

    sizes = [r["size"] for r in rows]
    small, large = sizes[0], sizes[-1]
    p = {r["size"]: r for r in PAPER_TABLE4}
    both = [s for s in sizes if all(r.get(f"cIoU@0.5 {m}") is not None for r in rows if r["size"] == s for m in ("Ours", "Attention"))]
    return [
        claim("Ours is at least as good as Attention at every training-set size (cIoU@0.5)", "Table 4", "scenes (SSL)",
              "; ".join(f"{s}: {p[s]['cIoU@0.5 Ours']:.1f} vs. {p[s]['cIoU@0.5 Attention']:.1f}" for s in ("10k", "144k")),
              [(s, comparer((s, "cIoU@0.5 Ours"), (s, "cIoU@0.5 Attention"))) for s in both], unit=" pts",
              rule="holds if every paired interval lies above 0, contradicted if one lies below 0 (at least: not resolved below); "
                   + NO_DIFFERENCE_RULE),
        claim("both methods improve with the training-set size (cIoU@0.5, largest vs. smallest)", "Table 4", "scenes (SSL)",
              f"Ours {p['144k']['cIoU@0.5 Ours']:.1f} vs. {p['10k']['cIoU@0.5 Ours']:.1f}; "
              f"Attention {p['144k']['cIoU@0.5 Attention']:.1f} vs. {p['10k']['cIoU@0.5 Attention']:.1f}",
              [(f"{m} {large} vs. {small}", comparer((large, f"cIoU@0.5 {m}"), (small, f"cIoU@0.5 {m}"))) for m in ("Ours", "Attention")],
              unit=" pts"),
    ]


def seed_claim(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Ours beats Attention on scenes with every training seed: per seed, the paired difference of cIoU@0.5
    (`seed_records`: ours on its boxes, attention on its map, both on the same test frames)."""

    by = {(r["method"], r["seed"]): r for r in records}
    seeds = sorted({s for m, s in by if m == "ours" and ("attention", s) in by})
    p = {r["method"]: r for r in PAPER_TABLE2}
    return claim("Ours beats Attention with every training seed (cIoU@0.5)", "Table 2", "scenes (SSL)",
                 f"{p['Ours']['scenes cIoU@0.5']:.1f} vs. {p['Attention']['scenes cIoU@0.5']:.1f} (one run)",
                 [(f"seed {s}", paired(by[("ours", s)], by[("attention", s)])) for s in seeds], unit=" pts")


def fig3_claim(correlations: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """Fig. 3: d_on follows loudness: the mean per-clip r (`tracks.distance_correlations`) above 0, clips resampled."""
    ids = [k for k, _ in correlations]
    d = mean_interval(ids, [r for _, r in correlations], 0.0) if ids else None
    return claim("the confidence d_on follows the source's loudness (mean per-clip r above 0)", "Fig. 3", "sequences (AVE)",
                 "one clip, shown qualitatively", [(f"mean r over {len(ids)} clips, minus 0:", d)], scale="correlation r")


def fig4_claim(outcomes: Sequence[tuple[str, bool]]) -> dict[str, Any]:
    """Fig. 4: the sounding object has the higher confidence in more than half of the frames (`tracks.turns_outcomes`;
    the frames of a clip resampled together)."""
    frames = [k for k, _ in outcomes]
    d = mean_interval(frames, [float(w) for _, w in outcomes], 0.5, scale=100.0) if frames else None
    return claim("the confidence switches with the sounding source (the sounding object scores higher in > 50 % of frames)",
                 "Fig. 4", "sequences (AVE)", "one clip, shown qualitatively",
                 [(f"share over {len(frames)} frames, minus 50 %:", d)], unit=" pts")


def fig5_difference(covered: Mapping[str, Sequence[float]], keys: Sequence[str]) -> dict[str, Any] | None:
    """Fig. 5: ours minus Attention's share of the source's box covered per frame of `keys`, paired, in points
    (None without frames). `covered`: per frame, each map's "box covered at equal area" (`tracks.map_shape`), so that
    a flatter map cannot win by spilling over the frame."""

    if not keys:
        return None
    d = paired_difference(keys, covered["ours"], covered["Attention"], np.mean)
    return {k: (100.0 * v if k != "resolved" else v) for k, v in d.items()}


def fig5_claim(covered: Mapping[str, Sequence[float]], keys: Sequence[str]) -> dict[str, Any]:
    """Fig. 5: our location map covers more of the sounding object than Attention's (`fig5_difference`)."""
    return claim("our location map covers more of the sounding object than Attention's map (at equal area)", "Fig. 5",
                 "scenes (SSL)", "shown qualitatively",
                 [(f"share of the box in each map's top |box| pixels, ours - Attention, {len(keys)} frames:",
                   fig5_difference(covered, keys))], unit=" pts")


def figure_claims(correlations: Sequence[tuple[str, float]], outcomes: Sequence[tuple[str, bool]],
                  covered: Mapping[str, Sequence[float]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Figs. 3-5 as claims with intervals: `fig3_claim`, `fig4_claim`, `fig5_claim`.

    covered: {"ours": [...], "Attention": [...]}, the share of the source's box that each map's upper half covers per
    on-screen test frame of `keys`.
    """
    return [fig3_claim(correlations), fig4_claim(outcomes), fig5_claim(covered, keys)]


def listening_claims(records: Sequence[Mapping[str, Any]], column: str = "follow_point") -> list[dict[str, Any]]:
    """The listening test (notebook 11), not in the paper: each method follows the sound more often than blind (its
    follow rate minus the blind rate on the same pairs, the best fixed answer), and more often than its own answers to
    the frame's other object sounds land on the object (the deaf reference at its own precision), and Ours follows it
    more often than each map method (paired).
    `column`: "follow_point" (a map's peak, a box's centre, inside the played object: one rule for both paradigms) or
    "follow_box"."""

    def pts(d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: (100.0 * v if k != "resolved" else v) for k, v in d.items()}

    out = []
    name = lambda r: r["label"].replace(" (not in the paper)", "")
    blind = column.replace("follow", "blind")
    other = column.replace("follow", "other")
    for r in records:
        out.append(claim(f"{name(r)} follows the sound more often than blind (not in the paper)", "Listening, extra",
                         "listening (scenes)", "not reported",
                         [(f"{100 * r[column]:.1f} vs. {100 * r[blind]:.1f}:", pts(blind_difference(r, column)))], unit=" pts"))
        if other in r:  # the blind reference at the method's own precision: 0 exactly for a method that does not listen
            out.append(claim(f"{name(r)} follows the sound played more often than another object's sound (not in the paper)",
                             "Listening, extra", "listening (scenes)", "not reported",
                             [(f"{100 * r[column]:.1f} vs. {100 * r[other]:.1f}:",
                               pts(blind_difference(r, column, reference="other")))], unit=" pts"))
    ours = next((r for r in records if r["method"] == "ours"), None)
    if ours is not None:
        for r in records:
            if r["method"] == "ours" or r.get("paradigm") == "floor":
                continue
            out.append(claim(f"Ours follows the sound more often than {name(r)} (not in the paper)", "Listening, extra",
                             "listening (scenes)", "not reported",
                             [(f"{100 * ours[column]:.1f} vs. {100 * r[column]:.1f}:", pts(paired_follow(ours, r, column)))], unit=" pts"))
    return out
