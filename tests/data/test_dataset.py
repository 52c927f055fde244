"""Tests for sslprop/data/dataset.py: items of an sslprop data set as model inputs, and their collation."""

from __future__ import annotations

import pytest
import torch

from sslprop.config import DataConfig
from sslprop.data.dataset import SSLDataset, collate
from sslprop.data.format import Frame, Sample, write_manifest
from sslprop.errors import SSLPropError
from tests.helpers import tiny_set


@pytest.fixture(scope="module")
def tiny16(tmp_path_factory):
    return tiny_set(tmp_path_factory.mktemp("tiny_ds"))


def test_item_and_batch_shapes(tiny16):
    cfg = DataConfig(frame_size=32, n_mels=16)
    ds = SSLDataset(tiny16, "test", cfg, max_proposals=7)
    assert len(ds) == 6 and ds.item_keys(0) == ["s10"]
    item = ds[0]
    assert item["frames"].shape == (1, 3, 32, 32) and 0.0 <= float(item["frames"].min()) <= float(item["frames"].max()) <= 1.0
    assert item["audio"].shape == (1, 1, 96, 16) and torch.isfinite(item["audio"]).all()
    boxes = item["proposals"][0]
    assert 0 < len(boxes) <= 7 and float(boxes.max()) <= 32  # rescaled from the 48 px stored frame
    batch = collate([ds[i] for i in range(3)])
    assert batch["frames"].shape == (3, 1, 3, 32, 32) and batch["keys"] == ["s10", "s11", "s12"]
    assert batch["index"].tolist() == [0, 1, 2] and len(batch["proposals"]) == 3
    assert torch.equal(ds[0]["frames"], item["frames"])  # decoded once, the same tensor after


def test_without_proposals_and_bad_sets(tiny16, tmp_path):
    ds = SSLDataset(tiny16, "train", DataConfig(frame_size=32, n_mels=16), with_proposals=False, max_samples=2)
    assert len(ds) == 2 and ds[1]["proposals"][0].shape == (0, 4)
    with pytest.raises(SSLPropError, match="no samples in split 'nope'|split"):
        SSLDataset(tiny16, "nope")
    frame = Frame("frames/0.png", 0.5, 48, 48, [])
    write_manifest(tmp_path, [Sample("x", "v", "test", "audio/0.wav", [frame])], {"name": "bare"})
    with pytest.raises(SSLPropError, match="no cached proposals for 1 frame.*python -m sslprop proposals"):
        SSLDataset(tmp_path, "test")
    with pytest.raises(SSLPropError, match="fewer than num_frames=2"):
        SSLDataset(tmp_path, "test", DataConfig(num_frames=2), with_proposals=False)


def test_example_cache_keeps_patches_on_disk_and_reads_a_changed_file_again(tmp_path):
    import shutil

    import numpy as np

    from sslprop.data.audio import write_wav
    from sslprop.data.dataset import EXAMPLE_CACHE

    root = tiny_set(tmp_path / "set", n=8, size=32, proposals=False)
    cfg = DataConfig(frame_size=32, audio_features="vggish")
    plain = SSLDataset(root, "train", cfg, with_proposals=False, cache=False)
    disk = SSLDataset(root, "train", cfg, with_proposals=False, cache=False, example_cache=True)
    first = disk[0]["audio"]
    files = list((root / EXAMPLE_CACHE).rglob("*.npy"))
    assert len(files) == 1 and files[0].parent.parent.name == "vggish-64-16000-0.96s-v1"
    assert torch.equal(first, plain[0]["audio"]) and first.dtype == torch.float32
    np.save(files[0], np.zeros((1, 96, 64), np.float32))  # what is stored is what is read
    assert disk[0]["audio"].abs().sum() == 0
    t = np.arange(16000) / 16000
    write_wav(root / "audio/0.wav", 0.5 * np.sin(2 * np.pi * 1234 * t))  # a new file: a new entry, computed again
    assert torch.equal(disk[0]["audio"], plain[0]["audio"]) and disk[0]["audio"].abs().sum() > 0
    assert len(list((root / EXAMPLE_CACHE).rglob("*.npy"))) == 2
    shutil.rmtree(root / EXAMPLE_CACHE)
    (root / EXAMPLE_CACHE).write_text("not a folder")  # cannot be written: computed every time, no error
    assert torch.equal(disk[1]["audio"], plain[1]["audio"]) and not disk.examples.writable
