"""L1Loss, HuberLoss, BCELoss and reduction="mean"|"sum" on every loss.

Values come from formulas written out here; each loss's gradient is checked against its own
value by central differences (gradcheck) AND along a random direction, which also catches a
gradient off by a constant factor (a factor 2 or 1/N slip).
"""
import math

import numpy as np
import pytest

import minimlp as mm

RNG = np.random.default_rng(5)
Y = RNG.standard_normal((6, 3)) * 2
T = RNG.standard_normal((6, 3))
P = RNG.uniform(0.05, 0.95, (6, 3))
B = RNG.uniform(0, 1, (6, 3))
LABELS = RNG.integers(0, 3, 6)


def huber(d, delta):
    a = abs(d)
    return 0.5 * d * d if a <= delta else delta * (a - 0.5 * delta)


def bce(p, t):
    return -(t * max(math.log(p), -100) + (1 - t) * max(math.log(1 - p), -100)) if 0 < p < 1 else \
        -(t * (math.log(p) if p > 0 else -100) + (1 - t) * (math.log(1 - p) if p < 1 else -100))


ELEMENT_CASES = [  # (loss factory, predictions, targets, per-element reference)
    ("L1", lambda r: mm.L1Loss(reduction=r), Y, T, lambda y, t: abs(y - t)),
    ("Huber", lambda r: mm.HuberLoss(reduction=r), Y, T, lambda y, t: huber(y - t, 1.0)),
    ("Huber-0.3", lambda r: mm.HuberLoss(0.3, reduction=r), Y, T, lambda y, t: huber(y - t, 0.3)),
    ("BCE", lambda r: mm.BCELoss(reduction=r), P, B, bce),
    ("MSE", lambda r: mm.MSELoss(reduction=r), Y, T, lambda y, t: (y - t) ** 2),
    ("BCEWithLogits", lambda r: mm.BCEWithLogitsLoss(reduction=r), Y, B,
     lambda z, t: bce(1 / (1 + math.exp(-z)), t)),
]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name,make,Yc,Tc,ref", ELEMENT_CASES, ids=[c[0] for c in ELEMENT_CASES])
def test_elementwise_loss_values(name, make, Yc, Tc, ref, reduction):
    total = sum(ref(y, t) for y, t in zip(Yc.ravel(), Tc.ravel()))
    expected = total / Yc.size if reduction == "mean" else total
    assert make(reduction).forward(Yc, Tc) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_reduction_values(reduction):
    rows = [math.log(sum(math.exp(z) for z in Y[n])) - Y[n, LABELS[n]] for n in range(6)]
    expected = sum(rows) / (6 if reduction == "mean" else 1)
    assert mm.CrossEntropyLoss(reduction=reduction).forward(Y, LABELS) == pytest.approx(expected, rel=1e-12)


GRAD_CASES = [(name, make, Yc, Tc) for name, make, Yc, Tc, _ in ELEMENT_CASES] + [
    ("CE", lambda r: mm.CrossEntropyLoss(reduction=r), Y, LABELS),
]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name,make,Yc,Tc", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradient_agrees_with_value(name, make, Yc, Tc, reduction):
    loss = make(reduction)
    result = mm.gradcheck(loss, Yc, Tc)
    assert result.max_rel_error < 1e-6, (result, result.errors)
    # Directional derivative: <dL/dY, V> must equal (L(Y + hV) - L(Y - hV)) / 2h.
    V = np.random.default_rng(1).standard_normal(Yc.shape) * 0.01
    loss.forward(Yc, Tc)
    analytic = float(np.vdot(loss.backward(), V))
    h = 1e-4
    numeric = (loss.forward(Yc + h * V, Tc) - loss.forward(Yc - h * V, Tc)) / (2 * h)
    assert analytic == pytest.approx(numeric, rel=1e-6)


def test_sum_is_count_times_mean():
    for make, Yc, Tc, count in [(mm.MSELoss, Y, T, 18), (mm.L1Loss, Y, T, 18), (mm.BCELoss, P, B, 18),
                                (mm.CrossEntropyLoss, Y, LABELS, 6), (mm.HuberLoss, Y, T, 18)]:
        m, s = make(reduction="mean"), make(reduction="sum")
        assert s.forward(Yc, Tc) == pytest.approx(count * m.forward(Yc, Tc), rel=1e-12)
        np.testing.assert_allclose(s.backward(), count * m.backward(), rtol=1e-12)


class _HalfGradMSE(mm.MSELoss):
    """A deliberately wrong loss: its gradient is half of what its value implies."""

    def _backward(self):
        return super()._backward() * 0.5


def test_a_gradient_off_by_a_constant_factor_is_caught():
    result = mm.gradcheck(_HalfGradMSE(), Y, T)
    assert result.max_rel_error > 0.3


def test_huber_gradient_is_clipped_difference():
    loss = mm.HuberLoss(delta=0.5)
    loss.forward(Y, T)
    np.testing.assert_allclose(loss.backward(), np.clip(Y - T, -0.5, 0.5) / Y.size)


def test_bce_clamps_at_zero_and_one():
    loss = mm.BCELoss()
    P0 = np.array([[0.0, 1.0, 0.0, 1.0]])
    T0 = np.array([[1.0, 0.0, 0.0, 1.0]])
    assert loss.forward(P0, T0) == pytest.approx(100 * 2 / 4)
    G = loss.backward()
    assert np.isfinite(G).all()
    np.testing.assert_allclose(G, (P0 - T0) / 1e-12 / 4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduction"):
        mm.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="delta"):
        mm.HuberLoss(delta=0)
    with pytest.raises(ValueError, match=r"BCELoss.*\[0, 1\]"):
        mm.BCELoss().forward(Y, B)
    with pytest.raises(ValueError, match="targets"):
        mm.BCELoss().forward(P, T)
    assert repr(mm.L1Loss(reduction="sum")) == "L1Loss(reduction='sum')"
    assert repr(mm.HuberLoss(0.5)) == "HuberLoss(delta=0.5)"


def test_bce_on_probabilities_refuses_logits_inside_fit_too():
    """fit calls the unchecked _forward: a model without a final Sigmoid must still be refused."""
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((20, 3)), (rng.random((20, 1)) > 0.5).astype(float)
    net = mm.Sequential(mm.Dense(3, 1, rng=0))             # logits, no Sigmoid
    opt = mm.SGD(net.parameters(), lr=0.1)
    W0 = net[0].W.copy()
    with pytest.raises(ValueError, match=r"predictions must be probabilities in \[0, 1\]"):
        net.fit(X, T, loss=mm.BCELoss(), optimizer=opt, epochs=1, batch_size=20, verbose=0)
    np.testing.assert_array_equal(net[0].W, W0)
