"""`python -m sslprop bench WHAT`: throughput of the pipeline's stages on this machine, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from sslprop.argtypes import nonnegative_int, positive_int
from sslprop.config import Config, get_profile
from sslprop.data.audio import audio_patch, clip_at, load_audio
from sslprop.data.format import read_manifest
from sslprop.data.proposals import available_cores, extract_dataset, selective_search
from sslprop.data.synth.assets import load_bank
from sslprop.data.synth.generator import generate
from sslprop.errors import SSLPropError
from sslprop.models.frozen import EncoderCache, ProposalFeatureCache, freeze_encoders, frozen_encoders
from sslprop.models.methods import get_method
from sslprop.models.model import build_model
from sslprop.models.negatives import StepContext
from sslprop.ops.boxes import cap_proposals
from sslprop.ops.grm import grm, score_boxes, select_topk
from sslprop.utils import resolve_device, seed_everything


@dataclass
class Row:
    """One measured stage: `count` items of `unit` took `seconds` (wall time)."""

    step: str
    count: int
    unit: str
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")

    @property
    def ms_per_item(self) -> float:
        return 1000.0 * self.seconds / self.count if self.count else 0.0


@dataclass
class Benchmark:
    """A benchmark `python -m sslprop bench NAME` can run.

    add_arguments: adds its own options to its subparser
    run:           measures; returns (header facts, rows keyed by a stable name)
    """

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], tuple[dict[str, Any], dict[str, Row]]]


def machine_facts() -> dict[str, Any]:
    """Cores of the machine, cores this process may use, and torch's intra-op threads."""

    return {"cores": os.cpu_count() or 1, "available_cores": available_cores(), "torch_threads": torch.get_num_threads()}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# bench data: generation, decoding + audio features, proposals
# ---------------------------------------------------------------------------------------------


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=positive_int, default=50, help="samples to generate and read (default 50)")
    parser.add_argument("--size", type=positive_int, default=None, help="frame side in pixels (default: the preset's)")
    parser.add_argument("--workers", type=nonnegative_int, default=None, help="Selective Search processes (default: all cores); "
                        "with --profile: DataLoader workers (0: the main process)")
    parser.add_argument("--preset", default="scenes", help="embedded-benchmark preset to generate (default scenes)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the generated set (default 0)")
    parser.add_argument("--out", type=Path, default=None, help="keep the generated set here (default: a temporary folder, removed)")
    parser.add_argument("--large-side", type=positive_int, default=1024, help="side of the large frame searched at full size and "
                        "as stored by import folder (default 1024)")
    parser.add_argument("--profile", choices=["cpu", "paper"], help="instead: the profile's whole training input through the "
                        "trainer's DataLoader (--workers N DataLoader workers, default the profile's), and what a step needs")
    parser.add_argument("--data", type=Path, help="with --profile: read this data set (default: generate --n samples)")
    parser.add_argument("--batch-size", type=positive_int, help="with --profile: clips per batch (default: the profile's, at most 32)")
    parser.add_argument("--peak-tflops", type=float, help="with --profile: size the need for a GPU of this dense bf16 peak "
                        "(default: this machine's GPU, else an H100 SXM's 989)")
    parser.add_argument("--mfu", type=float, default=0.4, help="with --profile: the share of that peak a step is assumed to "
                        "reach (default 0.4)")


def decode_and_features(root: Path, sample_rate: int = 16000, clip_seconds: float = 0.96) -> dict[str, Row]:
    """Time each stage of reading a data set's samples: audio decoding, the clip's log-mel and
    VGGish patches, frame decoding (cv2.imread), and all of them per sample.

    Runs with one torch thread, as in a DataLoader worker (small tensors gain nothing from
    more, and lose much when the cores are busy).
    """

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _decode_and_features(root, sample_rate, clip_seconds)
    finally:
        torch.set_num_threads(threads)


