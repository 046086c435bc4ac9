"""``Sequential``: layers applied in order; backward applies them in reverse."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ._checks import as_float_array, check_size
from .layer import Array, Layer, Parameter


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
        for path, layer in _walk(layers, ""):
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
        self._out_shape = None   # the output shape of the last training forward

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

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """``(path, layer)`` for every layer, nested Sequentials and their layers included,
        depth first: ``("0", Dense), ("1", Sequential), ("1.0", Dense), ...``."""
        return _walk(self._layers, prefix)

    def leaves(self) -> list[Layer]:
        """The computing layers in order, nested Sequentials flattened."""
        return [leaf for layer in self._layers for leaf in layer.leaves()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """``("<path>.<name>", Parameter)`` pairs, unique in the model: ``"0.W"``, and
        ``"1.0.W"`` for the first layer of a nested Sequential at index 1."""
        return [(f"{i}.{name}", p) for i, layer in enumerate(self._layers)
                for name, p in layer.named_parameters()]

    def named_buffers(self) -> list[tuple[str, Array]]:
        """``("<path>.<name>", array)`` of every layer's ``buffers()``."""
        return [(f"{i}.{name}", a) for i, layer in enumerate(self._layers)
                for name, a in layer.named_buffers()]

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

        With ``train=True`` each layer caches what ``backward`` needs; with ``train=False``
        (as ``predict``) nothing is cached and the caches of an earlier training forward are
        left alone, so a ``backward`` after it still gives that forward's gradients.
        """
        X = self.check_input(X)
        Y = self._run(X, train)
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
            Y = self._run(X, False)
            return Y.copy() if Y is X else Y   # never the caller's own array
        return np.concatenate([self._run(X[i:i + batch_size], False)
                               for i in range(0, X.shape[0], batch_size)])

    def backward(self, dY, input_grad: bool = True) -> Array | None:
        """Backpropagate ``dY = dL/dY`` (N, D_out): writes every parameter's ``grad`` and
        returns ``dL/dX`` (N, D_in), a buffer of the first layer (copy it to keep it).

        ``input_grad=False`` skips the first layer's input gradient and returns ``None``:
        a training loop never needs ``dL/dX``, and for a first ``Dense(D_in, H)`` it is a
        matrix product of ``2 N D_in H`` flops, a quarter or more of a step's work.
        """
        if self._out_shape is None:
            raise RuntimeError("Sequential: backward() called without a preceding "
                               "forward(X, train=True) (predict() keeps no cache)")
        dY = as_float_array(dY, self.dtype, "Sequential backward dY", ndim=None)
        if dY.shape != self._out_shape:
            raise ValueError(f"Sequential: backward expected a gradient of shape {self._out_shape} "
                             f"(the shape of the last output), got {dY.shape}")
        return self._backprop(dY, input_grad)

    #: As a layer inside another Sequential: ``backward(dY, input_grad=False)`` passes on.
    input_grad_optional = True

    def _run(self, X: Array, train: bool) -> Array:
        """The forward loop. An error raised inside a layer (say BatchNorm1d given one
        sample) comes back naming the layer's index, and a failed training pass leaves no
        half-made state for ``backward`` to use."""
        if train:
            self._out_shape = None
        for i, layer in enumerate(self._layers):
            try:
                # A nested Sequential runs its loop, without checking or copying again.
                X = layer._run(X, train) if isinstance(layer, Sequential) else layer.forward(X, train)
            except (ValueError, TypeError) as e:
                named = _name_the_layer(e, i)
                if named is None:
                    raise
                raise named from e
        if train:
            self._out_shape = X.shape
        return X

    def _backprop(self, dY: Array, input_grad: bool) -> Array | None:
        """The backward loop (``dY`` already checked): the chain rule, layer by layer."""
        layers = self._layers
        for layer in reversed(layers[1:]):
            dY = layer._backprop(dY, True) if isinstance(layer, Sequential) else layer.backward(dY)
        first = layers[0]
        if isinstance(first, Sequential):
            return first._backprop(dY, input_grad)
        if input_grad:
            return first.backward(dY)
        if first.input_grad_optional:
            return first.backward(dY, input_grad=False)
        first.backward(dY)
        return None

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


def _name_the_layer(error: Exception, i: int) -> Exception | None:
    """``error`` again, its message prefixed with ``layer i`` of the Sequential it came from;
    ``None`` when that cannot be done (or it already names the layer)."""
    if f"layer {i} " in str(error):
        return None
    try:
        return type(error)(f"Sequential: layer {i}: {error}")
    except Exception:   # an exception class with a different constructor: keep the original
        return None


def _walk(layers, prefix: str):
    """``(path, layer)`` for every layer, descending into nested Sequentials (``"2.0"``)."""
    for i, layer in enumerate(layers):
        path = f"{prefix}{i}"
        yield path, layer
        yield from layer.walk(path + ".")
