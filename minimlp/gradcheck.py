"""Central-difference gradient checking, for layers, losses and whole networks.

For every input element and parameter entry ``x`` the numeric derivative is
``(f(x + eps) - f(x - eps)) / (2 eps)`` and it is compared with the analytic gradient from
``backward`` by the relative error ``|a - n| / max(|a|, |n|, floor)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .layer import Layer
from .losses import Loss


@dataclass
class GradcheckResult:
    """Outcome of ``gradcheck``.

    Attributes
    ----------
    max_rel_error : float
        The worst relative error over every checked entry.
    where : str
        Where it occurred: ``"X[i, j]"`` for the input, ``"<param name>[i, j]"`` otherwise.
    errors : dict
        The worst relative error per checked array (``"X"``, ``"0.W"``, ``"0.b"``, ...).
    """

    max_rel_error: float
    where: str
    errors: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"GradcheckResult(max_rel_error={self.max_rel_error:.3g}, where={self.where!r})"


def gradcheck(obj, X, T=None, loss: Loss | None = None, *, eps: float = 1e-5,
              floor: float = 1e-4, seed: int = 0, check_input: bool = True) -> GradcheckResult:
    """Compare analytic and central-difference gradients, in float64.

    Three forms:

    * ``gradcheck(layer, X)``: a layer or ``Sequential`` alone; the objective is
      ``sum(Y * R)`` with a fixed random ``R`` (so ``dY = R``).
    * ``gradcheck(model, X, T, loss)``: the objective is ``loss.forward(model(X), T)``.
    * ``gradcheck(loss, Y, T)``: a loss alone, differentiated with respect to ``Y``.

    ``X`` (N, D) is checked as well as every parameter (``check_input=False`` skips ``X``).
    Returns a ``GradcheckResult``; values around 1e-7 or below mean the gradients agree.

    Defaults: the difference quotient has a truncation error ~ eps^2 * |third derivative| / 6
    and a roundoff error ~ 1e-16 * |f| / eps; ``eps = 1e-5`` (about the cube root of machine
    epsilon) balances the two. Entries smaller than ``floor * max(1, |f|)`` are compared by
    their absolute error divided by that (the roundoff grows with ``|f|``, so the floor does
    too, which makes the check independent of the loss's scale): with ``eps = 1e-6, floor =
    1e-7`` and no scaling, a correct gradient entry of
    1e-5 in a loss of size 1 showed a "relative error" of 1.5e-5 from roundoff alone.
    """
    X = np.array(X, dtype=np.float64)  # a private copy: it is perturbed in place
    if isinstance(obj, Loss):
        if T is None:
            raise ValueError("gradcheck(loss, Y, T): targets T are required")
        f = lambda: obj.forward(X, T)
        analytic = lambda: obj.backward().copy()
        params = []
    elif isinstance(obj, Layer):
        # Unique names: "1.0.W" inside a nested Sequential; a lone layer counts as index 0.
        params = (obj.named_parameters() if next(obj.walk(), None) is not None
                  else [(f"0.{p.name}", p) for p in obj.parameters()])
        for name, p in params:
            if p.value.dtype != np.float64:
                raise ValueError(f"gradcheck needs float64 parameters; {name} is {p.value.dtype}")
        if loss is None:
            R = np.random.default_rng(seed).standard_normal(obj.forward(X).shape)
            f = lambda: float(np.vdot(obj.forward(X), R))
            analytic = lambda: obj.backward(R).copy()
        else:
            f = lambda: loss.forward(obj.forward(X), T)
            analytic = lambda: obj.backward(loss.backward()).copy()
    else:
        raise TypeError(f"gradcheck: expected a Layer, Sequential or Loss, got {type(obj).__name__}")

    floor = floor * max(1.0, abs(f()))
    grads = {"X": analytic()}
    for name, p in params:
        grads[name] = p.grad.copy()

    targets = ([("X", X)] if check_input else []) + [(name, p.value) for name, p in params]
    worst, where, errors = 0.0, "", {}
    for name, arr in targets:
        a = grads[name]
        num = np.empty_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            fp = f()
            arr[idx] = old - eps
            fm = f()
            arr[idx] = old
            num[idx] = (fp - fm) / (2 * eps)
        rel = np.abs(a - num) / np.maximum(np.maximum(np.abs(a), np.abs(num)), floor)
        if rel.size:
            k = np.unravel_index(np.argmax(rel), rel.shape)
            errors[name] = float(rel[k])
            if rel[k] >= worst:
                worst, where = float(rel[k]), f"{name}[{', '.join(map(str, k))}]"
    return GradcheckResult(worst, where, errors)
