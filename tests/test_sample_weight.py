"""fit/evaluate(sample_weight=) and minimlp.weighting.SampleWeighted, Keras' semantics.

The expected values are written out here: Keras' ``"sum_over_batch_size"`` reduction
(``mean_n w_n * l_n``, ``l_n`` the mean over sample n's outputs) with softmax, sigmoid and
squares by hand; repeated rows; central differences; torch's ``reduction="none"`` values
weighted by hand when torch is installed.
"""
import numpy as np
import pytest

import minimlp as mm
from minimlp.callbacks import Callback
from minimlp.weighting import SampleWeighted

pytestmark = pytest.mark.filterwarnings("error")


def mlp(D_in=3, H=6, D_out=3, dtype=np.float64, seed=0):
    return mm.Sequential(mm.Dense(D_in, H, rng=seed, dtype=dtype), mm.Tanh(),
                         mm.Dense(H, D_out, rng=seed + 1, dtype=dtype))


def problem(kind, N=37, D_in=3, seed=0):
    """(X, targets, loss, D_out) for one loss kind."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D_in))
    if kind == "ce":
        return X, rng.integers(0, 3, N), mm.CrossEntropyLoss(), 3
    if kind == "mse":
        return X, rng.standard_normal((N, 2)), mm.MSELoss(), 2
    if kind == "bce":
        return X, rng.integers(0, 2, (N, 2)).astype(float), mm.BCEWithLogitsLoss(), 2
    raise KeyError(kind)


def params(model):
    return [p.value.copy() for p in model.parameters()]


def train(kind, sample_weight=None, targets=None, **kw):
    X, T, loss, D_out = problem(kind)
    T = T if targets is None else targets
    net = mlp(D_out=D_out)
    opt = mm.Adam(net.parameters(), lr=0.02)
    args = dict(epochs=4, batch_size=8, seed=3, verbose=0)
    args.update(kw)
    h = mm.fit(net, X, T, loss=loss, optimizer=opt, sample_weight=sample_weight, **args)
    return net, h


# -- Keras' formula, written out ----------------------------------------------------------

def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def keras_loss(kind, Y, T, w):
    """sum_over_batch_size: mean over the batch of w_n * (sample n's loss)."""
    if kind == "ce":
        per_sample = -np.log(softmax(Y)[np.arange(len(T)), T])
    elif kind == "mse":
        per_sample = ((Y - T) ** 2).mean(axis=1)
    else:
        s = 1.0 / (1.0 + np.exp(-Y))
        per_sample = -(T * np.log(s) + (1 - T) * np.log(1 - s)).mean(axis=1)
    return float(np.mean(w * per_sample))


@pytest.mark.parametrize("kind", ["ce", "mse", "bce"])
def test_forward_evaluate_and_fit_report_keras_formula(kind):
    X, T, loss, D_out = problem(kind)
    w = np.random.default_rng(1).uniform(0, 3, X.shape[0])
    net = mlp(D_out=D_out)
    Y = net.predict(X)
    expected = keras_loss(kind, Y, T, w)
    assert SampleWeighted(loss).forward(Y, T, w) == pytest.approx(expected, rel=1e-12)
    for chunk in (None, 10):   # chunks weigh their rows: the same number
        got = mm.evaluate(net, X, T, loss=loss, sample_weight=w, batch_size=chunk)["loss"]
        assert got == pytest.approx(expected, rel=1e-12)
    # One full batch without shuffling: the epoch's loss is that of the initial model.
    h = mm.fit(net, X, T, loss=loss, optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
               batch_size=X.shape[0], shuffle=False, verbose=0, sample_weight=w)
    assert h.history["loss"][0] == pytest.approx(expected, rel=1e-12)


def test_mean_over_batch_not_over_weights():
    """Keras divides by the batch size, not by sum(w): halving every weight halves the loss."""
    Y = np.array([[1.0], [3.0]])
    T = np.zeros((2, 1))
    w = np.array([1.0, 0.5])
    # (1 * 1^2 + 0.5 * 3^2) / 2 = 2.75
    assert SampleWeighted(mm.MSELoss()).forward(Y, T, w) == pytest.approx(2.75, rel=1e-15)
    assert SampleWeighted(mm.MSELoss()).forward(Y, T, w / 2) == pytest.approx(1.375, rel=1e-15)
    # reduction="sum": 1 + 4.5
    assert SampleWeighted(mm.MSELoss(reduction="sum")).forward(Y, T, w) == pytest.approx(5.5)


def test_torch_reduction_none_weighted_by_hand():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    Z, w = rng.standard_normal((9, 4)), rng.uniform(0, 2, 9)
    t, T = rng.integers(0, 4, 9), rng.standard_normal((9, 4))
    B = rng.integers(0, 2, (9, 4)).astype(float)
    Zt, wt = torch.tensor(Z), torch.tensor(w)
    cases = [
        (mm.CrossEntropyLoss(), t, torch.nn.functional.cross_entropy(Zt, torch.tensor(t), reduction="none")),
        (mm.MSELoss(), T, torch.nn.functional.mse_loss(Zt, torch.tensor(T), reduction="none").mean(1)),
        (mm.BCEWithLogitsLoss(), B, torch.nn.functional.binary_cross_entropy_with_logits(
            Zt, torch.tensor(B), reduction="none").mean(1)),
        (mm.HuberLoss(delta=0.5), T, torch.nn.functional.huber_loss(
            Zt, torch.tensor(T), delta=0.5, reduction="none").mean(1)),
    ]
    for loss, targets, per_sample in cases:
        expected = float((wt * per_sample).mean())
        assert SampleWeighted(loss).forward(Z, targets, w) == pytest.approx(expected, rel=1e-12, abs=1e-15)


# -- weights of 1 are no weights ----------------------------------------------------------

class SeeLoss(Callback):
    def on_train_begin(self, logs):
        self.seen = self.loss


@pytest.mark.parametrize("kind", ["ce", "mse", "bce"])
def test_ones_equal_unweighted_fit_bit_for_bit(kind):
    N = problem(kind)[0].shape[0]
    plain, h0 = train(kind, validation_split=0.25)
    ones, h1 = train(kind, sample_weight=np.ones(N), validation_split=0.25)
    for a, b in zip(params(plain), params(ones)):
        assert np.array_equal(a, b)
    np.testing.assert_allclose(h1.history["loss"], h0.history["loss"], rtol=1e-13)
    np.testing.assert_allclose(h1.history["val_loss"], h0.history["val_loss"], rtol=1e-13)


def test_unweighted_fit_does_not_wrap_the_loss():
    X, T, loss, D_out = problem("mse")
    net = mlp(D_out=D_out)
    cb = SeeLoss()
    mm.fit(net, X, T, loss=loss, optimizer="sgd", epochs=1, verbose=0, callbacks=[cb])
    assert cb.seen is loss
    mm.fit(net, X, T, loss=loss, optimizer="sgd", epochs=1, verbose=0, callbacks=[cb],
           sample_weight=np.ones(X.shape[0]))
    assert isinstance(cb.seen, SampleWeighted) and cb.seen.loss is loss


# -- integer weights are repeated rows ----------------------------------------------------

@pytest.mark.parametrize("kind", ["ce", "mse", "bce"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_integer_weights_equal_repeated_rows_in_a_full_batch_step(kind, reduction):
    X, T, loss, D_out = problem(kind, N=11)
    loss = type(loss)(reduction=reduction)
    k = np.array([0, 1, 2, 3, 1, 0, 4, 1, 2, 1, 5])
    K, N = k.sum(), len(k)
    Xr, Tr = np.repeat(X, k, axis=0), np.repeat(T, k, axis=0)
    # sum: the same loss. mean: the weighted loss divides by N, the repeated one by K.
    scale = 1.0 if reduction == "sum" else K / N
    a, b = mlp(D_out=D_out), mlp(D_out=D_out)
    ha = mm.fit(a, X, T, loss=loss, optimizer=mm.SGD(a.parameters(), lr=0.3 / scale), epochs=1,
                batch_size=N, shuffle=False, verbose=0, sample_weight=k)
    hb = mm.fit(b, Xr, Tr, loss=type(loss)(reduction=reduction),
                optimizer=mm.SGD(b.parameters(), lr=0.3), epochs=1, batch_size=K,
                shuffle=False, verbose=0)
    assert ha.history["loss"][0] == pytest.approx(scale * hb.history["loss"][0], rel=1e-12)
    for pa, pb in zip(params(a), params(b)):
        np.testing.assert_allclose(pa, pb, rtol=1e-12, atol=1e-12)


# -- the gradient -------------------------------------------------------------------------

def central_difference(f, Y, h=1e-6):
    G = np.zeros_like(Y)
    for i in np.ndindex(Y.shape):
        Yp, Ym = Y.copy(), Y.copy()
        Yp[i] += h
        Ym[i] -= h
        G[i] = (f(Yp) - f(Ym)) / (2 * h)
    return G


GRADIENT_CASES = {
    "ce labels": (mm.CrossEntropyLoss(), lambda r: r.integers(0, 4, 7)),
    "ce probabilities": (mm.CrossEntropyLoss(label_smoothing=0.1),
                         lambda r: softmax(r.standard_normal((7, 4)))),
    "ce weight+ignore": (mm.CrossEntropyLoss(weight=[1.0, 2.0, 0.5, 3.0], ignore_index=1),
                         lambda r: r.integers(0, 4, 7)),
    "mse": (mm.MSELoss(), lambda r: r.standard_normal((7, 4))),
    "mse sum": (mm.MSELoss(reduction="sum"), lambda r: r.standard_normal((7, 4))),
    "bce": (mm.BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 0.5, 1.5]),
            lambda r: r.uniform(0, 1, (7, 4))),
    "smooth_l1": (mm.SmoothL1Loss(beta=0.7), lambda r: r.standard_normal((7, 4))),
    "nll": (mm.NLLLoss(), lambda r: r.integers(0, 4, 7)),
}


@pytest.mark.parametrize("case", list(GRADIENT_CASES))
def test_gradient_matches_central_differences(case):
    inner, make_T = GRADIENT_CASES[case]
    rng = np.random.default_rng(7)
    Y, T, w = rng.standard_normal((7, 4)), make_T(rng), rng.uniform(0, 2, 7)
    w[2] = 0.0
    if case == "nll":
        Y = np.log(softmax(Y))
    loss = SampleWeighted(inner)
    value = loss.forward(Y, T, w)
    G = loss.backward().copy()
    assert loss.backward() is not None and np.array_equal(loss.backward(), G)   # idempotent
    fresh = SampleWeighted(inner)
    expected = central_difference(lambda Z: fresh.forward(Z, T, w), Y)
    np.testing.assert_allclose(G, expected, rtol=1e-6, atol=1e-9)
    assert value == pytest.approx(fresh.forward(Y, T, w), rel=1e-15)
    # and the weighted value is the wrapped loss's own reduction of the weighted values
    V = type(inner)(**_options(inner), reduction="none").forward(Y, T)
    l = V if V.ndim == 1 else V.sum(axis=1)
    plain = inner.forward(Y, T)
    M = V.sum() / plain if inner.reduction == "mean" else 1.0
    assert value == pytest.approx(np.dot(w, l) / M, rel=1e-12)


def _options(loss):
    out = {}
    for name in ("weight", "ignore_index", "label_smoothing", "pos_weight", "beta"):
        if hasattr(loss, name):
            v = getattr(loss, name)
            out[name] = v.copy() if isinstance(v, np.ndarray) else v
    return out


def test_the_weighted_step_gradient_through_the_network():
    """TrainStep on SampleWeighted: the parameters' gradient against central differences."""
    X, T, inner, D_out = problem("ce", N=9)
    w = np.random.default_rng(2).uniform(0, 2, 9)
    net = mlp(D_out=D_out)
    loss = SampleWeighted(inner)
    before = params(net)
    lr = 1e-3
    mm.TrainStep(net, loss, mm.SGD(net.parameters(), lr=lr), threads=None)(X, (T, w))
    for p, b in zip(net.parameters(), before):
        grad = (b - p.value) / lr
        def f(v, p=p, b=b):
            saved = p.value.copy()
            p.value[...] = v
            out = SampleWeighted(inner).forward(net.predict(X), T, w)
            p.value[...] = saved
            return out
        rest = [q.value.copy() for q in net.parameters()]
        for q, v in zip(net.parameters(), before):
            q.value[...] = v
        expected = central_difference(f, b.copy())
        for q, v in zip(net.parameters(), rest):
            q.value[...] = v
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-8)


