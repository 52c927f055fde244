"""Selective Search proposals for every frame of a data set: the search, its process pool, the resumable cache.

The `proposals` subcommand (filling the cache, and its bag statistics) is `sslprop.engine.proposals`.

The GRM, the scoring of these boxes and the top-K selection the model runs on them are in
`sslprop.ops.grm`; box maths in `sslprop.ops.boxes`."""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from sslprop.data.format import read_manifest
from sslprop.data.images import read_image
from sslprop.data.proposal_cache import SS_MODES, ProposalCache, check_relpath
from sslprop.errors import SSLPropError
from sslprop.utils import atomic_write_json, folder_lock

# ---------------------------------------------------------------------------------------------
# Selective Search (OpenCV contrib)
# ---------------------------------------------------------------------------------------------

# The fast mode as Uijlings et al. (IJCV 2013) define it: HSV and Lab, graph segmentation thresholds k from 50 to
# 100. OpenCV's fast mode segments at k = base_k, base_k + inc_k and base_k + 2 inc_k, by default 150, 300 and 450,
# coarser than the paper's, so a frame gives about half the proposals; base_k 50, inc_k 25 (k = 50, 75, 100) gives
# bags of the paper's size at 192-224 px (docs/data.md, "Proposal bags"). sigma is OpenCV's (and the paper's) 0.8.
FAST_THRESHOLDS = (50, 25)  # OpenCV's base_k, inc_k of the fast mode
FAST_SIGMA = 0.8
# The longer side at which a frame of one's own video is searched (`localize`; importers store frames at it): where the
# fast mode gives bags of the paper's size on real photos (median 557 proposals on scikit-image's 17 photos at 224 px;
# 153 at OpenCV's default thresholds). The embedded benchmark's frames are stored at 192 px for the same reason.
SEARCH_SIDE = 224


@functools.lru_cache(maxsize=1)
def _libc_srand() -> Any:
    """The C library's `srand`, or None where it cannot be reached (then see `selective_search`)."""
    try:
        return ctypes.CDLL(None).srand
    except (OSError, TypeError, AttributeError):  # Windows: CDLL(None) is not the process namespace
        return None


def _selective_search_bgr(bgr: np.ndarray, mode: str, max_side: int | None, min_size: int) -> np.ndarray:
    """`selective_search` on a BGR uint8 image (what cv2.imread returns)."""

    if mode not in SS_MODES:
        raise SSLPropError(f"unknown Selective Search mode {mode!r} (choose from {', '.join(SS_MODES)})")
    if max_side is not None and max_side < 8:
        raise SSLPropError(f"--max-side {max_side}: must be at least 8 pixels")
    height, width = bgr.shape[:2]
    if min(height, width) < max(min_size, 2):
        raise SSLPropError(f"image of {width}x{height} pixels is too small for proposals of at least {min_size} pixels")
    small = bgr
    if max_side is not None and max(height, width) > max_side:
        scale = max_side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))  # (w, h) for cv2
        small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(np.ascontiguousarray(small))
    if mode == "fast":
        ss.switchToSelectiveSearchFast(*FAST_THRESHOLDS, FAST_SIGMA)
    else:
        ss.switchToSelectiveSearchQuality()
    srand = _libc_srand()
    if srand is not None:
        srand(0)  # OpenCV ranks regions with the C library's rand(): seed it for a reproducible order
    rects = np.asarray(ss.process(), dtype=np.float64).reshape(-1, 4)  # (P, 4) x, y, w, h
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)  # (P, 4) xyxy
    sx, sy = width / small.shape[1], height / small.shape[0]
    boxes = boxes * np.array([sx, sy, sx, sy])
    boxes = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
    keep = (boxes[:, 2] - boxes[:, 0] >= min_size) & (boxes[:, 3] - boxes[:, 1] >= min_size)
    boxes = boxes[keep]
    _, first = np.unique(boxes, axis=0, return_index=True)
    return boxes[np.sort(first)]


