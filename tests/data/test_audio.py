"""Tests for sslprop/data/audio.py."""

from __future__ import annotations

import fractions
import math

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from sslprop.data.audio import (
    audio_patch,
    check_not_silent,
    clip_at,
    is_silent,
    load_audio,
    logmel_patch,
    rms,
    vggish_examples,
    vggish_mel_matrix,
    write_wav,
)
from sslprop.errors import SSLPropError


def sine(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(round(seconds * sr))) / sr)).astype(np.float32)


def peak_hz(x: torch.Tensor, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.numpy().astype(np.float64)))
    return float(np.argmax(spectrum) * sr / len(x))


def encode_av(path, x: np.ndarray, sr: int, codec: str, fmt: str | None = None, video: bool = False) -> None:
    """Write (C, T) float32 audio with PyAV (and optionally a tiny video stream)."""
    layout = "mono" if x.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format=fmt) as c:
        v = c.add_stream("libvpx" if fmt == "webm" else "libx264", rate=5) if video else None
        a = c.add_stream(codec, rate=sr)
        a.layout = layout
        if v is not None:
            v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
            for _ in range(5):
                for p in v.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
                    c.mux(p)
            for p in v.encode():
                c.mux(p)
        sr = a.codec_context.sample_rate
        step = a.codec_context.frame_size or 1024
        planar = np.ascontiguousarray(x, dtype=np.float32)
        for s in range(0, x.shape[1], step):
            chunk = planar[:, s : s + step].T.reshape(1, -1).copy()  # interleaved (1, n * C)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = sr, s, fractions.Fraction(1, sr)
            for p in a.encode(frame):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def reference_signal() -> np.ndarray:
    """2.5 s at 16 kHz: two sines and seeded Gaussian noise (float64)."""
    t = np.arange(40000) / 16000.0
    rng = np.random.default_rng(0)
    return 0.5 * np.sin(2 * np.pi * 440 * t) + 0.25 * np.sin(2 * np.pi * 1000 * t + 0.3) + 0.05 * rng.standard_normal(40000)


REF_VALUES = {
    (0, 0, 0): -1.516932973582589,
    (0, 0, 5): -0.16862822775659714,
    (0, 0, 10): 1.7538657281894574,
    (0, 10, 20): 3.372596949215557,
    (0, 50, 63): 1.6627162983080852,
    (1, 95, 0): -1.1468561113885387,
    (1, 40, 30): 0.5986650749646955,
    (1, 0, 13): -0.05821217177052422,
}


REF_MEANS = (0.81348344583426, 0.8207736621104221)


REF_SUM = 10040.875671212129


# The port's mel_features.spectrogram_to_mel_matrix(64, 257, 16000, 125, 7500): total and entries.
REF_MEL_SUM = 230.9135991608477


REF_MEL_ENTRIES = {(5, 0): 0.9476904648443717, (7, 3): 0.046363923967747314, (55, 29): 0.5557169672332337, (239, 63): 0.10807140374000973}


@pytest.mark.parametrize("as_tensor", [False, True])
def test_vggish_examples_match_public_port(as_tensor):
    x = reference_signal()
    out = vggish_examples(torch.from_numpy(x).float() if as_tensor else x, 16000)
    assert out.shape == (2, 1, 96, 64) and out.dtype == torch.float32
    for (i, r, c), value in REF_VALUES.items():
        assert out[i, 0, r, c].item() == pytest.approx(value, abs=1e-4)
    for i, mean in enumerate(REF_MEANS):
        assert out[i].double().mean().item() == pytest.approx(mean, abs=1e-6)
    assert out.double().sum().item() == pytest.approx(REF_SUM, abs=1e-2)


def test_vggish_mel_matrix_matches_public_port():
    w = vggish_mel_matrix()
    assert w.shape == (257, 64)
    assert w.sum().item() == pytest.approx(REF_MEL_SUM, abs=1e-9)
    for (i, j), value in REF_MEL_ENTRIES.items():
        assert w[i, j].item() == pytest.approx(value, abs=1e-12)
    assert torch.all(w[0] == 0)  # DC bin zeroed


def test_vggish_example_count_drops_incomplete_tail():
    # one example needs 95 hops + one window = 15,600 samples at 16 kHz
    assert vggish_examples(np.zeros(15600), 16000).shape == (1, 1, 96, 64)
    assert vggish_examples(np.zeros(15599), 16000).shape == (0, 1, 96, 64)
    assert vggish_examples(np.zeros(100), 16000).shape == (0, 1, 96, 64)
    assert vggish_examples(np.zeros(31200), 16000).shape == (2, 1, 96, 64)
    silent = vggish_examples(np.zeros(15600), 16000)
    assert torch.allclose(silent, torch.full_like(silent, math.log(0.01)))


