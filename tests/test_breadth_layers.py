"""GELU, ELU, Softplus, Dropout, BatchNorm1d, LayerNorm: values against formulas written out
here (scipy/math, independent of minimlp), both training and prediction modes, gradients.

The contract and the generic gradient checks come from the rows in tests/layer_cases.py;
this file checks what those cannot: the values, the modes, the running statistics.
"""
import math

import numpy as np
import pytest
from scipy.special import erf

import minimlp as mm

RNG = np.random.default_rng(42)
X = RNG.standard_normal((6, 4)) * 2.0


# -- activations: values ------------------------------------------------------------------
def gelu_ref(x):
    return np.vectorize(lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))))(x)


def gelu_tanh_ref(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def elu_ref(x, alpha):
    return np.vectorize(lambda v: v if v > 0 else alpha * (math.exp(v) - 1.0))(x)


def softplus_ref(x, beta, threshold):
    return np.vectorize(lambda v: v if v * beta > threshold
                        else math.log(1.0 + math.exp(beta * v)) / beta)(x)


@pytest.mark.parametrize("layer,ref", [
    (mm.GELU(), gelu_ref),
    (mm.GELU(approximate="tanh"), gelu_tanh_ref),
    (mm.ELU(), lambda x: elu_ref(x, 1.0)),
    (mm.ELU(alpha=0.3), lambda x: elu_ref(x, 0.3)),
    (mm.Softplus(), lambda x: softplus_ref(x, 1.0, 20.0)),
    (mm.Softplus(beta=3.0, threshold=2.0), lambda x: softplus_ref(x, 3.0, 2.0)),
], ids=["gelu", "gelu-tanh", "elu", "elu-0.3", "softplus", "softplus-b3-t2"])
@pytest.mark.parametrize("train", [True, False])
def test_activation_values(layer, ref, train):
    np.testing.assert_allclose(layer.forward(X, train=train), ref(X), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("layer", [mm.GELU(), mm.GELU(approximate="tanh"), mm.ELU(0.7),
                                   mm.Softplus(beta=2.0, threshold=5.0)], ids=repr)
def test_activation_slope_matches_finite_difference(layer):
    x = np.linspace(-6, 6, 241)[None, :] + 0.013   # avoid the kinks exactly at 0 / threshold
    layer.forward(x)
    slope = layer.backward(np.ones_like(x))
    h = 1e-6
    num = (layer.forward(x + h, train=False) - layer.forward(x - h, train=False)) / (2 * h)
    np.testing.assert_allclose(slope, num, rtol=1e-6, atol=1e-8)


def test_activations_finite_at_extreme_inputs():
    x = np.array([[-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4]])
    for layer in (mm.GELU(), mm.ELU(), mm.Softplus(), mm.Softplus(beta=0.01)):
        Y = layer.forward(x)
        dX = layer.backward(np.ones_like(x))
        assert np.isfinite(Y).all() and np.isfinite(dX).all(), layer
    # softplus(-1e4) underflows to 0, softplus(1e4) = 1e4; beta small: log(1+e^100)/0.01
    np.testing.assert_allclose(mm.Softplus(beta=0.01).forward(x, train=False)[0, -2],
                               (800 * 0.01 + math.log1p(math.exp(-8.0))) / 0.01)


def test_activation_float32_stays_float32():
    x32 = X.astype(np.float32)
    for layer in (mm.GELU(), mm.GELU(approximate="tanh"), mm.ELU(), mm.Softplus()):
        Y = layer.forward(x32)
        assert Y.dtype == np.float32 and layer.backward(np.ones_like(Y)).dtype == np.float32


def test_bad_arguments():
    with pytest.raises(ValueError, match="approximate"):
        mm.GELU(approximate="fast")
    with pytest.raises(ValueError, match="beta"):
        mm.Softplus(beta=0)
    with pytest.raises(ValueError, match="alpha"):
        mm.ELU(alpha=-1)
    with pytest.raises(ValueError, match="Dropout"):
        mm.Dropout(1.5)
    with pytest.raises(TypeError, match="Dropout"):
        mm.Dropout("0.5")
    with pytest.raises(ValueError, match="momentum"):
        mm.BatchNorm1d(3, momentum=2.0)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\).*\(N, 3\).*\(5, 4\)"):
        mm.BatchNorm1d(3).forward(np.ones((5, 4)))
    with pytest.raises(ValueError, match="normalized_shape"):
        mm.LayerNorm((2, 3))


# -- Dropout ------------------------------------------------------------------------------
def test_dropout_is_identity_in_prediction_and_scales_in_training():
    x = np.ones((400, 50))
    d = mm.Dropout(0.25, rng=0)
    np.testing.assert_array_equal(d.forward(x, train=False), x)
    Y = d.forward(x)
    kept = Y != 0
    np.testing.assert_allclose(Y[kept], 1.0 / 0.75)           # inverted: survivors scaled
    assert abs(kept.mean() - 0.75) < 0.01                     # 20000 draws: sd 0.003
    dY = RNG.standard_normal(x.shape)
    np.testing.assert_allclose(d.backward(dY), dY * kept / 0.75)   # same mask backward


def test_dropout_reproducible_from_seed_and_fresh_per_call():
    x = np.ones((8, 10))
    a, b = mm.Dropout(0.5, rng=3), mm.Dropout(0.5, rng=3)
    m1, m2 = a.forward(x).copy(), a.forward(x).copy()
    np.testing.assert_array_equal(m1, b.forward(x))
    np.testing.assert_array_equal(m2, b.forward(x))
    assert not np.array_equal(m1, m2)


def test_dropout_frozen_mask_and_edges():
    x = np.ones((5, 6))
    d = mm.Dropout(0.5, rng=1)
    d.freeze_mask = True
    np.testing.assert_array_equal(d.forward(x).copy(), d.forward(x))
    np.testing.assert_array_equal(mm.Dropout(0.0, rng=0).forward(x), x)
    np.testing.assert_array_equal(mm.Dropout(1.0, rng=0).forward(x), 0 * x)


def test_dropout_in_a_network_train_vs_predict():
    net = mm.Sequential(mm.Dense(4, 8, rng=0), mm.ReLU(), mm.Dropout(0.5, rng=0), mm.Dense(8, 2, rng=1))
    P1, P2 = net.predict(X), net.predict(X)
    np.testing.assert_array_equal(P1, P2)
    assert not np.allclose(net.forward(X), P1)


# -- BatchNorm1d --------------------------------------------------------------------------
def bn_ref(x, gamma, beta, eps):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def test_batchnorm_training_values_and_running_statistics():
    bn = mm.BatchNorm1d(4, eps=1e-3, momentum=0.3)
    gamma, beta = RNG.uniform(0.5, 2, 4), RNG.standard_normal(4)
    bn.parameters()[0].value[...] = gamma
    bn.parameters()[1].value[...] = beta
    rm, rv = np.zeros(4), np.ones(4)
    for k in range(3):
        x = RNG.standard_normal((7, 4)) * (k + 1) + k
        np.testing.assert_allclose(bn.forward(x), bn_ref(x, gamma, beta, 1e-3), rtol=1e-12, atol=1e-12)
        rm = 0.7 * rm + 0.3 * x.mean(axis=0)
        rv = 0.7 * rv + 0.3 * x.var(axis=0, ddof=1)       # unbiased, as PyTorch
        np.testing.assert_allclose(bn.buffers()["running_mean"], rm, rtol=1e-13)
        np.testing.assert_allclose(bn.buffers()["running_var"], rv, rtol=1e-13)
    # Prediction uses the running statistics, not the batch's
    x = RNG.standard_normal((3, 4))
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
    x = RNG.standard_normal((6, 3))
    T = RNG.standard_normal((6, 2))
    result = mm.gradcheck(net, x, T, mm.MSELoss())
    assert result.max_rel_error < 1e-6, result.errors


def test_batchnorm_buffers_survive_save_and_load(tmp_path):
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.BatchNorm1d(4))
    for _ in range(3):
        net.forward(RNG.standard_normal((5, 3)) + 2)
    path = tmp_path / "bn.npz"
    mm.save(net, path)
    back = mm.load(path)
    np.testing.assert_array_equal(back[1].running_mean, net[1].running_mean)
    np.testing.assert_array_equal(back[1].running_var, net[1].running_var)
    x = RNG.standard_normal((4, 3))
    np.testing.assert_array_equal(back.predict(x), net.predict(x))


# -- LayerNorm ----------------------------------------------------------------------------
@pytest.mark.parametrize("train", [True, False])
def test_layernorm_values(train):
    ln = mm.LayerNorm(4, eps=1e-4)
    gamma, beta = RNG.uniform(0.5, 2, 4), RNG.standard_normal(4)
    ln.parameters()[0].value[...] = gamma
    ln.parameters()[1].value[...] = beta
    mu = X.mean(axis=1, keepdims=True)
    var = X.var(axis=1, keepdims=True)
    np.testing.assert_allclose(ln.forward(X, train=train), gamma * (X - mu) / np.sqrt(var + 1e-4) + beta,
                               rtol=1e-12, atol=1e-12)


def test_layernorm_float32():
    ln = mm.LayerNorm(4, dtype=np.float32)
    Y = ln.forward(X.astype(np.float32))
    assert Y.dtype == np.float32
    np.testing.assert_allclose(Y.mean(axis=1), 0, atol=1e-5)
