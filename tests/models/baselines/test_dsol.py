"""Tests for sslprop/models/baselines/dsol.py."""

import torch

from sslprop.engine.checkpoint import load_checkpoint
from sslprop.engine.train import train
from sslprop.models.baselines import dsol
from sslprop.models.negatives import StepContext, step_generator
from tests.helpers import build_method, map_batch, map_cfg, step_lowers_loss


def test_dsol_schedule():
    assert [dsol.stage_schedule(e, 8) for e in range(8)] == [(1, False), (1, True), (1, True), (1, True)] + [(2, True)] * 4
    assert dsol.stage_schedule(0, 1) == (1, False)
    assert [dsol.stage_schedule(e, 3) for e in range(3)] == [(1, False), (1, True), (2, True)]


def test_dsol_stage_follows_the_context_not_the_generator():
    cfg = map_cfg(**{"train.epochs": 4})
    method, model = build_method("dsol", cfg)
    model.train()
    trainer = StepContext.at(cfg.train.seed, 3, 0)
    by_hand = StepContext(trainer.generator)  # the same stream without the trainer's position
    assert (trainer.epoch, trainer.step) == (3, 0) and by_hand.epoch is None
    assert trainer.generator.initial_seed() == step_generator(cfg.train.seed, 3, 0).initial_seed()
    assert step_generator(0, 3, 17).initial_seed() != step_generator(1, 3, 17).initial_seed()
    method.loss(model, map_batch(), by_hand, cfg)
    assert int(model.stage) == 1  # a call made by hand keeps the stage
    method.loss(model, map_batch(), trainer, cfg)
    assert int(model.stage) == 2  # epoch 3 of 4 is stage two


def test_dsol_dilate_and_kmeans():
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, 1, 1] = True
    assert dsol.dilate(mask)[0].int().tolist() == [[0, 1, 0, 0], [1, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    x = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 3.0], [0.1, 1.0]])
    centres, labels = dsol.kmeans(x, torch.tensor([[1.0, 1.0], [0.0, 1.0]]))
    assert labels.tolist() == [0, 0, 1, 1]
    assert torch.allclose(centres.norm(dim=1), torch.ones(2))


def test_dsol_stage_switch_follows_the_trainers_epochs():
    cfg = map_cfg(**{"train.epochs": 4})
    method, model = build_method("dsol", cfg)
    model.train()
    batch = map_batch()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    seen = []
    for epoch in range(4):
        for step in range(2):
            loss, parts = method.loss(model, batch, StepContext.at(cfg.train.seed, epoch, step), cfg)
            seen.append((epoch, int(parts["stage"]), parts["classify"] > 0, parts["category"] > 0))
            if (epoch, step) == (2, 0):  # the switch just happened: the teacher is the stage-one audio side
                assert all(torch.equal(a, b) for a, b in zip(model.teacher_audio.parameters(), model.audio.parameters()))
                assert torch.equal(model.teacher_class.weight, model.a_class.weight)
                teacher = {k: v.clone() for k, v in model.teacher_audio.state_dict().items()}
                teacher_class = model.teacher_class.weight.clone()
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert seen == [(0, 1, False, False)] * 2 + [(1, 1, True, False)] * 2 + [(2, 2, False, True)] * 2 + [(3, 2, False, True)] * 2
    assert int(model.clustered_epoch) == 1 and int(model.bank_count) == 6 * 4  # stage one filled the bank
    assert all(torch.equal(teacher[k], v) for k, v in model.teacher_audio.state_dict().items())  # frozen since
    assert torch.equal(teacher_class, model.teacher_class.weight)
    assert torch.count_nonzero(model.obj_rep.abs().sum(1)) > 0


def test_dsol_stage_two_step_lowers_the_loss_and_a_foreign_generator_keeps_the_stage():
    cfg = map_cfg()
    method, model = build_method("dsol", cfg)
    model.eval()
    method.loss(model, map_batch(), StepContext(torch.Generator().manual_seed(3)), cfg)  # fills the bank (6 rows)
    method.loss(model, map_batch(), StepContext(torch.Generator().manual_seed(4)), cfg)  # 12 >= 11 clusters
    model.set_stage(2, torch.Generator().manual_seed(0))
    assert int(model.stage) == 2
    before, after = step_lowers_loss(method, model, map_batch(), cfg)
    assert after < before and int(model.stage) == 2


def test_dsol_resumed_run_equals_an_uninterrupted_one(solo, tmp_path):
    cfg = map_cfg(**{"train.epochs": 3})  # stage one location-only, stage one classifying, stage two
    quiet = lambda msg: None
    full = train(cfg, solo, tmp_path / "full", method="dsol", progress=False, log=quiet)
    assert [r["stage"] for r in full] == [1.0, 1.0, 2.0] and full[1]["classify"] > 0 and full[2]["category"] > 0
    train(cfg, solo, tmp_path / "cut", method="dsol", max_steps=3, progress=False, log=quiet)  # stops inside epoch 2
    resumed = train(cfg, solo, tmp_path / "cut", method="dsol", resume=True, progress=False, log=quiet)
    assert resumed[2]["loss"] == full[2]["loss"]  # epoch 2's record averages only the steps after the cut
    a = load_checkpoint(tmp_path / "full" / "latest.pth")["model"]
    b = load_checkpoint(tmp_path / "cut" / "latest.pth")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