# -- the weights follow the rows ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["ce", "mse", "bce"])
def test_zero_weight_rows_do_not_train_even_shuffled(kind):
    """A row of weight 0 contributes nothing: changing its target changes nothing, in
    shuffled batches (so each batch's weights are its rows' weights)."""
    X, T, _, D_out = problem(kind)
    w = np.ones(X.shape[0])
    w[::3] = 0.0
    other = T.copy()
    if kind == "ce":
        other[::3] = (T[::3] + 1) % 3
    else:
        other[::3] = 1.0 - T[::3] if kind == "bce" else T[::3] + 5.0
    a, ha = train(kind, sample_weight=w, batch_size=5)
    b, hb = train(kind, sample_weight=w, targets=other, batch_size=5)
    for pa, pb in zip(params(a), params(b)):
        assert np.array_equal(pa, pb)
    assert ha.history["loss"] == hb.history["loss"]
    c, _ = train(kind, targets=other, batch_size=5)   # and without the weights they matter
    assert not np.allclose(params(a)[0], params(c)[0])


def test_validation_split_splits_the_weights_with_the_rows():
    X, T, loss, D_out = problem("mse")
    w = np.random.default_rng(5).uniform(0.1, 3, X.shape[0])
    for rows in ("last", "random"):
        net, h = train("mse", sample_weight=w, validation_split=0.3, validation_rows=rows)
        n_val = int(round(X.shape[0] * 0.3))
        if rows == "last":
            val = np.arange(X.shape[0] - n_val, X.shape[0])
        else:   # the split's own stream, as the module docstring of minimlp.training gives it
            ss = np.random.SeedSequence(3)
            perm = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(0,))).permutation(X.shape[0])
            val = np.sort(perm[:n_val])
        expected = keras_loss("mse", net.predict(X[val]), T[val], w[val])
        assert h.history["val_loss"][-1] == pytest.approx(expected, rel=1e-12)


