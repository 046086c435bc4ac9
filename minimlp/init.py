"""Weight initializers.

Each initializer is a function ``init(fan_in, fan_out, rng, dtype) -> W`` returning an array
of shape ``(fan_in, fan_out)``; ``rng`` is a ``numpy.random.Generator`` (the global RNG is
never used). ``Dense(init=...)`` takes one of the names in ``INITIALIZERS`` or such a function.

=====================  ============================================  =====================
name                   distribution of each weight                    suits
=====================  ============================================  =====================
``glorot_uniform``     U(-a, a),  a = sqrt(6 / (fan_in + fan_out))    sigmoid, tanh (default)
``glorot_normal``      N(0, 2 / (fan_in + fan_out))                   sigmoid, tanh
``he_uniform``         U(-a, a),  a = sqrt(6 / fan_in)                ReLU family
``he_normal``          N(0, 2 / fan_in)                               ReLU family
``lecun_uniform``      U(-a, a),  a = sqrt(3 / fan_in)                SELU, linear
``lecun_normal``       N(0, 1 / fan_in)                               SELU, linear
``pytorch``            U(-1/sqrt(fan_in), 1/sqrt(fan_in))             ``torch.nn.Linear``
``zeros``              0                                              tests, frozen layers
=====================  ============================================  =====================

The default is ``glorot_uniform`` (Keras' default): it keeps the variance of activations
and gradients balanced for the sigmoid and tanh layers the tutorial networks use, and works
well enough for shallow ReLU nets; use ``he_*`` for deep ReLU stacks. With ``init="pytorch"``
``Dense`` also draws its bias from the same interval, as ``torch.nn.Linear`` does; every other
initializer leaves biases at zero.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Initializer = Callable[[int, int, np.random.Generator, np.dtype], np.ndarray]


def as_generator(rng) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, a Generator, or ``None`` (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def _uniform(limit: float, fan_in, fan_out, rng, dtype):
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype, copy=False)


def _normal(std: float, fan_in, fan_out, rng, dtype):
    return (std * rng.standard_normal((fan_in, fan_out))).astype(dtype, copy=False)


def glorot_uniform(fan_in, fan_out, rng, dtype=np.float64):
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    return _uniform(np.sqrt(6.0 / (fan_in + fan_out)), fan_in, fan_out, rng, dtype)


def glorot_normal(fan_in, fan_out, rng, dtype=np.float64):
    """N(0, std^2) with std = sqrt(2 / (fan_in + fan_out))."""
    return _normal(np.sqrt(2.0 / (fan_in + fan_out)), fan_in, fan_out, rng, dtype)


def he_uniform(fan_in, fan_out, rng, dtype=np.float64):
    """U(-a, a) with a = sqrt(6 / fan_in) (He et al., 2015)."""
    return _uniform(np.sqrt(6.0 / fan_in), fan_in, fan_out, rng, dtype)


def he_normal(fan_in, fan_out, rng, dtype=np.float64):
    """N(0, std^2) with std = sqrt(2 / fan_in)."""
    return _normal(np.sqrt(2.0 / fan_in), fan_in, fan_out, rng, dtype)


def lecun_uniform(fan_in, fan_out, rng, dtype=np.float64):
    """U(-a, a) with a = sqrt(3 / fan_in)."""
    return _uniform(np.sqrt(3.0 / fan_in), fan_in, fan_out, rng, dtype)


def lecun_normal(fan_in, fan_out, rng, dtype=np.float64):
    """N(0, std^2) with std = sqrt(1 / fan_in)."""
    return _normal(np.sqrt(1.0 / fan_in), fan_in, fan_out, rng, dtype)


def pytorch(fan_in, fan_out, rng, dtype=np.float64):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the default of ``torch.nn.Linear``."""
    return _uniform(1.0 / np.sqrt(fan_in), fan_in, fan_out, rng, dtype)


def zeros(fan_in, fan_out, rng, dtype=np.float64):
    """All zeros (a network started here cannot break symmetry; for tests)."""
    return np.zeros((fan_in, fan_out), dtype=dtype)


INITIALIZERS: dict[str, Initializer] = {
    f.__name__: f
    for f in (glorot_uniform, glorot_normal, he_uniform, he_normal,
              lecun_uniform, lecun_normal, pytorch, zeros)
}
INITIALIZERS["xavier_uniform"] = glorot_uniform
INITIALIZERS["xavier_normal"] = glorot_normal
INITIALIZERS["kaiming_uniform"] = he_uniform
INITIALIZERS["kaiming_normal"] = he_normal
INITIALIZERS["lecun"] = lecun_normal


def get_initializer(init: str | Initializer) -> Initializer:
    """Look up an initializer by name, or pass a callable through."""
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]
    raise ValueError(f"unknown initializer {init!r}; allowed: {', '.join(sorted(INITIALIZERS))}")
