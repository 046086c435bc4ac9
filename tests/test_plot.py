"""minimlp.plot: figures with the right content, PNGs written, headless, matplotlib lazy.

Expected titles and colours come from hand-built models whose answers are known by hand
(a linear classifier "x1 > 0", a line y = 2x), not from minimlp's own computations.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import minimlp as mm
from minimlp.tutorial import tutorial_network

plot = pytest.importorskip("minimlp.plot")
plt = pytest.importorskip("matplotlib.pyplot")
mpl_image = pytest.importorskip("matplotlib.image")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def png_shape(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return mpl_image.imread(path).shape


def x1_classifier():
    """Logits (-x1, x1): class 1 where x1 > 0, class 0 where x1 < 0."""
    net = mm.Sequential(mm.Dense(2, 2, init="zeros"))
    net[0].W[...] = [[-1.0, 1.0], [0.0, 0.0]]
    return net


def test_plot_history_curves_labels_and_png(tmp_path):
    history = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.6, 0.4],
               "accuracy": [0.5, 0.75, 0.9], "val_accuracy": [0.4, 0.7, 0.8], "time": [0.1] * 3}
    fig = plot.plot_history(history, tmp_path / "h.png")
    assert isinstance(fig, plt.Figure)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    loss_ax, acc_ax = axes
    assert loss_ax.get_xlabel() == "epoch" and loss_ax.get_ylabel() == "loss"
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_ax.lines[1].get_ydata(), [1.1, 0.6, 0.4])
    np.testing.assert_array_equal(acc_ax.lines[0].get_ydata(), [0.5, 0.75, 0.9])
    legend = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert legend == ["training (last 0.25)", "validation (last 0.4)"]
    assert fig._suptitle.get_text() == "Training history"
    assert loss_ax.get_yscale() == "linear"
    h, w, _ = png_shape(tmp_path / "h.png")
    assert w > h > 200


def test_plot_history_uses_a_log_axis_for_a_loss_spanning_more_than_tenfold():
    fig = plot.plot_history({"loss": [1.0, 0.5, 0.09]})
    assert len(fig.axes) == 1
    assert fig.axes[0].get_yscale() == "log"
    assert fig.axes[0].get_ylabel() == "loss (log scale)"
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "training (last 0.09)"


def test_plot_history_refuses_what_is_not_a_history():
    with pytest.raises(ValueError, match="plot_history.*'loss'"):
        plot.plot_history({"accuracy": [0.5]})
    with pytest.raises(ValueError, match="plot_history"):
        plot.plot_history([1.0, 0.5])


def test_decision_boundary_regions_title_and_points(tmp_path):
    X = np.array([[1.0, 0.0], [2.0, 1.0], [-1.0, 0.5], [-2.0, -1.0]])
    labels = np.array([1, 1, 0, 1])       # the last point is on the wrong side: 3 of 4 right
    fig = plot.plot_decision_boundary(x1_classifier(), X, labels, tmp_path / "d.png", resolution=50)
    ax = fig.axes[0]
    assert ax.get_title() == "Decision boundary: accuracy 75.0% of the final weights on these 4 points"
    assert ax.get_xlabel() == "x1" and ax.get_ylabel() == "x2"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
    image = ax.images[0].get_array()
    assert image.shape == (50, 50, 3)
    left, right = image[25, 2], image[25, -3]     # x1 < 0: class 0 (blue); x1 > 0: class 1 (orange)
    assert left[2] > left[0] and right[0] > right[2]
    # The data are drawn on top: one scatter per class holding its points.
    offsets = np.vstack([c.get_offsets() for c in ax.collections if c.get_label().startswith("class")])
    assert sorted(map(tuple, offsets)) == sorted(map(tuple, X))
    assert png_shape(tmp_path / "d.png")[0] > 200


@pytest.mark.parametrize("head", ["logit", "sigmoid"])
def test_decision_boundary_of_a_one_column_binary_classifier(head):
    layers = [mm.Dense(2, 1, init="zeros")]
    layers[0].W[...] = [[1.0], [0.0]]
    if head == "sigmoid":
        layers.append(mm.Sigmoid())
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    fig = plot.plot_decision_boundary(mm.Sequential(*layers), X, np.array([1, 0]), resolution=20)
    assert "accuracy 100.0%" in fig.axes[0].get_title()


def test_decision_boundary_refuses_non_2d_inputs():
    net = mm.Sequential(mm.Dense(3, 2, rng=0))
    with pytest.raises(ValueError, match=r"X must have shape \(N, 2\), got \(4, 3\)"):
        plot.plot_decision_boundary(net, np.zeros((4, 3)), np.zeros(4, int))
    with pytest.raises(ValueError, match="expected 4 labels"):
        plot.plot_decision_boundary(x1_classifier(), np.zeros((4, 2)), np.zeros(3, int))


def test_plot_regression_line_points_and_error(tmp_path):
    net = mm.Sequential(mm.Dense(1, 1, init="zeros"))
    net[0].W[...] = 2.0                    # y_hat = 2x
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    Y = np.array([[0.5], [2.0], [4.0], [5.0]])  # errors -0.5, 0, 0, 1: MSE = 1.25 / 4
    fig = plot.plot_regression(net, X, Y, tmp_path / "r.png")
    ax = fig.axes[0]
    assert ax.get_title() == "Regression: mean squared error 0.3125 on these 4 points"
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_ydata(), 2 * line.get_xdata())
    assert line.get_xdata()[0] == 0.0 and line.get_xdata()[-1] == 3.0
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), np.hstack([X, Y]))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["targets", "model prediction"]
    assert png_shape(tmp_path / "r.png")[0] > 200


def test_plot_regression_refuses_2d_inputs():
    with pytest.raises(ValueError, match=r"X must have shape \(N, 1\)"):
        plot.plot_regression(mm.Sequential(mm.Dense(2, 1, rng=0)), np.zeros((3, 2)), np.zeros(3))


def test_plot_network_writes_the_tutorial_weights_on_the_edges(tmp_path):
    net, _, _ = tutorial_network("mazur")
    fig = plot.plot_network(net, tmp_path / "n.png")          # the older (net, path) form
    texts = {t.get_text() for t in fig.axes[0].texts}
    # Mazur's published weights w1..w8 and biases b1 = 0.35, b2 = 0.60, named as in the post.
    for k, w in enumerate(("0.15", "0.2", "0.25", "0.3", "0.4", "0.45", "0.5", "0.55")):
        assert f"w{k + 1} = {w}" in texts
    assert {"b1 = 0.35", "b2 = 0.6", "i1", "i2", "h1", "h2", "o1", "o2"} <= texts
    assert "hidden layer\nSigmoid" in texts
    assert not any(t.startswith(("net_", "dE/", "delta_")) for t in texts)   # no step without data
    assert png_shape(tmp_path / "n.png")[0] > 200


def drawn_numbers(fig):
    """``gid -> number`` for every Text artist that carries a trace label."""
    out = {}
    for t in fig.axes[0].texts:
        if t.get_gid():
            assert t.get_text().startswith(t.get_gid() + " = "), t.get_text()
            out[t.get_gid()] = float(t.get_text().split(" = ")[1])
    return out


def close4(a, b):
    """Equal at the 4 significant digits drawn."""
    return abs(a - b) <= 5e-4 * max(abs(b), 1e-300) + 1e-15


def test_plot_network_draws_mazurs_figure_with_the_traces_numbers(tmp_path, golden):
    net, X, T = tutorial_network("mazur")
    W0 = net[0].W.copy()
    fig = plot.plot_network(net, X, T, tmp_path / "m.png")
    np.testing.assert_array_equal(net[0].W, W0)                   # traced on a copy
    drawn = drawn_numbers(fig)
    trace = mm.explain.trace_step(tutorial_network("mazur")[0], X, T, mm.MSELoss(), 0.5)
    labels = (["i1", "i2", "t1", "t2", "b1", "b2"]
              + [f"{q}_{n}" for q in ("net", "out", "delta") for n in ("h1", "h2", "o1", "o2")]
              + [f"w{k}" for k in range(1, 9)] + [f"dE/dw{k}" for k in range(1, 9)] + ["E_o1", "E_o2"])
    assert set(labels) <= set(drawn), sorted(set(labels) - set(drawn))
    for label in labels:
        if label in trace.values:
            assert close4(drawn[label], trace[label]), (label, drawn[label], trace[label])
    # the weights' values are the trace's starting weights; w5 is hidden h1 -> output o1
    assert drawn["w5"] == 0.4 and drawn["w2"] == 0.2 and drawn["b1"] == 0.35
    # ... and, independently, the golden (non-minimlp) gradients
    named = golden["mazur"]["gradients"]["half_sse"]["named"]
    for k in range(1, 9):
        assert close4(drawn[f"dE/dw{k}"], named[f"dE_dw{k}"]), k
    assert close4(drawn["delta_h1"], golden["mazur"]["gradients"]["half_sse"]["intermediates"]["delta_h1"])
    assert png_shape(tmp_path / "m.png")[0] > 300


def test_plot_network_for_a_deeper_softmax_batch_uses_the_batch_gradient():
    net = mm.explain.build_stack([[[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]], [[0.7, -0.8, 0.9], [0.1, 0.2, 0.3]],
                                  [[0.5, 0.4], [-0.3, 0.2]]], [0.1, 0.2, 0.3], "tanh", "identity")
    X, T = np.array([[0.5, 0.2], [1.0, -1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    fig = plot.plot_network(net, X, T, loss=mm.CrossEntropyLoss(), sample=1)
    drawn = drawn_numbers(fig)
    import copy
    trace = mm.explain.trace_step(copy.deepcopy(net), X, T, mm.CrossEntropyLoss(), 0.5)
    for l, layer in enumerate(trace.layers):
        for i, row in enumerate(layer.weight_names):
            for j, wn in enumerate(row):
                assert close4(drawn[f"dE/d{wn}"], layer.dW[i, j]), wn      # the batch's mean
        for j, n in enumerate(layer.neurons):
            assert close4(drawn[f"out_{n}"], layer.out[1, j]), n           # sample 2's values
    assert "w16" in drawn and "w17" not in drawn and "h2_2" in {t.get_text() for t in fig.axes[0].texts}
    assert "sample 2 of 2" in fig.axes[0].get_title()


def test_plot_network_falls_back_to_heat_maps_for_a_wide_net():
    net = mm.Sequential(mm.Dense(4, 20, rng=0), mm.ReLU(), mm.Dense(20, 3, rng=1))
    X, T = np.random.default_rng(0).normal(size=(5, 4)), np.zeros((5, 3))
    fig = plot.plot_network(net, X, T)
    assert [ax.get_title() for ax in fig.axes if ax.images] == [
        "layer 1 W (4x20)", "layer 2 W (20x3)", "layer 1 dW (4x20)", "layer 2 dW (20x3)"]
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    np.testing.assert_array_equal(images[0], net[0].W)
    # dW by hand: MSE over 5x3 elements, dY = 2 (Y - T) / 15, back through ReLU and Dense 2
    H = np.maximum(X @ net[0].W + net[0].b, 0)
    dY = 2 * (H @ net[2].W + net[2].b - T) / 15
    np.testing.assert_allclose(images[3], H.T @ dY, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(images[2], X.T @ ((dY @ net[2].W.T) * (H > 0)), rtol=1e-12, atol=1e-15)
    assert len(plot.plot_network(net).axes) == 4                 # W only: 2 maps, 2 colour bars


def test_plot_network_refuses_half_a_step():
    net, X, T = tutorial_network("mazur")
    with pytest.raises(ValueError, match="both X and T"):
        plot.plot_network(net, X)


def test_cli_explain_plot_draws_the_traced_numbers(tmp_path, capsys):
    from minimlp.cli import main
    assert main(["explain", "--plot", str(tmp_path / "e.png")]) == 0
    out = capsys.readouterr().out
    assert "dE/dw5 = " in out and png_shape(tmp_path / "e.png")[0] > 300
    assert main(["explain", "--plot", str(tmp_path / "no" / "e.png")]) == 2
    assert "--plot" in capsys.readouterr().err


def test_import_is_lazy_and_plots_work_without_a_display(tmp_path):
    code = (
        "import sys, minimlp, minimlp.plot\n"
        "assert 'matplotlib' not in sys.modules, 'import minimlp loaded matplotlib'\n"
        "from minimlp.tutorial import tutorial_network\n"
        "fig = minimlp.plot.plot_network(tutorial_network('mazur')[0], sys.argv[1])\n"
        "import matplotlib\n"
        "print(matplotlib.get_backend().lower())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "n.png")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "agg"
    assert os.path.getsize(tmp_path / "n.png") > 1000
