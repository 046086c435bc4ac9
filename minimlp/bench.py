"""Batch-size benchmark engine: a minimlp training step against its GEMM floor.

A ``Dense`` layer costs three GEMMs per training step: forward ``X @ W`` (N, D_in) x
(D_in, D_out), ``dW = X^T dY`` and ``dX = dY W^T`` (the first layer needs no ``dX``).
Everything else in a step is elementwise and memory-bound, so the time of those GEMMs
alone, on the same shapes and in the same run, is the floor a step can reach. This module
times both, side by side:

- ``time_interleaved`` runs several candidates in interleaved rounds (warm-up discarded)
  and returns seconds per call for every round; compare medians, and prefer ratios taken
  in the same run (timings on a shared machine drift by ~30% between runs).
- ``minimlp_step`` and ``gemm_floor`` build the two candidates for a net and batch size.
- ``sweep`` walks batch sizes and thread counts (pinned with threadpoolctl) and returns
  one row per point; ``format_table``, ``plot_sweep`` and ``blas_info`` present them.

``minimlp bench`` and ``benchmarks/compare.py`` both use it.
"""
from __future__ import annotations

import re
import statistics
import time
from typing import Callable

import numpy as np

#: The activations the GEMM-floor comparison is usually run with (any name of
#: ``activations.activation_classes()`` works).
ACTIVATIONS = ("relu", "sigmoid", "tanh")
LOSSES = ("ce", "mse")


# -- parsing ---------------------------------------------------------------------------
def parse_layers(text: str) -> tuple[int, ...]:
    """Layer widths from ``"784-512-512-10"`` (input, hidden..., output; at least two)."""
    parts = [p.strip() for p in re.split(r"[-,x ]+", text.strip()) if p.strip()]
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"layers: expected widths like 784-512-10, got {text!r}") from None
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"layers: need at least an input and an output width, each >= 1, "
                         f"got {text!r}")
    return widths


def parse_batch_sizes(text: str) -> list[int]:
    """Batch sizes from ``"1,8,32"`` or the doubling shorthand ``"1,2,4,...,4096"``.

    ``a,...,z`` doubles from ``a`` while the value stays below ``z``, then ends with ``z``.
    """
    items = [s.strip() for s in text.split(",") if s.strip()]
    sizes: list[int] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item in ("...", "\u2026"):
            if not sizes or i + 1 >= len(items) or items[i + 1] in ("...", "\u2026"):
                raise ValueError(f"batch sizes: '...' needs a size before and after it, got {text!r}")
            end = _positive_int(items[i + 1], text)
            v = sizes[-1] * 2
            while v < end:
                sizes.append(v)
                v *= 2
            sizes.append(end)
            i += 2
            continue
        sizes.append(_positive_int(item, text))
        i += 1
    if not sizes:
        raise ValueError("batch sizes: empty list")
    if any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"batch sizes: must increase, got {sizes}")
    return sizes


def _positive_int(item: str, text: str) -> int:
    try:
        v = int(item)
    except ValueError:
        raise ValueError(f"batch sizes: {item!r} is not a whole number (in {text!r})") from None
    if v < 1:
        raise ValueError(f"batch sizes: must be >= 1, got {v}")
    return v


# -- the two candidates -------------------------------------------------------------------
def build_model(widths, activation: str = "relu", loss: str = "ce", dtype=np.float32,
                seed: int = 0):
    """A ``Sequential`` of ``Dense`` layers with ``activation`` between them, and its loss.

    With ``loss="ce"`` the last layer is linear (softmax is fused into CrossEntropyLoss);
    with ``loss="mse"`` a sigmoid net ends in a sigmoid (the tutorial's form), any other
    activation in a linear layer.
    """
    from . import CrossEntropyLoss, Dense, MSELoss, Sequential
    from .activations import activation_classes

    acts = activation_classes()
    act = acts.get(activation)
    if act is None:
        raise ValueError(f"activation: expected one of {', '.join(acts)}, got {activation!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {LOSSES}, got {loss!r}")
    rng = np.random.default_rng(seed)
    init = "he_uniform" if activation == "relu" else "glorot_uniform"
    layers = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(Dense(d_in, d_out, init=init, rng=rng, dtype=dtype))
        if i < len(widths) - 2 or (loss == "mse" and activation == "sigmoid"):
            layers.append(act())
    return Sequential(layers), (CrossEntropyLoss() if loss == "ce" else MSELoss())