def test_audio_patch_vggish_pads_clip_symmetrically():
    x = torch.from_numpy(reference_signal()[:15360]).float()  # 0.96 s
    patch = audio_patch(x, 16000, "vggish")
    assert patch.shape == (1, 96, 64)
    padded = torch.nn.functional.pad(x, (120, 120))  # 15,360 -> 15,600 samples
    assert torch.equal(patch, vggish_examples(padded, 16000)[0])
    longer = torch.from_numpy(reference_signal()[:20000]).float()
    assert torch.equal(audio_patch(longer, 16000, "vggish"), vggish_examples(longer, 16000)[0])


def test_audio_patch_rejects_unknown_kind_and_bad_bands():
    x = torch.zeros(15360)
    with pytest.raises(SSLPropError, match="unknown kind"):
        audio_patch(x, 16000, "mfcc")
    with pytest.raises(SSLPropError, match="64 mel bands"):
        audio_patch(x, 16000, "vggish", n_mels=40)


@pytest.mark.parametrize("sr", [16000, 44100])
def test_logmel_patch_shape_finite_and_peak_band(sr):
    patch = audio_patch(torch.from_numpy(sine(1000.0, 0.96, sr)), sr, "logmel")
    assert patch.shape == (1, 96, 64) and patch.dtype == torch.float32
    assert torch.isfinite(patch).all()
    # HTK mel bands 125-7500 Hz: the loudest band is the one centred nearest 1 kHz
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
    centres_mel = np.linspace(mel(125.0), mel(7500.0), 66)[1:-1]
    expected = int(np.argmin(np.abs(centres_mel - mel(1000.0))))
    assert expected == 19  # (mel(1 kHz) - mel(125)) / step = 20.47 edges -> band 19
    assert int(patch[0].mean(dim=0).argmax()) == expected


def test_logmel_patch_pads_short_clip_with_silence_and_crops_long_one():
    short = logmel_patch(torch.from_numpy(sine(440.0, 0.5, 16000)), 16000, n_mels=40)
    assert short.shape == (1, 96, 40)
    assert torch.allclose(short[0, -10:], torch.full((10, 40), math.log(0.01)))  # frames past the clip: log(0 + 0.01)
    assert short[0, :40].max() > 0.0
    long = logmel_patch(torch.from_numpy(sine(440.0, 3.0, 16000)), 16000, n_frames=50)
    assert long.shape == (1, 50, 64)


def test_clip_at_centres_and_zero_pads():
    x = torch.arange(1.0, 11.0)  # 10 samples at 10 Hz: 1..10
    assert clip_at(x, 10, 0.5, 0.4).tolist() == [4.0, 5.0, 6.0, 7.0]
    assert clip_at(x, 10, 0.1, 0.6).tolist() == [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    assert clip_at(x, 10, 0.9, 0.6).tolist() == [7.0, 8.0, 9.0, 10.0, 0.0, 0.0]
    assert clip_at(x, 10, 0.5, 1.4).tolist() == [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 0.0, 0.0]
    assert clip_at(x, 10, 5.0, 0.4).tolist() == [0.0] * 4
    assert clip_at(torch.zeros(100), 16000, 0.0, 0.96).shape == (15360,)
    with pytest.raises(SSLPropError):
        clip_at(x, 10, 0.5, 0.0)


def test_silence_detection_and_message():
    assert rms(sine(440.0, 1.0, 16000, amp=0.5)) == pytest.approx(0.5 / math.sqrt(2), rel=1e-4)
    assert is_silent(torch.zeros(16000))
    assert is_silent(torch.full((100,), 5e-5))
    assert not is_silent(torch.full((100,), 2e-4))
    assert not is_silent(torch.full((100,), 2e-4), threshold=1e-4) and is_silent(torch.full((100,), 2e-4), threshold=1e-3)
    with pytest.raises(SSLPropError, match=r"^clip\.wav: audio is silent \(RMS 0 < 0\.0001\)$"):
        check_not_silent(torch.zeros(10), "clip.wav")
    check_not_silent(torch.from_numpy(sine(440.0, 0.1, 16000)), "clip.wav")


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("OGG", "OPUS")])
def test_load_audio_soundfile_formats(tmp_path, fmt, subtype):
    sr = 48000 if subtype == "OPUS" else 16000
    path = tmp_path / f"tone.{fmt.lower()}"
    sf.write(str(path), sine(440.0, 1.0, sr), sr, format=fmt, subtype=subtype)
    x = load_audio(path)
    assert x.dtype == torch.float32 and x.dim() == 1
    assert abs(len(x) - 16000) <= 400  # lossy codecs may add a little padding
    assert peak_hz(x[:16000], 16000) == pytest.approx(440.0, abs=1.0)
    assert rms(x[1000:15000]) == pytest.approx(0.5 / math.sqrt(2), rel=0.03)


