"""DSOL, "Discriminative Sounding Objects Localization via Self-supervised Audiovisual Matching" (Hu et al., NeurIPS 2020), both stages.

The localisation map is the audio-visual correspondence map of both stages,
    map(p) = sigmoid(w * cos(V(v_p), A(s))),   w a learnt scalar initialised to 5,
with V two 1x1 convolutions and A two Linear layers (ReLU between) into a d-dim space.
Stage one (solo clips), per frame: the maximum of the map is pushed to 1 with the clip's own
frame and to 0 with a frame of another video heard with the same audio (BCE). Object features
(the visual feature map averaged under the dilated mask [map > 0.05]) are clustered by k-means
(L2-normalised) into `clusters` classes; the pseudo labels train a visual and an audio
classifier (cross-entropy, through the encoders), and the clusters' mean object features
become the class representations r_k.
Stage two (class-aware): the negative frame is scored on a 2 x 2 grid of max-pooled cells,
each pushed to 0; class-aware maps o_k(p) = a * <v_p, r_k> + b are gated by the
correspondence map and average-pooled into a distribution over classes (log-softmax), matched
(KL) to the class distribution that the frozen stage-one audio classifier gives the clip's
audio. Loss = KL + 0.5 * location loss.

Written from the paper and the public code (DTaoo/Discriminative-Sounding-Objects-Localization,
`music-exp/model/location_model.py`, `training_stage_one.py`, `training_stage_two.py`,
`test_stage_two.py`). Where we differ, and why:
- One trainer, one loss, no stages in it. The stage follows the epoch, which the trainer hands
  each step in its `StepContext` (`sslprop.models.negatives`). Of E = cfg.train.epochs, epochs
  [0, ceil(E/2)) are stage one (all E when E = 1), the first `LOCATION_ONLY_EPOCHS` of them
  location-only (the code's `init_num`), later ones re-cluster at their first step; epochs
  [ceil(E/2), E) are stage two, entered by a last clustering (r_k) and a frozen copy of the audio
  encoder and classifier. Stages only move forward. A call made by hand (a context without an
  epoch, as a notebook makes) keeps the current stage; `DSOLNet.set_stage` sets the stage by
  hand. A resumed run finds its stage in the checkpoint's buffers.
- Clustering: DSOL extracts object features of the whole training set with the current model
  before each k-means. We keep a memory bank of the last `BANK_SIZE` object features seen in
  training (computed with the model of their step) and run k-means (`KMEANS_ITERS` Lloyd
  steps, started from the previous centres, the first time from distinct random bank rows
  drawn with the step's generator) on it; a clip's pseudo label is its nearest centre.
  The classifiers are trained jointly with the location loss (sum of the losses) instead of
  in separate passes with their own optimiser, and are not re-initialised at each clustering
  (starting k-means from the previous centres keeps the labels stable).
- Data: stage two of DSOL trains on synthetic mixtures (2 x 2 mosaics of solo frames with two
  of the four sounding, MUSIC-Synthetic) or duets. We train both stages on the batches the
  trainer gives: use the `mosaic` preset (or a duet set) for stage two's setting; on solo
  data stage two refines the same maps with one-class distributions.
- The mask dilation adds the four neighbours of every masked location (the code skips the
  border); the encoders are the shared ones, with the audio vector used as it is (the code
  max-pools a ResNet-18 audio map); the location BCE is computed from logits (the maximum of
  sigmoid(x) is sigmoid(max x)), the same value and safe under mixed precision.
`infer` returns the correspondence map upsampled (bilinear), the map DSOL scores on MUSIC-solo,
and f_v, f_s: the L2-normalised embeddings at the map's peak and of the audio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config, ModelConfig
from sslprop.errors import SSLPropError
from sslprop.models.baselines.common import encode, location_head, max_location_embedding, upsample_map
from sslprop.models.baselines.method import MapMethod
from sslprop.models.encoders import build_encoders
from sslprop.models.negatives import StepContext

CLUSTERS = 11  # k-means classes (the code's `--cluster 11`, the MUSIC-solo instruments)
MASK_THRESHOLD = 0.05  # object mask: map > 0.05 (the code's `--mask`)
MAP_SCALE_INIT = 5.0  # initial w of sigmoid(w * cos) (`conv_av.weight.data.fill_(5.)`)
LOCATION_WEIGHT = 0.5  # stage two: KL + 0.5 * location loss (`--weight 0.5`)
BANK_SIZE = 2048  # object features kept for clustering
KMEANS_ITERS = 20  # Lloyd iterations per clustering
LOCATION_ONLY_EPOCHS = 1  # stage-one epochs before the first clustering (the code's `init_num`)


def stage_schedule(epoch: int, epochs: int) -> tuple[int, bool]:
    """(stage, classify) for a 0-based epoch of a run of `epochs`: stage 2 from epoch ceil(epochs / 2)
    when epochs >= 2; in stage 1, pseudo-label classification from epoch LOCATION_ONLY_EPOCHS on."""
    switch = math.ceil(epochs / 2) if epochs >= 2 else epochs
    if epoch >= switch:
        return 2, True
    return 1, epoch >= LOCATION_ONLY_EPOCHS


def dilate(mask: Tensor) -> Tensor:
    """A binary mask grown by its four neighbours: Tensor[F, h, w] bool -> Tensor[F, h, w] bool."""
    cross = mask.new_tensor([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=torch.float32)[None, None]
    return F.conv2d(mask[:, None].float(), cross, padding=1)[:, 0] > 0


def kmeans(x: Tensor, init: Tensor, iters: int = KMEANS_ITERS) -> tuple[Tensor, Tensor]:
    """Lloyd's k-means on L2-normalised rows, started from `init`; an emptied cluster keeps its centre.

    x: Tensor[n, c], init: Tensor[K, c] -> (centres Tensor[K, c] unit rows, labels Tensor[n] long).
    """
    x = F.normalize(x.float(), dim=1)
    centres = F.normalize(init.float(), dim=1)
    for _ in range(iters):
        labels = torch.cdist(x, centres).argmin(dim=1)  # (n,)
        sums = torch.zeros_like(centres).index_add_(0, labels, x)  # (K, c)
        counts = torch.bincount(labels, minlength=len(centres))  # (K,)
        moved = F.normalize(sums, dim=1)
        centres = torch.where((counts > 0)[:, None], moved, centres)
    return centres, torch.cdist(x, centres).argmin(dim=1)


@dataclass
class DSOLOutput:
    """DSOL's forward for F = B*N frames (frame-major), K classes, on the h x w feature grid.

    logit:       Tensor[F, h, w]  w * cos, the map's logit with the frame's own audio (map = sigmoid)
    neg_logit:   Tensor[F, h, w]  the same for the negative frame with this audio (None without negatives)
    v:           Tensor[F, d, h, w], s: Tensor[F, d]   L2-normalised embeddings
    obj_feat:    Tensor[F, C]     object feature (no gradient): mean of v_fea under the dilated mask
    v_logits, a_logits: Tensor[F, K]  classifiers on the pooled visual and on the audio features
    obj_logits:  Tensor[F, K]     stage two: pooled class-aware maps gated by the map (None in stage one)
    teacher:     Tensor[F, K]     stage two: the frozen stage-one audio classifier's logits (None in stage one)
    """

    logit: Tensor
    neg_logit: Tensor | None
    v: Tensor
    s: Tensor
    obj_feat: Tensor
    v_logits: Tensor
    a_logits: Tensor
    obj_logits: Tensor | None
    teacher: Tensor | None


class DSOLNet(nn.Module):
    """Shared encoders, DSOL's embedding heads, classifiers, class representations, frozen teacher.

    Buffers (saved in checkpoints): stage (1 or 2), clustered_epoch (last epoch that re-clustered,
    -1 none), bank / bank_count (object feature memory), centres (unit k-means centres),
    obj_rep (r_k, the clusters' mean object features).
    """

    def __init__(self, visual: nn.Module, audio: nn.Module, model_cfg: ModelConfig, clusters: int = CLUSTERS) -> None:
        """visual, audio: the shared encoders; `model_cfg` builds the teacher's copy of the audio encoder."""
        super().__init__()
        if clusters < 2:
            raise SSLPropError(f"dsol clusters = {clusters}: need at least 2")
        self.visual, self.audio = visual, audio
        c, dim_a, d = self.visual.out_channels, self.audio.out_dim, model_cfg.dim
        self.v_head = location_head(c, d)  # conv_v_1, ReLU, conv_v_2
        self.a_head = nn.Sequential(nn.Linear(dim_a, d), nn.ReLU(inplace=True), nn.Linear(d, d))  # fc_a_1, fc_a_2
        self.map_scale = nn.Parameter(torch.tensor(MAP_SCALE_INIT))  # conv_av, 1x1, no bias
        self.v_class = nn.Linear(c, clusters)
        self.a_class = nn.Linear(dim_a, clusters)
        self.obj_scale = nn.Parameter(torch.ones(()))  # obj_conv, a 1x1x1 Conv3d: scale and bias
        self.obj_bias = nn.Parameter(torch.zeros(()))
        _, self.teacher_audio = build_encoders(model_cfg, None, None, lambda msg: None)  # frozen copy, set at the stage switch
        self.teacher_class = nn.Linear(dim_a, clusters)
        for p in [*self.teacher_audio.parameters(), *self.teacher_class.parameters()]:
            p.requires_grad_(False)
        self.register_buffer("stage", torch.tensor(1))
        self.register_buffer("clustered_epoch", torch.tensor(-1))
        self.register_buffer("bank", torch.zeros(BANK_SIZE, c))
        self.register_buffer("bank_count", torch.tensor(0))
        self.register_buffer("centres", torch.zeros(clusters, c))
        self.register_buffer("obj_rep", torch.zeros(clusters, c))

    @property
    def clusters(self) -> int:
        return self.v_class.out_features

    def train(self, mode: bool = True) -> DSOLNet:
        super().train(mode)
        self.teacher_audio.eval()  # the frozen stage-one copy never updates its BatchNorm statistics
        return self

    def forward(self, frames: Tensor, audio: Tensor, negatives: Tensor | None = None) -> DSOLOutput:
        """frames Tensor[B, N, 3, S, S], audio Tensor[B, N, 1, T, M]; negatives Tensor[B*N] long (a frame of
        another video for each frame) or None."""
        v_fea, a_fea = encode(self.visual, self.audio, frames, audio)  # (F, C, h, w), (F, D)
        v = F.normalize(self.v_head(v_fea), dim=1)  # (F, d, h, w)
        s = F.normalize(self.a_head(a_fea), dim=1)  # (F, d)
        logit = self.map_scale * torch.einsum("fdhw,fd->fhw", v, s)  # (F, h, w)
        neg_logit = None if negatives is None else self.map_scale * torch.einsum("fdhw,fd->fhw", v[negatives], s)
        with torch.no_grad():
            mask = dilate(torch.sigmoid(logit) > MASK_THRESHOLD)  # (F, h, w)
            obj_feat = (v_fea * mask[:, None]).mean(dim=(2, 3))  # (F, C), mean over every location
        obj_logits = teacher = None
        if int(self.stage) == 2:
            o = torch.einsum("fchw,kc->fkhw", v_fea, self.obj_rep) * self.obj_scale + self.obj_bias  # (F, K, h, w)
            obj_logits = (o * torch.sigmoid(logit)[:, None]).mean(dim=(2, 3))  # (F, K), gated ("minimize")
            with torch.no_grad():
                teacher = self.teacher_class(self.teacher_audio(audio.flatten(0, 1)))  # (F, K)
        return DSOLOutput(logit=logit, neg_logit=neg_logit, v=v, s=s, obj_feat=obj_feat,
                          v_logits=self.v_class(v_fea.mean(dim=(2, 3))), a_logits=self.a_class(a_fea),
                          obj_logits=obj_logits, teacher=teacher)

    # ------------------------------------------------------------------ clustering and stages (no gradient)

    @torch.no_grad()
    def remember(self, obj_feat: Tensor) -> None:
        """Write object features Tensor[F, C] into the bank (a ring buffer of BANK_SIZE rows)."""
        n = min(len(obj_feat), BANK_SIZE)
        start = int(self.bank_count) % BANK_SIZE
        rows = (start + torch.arange(n, device=self.bank.device)) % BANK_SIZE
        self.bank[rows] = obj_feat[-n:].detach().to(self.bank.dtype)
        self.bank_count += n

    def bank_rows(self) -> Tensor:
        """The filled part of the bank: Tensor[min(count, BANK_SIZE), C]."""
        return self.bank[: min(int(self.bank_count), BANK_SIZE)]

    @torch.no_grad()
    def cluster(self, generator: torch.Generator) -> bool:
        """k-means on the bank (from the previous centres, else from distinct random rows); sets centres
        and obj_rep (the clusters' mean raw features). False, changing nothing, with fewer rows than clusters."""
        x = self.bank_rows()
        if len(x) < self.clusters:
            return False
        if bool((self.centres != 0).any()):
            init = self.centres
        else:
            init = x[torch.randperm(len(x), generator=generator)[: self.clusters].to(x.device)]
        centres, labels = kmeans(x, init)
        counts = torch.bincount(labels, minlength=self.clusters)[:, None]  # (K, 1)
        means = torch.zeros_like(self.obj_rep).index_add_(0, labels, x.to(self.obj_rep.dtype)) / counts.clamp_min(1)
        self.centres.copy_(centres)
        self.obj_rep.copy_(torch.where(counts > 0, means, self.obj_rep))  # an empty cluster keeps its r_k
        return True

    def pseudo_labels(self, obj_feat: Tensor) -> Tensor:
        """Nearest k-means centre of each object feature: Tensor[F, C] -> Tensor[F] long."""
        return torch.cdist(F.normalize(obj_feat.float(), dim=1), self.centres.float()).argmin(dim=1)

    def has_clusters(self) -> bool:
        return int(self.clustered_epoch) >= 0

    @torch.no_grad()
    def set_stage(self, stage: int, generator: torch.Generator | None = None) -> None:
        """Enter stage 1 or 2. Entering 2 clusters the bank a last time (r_k) and freezes a copy of the
        audio encoder and classifier as the teacher."""
        if stage not in (1, 2):
            raise SSLPropError(f"dsol stage {stage}: must be 1 or 2")
        if stage == 2 and int(self.stage) == 1:
            self.cluster(generator or torch.Generator().manual_seed(0))
            self.teacher_audio.load_state_dict(self.audio.state_dict())
            self.teacher_class.load_state_dict(self.a_class.state_dict())
        self.stage.fill_(stage)

    @torch.no_grad()
    def advance(self, epoch: int, epochs: int, generator: torch.Generator) -> None:
        """Follow `stage_schedule` to `epoch`: re-cluster once at the first step of a classifying stage-one
        epoch, switch to stage two once. Idempotent (the buffers record what was done)."""
        stage, classify = stage_schedule(epoch, epochs)
        if stage == 2:
            self.set_stage(2, generator)
        elif classify and int(self.clustered_epoch) < epoch and self.cluster(generator):
            self.clustered_epoch.fill_(epoch)


def _unwrap(model: nn.Module) -> DSOLNet:
    return getattr(model, "module", model)  # through DistributedDataParallel


def location_loss(out: DSOLOutput, grid: bool) -> Tensor:
    """BCE of the map's maximum: 1 with the own frame, 0 with the negative frame, over the whole map
    (stage one) or each cell of a 2 x 2 grid (`grid`, stage two); 0.5 * (positive + negative)."""
    pos = out.logit.flatten(1).amax(dim=1).float()  # (F,)
    if grid:
        neg = F.adaptive_max_pool2d(out.neg_logit[:, None], 2).flatten().float()  # (F * 4,)
    else:
        neg = out.neg_logit.flatten(1).amax(dim=1).float()  # (F,)
    return 0.5 * (F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
                  + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg)))


