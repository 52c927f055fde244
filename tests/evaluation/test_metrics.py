"""Tests for sslprop/evaluation/metrics.py."""

import numpy as np
import pytest

from sslprop.errors import SSLPropError
from sslprop.evaluation import metrics

# A 4x4 map with ties at the median: four 0s, eight 1s, four 2s. Sorted, index int(16/2) = 8 is a 1.
TIED = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], [2, 2, 2, 2]], dtype=np.float32)


def test_median_element_is_the_upper_median_by_index():
    assert metrics.median_element(TIED) == 1.0
    assert metrics.median_element(np.arange(16, dtype=np.float32).reshape(4, 4)) == 8.0  # not np.median's 7.5


def test_lvs_is_strictly_above_the_median_element():
    # LVS: pred > sorted[8] = 0.5 after min-max -> only the four 2s
    mask = metrics.lvs_mask(TIED, size=4)
    assert mask.sum() == 4
    assert mask[3].all() and not mask[:3].any()


def test_lvs_keeps_a_tie_at_the_maximum():
    # half 0s, half 1s: sorted[N//2] is 1 (the max); nothing is > 1, but pred[pred < 1] = 0 leaves the 1s
    half = np.array([[1, 1], [0, 0]], dtype=np.float32)
    assert metrics.lvs_mask(half, size=2).tolist() == [[True, True], [False, False]]
    # the same tie below the maximum is dropped: 0, 1, 1, 2 -> sorted[2] = 1 -> only the 2
    assert metrics.lvs_mask(np.array([[0, 1], [1, 2]], dtype=np.float32), size=2).tolist() == [[False, False], [False, True]]


def test_ezvsl_is_at_or_above_the_median_element():
    # EZ-VSL: pred >= sorted[8] -> the eight 1s and the four 2s
    mask = metrics.ezvsl_mask(TIED, size=4)
    assert mask.sum() == 12
    assert not mask[0].any()


def test_sspl_is_an_absolute_half_after_min_max():
    # (m - 0) / 2 = 0, 0.5, 1 -> >= 0.5 keeps twelve pixels
    assert metrics.sspl_mask(TIED, size=4).sum() == 12
    # a map whose values sit near its minimum: min-max then 0.5 keeps only the top
    m = np.array([[0.0, 0.1], [0.2, 1.0]], dtype=np.float32)
    assert metrics.sspl_mask(m, size=2).tolist() == [[False, False], [False, True]]


def test_constant_maps_follow_each_reference():
    # LVS leaves a constant map unnormalised: pred = 1 + c, positive iff c >= 0
    assert metrics.lvs_mask(np.full((3, 3), 0.0), size=4).all()
    assert not metrics.lvs_mask(np.full((3, 3), -0.25), size=4).any()
    # EZ-VSL: everything >= itself
    assert metrics.ezvsl_mask(np.full((3, 3), -5.0), size=4).all()
    # SSPL: 0 / 0 = NaN, NaN >= 0.5 is False
    assert not metrics.sspl_mask(np.full((3, 3), 7.0), size=4).any()


def test_dsol_threshold_is_strict_and_without_min_max():
    m = np.array([[0.05, 0.1], [0.2, 1.0]], dtype=np.float32)
    # 0.1 * max = 0.1; 0.1 > 0.1 is False
    assert metrics.dsol_mask(m, 0.1, size=2).tolist() == [[False, False], [True, True]]
    # no min-max: 0.5 stays above 0.1 * 1.0 (min-max would have made it 0)
    m = np.array([[0.5, 0.6], [0.7, 1.0]], dtype=np.float32)
    assert metrics.dsol_mask(m, 0.1, size=2).all()
    assert metrics.dsol_mask(m, 0.5, size=2).tolist() == [[False, True], [True, True]]
    # an all-negative map: 0.1 * max(-0.05) = -0.005, nothing is above it
    assert not metrics.dsol_mask(np.array([[-1.0, -0.5], [-0.05, -0.2]]), 0.1, size=2).any()


