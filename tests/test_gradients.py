"""Float64 central-difference gradient checks (mm.gradcheck) for every layer, every loss and
whole networks, plus batch invariance of the gradient of a mean loss.

Tolerance: relative error 1e-6 with gradcheck's defaults (eps 1e-5, floor 1e-4 * max(1, |f|)).
On these smooth functions the difference quotient is accurate to about 1e-9 relative, so
anything worse than 1e-6 is a real bug, not noise. (With eps 1e-6 and a floor of 1e-7,
correct entries of size ~1e-5 showed errors up to 1.5e-5 from roundoff alone: that is why
the defaults changed.)
"""
import numpy as np
import pytest

import minimlp as mm
from layer_cases import LAYER_CASES, MIN_TRAIN_BATCH, make_input

TOL = 1e-6
CASE_IDS = [c[0] for c in LAYER_CASES]


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("n", [1, 4])
def test_layer_gradients(case, n):
    case_id, factory, width = case
    layer = factory(np.float64)
    n = max(n, MIN_TRAIN_BATCH.get(case_id, 1))   # batch statistics need >= 2 samples
    X = make_input(case_id, n, width, np.float64, seed=n)
    result = mm.gradcheck(layer, X)
    assert result.max_rel_error < TOL, f"{case_id}: {result} {result.errors}"
    # Every parameter and the input were checked.
    assert set(result.errors) == {"X"} | {f"0.{p.name}" for p in layer.parameters()}


def _targets(kind, N, C, rng):
    if kind == "labels":
        return rng.integers(0, C, size=N)
    if kind == "probs":
        P = rng.random((N, C)) + 0.1
        return P / P.sum(axis=1, keepdims=True)
    if kind == "onehot":
        return np.eye(C)[rng.integers(0, C, size=N)]
    if kind == "binary":
        return rng.random((N, C))
    return rng.standard_normal((N, C))


LOSS_CASES = [
    ("MSE", mm.MSELoss, "real"),
    ("CE-labels", mm.CrossEntropyLoss, "labels"),
    ("CE-probs", mm.CrossEntropyLoss, "probs"),
    ("CE-onehot", mm.CrossEntropyLoss, "onehot"),
    ("BCE", mm.BCEWithLogitsLoss, "binary"),
    ("L1", mm.L1Loss, "real"),
    ("Huber", lambda: mm.HuberLoss(delta=0.7), "real"),
    ("BCELoss-probabilities", mm.BCELoss, "binary"),
    ("MSE-sum", lambda: mm.MSELoss(reduction="sum"), "real"),
    ("CE-labels-sum", lambda: mm.CrossEntropyLoss(reduction="sum"), "labels"),
    ("BCE-sum", lambda: mm.BCEWithLogitsLoss(reduction="sum"), "binary"),
]


@pytest.mark.parametrize("name,loss_cls,kind", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
@pytest.mark.parametrize("N,C", [(1, 1), (1, 3), (5, 4), (8, 2)])
def test_loss_gradients(name, loss_cls, kind, N, C):
    if kind in ("labels", "probs", "onehot") and C == 1:
        C = 2  # one class is degenerate for cross-entropy (loss and gradient are 0)
    rng = np.random.default_rng(N * 10 + C)
    Y = 2.0 * rng.standard_normal((N, C))
    T = _targets(kind, N, C, rng)
    if name.startswith("BCELoss"):   # it takes probabilities, kept clear of its clamps
        Y = 0.05 + 0.9 / (1.0 + np.exp(-Y))
    result = mm.gradcheck(loss_cls(), Y, T)
    assert result.max_rel_error < TOL, f"{name}: {result}"


def test_loss_gradient_values_by_hand():
    """The loss gradients against formulas written here (not only against differences)."""
    rng = np.random.default_rng(0)
    N, C = 4, 3
    Z = rng.standard_normal((N, C))
    labels = np.array([0, 2, 1, 2])
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    ce = mm.CrossEntropyLoss()
    value = ce.forward(Z, labels)
    assert value == pytest.approx(-np.mean(np.log(P[np.arange(N), labels])), rel=1e-12)
    np.testing.assert_allclose(ce.backward(), (P - np.eye(C)[labels]) / N, rtol=1e-12, atol=1e-15)

    T = rng.random((N, C))
    bce = mm.BCEWithLogitsLoss()
    s = 1 / (1 + np.exp(-Z))
    assert bce.forward(Z, T) == pytest.approx(
        -np.mean(T * np.log(s) + (1 - T) * np.log(1 - s)), rel=1e-12)
    np.testing.assert_allclose(bce.backward(), (s - T) / (N * C), rtol=1e-12, atol=1e-15)

    mse = mm.MSELoss()
    assert mse.forward(Z, T) == pytest.approx(np.mean((Z - T) ** 2), rel=1e-12)
    np.testing.assert_allclose(mse.backward(), 2 * (Z - T) / (N * C), rtol=1e-12, atol=1e-15)


ACTIVATIONS = {
    "sigmoid": mm.Sigmoid, "tanh": mm.Tanh, "relu": mm.ReLU,
    "leaky": lambda: mm.LeakyReLU(0.1), "identity": mm.Identity, "softmax": mm.Softmax,
}


def network(widths, act, seed, dtype=np.float64):
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(mm.Dense(a, b, rng=seed + i, dtype=dtype))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[act]())
    return mm.Sequential(layers)


