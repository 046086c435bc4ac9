"""Losses against their formulas (written out here), backward() called twice, a loss reused
across dtypes at the same shape, and the target checks nothing else probes."""
import math

import numpy as np
import pytest

import minimlp as mm

Y = np.array([[0.2, -1.5, 3.0], [0.9, 0.0, -0.4], [2.5, 0.3, -2.0], [-0.7, 1.1, 0.05]])
T = np.array([[0.0, -1.0, 1.0], [1.0, 0.5, -0.4], [0.0, 0.3, 0.5], [-3.0, 1.0, 0.0]])
P = np.array([[0.1, 0.9, 0.5], [0.99, 0.3, 0.02], [0.6, 0.45, 0.7], [0.2, 0.8, 0.35]])
T01 = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.25], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
LABELS = np.array([2, 0, 1, 2])
PROBS = np.array([[0.0, 0.0, 1.0], [0.7, 0.2, 0.1], [0.25, 0.5, 0.25], [0.0, 1.0, 0.0]])


def _sig(z):
    return 1.0 / (1.0 + math.exp(-z))


def _softmax(row):
    e = [math.exp(z) for z in row]
    return [v / sum(e) for v in e]


def _huber(d, delta):
    return 0.5 * d * d if abs(d) <= delta else delta * (abs(d) - 0.5 * delta)


def _ref(kind, Yv, Tv, reduction="mean"):
    """(value, gradient) written out element by element from the documented formulas."""
    N, D = Yv.shape
    pairs = [(n, k) for n in range(N) for k in range(D)]
    G = np.zeros((N, D))
    if kind == "ce":
        Tm = np.eye(D)[Tv] if Tv.ndim == 1 else Tv
        total = 0.0
        for n in range(N):
            p = _softmax(Yv[n])
            total -= sum(Tm[n, k] * math.log(p[k]) for k in range(D))
            for k in range(D):
                G[n, k] = p[k] - Tm[n, k]
        div = N if reduction == "mean" else 1
        return total / div, G / div
    total = 0.0
    for n, k in pairs:
        y, t = float(Yv[n, k]), float(Tv[n, k])
        d = y - t
        if kind == "mse":
            total += d * d
            G[n, k] = 2.0 * d
        elif kind == "l1":
            total += abs(d)
            G[n, k] = (d > 0) - (d < 0)
        elif kind == "huber":
            total += _huber(d, 0.8)
            G[n, k] = max(-0.8, min(0.8, d))
        elif kind == "bce":
            total -= t * math.log(y) + (1.0 - t) * math.log(1.0 - y)
            G[n, k] = (y - t) / (y * (1.0 - y))
        elif kind == "bcelogits":
            total -= t * math.log(_sig(y)) + (1.0 - t) * math.log(1.0 - _sig(y))
            G[n, k] = _sig(y) - t
    div = N * D if reduction == "mean" else 1
    return total / div, G / div


CASES = {
    "mse": (mm.MSELoss, Y, T),
    "l1": (mm.L1Loss, Y, T),
    "huber": (lambda **kw: mm.HuberLoss(delta=0.8, **kw), Y, T),
    "bce": (mm.BCELoss, P, T01),
    "bcelogits": (mm.BCEWithLogitsLoss, Y, T01),
    "ce-labels": (mm.CrossEntropyLoss, Y, LABELS),
    "ce-probs": (mm.CrossEntropyLoss, Y, PROBS),
}


def _kind(name):
    return "ce" if name.startswith("ce") else name


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", CASES)
def test_value_and_gradient_equal_the_formula(name, reduction):
    make, Yv, Tv = CASES[name]
    loss = make(reduction=reduction)
    value, G = _ref(_kind(name), Yv, Tv, reduction)
    assert loss.forward(Yv.copy(), Tv) == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), G, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", CASES)
def test_backward_twice_returns_the_same_gradient(name, reduction):
    make, Yv, Tv = CASES[name]
    loss = make(reduction=reduction)
    loss.forward(Yv.copy(), Tv)
    g = loss.backward().copy()
    np.testing.assert_array_equal(loss.backward(), g)
    np.testing.assert_array_equal(loss.backward(), g)
    np.testing.assert_allclose(g, _ref(_kind(name), Yv, Tv, reduction)[1], rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("name", CASES)
def test_a_loss_reused_in_float32_after_float64_returns_float32(name):
    make, Yv, Tv = CASES[name]
    loss = make()
    loss.forward(Yv.copy(), Tv)
    loss.backward()
    Y32 = Yv.astype(np.float32)
    value = loss.forward(Y32.copy(), Tv)
    G = loss.backward()
    assert G.dtype == np.float32 and G.shape == Yv.shape
    T32 = Tv if Tv.dtype.kind == "i" else Tv.astype(np.float32).astype(np.float64)  # T is cast to Y's dtype
    ref_value, ref_G = _ref(_kind(name), Y32.astype(np.float64), T32)
    assert value == pytest.approx(ref_value, rel=1e-5)
    np.testing.assert_allclose(G, ref_G, rtol=2e-5, atol=1e-7)
    loss.forward(Yv.copy(), Tv)
    assert loss.backward().dtype == np.float64


@pytest.mark.parametrize("bad", [[[0.5], [1.5]], [[-0.1], [0.5]], [[1.0 + 1e-12], [0.0]]])
def test_bce_refuses_predictions_outside_0_1_on_either_side(bad):
    with pytest.raises(ValueError, match=r"BCELoss\(\): predictions must be probabilities in \[0, 1\]"):
        mm.BCELoss()(np.array(bad), np.array([[1.0], [0.0]]))


@pytest.mark.parametrize("loss", [mm.BCELoss(), mm.BCEWithLogitsLoss()], ids=repr)
@pytest.mark.parametrize("bad", [[[0.5], [1.5]], [[-0.1], [0.5]]])
def test_binary_losses_refuse_targets_outside_0_1_on_either_side(loss, bad):
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        loss(np.array([[0.5], [0.5]]), np.array(bad))


def test_probability_targets_tolerance_depends_on_the_dtype():
    # Rows must sum to 1 within 1e-6 in float64 and within 1e-4 in float32.
    T = np.array([[0.5, 0.5 + 1e-5], [0.25, 0.75]])
    with pytest.raises(ValueError, match="target rows must be probabilities"):
        mm.CrossEntropyLoss()(np.zeros((2, 2)), T)
    mm.CrossEntropyLoss()(np.zeros((2, 2)), T + np.array([[0.0, -1e-5 + 5e-7], [0.0, 0.0]]))
    mm.CrossEntropyLoss()(np.zeros((2, 2), np.float32), T)          # within 1e-4
    for off in (1e-2, 1.0, -1e-3):
        with pytest.raises(ValueError, match="target rows must be probabilities"):
            mm.CrossEntropyLoss()(np.zeros((2, 2), np.float32), T + np.array([[0.0, off], [0.0, 0.0]]))


def test_the_reshape_hint_is_given_only_where_it_helps():
    with pytest.raises(ValueError, match=r"got \(4,\) \(use T\.reshape\(-1, 1\)"):
        mm.MSELoss()(np.zeros((4, 1)), np.zeros(4))
    for Yshape, Tshape in [((4, 1), (3,)), ((4, 3), (4,)), ((4, 3), (3,)), ((4, 1), (4, 2)),
                           ((4, 1), (1, 4))]:
        with pytest.raises(ValueError, match="targets must have the shape") as e:
            mm.MSELoss()(np.zeros(Yshape), np.zeros(Tshape))
        assert "reshape" not in str(e.value), (Yshape, Tshape)
