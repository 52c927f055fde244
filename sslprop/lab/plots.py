"""The notebooks' composite figures: Table 2/4 bar charts, the examples grid, the Fig. 3/4 sequence strips."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from sslprop.data.format import read_manifest
from sslprop.evaluation.onscreen import CRITERION_NAMES, SWEPT
from sslprop.lab import explore, viz
from sslprop.lab import workflow as wf
from sslprop.lab.sentences import value
from sslprop.lab.tables import METHOD_LABELS, PAPER_METHODS, Setup, read_outputs
from sslprop.lab.tracks import SequenceTrack
from sslprop.models.inference import D_ON_THRESHOLD

TRACK_COLOURS = ("#ff7f0e", "#d62728")  # orange: the first object of a clip, red: the second (paper Fig. 4)


BEST_COLOUR = "#d62728"  # red: the model's answer (paper Fig. 3)


def sequence_figure(root: str | os.PathLike, samples: Sequence[Any], tracks: Sequence[SequenceTrack], objects: bool = False) -> Any:
    """Fig. 3 / Fig. 4: one row per clip, its N frames then the confidence over time.

    objects=False (Fig. 3): each frame with the best proposal (red) and d_on; the curve is d_on (black) with
    the source's gain (green, right axis); out-of-view frames are greyed.
    objects=True (Fig. 4): each frame with every object's best matching proposal and its confidence
    (`SequenceTrack.object_box`, orange then red); the curves are the objects' confidences, with the second
    half of the clip (after ``meta["switch_time"]``) shaded.
    Returns the pyplot figure.
    """

    N = max(len(s.frames) for s in samples)
    fig, axes = plt.subplots(len(samples), N + 1, figsize=(1.3 * N + 4.0, 1.6 * len(samples)), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * N + [3]})
    for row, s, t in zip(axes, samples, tracks):
        for n, (ax, frame) in enumerate(zip(row[:N], s.frames)):
            viz.show_image(viz.load_frame(root, frame), ax)
            if not t.onscreen[n]:
                ax.imshow(np.full((frame.height, frame.width, 3), 200, np.uint8), alpha=0.5)
            if objects:
                for j, colour in zip(range(len(t.labels)), TRACK_COLOURS):
                    if not np.isnan(t.object_conf[j, n]):
                        viz.show_boxes(None, [t.object_box[j, n]], ax, colour, 1.2, labels=[f"{t.object_conf[j, n]:.2f}"])
                ax.set_title(f"{frame.time:.1f} s", fontsize=7)
            elif not np.isnan(t.top_box[n]).any():
                viz.show_boxes(None, [t.top_box[n]], ax, BEST_COLOUR, 1.2)
                ax.set_title(f"{frame.time:.1f} s: {t.d_on[n]:.3f}", fontsize=7)
        for ax in row[len(s.frames):N]:
            ax.axis("off")
        ax = row[N]
        if objects:
            ax.axvspan(float(s.meta.get("switch_time", t.times[-1] / 2)), t.times[-1] + 0.5, color="#eeeeee")
            for j, colour in zip(range(len(t.labels)), TRACK_COLOURS):
                ax.plot(t.times, t.object_conf[j], "o-", color=colour, markersize=3, label=t.labels[j])
            ax.set_ylabel("confidence", fontsize=7)
            ax.set_title(f"{s.id}: {' then '.join(t.labels)}", fontsize=7)
            ax.legend(fontsize=6)
        else:
            ax.plot(t.times, t.d_on, "o-", color="black", markersize=3)
            ax.set_ylabel("d_on", fontsize=7)
            ax.set_title(f"{s.id}: {s.classes[0]} ({str(s.meta.get('path', '')).replace('_', ' ')})", fontsize=7)
            if t.gains is not None:
                gain_ax = ax.twinx()
                gain_ax.plot(t.times, t.gains, "--", color=viz.SOUNDING, linewidth=1.0)
                gain_ax.set_ylabel("gain", fontsize=7, color=viz.SOUNDING)
                gain_ax.tick_params(labelsize=6)
        ax.set_xlim(0, t.times[-1] + 0.5)
        ax.set_xlabel("time (s)", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def bar_chart(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, columns: Sequence[str],
              ax: Any, title: str | None = None) -> Any:
    """Grouped horizontal bars of `rows` in `columns` (one colour per column), the paper's values as black ticks.

    Rows without a value in a column get no bar; rows or columns the paper lacks get no tick; a cell with an
    interval ("<column> low" / "<column> high") gets it as an error bar. Returns `ax`.
    """

    names = [r[key] for r in rows]
    h = 0.8 / max(len(columns), 1)
    for j, col in enumerate(columns):
        y = np.arange(len(rows)) + (j - (len(columns) - 1) / 2) * h
        vals = [np.nan if r.get(col) is None else r[col] for r in rows]
        ax.barh(y, vals, height=h, label=col)
        band = [(yy, r[col], r[f"{col} low"], r[f"{col} high"]) for yy, r in zip(y, rows)
                if r.get(col) is not None and r.get(f"{col} low") is not None]
        if band:
            ax.errorbar([b[1] for b in band], [b[0] for b in band], xerr=[[b[1] - b[2] for b in band], [b[3] - b[1] for b in band]],
                        fmt="none", ecolor="#444444", elinewidth=0.8, capsize=1.5, zorder=2)
        ref = [value(paper, key, col, n) for n in names]
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
    and the paper's at its sizes drawn at our sample counts of the same shares (dashed); our 95 % intervals shaded.

    rows: `table4_rows`; paper: `PAPER_TABLE4`; methods: (label, colour) pairs.
    """
    count = {r["size"]: r["train samples"] for r in rows}
    for ax, metric in zip(axes, metrics):
        for method, colour in methods:
            col = f"{metric} {method}"
            ax.plot([r["train samples"] for r in rows], [r[col] for r in rows], marker="o", color=colour, label=f"{method} (here)")
            if all(r.get(f"{col} low") is not None for r in rows):  # the 95 % bootstrap intervals
                ax.fill_between([r["train samples"] for r in rows], [r[f"{col} low"] for r in rows], [r[f"{col} high"] for r in rows],
                                color=colour, alpha=0.15, linewidth=0)
            ref = [(count[r["size"]], r[col]) for r in paper if r["size"] in count and r.get(col) is not None]
            ax.plot([x for x, _ in ref], [v for _, v in ref], marker="s", linestyle="--", color=colour, alpha=0.5,
                    label=f"{method} (paper, at its sizes)")
        ax.set_xlabel("training samples (here; the paper's 10k ... 144k at the same shares)", fontsize=7)
        ax.set_title(f"{metric} on scenes (lvs)", fontsize=9)
        ax.set_ylim(0, 100)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("percent", fontsize=8)
    axes[0].legend(fontsize=6)


