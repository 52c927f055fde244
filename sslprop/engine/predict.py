"""`python -m sslprop predict`: run a trained model on a data set and write what `sslprop eval` reads.

Files written into the output folder (keys: the sample id, or ``<sample id>/<frame index>`` for
a frame of a multi-frame sample):
    boxes.json        {key: [[x1, y1, x2, y2, score], ...]}  every kept proposal, best first
                      (score = d_k), absolute pixels of the stored frame: one-source localisation
    two_sources.json  {key: [[...best], [...second]]}  the best proposal and the best one that does
                      not overlap it (IoU = 0; if none, the one of least IoU): two-source localisation
    maps.npz          {key: float32 (S, S)}  the location map m_n on the model's input grid
    onscreen.json     {key: {d_on, distance, on_d, on_m, on_or, on_dc, on_orc}}  Table 1's criteria (distance: m_on's, from
                      the frame stream f_att; on_dc: d_on above its label-free calibrated threshold; on_orc: on_dc or on_m)
    predictions.json  what was run: run, data, split, method, thresholds, counts, and the sha256 of
                      each file above ("files"), so that `eval` refuses a folder whose files disagree

The files are one set: they are written into a hidden folder inside the output folder and moved
into place together at the end, predictions.json first (`data.predfiles.check_member` refuses
any file that predictions.json does not list). An interrupted or failed run leaves the previous set
as it was; a run of predict starts from the first frame. The output folder is locked while predict
runs (`utils.folder_lock`): a second predict into it is refused.

The m_on threshold (Sec. 4.2) is calibrated on the frames being predicted: each clip's negative is
drawn from the whole split with the run's seed (`split_negatives`), and its pair is formed as the
method's loss forms it (Ours with paired negatives: the frame localised again with the negative's
audio), so the decisions do not depend on `--batch-size`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from sslprop.argtypes import positive_int
from sslprop.data.dataset import SSLDataset, collate
from sslprop.data.format import read_manifest
from sslprop.data.predfiles import INFO, SET_FILES, file_digest
from sslprop.engine.checkpoint import load_run
from sslprop.models.frozen import attach_caches, detach_caches
from sslprop.models.inference import D_ON_THRESHOLD, d_on_threshold, m_on_threshold, onscreen_decisions
from sslprop.models.losses import common_space
from sslprop.models.methods import negative_pairs
from sslprop.models.negatives import split_negatives
from sslprop.ops.boxes import map_box, rescale_boxes, two_sources
from sslprop.utils import atomic_write_bytes, atomic_write_json, check_out_folder, folder_lock, resolve_device

RESUME = "the prediction files already in --out are unchanged; run the same command again (predict starts from the first frame)"
STAGING = ".incoming-"  # + process id: the hidden folder inside --out where a set is written before it is moved into place


def predict(
    run: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike,
    split: str = "test",
    device: str | None = None,
    batch_size: int | None = None,
    map_threshold: float = 0.5,
    max_samples: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Write the prediction files of the module docstring for `split` of `data`; returns predictions.json."""
    check_out_folder(out)
    with folder_lock(out, "predict"):
        for stale in Path(out).glob(f"{STAGING}*"):  # left by a killed run (we hold the folder's lock)
            shutil.rmtree(stale, ignore_errors=True)
        return _predict(run, data, Path(out), split, device, batch_size, map_threshold, max_samples, progress, log)


