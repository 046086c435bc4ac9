"""The layer contract: ``forward``, ``backward`` and ``parameters``.

Every layer maps a batch ``X`` of shape ``(N, D_in)`` to ``Y`` of shape ``(N, D_out)``
and, given ``dY = dL/dY``, returns ``dX = dL/dX`` while writing the gradients of its own
parameters. Arrays are batch-first; the batch is never looped over in Python.

Buffers: a layer owns its output and gradient arrays and reuses them while the batch shape
stays the same (``_buffer``). An array returned by ``forward``/``backward`` is therefore
overwritten by the next call of that layer; copy it if you keep it. ``Sequential.forward``
and ``predict`` hand out fresh arrays.
"""
from __future__ import annotations

import numpy as np

Array = np.ndarray


class Parameter:
    """A trainable array and its gradient.

    Attributes
    ----------
    value : Array
        The parameter itself, e.g. ``W`` of shape ``(in_features, out_features)``.
        Updated in place by optimizers; never rebound, so it is safe to hold.
    grad : Array
        ``dL/dvalue``, same shape and dtype as ``value``; overwritten by each ``backward``.
    name : str
        The name inside its layer (``"W"``, ``"b"``); ``Sequential.named_parameters``
        prefixes the layer index (``"0.W"``).
    """

    __slots__ = ("value", "grad", "name")

    def __init__(self, value: Array, name: str):
        self.value = value
        self.grad = np.zeros_like(value)
        self.name = name

    @property
    def shape(self) -> tuple:
        return self.value.shape

    @property
    def size(self) -> int:
        return self.value.size

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.value.shape}, dtype={self.value.dtype})"


class Layer:
    """Base class of all layers.

    Subclasses implement ``forward(X, train=True) -> Y`` and ``backward(dY) -> dX``;
    layers with weights also return them from ``parameters()``. ``forward`` with
    ``train=True`` caches what ``backward`` needs; with ``train=False`` it caches nothing.

    Shape: ``(N, D_in) -> (N, D_out)`` for ``forward`` and ``(N, D_out) -> (N, D_in)`` for
    ``backward``.
    """

    #: Set by a subclass whose input width is fixed (Dense); ``None`` means "any".
    in_features: int | None = None

    #: Every Layer subclass by class name, so that saved architectures can be rebuilt.
    registry: dict[str, type] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Layer.registry[cls.__name__] = cls

    def get_config(self) -> dict:
        """JSON-safe constructor arguments: ``type(self)(**layer.get_config())`` rebuilds the
        layer (with fresh parameters; ``parameters()`` and ``buffers()`` carry the values)."""
        return {}

    def buffers(self) -> dict[str, Array]:
        """Non-trainable state that a saved model must keep (e.g. running statistics)."""
        return {}

    def forward(self, X: Array, train: bool = True) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dY: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def parameters(self) -> list[Parameter]:
        """The layer's trainable parameters (``[]`` if none)."""
        return []

    def output_features(self, in_features: int) -> int:
        """Width of the output for an input of width ``in_features`` (shape inference)."""
        return in_features

    def __call__(self, X: Array, train: bool = True) -> Array:
        return self.forward(X, train)

    # -- helpers for subclasses -------------------------------------------------------
    def _buffer(self, name: str, shape: tuple, dtype) -> Array:
        """A reusable array ``self.<name>`` of ``shape``/``dtype``.

        Allocated when first needed or when the batch grows; a smaller batch (the last,
        partial one of an epoch) gets a view of the first rows, so alternating batch sizes
        allocate nothing.
        """
        buf = self.__dict__.get(name)
        if buf is not None and buf.shape == shape and buf.dtype == dtype:
            return buf   # the common case: same batch shape as the last step
        if buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:] or buf.shape[0] < shape[0]:
            buf = np.empty(shape, dtype=dtype)
            self.__dict__[name] = buf
            return buf
        return buf[:shape[0]]   # a smaller batch: the first rows

    def _need_cache(self, cache: Array | None) -> Array:
        if cache is None:
            raise RuntimeError(
                f"{self!r}: backward() called without a preceding forward(X, train=True) "
                "(predict() and forward(train=False) keep no cache)"
            )
        return cache

    def _check_grad_shape(self, dY: Array, expected: tuple) -> None:
        if dY.shape != expected:
            raise ValueError(
                f"{self!r}: backward expected a gradient of shape {expected} (the shape of "
                f"its last output), got {dY.shape}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
