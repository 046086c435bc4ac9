"""``TrainStep``: one training step (forward, loss, backward, update), planned once.

``fit``, ``minimlp bench``, the benchmarks, the scikit-learn estimators, ``explain`` and the
demo all train through this object; a hand-written loop may use it too::

    step = mm.TrainStep(net, mm.MSELoss(), mm.SGD(net.parameters(), lr=0.5))
    for _ in range(1000):
        value = step(X, T)        # the batch loss, a float

The plan, made once from what each layer declares (``backward_reads``, ``in_place``,
``input_grad_optional``; see ``minimlp.layer``):

* nested Sequentials are flattened into one list of layers;
* a layer may write its output over its input when no one reads that input again (an
  activation after a Dense layer), and its input gradient over its output gradient;
* a Dense layer may write its input gradient over its cached input when the layer before
  it does not read its own output (after a ReLU: it keeps a mask);
* the layers before the first one with parameters run no backward at all, and that one
  computes no input gradient: nothing reads ``dL/dX``.

The caller's ``X`` is never written. Buffers belong to the layers and follow the batch
shape (a smaller last batch uses views of the first rows), so the plan holds no array.
"""
from __future__ import annotations

import math

import numpy as np

from .layer import Array, Layer
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, get_loss
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

#: Optimizers by name, for ``fit(optimizer="adam")`` (built on the model's parameters
#: with their defaults).
OPTIMIZERS: dict[str, type] = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop,
                               "adagrad": Adagrad}


class TrainingDiverged(FloatingPointError, ValueError):
    """Training produced a NaN or infinite loss or parameter, or a loss that grew by orders
    of magnitude; raised by ``fit`` and ``TrainStep``.

    A ``FloatingPointError`` and a ``ValueError``. Attributes: ``epoch``, ``batch``
    (1-based; ``None`` when found at the end of the epoch, in validation, or outside fit),
    ``restored``: ``"best"`` (a callback's best weights), ``"before_step"`` (the parameters
    before the failing step), ``"epoch_start"`` (those at the start of the epoch) or
    ``"unchanged"`` (``TrainStep`` found a non-finite loss before updating anything).
    """

    def __init__(self, message: str, epoch: int | None = None, batch: int | None = None,
                 restored: str = "unchanged"):
        super().__init__(message)
        self.epoch, self.batch, self.restored = epoch, batch, restored


class NonFiniteLoss(Exception):
    """Raised by ``TrainStep.run`` when the loss is NaN, inf or not below
    ``TrainStep.loss_limit``; nothing was updated."""

    def __init__(self, value: float, limit: float):
        if math.isfinite(value) and math.isfinite(limit):
            message = f"the loss grew to {value:.4g}, past the limit {limit:.4g}"
        else:
            message = f"the loss became {value}"
        super().__init__(message)
        self.value = value


def plan(layers: list[Layer]) -> list[dict]:
    """For each layer of a flat list, how ``TrainStep`` calls it: ``forward_in_place``
    (``Y`` over ``X``), ``backward`` (``"skip"``, ``"no_input_grad"``, ``"in_place"``:
    ``dX`` over ``dY``, ``"over_input"``: ``dX`` over the cached input, or ``"plain"``).

    Arrays are tracked by *memory*: ``groups[i]`` names the memory that holds layer i's
    input (``"user"`` for the caller's ``X``), ``needed[g]`` whether the value now in it is
    read again during backward."""
    n = len(layers)
    steps = [{"forward_in_place": False, "backward": "plain"} for _ in layers]
    group = ["user"]
    needed = {"user": True}
    for i, layer in enumerate(layers):
        g = group[i]
        reads_before = i > 0 and "output" in layers[i - 1].backward_reads
        needed[g] = needed[g] or reads_before or "input" in layer.backward_reads
        if "forward" in layer.in_place and g != "user" and not needed[g]:
            steps[i]["forward_in_place"] = True   # the value in g is read by no one: overwrite it
            group.append(g)
            needed[g] = False
        else:
            group.append(i)
            needed[i] = False
    first = next((i for i, layer in enumerate(layers) if layer.parameters()), n)
    for i, layer in enumerate(layers):
        if i < first:
            steps[i]["backward"] = "skip"         # no parameters here or before: dX is unused
        elif i == first:
            steps[i]["backward"] = "no_input_grad" if layer.input_grad_optional else "plain"
        elif "backward" in layer.in_place:
            steps[i]["backward"] = "in_place"     # dY is a buffer no one reads again
        elif ("backward_input" in layer.in_place and not steps[i]["forward_in_place"]
              and group[i] != "user" and not _read_by_others(layers, group, i)):
            steps[i]["backward"] = "over_input"
    return steps


