"""The three-stream proposal-based model of Xuan et al. (CVPR 2022): audio, frame and proposal streams.

One forward, the same in training and evaluation, read top to bottom:

    audio A_n  -> audio encoder -> s_n (D) -> LSTM over n -> FC -> f_s                  (audio stream)
    frame I_n  -> visual encoder -> v_n (C x h x w) -> LSTM over n per location
               -> audio-guided attention w_n (sums to 1 over the h*w locations)
               -> v_att = sum_i w_n^i v_n^i -> FC -> f_att                               (frame stream)
               -> m_n = w_n upsampled to the frame, g_n = GRM(m_n)
    proposals  -> scored on g_n (no gradient), top K with mask e
               -> SPP on the encoder's map v_n -> FC -> f_box_k                           (proposal stream)
    d_k = ReLU(cos(f_s, f_box_k)) e_k;  alpha = d / sum_k d_k;  f_v = sum_k alpha_k f_box_k

Our reading where the paper leaves a choice open (docs/design.md, "Choices the paper leaves open"):
- LSTMs: residual, x + LSTM(x), hidden size = feature size. The visual LSTM runs per location
  over time (B*h*w sequences of length N, shared weights, i.e. a 1x1 ConvLSTM); with N = 1 it is
  a gated layer. The residual keeps (pretrained) encoder features intact at initialisation.
- The SPP pools the encoder's map v_n itself (the LSTM belongs to the frame stream); the
  proposal stream shares the convolutions, as in SPP-net.
- Attention: phi = softmax over the attn_dim (channel) axis for both U_v v_n^i (per location)
  and U_s s_n, so each location and the audio become distributions over the same attn_dim
  features and their inner product (in (0, 1]) measures how well they agree, the "similarity
  between audio and visual features" of the paper; the c products are then divided by their
  sum, so w_n sums to one over locations and v_att is a weighted average.
- Proposal scores are computed without gradient (the top-K selection is discrete).
- alpha = d / sum d as printed; `model.mil_temperature` T gives alpha = softmax(d / T) (cpu profile).
- `pair_audio` localises each frame again with other clips' audio, for the paired negatives of
  `sslprop.models.losses.paired_distance_ratio_loss` (cpu profile).
- A frame with proposals but every d_k = 0 gets uniform alpha over its existing proposals;
  a frame with no proposal at all gets alpha = 0 and f_v = 0 (the loss leaves such frames out).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config, ModelConfig
from sslprop.errors import SSLPropError
from sslprop.models.encoders import SPP, build_encoders
from sslprop.models.frozen import ProposalFeatureCache
from sslprop.models.inference import on_screen_activation
from sslprop.ops.boxes import cap_proposals, pad_proposals
from sslprop.ops.grm import grm, score_boxes, select_topk


@dataclass
class ModelOutput:
    """Everything the model computes for B clips of N frames (K proposal slots per frame).

    f_s:            Tensor[B, N, d]     audio features (audio stream)
    f_att:          Tensor[B, N, d]     attended frame features (frame stream)
    f_box:          Tensor[B, N, K, d]  proposal features (proposal stream), 0 where e_k = 0
    f_v:            Tensor[B, N, d]     sum_k alpha_k f_box_k, the proposal-level frame feature
    boxes:          Tensor[B, N, K, 4]  kept proposals, absolute pixels of the input frame, xyxy; 0 where missing
    mask:           Tensor[B, N, K]     bool, the paper's e: True where the slot holds a proposal
    d:              Tensor[B, N, K]     ReLU(cos(f_s, f_box_k)) * e_k, in [0, 1]
    alpha:          Tensor[B, N, K]     d normalised over existing proposals (uniform if all d_k = 0; 0 if none)
    attention:      Tensor[B, N, h, w]  w_n on the feature grid, sums to 1 over locations
    location_map:   Tensor[B, N, H, W]  m_n, w_n upsampled (bilinear) to the frame
    grm:            Tensor[B, N, H, W]  g_n = (m_n - min m_n) / max m_n
    box_scores:     Tensor[B, N, K]     GRM confidence of the kept proposals (no gradient), 0 where missing
    proposal_index: Tensor[B, N, K]     long, position of each kept proposal in its frame's list after the
                                        largest-first cap to max_proposals (= the input list when it is
                                        no longer than that), -1 where missing
    d_on:           Tensor[B, N]        max_k d_k, the on-screen activation of Sec. 4.2
    pair_f_v:       Tensor[M, B, N, d]  with `pair_audio`: f_v of each frame localised with the audio of clip
                                        pair_audio[m, b] (attention, GRM, selection, pooling); else None
    pair_f_s:       Tensor[M, B, N, d]  with `pair_audio`: the f_s of those clips; else None
    pair_f_att:     Tensor[M, B, N, d]  with `pair_audio`: f_att of each frame attended with that audio; else None
    pair_d_on:      Tensor[M, B, N]     with `pair_audio`: d_on of each frame localised with that audio; else None
    """

    f_s: Tensor
    f_att: Tensor
    f_box: Tensor
    f_v: Tensor
    boxes: Tensor
    mask: Tensor
    d: Tensor
    alpha: Tensor
    attention: Tensor
    location_map: Tensor
    grm: Tensor
    box_scores: Tensor
    proposal_index: Tensor
    d_on: Tensor
    pair_f_v: Tensor | None = None
    pair_f_s: Tensor | None = None
    pair_f_att: Tensor | None = None
    pair_d_on: Tensor | None = None


def mlp(in_dim: int, dim: int) -> nn.Sequential:
    """The FC layers that bring one stream into the common d-dim space: Linear -> ReLU -> Linear."""
    return nn.Sequential(nn.Linear(in_dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))


class ResidualLSTM(nn.Module):
    """x + LSTM(x) over time, hidden size = feature size: Tensor[S, N, F] -> Tensor[S, N, F] (S sequences of N steps)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, features, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.lstm(x)[0]


