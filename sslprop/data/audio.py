"""Audio: decoding any common format to 16 kHz mono, WAV writing, and the audio front ends."""

from __future__ import annotations

import functools
import io
import math
import os
import wave
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import torch
import torchaudio
import torchaudio.transforms as AT

from sslprop.errors import SSLPropError
from sslprop.utils import atomic_write_bytes

SAMPLE_RATE = 16000

# The VGGish front end (tensorflow/models research/audioset, vggish_params.py).
VGGISH_SAMPLE_RATE = 16000  # Hz; input is resampled to this rate
VGGISH_WINDOW_SECONDS = 0.025  # STFT window (400 samples, periodic Hann)
VGGISH_HOP_SECONDS = 0.010  # STFT hop (160 samples)
VGGISH_NUM_BANDS = 64  # mel bands
VGGISH_MEL_MIN_HZ = 125.0  # lower edge of the lowest mel band
VGGISH_MEL_MAX_HZ = 7500.0  # upper edge of the highest mel band
VGGISH_LOG_OFFSET = 0.01  # log(mel + offset)
VGGISH_NUM_FRAMES = 96  # frames per example (0.96 s, no overlap between examples)
LOGMEL_LOG_OFFSET = 0.01  # the torchaudio front end uses the same stabilised log
AUDIO_KINDS = ("vggish", "logmel")


# ----------------------------------------------------------------------------- decoding


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (T, C)
    return data.mean(axis=1), int(sr)


def _decode_pyav(path: Path) -> tuple[np.ndarray, int]:
    """First audio track of any container PyAV opens -> (mono float32 [T], its sample rate)."""

    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == "audio"]
        if not streams:
            raise SSLPropError(f"{path}: no audio track")
        stream = streams[0]
        # planar float, layout and rate as decoded: to_ndarray gives (C, n); mono = mean over C
        resampler = av.AudioResampler(format="fltp")
        chunks, sr = [], 0
        for frame in container.decode(stream):
            sr = sr or int(frame.sample_rate or 0)  # the decoded rate (HE-AAC may differ from the header)
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().mean(axis=0))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().mean(axis=0))
        sr = sr or int(stream.codec_context.sample_rate or stream.rate or 0)
    if sr <= 0:
        raise SSLPropError(f"{path}: audio track has no sample rate")
    return (np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)), sr


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
        detail = str(e).splitlines()[0] if str(e) else "no detail"
        raise SSLPropError(f"{path}: cannot decode audio ({type(e).__name__}: {detail})") from None
    if wav.size == 0:
        raise SSLPropError(f"{path}: audio stream holds no samples")
    if not np.isfinite(wav).all():
        raise SSLPropError(f"{path}: audio holds NaN or infinite samples")
    out = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
    return resample(out, sr, sample_rate)


