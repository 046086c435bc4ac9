"""The loss options of issue 14, checked without torch: values against formulas written out
here in plain Python (math, one element at a time), gradients by mm.gradcheck (mean, sum)
and by central differences of sum(dL * values) (reduction="none"). Also defect L10: a loss's
forward checks the predictions as it checks the targets.

torch's definitions (torch.nn.CrossEntropyLoss docs) that the reference functions follow:
label targets, weight w, smoothing e, C classes:
    l_n = (1 - e) * w[t_n] * (-log p[n, t_n]) + e / C * sum_c w[c] * (-log p[n, c]),
    0 when t_n == ignore_index; mean = sum_n l_n / sum_{n not ignored} w[t_n].
probability targets: T' = (1 - e) T + e / C, l_n = -sum_c w[c] T'[n, c] log p[n, c],
    mean = sum_n l_n / N.
"""
import math

import numpy as np
import pytest

import minimlp as mm

RNG = np.random.default_rng(77)
N, C = 6, 3
Z = RNG.standard_normal((N, C)) * 2
LABELS = np.array([0, 2, 1, 1, 0, 2])
IGNORED = np.array([0, -100, 1, 1, -100, 2])
PROBS = RNG.dirichlet(np.ones(C), N)
W = np.array([0.5, 2.0, 1.5])
Y = RNG.standard_normal((N, C))
T = RNG.standard_normal((N, C))
B = RNG.uniform(0, 1, (N, C))
P = RNG.uniform(0.05, 0.95, (N, C))


def log_softmax_row(z):
    m = max(z)
    lse = m + math.log(sum(math.exp(v - m) for v in z))
    return [v - lse for v in z]


def ce_labels_ref(Zc, labels, weight=None, ignore_index=-100, e=0.0):
    """(per-sample values, weighted-mean divisor)."""
    w = [1.0] * C if weight is None else list(weight)
    values, div = [], 0.0
    for z, tn in zip(Zc, labels):
        if tn == ignore_index:
            values.append(0.0)
            continue
        lp = log_softmax_row(z)
        values.append((1 - e) * w[tn] * -lp[tn] + e / C * sum(w[c] * -lp[c] for c in range(C)))
        div += w[tn]
    return values, div


def ce_probs_ref(Zc, probs, weight=None, e=0.0):
    w = [1.0] * C if weight is None else list(weight)
    out = []
    for z, row in zip(Zc, probs):
        lp = log_softmax_row(z)
        out.append(-sum(w[c] * ((1 - e) * row[c] + e / C) * lp[c] for c in range(C)))
    return out


def central_none(loss, Yc, Tc, dL, h=1e-6):
    """d/dY of sum(dL * loss.forward(Y, T)) by central differences."""
    Yc = Yc.copy()
    G = np.empty_like(Yc)
    for idx in np.ndindex(Yc.shape):
        old = Yc[idx]
        Yc[idx] = old + h
        fp = float(np.vdot(dL, loss.forward(Yc, Tc)))
        Yc[idx] = old - h
        fm = float(np.vdot(dL, loss.forward(Yc, Tc)))
        Yc[idx] = old
        G[idx] = (fp - fm) / (2 * h)
    return G


# -- CrossEntropyLoss: weight, ignore_index, label_smoothing -----------------------------
CE_CASES = [  # (id, constructor kwargs, labels, kwargs for the reference)
    ("weight", dict(weight=W), LABELS, dict(weight=W)),
    ("ignored-default", dict(), IGNORED, dict()),
    ("ignore-class-1", dict(ignore_index=1), LABELS, dict(ignore_index=1)),
    ("smoothing", dict(label_smoothing=0.25), LABELS, dict(e=0.25)),
    ("all-three", dict(weight=W, label_smoothing=0.1), IGNORED, dict(weight=W, e=0.1)),
    ("all-three-class", dict(weight=W, ignore_index=0, label_smoothing=0.3), LABELS,
     dict(weight=W, ignore_index=0, e=0.3)),
]


