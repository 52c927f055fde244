"""Frozen encoders (`train.freeze_encoders`) and the cache of their outputs.

A frozen encoder does not train: no gradient reaches its weights, and it stays in eval mode
(BatchNorm uses the statistics it was pretrained with, and does not update them) whatever mode
the model around it is put in. Its output is then a fixed function of its input, so it can be
cached: `EncoderCache` keeps each output under the hash of the input it came from (one frame,
or one audio patch), in memory and in shards on disk.

    model = freeze_encoders(method.build(cfg, ...))        # every encoder of the model, wrapped
    attach_caches(model, data_folder, cfg)                 # outputs read from / kept in DATA/encoder-cache/
    ... train or predict ...
    flush_caches(model)                                    # new outputs written as one more shard

The cache folder of an encoder is ``DATA/encoder-cache/<kind>-<sha256 of its weights>-<frame
size or audio front end>/``: another data set, other weights or another frame size is another
folder, so a stale output is never read. Within a folder an entry is found by the hash of its
input's bytes, so a frame that changed on disk is simply a miss. Shards are written atomically
(a temporary file renamed into place): an interrupted run loses at most the outputs since its
last flush, never the folder. Outputs are kept in float32 as the encoder computed them: a run that
reads every output from the cache repeats the run that filled it to the last bit (a test checks it).

`ProposalFeatureCache` keeps, beside them, the proposal stream's input: the SPP of every proposal of a
frame on the frozen feature map (``DATA/encoder-cache/spp-<visual weights sha256>-<frame size>-<levels>/``,
an entry found by the hash of the frame's input and of its proposal set). With bags of the paper's size
(about 500-2,000 proposals per frame) a training step and a prediction then select rows instead of pooling.
"""

from __future__ import annotations

import abc
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch import Tensor

from sslprop.models.encoders import SPP, SmallAudio, SmallVisual, VGG16Backbone, VGGish
from sslprop.utils import atomic_write_bytes

ENCODER_TYPES = (SmallVisual, SmallAudio, VGG16Backbone, VGGish)
CACHE_DIR = "encoder-cache"
CACHE_VERSION = 1
FEATURE_CACHE_VERSION = 1


def weights_digest(module: nn.Module) -> str:
    """sha256 over a module's state dict (names, dtypes, shapes and bytes, in order)."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


class _Shards(abc.ABC):
    """What `EncoderCache` and `ProposalFeatureCache` share: entries by a 16-byte key, the new ones since the last
    flush, hit counts, and shards ``shard-<sha256 of their keys>.pt`` in `folder` (None: in memory only), read at
    construction by the subclass's `_entries` (a shard it cannot read whole is ignored: its entries are computed
    again, never trusted) and written atomically by `_write`."""

    version = 0

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self.folder = None if folder is None else Path(folder)
        self.entries: dict[bytes, Any] = {}
        self.new: dict[bytes, Any] = {}
        self.hits = self.misses = 0
        if self.folder is not None and self.folder.is_dir():
            for shard in sorted(self.folder.glob("shard-*.pt")):
                try:
                    data = torch.load(shard, map_location="cpu", weights_only=True)
                    if data.get("version") != self.version:
                        raise ValueError("not a shard of this version")
                    read = self._entries(data)
                except Exception:  # a damaged or foreign shard is ignored (its entries are recomputed), never trusted
                    continue
                self.entries.update(read)

    @abc.abstractmethod
    def _entries(self, data: dict[str, Any]) -> dict[bytes, Any]:
        """One shard's entries by key; raises (the shard is then ignored) when they do not add up."""

    def _write(self, payload: dict[str, Any]) -> Path | None:
        """Write the new entries (their sorted keys and `payload`, built from `self.new` in that order) as one shard."""

        if not self.new or self.folder is None:
            self.new = {}
            return None
        keys = sorted(self.new)
        buf = io.BytesIO()
        torch.save({"version": self.version,
                    "keys": torch.frombuffer(bytearray(b"".join(keys)), dtype=torch.uint8).view(len(keys), 16), **payload}, buf)
        path = self.folder / f"shard-{hashlib.sha256(b''.join(keys)).hexdigest()[:16]}.pt"
        atomic_write_bytes(path, buf.getvalue())
        self.new = {}
        return path


