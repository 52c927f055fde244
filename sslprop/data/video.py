"""Video: probing, frame times at a chosen rate, nearest-frame decoding, and frames plus audio of a clip."""

from __future__ import annotations

import fractions
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from sslprop.data.audio import SAMPLE_RATE, load_audio
from sslprop.errors import SSLPropError

SEEK_GAP_SECONDS = 5.0  # read_frames seeks instead of decoding through gaps longer than this


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds of the video stream (from its first frame's time to the end of its last)
    fps: float  # average frame rate (frames per second)
    width: int  # frame width in pixels
    height: int  # frame height in pixels
    num_frames: int  # frames in the video stream
    has_audio: bool  # whether the container holds an audio track


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise SSLPropError(f"{path}: a folder, not a video file (give the videos in it, e.g. {path / '*.mp4'})")
    if not path.is_file():
        raise SSLPropError(f"{path}: video file not found")
    if path.stat().st_size == 0:
        raise SSLPropError(f"{path}: video file is empty")


def _open(path: Path):  # -> av.container.InputContainer
    _check_file(path)
    try:
        container = av.open(str(path))
    except Exception as e:  # any demuxer failure becomes one clear line
        detail = str(e).splitlines()[0] if str(e) else "no detail"
        raise SSLPropError(f"{path}: cannot open video ({type(e).__name__}: {detail})") from None
    if not container.streams.video:
        container.close()
        raise SSLPropError(f"{path}: no video stream")
    return container


def _decode_error(path: Path, e: Exception) -> SSLPropError:
    detail = str(e).splitlines()[0] if str(e) else "no detail"
    return SSLPropError(f"{path}: cannot decode video ({type(e).__name__}: {detail})")


def _stream_start(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Duration, frame rate, frame size, frame count and audio presence of a video file.

    Header values are used when the container states them (mp4); otherwise (webm, some avi)
    the video packets are read, without decoding, to count frames and find the end time.
    A missing, empty or unreadable file, or one without a video stream, raises `SSLPropError`.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        num_frames = int(stream.frames or 0)
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
        if num_frames <= 0 or duration <= 0.0:
            start, end, count = _stream_start(stream), -math.inf, 0
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                count += 1
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            num_frames = num_frames or count
            duration = duration or (end - start if count else 0.0)
        has_audio = bool(container.streams.audio)
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    except SSLPropError:
        raise
    except Exception as e:
        raise _decode_error(path, e) from None
    finally:
        container.close()
    if num_frames <= 0 or duration <= 0.0:
        raise SSLPropError(f"{path}: video stream holds no frames")
    if fps <= 0.0:
        fps = num_frames / duration
    return VideoInfo(duration=duration, fps=fps, width=width, height=height, num_frames=num_frames, has_audio=has_audio)


def frame_times(duration: float, fps: float, offset: float = 0.5) -> list[float]:
    """Times (s) at `fps` frames per second inside [0, duration): (k + offset) / fps, k = 0, 1, ...

    `offset` is in frame periods: 0.5 takes the middle of each period (1 fps over 3.2 s ->
    0.5, 1.5, 2.5). A video shorter than offset / fps gives its middle, [duration / 2].
    """
    if not duration > 0.0:
        raise SSLPropError(f"duration {duration}: must be positive")
    if not fps > 0.0:
        raise SSLPropError(f"fps {fps}: must be positive")
    if not 0.0 <= offset < 1.0:
        raise SSLPropError(f"offset {offset}: must lie in [0, 1) frame periods")
    count = math.ceil(duration * fps - offset - 1e-9)  # k with (k + offset) / fps < duration
    if count <= 0:
        return [duration / 2.0]
    return [(k + offset) / fps for k in range(count)]


def read_frames(path: str | os.PathLike, times: list[float]) -> list[np.ndarray]:
    """The decoded frame nearest each time (s, from the video stream's start), as (H, W, 3) uint8 RGB.

    One forward pass over the file, in time order, seeking to the keyframe before a time
    when it lies more than SEEK_GAP_SECONDS past the last decoded frame. Times past the end
    give the last frame; on a tie the earlier frame wins. Returns one array per time, in the
    order given.
    """
    path = Path(path)
    if not times:
        return []
    order = sorted(range(len(times)), key=lambda i: times[i])
    picked: dict[int, object] = {}  # index into times -> av.VideoFrame
    container = _open(path)
    frames = None
    try:
        stream = container.streams.video[0]
        # slice threading only (PyAV's default): with frame threading ("AUTO"), freeing a decoder that stopped
        # mid-stream could wait forever in avcodec_free_context (seen once in JupyterLab on notebook 10's annotated mp4)
        start = _stream_start(stream)
        pending = list(order)  # indices still to resolve, in time order
        frames = container.decode(stream)
        prev, prev_t = None, -math.inf
        may_seek = True  # at most one seek per resolved time (a seek past the end lands before it)
        while pending:
            target = times[pending[0]]
            if may_seek and target - max(prev_t, 0.0) > SEEK_GAP_SECONDS:
                container.seek(int((target + start) / stream.time_base), stream=stream, backward=True)
                frames = container.decode(stream)
                prev, prev_t, may_seek = None, -math.inf, False
            frame = next(frames, None)
            if frame is None:  # end of stream: the last frame serves every remaining time
                if prev is None:
                    raise SSLPropError(f"{path}: video stream holds no decodable frames")
                picked.update((i, prev) for i in pending)
                break
            t = (float(frame.pts * frame.time_base) if frame.pts is not None else float(frame.time or 0.0)) - start
            while pending and times[pending[0]] <= t:
                i = pending.pop(0)
                picked[i] = prev if prev is not None and times[i] - prev_t <= t - times[i] else frame
                may_seek = True
            prev, prev_t = frame, t
    except SSLPropError:
        raise
    except Exception as e:
        raise _decode_error(path, e) from None
    finally:
        if frames is not None:
            frames.close()  # end the decode generator (and its decoder) before the container it reads from
        container.close()
    rgb: dict[int, np.ndarray] = {}  # convert each distinct frame once
    out = []
    for i in range(len(times)):
        key = id(picked[i])
        if key not in rgb:
            rgb[key] = picked[i].to_ndarray(format="rgb24")  # (H, W, 3) uint8
        out.append(rgb[key])
    return out


def _audio_offset(path: Path) -> float:
    """Start of the first audio track minus start of the video stream (s)."""
    container = _open(path)
    try:
        video, audio = container.streams.video[0], container.streams.audio[0]
        a_start = float(audio.start_time * audio.time_base) if audio.start_time is not None else 0.0
        return a_start - _stream_start(video)
    finally:
        container.close()


def aligned_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """The whole audio track of a video, float32 Tensor[T] mono at `sample_rate`, aligned with its frames.

    Sample round(t * sample_rate) is heard at video time t: the track is zero-padded or trimmed at
    the front when it starts later or earlier than the video stream. The audio clip of a frame at
    time t is `clip_at(waveform, sample_rate, t, seconds)`. A video without an audio track raises
    `SSLPropError`.
    """
    path = Path(path)
    if not probe_video(path).has_audio:
        raise SSLPropError(f"{path}: no audio track")
    waveform = load_audio(path, sample_rate)
    shift = int(round(_audio_offset(path) * sample_rate))
    if shift > 0:  # the audio starts after the video: pad its front
        waveform = torch.cat([waveform.new_zeros(shift), waveform])
    elif shift < 0:
        waveform = waveform[-shift:]
    return waveform


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray], audio: np.ndarray, fps: int = 5, sample_rate: int = 16000) -> Path:
    """Encode RGB uint8 frames (H, W, 3), H and W even, and mono float audio in [-1, 1] as an H.264 + AAC mp4 (PyAV)."""

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"crf": "18"}
        a = c.add_stream("aac", rate=sample_rate)
        a.layout = "mono"
        for f in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        x = np.asarray(audio, dtype=np.float32)
        step = a.codec_context.frame_size or 1024
        for s in range(0, len(x), step):
            chunk = av.AudioFrame.from_ndarray(x[None, s : s + step].copy(), format="flt", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = sample_rate, s, fractions.Fraction(1, sample_rate)
            for p in a.encode(chunk):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path
