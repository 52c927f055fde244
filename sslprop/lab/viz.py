"""Figures and tables of the notebooks: drawing frames, boxes, maps and spectrograms, and saving them under figures/.

Drawing functions take an optional matplotlib ``ax``; without one they make a new figure
(pyplot, so a notebook shows it at the end of the cell) and return it. Boxes are absolute
pixels ``(x1, y1, x2, y2)`` of the image they are drawn on (`Tensor[N, 4]` or `(N, 4)` arrays).

Outputs are reproducible byte for byte: `save_figure` writes PNG at a fixed dpi without the
software/time metadata, `save_table` writes Markdown and CSV with a fixed number format.

Intervals: a row whose column ``c`` comes with ``"c low"`` and ``"c high"`` (a 95 % bootstrap interval,
`sslprop.lab.tables.cells`) keeps the three as numbers in the CSV and shows them as one cell
``"41.2 [38.0, 44.5]"`` in the Markdown file and in `frame`, the pandas table a notebook displays.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Audio
from matplotlib.colors import to_rgb
from matplotlib.patches import Rectangle

from sslprop.data.dataset import read_frame
from sslprop.errors import SSLPropError
from sslprop.utils import atomic_write_bytes, atomic_write_text

DPI = 100  # every saved figure
SOUNDING = "#2ca02c"  # green: an object that sounds / the annotated source
SILENT = "#bbbbbb"  # grey: a visible object that does not sound
ANNOTATOR_STYLES = ("-", "--", ":")  # annotator a draws with ANNOTATOR_STYLES[a % 3]
PROPOSAL = "#1f77b4"  # blue: proposals
SELECTED = "#ff7f0e"  # orange: the selected / predicted box
FLOAT_FORMAT = "{:.3f}"


# --------------------------------------------------------------------------------------- saving


def save_figure(fig: Any, name: str, figures_dir: str | os.PathLike, dpi: int = DPI) -> Path:
    """Write `fig` to ``figures_dir/name.png`` (fixed dpi, no timestamp or software metadata); returns the path.

    The same figure gives the same bytes on every run, so regenerated figures diff cleanly.
    """

    if not name or "/" in name or name.endswith(".png"):
        raise SSLPropError(f"figure name {name!r}: give a bare name such as '01_samples' (no folder, no .png)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    path = Path(figures_dir) / f"{name}.png"
    atomic_write_bytes(path, buf.getvalue())
    return path


def _normalise_rows(rows: Any, columns: Sequence[str] | None) -> tuple[list[str], list[list[Any]]]:
    """rows as a list of dicts, a list of sequences (with `columns`) or a dict of columns -> (columns, cell rows)."""
    if isinstance(rows, Mapping):  # {column: [values]}
        cols = list(columns or rows.keys())
        n = len(next(iter(rows.values()))) if rows else 0
        if any(len(rows[c]) != n for c in cols):
            raise SSLPropError("save_table: the columns of a dict table must have equal lengths")
        return cols, [[rows[c][i] for c in cols] for i in range(n)]
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        cols = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
        return cols, [[r.get(c, "") for c in cols] for r in rows]
    if columns is None:
        raise SSLPropError("save_table: rows given as sequences need `columns`")
    cols = list(columns)
    out = [list(r) for r in rows]
    if any(len(r) != len(cols) for r in out):
        raise SSLPropError(f"save_table: every row needs {len(cols)} cells ({', '.join(cols)})")
    return cols, out


def format_cell(value: Any, float_format: str = FLOAT_FORMAT) -> str:
    """A table cell as text: floats with `float_format`, None and NaN as '-', the rest str()."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return "-" if np.isnan(value) else float_format.format(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def merge_intervals(rows: Sequence[Mapping[str, Any]], float_format: str = FLOAT_FORMAT) -> list[dict[str, Any]]:
    """Rows with each ``c``, ``"c low"``, ``"c high"`` triple turned into one text cell ``"v [low, high]"`` (other cells kept)."""
    out = []
    for r in rows:
        row: dict[str, Any] = {}
        for c, v in r.items():
            if (c.endswith(" low") and c[:-4] in r and f"{c[:-4]} high" in r) or (
                    c.endswith(" high") and c[:-5] in r and f"{c[:-5]} low" in r):
                continue
            lo, hi = r.get(f"{c} low"), r.get(f"{c} high")
            if v is not None and v != "" and lo not in (None, "") and hi not in (None, ""):
                v = f"{format_cell(v, float_format)} [{format_cell(lo, float_format)}, {format_cell(hi, float_format)}]"
            row[c] = v
        out.append(row)
    return out


