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


def _png_in_output(explorer) -> bytes:
    import base64

    (out,) = explorer.output.outputs
    return base64.b64decode(out["data"]["image/png"])


def test_the_output_area_holds_a_png_redrawn_without_pyplot():
    before = plt.get_fignums()
    ex = widgets.threshold_explorer([0.1, 0.3, 0.5, 0.05], [False, True, True, True], threshold=0.2, name="d_on")
    assert plt.get_fignums() == before  # the explorer's figure is no pyplot figure: no backend, no stray inline copy
    first = _png_in_output(ex)
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and ex.output.outputs[0]["metadata"]["image/png"]["width"] == 500
    ex.update(threshold=0.4)
    assert _png_in_output(ex) != first and _png_in_output(ex)[:4] == b"\x89PNG"
    assert ex.output.outputs[0]["data"]["text/plain"] == "<figure: threshold=0.4>"


def test_the_k_slider_ends_at_the_frames_proposals():
    assert widgets.k_bounds(20, 50, 35) == (20, 35)
    assert widgets.k_bounds(40, 50, 35) == (35, 35) and widgets.k_bounds(0, 50, 35) == (1, 35)
    assert widgets.k_bounds(20, 10, 35) == (10, 10) and widgets.k_bounds(5, 50, 0) == (1, 1)
    assert widgets.topk_phrase(20, 35) == "top 20" and widgets.topk_phrase(35, 35) == "all 35"
    image = np.zeros((10, 10, 3), np.uint8)
    boxes = torch.tensor([[0, 0, 10, 10], [2, 2, 4, 4], [6, 6, 9, 9]], dtype=torch.float32)
    e = widgets.k_scorer_explorer(image, torch.ones(10, 10), boxes, k=20, scorer="sum", max_k=50)
    assert (e.controls["k"].max, e.controls["k"].value) == (3, 3)
    assert e.figure.axes[0].get_title() == "all 3 by 'sum': 0 with IoU >= 0.5"
    e.update(k=2)
    assert e.figure.axes[0].get_title() == "top 2 by 'sum': 0 with IoU >= 0.5"
    assert [t.get_text() for t in e.figure.axes[0].texts] == ["best"]  # the best box is labelled (here the whole frame)


def test_table1_explorer_draws_no_criterion_under_another():
    ex = widgets.table1_explorer(RECORDS, LABELS, title="toy")
    ax = ex.figure.axes[1]
    styles = {ln.get_label(): (ln.get_linestyle(), ln.get_linewidth(), ln.get_marker()) for ln in ax.lines if not ln.get_label().startswith("_")}
    assert set(styles) == {"m_on", "d_on", "m_on || d_on"} and len(set(styles.values())) == 3
    assert styles["m_on || d_on"][1] > 2 * styles["d_on"][1]  # the OR wide underneath, the single criteria thin on top
    ex.png()  # drawn once, so the legend has its place
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent()
    assert box.y1 <= ax.get_window_extent().y0  # the legend below the axes, off the curves


def test_sound_swap_explorer_marks_the_object_making_the_sound():
    from sslprop.engine.localize import FrameResult

    frame = np.zeros((20, 30, 3), np.uint8)
    results = {"frog": FrameResult(np.array([[2, 2, 10, 10, 0.6]], np.float32), 0.6, None, None),
               "bison": FrameResult(np.array([[12, 2, 20, 10, 0.5]], np.float32), 0.5, None, None),
               "silence": FrameResult(np.array([[0, 0, 30, 20, 0.1]], np.float32), 0.1, None, None)}
    objects = {"frog": [2, 2, 10, 10], "bison": [12, 2, 20, 10]}
    e = widgets.sound_swap_explorer(frame, results, objects=objects, sources={"frog": "frog", "bison": "bison", "silence": None})

    def drawn():
        ax = e.figure.axes[0]
        return {t.get_text(): p.get_edgecolor()[:3] for t, p in zip(ax.texts, ax.patches)}

    from matplotlib.colors import to_rgb

    from sslprop.lab import viz

    assert drawn()["frog: this sound"] == pytest.approx(to_rgb(viz.SOUNDING)) and drawn()["bison"] == pytest.approx(to_rgb(viz.SILENT))
    e.update(sound="bison")
    assert drawn()["bison: this sound"] == pytest.approx(to_rgb(viz.SOUNDING)) and drawn()["frog"] == pytest.approx(to_rgb(viz.SILENT))
    e.update(sound="silence")
    assert not any("this sound" in t for t in drawn())  # no object in view makes silence
    with pytest.raises(SSLPropError, match="source 'horse' is not one of the objects"):
        widgets.sound_swap_explorer(frame, results, objects=objects, sources={"frog": "horse"})


def test_listening_explorer_shows_each_methods_answer_to_the_chosen_sound(tmp_path):
    # two fake methods on a 3-frame listening set: a box method that answers with the played object's box, a map
    # method whose map peaks on object 0 whatever it hears; the explorer draws both, follows the frame's sounds
    import json

    from sslprop.data.format import read_manifest
    from sslprop.data.predfiles import INFO
    from sslprop.data.synth import generator
    from sslprop.evaluation.listening import listening_frames

    data = generator.generate("listening", 3, 1, tmp_path / "l", size=64, progress=False)
    samples = read_manifest(data)
    frames = listening_frames(samples)
    boxes, maps, box_dir, map_dir = {}, {}, tmp_path / "boxes", tmp_path / "maps"
    for s in samples:
        f = s.frames[0]
        j = s.meta["object"] if s.meta["played"] == "object" else 0
        boxes[s.id] = [list(f.objects[j].box) + [1.0]]
        m = np.zeros((16, 16), np.float32)
        x1, y1, x2, y2 = (int(v / 4) for v in f.objects[0].box)
        m[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)] = 1.0
        maps[s.id] = m
    for folder, threshold in ((box_dir, None), (map_dir, 0.5)):
        folder.mkdir()
        (folder / "boxes.json").write_text(json.dumps(boxes))
        np.savez(folder / "maps.npz", **maps)
        (folder / INFO).write_text(json.dumps({"method": "x", "map_threshold": threshold}))
    e = widgets.listening_explorer(data, {"a box method": box_dir, "a map method": map_dir}, columns=2)
    first = e.png()
    assert e.values()["frame"] == frames[0].frame and e.values()["sound"] == "o0"
    e.update(sound="silence")
    assert e.png() != first
    e.update(frame=frames[1].frame)  # the sound menu follows the new frame's objects
    assert e.values()["sound"] == "o0" and len(e.controls["sound"].options) == len(frames[1].played) + 3
    with pytest.raises(SSLPropError, match="no frame"):
        widgets.listening_explorer(data, {"a": box_dir}, frames=["nope"])
