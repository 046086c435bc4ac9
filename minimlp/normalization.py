"""Normalization layers: ``BatchNorm1d`` (over the batch) and ``LayerNorm`` (over features).

Both standardize, then scale and shift with learned ``gamma`` and ``beta``::

    X_hat = (X - mean) / sqrt(var + eps),     Y = gamma * X_hat + beta

and share one backward (``var`` is the biased variance over the ``M`` values averaged)::

    dX_hat = dY * gamma
    dX     = (dX_hat - mean(dX_hat) - X_hat * mean(dX_hat * X_hat)) / sqrt(var + eps)
    dgamma = sum_n dY * X_hat,     dbeta = sum_n dY

BatchNorm1d takes the means over the batch (axis 0), LayerNorm over the features (axis 1).
Shape: ``(N, D) -> (N, D)``.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_dtype, check_real, check_size
from .layer import Array, Layer, Parameter


def _check_bool(value, name: str, owner: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


class _Norm(Layer):
    """Shared parts: parameters, input check, and the backward written out above."""


    _gamma = _beta = None   # Parameters, or None when the layer does not learn them

    def _init_affine(self, D: int, scale: bool, shift: bool) -> None:
        if scale:
            self._gamma = Parameter(np.ones(D, dtype=self.dtype), "gamma")
        if shift:
            self._beta = Parameter(np.zeros(D, dtype=self.dtype), "beta")
        self._params = [p for p in (self._gamma, self._beta) if p is not None]
        self._cache = None

    gamma = property(lambda self: None if self._gamma is None else self._gamma.value)
    beta = property(lambda self: None if self._beta is None else self._beta.value)

    def parameters(self) -> list[Parameter]:
        return list(self._params)

    def _check_X(self, X: Array) -> None:
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != self.in_features:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.in_features}), got "
                             f"{getattr(X, 'shape', type(X).__name__)}")

    def _scale_shift(self, Y: Array) -> Array:
        if self._gamma is not None:
            Y *= self._gamma.value
        if self._beta is not None:
            Y += self._beta.value
        return Y

    def _keep_and_scale(self, X_hat: Array, inv_std: Array) -> Array:
        """Cache what backward needs; return ``gamma * X_hat + beta`` in the output buffer."""
        self._cache = (X_hat, inv_std)
        Y = self._buffer("_Y", X_hat.shape, self.dtype)
        np.copyto(Y, X_hat)
        return self._scale_shift(Y)

    def backward(self, dY: Array) -> Array:
        X_hat, inv_std = self._need_cache(self._cache)
        self._check_grad_shape(dY, X_hat.shape)
        ax = self.axis
        dX = self.buffer("_dX", dY.shape, self.dtype)
        if self._beta is not None:
            np.add.reduce(dY, axis=0, out=self._beta.grad)
        if self._gamma is not None:
            np.multiply(dY, X_hat, out=dX)
            np.add.reduce(dX, axis=0, out=self._gamma.grad)
            np.multiply(dY, self._gamma.value, out=dX)        # dX_hat
        else:
            np.copyto(dX, dY)
        # Every temporary is a buffer of the layer: a step allocates nothing of batch size.
        stat = (1, dX.shape[1]) if ax == 0 else (dX.shape[0], 1)
        mean_d = np.add.reduce(dX, axis=ax, keepdims=True, out=self.buffer("_mean_d", stat, self.dtype))
        mean_dx = self.buffer("_mean_dx", stat, self.dtype)
        np.einsum("nd,nd->d" if ax == 0 else "nd,nd->n", dX, X_hat, out=mean_dx.reshape(-1))
        M = dX.shape[ax]
        mean_d *= 1.0 / M
        mean_dx *= 1.0 / M
        tmp = np.multiply(X_hat, mean_dx, out=self.buffer("_tmp", dX.shape, self.dtype))
        dX -= mean_d
        dX -= tmp
        dX *= inv_std
        return dX


class BatchNorm1d(_Norm):
    """Batch normalization over the batch axis (``torch.nn.BatchNorm1d`` on 2-D input).

    Training (``train=True``) standardizes each feature with the batch's mean and biased
    variance, and updates the running statistics with PyTorch's momentum convention::

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * N / (N - 1)

    (the running variance takes the unbiased batch variance). ``momentum=None`` takes the
    cumulative moving average instead, as torch: ``momentum = 1 / k`` at the ``k``-th
    training batch (``num_batches_tracked``), so the running statistics are the plain means
    of the batch statistics so far (the first batch replaces the initial 0 and 1). Prediction (``train=False``)
    uses the running statistics instead: ``Y = gamma * (X - running_mean) /
    sqrt(running_var + eps) + beta``, a fixed affine map, so rows are independent.

    Shape: ``(N, num_features) -> (N, num_features)``; training needs ``N >= 2``.

    Parameters
    ----------
    num_features : int
    eps : float > 0, added to the variance.
    momentum : float in [0, 1], weight of the newest batch in the running statistics, or
        None for the cumulative moving average.
    affine : bool, learn ``gamma`` (starts at 1) and ``beta`` (starts at 0).
    dtype : float64 (default) or float32

    Buffers (saved with the model): ``running_mean`` (starts at 0), ``running_var`` (at 1),
    and with ``momentum=None`` also ``num_batches_tracked`` (an int64 count, starts at 0).
    """

    axis = 0
    min_train_batch = 2   # a variance needs two samples (fit checks its last batch)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, dtype=np.float64):
        name = "BatchNorm1d"
        self.in_features = self.num_features = check_size(num_features, "num_features", name)
        self.eps = check_real(eps, "eps", name, low=0.0, low_open=True)
        self.momentum = None if momentum is None else check_real(momentum, "momentum", name,
                                                                 low=0.0, high=1.0)
        self.affine = _check_bool(affine, "affine", name)
        self.dtype = check_dtype(dtype, f"{name}: dtype")
        self.running_mean = np.zeros(self.num_features, dtype=self.dtype)
        self.running_var = np.ones(self.num_features, dtype=self.dtype)
        self.num_batches_tracked = np.zeros((), dtype=np.int64)   # 0-d: updated in place
        self._init_affine(self.num_features, self.affine, self.affine)

    def buffers(self) -> dict[str, Array]:
        # The arrays themselves: loading a model writes into them in place. The count is
        # state only for the cumulative average (files of other models stay as they were).
        out = {"running_mean": self.running_mean, "running_var": self.running_var}
        if self.momentum is None:
            out["num_batches_tracked"] = self.num_batches_tracked
        return out

    def get_config(self) -> dict:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "dtype": self.dtype.name}

    def forward(self, X: Array, train: bool = True) -> Array:
        self._check_X(X)
        if not train:   # the running statistics; the training cache stays as it is
            Y = X - self.running_mean
            Y *= 1.0 / np.sqrt(self.running_var + self.eps)
            return self._scale_shift(Y)
        N = X.shape[0]
        if N < 2:
            raise ValueError(f"{self!r}: training needs at least 2 samples per batch to "
                             f"estimate a variance, got input of shape {X.shape}")
        mean = X.mean(axis=0)
        X_hat = self._buffer("_X_hat", X.shape, self.dtype)
        np.subtract(X, mean, out=X_hat)
        var = np.einsum("nd,nd->d", X_hat, X_hat) / N
        inv_std = 1.0 / np.sqrt(var + self.eps)
        X_hat *= inv_std
        self.num_batches_tracked += 1
        m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean *= 1.0 - m
        self.running_mean += m * mean
        self.running_var *= 1.0 - m
        self.running_var += (m * N / (N - 1)) * var
        return self._keep_and_scale(X_hat, inv_std)

    def __repr__(self) -> str:
        extra = "" if self.eps == 1e-5 else f", eps={self.eps}"
        extra += "" if self.momentum == 0.1 else f", momentum={self.momentum}"
        extra += "" if self.affine else ", affine=False"
        extra += "" if self.dtype == np.float64 else f", dtype={self.dtype.name}"
        return f"BatchNorm1d({self.num_features}{extra})"

    def per_sample_sq_norms(self, X: Array, dY: Array) -> dict[str, Array]:
        """Not defined: in training a sample's output depends on every sample of the batch
        (through the batch mean and variance), so no gradient belongs to one sample alone.
        Raises ``NotImplementedError``; per-example norms and the gradient noise scale
        (``minimlp.noise``) leave models with BatchNorm1d out."""
        raise NotImplementedError(
            f"{self!r} couples the samples of a batch (its batch mean and variance): a sample's "
            "gradient depends on the other samples, so per-example gradient norms are not "
            "defined; use LayerNorm, or estimate the noise scale from two batch sizes")


class LayerNorm(_Norm):
    """Layer normalization over the features of each sample (``torch.nn.LayerNorm``)::

        X_hat[n] = (X[n] - mean_k X[n, k]) / sqrt(var_k X[n, k] + eps)
        Y = gamma * X_hat + beta          (gamma, beta of shape (D,))

    ``bias=False`` learns ``gamma`` only (``Y = gamma * X_hat``); ``elementwise_affine=False``
    learns neither (``Y = X_hat``).

    The same in training and prediction (no running statistics).
    Shape: ``(N, D) -> (N, D)`` with ``D = normalized_shape``.

    Parameters
    ----------
    normalized_shape : int (or a 1-tuple), the width ``D``.
    eps : float > 0
    elementwise_affine : bool, learn ``gamma`` (starts at 1) and, with ``bias``, ``beta``
        (starts at 0).
    bias : bool, learn ``beta`` too (only with ``elementwise_affine``; as torch).
    dtype : float64 (default) or float32
    """

    axis = 1

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=np.float64):
        name = "LayerNorm"
        if isinstance(normalized_shape, (tuple, list)):
            if len(normalized_shape) != 1:
                raise ValueError(f"{name}: normalized_shape must be one width D for (N, D) "
                                 f"input, got {tuple(normalized_shape)}")
            normalized_shape = normalized_shape[0]
        self.in_features = self.normalized_shape = check_size(normalized_shape, "normalized_shape", name)
        self.eps = check_real(eps, "eps", name, low=0.0, low_open=True)
        self.elementwise_affine = _check_bool(elementwise_affine, "elementwise_affine", name)
        self.bias = _check_bool(bias, "bias", name)
        self.dtype = check_dtype(dtype, f"{name}: dtype")
        self._init_affine(self.normalized_shape, self.elementwise_affine,
                          self.elementwise_affine and self.bias)

    def get_config(self) -> dict:
        return {"normalized_shape": self.normalized_shape, "eps": self.eps,
                "elementwise_affine": self.elementwise_affine, "bias": self.bias,
                "dtype": self.dtype.name}

    def forward(self, X: Array, train: bool = True) -> Array:
        self._check_X(X)
        N, D = X.shape
        X_hat = self.buffer("_X_hat", X.shape, self.dtype) if train else np.empty_like(X)
        row = self.buffer("_row", (N, 1), self.dtype) if train else np.empty((N, 1), self.dtype)
        np.add.reduce(X, axis=1, keepdims=True, out=row)
        row *= 1.0 / D
        np.subtract(X, row, out=X_hat)                       # X - mean
        inv_std = self.buffer("_inv_std", (N, 1), self.dtype) if train else np.empty((N, 1), self.dtype)
        np.einsum("nd,nd->n", X_hat, X_hat, out=inv_std.reshape(-1))
        inv_std *= 1.0 / D                                   # the biased variance
        inv_std += self.eps
        np.sqrt(inv_std, out=inv_std)
        np.divide(1.0, inv_std, out=inv_std)
        X_hat *= inv_std
        if not train:
            return self._scale_shift(X_hat)
        return self._keep_and_scale(X_hat, inv_std)

    def __repr__(self) -> str:
        extra = "" if self.eps == 1e-5 else f", eps={self.eps}"
        extra += "" if self.elementwise_affine else ", elementwise_affine=False"
        extra += "" if self.bias else ", bias=False"
        extra += "" if self.dtype == np.float64 else f", dtype={self.dtype.name}"
        return f"LayerNorm({self.normalized_shape}{extra})"

    def per_sample_sq_norms(self, X: Array, dY: Array) -> dict[str, Array]:
        """Squared norm of each sample's own share of the parameter gradients, from one batch.

        LayerNorm normalizes each row alone, so ``dgamma = sum_n dY_n * X_hat_n`` and
        ``dbeta = sum_n dY_n`` are sums of one term per sample::

            gamma: sum_k (dY[n, k] * X_hat[n, k])^2        beta: sum_k dY[n, k]^2     (each (N,))

        with ``X_hat`` recomputed from ``X`` as in ``forward``. With ``dY`` the per-sample
        gradients ``dl_n/dY_n`` these are the per-example gradient norms; a mean loss's
        ``dY`` gives them divided by ``N^2`` (see ``Dense.per_sample_sq_norms``).

        Shapes: ``X (N, D)`` (this layer's input), ``dY (N, D)`` -> a ``(N,)`` array per
        parameter, keyed by its name (none without parameters).
        """
        D = self.normalized_shape
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != D:
            raise ValueError(f"{self!r}: per_sample_sq_norms expected X of shape (N, {D}), "
                             f"got {getattr(X, 'shape', type(X).__name__)}")
        if not isinstance(dY, np.ndarray) or dY.shape != X.shape:
            raise ValueError(f"{self!r}: per_sample_sq_norms expected dY of shape {X.shape}, "
                             f"got {getattr(dY, 'shape', type(dY).__name__)}")
        out = {}
        for p in self.parameters():
            if p.name == "beta":
                out[p.name] = np.einsum("nk,nk->n", dY, dY)
            elif p.name == "gamma":
                centered = X - X.mean(axis=1, keepdims=True)
                var = np.einsum("nk,nk->n", centered, centered) / D
                G = dY * centered
                out[p.name] = np.einsum("nk,nk->n", G, G) / (var + self.eps)
            else:   # pragma: no cover - a parameter this method does not know
                raise NotImplementedError(f"{self!r}: no per-sample norm for parameter {p.name!r}")
        return out
