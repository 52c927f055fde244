"""Tests for sslprop/lab/tables.py."""

import json
from pathlib import Path

import numpy as np
import pytest

from sslprop.data.format import read_manifest
from sslprop.errors import SSLPropError
from sslprop.evaluation.evaluate import evaluate
from sslprop.lab import tables
from sslprop.lab import workflow as wf


@pytest.fixture(scope="module")
def solo(tmp_path_factory) -> Path:
    return wf.ensure_dataset("solo", tmp_path_factory.mktemp("data"), "smoke", 0, size=8)


def _write_predictions(folder: Path, boxes: dict, maps: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "boxes.json").write_text(json.dumps(boxes))
    (folder / "two_sources.json").write_text(json.dumps({k: v[:2] for k, v in boxes.items()}))
    if maps is not None:
        np.savez(folder / "maps.npz", **maps)
    return folder


def test_score_predictions_ground_truth_boxes_and_maps(solo, tmp_path):
    test = read_manifest(solo, "test")
    assert [s.id for s in test] == ["solo-000003", "solo-000007"]
    gt = {s.id: [list(s.frames[0].annotators[0][0]) + [1.0]] for s in test}
    # the second sample gets a box in the frame's far corner: cIoU 0 unless the object is there
    wrong = {test[0].id: gt[test[0].id], test[1].id: [[0.0, 0.0, 2.0, 2.0, 1.0]]}
    maps = {}
    for s in test:  # a map that is 1 exactly on the annotated box, on the stored frame's grid
        f = s.frames[0]
        m = np.zeros((f.height, f.width), np.float32)
        x1, y1, x2, y2 = (int(v) for v in f.annotators[0][0])
        m[y1:y2, x1:x2] = 1.0
        maps[s.id] = m
    right = tables.score_predictions(_write_predictions(tmp_path / "right", gt, maps), solo, "dsol-solo")
    assert right["frames"] == {"keys": [s.id for s in test], "ciou": [1.0, 1.0], "hit": [True, True]}
    assert {k: v for k, v in right.items() if k != "frames"} == {
        "protocol": "dsol-solo", "kind": "boxes", "metric": "iou@0.5", "rate": 1.0, "auc": 1.0, "n": 2,
        "rate low": 1.0, "rate high": 1.0, "auc low": 1.0, "auc high": 1.0}
    half = tables.score_predictions(_write_predictions(tmp_path / "half", wrong), solo, "dsol-solo")
    assert (half["rate"], half["n"]) == (0.5, 2)
    on_map = tables.score_predictions(tmp_path / "right", solo, "dsol-solo", kind="maps")
    assert (on_map["kind"], on_map["metric"], on_map["rate"], on_map["n"]) == ("maps", "iou@0.5", 1.0, 2)
    assert tables.score_predictions(tmp_path / "right", solo, "lvs")["metric"] == "ciou@0.5"
    two = tables.score_predictions(tmp_path / "right", solo, "dsol-multi", two_sources=True)
    assert (two["metric"], two["rate"]) == ("iou@0.5", 1.0)


def test_prediction_file_errors(tmp_path):
    _write_predictions(tmp_path, {"a": [[0, 0, 1, 1, 1.0]]})
    assert tables.prediction_file(tmp_path) == tmp_path / "boxes.json"
    assert tables.prediction_file(tmp_path, two_sources=True) == tmp_path / "two_sources.json"
    with pytest.raises(SSLPropError, match="maps.npz: no such prediction file"):
        tables.prediction_file(tmp_path, "maps")
    with pytest.raises(SSLPropError, match="only box predictions"):
        tables.prediction_file(tmp_path, "maps", two_sources=True)
    with pytest.raises(SSLPropError, match="choose 'boxes' or 'maps'"):
        tables.prediction_file(tmp_path, "heatmap")


def test_score_floor_is_evaluate(solo):
    for floor in ("full-frame", "center", "random-box"):
        report = evaluate(solo, "lvs", method=floor, fmt="sslprop", split="test", seed=3, ci=tables.CI)
        got = tables.score_floor(floor, solo, "lvs", seed=3)
        assert {k: got[k] for k in ("protocol", "kind", "metric", "rate", "auc", "n", "rate low", "rate high")} == {
            "protocol": "lvs", "kind": "boxes", "metric": "ciou@0.5", "rate": report["ciou@0.5"], "auc": report["auc"], "n": 2,
            "rate low": report["ci"]["ciou@0.5"][0], "rate high": report["ci"]["ciou@0.5"][1]}
    with pytest.raises(SSLPropError, match="unknown"):
        tables.score_floor("half-frame", solo, "lvs")


