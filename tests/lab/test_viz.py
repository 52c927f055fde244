"""Tests for sslprop/lab/viz.py."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from sslprop.errors import SSLPropError
from sslprop.lab import viz

matplotlib.use("Agg")

def _figure():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 2], [2, 0, 1])
    viz.show_boxes(np.zeros((8, 8, 3), np.uint8), [[1, 1, 4, 5]], ax, labels=["a"])
    return fig


def test_save_figure_is_byte_identical_and_has_no_metadata(tmp_path):
    fig = _figure()
    a = viz.save_figure(fig, "f", tmp_path / "a")
    b = viz.save_figure(_figure(), "f", tmp_path / "b")
    plt.close("all")
    assert a == tmp_path / "a" / "f.png"
    data = a.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data == b.read_bytes()
    assert b"Software" not in data and b"matplotlib" not in data.lower()
    with pytest.raises(SSLPropError, match="bare name"):
        viz.save_figure(fig, "sub/f", tmp_path)
    with pytest.raises(SSLPropError, match="bare name"):
        viz.save_figure(fig, "f.png", tmp_path)


def test_save_table_markdown_and_csv(tmp_path):
    rows = [{"name": "solo", "n": 3, "share": 0.25}, {"name": "a|b, c", "n": np.int64(4), "share": float("nan")}]
    md, csv_path = viz.save_table(rows, "t", tmp_path)
    assert md.read_text() == (
        "| name | n | share |\n"
        "|---|---|---|\n"
        "| solo | 3 | 0.250 |\n"
        "| a\\|b, c | 4 | - |\n"
    )
    assert csv_path.read_text() == 'name,n,share\nsolo,3,0.250\n"a|b, c",4,-\n'
    # the same table as sequences with columns, and as a dict of columns
    viz.save_table([["solo", 3, 0.25], ["a|b, c", 4, float("nan")]], "u", tmp_path, columns=["name", "n", "share"])
    viz.save_table({"name": ["solo", "a|b, c"], "n": [3, 4], "share": [0.25, float("nan")]}, "v", tmp_path)
    assert (tmp_path / "u.csv").read_bytes() == (tmp_path / "v.csv").read_bytes() == csv_path.read_bytes()
    assert viz.format_table(rows, ["n"], float_format="{:.1f}") == "| n |\n|---|\n| 3 |\n| 4 |\n"
    with pytest.raises(SSLPropError, match="need `columns`"):
        viz.save_table([[1, 2]], "w", tmp_path)
    with pytest.raises(SSLPropError, match="every row needs 2 cells"):
        viz.save_table([[1, 2, 3]], "w", tmp_path, columns=["a", "b"])


def test_format_cell_and_paper_beside():
    assert [viz.format_cell(v) for v in (None, 1.23456, np.float32(0.5), True, np.int32(7), "x")] == ["-", "1.235", "0.500", "True", "7", "x"]
    ours = [{"method": "ours", "cIoU": 0.5}, {"method": "floor", "cIoU": 0.4}]
    paper = [{"method": "ours", "cIoU": 72.8, "AUC": 61.4}, {"method": "attention", "cIoU": 52.2}]
    assert viz.paper_beside(ours, paper, "method", ["cIoU"]) == [
        {"method": "ours", "cIoU (ours)": 0.5, "cIoU (paper)": 72.8},
        {"method": "floor", "cIoU (ours)": 0.4, "cIoU (paper)": None},
        {"method": "attention", "cIoU (ours)": None, "cIoU (paper)": 52.2},
    ]


def test_intervals_merge_into_one_cell_and_stay_numbers_in_the_csv(tmp_path):
    rows = [{"m": "Ours", "c": 41.25, "c low": 38.0, "c high": 44.5, "n": 3}, {"m": "floor", "c": None, "c low": None, "c high": None, "n": 4}]
    assert viz.merge_intervals(rows, "{:.1f}") == [{"m": "Ours", "c": "41.2 [38.0, 44.5]", "n": 3}, {"m": "floor", "c": None, "n": 4}]
    df = viz.frame(rows, float_format="{:.1f}", index="m")
    assert list(df.columns) == ["c", "n"] and df.loc["Ours", "c"] == "41.2 [38.0, 44.5]" and df.loc["floor", "c"] == "-"
    md, csv_path = viz.save_table(rows, "t", tmp_path, float_format="{:.1f}")
    assert "| Ours | 41.2 [38.0, 44.5] | 3 |" in md.read_text()
    assert csv_path.read_text().splitlines()[:2] == ["m,c,c low,c high,n", "Ours,41.2,38.0,44.5,3"]
    beside = viz.paper_beside(rows[:1], [{"m": "Ours", "c": 72.8}], "m", ["c"])
    assert beside == [{"m": "Ours", "c (ours)": 41.25, "c (ours) low": 38.0, "c (ours) high": 44.5, "c (paper)": 72.8}]


def test_a_box_on_the_frame_border_is_drawn_inside_it():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 3), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = np.full((40, 40, 3), 100, np.uint8)
    viz.show_boxes(image, [[0, 0, 40, 40], [10, 10, 20, 20]], ax, viz.SELECTED, 2.0, labels=["best", "inner"])
    fig.tight_layout()
    canvas.draw()
    whole, inner = ax.patches
    x1, y1, x2, y2 = whole.inset_bounds()
    half = 1.0 * fig.dpi / 72 / abs(ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0])  # 1 pt in data units
    assert x1 == pytest.approx(-0.5 + half, rel=1e-3) and x2 == pytest.approx(39.5 - half, rel=1e-3)  # the whole stroke inside
    assert y1 == pytest.approx(-0.5 + half, rel=1e-3) and y2 == pytest.approx(39.5 - half, rel=1e-3)
    assert inner.inset_bounds() == (9.5, 9.5, 19.5, 19.5)  # a box off the border is drawn where it is
    rgba = np.asarray(canvas.buffer_rgba())[..., :3].astype(int)
    px0, py0 = ax.transData.transform((-0.5, -0.5))
    col = int(round(px0)) + 1  # the image's first pixel column on the canvas: orange, not the grey frame
    row = rgba.shape[0] - int(round(ax.transData.transform((0, 20))[1]))
    assert abs(rgba[row, col] - np.array([255, 127, 14])).sum() < 60
    texts = {t.get_text(): t for t in ax.texts}
    assert texts["best"].get_va() == "top" and texts["inner"].get_va() == "bottom"  # the edge box's label stays in the picture


def test_prose_renders_as_markdown_and_wraps_as_text():
    p = viz.prose("m_on || d_on is *best* at d_on > 0.2, " * 6, "", "second")
    assert p.paragraphs[1] == "second"
    md = p._repr_markdown_()
    assert "m\\_on \\|\\| d\\_on is \\*best\\* at d\\_on \\> 0.2" in md and "\n\nsecond" in md
    text = repr(p)
    assert all(len(line) <= 100 for line in text.splitlines()) and text.endswith("\n\nsecond")
    assert " ".join(text.split()) == " ".join(("m_on || d_on is *best* at d_on > 0.2, " * 6 + " second").split())  # no word cut
