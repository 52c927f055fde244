"""A whole embedded-benchmark set on disk, and `python -m sslprop synth`.

`generate` writes `n` samples of a preset (`sslprop.data.synth.presets`) in the sslprop format (dataset.json,
manifest.jsonl, PNG frames, 16 kHz WAV audio) into a hidden folder that replaces the output only when complete.
`GENERATOR_VERSION` names the generator's output: data sets are cached by it (`sslprop.lab.workflow`).
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from sslprop import __version__
from sslprop.argtypes import nonnegative_int, positive_int
from sslprop.data.audio import write_wav
from sslprop.data.format import DATASET_INFO, MANIFEST, Sample, read_info, read_manifest, write_manifest
from sslprop.data.synth.assets import (
    BACKGROUNDS,
    COMPANION_PROB,
    HABITAT_PROB,
    OFFSCREEN_HABITAT_PROB,
    Bank,
    check_chance,
    load_bank,
    make_bias,
    subset_bank,
)
from sslprop.data.synth.presets import LISTENING, PRESETS, SEQ_FRAMES, SEQ_SECONDS, SINGLE_SECONDS, Built, build_group
from sslprop.errors import SSLPropError

# Stored frame side (mosaic tiles: half). Larger than the cpu model's input (frames are resized for it, as real data
# is), so that Selective Search finds a bag of the paper's size: docs/data.md, "Proposal bags".
DEFAULT_SIZE = {"solo": 192, "mosaic": 192, "scenes": 192, "sequences": 192, LISTENING: 192}
MIN_SIZE = {"solo": 32, "mosaic": 48, "scenes": 32, "sequences": 32, LISTENING: 32}  # below this a stamp is too few pixels
DEFAULT_TEST_FRACTION = {LISTENING: 1.0}  # a preset's test share when --test-fraction is not given (else 0.25)
GENERATOR_VERSION = 3  # bump when the same seed would give different files (2: the scenes bias; 3: salience needs the audio)


def check_arguments(preset: str, n: int, seed: int, size: int | None, test_fraction: float) -> int:
    """Validate the generator's arguments (one-line `SSLPropError` each); returns the frame size to use."""
    if preset not in PRESETS + (LISTENING,):
        raise SSLPropError(f"--preset {preset}: unknown preset (choose from {', '.join(PRESETS + (LISTENING,))})")
    if not isinstance(n, int) or n <= 0:
        raise SSLPropError(f"--n {n}: the number of samples must be a positive integer")
    if not isinstance(seed, int) or seed < 0:
        raise SSLPropError(f"--seed {seed}: the seed must be a non-negative integer")
    size = DEFAULT_SIZE[preset] if size is None else size
    if not isinstance(size, int) or size < MIN_SIZE[preset]:
        raise SSLPropError(f"--size {size}: frames of preset '{preset}' must be at least {MIN_SIZE[preset]} px "
                           f"for a stamp to stay recognisable")
    if preset == "mosaic" and size % 2:
        raise SSLPropError(f"--size {size}: mosaic frames are a 2x2 grid of tiles, so the size must be even")
    if not (0.0 <= test_fraction <= 1.0):
        raise SSLPropError(f"--test-fraction {test_fraction}: must be between 0 and 1")
    return size


def _is_dataset(folder: Path) -> bool:
    return (folder / MANIFEST).is_file() or (folder / DATASET_INFO).is_file()


def check_out(out: Path) -> None:
    """Refuse an `out` that is a file, or a non-empty folder that is not an sslprop data set."""
    if out.exists() and not out.is_dir():
        raise SSLPropError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not _is_dataset(out):
        raise SSLPropError(f"{out}: folder is not empty and is not an sslprop data set (no {MANIFEST}); refusing to overwrite it")


def write_built(root: Path, built: Built) -> None:
    """Write one sample's frames (PNG, fixed settings) and audio (16 kHz WAV) under `root`."""

    for rel, img in built.images.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 6]):
            raise SSLPropError(f"{path}: could not write the frame")
    write_wav(root / built.sample.audio, built.audio)


def dataset_info(preset: str, seed: int, size: int, test_fraction: float, bank: Bank,
                 bias: dict[str, Any] | None) -> dict[str, Any]:
    """What the set is, for dataset.json (no timestamps or paths, so it is the same for the same command)."""
    seq = preset == "sequences"
    info: dict[str, Any] = {
        "name": f"synth-{preset}",
        "source": "synth",
        "preset": preset,
        "seed": seed,
        "size": size,
        "test_fraction": test_fraction,
        "generator_version": GENERATOR_VERSION,
        "sslprop_version": __version__,
        "sample_rate": 16000,
        "audio_seconds": SEQ_SECONDS if seq else SINGLE_SECONDS,
        "frames_per_sample": SEQ_FRAMES if seq else 1,
        "num_classes": len(bank.classes),
        "classes": {c: list(m) for c, m in bank.members.items()},
        "backgrounds": list(BACKGROUNDS),
        "notes": (
            "Embedded benchmark: Tux Paint stamps (GPL-2-or-later, sslprop/assets/stamps/LICENSE) pasted with their "
            "alpha masks onto scikit-image photos; boxes are exact (tight box of alpha > 0, xyxy pixels). "
            "Class labels are for analysis only."
        ),
    }
    if bias is not None:
        info["bias"] = bias
    return info


