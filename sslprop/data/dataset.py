"""`SSLDataset`: frames, audio patches, cached proposals and annotations of an sslprop data set."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from sslprop.config import DataConfig
from sslprop.data.audio import audio_patch, clip_at, load_audio, rms
from sslprop.data.format import Sample, frame_key, read_manifest
from sslprop.data.images import read_image
from sslprop.data.proposal_cache import ProposalCache
from sslprop.errors import SSLPropError
from sslprop.ops.boxes import cap_proposals, rescale_boxes
from sslprop.utils import atomic_write_json


@dataclass(frozen=True)
class Item:
    """One training/evaluation unit: N consecutive frames of one sample."""

    sample: int  # index into SSLDataset.samples
    frames: tuple[int, ...]  # frame indices inside that sample, in time order

    def keys(self, sample: Sample) -> list[str]:
        """Prediction keys of the window's frames (the contract of `sslprop eval`): the sample id
        for a single-frame sample, ``<sample id>/<frame index>`` for each frame of a multi-frame one."""
        return [frame_key(sample.id, f, len(sample.frames)) for f in self.frames]


def read_frame(path: str | os.PathLike, min_size: int = 1) -> np.ndarray:
    """Read a frame as (H, W, 3) uint8 RGB; unreadable or too small -> one-line SSLPropError."""
    return read_image(path, min_size)


EXAMPLE_CACHE = "audio-cache"  # DATA/audio-cache/<front end>/: the audio patches of `SSLDataset(example_cache=True)`
EXAMPLE_CACHE_VERSION = 1  # bump when the stored patch of one setting would change


class ExampleCache:
    """Audio patches on disk, shared by every DataLoader worker, process and run on one data set.

    Layout: ``DATA/audio-cache/<features>-<n_mels>-<sample rate>-<clip seconds>-v1/<2 hex>/<18 hex>.npy``,
    one float32 array (1, 96, n_mels) per clip. The name is a hash of the audio file's path, size and
    modification time and the clip's centre, so an audio file that changes is read again, never a stale
    patch. Files are written atomically; a data set that cannot be written is simply not cached.
    """

    def __init__(self, root: str | os.PathLike, cfg: DataConfig):
        self.root = Path(root)
        self.dir = self.root / EXAMPLE_CACHE / (
            f"{cfg.audio_features}-{cfg.n_mels}-{cfg.sample_rate}-{cfg.clip_seconds:g}s-v{EXAMPLE_CACHE_VERSION}")
        self.writable = True

    def path(self, audio: str, time: float) -> Path | None:
        """Where the patch of the clip centred at `time` in `audio` is kept; None when the file cannot be read."""

        try:
            st = (self.root / audio).stat()
        except OSError:  # left to the decoder, which names the file
            return None
        name = hashlib.sha256(f"{audio}|{st.st_size}|{st.st_mtime_ns}|{time!r}".encode()).hexdigest()[:20]
        return self.dir / name[:2] / f"{name[2:]}.npy"

    def get(self, path: Path) -> Tensor | None:
        try:
            return torch.from_numpy(np.load(path, allow_pickle=False))
        except (OSError, ValueError):  # absent, or cut short by a crash before the atomic rename existed
            return None

    def put(self, path: Path, patch: Tensor) -> None:
        """Write one patch: a temporary file renamed into place, without fsync (an entry lost or cut short by a
        crash is computed again; a data set's worth of fsyncs costs more than the patches)."""

        if not self.writable:
            return
        buf = io.BytesIO()
        np.save(buf, patch.numpy().astype(np.float32, copy=False), allow_pickle=False)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(buf.getvalue())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError:  # a read-only data set: computed every time
            self.writable = False


class SSLDataset(Dataset):
    """An sslprop data set as model inputs.

    Each item is N = cfg.num_frames consecutive frames of one sample (non-overlapping windows
    over multi-frame samples) and returns a dict:
        frames:    Tensor[N, 3, S, S] float in [0, 1] (RGB, resized to S = cfg.frame_size)
        audio:     Tensor[N, 1, 96, n_mels], the patch of the clip of cfg.clip_seconds centred on each frame
        proposals: list of N Tensor[P_n, 4], cached Selective Search boxes rescaled to the S x S frame
                   (absolute pixels xyxy; the `max_proposals` largest when there are more; empty when
                   `with_proposals` is False)
        index, keys (one prediction key per frame), sample_id, video_id
    Decoded frames and audio patches are kept in memory after their first use (`cache=True`): right in
    the process that reads every item (DataLoader without workers). In worker processes that memory would
    grow in each of them to the whole data set; there `cache=False, example_cache=True` keeps the audio
    patches on disk instead (`ExampleCache`), computed once for every worker, epoch and run.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str | None = "train",
        cfg: DataConfig = DataConfig(),
        with_proposals: bool = True,
        max_proposals: int | None = None,
        proposal_cache: ProposalCache | None = None,
        max_samples: int | None = None,
        cache: bool = True,
        skip_silent: bool = True,
        example_cache: bool = False,
    ):
        self.root = Path(root)
        self.cfg = cfg
        self.samples = read_manifest(self.root, split)
        if max_samples is not None:
            self.samples = self.samples[:max_samples]
        # samples whose whole audio is silent carry no sound to localise: left out and listed, as the importers do
        self.skipped: dict[str, str] = {}
        if skip_silent and self.samples:
            silent = silent_audio(self.root, [s.audio for s in self.samples], cfg.sample_rate)
            self.skipped = {s.id: "silent audio" for s in self.samples if s.audio in silent}
            self.samples = [s for s in self.samples if s.id not in self.skipped]
        if not self.samples:
            raise SSLPropError(f"{self.root}: no samples in split {split!r}"
                               + (f" with sound ({len(self.skipped)} silent)" if self.skipped else ""))
        n = cfg.num_frames
        self.items: list[Item] = []
        for si, s in enumerate(self.samples):
            if len(s.frames) < n:
                raise SSLPropError(f"{self.root}: sample {s.id} has {len(s.frames)} frames, fewer than num_frames={n}")
            for start in range(0, len(s.frames) - n + 1, n):
                self.items.append(Item(si, tuple(range(start, start + n))))
        self.with_proposals = with_proposals
        self.max_proposals = max_proposals
        self.proposals = proposal_cache or ProposalCache(self.root, cfg.proposal_mode, cfg.proposal_max_side)
        if with_proposals:
            missing = [f.path for s in self.samples for f in s.frames if not self.proposals.has(f.path)]
            if missing:
                raise SSLPropError(
                    f"{self.root / missing[0]}: no cached proposals for {len(missing)} frame(s) (run `{self.proposals.command()}`)"
                )
        self.cache = cache
        self.examples = ExampleCache(self.root, cfg) if example_cache else None
        self._frames: dict[str, Tensor] = {}
        self._audio: dict[tuple[int, int], Tensor] = {}
        self._waves: dict[int, Tensor] = {}

    def __len__(self) -> int:
        return len(self.items)

    def item_keys(self, index: int) -> list[str]:
        item = self.items[index]
        return item.keys(self.samples[item.sample])

    def _frame(self, rel: str) -> Tensor:
        if rel in self._frames:
            return self._frames[rel]
        s = self.cfg.frame_size
        rgb = read_frame(self.root / rel, self.cfg.min_frame_size)
        rgb = cv2.resize(rgb, (s, s), interpolation=cv2.INTER_AREA)
        t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous()  # (3, S, S) uint8
        if self.cache:
            self._frames[rel] = t
        return t

    def _patch(self, si: int, fi: int) -> Tensor:
        if (si, fi) in self._audio:
            return self._audio[(si, fi)]
        sample = self.samples[si]
        stored = None
        if self.examples is not None:
            stored = self.examples.path(sample.audio, sample.frames[fi].time)
            patch = None if stored is None else self.examples.get(stored)
            if patch is not None:
                if self.cache:
                    self._audio[(si, fi)] = patch
                return patch
        wave = self._waves.get(si)
        if wave is None:
            wave = load_audio(self.root / sample.audio, self.cfg.sample_rate)
            if self.cache and len(sample.frames) > 1:
                self._waves[si] = wave
        clip = clip_at(wave, self.cfg.sample_rate, sample.frames[fi].time, self.cfg.clip_seconds)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one small STFT: extra threads only contend (many times slower on 2 busy cores)
        try:
            patch = audio_patch(clip, self.cfg.sample_rate, self.cfg.audio_features, self.cfg.n_mels)
        finally:
            torch.set_num_threads(threads)
        if stored is not None:
            self.examples.put(stored, patch)
        if self.cache:
            self._audio[(si, fi)] = patch
            if all((si, j) in self._audio for j in range(len(sample.frames))):
                self._waves.pop(si, None)
        return patch

    def _proposals(self, si: int, fi: int) -> Tensor:
        frame = self.samples[si].frames[fi]
        boxes = torch.from_numpy(self.proposals.get(frame.path))  # (P, 4) stored-frame pixels
        if self.max_proposals is not None:
            boxes = cap_proposals(boxes, self.max_proposals)
        s = self.cfg.frame_size
        return rescale_boxes(boxes, (frame.height, frame.width), (s, s))

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.items[index]
        sample = self.samples[item.sample]
        frames = torch.stack([self._frame(sample.frames[f].path) for f in item.frames]).float() / 255.0  # (N, 3, S, S)
        audio = torch.stack([self._patch(item.sample, f) for f in item.frames])  # (N, 1, 96, n_mels)
        proposals = [self._proposals(item.sample, f) if self.with_proposals else torch.zeros(0, 4) for f in item.frames]
        return {
            "frames": frames,
            "audio": audio,
            "proposals": proposals,
            "index": index,
            "keys": item.keys(sample),
            "sample_id": sample.id,
            "video_id": sample.video_id,
        }


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack items into a batch: frames Tensor[B, N, 3, S, S], audio Tensor[B, N, 1, 96, M],
    proposals and keys flat lists of B*N (item-major), index Tensor[B], and lists of sample_id
    and video_id."""
    return {
        "frames": torch.stack([b["frames"] for b in batch]),
        "audio": torch.stack([b["audio"] for b in batch]),
        "proposals": [p for b in batch for p in b["proposals"]],
        "index": torch.tensor([b["index"] for b in batch], dtype=torch.long),
        "keys": [k for b in batch for k in b["keys"]],
        "sample_id": [b["sample_id"] for b in batch],
        "video_id": [b["video_id"] for b in batch],
    }


AUDIO_CHECK = ".audio-check.json"  # per data set: {audio path: [size, mtime_ns, rms]}, so each file is read once


def silent_audio(root: str | os.PathLike, paths: list[str], sample_rate: int, threshold: float = 1e-4) -> set[str]:
    """The audio files (paths relative to `root`) whose whole waveform is silent (RMS below `threshold`).

    Each file's RMS is kept in ``root/.audio-check.json`` with its size and modification time, so a
    data set's audio is read once, not at every run; a changed file is read again. A missing or
    unreadable file is left to the loader, which names it when it is used.
    """

    root = Path(root)
    store = root / AUDIO_CHECK
    try:
        known = json.loads(store.read_text(encoding="utf-8")) if store.is_file() else {}
    except (OSError, ValueError):
        known = {}
    changed, silent = False, set()
    for rel in dict.fromkeys(paths):
        try:
            st = (root / rel).stat()
        except OSError:
            continue
        entry = known.get(rel)
        if not (isinstance(entry, list) and len(entry) == 3 and entry[:2] == [st.st_size, st.st_mtime_ns]):
            try:
                value = rms(load_audio(root / rel, sample_rate))
            except SSLPropError:
                continue
            known[rel], changed = [st.st_size, st.st_mtime_ns, value], True
        if known[rel][2] < threshold:
            silent.add(rel)
    if changed:
        try:
            atomic_write_json(store, known)
        except OSError:  # a read-only data set: checked again next time
            pass
    return silent
