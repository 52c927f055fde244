"""Notebook workflow: budgets, cached data sets, trained runs and predictions, and the small analyses the notebooks share.

Every notebook takes the same parameters (``profile``, ``data_root``, ``runs_root``,
``figures_dir``, ``seed``, ``device``, ``budget``) and asks this module for what it needs:

    data = ensure_dataset("scenes", data_root, budget, seed)      # generated once, proposals cached
    run = ensure_run("ours", data, runs_root, budget, seed)       # trained once (resumed if interrupted)
    preds = ensure_predictions(run, data)                         # `sslprop predict` output, once

Each call returns at once when its result is already on disk with the same settings, so
notebooks share data sets and runs: the first notebook that needs the `ours` run at
``budget="full"`` trains it, the next ones load it. A budget (`BUDGETS`) fixes the data
set sizes and the training length: ``smoke`` runs in seconds (CI), ``full`` is what
``make reproduce`` uses (minutes on a 2-core CPU for the whole paper).

Boxes are absolute pixels ``(x1, y1, x2, y2)`` everywhere.
"""

from __future__ import annotations

import fractions
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from sslprop.errors import SSLPropError

STAMP = ".ensure.json"  # what `ensure_dataset` made in a data set folder, with which settings


@dataclass(frozen=True)
class Budget:
    """How much work a notebook does.

    sizes:      samples generated per preset (solo, mosaic, scenes, sequences)
    test_fractions: share of each preset's samples in its test split (`synth --test-fraction`; default 0.25)
    epochs:     training epochs of `ensure_run`
    batch_size: clips per optimiser step of `ensure_run`
    examples:   samples drawn per figure
    ks:         the K values of top-K analyses
    """

    name: str
    sizes: dict[str, int] = field(hash=False)
    epochs: int
    batch_size: int
    examples: int
    ks: tuple[int, ...] = (1, 5, 10, 20, 30)
    test_fractions: dict[str, float] = field(default_factory=dict, hash=False)

    def test_fraction(self, preset: str) -> float:
        return float(self.test_fractions.get(preset, 0.25))


BUDGETS: dict[str, Budget] = {
    # seconds: enough samples for every split and figure to exist, one short epoch
    "smoke": Budget("smoke", {"solo": 16, "mosaic": 16, "scenes": 32, "sequences": 8}, epochs=1, batch_size=16, examples=2),
    # `make reproduce` on a 2-core CPU (pretrained frozen encoders): every table of notebooks 04-08 on at least 800
    # scored test frames per data set (scenes: 867 on-screen test frames at seed 0; sequences: all 2,720 frames of
    # its 340 clips, of which 1,280 in distance clips (Fig. 3) and 699 turns frames with both objects matched (Fig. 4))
    "full": Budget("full", {"solo": 1700, "mosaic": 1700, "scenes": 3700, "sequences": 340}, epochs=4, batch_size=32,
                   examples=4, test_fractions={"solo": 0.5, "mosaic": 0.5, "scenes": 0.3}),
}


def get_budget(budget: str | Budget) -> Budget:
    """The named budget (`smoke` or `full`); a `Budget` passes through."""
    if isinstance(budget, Budget):
        return budget
    try:
        return BUDGETS[budget]
    except KeyError:
        raise SSLPropError(f"budget {budget!r}: unknown (choose from {', '.join(BUDGETS)})") from None


