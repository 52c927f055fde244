"""Tests for sslprop/data/importers/vggss.py."""

from __future__ import annotations

import json

from sslprop.data.format import read_manifest
from sslprop.data.importers import import_dataset
from sslprop.data.importers.vggss import vggsound_clip_name
from tests.data.importers.helpers import LEVEL, encode_video, grey, read_report, wav_seconds, write_image, write_tone


def test_vggss_boxes_layouts_and_garbage(tmp_path):
    src = tmp_path / "vggss"
    entries = [
        {"file": "aaaaaaaaaaa_000010", "class": "dog barking", "bbox": [[0.25, 0.5, 0.75, 1.0]]},
        # a garbage x2 as in 12 real entries: clamped to 0, the box is empty and dropped
        {"file": "bbbbbbbbbbb_000020", "class": "playing cello", "bbox": [[0.1, 0.2, -2.8823037615171176e16, 0.5], [0.0, 0.0, 0.5, 0.5]]},
        {"file": "ccccccccccc_000030", "class": "cat", "bbox": [[0.1, 0.1, 0.2, 0.2]]},  # no media
    ]
    src.mkdir()
    (src / "vggss.json").write_text(json.dumps(entries))
    # entry 1 as a clip video named <ytid>_<start ms>_<end ms>; entry 2 as LVS's frames/ + audio/
    (src / "video").mkdir()
    encode_video(src / "video" / "aaaaaaaaaaa_10000_20000.mp4", n_frames=10)
    write_image(src / "frames" / "bbbbbbbbbbb_000020.jpg", 80, 40)
    write_tone(src / "audio" / "bbbbbbbbbbb_000020.wav", 3.0)
    out = tmp_path / "out"

    report = import_dataset("vggss", src, out, progress=False)
    assert (report.planned, report.written) == (3, 2)
    a, b = read_manifest(out)
    fa, fb = a.frames[0], b.frames[0]
    # the middle frame of a 2 s video: t = 1.0 s -> frame 5
    assert (fa.time, fa.width, fa.height) == (1.0, 64, 48)
    assert abs(grey(out, fa) - LEVEL * 5) < 3
    assert fa.annotators == [[[16.0, 24.0, 48.0, 48.0]]] and fa.onscreen is True
    assert (a.video_id, a.split, a.classes) == ("aaaaaaaaaaa", "test", ["dog barking"])
    # the still frame sits in the middle of its 3 s audio; the garbage box is gone
    assert (fb.time, fb.width, fb.height) == (1.5, 80, 40)
    assert fb.annotators == [[[0.0, 0.0, 40.0, 20.0]]]
    assert wav_seconds(out, b) == 3.0
    d = read_report(out)
    assert [(s["id"], s["reason"]) for s in d["skipped"]] == [("ccccccccccc_000030", "missing media")]
    assert any("bbbbbbbbbbb_000020 box 0" in w and "dropped" in w for w in d["warnings"])
    assert vggsound_clip_name("zpWuikVorYg_000032") == "zpWuikVorYg_32000_42000"


def test_large_clips_are_stored_at_the_models_side_with_their_boxes(tmp_path):
    src = tmp_path / "vggss"
    (src / "video").mkdir(parents=True)
    (src / "vggss.json").write_text(json.dumps([{"file": "aaaaaaaaaaa_000010", "class": "dog", "bbox": [[0.25, 0.5, 0.75, 1.0]]}]))
    encode_video(src / "video" / "aaaaaaaaaaa_10000_20000.mp4", n_frames=10, size=(640, 480))
    import_dataset("vggss", src, tmp_path / "out", progress=False)
    frame = read_manifest(tmp_path / "out")[0].frames[0]
    assert (frame.width, frame.height) == (224, 168) and frame.annotators == [[[56.0, 84.0, 168.0, 168.0]]]
