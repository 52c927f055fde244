"""Tests for sslprop/bench.py."""

from __future__ import annotations

import json

import pytest

from sslprop import cli
from sslprop.bench import BENCHMARKS, Row, format_table, to_json

DATA_KEYS = {
    "load_bank",
    "generate",
    "audio_decode",
    "logmel",
    "vggish",
    "frame_decode",
    "decode_features",
    "proposals_1core",
    "proposals_1024",
    "proposals_stored",
    "proposals_pool",
}


def test_row_rates():
    row = Row("x", 4, "frame", 0.5)
    assert (row.per_second, row.ms_per_item) == (8.0, 125.0)


def test_table_is_aligned_and_json_holds_rates():
    rows = {"a": Row("short", 2, "frame", 1.0), "b": Row("a longer step", 30, "sample", 0.5)}
    lines = format_table("data", {"cores": 2}, rows).splitlines()
    assert lines[0] == "sslprop bench data: cores 2"
    assert len({len(line) for line in lines[1:]}) == 1  # header, rule and rows have one width
    assert lines[3].split() == ["short", "2", "frames", "1.000", "2.0", "500.00"]
    js = to_json("data", {"cores": 2}, rows)
    assert js["results"]["b"]["per_second"] == 60.0 and js["cores"] == 2


def test_bench_data_runs_and_reports_every_stage(tmp_path, capsys):
    assert set(BENCHMARKS) >= {"data"}
    out_dir = tmp_path / "set"
    code = cli.main(["bench", "data", "--n", "2", "--workers", "1", "--out", str(out_dir), "--json", "--large-side", "320"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bench"] == "data" and report["n"] == 2 and report["frames"] == 2
    assert {"cores", "available_cores", "torch_threads", "workers", "proposals_per_frame"} <= set(report)
    assert set(report["results"]) == DATA_KEYS
    counts = {k: v["count"] for k, v in report["results"].items()}
    assert counts == {"load_bank": 1, "generate": 2, "audio_decode": 2, "logmel": 2, "vggish": 2, "frame_decode": 2,
                      "decode_features": 2, "proposals_1core": 2, "proposals_pool": 2, "proposals_1024": 1, "proposals_stored": 5}
    assert all(v["seconds"] > 0 for v in report["results"].values())
    assert (out_dir / "manifest.jsonl").is_file() and (out_dir / "proposals").is_dir()


def test_bench_rejects_bad_n(capsys):
    with pytest.raises(SystemExit) as exit_info:  # the parser's check of every count option
        cli.main(["bench", "data", "--n", "0"])
    assert exit_info.value.code == 2 and "argument --n: expected a positive integer, got 0" in capsys.readouterr().err


def test_bench_train_reports_throughput_memory_and_selection_share(capsys):
    code = cli.main(["bench", "train", "--profile", "cpu", "--batch-size", "2", "--steps", "1", "--proposals", "8",
                     "--device", "cpu", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bench"] == "train" and report["batch"] == 2 and report["proposals_per_frame"] == 8
    three = {"cpu_train_encoders", "cpu_train_frozen", "cpu_train_cached"}  # one step three ways, side by side
    bags = {"cpu_train_small_pooled", "cpu_train_large_pooled", "cpu_train_large_cached"}  # ~80 pooled, large pooled / cached
    assert set(report["results"]) == {"cpu_train", "cpu_selection", "cpu_inference"} | three | bags
    assert all(report["results"][k]["count"] == 2 and report["results"][k]["seconds"] > 0 for k in bags)
    assert report["results"]["cpu_train_large_pooled"]["seconds"] == report["results"]["cpu_train_cached"]["seconds"]
    ratio = report["results"]["cpu_train_small_pooled"]["seconds"] / report["results"]["cpu_train_large_cached"]["seconds"]
    assert report["speed_cached_8_over_pooled_80"] == round(ratio, 2)
    assert report["results"]["cpu_train"]["count"] == 2 and report["results"]["cpu_inference"]["count"] == 2
    assert all(report["results"][k]["count"] == 2 and report["results"][k]["seconds"] > 0 for k in three)
    assert report["results"]["cpu_train"]["seconds"] == report["results"]["cpu_train_frozen"]["seconds"]  # the profile's
    assert 0 < report["selection_share_of_step"] < 1 and report["peak_memory_mb"] > 0


def test_bench_train_rejects_a_batch_of_one(capsys):
    assert cli.main(["bench", "train", "--profile", "cpu", "--batch-size", "1", "--device", "cpu"]) == 2
    assert "need at least 2" in capsys.readouterr().err
