"""The layer table that the contract and gradient tests run over.

Adding a layer to minimlp means adding one row here: ``(id, factory(dtype) -> layer,
input width)``. Inputs are drawn from a standard normal distribution, shifted away from 0
where a layer has a kink there (see ``KINKED``), so that central differences are valid.
"""
import numpy as np

import minimlp as mm

LAYER_CASES = [
    ("Dense", lambda dtype: mm.Dense(4, 3, rng=0, dtype=dtype), 4),
    ("Dense-nobias", lambda dtype: mm.Dense(4, 3, bias=False, rng=1, dtype=dtype), 4),
    ("Dense-pytorch-init", lambda dtype: mm.Dense(3, 5, init="pytorch", rng=2, dtype=dtype), 3),
    ("Identity", lambda dtype: mm.Identity(), 4),
    ("Sigmoid", lambda dtype: mm.Sigmoid(), 4),
    ("Tanh", lambda dtype: mm.Tanh(), 4),
    ("ReLU", lambda dtype: mm.ReLU(), 4),
    ("LeakyReLU", lambda dtype: mm.LeakyReLU(0.1), 4),
    ("Softmax", lambda dtype: mm.Softmax(), 4),
]

#: Layers not differentiable at 0: their test inputs keep |x| >= 0.05.
KINKED = {"ReLU", "LeakyReLU"}


def make_input(case_id, n, width, dtype, seed=0):
    X = np.random.default_rng(seed).standard_normal((n, width))
    if case_id in KINKED:
        X = np.where(np.abs(X) < 0.05, 0.05 * np.sign(X) + (X == 0) * 0.05, X)
    return X.astype(dtype)
