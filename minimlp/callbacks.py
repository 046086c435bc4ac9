"""Callbacks: code that ``fit`` runs at the start and end of training, epochs and batches.

Write your own by subclassing ``Callback`` and overriding the hooks you need; every hook is a
no-op by default. ``fit`` calls them in this order::

    on_train_begin(logs={})
    for epoch in initial_epoch + 1 .. epochs:            (1-based)
        on_epoch_begin(epoch)
        for batch in 1 .. batches:                        (1-based)
            on_batch_begin(batch)                         before the forward pass
            forward, loss, backward, optimizer.step()
            on_batch_end(batch, logs)                     after the step; Parameter.grad
                                                          still holds this batch's gradient
        on_epoch_end(epoch, logs)                         logs: "loss", metrics, "val_loss",
                                                          "val_<metric>" (epoch means)
    on_train_end(logs)                                    logs of the last epoch

Batch ``logs`` hold ``"size"`` (rows in the batch), ``"loss"`` and each metric of that batch
alone. The batch hooks cost nothing unless a callback overrides one of them.

Before ``on_train_begin`` fit sets on every callback: ``model``, ``optimizer``, ``loss``,
``history`` (the ``History`` being filled) and ``params`` (a dict: ``epochs``,
``initial_epoch``, ``batch_size``, ``samples``, ``steps`` (batches per epoch), ``metrics``
(the keys epoch logs will have), ``verbose``). Setting ``self.stop_training = True`` in any
hook ends training after the current epoch.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from .metrics import HIGHER_IS_BETTER


class Callback:
    """Base class of callbacks; override any of the hooks (see the module docstring)."""

    model = None
    optimizer = None
    loss = None
    history = None
    params: dict = {}
    stop_training: bool = False

    def on_train_begin(self, logs: dict) -> None:
        """Called once before the first epoch (the model is still untouched)."""

    def on_epoch_begin(self, epoch: int) -> None:
        """Called at the start of epoch ``epoch`` (1-based)."""

    def on_batch_begin(self, batch: int) -> None:
        """Called before the forward pass of batch ``batch`` (1-based within the epoch)."""

    def on_batch_end(self, batch: int, logs: dict) -> None:
        """Called after ``optimizer.step()`` with that batch's ``size``, ``loss`` and metrics."""

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        """Called after validation with the epoch's ``loss``, metrics and ``val_*`` values."""

    def on_train_end(self, logs: dict) -> None:
        """Called once after the last epoch (not when training raised)."""

    def restorable_weights(self) -> tuple[int, list[np.ndarray]] | None:
        """``(epoch, arrays)`` of a good model state this callback holds (copies of
        ``state_arrays(model)``), which ``fit`` restores if training diverges; ``None`` if it
        holds none."""
        return None


def state_arrays(model) -> list[np.ndarray]:
    """The live arrays that make up a model's state: every parameter's value (in
    ``model.parameters()`` order), then every layer's ``buffers()`` (e.g. BatchNorm's running
    statistics), in layer order. Copying these out and back restores the model exactly."""
    return ([p.value for p in model.parameters()]
            + [a for layer in model.leaves() for a in layer.buffers().values()])


def _overrides(cb: Callback, hook: str) -> bool:
    return getattr(type(cb), hook) is not getattr(Callback, hook)


def _resolve_mode(monitor: str, mode: str, owner: str) -> str:
    if mode not in ("min", "max", "auto"):
        raise ValueError(f"{owner}: mode must be 'min', 'max' or 'auto', got {mode!r}")
    if mode == "auto":
        base = monitor[4:] if monitor.startswith("val_") else monitor
        return "max" if base in HIGHER_IS_BETTER or "acc" in base else "min"
    return mode


def _did_you_mean(name: str, keys) -> str | None:
    """The logged key ``name`` most likely meant: its alias resolved (``val_acc`` ->
    ``val_accuracy``), else the closest spelling; ``None`` if nothing is close."""
    import difflib
    from .metrics import METRIC_ALIASES
    prefix = "val_" if name.startswith("val_") else ""
    base = name[len(prefix):].lower()
    canonical = prefix + METRIC_ALIASES.get(base, base)
    if canonical in keys:
        return canonical
    close = difflib.get_close_matches(name, list(keys), n=1, cutoff=0.6)
    return close[0] if close else None


