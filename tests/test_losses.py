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


# -- from le.py: L1Loss, HuberLoss, BCELoss and reduction="mean"|"sum" on every loss. ----------

RNG = np.random.default_rng(5)
Y_EXTRA = RNG.standard_normal((6, 3)) * 2
T_EXTRA = RNG.standard_normal((6, 3))
P_EXTRA = RNG.uniform(0.05, 0.95, (6, 3))
B = RNG.uniform(0, 1, (6, 3))
LABELS_EXTRA = RNG.integers(0, 3, 6)


def huber(d, delta):
    a = abs(d)
    return 0.5 * d * d if a <= delta else delta * (a - 0.5 * delta)


def bce(p, t):
    return -(t * max(math.log(p), -100) + (1 - t) * max(math.log(1 - p), -100)) if 0 < p < 1 else \
        -(t * (math.log(p) if p > 0 else -100) + (1 - t) * (math.log(1 - p) if p < 1 else -100))


ELEMENT_CASES = [  # (loss factory, predictions, targets, per-element reference)
    ("L1", lambda r: mm.L1Loss(reduction=r), Y_EXTRA, T_EXTRA, lambda y, t: abs(y - t)),
    ("Huber", lambda r: mm.HuberLoss(reduction=r), Y_EXTRA, T_EXTRA, lambda y, t: huber(y - t, 1.0)),
    ("Huber-0.3", lambda r: mm.HuberLoss(0.3, reduction=r), Y_EXTRA, T_EXTRA, lambda y, t: huber(y - t, 0.3)),
    ("BCE", lambda r: mm.BCELoss(reduction=r), P_EXTRA, B, bce),
    ("MSE", lambda r: mm.MSELoss(reduction=r), Y_EXTRA, T_EXTRA, lambda y, t: (y - t) ** 2),
    ("BCEWithLogits", lambda r: mm.BCEWithLogitsLoss(reduction=r), Y_EXTRA, B,
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
    rows = [math.log(sum(math.exp(z) for z in Y_EXTRA[n])) - Y_EXTRA[n, LABELS_EXTRA[n]] for n in range(6)]
    expected = sum(rows) / (6 if reduction == "mean" else 1)
    assert mm.CrossEntropyLoss(reduction=reduction).forward(Y_EXTRA, LABELS_EXTRA) == pytest.approx(expected, rel=1e-12)


GRAD_CASES = [(name, make, Yc, Tc) for name, make, Yc, Tc, _ in ELEMENT_CASES] + [
    ("CE", lambda r: mm.CrossEntropyLoss(reduction=r), Y_EXTRA, LABELS_EXTRA),
]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name,make,Yc,Tc", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradient_agrees_with_value(name, make, Yc, Tc, reduction):
    loss = make(reduction)
    result = mm.gradcheck(loss, Yc, Tc)
    assert result.max_rel_error < 1e-6, (result, result.errors)
    # Directional derivative: <dL/dY, V> must equal (L(Y_EXTRA + hV) - L(Y_EXTRA - hV)) / 2h.
    V = np.random.default_rng(1).standard_normal(Yc.shape) * 0.01
    loss.forward(Yc, Tc)
    analytic = float(np.vdot(loss.backward(), V))
    h = 1e-4
    numeric = (loss.forward(Yc + h * V, Tc) - loss.forward(Yc - h * V, Tc)) / (2 * h)
    assert analytic == pytest.approx(numeric, rel=1e-6)


def test_sum_is_count_times_mean():
    for make, Yc, Tc, count in [(mm.MSELoss, Y_EXTRA, T_EXTRA, 18), (mm.L1Loss, Y_EXTRA, T_EXTRA, 18), (mm.BCELoss, P_EXTRA, B, 18),
                                (mm.CrossEntropyLoss, Y_EXTRA, LABELS_EXTRA, 6), (mm.HuberLoss, Y_EXTRA, T_EXTRA, 18)]:
        m, s = make(reduction="mean"), make(reduction="sum")
        assert s.forward(Yc, Tc) == pytest.approx(count * m.forward(Yc, Tc), rel=1e-12)
        np.testing.assert_allclose(s.backward(), count * m.backward(), rtol=1e-12)


class _HalfGradMSE(mm.MSELoss):
    """A deliberately wrong loss: its gradient is half of what its value implies."""

    def _backward(self):
        return super()._backward() * 0.5


def test_a_gradient_off_by_a_constant_factor_is_caught():
    result = mm.gradcheck(_HalfGradMSE(), Y_EXTRA, T_EXTRA)
    assert result.max_rel_error > 0.3


def test_huber_gradient_is_clipped_difference():
    loss = mm.HuberLoss(delta=0.5)
    loss.forward(Y_EXTRA, T_EXTRA)
    np.testing.assert_allclose(loss.backward(), np.clip(Y_EXTRA - T_EXTRA, -0.5, 0.5) / Y_EXTRA.size)


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
        mm.BCELoss().forward(Y_EXTRA, B)
    with pytest.raises(ValueError, match="targets"):
        mm.BCELoss().forward(P_EXTRA, T_EXTRA)
    assert repr(mm.L1Loss(reduction="sum")) == "L1Loss(reduction='sum')"
    assert repr(mm.HuberLoss(0.5)) == "HuberLoss(delta=0.5)"


def test_bce_on_probabilities_refuses_logits_inside_fit_too():
    """fit calls the unchecked _forward: a model without a final Sigmoid must still be refused."""
    rng = np.random.default_rng(0)
    X, T_EXTRA = rng.standard_normal((20, 3)), (rng.random((20, 1)) > 0.5).astype(float)
    net = mm.Sequential(mm.Dense(3, 1, rng=0))             # logits, no Sigmoid
    opt = mm.SGD(net.parameters(), lr=0.1)
    W0 = net[0].W.copy()
    with pytest.raises(ValueError, match=r"predictions must be probabilities in \[0, 1\]"):
        net.fit(X, T_EXTRA, loss=mm.BCELoss(), optimizer=opt, epochs=1, batch_size=20, verbose=0)
    np.testing.assert_array_equal(net[0].W, W0)


# -- Mutation-run survivors (tools/mutate.py, 2026-12-01) --------------------------------------
def _log_softmax_rows(Z):
    """log softmax of each row, with the max subtracted first (finite at any logit)."""
    out = []
    for row in np.asarray(Z, dtype=float):
        m = max(row)
        lse = m + math.log(sum(math.exp(v - m) for v in row))
        out.append([v - lse for v in row])
    return np.array(out)


def test_backward_takes_a_0d_array_as_a_scalar_but_no_1d_array():
    loss = mm.MSELoss()
    loss.forward(Y.copy(), T)
    g = loss.backward().copy()
    np.testing.assert_array_equal(loss.backward(np.array(2.0)), 2.0 * g)
    np.testing.assert_array_equal(loss.backward(np.float64(0.5)), 0.5 * g)
    with pytest.raises(TypeError, match="finite scalar"):
        loss.backward(np.array([2.0]))


def test_repr_shows_every_non_default_option():
    assert (repr(mm.BCEWithLogitsLoss(weight=[1, 2], reduction="sum", pos_weight=[3, 0.5]))
            == "BCEWithLogitsLoss(weight=[1.0, 2.0], reduction='sum', pos_weight=[3.0, 0.5])")
    assert repr(mm.BCEWithLogitsLoss(weight=[1, 2])) == "BCEWithLogitsLoss(weight=[1.0, 2.0])"
    assert (repr(mm.NLLLoss(weight=[1, 2], ignore_index=0, reduction="sum"))
            == "NLLLoss(weight=[1.0, 2.0], ignore_index=0, reduction='sum')")
    assert repr(mm.NLLLoss(weight=[1, 2])) == "NLLLoss(weight=[1.0, 2.0])"
    assert repr(mm.NLLLoss(ignore_index=0)) == "NLLLoss(ignore_index=0)"
    assert (repr(mm.CrossEntropyLoss(weight=[1, 2], ignore_index=0, reduction="sum", label_smoothing=0.5))
            == "CrossEntropyLoss(weight=[1.0, 2.0], ignore_index=0, reduction='sum', label_smoothing=0.5)")


@pytest.mark.parametrize("options", [{"label_smoothing": 0.2}, {"weight": [1.0, 2.0]},
                                     {"ignore_index": 5}, {"reduction": "none"}])
def test_cross_entropy_options_path_is_finite_at_huge_logits(options):
    Z = np.array([[1000.0, 0.0], [0.0, -1000.0], [-3.0, 2.0]])
    labels = np.array([0, 1, 1])
    e = options.get("label_smoothing", 0.0)
    w = np.array(options.get("weight", [1.0, 1.0]))
    logP = _log_softmax_rows(Z)
    C = 2
    per_sample = np.array([-sum(w[k] * ((1 - e) * (k == t) + e / C) * logP[n, k] for k in range(C))
                  for n, t in enumerate(labels)])
    loss = mm.CrossEntropyLoss(**options)
    value = loss.forward(Z.copy(), labels)
    if options.get("reduction") == "none":
        np.testing.assert_allclose(value, per_sample, rtol=1e-12)
    else:
        assert value == pytest.approx(per_sample.sum() / w[labels].sum(), rel=1e-12)
    G = loss.backward(np.ones(3)) if options.get("reduction") == "none" else loss.backward()
    assert np.isfinite(G).all()


def test_cross_entropy_full_label_smoothing_on_probability_targets():
    """e = 1: T' = 1/C whatever the targets, l_n = -sum_k logP[n, k] / C."""
    Z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 4.0]])
    probs = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    C, N = 3, 2
    logP = _log_softmax_rows(Z)
    loss = mm.CrossEntropyLoss(label_smoothing=1.0)
    assert loss.forward(Z.copy(), probs) == pytest.approx(-logP.sum() / C / N, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), (np.exp(logP) - 1.0 / C) / N, rtol=1e-12, atol=1e-16)
    values = mm.CrossEntropyLoss(label_smoothing=1.0, reduction="none").forward(Z.copy(), probs)
    np.testing.assert_allclose(values, -logP.sum(axis=1) / C, rtol=1e-13)


