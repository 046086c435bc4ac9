"""Per-sample weights for any loss: ``SampleWeighted(loss)``, Keras' ``sample_weight``.

Each sample's loss is multiplied by its weight ``w_n``, and the batch loss is the wrapped
loss's own reduction of the weighted values::

    L = sum_n w_n l_n / M        dL/dY[n] = w_n * (d/dY[n] of the wrapped loss)

``l_n`` is sample n's summed loss (``sum_k`` of its elements for a per-element loss such as
``MSELoss``; the per-sample value of ``CrossEntropyLoss``), and ``M`` the number the wrapped
loss's mean divides by: ``N * D`` for a per-element loss, ``N`` for a per-sample one (for
``CrossEntropyLoss``/``NLLLoss`` with ``weight=`` or ignored labels, the sum of the counted
labels' class weights, as torch). For a per-element loss this is Keras' reduction
``"sum_over_batch_size"``: the mean over the batch of ``w_n`` times the mean over sample
n's outputs. With ``reduction="sum"`` ``M = 1``. Weights of 1 give the unweighted loss, and
the unweighted gradient bit for bit: the wrapped loss computes it and each row is scaled.

The targets of a ``SampleWeighted`` loss are the pair ``(T, w)``: ``loss.forward(Y, T, w)``,
``TrainStep(model, SampleWeighted(loss), opt)(X, (T, w))``; ``fit(..., sample_weight=w)``
builds one and passes the pairs itself.
"""
from __future__ import annotations

import copy

import numpy as np

from ._checks import all_finite
from .layer import Array
from .losses import Loss, get_loss

__all__ = ["SampleWeighted", "check_sample_weight"]


def check_sample_weight(w, N: int, dtype, owner: str = "fit") -> Array:
    """``w`` as a 1-D array of ``dtype`` with one finite weight ``>= 0`` per row (``N``),
    not all 0 (numbers or booleans); anything else raises ValueError/TypeError naming
    ``sample_weight``."""
    try:
        a = np.asarray(w)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{owner}: sample_weight must be an array of {N} numbers, could not "
                        f"convert it: {err}") from None
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{owner}: sample_weight must hold real numbers (one weight per row), "
                        f"got dtype {a.dtype}")
    if a.shape != (N,):
        hint = " (pass a 1-D array: w.ravel(); shapes never broadcast)" if a.size == N else ""
        raise ValueError(f"{owner}: sample_weight must have shape ({N},), one weight per row of "
                         f"X, got shape {a.shape}{hint}")
    if not all_finite(a):
        bad = int(np.argwhere(~np.isfinite(a))[0, 0])
        raise ValueError(f"{owner}: sample_weight must be finite, got {a[bad]} at row {bad}")
    if N and a.min() < 0:
        bad = int(np.argmin(a))
        raise ValueError(f"{owner}: sample_weight must be >= 0, got {a[bad]} at row {bad}")
    if not a.any():
        raise ValueError(f"{owner}: sample_weight is all 0, so every sample's loss would "
                         "vanish; at least one weight must be > 0")
    return a.astype(dtype, copy=False)