def _predict(run, data, out: Path, split, device, batch_size, map_threshold, max_samples, progress, log) -> dict[str, Any]:
    dev = resolve_device(device)
    method, model, cfg, state = load_run(run, dev, log)
    if split == "test":

        everything = read_manifest(data)
        if everything and not any(s.split == "test" for s in everything):  # e.g. `import folder`: one's own videos, unsplit
            log(f"{data}: no test split; predicting all {len(everything)} samples (as --split all)")
            split = "all"
    ds = SSLDataset(data, split, cfg.data, with_proposals=method.needs_proposals,
                    max_proposals=cfg.model.max_proposals, max_samples=max_samples)
    if ds.skipped:
        log(f"{data}: {len(ds.skipped)} samples left out for silent audio, e.g. {next(iter(ds.skipped))} (listed in predictions.json)")
    # m_on's negatives: each clip's from the whole split, seeded, so that no decision depends on the batches
    clip_videos = [ds.samples[item.sample].video_id for item in ds.items]
    neg_of = split_negatives(clip_videos, torch.Generator().manual_seed(cfg.train.seed)) if len(set(clip_videos)) > 1 else None
    pairs = neg_of is not None and negative_pairs(method, cfg)  # the method forms the negative pair (its loss's way)
    loader = DataLoader(ds, batch_size=batch_size or cfg.train.batch_size, shuffle=False, collate_fn=collate)
    if cfg.train.freeze_encoders:  # the encoders' outputs on these frames are shared by every run with the same weights
        attach_caches(model, data, cfg.data)
    boxes_out: dict[str, list[list[float]]] = {}
    two_out: dict[str, list[list[float]]] = {}
    maps: dict[str, np.ndarray] = {}
    keys: list[str] = []
    f_v, f_s, d_on, pos_d, neg_d, neg_d_on = [], [], [], [], [], []
    S = cfg.data.frame_size
    t0 = time.perf_counter()
    for batch in tqdm(loader, desc=f"predict {method.name}", disable=not progress, leave=False):
        if pairs:
            negatives = collate([ds[int(j)] for j in neg_of[batch["index"]]])  # row b: the negative clip of clip b
            inf = method.infer(model, batch, cfg, negatives=negatives)
        else:
            inf = method.infer(model, batch, cfg)
        frames = [ds.samples[ds.items[int(i)].sample].frames[f] for i in batch["index"] for f in ds.items[int(i)].frames]
        for j, (key, frame) in enumerate(zip(batch["keys"], frames)):
            keep = inf.mask[j].cpu()
            boxes = inf.boxes[j].cpu()[keep]  # (K', 4) input-grid pixels
            scores = inf.scores[j].cpu()[keep]  # (K',)
            if len(boxes) == 0 and not method.needs_proposals:  # map-based method: its box comes from the map
                boxes, scores = map_box(inf.maps[j].cpu(), map_threshold)[None], inf.maps[j].max().cpu()[None]
            order = torch.sort(scores, descending=True, stable=True).indices
            boxes = rescale_boxes(boxes[order].float(), (S, S), (frame.height, frame.width))
            ranked = torch.cat([boxes, scores[order, None].float()], dim=1)  # (K', 5)
            rows = [[round(float(v), 4) for v in row] for row in ranked]
            boxes_out[key] = rows
            two_out[key] = [rows[r] for r in two_sources(ranked[:, :4])]
            maps[key] = inf.maps[j].float().cpu().numpy()
            keys.append(key)
        if inf.f_v is not None:  # the m_on distance is taken in the space the loss compares
            f_v.append(common_space(inf.f_v.float(), cfg.train.normalize).cpu())
            f_s.append(common_space(inf.f_s.float(), cfg.train.normalize).cpu())
        if inf.distance is not None:
            pos_d.append(inf.distance.float().cpu())
        if inf.d_on is not None:
            d_on.append(inf.d_on.float().cpu())
        if inf.neg_distance is not None:
            neg_d.append(inf.neg_distance.float().cpu())
        if inf.neg_d_on is not None:
            neg_d_on.append(inf.neg_d_on.float().cpu())
    seconds = time.perf_counter() - t0
    detach_caches(model)

    onscreen: dict[str, dict[str, Any]] = {}
    m_threshold = d_calibrated = None
    if not f_v:
        log(f"{out / 'onscreen.json'}: empty: {method.name} has no common-space features for m_on")
    elif neg_of is None:
        log(f"{out / 'onscreen.json'}: empty: the frames are of one video ({clip_videos[0]}), and m_on's calibration "
            "needs another video's frames as negatives (predict a set of two videos or more)")
    else:
        fv, fs = torch.cat(f_v), torch.cat(f_s)  # (F, d), frames in clip order, N per clip
        dist = torch.cat(pos_d) if pos_d else torch.linalg.vector_norm(fv - fs, dim=1)
        if neg_d:
            neg = torch.cat(neg_d)
        else:  # the frame against the f_s of the frame at the same position of its negative clip
            N = cfg.data.num_frames
            neg = torch.linalg.vector_norm(fv - fs[(neg_of[:, None] * N + torch.arange(N)).flatten()], dim=1)
        m_threshold = m_on_threshold(dist, neg)
        don = torch.cat(d_on) if d_on else None
        if don is not None and neg_d_on:  # d_on's label-free threshold, by m_on's rule on the same pairs
            d_calibrated = d_on_threshold(don, torch.cat(neg_d_on))
        on_m = dist < m_threshold  # (F,) bool
        dec = {"on_m": on_m} if don is None else onscreen_decisions(
            don, on_m, D_ON_THRESHOLD, None if d_calibrated is None else don > d_calibrated)  # the paper's OR rule
        for i, key in enumerate(keys):
            rec: dict[str, Any] = {"distance": round(float(dist[i]), 6), "on_m": bool(on_m[i])}
            if don is not None:
                rec["d_on"] = round(float(don[i]), 6)
            rec.update({c: bool(dec[c][i]) for c in ("on_d", "on_or", "on_dc", "on_orc") if c in dec})
            onscreen[key] = rec
    buf = io.BytesIO()
    np.savez_compressed(buf, **maps)
    info = {
        "run": str(run), "data": str(data), "split": split, "method": method.name, "frames": len(keys),
        "d_on_threshold": D_ON_THRESHOLD, "m_on_threshold": m_threshold, "d_on_threshold_calibrated": d_calibrated,
        "d_on_calibration": None if d_calibrated is None else
        "mean of the medians of d_on with the frame's own audio and with its negative clip's audio (m_on's rule)",
        "m_on_calibration": "mean of the medians of positive and negative pair distances on these frames; each clip's "
                            f"negative drawn from the whole split (seed {cfg.train.seed})"
                            + ("; negative pairs formed as in training" if neg_d else ""),
        "map_threshold": None if method.needs_proposals else map_threshold,
        "frames_per_s": round(len(keys) / max(seconds, 1e-9), 2),
        "skipped": ds.skipped,
    }
    write_set(out, {"boxes.json": boxes_out, "two_sources.json": two_out, "onscreen.json": onscreen,
                    "maps.npz": buf.getvalue()}, info)
    return info


