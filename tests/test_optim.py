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


# -- (formerly test_optim_extra.py) AdamW, RMSprop, Adagrad and gradient clipping: a few steps against the --

GRADS = [0.5, -1.25, 0.3, 2.0, -0.7]   # the gradient seen at each step, for a scalar theta


def run_scalar(opt_cls, theta0=1.5, **kw):
    p = mm.Parameter(np.array([theta0]), "w")
    opt = opt_cls([p], **kw)
    out = []
    for g in GRADS:
        p.grad[0] = g
        opt.step()
        out.append(float(p.value[0]))
    return out


def adamw_ref(theta, lr, b1, b2, eps, wd):
    m = v = 0.0
    out = []
    for t, g in enumerate(GRADS, 1):
        theta *= 1 - lr * wd
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta -= lr * (m / (1 - b1 ** t)) / (math.sqrt(v / (1 - b2 ** t)) + eps)
        out.append(theta)
    return out


def rmsprop_ref(theta, lr, alpha, eps, wd, momentum, centered):
    v = a = b = 0.0
    out = []
    for g in GRADS:
        g = g + wd * theta
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            a = alpha * a + (1 - alpha) * g
            d = math.sqrt(v - a * a) + eps
        else:
            d = math.sqrt(v) + eps
        if momentum:
            b = momentum * b + g / d
            theta -= lr * b
        else:
            theta -= lr * g / d
        out.append(theta)
    return out


def adagrad_ref(theta, lr, lr_decay, wd, init, eps):
    s = init
    out = []
    for t, g in enumerate(GRADS, 1):
        g = g + wd * theta
        s += g * g
        theta -= lr / (1 + (t - 1) * lr_decay) * g / (math.sqrt(s) + eps)
        out.append(theta)
    return out


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adamw_matches_formula(wd):
    got = run_scalar(mm.AdamW, lr=0.1, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd)
    np.testing.assert_allclose(got, adamw_ref(1.5, 0.1, 0.8, 0.95, 1e-6, wd), rtol=1e-13)


def test_adamw_decay_is_decoupled_from_adam_l2():
    # Same weight_decay: AdamW multiplies theta by (1 - lr*wd); Adam adds wd*theta to g.
    assert run_scalar(mm.AdamW, lr=0.1, weight_decay=0.1) != pytest.approx(run_scalar(mm.Adam, lr=0.1, weight_decay=0.1))
    np.testing.assert_allclose(run_scalar(mm.AdamW, lr=0.1, weight_decay=0.0), run_scalar(mm.Adam, lr=0.1), rtol=1e-14)


@pytest.mark.parametrize("wd,momentum,centered", [(0, 0, False), (0.05, 0, False), (0, 0.9, False),
                                                  (0, 0, True), (0.05, 0.5, True)])
def test_rmsprop_matches_formula(wd, momentum, centered):
    got = run_scalar(mm.RMSprop, lr=0.01, alpha=0.9, eps=1e-8, weight_decay=wd, momentum=momentum,
              centered=centered)
    np.testing.assert_allclose(got, rmsprop_ref(1.5, 0.01, 0.9, 1e-8, wd, momentum, centered), rtol=1e-13)


@pytest.mark.parametrize("lr_decay,wd,init", [(0, 0, 0), (0.1, 0, 0), (0, 0.2, 0.5), (0.3, 0.1, 0.1)])
def test_adagrad_matches_formula(lr_decay, wd, init):
    got = run_scalar(mm.Adagrad, lr=0.5, lr_decay=lr_decay, weight_decay=wd, initial_accumulator_value=init)
    np.testing.assert_allclose(got, adagrad_ref(1.5, 0.5, lr_decay, wd, init, 1e-10), rtol=1e-13)


