"""The layer contract: ``forward``, ``backward`` and ``parameters``.

Every layer maps a batch ``X`` of shape ``(N, D_in)`` to ``Y`` of shape ``(N, D_out)``
and, given ``dY = dL/dY``, returns ``dX = dL/dX`` while writing the gradients of its own
parameters. Arrays are batch-first; the batch is never looped over in Python.

Buffers: a layer owns its output and gradient arrays and reuses them while the batch shape
stays the same (``buffer``). An array returned by a layer's ``forward``/``backward`` is
therefore overwritten by the next call of that layer; copy it if you keep it.
``Sequential.forward`` and ``predict`` hand out fresh arrays.

What a layer declares, so that ``TrainStep`` can plan buffer reuse without guessing (class
attributes, read once per class):

``backward_reads``
    What ``backward`` reads of the last training forward besides the layer's own saved
    state: ``"input"`` (the ``X`` it was given) and/or ``"output"`` (the ``Y`` it returned).
    ReLU reads neither (it keeps its own mask), Sigmoid reads its output, Dense its input.
``in_place``
    Which keyword arguments the layer accepts from the plan: ``"forward"`` means
    ``forward(X, True, out=X)`` is correct (``Y`` written over ``X``); ``"backward"``
    means ``backward(dY, out=dY)`` is correct (``dX`` written over ``dY``);
    ``"backward_input"`` means ``backward(dY, out=<its cached input>)`` is correct (``dX``
    written over the input once the layer has read it).
``input_grad_optional``
    ``backward(dY, input_grad=False)`` skips ``dX`` and returns ``None`` (the first layer of a
    network needs no input gradient).

A subclass that overrides ``forward``/``backward`` (or an activation's ``_forward`` /
``_backward``) without declaring these again gets the safe defaults (reads everything,
nothing in place), decided once, when the class is defined.
"""
from __future__ import annotations

import inspect
from typing import Iterator

import numpy as np

Array = np.ndarray

_READS_ALL = frozenset({"input", "output"})
_IN_PLACE = frozenset({"forward", "backward", "backward_input"})


