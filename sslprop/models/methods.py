"""Methods the trainer knows: how each builds its model, computes its loss and reads out predictions.

A method is an object with
    name: str
    needs_proposals: bool                      whether its data needs the proposal cache
    build(cfg, visual_weights, audio_weights, log) -> nn.Module
    loss(model, batch, ctx, cfg) -> (loss Tensor[], parts dict[str, float])
    infer(model, batch, cfg) -> Inference      per-frame read-out, no gradient
`ctx` is the step's `StepContext` (`sslprop.models.negatives`): the generator every random draw of
the step uses, and the trainer's (epoch, step) for methods whose loss follows a schedule. Only the localisation principle and the loss differ between methods; the encoders, data,
trainer, checkpoints and `predict` are shared. Register a method in `METHODS`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch
import torch.nn as nn
from torch import Tensor

from sslprop.config import Config
from sslprop.errors import SSLPropError
from sslprop.models.batch import batch_inputs, model_device
from sslprop.models.losses import common_space, proposal_loss
from sslprop.models.model import ProposalModel
from sslprop.models.negatives import StepContext, inference_generator, negative_indices, paired_indices


@dataclass
class Inference:
    """What a method reads out for the F = B*N frames of a batch (frame-major, like batch["keys"]).

    maps:     Tensor[F, S, S]  localisation map on the model's input grid (higher = more likely the source)
    boxes:    Tensor[F, K, 4]  candidate boxes, absolute pixels of the S x S input, xyxy (K may be 0)
    scores:   Tensor[F, K]     their confidence (proposal methods: d_k), -inf or masked where `mask` is False
    mask:     Tensor[F, K]     bool, True where a box exists
    f_v, f_s: Tensor[F, d]     visual and audio features in the common space (for the m_on distance), or None
    d_on:     Tensor[F]        on-screen activation (proposal methods: max_k d_k), or None
    neg_distance: Tensor[F]    a negative pair's distance as the method's loss forms it, for m_on's
                               calibration, when that differs from |f_v - f_s of another video| (Ours
                               with paired negatives: the frame localised with the other audio); NaN
                               where no negative exists in the batch; None: use that default
    """

    maps: Tensor
    boxes: Tensor
    scores: Tensor
    mask: Tensor
    f_v: Tensor | None = None
    f_s: Tensor | None = None
    d_on: Tensor | None = None
    neg_distance: Tensor | None = None


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

    With `model.select_proposals = False` (Table 3 row 4) every proposal enters the bag and the
    loss is the distance-ratio term alone.
    """

    name = "ours"
    needs_proposals = True

    def build(self, cfg, visual_weights=None, audio_weights=None, log=print) -> nn.Module:
        return ProposalModel(cfg, visual_weights=visual_weights, audio_weights=audio_weights, log=log)

    def loss(self, model, batch, ctx, cfg):
        frames, audio, proposals = batch_inputs(batch, model_device(model))
        pairs = cfg.train.paired_negatives
        if pairs < 0:
            raise SSLPropError(f"train.paired_negatives = {pairs}: must be 0 (the loss as printed) or a number of negatives")
        if pairs > 0:  # M negatives per clip, each run through the whole localisation with its own audio
            pair_audio = paired_indices(batch["video_id"], ctx.generator, pairs)  # (M, B)
            out = model(frames, audio, proposals, pair_audio=pair_audio.to(frames.device))
            neg_f_s = None
        elif cfg.train.negatives == "all":  # every clip of another video, in proposal_loss
            out = model(frames, audio, proposals)
            neg_f_s = None
        elif cfg.train.negatives == "one":
            out = model(frames, audio, proposals)
            neg_f_s = out.f_s[negative_indices(batch["video_id"], ctx.generator).to(out.f_s.device)]  # (B, N, d)
        else:
            raise SSLPropError(f"train.negatives '{cfg.train.negatives}': choose 'one' or 'all'")
        select = cfg.model.select_proposals
        loss, parts = proposal_loss(out, neg_f_s, lam=cfg.train.lam if select else 0.0, use_euclidean=select,
                                    normalize=cfg.train.normalize, video_ids=batch["video_id"],
                                    paired=pairs > 0)
        return loss, {k: float(v) for k, v in parts.items()}

    @torch.no_grad()
    def infer(self, model, batch, cfg) -> Inference:
        flat = lambda x: x.flatten(0, 1)  # (B, N, ...) -> (B*N, ...)
        ids = batch["video_id"]
        pair = None
        if cfg.train.paired_negatives > 0 and len(set(ids)) > 1:
            # the negative pair as the loss formed it: the frame localised again with another video's audio,
            # drawn from a generator fixed by the seed and the batch, so predictions are reproducible
            gen = inference_generator(cfg.train.seed, int(batch["index"][0]))
            pair = paired_indices(ids, gen, 1)  # (1, B)
        out = model(*batch_inputs(batch, model_device(model)), pair_audio=pair)
        neg = None
        if cfg.train.paired_negatives > 0:
            B, N = out.f_v.shape[:2]
            neg = out.f_v.new_full((B * N,), float("nan"))
            if pair is not None:
                neg = flat(torch.linalg.vector_norm(common_space(out.pair_f_v[0].float(), cfg.train.normalize)
                                                    - common_space(out.pair_f_s[0].float(), cfg.train.normalize), dim=-1))
        return Inference(
            maps=flat(out.location_map),
            boxes=flat(out.boxes),
            scores=flat(out.d),
            mask=flat(out.mask),
            f_v=flat(out.f_v),
            f_s=flat(out.f_s),
            d_on=flat(out.d_on),
            neg_distance=neg,
        )


def _registry() -> dict[str, Method]:
    from sslprop.models.baselines import baselines

    return {"ours": Ours(), **baselines()}


METHODS: dict[str, Method] = _registry()


def get_method(name: str) -> Method:
    """The registered method `name`; a clear error listing the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise SSLPropError(f"unknown method '{name}' (choose from {', '.join(METHODS)})") from None