def test_dsol_min_max_read_out():
    # min-max first: (m - 0.5) / 0.5 = 0, 0.2, 0.4, 1 -> > 0.1 keeps three, > 0.5 one
    m = np.array([[0.5, 0.6], [0.7, 1.0]], dtype=np.float32)
    assert metrics.dsol_mask_minmax(m, 0.1, size=2).tolist() == [[False, True], [True, True]]
    assert metrics.dsol_mask_minmax(m, 0.5, size=2).tolist() == [[False, False], [False, True]]
    # offset and positive scale do not change it; on a map whose minimum is 0 it is DSOL's raw rule
    assert np.array_equal(metrics.dsol_mask_minmax(3 * m - 7, 0.1, size=2), metrics.dsol_mask_minmax(m, 0.1, size=2))
    rng = np.random.default_rng(0)
    z = rng.random((12, 12)).astype(np.float32)
    z -= z.min()
    for ratio in (0.1, 0.2, 0.5):
        assert np.array_equal(metrics.dsol_mask_minmax(z, ratio), metrics.dsol_mask(z, ratio))
    # a constant map has no peak: every pixel positive (as DSOL's raw rule does for a positive constant)
    assert metrics.dsol_mask_minmax(np.full((3, 3), -2.0), 0.1, size=4).all()


def test_no_map_row_equals_the_full_frame_floor_by_construction():
    # Attention's map: a softmax over ReLU(cos) on the feature grid, so min / max >= 1/e > 0.1. DSOL's raw read-out
    # (> 0.1 x max) keeps every pixel, whatever the map: its row would equal the full-frame floor exactly. After
    # min-max the same map keeps only its top, and a map that peaks elsewhere gives another mask.
    rng = np.random.default_rng(1)
    for _ in range(20):
        cos = np.maximum(rng.uniform(-1, 1, (12, 12)), 0)
        att = (np.exp(cos) / np.exp(cos).sum()).astype(np.float32)
        assert att.min() / att.max() >= np.exp(-1) - 1e-7
        assert metrics.get_protocol("dsol-solo-raw").mask(att).all()
        assert metrics.get_protocol("dsol-multi-raw").mask(att).mean() > 0.2  # > 0.5 x max: not the whole frame either
        mask = metrics.get_protocol("dsol-solo").mask(att)
        assert 0 < mask.mean() < 1
    # two softmax maps with peaks in opposite corners give disjoint top pixels, not the same full frame
    a = np.zeros((12, 12), np.float32)
    a[:3, :3] = 1
    m1, m2 = np.exp(a) / np.exp(a).sum(), np.exp(a[::-1, ::-1]) / np.exp(a).sum()
    p = metrics.get_protocol("dsol-solo")
    assert not (p.mask(m1) & p.mask(m2)).any()
    raw = metrics.get_protocol("dsol-solo-raw")
    assert raw.mask(m1).all() and raw.mask(m2).all()


