"""``Sequential``: layers applied in order; backward applies them in reverse."""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping
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

    def named_leaves(self) -> list[tuple[str, Layer]]:
        """``(path, layer)`` of every computing layer in order, nested Sequentials
        flattened: ``("0", Dense), ("1.0", Dense), ...``."""
        return [(f"{i}.{path}" if path else str(i), leaf) for i, layer in enumerate(self._layers)
                for path, leaf in layer.named_leaves()]

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

    def backward(self, dY, input_grad: bool = True, accumulate: bool = False) -> Array | None:
        """Backpropagate ``dY = dL/dY`` (N, D_out): writes every parameter's ``grad`` and
        returns ``dL/dX`` (N, D_in), a buffer of the first layer (copy it to keep it).

        ``input_grad=False`` skips the first layer's input gradient and returns ``None``:
        a training loop never needs ``dL/dX``, and for a first ``Dense(D_in, H)`` it is a
        matrix product of ``2 N D_in H`` flops, a quarter or more of a step's work.

        ``accumulate=True`` adds this batch's gradients into every parameter's ``grad``
        (``grad += dL/dparam``) instead of overwriting it, as PyTorch's ``backward`` does:
        call ``optimizer.zero_grad()`` before the first micro-batch. With a loss that is a
        sum over rows (or per-micro-batch means scaled by ``1/k`` for ``k`` equal parts), the
        accumulated gradient equals that of the one big batch.
        """
        if self._out_shape is None:
            raise RuntimeError("Sequential: backward() called without a preceding "
                               "forward(X, train=True) (predict() keeps no cache)")
        dY = as_float_array(dY, self.dtype, "Sequential backward dY", ndim=None)
        if dY.shape != self._out_shape:
            raise ValueError(f"Sequential: backward expected a gradient of shape {self._out_shape} "
                             f"(the shape of the last output), got {dY.shape}")
        if not isinstance(accumulate, (bool, np.bool_)):
            raise TypeError(f"Sequential.backward: accumulate must be True or False, "
                            f"got {accumulate!r}")
        if accumulate:
            return self._backprop_accumulating(dY, input_grad)
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

    def _backprop_accumulating(self, dY: Array, input_grad: bool) -> Array | None:
        """``_backprop`` that adds into the gradients: the layers overwrite ``grad`` as
        always, so each gradient is first kept in a per-parameter buffer (allocated once)
        and added back after. No layer needs to know about accumulation."""
        params = self.parameters()
        kept = self.__dict__.get("_grad_kept")
        if kept is None or len(kept) != len(params) or any(
                k.shape != p.grad.shape or k.dtype != p.grad.dtype for k, p in zip(kept, params)):
            kept = [np.empty_like(p.grad) for p in params]
            self._grad_kept = kept
        for k, p in zip(kept, params):
            np.copyto(k, p.grad)
        dX = self._backprop(dY, input_grad)
        for k, p in zip(kept, params):
            p.grad += k
        return dX

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

    # -- conventions users bring (Keras, PyTorch, scikit-learn) ---------------------------
    def predict_proba(self, X, batch_size: int | None = None) -> Array:
        """Class probabilities ``(N, D_in) -> (N, C)``: softmax of the logits (sigmoid for
        one output column); see ``minimlp.training.predict_proba``."""
        from .training import predict_proba
        return predict_proba(self, X, batch_size=batch_size)

    def predict_classes(self, X, batch_size: int | None = None,
                        threshold: float | None = None) -> Array:
        """Class labels ``(N, D_in) -> (N,)`` int64: ``argmax`` of the outputs (a threshold on
        one output column); see ``minimlp.training.predict_classes``."""
        from .training import predict_classes
        return predict_classes(self, X, batch_size=batch_size, threshold=threshold)

    def add(self, layer: Layer) -> None:
        """Append ``layer`` (as Keras's ``Sequential.add``), with the constructor's checks:
        a minimlp ``Layer``, not already in the model, whose input width chains onto the
        model's output width and whose dtype is the model's. When it refuses (TypeError or
        ValueError, naming the layer), the model is unchanged."""
        grown = Sequential(*self._layers, layer)   # every check, on a throwaway container
        self._layers.append(layer)
        self.in_features, self.out_features = grown.in_features, grown.out_features
        self.dtype = grown.dtype
        self._out_shape = None   # the last forward's caches do not cover the new layer

    def _state_entries(self) -> list[tuple[str, Array, bool]]:
        """``(key, live array, transposed)`` for ``state_dict``: parameters then buffers."""
        entries = []
        for path, p in self.named_parameters():
            head, _, name = path.rpartition(".")
            torch_name = _TORCH_NAMES.get(name, name)
            transposed = name == "W" and p.value.ndim == 2
            entries.append((f"{head}.{torch_name}" if head else torch_name, p.value, transposed))
        for path, a in self.named_buffers():
            entries.append((path, a, False))
        keys = [k for k, _, _ in entries]
        if len(set(keys)) != len(keys):   # pragma: no cover - no built-in layer does this
            dup = next(k for k in keys if keys.count(k) > 1)
            raise ValueError(f"Sequential.state_dict: two arrays would be named {dup!r}")
        return entries

    def state_dict(self) -> OrderedDict[str, Array]:
        """The parameters and buffers under PyTorch's names and layouts, as copies.

        Keys are ``"<layer path>.<name>"`` (``"0.weight"``, ``"0.bias"``, ``"2.running_mean"``,
        ``"1.0.weight"`` inside a nested Sequential at index 1). Names and layouts follow
        ``torch.nn``: ``Dense.W`` (in, out) is ``"weight"`` as ``W.T`` of shape
        ``(out, in)``, like ``nn.Linear.weight``; ``b`` is ``"bias"``; a norm's ``gamma`` and
        ``beta`` are ``"weight"`` and ``"bias"``; other names (``running_mean``, PReLU's
        ``weight``) are unchanged. For a model without nested Sequentials the keys and shapes
        are those of ``minimlp.to_torch(net).state_dict()``.
        """
        return OrderedDict((key, np.ascontiguousarray(a.T) if transposed else a.copy())
                           for key, a, transposed in self._state_entries())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy a ``state_dict()`` (names and layouts as there; numpy arrays, or CPU tensors
        of ``torch_module.state_dict()``) into the model's arrays, in place.

        ``strict=True`` (as torch) refuses missing and unexpected keys; ``strict=False``
        loads the keys both have. Values are cast to the model's dtype. A wrong shape, a
        non-numeric value, or one that is not finite in the model's dtype is
        refused either way. Every check runs before anything is written, so a refused state
        (``ValueError``/``TypeError`` naming the key) leaves the model unchanged.
        Returns ``(missing_keys, unexpected_keys)``, a named tuple as torch's.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Sequential.load_state_dict: expected a dict of arrays (what "
                            f"state_dict() returns), got {type(state_dict).__name__}")
        entries = self._state_entries()
        known = [k for k, _, _ in entries]
        missing = [k for k in known if k not in state_dict]
        unexpected = [k for k in state_dict if k not in known]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing key(s) {', '.join(map(repr, missing))}")
            if unexpected:
                parts.append("unexpected key(s) " + ", ".join(
                    f"{k!r}{_suggest_key(k, known)}" for k in unexpected))
            raise ValueError(f"Sequential.load_state_dict: {'; '.join(parts)}; this model's keys: "
                             f"{', '.join(known)} (strict=False loads the keys both have)")
        writes = []
        for key, target, transposed in entries:
            if key not in state_dict:
                continue
            value = _as_state_array(state_dict[key], key)
            want = target.T.shape if transposed else target.shape
            if value.shape != want:
                hint = ""
                if transposed and value.shape == target.shape:
                    hint = ("; it looks like minimlp's (in, out) W: state_dict's 'weight' is "
                            "torch's (out, in) layout, W.T")
                raise ValueError(f"Sequential.load_state_dict: {key!r} expected shape {want}, "
                                 f"got {value.shape}{hint}")
            if target.dtype.kind in "iu" and value.dtype.kind not in "iub":
                raise TypeError(f"Sequential.load_state_dict: {key!r} is an integer count, got "
                                f"{value.dtype.name} values")
            with np.errstate(over="ignore"):   # float64 beyond float32's range: inf, refused below
                value = value.astype(target.dtype)   # a copy: a value may be another target's memory
            if target.dtype.kind == "f" and not np.isfinite(value).all():
                raise ValueError(f"Sequential.load_state_dict: {key!r} holds NaN or inf (in the "
                                 f"model's dtype {target.dtype.name})")
            writes.append((target, value.T if transposed else value))
        for target, value in writes:
            np.copyto(target, value)
        return _IncompatibleKeys(missing, unexpected)


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


#: minimlp's parameter names -> torch.nn's, in ``state_dict`` keys (``W`` also transposed).
_TORCH_NAMES = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _suggest_key(key: str, known: list[str]) -> str:
    """`` (did you mean '0.weight'?)`` for a key in minimlp's own names or a near miss."""
    head, _, name = str(key).rpartition(".")
    if name in _TORCH_NAMES:
        guess = f"{head}.{_TORCH_NAMES[name]}" if head else _TORCH_NAMES[name]
        if guess in known:
            return f" (did you mean {guess!r}? state_dict uses torch's names)"
    import difflib
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _as_state_array(value, key: str) -> np.ndarray:
    """``value`` (array, nested list or CPU tensor) as a numeric numpy array, or TypeError."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):   # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"Sequential.load_state_dict: {key!r} is not an array ({e})") from None
    if a.dtype.kind not in "fiub":
        raise TypeError(f"Sequential.load_state_dict: {key!r} must hold real numbers, got "
                        f"{a.dtype.name} values")
    return a
