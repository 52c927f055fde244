"""The paper's numbers (percent), transcribed from Tables 1-4 of Xuan et al., CVPR 2022, for the tables shown beside ours."""

from __future__ import annotations

# Paper Table 1: accuracy (%) of on/out-screen sound recognition, AVE and SSL data sets.
PAPER_TABLE1 = (
    {"criterion": "m_on", "AVE": 64.6, "SSL": 71.8},
    {"criterion": "d_on", "AVE": 66.2, "SSL": 70.5},
    {"criterion": "m_on || d_on", "AVE": 71.2, "SSL": 78.5},
)


# The paper's numbers (percent), transcribed from Tables 2, 3 and 4 of Xuan et al., CVPR 2022.
# The paper's Table 2 columns (MUSIC-solo, MUSIC-Synthetic, SSL), named as ours (`tables.TABLE2_COLUMNS`, which adds
# DSOL's CIoU@0.3 for mosaic: the paper prints none).
PAPER_TABLE2_COLUMNS = ("solo IoU@0.5", "solo AUC", "mosaic IoU@0.5", "mosaic AUC", "scenes cIoU@0.5", "scenes AUC")
PAPER_TABLE2 = [
    {"method": label, **dict(zip(PAPER_TABLE2_COLUMNS, values))}
    for label, values in (
        ("PixelPlayer", (40.5, 43.3, 35.5, 11.8, 60.4, 50.3)),
        ("Objects-that-Sound", (26.1, 35.8, 20.3, 10.2, 63.6, 48.2)),
        ("Attention", (37.2, 38.7, 25.9, 12.3, 66.0, 55.8)),
        ("DMC", (29.1, 38.0, 31.6, 16.3, 67.1, 56.8)),
        ("AV-Matching", (51.4, 43.6, 40.0, 23.5, 68.7, 56.9)),
        ("SS-Hard-Way", (52.3, 44.1, 40.6, 23.6, 69.9, 57.3)),
        ("Ours", (58.0, 46.3, 46.7, 30.1, 72.8, 61.4)),
    )
]


PAPER_TABLE3 = [
    {"variant": v, "cIoU@0.5": c, "AUC": a}
    for v, c, a in (
        ("Ours (K=10)", 68.9, 56.2),
        ("Ours (K=20)", 72.8, 61.4),
        ("Ours (K=30)", 73.1, 57.3),
        ("Ours - ProSelectNet", 58.9, 48.5),
        ("The location map m_n", 69.2, 59.3),
    )
]


PAPER_TABLE4 = [
    {"size": s, "cIoU@0.5 Attention": ca, "cIoU@0.5 Ours": co, "AUC Attention": aa, "AUC Ours": ao}
    for s, ca, co, aa, ao in (
        ("10k", 43.6, 45.4, 44.9, 51.3),
        ("50k", None, 55.6, None, 55.4),
        ("90k", None, 63.7, None, 58.7),
        ("144k", 66.0, 72.8, 55.8, 61.4),
    )
]