def frame(rows: Any, columns: Sequence[str] | None = None, float_format: str = FLOAT_FORMAT, index: str | None = None) -> Any:
    """A pandas DataFrame of `rows` for a notebook to display (intervals merged, `merge_intervals`; numbers as
    `float_format` text, so the rendered table is the same on every run); `index`: a column to use as row labels."""

    cols, cells = _normalise_rows(rows, columns)
    merged = merge_intervals([dict(zip(cols, r)) for r in cells], float_format)
    df = pd.DataFrame([{c: format_cell(v, float_format) for c, v in r.items()} for r in merged])
    return df.set_index(index) if index is not None and index in df.columns else df


def format_table(rows: Any, columns: Sequence[str] | None = None, float_format: str = FLOAT_FORMAT) -> str:
    """A Markdown (pipe) table of `rows` (list of dicts, list of sequences with `columns`, or dict of columns).

    Deterministic text, so a notebook can print it in a cell whose output CI compares.
    """
    cols, cells = _normalise_rows(rows, columns)
    text = [[format_cell(v, float_format).replace("|", "\\|") for v in r] for r in cells]
    head = "| " + " | ".join(cols) + " |"
    rule = "|" + "|".join("---" for _ in cols) + "|"
    return "\n".join([head, rule] + ["| " + " | ".join(r) + " |" for r in text]) + "\n"


def save_table(rows: Any, name: str, figures_dir: str | os.PathLike, columns: Sequence[str] | None = None,
               float_format: str = FLOAT_FORMAT) -> tuple[Path, Path]:
    """Write ``figures_dir/name.md`` (pipe table, intervals merged) and ``name.csv`` (RFC 4180, '\\n' line ends); returns both paths.

    rows: a list of dicts (columns: `columns` or the keys in first-seen order), a list of sequences
    with `columns`, or a dict of equal-length columns. Floats are written with `float_format` in both
    files, so the files are identical on every run with the same numbers.
    """

    if not name or "/" in name or "." in name:
        raise SSLPropError(f"table name {name!r}: give a bare name such as '01_datasets' (no folder, no extension)")
    cols, cells = _normalise_rows(rows, columns)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for r in cells:
        writer.writerow([format_cell(v, float_format) for v in r])
    md = Path(figures_dir) / f"{name}.md"
    csv_path = Path(figures_dir) / f"{name}.csv"
    atomic_write_text(md, format_table(merge_intervals([dict(zip(cols, r)) for r in cells], float_format), None, float_format))
    atomic_write_text(csv_path, buf.getvalue())
    return md, csv_path


def paper_beside(ours: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str,
                 columns: Sequence[str], labels: tuple[str, str] = ("ours", "paper")) -> list[dict[str, Any]]:
    """Rows of our numbers next to the paper's: for each `key` value, ``<column> (ours)`` then ``<column> (paper)``.

    Rows are matched on `key`; a row or value one side lacks shows as None ('-' in tables).
    Order: our rows first, then the paper's rows that we do not have.
    """
    theirs = {r[key]: r for r in paper}
    mine = {r[key]: r for r in ours}
    order = list(mine) + [k for k in theirs if k not in mine]
    out = []
    for k in order:
        row: dict[str, Any] = {key: k}
        for c in columns:
            row[f"{c} ({labels[0]})"] = mine.get(k, {}).get(c)
            for end in (" low", " high"):  # our interval, when the row has one
                if mine.get(k, {}).get(c + end) is not None:
                    row[f"{c} ({labels[0]}){end}"] = mine[k][c + end]
            row[f"{c} ({labels[1]})"] = theirs.get(k, {}).get(c)
        out.append(row)
    return out


# --------------------------------------------------------------------------------------- drawing


def _axes(ax: Any, figsize: tuple[float, float] = (3.2, 3.2)) -> tuple[Any, Any]:
    """(figure, axes): `ax`'s own, or a new pyplot figure with one axes."""
    if ax is not None:
        return ax.figure, ax

    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _as_boxes(boxes: Any) -> np.ndarray:
    """Tensor[N, 4] / array / list of boxes -> float (N, 4) array."""
    if hasattr(boxes, "detach"):
        boxes = boxes.detach().cpu().numpy()
    arr = np.asarray(boxes, dtype=np.float64)
    return arr.reshape(-1, 4)


def show_image(image: np.ndarray, ax: Any = None, title: str | None = None) -> Any:
    """Draw an RGB uint8 (H, W, 3) image without ticks; returns the figure."""
    fig, ax = _axes(ax)
    ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
    return fig