def test_score_floor_takes_the_prior_the_ceilings_and_the_two_region_floor(solo):
    assert set(tables.FLOOR_LABELS) == {"full-frame", "center", "random-box", "two-halves", "visual-prior", "visual-prior-box",
                                        "ceiling", "ceiling-grid", "ceiling-ranked"}
    prior = tables.score_floor("visual-prior", solo, "lvs")
    assert (prior["kind"], prior["metric"], prior["n"]) == ("maps", "ciou@0.5", 2) and "frames" in prior
    assert tables.score_floor("visual-prior-box", solo, "dsol-solo")["kind"] == "boxes"
    top = tables.score_floor("ceiling", solo, "dsol-solo")
    assert (top["kind"], top["rate"]) == ("maps", 1.0) and "ciou@0.3" not in top
    # multi-source: DSOL's CIoU@0.3 with its interval beside IoU@0.5; the two-region floor only there
    multi = tables.score_floor("two-halves", solo, "dsol-multi")
    assert {"ciou@0.3", "ciou@0.3 low", "ciou@0.3 high"} <= set(multi) and multi["metric"] == "iou@0.5"
    assert tables.floors_for("lvs", tuple(tables.FLOOR_LABELS)) == [f for f in tables.FLOOR_LABELS if f != "two-halves"]
    assert tables.floors_for("dsol-multi", ("center", "two-halves")) == ["center", "two-halves"]
    with pytest.raises(SSLPropError, match="two-region floor"):
        tables.score_floor("two-halves", solo, "lvs")
    d = tables.paired(tables.score_floor("ceiling", solo, "dsol-multi"), multi, "ciou@0.3")
    assert d["difference"] == pytest.approx(100 * (1.0 - multi["ciou@0.3"]))
    with pytest.raises(SSLPropError, match="ciou@0.3"):
        tables.paired(multi, multi, "iou@0.3")


def test_views():
    assert tables.views("ours", "solo") == [("boxes", "boxes", False)]
    assert tables.views("ours", "mosaic") == [("boxes", "boxes", True)]
    assert tables.views("attention", "mosaic") == [("map", "maps", False), ("map box", "boxes", False)]


def test_table2_rows_pivot_and_order():
    def rec(method, view, preset, metric, rate, auc):
        return {"method": method, "view": view, "preset": preset, "metric": metric, "rate": rate, "auc": auc}

    records = [
        rec("center", "floor", "solo", "iou@0.5", 0.25, 0.5),
        rec("ours", "boxes", "solo", "iou@0.5", 0.5, 0.375),
        rec("attention", "map box", "scenes", "ciou@0.5", 0.125, 0.25),
        rec("attention", "map", "scenes", "ciou@0.5", 0.75, 0.625),
        rec("ours", "boxes", "scenes", "ciou@0.5", 1.0, 0.875),
        {**rec("ours", "boxes", "mosaic", "iou@0.5", 0.0, 0.25), "ciou@0.3": 0.5},  # multi-source: DSOL's CIoU@0.3 beside
    ]
    rows = tables.table2_rows(records)
    assert [r["method"] for r in rows] == ["Attention", "Attention, map box (T = 0.5)", "Ours", "floor: centre box"]
    assert rows[0] == {"method": "Attention", "solo IoU@0.5": None, "solo AUC": None, "mosaic CIoU@0.3": None,
                       "mosaic IoU@0.5": None, "mosaic AUC": None, "scenes cIoU@0.5": 75.0, "scenes AUC": 62.5}
    assert (rows[2]["mosaic CIoU@0.3"], rows[2]["mosaic IoU@0.5"], rows[2]["mosaic AUC"]) == (50.0, 0.0, 25.0)
    assert (rows[2]["solo IoU@0.5"], rows[2]["solo AUC"], rows[2]["scenes cIoU@0.5"]) == (50.0, 37.5, 100.0)
    assert rows[3]["solo IoU@0.5"] == 25.0 and rows[3]["scenes AUC"] is None


def test_subset_sizes():
    fr = tables.paper_fractions()
    assert fr["144k"] == 1.0 and fr["10k"] == pytest.approx(10 / 144)
    # 150 training samples: 10.4 -> 10, 52.08 -> 52, 93.75 -> 94, 150
    assert tables.subset_sizes(150, fr) == {"10k": 10, "50k": 52, "90k": 94, "144k": 150}
    assert tables.subset_sizes(12, fr) == {"10k": 2, "50k": 4, "90k": 8, "144k": 12}  # at least two clips


