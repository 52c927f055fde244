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


# --------------------------------------------------------------------------- the GPU report (sslprop/bench_gpu.py), run on the CPU


def test_flop_count_covers_the_fused_lstm_and_grows_linearly_with_the_batch():
    import torch

    from sslprop import bench_gpu
    from tests.helpers import train_cfg

    lstm = torch.nn.LSTM(64, 32, batch_first=True)
    x = torch.randn(100, 1, 64)
    forward = bench_gpu.count_flops(lambda: lstm(x))
    assert forward == 2 * 100 * (4 * 32 * 64 + 4 * 32 * 32)  # the gate products, W_ih and W_hh
    assert bench_gpu.count_flops(lambda: lstm(x)[0].sum().backward()) == 3 * forward  # backward: inputs and weights
    # the CUDA kernel's formula, on shapes: a flat weight list of 4 tensors per layer (W_ih, W_hh, b_ih, b_hh)
    assert bench_gpu._cudnn_rnn((1, 100, 64), [(128, 64), (128, 32), (128,), (128,)], 4) == forward
    assert bench_gpu._cudnn_rnn_backward((1, 100, 64), [(128, 64), (128, 32), (128,), (128,)], 4) == 2 * forward

    cfg = train_cfg(**{"model.use_lstm": True, "train.paired_negatives": 0})
    torch.manual_seed(0)
    from sslprop.models.methods import get_method

    model = get_method("ours").build(cfg, None, None, lambda m: None)
    two, four = (bench_gpu.step_flops(model, cfg, bench_gpu.random_batch(cfg, b, 30)) for b in (2, 4))
    assert two > 0 and four == 2 * two  # FLOPs per clip do not depend on the batch
    infer = bench_gpu.step_flops(model, cfg, bench_gpu.random_batch(cfg, 2, 30), train=False)
    assert 1.5 * infer < two < 3.5 * infer  # a step is its forward and a backward of about twice the forward
    assert all(p.grad is None for p in model.parameters())  # counting leaves no gradient behind


def test_peak_table_and_the_need_it_implies():
    from sslprop import bench_gpu
    from sslprop.config import get_profile

    assert bench_gpu.device_peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert bench_gpu.device_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert bench_gpu.device_peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert bench_gpu.device_peak_tflops("NVIDIA L4") == 121.0 and bench_gpu.device_peak_tflops("NVIDIA L40S") == 362.0
    assert bench_gpu.device_peak_tflops("Some Future GPU") is None
    cfg = get_profile("cpu").replace(**{"model.pretrained": False})
    need, per_clip = bench_gpu.step_needs(cfg, 100.0, 0.5, proposals=30)
    assert need == 100e12 * 0.5 / per_clip and per_clip > 0


def test_gpu_report_runs_on_the_cpu_with_a_tiny_config(tiny):
    import torch

    from sslprop import bench_gpu
    from sslprop.models.methods import get_method
    from tests.helpers import train_cfg

    cfg = train_cfg()
    facts, rows = bench_gpu.measure_step(tiny, cfg, torch.device("cpu"), batch=4, steps=3, workers=0, peak_tflops=0.01)
    assert set(rows) == {"train", "train_compute", "train_wait"}
    assert rows["train"].count == 12 and rows["train"].seconds == rows["train_compute"].seconds + rows["train_wait"].seconds
    assert facts["amp"] == "float32" and 0 <= facts["data_wait_share"] < 1 and facts["peak_memory_mb"] > 0
    assert facts["train_gflop_per_clip"] > 0 and facts["peak_tflops"] == 0.01
    achieved = facts["train_gflop_per_clip"] * 1e9 * 12 / rows["train"].seconds
    assert abs(facts["share_of_peak"] - achieved / 0.01e12) < 0.01 * facts["share_of_peak"] + 1e-3
    assert facts["share_of_peak_without_wait"] >= facts["share_of_peak"]
    torch.manual_seed(0)
    model = get_method("ours").build(cfg, None, None, lambda m: None)
    fi, ri = bench_gpu.measure_inference(model, cfg, bench_gpu.random_batch(cfg, 4, 30), torch.device("cpu"), steps=2)
    assert ri["inference"].count == 8 and fi["infer_gflop_per_frame"] > 0 and "infer_share_of_peak" not in fi  # no peak on a CPU
    text = format_table("train", {**facts, **fi}, {**rows, **ri})
    assert "data_wait_share" in text and "inference (forward, no gradient, float32)" in text


def test_bench_train_and_infer_on_cuda_say_so_in_one_line_without_it(capsys):
    import torch

    if torch.cuda.is_available():
        return  # this check is for machines without CUDA; on a GPU the command measures
    for what in ("train", "infer"):
        assert cli.main(["bench", what, "--profile", "paper", "--device", "cuda"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == ["error: --device cuda: CUDA is not available on this machine (use --device cpu)"]


def test_bench_infer_on_the_cpu(capsys):
    code = cli.main(["bench", "infer", "--profile", "cpu", "--device", "cpu", "--batch-size", "2", "--steps", "1",
                     "--proposals", "8", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["bench"] == "infer" and report["device"] == "cpu" and report["batch"] == 2
    assert set(report["results"]) == {"inference"} and report["results"]["inference"]["count"] == 5 * 2


def test_bench_data_profile_measures_the_loader_and_the_need(tiny, capsys):
    code = cli.main(["bench", "data", "--profile", "cpu", "--workers", "0", "--data", str(tiny), "--peak-tflops", "10",
                     "--mfu", "0.5", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and set(report["results"]) == {"loader_pass1", "loader_pass2"}
    assert report["clips"] == 16 and report["loader_batch"] == 4 and report["loader_workers"] == 0
    assert report["results"]["loader_pass1"]["count"] == 12 and report["results"]["loader_pass2"]["count"] == 3 * 16
    need = 10e12 * 0.5 / (report["train_gflop_per_clip"] * 1e9)
    assert abs(report["step_needs_clips_per_s"] - need) < 0.01 * need
    assert report["notes"][0].startswith("a cpu training step needs about ")
    assert not (tiny / "audio-cache").exists()  # the benchmark's patches go to a scratch folder, not into the data set


def test_bench_data_profile_rejects_a_bad_share(capsys):
    assert cli.main(["bench", "data", "--profile", "cpu", "--mfu", "1.5"]) == 2
    assert "need 0 < mfu <= 1" in capsys.readouterr().err
