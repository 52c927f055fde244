"""Tests for sslprop/packaging.py."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from sslprop import cli

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]  # dev, browser
    pins = {}
    for r in reqs:
        name, _, version = r.partition("==")
        assert version, f"pyproject requirement {r!r} is not pinned"
        pins[name.lower()] = version
    return pins


def _environment_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"\s*-\s*([A-Za-z0-9_.\-]+)==(\S+)\s*$", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sslprop", *args], capture_output=True, text=True, cwd=ROOT)


def test_environment_yml_in_step_with_pyproject():
    assert _environment_pins() == _pyproject_pins()


def test_top_level_layout():
    for name in ("notebooks", "sslprop", "figures", "environment.yml", "tests", "README.md"):
        assert (ROOT / name).exists(), name


def _main(capsys, *args: str) -> tuple[int, str, str]:
    """`python -m sslprop ARGS` in this process (what the entry point runs): exit status, stdout, stderr."""
    try:
        code = cli.main(list(args))
    except SystemExit as e:  # --help and argparse's own errors exit from inside the parser
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_subcommands(capsys):
    code, out, err = _main(capsys, "--help")
    assert code == 0, err
    for name in ("synth", "import", "proposals", "eval", "train", "predict", "probe", "bench"):
        assert name in cli.COMMANDS, f"subcommand {name} missing"
        assert name in out


@pytest.mark.parametrize("name", ["synth", "import", "proposals", "eval", "train", "predict", "probe", "bench"])
def test_each_subcommand_has_help(name, capsys):
    code, out, err = _main(capsys, name, "--help")
    assert code == 0, err
    assert out.startswith("usage: python -m sslprop " + name)


def test_bad_input_is_one_line_error(tmp_path, capsys):
    code, _, err = _main(capsys, "proposals", str(tmp_path / "nowhere"))
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_a_closed_output_pipe_is_no_traceback(tmp_path):
    # `... | head` closes the pipe before the command prints: it stops quietly (exit 141, as a shell tool does)
    p = subprocess.Popen([sys.executable, "-m", "sslprop", "synth", "--preset", "solo", "--n", "2", "--seed", "0",
                          "--out", str(tmp_path / "solo"), "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait() == 141 and "Traceback" not in err and err == ""
    assert (tmp_path / "solo" / "manifest.jsonl").is_file()  # the work itself was done