def test_ensure_subset_run_is_cached_and_separate(solo, tmp_path, monkeypatch):

    setup = tables.Setup(solo.parent, tmp_path, "smoke", 0)
    assert tables.train_count(solo) == 6
    sub = tables.ensure_subset_run("ours", solo, setup, 3)
    assert sub.name.startswith("ours-solo-n8-s0-smoke-m3-")
    assert json.loads((sub / "config.json").read_text())["max_samples"] == 3
    marker = json.loads((sub / ".finished.json").read_text())
    assert marker["max_samples"] == 3 and marker["config"]["train"]["epochs"] == 1
    monkeypatch.setattr(wf, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained again")))
    assert tables.ensure_subset_run("ours", solo, setup, 3) == sub
    with pytest.raises(AssertionError, match="trained again"):  # the whole split is the shared run, not trained yet
        tables.ensure_subset_run("ours", solo, setup, 6)


def test_table3_and_table4_rows_order_and_runs(monkeypatch, tmp_path):
    """Which runs each table asks for, with which overrides and sizes, and how it lays out the rows (scores faked)."""
    asked = []
    setup = tables.Setup(tmp_path, tmp_path / "runs", "smoke", 0)
    monkeypatch.setattr(tables.Setup, "data", lambda self, preset: tmp_path / preset)
    monkeypatch.setattr(tables.Setup, "run", lambda self, method, data, overrides=None, log=None: (
        asked.append((method, dict(overrides or {}))) or tmp_path / f"{method}-{len(asked)}"))
    scores = iter([0.5, 0.25, 0.125, 0.75, 0.375, 0.875, 0.625, 1.0])

    def fake_score(run, data, protocol, kind="boxes", two_sources=False, device="cpu"):
        v = next(scores)
        return {"rate": v, "auc": v / 2, "n": 4, "kind": kind, "protocol": protocol}

    monkeypatch.setattr(tables, "score_run", fake_score)
    monkeypatch.setattr(tables, "score_floor", lambda floor, data, protocol, seed=0: {"rate": 0.0625, "auc": 0.25, "n": 4})
    rows = tables.table3_rows(tables.table3_records(setup, floors=("center",)))
    assert [o for _, o in asked] == list(tables.TABLE3_RUNS.values())
    assert [r["variant"] for r in rows] == ["Ours (K=10)", "Ours (K=20)", "Ours (K=30)", "Ours - ProSelectNet",
                                            "Ours - ProSelectNet (Ours' loss)", "The location map m_n", "Ours (scorer sum)",
                                            "Ours (scorer mean)", "floor: centre box"]
    # the scores in call order: K=10, K=20 boxes, K=20 map, K=30, no selection (paper), no selection (ours), sum, mean
    assert [r["cIoU@0.5"] for r in rows] == [50.0, 25.0, 75.0, 37.5, 87.5, 12.5, 62.5, 100.0, 6.25]
    assert rows[5] == {"variant": "The location map m_n", "cIoU@0.5": 12.5, "AUC": 6.25, "n": 4}

    subsets = []
    monkeypatch.setattr(tables, "train_count", lambda data: 150)
    monkeypatch.setattr(tables, "ensure_subset_run", lambda method, data, setup, n, overrides=None, log=None: (
        subsets.append((method, n)) or tmp_path / f"{method}-{n}"))
    kinds = []
    monkeypatch.setattr(tables, "score_run", lambda run, data, protocol, kind="boxes", two_sources=False, device="cpu": (
        kinds.append((Path(run).name, kind)) or {"rate": 0.5 if "ours" in Path(run).name else 0.25, "auc": 0.5, "n": 4}))
    rows4 = tables.table4_rows(tables.table4_records(setup))
    assert subsets == [(m, n) for n in (10, 52, 94, 150) for m in ("attention", "ours")]
    assert kinds[:2] == [("attention-10", "maps"), ("ours-10", "boxes")]
    assert rows4[0] == {"size": "10k", "train samples": 10, "cIoU@0.5 Attention": 25.0, "cIoU@0.5 Ours": 50.0,
                        "AUC Attention": 50.0, "AUC Ours": 50.0}


def test_read_outputs(tmp_path):
    _write_predictions(tmp_path, {"a": [[1, 2, 3, 4, 0.9], [0, 0, 2, 2, 0.5], [5, 5, 6, 6, 0.1]]},
                       {"a": np.arange(4, dtype=np.float32).reshape(2, 2)})
    out = tables.read_outputs(tmp_path, ["a"])
    assert out["a"]["map"].tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert out["a"]["boxes"].shape == (3, 5) and out["a"]["two"][:, 4].tolist() == [0.9, 0.5]
    with pytest.raises(SSLPropError, match="no prediction for 'b'"):
        tables.read_outputs(tmp_path, ["b"])


def _score(cious, keys=None):
    """A `summarise`-like score of per-frame cIoUs, as the tables get them from `evaluate(..., frames=True)`."""
    from sslprop.evaluation import metrics

    keys = keys or [f"f{i}" for i in range(len(cious))]
    return {"rate": metrics.success_rate(cious, 0.5), "auc": metrics.ciou_auc(cious), "frames": {"keys": keys, "ciou": list(cious)}}


def test_paired_difference_of_two_scores_and_cells():
    a = _score([0.9] * 30 + [0.1] * 10)
    b = _score([0.9] * 10 + [0.1] * 30)
    d = tables.paired(a, b, "rate", ci={"resamples": 300, "seed": 0})
    assert d["difference"] == pytest.approx(50.0) and d["resolved"] and 30 < d["low"] <= 50 <= d["high"] < 70
    same = tables.paired(a, a, "auc")
    assert same["difference"] == 0.0 and not same["resolved"]
    with pytest.raises(SSLPropError, match="different frames"):
        tables.paired(a, _score([0.9] * 40, [f"g{i}" for i in range(40)]))
    with pytest.raises(SSLPropError, match="per-frame"):
        tables.paired({"rate": 0.5}, a)
    assert tables.cells({"rate": 0.25}, "c") == {"c": 25.0}
    assert tables.cells({"rate": 0.25, "rate low": 0.125, "rate high": 0.5}, "c") == {"c": 25.0, "c low": 12.5, "c high": 50.0}


def test_table2_rows_carry_intervals_and_seed_rows(monkeypatch, tmp_path):
    r = {"method": "ours", "view": "boxes", "preset": "scenes", "metric": "ciou@0.5", "rate": 0.5, "auc": 0.25,
         "rate low": 0.25, "rate high": 0.75, "auc low": 0.125, "auc high": 0.375}
    row = tables.table2_rows([r])[0]
    assert (row["scenes cIoU@0.5 low"], row["scenes cIoU@0.5 high"], row["scenes AUC high"]) == (25.0, 75.0, 37.5)
    records = [{"method": "ours", "seed": s, "rate": v, "auc": v / 2, "rate low": v - 0.1, "rate high": v + 0.1}
               for s, v in ((0, 0.5), (1, 0.25), (2, 0.75))]
    ciou, auc = tables.seed_rows(records)
    assert ciou["method"] == "Ours" and ciou["seed 0"] == 50.0 and ciou["seed 0 low"] == pytest.approx(40.0)
    assert ciou["mean"] == pytest.approx(50.0) and ciou["sd"] == pytest.approx(25.0) and (ciou["min"], ciou["max"]) == (25.0, 75.0)
    assert (ciou["seed 1"], ciou["seed 2"]) == (25.0, 75.0) and auc["mean"] == pytest.approx(25.0) and "seed 0 low" not in auc


def test_comparers_find_the_cells_of_each_table():
    a, b = _score([0.9] * 30 + [0.1] * 10), _score([0.9] * 10 + [0.1] * 30)
    t2 = tables.table2_comparer([{"method": "ours", "view": "boxes", "preset": "scenes", "metric": "ciou@0.5", **a},
                                 {"method": "attention", "view": "map", "preset": "scenes", "metric": "ciou@0.5", **b}])
    d = t2(("Ours", "scenes cIoU@0.5"), ("Attention", "scenes cIoU@0.5"))
    assert d == tables.paired(a, b, "rate") and d["resolved"]
    assert t2(("Ours", "scenes AUC"), ("Attention", "scenes AUC")) == tables.paired(a, b, "auc")
    assert t2(("Ours", "solo IoU@0.5"), ("Attention", "solo IoU@0.5")) is None  # not in the table
    assert t2(("Ours", "scenes AUC"), ("Attention", "scenes cIoU@0.5")) is None  # two different metrics
    t3 = tables.table3_comparer([{"variant": "K", **a}, {"variant": "M", **b}])
    assert t3(("K", "AUC"), ("M", "AUC")) == tables.paired(a, b, "auc")
    t4 = tables.table4_comparer([{"size": "10k", "method": "ours", **a}, {"size": "10k", "method": "attention", **b}])
    assert t4(("10k", "cIoU@0.5 Ours"), ("10k", "cIoU@0.5 Attention"))["difference"] == pytest.approx(50.0)


def test_rows_not_in_the_paper_run_their_method_with_settings(monkeypatch, tmp_path):
    asked = []
    setup = tables.Setup(tmp_path, tmp_path / "runs", "smoke", 0)
    monkeypatch.setattr(tables.Setup, "run", lambda self, method, data, overrides=None, log=None: (
        asked.append((method, dict(overrides or {}))) or tmp_path / method))
    setup.row_run("ezvsl-ogl", tmp_path)
    setup.row_run("slavc", tmp_path)
    assert asked == [("ezvsl", {"model.ogl_alpha": 0.4}), ("slavc", {})]
    assert set(tables.PAPER_METHODS) | set(tables.EXTRA_METHODS) == set(tables.METHOD_LABELS)
    assert all("not in the paper" in tables.METHOD_LABELS[m] for m in tables.EXTRA_METHODS)
    from sslprop.models.methods import METHODS

    assert all(tables.ROW_RUNS.get(m, (m,))[0] in METHODS for m in tables.METHOD_LABELS)  # every row trains a known method
