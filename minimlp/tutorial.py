"""The two 2-2-2 sigmoid networks this project grew from, as minimlp configurations.

* ``"mazur"``: Matt Mazur, "A Step by Step Backpropagation Example" (2015).
* ``"notebook"``: the tutorial notebook minimlp started from (its weights ``layer0``/``layer1``).

Both train one sample with plain SGD, lr 0.5, and E = 1/2 * sum_k (t_k - o_k)^2, which for
one sample with two outputs equals ``MSELoss`` exactly. The published weights are in the
tutorials' ``(out, in)`` layout; ``Dense`` stores ``(in, out)``, so they are transposed here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Sigmoid
from .layers import Dense
from .sequential import Sequential


@dataclass(frozen=True)
class TutorialSetup:
    """Inputs, targets and initial parameters of a tutorial network.

    ``W_hidden``/``W_output`` are in the tutorial's ``(out, in)`` layout
    (row k holds the weights into neuron k); ``b1``/``b2`` are the hidden/output biases.
    """

    name: str
    x: tuple
    target: tuple
    W_hidden: tuple
    W_output: tuple
    b1: float
    b2: float
    lr: float = 0.5


NETWORKS = {
    "mazur": TutorialSetup("mazur", (0.05, 0.10), (0.01, 0.99),
                           ((0.15, 0.20), (0.25, 0.30)), ((0.40, 0.45), (0.50, 0.55)), 0.35, 0.60),
    "notebook": TutorialSetup("notebook", (0.15, 0.85), (0.95, 0.25),
                              ((0.1, 0.2), (0.3, 0.4)), ((0.5, 0.6), (0.7, 0.8)), 0.35, 0.60),
}


def tutorial_network(name: str = "mazur", dtype=np.float64):
    """Build a tutorial network with its published weights.

    Returns ``(net, X, T)``: ``net = Sequential(Dense(2, 2), Sigmoid(), Dense(2, 2), Sigmoid())``
    with the weights set, ``X`` of shape ``(1, 2)`` and ``T`` of shape ``(1, 2)``.
    """
    if name not in NETWORKS:
        raise ValueError(f"unknown tutorial network {name!r}; allowed: {', '.join(NETWORKS)}")
    s = NETWORKS[name]
    hidden, output = Dense(2, 2, init="zeros", dtype=dtype), Dense(2, 2, init="zeros", dtype=dtype)
    hidden.W[...] = np.array(s.W_hidden).T
    hidden.b[...] = s.b1
    output.W[...] = np.array(s.W_output).T
    output.b[...] = s.b2
    net = Sequential(hidden, Sigmoid(), output, Sigmoid())
    return net, np.array([s.x], dtype=dtype), np.array([s.target], dtype=dtype)


def weight_parameters(net: Sequential):
    """Only the weight matrices of ``net`` (to train with the biases frozen, as the tutorials do)."""
    return [p for p in net.parameters() if p.name == "W"]