class AudioGuidedAttention(nn.Module):
    """w = phi(U_v v)^T phi(U_s s), phi = softmax over attn_dim, then divided by its sum over locations.

    forward(v Tensor[B, C, h, w], s Tensor[B, D]) -> Tensor[B, h, w], positive, sums to 1 over (h, w).
    """

    def __init__(self, visual_dim: int, audio_dim: int, attn_dim: int) -> None:
        super().__init__()
        self.u_v = nn.Conv2d(visual_dim, attn_dim, kernel_size=1)  # U_v, applied at every location
        self.u_s = nn.Linear(audio_dim, attn_dim)  # U_s

    def forward(self, v: Tensor, s: Tensor) -> Tensor:
        p = F.softmax(self.u_v(v), dim=1)  # (B, A, h, w), a distribution over A at each location
        q = F.softmax(self.u_s(s), dim=1)  # (B, A)
        sim = torch.einsum("bahw,ba->bhw", p, q)  # (B, h, w), in (0, 1]
        return sim / sim.sum(dim=(1, 2), keepdim=True)


@dataclass
class Localised:
    """What `ProposalModel._localise` computes for F frames, each with the audio paired with it (K proposal slots).

    attention:    Tensor[F, h, w]  w, sums to 1 over locations
    f_att:        Tensor[F, d]     the attended frame feature (frame stream)
    location_map: Tensor[F, H, W]  m, w upsampled (bilinear) to the frame
    grm:          Tensor[F, H, W]  g = (m - min m) / max m
    boxes:        Tensor[F, K, 4]  the kept proposals (xyxy pixels of the frame), 0 where missing
    mask:         Tensor[F, K]     bool, the paper's e
    index:        Tensor[F, K]     long, each kept proposal's position in its frame's (capped) list, -1 where missing
    box_scores:   Tensor[F, K]     GRM confidence of the kept proposals (no gradient), 0 where missing
    f_box:        Tensor[F, K, d]  proposal features, 0 where missing
    d, alpha:     Tensor[F, K]     audio-proposal similarity and MIL weights (`pool_bag`)
    f_v:          Tensor[F, d]     the proposal-level frame feature
    """

    attention: Tensor
    f_att: Tensor
    location_map: Tensor
    grm: Tensor
    boxes: Tensor
    mask: Tensor
    index: Tensor
    box_scores: Tensor
    f_box: Tensor
    d: Tensor
    alpha: Tensor
    f_v: Tensor


