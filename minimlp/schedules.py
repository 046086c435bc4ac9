"""Learning-rate schedules: ``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR`` (optional
linear warm-up) and ``ReduceLROnPlateau``, with PyTorch's formulas.

A schedule changes ``optimizer.lr`` once per epoch. Use it either by hand, as in PyTorch::

    sched = mm.StepLR(opt, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        ...train one epoch...
        sched.step()                    # ReduceLROnPlateau: sched.step(val_loss)

or as a callback of ``fit`` (``callbacks=[sched]``), which steps it at the end of every epoch
(``ReduceLROnPlateau`` with the epoch's ``logs[monitor]``, ``"val_loss"`` by default).
Given no optimizer, a schedule takes ``fit``'s; it then starts at ``fit``'s ``initial_epoch``
(resumed training continues the schedule; ``base_lr`` is the optimizer's lr at that moment).
Epoch ``t`` counts the ``step`` calls so far (``last_epoch``); ``lrs`` lists the learning rate
after each of them, starting with ``t = 0``.
"""
from __future__ import annotations

import math

from ._checks import check_real, check_size
from .callbacks import Callback, _check_monitor
from .optim import Optimizer


class LRScheduler(Callback):
    """Base class of the epoch schedules: ``lr(t) = get_lr(t)`` from ``base_lr``, the
    optimizer's learning rate when the schedule was attached. A subclass writes ``get_lr``."""

    def __init__(self, optimizer: Optimizer | None = None):
        self.optimizer = self._attached_to = None
        self.last_epoch = 0
        self.lrs: list[float] = []
        if optimizer is not None:
            self._attach(optimizer)

    def _attach(self, optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be a minimlp Optimizer, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = self._attached_to = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        self._set(self.get_lr(0))

    def _set(self, lr: float) -> None:
        self.optimizer.lr = lr
        self.lrs.append(lr)

    def get_lr(self, t: int) -> float:  # pragma: no cover - abstract
        """The learning rate of epoch ``t`` (0 = before the first ``step``)."""
        raise NotImplementedError

    def step(self) -> float:
        """Advance one epoch and set the optimizer's learning rate; returns it."""
        if self.optimizer is None:
            raise RuntimeError(f"{type(self).__name__}: no optimizer (pass one to the "
                               "constructor or use the schedule as a callback of fit)")
        self.last_epoch += 1
        self._set(self.get_lr(self.last_epoch))
        return self.optimizer.lr

    # -- as a callback of fit -------------------------------------------------------------
    def on_train_begin(self, logs) -> None:
        # fit sets self.optimizer to its own optimizer just before this hook; a schedule
        # built on that same optimizer keeps its state (and may continue over several fits).
        if self._attached_to is not self.optimizer:
            self._attach(self.optimizer)
            start = int(self.params.get("initial_epoch", 0) or 0)
            if start and self.last_epoch == 0:
                # resuming with fit(initial_epoch=k): continue the schedule at epoch k
                self.last_epoch = start
                self._set(self.get_lr(start))

    def on_epoch_end(self, epoch, logs) -> None:
        self.step()


class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` epochs (``torch.optim.lr_scheduler.StepLR``)::

        lr(t) = base_lr * gamma ** floor(t / step_size)
    """

    def __init__(self, optimizer: Optimizer | None = None, step_size: int = 10, gamma: float = 0.1):
        self.step_size = check_size(step_size, "step_size", "StepLR")
        self.gamma = check_real(gamma, "gamma", "StepLR", low=0.0)
        super().__init__(optimizer)

    def get_lr(self, t):
        return self.base_lr * self.gamma ** (t // self.step_size)

    def __repr__(self):
        return f"StepLR(step_size={self.step_size}, gamma={self.gamma})"


class ExponentialLR(LRScheduler):
    """Decay by ``gamma`` every epoch (``torch.optim.lr_scheduler.ExponentialLR``)::

        lr(t) = base_lr * gamma ** t
    """

    def __init__(self, optimizer: Optimizer | None = None, gamma: float = 0.9):
        self.gamma = check_real(gamma, "gamma", "ExponentialLR", low=0.0)
        super().__init__(optimizer)

    def get_lr(self, t):
        return self.base_lr * self.gamma ** t

    def __repr__(self):
        return f"ExponentialLR(gamma={self.gamma})"


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` epochs
    (``torch.optim.lr_scheduler.CosineAnnealingLR``), after an optional linear warm-up::

        t <  W:  lr(t) = base_lr * (s + (1 - s) * t / W)                  (warm-up)
        t >= W:  lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * (t - W) / (T_max - W))) / 2

    with ``W = warmup_epochs`` (default 0: no warm-up) and ``s = warmup_start_factor``
    (default 1/3, as ``torch.optim.lr_scheduler.LinearLR``). With a warm-up it equals PyTorch's
    ``SequentialLR([LinearLR(s, total_iters=W), CosineAnnealingLR(T_max - W, eta_min)], [W])``.
    Past ``T_max`` the cosine continues (rises again), as PyTorch's does.
    """

    def __init__(self, optimizer: Optimizer | None = None, T_max: int = 10, eta_min: float = 0.0,
                 warmup_epochs: int = 0, warmup_start_factor: float = 1.0 / 3.0):
        name = "CosineAnnealingLR"
        self.T_max = check_size(T_max, "T_max", name)
        self.eta_min = check_real(eta_min, "eta_min", name, low=0.0)
        self.warmup_epochs = check_size(warmup_epochs, "warmup_epochs", name, minimum=0)
        if self.warmup_epochs >= self.T_max:
            raise ValueError(f"{name}: warmup_epochs ({warmup_epochs}) must be smaller than "
                             f"T_max ({T_max})")
        self.warmup_start_factor = check_real(warmup_start_factor, "warmup_start_factor", name,
                                              low=0.0, high=1.0)
        super().__init__(optimizer)

    def get_lr(self, t):
        W = self.warmup_epochs
        if t < W:
            s = self.warmup_start_factor
            return self.base_lr * (s + (1.0 - s) * t / W)
        phase = math.pi * (t - W) / (self.T_max - W)
        return self.eta_min + (self.base_lr - self.eta_min) * (1.0 + math.cos(phase)) / 2.0

    def __repr__(self):
        extra = f", eta_min={self.eta_min}" if self.eta_min else ""
        if self.warmup_epochs:
            extra += f", warmup_epochs={self.warmup_epochs}, warmup_start_factor={self.warmup_start_factor}"
        return f"CosineAnnealingLR(T_max={self.T_max}{extra})"


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when a monitored value stops improving
    (``torch.optim.lr_scheduler.ReduceLROnPlateau``).

    ``step(value)``: the value improves when (mode ``"min"``)::

        value < best * (1 - threshold)     threshold_mode "rel"
        value < best - threshold           threshold_mode "abs"

    (mode ``"max"``: ``value > best * (1 + threshold)`` / ``best + threshold``). After more
    than ``patience`` epochs without improvement, ``lr = max(lr * factor, min_lr)`` (if that
    changes it by more than ``eps``), then ``cooldown`` epochs pass before counting again.

    As a callback of ``fit`` it reads ``logs[monitor]`` (default ``"val_loss"``: give ``fit``
    validation data, or use ``monitor="loss"``) at the end of every epoch.
    """

    def __init__(self, optimizer: Optimizer | None = None, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8,
                 monitor: str = "val_loss"):
        name = "ReduceLROnPlateau"
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"{name}: monitor must be a log key such as 'val_loss', got {monitor!r}")
        self.mode, self.threshold_mode, self.monitor = mode, threshold_mode, monitor
        self.factor = check_real(factor, "factor", name, low=0.0, high=1.0, high_open=True)
        self.patience = check_size(patience, "patience", name, minimum=0)
        self.threshold = check_real(threshold, "threshold", name, low=0.0)
        self.cooldown = check_size(cooldown, "cooldown", name, minimum=0)
        self.min_lr = check_real(min_lr, "min_lr", name, low=0.0)
        self.eps = check_real(eps, "eps", name, low=0.0)
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: optimizer must be a minimlp Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.lrs: list[float] = []
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _is_better(self, value: float) -> bool:
        th = self.threshold
        if self.mode == "min":
            return value < (self.best * (1.0 - th) if self.threshold_mode == "rel" else self.best - th)
        return value > (self.best * (1.0 + th) if self.threshold_mode == "rel" else self.best + th)

    def step(self, value: float) -> float:
        """Record one epoch's monitored ``value``; returns the (possibly reduced) lr."""
        if self.optimizer is None:
            raise RuntimeError("ReduceLROnPlateau: no optimizer (pass one to the constructor or "
                               "use the schedule as a callback of fit)")
        value = float(value)
        self.last_epoch += 1
        if self._is_better(value):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = self.optimizer.lr
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self.lrs.append(self.optimizer.lr)
        return self.optimizer.lr

    def on_train_begin(self, logs) -> None:
        _check_monitor(self, self.monitor)

    def on_epoch_end(self, epoch, logs) -> None:
        self.step(logs[self.monitor])

    def __repr__(self):
        return (f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor}, patience={self.patience}, "
                f"threshold={self.threshold}, monitor={self.monitor!r})")
