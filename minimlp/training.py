"""The training loop: ``fit``, ``evaluate``, ``History`` and classifier helpers.

``fit`` repeats the step of DESIGN.md over shuffled mini-batches::

    Y = model._forward(X_batch, True); value = loss._forward(Y, T_batch)
    model._backward(loss._backward()); optimizer.step()

X and Y are validated and cast once, at the start; each batch is gathered with ``np.take``
into two buffers allocated once, so an epoch never copies the data set and a step allocates
nothing proportional to batch x width. No derivative lives here.

Randomness: ``seed`` becomes a ``numpy.random.SeedSequence`` ``S`` with two independent
streams (so changing one never shifts the other):

* the validation split draws from ``default_rng(SeedSequence(S.entropy, spawn_key=S.spawn_key + (0,)))``;
* epoch ``e`` (1-based) is shuffled by
  ``default_rng(SeedSequence(S.entropy, spawn_key=S.spawn_key + (1, e))).permutation(N_train)``,
  which depends on the epoch number alone, so training resumed with ``initial_epoch=k``
  sees the same batches as an uninterrupted run.

Same seed, data, model and thread count give the same ``History`` (except ``time``) and the
same weights, bit for bit.
"""
from __future__ import annotations

import csv
import io as _io
import json
import math
import numbers
import sys
import time
from typing import Iterable, Sequence

import numpy as np

from ._checks import check_real, check_size
from .callbacks import Callback, EpochLogger, ProgressBar, _overrides, state_arrays
from . import losses as _losses
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .metrics import get_metric
from .optim import Optimizer

Array = np.ndarray

#: Losses by name, for ``fit(loss="ce")``, configs and the command line.
LOSSES: dict[str, type] = {
    "mse": MSELoss,
    "cross_entropy": CrossEntropyLoss, "ce": CrossEntropyLoss, "crossentropy": CrossEntropyLoss,
    "bce_with_logits": BCEWithLogitsLoss,
}
for _name, _cls in (("bce", "BCELoss"), ("l1", "L1Loss"), ("huber", "HuberLoss")):
    if hasattr(_losses, _cls):
        LOSSES[_name] = getattr(_losses, _cls)


class TrainingDiverged(FloatingPointError, ValueError):
    """Training produced a NaN or infinite loss or parameter; raised by ``fit``.

    A ``FloatingPointError`` and a ``ValueError``. By the time it is raised the model holds
    finite parameters again (``restored`` says which). Attributes: ``epoch``, ``batch``
    (1-based; ``None`` when found at the end of the epoch or in validation), ``restored``:
    ``"best"`` (a callback's best weights), ``"before_step"`` (the parameters before the
    failing step) or ``"epoch_start"`` (those at the start of the epoch).
    """

    def __init__(self, message: str, epoch: int, batch: int | None, restored: str):
        super().__init__(message)
        self.epoch, self.batch, self.restored = epoch, batch, restored


# -- History ------------------------------------------------------------------------------

