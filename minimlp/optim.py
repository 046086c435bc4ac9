"""Optimizers: ``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad`` and gradient clipping,
as PyTorch defines them.

An optimizer holds a list of ``Parameter`` objects (any subset of a model's: that is how
parameters are frozen) and updates their ``value`` arrays in place from their ``grad``
arrays. Per-parameter state and scratch arrays are allocated once, in the constructor, so a
``step`` allocates nothing.
"""
from __future__ import annotations

import json
import math
import weakref

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

    def __init__(self, params, lr: float, clip_norm: float | None = None, scratch: bool = True):
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
        # One scratch array per parameter for the update; plain SGD needs none (its pieces
        # share one small scratch), so it asks for none rather than dropping a model's worth.
        self._scratch = [np.empty_like(p.value) for p in params] if scratch else []
        #: The learning rate when the first schedule was attached (``None`` before): the
        #: ``base_lr`` of every schedule attached later (PyTorch's ``group["initial_lr"]``).
        self.initial_lr = None
        self._schedule_refs: list = []      # weak references to the attached schedules
        self._pending_schedules: list = []  # loaded schedule states no schedule took yet

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
            _, coef = _clip_grads([p.grad for p in self.params], self._clip_norm, 2.0)
            self.grad_scale = min(1.0, coef)

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
    #: The same state under PyTorch's names (``exp_avg``, ``momentum_buffer``, ...).
    _torch_names: dict[str, str] = {}

    def state_dict(self) -> dict:
        """Hyperparameters, the step count and per-parameter state arrays (copies); once a
        schedule was attached also ``"schedules"``: ``{"initial_lr": ..., "states": [...]}``,
        the ``state_dict()`` of every schedule attached (JSON-ready, as a model file holds it).

        The same state also stands under PyTorch's layout and names: ``"state"``, ``{i:
        {"step": steps, "exp_avg": ..., ...}}`` per parameter index (the arrays are those of
        minimlp's keys), and ``"param_groups"``, ``[{hyperparameters..., "params": [0, 1,
        ...]}]``; ``load_state_dict`` takes either form."""
        state = {"type": type(self).__name__, "steps": self.steps, "hyper": self.hyperparameters()}
        for name in self._state_names:
            state[name] = [a.copy() for a in getattr(self, name)]
        state["state"] = {i: {"step": self.steps, **{self._torch_names.get(n, n): _torch_layout(state[n][i])
                                                      for n in self._state_names if state[n]}}
                          for i in range(len(self.params))}
        state["param_groups"] = [{**self.hyperparameters(), "params": list(range(len(self.params)))}]
        if self.initial_lr is not None:
            state["schedules"] = {"initial_lr": self.initial_lr,
                                  "states": [s.state_dict() for s in self.schedules()]}
        return state

    #: Hyperparameters that a loaded state may change; the others shape the state and the
    #: update rule chosen in the constructor, so they must already match.
    _settable = ("lr", "clip_norm")

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned (same parameter shapes, in the same order).

        ``lr`` and ``clip_norm`` are taken from the state; every other hyperparameter must
        equal this optimizer's own (build it with the same arguments), or ValueError.
        A state saved with schedules attached (``"schedules"``) restores them: each schedule
        attached to this optimizer, now or later, of the same class and arguments as a saved
        one takes that one's state (in the order they were attached), so the learning-rate
        curve continues where it stopped.
        """
        name = type(self).__name__
        if "type" not in state and "param_groups" in state:
            state = self._from_torch_layout(state)
        if state.get("type") != name:
            raise ValueError(f"{name}: state is for {state.get('type')!r}")
        schedules = state.get("schedules")
        if schedules is not None:
            schedules = _check_schedules_state(schedules, name)
        own = self.hyperparameters()
        for k, v in state.get("hyper", {}).items():
            same = (tuple(v) == tuple(own.get(k))) if isinstance(v, (list, tuple)) else v == own.get(k)
            if k not in self._settable and not same and not self._may_load(k, v, own.get(k)):
                raise ValueError(f"{name}: the state was saved with {k}={v!r}, this optimizer has "
                                 f"{k}={own.get(k)!r}; build it with {k}={v!r} to load this state")
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
        for k, v in state.get("hyper", {}).items():
            if k not in self._settable and self._may_load(k, v, own.get(k)):
                self._set_cycled(k, v)
        if schedules is not None:
            self.initial_lr = schedules["initial_lr"]
            self._pending_schedules = list(schedules["states"])
            for s in self.schedules():
                s._restore_pending()

    def _from_torch_layout(self, state: dict) -> dict:
        """A PyTorch-layout ``{"state", "param_groups"}`` state as minimlp's own."""
        name = type(self).__name__
        groups = state["param_groups"]
        if not isinstance(groups, list) or len(groups) != 1:
            raise ValueError(f"{name}: a state with {len(groups) if isinstance(groups, list) else groups!r} "
                             "parameter groups; minimlp optimizers have one")
        hyper = {k: v for k, v in groups[0].items() if k in self.hyperparameters()}
        per = state.get("state", {})
        n = len(self.params)
        out = {"type": name, "hyper": hyper, "steps": 0}
        for own in self._state_names:
            torch_name = self._torch_names.get(own, own)
            mine = getattr(self, own)
            if not mine:
                out[own] = []
                continue
            try:
                out[own] = [_torch_layout(np.asarray(per[i][torch_name])) for i in range(n)]
            except (KeyError, TypeError):
                raise ValueError(f"{name}: the state has no {torch_name!r} for every one of its "
                                 f"{n} parameters") from None
        steps = [per[i].get("step") for i in range(n) if i in per]
        if steps and steps[0] is not None:
            out["steps"] = int(np.asarray(steps[0]))
        elif steps:     # torch's SGD keeps no count, but a momentum buffer means a step was taken
            out["steps"] = 1
        return out

    def _may_load(self, key: str, saved, mine) -> bool:
        """Whether a loaded state may change the fixed hyperparameter ``key`` (a momentum
        that ``OneCycleLR`` cycles, say); by default none may."""
        return False

    def _set_cycled(self, key: str, value) -> None:  # pragma: no cover - see _may_load
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        return {"lr": self.lr}

    # -- schedules (see minimlp.schedules) ----------------------------------------------
    def schedules(self) -> list:
        """The schedules attached to this optimizer (and still alive), in the order they were
        attached; ``state_dict`` saves their state (a ``SequentialLR`` holds its own)."""
        return [s for s in (r() for r in self._schedule_refs)
                if s is not None and s._attached_to is self]

    def _add_schedule(self, schedule) -> None:
        if self.initial_lr is None:
            self.initial_lr = self.lr
        self._remove_schedule(schedule)
        self._schedule_refs.append(weakref.ref(schedule))

    def _remove_schedule(self, schedule) -> None:
        self._schedule_refs = [r for r in self._schedule_refs if r() is not None and r() is not schedule]

    def _take_schedule_state(self, schedule) -> dict | None:
        """The first loaded schedule state saved by a schedule of ``schedule``'s class and
        arguments (removed from the pending ones), or ``None``."""
        kind, config = schedule._identity()
        for i, state in enumerate(self._pending_schedules):
            if state.get("type") == kind and json.loads(json.dumps(state.get("config"))) == config:
                return self._pending_schedules.pop(i)
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

    PyTorch's update (``torch.optim.SGD``), for each parameter ``theta`` at step ``t``::

        g = grad + weight_decay * theta
        b = g                                    at t = 1 (undamped, as PyTorch)
        b = momentum * b + (1 - dampening) * g   at t > 1
        g = g + momentum * b   if nesterov  else  b      (when momentum > 0)
        theta = theta - lr * g

    Parameters: ``lr >= 0``; ``0 <= momentum < 1``; ``0 <= dampening <= 1`` (only acts with
    momentum); ``nesterov`` needs ``momentum > 0`` and ``dampening == 0``;
    ``weight_decay >= 0`` (L2 penalty ``weight_decay/2 * |theta|^2`` added to the loss).
    """

    _state_names = ("_buf",)
    _torch_names = {"_buf": "momentum_buffer"}
    momentum, dampening, nesterov, weight_decay = _Fixed(), _Fixed(), _Fixed(), _Fixed()

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, clip_norm: float | None = None):
        plain = not momentum and not weight_decay   # (the values are checked below)
        super().__init__(params, lr, clip_norm, scratch=not plain)
        self.momentum = check_real(momentum, "momentum", "SGD", low=0.0, high=1.0, high_open=True)
        self.dampening = check_real(dampening, "dampening", "SGD", low=0.0, high=1.0)
        self.weight_decay = check_real(weight_decay, "weight_decay", "SGD", low=0.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError(f"SGD: nesterov=True requires momentum > 0, got momentum={self.momentum}")
        if nesterov and self.dampening != 0:
            raise ValueError(f"SGD: nesterov=True requires dampening = 0 (as PyTorch), got "
                             f"dampening={self.dampening}")
        self.nesterov = nesterov
        self._buf = [np.zeros_like(p.value) for p in self.params] if self.momentum else []
        damped = self.momentum and self.dampening
        self._scratch2 = [np.empty_like(p.value) for p in self.params] if nesterov or damped else []
        # Plain SGD keeps no state: theta -= lr * grad runs over (theta, grad, scratch) pieces
        # of at most _CHUNK elements that share one small scratch, so the optimizer holds no
        # array the size of the model and a step is one loop without branches.
        self._pieces = _plain_pieces(self.params) if not (self.momentum or self.weight_decay) else []

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
            if self.dampening and self.steps > 1:
                b += np.multiply(g, 1.0 - self.dampening, out=self._scratch2[i])
            else:
                b += g                        # b_1 = 0 * mu + g: the first step is undamped
            if self.nesterov:
                g = np.add(g, np.multiply(b, mu, out=self._scratch2[i]), out=self._scratch2[i])
            else:
                g = b
        p.value -= np.multiply(g, self._lr, out=self._scratch[i])

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay,
                "clip_norm": self.clip_norm}

    def _may_load(self, key, saved, mine):
        # a momentum > 0 may differ (OneCycleLR cycles it); 0 and > 0 chose different state
        return key == "momentum" and isinstance(saved, (int, float)) and 0 < saved < 1 and mine > 0

    def _set_cycled(self, key, value):
        self._fixed_momentum = float(value)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) in PyTorch's form (``torch.optim.Adam``, L2 weight decay).

    For each parameter ``theta`` at step ``t = 1, 2, ...``::

        g = grad + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        v_max = max(v_max, v)                      (amsgrad only; v_max starts at 0)
        m_hat = m / (1 - beta1^t),   v_hat = v / (1 - beta2^t)   (v_max / (1 - beta2^t) if amsgrad)
        theta = theta - lr * m_hat / (sqrt(v_hat) + eps)

    Parameters: ``lr >= 0``; ``betas`` each in [0, 1); ``eps > 0``; ``weight_decay >= 0``;
    ``amsgrad`` (Reddi et al., 2018: the denominator never shrinks); ``clip_norm`` as in
    ``Optimizer``.
    """

    _state_names = ("_m", "_v")
    _torch_names = {"_m": "exp_avg", "_v": "exp_avg_sq", "_vmax": "max_exp_avg_sq"}
    #: AdamW decays the weights directly instead of adding the decay to the gradient.
    _decoupled_decay = False
    amsgrad = _Fixed()

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, clip_norm: float | None = None):
        super().__init__(params, lr, clip_norm)
        name = type(self).__name__
        if not isinstance(amsgrad, bool):
            raise TypeError(f"{name}: amsgrad must be True or False, got {amsgrad!r}")
        self.amsgrad = amsgrad
        self._vmax = [np.zeros_like(p.value) for p in self.params] if amsgrad else []
        if amsgrad:
            self._state_names = ("_m", "_v", "_vmax")
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
        if self._vmax:
            v = np.maximum(self._vmax[i], v, out=self._vmax[i])
        np.sqrt(v, out=tmp)                   # sqrt(v_hat) + eps = sqrt(v)/sqrt(1-b2^t) + eps
        tmp *= 1.0 / np.sqrt(1.0 - b2 ** t)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr / (1.0 - b1 ** t)
        p.value -= tmp

    def hyperparameters(self):
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps,
                "weight_decay": self.weight_decay, "amsgrad": self.amsgrad,
                "clip_norm": self.clip_norm}

    def _may_load(self, key, saved, mine):
        # beta1 may differ (OneCycleLR cycles it); beta2 chose nothing either, but stays fixed
        return (key == "betas" and isinstance(saved, (list, tuple)) and len(saved) == 2
                and tuple(saved)[1] == mine[1] and isinstance(saved[0], (int, float))
                and 0 <= saved[0] < 1)

    def _set_cycled(self, key, value):
        self.betas = (float(value[0]), self.betas[1])


