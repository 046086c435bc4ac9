"""The training loop: ``fit``, ``evaluate`` and the classifier helpers.

``fit`` runs ``TrainStep`` (forward, loss, backward, update; ``minimlp.step``) over shuffled
mini-batches. It is four pieces: ``_prepare`` checks every argument before anything
changes, ``Batches`` gathers each batch with ``np.take`` into buffers allocated once
(an epoch never copies the data set), ``CallbackList`` runs the hooks, and ``_run_epoch``
is the hot loop. No derivative lives here. ``sample_weight`` wraps the loss in
``minimlp.weighting.SampleWeighted`` and travels with the rows; without it nothing changes.

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

import math
import numbers
import sys
import time
from typing import Iterable

import numpy as np

from ._checks import check_real, check_size
from .callbacks import Callback, EpochLogger, ProgressBar, _overrides, state_arrays
from .history import History
from .layer import Layer
from .losses import LOSSES, BCEWithLogitsLoss, CrossEntropyLoss, Loss, get_loss
from .metrics import get_metric
from .step import (OPTIMIZERS, NonFiniteLoss, TrainingDiverged, TrainStep, check_training_parts,
                   pin_threads)
from .weighting import SampleWeighted, check_sample_weight

Array = np.ndarray

__all__ = ["fit", "evaluate", "predict_proba", "predict_classes", "History", "TrainingDiverged",
           "LOSSES", "OPTIMIZERS", "get_loss"]


# -- argument checks ----------------------------------------------------------------------

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


def _evaluate_arrays(model, X: Array, T: Array, loss: Loss | None, mfns, chunk: int | None,
                     W: Array | None = None) -> dict:
    """Means of the loss and metrics over chunks of rows (eval mode), each chunk weighing
    its row count; with ``W`` (N,) ``loss`` is a ``SampleWeighted`` taking ``(T, W)``."""
    N = X.shape[0]
    chunk = N if chunk is None else chunk
    summed = _sums(loss)
    total = 0.0
    sums = [0.0] * len(mfns)
    for s in range(0, N, chunk):
        Xc, Tc = X[s:s + chunk], T[s:s + chunk]
        m = Xc.shape[0]
        Yp = model.forward(Xc, False)
        if loss is not None:   # targets checked once: a NaN output gives a NaN loss, not an error
            total += (1 if summed else m) * loss._forward(Yp, Tc if W is None else (Tc, W[s:s + chunk]))
        for j, (_, f) in enumerate(mfns):
            sums[j] += m * f(Yp, Tc)
    out = {"loss": float(total if summed else total / N)} if loss is not None else {}
    out.update((name, float(s / N)) for (name, _), s in zip(mfns, sums))   # floats, not np.float64
    return out


def evaluate(model, X, Y, *, loss=None, metrics=(), batch_size: int | None = None,
             sample_weight=None) -> dict:
    """Loss and metrics of ``model`` on ``X`` (N, D_in) and targets ``Y``, in eval mode.

    Returns ``{"loss": L, "<metric>": m, ...}`` (``"loss"`` only when ``loss`` is given), each
    the mean over all N samples (batches combined with weights N_b / N; a loss with
    ``reduction="sum"`` reports its sum over all samples instead). ``sample_weight`` (N,),
    finite and ``>= 0``, weighs each sample's loss as ``fit`` does
    (``minimlp.weighting.SampleWeighted``: ``sum_n w_n l_n / M``); the metrics stay
    unweighted. ``batch_size``
    bounds memory by evaluating in chunks (``None``: all rows at once). Changes no
    parameter or buffer; like ``predict`` it drops the layers' training caches, so a
    ``backward`` needs a new ``forward`` first.
    """
    if not isinstance(model, Layer) or not hasattr(model, "check_input"):
        raise TypeError(f"evaluate: model must be a minimlp Sequential (wrap a single layer "
                        f"as Sequential(layer)), got {type(model).__name__}")
    _refuse_weighted(loss, "evaluate")
    loss = None if loss is None else get_loss(loss, "evaluate")
    mfns = _metric_functions(metrics, loss if loss is not None else Loss())
    if loss is None and not mfns:
        raise ValueError("evaluate: nothing to compute; pass loss=... and/or metrics=[...]")
    if loss is None and sample_weight is not None:
        raise ValueError("evaluate: sample_weight weighs the loss, and no loss was given; "
                         "pass loss=... (metrics are never weighted)")
    if batch_size is not None:
        batch_size = check_size(batch_size, "batch_size", "evaluate")
    X = model.check_input(X)
    T = _check_targets(model, loss, X, Y, "evaluate")
    W = None
    if sample_weight is not None:
        W = check_sample_weight(sample_weight, X.shape[0], model.dtype, "evaluate")
        loss = SampleWeighted(loss)
    return _evaluate_arrays(model, X, T, loss, mfns, batch_size, W)


def _refuse_weighted(loss, owner: str) -> None:
    if isinstance(loss, SampleWeighted):
        raise TypeError(f"{owner}: pass the unweighted loss ({loss.loss!r}) and "
                        "sample_weight=w; the weights then follow the rows")


# -- classifier helpers -------------------------------------------------------------------

def _last_layer_name(model) -> str:
    """The class name of the model's last computing layer, nested Sequentials included."""
    leaves = model.leaves()
    return type(leaves[-1]).__name__ if leaves else ""