class History:
    """Per-epoch records of a ``fit`` call.

    Attributes
    ----------
    history : dict[str, list[float]]
        ``"loss"``, each metric, ``"val_loss"`` and ``"val_<metric>"`` when validating, and
        ``"time"`` (wall seconds of the epoch, validation included); one value per epoch.
    epochs : list[int]
        The epoch numbers, 1-based (they start at ``initial_epoch + 1``).
    params : dict
        The settings of the run, including the ``seed`` entropy and ``seed_spawn_key``:
        ``seed=SeedSequence(params["seed"], spawn_key=params["seed_spawn_key"])`` reproduces
        it (for an int seed the key is empty and ``seed=params["seed"]`` is enough).

    ``h["loss"]`` is ``h.history["loss"]``; ``len(h)`` the number of epochs recorded.
    """

    def __init__(self, keys: Sequence[str] = (), params: dict | None = None):
        self.history: dict[str, list[float]] = {k: [] for k in keys}
        self.epochs: list[int] = []
        self.params = dict(params or {})

    def append(self, epoch: int, logs: dict) -> None:
        """Record one epoch's logs (a value per key)."""
        self.epochs.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"History has no {key!r}; keys: {list(self.history)}") from None

    def __contains__(self, key) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self):
        return self.history.keys()

    def to_dict(self) -> dict:
        """``{"epoch": [...], "<key>": [...], ...}``: plain lists, JSON-safe."""
        return {"epoch": list(self.epochs), **{k: list(v) for k, v in self.history.items()}}

    def to_json(self, path=None) -> str:
        """The ``to_dict`` as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        return text

    def to_csv(self, path=None) -> str:
        """A CSV table, one row per epoch, header ``epoch,loss,...``; written to ``path`` when given."""
        buf = _io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        keys = list(self.history)
        w.writerow(["epoch"] + keys)
        for i, e in enumerate(self.epochs):
            w.writerow([e] + [repr(self.history[k][i]) for k in keys])
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        return text

    def table(self, max_rows: int | None = 20) -> str:
        """A markdown table of the epochs (at most ``max_rows``: first, evenly spaced, last)."""
        keys = list(self.history)
        n = len(self.epochs)
        rows = list(range(n))
        if max_rows is not None and n > max_rows >= 2:
            rows = sorted({round(i * (n - 1) / (max_rows - 1)) for i in range(max_rows)})
        head = ["epoch"] + keys
        body = [[str(self.epochs[i])] + [f"{self.history[k][i]:.4g}" for k in keys] for i in rows]
        widths = [max(len(r[c]) for r in [head] + body) for c in range(len(head))]
        line = lambda r: "| " + " | ".join(x.rjust(w) for x, w in zip(r, widths)) + " |"
        sep = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
        return "\n".join([line(head), sep] + [line(r) for r in body])

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v and k != "time")
        return f"History({len(self)} epochs{': ' + last if last else ''})"


# -- argument checks ----------------------------------------------------------------------

def get_loss(loss) -> Loss:
    """A ``Loss`` object from a ``Loss`` or a name in ``LOSSES``."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = loss.lower().replace("-", "_")
        if key in LOSSES:
            return LOSSES[key]()
        raise ValueError(f"fit: unknown loss {loss!r}; allowed: {', '.join(LOSSES)} "
                         "(or a Loss object such as mm.CrossEntropyLoss())")
    raise TypeError(f"fit: loss must be a Loss object or a name ({', '.join(LOSSES)}), "
                    f"got {type(loss).__name__}")


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    if seed is None or isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed is not None and seed < 0:
            raise ValueError(f"fit: seed must be >= 0, got {seed}")
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise TypeError(f"fit: seed must be None, an int >= 0, a SeedSequence or a Generator, "
                    f"got {type(seed).__name__}")


def _stream(ss: np.random.SeedSequence, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + key))


def _check_model(model, owner: str):
    for attr in ("check_input", "_forward", "_backward", "parameters"):
        if not hasattr(model, attr):
            raise TypeError(f"{owner}: model must be a minimlp Sequential (wrap a single layer "
                            f"as Sequential(layer)), got {type(model).__name__}")


def _out_width(model, D_in: int) -> int:
    return model.out_features if model.out_features is not None else model.output_features(D_in)


def _check_targets(model, loss: Loss | None, X: Array, Y, what: str) -> Array:
    """``Y`` checked against ``X``'s rows and the model's output, cast by the loss's rules."""
    N = X.shape[0]
    if not hasattr(Y, "shape"):
        Y = np.asarray(Y)
    if Y.ndim == 0 or Y.shape[0] != N:
        got = "a scalar" if Y.ndim == 0 else f"{Y.shape[0]} rows (shape {Y.shape})"
        raise ValueError(f"{what}: X has {N} rows but Y has {got}; they must match")
    shape = (N, _out_width(model, X.shape[1]))
    if loss is None:  # evaluate with metrics only: labels or same-shape values
        loss = CrossEntropyLoss() if (Y.ndim == 1 and np.asarray(Y).dtype.kind in "iu"
                                      and shape[1] > 1) else Loss()
    return loss.check_targets(Y, shape, model.dtype)


