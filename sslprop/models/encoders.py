"""Encoders: dilated VGG16 and VGGish in their public weight layouts, SPP over proposals, small CPU encoders.

Visual encoders map frames `Tensor[B, 3, S, S]` (RGB in [0, 1]) to a feature map
`Tensor[B, C, S // stride, S // stride]` and carry `out_channels` (C) and `stride`.
Audio encoders map log-mel patches `Tensor[B, 1, 96, n_mels]` to `Tensor[B, D]` and carry
`out_dim` (D). `SPP` turns a feature map and per-frame proposals (absolute pixels, xyxy)
into one feature vector per proposal. `build_encoders` picks both encoders from a
`ModelConfig` and loads pretrained weights: local files when given, else the shipped small
encoders or the paper's public VGG16 / VGGish files (`sslprop.models.hub`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn
from torchvision.models.vgg import cfgs as _tv_vgg_cfgs
from torchvision.models.vgg import make_layers as _tv_vgg_make_layers
from torchvision.ops import roi_pool

from sslprop.config import ModelConfig
from sslprop.errors import SSLPropError
from sslprop.models.hub import fetch
from sslprop.models.weights import SHIPPED_WIDTH, shipped_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation (RGB)
IMAGENET_STD = (0.229, 0.224, 0.225)

VGGISH_FRAMES = 96  # time frames of one VGGish example (0.96 s at a 10 ms hop)
VGGISH_BANDS = 64  # mel bands of one VGGish example
VGGISH_DIM = 128  # VGGish embedding size


# ----------------------------------------------------------------------------- weight files


def _read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict (name -> tensor) read from a local .pth file; SSLPropError when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise SSLPropError(f"{path}: weight file not found")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any reader failure becomes one clear line
        detail = str(e).splitlines()[0] if str(e) else "no detail"
        raise SSLPropError(f"{path}: cannot read weights ({type(e).__name__}: {detail})") from None
    if not isinstance(sd, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in sd.items()):
        raise SSLPropError(f"{path}: not a state dict (expected a mapping of parameter names to tensors)")
    return sd


def _names(keys: list[str], limit: int = 6) -> str:
    """`a, b, c, ... (+N more)`: a short list of key names for an error message."""
    keys = sorted(keys)
    more = f", ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _load_strict(model: nn.Module, sd: dict[str, torch.Tensor], path: str | os.PathLike, layout: str) -> None:
    """Load `sd` into `model`, requiring exactly the model's keys and shapes (the error names any mismatch)."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {_names(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_names(unexpected)}")
        raise SSLPropError(f"{path}: not in the {layout} layout ({'; '.join(parts)})")
    wrong = [f"{k} {tuple(sd[k].shape)} (expected {tuple(v.shape)})" for k, v in own.items() if sd[k].shape != v.shape]
    if wrong:
        raise SSLPropError(f"{path}: not in the {layout} layout (wrong shapes: {_names(wrong, 3)})")
    model.load_state_dict(sd, strict=True)


# ----------------------------------------------------------------------------- VGGish


def _vggish_features() -> nn.Sequential:
    """The VGGish conv stack with the port's module indices (convs at 0, 3, 6, 8, 11, 13)."""
    layers: list[nn.Module] = []
    in_ch = 1
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = int(v)
    return nn.Sequential(*layers)


