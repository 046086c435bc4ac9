"""Numerical safety at the extremes: logits of +-1e4 (and beyond) give finite values and
gradients with no numpy warning, in float32 and float64; float32 training tracks float64.

The conftest fixture raises on numpy over/divide/invalid; here Python warnings are errors too.
"""
import warnings

import numpy as np
import pytest

import minimlp as mm
from layer_cases import LAYER_CASES

DTYPES = [np.float32, np.float64]
BIG = 1e4


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def extreme_logits(dtype, width=3, big=BIG):
    """Rows mixing +-big, 0 and moderate values: (6, width)."""
    rows = [[big] * width, [-big] * width, [big, -big, 0.0], [-big, 0.0, big],
            [big, big - 1, -big], [0.5, -big, -big]]
    return np.array([r[:width] + [0.0] * (width - len(r[:width])) for r in rows], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_sigmoid_limits(dtype):
    s = mm.Sigmoid()
    Z = np.array([[BIG, -BIG, 0.0, 1e30 if dtype == np.float64 else 3e38, -88.0, 750.0]], dtype=dtype)
    Y = s.forward(Z)
    assert Y.dtype == dtype and np.isfinite(Y).all()
    assert Y[0, 0] == 1.0 and Y[0, 1] == 0.0 and Y[0, 2] == 0.5 and Y[0, 3] == 1.0
    dX = s.backward(np.ones_like(Y))
    assert np.isfinite(dX).all()
    assert dX[0, 0] == 0.0 and dX[0, 1] == 0.0 and dX[0, 2] == 0.25


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_softmax_limits(dtype):
    sm = mm.Softmax()
    Z = extreme_logits(dtype)
    Y = sm.forward(Z)
    assert Y.dtype == dtype and np.isfinite(Y).all()
    np.testing.assert_allclose(Y.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(Y[0], [1 / 3] * 3, rtol=1e-6)        # equal logits, however large
    np.testing.assert_allclose(Y[2], [1.0, 0.0, 0.0], atol=1e-30)
    np.testing.assert_allclose(Y[4], [1 / (1 + np.exp(-1.0)), 1 / (1 + np.exp(1.0)), 0.0], rtol=1e-6)
    dX = sm.backward(np.arange(18, dtype=dtype).reshape(6, 3))
    assert np.isfinite(dX).all()
    np.testing.assert_allclose(dX.sum(axis=1), 0.0, atol=1e-4)   # softmax's Jacobian rows sum to 0


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_cross_entropy_at_extreme_logits(dtype):
    Z = np.array([[BIG, -BIG], [BIG, -BIG], [-BIG, BIG], [BIG, BIG]], dtype=dtype)
    labels = np.array([0, 1, 1, 0])
    ce = mm.CrossEntropyLoss()
    value = ce.forward(Z, labels)
    # Per row: 0, 2e4, 0, log 2 (by hand), mean over 4 rows.
    assert value == pytest.approx((0 + 2 * BIG + 0 + np.log(2)) / 4, rel=1e-6)
    G = ce.backward()
    assert G.dtype == dtype and np.isfinite(G).all()
    np.testing.assert_allclose(G, np.array([[0, 0], [1, -1], [0, 0], [-0.5, 0.5]]) / 4, atol=1e-7)
    probs = np.array([[0.5, 0.5], [0.0, 1.0], [1.0, 0.0], [0.25, 0.75]])
    value = ce.forward(Z, probs)
    assert np.isfinite(value) and value == pytest.approx((BIG + 2 * BIG + 2 * BIG + np.log(2)) / 4, rel=1e-6)
    assert np.isfinite(ce.backward()).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_bce_with_logits_at_extreme_logits(dtype):
    Z = np.array([[BIG, -BIG, BIG, -BIG, 0.0]], dtype=dtype)
    T = np.array([[1.0, 0.0, 0.0, 1.0, 0.5]])
    bce = mm.BCEWithLogitsLoss()
    value = bce.forward(Z, T)
    # Per element: 0, 0, 1e4, 1e4, log 2.
    assert value == pytest.approx((2 * BIG + np.log(2)) / 5, rel=1e-6)
    G = bce.backward()
    assert G.dtype == dtype and np.isfinite(G).all()
    np.testing.assert_allclose(G, np.array([[0, 0, 1, -1, 0]]) / 5, atol=1e-7)


@pytest.mark.parametrize("big", [1e4, 1e6, 1e30])
def test_losses_beyond_1e4_in_float64(big):
    Z = np.array([[big, -big]])
    for loss, T in [(mm.CrossEntropyLoss(), np.array([1])), (mm.BCEWithLogitsLoss(), np.array([[0.0, 1.0]]))]:
        value = loss.forward(Z, T)
        assert np.isfinite(value) and value > 0
        assert np.isfinite(loss.backward()).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_every_layer_is_finite_at_extreme_inputs(case, dtype):
    case_id, factory, width = case
    layer = factory(dtype)
    X = extreme_logits(dtype, width)
    for train in (True, False):
        Y = layer.forward(X, train=train)
        assert np.isfinite(Y).all(), f"{case_id}: forward(train={train}) not finite"
    Y = layer.forward(X)
    dX = layer.backward(np.ones_like(Y) / Y.size)
    assert np.isfinite(dX).all(), f"{case_id}: backward not finite"
    assert all(np.isfinite(p.grad).all() for p in layer.parameters())


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_sigmoid_network_trains_from_saturation(dtype):
    """Saturated hidden units (inputs of 1e4) still give finite gradients and a finite step."""
    net = mm.Sequential(mm.Dense(2, 3, rng=0, dtype=dtype), mm.Sigmoid(), mm.Dense(3, 2, rng=1, dtype=dtype))
    X = np.array([[BIG, -BIG], [-BIG, BIG], [0.0, 1.0]], dtype=dtype)
    loss, opt = mm.CrossEntropyLoss(), mm.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        value = loss.forward(net.forward(X), np.array([0, 1, 1]))
        net.backward(loss.backward())
        opt.step()
        assert np.isfinite(value)
        assert all(np.isfinite(p.value).all() for p in net.parameters())


@pytest.mark.parametrize("loss_name", ["mse", "ce", "bce"])
def test_float32_training_tracks_float64(loss_name):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 4))
    if loss_name == "mse":
        loss_cls, T = mm.MSELoss, np.tanh(X[:, :2] - X[:, 2:])
    elif loss_name == "ce":
        loss_cls, T = mm.CrossEntropyLoss, (X[:, 0] + X[:, 1] > 0).astype(int)
    else:
        loss_cls, T = mm.BCEWithLogitsLoss, (X[:, :2] > 0).astype(float)

    def build(dtype):
        return mm.Sequential(mm.Dense(4, 8, rng=1, dtype=dtype), mm.Tanh(),
                             mm.Dense(8, 8, rng=2, dtype=dtype), mm.Sigmoid(),
                             mm.Dense(8, 2, rng=3, dtype=dtype))

    runs = {}
    for dtype in (np.float32, np.float64):
        net, loss = build(dtype), loss_cls()
        opt = mm.SGD(net.parameters(), lr=0.2, momentum=0.9)
        values = []
        for epoch in range(10):
            for i in range(0, 32, 8):
                values.append(loss.forward(net.forward(X[i:i + 8]), T[i:i + 8]))
                net.backward(loss.backward())
                opt.step()
        runs[dtype] = (values, [p.value.copy() for p in net.parameters()])
    (v32, p32), (v64, p64) = runs[np.float32], runs[np.float64]
    assert all(p.dtype == np.float32 for p in p32) and all(p.dtype == np.float64 for p in p64)
    assert v64[-1] < v64[0]                          # it did train
    np.testing.assert_allclose(v32, v64, rtol=1e-4, atol=1e-6)
    for a, b in zip(p32, p64):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
