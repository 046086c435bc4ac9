"""Per-example gradient norms and the gradient noise scale (minimlp.noise).

Golden values come from independent computations: a loop of batch-1 backward passes (each
sample's gradient, summed up by hand), and the exact |G|^2 and tr(Sigma) from every
per-example gradient of the data set.
"""
import itertools
import math

import numpy as np
import pytest

import minimlp as mm
from minimlp.noise import noise_scale_estimates, per_example_grad_norms


def _models():
    r = np.random.default_rng(0)
    yield "dense-tanh", mm.Sequential(mm.Dense(4, 6, rng=1), mm.Tanh(), mm.Dense(6, 3, rng=2))
    yield "no-bias", mm.Sequential(mm.Dense(4, 5, bias=False, rng=3), mm.ReLU(), mm.Dense(5, 3, rng=4))
    ln = mm.LayerNorm(6)
    ln.parameters()[0].value[:] = r.normal(1, 0.3, 6)   # gamma, beta away from 1 and 0
    ln.parameters()[1].value[:] = r.normal(0, 0.3, 6)
    yield "layernorm", mm.Sequential(mm.Dense(4, 6, rng=5), ln, mm.GELU(), mm.Dense(6, 3, rng=6))
    yield "layernorm-no-affine", mm.Sequential(mm.Dense(4, 6, rng=5), mm.LayerNorm(6, elementwise_affine=False),
                                               mm.Sigmoid(), mm.Dense(6, 3, rng=6))
    yield "nested", mm.Sequential(mm.Dense(4, 5, rng=7),
                                  mm.Sequential(mm.Tanh(), mm.Dense(5, 5, rng=8), mm.Sequential(mm.ELU())),
                                  mm.Dense(5, 3, rng=9))


def _flat_names(model):
    """Sequential.named_parameters names nested layers by the outer index only; the norms
    use the full path. Map full path -> Parameter for the comparison."""
    return dict(model.named_parameters())


def _loop_norms_by_path(model, loss, X, T):
    params = _flat_names(model)
    out = {k: np.empty(X.shape[0]) for k in params}
    for n in range(X.shape[0]):
        loss.forward(model.forward(X[n:n + 1]), T[n:n + 1])
        model.backward(loss.backward())
        for k, p in params.items():
            out[k][n] = np.sum(p.grad ** 2)
    return out


@pytest.mark.parametrize("name,model", list(_models()), ids=[n for n, _ in _models()])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_norms_equal_a_loop_of_batch_one_passes(name, model, reduction):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(7, 4))
    T = rng.integers(0, 3, size=7)
    loss = mm.CrossEntropyLoss(reduction=reduction)
    with np.errstate(all="raise"):
        got = per_example_grad_norms(model, loss, X, T)
        grads = {k: p.grad.copy() for k, p in _flat_names(model).items()}
        want = _loop_norms_by_path(model, loss, X, T)   # the loss of one sample alone
    assert list(got.sq_norms) == list(want)
    for k in want:
        np.testing.assert_allclose(got.sq_norms[k], want[k], rtol=1e-12, atol=1e-15, err_msg=k)
    # and the batch gradient it leaves behind is the ordinary one
    loss.forward(model.forward(X), T)
    model.backward(loss.backward())
    for k, p in _flat_names(model).items():
        np.testing.assert_allclose(grads[k], p.grad, rtol=1e-13, atol=1e-15)
    mean_grad_sq = sum(np.sum((p.grad / (X.shape[0] if reduction == "sum" else 1)) ** 2)
                       for p in model.parameters())
    assert got.batch_sq_norm == pytest.approx(mean_grad_sq, rel=1e-12)


def test_norms_with_mse_and_dropout_off():
    rng = np.random.default_rng(3)
    model = mm.Sequential(mm.Dense(3, 4, rng=1), mm.Softplus(), mm.Dense(4, 2, rng=2))
    X, T = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    loss = mm.MSELoss()
    got = per_example_grad_norms(model, loss, X, T).sq_norms
    # MSE averages over N*D elements: sample n's own loss is the mean over its D outputs,
    # and L = (1/N) sum_n l_n.
    want = _loop_norms_by_path(model, loss, X, T)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12)


