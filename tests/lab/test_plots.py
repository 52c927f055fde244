"""Tests for sslprop/lab/plots.py."""

from __future__ import annotations

import matplotlib
import numpy as np

from sslprop.lab import plots, published
from sslprop.lab import tracks as tracking
from tests.helpers import make_sequence

matplotlib.use("Agg")

def test_bar_chart_and_sizes_plot_draw_what_they_are_given():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    rows = [{"m": "Ours", "a": 10.0, "b": None}, {"m": "floor", "a": 5.0, "b": 7.0}]
    plots.bar_chart(rows, [{"m": "Ours", "a": 72.8, "b": 61.4}], "m", ["a", "b"], ax)
    a_bars, b_bars = ([p.get_width() for p in c] for c in ax.containers)
    assert a_bars == [10.0, 5.0] and np.isnan(b_bars[0]) and b_bars[1] == 7.0  # a missing value draws no bar
    ticks = [c.get_offsets().data.tolist() for c in ax.collections]
    assert ticks[0][0][0] == 72.8 and ticks[1][0][0] == 61.4  # the paper's values, as ticks at their rows
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    rows4 = [{"size": "10k", "train samples": 10, "cIoU@0.5 Ours": 1.0, "cIoU@0.5 Attention": 2.0, "AUC Ours": 3.0, "AUC Attention": 4.0},
             {"size": "144k", "train samples": 150, "cIoU@0.5 Ours": 5.0, "cIoU@0.5 Attention": 6.0, "AUC Ours": 7.0, "AUC Attention": 8.0}]
    plots.sizes_plot(rows4, published.PAPER_TABLE4, axes)
    lines = {ln.get_label(): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in axes[0].lines}
    assert lines["Ours (here)"] == ([10, 150], [1.0, 5.0])
    assert lines["Ours (paper, at its sizes)"] == ([10, 150], [45.4, 72.8])  # 50k and 90k are not in rows4
    assert lines["Attention (paper, at its sizes)"] == ([10, 150], [43.6, 66.0])
    plt.close(fig)


def test_pick_clips_and_sequence_figure(tmp_path):
    import cv2
    import matplotlib.pyplot as plt

    def clip(i, mode, path=None):
        s = make_sequence()
        s.id, s.meta = f"q{i}", {"mode": mode, **({"path": path, "gains": [1.0, 0.5, 0.25]} if path else {"switch_time": 1.0})}
        return s

    samples = [clip(0, "distance", "recede"), clip(1, "distance", "recede"), clip(2, "turns"), clip(3, "distance", "approach")]
    assert [s.id for s in tracking.pick_clips(samples, "distance", 2)] == ["q0", "q3"]  # one per path kind first
    assert [s.id for s in tracking.pick_clips(samples, "distance", 3)] == ["q0", "q3", "q1"]
    assert [s.id for s in tracking.pick_clips(samples, "turns", 5)] == ["q2"]
    for n in range(3):
        (tmp_path / "frames/q").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / f"frames/q/{n}.png"), np.zeros((40, 40, 3), np.uint8))
    boxes = {f"q{i}/{n}": rows for i in range(3) for n, rows in enumerate([[[0, 0, 10, 10, 0.5]], [[20, 0, 30, 10, 0.2]], []])}
    tracks = [tracking.sequence_track(s, boxes) for s in samples[:3]]
    fig = plots.sequence_figure(tmp_path, samples[:2], tracks[:2])
    assert len(fig.axes) == 2 * (3 + 1) + 2  # per row: 3 frames and the curve, plus the curve's gain axis
    assert fig.axes[0].get_title() == "0.5 s: 0.500"
    fig4 = plots.sequence_figure(tmp_path, samples[2:3], tracks[2:3], objects=True)
    assert fig4.axes[3].get_title() == "q2: A then B"
    plt.close("all")


def _ledger_row(claim, source, verdict, d, scale):
    return {"claim": claim, "source": source, "data set": "scenes (SSL)", "difference": d[0], "low": d[1], "high": d[2],
            "verdict": verdict, "scale": scale}


def test_claims_figure_keeps_whole_labels_and_puts_r_on_its_own_axis():
    import matplotlib.pyplot as plt

    long = "K = 20 is the best number of selected proposals (AUC; the paper's cIoU@0.5 has K = 30 0.3 above)"
    rows = [_ledger_row(long, "Table 3", "unresolved", (-1.2, -2.7, 0.4), "points"),
            _ledger_row("m_on || d_on is more accurate than d_on alone", "Table 1", "no difference", (0.0, 0.0, 0.0), "points"),
            _ledger_row("the confidence d_on follows the source's loudness", "Fig. 3", "holds", (0.2, 0.1, 0.3), "correlation r"),
            _ledger_row("not computed", "Fig. 5", "unresolved", (None, None, None), "points")]
    fig = plots.claims_figure(rows)
    points, r = fig.axes
    labels = [t.get_text() for t in points.get_yticklabels()]
    assert len(labels) == 2 and " ".join(labels[0].split()) == f"Table 3, scenes: {long}"  # whole, wrapped
    assert max(len(line) for line in labels[0].splitlines()) <= 60 and labels[0].count("\n") >= 1
    assert [" ".join(t.get_text().split()) for t in r.get_yticklabels()] == [
        "Fig. 3, scenes: the confidence d_on follows the source's loudness"]
    assert "points" in points.get_xlabel() and "correlation r" in r.get_xlabel()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["holds", "no difference", "unresolved"]
    plt.close(fig)


def test_recall_and_sweep_curves_do_not_hide_each_other():
    import matplotlib.pyplot as plt

    ks = [1, 10, 20]
    rows = [{"map": m, "scorer": s, **{f"K={k}": 1.0 for k in ks}, **{f"K={k} low": 0.9 for k in ks}, **{f"K={k} high": 1.0 for k in ks},
             "all": 1.0} for m in ("trained", "oracle") for s in ("sum", "mean", "soft_iou")]
    fig = plots.topk_recall_figure(rows, ks)
    ax = fig.axes[0]
    curves = [ln for ln in ax.lines if ln.get_label() in ("sum", "mean", "soft_iou")]
    assert len({(ln.get_linestyle(), ln.get_marker()) for ln in curves}) == 3  # each scorer its own style
    assert len({tuple(ln.get_xdata()) for ln in curves}) == 3  # shifted along K: equal curves side by side
    ceiling = next(ln for ln in ax.lines if ln.get_label() == "all proposals")
    assert ceiling.get_zorder() > max(ln.get_zorder() for ln in curves) and ax.get_ylim()[1] > 1.05  # the line at 1.0 stays seen
    assert ax.get_legend() is None and [t.get_text() for t in fig.legends[0].get_texts()] == ["sum", "mean", "soft_iou", "all proposals"]
    plt.close(fig)
    t = np.linspace(0, 1, 11)
    sweep = {"threshold": t, "on_m": np.full(11, 0.6), "on_d": np.full(11, 0.6), "on_or": np.full(11, 0.6)}
    fig = plots.threshold_sweep_figure({"scenes": sweep, "sequences": sweep})
    lines = [ln for ln in fig.axes[0].lines if ln.get_label() in ("m_on", "d_on", "m_on || d_on")]
    assert len({(ln.get_linestyle(), ln.get_linewidth()) for ln in lines}) == 3
    wide = next(ln for ln in lines if ln.get_label() == "m_on || d_on")
    assert all(wide.get_zorder() < ln.get_zorder() for ln in lines if ln is not wide)  # the wide OR underneath
    assert fig.axes[0].get_legend() is None and len(fig.legends) == 1
    plt.close(fig)