def _check_callbacks(callbacks) -> list[Callback]:
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    cbs = list(callbacks or ())
    for i, cb in enumerate(cbs):
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks[{i}] is a {type(cb).__name__}, not a "
                            "minimlp.callbacks.Callback (did you pass the class instead of an instance?)")
    return cbs


def _check_output_for_loss(model, loss: Loss) -> None:
    """Refuse a final Softmax before CrossEntropyLoss or a final Sigmoid before
    BCEWithLogitsLoss: those losses apply it themselves, so it would be applied twice and
    training would stall far above the loss it can reach."""
    from .activations import Sigmoid, Softmax
    last = model
    while getattr(last, "layers", None):
        last = last.layers[-1]
    if isinstance(last, Softmax) and isinstance(loss, CrossEntropyLoss):
        raise ValueError(f"fit: the model ends in {last!r}, but {loss!r} takes logits and applies "
                         "softmax itself, so softmax would be applied twice and training stalls. "
                         "Remove the final Softmax layer (predict_proba(model, X) gives the "
                         "probabilities)")
    if isinstance(last, Sigmoid) and isinstance(loss, BCEWithLogitsLoss):
        raise ValueError(f"fit: the model ends in {last!r}, but {loss!r} takes logits and applies "
                         "the sigmoid itself, so it would be applied twice and training stalls. "
                         "Remove the final Sigmoid layer, or keep it and use BCELoss, which takes "
                         "probabilities")


def _quiet_overflow() -> dict:
    """``np.errstate`` arguments that silence overflow/invalid *warnings* (fit detects the
    NaN/inf they produce and raises ``TrainingDiverged``); ``"raise"`` and other settings
    chosen by the caller are kept."""
    current = np.geterr()
    return {k: "ignore" for k in ("over", "invalid") if current[k] in ("warn", "print")}


def _metric_functions(metrics, loss: Loss) -> list[tuple[str, object]]:
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    out = [get_metric(m, logits=isinstance(loss, BCEWithLogitsLoss)) for m in metrics]
    names = [n for n, _ in out]
    if len(set(names)) != len(names) or "loss" in names:
        raise ValueError(f"fit: metric names must be distinct and not 'loss', got {names}")
    return out


# -- evaluation ---------------------------------------------------------------------------

def _sums(loss) -> bool:
    """True for a loss with ``reduction="sum"``: batch values add up instead of averaging."""
    return getattr(loss, "reduction", "mean") == "sum"


def _evaluate_arrays(model, X: Array, T: Array, loss: Loss | None, mfns, chunk: int | None) -> dict:
    """Sample-weighted means of the loss and metrics over chunks of rows (eval mode)."""
    N = X.shape[0]
    chunk = N if chunk is None else chunk
    summed = _sums(loss)
    total = 0.0
    sums = [0.0] * len(mfns)
    for s in range(0, N, chunk):
        Xc, Tc = X[s:s + chunk], T[s:s + chunk]
        m = Xc.shape[0]
        Yp = model._forward(Xc, False)
        if loss is not None:
            total += (1 if summed else m) * loss._forward(Yp, Tc)
        for j, (_, f) in enumerate(mfns):
            sums[j] += m * f(Yp, Tc)
    out = {"loss": total if summed else total / N} if loss is not None else {}
    out.update((name, s / N) for (name, _), s in zip(mfns, sums))
    return out


