"""argparse types shared by every subcommand's options: counts and sizes (>= 1), seeds and counts where 0 means something."""

from __future__ import annotations

import argparse


def _int_at_least(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type of every count or size option (--k, --epochs, --batch-size, --max-samples, ...): an integer of at least 1."""
    return _int_at_least(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    """argparse type of the integer options where 0 means something (seeds; --workers 0, --checkpoint-every 0, ...): >= 0."""
    return _int_at_least(text, 0, "an integer >= 0")
