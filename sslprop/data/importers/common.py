"""Readers of the real data sets (Flickr-SoundNet, VGG-SS, MUSIC, AVE, any folder of videos) into the sslprop format.

`python -m sslprop import KIND SRC --out DIR` reads a data set as its authors distribute
it and writes DIR in the format of `sslprop.data.format`: frames as JPEG (quality 95) or
PNG under DIR/frames/, audio as 16 kHz mono 16-bit WAV under DIR/audio/, one manifest row
per sample, `dataset.json`, and `import_report.json` listing every sample that was skipped
and why. Every box is converted to absolute pixels (x1, y1, x2, y2) of the stored frame.

An import works in two steps. Planning reads only the annotation files and turns each
native entry into a `Job` (which media, which times, boxes as fractions of the frame);
building decodes the media of one job, checks it, and writes its frames and audio. Any
`SSLPropError` raised while building one sample (missing, empty or corrupt media, silent
audio, a frame below the minimum size) skips that sample and is recorded in the report;
the import never stops half way. A finished sample leaves a small record under
DIR/.import/, so a rerun of the same command reuses it instead of decoding it again, and
the manifest is written last.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from sslprop.config import DataConfig
from sslprop.data import video as V
from sslprop.data.audio import check_not_silent, load_audio, write_wav
from sslprop.data.format import Frame, ObjectAnn, Sample, sample_from_dict
from sslprop.data.images import read_image
from sslprop.data.video import aligned_audio
from sslprop.errors import SSLPropError
from sslprop.utils import atomic_write_bytes, atomic_write_json

# How `sslprop eval` (lvs / ezvsl) turns the annotator boxes of an imported set into ground
# truth, as the reference code does: Flickr sums every box's mask (/2, clipped to 1) even when
# a file holds one box; VGG-SS takes the union. Recorded in dataset.json as "gt_rule".
GT_RULES = {"flickr": "consensus", "vggss": "union"}

KINDS = ("flickr", "vggss", "music", "ave", "folder")
VIDEO_EXTS = (".mp4", ".webm", ".avi", ".mkv", ".mov")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")
AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
REPORT = "import_report.json"
CACHE_DIR = ".import"  # per-sample records of finished samples (resume)
DEFAULT_SPLIT = {"flickr": "test", "vggss": "test", "music": "test", "ave": "test", "folder": "train"}
# Audio kept per sample by default (s; 0 = the whole track): the whole clip where the data set's
# clips are short (Flickr 20 s, VGG-SS and AVE 10 s); 3 s around each MUSIC frame (13k frames of
# minutes-long videos; the model's clip is 0.96 s).
DEFAULT_AUDIO_SECONDS = {"flickr": 0.0, "vggss": 0.0, "music": 3.0, "ave": 0.0, "folder": 0.0}
# Frames are stored at most at the paper profile's input side (224; the cpu profile's 96 is below it), the size the
# model sees and the one at which Selective Search gives bags of the paper's size (`sslprop.data.proposals.SEARCH_SIDE`:
# a median of 557 proposals on real photos): searching one costs about 0.3 s instead of about 7 s at 1024
# px, and the boxes are kept normalised until written, so they follow. Flickr-SoundNet keeps its 256 x 256 frames
# (its boxes' pixels, and every reference evaluator's).
DEFAULT_MAX_FRAME_SIDE = {"flickr": None, "vggss": 224, "music": 224, "ave": 224, "folder": 224}

# Skip reasons (the report counts samples per reason).
MISSING = "missing media"
CORRUPT = "corrupt or empty media"
SILENT = "silent audio"
TOO_SMALL = "frame too small"
ANNOTATION = "annotation problem"

NormBox = tuple[float, float, float, float]  # (x1, y1, x2, y2) as fractions of the frame's width and height


# ----------------------------------------------------------------------------- options, jobs, report


@dataclass(frozen=True)
class ImportOptions:
    """How an import samples, stores and checks the media (the CLI flags of `sslprop import`)."""

    fps: float = 1.0  # frames per second for kinds that sample a video (ave, folder)
    max_samples: int | None = None  # plan at most this many samples (the first ones, in plan order)
    split: str | None = None  # force every sample into this split; None: the kind's default
    audio_seconds: float | None = None  # audio kept around the frames, [first - s/2, last + s/2] (0: whole track; None: per kind)
    image_format: str = "jpg"  # "jpg" (quality 95) or "png"
    min_frame_size: int = DataConfig().min_frame_size  # frames smaller than this (either side) are skipped
    sample_rate: int = DataConfig().sample_rate  # Hz of the stored WAV files
    workers: int = 1  # samples built in parallel (threads)
    media: str | None = None  # folder holding the media when it is not beside the annotations
    ids: str | None = None  # file of ids (first column) to keep; None: keep all
    max_frame_side: int | None = None  # stored frames downscaled so their longer side is at most this (0: full size; None: per kind)


@dataclass
class FrameAnn:
    """What is annotated on one frame, boxes as fractions of the frame (converted to pixels on write)."""

    annotators: list[list[NormBox]] = field(default_factory=list)
    objects: list[tuple[NormBox, str, bool]] = field(default_factory=list)  # (box, label, sounding)
    onscreen: bool | None = None


@dataclass
class Job:
    """One sample to build: where its media are and which frames, times and annotations it has.

    Frames come either from `images` (still images, one per frame) or from `video`, at
    `times` (seconds of the source) or, when `times` is None, by `timing`: "middle" takes
    the middle of the video, "fps" samples it at `ImportOptions.fps`, "index" takes frames
    number `frame_indices` (0-based, decode order) at (i + 0.5) / fps of the video. For
    still images without times the frame sits in the middle of the audio track. Audio
    comes from `audio` when set, else from the video's first audio track (aligned to video
    time). `annotations` has one entry per frame, or a single entry used for every frame,
    or none; `event` (AVE) marks frames with start <= t < end on-screen, the others
    off-screen. A job with a `problem` (reason, detail) is not built: it is reported as skipped.
    """

    id: str
    video_id: str
    split: str
    media_key: str  # files go to frames/<media_key>/NNNN.<ext> and audio/<media_key>.wav
    video: Path | None = None
    images: list[Path] = field(default_factory=list)
    audio: Path | None = None
    times: list[float] | None = None
    timing: str = "middle"
    frame_indices: list[int] | None = None
    annotations: list[FrameAnn] = field(default_factory=list)
    event: tuple[float, float] | None = None
    resize: tuple[int, int] | None = None  # (width, height) to store frames at; None: as decoded
    classes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    problem: tuple[str, str] | None = None


@dataclass
class Skipped:
    """A sample left out of the data set, and why."""

    id: str
    reason: str  # one of MISSING, CORRUPT, SILENT, TOO_SMALL, ANNOTATION
    detail: str  # one line naming the file and the problem


@dataclass
class ImportReport:
    """What an import did: samples written and reused, samples skipped with reasons, warnings."""

    kind: str
    source: str
    out: str
    planned: int = 0
    written: int = 0
    reused: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Skipped samples per reason."""
        out: dict[str, int] = {}
        for s in self.skipped:
            out[s.reason] = out.get(s.reason, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped_by_reason"] = self.counts()
        return d

    def summary(self) -> str:
        """The one-line summary printed by the CLI."""
        reasons = ", ".join(f"{n} {r}" for r, n in self.counts().items())
        skipped = f"{len(self.skipped)} skipped ({reasons})" if self.skipped else "0 skipped"
        reused = f", {self.reused} reused from an earlier run" if self.reused else ""
        return (
            f"import {self.kind}: {self.written} of {self.planned} samples written to {self.out}{reused}; "
            f"{skipped}; {len(self.warnings)} warnings; report: {Path(self.out) / REPORT}"
        )


class SkipSample(Exception):
    """Raised while building one sample: it is left out with `reason` and a one-line `detail`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _stage(reason: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `fn`; an `SSLPropError` from it skips the sample with `reason`."""
    try:
        return fn(*args, **kwargs)
    except SSLPropError as e:
        raise SkipSample(reason, str(e)) from None


# ----------------------------------------------------------------------------- finding media


@dataclass
class MediaIndex:
    """Media files under a folder, by file name without extension (shallowest path first)."""

    root: Path
    videos: dict[str, list[Path]] = field(default_factory=dict)
    images: dict[str, list[Path]] = field(default_factory=dict)
    audio: dict[str, list[Path]] = field(default_factory=dict)

    def find(self, table: str, *stems: str) -> Path | None:
        """The first file of `table` ("videos", "images", "audio") named by any of `stems`."""
        entries: dict[str, list[Path]] = getattr(self, table)
        for stem in stems:
            if stem in entries:
                return entries[stem][0]
        return None


def index_media(root: Path, exclude: Iterable[Path] = ()) -> MediaIndex:
    """Walk `root` (hidden folders and `exclude`d folders left out) and index its media files by stem."""
    index = MediaIndex(root)
    skip = {p.resolve() for p in exclude}
    tables = {**{e: index.videos for e in VIDEO_EXTS}, **{e: index.images for e in IMAGE_EXTS}, **{e: index.audio for e in AUDIO_EXTS}}
    found: list[tuple[int, str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in skip)
        for name in filenames:
            p = here / name
            if p.suffix.lower() in tables:
                found.append((len(p.relative_to(root).parts), str(p), p))
    for _, _, p in sorted(found):
        tables[p.suffix.lower()].setdefault(p.stem, []).append(p)
    return index


def media_root(src: Path, opts: ImportOptions) -> Path:
    root = Path(opts.media) if opts.media else (src if src.is_dir() else src.parent)
    if not root.is_dir():
        raise SSLPropError(f"{root}: media folder not found")
    return root


def safe_name(text: str) -> str:
    """A file-system-safe name: characters other than letters, digits, '-', '_' and '.' become '_'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return name or "x"


# ----------------------------------------------------------------------------- Flickr-SoundNet


def find_dir(src: Path, name: str) -> Path | None:
    """`src/name`, matched case-insensitively."""
    if (src / name).is_dir():
        return src / name
    return next((p for p in sorted(src.iterdir()) if p.is_dir() and p.name.lower() == name.lower()), None)


def clamp_box(box: tuple[float, ...]) -> tuple[float, float, float, float] | None:
    """Clamp a fractional box to [0, 1] (the frame; VGG-SS's reference takes max(v, 0)); None when it is left inverted.

    An inverted box (x2 < x1 or y2 < y1) is empty in the references' ``map[y1:y2, x1:x2] = 1``.
    """
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in box)
    return (x1, y1, x2, y2) if x2 >= x1 and y2 >= y1 else None


def problem_lines(problems: Iterable[Any]) -> list[str]:
    return [str(p) for p in problems]


# ----------------------------------------------------------------------------- building one sample


def encode_image(frame: np.ndarray, image_format: str) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG (quality 95) or PNG bytes (the same input gives the same bytes)."""

    bgr = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)
    if image_format == "jpg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    elif image_format == "png":
        ok, buf = cv2.imencode(".png", bgr)
    else:
        raise SSLPropError(f"image format {image_format!r}: choose jpg or png")
    if not ok:
        raise SSLPropError(f"cannot encode a frame of shape {frame.shape} as {image_format}")
    return buf.tobytes()


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) -> (size[1], size[0], 3): area averaging when shrinking, bicubic when enlarging."""

    w, h = size
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    shrink = w <= frame.shape[1] and h <= frame.shape[0]
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def to_pixels(box: NormBox, width: int, height: int) -> list[float]:
    """A fractional box (x1, y1, x2, y2) -> absolute pixels of a width x height frame, [x1, y1, x2, y2]."""
    x1, y1, x2, y2 = box
    return [round(v, 6) for v in (x1 * width, y1 * height, x2 * width, y2 * height)]


@functools.lru_cache(maxsize=1)
def _decoded_audio(path: str, stamp: tuple[int, int], sample_rate: int, from_video: bool) -> torch.Tensor:
    """Decode a file's audio; the last file stays cached for the next job (MUSIC has hundreds of
    samples per video, planned in a row). `stamp` (size, mtime) invalidates the cache on change."""
    if not from_video:
        return load_audio(path, sample_rate)

    return aligned_audio(path, sample_rate)


def _load_job_audio(job: Job, sample_rate: int) -> tuple[torch.Tensor, Path]:
    """The job's audio, float32 Tensor[T] at `sample_rate`, sample round(t * rate) heard at source time t."""
    if job.audio is not None:
        if not job.audio.is_file():
            raise SkipSample(MISSING, f"{job.audio}: audio file not found")
        st = job.audio.stat()
        return _stage(CORRUPT, _decoded_audio, str(job.audio), (st.st_size, st.st_mtime_ns), sample_rate, False), job.audio
    assert job.video is not None

    info = _stage(CORRUPT, V.probe_video, job.video)
    if not info.has_audio:
        raise SkipSample(MISSING, f"{job.video}: no audio track")
    st = job.video.stat()
    return _stage(CORRUPT, _decoded_audio, str(job.video), (st.st_size, st.st_mtime_ns), sample_rate, True), job.video


