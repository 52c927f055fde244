"""ipywidgets explorers of the notebooks: K and the proposal scorer, the map threshold T, any score threshold.

Every explorer is an `Explorer`: a row of controls above an output area holding one
matplotlib figure that is redrawn when a control changes. The figure is drawn once with the
default values when the explorer is built, and the explorer's rich output carries that
figure as a PNG beside the live widget, so a notebook executed headless (papermill, nbval)
or viewed where no widget can run still shows the default state.

Writing a new explorer (the pattern; see `threshold_explorer` for a complete one):

    def my_explorer(data..., value=default) -> Explorer:
        slider = ipywidgets.FloatSlider(value=value, ...)
        def draw(fig, value):                  # redraw the whole figure from the control values
            ax = fig.subplots()
            ...
        return Explorer(draw, {"value": slider})

`Explorer(draw, controls)` calls ``draw(fig, **{name: control.value})`` on a cleared figure at
construction and on every change. Keep `draw` a pure function of its arguments and the data
it closes over; heavy work (scoring all proposals, ...) belongs before the explorer is built.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib.figure import Figure
from torchvision.ops import box_iou

from sslprop.data.format import read_manifest
from sslprop.data.predfiles import load_predictions
from sslprop.errors import SSLPropError
from sslprop.evaluation.listening import answers_from_predictions, listening_frames
from sslprop.evaluation.onscreen import aligned, decisions, threshold_sweep
from sslprop.lab import viz
from sslprop.lab.plots import sweep_lines
from sslprop.models.inference import D_ON_THRESHOLD
from sslprop.ops.boxes import box_iou_np, map_box
from sslprop.ops.grm import SCORERS, check_scorer, score_boxes, select_topk

DISPLAY_DPI = 100  # the explorers' figures in the output area, and their PNG in a headless notebook


class Explorer:
    """Controls plus a figure redrawn from their values.

    draw:     draw(fig, **values), drawing on the cleared matplotlib Figure `fig`
    controls: {argument name: ipywidgets control with a `.value`}
    figsize:  figure size in inches

    Attributes: `figure` (the current matplotlib Figure), `widget` (the ipywidgets box to
    display), `output` (the ipywidgets Output area below the controls), `values()` (the current
    control values). `update(**values)` sets controls and redraws (also how tests and notebooks
    drive it without a browser).

    The figure is a `matplotlib.figure.Figure` made without pyplot, and each redraw puts it in the
    output area as a PNG (the area's `outputs` set from the kernel), so what the reader sees does not
    depend on the kernel's matplotlib backend or on which cell is running.
    """

    def __init__(self, draw: Callable[..., None], controls: Mapping[str, Any], figsize: tuple[float, float] = (6.0, 3.2)):
        self._draw = draw
        self.controls = dict(controls)
        self.figure = Figure(figsize=figsize)
        self.output = W.Output()
        self.widget = W.VBox([W.HBox(list(self.controls.values())), self.output])
        for c in self.controls.values():
            c.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def values(self) -> dict[str, Any]:
        return {name: c.value for name, c in self.controls.items()}

    def redraw(self) -> None:
        """Clear the figure, draw it from the current values, and show it (a PNG) in the output area."""

        self.figure.clear()
        self._draw(self.figure, **self.values())
        png = self.png()
        w, h = self.figure.get_size_inches() * DISPLAY_DPI
        text = ", ".join(f"{k}={v!r}" for k, v in self.values().items())
        self.output.outputs = ({"output_type": "display_data",
                                "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": f"<figure: {text}>"},
                                "metadata": {"image/png": {"width": int(round(w)), "height": int(round(h))}}},)

    def update(self, **values: Any) -> None:
        """Set controls by name (each change redraws) and redraw once more."""
        for name, value in values.items():
            if name not in self.controls:
                raise SSLPropError(f"explorer has no control {name!r} (controls: {', '.join(self.controls)})")
            self.controls[name].value = value
        self.redraw()

    def png(self, dpi: int | None = None) -> bytes:
        """The current figure as PNG bytes (at `DISPLAY_DPI` unless `dpi` is given)."""
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=dpi or DISPLAY_DPI, metadata={"Software": None}, facecolor="white")
        return buf.getvalue()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The live widget where a front end can run it, and the default figure as PNG everywhere else."""
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        bundle["image/png"] = self.png()
        bundle["text/plain"] = f"<{type(self).__name__}: {', '.join(f'{k}={v!r}' for k, v in self.values().items())}>"
        return bundle


def k_scorer_explorer(
    image: np.ndarray,
    g: Any,
    proposals: Any,
    gt_boxes: Any = None,
    k: int = 20,
    scorer: str = "mean",
    max_k: int = 50,
) -> Explorer:
    """K slider and scorer dropdown redrawing the top-K proposals of one frame on its GRM.

    Args:
        image: RGB uint8 (S, S, 3), the frame as the model saw it.
        g: Tensor[S, S] (or array), the frame's GRM g_n.
        proposals: Tensor[P, 4], every proposal of the frame, xyxy pixels of the S x S frame.
        gt_boxes: Tensor[G, 4] or None, the annotators' boxes (green) for reference.
        k, scorer: the initial K and scorer (one of `sslprop.ops.grm.SCORERS`).
        max_k: the slider's upper end, at most the frame's P proposals (`k_bounds`).
    Left: the frame with the top-K proposals (best in orange, labelled "best", the others in blue); right:
    the GRM with the same boxes. The title gives how many of the K reach IoU >= 0.5 with an
    annotator's box, and says "all P" when K reaches the frame's proposals.
    """

    check_scorer(scorer)
    g_t = torch.as_tensor(g).float()
    props = torch.as_tensor(proposals).float().reshape(-1, 4)
    gt = None if gt_boxes is None else torch.as_tensor(gt_boxes).float().reshape(-1, 4)
    k, top_k = k_bounds(k, max_k, len(props))
    ranked = {s: select_topk([props], score_boxes(g_t[None], [props], s), top_k) for s in SCORERS}

    def draw(fig: Any, k: int, scorer: str) -> None:
        top = ranked[scorer]
        keep = top.mask[0, :k]
        boxes = top.boxes[0, :k][keep]  # (k', 4), best first
        axes = fig.subplots(1, 2)
        hits = 0 if gt is None or not len(gt) or not len(boxes) else int((box_iou(boxes, gt).amax(dim=1) >= 0.5).sum())
        viz.show_boxes(image, boxes[1:], axes[0], viz.PROPOSAL, 0.7)
        if gt is not None:
            viz.show_boxes(None, gt, axes[0], viz.SOUNDING, 1.2, "--")
        viz.show_boxes(None, boxes[:1], axes[0], viz.SELECTED, 1.8, labels=["best"])
        axes[0].set_title(f"{topk_phrase(k, len(props))} by '{scorer}': {hits} with IoU >= 0.5", fontsize=8)
        viz.show_map(None, g_t, axes[1], title="GRM g with the same boxes")
        viz.show_boxes(None, boxes[1:], axes[1], "white", 0.7)
        viz.show_boxes(None, boxes[:1], axes[1], viz.SELECTED, 1.8, labels=["best"])
        fig.tight_layout()

    controls = {
        "k": W.IntSlider(value=k, min=1, max=top_k, step=1, description="K", continuous_update=False),
        "scorer": W.Dropdown(options=list(SCORERS), value=scorer, description="scorer"),
    }
    return Explorer(draw, controls, figsize=(6.4, 3.4))


def k_bounds(k: int, max_k: int, proposals: int) -> tuple[int, int]:
    """(initial K, slider maximum) for a frame with `proposals` proposals: the maximum is min(max_k, proposals),
    at least 1, and K is clipped into [1, maximum]."""
    top = max(1, min(int(max_k), int(proposals)))
    return min(max(1, int(k)), top), top


def topk_phrase(k: int, proposals: int) -> str:
    """'top K', or 'all P' when K reaches the frame's P proposals."""
    return f"all {proposals}" if k >= proposals else f"top {k}"


def map_threshold_explorer(image: np.ndarray, score_map: Any, gt_boxes: Any = None, threshold: float = 0.5,
                           title: str = "map-based box") -> Explorer:
    """Threshold slider redrawing the box a map-based method reads from a map (Fig. 1's threshold problem).

    Args:
        image: RGB uint8 (H, W, 3).
        score_map: Tensor[H, W] (or array), the location map on the image's grid.
        gt_boxes: Tensor[G, 4] or None, annotators' boxes (green, dashed); the title gives the
            box's best IoU with them.
        threshold: initial T; the box is `sslprop.ops.boxes.map_box(score_map, T)`, the tight box of
            the pixels at or above T after min-max normalisation.
    Left: the frame with the box; right: the min-max map with its T contour.
    """

    m = torch.as_tensor(score_map).float()
    lo, hi = float(m.min()), float(m.max())
    norm = ((m - lo) / (hi - lo) if hi > lo else torch.zeros_like(m)).numpy()
    gt = None if gt_boxes is None else np.asarray(torch.as_tensor(gt_boxes).float().reshape(-1, 4))

    def draw(fig: Any, threshold: float) -> None:
        box = map_box(m, threshold).tolist()
        axes = fig.subplots(1, 2)
        viz.show_boxes(image, [box], axes[0], viz.SELECTED, 1.8)
        text = f"{title}, T = {threshold:.2f}"
        if gt is not None and len(gt):
            viz.show_boxes(None, gt, axes[0], viz.SOUNDING, 1.2, "--")
            text += f": IoU {max(box_iou_np(box, b) for b in gt):.2f}"
        axes[0].set_title(text, fontsize=8)
        viz.show_map(None, norm, axes[1], title="min-max map, contour at T")
        axes[1].contour(norm, levels=[min(max(threshold, 1e-6), 1.0)], colors="white", linewidths=1.0)
        viz.show_boxes(None, [box], axes[1], viz.SELECTED, 1.5)
        fig.tight_layout()

    controls = {"threshold": W.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.05, description="T",
                                           continuous_update=False, readout_format=".2f")}
    return Explorer(draw, controls, figsize=(6.4, 3.4))


