"""Per-example gradient norms and the gradient noise scale (McCandlish et al. 2018).

Write ``g_n`` for the gradient of sample ``n``'s own loss ``l_n`` and ``G = E[g_n]`` for the
true gradient; ``Sigma`` is the covariance of ``g_n``. The mean gradient of a batch of ``B``
independent samples has ``E[|G_B|^2] = |G|^2 + tr(Sigma) / B``, so two batch sizes give
unbiased estimates of both terms (McCandlish et al., "An Empirical Model of Large-Batch
Training", Appendix A)::

    |G|^2     ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
    tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1 / B_small - 1 / B_big)

and the simple noise scale ``B_simple = tr(Sigma) / |G|^2`` estimates the batch size beyond
which a bigger batch stops saving steps (the critical batch size).

One batched backward pass gives every ``|g_n|^2`` (``per_example_grad_norms``, Goodfellow
2015): ``B_small = 1`` with ``|G_small|^2 = mean_n |g_n|^2``, and ``B_big = B`` with the
batch gradient. ``GradientNoiseScale`` does this during ``fit`` and smooths the two terms
separately, as the paper does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .callbacks import Callback
from .layer import Array, Layer

__all__ = ["PerExampleNorms", "per_example_grad_norms", "noise_scale_estimates",
           "GradientNoiseScale", "plot_noise_scale"]


def _model_leaves(model, owner: str) -> list[tuple[str, Layer]]:
    """The leaves of ``model``, checked: every layer with parameters must give per-sample
    norms, and none may couple the samples (BatchNorm1d). Raises before anything runs."""
    from .normalization import BatchNorm1d
    from .sequential import Sequential
    if not isinstance(model, Sequential):
        raise TypeError(f"{owner}: model must be a minimlp Sequential, got {type(model).__name__}")
    leaves = model.named_leaves()
    for path, layer in leaves:
        if isinstance(layer, BatchNorm1d):
            raise ValueError(f"{owner}: layer {path} ({layer!r}) couples the samples of a batch "
                             "(batch mean and variance), so per-example gradients are not "
                             "defined; use LayerNorm, or remove it to estimate the noise scale")
        if layer.parameters() and not callable(getattr(layer, "per_sample_sq_norms", None)):
            raise TypeError(f"{owner}: layer {path} ({layer!r}) has parameters but no "
                            "per_sample_sq_norms(X, dY) method, so its per-example gradient "
                            "norms are unknown")
    return leaves


@dataclass
class PerExampleNorms:
    """What ``per_example_grad_norms`` returns.

    Attributes
    ----------
    sq_norms : dict[str, Array (N,)]
        ``|dl_n/dp|^2`` for every parameter ``p``, keyed ``"<layer path>.<name>"`` (``"0.W"``,
        ``"2.1.b"`` inside a nested Sequential), in forward order.
    batch_sq_norm : float
        ``|G_B|^2``, the squared norm of the batch's mean gradient ``(1/N) sum_n g_n`` over
        all parameters (for a ``reduction="sum"`` loss too).
    loss : float
        The batch loss.
    """

    sq_norms: dict[str, Array]
    batch_sq_norm: float
    loss: float
    batch_size: int = field(default=0)

    @property
    def total(self) -> Array:
        """``|g_n|^2`` over all parameters, ``(N,)``: the sum of ``sq_norms``."""
        return np.sum(list(self.sq_norms.values()), axis=0)


def per_example_grad_norms(model, loss, X, T) -> PerExampleNorms:
    """The squared norm of every sample's own gradient, from one batched forward/backward.

    Runs the layers' public ``forward(X, train=True)`` and ``backward(dY)`` one by one,
    keeping each layer's input ``X_k`` and incoming gradient ``dY_k``, and asks every layer
    with parameters for ``per_sample_sq_norms(X_k, delta_k)``: for ``Dense``,
    ``|dl_n/dW|^2 = |x_n|^2 |delta_n|^2`` and ``|dl_n/db|^2 = |delta_n|^2`` with ``delta_n``
    the per-sample gradient (``N * dY_n`` for a mean loss). Afterwards every
    ``Parameter.grad`` holds the batch gradient, as after ``model.backward``, so an optimizer
    step may follow.

    Shapes: ``X (N, D_in)``, ``T`` as ``loss`` takes it -> ``PerExampleNorms`` with ``(N,)``
    arrays. The loss must be a sum of per-sample terms (every minimlp loss, ``"mean"`` or
    ``"sum"``). Raises ``ValueError`` for a model with ``BatchNorm1d`` (it couples samples).
    """
    from .losses import Loss
    owner = "per_example_grad_norms"
    if not isinstance(loss, Loss):
        raise TypeError(f"{owner}: loss must be a minimlp Loss object, got {type(loss).__name__}")
    leaves = _model_leaves(model, owner)
    X = model.check_input(X, f"{owner} X")
    N = X.shape[0]
    inputs = []
    A = X
    for _, layer in leaves:
        inputs.append(A)
        A = layer.forward(A, True)
    value = float(loss.forward(A, T))
    dY = loss.backward()
    # A mean loss's dY_n is delta_n / N; the norms are quadratic in dY.
    scale = float(N) if loss.reduction == "mean" else 1.0
    found: list[list[tuple[str, Array]]] = []   # per layer, last layer first
    for k in range(len(leaves) - 1, -1, -1):
        path, layer = leaves[k]
        if layer.parameters():
            found.append([(f"{path}.{name}", v * (scale * scale) if scale != 1.0 else v)
                          for name, v in layer.per_sample_sq_norms(inputs[k], dY).items()])
        if k == 0 and layer.input_grad_optional:
            layer.backward(dY, input_grad=False)   # no one needs dL/dX
        else:
            dY = layer.backward(dY)
    # The batch-mean gradient: Parameter.grad for a mean loss, grad / N for a sum.
    g = scale / N
    batch_sq = float(sum(np.vdot(p.grad, p.grad) for p in model.parameters())) * g * g
    return PerExampleNorms(dict(kv for layer in reversed(found) for kv in layer), batch_sq, value, N)


def noise_scale_estimates(small_sq_norm: float, B_small: float, big_sq_norm: float,
                          B_big: float) -> tuple[float, float]:
    """Unbiased estimates ``(|G|^2, tr(Sigma))`` from the squared norms of two batch-mean
    gradients (McCandlish et al. 2018, Appendix A)::

        |G|^2     = (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
        tr(Sigma) = (|G_small|^2 - |G_big|^2) / (1 / B_small - 1 / B_big)

    From ``E[|G_B|^2] = |G|^2 + tr(Sigma) / B`` for ``B`` independent samples. With
    per-example norms, ``B_small = 1`` and ``|G_small|^2 = mean_n |g_n|^2``. Each estimate
    alone can come out negative on a noisy batch; average (or smooth) before the ratio.
    """
    if not 0 < B_small < B_big:
        raise ValueError(f"noise_scale_estimates: need 0 < B_small < B_big, got "
                         f"B_small={B_small}, B_big={B_big}")
    g2 = (B_big * big_sq_norm - B_small * small_sq_norm) / (B_big - B_small)
    trace = (small_sq_norm - big_sq_norm) / (1.0 / B_small - 1.0 / B_big)
    return float(g2), float(trace)


class GradientNoiseScale(Callback):
    """Estimates the gradient noise scale ``B_simple = tr(Sigma) / |G|^2`` during ``fit``.

    Every ``every`` optimizer steps it draws ``batch_size`` rows of ``(X, T)`` (its own
    random stream, without replacement), computes their per-example gradient norms at the
    current parameters (``per_example_grad_norms``) and the estimates of
    ``noise_scale_estimates`` with ``B_small = 1``, ``B_big = batch_size``. As McCandlish et
    al. do, it smooths ``|G|^2`` and ``tr(Sigma)`` separately with exponential moving
    averages (weight ``beta`` on the past, bias-corrected like Adam's moments) and reports
    their ratio::

        B_simple = EMA(tr(Sigma)) / EMA(|G|^2)

    After every epoch it writes the latest ``B_simple`` to the ``History`` as
    ``"b_simple"`` (NaN before the first estimate). ``Parameter.grad`` and any Dropout
    layer's random stream are restored after each estimate, so training follows exactly the
    path it would follow without this callback; the cost is one forward and backward pass
    on ``batch_size`` rows every ``every`` steps.

    Parameters
    ----------
    X, T : arrays
        Data to draw the estimation batches from (the training set), ``T`` in the form the
        loss takes.
    every : int >= 1
        Steps between estimates (counted across epochs).
    batch_size : int >= 2 or None
        Rows per estimate (default: fit's batch size, at least 2). Bigger is less noisy.
    beta : float in [0, 1)
        EMA weight of the past.
    seed : int, SeedSequence or None
        The stream the estimation batches are drawn from.

    Attributes
    ----------
    steps : list[int]            the steps at which an estimate was taken
    g2, trace : list[float]      the raw estimates of ``|G|^2`` and ``tr(Sigma)``
    b_simple : list[float]       the smoothed ratio after each estimate
    """

    def __init__(self, X, T, *, every: int = 50, batch_size: int | None = None,
                 beta: float = 0.99, seed=0):
        from ._checks import check_real, check_size
        name = "GradientNoiseScale"
        self.every = check_size(every, "every", name)
        if batch_size is not None:
            batch_size = check_size(batch_size, "batch_size", name)
            if batch_size < 2:
                raise ValueError(f"{name}: batch_size must be >= 2 (tr(Sigma) needs two "
                                 f"samples), got {batch_size}")
        self.batch_size = batch_size
        self.beta = check_real(beta, "beta", name, low=0.0, high=1.0, high_open=True)
        self.X, self.T = X, T
        self.seed = seed
        self._reset()

    def _reset(self) -> None:
        self.steps: list[int] = []
        self.g2: list[float] = []
        self.trace: list[float] = []
        self.b_simple: list[float] = []
        self._step = 0
        self._ema = [0.0, 0.0]
        self._weight = 0.0

    def on_train_begin(self, logs: dict) -> None:
        _model_leaves(self.model, "GradientNoiseScale")
        self.X = self.model.check_input(self.X, "GradientNoiseScale X")
        n = self.X.shape[0]
        if len(self.T) != n:
            raise ValueError(f"GradientNoiseScale: X has {n} rows but T has {len(self.T)}")
        B = self.batch_size or max(2, int(self.params.get("batch_size", 2)))
        self._B = min(B, n)
        if self._B < 2:
            raise ValueError("GradientNoiseScale: needs at least 2 rows of data")
        self._rng = np.random.default_rng(self.seed)
        self._reset()

    def on_batch_end(self, batch: int, logs: dict) -> None:
        self._step += 1
        if self._step % self.every == 0:
            self.estimate()

    def estimate(self) -> float:
        """Take one estimate now; returns the smoothed ``B_simple``."""
        model = self.model
        idx = np.sort(self._rng.choice(self.X.shape[0], self._B, replace=False))
        grads = [p.grad.copy() for p in model.parameters()]
        streams = [(layer._rng, layer._rng.bit_generator.state)
                   for layer in model.leaves()
                   if isinstance(getattr(layer, "_rng", None), np.random.Generator)]
        try:
            norms = per_example_grad_norms(model, self.loss, self.X[idx], np.asarray(self.T)[idx])
        finally:
            for p, g in zip(model.parameters(), grads):
                np.copyto(p.grad, g)
            for rng, state in streams:
                rng.bit_generator.state = state
        g2, trace = noise_scale_estimates(float(norms.total.mean()), 1, norms.batch_sq_norm, self._B)
        b = self.beta
        self._ema[0] = b * self._ema[0] + (1 - b) * g2
        self._ema[1] = b * self._ema[1] + (1 - b) * trace
        self._weight = b * self._weight + (1 - b)   # bias correction: divide by 1 - beta^k
        g2_s, trace_s = self._ema[0] / self._weight, self._ema[1] / self._weight
        value = trace_s / g2_s if g2_s > 0 else math.nan
        self.steps.append(self._step)
        self.g2.append(g2)
        self.trace.append(trace)
        self.b_simple.append(value)
        return value

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if self.history is not None:
            column = self.history.history.setdefault("b_simple", [])
            column.extend([math.nan] * (len(self.history.epochs) - 1 - len(column)))
            column.append(self.b_simple[-1] if self.b_simple else math.nan)

    def __repr__(self) -> str:
        return f"GradientNoiseScale(every={self.every}, batch_size={self.batch_size}, beta={self.beta})"


def plot_noise_scale(gns: GradientNoiseScale, path=None, ax=None):
    """Plot ``B_simple`` over the training steps (log scale): the smoothed value and, faint,
    the ratio of each raw estimate. Returns the figure; saved as PNG when ``path`` is given."""
    from .plot import pyplot
    plt = pyplot()
    if not gns.steps:
        raise ValueError("plot_noise_scale: the callback holds no estimates yet (train with it first)")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    steps = np.asarray(gns.steps)
    raw = np.asarray(gns.trace) / np.asarray(gns.g2)
    ok = raw > 0
    ax.plot(steps[ok], raw[ok], ".", alpha=0.3, color="gray", label="one estimate")
    ax.plot(steps, gns.b_simple, color="C0", label="B_simple (smoothed)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("B_simple = tr(Σ) / |G|²")
    ax.set_title("gradient noise scale")
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
