"""What a GPU run of a profile needs and gets: `bench data --profile P`, `bench train --device cuda`, `bench infer`.

- `measure_loader`: the whole training input (frames decoded and resized, audio patches, cached proposals)
  through the trainer's own DataLoader (`engine.train.make_loader`), clips/s per pass.
- `count_flops`: the FLOPs of one training step or one forward (`torch.utils.flop_counter.FlopCounterMode`:
  matrix products and convolutions, the usual "model FLOPs", plus the LSTMs' fused kernels, `RNN_FLOPS`).
- `step_needs`: the clips/s a training step takes on a GPU at an assumed share of its bf16 peak, from those FLOPs.
- `measure_step`: training steps fed by that DataLoader, as `train` runs them: clips/s, the share of the time
  spent waiting for data, peak memory, and the achieved share of the device's peak; `measure_inference` the
  forward alone.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from sslprop.argtypes import nonnegative_int, positive_int
from sslprop.bench import Row, _peak_memory_mb, timing_config
from sslprop.config import get_profile
from sslprop.data.dataset import SSLDataset
from sslprop.data.proposals import extract_dataset
from sslprop.data.synth.generator import generate
from sslprop.engine.checkpoint import build_method_model
from sslprop.engine.train import EpochBatches, loader_workers, make_loader
from sslprop.errors import SSLPropError
from sslprop.models.batch import batch_inputs, model_device
from sslprop.models.methods import get_method
from sslprop.models.negatives import StepContext
from sslprop.utils import resolve_device, seed_everything

# Dense tensor-core peaks in TFLOP/s of the AMP dtype (bf16; V100: fp16, it has no bf16), from the vendors' data
# sheets, without sparsity. The first entry whose name is in torch.cuda.get_device_name() applies; any other GPU
# needs --peak-tflops.
PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0),
    ("A10", 125.0), ("V100", 125.0),
)
REFERENCE_GPU = ("H100 SXM", 989.0)  # what `bench data` sizes the need for when this machine has no GPU
ASSUMED_MFU = 0.4  # share of the peak a well-fed convolutional step is assumed to reach (an assumption, not measured)


def _sig(x: float) -> float:
    """`x` to 4 significant digits (a report's number)."""
    return float(f"{x:.4g}")


def device_peak_tflops(name: str) -> float | None:
    """The dense bf16 (V100: fp16) tensor-core peak of a GPU by its name, or None when it is not listed."""
    for key, tflops in PEAK_TFLOPS:
        if key in name:
            return tflops
    return None


# ------------------------------------------------------------------------------------------- FLOPs


def _rnn_layers_flops(tokens: int, weights: list) -> int:
    """2 * tokens * (numel(W_ih) + numel(W_hh)) summed over layers: the gate products of an RNN's forward."""
    return sum(2 * tokens * (math.prod(w_ih) + math.prod(w_hh)) for w_ih, w_hh in weights)


def _mkldnn_rnn(input_shape, w_ih, w_hh, *args, out_shape=None, **kwargs) -> int:
    """aten.mkldnn_rnn_layer (the CPU LSTM, one layer): input (T, B, I) or (B, T, I)."""
    return _rnn_layers_flops(math.prod(input_shape[:-1]), [(w_ih, w_hh)])


def _mkldnn_rnn_backward(input_shape, w_ih, w_hh, *args, out_shape=None, **kwargs) -> int:
    return 2 * _mkldnn_rnn(input_shape, w_ih, w_hh)  # gradients of the inputs and of the weights


def _cudnn_rnn(input_shape, weights, stride, *args, out_shape=None, **kwargs) -> int:
    """aten._cudnn_rnn (the CUDA LSTM): its flat weight list holds `stride` tensors per layer, W_ih and W_hh first."""
    pairs = [(weights[i], weights[i + 1]) for i in range(0, len(weights), stride)]
    return _rnn_layers_flops(math.prod(input_shape[:-1]), pairs)


def _cudnn_rnn_backward(input_shape, weights, stride, *args, out_shape=None, **kwargs) -> int:
    return 2 * _cudnn_rnn(input_shape, weights, stride)


def rnn_flop_formulas() -> dict:
    """FlopCounterMode's `custom_mapping` for the fused LSTM kernels it does not count by itself."""

    aten = torch.ops.aten
    return {aten.mkldnn_rnn_layer: _mkldnn_rnn, aten.mkldnn_rnn_layer_backward: _mkldnn_rnn_backward,
            aten._cudnn_rnn: _cudnn_rnn, aten._cudnn_rnn_backward: _cudnn_rnn_backward}


def count_flops(fn: Callable[[], Any]) -> int:
    """The FLOPs `fn()` runs: matrix products and convolutions (forward and backward), LSTMs included."""

    with FlopCounterMode(display=False, custom_mapping=rnn_flop_formulas()) as counter:
        fn()
    return int(counter.get_total_flops())


def random_batch(cfg: Any, batch: int, proposals: int, seed: int = 0) -> dict[str, Any]:
    """A collated batch of random inputs of the profile's sizes, `proposals` boxes per frame, `batch` videos."""

    gen = torch.Generator().manual_seed(seed)
    B, N, S = batch, cfg.data.num_frames, cfg.data.frame_size
    xy = torch.rand(B * N, proposals, 2, generator=gen) * (S * 0.8)
    wh = 4 + torch.rand(B * N, proposals, 2, generator=gen) * (S * 0.6)
    boxes = torch.cat([xy, (xy + wh).clamp(max=S)], dim=2)  # (B*N, P, 4) xyxy pixels
    return {"frames": torch.rand(B, N, 3, S, S, generator=gen), "audio": torch.randn(B, N, 1, 96, cfg.data.n_mels, generator=gen),
            "proposals": list(boxes), "index": torch.arange(B), "keys": [str(i) for i in range(B * N)],
            "sample_id": [str(i) for i in range(B)], "video_id": [str(i) for i in range(B)]}


def step_flops(model: Any, cfg: Any, batch: dict[str, Any], train: bool = True) -> int:
    """FLOPs of one training step's forward and backward (the trainer's loss), or of one forward without gradient."""

    def run() -> None:
        if train:
            loss, _ = get_method("ours").loss(model, batch, StepContext(torch.Generator().manual_seed(0)), cfg)
            loss.backward()
        else:
            with torch.no_grad():
                model(*batch_inputs(batch, model_device(model)))

    flops = count_flops(run)
    model.zero_grad(set_to_none=True)
    return flops


def step_needs(cfg: Any, peak_tflops: float, mfu: float, proposals: int) -> tuple[float, float]:
    """(clips/s a training step takes at `mfu` of `peak_tflops`, training FLOPs per clip), the FLOPs counted on
    one step at batch 2 on the CPU (random encoders and inputs; FLOPs grow with the batch exactly linearly)."""

    cfg = timing_config(cfg).replace(**{"train.device": "cpu"})
    torch.manual_seed(0)
    model = build_method_model(get_method("ours"), cfg, None, None, lambda msg: None).train()
    per_clip = step_flops(model, cfg, random_batch(cfg, 2, proposals)) / 2
    return peak_tflops * 1e12 * mfu / per_clip, per_clip


# ------------------------------------------------------------------------------------------- data sets


def prepare_set(args: argparse.Namespace, size: int, stack: ExitStack, log: Callable[[str], None]) -> Path:
    """`--data` as given, or a `scenes` set of `--n` samples at `size` px with its proposals (every core), kept in
    `--out` or a temporary folder that `stack` removes."""

    if getattr(args, "data", None) is not None:
        return Path(args.data)
    root = args.out if getattr(args, "out", None) is not None else Path(stack.enter_context(
        tempfile.TemporaryDirectory(prefix="sslprop-bench-"))) / "set"
    if not (Path(root) / "manifest.jsonl").is_file():
        log(f"generating {args.n} {getattr(args, 'preset', 'scenes')} samples at {size} px in {root} (keep them with --out, "
            f"reuse them with --data)")
        generate(getattr(args, "preset", "scenes"), args.n, getattr(args, "seed", 0), root, size=size, progress=False)
    stats = extract_dataset(root, progress=False)
    if stats.failed:
        raise SSLPropError(f"{root}: Selective Search failed on {len(stats.failed)} frames")
    return Path(root)


def _dataset(root: Path, cfg: Any, workers: int, scratch: Path) -> Any:
    """The data set as `train` reads it with `workers` workers, its patch cache moved to `scratch` (a cold start)."""

    ds = SSLDataset(root, None, cfg.data, with_proposals=True, max_proposals=cfg.model.max_proposals,
                    cache=workers == 0, example_cache=workers > 0)
    if ds.examples is not None:
        ds.examples.dir = scratch / ds.examples.dir.name
    return ds


def _passes(n: int, batch: int, seed: int) -> Callable[[int], list[list[int]]]:
    """Pass p's batches: a seeded permutation of the n items cut into full batches."""

    def batches(p: int) -> list[list[int]]:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + p)).tolist()
        return [order[i: i + batch] for i in range(0, n - batch + 1, batch)]

    return batches