def make_data(widths, batch: int, loss: str, dtype, seed: int = 1):
    """Random inputs ``X`` (batch, D_in) and targets: labels (batch,) for ``ce``,
    values in (0, 1) of shape (batch, D_out) for ``mse``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, widths[0])).astype(dtype)
    if loss == "ce":
        T = rng.integers(0, widths[-1], size=batch).astype(np.intp)
    else:
        T = rng.uniform(0.1, 0.9, size=(batch, widths[-1])).astype(dtype)
    return X, T


def minimlp_step(net, loss, X, T, lr: float = 0.01) -> Callable[[], None]:
    """One plain-SGD training step of ``net`` on (X, T) as a no-argument callable: the
    ``TrainStep`` that ``fit`` runs, on data checked once."""
    from . import SGD, TrainStep

    step = TrainStep(net, loss, SGD(net.parameters(), lr=lr), threads=None)
    X = net.check_input(X)
    T = loss.check_targets(T, (X.shape[0], net.output_features(X.shape[1])), net.dtype)
    run = step.run
    return lambda: run(X, T)


def gemm_floor(widths, batch: int, dtype=np.float32, seed: int = 2) -> Callable[[], None]:
    """Only the GEMMs of one training step, into preallocated arrays, as a callable.

    Per layer ``i``: ``Y_i = X_i @ W_i``, ``dW_i = X_i^T dY_i`` and, except for the first
    layer, ``dX_i = dY_i W_i^T``; with the operand layouts minimlp uses. At batch 1 the
    weight gradient is an outer product, computed (as minimlp does) by a broadcast multiply,
    since ``np.matmul`` takes a slow path on an inner dimension of 1.
    """
    rng = np.random.default_rng(seed)
    rand = lambda *shape: rng.standard_normal(shape).astype(dtype)
    Xs = [rand(batch, d) for d in widths[:-1]]
    Ws = [rand(a, b) for a, b in zip(widths[:-1], widths[1:])]
    Ys = [np.empty((batch, d), dtype) for d in widths[1:]]
    dYs = [rand(batch, d) for d in widths[1:]]
    dWs = [np.empty_like(W) for W in Ws]
    dXs = [np.empty_like(X) for X in Xs]
    outer = np.multiply if batch == 1 else np.matmul
    ops = []
    for X, W, Y in zip(Xs, Ws, Ys):
        ops.append((np.matmul, X, W, Y))
    for i in reversed(range(len(Ws))):
        ops.append((outer, Xs[i].T, dYs[i], dWs[i]))
        if i > 0:
            ops.append((np.matmul, dYs[i], Ws[i].T, dXs[i]))

    def step():
        for f, a, b, out in ops:
            f(a, b, out=out)

    return step


def step_flops(widths, batch: int) -> int:
    """Floating-point operations of the GEMMs in one step: ``2 N D_in D_out`` per GEMM,
    three per layer, two for the first."""
    per_layer = [2 * batch * a * b for a, b in zip(widths[:-1], widths[1:])]
    return 3 * sum(per_layer) - per_layer[0]


# -- timing -------------------------------------------------------------------------------
def _calibrate(fn: Callable[[], None], min_time: float) -> int:
    """Calls per timed block so that one block lasts at least ``min_time`` seconds."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or number >= 1 << 20:
            return number
        number = max(number * 2, int(number * min_time / max(elapsed, 1e-9) * 1.2))