def _job_frames(job: Job, opts: ImportOptions, audio_seconds_total: float) -> tuple[list[np.ndarray], list[float]]:
    """Decode the job's frames: (list of (H, W, 3) uint8 RGB, their times in source seconds)."""
    if job.images:
        for p in job.images:
            if not p.is_file():
                raise SkipSample(MISSING, f"{p}: image file not found")
        frames = [_stage(CORRUPT, read_image, p) for p in job.images]
        times = job.times if job.times is not None else [audio_seconds_total / 2.0] * len(frames)
        return frames, list(times)

    assert job.video is not None
    info = _stage(CORRUPT, V.probe_video, job.video)
    if job.times is not None:
        times = list(job.times)
    elif job.timing == "middle":
        times = [info.duration / 2.0]
    elif job.timing == "index":
        times = [(i + 0.5) / info.fps for i in job.frame_indices or []]
        late = [i for i in job.frame_indices or [] if i >= info.num_frames]
        if late:
            raise SkipSample(MISSING, f"{job.video}: frame {late[0]} asked for, the video has {info.num_frames} frames")
    else:
        times = _stage(CORRUPT, V.frame_times, info.duration, opts.fps)
    return _stage(CORRUPT, V.read_frames, job.video, times), times


def _frame_anns(job: Job, times: list[float]) -> list[FrameAnn]:
    if job.event is not None:
        start, end = job.event
        return [FrameAnn(onscreen=bool(start <= t < end)) for t in times]
    if not job.annotations:
        return [FrameAnn() for _ in times]
    if len(job.annotations) == 1:
        return [job.annotations[0]] * len(times)
    if len(job.annotations) != len(times):
        raise SSLPropError(f"sample {job.id}: {len(job.annotations)} frame annotations for {len(times)} frames")
    return job.annotations


