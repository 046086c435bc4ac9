"""Property-based tests (hypothesis) over generated networks: depth 1-4 Dense layers, widths
1-16, every activation, every loss, batch sizes 1-33, float32 and float64.

* the analytic gradient matches central differences (float64);
* batch invariance: a batch equals its rows stacked;
* save then load gives identical predictions and identical continued training;
* a step with learning rate 0 changes no parameter;
* predict changes no state (parameters, gradients, buffers, the dropout generator).

Profiles: ``ci`` (default; bounded so this file runs in well under 30 s) and ``dev`` (many
more examples): ``HYPOTHESIS_PROFILE=dev python -m pytest tests/test_properties.py``.
The profile is applied per test here, so other test files keep their own settings.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import minimlp as mm

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ACTIVATIONS = {
    "Sigmoid": mm.Sigmoid, "Tanh": mm.Tanh, "ReLU": mm.ReLU, "LeakyReLU": lambda: mm.LeakyReLU(0.1),
    "Identity": mm.Identity, "Softmax": mm.Softmax, "GELU": mm.GELU,
    "GELU-tanh": lambda: mm.GELU(approximate="tanh"), "ELU": mm.ELU, "Softplus": mm.Softplus,
}


def _labels(rng, N, C):
    return rng.integers(0, C, size=N)


def _probs(rng, N, C):
    P = rng.random((N, C)) + 0.05
    return P / P.sum(axis=1, keepdims=True)


# name -> (loss factory, targets(rng, N, C), needs a sigmoid output, minimum output width)
LOSSES = {
    "MSE": (mm.MSELoss, lambda r, N, C: r.standard_normal((N, C)), False, 1),
    "L1": (mm.L1Loss, lambda r, N, C: r.standard_normal((N, C)), False, 1),
    "Huber": (lambda: mm.HuberLoss(delta=0.5), lambda r, N, C: r.standard_normal((N, C)), False, 1),
    "CE-labels": (mm.CrossEntropyLoss, _labels, False, 2),
    "CE-probs": (mm.CrossEntropyLoss, _probs, False, 2),
    "BCEWithLogits": (mm.BCEWithLogitsLoss, lambda r, N, C: r.random((N, C)), False, 1),
    "BCE": (mm.BCELoss, lambda r, N, C: r.random((N, C)), True, 1),
    "MSE-sum": (lambda: mm.MSELoss(reduction="sum"), lambda r, N, C: r.standard_normal((N, C)), False, 1),
}


@st.composite
def networks(draw, extras=False, max_batch=33):
    """(widths, activation names, loss name, batch size, seed, extras) for a network."""
    depth = draw(st.integers(1, 4))
    loss = draw(st.sampled_from(sorted(LOSSES)))
    widths = [draw(st.integers(1, 16)) for _ in range(depth + 1)]
    widths[-1] = max(widths[-1], LOSSES[loss][3])
    acts = [draw(st.sampled_from(sorted(ACTIVATIONS))) for _ in range(depth - 1)]
    N = draw(st.integers(1, max_batch))
    seed = draw(st.integers(0, 2**32 - 1))
    norm = draw(st.sampled_from(["none", "BatchNorm1d", "LayerNorm", "Dropout"])) if extras else "none"
    return widths, acts, loss, N, seed, norm


def build(widths, acts, loss, seed, dtype=np.float64, norm="none"):
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(mm.Dense(a, b, rng=seed + i, dtype=dtype, init="glorot_normal"))
        if i < len(acts):
            if norm == "BatchNorm1d":
                layers.append(mm.BatchNorm1d(b, dtype=dtype))
            elif norm == "LayerNorm" and b > 1:
                layers.append(mm.LayerNorm(b, dtype=dtype))
            elif norm == "Dropout":
                layers.append(mm.Dropout(0.25, rng=seed))
            layers.append(ACTIVATIONS[acts[i]]())
    if LOSSES[loss][2]:
        layers.append(mm.Sigmoid())
    return mm.Sequential(layers)


def data(widths, loss, N, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, widths[0])).astype(dtype)
    T = LOSSES[loss][1](rng, N, widths[-1])
    return X, T


def layer_inputs(net, X):
    """The input each layer sees in an inference pass."""
    inputs = []
    for layer in net:
        inputs.append(X)
        X = layer.forward(X, train=False)
    return inputs, X


@PROFILE
@given(networks())
def test_gradient_matches_central_differences(spec):
    widths, acts, loss_name, N, seed, _ = spec
    net = build(widths, acts, loss_name, seed)
    X, T = data(widths, loss_name, N, seed)
    inputs, Y = layer_inputs(net, X)
    # Central differences are only accurate away from kinks: keep ReLU inputs and L1 residuals
    # (and BCELoss's clamps) well clear of them, and ELU inputs too (ELU is C1 but its second
    # derivative jumps at 0, which makes the difference quotient's error O(eps), not O(eps^2)).
    for layer, Z in zip(net, inputs):
        if type(layer).__name__ in ("ReLU", "LeakyReLU", "ELU"):
            assume(np.abs(Z).min() > 1e-3)
    if loss_name == "L1":
        assume(np.abs(Y - T).min() > 1e-3)
    if loss_name == "BCE":   # log(1 - P) of a P near 1 is ill-conditioned: roundoff, not a bug
        assume(1e-3 < Y.min() and Y.max() < 1 - 1e-3)
    result = mm.gradcheck(net, X, T, LOSSES[loss_name][0]())
    assert result.max_rel_error < 1e-6, (result, result.errors)


@PROFILE
@given(networks(extras=True), st.sampled_from([np.float32, np.float64]))
def test_batch_equals_rows_stacked(spec, dtype):
    widths, acts, loss_name, N, seed, norm = spec
    net = build(widths, acts, loss_name, seed, dtype, norm)
    X, _ = data(widths, loss_name, N, seed, dtype)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    Y = net.predict(X)
    rows = np.vstack([net.predict(X[i:i + 1]) for i in range(N)])
    np.testing.assert_allclose(Y, rows, **tol)
    if norm in ("none", "LayerNorm"):   # batch statistics and dropout masks are per batch
        Yt = net.forward(X)
        rows = np.vstack([net.forward(X[i:i + 1]) for i in range(N)])
        np.testing.assert_allclose(Yt, rows, **tol)
        np.testing.assert_allclose(Yt, Y, **tol)


def _train(net, opt, X, T, loss, steps, batch):
    for s in range(steps):
        i = (s * batch) % (X.shape[0] - batch + 1)   # always a full batch
        loss.forward(net.forward(X[i:i + batch]), T[i:i + batch])
        net.backward(loss.backward())
        opt.step()


OPTIMIZERS = {  # k scales the learning rate (1/batch for a summed loss, so SGD stays stable)
    "SGD": lambda ps, k=1.0: mm.SGD(ps, lr=0.05 * k, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "Adam": lambda ps, k=1.0: mm.Adam(ps, lr=0.01 * k, weight_decay=1e-3),
    "AdamW": lambda ps, k=1.0: mm.AdamW(ps, lr=0.01 * k),
    "RMSprop": lambda ps, k=1.0: mm.RMSprop(ps, lr=0.01 * k),
    "Adagrad": lambda ps, k=1.0: mm.Adagrad(ps, lr=0.05 * k),
}


@PROFILE
@given(networks(extras=True, max_batch=12), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(sorted(OPTIMIZERS)), st.booleans())
def test_save_load_round_trip(tmp_path_factory, spec, dtype, opt_name, subset):
    widths, acts, loss_name, N, seed, norm = spec
    if norm == "Dropout":
        norm = "none"   # the dropout generator's position is not part of a saved model
    if norm == "BatchNorm1d":
        N = max(N, 2)
    net = build(widths, acts, loss_name, seed, dtype, norm)
    X, T = data(widths, loss_name, N, seed, dtype)
    params = net.parameters()
    if subset:
        params = [p for p in params if p.name != "b"]   # frozen biases
    loss = LOSSES[loss_name][0]()
    batch = min(N, max(N // 2, 2 if norm == "BatchNorm1d" else 1))
    opt = OPTIMIZERS[opt_name](params, 1.0 / batch if loss.reduction == "sum" else 1.0)
    _train(net, opt, X, T, loss, 3, batch)
    path = tmp_path_factory.mktemp("io") / "model.npz"
    mm.save(net, path, optimizer=opt)
    net2, opt2 = mm.load(path, with_optimizer=True)
    assert repr(net2) == repr(net) and type(opt2) is type(opt)
    np.testing.assert_array_equal(net2.predict(X), net.predict(X))
    _train(net, opt, X, T, loss, 3, batch)
    _train(net2, opt2, X, T, LOSSES[loss_name][0](), 3, batch)
    for (n1, p1), (n2, p2) in zip(net.named_parameters(), net2.named_parameters()):
        assert n1 == n2
        np.testing.assert_array_equal(p1.value, p2.value, err_msg=n1)
    np.testing.assert_array_equal(net2.predict(X), net.predict(X))


@PROFILE
@given(networks(extras=True), st.sampled_from(sorted(OPTIMIZERS)), st.sampled_from([np.float32, np.float64]))
def test_zero_learning_rate_changes_nothing(spec, opt_name, dtype):
    widths, acts, loss_name, N, seed, norm = spec
    if norm == "BatchNorm1d":
        N = max(N, 2)
    net = build(widths, acts, loss_name, seed, dtype, norm)
    X, T = data(widths, loss_name, N, seed, dtype)
    opt = OPTIMIZERS[opt_name](net.parameters())
    opt.lr = 0.0
    before = [p.value.copy() for p in net.parameters()]
    _train(net, opt, X, T, LOSSES[loss_name][0](), 3, N)
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.value, b)


def _state(net):
    return ([p.value.copy() for p in net.parameters()], [p.grad.copy() for p in net.parameters()],
            [a.copy() for layer in net for a in layer.buffers().values()])


@PROFILE
@given(networks(extras=True), st.sampled_from([np.float32, np.float64]))
def test_predict_changes_no_state(spec, dtype):
    widths, acts, loss_name, N, seed, norm = spec
    N = max(N, 2)
    X, T = data(widths, loss_name, N, seed, dtype)
    nets = [build(widths, acts, loss_name, seed, dtype, norm) for _ in range(2)]
    loss = LOSSES[loss_name][0]
    for net in nets:   # one training step so gradients and running statistics are non-trivial
        l = loss()
        l.forward(net.forward(X), T)
        net.backward(l.backward())
    a, b = nets
    before = _state(a)
    P1 = a.predict(X)
    P2 = a.predict(X[::-1], batch_size=3)
    after = _state(a)
    for xs, ys in zip(before, after):
        for x, y in zip(xs, ys):
            np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(P1, a.predict(X))
    np.testing.assert_allclose(P2, P1[::-1], rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-12)
    # The twin that never predicted continues exactly like the one that did (dropout
    # generators, running statistics).
    np.testing.assert_array_equal(a.forward(X), b.forward(X))