class SampleWeighted(Loss):
    """``loss`` with a weight per sample (Keras' ``sample_weight``): ``L = sum_n w_n l_n / M``,
    for a mean the mean over the batch of the weighted per-sample losses.

    ``l_n`` is sample n's summed loss and ``M`` what ``loss``'s mean divides by (``N * D``
    per element, ``N`` per sample; the module docstring has the details)::

        dL/dY[n] = w_n * dloss/dY[n]

    Shapes: ``Y (N, D)``; ``T`` as ``loss`` takes it; ``sample_weight (N,)``.

    ``forward(Y, T, sample_weight)`` returns the float ``L`` for predictions ``Y (N, D)``,
    the targets ``T`` that ``loss`` takes and weights ``sample_weight (N,)`` (finite,
    ``>= 0``); ``backward()`` returns ``dL/dY`` of shape ``(N, D)``, row n the wrapped loss's
    gradient times ``w_n`` (a buffer reused from call to call).

    Parameters
    ----------
    loss : Loss or a loss name, with ``reduction="mean"`` (``M`` as above) or ``"sum"``
        (``M = 1``). It is not changed; a copy with ``reduction="none"`` gives the values.
    """

    def __init__(self, loss):
        loss = get_loss(loss, "SampleWeighted")
        if isinstance(loss, SampleWeighted):
            raise TypeError(f"SampleWeighted: {loss!r} is already weighted")
        if loss.reduction == "none":
            raise ValueError(f"SampleWeighted: {loss!r} returns unreduced values; wrap a loss "
                             "with reduction='mean' or 'sum'")
        super().__init__(loss.reduction)
        self.loss = loss
        # The values come from a copy with its own buffers (it shares the read-only options).
        self._values_of = copy.copy(loss)
        for k, v in list(vars(self._values_of).items()):
            if k.startswith("_") and isinstance(v, np.ndarray):
                delattr(self._values_of, k)
        self._values_of.reduction = "none"
        self._per_sample = loss._per_sample

    def forward(self, Y: Array, T, sample_weight=None) -> float:
        """The weighted loss of ``Y`` (N, D) against ``T`` with ``sample_weight`` (N,)."""
        if sample_weight is None:
            raise TypeError(f"{self!r}: forward(Y, T, sample_weight) needs the weights "
                            "(for the unweighted loss call the wrapped loss itself)")
        value = super().forward(Y, (T, sample_weight))
        if self._empty:
            self._Y = None                      # nothing for backward to use
            raise ValueError(f"{self!r}: every label of this batch is ignore_index or has class "
                             "weight 0, so the mean divides by 0 (fit takes a zero loss and "
                             "gradient for such a batch)")
        return value

    def check_targets(self, TW, shape: tuple, dtype):
        """The pair ``(T, w)`` checked: ``T`` by the wrapped loss, ``w`` (N,) by
        ``check_sample_weight``; returns the checked pair."""
        if not isinstance(TW, tuple) or len(TW) != 2:
            raise TypeError(f"{self!r}: targets must be the pair (T, sample_weight), got "
                            f"{type(TW).__name__}")
        T, w = TW
        return (self.loss.check_targets(T, shape, dtype),
                check_sample_weight(w, shape[0], dtype, repr(self)))

    def _forward(self, Y: Array, TW) -> float:
        T, w = TW
        self.loss._forward(Y, T)                    # the unweighted gradient, as fit computes it
        vo = self._values_of                        # the values, (N,) or (N, D), fresh
        V = vo._forward_none(Y, T) if self._per_sample else vo._values(Y, T)
        l = V if V.ndim == 1 else np.add.reduce(V, axis=1)
        M = self._denominator(Y, T)
        self._Y, self._w, self._scaled, self._empty = Y, w, False, M == 0.0
        return 0.0 if M == 0.0 else float(np.dot(w, l)) / M

    def _backward(self) -> Array:
        # Once per forward: some losses refill their buffer on every _backward call.
        if not self._scaled:
            G = self._dY = self.loss._backward()
            G *= self._w[:, None]
            self._scaled = True
        return self._dY

    def _denominator(self, Y: Array, T: Array) -> float:
        """What the wrapped loss's mean divides its summed values by (1 for a sum)."""
        loss = self.loss
        if loss.reduction == "sum":
            return 1.0
        if not loss._per_sample:
            return float(Y.size)
        if T.ndim == 2:                             # probability targets: the rows
            return float(Y.shape[0])
        counted = T != loss.ignore_index
        weight = getattr(loss, "weight", None)
        if weight is None:
            return float(np.count_nonzero(counted))
        return float(np.add.reduce(weight.astype(Y.dtype)[T[counted]]))

    def __repr__(self) -> str:
        return f"SampleWeighted({self.loss!r})"
