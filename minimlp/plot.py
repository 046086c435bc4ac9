"""Pictures of training: loss curves, decision boundaries, regression fits, network diagrams.

matplotlib is imported inside the functions (``import minimlp`` never loads it). Without a
display (no ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux) the non-interactive ``Agg`` backend is
selected, so every function works on a headless machine. Each function returns the
``matplotlib.figure.Figure`` and, given ``path``, also writes it there as a PNG; none calls
``plt.show()``. Call ``plt.show()`` yourself to see the figures in a window, or
``plt.close(fig)`` when you make many of them.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from .layer import Array

#: Colours of the classes (matplotlib's colour-blind-friendly "tab10" order).
_CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def pyplot():
    """``matplotlib.pyplot``, with the Agg backend where there is no display."""
    import matplotlib
    if "matplotlib.pyplot" not in sys.modules and _headless():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _headless() -> bool:
    if sys.platform.startswith(("win", "darwin")):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _finish(fig, path):
    if path is not None:
        fig.savefig(os.fspath(path), dpi=110)
    return fig


# -- history -----------------------------------------------------------------------------
def plot_history(history, path=None, *, title: str = "Training history"):
    """Loss and metric curves per epoch, training and validation, one panel per quantity.

    ``history`` is a ``History`` (from ``fit``) or its ``.history`` dict
    ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}``; ``"time"`` is ignored.
    The loss axis is logarithmic when the loss spans more than a factor of 10.
    Returns the Figure; writes a PNG to ``path`` when given.
    """
    curves = getattr(history, "history", history)
    if not isinstance(curves, dict) or not curves.get("loss"):
        raise ValueError("plot_history: expected a History or a dict with a non-empty 'loss' list, "
                         f"got {type(history).__name__}")
    epochs = list(getattr(history, "epochs", None) or range(1, len(curves["loss"]) + 1))
    names = ["loss"] + [k for k in curves if k not in ("loss", "time") and not k.startswith("val_")
                        and not k.startswith("health/") and curves[k]]   # health: plot_health
    plt = pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 4.0), squeeze=False)
    for ax, name in zip(axes[0], names):
        train = np.asarray(curves[name], dtype=float)
        long = len(train) > 100   # many noisy epochs: thin solid lines, or dashes tangle
        ax.plot(epochs[:len(train)], train, color=_CLASS_COLORS[0], lw=1.0 if long else 2,
                label=f"training (last {train[-1]:.4g})")
        val = curves.get(f"val_{name}")
        if val:
            val = np.asarray(val, dtype=float)
            ax.plot(epochs[:len(val)], val, color=_CLASS_COLORS[1], lw=1.0 if long else 2,
                    ls="-" if long else "--", alpha=0.8 if long else 1.0,
                    label=f"validation (last {val[-1]:.4g})")
        values = np.concatenate([train, val]) if val is not None and len(val) else train
        if name == "loss" and values.min() > 0 and values.max() / values.min() > 10:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{name} (log scale)" if ax.get_yscale() == "log" else name)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


# -- classifiers ---------------------------------------------------------------------------
def _class_probabilities(model, X: Array) -> Array:
    """Per-class scores (N, C) with C >= 2, from a model's outputs (logits or probabilities)."""
    from scipy.special import expit, softmax

    from .activations import Sigmoid, Softmax
    Y = np.asarray(model.predict(X), dtype=float)
    last = model[-1] if hasattr(model, "__getitem__") and len(model) else model
    if Y.shape[1] == 1:
        p = Y[:, 0] if isinstance(last, Sigmoid) else expit(Y[:, 0])
        return np.stack([1.0 - p, p], axis=1)
    return Y if isinstance(last, Softmax) else softmax(Y, axis=1)


def _as_labels(labels, n: int) -> Array:
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)
    labels = labels.reshape(-1)
    if labels.shape[0] != n:
        raise ValueError(f"labels: expected {n} labels (one per row of X), got {labels.shape[0]}")
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            labels = (labels > 0.5)
        labels = labels.astype(int)
    return labels.astype(int)


