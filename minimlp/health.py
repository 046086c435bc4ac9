"""``HealthMonitor``: per-layer training-health numbers, recorded by ``fit`` every epoch.

What a person checks when a network does not learn, per epoch (means over the batches
measured; ``every=k`` measures one batch in ``k``):

``health/<i>.<param>/grad_norm``
    ``|g|_2``, the norm of the parameter's gradient. Vanishing (tiny in early layers) or
    exploding (huge, growing) gradients show here.
``health/<i>.<param>/update_ratio``
    ``|theta_after - theta_before|_2 / |theta_before|_2`` for weight matrices (2-D): the
    relative size of one optimizer step, whatever the optimizer. Around 1e-3 is healthy;
    1e-2 and above means a too-high learning rate, 1e-5 and below a too-low one.
``health/<i>.ReLU/dead_fraction`` (also LeakyReLU)
    The fraction of the layer's units that were active (``X > 0``) for no sample of the
    whole epoch: dead ReLUs no longer learn.
``health/<i>.Sigmoid/saturated_fraction``, ``health/<i>.Tanh/saturated_fraction``
    The fraction of activations in the flat tails: sigmoid ``|2Y - 1| > s`` (``Y`` within
    ``(1 - s)/2`` of 0 or 1), tanh ``|Y| > s``, with ``s = saturation`` (default 0.99: the
    slope is under 2 % of its maximum there and gradients stall).

``<i>`` is the layer's index in the ``Sequential``. The numbers are read from what training
already holds: the gradients after each step and the activation caches of the training
forward pass (ReLU's mask, Sigmoid's and Tanh's output); the update ratio costs one copy
of each weight matrix per measured batch.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_real, check_size
from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .callbacks import Callback
from .optim import _norm_parts


class HealthMonitor(Callback):
    """A ``fit`` callback recording per-layer gradient norms, update-to-weight ratios, dead
    ReLUs and saturated sigmoids/tanhs (see the module docstring for the definitions).

    Parameters
    ----------
    every : int >= 1
        Measure one batch in ``every`` (1: all). Dead-unit counts use every measured batch.
    saturation : float in (0, 1)
        The threshold ``s`` of the saturated fraction.
    to_history : bool
        Also append the numbers to ``fit``'s ``History`` under ``"health/..."`` keys
        (default ``True``); they are always in ``records``.

    Attributes
    ----------
    records : dict[str, list[float]]
        One value per epoch for each ``"health/..."`` key.

    Example
    -------
    >>> mon = mm.HealthMonitor()                                       # doctest: +SKIP
    >>> hist = net.fit(X, Y, loss=..., optimizer=..., epochs=20, callbacks=[mon])
    >>> print(mon.report())      # flags for the last epoch
    >>> mm.plot.plot_health(hist)
    """

    def __init__(self, every: int = 1, saturation: float = 0.99, to_history: bool = True):
        self.every = check_size(every, "every", "HealthMonitor")
        self.saturation = check_real(saturation, "saturation", "HealthMonitor", low=0.0, high=1.0,
                                     low_open=True, high_open=True)
        self.to_history = bool(to_history)
        self.records: dict[str, list[float]] = {}

    # -- set-up --------------------------------------------------------------------------
    def on_train_begin(self, logs) -> None:
        # Every leaf layer, nested Sequentials included, named by its path ("2.0").
        layers = self.model.named_leaves()
        self._params = []        # (key prefix, Parameter, tracks the update ratio)
        for i, layer in layers:
            for p in layer.parameters():
                self._params.append((f"health/{i}.{p.name}", p, p.value.ndim >= 2))
        self._before = {id(p): np.empty_like(p.value) for _, p, ratio in self._params if ratio}
        self._relus = [(f"health/{i}.{type(l).__name__}", l) for i, l in layers
                       if isinstance(l, (ReLU, LeakyReLU))]
        self._squash = [(f"health/{i}.{type(l).__name__}", l, isinstance(l, Sigmoid))
                        for i, l in layers if isinstance(l, (Sigmoid, Tanh))]

    def on_epoch_begin(self, epoch) -> None:
        self._n = 0
        self._grad = {key: 0.0 for key, _, _ in self._params}
        self._ratio = {key: 0.0 for key, _, r in self._params if r}
        self._ever_active = {key: None for key, _ in self._relus}
        self._sat = {key: [0, 0] for key, _, _ in self._squash}
        self._measure = False

    # -- per batch -----------------------------------------------------------------------
    def on_batch_begin(self, batch) -> None:
        self._measure = (batch - 1) % self.every == 0
        if self._measure:
            for _, p, ratio in self._params:
                if ratio:
                    np.copyto(self._before[id(p)], p.value)

    def on_batch_end(self, batch, logs) -> None:
        if not self._measure:
            return
        self._n += 1
        # Clipping shrank the optimizer's gradients in place: report what backward wrote.
        unclip = 1.0 / getattr(self.optimizer, "grad_scale", 1.0)
        clipped = {id(p) for p in getattr(self.optimizer, "params", ())}
        for key, p, ratio in self._params:
            scale, r = _norm_parts([p.grad], 2.0)   # no overflow for |g| above 1e154
            self._grad[key] += scale * r * (unclip if id(p) in clipped else 1.0)
            if ratio:
                before = self._before[id(p)]
                flat = before.reshape(-1)
                norm_w = _norm(flat)
                np.subtract(p.value, before, out=before)        # the step, in the snapshot
                norm_d = _norm(flat)
                self._ratio[key] += norm_d / norm_w if norm_w > 0 else float("inf")
        for key, layer in self._relus:
            mask = layer.cache
            if mask is None:
                continue
            active = mask.any(axis=0)
            seen = self._ever_active[key]
            self._ever_active[key] = active if seen is None else (seen | active)
        s = self.saturation
        for key, layer, is_sigmoid in self._squash:
            Y = layer.cache
            if Y is None:
                continue
            A = np.abs(2.0 * Y - 1.0) if is_sigmoid else np.abs(Y)
            counts = self._sat[key]
            counts[0] += int(np.count_nonzero(A > s))
            counts[1] += A.size

    # -- per epoch -----------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs) -> None:
        n = max(self._n, 1)
        values = {}
        for key, _, ratio in self._params:
            values[f"{key}/grad_norm"] = self._grad[key] / n
            if ratio:
                values[f"{key}/update_ratio"] = self._ratio[key] / n
        for key, _ in self._relus:
            active = self._ever_active[key]
            values[f"{key}/dead_fraction"] = float("nan") if active is None else 1.0 - float(active.mean())
        for key, _, _ in self._squash:
            sat, total = self._sat[key]
            values[f"{key}/saturated_fraction"] = sat / total if total else float("nan")
        for k, v in values.items():
            self.records.setdefault(k, []).append(v)
            if self.to_history and self.history is not None:
                self.history.history.setdefault(k, []).append(v)

    # -- reading -------------------------------------------------------------------------
    def report(self, dead: float = 0.5, saturated: float = 0.5, high_ratio: float = 1e-2,
               low_ratio: float = 1e-5) -> str:
        """The last epoch's numbers, one line each, with a flag where a value is outside the
        usual healthy range (thresholds are the arguments)."""
        if not self.records:
            return "HealthMonitor: nothing recorded yet (pass it to fit's callbacks)"
        lines = []
        for key, vals in self.records.items():
            v = vals[-1]
            flag = ""
            if key.endswith("/dead_fraction") and v > dead:
                flag = "  <- many dead ReLUs: lower the learning rate or use LeakyReLU/He init"
            elif key.endswith("/saturated_fraction") and v > saturated:
                flag = "  <- saturated: smaller initial weights or inputs, or ReLU"
            elif key.endswith("/update_ratio") and v > high_ratio:
                flag = "  <- large steps: learning rate may be too high"
            elif key.endswith("/update_ratio") and v < low_ratio:
                flag = "  <- tiny steps: learning rate may be too low"
            lines.append(f"{key[len('health/'):]:<28} {v:11.4g}{flag}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"HealthMonitor(every={self.every}, saturation={self.saturation})"


def _norm(a) -> float:
    """``|a|_2`` without overflow or underflow of the squares."""
    scale, r = _norm_parts([a], 2.0)
    return scale * r
