"""The on-disk sample format shared by the benchmark generator, the real-data readers and the loaders.

A data set is a folder::

    DIR/
      dataset.json        # what the set is: name, source (preset or importer), seed, notes, counts
      manifest.jsonl      # one JSON object per sample (see `Sample`), in a fixed order
      frames/...          # PNG or JPEG frames, paths relative to DIR
      audio/...           # 16 kHz mono 16-bit PCM WAV files, paths relative to DIR
      proposals/...       # the Selective Search cache (`sslprop proposals DIR`), made later
      import_report.json  # importers only: samples skipped and why

Boxes everywhere are absolute pixels of the stored frame, ``(x1, y1, x2, y2)`` (xyxy).
Class names are stored for analysis only; no method trains on them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sslprop.errors import SSLPropError
from sslprop.utils import atomic_write_json, atomic_write_text

MANIFEST = "manifest.jsonl"
DATASET_INFO = "dataset.json"
FORMAT_VERSION = 1

Box = list[float]  # [x1, y1, x2, y2], absolute pixels of the stored frame


@dataclass
class ObjectAnn:
    """One object visible in a frame: its box, its class (analysis only) and whether it sounds."""

    box: Box
    label: str = ""
    sounding: bool = True


@dataclass
class Frame:
    """One frame I_n of a sample and what is annotated on it.

    path:       image file, relative to the data set folder
    time:       seconds from the start of the sample's audio file; the clip A_n is centred here
    width, height: size of the stored image, the pixel space of every box below
    annotators: every annotator's boxes of the sounding source(s): annotators[a] = [box, ...];
                empty when the frame has no localisation ground truth
    objects:    every known object, sounding or silent (synthetic sets: exact; MUSIC: detector boxes)
    onscreen:   True if the sound's source is visible in this frame, False if off-screen, None if unknown
    """

    path: str
    time: float
    width: int
    height: int
    annotators: list[list[Box]] = field(default_factory=list)
    objects: list[ObjectAnn] = field(default_factory=list)
    onscreen: bool | None = None


@dataclass
class Sample:
    """One sample: an id, its video, N frames with their timing, the audio, and annotations.

    id:        unique in the data set (also the key of predictions and proposals)
    video_id:  samples of one video share it; negatives are drawn from other videos
    split:     "train" or "test"
    audio:     WAV file relative to the data set folder (16 kHz mono int16)
    frames:    the N frames, in time order
    classes:   class names of what sounds (analysis only)
    meta:      free-form extras kept by an importer (original ids, source paths, ...)
    """

    id: str
    video_id: str
    split: str
    audio: str
    frames: list[Frame]
    classes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def onscreen(self) -> bool | None:
        """On-screen label of the sample: True if any frame is on-screen, None if no frame says."""
        labels = [f.onscreen for f in self.frames if f.onscreen is not None]
        return any(labels) if labels else None

    def to_json(self) -> str:
        """One manifest line (keys sorted, so equal samples give equal bytes)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def _check_box(box: Any, where: str) -> Box:
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        raise SSLPropError(f"{where}: a box must be [x1, y1, x2, y2], got {box!r}")
    try:
        b = [float(v) for v in box]
    except (TypeError, ValueError):
        raise SSLPropError(f"{where}: box coordinates must be numbers, got {box!r}") from None
    if not all(math.isfinite(v) for v in b):
        raise SSLPropError(f"{where}: box has a non-finite coordinate {box!r}")
    if b[2] < b[0] or b[3] < b[1]:
        raise SSLPropError(f"{where}: box {box!r} is not xyxy (x2 < x1 or y2 < y1)")
    return b