def _grads_of(params, owner: str) -> list[np.ndarray]:
    if isinstance(params, Parameter):
        params = [params]
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{owner}: params must be a list of Parameter objects, "
                        f"got {type(params).__name__}") from None
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"{owner}: params[{i}] is a {type(p).__name__}, not a Parameter "
                            "(pass model.parameters())")
    return [p.grad for p in params]


def _abs_max(grads) -> float:
    """``max |g|`` over every gradient (NaN if one holds NaN), without a temporary array."""
    m = 0.0
    for g in grads:
        if g.size:
            m = max(m, float(g.max()), -float(g.min()))
            if math.isnan(m):
                return m
    return m


#: Below this, a sum of squares may have lost digits to underflow: the norm is rescaled.
_TINY_SQUARES = 1e-280


def _torch_layout(a: np.ndarray) -> np.ndarray:
    """A 2-D (Dense weight) array transposed between minimlp's ``(in, out)`` and PyTorch's
    ``(out, in)`` (its own inverse); others unchanged."""
    return np.ascontiguousarray(a.T) if a.ndim == 2 else a


def _norm_parts(grads, norm_type: float) -> tuple[float, float]:
    """``(scale, r)`` with the global ``norm_type``-norm of ``grads`` equal to ``scale * r``.

    The plain ``sqrt(sum g^2)`` overflows for gradients above ~1e154 (and underflows below
    ~1e-154) although the norm itself is finite; then every gradient is divided by
    ``scale = max |g|`` first, so ``1 <= r <= n``: ``|g| = max|g| * |g / max|g||``.
    """
    if norm_type == 2.0:
        s = 0.0
        for g in grads:
            s += float(np.vdot(g, g))
        if _TINY_SQUARES <= s < math.inf or math.isnan(s):
            return 1.0, math.sqrt(s) if s == s else s
    if norm_type == math.inf:
        return 1.0, _abs_max(grads)
    scale = _abs_max(grads)
    if scale == 0.0 or not math.isfinite(scale):
        return 1.0, scale
    if norm_type == 1.0:
        return scale, sum(float((np.abs(g) / scale).sum()) for g in grads)
    if norm_type == 2.0:
        return scale, math.sqrt(sum(float(np.vdot(h, h)) for h in (g / scale for g in grads)))
    total = sum(float(((np.abs(g) / scale) ** norm_type).sum()) for g in grads)
    return scale, total ** (1.0 / norm_type)