def time_interleaved(candidates: dict[str, Callable[[], None]], repeats: int = 7,
                     warmup: int = 1, min_time: float = 0.005,
                     budget: float | None = None) -> dict[str, list[float]]:
    """Seconds per call of each candidate, one value per round.

    Each round times one block of every candidate in turn (so slow drifts of the machine hit
    all candidates alike); the first ``warmup`` rounds are discarded. A block repeats the
    call until it lasts ``min_time`` seconds. With ``budget`` (seconds), rounds stop once
    the budget is spent, after at least three.
    """
    numbers = {name: _calibrate(fn, min_time) for name, fn in candidates.items()}
    times: dict[str, list[float]] = {name: [] for name in candidates}
    start = time.perf_counter()
    for r in range(warmup + repeats):
        for name, fn in candidates.items():
            n = numbers[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            dt = (time.perf_counter() - t0) / n
            if r >= warmup:
                times[name].append(dt)
        done = r + 1 - warmup
        if budget is not None and done >= 3 and time.perf_counter() - start > budget:
            break
    return times


def median(values) -> float:
    return float(statistics.median(values))


# -- the sweep ----------------------------------------------------------------------------
def blas_info() -> list[dict]:
    """The BLAS libraries loaded (threadpoolctl): library, version, kernel, threads."""
    from threadpoolctl import threadpool_info

    return [{"library": d.get("internal_api"), "version": d.get("version"),
             "kernel": d.get("architecture"), "threads": d.get("num_threads"),
             "file": d.get("filepath", "").rsplit("/", 1)[-1]}
            for d in threadpool_info() if d.get("user_api") == "blas"]


def blas_summary() -> str:
    """One line naming each BLAS library, its kernel and thread count."""
    infos = blas_info()
    if not infos:
        return "BLAS: none found by threadpoolctl"
    return "; ".join(f"{d['library']} {d['version']} kernel {d['kernel']}, {d['threads']} "
                     f"thread(s) ({d['file']})" for d in infos)


def sweep(widths, activation: str = "relu", loss: str = "ce", batch_sizes=(1, 32, 256),
          dtype=np.float32, threads=(1,), repeats: int = 5, warmup: int = 1,
          min_time: float = 0.005, budget: float | None = None, seed: int = 0,
          progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Time a minimlp step and its GEMM floor for every batch size and thread count.

    Returns one dict per point: ``threads``, ``batch``, ``us_step`` and ``us_floor`` (median
    microseconds), ``samples_per_s``, ``gflops`` (achieved: GEMM flops / step time),
    ``floor_gflops`` and ``ratio`` (median step / median floor). Threads are pinned with
    ``threadpoolctl.threadpool_limits``; every point warms up again.
    """
    from threadpoolctl import threadpool_limits

    dtype = np.dtype(dtype)
    rows = []
    for n_threads in threads:
        with threadpool_limits(limits=n_threads):
            for batch in batch_sizes:
                net, loss_fn = build_model(widths, activation, loss, dtype, seed)
                X, T = make_data(widths, batch, loss, dtype, seed + 1)
                candidates = {"minimlp": minimlp_step(net, loss_fn, X, T),
                              "floor": gemm_floor(widths, batch, dtype, seed + 2)}
                t = time_interleaved(candidates, repeats, warmup, min_time, budget)
                step_s, floor_s = median(t["minimlp"]), median(t["floor"])
                flops = step_flops(widths, batch)
                row = {"threads": n_threads, "batch": batch, "us_step": step_s * 1e6,
                       "us_floor": floor_s * 1e6, "samples_per_s": batch / step_s,
                       "floor_samples_per_s": batch / floor_s, "gflops": flops / step_s / 1e9,
                       "floor_gflops": flops / floor_s / 1e9, "ratio": step_s / floor_s,
                       "rounds": len(t["minimlp"])}
                rows.append(row)
                if progress is not None:
                    progress(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """A fixed-width text table of ``sweep`` rows."""
    head = ("threads", "batch", "us/step", "samples/s", "GFLOP/s", "floor us", "floor GFLOP/s",
            "x floor")
    lines = [head]
    for r in rows:
        lines.append((str(r["threads"]), str(r["batch"]), f"{r['us_step']:,.1f}",
                      f"{r['samples_per_s']:,.0f}", f"{r['gflops']:.2f}", f"{r['us_floor']:,.1f}",
                      f"{r['floor_gflops']:.2f}", f"{r['ratio']:.2f}"))
    widths = [max(len(line[c]) for line in lines) for c in range(len(head))]
    out = ["  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def plot_sweep(rows: list[dict], path, title: str = "") -> None:
    """Samples/s and GFLOP/s against batch size (log scales), one line per thread count,
    the GEMM floor dashed; written as a PNG to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    for n_threads in sorted({r["threads"] for r in rows}):
        pts = [r for r in rows if r["threads"] == n_threads]
        B = [r["batch"] for r in pts]
        line, = axes[0].plot(B, [r["samples_per_s"] for r in pts], "o-",
                             label=f"minimlp, {n_threads} thread(s)")
        axes[0].plot(B, [r["floor_samples_per_s"] for r in pts], "--", color=line.get_color(),
                     label=f"GEMM floor, {n_threads} thread(s)")
        axes[1].plot(B, [r["gflops"] for r in pts], "o-", color=line.get_color())
        axes[1].plot(B, [r["floor_gflops"] for r in pts], "--", color=line.get_color())
    for ax, ylabel in zip(axes, ("samples / s", "GFLOP/s (GEMM flops / step time)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