def write_set(out: Path, files: dict[str, Any], info: dict[str, Any]) -> None:
    """Write the prediction files (`SET_FILES`: JSON objects, or bytes) and predictions.json (`info`, given the
    files' sha256 under "files") into `out` as one set: into a hidden folder inside `out` first, then moved into
    place, predictions.json first, so that a set cut short is refused by `eval` (`data.predfiles.check_member`)."""
    staging = out / f"{STAGING}{os.getpid()}"
    try:
        for name in SET_FILES:
            data = files[name]
            atomic_write_bytes(staging / name, data) if isinstance(data, bytes) else atomic_write_json(staging / name, data)
        info["files"] = {name: file_digest(staging / name) for name in SET_FILES}
        atomic_write_json(staging / INFO, info)
        for name in (INFO, *SET_FILES):
            os.replace(staging / name, out / name)
    except OSError as e:  # a full disk: name the folder the user gave, not the hidden one
        if e.filename is not None and Path(os.fsdecode(e.filename)).parent == staging:
            e.filename = str(out / Path(os.fsdecode(e.filename)).name)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="run folder written by `sslprop train`")
    p.add_argument("--data", required=True, help="data set folder (sslprop format)")
    p.add_argument("--out", required=True, help="folder for the prediction files")
    p.add_argument("--split", default="test", choices=["train", "test", "all"])
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--batch-size", type=positive_int, help="clips per forward (default: the run's); no decision depends on it")
    p.add_argument("--map-threshold", type=float, default=0.5, help="map-based methods: box threshold T on the min-max map")
    p.add_argument("--max-samples", type=positive_int, help="predict only the first N samples of the split")
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace) -> int:
    info = predict(args.run, args.data, args.out, split=args.split, device=args.device, batch_size=args.batch_size,
                   map_threshold=args.map_threshold, max_samples=args.max_samples, progress=not args.no_progress)
    print(json.dumps(info, indent=2))
    return 0
