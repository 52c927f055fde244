"""Tests for sslprop/evaluation/prior.py: the audio-free visual prior and the ground-truth ceilings."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from sslprop.data.format import read_manifest
from sslprop.data.images import read_image
from sslprop.data.proposal_cache import ProposalCache
from sslprop.errors import SSLPropError
from sslprop.evaluation import prior
from sslprop.models.baselines.common import object_prior, upsample_map
from sslprop.models.encoders import SmallVisual, load_small_visual
from sslprop.models.weights import shipped_weights
from sslprop.ops.boxes import rescale_boxes
from sslprop.ops.grm import score_boxes
from tests.helpers import run_eval, tiny_set

S = 96  # the cpu profile's input


def test_saliency_is_mean_abs_activation_upsampled_like_the_maps():
    fmap = torch.zeros(1, 2, 2, 2)
    fmap[0, 0] = torch.tensor([[1.0, -3.0], [0.0, 2.0]])
    fmap[0, 1] = 1.0
    assert prior.saliency_maps(fmap, 2).tolist() == [[[1.0, 2.0], [0.5, 1.5]]]  # mean |f| over channels
    g = torch.Generator().manual_seed(0)
    fmap = torch.randn(3, 5, 4, 4, generator=g)
    got = prior.saliency_maps(fmap, 32)
    assert got.shape == (3, 32, 32) and (got >= 0).all()
    assert torch.equal(got, upsample_map(object_prior(fmap), 32))  # EZ-VSL's object prior, upsampled as the models' maps
    with pytest.raises(SSLPropError, match="Tensor"):
        prior.saliency_maps(torch.zeros(2, 4, 4), 8)


def test_ceiling_maps_at_the_frame_and_on_the_stride_8_grid():
    m = prior.frame_ceiling_map(np.array([[10, 20, 30.4, 40.6]]), 64, 48)
    assert m.shape == (48, 64) and m.dtype == np.float32 and m.sum() == 20 * 21 and m[20:41, 10:30].all()
    c = prior.frame_ceiling_map(np.array([[0, 0, 4, 4], [2, 0, 6, 4]]), 8, 8, consensus=True)  # Flickr: summed, / 2, clipped
    assert c[0].tolist() == [0.5, 0.5, 1, 1, 0.5, 0.5, 0, 0] and not c[4:].any()
    # a 192 px frame's left half -> the left 6 of the 12 cells of a 96 px input, upsampled bilinearly to 96
    g = prior.grid_ceiling_map(np.array([[0, 0, 96, 192]]), 192, 192, S, 8)
    cells = torch.zeros(1, 1, 12, 12)
    cells[..., :6] = 1
    assert np.array_equal(g, F.interpolate(cells, size=(S, S), mode="bilinear", align_corners=False)[0, 0].numpy())
    # a cell is in when its centre pixel (4 into the cell) is: pixels 0-3 miss it, 0-4 hit it
    assert not prior.grid_ceiling_map(np.array([[0, 0, 4, 4]]), S, S, S, 8).any()
    assert prior.grid_ceiling_map(np.array([[0, 0, 5, 5]]), S, S, S, 8)[0, 0] == 1.0
    with pytest.raises(SSLPropError, match="multiple"):
        prior.grid_ceiling_map(np.array([[0, 0, 5, 5]]), S, S, 90, 8)
    # ranked: the mask over a background in (0, eps] that falls with the distance to it
    r = prior.ranked_ceiling_map(np.array([[2, 2, 4, 4]]), 8, 8)
    assert np.array_equal(r[2:4, 2:4], np.ones((2, 2))) and (r[r < 1] > 0).all() and r[r < 1].max() <= prior.RANKED_EPS
    assert r[0, 0] < r[1, 1] < r[2, 1] and r[2, 0] == r[0, 2]  # nearer is higher, equally far ties
    maps = prior.ceiling_maps({"k": (np.array([[0, 0, 48, 96]]), 96, 96, False)}, "ceiling-grid")
    assert maps["k"].shape == (S, S) and maps["k"][:, :40].min() == 1.0
    with pytest.raises(SSLPropError, match="unknown ceiling"):
        prior.ceiling_maps({}, "floor")


@pytest.fixture(scope="module")
def framed(tmp_path_factory):
    """tiny_set (48 px frames, a coloured square on grey, 6 test frames) with proposals of our choosing:
    the square's box, 30 seeded random boxes, and on the first frame 2,000 whole-frame boxes besides."""
    root = tiny_set(tmp_path_factory.mktemp("prior"), n=10, size=48, proposals=False)
    cache = ProposalCache(root)
    rng = np.random.default_rng(0)
    for i, s in enumerate(read_manifest(root)):
        f = s.frames[0]
        xy = rng.uniform(0, 40, (30, 2))
        wh = rng.uniform(4, 48, (30, 2))
        boxes = np.concatenate([np.array(f.annotators[0]), np.clip(np.concatenate([xy, xy + wh], 1), 0, 48)])
        if i == 0:
            boxes = np.concatenate([boxes, np.tile([[0.0, 0.0, 48.0, 48.0]], (2000, 1))])
        cache.put(f.path, boxes)
    return root


