"""Tests for sslprop/data/importers/folder.py."""

from __future__ import annotations

from sslprop.cli import main as cli_main
from sslprop.data.format import read_manifest
from sslprop.data.importers import import_dataset
from sslprop.data.importers.common import ImportOptions
from tests.data.importers.helpers import encode_video, read_report, write_garbage


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
    assert capsys.readouterr().out.strip().endswith(
        "1 of 1 samples written to " + str(out) + ", 1 reused from an earlier run; 0 skipped; 0 warnings; report: "
        + str(out / "import_report.json"))


def test_large_videos_are_stored_at_a_working_size(tmp_path):
    from sslprop.data.proposals import extract_dataset

    src = tmp_path / "big"
    src.mkdir()
    encode_video(src / "wide.mp4", n_frames=5, size=(640, 480))
    default = import_dataset("folder", src, tmp_path / "default", ImportOptions(), progress=False)
    frame = read_manifest(tmp_path / "default")[0].frames[0]
    assert default.written == 1 and (frame.width, frame.height) == (224, 168)  # the longer side at 224, aspect kept
    full = import_dataset("folder", src, tmp_path / "full", ImportOptions(max_frame_side=0), progress=False)
    assert full.written == 1 and read_manifest(tmp_path / "full")[0].frames[0].width == 640
    stats = extract_dataset(tmp_path / "default", workers=1, progress=False)
    assert stats.done == 1 and stats.failed == {}
    assert cli_main(["import", "folder", str(src), "--out", str(tmp_path / "x"), "--max-frame-side", "8"]) == 2