def generate(
    preset: str,
    n: int,
    seed: int,
    out: str | os.PathLike,
    size: int | None = None,
    test_fraction: float | None = None,
    progress: bool = True,
    bank: Bank | None = None,
    habitat_prob: float | None = None,
    companion_prob: float | None = None,
    offscreen_habitat_prob: float | None = None,
    classes: str = "all",
) -> Path:
    """Generate `n` samples of `preset` into `out` in the sslprop format; returns `out`.

    habitat_prob, companion_prob, offscreen_habitat_prob: `scenes` only, the co-occurrence bias
    (`make_bias`); None keeps the preset's (HABITAT_PROB, COMPANION_PROB, OFFSCREEN_HABITAT_PROB).
    habitat_prob 0 and companion_prob 0 give scenes without the bias.
    classes: "all", or "even" / "odd": only every other class of the sorted list (to test how far
    encoders pretrained on the other half reach, docs/pretrained-encoders.md).

    Files are written to a hidden sibling folder that replaces `out` only when complete,
    so an interrupted run leaves no half set. An existing sslprop data set at `out` is
    replaced; a non-empty folder of anything else is refused.
    """
    test_fraction = DEFAULT_TEST_FRACTION.get(preset, 0.25) if test_fraction is None else test_fraction
    size = check_arguments(preset, n, seed, size, test_fraction)
    chances = {k: v for k, v in (("habitat_prob", habitat_prob), ("companion_prob", companion_prob),
                                 ("offscreen_habitat_prob", offscreen_habitat_prob)) if v is not None}
    if chances and preset != "scenes":
        raise SSLPropError(f"{' and '.join(chances)}: only the scenes preset has a co-occurrence bias, not {preset}")
    for name, p in chances.items():
        check_chance(name, p)  # before the bank loads, so a bad value fails at once
    out = Path(out)
    check_out(out)
    bank = subset_bank(bank if bank is not None else load_bank(), classes)
    bias = make_bias(bank, seed, **chances) if preset == "scenes" else None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.synth-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        samples = []
        for index in tqdm(range(n), desc=f"synth {preset}", unit="sample", disable=not progress):
            for built in build_group(preset, bank, seed, index, size, test_fraction, bias):
                write_built(tmp, built)
                samples.append(built.sample)
        info = dataset_info(preset, seed, size, test_fraction, bank, bias)
        if preset == LISTENING:
            info["listening"] = {"frames": n, "sounds": ["each object in view, in turn", "silence", "noise", "offscreen"]}
        if classes != "all":
            info["class_subset"] = classes
        write_manifest(tmp, samples, info)
        check_out(out)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp)
        raise
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`python -m sslprop synth` arguments."""
    parser.add_argument("--preset", required=True, help=f"one of {', '.join(PRESETS + (LISTENING,))}")
    parser.add_argument("--n", type=positive_int, required=True, help="number of samples")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="the set is a function of the seed (default 0)")
    parser.add_argument("--out", required=True, help="output folder (an existing sslprop data set there is replaced)")
    parser.add_argument("--size", type=positive_int, default=None,
                        help="frame side in pixels (default 192; mosaic tiles are half of it)")
    parser.add_argument("--test-fraction", type=float, default=None,
                        help=f"share of samples in the test split (default 0.25; {LISTENING}: 1.0, a test set)")
    parser.add_argument("--habitat-prob", type=float, default=None,
                        help=f"scenes: chance that an on-screen scene shows its sound's preferred background "
                             f"(default {HABITAT_PROB})")
    parser.add_argument("--companion-prob", type=float, default=None,
                        help=f"scenes: chance that a scene of 2+ objects shows the sound's companion (default {COMPANION_PROB})")
    parser.add_argument("--offscreen-habitat-prob", type=float, default=None,
                        help=f"scenes: chance that an off-screen scene shows the unseen sound's preferred background "
                             f"(default {OFFSCREEN_HABITAT_PROB})")
    parser.add_argument("--classes", default="all", choices=("all", "even", "odd"),
                        help="all classes, or every other one of the sorted list (default all)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def salience_shares(samples: Sequence[Sample]) -> dict[str, float]:
    """How much size and the split give away: {"largest": share of the frames with a sounding object whose sounding
    object (one of them) has the largest box of the frame, "blind": the mean of 1 / (objects in view) over those
    frames, what a blind pick among the objects would hit, "offscreen_test": share of the test frames off-screen}."""
    largest, blind, test, off = [], [], 0, 0
    for sample in samples:
        for frame in sample.frames:
            if sample.split == "test" and frame.onscreen is not None:
                test += 1
                off += frame.onscreen is False
            if not any(o.sounding for o in frame.objects):
                continue
            areas = [(o.box[2] - o.box[0]) * (o.box[3] - o.box[1]) for o in frame.objects]
            top = max(areas)
            largest.append(any(o.sounding and a == top for o, a in zip(frame.objects, areas)))
            blind.append(1.0 / len(frame.objects))
    nan = float("nan")
    return {"largest": float(np.mean(largest)) if largest else nan, "blind": float(np.mean(blind)) if blind else nan,
            "offscreen_test": off / test if test else nan}


def main(args: argparse.Namespace) -> int:
    """Run the generator and print a one-line summary, with how much size gives away."""
    out = generate(args.preset, args.n, args.seed, args.out, args.size, args.test_fraction, progress=not args.no_progress,
                   habitat_prob=args.habitat_prob, companion_prob=args.companion_prob,
                   offscreen_habitat_prob=args.offscreen_habitat_prob, classes=args.classes)
    info = read_info(out)
    print(
        f"wrote {info['num_samples']} {args.preset} samples ({info['splits']['train']} train, {info['splits']['test']} test), "
        f"{info['num_classes']} classes, {info['size']} px, seed {args.seed}, to {out}"
    )
    shares = salience_shares(read_manifest(out))
    print(f"the sounding object is the largest in view in {100 * shares['largest']:.1f} % of the frames with one "
          f"(1 / objects in view: {100 * shares['blind']:.1f} %); "
          f"{100 * shares['offscreen_test']:.1f} % of the test frames are off-screen")
    return 0
