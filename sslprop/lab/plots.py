"""The notebooks' composite figures: Table 2/4 bar charts, the examples grid, the Fig. 3/4 sequence strips."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np

from sslprop.lab import explore
from sslprop.lab import workflow as wf
from sslprop.lab.sentences import value
from sslprop.lab.tables import METHOD_LABELS, PAPER_METHODS, Setup, read_outputs
from sslprop.lab.tracks import SequenceTrack

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
    import matplotlib.pyplot as plt

    from sslprop.lab import viz

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
    import numpy as np

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
    from sslprop.data.format import read_manifest
    from sslprop.lab import viz

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


def claims_plot(rows: Sequence[Mapping[str, Any]], ax: Any) -> Any:
    """The claims ledger as a forest plot: each claim's deciding difference with its 95 % interval, coloured by verdict
    (green holds, red contradicted, grey unresolved), the line at 0 where a claim would change sides. Returns `ax`.

    rows: `sslprop.lab.claims.gather` rows (difference, low, high, verdict, claim, data set); claims without numbers are left out.
    """
    colours = {"holds": "#2ca02c", "contradicted": "#d62728", "unresolved": "#7f7f7f"}
    shown = [r for r in rows if r.get("difference") is not None]
    for i, r in enumerate(shown):
        ax.errorbar([r["difference"]], [i], xerr=[[r["difference"] - r["low"]], [r["high"] - r["difference"]]], fmt="o",
                    color=colours.get(r["verdict"], "black"), markersize=3, elinewidth=1.0, capsize=2)
    ax.axvline(0.0, color="black", linewidth=0.8)
    labels = [f"{r['source']}, {r['data set'].split(' (')[0]}: {r['claim'][:60]}" for r in shown]
    ax.set_yticks(range(len(shown)), labels, fontsize=6)
    ax.invert_yaxis()
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("deciding difference, 95 % interval (points; Fig. 3: correlation r)", fontsize=7)
    return ax
