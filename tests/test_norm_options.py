"""Layer options of issue 14, checked without torch: BatchNorm1d(momentum=None) (the
cumulative moving average), LayerNorm(bias=False) and elementwise_affine=False, and eval mode
switching Dropout off in fit's validation, predict and evaluate.

Expected values are numpy's own statistics (np.mean, np.var with ddof), written out here.
"""
import warnings

import numpy as np
import pytest

import minimlp as mm

RNG = np.random.default_rng(8)


# -- BatchNorm1d(momentum=None) ------------------------------------------------------------
def test_cumulative_average_is_the_mean_of_the_batch_statistics():
    bn = mm.BatchNorm1d(3, momentum=None)
    batches = [RNG.standard_normal((n, 3)) * (k + 1) + 2 * k for k, n in enumerate([4, 7, 2, 5])]
    for k, X in enumerate(batches, start=1):
        bn.forward(X)
        np.testing.assert_allclose(bn.running_mean, np.mean([b.mean(axis=0) for b in batches[:k]], axis=0),
                                   rtol=1e-13)
        np.testing.assert_allclose(bn.running_var, np.mean([b.var(axis=0, ddof=1) for b in batches[:k]], axis=0),
                                   rtol=1e-13)
        assert int(bn.num_batches_tracked) == k
    # eval uses them
    X = RNG.standard_normal((3, 3))
    expected = (X - bn.running_mean) / np.sqrt(bn.running_var + 1e-5)
    np.testing.assert_allclose(bn.forward(X, train=False), expected, rtol=1e-13)


def test_the_first_batch_replaces_the_initial_statistics():
    bn = mm.BatchNorm1d(2, momentum=None)
    X = np.array([[1.0, 10.0], [3.0, 14.0]])
    bn.forward(X)
    np.testing.assert_allclose(bn.running_mean, [2.0, 12.0])
    np.testing.assert_allclose(bn.running_var, [2.0, 8.0])         # unbiased: ((1)^2 + 1^2) / 1


def test_eval_does_not_count_a_batch():
    bn = mm.BatchNorm1d(2, momentum=None)
    bn.forward(RNG.standard_normal((4, 2)), train=False)
    assert int(bn.num_batches_tracked) == 0
    np.testing.assert_array_equal(bn.running_mean, 0.0)


def test_a_fixed_momentum_keeps_its_rule_and_its_buffers():
    bn = mm.BatchNorm1d(2, momentum=0.25)
    X = RNG.standard_normal((5, 2))
    bn.forward(X)
    np.testing.assert_allclose(bn.running_mean, 0.25 * X.mean(axis=0), rtol=1e-14)
    assert set(bn.buffers()) == {"running_mean", "running_var"}      # files stay as they were
    assert set(mm.BatchNorm1d(2, momentum=None).buffers()) == {"running_mean", "running_var",
                                                              "num_batches_tracked"}


def test_cumulative_batchnorm_saves_and_loads_its_count(tmp_path):
    net = mm.Sequential(mm.Dense(3, 2, rng=0), mm.BatchNorm1d(2, momentum=None))
    for _ in range(3):
        net.forward(RNG.standard_normal((6, 3)))
    mm.save(net, tmp_path / "m.npz")
    back = mm.load(tmp_path / "m.npz")
    bn = back[1]
    assert bn.momentum is None and repr(bn) == "BatchNorm1d(2, momentum=None)"
    assert int(bn.num_batches_tracked) == 3
    np.testing.assert_array_equal(bn.running_var, net[1].running_var)
    # the loaded layer goes on averaging from the saved count
    X = RNG.standard_normal((4, 3))
    before = bn.running_mean.copy()
    H = back[0].forward(X)
    bn.forward(H)
    np.testing.assert_allclose(bn.running_mean, before + (H.mean(axis=0) - before) / 4, rtol=1e-13)


def test_early_stopping_restores_the_count_with_the_weights():
    X, T = RNG.standard_normal((16, 3)), RNG.standard_normal((16, 1))
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.BatchNorm1d(4, momentum=None), mm.Dense(4, 1, rng=1))
    stop = mm.EarlyStopping(monitor="loss", patience=100, mode="max")   # the first epoch is best
    net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=3, batch_size=8,
            callbacks=[stop], verbose=0, shuffle=False)
    assert stop.best_epoch < 3
    assert int(net[1].num_batches_tracked) == 2 * stop.best_epoch     # 2 batches an epoch


def test_momentum_refusals():
    with pytest.raises(TypeError, match="BatchNorm1d: momentum must be a real number"):
        mm.BatchNorm1d(2, momentum="none")
    with pytest.raises(ValueError, match="BatchNorm1d: invalid momentum 1.5"):
        mm.BatchNorm1d(2, momentum=1.5)


# -- LayerNorm(bias=False), elementwise_affine=False ------------------------------------------
def _standardized(X, eps):
    return (X - X.mean(axis=1, keepdims=True)) / np.sqrt(X.var(axis=1, keepdims=True) + eps)


