"""BatchNorm1d and LayerNorm: the default eps and momentum through the values, the input
check when the layer is called directly, the 1-tuple ``normalized_shape``, and eps > 0."""
import math

import numpy as np
import pytest

import minimlp as mm

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
