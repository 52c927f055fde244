"""Helpers shared by the tests of several modules: small fixtures written in the real formats."""

from __future__ import annotations

import fractions
import json

import av
import cv2
import numpy as np
import soundfile as sf

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