def threshold_rates(values: Sequence[float], labels: Sequence[bool], threshold: float) -> dict[str, float]:
    """Decide "positive" where value > threshold; accuracy, true-positive and false-positive rates against `labels`.

    Returns {"accuracy", "tpr", "fpr"}; a rate whose class is absent is NaN.
    """
    v = np.asarray(values, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if v.shape != y.shape or v.ndim != 1 or not len(v):
        raise SSLPropError(f"threshold_rates: {v.shape} values for {y.shape} labels (need equal, non-empty 1-D)")
    pred = v > threshold
    pos, neg = y.sum(), (~y).sum()
    return {
        "accuracy": float((pred == y).mean()),
        "tpr": float((pred & y).sum() / pos) if pos else float("nan"),
        "fpr": float((pred & ~y).sum() / neg) if neg else float("nan"),
    }


def threshold_explorer(values: Sequence[float], labels: Sequence[bool], threshold: float = 0.2,
                       name: str = "score", classes: tuple[str, str] = ("negative", "positive"),
                       limits: tuple[float, float] | None = None, bins: int = 20) -> Explorer:
    """A threshold slider over any score with binary labels: histograms per class, the cut, and its rates.

    Args:
        values: one score per item (e.g. d_on = max_k d_k per frame).
        labels: True for the positive class (e.g. on-screen).
        threshold: initial cut; an item is called positive where value > threshold (as `d_on > 0.2`).
        name: the score's name for the axis; classes: (negative, positive) names for the legend.
        limits: slider range (default: the values' min and max).
    The title gives accuracy, true-positive and false-positive rates at the cut (`threshold_rates`).
    """
    v = np.asarray(values, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    threshold_rates(v, y, threshold)  # validates the inputs
    lo, hi = limits if limits is not None else (float(v.min()), float(v.max()))
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)

    def draw(fig: Any, threshold: float) -> None:
        ax = fig.subplots()
        ax.hist(v[~y], bins=edges, alpha=0.6, label=classes[0], color="#d62728")
        ax.hist(v[y], bins=edges, alpha=0.6, label=classes[1], color="#2ca02c")
        ax.axvline(threshold, color="black", linewidth=1.2)
        r = threshold_rates(v, y, threshold)
        ax.set_title(f"{name} > {threshold:.3f}: accuracy {r['accuracy']:.2f}, TPR {r['tpr']:.2f}, FPR {r['fpr']:.2f}", fontsize=8)
        ax.set_xlabel(name, fontsize=8)
        ax.legend(fontsize=7)
        fig.tight_layout()

    step = (hi - lo) / 100
    controls = {"threshold": W.FloatSlider(value=float(np.clip(threshold, lo, hi)), min=lo, max=hi, step=step, description="T",
                                           continuous_update=False, readout_format=".3f")}
    return Explorer(draw, controls, figsize=(5.0, 3.0))


def table1_explorer(records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, bool], threshold: float = D_ON_THRESHOLD,
                    title: str = "", steps: int = 101) -> Any:
    """A d_on threshold slider redrawing Table 1's accuracies (a `sslprop.lab.widgets.Explorer`).

    Left: d_on of on-screen and off-screen frames with the cut; right: accuracy of m_on, d_on and
    m_on || d_on against the threshold, the current one marked; the title gives the three accuracies.
    The slider spans [0, 1] (d_k lies in [0, 1]); `steps` points are precomputed for the curves.
    """

    _, d_on, on_m, y = aligned(records, labels)
    sweep = threshold_sweep(records, labels, np.linspace(0.0, 1.0, steps))
    lo, hi = float(min(d_on.min(), threshold)), float(max(d_on.max(), threshold))
    pad = max(hi - lo, 1e-3) * 0.1
    edges = np.linspace(lo - pad, hi + pad, 21)

    def draw(fig: Any, threshold: float) -> None:
        ax_h, ax_a = fig.subplots(1, 2)
        ax_h.hist(d_on[~y], bins=edges, alpha=0.6, color="#d62728", label=f"off-screen ({int((~y).sum())})")
        ax_h.hist(d_on[y], bins=edges, alpha=0.6, color="#2ca02c", label=f"on-screen ({int(y.sum())})")
        ax_h.axvline(threshold, color="black", linewidth=1.2)
        ax_h.set_xlabel("d_on = max_k d_k", fontsize=8)
        ax_h.set_ylabel("frames", fontsize=8)
        ax_h.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=7, frameon=False)
        ax_h.tick_params(labelsize=7)
        sweep_lines(ax_a, sweep)  # the three criteria, none hidden under another, legend below
        ax_a.axvline(threshold, color="black", linewidth=1.0)
        acc = {c: float((v == y).mean()) for c, v in decisions(d_on, on_m, threshold).items()}
        fig.suptitle(f"{title}{': ' if title else ''}d_on > {threshold:.2f}: accuracy m_on {acc['on_m']:.2f}, "
                     f"d_on {acc['on_d']:.2f}, m_on || d_on {acc['on_or']:.2f}", fontsize=8)
        fig.tight_layout()

    slider = W.FloatSlider(value=float(threshold), min=0.0, max=1.0, step=0.01, description="d_on T",
                           continuous_update=False, readout_format=".2f")
    return Explorer(draw, {"threshold": slider}, figsize=(7.0, 3.4))


