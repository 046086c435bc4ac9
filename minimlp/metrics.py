"""Metrics: plain functions ``metric(Y, T) -> float`` that score predictions against targets.

Every metric here is a *mean over the samples* of the batch, so ``fit`` and ``evaluate`` can
combine batches exactly with the sample-weighted mean ``sum_b N_b m_b / sum_b N_b``. A
metric of your own (any callable ``f(Y, T) -> float`` with a ``__name__``) should be one too.

``Y`` is what the model outputs, shape ``(N, D)``; ``T`` the targets as the loss accepts
them: integer class labels ``(N,)``, one-hot or probability rows ``(N, C)``, or values
``(N, D)`` for regression.

==================  ============================================  ==================
name                formula                                        for
==================  ============================================  ==================
``accuracy``        1/N sum_n [predicted class_n == true class_n]   classification
``mae``             1/(N D) sum_{n,k} abs(Y[n,k] - T[n,k])          regression
``mse``             1/(N D) sum_{n,k} (Y[n,k] - T[n,k])^2           regression
==================  ============================================  ==================

Names are case-insensitive; ``acc`` and ``binary_accuracy`` are aliases of ``accuracy``
(``METRIC_ALIASES``) and log under that name (``"accuracy"``, ``"val_accuracy"``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Array = np.ndarray
Metric = Callable[[Array, Array], float]


def accuracy(Y: Array, T: Array, *, threshold: float = 0.5) -> float:
    """Fraction of samples whose predicted class is the true class.

    Predicted class: ``argmax_k Y[n, k]`` for ``D >= 2`` columns; for one column
    ``Y[n, 0] > threshold`` (0.5 for probabilities, 0.0 for logits: ``fit`` picks 0.0 when
    the loss is ``BCEWithLogitsLoss``). True class: ``T[n]`` for integer labels ``(N,)``,
    ``argmax_k T[n, k]`` for one-hot rows ``(N, D)``, ``T[n, 0] > 0.5`` for one column.

    Shapes: ``Y (N, D)``, ``T (N,)`` or ``(N, D)``; returns a float in [0, 1].
    """
    N, D = Y.shape
    if D == 1:
        pred = Y[:, 0] > threshold
        true = (T[:, 0] if T.ndim == 2 else T) > 0.5
    else:
        pred = Y.argmax(axis=1)
        true = T if T.ndim == 1 else T.argmax(axis=1)
    return np.count_nonzero(pred == true) / N


def _same_shape(name: str, Y: Array, T: Array) -> None:
    # Never broadcast: (N, C) - (N,) would silently give a number when N == C.
    if Y.shape != T.shape:
        raise ValueError(f"metric {name!r}: targets must have the shape of the predictions "
                         f"{Y.shape}, got {T.shape} (for class labels use 'accuracy')")


def mae(Y: Array, T: Array) -> float:
    """Mean absolute error over all elements: ``1/(N D) sum |Y - T|``. Shapes ``Y, T (N, D)``."""
    _same_shape("mae", Y, T)
    D = np.subtract(Y, T)
    np.abs(D, out=D)
    return float(D.sum()) / D.size


def mse(Y: Array, T: Array) -> float:
    """Mean squared error over all elements: ``1/(N D) sum (Y - T)^2``. Shapes ``Y, T (N, D)``."""
    _same_shape("mse", Y, T)
    D = np.subtract(Y, T)
    return float(np.vdot(D, D)) / D.size


#: Other accepted names of metrics: alias -> the name the metric logs under.
METRIC_ALIASES: dict[str, str] = {"acc": "accuracy", "binary_accuracy": "accuracy"}

_CANONICAL: dict[str, Metric] = {"accuracy": accuracy, "mae": mae, "mse": mse}

#: Every metric name ``fit(metrics=[...])``, configs and the command line accept, aliases
#: included (an alias maps to the same function and logs under its canonical name).
METRICS: dict[str, Metric] = {**_CANONICAL,
                              **{a: _CANONICAL[c] for a, c in METRIC_ALIASES.items()}}


def _allowed() -> str:
    """``"accuracy (or acc, binary_accuracy), mae, mse"`` for error messages."""
    parts = []
    for name in _CANONICAL:
        aliases = [a for a, c in METRIC_ALIASES.items() if c == name]
        parts.append(f"{name} (or {', '.join(aliases)})" if aliases else name)
    return ", ".join(parts)

#: Metrics where larger is better (``EarlyStopping(mode="auto")`` maximizes them).
HIGHER_IS_BETTER = frozenset({"accuracy"})


def get_metric(metric, *, logits: bool = False) -> tuple[str, Metric]:
    """``(name, function)`` for a metric name from ``METRICS`` or a callable ``f(Y, T)``;
    an alias gives its canonical name (``"acc"`` -> ``"accuracy"``).

    ``logits=True`` makes one-column ``accuracy`` threshold at 0 (the model outputs logits).
    """
    if isinstance(metric, str):
        key = metric.lower()
        key = METRIC_ALIASES.get(key, key)
        if key not in _CANONICAL:
            raise ValueError(f"fit: unknown metric {metric!r}; allowed: {_allowed()} "
                             "(or a function f(Y, T) -> float)")
        fn = _CANONICAL[key]
        if fn is accuracy and logits:
            def accuracy_logits(Y, T):
                return accuracy(Y, T, threshold=0.0)
            return key, accuracy_logits
        return key, fn
    if callable(metric):
        name = getattr(metric, "__name__", None)
        if not name or name == "<lambda>":
            raise ValueError("fit: a metric function needs a name (def my_metric(Y, T): ...), "
                             f"got {metric!r}")
        return name, metric
    raise TypeError(f"fit: a metric must be a name ({_allowed()}) or a function "
                    f"f(Y, T) -> float, got {type(metric).__name__}")
