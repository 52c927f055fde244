"""The paper's on/off-screen inference (Sec. 4.2), in one place: d_on, m_on's calibration, both thresholds, the OR rule.

    d_on      = max_k d_k, the proposal stream's activation (`on_screen_activation`); on-screen when d_on > 0.2
                (`D_ON_THRESHOLD`, the paper's constant), or above its label-free calibrated threshold
                (`d_on_threshold`: m_on's rule applied to d_on)
    m_on      = |f - f_s|, the distance between a frame's visual feature and its audio in the loss's space; on-screen
                when below the mean of the medians of the distances of positive pairs (the frame with its own audio)
                and of negative pairs (with another video's audio) on the frames being predicted (`m_on_threshold`,
                `calibrate_m_on`): no labels
    on_or     = on_d or on_m, the paper's "m_on || d_on" (`onscreen_decisions`)

`sslprop predict` (engine/predict.py), `sslprop localize` (engine/localize.py), Table 1's scoring
(evaluation/onscreen.py) and the notebooks' widgets and figures all take these from here. Which visual feature m_on
compares with the audio (the frame stream's f_att) is `methods.m_on_features`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from sslprop.errors import SSLPropError
from sslprop.models.negatives import negative_indices

D_ON_THRESHOLD = 0.2  # paper Sec. 4.2: the sound is on-screen when max_k d_k > 0.2


def on_screen_activation(d: Tensor) -> Tensor:
    """d_on = max_k d_k over the proposal slots: d Tensor[..., K] -> Tensor[...] (empty slots hold d_k = 0)."""
    return d.amax(dim=-1)


def m_on_threshold(pos: Tensor, neg: Tensor) -> float:
    """The mean of the medians of positive and negative pair distances, Tensor[F] each (NaN left out)."""
    neg = neg[~torch.isnan(neg)]
    if len(neg) == 0:
        raise SSLPropError("m_on calibration: no frame has a negative pair (the frames are of one video)")
    return float((pos.median() + neg.median()) / 2)


def d_on_threshold(pos: Tensor, neg: Tensor) -> float:
    """d_on's label-free threshold: the mean of the medians of d_on with each frame's own audio and with its negative
    clip's audio, Tensor[F] each (NaN left out); the rule of m_on's calibration (Sec. 4.2), applied to d_on.

    The paper's 0.2 is a constant of its model; d_on's scale depends on the features it was trained with, so the
    same threshold can sit anywhere in another model's distributions. This one needs no labels, only the negative
    pairs the calibration of m_on already forms.
    """
    return m_on_threshold(pos, neg)


def calibrate_m_on(f_v: Tensor, f_s: Tensor, video_ids: Sequence[str], seed: int = 0,
                   neg_distance: Tensor | None = None) -> tuple[Tensor, float]:
    """Distances |f_v - f_s| of the true pairs and the m_on threshold of the paper (Sec. 4.2).

    The threshold is the mean of the medians of the Euclidean distances of the positive pairs
    (each frame with its own audio) and of negative pairs (`m_on_threshold`). A negative pair is, by
    default, the frame's f_v with the f_s of a frame of another video (drawn with `seed`);
    `neg_distance` Tensor[F] gives the negative distances instead (NaN where a frame has none; those
    are left out). It needs no labels. f_v, f_s: Tensor[F, d]. Returns (positive distances Tensor[F],
    threshold). `localize` calibrates its videos here; `predict` draws each clip's negative from the
    whole split and calls `m_on_threshold` itself.
    """
    pos = torch.linalg.vector_norm(f_v - f_s, dim=1)  # (F,)
    if neg_distance is None:
        if len(set(video_ids)) < 2:
            raise SSLPropError("m_on calibration needs frames of at least two videos")
        neg_idx = negative_indices(list(video_ids), torch.Generator().manual_seed(seed))
        neg_distance = torch.linalg.vector_norm(f_v - f_s[neg_idx], dim=1)  # (F,)
    return pos, m_on_threshold(pos, neg_distance)


def onscreen_decisions(d_on: Any, on_m: Any, d_threshold: float = D_ON_THRESHOLD, on_dc: Any = None) -> dict[str, Any]:
    """The criteria of Table 1 per frame: on_m as given (distance < m_on's threshold), on_d = d_on > d_threshold,
    on_or = on_m or on_d (the paper's rule); with `on_dc` (d_on above its calibrated threshold) also on_dc and
    on_orc = on_m or on_dc.

    d_on: (F,) floats, on_m, on_dc: (F,) bools, as numpy arrays or tensors (the result is of the same kind) ->
    {"on_m", "on_d", "on_or"[, "on_dc", "on_orc"]}, each (F,) bool.
    """
    on_d = d_on > d_threshold
    out = {"on_m": on_m, "on_d": on_d, "on_or": on_m | on_d}
    if on_dc is not None:
        out.update(on_dc=on_dc, on_orc=on_m | on_dc)
    return out
