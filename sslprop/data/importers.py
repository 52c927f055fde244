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

import argparse
import functools
import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from sslprop.config import DataConfig
from sslprop.data.audio import check_not_silent, load_audio, write_wav
from sslprop.data.format import Frame, ObjectAnn, Sample, sample_from_dict, write_manifest
from sslprop.data.images import read_image

# How `sslprop eval` (lvs / ezvsl) turns the annotator boxes of an imported set into ground
# truth, as the reference code does: Flickr sums every box's mask (/2, clipped to 1) even when
# a file holds one box; VGG-SS takes the union. Recorded in dataset.json as "gt_rule".
GT_RULES = {"flickr": "consensus", "vggss": "union"}
from sslprop.errors import SSLPropError
from sslprop.utils import atomic_write_bytes, atomic_write_json

KINDS = ("flickr", "vggss", "music", "ave", "folder")
VIDEO_EXTS = (".mp4", ".webm", ".avi", ".mkv", ".mov")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")
AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
REPORT = "import_report.json"
CACHE_DIR = ".import"  # per-sample records of finished samples (resume)
FLICKR_FRAME_SIZE = 256  # Flickr-SoundNet boxes are pixels of a 256 x 256 frame
AVE_CLIP_SECONDS = 10.0  # every AVE video is a 10 s clip
DEFAULT_SPLIT = {"flickr": "test", "vggss": "test", "music": "test", "ave": "test", "folder": "train"}
# Audio kept per sample by default (s; 0 = the whole track): the whole clip where the data set's
# clips are short (Flickr 20 s, VGG-SS and AVE 10 s); 3 s around each MUSIC frame (13k frames of
# minutes-long videos; the model's clip is 0.96 s).
DEFAULT_AUDIO_SECONDS = {"flickr": 0.0, "vggss": 0.0, "music": 3.0, "ave": 0.0, "folder": 0.0}
# DSOL's MUSIC category ids (eval.py / test_stage_two.py `duetkeys`): the detector's classes.
MUSIC_CATEGORIES = {1: "cello", 3: "acoustic_guitar", 8: "saxophone", 10: "trumpet", 11: "violin", 12: "flute", 13: "accordion"}

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


def _media_root(src: Path, opts: ImportOptions) -> Path:
    root = Path(opts.media) if opts.media else (src if src.is_dir() else src.parent)
    if not root.is_dir():
        raise SSLPropError(f"{root}: media folder not found")
    return root


