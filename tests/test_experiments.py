"""Tables 2-4 helpers: scoring predictions and floors, pivoting records, subsets of the training split, sentences."""

import json
from pathlib import Path

import numpy as np
import pytest

from sslprop import experiments as ex
from sslprop import workflow as wf
from sslprop.data.format import read_manifest
from sslprop.errors import SSLPropError
from sslprop.evaluate import evaluate


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
    right = ex.score_predictions(_write_predictions(tmp_path / "right", gt, maps), solo, "dsol-solo")
    assert right == {"protocol": "dsol-solo", "kind": "boxes", "metric": "iou@0.5", "rate": 1.0, "auc": 1.0, "n": 2}
    half = ex.score_predictions(_write_predictions(tmp_path / "half", wrong), solo, "dsol-solo")
    assert (half["rate"], half["n"]) == (0.5, 2)
    on_map = ex.score_predictions(tmp_path / "right", solo, "dsol-solo", kind="maps")
    assert (on_map["kind"], on_map["metric"], on_map["rate"], on_map["n"]) == ("maps", "iou@0.5", 1.0, 2)
    assert ex.score_predictions(tmp_path / "right", solo, "lvs")["metric"] == "ciou@0.5"
    two = ex.score_predictions(tmp_path / "right", solo, "dsol-multi", two_sources=True)
    assert (two["metric"], two["rate"]) == ("iou@0.5", 1.0)


def test_prediction_file_errors(tmp_path):
    _write_predictions(tmp_path, {"a": [[0, 0, 1, 1, 1.0]]})
    assert ex.prediction_file(tmp_path) == tmp_path / "boxes.json"
    assert ex.prediction_file(tmp_path, two_sources=True) == tmp_path / "two_sources.json"
    with pytest.raises(SSLPropError, match="maps.npz: no such prediction file"):
        ex.prediction_file(tmp_path, "maps")
    with pytest.raises(SSLPropError, match="only box predictions"):
        ex.prediction_file(tmp_path, "maps", two_sources=True)
    with pytest.raises(SSLPropError, match="choose 'boxes' or 'maps'"):
        ex.prediction_file(tmp_path, "heatmap")


def test_score_floor_is_evaluate(solo):
    for floor in ("full-frame", "center", "random-box"):
        report = evaluate(solo, "lvs", method=floor, fmt="sslprop", split="test", seed=3)
        assert ex.score_floor(floor, solo, "lvs", seed=3) == {
            "protocol": "lvs", "kind": "boxes", "metric": "ciou@0.5", "rate": report["ciou@0.5"], "auc": report["auc"], "n": 2}
    with pytest.raises(SSLPropError, match="unknown"):
        ex.score_floor("half-frame", solo, "lvs")


def test_views():
    assert ex.views("ours", "solo") == [("boxes", "boxes", False)]
    assert ex.views("ours", "mosaic") == [("boxes", "boxes", True)]
    assert ex.views("attention", "mosaic") == [("map", "maps", False), ("map box", "boxes", False)]


def test_table2_rows_pivot_and_order():
    def rec(method, view, preset, metric, rate, auc):
        return {"method": method, "view": view, "preset": preset, "metric": metric, "rate": rate, "auc": auc}

    records = [
        rec("center", "floor", "solo", "iou@0.5", 0.25, 0.5),
        rec("ours", "boxes", "solo", "iou@0.5", 0.5, 0.375),
        rec("attention", "map box", "scenes", "ciou@0.5", 0.125, 0.25),
        rec("attention", "map", "scenes", "ciou@0.5", 0.75, 0.625),
        rec("ours", "boxes", "scenes", "ciou@0.5", 1.0, 0.875),
    ]
    rows = ex.table2_rows(records)
    assert [r["method"] for r in rows] == ["Attention", "Attention, map box (T = 0.5)", "Ours", "floor: centre box"]
    assert rows[0] == {"method": "Attention", "solo IoU@0.5": None, "solo AUC": None, "mosaic IoU@0.5": None,
                       "mosaic AUC": None, "scenes cIoU@0.5": 75.0, "scenes AUC": 62.5}
    assert (rows[2]["solo IoU@0.5"], rows[2]["solo AUC"], rows[2]["scenes cIoU@0.5"]) == (50.0, 37.5, 100.0)
    assert rows[3]["solo IoU@0.5"] == 25.0 and rows[3]["scenes AUC"] is None


