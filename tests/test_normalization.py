"""BatchNorm1d and LayerNorm: the default eps and momentum through the values, the input
check when the layer is called directly, the 1-tuple ``normalized_shape``, and eps > 0."""
import math
import numpy as np
import pytest
import minimlp as mm
from scipy.special import erf
import warnings


# A small spread (variance ~1e-5, the size of eps) makes the value of eps visible.
X = 1e-3 * np.array([[1.0, -2.0, 3.0, 0.5], [4.0, 0.0, -1.0, 2.0], [-3.0, 5.0, 2.0, -1.5]])


def _standardize(values, eps):
    m = sum(values) / len(values)
    var = sum((v - m) ** 2 for v in values) / len(values)
    return [(v - m) / math.sqrt(var + eps) for v in values]


def test_layernorm_default_eps_is_1e_5():
    ref = np.array([_standardize(list(row), 1e-5) for row in X])
    np.testing.assert_allclose(mm.LayerNorm(4).forward(X), ref, rtol=1e-12)
    np.testing.assert_allclose(mm.LayerNorm(4).forward(X, train=False), ref, rtol=1e-12)


def test_batchnorm_default_eps_and_momentum_through_the_values():
    bn = mm.BatchNorm1d(4)
    ref = np.array([_standardize(list(col), 1e-5) for col in X.T]).T
    np.testing.assert_allclose(bn.forward(X), ref, rtol=1e-12)
    N = X.shape[0]
    mean = [sum(col) / N for col in X.T]
    unbiased = [sum((v - m) ** 2 for v in col) / (N - 1) for col, m in zip(X.T, mean)]
    # momentum 0.1: running = 0.9 * running + 0.1 * batch statistic (running_var starts at 1)
    np.testing.assert_allclose(bn.running_mean, [0.1 * m for m in mean], rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, [0.9 + 0.1 * u for u in unbiased], rtol=1e-12)
    x = np.array([[0.01, 0.02, -0.03, 0.0]])
    expected = [(x[0, k] - 0.1 * mean[k]) / math.sqrt(0.9 + 0.1 * unbiased[k] + 1e-5) for k in range(4)]
    np.testing.assert_allclose(bn.forward(x, train=False), [expected], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: mm.BatchNorm1d(3), lambda: mm.BatchNorm1d(3, affine=False),
                                  lambda: mm.LayerNorm(3), lambda: mm.LayerNorm(3, elementwise_affine=False)],
                         ids=["bn", "bn-plain", "ln", "ln-plain"])
@pytest.mark.parametrize("bad", [np.ones((4, 2)), np.ones((4, 4)), np.ones(3), np.ones((2, 3, 1))],
                         ids=["narrow", "wide", "1-D", "3-D"])
@pytest.mark.parametrize("train", [True, False])
def test_called_directly_with_the_wrong_shape(make, bad, train):
    layer = make()
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}\(3.*\): expected input of shape \(N, 3\), got {re_shape(bad.shape)}"):
        layer.forward(bad, train=train)


def re_shape(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("layer", [mm.BatchNorm1d(3), mm.LayerNorm(3)], ids=repr)
def test_a_list_is_refused_with_the_layer_message(layer):
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\), got list"):
        layer.forward([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])


@pytest.mark.parametrize("shape", [(4,), [4]])
def test_layernorm_accepts_a_one_tuple(shape):
    ln = mm.LayerNorm(shape)
    assert ln.normalized_shape == 4 and ln.in_features == 4
    assert ln.get_config() == mm.LayerNorm(4).get_config()
    np.testing.assert_array_equal(ln.forward(X), mm.LayerNorm(4).forward(X))


@pytest.mark.parametrize("shape", [(), (4, 1), (2, 2)])
def test_layernorm_refuses_other_tuples(shape):
    with pytest.raises(ValueError, match="normalized_shape must be one width D"):
        mm.LayerNorm(shape)


