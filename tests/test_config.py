"""Tests for sslprop/config.py: profiles, dotted overrides and the round trip through a dict."""

from __future__ import annotations

import json

import pytest

from sslprop.config import Config, get_profile
from sslprop.errors import SSLPropError


def test_profiles_hold_what_their_comments_say():
    cpu, paper = get_profile("cpu"), get_profile("paper")
    assert (cpu.model.pretrained, cpu.train.freeze_encoders, cpu.train.lam, cpu.train.paired_negatives) == (True, True, 0.1, 4)
    assert (paper.data.frame_size, paper.model.visual, paper.data.audio_features, paper.model.k) == (224, "vgg16", "vggish", 20)
    assert (paper.model.pretrained, paper.train.freeze_encoders, paper.train.lam) == (True, False, 0.5)  # ImageNet / AudioSet, fine-tuned
    with pytest.raises(SSLPropError, match="unknown profile 'gpu' \\(choose from cpu, paper\\)"):
        get_profile("gpu")


def test_replace_takes_dotted_keys_and_refuses_unknown_ones():
    base = get_profile("cpu")
    cfg = base.replace(**{"model.k": 10, "train.epochs": 2})
    assert (cfg.model.k, cfg.train.epochs) == (10, 2)
    assert (base.model.k, get_profile("cpu").model.k) == (20, 20)  # the profile itself is unchanged
    for bad in ("model.kk", "nosection.k", "k"):
        with pytest.raises(SSLPropError, match=f"unknown config key '{bad}'"):
            get_profile("cpu").replace(**{bad: 1})


def test_dict_round_trip_through_json_and_unknown_keys():
    cfg = get_profile("paper").replace(**{"model.spp_levels": (1, 2, 4)})
    back = Config.from_dict(json.loads(json.dumps(cfg.to_dict())))  # tuples come back as lists
    assert back == cfg
    with pytest.raises(SSLPropError, match="config section 'train': unknown keys \\['hardnegatives'\\]"):
        Config.from_dict({"train": {"hardnegatives": 0}})


def test_removed_negatives_option_loads_when_it_was_one():
    # train.negatives: the run folders and the shipped checkpoint were written with "one", the paper's and the only one left
    assert Config.from_dict({"train": {"negatives": "one", "epochs": 3}}).train.epochs == 3
    with pytest.raises(SSLPropError, match="train.negatives was removed"):
        Config.from_dict({"train": {"negatives": "all"}})