def test_two_regions_of_one_map():
    s = 64
    yy, xx = np.mgrid[0:s, 0:s]

    def bump(cx, cy, w=30.0, h=1.0):
        return h * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / w)

    # two separate blobs: each is a region; a third, weaker blob is dropped
    m = (bump(12, 12) + 0.8 * bump(50, 50) + 0.6 * bump(12, 52)).astype(np.float32)
    a, b = metrics.two_regions(m, m > 0.3)
    assert a[12, 12] and b[50, 50] and not (a | b)[52, 12] and not (a & b).any()
    assert np.array_equal(a | b, (m > 0.3) & ((xx - 12) ** 2 + (yy - 52) ** 2 > 100))
    # ties between blobs of equal peak go to the larger one
    flat = np.zeros((s, s), np.float32)
    flat[2:6, 2:6] = 1
    flat[20:40, 20:40] = 1
    flat[50:52, 50:52] = 1
    a, b = metrics.two_regions(flat, flat > 0)
    assert a.sum() == 400 and b.sum() == 16
    # one blob with two humps: split between the two tops, each pixel to the nearer
    m = (bump(20, 32, 80) + 0.9 * bump(44, 32, 80)).astype(np.float32)
    pos = m > 0.2 * m.max()
    a, b = metrics.two_regions(m, pos)
    assert a[32, 20] and b[32, 44] and not (a & b).any() and np.array_equal(a | b, pos)
    assert a[:, :29].sum() == pos[:, :29].sum() and b[:, 36:].sum() == pos[:, 36:].sum()
    # a plateau is one hump, however wide (the ground truth of one box); two plateaus joined by a lower bridge are two
    box = metrics.box_mask(4, 10, 60, 50, size=s).astype(np.float32)
    a, b = metrics.two_regions(box, box > 0)
    assert np.array_equal(a, box > 0) and not b.any()
    pair = metrics.box_mask(2, 10, 26, 50, size=s) + metrics.box_mask(38, 10, 62, 50, size=s)
    pair[28:32, 26:38] = 0.5
    a, b = metrics.two_regions(pair.astype(np.float32), pair > 0)
    assert a[10:50, 2:26].all() and b[10:50, 38:62].all() and not (a & b).any() and np.array_equal(a | b, pair > 0)
    assert a[28:32, 26:32].all() and b[28:32, 32:38].all()  # the bridge split at its middle
    # one hump: one region, the second empty (a larger radius also leaves a two-hump blob whole)
    m = bump(32, 32, 200).astype(np.float32)
    a, b = metrics.two_regions(m, m > 0.2)
    assert np.array_equal(a, m > 0.2) and not b.any()
    m = (bump(20, 32, 80) + 0.9 * bump(44, 32, 80)).astype(np.float32)
    a, b = metrics.two_regions(m, pos, radius=30)
    assert np.array_equal(a, pos) and not b.any()
    # nothing positive: two empty regions; the ground truth of two disjoint sources comes back exactly
    assert not any(r.any() for r in metrics.two_regions(m, np.zeros((s, s), bool)))
    gt1, gt2 = metrics.box_mask(3, 4, 20, 30, size=s), metrics.box_mask(30, 10, 60, 40, size=s)
    got = metrics.two_regions(gt1 + gt2, (gt1 + gt2) > 0)
    assert metrics.dsol_multi_image(got, [gt1, gt2]).ciou == 1.0
    with pytest.raises(SSLPropError, match="same"):
        metrics.two_regions(m, pos[:10])


