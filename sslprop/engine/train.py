"""One trainer for every method: seeded, resumable, checkpointed, AMP on CUDA, DDP under torchrun.

A run folder holds
    config.json     the full Config, the method, the data set and the weight files used
    latest.pth      the checkpoint (model, optimiser, progress, history, config), written atomically
                    (`sslprop.engine.checkpoint`, which also reads runs back: `load_run`, `export_run`)
    metrics.jsonl   one line per finished epoch (loss parts, clips/s, wall time): the checkpoint's
                    history, written after it (and again on --resume), so it never runs ahead of it
    .lock           held while a train runs in the folder (`utils.folder_lock`): a second is refused
`--resume` continues an interrupted run from `latest.pth` to the same result as an
uninterrupted one: data order comes from (seed, epoch), negatives from (seed, epoch, step).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import cv2
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm.auto import tqdm

from sslprop.argtypes import nonnegative_int, positive_int
from sslprop.config import OVERLAYS, Config, get_profile
from sslprop.data.dataset import SSLDataset, collate
from sslprop.data.proposals import available_cores
from sslprop.engine.checkpoint import (
    CHECKPOINT,
    CHECKPOINT_VERSION,
    build_method_model,
    data_fingerprint,
    load_checkpoint,
    save_checkpoint,
)
from sslprop.errors import SSLPropError
from sslprop.models.encoders import resolve_weights
from sslprop.models.frozen import attach_caches, flush_caches
from sslprop.models.methods import METHODS, get_method
from sslprop.models.negatives import StepContext
from sslprop.ops.grm import SCORERS
from sslprop.utils import (
    atomic_write_json,
    atomic_write_text,
    folder_lock,
    resolve_device,
    seed_everything,
)

METRICS = "metrics.jsonl"
RESUME = "the last checkpoint is kept; run the same command with --resume to continue from it"


# --------------------------------------------------------------------------------------- distributed


def _dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) without it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    return int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0"))


def _init_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    rank, world, local = _dist_info()
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


# --------------------------------------------------------------------------------------- training


def _batches(sampler: DistributedSampler, batch_size: int) -> list[list[int]]:
    """The epoch's index order (set by the sampler's seed and epoch), cut into full batches."""
    order = list(sampler)
    return [order[i : i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]


class EpochBatches(Sampler):
    """The batches of the pass about to start, set before each pass (`batches`), so that one DataLoader, and its
    persistent workers, serves every epoch; a resumed epoch gets the batches it has left."""

    def __init__(self, batches: list[list[int]] | None = None) -> None:
        self.batches = list(batches or [])

    def __iter__(self) -> Iterator[list[int]]:
        return iter(list(self.batches))

    def __len__(self) -> int:
        return len(self.batches)


PREFETCH_FACTOR = 4  # batches each worker keeps ready (DataLoader's default is 2)


def make_loader(dataset: Dataset, batches: EpochBatches, num_workers: int, device: torch.device) -> DataLoader:
    """The training DataLoader: `num_workers` worker processes that persist across epochs, started with spawn
    (a forked child can deadlock in OpenCV once the parent has used its thread pool, as the proposal pool
    found), `PREFETCH_FACTOR` batches ahead each; pinned host memory when the model is on CUDA, so that the
    copy to the GPU overlaps the step (`batch_inputs` copies without blocking). With 0 workers the main process
    reads the batches itself, and the dataset's in-memory cache then serves every later epoch."""
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra = {"persistent_workers": True, "prefetch_factor": PREFETCH_FACTOR,
                 "multiprocessing_context": multiprocessing.get_context("spawn"), "worker_init_fn": _worker_init}
    return DataLoader(dataset, batch_sampler=batches, collate_fn=collate, num_workers=num_workers,
                      pin_memory=device.type == "cuda", **extra)