@pytest.mark.parametrize("make", [lambda eps: mm.BatchNorm1d(3, eps=eps), lambda eps: mm.LayerNorm(3, eps=eps)],
                         ids=["BatchNorm1d", "LayerNorm"])
@pytest.mark.parametrize("eps", [0.0, -1e-5, math.inf, math.nan])
def test_eps_must_be_positive(make, eps):
    with pytest.raises(ValueError, match=r"invalid eps .*expected a value in \(0\.0, inf\)"):
        make(eps)


def test_tiny_positive_eps_is_accepted():
    assert mm.BatchNorm1d(3, eps=1e-300).eps == 1e-300
    assert mm.LayerNorm(3, eps=1e-300).eps == 1e-300


@pytest.mark.parametrize("make, affine", [(lambda **kw: mm.BatchNorm1d(3, **kw), "affine"),
                                          (lambda **kw: mm.LayerNorm(3, **kw), "elementwise_affine")],
                         ids=["BatchNorm1d", "LayerNorm"])
def test_gamma_and_beta_start_at_one_and_zero_and_are_none_without_affine(make, affine):
    layer = make()
    np.testing.assert_array_equal(layer.gamma, np.ones(3))
    np.testing.assert_array_equal(layer.beta, np.zeros(3))
    assert [p.name for p in layer.parameters()] == ["gamma", "beta"]
    plain = make(**{affine: False})
    assert plain.gamma is None and plain.beta is None and plain.parameters() == []


def test_repr_shows_exactly_the_non_default_arguments():
    assert repr(mm.BatchNorm1d(3)) == "BatchNorm1d(3)"
    assert (repr(mm.BatchNorm1d(3, eps=1e-3, momentum=0.2, affine=False, dtype=np.float32))
            == "BatchNorm1d(3, eps=0.001, momentum=0.2, affine=False, dtype=float32)")
    assert repr(mm.BatchNorm1d(3, eps=1e-3, affine=False)) == "BatchNorm1d(3, eps=0.001, affine=False)"
    assert repr(mm.LayerNorm(4)) == "LayerNorm(4)"
    assert (repr(mm.LayerNorm(4, eps=1e-3, elementwise_affine=False, dtype=np.float32))
            == "LayerNorm(4, eps=0.001, elementwise_affine=False, dtype=float32)")
    assert repr(mm.LayerNorm(4, eps=1e-3, elementwise_affine=False)) == "LayerNorm(4, eps=0.001, elementwise_affine=False)"


# -- from breadth_norms.py: BatchNorm1d, LayerNorm: values against formulas written out here, both modes, the running statistics. ----------

RNG_BREADTH = np.random.default_rng(42)
X_BREADTH = RNG_BREADTH.standard_normal((6, 4)) * 2.0


# -- BatchNorm1d --------------------------------------------------------------------------
def bn_ref(x, gamma, beta, eps):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def test_batchnorm_training_values_and_running_statistics():
    bn = mm.BatchNorm1d(4, eps=1e-3, momentum=0.3)
    gamma, beta = RNG_BREADTH.uniform(0.5, 2, 4), RNG_BREADTH.standard_normal(4)
    bn.parameters()[0].value[...] = gamma
    bn.parameters()[1].value[...] = beta
    rm, rv = np.zeros(4), np.ones(4)
    for k in range(3):
        x = RNG_BREADTH.standard_normal((7, 4)) * (k + 1) + k
        np.testing.assert_allclose(bn.forward(x), bn_ref(x, gamma, beta, 1e-3), rtol=1e-12, atol=1e-12)
        rm = 0.7 * rm + 0.3 * x.mean(axis=0)
        rv = 0.7 * rv + 0.3 * x.var(axis=0, ddof=1)       # unbiased, as PyTorch
        np.testing.assert_allclose(bn.buffers()["running_mean"], rm, rtol=1e-13)
        np.testing.assert_allclose(bn.buffers()["running_var"], rv, rtol=1e-13)
    # Prediction uses the running statistics, not the batch's
    x = RNG_BREADTH.standard_normal((3, 4))
    expected = gamma * (x - rm) / np.sqrt(rv + 1e-3) + beta
    np.testing.assert_allclose(bn.forward(x, train=False), expected, rtol=1e-12)
    np.testing.assert_allclose(bn.buffers()["running_mean"], rm, rtol=1e-13)   # unchanged


