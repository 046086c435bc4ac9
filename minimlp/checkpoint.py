"""``ModelCheckpoint``: save the model and its optimizer's state at the end of epochs.

It lives apart from ``minimlp.callbacks`` because it needs ``minimlp.io``: the callbacks
themselves then depend on nothing but the metrics, and the modules form no cycle.
"""
from __future__ import annotations

import numpy as np

from . import io
from .callbacks import _BestTracker, _check_monitor, _did_you_mean, _format_fields, state_arrays


class ModelCheckpoint(_BestTracker):
    """Save the model (and the optimizer's state) at the end of epochs.

    Writes with ``minimlp.io.save(model, path, optimizer=optimizer)``, which is atomic.
    ``path`` may hold ``str.format`` fields filled from the epoch and its logs, e.g.
    ``"ckpt-{epoch:03d}-{val_loss:.3f}.npz"``. With ``save_best_only=True`` it saves only
    when ``monitor`` improves (see ``EarlyStopping`` for ``mode``); otherwise every epoch.

    When training begins (before anything changes) it raises ``ValueError`` if ``path`` has a
    field other than ``epoch`` and the keys fit logs (``val_loss`` needs validation data) or
    if its folder does not exist: create the folder first, it is not created for you.

    It keeps a copy of the parameters it last saved; ``fit`` restores them if training
    diverges. Attributes: ``best``, ``best_epoch``, ``last_saved`` (the last path written).

    Learning-rate schedules: the file also holds the state of the schedules attached to the
    optimizer (they step for the epoch before the save, wherever they are in ``callbacks``).
    To resume, load the optimizer with the model and attach schedules built with the same
    arguments; each continues its curve where the file left it::

        net, opt = mm.load("ckpt.npz", with_optimizer=True)
        fit(net, X, Y, loss=loss, optimizer=opt, epochs=20, initial_epoch=10,
            callbacks=[mm.StepLR(step_size=5), mm.ModelCheckpoint("ckpt.npz")])
    """

    def __init__(self, path, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto"):
        import os
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"ModelCheckpoint: path must be a str or os.PathLike, got {type(path).__name__}")
        super().__init__(monitor, mode)
        self.path = os.fspath(path)
        self.save_best_only = bool(save_best_only)
        self.last_saved = None
        self._saved = None
        self._saved_epoch = None
        self._save = None

    def on_train_begin(self, logs):
        self._save = io.save
        if self.save_best_only:
            _check_monitor(self, self.monitor)
        self._check_path()
        self._reset()
        self._saved = [np.empty_like(a) for a in state_arrays(self.model)]
        self._saved_epoch = None

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = logs[self.monitor]
            if not self._improved(value):
                return
            self.best, self.best_epoch = value, epoch
        path = self.path.format(epoch=epoch, **logs) if "{" in self.path else self.path
        # The schedules of this fit step first (each once per epoch), so the file holds their
        # state after this epoch whatever the order of the callbacks; the optimizer's state
        # carries them (Optimizer.state_dict), and load(..., with_optimizer=True) gives them
        # back to schedules of the same kind attached to the loaded optimizer.
        for sched in self.optimizer.schedules() if self.optimizer is not None else ():
            if sched.history is self.history:
                sched._end_epoch(epoch, logs)
        self._save(self.model, path, optimizer=self.optimizer)
        self.last_saved = path
        for dst, a in zip(self._saved, state_arrays(self.model)):
            np.copyto(dst, a)
        self._saved_epoch = epoch

    def _check_path(self) -> None:
        """Before training: every format field is ``epoch`` or a key fit will log, the
        pattern formats, and the folder exists (it is not created)."""
        import os
        keys = list(self.params.get("metrics", []))
        try:
            fields = _format_fields(self.path)
        except ValueError as e:
            raise ValueError(f"ModelCheckpoint: path {self.path!r} is not a valid format "
                             f"pattern: {e}") from None
        allowed = ["epoch"] + keys
        for field in fields:
            if field not in allowed:
                guess = _did_you_mean(field, allowed) if field else None
                hint = f" (did you mean {guess!r}?)" if guess is not None else ""
                if field.startswith("val_") and not any(k.startswith("val_") for k in keys):
                    hint += " (pass validation_data or validation_split to fit)"
                shown = "{}" if not field else f"{{{field}}}"
                raise ValueError(f"ModelCheckpoint: path {self.path!r} has the field {shown}, "
                                 f"which is not among the values it can be filled from: "
                                 f"{allowed}{hint}")
        try:
            example = self.path.format(epoch=1, **{k: 0.0 for k in keys}) if fields else self.path
        except (ValueError, TypeError, IndexError, KeyError) as e:
            raise ValueError(f"ModelCheckpoint: path {self.path!r} cannot be formatted with "
                             f"epoch (an int) and the logged values (floats): {e}") from None
        folder = os.path.dirname(self.path)
        if "{" not in folder and folder and not os.path.isdir(os.path.dirname(example)):
            raise ValueError(f"ModelCheckpoint: the folder {folder!r} of path {self.path!r} does "
                             f"not exist; create it first (os.makedirs({folder!r}, exist_ok=True))")

    def restorable_weights(self):
        if self._saved_epoch is None:
            return None
        return self._saved_epoch, self._saved

    def __repr__(self):
        return (f"ModelCheckpoint({self.path!r}, monitor={self.monitor!r}, "
                f"save_best_only={self.save_best_only})")


# -- progress output (fit adds one of these from ``verbose``) -----------------------------
