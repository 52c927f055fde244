"""Tests for sslprop/lab/widgets.py."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from sslprop.errors import SSLPropError
from sslprop.lab import widgets
from tests.helpers import LABELS, RECORDS

matplotlib.use("Agg")

def test_table1_explorer_redraws():
    ex = widgets.table1_explorer(RECORDS, LABELS, title="toy")
    assert ex.values() == {"threshold": 0.2}
    assert "accuracy m_on 0.80, d_on 0.40, m_on || d_on 0.60" in ex.figure._suptitle.get_text()
    ex.update(threshold=0.12)
    assert "accuracy m_on 0.80, d_on 0.60, m_on || d_on 0.80" in ex.figure._suptitle.get_text()
    assert ex.png()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explorers_construct_and_redraw():
    image = np.zeros((10, 10, 3), np.uint8)
    g = torch.zeros(10, 10)
    g[2:4, 2:4] = 1.0
    boxes = torch.tensor([[0, 0, 10, 10], [2, 2, 4, 4], [6, 6, 9, 9]], dtype=torch.float32)
    e = widgets.k_scorer_explorer(image, g, boxes, torch.tensor([[2.0, 2.0, 4.0, 4.0]]), k=1, scorer="sum", max_k=3)
    assert e.figure.axes[0].get_title() == "top 1 by 'sum': 0 with IoU >= 0.5"
    e.update(scorer="mean")
    assert e.figure.axes[0].get_title() == "top 1 by 'mean': 1 with IoU >= 0.5"
    bundle = e._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"} <= set(bundle)
    assert bundle["image/png"][:4] == b"\x89PNG" and bundle["text/plain"] == "<Explorer: k=1, scorer='mean'>"
    with pytest.raises(SSLPropError, match="no control 'K'"):
        e.update(K=2)

    m = torch.zeros(10, 10)
    m[2:6, 2:6] = 0.5
    m[3:5, 3:5] = 1.0
    t = widgets.map_threshold_explorer(image, m, [[2, 2, 6, 6]], threshold=0.4)
    assert t.figure.axes[0].get_title() == "map-based box, T = 0.40: IoU 1.00"
    t.update(threshold=0.9)  # only the 2x2 core: IoU 4 / 16
    assert t.figure.axes[0].get_title() == "map-based box, T = 0.90: IoU 0.25"

    h = widgets.threshold_explorer([0.1, 0.3, 0.5, 0.05], [False, True, True, True], threshold=0.2, name="d_on")
    assert h.figure.axes[0].get_title() == "d_on > 0.200: accuracy 0.75, TPR 0.67, FPR 0.00"
    plt.close("all")


def test_threshold_rates():
    assert widgets.threshold_rates([0.1, 0.3, 0.5, 0.05], [False, True, True, True], 0.2) == {
        "accuracy": 0.75, "tpr": 2 / 3, "fpr": 0.0}
    r = widgets.threshold_rates([0.3], [True], 0.2)
    assert r["tpr"] == 1.0 and np.isnan(r["fpr"])
    with pytest.raises(SSLPropError, match="need equal"):
        widgets.threshold_rates([0.1, 0.2], [True], 0.2)


def test_sound_swap_explorer_shows_each_sounds_ranking():
    from sslprop.engine.localize import FrameResult

    frame = np.zeros((20, 30, 3), np.uint8)
    results = {
        "own": FrameResult(np.array([[2, 2, 10, 10, 0.6], [12, 2, 20, 10, 0.3]], np.float32), 0.6, None, None),
        "silence": FrameResult(np.array([[12, 2, 20, 10, 0.1]], np.float32), 0.1, None, None),
    }
    e = widgets.sound_swap_explorer(frame, results, gt_boxes=[[2, 2, 10, 10]])
    assert e.figure.axes[0].get_title() == "own: d_on 0.600 (on-screen)"
    e.update(sound="silence")
    assert e.figure.axes[0].get_title() == "silence: d_on 0.100 (off-screen)"
    bars = [p.get_width() for p in e.figure.axes[1].patches]
    assert bars == pytest.approx([0.6, 0.1])
    with pytest.raises(SSLPropError, match="sound 'x': choose from own, silence"):
        widgets.sound_swap_explorer(frame, results, sound="x")