def test_batchnorm_needs_two_samples_to_train_but_predicts_one():
    bn = mm.BatchNorm1d(2)
    with pytest.raises(ValueError, match="at least 2 samples"):
        bn.forward(np.ones((1, 2)))
    assert bn.forward(np.ones((1, 2)), train=False).shape == (1, 2)


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_gradcheck_in_a_network(affine):
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.BatchNorm1d(4, affine=affine), mm.Tanh(),
                        mm.Dense(4, 2, rng=1))
    x = RNG_BREADTH.standard_normal((6, 3))
    T = RNG_BREADTH.standard_normal((6, 2))
    result = mm.gradcheck(net, x, T, mm.MSELoss())
    assert result.max_rel_error < 1e-6, result.errors


def test_batchnorm_buffers_survive_save_and_load(tmp_path):
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.BatchNorm1d(4))
    for _ in range(3):
        net.forward(RNG_BREADTH.standard_normal((5, 3)) + 2)
    path = tmp_path / "bn.npz"
    mm.save(net, path)
    back = mm.load(path)
    np.testing.assert_array_equal(back[1].running_mean, net[1].running_mean)
    np.testing.assert_array_equal(back[1].running_var, net[1].running_var)
    x = RNG_BREADTH.standard_normal((4, 3))
    np.testing.assert_array_equal(back.predict(x), net.predict(x))


# -- LayerNorm ----------------------------------------------------------------------------
@pytest.mark.parametrize("train", [True, False])
def test_layernorm_values(train):
    ln = mm.LayerNorm(4, eps=1e-4)
    gamma, beta = RNG_BREADTH.uniform(0.5, 2, 4), RNG_BREADTH.standard_normal(4)
    ln.parameters()[0].value[...] = gamma
    ln.parameters()[1].value[...] = beta
    mu = X_BREADTH.mean(axis=1, keepdims=True)
    var = X_BREADTH.var(axis=1, keepdims=True)
    np.testing.assert_allclose(ln.forward(X_BREADTH, train=train), gamma * (X_BREADTH - mu) / np.sqrt(var + 1e-4) + beta,
                               rtol=1e-12, atol=1e-12)


def test_layernorm_float32():
    ln = mm.LayerNorm(4, dtype=np.float32)
    Y = ln.forward(X_BREADTH.astype(np.float32))
    assert Y.dtype == np.float32
    np.testing.assert_allclose(Y.mean(axis=1), 0, atol=1e-5)


# -- (formerly test_norm_options.py) Layer options of issue 14, checked without torch: BatchNorm1d(momentum --

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


# -- Mutation-run survivors (tools/mutate.py, 2026-12-01) --------------------------------------
@pytest.mark.parametrize("X", [[[1.0, 2.0, 3.0], [0.0, 1.0, 5.0]], np.ones(3), np.ones((2, 4)),
                               np.ones((2, 3, 1))])
def test_layernorm_per_sample_sq_norms_refuses_a_bad_X(X):
    layer = mm.LayerNorm(3)
    with pytest.raises(ValueError, match=r"per_sample_sq_norms expected X of shape \(N, 3\)"):
        layer.per_sample_sq_norms(X, np.ones((2, 3)))


@pytest.mark.parametrize("dY", [[[1.0, 2.0, 3.0], [0.0, 1.0, 5.0]], np.ones((2, 4)), np.ones(3)])
def test_layernorm_per_sample_sq_norms_refuses_a_bad_dY(dY):
    layer = mm.LayerNorm(3)
    with pytest.raises(ValueError, match=r"per_sample_sq_norms expected dY of shape \(2, 3\)"):
        layer.per_sample_sq_norms(np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 5.0]]), dY)
