"""``Sequential``: layers applied in order; backward applies them in reverse."""
from __future__ import annotations

import inspect
from typing import Iterator

import numpy as np

from ._checks import as_float_array, check_size
from .layer import Array, Layer, Parameter
from .layers import Dense


class Sequential(Layer):
    """A stack of layers: ``Y = layer_L(... layer_2(layer_1(X)))``.

    ``backward(dY)`` runs the layers' ``backward`` in reverse order (the chain rule), writes
    every parameter's gradient and returns ``dL/dX``.

    Shape: ``X (N, D_in) -> Y (N, D_out)``, with ``D_in`` the first fixed-width layer's
    ``in_features``.

    The model has one dtype (that of its parameters; float64 when it has none). ``forward``
    and ``predict`` cast input once at the boundary: float, int and bool arrays are accepted
    and cast to the model's dtype; complex, object and string arrays raise ``TypeError``;
    NaN or inf raise ``ValueError``. Both return fresh arrays.

    Examples
    --------
    >>> import numpy as np, minimlp as mm
    >>> net = mm.Sequential(mm.Dense(2, 3, rng=0), mm.ReLU(), mm.Dense(3, 1, rng=1))
    >>> net.forward(np.ones((4, 2))).shape
    (4, 1)
    """

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a minimlp "
                                "Layer (did you forget the parentheses, e.g. ReLU()?)")
        first = {}
        for path, layer in _walk(layers):
            seen = first.setdefault(id(layer), path)
            if seen != path:
                # A layer keeps one cache: used twice, backward would silently use the wrong one
                # (nested Sequentials included).
                raise ValueError(f"Sequential: layer {path} ({layer!r}) is the same object as layer "
                                 f"{seen}; a layer can appear only once (create a new {type(layer).__name__})")
        self._layers = list(layers)
        # Widths must chain: layer i's output width is layer i+1's input width.
        width = None
        for i, layer in enumerate(self._layers):
            if layer.in_features is not None:
                if width is not None and width != layer.in_features:
                    raise ValueError(f"Sequential: layer {i} ({layer!r}) expects {layer.in_features} "
                                     f"input features, but the layer before it outputs {width}")
                if self.in_features is None:
                    self.in_features = layer.in_features
            if width is not None or layer.in_features is not None:
                width = layer.output_features(layer.in_features if width is None else width)
        self.out_features = width
        dtypes = {p.value.dtype for p in self.parameters()}
        if len(dtypes) > 1:
            owners = [(i, p.value.dtype) for i, layer in enumerate(self._layers)
                      for p in layer.parameters()]
            i0, d0 = owners[0]
            i, d = next((i, d) for i, d in owners if d != d0)
            raise ValueError(f"Sequential: layers mix dtypes: layer {i} ({self._layers[i]!r}) is "
                             f"{d.name} but layer {i0} ({self._layers[i0]!r}) is {d0.name}; "
                             "build every layer with the same dtype")
        self.dtype = dtypes.pop() if dtypes else np.dtype(np.float64)
        self._skip_first_dX = bool(self._layers) and _takes_need_input_grad(self._layers[0])
        # Layers whose backward may overwrite its incoming gradient (see Activation.backward),
        # and those whose forward may overwrite its input: a Dense output no one else reads.
        # (A subclass that overrides forward/backward without the keyword opts out.)
        takes = lambda method, name: name in inspect.signature(method).parameters
        self._in_place = [_own_flag(layer, "_backward_in_place", "_backward")
                          and takes(layer.backward, "overwrite_dY") for layer in self._layers]
        self._in_place_fwd = [i > 0 and isinstance(self._layers[i - 1], Dense)
                              and _own_flag(layer, "_forward_in_place", "_forward")
                              and takes(layer.forward, "overwrite_X")
                              for i, layer in enumerate(self._layers)]
        # A Dense layer after a ReLU may write dX over its cached input (the ReLU's output).
        self._dX_over_input = [i > 0 and isinstance(layer, Dense)
                               and _own_flag(self._layers[i - 1], "_output_free_after_forward", "_backward")
                               and takes(layer.backward, "overwrite_X")
                               for i, layer in enumerate(self._layers)]
        self._out_shape = None

    # -- container protocol --------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(self._layers[index])
        return self._layers[index]

    @property
    def layers(self) -> list[Layer]:
        """The layers, in order (a copy of the list)."""
        return list(self._layers)

    def parameters(self) -> list[Parameter]:
        """Every layer's parameters, in layer order."""
        return [p for layer in self._layers for p in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """``("<layer index>.<name>", Parameter)`` pairs, e.g. ``("0.W", ...)``."""
        return [(f"{i}.{p.name}", p) for i, layer in enumerate(self._layers)
                for p in layer.parameters()]

    def output_features(self, in_features: int) -> int:
        for layer in self._layers:
            in_features = layer.output_features(in_features)
        return in_features

    # -- computation ---------------------------------------------------------------------
    def check_input(self, X, what: str = "input X") -> Array:
        """``X`` validated and cast to the model's dtype (see the class docstring)."""
        X = as_float_array(X, self.dtype, f"Sequential {what}")
        if X.shape[0] == 0:
            raise ValueError(f"Sequential {what}: empty batch: expected at least one row, "
                             f"got shape {X.shape}")
        for i, layer in enumerate(self._layers):
            if layer.in_features is not None:
                if X.shape[1] != layer.in_features:
                    raise ValueError(
                        f"Sequential {what}: layer {i} ({layer!r}) expects input of shape "
                        f"(N, {layer.in_features}), got {X.shape}")
                break
        return X

    def forward(self, X, train: bool = True) -> Array:
        """Run every layer on ``X`` (N, D_in); returns a fresh ``Y`` (N, D_out).

        With ``train=True`` each layer caches what ``backward`` needs.
        """
        X = self.check_input(X)
        Y = self._forward_named(X, train)
        # Fresh: a training output lives in a layer's reused buffer, and a network of
        # Identity layers (or none) would hand back the caller's own array.
        return Y.copy() if train or Y is X else Y

    __call__ = forward

    def predict(self, X, batch_size: int | None = None) -> Array:
        """Forward with ``train=False``: no caches kept, dropout off. ``batch_size`` bounds
        memory on large inputs by predicting in chunks."""
        if batch_size is not None:
            batch_size = check_size(batch_size, "batch_size", "Sequential.predict")
        X = self.check_input(X)
        if batch_size is None or batch_size >= X.shape[0]:
            Y = self._forward_named(X, False)
            return Y.copy() if Y is X else Y   # never the caller's own array
        return np.concatenate([self._forward_named(X[i:i + batch_size], False)
                               for i in range(0, X.shape[0], batch_size)])

    def backward(self, dY) -> Array:
        """Backpropagate ``dY = dL/dY`` (N, D_out); writes every parameter's ``grad`` and
        returns ``dL/dX`` (N, D_in)."""
        if self._out_shape is None:
            raise RuntimeError("Sequential: backward() called without a preceding "
                               "forward(X, train=True) (predict() keeps no cache)")
        dY = as_float_array(dY, self.dtype, "Sequential backward dY", ndim=None)
        if dY.shape != self._out_shape:
            raise ValueError(f"Sequential: backward expected a gradient of shape {self._out_shape} "
                             f"(the shape of the last output), got {dY.shape}")
        for layer in reversed(self._layers):
            dY = layer.backward(dY)
        return dY

    def _forward_named(self, X: Array, train: bool) -> Array:
        """``_forward`` for the public entry points: an error raised inside a layer (say
        BatchNorm1d given one sample) comes back naming the layer's index, and the failed
        pass leaves no half-made state for ``backward`` to use."""
        try:
            return self._forward(X, train)
        except (ValueError, TypeError) as e:
            self._out_shape = None
            named = _name_the_layer(e, self._layers)
            if named is None:
                raise
            raise named from e

    # The unchecked hot path, for fit and the benchmarks (input already validated).
    def _forward(self, X: Array, train: bool = True) -> Array:
        if train:
            for layer, in_place in zip(self._layers, self._in_place_fwd):
                X = layer.forward(X, True, overwrite_X=True) if in_place else layer.forward(X, True)
        else:
            for layer in self._layers:
                X = layer.forward(X, False)
        self._out_shape = X.shape if train else None
        return X

    def _backward(self, dY: Array) -> None:
        """Backward that skips the input gradient of the first layer where it can.

        ``dY`` and every intermediate gradient are buffers no one reads again, so they may
        be overwritten: elementwise activations compute their ``dX`` in place.
        """
        layers, in_place, over_input = self._layers, self._in_place, self._dX_over_input
        for i in range(len(layers) - 1, 0, -1):
            if in_place[i]:
                dY = layers[i].backward(dY, overwrite_dY=True)
            elif over_input[i]:
                dY = layers[i].backward(dY, overwrite_X=True)
            else:
                dY = layers[i].backward(dY)
        if self._skip_first_dX:
            layers[0].backward(dY, need_input_grad=False)
        else:
            layers[0].backward(dY)

    # -- training (implemented in minimlp.training) -----------------------------------
    def fit(self, X, Y, **kwargs):
        """Train on ``X`` (N, D_in) and targets ``Y``; see ``minimlp.training.fit``."""
        from .training import fit
        return fit(self, X, Y, **kwargs)

    def evaluate(self, X, Y, **kwargs):
        """Loss and metrics on ``X``, ``Y``; see ``minimlp.training.evaluate``."""
        from .training import evaluate
        return evaluate(self, X, Y, **kwargs)

    # -- description ---------------------------------------------------------------------
    def summary(self) -> str:
        """A table of the layers with their output shapes and parameter counts."""
        rows = [("#", "layer", "output shape", "params")]
        width = self.in_features
        total = 0
        for i, layer in enumerate(self._layers):
            if width is not None:
                width = layer.output_features(width)
            n = sum(p.size for p in layer.parameters())
            total += n
            rows.append((str(i), repr(layer), f"(N, {width if width is not None else '?'})", f"{n:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = lambda r: "  ".join(r[c].ljust(widths[c]) if c < 3 else r[c].rjust(widths[c]) for c in range(4))
        out = [line(rows[0]), "-" * len(line(rows[0]))] + [line(r) for r in rows[1:]]
        out.append(f"total parameters: {total:,} ({self.dtype.name})")
        return "\n".join(out)

    def __repr__(self) -> str:
        if not self._layers:
            return "Sequential()"
        inner = ",\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self._layers))
        return f"Sequential(\n{inner}\n)"


def _name_the_layer(error: Exception, layers: list) -> Exception | None:
    """``error`` again, its message prefixed with ``layer i`` of the Sequential it came from
    (found in its traceback); ``None`` when that cannot be done."""
    index = {id(layer): i for i, layer in enumerate(layers)}
    tb, i = error.__traceback__, None
    while tb is not None:
        i = index.get(id(tb.tb_frame.f_locals.get("self")))
        if i is not None:
            break
        tb = tb.tb_next
    if i is None or tb is None or f"layer {i} " in str(error):
        return None
    try:
        return type(error)(f"Sequential: layer {i}: {error}")
    except Exception:   # an exception class with a different constructor: keep the original
        return None


def _walk(layers, prefix: str = ""):
    """``(path, layer)`` for every layer, descending into nested Sequentials (``"2.0"``)."""
    for i, layer in enumerate(layers):
        yield f"{prefix}{i}", layer
        if isinstance(layer, Sequential):
            yield from _walk(layer, f"{prefix}{i}.")


def _own_flag(layer: Layer, name: str, method: str) -> bool:
    """An in-place flag counts only where it is set by the class that defines ``method`` (or
    a subclass of it): a user's subclass that overrides ``method`` (say a ReLU whose backward
    reads its output) must opt in again, never inherit a promise made about other code."""
    mro = type(layer).__mro__
    where = lambda attr: next((i for i, c in enumerate(mro) if attr in c.__dict__), len(mro))
    return bool(getattr(layer, name, False)) and where(name) <= where(method)


def _takes_need_input_grad(layer: Layer) -> bool:
    import inspect
    try:
        return "need_input_grad" in inspect.signature(layer.backward).parameters
    except (TypeError, ValueError):
        return False