class VGGish(nn.Module):
    """VGGish (Hershey et al. 2017) in the layout of the public PyTorch port (harritaylor/torchvggish).

    The state dict has the port's keys, `features.{0,3,6,8,11,13}.{weight,bias}` and
    `embeddings.{0,2,4}.{weight,bias}`, so `vggish-10086976.pth` loads unchanged and gives
    the port's embeddings. As in the port, the conv output (B, 512, 6, 4) is flattened in
    (height, width, channel) order, the order of the original TensorFlow model, and the last
    Linear is followed by a ReLU.

    The port's optional PCA whitening and 8-bit quantisation (its `Postprocessor`) are not
    applied: the paper uses the raw 128-d embeddings, and the quantised ones have no gradient.

    forward: log-mel examples Tensor[B, 1, 96, 64] (time, mel) -> embeddings Tensor[B, 128].
    """

    out_dim = VGGISH_DIM

    def __init__(self) -> None:
        super().__init__()
        self.features = _vggish_features()
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 6 * 4, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, VGGISH_DIM),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, VGGISH_FRAMES, VGGISH_BANDS):
            raise SSLPropError(
                f"VGGish input: expected log-mel examples Tensor[B, 1, {VGGISH_FRAMES}, {VGGISH_BANDS}], "
                f"got {tuple(x.shape)} (use n_mels = {VGGISH_BANDS} with the vggish encoder)"
            )
        x = self.features(x)  # (B, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).flatten(1)  # (B, 6 * 4 * 512), height-width-channel order as in the port
        return self.embeddings(x)  # (B, 128)


def load_vggish_weights(model: VGGish, path: str | os.PathLike) -> list[str]:
    """Load a local VGGish state dict in the port's layout (e.g. `vggish-10086976.pth`) into `model`.

    Keys and shapes must match exactly; the error names missing and unexpected keys. Keys
    of the port's PCA postprocessor (`pproc.*`), present when a whole port model was saved,
    are ignored (the PCA is not used) and returned.
    """
    sd = _read_state_dict(path)
    ignored = sorted(k for k in sd if k.startswith("pproc."))
    _load_strict(model, {k: v for k, v in sd.items() if k not in ignored}, path, "VGGish (torchvggish port)")
    return ignored


# ----------------------------------------------------------------------------- VGG16


class VGG16Backbone(nn.Module):
    """The conv layers of torchvision's `vgg16`, dilated to output stride 8 (the paper's visual encoder).

    `features` is torchvision's own VGG16 conv stack (`torchvision.models.vgg.make_layers`
    with config "D") with its module indices unchanged, so the `features.*` part of
    torchvision's ImageNet state dict loads as is. Changes, all parameter-free:
    - the penultimate max-pool (index 23) becomes an Identity and conv5_1..3 (indices 24,
      26, 28) use dilation 2 and padding 2, so the receptive fields of conv5 stay those of
      the original network while the map keeps stride 8 (28 x 28 at 224);
    - the last max-pool (index 30) becomes an Identity: `SPP` over the proposals takes its place.

    Frames come in as RGB in [0, 1]; ImageNet normalisation (torchvision's mean and std,
    non-persistent buffers) is applied inside `forward`.

    forward: Tensor[B, 3, S, S] -> Tensor[B, 512, S // 8, S // 8].
    """

    out_channels = 512
    stride = 8

    def __init__(self) -> None:
        super().__init__()
        self.features = _tv_vgg_make_layers(_tv_vgg_cfgs["D"])
        for m in self.features.modules():  # torchvision's VGG initialisation (used without weights)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
        self.features[23] = nn.Identity()  # penultimate max-pool removed
        for i in (24, 26, 28):  # conv5 block dilated
            conv = self.features[i]
            conv.dilation, conv.padding = (2, 2), (2, 2)
        self.features[30] = nn.Identity()  # last max-pool: SPP takes its place
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = (frames - self.mean) / self.std  # (B, 3, S, S), ImageNet-normalised
        return self.features(x)  # (B, 512, S // 8, S // 8)


def load_vgg16_weights(model: VGG16Backbone, path: str | os.PathLike) -> list[str]:
    """Load a local torchvision `vgg16` state dict (e.g. `vgg16-397923af.pth`) into `model`.

    Every `features.*` key must be present with its shape (the error names any mismatch).
    The classifier (`classifier.*`, the fully connected layers) is not part of the backbone:
    its keys are ignored and returned. Any other key is an error.
    """
    sd = _read_state_dict(path)
    ignored = sorted(k for k in sd if k.startswith("classifier."))
    _load_strict(model, {k: v for k, v in sd.items() if k not in ignored}, path, "torchvision vgg16")
    return ignored


