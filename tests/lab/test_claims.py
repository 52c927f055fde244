"""Tests for sslprop/lab/claims.py: verdicts from intervals, by hand."""

from __future__ import annotations

import pytest

from sslprop.errors import SSLPropError
from sslprop.lab import claims


def D(diff, low, high):
    return {"difference": diff, "low": low, "high": high, "resolved": low > 0 or high < 0}


def test_verdicts_by_hand():
    assert claims.verdict(D(3, 1, 5)) == "holds"
    assert claims.verdict(D(-3, -5, -1)) == "contradicted"
    assert claims.verdict(D(1, -1, 3)) == "unresolved"
    assert claims.verdict(D(-2, -4, 0.5), bound=-5) == "holds"  # competitive within 5 points
    assert claims.verdict(D(-8, -10, -6), bound=-5) == "contradicted"
    assert claims.verdict(D(0.0, 0.0, 0.0)) == "no difference"  # identical decisions: not "unresolved"
    assert claims.verdict(D(0.0, -0.5, 0.5)) == "unresolved"  # zero on average, but the frames differ
    assert claims.verdict(D(0.0, 0.0, 0.0), bound=-5) == "holds"  # identical is within a competitive margin
    assert claims.identical(D(0.0, 0.0, 0.0)) and not claims.identical(D(0.0, 0.0, 0.1))


def test_a_claim_of_several_parts():
    row = claims.claim("A beats all", "Table 2", "scenes", "72.8 vs. 69.9", [("vs. B", D(3, 1, 5)), ("vs. C", D(2, 0.5, 4))])
    assert row["verdict"] == "holds" and (row["difference"], row["low"], row["high"]) == (2, 0.5, 4)  # the weakest part
    assert row["ours"] == "vs. B +3.0 [+1.0, +5.0]; vs. C +2.0 [+0.5, +4.0]"
    mixed = claims.claim("A beats all", "T", "d", "p", [("vs. B", D(3, 1, 5)), ("vs. C", D(1, -1, 3))])
    assert mixed["verdict"] == "unresolved" and mixed["low"] == -1
    against = claims.claim("A beats all", "T", "d", "p", [("vs. B", D(1, -1, 3)), ("vs. C", D(-3, -5, -1)), ("vs. E", D(-2, -4, -0.5))])
    assert against["verdict"] == "contradicted" and against["high"] == -1  # the clearest contradiction
    missing = claims.claim("A beats all", "T", "d", "p", [("vs. B", D(3, 1, 5)), ("vs. C", None)])
    assert missing["verdict"] == "unresolved" and "vs. C not computed" in missing["ours"]
    same = claims.claim("A beats all", "T", "d", "p", [("vs. B", D(3, 1, 5)), ("vs. C", D(0.0, 0.0, 0.0)), ("vs. E", D(1, -1, 3))])
    assert same["verdict"] == "no difference" and (same["difference"], same["low"], same["high"]) == (0, 0, 0)  # the identical part
    assert "no difference if one is exactly 0" in same["rule"] and same["scale"] == "value"
    assert claims.claim("A beats all", "T", "d", "p", [("vs. C", D(0.0, 0.0, 0.0)), ("vs. E", D(-2, -4, -1))])["verdict"] == "contradicted"
    with pytest.raises(SSLPropError, match="no part"):
        claims.claim("x", "T", "d", "p", [])


def test_mean_interval_and_the_ledger_files(tmp_path):
    keys = [f"c{i}" for i in range(40)]
    up = claims.mean_interval(keys, [0.5 + 0.01 * (i % 5) for i in range(40)], 0.0)
    assert up["difference"] == pytest.approx(0.52) and up["low"] > 0 and up["resolved"]
    flat = claims.mean_interval(keys, [(-1) ** i * 0.3 for i in range(40)], 0.0)
    assert flat["low"] < 0 < flat["high"] and not flat["resolved"]
    rows = [claims.claim("A beats B", "Table 1", "scenes", "p", [("x", D(3, 1, 5))]),
            claims.claim("A beats C", "Table 1", "scenes", "p", [("x", D(1, -1, 3))])]
    claims.save_claims(rows, "05_claims", tmp_path)
    claims.save_claims(rows[:1], "08_claims", tmp_path)
    back = claims.gather(tmp_path, ("05_claims.csv", "07_claims.csv", "08_claims.csv")[::2])
    assert [r["verdict"] for r in back] == ["holds", "unresolved", "holds"] and back[1]["low"] == -1.0
    assert claims.counts(back) == {"holds": 2, "contradicted": 0, "no difference": 0, "unresolved": 1}
    assert claims.summary(back) == "2 hold, 0 are contradicted, 1 are unresolved"  # "no difference" only when there is one
    tie = claims.claim("A beats D", "Table 1", "scenes", "p", [("x", D(0.0, 0.0, 0.0))], unit=" pts")
    claims.save_claims([tie], "07_claims", tmp_path)
    back = claims.gather(tmp_path, ("05_claims.csv", "07_claims.csv", "08_claims.csv"))
    assert back[2]["verdict"] == "no difference" and back[2]["scale"] == "points" and back[0]["scale"] == "value"
    assert claims.summary(back) == "2 hold, 0 are contradicted, 1 show no difference, 1 are unresolved"
    with pytest.raises(SSLPropError, match="no 06_claims.csv, 11_claims.csv"):  # every notebook's claims are needed
        claims.gather(tmp_path)