def test_paper_tables_transcribed():
    assert len(ex.PAPER_TABLE2) == 7 and ex.PAPER_TABLE2[-1] == {
        "method": "Ours", "solo IoU@0.5": 58.0, "solo AUC": 46.3, "mosaic IoU@0.5": 46.7, "mosaic AUC": 30.1,
        "scenes cIoU@0.5": 72.8, "scenes AUC": 61.4}
    assert [r["method"] for r in ex.PAPER_TABLE2] == list(ex.METHOD_LABELS.values())
    assert ex.PAPER_TABLE3[3] == {"variant": "Ours - ProSelectNet", "cIoU@0.5": 58.9, "AUC": 48.5}
    assert ex.PAPER_TABLE4[1]["cIoU@0.5 Attention"] is None and ex.PAPER_TABLE4[3]["AUC Ours"] == 61.4


def test_subset_sizes():
    fr = ex.paper_fractions()
    assert fr["144k"] == 1.0 and fr["10k"] == pytest.approx(10 / 144)
    # 150 training samples: 10.4 -> 10, 52.08 -> 52, 93.75 -> 94, 150
    assert ex.subset_sizes(150, fr) == {"10k": 10, "50k": 52, "90k": 94, "144k": 150}
    assert ex.subset_sizes(12, fr) == {"10k": 2, "50k": 4, "90k": 8, "144k": 12}  # at least two clips


