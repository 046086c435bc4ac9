"""Regenerate what the docs show from minimlp itself.

    python docs/make_figures.py          # from the repository root

* ``docs/images/mazur-network.png``: Mazur's 2-2-2 network with its initial weights
  (``minimlp.plot.plot_network``).
* ``docs/images/loss-curve.png`` and ``docs/images/decision-boundary.png``: a small ReLU
  network trained with ``fit`` on two interleaved half-moons (``plot_history``,
  ``plot_decision_boundary``).
* The trace embedded in ``docs/backprop.md`` (``minimlp explain --format markdown``);
  ``tests/test_docs.py`` fails when it differs from what minimlp prints now.

Everything is seeded, so a rerun gives the same pictures.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parent
IMAGES = DOCS / "images"
sys.path.insert(0, str(DOCS.parent))

import minimlp as mm  # noqa: E402

TRACE_BEGIN = "<!-- begin: minimlp explain --format markdown (regenerate with python docs/make_figures.py) -->"
TRACE_END = "<!-- end: minimlp explain --format markdown -->"


def explain_markdown() -> str:
    """What ``minimlp explain --format markdown`` prints for Mazur's network."""
    from minimlp.commands.explain import explain, resolve

    class Args:
        network = config = weights = biases = inputs = targets = None
        activation = output_activation = lr = train_biases = None

    return explain(resolve(Args()), "markdown")


def embedded_trace(text: str) -> str:
    """The trace between the markers of backprop.md (without the marker lines)."""
    m = re.search(re.escape(TRACE_BEGIN) + r"\n(.*?)" + re.escape(TRACE_END), text, re.S)
    if m is None:
        raise ValueError("backprop.md: trace markers not found")
    return m.group(1)


def update_trace(path: Path = DOCS / "backprop.md") -> None:
    text = path.read_text()
    old = embedded_trace(text)
    new = "\n" + explain_markdown() + "\n"
    path.write_text(text.replace(TRACE_BEGIN + "\n" + old + TRACE_END, TRACE_BEGIN + "\n" + new + TRACE_END))


def moons(n: int, noise: float, rng: np.random.Generator):
    """Two interleaved half-circles in the plane: X (n, 2), labels (n,) in {0, 1}."""
    half = n // 2
    a = rng.uniform(0, np.pi, half)
    b = rng.uniform(0, np.pi, n - half)
    X = np.concatenate([np.c_[np.cos(a), np.sin(a)], np.c_[1 - np.cos(b), 0.5 - np.sin(b)]])
    X += noise * rng.standard_normal(X.shape)
    y = np.r_[np.zeros(half, int), np.ones(n - half, int)]
    return X, y


def network_figure() -> None:
    from minimlp.plot import plot_network
    from minimlp.tutorial import tutorial_network

    net, _, _ = tutorial_network("mazur")
    fig = plot_network(net, IMAGES / "mazur-network.png",
                       title="Mazur's 2-2-2 network: initial weights and biases")
    _close(fig)


def training_figures() -> None:
    from minimlp.plot import plot_decision_boundary, plot_history

    rng = np.random.default_rng(7)
    X, y = moons(400, 0.15, rng)
    Xv, yv = moons(200, 0.15, rng)
    net = mm.Sequential(mm.Dense(2, 16, init="he_uniform", rng=1), mm.ReLU(),
                        mm.Dense(16, 16, init="he_uniform", rng=2), mm.ReLU(),
                        mm.Dense(16, 2, rng=3))
    history = net.fit(X, y, loss=mm.CrossEntropyLoss(), optimizer=mm.Adam(net.parameters(), lr=0.01),
                      epochs=60, batch_size=32, validation_data=(Xv, yv), metrics=["accuracy"],
                      seed=0, verbose=0)
    _close(plot_history(history, IMAGES / "loss-curve.png",
                        title="2-16-16-2 ReLU network on two moons (Adam, lr 0.01)"))
    _close(plot_decision_boundary(net, Xv, yv, IMAGES / "decision-boundary.png",
                                  title="Decision boundary on the validation points"))


def _close(fig) -> None:
    import matplotlib.pyplot as plt
    plt.close(fig)


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    update_trace()
    network_figure()
    training_figures()
    print("updated docs/backprop.md and", ", ".join(sorted(p.name for p in IMAGES.glob("*.png"))))


if __name__ == "__main__":
    main()