def _digest(obj: Any, n: int = 8) -> str:
    """Short stable hash of a JSON-able object (key-sorted)."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:n]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


# --------------------------------------------------------------------------------------- data sets


def ensure_dataset(
    preset: str,
    root: str | os.PathLike,
    budget: str | Budget,
    seed: int,
    size: int | None = None,
    frame_size: int | None = None,
    workers: int | None = None,
) -> Path:
    """The embedded-benchmark data set `preset` with its Selective Search proposals cached; made once.

    Args:
        preset: "solo", "mosaic", "scenes" or "sequences" (`sslprop.data.synth.PRESETS`).
        root: folder holding the data sets (a notebook's ``data_root``).
        budget: "smoke" or "full"; sets the number of samples (`Budget.sizes`).
        seed: the generator's seed.
        size: number of samples, overriding the budget's.
        frame_size: frame side in pixels (default: the generator's, 96).
        workers: Selective Search processes (default: 1 for small sets, else every core).
    Returns:
        The data set folder ``root/<preset>-n<size>-s<seed>[-px<frame_size>]``. Calling again with
        the same settings reads one small stamp file and returns (no generation, no search).
        Proposals use `ProposalCache`'s defaults (fast mode, full frame, min size 4).
    """
    from sslprop.data import synth
    from sslprop.data.format import read_info
    from sslprop.proposals import ProposalCache, extract_dataset
    from sslprop.utils import atomic_write_json

    b = get_budget(budget)
    if preset not in synth.PRESETS:
        raise SSLPropError(f"preset {preset!r}: unknown (choose from {', '.join(synth.PRESETS)})")
    n = int(size if size is not None else b.sizes[preset])
    fraction = b.test_fraction(preset)
    name = (f"{preset}-n{n}-s{seed}" + ("" if fraction == 0.25 else f"-t{round(100 * fraction)}")
            + ("" if frame_size is None else f"-px{frame_size}"))
    out = Path(root) / name
    cache = ProposalCache(out)
    settings = {
        "preset": preset,
        "n": n,
        "seed": seed,
        "frame_size": frame_size,
        "test_fraction": fraction,
        "generator_version": synth.GENERATOR_VERSION,
        "proposals": cache.key,
    }
    stamp = _read_json(out / STAMP)
    if stamp == settings and (out / "manifest.jsonl").is_file() and (cache.dir / "index.json").is_file():
        return out
    info = read_info(out) if out.is_dir() else {}
    wanted = {"preset": preset, "seed": seed, "num_samples": n, "generator_version": synth.GENERATOR_VERSION,
              "size": frame_size if frame_size is not None else synth.DEFAULT_SIZE[preset], "test_fraction": fraction}
    if any(info.get(k) != v for k, v in wanted.items()):
        synth.generate(preset, n, seed, out, size=frame_size, test_fraction=fraction, progress=False)
    workers = workers if workers is not None else (1 if n <= 64 else None)
    stats = extract_dataset(out, workers=workers, progress=False)
    if stats.failed:
        first = next(iter(stats.failed.values()))
        raise SSLPropError(f"{out}: Selective Search failed on {len(stats.failed)} frame(s), e.g. {first}")
    atomic_write_json(out / STAMP, settings)
    return out


def dataset_summary(root: str | os.PathLike) -> dict[str, Any]:
    """One row describing a data set: preset, samples per split, frames, on/off-screen shares, classes, annotators.

    Returns keys: name, train, test, frames, onscreen (share of frames with onscreen True),
    offscreen (share with onscreen False), classes (distinct sounding classes),
    sounding_per_frame and silent_per_frame (mean objects), annotators (max per frame),
    proposals (mean Selective Search boxes per frame, 0 when not cached).
    """
    from sslprop.data.format import read_info, read_manifest
    from sslprop.proposals import ProposalCache

    root = Path(root)
    samples = read_manifest(root)
    info = read_info(root)
    frames = [f for s in samples for f in s.frames]
    counts = ProposalCache(root).read_index().get("counts", {})
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
        "annotators": max((len(f.annotators) for f in frames), default=0),
        "proposals": float(np.mean(list(counts.values()))) if counts else 0.0,
    }


def sample_masks(root: str | os.PathLike, sample_id: str) -> list[list[np.ndarray]]:
    """The exact alpha masks of a generated sample's objects: masks[n][j] is bool (H, W) of frames[n].objects[j].

    Masks are not stored on disk; the sample is rebuilt from its data set's seed (generation is
    deterministic per sample), and its boxes are checked against the manifest's.
    """
    from sslprop.data import synth
    from sslprop.data.format import read_info, read_manifest

    root = Path(root)
    info = read_info(root)
    if info.get("source") != "synth":
        raise SSLPropError(f"{root}: not a generated data set (masks exist only for `sslprop synth` sets)")
    preset, seed = info["preset"], int(info["seed"])
    try:
        index = int(sample_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise SSLPropError(f"{root}: {sample_id!r} is not a generated sample id") from None
    bank = synth.subset_bank(synth.load_bank(), info.get("class_subset", "all"))
    built = synth.build_sample(preset, bank, seed, index, int(info["size"]), float(info["test_fraction"]), info.get("bias"))
    stored = {s.id: s for s in read_manifest(root)}.get(sample_id)
    if stored is None:
        raise SSLPropError(f"{root}: no sample {sample_id!r}")
    if [[o.box for o in f.objects] for f in built.sample.frames] != [[o.box for o in f.objects] for f in stored.frames]:
        raise SSLPropError(f"{root}: sample {sample_id} does not rebuild to the stored boxes (generator changed?)")
    return built.masks


# --------------------------------------------------------------------------------------- runs


def run_config(profile: str, budget: str | Budget, seed: int, device: str = "cpu", overrides: Mapping[str, Any] | None = None):
    """The `Config` of `ensure_run`: the profile, the budget's epochs and batch size, the seed and device, then `overrides`.

    overrides: dotted keys, e.g. {"model.scorer": "sum", "model.k": 10, "train.epochs": 3}.
    """
    from sslprop.config import get_profile

    b = get_budget(budget)
    base = {"train.epochs": b.epochs, "train.batch_size": b.batch_size, "train.seed": seed, "train.device": device}
    return get_profile(profile).replace(**{**base, **dict(overrides or {})})


def ensure_run(
    method: str,
    data: str | os.PathLike,
    runs_root: str | os.PathLike,
    budget: str | Budget,
    seed: int,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
    profile: str = "cpu",
    device: str = "cpu",
    log: Callable[[str], None] = lambda msg: None,
) -> Path:
    """A finished training run of `method` on the train split of `data`; trained once, resumed if interrupted.

    Args:
        method: "ours" or a baseline's name (`sslprop.methods.METHODS`).
        data: a data set folder (e.g. from `ensure_dataset`).
        runs_root: folder holding the run folders (a notebook's ``runs_root``).
        budget, seed, overrides, profile, device: see `run_config`.
        name: run folder name; default ``<method>-<data folder>-<budget>-<hash of method, config, data>``,
            so that different settings never share a folder.
        log: where the trainer's messages go (default: nowhere).
    Returns:
        The run folder (config.json, latest.pth, metrics.jsonl). A finished run is returned after
        reading its checkpoint; an interrupted one continues from latest.pth to the same result
        as an uninterrupted run; a folder holding another configuration is an `SSLPropError`.
    """
    from sslprop.train import CHECKPOINT, train

    cfg = run_config(profile, budget, seed, device, overrides)
    data = Path(data)
    b = get_budget(budget)
    folder = Path(runs_root) / (name or f"{method}-{data.name}-{b.name}-{_digest([method, cfg.to_dict(), data.name])}")
    done = folder / ".finished.json"
    marker = json.loads(json.dumps({"method": method, "config": cfg.to_dict()}))  # as read back (tuples -> lists)
    if _read_json(done) == marker and (folder / CHECKPOINT).is_file():
        return folder
    train(cfg, data, folder, method=method, resume=(folder / CHECKPOINT).exists(), progress=False, log=log)
    from sslprop.utils import atomic_write_json

    atomic_write_json(done, marker)
    return folder


def training_summary(run: str | os.PathLike) -> dict[str, Any]:
    """What a trained `ours` run's log says about learning: its last epoch's L_tri beside chance.

    Returns {"run", "epochs", "training clips/s", "first L_tri", "last L_tri", "chance", "learned"}: chance is
    L_tri where the own and the other audio are equally far (d+ = d-, times N frames per clip),
    computed with the loss function itself; "learned" is True when the last L_tri is at least
    0.02 below it.
    """
    import torch

    from sslprop.losses import distance_ratio_loss

    run = Path(run)
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    if not history or "tri" not in history[-1]:
        raise SSLPropError(f"{run}: no L_tri in metrics.jsonl (not an `ours` run?)")
    cfg = json.loads((run / "config.json").read_text())["config"]
    e1 = torch.tensor([[1.0, 0.0]])
    chance = cfg["data"]["num_frames"] * float(distance_ratio_loss(e1, e1 * 0.5, e1 * 0.5))
    last = float(history[-1]["tri"])
    return {"run": run.name, "epochs": len(history), "training clips/s": float(np.mean([h["clips_per_s"] for h in history])),
            "first L_tri": float(history[0]["tri"]), "last L_tri": last, "chance": chance, "learned": last <= chance - 0.02}


def training_sentence(run: str | os.PathLike) -> str:
    """One generated sentence: the run's last L_tri beside chance, and whether that shows learning."""
    t = training_summary(run)
    verdict = ("the proposal-level features are closer to their own audio than to another video's: the model has learned"
               if t["learned"] else "not 0.02 below chance: this run has not learned to tell its audio from another video's")
    span = (f"L_tri {t['last L_tri']:.3f} after its one epoch" if t["epochs"] == 1 else
            f"L_tri {t['first L_tri']:.3f} in epoch 1, {t['last L_tri']:.3f} in epoch {t['epochs']}")
    return f"Run {t['run']}: {span} (chance {t['chance']:.3f}); {verdict}."


def ensure_predictions(
    run: str | os.PathLike,
    data: str | os.PathLike,
    split: str = "test",
    device: str = "cpu",
    log: Callable[[str], None] = lambda msg: None,
) -> Path:
    """`sslprop predict` of `run` on `split` of `data`, written once into ``run/predictions-<data>-<split>``.

    Returns the folder holding boxes.json, two_sources.json, maps.npz, onscreen.json and
    predictions.json (see `sslprop.predict`); when predictions.json is there it is returned as is.
    """
    from sslprop.predict import predict

    out = Path(run) / f"predictions-{Path(data).name}-{split}"
    if (out / "predictions.json").is_file():
        return out
    predict(run, data, out, split=split, device=device, progress=False, log=log)
    return out


# --------------------------------------------------------------------------------------- model outputs


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
    from sslprop.data.format import read_manifest

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
    import torch

    from sslprop.data.dataset import SSLDataset, collate
    from sslprop.proposals import rescale_boxes
    from sslprop.train import load_run

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


# --------------------------------------------------------------------------------------- analyses


def centre_map(size: int, sigma: float = 0.25) -> np.ndarray:
    """A reference location map with no learning: an isotropic Gaussian at the frame's centre.

    Returns float32 (size, size), peak 1, standard deviation `sigma` * size.
    """
    c = (np.arange(size, dtype=np.float64) + 0.5) / size - 0.5
    g = np.exp(-(c[:, None] ** 2 + c[None, :] ** 2) / (2 * sigma**2))
    return g.astype(np.float32)


def oracle_map(gt_boxes: np.ndarray, size: int) -> np.ndarray:
    """A reference location map from the ground truth: the annotators' boxes summed (a consensus map).

    gt_boxes: (G, 4) xyxy pixels of a size x size frame -> float32 (size, size) (zeros when G = 0).
    """
    from sslprop.proposals import box_cells

    import torch

    m = np.zeros((size, size), dtype=np.float32)
    if len(gt_boxes):
        for x1, y1, x2, y2 in box_cells(torch.as_tensor(np.asarray(gt_boxes, dtype=np.float32)), size, size).tolist():
            m[y1:y2, x1:x2] += 1.0
    return m


def part_map(mask: np.ndarray, share: float = 0.3, blur: float = 2.0) -> np.ndarray:
    """A location map peaked on a discriminative part of an object (Fig. 1, weakness 1).

    The part is the top `share` of the object's mask rows (e.g. an animal's head), smoothed
    by a Gaussian of `blur` pixels. mask: bool (H, W) -> float32 (H, W), peak 1.
    """
    import cv2

    ys = np.nonzero(mask.any(axis=1))[0]
    if len(ys) == 0:
        raise SSLPropError("part_map: empty mask")
    cut = ys.min() + max(1, int(round(share * (ys.max() + 1 - ys.min()))))
    part = mask.copy()
    part[cut:] = False
    m = cv2.GaussianBlur(part.astype(np.float32), (0, 0), blur)
    return m / max(float(m.max()), 1e-12)


def blurred_map(masks: Sequence[np.ndarray], weights: Sequence[float], blur: float = 4.0) -> np.ndarray:
    """A smooth location map like those of map-based methods: sum_j weights[j] * Gaussian-blurred masks[j].

    masks: bool (H, W) object masks; weights: one per mask (e.g. 1 for the sounding object, 0.5 for a
    co-occurring silent one); each blurred mask is scaled to peak 1 before weighting, so a small object
    is not drowned by a large one. blur: the Gaussian's standard deviation in pixels. Returns float32 (H, W), peak 1.
    """
    import cv2

    if not masks or len(masks) != len(weights):
        raise SSLPropError(f"blurred_map: {len(masks)} masks for {len(weights)} weights (need equal, at least one)")
    parts = [cv2.GaussianBlur(mk.astype(np.float32), (0, 0), blur) for mk in masks]
    m = sum(w * p / max(float(p.max()), 1e-12) for p, w in zip(parts, weights))
    return (m / max(float(m.max()), 1e-12)).astype(np.float32)


@dataclass
class PartCase:
    """Fig. 1's first weakness on one real cut-out: a map peaked on a part, its box, and the proposals' best.

    image:         RGB uint8 (H, W, 3), the stored frame
    part_map:      float32 (H, W), peaked on the top of the sounding object (`part_map`)
    object_box:    the sounding object's exact box, xyxy pixels
    map_box:       the box a map-based method reads from `part_map` at `threshold` (`sslprop.predict.map_box`)
    map_iou:       IoU(map_box, object_box)
    proposals:     (K', 4) the top-K Selective Search proposals ranked on `part_map` by `scorer`
    proposal_box:  the one of them with the highest IoU with the object
    proposal_iou:  that IoU
    """

    sample_id: str
    label: str
    image: np.ndarray
    part_map: np.ndarray
    object_box: list[float]
    map_box: list[float]
    map_iou: float
    proposals: np.ndarray
    proposal_box: list[float]
    proposal_iou: float


def discriminative_part_case(root: str | os.PathLike, sample_id: str, k: int = 20, scorer: str = "mean",
                             threshold: float = 0.5, share: float = 0.3) -> PartCase:
    """Build a `PartCase` for the first sounding object of a generated single-frame sample (cached proposals)."""
    import torch
    from torchvision.ops import box_iou

    from sslprop.data.dataset import read_frame
    from sslprop.data.format import read_manifest
    from sslprop.predict import map_box
    from sslprop.proposals import ProposalCache, score_boxes, select_topk

    root = Path(root)
    sample = {s.id: s for s in read_manifest(root)}[sample_id]
    frame = sample.frames[0]
    j = next((i for i, o in enumerate(frame.objects) if o.sounding), None)
    if j is None:
        raise SSLPropError(f"{root}: sample {sample_id} has no sounding object in view")
    pm = part_map(sample_masks(root, sample_id)[0][j], share)
    obj = list(frame.objects[j].box)
    mbox = map_box(torch.from_numpy(pm), threshold).tolist()
    props = torch.from_numpy(ProposalCache(root).get(frame.path))  # (P, 4) stored-frame pixels
    top = select_topk([props], score_boxes(torch.from_numpy(pm)[None], [props], scorer), k)
    kept = top.boxes[0][top.mask[0]]  # (K', 4)
    ious = box_iou(kept, torch.tensor([obj]))[:, 0]  # (K',)
    best = int(torch.argmax(ious))
    return PartCase(sample_id, frame.objects[j].label, read_frame(root / frame.path), pm, obj, mbox,
                    box_iou_np(mbox, obj), kept.numpy(), kept[best].tolist(), float(ious[best]))


def mass_ratio(score_map: Any, box: Sequence[float]) -> float:
    """Mean of a map inside a box divided by its mean over the frame (1: no preference; > 1: the box is favoured).

    score_map: (H, W) Tensor or array, non-negative; box: xyxy pixels (covering at least one cell).
    """
    import torch

    from sslprop.proposals import box_cells

    m = torch.as_tensor(np.asarray(score_map, dtype=np.float64))
    x1, y1, x2, y2 = box_cells(torch.tensor([[float(v) for v in box]]), m.shape[0], m.shape[1])[0].tolist()
    total = float(m.mean())
    return float(m[y1:y2, x1:x2].mean()) / total if total > 0 else float("nan")


def topk_recall(
    grms: Sequence[Any],
    proposals: Sequence[Any],
    gt: Sequence[Any],
    ks: Sequence[int],
    scorers: Sequence[str],
    iou: float = 0.5,
) -> dict[str, dict[int, float]]:
    """How often the top K proposals by the GRM contain the annotated source, per scorer and K.

    Args:
        grms: per frame Tensor[H, W], a GRM (or any map: scorers rank on it).
        proposals: per frame Tensor[P_i, 4], xyxy pixels of the H x W grid.
        gt: per frame Tensor[G_i, 4], every annotator's box on the same grid; frames with G_i = 0
            (off-screen) are left out.
        ks: the K values; scorers: names from `sslprop.proposals.SCORERS`.
        iou: a proposal contains the source when its IoU with any annotator's box is at least this.
    Returns:
        {scorer: {K: recall}} over the annotated frames, plus {"all": {0: share of frames where ANY
        proposal reaches `iou`}}, the upper bound every K approaches.
    """
    import torch
    from torchvision.ops import box_iou

    from sslprop.proposals import score_boxes, select_topk

    keep = [i for i, g in enumerate(gt) if len(g)]
    if not keep:
        raise SSLPropError("topk_recall: no frame has an annotated source")
    g_maps = torch.stack([torch.as_tensor(grms[i]).float() for i in keep])  # (F, H, W)
    props = [torch.as_tensor(proposals[i]).float().reshape(-1, 4) for i in keep]
    hits = [box_iou(p, torch.as_tensor(gt[i]).float()).amax(dim=1) >= iou if len(p) else torch.zeros(0, dtype=torch.bool)
            for p, i in zip(props, keep)]  # per frame (P_i,)
    result: dict[str, dict[int, float]] = {}
    for scorer in scorers:
        scores = score_boxes(g_maps, props, scorer)
        top = select_topk(props, scores, max(ks))
        row = {}
        for k in ks:
            found = [bool(h[top.index[f, :k][top.mask[f, :k]]].any()) for f, h in enumerate(hits)]
            row[int(k)] = sum(found) / len(found)
        result[scorer] = row
    result["all"] = {0: sum(bool(h.any()) for h in hits) / len(hits)}
    return result


def top1_area(grms: Sequence[Any], proposals: Sequence[Any], scorer: str) -> list[float]:
    """Area of each frame's best proposal under `scorer`, as a share of the frame (1.0: the whole frame).

    grms: per frame Tensor[H, W]; proposals: per frame Tensor[P_i, 4] xyxy pixels of that grid (P_i >= 1).
    """
    import torch

    from sslprop.proposals import score_boxes, select_topk

    g = torch.stack([torch.as_tensor(m).float() for m in grms])  # (F, H, W)
    props = [torch.as_tensor(p).float().reshape(-1, 4) for p in proposals]
    top = select_topk(props, score_boxes(g, props, scorer), 1).boxes[:, 0].double()  # (F, 4)
    area = ((top[:, 2] - top[:, 0]) * (top[:, 3] - top[:, 1])) / (g.shape[1] * g.shape[2])  # (F,)
    return [float(a) for a in area]


def box_iou_np(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two xyxy boxes (torchvision.ops.box_iou on one pair)."""
    import torch
    from torchvision.ops import box_iou

    pair = torch.tensor([[float(v) for v in a], [float(v) for v in b]], dtype=torch.float32)  # (2, 4)
    return float(box_iou(pair[:1], pair[1:])[0, 0])


def cooccurrence_stats(root: str | os.PathLike) -> dict[str, Any]:
    """The recorded co-occurrence bias of a `scenes` set, measured on its on-screen samples.

    Returns shares: habitat (the background is the sounding class's preferred one), companion
    (the class's companion object is in view, silent), and, for comparison, the share of
    on-screen samples with at least one silent object.
    """
    from sslprop.data.format import read_info, read_manifest

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


# --------------------------------------------------------------------------------------- real-data demo


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray], audio: np.ndarray, fps: int = 5, sample_rate: int = 16000) -> Path:
    """Encode RGB uint8 frames (H, W, 3), H and W even, and mono float audio in [-1, 1] as an H.264 + AAC mp4 (PyAV)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"crf": "18"}
        a = c.add_stream("aac", rate=sample_rate)
        a.layout = "mono"
        for f in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        x = np.asarray(audio, dtype=np.float32)
        step = a.codec_context.frame_size or 1024
        for s in range(0, len(x), step):
            chunk = av.AudioFrame.from_ndarray(x[None, s : s + step].copy(), format="flt", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = sample_rate, s, fractions.Fraction(1, sample_rate)
            for p in a.encode(chunk):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


def write_vggss_demo(src_data: str | os.PathLike, out: str | os.PathLike, ids: Sequence[str], seconds: float = 2.0) -> Path:
    """Write a tiny VGG-SS source in its native layout from generated samples: vggss.json + video/<clip>.mp4.

    Each sample's frame is held for `seconds` (5 fps) over its audio (looped), and the first
    annotator's box becomes the entry's normalised ``bbox``; file ids are ``<11 chars>_<6-digit start>``
    as in VGG-SS, the videos ``<ytid>_<start ms>_<end ms>.mp4`` as VGGSound clips are named.
    Returns `out`, ready for ``python -m sslprop import vggss OUT``.
    """
    import cv2

    from sslprop.data.audio import load_audio
    from sslprop.data.format import read_manifest

    src_data, out = Path(src_data), Path(out)
    by_id = {s.id: s for s in read_manifest(src_data)}
    entries = []
    for j, sid in enumerate(ids):
        s = by_id.get(sid)
        if s is None or not s.frames[0].annotators:
            raise SSLPropError(f"{src_data}: {sid!r} is not an on-screen sample of this set")
        f = s.frames[0]
        rgb = cv2.cvtColor(cv2.imread(str(src_data / f.path)), cv2.COLOR_BGR2RGB)
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