def evaluate(model, X, Y, *, loss=None, metrics=(), batch_size: int | None = None) -> dict:
    """Loss and metrics of ``model`` on ``X`` (N, D_in) and targets ``Y``, in eval mode.

    Returns ``{"loss": L, "<metric>": m, ...}`` (``"loss"`` only when ``loss`` is given), each
    the mean over all N samples (batches combined with weights N_b / N; a loss with
    ``reduction="sum"`` reports its sum over all samples instead). ``batch_size``
    bounds memory by evaluating in chunks (``None``: all rows at once). Changes no
    parameter or buffer; like ``predict`` it drops the layers' training caches, so a
    ``backward`` needs a new ``forward`` first.
    """
    _check_model(model, "evaluate")
    loss = None if loss is None else get_loss(loss)
    mfns = _metric_functions(metrics, loss if loss is not None else Loss())
    if loss is None and not mfns:
        raise ValueError("evaluate: nothing to compute; pass loss=... and/or metrics=[...]")
    if batch_size is not None:
        batch_size = check_size(batch_size, "batch_size", "evaluate")
    X = model.check_input(X)
    T = _check_targets(model, loss, X, Y, "evaluate")
    return _evaluate_arrays(model, X, T, loss, mfns, batch_size)


# -- classifier helpers -------------------------------------------------------------------

def _last_layer_name(model) -> str:
    layers = getattr(model, "layers", None)
    return type(layers[-1]).__name__ if layers else ""


def predict_proba(model, X, batch_size: int | None = None) -> Array:
    """Class probabilities from a classifier whose last layer outputs logits.

    ``(N, D_in) -> (N, C)``: ``softmax(Z)`` row-wise for ``C >= 2`` output columns (the
    logits ``CrossEntropyLoss`` trains), ``sigmoid(Z)`` = P(class 1) for one column (as
    ``BCEWithLogitsLoss`` trains). A model that already ends in ``Softmax`` or ``Sigmoid``
    is returned as is.
    """
    from scipy.special import expit, softmax
    Z = model.predict(X, batch_size=batch_size)
    last = _last_layer_name(model)
    if last in ("Softmax", "Sigmoid"):
        return Z
    return expit(Z) if Z.shape[1] == 1 else softmax(Z, axis=1)


def predict_classes(model, X, batch_size: int | None = None, threshold: float | None = None) -> Array:
    """Predicted class labels ``(N, D_in) -> (N,)`` (int64).

    ``argmax_k Z[n, k]`` for ``C >= 2`` output columns; for one column ``Z[n, 0] > threshold``
    with default threshold 0 for logits, or 0.5 when the model ends in ``Sigmoid``.
    """
    Z = model.predict(X, batch_size=batch_size)
    if Z.shape[1] > 1:
        return Z.argmax(axis=1).astype(np.int64)
    if threshold is None:
        threshold = 0.5 if _last_layer_name(model) == "Sigmoid" else 0.0
    return (Z[:, 0] > threshold).astype(np.int64)


# -- fit ----------------------------------------------------------------------------------

