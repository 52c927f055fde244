"""Tests for sslprop/cli.py: the subcommand table, count options, and bad input as one line."""

from __future__ import annotations

import argparse

import pytest

from sslprop import cli


def test_positive_int():
    assert cli.positive_int("3") == 3
    for bad, message in (("0", "got 0"), ("-2", "got -2"), ("x", "got 'x'"), ("1.5", "got '1.5'")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            cli.positive_int(bad)


def test_every_subcommand_module_is_present_and_help_is_listed(capsys):
    assert set(cli.available_commands()) == set(cli.COMMANDS)
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