def test_figure_claims():
    corr = [(f"c{i}", 0.6 + 0.01 * i) for i in range(10)]
    outcomes = [(f"t{i // 4}/{i % 4}", i % 4 != 0) for i in range(40)]  # 75 % won
    keys = [f"s{i}" for i in range(30)]
    rows = claims.figure_claims(corr, outcomes, {"ours": [0.8] * 30, "Attention": [0.4] * 30}, keys)
    assert [r["verdict"] for r in rows] == ["holds", "holds", "holds"]
    assert [r["scale"] for r in rows] == ["correlation r", "points", "points"]  # Fig. 3's r apart from the points
    assert rows[1]["difference"] == pytest.approx(25.0) and rows[2]["difference"] == pytest.approx(40.0)
    none = claims.figure_claims([], [], {"ours": [], "Attention": []}, [])
    assert [r["verdict"] for r in none] == ["unresolved"] * 3


def _score(cious):
    from sslprop.evaluation import metrics

    return {"rate": metrics.success_rate(cious, 0.5), "auc": metrics.ciou_auc(cious), "n": len(cious),
            "frames": {"keys": [f"f{i}" for i in range(len(cious))], "ciou": list(cious)}}


def test_table_claims_from_records():
    from sslprop.lab import tables

    good, fair, poor = _score([0.9] * 35 + [0.1] * 5), _score([0.9] * 20 + [0.1] * 20), _score([0.9] * 5 + [0.1] * 35)
    recs = [{"method": "ours", "view": "boxes", "preset": "scenes", "metric": "ciou@0.5", **good},
            {"method": "attention", "view": "map", "preset": "scenes", "metric": "ciou@0.5", **fair},
            {"method": "center", "view": "floor", "preset": "scenes", "metric": "ciou@0.5", **poor}]
    rows = tables.table2_rows(recs)
    t2 = claims.table2_claims(rows, tables.table2_comparer(recs), {"scenes": "scenes cIoU@0.5"})
    assert [r["verdict"] for r in t2] == ["holds", "holds"]  # Ours > Attention; Ours and Attention > the centre box
    assert t2[0]["paper"] == "Ours 72.8 vs. best other 69.9 (SS-Hard-Way)" and t2[1]["difference"] == pytest.approx(37.5)
    recs3 = [{"variant": v, **s} for v, s in (("Ours (K=10)", fair), ("Ours (K=20)", good), ("Ours (K=30)", good),
                                               ("Ours - ProSelectNet", poor), ("The location map m_n", fair))]
    t3 = claims.table3_claims(tables.table3_rows(recs3), tables.table3_comparer(recs3))
    assert [r["verdict"] for r in t3] == ["no difference", "holds"]  # K=20 scores every frame as K=30 does; selection helps
    recs4 = [{"size": s, "train samples": n, "method": m, **sc} for s, n in (("10k", 5), ("144k", 50))
             for m, sc in (("ours", fair if s == "10k" else good), ("attention", poor if s == "10k" else poor))]
    t4 = claims.table4_claims(tables.table4_rows(recs4), tables.table4_comparer(recs4))
    assert t4[0]["verdict"] == "holds"  # Ours above Attention at both sizes
    assert t4[1]["verdict"] == "no difference"  # Attention does not move: the same cIoU on every frame at both sizes
    seeds = [{"method": m, "seed": s, **sc} for s in (0, 1) for m, sc in (("ours", good), ("attention", good if s else poor))]
    sc = claims.seed_claim(seeds)
    assert sc["verdict"] == "no difference" and sc["ours"].startswith("seed 0 +75.0 pts") and "seed 1 +0.0 pts" in sc["ours"]
