"""Tests for sslprop/data/video.py."""

from __future__ import annotations

import fractions

import av
import numpy as np
import pytest
import torch

from sslprop.data.audio import clip_at, is_silent, write_wav
from sslprop.data.video import (
    VideoInfo,
    aligned_audio,
    frame_times,
    probe_video,
    read_frames,
)
from sslprop.errors import SSLPropError

FPS = 5  # frames per second of the test videos


NUM_FRAMES = 60  # 12 s


LEVEL = 4  # frame k is grey level LEVEL * k, so its index survives lossy coding


BURST = 1.0  # s: the audio is silent except a 0.1 s tone starting here (in video time)


def encode_video(path, fmt: str | None = None, audio: bool = True, audio_delay: float = 0.0) -> None:
    """NUM_FRAMES 64x48 frames at FPS (keyframe every 10) and, optionally, a mono 16 kHz track.

    The audio track starts `audio_delay` s after the video (its frames' timestamps are shifted),
    and its tone starts at BURST s of video time.
    """
    webm = fmt == "webm"
    with av.open(str(path), "w", format=fmt) as c:
        v = c.add_stream("libvpx" if webm else "libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.options = {"g": "10"} if webm else {"crf": "1", "g": "10"}
        a = None
        if audio:
            a = c.add_stream("libopus" if webm else "aac", rate=48000 if webm else 16000)
            a.layout = "mono"
        for k in range(NUM_FRAMES):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), LEVEL * k, np.uint8), format="rgb24")
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is None:
            return
        sr = a.codec_context.sample_rate
        x = np.zeros(int((NUM_FRAMES / FPS - audio_delay) * sr), np.float32)
        on = int(round((BURST - audio_delay) * sr))
        x[on : on + sr // 10] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(sr // 10) / sr)
        step, shift = a.codec_context.frame_size or 1024, int(round(audio_delay * sr))
        for s in range(0, len(x), step):
            chunk = av.AudioFrame.from_ndarray(x[None, s : s + step].copy(), format="flt", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = sr, s + shift, fractions.Fraction(1, sr)
            for p in a.encode(chunk):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def frame_index(img: np.ndarray) -> int:
    return int(round(float(img.mean()) / LEVEL))


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    encode_video(path)
    return path


def extract_clip(path, fps):
    """Frames at `fps` and the aligned audio, as the importers read a video."""
    times = frame_times(probe_video(path).duration, fps)
    waveform = aligned_audio(path)
    return read_frames(path, times), times, waveform


def test_probe_mp4_and_webm(mp4, tmp_path):
    assert probe_video(mp4) == VideoInfo(duration=12.0, fps=5.0, width=64, height=48, num_frames=60, has_audio=True)
    encode_video(tmp_path / "clip.webm", fmt="webm", audio=False)  # webm states no frame count: packets are counted
    assert probe_video(tmp_path / "clip.webm") == VideoInfo(duration=12.0, fps=5.0, width=64, height=48, num_frames=60, has_audio=False)


def test_frame_times():
    assert frame_times(3.2, 1.0) == [0.5, 1.5, 2.5]
    assert frame_times(3.0, 1.0) == [0.5, 1.5, 2.5]
    assert frame_times(2.5, 1.0) == [0.5, 1.5]
    assert frame_times(3.0, 2.0) == [0.25, 0.75, 1.25, 1.75, 2.25, 2.75]
    assert frame_times(3.0, 1.0, offset=0.0) == [0.0, 1.0, 2.0]
    assert frame_times(0.3, 1.0) == [0.15]  # shorter than half a period: its middle
    for bad in [dict(duration=0.0, fps=1.0), dict(duration=1.0, fps=0.0), dict(duration=1.0, fps=1.0, offset=1.0)]:
        with pytest.raises(SSLPropError):
            frame_times(**bad)


def test_read_frames_picks_nearest_frame(mp4):
    # frames sit at k / 5 s; 9.0 lies > 5 s past 1.15, so the reader seeks there
    times = [9.0, 0.0, 0.09, 0.11, 1.05, 1.15, 11.8, 20.0, 0.33, 1.05]
    frames = read_frames(mp4, times)
    assert [frame_index(f) for f in frames] == [45, 0, 0, 1, 5, 6, 59, 59, 2, 5]
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in frames)
    assert read_frames(mp4, []) == []


def test_frames_at_rate_and_audio_aligned(mp4):
    frames, times, waveform = extract_clip(mp4, fps=2.0)
    assert times == [(k + 0.5) / 2.0 for k in range(24)]
    assert [frame_index(f) for f in frames] == [round(t * FPS) for t in times]  # 1.25 -> 6 (never a tie)
    assert waveform.dtype == torch.float32 and waveform.dim() == 1
    assert abs(len(waveform) - 12 * 16000) <= 1100  # AAC pads the last frame
    onset = int(np.argmax(waveform.abs().numpy() > 0.05))
    assert abs(onset - BURST * 16000) <= 32  # tone starts at 1.0 s (2 ms)
    assert not is_silent(clip_at(waveform, 16000, times[1], 0.96))  # 0.27-1.23 s holds the tone
    assert is_silent(clip_at(waveform, 16000, times[4], 0.96))  # 1.77-2.73 s is silent


@pytest.mark.parametrize("fmt", [None, "webm"])
def test_aligned_audio_of_a_delayed_audio_track(tmp_path, fmt):
    path = tmp_path / ("late.webm" if fmt else "late.mp4")
    encode_video(path, fmt=fmt, audio_delay=0.5)
    _, times, waveform = extract_clip(path, fps=1.0)
    assert len(times) == 12
    onset = int(np.argmax(waveform.abs().numpy() > 0.05))
    assert abs(onset - BURST * 16000) <= 32


def test_video_errors_name_the_file(tmp_path):
    with pytest.raises(SSLPropError, match=r"none\.mp4: video file not found$"):
        probe_video(tmp_path / "none.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(SSLPropError, match=r"empty\.mp4: video file is empty$"):
        read_frames(tmp_path / "empty.mp4", [0.0])
    (tmp_path / "junk.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(SSLPropError, match=r"junk\.mp4: cannot open video") as err:
        extract_clip(tmp_path / "junk.mp4", fps=1.0)
    assert "\n" not in str(err.value)
    write_wav(tmp_path / "sound.wav", np.zeros(1600))
    with pytest.raises(SSLPropError, match=r"sound\.wav: no video stream$"):
        probe_video(tmp_path / "sound.wav")
    encode_video(tmp_path / "mute.mp4", audio=False)
    with pytest.raises(SSLPropError, match=r"mute\.mp4: no audio track$"):
        aligned_audio(tmp_path / "mute.mp4")


def test_truncated_mp4_is_reported(mp4, tmp_path):
    data = mp4.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(SSLPropError, match=r"cut\.mp4: "):
        probe_video(tmp_path / "cut.mp4")
