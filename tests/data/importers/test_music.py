"""Tests for sslprop/data/importers/music.py."""

from __future__ import annotations

import json

from sslprop.data.format import read_manifest
from sslprop.data.importers import import_dataset
from tests.data.importers.helpers import LEVEL, encode_video, grey, read_report, wav_seconds, write_image, write_tone


def test_music_solo_frames_boxes_and_no_box_entries(tmp_path):
    src = tmp_path / "music"
    src.mkdir()
    box = {"box": [16, 24, 32, 12], "normbox": [0.25, 0.5, 0.5, 0.25], "category_id": 3}
    entries = {
        "vidAAAAAAAA_0_1000/frame_000/00003.jpg": {"bbox": [box], "wdith": 64, "height": 48},
        "vidAAAAAAAA_0_1000/frame_001/00006.jpg": {"bbox": [], "wdith": 64, "height": 48},  # no box
        "vidBBBBBBBB_0_1000/frame_001/00007.jpg": {"bbox": [dict(box, category_id=99)], "wdith": 64, "height": 48},
        "vidMISSING1_0_1000/frame_000/00001.jpg": {"bbox": [box], "wdith": 64, "height": 48},
    }
    (src / "solotest.json").write_text(json.dumps(entries))
    (src / "video").mkdir()
    encode_video(src / "video" / "vidAAAAAAAA_0_1000.mp4", n_frames=10)
    # DSOL's extracted layout for the second video: video_frames/<key> and the audio file
    write_image(src / "video_frames" / "vidBBBBBBBB_0_1000" / "frame_001" / "00007.jpg", 64, 48)
    write_tone(src / "audio" / "vidBBBBBBBB_0_1000.wav", 4.0)
    out = tmp_path / "out"

    report = import_dataset("music", src / "solotest.json", out, progress=False)
    assert (report.planned, report.written) == (4, 2)
    a, b = read_manifest(out)
    assert a.id == "vidAAAAAAAA_0_1000_f00003" and a.video_id == "vidAAAAAAAA_0_1000"
    fa = a.frames[0]
    # frame 3 of a 5 fps video, decoded at (3 + 0.5) / 5 = 0.7 s; audio 3 s around it, [-0.8, 2.2] s,
    # cut to the track [0, 2.048] s (2 s padded by AAC to 32 frames of 1024 samples)
    assert abs(grey(out, fa) - LEVEL * 3) < 3
    assert (fa.time, a.meta["audio_start"]) == (0.7, 0.0)
    assert wav_seconds(out, a) == 2.048
    assert fa.annotators == [[[16.0, 24.0, 48.0, 36.0]]]
    assert [(o.box, o.label, o.sounding) for o in fa.objects] == [([16.0, 24.0, 48.0, 36.0], "acoustic_guitar", True)]
    assert a.classes == ["acoustic_guitar"] and a.meta["subset"] == "solo"
    # the extracted frame sits at second 1 + 0.5; 3 s of audio kept: [0, 3]
    fb = b.frames[0]
    assert (fb.time, b.meta["audio_start"], wav_seconds(out, b)) == (1.5, 0.0, 3.0)
    assert b.classes == ["99"]
    d = read_report(out)
    assert sorted((s["id"], s["reason"]) for s in d["skipped"]) == [
        ("vidAAAAAAAA_0_1000_f00006", "annotation problem"),
        ("vidMISSING1_0_1000_f00001", "missing media"),
    ]