def write_wav(path: str | os.PathLike, waveform: torch.Tensor | np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write a mono waveform in [-1, 1] as 16-bit PCM WAV (clipped; identical input gives identical bytes)."""

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


# ----------------------------------------------------------------------------- clips and silence


def _as_1d_tensor(waveform: torch.Tensor | np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
    x = waveform if isinstance(waveform, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(waveform))
    if x.dim() != 1:
        raise SSLPropError(f"waveform of shape {tuple(x.shape)}: expected a mono Tensor[T]")
    return x.to(dtype) if dtype is not None else x


@functools.lru_cache(maxsize=16)
def _resampler(orig_rate: int, new_rate: int, dtype: torch.dtype) -> torch.nn.Module:
    """One torchaudio Resample per rate pair: its sinc kernel is built once, not per file."""

    return AT.Resample(orig_rate, new_rate, dtype=dtype)


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Tensor[T] at `orig_rate` -> Tensor[T'] at `new_rate` (torchaudio, band-limited sinc; no-op when equal).

    The same result as torchaudio.functional.resample with its defaults; the kernel is cached per rate pair.
    """
    if int(orig_rate) == int(new_rate):
        return waveform
    with torch.no_grad():
        return _resampler(int(orig_rate), int(new_rate), waveform.dtype).to(waveform.device)(waveform)


def clip_at(waveform: torch.Tensor, sample_rate: int, centre: float, seconds: float) -> torch.Tensor:
    """The `seconds`-long clip centred at time `centre` (s): Tensor[T] -> Tensor[round(seconds * sample_rate)].

    The clip starts at sample round((centre - seconds / 2) * sample_rate); where it runs past
    either end of the waveform it is zero-padded.
    """
    x = _as_1d_tensor(waveform)
    n = int(round(seconds * sample_rate))
    if n <= 0:
        raise SSLPropError(f"clip of {seconds} s at {sample_rate} Hz: must hold at least one sample")
    start = int(round((centre - seconds / 2.0) * sample_rate))
    out = x.new_zeros(n)
    lo, hi = max(start, 0), min(start + n, x.shape[0])  # the part of the clip inside the waveform
    if hi > lo:
        out[lo - start : hi - start] = x[lo:hi]
    return out


def rms(waveform: torch.Tensor | np.ndarray) -> float:
    """Root mean square of a waveform (0.0 for an empty one)."""
    x = _as_1d_tensor(waveform).double()
    return float(x.pow(2).mean().sqrt()) if x.numel() else 0.0


def is_silent(waveform: torch.Tensor | np.ndarray, threshold: float = 1e-4) -> bool:
    """True when the waveform's RMS is below `threshold` (an empty waveform is silent)."""
    return rms(waveform) < threshold


def check_not_silent(waveform: torch.Tensor | np.ndarray, path: str | os.PathLike, threshold: float = 1e-4) -> None:
    """Raise `SSLPropError("<path>: audio is silent (RMS ...)")` when `is_silent(waveform, threshold)`."""
    level = rms(waveform)
    if level < threshold:
        raise SSLPropError(f"{path}: audio is silent (RMS {level:.3g} < {threshold:g})")


# ----------------------------------------------------------------------------- VGGish front end


def vggish_mel_matrix(
    num_bands: int = VGGISH_NUM_BANDS,
    num_spectrogram_bins: int = 257,
    sample_rate: int = VGGISH_SAMPLE_RATE,
    lower_hz: float = VGGISH_MEL_MIN_HZ,
    upper_hz: float = VGGISH_MEL_MAX_HZ,
) -> torch.Tensor:
    """The VGGish mel weights, Tensor[num_spectrogram_bins, num_bands] (float64), mel = |STFT| @ W.

    As in the audioset `mel_features.spectrogram_to_mel_matrix`: bins spaced linearly from
    0 Hz to Nyquist, HTK mel (1127 ln(1 + f/700)), num_bands + 2 band edges evenly spaced in
    mel between `lower_hz` and `upper_hz`, triangles max(0, min(rising, falling)) evaluated
    in mel, unnormalised, and the DC bin's row zeroed.
    """
    return _vggish_mel_matrix(num_bands, num_spectrogram_bins, sample_rate, float(lower_hz), float(upper_hz)).clone()


@functools.lru_cache(maxsize=8)
def _vggish_mel_matrix(num_bands: int, num_spectrogram_bins: int, sample_rate: int, lower_hz: float, upper_hz: float) -> torch.Tensor:
    """Cached `vggish_mel_matrix` (read-only: callers must not modify it in place)."""
    if not 0.0 <= lower_hz < upper_hz <= sample_rate / 2.0:
        raise SSLPropError(f"mel range {lower_hz}-{upper_hz} Hz: must satisfy 0 <= low < high <= Nyquist")

    def to_mel(hz: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)

    bins_mel = to_mel(np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins))[:, None]  # (S, 1)
    edges = np.linspace(to_mel(lower_hz), to_mel(upper_hz), num_bands + 2)
    lower, centre, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]  # (1, B) each
    rising = (bins_mel - lower) / (centre - lower)  # (S, B)
    falling = (upper - bins_mel) / (upper - centre)  # (S, B)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return torch.from_numpy(weights)


