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
    ("LogSoftmax", lambda dtype: mm.LogSoftmax(), 4),
    ("GELU", lambda dtype: mm.GELU(), 4),
    ("GELU-tanh", lambda dtype: mm.GELU(approximate="tanh"), 4),
    ("ELU", lambda dtype: mm.ELU(), 4),
    ("ELU-alpha", lambda dtype: mm.ELU(alpha=0.5), 4),
    ("Softplus", lambda dtype: mm.Softplus(), 4),
    ("Softplus-beta", lambda dtype: mm.Softplus(beta=2.0, threshold=3.0), 4),
    ("SiLU", lambda dtype: mm.SiLU(), 4),
    ("PReLU", lambda dtype: _perturbed(mm.PReLU(dtype=dtype)), 4),
    ("PReLU-per-feature", lambda dtype: _perturbed(mm.PReLU(4, init=0.1, dtype=dtype)), 4),
    ("Dropout", lambda dtype: _frozen(mm.Dropout(0.3, rng=0)), 4),
    ("BatchNorm1d", lambda dtype: _perturbed(mm.BatchNorm1d(4, dtype=dtype)), 4),
    ("BatchNorm1d-noaffine", lambda dtype: mm.BatchNorm1d(3, affine=False, momentum=0.2, dtype=dtype), 3),
    ("LayerNorm", lambda dtype: _perturbed(mm.LayerNorm(5, dtype=dtype)), 5),
    ("BatchNorm1d-cumulative", lambda dtype: _perturbed(mm.BatchNorm1d(4, momentum=None, dtype=dtype)), 4),
    ("LayerNorm-nobias", lambda dtype: _perturbed(mm.LayerNorm(5, bias=False, dtype=dtype)), 5),
    ("LayerNorm-noaffine", lambda dtype: mm.LayerNorm(4, eps=1e-3, elementwise_affine=False, dtype=dtype), 4),
]

#: Layers not differentiable at 0: their test inputs keep |x| >= 0.05.
KINKED = {"ReLU", "LeakyReLU", "ELU-alpha", "Softplus-beta", "PReLU", "PReLU-per-feature"}

#: Layers that need more than one sample per training batch (batch statistics).
MIN_TRAIN_BATCH = {"BatchNorm1d": 2, "BatchNorm1d-noaffine": 2, "BatchNorm1d-cumulative": 2}


def _frozen(dropout):
    """Dropout with a mask fixed while the input shape stays (a gradient check needs a fixed
    function); the first mask still comes from the seeded generator."""
    dropout.freeze_mask = True
    return dropout


def _perturbed(layer):
    """A normalization layer with gamma, beta away from their 1/0 start, so that a gradient
    that mixes them up cannot pass."""
    rng = np.random.default_rng(7)
    for p in layer.parameters():
        p.value[...] = rng.uniform(0.5, 1.5, size=p.shape) * rng.choice([-1, 1], size=p.shape)
    return layer


def make_input(case_id, n, width, dtype, seed=0):
    X = np.random.default_rng(seed).standard_normal((n, width))
    if case_id in KINKED:
        X = np.where(np.abs(X) < 0.05, 0.05 * np.sign(X) + (X == 0) * 0.05, X)
    return X.astype(dtype)