def test_dense_formula_by_hand():
    # ||x^T d||_F^2 = ||x||^2 ||d||^2 on numbers one can check: x = (1, 2), d = (3, 4).
    d = mm.Dense(2, 2, rng=0)
    out = d.per_sample_sq_norms(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]))
    assert out["W"][0] == 5.0 * 25.0 and out["b"][0] == 25.0
    with pytest.raises(ValueError, match=r"Dense\(2, 2\).*dY of shape \(1, 2\)"):
        d.per_sample_sq_norms(np.ones((1, 2)), np.ones((2, 2)))


def test_batchnorm_says_it_couples_samples():
    model = mm.Sequential(mm.Dense(3, 4, rng=1), mm.BatchNorm1d(4), mm.Dense(4, 2, rng=2))
    before = model.layers[1].running_mean.copy()
    with pytest.raises(ValueError, match=r"layer 1 \(BatchNorm1d\(4\)\) couples the samples"):
        per_example_grad_norms(model, mm.CrossEntropyLoss(), np.ones((4, 3)), np.zeros(4, int))
    np.testing.assert_array_equal(model.layers[1].running_mean, before)   # nothing ran
    with pytest.raises(NotImplementedError, match="couples the samples"):
        mm.BatchNorm1d(4).per_sample_sq_norms(np.ones((2, 4)), np.ones((2, 4)))


# -- the noise scale ------------------------------------------------------------------------

def _exact(model, loss, X, T):
    """|G|^2 and tr(Sigma) from every per-example gradient of the data set (a loop)."""
    params = model.parameters()
    gs = []
    for n in range(X.shape[0]):
        loss.forward(model.forward(X[n:n + 1]), T[n:n + 1])
        model.backward(loss.backward())
        gs.append(np.concatenate([p.grad.ravel() for p in params]))
    gs = np.array(gs)
    G = gs.mean(axis=0)
    return float(G @ G), float(np.mean(np.sum((gs - G) ** 2, axis=1)))


def test_estimators_are_unbiased_over_every_batch():
    # With batches of B samples drawn with replacement, the mean of the estimates over all
    # N^B equally likely batches is their expectation: it must equal the exact values.
    rng = np.random.default_rng(5)
    model = mm.Sequential(mm.Dense(3, 4, rng=1), mm.Tanh(), mm.Dense(4, 3, rng=2))
    loss = mm.CrossEntropyLoss()
    X, T = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    g2_exact, tr_exact = _exact(model, loss, X, T)
    B = 3
    sums = np.zeros(2)
    sums_two = np.zeros(2)
    count = 0
    for idx in itertools.product(range(6), repeat=B):
        idx = list(idx)
        r = per_example_grad_norms(model, loss, X[idx], T[idx])
        sums += noise_scale_estimates(r.total.mean(), 1, r.batch_sq_norm, B)
        # the two-batch form: B_small = 1 from the first row's own gradient
        small = per_example_grad_norms(model, loss, X[idx[:1]], T[idx[:1]]).batch_sq_norm
        sums_two += noise_scale_estimates(small, 1, r.batch_sq_norm, B)
        count += 1
    np.testing.assert_allclose(sums / count, [g2_exact, tr_exact], rtol=1e-10)
    np.testing.assert_allclose(sums_two / count, [g2_exact, tr_exact], rtol=1e-10)
    assert tr_exact / g2_exact > 0


