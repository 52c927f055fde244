"""Looking at data sets and models from a notebook: summaries, object masks, picked samples, a forward pass on chosen ids."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from sslprop.data.audio import load_audio
from sslprop.data.bags import dataset_bag_stats
from sslprop.data.dataset import SSLDataset, collate
from sslprop.data.format import read_info, read_manifest
from sslprop.data.images import read_image
from sslprop.data.proposal_cache import ProposalCache
from sslprop.data.synth.assets import load_bank, subset_bank
from sslprop.data.synth.generator import salience_shares
from sslprop.data.synth.presets import build_preset_sample
from sslprop.data.video import write_video
from sslprop.engine.checkpoint import load_run
from sslprop.errors import SSLPropError
from sslprop.ops.boxes import rescale_boxes


def dataset_summary(root: str | os.PathLike) -> dict[str, Any]:
    """One row describing a data set: preset, samples per split, frames, on/off-screen shares, classes, annotators.

    Returns keys: name, train, test, frames, onscreen (share of frames with onscreen True),
    offscreen (share with onscreen False), offscreen_test (the same in the test split), classes (distinct
    sounding classes), sounding_per_frame and silent_per_frame (mean objects), largest (share of frames with a
    sounding object in which it is the largest in view; `sslprop.data.synth.generator.salience_shares`), annotators (max
    per frame), and the Selective Search bags (`sslprop.data.bags`, NaN when not cached): proposals (the
    median per frame), p5 and p95 (its percentiles), hit_share (proposals that hit a sounding object),
    frames_with_hit.
    """

    root = Path(root)
    samples = read_manifest(root)
    info = read_info(root)
    frames = [f for s in samples for f in s.frames]
    shares = salience_shares(samples)
    bags = dataset_bag_stats(root) if ProposalCache(root).dir.is_dir() else None
    nan = float("nan")
    return {
        "name": info.get("preset", info.get("name", root.name)),
        "train": sum(s.split == "train" for s in samples),
        "test": sum(s.split == "test" for s in samples),
        "frames": len(frames),
        "onscreen": sum(f.onscreen is True for f in frames) / max(len(frames), 1),
        "offscreen": sum(f.onscreen is False for f in frames) / max(len(frames), 1),
        "classes": len({c for s in samples for c in s.classes}),
        "sounding_per_frame": sum(sum(o.sounding for o in f.objects) for f in frames) / max(len(frames), 1),
        "silent_per_frame": sum(sum(not o.sounding for o in f.objects) for f in frames) / max(len(frames), 1),
        "largest": shares["largest"],
        "offscreen_test": shares["offscreen_test"],
        "annotators": max((len(f.annotators) for f in frames), default=0),
        "proposals": bags.median if bags else nan,
        "p5": bags.p5 if bags else nan,
        "p95": bags.p95 if bags else nan,
        "hit_share": bags.hit_share if bags else nan,
        "frames_with_hit": bags.frames_with_hit if bags else nan,
    }


def sample_masks(root: str | os.PathLike, sample_id: str) -> list[list[np.ndarray]]:
    """The exact alpha masks of a generated sample's objects: masks[n][j] is bool (H, W) of frames[n].objects[j].

    Masks are not stored on disk; the sample is rebuilt from its data set's seed (generation is
    deterministic per sample), and its boxes are checked against the manifest's.
    """

    root = Path(root)
    info = read_info(root)
    if info.get("source") != "synth":
        raise SSLPropError(f"{root}: not a generated data set (masks exist only for `sslprop synth` sets)")
    preset, seed = info["preset"], int(info["seed"])
    try:
        index = int(sample_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise SSLPropError(f"{root}: {sample_id!r} is not a generated sample id") from None
    bank = subset_bank(load_bank(), info.get("class_subset", "all"))
    built = build_preset_sample(preset, bank, seed, index, int(info["size"]), float(info["test_fraction"]), info.get("bias"))
    stored = {s.id: s for s in read_manifest(root)}.get(sample_id)
    if stored is None:
        raise SSLPropError(f"{root}: no sample {sample_id!r}")
    if [[o.box for o in f.objects] for f in built.sample.frames] != [[o.box for o in f.objects] for f in stored.frames]:
        raise SSLPropError(f"{root}: sample {sample_id} does not rebuild to the stored boxes (generator changed?)")
    return built.masks


@dataclass
class Forward:
    """A trained model run on a few samples of a data set.

    samples:   the Sample of each frame (single-frame samples: one frame each)
    frames:    uint8 arrays (S, S, 3), the model's input frames (RGB)
    proposals: per frame Tensor[P_i, 4], every proposal the model saw (capped), S x S pixels xyxy
    gt:        per frame Tensor[G_i, 4], every annotator's box rescaled to S x S pixels (empty off-screen)
    output:    the model's `ModelOutput` (B = frames, N = 1)
    size:      S, the model's input side
    """

    samples: list[Any]
    frames: list[np.ndarray]
    proposals: list[Any]
    gt: list[Any]
    output: Any
    size: int


def pick_samples(root: str | os.PathLike, split: str = "test", count: int | None = None, onscreen: bool | None = None,
                 where: Callable[[Any], bool] | None = None) -> list[str]:
    """Ids of the first `count` samples of `split` (manifest order), optionally only on-screen or off-screen ones,
    and only those for which `where(sample)` holds."""

    ids = []
    for s in read_manifest(root, split):
        if onscreen is not None and s.onscreen is not onscreen:
            continue
        if where is not None and not where(s):
            continue
        ids.append(s.id)
        if count is not None and len(ids) >= count:
            break
    return ids


def forward_samples(run: str | os.PathLike, data: str | os.PathLike, ids: Sequence[str], device: str = "cpu") -> Forward:
    """Run the `ours` model of `run` on the (single-frame) samples `ids` of `data`, with every proposal.

    Returns a `Forward` with the model's attention, location map, GRM, top-K and d_k per frame
    (``forward.output``), plus what is needed to draw them.
    """

    method, model, cfg, _ = load_run(run, device)
    if not method.needs_proposals:
        raise SSLPropError(f"{run}: forward_samples needs a proposal-based run, got method {method.name!r}")
    ds = SSLDataset(data, None, cfg.data, with_proposals=True, max_proposals=cfg.model.max_proposals)
    index = {s.id: i for i, s in enumerate(ds.samples)}
    missing = [i for i in ids if i not in index]
    if missing:
        raise SSLPropError(f"{data}: no sample {missing[0]!r}")
    items = [ds[index[i]] for i in ids]
    if any(len(it["proposals"]) != 1 for it in items):
        raise SSLPropError(f"{data}: forward_samples takes single-frame samples (num_frames = 1)")
    batch = collate(items)
    with torch.no_grad():
        out = model(batch["frames"].to(device), batch["audio"].to(device), [p.to(device) for p in batch["proposals"]])
    S = cfg.data.frame_size
    samples = [ds.samples[index[i]] for i in ids]
    gt = []
    for s in samples:
        f = s.frames[0]
        boxes = torch.tensor([b for a in f.annotators for b in a], dtype=torch.float32).reshape(-1, 4)
        gt.append(rescale_boxes(boxes, (f.height, f.width), (S, S)))
    frames = [(it["frames"][0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for it in items]
    return Forward(samples, frames, batch["proposals"], gt, out, S)


def cooccurrence_stats(root: str | os.PathLike) -> dict[str, Any]:
    """The recorded co-occurrence bias of a `scenes` set, measured on its on-screen samples.

    Returns shares: habitat (the background is the sounding class's preferred one), companion
    (the class's companion object is in view, silent), and, for comparison, the share of
    on-screen samples with at least one silent object.
    """

    info = read_info(root)
    bias = info.get("bias")
    if not bias:
        raise SSLPropError(f"{root}: dataset.json records no co-occurrence bias (only `scenes` sets do)")
    on = [s for s in read_manifest(root) if s.onscreen]
    if not on:
        raise SSLPropError(f"{root}: no on-screen sample")
    comp = [any(o.label == bias["companion"][s.classes[0]] and not o.sounding for o in s.frames[0].objects) for s in on]
    return {
        "samples": len(on),
        "habitat": sum(s.meta.get("background", {}).get("name") == bias["habitat"][s.classes[0]] for s in on) / len(on),
        "companion": sum(comp) / len(on),
        "any_silent": sum(any(not o.sounding for o in s.frames[0].objects) for s in on) / len(on),
    }


def write_vggss_demo(src_data: str | os.PathLike, out: str | os.PathLike, ids: Sequence[str], seconds: float = 2.0) -> Path:
    """Write a tiny VGG-SS source in its native layout from generated samples: vggss.json + video/<clip>.mp4.

    Each sample's frame is held for `seconds` (5 fps) over its audio (looped), and the first
    annotator's box becomes the entry's normalised ``bbox``; file ids are ``<11 chars>_<6-digit start>``
    as in VGG-SS, the videos ``<ytid>_<start ms>_<end ms>.mp4`` as VGGSound clips are named.
    Returns `out`, ready for ``python -m sslprop import vggss OUT``.
    """

    src_data, out = Path(src_data), Path(out)
    by_id = {s.id: s for s in read_manifest(src_data)}
    entries = []
    for j, sid in enumerate(ids):
        s = by_id.get(sid)
        if s is None or not s.frames[0].annotators:
            raise SSLPropError(f"{src_data}: {sid!r} is not an on-screen sample of this set")
        f = s.frames[0]
        rgb = read_image(src_data / f.path)
        wave = load_audio(src_data / s.audio).numpy()
        n = int(seconds * 16000)
        wave = np.resize(wave, n)  # loop to `seconds`
        ytid = f"demo{j:07d}"  # 11 characters, like a YouTube id
        start = 10 * (j + 1)
        write_video(out / "video" / f"{ytid}_{start * 1000}_{(start + 10) * 1000}.mp4", [rgb] * int(seconds * 5), wave)
        x1, y1, x2, y2 = f.annotators[0][0]
        entries.append({"file": f"{ytid}_{start:06d}", "class": s.classes[0],
                        "bbox": [[x1 / f.width, y1 / f.height, x2 / f.width, y2 / f.height]]})
    out.mkdir(parents=True, exist_ok=True)
    (out / "vggss.json").write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    return out


def write_sample_video(root: str | os.PathLike, sample_id: str, out: str | os.PathLike,
                       size: tuple[int, int] | None = None) -> Path:
    """One multi-frame sample of a data set (e.g. a `sequences` clip) as an mp4 with its audio, for `sslprop localize`.

    The frames are shown at the rate of their times (1 fps for `sequences`), resized to `size`
    (W, H; even) when given, so that the video's pixels differ from the data set's.
    """

    root = Path(root)
    sample = next((s for s in read_manifest(root) if s.id == sample_id), None)
    if sample is None:
        raise SSLPropError(f"{root}: no sample {sample_id!r}")
    times = [f.time for f in sample.frames]
    step = (times[-1] - times[0]) / max(len(times) - 1, 1) if len(times) > 1 else 1.0
    fps = round(1.0 / step) if step > 0 else 1
    frames = [read_image(root / f.path) for f in sample.frames]
    if size is not None:
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in frames]
    h, w = frames[0].shape[:2]
    frames = [f[: h - h % 2, : w - w % 2] for f in frames]
    wave = load_audio(root / sample.audio).numpy()
    n = int(round(len(frames) / fps * 16000))
    return write_video(out, frames, np.resize(wave, n), fps=fps)
