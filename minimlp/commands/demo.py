"""``minimlp demo``: the main job."""
from __future__ import annotations

import numpy as np

HELP = "train the tutorial network and show every number (the default command)"


def add_arguments(parser) -> None:
    parser.add_argument("--steps", type=int, default=10000,
                        help="SGD steps on the tutorial network (default 10000)")


def _fmt(a) -> str:
    return np.array2string(np.asarray(a), precision=9, floatmode="fixed", separator=", ")


def tutorial_demo(name: str = "mazur", steps: int = 10000, out=print) -> float:
    """Train a tutorial network with its biases frozen; print its forward values, gradients
    and loss before and after. Returns the final loss."""
    from .. import MSELoss, SGD
    from ..tutorial import tutorial_network, weight_parameters

    net, X, T = tutorial_network(name)
    loss = MSELoss()
    out(f"== The tutorial network ({name}): 2-2-2 sigmoid, one sample, SGD lr 0.5, biases frozen ==")
    out(net.summary())
    Y = net.forward(X)
    E0 = loss.forward(Y, T)
    net.backward(loss.backward())
    out(f"input  x = {_fmt(X[0])}   target t = {_fmt(T[0])}")
    out(f"hidden out = {_fmt(net[2]._X[0])}   output out = {_fmt(Y[0])}")
    out(f"loss E = 1/2 sum (t - o)^2 = MSE over 2 outputs = {E0:.12f}")
    out(f"dE/dW_hidden (in, out) =\n{_fmt(net[0].dW)}")
    out(f"dE/dW_output (in, out) =\n{_fmt(net[2].dW)}")
    opt = SGD(weight_parameters(net), lr=0.5)
    for _ in range(steps):
        loss.forward(net.forward(X), T)
        net.backward(loss.backward())
        opt.step()
    Y = net.predict(X)
    E = loss.forward(Y, T)
    out(f"after {steps} steps: output out = {_fmt(Y[0])}   loss E = {E:.12g}")
    return E


def run(args) -> int:
    tutorial_demo("mazur", args.steps)
    return 0
