"""HealthMonitor: each recorded number against the same quantity computed here with plain
numpy from the weights and data, plus History integration and plot_health."""
import numpy as np
import pytest

import minimlp as mm
from minimlp.health import HealthMonitor
from minimlp.training import fit

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 3))
T = RNG.standard_normal((40, 2))


def net_relu():
    return mm.Sequential(mm.Dense(3, 6, rng=0), mm.ReLU(), mm.Dense(6, 2, rng=1))


def test_grad_norm_and_update_ratio_one_full_batch():
    net = net_relu()
    W0 = [p.value.copy() for p in net.parameters()]
    mon = HealthMonitor()
    fit(net, X, T, loss=mm.MSELoss(), optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
        batch_size=40, shuffle=False, verbose=0, callbacks=[mon])
    for (name, p), w0 in zip(net.named_parameters(), W0):
        # one batch: the grad still held is that batch's, at the initial weights
        assert mon.records[f"health/{name}/grad_norm"] == [pytest.approx(np.linalg.norm(p.grad), rel=1e-12)]
        if p.value.ndim == 2:
            ratio = np.linalg.norm(p.value - w0) / np.linalg.norm(w0)
            assert mon.records[f"health/{name}/update_ratio"] == [pytest.approx(ratio, rel=1e-10)]
            # plain SGD: the step is lr * grad
            assert ratio == pytest.approx(0.1 * np.linalg.norm(p.grad) / np.linalg.norm(w0), rel=1e-10)
        else:
            assert f"health/{name}/update_ratio" not in mon.records


def test_dead_relu_fraction_counts_units_never_active_in_the_epoch():
    net = net_relu()
    dense = net[0]
    dense.W[:, :2] = 0.0
    dense.b[:2] = -1.0            # units 0 and 1: pre-activation -1 for every sample -> dead
    dense.b[2:] = 0.0             # units 2..5: active for some samples only -> alive
    active = (X @ dense.W + dense.b) > 0
    assert not active[:, :2].any() and active[:, 2:].any(axis=0).all() and not active[:, 2:].all()
    mon = HealthMonitor()
    fit(net, X, T, loss=mm.MSELoss(), optimizer=mm.SGD(net.parameters(), lr=0.0), epochs=2,
        batch_size=8, verbose=0, callbacks=[mon], seed=0)
    assert mon.records["health/1.ReLU/dead_fraction"] == [pytest.approx(2 / 6)] * 2


def test_saturated_fraction_matches_numpy():
    net = mm.Sequential(mm.Dense(3, 5, rng=3), mm.Tanh(), mm.Dense(5, 4, rng=4), mm.Sigmoid(),
                        mm.Dense(4, 2, rng=5))
    net[0].W[...] *= 4.0           # big weights: many tanh units in their tails
    net[2].W[...] *= 6.0
    H = np.tanh(X @ net[0].W + net[0].b)
    S = 1.0 / (1.0 + np.exp(-(H @ net[2].W + net[2].b)))
    mon = HealthMonitor(saturation=0.95)
    fit(net, X, T, loss=mm.MSELoss(), optimizer=mm.SGD(net.parameters(), lr=0.0), epochs=1,
        batch_size=16, verbose=0, callbacks=[mon], seed=1)   # lr 0: weights stay as above
    tanh_sat = np.mean(np.abs(H) > 0.95)
    sig_sat = np.mean((S > 0.975) | (S < 0.025))
    assert 0.1 < tanh_sat < 0.9
    assert mon.records["health/1.Tanh/saturated_fraction"] == [pytest.approx(tanh_sat)]
    assert mon.records["health/3.Sigmoid/saturated_fraction"] == [pytest.approx(sig_sat)]


