"""Dense: the values of forward and backward against numpy written out here, every batch
size's path (one row and several), and the biases of ``init="pytorch"``."""
import numpy as np
import pytest

import minimlp as mm


@pytest.mark.parametrize("init", ["pytorch", mm.init.pytorch], ids=["name", "function"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pytorch_init_biases_are_uniform_in_their_bound(init, dtype):
    # torch.nn.Linear: b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    layer = mm.Dense(100, 400, init=init, rng=0, dtype=dtype)
    b = layer.b
    bound = 1.0 / np.sqrt(100)
    assert b.dtype == dtype and b.shape == (400,)
    assert np.all(np.abs(b) <= bound)
    assert b.min() < -0.9 * bound and b.max() > 0.9 * bound          # both signs, the whole interval
    assert abs(float(b.mean())) < 0.1 * bound
    assert float(b.std()) == pytest.approx(bound / np.sqrt(3.0), rel=0.1)   # std of U(-a, a)
    assert len(np.unique(b)) > 390


def test_other_initializers_start_biases_at_zero():
    for init in ("glorot_uniform", "he_normal", "zeros"):
        np.testing.assert_array_equal(mm.Dense(5, 7, init=init, rng=1).b, np.zeros(7))


def _layer(bias=True, dtype=np.float64):
    layer = mm.Dense(3, 2, bias=bias, rng=0, dtype=dtype)
    layer.W[...] = np.array([[1.0, -2.0], [0.5, 0.25], [-1.5, 3.0]])
    if bias:
        layer.b[...] = np.array([0.1, -0.3])
    return layer


@pytest.mark.parametrize("N", [1, 2, 5])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_and_backward_values(N, bias):
    rng = np.random.default_rng(N)
    X = rng.normal(size=(N, 3))
    dY = rng.normal(size=(N, 2))
    W = np.array([[1.0, -2.0], [0.5, 0.25], [-1.5, 3.0]])
    b = np.array([0.1, -0.3]) if bias else np.zeros(2)
    layer = _layer(bias)
    # Y[n, j] = sum_i X[n, i] W[i, j] + b[j], written as loops
    Yref = np.array([[sum(X[n, i] * W[i, j] for i in range(3)) + b[j] for j in range(2)] for n in range(N)])
    np.testing.assert_allclose(layer.forward(X), Yref, rtol=1e-14)
    np.testing.assert_allclose(_layer(bias).forward(X, train=False), Yref, rtol=1e-14)
    dX = layer.backward(dY)
    dWref = np.array([[sum(X[n, i] * dY[n, j] for n in range(N)) for j in range(2)] for i in range(3)])
    dXref = np.array([[sum(dY[n, j] * W[i, j] for j in range(2)) for i in range(3)] for n in range(N)])
    np.testing.assert_allclose(layer.dW, dWref, rtol=1e-14)
    np.testing.assert_allclose(dX, dXref, rtol=1e-14)
    if bias:
        np.testing.assert_allclose(layer.db, dY.sum(axis=0), rtol=1e-14)
    else:
        assert layer.db is None and layer.b is None


def test_backward_without_input_grad_still_writes_dW_and_db():
    layer = _layer()
    X = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]])
    dY = np.array([[1.0, 0.0], [2.0, -1.0]])
    layer.forward(X)
    assert layer.backward(dY, input_grad=False) is None
    np.testing.assert_allclose(layer.dW, X.T @ dY)
    np.testing.assert_allclose(layer.db, [3.0, -1.0])


def test_backward_into_the_input_writes_dX_there_and_keeps_dW_right():
    layer = _layer()
    X = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]])
    dY = np.array([[1.0, 0.0], [2.0, -1.0]])
    X_in = X.copy()
    layer.forward(X_in)
    dX = layer.backward(dY, out=layer.input)
    assert dX is X_in
    np.testing.assert_allclose(dX, dY @ layer.W.T)
    np.testing.assert_allclose(layer.dW, X.T @ dY)   # dW was taken before X was overwritten


# -- Mutation-run survivors (tools/mutate.py, 2026-12-01) --------------------------------------
@pytest.mark.parametrize("bias", [True, False])
def test_dense_backward_on_an_empty_batch_gives_zero_gradients(bias):
    """N = 0: dW = X^T dY and db = sum_n dY_n are sums over no sample, so 0; dX is (0, in)."""
    layer = mm.Dense(3, 2, bias=bias, rng=0)
    for p in layer.parameters():
        p.grad[...] = 7.0
    layer.forward(np.zeros((0, 3)))
    dX = layer.backward(np.zeros((0, 2)))
    assert dX.shape == (0, 3)
    for p in layer.parameters():
        np.testing.assert_array_equal(p.grad, np.zeros_like(p.grad))


def test_dense_backward_on_one_sample_is_the_outer_product():
    layer = mm.Dense(3, 2, rng=0)
    x, d = np.array([[1.0, -2.0, 0.5]]), np.array([[3.0, -1.0]])
    layer.forward(x)
    dX = layer.backward(d)
    np.testing.assert_array_equal(layer.dW, [[x[0, i] * d[0, j] for j in range(2)] for i in range(3)])
    np.testing.assert_array_equal(layer.db, d[0])
    np.testing.assert_allclose(dX, d @ layer.W.T, rtol=1e-15)


@pytest.mark.parametrize("X, why", [
    ([[1.0, 2.0, 3.0], [0.0, 1.0, 2.0]], "a list"),
    (np.ones(3), "1-D"),
    (np.ones((2, 4)), "the wrong width"),
    (np.ones((2, 3, 1)), "3-D"),
])
def test_dense_per_sample_sq_norms_refuses_a_bad_X(X, why):
    layer = mm.Dense(3, 2, rng=0)
    with pytest.raises(ValueError, match=r"per_sample_sq_norms expected X of shape \(N, 3\)"):
        layer.per_sample_sq_norms(X, np.ones((2, 2)))


@pytest.mark.parametrize("dY", [[[1.0, 2.0], [3.0, 4.0]], np.ones((2, 3)), np.ones(2)])
def test_dense_per_sample_sq_norms_refuses_a_bad_dY(dY):
    layer = mm.Dense(3, 2, rng=0)
    with pytest.raises(ValueError, match=r"per_sample_sq_norms expected dY of shape \(2, 2\)"):
        layer.per_sample_sq_norms(np.ones((2, 3)), dY)


def test_dense_per_sample_sq_norms_values():
    layer = mm.Dense(3, 2, rng=0)
    X = np.array([[1.0, 2.0, 2.0], [0.0, 3.0, 4.0]])
    dY = np.array([[1.0, 1.0], [2.0, 0.0]])
    out = layer.per_sample_sq_norms(X, dY)
    np.testing.assert_allclose(out["W"], [9.0 * 2.0, 25.0 * 4.0])
    np.testing.assert_allclose(out["b"], [2.0, 4.0])
