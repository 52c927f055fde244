"""Tests for sslprop/data/importers/common.py."""

from __future__ import annotations

from sslprop.cli import main as cli_main
from sslprop.data.format import read_manifest


def test_wrong_layout_is_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli_main(["import", "vggss", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'empty'}: no vggss.json here (expected VGG-SS: vggss.json with frames/audio or videos)"
    assert cli_main(["import", "flickr", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no Annotations/ folder here" in capsys.readouterr().err
    (tmp_path / "vggss.json").write_text("{not json")
    assert cli_main(["import", "vggss", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {tmp_path / 'vggss.json'}: does not parse as JSON")


def test_nothing_imported_exits_1(tmp_path, capsys):
    src = tmp_path / "ave"
    src.mkdir()
    (src / "Annotations.txt").write_text("Dog&vid00000001&good&0&4\n")
    assert cli_main(["import", "ave", str(src), "--out", str(tmp_path / "o")]) == 1
    assert "0 of 1 samples written" in capsys.readouterr().out
    assert read_manifest(tmp_path / "o") == []