@pytest.mark.parametrize("name,kw,labels,ref", CE_CASES, ids=[c[0] for c in CE_CASES])
def test_cross_entropy_label_options_values(name, kw, labels, ref):
    values, div = ce_labels_ref(Z, labels, **ref)
    assert mm.CrossEntropyLoss(**kw).forward(Z, labels) == pytest.approx(sum(values) / div, rel=1e-12)
    assert mm.CrossEntropyLoss(**kw, reduction="sum").forward(Z, labels) == pytest.approx(sum(values), rel=1e-12)
    got = mm.CrossEntropyLoss(**kw, reduction="none").forward(Z, labels)
    assert got.shape == (N,)
    np.testing.assert_allclose(got, values, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("weight,e", [(W, 0.0), (None, 0.2), (W, 0.2)])
def test_cross_entropy_probability_options_values(weight, e):
    values = ce_probs_ref(Z, PROBS, weight, e)
    kw = dict(weight=weight, label_smoothing=e)
    assert mm.CrossEntropyLoss(**kw).forward(Z, PROBS) == pytest.approx(sum(values) / N, rel=1e-12)
    assert mm.CrossEntropyLoss(**kw, reduction="sum").forward(Z, PROBS) == pytest.approx(sum(values), rel=1e-12)
    np.testing.assert_allclose(mm.CrossEntropyLoss(**kw, reduction="none").forward(Z, PROBS), values,
                               rtol=1e-12)


def test_label_smoothing_of_labels_equals_smoothed_one_hot_rows():
    """Without weights, smoothing labels is the same as smoothing their one-hot rows."""
    onehot = np.eye(C)[LABELS]
    a = mm.CrossEntropyLoss(label_smoothing=0.3)
    b = mm.CrossEntropyLoss(label_smoothing=0.3)
    assert a.forward(Z, LABELS) == pytest.approx(b.forward(Z, onehot), rel=1e-13)
    np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-13, atol=1e-16)


def test_the_weighted_mean_divides_by_the_weights_of_the_counted_labels():
    # Worked by hand: two samples, the second ignored; weight 4 on class 1.
    Zc = np.array([[0.0, math.log(3.0)], [5.0, -5.0]])    # p[0] = (1/4, 3/4)
    got = mm.CrossEntropyLoss([1.0, 4.0]).forward(Zc, np.array([1, -100]))
    assert got == pytest.approx(-math.log(0.75), rel=1e-14)   # 4 * -log(3/4) / 4


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name,kw,labels,ref", CE_CASES, ids=[c[0] for c in CE_CASES])
def test_cross_entropy_label_options_gradcheck(name, kw, labels, ref, reduction):
    result = mm.gradcheck(mm.CrossEntropyLoss(**kw, reduction=reduction), Z, labels)
    assert result.max_rel_error < 1e-6, result


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weight,e", [(W, 0.0), (None, 0.2), (W, 0.2)])
def test_cross_entropy_probability_options_gradcheck(weight, e, reduction):
    loss = mm.CrossEntropyLoss(weight, label_smoothing=e, reduction=reduction)
    assert mm.gradcheck(loss, Z, PROBS).max_rel_error < 1e-6


def test_ignored_rows_get_no_gradient():
    loss = mm.CrossEntropyLoss(W, label_smoothing=0.2)
    loss.forward(Z, IGNORED)
    g = loss.backward()
    assert (g[IGNORED == -100] == 0).all() and (g[IGNORED != -100] != 0).all()


def test_unchecked_fast_path_handles_ignored_labels():
    """fit calls _forward/_backward unchecked: they must honour ignore_index too."""
    for kw in (dict(), dict(ignore_index=2), dict(weight=W)):
        checked, fast = mm.CrossEntropyLoss(**kw), mm.CrossEntropyLoss(**kw)
        labels = IGNORED if "ignore_index" not in kw else LABELS
        v = checked.forward(Z, labels)
        assert fast._forward(Z, labels.astype(np.intp)) == pytest.approx(v, rel=1e-14)
        np.testing.assert_allclose(fast._backward(), checked.backward(), rtol=1e-14)


def test_a_batch_of_ignored_labels_only():
    """torch returns nan for the mean (0/0); forward refuses it, the unchecked step takes 0."""
    loss = mm.CrossEntropyLoss()
    all_ignored = np.full(N, -100)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\(\): every label .* ignore_index .* 0/0"):
        loss.forward(Z, all_ignored)
    assert loss._forward(Z, all_ignored) == 0.0
    assert not loss._backward().any()
    assert mm.CrossEntropyLoss(reduction="sum").forward(Z, all_ignored) == 0.0
    assert not mm.CrossEntropyLoss(reduction="none").forward(Z, all_ignored).any()
    with pytest.raises(ValueError, match="0/0"):
        mm.NLLLoss([1.0, 0.0, 1.0]).forward(Z, np.ones(N, dtype=int))   # every weight 0


