"""``minimlp demo``: the main job.

1. The tutorial network (Mazur's 2-2-2 sigmoid net): its forward values, gradients and loss
   before training, and its outputs and loss after ``--steps`` SGD steps; a diagram of it.
2. A classifier on ``spirals`` (2-64-64-3 ReLU, cross-entropy, Adam) trained in seconds; a
   loss/accuracy curve and a decision-boundary picture written into ``--out``.
"""
from __future__ import annotations

import os
import time

import numpy as np
from .. import MSELoss, plot, SGD, TrainStep
from ..tutorial import tutorial_network, weight_parameters
from ..config import check_config, check_output_dir, ConfigError
from .train import _check_plotting, run_config
from ..cli import UsageError

HELP = "train the tutorial network, then a spirals classifier, and write plots (the default command)"

#: The spirals part, as a ``minimlp train`` configuration (examples/spirals.toml is the same).
SPIRALS = {
    "data": {"name": "spirals", "n": 900, "classes": 3, "noise": 0.04, "turns": 1.0},
    "model": {"layers": "2-64-64-3", "activation": "relu", "seed": 0},
    "optimizer": {"name": "adam", "lr": 0.005},
    "training": {"loss": "cross_entropy", "epochs": 300, "batch_size": 32, "seed": 0,
                 "validation_split": 0.2, "metrics": ["accuracy"], "verbose": 0},
    "output": {"dir": "minimlp-out", "model": "model.npz",
               "history": ["history.csv"], "plots": True},
}


def add_arguments(parser) -> None:
    parser.add_argument("--steps", type=int, default=10000,
                        help="SGD steps on the tutorial network (default 10000)")
    parser.add_argument("--epochs", type=int, default=SPIRALS["training"]["epochs"],
                        help=f"epochs of the spirals classifier (default {SPIRALS['training']['epochs']})")
    parser.add_argument("--out", metavar="DIR", default="minimlp-out",
                        help="folder for the PNG plots, the model and the history (default minimlp-out)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plots")


def _fmt(a) -> str:
    return np.array2string(np.asarray(a), precision=9, floatmode="fixed", separator=", ")


def tutorial_demo(name: str = "mazur", steps: int = 10000, out=print, diagram: str | None = None) -> float:
    """Train a tutorial network with its biases frozen; print its forward values, gradients
    and loss before and after. Draws the untrained network to ``diagram`` (a PNG path) when
    given. Returns the final loss."""

    net, X, T = tutorial_network(name)
    if diagram is not None:
        plot.pyplot().close(plot.plot_network(
            net, diagram, title=f"The tutorial network ({name}) before training"))
    loss = MSELoss()
    out(f"== The tutorial network ({name}): 2-2-2 sigmoid, one sample, SGD lr 0.5, biases frozen ==")
    out(net.summary())
    Y = net.forward(X)
    E0 = loss.forward(Y, T)
    net.backward(loss.backward())
    out(f"input  x = {_fmt(X[0])}   target t = {_fmt(T[0])}")
    out(f"hidden out = {_fmt(net[2].input[0])}   output out = {_fmt(Y[0])}")
    out(f"loss E = 1/2 sum (t - o)^2 = MSE over 2 outputs = {E0:.12f}")
    out(f"dE/dW_hidden (in, out) =\n{_fmt(net[0].dW)}")
    out(f"dE/dW_output (in, out) =\n{_fmt(net[2].dW)}")
    step = TrainStep(net, loss, SGD(weight_parameters(net), lr=0.5))
    for _ in range(steps):
        step(X, T)
    Y = net.predict(X)
    E = loss.forward(Y, T)
    out(f"after {steps} steps: output out = {_fmt(Y[0])}   loss E = {E:.12g}")
    if name == "mazur":   # a learner holding the post sees other digits: say why
        out("  (the post prints 0.015912196, 0.984065734: its script updated w5..w8 before computing the "
            "hidden deltas; this is the method the post describes: docs/tutorial-errata.md, 'minimlp explain')")
    return E


def spirals_demo(epochs: int, folder: str, plots: bool = True, out=print) -> dict:
    """Train the ``SPIRALS`` configuration; returns ``run_config``'s summary."""
    raw = {section: dict(table) for section, table in SPIRALS.items()}
    raw["training"]["epochs"] = epochs
    raw["output"]["dir"] = folder
    raw["output"]["plots"] = plots
    out("")
    out("== A classifier on spirals: 900 points, 3 classes; 2-64-64-3 ReLU, cross-entropy, Adam ==")
    result = run_config(check_config(raw, where="demo"), out=out)
    out(result["history"].table(max_rows=6))
    return result


def run(args) -> int:
    if args.steps < 0:
        raise UsageError(f"--steps must be >= 0, got {args.steps}")
    if args.epochs < 1:
        raise UsageError(f"--epochs must be >= 1, got {args.epochs}")
    try:
        check_output_dir(args.out, "--out")   # before the training, not after it
    except ConfigError as e:
        raise UsageError(str(e)) from None
    if not args.no_plots:
        _check_plotting()
    start = time.perf_counter()
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create --out {args.out!r}: {e.strerror or e}") from None
    diagram = None if args.no_plots else os.path.join(args.out, "tutorial_network.png")
    tutorial_demo("mazur", args.steps, diagram=diagram)
    if diagram:
        print(f"wrote {diagram}")
    result = spirals_demo(args.epochs, args.out, plots=not args.no_plots)
    logs = result["logs"]
    print("")
    print(f"spirals: validation accuracy {100 * logs['val_accuracy']:.1f}% "
          f"(training {100 * logs['accuracy']:.1f}%) after {args.epochs} epochs; "
          f"demo finished in {time.perf_counter() - start:.1f} s")
    print(f"outputs in {os.path.abspath(args.out)}")
    return 1 if result["problems"] else 0