def _decode_and_features(root: Path, sample_rate: int, clip_seconds: float) -> dict[str, Row]:
    samples = read_manifest(root)
    warm = clip_at(load_audio(root / samples[0].audio, sample_rate), sample_rate, samples[0].frames[0].time, clip_seconds)
    for kind in ("logmel", "vggish"):  # imports and filter banks are built once, outside the timing
        audio_patch(warm, sample_rate, kind)
    spent = {"audio": 0.0, "logmel": 0.0, "vggish": 0.0, "frames": 0.0}
    clips = frames = 0
    for sample in samples:
        wav, dt = _timed(lambda: load_audio(root / sample.audio, sample_rate))  # noqa: B023  (called at once, inside the iteration)
        spent["audio"] += dt
        for frame in sample.frames:
            clip = clip_at(wav, sample_rate, frame.time, clip_seconds)
            for kind in ("logmel", "vggish"):
                _, dt = _timed(lambda: audio_patch(clip, sample_rate, kind))  # noqa: B023  (called at once, inside the iteration)
                spent[kind] += dt
            image, dt = _timed(lambda: cv2.imread(str(root / frame.path), cv2.IMREAD_COLOR))  # noqa: B023  (called at once, inside the iteration)
            if image is None:
                raise SSLPropError(f"{root / frame.path}: cannot decode the image")
            spent["frames"] += dt
            clips += 1
            frames += 1
    return {
        "audio_decode": Row("decode audio (load_audio)", len(samples), "sample", spent["audio"]),
        "logmel": Row("log-mel patch (audio_patch logmel, 1 thread)", clips, "clip", spent["logmel"]),
        "vggish": Row("VGGish patch (audio_patch vggish, 1 thread)", clips, "clip", spent["vggish"]),
        "frame_decode": Row("decode frame (cv2.imread)", frames, "frame", spent["frames"]),
        "decode_features": Row("decode + both patches, per sample", len(samples), "sample", sum(spent.values())),
    }


def proposals_one_core(root: Path, max_frames: int = 20) -> Row:
    """Selective Search (fast) in this process, one OpenCV thread, on up to `max_frames` frames."""

    paths = [root / f.path for s in read_manifest(root) for f in s.frames][:max_frames]
    images = [cv2.imread(str(p), cv2.IMREAD_COLOR)[:, :, ::-1].copy() for p in paths]
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        _, seconds = _timed(lambda: [selective_search(im) for im in images])
    finally:
        cv2.setNumThreads(threads)
    return Row("Selective Search fast, 1 process, 1 thread", len(images), "frame", seconds)


def proposals_large_frame(root: Path, side: int = 1024, working: int = 224) -> dict[str, Row]:
    """Selective Search on one benchmark frame upscaled to `side` px: searched at full size, and as `import folder`
    stores it (the longer side at `working` px). One process, one OpenCV thread."""

    frame = next(f for s in read_manifest(root) for f in s.frames)
    image = cv2.imread(str(root / frame.path), cv2.IMREAD_COLOR)[:, :, ::-1]
    big = cv2.resize(image, (side, side * 3 // 4), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(big, (working, working * 3 // 4), interpolation=cv2.INTER_AREA)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        _, full = _timed(lambda: selective_search(np.ascontiguousarray(big)))
        _, stored = _timed(lambda: [selective_search(np.ascontiguousarray(small)) for _ in range(5)])
    finally:
        cv2.setNumThreads(threads)
    return {"proposals_1024": Row(f"Selective Search fast on a {side}x{side * 3 // 4} frame at full size", 1, "frame", full),
            "proposals_stored": Row(f"the same frame stored by import folder ({working}x{working * 3 // 4})", 5, "frame", stored)}


def run_data(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Row]]:
    """Generate a set with `sslprop.data.synth.generator.generate`, read it back, run Selective Search on it (with --profile:
    the profile's training input through the DataLoader, `sslprop.bench_gpu.run_loader`)."""
    if args.profile is not None:
        from sslprop.bench_gpu import run_loader  # noqa: PLC0415  (a cycle: bench_gpu builds on this module's Row)

        return run_loader(args)

    if args.large_side < 224:
        raise SSLPropError(f"--large-side {args.large_side}: must be at least 224 (the side import folder stores)")
    if args.workers is not None and args.workers < 1:
        raise SSLPropError(f"--workers {args.workers}: must be at least 1")
    with tempfile.TemporaryDirectory(prefix="sslprop-bench-") as tmp:
        root = args.out if args.out is not None else Path(tmp) / "set"
        bank, seconds = _timed(load_bank)
        rows = {"load_bank": Row("load stamps and backgrounds (synth.load_bank, once)", 1, "bank", seconds)}
        _, seconds = _timed(lambda: generate(args.preset, args.n, args.seed, root, size=args.size, progress=False, bank=bank))
        rows["generate"] = Row(f"generate {args.preset} (synth.generate)", args.n, "sample", seconds)
        rows.update(decode_and_features(root))
        rows["proposals_1core"] = proposals_one_core(root)
        rows.update(proposals_large_frame(root, args.large_side))
        stats = extract_dataset(root, workers=args.workers, progress=False)
        if stats.failed:
            raise SSLPropError(f"{root}: Selective Search failed on {len(stats.failed)} frames, e.g. {next(iter(stats.failed.values()))}")
        # includes starting the worker processes (spawn), which a small --n does not amortise
        rows["proposals_pool"] = Row(f"Selective Search fast, {stats.workers} processes (extract_dataset)", stats.done, "frame", stats.seconds)
        frames = sum(1 for _ in stats.counts)
        facts = {
            "preset": args.preset,
            "n": args.n,
            "size": args.size,
            "frames": frames,
            "workers": args.workers or available_cores(),
            "proposals_per_frame": round(stats.mean_proposals, 1),
        }
    return facts, rows


# ---------------------------------------------------------------------------------------------
# bench train: training and inference throughput, peak memory, share of proposal selection
# ---------------------------------------------------------------------------------------------


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=["cpu", "paper", "both"], default="both", help="profile(s) to measure (default both)")
    parser.add_argument("--batch-size", type=positive_int, help="clips per step (default: the profile's; 2 for paper on a CPU)")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help=f"timed optimiser steps after one warm-up step (default: {DEFAULT_STEPS['cpu']} for the cpu profile, "
                             f"whose steps are short and noisy, {DEFAULT_STEPS['paper']} for paper)")
    parser.add_argument("--proposals", type=positive_int, default=600, help="proposals per frame, a bag of the paper's size (default 600)")
    parser.add_argument("--small-bags", type=positive_int, default=80, help="proposals per frame of the former small bags, timed beside (default 80)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--seed", type=nonnegative_int, default=0)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB -> MiB (process peak)


