"""Tests for sslprop/engine/localize.py: `sslprop localize` on tiny generated videos."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sslprop import cli
from sslprop.data.audio import write_wav
from sslprop.data.video import frame_times, probe_video, write_video
from sslprop.engine import localize as L
from sslprop.engine.checkpoint import export_run
from sslprop.engine.train import train
from sslprop.errors import SSLPropError
from tests.helpers import tiny_set, train_cfg

W, H = 120, 90  # not the model's input size: boxes must come back in these pixels


def _video(path, seconds=2, fps=2, colour=(220, 40, 40), tone=440.0, audio=True):
    """`seconds` of a coloured square on grey at `fps`, with a tone (or silence)."""
    frames = []
    for k in range(seconds * fps):
        img = np.full((H, W, 3), 110, np.uint8)
        x = 10 + 8 * k
        img[20:60, x : x + 40] = colour
        frames.append(img)
    t = np.arange(seconds * 16000) / 16000
    sound = 0.4 * np.sin(2 * np.pi * tone * t) if audio else np.zeros_like(t)
    return write_video(path, frames, sound, fps=fps)


@pytest.fixture(scope="module")
def shipped():
    method, model, cfg, card = L.load_model(None, torch.device("cpu"))
    return method, model, cfg, card


def test_shipped_checkpoint_has_its_card(shipped):
    _, model, cfg, card = shipped
    assert card["name"] == "ours_scenes" and card["method"] == "ours" and card["m_on_threshold"] > 0
    assert "not what a model trained on real data would find" in card["can_and_cannot"]
    from sslprop.models.weights import sha256_file

    assert sha256_file(L.shipped_run()) == card["sha256"]
    assert cfg.data.frame_size == 96 and not model.training


def test_localize_writes_the_four_outputs_in_the_videos_pixels(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    clip = _video(tmp_path / "clip one.mp4")
    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    matplotlib.use("svg")  # a backend of the caller's that is not Agg: localize must leave it as it is
    try:
        res = L.localize([clip], tmp_path / "out", fps=2.0, progress=False, log=lambda m: None)
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == figures  # no switch, no pyplot figure left open
    finally:
        matplotlib.use(backend)
    assert list(res) == ["clip_one"]
    out = tmp_path / "out" / "clip_one"
    rec = json.loads((out / "boxes.json").read_text())
    assert (rec["width"], rec["height"]) == (W, H) and rec["m_on_threshold_from"].startswith("the checkpoint's card")
    times = frame_times(probe_video(clip).duration, 2.0)
    assert [f["time"] for f in rec["frames"]] == [round(t, 4) for t in times]
    for f in rec["frames"]:
        x1, y1, x2, y2 = f["best"]
        assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H
        assert f["d_on"] == f["top"][0][4] and [r[4] for r in f["top"]] == sorted((r[4] for r in f["top"]), reverse=True)
        assert f["onscreen"]["on_d"] == (f["d_on"] > 0.2) and f["onscreen"]["on_or"] == (f["onscreen"]["on_d"] or f["onscreen"]["on_m"])
        assert 1 <= len(f["two_sources"]) <= 2
    assert 1 <= len(rec["tracks"]) <= 2 and all(len(tr["confidence"]) == len(times) for tr in rec["tracks"])
    coco = json.loads((out / "coco.json").read_text())
    assert [i["id"] for i in coco["images"]] == list(range(len(times))) and coco["categories"] == [{"id": 1, "name": "sound source"}]
    for d in coco["annotations"]:
        x, y, w, h = d["bbox"]
        assert d["category_id"] == 1 and w > 0 and h > 0 and x + w <= W + 1e-6 and y + h <= H + 1e-6
    video = probe_video(out / "annotated.mp4")
    assert (video.width, video.height) == (W, H) and video.has_audio and video.num_frames == len(times)
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_swapping_the_sound_and_calibrating_on_several_videos(tmp_path, shipped):
    a, b = _video(tmp_path / "a.mp4"), _video(tmp_path / "b.mp4", colour=(40, 40, 220), tone=880.0)
    write_wav(tmp_path / "silence.wav", np.zeros(32000))
    own = L.localize([a], tmp_path / "own", progress=False, log=lambda m: None)["a"]
    silent = L.localize([a], tmp_path / "silent", audio=tmp_path / "silence.wav", progress=False, log=lambda m: None)["a"]
    assert [f["d_on"] for f in own["frames"]] != [f["d_on"] for f in silent["frames"]]  # the sound changes the ranking
    both = L.localize([a, b], tmp_path / "both", progress=False, log=lambda m: None)
    assert set(both) == {"a", "b"} and both["a"]["m_on_threshold_from"] == "calibrated on these 2 videos"
    assert all(isinstance(f["onscreen"]["on_m"], bool) for f in both["a"]["frames"])
    method, model, cfg, _ = shipped
    frame = np.full((H, W, 3), 110, np.uint8)
    frame[20:60, 10:50] = (220, 40, 40)
    tone = torch.sin(2 * torch.pi * 440 * torch.arange(16000) / 16000)
    swap = L.swap_sounds(method, model, cfg, frame, {"tone": tone, "silence": torch.zeros(16000)}, 0.5)
    assert set(swap) == {"tone", "silence"} and swap["tone"].boxes.shape[1] == 5
    again = L.swap_sounds(method, model, cfg, frame, {"tone": tone}, 0.5)["tone"]
    # the same frame and sound alone in its batch: d_k equal up to float rounding of the batch size, so the same
    # boxes wherever the ranking is not a tie within that rounding (a bag of hundreds holds near-equal boxes)
    d1, d2 = again.boxes[:, 4], swap["tone"].boxes[:, 4]
    assert np.allclose(d1, d2, atol=1e-5) and abs(again.d_on - swap["tone"].d_on) < 1e-5
    gaps = np.abs(np.diff(np.concatenate([[np.inf], d2, [-np.inf]])))
    clear = np.minimum(gaps[:-1], gaps[1:]) > 1e-5  # ranks with no neighbour within the rounding
    assert np.array_equal(again.boxes[clear, :4], swap["tone"].boxes[clear, :4])


def test_bad_input_is_one_line(tmp_path, capsys):
    with pytest.raises(SSLPropError, match="none.mp4: video file not found"):
        L.localize([tmp_path / "none.mp4"], tmp_path / "out", progress=False)
    mute = _video(tmp_path / "mute.mp4", audio=False)
    import av

    with av.open(str(tmp_path / "noaudio.mp4"), "w") as c:  # a video stream only
        v = c.add_stream("libx264", rate=2)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        for _ in range(4):
            for p in v.encode(av.VideoFrame.from_ndarray(np.zeros((H, W, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
    with pytest.raises(SSLPropError, match="noaudio.mp4: no audio track \\(give the sound with --audio FILE\\)"):
        L.localize([tmp_path / "noaudio.mp4"], tmp_path / "out", progress=False)
    assert L.localize([mute], tmp_path / "out", progress=False, log=lambda m: None)  # silence is a sound like another
    with pytest.raises(SSLPropError, match="no run folder or exported checkpoint"):
        L.localize([mute], tmp_path / "out", run=tmp_path / "norun", progress=False)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(SSLPropError, match="junk.pt: not a readable sslprop checkpoint"):
        L.load_model(tmp_path / "junk.pt", torch.device("cpu"))
    with pytest.raises(SystemExit):
        cli.main(["localize", str(mute), "--out", str(tmp_path / "o"), "--fps", "0"])
    assert "expected a positive number, got 0" in capsys.readouterr().err


def test_an_exported_run_localises_as_its_folder(tmp_path):
    data = tiny_set(tmp_path / "data", n=10)
    run = tmp_path / "run"
    train(train_cfg(**{"train.epochs": 1}), data, run, progress=False, log=lambda m: None)
    card = export_run(run, tmp_path / "small.pt", {"name": "test"})
    assert card["name"] == "test" and card["bytes"] == (tmp_path / "small.pt").stat().st_size
    assert json.loads((tmp_path / "small.json").read_text())["sha256"] == card["sha256"]
    clip = _video(tmp_path / "clip.mp4")
    from_folder = L.localize([clip], tmp_path / "f", run=run, progress=False, log=lambda m: None)["clip"]
    from_file = L.localize([clip], tmp_path / "e", run=tmp_path / "small.pt", progress=False, log=lambda m: None)["clip"]
    assert [f["top"] for f in from_folder["frames"]] == [f["top"] for f in from_file["frames"]]
    assert from_folder["m_on_threshold"] is None and "d_on alone" in from_folder["m_on_threshold_from"]


def test_fps_above_the_videos_rate_is_capped_and_said(tmp_path):
    # issue #27: --fps 1000 on a 10 fps clip sampled 1,000 duplicate frames a second
    clip = _video(tmp_path / "ten.mp4", seconds=1, fps=10)
    said = []
    rec = L.localize([clip], tmp_path / "out", fps=1000.0, progress=False, log=said.append)["ten"]
    assert len(rec["frames"]) == 10 and [f["time"] for f in rec["frames"]] == [round((k + 0.5) / 10, 4) for k in range(10)]
    assert any("--fps 1000 is above the video's own 10 fps: sampling at 10 fps" in m for m in said), said
    assert probe_video(tmp_path / "out" / "ten" / "annotated.mp4").num_frames == 10
    said.clear()
    L.localize([clip], tmp_path / "slow", fps=2.0, progress=False, log=said.append)
    assert not any("above the video's own" in m for m in said)


def test_a_sound_shorter_than_the_picture_is_said(tmp_path):
    clip = _video(tmp_path / "clip.mp4", seconds=3, fps=2)
    write_wav(tmp_path / "short.wav", 0.3 * np.sin(np.arange(16000) / 5.0))  # 1 s of sound for 3 s of picture
    said = []
    rec = L.localize([clip], tmp_path / "out", audio=tmp_path / "short.wav", progress=False, log=said.append)["clip"]
    late = [f for f in rec["frames"] if f["time"] >= 1.0]
    assert len(late) == 4 and any("short.wav) ends at 1.00 s, the picture at 3.00 s: the last 4 of 6 frames are localised "
                                  "with silence" in m for m in said), said
    said.clear()
    L.localize([clip], tmp_path / "own", progress=False, log=said.append)  # its own soundtrack is as long as the picture
    assert not any("localised with silence" in m for m in said), said


def test_bad_videos_among_several_are_named_and_the_others_written(tmp_path, capsys):
    # issue #27: one unreadable file discarded the finished outputs of the others (exit 2, nothing written)
    a, b = _video(tmp_path / "a.mp4"), _video(tmp_path / "b.mp4", colour=(40, 40, 220), tone=880.0)
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    (tmp_path / "folder").mkdir()
    argv = ["localize", str(a), str(tmp_path / "broken.mp4"), str(tmp_path / "folder"), str(b), "--out", str(tmp_path / "out"),
            "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err), err
    assert "broken.mp4: cannot open video" in err[0]
    assert err[1] == f"error: {tmp_path / 'folder'}: a folder, not a video file (give the videos in it, e.g. {tmp_path / 'folder' / '*.mp4'})"
    for name in ("a", "b"):
        rec = json.loads((tmp_path / "out" / name / "boxes.json").read_text())
        assert rec["m_on_threshold_from"] == "calibrated on these 2 videos" and (tmp_path / "out" / name / "annotated.mp4").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a", "b"]
    with pytest.raises(L.VideoFailures) as info:  # the Python call: the others' records come with the error
        L.localize([a, tmp_path / "folder"], tmp_path / "again", progress=False, log=lambda m: None)
    assert set(info.value.results) == {"a"} and list(info.value.failures) == [str(tmp_path / "folder")]
    assert str(info.value).startswith("1 of 2 videos could not be localised (first: ")


@pytest.mark.slow
def test_a_notebook_still_shows_its_figures_after_localize(tmp_path):
    """Notebook 10's case in a real kernel: after `localize` has drawn its timeline, the inline backend is still the
    kernel's, and a later pyplot figure is displayed as a PNG (not as the text "<Figure size ...>")."""
    import nbformat
    from nbclient import NotebookClient

    clip = _video(tmp_path / "clip.mp4", seconds=1, fps=1)
    cells = [
        "%matplotlib inline\nimport matplotlib\nimport matplotlib.pyplot as plt\nfrom sslprop.engine import localize as L",
        f"record = L.localize([{str(clip)!r}], {str(tmp_path / 'out')!r}, fps=1.0, progress=False, log=lambda m: None)",
        "print(matplotlib.get_backend())",
        "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([0, 1], [1, 0]);",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert "inline" in nb.cells[2].outputs[0]["text"]
    shown = [o for o in nb.cells[3].outputs if o.get("output_type") == "display_data"]
    assert shown and "image/png" in shown[0]["data"] and not any("<Figure size" in str(o) for o in nb.cells[3].outputs if "image/png" not in o.get("data", {}))