def predict_proba(model, X, batch_size: int | None = None) -> Array:
    """Class probabilities from a classifier whose last layer outputs logits.

    ``(N, D_in) -> (N, C)``: ``softmax(Z)`` row-wise for ``C >= 2`` output columns (the
    logits ``CrossEntropyLoss`` trains), ``sigmoid(Z)`` = P(class 1) for one column (as
    ``BCEWithLogitsLoss`` trains). A model that already ends in ``Softmax`` or ``Sigmoid``
    (nested Sequentials included) is returned as is.
    """
    from scipy.special import expit, softmax
    Z = model.predict(X, batch_size=batch_size)
    if _last_layer_name(model) in ("Softmax", "Sigmoid"):
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

class _Run:
    """Everything ``fit`` checked and derived, before it changed anything."""


def _prepare(model, X, Y, loss, optimizer, epochs, batch_size, shuffle, validation_data,
             validation_split, validation_rows, metrics, callbacks, seed, verbose,
             initial_epoch, max_loss_growth, sample_weight=None) -> _Run:
    """Check every argument of ``fit`` (raising ValueError/TypeError naming it) and split
    off the validation rows (and their weights); nothing is changed yet. With weights,
    ``run.loss`` is the ``SampleWeighted`` loss and ``run.W`` the training rows' weights."""
    run = _Run()
    _refuse_weighted(loss, "fit")
    run.model, run.loss, run.optimizer = check_training_parts(model, loss, optimizer, "fit")
    run.epochs = epochs = check_size(epochs, "epochs", "fit")
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) \
            or not 0 <= initial_epoch < epochs:
        raise ValueError(f"fit: initial_epoch must be an integer in [0, epochs) = [0, {epochs}), "
                         f"got {initial_epoch!r}")
    run.initial_epoch = int(initial_epoch)
    batch_size = check_size(batch_size, "batch_size", "fit")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"fit: shuffle must be True or False, got {shuffle!r}")
    run.shuffle = bool(shuffle)
    validation_split = check_real(validation_split, "validation_split", "fit",
                                  low=0.0, high=1.0, high_open=True)
    if validation_rows not in ("random", "last"):
        raise ValueError(f"fit: validation_rows must be 'random' or 'last', got {validation_rows!r}")
    if verbose not in (0, 1, 2):  # True/False compare equal to 1/0
        raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
    run.verbose = verbose
    if max_loss_growth is not None:
        max_loss_growth = check_real(max_loss_growth, "max_loss_growth", "fit", low=1.0, low_open=True)
    run.max_loss_growth = max_loss_growth
    run.mfns = _metric_functions(metrics, run.loss)
    run.callbacks = _check_callbacks(callbacks)
    run.ss = ss = _seed_sequence(seed)

    X = model.check_input(X, "fit input X")
    T = _check_targets(model, run.loss, X, Y, "fit")
    N = X.shape[0]
    W = W_val = None
    if sample_weight is not None:
        W = check_sample_weight(sample_weight, N, model.dtype, "fit")
    if validation_data is not None:
        if validation_split:
            raise ValueError("fit: pass validation_data or validation_split, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError("fit: validation_data must be a pair (X_val, Y_val) or a triple "
                            f"(X_val, Y_val, sample_weight_val), got {type(validation_data).__name__}"
                            + (f" of length {len(validation_data)}" if hasattr(validation_data, "__len__") else ""))
        X_val = model.check_input(validation_data[0], "validation_data X")
        T_val = _check_targets(model, run.loss, X_val, validation_data[1], "fit validation_data")
        if len(validation_data) == 3 and validation_data[2] is not None:
            W_val = check_sample_weight(validation_data[2], X_val.shape[0], model.dtype,
                                        "fit validation_data")
    elif validation_split:
        n_val = int(round(N * validation_split))
        if n_val < 1 or n_val >= N:
            raise ValueError(f"fit: validation_split={validation_split} of {N} rows leaves "
                             f"{n_val} validation and {N - n_val} training rows; both need >= 1")
        if validation_rows == "last":
            val_idx, train_idx = np.arange(N - n_val, N), np.arange(N - n_val)
        else:
            perm = _stream(ss, 0).permutation(N)
            val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        X_val, T_val = X[val_idx], T[val_idx]
        X, T = X[train_idx], T[train_idx]
        if W is not None:
            W_val, W = W[val_idx], W[train_idx]
            if not W.any():
                raise ValueError(f"fit: sample_weight is 0 on every one of the {N - n_val} "
                                 "training rows validation_split leaves; at least one must be > 0")
        N = X.shape[0]
    else:
        X_val = T_val = None
    run.X, run.T, run.X_val, run.T_val, run.W, run.W_val = X, T, X_val, T_val, W, W_val
    # A weighted loss only where there are weights: the unweighted step stays as it is.
    plain = run.loss
    run.loss = plain if W is None else SampleWeighted(plain)
    run.val_loss = plain if W_val is None else run.loss if W is not None else SampleWeighted(plain)

    run.bs = bs = min(batch_size, N)
    run.steps = -(-N // bs)
    last = N - (run.steps - 1) * bs
    for path, layer in list(model.walk()) or [("0", model)]:
        if last < layer.min_train_batch:   # BatchNorm1d: batch statistics need 2 rows
            raise ValueError(f"fit: layer {path} ({layer!r}) needs at least {layer.min_train_batch} "
                             f"samples per training batch, but batch_size={bs} on {N} training "
                             f"rows leaves a batch of {last}; choose another batch_size")
    return run


class Batches:
    """The mini-batches of an epoch: ``epoch(e)`` yields ``(X_batch, T_batch, W_batch)``,
    ``W_batch`` the batch's sample weights (``None`` without ``W``).

    With ``shuffle`` each batch is gathered (``np.take``) into buffers allocated once, in
    the order of epoch ``e``'s permutation (stream ``(1, e)`` of the seed); without,
    batches are views of consecutive rows. The last, smaller batch is kept.
    """

    def __init__(self, X: Array, T: Array, batch_size: int, shuffle: bool, ss,
                 W: Array | None = None):
        self.X, self.T, self.W = X, T, W
        self.batch_size, self.shuffle, self.ss = batch_size, shuffle, ss
        N = X.shape[0]
        self.bounds = [(s, min(s + batch_size, N)) for s in range(0, N, batch_size)]
        if shuffle:
            self._Xb = np.empty((batch_size,) + X.shape[1:], X.dtype)
            self._Tb = np.empty((batch_size,) + T.shape[1:], T.dtype)
            self._Wb = None if W is None else np.empty(batch_size, W.dtype)

    def __len__(self) -> int:
        return len(self.bounds)

    def epoch(self, e: int):
        X, T, W = self.X, self.T, self.W
        if not self.shuffle:
            for s, t in self.bounds:
                yield X[s:t], T[s:t], None if W is None else W[s:t]
            return
        order = _stream(self.ss, 1, e).permutation(X.shape[0])
        Xb, Tb, Wb, bs, take = self._Xb, self._Tb, self._Wb, self.batch_size, np.take
        wb = None
        for s, t in self.bounds:
            idx = order[s:t]
            xb, tb = (Xb, Tb) if t - s == bs else (Xb[:t - s], Tb[:t - s])
            take(X, idx, axis=0, out=xb, mode="clip")
            take(T, idx, axis=0, out=tb, mode="clip")
            if W is not None:
                wb = Wb if t - s == bs else Wb[:t - s]
                take(W, idx, out=wb, mode="clip")
            yield xb, tb, wb


class CallbackList:
    """The callbacks of one ``fit``: wired to the run (``model``, ``optimizer``, ``loss``,
    ``history``, ``params``) and called hook by hook; the batch hooks only for the
    callbacks that override them."""

    def __init__(self, callbacks: list, model, optimizer, loss, history, params: dict):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.model, cb.optimizer, cb.loss, cb.history, cb.params = model, optimizer, loss, history, params
            cb.stop_training = False
        self.batch_begin = [cb for cb in self.callbacks if _overrides(cb, "on_batch_begin")]
        self.batch_end = [cb for cb in self.callbacks if _overrides(cb, "on_batch_end")]

    def __getattr__(self, hook: str):
        if not hook.startswith("on_"):
            raise AttributeError(hook)
        callbacks = self.callbacks

        def call(*args):
            for cb in callbacks:
                getattr(cb, hook)(*args)
        return call

    @property
    def stop_training(self) -> bool:
        return any(cb.stop_training for cb in self.callbacks)


class _NonFinite(Exception):
    """Internal: a NaN/inf (or an exploded loss) was found; ``where`` says in which stage:
    "step" (the batch's forward/loss/backward; nothing updated), "update" (inside the
    optimizer's step), "end of epoch" or "validation"."""

    def __init__(self, message: str, where: str, batch: int | None = None):
        super().__init__(message)
        self.where, self.batch = where, batch


class _Growth:
    """``max_loss_growth``: sets ``step.loss_limit`` from the first batch of the fit, so
    that a batch loss (per sample, for a summed loss) grown past ``factor * max(1, L_1)``
    stops the step before its update."""

    def __init__(self, factor: float, step: TrainStep, batch_size: int, summed: bool):
        self.factor, self.step, self.batch_size, self.summed = factor, step, batch_size, summed

    def first(self, value: float, m: int) -> None:
        per_sample = value / m if self.summed else value
        limit = self.factor * max(1.0, abs(per_sample))
        self.step.loss_limit = limit * self.batch_size if self.summed else limit

def _run_epoch(step: TrainStep, batches, epoch: int, cbs: CallbackList, mfns, summed: bool,
               buffers: list, buffer_snapshot: list, growth: _Growth | None) -> tuple[float, list[float]]:
    """One epoch of steps: returns the summed loss (``sum_b N_b L_b``, or ``sum_b L_b`` for a
    summed loss) and the metric sums (``sum_b N_b m_b``). A NaN/inf, or a loss grown past
    ``growth``, raises ``_NonFinite``. A weighted batch's loss targets are ``(T_b, W_b)``."""
    begin, finish, optimizer = step.begin, step.finish, step.optimizer
    hooks_begin, hooks_end = cbs.batch_begin, cbs.batch_end
    names = [n for n, _ in mfns]
    total = 0.0
    sums = [0.0] * len(mfns)
    for batch, (xb, tb, wb) in enumerate(batches.epoch(epoch), 1):
        m = xb.shape[0]
        for cb in hooks_begin:
            cb.on_batch_begin(batch)
        for dst, a in zip(buffer_snapshot, buffers):   # running statistics, for a restore
            np.copyto(dst, a)
        before = optimizer.steps
        try:
            value = begin(xb, tb if wb is None else (tb, wb))    # forward and loss
            if mfns:                        # metrics of the output, before the update
                mvals = [f(step.output, tb) for _, f in mfns]
            finish()                        # backward and update
        except NonFiniteLoss as e:
            hint = "" if not math.isfinite(e.value) else (
                " (max_loss_growth times the first batch's; pass max_loss_growth=None to train on)")
            raise _NonFinite(f"{e}{hint}", "step", batch) from None
        except FloatingPointError as e:   # np.errstate(...="raise") chosen by the caller
            where = "step" if optimizer.steps == before else "update"
            raise _NonFinite(f"numpy raised FloatingPointError ({e})", where, batch) from e
        if growth is not None:
            growth.first(value, m)
            growth = None
        total += (1 if summed else m) * value
        if mfns:
            for j, v in enumerate(mvals):
                sums[j] += m * v
        if hooks_end:
            blogs = {"size": m, "loss": value}
            if mfns:
                blogs.update(zip(names, mvals))
            for cb in hooks_end:
                cb.on_batch_end(batch, blogs)
    return total, sums


def fit(model, X, Y, *, loss, optimizer, epochs: int, batch_size: int = 32,
        shuffle: bool = True, validation_data=None, validation_split: float = 0.0,
        validation_rows: str = "random", metrics: Iterable = (), callbacks: Iterable[Callback] = (),
        seed=None, verbose: int = 1, initial_epoch: int = 0, threads="auto",
        max_loss_growth: float | None = 1e4, sample_weight=None) -> History:
    """Train ``model`` on ``X`` (N, D_in) and targets ``Y`` with mini-batch gradient descent.

    Parameters
    ----------
    loss : Loss or str
        E.g. ``mm.CrossEntropyLoss()`` or a name from ``LOSSES`` (``"mse"``, ``"ce"``,
        ``"bce_with_logits"``, ...). Targets ``Y`` take the form the loss accepts: integer labels
        ``(N,)`` or rows ``(N, C)`` for cross-entropy, ``(N, D_out)`` values otherwise.
    optimizer : Optimizer or str
        Holds (some of) ``model``'s parameters, e.g. ``mm.Adam(net.parameters(), lr=1e-3)``;
        or a name from ``OPTIMIZERS`` (``"sgd"``, ``"adam"``, ...), built on every parameter
        with its defaults.
    epochs : int >= 1
        Train until this epoch number (epochs ``initial_epoch + 1 .. epochs`` run).
    batch_size : int >= 1
        Rows per mini-batch. The last, smaller batch of an epoch is used, not dropped. A
        batch_size larger than the training set is clamped to it (full-batch training).
    shuffle : bool
        Draw a fresh permutation of the training rows each epoch (see the module docstring
        for the stream); ``False`` keeps the order (batches are then views, no gathering).
    validation_data : (X_val, Y_val), (X_val, Y_val, sample_weight_val) or None
        Evaluated (eval mode, no update) after each epoch: ``val_loss`` (weighted when the
        triple gives weights) and ``val_<metric>``.
    validation_split : float in [0, 1)
        Instead of ``validation_data``: hold out ``round(N * validation_split)`` rows (and
        their ``sample_weight``, which then weighs ``val_loss``); the rest, kept in their
        order, is the training set.
    validation_rows : "random" or "last"
        Which rows ``validation_split`` holds out: random ones (default; their own random
        stream), or the last ones, as Keras does.
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
    threads : "auto", int or None
        BLAS threads while training (see ``TrainStep``; recorded in ``History.params``).
    max_loss_growth : float > 1 or None
        Raise ``TrainingDiverged`` when a batch's loss (per sample, for a summed loss)
        exceeds ``max_loss_growth * max(1, L_1)``, ``L_1`` the first batch's: a loss that grew
        by orders of magnitude has diverged even while it is finite. ``None`` turns the
        check off. Default ``1e4``.
    sample_weight : array (N,) or None
        A weight per row of ``X``, finite and ``>= 0``, not all 0 (Keras' ``sample_weight``).
        Each sample's loss is multiplied by its weight and a batch's loss is the wrapped
        loss's reduction of the weighted values, ``sum_n w_n l_n / M`` with ``M`` what its
        mean divides by (``N_b * D_out`` for MSE, ``N_b`` for cross-entropy labels): the
        mean over the batch of the weighted per-sample losses, Keras'
        ``"sum_over_batch_size"`` (see ``minimlp.weighting.SampleWeighted``). Weights of 1
        train exactly as none. Metrics stay unweighted.

    Returns the ``History``. Arguments are all checked before anything changes: a bad one
    raises ``ValueError``/``TypeError`` naming it; so does a model ending in ``Softmax``
    trained with ``CrossEntropyLoss`` or in ``Sigmoid`` with ``BCEWithLogitsLoss`` (those
    losses take logits). If the loss or the parameters become NaN or infinite (or the
    loss grows past ``max_loss_growth``), ``TrainingDiverged`` is raised after restoring
    finite parameters and buffers; numpy's overflow and
    invalid-value ``RuntimeWarning``s are silenced during the epochs (the NaN/inf they make is
    reported this way instead), while ``np.errstate(over="raise")`` and the like are kept.
    """
    run = _prepare(model, X, Y, loss, optimizer, epochs, batch_size, shuffle, validation_data,
                   validation_split, validation_rows, metrics, callbacks, seed, verbose,
                   initial_epoch, max_loss_growth, sample_weight)
    model, loss, optimizer, mfns = run.model, run.loss, run.optimizer, run.mfns
    step = TrainStep(model, loss, optimizer, threads=threads)
    n_threads = step.thread_count(run.bs)
    N, validating = run.X.shape[0], run.X_val is not None
    names = [n for n, _ in mfns]
    keys = ["loss"] + names + (["val_loss"] + [f"val_{n}" for n in names] if validating else [])
    history = History(keys + ["time"], params={
        "epochs": run.epochs, "initial_epoch": run.initial_epoch, "batch_size": run.bs,
        "samples": N, "steps": run.steps, "shuffle": run.shuffle,
        "validation_samples": run.X_val.shape[0] if validating else 0,
        "seed": run.ss.entropy, "seed_spawn_key": list(run.ss.spawn_key),
        "loss": repr(loss), "optimizer": repr(optimizer), "threads": n_threads})
    progress = _progress(run.verbose)
    cbs = CallbackList(run.callbacks + ([progress] if progress is not None else []), model,
                       optimizer, loss, history, {
                           "epochs": run.epochs, "initial_epoch": run.initial_epoch,
                           "batch_size": run.bs, "samples": N, "steps": run.steps,
                           "metrics": keys, "verbose": run.verbose})
    batches = Batches(run.X, run.T, run.bs, run.shuffle, run.ss, run.W)
    state = state_arrays(model)
    snapshot = [np.empty_like(a) for a in state]
    buffers = [a for layer in model.leaves() for a in layer.buffers().values()]
    buffer_snapshot = [np.empty_like(a) for a in buffers]
    val_chunk = None if not validating or run.X_val.shape[0] <= 8192 else 8192
    summed = _sums(loss)
    growth = None if run.max_loss_growth is None else _Growth(run.max_loss_growth, step, run.bs, summed)

    try:
        with pin_threads(n_threads), np.errstate(**_quiet_overflow()):
            # NaN/inf is detected (and reported as TrainingDiverged): no RuntimeWarning first.
            cbs.on_train_begin({})
            logs: dict = {}
            for epoch in range(run.initial_epoch + 1, run.epochs + 1):
                cbs.on_epoch_begin(epoch)
                t0 = time.perf_counter()
                for dst, a in zip(snapshot, state):
                    np.copyto(dst, a)
                try:
                    total, sums = _run_epoch(step, batches, epoch, cbs, mfns, summed, buffers,
                                             buffer_snapshot, growth)
                    growth = None
                    logs = _epoch_logs(total, sums, N, names, summed, state)
                    if validating:
                        vlogs = _evaluate_arrays(model, run.X_val, run.T_val, run.val_loss, mfns,
                                                 val_chunk, run.W_val)
                        if not math.isfinite(vlogs["loss"]):
                            raise _NonFinite(f"the validation loss became {vlogs['loss']}", "validation")
                        logs.update((f"val_{k}", v) for k, v in vlogs.items())
                except _NonFinite as exc:
                    raise _diverged(exc, epoch, run.steps, state, snapshot, buffers,
                                    buffer_snapshot, run.callbacks, optimizer) from exc.__cause__
                logs["time"] = time.perf_counter() - t0
                history.append(epoch, logs)
                del logs["time"]
                cbs.on_epoch_end(epoch, logs)
                if cbs.stop_training:
                    break
            cbs.on_train_end(logs)
    finally:
        if isinstance(progress, ProgressBar):
            progress.close()
    return history


def _epoch_logs(total, sums, N, names, summed, state) -> dict:
    for a in state:
        if not np.isfinite(a).all():
            raise _NonFinite("a parameter or buffer became NaN or inf", "end of epoch")
    logs = {"loss": total if summed else total / N}
    logs.update((name, s / N) for name, s in zip(names, sums))
    return logs


def _progress(verbose: int):
    if verbose == 2 or verbose == 1 and not _is_tty():
        return EpochLogger()
    if verbose == 1:
        return ProgressBar()
    return None


def _diverged(exc: _NonFinite, epoch, steps, state, snapshot, buffers, buffer_snapshot, cbs,
              optimizer) -> TrainingDiverged:
    """Put a finite model state back and build the error that says what happened."""
    held = [h for h in (cb.restorable_weights() for cb in cbs) if h is not None]
    if held:
        best_epoch, arrays = max(held, key=lambda h: h[0])
        for dst, a in zip(state, arrays):
            np.copyto(dst, a)
        restored, how = "best", f"the weights a callback kept from epoch {best_epoch}"
    elif exc.where == "step" and all(np.isfinite(a).all() for a in state):
        for dst, a in zip(buffers, buffer_snapshot):   # the failing batch's running statistics
            np.copyto(dst, a)
        restored, how = "before_step", "its parameters from before this batch's update"
    else:
        for dst, a in zip(state, snapshot):
            np.copyto(dst, a)
        restored, how = "epoch_start", f"its parameters from the start of epoch {epoch}"
    batch = exc.batch if exc.where in ("step", "update") else None
    where = f"epoch {epoch}, batch {batch}/{steps}" if batch is not None else f"epoch {epoch}"
    if exc.where == "end of epoch":
        where += " (found at the end of the epoch)"
    elif exc.where == "validation":
        where += " (in validation)"
    lr = optimizer.lr
    message = (f"fit: training diverged at {where}: {exc}. The model was restored to {how}. "
               f"Try a smaller learning rate (lr is {lr:g}; e.g. lr={lr / 10:g}), standardized "
               "inputs, or a smaller batch. The optimizer's state was not restored: build a "
               "new optimizer before training on.")
    return TrainingDiverged(message, epoch, batch, restored)


def _is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
