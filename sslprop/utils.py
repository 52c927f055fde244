"""Small shared helpers: seeding, atomic file writes, device choice."""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def check_out_folder(out: str | os.PathLike, flag: str = "--out") -> None:
    """A one-line SSLPropError before any work when an output folder path names an existing file."""
    from pathlib import Path

    from sslprop.errors import SSLPropError

    p = Path(out)
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                raise SSLPropError(f"{flag} {out}: {q} is a file, not a folder")
            return


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that a reader never sees a half-written file.

    The bytes go to a temporary file in the same folder, which then replaces `path`
    (os.replace is atomic on POSIX): an interrupted run leaves the old file or none. The file
    gets the permissions of an ordinary write under the process umask (0644 under 022).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the mode open() would give it
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented, key-sorted JSON, atomically (stable bytes for a given object)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def resolve_device(name: str | None) -> "torch.device":  # noqa: F821
    """`"cpu"`, `"cuda"`, `"cuda:1"` or None/`"auto"` (CUDA when available) -> torch.device."""
    import torch

    from sslprop.errors import SSLPropError

    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise SSLPropError(f"--device {name}: not a device (use cpu, cuda, cuda:N or auto)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SSLPropError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return dev
