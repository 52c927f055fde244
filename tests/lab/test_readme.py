"""Tests for sslprop/lab/readme.py: the README's results section is generated from figures/."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslprop.errors import SSLPropError
from sslprop.lab import readme

ROOT = Path(__file__).resolve().parents[2]


def _figures(folder: Path, t2_ours: str = "35.2") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "06_table2.csv").write_text(
        "method,solo IoU@0.5,scenes cIoU@0.5,scenes cIoU@0.5 low,scenes cIoU@0.5 high\nAttention,25.3,10.6,8.5,12.7\n"
        "\"Attention, map box (T = 0.5)\",39.5,13.8,11.4,16.1\n"
        f"Ours,47.8,{t2_ours},32.1,38.3\nfloor: full frame,25.3,7.3,5.6,9.1\n")
    (folder / "05_table1_scenes.csv").write_text(
        "criterion,accuracy,accuracy low,accuracy high,on-screen called on,off-screen called off\n"
        "m_on,0.814,0.790,0.838,0.830,0.753\nm_on || d_on,0.829,0.806,0.851,0.963,0.350\n")
    (folder / "09_claims.csv").write_text(
        "claim,source,data set,paper,ours,difference,low,high,verdict,rule\n"
        "m_on || d_on is more accurate than m_on alone,Table 1,scenes (SSL),78.5 vs. 71.8 (SSL),x,1.5,-0.8,3.9,unresolved,r\n"
        "Ours beats every map-based baseline,Table 2,scenes (SSL),72.8 vs. 69.9,x,24.6,20.1,29.0,holds,r\n"
        "Ours beats SLAVC (not in the paper),\"Table 2, extra\",scenes (SSL),not in the paper,x,-1.0,-3.0,1.0,unresolved,r\n")
    (folder / "07_table3.csv").write_text("variant,cIoU@0.5,AUC,n\nOurs (K=20),35.2,37.9,867\n")
    (folder / "reproduce.txt").write_text("25 min 3 s of wall time on 2 cores\n")
    return folder


def test_block_is_read_from_the_tables(tmp_path):
    block = readme.results_block(_figures(tmp_path))
    assert "| **Ours** | **35.2 [32.1, 38.3]** |" in block  # the interval in the cell, the scenes column only
    assert "map box" not in block and "solo IoU" not in block  # each method in its own paradigm, scenes only
    assert "1 hold, 0 are contradicted, 1 are unresolved" in block  # the paper's claims only
    assert "| Table 2, scenes | Ours beats every map-based baseline | +24.6 [+20.1, +29.0] | **holds** |" in block
    assert "| Table 1, scenes | m_on \\|\\| d_on is more accurate than m_on alone | +1.5 [-0.8, +3.9] | unresolved |" in block
    assert "holds in 0 of 1 comparisons" in block  # the rows not in the paper, in one line
    assert "867 on-screen test frames" in block and "25 min 3 s of wall time on 2 cores" in block


def test_a_claim_without_difference_is_counted_as_such(tmp_path):
    figures = _figures(tmp_path)
    with (figures / "09_claims.csv").open("a") as f:
        f.write("m_on || d_on is more accurate than d_on alone,Table 1,scenes (SSL),78.5 vs. 70.5 (SSL),x,0.0,0.0,0.0,no difference,r\n")
    block = readme.results_block(figures)
    assert "1 hold, 0 are contradicted, 1 show no difference, 1 are unresolved" in block
    assert "| Table 1, scenes | m_on \\|\\| d_on is more accurate than d_on alone | +0.0 [+0.0, +0.0] | **no difference** |" in block


def test_update_rewrites_only_the_block(tmp_path):
    figures = _figures(tmp_path / "figures")
    page = tmp_path / "README.md"
    page.write_text(f"intro\n{readme.BEGIN}\nold numbers\n{readme.END}\nafter\n")
    assert readme.update_readme(page, figures)
    text = page.read_text()
    assert text.startswith("intro\n") and text.endswith("after\n") and "old numbers" not in text
    assert not readme.update_readme(page, figures)  # a second run changes nothing
    _figures(figures, t2_ours="36.0")
    assert readme.update_readme(page, figures) and "**36.0 [32.1, 38.3]**" in page.read_text()


def test_missing_table_or_markers_is_one_line(tmp_path):
    with pytest.raises(SSLPropError, match="06_table2.csv: missing"):
        readme.results_block(tmp_path)
    page = tmp_path / "README.md"
    page.write_text("no markers\n")
    with pytest.raises(SSLPropError, match="expected one"):
        readme.update_readme(page, _figures(tmp_path / "f"))


def test_the_committed_readme_holds_the_committed_figures():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    inside = text.split(readme.BEGIN)[1].split(readme.END)[0].strip()
    assert inside == readme.results_block(ROOT / "figures")
    assert len(text) <= 12_000