def examples_figure(setup: Setup, preset: str, count: int, methods: Sequence[str] = PAPER_METHODS) -> Any:
    """What each method outputs on the first `count` on-screen test frames of `preset`: one column per method.

    Each panel: the method's map over the frame, the annotators' boxes (green, dashed) and the method's
    box (orange): a map-based method's box read from its map at T = 0.5, ours' best proposal, or on
    `mosaic` ours' two best that do not overlap. Runs and predictions come from the cache (or are made).
    Returns the figure.
    """

    data = setup.data(preset)
    ids = explore.pick_samples(data, "test", count=count, onscreen=True)
    samples = {s.id: s for s in read_manifest(data, "test")}
    fig, axes = viz.grid(len(ids), len(methods), size=1.9)
    for j, method in enumerate(methods):
        out = read_outputs(wf.ensure_predictions(setup.row_run(method, data), data, "test", device=setup.device), ids)
        for i, key in enumerate(ids):
            ax, frame = axes[i, j], samples[key].frames[0]
            viz.show_map(viz.load_frame(data, frame), out[key]["map"], ax, alpha=0.45,
                         title=METHOD_LABELS.get(method, method) if i == 0 else None)
            viz.show_boxes(None, [b for a in frame.annotators for b in a], ax, viz.SOUNDING, 1.0, "--")
            boxes = out[key]["two"] if (method == "ours" and preset == "mosaic") else out[key]["boxes"][:1]
            viz.show_boxes(None, boxes[:, :4], ax, viz.SELECTED, 1.6)
    fig.tight_layout()
    return fig