def vggish_log_mel(waveform: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
    """The VGGish log-mel spectrogram: Tensor[T] -> Tensor[F, 64] (float64), F = 1 + (T16 - 400) // 160.

    Resampled to 16 kHz (torchaudio), framed without padding (400-sample frames, hop 160),
    periodic Hann window, |rfft| of length 512, VGGish mel matrix, log(mel + 0.01).
    """
    x = resample(_as_1d_tensor(waveform, torch.float64), sample_rate, VGGISH_SAMPLE_RATE)
    win = int(round(VGGISH_SAMPLE_RATE * VGGISH_WINDOW_SECONDS))  # 400
    hop = int(round(VGGISH_SAMPLE_RATE * VGGISH_HOP_SECONDS))  # 160
    n_fft = 2 ** int(math.ceil(math.log2(win)))  # 512
    if x.shape[0] < win:
        return x.new_zeros(0, VGGISH_NUM_BANDS)
    frames = x.unfold(0, win, hop)  # (F, 400)
    window = torch.hann_window(win, periodic=True, dtype=torch.float64, device=x.device)
    magnitude = torch.fft.rfft(frames * window, n=n_fft).abs()  # (F, 257)
    weights = _vggish_mel_matrix(VGGISH_NUM_BANDS, n_fft // 2 + 1, VGGISH_SAMPLE_RATE, VGGISH_MEL_MIN_HZ, VGGISH_MEL_MAX_HZ)
    mel = magnitude @ weights.to(x.device)  # (F, 257) @ (257, 64) -> (F, 64)
    return torch.log(mel + VGGISH_LOG_OFFSET)


def vggish_examples(waveform: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
    """The VGGish input examples of a waveform: Tensor[T] -> float32 Tensor[N, 1, 96, 64].

    Same numbers as the public front end (`vggish_input.waveform_to_examples`): the
    log-mel frames of `vggish_log_mel` cut into non-overlapping 96-frame (0.96 s) examples,
    the incomplete tail dropped. N = 0 when the audio is shorter than one example
    (15,600 samples at 16 kHz: 95 hops plus one window).
    """
    log_mel = vggish_log_mel(waveform, sample_rate)  # (F, 64)
    n = log_mel.shape[0] // VGGISH_NUM_FRAMES
    examples = log_mel[: n * VGGISH_NUM_FRAMES].reshape(n, VGGISH_NUM_FRAMES, VGGISH_NUM_BANDS)  # (N, 96, 64)
    return examples[:, None].float()  # (N, 1, 96, 64)


# ----------------------------------------------------------------------------- torchaudio log-mel (cpu profile)


@functools.lru_cache(maxsize=8)
def _mel_transform(sample_rate: int, n_mels: int, device: str) -> torch.nn.Module:
    """The torchaudio MelSpectrogram of `logmel_patch`, built once per (rate, bands, device)."""

    win = int(round(sample_rate * VGGISH_WINDOW_SECONDS))
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate,
        n_fft=2 ** int(math.ceil(math.log2(win))),
        win_length=win,
        hop_length=int(round(sample_rate * VGGISH_HOP_SECONDS)),
        f_min=VGGISH_MEL_MIN_HZ,
        f_max=min(VGGISH_MEL_MAX_HZ, sample_rate / 2.0),
        n_mels=n_mels,
        power=1.0,  # magnitude, as VGGish
        center=True,
    ).to(device)


def logmel_patch(clip: torch.Tensor, sample_rate: int, n_mels: int = 64, n_frames: int = 96) -> torch.Tensor:
    """The cpu profile's front end: Tensor[T] -> float32 Tensor[1, n_frames, n_mels].

    torchaudio MelSpectrogram (25 ms Hann window, 10 ms hop, FFT length the next power of
    two, magnitude, HTK mel bands 125-7500 Hz, centred frames), log(mel + 0.01). The clip is
    zero-padded at its end to at least (n_frames - 1) hops and the frames cropped to n_frames.
    """
    x = _as_1d_tensor(clip, torch.float32)
    transform = _mel_transform(int(sample_rate), int(n_mels), str(x.device))
    hop = transform.hop_length
    if x.shape[0] < (n_frames - 1) * hop + 1:
        x = torch.nn.functional.pad(x, (0, (n_frames - 1) * hop + 1 - x.shape[0]))
    mel = transform(x)  # (n_mels, F), F = 1 + T // hop >= n_frames
    patch = torch.log(mel[:, :n_frames] + LOGMEL_LOG_OFFSET).T  # (n_frames, n_mels)
    return patch[None].contiguous()  # (1, n_frames, n_mels)


def audio_patch(clip: torch.Tensor, sample_rate: int, kind: str, n_mels: int = 64) -> torch.Tensor:
    """One audio patch for a 0.96 s clip: Tensor[T] -> float32 Tensor[1, 96, n_mels].

    kind "vggish": the first VGGish example; the clip is resampled to 16 kHz and zero-padded
    equally on both sides to at least 15,600 samples (the span of 96 VGGish frames), so the
    clip's centre stays the patch's centre. n_mels must be 64. kind "logmel": `logmel_patch`.
    """
    if kind == "vggish":
        if n_mels != VGGISH_NUM_BANDS:
            raise SSLPropError(f"n_mels={n_mels}: the VGGish front end has {VGGISH_NUM_BANDS} mel bands")
        x = resample(_as_1d_tensor(clip, torch.float32), sample_rate, VGGISH_SAMPLE_RATE)
        hop = int(round(VGGISH_SAMPLE_RATE * VGGISH_HOP_SECONDS))
        need = (VGGISH_NUM_FRAMES - 1) * hop + int(round(VGGISH_SAMPLE_RATE * VGGISH_WINDOW_SECONDS))  # 15,600
        if x.shape[0] < need:
            left = (need - x.shape[0]) // 2
            x = torch.nn.functional.pad(x, (left, need - x.shape[0] - left))
        return vggish_examples(x, VGGISH_SAMPLE_RATE)[0]  # (1, 96, 64)
    if kind == "logmel":
        return logmel_patch(clip, sample_rate, n_mels=n_mels, n_frames=VGGISH_NUM_FRAMES)
    raise SSLPropError(f"audio features {kind!r}: unknown kind (choose from {', '.join(AUDIO_KINDS)})")
