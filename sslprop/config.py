"""Frozen configuration dataclasses (data, model, train), the named profiles `cpu` and `paper`, and overlays laid on them."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from sslprop.errors import SSLPropError
from sslprop.ops.grm import SCORERS


@dataclass(frozen=True)
class DataConfig:
    frame_size: int = 96  # frames are resized to frame_size x frame_size before the visual encoder
    sample_rate: int = 16000  # audio is decoded, mixed to mono and resampled to this rate (Hz)
    clip_seconds: float = 0.96  # length of the audio clip A_n centred on each frame I_n (one VGGish example)
    audio_features: str = "logmel"  # "vggish": the exact VGGish front end; "logmel": torchaudio log-mel (cpu profile)
    n_mels: int = 64  # mel bands of the (B, 1, 96, n_mels) audio patch
    num_frames: int = 1  # N, frames per clip fed to the modality LSTMs (1 = single frames)
    min_frame_size: int = 32  # frames smaller than this (either side) are rejected with a clear error
    proposal_mode: str = "fast"  # Selective Search mode of the proposal cache read ("fast" or "quality")
    proposal_max_side: int | None = None  # the cache made with frames downscaled to this side (None: full size)


@dataclass(frozen=True)
class ModelConfig:
    visual: str = "small"  # "small" (cpu profile CNN) or "vgg16" (dilated VGG16, paper)
    audio: str = "small"  # "small" (cpu profile CNN) or "vggish" (paper)
    visual_width: int = 32  # channels of the small visual encoder's first block (doubles per block)
    audio_width: int = 16  # channels of the small audio encoder's first block
    dim: int = 64  # d, the common space of f_s, f_att and f_box
    attn_dim: int = 64  # projection size of U_v and U_s in the audio-guided attention
    use_lstm: bool = True  # modality-specific LSTMs over the N frames (identity-sized, hidden = feature size)
    k: int = 20  # K, proposals kept per frame after GRM scoring
    scorer: str = "soft_iou"  # proposal confidence from the GRM: "sum" (as printed), "mean" or "soft_iou" (docs/design.md)
    select_proposals: bool = True  # False: Table 3 row 4, every proposal enters the MIL bag (the paper's row: with train.lam 0)
    spp_levels: tuple[int, ...] = (1, 2)  # SPP grid sizes (RoI pooling at each, concatenated)
    max_proposals: int = 2000  # proposals per frame considered before selection (largest-first cap; holds a whole bag)
    mil_temperature: float | None = None  # None: alpha = d / sum d (as printed); T: alpha = softmax(d / T) over existing slots
    # encoders without a weight file load pretrained ones: small the shipped (sslprop/weights/), vgg16 / vggish the public
    # ImageNet / AudioSet files (models/hub.py)
    pretrained: bool = False
    ogl_alpha: float | None = None  # ezvsl, slavc: None = the audio-visual map alone; a: a * map + (1 - a) * object prior (OGL, EZ-VSL: 0.4)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 8  # passes over the training split
    batch_size: int = 64  # clips per optimiser step (per process under torchrun)
    lr: float = 1e-3  # Adam learning rate (Adam otherwise at its defaults, as in the paper)
    lam: float = 0.5  # lambda, weight of the Euclidean term |f_v - f_att|^2
    paired_negatives: int = 0  # M > 0: M negatives per clip, each localised with its own audio (losses.paired_distance_ratio_loss)
    freeze_encoders: bool = False  # encoders do not train (eval-mode BatchNorm), their outputs are cached (sslprop.models.frozen)
    normalize: bool = True  # L2-normalise features before the losses (ours: unnormalised features collapse to 0)
    seed: int = 0  # seeds data order, negatives and initial weights
    device: str = "auto"  # "cpu", "cuda", "cuda:N" or "auto"
    amp: bool = True  # mixed precision on CUDA (ignored on CPU)
    num_workers: int = 0  # DataLoader workers
    log_every: int = 10  # optimiser steps between progress-bar updates of the running loss


# Value ranges checked by `Config.check` (types come from the annotations): (low, high, low inclusive).
RANGES: dict[str, tuple[float, float, bool]] = {
    "data.frame_size": (8, float("inf"), True), "data.sample_rate": (1000, float("inf"), True),
    "data.clip_seconds": (0, float("inf"), False), "data.n_mels": (1, float("inf"), True),
    "data.num_frames": (1, float("inf"), True), "data.min_frame_size": (1, float("inf"), True),
    "data.proposal_max_side": (8, float("inf"), True),
    "model.visual_width": (1, float("inf"), True), "model.audio_width": (1, float("inf"), True),
    "model.dim": (1, float("inf"), True), "model.attn_dim": (1, float("inf"), True), "model.k": (1, float("inf"), True),
    "model.max_proposals": (1, float("inf"), True), "model.mil_temperature": (0, float("inf"), False),
    "model.ogl_alpha": (0, 1, True),
    "train.epochs": (1, float("inf"), True), "train.batch_size": (1, float("inf"), True),
    "train.lr": (0, float("inf"), False), "train.lam": (0, float("inf"), True),
    "train.paired_negatives": (0, float("inf"), True), "train.num_workers": (0, float("inf"), True),
    "train.log_every": (1, float("inf"), True), "train.seed": (0, float("inf"), True),
}
CHOICES = {"data.audio_features": ("logmel", "vggish"), "data.proposal_mode": ("fast", "quality"),
           "model.visual": ("small", "vgg16"), "model.audio": ("small", "vggish"),
           "model.scorer": SCORERS}


def _check_value(key: str, annotation: str, value: Any) -> None:
    """One-line SSLPropError unless `value` has the annotated type and lies in the key's range."""

    kinds = {a.strip().split("[")[0] for a in str(annotation).split("|")}
    ok = (value is None and "None" in kinds) or (isinstance(value, bool) and "bool" in kinds) or (
        not isinstance(value, bool) and (
            (isinstance(value, int) and ("int" in kinds or "float" in kinds)) or (isinstance(value, float) and "float" in kinds)
            or (isinstance(value, str) and "str" in kinds)
            or (isinstance(value, (tuple, list)) and "tuple" in kinds and all(isinstance(v, int) and not isinstance(v, bool) for v in value))))
    if not ok:
        raise SSLPropError(f"config {key} = {value!r}: expected {annotation}")
    if key in CHOICES and value not in CHOICES[key]:
        raise SSLPropError(f"config {key} = {value!r}: choose from {', '.join(CHOICES[key])}")
    if key in RANGES and value is not None:
        low, high, inclusive = RANGES[key]
        v = float(value)
        if not math.isfinite(v) or v > high or v < low or (v == low and not inclusive):
            bound = f">= {low:g}" if inclusive else f"> {low:g}"
            raise SSLPropError(f"config {key} = {value!r}: must be a finite number {bound}")


