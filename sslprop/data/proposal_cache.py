"""The proposal cache of a data set: Selective Search boxes per frame, stored once per setting, read by the dataset.

Filled by `sslprop.data.proposals` (the search and its process pool); read here without OpenCV."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from sslprop.errors import SSLPropError
from sslprop.utils import atomic_write_bytes, atomic_write_json

SS_MODES = ("fast", "quality")


CACHE_VERSION = 2  # bump when the stored boxes of one setting would change (2: the fast mode's thresholds k = 50-100)


def check_relpath(frame_relpath: str | os.PathLike) -> PurePosixPath:
    rel = PurePosixPath(Path(frame_relpath).as_posix())
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise SSLPropError(f"{frame_relpath}: a frame path must be relative to the data set folder, without '..'")
    return rel


class ProposalCache:
    """Selective Search boxes of the frames of one data set, one .npy file per frame.

    Layout: ``root/proposals/<key>/<frame path>.npy`` holding np.ndarray (P, 4) float32
    (absolute pixels xyxy of the stored frame), plus ``index.json`` (settings and proposals
    per frame) and ``report.json`` (the last extraction run). The key encodes every setting
    that changes the boxes (mode, max_side, min_size, cache version), e.g.
    ``ss-fast-full-min4-v2``, so different settings never mix. Files are written atomically,
    so an interrupted run leaves whole files only and a rerun skips them.
    """

    def __init__(self, root: str | os.PathLike, mode: str = "fast", max_side: int | None = None, min_size: int = 4):
        if mode not in SS_MODES:
            raise SSLPropError(f"unknown Selective Search mode {mode!r} (choose from {', '.join(SS_MODES)})")
        if max_side is not None and max_side < 8:
            raise SSLPropError(f"--max-side {max_side}: must be at least 8 pixels")
        self.root = Path(root)
        self.mode = mode
        self.max_side = max_side
        self.min_size = min_size

    @property
    def key(self) -> str:
        """Folder name that encodes the settings, e.g. ``ss-fast-full-min4-v2`` or ``ss-quality-500-min4-v1``."""
        side = "full" if self.max_side is None else str(self.max_side)
        return f"ss-{self.mode}-{side}-min{self.min_size}-v{CACHE_VERSION}"

    @property
    def dir(self) -> Path:
        return self.root / "proposals" / self.key

    @property
    def settings(self) -> dict[str, Any]:
        return {"mode": self.mode, "max_side": self.max_side, "min_size": self.min_size, "version": CACHE_VERSION}

    def command(self) -> str:
        """The command that fills this cache."""
        flags = "" if self.mode == "fast" else f" --mode {self.mode}"
        flags += "" if self.max_side is None else f" --max-side {self.max_side}"
        flags += "" if self.min_size == 4 else f" --min-size {self.min_size}"
        return f"python -m sslprop proposals {self.root}{flags}"

    def path(self, frame_relpath: str | os.PathLike) -> Path:
        """Where the boxes of the frame `frame_relpath` (relative to the data set folder) are stored."""
        return self.dir / (str(check_relpath(frame_relpath)) + ".npy")

    def has(self, frame_relpath: str | os.PathLike) -> bool:
        return self.path(frame_relpath).is_file()

    def _load(self, path: Path) -> tuple[np.ndarray | None, str | None]:
        """(boxes, None) of a sound cache file, or (None, what is wrong with it)."""
        if path.stat().st_size == 0:
            return None, "empty file"
        try:
            boxes = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            return None, f"unreadable: {type(e).__name__}"
        if not isinstance(boxes, np.ndarray) or boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.dtype != np.float32:
            return None, f"not a (P, 4) float32 array: {getattr(boxes, 'dtype', '?')} {getattr(boxes, 'shape', '?')}"
        if not np.isfinite(boxes).all():
            return None, "non-finite values"
        return boxes, None

    def problem(self, frame_relpath: str | os.PathLike) -> str | None:
        """What is wrong with a frame's cache entry ("missing", "empty file", ...), or None when it is sound."""
        path = self.path(frame_relpath)
        if not path.is_file():
            return "missing"
        return self._load(path)[1]

    def get(self, frame_relpath: str | os.PathLike) -> np.ndarray:
        """The frame's boxes: np.ndarray (P, 4) float32, absolute pixels xyxy (P may be 0).

        A missing or broken entry (empty, unreadable, another shape, NaN) is a one-line error naming it
        and the command that (re)computes it: `python -m sslprop proposals` repairs broken entries.
        """
        path = self.path(frame_relpath)
        if not path.is_file():
            raise SSLPropError(f"{self.root / str(frame_relpath)}: no cached proposals in {self.dir} (run `{self.command()}`)")
        boxes, problem = self._load(path)
        if problem is not None:
            raise SSLPropError(f"{path}: broken proposal file ({problem}); run `{self.command()}` to recompute it")
        return boxes

    def put(self, frame_relpath: str | os.PathLike, boxes: np.ndarray) -> Path:
        """Store the frame's boxes (np.ndarray (P, 4), absolute pixels xyxy) atomically, as float32."""

        arr = np.asarray(boxes, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise SSLPropError(f"{frame_relpath}: proposals must be an array (P, 4), got shape {arr.shape}")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        path = self.path(frame_relpath)
        atomic_write_bytes(path, buf.getvalue())
        return path

    def count(self, frame_relpath: str | os.PathLike) -> int:
        """P, the number of cached boxes of a frame, read from the .npy header only."""
        path = self.path(frame_relpath)
        try:
            return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])
        except (OSError, ValueError) as e:
            raise SSLPropError(f"{path}: unreadable proposal file ({e}); delete it and run `{self.command()}`") from None

    def read_index(self) -> dict[str, Any]:
        """``index.json``: {"settings": ..., "opencv": version, "counts": {frame path: P}}; {} if absent."""
        path = self.dir / "index.json"
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise SSLPropError(f"{path}: does not parse as JSON ({e.msg}); delete it and run `{self.command()}`") from None

    def write_index(self, counts: dict[str, int]) -> Path:
        """Write ``index.json`` with the settings, the OpenCV version and the proposals per frame."""

        path = self.dir / "index.json"
        atomic_write_json(path, {"settings": self.settings, "opencv": cv2.__version__, "counts": counts})
        return path