def test_layernorm_without_bias_learns_gamma_only():
    ln = mm.LayerNorm(4, bias=False)
    assert [p.name for p in ln.parameters()] == ["gamma"] and ln.beta is None
    g = RNG.uniform(0.5, 2, 4)
    ln.parameters()[0].value[...] = g
    X = RNG.standard_normal((5, 4)) * 3 + 1
    np.testing.assert_allclose(ln.forward(X), g * _standardized(X, 1e-5), rtol=1e-13)
    assert mm.gradcheck(ln, X).max_rel_error < 1e-6
    dY = RNG.standard_normal((5, 4))
    ln.forward(X)
    ln.backward(dY)
    np.testing.assert_allclose(ln.parameters()[0].grad, (dY * _standardized(X, 1e-5)).sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_without_affine_has_no_parameters(bias):
    ln = mm.LayerNorm(4, elementwise_affine=False, bias=bias)
    assert ln.parameters() == [] and ln.gamma is None and ln.beta is None
    X = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(ln.forward(X), _standardized(X, 1e-5), rtol=1e-13)
    assert mm.gradcheck(ln, X).max_rel_error < 1e-6


def test_layernorm_bias_round_trips(tmp_path):
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.LayerNorm(4, bias=False))
    net[1].parameters()[0].value[...] = [1.0, 2.0, 3.0, 4.0]
    mm.save(net, tmp_path / "m.npz")
    back = mm.load(tmp_path / "m.npz")
    assert repr(back[1]) == "LayerNorm(4, bias=False)"
    X = RNG.standard_normal((2, 3))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    assert mm.LayerNorm(**mm.LayerNorm(3).get_config()).bias is True


def test_layernorm_bias_must_be_a_bool():
    with pytest.raises(TypeError, match="LayerNorm: bias must be True or False, got 1"):
        mm.LayerNorm(3, bias=1)


# -- eval mode turns Dropout off ----------------------------------------------------------
def _twins(p=0.5):
    """The same network with and without a Dropout layer (a Dropout in eval is the identity)."""
    with_d = mm.Sequential(mm.Dense(3, 8, rng=0), mm.ReLU(), mm.Dropout(p, rng=1), mm.Dense(8, 2, rng=2))
    without = mm.Sequential(mm.Dense(3, 8, rng=0), mm.ReLU(), mm.Dense(8, 2, rng=2))
    return with_d, without


def test_predict_and_evaluate_do_not_drop():
    X, labels = RNG.standard_normal((20, 3)), RNG.integers(0, 2, 20)
    with_d, without = _twins(0.9)
    np.testing.assert_array_equal(with_d.predict(X), without.predict(X))
    np.testing.assert_array_equal(with_d.predict(X, batch_size=7), without.predict(X))
    a = with_d.evaluate(X, labels, loss="ce", metrics=["accuracy"], batch_size=6)
    b = without.evaluate(X, labels, loss="ce", metrics=["accuracy"], batch_size=6)
    assert a == b
    # while a training forward does drop (the test could fail)
    assert not np.array_equal(with_d.forward(X, train=True), without.forward(X, train=True))


def test_fit_validation_does_not_drop():
    """val_loss of every epoch is the eval-mode loss: the twin without Dropout, carrying the
    same weights after that epoch, gives exactly that value."""
    X, labels = RNG.standard_normal((24, 3)), RNG.integers(0, 2, 24)
    Xv, lv = RNG.standard_normal((10, 3)), RNG.integers(0, 2, 10)
    with_d, without = _twins(0.5)

    class Twin(mm.Callback):
        def __init__(self):
            self.values = []

        def on_epoch_end(self, epoch, logs):
            for src, dst in ((0, 0), (3, 2)):
                without[dst].W[...] = with_d[src].W
                without[dst].b[...] = with_d[src].b
            self.values.append((logs["val_loss"], without.evaluate(Xv, lv, loss="ce")["loss"]))

    twin = Twin()
    with_d.fit(X, labels, loss="ce", optimizer=mm.SGD(with_d.parameters(), lr=0.1), epochs=3,
               batch_size=8, validation_data=(Xv, lv), callbacks=[twin], verbose=0, seed=0)
    assert len(twin.values) == 3
    for got, expected in twin.values:
        assert got == pytest.approx(expected, rel=1e-14)


def test_estimators_predict_without_dropout():
    """MLPClassifier/MLPRegressor(dropout=) predict (and score their early-stopping
    validation) in eval mode: the same network without its Dropout layers agrees exactly."""
    pytest.importorskip("sklearn")
    from minimlp.sklearn import MLPClassifier, MLPRegressor
    X = RNG.standard_normal((40, 3))
    y_class, y_reg = (X[:, 0] > 0).astype(int), X @ [1.0, -2.0, 0.5]
    for est, y in ((MLPClassifier(hidden_layer_sizes=(16,), dropout=0.5, max_iter=5, random_state=0), y_class),
                   (MLPRegressor(hidden_layer_sizes=(16,), dropout=0.5, max_iter=5, random_state=0, early_stopping=True), y_reg)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        assert any(isinstance(layer, mm.Dropout) for layer in est.model_)
        plain = mm.Sequential(*[layer for layer in est.model_ if not isinstance(layer, mm.Dropout)])
        Z = plain.predict(X)
        first = est.predict(X)
        np.testing.assert_array_equal(first, est.predict(X))
        if isinstance(est, MLPRegressor):
            np.testing.assert_array_equal(first, Z.ravel())
        else:
            np.testing.assert_array_equal(first, est.classes_[(Z[:, 0] > 0).astype(int)])
