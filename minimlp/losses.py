"""Loss functions: ``MSELoss``, ``CrossEntropyLoss``, ``NLLLoss``, ``BCEWithLogitsLoss``,
``L1Loss``, ``HuberLoss``, ``SmoothL1Loss``, ``BCELoss``, with PyTorch's semantics.

A loss maps predictions ``Y`` of shape ``(N, D)`` and targets ``T`` to a Python float with
``forward(Y, T)``; ``backward()`` then returns ``dL/dY`` of shape ``(N, D)``. The ``1/N`` of
a mean lives here, in the loss gradient, and nowhere else.

``reduction="none"`` returns the unreduced values instead: one per element ``(N, D)``, or
one per sample ``(N,)`` for ``CrossEntropyLoss`` and ``NLLLoss``. ``backward(dL)`` then takes
the upstream gradient ``dL`` of that shape and returns ``dL/dY = sum dL * d(values)/dY``.

``forward`` validates ``Y`` and ``T`` (shapes never broadcast). ``fit`` validates a whole
data set once and then calls the unchecked ``_forward``/``_backward`` per batch (mean and
sum only).
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy.special import expit, log_expit

from ._checks import all_finite, check_real
from .layer import Array, Layer

REDUCTIONS = ("mean", "sum", "none")


class Loss:
    """Base class: ``forward(Y, T)`` then ``backward()`` (or ``backward(dL)``).

    ``reduction="mean"`` (default) averages the per-element (or per-sample) losses,
    ``"sum"`` adds them, and ``"none"`` returns them unreduced: ``forward`` gives an array
    of shape ``(N, D)`` (``(N,)`` for the per-sample losses) and ``backward(dL)`` needs the
    upstream gradient ``dL`` of that shape.
    """

    _Y = None
    reduction = "mean"
    #: True when the unreduced values are one per sample ``(N,)``, not one per element.
    _per_sample = False

    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', "
                             f"got {reduction!r}")
        self.reduction = reduction

    def _div(self, count: int) -> int:
        """What the summed loss is divided by: ``count`` for a mean, 1 for a sum (or none)."""
        return count if self.reduction == "mean" else 1

    def forward(self, Y: Array, T):
        """The loss of predictions ``Y`` (N, D) against targets ``T``; caches for backward.

        A float for ``reduction="mean"``/``"sum"``; for ``"none"`` an array of shape ``(N, D)``
        (``(N,)`` for a per-sample loss), a fresh one each call.
        """
        Y = self._check_Y(Y)
        T = self.check_targets(T, Y.shape, Y.dtype)
        if self.reduction == "none":
            return self._forward_none(Y, T)
        return self._forward(Y, T)

    def __call__(self, Y: Array, T):
        return self.forward(Y, T)

    def backward(self, dL=None) -> Array:
        """``dL/dY`` for the last ``forward``, shape ``(N, D)``.

        For ``reduction="mean"``/``"sum"``: no argument (or a scalar upstream gradient, which
        scales the result); the array returned is owned by the loss and reused. For
        ``"none"``: ``dL`` of the shape ``forward`` returned; the result is a fresh array.
        """
        if self._Y is None:
            raise RuntimeError(f"{self!r}: backward() called before forward(Y, T)")
        if self.reduction == "none":
            dL = self._check_upstream(dL)
            G = self._backward()          # the gradient of the sum of the values
            return G * (dL[:, None] if self._per_sample else dL)
        if dL is None:
            return self._backward()
        if isinstance(dL, np.ndarray) and dL.ndim == 0:
            dL = dL.item()
        if isinstance(dL, bool) or not isinstance(dL, numbers.Real) or not np.isfinite(dL):
            raise TypeError(f"{self!r}: with reduction={self.reduction!r} the loss is a float; "
                            f"backward() takes no argument or a finite scalar, got "
                            f"{getattr(dL, 'shape', type(dL).__name__)}")
        return self._backward() * float(dL)

    def _forward_none(self, Y: Array, T: Array) -> Array:
        """``reduction="none"``: prepare backward as for a sum, return the unreduced values."""
        self._forward(Y, T)
        return self._values(Y, T)

    def _values(self, Y: Array, T: Array) -> Array:  # pragma: no cover - abstract
        """The unreduced loss values, a fresh array."""
        raise NotImplementedError

    def _check_upstream(self, dL) -> Array:
        shape = self._Y.shape[:1] if self._per_sample else self._Y.shape
        if dL is None:
            raise TypeError(f"{self!r}: with reduction='none' forward returned values of shape "
                            f"{shape}; backward(dL) needs their upstream gradient dL of that shape")
        if not isinstance(dL, np.ndarray) or dL.dtype.kind not in "fiu":
            raise TypeError(f"{self!r}: backward(dL): dL must be a real numpy array of shape "
                            f"{shape}, got {getattr(dL, 'dtype', type(dL).__name__)}")
        if dL.shape != shape:
            raise ValueError(f"{self!r}: backward(dL): dL must have the shape of the values "
                             f"forward returned {shape}, got {dL.shape}")
        if not all_finite(dL):
            raise ValueError(f"{self!r}: backward(dL): dL contains NaN or inf")
        return dL.astype(self._Y.dtype, copy=False)

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
        if not all_finite(T):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(T))[0])
            raise ValueError(f"{self!r}: targets contain NaN or inf (first at index {bad})")
        return T

    def _check_Y(self, Y) -> Array:
        if not isinstance(Y, np.ndarray):
            raise TypeError(f"{self!r}: predictions must be a numpy float array (N, D), got "
                            f"{type(Y).__name__}")
        if Y.dtype.kind != "f":
            raise TypeError(f"{self!r}: predictions must be floating point (float32 or "
                            f"float64), got dtype {Y.dtype}")
        if Y.ndim != 2:
            raise ValueError(f"{self!r}: predictions must be a 2-D float array (N, D), got {Y.shape}")
        if Y.shape[0] == 0:
            raise ValueError(f"{self!r}: empty batch (N = 0)")
        if not all_finite(Y):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(Y))[0])
            raise ValueError(f"{self!r}: predictions contain NaN or inf (first at index {bad})")
        return Y

    def _grad_buffer(self, Y: Array) -> Array:
        """The gradient buffer ``self._G`` for predictions shaped like ``Y`` (see Layer._buffer)."""
        G = self.__dict__.get("_G")
        if G is not None and G.shape == Y.shape and G.dtype == Y.dtype:
            return G
        return Layer._buffer(self, "_G", Y.shape, Y.dtype)

    def _options(self) -> list[str]:
        """The non-default constructor arguments, as ``repr`` shows them."""
        return [] if self.reduction == "mean" else [f"reduction={self.reduction!r}"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._options())})"


class MSELoss(Loss):
    """Mean squared error over all elements (PyTorch's ``MSELoss``)::

        L = 1/(N*D) * sum_{n,k} (Y[n,k] - T[n,k])^2        dL/dY = 2 (Y - T) / (N*D)

    For one sample with two outputs this equals the tutorial's E = 1/2 * sum_k (t_k - o_k)^2.
    ``reduction="none"``: the values ``(Y - T)^2``, shape ``(N, D)``.
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

    def _values(self, Y, T):
        return np.square(Y - T)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits ``Z``, sigmoid fused (PyTorch's ``BCEWithLogitsLoss``)::

        l = -w * (p * T log s(Z) + (1 - T) log(1 - s(Z))),   s = sigmoid
        L = 1/(N*D) * sum l
        dL/dZ = w * (s(Z) * (1 + (p - 1) T) - p T) / (N*D)

    ``w = weight`` (one per output column, default 1) and ``p = pos_weight`` (one per output
    column, default 1: the weight of the positive term; ``p > 1`` raises recall). Without
    either, ``dL/dZ = (s(Z) - T) / (N*D)``. The mean divides by ``N*D`` whatever the weights
    (as torch). ``log s(Z)`` is computed as ``scipy.special.log_expit``: finite at any logit.
    ``reduction="none"``: the values ``l``, shape ``(N, D)``.

    Shapes: ``Z, T (N, D)``, targets in [0, 1]; ``weight, pos_weight (D,)`` (torch broadcasts
    any shape; a per-column weight serves every batch, for per-sample weights use
    ``reduction="none"`` and weigh the values).
    """

    def __init__(self, weight=None, reduction: str = "mean", *, pos_weight=None):
        super().__init__(reduction)
        self.weight = _check_weights(weight, "weight", self)
        self.pos_weight = _check_weights(pos_weight, "pos_weight", self)

    def check_targets(self, T, shape, dtype):
        for name in ("weight", "pos_weight"):
            w = getattr(self, name)
            if w is not None and w.shape != shape[1:]:
                raise ValueError(f"{self!r}: {name} must have one value per output column "
                                 f"{shape[1:]} for predictions {shape}, got {w.shape}")
        return _in_unit_interval(self, "targets", super().check_targets(T, shape, dtype))

    def _forward(self, Z, T):
        self._Y, self._T = Z, T
        if self.weight is None and self.pos_weight is None:
            value = -(np.vdot(T, log_expit(Z)) + np.vdot(1.0 - T, log_expit(-Z)))
        else:
            value = np.add.reduce(self._values(Z, T), axis=None)
        return float(value) / self._div(Z.size)

    def _values(self, Z, T):
        w, p = _cast(self.weight, Z.dtype), _cast(self.pos_weight, Z.dtype)
        # -(p T log s(Z) + (1 - T) log s(-Z)), each log finite at any logit
        V = (T if p is None else p * T) * log_expit(Z)
        V += (1.0 - T) * log_expit(-Z)
        V *= -1.0 if w is None else -w
        return V

    def _backward(self):
        Z, T = self._Y, self._T
        G = self._grad_buffer(Z)
        expit(Z, out=G)
        p, w = _cast(self.pos_weight, Z.dtype), _cast(self.weight, Z.dtype)
        if p is None:
            G -= T
        else:
            G *= 1.0 + (p - 1.0) * T           # s(Z) (1 + (p - 1) T) - p T
            G -= p * T
        if w is not None:
            G *= w
        G *= 1.0 / self._div(G.size)
        return G

    def _options(self):
        out = [] if self.weight is None else [f"weight={self.weight.tolist()}"]
        out += super()._options()
        return out + ([] if self.pos_weight is None else [f"pos_weight={self.pos_weight.tolist()}"])


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy on logits ``Z`` (N, C), softmax fused (PyTorch's
    ``CrossEntropyLoss``)::

        P = softmax(Z) row-wise,   L = -1/N * sum_n sum_k T[n,k] log P[n,k]
        dL/dZ = (P - T) / N

    Targets: integer class labels of shape ``(N,)`` with values in ``[0, C)`` (or equal to
    ``ignore_index``), or class probabilities / one-hot rows of shape ``(N, C)`` that each
    sum to 1. ``log P`` is computed as ``Z - max - log(sum exp(Z - max))``: finite at any logit.

    Options, combined as torch combines them (``w = weight``, 1 by default; ``e =
    label_smoothing``; ``T' = (1 - e) T + e / C``, with ``T`` the one-hot rows of labels)::

        l_n = -sum_k w[k] T'[n,k] log P[n,k]          (0 for a label equal to ignore_index)
        dl_n/dZ[n] = (sum_k w[k] T'[n,k]) P[n] - w * T'[n]

    ``reduction="mean"`` divides ``sum_n l_n`` by ``sum_n w[t_n]`` over the labels that are
    not ignored (the number of those labels without weights); for probability targets by
    ``N``. ``reduction="none"`` returns ``l_n``, shape ``(N,)``. ``ignore_index`` applies to
    labels only. A mean over labels that are all ignored (or all weigh 0) is 0/0: torch
    returns nan, ``forward`` raises ValueError, and ``fit``'s unchecked step takes a zero
    loss and gradient for such a batch.

    Parameters
    ----------
    weight : array (C,) of numbers >= 0, or None: a weight per class.
    ignore_index : int, a label value that contributes nothing (default -100, as torch).
    reduction : "mean", "sum" or "none".
    label_smoothing : float in [0, 1], the ``e`` above.
    """

    _per_sample = True

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.weight = _check_weights(weight, "weight", self)
        self.ignore_index = _check_ignore_index(ignore_index, self)
        self.label_smoothing = check_real(label_smoothing, "label_smoothing",
                                          type(self).__name__, low=0.0, high=1.0)
        self._plain = self.weight is None and self.label_smoothing == 0.0
        self._empty = False

    def check_targets(self, T, shape, dtype):
        T = np.asarray(T)
        N, C = shape
        _check_weight_count(self, C)
        if T.ndim == 1:
            return _check_labels(self, T, N, C)
        T = super().check_targets(T, shape, dtype)
        sums = T.sum(axis=1)
        tol = 1e-6 if dtype == np.float64 else 1e-4
        if T.min() < 0 or not np.allclose(sums, 1.0, rtol=0, atol=tol):
            raise ValueError(f"{self!r}: target rows must be probabilities (>= 0, summing to 1); "
                             f"row sums lie in [{sums.min()}, {sums.max()}]")
        return T

    def forward(self, Y, T):
        return _not_a_mean_of_nothing(self, super().forward(Y, T))

    def _forward(self, Z, T):
        # The plain case (no weight, no smoothing, no ignored label) runs allocation-free:
        # every per-row vector lives in a reused buffer; reductions are ufunc calls (the
        # ndarray methods add ~2 us each).
        N, C = Z.shape
        if not self._plain or T.ndim == 1 and _may_ignore(T, C, self.ignore_index):
            return self._forward_general(Z, T)
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
        self._scale, self._empty = 1.0 / self._div(N), False
        return float(np.add.reduce(np.log(s, out=s)) - picked) / self._div(N)

    def _forward_general(self, Z, T):
        """Weights, label smoothing, ignored labels and ``reduction="none"``: the formulas of
        the class docstring, with temporaries."""
        N, C = Z.shape
        e, w = self.label_smoothing, _cast(self.weight, Z.dtype)
        logP = Z - Z.max(axis=1, keepdims=True)
        logP -= np.log(np.exp(logP).sum(axis=1, keepdims=True))
        G = np.exp(logP, out=self._grad_buffer(Z))                      # P
        if T.ndim == 1:
            t, wt, keep = _label_weights(T, C, self.ignore_index, w, Z.dtype)
            rows = np.arange(N)
            values = -(1.0 - e) * wt * logP[rows, t]
            s = (1.0 - e) * wt                     # sum_k w[k] T'[n,k], the factor of P[n]
            if e:
                smooth = -(logP.sum(axis=1) if w is None else logP @ w)
                total_w = float(C if w is None else w.sum())
                if keep is not None:
                    smooth *= keep
                values += (e / C) * smooth
                s += (e / C) * total_w * (1.0 if keep is None else keep)
            G *= s[:, None]
            G[rows, t] -= (1.0 - e) * wt
            if e:
                G -= (e / C) * ((1.0 if w is None else w) * (1.0 if keep is None else keep[:, None]))
            div = float(np.add.reduce(wt)) if self.reduction == "mean" else 1.0
        else:
            WT = T if e == 0 else (1.0 - e) * T + e / C
            if w is not None:
                WT = WT * w
            values = -np.einsum("nk,nk->n", WT, logP)
            G *= WT.sum(axis=1)[:, None]
            G -= WT
            div = float(self._div(N))
        self._empty = div == 0.0
        self._scale = 0.0 if self._empty else 1.0 / div
        self._Y, self._T, self._dY, self._scaled, self._label_at = Z, None, G, False, None
        self._last_values = values
        return 0.0 if self._empty else float(np.add.reduce(values)) * self._scale

    def _forward_none(self, Z, T):
        self._forward_general(Z, T)
        return self._last_values

    def _backward(self):
        P = self._dY
        if not self._scaled:
            T = self._T
            if T is None:                              # the general path: P is the gradient
                pass
            elif T.ndim == 1:
                np.subtract.at(P.reshape(-1), self._label_at, 1.0)     # P[n, t_n] -= 1
            else:
                P -= T
            P *= self._scale
            self._scaled = True
        return P

    def _options(self):
        out = [] if self.weight is None else [f"weight={self.weight.tolist()}"]
        out += [] if self.ignore_index == -100 else [f"ignore_index={self.ignore_index}"]
        out += super()._options()
        return out + ([] if self.label_smoothing == 0 else [f"label_smoothing={self.label_smoothing}"])


class NLLLoss(Loss):
    """Negative log-likelihood of class labels given log-probabilities (PyTorch's ``NLLLoss``)::

        l_n = -w[t_n] * X[n, t_n]      (0 for a label equal to ignore_index)
        L = sum_n l_n / sum_n w[t_n]   (the sum over the labels that are not ignored)
        dL/dX[n, t_n] = -w[t_n] / sum_n w[t_n],   0 elsewhere

    ``X`` must be log-probabilities, e.g. the output of a ``LogSoftmax`` layer. That pair
    equals ``CrossEntropyLoss`` on the logits, which fuses them and is faster; prefer it.
    ``reduction="sum"`` drops the division; ``"none"`` returns ``l_n``, shape ``(N,)``.
    A mean over labels that are all ignored (or all weigh 0) is 0/0: ``forward`` raises (torch
    returns nan); ``fit``'s unchecked step takes a zero loss and gradient.

    Shapes: ``X (N, C)``; labels ``(N,)``, integers in ``[0, C)`` or ``ignore_index``;
    ``weight (C,)``, numbers >= 0.
    """

    _per_sample = True

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = _check_weights(weight, "weight", self)
        self.ignore_index = _check_ignore_index(ignore_index, self)
        self._empty = False

    def check_targets(self, T, shape, dtype):
        T = np.asarray(T)
        N, C = shape
        _check_weight_count(self, C)
        if T.ndim != 1:
            raise ValueError(f"{self!r}: targets must be class labels of shape ({N},), got shape "
                             f"{T.shape} (for probability targets use CrossEntropyLoss on logits)")
        return _check_labels(self, T, N, C)

    def forward(self, Y, T):
        return _not_a_mean_of_nothing(self, super().forward(Y, T))

    def _forward(self, X, T):
        N, C = X.shape
        t, wt, _ = _label_weights(T, C, self.ignore_index, _cast(self.weight, X.dtype), X.dtype)
        rows = np.arange(N)
        values = -wt * X[rows, t]
        div = float(np.add.reduce(wt)) if self.reduction == "mean" else 1.0
        self._empty = div == 0.0
        scale = 0.0 if self._empty else 1.0 / div
        G = self._grad_buffer(X)
        G.fill(0.0)
        G[rows, t] = -scale * wt
        self._Y, self._dY, self._last_values = X, G, values
        return 0.0 if self._empty else float(np.add.reduce(values)) * scale

    def _forward_none(self, X, T):
        self._forward(X, T)
        return self._last_values

    def _backward(self):
        return self._dY

    def _options(self):
        out = [] if self.weight is None else [f"weight={self.weight.tolist()}"]
        out += [] if self.ignore_index == -100 else [f"ignore_index={self.ignore_index}"]
        return out + super()._options()


class L1Loss(Loss):
    """Mean absolute error over all elements (PyTorch's ``L1Loss``)::

        L = 1/(N*D) * sum |Y - T|        dL/dY = sign(Y - T) / (N*D)   (0 where Y = T)

    ``reduction="sum"`` drops the ``1/(N*D)``; ``"none"`` returns ``|Y - T|``, shape ``(N, D)``.
    Shapes: ``Y, T (N, D)``.
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

    def _values(self, Y, T):
        return np.abs(Y - T)


class HuberLoss(Loss):
    """Huber loss (PyTorch's ``HuberLoss``): quadratic near 0, linear beyond ``delta``::

        d = Y - T
        l(d) = d^2 / 2                     if |d| <= delta
               delta * (|d| - delta / 2)   otherwise
        L = 1/(N*D) * sum l(d)             dL/dY = clip(d, -delta, delta) / (N*D)

    ``reduction="sum"`` drops the ``1/(N*D)``; ``"none"`` returns ``l(d)``, shape ``(N, D)``.
    Shapes: ``Y, T (N, D)``; ``delta > 0``.
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

    def _values(self, Y, T):
        D = Y - T
        A = np.abs(D)
        return np.where(A <= self.delta, 0.5 * D * D, self.delta * (A - 0.5 * self.delta))

    def _options(self):
        return [f"delta={self.delta}"] + super()._options()


class SmoothL1Loss(Loss):
    """Smooth L1 loss (PyTorch's ``SmoothL1Loss``): quadratic below ``beta``, then ``|d|``::

        d = Y - T
        l(d) = d^2 / (2 beta)     if |d| < beta
               |d| - beta / 2     otherwise
        L = 1/(N*D) * sum l(d)    dL/dY = clip(d, -beta, beta) / beta / (N*D)

    ``beta = 0`` is ``L1Loss`` (gradient ``sign(d)``). It equals ``HuberLoss(delta=beta)``
    divided by ``beta``: its slope beyond ``beta`` is 1 whatever ``beta``.
    ``reduction="sum"`` drops the ``1/(N*D)``; ``"none"`` returns ``l(d)``, shape ``(N, D)``.
    Shapes: ``Y, T (N, D)``; ``beta >= 0``.
    """

    def __init__(self, beta: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.beta = check_real(beta, "beta", "SmoothL1Loss", low=0.0)

    def _forward(self, Y, T):
        D = np.subtract(Y, T, out=self._grad_buffer(Y))
        self._Y, self._dY, self._scaled = Y, D, False
        A = np.abs(D)
        beta = self.beta
        if beta == 0.0:
            return float(A.sum()) / self._div(D.size)
        quad = np.minimum(A, beta)           # l = q^2/(2 beta) + (|d| - q),  q = min(|d|, beta)
        A -= quad
        value = 0.5 / beta * float(np.vdot(quad, quad)) + float(A.sum())
        return value / self._div(D.size)

    def _backward(self):
        G = self._dY
        if not self._scaled:
            if self.beta == 0.0:
                np.sign(G, out=G)
                G *= 1.0 / self._div(G.size)
            else:
                np.clip(G, -self.beta, self.beta, out=G)
                G *= 1.0 / (self.beta * self._div(G.size))
            self._scaled = True
        return G

    def _values(self, Y, T):
        D = Y - T
        A = np.abs(D)
        if self.beta == 0.0:
            return A
        return np.where(A < self.beta, 0.5 / self.beta * D * D, A - 0.5 * self.beta)

    def _options(self):
        return ([] if self.beta == 1.0 else [f"beta={self.beta}"]) + super()._options()


class BCELoss(Loss):
    """Binary cross-entropy on probabilities ``P`` (PyTorch's ``BCELoss``), mean over all
    elements::

        L = -1/(N*D) * sum (T log P + (1 - T) log(1 - P)),   each log clamped to >= -100
        dL/dP = (P - T) / max(P (1 - P), 1e-12) / (N*D)

    The clamps (PyTorch's) keep ``P = 0`` or ``1`` finite. For a sigmoid output prefer
    ``BCEWithLogitsLoss`` on the logits: it is exact where this one clamps.
    ``reduction="sum"`` drops the ``1/(N*D)``; ``"none"`` returns the per-element values,
    shape ``(N, D)``. Shapes: ``P, T (N, D)``, both in [0, 1].
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
        logp, log1mp = self._logs(P)
        value = -(np.vdot(T, logp) + np.vdot(1.0 - T, log1mp))
        return float(value) / self._div(P.size)

    def _logs(self, P):
        """``log P`` and ``log(1 - P)``, each clamped to >= -100 (torch's clamp)."""
        tiny = np.finfo(P.dtype).tiny           # log(0) would raise; log(tiny) is clamped anyway
        logp = np.log(np.maximum(P, tiny))
        np.maximum(logp, self.LOG_MIN, out=logp)
        log1mp = np.log(np.maximum(1.0 - P, tiny))
        np.maximum(log1mp, self.LOG_MIN, out=log1mp)
        return logp, log1mp

    def _values(self, P, T):
        logp, log1mp = self._logs(P)
        return -(T * logp + (1.0 - T) * log1mp)

    def _backward(self):
        P, T = self._Y, self._T
        G = self._grad_buffer(P)
        np.subtract(1.0, P, out=G)
        G *= P
        np.maximum(G, self.EPS, out=G)
        np.divide(P - T, G, out=G)
        G *= 1.0 / self._div(G.size)
        return G


# -- shared checks and helpers -----------------------------------------------------------

def _in_unit_interval(loss: Loss, what: str, A: Array) -> Array:
    """``A`` unchanged when its values lie in [0, 1]; otherwise a ValueError naming ``loss``."""
    if A.size and (A.min() < 0 or A.max() > 1):
        raise ValueError(f"{loss!r}: {what} must lie in [0, 1], got values in [{A.min()}, {A.max()}]")
    return A


def _check_weights(w, name: str, loss: Loss) -> Array | None:
    """``None``, or a private float64 copy of a 1-D array of finite numbers >= 0."""
    owner = type(loss).__name__
    if w is None:
        return None
    try:
        a = np.array(w)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{owner}: {name} must be a 1-D array of numbers, could not convert: {err}") from None
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{owner}: {name} must be a 1-D array of real numbers, got dtype {a.dtype}")
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{owner}: {name} must be a 1-D array with one value per class or "
                         f"output column, got shape {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all() or (a < 0).any():
        raise ValueError(f"{owner}: {name} must hold finite numbers >= 0, got values in "
                         f"[{a.min()}, {a.max()}]")
    a.flags.writeable = False
    return a


def _check_ignore_index(value, loss: Loss) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{type(loss).__name__}: ignore_index must be an integer, got {value!r}")
    return int(value)


def _check_weight_count(loss, C: int) -> None:
    if loss.weight is not None and loss.weight.shape != (C,):
        raise ValueError(f"{loss!r}: weight must hold one value per class, {C} for predictions "
                         f"with {C} columns, got {loss.weight.shape[0]}")


def _check_labels(loss, T: Array, N: int, C: int) -> Array:
    """Integer labels ``(N,)`` in ``[0, C)`` or equal to ``loss.ignore_index``, as intp."""
    if T.dtype.kind not in "iu":
        raise TypeError(f"{loss!r}: class labels of shape (N,) must be integers, got "
                        f"dtype {T.dtype} (pass probabilities as an (N, {C}) array)")
    if T.shape[0] != N:
        raise ValueError(f"{loss!r}: expected {N} labels for predictions {(N, C)}, got {T.shape[0]}")
    ii = loss.ignore_index
    counted = T[T != ii]
    if counted.size and (counted.min() < 0 or counted.max() >= C):
        also = "" if 0 <= ii < C else f" (or equal ignore_index={ii})"
        raise ValueError(f"{loss!r}: class labels must lie in [0, {C - 1}] for {C} classes{also}, "
                         f"got values in [{counted.min()}, {counted.max()}]")
    return T.astype(np.intp, copy=False)


def _not_a_mean_of_nothing(loss: Loss, value):
    """``value``, unless the batch's labels were all ignored (or weighed 0) and the mean is
    0/0: then a ValueError (torch returns nan), with nothing left for backward."""
    if loss._empty and loss.reduction == "mean":
        loss._Y = None
        raise ValueError(f"{loss!r}: every label of this batch is ignore_index or has weight "
                         "0, so their weighted mean is 0/0 (torch returns nan)")
    return value


def _may_ignore(T: Array, C: int, ignore_index: int) -> bool:
    """Whether some label may equal ``ignore_index`` (checked labels are in [0, C) otherwise):
    one reduction, no temporary."""
    if 0 <= ignore_index < C:
        return True
    return ignore_index < 0 and np.minimum.reduce(T) < 0


def _label_weights(T: Array, C: int, ignore_index: int, w: Array | None, dtype):
    """``(t, wt, keep)``: the labels with ignored ones replaced by 0 (a valid index), each
    label's weight ``w[t_n]`` (0 where ignored), and the 0/1 mask of counted labels (``None``
    when none is ignored)."""
    keep = None
    if _may_ignore(T, C, ignore_index):
        mask = T != ignore_index
        if not mask.all():
            keep = mask.astype(dtype)
            T = np.where(mask, T, 0)
    wt = np.ones(T.shape[0], dtype=dtype) if w is None else w[T]
    if keep is not None:
        wt = wt * keep
    return T, wt, keep


def _cast(w: Array | None, dtype) -> Array | None:
    """A weight vector in the predictions' dtype (float32 math stays float32)."""
    return w if w is None or w.dtype == dtype else w.astype(dtype)


class PoissonNLLLoss(Loss):
    """Negative log-likelihood of a Poisson target (PyTorch's ``PoissonNLLLoss``).

    ::

        log_input=True  (default; Y is the log of the rate):
            l = exp(Y) - T * Y                    dl/dY = exp(Y) - T
        log_input=False (Y is the rate itself, Y >= 0):
            l = Y - T * log(Y + eps)              dl/dY = 1 - T / (Y + eps)
        full=True adds Stirling's term T*log(T) - T + 1/2*log(2*pi*T) where T > 1 (no
        gradient: it depends on T only).
        L = 1/(N*D) * sum l        (``reduction="sum"``: sum l; ``"none"``: l, shape (N, D))

    The constant ``log(T!)`` is left out (``full=False``), as torch does. Shapes: ``Y, T
    (N, D)``; targets are counts or rates, ``T >= 0``; ``eps > 0`` (default 1e-8).
    """

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                 reduction: str = "mean"):
        super().__init__(reduction)
        for name, flag in (("log_input", log_input), ("full", full)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"PoissonNLLLoss: {name} must be True or False, got {flag!r}")
        self.log_input, self.full = bool(log_input), bool(full)
        self.eps = check_real(eps, "eps", "PoissonNLLLoss", low=0.0, low_open=True)

    def check_targets(self, T, shape, dtype):
        T = super().check_targets(T, shape, dtype)
        if T.size and T.min() < 0:
            raise ValueError(f"{self!r}: targets must be counts or rates >= 0, got a minimum "
                             f"of {T.min()}")
        return T

    def _forward(self, Y, T):
        if not self.log_input and Y.size and Y.min() < 0:
            raise ValueError(f"{self!r}: with log_input=False the predictions are rates and "
                             f"must be >= 0, got a minimum of {Y.min()} (for log-rates use "
                             "log_input=True)")
        self._Y, self._T = Y, T
        if self.log_input:
            value = float(np.exp(Y).sum()) - float(np.vdot(T, Y))
        else:
            value = float(Y.sum()) - float(np.vdot(T, np.log(Y + self.eps)))
        if self.full:
            big = T[T > 1]
            value += float((big * np.log(big) - big + 0.5 * np.log(2 * np.pi * big)).sum())
        return value / self._div(Y.size)

    def _values(self, Y, T):
        values = np.exp(Y) - T * Y if self.log_input else Y - T * np.log(Y + self.eps)
        if self.full:
            big = T > 1
            Tb = T[big]
            values[big] += Tb * np.log(Tb) - Tb + 0.5 * np.log(2 * np.pi * Tb)
        return values

    def _backward(self):
        Y, T = self._Y, self._T
        G = self._grad_buffer(Y)
        if self.log_input:
            np.exp(Y, out=G)
            G -= T
        else:
            np.add(Y, self.eps, out=G)
            np.divide(T, G, out=G)
            np.subtract(1.0, G, out=G)
        G *= 1.0 / self._div(G.size)
        return G

    def __repr__(self):
        args = [f"log_input={self.log_input}"] if not self.log_input else []
        args += ["full=True"] if self.full else []
        args += [f"eps={self.eps}"] if self.eps != 1e-8 else []
        args += [f"reduction={self.reduction!r}"] if self.reduction != "mean" else []
        return f"PoissonNLLLoss({', '.join(args)})"


#: Losses by name, for ``fit(loss="ce")``, configs and the command line.
LOSSES: dict[str, type] = {
    "mse": MSELoss,
    "cross_entropy": CrossEntropyLoss, "ce": CrossEntropyLoss, "crossentropy": CrossEntropyLoss,
    "bce_with_logits": BCEWithLogitsLoss, "bce": BCELoss, "l1": L1Loss, "huber": HuberLoss,
    "smooth_l1": SmoothL1Loss, "nll": NLLLoss, "poisson": PoissonNLLLoss,
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
