"""Tests for sslprop/models/frozen.py."""

import json

import pytest
import torch

from sslprop.config import get_profile
from sslprop.engine.checkpoint import load_checkpoint
from sslprop.engine.train import train
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
    assert {s.parent.name.split("-")[0] for s in shards} == {"visual", "audio", "spp"}  # each encoder's, and the proposals' SPP
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


# ----------------------------------------------------------------------------- the proposal-feature cache


def _boxes(gen, n, size):
    """Boxes with every rounding case roi_pool meets: continuous, on whole pixels, on half cells (x / 8 = k + 0.5)."""
    xy = torch.rand(n, 2, generator=gen) * (size - 6)
    wh = 2 + torch.rand(n, 2, generator=gen) * size
    b = torch.cat([xy, (xy + wh).clamp(max=size)], dim=1)
    b[: n // 3] = b[: n // 3].round()
    b[n // 3 : 2 * n // 3] = (b[n // 3 : 2 * n // 3] / 4).round() * 4  # multiples of 4 px: half cells at stride 8
    return b


def test_spp_cells_are_the_cells_roi_pool_reads():
    from torchvision.ops import roi_pool

    from sslprop.models.frozen import spp_cells

    gen = torch.Generator().manual_seed(1)
    fmap = torch.rand(1, 3, 12, 12, generator=gen)
    boxes = _boxes(gen, 300, 96)
    cells = spp_cells(boxes, 8)
    assert set(cells[:, [0, 2]].flatten().tolist()) <= set(range(13)) and bool((cells[:, 2] >= cells[:, 0]).all())
    # boxes with the same cells pool the same values; boxes rebuilt from the cells pool what the boxes pool
    rebuilt = cells.float() * 8
    for level in (1, 2):
        a = roi_pool(fmap, [boxes], output_size=level, spatial_scale=1 / 8)
        b = roi_pool(fmap, [rebuilt], output_size=level, spatial_scale=1 / 8)
        assert torch.equal(a, b)
    assert spp_cells(torch.tensor([[4.0, 12.0, 20.0, 27.99]]), 8).tolist() == [[1, 2, 3, 3]]  # 0.5 rounds away from 0


def test_cached_rows_equal_pooling_exactly(tmp_path):
    from sslprop.models.encoders import SPP
    from sslprop.models.frozen import ProposalFeatureCache

    gen = torch.Generator().manual_seed(0)
    frames = torch.rand(3, 3, 96, 96, generator=gen)
    fmap = torch.rand(3, 16, 12, 12, generator=gen)
    boxes = [_boxes(gen, n, 96) for n in (500, 37, 0)]
    spp = SPP((1, 2), 8)
    cache = ProposalFeatureCache(tmp_path / "spp")
    bags = cache.bags(frames, fmap, boxes, spp)
    for (rows, index), b, f in zip(bags, boxes, fmap):
        assert index.shape == (len(b),) and rows.shape[1] == spp.out_dim(16)
        assert torch.equal(rows[index], spp(f[None], [b]))  # every proposal's row is its pooled SPP, to the last bit
    assert len(bags[0][0]) < len(boxes[0])  # proposals that read the same cells share one row
    rows, index = ProposalFeatureCache.table(bags)  # one tensor for the batch: proposal p of frame f is rows[index[f, p]]
    assert index.shape == (3, 500) and bool((index[1, 37:] == -1).all()) and bool((index[2] == -1).all())
    assert torch.equal(rows[index[1, :37]], spp(fmap[1:2], [boxes[1]])) and torch.equal(rows[index[0]], spp(fmap[:1], [boxes[0]]))
    assert (cache.hits, cache.misses) == (0, 3)
    shard = cache.flush()
    again = ProposalFeatureCache(tmp_path / "spp")
    assert all(torch.equal(r1, r2) and torch.equal(i1, i2) for (r1, i1), (r2, i2) in zip(bags, again.bags(frames, fmap, boxes, spp)))
    assert (again.hits, again.misses) == (3, 0)
    # another proposal set of the same frame is another entry; a damaged shard is recomputed, never trusted
    other = [b[:-1] for b in boxes[:2]] + [boxes[2]]
    again.bags(frames, fmap, other, spp)
    assert again.misses == 2 and again.hits == 4
    shard.write_bytes(shard.read_bytes()[:100])
    damaged = ProposalFeatureCache(tmp_path / "spp")
    assert damaged.entries == {}
    damaged.bags(frames, fmap, boxes, spp)
    assert damaged.misses == 3


def test_a_model_with_the_feature_cache_computes_the_same_forward():
    from sslprop.models.frozen import ProposalFeatureCache
    from tests.helpers import model_batch, tiny_model

    model = freeze_encoders(tiny_model()).eval()
    frames, audio, props = model_batch(4, 1, [30, 12, 0, 25])
    pair = torch.tensor([[1, 2, 3, 0]])
    with torch.no_grad():
        pooled = model(frames, audio, props, pair_audio=pair)
        model.feature_cache = ProposalFeatureCache()
        filling = model(frames, audio, props, pair_audio=pair)
        reading = model(frames, audio, props, pair_audio=pair)
    assert model.feature_cache.hits == 4
    for out in (filling, reading):
        assert torch.equal(out.f_box, pooled.f_box) and torch.equal(out.d, pooled.d) and torch.equal(out.pair_f_v, pooled.pair_f_v)