def fit(model, X, Y, *, loss, optimizer: Optimizer, epochs: int, batch_size: int = 32,
        shuffle: bool = True, validation_data=None, validation_split: float = 0.0,
        metrics: Iterable = (), callbacks: Iterable[Callback] = (), seed=None, verbose: int = 1,
        initial_epoch: int = 0) -> History:
    """Train ``model`` on ``X`` (N, D_in) and targets ``Y`` with mini-batch gradient descent.

    Parameters
    ----------
    loss : Loss or str
        E.g. ``mm.CrossEntropyLoss()`` or a name from ``LOSSES`` (``"mse"``, ``"ce"``,
        ``"bce_with_logits"``). Targets ``Y`` take the form the loss accepts: integer labels
        ``(N,)`` or rows ``(N, C)`` for cross-entropy, ``(N, D_out)`` values otherwise.
    optimizer : Optimizer
        Holds (some of) ``model``'s parameters, e.g. ``mm.Adam(net.parameters(), lr=1e-3)``.
    epochs : int >= 1
        Train until this epoch number (epochs ``initial_epoch + 1 .. epochs`` run).
    batch_size : int >= 1
        Rows per mini-batch. The last, smaller batch of an epoch is used, not dropped. A
        batch_size larger than the training set is clamped to it (full-batch training).
    shuffle : bool
        Draw a fresh permutation of the training rows each epoch (see the module docstring
        for the stream); ``False`` keeps the order (batches are then views, no gathering).
    validation_data : (X_val, Y_val) or None
        Evaluated (eval mode, no update) after each epoch: ``val_loss`` and ``val_<metric>``.
    validation_split : float in [0, 1)
        Instead of ``validation_data``: hold out ``round(N * validation_split)`` random rows
        (its own random stream); the rest, kept in their order, is the training set.
    metrics : names or functions
        From ``minimlp.metrics.METRICS`` (``"accuracy"`` or its aliases ``"acc"``,
        ``"binary_accuracy"``, which log as ``"accuracy"``; ``"mae"``, ``"mse"``) or
        ``f(Y, T) -> float``. A training metric is the sample-weighted mean of its per-batch
        values during the epoch, as is ``loss``: sum_b N_b L_b / N (with ``reduction="sum"``
        the loss is summed instead: sum_b L_b, whatever the batch size).
    callbacks : Callback objects
        See ``minimlp.callbacks`` for the hooks and when they run.
    seed : int, SeedSequence, Generator or None
        Source of the validation split and the shuffling (``None``: fresh entropy, recorded in
        ``History.params["seed"]``).
    verbose : 0, 1 or 2
        0 silent; 1 a progress bar per epoch on a terminal, else one line per epoch; 2 one
        line per epoch.
    initial_epoch : int >= 0
        Epochs already done (to resume a run saved by ``ModelCheckpoint``).

    Returns the ``History``. Arguments are all checked before anything changes: a bad one
    raises ``ValueError``/``TypeError`` naming it; so does a model ending in ``Softmax``
    trained with ``CrossEntropyLoss`` or in ``Sigmoid`` with ``BCEWithLogitsLoss`` (those
    losses take logits). If the loss or the parameters become NaN or infinite,
    ``TrainingDiverged`` is raised after restoring finite parameters; numpy's overflow and
    invalid-value ``RuntimeWarning``s are silenced during the epochs (the NaN/inf they make is
    reported this way instead), while ``np.errstate(over="raise")`` and the like are kept.
    """
    # ---- check everything before touching the model ----
    _check_model(model, "fit")
    loss = get_loss(loss)
    _check_output_for_loss(model, loss)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be a minimlp Optimizer such as "
                        f"mm.SGD(net.parameters(), lr=0.1), got {type(optimizer).__name__}")
    params = model.parameters()
    own = {id(p) for p in params}
    if any(id(p) not in own for p in optimizer.params):
        raise ValueError("fit: the optimizer holds parameters that are not this model's "
                         "(build it from model.parameters())")
    epochs = check_size(epochs, "epochs", "fit")
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) \
            or not 0 <= initial_epoch < epochs:
        raise ValueError(f"fit: initial_epoch must be an integer in [0, epochs) = [0, {epochs}), "
                         f"got {initial_epoch!r}")
    batch_size = check_size(batch_size, "batch_size", "fit")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"fit: shuffle must be True or False, got {shuffle!r}")
    validation_split = check_real(validation_split, "validation_split", "fit",
                                  low=0.0, high=1.0, high_open=True)
    if verbose not in (0, 1, 2):  # True/False compare equal to 1/0
        raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
    mfns = _metric_functions(metrics, loss)
    cbs = _check_callbacks(callbacks)
    ss = _seed_sequence(seed)

    X = model.check_input(X, "fit input X")
    T = _check_targets(model, loss, X, Y, "fit")
    N = X.shape[0]
    if validation_data is not None:
        if validation_split:
            raise ValueError("fit: pass validation_data or validation_split, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("fit: validation_data must be a pair (X_val, Y_val), got "
                            f"{type(validation_data).__name__}"
                            + (f" of length {len(validation_data)}" if hasattr(validation_data, "__len__") else ""))
        X_val = model.check_input(validation_data[0], "validation_data X")
        T_val = _check_targets(model, loss, X_val, validation_data[1], "fit validation_data")
    elif validation_split:
        n_val = int(round(N * validation_split))
        if n_val < 1 or n_val >= N:
            raise ValueError(f"fit: validation_split={validation_split} of {N} rows leaves "
                             f"{n_val} validation and {N - n_val} training rows; both need >= 1")
        perm = _stream(ss, 0).permutation(N)
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        X_val, T_val = X[val_idx], T[val_idx]
        X, T = X[train_idx], T[train_idx]
        N = X.shape[0]
    else:
        X_val = T_val = None
    validating = X_val is not None

    bs = min(batch_size, N)
    steps = -(-N // bs)
    if N - (steps - 1) * bs == 1:   # a batch of one sample: batch statistics cannot train on it
        from .normalization import BatchNorm1d
        from .sequential import _walk
        for i, layer in _walk(model):   # nested Sequentials too
            if isinstance(layer, BatchNorm1d):
                raise ValueError(f"fit: layer {i} ({layer!r}) needs at least 2 samples per "
                                 f"training batch, but batch_size={bs} on {N} training rows "
                                 "leaves a batch of 1; choose another batch_size")
    names = [n for n, _ in mfns]
    keys = ["loss"] + names + (["val_loss"] + [f"val_{n}" for n in names] if validating else [])
    history = History(keys + ["time"], params={
        "epochs": epochs, "initial_epoch": initial_epoch, "batch_size": bs, "samples": N,
        "steps": steps, "shuffle": bool(shuffle), "validation_samples": 0 if not validating else X_val.shape[0],
        "seed": ss.entropy, "seed_spawn_key": list(ss.spawn_key),
        "loss": repr(loss), "optimizer": repr(optimizer)})

    if verbose == 2 or verbose == 1 and not _is_tty():
        progress = EpochLogger()
    elif verbose == 1:
        progress = ProgressBar()
    else:
        progress = None
    all_cbs = cbs + ([progress] if progress is not None else [])
    cb_params = {"epochs": epochs, "initial_epoch": initial_epoch, "batch_size": bs,
                 "samples": N, "steps": steps, "metrics": keys, "verbose": verbose}
    for cb in all_cbs:
        cb.model, cb.optimizer, cb.loss, cb.history, cb.params = model, optimizer, loss, history, cb_params
        cb.stop_training = False
    begin_cbs = [cb for cb in all_cbs if _overrides(cb, "on_batch_begin")]
    end_cbs = [cb for cb in all_cbs if _overrides(cb, "on_batch_end")]

    # ---- buffers, allocated once ----
    if shuffle:
        Xb = np.empty((bs,) + X.shape[1:], X.dtype)
        Tb = np.empty((bs,) + T.shape[1:], T.dtype)
    bounds = [(s, min(s + bs, N)) for s in range(0, N, bs)]
    state = state_arrays(model)
    snapshot = [np.empty_like(a) for a in state]
    val_chunk = None if not validating or X_val.shape[0] <= 8192 else 8192

    forward, backward = model._forward, model._backward
    loss_forward, loss_backward = loss._forward, loss._backward
    step = optimizer.step
    take = np.take
    isfinite = math.isfinite
    perf_counter = time.perf_counter
    quiet = _quiet_overflow()
    summed = _sums(loss)

    try:
        for cb in all_cbs:
            cb.on_train_begin({})
        logs: dict = {}
        for epoch in range(initial_epoch + 1, epochs + 1):
            for cb in all_cbs:
                cb.on_epoch_begin(epoch)
            t0 = perf_counter()
            for dst, a in zip(snapshot, state):
                np.copyto(dst, a)
            order = _stream(ss, 1, epoch).permutation(N) if shuffle else None
            total = 0.0
            sums = [0.0] * len(mfns)
            stage = 0  # 1: in forward/loss/backward, 2: in optimizer.step (for error recovery)
            batch = 0
            try:
                with np.errstate(**quiet):  # NaN/inf is detected below: no RuntimeWarning first
                    for batch, (s, e) in enumerate(bounds, 1):
                        m = e - s
                        if shuffle:
                            idx = order[s:e]
                            if m == bs:
                                xb, tb = Xb, Tb
                            else:
                                xb, tb = Xb[:m], Tb[:m]
                            take(X, idx, axis=0, out=xb, mode="clip")
                            take(T, idx, axis=0, out=tb, mode="clip")
                        else:
                            xb, tb = X[s:e], T[s:e]
                        for cb in begin_cbs:
                            cb.on_batch_begin(batch)
                        stage = 1
                        Yp = forward(xb, True)
                        value = loss_forward(Yp, tb)
                        if not isfinite(value):
                            raise _NonFinite(f"the loss became {value}")
                        total += (1 if summed else m) * value
                        if mfns:
                            mvals = [f(Yp, tb) for _, f in mfns]
                            for j, v in enumerate(mvals):
                                sums[j] += m * v
                        backward(loss_backward())
                        stage = 2
                        step()
                        stage = 0
                        if end_cbs:
                            blogs = {"size": m, "loss": value}
                            if mfns:
                                blogs.update(zip(names, mvals))
                            for cb in end_cbs:
                                cb.on_batch_end(batch, blogs)
                    stage = 3
                    for a in state:
                        if not np.isfinite(a).all():
                            raise _NonFinite("a parameter or buffer became NaN or inf")
                    logs = {"loss": total if summed else total / N}
                    logs.update((name, sm / N) for name, sm in zip(names, sums))
                    if validating:
                        stage = 4
                        vlogs = _evaluate_arrays(model, X_val, T_val, loss, mfns, val_chunk)
                        if not isfinite(vlogs["loss"]):
                            raise _NonFinite(f"the validation loss became {vlogs['loss']}")
                        logs.update((f"val_{k}", v) for k, v in vlogs.items())
                    stage = 0
            except (_NonFinite, FloatingPointError) as exc:
                if stage == 0:  # raised by a callback, not by the arithmetic
                    raise
                raise _diverged(exc, epoch, batch, steps, stage, state, snapshot, cbs,
                                optimizer) from (exc if isinstance(exc, FloatingPointError) else None)
            logs["time"] = perf_counter() - t0
            history.append(epoch, logs)
            del logs["time"]
            for cb in all_cbs:
                cb.on_epoch_end(epoch, logs)
            if any(cb.stop_training for cb in all_cbs):
                break
        for cb in all_cbs:
            cb.on_train_end(logs)
    finally:
        if isinstance(progress, ProgressBar):
            progress.close()
    return history


class _NonFinite(Exception):
    """Internal: a NaN/inf was found in the loss or the parameters."""


def _diverged(exc, epoch, batch, steps, stage, state, snapshot, cbs, optimizer) -> TrainingDiverged:
    """Put a finite model state back and build the error that says what happened."""
    held = [h for h in (cb.restorable_weights() for cb in cbs) if h is not None]
    if held:
        best_epoch, arrays = max(held, key=lambda h: h[0])
        for dst, a in zip(state, arrays):
            np.copyto(dst, a)
        restored, how = "best", f"the weights a callback kept from epoch {best_epoch}"
    elif stage == 1 and all(np.isfinite(a).all() for a in state):
        restored, how = "before_step", "its parameters from before this batch's update"
    else:
        for dst, a in zip(state, snapshot):
            np.copyto(dst, a)
        restored, how = "epoch_start", f"its parameters from the start of epoch {epoch}"
    what = str(exc) if isinstance(exc, _NonFinite) else f"numpy raised FloatingPointError ({exc})"
    where = f"epoch {epoch}, batch {batch}/{steps}" if stage in (1, 2) else f"epoch {epoch}"
    if stage == 3:
        where += " (found at the end of the epoch)"
    elif stage == 4:
        where += " (in validation)"
    lr = optimizer.lr
    message = (f"fit: training diverged at {where}: {what}. The model was restored to {how}. "
               f"Try a smaller learning rate (lr is {lr:g}; e.g. lr={lr / 10:g}), standardized "
               "inputs, or a smaller batch. The optimizer's state was not restored: build a "
               "new optimizer before training on.")
    return TrainingDiverged(message, epoch, batch if stage in (1, 2) else None, restored)


def _is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
