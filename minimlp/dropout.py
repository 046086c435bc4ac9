"""``Dropout``: inverted dropout, on in training and off (the identity) in prediction."""
from __future__ import annotations

import numpy as np

from ._checks import check_real
from .init import as_generator
from .layer import Array, Layer


class Dropout(Layer):
    """Inverted dropout: each element is zeroed with probability ``p`` while training.

    Training (``train=True``), with a fresh mask per call::

        M[n, k] = [U[n, k] >= p] / (1 - p),   U ~ Uniform[0, 1)
        Y = X * M,        dX = dY * M

    so that ``E[Y] = X`` and prediction (``train=False``) is the identity ``Y = X``.
    ``p = 1`` zeroes everything (as PyTorch).

    Shape: ``(N, D) -> (N, D)``.

    Parameters
    ----------
    p : float in [0, 1], the drop probability (default 0.5).
    rng : int, numpy.random.Generator or None
        The source of the masks: the same seed gives the same masks, call after call.

    Attributes
    ----------
    freeze_mask : bool
        When ``True``, a training forward reuses the last mask while the input shape stays
        the same (a fixed function of ``X``: what a finite-difference gradient check needs).
        Default ``False``.
    """

    def __init__(self, p: float = 0.5, rng=None):
        self.p = check_real(p, "p (drop probability)", "Dropout", low=0.0, high=1.0)
        self._rng = as_generator(rng)
        self.freeze_mask = False
        self._mask = None   # the scaled mask M of the last training forward (the cache)

    def get_config(self) -> dict:
        return {"p": self.p}

    def forward(self, X: Array, train: bool = True) -> Array:
        if not train:   # the identity; the training mask stays as it is
            return X
        M = self._mask
        if not (self.freeze_mask and M is not None and M.shape == X.shape and M.dtype == X.dtype):
            M = self._draw(X.shape, X.dtype)
        self._mask = M
        Y = self._buffer("_Y", X.shape, X.dtype)
        return np.multiply(X, M, out=Y)

    def _draw(self, shape: tuple, dtype) -> Array:
        M = self._buffer("_M", shape, dtype)
        if self.p == 0.0:
            M.fill(1.0)
            return M
        keep = self._buffer("_keep", shape, np.bool_)
        self._rng.random(shape, dtype=dtype, out=M)
        np.greater_equal(M, self.p, out=keep)
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        return np.multiply(keep, scale, out=M)

    def backward(self, dY: Array) -> Array:
        M = self._need_cache(self._mask)
        self._check_grad_shape(dY, M.shape)
        dX = self._buffer("_dX", dY.shape, dY.dtype)
        return np.multiply(dY, M, out=dX)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
