"""The benchmark engine and ``minimlp bench`` on tiny settings (no timing is asserted)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import minimlp as mm
from minimlp import bench
from minimlp.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from tight_numpy import TightStep  # noqa: E402


@pytest.mark.parametrize("text, expected", [
    ("1,2,4,...,64", [1, 2, 4, 8, 16, 32, 64]),
    ("1,...,8", [1, 2, 4, 8]),
    ("3,...,20", [3, 6, 12, 20]),
    ("32", [32]),
    (" 1, 10 ,100", [1, 10, 100]),
    ("1,2,...,8,100", [1, 2, 4, 8, 100]),
])
def test_batch_sizes_parse(text, expected):
    assert bench.parse_batch_sizes(text) == expected


@pytest.mark.parametrize("text", ["", "0,1", "a,b", "...,8", "1,...", "4,2", "1,...,...,8"])
def test_bad_batch_sizes_raise(text):
    with pytest.raises(ValueError, match="batch sizes"):
        bench.parse_batch_sizes(text)


def test_layers_parse():
    assert bench.parse_layers("784-512-512-10") == (784, 512, 512, 10)
    for bad in ("10", "a-b", "0-3"):
        with pytest.raises(ValueError, match="layers"):
            bench.parse_layers(bad)


def test_step_flops_by_hand():
    # widths 3-4-5, N = 2: forward 2*2*3*4 = 48 and 2*2*4*5 = 80; dW the same; dX only for
    # the second layer (80): 48 + 80 + 48 + 80 + 80 = 336.
    assert bench.step_flops((3, 4, 5), 2) == 336


@pytest.mark.parametrize("batch", [1, 3])
def test_gemm_floor_computes_the_step_products(batch):
    floor = bench.gemm_floor((3, 4, 5), batch, np.float64)
    floor()
    cells = floor.__closure__
    ops = next(c.cell_contents for c in cells if isinstance(c.cell_contents, list))
    assert len(ops) == 2 + 2 + 1   # two forward products, two dW, one dX
    for f, a, b, out in ops:
        np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def test_time_interleaved_returns_one_value_per_round():
    calls = {"a": 0, "b": 0}

    def make(k):
        def fn():
            calls[k] += 1
        return fn

    t = bench.time_interleaved({"a": make("a"), "b": make("b")}, repeats=4, warmup=2, min_time=1e-4)
    assert set(t) == {"a", "b"} and all(len(v) == 4 for v in t.values())
    assert all(x > 0 for v in t.values() for x in v)
    assert calls["a"] > 6 and calls["b"] > 6


def test_minimlp_step_trains():
    net, loss = bench.build_model((4, 8, 3), "relu", "ce", np.float64, seed=0)
    X, T = bench.make_data((4, 8, 3), 16, "ce", np.float64)
    before = loss.forward(net.forward(X), T)
    step = bench.minimlp_step(net, loss, X, T, lr=0.1)
    for _ in range(50):
        step()
    assert loss.forward(net.forward(X), T) < before


@pytest.mark.parametrize("widths, act, loss_name, N, dtype", [
    ((2, 2, 2), "sigmoid", "mse", 1, np.float64),
    ((6, 8, 5, 4), "relu", "ce", 7, np.float64),
    ((5, 7, 3), "relu", "mse", 4, np.float32),
])
def test_tight_numpy_step_does_minimlps_work(widths, act, loss_name, N, dtype):
    """The benchmark's yardstick computes the same loss and update as minimlp."""
    net, loss = bench.build_model(widths, act, loss_name, dtype, seed=3)
    X, T = bench.make_data(widths, N, loss_name, dtype)
    tight = TightStep(widths, act, loss_name, X, T, lr=0.05)
    dense = [layer for layer in net if isinstance(layer, mm.Dense)]
    for i, layer in enumerate(dense):
        tight.W[i][...] = layer.W
        tight.b[i][...] = layer.b
    step = bench.minimlp_step(net, loss, X, T, lr=0.05)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for _ in range(3):
        expected = loss.forward(net.forward(X), T)   # loss at the weights before the step
        assert tight.step() == pytest.approx(expected, rel=tol)
        step()
    for i, layer in enumerate(dense):
        np.testing.assert_allclose(tight.W[i], layer.W, rtol=tol, atol=tol)
        np.testing.assert_allclose(tight.b[i], layer.b, rtol=tol, atol=tol)


def test_sweep_rows_and_table():
    rows = bench.sweep((4, 8, 3), "relu", "ce", [1, 4], np.float32, threads=(1,), repeats=2,
                       warmup=1, min_time=1e-4)
    assert [(r["threads"], r["batch"]) for r in rows] == [(1, 1), (1, 4)]
    for r in rows:
        assert r["ratio"] == pytest.approx(r["us_step"] / r["us_floor"])
        assert r["samples_per_s"] == pytest.approx(r["batch"] / r["us_step"] * 1e6)
    table = bench.format_table(rows)
    assert "x floor" in table and len(table.splitlines()) == 4


def test_blas_info_names_the_library():
    infos = bench.blas_info()
    assert infos and all({"library", "kernel", "threads"} <= set(d) for d in infos)


def test_cli_bench_writes_json_and_plot(tmp_path, capsys):
    out_json, out_png = tmp_path / "b.json", tmp_path / "b.png"
    rc = main(["bench", "--layers", "4-8-3", "--batch-sizes", "1,...,4", "--threads", "1",
               "--repeats", "2", "--min-time", "0.0001", "--json", str(out_json),
               "--plot", str(out_png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "x floor" in text and "kernel" in text
    # the choice of threads="auto": tiny steps run on one thread
    assert "threads='auto' (the default) would use: batch 1: 1, batch 2: 1, batch 4: 1 thread(s)" in text
    report = json.loads(out_json.read_text())
    assert [r["batch"] for r in report["rows"]] == [1, 2, 4]
    assert report["config"]["layers"] == [4, 8, 3] and report["blas"]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv", [
    ["--batch-sizes", "8,...,2"],
    ["--layers", "7"],
    ["--threads", "0"],
    ["--repeats", "0"],
    ["--json", "/nonexistent-folder/b.json"],
    ["--plot", "/nonexistent-folder/b.png"],
])
def test_cli_bench_usage_errors_exit_2(argv, capsys):
    assert main(["bench"] + argv) == 2
    assert "minimlp bench: error:" in capsys.readouterr().err