class ProposalModel(nn.Module):
    """The proposal-based model: its `ModelConfig` and two encoders (see sslprop.models.encoders for their interface).

    `build_model(cfg)` builds the encoders a configuration names (with their pretrained weights) and the model on them.
    The configuration's values are checked where it is made (`Config.check`), not here.
    """

    def __init__(self, cfg: ModelConfig, visual: nn.Module, audio: nn.Module) -> None:
        super().__init__()
        self.cfg = cfg
        C, D, dim = visual.out_channels, audio.out_dim, cfg.dim
        self.visual = visual  # frames (B, 3, S, S) -> (B, C, S / stride, S / stride)
        self.audio = audio  # log-mel patches (B, 1, 96, n_mels) -> (B, D)
        self.visual_lstm = ResidualLSTM(C) if cfg.use_lstm else None
        self.audio_lstm = ResidualLSTM(D) if cfg.use_lstm else None
        self.attention = AudioGuidedAttention(C, D, cfg.attn_dim)
        self.spp = SPP(cfg.spp_levels, visual.stride)
        self.fc_s = mlp(D, dim)  # s_n -> f_s
        self.fc_att = mlp(C, dim)  # v_att -> f_att
        self.fc_box = mlp(self.spp.out_dim(C), dim)  # SPP(r_k) -> f_box_k
        # with a frozen visual encoder: the SPP of every proposal, read instead of pooled (models.frozen.attach_caches)
        self.feature_cache: ProposalFeatureCache | None = None

    # ------------------------------------------------------------------------- audio stream

    def _audio_stream(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        """audio Tensor[B, N, 1, T, n_mels] -> (s Tensor[B*N, D] after the LSTM, f_s Tensor[B*N, d])."""
        B, N = audio.shape[:2]
        s = self.audio(audio.flatten(0, 1))  # (B*N, D)
        if self.audio_lstm is not None:
            s = self.audio_lstm(s.view(B, N, -1)).flatten(0, 1)  # (B, N, D) -> (B*N, D)
        return s, self.fc_s(s)

    def embed_audio(self, audio: Tensor) -> Tensor:
        """The audio stream alone: audio Tensor[B, N, 1, T, n_mels] -> f_s Tensor[B, N, d]."""
        _check_audio(audio)
        return self._audio_stream(audio)[1].view(*audio.shape[:2], -1)

    # ------------------------------------------------------------------------- forward

    def forward(self, frames: Tensor, audio: Tensor, proposals: list[Tensor], k: int | None = None,
                pair_audio: Tensor | None = None) -> ModelOutput:
        """Run the three streams on B clips of N frames.

        frames:    Tensor[B, N, 3, H, W], RGB in [0, 1]
        audio:     Tensor[B, N, 1, T, n_mels], the log-mel patch of the clip A_n centred on each frame
        proposals: B*N tensors Tensor[P_i, 4], absolute pixels of the H x W frame, xyxy, clip-major
                   (index b * N + n); at most `model.max_proposals` per frame are used (largest first).
        k:         proposals kept per frame (default `model.k`); ignored when `model.select_proposals`
                   is False (Table 3 row 4): then every proposal, up to `model.max_proposals`, enters
                   the bag in its input order, K = the batch's largest bag (at most max_proposals). The frame stream (attention, f_att,
                   location map) is still computed, but that ablation's loss does not use it.
        pair_audio: Tensor[M, B] of clip indices, or None. With it, every frame of clip b is also run
                   through the localisation (attention, GRM, top-K, pooling) with the audio of clip
                   pair_audio[m, b], sharing the visual features: `pair_f_v`, `pair_f_s` (paired negatives).
        """
        mc = self.cfg
        _check_audio(audio)
        if frames.dim() != 5 or frames.shape[2] != 3 or frames.shape[:2] != audio.shape[:2]:
            raise SSLPropError(
                f"frames of shape {tuple(frames.shape)} with audio of shape {tuple(audio.shape)}: "
                "expected frames Tensor[B, N, 3, H, W] and audio Tensor[B, N, 1, T, n_mels] with the same B, N"
            )
        B, N, _, H, W = frames.shape
        if len(proposals) != B * N:
            raise SSLPropError(f"{len(proposals)} proposal sets for {B} clips x {N} frames (expected {B * N})")
        k = mc.k if k is None else int(k)

        # audio stream
        s, f_s = self._audio_stream(audio)  # (B*N, D), (B*N, d)

        # frame stream: features, LSTM over time per location, audio-guided attention
        fmap = self.visual(frames.flatten(0, 1))  # (B*N, C, h, w)
        C, h, w = fmap.shape[1:]
        v = fmap
        if self.visual_lstm is not None:
            seq = fmap.view(B, N, C, h, w).permute(0, 3, 4, 1, 2).reshape(B * h * w, N, C)  # (B*h*w, N, C)
            v = self.visual_lstm(seq).view(B, h, w, N, C).permute(0, 3, 4, 1, 2).reshape(B * N, C, h, w)
        props = [p.reshape(-1, 4).to(device=frames.device, dtype=frames.dtype) for p in proposals]
        props = [cap_proposals(p, mc.max_proposals) for p in props]  # the largest max_proposals, input order
        # the SPP of every proposal, when cached (frozen visual encoder): selection then takes rows, pools nothing
        bags = None
        if self.feature_cache is not None:
            rows, row_of = self.feature_cache.table(self.feature_cache.bags(frames.flatten(0, 1), fmap, props, self.spp))
            bags = (rows.to(fmap.device), row_of.to(fmap.device))
        st = self._localise(fmap, v, s, f_s, props, (H, W), k, bags=bags)

        # paired negatives (train.paired_negatives): the same frames with the audio of other clips,
        # through the whole localisation (attention, GRM, selection, pooling), so that the bag of a
        # negative pair is chosen and pooled by the negative's audio, never by the frame's own
        pair_f_v = pair_f_s = pair_f_att = pair_d_on = None
        if pair_audio is not None:
            pair_audio = torch.as_tensor(pair_audio, device=frames.device).long()
            if pair_audio.dim() != 2 or pair_audio.shape[1] != B or bool(((pair_audio < 0) | (pair_audio >= B)).any()):
                raise SSLPropError(f"pair_audio of shape {tuple(pair_audio.shape)}: expected clip indices Tensor[M, {B}] in [0, {B})")
            flat = (pair_audio[..., None] * N + torch.arange(N, device=frames.device)).flatten(1)  # (M, B*N) frame-major rows
            # without proposal selection every audio meets the same bag: its pooled features are computed once
            bag = None if mc.select_proposals else st
            pairs = [self._localise(fmap, v, s[rows], f_s[rows], props, (H, W), k, bag, bags) for rows in flat]
            pair_f_v = torch.stack([p.f_v for p in pairs]).view(len(flat), B, N, -1)  # (M, B, N, d)
            pair_f_s = f_s[flat].view(len(flat), B, N, -1)  # (M, B, N, d)
            pair_f_att = torch.stack([p.f_att for p in pairs]).view(len(flat), B, N, -1)  # (M, B, N, d)
            pair_d_on = torch.stack([on_screen_activation(p.d) for p in pairs]).view(len(flat), B, N)  # (M, B, N)

        def per_clip(x: Tensor) -> Tensor:
            return x.reshape(B, N, *x.shape[1:])  # (B*N, ...) -> (B, N, ...)

        return ModelOutput(
            f_s=per_clip(f_s),
            f_att=per_clip(st.f_att),
            f_box=per_clip(st.f_box),
            f_v=per_clip(st.f_v),
            boxes=per_clip(st.boxes),
            mask=per_clip(st.mask),
            d=per_clip(st.d),
            alpha=per_clip(st.alpha),
            attention=per_clip(st.attention),
            location_map=per_clip(st.location_map),
            grm=per_clip(st.grm),
            box_scores=per_clip(st.box_scores),
            proposal_index=per_clip(st.index),
            d_on=per_clip(on_screen_activation(st.d)),
            pair_f_v=pair_f_v,
            pair_f_s=pair_f_s,
            pair_f_att=pair_f_att,
            pair_d_on=pair_d_on,
        )

    def _localise(self, fmap: Tensor, v: Tensor, s: Tensor, f_s: Tensor, props: list[Tensor], size: tuple[int, int],
                  k: int, bag: Localised | None = None, bags: tuple[Tensor, Tensor] | None = None) -> Localised:
        """Attention, GRM, proposal selection and the localisation network for F frames and the audio paired with them.

        fmap: Tensor[F, C, h, w] the encoder's map, v: the same after the visual LSTM; s: Tensor[F, D], f_s: Tensor[F, d]
        the audio paired with each frame; props: F tensors Tensor[P_i, 4] (capped); size: (H, W) of the frame.
        bag: the result of an earlier call on the same frames without proposal selection, whose bag (every
        proposal, in input order) does not depend on the audio: its boxes and pooled features are reused.
        bags: (rows Tensor[R, D], row_of Tensor[F, max P_i]) from `ProposalFeatureCache.table`: the SPP of proposal p
        of frame f is rows[row_of[f, p]], taken instead of pooled (the same values, to the last bit).
        """
        mc = self.cfg
        F_ = fmap.shape[0]
        H, W = size
        att = self.attention(v, s)  # (F, h, w), sums to 1 over locations
        v_att = torch.einsum("bchw,bhw->bc", v, att)  # (F, C)
        f_att = self.fc_att(v_att)  # (F, d)

        # location map and GRM on the frame's pixel grid
        m = F.interpolate(att[:, None], size=(H, W), mode="bilinear", align_corners=False)[:, 0]  # (F, H, W)
        g = grm(m)  # (F, H, W)

        if bag is not None and not mc.select_proposals:  # the same bag: only d, alpha and f_v follow the audio
            d, alpha, f_v = pool_bag(bag.f_box, bag.mask, f_s, mc.mil_temperature)
            return dataclasses.replace(bag, attention=att, f_att=f_att, location_map=m, grm=g, d=d, alpha=alpha, f_v=f_v)

        # proposal selection: score every proposal on the GRM, keep the top K (discrete: no gradient)
        with torch.no_grad():
            scores = score_boxes(g.detach(), props, mc.scorer)  # F x (P_i,)
            if mc.select_proposals:
                top = select_topk(props, scores, k)
                boxes, mask, index, box_scores = top.boxes, top.mask, top.index, top.scores  # (F, K, ...)
            else:
                widest = max([len(p) for p in props] + [1])
                boxes, mask = pad_proposals(props, min(mc.max_proposals, widest))  # (F, M, 4), (F, M), input order
                box_scores = g.new_zeros(mask.shape).index_put((mask,), torch.cat(scores))  # (F, M)
                slot = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)  # (F, M)
                index = torch.where(mask, slot, torch.full_like(slot, -1))
        K = mask.shape[1]

        # proposal stream: SPP features of the existing proposals -> FC, zeros in the empty slots
        if bags is None:
            pooled = self.spp(fmap, [b[e] for b, e in zip(boxes, mask)])  # (sum of existing, C * sum l^2)
        else:  # the cached SPP rows of the kept proposals (index: their positions in the frame's list)
            rows, row_of = bags
            pooled = rows[row_of.gather(1, index.clamp_min(0))[mask]]  # (sum of existing, C * sum l^2), frame by frame
        feats = self.fc_box(pooled)  # (sum of existing, d)
        f_box = feats.new_zeros(F_, K, feats.shape[1]).index_put((mask,), feats)  # (F, K, d)

        # localisation network: audio-proposal similarity, MIL weights, proposal-level feature
        d, alpha, f_v = pool_bag(f_box, mask, f_s, mc.mil_temperature)  # (F, K), (F, K), (F, d)

        return Localised(attention=att, f_att=f_att, location_map=m, grm=g, boxes=boxes, mask=mask, index=index,
                         box_scores=box_scores, f_box=f_box, d=d, alpha=alpha, f_v=f_v)


