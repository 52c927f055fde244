"""Tests for sslprop/models/frozen.py."""

import json

import pytest
import torch

from sslprop.config import get_profile
from sslprop.engine.train import load_checkpoint, train
from sslprop.models.encoders import SmallAudio, SmallVisual
from sslprop.models.frozen import (
    EncoderCache,
    FrozenEncoder,
    attach_caches,
    cache_folder,
    freeze_encoders,
    frozen_encoders,
)
from sslprop.models.methods import get_method
from tests.helpers import tiny_set, train_cfg


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_set(tmp_path_factory.mktemp("tiny_frozen"))


def test_a_frozen_encoder_stays_in_eval_mode_and_does_not_train():
    enc = FrozenEncoder(SmallVisual(8))
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    head = torch.nn.Conv2d(32, 1, 1)
    opt = torch.optim.Adam(head.parameters(), lr=0.1)
    enc.train()
    assert not enc.encoder.training and all(not p.requires_grad for p in enc.parameters())
    for _ in range(2):
        loss = head(enc(torch.rand(4, 3, 32, 32))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = enc.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BatchNorm statistics included
    assert enc.out_channels == 32 and enc.stride == 8


def test_freeze_wraps_every_encoder_of_a_model():
    cfg = train_cfg(**{"model.pretrained": False})
    for name in ("ours", "attention", "dsol", "pixelplayer"):
        model = freeze_encoders(get_method(name).build(cfg, None, None, lambda m: None))
        names = sorted(n for n, _ in frozen_encoders(model))
        assert "visual" in names, name
        if name == "dsol":
            assert names == ["audio", "teacher_audio", "visual"]
        trainable = [p for p in model.parameters() if p.requires_grad]
        assert trainable and all(not p.requires_grad for _, e in frozen_encoders(model) for p in e.parameters())


def test_cache_gives_the_encoders_outputs_and_survives_a_restart(tmp_path):
    enc = SmallAudio(4).eval()
    x = torch.randn(5, 1, 96, 64)
    cache = EncoderCache(tmp_path / "c")
    first = cache(x, enc)
    assert torch.equal(first, enc(x)) and (cache.hits, cache.misses) == (0, 5)
    again = cache(torch.cat([x[:2], torch.randn(1, 1, 96, 64)]), enc)
    assert torch.equal(again[:2], first[:2]) and (cache.hits, cache.misses) == (2, 6)
    shard = cache.flush()
    assert shard.is_file() and cache.flush() is None
    reread = EncoderCache(tmp_path / "c")
    assert torch.equal(reread(x, lambda _: pytest.fail("recomputed a cached row")), first)
    (tmp_path / "c" / "shard-broken.pt").write_bytes(b"not a shard")  # damage is ignored, never trusted
    assert len(EncoderCache(tmp_path / "c").entries) == 6


def test_cache_folder_follows_weights_and_frame_size(tmp_path):
    a, b = FrozenEncoder(SmallVisual(8)), FrozenEncoder(SmallVisual(8))
    data_cfg = get_profile("cpu").data
    assert cache_folder(tmp_path, a, data_cfg) != cache_folder(tmp_path, b, data_cfg)  # other random weights
    b.encoder.load_state_dict(a.encoder.state_dict())
    assert cache_folder(tmp_path, a, data_cfg) == cache_folder(tmp_path, b, data_cfg)
    bigger = data_cfg.__class__(**{**data_cfg.__dict__, "frame_size": 128})
    assert cache_folder(tmp_path, a, bigger) != cache_folder(tmp_path, a, data_cfg)
    model = freeze_encoders(torch.nn.ModuleDict({"visual": SmallVisual(8), "audio": SmallAudio(4)}))
    caches = attach_caches(model, tmp_path, data_cfg)
    assert len(caches) == 2 and all(e.cache is not None for _, e in frozen_encoders(model))
    model["visual"].load_state_dict(model["visual"].state_dict())  # new weights loaded: the old outputs must go
    assert model["visual"].cache is None


def test_training_with_the_cache_gives_the_same_run(tiny, tmp_path):
    cfg = train_cfg(**{"model.pretrained": False, "train.freeze_encoders": True})
    h1 = train(cfg, tiny, tmp_path / "a", progress=False, log=lambda m: None)
    shards = sorted((tiny / "encoder-cache").glob("*/shard-*.pt"))
    assert len({s.parent for s in shards}) == 2  # one folder per encoder (visual, audio)
    h2 = train(cfg, tiny, tmp_path / "b", progress=False, log=lambda m: None)  # every output read from the cache
    assert [r["loss"] for r in h1] == [r["loss"] for r in h2]
    w1, w2 = load_checkpoint(tmp_path / "a" / "latest.pth")["model"], load_checkpoint(tmp_path / "b" / "latest.pth")["model"]
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    uncached = train_cfg(**{"model.pretrained": False, "train.freeze_encoders": False})
    assert "visual.encoder.features.0.0.weight" in w1 and "visual.features.0.0.weight" not in w1
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["config"]["train"]["freeze_encoders"] is True
    h3 = train(uncached, tiny, tmp_path / "c", progress=False, log=lambda m: None)
    w3 = load_checkpoint(tmp_path / "c" / "latest.pth")["model"]
    assert any(not torch.equal(w3[k], w1[k.replace("visual.", "visual.encoder.", 1)])
               for k in w3 if k.startswith("visual.features"))  # not frozen: the encoder trained
    assert len(h3) == len(h1)