def _random_proposals(n_frames: int, per_frame: int, size: int, gen: torch.Generator) -> list:
    xy = torch.rand(n_frames, per_frame, 2, generator=gen) * (size * 0.8)
    wh = 4 + torch.rand(n_frames, per_frame, 2, generator=gen) * (size * 0.6)
    boxes = torch.cat([xy, (xy + wh).clamp(max=size)], dim=2)  # (F, P, 4) xyxy pixels
    return list(boxes)


def timing_config(cfg: Config) -> Config:
    """`cfg` with random VGG16 / VGGish: their weights change no timing, and need no download."""
    if cfg.model.visual != "small" or cfg.model.audio != "small":
        return cfg.replace(**{"model.pretrained": False})
    return cfg


# timed steps per measurement: 3 cpu steps of 32 clips take about 0.4 s, too short for a stable ratio between two
# rows (measured: 1.04 and 0.95 with 3 steps, 1.38 with 10, for the 600-proposal cached step over the 80-proposal one)
DEFAULT_STEPS = {"cpu": 10, "paper": 3}


def measure_training(profile: str, batch_size: int | None, steps: int, proposals: int, device_name: str,
                     seed: int = 0, small_bags: int = 80) -> tuple[dict[str, Any], dict[str, Row]]:
    """Time `steps` optimiser steps and inference of the `ours` model on random inputs of the profile's sizes.

    A training step is timed in the same run (compare the ratios): on raw frames with the encoders training,
    with them frozen (`train.freeze_encoders`), and on cached encoder outputs (`sslprop.models.frozen.EncoderCache`),
    each pooling its proposals (`SPP`); then, with cached encoder outputs, on bags of `small_bags` proposals pooled
    (the embedded benchmark's former 96 px frames) and on bags of `proposals` whose SPP rows are read from a
    `ProposalFeatureCache` instead of pooled.
    """

    device = resolve_device(device_name)
    cfg = timing_config(get_profile(profile))
    if batch_size is None:
        batch_size = cfg.train.batch_size if device.type == "cuda" or profile == "cpu" else 2
    if batch_size < 2 or steps < 1 or proposals < 1:
        raise SSLPropError(f"--batch-size {batch_size}, --steps {steps}, --proposals {proposals}: need at least 2, 1 and 1")
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    B, N, S = batch_size, cfg.data.num_frames, cfg.data.frame_size
    frames = torch.rand(B, N, 3, S, S, generator=gen).to(device)
    audio = torch.randn(B, N, 1, 96, cfg.data.n_mels, generator=gen).to(device)
    bags = {"large": [p.to(device) for p in _random_proposals(B * N, proposals, S, gen)],
            "small": [p.to(device) for p in _random_proposals(B * N, small_bags, S, gen)]}
    props = bags["large"]
    videos = [str(i) for i in range(B)]
    ours = get_method("ours")  # its loss as the trainer calls it: paired negatives (cpu profile) or as printed (paper)
    ctx = StepContext(gen)  # negatives drawn from the benchmark's generator
    use_amp = cfg.train.amp and device.type == "cuda"

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def repeat(fn: Callable[[], Any]) -> None:
        for _ in range(steps):
            fn()
        sync()

    def trainer(encoders: str, bag: str = "large", rows: bool = False) -> tuple[Any, Callable[[], None]]:
        """A model and its optimiser step with the encoders "training", "frozen" or "cached" (frozen, outputs cached),
        on the "large" or "small" bags, with the proposals' SPP rows pooled or (`rows`) read from a feature cache."""
        model = build_model(cfg, log=lambda msg: None)
        props = bags[bag]
        if encoders != "training":
            freeze_encoders(model)
        if encoders == "cached":
            for _, enc in frozen_encoders(model):
                enc.cache = EncoderCache()  # in memory; the warm-up step fills it
        if rows:
            model.feature_cache = ProposalFeatureCache()  # in memory; the warm-up step fills it
        model.to(device).train()
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)

        batch = {"frames": frames, "audio": audio, "proposals": props, "video_id": videos}

        def step() -> None:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss, _ = ours.loss(model, batch, ctx, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return model, step

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    own = "frozen" if cfg.train.freeze_encoders else "training"
    times: dict[str, float] = {}
    setups = {"training": ("training", "large", False), "frozen": ("frozen", "large", False), "cached": ("cached", "large", False)}
    if cfg.train.freeze_encoders:  # the proposal-feature cache needs frozen encoders (their map is fixed per frame)
        setups.update(small_pooled=("cached", "small", False), rows=("cached", "large", True))
    for name, (encoders, bag, rows) in setups.items():  # side by side in one run: compare their ratios
        model, step = trainer(encoders, bag, rows)
        step()  # warm-up (fills the caches)
        sync()
        _, times[name] = _timed(lambda: repeat(step))  # noqa: B023  (called at once, inside the iteration)
        if name == own:
            kept = model
    model = kept
    train_s = times[own]

    # the proposal selection alone, on the same shapes (cap, GRM, scoring, top K)
    with torch.no_grad():
        m = torch.rand(B * N, S, S, generator=gen).to(device)

        def select() -> None:
            capped = [cap_proposals(p, cfg.model.max_proposals) for p in props]
            select_topk(capped, score_boxes(grm(m), capped, cfg.model.scorer), cfg.model.k)

        select()
        sync()
        _, select_s = _timed(lambda: repeat(select))

        model.eval()
        model(frames, audio, props)
        sync()
        _, infer_s = _timed(lambda: repeat(lambda: model(frames, audio, props)))

    facts = {"profile": profile, "device": str(device), "batch": B, "frames_per_clip": N, "frame_size": S,
             "proposals_per_frame": proposals, "k": cfg.model.k,
             "selection_share_of_step": round(select_s / train_s, 4), "peak_memory_mb": round(_peak_memory_mb(device), 1)}
    if "rows" in times:  # > 1: the step with large bags and cached rows is faster than today's with small bags pooled
        facts[f"speed_cached_{proposals}_over_pooled_{small_bags}"] = round(times["small_pooled"] / times["rows"], 2)
    rows = {
        f"{profile}_train": Row(f"{profile}: train step (forward + backward + Adam), the profile's setting "
                                f"(encoders {own})", steps * B, "clip", train_s),
        f"{profile}_train_encoders": Row(f"{profile}: train step, raw frames, encoders training", steps * B, "clip", times["training"]),
        f"{profile}_train_frozen": Row(f"{profile}: train step, raw frames, encoders frozen", steps * B, "clip", times["frozen"]),
        f"{profile}_train_cached": Row(f"{profile}: train step, encoders' outputs cached", steps * B, "clip", times["cached"]),
        **({f"{profile}_train_small_pooled": Row(f"{profile}: train step, encoders cached, {small_bags}-proposal bags, SPP pooled",
                                                 steps * B, "clip", times["small_pooled"]),
            f"{profile}_train_large_pooled": Row(f"{profile}: train step, encoders cached, {proposals}-proposal bags, SPP pooled",
                                                 steps * B, "clip", times["cached"]),
            f"{profile}_train_large_cached": Row(f"{profile}: train step, encoders cached, {proposals}-proposal bags, SPP rows cached",
                                                 steps * B, "clip", times["rows"])} if "rows" in times else {}),
        f"{profile}_selection": Row(f"{profile}: proposal selection alone (cap, GRM, score, top K)", steps * B * N, "frame", select_s),
        f"{profile}_inference": Row(f"{profile}: inference (forward, no grad)", steps * B * N, "frame", infer_s),
    }
    return facts, rows


def run_train(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Row]]:
    """`bench train`: both profiles (or one), facts prefixed by profile when both run."""
    profiles = ["cpu", "paper"] if args.profile == "both" else [args.profile]
    facts: dict[str, Any] = {}
    rows: dict[str, Row] = {}
    for profile in profiles:
        steps = args.steps or DEFAULT_STEPS[profile]
        f, r = measure_training(profile, args.batch_size, steps, args.proposals, args.device, args.seed, args.small_bags)
        facts.update({f"{profile}_{k}" if len(profiles) > 1 and k not in ("device",) else k: v for k, v in f.items() if k != "profile"})
        rows.update(r)
    return facts, rows