def plot_decision_boundary(model, X, labels, path=None, *, resolution: int = 250,
                           title: str | None = None):
    """The class a 2-D classifier predicts over the plane, with the data drawn on top.

    ``model`` maps ``(N, 2) -> (N, C)``: class logits or probabilities (C >= 2), or one
    column (a logit, or a probability after a final ``Sigmoid``) for two classes.
    ``X`` is ``(N, 2)``; ``labels`` the true classes ``(N,)`` (or one-hot ``(N, C)``).
    Regions take the colour of the predicted class, fading where the model is unsure; the
    title gives the accuracy on the points drawn. Returns the Figure; writes a PNG to
    ``path`` when given.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (N, 2), got {X.shape}")
    labels = _as_labels(labels, X.shape[0])
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-9)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    P = _class_probabilities(model, grid)
    C = P.shape[1]
    winner = P.argmax(axis=1)
    confidence = P.max(axis=1)

    from matplotlib.colors import to_rgb
    plt = pyplot()
    colors = np.array([to_rgb(_CLASS_COLORS[k % len(_CLASS_COLORS)]) for k in range(C)])
    # Blend each class colour with white: strong where the model is sure, pale near the boundary.
    strength = 0.25 + 0.35 * (confidence - 1.0 / C) / (1.0 - 1.0 / C)
    image = 1.0 - strength[:, None] * (1.0 - colors[winner])
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.imshow(image.reshape(resolution, resolution, 3), origin="lower", aspect="auto",
              extent=(xs[0], xs[-1], ys[0], ys[-1]), interpolation="bilinear")
    ax.contour(gx, gy, winner.reshape(gx.shape), levels=np.arange(C) + 0.5,
               colors="k", linewidths=0.8, alpha=0.6)
    for k in np.unique(labels):
        sel = labels == k
        ax.scatter(X[sel, 0], X[sel, 1], s=16, color=_CLASS_COLORS[k % len(_CLASS_COLORS)],
                   edgecolors="k", linewidths=0.4, label=f"class {k}")
    P_data = _class_probabilities(model, X)
    acc = np.count_nonzero(P_data.argmax(axis=1) == labels) / X.shape[0]
    ax.set_title(title or f"Decision boundary: accuracy {100 * acc:.1f}% of the final weights "
                          f"on these {X.shape[0]} points")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.legend(loc="upper right", framealpha=0.9, fontsize=9)
    fig.tight_layout()
    return _finish(fig, path)


# -- regression ------------------------------------------------------------------------------
def plot_regression(model, X, Y, path=None, *, title: str | None = None):
    """A 1-D regression: the targets as points, the model's predictions as a line.

    ``model`` maps ``(N, 1) -> (N, 1)``; ``X`` is ``(N, 1)`` (or ``(N,)``), ``Y`` the targets
    ``(N, 1)`` (or ``(N,)``). The line is drawn on a dense grid over X's range; the title
    gives the mean squared error on the points. Returns the Figure; writes a PNG to
    ``path`` when given.
    """
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    X = X.reshape(-1, 1) if X.ndim == 1 else X
    if X.ndim != 2 or X.shape[1] != 1:
        raise ValueError(f"plot_regression: X must have shape (N, 1), got {X.shape}")
    Y = Y.reshape(-1)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"plot_regression: Y must hold one target per row of X ({X.shape[0]}), "
                         f"got {Y.shape[0]}")
    grid = np.linspace(X.min(), X.max(), 400).reshape(-1, 1)
    line = np.asarray(model.predict(grid), dtype=float)
    if line.ndim != 2 or line.shape[1] != 1:
        raise ValueError(f"plot_regression: the model must output one column, got {line.shape[1:]}")
    err = np.asarray(model.predict(X), dtype=float).reshape(-1) - Y
    mse = float(np.mean(err * err))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    ax.scatter(X[:, 0], Y, s=12, color=_CLASS_COLORS[0], alpha=0.6, label="targets")
    ax.plot(grid[:, 0], line[:, 0], color=_CLASS_COLORS[3], lw=2.5, label="model prediction")
    ax.set_title(title or f"Regression: mean squared error {mse:.4g} on these {X.shape[0]} points")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path)


# -- network diagram ---------------------------------------------------------------------------
def plot_network(net, X=None, T=None, path=None, *, loss=None, lr: float = 0.5,
                 train_biases: bool = False, sample: int = 0, title: str | None = None,
                 max_labeled_edges: int = 64):
    """Mazur's figure of a small dense network: every number of one training step drawn on it.

    Given one or a few samples ``X (N, D)`` and targets ``T``, the step is traced on a copy
    (``net`` is not changed) by ``minimlp.explain.trace_step(net, X, T, loss, lr)``, and the
    figure shows the inputs ``i1..`` with their values, each neuron with its net input
    ``net``, output ``out`` and ``delta = dE/dnet``, the targets, every weight as ``w1..``
    (numbered as in the trace and Mazur's post) with its value and its gradient ``dE/dw``,
    and each layer's bias ``b1, b2, ..`` (one per layer, as in the post, or one per neuron
    when they differ). For a batch the neuron values are sample ``sample``'s and the
    gradients the batch's. Without ``X``, only the weights and biases are drawn.

    A network with more than ``max_labeled_edges`` weights, wider than the trace allows
    (``explain.MAX_WIDTH``) or with layers the trace cannot explain is drawn as heat maps
    instead: per Dense layer its ``W`` (in, out) and, given ``X``, its ``dW`` from one
    forward and backward pass of ``loss`` (default ``MSELoss``).

    Every number is one ``Text`` artist whose ``gid`` is the trace's label (``"dE/dw5"``,
    ``"net_h1"``, ``"w5"`` for a weight's value, ``"b1"``). Returns the Figure; writes a PNG
    to ``path`` when given. The older form ``plot_network(net, path)`` still works.
    """
    import copy

    from . import explain
    from .layers import Dense
    if isinstance(X, (str, os.PathLike)):            # plot_network(net, path), the older form
        X, path = None, X
    if (X is None) != (T is None):
        raise ValueError("plot_network: give both X and T (to draw a training step) or neither")
    layers = list(net) if hasattr(net, "__iter__") else [net]
    dense = [layer for layer in layers if isinstance(layer, Dense)]
    if not dense:
        raise ValueError("plot_network: the network has no Dense layer to draw")
    widths = [dense[0].in_features] + [d.out_features for d in dense]
    n_edges = sum(a * b for a, b in zip(widths, widths[1:]))
    loss_obj = loss
    if loss_obj is None:
        from .losses import MSELoss
        loss_obj = MSELoss()
    try:
        explain.check_network(net, loss_obj)
        drawable = n_edges <= max_labeled_edges
    except (ValueError, TypeError):
        drawable = False
    if not drawable:
        return _network_heatmaps(net, dense, X, T, loss_obj, path, title)
    trace = None
    if X is not None:
        trace = explain.trace_step(copy.deepcopy(net), X, T, loss_obj, lr, train_biases=train_biases)
        if not 0 <= sample < trace.X.shape[0]:
            raise ValueError(f"plot_network: sample must be in [0, {trace.X.shape[0] - 1}], got {sample}")
    return _network_figure(net, widths, trace, sample, path, title)


def _fmt4(v: float) -> str:
    return f"{v:.4g}"


def _network_figure(net, widths, trace, sample, path, title):
    from . import explain
    plt = pyplot()
    stages = explain._stages(net)
    names = [[f"i{i + 1}" for i in range(widths[0])]] + explain._neuron_names(widths)
    weight_names = []
    offset = 0
    for d, _ in stages:
        weight_names.append([[f"w{offset + j * d.in_features + i + 1}" for j in range(d.out_features)]
                             for i in range(d.in_features)])
        offset += d.in_features * d.out_features
    n_cols = len(widths)
    dx, dy = 5.0, 2.6
    fig, ax = plt.subplots(figsize=(3.0 + 3.9 * (n_cols - 1), 2.6 + 2.0 * max(widths)))
    ax.set_axis_off()
    xs = np.arange(n_cols) * dx
    pos = [[(xs[c], dy * ((w - 1) / 2.0 - r)) for r in range(w)] for c, w in enumerate(widths)]
    radius = 0.42
    n = sample
    s = trace.step if trace is not None else None
    per = s.samples[n] if s is not None and len(s.samples) else s   # the drawn sample's own values

    def number(x, y, label, value, **kw):
        style = dict(fontsize=8, ha="center", va="center", zorder=5)
        style.update(kw)
        t = ax.text(x, y, f"{label} = {_fmt4(value)}", **style)
        t.set_gid(label)
        return t

    # edges: weight value and gradient
    for c, (d, _) in enumerate(stages):
        W = d.W if s is None else s.layers[c].W
        for i, (x0, y0) in enumerate(pos[c]):
            for j, (x1, y1) in enumerate(pos[c + 1]):
                w = float(W[i, j])
                color = "#1f5fa8" if w >= 0 else "#c0392b"
                ax.plot([x0 + radius, x1 - radius], [y0, y1], color=color, lw=1.2, alpha=0.7, zorder=1)
                # labels a quarter (or two thirds) of the way along, so that crossing edges and
                # edges leaving one neuron keep their labels apart
                t = 0.2 if j % 2 == 0 else 0.72
                lx = x0 + radius + t * (x1 - x0 - 2 * radius)
                ly = y0 + t * (y1 - y0)
                box = dict(boxstyle="round,pad=0.15", fc="white", ec=color, lw=0.6)
                wn = weight_names[c][i][j]
                if s is None:
                    number(lx, ly, wn, w, bbox=box)
                else:
                    number(lx, ly + 0.17, wn, w, bbox=box)
                    number(lx, ly - 0.17, f"dE/d{wn}", s.layers[c].dW[i, j], color="#7a4b00",
                           fontsize=7.5, bbox=dict(boxstyle="round,pad=0.1", fc="#fff6e0", ec="none"))
    # biases: one box per layer under the column before it (Mazur's b1, b2)
    for c, (d, _) in enumerate(stages):
        b = d.b if s is None else s.layers[c].b
        if b is None:
            continue
        bx, by = xs[c] + 0.45 * dx, pos[c + 1][-1][1] - 1.15
        ax.add_patch(plt.Rectangle((bx - 0.3, by - 0.22), 0.6, 0.44, fc="#eeeeee", ec="k", lw=0.8, zorder=2))
        ax.text(bx, by, f"b{c + 1}", ha="center", va="center", fontsize=9, zorder=4)
        same = np.all(b == b[0])
        for j, (x1, y1) in enumerate(pos[c + 1]):
            ax.plot([bx + 0.3, x1 - radius], [by, y1], color="#888888", lw=0.8, ls=":", zorder=1)
        if same:
            number(bx, by - 0.42, f"b{c + 1}", b[0], color="#444444", fontsize=8.5)
        else:
            for j in range(len(b)):
                number(bx, by - 0.42 - 0.3 * j, f"b_{names[c + 1][j]}", b[j], color="#444444")
    # neurons
    for c, column in enumerate(pos):
        for r, (x, y) in enumerate(column):
            ax.add_patch(plt.Circle((x, y), radius, fc="#f4f1de" if c == 0 else "#e8f0fb",
                                    ec="k", lw=1.2, zorder=2))
            name = names[c][r]
            ax.text(x, y, name, ha="center", va="center", fontsize=12, zorder=4)
            if per is None:
                continue
            if c == 0:
                number(x - radius - 0.15, y, name, per.X[0, r], ha="right")
                continue
            layer = per.layers[c - 1]
            number(x, y + radius + 0.48, f"net_{name}", layer.net[0, r])
            number(x, y + radius + 0.2, f"out_{name}", layer.out[0, r])
            number(x, y - radius - 0.2, f"delta_{name}", layer.delta[0, r], color="#8e44ad")
            if c == n_cols - 1:
                number(x + radius + 0.15, y + 0.12, f"t{r + 1}", per.T[0, r], ha="left")
                number(x + radius + 0.15, y - 0.16, f"E_{name}", _error_term(per, r), ha="left",
                       color="#555555")
    top = dy * (max(widths) - 1) / 2.0 + 1.4
    acts = [a.activation if a.activation != "softmax" else "softmax (in the loss)"
            for a in (s.layers if s is not None else [])] or [
        (type(a).__name__ if a is not None else "linear") for _, a in stages]
    for c in range(n_cols):
        label = ("inputs" if c == 0 else
                 ("output" if c == n_cols - 1 else "hidden") + f" layer\n{acts[c - 1]}")
        ax.text(xs[c], top, label, ha="center", va="bottom", fontsize=9.5, fontweight="bold")
    ax.set_xlim(xs[0] - 1.6, xs[-1] + 1.9)
    ax.set_ylim(pos[-1][-1][1] - 2.3 if len(pos[-1]) >= max(widths) else -dy * (max(widths) - 1) / 2.0 - 2.3,
                top + 0.9)
    ax.set_aspect("equal")
    if title is None:
        if s is None:
            title = "Network: weights w on the edges, biases b per layer"
        else:
            N = s.X.shape[0]
            which = "" if N == 1 else f"\nneuron values of sample {n + 1} of {N}; gradients the mean over the batch"
            title = (f"One step: net and out from the forward pass, delta = dE/dnet and dE/dw from the "
                     f"backward pass (E = {_fmt4(s.E)}){which}")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.trace = trace
    return _finish(fig, path)


def _error_term(s, k: int) -> float:
    o, t = s.layers[-1].out[0, k], s.T[0, k]
    return (t - o) ** 2 / s.T.shape[1] if s.loss == "mse" else -t * np.log(o)


def _network_heatmaps(net, dense, X, T, loss, path, title):
    """Per Dense layer a heat map of W and, given data, of dW: for nets too big for numbers."""
    import copy

    from .layers import Dense
    plt = pyplot()
    grads = None
    if X is not None:
        work = copy.deepcopy(net)
        loss.forward(work.forward(X), T)
        work.backward(loss.backward())
        grads = [layer.dW.copy() for layer in work if isinstance(layer, Dense)]
    rows = 1 if grads is None else 2
    fig, axes = plt.subplots(rows, len(dense), figsize=(3.4 * len(dense), 3.2 * rows), squeeze=False)
    for c, d in enumerate(dense):
        for r, (A, what) in enumerate([(d.W, "W")] + ([(grads[c], "dW")] if grads else [])):
            ax = axes[r][c]
            lim = float(np.abs(A).max()) or 1.0
            im = ax.imshow(A, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
            ax.set_title(f"layer {c + 1} {what} ({d.in_features}x{d.out_features})", fontsize=9)
            ax.set_xlabel("out")
            ax.set_ylabel("in")
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title or ("Weights W and gradients dW per layer (in rows, out columns)" if grads
                           else "Weights W per layer (in rows, out columns)"))
    fig.tight_layout()
    return _finish(fig, path)


# -- training health -------------------------------------------------------------------------
def plot_health(history, path=None, *, title: str = "Training health"):
    """The per-layer numbers of a ``HealthMonitor`` over the epochs, in four panels: gradient
    norms and update-to-weight ratios (log scales; the ratio with its healthy 1e-3 marked),
    the fraction of dead ReLUs and of saturated sigmoid/tanh activations.

    ``history`` is a ``History`` from ``fit`` with a ``HealthMonitor`` among its callbacks, its
    ``.history`` dict, or the monitor itself (its ``records``). Returns the Figure; writes a
    PNG to ``path`` when given.
    """
    curves = getattr(history, "records", None) or getattr(history, "history", history)
    if not isinstance(curves, dict):
        raise ValueError(f"plot_health: expected a History, a HealthMonitor or a dict, got "
                         f"{type(history).__name__}")
    panels = [("grad_norm", "gradient norm |g|", True), ("update_ratio", "update / weight norm", True),
              ("dead_fraction", "dead ReLU units", False), ("saturated_fraction", "saturated activations", False)]
    found = {suffix: {k[len("health/"):-len(suffix) - 1]: v for k, v in curves.items()
                      if k.startswith("health/") and k.endswith("/" + suffix) and v}
             for suffix, _, _ in panels}
    if not any(found.values()):
        raise ValueError("plot_health: no 'health/...' values found; pass a HealthMonitor to "
                         "fit(callbacks=[...]) first")
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11.0, 7.6))
    for ax, (suffix, label, log) in zip(axes.ravel(), panels):
        series = found[suffix]
        for i, (name, values) in enumerate(series.items()):
            values = np.asarray(values, dtype=float)
            ax.plot(np.arange(1, len(values) + 1), values, lw=1.8, marker="o", ms=3,
                    color=_CLASS_COLORS[i % len(_CLASS_COLORS)], label=name)
        if suffix == "update_ratio" and series:
            ax.axhline(1e-3, color="k", lw=0.8, ls=":", label="~1e-3 healthy")
        positive = [v for vals in series.values() for v in vals if v > 0 and np.isfinite(v)]
        if log and positive:
            ax.set_yscale("log")
        if not log:
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(label if series else f"{label}: no such layers")
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        if series:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)