VERDICT_STYLES = {  # verdict -> (colour, marker): told apart by shape as well as colour
    "holds": ("#2ca02c", "o"),
    "contradicted": ("#d62728", "X"),
    "no difference": ("#1f77b4", "D"),
    "unresolved": ("#7f7f7f", "s"),
}


ROW_GAP = 0.6  # claims_plot: space between two claims' labels, in text lines


def claim_label(row: Mapping[str, Any], wrap: int | None = None) -> str:
    """'<source>, <data set>: <claim>' in full, wrapped at `wrap` characters per line (None: one line)."""

    text = f"{row['source']}, {row['data set'].split(' (')[0]}: {row['claim']}"
    return textwrap.fill(text, wrap, break_long_words=False) if wrap else text


def claims_plot(rows: Sequence[Mapping[str, Any]], ax: Any, wrap: int | None = None) -> Any:
    """The claims ledger as a forest plot on one axes: each claim's deciding difference with its 95 % interval,
    coloured and shaped by verdict (`VERDICT_STYLES`: green holds, red contradicted, blue no difference, grey
    unresolved), the line at 0 where a claim would change sides. Labels are the whole claim, wrapped at `wrap`
    characters; a row gets as much height as its label has lines. Returns `ax`.

    rows: `sslprop.lab.claims.gather` rows (difference, low, high, verdict, claim, data set); claims without numbers
    are left out. Give rows of one scale (points, or Fig. 3's correlation r); `claims_figure` splits them.
    """
    shown = [r for r in rows if r.get("difference") is not None]
    labels = [claim_label(r, wrap) for r in shown]
    heights = [label.count("\n") + 1 for label in labels]
    ys = np.cumsum([0.0] + [0.5 * (a + b) + ROW_GAP for a, b in zip(heights, heights[1:])]) if shown else np.zeros(0)
    for y, r in zip(ys, shown):
        colour, marker = VERDICT_STYLES.get(r["verdict"], ("black", "o"))
        ax.errorbar([r["difference"]], [y], xerr=[[r["difference"] - r["low"]], [r["high"] - r["difference"]]], fmt=marker,
                    color=colour, markersize=4, elinewidth=1.2, capsize=2.5)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(ys, labels, fontsize=6.5)
    if shown:
        ax.set_ylim(ys[-1] + 0.5 * heights[-1] + ROW_GAP, -0.5 * heights[0] - ROW_GAP)  # first claim at the top
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_xlabel("deciding difference, 95 % interval (points; Fig. 3: correlation r)", fontsize=7)
    return ax


def claims_figure(rows: Sequence[Mapping[str, Any]], width: float = 9.0, wrap: int = 60) -> Any:
    """The claims ledger's forest plot (`claims_plot`), one panel per scale: the differences in points, then Fig. 3's
    correlation r on its own axis, each panel as tall as its wrapped labels; the verdicts' legend below, off the data.

    rows: `sslprop.lab.claims.gather` rows, each with a "scale". Returns the pyplot figure.
    """

    shown = [r for r in rows if r.get("difference") is not None]
    scales = sorted({r.get("scale") or "points" for r in shown}, key=lambda s: (s != "points", s)) or ["points"]
    groups = {s: [r for r in shown if (r.get("scale") or "points") == s] for s in scales}
    lines = {s: sum(claim_label(r, wrap).count("\n") + 1 + ROW_GAP for r in g) for s, g in groups.items()}
    heights = [0.13 * max(lines[s], 1) + 0.55 for s in scales]  # inches: a text line of 6.5 pt (and the gaps), plus the axis
    fig, axes = plt.subplots(len(scales), 1, figsize=(width, sum(heights) + 0.5), squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": heights})
    for ax, s in zip(axes[:, 0], scales):
        claims_plot(groups[s], ax, wrap)
        ax.set_xlabel(f"deciding difference, 95 % interval ({s})", fontsize=7)
    used = [v for v in VERDICT_STYLES if any(r["verdict"] == v for r in shown)] or list(VERDICT_STYLES)
    handles = [Line2D([], [], color=VERDICT_STYLES[v][0], marker=VERDICT_STYLES[v][1], linestyle="none", markersize=5, label=v)
               for v in used]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=7, frameon=False)
    return fig


