"""Supervised pretraining of the small encoders: corpus, determinism, cards, the shipped weights."""

import json
import subprocess
import sys

import pytest
import torch

from sslprop import pretrain as pt
from sslprop.config import get_profile
from sslprop.data import synth
from sslprop.encoders import SmallAudio, SmallVisual, build_encoders, resolve_weights
from sslprop.errors import SSLPropError


@pytest.fixture(scope="module")
def bank():
    return synth.load_bank()


def test_class_subsets_split_the_classes(bank):
    every = pt.class_subset(bank.classes, "all")
    even, odd = pt.class_subset(bank.classes, "even"), pt.class_subset(bank.classes, "odd")
    assert len(every) == len(bank.classes) and not set(even) & set(odd) and set(even) | set(odd) == set(every)
    with pytest.raises(SSLPropError, match="--classes"):
        pt.class_subset(bank.classes, "half")


def test_corpus_is_a_function_of_seed_and_split(bank):
    classes = pt.class_subset(bank.classes, "even")
    x, y = pt.corpus("visual", bank, classes, 0, "train", 6)
    x2, _ = pt.corpus("visual", bank, classes, 0, "train", 6)
    assert x.shape == (6, 3, pt.CROP, pt.CROP) and x.dtype == torch.uint8 and torch.equal(x, x2)
    assert y.tolist() == [0, 1, 2, 3, 4, 5]  # balanced: example i is class i mod len(classes)
    assert not torch.equal(pt.corpus("visual", bank, classes, 1, "train", 6)[0], x)
    assert not torch.equal(pt.corpus("visual", bank, classes, 0, "heldout", 6)[0], x)  # new draws
    a, ya = pt.corpus("audio", bank, classes, 0, "train", 3)
    assert a.shape == (3, 1, 96, 64) and torch.isfinite(a).all() and ya.tolist() == [0, 1, 2]


def test_pretraining_is_deterministic_and_its_card_holds_the_sha(tmp_path):
    recipe = pt.Recipe(train_size=24, heldout_size=8, steps=3, batch_size=8, lr=2e-3)
    cards = [pt.pretrain("audio", tmp_path / f"a{i}.pt", seed=3, recipe=recipe, progress=False, log=lambda m: None)
             for i in (1, 2)]
    assert (tmp_path / "a1.pt").read_bytes() == (tmp_path / "a2.pt").read_bytes()
    card = json.loads((tmp_path / "a1.json").read_text())
    assert card["sha256"] == pt.sha256_file(tmp_path / "a1.pt") == cards[1]["sha256"]
    assert card["seed"] == 3 and card["kind"] == "audio" and 0 <= card["heldout_accuracy"] <= 1
    assert "GPL-2.0-or-later" in card["licence"] and card["chance"] == round(1 / 72, 4)
    state = torch.load(tmp_path / "a1.pt", weights_only=True)
    SmallAudio(get_profile("cpu").model.audio_width).load_state_dict(state)  # the encoder alone, its own layout
    other = pt.pretrain("audio", tmp_path / "b.pt", seed=4, recipe=recipe, progress=False, log=lambda m: None)
    assert other["sha256"] != card["sha256"]


def test_a_short_visual_pretraining_learns(tmp_path):
    """Few steps on a few classes: held-out accuracy well above chance (the shipped run reaches 0.97 on 72)."""
    recipe = pt.Recipe(train_size=720, heldout_size=144, steps=150, batch_size=32, lr=3e-3)
    card = pt.pretrain("visual", tmp_path / "v.pt", seed=0, subset="even", recipe=recipe, progress=False,
                       log=lambda m: None)
    assert card["heldout_accuracy"] > 5 * card["chance"]
    SmallVisual(get_profile("cpu").model.visual_width).load_state_dict(torch.load(tmp_path / "v.pt", weights_only=True))


@pytest.mark.parametrize("kind", pt.KINDS)
def test_shipped_weights_match_their_cards_and_load(kind):
    card = pt.check_shipped(kind)
    assert card["kind"] == kind and card["heldout_accuracy"] > 0.9 and len(card["classes"]) == 72
    assert card["subset"] == "all" and card["command"].startswith(f"python -m sslprop pretrain {kind}")


def test_the_cpu_profile_loads_the_shipped_encoders():
    cfg = get_profile("cpu").model
    lines = []
    vis, aud = build_encoders(cfg, log=lines.append)
    shipped = torch.load(pt.shipped_weights("visual"), weights_only=True)
    assert all(torch.equal(vis.state_dict()[k], v) for k, v in shipped.items())
    assert any("loaded weights from" in line and "small_visual.pt" in line for line in lines)
    assert resolve_weights(cfg.__class__(**{**cfg.__dict__, "pretrained": False})) == (None, None)
    with pytest.raises(SSLPropError, match="width 32"):
        resolve_weights(cfg.__class__(**{**cfg.__dict__, "visual_width": 8}))
    with pytest.raises(SSLPropError, match="no weights ship"):
        resolve_weights(get_profile("paper").model.__class__(**{**get_profile("paper").model.__dict__, "pretrained": True}))


def test_cli_refuses_bad_values_in_one_line(tmp_path):
    for args, text in ((["visual", "--out", str(tmp_path)], "is a folder"), (["audio", "--out", "x.pt", "--steps", "0"], "--steps 0")):
        r = subprocess.run([sys.executable, "-m", "sslprop", "pretrain", *args], capture_output=True, text=True)
        assert r.returncode == 2 and r.stderr.startswith("error: ") and text in r.stderr and "Traceback" not in r.stderr