# ------------------------------------------------------------------------------------------- bench data --profile


def measure_loader(root: Path, cfg: Any, workers: int, batch: int | None = None,
                   seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trainer's DataLoader over every sample of `root`: one batch starts the workers (timed apart), a first pass
    over the other clips computes their audio patches (workers write them to disk, the main process keeps them in
    memory), three more passes over every clip read them back. The batch is by default the profile's, at most 32
    and at most a quarter of the clips (four batches a pass)."""

    with tempfile.TemporaryDirectory(prefix="sslprop-patches-") as scratch:
        dataset = _dataset(root, cfg, workers, Path(scratch))
        batch = batch or max(1, min(cfg.train.batch_size, 32, len(dataset) // 4))
        if len(dataset) < 2 * batch:
            raise SSLPropError(f"{root}: {len(dataset)} clips, fewer than two batches of {batch} (--batch-size, --n)")
        order = _passes(len(dataset), batch, seed)
        plan = EpochBatches()
        loader = make_loader(dataset, plan, workers, torch.device("cpu"))
        first, rest = order(0)[0], order(0)[1:]
        plan.batches = [first]  # starts the workers on one batch, timed apart; its clips stay out of the cold pass
        t0 = time.perf_counter()
        for _ in loader:
            pass
        start = time.perf_counter() - t0
        times, clips = [], []
        for passes in ([rest], [order(1), order(2), order(3)]):  # the other clips cold, then every clip 3 times
            t0, n = time.perf_counter(), 0
            for batches in passes:
                plan.batches = batches
                for b in loader:
                    n += len(b["video_id"])
            times.append(time.perf_counter() - t0)
            clips.append(n)
        del loader
    rows = {
        "loader_pass1": Row(f"first pass, {workers} workers: decode + resize to {cfg.data.frame_size}, "
                            f"{cfg.data.audio_features} patches computed, proposals read", clips[0], "clip", times[0]),
        "loader_pass2": Row(f"3 more passes: patches read back ({'disk' if workers else 'memory'}), "
                            f"frames {'decoded again' if workers else 'from memory'}", clips[1], "clip", times[1]),
    }
    facts = {"clips": len(dataset), "loader_batch": batch, "loader_workers": workers,
             "first_batch_s": round(start, 2)}
    return facts, rows


def run_loader(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """`bench data --profile P [--workers N]`: the training input's clips/s, and what a training step needs."""

    cfg = get_profile(args.profile)
    workers = cfg.train.num_workers if args.workers is None else args.workers
    if workers < 0:
        raise SSLPropError(f"--workers {workers}: must be 0 (the main process reads) or more")
    if not 0 < args.mfu <= 1 or (args.peak_tflops is not None and not args.peak_tflops > 0):
        raise SSLPropError(f"--mfu {args.mfu}, --peak-tflops {args.peak_tflops}: need 0 < mfu <= 1 and a positive peak")
    size = args.size or max(cfg.data.frame_size, 96)
    workers = loader_workers(workers)
    with ExitStack() as stack:
        root = prepare_set(args, size, stack, log=print)
        facts, rows = measure_loader(root, cfg, workers, args.batch_size, args.seed)
    name, peak, gpu_note = _peak_for_need(args)
    need, per_clip = step_needs(cfg, peak, args.mfu, proposals=min(cfg.model.max_proposals, 300))
    have = rows["loader_pass2"].per_second
    facts = {"profile": args.profile, "frame_size": cfg.data.frame_size, **facts,
             "train_gflop_per_clip": _sig(per_clip / 1e9), "step_needs_clips_per_s": round(need, 1),
             "notes": [
                 f"a {args.profile} training step needs about {need:,.0f} clips/s per GPU: {per_clip / 1e9:.1f} GFLOP per "
                 f"clip (counted on one step on the CPU) at {args.mfu:.0%} of {name}'s {peak:g} TFLOP/s bf16 peak{gpu_note} "
                 f"(an assumed share; `bench train --device cuda` measures it)",
                 f"this loader gives {have:,.1f} clips/s with {workers} workers: about "
                 f"{max(1, math.ceil(need / max(have / max(workers, 1), 1e-9))):,} workers per GPU at this rate per worker"
                 if workers else f"this loader gives {have:,.1f} clips/s in the main process (no workers)",
             ]}
    return facts, rows


def _peak_for_need(args: argparse.Namespace) -> tuple[str, float, str]:
    """(GPU name, peak TFLOP/s, a note) that `bench data` sizes a step's need for."""

    if args.peak_tflops is not None:
        return "the given GPU", float(args.peak_tflops), " (--peak-tflops)"
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        peak = device_peak_tflops(name)
        if peak is not None:
            return name, peak, ""
    return REFERENCE_GPU[0], REFERENCE_GPU[1], " (no GPU here: a reference; --peak-tflops for another)"


# ------------------------------------------------------------------------------------------- bench train / infer on a GPU


def _amp(device: Any, amp: bool) -> tuple[Any, str]:
    """(autocast context factory, dtype name): bf16 where the GPU has it, else fp16; nothing on the CPU or with --no-amp."""

    if not amp or device.type != "cuda":
        return nullcontext, "float32"
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return (lambda: torch.autocast("cuda", dtype=dtype)), str(dtype).replace("torch.", "")


def _peak(device: Any, given: float | None) -> float | None:
    if given is not None:
        return float(given)
    return device_peak_tflops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None


def _sync(device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _memory_mb(device: Any) -> float:
    return round(_peak_memory_mb(device), 1)


def measure_step(root: Path, cfg: Any, device: Any, batch: int, steps: int, workers: int, amp: bool = True,
                 peak_tflops: float | None = None, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Training steps of `ours` fed by the trainer's DataLoader over `root` (random encoders), timed one by one:
    the wait for the next batch, then forward, backward and Adam (synchronised, as `train` does when it reads
    the loss). Two warm-up steps first; `steps` timed ones, over as many passes as they take."""

    cfg = timing_config(cfg)
    method = get_method("ours")
    torch.manual_seed(seed)
    model = build_method_model(method, cfg, None, None, lambda msg: None).to(device).train()  # as `train` builds it
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    autocast, dtype = _amp(device, amp)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == "float16")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory(prefix="sslprop-patches-") as scratch:
        dataset = _dataset(root, cfg, workers, Path(scratch))
        if len(dataset) < batch:
            raise SSLPropError(f"{root}: {len(dataset)} clips, fewer than one batch of {batch} (--batch-size, or a larger --data)")
        order, plan = _passes(len(dataset), batch, seed), EpochBatches()
        state: dict[str, Any] = {"pass": 0, "it": None, "loader": make_loader(dataset, plan, workers, device)}

        def next_batch() -> dict[str, Any]:
            while True:
                if state["it"] is None:
                    plan.batches = order(state["pass"])
                    state["pass"] += 1
                    state["it"] = iter(state["loader"])
                try:
                    return next(state["it"])
                except StopIteration:
                    state["it"] = None

        def step(b: dict[str, Any], k: int) -> None:
            with autocast():
                loss, _ = method.loss(model, b, StepContext.at(seed, 0, k), cfg)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            float(loss.detach())  # the trainer's check of the loss: a synchronisation per step

        for k in range(2):  # warm-up: workers start, cuDNN picks its kernels, memory is allocated
            step(next_batch(), k)
        _sync(device)
        wait = compute = 0.0
        for k in range(steps):
            t0 = time.perf_counter()
            b = next_batch()
            t1 = time.perf_counter()
            step(b, k + 2)
            _sync(device)
            wait, compute = wait + t1 - t0, compute + time.perf_counter() - t1
        memory = _memory_mb(device)
        state.clear()  # the loader and its workers end before their scratch folder goes
    with autocast():  # counted apart, on the last batch
        flops = step_flops(model, cfg, b)
    peak = _peak(device, peak_tflops)
    total = wait + compute
    facts = {"batch": batch, "timed_steps": steps, "workers": workers, "amp": dtype,
             "data_wait_share": round(wait / total, 3), "peak_memory_mb": memory,
             "train_gflop_per_clip": _sig(flops / batch / 1e9)}
    if peak is not None:
        facts.update({"peak_tflops": peak, "achieved_tflops": round(flops * steps / total / 1e12, 2),
                      "share_of_peak": round(flops * steps / total / (peak * 1e12), 4),
                      "share_of_peak_without_wait": round(flops * steps / compute / (peak * 1e12), 4)})
    rows = {"train": Row(f"train step fed by the DataLoader ({workers} workers), wait included", steps * batch, "clip", total),
            "train_compute": Row("  of which forward + backward + Adam", steps * batch, "clip", compute),
            "train_wait": Row("  of which waiting for the next batch", steps * batch, "clip", wait)}
    return facts, rows


def measure_inference(model: Any, cfg: Any, batch: dict[str, Any], device: Any, steps: int, amp: bool = True,
                      peak_tflops: float | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Forwards without gradient of `model` on one batch already on `device` (the model alone): frames/s."""

    autocast, dtype = _amp(device, amp)
    model.eval()
    inputs = batch_inputs(batch, device)
    frames = inputs[0].shape[0] * inputs[0].shape[1]
    with torch.no_grad(), autocast():
        model(*inputs)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            model(*inputs)
        _sync(device)
        seconds = time.perf_counter() - t0
    with autocast():
        flops = step_flops(model, cfg, batch, train=False)
    peak = _peak(device, peak_tflops)
    facts: dict[str, Any] = {"infer_gflop_per_frame": _sig(flops / frames / 1e9)}
    if peak is not None:
        facts["infer_share_of_peak"] = round(flops * steps / seconds / (peak * 1e12), 4)
    return facts, {"inference": Row(f"inference (forward, no gradient, {dtype})", steps * frames, "frame", seconds)}


def run_gpu(args: argparse.Namespace, train: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """`bench train --device cuda` (train and inference) and `bench infer`: the profile's model on this device."""

    device = resolve_device(args.device)  # no CUDA here: one line, exit status 2
    profiles = ["cpu", "paper"] if args.profile == "both" else [args.profile]
    facts: dict[str, Any] = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}
    rows: dict[str, Any] = {}
    with ExitStack() as stack:
        for profile in profiles:
            cfg = get_profile(profile)
            batch = args.batch_size or (cfg.train.batch_size if device.type == "cuda" or profile == "cpu" else 2)
            if batch < 2:
                raise SSLPropError(f"--batch-size {batch}: need at least 2")
            prefix = f"{profile}_" if len(profiles) > 1 else ""
            f: dict[str, Any] = {}
            r: dict[str, Any] = {}
            if train:
                root = prepare_set(args, max(cfg.data.frame_size, 96), stack, log=print)
                if args.workers is not None and args.workers < 0:
                    raise SSLPropError(f"--workers {args.workers}: must be 0 (the main process reads) or more")
                workers = loader_workers(cfg.train.num_workers if args.workers is None else args.workers)
                steps = max(args.steps or 0, 2 * workers * 4, 10)  # beyond what the workers prefetch (4 batches each)
                f, r = measure_step(root, cfg, device, batch, steps, workers, args.amp, args.peak_tflops, args.seed)
            seed_everything(args.seed)
            model = build_method_model(get_method("ours"), timing_config(cfg), None, None, lambda msg: None).to(device)
            fi, ri = measure_inference(model, timing_config(cfg), random_batch(cfg, batch, args.proposals, args.seed),
                                       device, max(args.steps or 0, 5), args.amp, args.peak_tflops)
            if not train:
                fi = {"batch": batch, "amp": _amp(device, args.amp)[1], **fi, "peak_memory_mb": _memory_mb(device)}
            facts.update({prefix + k: v for k, v in {"profile": profile, **f, **fi}.items()})
            rows.update({prefix + k: v for k, v in {**r, **ri}.items()})
            del model
    return facts, rows


def gpu_arguments(parser: argparse.ArgumentParser, data: bool = True) -> None:
    """Options of the GPU measurements (added to `bench train`; `bench infer` takes the model's only)."""
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                        help="mixed precision on CUDA: bf16 where the GPU has it, else fp16 (default on)")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, when its name is not in the list")
    if data:
        parser.add_argument("--data", type=Path, help="with --device cuda: feed the steps from this data set (default: "
                                                      "a generated one, --n samples)")
        parser.add_argument("--n", type=positive_int, default=256, help="with --device cuda: samples to generate (default 256)")
        parser.add_argument("--out", type=Path, help="with --device cuda: keep the generated set here")
        parser.add_argument("--workers", type=nonnegative_int, help="with --device cuda: DataLoader workers (default: the profile's)")
