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