def sample_from_dict(d: Any, where: str = "sample") -> Sample:
    """Build and validate a `Sample` from its JSON object; `where` names the place for errors."""
    if not isinstance(d, dict):
        raise SSLPropError(f"{where}: expected a JSON object, got {type(d).__name__}")
    for key in ("id", "video_id", "split", "audio", "frames"):
        if key not in d:
            raise SSLPropError(f"{where}: missing key '{key}'")
    if d["split"] not in ("train", "test"):
        raise SSLPropError(f"{where}: split must be 'train' or 'test', got {d['split']!r}")
    if not isinstance(d["frames"], list) or not d["frames"]:
        raise SSLPropError(f"{where}: 'frames' must be a non-empty list")
    frames = []
    for i, f in enumerate(d["frames"]):
        fw = f"{where} frame {i}"
        if not isinstance(f, dict):
            raise SSLPropError(f"{fw}: expected a JSON object")
        for key in ("path", "time", "width", "height"):
            if key not in f:
                raise SSLPropError(f"{fw}: missing key '{key}'")
        try:
            width, height, time = int(f["width"]), int(f["height"]), float(f["time"])
        except (TypeError, ValueError):
            raise SSLPropError(f"{fw}: width, height and time must be numbers") from None
        annotators = [[_check_box(b, f"{fw} annotator {a}") for b in boxes] for a, boxes in enumerate(f.get("annotators", []))]
        objects = []
        for j, o in enumerate(f.get("objects", [])):
            if not isinstance(o, dict) or "box" not in o:
                raise SSLPropError(f"{fw} object {j}: expected an object with a 'box'")
            objects.append(ObjectAnn(_check_box(o["box"], f"{fw} object {j}"), str(o.get("label", "")), bool(o.get("sounding", True))))
        onscreen = f.get("onscreen")
        if onscreen is not None and not isinstance(onscreen, bool):
            raise SSLPropError(f"{fw}: onscreen must be true, false or null")
        frames.append(Frame(str(f["path"]), time, width, height, annotators, objects, onscreen))
    return Sample(
        id=str(d["id"]),
        video_id=str(d["video_id"]),
        split=d["split"],
        audio=str(d["audio"]),
        frames=frames,
        classes=[str(c) for c in d.get("classes", [])],
        meta=dict(d.get("meta", {})),
    )


def write_manifest(root: str | os.PathLike, samples: Iterable[Sample], info: dict[str, Any]) -> Path:
    """Write `manifest.jsonl` and `dataset.json` into `root` (atomically, stable bytes)."""

    root = Path(root)
    # Validate and canonicalise (ints -> floats in boxes, ...) so equal content gives equal bytes.
    samples = [sample_from_dict(json.loads(s.to_json()), f"sample {s.id}") for s in samples]
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise SSLPropError(f"{root}: duplicate sample ids in the manifest")
    atomic_write_text(root / MANIFEST, "".join(s.to_json() + "\n" for s in samples))
    info = dict(info)
    info.setdefault("format_version", FORMAT_VERSION)
    info["num_samples"] = len(samples)
    info["splits"] = {sp: sum(s.split == sp for s in samples) for sp in ("train", "test")}
    atomic_write_json(root / DATASET_INFO, info)
    return root / MANIFEST


def iter_manifest(root: str | os.PathLike) -> Iterator[Sample]:
    """Yield the samples of `root/manifest.jsonl`; a row that does not parse is a one-line error."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise SSLPropError(f"{path}: no manifest here (is {root} an sslprop data set? see `python -m sslprop synth --help`)")
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise SSLPropError(f"{path}:{lineno}: row does not parse as JSON ({e.msg})") from None
            sample = sample_from_dict(d, f"{path}:{lineno}")
            if sample.id in seen:
                raise SSLPropError(f"{path}:{lineno}: sample id {sample.id!r} again (first on line {seen[sample.id]}): "
                                   "every sample needs its own id")
            seen[sample.id] = lineno
            yield sample


def read_manifest(root: str | os.PathLike, split: str | None = None) -> list[Sample]:
    """All samples of a data set, optionally only one split ("train" or "test")."""
    if split not in (None, "train", "test", "all"):
        raise SSLPropError(f"split must be 'train', 'test' or 'all', got {split!r}")
    samples = list(iter_manifest(root))
    if split in (None, "all"):
        return samples
    return [s for s in samples if s.split == split]


def frame_key(sample_id: str, frame_index: int, num_frames: int) -> str:
    """The prediction key of one frame: the sample id for a single-frame sample, else ``"<id>/<index>"``."""
    return sample_id if num_frames == 1 else f"{sample_id}/{frame_index}"


def read_info(root: str | os.PathLike) -> dict[str, Any]:
    """The data set's `dataset.json` (empty dict if absent)."""
    path = Path(root) / DATASET_INFO
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SSLPropError(f"{path}: does not parse as JSON ({e.msg})") from None
