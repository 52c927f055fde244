"""Supervised pretraining of the cpu profile's small encoders: our analog of ImageNet and AudioSet.

The paper does not train its encoders from scratch: VGG16 starts from ImageNet and VGGish from
AudioSet (supervised pretraining on other data), and the self-supervised training starts from
there. The cpu profile's small encoders have no such public weights, so this module makes them:

    python -m sslprop pretrain visual --out visual.pt [--seed S]
    python -m sslprop pretrain audio  --out audio.pt  [--seed S]

Each trains the encoder (the same `SmallVisual` / `SmallAudio` the cpu profile uses, same
architecture and width) plus a linear classifier with class labels on a labelled corpus that is
generated apart from the benchmark's data sets: its own random streams (`CORPUS_CODE`, never
those of `sslprop synth`), its own seed, and a held-out split of new draws whose accuracy is
printed and written to the weight file's card.

- visual: one stamp per image, at a random scale, position and mirror, on a random crop of a
  background photo, at `CROP` px (about the size of an object in a 96 px `scenes` frame: the
  encoder is fully convolutional, so it meets the stamps there at the scale it learned them).
- audio: a 0.96 s excerpt of the class's recording (the loud part, as `synth` draws it), a
  random gain and a little white noise, turned into the cpu profile's log-mel patch.

Labels are used here and nowhere else: no self-supervised method sees them; the encoders'
knowledge of the benchmark's 72 classes is the analog's limit (docs/pretrained-encoders.md, "How far the analog
reaches"). The weight file holds the encoder's state dict only (the classifier is dropped), in
the layout `--visual-weights` / `--audio-weights` read. Deterministic in the seed on one machine.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from sslprop.argtypes import nonnegative_int, positive_int
from sslprop.config import get_profile
from sslprop.data.audio import audio_patch
from sslprop.data.synth.assets import SUBSETS, class_subset, load_bank, pick_background, pick_stamp
from sslprop.data.synth.compose import excerpt, finish_audio, place, render
from sslprop.errors import SSLPropError
from sslprop.models.encoders import _build_audio, _build_visual
from sslprop.models.weights import card_path
from sslprop.utils import atomic_write_bytes, atomic_write_json, seed_everything

KINDS = ("visual", "audio")
CORPUS_CODE = {"visual": 101, "audio": 102}  # mixed into every draw; synth's presets use 1-4
SPLIT_CODE = {"train": 0, "heldout": 1}
CROP = 48  # visual corpus image side (px)
STAMP_HEIGHT = (0.3, 0.95)  # stamp height as a share of the crop, log-uniform (14-46 px at 48)
LICENCE = (
    "GPL-2.0-or-later: trained on images and recordings derived from the Tux Paint stamps "
    "(sslprop/assets/stamps/LICENSE); the weights are distributed under the stamps' licence"
)


@dataclass(frozen=True)
class Recipe:
    """How one encoder is pretrained (the defaults are what the shipped weights used)."""

    train_size: int  # labelled examples drawn for training (balanced over the classes)
    heldout_size: int  # new draws of the same generator, never trained on
    steps: int  # optimiser steps
    batch_size: int
    lr: float  # Adam, cosine-decayed to 0 over `steps`


RECIPES = {
    "visual": Recipe(train_size=14_400, heldout_size=1_440, steps=2_400, batch_size=64, lr=2e-3),
    "audio": Recipe(train_size=7_200, heldout_size=1_440, steps=900, batch_size=64, lr=2e-3),
}


# --------------------------------------------------------------------------------------- corpus


def _rng(kind: str, seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, CORPUS_CODE[kind], SPLIT_CODE[split], index])


def visual_example(rng: np.random.Generator, bank: Any, label: str, side: int = CROP) -> np.ndarray:
    """One stamp of class `label` on a background crop: uint8 (side, side, 3) RGB."""
    stamp = pick_stamp(rng, bank, label)
    background, _ = pick_background(rng, bank, side)
    placed = place(rng, stamp, side, STAMP_HEIGHT, [], True)
    if placed is None:  # cannot happen for an empty frame; kept as a guard
        raise SSLPropError(f"stamp {stamp.name}: could not be placed on a {side} px crop")
    image, _, _ = render(background, [placed])
    return image


def audio_example(rng: np.random.Generator, bank: Any, label: str, n_mels: int = 64) -> torch.Tensor:
    """A 0.96 s excerpt of class `label`'s recording, random gain 0.3-1.0 and light noise: Tensor[1, 96, n_mels]."""

    stamp = pick_stamp(rng, bank, label)
    clip, _ = excerpt(stamp.sound, 15_360, rng)  # 0.96 s at 16 kHz
    clip, _, _ = finish_audio(float(rng.uniform(0.3, 1.0)) * clip, rng)
    return audio_patch(torch.from_numpy(clip), 16_000, "logmel", n_mels)


