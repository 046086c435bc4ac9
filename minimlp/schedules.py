"""Learning-rate schedules with PyTorch's semantics: ``StepLR``, ``ExponentialLR``,
``LinearLR`` (a warm-up), ``CosineAnnealingLR`` (optional linear warm-up),
``CosineAnnealingWarmRestarts``, ``OneCycleLR``, ``SequentialLR`` and ``ReduceLROnPlateau``.

A schedule changes ``optimizer.lr`` once per epoch. Use it either by hand, as in PyTorch::

    sched = mm.StepLR(opt, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        ...train one epoch...
        sched.step()                    # ReduceLROnPlateau: sched.step(val_loss)

or as a callback of ``fit`` (``callbacks=[sched]``), which steps it at the end of every epoch
(``ReduceLROnPlateau`` with the epoch's ``logs[monitor]``, ``"val_loss"`` by default).

Schedules are *chainable*, as PyTorch's: each step multiplies the optimizer's current rate
(StepLR by ``gamma`` every ``step_size`` epochs, say) instead of setting it from a formula,
so two schedules on one optimizer compose (``ReduceLROnPlateau`` next to ``StepLR`` lowers
the rate) and a rate set by hand between steps is kept. ``base_lr`` is the optimizer's
``initial_lr``: its rate when the first schedule was attached. (``CosineAnnealingWarmRestarts``
and ``OneCycleLR`` compute the rate from ``base_lr`` as PyTorch's do; ``SequentialLR`` resets
it to ``initial_lr`` when built, as PyTorch's.)

State: ``state_dict()``/``load_state_dict()`` on every schedule; an optimizer's
``state_dict()`` holds the state of the schedules attached to it, so ``minimlp.save(model,
path, optimizer=opt)`` and ``ModelCheckpoint`` save them, and a schedule of the same class
and arguments attached to the optimizer that ``minimlp.load(path, with_optimizer=True)``
returns continues the curve exactly. Given no optimizer, a schedule takes ``fit``'s; a new
schedule then starts at ``fit``'s ``initial_epoch`` (it steps that many times first).
``last_epoch`` counts the ``step`` calls so far; ``lrs`` lists the learning rate after each of
them since the schedule was attached, starting with ``t = 0`` (``ReduceLROnPlateau``: after
each step only); ``get_last_lr()`` returns ``[lr]``, the last one, as PyTorch's (a list with
one rate: minimlp optimizers have one parameter group).
"""
from __future__ import annotations

import bisect
import json
import math

from ._checks import check_real, check_size
from .callbacks import Callback, _check_monitor
from .optim import SGD, Adam, Optimizer, RMSprop


def _canonical(config: dict):
    """``config`` as it reads back from JSON (tuples become lists), for comparing."""
    return json.loads(json.dumps(config))


def _check_number(state: dict, key: str, owner: str, low=0.0, integer=False, optional=False):
    value = state.get(key)
    if optional and value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value < math.inf:
        raise ValueError(f"{owner}: the state's {key!r} is {value!r}; expected a finite "
                         f"{'integer' if integer else 'number'} >= {low}")
    return value if integer else float(value)