def _unchecked_step(loss, C=3):
    net = mm.Sequential(mm.Dense(2, C, rng=0))
    step = mm.TrainStep(net, loss, mm.SGD(net.parameters(), lr=0.5))
    return net, step


@pytest.mark.parametrize("make, labels", [
    (lambda: mm.NLLLoss(), [-100, -100]),
    (lambda: mm.NLLLoss(ignore_index=1), [1, 1]),
    (lambda: mm.NLLLoss(weight=[0.0, 1.0, 2.0]), [0, 0]),
    (lambda: mm.CrossEntropyLoss(), [-100, -100]),
    (lambda: mm.CrossEntropyLoss(weight=[0.0, 1.0, 2.0]), [0, 0]),
    (lambda: mm.CrossEntropyLoss(weight=[0.0, 1.0, 2.0], label_smoothing=0.3), [0, 0]),
    (lambda: mm.CrossEntropyLoss(ignore_index=2, label_smoothing=0.3), [2, 2]),
])
def test_the_unchecked_step_takes_a_zero_loss_and_gradient_for_a_mean_of_nothing(make, labels):
    """The docstrings: a mean over labels all ignored (or all of weight 0) is 0/0; forward
    raises, fit's unchecked step (TrainStep.run) takes a zero loss and gradient."""
    X = np.array([[1.0, -2.0], [0.5, 3.0]])
    T_lab = np.array(labels, dtype=np.intp)
    with pytest.raises(ValueError, match="0/0"):
        make().forward(np.zeros((2, 3)), T_lab)
    net, step = _unchecked_step(make())
    W0, b0 = net[0].W.copy(), net[0].b.copy()
    assert step.run(X, T_lab) == 0.0
    np.testing.assert_array_equal(net[0].W, W0)
    np.testing.assert_array_equal(net[0].b, b0)