def corpus(kind: str, bank: Any, classes: Sequence[str], seed: int, split: str, size: int,
           progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` labelled examples of `kind`, example i of class classes[i % len(classes)], each from its own generator.

    Returns (x, y): visual x uint8 Tensor[size, 3, CROP, CROP], audio x float32 Tensor[size, 1, 96, 64];
    y long Tensor[size], the position of the class in `classes`.
    """

    xs = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one small STFT at a time: extra threads only contend
    try:
        for i in tqdm(range(size), desc=f"{kind} corpus ({split})", unit="example", disable=not progress, leave=False):
            rng = _rng(kind, seed, split, i)
            label = classes[i % len(classes)]
            if kind == "visual":
                xs.append(torch.from_numpy(visual_example(rng, bank, label)).permute(2, 0, 1).contiguous())
            else:
                xs.append(audio_example(rng, bank, label))
    finally:
        torch.set_num_threads(threads)
    y = torch.arange(size) % len(classes)
    return torch.stack(xs), y


# --------------------------------------------------------------------------------------- model


class Classifier(nn.Module):
    """An encoder and a linear classifier over its pooled output.

    visual: the feature map Tensor[B, C, h, w] is pooled by its mean and its max over locations
    (concatenated: a stamp may sit anywhere); audio: the embedding Tensor[B, D] as it is.
    forward(x) -> logits Tensor[B, classes].
    """

    def __init__(self, encoder: nn.Module, kind: str, classes: int) -> None:
        super().__init__()
        self.encoder, self.kind = encoder, kind
        width = 2 * encoder.out_channels if kind == "visual" else encoder.out_dim
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)
        if self.kind == "visual":
            z = torch.cat([z.mean(dim=(2, 3)), z.amax(dim=(2, 3))], dim=1)  # (B, 2C)
        return self.head(z)


def build_encoder(kind: str) -> nn.Module:
    """The cpu profile's encoder of `kind`, as `sslprop.models.encoders.build_encoders` builds it."""

    model_cfg = get_profile("cpu").model
    return _build_visual(model_cfg) if kind == "visual" else _build_audio(model_cfg)


def _inputs(kind: str, x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255.0 if kind == "visual" else x  # frames in [0, 1], as the data set gives them


@torch.no_grad()
def accuracy(model: Classifier, kind: str, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Share of examples whose arg-max class is right (model in eval mode)."""
    model.eval()
    right = 0
    for i in range(0, len(x), batch_size):
        right += int((model(_inputs(kind, x[i : i + batch_size])).argmax(dim=1) == y[i : i + batch_size]).sum())
    return right / max(len(x), 1)


def state_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """`torch.save` of a state dict as bytes (the same tensors give the same bytes)."""
    buf = io.BytesIO()
    torch.save({k: v.detach().clone().contiguous() for k, v in state.items()}, buf)
    return buf.getvalue()


def pretrain(
    kind: str,
    out: str | os.PathLike,
    seed: int = 0,
    subset: str = "all",
    recipe: Recipe | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> dict[str, Any]:
    """Pretrain the cpu profile's `kind` encoder; writes `out` (its state dict) and the card `out` + `.json`.

    Returns the card: command, seed, corpus, recipe, held-out accuracy, sha256 of `out`, licence.
    """

    if kind not in KINDS:
        raise SSLPropError(f"pretrain {kind}: choose from {', '.join(KINDS)}")
    out = Path(out)
    if out.is_dir():
        raise SSLPropError(f"{out}: is a folder (--out names the weight file to write)")
    recipe = recipe or RECIPES[kind]
    t0 = time.perf_counter()
    bank = load_bank()
    classes = class_subset(bank.classes, subset)
    log(f"pretrain {kind}: {len(classes)} classes ({subset}), seed {seed}, drawing {recipe.train_size} + "
        f"{recipe.heldout_size} examples")
    x, y = corpus(kind, bank, classes, seed, "train", recipe.train_size, progress)
    xh, yh = corpus(kind, bank, classes, seed, "heldout", recipe.heldout_size, progress)

    seed_everything(seed)
    model = Classifier(build_encoder(kind), kind, len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, recipe.steps) / recipe.steps)))
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=gen)
    pos, seen, right = 0, 0, 0
    model.train()
    bar = tqdm(range(recipe.steps), desc=f"pretrain {kind}", unit="step", disable=not progress)
    for step in bar:
        if pos + recipe.batch_size > len(order):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos : pos + recipe.batch_size]
        pos += recipe.batch_size
        xb, yb = _inputs(kind, x[idx]), y[idx]
        if kind == "visual":  # a mirrored copy is as much the class (same generator order every run)
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        seen += len(idx)
        right += int((logits.argmax(dim=1) == yb).sum())
        if (step + 1) % 50 == 0 or step + 1 == recipe.steps:
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}", acc=f"{right / seen:.3f}")
            seen = right = 0
    bar.close()
    train_acc = accuracy(model, kind, x[:recipe.heldout_size], y[:recipe.heldout_size])
    heldout = accuracy(model, kind, xh, yh)
    data = state_bytes(model.encoder.state_dict())
    atomic_write_bytes(out, data)
    card = {
        "kind": kind,
        "encoder": type(model.encoder).__name__,
        "architecture": "the cpu profile's (sslprop.config.PROFILES['cpu'].model)",
        "command": command or f"python -m sslprop pretrain {kind} --out {out.name} --seed {seed}"
                              + ("" if subset == "all" else f" --classes {subset}"),
        "seed": seed,
        "classes": list(classes),
        "subset": subset,
        "corpus": _corpus_text(kind, len(classes)),
        "recipe": {"train_size": recipe.train_size, "heldout_size": recipe.heldout_size, "steps": recipe.steps,
                   "batch_size": recipe.batch_size, "lr": recipe.lr, "optimiser": "Adam, cosine decay to 0"},
        "train_accuracy": round(train_acc, 4),
        "heldout_accuracy": round(heldout, 4),
        "chance": round(1.0 / len(classes), 4),
        "seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "licence": LICENCE,
        "labels": "class labels are used here only; no self-supervised method sees them",
    }
    atomic_write_json(card_path(out), card)
    log(f"pretrain {kind}: held-out accuracy {heldout:.3f} on {len(xh)} new examples (chance {1 / len(classes):.3f}; "
        f"training examples {train_acc:.3f}) in {card['seconds']:.0f} s -> {out} (sha256 {card['sha256'][:12]})")
    return card


def _corpus_text(kind: str, classes: int) -> str:
    if kind == "visual":
        return (f"one Tux Paint stamp of one of {classes} classes per {CROP} px image, height "
                f"{STAMP_HEIGHT[0]:g}-{STAMP_HEIGHT[1]:g} of the image (log-uniform), random position and mirror, on a "
                f"random crop of one of the scikit-image photos; random streams {CORPUS_CODE[kind]} (synth's are 1-4)")
    return (f"0.96 s excerpts of the recordings of {classes} classes (loud part, looped when short), gain 0.3-1.0, "
            f"white noise std 0.002-0.008, log-mel patch (1, 96, 64); random streams {CORPUS_CODE[kind]}")


# --------------------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=KINDS, help="which encoder: visual (stamps on backgrounds) or audio (recordings)")
    p.add_argument("--out", required=True, help="weight file to write (its card is written beside it, .json)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="corpus draws, initial weights and data order (default 0)")
    p.add_argument("--classes", default="all", choices=SUBSETS,
                   help="all classes, or every other one in sorted order (even/odd: how far the analog reaches)")
    p.add_argument("--steps", type=positive_int, help="optimiser steps (default: the shipped recipe's)")
    p.add_argument("--train-size", type=positive_int, help="training examples (default: the shipped recipe's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    base = RECIPES[args.kind]
    changes = {}
    for name in ("steps", "train_size"):
        value = getattr(args, name)
        if value is not None:  # >= 1: the parser's positive_int
            changes[name] = value
    recipe = Recipe(**{**base.__dict__, **changes})
    if args.seed < 0:
        raise SSLPropError(f"--seed {args.seed}: must be a non-negative integer")
    command = "python -m sslprop " + " ".join(sys.argv[1:]) if sys.argv and "pretrain" in sys.argv else None
    pretrain(args.kind, args.out, seed=args.seed, subset=args.classes, recipe=recipe,
             progress=not args.no_progress, command=command)
    return 0
