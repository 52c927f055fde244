"""Tests for the notebook helpers: sslprop.viz (figures, tables), sslprop.widgets and sslprop.workflow."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from sslprop import viz, widgets, workflow as wf
from sslprop.errors import SSLPropError

# ----------------------------------------------------------------------------- figures and tables


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


# ----------------------------------------------------------------------------- analyses


def test_topk_recall_and_top1_area_by_hand():
    g = torch.zeros(10, 10)
    g[2:4, 2:4] = 1.0  # the source's mass, a 2x2 square
    boxes = torch.tensor([[0, 0, 10, 10], [2, 2, 4, 4], [6, 6, 9, 9]], dtype=torch.float32)
    gt = torch.tensor([[2, 2, 4, 4], [2, 2, 4, 5]], dtype=torch.float32)
    # frame 2 is off-screen (no gt): left out
    res = wf.topk_recall([g, g], [boxes, boxes], [gt, torch.zeros(0, 4)], ks=(1, 2), scorers=("sum", "mean", "soft_iou"))
    # sum: the whole frame ties with the exact box (both hold all 4 units of mass); the tie goes to index 0
    assert res == {"sum": {1: 0.0, 2: 1.0}, "mean": {1: 1.0, 2: 1.0}, "soft_iou": {1: 1.0, 2: 1.0}, "all": {0: 1.0}}
    assert wf.top1_area([g], [boxes], "sum") == [1.0]
    assert wf.top1_area([g], [boxes], "mean") == [0.04]
    with pytest.raises(SSLPropError, match="no frame has an annotated source"):
        wf.topk_recall([g], [boxes], [torch.zeros(0, 4)], ks=(1,), scorers=("sum",))


def test_reference_maps_and_mass_ratio():
    m = wf.oracle_map(np.array([[0, 0, 2, 2], [1, 1, 3, 2.5]]), 4)
    assert m.tolist() == [[1, 1, 0, 0], [1, 2, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    c = wf.centre_map(4)
    assert c.shape == (4, 4) and c[1, 1] == c[2, 2] == c.max() and c[0, 0] == c.min()
    flat = np.ones((4, 4))
    flat[0:2, 0:2] = 3.0  # mean 1.5 overall, 3 in the box
    assert wf.mass_ratio(flat, [0, 0, 2, 2]) == 2.0
    mask = np.zeros((20, 20), bool)
    mask[5:15, 4:10] = True
    pm = wf.part_map(mask, share=0.3, blur=1.0)
    assert pm.max() == pytest.approx(1.0) and np.unravel_index(pm.argmax(), pm.shape)[0] < 8  # top 3 rows: 5, 6, 7
    assert pm[14].max() < 1e-3
    bm = wf.blurred_map([mask, np.roll(mask, 8, axis=1)], [1.0, 0.5], blur=1.0)
    assert bm.max() == pytest.approx(1.0) and bm[10, 14] == pytest.approx(0.5, abs=0.02)
    with pytest.raises(SSLPropError, match="2 masks for 1 weights"):
        wf.blurred_map([mask, mask], [1.0])


def test_budgets():
    assert wf.get_budget("smoke").sizes["scenes"] < wf.get_budget("full").sizes["scenes"]
    assert wf.get_budget(wf.BUDGETS["full"]) is wf.BUDGETS["full"]
    with pytest.raises(SSLPropError, match="budget 'huge': unknown"):
        wf.get_budget("huge")
    cfg = wf.run_config("cpu", "smoke", 3, overrides={"model.k": 5})
    assert (cfg.train.epochs, cfg.train.seed, cfg.train.device, cfg.model.k) == (1, 3, "cpu", 5)


# ----------------------------------------------------------------------------- cached data and runs


@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return wf.ensure_dataset("solo", root, "smoke", 0, size=4)


def test_ensure_dataset_is_idempotent(solo, monkeypatch):
    from sslprop.data import synth
    from sslprop import proposals

    assert solo.name == "solo-n4-s0"
    stamp = json.loads((solo / wf.STAMP).read_text())
    assert stamp == {"preset": "solo", "n": 4, "seed": 0, "frame_size": None, "test_fraction": 0.25,
                     "generator_version": synth.GENERATOR_VERSION,
                     "proposals": "ss-fast-full-min4-v1"}

    def fail(*args, **kwargs):
        raise AssertionError("called again")

    monkeypatch.setattr(synth, "generate", fail)
    monkeypatch.setattr(proposals, "extract_dataset", fail)
    assert wf.ensure_dataset("solo", solo.parent, "smoke", 0, size=4) == solo
    summary = wf.dataset_summary(solo)
    assert {k: summary[k] for k in ("name", "train", "test", "frames", "onscreen", "annotators")} == {
        "name": "solo", "train": 3, "test": 1, "frames": 4, "onscreen": 1.0, "annotators": 1}
    # masks rebuild exactly: the tight box of each mask is the stored box
    sid = "solo-000000"
    from sslprop.data.format import read_manifest

    sample = next(s for s in read_manifest(solo) if s.id == sid)
    masks = wf.sample_masks(solo, sid)[0]
    ys, xs = np.nonzero(masks[0])
    assert [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)] == sample.frames[0].objects[0].box


def test_ensure_dataset_regenerates_nothing_without_stamp(solo, monkeypatch):
    from sslprop.data import synth

    (solo / wf.STAMP).unlink()
    monkeypatch.setattr(synth, "generate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("regenerated")))
    assert wf.ensure_dataset("solo", solo.parent, "smoke", 0, size=4) == solo  # search finds every frame cached
    assert (solo / wf.STAMP).is_file()


def test_ensure_run_and_predictions_are_cached(solo, tmp_path, monkeypatch):
    import sslprop.train as train_mod
    import sslprop.predict as predict_mod

    run = wf.ensure_run("ours", solo, tmp_path, "smoke", 0)
    assert run.parent == tmp_path and run.name.startswith("ours-solo-n4-s0-smoke-")
    assert (run / "latest.pth").is_file() and (run / ".finished.json").is_file()
    other = wf.run_config("cpu", "smoke", 0, overrides={"model.k": 5})
    assert other != wf.run_config("cpu", "smoke", 0)
    preds = wf.ensure_predictions(run, solo)
    assert preds == run / "predictions-solo-n4-s0-test"
    assert set(json.loads((preds / "boxes.json").read_text())) == {"solo-000003"}
    monkeypatch.setattr(train_mod, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained again")))
    monkeypatch.setattr(predict_mod, "predict", lambda *a, **k: (_ for _ in ()).throw(AssertionError("predicted again")))
    assert wf.ensure_run("ours", solo, tmp_path, "smoke", 0) == run
    assert wf.ensure_predictions(run, solo) == preds
    fw = wf.forward_samples(run, solo, ["solo-000003"])
    assert fw.output.grm.shape == (1, 1, 96, 96) and len(fw.proposals) == 1 and fw.gt[0].shape == (1, 4)


# ----------------------------------------------------------------------------- widgets


def test_explorers_construct_and_redraw():
    image = np.zeros((10, 10, 3), np.uint8)
    g = torch.zeros(10, 10)
    g[2:4, 2:4] = 1.0
    boxes = torch.tensor([[0, 0, 10, 10], [2, 2, 4, 4], [6, 6, 9, 9]], dtype=torch.float32)
    e = widgets.k_scorer_explorer(image, g, boxes, torch.tensor([[2.0, 2.0, 4.0, 4.0]]), k=1, scorer="sum", max_k=3)
    assert e.figure.axes[0].get_title() == "top 1 by 'sum': 0 with IoU >= 0.5"
    e.update(scorer="mean")
    assert e.figure.axes[0].get_title() == "top 1 by 'mean': 1 with IoU >= 0.5"
    bundle = e._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"} <= set(bundle)
    assert bundle["image/png"][:4] == b"\x89PNG" and bundle["text/plain"] == "<Explorer: k=1, scorer='mean'>"
    with pytest.raises(SSLPropError, match="no control 'K'"):
        e.update(K=2)

    m = torch.zeros(10, 10)
    m[2:6, 2:6] = 0.5
    m[3:5, 3:5] = 1.0
    t = widgets.map_threshold_explorer(image, m, [[2, 2, 6, 6]], threshold=0.4)
    assert t.figure.axes[0].get_title() == "map-based box, T = 0.40: IoU 1.00"
    t.update(threshold=0.9)  # only the 2x2 core: IoU 4 / 16
    assert t.figure.axes[0].get_title() == "map-based box, T = 0.90: IoU 0.25"

    h = widgets.threshold_explorer([0.1, 0.3, 0.5, 0.05], [False, True, True, True], threshold=0.2, name="d_on")
    assert h.figure.axes[0].get_title() == "d_on > 0.200: accuracy 0.75, TPR 0.67, FPR 0.00"
    plt.close("all")


def test_threshold_rates():
    assert widgets.threshold_rates([0.1, 0.3, 0.5, 0.05], [False, True, True, True], 0.2) == {
        "accuracy": 0.75, "tpr": 2 / 3, "fpr": 0.0}
    r = widgets.threshold_rates([0.3], [True], 0.2)
    assert r["tpr"] == 1.0 and np.isnan(r["fpr"])
    with pytest.raises(SSLPropError, match="need equal"):
        widgets.threshold_rates([0.1, 0.2], [True], 0.2)
