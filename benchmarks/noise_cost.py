"""Cost of a training step that also computes every sample's gradient norm.

Times, interleaved in one run (minimlp.bench.time_interleaved, BLAS pinned with
threadpoolctl), on a 784-512-512-10 ReLU MLP at batch 128 in float32:

- ``step``: a normal training step, the hot path ``fit`` uses (``minimlp.bench.minimlp_step``;
  ``minimlp.step.TrainStep`` when the engine has one);
- ``step+norms``: ``minimlp.noise.per_example_grad_norms`` (forward and backward layer by
  layer through the public methods, plus the per-sample norms) and the same SGD update.

Goal: step+norms <= 1.10x step. A step that does not ask for the norms runs no extra code.

    python benchmarks/noise_cost.py [--threads 1] [--repeats 9]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

import minimlp as mm  # noqa: E402
from minimlp import bench  # noqa: E402
from minimlp.noise import per_example_grad_norms  # noqa: E402


def candidates(widths=(784, 512, 512, 10), batch=128, dtype=np.float32):
    net, loss = bench.build_model(widths, "relu", "ce", dtype, seed=0)
    X, T = bench.make_data(widths, batch, "ce", dtype, seed=1)
    plain = bench.minimlp_step(net, loss, X, T)

    net2, loss2 = bench.build_model(widths, "relu", "ce", dtype, seed=0)
    opt = mm.SGD(net2.parameters(), lr=0.01)

    def with_norms():
        per_example_grad_norms(net2, loss2, X, T)
        opt.step()

    return {"step": plain, "step+norms": with_norms}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=9)
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=args.threads):
        t = bench.time_interleaved(candidates(), repeats=args.repeats, warmup=2, min_time=0.2)
        blas = bench.blas_summary()   # inside the limit: the threads it ran with
    base = statistics.median(t["step"])
    rows = {k: statistics.median(v) for k, v in t.items()}
    ratios = [b / a for a, b in zip(t["step"], t["step+norms"])]
    print(f"784-512-512-10, batch 128, float32, {args.threads} BLAS thread(s); {blas}")
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    for k, v in rows.items():
        print(f"{k:>11}: {v * 1e3:8.2f} ms per step (median of {len(t[k])} rounds)")
    print(f"step+norms / step: {rows['step+norms'] / base:.3f}x (per-round ratios: median "
          f"{statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}); goal <= 1.10x")
    return {"ratio": rows["step+norms"] / base, "rows": rows}


if __name__ == "__main__":
    main()
