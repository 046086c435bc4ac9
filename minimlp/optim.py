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

#: Elements per chunk of plain SGD's update through its small scratch (see SGD.__init__).
_CHUNK = 65536


class _Fixed:
    """A hyperparameter fixed at construction, because it chose the optimizer's state
    buffers and update rule there (SGD's momentum, say): setting it later raises instead of
    being silently ignored. Build a new optimizer to change it."""

    def __set_name__(self, owner, name: str) -> None:
        self.name, self.slot = name, "_fixed_" + name

    def __get__(self, obj, objtype=None):
        return self if obj is None else getattr(obj, self.slot)

    def __set__(self, obj, value) -> None:
        if hasattr(obj, self.slot):
            raise AttributeError(f"{type(obj).__name__}: {self.name} is fixed when the optimizer "
                                 f"is built (it chose its state and update rule); build a new "
                                 f"{type(obj).__name__}(..., {self.name}={value!r})")
        setattr(obj, self.slot, value)


class Optimizer:
    """Base class: holds the parameters; a subclass writes ``_update(i, p)`` for one of them."""

    def __init__(self, params, lr: float, clip_norm: float | None = None):
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
            if p.value.dtype.kind != "f" or p.grad.shape != p.value.shape:
                raise TypeError(f"{name}: params[{i}] ({p!r}) must hold a float array with a "
                                f"gradient of the same shape, got value dtype {p.value.dtype} "
                                f"and grad shape {p.grad.shape}")
        if len({id(p) for p in params}) != len(params):
            seen = {}
            for i, p in enumerate(params):
                j = seen.setdefault(id(p), i)
                if j != i:
                    raise ValueError(f"{name}: a parameter appears more than once in params: "
                                     f"params[{i}] ({p!r}) is params[{j}] again")
        self.params = params
        self.lr = lr
        self.steps = 0  # number of step() calls so far
        self.clip_norm = clip_norm
        self._scratch = [np.empty_like(p.value) for p in params]

    @property
    def lr(self) -> float:
        """Learning rate (>= 0); may be changed between steps (schedules do)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_real(value, "lr (learning rate)", type(self).__name__, low=0.0)

    @property
    def clip_norm(self) -> float | None:
        """``None`` (default) or ``max_norm > 0``: ``step`` first rescales the gradients so
        that their global norm is at most ``max_norm`` (see ``clip_grad_norm``)."""
        return self._clip_norm

    @clip_norm.setter
    def clip_norm(self, value) -> None:
        self._clip_norm = None if value is None else check_real(
            value, "clip_norm", type(self).__name__, low=0.0, low_open=True)

    def step(self) -> None:
        """Update every parameter in place from its ``grad``."""
        self._clip()
        self.steps += 1
        for i, p in enumerate(self.params):
            self._update(i, p)

    #: The factor the last ``step`` multiplied the gradients by when clipping (1.0 if not):
    #: ``grad / grad_scale`` is the gradient backward wrote (HealthMonitor reports that).
    grad_scale = 1.0

    def _clip(self) -> None:
        if self._clip_norm is not None:
            total = clip_grad_norm(self.params, self._clip_norm)
            self.grad_scale = min(1.0, self._clip_norm / (total + 1e-6))

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

    #: Hyperparameters that a loaded state may change; the others shape the state and the
    #: update rule chosen in the constructor, so they must already match.
    _settable = ("lr", "clip_norm")

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned (same parameter shapes, in the same order).

        ``lr`` and ``clip_norm`` are taken from the state; every other hyperparameter must
        equal this optimizer's own (build it with the same arguments), or ValueError.
        """
        name = type(self).__name__
        if state.get("type") != name:
            raise ValueError(f"{name}: state is for {state.get('type')!r}")
        mine = self.hyperparameters()
        for k, v in state.get("hyper", {}).items():
            same = (tuple(v) == tuple(mine.get(k))) if isinstance(v, (list, tuple)) else v == mine.get(k)
            if k not in self._settable and not same:
                raise ValueError(f"{name}: the state was saved with {k}={v!r}, this optimizer has "
                                 f"{k}={mine.get(k)!r}; build it with {k}={v!r} to load this state")
        for name in self._state_names:
            arrays = state[name]
            mine = getattr(self, name)
            if len(arrays) != len(mine) or any(a.shape != b.shape for a, b in zip(arrays, mine)):
                raise ValueError(f"{type(self).__name__}: state {name!r} does not fit the parameters")
        for name in self._state_names:
            for dst, src in zip(getattr(self, name), state[name]):
                dst[...] = src
        self.steps = int(state["steps"])
        for k in self._settable:
            if k in state.get("hyper", {}):
                setattr(self, k, state["hyper"][k])

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
    momentum, nesterov, weight_decay = _Fixed(), _Fixed(), _Fixed()

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, clip_norm: float | None = None):
        super().__init__(params, lr, clip_norm)
        self.momentum = check_real(momentum, "momentum", "SGD", low=0.0, high=1.0, high_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", "SGD", low=0.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError(f"SGD: nesterov=True requires momentum > 0, got momentum={self.momentum}")
        self.nesterov = nesterov
        self._buf = [np.zeros_like(p.value) for p in self.params] if self.momentum else []
        self._scratch2 = [np.empty_like(p.value) for p in self.params] if nesterov else []
        # Plain SGD keeps no state: theta -= lr * grad runs over (theta, grad, scratch) pieces
        # of at most _CHUNK elements that share one small scratch, so the optimizer holds no
        # array the size of the model and a step is one loop without branches.
        self._pieces = _plain_pieces(self.params) if not (self.momentum or self.weight_decay) else []
        if self._pieces:
            self._scratch = []   # the pieces' shared scratch replaces the per-parameter one

    def step(self) -> None:
        """Update every parameter in place from its ``grad`` (the rule above)."""
        if not self._pieces:
            return super().step()
        self._clip()
        self.steps += 1
        lr = self._lr
        for theta, grad, scratch in self._pieces:
            theta -= np.multiply(grad, lr, out=scratch)

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
        p.value -= np.multiply(g, self._lr, out=self._scratch[i])

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay, "clip_norm": self.clip_norm}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) in PyTorch's form (``torch.optim.Adam``, L2 weight decay).

    For each parameter ``theta`` at step ``t = 1, 2, ...``::

        g = grad + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        m_hat = m / (1 - beta1^t),   v_hat = v / (1 - beta2^t)
        theta = theta - lr * m_hat / (sqrt(v_hat) + eps)

    Parameters: ``lr >= 0``; ``betas`` each in [0, 1); ``eps > 0``; ``weight_decay >= 0``;
    ``clip_norm`` as in ``Optimizer``.
    """

    _state_names = ("_m", "_v")
    #: AdamW decays the weights directly instead of adding the decay to the gradient.
    _decoupled_decay = False

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, clip_norm: float | None = None):
        super().__init__(params, lr, clip_norm)
        name = type(self).__name__
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}") from None
        self.betas = (check_real(b1, "beta1", name, low=0.0, high=1.0, high_open=True),
                      check_real(b2, "beta2", name, low=0.0, high=1.0, high_open=True))
        self.eps = check_real(eps, "eps", name, low=0.0, low_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", name, low=0.0)
        self._m = [np.zeros_like(p.value) for p in self.params]
        self._v = [np.zeros_like(p.value) for p in self.params]
        coupled = self.weight_decay and not self._decoupled_decay
        self._g = [np.empty_like(p.value) for p in self.params] if coupled else []

    def _update(self, i, p):
        g = self._decayed_grad(p, self.weight_decay, self._g[i] if self._g else None)
        self._moment_step(i, p, g)

    def _moment_step(self, i, p, g):
        """The Adam step from ``g``: update the moments, then ``theta -= lr m_hat / (sqrt(v_hat) + eps)``."""
        b1, b2 = self.betas
        t = self.steps
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
                "weight_decay": self.weight_decay, "clip_norm": self.clip_norm}


def clip_grad_norm(params, max_norm: float) -> float:
    """Rescale gradients in place so that their global norm is at most ``max_norm``.

    ``total = sqrt(sum_p |grad_p|^2)`` over every parameter; when ``total > max_norm``
    every gradient is multiplied by ``max_norm / (total + 1e-6)`` (``torch.nn.utils.
    clip_grad_norm_``). Returns ``total``, the norm before clipping.
    Also available as ``Optimizer(..., clip_norm=max_norm)``, applied in every ``step``.
    """
    if isinstance(params, Parameter):
        params = [params]
    max_norm = check_real(max_norm, "max_norm", "clip_grad_norm", low=0.0, low_open=True)
    grads = [p.grad for p in params]
    total = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019; ``torch.optim.AdamW``).

    For each parameter ``theta`` at step ``t = 1, 2, ...``, with ``g = grad``::

        theta = theta * (1 - lr * weight_decay)      (decay, outside the gradient moments)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        theta = theta - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    Parameters: ``lr >= 0``; ``betas`` each in [0, 1); ``eps > 0``; ``weight_decay >= 0``
    (default 0.01, as PyTorch); ``clip_norm`` as in ``Optimizer``.
    """

    _decoupled_decay = True

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, clip_norm: float | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, clip_norm)

    def _update(self, i, p):
        if self.weight_decay:
            p.value *= 1.0 - self.lr * self.weight_decay
        self._moment_step(i, p, p.grad)


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012) in PyTorch's form (``torch.optim.RMSprop``).

    For each parameter ``theta``::

        g = grad + weight_decay * theta
        v = alpha * v + (1 - alpha) * g^2
        centered:  a = alpha * a + (1 - alpha) * g;   d = sqrt(v - a^2) + eps
        otherwise: d = sqrt(v) + eps
        momentum > 0:  b = momentum * b + g / d;   theta = theta - lr * b
        otherwise:     theta = theta - lr * g / d

    Parameters: ``lr >= 0`` (default 0.01); ``alpha`` in [0, 1]; ``eps > 0``;
    ``weight_decay >= 0``; ``momentum >= 0``; ``centered``; ``clip_norm`` as in ``Optimizer``.
    (``v - a^2`` is clamped at 0 against roundoff, where PyTorch would take sqrt of a
    negative number.)
    """

    _state_names = ("_v", "_a", "_buf")
    momentum, centered = _Fixed(), _Fixed()

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 clip_norm: float | None = None):
        super().__init__(params, lr, clip_norm)
        name = type(self).__name__
        self.alpha = check_real(alpha, "alpha", name, low=0.0, high=1.0)
        self.eps = check_real(eps, "eps", name, low=0.0, low_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", name, low=0.0)
        self.momentum = check_real(momentum, "momentum", name, low=0.0)
        if not isinstance(centered, bool):
            raise TypeError(f"{name}: centered must be True or False, got {centered!r}")
        self.centered = centered
        self._v = [np.zeros_like(p.value) for p in self.params]
        self._a = [np.zeros_like(p.value) for p in self.params] if centered else []
        self._buf = [np.zeros_like(p.value) for p in self.params] if self.momentum else []
        self._g = [np.empty_like(p.value) for p in self.params] if self.weight_decay else []

    def _update(self, i, p):
        alpha = self.alpha
        g = self._decayed_grad(p, self.weight_decay, self._g[i] if self._g else None)
        v, d = self._v[i], self._scratch[i]
        v *= alpha
        np.multiply(g, g, out=d)
        d *= 1.0 - alpha
        v += d
        if self.centered:
            a = self._a[i]
            a *= alpha
            a += np.multiply(g, 1.0 - alpha, out=d)
            np.multiply(a, a, out=d)
            np.subtract(v, d, out=d)
            np.maximum(d, 0.0, out=d)
            np.sqrt(d, out=d)
        else:
            np.sqrt(v, out=d)
        d += self.eps
        np.divide(g, d, out=d)                # g / d
        if self.momentum:
            b = self._buf[i]
            b *= self.momentum
            b += d
            d = np.multiply(b, self.lr, out=d)
        else:
            d *= self.lr
        p.value -= d

    def hyperparameters(self):
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps,
                "weight_decay": self.weight_decay, "momentum": self.momentum,
                "centered": self.centered, "clip_norm": self.clip_norm}


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) in PyTorch's form (``torch.optim.Adagrad``).

    For each parameter ``theta`` at step ``t = 1, 2, ...``::

        g = grad + weight_decay * theta
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s = s + g^2                          (s starts at initial_accumulator_value)
        theta = theta - lr_t * g / (sqrt(s) + eps)

    Parameters: ``lr >= 0`` (default 0.01); ``lr_decay >= 0``; ``weight_decay >= 0``;
    ``initial_accumulator_value >= 0``; ``eps > 0`` (default 1e-10); ``clip_norm``.
    """

    _state_names = ("_s",)

    def __init__(self, params, lr: float = 0.01, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 clip_norm: float | None = None):
        super().__init__(params, lr, clip_norm)
        name = type(self).__name__
        self.lr_decay = check_real(lr_decay, "lr_decay", name, low=0.0)
        self.weight_decay = check_real(weight_decay, "weight_decay", name, low=0.0)
        self.initial_accumulator_value = check_real(
            initial_accumulator_value, "initial_accumulator_value", name, low=0.0)
        self.eps = check_real(eps, "eps", name, low=0.0, low_open=True)
        self._s = [np.full_like(p.value, self.initial_accumulator_value) for p in self.params]
        self._g = [np.empty_like(p.value) for p in self.params] if self.weight_decay else []

    def _update(self, i, p):
        g = self._decayed_grad(p, self.weight_decay, self._g[i] if self._g else None)
        s, d = self._s[i], self._scratch[i]
        np.multiply(g, g, out=d)
        s += d
        np.sqrt(s, out=d)
        d += self.eps
        np.divide(g, d, out=d)
        d *= self.lr / (1.0 + (self.steps - 1) * self.lr_decay)
        p.value -= d

    def hyperparameters(self):
        return {"lr": self.lr, "lr_decay": self.lr_decay, "weight_decay": self.weight_decay,
                "initial_accumulator_value": self.initial_accumulator_value, "eps": self.eps,
                "clip_norm": self.clip_norm}


def _plain_pieces(params) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(theta, grad, scratch)`` views covering every parameter in pieces of at most
    ``_CHUNK`` elements; the scratch views share one buffer per dtype (updates run one after
    another). A non-contiguous parameter gets a whole scratch of its own."""
    shared: dict = {}
    for p in params:
        n = min(p.size, _CHUNK)
        if p.value.dtype not in shared or shared[p.value.dtype].size < n:
            shared[p.value.dtype] = np.empty(n, p.value.dtype)
    pieces = []
    for p in params:
        theta, grad = p.value, p.grad
        if p.size <= _CHUNK:
            pieces.append((theta, grad, shared[theta.dtype][:p.size].reshape(p.shape)))
        elif theta.flags.c_contiguous and grad.flags.c_contiguous:
            flat_theta, flat_grad, s = theta.reshape(-1), grad.reshape(-1), shared[theta.dtype]
            for k in range(0, p.size, _CHUNK):
                n = min(_CHUNK, p.size - k)
                pieces.append((flat_theta[k:k + n], flat_grad[k:k + n], s[:n]))
        else:
            pieces.append((theta, grad, np.empty_like(theta)))
    return pieces
