"""The tutorial networks reproduced through the public API, against tests/golden (float64).

Golden values come from two independent implementations (see tests/golden/README.md);
minimlp computed none of them.
"""
import numpy as np
import pytest

import minimlp as mm
from minimlp.tutorial import tutorial_network, weight_parameters

NETS = ["mazur", "notebook"]
MODES = ["frozen", "per_neuron"]


def trainable(net, mode):
    return weight_parameters(net) if mode == "frozen" else net.parameters()


def dense_params(net):
    return {"W_hidden": net[0].W, "b_hidden": net[0].b, "W_output": net[2].W, "b_output": net[2].b}


@pytest.mark.parametrize("name", NETS)
def test_forward_and_loss(name, golden):
    g = golden[name]["forward"]
    net, X, T = tutorial_network(name)
    Y = net.forward(X)
    H = net[1]._cache  # the hidden layer's cached output
    np.testing.assert_allclose(H[0], [g["out_h1"], g["out_h2"]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(net[2]._X[0], [g["out_h1"], g["out_h2"]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(Y[0], [g["out_o1"], g["out_o2"]], rtol=0, atol=1e-12)
    assert mm.MSELoss().forward(Y, T) == pytest.approx(g["E_total_half_sse"], abs=1e-12)
    assert mm.MSELoss().forward(Y, T) == pytest.approx(g["MSE_mean_over_2_outputs"], abs=1e-12)
    net_in = X @ net[0].W + net[0].b
    np.testing.assert_allclose(net_in[0], [g["net_h1"], g["net_h2"]], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("loss_name", ["mse", "half_sse"])
def test_gradients_at_initial_point(name, loss_name, golden):
    g = golden[name]["gradients"][loss_name]["dense_in_out"]
    net, X, T = tutorial_network(name)
    loss = mm.MSELoss()  # equals half-SSE for one sample with two outputs (golden README)
    loss.forward(net.forward(X), T)
    dX = net.backward(loss.backward())
    assert dX.shape == X.shape
    for key, got in [("dW_hidden", net[0].dW), ("db_hidden", net[0].db),
                     ("dW_output", net[2].dW), ("db_output", net[2].db)]:
        np.testing.assert_allclose(got, g[key], rtol=0, atol=1e-12, err_msg=key)
    inter = golden[name]["gradients"][loss_name]["intermediates"]
    np.testing.assert_allclose(net[2].db, [inter["delta_o1"], inter["delta_o2"]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(net[0].db, [inter["delta_h1"], inter["delta_h2"]], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("mode", MODES)
def test_one_sgd_step(name, mode, golden):
    g = golden[name]["one_step"]["mse"][mode]
    net, X, T = tutorial_network(name)
    loss = mm.MSELoss()
    opt = mm.SGD(trainable(net, mode), lr=0.5)
    loss.forward(net.forward(X), T)
    net.backward(loss.backward())
    opt.step()
    d = g["dense_in_out"]
    got = dense_params(net)
    np.testing.assert_allclose(got["W_hidden"], d["W_hidden"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["W_output"], d["W_output"], rtol=0, atol=1e-12)
    if mode == "frozen":
        np.testing.assert_array_equal(got["b_hidden"], [0.35, 0.35])
        np.testing.assert_array_equal(got["b_output"], [0.60, 0.60])
    else:
        np.testing.assert_allclose(got["b_hidden"], d["b_hidden"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(got["b_output"], d["b_output"], rtol=0, atol=1e-12)
    assert loss.forward(net.predict(X), T) == pytest.approx(g["E_after"], abs=1e-12)


def _train_and_record(name, mode, steps):
    net, X, T = tutorial_network(name)
    loss = mm.MSELoss()
    opt = mm.SGD(trainable(net, mode), lr=0.5)
    record = {0: loss.forward(net.predict(X), T)}
    for k in range(1, max(steps) + 1):
        loss.forward(net.forward(X), T)
        net.backward(loss.backward())
        opt.step()
        if k in steps:
            record[k] = (loss.forward(net.predict(X), T), net.predict(X)[0], dense_params(net))
    return record


@pytest.mark.parametrize("name,steps,tol", [
    ("mazur", (1, 2, 10, 100, 1000, 9999, 10000), 1e-9),
    ("notebook", (1, 2, 10, 100, 200, 500), 1e-10),
])
@pytest.mark.parametrize("mode", MODES)
def test_loss_after_many_steps(name, steps, tol, mode, golden):
    g = golden[name]["training"]["mse"][mode]
    rec = _train_and_record(name, mode, set(steps))
    assert rec[0] == pytest.approx(g["E_after_steps"]["0"], abs=1e-12)
    for k in steps:
        E, out, params = rec[k]
        assert E == pytest.approx(g["E_after_steps"][str(k)], abs=tol), f"step {k}"
        np.testing.assert_allclose(out, g["outputs_after_steps"][str(k)], rtol=0, atol=tol)
    final = g["params_after_steps"][str(steps[-1])]["dense_in_out"]
    np.testing.assert_allclose(params["W_hidden"], final["W_hidden"], rtol=0, atol=tol)
    np.testing.assert_allclose(params["W_output"], final["W_output"], rtol=0, atol=tol)
    if mode == "per_neuron":
        np.testing.assert_allclose(params["b_output"], final["b_output"], rtol=0, atol=tol)


def test_mazur_published_after_training_figures_are_not_the_correct_algorithm(golden):
    """The post's 0.291027924 after one step comes from a buggy first script (golden README)."""
    rec = _train_and_record("mazur", "frozen", {1})
    assert round(rec[1][0], 9) == 0.291027774
    assert round(rec[1][0], 9) != 0.291027924
