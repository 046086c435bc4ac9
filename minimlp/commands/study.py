"""``minimlp study batch-size``: steps and seconds to a target at every batch size."""
from __future__ import annotations
from . import train
from ..cli import UsageError
from ..config import ConfigError
from ..study import batch_size_study

HELP = "batch-size study: steps and seconds to a target at every batch size (local or Dask)"

EPILOG = """\
examples:
  minimlp study batch-size --data digits --layers 64-64-10 --batch-sizes 8,16,...,256 \\
      --lrs sqrt:0.003@32:0.5,1,2 --seeds 2 --target val_accuracy=0.9 --max-steps 2000 --out study
  minimlp study batch-size --config examples/spirals.toml --batch-sizes 4,...,256 \\
      --lrs 0.003,0.01,0.03 --target val_loss=0.3 --scheduler tcp://10.0.0.5:8786

The training config is read exactly as 'minimlp train' reads it (--config FILE and the same
flags; --epochs and --batch-size are not used: --max-steps and --batch-sizes replace them).
Learning rates: a list (0.001,0.01), or RULE:BASE@REF[:FACTORS] with RULE linear, sqrt or
const, e.g. sqrt:0.01@32:0.5,1,2 tries 0.01*sqrt(B/32) times 0.5, 1 and 2 at batch size B.
Writes DIR/trials.csv (one row per trial, streamed; a study started again skips the rows
there), DIR/summary.md, DIR/steps_to_target.png and DIR/seconds_to_target.png.
A cluster: 'dask scheduler' on one machine, 'dask worker tcp://HOST:8786 --nthreads 1' on
each worker machine (minimlp installed there too); see docs/batch-size.md.
"""


def add_arguments(parser) -> None:
    train.add_arguments(parser)   # the training config, exactly as 'minimlp train' takes it
    parser.epilog = EPILOG
    parser.add_argument("study", choices=("batch-size",), help="what to study")
    g = parser.add_argument_group("study")
    g.add_argument("--batch-sizes", metavar="LIST", default="8,16,...,512",
                   help="batch sizes, e.g. 8,16,...,512 (doubling) or 10,100,1000 (default 8,16,...,512)")
    g.add_argument("--lrs", metavar="LIST|RULE", default=None,
                   help="learning rates at each batch size: a list, or RULE:BASE@REF[:FACTORS] "
                        "(default: the config's lr at every batch size)")
    g.add_argument("--seeds", type=int, default=2, metavar="N", help="seeds per setting (default 2)")
    g.add_argument("--target", default="val_accuracy=0.9", metavar="METRIC=VALUE",
                   help="what to reach: val_accuracy=0.9, val_loss=0.1, ... (default val_accuracy=0.9)")
    g.add_argument("--max-steps", type=int, default=2000, metavar="N",
                   help="step budget of each trial (default 2000)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: the number of cores; 1: in this process)")
    g.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask scheduler address, e.g. tcp://HOST:8786: run the trials on that cluster")
    g.add_argument("--eval-growth", type=float, default=1.1, metavar="R",
                   help="check the target after steps 1..10, then every R times more steps (default 1.1)")
    g.add_argument("--no-bench", action="store_true",
                   help="seconds to target from the trials' own step times, without timing steps here")


def run(args) -> int:
    import os
    if args.list:
        print(train.list_choices())
        return 0
    if args.out is None:
        args.out = "minimlp-study"
    try:
        config = train.build_config(args)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    lrs = args.lrs if args.lrs is not None else repr(float(config["optimizer"].get("lr", 0.01)))
    try:
        batch_size_study(config, batch_sizes=args.batch_sizes, lrs=lrs, seeds=args.seeds,
                         target=args.target, max_steps=args.max_steps, workers=args.workers,
                         scheduler=args.scheduler, out=config["output"]["dir"] or os.curdir,
                         eval_growth=args.eval_growth, bench=not args.no_bench,
                         progress=config["training"]["verbose"] != 0,
                         plots=config["output"]["plots"])
    except (ConfigError, ValueError, TypeError, ImportError) as e:
        raise UsageError(str(e)) from None
    return 0
