"""``minimlp bench``: training-step speed against batch size, next to the GEMM floor."""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np

from ..cli import UsageError

HELP = "time a training step over batch sizes and thread counts against its GEMM floor"


def add_arguments(parser) -> None:
    parser.add_argument("--layers", default="64-128-64-10",
                        help="layer widths, input to output (default 64-128-64-10)")
    parser.add_argument("--activation", default="relu", choices=("relu", "sigmoid", "tanh"),
                        help="activation after every hidden layer (default relu)")
    parser.add_argument("--loss", default="ce", choices=("ce", "mse"),
                        help="ce: softmax cross-entropy on labels; mse: mean squared error "
                        "(default ce)")
    parser.add_argument("--batch-sizes", default="1,2,4,...,256",
                        help="comma list; 'a,...,z' doubles from a up to z "
                        "(default 1,2,4,...,256)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"),
                        help="dtype of the parameters and the data (default float32)")
    parser.add_argument("--threads", default="1",
                        help="BLAS thread counts to compare, comma list (default 1)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed rounds per point; the median is reported (default 5)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="rounds discarded before timing (default 1)")
    parser.add_argument("--min-time", type=float, default=0.005,
                        help="seconds one timed block lasts at least (default 0.005)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per point after which rounds stop (at least 3 rounds)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random weights and data (seed + 1 for the data; default 0)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="PATH",
                        help="also plot samples/s and GFLOP/s against batch size (PNG)")


def _parse(args):
    from .. import bench

    try:
        widths = bench.parse_layers(args.layers)
        batch_sizes = bench.parse_batch_sizes(args.batch_sizes)
        threads = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not threads or min(threads) < 1:
        raise UsageError(f"--threads: expected positive whole numbers, got {args.threads!r}")
    if args.repeats < 1 or args.warmup < 0 or args.min_time <= 0:
        raise UsageError("--repeats must be >= 1, --warmup >= 0 and --min-time > 0")
    if args.budget is not None and args.budget <= 0:
        raise UsageError(f"--budget must be > 0 seconds, got {args.budget}")
    return widths, batch_sizes, threads


def run(args) -> int:
    from .. import bench

    widths, batch_sizes, threads = _parse(args)
    for path in (args.json, args.plot):   # fail before the timing, not after it
        if path:
            folder = Path(path).resolve().parent
            if not folder.is_dir():
                raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    title = (f"{'-'.join(map(str, widths))} {args.activation} {args.loss}, {args.dtype}, "
             f"SGD step (forward, loss, backward, update)")
    print(f"minimlp bench: {title}")
    print(f"numpy {np.__version__}, python {platform.python_version()}, "
          f"{platform.machine()}; {bench.blas_summary()}")
    print("threads pinned per row with threadpoolctl; medians of "
          f"{args.repeats} interleaved rounds after {args.warmup} warm-up round(s); "
          "floor = the step's GEMMs alone, same shapes, same run")
    rows = bench.sweep(widths, args.activation, args.loss, batch_sizes, np.dtype(args.dtype),
                       threads, args.repeats, args.warmup, args.min_time, args.budget, args.seed,
                       progress=lambda r: print(f"  ... batch {r['batch']}, {r['threads']} "
                                                f"thread(s): {r['us_step']:,.1f} us", file=sys.stderr))
    print(bench.format_table(rows))
    if args.json:
        report = {"config": {"layers": list(widths), "activation": args.activation,
                             "loss": args.loss, "dtype": args.dtype, "repeats": args.repeats,
                             "warmup": args.warmup, "min_time": args.min_time},
                  "numpy": np.__version__, "blas": bench.blas_info(), "rows": rows}
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        bench.plot_sweep(rows, args.plot, title)
        print(f"wrote {args.plot}")
    return 0
