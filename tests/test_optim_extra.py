"""AdamW, RMSprop, Adagrad and gradient clipping: a few steps against the update rules
written out here with scalars (plain Python floats, no minimlp code), plus state and
argument checks. Parity with PyTorch itself is in test_torch_parity.py.
"""
import math

import numpy as np
import pytest

import minimlp as mm

GRADS = [0.5, -1.25, 0.3, 2.0, -0.7]   # the gradient seen at each step, for a scalar theta


def run(opt_cls, theta0=1.5, **kw):
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
    got = run(mm.AdamW, lr=0.1, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd)
    np.testing.assert_allclose(got, adamw_ref(1.5, 0.1, 0.8, 0.95, 1e-6, wd), rtol=1e-13)


def test_adamw_decay_is_decoupled_from_adam_l2():
    # Same weight_decay: AdamW multiplies theta by (1 - lr*wd); Adam adds wd*theta to g.
    assert run(mm.AdamW, lr=0.1, weight_decay=0.1) != pytest.approx(run(mm.Adam, lr=0.1, weight_decay=0.1))
    np.testing.assert_allclose(run(mm.AdamW, lr=0.1, weight_decay=0.0), run(mm.Adam, lr=0.1), rtol=1e-14)


@pytest.mark.parametrize("wd,momentum,centered", [(0, 0, False), (0.05, 0, False), (0, 0.9, False),
                                                  (0, 0, True), (0.05, 0.5, True)])
def test_rmsprop_matches_formula(wd, momentum, centered):
    got = run(mm.RMSprop, lr=0.01, alpha=0.9, eps=1e-8, weight_decay=wd, momentum=momentum,
              centered=centered)
    np.testing.assert_allclose(got, rmsprop_ref(1.5, 0.01, 0.9, 1e-8, wd, momentum, centered), rtol=1e-13)


@pytest.mark.parametrize("lr_decay,wd,init", [(0, 0, 0), (0.1, 0, 0), (0, 0.2, 0.5), (0.3, 0.1, 0.1)])
def test_adagrad_matches_formula(lr_decay, wd, init):
    got = run(mm.Adagrad, lr=0.5, lr_decay=lr_decay, weight_decay=wd, initial_accumulator_value=init)
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
    got = run(mm.SGD, lr=0.1, momentum=0.9, dampening=dampening, weight_decay=wd)
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
    np.testing.assert_array_equal(run(mm.SGD, lr=0.1, dampening=0.7), run(mm.SGD, lr=0.1))
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
    got = run(cls, lr=0.1, betas=(0.8, 0.5), eps=1e-6, weight_decay=wd, amsgrad=True)
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