@functools.cache
def _framed_box() -> type:
    """The box artist of `show_boxes`: a `Rectangle` whose sides on the image border are drawn just inside it."""

    class FramedBox(Rectangle):
        """A box outline (imshow coordinates, pixel edges) whose sides that lie on or beyond the border of the axes'
        first image are drawn just inside it, so the whole stroke shows (an edge box would otherwise sit on the
        axes' border, half clipped, or look like a stray line). The inset is half the line width, computed at draw
        time from the axes' final size, so it holds after `tight_layout` and at any dpi."""

        def __init__(self, box: Sequence[float], **kw: Any) -> None:
            self.box = tuple(float(v) for v in box)  # x1, y1, x2, y2 in data coordinates
            x1, y1, x2, y2 = self.box
            super().__init__((x1, y1), x2 - x1, y2 - y1, fill=False, **kw)

        def inset_bounds(self, renderer: Any = None) -> tuple[float, float, float, float]:
            """(x1, y1, x2, y2) as drawn: each side on or beyond the image border moved in by half the line width."""
            x1, y1, x2, y2 = self.box
            ax = self.axes
            if ax is None or not ax.images:
                return self.box
            e = ax.images[0].get_extent()
            left, right, top, bottom = min(e[0], e[1]), max(e[0], e[1]), min(e[2], e[3]), max(e[2], e[3])
            points = self.get_linewidth() / 2
            pixels = renderer.points_to_pixels(points) if renderer is not None else points * ax.figure.dpi / 72
            (px0, py0), (px1, py1) = ax.transData.transform([(0.0, 0.0), (1.0, 1.0)])
            dx, dy = pixels / max(abs(px1 - px0), 1e-9), pixels / max(abs(py1 - py0), 1e-9)  # in data units
            x1, y1 = max(x1, left + dx), max(y1, top + dy)
            x2, y2 = min(x2, right - dx), min(y2, bottom - dy)
            return x1, y1, max(x2, x1), max(y2, y1)

        def draw(self, renderer: Any) -> None:
            x1, y1, x2, y2 = self.inset_bounds(renderer)
            self.set_bounds(x1, y1, x2 - x1, y2 - y1)
            super().draw(renderer)

    return FramedBox


def _ink(color: Any) -> str:
    """Black or white, whichever reads better on `color` (a label's ground)."""

    r, g, b = to_rgb(color)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def show_boxes(image: np.ndarray | None, boxes: Any, ax: Any = None, color: str = PROPOSAL, linewidth: float = 1.0,
               linestyle: str = "-", labels: Sequence[str] | None = None, title: str | None = None) -> Any:
    """Draw xyxy `boxes` (pixels of `image`) as rectangles, on `image` when given; returns the figure.

    Every box plot of the notebooks and widgets draws with this one helper. A box whose side lies on the
    frame's border (a whole-frame or full-width proposal) is drawn with that side just inside the frame,
    so its whole line shows instead of sitting on the axes' border.
    labels: one short text per box, written at its top-left corner (inside the box when the box starts at
    the top of the frame, where the text would otherwise leave the picture), on a ground of the box's colour.
    """
    fig, ax = _axes(ax)
    if image is not None:
        show_image(image, ax, title)
    elif title:
        ax.set_title(title, fontsize=8)
    top = None
    if ax.images:
        e = ax.images[0].get_extent()
        top = min(e[2], e[3])
    for i, (x1, y1, x2, y2) in enumerate(_as_boxes(boxes)):
        # pixel-edge boxes: pixel j covers [j - 0.5, j + 0.5] in imshow's coordinates
        ax.add_patch(_framed_box()((x1 - 0.5, y1 - 0.5, x2 - 0.5, y2 - 0.5), edgecolor=color, linewidth=linewidth,
                                     linestyle=linestyle))
        if labels is not None and i < len(labels) and labels[i]:
            inside = top is not None and y1 - 0.5 <= top + 1.0
            ax.text(x1 + (1.0 if inside else -0.5), y1 + (1.0 if inside else -1.0), labels[i], color=_ink(color), fontsize=6,
                    va="top" if inside else "bottom", clip_on=True,
                    bbox={"boxstyle": "square,pad=0.15", "facecolor": color, "edgecolor": "none", "alpha": 0.85})
    return fig


class Prose:
    """Generated paragraphs for a notebook to show as text: rendered as Markdown in Jupyter (lines wrap between
    words at the width of the page, unlike printed text, which JupyterLab may break inside a word), and wrapped at
    `width` characters as plain text (papermill, nbval, a terminal). Characters Markdown would read as markup
    (``_``, ``|``, ``*``, ...) are escaped, so the text shows as written."""

    MARKUP = "\\`*_{}[]<>#|"

    def __init__(self, *paragraphs: str, width: int = 100) -> None:
        self.paragraphs = [str(p) for p in paragraphs if p]
        self.width = width

    def _repr_markdown_(self) -> str:
        return "\n\n".join("".join("\\" + c if c in self.MARKUP else c for c in p) for p in self.paragraphs)

    def __repr__(self) -> str:
        return "\n\n".join(textwrap.fill(p, self.width, break_long_words=False) for p in self.paragraphs)


