"""EZ-VSL, "Localizing Visual Sounds the Easy Way" (Mo and Morgado, ECCV 2022): max-over-locations InfoNCE, OGL.

Read from the public code (stoneMo/EZ-VSL): `model.py` (class EZVSL, `max_xmil_loss`, `forward`),
`train.py` (tau 0.03, Adam), `test.py` (the object-guided localisation: `NormReducer`, `--alpha`):

    frame  -> visual encoder -> fmap (C x h x w) -> 1x1 conv -> v (d x h x w), each location L2-normalised
    audio  -> audio encoder  -> s (D)            -> Linear   -> s (d), L2-normalised
    S[f, g, i] = <v_f,i , s_g> / tau                    every frame f with every audio g of the batch, location i
    logits[f, g] = max_i S[f, g, i]                     (multiple-instance: the best location matches)
    loss = CE(logits, diag) + CE(logits^T, diag)        (InfoNCE in both directions, summed as in their code)
    map  = <v_f,i , s_f>                                (the cosine map with the frame's own audio, upsampled)
    OGL  (`model.ogl_alpha` = a, their `--alpha`, 0.4 in their test script), at inference only:
    map  = minmax(a * minmax(map) + (1 - a) * minmax(mean_c |fmap_c|))

OGL is a configuration option rather than a second method: it changes only the read-out, so
`ezvsl` with `model.ogl_alpha` unset predicts the audio-visual map and with it set the combined
map; the two settings train identically (the option does not enter the loss), so with one seed
they reach the same weights and differ only in what `predict` writes.

What differs from the original, and why:
- Encoders: the shared ones of this package (ResNet-18 image and audio nets in theirs). In the cpu
  profile they are pretrained and frozen; in EZ-VSL the ImageNet ResNet is fine-tuned.
  The projections map our encoders' widths to `cfg.model.dim` (theirs 512 -> 512).
- Object prior: EZ-VSL takes it from a second, untouched ImageNet ResNet-18 (mean |x| over the 512
  channels of layer 4). We take it from the model's own visual encoder feature map, which is that
  pretrained network, unchanged, whenever the encoders are frozen (the cpu profile); when the
  encoders are fine-tuned it is the fine-tuned network's map.
- Frames of the same video are not each other's negatives: their logits are masked out of both
  softmaxes (EZ-VSL draws one frame per video, so the question does not arise there).
- The map is the cosine, not cosine / tau (a positive scale, no change to any ranking or box).
- f_v for m_on is the visual embedding at the map's best location (the one the loss matches),
  f_s the audio embedding; the negative distance handed to m_on's calibration is the one the loss
  forms: sqrt(2 - 2 max_i <v_f,i, s_g>) with the audio of the same frame position of the negative
  clip that `predict` draws from the whole split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config
from sslprop.models.baselines.common import localisation_maps, map_inference, max_location_embedding
from sslprop.models.baselines.method import MapMethod, ProjectionNet, ProjectionOutput
from sslprop.models.negatives import StepContext

if TYPE_CHECKING:
    from sslprop.models.methods import Inference

TAU = 0.03  # temperature of the logits (EZ-VSL `--tau`)
MASKED = -1e9  # a logit that takes no part in a softmax (finite, so that no gradient is NaN)


def max_similarity(v: Tensor, s: Tensor) -> Tensor:
    """Max over locations of <v_f,i, s_g>: v Tensor[F, d, h, w], s Tensor[G, d] -> Tensor[F, G]."""
    return torch.einsum("fdhw,gd->fghw", v, s).flatten(2).max(dim=2).values


def same_video_mask(codes: Tensor) -> Tensor:
    """True where two frames are from the same video and are not the same frame: codes Tensor[F] -> Tensor[F, F] bool."""
    same = codes[:, None] == codes[None, :]
    return same & ~torch.eye(len(codes), dtype=torch.bool, device=codes.device)


def ezvsl_loss(v: Tensor, s: Tensor, codes: Tensor | None = None, tau: float = TAU) -> tuple[Tensor, dict[str, Tensor]]:
    """EZ-VSL's loss: CE(logits) + CE(logits^T), logits[f, g] = max_i <v_f,i, s_g> / tau, target the diagonal.

    v: Tensor[F, d, h, w], s: Tensor[F, d] (L2-normalised); codes: Tensor[F] long naming each frame's
    video (other frames of the same video are masked out), None: every other frame is a negative.
    Returns (loss, parts "loss", "pos" = mean max-cosine of the true pairs, detached).
    """
    sim = max_similarity(v.float(), s.float())  # (F, F)
    logits = sim / tau
    if codes is not None:
        logits = logits.masked_fill(same_video_mask(codes.to(logits.device)), MASKED)
    target = torch.arange(len(logits), device=logits.device)
    loss = F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)
    return loss, {"loss": loss.detach(), "pos": torch.diagonal(sim).mean().detach()}


def negative_distance(v: Tensor, s_neg: Tensor) -> Tensor:
    """For m_on: each frame's distance to its negative's audio as the loss compares them, Tensor[F].

    v: Tensor[F, d, h, w] the frames' embeddings, s_neg: Tensor[F, d] the audio embedding of each frame's
    negative (unit vectors); sqrt(2 - 2 max_i <v_f,i, s_neg_f>).
    """
    best = torch.einsum("fdhw,fd->fhw", v.float(), s_neg.float()).flatten(1).max(dim=1).values  # (F,)
    return torch.sqrt(torch.clamp(2.0 - 2.0 * best, min=0.0))


class EZVSL(MapMethod):
    """Localizing Visual Sounds the Easy Way (Mo and Morgado 2022) as a `Method`; OGL with `model.ogl_alpha`.

    Its network is `ProjectionNet` (as lvs's); the object prior is read from its `fmap`.
    """

    name = "ezvsl"

    def network(self, visual: nn.Module, audio: nn.Module, cfg: Config) -> ProjectionNet:
        return ProjectionNet(visual, audio, cfg.model.dim)

    def objective(self, model: nn.Module, frames: Tensor, audio: Tensor, batch: dict[str, Any], ctx: StepContext,
                  cfg: Config) -> tuple[Tensor, dict[str, Tensor]]:
        out: ProjectionOutput = model(frames, audio)
        return ezvsl_loss(out.v, out.s, self.frame_codes(batch, frames))

    def negative_pairs(self, cfg: Config) -> bool:
        """The loss's negative pair is a max over locations: m_on's negative distance is computed here."""
        return True

    def read_out(self, out: ProjectionOutput, size: tuple[int, int], cfg: Config) -> tuple[Tensor, Tensor, Tensor]:
        A = out.A.float()
        maps = localisation_maps(A, out.fmap, size, cfg.model.ogl_alpha)
        return maps, max_location_embedding(out.v.float(), A), out.s

    @torch.no_grad()
    def infer(self, model: nn.Module, batch: dict[str, Any], cfg: Config, negatives: dict[str, Any] | None = None) -> Inference:
        """The read-out of `batch`; with `negatives` (row b: the negative clip of clip b) also m_on's negative distances."""
        frames, audio = self.inputs(model, batch)
        B = frames.shape[0]
        if negatives is not None:  # the negatives' audio embeddings from the same forward
            n_frames, n_audio = self.inputs(model, negatives)
            frames, audio = torch.cat([frames, n_frames]), torch.cat([audio, n_audio])
        out: ProjectionOutput = model(frames, audio)
        F_ = B * frames.shape[1]  # the batch's own frames come first
        own = ProjectionOutput(fmap=out.fmap[:F_], v=out.v[:F_], s=out.s[:F_], A=out.A[:F_])
        inf = map_inference(*self.read_out(own, frames.shape[-2:], cfg))
        if negatives is not None:
            inf.neg_distance = negative_distance(own.v, out.s[F_:])
        return inf


METHOD = EZVSL()