# --------------------------------------------------------------------------------------- curves drawn over each other

SWEEP_STYLES = {  # criterion -> line style: the OR wide and pale underneath, the single criteria on top, dashed, marked
    "on_or": {"color": "#2ca02c", "linewidth": 3.5, "alpha": 0.45, "linestyle": "-", "zorder": 2},
    "on_d": {"color": "#ff7f0e", "linewidth": 1.3, "linestyle": "--", "marker": "s", "markersize": 3.5, "markevery": (0, 10),
             "markerfacecolor": "none", "zorder": 3},
    "on_m": {"color": "#1f77b4", "linewidth": 1.3, "linestyle": "-.", "marker": "^", "markersize": 3.5, "markevery": (5, 10),
             "markerfacecolor": "none", "zorder": 4},
}


def sweep_lines(ax: Any, sweep: Mapping[str, Any], legend: bool = True) -> Any:
    """Accuracy of m_on, d_on and m_on || d_on against the d_on threshold (`onscreen.threshold_sweep`), drawn so that
    none hides another where they coincide (`SWEEP_STYLES`), with the legend below the axes. Returns `ax`."""

    for c in sorted(SWEPT, key=lambda c: SWEEP_STYLES[c]["zorder"]):
        ax.plot(sweep["threshold"], sweep[c], label=CRITERION_NAMES[c], **SWEEP_STYLES[c])
    ax.set_xlabel("d_on threshold", fontsize=8)
    ax.set_ylabel("accuracy", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=7, frameon=False)
    return ax


def threshold_sweep_figure(sweeps: Mapping[str, Mapping[str, Any]], threshold: float | None = None, size: float = 3.2) -> Any:
    """Notebook 05's sweep: one panel per data set ({name: `threshold_sweep`}), `sweep_lines` with the paper's cut
    (`threshold`, default 0.2) as a vertical line and one legend below the panels. Returns the pyplot figure."""

    fig, axes = plt.subplots(1, len(sweeps), figsize=(size * len(sweeps), size), squeeze=False, layout="constrained")
    for ax, (name, sw) in zip(axes[0], sweeps.items()):
        sweep_lines(ax, sw, legend=False)
        ax.axvline(D_ON_THRESHOLD if threshold is None else threshold, color="black", linewidth=0.8, linestyle=":",
                   label="the paper's cut")
        ax.set_title(name, fontsize=9)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=7, frameon=False)
    return fig


RECALL_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"))  # scorer j: (line style, marker)


