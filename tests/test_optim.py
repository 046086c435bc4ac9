"""Optimizer updates against their formulas, written out here by hand for a few steps.

The gradients are set directly on Parameter objects (a different gradient each step), so
the only code under test is the update rule.
"""
import math

import numpy as np
import pytest

import minimlp as mm

STEPS = 4


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [mm.Parameter(rng.standard_normal((3, 2)), "W"), mm.Parameter(rng.standard_normal(2), "b")]


def grads_for_step(t, params):
    """A fixed, step-dependent gradient for every parameter."""
    rng = np.random.default_rng(100 + t)
    return [rng.standard_normal(np.shape(getattr(p, "value", p))) for p in params]


def run(opt, params, steps=STEPS):
    history = []
    for t in range(steps):
        for p, g in zip(params, grads_for_step(t, params)):
            p.grad[...] = g
        opt.step()
        history.append([p.value.copy() for p in params])
    return history


def reference_sgd(theta0, lr, momentum=0.0, nesterov=False, weight_decay=0.0, steps=STEPS):
    """torch.optim.SGD (dampening 0), element by element in plain Python floats."""
    out = []
    thetas = [list(np.asarray(a, dtype=float).ravel()) for a in theta0]
    bufs = [None] * len(thetas)
    for t in range(steps):
        grads = [list(g.ravel()) for g in grads_for_step(t, theta0)]
        for k, (theta, grad) in enumerate(zip(thetas, grads)):
            for j in range(len(theta)):
                g = grad[j] + weight_decay * theta[j]
                if momentum:
                    if bufs[k] is None:
                        bufs[k] = [0.0] * len(theta)
                    bufs[k][j] = momentum * bufs[k][j] + g
                    g = g + momentum * bufs[k][j] if nesterov else bufs[k][j]
                theta[j] = theta[j] - lr * g
        out.append([np.array(th).reshape(a.shape) for th, a in zip(thetas, theta0)])
    return out


def reference_adam(theta0, lr, b1, b2, eps, weight_decay=0.0, steps=STEPS):
    """Kingma & Ba with PyTorch's eps placement, element by element."""
    out = []
    thetas = [list(np.asarray(a, dtype=float).ravel()) for a in theta0]
    ms = [[0.0] * len(th) for th in thetas]
    vs = [[0.0] * len(th) for th in thetas]
    for t in range(1, steps + 1):
        grads = [list(g.ravel()) for g in grads_for_step(t - 1, theta0)]
        for k, (theta, grad) in enumerate(zip(thetas, grads)):
            for j in range(len(theta)):
                g = grad[j] + weight_decay * theta[j]
                ms[k][j] = b1 * ms[k][j] + (1 - b1) * g
                vs[k][j] = b2 * vs[k][j] + (1 - b2) * g * g
                m_hat = ms[k][j] / (1 - b1 ** t)
                v_hat = vs[k][j] / (1 - b2 ** t)
                theta[j] -= lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append([np.array(th).reshape(a.shape) for th, a in zip(thetas, theta0)])
    return out


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.5, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.1),
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_sgd_matches_formula(kwargs):
    params = make_params()
    theta0 = [p.value.copy() for p in params]
    got = run(mm.SGD(params, **kwargs), params)
    want = reference_sgd(theta0, **kwargs)
    for step, (g, w) in enumerate(zip(got, want)):
        for a, b in zip(g, w):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=f"step {step + 1}")


def test_sgd_first_steps_by_hand():
    """Two momentum steps on one scalar, numbers worked out on paper."""
    p = mm.Parameter(np.array([1.0]), "w")
    opt = mm.SGD([p], lr=0.1, momentum=0.9)
    p.grad[...] = 2.0
    opt.step()                      # b = 2,        w = 1 - 0.2 = 0.8
    assert p.value[0] == pytest.approx(0.8, abs=1e-15)
    p.grad[...] = 1.0
    opt.step()                      # b = 1.8 + 1,  w = 0.8 - 0.28 = 0.52
    assert p.value[0] == pytest.approx(0.52, abs=1e-15)
    q = mm.Parameter(np.array([1.0]), "w")
    nes = mm.SGD([q], lr=0.1, momentum=0.9, nesterov=True)
    q.grad[...] = 2.0
    nes.step()                      # b = 2, g = 2 + 1.8 = 3.8, w = 1 - 0.38
    assert q.value[0] == pytest.approx(0.62, abs=1e-15)


ADAM_CASES = [
    dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8),
    dict(lr=0.1, b1=0.5, b2=0.9, eps=1e-3),
    dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.1),
    dict(lr=0.01, b1=0.0, b2=0.0, eps=1e-8),
]


@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_adam_matches_formula(kwargs):
    params = make_params(1)
    theta0 = [p.value.copy() for p in params]
    opt = mm.Adam(params, lr=kwargs["lr"], betas=(kwargs["b1"], kwargs["b2"]), eps=kwargs["eps"],
                  weight_decay=kwargs.get("weight_decay", 0.0))
    got = run(opt, params)
    want = reference_adam(theta0, **kwargs)
    for step, (g, w) in enumerate(zip(got, want)):
        for a, b in zip(g, w):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {step + 1}")


