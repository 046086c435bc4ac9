"""Parity with PyTorch (float64, 1e-10) for the optimizer options and schedules of issue 14:
SGD(dampening=), Adam/AdamW(amsgrad=), clip_grad_norm(norm_type=), clip_grad_value,
LinearLR, SequentialLR, CosineAnnealingWarmRestarts, OneCycleLR, get_last_lr, and schedules
that compose (issue 11, section 5).

Skipped without torch; test_optim.py and test_schedules.py check the same rules
against the formulas written out by hand, so CI (no torch) checks them too.
"""
import math
import warnings

import numpy as np
import pytest

import minimlp as mm

torch = pytest.importorskip("torch")
sched_t = torch.optim.lr_scheduler

TOL = dict(rtol=1e-10, atol=1e-12)
SHAPES = [(3, 4), (4,), (2, 1)]


@pytest.fixture(autouse=True)
def _quiet_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # torch's "lr_scheduler.step() before optimizer.step()"
        yield


def twins(seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s) for s in SHAPES]
    ps = [mm.Parameter(v.copy(), f"p{i}") for i, v in enumerate(values)]
    ts = [torch.tensor(v.copy(), dtype=torch.float64, requires_grad=True) for v in values]
    return ps, ts


def grads(step, scale=1.0):
    rng = np.random.default_rng(100 + step)
    return [scale * rng.standard_normal(s) for s in SHAPES]


def run_both(make, tmake, steps=8, scale=1.0):
    ps, ts = twins()
    opt, topt = make(ps), tmake(ts)
    for k in range(steps):
        for p, t, g in zip(ps, ts, grads(k, scale)):
            p.grad[...] = g
            t.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        topt.step()
        for p, t in zip(ps, ts):
            np.testing.assert_allclose(p.value, t.detach().numpy(), **TOL, err_msg=f"step {k + 1}")


@pytest.mark.parametrize("kw", [dict(momentum=0.9, dampening=0.3),
                                dict(momentum=0.5, dampening=1.0, weight_decay=0.01),
                                dict(momentum=0.8, dampening=0.1, weight_decay=0.1),
                                dict(dampening=0.5)])
def test_sgd_dampening(kw):
    run_both(lambda p: mm.SGD(p, lr=0.05, **kw), lambda p: torch.optim.SGD(p, lr=0.05, **kw))


@pytest.mark.parametrize("cls,tcls", [(mm.Adam, torch.optim.Adam), (mm.AdamW, torch.optim.AdamW)])
@pytest.mark.parametrize("kw", [dict(), dict(weight_decay=0.05), dict(betas=(0.8, 0.5), eps=1e-6)])
def test_amsgrad(cls, tcls, kw):
    run_both(lambda p: cls(p, lr=0.01, amsgrad=True, **kw),
             lambda p: tcls(p, lr=0.01, amsgrad=True, **kw), steps=12)


def test_default_options_are_torchs():
    # dampening=0 and amsgrad=False by default, as torch's
    run_both(lambda p: mm.SGD(p, lr=0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9))
    run_both(lambda p: mm.Adam(p), lambda p: torch.optim.Adam(p))
    run_both(lambda p: mm.AdamW(p), lambda p: torch.optim.AdamW(p))


@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf, 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm(norm_type, max_norm):
    ps, ts = twins()
    for p, t, g in zip(ps, ts, grads(0, 3.0)):
        p.grad[...] = g
        t.grad = torch.tensor(g, dtype=torch.float64)
    total = mm.clip_grad_norm(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type)
    assert total == pytest.approx(float(ttotal), rel=1e-12)
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), **TOL)


def test_clip_grad_norm_above_1e154_where_torch_overflows():
    # torch's norm is inf there (and zeroes the gradients); minimlp's equals torch's on the
    # same gradients scaled down by 1e200, scaled back up
    ps, ts = twins()
    for p, t, g in zip(ps, ts, grads(0)):
        p.grad[...] = g * 1e200
        t.grad = torch.tensor(g, dtype=torch.float64)
    total = mm.clip_grad_norm(ps, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(ts, 1.0)
    assert total == pytest.approx(float(ttotal) * 1e200, rel=1e-12)
    for p, t in zip(ps, ts):       # clipped to norm 1 either way (the 1e-6 is negligible)
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-5)


