"""Activation layers: ``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU``, ``Softmax``, ``Identity``.

Each backward uses what its forward kept, never the pre-activation again: Sigmoid and Tanh
their output ``Y``, ReLU and LeakyReLU the mask ``X > 0``, Softmax its output rows.
Shape: ``(N, D) -> (N, D)`` in both directions.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from ._checks import check_real
from .layer import Array, Layer


class Activation(Layer):
    """An elementwise (or row-wise) function with no parameters.

    A subclass writes ``_forward(X, Y)`` (fill ``Y`` from ``X``; may keep a cache) and
    ``_backward(dY, dX)`` (fill ``dX`` from ``dY`` and the cache).
    """

    _cache = None  # what backward needs; None when no training forward preceded

    def forward(self, X: Array, train: bool = True) -> Array:
        if not train:
            self._cache = None
            return self._forward(X, np.empty_like(X), keep=False)
        Y = self._buffer("_Y", X.shape, X.dtype)
        return self._forward(X, Y, keep=True)

    def backward(self, dY: Array) -> Array:
        cache = self._need_cache(self._cache)
        self._check_grad_shape(dY, cache.shape)
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