def _train_gpu_arguments(parser: argparse.ArgumentParser) -> None:
    from sslprop.bench_gpu import gpu_arguments  # noqa: PLC0415  (a cycle: bench_gpu builds on this module's Row)

    _train_arguments(parser)
    gpu_arguments(parser)


def _infer_arguments(parser: argparse.ArgumentParser) -> None:
    from sslprop.bench_gpu import gpu_arguments  # noqa: PLC0415  (a cycle: bench_gpu builds on this module's Row)

    _train_arguments(parser)
    gpu_arguments(parser, data=False)


def run_train_or_gpu(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Row]]:
    """`bench train`; with `--device cuda` the GPU report (`sslprop.bench_gpu.run_gpu`: steps fed by the DataLoader,
    data wait, peak memory, share of the bf16 peak)."""
    if str(args.device).startswith("cuda"):
        from sslprop.bench_gpu import run_gpu  # noqa: PLC0415  (a cycle: bench_gpu builds on this module's Row)

        return run_gpu(args, train=True)
    return run_train(args)


def run_infer(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Row]]:
    from sslprop.bench_gpu import run_gpu  # noqa: PLC0415  (a cycle: bench_gpu builds on this module's Row)

    return run_gpu(args, train=False)


# name -> benchmark; `python -m sslprop bench NAME` (add one here to extend the command)
BENCHMARKS: dict[str, Benchmark] = {
    "data": Benchmark(
        help="benchmark generation, decoding + audio features, and Selective Search throughput",
        add_arguments=_data_arguments,
        run=run_data,
    ),
    "train": Benchmark(
        help="benchmark training and inference of the model (cpu and paper profiles), peak memory, proposal selection share",
        add_arguments=_train_gpu_arguments,
        run=run_train_or_gpu,
    ),
    "infer": Benchmark(
        help="benchmark inference of the model: frames/s, peak memory, share of the GPU's bf16 peak",
        add_arguments=_infer_arguments,
        run=run_infer,
    ),
}


