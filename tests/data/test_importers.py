"""Tests for sslprop/data/importers.py."""

from __future__ import annotations

import fractions
import json

import av
import cv2
import numpy as np
import soundfile as sf

from sslprop.cli import main as cli_main
from sslprop.data.format import read_info, read_manifest
from sslprop.data.importers import import_dataset
from sslprop.data.importers.ave import read_ave_annotations
from sslprop.data.importers.common import ImportOptions
from sslprop.data.importers.vggss import vggsound_clip_name

FPS = 5  # frames per second of the test videos


LEVEL = 12  # frame k is grey level LEVEL * k, so its index survives lossy coding


SR = 16000


def encode_video(path, n_frames: int = 10, size: tuple[int, int] = (64, 48), amplitude: float = 0.3) -> None:
    """`n_frames` grey frames (frame k at level LEVEL * k) at FPS with a mono 16 kHz 440 Hz tone of `amplitude`."""
    w, h = size
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"crf": "1", "g": "5"}
        a = c.add_stream("aac", rate=SR)
        a.layout = "mono"
        for k in range(n_frames):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((h, w, 3), LEVEL * k, np.uint8), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        x = (amplitude * np.sin(2 * np.pi * 440 * np.arange(int(n_frames / FPS * SR)) / SR)).astype(np.float32)
        step = a.codec_context.frame_size or 1024
        for s in range(0, len(x), step):
            chunk = av.AudioFrame.from_ndarray(x[None, s : s + step].copy(), format="flt", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = SR, s, fractions.Fraction(1, SR)
            for p in a.encode(chunk):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def write_tone(path, seconds: float, amplitude: float = 0.3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), amplitude * np.sin(2 * np.pi * 440 * np.arange(int(seconds * SR)) / SR), SR)


def write_image(path, w: int, h: int, level: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), level, np.uint8))


def write_garbage(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())


def read_report(out) -> dict:
    return json.loads((out / "import_report.json").read_text())


def grey(out, frame) -> float:
    return float(cv2.imread(str(out / frame.path)).mean())


def wav_seconds(out, sample) -> float:
    info = sf.info(str(out / sample.audio))
    assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
    return info.frames / SR


def flickr_xml(boxes: list[list[int]]) -> str:
    """An annotation file shaped as LVS parses it: per annotator a root child whose <bbox> holds a label, then xmin, ymin, xmax, ymax."""
    items = "".join(
        f"<object><bbox><label>source</label><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bbox></object>"
        for x1, y1, x2, y2 in boxes
    )
    return f"<?xml version='1.0'?><annotation>{items}</annotation>"


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


def test_folder_of_videos_and_resume(tmp_path, capsys):
    src = tmp_path / "my videos"
    (src / "sub").mkdir(parents=True)
    encode_video(src / "a clip.mp4", n_frames=10)
    encode_video(src / "sub" / "b.mkv", n_frames=15)
    write_garbage(src / "c.mp4")
    (src / "notes.txt").write_text("not a video")
    out = tmp_path / "out"
    opts = ImportOptions(fps=2.0, workers=2)

    first = import_dataset("folder", src, out, opts, progress=False)
    assert (first.planned, first.written, first.reused) == (3, 2, 0)
    samples = read_manifest(out)
    assert [s.id for s in samples] == ["a_clip", "sub_b"]
    assert [len(s.frames) for s in samples] == [4, 6]  # 2 s and 3 s at 2 fps
    assert [f.time for f in samples[0].frames] == [0.25, 0.75, 1.25, 1.75]
    assert all(s.split == "train" and s.onscreen is None and s.frames[0].annotators == [] for s in samples)
    assert [(s["id"], s["reason"]) for s in read_report(out)["skipped"]] == [("c", "corrupt or empty media")]

    manifest = (out / "manifest.jsonl").read_bytes()
    second = import_dataset("folder", src, out, opts, progress=False)  # a rerun reuses finished samples
    assert (second.written, second.reused) == (2, 2)
    assert (out / "manifest.jsonl").read_bytes() == manifest
    assert cli_main(["import", "folder", str(src), "--out", str(out), "--fps", "2", "--max-samples", "1"]) == 0
    assert capsys.readouterr().out.strip().endswith("1 of 1 samples written to " + str(out) + ", 1 reused from an earlier run; 0 skipped; 0 warnings; report: " + str(out / "import_report.json"))


def test_wrong_layout_is_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli_main(["import", "vggss", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'empty'}: no vggss.json here (expected VGG-SS: vggss.json with frames/audio or videos)"
    assert cli_main(["import", "flickr", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no Annotations/ folder here" in capsys.readouterr().err
    (tmp_path / "vggss.json").write_text("{not json")
    assert cli_main(["import", "vggss", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {tmp_path / 'vggss.json'}: does not parse as JSON")


def test_nothing_imported_exits_1(tmp_path, capsys):
    src = tmp_path / "ave"
    src.mkdir()
    (src / "Annotations.txt").write_text("Dog&vid00000001&good&0&4\n")
    assert cli_main(["import", "ave", str(src), "--out", str(tmp_path / "o")]) == 1
    assert "0 of 1 samples written" in capsys.readouterr().out
    assert read_manifest(tmp_path / "o") == []