def sound_swap_explorer(frame: np.ndarray, results: Mapping[str, Any], sound: str | None = None, k: int = 3,
                        d_threshold: float = D_ON_THRESHOLD, gt_boxes: Any = None,
                        objects: Mapping[str, Sequence[float]] | None = None,
                        sources: Mapping[str, str | None] | None = None) -> Explorer:
    """A sound menu over one frame: the boxes and d_on as the model ranks them with each sound (`localize.swap_sounds`).

    Args:
        frame: (H, W, 3) uint8 RGB.
        results: {sound name: FrameResult} from `sslprop.engine.localize.swap_sounds` on this frame.
        sound: the sound shown first (default: the first).
        k: boxes drawn: the best (orange, labelled "best") and the next k - 1 (blue, thinner).
        gt_boxes: the sounding object's box(es), drawn green when given (without `objects`).
        objects: {label: xyxy box} of the objects in view, each labelled; with `sources`, the object that
            makes the chosen sound is drawn green and solid ("<label>: this sound"), the others grey and dashed.
        sources: {sound name: label of the object in `objects` that makes it, or None (no object in view)}.
    Left: the frame with the boxes of the chosen sound, titled with its d_on and the on/off-screen
    call (d_on > `d_threshold`); right: d_on of every sound, the chosen one marked.
    """

    if not results:
        raise SSLPropError("sound_swap_explorer: no sound to show")
    names = list(results)
    if sound is not None and sound not in results:
        raise SSLPropError(f"sound {sound!r}: choose from {', '.join(names)}")
    unknown = [lab for lab in (sources or {}).values() if lab is not None and lab not in (objects or {})]
    if unknown:
        raise SSLPropError(f"sound_swap_explorer: source {unknown[0]!r} is not one of the objects ({', '.join(objects or {}) or 'none'})")

    def draw(fig: Any, sound: str) -> None:
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1.0]})
        r = results[sound]
        on = r.d_on > d_threshold
        viz.show_image(frame, left, f"{sound}: d_on {r.d_on:.3f} ({'on' if on else 'off'}-screen)")
        if objects:
            source = (sources or {}).get(sound)
            for label, box in objects.items():
                mine = label == source
                viz.show_boxes(None, [box], ax=left, color=viz.SOUNDING if mine else viz.SILENT, linewidth=1.4 if mine else 1.0,
                               linestyle="-" if mine else "--", labels=[f"{label}: this sound" if mine else label])
        elif gt_boxes is not None:
            viz.show_boxes(None, gt_boxes, ax=left, color=viz.SOUNDING, linewidth=1.2)
        viz.show_boxes(None, r.boxes[1:k, :4], ax=left, color=viz.PROPOSAL, linewidth=0.8)
        viz.show_boxes(None, r.boxes[:1, :4], ax=left, color=viz.SELECTED, linewidth=1.6, labels=["best"])
        d = [results[n].d_on for n in names]
        right.barh(range(len(names)), d, color=[viz.SELECTED if n == sound else "#bbbbbb" for n in names])
        right.axvline(d_threshold, color="black", linewidth=0.8, linestyle=":")
        right.set_yticks(range(len(names)), [textwrap.fill(n, 18) for n in names], fontsize=7)
        right.invert_yaxis()
        right.set_xlabel("d_on", fontsize=8)
        right.tick_params(labelsize=7)
        fig.tight_layout()

    controls = {"sound": W.Dropdown(options=names, value=sound or names[0], description="sound",
                                    layout=W.Layout(width="max-content"))}
    return Explorer(draw, controls, figsize=(6.4, 3.2))


