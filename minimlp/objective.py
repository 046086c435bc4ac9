"""The objective of scikit-learn's MLP as minimlp losses: sample-weighted losses on the
output layer's pre-activation ``Z``, and an L2 penalty on the weight matrices.

    J = 1/S * sum_n w_n l(Z[n], T[n])  +  alpha/(2 S) * sum_W |W|^2,      S = sum_n w_n

``minimlp.sklearn`` trains with these; they are ordinary ``Loss`` objects, so a
``Sequential``, an optimizer and ``gradcheck`` use them as any other loss. The penalty's
gradient is added in one place: just before the update, by ``Penalized(optimizer, ...)``
(and by the estimators' full-batch objective for L-BFGS).

Targets carry the weights: a loss here takes ``T`` of shape ``(N, D + 1)`` for predictions
``Z`` of shape ``(N, D)``, the first ``D`` columns the targets, the last one each row's
weight ``w_n >= 0`` (ones for an unweighted batch). One array per batch then travels through
batching, shuffling and a train step unchanged.

Each loss pairs an output activation ``f`` with its canonical loss, so that
``dl/dZ = f(Z) - T`` (scikit-learn's ``delta = activation - y``):

=====================  ===============  ==============================================
class                  f (prediction)   l(Z[n], T[n]) (summed over the D outputs)
=====================  ===============  ==============================================
HalfSquaredError       identity         1/(2D) * sum_k (Z - T)^2
SigmoidLogLoss         logistic         -sum_k T log s(Z) + (1 - T) log(1 - s(Z))
SoftmaxLogLoss         softmax          -sum_k T log softmax(Z)_k
HalfPoissonDeviance    exp              sum_k exp(Z) - T Z + T log T - T
=====================  ===============  ==============================================
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy

from ._checks import check_real
from .layer import Array, Layer, Parameter
from .losses import Loss
from .optim import Optimizer

__all__ = ["WeightedLoss", "HalfSquaredError", "SigmoidLogLoss", "SoftmaxLogLoss",
           "HalfPoissonDeviance", "L2Penalty", "Penalized"]


class WeightedLoss(Loss):
    """Base class: the weighted mean ``L = 1/S * sum_n w_n l(Z[n], T[n])``, ``S = sum_n w_n``.

    Its gradient, for an output activation ``f`` with its canonical loss ``l``::

        dL/dZ[n] = w_n / S * (f(Z[n]) - T[n])      (/ D for HalfSquaredError's mean)

    ``T`` is ``(N, D + 1)``: targets, then the weights (see the module docstring).
    ``weight_sum`` is ``S`` of the last ``forward`` (the penalty divides by it too).
    A subclass writes ``_rows(Z, T, P, tmp, out)``: ``f(Z)`` into ``P`` (N, D), the per-row
    losses into ``out`` (N,), with ``tmp`` (N, D) as scratch; every array is a buffer the
    loss reuses, so a step allocates nothing of the batch's size.
    """

    #: Divides the gradient (HalfSquaredError: the D of its mean over outputs).
    _per_output_mean = False
    weight_sum = None

    def __init__(self):
        super().__init__("mean")

    def check_targets(self, T, shape: tuple, dtype) -> Array:
        """``T`` of shape ``(N, D + 1)`` for predictions ``(N, D)``: finite, weights >= 0."""
        N, D = shape
        T = self._as_float_targets(T, dtype)
        if T.shape != (N, D + 1):
            raise ValueError(f"{self!r}: targets must have shape (N, D + 1) = {(N, D + 1)} for "
                             f"predictions {shape} (the last column holds the sample weights), "
                             f"got {T.shape}")
        if T[:, -1].min() < 0:
            raise ValueError(f"{self!r}: sample weights (the last target column) must be >= 0, "
                             f"got a minimum of {T[:, -1].min()}")
        self._check_values(T[:, :-1])
        return T

    def _check_values(self, T: Array) -> None:
        """Refuse targets outside the loss's domain (a subclass narrows it)."""

    def _forward(self, Z, T):
        w = T[:, -1]
        S = float(np.add.reduce(w))
        if not S > 0:
            raise ValueError(f"{self!r}: the sample weights of this batch sum to {S}; a batch "
                             "needs a positive total weight")
        N, D = Z.shape
        P = self._grad_buffer(Z)                  # f(Z) now, the gradient after backward
        tmp = self._buf("_tmp", (N, D), Z.dtype)
        rows = self._rows(Z, T[:, :-1], P, tmp, self._buf("_l", (N,), Z.dtype))
        self._Y, self._T, self._dY, self.weight_sum, self._scaled = Z, T, P, S, False
        return float(np.dot(w, rows)) / S

    def _backward(self):
        G = self._dY
        if not self._scaled:
            T = self._T
            G -= T[:, :-1]
            scale = self.weight_sum * (G.shape[1] if self._per_output_mean else 1)
            G *= np.divide(T[:, -1], scale, out=self._buf("_l", (G.shape[0],), G.dtype))[:, None]
            self._scaled = True
        return G

    def _buf(self, name: str, shape: tuple, dtype) -> Array:
        return Layer.buffer(self, name, shape, dtype)

    def predict(self, Z: Array) -> Array:
        """The prediction ``f(Z)`` (a new array, shape of ``Z``)."""
        out = np.empty_like(Z)
        self._rows(Z, np.zeros_like(Z), out, np.empty_like(Z), np.empty(Z.shape[0], Z.dtype))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class HalfSquaredError(WeightedLoss):
    """Half the squared error, averaged over the ``D`` outputs (scikit-learn's ``squared_loss``).

    ::

        l = 1/(2D) * sum_k (Z[n,k] - T[n,k])^2        dL/dZ = w_n (Z - T) / (S D)

    With unit weights, ``MSELoss / 2``. (scikit-learn's MLP leaves the ``1/D`` out of its
    gradient; the two agree for one output.)
    """

    _per_output_mean = True

    def _rows(self, Z, T, P, tmp, out):
        np.copyto(P, Z)                                          # f(Z) = Z
        np.subtract(Z, T, out=tmp)
        np.einsum("nk,nk->n", tmp, tmp, out=out)
        out *= 0.5 / Z.shape[1]
        return out


class SigmoidLogLoss(WeightedLoss):
    """One binary cross-entropy per output on logits, summed (two classes, multilabel).

    ::

        l = -sum_k T log s(Z) + (1 - T) log(1 - s(Z))  =  sum_k softplus(Z) - T Z
        dL/dZ = w_n (s(Z) - T) / S,      s = sigmoid

    ``softplus(Z) = log(1 + exp(Z))`` is ``numpy.logaddexp(0, Z)``: finite at any logit.
    Targets in [0, 1].
    """

    def _check_values(self, T):
        if T.size and (T.min() < 0 or T.max() > 1):
            raise ValueError(f"{self!r}: targets must lie in [0, 1], got [{T.min()}, {T.max()}]")

    def _rows(self, Z, T, P, tmp, out):
        np.multiply(T, Z, out=tmp)
        np.logaddexp(0.0, Z, out=P)
        np.subtract(P, tmp, out=tmp)
        np.add.reduce(tmp, axis=1, out=out)
        expit(Z, out=P)
        return out


class SoftmaxLogLoss(WeightedLoss):
    """Cross-entropy of a softmax over the ``D`` outputs (one class per row).

    ::

        l = logsumexp(Z[n]) - sum_k T[n,k] Z[n,k]     (T rows are probabilities)
        dL/dZ = w_n (softmax(Z) - T) / S
    """

    def _check_values(self, T):
        if T.size and (T.min() < 0 or not np.allclose(T.sum(axis=1), 1.0, atol=1e-4)):
            raise ValueError(f"{self!r}: target rows must be probabilities (>= 0, summing to 1)")

    def _rows(self, Z, T, P, tmp, out):
        np.maximum.reduce(Z, axis=1, out=out)
        np.subtract(Z, out[:, None], out=P)
        np.exp(P, out=P)
        s = np.add.reduce(P, axis=1, out=self._buf("_s", out.shape, out.dtype))
        P /= s[:, None]                                           # softmax(Z)
        out += np.log(s, out=s)                                   # logsumexp(Z)
        out -= np.einsum("nk,nk->n", T, Z, out=s)
        return out


class HalfPoissonDeviance(WeightedLoss):
    """Half the Poisson deviance of the rate ``exp(Z)`` (scikit-learn's ``poisson_loss``).

    ::

        l = sum_k exp(Z) - T Z + T log T - T           dL/dZ = w_n (exp(Z) - T) / S

    ``exp(Z) - T Z`` is ``PoissonNLLLoss(log_input=True)``; ``T log T - T`` (0 log 0 = 0)
    depends on the targets only: it makes a perfect fit score 0. Targets ``T >= 0``.
    """

    def _check_values(self, T):
        if T.size and T.min() < 0:
            raise ValueError(f"{self!r}: targets must be counts or rates >= 0, got {T.min()}")

    def _rows(self, Z, T, P, tmp, out):
        np.exp(Z, out=P)
        xlogy(T, T, out=tmp)
        tmp -= T
        tmp += P
        np.add.reduce(tmp, axis=1, out=out)
        out -= np.einsum("nk,nk->n", T, Z, out=self._buf("_s", out.shape, out.dtype))
        return out


class L2Penalty:
    """The L2 penalty ``alpha/(2 S) * sum_W |W|^2`` on some parameters.

    scikit-learn's MLP penalizes the weight matrices, not the biases; ``S`` is the batch's
    total sample weight::

        dJ/dW = alpha / S * W

    ``add_to_grads(S)`` adds that to each parameter's ``grad`` (after ``backward`` wrote
    it) and returns the penalty's value. ``alpha >= 0``; ``alpha = 0`` does nothing.
    """

    def __init__(self, params: list[Parameter], alpha: float):
        self.params = list(params)
        self.alpha = check_real(alpha, "alpha", "L2Penalty", low=0.0)
        self._scratch = [np.empty_like(p.value) for p in self.params] if self.alpha else []

    def value(self, S: float) -> float:
        """``alpha/(2 S) * sum |W|^2``."""
        if not self.alpha:
            return 0.0
        return 0.5 * self.alpha * sum(float(np.vdot(p.value, p.value)) for p in self.params) / S

    def add_to_grads(self, S: float) -> float:
        """``grad += alpha/S * W`` for each parameter; returns ``value(S)``."""
        if not self.alpha:
            return 0.0
        for p, tmp in zip(self.params, self._scratch):
            p.grad += np.multiply(p.value, self.alpha / S, out=tmp)
        return self.value(S)

    def __repr__(self) -> str:
        return f"L2Penalty({len(self.params)} parameters, alpha={self.alpha})"


class _Penalized(Optimizer):
    """``optimizer`` with a penalty's gradient added just before each update.

    ::

        S = loss.weight_sum                      (the batch's total sample weight)
        grad += dP/dtheta  for P = penalty at S  (L2Penalty: alpha / S * W)
        optimizer.step()

    This is where the estimators apply their L2 penalty during stochastic training (PyTorch
    calls an L2 term added to the gradient before the update coupled weight decay).
    ``penalty_value`` is ``P`` at the parameters before the last update. The wrapped
    optimizer keeps the parameters, state and learning rate; ``lr`` reads and sets its rate.
    """

    def __init__(self, optimizer: Optimizer, penalty: L2Penalty, loss: WeightedLoss):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"Penalized: optimizer must be a minimlp Optimizer, got "
                            f"{type(optimizer).__name__}")
        # No Optimizer.__init__: the wrapped optimizer owns the state and the scratch.
        self.optimizer, self.penalty, self.loss = optimizer, penalty, loss
        self.params = optimizer.params
        self.penalty_value = 0.0

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value) -> None:
        self.optimizer.lr = value

    @property
    def steps(self) -> int:
        return self.optimizer.steps

    def step(self) -> None:
        """Add the penalty's gradient, then the wrapped optimizer's update."""
        self.penalty_value = self.penalty.add_to_grads(self.loss.weight_sum)
        self.optimizer.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)

    def hyperparameters(self) -> dict:
        return self.optimizer.hyperparameters()

    def __repr__(self) -> str:
        return f"Penalized({self.optimizer!r}, {self.penalty!r})"


#: The public name. The class's own name is private so that the optimizer tables built from
#: ``Optimizer.__subclasses__()`` (config files, ``mm.load``) do not list a wrapper: it is
#: saved as the optimizer it wraps.
Penalized = _Penalized
