"""Tests for sslprop/models/hub.py: the paper profile's public weights through torch.hub's cache, never the network.

Downloads run from `file://` URLs, "offline" is torch.hub's urlopen raising the error a machine without
a network raises, and the cached files are random weights in the real layouts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import urllib.error
from pathlib import Path

import pytest
import torch
import torch.hub

from sslprop import cli
from sslprop.config import get_profile
from sslprop.errors import SSLPropError
from sslprop.models import hub
from sslprop.models.encoders import IMAGENET_MEAN, IMAGENET_STD, VGG16Backbone, VGGish, build_encoders, resolve_weights


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    """Random weights in the two public layouts: torchvision vgg16 (its `features.*`, what the backbone loads) and
    the torchvggish port; {encoder: (path, sha256, state dict)}."""
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(7)
    out = {}
    for name, model in (("vgg16", VGG16Backbone()), ("vggish", VGGish())):
        sd = model.state_dict()
        path = folder / f"{name}-random.pth"
        torch.save(sd, path)
        out[name] = (path, _sha256(path), sd)
    return out


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty TORCH_HOME; returns its hub cache folder (not created)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv(hub.SHA256_ENV, raising=False)
    hub._VERIFIED.clear()
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def _offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(torch.hub, "urlopen", refuse)  # torch.hub.download_url_to_file's only way out


def test_the_records_follow_torchvision_and_the_hub_file_name_convention():
    from torchvision.models import VGG16_Weights

    weights = VGG16_Weights.IMAGENET1K_V1
    assert hub.HUB["vgg16"].url == weights.url == "https://download.pytorch.org/models/vgg16-397923af.pth"
    assert hub.HUB["vggish"].url == "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"
    for entry in hub.HUB.values():  # torch.hub names a file by the first hex digits of its sha256 (check_hash checks them)
        prefix = torch.hub.HASH_REGEX.search(entry.file_name).group(1)
        assert len(prefix) == 8 and entry.sha256.startswith(prefix) and len(entry.sha256) == 64
        assert entry.source and "not downloaded here" in entry.source
    assert (hub.HUB["vgg16"].file_name, hub.HUB["vggish"].file_name) == ("vgg16-397923af.pth", "vggish-10086976.pth")
    preset = weights.transforms()  # the backbone normalises as the ImageNet weights expect
    assert tuple(preset.mean) == IMAGENET_MEAN and tuple(preset.std) == IMAGENET_STD


def test_hub_dir_is_torch_hubs_cache(torch_home):
    assert hub.hub_dir() == torch_home == Path(torch.hub.get_dir()) / "checkpoints"


def test_download_from_a_file_url_end_to_end(weight_files, torch_home, monkeypatch):
    """The paper profile's encoders, downloaded by torch.hub from file:// URLs into TORCH_HOME, checked, loaded."""
    for name, (path, digest, _) in weight_files.items():
        named = path.parent / f"{name}-{digest[:8]}.pth"  # torch.hub's name: its hash prefix is checked on download
        if not named.exists():
            os.link(path, named)
        monkeypatch.setitem(hub.HUB, name, dataclasses.replace(hub.HUB[name], url=named.as_uri(), sha256=digest))
    lines: list[str] = []
    vis, aud = build_encoders(get_profile("paper").model, log=lines.append)
    for model, name in ((vis, "vgg16"), (aud, "vggish")):
        sd = weight_files[name][2]
        assert all(torch.equal(model.state_dict()[k], v) for k, v in sd.items())
        cached = torch_home / hub.HUB[name].file_name
        assert cached.is_file() and _sha256(cached) == weight_files[name][1]
    assert lines[0] == f"vgg16 encoder: downloaded {hub.HUB['vgg16'].url} into {torch_home}"
    assert lines[1].startswith("vggish encoder: downloaded ")
    assert lines[2] == f"visual encoder vgg16: loaded weights from {torch_home / hub.HUB['vgg16'].file_name}"
    lines.clear()
    _offline(monkeypatch)  # the second time they come from the cache: no network needed
    assert resolve_weights(get_profile("paper").model, log=lines.append) == tuple(
        str(torch_home / hub.HUB[n].file_name) for n in ("vgg16", "vggish"))
    assert lines == []


def test_a_download_whose_name_prefix_does_not_match_is_refused_and_not_kept(weight_files, torch_home, monkeypatch):
    path, digest, _ = weight_files["vgg16"]
    wrong = path.parent / "vgg16-397923af.pth"  # the real name, but these bytes do not hash to 397923af...
    if not wrong.exists():
        os.link(path, wrong)
    monkeypatch.setitem(hub.HUB, "vgg16", dataclasses.replace(hub.HUB["vgg16"], url=wrong.as_uri(), sha256=digest))
    with pytest.raises(SSLPropError, match=r"fails torch\.hub's check of its name's hash prefix .*397923af"):
        hub.fetch(["vgg16"], log=lambda m: None)
    assert not torch_home.exists() or not any(torch_home.iterdir())  # nothing half-checked stays in the cache