def test_plain_labels_keep_the_allocation_free_path():
    """No options: the fast path's reused buffers, as before (nothing new per step)."""
    loss = mm.CrossEntropyLoss()
    loss._forward(Z, LABELS.astype(np.intp))
    G1 = loss._backward()
    loss._forward(Z, LABELS.astype(np.intp))
    assert loss._backward() is G1 and loss._label_at is not None


# -- reduction="none" on every loss --------------------------------------------------------
def huber(d, delta):
    return 0.5 * d * d if abs(d) <= delta else delta * (abs(d) - 0.5 * delta)


def smooth_l1(d, beta):
    return abs(d) if beta == 0 else (0.5 * d * d / beta if abs(d) < beta else abs(d) - 0.5 * beta)


def bce(p, t):
    return -(t * max(math.log(p), -100) + (1 - t) * max(math.log(1 - p), -100))


def bce_logits(z, t, w=1.0, pw=1.0):
    log_s = -math.log1p(math.exp(-z)) if z >= 0 else z - math.log1p(math.exp(z))
    log_1ms = log_s - z                      # log(1 - s(z)) = log s(z) - z
    return -w * (pw * t * log_s + (1 - t) * log_1ms)


ELEMENT_CASES = [  # (id, factory(reduction), predictions, targets, per-element reference)
    ("MSE", lambda r: mm.MSELoss(reduction=r), Y, T, lambda y, t, k: (y - t) ** 2),
    ("L1", lambda r: mm.L1Loss(reduction=r), Y, T, lambda y, t, k: abs(y - t)),
    ("Huber", lambda r: mm.HuberLoss(0.6, reduction=r), Y, T, lambda y, t, k: huber(y - t, 0.6)),
    ("SmoothL1", lambda r: mm.SmoothL1Loss(reduction=r), Y, T, lambda y, t, k: smooth_l1(y - t, 1.0)),
    ("SmoothL1-0.4", lambda r: mm.SmoothL1Loss(0.4, reduction=r), Y, T, lambda y, t, k: smooth_l1(y - t, 0.4)),
    ("SmoothL1-0", lambda r: mm.SmoothL1Loss(0.0, reduction=r), Y, T, lambda y, t, k: abs(y - t)),
    ("BCE", lambda r: mm.BCELoss(reduction=r), P, B, lambda p, t, k: bce(p, t)),
    ("BCEWithLogits", lambda r: mm.BCEWithLogitsLoss(reduction=r), Z, B, lambda z, t, k: bce_logits(z, t)),
    ("BCEWithLogits-weight", lambda r: mm.BCEWithLogitsLoss(W, reduction=r), Z, B,
     lambda z, t, k: bce_logits(z, t, w=W[k])),
    ("BCEWithLogits-pos_weight", lambda r: mm.BCEWithLogitsLoss(reduction=r, pos_weight=W), Z, B,
     lambda z, t, k: bce_logits(z, t, pw=W[k])),
    ("BCEWithLogits-both", lambda r: mm.BCEWithLogitsLoss(W[::-1], reduction=r, pos_weight=W), Z, B,
     lambda z, t, k: bce_logits(z, t, w=W[::-1][k], pw=W[k])),
]


def element_values(ref, Yc, Tc):
    return np.array([[ref(Yc[n, k], Tc[n, k], k) for k in range(Yc.shape[1])] for n in range(Yc.shape[0])])


@pytest.mark.parametrize("name,make,Yc,Tc,ref", ELEMENT_CASES, ids=[c[0] for c in ELEMENT_CASES])
def test_elementwise_values_for_every_reduction(name, make, Yc, Tc, ref):
    V = element_values(ref, Yc, Tc)
    got = make("none").forward(Yc, Tc)
    assert got.shape == Yc.shape
    np.testing.assert_allclose(got, V, rtol=1e-12, atol=1e-15)
    assert make("sum").forward(Yc, Tc) == pytest.approx(V.sum(), rel=1e-12)
    assert make("mean").forward(Yc, Tc) == pytest.approx(V.mean(), rel=1e-12)


