"""Small shared helpers: seeding, atomic file writes, folder locks, device choice."""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslprop.errors import SSLPropError


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (hex), read in 1 MiB blocks: weight files, exported runs, prediction files."""

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_out_folder(out: str | os.PathLike, flag: str = "--out") -> None:
    """A one-line SSLPropError before any work when an output folder path names an existing file."""

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
    gets the permissions of an ordinary write under the process umask (0644 under 022). An OSError
    raised without a file name (a full disk: errno ENOSPC inside the write) is given `path`'s, so the
    CLI can name the folder.
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
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None:
            e.filename = str(path)
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


LOCK_FILE = ".lock"


@contextmanager
def folder_lock(folder: str | os.PathLike, command: str) -> Iterator[Path]:
    """Hold `folder` (created when missing) for one command: a second command on it is refused while this one runs.

    The lock is `fcntl.flock` on ``FOLDER/.lock``, which records the holder's process id and command.
    The kernel releases it when the process ends, however it ends (SIGKILL included), so a lock is never
    stale; this process releases it when the `with` block ends, so a notebook can call train or predict on
    the same folder again. A folder that this call created and that holds nothing else afterwards is removed.
    A held lock raises a one-line SSLPropError naming the holder's process id. Where `fcntl` is missing
    (Windows) nothing is locked.
    """

    try:
        import fcntl  # noqa: PLC0415  (POSIX only; elsewhere the lock is skipped)
    except ImportError:  # pragma: no cover (not POSIX)
        yield Path(folder)
        return
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise SSLPropError(f"{folder}: in use by {holder}; wait for it to end, or choose another folder") from None
        except BaseException:
            os.close(fd)
            raise
        try:  # the holder before us may have removed the file it locked: lock the one that is there now
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "command": command, "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        yield folder
    finally:
        if created and [p.name for p in folder.iterdir()] == [LOCK_FILE]:  # nothing written: leave no empty folder behind
            try:
                path.unlink()
                folder.rmdir()
            except OSError:
                pass
        os.close(fd)  # releases the lock


def _lock_holder(fd: int) -> str:
    """'process 1234 (sslprop train since 2024-05-01 10:00:00)' from a lock file, as far as it can be read."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"process {int(info['pid'])} (sslprop {info.get('command', '?')} since {info.get('since', '?')})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def resolve_device(name: str | None) -> torch.device:
    """`"cpu"`, `"cuda"`, `"cuda:1"` or None/`"auto"` (CUDA when available) -> torch.device."""

    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise SSLPropError(f"--device {name}: not a device (use cpu, cuda, cuda:N or auto)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SSLPropError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return dev
