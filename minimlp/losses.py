"""Loss functions: ``MSELoss``, ``CrossEntropyLoss``, ``BCEWithLogitsLoss``, ``L1Loss``,
``HuberLoss``, ``BCELoss``.

A loss maps predictions ``Y`` of shape ``(N, D)`` and targets ``T`` to a Python float with
``forward(Y, T)``; ``backward()`` then returns ``dL/dY`` of shape ``(N, D)``. The ``1/N`` of
a mean lives here, in the loss gradient, and nowhere else.

``forward`` validates ``T`` against ``Y`` (shapes never broadcast). ``fit`` validates a
whole data set once and then calls the unchecked ``_forward`` per batch.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit

from ._checks import check_real
from .layer import Array, Layer


class Loss:
    """Base class: ``forward(Y, T) -> float`` then ``backward() -> dL/dY``.

    ``reduction="mean"`` (default) averages the per-element (or per-sample) losses,
    ``"sum"`` adds them; only the scale factor of the value and the gradient changes.
    """

    _Y = None
    reduction = "mean"

    def __init__(self, reduction: str = "mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', "
                             f"got {reduction!r}")
        self.reduction = reduction

    def _div(self, count: int) -> int:
        """What the summed loss is divided by: ``count`` for a mean, 1 for a sum."""
        return count if self.reduction == "mean" else 1

    def forward(self, Y: Array, T) -> float:
        """The loss of predictions ``Y`` (N, D) against targets ``T``; caches for backward."""
        Y = self._check_Y(Y)
        return self._forward(Y, self.check_targets(T, Y.shape, Y.dtype))

    __call__ = forward

    def backward(self) -> Array:
        """``dL/dY`` for the last ``forward``, shape ``(N, D)``; owned by the loss, reused."""
        if self._Y is None:
            raise RuntimeError(f"{self!r}: backward() called before forward(Y, T)")
        return self._backward()

    def check_targets(self, T, shape: tuple, dtype) -> Array:
        """``T`` validated and cast for predictions of ``shape``: the same shape, finite."""
        T = self._as_float_targets(T, dtype)
        if T.shape != shape:
            hint = ""
            if T.ndim == 1 and len(shape) == 2 and shape[1] == 1 and T.shape[0] == shape[0]:
                hint = " (use T.reshape(-1, 1); shapes never broadcast)"
            raise ValueError(f"{self!r}: targets must have the shape of the predictions "
                             f"{shape}, got {T.shape}{hint}")
        return T

    def _as_float_targets(self, T, dtype) -> Array:
        T = np.asarray(T)
        if T.dtype.kind not in "fiub":
            raise TypeError(f"{self!r}: targets must be real numbers, got dtype {T.dtype}")
        T = T.astype(dtype, copy=False)
        if not np.isfinite(T).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(T))[0])
            raise ValueError(f"{self!r}: targets contain NaN or inf (first at index {bad})")
        return T

    def _check_Y(self, Y) -> Array:
        if not isinstance(Y, np.ndarray) or Y.ndim != 2 or Y.dtype.kind != "f":
            raise ValueError(f"{self!r}: predictions must be a 2-D float array (N, D), got "
                             f"{getattr(Y, 'shape', type(Y).__name__)}")
        if Y.shape[0] == 0:
            raise ValueError(f"{self!r}: empty batch (N = 0)")
        return Y

    def _grad_buffer(self, Y: Array) -> Array:
        """The gradient buffer ``self._G`` for predictions shaped like ``Y`` (see Layer._buffer)."""
        G = self.__dict__.get("_G")
        if G is not None and G.shape == Y.shape and G.dtype == Y.dtype:
            return G
        return Layer._buffer(self, "_G", Y.shape, Y.dtype)

    def __repr__(self) -> str:
        extra = "" if self.reduction == "mean" else f"reduction={self.reduction!r}"
        return f"{type(self).__name__}({extra})"


class MSELoss(Loss):
    """Mean squared error over all elements (PyTorch's ``MSELoss``)::

        L = 1/(N*D) * sum_{n,k} (Y[n,k] - T[n,k])^2        dL/dY = 2 (Y - T) / (N*D)

    For one sample with two outputs this equals the tutorial's E = 1/2 * sum_k (t_k - o_k)^2.
    Shapes: ``Y, T (N, D)``.
    """

    def _forward(self, Y, T):
        D = np.subtract(Y, T, out=self._grad_buffer(Y))   # becomes the gradient in backward
        self._Y, self._dY, self._scaled = Y, D, False
        return float(np.vdot(D, D)) / self._div(D.size)

    def _backward(self):
        G = self._dY
        if not self._scaled:
            G *= 2.0 / self._div(G.size)
            self._scaled = True
        return G


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits ``Z``, sigmoid fused, mean over all elements::

        L = -1/(N*D) * sum (T log s(Z) + (1 - T) log(1 - s(Z))),   s = sigmoid
        dL/dZ = (s(Z) - T) / (N*D)

    ``log s(Z)`` is computed as ``scipy.special.log_expit``: finite at any logit.
    Shapes: ``Z, T (N, D)``; targets in [0, 1].
    """

    def check_targets(self, T, shape, dtype):
        return _in_unit_interval(self, "targets", super().check_targets(T, shape, dtype))

    def _forward(self, Z, T):
        self._Y, self._T = Z, T
        value = -(np.vdot(T, log_expit(Z)) + np.vdot(1.0 - T, log_expit(-Z)))
        return float(value) / self._div(Z.size)

    def _backward(self):
        G = self._grad_buffer(self._Y)
        expit(self._Y, out=G)
        G -= self._T
        G *= 1.0 / self._div(G.size)
        return G


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy on logits ``Z`` (N, C), softmax fused, mean over the batch::

        P = softmax(Z) row-wise,   L = -1/N * sum_n sum_k T[n,k] log P[n,k]
        dL/dZ = (P - T) / N

    Targets: integer class labels of shape ``(N,)`` with values in ``[0, C)``, or class
    probabilities / one-hot rows of shape ``(N, C)`` that each sum to 1.
    ``log P`` is computed as ``Z - max - log(sum exp(Z - max))``: finite at any logit.
    """

    def check_targets(self, T, shape, dtype):
        T = np.asarray(T)
        N, C = shape
        if T.ndim == 1:
            if T.dtype.kind not in "iu":
                raise TypeError(f"{self!r}: class labels of shape (N,) must be integers, got "
                                f"dtype {T.dtype} (pass probabilities as an (N, {C}) array)")
            if T.shape[0] != N:
                raise ValueError(f"{self!r}: expected {N} labels for predictions {shape}, got {T.shape[0]}")
            if T.size and (T.min() < 0 or T.max() >= C):
                raise ValueError(f"{self!r}: class labels must lie in [0, {C - 1}] for {C} classes, "
                                 f"got values in [{T.min()}, {T.max()}]")
            return T.astype(np.intp, copy=False)
        T = super().check_targets(T, shape, dtype)
        sums = T.sum(axis=1)
        tol = 1e-6 if dtype == np.float64 else 1e-4
        if T.min() < 0 or not np.allclose(sums, 1.0, rtol=0, atol=tol):
            raise ValueError(f"{self!r}: target rows must be probabilities (>= 0, summing to 1); "
                             f"row sums lie in [{sums.min()}, {sums.max()}]")
        return T

    def _forward(self, Z, T):
        # Every per-row vector lives in a reused buffer (a step allocates nothing that grows
        # with the batch); reductions are ufunc calls (the ndarray methods add ~2 us each).
        N, C = Z.shape
        P = self._grad_buffer(Z)
        r = Layer._buffer(self, "_r", (N,), Z.dtype)                  # one number per row
        np.subtract(Z, np.maximum.reduce(Z, axis=1, out=r)[:, None], out=P)     # S = Z - max
        if T.ndim == 1:
            rows = self.__dict__.get("_rows")
            if rows is None or rows.shape[0] < N:
                rows = self._rows = np.arange(N)       # 0..N-1, rebuilt only when N grows
            at = np.multiply(rows[:N], C, out=Layer._buffer(self, "_at", (N,), np.intp))
            at += T                                    # the labels' flat positions n*C + t_n
            picked = np.add.reduce(np.take(P.reshape(-1), at, out=r, mode="clip"))  # sum S[n, t_n]
        else:
            at = None
            picked = np.vdot(T, P)                                         # sum T S
        np.exp(P, out=P)
        s = np.add.reduce(P, axis=1, out=r)
        P /= s[:, None]
        self._Y, self._T, self._dY, self._scaled, self._label_at = Z, T, P, False, at
        return float(np.add.reduce(np.log(s, out=s)) - picked) / self._div(N)

    def _backward(self):
        P = self._dY
        if not self._scaled:
            N = P.shape[0]
            T = self._T
            if T.ndim == 1:
                np.subtract.at(P.reshape(-1), self._label_at, 1.0)     # P[n, t_n] -= 1
            else:
                P -= T
            P *= 1.0 / self._div(N)
            self._scaled = True
        return P


class L1Loss(Loss):
    """Mean absolute error over all elements (PyTorch's ``L1Loss``)::

        L = 1/(N*D) * sum |Y - T|        dL/dY = sign(Y - T) / (N*D)   (0 where Y = T)

    ``reduction="sum"`` drops the ``1/(N*D)``. Shapes: ``Y, T (N, D)``.
    """

    def _forward(self, Y, T):
        D = np.subtract(Y, T, out=self._grad_buffer(Y))
        self._Y, self._dY, self._scaled = Y, D, False
        return float(np.abs(D).sum()) / self._div(D.size)

    def _backward(self):
        G = self._dY
        if not self._scaled:
            np.sign(G, out=G)
            G *= 1.0 / self._div(G.size)
            self._scaled = True
        return G


class HuberLoss(Loss):
    """Huber loss (PyTorch's ``HuberLoss``): quadratic near 0, linear beyond ``delta``::

        d = Y - T
        l(d) = d^2 / 2                     if |d| <= delta
               delta * (|d| - delta / 2)   otherwise
        L = 1/(N*D) * sum l(d)             dL/dY = clip(d, -delta, delta) / (N*D)

    ``reduction="sum"`` drops the ``1/(N*D)``. Shapes: ``Y, T (N, D)``; ``delta > 0``.
    """

    def __init__(self, delta: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.delta = check_real(delta, "delta", "HuberLoss", low=0.0, low_open=True)

    def _forward(self, Y, T):
        D = np.subtract(Y, T, out=self._grad_buffer(Y))
        self._Y, self._dY, self._scaled = Y, D, False
        A = np.abs(D)
        delta = self.delta
        quad = np.minimum(A, delta)          # l = q^2/2 + delta * (|d| - q),  q = min(|d|, delta)
        A -= quad
        value = 0.5 * float(np.vdot(quad, quad)) + delta * float(A.sum())
        return value / self._div(D.size)

    def _backward(self):
        G = self._dY
        if not self._scaled:
            np.clip(G, -self.delta, self.delta, out=G)
            G *= 1.0 / self._div(G.size)
            self._scaled = True
        return G

    def __repr__(self):
        extra = "" if self.reduction == "mean" else f", reduction={self.reduction!r}"
        return f"HuberLoss(delta={self.delta}{extra})"


class BCELoss(Loss):
    """Binary cross-entropy on probabilities ``P`` (PyTorch's ``BCELoss``), mean over all
    elements::

        L = -1/(N*D) * sum (T log P + (1 - T) log(1 - P)),   each log clamped to >= -100
        dL/dP = (P - T) / max(P (1 - P), 1e-12) / (N*D)

    The clamps (PyTorch's) keep ``P = 0`` or ``1`` finite. For a sigmoid output prefer
    ``BCEWithLogitsLoss`` on the logits: it is exact where this one clamps.
    ``reduction="sum"`` drops the ``1/(N*D)``. Shapes: ``P, T (N, D)``, both in [0, 1].
    """

    LOG_MIN = -100.0
    EPS = 1e-12

    def check_targets(self, T, shape, dtype):
        return _in_unit_interval(self, "targets", super().check_targets(T, shape, dtype))

    def _forward(self, P, T):
        # Checked here, not only in forward: fit's unchecked path must refuse logits too,
        # or a model without a final Sigmoid trains on nonsense gradients.
        if P.min() < 0 or P.max() > 1:
            raise ValueError(f"{self!r}: predictions must be probabilities in [0, 1], got values "
                             f"in [{P.min()}, {P.max()}] (for logits use BCEWithLogitsLoss)")
        self._Y, self._T = P, T
        tiny = np.finfo(P.dtype).tiny           # log(0) would raise; log(tiny) is clamped anyway
        logp = np.log(np.maximum(P, tiny))
        np.maximum(logp, self.LOG_MIN, out=logp)
        log1mp = np.log(np.maximum(1.0 - P, tiny))
        np.maximum(log1mp, self.LOG_MIN, out=log1mp)
        value = -(np.vdot(T, logp) + np.vdot(1.0 - T, log1mp))
        return float(value) / self._div(P.size)

    def _backward(self):
        P, T = self._Y, self._T
        G = self._grad_buffer(P)
        np.subtract(1.0, P, out=G)
        G *= P
        np.maximum(G, self.EPS, out=G)
        np.divide(P - T, G, out=G)
        G *= 1.0 / self._div(G.size)
        return G


def _in_unit_interval(loss: Loss, what: str, A: Array) -> Array:
    """``A`` unchanged when its values lie in [0, 1]; otherwise a ValueError naming ``loss``."""
    if A.size and (A.min() < 0 or A.max() > 1):
        raise ValueError(f"{loss!r}: {what} must lie in [0, 1], got values in [{A.min()}, {A.max()}]")
    return A


#: Losses by name, for ``fit(loss="ce")``, configs and the command line.
LOSSES: dict[str, type] = {
    "mse": MSELoss,
    "cross_entropy": CrossEntropyLoss, "ce": CrossEntropyLoss, "crossentropy": CrossEntropyLoss,
    "bce_with_logits": BCEWithLogitsLoss, "bce": BCELoss, "l1": L1Loss, "huber": HuberLoss,
}


def get_loss(loss, owner: str = "fit") -> Loss:
    """A ``Loss`` object from a ``Loss`` or a name in ``LOSSES`` (built with its defaults)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = loss.lower().replace("-", "_")
        if key in LOSSES:
            return LOSSES[key]()
        raise ValueError(f"{owner}: unknown loss {loss!r}; allowed: {', '.join(LOSSES)} "
                         "(or a Loss object such as mm.CrossEntropyLoss())")
    raise TypeError(f"{owner}: loss must be a Loss object or a name ({', '.join(LOSSES)}), "
                    f"got {type(loss).__name__}")