@pytest.mark.parametrize("name,make,Yc,Tc,ref", ELEMENT_CASES, ids=[c[0] for c in ELEMENT_CASES])
def test_reduction_none_backward_takes_the_upstream_gradient(name, make, Yc, Tc, ref):
    loss = make("none")
    dL = np.random.default_rng(1).standard_normal(Yc.shape)
    loss.forward(Yc, Tc)
    G = loss.backward(dL)
    np.testing.assert_allclose(G, central_none(loss, Yc, Tc, dL), rtol=1e-6, atol=1e-8)
    # dL of ones gives the gradient of the sum reduction
    s = make("sum")
    s.forward(Yc, Tc)
    loss.forward(Yc, Tc)
    np.testing.assert_allclose(loss.backward(np.ones(Yc.shape)), s.backward(), rtol=1e-14)


PER_SAMPLE_CASES = [
    ("CE-labels", lambda: mm.CrossEntropyLoss(reduction="none"), Z, LABELS),
    ("CE-options", lambda: mm.CrossEntropyLoss(W, label_smoothing=0.2, reduction="none"), Z, IGNORED),
    ("CE-probs", lambda: mm.CrossEntropyLoss(W, label_smoothing=0.1, reduction="none"), Z, PROBS),
    ("NLL", lambda: mm.NLLLoss(W, reduction="none"), Z - 3.0, IGNORED),
]


@pytest.mark.parametrize("name,make,Yc,Tc", PER_SAMPLE_CASES, ids=[c[0] for c in PER_SAMPLE_CASES])
def test_per_sample_none_backward(name, make, Yc, Tc):
    loss = make()
    dL = np.random.default_rng(2).standard_normal(N)
    assert loss.forward(Yc, Tc).shape == (N,)
    G = loss.backward(dL)
    np.testing.assert_allclose(G, central_none(loss, Yc, Tc, dL), rtol=1e-6, atol=1e-8)


def test_backward_twice_with_another_upstream_gradient():
    loss = mm.MSELoss(reduction="none")
    loss.forward(Y, T)
    a = loss.backward(np.ones_like(Y))
    b = loss.backward(2 * np.ones_like(Y))
    np.testing.assert_allclose(b, 2 * a, rtol=1e-15)
    np.testing.assert_allclose(a, 2 * (Y - T), rtol=1e-14)


def test_scalar_upstream_gradient_for_mean_and_sum():
    loss = mm.MSELoss()
    loss.forward(Y, T)
    np.testing.assert_allclose(loss.backward(3.0), 3.0 * 2 * (Y - T) / Y.size, rtol=1e-14)


# -- BCEWithLogitsLoss, SmoothL1Loss, NLLLoss, LogSoftmax: gradients and relations ----------
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name,make,Yc,Tc,ref", ELEMENT_CASES[3:], ids=[c[0] for c in ELEMENT_CASES[3:]])
def test_new_options_gradcheck(name, make, Yc, Tc, ref, reduction):
    if name == "SmoothL1-0":           # |d| has a kink at 0 only; these d are far from it
        assert np.abs(Yc - Tc).min() > 1e-3
    assert mm.gradcheck(make(reduction), Yc, Tc).max_rel_error < 1e-6


def test_pos_weight_scales_the_positive_term_only():
    z, pw = np.array([[0.3]]), 2.5
    s = 1 / (1 + math.exp(-0.3))
    assert mm.BCEWithLogitsLoss(pos_weight=[pw]).forward(z, np.array([[1.0]])) == pytest.approx(-pw * math.log(s))
    assert mm.BCEWithLogitsLoss(pos_weight=[pw]).forward(z, np.array([[0.0]])) == pytest.approx(-math.log(1 - s))
    loss = mm.BCEWithLogitsLoss(pos_weight=[pw])
    loss.forward(z, np.array([[1.0]]))
    assert loss.backward()[0, 0] == pytest.approx(pw * (s - 1))        # d/dz of -pw log s(z)


def test_bce_with_logits_weights_stay_finite_at_huge_logits():
    loss = mm.BCEWithLogitsLoss(W, pos_weight=W)
    Zc = np.array([[800.0, -800.0, 0.0]])
    value = loss.forward(Zc, np.array([[0.0, 1.0, 1.0]]))
    assert value == pytest.approx((0.5 * 800 + 2.0 * 2.0 * 800 + 1.5 * 1.5 * math.log(2)) / 3, rel=1e-12)
    assert np.isfinite(loss.backward()).all()


def test_smooth_l1_is_huber_over_beta():
    for beta in (0.3, 1.0, 2.0):
        assert mm.SmoothL1Loss(beta).forward(Y, T) == pytest.approx(mm.HuberLoss(beta).forward(Y, T) / beta, rel=1e-13)