def category_loss(out: DSOLOutput) -> Tensor:
    """KL(softmax(teacher) || softmax(obj_logits)), averaged over every element (torch KLDivLoss 'mean', as in the code)."""
    log_q = F.log_softmax(out.obj_logits.float(), dim=1)  # (F, K)
    return F.kl_div(log_q, F.softmax(out.teacher.float(), dim=1), reduction="sum") / log_q.numel()


class DSOL(MapMethod):
    """Discriminative Sounding Objects Localization (Hu et al. 2020), both stages, as a `Method`."""

    name = "dsol"
    clusters = CLUSTERS

    def network(self, visual: nn.Module, audio: nn.Module, cfg: Config) -> DSOLNet:
        return DSOLNet(visual, audio, cfg.model, clusters=self.clusters)

    def objective(self, model: nn.Module, frames: Tensor, audio: Tensor, batch: dict[str, Any], ctx: StepContext,
                  cfg: Config) -> tuple[Tensor, dict[str, Tensor]]:
        net = _unwrap(model)
        if ctx.epoch is not None:  # the trainer's position sets the stage; a call made by hand keeps the current one
            net.advance(ctx.epoch, cfg.train.epochs, ctx.generator)
        out = model(frames, audio, self.negatives(batch, ctx, frames))
        zero = out.logit.new_zeros((), dtype=torch.float32)
        if int(net.stage) == 1:
            loc = location_loss(out, grid=False)
            cls = zero
            if net.has_clusters():
                labels = net.pseudo_labels(out.obj_feat)
                cls = F.cross_entropy(out.v_logits.float(), labels) + F.cross_entropy(out.a_logits.float(), labels)
            net.remember(out.obj_feat)
            loss, cat = loc + cls, zero
        else:
            loc, cls = location_loss(out, grid=True), zero
            cat = category_loss(out)
            loss = cat + LOCATION_WEIGHT * loc
        # Outputs a stage leaves unused get a zero-weighted term, so that every trainable parameter has a
        # gradient at every step (DistributedDataParallel without find_unused_parameters needs it).
        idle = [out.v_logits, out.a_logits] if int(net.stage) == 2 or not net.has_clusters() else []
        loss = loss + 0.0 * (sum(t.float().sum() for t in idle) + net.obj_scale + net.obj_bias)
        return loss, {"loss": loss, "location": loc, "classify": cls, "category": cat, "stage": net.stage}

    def read_out(self, out: DSOLOutput, size: tuple[int, int], cfg: Config) -> tuple[Tensor, Tensor, Tensor]:
        # f_v: the embedding at the map's peak (unit rows)
        return upsample_map(torch.sigmoid(out.logit.float()), size), max_location_embedding(out.v, out.logit), out.s


METHOD = DSOL()
