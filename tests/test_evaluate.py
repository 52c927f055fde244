"""`python -m sslprop eval` on small fixtures in each native format and in the sslprop format, values by hand."""

import json

import numpy as np
import pytest

from sslprop import cli, evaluate
from sslprop.data.format import Frame, ObjectAnn, Sample, write_manifest
from sslprop.floors import box_map, floor_box, floor_predictions

GARBAGE = -2.8823037615171176e16


def run_eval(capsys, *argv):
    code = cli.main(["eval", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


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
def music_json(tmp_path):
    data = {
        "m1_0_1000/frame_001/00001.jpg": {"bbox": [{"box": [160, 90, 320, 180], "normbox": [0.25, 0.25, 0.5, 0.5], "category_id": 1}],
                                          "wdith": 640, "height": 360},
        "m2_0_1000/frame_002/00002.jpg": {"bbox": [], "wdith": 640, "height": 360},
    }
    path = tmp_path / "solotest.json"
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


def test_music_solo_floors_boxes_and_maps(capsys, tmp_path, music_json):
    base = ["--annotations", music_json, "--format", "music", "--protocol", "dsol-solo"]
    r = run_eval(capsys, "--method", "full-frame", *base)
    # ground truth [56:168]^2 = 12544 of 50176 -> 0.25; the entry without boxes is excluded and reported
    assert r["n"] == 1 and r["iou@0.5"] == 0.0 and r["mean_ciou"] == 0.25
    assert r["auc"] == pytest.approx(0.275, abs=1e-12)
    assert r["excluded"] == {"no_boxes": 1} and r["problems"]["no_boxes"]["count"] == 1
    # the centre box of a 640x360 frame is exactly the annotated box
    assert run_eval(capsys, "--method", "center", *base)["iou@0.5"] == 1.0
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"m1_0_1000/frame_001/00001.jpg": [[0, 0, 10, 10, 0.1], [160, 90, 480, 270, 0.9]]}))
    r = run_eval(capsys, "--predictions", boxes, *base)
    assert r["iou@0.5"] == 1.0 and r["box_iou@0.5"] == 1.0 and r["kind"] == "boxes"
    # maps in a folder of <key>.npy, keys with "/" as sub-folders; no min-max: 0.05 background stays below 0.1 * 1
    m = np.full((224, 224), 0.05, np.float32)
    m[56:168, 56:168] = 1
    path = tmp_path / "maps" / "m1_0_1000" / "frame_001" / "00001.jpg.npy"
    path.parent.mkdir(parents=True)
    np.save(path, m)
    r = run_eval(capsys, "--predictions", tmp_path / "maps", *base)
    assert r["iou@0.5"] == 1.0 and r["missing_predictions"] == 0


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


def test_frame_key_rule():
    assert evaluate.frame_key("s1", 0, 1) == "s1"
    assert evaluate.frame_key("s2", 3, 5) == "s2/3"


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


def test_floors_are_deterministic_boxes():
    assert floor_box("full-frame", 640, 360).tolist() == [[0, 0, 640, 360, 1]]
    assert floor_box("center", 640, 360).tolist() == [[160, 90, 480, 270, 1]]
    a = floor_predictions("random-box", {"x": (100, 50), "y": (100, 50)}, seed=3)
    b = floor_predictions("random-box", {"y": (100, 50)}, seed=3)
    assert np.array_equal(a["y"], b["y"])  # independent of order and subset
    assert not np.array_equal(a["x"], a["y"])
    x1, y1, x2, y2, _ = a["x"][0]
    assert 0 <= x1 <= x2 <= 100 and 0 <= y1 <= y2 <= 50
    assert not np.array_equal(floor_predictions("random-box", {"x": (100, 50)}, seed=4)["x"], a["x"])
    assert box_map(np.array([1, 0, 3, 2]), 4, 2).tolist() == [[0, 1, 1, 0], [0, 1, 1, 0]]


def test_results_table_puts_methods_by_protocols():
    results = {
        "full-frame": {"lvs": {"ciou@0.5": 0.2196, "auc": 0.3125}, "dsol-solo": {"iou@0.5": 0.1535, "auc": 0.3322}},
        "ours": {"lvs": {"ciou@0.5": 0.5, "auc": 0.45}},
    }
    assert evaluate.results_table(results) == "\n".join([
        "| method | lvs ciou@0.5 | lvs auc | dsol-solo iou@0.5 | dsol-solo auc |",
        "|---|---:|---:|---:|---:|",
        "| full-frame | 22.0 | 31.2 | 15.3 | 33.2 |",
        "| ours | 50.0 | 45.0 | - | - |",
    ])
    header, rows = evaluate.results_rows(results, columns=[("lvs", "auc")], scale=1.0)
    assert header == ["method", "lvs auc"] and rows == [["full-frame", "0.3"], ["ours", "0.5"]]


def test_ids_list_restricts_and_reports(capsys, tmp_path, flickr_dir):
    ids = tmp_path / "flickr_test.csv"
    ids.write_text("100,0\n999,3\n")  # 999 has no annotation; 200 is annotated but not listed
    r = run_eval(capsys, "--method", "full-frame", "--annotations", flickr_dir, "--protocol", "lvs", "--ids", ids)
    assert r["n"] == 1 and r["ciou@0.5"] == 1.0 and r["mean_ciou"] == 0.5
    assert r["excluded"]["no_annotation"] == 1 and r["excluded_examples"]["no_annotation"] == ["999"]
    assert r["outside_ids"] == 1
    senocak = tmp_path / "test_list.txt"
    senocak.write_text("100.png\n200.png\n")
    assert evaluate.read_id_list(senocak) == ["100", "200"]
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
