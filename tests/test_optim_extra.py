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
