"""Tests for sslprop/models/methods.py."""

import pytest
import torch

from sslprop.errors import SSLPropError
from sslprop.models.baselines import attention, avol, dmc
from sslprop.models.methods import METHODS
from sslprop.models.negatives import StepContext
from tests.helpers import SMALL_NAMES, model_batch, tiny_cfg, tiny_model


def test_registered_as_map_methods():
    for name, module in zip(SMALL_NAMES, (attention, avol, dmc)):
        assert METHODS[name] is module.METHOD
        assert METHODS[name].name == name and METHODS[name].needs_proposals is False


def test_ours_loss_with_paired_negatives_lowers_with_a_step_and_rejects_a_negative_count():
    from sslprop.models.methods import get_method

    model = tiny_model(seed=5)
    frames, audio, props = model_batch(4, 1, [9, 6, 11, 8], seed=7)
    data = {"frames": frames, "audio": audio, "proposals": props, "video_id": ["a", "b", "c", "d"]}
    cfg = tiny_cfg(**{"train.paired_negatives": 2})
    ours = get_method("ours")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss, parts = ours.loss(model, data, StepContext(torch.Generator().manual_seed(0)), cfg)
    assert set(parts) == {"loss", "tri", "edu"} and 0.0 < parts["tri"] < 2.0
    opt.zero_grad()
    loss.backward()
    opt.step()
    after, _ = ours.loss(model, data, StepContext(torch.Generator().manual_seed(0)), cfg)
    assert after.item() < loss.item()
    with pytest.raises(SSLPropError, match="paired_negatives"):
        ours.loss(model, data, StepContext(torch.Generator().manual_seed(0)), cfg.replace(**{"train.paired_negatives": -1}))


def test_table3_without_selection_two_ways():
    # the paper's row (no selection, L_tri alone: train.lam = 0, what `train --no-selection` sets) and ours (no selection,
    # the loss kept): they differ in L_edu only, so the second row differs from Ours in the selection alone
    import argparse

    from sslprop.engine import train as T
    from sslprop.models.methods import get_method

    frames, audio, props = model_batch(4, 1, [9, 6, 11, 8], seed=7)
    data = {"frames": frames, "audio": audio, "proposals": props, "video_id": ["a", "b", "c", "d"]}
    ours, ctx = get_method("ours"), lambda: StepContext(torch.Generator().manual_seed(0))
    kept = tiny_model(seed=5, **{"model.select_proposals": False, "train.lam": 0.5})
    paper = tiny_model(seed=5, **{"model.select_proposals": False, "train.lam": 0.0})
    loss_kept, parts_kept = ours.loss(kept, data, ctx(), tiny_cfg(**{"model.select_proposals": False, "train.lam": 0.5}))
    loss_paper, parts_paper = ours.loss(paper, data, ctx(), tiny_cfg(**{"model.select_proposals": False, "train.lam": 0.0}))
    assert parts_kept["tri"] == pytest.approx(parts_paper["tri"]) and parts_paper["edu"] == 0.0 < parts_kept["edu"]
    assert loss_kept.item() == pytest.approx(parts_kept["tri"] + 0.5 * parts_kept["edu"], rel=1e-5)
    parser = argparse.ArgumentParser()
    T.add_arguments(parser)
    cfg = T.config_from_args(parser.parse_args(["--data", "d", "--out", "o", "--no-selection"]))
    assert (cfg.model.select_proposals, cfg.train.lam) == (False, 0.0)
