"""What a batch-size study costs beyond its trainings, and what two local workers save.

1. Overhead: the wall time of ``batch_size_study(workers=1)`` (data preparation, results
   file, summary; no plots, no step timing) against the same trials run back to back as bare
   ``run_trial`` calls. Goal: at most 5% more.
2. Parallelism: ``workers=2`` against ``workers=1``. Goal: at most 0.6x the serial wall time
   on 2 free cores.

Interleaved rounds (bare, serial study, 2-worker study), medians reported, in wall seconds
and (for the runs in this process) CPU seconds, which the neighbours' load does not
inflate. The load average is printed: on a busy shared machine the parallel figure only
shows how much CPU the neighbours left.

    python benchmarks/study_overhead.py [--rounds 3] [--max-steps 400]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from minimlp import study  # noqa: E402
from minimlp.config import check_config  # noqa: E402


def config():
    return check_config({"data": {"name": "digits"}, "model": {"layers": "64-64-10"},
                         "optimizer": {"name": "adam", "lr": 0.003},
                         "training": {"validation_split": 0.2, "verbose": 0}})


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--max-steps", type=int, default=400)
    args = p.parse_args(argv)
    kw = dict(batch_sizes=[8, 16, 32, 64, 128, 256], lrs="sqrt:0.003@32:0.5,2", seeds=2,
              target="val_accuracy=0.97", max_steps=args.max_steps, bench=False, plots=False,
              progress=False, say=lambda *a: None)
    cfg = config()
    data = study.prepare_data(cfg, say=lambda *a: None)
    specs = [{"config": cfg, "batch_size": B, "lr": lr, "seed": s, "target": kw["target"],
              "max_steps": args.max_steps, "eval_growth": 1.1}
             for B in kw["batch_sizes"] for lr in study.parse_lrs(kw["lrs"]).rates(B) for s in range(2)]
    times = {"bare trials": [], "study, 1 worker": [], "study, 2 workers": []}
    cpu = {"bare trials": [], "study, 1 worker": []}   # CPU seconds of this process
    steps = 0
    for _ in range(args.rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        rows = [study.run_trial(s, data) for s in specs]
        times["bare trials"].append(time.perf_counter() - t0)
        cpu["bare trials"].append(time.process_time() - c0)
        steps = sum(r["steps"] for r in rows)
        for label, workers in (("study, 1 worker", 1), ("study, 2 workers", 2)):
            with tempfile.TemporaryDirectory() as out:
                t0, c0 = time.perf_counter(), time.process_time()
                study.batch_size_study(cfg, workers=workers, out=out, **kw)
                times[label].append(time.perf_counter() - t0)
                if workers == 1:
                    cpu[label].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in times.items()}
    load = os.getloadavg()
    print(f"{len(specs)} trials ({steps} steps), digits 64-64-10, {args.rounds} rounds; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    for k, v in times.items():
        print(f"{k:>17}: median {med[k]:.2f} s  (rounds: {', '.join(f'{x:.2f}' for x in v)})")
    for k, v in cpu.items():
        print(f"{k:>17}: median {statistics.median(v):.2f} CPU s (rounds: {', '.join(f'{x:.2f}' for x in v)})")
    overhead = med["study, 1 worker"] / med["bare trials"] - 1
    overhead_cpu = statistics.median(cpu["study, 1 worker"]) / statistics.median(cpu["bare trials"]) - 1
    print(f"study overhead in CPU seconds (immune to the neighbours' load): {overhead_cpu:+.1%}")
    speed = med["study, 2 workers"] / med["study, 1 worker"]
    print(f"study overhead over its trainings: {overhead:+.1%} (goal <= 5%)")
    print(f"2 workers / serial wall time: {speed:.2f}x (goal <= 0.6x on 2 free cores)")
    return {"overhead": overhead, "overhead_cpu": overhead_cpu, "parallel": speed, "times": times}


if __name__ == "__main__":
    main()
