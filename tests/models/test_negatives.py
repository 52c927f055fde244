"""Tests for sslprop/models/negatives.py."""

import pytest
import torch

from sslprop.errors import SSLPropError
from sslprop.models.negatives import negative_indices, split_negatives


def test_negative_indices_other_video_always():
    ids = ["a", "a", "b", "c", "c", "c", "d", "a"]
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        idx = negative_indices(ids, g)
        assert idx.dtype == torch.long and idx.shape == (8,)
        for i, j in enumerate(idx.tolist()):
            assert ids[j] != ids[i]
            seen.add((i, j))
    # every allowed pair is drawn sometimes (uniform over other videos' items): 8*8 minus same-video pairs
    allowed = {(i, j) for i in range(8) for j in range(8) if ids[i] != ids[j]}
    assert seen == allowed


def test_negative_indices_reproducible_and_tensor_ids():
    ids = torch.tensor([3, 3, 5, 9])
    a = negative_indices(ids, torch.Generator().manual_seed(7))
    b = negative_indices(ids, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert a[0].item() in (2, 3) and a[1].item() in (2, 3) and a[2].item() != 2 and a[3].item() != 3


def test_negative_indices_one_video_is_an_error():
    with pytest.raises(SSLPropError, match="one video only"):
        negative_indices(["v1", "v1", "v1"])
    with pytest.raises(SSLPropError, match="one video only"):
        negative_indices(["v1"])


def test_paired_indices_are_successive_draws_of_the_generator():
    from sslprop.models.negatives import paired_indices

    ids = ["a", "a", "b", "c"]
    pairs = paired_indices(ids, torch.Generator().manual_seed(5), 3)
    g = torch.Generator().manual_seed(5)
    assert pairs.shape == (3, 4) and torch.equal(pairs, torch.stack([negative_indices(ids, g) for _ in range(3)]))
    codes = torch.tensor([0, 0, 1, 2])
    assert bool((codes[pairs] != codes[None, :]).all())  # never a clip of the same video


def test_split_negatives_draw_uniformly_from_other_videos_and_repeat_with_the_seed():
    ids = ["a", "b", "a", "c", "b", "a", "d"]
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(7, 7)
    for _ in range(3000):
        idx = split_negatives(ids, g)
        assert idx.dtype == torch.long and idx.shape == (7,)
        counts[torch.arange(7), idx] += 1
    allowed = torch.tensor([[ids[i] != ids[j] for j in range(7)] for i in range(7)])
    assert bool((counts[~allowed] == 0).all()) and bool((counts[allowed] > 0).all())
    share = counts / counts.sum(dim=1, keepdim=True)  # each row uniform over the clips of other videos
    expect = allowed / allowed.sum(dim=1, keepdim=True)
    assert torch.allclose(share, expect.float(), atol=0.04)
    assert torch.equal(split_negatives(ids, torch.Generator().manual_seed(5)), split_negatives(ids, torch.Generator().manual_seed(5)))
    with pytest.raises(SSLPropError, match="clips of one video only"):
        split_negatives(["a", "a"], torch.Generator())
