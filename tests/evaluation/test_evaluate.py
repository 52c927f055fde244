"""Tests for sslprop/evaluation/evaluate.py (`sslprop eval`) and the modules it runs: annotated.py, scoring.py, report.py."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

from sslprop import cli
from sslprop.data.annotations import read_id_list
from sslprop.data.format import Frame, ObjectAnn, Sample, write_manifest
from sslprop.evaluation.annotated import load_annotated
from sslprop.evaluation.scoring import score
from tests.helpers import LABELS, RECORDS, run_eval

matplotlib.use("Agg")

GARBAGE = -2.8823037615171176e16


def run_fail(capsys, *argv):
    code = cli.main(["eval", *map(str, argv)])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1  # one line, no traceback
    return err


@pytest.fixture
def flickr_dir(tmp_path):
    """Two Flickr-SoundNet XML files: three overlapping annotators, and one half-frame box."""
    folder = tmp_path / "Annotations"
    folder.mkdir()
    boxes = {"100": [(0, 0, 128, 128), (64, 64, 192, 192), (128, 128, 256, 256)], "200": [(0, 0, 256, 128)]}
    for name, bs in boxes.items():
        rows = "".join(f"<bbox><label>{i}</label><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bbox>"
                       for i, b in enumerate(bs))
        (folder / f"{name}.xml").write_text(f'<?xml version="1.0" ?><annotation><file>{name}.jpg</file><bboxes>{rows}</bboxes></annotation>')
    return folder


@pytest.fixture
def vggss_json(tmp_path):
    data = [
        {"file": "e1", "class": "a", "bbox": [[0.0, 0.0, 0.5, 0.5]]},  # top-left quadrant
        {"file": "e2", "class": "b", "bbox": [[0.25, 0.25, GARBAGE, 0.75]]},  # garbage x2 -> 0: empty ground truth
        {"file": "e3", "class": "c", "bbox": [[0.0, 0.0, 1.0, 0.5]]},  # top half
    ]
    path = tmp_path / "vggss.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def duet_json(tmp_path):
    data = {"d1_0_1000/frame_005/00150.jpg": {"bbox": [
        {"box": [0, 0, 320, 360], "normbox": [0.0, 0.0, 0.5, 1.0], "category_id": 1},
        {"box": [320, 0, 320, 360], "normbox": [0.5, 0.0, 0.5, 1.0], "category_id": 3}], "wdith": 640, "height": 360}}
    path = tmp_path / "duettest.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def sslprop_set(tmp_path):
    """s1: one frame 100x50, one annotator; s2: two frames 224x224 (two annotators / none); s3 off-screen; s4 train."""
    root = tmp_path / "set"
    root.mkdir()
    samples = [
        Sample("s1", "v1", "test", "audio/s1.wav", [Frame("frames/s1.png", 0.5, 100, 50, [[[0, 0, 50, 50]]], onscreen=True)]),
        Sample("s2", "v2", "test", "audio/s2.wav", [
            Frame("frames/s2_0.png", 0.5, 224, 224, [[[0, 0, 112, 224]], [[0, 0, 224, 112]]], onscreen=True),
            Frame("frames/s2_1.png", 1.5, 224, 224, [], onscreen=True)]),
        Sample("s3", "v3", "test", "audio/s3.wav", [Frame("frames/s3.png", 0.5, 64, 64, [[[0, 0, 10, 10]]], onscreen=False)]),
        Sample("s4", "v4", "train", "audio/s4.wav", [Frame("frames/s4.png", 0.5, 64, 64, [[[0, 0, 10, 10]]], onscreen=True)]),
    ]
    write_manifest(root, samples, {"name": "fixture"})
    return root


def test_flickr_full_frame_and_center(capsys, flickr_dir):
    # 100: sum(G) = 18816, uncovered 18816 -> full frame 0.5; 200: 12544 / (12544 + 25088) = 1/3
    r = run_eval(capsys, "--method", "full-frame", "--annotations", flickr_dir, "--format", "flickr", "--protocol", "lvs")
    assert r["n"] == 2 and r["ciou@0.5"] == 0.5
    assert r["auc"] == pytest.approx(0.425, abs=1e-12)
    assert r["mean_ciou"] == pytest.approx((0.5 + 1 / 3) / 2)
    # centre box (64, 64, 192, 192) -> grid (56, 56, 168, 168): 100 -> 9408 / 18816 = 0.5; 200 -> 3136 / 18816 = 1/6
    r = run_eval(capsys, "--method", "center", "--annotations", flickr_dir, "--protocol", "lvs")  # format guessed
    assert r["mean_ciou"] == pytest.approx((0.5 + 1 / 6) / 2)
    assert r["ciou@0.5"] == 0.5 and r["box_iou@0.5"] == 0.5  # centre box == annotator box of 100


def test_vggss_floor_with_garbage_reports_it(capsys, vggss_json):
    r = run_eval(capsys, "--method", "full-frame", "--annotations", vggss_json, "--format", "vggss", "--protocol", "lvs")
    # e1 12544/50176 = 0.25; e2 empty ground truth -> 0 / 50176 = 0; e3 0.5
    assert r["n"] == 3 and r["ciou@0.5"] == pytest.approx(1 / 3)
    assert r["mean_ciou"] == pytest.approx(0.25)
    assert r["problems"]["coordinate_out_of_range"]["count"] == 1
    assert "e2" in r["problems"]["coordinate_out_of_range"]["examples"][0]


def test_vggss_maps_under_three_protocols_with_missing_and_extra_ids(capsys, tmp_path, vggss_json):
    quadrant = np.zeros((224, 224), np.float32)
    quadrant[:112, :112] = 1
    top = np.zeros((224, 224), np.float32)
    top[:112] = 1
    preds = tmp_path / "maps.npz"
    np.savez(preds, e1=quadrant, e3=top, zzz=quadrant)  # e2 missing, zzz not annotated
    base = ["--predictions", preds, "--annotations", vggss_json, "--format", "vggss"]
    # lvs: quadrant -> > 0 -> quadrant (1.0); top half: the median element is the max 1, nothing is > 1,
    # but pred[pred < 1] = 0 leaves the 1s, so the top half stays positive (1.0); e2 missing -> 0
    r = run_eval(capsys, *base, "--protocol", "lvs")
    assert r["n"] == 3 and r["missing_predictions"] == 1 and r["missing_examples"] == ["e2"]
    assert r["unannotated_predictions"] == 1 and r["unannotated_examples"] == ["zzz"]
    assert r["ciou@0.5"] == pytest.approx(2 / 3) and r["mean_ciou"] == pytest.approx(2 / 3)
    assert r["kind"] == "maps" and "box_iou@0.5" not in r
    # ezvsl: >= 0 keeps everything for the quadrant (0.25); >= 1 keeps the top half (1.0)
    r = run_eval(capsys, *base, "--protocol", "ezvsl")
    assert r["mean_ciou"] == pytest.approx(1.25 / 3)
    # sspl: >= 0.5 -> quadrant 1.0, top half 1.0
    r = run_eval(capsys, *base, "--protocol", "sspl")
    assert r["ciou@0.5"] == pytest.approx(2 / 3)
    # --missing skip leaves e2 out of n
    r = run_eval(capsys, *base, "--protocol", "sspl", "--missing", "skip")
    assert r["n"] == 2 and r["ciou@0.5"] == 1.0 and r["missing_predictions"] == 1


def test_duet_multi_source(capsys, tmp_path, duet_json):
    base = ["--annotations", duet_json, "--format", "music", "--protocol", "dsol-multi"]
    r = run_eval(capsys, "--method", "full-frame", *base)
    # one full-frame box against each half: 0.5 each, image mean 0.5
    assert r["n"] == 1 and r["mean_ciou"] == 0.5 and r["iou@0.5"] == 1.0
    assert r["auc"] == pytest.approx(0.525, abs=1e-12)
    boxes = tmp_path / "duet.json"
    boxes.write_text(json.dumps({"d1_0_1000/frame_005/00150.jpg": [[320, 0, 640, 360, 0.9], [0, 0, 320, 360, 0.8], [0, 0, 640, 360, 0.1]]}))
    r = run_eval(capsys, "--predictions", boxes, *base)
    assert r["mean_ciou"] == 1.0 and r["silent"] is None  # MUSIC-duet annotates no silent object
    # per-category maps (S, H, W): the assignment pairs them with the categories
    maps = np.zeros((2, 224, 224), np.float32)
    maps[0, :, 112:] = 1
    maps[1, :, :112] = 1
    np.savez(tmp_path / "duet.npz", **{"d1_0_1000/frame_005/00150.jpg": maps})
    r = run_eval(capsys, "--predictions", tmp_path / "duet.npz", "--annotations", duet_json, "--protocol", "dsol-duet")
    assert r["mean_ciou"] == 1.0


def test_multi_source_reports_dsol_ciou_at_0_3_and_reads_one_map_as_two_regions(capsys, tmp_path, duet_json):
    base = ["--annotations", duet_json, "--format", "music", "--protocol", "dsol-multi"]
    key = "d1_0_1000/frame_005/00150.jpg"
    # the full frame against each half: 0.5 per source; DSOL's CIoU@0.3 (results[6]) beside IoU@0.5 (results[10])
    r = run_eval(capsys, "--method", "full-frame", *base, "--ci")
    assert r["ciou@0.3"] == 1.0 and r["iou@0.5"] == 1.0 and "iou@0.3" not in r and r["ci"]["ciou@0.3"] == [1.0, 1.0]
    # the two-region floor: the left and right halves are the two sources here
    r = run_eval(capsys, "--method", "two-halves", *base)
    assert r["mean_ciou"] == 1.0 and r["predictions"] == "floor:two-halves"
    # one map with a blob in each half (100 of the 112 columns each, the right one weaker): two regions, 100/112 each.
    # Read as one mask (> 0.5 x max keeps both blobs) each source would get 100 / 212 < 0.5.
    m = np.zeros((224, 224), np.float32)
    m[:, :100] = 1.0
    m[:, 124:] = 0.8
    np.savez(tmp_path / "one.npz", **{key: m})
    for proto in ("dsol-multi", "dsol-multi-raw", "dsol-duet"):
        r = run_eval(capsys, "--predictions", tmp_path / "one.npz", "--annotations", duet_json, "--protocol", proto)
        assert r["mean_ciou"] == pytest.approx(100 / 112) and r["ciou@0.3"] == 1.0 and "two_regions" in r["map_readout"], proto
    # one blob over both sources: one region, the second empty -> at most 0.5 per image
    m = np.zeros((224, 224), np.float32)
    m[:, 56:168] = 1.0
    np.savez(tmp_path / "blob.npz", **{key: m})
    r = run_eval(capsys, "--predictions", tmp_path / "blob.npz", *base)
    assert r["mean_ciou"] == pytest.approx((56 / 168) / 2)
    # --compare under a multi-source protocol: ciou@0.3 among the paired differences; the plain table prints it
    r = run_eval(capsys, "--predictions", tmp_path / "one.npz", "--compare", tmp_path / "blob.npz", *base, "--resamples", "50")
    assert set(r["paired"]) == {"iou@0.5", "auc", "ciou@0.3"} and r["paired"]["ciou@0.3"]["difference"] == 1.0
    assert cli.main(["eval", "--method", "two-halves", *map(str, base)]) == 0
    out = capsys.readouterr().out
    assert "ciou@0.3     1.0000" in out and "iou@0.5      1.0000" in out


def test_dsol_solo_min_max_and_raw_read_outs(capsys, tmp_path, music_json):
    # a map whose minimum is a third of its maximum, peaked on the annotated box (56:168 squared on the grid)
    m = np.full((224, 224), 1 / 3, np.float32)
    m[56:168, 56:168] = 1.0
    key = "m1_0_1000/frame_001/00001.jpg"
    np.savez(tmp_path / "m.npz", **{key: m})
    base = ["--predictions", tmp_path / "m.npz", "--annotations", music_json]
    full = run_eval(capsys, "--method", "full-frame", "--annotations", music_json, "--protocol", "dsol-solo")
    raw = run_eval(capsys, *base, "--protocol", "dsol-solo-raw")
    assert raw["mean_ciou"] == full["mean_ciou"] == 0.25  # DSOL's raw read-out: > 0.1 x max is every pixel
    assert run_eval(capsys, *base, "--protocol", "dsol-solo")["mean_ciou"] == 1.0  # min-max first: the box


def test_sslprop_set_keys_exclusions_and_consensus(capsys, tmp_path, sslprop_set):
    r = run_eval(capsys, "--method", "full-frame", "--annotations", sslprop_set, "--protocol", "lvs")
    # s1: one annotator, grid (0, 0, 112, 224) -> 0.5; s2/0: two annotators, consensus -> 25088 / 37632 = 2/3
    assert r["n"] == 2 and r["excluded"] == {"no_boxes": 1, "offscreen": 1}
    assert r["excluded_examples"] == {"no_boxes": ["s2/1"], "offscreen": ["s3"]}
    assert r["n_annotated"] == 4 and r["ciou@0.5"] == 1.0
    assert r["mean_ciou"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert r["auc"] == pytest.approx(0.6, abs=1e-12)
    boxes = tmp_path / "boxes.json"
    # s1: the higher-score right half misses; s2/0: the top-left quadrant -> 12544 / 25088 = 0.5
    boxes.write_text(json.dumps({"s1": [[0, 0, 50, 50, 0.9], [50, 0, 100, 50, 0.95]], "s2/0": [[0, 0, 112, 112, 1.0]], "bogus": [[0, 0, 1, 1, 1]]}))
    r = run_eval(capsys, "--predictions", boxes, "--annotations", sslprop_set, "--format", "sslprop", "--protocol", "lvs")
    assert r["mean_ciou"] == 0.25 and r["ciou@0.5"] == 0.5
    assert r["box_iou@0.5"] == 0.5 and r["iou@0.5"] == 0.5  # quadrant vs (0, 0, 112, 224): IoU 0.5
    assert r["unannotated_predictions"] == 1 and r["missing_predictions"] == 0
    boxes.write_text(json.dumps({"s1": [[0, 0, 50, 50, 1.0]]}))
    r = run_eval(capsys, "--predictions", boxes, "--annotations", sslprop_set, "--protocol", "lvs")
    assert r["missing_predictions"] == 1 and r["missing_examples"] == ["s2/0"] and r["n"] == 2
    assert r["mean_ciou"] == 0.5  # s1 exact (1.0), s2/0 scored 0


def test_sslprop_multi_source_with_silent_objects(capsys, tmp_path):
    root = tmp_path / "mosaic"
    root.mkdir()
    q = {"tl": [0, 0, 112, 112], "tr": [112, 0, 224, 112], "bl": [0, 112, 112, 224], "br": [112, 112, 224, 224]}
    objects = [ObjectAnn(q["tl"], "cello", True), ObjectAnn(q["tr"], "flute", True),
               ObjectAnn(q["bl"], "tuba", False), ObjectAnn(q["br"], "erhu", False)]
    frame = Frame("frames/m.png", 0.5, 224, 224, [[q["tl"], q["tr"]]], objects, onscreen=True)
    write_manifest(root, [Sample("m", "v", "test", "audio/m.wav", [frame])], {"name": "mosaic"})
    boxes = tmp_path / "b.json"
    boxes.write_text(json.dumps({"m": [q["tr"] + [0.9], q["bl"] + [0.8]]}))
    r = run_eval(capsys, "--predictions", boxes, "--annotations", root, "--protocol", "dsol-multi")
    # flute found (1.0), cello not (0.0): image 0.5; tuba covered, erhu left alone: silent 0.5
    assert r["mean_ciou"] == 0.5 and r["iou@0.5"] == 1.0
    assert r["silent"] == 0.5 and r["n_silent"] == 1


def test_bad_input_is_one_line(capsys, tmp_path, vggss_json, music_json):
    np.save(tmp_path / "maps.npy", np.zeros((2, 2)))
    err = run_fail(capsys, "--predictions", tmp_path / "maps.npy", "--annotations", vggss_json, "--protocol", "lvs")
    assert "np.savez" in err
    err = run_fail(capsys, "--method", "center", "--annotations", vggss_json, "--format", "vggss", "--protocol", "dsol-solo")
    assert "dsol-solo is defined for music" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"m1": [[10, 10, 5, 20, 1.0]]}))
    err = run_fail(capsys, "--predictions", bad, "--annotations", music_json, "--protocol", "dsol-solo")
    assert "bad.json entry 'm1' box 0" in err and "x2 < x1" in err
    err = run_fail(capsys, "--method", "center", "--annotations", tmp_path / "nothing.json", "--format", "music", "--protocol", "dsol-solo")
    assert "no such annotation file" in err


def test_plain_output_is_a_short_table(capsys, vggss_json):
    assert cli.main(["eval", "--method", "full-frame", "--annotations", str(vggss_json), "--protocol", "lvs"]) == 0
    out = capsys.readouterr().out
    assert "ciou@0.5     0.3333" in out and "missing      0" in out and "coordinate_out_of_range: 1" in out


def test_ids_list_restricts_and_reports(capsys, tmp_path, flickr_dir):
    ids = tmp_path / "flickr_test.csv"
    ids.write_text("100,0\n999,3\n")  # 999 has no annotation; 200 is annotated but not listed
    r = run_eval(capsys, "--method", "full-frame", "--annotations", flickr_dir, "--protocol", "lvs", "--ids", ids)
    assert r["n"] == 1 and r["ciou@0.5"] == 1.0 and r["mean_ciou"] == 0.5
    assert r["excluded"]["no_annotation"] == 1 and r["excluded_examples"]["no_annotation"] == ["999"]
    assert r["outside_ids"] == 1
    senocak = tmp_path / "test_list.txt"
    senocak.write_text("100.png\n200.png\n")
    assert read_id_list(senocak) == ["100", "200"]
    r = run_eval(capsys, "--method", "full-frame", "--annotations", flickr_dir, "--protocol", "lvs", "--ids", senocak)
    assert r["n"] == 2 and r["outside_ids"] == 0 and r["excluded"]["no_annotation"] == 0


def test_dataset_gt_rule_overrides_the_annotator_count(capsys, tmp_path):
    # One annotator box covering the left half of a 256 x 256 frame; a full-frame box predicted.
    frame = Frame("f.png", 0.5, 256, 256, [[[0.0, 0.0, 128.0, 256.0]]], onscreen=True)
    write_manifest(tmp_path, [Sample("a", "a", "test", "a.wav", [frame])], {"name": "t"})
    union = run_eval(capsys, "--method", "full-frame", "--annotations", str(tmp_path), "--protocol", "lvs", "--json")
    assert union["mean_ciou"] == pytest.approx(112 / 224)  # union: G = the half, P = everything
    write_manifest(tmp_path, [Sample("a", "a", "test", "a.wav", [frame])], {"name": "t", "gt_rule": "consensus"})
    cons = run_eval(capsys, "--method", "full-frame", "--annotations", str(tmp_path), "--protocol", "lvs", "--json")
    # consensus: G = min(1, mask / 2) = 0.5 on the half -> sum(P*G) / (sum(G) + sum(P*[G==0])) = 0.5h / (0.5h + h)
    assert cons["mean_ciou"] == pytest.approx(1 / 3)


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
    assert "m_on                          0.800    0.833         0.667           1.000" in text  # accuracy, balanced, TPR, TNR
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


# --------------------------------------------------------------------------- extended, pointing, compare, coco


@pytest.fixture
def extended_set(tmp_path):
    """v1, v2, v3: on-screen 100 x 100 frames, the source in the top-left quarter; off: an off-screen frame."""
    root = tmp_path / "ext"
    root.mkdir()
    quarter = [[[0, 0, 50, 50]]]
    samples = [Sample(k, k, "test", f"audio/{k}.wav", [Frame(f"frames/{k}.png", 0.5, 100, 100, quarter, onscreen=True)])
               for k in ("v1", "v2", "v3")]
    samples.append(Sample("off", "off", "test", "audio/off.wav", [Frame("frames/off.png", 0.5, 100, 100, [], onscreen=False)]))
    write_manifest(root, samples, {"name": "extended"})
    return root


TL, BR = [0, 0, 50, 50], [50, 50, 100, 100]


def write_boxes(path, boxes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(boxes))
    return path


def test_extended_offscreen_frames_are_the_nonvisible_samples(capsys, tmp_path, extended_set):
    # the hand case of test_extended.py: v1 right (0.9), off detected (0.7), v3 wrong (0.5), v2 right (0.2) -> AP 1/3, max-F1 2/3
    boxes = write_boxes(tmp_path / "a" / "boxes.json", {"v1": [TL + [0.9]], "off": [TL + [0.7]], "v3": [BR + [0.5]], "v2": [TL + [0.2]]})
    base = ["--predictions", boxes, "--annotations", extended_set, "--protocol", "lvs", "--extended"]
    r = run_eval(capsys, *base)
    assert r["n"] == 3 and r["excluded"]["offscreen"] == 1 and r["ciou@0.5"] == pytest.approx(2 / 3)
    assert r["ap@0.5"] == pytest.approx(1 / 3) and r["max_f1@0.5"] == pytest.approx(2 / 3)
    e = r["extended"]
    assert (e["n"], e["n_visible"], e["n_nonvisible"], e["ciou_threshold"]) == (4, 3, 1, 0.5)
    assert e["f1_confidence"] == 0.2 and e["precision"] == 0.5 and e["confidence"] == "auto"
    # d_on of the onscreen.json beside the predictions: v1 0.9, v2 0.8, v3 0.1, off 0.05 -> max-F1 0.8 (at 0.1: P 2/3, R 1)
    records = {k: {"d_on": d, "distance": 0.5, "on_m": True} for k, d in {"v1": 0.9, "v2": 0.8, "v3": 0.1, "off": 0.05}.items()}
    (tmp_path / "a" / "onscreen.json").write_text(json.dumps(records))
    r = run_eval(capsys, *base, "--confidence", "d_on")
    assert r["max_f1@0.5"] == pytest.approx(0.8) and r["extended"]["confidence"] == "d_on"
    assert run_eval(capsys, *base, "--confidence", tmp_path / "a" / "onscreen.json")["max_f1@0.5"] == pytest.approx(0.8)
    # --ci: intervals of AP and max-F1; the plain table names them with their threshold
    r = run_eval(capsys, *base, "--ci", "--resamples", "50", "--extended-ciou", "0.75")
    assert set(r["ci"]) >= {"ap@0.75", "max_f1@0.75", "ciou@0.5"} and r["extended"]["ciou_threshold"] == 0.75
    lo, hi = r["ci"]["ap@0.75"]
    assert 0 <= lo <= hi <= 1
    assert cli.main(["eval", *map(str, base), "--ci", "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert "ap@0.5       0.3333  [" in out and "max_f1@0.5   0.6667  [" in out and "3 visible, 1 not" in out


def test_extended_refusals(capsys, tmp_path, extended_set, duet_json):
    boxes = write_boxes(tmp_path / "b.json", {"v1": [TL + [0.9]]})
    err = run_fail(capsys, "--predictions", boxes, "--annotations", extended_set, "--protocol", "lvs", "--confidence", "d_on")
    assert "only with --extended" in err
    err = run_fail(capsys, "--predictions", boxes, "--annotations", extended_set, "--protocol", "lvs", "--extended", "--confidence", "d_on")
    assert "cannot read on/off-screen predictions" in err
    err = run_fail(capsys, "--predictions", boxes, "--annotations", extended_set, "--protocol", "lvs", "--extended", "--confidence", "top-quarter")
    assert "for map predictions only" in err
    err = run_fail(capsys, "--method", "center", "--annotations", duet_json, "--protocol", "dsol-multi", "--pointing")
    assert "not with the multi-source --protocol dsol-multi" in err


def test_pointing_maps_and_boxes(capsys, tmp_path, extended_set):
    inside, outside = np.zeros((7, 7), np.float32), np.zeros((7, 7), np.float32)
    inside[1, 1], outside[5, 6] = 1, 1  # 7 x 7 maps resized to 224: peaks in the top-left quarter / the bottom right
    np.savez(tmp_path / "maps.npz", v1=inside, v2=outside)  # v3 missing: a miss (--missing fail)
    r = run_eval(capsys, "--predictions", tmp_path / "maps.npz", "--annotations", extended_set, "--protocol", "lvs", "--pointing", "--ci")
    assert r["pointing"] == pytest.approx(1 / 3) and "pointing" in r["ci"]
    r = run_eval(capsys, "--predictions", tmp_path / "maps.npz", "--annotations", extended_set, "--protocol", "lvs", "--pointing",
                 "--missing", "skip")
    assert r["pointing"] == 0.5
    boxes = write_boxes(tmp_path / "p.json", {"v1": [[10, 10, 30, 30, 1.0]], "v2": [[30, 30, 90, 90, 1.0]], "v3": [[0, 0, 100, 100, 1.0]]})
    r = run_eval(capsys, "--predictions", boxes, "--annotations", extended_set, "--protocol", "lvs", "--pointing")
    assert r["pointing"] == pytest.approx(2 / 3)  # centres (20, 20) in, (60, 60) out, (50, 50) on the corner: in
    assert "pointing" not in run_eval(capsys, "--predictions", boxes, "--annotations", extended_set, "--protocol", "lvs")


def test_compare_is_the_paired_difference_of_the_two_reports(capsys, tmp_path, extended_set):
    a = write_boxes(tmp_path / "a.json", {"v1": [TL + [0.9]], "v2": [TL + [0.2]], "v3": [BR + [0.5]], "off": [TL + [0.7]]})
    b = write_boxes(tmp_path / "b.json", {"v1": [[0, 0, 50, 100, 0.9]], "v2": [BR + [0.2]], "v3": [BR + [0.5]], "off": [TL + [0.1]]})
    base = ["--annotations", extended_set, "--protocol", "lvs", "--pointing", "--extended"]
    ra, rb = run_eval(capsys, "--predictions", a, *base), run_eval(capsys, "--predictions", b, *base)
    r = run_eval(capsys, "--predictions", a, "--compare", b, *base, "--resamples", "100")
    assert r["ciou@0.5"] == ra["ciou@0.5"] and r["compare"]["ciou@0.5"] == rb["ciou@0.5"]
    for k in ("ciou@0.5", "auc", "box_iou@0.5", "pointing", "ap@0.5", "max_f1@0.5"):
        d = r["paired"][k]
        assert d["difference"] == pytest.approx(ra[k] - rb[k]), k
        assert d["low"] <= d["difference"] <= d["high"] and isinstance(d["resolved"], bool)
    assert r["paired"]["ciou@0.5"]["difference"] == pytest.approx(2 / 3 - 1 / 3)  # b: v1 cIoU 0.5 passes, v2 and v3 fail
    assert cli.main(["eval", "--predictions", str(a), "--compare", str(b), *map(str, base), "--resamples", "100"]) == 0
    assert "A - B +0.3333" in capsys.readouterr().out
    # different frame sets (--missing skip and a prediction missing from b) are refused in one line
    c = write_boxes(tmp_path / "c.json", {"v1": [TL + [0.9]], "v2": [TL + [0.2]]})
    err = run_fail(capsys, "--predictions", a, "--compare", c, "--annotations", extended_set, "--protocol", "lvs", "--missing", "skip")
    assert "score different frames" in err and "'v3'" in err


def test_coco_export_from_the_cli(capsys, tmp_path, extended_set):
    a = write_boxes(tmp_path / "a.json", {"v1": [TL + [0.9]], "v2": [TL + [0.2]], "v3": [BR + [0.5]], "off": [TL + [0.7]]})
    r = run_eval(capsys, "--predictions", a, "--annotations", extended_set, "--protocol", "lvs", "--coco", tmp_path / "coco")
    gt = json.loads((tmp_path / "coco" / "ground_truth.json").read_text())
    dets = json.loads((tmp_path / "coco" / "detections.json").read_text())
    assert r["coco"]["images"] == 3 and [i["file_name"] for i in gt["images"]] == ["v1", "v2", "v3"]  # scored frames only
    assert [d["image_id"] for d in dets] == [1, 2, 3] and dets[2]["bbox"] == [50.0, 50.0, 50.0, 50.0]
    np.savez(tmp_path / "maps.npz", v1=np.zeros((7, 7), np.float32))
    err = run_fail(capsys, "--predictions", tmp_path / "maps.npz", "--annotations", extended_set, "--protocol", "lvs", "--coco", tmp_path / "c2")
    assert "exports box predictions" in err


def test_help_lists_the_new_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["eval", "--help"])
    out = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # argparse wraps lines, also after hyphens
    for flag in ("--extended", "--extended-ciou", "--confidence", "--pointing", "--coco", "--compare", "max-F1", "pointing game",
                 "--visual-weights", "visual-prior", "visual-prior-box", "two-halves", "ceiling-grid", "dsol-solo-raw", "ciou@0.3"):
        assert flag in out, flag


def test_score_from_python_with_d_on(tmp_path, extended_set):
    from sslprop.data.predfiles import load_predictions
    from sslprop.evaluation import metrics

    boxes = write_boxes(tmp_path / "a" / "boxes.json", {"v1": [TL + [0.9]], "off": [TL + [0.7]], "v3": [BR + [0.5]], "v2": [TL + [0.2]]})
    records = {k: {"d_on": d} for k, d in {"v1": 0.9, "v2": 0.8, "v3": 0.1, "off": 0.05}.items()}
    (tmp_path / "a" / "onscreen.json").write_text(json.dumps(records))
    proto = metrics.get_protocol("lvs")
    annotated = load_annotated(extended_set, None, proto)
    r = score(annotated, load_predictions(boxes), proto, extended={"confidence": "d_on"}, pointing=True)
    assert r["max_f1@0.5"] == pytest.approx(0.8) and r["pointing"] == pytest.approx(2 / 3)
    assert score(annotated, load_predictions(boxes), proto, extended={})["ap@0.5"] == pytest.approx(1 / 3)