def topk_recall_figure(rows: Sequence[Mapping[str, Any]], ks: Sequence[int], size: float = 2.8) -> Any:
    """Notebook 03's top-K recall: one panel per map, one curve per scorer with its 95 % interval, each scorer with its
    own line style and marker and shifted a little along K so that equal curves stay visible side by side; the
    share reachable by any proposal ("all proposals") as a grey line drawn over them, with room above 1.0; one
    legend below the panels.

    rows: {"map", "scorer", "K=<k>" (share), optional "K=<k> low" / "K=<k> high", "all"} per map and scorer.
    Returns the pyplot figure.
    """

    maps = list(dict.fromkeys(r["map"] for r in rows))
    scorers = list(dict.fromkeys(r["scorer"] for r in rows))
    ks = [int(k) for k in ks]
    dodge = 0.012 * max(max(ks) - min(ks), 1)  # in K: the curves side by side, not on top of each other
    fig, axes = plt.subplots(1, len(maps), figsize=(size * len(maps), size + 0.5), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, name in zip(axes[0], maps):
        for j, scorer in enumerate(scorers):
            row = next((r for r in rows if r["map"] == name and r["scorer"] == scorer), None)
            if row is None:
                continue
            x = np.array(ks, dtype=np.float64) + (j - (len(scorers) - 1) / 2) * dodge
            y = np.array([row[f"K={k}"] for k in ks], dtype=np.float64)
            style, marker = RECALL_STYLES[j % len(RECALL_STYLES)]
            if all(row.get(f"K={k} low") is not None for k in ks):
                err = [y - [row[f"K={k} low"] for k in ks], [row[f"K={k} high"] for k in ks] - y]
                ax.errorbar(x, y, yerr=err, fmt="none", ecolor=f"C{j}", elinewidth=0.7, alpha=0.6, capsize=1.5)
            ax.plot(x, y, linestyle=style, marker=marker, color=f"C{j}", markersize=4, markerfacecolor="none", linewidth=1.2,
                    label=scorer)
        ceiling = next((r["all"] for r in rows if r["map"] == name and r.get("all") is not None), None)
        if ceiling is not None:
            ax.axhline(ceiling, color="#555555", linestyle=(0, (4, 3)), linewidth=1.0, zorder=5, label="all proposals")
        ax.set_title(f"{name} map", fontsize=9)
        ax.set_xlabel("K", fontsize=8)
        ax.set_ylim(0, 1.1)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("top-K recall (IoU >= 0.5)", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=7, frameon=False)
    return fig


# --------------------------------------------------------------------------------------- the listening test


def listening_figure(rows: Sequence[Mapping[str, Any]], width: float = 7.5) -> Any:
    """Notebook 11: each method's follow rates (point, box) with their 95 % intervals beside the blind rate (|) and its
    rate when another object of the frame sounds (x), one line per method; its switch rate in a second panel.
    rows: `sslprop.lab.tables.listening_rows`. Returns the pyplot figure."""

    names = [r["method"] for r in rows]
    y = np.arange(len(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(width, 0.32 * len(rows) + 1.2), sharey=True, layout="constrained",
                                      gridspec_kw={"width_ratios": [2.0, 1.0]})
    styles = (("follow, point (%)", "#d62728", "o", -0.12), ("follow, box IoU >= 0.5 (%)", "#1f77b4", "s", 0.12))
    for column, color, marker, dy in styles:
        v = np.array([r[column] for r in rows], dtype=float)
        lo = np.array([r.get(f"{column} low", np.nan) for r in rows], dtype=float)
        hi = np.array([r.get(f"{column} high", np.nan) for r in rows], dtype=float)
        left.errorbar(v, y + dy, xerr=np.nan_to_num(np.vstack([v - lo, hi - v])), fmt=marker, color=color, markersize=4,
                      elinewidth=1, capsize=2, label=column.replace(" (%)", ""))
    for column, color, dy in (("blind, point (%)", "#d62728", -0.12), ("blind, box (%)", "#1f77b4", 0.12)):
        blind = np.array([r[column] for r in rows], dtype=float)
        left.scatter(blind, y + dy, marker="|", s=110, color=color, zorder=3, label=column.replace(" (%)", ""))
    for column, color, dy in (("other sound, point (%)", "#d62728", -0.12), ("other sound, box (%)", "#1f77b4", 0.12)):
        if all(column in r for r in rows):  # its own answers to the frame's other objects: the deaf reference at its precision
            other = np.array([r[column] for r in rows], dtype=float)
            left.scatter(other, y + dy, marker="x", s=22, color=color, linewidths=1, zorder=3, label=column.replace(" (%)", ""))
    sw = np.array([r["switch (%)"] for r in rows], dtype=float)
    right.barh(y, sw, color="#999999")
    for ax in (left, right):
        ax.set_yticks(y, names, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    left.invert_yaxis()
    left.set_xlabel("follow rate, % of (frame, object sound) pairs", fontsize=8)
    right.set_xlabel("switch rate, %", fontsize=8)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="outside lower center", ncol=3, frameon=False)
    return fig
