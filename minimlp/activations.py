"""Activation layers: ``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU``, ``Softmax``, ``Identity``.

Each backward uses what its forward kept, never the pre-activation again: Sigmoid and Tanh
their output ``Y``, ReLU and LeakyReLU the mask ``X > 0``, Softmax its output rows.
Shape: ``(N, D) -> (N, D)`` in both directions.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, ndtr

from ._checks import check_real
from .layer import Array, Layer


class Activation(Layer):
    """An elementwise (or row-wise) function with no parameters.

    A subclass writes ``_forward(X, Y)`` (fill ``Y`` from ``X``; may keep a cache) and
    ``_backward(dY, dX)`` (fill ``dX`` from ``dY`` and the cache).
    """

    _cache = None  # what backward needs; None when no training forward preceded
    #: True when ``_backward(dY, dX)`` is correct with ``dX is dY`` (one elementwise product).
    _backward_in_place = False
    #: True when ``_forward(X, Y, keep)`` is correct with ``Y is X``.
    _forward_in_place = False

    def forward(self, X: Array, train: bool = True, overwrite_X: bool = False) -> Array:
        """``Y`` (N, D) from ``X`` (N, D). With ``overwrite_X=True`` (Sequential's hot path,
        when ``X`` is a Dense layer's output that no one else reads) a layer whose
        ``_forward`` is safe in place writes ``Y`` into ``X``'s memory."""
        if not train:
            self._cache = None
            return self._forward(X, np.empty_like(X), keep=False)
        if overwrite_X and self._forward_in_place:
            return self._forward(X, X, keep=True)
        return self._forward(X, self._buffer("_Y", X.shape, X.dtype), keep=True)

    def backward(self, dY: Array, overwrite_dY: bool = False) -> Array:
        """``dX`` (N, D) from ``dY`` (N, D). With ``overwrite_dY=True`` (Sequential's hot
        path, where ``dY`` is a buffer no one reads again) a layer whose ``_backward`` is
        safe in place writes ``dX`` into ``dY``'s memory instead of a buffer of its own."""
        cache = self._cache
        if cache is None or dY.shape != cache.shape:   # the checks, inlined
            cache = self._need_cache(cache)
            self._check_grad_shape(dY, cache.shape)
        if overwrite_dY and self._backward_in_place:
            return self._backward(dY, dY)
        dX = self.__dict__.get("_dX")
        if dX is None or dX.shape != dY.shape or dX.dtype != dY.dtype:   # _buffer, inlined
            dX = self._buffer("_dX", dY.shape, dY.dtype)
        return self._backward(dY, dX)

    def _forward(self, X: Array, Y: Array, keep: bool) -> Array:  # pragma: no cover
        raise NotImplementedError

    def _backward(self, dY: Array, dX: Array) -> Array:  # pragma: no cover
        raise NotImplementedError


class Identity(Activation):
    """``Y = X``, ``dX = dY`` (a linear output layer, for regression)."""

    def forward(self, X: Array, train: bool = True) -> Array:
        self._cache = X if train else None
        return X

    def _backward(self, dY: Array, dX: Array) -> Array:
        np.copyto(dX, dY)
        return dX


class Sigmoid(Activation):
    """Logistic function ``Y = 1 / (1 + exp(-X))``; ``dX = dY * Y * (1 - Y)``.

    Computed with ``scipy.special.expit``: no overflow or warning at any input.
    """

    _forward_in_place = True

    def _forward(self, X, Y, keep):
        expit(X, out=Y)
        if keep:
            self._cache = Y
        return Y

    def _backward(self, dY, dX):
        Y = self._cache
        np.subtract(1.0, Y, out=dX)   # slope from the output: Y (1 - Y)
        dX *= Y
        dX *= dY
        return dX


class Tanh(Activation):
    """Hyperbolic tangent ``Y = tanh(X)``; ``dX = dY * (1 - Y^2)``."""

    _forward_in_place = True

    def _forward(self, X, Y, keep):
        np.tanh(X, out=Y)
        if keep:
            self._cache = Y
        return Y

    def _backward(self, dY, dX):
        Y = self._cache
        np.multiply(Y, Y, out=dX)
        np.subtract(1.0, dX, out=dX)
        dX *= dY
        return dX


class ReLU(Activation):
    """Rectified linear unit ``Y = max(X, 0)``; ``dX = dY * [X > 0]`` (slope 0 at X = 0)."""

    def _forward(self, X, Y, keep):
        if keep:
            mask = self._buffer("_mask", X.shape, np.bool_)
            np.greater(X, 0, out=mask)
            self._cache = mask
        return np.maximum(X, 0, out=Y)

    _forward_in_place = _backward_in_place = True
    #: Backward reads the mask, not the output: the next layer may overwrite the output.
    _output_free_after_forward = True

    def _backward(self, dY, dX):
        return np.multiply(dY, self._cache, out=dX)


class LeakyReLU(Activation):
    """``Y = X if X > 0 else negative_slope * X``; ``dX = dY * (1 if X > 0 else negative_slope)``."""

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = check_real(negative_slope, "negative_slope", "LeakyReLU")

    def _forward(self, X, Y, keep):
        mask = self._buffer("_mask", X.shape, np.bool_) if keep else np.empty(X.shape, np.bool_)
        np.greater(X, 0, out=mask)
        np.multiply(X, self.negative_slope, out=Y)
        np.copyto(Y, X, where=mask)
        if keep:
            self._cache = mask
        return Y

    def _backward(self, dY, dX):
        np.multiply(dY, self.negative_slope, out=dX)
        np.copyto(dX, dY, where=self._cache)
        return dX

    def get_config(self):
        return {"negative_slope": self.negative_slope}

    def __repr__(self):
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class Softmax(Activation):
    """Row-wise softmax ``Y[n, k] = exp(X[n, k]) / sum_j exp(X[n, j])``.

    Backward (the Jacobian-vector product): ``dX = Y * (dY - sum_k dY * Y)``, the sum per row.
    Stable at any input (the row maximum is subtracted first). For classification prefer a
    linear last layer with ``CrossEntropyLoss``, which fuses softmax and its gradient.
    """

    def _forward(self, X, Y, keep):
        np.subtract(X, X.max(axis=1, keepdims=True), out=Y)
        np.exp(Y, out=Y)
        Y /= Y.sum(axis=1, keepdims=True)
        if keep:
            self._cache = Y
        return Y

    def _backward(self, dY, dX):
        Y = self._cache
        np.multiply(dY, Y, out=dX)
        s = dX.sum(axis=1, keepdims=True)
        np.subtract(dY, s, out=dX)
        dX *= Y
        return dX


class _SlopeActivation(Activation):
    """An elementwise activation whose training forward also stores its slope ``dY/dX``
    (the cache), so that backward is one multiplication: ``dX = dY * slope``."""

    _backward_in_place = True

    def _forward(self, X, Y, keep):
        S = self._buffer("_slope", X.shape, X.dtype) if keep else None
        self._fill(X, Y, S)
        if keep:
            self._cache = S
        return Y

    def _backward(self, dY, dX):
        return np.multiply(dY, self._cache, out=dX)

    def _fill(self, X, Y, S):  # pragma: no cover - abstract
        """Write f(X) into Y and, when S is not None, f'(X) into S."""
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

    def _fill(self, X, Y, S):
        if self.approximate == "none":
            Phi = ndtr(X)
            if S is not None:
                np.multiply(X, X, out=S)
                S *= -0.5
                np.exp(S, out=S)
                S *= X
                S *= 1.0 / np.sqrt(2.0 * np.pi)      # X * phi(X)
                S += Phi
            return np.multiply(X, Phi, out=Y)
        c, a = self._C, self._A
        X2 = np.multiply(X, X)
        U = np.multiply(X2, a)
        U += 1.0
        U *= X
        U *= c
        T = np.tanh(U, out=U)                         # t
        if S is not None:
            # (1 + t)/2 + X/2 (1 - t^2) c (1 + 3 a X^2)
            X2 *= 3.0 * a
            X2 += 1.0
            X2 *= c * 0.5
            X2 *= X
            np.multiply(T, T, out=S)
            np.subtract(1.0, S, out=S)
            S *= X2
            S += 0.5
            S += 0.5 * T
        T += 1.0
        T *= 0.5
        return np.multiply(X, T, out=Y)

    def get_config(self):
        return {"approximate": self.approximate}

    def __repr__(self):
        return "GELU()" if self.approximate == "none" else f"GELU(approximate={self.approximate!r})"


class ELU(_SlopeActivation):
    """Exponential linear unit (``torch.nn.ELU``)::

        Y = X                      if X > 0,   else  alpha * (exp(X) - 1)
        dY/dX = 1                  if X > 0,   else  Y + alpha

    Shape: ``(N, D) -> (N, D)``. ``alpha >= 0``; with ``alpha != 1`` the slope jumps at 0.
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = check_real(alpha, "alpha", "ELU", low=0.0)

    def _fill(self, X, Y, S):
        np.minimum(X, 0.0, out=Y)            # exp only of X <= 0: no overflow
        np.expm1(Y, out=Y)
        Y *= self.alpha
        positive = X > 0
        if S is not None:
            np.add(Y, self.alpha, out=S)
            S[positive] = 1.0
        np.copyto(Y, X, where=positive)
        return Y

    def get_config(self):
        return {"alpha": self.alpha}

    def __repr__(self):
        return f"ELU(alpha={self.alpha})"


class Softplus(_SlopeActivation):
    """Smooth ReLU (``torch.nn.Softplus``)::

        Y = log(1 + exp(beta X)) / beta,    dY/dX = sigmoid(beta X)
        Y = X, dY/dX = 1                    where beta X > threshold (linear, as PyTorch)

    ``log(1 + exp(z))`` is computed as ``logaddexp(0, z)``: no overflow at any input.
    Shape: ``(N, D) -> (N, D)``. ``beta > 0``.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        self.beta = check_real(beta, "beta", "Softplus", low=0.0, low_open=True)
        self.threshold = check_real(threshold, "threshold", "Softplus")

    def _fill(self, X, Y, S):
        Z = np.multiply(X, self.beta)
        linear = Z > self.threshold
        if S is not None:
            expit(Z, out=S)
            S[linear] = 1.0
        np.logaddexp(0.0, Z, out=Z)
        np.multiply(Z, 1.0 / self.beta, out=Y)
        np.copyto(Y, X, where=linear)
        return Y

    def get_config(self):
        return {"beta": self.beta, "threshold": self.threshold}

    def __repr__(self):
        return f"Softplus(beta={self.beta}, threshold={self.threshold})"


class LogSoftmax(Activation):
    """Row-wise log-softmax ``Y[n, k] = X[n, k] - log sum_j exp(X[n, j])`` (``torch.nn.LogSoftmax(dim=1)``).

    Computed as ``S - log(sum exp(S))`` with ``S = X - max_j X[n, j]``: finite at any input
    (the largest term of the sum is 1). Backward (the Jacobian-vector product), with
    ``P = exp(Y)`` the softmax: ``dX = dY - P * sum_k dY[n, k]``, the sum per row.

    It makes the log-probabilities that ``NLLLoss`` takes. For training, prefer a linear last
    layer with ``CrossEntropyLoss``: it fuses the pair, with the same values and gradients.
    Shape: ``(N, D) -> (N, D)``.
    """

    def _forward(self, X, Y, keep):
        np.subtract(X, X.max(axis=1, keepdims=True), out=Y)
        Y -= np.log(np.exp(Y).sum(axis=1, keepdims=True))
        if keep:
            self._cache = Y
        return Y

    def _backward(self, dY, dX):
        s = dY.sum(axis=1, keepdims=True)
        np.exp(self._cache, out=dX)
        dX *= s
        np.subtract(dY, dX, out=dX)
        return dX
