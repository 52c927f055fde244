"""Tests for sslprop/cli.py: the subcommand table, count options, and bad input as one line."""

from __future__ import annotations

import argparse
import importlib.util

import pytest

from sslprop import argtypes, cli


def test_positive_int():
    assert argtypes.positive_int("3") == 3
    for bad, message in (("0", "got 0"), ("-2", "got -2"), ("x", "got 'x'"), ("1.5", "got '1.5'")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            argtypes.positive_int(bad)


def test_every_subcommand_module_is_present_and_help_is_listed(capsys):
    assert all(importlib.util.find_spec(module) is not None for module, _ in cli.COMMANDS.values())
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)


def test_bad_input_is_one_line_with_status_2(tmp_path, capsys):
    code = cli.main(["eval", "--method", "center", "--annotations", str(tmp_path / "nothing"), "--protocol", "lvs"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "nothing" in err
    with pytest.raises(SystemExit) as exit_info:  # argparse's own errors: status 2, usage on stderr
        cli.main(["train", "--epochs", "0"])
    assert exit_info.value.code == 2 and "expected a positive integer, got 0" in capsys.readouterr().err


def _parsers(parser: argparse.ArgumentParser):
    """`parser` and every subparser below it (the subcommands, bench's benchmarks)."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_integer_option_of_every_subcommand_is_checked():
    # issue #27: --max-samples -1 dropped the last sample, --batch-size 0 meant the default, -1 ended in a traceback
    from sslprop.evaluation import testsets

    checked, plain = [], []
    for name in cli.COMMANDS:
        for p in _parsers(cli.build_parser(name)):
            for action in p._actions:
                if action.type is int:
                    plain.append(f"{p.prog} {action.option_strings}")
                elif action.type in (argtypes.positive_int, argtypes.nonnegative_int):
                    checked.append(action.dest)
    assert plain == [] and {"batch_size", "max_samples", "seed", "workers", "n", "steps", "k"} <= set(checked)
    with pytest.raises(SystemExit) as exit_info:  # the one script outside the subcommands
        testsets.main(["--lists", "x=y", "--seed", "-1"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("argv, message", [
    (["predict", "--max-samples", "-1"], "argument --max-samples: expected a positive integer, got -1"),
    (["predict", "--batch-size", "0"], "argument --batch-size: expected a positive integer, got 0"),
    (["predict", "--batch-size", "-1"], "argument --batch-size: expected a positive integer, got -1"),
    (["train", "--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
    (["import", "folder", "x", "--max-samples", "0"], "argument --max-samples: expected a positive integer, got 0"),
    (["synth", "--preset", "solo", "--n", "0"], "argument --n: expected a positive integer, got 0"),
])
def test_bad_counts_are_refused_by_the_parser(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--run", "r", "--data", "d", "--out", str(tmp_path / "o")] if argv[0] in ("predict", "train")
                 else [*argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and "Traceback" not in err


def test_zero_is_a_value_where_it_means_something():
    assert argtypes.nonnegative_int("0") == 0 and argtypes.nonnegative_int("7") == 7
    with pytest.raises(argparse.ArgumentTypeError, match="expected an integer >= 0, got -1"):
        argtypes.nonnegative_int("-1")
    args = cli.build_parser("train").parse_args(["train", "--data", "d", "--out", "o", "--workers", "0", "--checkpoint-every", "0", "--seed", "0"])
    assert (args.workers, args.checkpoint_every, args.seed) == (0, 0, 0)


def test_ctrl_c_while_the_subcommand_module_is_imported_is_one_line(monkeypatch, capsys):
    # issue #27: the `import torch` of build_parser ran outside the handler: a traceback
    import importlib

    real = importlib.import_module

    def interrupted(name, *a, **k):
        if name.startswith("sslprop.engine"):
            raise KeyboardInterrupt
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", interrupted)
    assert cli.main(["train", "--data", "d", "--out", "o"]) == 130
    err = capsys.readouterr().err
    assert err == "interrupted while starting: nothing was done\n"


def test_ctrl_c_at_the_very_start_of_python_m_sslprop_is_one_line(tmp_path):
    # the same from a real interpreter: SIGINT while `python -m sslprop train` imports torch
    import signal
    import subprocess
    import sys
    import time

    for after in ("sslprop.cli", "torch"):  # at main's entry, then inside the subcommand's `import torch`
        proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "sslprop", "train", "--data", "d", "--out",
                                 str(tmp_path / "o")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline, line = time.time() + 60, ""
        while time.time() < deadline and not line.rstrip().endswith(f"| {after}") and not line.rstrip().endswith(f"|   {after}"):
            line = proc.stderr.readline()  # importtime logs each finished import to stderr
            if not line:
                break
            if after == "torch" and "torch" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        lines = [x for x in (line + err).splitlines() if not x.startswith("import time:")]
        assert (proc.returncode, lines) == (130, ["interrupted while starting: nothing was done"]), (after, proc.returncode, lines)
