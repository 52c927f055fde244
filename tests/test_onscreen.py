"""Tests for sslprop.onscreen: Table 1's criteria, the d_on threshold sweep, confidence over time, map shapes."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from sslprop import onscreen as on
from sslprop.data.format import Frame, ObjectAnn, Sample, write_manifest
from sslprop.errors import SSLPropError

# Five frames by hand. m_on: on-screen where distance < 0.65 (midway between 0.5, the largest distance called
# on-screen, and 0.8, the smallest called off-screen). Labels: a, b, e on-screen; c, d off-screen.
RECORDS = {
    "a": {"d_on": 0.30, "distance": 0.40, "on_m": True},
    "b": {"d_on": 0.10, "distance": 0.50, "on_m": True},
    "c": {"d_on": 0.25, "distance": 0.90, "on_m": False},
    "d": {"d_on": 0.05, "distance": 0.80, "on_m": False},
    "e": {"d_on": 0.15, "distance": 0.95, "on_m": False},
}
LABELS = {"a": True, "b": True, "c": False, "d": False, "e": True}


def test_table1_by_hand():
    assert on.m_on_threshold(RECORDS) == pytest.approx(0.65)
    rows = {r["criterion"]: r for r in on.table1(RECORDS, LABELS)}
    assert list(rows) == ["m_on", "d_on", "m_on || d_on", "always on-screen"]
    # on_m: a b on, c d e off -> right on a b c d
    assert rows["m_on"] == {"criterion": "m_on", "accuracy": 0.8, "on-screen called on": pytest.approx(2 / 3), "off-screen called off": 1.0}
    # on_d (> 0.2): a c on -> right on a d
    assert rows["d_on"] == {"criterion": "d_on", "accuracy": 0.4, "on-screen called on": pytest.approx(1 / 3), "off-screen called off": 0.5}
    # either: a b c on -> right on a b d
    assert rows["m_on || d_on"]["accuracy"] == pytest.approx(0.6)
    assert rows["m_on || d_on"]["off-screen called off"] == 0.5
    assert rows["always on-screen"] == {"criterion": "always on-screen", "accuracy": 0.6, "on-screen called on": 1.0, "off-screen called off": 0.0}
    # a lower cut: d_on > 0.12 calls a c e on-screen
    rows = {r["criterion"]: r["accuracy"] for r in on.table1(RECORDS, LABELS, d_threshold=0.12)}
    assert rows["d_on"] == pytest.approx(0.6) and rows["m_on || d_on"] == pytest.approx(0.8)
    assert on.label_counts(LABELS) == {"frames": 5, "on-screen": 3, "off-screen": 2}


def test_threshold_sweep_and_best():
    sw = on.threshold_sweep(RECORDS, LABELS, [0.0, 0.12, 0.3])
    np.testing.assert_allclose(sw["on_m"], [0.8, 0.8, 0.8])
    np.testing.assert_allclose(sw["on_d"], [0.6, 0.6, 0.4])  # at 0.3 nothing is > 0.3: only c and d are right
    np.testing.assert_allclose(sw["on_or"], [0.6, 0.8, 0.8])
    assert on.best_threshold(sw, "on_d") == (0.0, pytest.approx(0.6))  # the first of the ties
    assert on.best_threshold(sw, "on_or") == (0.12, pytest.approx(0.8))


def test_auc_and_separability_by_hand():
    # positives 3, 2, 2 vs negatives 2, 1: 4 wins (3>2, 3>1, 2>1, 2>1) and 2 ties (2=2) of 6 pairs
    assert on.auc([3, 2, 2, 2, 1], [True, True, True, False, False]) == pytest.approx((4 + 0.5 * 2) / 6)
    assert on.auc([1, 2], [True, True]) != on.auc([1, 2], [True, True])  # NaN: one class only
    sep = on.separability(RECORDS, LABELS)
    # d_on: on (.30, .10, .15) vs off (.25, .05): .30 beats both, .10 beats .05, .15 beats .05 -> 4 of 6
    assert sep["d_on AUC"] == pytest.approx(4 / 6)
    # distance: on (.40, .50, .95) vs off (.90, .80), lower is on-screen: .40 and .50 beat both, .95 beats none -> 4 of 6
    assert sep["m_on AUC"] == pytest.approx(4 / 6)


def test_describe_table1_reads_the_numbers():
    text = on.describe_table1(on.table1(RECORDS, LABELS), "SSL", "toy")
    assert "the paper's m_on || d_on (78.5%) is 6.7 points above its better single criterion (m_on, 71.8%)" in text
    assert "here it is 20.0 points below m_on (80.0%): the paper's gain from combining them is not reproduced" in text
    assert "beats answering \"on-screen\" for every frame (60.0%) by 20.0 points" in text
    one_class = on.table1(RECORDS, {"a": True, "b": True})
    assert "frames of one class only" in on.describe_table1(one_class, "AVE", "toy")


def test_errors_are_one_line(tmp_path):
    with pytest.raises(SSLPropError, match="no prediction"):
        on.table1(RECORDS, {**LABELS, "z": True})
    with pytest.raises(SSLPropError, match="no labelled frame"):
        on.table1(RECORDS, {})
    bad = {**RECORDS, "f": {"d_on": 0.1, "distance": 0.3, "on_m": False}}
    with pytest.raises(SSLPropError, match="not a threshold"):
        on.m_on_threshold(bad)
    with pytest.raises(SSLPropError, match="onscreen.json"):
        on.read_onscreen(tmp_path)
    (tmp_path / "onscreen.json").write_text("{}")
    with pytest.raises(SSLPropError, match="no on/off-screen record"):
        on.read_onscreen(tmp_path)
    (tmp_path / "onscreen.json").write_text(json.dumps(RECORDS))
    assert on.read_onscreen(tmp_path) == RECORDS


def _sequence() -> Sample:
    a0, b0 = ObjectAnn([0.0, 0.0, 10.0, 10.0], "A", True), ObjectAnn([20.0, 0.0, 30.0, 10.0], "B", False)
    frames = [
        Frame("frames/q/0.png", 0.5, 40, 40, [[a0.box]], [a0, b0], True),
        Frame("frames/q/1.png", 1.5, 40, 40, [], [ObjectAnn([20.0, 0.0, 30.0, 10.0], "B", True)], False),
        Frame("frames/q/2.png", 2.5, 40, 40, [], [], None),
    ]
    return Sample("q", "q", "test", "audio/q.wav", frames, ["A"], {"mode": "distance", "gains": [1.0, 0.5, 0.25]})


def test_frame_labels_and_gt_boxes(tmp_path):
    s = Sample("s", "s", "test", "audio/s.wav", [Frame("frames/s.png", 0.5, 40, 40, [[[1, 1, 5, 5]], [[2, 2, 6, 6]]], [], True)])
    t = Sample("t", "t", "train", "audio/t.wav", [Frame("frames/t.png", 0.5, 40, 40, [], [], False)])
    write_manifest(tmp_path, [s, t, _sequence()], {"name": "toy"})
    assert on.frame_labels(tmp_path, "test") == {"s": True, "q/0": True, "q/1": False}  # q/2 is unknown
    assert on.frame_labels(tmp_path, "all") == {"s": True, "t": False, "q/0": True, "q/1": False}
    assert on.gt_boxes(tmp_path, "test") == {"s": [[1.0, 1.0, 5.0, 5.0], [2.0, 2.0, 6.0, 6.0]], "q/0": [[0.0, 0.0, 10.0, 10.0]],
                                             "q/1": [], "q/2": []}


def test_sequence_track_by_hand():
    boxes = {
        "q/0": [[0, 0, 10, 10, 0.5], [20, 0, 30, 10, 0.4], [0, 0, 30, 10, 0.3]],  # the third has IoU 1/3 with A and B
        "q/1": [[20, 0, 30, 10, 0.2]],
        "q/2": [],
    }
    records = {"q/0": {"d_on": 0.51}, "q/1": {"d_on": 0.21}, "q/2": {"d_on": 0.0}}
    t = on.sequence_track(_sequence(), boxes, records, iou=0.5)
    assert t.sample_id == "q" and t.mode == "distance" and t.labels == ["A", "B"]
    np.testing.assert_allclose(t.times, [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(t.onscreen, [True, False, False])
    np.testing.assert_allclose(t.d_on, [0.51, 0.21, 0.0])
    np.testing.assert_allclose(t.top_box[:2], [[0, 0, 10, 10], [20, 0, 30, 10]])
    assert np.isnan(t.top_box[2]).all()
    np.testing.assert_allclose(t.object_conf, [[0.5, np.nan, np.nan], [0.4, 0.2, np.nan]])
    np.testing.assert_allclose(t.object_box[:, :2], [[[0, 0, 10, 10], [np.nan] * 4], [[20, 0, 30, 10], [20, 0, 30, 10]]])
    np.testing.assert_array_equal(t.sounding, [[True, False, False], [False, True, False]])
    np.testing.assert_allclose(t.gains, [1.0, 0.5, 0.25])
    # a looser match takes the third box for both objects in frame 0, but the best d_k still wins
    loose = on.sequence_track(_sequence(), boxes, None, iou=0.3)
    np.testing.assert_allclose(loose.object_conf[:, 0], [0.5, 0.4])
    np.testing.assert_allclose(loose.object_box[:, 0], [[0, 0, 10, 10], [20, 0, 30, 10]])
    np.testing.assert_allclose(loose.d_on, [0.5, 0.2, 0.0])  # without records: the best box's score
    with pytest.raises(SSLPropError, match="no prediction for 'q/2'"):
        on.sequence_track(_sequence(), {"q/0": [], "q/1": []})


def _track(mode, d_on, conf=None, sounding=None, gains=None, onscreen=None):
    n = len(d_on)
    conf = np.zeros((2, n)) if conf is None else np.asarray(conf, dtype=float)
    return on.SequenceTrack("x", mode, np.arange(n) + 0.5, np.ones(n, bool) if onscreen is None else np.asarray(onscreen),
                            np.asarray(d_on, dtype=float), np.zeros((n, 4)), ["A", "B"], conf, np.zeros((2, n, 4)),
                            np.zeros((2, n), bool) if sounding is None else np.asarray(sounding), gains if gains is None else np.asarray(gains, dtype=float))


def test_distance_and_turns_summaries():
    up = _track("distance", [0.1, 0.2, 0.3, 0.5], gains=[1, 2, 3, 4])
    # d - mean = (-.175, -.075, .025, .225), g - mean = (-1.5, -.5, .5, 1.5): r = .65 / sqrt(.0875 * 5)
    down = _track("distance", [0.4, 0.3, 0.2, 0.9], gains=[1, 2, 3, 4], onscreen=[True, True, True, False])  # r = -1 on 3 frames
    turns = _track("turns", [0, 0, 0, 0])
    s = on.distance_summary([up, down, turns])
    assert s["clips"] == 2 and s["clips with r > 0"] == 1
    assert s["mean r"] == pytest.approx((0.65 / np.sqrt(0.0875 * 5) - 1.0) / 2)
    assert np.isnan(on.distance_summary([turns])["mean r"])
    t = _track("turns", [0] * 4, conf=[[0.5, 0.3, np.nan, 0.2], [0.4, 0.4, 0.1, 0.6]],
               sounding=[[True, True, False, False], [False, False, True, True]])
    # frames 0, 1, 3 have both; the sounding one is higher in frames 0 and 3
    assert on.turns_summary([t, up]) == {"clips": 1, "frames": 3, "sounding higher": pytest.approx(2 / 3), "frames with both matched": 0.75}


def test_map_shape_by_hand():
    m = np.array([[4, 4, 0, 0], [4, 4, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]], dtype=np.float32)
    s = on.map_shape(m, [0, 0, 2, 2])
    assert s == {"mass in box": pytest.approx(16 / 17), "box covered": 1.0, "region in box": 1.0, "map box IoU": pytest.approx(1.0)}
    s = on.map_shape(m, [0, 0, 4, 2])
    assert s["box covered"] == 0.5 and s["region in box"] == 1.0 and s["map box IoU"] == pytest.approx(0.5)
    assert on.map_shape(m, [0, 0, 4, 2], threshold=0.2)["box covered"] == 0.5  # the 1 (0.25 after min-max) lies outside
    with pytest.raises(SSLPropError, match=r"must be \(H, W\)"):
        on.map_shape(np.zeros((1, 4, 4)), [0, 0, 1, 1])


def test_ranking_summary_by_hand():
    boxes = {"a": [[0, 0, 10, 10, 0.9], [50, 50, 60, 60, 0.1]],
             "b": [[50, 50, 60, 60, 0.9], [0, 0, 10, 10, 0.5], [0, 0, 9, 10, 0.4]],  # IoU(.., [0,0,10,10]) = 0.9
             "c": [[0, 0, 1, 1, 0.3]]}
    gt = {"a": [[0, 0, 10, 10]], "b": [[0, 0, 10, 10]], "c": []}
    assert on.ranking_summary(boxes, gt) == {"frames": 2, "top-1 hits": 0.5, "random kept proposal hits": pytest.approx((0.5 + 2 / 3) / 2),
                                             "any kept hits": 1.0}
    with pytest.raises(SSLPropError, match="no prediction for 'd'"):
        on.ranking_summary(boxes, {"d": [[0, 0, 1, 1]]})


def test_table1_explorer_redraws():
    ex = on.table1_explorer(RECORDS, LABELS, title="toy")
    assert ex.values() == {"threshold": 0.2}
    assert "accuracy m_on 0.80, d_on 0.40, m_on || d_on 0.60" in ex.figure._suptitle.get_text()
    ex.update(threshold=0.12)
    assert "accuracy m_on 0.80, d_on 0.60, m_on || d_on 0.80" in ex.figure._suptitle.get_text()
    assert ex.png()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pick_clips_and_sequence_figure(tmp_path):
    import cv2
    import matplotlib.pyplot as plt

    def clip(i, mode, path=None):
        s = _sequence()
        s.id, s.meta = f"q{i}", {"mode": mode, **({"path": path, "gains": [1.0, 0.5, 0.25]} if path else {"switch_time": 1.0})}
        return s

    samples = [clip(0, "distance", "recede"), clip(1, "distance", "recede"), clip(2, "turns"), clip(3, "distance", "approach")]
    assert [s.id for s in on.pick_clips(samples, "distance", 2)] == ["q0", "q3"]  # one per path kind first
    assert [s.id for s in on.pick_clips(samples, "distance", 3)] == ["q0", "q3", "q1"]
    assert [s.id for s in on.pick_clips(samples, "turns", 5)] == ["q2"]
    for n in range(3):
        (tmp_path / "frames/q").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / f"frames/q/{n}.png"), np.zeros((40, 40, 3), np.uint8))
    boxes = {f"q{i}/{n}": rows for i in range(3) for n, rows in enumerate([[[0, 0, 10, 10, 0.5]], [[20, 0, 30, 10, 0.2]], []])}
    tracks = [on.sequence_track(s, boxes) for s in samples[:3]]
    fig = on.sequence_figure(tmp_path, samples[:2], tracks[:2])
    assert len(fig.axes) == 2 * (3 + 1) + 2  # per row: 3 frames and the curve, plus the curve's gain axis
    assert fig.axes[0].get_title() == "0.5 s: 0.500"
    fig4 = on.sequence_figure(tmp_path, samples[2:3], tracks[2:3], objects=True)
    assert fig4.axes[3].get_title() == "q2: A then B"
    plt.close("all")


def test_eval_onscreen_cli_prints_table1(tmp_path, capsys):
    from sslprop.cli import main as cli_main

    # five single-frame test samples keyed a..e with the labels of LABELS, and RECORDS as predictions
    samples = [Sample(k, k, "test", f"audio/{k}.wav", [Frame(f"frames/{k}.png", 0.5, 40, 40, [], [], v)]) for k, v in LABELS.items()]
    write_manifest(tmp_path / "data", samples, {"name": "toy"})
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "onscreen.json").write_text(json.dumps(RECORDS))
    argv = ["eval", "--onscreen", str(tmp_path / "pred"), "--annotations", str(tmp_path / "data")]
    assert cli_main(argv) == 0
    text = capsys.readouterr().out
    assert "5 labelled frames: 3 on-screen, 2 off-screen" in text
    assert "m_on                  0.800         0.667           1.000" in text
    assert "ROC AUC: d_on 0.667, m_on distance 0.667" in text  # d_on: 4 of 6 pairs ordered; distance: a, b below c, d
    assert cli_main(argv + ["--json", "--output", str(tmp_path / "t1.json")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads((tmp_path / "t1.json").read_text())
    assert report["rows"][1]["accuracy"] == pytest.approx(0.4) and report["off-screen"] == 2
    # no --protocol is an error only for the other modes; a folder without onscreen.json is one line
    assert cli_main(["eval", "--method", "center", "--annotations", str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err.startswith("error: --protocol: required")
    assert cli_main(["eval", "--onscreen", str(tmp_path / "data"), "--annotations", str(tmp_path / "data")]) == 2
    assert "cannot read on/off-screen predictions" in capsys.readouterr().err
    assert cli_main(argv + ["--protocol", "lvs"]) == 2  # options of the other modes are refused, not ignored
    assert capsys.readouterr().err.startswith("error: --protocol: not used with --onscreen")