def prose(*paragraphs: str, width: int = 100) -> Prose:
    """`Prose` of the given paragraphs (empty ones dropped): ``display(viz.prose(text, ...))`` instead of ``print``."""
    return Prose(*paragraphs, width=width)


def load_frame(root: str | os.PathLike, frame: Any) -> np.ndarray:
    """The stored frame of a `Frame` of the data set at `root` as RGB uint8 (H, W, 3)."""

    return read_frame(Path(root) / frame.path)


def sample_title(sample: Any, frame_index: int = 0) -> str:
    """'<id> <classes> on-screen/off-screen' for a sample's frame."""
    on = sample.frames[frame_index].onscreen
    state = {True: "on-screen", False: "off-screen", None: "on/off unknown"}[on]
    return f"{sample.id}: {', '.join(sample.classes) or '?'} ({state})"


def show_sample(root: str | os.PathLike, sample: Any, frame_index: int = 0, ax: Any = None, objects: bool = True,
                annotators: bool = True, title: str | None = None) -> Any:
    """A sample's frame with its annotation: every annotator's boxes and the objects, sounding or silent.

    Objects: sounding in green, silent in grey (dashed), each labelled with its class. Annotators'
    boxes in green, annotator a with line style ANNOTATOR_STYLES[a % 3]. Returns the figure.
    """
    f = sample.frames[frame_index]
    fig, ax = _axes(ax)
    show_image(load_frame(root, f), ax, title if title is not None else sample_title(sample, frame_index))
    if objects:
        for o in f.objects:
            show_boxes(None, [o.box], ax, SOUNDING if o.sounding else SILENT, 0.8, "-" if o.sounding else "--",
                       [o.label + ("" if o.sounding else " (silent)")])
    if annotators:
        for a, boxes in enumerate(f.annotators):
            show_boxes(None, boxes, ax, SOUNDING, 1.5, ANNOTATOR_STYLES[a % len(ANNOTATOR_STYLES)])
    return fig


def show_spectrogram(patch: Any, ax: Any = None, title: str | None = None, hop_seconds: float = 0.010) -> Any:
    """A log-mel patch, Tensor[1, T, n_mels] or (T, n_mels) (e.g. `sslprop.data.audio.logmel_patch`), time on x.

    Returns the figure. The y axis is the mel band index (low bands at the bottom).
    """
    x = patch.detach().cpu().numpy() if hasattr(patch, "detach") else np.asarray(patch)
    x = x.reshape(-1, x.shape[-1])  # (T, n_mels)
    fig, ax = _axes(ax, (4.0, 2.4))
    ax.imshow(x.T, origin="lower", aspect="auto", cmap="magma", extent=(0, x.shape[0] * hop_seconds, 0, x.shape[1]))
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("mel band", fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=8)
    return fig


def show_map(image: np.ndarray | None, score_map: Any, ax: Any = None, alpha: float = 0.55, cmap: str = "jet",
             title: str | None = None, colorbar: bool = False) -> Any:
    """A map (H', W') drawn over `image` (H, W, 3), stretched to the image (nearest pixels, no resampling).

    score_map: Tensor or array; shown as is (its own min to max). Without an image the map
    is drawn alone. Returns the figure.
    """
    m = score_map.detach().float().cpu().numpy() if hasattr(score_map, "detach") else np.asarray(score_map, dtype=np.float64)
    fig, ax = _axes(ax)
    if image is not None:
        show_image(image, ax, title)
        h, w = image.shape[:2]
        im = ax.imshow(m, cmap=cmap, alpha=alpha, extent=(-0.5, w - 0.5, h - 0.5, -0.5), interpolation="nearest")
    else:
        im = ax.imshow(m, cmap=cmap, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if title:
            ax.set_title(title, fontsize=8)
    if colorbar:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return fig


def grid(rows: int, cols: int, size: float = 2.4) -> tuple[Any, np.ndarray]:
    """A new pyplot figure with a rows x cols array of axes (always 2-D), `size` inches per panel."""

    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    return fig, axes


def audio_player(root: str | os.PathLike, sample: Any) -> Any:
    """An IPython audio player of a sample's audio file (its WAV bytes embedded, so the notebook keeps it)."""

    path = Path(root) / sample.audio
    if not path.is_file():
        raise SSLPropError(f"{path}: audio file not found")
    return Audio(filename=str(path))