def test_load_audio_wav_is_exact(tmp_path):
    x = sine(440.0, 0.5, 16000)
    write_wav(tmp_path / "a.wav", x)
    y = load_audio(tmp_path / "a.wav")
    assert len(y) == 8000
    assert torch.allclose(y, torch.from_numpy(x), atol=1.0 / 32767)


@pytest.mark.parametrize(
    "suffix,codec,fmt,video",
    [
        ("mp3", "libmp3lame", "mp3", False),
        ("mp4", "aac", "mp4", True),
        ("webm", "libopus", "webm", True),
        ("avi", "libmp3lame", "avi", True),
    ],
)
def test_load_audio_pyav_formats(tmp_path, suffix, codec, fmt, video):
    sr = 48000 if codec == "libopus" else 44100
    path = tmp_path / f"tone.{suffix}"
    encode_av(path, sine(440.0, 1.0, sr)[None], sr, codec, fmt, video=video)
    x = load_audio(path)
    assert abs(len(x) - 16000) <= 1200  # codec priming / padding
    assert peak_hz(x[:16000], 16000) == pytest.approx(440.0, abs=1.0)
    assert rms(x[2000:14000]) == pytest.approx(0.5 / math.sqrt(2), rel=0.05)


def test_stereo_is_mixed_to_mono_by_mean(tmp_path):
    left, right = sine(440.0, 0.5, 16000, amp=0.5), sine(440.0, 0.5, 16000, amp=0.25)
    sf.write(str(tmp_path / "st.wav"), np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    assert torch.allclose(load_audio(tmp_path / "st.wav"), torch.from_numpy((left + right) / 2), atol=1e-6)
    # through PyAV (AAC in mp4): left = sine, right = silence -> half the amplitude
    encode_av(tmp_path / "st.mp4", np.stack([sine(440.0, 1.0, 16000, amp=0.5), np.zeros(16000, np.float32)]), 16000, "aac", "mp4")
    y = load_audio(tmp_path / "st.mp4")
    assert rms(y[2000:14000]) == pytest.approx(0.25 / math.sqrt(2), rel=0.05)


def test_resampling_44k1_to_16k_keeps_length_and_frequency(tmp_path):
    sf.write(str(tmp_path / "hi.wav"), sine(1000.0, 2.0, 44100), 44100, subtype="FLOAT")
    x = load_audio(tmp_path / "hi.wav")
    assert len(x) == 32000
    assert peak_hz(x, 16000) == pytest.approx(1000.0, abs=0.5)
    assert rms(x[1000:-1000]) == pytest.approx(0.5 / math.sqrt(2), rel=1e-3)
    assert len(load_audio(tmp_path / "hi.wav", sample_rate=8000)) == 16000


def test_load_audio_errors_name_the_file(tmp_path):
    with pytest.raises(SSLPropError, match=r"missing\.wav: audio file not found$"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.mp3").write_bytes(b"")
    with pytest.raises(SSLPropError, match=r"empty\.mp3: audio file is empty$"):
        load_audio(tmp_path / "empty.mp3")
    (tmp_path / "junk.ogg").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(SSLPropError, match=r"junk\.ogg: cannot decode audio") as err:
        load_audio(tmp_path / "junk.ogg")
    assert "\n" not in str(err.value)
    with av.open(str(tmp_path / "mute.mp4"), "w") as c:  # a video without an audio track
        v = c.add_stream("libx264", rate=5)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        for p in v.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
            c.mux(p)
        for p in v.encode():
            c.mux(p)
    with pytest.raises(SSLPropError, match=r"mute\.mp4: no audio track$"):
        load_audio(tmp_path / "mute.mp4")
    write_wav(tmp_path / "noise.wav", np.zeros(0))
    with pytest.raises(SSLPropError, match=r"noise\.wav: audio stream holds no samples$"):
        load_audio(tmp_path / "noise.wav")
