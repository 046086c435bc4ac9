"""Peak memory of a training step against the arrays it must hold (tracemalloc).

    python benchmarks/memory.py

"Must hold": the parameters, their gradients, the input and targets, what each layer's
backward reads (a Dense layer's input, ReLU's mask, Sigmoid's and Tanh's output, GELU's,
ELU's, Softplus' and SiLU's slope; an array two layers share counted once) and the
optimizer's state (none for plain SGD). "Peak": everything traced while a ``TrainStep``
runs, after two warm-up steps (numpy reports its array allocations to tracemalloc),
including the layers' output and gradient buffers. Deterministic, so no repeats are needed.
"""
from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import minimlp as mm  # noqa: E402
from minimlp import bench  # noqa: E402

CASES = [
    ((2, 2, 2), "sigmoid", "mse", 1, np.float64),
    ((64, 128, 64, 10), "relu", "ce", 32, np.float64),
    ((784, 512, 512, 10), "relu", "ce", 128, np.float32),
    ((1024, 1024, 1024, 1024), "relu", "mse", 256, np.float32),
] + [((784, 512, 512, 10), act, "ce", 1024, np.float32)
     for act in ("relu", "leakyrelu", "gelu", "elu", "softplus", "silu", "sigmoid", "tanh")]


def must_hold(net, opt, X, T) -> int:
    arrays = {id(X): X, id(T): T}
    for p in net.parameters():
        arrays[id(p.value)], arrays[id(p.grad)] = p.value, p.grad
    for layer in net.leaves():
        for kept in (getattr(layer, "input", None), getattr(layer, "cache", None)):
            if isinstance(kept, np.ndarray):
                arrays[id(kept)] = kept
    for name in getattr(opt, "_state_names", ()):
        for a in getattr(opt, name):
            arrays[id(a)] = a
    return sum(a.nbytes for a in arrays.values())


def measure(widths, activation, loss_name, N, dtype) -> dict:
    tracemalloc.start()
    try:
        net, loss = bench.build_model(widths, activation, loss_name, np.dtype(dtype))
        X, T = bench.make_data(widths, N, loss_name, np.dtype(dtype))
        opt = mm.SGD(net.parameters(), lr=0.01)
        step = mm.TrainStep(net, loss, opt, threads=None)
        step.run(X, T)
        step.run(X, T)
        tracemalloc.reset_peak()
        step.run(X, T)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    need = must_hold(net, opt, X, T)
    return {"case": f"{'-'.join(map(str, widths))} {activation} {loss_name}, batch {N}, "
                    f"{np.dtype(dtype).name}", "must_hold_MB": need / 1e6, "peak_MB": peak / 1e6,
            "ratio": peak / need}


def main() -> int:
    print("| configuration | must hold | peak of a step | peak / must hold |")
    print("|---|---|---|---|")
    for case in CASES:
        r = measure(*case)
        print(f"| {r['case']} | {r['must_hold_MB']:.3f} MB | {r['peak_MB']:.3f} MB | {r['ratio']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
