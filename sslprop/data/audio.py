"""Audio: decoding any common format to 16 kHz mono, WAV writing, and the audio front ends."""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import numpy as np
import torch

from sslprop.errors import SSLPropError

SAMPLE_RATE = 16000


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (T, C)
    return data.mean(axis=1), int(sr)


def _decode_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == "audio"]
        if not streams:
            raise SSLPropError(f"{path}: no audio track")
        stream = streams[0]
        sr = int(stream.codec_context.sample_rate or stream.rate or 0)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        chunks = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if sr <= 0:
        raise SSLPropError(f"{path}: audio track has no sample rate")
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), sr


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Decode an audio file (wav, ogg, flac, mp3) or a video's audio track (mp4, webm, avi, ...).

    Returns a float32 Tensor[T] in [-1, 1]: channels mixed to mono (mean), resampled to
    `sample_rate` with torchaudio's band-limited resampler. A missing, empty or
    undecodable file raises `SSLPropError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise SSLPropError(f"{path}: audio file not found")
    if path.stat().st_size == 0:
        raise SSLPropError(f"{path}: audio file is empty")
    try:
        try:
            wav, sr = _decode_soundfile(path)
        except SSLPropError:
            raise
        except Exception:
            wav, sr = _decode_pyav(path)
    except SSLPropError:
        raise
    except Exception as e:  # any decoder failure becomes one clear line
        raise SSLPropError(f"{path}: cannot decode audio ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'})") from None
    if wav.size == 0:
        raise SSLPropError(f"{path}: audio stream holds no samples")
    out = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
    if sr != sample_rate:
        import torchaudio.functional as AF

        out = AF.resample(out, sr, sample_rate)
    return out


def write_wav(path: str | os.PathLike, waveform: torch.Tensor | np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write a mono waveform in [-1, 1] as 16-bit PCM WAV (clipped; identical input gives identical bytes)."""
    from sslprop.utils import atomic_write_bytes

    x = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    atomic_write_bytes(path, buf.getvalue())
