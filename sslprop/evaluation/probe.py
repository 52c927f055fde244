"""`python -m sslprop probe`: has a trained proposal model learned the objects, or the backgrounds?

For every on-screen test frame the probe takes two boxes, the sounding object's exact box and
an object-free square of the background (a third of the frame's side, the first one on a grid
that overlaps no object), and passes each through the model's proposal stream (encoder map,
SPP, FC: the f_box of a proposal with that box). It then asks, for every pair of frames i, j
whose sounds are of different classes, whether the box of frame i is closer (cosine) to its
own sound f_s_i than to the sound f_s_j. The share of such pairs is 0.5 when the box carries
nothing about the sound. A model that learned the objects scores well above 0.5 on the
object box and near 0.5 on the background box; a model that learned the backgrounds scores
the two alike, high only where the background is the sound's preferred one (`scenes` records
that as ``meta["habitat_background"]``, so each share is also given for both groups).

Class labels are used here to form the pairs, for analysis only; no method trains on them.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from sslprop.data.dataset import SSLDataset, collate
from sslprop.engine.checkpoint import load_run
from sslprop.errors import SSLPropError
from sslprop.utils import resolve_device

GROUPS = ("all", "preferred background", "other background")


def background_box(objects: Sequence[Sequence[float]], side: int) -> list[float] | None:
    """The first square of side // 3 on a grid of step side // 12 that overlaps none of `objects` (xyxy), or None."""
    s, step = max(1, side // 3), max(1, side // 12)
    for y in range(0, side - s + 1, step):
        for x in range(0, side - s + 1, step):
            if all(x + s <= o[0] or o[2] <= x or y + s <= o[1] or o[3] <= y for o in objects):
                return [float(x), float(y), float(x + s), float(y + s)]
    return None


def own_sound_preference(box_f: torch.Tensor, sound_f: torch.Tensor, labels: Sequence[str], rows: Sequence[int],
                         chunk: int = 1024) -> tuple[float, int]:
    """Share of pairs (i in rows, j of another class) with cos(box_i, sound_i) > cos(box_i, sound_j), and their count.

    box_f: Tensor[F, d] (rows without a box are ignored by leaving them out of `rows`), sound_f: Tensor[F, d].
    """
    rows = list(rows)
    if not rows:
        return float("nan"), 0
    codes = {c: k for k, c in enumerate(sorted(set(labels)))}
    lab = torch.tensor([codes[c] for c in labels])
    s = F.normalize(sound_f.float(), dim=-1)
    wins = total = 0
    for start in range(0, len(rows), chunk):
        idx = torch.tensor(rows[start : start + chunk])
        b = F.normalize(box_f[idx].float(), dim=-1)
        cos = b @ s.T  # (r, F)
        own = cos[torch.arange(len(idx)), idx][:, None]  # (r, 1)
        other = lab[idx][:, None] != lab[None, :]  # (r, F)
        wins += int(((own > cos) & other).sum())
        total += int(other.sum())
    return (wins / total if total else float("nan")), total


@torch.no_grad()
def probe(run: str | os.PathLike, data: str | os.PathLike, split: str = "test", device: str | None = None,
          progress: bool = True) -> dict[str, Any]:
    """The probe of the module docstring for a trained `ours` run on `split` of `data`; returns the report."""

    dev = resolve_device(device)
    method, model, cfg, _ = load_run(run, dev, lambda m: None)
    if not all(hasattr(model, a) for a in ("visual", "spp", "fc_box", "embed_audio")):
        raise SSLPropError(f"{run}: the probe reads the proposal stream of an `ours` run, not of `{method.name}`")
    ds = SSLDataset(data, split, cfg.data, with_proposals=False)
    S = cfg.data.frame_size
    obj_f, bg_f, snd_f, labels, habitat, has_bg = [], [], [], [], [], []
    loader = DataLoader(ds, batch_size=cfg.train.batch_size, shuffle=False, collate_fn=collate)
    for batch in tqdm(loader, desc="probe", disable=not progress, leave=False):
        fmap = model.visual(batch["frames"].to(dev).flatten(0, 1))  # (B*N, C, h, w)
        f_s = model.embed_audio(batch["audio"].to(dev)).flatten(0, 1)  # (B*N, d)
        frames = [(ds.samples[ds.items[i].sample], fi) for i in batch["index"].tolist() for fi in ds.items[i].frames]
        boxes = []  # per frame of the batch: [object, background] boxes, none for a frame not probed
        for sample, fi in frames:
            fr = sample.frames[fi]
            sounding = [o for o in fr.objects if o.sounding]
            rows: list[list[float]] = []
            if fr.onscreen and sounding:
                sx, sy = S / fr.width, S / fr.height
                scale = lambda b: [b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy]  # noqa: B023  (called at once, inside the iteration)
                bg = background_box([scale(o.box) for o in fr.objects], S)
                rows = [scale(sounding[0].box)] + ([bg] if bg is not None else [])
                labels.append(sounding[0].label)
                habitat.append(sample.meta.get("habitat_background"))
                has_bg.append(bg is not None)
            boxes.append(torch.tensor(rows, device=dev, dtype=fmap.dtype).reshape(-1, 4))
        feats = model.fc_box(model.spp(fmap, boxes)).float().cpu()  # one row per box, frame by frame
        row = 0
        for n, b in enumerate(boxes):
            if len(b):
                obj_f.append(feats[row])
                bg_f.append(feats[row + 1] if len(b) == 2 else torch.zeros_like(feats[row]))
                snd_f.append(f_s[n].float().cpu())
            row += len(b)
    if len(set(labels)) < 2:
        raise SSLPropError(f"{data}: the probe needs on-screen {split} frames of at least two sound classes")
    obj, bg, snd = torch.stack(obj_f), torch.stack(bg_f), torch.stack(snd_f)
    rows = []
    for box, feats, present in (("object", obj, [True] * len(labels)), ("background", bg, has_bg)):
        for group in GROUPS:
            if group != "all" and all(h is None for h in habitat):
                continue  # no recorded co-occurrence bias in this set
            keep = [k for k, p in enumerate(present) if p and (group == "all" or (habitat[k] is True) == (group == "preferred background"))]
            share, pairs = own_sound_preference(feats, snd, labels, keep)
            rows.append({"box": box, "frames": group, "n_frames": len(keep), "pairs": pairs, "own_sound_preferred": share})
    return {"run": str(run), "data": str(data), "split": split, "frames": len(labels), "rows": rows}


def format_probe(report: dict[str, Any]) -> str:
    """The report as the table `python -m sslprop probe` prints."""
    lines = [f"{report['frames']} on-screen {report['split']} frames of {report['data']}; "
             "share of pairs whose box prefers its own sound over another class's (0.5: nothing learned)",
             f"{'box':12s} {'frames':22s} {'n':>6s} {'pairs':>10s} {'own sound preferred':>20s}"]
    for r in report["rows"]:
        lines.append(f"{r['box']:12s} {r['frames']:22s} {r['n_frames']:6d} {r['pairs']:10d} {r['own_sound_preferred']:20.3f}")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="run folder of a trained `ours` model")
    p.add_argument("--data", required=True, help="data set folder (sslprop format) with object boxes")
    p.add_argument("--split", default="test", choices=["train", "test", "all"])
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace) -> int:
    report = probe(args.run, args.data, args.split, args.device, progress=not args.no_progress)
    print(json.dumps(report, sort_keys=True) if args.json else format_probe(report))
    return 0
