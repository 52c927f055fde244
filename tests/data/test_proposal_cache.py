"""Tests for sslprop/data/proposal_cache.py."""

from __future__ import annotations

import numpy as np
import pytest

from sslprop.data.proposal_cache import ProposalCache
from sslprop.errors import SSLPropError


def test_cache_roundtrip_and_keys(tmp_path):
    cache = ProposalCache(tmp_path)
    boxes = np.array([[0, 0, 5, 5], [1.5, 2, 9, 9]], np.float64)
    assert not cache.has("frames/a/0.png")
    with pytest.raises(SSLPropError, match=r"frames/a/0.png: no cached proposals.*python -m sslprop proposals"):
        cache.get("frames/a/0.png")
    path = cache.put("frames/a/0.png", boxes)
    assert path == tmp_path / "proposals" / "ss-fast-full-min4-v2" / "frames" / "a" / "0.png.npy"
    assert cache.has("frames/a/0.png") and cache.count("frames/a/0.png") == 2
    got = cache.get("frames/a/0.png")
    assert got.dtype == np.float32 and np.array_equal(got, boxes.astype(np.float32))
    cache.put("frames/a/1.png", np.zeros((0, 4)))
    assert cache.get("frames/a/1.png").shape == (0, 4)
    other = ProposalCache(tmp_path, mode="quality", max_side=500)
    assert other.key == "ss-quality-500-min4-v2" and not other.has("frames/a/0.png")
    assert "--mode quality --max-side 500" in other.command()
    with pytest.raises(SSLPropError, match="--max-side 4: must be at least 8"):
        ProposalCache(tmp_path, max_side=4)
    with pytest.raises(SSLPropError, match="without '..'"):
        cache.path("../escape.png")
    with pytest.raises(SSLPropError, match=r"\(P, 4\)"):
        cache.put("frames/a/2.png", np.zeros((3, 5)))
    assert not list(cache.dir.rglob("*.tmp"))
