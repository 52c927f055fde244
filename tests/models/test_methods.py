"""Tests for sslprop/models/methods.py."""

import pytest
import torch

from sslprop.errors import SSLPropError
from sslprop.models.baselines import attention, avol, dmc
from sslprop.models.methods import METHODS
from sslprop.models.negatives import StepContext
from tests.helpers import SMALL_NAMES, model_batch, tiny_model


def test_registered_as_map_methods():
    for name, module in zip(SMALL_NAMES, (attention, avol, dmc)):
        assert METHODS[name] is module.METHOD
        assert METHODS[name].name == name and METHODS[name].needs_proposals is False


def test_ours_loss_with_paired_negatives_lowers_with_a_step_and_rejects_a_negative_count():
    from sslprop.models.methods import get_method

    model = tiny_model(seed=5)
    frames, audio, props = model_batch(4, 1, [9, 6, 11, 8], seed=7)
    data = {"frames": frames, "audio": audio, "proposals": props, "video_id": ["a", "b", "c", "d"]}
    cfg = model.cfg.replace(**{"train.paired_negatives": 2})
    ours = get_method("ours")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss, parts = ours.loss(model, data, StepContext(torch.Generator().manual_seed(0)), cfg)
    assert set(parts) == {"loss", "tri", "edu"} and 0.0 < parts["tri"] < 2.0
    opt.zero_grad(); loss.backward(); opt.step()
    after, _ = ours.loss(model, data, StepContext(torch.Generator().manual_seed(0)), cfg)
    assert after.item() < loss.item()
    with pytest.raises(SSLPropError, match="paired_negatives"):
        ours.loss(model, data, StepContext(torch.Generator().manual_seed(0)), model.cfg.replace(**{"train.paired_negatives": -1}))