def test_validation_data_triple_weighs_val_loss():
    X, T, loss, D_out = problem("ce")
    Xv, Tv = X[:10], T[:10]
    wv = np.linspace(0, 2, 10)
    net, h = train("ce", validation_data=(Xv, Tv, wv))
    assert h.history["val_loss"][-1] == pytest.approx(keras_loss("ce", net.predict(Xv), Tv, wv), rel=1e-12)
    net, h = train("ce", sample_weight=np.full(X.shape[0], 2.0), validation_data=(Xv, Tv))
    # training weighted, validation pair without weights: val_loss unweighted
    assert h.history["val_loss"][-1] == pytest.approx(
        keras_loss("ce", net.predict(Xv), Tv, np.ones(10)), rel=1e-12)


def test_sequential_fit_forwards_sample_weight_and_float32():
    X, T, loss, D_out = problem("mse")
    net = mlp(D_out=D_out, dtype=np.float32)
    w = np.random.default_rng(0).integers(0, 3, X.shape[0])
    h = net.fit(X, T, loss=loss, optimizer="adam", epochs=2, verbose=0, sample_weight=w)
    assert len(h.history["loss"]) == 2
    got = net.evaluate(X, T, loss=loss, sample_weight=w)["loss"]
    expected = keras_loss("mse", net.predict(X).astype(np.float64), T, w)
    assert got == pytest.approx(expected, rel=1e-5)