def _check_monitor(cb: Callback, monitor: str) -> None:
    keys = list(cb.params.get("metrics", []))
    if monitor not in keys:
        guess = _did_you_mean(monitor, keys)
        hint = f" (did you mean {guess!r}?)" if guess is not None else ""
        if monitor.startswith("val_") and not any(k.startswith("val_") for k in keys):
            hint += " (pass validation_data or validation_split to fit)"
        raise ValueError(f"{type(cb).__name__}: monitor {monitor!r} is not among the logged "
                         f"values {keys}{hint}")


def _format_fields(path: str) -> list[str]:
    """The field names of a ``str.format`` pattern (``"{val_loss:.2f}"`` -> ``val_loss``;
    ``""`` for a positional ``{}``)."""
    import string
    names = []
    for _, field, _, _ in string.Formatter().parse(path):
        if field is not None:
            names.append(field.split(".", 1)[0].split("[", 1)[0])
    return names


class _BestTracker(Callback):
    """Shared by EarlyStopping and ModelCheckpoint: which epoch's monitored value is best."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        if not isinstance(monitor, str):
            raise TypeError(f"{type(self).__name__}: monitor must be a log key such as 'val_loss', "
                            f"got {monitor!r}")
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode, type(self).__name__)
        self.min_delta = float(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_BestTracker):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    An epoch improves when ``value < best - min_delta`` (mode ``"min"``) or
    ``value > best + min_delta`` (mode ``"max"``); ``"auto"`` maximizes accuracy-like keys and
    minimizes the rest. Keras's rule, epoch by epoch::

        skip the epoch                       if epoch <= start_from_epoch (a warm-up)
        wait += 1
        if value improves on best:           best = value; and if there is no baseline, or
                                             value improves on baseline too: wait = 0
        elif wait >= patience:               stop after this epoch

    ``baseline``: a value the monitored quantity must beat. Until an epoch beats it, the count
    of epochs without improvement is never reset, so training stops at the first epoch that
    does not improve once ``patience`` epochs have passed without beating it (as Keras: an
    epoch that improves on the best but not on the baseline neither resets nor stops).
    ``start_from_epoch``: the first ``start_from_epoch`` epochs (after ``initial_epoch``'s
    numbering, 1-based) are not monitored at all: no best, no count, no stop.

    With ``restore_best_weights=True`` (the default; Keras's default is False) the model gets
    the parameters of the best epoch back (and its layer buffers, e.g. running statistics) at
    the end of training, whether it stopped early or ran all epochs, and ``fit`` restores them
    if training diverges. With ``restore_best_weights=False`` the model keeps the parameters
    of its last epoch, as Keras's default does.

    Attributes: ``best`` (the best value), ``best_epoch``, ``stopped_epoch`` (0 if it never
    stopped training), ``wait`` (epochs since the last improvement).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True, baseline=None,
                 start_from_epoch: int = 0):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience!r}")
        if not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        if baseline is not None and (isinstance(baseline, bool) or not isinstance(baseline, (int, float))
                                     or not math.isfinite(baseline)):
            raise ValueError(f"EarlyStopping: baseline must be None or a finite number, got {baseline!r}")
        if (isinstance(start_from_epoch, bool) or not isinstance(start_from_epoch, int)
                or start_from_epoch < 0):
            raise ValueError(f"EarlyStopping: start_from_epoch must be an integer >= 0, got "
                             f"{start_from_epoch!r}")
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = bool(restore_best_weights)
        self.baseline = None if baseline is None else float(baseline)
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self._best_weights = None

    def on_train_begin(self, logs):
        _check_monitor(self, self.monitor)
        self._reset()
        self.wait = 0
        self.stopped_epoch = 0
        self.stop_training = False
        if self.restore_best_weights:
            self._best_weights = [np.empty_like(a) for a in state_arrays(self.model)]

    def on_epoch_end(self, epoch, logs):
        if epoch <= self.start_from_epoch:
            return
        value = logs[self.monitor]
        self.wait += 1
        if self._improved(value):
            self.best, self.best_epoch = value, epoch
            if self._best_weights is not None:
                for dst, a in zip(self._best_weights, state_arrays(self.model)):
                    np.copyto(dst, a)
            if self.baseline is None or self._beats(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 1:
            self.stop_training = True
            self.stopped_epoch = epoch

    def _beats(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_end(self, logs):
        held = self.restorable_weights()
        if held is not None:
            for dst, src in zip(state_arrays(self.model), held[1]):
                np.copyto(dst, src)

    def restorable_weights(self):
        if self._best_weights is None or self.best_epoch is None:
            return None
        return self.best_epoch, self._best_weights

    def __repr__(self):
        extra = "" if self.baseline is None else f", baseline={self.baseline}"
        extra += "" if self.start_from_epoch == 0 else f", start_from_epoch={self.start_from_epoch}"
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"min_delta={self.min_delta}, mode={self.mode!r}, "
                f"restore_best_weights={self.restore_best_weights}{extra})")


def _format_logs(logs: dict, keys) -> str:
    return "  ".join(f"{k} {logs[k]:.4g}" for k in keys if k in logs)


class EpochLogger(Callback):
    """One line per epoch: ``epoch 3/20  loss 0.2311  accuracy 0.9133  val_loss ...  0.05s``.

    What ``fit`` prints when ``verbose=2``, or ``verbose=1`` and stdout is not a terminal.
    """

    def __init__(self, file=None):
        self.file = file

    def on_epoch_end(self, epoch, logs):
        out = self.file or sys.stdout
        epochs = self.params.get("epochs", "?")
        width = len(str(epochs))
        keys = self.params.get("metrics", list(logs))
        t = self.history.history["time"][-1] if self.history is not None and self.history.history.get("time") else None
        line = f"epoch {epoch:>{width}}/{epochs}  {_format_logs(logs, keys)}"
        if t is not None:
            line += f"  {t:.2f}s"
        print(line, file=out, flush=True)


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss and metrics (``verbose=1`` on a terminal).

    The line reads ``epoch 3/300  40%|███ | 12/30, loss=0.4123 accuracy=0.8750 ETA 0:01:05``:
    the running (sample-weighted) loss and first metric from the first batch on, then the
    estimated time left for the whole run (epochs to go included: elapsed time per batch so
    far times the batches left), then the other keys (``val_*`` at the epoch's end). It fits
    the terminal's width (``ncols`` fixes it, e.g. 80): tqdm shrinks the bar, then cuts the
    line at its end, so the loss, the first metric and the ETA are the last to go.

    With many epochs only about 50 bars stay on screen (every k-th and the last); the others
    are cleared when their epoch ends.
    """

    _FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{postfix}"

    def __init__(self, file=None, ncols: int | None = None):
        self.file = file
        self.ncols = ncols
        self._bar = None

    def on_train_begin(self, logs):
        epochs = self.params["epochs"]
        self._keep_every = max(1, math.ceil(epochs / 50))
        self._refresh_every = max(1, self.params["steps"] // 20)
        self._total = (epochs - self.params.get("initial_epoch", 0)) * self.params["steps"]
        self._done = 0
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch):
        from tqdm.auto import tqdm
        epochs = self.params["epochs"]
        leave = epoch % self._keep_every == 0 or epoch == epochs
        self._bar = tqdm(total=self.params["steps"], desc=f"epoch {epoch}/{epochs}", unit="batch",
                         leave=leave, file=self.file or sys.stdout, bar_format=self._FORMAT,
                         ncols=self.ncols, dynamic_ncols=self.ncols is None)
        self._n = 0
        self._sums = {}

    def _eta(self) -> str:
        if not self._done:
            return "ETA ?"
        left = (time.perf_counter() - self._start) / self._done * max(0, self._total - self._done)
        m, sec = divmod(int(round(left)), 60)
        return f"ETA {m // 60}:{m % 60:02d}:{sec:02d}"

    def _postfix(self, values: dict) -> str:
        """``loss=.. <first metric>=.. ETA h:mm:ss <the rest>``: what matters most first."""
        keys = list(values)
        first = [k for k in keys if k == "loss"] + [k for k in keys if k != "loss"
                                                    and not k.startswith("val_") and k != "time"][:1]
        rest = [k for k in keys if k not in first and k != "time"]
        part = lambda ks: [f"{k}={values[k]:.4g}" for k in ks]
        return " ".join(part(first) + [self._eta()] + part(rest))

    def on_batch_end(self, batch, logs):
        m = logs["size"]
        self._n += m
        self._done += 1
        sums = self._sums
        for k, v in logs.items():
            if k != "size":
                sums[k] = sums.get(k, 0.0) + m * v
        bar = self._bar
        bar.update(1)
        if batch == 1 or batch % self._refresh_every == 0:
            # the first batch forces a redraw, so the live line has numbers at once
            bar.set_postfix_str(self._postfix({k: s / self._n for k, s in sums.items()}),
                                refresh=batch == 1)

    def on_epoch_end(self, epoch, logs):
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix(logs), refresh=False)
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        """Close an open bar (fit calls it when training raises)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