def test_nll_weight_count_is_checked():
    X = np.log(np.full((3, 3), 1.0 / 3.0))
    with pytest.raises(ValueError, match="weight must hold one value per class, 3"):
        mm.NLLLoss(weight=[1.0, 2.0]).forward(X, np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="weight must hold one value per class, 3"):
        mm.CrossEntropyLoss(weight=[1.0, 2.0]).forward(X, np.array([0, 1, 0]))


def test_smooth_l1_backward_twice_returns_the_same_gradient():
    beta = 0.5
    loss = mm.SmoothL1Loss(beta=beta)
    loss.forward(Y.copy(), T)
    g = loss.backward().copy()
    np.testing.assert_allclose(g, np.clip(Y - T, -beta, beta) / beta / Y.size, rtol=1e-14)
    np.testing.assert_array_equal(loss.backward(), g)
    np.testing.assert_array_equal(loss.backward(), g)


def test_smooth_l1_at_beta_is_the_linear_branch():
    """``|d| - beta/2`` for ``|d| >= beta``: at ``|d| = beta`` exactly beta/2 (the quadratic
    form d^2/(2 beta) rounds differently for some beta, e.g. 0.09)."""
    for beta in (0.09, 0.18, 1.0):
        values = mm.SmoothL1Loss(beta=beta, reduction="none").forward(
            np.array([[beta, -beta]]), np.zeros((1, 2)))
        np.testing.assert_array_equal(values, [[beta / 2, beta / 2]])