def _check_norm_type(norm_type, owner: str) -> float:
    if isinstance(norm_type, str) and norm_type.lower() == "inf" or norm_type == math.inf:
        return math.inf
    return check_real(norm_type, "norm_type", owner, low=0.0, low_open=True)


def clip_grad_norm(params, max_norm: float, norm_type: float = 2.0) -> float:
    """Rescale gradients in place so that their global norm is at most ``max_norm``.

    ``total = (sum_p sum_i |grad_p[i]|^q)^(1/q)`` over every parameter, with
    ``q = norm_type`` (default 2; 1, or ``math.inf`` for ``max |grad|``, or any ``q > 0``);
    when ``total > max_norm`` every gradient is multiplied by ``max_norm / (total + 1e-6)``
    (``torch.nn.utils.clip_grad_norm_``). Returns ``total``, the norm before clipping.
    The norm is computed scaled by ``max |grad|`` when squaring would overflow or
    underflow, so gradients up to float64's largest value clip correctly (PyTorch's
    overflows to ``inf`` above ~1e154 and then zeroes them).
    Also available as ``Optimizer(..., clip_norm=max_norm)`` (2-norm), applied in every ``step``.
    """
    grads = _grads_of(params, "clip_grad_norm")
    max_norm = check_real(max_norm, "max_norm", "clip_grad_norm", low=0.0, low_open=True)
    return _clip_grads(grads, max_norm, _check_norm_type(norm_type, "clip_grad_norm"))[0]


