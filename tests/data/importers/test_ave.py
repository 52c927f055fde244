"""Tests for sslprop/data/importers/ave.py."""

from __future__ import annotations

from sslprop.cli import main as cli_main
from sslprop.data.format import read_info, read_manifest
from sslprop.data.importers.ave import read_ave_annotations
from tests.data.importers.helpers import LEVEL, encode_video, grey, read_report, wav_seconds, write_garbage


def test_ave_onscreen_from_events_and_skips(tmp_path, capsys):
    src = tmp_path / "AVE_Dataset"
    rows = [
        "Category&VideoID&Quality&StartTime&EndTime",  # the header line of the distributed file
        "Church bell&vidAAAAAAAA&good&1&3",
        "Dog&vidBBBBBBBB&good&0&0",  # zero-length event, as one real row
        "Dog&vidMISSING1&good&0&4",  # no video
        "Dog&vidCORRUPT1&good&0&4",  # random bytes
        "Dog&vidSILENT11&good&0&4",  # silent audio track
        "Dog&vidTINY1111&good&0&4",  # 24x24 frames < min_frame_size 32
        "Bus&vidAAAAAAAA&good&1&3",  # a second row for one video (45 such in AVE)
    ]
    src.mkdir()
    (src / "Annotations.txt").write_text("\n".join(rows) + "\n")
    (src / "AVE").mkdir()
    encode_video(src / "AVE" / "vidAAAAAAAA.mp4", n_frames=20)
    encode_video(src / "AVE" / "vidBBBBBBBB.mp4", n_frames=20)
    write_garbage(src / "AVE" / "vidCORRUPT1.mp4")
    encode_video(src / "AVE" / "vidSILENT11.mp4", n_frames=20, amplitude=0.0)
    encode_video(src / "AVE" / "vidTINY1111.mp4", n_frames=20, size=(24, 24))
    out = tmp_path / "ave"

    rc = cli_main(["import", "ave", str(src), "--out", str(out)])
    assert rc == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("import ave: 3 of 7 samples written to")
    assert "4 skipped (1 corrupt or empty media, 1 frame too small, 1 missing media, 1 silent audio)" in summary

    samples = read_manifest(out)
    assert [s.id for s in samples] == ["vidAAAAAAAA", "vidBBBBBBBB", "vidAAAAAAAA_2"]
    a, b, a2 = samples
    # 4 s videos at 1 fps: frames at 0.5, 1.5, 2.5, 3.5; the event [1, 3) covers the middle two.
    assert [f.time for f in a.frames] == [0.5, 1.5, 2.5, 3.5]
    assert [f.onscreen for f in a.frames] == [False, True, True, False]
    assert [f.onscreen for f in b.frames] == [False, False, False, False]
    assert a.onscreen is True and b.onscreen is False
    assert (a.split, a.classes, a2.classes, a2.video_id) == ("test", ["Church bell"], ["Bus"], "vidAAAAAAAA")
    assert a2.frames[0].path == a.frames[0].path  # rows of one video share its media
    assert abs(grey(out, a.frames[1]) - LEVEL * 7) < 3  # 1.5 s of a 5 fps video: frame 7
    assert (a.frames[0].width, a.frames[0].height) == (64, 48) and a.frames[0].annotators == []
    assert wav_seconds(out, a) == 4.032  # the whole track: 4 s padded by AAC to 63 frames of 1024 samples

    report = read_report(out)
    reasons = {s["id"]: s["reason"] for s in report["skipped"]}
    assert reasons == {
        "vidMISSING1": "missing media",
        "vidCORRUPT1": "corrupt or empty media",
        "vidSILENT11": "silent audio",
        "vidTINY1111": "frame too small",
    }
    details = {s["id"]: s["detail"] for s in report["skipped"]}
    assert details["vidTINY1111"].endswith("frame at 0.50 s is 24x24, smaller than the minimum 32 px")
    assert "vidCORRUPT1.mp4: cannot" in details["vidCORRUPT1"]
    assert any("zero-length event [0, 0) in vidBBBBBBBB" in w for w in report["warnings"])
    assert any("video vidAAAAAAAA is annotated by more than one row" in w for w in report["warnings"])
    assert read_info(out)["source"]["importer"] == "ave"


def test_ave_rows_parse_with_or_without_header(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("Dog&x1&good&2&5\nbad row\nDog&x2&good&4&11\nDog&x3&good&a&5\n")
    rows, problems = read_ave_annotations(p)
    assert [(r.video_id, r.start, r.end, r.line) for r in rows] == [("x1", 2, 5, 1)]
    assert [q.split(": ", 1)[1] for q in problems] == [
        "expected 5 '&'-separated fields, got 1",
        "event [4, 11) is not inside the 10 s clip",
        "start/end times 'a', '5' are not integers",
    ]