def test_ensure_subset_run_is_cached_and_separate(solo, tmp_path, monkeypatch):
    import sslprop.train as train_mod

    setup = ex.Setup(solo.parent, tmp_path, "smoke", 0)
    assert ex.train_count(solo) == 6
    sub = ex.ensure_subset_run("ours", solo, setup, 3)
    assert sub.name.startswith("ours-solo-n8-s0-smoke-m3-")
    assert json.loads((sub / "config.json").read_text())["max_samples"] == 3
    marker = json.loads((sub / ".finished.json").read_text())
    assert marker["max_samples"] == 3 and marker["config"]["train"]["epochs"] == 1
    monkeypatch.setattr(train_mod, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained again")))
    assert ex.ensure_subset_run("ours", solo, setup, 3) == sub
    with pytest.raises(AssertionError, match="trained again"):  # the whole split is the shared run, not trained yet
        ex.ensure_subset_run("ours", solo, setup, 6)


def test_rank_and_sentence():
    rows = [{"m": "A", "c": 30.0}, {"m": "B", "c": 50.0}, {"m": "Ours", "c": 40.0}, {"m": "F", "c": None}]
    paper = [{"m": "A", "c": 60.0}, {"m": "B", "c": 70.0}, {"m": "Ours", "c": 72.8}]
    assert ex.rank_of(rows, "m", "c", "Ours") == 2
    assert ex.rank_of(rows, "m", "c", "B") == 1
    with pytest.raises(SSLPropError, match="no value"):
        ex.rank_of(rows, "m", "c", "F")
    assert ex.compare_sentence(rows, paper, "m", "c", "Ours", ["A", "B"]) == (
        "c: Ours 40.0 vs. best other 50.0 (B); the paper: Ours 72.8 vs. 70.0 (B); "
        "the order differs (Ours does not lead here, leads in the paper).")
    rows[1]["c"] = 10.0
    assert ex.compare_sentence(rows, paper, "m", "c", "Ours", ["A", "B"]).endswith(
        "Ours 40.0 vs. best other 30.0 (A); the paper: Ours 72.8 vs. 70.0 (B); the order agrees (Ours leads in both).")
    assert ex.compare_sentence(rows, [], "m", "c", "Ours", ["A"]) == "c: Ours 40.0 vs. best other 30.0 (A)."
    assert ex.compare_sentence(rows, paper, "m", "c", "F", ["A"]) == "c: not computed."


def test_delta_gap_and_best_sentences():
    rows = [{"v": "a", "c": 40.0, "d": 10.0}, {"v": "b", "c": 50.0, "d": 10.0}, {"v": "x", "c": 50.0, "d": None}]
    paper = [{"v": "a", "c": 72.8, "d": 60.0}, {"v": "b", "c": 58.9, "d": 61.0}]
    assert ex.delta_sentence(rows, paper, "v", "c", "a", "b") == \
        "c, [a] - [b]: -10.0 here, +13.9 in the paper; the sign differs."
    assert ex.delta_sentence(rows, paper, "v", "d", "a", "b") == "d, [a] - [b]: +0.0 here, -1.0 in the paper; the sign differs."
    assert ex.delta_sentence(rows, [], "v", "c", "b", "a") == "c, [b] - [a]: +10.0 here."
    assert ex.delta_sentence(rows, paper, "v", "d", "a", "x") == "d, [a] - [x]: not computed."
    assert ex.gap_sentence(rows, paper, "v", "a", "c", "d") == "a, [c] - [d]: +30.0 here, +12.8 in the paper; the sign agrees."
    assert ex.best_sentence(rows, paper, "v", "c", ["a", "b", "x"]) == "c: best here b = x; in the paper a; not the same."
    assert ex.best_sentence(rows, paper, "v", "d", ["a", "b"]) == "d: best here a = b; in the paper b; not the same."
    assert ex.best_sentence(rows, [], "v", "c", ["a"]) == "c: best here a."


def test_table3_and_table4_rows_order_and_runs(monkeypatch, tmp_path):
    """Which runs each table asks for, with which overrides and sizes, and how it lays out the rows (scores faked)."""
    asked = []
    setup = ex.Setup(tmp_path, tmp_path / "runs", "smoke", 0)
    monkeypatch.setattr(ex.Setup, "data", lambda self, preset: tmp_path / preset)
    monkeypatch.setattr(ex.Setup, "run", lambda self, method, data, overrides=None, log=None: (
        asked.append((method, dict(overrides or {}))) or tmp_path / f"{method}-{len(asked)}"))
    scores = iter([0.5, 0.25, 0.125, 0.75, 0.375, 0.625, 1.0])

    def fake_score(run, data, protocol, kind="boxes", two_sources=False, device="cpu"):
        v = next(scores)
        return {"rate": v, "auc": v / 2, "n": 4, "kind": kind, "protocol": protocol}

    monkeypatch.setattr(ex, "score_run", fake_score)
    monkeypatch.setattr(ex, "score_floor", lambda floor, data, protocol, seed=0: {"rate": 0.0625, "auc": 0.25, "n": 4})
    rows = ex.table3_rows(setup, floors=("center",))
    assert [o for _, o in asked] == list(ex.TABLE3_RUNS.values())
    assert [r["variant"] for r in rows] == ["Ours (K=10)", "Ours (K=20)", "Ours (K=30)", "Ours - ProSelectNet",
                                            "The location map m_n", "Ours (scorer sum)", "Ours (scorer mean)",
                                            "floor: centre box"]
    # the scores in call order: K=10, K=20 boxes, K=20 map, K=30, no selection, sum, mean; then the floor
    assert [r["cIoU@0.5"] for r in rows] == [50.0, 25.0, 75.0, 37.5, 12.5, 62.5, 100.0, 6.25]
    assert rows[4] == {"variant": "The location map m_n", "cIoU@0.5": 12.5, "AUC": 6.25, "n": 4}

    subsets = []
    monkeypatch.setattr(ex, "train_count", lambda data: 150)
    monkeypatch.setattr(ex, "ensure_subset_run", lambda method, data, setup, n, overrides=None, log=None: (
        subsets.append((method, n)) or tmp_path / f"{method}-{n}"))
    kinds = []
    monkeypatch.setattr(ex, "score_run", lambda run, data, protocol, kind="boxes", two_sources=False, device="cpu": (
        kinds.append((Path(run).name, kind)) or {"rate": 0.5 if "ours" in Path(run).name else 0.25, "auc": 0.5, "n": 4}))
    rows4 = ex.table4_rows(setup)
    assert subsets == [(m, n) for n in (10, 52, 94, 150) for m in ("attention", "ours")]
    assert kinds[:2] == [("attention-10", "maps"), ("ours-10", "boxes")]
    assert rows4[0] == {"size": "10k", "train samples": 10, "cIoU@0.5 Attention": 25.0, "cIoU@0.5 Ours": 50.0,
                        "AUC Attention": 50.0, "AUC Ours": 50.0}


def test_read_outputs(tmp_path):
    _write_predictions(tmp_path, {"a": [[1, 2, 3, 4, 0.9], [0, 0, 2, 2, 0.5], [5, 5, 6, 6, 0.1]]},
                       {"a": np.arange(4, dtype=np.float32).reshape(2, 2)})
    out = ex.read_outputs(tmp_path, ["a"])
    assert out["a"]["map"].tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert out["a"]["boxes"].shape == (3, 5) and out["a"]["two"][:, 4].tolist() == [0.9, 0.5]
    with pytest.raises(SSLPropError, match="no prediction for 'b'"):
        ex.read_outputs(tmp_path, ["b"])


def test_bar_chart_and_sizes_plot_draw_what_they_are_given():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    rows = [{"m": "Ours", "a": 10.0, "b": None}, {"m": "floor", "a": 5.0, "b": 7.0}]
    ex.bar_chart(rows, [{"m": "Ours", "a": 72.8, "b": 61.4}], "m", ["a", "b"], ax)
    a_bars, b_bars = ([p.get_width() for p in c] for c in ax.containers)
    assert a_bars == [10.0, 5.0] and np.isnan(b_bars[0]) and b_bars[1] == 7.0  # a missing value draws no bar
    ticks = [c.get_offsets().data.tolist() for c in ax.collections]
    assert ticks[0][0][0] == 72.8 and ticks[1][0][0] == 61.4  # the paper's values, as ticks at their rows
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    rows4 = [{"size": "10k", "train samples": 10, "cIoU@0.5 Ours": 1.0, "cIoU@0.5 Attention": 2.0, "AUC Ours": 3.0, "AUC Attention": 4.0},
             {"size": "144k", "train samples": 150, "cIoU@0.5 Ours": 5.0, "cIoU@0.5 Attention": 6.0, "AUC Ours": 7.0, "AUC Attention": 8.0}]
    ex.sizes_plot(rows4, ex.PAPER_TABLE4, axes)
    lines = {l.get_label(): (list(l.get_xdata()), list(l.get_ydata())) for l in axes[0].lines}
    assert lines["Ours (here)"] == ([10, 150], [1.0, 5.0])
    assert lines["Ours (paper, at its sizes)"] == ([10, 150], [45.4, 72.8])  # 50k and 90k are not in rows4
    assert lines["Attention (paper, at its sizes)"] == ([10, 150], [43.6, 66.0])
    plt.close(fig)


def test_training_summary_reads_the_last_l_tri_against_chance(tmp_path):
    import json as _json

    from sslprop import workflow

    run = tmp_path / "ours-run"
    run.mkdir()
    (run / "config.json").write_text(_json.dumps({"config": {"data": {"num_frames": 1}}}))
    rows = [{"epoch": 1, "tri": 0.501, "clips_per_s": 100.0}, {"epoch": 2, "tri": 0.41, "clips_per_s": 120.0}]
    (run / "metrics.jsonl").write_text("".join(_json.dumps(r) + "\n" for r in rows))
    t = workflow.training_summary(run)
    assert t["chance"] == pytest.approx(0.5) and t["last L_tri"] == 0.41 and t["learned"] and t["epochs"] == 2
    assert "0.410 in epoch 2 (chance 0.500)" in workflow.training_sentence(run)
    (run / "metrics.jsonl").write_text(_json.dumps(rows[0]) + "\n")
    assert "after its one epoch" in workflow.training_sentence(run) and "not 0.02 below" in workflow.training_sentence(run)
    (run / "metrics.jsonl").write_text(_json.dumps({"epoch": 1, "loss": 0.3}) + "\n")
    with pytest.raises(SSLPropError, match="no L_tri"):
        workflow.training_summary(run)