class LRScheduler(Callback):
    """Base class of the epoch schedules (``torch.optim.lr_scheduler.LRScheduler``).

    ``step()`` adds one to ``last_epoch`` and sets ``optimizer.lr = get_lr()``, which a
    subclass writes from the optimizer's current rate (chainable) or from ``base_lr``.
    Attaching a schedule (in the constructor, or when ``fit`` starts) takes the optimizer's
    ``initial_lr`` as ``base_lr`` and runs ``get_lr()`` once for epoch 0, as PyTorch's
    constructor does (``LinearLR`` then scales the rate by ``start_factor``).
    """

    def __init__(self, optimizer: Optimizer | None = None):
        self.optimizer = self._attached_to = None
        self.last_epoch = 0
        self.base_lr = None
        self.lrs: list[float] = []
        self._last_lr = None
        self._initial = False       # inside the step that attaching runs (PyTorch's _is_initial)
        self._fit_epoch = None      # the fit epoch this schedule last stepped for
        self._restored = False
        if optimizer is not None:
            self._attach(optimizer)

    # -- what subclasses write --------------------------------------------------------
    def get_lr(self) -> float:  # pragma: no cover - abstract
        """The learning rate for epoch ``last_epoch`` (already advanced), from the
        optimizer's current ``lr`` or from ``base_lr``."""
        raise NotImplementedError

    def _config(self) -> dict:
        """The constructor's arguments (other than the optimizer): a saved state is loaded
        only into a schedule built with the same ones."""
        return {}

    def _extra_state(self) -> dict:
        return {}

    def _load_extra(self, state: dict) -> None:
        pass

    # -- attaching ----------------------------------------------------------------------
    def _attach(self, optimizer, owned: bool = False) -> None:
        """Attach to ``optimizer``: take a saved state that it holds for a schedule like
        this one, else start afresh. ``owned``: a part of a ``SequentialLR`` (not registered
        on the optimizer; the SequentialLR saves its state)."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be a minimlp Optimizer, "
                            f"got {type(optimizer).__name__}")
        if self._attached_to is not None and self._attached_to is not optimizer:
            self._attached_to._remove_schedule(self)
        self.optimizer = self._attached_to = optimizer
        self.lrs = []
        self._restored = False
        if owned:
            optimizer._remove_schedule(self)
            if optimizer.initial_lr is None:
                optimizer.initial_lr = optimizer.lr
        else:
            optimizer._add_schedule(self)
            if self._restore_pending():
                return
        self._start()

    def _start(self) -> None:
        """A fresh start (PyTorch's constructor with ``last_epoch=-1``)."""
        self.base_lr = self.optimizer.initial_lr
        self.last_epoch = -1
        self._initial_step()

    def _restore_pending(self) -> bool:
        state = self.optimizer._take_schedule_state(self)
        if state is None:
            return False
        self.load_state_dict(state)
        self._restored = True
        return True

    def _identity(self) -> tuple[str, object]:
        return type(self).__name__, _canonical(self._config())

    # -- stepping -----------------------------------------------------------------------
    def _initial_step(self) -> None:
        self._initial = True
        try:
            self._advance()
        finally:
            self._initial = False

    def _advance(self) -> None:
        self.last_epoch += 1
        self._set(self.get_lr())

    def _restart_at_zero(self) -> None:
        """What ``SequentialLR`` runs at a milestone (PyTorch's ``_update_lr(0)``): epoch 0
        again, at the closed form's epoch-0 value where the schedule has one (the only epoch
        at which torch uses it here)."""
        self.last_epoch = 0
        at_zero = getattr(self, "_lr_at_zero", None)
        self._set(at_zero() if at_zero is not None else self.get_lr())

    def _set(self, lr: float) -> None:
        self.optimizer.lr = lr
        self._last_lr = self.optimizer.lr
        self.lrs.append(self._last_lr)

    def _need_optimizer(self) -> None:
        if self.optimizer is None:
            raise RuntimeError(f"{type(self).__name__}: no optimizer (pass one to the "
                               "constructor or use the schedule as a callback of fit)")

    def step(self) -> float:
        """Advance one epoch and set the optimizer's learning rate; returns it."""
        self._need_optimizer()
        self._advance()
        return self.optimizer.lr

    def get_last_lr(self) -> list[float]:
        """``[lr]``: the learning rate this schedule set last (PyTorch's ``get_last_lr()``,
        one entry per parameter group; a minimlp optimizer has one)."""
        self._need_optimizer()
        return [self._last_lr]

    # -- state --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"type", "config", "last_epoch", "base_lr", "last_lr", ...}``, JSON-ready: what
        ``load_state_dict`` needs to continue exactly (the optimizer's own lr is in its state)."""
        return {"type": type(self).__name__, "config": self._config(),
                "last_epoch": self.last_epoch, "base_lr": self.base_lr,
                "last_lr": self._last_lr, **self._extra_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned, saved by a schedule of this class built with
        the same arguments (else ValueError); the optimizer's ``lr`` is not changed."""
        name = type(self).__name__
        if not isinstance(state, dict) or state.get("type") != name:
            got = state.get("type") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{name}: the state is for {got!r}, not {name}")
        mine = _canonical(self._config())
        if _canonical(state.get("config")) != mine:
            raise ValueError(f"{name}: the state was saved with the arguments "
                             f"{state.get('config')!r}, this schedule has {mine!r}; build it with "
                             "the same arguments to load this state")
        # -1: not started (torch's too), e.g. a SequentialLR's later schedules before their milestone
        last_epoch = _check_number(state, "last_epoch", name, low=-1, integer=True)
        base_lr = _check_number(state, "base_lr", name, optional=True)
        last_lr = _check_number(state, "last_lr", name, optional=True)
        self._load_extra(state)
        self.last_epoch, self.base_lr, self._last_lr = last_epoch, base_lr, last_lr

    # -- as a callback of fit -------------------------------------------------------------
    def on_train_begin(self, logs) -> None:
        # fit sets self.optimizer to its own optimizer just before this hook; a schedule
        # attached to that same optimizer keeps its state (and may continue over several fits).
        self._fit_epoch = None
        if self._attached_to is not self.optimizer:
            self._attach(self.optimizer)
            start = int(self.params.get("initial_epoch", 0) or 0)
            if start and not self._restored:
                # a new schedule in fit(initial_epoch=k): continue the schedule at epoch k
                for _ in range(start):
                    self._advance()

    def on_epoch_end(self, epoch, logs) -> None:
        self._end_epoch(epoch, logs)

    def _end_epoch(self, epoch, logs) -> None:
        """Step once for fit's ``epoch`` (again: nothing). ModelCheckpoint calls it before
        saving, so the file holds the schedule's state after this epoch's step whatever
        the order of the callbacks."""
        if self._fit_epoch == epoch:
            return
        self._fit_epoch = epoch
        self._step_for_fit(logs)

    def _step_for_fit(self, logs) -> None:
        self.step()

    def _args_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._config().items())

    def __repr__(self):
        return f"{type(self).__name__}({self._args_repr()})"


def _cosine_next(lr: float, base_lr: float, eta_min: float, t: int, T: int) -> float:
    """PyTorch's recursive cosine step to epoch ``t`` of a period ``T`` (chainable):
    ``eta_min + (lr - eta_min) * (1 + cos(pi t / T)) / (1 + cos(pi (t - 1) / T))``, with the
    step out of the trough (where the ratio is 0/0) ``lr + (base_lr - eta_min)(1 - cos(pi/T))/2``."""
    if (t - 1 - T) % (2 * T) == 0:
        return lr + (base_lr - eta_min) * (1.0 - math.cos(math.pi / T)) / 2.0
    return ((1.0 + math.cos(math.pi * t / T)) / (1.0 + math.cos(math.pi * (t - 1) / T))
            * (lr - eta_min) + eta_min)


def _linear_next(lr: float, t: int, start: float, end: float, total: int) -> float:
    """PyTorch's chainable LinearLR step to epoch ``t >= 1``: the factor goes from
    ``start + (end - start)(t - 1)/total`` to ``start + (end - start) t/total``."""
    if t > total:
        return lr
    return lr * (1.0 + (end - start) / (total * start + (t - 1) * (end - start)))


class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` epochs (``torch.optim.lr_scheduler.StepLR``)::

        lr_t = lr_{t-1} * gamma   if t is a multiple of step_size, else lr_{t-1}
             (= base_lr * gamma ** floor(t / step_size) when nothing else changes lr)
    """

    def __init__(self, optimizer: Optimizer | None = None, step_size: int = 10, gamma: float = 0.1):
        self.step_size = check_size(step_size, "step_size", "StepLR")
        self.gamma = check_real(gamma, "gamma", "StepLR", low=0.0)
        super().__init__(optimizer)

    def get_lr(self):
        lr = self.optimizer.lr
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return lr
        return lr * self.gamma

    def _lr_at_zero(self):
        return self.base_lr                  # base_lr * gamma ** (0 // step_size)

    def _config(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


class ExponentialLR(LRScheduler):
    """Decay by ``gamma`` every epoch (``torch.optim.lr_scheduler.ExponentialLR``)::

        lr_t = lr_{t-1} * gamma        (= base_lr * gamma ** t)
    """

    def __init__(self, optimizer: Optimizer | None = None, gamma: float = 0.9):
        self.gamma = check_real(gamma, "gamma", "ExponentialLR", low=0.0)
        super().__init__(optimizer)

    def get_lr(self):
        lr = self.optimizer.lr
        return lr if self._initial else lr * self.gamma

    def _lr_at_zero(self):
        return self.base_lr                  # base_lr * gamma ** 0

    def _config(self):
        return {"gamma": self.gamma}


class LinearLR(LRScheduler):
    """Scale the rate by a factor that goes linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs, then stays (``torch.optim.lr_scheduler.LinearLR``; a warm-up
    with the defaults)::

        f(t) = start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters
        lr_0 = lr * start_factor;   lr_t = lr_{t-1} * f(t) / f(t - 1)   (= base_lr * f(t))

    Parameters: ``0 < start_factor <= 1`` (default 1/3), ``0 <= end_factor <= 1`` (default
    1), ``total_iters >= 1`` (default 5).
    """

    def __init__(self, optimizer: Optimizer | None = None, start_factor: float = 1.0 / 3.0,
                 end_factor: float = 1.0, total_iters: int = 5):
        name = "LinearLR"
        self.start_factor = check_real(start_factor, "start_factor", name, low=0.0, high=1.0,
                                       low_open=True)
        self.end_factor = check_real(end_factor, "end_factor", name, low=0.0, high=1.0)
        self.total_iters = check_size(total_iters, "total_iters", name)
        super().__init__(optimizer)

    def get_lr(self):
        lr = self.optimizer.lr
        if self.last_epoch == 0:
            return lr * self.start_factor
        if self._initial:
            return lr
        return _linear_next(lr, self.last_epoch, self.start_factor, self.end_factor, self.total_iters)

    def _lr_at_zero(self):
        return self.base_lr * self.start_factor

    def _config(self):
        return {"start_factor": self.start_factor, "end_factor": self.end_factor,
                "total_iters": self.total_iters}


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` epochs
    (``torch.optim.lr_scheduler.CosineAnnealingLR``), after an optional linear warm-up::

        t <  W:  lr(t) = base_lr * (s + (1 - s) * t / W)                  (warm-up)
        t >= W:  lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * (t - W) / (T_max - W))) / 2

    with ``W = warmup_epochs`` (default 0: no warm-up) and ``s = warmup_start_factor``
    (default 1/3, as ``LinearLR``). Chainable as PyTorch's: each step applies the ratio
    ``(1 + cos(pi t'/T)) / (1 + cos(pi (t' - 1)/T))`` to ``lr - eta_min`` (PyTorch's
    recursion), which equals the formula above when nothing else changes the rate. With a
    warm-up it is PyTorch's ``SequentialLR([LinearLR(s, total_iters=W),
    CosineAnnealingLR(T_max - W, eta_min)], [W])``. Past ``T_max`` the cosine continues
    (rises again), as PyTorch's does.
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
                                              low=0.0, high=1.0, low_open=True)
        super().__init__(optimizer)

    def get_lr(self):
        t, W, lr = self.last_epoch, self.warmup_epochs, self.optimizer.lr
        if W == 0:
            return lr if self._initial else _cosine_next(lr, self.base_lr, self.eta_min, t, self.T_max)
        s = self.warmup_start_factor
        if t == 0:        # SequentialLR's start: initial_lr, then LinearLR's first factor
            return self.base_lr * s
        if t < W:
            return _linear_next(lr, t, s, 1.0, W)
        if t == W:        # the milestone: the cosine starts at its closed form for epoch 0
            return self.eta_min + (self.base_lr - self.eta_min) * (1.0 + math.cos(0.0)) / 2.0
        return _cosine_next(lr, self.base_lr, self.eta_min, t - W, self.T_max - W)

    def _lr_at_zero(self):
        if self.warmup_epochs:               # the warm-up's start
            return self.base_lr * self.warmup_start_factor
        return self.eta_min + (self.base_lr - self.eta_min) * (1.0 + math.cos(0.0)) / 2.0   # torch's rounding

    def _config(self):
        return {"T_max": self.T_max, "eta_min": self.eta_min, "warmup_epochs": self.warmup_epochs,
                "warmup_start_factor": self.warmup_start_factor}

    def _args_repr(self):
        extra = f", eta_min={self.eta_min}" if self.eta_min else ""
        if self.warmup_epochs:
            extra += f", warmup_epochs={self.warmup_epochs}, warmup_start_factor={self.warmup_start_factor}"
        return f"T_max={self.T_max}{extra}"


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing with warm restarts (SGDR; ``torch.optim.lr_scheduler.
    CosineAnnealingWarmRestarts``)::

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    ``T_cur`` counts the epochs since the last restart; a restart comes when it reaches
    ``T_i`` (``T_cur = 0``, back to ``base_lr``), and ``T_i`` starts at ``T_0`` and is
    multiplied by ``T_mult`` at every restart. ``step(epoch)`` with a float epoch (e.g.
    ``epoch + batch / batches``) sets the position directly, as PyTorch's.
    Parameters: ``T_0 >= 1`` (required), ``T_mult >= 1`` (integer, default 1), ``eta_min >= 0``.
    Not chainable (PyTorch's is not either): the rate comes from ``base_lr``.
    """

    def __init__(self, optimizer: Optimizer | None = None, T_0: int | None = None,
                 T_mult: int = 1, eta_min: float = 0.0):
        name = "CosineAnnealingWarmRestarts"
        if T_0 is None:
            raise TypeError(f"{name}: T_0 (the epochs until the first restart) is required")
        self.T_0 = check_size(T_0, "T_0", name)
        self.T_mult = check_size(T_mult, "T_mult", name)
        self.eta_min = check_real(eta_min, "eta_min", name, low=0.0)
        self.T_i, self.T_cur = self.T_0, -1
        super().__init__(optimizer)

    def _advance(self, epoch=None) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            self.last_epoch += 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur -= self.T_i
                self.T_i *= self.T_mult
        else:
            T_0, m = self.T_0, self.T_mult
            if epoch >= T_0:
                if m == 1:
                    self.T_cur = epoch % T_0
                else:
                    n = int(math.log(epoch / T_0 * (m - 1) + 1, m))
                    self.T_cur = epoch - T_0 * (m ** n - 1) / (m - 1)
                    self.T_i = T_0 * m ** n
            else:
                self.T_i, self.T_cur = T_0, epoch
            self.last_epoch = math.floor(epoch)
        self._set(self.get_lr())

    def step(self, epoch: float | None = None) -> float:
        """Advance one epoch, or go to ``epoch`` (a float >= 0) when given; returns the lr."""
        self._need_optimizer()
        if epoch is not None:
            epoch = check_real(epoch, "epoch", "CosineAnnealingWarmRestarts.step", low=0.0)
        self._advance(epoch)
        return self.optimizer.lr

    def get_lr(self):
        return (self.eta_min + (self.base_lr - self.eta_min)
                * (1.0 + math.cos(math.pi * self.T_cur / self.T_i)) / 2.0)

    def _config(self):
        return {"T_0": self.T_0, "T_mult": self.T_mult, "eta_min": self.eta_min}

    def _extra_state(self):
        return {"T_i": self.T_i, "T_cur": self.T_cur}

    def _load_extra(self, state):
        name = type(self).__name__
        T_i = _check_number(state, "T_i", name, low=1, integer=True)
        T_cur = _check_number(state, "T_cur", name, low=0)
        self.T_i, self.T_cur = T_i, T_cur if not float(T_cur).is_integer() else int(T_cur)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2017; ``torch.optim.lr_scheduler.OneCycleLR``):
    from ``initial = max_lr / div_factor`` up to ``max_lr`` over the first
    ``pct_start * total_steps`` steps, then down to ``min = initial / final_div_factor``::

        phases (two):   [0, pct_start*T - 1]: initial -> max_lr;  [.., T - 1]: max_lr -> min
        three_phase:    initial -> max_lr -> initial (symmetric), then initial -> min
        lr = anneal(start, end, pct),  pct = (t - phase start) / (phase end - phase start)
        anneal "cos": end + (start - end) * (1 + cos(pi * pct)) / 2;  "linear": start + (end - start) * pct

    With ``cycle_momentum`` (default) the momentum goes the other way, from ``max_momentum``
    to ``base_momentum`` and back (SGD's or RMSprop's ``momentum``, which must be > 0, or
    Adam's and AdamW's ``beta1``). ``total_steps`` or ``epochs * steps_per_epoch`` sets
    ``T``; stepping past ``T`` raises (at ``T`` itself the linear anneal, which PyTorch
    extrapolates to a negative rate, stops at 0). Not chainable (PyTorch's is not either); it sets the
    optimizer's ``initial_lr`` to ``initial``. As a callback of ``fit`` it steps once per
    epoch (``total_steps = epochs``); to step it per batch, call ``step()`` from a callback's
    ``on_batch_end``.
    """

    def __init__(self, optimizer: Optimizer | None = None, max_lr: float | None = None,
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float = 0.85, max_momentum: float = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False):
        name = "OneCycleLR"
        if max_lr is None:
            raise TypeError(f"{name}: max_lr (the peak learning rate) is required")
        self.max_lr = check_real(max_lr, "max_lr", name, low=0.0)
        if total_steps is not None:
            self.total_steps = check_size(total_steps, "total_steps", name)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (check_size(epochs, "epochs", name)
                                * check_size(steps_per_epoch, "steps_per_epoch", name))
        else:
            raise ValueError(f"{name}: give total_steps, or epochs and steps_per_epoch "
                             f"(got total_steps={total_steps}, epochs={epochs}, "
                             f"steps_per_epoch={steps_per_epoch})")
        self._given = {"total_steps": total_steps, "epochs": epochs, "steps_per_epoch": steps_per_epoch}
        self.pct_start = check_real(pct_start, "pct_start", name, low=0.0, high=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        for flag, value in (("cycle_momentum", cycle_momentum), ("three_phase", three_phase)):
            if not isinstance(value, bool):
                raise TypeError(f"{name}: {flag} must be True or False, got {value!r}")
        self.cycle_momentum, self.three_phase = cycle_momentum, three_phase
        self.base_momentum = check_real(base_momentum, "base_momentum", name, low=0.0, high=1.0,
                                        high_open=True)
        self.max_momentum = check_real(max_momentum, "max_momentum", name, low=0.0, high=1.0,
                                       high_open=True)
        self.div_factor = check_real(div_factor, "div_factor", name, low=0.0, low_open=True)
        self.final_div_factor = check_real(final_div_factor, "final_div_factor", name, low=0.0,
                                           low_open=True)
        T, p = self.total_steps, self.pct_start
        if three_phase:
            self._phases = [(float(p * T) - 1, "initial", "max", "max_m", "base_m"),
                            (float(2 * p * T) - 2, "max", "initial", "base_m", "max_m"),
                            (T - 1, "initial", "min", "max_m", "max_m")]
        else:
            self._phases = [(float(p * T) - 1, "initial", "max", "max_m", "base_m"),
                            (T - 1, "max", "min", "base_m", "max_m")]
        self.initial_lr = self.max_lr / self.div_factor
        self.min_lr = self.initial_lr / self.final_div_factor
        self._set_momentum = None
        super().__init__(optimizer)

    def _start(self):
        opt = self.optimizer
        if self.cycle_momentum:
            self._set_momentum = _momentum_setter(opt)
            self._set_momentum(self.max_momentum)
        opt.initial_lr = self.initial_lr
        super()._start()

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if self.cycle_momentum:
            self._set_momentum = _momentum_setter(self.optimizer)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times; total_steps is "
                             f"{self.total_steps}")
        values = {"initial": self.initial_lr, "max": self.max_lr, "min": self.min_lr,
                  "max_m": self.max_momentum, "base_m": self.base_momentum}
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
            if t <= end or i == len(self._phases) - 1:
                pct = (t - start) / (end - start)
                if self._set_momentum is not None:
                    self._set_momentum(self._anneal(values[m0], values[m1], pct))
                # At t = total_steps the linear anneal runs past its end (pct > 1) to a
                # negative rate in PyTorch; a minimlp rate is >= 0, so it stops at 0.
                return max(self._anneal(values[lr0], values[lr1], pct), 0.0)
            start = end

    def on_train_begin(self, logs):
        super().on_train_begin(logs)
        left = self.total_steps - self.last_epoch
        epochs = int(self.params.get("epochs", 0)) - int(self.params.get("initial_epoch", 0) or 0)
        if epochs > left:
            raise ValueError(f"OneCycleLR: fit runs {epochs} more epochs and steps the schedule "
                             f"once per epoch, but only {left} of its total_steps="
                             f"{self.total_steps} are left; build it with total_steps="
                             f"{self.last_epoch + epochs}")

    def _config(self):
        return {"max_lr": self.max_lr, **self._given, "pct_start": self.pct_start,
                "anneal_strategy": self.anneal_strategy, "cycle_momentum": self.cycle_momentum,
                "base_momentum": self.base_momentum, "max_momentum": self.max_momentum,
                "div_factor": self.div_factor, "final_div_factor": self.final_div_factor,
                "three_phase": self.three_phase}

    def _args_repr(self):
        return f"max_lr={self.max_lr}, total_steps={self.total_steps}"


def _momentum_setter(opt: Optimizer):
    """How OneCycleLR sets ``opt``'s momentum: SGD's or RMSprop's ``momentum`` (> 0), or
    Adam's and AdamW's ``beta1``."""
    if isinstance(opt, Adam):
        def set_beta1(m, opt=opt):
            opt.betas = (m, opt.betas[1])
        return set_beta1
    if isinstance(opt, (SGD, RMSprop)) and opt.momentum > 0:
        return lambda m: opt._set_cycled("momentum", m)
    raise ValueError(f"OneCycleLR: cycle_momentum=True needs an optimizer with a momentum to "
                     f"cycle: SGD or RMSprop with momentum > 0, Adam or AdamW; got {opt!r}. "
                     "Build it with momentum=0.9, say, or pass cycle_momentum=False")


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the epochs in ``milestones``
    (``torch.optim.lr_scheduler.SequentialLR``)::

        SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, T_max=45)],
                     milestones=[5])      # 5 epochs of warm-up, then cosine

    When built it resets the rate to the optimizer's ``initial_lr`` and starts the first
    schedule at epoch 0; schedule ``k`` runs from epoch ``milestones[k-1]``, where it starts
    at its own epoch 0 (from its closed form: ``base_lr * start_factor`` for LinearLR,
    ``base_lr`` for the cosine). The schedules may be built without an optimizer (as
    callbacks are); they then take this one's. ``ReduceLROnPlateau`` and nested
    ``SequentialLR`` are refused.
    """

    def __init__(self, optimizer: Optimizer | None = None, schedulers=(), milestones=()):
        name = "SequentialLR"
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError(f"{name}: expects at least one schedule, got none")
        for i, s in enumerate(schedulers):
            if isinstance(s, (ReduceLROnPlateau, SequentialLR)) or not isinstance(s, LRScheduler):
                raise TypeError(f"{name}: schedulers[{i}] is a {type(s).__name__}; expected an "
                                "epoch schedule (not ReduceLROnPlateau, which needs a value "
                                "per step, nor a SequentialLR)")
            if any(s is o for o in schedulers[:i]):
                raise ValueError(f"{name}: schedulers[{i}] appears twice")
            if optimizer is not None and s.optimizer is not None and s.optimizer is not optimizer:
                raise ValueError(f"{name}: schedulers[{i}] ({s!r}) belongs to another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{name}: expects one milestone fewer than schedules, got "
                             f"{len(schedulers)} schedules and {len(milestones)} milestones")
        for i, m in enumerate(milestones):
            check_size(m, f"milestones[{i}]", name)
            if i and m <= milestones[i - 1]:
                raise ValueError(f"{name}: milestones must increase, got {milestones}")
        self._schedulers, self._milestones = schedulers, milestones
        super().__init__(optimizer)

    @property
    def schedulers(self) -> list[LRScheduler]:
        return list(self._schedulers)

    @property
    def milestones(self) -> list[int]:
        return list(self._milestones)

    def _attach(self, optimizer, owned=False):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"SequentialLR: optimizer must be a minimlp Optimizer, got "
                            f"{type(optimizer).__name__}")
        kept = optimizer.lr, optimizer.initial_lr
        for i, s in enumerate(self._schedulers):
            if s._attached_to is not optimizer:
                s._attach(optimizer, owned=True)     # built now, as PyTorch's are before this
            else:
                optimizer._remove_schedule(s)        # this one saves and restores its state
        super()._attach(optimizer, owned)
        if self._restored:   # undo the parts' fresh starts (also of parts built before this)
            optimizer.lr = kept[0] if self._last_lr is None else self._last_lr
            optimizer.initial_lr = kept[1]

    def _start(self):
        opt = self.optimizer
        self.base_lr = opt.initial_lr
        self.last_epoch = 0
        opt.lr = opt.initial_lr
        for s in self._schedulers:                   # undo the step each one's start took
            s.last_epoch -= 1
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first._last_lr
        self.lrs.append(self._last_lr)

    def _advance(self):
        self.last_epoch += 1
        i = bisect.bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            s._restart_at_zero()
        else:
            s._advance()
        self._last_lr = s._last_lr
        self.lrs.append(self._last_lr)

    def _config(self):
        return {"schedulers": [{"type": type(s).__name__, "config": s._config()}
                               for s in self._schedulers], "milestones": self._milestones}

    def _extra_state(self):
        return {"schedulers": [s.state_dict() for s in self._schedulers]}

    def _load_extra(self, state):
        states = state.get("schedulers")
        if not isinstance(states, list) or len(states) != len(self._schedulers):
            raise ValueError("SequentialLR: the state's 'schedulers' must list one state per schedule")
        for s, st in zip(self._schedulers, states):
            s.load_state_dict(st)

    def _args_repr(self):
        return f"schedulers={self._schedulers!r}, milestones={self._milestones}"


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a monitored value stops improving
    (``torch.optim.lr_scheduler.ReduceLROnPlateau``).

    ``step(value)``: the value improves when (mode ``"min"``)::

        value < best * (1 - threshold)     threshold_mode "rel"
        value < best - threshold           threshold_mode "abs"

    (mode ``"max"``: ``value > best * (1 + threshold)`` / ``best + threshold``). After more
    than ``patience`` epochs without improvement, ``lr = max(lr * factor, min_lr)`` (if that
    changes it by more than ``eps``), then ``cooldown`` epochs pass before counting again.
    It multiplies the optimizer's current rate, so it composes with the other schedules.

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
        self._reset()
        super().__init__(optimizer)

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _start(self):
        self._reset()
        self._last_lr = self.optimizer.lr

    def _is_better(self, value: float) -> bool:
        th = self.threshold
        if self.mode == "min":
            return value < (self.best * (1.0 - th) if self.threshold_mode == "rel" else self.best - th)
        return value > (self.best * (1.0 + th) if self.threshold_mode == "rel" else self.best + th)

    def step(self, value: float) -> float:
        """Record one epoch's monitored ``value``; returns the (possibly reduced) lr."""
        self._need_optimizer()
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
        self._last_lr = self.optimizer.lr
        self.lrs.append(self._last_lr)
        return self.optimizer.lr

    def on_train_begin(self, logs) -> None:
        _check_monitor(self, self.monitor)
        self._fit_epoch = None
        if self._attached_to is not self.optimizer:
            self._attach(self.optimizer)

    def _step_for_fit(self, logs) -> None:
        self.step(logs[self.monitor])

    def _config(self):
        return {"mode": self.mode, "factor": self.factor, "patience": self.patience,
                "threshold": self.threshold, "threshold_mode": self.threshold_mode,
                "cooldown": self.cooldown, "min_lr": self.min_lr, "eps": self.eps,
                "monitor": self.monitor}

    def _extra_state(self):
        return {"best": self.best, "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter}

    def _load_extra(self, state):
        name = type(self).__name__
        best = state.get("best")
        if isinstance(best, bool) or not isinstance(best, (int, float)) or math.isnan(best):
            raise ValueError(f"{name}: the state's 'best' is {best!r}; expected a number")
        self.num_bad_epochs = _check_number(state, "num_bad_epochs", name, low=0, integer=True)
        self.cooldown_counter = _check_number(state, "cooldown_counter", name, low=0, integer=True)
        self.best = float(best)

    def _args_repr(self):
        return (f"mode={self.mode!r}, factor={self.factor}, patience={self.patience}, "
                f"threshold={self.threshold}, monitor={self.monitor!r}")
