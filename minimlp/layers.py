"""Layers with weights: ``Dense``."""
from __future__ import annotations

import numpy as np

from ._checks import check_dtype, check_size
from .init import as_generator, get_initializer
from .init import pytorch as pytorch_init
from .layer import Array, Layer, Parameter


class Dense(Layer):
    """Fully connected layer: ``Y = X @ W + b``.

    Gradients, given ``dY = dL/dY``::

        dW = X^T dY            (in_features, out_features)
        db = sum_n dY[n]       (out_features,)
        dX = dY W^T            (N, in_features)

    Shape: ``X (N, in_features) -> Y (N, out_features)``.

    Parameters
    ----------
    in_features, out_features : int
        Widths of the input and the output (>= 1).
    bias : bool
        Learn an additive bias ``b`` (default ``True``).
    init : str or callable
        Weight initializer, a name from ``minimlp.init.INITIALIZERS`` or a function
        ``init(fan_in, fan_out, rng, dtype)``; default ``"glorot_uniform"``. Biases start at
        zero, except with ``"pytorch"`` (drawn like the weights, as ``torch.nn.Linear``).
    rng : int, numpy.random.Generator or None
        Source of the initial weights (``None``: fresh OS entropy; never the global RNG).
    dtype : float64 (default) or float32

    Attributes
    ----------
    W, dW : Array (in_features, out_features)
    b, db : Array (out_features,) or ``None`` without bias
        Allocated once and updated in place, never rebound.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 init="glorot_uniform", rng=None, dtype=np.float64):
        name = f"Dense({in_features}, {out_features})"
        self.in_features = check_size(in_features, "in_features", name)
        self.out_features = check_size(out_features, "out_features", name)
        self.dtype = check_dtype(dtype, f"{name}: dtype")
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"{name}: bias must be True or False, got {bias!r}")
        try:
            initializer = get_initializer(init)
            gen = as_generator(rng)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name}: {e}") from None
        W = np.asarray(initializer(self.in_features, self.out_features, gen, self.dtype), dtype=self.dtype)
        if W.shape != (self.in_features, self.out_features):
            raise ValueError(f"{name}: initializer returned shape {W.shape}, expected "
                             f"{(self.in_features, self.out_features)}")
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        self._W = Parameter(np.ascontiguousarray(W), "W")
        self._params = [self._W]
        self._b = None
        if bias:
            if initializer is pytorch_init:   # the name or the function itself
                bound = 1.0 / np.sqrt(self.in_features)
                b = gen.uniform(-bound, bound, size=self.out_features).astype(self.dtype)
            else:
                b = np.zeros(self.out_features, dtype=self.dtype)
            self._b = Parameter(b, "b")
            self._params.append(self._b)
        self._X = None

    # The arrays, by their names from the math.
    W = property(lambda self: self._W.value)
    dW = property(lambda self: self._W.grad)
    b = property(lambda self: None if self._b is None else self._b.value)
    db = property(lambda self: None if self._b is None else self._b.grad)

    def parameters(self) -> list[Parameter]:
        return list(self._params)

    def get_config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self._b is not None, "dtype": self.dtype.name}

    def output_features(self, in_features: int) -> int:
        return self.out_features

    #: Backward reads the cached input (for dW); dX may be written over it afterwards, and
    #: the first layer of a network skips dX.
    backward_reads = frozenset({"input"})
    in_place = frozenset({"backward_input"})
    input_grad_optional = True

    @property
    def input(self) -> Array | None:
        """The input ``X`` of the last training forward (what backward reads), or ``None``."""
        return self._X

    def forward(self, X: Array, train: bool = True) -> Array:
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.in_features}), got {X.shape}")
        if not train:   # a fresh array; the training cache stays as it is
            Y = X @ self._W.value
            if self._b is not None:
                Y += self._b.value
            return Y
        Y = self.__dict__.get("_Y")
        if Y is None or Y.shape[0] != X.shape[0]:   # (the fast path of buffer, inlined)
            Y = self.buffer("_Y", (X.shape[0], self.out_features), self.dtype)
        np.matmul(X, self._W.value, out=Y)
        b = self._b
        if b is not None:
            Y += b.value
        self._X = X
        return Y

    def backward(self, dY: Array, *, input_grad: bool = True, out: Array | None = None) -> Array | None:
        """``dX = dY W^T`` (N, in_features) from ``dY`` (N, out_features); writes ``dW``
        and ``db``.

        ``input_grad=False`` skips ``dX`` and returns ``None`` (the first layer of a
        network). ``out`` is where ``dX`` goes (the plan passes the cached input, which no
        one reads after this backward); by default a buffer of the layer.
        """
        X = self._X
        if X is None or dY.shape != (X.shape[0], self.out_features):   # the checks, inlined
            X = self.require_cache(X)
            self.check_grad_shape(dY, (X.shape[0], self.out_features))
        W = self._W
        if X.shape[0] == 1:
            # np.matmul's inner-dimension-1 path is several times slower than a broadcast
            # outer product (docs/benchmarks.md, "batch 1").
            np.multiply(X.T, dY, out=W.grad)
            if self._b is not None:
                np.copyto(self._b.grad, dY[0])   # the sum over one row is that row (faster)
        else:
            np.matmul(X.T, dY, out=W.grad)
            if self._b is not None:
                np.add.reduce(dY, axis=0, out=self._b.grad)
        if not input_grad:
            return None
        if out is None:
            out = self.__dict__.get("_dX")
            if out is None or out.shape[0] != X.shape[0]:   # (the fast path of buffer, inlined)
                out = self.buffer("_dX", X.shape, self.dtype)
        return np.matmul(dY, W.value.T, out=out)

    def __repr__(self) -> str:
        extra = "" if self._b is not None else ", bias=False"
        extra += "" if self.dtype == np.float64 else f", dtype={self.dtype.name}"
        return f"Dense({self.in_features}, {self.out_features}{extra})"

    def per_sample_sq_norms(self, X: Array, dY: Array) -> dict[str, Array]:
        """Squared norm of each sample's own share of ``dW`` and ``db``, from one batch.

        ``dW = X^T dY = sum_n x_n^T dY_n`` is a sum of rank-one matrices, one per sample, and
        ``||x_n^T dY_n||_F^2 = ||x_n||^2 ||dY_n||^2``; ``db = sum_n dY_n``::

            W: ||x_n||^2 * ||dY_n||^2          b: ||dY_n||^2          (each (N,))

        With ``dY`` the per-sample gradients ``delta_n = dl_n/dY_n`` these are the squared
        norms of the per-example gradients ``dl_n/dW``, ``dl_n/db``. The values are quadratic
        in ``dY``: the ``dY`` of a mean loss is ``delta / N`` and gives them divided by
        ``N^2`` (``minimlp.noise.per_example_grad_norms`` scales them back). See
        docs/backprop.md, "Per-example gradient norms".

        Shapes: ``X (N, in_features)`` (this layer's input), ``dY (N, out_features)`` ->
        ``{"W": (N,), "b": (N,)}`` (no ``"b"`` without bias).
        """
        N = X.shape[0] if isinstance(X, np.ndarray) and X.ndim == 2 else None
        if N is None or X.shape[1] != self.in_features:
            raise ValueError(f"{self!r}: per_sample_sq_norms expected X of shape "
                             f"(N, {self.in_features}), got {getattr(X, 'shape', type(X).__name__)}")
        if not isinstance(dY, np.ndarray) or dY.shape != (N, self.out_features):
            raise ValueError(f"{self!r}: per_sample_sq_norms expected dY of shape "
                             f"({N}, {self.out_features}), got {getattr(dY, 'shape', type(dY).__name__)}")
        d2 = np.einsum("nk,nk->n", dY, dY)
        out = {"W": np.einsum("nk,nk->n", X, X) * d2}
        if self._b is not None:
            out["b"] = d2
        return out
