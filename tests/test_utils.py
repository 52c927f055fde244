"""Tests for sslprop/utils.py: seeding, atomic writes, device names."""

from __future__ import annotations

import json

import pytest
import torch

from sslprop.errors import SSLPropError
from sslprop.utils import atomic_write_bytes, atomic_write_json, resolve_device, seed_everything


def test_seed_everything_repeats_the_draws():
    seed_everything(3)
    a = torch.rand(4)
    seed_everything(3)
    assert torch.equal(a, torch.rand(4))
    seed_everything(4)
    assert not torch.equal(a, torch.rand(4))


def test_atomic_json_is_key_sorted_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "x.json"
    atomic_write_json(path, {"b": 1, "a": [1, 2]})
    first = path.read_bytes()
    assert first == b'{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n' and json.loads(first) == {"a": [1, 2], "b": 1}
    atomic_write_json(path, {"a": [1, 2], "b": 1})  # another key order, the same bytes
    assert path.read_bytes() == first
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and sorted(p.name for p in path.parent.iterdir()) == ["x.json"]


def test_resolve_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type in ("cpu", "cuda") and resolve_device("auto") == resolve_device(None)
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(SSLPropError, match="--device cuda:1: CUDA is not available"):
            resolve_device("cuda:1")


def test_a_folder_lock_refuses_a_second_holder_and_is_released(tmp_path):
    import os

    from sslprop.utils import LOCK_FILE, folder_lock

    run = tmp_path / "run"
    with folder_lock(run, "train") as held:
        assert held == run and run.is_dir()
        with pytest.raises(SSLPropError, match=rf"run: in use by process {os.getpid()} \(sslprop train since .*\); wait for it"):
            with folder_lock(run, "predict"):
                pass
        (run / "latest.pth").write_bytes(b"x")
    with folder_lock(run, "train"):  # released when the block ends: the same process may lock it again
        pass
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE, "latest.pth"]
    with pytest.raises(SSLPropError, match="bad"):
        with folder_lock(tmp_path / "new", "predict"):
            raise SSLPropError("bad input")
    assert not (tmp_path / "new").exists()  # a folder created for nothing is not left behind


def test_an_oserror_inside_the_atomic_writer_names_the_file(tmp_path, monkeypatch):
    import errno
    import os

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a full disk raises it: no file name

    monkeypatch.setattr(os, "fsync", full)
    (tmp_path / "x.json").write_text("old")
    with pytest.raises(OSError) as info:
        atomic_write_json(tmp_path / "x.json", {"a": 1})
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "x.json")
    assert (tmp_path / "x.json").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.json"]