# Options that were removed, with the value that meant what is left: the shipped checkpoint (sslprop/weights/ours_scenes.pt)
# was written with train.negatives "one" (the paper's one negative, now the loss whenever paired_negatives is 0) and still
# loads; a run that used "all" is refused in one line (docs/findings.md).
REMOVED = {"train": {"negatives": "one"}}


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (for checkpoints and run folders)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """Inverse of `to_dict`; unknown keys are an error, missing keys take their defaults."""
        parts = {}
        for name, typ in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
            sub = dict(d.get(name, {}))
            for key, off in REMOVED.get(name, {}).items():
                if key in sub and sub.pop(key) != off:
                    raise SSLPropError(f"config {name}.{key} was removed from sslprop (this run used it; see docs/findings.md)")
            known = {f.name for f in dataclasses.fields(typ)}
            unknown = set(sub) - known
            if unknown:
                raise SSLPropError(f"config section '{name}': unknown keys {sorted(unknown)}")
            for f in dataclasses.fields(typ):
                if f.name in sub and isinstance(sub[f.name], list):
                    sub[f.name] = tuple(sub[f.name])
            parts[name] = typ(**sub)
        return cls(**parts).check()

    def replace(self, **overrides: Any) -> Config:
        """Copy with dotted overrides, e.g. ``cfg.replace(**{"model.k": 10, "train.epochs": 2})``."""
        sections = {"data": self.data, "model": self.model, "train": self.train}
        changes: dict[str, dict[str, Any]] = {k: {} for k in sections}
        for key, value in overrides.items():
            section, _, name = key.partition(".")
            if section not in sections or name not in {f.name for f in dataclasses.fields(sections[section])}:
                raise SSLPropError(f"unknown config key '{key}'")
            changes[section][name] = value
        return Config(**{k: dataclasses.replace(v, **changes[k]) for k, v in sections.items()}).check()

    def check(self) -> Config:
        """Every field's type and range (`RANGES`, `CHOICES`); a one-line SSLPropError naming the first bad one."""
        for section in ("data", "model", "train"):
            part = getattr(self, section)
            for f in dataclasses.fields(part):
                _check_value(f"{section}.{f.name}", f.type, getattr(part, f.name))
        return self


PROFILES: dict[str, Config] = {
    # small frames, the shipped small encoders frozen, lambda 0.1, paired negatives, alpha = softmax(d / 0.1), no LSTM:
    # the whole paper on a 2-core CPU; each value's reason is in docs/design.md, "The two profiles"
    "cpu": Config(
        model=ModelConfig(use_lstm=False, mil_temperature=0.1, pretrained=True),
        train=TrainConfig(batch_size=32, lam=0.1, paired_negatives=4, freeze_encoders=True),
    ),
    # the paper's setting for a GPU and real data: dilated VGG16 + VGGish at 224 from ImageNet / AudioSet, fine-tuned
    "paper": Config(
        data=DataConfig(frame_size=224, audio_features="vggish", num_frames=1),
        model=ModelConfig(
            visual="vgg16",
            audio="vggish",
            dim=512,
            attn_dim=512,
            k=20,
            spp_levels=(1, 2, 4),
            max_proposals=2000,
            pretrained=True,
        ),
        train=TrainConfig(epochs=20, batch_size=128, lr=1e-4, num_workers=8),
    ),
}


# Named sets of dotted field overrides laid over either profile (`cfg.replace(**OVERLAYS[name])`): settings that are
# not a profile of their own, since each applies to cpu and paper alike (`get_profile` lists the profiles only).
OVERLAYS: dict[str, dict[str, Any]] = {
    # `train --from-scratch`: random encoders trained with the rest, lambda the paper's 0.5 (docs/design.md, "The two
    # profiles"); laid over the command line's other flags, --no-selection's lambda 0 included; only --set comes after
    "scratch": {"model.pretrained": False, "train.freeze_encoders": False, "train.lam": 0.5},
}


def get_profile(name: str) -> Config:
    """The named profile (`cpu` or `paper`); a clear error for any other name."""
    try:
        return PROFILES[name]
    except KeyError:
        raise SSLPropError(f"unknown profile '{name}' (choose from {', '.join(PROFILES)})") from None