def test_callback_estimate_near_exact_value_on_full_data():
    # Frozen parameters (lr = 0): every estimate is of the same |G|^2 and tr(Sigma); their
    # smoothed ratio must land near the exact B_simple of the full data set.
    rng = np.random.default_rng(9)
    model = mm.Sequential(mm.Dense(2, 8, rng=1), mm.Tanh(), mm.Dense(8, 2, rng=2))
    X = rng.normal(size=(200, 2))
    T = (X[:, 0] * X[:, 1] > 0).astype(int)
    loss = mm.CrossEntropyLoss()
    g2, tr = _exact(model, loss, X, T)
    gns = mm.GradientNoiseScale(X, T, every=1, batch_size=64, beta=0.999, seed=1)
    h = model.fit(X, T, loss=loss, optimizer=mm.SGD(model.parameters(), lr=0.0), epochs=100,
                  batch_size=20, callbacks=[gns], verbose=0, seed=0)
    assert len(gns.steps) == 1000
    # The sampling is without replacement from N = 200: E[tr] has the factor N/(N-1).
    want = tr * 200 / 199 / (g2 - tr / 199)
    assert gns.b_simple[-1] == pytest.approx(want, rel=0.05)
    assert np.mean(gns.trace) == pytest.approx(tr * 200 / 199, rel=0.02)
    assert len(h["b_simple"]) == len(h) == 100 and h["b_simple"][-1] == gns.b_simple[-1]


def test_callback_leaves_training_unchanged():
    rng = np.random.default_rng(2)
    X, T = rng.normal(size=(60, 3)), rng.integers(0, 2, size=60)

    def run(cbs):
        net = mm.Sequential(mm.Dense(3, 8, rng=1), mm.ReLU(), mm.Dropout(0.3, rng=4), mm.Dense(8, 2, rng=2))
        h = net.fit(X, T, loss="ce", optimizer=mm.Adam(net.parameters(), lr=0.01), epochs=3,
                    batch_size=10, callbacks=cbs, verbose=0, seed=3)
        return h["loss"], [p.value.copy() for p in net.parameters()]

    loss0, w0 = run([])
    gns = mm.GradientNoiseScale(X, T, every=4, seed=0)
    loss1, w1 = run([gns])
    assert loss0 == loss1
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    assert gns.steps == [4, 8, 12, 16]
    # the smoothing: separate bias-corrected EMAs of |G|^2 and tr(Sigma), then the ratio
    b = gns.beta
    for k in range(4):
        w = [(1 - b) * b ** (k - j) for j in range(k + 1)]
        g2 = sum(wj * gns.g2[j] for j, wj in enumerate(w)) / sum(w)
        tr = sum(wj * gns.trace[j] for j, wj in enumerate(w)) / sum(w)
        want = tr / g2 if g2 > 0 else math.nan
        assert gns.b_simple[k] == pytest.approx(want, rel=1e-12, nan_ok=True)


def test_callback_checks():
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        mm.GradientNoiseScale(np.ones((3, 2)), np.zeros(3), batch_size=1)
    with pytest.raises(ValueError, match="every"):
        mm.GradientNoiseScale(np.ones((3, 2)), np.zeros(3), every=0)
    net = mm.Sequential(mm.Dense(2, 3, rng=0), mm.BatchNorm1d(3), mm.Dense(3, 2, rng=1))
    w = net.parameters()[0].value.copy()
    with pytest.raises(ValueError, match="BatchNorm1d"):
        net.fit(np.ones((8, 2)), np.zeros(8, int), loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1),
                epochs=1, callbacks=[mm.GradientNoiseScale(np.ones((8, 2)), np.zeros(8, int))], verbose=0)
    np.testing.assert_array_equal(net.parameters()[0].value, w)


def test_plot_noise_scale(tmp_path):
    rng = np.random.default_rng(2)
    X, T = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    net = mm.Sequential(mm.Dense(3, 4, rng=1), mm.Tanh(), mm.Dense(4, 2, rng=2))
    gns = mm.GradientNoiseScale(X, T, every=2)
    with pytest.raises(ValueError, match="no estimates"):
        mm.plot_noise_scale(gns)
    net.fit(X, T, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=3, batch_size=8,
            callbacks=[gns], verbose=0)
    mm.plot_noise_scale(gns, tmp_path / "gns.png")
    assert (tmp_path / "gns.png").stat().st_size > 1000
