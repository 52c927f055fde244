"""References without audio beside every score: the visual encoder's own saliency (a floor) and the ground truth (a ceiling).

Both are scored by `sslprop eval --method NAME` like any prediction (see `sslprop.evaluation.evaluate`):

- ``visual-prior`` (a map): the frozen visual encoder's saliency with no audio at all, the mean
  activation magnitude over the channels of its feature map (`saliency_maps`; EZ-VSL's object prior
  of object-guided localisation), on the frame as the cpu model sees it: resized to the cpu
  profile's ``data.frame_size`` (96 px, ``cv2.INTER_AREA`` as `SSLDataset` does), encoded by the
  shipped ``SmallVisual`` (or ``--visual-weights FILE``), upsampled bilinearly to that input grid as
  the models' maps are. The protocol reads it out like any map.
- ``visual-prior-box`` (boxes): the Selective Search proposal of highest saliency. The frame's
  cached proposals, capped to ``model.max_proposals`` largest-first and rescaled to the input grid
  as the model sees them, are scored on the saliency map by the cpu profile's proposal scorer
  (``model.scorer``, ``soft_iou`` of `sslprop.ops.grm.score_boxes`), and mapped back to the stored
  frame's pixels. Rows: the best proposal, then the best one that does not overlap it
  (`sslprop.ops.boxes.two_sources`), so that a multi-source protocol gets two boxes.
- ``ceiling`` (a map): the ground-truth mask itself, drawn at the stored frame's resolution (the
  union of the boxes; the Flickr consensus, summed / 2 and clipped to 1, where the protocol draws
  one), read out by the protocol as a map: what a perfect map scores after the protocol's resize
  and threshold.
- ``ceiling-grid`` (a map): the same mask as the model's location map can draw it: the boxes
  rescaled to the cpu input (96 px) and rasterised on its 12 x 12 stride-8 grid (a cell is in
  when its centre is), upsampled bilinearly to the input grid like the models' maps
  (`saliency_maps` uses the same upsampling): what a perfect stride-8 map scores.
- ``ceiling-ranked`` (a map): the frame-resolution mask plus a vanishing background (at most
  `RANKED_EPS`) that decreases with the distance to the ground truth, so that no two background
  pixels tie unless they are as far from it: a map whose pixel order is perfect and whose
  background is not flat, as a model's map (a softmax) is not. Protocols with an absolute threshold
  (sspl, dsol) read it as ``ceiling``; the median threshold of lvs and ezvsl keeps its top half
  of the pixels whenever the ground truth covers less, so there it scores
  min(|G|, N/2) / max(|G|, N/2): the cap that the median puts on any map without ties.

Under lvs a binary mask is not capped by the median: below half the frame the median element is
0 and every pixel above it is kept, so ``ceiling`` and ``ceiling-grid`` measure what the resize
and the stride cost, and ``ceiling-ranked`` what the median threshold costs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from sslprop.config import get_profile
from sslprop.data.format import frame_key, read_manifest
from sslprop.data.images import read_image
from sslprop.data.proposal_cache import ProposalCache
from sslprop.errors import SSLPropError
from sslprop.models.encoders import SmallVisual, load_small_visual
from sslprop.models.weights import sha256_file, shipped_weights
from sslprop.ops.boxes import cap_proposals, rescale_boxes, two_sources
from sslprop.ops.grm import score_boxes

if TYPE_CHECKING:  # torch is imported where it is used: `eval` of a floor does not need it
    from torch import Tensor

PRIOR_METHODS = ("visual-prior", "visual-prior-box")
CEILINGS = ("ceiling", "ceiling-grid", "ceiling-ranked")
RANKED_EPS = 1e-3  # `ranked_ceiling_map`: the background's largest value (the ground truth is 1)
BATCH = 64  # frames per encoder call


def saliency_maps(fmap: Tensor, size: int | tuple[int, int]) -> Tensor:
    """The audio-free saliency of frames: mean |activation| over channels, upsampled to the input grid.

    Args:
        fmap: Tensor[F, C, h, w], a visual encoder's feature map of F frames.
        size: S or (H, W), the encoder's input grid.
    Returns:
        Tensor[F, H, W] float32: ``mean_c |fmap[:, c]|`` brought to the grid by
        ``F.interpolate(mode="bilinear", align_corners=False)``, as the models upsample their
        location maps (`sslprop.models.baselines.common.upsample_map`). Non-negative; it does not
        depend on any audio.
    """

    if fmap.dim() != 4:
        raise SSLPropError(f"saliency_maps: fmap must be Tensor[F, C, h, w], got shape {tuple(fmap.shape)}")
    prior = fmap.float().abs().mean(dim=1)  # (F, h, w)
    return F.interpolate(prior[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]  # (F, H, W)


def grid_ceiling_map(boxes: np.ndarray, width: float, height: float, input_size: int, stride: int,
                     consensus: bool = False) -> np.ndarray:
    """The ground truth as a stride-`stride` location map draws it -> float32 (input_size, input_size).

    boxes: (N, 4) xyxy pixels of a W x H frame. They are rescaled to the input grid and drawn
    there (`frame_ceiling_map`); each cell of the (input_size // stride)^2 grid takes the value of
    that drawing at its centre pixel (``stride // 2`` into the cell: rasterisation by cell
    centre), and the cell map is upsampled bilinearly (align_corners=False) to the input grid,
    as the models' maps are.
    """

    if input_size % stride:
        raise SSLPropError(f"ceiling-grid: input size {input_size} is not a multiple of the stride {stride}")
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) * np.array([input_size / width, input_size / height] * 2)
    fine = torch.from_numpy(frame_ceiling_map(b, input_size, input_size, consensus))[None, None]  # (1, 1, S, S)
    cells = fine[:, :, stride // 2:: stride, stride // 2:: stride]  # (1, 1, S / stride, S / stride): each cell's centre pixel
    return F.interpolate(cells, size=(input_size, input_size), mode="bilinear", align_corners=False)[0, 0].numpy()


def frame_ceiling_map(boxes: np.ndarray, width: float, height: float, consensus: bool = False) -> np.ndarray:
    """The ground-truth mask at a frame's resolution -> float32 (H, W) with H = round(height), W = round(width).

    boxes: (N, 4) xyxy pixels; each covers the pixels [round(x1), round(x2)) x [round(y1), round(y2)).
    The union of the boxes (1 inside, 0 outside), or with `consensus` the Flickr rule: box masks
    summed, / 2, clipped to 1.
    """
    h, w = int(round(height)), int(round(width))
    m = np.zeros((h, w), dtype=np.float32)
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        m[max(int(round(y1)), 0): max(int(round(y2)), 0), max(int(round(x1)), 0): max(int(round(x2)), 0)] += 1
    return np.minimum(m / 2, 1) if consensus else (m > 0).astype(np.float32)


def ranked_ceiling_map(boxes: np.ndarray, width: float, height: float, consensus: bool = False) -> np.ndarray:
    """`frame_ceiling_map` with a background of ``RANKED_EPS * (1 - d / (max d + 1))`` -> float32 (H, W).

    d: the Euclidean distance (``cv2.distanceTransform``, L2, 5 x 5 mask) of a background pixel to the
    nearest ground-truth pixel. The ground truth keeps its values; the background lies in (0, RANKED_EPS].
    """

    m = frame_ceiling_map(boxes, width, height, consensus)
    background = m == 0
    if background.all() or not background.any():
        return m
    d = cv2.distanceTransform(background.astype(np.uint8), cv2.DIST_L2, 5)  # (H, W), 0 on the ground truth
    return np.where(background, RANKED_EPS * (1 - d / (float(d.max()) + 1)), m).astype(np.float32)


@dataclass
class VisualPrior:
    """The visual-prior floor on the frames of a data set.

    maps:   {key: float32 (S, S)}, the saliency on the model's input grid
    boxes:  {key: float64 (M, 5)}, [x1, y1, x2, y2, saliency] in the stored frame's pixels, M <= 2
            (the best proposal, then the best one that does not overlap it; none without proposals)
    source: what was run, for the report (of the maps)
    box_source: the same, of the boxes
    """

    maps: dict[str, np.ndarray]
    boxes: dict[str, np.ndarray]
    source: str
    box_source: str


def _frames(root: Path, split: str, keys: Sequence[str] | None) -> list[tuple[str, str, int, int]]:
    """(key, frame path, height, width) of the frames of `split`, only those in `keys` when given."""

    wanted = None if keys is None else set(keys)
    out = []
    for s in read_manifest(root, split):
        for i, fr in enumerate(s.frames):
            key = frame_key(s.id, i, len(s.frames))
            if wanted is None or key in wanted:
                out.append((key, fr.path, int(fr.height), int(fr.width)))
    return out


def visual_prior(root: str | os.PathLike, split: str = "test", keys: Sequence[str] | None = None,
                 weights: str | os.PathLike | None = None, profile: str = "cpu", batch_size: int = BATCH,
                 progress: bool | None = None) -> VisualPrior:
    """Saliency maps and best proposals of the frames of an sslprop data set, with no audio (see the module docstring).

    root/split: the data set and split (``"all"`` for every frame); keys: only these prediction keys.
    weights: a SmallVisual weight file (default: the shipped ``small_visual.pt``).
    profile: the profile whose input size, proposal cap and scorer are used (the cpu profile's: the
    shipped encoder's). The encoder runs on the CPU in batches of `batch_size` frames, without gradient;
    progress: tqdm bar over the batches (None: only on a terminal).
    """

    cfg = get_profile(profile)
    root = Path(root)
    path = Path(weights) if weights is not None else shipped_weights("visual")
    if not path.is_file():
        raise SSLPropError(f"{path}: visual weight file not found (--visual-weights)")
    encoder = load_small_visual(path)
    size = cfg.data.frame_size
    cache = ProposalCache(root, cfg.data.proposal_mode, cfg.data.proposal_max_side)
    frames = _frames(root, split, keys)
    if not frames:
        raise SSLPropError(f"{root}: no frames in split {split!r} to score the visual prior on")
    maps: dict[str, np.ndarray] = {}
    boxes: dict[str, np.ndarray] = {}
    chunks = [frames[i: i + batch_size] for i in range(0, len(frames), batch_size)]
    for chunk in tqdm(chunks, desc="visual prior", unit="batch", leave=False, disable=None if progress is None else not progress):
        rgb = [cv2.resize(read_image(root / rel, cfg.data.min_frame_size), (size, size), interpolation=cv2.INTER_AREA)
               for _, rel, _, _ in chunk]
        x = torch.from_numpy(np.stack(rgb)).permute(0, 3, 1, 2).float() / 255.0  # (B, 3, S, S), RGB in [0, 1]
        props = [rescale_boxes(cap_proposals(torch.from_numpy(cache.get(rel)), cfg.model.max_proposals), (h, w), (size, size))
                 for _, rel, h, w in chunk]  # B tensors (P_i, 4), pixels of the S x S input
        with torch.no_grad():
            sal = saliency_maps(encoder(x), size)  # (B, S, S)
            scores = score_boxes(sal, props, cfg.model.scorer)  # B tensors (P_i,)
        for (key, _, h, w), m, p, sc in zip(chunk, sal, props, scores):
            maps[key] = m.numpy().astype(np.float32)
            if len(p) == 0:
                boxes[key] = np.zeros((0, 5))
                continue
            order = torch.sort(sc, descending=True, stable=True).indices
            rows = [int(order[j]) for j in two_sources(p[order])]
            px = rescale_boxes(p[rows].double(), (size, size), (h, w))  # back to the stored frame's pixels
            boxes[key] = np.concatenate([px.numpy(), sc[rows].double().numpy()[:, None]], axis=1)
    source = f"visual-prior: mean |activation| of {path.name} (sha256 {sha256_file(path)[:12]}), no audio, frames at {size} px"
    box = (f"visual-prior-box: the Selective Search proposal of highest {cfg.model.scorer} saliency (of the "
           f"{cfg.model.max_proposals} largest) on the {source[len('visual-prior: '):]}")
    return VisualPrior(maps, boxes, source, box)


def ceiling_maps(frames: dict[str, tuple[np.ndarray, float, float, bool]], kind: str = "ceiling", profile: str = "cpu") -> dict[str, np.ndarray]:
    """{key: (boxes (N, 4) xyxy frame pixels, W, H, consensus)} -> {key: float32 map} of a ceiling of `CEILINGS`:
    ``ceiling`` `frame_ceiling_map`, ``ceiling-ranked`` `ranked_ceiling_map`, ``ceiling-grid`` `grid_ceiling_map` on
    the profile's input grid (``data.frame_size``) at the SmallVisual's stride (8)."""

    if kind not in CEILINGS:
        raise SSLPropError(f"unknown ceiling {kind!r} (one of {', '.join(CEILINGS)})")
    if kind != "ceiling-grid":
        make = frame_ceiling_map if kind == "ceiling" else ranked_ceiling_map
        return {key: make(b, w, h, c) for key, (b, w, h, c) in frames.items()}
    size = get_profile(profile).data.frame_size
    return {key: grid_ceiling_map(b, w, h, size, SmallVisual.stride, c) for key, (b, w, h, c) in frames.items()}