def selective_search(image: np.ndarray, mode: str = "fast", max_side: int | None = None, min_size: int = 4) -> np.ndarray:
    """Class-agnostic proposals of one image by Selective Search (OpenCV contrib, `cv2.ximgproc`).

    Args:
        image: np.ndarray (H, W, 3) uint8, RGB.
        mode: "fast" (HSV + Lab, segmentation thresholds k = 50, 75, 100: `FAST_THRESHOLDS`) or "quality"
            (OpenCV's: 5 colour spaces, 5 scales).
        max_side: if set and the image is larger, it is downscaled (INTER_AREA) so its longer
            side is `max_side` before the search, and the boxes are scaled back.
        min_size: boxes narrower or shorter than this (in the image's pixels) are dropped.
    Returns:
        np.ndarray (P, 4) float32, absolute pixels (x1, y1, x2, y2) of `image` (x2 = x1 + width),
        without duplicates, in OpenCV's rank order. OpenCV ranks with the C library's global
        rand(), which is seeded with 0 before each search, so one image gives the same boxes in
        the same order on every run (on platforms whose C library exposes `srand`; call it from
        one thread at a time). For one process per core, call cv2.setNumThreads(1).
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise SSLPropError(f"selective_search: expected an (H, W, 3) uint8 RGB image, got a {desc}")
    return _selective_search_bgr(np.ascontiguousarray(image[:, :, ::-1]), mode, max_side, min_size)


# ---------------------------------------------------------------------------------------------
# Extraction over a data set
# ---------------------------------------------------------------------------------------------


@dataclass
class ProposalStats:
    """What one `extract_dataset` run did.

    frames:   distinct frames in the manifest
    done:     frames searched in this run
    reused:   frames already in the cache
    failed:   {frame path: one-line reason} (unreadable, missing or too small)
    repaired: {frame path: what was wrong} cache entries that were broken (empty, unreadable, NaN) and were recomputed
    few:      {frame path: P} frames with fewer than k proposals (kept; masked downstream)
    counts:   {frame path: P} for every frame that has proposals
    k:        the K the `few` list refers to
    seconds:  wall time of the run
    workers:  processes used
    cache_dir: where the boxes are
    """

    frames: int
    done: int
    reused: int
    failed: dict[str, str] = field(default_factory=dict)
    few: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    k: int = 20
    seconds: float = 0.0
    workers: int = 1
    cache_dir: str = ""

    @property
    def mean_proposals(self) -> float:
        return float(np.mean(list(self.counts.values()))) if self.counts else 0.0

    def summary(self) -> str:
        """One line: frames done / reused / failed, frames with < K proposals, mean proposals, wall time."""
        head = f"proposals: {self.frames} frames in {self.cache_dir}: "
        if self.done == 0 and not self.failed:
            head += f"nothing to do, all {self.reused} frames were already cached; "
        else:
            head += f"{self.done} done, {self.reused} reused, {len(self.failed)} failed; "
            if self.repaired:
                head += f"{len(self.repaired)} broken cache entries recomputed (e.g. {next(iter(self.repaired))}); "
        rate = f" ({self.done / self.seconds:.1f} frames/s, {self.workers} workers)" if self.done and self.seconds > 0 else ""
        return (
            head + f"{len(self.few)} with < {self.k} proposals; "
            f"{self.mean_proposals:.1f} proposals per frame on average; {self.seconds:.1f} s{rate}"
        )

    def report(self) -> dict[str, Any]:
        """The content of ``report.json``."""
        return {
            "frames": self.frames,
            "done": self.done,
            "reused": self.reused,
            "failed": self.failed,
            "repaired": self.repaired,
            "k": self.k,
            "fewer_than_k": self.few,
            "mean_proposals": self.mean_proposals,
            "seconds": self.seconds,
            "workers": self.workers,
        }


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask where the OS has one, else os.cpu_count())."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _init_worker() -> None:
    cv2.setNumThreads(1)
    _die_with_parent()


def _die_with_parent() -> None:
    """Linux: ask the kernel to end this worker when its parent dies (a SIGKILLed `proposals` leaves no worker behind)."""

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # no prctl: the worker ends when its task queue closes, as before
        return
    if os.getppid() == 1:  # the parent died before the request was made
        os._exit(1)


def _extract_one(job: tuple[str, str, str, int | None, int, int]) -> tuple[str, int, str | None]:
    """Search one frame and store it: (frame path, P, None) or (frame path, -1, reason)."""

    root, rel, mode, max_side, min_size, min_frame_size = job
    image_path = Path(root) / rel
    try:
        bgr = read_image(image_path, min_frame_size, rgb=False)
        boxes = _selective_search_bgr(bgr, mode, max_side, min_size)
        ProposalCache(root, mode, max_side, min_size).put(rel, boxes)
    except SSLPropError as e:
        return rel, -1, str(e)
    except cv2.error as e:  # OpenCV's own failure on an odd image: reported with the frame, never fatal
        return rel, -1, f"{image_path}: OpenCV failed ({str(e).strip().splitlines()[-1]})"
    return rel, len(boxes), None


def extract_dataset(
    root: str | os.PathLike,
    workers: int | None = None,
    mode: str = "fast",
    max_side: int | None = None,
    k: int = 20,
    progress: bool = True,
    min_size: int = 4,
    min_frame_size: int = 32,
) -> ProposalStats:
    """Selective Search on every frame of every sample of `root/manifest.jsonl`, into the cache.

    Frames already cached are skipped (an interrupted run resumes; a second run does no work).
    The rest run in a pool of `workers` processes (default: every available core), one OpenCV thread
    each. A frame that cannot be read, or is smaller than `min_frame_size` pixels on a side,
    does not stop the run: it is recorded in the stats and in ``report.json`` beside the cache.
    Frames with fewer than `k` proposals are kept and listed. Writes ``index.json`` and
    ``report.json`` in the cache folder. The data set folder is locked meanwhile (`utils.folder_lock`,
    the lock `import` takes): a second `proposals` or an import into it is refused.
    """

    if k < 1:
        raise SSLPropError(f"--k {k}: must be at least 1")
    root = Path(root)
    with folder_lock(root, "proposals"):
        return _extract(root, workers, mode, max_side, k, progress, min_size, min_frame_size)


def _extract(root: Path, workers: int | None, mode: str, max_side: int | None, k: int, progress: bool, min_size: int,
             min_frame_size: int) -> ProposalStats:

    start = time.perf_counter()
    cache = ProposalCache(root, mode, max_side, min_size)
    frames = list(dict.fromkeys(str(check_relpath(f.path)) for s in read_manifest(root) for f in s.frames))
    old_counts = cache.read_index().get("counts", {})
    problems = {rel: cache.problem(rel) for rel in frames}  # every entry is read: a broken one is recomputed
    repaired = {rel: p for rel, p in problems.items() if p not in (None, "missing")}
    cached = [rel for rel in frames if problems[rel] is None]
    todo = [rel for rel in frames if problems[rel] is not None]
    counts = {rel: int(old_counts[rel]) if rel in old_counts else cache.count(rel) for rel in cached}
    failed: dict[str, str] = {}
    workers = max(1, min(workers or available_cores(), len(todo) or 1))
    if todo:
        jobs = [(str(root), rel, mode, max_side, min_size, min_frame_size) for rel in todo]
        if workers == 1:
            _init_worker()
            results = map(_extract_one, jobs)
            pool = None
        else:  # spawn, not fork: a forked child deadlocks in OpenCV once the parent has used its thread pool
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker)
            results = pool.map(_extract_one, jobs, chunksize=max(1, min(16, len(jobs) // (4 * workers))))
        bar = tqdm(total=len(todo), desc="selective search", unit="frame", disable=not progress, file=sys.stderr)
        try:
            for rel, n, error in results:
                if error is None:
                    counts[rel] = n
                else:
                    failed[rel] = error
                bar.update(1)
        finally:
            bar.close()
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    counts = {rel: counts[rel] for rel in frames if rel in counts}  # manifest order
    stats = ProposalStats(
        frames=len(frames),
        done=len(todo) - len(failed),
        reused=len(cached),
        failed=failed,
        few={rel: n for rel, n in counts.items() if n < k},
        repaired={rel: p for rel, p in repaired.items() if rel not in failed},
        counts=counts,
        k=k,
        seconds=time.perf_counter() - start,
        workers=workers if todo else 0,
        cache_dir=str(cache.dir),
    )
    if todo or counts != old_counts:
        cache.write_index(counts)
    atomic_write_json(cache.dir / "report.json", stats.report())
    return stats