def test_metrics_stay_unweighted():
    X, T, loss, D_out = problem("ce")
    net = mlp(D_out=D_out)
    w = np.zeros(X.shape[0])
    w[0] = 1.0
    out = mm.evaluate(net, X, T, loss=loss, metrics=["accuracy"], sample_weight=w)
    assert out["accuracy"] == pytest.approx(np.mean(net.predict(X).argmax(1) == T))


# -- bad weights --------------------------------------------------------------------------

N_ROWS = problem("mse")[0].shape[0]
BAD = {
    "column": (np.ones((N_ROWS, 1)), ValueError, r"shape \(37,\).*\(37, 1\).*ravel"),
    "short": (np.ones(N_ROWS - 1), ValueError, r"shape \(37,\).*\(36,\)"),
    "scalar": (2.0, ValueError, r"shape \(37,\)"),
    "negative": (np.r_[np.ones(N_ROWS - 1), -1.0], ValueError, r">= 0, got -1.0 at row 36"),
    "nan": (np.r_[np.nan, np.ones(N_ROWS - 1)], ValueError, r"finite, got nan at row 0"),
    "inf": (np.r_[np.ones(N_ROWS - 1), np.inf], ValueError, r"finite, got inf at row 36"),
    "zeros": (np.zeros(N_ROWS), ValueError, r"all 0"),
    "strings": (np.array(["1"] * N_ROWS), TypeError, r"real numbers.*<U1"),
    "complex": (np.ones(N_ROWS, complex), TypeError, r"real numbers.*complex"),
    "ragged": ([1.0, [2.0]], TypeError, r"could not convert"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_weights_refused_model_unchanged(case):
    w, error, pattern = BAD[case]
    X, T, loss, D_out = problem("mse")
    net = mlp(D_out=D_out)
    opt = mm.Adam(net.parameters(), lr=0.1)
    before, state = params(net), opt.state_dict()
    with pytest.raises(error, match="fit: sample_weight .*" + pattern):
        mm.fit(net, X, T, loss=loss, optimizer=opt, epochs=1, verbose=0, sample_weight=w)
    for a, b in zip(params(net), before):
        assert np.array_equal(a, b)
    assert opt.steps == 0 and repr(opt.state_dict()) == repr(state)
    with pytest.raises(error, match="evaluate: sample_weight .*" + pattern):
        mm.evaluate(net, X, T, loss=loss, sample_weight=w)


def test_other_refusals():
    X, T, loss, D_out = problem("mse")
    net = mlp(D_out=D_out)
    w = np.ones(X.shape[0])
    w[-10:] = 0.0
    before = params(net)
    with pytest.raises(ValueError, match="sample_weight is 0 on every one of the 26 training rows"):
        mm.fit(net, X, T, loss=loss, optimizer="sgd", epochs=1, verbose=0, sample_weight=1 - w,
               validation_split=0.3, validation_rows="last")
    with pytest.raises(ValueError, match=r"fit validation_data: sample_weight must have shape \(5,\)"):
        mm.fit(net, X, T, loss=loss, optimizer="sgd", epochs=1, verbose=0,
               validation_data=(X[:5], T[:5], np.ones(4)))
    with pytest.raises(TypeError, match=r"fit: pass the unweighted loss \(MSELoss\(\)\) and sample_weight"):
        mm.fit(net, X, T, loss=SampleWeighted(loss), optimizer="sgd", epochs=1, verbose=0)
    for a, b in zip(params(net), before):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="evaluate: sample_weight weighs the loss"):
        mm.evaluate(net, X, T, metrics=["mse"], sample_weight=w)
    with pytest.raises(ValueError, match="reduction='mean' or 'sum'"):
        SampleWeighted(mm.MSELoss(reduction="none"))
    with pytest.raises(TypeError, match="already weighted"):
        SampleWeighted(SampleWeighted("mse"))
    with pytest.raises(TypeError, match=r"forward\(Y, T, sample_weight\) needs the weights"):
        SampleWeighted("mse").forward(np.zeros((2, 1)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"SampleWeighted\(MSELoss\(\)\): sample_weight must have shape \(2,\)"):
        SampleWeighted("mse").forward(np.zeros((2, 1)), np.zeros((2, 1)), np.ones(3))
    with pytest.raises(TypeError, match=r"targets must be the pair \(T, sample_weight\)"):
        mm.TrainStep(net, SampleWeighted(loss), mm.SGD(net.parameters(), lr=0.1))(X, T)
    assert repr(SampleWeighted("ce")) == "SampleWeighted(CrossEntropyLoss())"


def test_bool_weights_select_rows():
    X, T, loss, D_out = problem("mse")
    net = mlp(D_out=D_out)
    keep = np.arange(X.shape[0]) % 2 == 0
    got = mm.evaluate(net, X, T, loss=loss, sample_weight=keep)["loss"]
    assert got == pytest.approx(keras_loss("mse", net.predict(X), T, keep.astype(float)), rel=1e-12)


def test_every_label_ignored():
    """The mean over no counted label is 0/0: forward raises as CrossEntropyLoss does; fit's
    unchecked step takes a zero loss and gradient (as the unweighted loss)."""
    loss = SampleWeighted(mm.CrossEntropyLoss(ignore_index=1))
    Z, t, w = np.zeros((3, 2)), np.array([1, 1, 1]), np.ones(3)
    with pytest.raises(ValueError, match="every label of this batch is ignore_index"):
        loss.forward(Z, t, w)
    assert loss._forward(Z, (t, w)) == 0.0
    assert not loss._backward().any()
