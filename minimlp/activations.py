"""Activation layers: ``Identity``, ``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU``,
``PReLU``, ``Softmax``, ``GELU``, ``ELU``, ``Softplus`` and ``SiLU``.

Each backward uses what its forward kept, never the pre-activation again: Sigmoid and Tanh
their output ``Y``, ReLU and LeakyReLU a mask, Softmax its output rows, GELU, ELU,
Softplus and SiLU their slope ``dY/dX`` (computed during the forward pass).
Shape: ``(N, D) -> (N, D)`` in both directions.

Every activation can work in place when ``TrainStep`` plans it (``in_place``, see
``minimlp.layer``): a temporary it needs is a block of at most ``BLOCK`` elements that the
layer owns, so a training step allocates nothing and holds no array it does not need.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, ndtr

from ._checks import check_dtype, check_real, check_size
from .layer import Array, Layer, Parameter

#: The most elements of one temporary block (``Activation.blocks``).
BLOCK = 16384

_NONE = frozenset()


def activation_classes() -> dict[str, type]:
    """Every activation by name, for ``--activation``, configs, ``minimlp bench`` and the
    scikit-learn estimators: each public ``Activation`` subclass (and ``PReLU``), your own
    included, under its lower-case class name, plus the aliases ``leaky_relu`` and
    ``linear`` (= identity). Read from ``Layer.registry`` at each call, so a new class is
    picked up without editing any table."""
    out = {name.lower(): cls for name, cls in sorted(Layer.registry.items())
           if getattr(cls, "is_activation", False) and not name.startswith("_")
           and cls is not Activation}
    aliases = {"leaky_relu": "leakyrelu", "linear": "identity"}
    out.update((alias, out[name]) for alias, name in aliases.items() if name in out)
    return out


class Activation(Layer):
    """An elementwise (or row-wise) function.

    A subclass writes ``_forward(X, Y, train)`` (fill ``Y`` from ``X``; with ``train``
    keep in ``self._cache`` what backward needs) and ``_backward(dY, dX)`` (fill ``dX``
    from ``dY`` and the cache), and declares ``backward_reads`` and ``in_place``
    (``minimlp.layer``). With ``"forward"`` in ``in_place`` its ``_forward`` must be
    correct when ``Y is X``, with ``"backward"`` its ``_backward`` when ``dX is dY``.
    """

    is_activation = True   # listed by activation_classes()
    _cache = None  # what backward needs; None until a training forward
    #: The kinds of temporary block ``_fill`` needs ("f": float, "b": bool).
    _scratch: tuple = ()

    @property
    def cache(self):
        """What the last training forward kept for backward (read-only), or ``None``."""
        return self._cache

    def forward(self, X: Array, train: bool = True, *, out: Array | None = None) -> Array:
        """``Y`` (N, D) from ``X`` (N, D). ``out`` (the plan's, when ``"forward"`` is in
        ``in_place``) is where ``Y`` goes, e.g. ``X`` itself; otherwise a buffer of the
        layer (training) or a fresh array (``train=False``, which keeps no cache)."""
        if not train:
            return self._forward(X, np.empty_like(X), False)
        if out is None:
            out = self.__dict__.get("_Y")
            if out is None or out.shape != X.shape or out.dtype != X.dtype:   # buffer, inlined
                out = self.buffer("_Y", X.shape, X.dtype)
        return self._forward(X, out, True)

    def backward(self, dY: Array, *, out: Array | None = None) -> Array:
        """``dX`` (N, D) from ``dY`` (N, D), into ``out`` when given (the plan passes
        ``out=dY`` when ``"backward"`` is in ``in_place``), else a buffer of the layer."""
        cache = self._cache
        if cache is None or dY.shape != cache.shape:   # the checks, inlined
            cache = self.require_cache(cache)
            self.check_grad_shape(dY, cache.shape)
        if out is None:
            out = self.__dict__.get("_dX")
            if out is None or out.shape != dY.shape or out.dtype != dY.dtype:   # buffer, inlined
                out = self.buffer("_dX", dY.shape, dY.dtype)
        return self._backward(dY, out)

    def blocks(self, *arrays):
        """Row blocks of ``arrays`` (same ``(N, D)`` shape; ``None`` entries stay ``None``)
        of at most ``BLOCK`` elements, each followed by the layer's temporary blocks (one per
        ``_scratch`` kind, reused call after call)."""
        N, D = arrays[0].shape
        rows = max(1, BLOCK // max(D, 1))
        m = min(rows, N)
        dtype = arrays[0].dtype
        tmp = [self.buffer(f"_tmp{k}", (m, D), dtype if kind == "f" else np.bool_)
               for k, kind in enumerate(self._scratch)]
        if N <= rows:
            return ((*arrays, *tmp),)
        out = []
        for s in range(0, N, rows):
            e = min(s + rows, N)
            block = [None if a is None else a[s:e] for a in arrays]
            block += tmp if e - s == m else [t[:e - s] for t in tmp]
            out.append(block)
        return out

    def _forward(self, X: Array, Y: Array, train: bool) -> Array:  # pragma: no cover
        raise NotImplementedError

    def _backward(self, dY: Array, dX: Array) -> Array:  # pragma: no cover
        raise NotImplementedError


class Identity(Activation):
    """``Y = X``, ``dX = dY`` (a linear output layer, for regression)."""

    backward_reads = _NONE
    in_place = frozenset({"forward", "backward"})

    def _forward(self, X, Y, train):   # training only: forward() returns X itself in prediction
        if Y is not X:
            np.copyto(Y, X)
        self._cache = Y
        return Y

    def forward(self, X: Array, train: bool = True, *, out: Array | None = None) -> Array:
        if not train:
            return X   # no copy (Sequential.predict never returns the caller's X)
        return super().forward(X, True, out=out)

    def _backward(self, dY, dX):
        if dX is not dY:
            np.copyto(dX, dY)
        return dX


class Sigmoid(Activation):
    """Logistic function ``Y = 1 / (1 + exp(-X))``; ``dX = dY * Y * (1 - Y)``.

    Computed with ``scipy.special.expit``: no overflow or warning at any input.
    """

    backward_reads = frozenset({"output"})
    in_place = frozenset({"forward", "backward"})
    _scratch = ("f",)

    def _forward(self, X, Y, train):
        expit(X, out=Y)
        if train:
            self._cache = Y
        return Y

    def _backward(self, dY, dX):
        Y = self._cache
        if dX is dY and dY.size <= BLOCK:   # small: a buffer of its own is cheaper than blocks
            dX = self.buffer("_dX", dY.shape, dY.dtype)
        if dX is not dY:
            np.subtract(1.0, Y, out=dX)   # slope from the output: Y (1 - Y)
            dX *= Y
            dX *= dY
            return dX
        for y, d, t in self.blocks(Y, dY):   # in place: the slope needs a temporary
            np.subtract(1.0, y, out=t)
            t *= y
            d *= t
        return dY


class Tanh(Activation):
    """Hyperbolic tangent ``Y = tanh(X)``; ``dX = dY * (1 - Y^2)``."""

    backward_reads = frozenset({"output"})
    in_place = frozenset({"forward", "backward"})
    _scratch = ("f",)

    def _forward(self, X, Y, train):
        np.tanh(X, out=Y)
        if train:
            self._cache = Y
        return Y

    def _backward(self, dY, dX):
        Y = self._cache
        if dX is dY and dY.size <= BLOCK:
            dX = self.buffer("_dX", dY.shape, dY.dtype)
        if dX is not dY:
            np.multiply(Y, Y, out=dX)
            np.subtract(1.0, dX, out=dX)
            dX *= dY
            return dX
        for y, d, t in self.blocks(Y, dY):
            np.multiply(y, y, out=t)
            np.subtract(1.0, t, out=t)
            d *= t
        return dY


class ReLU(Activation):
    """Rectified linear unit ``Y = max(X, 0)``; ``dX = dY * [X > 0]`` (slope 0 at X = 0)."""

    backward_reads = _NONE          # the mask is its own
    in_place = frozenset({"forward", "backward"})

    def _forward(self, X, Y, train):
        if train:
            mask = self.__dict__.get("_mask")
            if mask is None or mask.shape != X.shape:   # (buffer, inlined)
                mask = self.buffer("_mask", X.shape, np.bool_)
            np.greater(X, 0, out=mask)
            self._cache = mask
        return np.maximum(X, 0, out=Y)

    def _backward(self, dY, dX):
        return np.multiply(dY, self._cache, out=dX)


class LeakyReLU(Activation):
    """``Y = X if X > 0 else negative_slope * X``; ``dX = dY * (1 if X > 0 else negative_slope)``
    (the slope at 0 is ``negative_slope``, as PyTorch)."""

    backward_reads = _NONE
    in_place = frozenset({"forward", "backward"})

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = check_real(negative_slope, "negative_slope", "LeakyReLU")

    def _forward(self, X, Y, train):
        neg = self.buffer("_mask", X.shape, np.bool_) if train else np.empty(X.shape, np.bool_)
        np.less_equal(X, 0, out=neg)
        if Y is not X:
            np.copyto(Y, X)
        np.multiply(Y, self.negative_slope, out=Y, where=neg)
        if train:
            self._cache = neg
        return Y

    def _backward(self, dY, dX):
        if dX is not dY:
            np.copyto(dX, dY)
        return np.multiply(dX, self.negative_slope, out=dX, where=self._cache)


class Softmax(Activation):
    """Row-wise softmax ``Y[n, k] = exp(X[n, k]) / sum_j exp(X[n, j])``.

    Backward (the Jacobian-vector product): ``dX = Y * (dY - sum_k dY * Y)``, the sum per row.
    Stable at any input (the row maximum is subtracted first). For classification prefer a
    linear last layer with ``CrossEntropyLoss``, which fuses softmax and its gradient.
    """

    backward_reads = frozenset({"output"})
    in_place = frozenset({"forward", "backward"})

    def _forward(self, X, Y, train):
        r = self.buffer("_r", (X.shape[0], 1), X.dtype) if train else np.empty((X.shape[0], 1), X.dtype)
        np.maximum.reduce(X, axis=1, keepdims=True, out=r)
        np.subtract(X, r, out=Y)
        np.exp(Y, out=Y)
        Y /= np.add.reduce(Y, axis=1, keepdims=True, out=r)
        if train:
            self._cache = Y
        return Y

    def _backward(self, dY, dX):
        Y = self._cache
        s = self.buffer("_s", (Y.shape[0],), Y.dtype)
        np.einsum("nk,nk->n", dY, Y, out=s)   # sum_k dY * Y per row, with no temporary
        np.subtract(dY, s[:, None], out=dX)
        dX *= Y
        return dX


class _SlopeActivation(Activation):
    """An elementwise activation whose training forward also stores its slope ``dY/dX``
    (the cache), so that backward is one multiplication: ``dX = dY * slope``.

    A subclass writes ``_fill(X, Y, S, *tmp)``: ``f(X)`` into ``Y`` and, when ``S`` is not
    ``None``, ``f'(X)`` into ``S``; ``Y`` may be ``X`` itself, and ``tmp`` are temporary
    blocks of the kinds in ``_scratch``.
    """

    backward_reads = _NONE
    in_place = frozenset({"forward", "backward"})

    def _forward(self, X, Y, train):
        S = self.buffer("_slope", X.shape, X.dtype) if train else None
        for block in self.blocks(X, Y, S):
            self._fill(*block)
        if train:
            self._cache = S
        return Y

    def _backward(self, dY, dX):
        return np.multiply(dY, self._cache, out=dX)

    def _fill(self, X, Y, S, *tmp):  # pragma: no cover - abstract
        raise NotImplementedError


class GELU(_SlopeActivation):
    """Gaussian error linear unit (``torch.nn.GELU``), ``Y = X * Phi(X)``.

    ``approximate="none"`` (exact): ``Phi`` is the standard normal CDF,
    ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``, and ``dY/dX = Phi(X) + X * phi(X)`` with
    ``phi(x) = exp(-x^2 / 2) / sqrt(2 pi)``.

    ``approximate="tanh"``: ``Y = X/2 * (1 + tanh(u))``, ``u = sqrt(2/pi) (X + 0.044715 X^3)``,
    ``dY/dX = (1 + t)/2 + X/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 X^2)`` with ``t = tanh(u)``.

    Shape: ``(N, D) -> (N, D)``.
    """

    _C = float(np.sqrt(2.0 / np.pi))
    _A = 0.044715

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self._scratch = ("f",) if approximate == "none" else ("f", "f")

    def _fill(self, X, Y, S, P, Q=None):
        if self.approximate == "none":
            ndtr(X, out=P)                                # Phi
            if S is not None:
                np.multiply(X, X, out=S)
                S *= -0.5
                np.exp(S, out=S)
                S *= X
                S *= 1.0 / np.sqrt(2.0 * np.pi)           # X * phi(X)
                S += P
            return np.multiply(X, P, out=Y)
        c, a = self._C, self._A
        np.multiply(X, X, out=P)
        P *= a
        P += 1.0
        P *= X
        P *= c
        np.tanh(P, out=P)                                 # t
        if S is not None:
            # (1 + t)/2 + X/2 (1 - t^2) c (1 + 3 a X^2)
            np.multiply(X, X, out=S)
            S *= 3.0 * a
            S += 1.0
            S *= 0.5 * c
            S *= X
            np.multiply(P, P, out=Q)
            np.subtract(1.0, Q, out=Q)
            S *= Q
            S += 0.5
            np.multiply(P, 0.5, out=Q)
            S += Q
        P += 1.0
        P *= 0.5
        return np.multiply(X, P, out=Y)


class ELU(_SlopeActivation):
    """Exponential linear unit (``torch.nn.ELU``)::

        Y = X                      if X > 0,   else  alpha * (exp(X) - 1)
        dY/dX = 1                  if X > 0,   else  Y + alpha

    Shape: ``(N, D) -> (N, D)``. ``alpha >= 0``; with ``alpha != 1`` the slope jumps at 0
    (the slope at 0 is ``alpha``, the left one, as PyTorch).
    """

    _scratch = ("f", "b")

    def __init__(self, alpha: float = 1.0):
        self.alpha = check_real(alpha, "alpha", "ELU", low=0.0)

    def _fill(self, X, Y, S, E, positive):
        np.greater(X, 0, out=positive)
        np.minimum(X, 0.0, out=E)            # exp only of X <= 0: no overflow
        np.expm1(E, out=E)
        E *= self.alpha
        if S is not None:
            np.add(E, self.alpha, out=S)
            np.copyto(S, 1.0, where=positive)
        np.copyto(E, X, where=positive)
        np.copyto(Y, E)
        return Y


class Softplus(_SlopeActivation):
    """Smooth ReLU (``torch.nn.Softplus``)::

        Y = log(1 + exp(beta X)) / beta,    dY/dX = sigmoid(beta X)
        Y = X, dY/dX = 1                    where beta X > threshold (linear, as PyTorch)

    ``log(1 + exp(z))`` is computed as ``logaddexp(0, z)``: no overflow at any input.
    Shape: ``(N, D) -> (N, D)``. ``beta > 0``.
    """

    _scratch = ("f", "b")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        self.beta = check_real(beta, "beta", "Softplus", low=0.0, low_open=True)
        self.threshold = check_real(threshold, "threshold", "Softplus")

    def _fill(self, X, Y, S, Z, linear):
        np.multiply(X, self.beta, out=Z)
        np.greater(Z, self.threshold, out=linear)
        if S is not None:
            expit(Z, out=S)
            np.copyto(S, 1.0, where=linear)
        np.logaddexp(0.0, Z, out=Z)
        Z *= 1.0 / self.beta
        np.copyto(Z, X, where=linear)
        np.copyto(Y, Z)
        return Y


class SiLU(_SlopeActivation):
    """Sigmoid linear unit, or Swish (``torch.nn.SiLU``)::

        Y = X * s(X),    dY/dX = s(X) * (1 + X * (1 - s(X))),    s = sigmoid

    Shape: ``(N, D) -> (N, D)``.
    """

    _scratch = ("f",)

    def _fill(self, X, Y, S, P):
        expit(X, out=P)
        if S is not None:
            np.subtract(1.0, P, out=S)
            S *= X
            S += 1.0
            S *= P
        return np.multiply(X, P, out=Y)


class PReLU(Layer):
    """Parametric ReLU (``torch.nn.PReLU``), with a learned negative slope ``a``::

        Y = X if X > 0 else a * X
        dX = dY * (1 if X > 0 else a),     da = sum over samples (and features sharing a) of dY * min(X, 0)

    ``num_parameters = 1`` learns one slope for every feature, ``num_parameters = D`` one
    per feature; ``a`` starts at ``init`` (0.25, as PyTorch). Shape: ``(N, D) -> (N, D)``.
    """

    backward_reads = frozenset({"input"})
    is_activation = True

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float64):
        self.num_parameters = check_size(num_parameters, "num_parameters", "PReLU")
        self.init = check_real(init, "init", "PReLU")
        self.dtype = check_dtype(dtype, "PReLU: dtype")
        self.weight = Parameter(np.full(self.num_parameters, self.init, dtype=self.dtype), "weight")
        self.in_features = self.num_parameters if self.num_parameters > 1 else None
        self._X = None

    def forward(self, X: Array, train: bool = True) -> Array:
        if X.ndim != 2 or self.num_parameters not in (1, X.shape[1]):
            raise ValueError(f"{self!r}: expected input of shape (N, {self.num_parameters}) "
                             f"(or any width with num_parameters=1), got {X.shape}")
        if not train:
            Y = np.multiply(X, self.weight.value)
            np.copyto(Y, X, where=X > 0)
            return Y
        positive = self.buffer("_mask", X.shape, np.bool_)
        np.greater(X, 0, out=positive)
        Y = self.buffer("_Y", X.shape, X.dtype)
        np.multiply(X, self.weight.value, out=Y)
        np.copyto(Y, X, where=positive)
        self._X, self._positive = X, positive
        return Y

    def backward(self, dY: Array) -> Array:
        X = self.require_cache(self._X)
        self.check_grad_shape(dY, X.shape)
        dX = self.buffer("_dX", X.shape, X.dtype)
        np.minimum(X, 0.0, out=dX)
        dX *= dY                                      # dY * min(X, 0)
        a = self.weight
        if self.num_parameters > 1:
            np.add.reduce(dX, axis=0, out=a.grad)
        else:
            a.grad[0] = np.add.reduce(dX, axis=None)
        np.multiply(dY, a.value, out=dX)
        np.copyto(dX, dY, where=self._positive)
        return dX


class LogSoftmax(Activation):
    """Row-wise log-softmax ``Y[n, k] = X[n, k] - log sum_j exp(X[n, j])`` (``torch.nn.LogSoftmax(dim=1)``).

    Computed as ``S - log(sum exp(S))`` with ``S = X - max_j X[n, j]``: finite at any input
    (the largest term of the sum is 1). Backward (the Jacobian-vector product), with
    ``P = exp(Y)`` the softmax: ``dX = dY - P * sum_k dY[n, k]``, the sum per row.

    It makes the log-probabilities that ``NLLLoss`` takes. For training, prefer a linear last
    layer with ``CrossEntropyLoss``: it fuses the pair, with the same values and gradients.
    Shape: ``(N, D) -> (N, D)``.
    """

    backward_reads = frozenset({"output"})
    in_place = frozenset({"forward", "backward"})
    _scratch = ("f",)

    def _forward(self, X, Y, train):
        N = X.shape[0]
        r = self.buffer("_r", (N, 1), X.dtype) if train else np.empty((N, 1), X.dtype)
        np.maximum.reduce(X, axis=1, keepdims=True, out=r)
        np.subtract(X, r, out=Y)                          # S
        for y, rows, t in self.blocks(Y, r):
            np.exp(y, out=t)
            np.add.reduce(t, axis=1, keepdims=True, out=rows)
        np.log(r, out=r)
        Y -= r
        if train:
            self._cache = Y
        return Y

    def _backward(self, dY, dX):
        Y = self._cache
        s = self.buffer("_s", (Y.shape[0], 1), Y.dtype)
        np.add.reduce(dY, axis=1, keepdims=True, out=s)
        if dX is not dY:
            np.exp(Y, out=dX)
            dX *= s
            return np.subtract(dY, dX, out=dX)
        for y, d, rows, t in self.blocks(Y, dY, s):        # in place: exp(Y) needs a temporary
            np.exp(y, out=t)
            t *= rows
            d -= t
        return dY
        return dX
