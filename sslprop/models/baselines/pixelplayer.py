"""PixelPlayer, "The Sound of Pixels" (Zhao et al., ECCV 2018): mix-and-separate; the map is each pixel's separated sound energy.

Training (mix-and-separate, two sources): the audio of a clip and of a clip of another
video are mixed; an audio U-Net turns the log-magnitude mixture into K feature channels
S_k(t, f); the visual network gives each frame K features i_k in (0, 1) (sigmoid), max-pooled
over the frame; a linear synthesizer predicts each source's spectrogram mask
    M(t, f) = sigmoid(sum_k alpha_k i_k S_k(t, f) + beta),
trained against the binary mask [mag_source > 0.5 * mag_mix] with BCE weighted by
clamp(log(1 + mag_mix), 1e-3, 10): the released MUSIC recipe (`--binary_mask 1 --loss bce
--weighted_loss 1 --num_mix 2 --num_channels 32 --img_pool maxpool --img_activation sigmoid
--output_activation sigmoid`).
Localisation (the paper's "sound energy of each pixel"): the visual features are kept at every
location p, each gives its own mask M_p for the clip's own audio, and the map is the energy
of the separated spectrogram, sum_{t, f} M_p(t, f) mag(t, f), upsampled (bilinear) to the frame.

Written from the paper and the public code (hangzhaomit/Sound-of-Pixels: `main.py`,
`models/synthesizer_net.py` `InnerProd`, `models/audio_net.py`, `scripts/train_MUSIC.sh`).
Where we simplify, and why:
- Spectrogram: our batches hold log-mel patches, log(mel + 0.01), not the 512-bin linear STFT
  of 6 s at 11 kHz. We mix and separate in the linear mel-magnitude domain: each source's
  magnitude is exp(x) - 0.01 (clamped at 0), the mixture is their sum (magnitudes add where the
  sources do not overlap in a bin; the phase is unavailable and not needed for masks), and the
  U-Net reads log(mix + 0.01), the same front end as every other method. The mel bands already
  warp frequency logarithmically, the job of the code's `log_freq` grid warp, which we drop.
- Networks: the visual network is the shared visual encoder with a 1x1 convolution to K = 32
  channels (PixelPlayer: dilated ResNet-18 with a 3x3 convolution to 32); the audio network is a
  U-Net of `UNET_DEPTH` = 4 levels (the code's `unet7` has 7 for 256 x 256 spectrograms) whose
  first width is `cfg.model.audio_width`, because the shared audio encoders output one vector
  per clip and a mask needs a time-frequency output. `--audio-weights` therefore does not apply.
- One frame per clip and mixture (the code max-pools 3 frames over time); the frames of a
  multi-frame window are separate items, each mixed with the same position of its negative clip.
- The BCE is computed from logits (binary_cross_entropy_with_logits: the same value, and
  safe under mixed precision). Per-network learning rates (1e-4 frame, 1e-3 sound and
  synthesizer) become the shared trainer's one rate.
PixelPlayer has no common audio-visual embedding: `infer` returns f_v = f_s = None.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sslprop.config import Config
from sslprop.errors import SSLPropError
from sslprop.models.baselines.common import check_inputs, upsample_map
from sslprop.models.baselines.method import MapMethod
from sslprop.models.encoders import build_encoders
from sslprop.models.negatives import StepContext

CHANNELS = 32  # K, feature channels shared by the frame and sound networks (`--num_channels 32`)
UNET_DEPTH = 4  # down-sampling levels of the audio U-Net
LOG_OFFSET = 0.01  # the patches are log(mel + LOG_OFFSET) (sslprop.data.audio)
MASK_THRESHOLD = 0.5  # binary ground truth: mag_source > MASK_THRESHOLD * mag_mix


def magnitude(logmel: Tensor) -> Tensor:
    """Linear mel magnitude of a log-mel patch: exp(x) - 0.01, clamped at 0 (same shape)."""
    return (logmel.float().exp() - LOG_OFFSET).clamp_min(0.0)


class UNet(nn.Module):
    """The audio U-Net of Sound of Pixels, `depth` levels: log-magnitude Tensor[F, 1, T, M] -> features Tensor[F, K, T, M].

    Down: 4x4 stride-2 convolutions (LeakyReLU 0.2 before each but the first, BatchNorm after
    each but the first and the innermost); up: ReLU, bilinear upsampling (align_corners=True)
    to the skip's size, 3x3 convolution, BatchNorm (not on the output), concatenated with the
    skip. Widths width, 2 width, ... capped at 8 width. The input first passes a BatchNorm.
    """

    def __init__(self, out_channels: int = CHANNELS, width: int = 64, depth: int = UNET_DEPTH) -> None:
        super().__init__()
        if depth < 2:
            raise SSLPropError(f"U-Net depth {depth}: needs at least 2 levels")
        widths = [width * min(2**i, 8) for i in range(depth)]
        self.bn0 = nn.BatchNorm2d(1)
        self.down = nn.ModuleList()
        for i, w in enumerate(widths):
            conv = nn.Conv2d(1 if i == 0 else widths[i - 1], w, 4, stride=2, padding=1, bias=False)
            layers = [conv] if i == 0 else [nn.LeakyReLU(0.2, inplace=True), conv]
            if 0 < i < depth - 1:
                layers.append(nn.BatchNorm2d(w))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):  # up[j] undoes down[depth - 1 - j]
            c_in = widths[i] if i == depth - 1 else 2 * widths[i]  # innermost: no skip concatenated yet
            if i == 0:
                self.up.append(nn.Conv2d(c_in, out_channels, 3, padding=1))
            else:
                self.up.append(nn.Sequential(nn.Conv2d(c_in, widths[i - 1], 3, padding=1, bias=False), nn.BatchNorm2d(widths[i - 1])))

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        x = self.bn0(x)
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = skips.pop()  # innermost, (F, widths[-1], T / 2^depth, M / 2^depth)
        for layer in self.up:
            target = skips[-1].shape[-2:] if skips else size
            x = F.interpolate(F.relu(x), size=target, mode="bilinear", align_corners=True)
            x = layer(x)
            if skips:
                x = torch.cat([skips.pop(), x], dim=1)  # skip first, as in the code's torch.cat([x, model(x)])
        return x  # (F, K, T, M)


@dataclass
class PixelPlayerOutput:
    """PixelPlayer's forward for F = B*N frames (frame-major).

    Training (negatives given), two sources per frame: the frame's own clip and its negative's.
    logits:  Tensor[F, 2, T, M]  mask logits of the two sources
    target:  Tensor[F, 2, T, M]  binary masks [mag_source > 0.5 mag_mix]
    weight:  Tensor[F, 2, T, M]  clamp(log1p(mag_mix), 1e-3, 10), the same for both sources
    Read-out (no negatives):
    energy:  Tensor[F, h, w]     energy of the clip's audio separated by each location's features
    """

    logits: Tensor | None = None
    target: Tensor | None = None
    weight: Tensor | None = None
    energy: Tensor | None = None


class PixelPlayerNet(nn.Module):
    """Frame network (shared visual encoder + 1x1 conv to K, sigmoid), audio U-Net, linear synthesizer."""

    def __init__(self, visual: nn.Module, audio_width: int) -> None:
        """visual: the shared visual encoder; audio_width: the U-Net's first width (`cfg.model.audio_width`)."""
        super().__init__()
        self.visual = visual
        self.frame_head = nn.Conv2d(visual.out_channels, CHANNELS, kernel_size=1)
        self.sound = UNet(CHANNELS, audio_width)
        self.scale = nn.Parameter(torch.ones(CHANNELS))  # alpha_k of the synthesizer (`InnerProd.scale`)
        self.bias = nn.Parameter(torch.zeros(1))  # beta

    def pixel_features(self, frames: Tensor) -> Tensor:
        """Per-location visual features in (0, 1): Tensor[F, 3, S, S] -> Tensor[F, K, h, w]."""
        return torch.sigmoid(self.frame_head(self.visual(frames)))

    def synthesize(self, feats: Tensor, sound: Tensor) -> Tensor:
        """Mask logits sum_k alpha_k i_k S_k + beta: feats Tensor[F, P, K] with sound Tensor[F, K, T, M] -> Tensor[F, P, T, M]."""
        return torch.einsum("fpk,fktm->fptm", feats * self.scale, sound) + self.bias

    def forward(self, frames: Tensor, audio: Tensor, negatives: Tensor | None = None) -> PixelPlayerOutput:
        """frames Tensor[B, N, 3, S, S], audio Tensor[B, N, 1, T, M] (log-mel); negatives Tensor[B*N] long or None."""
        check_inputs(frames, audio)
        frames, audio = frames.flatten(0, 1), audio.flatten(0, 1)  # (F, 3, S, S), (F, 1, T, M)
        mag = magnitude(audio)  # (F, 1, T, M)
        if negatives is None:
            return PixelPlayerOutput(energy=self._energy(frames, audio, mag))
        mags = torch.cat([mag, mag[negatives]], dim=1)  # (F, 2, T, M): own source, other source
        mix = mags.sum(dim=1, keepdim=True)  # (F, 1, T, M)
        sound = self.sound(torch.log(mix + LOG_OFFSET))  # (F, K, T, M)
        pix = self.pixel_features(frames)  # (F, K, h, w)
        pooled = pix.amax(dim=(2, 3))  # (F, K), `--img_pool maxpool`
        feats = torch.stack([pooled, pooled[negatives]], dim=1)  # (F, 2, K)
        logits = self.synthesize(feats, sound)  # (F, 2, T, M)
        target = (mags > MASK_THRESHOLD * mix).to(logits.dtype)
        weight = torch.log1p(mix).clamp(1e-3, 10.0).expand_as(mags)
        return PixelPlayerOutput(logits=logits, target=target, weight=weight)

    def _energy(self, frames: Tensor, audio: Tensor, mag: Tensor) -> Tensor:
        """sum_{t, f} sigmoid(logit_p(t, f)) mag(t, f) for every location p, one frame at a time (memory)."""
        sound = self.sound(audio)  # (F, K, T, M); the clip's own audio, log(mel + 0.01) as stored
        pix = self.pixel_features(frames)  # (F, K, h, w)
        h, w = pix.shape[-2:]
        feats = pix.flatten(2).transpose(1, 2)  # (F, h*w, K)
        energy = [
            (torch.sigmoid(self.synthesize(feats[i : i + 1], sound[i : i + 1])) * mag[i : i + 1]).sum(dim=(2, 3))
            for i in range(len(feats))
        ]  # F x (1, h*w)
        return torch.cat(energy).reshape(-1, h, w)  # (F, h, w)


