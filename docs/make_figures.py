"""Regenerate what the docs show from minimlp itself.

    python docs/make_figures.py          # from the repository root

* ``docs/images/mazur-network.png``: Mazur's 2-2-2 network with its initial weights, and
  ``docs/images/mazur-step.png``: the same after one forward and backward pass, every number
  on it (``minimlp.plot.plot_network``).
* ``docs/images/loss-curve.png`` and ``docs/images/decision-boundary.png``: a small ReLU
  network trained with ``fit`` on ``mm.datasets.moons`` (``plot_history``,
  ``plot_decision_boundary``).
* The trace embedded in ``docs/backprop.md`` (``minimlp explain --format markdown``);
  ``tests/test_docs.py`` fails when it differs from what minimlp prints now.

Everything is seeded, so a rerun gives the same pictures.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

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


def network_figure() -> None:
    from minimlp.plot import plot_network
    from minimlp.tutorial import tutorial_network

    net, _, _ = tutorial_network("mazur")
    fig = plot_network(net, IMAGES / "mazur-network.png",
                       title="Mazur's 2-2-2 network: initial weights and biases")
    _close(fig)
    net, X, T = tutorial_network("mazur")
    _close(plot_network(net, X, T, IMAGES / "mazur-step.png"))   # the step, every number on it


def training_figures() -> None:
    from minimlp.plot import plot_decision_boundary, plot_history

    X, y = mm.datasets.moons(400, noise=0.15, seed=7)
    Xv, yv = mm.datasets.moons(200, noise=0.15, seed=8)
    net = mm.Sequential(mm.Dense(2, 16, init="he_uniform", rng=1), mm.ReLU(),
                        mm.Dense(16, 16, init="he_uniform", rng=2), mm.ReLU(),
                        mm.Dense(16, 2, rng=3))
    history = net.fit(X, y, loss=mm.CrossEntropyLoss(), optimizer=mm.Adam(net.parameters(), lr=0.01),
                      epochs=60, batch_size=32, validation_data=(Xv, yv), metrics=["accuracy"],
                      seed=0, verbose=0)
    _close(plot_history(history, IMAGES / "loss-curve.png",
                        title="2-16-16-2 ReLU network on two moons (Adam, lr 0.01)"))
    _close(plot_decision_boundary(net, Xv, yv, IMAGES / "decision-boundary.png"))  # on the validation points


def _close(fig) -> None:
    import matplotlib.pyplot as plt
    plt.close(fig)


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    update_trace()
    network_figure()
    training_figures()
    print("updated docs/backprop.md and docs/images/{mazur-network,loss-curve,decision-boundary}.png")


if __name__ == "__main__":
    main()