def loader_workers(requested: int, log: Callable[[str], None] = print) -> int:
    """`train.num_workers`, at most the cores this process may use divided among torchrun's local processes (more
    workers than cores only contend: the paper profile's 8 on a 2-core machine spent a minute starting up)."""

    cores = max(1, available_cores() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    if requested > cores:
        log(f"{requested} DataLoader workers > {cores} cores for this process: using {cores}")
        return cores
    return requested


def _worker_init(worker_id: int) -> None:
    """A DataLoader worker: one torch and one OpenCV thread (the workers are the parallelism)."""

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def train(
    cfg: Config,
    data: str | os.PathLike,
    out: str | os.PathLike,
    method: str = "ours",
    resume: bool = False,
    visual_weights: str | None = None,
    audio_weights: str | None = None,
    max_samples: int | None = None,
    checkpoint_every: int = 0,
    max_steps: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Train `method` on the train split of `data`, writing the run folder `out`; returns the epoch log.

    checkpoint_every: also checkpoint every that many optimiser steps (0: at epoch ends only).
    max_steps:        stop (checkpointed, resumable) after that many optimiser steps in this call.
    The run folder is locked while this runs (by the main process): a second train into it is refused.
    """
    m = get_method(method)
    device = resolve_device(cfg.train.device)
    rank, world, device = _init_distributed(device)
    with folder_lock(out, "train") if rank == 0 else nullcontext():
        return _train(cfg, data, Path(out), m, method, resume, visual_weights, audio_weights, max_samples,
                      checkpoint_every, max_steps, progress, log, rank, world, device)


def _train(cfg, data, out: Path, m, method, resume, visual_weights, audio_weights, max_samples, checkpoint_every,
           max_steps, progress, log, rank, world, device) -> list[dict[str, Any]]:
    tc = cfg.train
    main_process = rank == 0
    say = log if main_process else (lambda msg: None)

    ckpt_path = out / CHECKPOINT
    fingerprint = data_fingerprint(data)
    state: dict[str, Any] | None = None
    if ckpt_path.exists():
        if not resume:
            raise SSLPropError(f"{out}: run folder already holds a checkpoint (use --resume to continue it, or another --out)")
        state = load_checkpoint(ckpt_path)
        if state["method"] != method or Config.from_dict(state["config"]) != cfg:
            raise SSLPropError(f"{ckpt_path}: --resume with another method or configuration than the run's own ({out / 'config.json'})")
        if state.get("data_fingerprint", fingerprint) != fingerprint or state.get("max_samples", max_samples) != max_samples:
            raise SSLPropError(f"{ckpt_path}: --resume with another data set (or --max-samples) than the run's own, "
                               f"{state.get('data')} ({out / 'config.json'})")
        if main_process:  # a save cut short between the checkpoint and the log: the log follows the checkpoint
            _write_metrics(out, state["history"])
        if state.get("finished"):
            say(f"{out}: run already finished ({state['epoch']} epochs); nothing to do")
            return state["history"]
    elif resume:
        say(f"{out}: no checkpoint yet, starting a new run")

    # the encoders' weight files (paper profile: found in or downloaded into torch.hub's cache) before the data set
    # is read, so that a missing download is one line at once; under torchrun the main process downloads first.
    if state is None:
        if main_process:
            used_weights = resolve_weights(cfg.model, visual_weights, audio_weights, say)
        if world > 1:
            dist.barrier()
        if not main_process:
            used_weights = resolve_weights(cfg.model, visual_weights, audio_weights, say)
        build_cfg, load_weights = cfg, used_weights
        if not getattr(m, "audio_encoder", True):  # a method with its own audio network (pixelplayer) takes no audio file
            used_weights = load_weights = (used_weights[0], None) if audio_weights is None else used_weights
    else:  # resumed: the weights come from the checkpoint, no file is read; config.json keeps what the run started from
        started = json.loads((out / "config.json").read_text(encoding="utf-8")) if (out / "config.json").is_file() else {}
        used_weights = (started.get("visual_weights"), started.get("audio_weights"))
        build_cfg, load_weights = cfg.replace(**{"model.pretrained": False}), (None, None)

    seed_everything(tc.seed)
    # without workers the main process keeps decoded frames and patches in memory; workers keep the patches on disk
    dataset = SSLDataset(data, "train", cfg.data, with_proposals=m.needs_proposals, max_proposals=cfg.model.max_proposals,
                         max_samples=max_samples, cache=tc.num_workers == 0, example_cache=tc.num_workers > 0)
    if dataset.skipped:
        say(f"{data}: {len(dataset.skipped)} training samples left out for silent audio, e.g. {next(iter(dataset.skipped))}")
    model = build_method_model(m, build_cfg, load_weights[0], load_weights[1], say).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if tc.freeze_encoders:
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        say(f"encoders frozen ({frozen:,} parameters; {sum(p.numel() for p in trainable):,} train), outputs cached")
    optimizer = torch.optim.Adam(trainable, lr=tc.lr)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: cuDNN picks the fastest kernels once
    use_amp = tc.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    epoch, step, history = 0, 0, []
    partial: dict[str, Any] = {}  # the running epoch's sums, kept in mid-epoch checkpoints
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        epoch, step, history = state["epoch"], state["step"], state["history"]
        partial = state.get("partial") or {}
        say(f"{out}: resuming at epoch {epoch + 1}, step {step}")
    if tc.freeze_encoders:
        attach_caches(model, data, cfg.data)  # DATA/encoder-cache/: later epochs and runs do not encode again

    batch_size = tc.batch_size
    per_rank = len(dataset) // world
    if per_rank < 2:
        raise SSLPropError(f"{data}: {len(dataset)} training clips are too few for {world} process(es) (need 2 per process)")
    if batch_size > per_rank:
        say(f"batch size {batch_size} > {per_rank} training clips per process: using {per_rank}")
        batch_size = per_rank

    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=not cfg.model.select_proposals,
        )
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=tc.seed, drop_last=True)

    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "config.json", {
            "method": method, "data": str(Path(data).resolve()), "world_size": world, "max_samples": max_samples,
            "visual_weights": used_weights[0], "audio_weights": used_weights[1], "config": cfg.to_dict(),
        })

    def checkpoint(finished: bool = False) -> None:
        flush_caches(model)
        if main_process:
            save_checkpoint(ckpt_path, {
                "version": CHECKPOINT_VERSION, "method": method, "config": cfg.to_dict(), "data": str(data),
                "data_fingerprint": fingerprint, "max_samples": max_samples,
                "epoch": epoch, "step": step, "finished": finished, "history": history,
                "partial": {"sums": dict(sums), "n_steps": n_steps, "clips": clips, "seconds": time.perf_counter() - t0}
                if step else None,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
            })
        if world > 1:
            dist.barrier()

    epoch_batches = EpochBatches()
    loader = make_loader(dataset, epoch_batches, loader_workers(tc.num_workers, say), device)
    steps_this_call = 0
    sums: dict[str, float] = {}
    n_steps, clips, t0 = 0, 0, time.perf_counter()
    stop = _StopRequest()
    try:
        while epoch < tc.epochs:
            sampler.set_epoch(epoch)
            batches = _batches(sampler, batch_size)
            epoch_batches.batches = batches[step:]
            net.train()
            # a resumed epoch continues its sums, so its metrics equal those of an uninterrupted run
            sums = dict(partial.get("sums", {})) if step else {}
            n_steps, clips = (int(partial.get("n_steps", 0)), int(partial.get("clips", 0))) if step else (0, 0)
            t0 = time.perf_counter() - (float(partial.get("seconds", 0.0)) if step else 0.0)
            partial = {}
            bar = tqdm(loader, total=len(batches), initial=step, desc=f"{method} epoch {epoch + 1}/{tc.epochs}",
                       disable=not (progress and main_process), leave=False)
            for batch in bar:
                autocast = torch.autocast(device.type, dtype=amp_dtype) if use_amp else nullcontext()
                with autocast:
                    loss, parts = m.loss(net, batch, StepContext.at(tc.seed, epoch, step), cfg)
                if not math.isfinite(float(loss.detach())):
                    raise SSLPropError(f"{out}: loss became {float(loss.detach())} at epoch {epoch + 1}, step {step} (lower --lr?)")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                step += 1
                steps_this_call += 1
                n_steps += 1
                clips += len(batch["video_id"])
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v
                if n_steps % max(tc.log_every, 1) == 0 or step == len(batches):
                    bar.set_postfix(loss=f"{sums.get('loss', 0.0) / n_steps:.4f}")
                if checkpoint_every and step % checkpoint_every == 0 and step < len(batches):
                    checkpoint()
                if max_steps is not None and steps_this_call >= max_steps and step < len(batches):
                    checkpoint()
                    say(f"{out}: stopped after {steps_this_call} steps (resume with --resume)")
                    return history
                if stop.requested and step < len(batches):  # Ctrl-C or SIGTERM: save this finished step, then stop
                    checkpoint()
                    raise KeyboardInterrupt
            bar.close()
            seconds = time.perf_counter() - t0
            record = {"epoch": epoch + 1, "steps": len(batches), **{k: v / max(n_steps, 1) for k, v in sums.items()},
                      "seconds": round(seconds, 3), "clips_per_s": round(clips * world / max(seconds, 1e-9), 2)}
            history.append(record)
            epoch, step = epoch + 1, 0
            checkpoint(finished=epoch >= tc.epochs)  # first: metrics.jsonl never holds an epoch the checkpoint lacks
            if main_process:
                _write_metrics(out, history)
            say(f"epoch {record['epoch']}/{tc.epochs}: loss {record.get('loss', float('nan')):.4f} "
                f"({record['clips_per_s']} clips/s)")
            if stop.requested and epoch < tc.epochs:
                raise KeyboardInterrupt
            if max_steps is not None and steps_this_call >= max_steps and epoch < tc.epochs:
                say(f"{out}: stopped after {steps_this_call} steps (resume with --resume)")
                return history
    except Exception:
        if not stop.requested:
            raise
        # a signal also reaches DataLoader workers, whose loss then surfaces while the next batch is fetched,
        # between two steps: the state is still that of the last finished step
        checkpoint()
        raise KeyboardInterrupt from None
    finally:
        stop.restore()
    return history


def _write_metrics(out: Path, history: list[dict[str, Any]]) -> None:
    """metrics.jsonl from the checkpoint's history (one line per finished epoch), when it differs from what is there."""
    text = "".join(json.dumps(h, sort_keys=True) + "\n" for h in history)
    path = out / METRICS
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)


class _StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM during training: finish the current step, checkpoint it, then stop.

    The checkpoint of a stop is then a consistent state (every optimiser and BatchNorm update of a
    finished step, none of a half-done one), so `--resume` gives the uninterrupted run's tensors.
    A second signal stops at once (the last checkpoint stays). Handlers are installed in the main
    thread only and put back by `restore`.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


# --------------------------------------------------------------------------------------- CLI


def config_from_args(args: argparse.Namespace) -> Config:
    """The profile's Config with the command line's overrides applied."""
    cfg = get_profile(args.profile)
    overrides: dict[str, Any] = {}
    for flag, key in (("k", "model.k"), ("scorer", "model.scorer"), ("epochs", "train.epochs"),
                      ("batch_size", "train.batch_size"), ("lr", "train.lr"), ("seed", "train.seed"),
                      ("device", "train.device"), ("workers", "train.num_workers"), ("frame_size", "data.frame_size"),
                      ("num_frames", "data.num_frames")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[key] = value
    if getattr(args, "no_selection", False):  # Table 3 row 4 as the paper defines it: no selection, L_tri alone
        overrides["model.select_proposals"] = False
        overrides["train.lam"] = 0.0
    if getattr(args, "no_amp", False):
        overrides["train.amp"] = False
    if getattr(args, "from_scratch", False):  # random encoders trained with the rest, lambda 0.5 (over --no-selection's 0)
        overrides.update(OVERLAYS["scratch"])
    for item in getattr(args, "set", None) or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SSLPropError(f"--set {item}: expected section.key=value")
        try:
            overrides[key] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key] = raw
    return cfg.replace(**overrides)  # Config.check: every value's type and range, once


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="ours", choices=sorted(METHODS), help="what to train (default: ours)")
    p.add_argument("--data", required=True, help="data set folder (sslprop format, proposals cached)")
    p.add_argument("--out", required=True, help="run folder to write (config, checkpoints, metrics)")
    p.add_argument("--profile", default="cpu", choices=["cpu", "paper"], help="sizes and encoders (default: cpu)")
    p.add_argument("--k", type=positive_int, help="proposals kept per frame (paper: 20)")
    p.add_argument("--scorer", choices=SCORERS, help="GRM proposal scorer")
    p.add_argument("--no-selection", action="store_true", help="ablation as the paper defines it: every proposal in the bag, "
                   "distance-ratio loss only (lambda 0); --set model.select_proposals=false keeps the loss and drops selection alone")
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=nonnegative_int)
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the profile's)")
    p.add_argument("--workers", type=nonnegative_int, help="DataLoader worker processes (0: in the main process)")
    p.add_argument("--frame-size", type=positive_int, help="input frame size S (pixels)")
    p.add_argument("--num-frames", type=positive_int, help="frames per clip N")
    p.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    p.add_argument("--from-scratch", action="store_true",
                   help="encoders from random weights, trained with the rest, lambda 0.5, also over --no-selection's 0 "
                        "(sslprop.config.OVERLAYS['scratch']: " + ", ".join(f"{k}={v}" for k, v in OVERLAYS["scratch"].items())
                        + "; --set comes after it) (default: pretrained encoders; "
                        "cpu: the shipped ones, frozen, lambda 0.1; paper: VGG16 from ImageNet and VGGish from AudioSet, "
                        "fetched into torch.hub's cache)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="any other config field, e.g. model.dim=128")
    p.add_argument("--visual-weights", help="local state dict for the visual encoder (torchvision vgg16 layout; "
                                            "default for paper: vgg16-397923af.pth in torch.hub's cache)")
    p.add_argument("--audio-weights", help="local state dict for the audio encoder (VGGish port layout; "
                                           "default for paper: vggish-10086976.pth in torch.hub's cache)")
    p.add_argument("--max-samples", type=positive_int, help="use only the first N training samples")
    p.add_argument("--checkpoint-every", type=nonnegative_int, default=0, help="also checkpoint every N steps (default 0: at epoch ends only)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest.pth")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    for path in (args.visual_weights, args.audio_weights):
        if path is not None and not Path(path).is_file():
            raise SSLPropError(f"{path}: weight file not found")
    t0 = time.perf_counter()
    history = train(cfg, args.data, args.out, method=args.method, resume=args.resume,
                    visual_weights=args.visual_weights, audio_weights=args.audio_weights,
                    max_samples=args.max_samples, checkpoint_every=args.checkpoint_every,
                    progress=not args.no_progress)
    if _dist_info()[0] == 0:
        print(f"trained {args.method} for {len(history)} epoch(s) in {time.perf_counter() - t0:.1f} s -> {args.out}")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0