def test_adam_first_step_is_lr_times_sign():
    """Bias correction makes the first step m_hat/sqrt(v_hat) = g/|g|: exactly lr per entry."""
    p = mm.Parameter(np.array([0.0, 0.0, 0.0]), "w")
    opt = mm.Adam([p], lr=0.01, eps=1e-12)
    p.grad[...] = [3.0, -0.002, 50.0]
    opt.step()
    np.testing.assert_allclose(p.value, [-0.01, 0.01, -0.01], rtol=1e-9)


@pytest.mark.parametrize("make", [
    lambda ps: mm.SGD(ps, lr=0.0),
    lambda ps: mm.SGD(ps, lr=0.0, momentum=0.9, nesterov=True, weight_decay=0.5),
    lambda ps: mm.Adam(ps, lr=0.0, weight_decay=0.5),
], ids=["sgd", "sgd-nesterov-wd", "adam-wd"])
def test_zero_learning_rate_changes_nothing(make):
    params = make_params(2)
    theta0 = [p.value.copy() for p in params]
    run(make(params), params)
    for p, t in zip(params, theta0):
        np.testing.assert_array_equal(p.value, t)


@pytest.mark.parametrize("make", [
    lambda ps: mm.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: mm.Adam(ps, lr=0.1),
], ids=["sgd", "adam"])
def test_optimizer_given_a_subset_leaves_the_rest_unchanged(make):
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.Tanh(), mm.Dense(4, 2, rng=1))
    weights = [p for p in net.parameters() if p.name == "W"]
    biases = [p for p in net.parameters() if p.name == "b"]
    net[0].b[...] = 0.3
    frozen0 = [p.value.copy() for p in biases]
    trained0 = [p.value.copy() for p in weights]
    opt = make(weights)
    loss = mm.MSELoss()
    X = np.random.default_rng(0).standard_normal((5, 3))
    T = np.random.default_rng(1).standard_normal((5, 2))
    for _ in range(3):
        loss.forward(net.forward(X), T)
        net.backward(loss.backward())
        assert any(np.abs(p.grad).max() > 0 for p in biases)  # the biases do get gradients ...
        opt.step()
    for p, v in zip(biases, frozen0):
        np.testing.assert_array_equal(p.value, v)             # ... but are never updated
    assert all(not np.array_equal(p.value, v) for p, v in zip(weights, trained0))


def test_updates_are_in_place_and_dtype_preserving():
    for dtype in (np.float32, np.float64):
        p = mm.Parameter(np.ones((2, 2), dtype=dtype), "W")
        value = p.value
        for opt in (mm.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), mm.Adam([p], lr=0.1, weight_decay=0.1)):
            p.grad[...] = 0.5
            opt.step()
            assert p.value is value and p.value.dtype == dtype


def test_lr_can_change_between_steps():
    p = mm.Parameter(np.array([1.0]), "w")
    opt = mm.SGD([p], lr=0.1)
    p.grad[...] = 1.0
    opt.step()
    opt.lr = 0.5
    opt.step()
    assert p.value[0] == pytest.approx(1.0 - 0.1 - 0.5, abs=1e-15)
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -0.1
    assert opt.lr == 0.5


def test_state_dict_round_trip_resumes_identically():
    a, b = make_params(3), make_params(3)
    opt_a = mm.Adam(a, lr=0.05)
    run(opt_a, a, steps=2)
    opt_b = mm.Adam(b, lr=0.05)
    for p, q in zip(a, b):
        q.value[...] = p.value
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.steps == 2
    got_a, got_b = run(opt_a, a, steps=2), run(opt_b, b, steps=2)
    for x, y in zip(got_a[-1], got_b[-1]):
        np.testing.assert_array_equal(x, y)


def test_loading_state_saved_with_other_structural_hyperparameters_is_refused():
    """momentum/nesterov/weight_decay shape the state and the update chosen in __init__:
    a state saved with other values must not be half-applied."""
    p = mm.Parameter(np.ones(3), "W")
    saved = mm.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.5).state_dict()
    plain = mm.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match=r"saved with momentum=0\.9.*build it with momentum=0\.9"):
        plain.load_state_dict(saved)
    same = mm.SGD([p], lr=0.2, momentum=0.9, nesterov=True, weight_decay=0.5)
    same.load_state_dict(saved)          # lr is taken from the state
    assert same.lr == 0.1


@pytest.mark.parametrize("make,name", [
    (lambda ps: mm.SGD(ps, lr=0.1), "momentum"),
    (lambda ps: mm.SGD(ps, lr=0.1), "weight_decay"),
    (lambda ps: mm.SGD(ps, lr=0.1, momentum=0.9), "nesterov"),
    (lambda ps: mm.RMSprop(ps), "momentum"),
    (lambda ps: mm.RMSprop(ps), "centered"),
])
def test_hyperparameters_that_chose_the_update_cannot_be_changed_afterwards(make, name):
    """Plain SGD built its update without momentum or decay; setting them later was ignored."""
    p = mm.Parameter(np.ones(3), "W")
    opt = make([p])
    with pytest.raises(AttributeError, match=rf"{name} is fixed when the optimizer is built"):
        setattr(opt, name, 0.5 if name != "nesterov" and name != "centered" else True)
    opt.lr = 0.2                                       # lr stays free (schedules change it)
    assert opt.lr == 0.2