# ---------------------------------------------------------------------------------------------
# output and CLI
# ---------------------------------------------------------------------------------------------


def format_table(what: str, facts: dict[str, Any], rows: dict[str, Row]) -> str:
    """An aligned text table, headed by the facts (machine, sizes); the sentences of a fact `notes` follow it."""
    notes = facts.get("notes", [])
    head = f"sslprop bench {what}: " + ", ".join(f"{k} {v}" for k, v in facts.items() if k != "notes")
    cells = [("step", "items", "seconds", "items/s", "ms/item")]
    for row in rows.values():
        cells.append((row.step, f"{row.count} {row.unit}s", f"{row.seconds:.3f}", f"{row.per_second:.1f}", f"{row.ms_per_item:.2f}"))
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    lines = [head]
    for i, c in enumerate(cells):
        lines.append("  ".join([c[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(c[1:], widths[1:])]))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines + list(notes))


def to_json(what: str, facts: dict[str, Any], rows: dict[str, Row]) -> dict[str, Any]:
    """{"bench": what, facts..., "results": {name: {step, count, unit, seconds, per_second, ms_per_item}}}."""
    results = {k: {**asdict(r), "per_second": r.per_second, "ms_per_item": r.ms_per_item} for k, r in rows.items()}
    return {"bench": what, **facts, "results": results}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    for name, bench in BENCHMARKS.items():
        p = sub.add_parser(name, help=bench.help, description=bench.help)
        bench.add_arguments(p)
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def main(args: argparse.Namespace) -> int:
    bench = BENCHMARKS[args.what]
    facts, rows = bench.run(args)
    facts = {**machine_facts(), **facts}
    if args.json:
        print(json.dumps(to_json(args.what, facts, rows), indent=2))
    else:
        print(format_table(args.what, facts, rows))
    sys.stdout.flush()
    return 0