def listening_explorer(data: Any, predictions: Mapping[str, Any], frames: Sequence[str] | None = None,
                       frame: str | None = None, sound: str | None = None, columns: int = 4) -> Explorer:
    """Pick a frame of a listening set and a sound: each method's answer to it, side by side (notebook 11).

    Args:
        data: a listening set (`synth --preset listening`).
        predictions: {method label: its `sslprop predict` folder on `data`}: a box method is drawn with its best box
            (orange, "best"), a map method with its map and its peak (a cross) and the box `predict` read from it.
        frames: the frame ids offered (default: the first 8 of the set); only their predictions are loaded.
        frame, sound: what is shown first ("o<j>" for object j's sound, "silence", "noise", "offscreen").
    Every panel shows the objects in view, the one whose sound plays green and solid, the others grey and dashed.
    """

    samples = read_manifest(data, "test")
    by_frame = {f.frame: f for f in listening_frames(samples)}
    frames = list(frames or list(by_frame)[:8])
    missing = [f for f in frames if f not in by_frame]
    if missing or not frames:
        raise SSLPropError(f"listening_explorer: no frame {missing[0] if missing else '(none given)'} in {data}")
    keep = {sid for f in frames for sid in list(by_frame[f].played.values()) + list(by_frame[f].others.values())}
    chosen = [s for s in samples if s.id in keep]
    answers = {label: answers_from_predictions(p, chosen) for label, p in predictions.items()}
    maps = {}
    for label, p in predictions.items():
        if all(a.kind == "map" for a in answers[label].values()):
            m = load_predictions(Path(p) / "maps.npz").data
            maps[label] = {k: m[k] for k in keep}
    images = {f: viz.load_frame(data, next(s for s in chosen if s.meta["frame"] == f).frames[0]) for f in frames}

    def sounds_of(f: str) -> dict[str, str]:
        fr = by_frame[f]
        out = {f"o{j}": f"object {j}'s sound ({fr.objects[j].label})" for j in sorted(fr.played)}
        out.update({name: name for name in fr.others})
        return out

    def sample_id(f: str, s: str) -> str:
        fr = by_frame[f]
        return fr.played[int(s[1:])] if s.startswith("o") and s[1:].isdigit() else fr.others[s]

    labels = list(predictions)
    rows = -(-len(labels) // columns)

    def draw(fig: Any, frame: str, sound: str) -> None:
        if sound not in sounds_of(frame):
            sound = next(iter(sounds_of(frame)))
        fr, sid = by_frame[frame], sample_id(frame, sound)
        source = int(sound[1:]) if sound.startswith("o") and sound[1:].isdigit() else None
        axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
        for ax, label in zip(axes, labels):
            a = answers[label][sid]
            if label in maps:
                viz.show_map(images[frame], maps[label][sid], ax, alpha=0.5)
            else:
                viz.show_image(images[frame], ax)
            for j, o in enumerate(fr.objects):
                mine = j == source
                viz.show_boxes(None, [o.box], ax=ax, color=viz.SOUNDING if mine else viz.SILENT, linewidth=1.3 if mine else 0.7,
                               linestyle="-" if mine else "--")
            if a.box is not None:
                viz.show_boxes(None, [a.box], ax=ax, color=viz.SELECTED, linewidth=1.5, labels=["best"])
            if a.point is not None:
                ax.plot([a.point[0]], [a.point[1]], marker="x", color="white", markersize=7, markeredgewidth=2)
            ax.set_title(textwrap.fill(label, 24), fontsize=7)
        for ax in axes[len(labels):]:
            ax.axis("off")
        fig.suptitle(f"{frame}, {sounds_of(frame)[sound]}", fontsize=8)
        fig.tight_layout()

    first = frame or frames[0]
    f_control = W.Dropdown(options=frames, value=first, description="frame", layout=W.Layout(width="max-content"))
    options = [(v, k) for k, v in sounds_of(first).items()]
    s_control = W.Dropdown(options=options, value=sound or options[0][1], description="sound", layout=W.Layout(width="max-content"))

    def new_frame(change: Any) -> None:  # the sounds follow the frame's objects
        opts = [(v, k) for k, v in sounds_of(change["new"]).items()]
        s_control.options = opts
        s_control.value = opts[0][1]

    f_control.observe(new_frame, names="value")
    return Explorer(draw, {"frame": f_control, "sound": s_control}, figsize=(2.2 * columns, 2.3 * rows + 0.3))