def _read_by_others(layers, group, i) -> bool:
    """Whether the memory holding layer i's input is read during backward by any layer but
    i (the layers whose input or output lives in the same memory)."""
    g = group[i]
    for j, layer in enumerate(layers):
        if j != i and group[j] == g and "input" in layer.backward_reads:
            return True
        if group[j + 1] == g and "output" in layer.backward_reads:
            return True
    return False


def check_training_parts(model, loss, optimizer, owner: str):
    """``(model, loss, optimizer)`` checked together, as ``fit`` and ``TrainStep`` take
    them: a Layer; a Loss or a loss name; an Optimizer holding only the model's
    parameters, or an optimizer name. A model whose last layer is the Softmax (or Sigmoid)
    that the loss applies itself is refused."""
    if not isinstance(model, Layer) or not hasattr(model, "check_input"):
        raise TypeError(f"{owner}: model must be a minimlp Sequential (wrap a single layer "
                        f"as Sequential(layer)), got {type(model).__name__}")
    loss = get_loss(loss, owner)
    if getattr(loss, "reduction", "mean") == "none":
        raise ValueError(f"{owner}: {loss!r} returns one value per element; training needs one "
                         "number: use reduction='mean' or 'sum'")
    check_output_for_loss(model, loss, owner)
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"{owner}: unknown optimizer {optimizer!r}; allowed: "
                             f"{', '.join(OPTIMIZERS)} (or an Optimizer object)")
        optimizer = OPTIMIZERS[key](model.parameters())
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: optimizer must be a minimlp Optimizer such as "
                        f"mm.SGD(net.parameters(), lr=0.1), got {type(optimizer).__name__}")
    own = {id(p) for p in model.parameters()}
    if any(id(p) not in own for p in optimizer.params):
        raise ValueError(f"{owner}: the optimizer holds parameters that are not this model's "
                         "(build it from model.parameters())")
    return model, loss, optimizer


def check_output_for_loss(model, loss: Loss, owner: str = "fit") -> None:
    """Refuse a final Softmax before CrossEntropyLoss or a final Sigmoid before
    BCEWithLogitsLoss: those losses apply it themselves, so it would be applied twice and
    training would stall far above the loss it can reach."""
    from .activations import Sigmoid, Softmax
    leaves = model.leaves()
    last = leaves[-1] if leaves else None
    if isinstance(last, Softmax) and isinstance(loss, CrossEntropyLoss):
        raise ValueError(f"{owner}: the model ends in {last!r}, but {loss!r} takes logits and applies "
                         "softmax itself, so softmax would be applied twice and training stalls. "
                         "Remove the final Softmax layer (predict_proba(model, X) gives the "
                         "probabilities)")
    if isinstance(last, Sigmoid) and isinstance(loss, BCEWithLogitsLoss):
        raise ValueError(f"{owner}: the model ends in {last!r}, but {loss!r} takes logits and applies "
                         "the sigmoid itself, so it would be applied twice and training stalls. "
                         "Remove the final Sigmoid layer, or keep it and use BCELoss, which takes "
                         "probabilities")