def test_resizers_keep_a_map_of_the_target_size_and_differ_in_alignment():
    m = np.array([[0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    lin = metrics.resize_linear(m, size=4)  # half-pixel centres: edges replicate
    ac = metrics.resize_align_corners(m, size=4)  # corners aligned: 0, 1/3, 2/3, 1
    np.testing.assert_allclose(lin[0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(ac[0], [0.0, 1 / 3, 2 / 3, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(metrics.resize_linear(TIED, size=4), TIED)


def test_flickr_box_truncation():
    # int(224 * v / 256) = int(7v / 8): 9 -> 7.875 -> 7, 255 -> 223.125 -> 223, 256 -> 224
    assert metrics.flickr_grid_boxes([(9, 9, 255, 256)]) == [(7, 7, 223, 224)]
    # a float coordinate whose product lands just below an integer: exact 61, computed 60.99999999999999
    v = 488 / 7
    assert 224 * v / 256 < 61
    assert metrics.scale_box((v, 0, 255.99, 256), 256, 256) == (60, 0, 223, 224)


def test_flickr_consensus_of_three_overlapping_annotators():
    # size 8: A=[0,4)^2, B=[2,6)^2, C=[3,8)^2; union 44 cells, 12 covered twice or more
    gt = metrics.consensus_map([(0, 0, 4, 4), (2, 2, 6, 6), (3, 3, 8, 8)], size=8)
    assert (gt == 1).sum() == 12 and (gt == 0.5).sum() == 32 and (gt == 0).sum() == 20
    assert gt.sum() == 28.0
    full = np.ones((8, 8), dtype=bool)
    assert metrics.ciou(full, gt) == pytest.approx(28 / 48)  # 28 / (28 + 20)
    a_only = metrics.box_mask(0, 0, 4, 4, size=8) > 0
    assert metrics.ciou(a_only, gt) == pytest.approx(10 / 28)  # 4 cells of 1 + 12 cells of 0.5


def test_union_of_boxes():
    gt = metrics.union_map([(0, 0, 4, 4), (2, 2, 6, 6)], size=8)
    assert gt.sum() == 28 and set(np.unique(gt)) == {0.0, 1.0}


def test_vggss_clamps_negative_garbage_to_zero():
    assert metrics.vggss_grid_box([0.1, 0.2, 0.5, 0.6]) == (22, 44, 112, 134)
    garbage = [0.5, 0.25, -2.8823037615171176e16, 0.75]
    assert metrics.vggss_grid_box(garbage) == (112, 56, 0, 168)
    assert metrics.vggss_grid_box(garbage, clip_top=True) == (112, 56, 0, 168)
    assert metrics.union_map([metrics.vggss_grid_box(garbage)]).sum() == 0  # x2 = 0: empty slice
    # EZ-VSL's clip also caps at 1; LVS's max(v, 0) does not (NumPy slicing then stops at 224)
    assert metrics.vggss_grid_box([0, 0, 1.5, 1], clip_top=True) == (0, 0, 224, 224)
    assert metrics.vggss_grid_box([0, 0, 1.5, 1]) == (0, 0, 336, 224)


def test_dsol_truncates_the_far_edge_after_adding():
    # x = 0.01 * 224 = 2.24, w = 0.49 * 224 = 109.76, x + w = 111.99999999999999 -> 111 (exact: 112)
    m = metrics.dsol_box_mask((0.01, 0.0, 0.49, 1.0))
    cols = np.flatnonzero(m[0])
    assert cols[0] == 2 and cols[-1] == 110 and len(cols) == 109
    # fractions that add up: 10.6 + 10.6 -> int(21.2) = 21, not int(10.6) + int(10.6) = 20
    m = metrics.dsol_box_mask((10.6 / 224, 0.0, 10.6 / 224, 1.0))
    assert np.flatnonzero(m[0]).tolist() == list(range(10, 21))


def test_ciou_formula_and_empty_cases():
    gt = metrics.box_mask(0, 0, 2, 2, size=4)  # 4 cells
    pred = metrics.box_mask(1, 1, 3, 3, size=4) > 0  # 4 cells, 1 shared
    assert metrics.ciou(pred, gt) == pytest.approx(1 / 7)  # 1 / (4 + 3)
    assert metrics.ciou(np.zeros((4, 4), bool), gt) == 0.0
    assert np.isnan(metrics.ciou(np.zeros((4, 4), bool), np.zeros((4, 4))))  # 0 / 0
    with pytest.raises(SSLPropError):
        metrics.ciou(np.zeros((4, 4)), np.zeros((5, 5)))


def test_auc_on_a_known_list():
    # cIoUs 0.5 and 1/3: 1.0 up to step 6 (0.30000000000000004), 0.5 for steps 7..10, 0 after
    curve = metrics.success_curve([0.5, 1 / 3])
    assert curve[:7] == [1.0] * 7 and curve[7:11] == [0.5] * 4 and curve[11:] == [0.0] * 10
    assert metrics.ciou_auc([0.5, 1 / 3]) == pytest.approx(0.425, abs=1e-12)
    assert metrics.success_rate([0.5, 1 / 3]) == 0.5
    assert metrics.ciou_auc([1.0]) == pytest.approx(1.0)
    assert metrics.ciou_auc([0.0]) == pytest.approx(0.025)  # only the step at 0 passes


def test_auc_steps_are_the_floating_point_products():
    # 0.05 * 3 = 0.15000000000000002: a cIoU of exactly 0.15 fails that step, as in the references
    curve = metrics.success_curve([0.15])
    assert curve[2] == 1.0 and curve[3] == 0.0
    assert metrics.success_curve([0.25])[5] == 1.0  # 0.05 * 5 == 0.25 exactly
    # NaN fails every step but stays in the denominator
    assert metrics.success_curve([float("nan"), 1.0])[0] == 0.5


def test_box_level_iou_hit_is_at_least_half():
    assert metrics.box_hit([0, 0, 10, 10], np.array([[0, 0, 10, 20]])) == (True, 0.5)
    hit, best = metrics.box_hit([0, 0, 10, 10], np.array([[0, 0, 10, 21], [50, 50, 60, 60]]))
    assert not hit and best == pytest.approx(100 / 210)
    assert metrics.box_hit([0, 0, 10, 10], np.zeros((0, 4))) == (False, 0.0)


def test_dsol_multi_assigns_masks_to_sources():
    left = metrics.box_mask(0, 0, 2, 4, size=4)
    right = metrics.box_mask(2, 0, 4, 4, size=4)
    # masks given in the other order: the assignment swaps them
    s = metrics.dsol_multi_image([right > 0, left > 0], [left, right])
    assert s.ciou == 1.0 and s.assignment == (1, 0) and s.per_source == (1.0, 1.0)
    # one mask (a single map) is scored against every source: full frame -> 8/16 each
    s = metrics.dsol_multi_image([np.ones((4, 4), bool)], [left, right])
    assert s.ciou == 0.5 and s.per_source == (0.5, 0.5)
    # two masks for three sources: the third scores 0
    third = metrics.box_mask(0, 0, 1, 1, size=4)
    s = metrics.dsol_multi_image([left > 0, right > 0], [left, right, third])
    assert s.per_source == (1.0, 1.0, 0.0) and s.ciou == pytest.approx(2 / 3)
    assert metrics.dsol_multi_image([], [left]).ciou == 0.0


def test_dsol_nsa_counts_quiet_pixels_of_silent_class_maps():
    quiet = np.zeros((4, 4), dtype=np.float32)
    loud = np.ones((4, 4), dtype=np.float32)
    half = np.array([[0.2] * 4, [0.2] * 4, [0.9] * 4, [0.9] * 4], dtype=np.float32)  # 0.2 <= 0.2 counts
    assert metrics.dsol_nsa([quiet, loud, half], size=4) == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert np.isnan(metrics.dsol_nsa([], size=4))


def test_silent_score_is_the_share_of_silent_pixels_left_negative():
    silent = metrics.box_mask(0, 0, 2, 2, size=4)  # 4 pixels
    positive = metrics.box_mask(1, 0, 4, 4, size=4) > 0  # covers 2 of them
    assert metrics.silent_score(positive, [silent]) == 0.5
    assert metrics.silent_score(np.zeros((4, 4), bool), [silent, silent]) == 1.0
    assert np.isnan(metrics.silent_score(positive, []))


def test_protocol_registry():
    assert set(metrics.PROTOCOLS) == {"lvs", "ezvsl", "sspl", "dsol-solo", "dsol-multi", "dsol-duet",
                                      "dsol-solo-raw", "dsol-multi-raw", "dsol-duet-raw"}
    assert metrics.get_protocol("dsol-solo").headline == "iou@0.5"
    assert metrics.get_protocol("lvs").headline == "ciou@0.5"
    assert [n for n, p in metrics.PROTOCOLS.items() if p.multi] == ["dsol-multi", "dsol-duet", "dsol-multi-raw", "dsol-duet-raw"]
    # raw (DSOL's code): dsol-solo keeps > 0.1 * max, dsol-multi > 0.5 * max, dsol-duet > 0.2 * max
    m = np.array([[0.15, 0.3], [0.6, 1.0]], dtype=np.float32)
    assert metrics.get_protocol("dsol-solo-raw").mask(m, 2).sum() == 4
    assert metrics.get_protocol("dsol-duet-raw").mask(m, 2).sum() == 3
    assert metrics.get_protocol("dsol-multi-raw").mask(m, 2).sum() == 2
    # default: the same ratios after min-max, (m - 0.15) / 0.85 = 0, 0.176, 0.529, 1
    assert metrics.get_protocol("dsol-solo").mask(m, 2).tolist() == [[False, True], [True, True]]
    assert metrics.get_protocol("dsol-duet").mask(m, 2).tolist() == [[False, False], [True, True]]
    assert metrics.get_protocol("dsol-multi").mask(m, 2).tolist() == [[False, False], [True, True]]
    for name in ("dsol-solo", "dsol-multi", "dsol-duet"):  # the same ground truth, formats and resize as the raw read-out
        a, b = metrics.get_protocol(name), metrics.get_protocol(name + "-raw")
        assert (a.gt_rule, a.multi, a.headline, a.formats, a.resize) == (b.gt_rule, b.multi, b.headline, b.formats, b.resize)
        assert "min-max" in a.reference and b.reference == a.reference.split(", the map min-max")[0]
    with pytest.raises(SSLPropError, match="unknown protocol"):
        metrics.get_protocol("ciou")


def test_bad_maps_are_refused():
    with pytest.raises(SSLPropError, match="2-D"):
        metrics.lvs_mask(np.zeros((2, 2, 2)))
    with pytest.raises(SSLPropError, match="NaN"):
        metrics.dsol_mask(np.array([[np.nan, 1.0]]), 0.1)