def test_smooth_l1_beta_zero_is_l1():
    a, b = mm.SmoothL1Loss(0.0), mm.L1Loss()
    assert a.forward(Y, T) == pytest.approx(b.forward(Y, T), rel=1e-15)
    np.testing.assert_array_equal(a.backward(), b.backward())


def test_nll_values_by_hand():
    X = np.log(np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]))
    labels = np.array([1, 0, -100])
    w = [3.0, 1.0]
    expected = (1.0 * -math.log(0.8) + 3.0 * -math.log(0.6)) / (1.0 + 3.0)
    loss = mm.NLLLoss(w)
    assert loss.forward(X, labels) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), [[0, -1 / 4], [-3 / 4, 0], [0, 0]], rtol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kw", [dict(), dict(weight=W), dict(weight=W, ignore_index=1)])
def test_nll_gradcheck(kw, reduction):
    assert mm.gradcheck(mm.NLLLoss(**kw, reduction=reduction), Z - 2.0, IGNORED if not kw.get("ignore_index") else LABELS).max_rel_error < 1e-6


@pytest.mark.parametrize("kw", [dict(), dict(weight=W), dict(weight=W, reduction="sum")])
def test_log_softmax_then_nll_equals_cross_entropy(kw):
    """The hand-built pair and the fused loss: the same value and the same dL/dZ."""
    layer, nll, ce = mm.LogSoftmax(), mm.NLLLoss(**kw), mm.CrossEntropyLoss(**kw)
    value = nll.forward(layer.forward(Z), IGNORED)
    assert value == pytest.approx(ce.forward(Z, IGNORED), rel=1e-13)
    np.testing.assert_allclose(layer.backward(nll.backward()), ce.backward(), rtol=1e-12, atol=1e-16)


def test_log_softmax_is_stable_and_exact():
    X = np.array([[1000.0, 0.0, -1000.0], [1e-3, 2e-3, 3e-3]])
    Yl = mm.LogSoftmax().forward(X)      # under the suite's errstate: no overflow, no invalid
    expected = [[0.0, -1000.0, -2000.0],
                [v - math.log(sum(math.exp(u) for u in X[1])) for v in X[1]]]
    np.testing.assert_allclose(Yl, expected, rtol=1e-14, atol=1e-300)
    assert repr(mm.LogSoftmax()) == "LogSoftmax()"