def test_clip_grad_value():
    ps, ts = twins()
    for p, t, g in zip(ps, ts, grads(1, 2.0)):
        p.grad[...] = g
        t.grad = torch.tensor(g, dtype=torch.float64)
    mm.clip_grad_value(ps, 0.7)
    torch.nn.utils.clip_grad_value_(ts, 0.7)
    for p, t in zip(ps, ts):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


# -- schedules --------------------------------------------------------------------------
def pair_opts(lr=0.1, kind="sgd"):
    p = mm.Parameter(np.zeros(2), "w")
    t = torch.zeros(2, requires_grad=True)
    if kind == "adam":
        return mm.Adam([p], lr=lr), torch.optim.Adam([t], lr=lr)
    return mm.SGD([p], lr=lr, momentum=0.9), torch.optim.SGD([t], lr=lr, momentum=0.9)


def same_lr(o, to, where=""):
    assert o.lr == pytest.approx(to.param_groups[0]["lr"], rel=1e-12, abs=1e-15), where


SCHEDULES = [
    ("linear", lambda o: mm.LinearLR(o), lambda o: sched_t.LinearLR(o)),          # defaults
    ("linear-decay", lambda o: mm.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=4),
     lambda o: sched_t.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=4)),
    ("sequential", lambda o: mm.SequentialLR(o, [mm.LinearLR(o, 0.1, total_iters=3),
                                                 mm.ExponentialLR(o, 0.8)], [3]),
     lambda o: sched_t.SequentialLR(o, [sched_t.LinearLR(o, 0.1, total_iters=3),
                                        sched_t.ExponentialLR(o, 0.8)], [3])),
    ("sequential-3", lambda o: mm.SequentialLR(o, [mm.StepLR(o, 2, 0.5), mm.CosineAnnealingLR(o, T_max=4),
                                                   mm.LinearLR(o, 0.5, total_iters=2)], [3, 8]),
     lambda o: sched_t.SequentialLR(o, [sched_t.StepLR(o, 2, 0.5), sched_t.CosineAnnealingLR(o, T_max=4),
                                        sched_t.LinearLR(o, 0.5, total_iters=2)], [3, 8])),
    ("sequential-restarts", lambda o: mm.SequentialLR(o, [mm.LinearLR(o, 0.5, total_iters=2),
                                                          mm.CosineAnnealingWarmRestarts(o, T_0=3)], [2]),
     lambda o: sched_t.SequentialLR(o, [sched_t.LinearLR(o, 0.5, total_iters=2),
                                        sched_t.CosineAnnealingWarmRestarts(o, T_0=3)], [2])),
    ("warm-restarts", lambda o: mm.CosineAnnealingWarmRestarts(o, T_0=3),
     lambda o: sched_t.CosineAnnealingWarmRestarts(o, T_0=3)),
    ("warm-restarts-mult", lambda o: mm.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3, eta_min=0.01),
     lambda o: sched_t.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3, eta_min=0.01)),
    ("one-cycle", lambda o: mm.OneCycleLR(o, max_lr=1.0, total_steps=12),
     lambda o: sched_t.OneCycleLR(o, max_lr=1.0, total_steps=12)),
    ("one-cycle-linear", lambda o: mm.OneCycleLR(o, max_lr=0.5, epochs=3, steps_per_epoch=4,
                                                 anneal_strategy="linear", pct_start=0.25),
     lambda o: sched_t.OneCycleLR(o, max_lr=0.5, epochs=3, steps_per_epoch=4,
                                  anneal_strategy="linear", pct_start=0.25)),
    ("one-cycle-3", lambda o: mm.OneCycleLR(o, max_lr=2.0, total_steps=12, three_phase=True,
                                            div_factor=10.0, final_div_factor=100.0),
     lambda o: sched_t.OneCycleLR(o, max_lr=2.0, total_steps=12, three_phase=True,
                                  div_factor=10.0, final_div_factor=100.0)),
]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name,make,tmake", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule(name, make, tmake, kind):
    o, to = pair_opts(kind=kind)
    s, ts = make(o), tmake(to)
    same_lr(o, to, "attach")
    steps = 11 if name.startswith("one-cycle") else 14   # torch goes negative at step 12 (linear)
    for k in range(steps):
        s.step()
        ts.step()
        same_lr(o, to, f"step {k + 1}")
        assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12, abs=1e-15)
        if name.startswith("one-cycle"):       # momentum cycles the other way
            if kind == "sgd":
                assert o.momentum == pytest.approx(to.param_groups[0]["momentum"], rel=1e-12)
            else:
                assert o.betas == pytest.approx(to.param_groups[0]["betas"], rel=1e-12)