def _safe_name(text: str) -> str:
    """A file-system-safe name: characters other than letters, digits, '-', '_' and '.' become '_'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return name or "x"


def read_id_list(path: str | os.PathLike) -> set[str]:
    """Ids from a list file: the first comma- or space-separated column of each line, extension dropped.

    Reads `flickr_test.csv` (``10000130166,202``), Senocak's ``2432219254.png`` list and
    `vggss_test.csv` alike.
    """
    p = Path(path)
    if not p.is_file():
        raise SSLPropError(f"{p}: id list not found")
    ids = set()
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        first = re.split(r"[,\s]+", line.strip())[0] if line.strip() else ""
        if first:
            ids.add(re.sub(r"\.(png|jpe?g|wav|mp4|xml)$", "", first, flags=re.IGNORECASE))
    if not ids:
        raise SSLPropError(f"{p}: id list holds no ids")
    return ids


# ----------------------------------------------------------------------------- Flickr-SoundNet


def _find_dir(src: Path, name: str) -> Path | None:
    """`src/name`, matched case-insensitively."""
    if (src / name).is_dir():
        return src / name
    return next((p for p in sorted(src.iterdir()) if p.is_dir() and p.name.lower() == name.lower()), None)


def _clamp_box(box: tuple[float, ...]) -> tuple[float, float, float, float] | None:
    """Clamp a fractional box to [0, 1] (the frame; VGG-SS's reference takes max(v, 0)); None when it is left inverted.

    An inverted box (x2 < x1 or y2 < y1) is empty in the references' ``map[y1:y2, x1:x2] = 1``.
    """
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in box)
    return (x1, y1, x2, y2) if x2 >= x1 and y2 >= y1 else None


def _problem_lines(problems: Iterable[Any]) -> list[str]:
    return [str(p) for p in problems]


def plan_flickr(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One job per ``Annotations/<id>.xml``: the still frame ``<id>.jpg`` and the audio ``<id>.wav`` (or mp3, flac).

    SRC is the Flickr-SoundNet test folder; the frame and audio are found by file name
    anywhere under the media folder (shallowest first), which covers LVS / EZ-VSL's
    ``frames/<id>.jpg`` + ``audio/<id>.wav`` and the original ``Data/.../<id>.jpg`` +
    ``<id>.wav`` (or .mp3). The frame is stored resized to 256 x 256 so that the XML's pixels
    (of a 256 x 256 frame) are pixels of the stored frame; its time is the middle of the
    stored audio. Each box is stored as one annotator: the XML does not name its annotators
    (the index of the root child holding each box is kept in meta["box_groups"]), and the
    reference consensus sums every box, halves and clips at 1 whatever the grouping.
    """
    from sslprop.data.annotations import read_flickr_xml

    ann_dir = _find_dir(src, "Annotations") if src.is_dir() else None
    if ann_dir is None:
        raise SSLPropError(f"{src}: no Annotations/ folder here (expected Flickr-SoundNet: Annotations/<id>.xml with frames and audio)")
    files = sorted(p for p in ann_dir.iterdir() if p.is_file() and p.suffix.lower() == ".xml")
    if not files:
        raise SSLPropError(f"{ann_dir}: no <id>.xml files in this folder")
    index = index_media(_media_root(src, opts), exclude=[out, ann_dir])
    split = opts.split or DEFAULT_SPLIT["flickr"]
    size = FLICKR_FRAME_SIZE
    jobs = []
    for f in files:
        sid = f.name.split(".")[0]
        job = Job(id=sid, video_id=sid, split=split, media_key=_safe_name(sid), resize=(size, size), meta={"annotation": f.name})
        try:
            ann, problems = read_flickr_xml(f)
        except SSLPropError as e:
            job.problem = (ANNOTATION, str(e))
            jobs.append(job)
            continue
        report.warnings.extend(_problem_lines(problems))
        annotators: list[list[NormBox]] = []
        for box in ann.boxes:
            c = _clamp_box(tuple(v / size for v in box))
            if c is None:
                report.warnings.append(f"{f}: box {list(box)} is inverted (empty in the reference's slicing); dropped")
            else:
                annotators.append([c])
        if not annotators:
            report.warnings.append(f"{f}: no usable box; kept with one annotator and no box (the reference scores it 0)")
        job.annotations = [FrameAnn(annotators=annotators or [[]], onscreen=True)]
        job.meta["box_groups"] = list(ann.groups)
        image = index.find("images", sid)
        job.images = [image or index.root / "frames" / f"{sid}.jpg"]
        job.audio = index.find("audio", sid) or index.root / "audio" / f"{sid}.wav"
        jobs.append(job)
    return jobs


# ----------------------------------------------------------------------------- VGG-SS


def vggsound_clip_name(file: str) -> str | None:
    """VGG-SS ``<ytid>_<start>`` (start in s, six digits) -> the ``<ytid>_<start ms>_<end ms>`` name of its 10 s clip."""
    m = re.fullmatch(r"(.{11})_(\d+)", file)
    if m is None:
        return None
    start = int(m.group(2))
    return f"{m.group(1)}_{start * 1000}_{(start + 10) * 1000}"


def plan_vggss(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One job per vggss.json entry: the annotated middle frame of the 10 s clip and its audio.

    SRC is a folder holding vggss.json (or the file itself). Media, found by file name under
    the media folder: LVS's pre-extracted ``frames/<file>.jpg`` + ``audio/<file>.wav`` (used
    when both exist; the frame sits in the middle of the audio), else the clip video
    ``<file>.mp4`` or ``<ytid>_<start ms>_<end ms>.mp4`` (any video extension), whose middle
    frame (duration / 2) is taken, as VGG-SS annotates the centre frame. Boxes are clamped
    to [0, 1] as the reference does (max(v, 0)); a box left inverted by a garbage value is
    dropped, as it adds nothing to the reference's ground truth, and reported.
    """
    from sslprop.data.annotations import read_vggss

    ann_file = src / "vggss.json" if src.is_dir() else src
    if not ann_file.is_file():
        raise SSLPropError(f"{src}: no vggss.json here (expected VGG-SS: vggss.json with frames/audio or videos)")
    anns, problems = read_vggss(ann_file)
    report.warnings.extend(_problem_lines(problems))
    index = index_media(_media_root(src, opts), exclude=[out])
    split = opts.split or DEFAULT_SPLIT["vggss"]
    jobs = []
    for fid, ann in anns.items():
        m = re.fullmatch(r"(.{11})_(\d+)", fid)
        job = Job(id=fid, video_id=m.group(1) if m else fid, split=split, media_key=_safe_name(fid), classes=[ann.label] if ann.label else [], meta={"class": ann.label})
        boxes = []
        for j, b in enumerate(ann.boxes):
            c = _clamp_box(b)
            if c is None:
                report.warnings.append(f"{ann_file.name} {fid} box {j}: {list(b)} is empty after clamping to [0, 1]; dropped")
            else:
                boxes.append(c)
        if not boxes:
            report.warnings.append(f"{ann_file.name} {fid}: no box left; kept with one annotator and no box (the reference scores it 0)")
        job.annotations = [FrameAnn(annotators=[boxes], onscreen=True)]
        image, audio = index.find("images", fid), index.find("audio", fid)
        clip = vggsound_clip_name(fid)
        video = index.find("videos", fid, *([clip] if clip else []))
        if image is not None and audio is not None:
            job.images, job.audio = [image], audio
        elif video is not None:
            job.video, job.timing = video, "middle"
        else:
            job.problem = (MISSING, f"{index.root}: no frames/{fid}.jpg + audio/{fid}.wav and no video {fid}.mp4" + (f" or {clip}.mp4" if clip else ""))
        jobs.append(job)
    return jobs


# ----------------------------------------------------------------------------- MUSIC


def _music_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    names = ("solotest.json", "duettest.json", "music_solotest.json", "music_duettest.json")
    found = [src / n for n in names if (src / n).is_file()]
    if not found:
        raise SSLPropError(f"{src}: no solotest.json or duettest.json here (expected DSOL's MUSIC test boxes with the videos)")
    return found


def plan_music(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One job per annotated frame of DSOL's solotest.json / duettest.json (a folder may hold both).

    A key ``<video>/frame_<s>/<i>.jpg`` names frame number i (0-based, decode order) of
    ``<video>.mp4``, as DSOL's cut_videos.py extracted it. With the video under the media
    folder the frame is decoded at (i + 0.5) / fps and the audio is the video's track (or
    ``<video>.flac`` / ``.wav`` beside it); without it, DSOL's extracted frame
    ``video_frames/<key>`` (or ``<key>``) is used with the audio file, at time s + 0.5 (DSOL
    pairs frame_<s> with audio second s). Each box (normbox x, y, w, h) becomes a sounding
    object named by DSOL's category list and one annotator's box. Entries without a box are
    skipped and reported (DSOL's evaluation skips them too). Jobs are ordered by video, then frame.
    """
    from sslprop.data.annotations import read_music

    files = _music_files(src)
    root = _media_root(src, opts)
    index = index_media(root, exclude=[out])
    split = opts.split or DEFAULT_SPLIT["music"]
    keyed = []
    for f in files:
        anns, problems = read_music(f)
        report.warnings.extend(_problem_lines(p for p in problems if p.kind != "no_boxes"))
        subset = "duet" if "duet" in f.name else "solo" if "solo" in f.name else f.stem
        keyed.extend((f, subset, key, ann) for key, ann in anns.items())
    parsed = []
    for f, subset, key, ann in keyed:
        m = re.fullmatch(r"(?P<video>[^/]+)/frame_(?P<sec>\d+)/(?P<idx>\d+)\.\w+", key)
        parsed.append(((m.group("video"), int(m.group("idx"))) if m else (key, -1), f, subset, key, ann, m))
    parsed.sort(key=lambda t: t[0])
    jobs = []
    for (video, idx), f, subset, key, ann, m in parsed:
        sid = f"{video}_f{idx:05d}" if m else _safe_name(key)
        job = Job(id=sid, video_id=video, split=split, media_key=f"{_safe_name(video)}/{idx:05d}", meta={"key": key, "subset": subset, "annotation": f.name})
        if m is None:
            job.problem = (ANNOTATION, f"{f} entry {key!r}: key is not <video>/frame_<s>/<i>.jpg")
            jobs.append(job)
            continue
        if not ann.boxes:
            job.problem = (ANNOTATION, f"{f} entry {key!r}: no box (DSOL's evaluation skips it)")
            jobs.append(job)
            continue
        boxes: list[NormBox] = [(b.normbox[0], b.normbox[1], b.normbox[0] + b.normbox[2], b.normbox[1] + b.normbox[3]) for b in ann.boxes]
        names = [MUSIC_CATEGORIES.get(b.category, str(b.category)) for b in ann.boxes]
        job.annotations = [FrameAnn(annotators=[boxes], objects=[(b, n, True) for b, n in zip(boxes, names)], onscreen=True)]
        job.classes = sorted(set(names))
        job.meta["native_size"] = [ann.width, ann.height]
        video_file = index.find("videos", video)
        audio_file = index.find("audio", video)
        still = next((p for p in (root / "video_frames" / key, root / key) if p.is_file()), None)
        if video_file is not None:
            job.video, job.audio, job.timing, job.frame_indices = video_file, audio_file, "index", [idx]
        elif still is not None:
            job.images, job.times, job.audio = [still], [int(m.group("sec")) + 0.5], audio_file or root / "audio" / f"{video}.flac"
        else:
            job.problem = (MISSING, f"{root}: no video {video}.mp4 and no extracted frame video_frames/{key}")
        jobs.append(job)
    return jobs


# ----------------------------------------------------------------------------- AVE


@dataclass(frozen=True)
class AveRow:
    """One row of AVE's Annotations.txt: an audio-visual event [start, end) s in a 10 s video."""

    category: str
    video_id: str
    quality: str
    start: int
    end: int
    line: int


def read_ave_annotations(path: str | os.PathLike) -> tuple[list[AveRow], list[str]]:
    """Parse AVE's ``Category&VideoID&Quality&StartTime&EndTime`` rows (a header line is optional).

    Returns the rows that parse and one line per problem (``<path>:<line>: ...``): a row
    without five fields, non-integer times, times outside [0, 10] or end < start. A
    zero-length event (start == end) parses; its video has no on-screen frame.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise SSLPropError(f"{p}: cannot read AVE annotations ({type(e).__name__})") from None
    rows, problems = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [x.strip() for x in line.split("&")]
        if lineno == 1 and parts[:2] == ["Category", "VideoID"]:
            continue
        if len(parts) != 5:
            problems.append(f"{p}:{lineno}: expected 5 '&'-separated fields, got {len(parts)}")
            continue
        try:
            start, end = int(parts[3]), int(parts[4])
        except ValueError:
            problems.append(f"{p}:{lineno}: start/end times {parts[3]!r}, {parts[4]!r} are not integers")
            continue
        if not (0 <= start <= end <= AVE_CLIP_SECONDS):
            problems.append(f"{p}:{lineno}: event [{start}, {end}) is not inside the 10 s clip")
            continue
        rows.append(AveRow(parts[0], parts[1], parts[2], start, end, lineno))
    return rows, problems


def _ave_split_files(folder: Path) -> dict[tuple[str, int, int], str]:
    """(VideoID, start, end) -> split from AVE's trainSet/valSet/testSet.txt where they exist (val -> train)."""
    out: dict[tuple[str, int, int], str] = {}
    for name, split in (("trainSet.txt", "train"), ("valSet.txt", "train"), ("testSet.txt", "test")):
        if (folder / name).is_file():
            rows, _ = read_ave_annotations(folder / name)
            out.update({(r.video_id, r.start, r.end): split for r in rows})
    return out


def plan_ave(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One job per row of Annotations.txt: frames of the video at `fps`, on-screen inside the event.

    SRC is the AVE folder (holding Annotations.txt, or annotations.txt) or the file itself;
    videos are `<VideoID>.mp4` anywhere under the media folder (AVE ships them in AVE/).
    A video annotated by several rows (AVE has 45 such) gives one sample per row, ids
    `<VideoID>`, `<VideoID>_2`, ...; they share the media files.
    """
    ann = src
    if src.is_dir():
        ann = next((src / n for n in ("Annotations.txt", "annotations.txt") if (src / n).is_file()), src / "Annotations.txt")
    if not ann.is_file():
        raise SSLPropError(f"{src}: no Annotations.txt here (expected AVE: Annotations.txt and AVE/<VideoID>.mp4)")
    rows, problems = read_ave_annotations(ann)
    if not rows and problems:
        raise SSLPropError(f"{ann}: no row parses as Category&VideoID&Quality&StartTime&EndTime ({problems[0]})")
    report.warnings.extend(problems)
    splits = _ave_split_files(ann.parent)
    index = index_media(_media_root(src, opts), exclude=[out])
    seen: dict[str, int] = {}
    jobs = []
    for r in rows:
        seen[r.video_id] = seen.get(r.video_id, 0) + 1
        sid = r.video_id if seen[r.video_id] == 1 else f"{r.video_id}_{seen[r.video_id]}"
        if seen[r.video_id] == 2:
            report.warnings.append(f"{ann}:{r.line}: video {r.video_id} is annotated by more than one row; one sample per row")
        if r.start == r.end:
            report.warnings.append(f"{ann}:{r.line}: zero-length event [{r.start}, {r.end}) in {r.video_id}: every frame is off-screen")
        split = opts.split or splits.get((r.video_id, r.start, r.end), DEFAULT_SPLIT["ave"])
        jobs.append(
            Job(
                id=sid,
                video_id=r.video_id,
                split=split,
                media_key=_safe_name(r.video_id),
                video=index.find("videos", r.video_id) or index.root / "AVE" / f"{r.video_id}.mp4",
                timing="fps",
                event=(float(r.start), float(r.end)),
                classes=[r.category],
                meta={"category": r.category, "event": [r.start, r.end], "quality": r.quality, "row": r.line},
            )
        )
    return jobs


# ----------------------------------------------------------------------------- folder


def plan_folder(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One unannotated job per video file under SRC (mp4, webm, avi, mkv, mov; subfolders too), frames at `fps`."""
    if not src.is_dir():
        raise SSLPropError(f"{src}: not a folder (`import folder` reads every video under a folder)")
    index = index_media(src, exclude=[out])
    videos = sorted((p for paths in index.videos.values() for p in paths), key=lambda p: str(p.relative_to(src)))
    if not videos:
        raise SSLPropError(f"{src}: no video files here ({', '.join(VIDEO_EXTS)})")
    jobs, used = [], set()
    for p in videos:
        rel = p.relative_to(src)
        key = _safe_name("_".join(rel.with_suffix("").parts))
        if key in used:  # two files differing only in extension or unsafe characters
            key = f"{key}_{hashlib.sha1(str(rel).encode()).hexdigest()[:8]}"
        used.add(key)
        jobs.append(Job(id=key, video_id=key, split=opts.split or DEFAULT_SPLIT["folder"], media_key=key, video=p, timing="fps", meta={"file": str(rel)}))
    return jobs


PLANNERS: dict[str, Callable[[Path, ImportOptions, ImportReport, Path], list[Job]]] = {
    "flickr": plan_flickr,
    "vggss": plan_vggss,
    "music": plan_music,
    "ave": plan_ave,
    "folder": plan_folder,
}


# ----------------------------------------------------------------------------- building one sample


def encode_image(frame: np.ndarray, image_format: str) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG (quality 95) or PNG bytes (the same input gives the same bytes)."""
    import cv2

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
    import cv2

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
    from sslprop.data import video as V

    wave = load_audio(path, sample_rate)
    shift = int(round(V._audio_offset(Path(path)) * sample_rate))
    if shift > 0:  # the audio starts after the video: pad its front
        wave = torch.cat([wave.new_zeros(shift), wave])
    elif shift < 0:
        wave = wave[-shift:]
    return wave


def _load_job_audio(job: Job, sample_rate: int) -> tuple[torch.Tensor, Path]:
    """The job's audio, float32 Tensor[T] at `sample_rate`, sample round(t * rate) heard at source time t."""
    if job.audio is not None:
        if not job.audio.is_file():
            raise SkipSample(MISSING, f"{job.audio}: audio file not found")
        st = job.audio.stat()
        return _stage(CORRUPT, _decoded_audio, str(job.audio), (st.st_size, st.st_mtime_ns), sample_rate, False), job.audio
    assert job.video is not None
    from sslprop.data import video as V

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
    from sslprop.data import video as V

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
        "opts": [opts.fps, opts.audio_seconds, opts.image_format, opts.min_frame_size, opts.sample_rate],
    }
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()


def _record_path(out: Path, job: Job) -> Path:
    return out / CACHE_DIR / f"{_safe_name(job.id)}-{hashlib.sha1(job.id.encode()).hexdigest()[:8]}.json"


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


def _run_job(job: Job, out: Path, opts: ImportOptions) -> tuple[Sample | None, Skipped | None, bool]:
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


# ----------------------------------------------------------------------------- the import


def _check_options(kind: str, opts: ImportOptions) -> None:
    if kind not in KINDS:
        raise SSLPropError(f"import kind {kind!r}: choose from {', '.join(KINDS)}")
    if not opts.fps > 0:
        raise SSLPropError(f"--fps {opts.fps}: must be positive")
    if opts.max_samples is not None and opts.max_samples < 1:
        raise SSLPropError(f"--max-samples {opts.max_samples}: must be at least 1")
    if opts.split not in (None, "train", "test"):
        raise SSLPropError(f"--split {opts.split}: choose train or test")
    if opts.audio_seconds is not None and opts.audio_seconds < 0:
        raise SSLPropError(f"--audio-seconds {opts.audio_seconds}: must be >= 0 (0 keeps the whole track)")
    if opts.image_format not in ("jpg", "png"):
        raise SSLPropError(f"--image-format {opts.image_format}: choose jpg or png")
    if opts.workers < 1:
        raise SSLPropError(f"--workers {opts.workers}: must be at least 1")


def plan(kind: str, src: str | os.PathLike, out: str | os.PathLike, opts: ImportOptions, report: ImportReport) -> list[Job]:
    """The jobs of an import (annotation files only; no media decoded), filtered by `ids` and `max_samples`."""
    src_p = Path(src)
    if not src_p.exists():
        raise SSLPropError(f"{src_p}: source not found")
    jobs = PLANNERS[kind](src_p, opts, report, Path(out))
    if opts.ids:
        keep = read_id_list(opts.ids)
        jobs = [j for j in jobs if j.id in keep or j.video_id in keep]
    if opts.max_samples is not None:
        jobs = jobs[: opts.max_samples]
    return jobs


def _iter_results(jobs: list[Job], out: Path, opts: ImportOptions) -> Iterator[tuple[Sample | None, Skipped | None, bool]]:
    if opts.workers == 1:
        for job in jobs:
            yield _run_job(job, out, opts)
        return
    with ThreadPoolExecutor(max_workers=opts.workers) as pool:
        yield from pool.map(lambda j: _run_job(j, out, opts), jobs)


def import_dataset(kind: str, src: str | os.PathLike, out: str | os.PathLike, opts: ImportOptions | None = None, progress: bool = True) -> ImportReport:
    """Import data set `src` of `kind` into folder `out`; return the report (also written to out/import_report.json).

    Samples whose media fail are skipped and listed in the report; a source that is not
    the expected layout at all raises `SSLPropError`. The manifest and dataset.json are
    written last, so an interrupted import leaves no manifest of a half-written set.
    """
    from tqdm import tqdm

    opts = opts or ImportOptions()
    _check_options(kind, opts)
    if opts.audio_seconds is None:
        opts = replace(opts, audio_seconds=DEFAULT_AUDIO_SECONDS[kind])
    out_p = Path(out)
    src_p = Path(src)
    report = ImportReport(kind=kind, source=str(src_p.resolve()), out=str(out_p))
    jobs = plan(kind, src_p, out_p, opts, report)
    report.planned = len(jobs)
    out_p.mkdir(parents=True, exist_ok=True)
    samples = []
    bar = tqdm(total=len(jobs), desc=f"import {kind}", unit="sample", disable=not progress)
    for sample, skipped, reused in _iter_results(jobs, out_p, opts):
        if sample is not None:
            samples.append(sample)
            report.written += 1
            report.reused += int(reused)
        else:
            assert skipped is not None
            report.skipped.append(skipped)
        bar.update(1)
    bar.close()
    atomic_write_json(out_p / REPORT, report.to_dict())
    info = {
        "name": out_p.name,
        "source": {"importer": kind, "path": str(src_p.resolve()), "media": str(Path(opts.media).resolve()) if opts.media else None},
        "options": {k: v for k, v in asdict(opts).items() if k != "workers"},
        "notes": f"imported by `python -m sslprop import {kind}`; {len(report.skipped)} samples skipped (see {REPORT})",
    }
    if kind in GT_RULES:
        info["gt_rule"] = GT_RULES[kind]
    write_manifest(out_p, samples, info)
    return report


# ----------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `python -m sslprop import`."""
    parser.add_argument("kind", choices=KINDS, help="which data set SRC holds")
    parser.add_argument("src", help="the data set as distributed (a folder, or the annotation file itself)")
    parser.add_argument("--out", required=True, help="folder to write the sslprop data set into")
    parser.add_argument("--media", default=None, help="folder holding videos/frames/audio when not beside the annotations")
    parser.add_argument("--fps", type=float, default=1.0, help="frames per second sampled from videos (ave, folder; default 1)")
    parser.add_argument("--max-samples", type=int, default=None, help="import at most this many samples (the first ones)")
    parser.add_argument("--split", choices=("train", "test"), default=None, help="put every sample in this split (default: per data set)")
    parser.add_argument("--ids", default=None, help="keep only the ids listed in this file (first column; e.g. flickr_test.csv)")
    parser.add_argument(
        "--audio-seconds", type=float, default=None,
        help="seconds of audio kept around the frames (0: whole track; default: whole track, MUSIC 3 s)",
    )
    parser.add_argument("--image-format", choices=("jpg", "png"), default="jpg", help="frame file format (jpg at quality 95, or png)")
    parser.add_argument("--min-frame-size", type=int, default=DataConfig().min_frame_size, help="skip frames smaller than this on either side (px)")
    parser.add_argument("--workers", type=int, default=1, help="samples decoded in parallel (threads)")


def main(args: argparse.Namespace) -> int:
    """Run the import; print a one-line summary. Exit status 0 when at least one sample was written, else 1."""
    opts = ImportOptions(
        fps=args.fps,
        max_samples=args.max_samples,
        split=args.split,
        audio_seconds=args.audio_seconds,
        image_format=args.image_format,
        min_frame_size=args.min_frame_size,
        workers=args.workers,
        media=args.media,
        ids=args.ids,
    )
    report = import_dataset(args.kind, args.src, args.out, opts, progress=True)
    print(report.summary())
    return 0 if report.written else 1