class EncoderCache(_Shards):
    """Outputs of one frozen encoder, keyed by the hash of each input row; shards in `folder`.

    __call__(x Tensor[F, ...], encoder) -> encoder(x) Tensor[F, ...], computing only the rows not
    cached yet (in one batch). `flush()` writes what was computed since the last flush.
    """

    version = CACHE_VERSION

    def _entries(self, data: dict[str, Any]) -> dict[bytes, Tensor]:
        keys, values = data["keys"], data["values"]
        if len(keys) != len(values):
            raise ValueError("keys and values differ in number")
        return {k.tobytes(): v for k, v in zip(keys.numpy(), values)}

    @staticmethod
    def keys(x: Tensor) -> list[bytes]:
        """One 16-byte blake2b digest per row of x (its dtype, shape and bytes)."""
        x = x.detach().cpu().contiguous()
        head = f"{x.dtype}:{tuple(x.shape[1:])}".encode()
        flat = x.view(len(x), -1) if x.dtype != torch.bfloat16 else x.float().view(len(x), -1)
        return [hashlib.blake2b(head + row.numpy().tobytes(), digest_size=16).digest() for row in flat]

    def __call__(self, x: Tensor, encoder: nn.Module) -> Tensor:
        keys = self.keys(x)
        missing = [i for i, k in enumerate(keys) if k not in self.entries]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            computed = encoder(x[missing])
            for i, out in zip(missing, computed.float().cpu()):
                self.entries[keys[i]] = out.clone()
                self.new[keys[i]] = self.entries[keys[i]]
        return torch.stack([self.entries[k] for k in keys]).to(x.device)

    def flush(self) -> Path | None:
        """Write the outputs computed since the last flush as one shard (atomically); returns its path, or None."""
        return self._write({"values": torch.stack([self.new[k] for k in sorted(self.new)])} if self.new else {})


def spp_cells(boxes: Tensor, stride: int) -> Tensor:
    """The feature cells `torchvision.ops.roi_pool` reads for each box: Tensor[P, 4] long.

    boxes: Tensor[P, 4] float32, absolute pixels xyxy of the input frame. roi_pool's CPU and CUDA kernels
    multiply each coordinate by the spatial scale 1 / stride in the box dtype and round half away from zero
    (C's `round`); every pooled bin depends on these four integers only, so two boxes with the same cells
    have the same SPP feature to the last bit (`ProposalFeatureCache` pools each distinct one once).
    """
    v = (boxes.float() * torch.tensor(1.0 / stride, dtype=torch.float32)).double()  # the kernel's float32 product
    return torch.where(v >= 0, torch.floor(v + 0.5), torch.ceil(v - 0.5)).long()


