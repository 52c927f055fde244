"""Fault injection: interruptions, repetitions and bad input replayed, so that what issue #15 fixed stays fixed."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from sslprop.data.format import read_manifest
from sslprop.engine.checkpoint import load_checkpoint
from sslprop.engine.train import train
from sslprop.errors import SSLPropError
from sslprop.models.methods import Ours
from tests.helpers import tiny_set, train_cfg


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_set(tmp_path_factory.mktemp("tiny_faults"), n=14)  # 8 training clips: 2 steps of 4 per epoch


def _interrupt_at(monkeypatch, call: int, sig: int) -> None:
    """Send `sig` to this process inside the `call`-th loss computation: after the forward (BatchNorm statistics
    already updated), before the optimiser step, the worst moment for a checkpoint."""
    original = Ours.loss
    calls = {"n": 0}

    def loss(self, model, batch, ctx, cfg):
        out = original(self, model, batch, ctx, cfg)
        calls["n"] += 1
        if calls["n"] == call:
            os.kill(os.getpid(), sig)
        return out

    monkeypatch.setattr(Ours, "loss", loss)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_step_then_resume_gives_the_uninterrupted_tensors(tiny, tmp_path, monkeypatch, sig):
    cfg = train_cfg(**{"train.epochs": 2, "model.use_lstm": True})
    full = train(cfg, tiny, tmp_path / "full", progress=False, log=lambda m: None)
    _interrupt_at(monkeypatch, 3, sig)  # the first step of epoch 2
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tiny, tmp_path / "cut", progress=False, log=lambda m: None)
    state = load_checkpoint(tmp_path / "cut" / "latest.pth")
    assert (state["epoch"], state["step"], state["finished"]) == (1, 1, False)  # the signalled step was finished
    monkeypatch.undo()
    resumed = train(cfg, tiny, tmp_path / "cut", resume=True, progress=False, log=lambda m: None)
    a, b = load_checkpoint(tmp_path / "full" / "latest.pth")["model"], load_checkpoint(tmp_path / "cut" / "latest.pth")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # num_batches_tracked too
    assert [(r["steps"], r["loss"]) for r in resumed] == [(r["steps"], r["loss"]) for r in full]


def test_resume_refuses_another_data_set(tiny, tmp_path):
    cfg = train_cfg(**{"train.epochs": 2})
    train(cfg, tiny, tmp_path / "run", max_steps=1, progress=False, log=lambda m: None)
    other = tiny_set(tmp_path / "other", n=12)
    before = (tmp_path / "run" / "config.json").read_bytes()
    with pytest.raises(SSLPropError, match="--resume with another data set"):
        train(cfg, other, tmp_path / "run", resume=True, progress=False, log=lambda m: None)
    with pytest.raises(SSLPropError, match="another data set \\(or --max-samples\\)"):
        train(cfg, tiny, tmp_path / "run", resume=True, max_samples=4, progress=False, log=lambda m: None)
    assert (tmp_path / "run" / "config.json").read_bytes() == before  # the run's record is untouched


def test_duplicate_sample_ids_are_refused_naming_both_rows(tiny, tmp_path):
    rows = (tiny / "manifest.jsonl").read_text().splitlines()
    (tmp_path / "manifest.jsonl").write_text("\n".join(rows + [rows[2]]) + "\n")
    with pytest.raises(SSLPropError, match=r"manifest.jsonl:15: sample id 's2' again \(first on line 3\)"):
        read_manifest(tmp_path)
    assert json.loads(rows[2])["id"] == "s2"


def test_broken_proposal_entries_are_named_then_recomputed(tmp_path):
    import numpy as np

    from sslprop.data.dataset import SSLDataset
    from sslprop.data.proposal_cache import ProposalCache
    from sslprop.data.proposals import extract_dataset

    data = tiny_set(tmp_path / "d", n=8)
    cache = ProposalCache(data)
    good = cache.get("frames/1.png")
    cache.path("frames/0.png").write_bytes(b"")  # a 0-byte entry (a disk that filled up)
    np.save(cache.path("frames/1.png"), np.full((3, 4), np.nan, np.float32))  # NaN boxes
    assert cache.problem("frames/0.png") == "empty file" and cache.problem("frames/1.png") == "non-finite values"
    ds = SSLDataset(data, "train", train_cfg().data)
    with pytest.raises(SSLPropError, match=r"0.png.npy: broken proposal file \(empty file\); run `python -m sslprop proposals .*` to recompute it"):
        ds[0]
    stats = extract_dataset(data, workers=1, progress=False)
    assert stats.repaired == {"frames/0.png": "empty file", "frames/1.png": "non-finite values"} and stats.done == 2
    assert "2 broken cache entries recomputed" in stats.summary()
    assert np.array_equal(cache.get("frames/1.png"), good) and cache.problem("frames/0.png") is None
    again = extract_dataset(data, workers=1, progress=False)
    assert again.done == 0 and again.repaired == {} and "nothing to do" in again.summary()


def _state(pid: int) -> str | None:
    """The process's state letter from /proc (R, S, Z, ...), or None when it is gone."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _workers(pid: int) -> list[int]:
    """Live pool workers (spawned interpreters) whose parent is `pid` (Linux /proc)."""
    from pathlib import Path

    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_text().replace("\0", " ")
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and "spawn_main" in cmdline:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table from /proc (Linux)")
def test_proposal_workers_do_not_outlive_a_killed_parent(tmp_path):
    import subprocess
    import sys
    import time

    data = tiny_set(tmp_path / "many", n=240, size=96, proposals=False)
    proc = subprocess.Popen([sys.executable, "-m", "sslprop", "proposals", str(data), "--workers", "2", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, workers = time.time() + 60, []
    while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
        time.sleep(0.2)
        workers = _workers(proc.pid)
    assert len(workers) == 2, "the pool did not start"
    proc.kill()
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_state(w) not in (None, "Z") for w in workers):
        time.sleep(0.2)
    assert [w for w in workers if _state(w) not in (None, "Z")] == [], "pool workers outlived their killed parent"


def test_predict_on_a_set_without_a_test_split_predicts_all_of_it(tiny, tmp_path):
    import shutil

    from sslprop.data.format import write_manifest
    from sslprop.engine.predict import predict

    run = tmp_path / "run"
    train(train_cfg(**{"train.epochs": 1}), tiny, run, progress=False, log=lambda m: None)
    mine = tmp_path / "mine"
    shutil.copytree(tiny, mine)
    samples = [s for s in read_manifest(mine)]
    for s in samples:
        s.split = "train"
    write_manifest(mine, samples, {"name": "unsplit"})
    said = []
    info = predict(run, mine, tmp_path / "pred", progress=False, log=said.append)
    assert info["split"] == "all" and info["frames"] == len(samples)
    assert any("no test split; predicting all 14 samples" in m for m in said)


def test_bad_values_and_paths_end_in_one_line(tiny, tmp_path, capsys):
    from sslprop import cli

    base = ["train", "--data", str(tiny), "--out", str(tmp_path / "r"), "--epochs", "1", "--from-scratch"]
    for extra, message in ((["--device", "bogus"], "--device bogus: not a device"),
                           (["--lr", "nan"], "config train.lr = nan: must be a finite number > 0"),
                           (["--lr", "-1"], "config train.lr = -1.0: must be a finite number > 0"),
                           (["--set", "train.lr=abc"], "config train.lr = 'abc': expected float"),
                           (["--set", "model.scorer=max"], "config model.scorer = 'max': choose from sum, mean, soft_iou")):
        assert cli.main(base + extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    (tmp_path / "a_file").write_text("x")
    assert cli.main(["eval", "--method", "center", "--annotations", str(tiny), "--protocol", "lvs",
                     "--output", str(tmp_path)]) == 2  # a folder where a file is wanted
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    folder = tmp_path / "preds"
    folder.mkdir()
    (folder / "s8.npy").write_bytes(b"")
    assert cli.main(["eval", "--predictions", str(folder), "--annotations", str(tiny), "--protocol", "lvs"]) == 2
    assert "s8.npy: not a plain .npy array (EOFError" in capsys.readouterr().err


def test_an_output_path_that_is_a_file_is_one_line(tiny, tmp_path, capsys):
    from sslprop import cli

    (tmp_path / "a_file").write_text("x")
    run = tmp_path / "run"
    train(train_cfg(**{"train.epochs": 1}), tiny, run, progress=False, log=lambda m: None)
    for argv in (["predict", "--run", str(run), "--data", str(tiny), "--out", str(tmp_path / "a_file"), "--no-progress"],
                 ["synth", "--preset", "solo", "--n", "4", "--seed", "0", "--out", str(tmp_path / "a_file" / "sub")],
                 ["import", "folder", str(tiny / "frames"), "--out", str(tmp_path / "a_file")]):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "a_file" in err, err


def test_boxes_outside_the_frame_are_clipped_and_counted(tmp_path):
    from sslprop.data.format import Frame, Sample, write_manifest
    from sslprop.evaluation.annotated import clip_to_frame
    from sslprop.evaluation.evaluate import evaluate

    assert clip_to_frame([-10, 5, 30, 60], 40, 50) == [0.0, 5.0, 30.0, 50.0]
    assert clip_to_frame([45, 0, 60, 10], 40, 50) is None
    frames = {"in": [[[10, 10, 30, 30]]], "part": [[[-20, 10, 30, 30]]], "out": [[[50, 60, 70, 80]]]}
    samples = [Sample(k, k, "test", "a.wav", [Frame(f"{k}.png", 0.5, 40, 40, boxes)]) for k, boxes in frames.items()]
    write_manifest(tmp_path, samples, {"name": "edges"})
    preds = {"in": [[10, 10, 30, 30, 1.0]], "part": [[0, 10, 30, 30, 1.0]], "out": [[0, 0, 40, 40, 1.0]]}
    (tmp_path / "p.json").write_text(json.dumps(preds))
    r = evaluate(tmp_path, "lvs", tmp_path / "p.json")
    assert r["problems"]["box_partly_outside_frame"]["count"] == 1 and r["problems"]["box_outside_frame"]["count"] == 1
    assert r["excluded"]["no_boxes"] == 1 and r["n"] == 2  # "out" has no box left in its frame
    assert r["ciou@0.5"] == 1.0  # the clipped box is what the prediction on "part" matches
    (tmp_path / "q.json").write_text(json.dumps({"in": [[50, 50, 60, 60, 1.0]], "part": [[0, 10, 30, 30, 1.0]]}))
    r = evaluate(tmp_path, "lvs", tmp_path / "q.json")
    assert r["predictions_outside_frame"] == 1 and r["predictions_outside_examples"] == ["in"] and r["ciou@0.5"] == 0.5


def test_silent_audio_is_left_out_and_listed_and_checked_once(tmp_path):
    import numpy as np

    from sslprop.data.audio import write_wav
    from sslprop.data.dataset import AUDIO_CHECK, SSLDataset
    from sslprop.engine.predict import predict

    data = tiny_set(tmp_path / "d", n=14)
    write_wav(data / "audio/3.wav", np.zeros(16000))  # a training sample
    write_wav(data / "audio/12.wav", np.zeros(16000))  # a test sample
    ds = SSLDataset(data, "train", train_cfg().data)
    assert ds.skipped == {"s3": "silent audio"} and "s3" not in [s.id for s in ds.samples] and len(ds) == 7
    check = json.loads((data / AUDIO_CHECK).read_text())
    assert check["audio/3.wav"][2] == 0.0 and check["audio/4.wav"][2] > 0.1
    said = []
    train(train_cfg(**{"train.epochs": 1}), data, tmp_path / "run", progress=False, log=said.append)
    assert any("1 training samples left out for silent audio, e.g. s3" in m for m in said)
    info = predict(tmp_path / "run", data, tmp_path / "pred", progress=False, log=lambda m: None)
    assert info["skipped"] == {"s12": "silent audio"} and info["frames"] == 5
    write_wav(data / "audio/3.wav", 0.3 * np.sin(np.arange(16000) / 3.0))  # the file changes: it is read again
    assert SSLDataset(data, "train", train_cfg().data).skipped == {}


# ----------------------------------------------------------------------------------- issue #27


def _full_disk(monkeypatch, where: str, nth: int = 1) -> dict[str, int]:
    """Replay a full disk: the `nth` atomic write of a file whose name contains `where` fails in its fsync with
    ENOSPC and no file name, as the kernel reports it (Linux: the file is found through /proc/self/fd)."""
    import errno

    real, seen = os.fsync, {"n": 0}

    def fsync(fd):
        if where in os.readlink(f"/proc/self/fd/{fd}"):
            seen["n"] += 1
            if seen["n"] == nth:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


TRAIN = ["--epochs", "2", "--batch-size", "4", "--no-progress"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds the file of a descriptor in /proc (Linux)")
def test_a_full_disk_in_train_is_one_line_and_the_log_never_runs_ahead_of_the_checkpoint(tiny, tmp_path, monkeypatch, capsys):
    from sslprop import cli
    from sslprop.engine.train import RESUME

    full = tmp_path / "full"
    assert cli.main(["train", "--data", str(tiny), "--out", str(full), *TRAIN]) == 0
    capsys.readouterr()
    run = tmp_path / "run"
    _full_disk(monkeypatch, ".latest.pth.", nth=2)  # the checkpoint at the end of epoch 2
    assert cli.main(["train", "--data", str(tiny), "--out", str(run), *TRAIN]) == 2
    assert _one_line(capsys) == f"error: {run}: no space left on device (free some space; {RESUME})"
    monkeypatch.undo()
    state = load_checkpoint(run / "latest.pth")
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert state["epoch"] == 1 and len(state["history"]) == len(lines) == 1  # the log has no epoch the checkpoint lacks
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert cli.main(["train", "--data", str(tiny), "--out", str(run), *TRAIN, "--resume"]) == 0
    a, b = load_checkpoint(full / "latest.pth")["model"], load_checkpoint(run / "latest.pth")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda text: [{k: v for k, v in json.loads(x).items() if k not in ("seconds", "clips_per_s")} for x in text.splitlines()]
    assert strip((run / "metrics.jsonl").read_text()) == strip((full / "metrics.jsonl").read_text())
    # the disk fills up after the checkpoint, on the log: --resume finds the run finished and writes the log it lacks
    other = tmp_path / "other"
    _full_disk(monkeypatch, ".metrics.jsonl.", nth=2)
    assert cli.main(["train", "--data", str(tiny), "--out", str(other), *TRAIN]) == 2
    assert _one_line(capsys).startswith(f"error: {other}: no space left on device")
    monkeypatch.undo()
    assert load_checkpoint(other / "latest.pth")["finished"] and len((other / "metrics.jsonl").read_text().splitlines()) == 1
    assert cli.main(["train", "--data", str(tiny), "--out", str(other), *TRAIN, "--resume"]) == 0
    assert strip((other / "metrics.jsonl").read_text()) == strip((full / "metrics.jsonl").read_text())


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    run = tmp_path_factory.mktemp("trained") / "run"
    train(train_cfg(**{"train.epochs": 1}), tiny, run, progress=False, log=lambda m: None)
    return run


def _digests(folder) -> dict[str, str]:
    from sslprop.data.predfiles import file_digest

    return {p.name: file_digest(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".lock"}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds the file of a descriptor in /proc (Linux)")
def test_a_full_disk_in_predict_and_proposals_is_one_line_and_keeps_what_was_there(tiny, trained, tmp_path, monkeypatch, capsys):
    import shutil

    from sslprop import cli
    from sslprop.data import proposals
    from sslprop.data.proposal_cache import ProposalCache
    from sslprop.engine.predict import RESUME

    out = tmp_path / "pred"
    argv = ["predict", "--run", str(trained), "--data", str(tiny), "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    before = _digests(out)
    _full_disk(monkeypatch, "maps.npz")
    assert cli.main(argv + ["--split", "all"]) == 2
    assert _one_line(capsys) == f"error: {out}: no space left on device (free some space; {RESUME})"
    monkeypatch.undo()
    assert _digests(out) == before and sorted(p.name for p in out.iterdir() if p.is_dir()) == []  # no hidden folder left

    data = tmp_path / "data"
    shutil.copytree(tiny, data, ignore=shutil.ignore_patterns("proposals"))
    _full_disk(monkeypatch, ".npy.", nth=3)  # the third frame's cache entry
    assert cli.main(["proposals", str(data), "--workers", "1", "--no-progress"]) == 2
    cache = ProposalCache(data)
    assert _one_line(capsys).startswith(f"error: {cache.path('frames/2.png').parent}: no space left on device (free some space; "
                                        "what was finished is kept; run the same command again to resume)")
    monkeypatch.undo()
    stats = proposals.extract_dataset(data, workers=1, progress=False)
    assert stats.reused == 2 and stats.done == 12 and not stats.failed


def test_a_prediction_folder_that_mixes_two_runs_is_refused_by_eval(tiny, trained, tmp_path, monkeypatch, capsys):
    # issue #27: a kill after boxes.json left new files beside old ones, and eval scored the mixture
    from pathlib import Path

    from sslprop import cli
    from sslprop.engine.predict import RESUME, predict

    out = tmp_path / "pred"
    predict(trained, tiny, out, progress=False, log=lambda m: None)  # the test split: 6 frames
    first = _digests(out)
    # a second run into the same folder (another split) interrupted while its files are put in place
    real = os.replace

    def replace(src, dst):
        if Path(dst) == out / "two_sources.json":
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert cli.main(["predict", "--run", str(trained), "--data", str(tiny), "--out", str(out), "--split", "all",
                     "--no-progress"]) == 130
    assert _one_line(capsys) == f"interrupted: {RESUME}"
    monkeypatch.undo()
    now = _digests(out)
    assert now["predictions.json"] != first["predictions.json"] and now["boxes.json"] != first["boxes.json"]
    assert now["two_sources.json"] == first["two_sources.json"]  # the mixture of the issue
    assert not [p for p in out.iterdir() if p.is_dir()]
    base = ["eval", "--annotations", str(tiny), "--protocol", "lvs"]
    assert cli.main([*base, "--predictions", str(out / "two_sources.json")]) == 2
    assert _one_line(capsys) == (f"error: {out / 'two_sources.json'}: not the two_sources.json that predictions.json beside it "
                                 "lists: this folder mixes the files of two predict runs (one cut short?); run `sslprop predict` into it again")
    assert cli.main([*base, "--predictions", str(out / "maps.npz")]) == 2
    assert "maps.npz: not the maps.npz that predictions.json" in _one_line(capsys)
    assert cli.main(["eval", "--onscreen", str(out), "--annotations", str(tiny)]) == 2
    assert "onscreen.json: not the onscreen.json that predictions.json" in _one_line(capsys)
    assert cli.main([*base, "--predictions", str(out / "boxes.json"), "--json"]) == 0  # the new boxes.json is the listed one
    capsys.readouterr()
    # the next run puts a whole set back
    predict(trained, tiny, out, split="all", progress=False, log=lambda m: None)
    assert cli.main([*base, "--predictions", str(out / "two_sources.json"), "--json"]) == 0
    info = json.loads((out / "predictions.json").read_text())
    assert sorted(info["files"]) == ["boxes.json", "maps.npz", "onscreen.json", "two_sources.json"]


def _hold(folder, command: str):
    """A process that holds `folder`'s lock (as a running command does) until it is killed."""
    import subprocess
    import sys

    code = ("import sys, time; from sslprop.utils import folder_lock; "
            f"lock = folder_lock(sys.argv[1], {command!r}); lock.__enter__(); print('held', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_command_on_a_folder_in_use_is_refused_naming_the_first(tiny, trained, tmp_path, capsys):
    # issue #27: two trains into one --out both reported success and the folder held the second's run only
    import shutil
    import subprocess
    import sys
    import time

    from sslprop import cli

    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "sslprop", "train", "--data", str(tiny), "--out", str(run), "--seed", "0",
                              "--epochs", "500", "--batch-size", "4", "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and f'"pid": {first.pid}' not in ((run / ".lock").read_text() if (run / ".lock").is_file() else ""):
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.1)
        for extra in (["--seed", "1"], ["--seed", "0", "--resume"]):
            assert cli.main(["train", "--data", str(tiny), "--out", str(run), "--epochs", "500", "--batch-size", "4",
                             "--no-progress", *extra]) == 2
            assert _one_line(capsys).startswith(f"error: {run}: in use by process {first.pid} (sslprop train since ")
    finally:
        first.kill()
        first.wait()
    from sslprop.utils import folder_lock

    with folder_lock(run, "train"):  # a killed run leaves no lock behind
        pass

    data = tmp_path / "data"
    shutil.copytree(tiny, data)
    for folder, command, argv in (
        (tmp_path / "pred", "predict", ["predict", "--run", str(trained), "--data", str(tiny), "--out", str(tmp_path / "pred"), "--no-progress"]),
        (tmp_path / "imported", "import", ["import", "folder", str(tiny / "frames"), "--out", str(tmp_path / "imported")]),
        (data, "proposals", ["proposals", str(data), "--workers", "1", "--no-progress"]),
        (data, "import", ["import", "folder", str(tiny / "frames"), "--out", str(data)]),
    ):
        holder = _hold(folder, command)
        try:
            assert cli.main(argv) == 2, argv
            assert _one_line(capsys).startswith(f"error: {folder}: in use by process {holder.pid} (sslprop {command} since ")
        finally:
            holder.kill()
            holder.wait()
    assert cli.main(["predict", "--run", str(trained), "--data", str(tiny), "--out", str(tmp_path / "pred"), "--no-progress"]) == 0