# -- argument checks -----------------------------------------------------------------------
@pytest.mark.parametrize("make,exc,pattern", [
    (lambda: mm.CrossEntropyLoss(weight=[1.0, -1.0]), ValueError, r"CrossEntropyLoss: weight must hold finite numbers >= 0"),
    (lambda: mm.CrossEntropyLoss(weight=[[1.0, 2.0]]), ValueError, r"weight must be a 1-D array.*got shape \(1, 2\)"),
    (lambda: mm.CrossEntropyLoss(weight=["a"]), TypeError, r"weight must be a 1-D array of real numbers"),
    (lambda: mm.CrossEntropyLoss(weight=[1.0, np.nan]), ValueError, r"finite"),
    (lambda: mm.CrossEntropyLoss(ignore_index=1.5), TypeError, r"ignore_index must be an integer, got 1.5"),
    (lambda: mm.CrossEntropyLoss(ignore_index=True), TypeError, r"ignore_index must be an integer"),
    (lambda: mm.CrossEntropyLoss(label_smoothing=1.5), ValueError, r"CrossEntropyLoss: invalid label_smoothing 1.5"),
    (lambda: mm.NLLLoss(ignore_index="x"), TypeError, r"NLLLoss: ignore_index"),
    (lambda: mm.SmoothL1Loss(beta=-0.1), ValueError, r"SmoothL1Loss: invalid beta -0.1"),
    (lambda: mm.BCEWithLogitsLoss(pos_weight=[-1.0]), ValueError, r"BCEWithLogitsLoss: pos_weight must hold finite"),
    (lambda: mm.CrossEntropyLoss(W).forward(Z[:, :2], LABELS % 2), ValueError,
     r"weight must hold one value per class, 2 for predictions with 2 columns, got 3"),
    (lambda: mm.BCEWithLogitsLoss(pos_weight=[1.0, 2.0]).forward(Z, B), ValueError,
     r"pos_weight must have one value per output column \(3,\) for predictions \(6, 3\), got \(2,\)"),
    (lambda: mm.CrossEntropyLoss().forward(Z, np.array([0, 1, 2, 0, 1, -5])), ValueError,
     r"labels must lie in \[0, 2\] for 3 classes \(or equal ignore_index=-100\), got values in \[-5, 2\]"),
    (lambda: mm.CrossEntropyLoss(ignore_index=0).forward(Z, np.array([0, 1, 2, 0, 1, 3])), ValueError,
     r"labels must lie in \[0, 2\] for 3 classes, got values in \[1, 3\]"),
    (lambda: mm.NLLLoss().forward(Z, PROBS), ValueError, r"NLLLoss\(\): targets must be class labels of shape \(6,\).*CrossEntropyLoss"),
])
def test_bad_options_are_refused(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_upstream_gradient_checks():
    loss = mm.CrossEntropyLoss(reduction="none")
    loss.forward(Z, LABELS)
    with pytest.raises(TypeError, match=r"reduction='none' forward returned values of shape \(6,\); backward\(dL\) needs"):
        loss.backward()
    with pytest.raises(ValueError, match=r"dL must have the shape of the values forward returned \(6,\), got \(6, 3\)"):
        loss.backward(np.ones((N, C)))
    with pytest.raises(TypeError, match=r"dL must be a real numpy array"):
        loss.backward([1.0] * N)
    with pytest.raises(ValueError, match=r"dL contains NaN"):
        loss.backward(np.full(N, np.nan))
    mean = mm.MSELoss()
    mean.forward(Y, T)
    with pytest.raises(TypeError, match=r"reduction='mean' the loss is a float; backward\(\) takes no argument"):
        mean.backward(np.ones_like(Y))


def test_repr_shows_the_options():
    assert repr(mm.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(mm.CrossEntropyLoss([1, 2], ignore_index=0, reduction="none", label_smoothing=0.1)) == \
        "CrossEntropyLoss(weight=[1.0, 2.0], ignore_index=0, reduction='none', label_smoothing=0.1)"
    assert repr(mm.BCEWithLogitsLoss(pos_weight=[2.0])) == "BCEWithLogitsLoss(pos_weight=[2.0])"
    assert repr(mm.SmoothL1Loss(0.5)) == "SmoothL1Loss(beta=0.5)"
    assert repr(mm.NLLLoss(reduction="sum")) == "NLLLoss(reduction='sum')"
    assert repr(mm.HuberLoss(0.5, reduction="none")) == "HuberLoss(delta=0.5, reduction='none')"


def test_float32_predictions_stay_float32_with_weights():
    Z32 = Z.astype(np.float32)
    loss = mm.CrossEntropyLoss(W, label_smoothing=0.1)
    v = loss.forward(Z32, IGNORED)
    assert loss.backward().dtype == np.float32
    assert v == pytest.approx(mm.CrossEntropyLoss(W, label_smoothing=0.1).forward(Z, IGNORED), rel=1e-5)
    b = mm.BCEWithLogitsLoss(W, reduction="none", pos_weight=W)
    assert b.forward(Z32, B).dtype == np.float32 and b.backward(np.ones((N, C), np.float32)).dtype == np.float32


# -- L10: forward checks the predictions as it checks the targets ----------------------------
@pytest.mark.parametrize("make", [mm.MSELoss, mm.CrossEntropyLoss, mm.BCEWithLogitsLoss, mm.NLLLoss,
                                  mm.SmoothL1Loss, mm.L1Loss])
def test_predictions_are_checked(make):
    loss = make()
    targets = LABELS if make in (mm.CrossEntropyLoss, mm.NLLLoss) else B
    name = make.__name__
    with pytest.raises(TypeError, match=rf"{name}\(\): predictions must be a numpy float array \(N, D\), got list"):
        loss.forward(Z.tolist(), targets)
    with pytest.raises(TypeError, match=rf"{name}\(\): predictions must be floating point .* got dtype int64"):
        loss.forward(np.ones((N, C), dtype=np.int64), targets)
    bad = Z.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=rf"{name}\(\): predictions contain NaN or inf \(first at index \(2, 1\)\)"):
        loss.forward(bad, targets)
    bad[2, 1] = -np.inf
    with pytest.raises(ValueError, match=r"predictions contain NaN or inf"):
        loss.forward(bad, targets)
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward"):
        loss.backward()     # a refused forward cached nothing