def build_sample(job: Job, out: Path, opts: ImportOptions) -> Sample:
    """Decode, check and write one sample's frames and audio under `out`; return its manifest row.

    Raises `SkipSample` for media that are missing, empty, corrupt, silent or too small.
    The stored audio spans [first frame - s/2, last frame + s/2] of the source (s =
    `audio_seconds`, cut to the track), and each `Frame.time` is relative to its start.
    """
    if job.video is not None and not job.images and not job.video.is_file():
        raise SkipSample(MISSING, f"{job.video}: video file not found")
    wave, audio_src = _load_job_audio(job, opts.sample_rate)
    sr = opts.sample_rate
    frames, times = _job_frames(job, opts, wave.shape[0] / sr)
    for img, t in zip(frames, times):
        h, w = img.shape[:2]
        if min(h, w) < opts.min_frame_size:
            where = job.images[0] if job.images else job.video
            raise SkipSample(TOO_SMALL, f"{where}: frame at {t:.2f} s is {w}x{h}, smaller than the minimum {opts.min_frame_size} px")
    lo, hi = 0, wave.shape[0]  # samples of the source audio kept
    if opts.audio_seconds:
        half = opts.audio_seconds / 2.0
        lo, hi = max(lo, int(round((min(times) - half) * sr))), min(hi, int(round((max(times) + half) * sr)))
    if hi <= lo:
        raise SkipSample(CORRUPT, f"{audio_src}: audio ends at {wave.shape[0] / sr:.2f} s, before the frame at {min(times):.2f} s")
    clip = wave[lo:hi]
    _stage(SILENT, check_not_silent, clip, audio_src)

    ext = opts.image_format
    out_frames = []
    for k, (img, t, ann) in enumerate(zip(frames, times, _frame_anns(job, times))):
        if job.resize is not None:
            img = resize_frame(img, job.resize)
        if opts.max_frame_side and max(img.shape[:2]) > opts.max_frame_side:  # boxes follow: they are stored normalised
            scale = opts.max_frame_side / max(img.shape[:2])
            img = resize_frame(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))))
        h, w = img.shape[:2]
        rel = f"frames/{job.media_key}/{k:04d}.{ext}"
        atomic_write_bytes(out / rel, encode_image(img, ext))
        out_frames.append(
            Frame(
                path=rel,
                time=round(t - lo / sr, 6),
                width=w,
                height=h,
                annotators=[[to_pixels(b, w, h) for b in boxes] for boxes in ann.annotators],
                objects=[ObjectAnn(to_pixels(b, w, h), label, sounding) for b, label, sounding in ann.objects],
                onscreen=ann.onscreen,
            )
        )
    audio_rel = f"audio/{job.media_key}.wav"
    write_wav(out / audio_rel, clip, sr)
    meta = dict(job.meta)
    meta["source_times"] = [round(t, 6) for t in times]
    meta["audio_start"] = round(lo / sr, 6)
    return Sample(id=job.id, video_id=job.video_id, split=job.split, audio=audio_rel, frames=out_frames, classes=list(job.classes), meta=meta)


