"""Tests for sslprop/lab/published.py."""

from sslprop.lab import published, tables


def test_paper_tables_transcribed():
    assert len(published.PAPER_TABLE2) == 7 and published.PAPER_TABLE2[-1] == {
        "method": "Ours", "solo IoU@0.5": 58.0, "solo AUC": 46.3, "mosaic IoU@0.5": 46.7, "mosaic AUC": 30.1,
        "scenes cIoU@0.5": 72.8, "scenes AUC": 61.4}
    assert [r["method"] for r in published.PAPER_TABLE2] == [tables.METHOD_LABELS[m] for m in tables.PAPER_METHODS]
    assert published.PAPER_TABLE3[3] == {"variant": "Ours - ProSelectNet", "cIoU@0.5": 58.9, "AUC": 48.5}
    assert published.PAPER_TABLE4[1]["cIoU@0.5 Attention"] is None and published.PAPER_TABLE4[3]["AUC Ours"] == 61.4