class TrainStep:
    """One training step of ``model`` on a batch, planned once::

        Y = model(X); value = loss(Y, T); model.backward(loss.backward()); optimizer.step()

    ``step(X, T)`` validates ``X`` (N, D_in) and ``T`` with the messages of the public API,
    at a cost proportional to the data and with no copy of float input of the model's
    dtype, then runs the step and returns the batch loss as a float. ``step.run(X, T)`` is
    the same step without the checks, for data validated once (``fit``).

    A NaN or infinite loss (or one not below ``loss_limit``) raises ``TrainingDiverged``
    before anything is updated.

    Parameters
    ----------
    model : Sequential (or any Layer)
    loss : Loss or a name (``"mse"``, ``"ce"``, ...)
    optimizer : Optimizer holding (some of) the model's parameters
    threads : "auto" (default), int or None
        BLAS threads for the step's matrix products (threadpoolctl, restored after each
        call). ``"auto"`` chooses 1 thread for steps under about ``1e9`` flops, where a
        second thread gains little and a busy core makes it many times slower, and every
        core above; ``None`` leaves BLAS alone. The choice is ``step.threads``.

    Attributes
    ----------
    output : Array
        The model's output for the last batch (a reused buffer, valid until the next step).
    layers : list of Layer
        The flattened layers, in order. ``steps`` is the plan (see ``plan``).
    """

    def __init__(self, model: Layer, loss, optimizer: Optimizer, *, threads="auto"):
        self.model, self.loss, self.optimizer = check_training_parts(model, loss, optimizer, "TrainStep")
        self.layers = model.leaves()
        self.steps = plan(self.layers)
        self._forward_calls = [_forward_call(layer, s) for layer, s in zip(self.layers, self.steps)]
        self._backward_calls = [_backward_call(layer, s) for layer, s in
                                reversed(list(zip(self.layers, self.steps))) if s["backward"] != "skip"]
        self._loss_forward, self._loss_backward = self.loss._forward, self.loss._backward
        self._update = self.optimizer.step
        self.output = None
        #: A batch loss not below this raises before the update (``fit``'s ``max_loss_growth``).
        self.loss_limit = math.inf
        self.threads = None if threads is None else _check_threads(threads)
        self._pins: dict = {}   # batch rows -> threads pinned per call (None: not pinned)

    def __call__(self, X, T) -> float:
        X = self.model.check_input(X, "TrainStep X")
        model = self.model
        width = model.out_features if model.out_features is not None else model.output_features(X.shape[1])
        T = self.loss.check_targets(T, (X.shape[0], width), model.dtype)
        N = X.shape[0]
        n = self._pins.get(N, False)
        if n is False:
            n = self._pins[N] = self.thread_count(N) if self.flops(N) >= _PIN_FLOPS else None
        with pin_threads(n):
            try:
                return self.run(X, T)
            except NonFiniteLoss as e:
                lr = self.optimizer.lr
                raise TrainingDiverged(
                    f"TrainStep: {e}; the parameters were not updated. Try a smaller learning "
                    f"rate (lr is {lr:g}; e.g. lr={lr / 10:g}) or standardized inputs") from None

    def run(self, X: Array, T: Array) -> float:
        """The step on checked data: forward, loss, backward, update; returns the loss."""
        value = self.begin(X, T)
        self.finish()
        return value

    def begin(self, X: Array, T: Array) -> float:
        """The first half of ``run``: forward and loss (``output`` is then the model's
        output); raises ``NonFiniteLoss`` for a loss not below ``loss_limit``."""
        for f in self._forward_calls:
            X = f(X)
        self.output = X
        value = self._loss_forward(X, T)
        if not value < self.loss_limit:   # also NaN and inf
            raise NonFiniteLoss(value, self.loss_limit)
        return value

    def finish(self) -> None:
        """The second half of ``run``: backward and the optimizer's update."""
        dY = self._loss_backward()
        for f in self._backward_calls:
            dY = f(dY)
        self._update()

    # -- threads -------------------------------------------------------------------------
    def flops(self, batch: int) -> int:
        """The matrix-product flops of one step at ``batch`` rows: ``2 N D_in D_out`` per
        product, three per Dense layer (two for the first)."""
        total = 0
        for layer, s in zip(self.layers, self.steps):
            W = getattr(layer, "W", None)
            if isinstance(W, np.ndarray) and W.ndim == 2:
                per = 2 * batch * W.shape[0] * W.shape[1]
                total += per * (2 if s["backward"] in ("no_input_grad", "skip") else 3)
        return total

    def thread_count(self, batch: int) -> int | None:
        """The BLAS thread count a step at ``batch`` rows runs with (``None``: BLAS's own)."""
        if self.threads != "auto":
            return self.threads
        return choose_threads(self.flops(batch))



#: Steps under this many flops are not pinned per call: a pin costs about 5 us, and BLAS
#: runs products this small on one thread anyway.
_PIN_FLOPS = 1e7
_AUTO_FLOPS = 1e9


class pin_threads:
    """``with pin_threads(n):`` runs the block with every BLAS library loaded limited to
    ``n`` threads and restores each one's count after (``n=None``: change nothing)."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        self._saved = []
        if self.n is not None:
            for lib in _blas_libraries():
                self._saved.append((lib, lib.num_threads))
                lib.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        for lib, n in self._saved:
            lib.set_num_threads(n)
        return False


_LIBRARIES = None


def _blas_libraries() -> list:
    global _LIBRARIES
    if _LIBRARIES is None:
        from threadpoolctl import ThreadpoolController
        _LIBRARIES = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _LIBRARIES


def choose_threads(flops: float) -> int:
    """``threads="auto"``: 1 below ``1e9`` flops per step; above, every core BLAS has,
    unless the machine is busy (a 1-minute load average above cores - 1), where a thread
    waiting for a busy core stalls the others and 1 is faster."""
    if flops < _AUTO_FLOPS:
        return 1
    import os
    cores = os.cpu_count() or 1
    try:
        if os.getloadavg()[0] > cores - 1:
            return 1
    except (AttributeError, OSError):
        pass
    return cores


def _check_threads(threads):
    if threads == "auto":
        return "auto"
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be 'auto', None or an integer >= 1, got {threads!r}")
    return int(threads)


def _forward_call(layer: Layer, s: dict):
    forward = layer.forward
    if s["forward_in_place"]:
        return lambda X: forward(X, True, out=X)
    return forward   # train=True is the default


def _backward_call(layer: Layer, s: dict):
    backward = layer.backward
    how = s["backward"]
    if how == "in_place":
        return lambda dY: backward(dY, out=dY)
    if how == "over_input":
        return lambda dY: backward(dY, out=layer.input)
    if how == "no_input_grad":
        return lambda dY: backward(dY, input_grad=False)
    return backward
