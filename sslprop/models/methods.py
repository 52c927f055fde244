"""Methods the trainer knows: how each builds its model, computes its loss and reads out predictions.

A method is an object with
    name: str
    needs_proposals: bool                      whether its data needs the proposal cache
    build(cfg, visual_weights, audio_weights, log) -> nn.Module
    loss(model, batch, ctx, cfg) -> (loss Tensor[], parts dict[str, float])
    infer(model, batch, cfg) -> Inference      per-frame read-out, no gradient
`ctx` is the step's `StepContext` (`sslprop.models.negatives`): the generator every random draw of
the step uses, and the trainer's (epoch, step) for methods whose loss follows a schedule. Only the localisation
principle and the loss differ between methods; the encoders, data,
trainer, checkpoints and `predict` are shared. Register a method in `METHODS`.

A method whose loss forms its negative pair otherwise than "the frame's features against another
clip's audio features" (Ours with paired negatives, EZ-VSL) also has
    negative_pairs(cfg) -> bool                whether it does so under `cfg`
and then `infer(model, batch, cfg, negatives=...)` takes a batch of the negative clips (row b the
negative of clip b, drawn by `predict` from the whole split) and returns m_on's negative distances.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn as nn
from torch import Tensor

from sslprop.config import Config
from sslprop.errors import SSLPropError
from sslprop.models.baselines import baselines
from sslprop.models.batch import batch_inputs, model_device
from sslprop.models.losses import common_space, paired_proposal_loss, paper_proposal_loss
from sslprop.models.model import ModelOutput, build_model
from sslprop.models.negatives import StepContext, negative_indices, paired_indices


@dataclass
class Inference:
    """What a method reads out for the F = B*N frames of a batch (frame-major, like batch["keys"]).

    maps:     Tensor[F, S, S]  localisation map on the model's input grid (higher = more likely the source)
    boxes:    Tensor[F, K, 4]  candidate boxes, absolute pixels of the S x S input, xyxy (K may be 0)
    scores:   Tensor[F, K]     their confidence (proposal methods: d_k), -inf or masked where `mask` is False
    mask:     Tensor[F, K]     bool, True where a box exists
    f_v, f_s: Tensor[F, d]     visual and audio features in the common space (for the m_on distance), or None
    d_on:     Tensor[F]        on-screen activation (proposal methods: max_k d_k), or None
    distance: Tensor[F]        m_on's distance of each frame with its own audio, as the method computes it;
                               None: |f_v - f_s| in the loss's space (`common_space`)
    neg_distance: Tensor[F]    m_on's distance of each frame's negative pair as the method's loss forms it,
                               given `negatives` to `infer` (Ours with paired negatives: the frame localised
                               with the negative clip's audio); None: |f_v - f_s of the negative frame|
    neg_d_on: Tensor[F]        d_on of each frame localised with its negative clip's audio (given `negatives`),
                               for d_on's label-free threshold (`predict`); None where the method has no d_on
    """

    maps: Tensor
    boxes: Tensor
    scores: Tensor
    mask: Tensor
    f_v: Tensor | None = None
    f_s: Tensor | None = None
    d_on: Tensor | None = None
    distance: Tensor | None = None
    neg_distance: Tensor | None = None
    neg_d_on: Tensor | None = None


class Method(Protocol):
    name: str
    needs_proposals: bool

    def build(self, cfg: Config, visual_weights: str | os.PathLike | None, audio_weights: str | os.PathLike | None,
              log: Callable[[str], None]) -> nn.Module: ...

    def loss(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext,
             cfg: Config) -> tuple[Tensor, dict[str, float]]: ...

    def infer(self, model: nn.Module, batch: dict[str, Any], cfg: Config) -> Inference: ...


class Ours:
    """The proposal-based model (paper section 3): distance-ratio loss + lambda * Euclidean term.

    With `model.select_proposals = False` (Table 3 row 4) every proposal enters the bag; the paper's row also drops
    L_edu (`train.lam = 0`, as `train --no-selection` sets), our second row keeps the loss.
    """

    name = "ours"
    needs_proposals = True

    def build(self, cfg, visual_weights=None, audio_weights=None, log=print) -> nn.Module:
        return build_model(cfg, visual_weights, audio_weights, log)

    def loss(self, model, batch, ctx, cfg):
        frames, audio, proposals = batch_inputs(batch, model_device(model))
        pairs = cfg.train.paired_negatives  # >= 0: Config.check
        # lambda as configured, with or without selection: Table 3's "without ProSelectNet" as the paper defines it
        # (L_tri alone) sets train.lam = 0 (`train --no-selection`); with lambda kept, the row differs in selection alone
        terms = {"lam": cfg.train.lam, "use_euclidean": cfg.train.lam > 0, "normalize": cfg.train.normalize}
        if pairs > 0:  # M negatives per clip, each run through the whole localisation with its own audio
            pair_audio = paired_indices(batch["video_id"], ctx.generator, pairs)  # (M, B)
            out = model(frames, audio, proposals, pair_audio=pair_audio.to(frames.device))
            loss, parts = paired_proposal_loss(out, **terms)
        else:  # the paper's: one clip of another video per clip
            out = model(frames, audio, proposals)
            neg_f_s = out.f_s[negative_indices(batch["video_id"], ctx.generator).to(out.f_s.device)]  # (B, N, d)
            loss, parts = paper_proposal_loss(out, neg_f_s, **terms)
        return loss, {k: float(v) for k, v in parts.items()}

    def negative_pairs(self, cfg: Config) -> bool:
        """With paired negatives the loss's negative pair is the frame localised with the other clip's audio."""
        return cfg.train.paired_negatives > 0

    @torch.no_grad()
    def infer(self, model, batch, cfg, negatives: dict[str, Any] | None = None) -> Inference:
        """The read-out of `batch`; with `negatives` (row b: the negative clip of clip b) and paired negatives,
        also m_on's negative distance as the loss forms it: each frame localised again with its negative
        clip's audio (`pair_audio`), against that audio's features (`m_on_distances`)."""
        frames, audio, proposals = batch_inputs(batch, model_device(model))
        B = frames.shape[0]
        pair = None
        if negatives is not None and self.negative_pairs(cfg):  # the B clips, then their B negatives, in one forward
            n_frames, n_audio, n_proposals = batch_inputs(negatives, model_device(model))
            frames, audio, proposals = torch.cat([frames, n_frames]), torch.cat([audio, n_audio]), proposals + n_proposals
            pair = torch.cat([torch.arange(B, 2 * B), torch.arange(B)])[None]  # (1, 2B): clip b with the audio of clip B + b
        out = model(frames, audio, proposals, pair_audio=pair)
        own = lambda x: x[:B].flatten(0, 1)  # the batch's clips: (B, N, ...) -> (B*N, ...)
        visual, _ = m_on_features(out)
        distance, neg = m_on_distances(out, cfg.train.normalize)
        F_ = B * out.f_s.shape[1]
        return Inference(
            maps=own(out.location_map),
            boxes=own(out.boxes),
            scores=own(out.d),
            mask=own(out.mask),
            f_v=own(visual),
            f_s=own(out.f_s),
            d_on=own(out.d_on),
            distance=distance[:F_],
            neg_distance=None if neg is None else neg[:F_],
            neg_d_on=None if out.pair_d_on is None else out.pair_d_on[0].flatten()[:F_],
        )


def m_on_features(out: ModelOutput) -> tuple[Tensor, Tensor | None]:
    """The visual feature that m_on's distance compares with f_s: Tensor[B, N, d], and the same for the frames
    attended with paired clips' audio, Tensor[M, B, N, d] (None without `pair_audio`).

    The frame stream's f_att: the paper's m_on is the criterion of the map-based methods, a distance between the
    frame-level feature and the audio in the common space, while d_on reads the proposal stream. (Not the
    proposal-level f_v: with alpha = softmax(d / 0.1) f_v is almost the best proposal's feature, its distance about
    sqrt(2 - 2 d_on), and the two criteria would be one signal; docs/findings.md.) `m_on_distances`, `predict` and
    `localize` (through `Inference.f_v`) all take it from here.
    """
    return out.f_att, out.pair_f_att


def m_on_distances(out: ModelOutput, normalize: bool) -> tuple[Tensor, Tensor | None]:
    """m_on's distances of each frame in the loss's space (`common_space`): (positive, negative) Tensor[B*N] each.

    positive: the frame's visual feature (`m_on_features`) against its own audio's f_s;
    negative: the frame localised with the audio of clip pair_audio[0, b] against that clip's f_s, as the
    loss with paired negatives forms it (None without `pair_audio`).
    """
    visual, pair_visual = m_on_features(out)

    def dist(v: Tensor, s: Tensor) -> Tensor:
        return torch.linalg.vector_norm(common_space(v.float(), normalize) - common_space(s.float(), normalize), dim=-1).flatten()

    return dist(visual, out.f_s), (None if pair_visual is None else dist(pair_visual[0], out.pair_f_s[0]))


def negative_pairs(method: Method, cfg: Config) -> bool:
    """Whether `method` forms m_on's negative pairs itself (`infer(..., negatives=...)`), see the module docstring."""
    fn = getattr(method, "negative_pairs", None)
    return bool(fn is not None and fn(cfg))


def _registry() -> dict[str, Method]:
    return {"ours": Ours(), **baselines()}


METHODS: dict[str, Method] = _registry()


def get_method(name: str) -> Method:
    """The registered method `name`; a clear error listing the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise SSLPropError(f"unknown method '{name}' (choose from {', '.join(METHODS)})") from None