class ProposalFeatureCache(_Shards):
    """The SPP features of every proposal of a frame on its frozen feature map, as distinct rows and an index.

    An entry, keyed by the hash of the frame's input (its bytes) and of its proposal set (the boxes' bytes), is
    ``(rows Tensor[U, D] float32, index Tensor[P] long)``: the SPP of proposal p is ``rows[index[p]]``, exactly
    what `SPP` pools for it (proposals that read the same feature cells, `spp_cells`, share a row). Filled on
    first use from the map the frozen encoder gives; written as shards like `EncoderCache` (atomically; a damaged
    or foreign shard is ignored and its entries recomputed, never trusted).

    bags(frames Tensor[F, 3, S, S], fmap Tensor[F, C, h, w], boxes F x Tensor[P_i, 4], spp) -> F x (rows, index)
    table(bags) -> (rows Tensor[R, D], index Tensor[F, max P_i] long): the frames' rows in one tensor and, per frame
    and proposal, its row there (-1 past a frame's last proposal), so a batch's selection is one gather.
    """

    version = FEATURE_CACHE_VERSION

    def _entries(self, data: dict[str, Any]) -> dict[bytes, tuple[Tensor, Tensor]]:
        keys, rows, index = data["keys"], data["rows"], data["index"]
        n_rows, n_index = data["n_rows"].tolist(), data["n_index"].tolist()
        if len(keys) != len(n_rows) or len(keys) != len(n_index) or sum(n_rows) != len(rows) or sum(n_index) != len(index):
            raise ValueError("the rows and indices do not add up")
        parts = list(zip(rows.split(n_rows), index.split(n_index)))
        if any(len(ix) and (int(ix.min()) < 0 or int(ix.max()) >= len(r)) for r, ix in parts):
            raise ValueError("index out of range")
        return {k.tobytes(): part for k, part in zip(keys.numpy(), parts)}

    @staticmethod
    def keys(frames: Tensor, boxes: list[Tensor]) -> list[bytes]:
        """One 16-byte blake2b digest per frame, of its input (dtype, shape, bytes) and its boxes (float32 bytes)."""
        frames = frames.detach().cpu().contiguous()
        head = f"{frames.dtype}:{tuple(frames.shape[1:])}".encode()
        flat = frames.view(len(frames), -1) if frames.dtype != torch.bfloat16 else frames.float().view(len(frames), -1)
        out = []
        for row, b in zip(flat, boxes):
            h = hashlib.blake2b(head + row.numpy().tobytes(), digest_size=16)
            h.update(b"|boxes|" + b.detach().float().cpu().contiguous().numpy().tobytes())
            out.append(h.digest())
        return out

    def bags(self, frames: Tensor, fmap: Tensor, boxes: list[Tensor], spp: SPP) -> list[tuple[Tensor, Tensor]]:
        keys = self.keys(frames, boxes)
        missing = [i for i, k in enumerate(keys) if k not in self.entries]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            # the distinct cell sets of every missing frame at once: (frame, cells) rows, sorted by frame first
            b = [boxes[i].detach().float().cpu() for i in missing]
            counts = [len(x) for x in b]
            frame_of = torch.repeat_interleave(torch.arange(len(b)), torch.tensor(counts, dtype=torch.long))  # (sum P,)
            flat = torch.cat(b) if sum(counts) else torch.zeros(0, 4)
            cells = torch.cat([frame_of[:, None], spp_cells(flat, spp.stride)], dim=1)  # (sum P, 5)
            uniq, inverse = torch.unique(cells, dim=0, return_inverse=True)  # (sum U, 5), (sum P,)
            first = torch.full((len(uniq),), len(flat), dtype=torch.long).scatter_reduce(
                0, inverse, torch.arange(len(flat)), "amin")  # (sum U,) a box of each distinct (frame, cell set)
            per_frame = torch.bincount(uniq[:, 0], minlength=len(b)).tolist()  # U of each frame
            reps = list(flat[first].split(per_frame))
            with torch.no_grad():
                pooled = spp(fmap[missing], [r.to(fmap.device) for r in reps]).float().cpu()  # (sum U, D), frame by frame
            starts = torch.tensor([0] + per_frame[:-1]).cumsum(0)  # each frame's first row in `pooled`
            for n, (i, rows, inv) in enumerate(zip(missing, pooled.split(per_frame), inverse.split(counts))):
                self.entries[keys[i]] = (rows.clone(), inv - starts[n])
                self.new[keys[i]] = self.entries[keys[i]]
        return [self.entries[k] for k in keys]

    @staticmethod
    def table(bags: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """(rows Tensor[R, D], index Tensor[F, max P] long) of `bags`: proposal p of frame f is rows[index[f, p]]."""
        counts = [len(ix) for _, ix in bags]
        offsets = torch.tensor([0] + [len(r) for r, _ in bags[:-1]]).cumsum(0)  # (F,)
        index = torch.full((len(bags), max(counts + [1])), -1, dtype=torch.long)
        for f, ((_, ix), off) in enumerate(zip(bags, offsets.tolist())):
            index[f, : len(ix)] = ix + off
        return torch.cat([r for r, _ in bags]), index

    def flush(self) -> Path | None:
        """Write the entries computed since the last flush as one shard (atomically); returns its path, or None."""
        parts = [self.new[k] for k in sorted(self.new)]
        return self._write({"rows": torch.cat([r for r, _ in parts]), "index": torch.cat([ix for _, ix in parts]),
                            "n_rows": torch.tensor([len(r) for r, _ in parts]),
                            "n_index": torch.tensor([len(ix) for _, ix in parts])} if parts else {})


class FrozenEncoder(nn.Module):
    """An encoder that does not train: always in eval mode, no gradient, optionally cached.

    Keeps the wrapped encoder's interface (`out_channels`, `stride` or `out_dim`); its state
    dict is the encoder's under the prefix ``encoder.``. forward(x) = encoder(x) without gradient,
    read from `cache` when one is attached.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        for name in ("out_channels", "stride", "out_dim"):
            if hasattr(encoder, name):
                setattr(self, name, getattr(encoder, name))
        self.cache: EncoderCache | None = None
        self.encoder.eval()

    def train(self, mode: bool = True) -> FrozenEncoder:
        super().train(mode)
        self.encoder.eval()  # BatchNorm keeps its pretrained statistics
        return self

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self.cache = None  # new weights: outputs cached for the old ones must not be read (DSOL's teacher)
        super()._load_from_state_dict(*args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            if self.cache is None:
                return self.encoder(x)
            return self.cache(x, self.encoder)


def _encoder_slots(module: nn.Module, prefix: str = "") -> Iterator[tuple[nn.Module, str, nn.Module]]:
    for name, child in module.named_children():
        if isinstance(child, ENCODER_TYPES + (FrozenEncoder,)):
            yield module, name, child
        else:
            yield from _encoder_slots(child, prefix + name + ".")


def freeze_encoders(model: nn.Module) -> nn.Module:
    """Wrap every encoder of `model` (the shared visual and audio encoders, and copies such as DSOL's
    teacher) in a `FrozenEncoder`, in place; returns `model`. Other modules keep training."""
    for parent, name, child in list(_encoder_slots(model)):
        if not isinstance(child, FrozenEncoder):
            setattr(parent, name, FrozenEncoder(child))
    return model


def frozen_encoders(model: nn.Module) -> list[tuple[str, FrozenEncoder]]:
    """(name, encoder) of every `FrozenEncoder` in `model`."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, FrozenEncoder)]


def cache_folder(data: str | os.PathLike, encoder: FrozenEncoder, data_cfg: Any) -> Path:
    """DATA/encoder-cache/<kind>-<weights sha256, 16 hex>-<frame size px | audio front end>."""
    inner = encoder.encoder
    if hasattr(inner, "out_channels"):
        kind, what = "visual", f"{data_cfg.frame_size}px"
    else:
        kind, what = "audio", f"{data_cfg.audio_features}{data_cfg.n_mels}"
    return Path(data) / CACHE_DIR / f"{kind}-{type(inner).__name__}-{weights_digest(inner)[:16]}-{what}"


def feature_cache_folder(data: str | os.PathLike, model: nn.Module, data_cfg: Any) -> Path:
    """DATA/encoder-cache/spp-<visual weights sha256, 16 hex>-<frame size>px-l<SPP levels>: a `ProposalFeatureCache`."""
    inner = model.visual.encoder
    levels = "-".join(str(lv) for lv in model.spp.levels)
    return (Path(data) / CACHE_DIR
            / f"spp-{type(inner).__name__}-{weights_digest(inner)[:16]}-{data_cfg.frame_size}px-l{levels}-v{FEATURE_CACHE_VERSION}")


def _feature_slots(model: nn.Module) -> list[nn.Module]:
    """Every module of `model` with a proposal stream (`feature_cache`, `spp`) on a frozen visual encoder."""
    return [m for m in model.modules() if hasattr(m, "feature_cache") and isinstance(getattr(m, "visual", None), FrozenEncoder)
            and isinstance(getattr(m, "spp", None), SPP)]


def attach_caches(model: nn.Module, data: str | os.PathLike, data_cfg: Any) -> list[EncoderCache | ProposalFeatureCache]:
    """Give every frozen encoder of `model` the cache of data set `data` (read from disk; encoders that share
    weights share one cache), and every proposal stream on a frozen visual encoder its `ProposalFeatureCache`.
    Returns the caches."""
    caches: dict[Path, EncoderCache | ProposalFeatureCache] = {}
    for _, enc in frozen_encoders(model):
        folder = cache_folder(data, enc, data_cfg)
        if folder not in caches:
            caches[folder] = EncoderCache(folder)
        enc.cache = caches[folder]
    for m in _feature_slots(model):
        folder = feature_cache_folder(data, m, data_cfg)
        if folder not in caches:
            caches[folder] = ProposalFeatureCache(folder)
        m.feature_cache = caches[folder]
    return list(caches.values())


def flush_caches(model: nn.Module) -> None:
    """Write every attached cache's new outputs to disk."""
    seen = set()
    caches = [enc.cache for _, enc in frozen_encoders(model)] + [m.feature_cache for m in _feature_slots(model)]
    for cache in caches:
        if cache is not None and id(cache) not in seen:
            seen.add(id(cache))
            cache.flush()


def detach_caches(model: nn.Module) -> None:
    """Flush, then drop the caches (the encoders run again on every call, proposals are pooled again)."""
    flush_caches(model)
    for _, enc in frozen_encoders(model):
        enc.cache = None
    for m in _feature_slots(model):
        m.feature_cache = None
