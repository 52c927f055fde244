"""`python -m sslprop predict`: run a trained model on a data set and write what `sslprop eval` reads.

Files written into the output folder (keys: the sample id, or ``<sample id>/<frame index>`` for
a frame of a multi-frame sample):
    boxes.json        {key: [[x1, y1, x2, y2, score], ...]}  every kept proposal, best first
                      (score = d_k), absolute pixels of the stored frame: one-source localisation
    two_sources.json  {key: [[...best], [...second]]}  the best proposal and the best one that does
                      not overlap it (IoU = 0; if none, the one of least IoU): two-source localisation
    maps.npz          {key: float32 (S, S)}  the location map m_n on the model's input grid
    onscreen.json     {key: {d_on, distance, on_d, on_m, on_or}}  Table 1's criteria, with thresholds
    predictions.json  what was run: run, data, split, method, thresholds, counts
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from sslprop.data.dataset import SSLDataset, collate
from sslprop.engine.train import load_run
from sslprop.errors import SSLPropError
from sslprop.evaluation.predfiles import D_ON_THRESHOLD
from sslprop.models.frozen import attach_caches, detach_caches
from sslprop.models.losses import common_space
from sslprop.models.negatives import negative_indices
from sslprop.ops.boxes import map_box, rescale_boxes, two_sources
from sslprop.utils import atomic_write_bytes, atomic_write_json, check_out_folder, resolve_device


def calibrate_m_on(f_v: torch.Tensor, f_s: torch.Tensor, video_ids: list[str], seed: int = 0,
                   neg_distance: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    """Distances |f_v - f_s| of the true pairs and the m_on threshold of the paper (Sec. 4.2).

    The threshold is the mean of the medians of the Euclidean distances of the positive pairs
    (each frame with its own audio) and of negative pairs. A negative pair is, by default, the
    frame's f_v with the f_s of a frame of another video (drawn with `seed`); `neg_distance`
    Tensor[F] gives the negative distances instead, as the method's loss forms them (NaN where a
    frame has none; those are left out). It needs no labels; we compute it on the frames being
    predicted. f_v, f_s: Tensor[F, d]. Returns (positive distances Tensor[F], threshold).
    """
    pos = torch.linalg.vector_norm(f_v - f_s, dim=1)  # (F,)
    if neg_distance is not None:
        neg = neg_distance[~torch.isnan(neg_distance)]
        if len(neg) == 0:
            raise SSLPropError("m_on calibration: no frame has a negative pair (every batch holds one video)")
    else:
        if len(set(video_ids)) < 2:
            raise SSLPropError("m_on calibration needs frames of at least two videos")
        neg_idx = negative_indices(video_ids, torch.Generator().manual_seed(seed))
        neg = torch.linalg.vector_norm(f_v - f_s[neg_idx], dim=1)  # (F,)
    return pos, float((pos.median() + neg.median()) / 2)


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
    dev = resolve_device(device)
    method, model, cfg, state = load_run(run, dev, log)
    if split == "test":
        from sslprop.data.format import read_manifest

        everything = read_manifest(data)
        if everything and not any(s.split == "test" for s in everything):  # e.g. `import folder`: one's own videos, unsplit
            log(f"{data}: no test split; predicting all {len(everything)} samples (as --split all)")
            split = "all"
    ds = SSLDataset(data, split, cfg.data, with_proposals=method.needs_proposals,
                    max_proposals=cfg.model.max_proposals, max_samples=max_samples)
    if ds.skipped:
        log(f"{data}: {len(ds.skipped)} samples left out for silent audio, e.g. {next(iter(ds.skipped))} (listed in predictions.json)")
    loader = DataLoader(ds, batch_size=batch_size or cfg.train.batch_size, shuffle=False, collate_fn=collate)
    if cfg.train.freeze_encoders:  # the encoders' outputs on these frames are shared by every run with the same weights
        attach_caches(model, data, cfg.data)
    boxes_out: dict[str, list[list[float]]] = {}
    two_out: dict[str, list[list[float]]] = {}
    maps: dict[str, np.ndarray] = {}
    keys: list[str] = []
    videos: list[str] = []
    f_v, f_s, d_on, neg_d = [], [], [], []
    S = cfg.data.frame_size
    t0 = time.perf_counter()
    for batch in tqdm(loader, desc=f"predict {method.name}", disable=not progress, leave=False):
        inf = method.infer(model, batch, cfg)
        frames = [ds.samples[ds.items[int(i)].sample].frames[f] for i in batch["index"] for f in ds.items[int(i)].frames]
        vids = [v for v in batch["video_id"] for _ in range(cfg.data.num_frames)]
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
            videos.append(vids[j])
        if inf.f_v is not None:  # the m_on distance is taken in the space the loss compares
            f_v.append(common_space(inf.f_v.float(), cfg.train.normalize).cpu())
            f_s.append(common_space(inf.f_s.float(), cfg.train.normalize).cpu())
        if inf.d_on is not None:
            d_on.append(inf.d_on.float().cpu())
        if inf.neg_distance is not None:
            neg_d.append(inf.neg_distance.float().cpu())
    seconds = time.perf_counter() - t0
    detach_caches(model)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    onscreen: dict[str, dict[str, Any]] = {}
    m_on_threshold = None
    if f_v and len(set(videos)) >= 2:
        dist, m_on_threshold = calibrate_m_on(torch.cat(f_v), torch.cat(f_s), videos, cfg.train.seed,
                                              torch.cat(neg_d) if neg_d else None)
        don = torch.cat(d_on) if d_on else None
        for i, key in enumerate(keys):
            on_m = bool(dist[i] < m_on_threshold)
            rec: dict[str, Any] = {"distance": round(float(dist[i]), 6), "on_m": on_m}
            if don is not None:
                on_d = bool(don[i] > D_ON_THRESHOLD)
                rec.update(d_on=round(float(don[i]), 6), on_d=on_d, on_or=on_d or on_m)
            onscreen[key] = rec
    atomic_write_json(out / "boxes.json", boxes_out)
    atomic_write_json(out / "two_sources.json", two_out)
    atomic_write_json(out / "onscreen.json", onscreen)
    buf = io.BytesIO()
    np.savez_compressed(buf, **maps)
    atomic_write_bytes(out / "maps.npz", buf.getvalue())
    info = {
        "run": str(run), "data": str(data), "split": split, "method": method.name, "frames": len(keys),
        "d_on_threshold": D_ON_THRESHOLD, "m_on_threshold": m_on_threshold,
        "m_on_calibration": "mean of the medians of positive and negative pair distances on these frames"
                            + ("; negatives paired as in training (each frame localised with the other audio)" if neg_d else ""),
        "map_threshold": None if method.needs_proposals else map_threshold,
        "frames_per_s": round(len(keys) / max(seconds, 1e-9), 2),
        "skipped": ds.skipped,
    }
    atomic_write_json(out / "predictions.json", info)
    return info


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="run folder written by `sslprop train`")
    p.add_argument("--data", required=True, help="data set folder (sslprop format)")
    p.add_argument("--out", required=True, help="folder for the prediction files")
    p.add_argument("--split", default="test", choices=["train", "test", "all"])
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--map-threshold", type=float, default=0.5, help="map-based methods: box threshold T on the min-max map")
    p.add_argument("--max-samples", type=int)
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace) -> int:
    info = predict(args.run, args.data, args.out, split=args.split, device=args.device, batch_size=args.batch_size,
                   map_threshold=args.map_threshold, max_samples=args.max_samples, progress=not args.no_progress)
    print(json.dumps(info, indent=2))
    return 0