def test_history_keys_every_and_to_history():
    net = net_relu()
    mon = HealthMonitor(every=2)
    hist = fit(net, X, T, loss=mm.MSELoss(), optimizer=mm.Adam(net.parameters(), lr=0.01), epochs=3,
               batch_size=10, verbose=0, callbacks=[mon], seed=0)
    keys = [k for k in hist.history if k.startswith("health/")]
    assert set(keys) == set(mon.records) == {
        "health/0.W/grad_norm", "health/0.W/update_ratio", "health/0.b/grad_norm",
        "health/2.W/grad_norm", "health/2.W/update_ratio", "health/2.b/grad_norm",
        "health/1.ReLU/dead_fraction"}
    assert all(len(hist.history[k]) == 3 for k in keys)
    assert mon._n == 2            # batches 1 and 3 of 4 were measured
    net2 = net_relu()
    hist2 = fit(net2, X, T, loss=mm.MSELoss(), optimizer=mm.SGD(net2.parameters()), epochs=1,
                verbose=0, callbacks=[HealthMonitor(to_history=False)])
    assert not any(k.startswith("health/") for k in hist2.history)


def test_report_flags_a_too_high_learning_rate():
    net = net_relu()
    mon = HealthMonitor()
    fit(net, X, T, loss=mm.MSELoss(), optimizer=mm.SGD(net.parameters(), lr=0.5), epochs=1,
        batch_size=40, verbose=0, callbacks=[mon])
    line = next(l for l in mon.report().splitlines() if l.startswith("0.W/update_ratio"))
    assert mon.records["health/0.W/update_ratio"][0] > 1e-2 and "too high" in line


def test_plot_health(tmp_path):
    pytest.importorskip("matplotlib")
    from minimlp.plot import plot_health, plot_history
    net = mm.Sequential(mm.Dense(3, 6, rng=0), mm.ReLU(), mm.Dense(6, 4, rng=1), mm.Tanh(), mm.Dense(4, 2, rng=2))
    mon = HealthMonitor()
    hist = fit(net, X, T, loss=mm.MSELoss(), optimizer=mm.SGD(net.parameters(), lr=0.05), epochs=3,
               verbose=0, callbacks=[mon], seed=0)
    path = tmp_path / "health.png"
    fig = plot_health(hist, path)
    assert path.stat().st_size > 1000
    assert [ax.get_title() for ax in fig.axes] == ["gradient norm |g|", "update / weight norm",
                                                   "dead ReLU units", "saturated activations"]
    assert len(fig.axes[0].get_lines()) == 6          # one curve per parameter
    plot_health(mon)                                   # the monitor itself works too
    assert len(plot_history(hist).axes) == 1           # health keys stay out of plot_history
    with pytest.raises(ValueError, match="HealthMonitor"):
        plot_health({"loss": [1.0]})
    import matplotlib.pyplot as plt
    plt.close("all")


def test_nested_sequentials_get_their_own_keys_and_clipping_does_not_hide_the_gradient():
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((16, 3)), rng.standard_normal((16, 2)) * 100
    inner = mm.Sequential(mm.Dense(3, 4, rng=1), mm.ReLU(), mm.Dense(4, 2, rng=2))
    net = mm.Sequential(inner)
    # The unclipped gradient norm of each weight at the starting point, by the public API.
    loss = mm.MSELoss()
    loss.forward(net.forward(X), T)
    net.backward(loss.backward())
    expected = {"0.0.W": np.linalg.norm(inner[0].dW), "0.2.W": np.linalg.norm(inner[2].dW)}
    mon = mm.HealthMonitor()
    opt = mm.SGD(net.parameters(), lr=0.0, clip_norm=1e-3)      # lr 0: every batch is the same
    h = net.fit(X, T, loss=mm.MSELoss(), optimizer=opt, epochs=1, batch_size=16,
                shuffle=False, callbacks=[mon], verbose=0)
    for name, norm in expected.items():
        assert h.history[f"health/{name}/grad_norm"][0] == pytest.approx(norm, rel=1e-6)
    assert "health/0.1.ReLU/dead_fraction" in h.history


def test_gradient_norms_above_1e154_do_not_overflow():
    """L8: the squares of a finite gradient above ~1e154 overflow; the norm does not."""
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    hm = HealthMonitor()
    hm.model, hm.optimizer = net, mm.SGD(net.parameters(), lr=0.0)
    hm.on_train_begin({})
    hm.on_epoch_begin(1)
    hm.on_batch_begin(1)
    net[0].dW[...] = [[3e200], [4e200]]
    net[0].db[...] = 0.0
    hm.on_batch_end(1, {})
    np.testing.assert_allclose(hm._grad["health/0.W"], 5e200, rtol=1e-14)
