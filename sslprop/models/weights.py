"""The shipped weights of the cpu profile's small encoders (sslprop/weights/) and their cards: where they are, and a check of their sha256."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sslprop.errors import SSLPropError
from sslprop.utils import sha256_file

SHIPPED_WIDTH = {"visual": 32, "audio": 16}  # model.visual_width / audio_width of the shipped encoders (the cpu profile's)


WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"  # the shipped weight files and their cards




def card_path(weights: str | os.PathLike) -> Path:
    """The card beside a weight file: ``visual.pt`` -> ``visual.json``."""
    return Path(weights).with_suffix(".json")


def shipped_weights(kind: str) -> Path:
    """The weight file shipped in the package for the cpu profile's `kind` encoder (`make pretrain` writes it)."""
    path = WEIGHTS_DIR / f"small_{kind}.pt"
    if not path.is_file():
        raise SSLPropError(f"{path}: shipped {kind} weights missing (run `make pretrain`, or train from scratch with --from-scratch)")
    return path


def check_shipped(kind: str) -> dict[str, Any]:
    """The card of a shipped weight file, after checking that the file's sha256 is the card's."""
    path = shipped_weights(kind)
    card = json.loads(card_path(path).read_text(encoding="utf-8"))
    digest = sha256_file(path)
    if digest != card["sha256"]:
        raise SSLPropError(f"{path}: sha256 {digest[:12]} differs from its card's {card['sha256'][:12]}")
    return card