# ----------------------------------------------------------------------------- SPP


class SPP(nn.Module):
    """Spatial pyramid pooling over proposals (He et al. 2015), one feature vector per box.

    At each grid size l in `levels` the part of the feature map under a box is max-pooled
    into l x l bins with `torchvision.ops.roi_pool` (max pooling over quantised bins, as in
    SPP-net), and the flattened grids are concatenated in the order of `levels`; within a
    level the order is (channel, row, column).

    forward(fmap Tensor[B, C, h, w], boxes list of B Tensor[K_i, 4] in absolute pixels of
    the input frame, (x1, y1, x2, y2)) -> Tensor[sum K_i, C * sum(l * l)], rows in the order
    of the boxes, frame by frame. roi_pool's bins follow Fast R-CNN: a box covers the
    feature cells round(x1 / stride) .. round(x2 / stride), both included. Half and
    bfloat16 maps are pooled, exactly, in float32 (the output is float32).
    """

    def __init__(self, levels: tuple[int, ...] = (1, 2), stride: int = 8) -> None:
        super().__init__()
        if not levels or any(int(lv) < 1 for lv in levels):
            raise SSLPropError(f"spp_levels {tuple(levels)}: need one or more grid sizes >= 1")
        self.levels = tuple(int(lv) for lv in levels)
        self.stride = int(stride)

    def out_dim(self, channels: int) -> int:
        """Length of one proposal's feature: channels * sum(l * l)."""
        return channels * sum(lv * lv for lv in self.levels)

    def forward(self, fmap: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
        if len(boxes) != fmap.shape[0]:
            raise ValueError(f"SPP: {len(boxes)} box tensors for a batch of {fmap.shape[0]} feature maps")
        if fmap.dtype in (torch.float16, torch.bfloat16):  # roi_pool has no bfloat16 CPU kernel; max is exact in float32
            fmap = fmap.float()
        boxes = [b.to(dtype=fmap.dtype) for b in boxes]
        pooled = [
            roi_pool(fmap, boxes, output_size=lv, spatial_scale=1.0 / self.stride).flatten(1)  # (R, C * l * l)
            for lv in self.levels
        ]
        return torch.cat(pooled, dim=1)  # (R, C * sum(l * l)), R = sum K_i


# ----------------------------------------------------------------------------- small encoders (cpu profile)


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 conv (no bias) -> BatchNorm -> ReLU; `stride` 2 halves the map."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallVisual(nn.Module):
    """A small CNN with the interface of `VGG16Backbone`, the cpu profile's (pretrained by `sslprop.engine.pretrain`).

    Three stride-2 conv-BN-ReLU blocks (width, 2 width, 4 width channels) and one dilated
    block at 4 width, so the output stride is 8 as in the dilated VGG16 (96 px -> 12 x 12).
    Inputs are RGB in [0, 1], ImageNet-normalised inside `forward` like the VGG16.

    forward: Tensor[B, 3, S, S] -> Tensor[B, 4 * width, S // 8, S // 8].
    """

    stride = 8

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.out_channels = 4 * width
        self.features = nn.Sequential(
            _conv_bn_relu(3, width, stride=2),  # S / 2
            _conv_bn_relu(width, 2 * width, stride=2),  # S / 4
            _conv_bn_relu(2 * width, 4 * width, stride=2),  # S / 8
            _conv_bn_relu(4 * width, 4 * width, dilation=2),  # S / 8, wider receptive field
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = (frames - self.mean) / self.std  # (B, 3, S, S)
        return self.features(x)  # (B, 4 * width, S // 8, S // 8)


def load_small_visual(path: str | os.PathLike) -> SmallVisual:
    """A `SmallVisual` with the weights of a local file (e.g. the shipped ``small_visual.pt``), in eval mode.

    The width is read from the file (the first conv's output channels), so a file of any width
    loads; keys and shapes must then match exactly (the error names any mismatch).
    """
    sd = _read_state_dict(path)
    first = sd.get("features.0.0.weight")
    if first is None or first.dim() != 4:
        raise SSLPropError(f"{path}: not in the sslprop SmallVisual layout (no 4-D features.0.0.weight)")
    model = SmallVisual(int(first.shape[0]))
    _load_strict(model, sd, path, "sslprop SmallVisual")
    return model.eval()


class SmallAudio(nn.Module):
    """A small CNN with the interface of `VGGish`, the cpu profile's (pretrained by `sslprop.engine.pretrain`).

    Three stride-2 conv-BN-ReLU blocks (width, 2 width, 4 width channels) over the log-mel
    patch, a global average pool, a Linear to `out_dim` and a BatchNorm over the batch. The
    last BatchNorm centres the embeddings: without it, features pooled after a ReLU start
    almost parallel for every clip (mean cosine 0.999 at initialisation on `scenes`), and
    training from scratch spends its first hundred steps pulling them apart.

    forward: Tensor[B, 1, T, n_mels] (T = 96 frames) -> Tensor[B, out_dim].
    """

    def __init__(self, width: int = 16, out_dim: int = VGGISH_DIM) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.features = nn.Sequential(
            _conv_bn_relu(1, width, stride=2),  # (T / 2, n_mels / 2)
            _conv_bn_relu(width, 2 * width, stride=2),  # (T / 4, n_mels / 4)
            _conv_bn_relu(2 * width, 4 * width, stride=2),  # (T / 8, n_mels / 8)
        )
        self.fc = nn.Linear(4 * width, out_dim)
        self.norm = nn.BatchNorm1d(out_dim)

    def forward(self, patch: torch.Tensor) -> torch.Tensor:
        x = self.features(patch)  # (B, 4 * width, T / 8, n_mels / 8)
        x = x.mean(dim=(2, 3))  # (B, 4 * width)
        return self.norm(self.fc(x))  # (B, out_dim)


# ----------------------------------------------------------------------------- factory


VISUAL_ENCODERS = ("small", "vgg16")
AUDIO_ENCODERS = ("small", "vggish")


def _build_visual(model_cfg: ModelConfig) -> nn.Module:
    if model_cfg.visual == "vgg16":
        return VGG16Backbone()
    if model_cfg.visual == "small":
        return SmallVisual(model_cfg.visual_width)
    raise SSLPropError(f"model.visual '{model_cfg.visual}': unknown visual encoder (choose from {', '.join(VISUAL_ENCODERS)})")


def _build_audio(model_cfg: ModelConfig) -> nn.Module:
    if model_cfg.audio == "vggish":
        return VGGish()
    if model_cfg.audio == "small":
        return SmallAudio(model_cfg.audio_width, VGGISH_DIM)
    raise SSLPropError(f"model.audio '{model_cfg.audio}': unknown audio encoder (choose from {', '.join(AUDIO_ENCODERS)})")


def _load_into(model: nn.Module, path: str | os.PathLike) -> list[str]:
    """Load a weight file into any of the encoders, in the layout that encoder reads."""
    if isinstance(model, VGGish):
        return load_vggish_weights(model, path)
    if isinstance(model, VGG16Backbone):
        return load_vgg16_weights(model, path)
    _load_strict(model, _read_state_dict(path), path, f"sslprop {type(model).__name__}")
    return []


def resolve_weights(
    model_cfg: ModelConfig,
    visual_weights: str | os.PathLike | None = None,
    audio_weights: str | os.PathLike | None = None,
    log: Callable[[str], None] = print,
) -> tuple[str | None, str | None]:
    """The weight files `build_encoders` loads: the given ones, else, with `model.pretrained`, the pretrained ones.

    For the small encoders (cpu profile) those ship in the package (`sslprop.models.weights`); for vgg16 and
    vggish (paper profile) they are the public ImageNet and AudioSet files, found in or downloaded into torch.hub's
    cache and checked against their recorded sha256 (`sslprop.models.hub.fetch`; offline, one SSLPropError names
    each file, its URL and the folder to put it in). Without `model.pretrained` an encoder with no file is random.
    """
    if not model_cfg.pretrained:
        return (None if visual_weights is None else str(visual_weights), None if audio_weights is None else str(audio_weights))
    given = {"visual": visual_weights, "audio": audio_weights}

    out: dict[str, str] = {}
    public: dict[str, str] = {}  # kind -> encoder name, fetched together so that one message names every missing file
    for kind, name in (("visual", model_cfg.visual), ("audio", model_cfg.audio)):
        path = given[kind]
        if path is not None:
            out[kind] = str(path)
        elif name == "small":
            width = getattr(model_cfg, f"{kind}_width")
            if width != SHIPPED_WIDTH[kind]:
                raise SSLPropError(f"model.{kind}_width = {width}: the shipped pretrained {kind} encoder has width "
                                   f"{SHIPPED_WIDTH[kind]} (set model.pretrained=false, or train with --from-scratch)")
            out[kind] = str(shipped_weights(kind))
        else:
            public[kind] = name
    if public:

        fetched = fetch(list(public.values()), log)
        out.update({kind: str(fetched[name]) for kind, name in public.items()})
    return out["visual"], out["audio"]


def build_encoders(
    model_cfg: ModelConfig,
    visual_weights: str | os.PathLike | None = None,
    audio_weights: str | os.PathLike | None = None,
    log: Callable[[str], None] = print,
) -> tuple[nn.Module, nn.Module]:
    """The (visual, audio) encoders named by `model_cfg.visual` and `model_cfg.audio`, on the CPU.

    With a weight path the file is loaded in that encoder's layout: torchvision's `vgg16`
    state dict for "vgg16", the torchvggish port's for "vggish", and this module's own
    state dict for the small encoders. Without one, `model.pretrained` loads the pretrained
    encoders (`resolve_weights`: the shipped small ones, or VGG16 from ImageNet and VGGish from
    AudioSet through torch.hub's cache); otherwise the encoder keeps its random initialisation,
    and `log` says so. A missing, malformed or unverified file, or an unknown encoder name,
    raises SSLPropError.
    """
    if model_cfg.visual not in VISUAL_ENCODERS:
        raise SSLPropError(f"model.visual '{model_cfg.visual}': unknown visual encoder (choose from {', '.join(VISUAL_ENCODERS)})")
    if model_cfg.audio not in AUDIO_ENCODERS:
        raise SSLPropError(f"model.audio '{model_cfg.audio}': unknown audio encoder (choose from {', '.join(AUDIO_ENCODERS)})")
    visual_weights, audio_weights = resolve_weights(model_cfg, visual_weights, audio_weights, log)
    jobs = (
        ("visual", "--visual-weights", model_cfg.visual, visual_weights, _build_visual),
        ("audio", "--audio-weights", model_cfg.audio, audio_weights, _build_audio),
    )
    for kind, flag, _, path, _ in jobs:  # fail before building anything large
        if path is not None and not Path(path).is_file():
            raise SSLPropError(f"{path}: {kind} weight file not found ({flag})")
    encoders = []
    for kind, flag, name, path, build in jobs:
        model = build(model_cfg)
        if path is None:
            log(f"{kind} encoder {name}: no {flag} given, starting from random weights")
        else:
            ignored = _load_into(model, path)
            note = f" (ignored {len(ignored)} keys: {_names(ignored, 3)})" if ignored else ""
            log(f"{kind} encoder {name}: loaded weights from {path}{note}")
        encoders.append(model)
    return encoders[0], encoders[1]