NET_CASES = [
    # widths, hidden activation, loss, target kind
    ((3, 1), "sigmoid", mm.MSELoss, "real"),
    ((2, 2, 2), "sigmoid", mm.MSELoss, "real"),
    ((4, 8, 3), "tanh", mm.CrossEntropyLoss, "labels"),
    ((5, 7, 6, 2), "relu", mm.BCEWithLogitsLoss, "binary"),
    ((3, 16, 1, 4), "leaky", mm.CrossEntropyLoss, "probs"),
    ((6, 5, 4, 3, 2), "identity", mm.MSELoss, "real"),
    ((4, 6, 6, 3), "softmax", mm.MSELoss, "real"),
    ((2, 1, 1, 1, 1, 2), "tanh", mm.CrossEntropyLoss, "labels"),
]


@pytest.mark.parametrize("widths,act,loss_cls,kind", NET_CASES,
                         ids=[f"{'-'.join(map(str, c[0]))}-{c[1]}-{c[2].__name__}" for c in NET_CASES])
@pytest.mark.parametrize("N", [1, 6])
def test_network_gradients(widths, act, loss_cls, kind, N):
    net = network(widths, act, seed=len(widths))
    rng = np.random.default_rng(N)
    X = rng.standard_normal((N, widths[0]))
    T = _targets(kind, N, widths[-1], rng)
    result = mm.gradcheck(net, X, T, loss_cls())
    assert result.max_rel_error < TOL, f"{result} {result.errors}"
    assert set(result.errors) == {"X"} | {name for name, _ in net.named_parameters()}


def test_network_gradients_without_loss():
    net = network((3, 4, 4, 2), "tanh", seed=1)
    X = np.random.default_rng(0).standard_normal((5, 3))
    result = mm.gradcheck(net, X)
    assert result.max_rel_error < TOL, result


class _WrongSigmoid(mm.Sigmoid):
    """A deliberately wrong derivative: gradcheck must catch it."""

    def _backward(self, dY, dX):
        np.multiply(dY, self._cache, out=dX)   # forgot the (1 - Y)
        return dX


def test_gradcheck_catches_a_wrong_derivative():
    net = mm.Sequential(mm.Dense(3, 4, rng=0), _WrongSigmoid(), mm.Dense(4, 2, rng=1))
    X = np.random.default_rng(0).standard_normal((4, 3))
    result = mm.gradcheck(net, X, np.zeros((4, 2)), mm.MSELoss())
    assert result.max_rel_error > 1e-2
    assert result.where.startswith(("X", "0.")), result.where  # layers before the bug


def test_gradcheck_refuses_float32():
    with pytest.raises(ValueError, match="float64"):
        mm.gradcheck(mm.Dense(2, 2, dtype=np.float32, rng=0), np.ones((2, 2)))


@pytest.mark.parametrize("widths,act,loss_cls,kind", NET_CASES[1:5],
                         ids=[c[1] for c in NET_CASES[1:5]])
def test_batch_gradient_is_mean_of_row_gradients(widths, act, loss_cls, kind):
    """Every loss here is a mean over rows, so the batch gradient is the mean of row gradients."""
    net = network(widths, act, seed=3)
    loss = loss_cls()
    rng = np.random.default_rng(5)
    N = 6
    X = rng.standard_normal((N, widths[0]))
    T = _targets(kind, N, widths[-1], rng)
    loss.forward(net.forward(X), T)
    dX = net.backward(loss.backward()).copy()
    batch = [p.grad.copy() for p in net.parameters()]
    rows = [np.zeros_like(g) for g in batch]
    dX_rows = []
    for i in range(N):
        loss.forward(net.forward(X[i:i + 1]), T[i:i + 1])
        dX_rows.append(net.backward(loss.backward()).copy())
        for acc, p in zip(rows, net.parameters()):
            acc += p.grad / N
    for g, r in zip(batch, rows):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-14)
    # Each row's input gradient in the batch is 1/N of its gradient alone.
    np.testing.assert_allclose(dX, np.vstack(dX_rows) / N, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_network_forward_is_batch_invariant(act):
    net = network((4, 9, 5, 3), act, seed=7)
    X = np.random.default_rng(11).standard_normal((13, 4))
    Y = net.forward(X)
    rows = np.vstack([net.forward(X[i:i + 1]) for i in range(13)])
    np.testing.assert_allclose(Y, rows, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.predict(X), rows, rtol=1e-12, atol=1e-12)