@pytest.mark.parametrize("make, names", [
    (lambda: mm.CrossEntropyLoss(weight=[1.0, 2.0]), ["weight"]),
    (lambda: mm.NLLLoss(weight=[1.0, 2.0]), ["weight"]),
    (lambda: mm.BCEWithLogitsLoss(weight=[1.0, 2.0], pos_weight=[3.0, 4.0]), ["weight", "pos_weight"]),
])
def test_a_loss_weight_is_a_read_only_private_copy(make, names):
    loss = make()
    for name in names:
        w = getattr(loss, name)
        before = w.copy()
        with pytest.raises(ValueError, match="read-only"):
            w[0] = 5.0
        np.testing.assert_array_equal(getattr(loss, name), before)


@pytest.mark.parametrize("make", [mm.CrossEntropyLoss, mm.NLLLoss])
def test_a_bad_label_message_names_ignore_index_only_outside_the_classes(make):
    X = np.log(np.full((2, 3), 1.0 / 3.0))
    with pytest.raises(ValueError, match=r"\[0, 2\] for 3 classes \(or equal ignore_index=3\)"):
        make(ignore_index=3).forward(X, np.array([0, 5]))
    with pytest.raises(ValueError, match=r"for 3 classes \(or equal ignore_index=-1\)"):
        make(ignore_index=-1).forward(X, np.array([0, 5]))
    with pytest.raises(ValueError, match=r"\[0, 2\] for 3 classes, got") as info:
        make(ignore_index=1).forward(X, np.array([0, 5]))
    assert "or equal" not in str(info.value)


def test_ignored_labels_with_a_single_class():
    labels = np.array([0, -1, 0])
    ce = mm.CrossEntropyLoss(ignore_index=-1)
    assert ce.forward(np.array([[0.3], [-2.0], [5.0]]), labels) == 0.0   # log P = log 1 = 0
    np.testing.assert_array_equal(ce.backward(), np.zeros((3, 1)))
    nll = mm.NLLLoss(ignore_index=-1)
    assert nll.forward(np.array([[-0.5], [-7.0], [-1.5]]), labels) == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_allclose(nll.backward(), [[-0.5], [0.0], [-0.5]], rtol=1e-15)
    values = mm.NLLLoss(ignore_index=-1, reduction="none").forward(np.array([[-0.5], [-7.0], [-1.5]]), labels)
    np.testing.assert_allclose(values, [0.5, 0.0, 1.5], rtol=1e-15)


def test_poisson_rates_may_be_exactly_zero():
    eps = 1e-8
    Yr, Tr = np.array([[0.0, 2.0]]), np.array([[1.0, 3.0]])
    expected = ((0.0 - 1.0 * math.log(0.0 + eps)) + (2.0 - 3.0 * math.log(2.0 + eps))) / 2
    loss = mm.PoissonNLLLoss(log_input=False)
    assert loss.forward(Yr, Tr) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), [[(1 - 1.0 / eps) / 2, (1 - 3.0 / (2.0 + eps)) / 2]], rtol=1e-12)
    with pytest.raises(ValueError, match="must be >= 0"):
        loss.forward(np.array([[-1e-300, 2.0]]), Tr)