class Parameter:
    """A trainable array and its gradient.

    Attributes
    ----------
    value : Array
        The parameter itself, e.g. ``W`` of shape ``(in_features, out_features)``.
        Updated in place by optimizers; never rebound, so it is safe to hold.
    grad : Array
        ``dL/dvalue``, same shape and dtype as ``value``; overwritten by each ``backward``
        (a reused buffer: copy it to keep it).
    name : str
        The name inside its layer (``"W"``, ``"b"``); ``named_parameters`` prefixes the
        layer's path (``"0.W"``, ``"1.0.W"`` inside a nested Sequential).
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

    A subclass writes ``__init__``, ``forward(X, train=True) -> Y`` and
    ``backward(dY) -> dX``. ``forward`` with ``train=True`` caches what ``backward`` needs;
    with ``train=False`` it leaves the training cache alone (a prediction between a
    training forward and its backward changes nothing). ``parameters()``, ``get_config()``
    and ``repr`` come from the base class: the ``Parameter`` attributes in assignment
    order, and the ``__init__`` arguments read back from attributes of the same name.

    Shape: ``(N, D_in) -> (N, D_out)`` for ``forward`` and ``(N, D_out) -> (N, D_in)`` for
    ``backward``.
    """

    #: Set by a subclass whose input width is fixed (Dense); ``None`` means "any".
    in_features: int | None = None

    #: See the module docstring: what backward reads, what may be done in place.
    backward_reads: frozenset = _READS_ALL
    in_place: frozenset = frozenset()
    input_grad_optional: bool = False
    #: The smallest batch a training forward accepts (BatchNorm1d: 2).
    min_train_batch: int = 1

    #: Every Layer subclass by class name, so that saved architectures can be rebuilt.
    registry: dict[str, type] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Layer.registry[cls.__name__] = cls
        own = cls.__dict__
        if not set(own.get("in_place", frozenset())) <= _IN_PLACE:
            raise ValueError(f"{cls.__name__}.in_place: unknown entries "
                             f"{sorted(set(own['in_place']) - _IN_PLACE)}; allowed: {sorted(_IN_PLACE)}")
        forward = "forward" in own or "_forward" in own
        backward = "backward" in own or "_backward" in own
        # A promise about code is only kept by the class that wrote that code.
        if (forward or backward) and "backward_reads" not in own:
            cls.backward_reads = _READS_ALL
        if "in_place" not in own:
            drop = ({"forward"} if forward else set()) | ({"backward", "backward_input"} if backward else set())
            cls.in_place = frozenset(cls.in_place - drop)
        if backward and "input_grad_optional" not in own:
            cls.input_grad_optional = False

    # -- the contract ------------------------------------------------------------------
    def forward(self, X: Array, train: bool = True) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dY: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def parameters(self) -> list[Parameter]:
        """The layer's trainable parameters (``[]`` if none): its ``Parameter``
        attributes, in the order they were assigned."""
        seen, out = set(), []
        for value in self.__dict__.values():
            if isinstance(value, Parameter) and id(value) not in seen:
                seen.add(id(value))
                out.append(value)
        return out

    def buffers(self) -> dict[str, Array]:
        """Non-trainable state that a saved model must keep (e.g. running statistics)."""
        return {}

    def get_config(self) -> dict:
        """JSON-safe constructor arguments: ``type(self)(**layer.get_config())`` rebuilds the
        layer (with fresh parameters; ``parameters()`` and ``buffers()`` carry the values).

        By default the ``__init__`` arguments read back from attributes of the same name
        (``dtype`` as its name); arguments with no such attribute (``rng``) are left out.
        """
        config = {}
        for name in _init_arguments(type(self)):
            if hasattr(self, name):
                value = getattr(self, name)
                if isinstance(value, np.dtype):
                    value = value.name
                elif isinstance(value, np.generic):
                    value = value.item()
                config[name] = value
        return config

    def output_features(self, in_features: int) -> int:
        """Width of the output for an input of width ``in_features`` (shape inference)."""
        return in_features

    def walk(self, prefix: str = "") -> Iterator[tuple[str, "Layer"]]:
        """``(path, layer)`` for every layer inside this one, depth first, with dotted
        paths (``"1"``, ``"1.0"``); a plain layer has none (``Sequential`` overrides)."""
        return iter(())

    def leaves(self) -> list["Layer"]:
        """The layers that compute, in order, nested containers flattened (``[self]`` for
        a plain layer)."""
        return [self]

    def named_leaves(self) -> list[tuple[str, "Layer"]]:
        """``(path, layer)`` of ``leaves()``: ``[("", self)]`` for a plain layer; a container
        gives each computing layer its dotted path (``"0"``, ``"1.0"``)."""
        return [("", self)]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """``(name, Parameter)`` pairs with names unique in the model: ``"W"`` for a plain
        layer; a container prefixes each layer's path (``"0.W"``, ``"1.0.W"``)."""
        return [(p.name, p) for p in self.parameters()]

    def named_buffers(self) -> list[tuple[str, Array]]:
        """``(name, array)`` of ``buffers()``, prefixed with the layer's path in a container
        as ``named_parameters`` (``"1.running_mean"``)."""
        return list(self.buffers().items())

    def __call__(self, X: Array, train: bool = True) -> Array:
        return self.forward(X, train)

    # -- helpers for layer authors -----------------------------------------------------
    def buffer(self, name: str, shape: tuple, dtype) -> Array:
        """A reusable array ``self.<name>`` of ``shape``/``dtype`` (contents undefined).

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

    _buffer = buffer   # the earlier, private name

    def require_cache(self, cache):
        """``cache`` itself; a RuntimeError naming the layer when no training forward
        preceded (it is ``None``)."""
        if cache is None:
            raise RuntimeError(
                f"{self!r}: backward() called without a preceding forward(X, train=True) "
                "(predict() and forward(train=False) keep no cache)"
            )
        return cache

    _need_cache = require_cache

    def check_grad_shape(self, dY: Array, expected: tuple) -> None:
        """A ValueError naming the layer unless ``dY.shape == expected``."""
        if dY.shape != expected:
            raise ValueError(
                f"{self!r}: backward expected a gradient of shape {expected} (the shape of "
                f"its last output), got {dY.shape}"
            )

    _check_grad_shape = check_grad_shape

    def __repr__(self) -> str:
        """``Name(arg=value, ...)`` from ``get_config()``, arguments at their default left out."""
        defaults = _init_defaults(type(self))
        config = self.get_config()
        args = []
        for name, value in config.items():
            if name in defaults and _same(defaults[name], value):
                continue
            args.append(f"{name}={value!r}" if name != "dtype" else f"dtype={value}")
        return f"{type(self).__name__}({', '.join(args)})"


def _init_arguments(cls) -> list[str]:
    return [name for name, p in _signature(cls).items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"]


def _init_defaults(cls) -> dict:
    out = {}
    for name, p in _signature(cls).items():
        if p.default is not p.empty:
            d = p.default
            out[name] = np.dtype(d).name if name == "dtype" else d
    return out


_SIGNATURES: dict[type, dict] = {}


def _signature(cls) -> dict:
    sig = _SIGNATURES.get(cls)
    if sig is None:
        init = cls.__init__
        sig = {} if init is object.__init__ else dict(inspect.signature(init).parameters)
        _SIGNATURES[cls] = sig
    return sig


def _same(a, b) -> bool:
    """``a == b`` for a default and a stored value (``1`` and ``1.0`` alike; ``True`` is not ``1``)."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if number(a) and number(b):
        return a == b
    return type(a) is type(b) and a == b
