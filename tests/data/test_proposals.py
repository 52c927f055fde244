"""Tests for sslprop/data/proposals.py."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from sslprop import cli
from sslprop.data.format import Frame, Sample, write_manifest
from sslprop.data.proposal_cache import ProposalCache
from sslprop.data.proposals import extract_dataset, selective_search
from sslprop.errors import SSLPropError

RECTS = [(8, 10, 40, 50, (220, 30, 30)), (52, 6, 90, 30, (30, 200, 40)), (50, 50, 88, 88, (40, 60, 230))]


def rect_image(size: int = 96) -> np.ndarray:
    """A grey RGB image with three coloured rectangles (RECTS: x1, y1, x2, y2, colour)."""
    img = np.full((size, size, 3), 128, np.uint8)
    for x1, y1, x2, y2, colour in RECTS:
        img[y1:y2, x1:x2] = colour
    return img


def write_tiny_set(root: Path, n: int = 3) -> list[str]:
    """n samples of two 96 x 96 PNG frames each (shifted rectangles); the audio path is a dummy file."""
    (root / "audio").mkdir(parents=True)
    (root / "audio" / "dummy.wav").write_bytes(b"")
    samples, rels = [], []
    for i in range(n):
        frames = []
        for j in range(2):
            rel = f"frames/s{i}/{j}.png"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / rel), np.roll(rect_image(), 7 * (2 * i + j), axis=1)[:, :, ::-1])
            frames.append(Frame(rel, 0.5 + j, 96, 96))
            rels.append(rel)
        samples.append(Sample(f"s{i}", f"v{i}", "train", "audio/dummy.wav", frames))
    write_manifest(root, samples, {"name": "tiny"})
    return rels


def test_selective_search_finds_each_rectangle():
    boxes = selective_search(rect_image())
    assert boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 4
    truth = torch.tensor([r[:4] for r in RECTS], dtype=torch.float32)
    best = box_iou(truth, torch.from_numpy(boxes)).max(dim=1).values
    assert (best > 0.7).all(), best
    assert len(np.unique(boxes, axis=0)) == len(boxes)  # no duplicates
    assert ((boxes[:, 2:] - boxes[:, :2]) >= 4).all()
    assert boxes.min() >= 0 and boxes[:, 2].max() <= 96 and boxes[:, 3].max() <= 96


def test_selective_search_is_deterministic_and_scales_back():
    img = rect_image()
    a, b = selective_search(img), selective_search(img)
    assert np.array_equal(a, b)  # same boxes, same order
    big = cv2.resize(img, (192, 192), interpolation=cv2.INTER_NEAREST)
    boxes = selective_search(big, max_side=96)
    assert boxes[:, 2].max() <= 192 and boxes[:, 3].max() > 96  # in the original image's pixels
    truth = torch.tensor([r[:4] for r in RECTS], dtype=torch.float32) * 2
    assert (box_iou(truth, torch.from_numpy(boxes)).max(dim=1).values > 0.7).all()


def test_selective_search_rejects_bad_input():
    with pytest.raises(SSLPropError, match="uint8 RGB"):
        selective_search(np.zeros((10, 10), np.uint8))
    with pytest.raises(SSLPropError, match="mode 'slow'"):
        selective_search(rect_image(), mode="slow")
    with pytest.raises(SSLPropError, match="too small"):
        selective_search(np.zeros((3, 40, 3), np.uint8))


def test_extract_dataset_runs_reuses_and_resumes(tmp_path):
    rels = write_tiny_set(tmp_path)
    first = extract_dataset(tmp_path, workers=2, k=20, progress=False)
    assert (first.frames, first.done, first.reused, first.failed) == (6, 6, 0, {})
    cache = ProposalCache(tmp_path)
    for rel in rels:
        expected = selective_search(cv2.imread(str(tmp_path / rel))[:, :, ::-1].copy())
        assert np.array_equal(cache.get(rel), expected)
    assert first.counts == {rel: cache.count(rel) for rel in rels}
    assert first.few == {rel: n for rel, n in first.counts.items() if n < 20}
    index = json.loads((cache.dir / "index.json").read_text())
    assert index["counts"] == first.counts and index["settings"]["mode"] == "fast"

    second = extract_dataset(tmp_path, workers=2, progress=False)
    assert (second.done, second.reused, second.failed) == (0, 6, {})
    assert second.counts == first.counts
    assert "nothing to do, all 6 frames were already cached" in second.summary()

    mtimes = {rel: cache.path(rel).stat().st_mtime_ns for rel in rels}
    cache.path(rels[3]).unlink()  # as if the run had been interrupted before this frame
    third = extract_dataset(tmp_path, workers=1, progress=False)
    assert (third.done, third.reused) == (1, 5)
    assert all(cache.path(rel).stat().st_mtime_ns == mtimes[rel] for rel in rels if rel != rels[3])
    assert third.counts == first.counts


def test_extract_dataset_reports_corrupt_and_small_frames(tmp_path, capsys):
    rels = write_tiny_set(tmp_path, n=2)
    (tmp_path / rels[1]).write_bytes(b"not a png")
    cv2.imwrite(str(tmp_path / rels[2]), np.zeros((20, 96, 3), np.uint8))
    stats = extract_dataset(tmp_path, workers=1, progress=False)
    assert (stats.done, stats.reused) == (2, 0)
    assert set(stats.failed) == {rels[1], rels[2]}
    assert stats.failed[rels[1]] == f"{tmp_path / rels[1]}: cannot decode image (corrupt or not an image)"
    assert stats.failed[rels[2]] == f"{tmp_path / rels[2]}: frame is 96x20 px, smaller than the 32 px needed on a side"
    report = json.loads((ProposalCache(tmp_path).dir / "report.json").read_text())
    assert set(report["failed"]) == {rels[1], rels[2]}

    code = cli.main(["proposals", str(tmp_path), "--workers", "1", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1  # failures make the exit status non-zero; the good frames are reused
    assert "0 done, 2 reused, 2 failed" in out
    assert f"failed: {tmp_path / rels[1]}: cannot decode image (corrupt or not an image)" in err and "report.json" in err


def test_cli_proposals_summary_line(tmp_path, capsys):
    write_tiny_set(tmp_path, n=1)
    assert cli.main(["proposals", str(tmp_path), "--workers", "1", "--k", "5000", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("proposals: 2 frames in ") and "2 done, 0 reused, 0 failed; 2 with < 5000 proposals" in out
    assert cli.main(["proposals", str(tmp_path / "missing")]) == 2
    assert "no manifest here" in capsys.readouterr().err
