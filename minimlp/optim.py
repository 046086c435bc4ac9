"""Optimizers: ``SGD`` (momentum, Nesterov, weight decay) and ``Adam``, as PyTorch defines them.

An optimizer holds a list of ``Parameter`` objects (any subset of a model's: that is how
parameters are frozen) and updates their ``value`` arrays in place from their ``grad``
arrays. Per-parameter state and scratch arrays are allocated once, in the constructor, so a
``step`` allocates nothing.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_real
from .layer import Parameter


class Optimizer:
    """Base class: holds the parameters; a subclass writes ``_update(i, p)`` for one of them."""

    def __init__(self, params, lr: float):
        name = type(self).__name__
        if isinstance(params, Parameter):
            params = [params]
        try:
            params = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be a list of Parameter objects, "
                            f"got {type(params).__name__}") from None
        if not params:
            raise ValueError(f"{name}: got an empty parameter list (nothing to optimize)")
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: params[{i}] is a {type(p).__name__}, not a Parameter "
                                "(pass model.parameters())")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears more than once in params")
        self.params = params
        self.lr = lr
        self.steps = 0  # number of step() calls so far
        self._scratch = [np.empty_like(p.value) for p in params]

    @property
    def lr(self) -> float:
        """Learning rate (>= 0); may be changed between steps (schedules do)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_real(value, "lr (learning rate)", type(self).__name__, low=0.0)

    def step(self) -> None:
        """Update every parameter in place from its ``grad``."""
        self.steps += 1
        for i, p in enumerate(self.params):
            self._update(i, p)

    def zero_grad(self) -> None:
        """Set every gradient to 0 (optional: each ``backward`` overwrites gradients)."""
        for p in self.params:
            p.grad.fill(0)

    def _update(self, i: int, p: Parameter) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _decayed_grad(p: Parameter, weight_decay: float, out: np.ndarray) -> np.ndarray:
        """``g = grad + weight_decay * value`` in ``out`` (the grad itself when weight_decay is 0)."""
        if not weight_decay:
            return p.grad
        g = np.multiply(p.value, weight_decay, out=out)
        g += p.grad
        return g

    # -- state, for saving and resuming -------------------------------------------------
    _state_names: tuple[str, ...] = ()

    def state_dict(self) -> dict:
        """Hyperparameters, the step count and per-parameter state arrays (copies)."""
        state = {"type": type(self).__name__, "steps": self.steps, "hyper": self.hyperparameters()}
        for name in self._state_names:
            state[name] = [a.copy() for a in getattr(self, name)]
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned (same parameter shapes, in the same order)."""
        if state.get("type") != type(self).__name__:
            raise ValueError(f"{type(self).__name__}: state is for {state.get('type')!r}")
        for name in self._state_names:
            arrays = state[name]
            mine = getattr(self, name)
            if len(arrays) != len(mine) or any(a.shape != b.shape for a, b in zip(arrays, mine)):
                raise ValueError(f"{type(self).__name__}: state {name!r} does not fit the parameters")
        for name in self._state_names:
            for dst, src in zip(getattr(self, name), state[name]):
                dst[...] = src
        self.steps = int(state["steps"])
        for k, v in state.get("hyper", {}).items():
            setattr(self, k, v)

    def hyperparameters(self) -> dict:
        return {"lr": self.lr}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

    PyTorch's update (``torch.optim.SGD``, dampening 0), for each parameter ``theta``::

        g = grad + weight_decay * theta
        b = momentum * b + g                  (b starts at 0, so b_1 = g)
        g = g + momentum * b   if nesterov  else  b      (when momentum > 0)
        theta = theta - lr * g

    Parameters: ``lr >= 0``; ``0 <= momentum < 1``; ``nesterov`` needs ``momentum > 0``;
    ``weight_decay >= 0`` (L2 penalty ``weight_decay/2 * |theta|^2`` added to the loss).
    """

    _state_names = ("_buf",)

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = check_real(momentum, "momentum", "SGD", low=0.0, high=1.0, high_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", "SGD", low=0.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True requires momentum > 0")
        self.nesterov = nesterov
        self._buf = [np.zeros_like(p.value) for p in self.params] if self.momentum else []
        self._scratch2 = [np.empty_like(p.value) for p in self.params] if nesterov else []

    def _update(self, i, p):
        g = self._decayed_grad(p, self.weight_decay, self._scratch[i])
        mu = self.momentum
        if mu:
            b = self._buf[i]
            b *= mu
            b += g
            if self.nesterov:
                g = np.add(g, np.multiply(b, mu, out=self._scratch2[i]), out=self._scratch2[i])
            else:
                g = b
        step = np.multiply(g, self.lr, out=self._scratch[i])
        p.value -= step

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) in PyTorch's form (``torch.optim.Adam``, L2 weight decay).

    For each parameter ``theta`` at step ``t = 1, 2, ...``::

        g = grad + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        m_hat = m / (1 - beta1^t),   v_hat = v / (1 - beta2^t)
        theta = theta - lr * m_hat / (sqrt(v_hat) + eps)

    Parameters: ``lr >= 0``; ``betas`` each in [0, 1); ``eps > 0``; ``weight_decay >= 0``.
    """

    _state_names = ("_m", "_v")

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}") from None
        self.betas = (check_real(b1, "beta1", "Adam", low=0.0, high=1.0, high_open=True),
                      check_real(b2, "beta2", "Adam", low=0.0, high=1.0, high_open=True))
        self.eps = check_real(eps, "eps", "Adam", low=0.0, low_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", "Adam", low=0.0)
        self._m = [np.zeros_like(p.value) for p in self.params]
        self._v = [np.zeros_like(p.value) for p in self.params]
        self._g = [np.empty_like(p.value) for p in self.params] if self.weight_decay else []

    def _update(self, i, p):
        b1, b2 = self.betas
        t = self.steps
        g = self._decayed_grad(p, self.weight_decay, self._g[i] if self._g else None)
        m, v, tmp = self._m[i], self._v[i], self._scratch[i]
        m *= b1
        m += np.multiply(g, 1.0 - b1, out=tmp)
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        np.sqrt(v, out=tmp)                   # sqrt(v_hat) + eps = sqrt(v)/sqrt(1-b2^t) + eps
        tmp *= 1.0 / np.sqrt(1.0 - b2 ** t)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr / (1.0 - b1 ** t)
        p.value -= tmp

    def hyperparameters(self):
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps,
                "weight_decay": self.weight_decay}
