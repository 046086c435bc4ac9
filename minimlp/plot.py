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


def _pyplot():
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
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 4.0), squeeze=False)
    for ax, name in zip(axes[0], names):
        train = np.asarray(curves[name], dtype=float)
        ax.plot(epochs[:len(train)], train, color=_CLASS_COLORS[0], lw=2,
                label=f"training (last {train[-1]:.4g})")
        val = curves.get(f"val_{name}")
        if val:
            val = np.asarray(val, dtype=float)
            ax.plot(epochs[:len(val)], val, color=_CLASS_COLORS[1], lw=2, ls="--",
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
    plt = _pyplot()
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
    ax.set_title(title or f"Decision boundary: accuracy {100 * acc:.1f}% on these {X.shape[0]} points")
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
    plt = _pyplot()
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
def plot_network(net, path=None, *, title: str | None = None, max_labeled_edges: int = 64):
    """A diagram of a small dense network: neurons as circles, weights written on the edges.

    Columns are the input and each ``Dense`` layer's outputs; the activation that follows a
    layer is written under its column, each neuron's bias beside it. With more than
    ``max_labeled_edges`` weights the numbers are left out and edge width and colour show
    them instead (blue positive, red negative). Returns the Figure; writes a PNG to
    ``path`` when given.
    """
    from .layers import Dense
    layers = list(net) if hasattr(net, "__iter__") else [net]
    dense = [(i, layer) for i, layer in enumerate(layers) if isinstance(layer, Dense)]
    if not dense:
        raise ValueError("plot_network: the network has no Dense layer to draw")
    widths = [dense[0][1].in_features] + [layer.out_features for _, layer in dense]
    if max(widths) > 16:
        raise ValueError(f"plot_network: layers of widths {widths} are too wide to draw; "
                         "the diagram is for small networks (at most 16 neurons per layer)")
    acts = []
    for k, (i, _) in enumerate(dense):
        end = dense[k + 1][0] if k + 1 < len(dense) else len(layers)
        names = [type(layer).__name__ for layer in layers[i + 1:end]]
        acts.append(", ".join(names) if names else "linear")
    n_edges = sum(a * b for a, b in zip(widths, widths[1:]))
    labeled = n_edges <= max_labeled_edges

    plt = _pyplot()
    n_cols = len(widths)
    fig, ax = plt.subplots(figsize=(2.0 + 3.2 * (n_cols - 1), 1.6 + 1.35 * max(widths)))
    ax.set_axis_off()
    xs = np.arange(n_cols) * 3.2
    pos = [[(xs[c], (w - 1) / 2.0 - r) for r in range(w)] for c, w in enumerate(widths)]
    prefix = ["x"] + ["h" if c < n_cols - 1 else "o" for c in range(1, n_cols)]
    radius = 0.28
    wmax = max(float(np.abs(layer.W).max()) for _, layer in dense) or 1.0
    for c, (_, layer) in enumerate(dense):
        W, b = layer.W, layer.b
        for r_in, (x0, y0) in enumerate(pos[c]):
            for r_out, (x1, y1) in enumerate(pos[c + 1]):
                w = float(W[r_in, r_out])
                color = "#1f5fa8" if w >= 0 else "#c0392b"
                lw = 1.2 if labeled else 0.4 + 2.6 * abs(w) / wmax
                ax.plot([x0 + radius, x1 - radius], [y0, y1], color=color, lw=lw, alpha=0.75, zorder=1)
                if labeled:
                    # Labels sit a third of the way along their edge, so that edges leaving
                    # one neuron fan their labels apart and crossing edges do not overlap.
                    t = 0.28 if r_out % 2 == 0 else 0.62
                    lx, ly = x0 + radius + t * (x1 - x0 - 2 * radius), y0 + t * (y1 - y0)
                    ax.text(lx, ly, f"w={w:.4g}", fontsize=8.5, ha="center", va="center", zorder=3,
                            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec=color, lw=0.6))
        for r_out, (x1, y1) in enumerate(pos[c + 1]):
            if b is not None:
                ax.text(x1, y1 - radius - 0.12, f"b={float(b[r_out]):.4g}", fontsize=8.5,
                        ha="center", va="top", color="#444444", zorder=3)
    for c, column in enumerate(pos):
        for r, (x, y) in enumerate(column):
            ax.add_patch(plt.Circle((x, y), radius, fc="#f4f1de" if c == 0 else "#e8f0fb",
                                    ec="k", lw=1.2, zorder=2))
            ax.text(x, y, f"{prefix[c]}{r + 1}", ha="center", va="center", fontsize=11, zorder=4)
    top = (max(widths) - 1) / 2.0 + 0.7
    for c in range(n_cols):
        label = (f"input\n({widths[0]} features)" if c == 0
                 else f"Dense {widths[c - 1]}->{widths[c]}\nthen {acts[c - 1]}")
        ax.text(xs[c], top, label, ha="center", va="bottom", fontsize=9.5, fontweight="bold")
    ax.set_xlim(xs[0] - 0.9, xs[-1] + 0.9)
    ax.set_ylim(-(max(widths) - 1) / 2.0 - 0.85, top + 0.75)
    ax.set_aspect("equal")
    ax.set_title(title or "Network: weights on the edges, biases under the neurons")
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
    plt = _pyplot()
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