def _clip_grads(grads, max_norm: float, norm_type: float) -> tuple[float, float]:
    """Clip ``grads`` in place; returns ``(total, coef)``: the norm before clipping and
    ``max_norm / (total + 1e-6)`` (the gradients were multiplied by it when it is < 1).
    A norm that overflows although every gradient is finite still gives the right factor."""
    scale, r = _norm_parts(grads, norm_type)
    total = scale * r
    if total == math.inf and math.isfinite(scale) and math.isfinite(r):
        coef = max_norm / scale / r
    else:
        coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total, coef


def clip_grad_value(params, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place
    (``torch.nn.utils.clip_grad_value_``): ``grad = min(max(grad, -c), c)``. NaN stays NaN."""
    grads = _grads_of(params, "clip_grad_value")
    c = check_real(clip_value, "clip_value", "clip_grad_value", low=0.0, low_open=True)
    for g in grads:
        np.clip(g, -c, c, out=g)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019; ``torch.optim.AdamW``).

    For each parameter ``theta`` at step ``t = 1, 2, ...``, with ``g = grad``::

        theta = theta * (1 - lr * weight_decay)      (decay, outside the gradient moments)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        theta = theta - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    Parameters: ``lr >= 0``; ``betas`` each in [0, 1); ``eps > 0``; ``weight_decay >= 0``
    (default 0.01, as PyTorch); ``amsgrad`` as in ``Adam`` (``v`` replaced by
    ``v_max = max(v_max, v)``); ``clip_norm`` as in ``Optimizer``.
    """

    _decoupled_decay = True

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False, clip_norm: float | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, clip_norm)

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
    _torch_names = {"_v": "square_avg", "_a": "grad_avg", "_buf": "momentum_buffer"}
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

    def _may_load(self, key, saved, mine):
        # a momentum > 0 may differ (OneCycleLR cycles it); 0 and > 0 chose different state
        return (key == "momentum" and isinstance(saved, (int, float)) and math.isfinite(saved)
                and saved > 0 and mine > 0)

    def _set_cycled(self, key, value):
        self._fixed_momentum = float(value)


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
    _torch_names = {"_s": "sum"}

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


def _check_schedules_state(schedules, owner: str) -> dict:
    """The ``"schedules"`` entry of a loaded state, checked: ``{"initial_lr": float >= 0,
    "states": [dict with a "type" str, ...]}`` (each schedule checks its own state)."""
    if not isinstance(schedules, dict) or not isinstance(schedules.get("states"), list):
        raise ValueError(f"{owner}: the state's 'schedules' entry must be a dict with a list "
                         f"of 'states', got {type(schedules).__name__}")
    initial = schedules.get("initial_lr")
    if isinstance(initial, bool) or not isinstance(initial, (int, float)) or not 0 <= initial < math.inf:
        raise ValueError(f"{owner}: the state's schedules have initial_lr {initial!r}; "
                         "expected a finite number >= 0")
    for i, s in enumerate(schedules["states"]):
        if not isinstance(s, dict) or not isinstance(s.get("type"), str):
            raise ValueError(f"{owner}: the state's schedule {i} is not a schedule state "
                             f"(a dict with a 'type')")
    return {"initial_lr": float(initial), "states": schedules["states"]}


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
