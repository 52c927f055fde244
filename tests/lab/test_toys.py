"""Tests for sslprop/lab/toys.py."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from sslprop.errors import SSLPropError
from sslprop.lab import toys

matplotlib.use("Agg")

def test_topk_recall_and_top1_area_by_hand():
    g = torch.zeros(10, 10)
    g[2:4, 2:4] = 1.0  # the source's mass, a 2x2 square
    boxes = torch.tensor([[0, 0, 10, 10], [2, 2, 4, 4], [6, 6, 9, 9]], dtype=torch.float32)
    gt = torch.tensor([[2, 2, 4, 4], [2, 2, 4, 5]], dtype=torch.float32)
    # frame 2 is off-screen (no gt): left out
    res = toys.topk_recall([g, g], [boxes, boxes], [gt, torch.zeros(0, 4)], ks=(1, 2), scorers=("sum", "mean", "soft_iou"))
    # sum: the whole frame ties with the exact box (both hold all 4 units of mass); the tie goes to index 0
    assert res == {"sum": {1: 0.0, 2: 1.0}, "mean": {1: 1.0, 2: 1.0}, "soft_iou": {1: 1.0, 2: 1.0}, "all": {0: 1.0}}
    per = toys.topk_recall([g, g, g], [boxes, boxes, boxes], [gt, torch.zeros(0, 4), gt], ks=(1, 2), scorers=("sum",), per_frame=True)
    assert per == {"sum": {1: [0.0, 0.0], 2: [1.0, 1.0]}, "all": {0: [1.0, 1.0]}}  # the two annotated frames' outcomes
    assert toys.top1_area([g], [boxes], "sum") == [1.0]
    assert toys.top1_area([g], [boxes], "mean") == [0.04]
    with pytest.raises(SSLPropError, match="no frame has an annotated source"):
        toys.topk_recall([g], [boxes], [torch.zeros(0, 4)], ks=(1,), scorers=("sum",))


def test_reference_maps_and_mass_ratio():
    m = toys.oracle_map(np.array([[0, 0, 2, 2], [1, 1, 3, 2.5]]), 4)
    assert m.tolist() == [[1, 1, 0, 0], [1, 2, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    c = toys.centre_map(4)
    assert c.shape == (4, 4) and c[1, 1] == c[2, 2] == c.max() and c[0, 0] == c.min()
    flat = np.ones((4, 4))
    flat[0:2, 0:2] = 3.0  # mean 1.5 overall, 3 in the box
    assert toys.mass_ratio(flat, [0, 0, 2, 2]) == 2.0
    mask = np.zeros((20, 20), bool)
    mask[5:15, 4:10] = True
    pm = toys.part_map(mask, share=0.3, blur=1.0)
    assert pm.max() == pytest.approx(1.0) and np.unravel_index(pm.argmax(), pm.shape)[0] < 8  # top 3 rows: 5, 6, 7
    assert pm[14].max() < 1e-3
    bm = toys.blurred_map([mask, np.roll(mask, 8, axis=1)], [1.0, 0.5], blur=1.0)
    assert bm.max() == pytest.approx(1.0) and bm[10, 14] == pytest.approx(0.5, abs=0.02)
    with pytest.raises(SSLPropError, match="2 masks for 1 weights"):
        toys.blurred_map([mask, mask], [1.0])


def test_k_table_is_in_percent():
    row = {"K=10": 0.25, "K=10 low": 0.125, "K=10 high": 0.5, "K=20": 1 / 3, "K=1": 0.1}
    table = toys.k_beside_paper(row, "mean")
    assert [r["K"] for r in table] == [10, 20, 30]
    col = "top-K recall, trained GRM, mean (ours, %)"
    assert table[0] == {"K": 10, col: 25.0, f"{col} low": 12.5, f"{col} high": 50.0,
                        "cIoU@0.5 (paper, Table 3, %)": 68.9, "AUC (paper, Table 3, %)": 56.2}
    assert table[1][col] == pytest.approx(33.333, abs=1e-3) and f"{col} low" not in table[1]
    assert table[2][col] is None and table[2]["AUC (paper, Table 3, %)"] == 57.3