def test_clip_grad_norm_rescales_to_max_norm():
    p = mm.Parameter(np.zeros((2, 2)), "W")
    q = mm.Parameter(np.zeros(3), "b")
    p.grad[...] = [[3.0, 0.0], [0.0, 0.0]]
    q.grad[...] = [0.0, 4.0, 0.0]
    total = mm.clip_grad_norm([p, q], 1.0)
    assert total == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(p.grad, [[3 * scale, 0], [0, 0]])
    np.testing.assert_allclose(q.grad, [0, 4 * scale, 0])
    # Under the limit: untouched
    assert mm.clip_grad_norm([p, q], 10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(q.grad, [0, 4 * scale, 0])


@pytest.mark.parametrize("opt_cls", [mm.SGD, mm.Adam, mm.AdamW, mm.RMSprop, mm.Adagrad])
def test_clip_norm_option_clips_before_the_update(opt_cls):
    p = mm.Parameter(np.zeros(2), "w")
    opt = opt_cls([p], lr=0.1, clip_norm=0.5)
    ref_p = mm.Parameter(np.zeros(2), "w")
    ref = opt_cls([ref_p], lr=0.1)
    for g in ([3.0, 4.0], [0.1, -0.2], [-6.0, 8.0]):
        p.grad[...] = g
        norm = math.hypot(*g)
        ref_p.grad[...] = np.array(g) * (0.5 / (norm + 1e-6) if norm > 0.5 else 1.0)
        opt.step()
        ref.step()
    np.testing.assert_allclose(p.value, ref_p.value, rtol=1e-13)


def test_state_dict_round_trip_resumes_exactly():
    for opt_cls, kw in [(mm.AdamW, {}), (mm.RMSprop, {"momentum": 0.9, "centered": True}),
                        (mm.Adagrad, {"lr_decay": 0.1})]:
        a = mm.Parameter(np.array([1.0, -2.0]), "w")
        opt = opt_cls([a], lr=0.05, **kw)
        for g in GRADS[:2]:
            a.grad[...] = g
            opt.step()
        b = mm.Parameter(a.value.copy(), "w")
        opt2 = opt_cls([b], lr=0.05, **kw)
        opt2.load_state_dict(opt.state_dict())
        for g in GRADS[2:]:
            a.grad[...] = g
            b.grad[...] = g
            opt.step()
            opt2.step()
        np.testing.assert_array_equal(a.value, b.value)


def test_bad_arguments():
    p = [mm.Parameter(np.zeros(2), "w")]
    with pytest.raises(ValueError, match="RMSprop.*alpha"):
        mm.RMSprop(p, alpha=1.5)
    with pytest.raises(TypeError, match="centered"):
        mm.RMSprop(p, centered="yes")
    with pytest.raises(ValueError, match="Adagrad.*eps"):
        mm.Adagrad(p, eps=0)
    with pytest.raises(ValueError, match="AdamW.*beta1"):
        mm.AdamW(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="clip_norm"):
        mm.SGD(p, clip_norm=-1.0)
    with pytest.raises(ValueError, match="max_norm"):
        mm.clip_grad_norm(p, 0)


# -- options from PyTorch: dampening, amsgrad, norm types, clip_grad_value ----------------
def sgd_ref(theta, lr, momentum, dampening, wd):
    b = None
    out = []
    for g in GRADS:
        g = g + wd * theta
        b = g if b is None else momentum * b + (1 - dampening) * g   # the first step: b = g
        theta -= lr * b
        out.append(theta)
    return out


@pytest.mark.parametrize("dampening,wd", [(0.3, 0.0), (0.5, 0.1), (1.0, 0.0)])
def test_sgd_dampening_matches_formula(dampening, wd):
    got = run_scalar(mm.SGD, lr=0.1, momentum=0.9, dampening=dampening, weight_decay=wd)
    np.testing.assert_allclose(got, sgd_ref(1.5, 0.1, 0.9, dampening, wd), rtol=1e-13)


def test_sgd_dampening_first_step_by_hand():
    # b_1 = g = 2 (undamped), w = 1 - 0.2; b_2 = 0.9 * 2 + 0.5 * 1 = 2.3, w = 0.8 - 0.23
    p = mm.Parameter(np.array([1.0]), "w")
    opt = mm.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    p.grad[...] = 2.0
    opt.step()
    assert p.value[0] == pytest.approx(0.8, abs=1e-15)
    p.grad[...] = 1.0
    opt.step()
    assert p.value[0] == pytest.approx(0.57, abs=1e-15)


def test_sgd_dampening_without_momentum_is_plain_sgd():
    np.testing.assert_array_equal(run_scalar(mm.SGD, lr=0.1, dampening=0.7), run_scalar(mm.SGD, lr=0.1))
    assert mm.SGD([mm.Parameter(np.zeros(2), "w")], dampening=0.7)._pieces   # the fast path


def adam_ref(theta, lr, b1, b2, eps, wd, amsgrad, decoupled):
    m = v = vmax = 0.0
    out = []
    for t, g in enumerate(GRADS, 1):
        if decoupled:
            theta *= 1 - lr * wd
        else:
            g = g + wd * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        denom = vmax if amsgrad else v
        theta -= lr * (m / (1 - b1 ** t)) / (math.sqrt(denom / (1 - b2 ** t)) + eps)
        out.append(theta)
    return out


@pytest.mark.parametrize("cls,decoupled", [(mm.Adam, False), (mm.AdamW, True)])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_amsgrad_matches_formula(cls, decoupled, wd):
    got = run_scalar(cls, lr=0.1, betas=(0.8, 0.5), eps=1e-6, weight_decay=wd, amsgrad=True)
    want = adam_ref(1.5, 0.1, 0.8, 0.5, 1e-6, wd, True, decoupled)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    # with beta2 = 0.5, v falls below its maximum at step 3 (0.467 < 0.844): amsgrad differs
    plain = adam_ref(1.5, 0.1, 0.8, 0.5, 1e-6, wd, False, decoupled)
    assert abs(got[-1] - plain[-1]) > 1e-4


def test_amsgrad_state_round_trips_and_is_fixed():
    a = mm.Parameter(np.array([1.0, -2.0]), "w")
    opt = mm.Adam([a], lr=0.05, amsgrad=True)
    for g in GRADS[:3]:
        a.grad[...] = g
        opt.step()
    state = opt.state_dict()
    assert "_vmax" in state and state["hyper"]["amsgrad"] is True
    b = mm.Parameter(a.value.copy(), "w")
    opt2 = mm.Adam([b], lr=0.05, amsgrad=True)
    opt2.load_state_dict(state)
    for g in GRADS[3:]:
        a.grad[...] = b.grad[...] = g
        opt.step()
        opt2.step()
    np.testing.assert_array_equal(a.value, b.value)
    with pytest.raises(ValueError, match="amsgrad"):
        mm.Adam([mm.Parameter(np.zeros(2), "w")]).load_state_dict(state)
    with pytest.raises(AttributeError, match="amsgrad is fixed"):
        opt.amsgrad = False


@pytest.mark.parametrize("norm_type,total", [(1, 3 + 4 + 12), (2, 13.0), (math.inf, 12.0),
                                             ("inf", 12.0), (3, (27 + 64 + 1728) ** (1 / 3))])
def test_clip_grad_norm_norm_types(norm_type, total):
    p = mm.Parameter(np.zeros(2), "W")
    q = mm.Parameter(np.zeros(1), "b")
    p.grad[...] = [3.0, -4.0]
    q.grad[...] = [12.0]
    got = mm.clip_grad_norm([p, q], 1.0, norm_type=norm_type)
    assert got == pytest.approx(total, rel=1e-14)
    coef = 1.0 / (total + 1e-6)
    np.testing.assert_allclose(np.r_[p.grad, q.grad], np.array([3.0, -4.0, 12.0]) * coef, rtol=1e-14)


@pytest.mark.parametrize("size", [1e200, 1e-200])
def test_clip_grad_norm_does_not_overflow_or_underflow(size):
    # L8: sum(g^2) overflows above ~1e154 (and underflows below ~1e-154): the norm is scaled
    p = mm.Parameter(np.zeros(3), "w")
    p.grad[:] = [size, -size, 0.3 * size]
    norm = size * math.sqrt(2.09)
    with np.errstate(all="raise"):
        total = mm.clip_grad_norm([p], 1.0)
    assert total == pytest.approx(norm, rel=1e-14, abs=0)
    coef = min(1.0, 1.0 / (norm + 1e-6))      # 1e200: clipped to norm 1; 1e-200: untouched
    np.testing.assert_allclose(p.grad, np.array([1.0, -1.0, 0.3]) * size * coef, rtol=1e-14)


@pytest.mark.parametrize("norm_type,unit", [(2, math.sqrt(0.5)), (1, 0.5)])
def test_clip_grad_norm_clips_gradients_whose_norm_exceeds_float64(norm_type, unit):
    # every gradient is finite but the norm (2.1e308 or 3e308) is not: the factor is still right
    p = mm.Parameter(np.zeros(2), "w")
    p.grad[:] = [1.5e308, 1.5e308]
    assert mm.clip_grad_norm([p], 1.0, norm_type=norm_type) == math.inf
    np.testing.assert_allclose(p.grad, [unit] * 2, rtol=1e-14)


def test_optimizer_clip_norm_on_huge_gradients_still_steps():
    p = mm.Parameter(np.zeros(2), "w")
    opt = mm.SGD([p], lr=1.0, clip_norm=5.0)
    p.grad[:] = [3e200, 4e200]
    opt.step()
    np.testing.assert_allclose(p.value, [-3.0, -4.0], rtol=1e-12)   # clipped to norm 5
    assert opt.grad_scale == pytest.approx(5.0 / 5e200, rel=1e-14)


def test_clip_grad_value_clamps_in_place():
    p = mm.Parameter(np.zeros(4), "w")
    p.grad[:] = [-3.0, -0.5, 0.2, 7.0]
    assert mm.clip_grad_value([p], 1.0) is None
    np.testing.assert_array_equal(p.grad, [-1.0, -0.5, 0.2, 1.0])
    with pytest.raises(ValueError, match="clip_value"):
        mm.clip_grad_value([p], 0.0)
    with pytest.raises(TypeError, match="Parameter"):
        mm.clip_grad_value([p.grad], 1.0)


def test_new_option_arguments_are_checked():
    p = [mm.Parameter(np.zeros(2), "w")]
    with pytest.raises(ValueError, match="dampening"):
        mm.SGD(p, momentum=0.9, dampening=1.5)
    with pytest.raises(ValueError, match="nesterov.*dampening"):
        mm.SGD(p, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(TypeError, match="amsgrad"):
        mm.AdamW(p, amsgrad=1)
    with pytest.raises(ValueError, match="norm_type"):
        mm.clip_grad_norm(p, 1.0, norm_type=0)


# -- paths no other test runs (issue 15, items 4 and 5) -----------------------------------
def test_centered_rmsprop_guard_against_negative_roundoff_is_reached():
    """v - a^2 is >= 0 in exact arithmetic (a variance) but goes below 0 by roundoff after
    ~320 steps of a constant gradient; the clamp keeps sqrt from NaN (FloatingPointError
    under errstate)."""
    g = np.random.default_rng(0).uniform(-3, 3, 64)
    p = mm.Parameter(np.zeros(64), "w")
    opt = mm.RMSprop([p], lr=1e-12, alpha=0.9, centered=True)
    v = np.zeros(64)
    a = np.zeros(64)
    theta = np.zeros(64)
    negative = 0
    with np.errstate(all="raise"):
        for _ in range(500):
            p.grad[...] = g
            opt.step()
            v = v * 0.9 + g * g * (1 - 0.9)          # minimlp's order of operations
            a = a * 0.9 + g * (1 - 0.9)
            var = v - a * a
            negative += int((var < 0).sum())
            theta = theta - 1e-12 * g / (np.sqrt(np.maximum(var, 0.0)) + 1e-8)
    assert negative > 0                               # the guard was needed
    assert np.isfinite(p.value).all()
    np.testing.assert_allclose(p.value, theta, rtol=1e-12)


def test_plain_sgd_updates_a_large_non_contiguous_parameter():
    # larger than _CHUNK and not flattenable as a view: the whole-parameter fallback piece
    base = np.ones((600, 400))
    p = mm.Parameter(base[:, :300], "W")
    b = mm.Parameter(np.ones(3), "b")                 # a small one too: the pieces path runs
    assert p.size > 65536 and not p.value.flags.c_contiguous
    opt = mm.SGD([p, b], lr=0.1)
    assert opt._pieces
    p.grad[...] = 1.0
    b.grad[...] = 2.0
    opt.step()
    np.testing.assert_allclose(p.value, 0.9, rtol=1e-15)
    np.testing.assert_allclose(b.value, 0.8, rtol=1e-15)
    np.testing.assert_array_equal(base[:, 300:], 1.0)          # the rest of the base untouched


def test_plain_sgd_scratch_is_at_most_one_chunk():
    from minimlp.optim import _CHUNK
    params = [mm.Parameter(np.zeros((512, 512)), "W"), mm.Parameter(np.zeros(512), "b")]
    opt = mm.SGD(params, lr=0.1)
    bases = {id(s.base if s.base is not None else s): (s.base if s.base is not None else s)
             for _, _, s in opt._pieces}
    assert sum(b.size for b in bases.values()) <= _CHUNK
    assert opt._scratch == []


# Mutation-run survivors (tools/mutate.py, 2026-12-01) ------------------------------------
# Expected values come from the update formulas in the docstrings, PyTorch's documented
# behaviour (state layout, inf-norm = max |g|) or the rules the docstrings state.
import gc

from minimlp.optim import _CHUNK, _Fixed, _norm_parts
from minimlp.schedules import ExponentialLR, StepLR


def one_param_sgd(lr=0.1, **kw):
    return mm.SGD([mm.Parameter(np.zeros(2), "w")], lr=lr, **kw)


def test_fixed_descriptor_on_a_new_optimizer_class():
    """_Fixed names its slot after the attribute when a class is defined (__set_name__): a
    subclass with its own fixed hyperparameter keeps the value and refuses a second set."""
    class Shifted(mm.Optimizer):
        shift = _Fixed()

        def __init__(self, params, lr=0.1, shift=0.0):
            super().__init__(params, lr)
            self.shift = shift

        def _update(self, i, p):
            p.value -= self.lr * (p.grad + self.shift)

    p = mm.Parameter(np.zeros(2), "w")
    opt = Shifted([p], lr=0.5, shift=1.0)
    assert isinstance(Shifted.shift, _Fixed) and opt.shift == 1.0
    p.grad[...] = [2.0, -4.0]
    opt.step()
    np.testing.assert_array_equal(p.value, [-0.5 * 3.0, -0.5 * -3.0])
    with pytest.raises(AttributeError, match="Shifted: shift is fixed when the optimizer is built"):
        opt.shift = 2.0
    assert opt.shift == 1.0


# -- load_state_dict: the fixed hyperparameters a state may change ---------------------------
def test_sgd_load_takes_over_a_saved_momentum_and_steps_with_it():
    """A momentum > 0 may differ (OneCycleLR cycles it): the loaded optimizer continues with
    the saved one, b = momentum * b + g, theta -= lr * b."""
    g1, g2 = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    a = mm.Parameter(np.array([1.0, -2.0]), "w")
    saver = mm.SGD([a], lr=0.1, momentum=0.9)
    a.grad[...] = g1
    saver.step()                                          # b_1 = g1
    b = mm.Parameter(a.value.copy(), "w")
    opt = mm.SGD([b], lr=0.1, momentum=0.5)
    opt.load_state_dict(saver.state_dict())
    assert opt.momentum == 0.9
    b.grad[...] = g2
    opt.step()
    np.testing.assert_allclose(b.value, a.value - 0.1 * (0.9 * g1 + g2), rtol=1e-15)


def test_sgd_load_refuses_a_saved_momentum_of_zero():
    """0 and > 0 chose different state: a momentum-0 state does not load into momentum 0.5."""
    saved = one_param_sgd(momentum=0.0).state_dict()
    with pytest.raises(ValueError, match=r"saved with momentum=0\.0"):
        one_param_sgd(momentum=0.5).load_state_dict(saved)


def adam_state(betas, **kw):
    state = mm.Adam([mm.Parameter(np.zeros(2), "w")], **kw).state_dict()
    state["hyper"]["betas"] = betas
    return state


@pytest.mark.parametrize("beta1", [0.5, 0.0, 0.95])
def test_adam_load_takes_over_a_saved_beta1_in_0_1(beta1):
    """beta1 may differ (OneCycleLR cycles it) within Adam's range [0, 1); beta2 stays."""
    opt = mm.Adam([mm.Parameter(np.zeros(2), "w")], betas=(0.9, 0.999))
    opt.load_state_dict(adam_state((beta1, 0.999)))
    assert opt.betas == (beta1, 0.999)


@pytest.mark.parametrize("betas", [(1.0, 0.999), (-0.1, 0.999), (0.9, 0.99), (0.5, 0.99),
                                   [0.5, 0.999, 0.0], [0.5]])
def test_adam_load_refuses_other_betas(betas):
    """beta1 = 1 or < 0 is outside [0, 1); another beta2, or not a pair: refused."""
    opt = mm.Adam([mm.Parameter(np.zeros(2), "w")], betas=(0.9, 0.999))
    with pytest.raises(ValueError, match="saved with betas="):
        opt.load_state_dict(adam_state(betas))
    assert opt.betas == (0.9, 0.999)


def test_adam_load_accepts_equal_betas_of_another_number_type():
    """Equal hyperparameters load whatever their number type (a float32 read from a file)."""
    opt = mm.Adam([mm.Parameter(np.zeros(2), "w")], betas=(0.5, 0.999))
    opt.load_state_dict(adam_state((np.float32(0.5), 0.999)))
    assert opt.betas == (0.5, 0.999)


def test_adam_may_load_only_a_beta1_pair():
    """The rule itself: only "betas", given as a list/tuple pair, may be taken over."""
    opt = mm.Adam([mm.Parameter(np.zeros(2), "w")], betas=(0.9, 0.999))
    own = opt.hyperparameters()
    assert opt._may_load("betas", [0.5, 0.999], own["betas"]) is True
    for key in ("eps", "weight_decay"):
        assert not opt._may_load(key, [0.5, 0.999], own[key])
    assert not opt._may_load("betas", np.array([0.5, 0.999]), own["betas"])


def rmsprop_state(momentum, layout="own"):
    state = mm.RMSprop([mm.Parameter(np.zeros(2), "w")], momentum=0.5).state_dict()
    if layout == "torch":
        state = {"state": state["state"], "param_groups": state["param_groups"]}
        state["param_groups"][0]["momentum"] = momentum
    else:
        state["hyper"]["momentum"] = momentum
    return state


@pytest.mark.parametrize("mine,saved", [(0.9, 0.5), (0.5, 2.0), (2.0, 0.5)])
def test_rmsprop_load_takes_over_a_saved_momentum_above_0(mine, saved):
    """RMSprop's momentum is any number >= 0; a > 0 one may differ (OneCycleLR cycles it)."""
    opt = mm.RMSprop([mm.Parameter(np.zeros(2), "w")], momentum=mine)
    opt.load_state_dict(rmsprop_state(saved))
    assert opt.momentum == saved


@pytest.mark.parametrize("mine,saved,layout", [
    (0.9, 0.0, "own"),                 # the state kept no momentum buffer
    (0.9, "0.5", "own"),               # not a number (a hand-edited file)
    (0.9, math.inf, "own"),
    (0.0, 0.5, "own"),                 # this optimizer has no momentum buffer
    (0.0, 0.5, "torch"),               # ... nor would the PyTorch layout bring one
])
def test_rmsprop_load_refuses_a_momentum_that_chose_other_state(mine, saved, layout):
    opt = mm.RMSprop([mm.Parameter(np.zeros(2), "w")], momentum=mine)
    with pytest.raises(ValueError, match=f"saved with momentum={saved!r}.*build it with momentum="):
        opt.load_state_dict(rmsprop_state(saved, layout))
    assert opt.momentum == mine


# -- load_state_dict: PyTorch's {state, param_groups} layout ---------------------------------
def test_torch_layout_with_two_param_groups_is_refused():
    state = mm.Adam([mm.Parameter(np.zeros(2), "w")]).state_dict()
    groups = state["param_groups"]
    torch_state = {"state": state["state"], "param_groups": [groups[0], dict(groups[0], params=[])]}
    with pytest.raises(ValueError, match="2 parameter groups; minimlp optimizers have one"):
        mm.Adam([mm.Parameter(np.zeros(2), "w")]).load_state_dict(torch_state)


def test_torch_layout_of_plain_sgd_has_no_state_and_restarts_the_step_count():
    """PyTorch's SGD without momentum keeps no per-parameter state (no "step" either): the
    state is {} and the step count starts again at 0; lr comes from the param group."""
    params = make_params(1)
    opt = mm.SGD(params, lr=0.1)
    run(opt, params, steps=3)
    torch_state = {"state": {}, "param_groups": [{"lr": 0.05, "momentum": 0, "dampening": 0,
                                                  "weight_decay": 0, "nesterov": False,
                                                  "maximize": False, "params": [0, 1]}]}
    opt.load_state_dict(torch_state)
    assert opt.steps == 0 and opt.lr == 0.05


def test_torch_layout_step_sets_the_adam_bias_correction():
    """One parameter with PyTorch's per-parameter "step" (a 0-d tensor there): the next step
    is t = step + 1 in m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)."""
    m0, v0, g = np.array([0.2, -0.1]), np.array([0.04, 0.09]), np.array([1.0, -0.5])
    torch_state = {"state": {0: {"step": np.array(3.0, np.float32), "exp_avg": m0, "exp_avg_sq": v0}},
                   "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8,
                                     "weight_decay": 0, "amsgrad": False, "params": [0]}]}
    p = mm.Parameter(np.array([1.0, 2.0]), "w")
    opt = mm.Adam([p], lr=0.5)
    opt.load_state_dict(torch_state)
    assert opt.steps == 3 and opt.lr == 0.01
    p.grad[...] = g
    opt.step()
    m, v = 0.9 * m0 + 0.1 * g, 0.999 * v0 + 0.001 * g * g
    want = np.array([1.0, 2.0]) - 0.01 * (m / (1 - 0.9 ** 4)) / (np.sqrt(v / (1 - 0.999 ** 4)) + 1e-8)
    np.testing.assert_allclose(p.value, want, rtol=1e-13)


