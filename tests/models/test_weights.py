"""Tests for sslprop/models/weights.py."""

import pytest
import torch

from sslprop.config import get_profile
from sslprop.engine import pretrain
from sslprop.errors import SSLPropError
from sslprop.models import weights
from sslprop.models.encoders import (
    build_encoders,
    resolve_weights,
)


@pytest.mark.parametrize("kind", pretrain.KINDS)
def test_shipped_weights_match_their_cards_and_load(kind):
    card = weights.check_shipped(kind)
    assert card["kind"] == kind and card["heldout_accuracy"] > 0.9 and len(card["classes"]) == 72
    assert card["subset"] == "all" and card["command"].startswith(f"python -m sslprop pretrain {kind}")


def test_the_cpu_profile_loads_the_shipped_encoders():
    cfg = get_profile("cpu").model
    lines = []
    vis, aud = build_encoders(cfg, log=lines.append)
    shipped = torch.load(weights.shipped_weights("visual"), weights_only=True)
    assert all(torch.equal(vis.state_dict()[k], v) for k, v in shipped.items())
    assert any("loaded weights from" in line and "small_visual.pt" in line for line in lines)
    assert resolve_weights(cfg.__class__(**{**cfg.__dict__, "pretrained": False})) == (None, None)
    with pytest.raises(SSLPropError, match="width 32"):
        resolve_weights(cfg.__class__(**{**cfg.__dict__, "visual_width": 8}))
