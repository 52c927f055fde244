"""Tests for sslprop/data/importers/flickr.py."""

from __future__ import annotations

import cv2

from sslprop.data.format import read_manifest
from sslprop.data.importers import import_dataset
from tests.data.importers.helpers import read_report, wav_seconds, write_image, write_tone


def flickr_xml(boxes: list[list[int]]) -> str:
    """An annotation file shaped as LVS parses it: per annotator a root child whose <bbox> holds a label, then xmin, ymin, xmax, ymax."""
    items = "".join(
        f"<object><bbox><label>source</label><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bbox></object>"
        for x1, y1, x2, y2 in boxes
    )
    return f"<?xml version='1.0'?><annotation>{items}</annotation>"


def test_flickr_resizes_to_256_and_keeps_three_annotators(tmp_path):
    src = tmp_path / "Flickr-SoundNet"
    ann = src / "Annotations"
    ann.mkdir(parents=True)
    three = [[10, 20, 100, 200], [12, 22, 110, 190], [0, 0, 256, 256]]
    for sid in ("1001", "1003", "1004", "1005"):
        (ann / f"{sid}.xml").write_text(flickr_xml(three))
    (ann / "1002.xml").write_text(flickr_xml(three + [[200, 10, 150, 20]]))  # a fourth, inverted box
    (ann / "1006.xml").write_text("<annotation><object><bbox>")  # does not parse
    write_image(src / "frames" / "1001.jpg", 128, 128)  # LVS layout, stored enlarged to 256x256
    write_tone(src / "audio" / "1001.wav", 20.0)
    write_image(src / "Data" / "1002.jpg", 256, 256)  # the original layout, flac audio
    write_tone(src / "Data" / "1002.flac", 4.0)
    write_image(src / "frames" / "1003.jpg", 256, 256)  # no audio
    write_image(src / "frames" / "1004.jpg", 256, 256)
    write_tone(src / "audio" / "1004.wav", 4.0, amplitude=0.0)  # silent
    write_image(src / "frames" / "1005.jpg", 16, 16)  # too small
    write_tone(src / "audio" / "1005.wav", 4.0)
    out = tmp_path / "out"

    report = import_dataset("flickr", src, out, progress=False)
    assert (report.planned, report.written) == (6, 2)
    s1, s2 = read_manifest(out)
    expected = [[[10.0, 20.0, 100.0, 200.0]], [[12.0, 22.0, 110.0, 190.0]], [[0.0, 0.0, 256.0, 256.0]]]
    for s in (s1, s2):
        f = s.frames[0]
        assert (f.width, f.height, s.split, f.onscreen) == (256, 256, "test", True)
        assert cv2.imread(str(out / f.path)).shape == (256, 256, 3)
    assert s1.frames[0].annotators == expected
    assert s2.frames[0].annotators == expected  # one annotator per box; the inverted box is dropped
    assert s2.meta["box_groups"] == [0, 1, 2, 3]
    assert (s1.frames[0].time, wav_seconds(out, s1)) == (10.0, 20.0)  # middle of the whole 20 s track
    assert (s2.frames[0].time, wav_seconds(out, s2)) == (2.0, 4.0)
    d = read_report(out)
    assert any(w.endswith("1002.xml: box [200, 10, 150, 20] is inverted (empty in the reference's slicing); dropped") for w in d["warnings"])
    reasons = {s["id"]: s["reason"] for s in d["skipped"]}
    assert reasons == {"1003": "missing media", "1004": "silent audio", "1005": "frame too small", "1006": "annotation problem"}