def test_warm_restarts_at_fractional_epochs():
    o, to = pair_opts()
    s = mm.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.001)
    ts = sched_t.CosineAnnealingWarmRestarts(to, T_0=2, T_mult=2, eta_min=0.001)
    for epoch in [0.25, 0.5, 1.75, 2.0, 3.3, 5.9, 6.0, 13.5]:
        s.step(epoch)
        ts.step(epoch)
        same_lr(o, to, f"epoch {epoch}")
    s.step()
    ts.step()
    same_lr(o, to, "then one more")


COMPOSED = [
    ("step+plateau", lambda o: [mm.ReduceLROnPlateau(o, patience=0, factor=0.5), mm.StepLR(o, 3, 0.5)],
     lambda o: [sched_t.ReduceLROnPlateau(o, patience=0, factor=0.5), sched_t.StepLR(o, 3, 0.5)]),
    ("step+exponential", lambda o: [mm.StepLR(o, 2, 0.5), mm.ExponentialLR(o, 0.9)],
     lambda o: [sched_t.StepLR(o, 2, 0.5), sched_t.ExponentialLR(o, 0.9)]),
    ("cosine+plateau", lambda o: [mm.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
                                  mm.ReduceLROnPlateau(o, patience=1, factor=0.3)],
     lambda o: [sched_t.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
                sched_t.ReduceLROnPlateau(o, patience=1, factor=0.3)]),
    ("linear+exponential", lambda o: [mm.LinearLR(o, 0.2, total_iters=3), mm.ExponentialLR(o, 0.95)],
     lambda o: [sched_t.LinearLR(o, 0.2, total_iters=3), sched_t.ExponentialLR(o, 0.95)]),
]


@pytest.mark.parametrize("name,make,tmake", COMPOSED, ids=[c[0] for c in COMPOSED])
def test_schedules_compose(name, make, tmake):
    o, to = pair_opts()
    ss, tss = make(o), tmake(to)
    same_lr(o, to, "attach")
    values = [1.0, 1.0, 0.9, 0.95, 0.95, 0.5, 0.6, 0.7, 0.7, 0.7, 0.7]
    for k, v in enumerate(values):
        if k == 4:                                           # a rate set by hand is kept
            o.lr = 0.07
            to.param_groups[0]["lr"] = 0.07
        for s, ts in zip(ss, tss):
            if isinstance(s, mm.ReduceLROnPlateau):
                s.step(v)
                ts.step(v)
            else:
                s.step()
                ts.step()
        same_lr(o, to, f"step {k + 1}")


def test_scheduled_training_matches_torch():
    """A scheduled, dampened, clipped SGD run: lr, momentum and weights stay torch's."""
    ps, ts = twins(1)
    opt = mm.SGD(ps, lr=0.1, momentum=0.9, dampening=0.2)
    topt = torch.optim.SGD(ts, lr=0.1, momentum=0.9, dampening=0.2)
    s = mm.SequentialLR(opt, [mm.LinearLR(opt, 0.25, total_iters=2), mm.CosineAnnealingWarmRestarts(opt, T_0=3)], [2])
    tsch = sched_t.SequentialLR(topt, [sched_t.LinearLR(topt, 0.25, total_iters=2),
                                       sched_t.CosineAnnealingWarmRestarts(topt, T_0=3)], [2])
    for k in range(10):
        for p, t, g in zip(ps, ts, grads(k, 4.0)):
            p.grad[...] = g
            t.grad = torch.tensor(g, dtype=torch.float64)
        mm.clip_grad_norm(ps, 2.0, norm_type=1)
        torch.nn.utils.clip_grad_norm_(ts, 2.0, norm_type=1)
        opt.step()
        topt.step()
        s.step()
        tsch.step()
        for p, t in zip(ps, ts):
            np.testing.assert_allclose(p.value, t.detach().numpy(), **TOL, err_msg=f"step {k + 1}")
