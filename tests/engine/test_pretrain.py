"""Tests for sslprop/engine/pretrain.py."""

import json

import pytest
import torch

from sslprop import cli
from sslprop.config import get_profile
from sslprop.data.synth import assets
from sslprop.engine import pretrain
from sslprop.models import weights
from sslprop.models.encoders import (
    SmallAudio,
    SmallVisual,
)


def test_corpus_is_a_function_of_seed_and_split(bank):
    classes = assets.class_subset(bank.classes, "even")
    x, y = pretrain.corpus("visual", bank, classes, 0, "train", 6)
    x2, _ = pretrain.corpus("visual", bank, classes, 0, "train", 6)
    assert x.shape == (6, 3, pretrain.CROP, pretrain.CROP) and x.dtype == torch.uint8 and torch.equal(x, x2)
    assert y.tolist() == [0, 1, 2, 3, 4, 5]  # balanced: example i is class i mod len(classes)
    assert not torch.equal(pretrain.corpus("visual", bank, classes, 1, "train", 6)[0], x)
    assert not torch.equal(pretrain.corpus("visual", bank, classes, 0, "heldout", 6)[0], x)  # new draws
    a, ya = pretrain.corpus("audio", bank, classes, 0, "train", 3)
    assert a.shape == (3, 1, 96, 64) and torch.isfinite(a).all() and ya.tolist() == [0, 1, 2]


def test_pretraining_is_deterministic_and_its_card_holds_the_sha(tmp_path):
    recipe = pretrain.Recipe(train_size=24, heldout_size=8, steps=3, batch_size=8, lr=2e-3)
    cards = [pretrain.pretrain("audio", tmp_path / f"a{i}.pt", seed=3, recipe=recipe, progress=False, log=lambda m: None)
             for i in (1, 2)]
    assert (tmp_path / "a1.pt").read_bytes() == (tmp_path / "a2.pt").read_bytes()
    card = json.loads((tmp_path / "a1.json").read_text())
    assert card["sha256"] == weights.sha256_file(tmp_path / "a1.pt") == cards[1]["sha256"]
    assert card["seed"] == 3 and card["kind"] == "audio" and 0 <= card["heldout_accuracy"] <= 1
    assert "GPL-2.0-or-later" in card["licence"] and card["chance"] == round(1 / 72, 4)
    state = torch.load(tmp_path / "a1.pt", weights_only=True)
    SmallAudio(get_profile("cpu").model.audio_width).load_state_dict(state)  # the encoder alone, its own layout
    other = pretrain.pretrain("audio", tmp_path / "b.pt", seed=4, recipe=recipe, progress=False, log=lambda m: None)
    assert other["sha256"] != card["sha256"]


@pytest.mark.slow
def test_a_short_visual_pretraining_learns(tmp_path):
    """Few steps on a few classes: held-out accuracy well above chance (the shipped run reaches 0.97 on 72)."""
    recipe = pretrain.Recipe(train_size=720, heldout_size=144, steps=150, batch_size=32, lr=3e-3)
    card = pretrain.pretrain("visual", tmp_path / "v.pt", seed=0, subset="even", recipe=recipe, progress=False,
                       log=lambda m: None)
    assert card["heldout_accuracy"] > 5 * card["chance"]
    SmallVisual(get_profile("cpu").model.visual_width).load_state_dict(torch.load(tmp_path / "v.pt", weights_only=True))


def test_cli_refuses_bad_values_in_one_line(tmp_path, capsys):
    assert cli.main(["pretrain", "visual", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is a folder" in err and "Traceback" not in err
    # a count is refused by the parser, as every count option is (its usage, then the error)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["pretrain", "audio", "--out", "x.pt", "--steps", "0"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "argument --steps: expected a positive integer, got 0" in err and "Traceback" not in err