def pool_bag(f_box: Tensor, mask: Tensor, f_s: Tensor, temperature: float | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """The localisation network on a bag of proposals and an audio feature (paper eq. 3 and 3.4).

    d_k = ReLU(cos(f_s, f_box_k)) e_k, alpha = the normalised d (see `_mil_weights`), f_v = sum_k alpha_k f_box_k.
    f_box: Tensor[..., K, d], mask: Tensor[..., K] bool, f_s: Tensor[..., d] (leading dims broadcast, so
    one frame's bag can be pooled with every clip's audio). Returns (d, alpha) Tensor[..., K] and f_v Tensor[..., d].
    """
    e = mask.to(f_box.dtype)  # (..., K)
    d = F.relu(F.cosine_similarity(f_s[..., None, :], f_box, dim=-1)) * e  # (..., K)
    alpha = _mil_weights(d.flatten(0, -2), e.expand_as(d).flatten(0, -2), temperature).view_as(d)  # (..., K)
    f_v = (alpha[..., None] * f_box).sum(dim=-2)  # (..., d)
    return d, alpha, f_v


def _mil_weights(d: Tensor, e: Tensor, temperature: float | None = None) -> Tensor:
    """alpha = d / sum_k d_k per frame; uniform over existing slots when every d_k = 0; 0 without any slot.

    temperature T: alpha = softmax(d / T) over the existing slots instead (0 without any slot).
    d, e: Tensor[F, K] (e is the 0/1 mask) -> Tensor[F, K]
    """
    if temperature is not None:
        logits = (d / temperature).masked_fill(e == 0, float("-inf"))  # (F, K)
        has_slot = e.sum(dim=1, keepdim=True) > 0  # (F, 1)
        return torch.where(has_slot, torch.softmax(logits.masked_fill(~has_slot, 0.0), dim=1), torch.zeros_like(d))
    total = d.sum(dim=1, keepdim=True)  # (F, 1)
    uniform = e / e.sum(dim=1, keepdim=True).clamp_min(1.0)  # (F, K), all zero when no slot exists
    return torch.where(total > 0, d / total.clamp_min(torch.finfo(d.dtype).tiny), uniform)


def _check_audio(audio: Tensor) -> None:
    if audio.dim() != 5 or audio.shape[2] != 1:
        raise SSLPropError(f"audio of shape {tuple(audio.shape)}: expected log-mel patches Tensor[B, N, 1, T, n_mels]")


def build_model(cfg: Config, visual_weights: str | os.PathLike | None = None, audio_weights: str | os.PathLike | None = None,
                log: Callable[[str], None] = print) -> ProposalModel:
    """The proposal-based model of `cfg.model`: its encoders built and loaded (`build_encoders`: the shipped small ones or
    the paper's VGG16 / VGGish, or the given weight files), then the streams on top of them (in that order, so that a
    seed gives the same initial weights)."""
    visual, audio = build_encoders(cfg.model, visual_weights, audio_weights, log)
    return ProposalModel(cfg.model, visual, audio)