# -- schedules attached to an optimizer ----------------------------------------------------
def test_load_state_dict_restores_a_schedule_attached_before_loading():
    """"each schedule attached to this optimizer, now or later ... takes that one's state"."""
    o1 = one_param_sgd(lr=0.1)
    s1 = StepLR(o1, step_size=2, gamma=0.5)
    for _ in range(3):
        s1.step()
    o2 = one_param_sgd(lr=0.1)
    s2 = StepLR(o2, step_size=2, gamma=0.5)               # attached now, at epoch 0
    o2.load_state_dict(o1.state_dict())
    assert s2.last_epoch == 3 and o2.lr == 0.1 * 0.5 ** (3 // 2)
    assert s2.step() == 0.1 * 0.5 ** (4 // 2)


def test_schedules_lists_live_schedules_in_attach_order():
    o = one_param_sgd()
    a = StepLR(o, step_size=2)
    b = ExponentialLR(o, gamma=0.5)
    assert o.schedules() == [a, b]                        # attaching b keeps a
    dead = ExponentialLR(o, gamma=0.9)
    del dead
    gc.collect()                                          # a dead weak reference stays behind
    assert o.schedules() == [a, b]
    assert len(o.state_dict()["schedules"]["states"]) == 2
    o2 = one_param_sgd()
    a._attach(o2)                                         # moved to another optimizer ...
    assert o.schedules() == [b] and o2.schedules() == [a]
    a._attach(o)                                          # ... and back: attached once, last
    assert o.schedules() == [b, a] and o2.schedules() == []


def test_schedules_state_initial_lr_checks():
    o = one_param_sgd(lr=0.0)                             # lr 0 when the schedule was attached
    StepLR(o, step_size=2)
    state = o.state_dict()
    o2 = one_param_sgd(lr=0.0)
    o2.load_state_dict(state)
    assert o2.initial_lr == 0.0
    for bad in (True, -0.5, math.inf, math.nan, "0.1", None):
        state["schedules"]["initial_lr"] = bad
        with pytest.raises(ValueError, match="initial_lr"):
            one_param_sgd().load_state_dict(state)


# -- gradient norms and clipping -----------------------------------------------------------
def test_inf_norm_of_all_negative_gradients_is_max_abs():
    """norm_type=inf: total = max |g| (PyTorch), also when every gradient is negative."""
    params = [mm.Parameter(np.zeros(2), "a"), mm.Parameter(np.zeros(1), "b")]
    params[0].grad[...] = [-3.0, -1.0]
    params[1].grad[...] = [-2.0]
    total = mm.clip_grad_norm(params, 1.5, norm_type=math.inf)
    assert total == 3.0
    coef = 1.5 / (3.0 + 1e-6)
    np.testing.assert_allclose(params[0].grad, [-3.0 * coef, -1.0 * coef], rtol=1e-15)
    np.testing.assert_allclose(params[1].grad, [-2.0 * coef], rtol=1e-15)


@pytest.mark.parametrize("grads,want", [
    ([[3.0, -4.0]], (1.0, 5.0)),                          # the plain sqrt(sum g^2)
    ([[1e-140]], (1.0, 1e-140)),                          # sum of squares exactly 1e-280: plain
    ([[1e-141, -1e-141]], (1e-141, math.sqrt(2.0))),      # below 1e-280: rescaled by max |g|
    ([[1e200], [-1e200]], (1e200, math.sqrt(2.0))),       # the squares overflow: rescaled
])
def test_norm_parts_rescales_only_when_the_squares_under_or_overflow(grads, want):
    """(scale, r) with norm = scale * r; scale = max |g| only when the plain sum of squares
    leaves [1e-280, inf) (see _norm_parts' docstring), else 1.0."""
    assert float(np.vdot([1e-140], [1e-140])) == 1e-280      # the boundary case is exact
    scale, r = _norm_parts([np.array(g) for g in grads], 2.0)
    assert scale == want[0]
    assert r == pytest.approx(want[1], rel=1e-15)


# -- update rules ----------------------------------------------------------------------------
def test_centered_rmsprop_grad_avg_is_the_running_mean_of_gradients():
    """a = alpha * a + (1 - alpha) * g (PyTorch's grad_avg), saved under both layouts."""
    p = mm.Parameter(np.array([1.0, -1.0]), "w")
    opt = mm.RMSprop([p], alpha=0.9, centered=True)
    g1, g2 = np.array([0.5, -2.0]), np.array([1.5, 1.0])
    for g in (g1, g2):
        p.grad[...] = g
        opt.step()
    want = 0.9 * (0.1 * g1) + 0.1 * g2
    state = opt.state_dict()
    np.testing.assert_allclose(state["_a"][0], want, rtol=1e-15)
    np.testing.assert_allclose(state["state"][0]["grad_avg"], want, rtol=1e-15)


def test_plain_sgd_non_contiguous_parameter_of_exactly_one_chunk_shares_the_scratch():
    """A parameter of at most _CHUNK elements uses a view of the shared scratch, contiguous
    or not; only a larger non-contiguous one gets a scratch of its own."""
    base = np.ones(2 * _CHUNK)
    p = mm.Parameter(base[::2], "W")                  # a strided view of exactly _CHUNK elements
    b = mm.Parameter(np.ones(3), "b")
    assert p.size == _CHUNK and not p.value.flags.c_contiguous
    opt = mm.SGD([p, b], lr=0.1)
    bases = {id(s.base if s.base is not None else s): (s.base if s.base is not None else s)
             for _, _, s in opt._pieces}
    assert sum(x.size for x in bases.values()) == _CHUNK
    p.grad[...] = 1.0
    b.grad[...] = 2.0
    opt.step()
    np.testing.assert_allclose(p.value, 0.9, rtol=1e-15)
    np.testing.assert_allclose(b.value, 0.8, rtol=1e-15)
    np.testing.assert_array_equal(base[1::2], 1.0)             # the rest of the base untouched


def test_torch_layout_sgd_momentum_buffer_resumes_damped():
    """PyTorch's SGD state holds a ``momentum_buffer`` but no "step"; a buffer exists only
    after a step, so the next step is damped as in torch: b = mu b + (1 - dampening) g
    (1.4 here), not the undamped first step b = g (which would give 1.9)."""
    torch_state = {"state": {0: {"momentum_buffer": np.array([1.0])}},
                   "param_groups": [{"lr": 0.1, "momentum": 0.9, "dampening": 0.5,
                                     "weight_decay": 0, "nesterov": False,
                                     "maximize": False, "params": [0]}]}
    p = mm.Parameter(np.array([2.0]), "w")
    opt = mm.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    opt.load_state_dict(torch_state)
    assert opt.steps >= 1
    p.grad[...] = 1.0
    opt.step()
    np.testing.assert_allclose(p.value, [2.0 - 0.1 * 1.4], rtol=1e-15)


def test_sgd_load_refuses_a_saved_momentum_of_one():
    """SGD's momentum lies in [0, 1): a state claiming momentum 1 is not taken over."""
    saved = one_param_sgd(momentum=0.5).state_dict()
    saved["hyper"]["momentum"] = 1.0
    with pytest.raises(ValueError, match=r"saved with momentum=1\.0"):
        one_param_sgd(momentum=0.5).load_state_dict(saved)


def test_adam_load_refuses_a_beta1_that_is_not_a_number():
    with pytest.raises(ValueError, match="saved with betas="):
        mm.Adam([mm.Parameter(np.zeros(2), "w")], betas=(0.9, 0.999)).load_state_dict(
            adam_state(["0.5", 0.999]))