def test_a_cached_file_that_is_not_the_recorded_one_is_refused(weight_files, torch_home):
    torch_home.mkdir(parents=True)
    os.link(weight_files["vgg16"][0], torch_home / "vgg16-397923af.pth")  # random weights under the real name
    with pytest.raises(SSLPropError) as e:
        resolve_weights(get_profile("paper").model, log=lambda m: None)
    msg = str(e.value)
    assert msg.startswith(f"{torch_home / 'vgg16-397923af.pth'}: sha256 {weight_files['vgg16'][1][:16]}... is not "
                          f"397923af8e79cdbb... (the project's record)")
    assert "\n" not in msg and "--visual-weights" in msg


def test_the_recorded_sha256_is_replaced_only_through_the_environment(weight_files, torch_home, monkeypatch):
    torch_home.mkdir(parents=True)
    for name in ("vgg16", "vggish"):
        os.link(weight_files[name][0], torch_home / hub.HUB[name].file_name)
    monkeypatch.setenv(hub.SHA256_ENV, f"vgg16={weight_files['vgg16'][1]},vggish={'0' * 64}")
    with pytest.raises(SSLPropError, match=rf"vggish-10086976\.pth: sha256 .* is not 0000000000000000\.\.\. \({hub.SHA256_ENV}\)"):
        resolve_weights(get_profile("paper").model, log=lambda m: None)
    monkeypatch.setenv(hub.SHA256_ENV, f"vgg16={weight_files['vgg16'][1]},vggish={weight_files['vggish'][1]}")
    lines: list[str] = []
    vis, _ = build_encoders(get_profile("paper").model, log=lines.append)
    assert lines[0] == f"vgg16 encoder: vgg16-397923af.pth checked against the sha256 from {hub.SHA256_ENV}, not the project's record"
    assert torch.equal(vis.features[0].weight, weight_files["vgg16"][2]["features.0.weight"])
    monkeypatch.setenv(hub.SHA256_ENV, "vgg16=abc")
    with pytest.raises(SSLPropError, match="expected ENCODER=SHA256 pairs"):
        resolve_weights(get_profile("paper").model, log=lambda m: None)


def test_offline_one_line_names_each_file_its_url_and_the_folder(torch_home, monkeypatch):
    _offline(monkeypatch)
    with pytest.raises(SSLPropError) as e:
        resolve_weights(get_profile("paper").model, log=lambda m: None)
    assert str(e.value) == (
        "cannot download the paper's pretrained weights (URLError: [Errno -2] Name or service not known): "
        "put vgg16-397923af.pth (https://download.pytorch.org/models/vgg16-397923af.pth) and vggish-10086976.pth "
        "(https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth) "
        f"into {torch_home} (or set TORCH_HOME), or pass --visual-weights / --audio-weights FILE, "
        "or train from random encoders with --from-scratch")
    with pytest.raises(SSLPropError, match=r"put vggish-10086976\.pth \(https://github\.com/.*\) into .* pass --audio-weights FILE"):
        resolve_weights(get_profile("paper").model, visual_weights="given.pth", log=lambda m: None)  # only what is missing


def test_train_paper_offline_is_one_line_and_from_scratch_is_explicit(tiny, tmp_path, torch_home, monkeypatch, capsys):
    _offline(monkeypatch)
    code = cli.main(["train", "--profile", "paper", "--data", str(tiny), "--out", str(tmp_path / "run"), "--epochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: cannot download the paper's pretrained weights")
    assert not (tmp_path / "run").exists()  # nothing was read or written before the weights were known
    # random encoders only when asked: --from-scratch
    lines: list[str] = []
    from sslprop.engine.train import config_from_args

    args = cli.build_parser("train").parse_args(["train", "--profile", "paper", "--data", "d", "--out", "o", "--from-scratch"])
    cfg = config_from_args(args)
    assert cfg.model.pretrained is False
    assert resolve_weights(cfg.model, log=lines.append) == (None, None) and lines == []


def test_local_files_keep_working_without_the_cache(weight_files, torch_home, monkeypatch):
    _offline(monkeypatch)
    lines: list[str] = []
    vis, aud = build_encoders(get_profile("paper").model, visual_weights=weight_files["vgg16"][0],
                              audio_weights=weight_files["vggish"][0], log=lines.append)
    assert lines == [f"visual encoder vgg16: loaded weights from {weight_files['vgg16'][0]}",
                     f"audio encoder vggish: loaded weights from {weight_files['vggish'][0]}"]
    assert torch.equal(aud.embeddings[4].weight, weight_files["vggish"][2]["embeddings.4.weight"])
    assert isinstance(vis, VGG16Backbone)
