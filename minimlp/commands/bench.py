"""``minimlp bench``: training-step speed against batch size, next to the GEMM floor."""
from __future__ import annotations

import json
import platform
import statistics
import sys

import numpy as np

from ..cli import UsageError
from ..activations import activation_classes
from .. import bench
from ..step import TrainStep
from ..config import check_output_file, ConfigError, parse_widths

HELP = "time a training step over batch sizes and thread counts against its GEMM floor"

#: A row whose rounds spread more than this (interquartile range / median) is flagged noisy.
NOISY = 0.20


def add_arguments(parser) -> None:
    parser.add_argument("--layers", default="64-128-64-10",
                        help="layer widths joined by '-', input to output (default 64-128-64-10)")
    parser.add_argument("--activation", default="relu", choices=sorted(activation_classes()),
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

    try:
        widths = tuple(parse_widths(args.layers))   # the same parser as 'minimlp train'
        batch_sizes = bench.parse_batch_sizes(args.batch_sizes)
        threads = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not threads or min(threads) < 1:
        raise UsageError(f"--threads: expected positive whole numbers, got {args.threads!r}")
    if args.repeats < 1:
        raise UsageError(f"--repeats must be >= 1, got {args.repeats}")
    if args.warmup < 0:
        raise UsageError(f"--warmup must be >= 0, got {args.warmup}")
    if not args.min_time > 0:
        raise UsageError(f"--min-time must be > 0 seconds, got {args.min_time}")
    if args.budget is not None and args.budget <= 0:
        raise UsageError(f"--budget must be > 0 seconds, got {args.budget}")
    return widths, batch_sizes, threads


def _quartiles(values) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def _spread(row: dict, name: str, seconds) -> float:
    """Add the rounds' min, max and quartiles (microseconds) of ``name`` ("step" or
    "floor") to ``row``; returns the interquartile range over the median."""
    us = [t * 1e6 for t in seconds]
    q1, q3 = _quartiles(us)
    med = statistics.median(us)
    row.update({f"us_{name}_min": min(us), f"us_{name}_q1": q1, f"us_{name}_q3": q3,
                f"us_{name}_max": max(us), f"{name}_iqr_rel": (q3 - q1) / med})
    return (q3 - q1) / med


def sweep_with_spread(widths, activation, loss, batch_sizes, dtype, threads, repeats, warmup,
                      min_time, budget, seed, progress=None) -> list[dict]:
    """``bench.sweep``'s rows, timed the same way from the same pieces, with the spread of
    the rounds added: ``us_step_min``, ``_q1``, ``_q3``, ``_max`` (and the same for
    ``floor``), ``step_iqr_rel`` and ``floor_iqr_rel`` (interquartile range / median), and
    ``noisy`` (either above ``NOISY``)."""
    from threadpoolctl import threadpool_limits

    rows = []
    for n_threads in threads:
        with threadpool_limits(limits=n_threads):
            for batch in batch_sizes:
                net, loss_fn = bench.build_model(widths, activation, loss, dtype, seed)
                X, T = bench.make_data(widths, batch, loss, dtype, seed + 1)
                candidates = {"minimlp": bench.minimlp_step(net, loss_fn, X, T),
                              "floor": bench.gemm_floor(widths, batch, dtype, seed + 2)}
                t = bench.time_interleaved(candidates, repeats, warmup, min_time, budget)
                step_s, floor_s = bench.median(t["minimlp"]), bench.median(t["floor"])
                flops = bench.step_flops(widths, batch)
                row = {"threads": n_threads, "batch": batch, "us_step": step_s * 1e6,
                       "us_floor": floor_s * 1e6, "samples_per_s": batch / step_s,
                       "floor_samples_per_s": batch / floor_s, "gflops": flops / step_s / 1e9,
                       "floor_gflops": flops / floor_s / 1e9, "ratio": step_s / floor_s,
                       "rounds": len(t["minimlp"])}
                spread = max(_spread(row, "step", t["minimlp"]), _spread(row, "floor", t["floor"]))
                row["noisy"] = spread > NOISY
                rows.append(row)
                if progress is not None:
                    progress(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """``bench.format_table`` with two more columns: the spread of the step's and of the
    floor's rounds (interquartile range as a percentage of the median; ``*`` past
    ``NOISY``)."""

    lines = bench.format_table(rows).split("\n")
    extra = [("step IQR", "floor IQR")] + [
        (f"{100 * r['step_iqr_rel']:.0f}%{'*' if r['step_iqr_rel'] > NOISY else ''}",
         f"{100 * r['floor_iqr_rel']:.0f}%{'*' if r['floor_iqr_rel'] > NOISY else ''}")
        for r in rows]
    widths = [max(len(e[c]) for e in extra) for c in range(2)]
    out = [lines[0] + "".join("  " + h.rjust(w) for h, w in zip(extra[0], widths)),
           lines[1] + "".join("  " + "-" * w for w in widths)]
    for line, cells in zip(lines[2:], extra[1:]):
        out.append(line + "".join("  " + c.rjust(w) for c, w in zip(cells, widths)))
    return "\n".join(out)


def _check_outputs(args) -> None:
    """Fail before the timing, not after it: --json and --plot must be writable files and
    --plot needs matplotlib."""
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path:
            try:
                check_output_file(path, flag)
            except ConfigError as e:
                raise UsageError(str(e)) from None
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError('--plot needs matplotlib, which is not installed: pip install '
                             'matplotlib (it comes with "pip install minimlp")') from None


def _write(path: str, what: str, write) -> bool:
    """``write(path)``; an OSError (the folder changed since the check) is one line."""
    try:
        write(path)
    except OSError as e:
        print(f"minimlp bench: warning: cannot write {what} {path}: {e.strerror or e}",
              file=sys.stderr)
        return False
    print(f"wrote {path}")
    return True


def auto_threads(widths, activation, loss, dtype, batch_sizes) -> dict[int, int]:
    """The thread count ``threads="auto"`` chooses for this net at each batch size."""
    net, loss_fn = bench.build_model(widths, activation, loss, dtype)
    step = TrainStep(net, loss_fn, "sgd")
    return {b: step.thread_count(b) for b in batch_sizes}


def run(args) -> int:
    """Exit codes: 0 done; 1 a --json/--plot file could not be written after the run (the
    table is printed anyway); 2 a mistake in the flags or an unwritable --json/--plot."""

    widths, batch_sizes, threads = _parse(args)
    _check_outputs(args)
    title = (f"{'-'.join(map(str, widths))} {args.activation} {args.loss}, {args.dtype}, "
             f"SGD step (forward, loss, backward, update)")
    print(f"minimlp bench: {title}")
    print(f"numpy {np.__version__}, python {platform.python_version()}, "
          f"{platform.machine()}; {bench.blas_summary()}")
    print("threads pinned per row with threadpoolctl; medians of "
          f"{args.repeats} interleaved rounds after {args.warmup} warm-up round(s); "
          "floor = the step's GEMMs alone, same shapes, same run; IQR = the spread of the "
          "rounds (interquartile range / median)")
    rows = sweep_with_spread(widths, args.activation, args.loss, batch_sizes,
                             np.dtype(args.dtype), threads, args.repeats, args.warmup,
                             args.min_time, args.budget, args.seed,
                             progress=lambda r: print(f"  ... batch {r['batch']}, {r['threads']} "
                                                      f"thread(s): {r['us_step']:,.1f} us",
                                                      file=sys.stderr))
    print(format_table(rows))
    noisy = sum(r["noisy"] for r in rows)
    if noisy:
        print(f"note: {noisy} of {len(rows)} rows spread more than {100 * NOISY:.0f}% between "
              "rounds (marked *): their times and 'x floor' are mostly noise; rerun them with "
              "more --repeats on a quieter machine")
    if args.repeats < 4:
        print(f"note: with {args.repeats} round(s) the spread says little; use --repeats 5 or more")
    auto = auto_threads(widths, args.activation, args.loss, np.dtype(args.dtype), batch_sizes)
    print("fit and TrainStep with threads='auto' (the default) would use: "
          + ", ".join(f"batch {b}: {n}" for b, n in auto.items()) + " thread(s)")
    ok = True
    if args.json:
        report = {"config": {"layers": list(widths), "activation": args.activation,
                             "loss": args.loss, "dtype": args.dtype, "repeats": args.repeats,
                             "warmup": args.warmup, "min_time": args.min_time},
                  "numpy": np.__version__, "blas": bench.blas_info(), "rows": rows}

        def write_json(path):
            with open(path, "w") as f:
                json.dump(report, f, indent=1)
        ok &= _write(args.json, "--json", write_json)
    if args.plot:
        ok &= _write(args.plot, "--plot", lambda path: bench.plot_sweep(rows, path, title))
    return 0 if ok else 1
