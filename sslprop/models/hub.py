"""The paper profile's pretrained encoders from their public sources, through torch.hub's cache.

VGG16 (ImageNet): torchvision's own weights API, `VGG16_Weights.IMAGENET1K_V1` (its URL and file name).
VGGish (AudioSet): the torchvggish port's release file `vggish-10086976.pth`.
Both are kept where torch keeps hub downloads, ``$TORCH_HOME/hub/checkpoints`` (`torch.hub.get_dir()`),
so a file torchvision or the port already downloaded is found, and a machine without a network is
filled by copying the two files there. Every file, downloaded or found, is checked against the full
sha256 recorded below before it is loaded; a download is also checked by torch.hub against the
8 hex digits in its file name (`hash_prefix`, what `check_hash=True` checks), torch.hub's convention.

`SSLPROP_HUB_SHA256="vgg16=HEX,vggish=HEX"` replaces a recorded sha256 (say, to test the path with
files of your own); the log then says so. It never turns the check off.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch.hub
from torchvision.models import VGG16_Weights

from sslprop.errors import SSLPropError
from sslprop.utils import sha256_file

SHA256_ENV = "SSLPROP_HUB_SHA256"  # "vgg16=HEX,vggish=HEX": replaces the recorded sha256 of those encoders
DOWNLOAD_TIMEOUT_S = 60  # per socket operation: a proxy that swallows the connection fails instead of hanging


@dataclass(frozen=True)
class HubWeights:
    """One public weight file: where it is downloaded from and the sha256 it must have."""

    encoder: str  # model.visual or model.audio that loads it
    flag: str  # the train option that gives a local file instead
    url: str
    sha256: str  # of the whole file, lower-case hex
    source: str  # where `sha256` comes from

    @property
    def file_name(self) -> str:
        """The file's name in the hub cache: the URL's last part, with torch.hub's 8-hex-digit hash prefix."""
        return Path(urlparse(self.url).path).name


def _vgg16_url() -> str:
    return VGG16_Weights.IMAGENET1K_V1.url  # https://download.pytorch.org/models/vgg16-397923af.pth


VGGISH_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"

# The sha256 values are not computed here (this project's machines cannot reach either host). Each is the
# value that independent public projects record for the file, and each begins with the hash prefix the
# file's own name carries (torch.hub's convention, `test_recorded_sha256_begins_with_the_file_name_prefix`).
# Whoever downloads a file and finds another sha256 should check the file before changing the record.
HUB: dict[str, HubWeights] = {
    "vgg16": HubWeights(
        "vgg16", "--visual-weights", _vgg16_url(),
        "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
        "recorded by several public projects that pin torchvision's file (e.g. LPIPS metric set-ups); not downloaded here",
    ),
    "vggish": HubWeights(
        "vggish", "--audio-weights", VGGISH_URL,
        "10086976245803799d9194e9a73d9b6c1549c71d1b80106f5cade5608a561f4b",
        "recorded by uncharted-distil/distil-primitives (distil/primitives/audio_transfer.py, its D3M "
        "`file_digest`) and by an installer that pins the same URL; not downloaded here",
    ),
}


def hub_dir() -> Path:
    """torch.hub's download folder: ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``)."""

    return Path(torch.hub.get_dir()) / "checkpoints"


def expected_sha256(entry: HubWeights) -> tuple[str, str]:
    """(sha256, where it comes from): the record, or the value `SSLPROP_HUB_SHA256` gives for this encoder."""
    raw = os.environ.get(SHA256_ENV, "").strip()
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, value = part.partition("=")
        value = value.strip().lower()
        if not sep or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise SSLPropError(f"{SHA256_ENV}={raw!r}: expected ENCODER=SHA256 pairs (64 hex digits), comma-separated")
        if name.strip() == entry.encoder:
            return value, SHA256_ENV
    return entry.sha256, "the project's record"


_VERIFIED: dict[tuple[str, int, int, str], bool] = {}  # (path, size, mtime_ns, sha256) checked in this process




def check_file(path: Path, entry: HubWeights) -> None:
    """SSLPropError unless the file's sha256 is the expected one (remembered per file state in this process)."""
    expected, origin = expected_sha256(entry)
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, expected)
    if key in _VERIFIED:
        return
    digest = sha256_file(path)
    if digest != expected:
        raise SSLPropError(
            f"{path}: sha256 {digest[:16]}... is not {expected[:16]}... ({origin}) of {entry.url}: "
            f"delete the file and run again to download it, or pass {entry.flag} with a file you trust")
    _VERIFIED[key] = True


def _download(entry: HubWeights, path: Path, progress: bool) -> None:
    """Fetch `entry` to `path` as `torch.hub.load_state_dict_from_url(..., check_hash=True)` does (a temporary file,
    checked against the 8 hex digits of torch.hub's file name convention, then moved into place), without its
    unconditional "Downloading" line: offline, the caller's one-line error is all that is printed."""

    match = torch.hub.HASH_REGEX.search(entry.file_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(entry.url, str(path), hash_prefix=match.group(1) if match else None, progress=progress)
    finally:
        socket.setdefaulttimeout(previous)


def fetch(encoders: list[str], log: Callable[[str], None] = print, progress: bool = True) -> dict[str, Path]:
    """The local path of each named encoder's public weight file (`HUB`), downloaded when missing, sha256 checked.

    Files already in `hub_dir()` are checked and used. Missing ones are downloaded with
    torch.hub (`_download`, checking the file name's hash prefix). When some cannot be downloaded,
    one SSLPropError names each such file, its URL and the folder to put it in.
    """
    folder = hub_dir()
    paths: dict[str, Path] = {}
    failed: list[tuple[HubWeights, str]] = []
    for name in encoders:
        entry = HUB[name]
        path = folder / entry.file_name
        if not path.is_file():
            try:
                _download(entry, path, progress)
            except RuntimeError as e:  # torch.hub's hash-prefix check: the temporary file is already removed
                if "hash" not in str(e):
                    raise
                raise SSLPropError(f"{entry.url}: the downloaded file fails torch.hub's check of its name's hash prefix "
                                   f"({str(e).strip()}); nothing was kept in {folder}") from None
            except (OSError, ValueError) as e:  # URLError, HTTPError, timeouts, a proxy's refusal, a bad URL
                reason = getattr(e, "reason", None) or e
                failed.append((entry, f"{type(e).__name__}: {reason}"))
                continue
            log(f"{name} encoder: downloaded {entry.url} into {folder}")
        check_file(path, entry)
        if expected_sha256(entry)[1] == SHA256_ENV:
            log(f"{name} encoder: {path.name} checked against the sha256 from {SHA256_ENV}, not the project's record")
        paths[name] = path
    if failed:
        files = " and ".join(f"{e.file_name} ({e.url})" for e, _ in failed)
        flags = " / ".join(e.flag for e, _ in failed)
        raise SSLPropError(f"cannot download the paper's pretrained weights ({failed[0][1]}): put {files} into {folder} "
                           f"(or set TORCH_HOME), or pass {flags} FILE, or train from random encoders with --from-scratch")
    return paths