def separation_loss(out: PixelPlayerOutput) -> Tensor:
    """Weighted BCE of the predicted masks, averaged over every bin and over the two sources."""
    return F.binary_cross_entropy_with_logits(out.logits.float(), out.target.float(), weight=out.weight.float())


class PixelPlayer(MapMethod):
    """The Sound of Pixels (Zhao et al. 2018) as a `Method`."""

    name = "pixelplayer"
    audio_encoder = False  # its audio network is its own U-Net: no audio encoder's weights apply

    def encoders(self, cfg: Config, visual_weights: str | os.PathLike | None, audio_weights: str | os.PathLike | None,
                 log: Callable[[str], None]) -> tuple[nn.Module, None]:
        """The shared visual encoder only (the audio encoder is built and dropped, its messages unsaid)."""
        if audio_weights is not None:
            raise SSLPropError(f"{audio_weights}: pixelplayer's audio network is a spectrogram U-Net; "
                               "--audio-weights does not apply")
        visual, _ = build_encoders(cfg.model, visual_weights, None, lambda msg: log(msg) if msg.startswith("visual") else None)
        return visual, None

    def network(self, visual: nn.Module, audio: None, cfg: Config) -> PixelPlayerNet:
        return PixelPlayerNet(visual, cfg.model.audio_width)

    def objective(self, model: nn.Module, frames: Tensor, audio: Tensor, batch: dict[str, Any], ctx: StepContext,
                  cfg: Config) -> tuple[Tensor, dict[str, Tensor]]:
        loss = separation_loss(model(frames, audio, self.negatives(batch, ctx, frames)))  # negatives: (B*N,)
        return loss, {"loss": loss}

    def read_out(self, out: PixelPlayerOutput, size: tuple[int, int], cfg: Config) -> tuple[Tensor, None, None]:
        return upsample_map(out.energy.float(), size), None, None  # no common embedding: f_v = f_s = None


METHOD = PixelPlayer()