# ----------------------------------------------------------------------------- resume records


def _file_stamp(p: Path | None) -> list[Any] | None:
    if p is None or not p.exists():
        return None
    st = p.stat()
    return [str(p), st.st_size, st.st_mtime_ns]


def job_signature(job: Job, opts: ImportOptions) -> str:
    """A digest of everything the job's output depends on (annotations, options, source files)."""
    d = {
        "job": {k: v for k, v in asdict(job).items() if k not in ("video", "images", "audio")},
        "media": [_file_stamp(job.video), [_file_stamp(p) for p in job.images], _file_stamp(job.audio)],
        "opts": [opts.fps, opts.audio_seconds, opts.image_format, opts.min_frame_size, opts.sample_rate, opts.max_frame_side],
    }
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()


def _record_path(out: Path, job: Job) -> Path:
    return out / CACHE_DIR / f"{safe_name(job.id)}-{hashlib.sha1(job.id.encode()).hexdigest()[:8]}.json"


def _reuse(out: Path, job: Job, signature: str) -> Sample | None:
    """The sample a finished earlier run wrote for this job, when its record and files are intact."""
    p = _record_path(out, job)
    if not p.is_file():
        return None
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
        if rec.get("signature") != signature:
            return None
        sample = sample_from_dict(rec["sample"], str(p))
    except (json.JSONDecodeError, KeyError, SSLPropError):
        return None
    files = [out / sample.audio] + [out / f.path for f in sample.frames]
    return sample if all(f.is_file() for f in files) else None


def run_job(job: Job, out: Path, opts: ImportOptions) -> tuple[Sample | None, Skipped | None, bool]:
    """Build (or reuse) one job: (sample, None, reused) or (None, skipped, False)."""
    if job.problem is not None:
        return None, Skipped(job.id, *job.problem), False
    signature = job_signature(job, opts)
    sample = _reuse(out, job, signature)
    if sample is not None:
        return sample, None, True
    try:
        sample = build_sample(job, out, opts)
        sample = sample_from_dict(json.loads(sample.to_json()), f"sample {job.id}")  # a row write_manifest accepts
    except SkipSample as e:
        return None, Skipped(job.id, e.reason, e.detail), False
    except SSLPropError as e:  # an annotation the format rejects (e.g. an inverted box)
        return None, Skipped(job.id, ANNOTATION, str(e)), False
    atomic_write_json(_record_path(out, job), {"signature": signature, "sample": json.loads(sample.to_json())})
    return sample, None, False