def _by_hand(root, sample, encoder):
    """One frame's saliency and proposal scores, computed apart from `visual_prior`."""
    f = sample.frames[0]
    rgb = cv2.resize(read_image(root / f.path), (S, S), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        sal = prior.saliency_maps(encoder(x), S)
    boxes = torch.from_numpy(ProposalCache(root).get(f.path))
    scores = score_boxes(sal, [rescale_boxes(boxes, (f.height, f.width), (S, S))], "soft_iou")[0]
    return sal[0].numpy(), boxes, scores


def test_visual_prior_maps_and_boxes(framed):
    encoder = load_small_visual(shipped_weights("visual"))
    a = prior.visual_prior(framed, "all", batch_size=3, progress=False)
    b = prior.visual_prior(framed, "all", batch_size=64, progress=False)
    samples = read_manifest(framed)
    assert sorted(a.maps) == sorted(s.id for s in samples) and "small_visual.pt" in a.source and "soft_iou" in a.box_source
    for s in samples:
        assert np.allclose(a.maps[s.id], b.maps[s.id], atol=1e-6) and np.array_equal(a.boxes[s.id], b.boxes[s.id])
    for s in samples[1:4]:
        sal, boxes, scores = _by_hand(framed, s, encoder)
        assert a.maps[s.id].shape == (S, S) and np.allclose(a.maps[s.id], sal, atol=1e-6)
        best = int(torch.argmax(scores))
        top = a.boxes[s.id]
        assert np.allclose(top[0, :4], boxes[best].numpy(), atol=1e-4)  # back in the 48 px frame's pixels
        assert top[0, 4] == pytest.approx(float(scores.max()), abs=1e-6)
        if len(top) == 2:  # the second row does not overlap the first
            assert float(box_iou(torch.tensor(top[:1, :4]), torch.tensor(top[1:, :4]))) == 0.0
    # the first frame's 2,000 whole-frame boxes are the largest: the cap (model.max_proposals) keeps only them
    first = samples[0]
    _, boxes, scores = _by_hand(framed, first, encoder)
    assert float(scores[:31].max()) > float(scores[31:].max())  # uncapped, a smaller proposal would win
    assert a.boxes[first.id][0, :4].tolist() == [0.0, 0.0, 48.0, 48.0] and len(a.boxes[first.id]) == 2
    # only the keys asked for
    assert sorted(prior.visual_prior(framed, "test", keys=[samples[-1].id], progress=False).maps) == [samples[-1].id]


def test_visual_prior_other_weights_and_errors(framed, tmp_path):
    torch.manual_seed(0)
    other = SmallVisual(4)
    torch.save(other.state_dict(), tmp_path / "v4.pt")
    vp = prior.visual_prior(framed, "test", weights=tmp_path / "v4.pt", progress=False)
    assert "v4.pt" in vp.source
    shipped = prior.visual_prior(framed, "test", progress=False)
    key = next(iter(vp.maps))
    assert not np.allclose(vp.maps[key], shipped.maps[key])
    with pytest.raises(SSLPropError, match="not found"):
        prior.visual_prior(framed, "test", weights=tmp_path / "none.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "bad.pt")
    with pytest.raises(SSLPropError, match="SmallVisual layout"):
        prior.visual_prior(framed, "test", weights=tmp_path / "bad.pt")


def test_eval_methods_visual_prior_and_ceilings(capsys, framed, tmp_path):
    base = ["--annotations", framed, "--protocol", "lvs"]
    r = run_eval(capsys, "--method", "visual-prior", *base, "--ci")
    assert (r["kind"], r["n"]) == ("maps", 6) and "ciou@0.5" in r["ci"] and r["predictions"].startswith("visual-prior: ")
    box = run_eval(capsys, "--method", "visual-prior-box", *base)
    assert box["kind"] == "boxes" and "box_iou@0.5" in box and box["empty_predictions"] == 0
    assert box["predictions"].startswith("visual-prior-box: ") and "small_visual.pt" in box["predictions"]
    torch.manual_seed(0)
    torch.save(SmallVisual(4).state_dict(), tmp_path / "v4.pt")
    other = run_eval(capsys, "--method", "visual-prior", *base, "--visual-weights", tmp_path / "v4.pt")
    assert "v4.pt" in other["predictions"]
    # the ceilings: the ground truth read out as a map; on the stride-8 grid it loses what the cells cannot draw
    top = run_eval(capsys, "--method", "ceiling", *base)
    grid = run_eval(capsys, "--method", "ceiling-grid", *base)
    assert top["kind"] == grid["kind"] == "maps" and top["ciou@0.5"] == 1.0 and top["mean_ciou"] > 0.85
    assert grid["mean_ciou"] < top["mean_ciou"]
    # without a flat background the median threshold keeps the top half of the grid: a 16 x 16 square of a 48 px frame
    # (1/9 of it) scores about (1/9) / (1/2) under lvs, and as the mask itself under an absolute threshold (sspl)
    ranked = run_eval(capsys, "--method", "ceiling-ranked", *base)
    assert ranked["ciou@0.5"] == 0.0 and ranked["mean_ciou"] == pytest.approx(2 / 9, abs=0.02)
    sspl = ["--annotations", framed, "--protocol", "sspl"]
    assert run_eval(capsys, "--method", "ceiling-ranked", *sspl)["mean_ciou"] == run_eval(capsys, "--method", "ceiling", *sspl)["mean_ciou"]
    # the dsol protocols read the same maps; dsol-multi names two regions of a one-object map: the second is empty
    solo = run_eval(capsys, "--method", "ceiling", "--annotations", framed, "--protocol", "dsol-solo")
    assert solo["iou@0.5"] == 1.0
    multi = run_eval(capsys, "--method", "ceiling", "--annotations", framed, "--protocol", "dsol-multi")
    assert multi["mean_ciou"] > 0.85 and multi["ciou@0.3"] == 1.0 and "two_regions" in multi["map_readout"]


def test_eval_method_errors(capsys, framed, tmp_path):
    from tests.evaluation.test_evaluate import run_fail

    vggss = tmp_path / "vggss.json"
    vggss.write_text(json.dumps([{"file": "e1", "class": "a", "bbox": [[0.0, 0.0, 0.5, 0.5]]}]))
    err = run_fail(capsys, "--method", "visual-prior", "--annotations", vggss, "--protocol", "lvs")
    assert "reads the frames of an sslprop data set" in err
    assert run_eval(capsys, "--method", "ceiling", "--annotations", vggss, "--protocol", "lvs")["ciou@0.5"] == 1.0
    err = run_fail(capsys, "--method", "full-frame", "--annotations", framed, "--protocol", "lvs", "--visual-weights", tmp_path / "x.pt")
    assert "--visual-weights: only with --method visual-prior" in err
    err = run_fail(capsys, "--predictions", tmp_path / "p.npz", "--annotations", framed, "--protocol", "lvs", "--visual-weights", tmp_path / "x.pt")
    assert "--visual-weights: only with --method visual-prior" in err
    err = run_fail(capsys, "--method", "two-halves", "--annotations", framed, "--protocol", "lvs")
    assert "two-region floor" in err and "dsol-multi" in err
