"""Learning-rate schedules: the lr after each step against formulas written out here, by hand
and as callbacks of fit (ReduceLROnPlateau driven by fit's validation loss)."""
import json
import math

import numpy as np
import pytest

import minimlp as mm
from minimlp.schedules import CosineAnnealingLR, ExponentialLR, ReduceLROnPlateau, StepLR


def opt(lr=0.1):
    return mm.SGD([mm.Parameter(np.zeros(2), "w")], lr=lr)


def lrs_by_hand(sched, steps):
    return [sched.optimizer.lr] + [sched.step() for _ in range(steps)]


def test_step_lr():
    got = lrs_by_hand(StepLR(opt(0.1), step_size=3, gamma=0.5), 7)
    np.testing.assert_allclose(got, [0.1] * 3 + [0.05] * 3 + [0.025] * 2, rtol=1e-15)


def test_exponential_lr():
    got = lrs_by_hand(ExponentialLR(opt(0.2), gamma=0.9), 5)
    np.testing.assert_allclose(got, [0.2, 0.18, 0.162, 0.1458, 0.13122, 0.118098], rtol=1e-14)


def test_cosine_annealing_lr():
    got = lrs_by_hand(CosineAnnealingLR(opt(1.0), T_max=4, eta_min=0.1), 6)
    # 0.1 + 0.9 (1 + cos(pi t / 4)) / 2 at t = 0..6; past T_max it rises again
    c = math.sqrt(2) / 2
    expected = [1.0, 0.1 + 0.45 * (1 + c), 0.55, 0.1 + 0.45 * (1 - c), 0.1, 0.1 + 0.45 * (1 - c), 0.55]
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_cosine_with_linear_warmup():
    got = lrs_by_hand(CosineAnnealingLR(opt(0.6), T_max=5, warmup_epochs=2, warmup_start_factor=0.5), 5)
    # warm-up 0.3, 0.45; then cosine over T_max - W = 3 epochs from 0.6 to 0
    expected = [0.3, 0.45, 0.6, 0.6 * 0.75, 0.6 * 0.25, 0.0]
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-16)


def test_reduce_on_plateau_by_hand():
    o = opt(1.0)
    s = ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=0.1, cooldown=1, min_lr=0.2)
    values = [10, 9.5, 9.4, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    got = [s.step(v) for v in values]
    # 9.5 is not < 10 * 0.9 -> bad 1; 9.4: bad 2 > patience -> 0.5, cooldown 1;
    # 8.0 better (the cooldown epoch); bad 1; bad 2 -> 0.25, cooldown 1; the cooldown epoch
    # resets the count; bad 1; bad 2 -> max(0.125, min_lr) = 0.2; cooldown epoch
    assert got == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2]


def test_reduce_on_plateau_max_mode_abs():
    o = opt(1.0)
    s = ReduceLROnPlateau(o, mode="max", factor=0.1, patience=0, threshold=0.5, threshold_mode="abs")
    got = [s.step(v) for v in [1.0, 1.4, 2.0, 2.1]]
    np.testing.assert_allclose(got, [1.0, 0.1, 0.1, 0.01])


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    Y = X @ np.array([[1.0], [-2.0], [0.5]])
    return X, Y


def test_schedule_as_fit_callback_steps_once_per_epoch():
    X, Y = _data()
    net = mm.Sequential(mm.Dense(3, 1, rng=0))
    o = mm.SGD(net.parameters(), lr=0.05)
    sched = StepLR(step_size=2, gamma=0.5)           # no optimizer: fit's is used
    seen = []

    class Spy(mm.callbacks.Callback):
        def on_epoch_begin(self, epoch):
            seen.append(self.optimizer.lr)

    mm.training.fit(net, X, Y, loss=mm.MSELoss(), optimizer=o, epochs=5, callbacks=[sched, Spy()],
                    verbose=0, seed=0)
    np.testing.assert_allclose(seen, [0.05, 0.05, 0.025, 0.025, 0.0125])
    assert sched.last_epoch == 5


def test_schedule_continues_at_fits_initial_epoch():
    X, Y = _data()
    net = mm.Sequential(mm.Dense(3, 1, rng=0))
    o = mm.SGD(net.parameters(), lr=0.08)
    sched = StepLR(step_size=2, gamma=0.5)
    mm.training.fit(net, X, Y, loss=mm.MSELoss(), optimizer=o, epochs=6, initial_epoch=3,
                    callbacks=[sched], verbose=0, seed=0)
    # a new schedule steps to epoch 3 first (lrs[t] = lr(t)); epochs 4, 5, 6 ran with lr(3),
    # lr(4), lr(5); after the last step lr(6) = 0.08 / 8
    np.testing.assert_allclose(sched.lrs, [0.08, 0.08, 0.04, 0.04, 0.02, 0.02, 0.01])
    assert sched.last_epoch == 6


def test_reduce_on_plateau_driven_by_fit_validation_loss():
    X, Y = _data()
    net = mm.Sequential(mm.Dense(3, 1, rng=0))
    o = mm.SGD(net.parameters(), lr=1e-3)      # slow: the validation loss rarely halves
    sched = ReduceLROnPlateau(factor=0.5, patience=0, threshold=0.5)   # needs a 50% drop
    hist = mm.training.fit(net, X, Y, loss=mm.MSELoss(), optimizer=o, epochs=4, callbacks=[sched],
                           validation_data=(X[:16], Y[:16]), verbose=0, seed=0)
    val = hist.history["val_loss"]
    expected_lrs, lr, best = [], 1e-3, math.inf
    for v in val:                                # the rule written out, on fit's own val_loss
        if v < best * 0.5:
            best = v
        else:
            lr *= 0.5
        expected_lrs.append(lr)
    np.testing.assert_allclose(sched.lrs, expected_lrs)
    assert sched.lrs[-1] < 1e-3


def test_reduce_on_plateau_needs_the_monitored_key():
    X, Y = _data()
    net = mm.Sequential(mm.Dense(3, 1, rng=0))
    with pytest.raises(ValueError, match="val_loss"):
        mm.training.fit(net, X, Y, loss=mm.MSELoss(), optimizer=mm.SGD(net.parameters()), epochs=1,
                        callbacks=[ReduceLROnPlateau()], verbose=0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="warmup_epochs"):
        CosineAnnealingLR(opt(), T_max=3, warmup_epochs=3)
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(opt(), factor=1.0)
    with pytest.raises(TypeError, match="Optimizer"):
        StepLR("sgd", step_size=2)
    with pytest.raises(RuntimeError, match="no optimizer"):
        ExponentialLR(gamma=0.5).step()


# -- composition (issue 11, section 5): schedules multiply the current rate ---------------
def test_reduce_on_plateau_next_to_step_lr_lowers_the_rate():
    # the reviewed reproduction: torch gives 0.05
    o = opt(0.1)
    plateau = ReduceLROnPlateau(o, patience=0, factor=0.5)
    step = StepLR(o, step_size=100)
    plateau.step(1)
    plateau.step(1)          # no improvement, patience 0: 0.1 * 0.5
    step.step()              # epoch 1 of 100: keeps the current rate
    assert o.lr == 0.05
    assert plateau.get_last_lr() == [0.05] and step.get_last_lr() == [0.05]


def test_step_lr_keeps_a_rate_set_by_hand():
    o = opt(0.1)
    s = StepLR(o, step_size=2, gamma=0.5)
    s.step()
    o.lr = 0.3               # by hand, between steps
    assert s.step() == 0.15  # epoch 2: 0.3 * 0.5, not 0.1 * 0.5
    assert s.step() == 0.15


def test_two_schedules_multiply():
    o = opt(1.0)
    a, b = StepLR(o, step_size=2, gamma=0.5), ExponentialLR(o, gamma=0.9)
    got = []
    for _ in range(5):
        a.step()
        b.step()
        got.append(o.lr)
    want = [0.5 ** (t // 2) * 0.9 ** t for t in range(1, 6)]
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_base_lr_is_the_rate_when_the_first_schedule_was_attached():
    o = opt(0.2)
    StepLR(o, step_size=1, gamma=0.5).step()          # 0.1
    assert o.initial_lr == 0.2
    late = mm.CosineAnnealingWarmRestarts(o, T_0=4)       # from base_lr = initial_lr, as torch
    assert late.base_lr == 0.2 and o.lr == 0.2


# -- the new schedules, against their formulas written out --------------------------------
def test_linear_lr_warm_up():
    got = lrs_by_hand(mm.LinearLR(opt(0.6), start_factor=0.25, total_iters=3), 5)
    # f(t) = 0.25 + 0.75 * min(t, 3) / 3
    np.testing.assert_allclose(got, [0.6 * (0.25 + 0.25 * min(t, 3)) for t in range(6)], rtol=1e-14)


def test_linear_lr_decay_to_end_factor():
    got = lrs_by_hand(mm.LinearLR(opt(1.0), start_factor=1.0, end_factor=0.2, total_iters=4), 6)
    np.testing.assert_allclose(got, [1.0, 0.8, 0.6, 0.4, 0.2, 0.2, 0.2], rtol=1e-14)


def test_sequential_lr_warm_up_then_exponential():
    o = opt(0.4)
    s = mm.SequentialLR(o, [mm.LinearLR(o, start_factor=0.5, total_iters=2),
                            ExponentialLR(o, gamma=0.5)], milestones=[2])
    got = lrs_by_hand(s, 5)
    # warm-up 0.2, 0.3; at the milestone the exponential starts at base_lr; then halves
    np.testing.assert_allclose(got, [0.2, 0.3, 0.4, 0.2, 0.1, 0.05], rtol=1e-14)
    assert s.get_last_lr() == [o.lr]


def test_sequential_lr_of_schedules_built_without_an_optimizer():
    a = mm.SequentialLR(schedulers=[mm.LinearLR(start_factor=0.5, total_iters=2),
                                    StepLR(step_size=1, gamma=0.1)], milestones=[2])
    o = opt(1.0)
    a._attach(o)
    np.testing.assert_allclose(lrs_by_hand(a, 3), [0.5, 0.75, 1.0, 0.1], rtol=1e-14)
    assert o.schedules() == [a]        # its parts are saved inside it


@pytest.mark.parametrize("T_mult", [1, 2])
def test_cosine_annealing_warm_restarts(T_mult):
    got = lrs_by_hand(mm.CosineAnnealingWarmRestarts(opt(1.0), T_0=3, T_mult=T_mult, eta_min=0.1), 10)
    want, T_i, T_cur = [], 3, 0
    for _ in range(11):
        want.append(0.1 + 0.9 * (1 + math.cos(math.pi * T_cur / T_i)) / 2)
        T_cur += 1
        if T_cur == T_i:                       # restart
            T_cur, T_i = 0, T_i * T_mult
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_cosine_annealing_warm_restarts_at_a_fractional_epoch():
    s = mm.CosineAnnealingWarmRestarts(opt(1.0), T_0=2, T_mult=2)
    # epoch 4.5 with T_0 = 2, T_mult = 2: the periods are [0, 2), [2, 6): T_cur 2.5 of T_i 4
    assert s.step(4.5) == pytest.approx((1 + math.cos(math.pi * 2.5 / 4)) / 2, rel=1e-14)
    assert s.last_epoch == 4


def one_cycle_ref(t, T, max_lr, pct, div, final_div, strategy, three_phase):
    lo = max_lr / div
    if strategy == "cos":
        anneal = lambda a, b, x: b + (a - b) * (1 + math.cos(math.pi * x)) / 2   # noqa: E731
    else:
        anneal = lambda a, b, x: a + (b - a) * x                                # noqa: E731
    up = pct * T - 1
    if three_phase:
        phases = [(0, up, lo, max_lr), (up, 2 * pct * T - 2, max_lr, lo), (2 * pct * T - 2, T - 1, lo, lo / final_div)]
    else:
        phases = [(0, up, lo, max_lr), (up, T - 1, max_lr, lo / final_div)]
    for k, (a, b, s, e) in enumerate(phases):
        if t <= b or k == len(phases) - 1:
            return anneal(s, e, (t - a) / (b - a))


@pytest.mark.parametrize("strategy,three_phase", [("cos", False), ("linear", False), ("cos", True)])
def test_one_cycle_lr(strategy, three_phase):
    o = mm.SGD([mm.Parameter(np.zeros(2), "w")], lr=0.1, momentum=0.9)
    s = mm.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy=strategy, three_phase=three_phase)
    got = lrs_by_hand(s, 10)
    want = [max(0.0, one_cycle_ref(t, 10, 1.0, 0.3, 25.0, 1e4, strategy, three_phase)) for t in range(11)]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    with pytest.raises(ValueError, match="total_steps"):
        s.step()


def test_one_cycle_lr_cycles_momentum_the_other_way():
    o = mm.SGD([mm.Parameter(np.zeros(2), "w")], lr=0.1, momentum=0.9)
    s = mm.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="linear")
    assert o.momentum == 0.95                         # max_momentum at the low start
    for _ in range(2):
        s.step()                                      # step 2 = pct_start * 10 - 1: the peak
    assert o.lr == pytest.approx(1.0) and o.momentum == pytest.approx(0.85)
    a = mm.Adam([mm.Parameter(np.zeros(2), "w")])
    mm.OneCycleLR(a, max_lr=1.0, total_steps=10)
    assert a.betas == (0.95, 0.999)
    with pytest.raises(ValueError, match="cycle_momentum"):
        mm.OneCycleLR(opt(0.1), max_lr=1.0, total_steps=10)   # plain SGD has no momentum


def test_one_cycle_lr_refuses_a_fit_longer_than_its_steps():
    X, Y = _data()
    net = mm.Sequential(mm.Dense(3, 1, rng=0))
    o = mm.SGD(net.parameters(), lr=0.1)
    s = mm.OneCycleLR(max_lr=0.1, total_steps=3, cycle_momentum=False)
    with pytest.raises(ValueError, match="total_steps=5"):
        mm.training.fit(net, X, Y, loss=mm.MSELoss(), optimizer=o, epochs=5, callbacks=[s], verbose=0)


def test_new_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="start_factor"):
        mm.LinearLR(opt(), start_factor=0.0)
    with pytest.raises(TypeError, match="T_0"):
        mm.CosineAnnealingWarmRestarts(opt())
    with pytest.raises(TypeError, match="max_lr"):
        mm.OneCycleLR(opt())
    with pytest.raises(ValueError, match="total_steps"):
        mm.OneCycleLR(opt(), max_lr=1.0)
    o = opt()
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        mm.SequentialLR(o, [StepLR(o), ReduceLROnPlateau(o)], milestones=[2])
    with pytest.raises(ValueError, match="milestone"):
        mm.SequentialLR(o, [StepLR(o), StepLR(o)], milestones=[])
    with pytest.raises(ValueError, match="another optimizer"):
        mm.SequentialLR(o, [StepLR(opt())])


# -- state: state_dict, and a checkpointed run resumes its curve bit for bit --------------
SCHEDULES = {
    "step": lambda: StepLR(step_size=2, gamma=0.5),
    "exponential": lambda: ExponentialLR(gamma=0.8),
    "cosine": lambda: CosineAnnealingLR(T_max=5, eta_min=0.001),
    "cosine-warmup": lambda: CosineAnnealingLR(T_max=6, warmup_epochs=2),
    "linear": lambda: mm.LinearLR(start_factor=0.2, total_iters=4),
    "warm-restarts": lambda: mm.CosineAnnealingWarmRestarts(T_0=2, T_mult=2),
    "one-cycle": lambda: mm.OneCycleLR(max_lr=0.05, total_steps=8),
    "sequential": lambda: mm.SequentialLR(schedulers=[mm.LinearLR(total_iters=2),
                                                      ExponentialLR(gamma=0.7)], milestones=[3]),
    "plateau": lambda: ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, threshold=0.3),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_state_dict_continues_the_curve(name):
    o1 = mm.SGD([mm.Parameter(np.zeros(2), "w")], lr=0.1, momentum=0.9)
    s1 = SCHEDULES[name]()
    s1._attach(o1)
    values = [3.0, 2.0, 2.5, 2.4, 1.0, 1.1, 1.2, 1.3]
    stepper = (lambda s, i: s.step(values[i])) if name == "plateau" else (lambda s, i: s.step())
    for i in range(3):
        stepper(s1, i)
    state = json.loads(json.dumps(o1.state_dict()["schedules"]))   # as a file holds it
    o2 = mm.SGD([mm.Parameter(np.zeros(2), "w")], lr=o1.lr, momentum=o1.momentum)
    o2.initial_lr = state["initial_lr"]
    s2 = SCHEDULES[name]()
    s2._attach(o2)
    s2.load_state_dict(state["states"][0])
    o2.lr = o1.lr
    for i in range(3, 8):
        stepper(s1, i)
        stepper(s2, i)
        assert o2.lr == o1.lr
    with pytest.raises(ValueError, match="arguments|state is for"):   # another kind of schedule
        StepLR(opt(), step_size=3).load_state_dict(state["states"][0])


def _train(callbacks, epochs, initial_epoch=0, net=None, o=None, lrs=None):
    X, Y = _data()
    if net is None:
        net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.Tanh(), mm.Dense(4, 1, rng=1))
        o = mm.SGD(net.parameters(), lr=0.05, momentum=0.9)

    class Spy(mm.callbacks.Callback):
        def on_epoch_begin(self, epoch):
            lrs.append(self.optimizer.lr)

    mm.training.fit(net, X, Y, loss=mm.MSELoss(), optimizer=o, epochs=epochs, batch_size=16,
                    initial_epoch=initial_epoch, callbacks=[*callbacks, Spy()], verbose=0, seed=3)
    return net, o


@pytest.mark.parametrize("checkpoint_first", [False, True])
@pytest.mark.parametrize("name", SCHEDULES)
def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(name, checkpoint_first, tmp_path):
    path = str(tmp_path / "ckpt.npz")

    def cbs(sched):
        ck = mm.ModelCheckpoint(path)
        return [ck, sched] if checkpoint_first else [sched, ck]

    whole_lrs, part_lrs = [], []
    whole, _ = _train(cbs(SCHEDULES[name]()), 8, lrs=whole_lrs)
    _train(cbs(SCHEDULES[name]()), 4, lrs=part_lrs)           # interrupted after epoch 4
    net, o = mm.load(path, with_optimizer=True)
    resumed, o = _train(cbs(SCHEDULES[name]()), 8, initial_epoch=4, net=net, o=o, lrs=part_lrs)
    assert part_lrs == whole_lrs                                # the same curve, exactly
    for a, b in zip(whole.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.value, b.value)
    assert len(set(whole_lrs)) > 1                              # the schedule did something


def test_damaged_schedule_state_is_refused_clearly():
    o = opt(0.1)
    s = StepLR(o, step_size=2)
    s.step()
    good = o.state_dict()
    for damage, match in [(lambda st: st["schedules"].update(initial_lr=-1.0), "initial_lr"),
                          (lambda st: st["schedules"].update(states="x"), "list of 'states'"),
                          (lambda st: st["schedules"]["states"].append(7), "schedule 1")]:
        st = json.loads(json.dumps(good))
        damage(st)
        with pytest.raises(ValueError, match=match):
            opt(0.1).load_state_dict(st)
    for key, value in [("last_epoch", -3), ("last_epoch", 1.5), ("base_lr", math.inf), ("last_lr", "x")]:
        st = json.loads(json.dumps(good))
        st["schedules"]["states"][0][key] = value
        o2 = opt(0.1)
        o2.load_state_dict(st)
        with pytest.raises(ValueError, match=f"StepLR: the state's '{key}'"):
            StepLR(o2, step_size=2)            # it takes the saved state when it attaches
    st = json.loads(json.dumps(good))
    o3 = opt(0.1)
    o3.load_state_dict(st)
    fresh = StepLR(o3, step_size=5)            # other arguments: it does not take that state
    assert fresh.last_epoch == 0 and o3._pending_schedules


# PyTorch 2.13's documented defaults for the new options, pinned without torch
DEFAULTS = [
    (lambda: mm.LinearLR(), dict(start_factor=1 / 3, end_factor=1.0, total_iters=5)),
    (lambda: mm.CosineAnnealingWarmRestarts(T_0=3), dict(T_mult=1, eta_min=0.0)),
    (lambda: mm.OneCycleLR(max_lr=1.0, total_steps=10),
     dict(pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
          max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False)),
    (lambda: mm.SGD([mm.Parameter(np.zeros(1), "w")]), dict(dampening=0.0)),
    (lambda: mm.Adam([mm.Parameter(np.zeros(1), "w")]), dict(amsgrad=False)),
    (lambda: mm.AdamW([mm.Parameter(np.zeros(1), "w")]), dict(amsgrad=False)),
]


@pytest.mark.parametrize("make,expected", DEFAULTS)
def test_defaults_are_pytorchs(make, expected):
    obj = make()
    for k, v in expected.items():
        assert getattr(obj, k) == v, k


def test_clip_grad_norm_default_is_the_2_norm():
    p = mm.Parameter(np.zeros(2), "w")
    p.grad[:] = [3.0, 4.0]
    assert mm.clip_grad_norm([p], 100.0) == 5.0


# Mutation-run survivors (tools/mutate.py, 2026-12-01) -------------------------------------
# Expected values come from PyTorch's documented formulas, written out here by hand.
def _fit_tiny(optimizer_lr, epochs, callbacks, initial_epoch=0):
    X, Y = _data()
    net = mm.Sequential(mm.Dense(3, 1, rng=0))
    o = mm.SGD(net.parameters(), lr=optimizer_lr)
    hist = mm.training.fit(net, X, Y, loss=mm.MSELoss(), optimizer=o, epochs=epochs,
                           initial_epoch=initial_epoch, callbacks=callbacks, verbose=0, seed=0)
    return o, hist


def test_schedules_without_an_optimizer_refuse_clearly():
    with pytest.raises(RuntimeError, match="no optimizer"):
        StepLR(step_size=2).get_last_lr()
    with pytest.raises(RuntimeError, match="no optimizer"):
        mm.CosineAnnealingWarmRestarts(T_0=3).step()
    with pytest.raises(RuntimeError, match="no optimizer"):
        ReduceLROnPlateau().step(1.0)


def test_load_state_dict_names_the_kind_of_state_it_got():
    s = StepLR(opt(), step_size=2, gamma=0.5)
    forged = dict(s.state_dict(), type="ExponentialLR")     # same arguments, another class
    with pytest.raises(ValueError, match="state is for 'ExponentialLR', not StepLR"):
        s.load_state_dict(forged)
    with pytest.raises(ValueError, match="state is for 'list', not StepLR"):
        s.load_state_dict([1, 2])


def test_loaded_state_numbers_are_checked_and_typed():
    o = opt(1.0)
    s = StepLR(o, step_size=2, gamma=0.5)
    for _ in range(3):
        s.step()
    good = json.loads(json.dumps(s.state_dict()))
    bad = dict(good, last_epoch=None)                        # last_epoch is not optional
    with pytest.raises(ValueError, match="'last_epoch'"):
        StepLR(opt(1.0), step_size=2, gamma=0.5).load_state_dict(bad)
    s2 = StepLR(opt(1.0), step_size=2, gamma=0.5)
    s2.load_state_dict(dict(good, base_lr=1, last_lr=None))  # an int rate reads back as a float
    assert s2.last_epoch == 3 and type(s2.last_epoch) is int
    assert s2.base_lr == 1.0 and type(s2.base_lr) is float
    assert s2._last_lr is None                               # last_lr may be absent (None)


def test_cosine_annealing_lr_several_periods():
    # PyTorch's recursion, which equals eta_min + (base - eta_min)(1 + cos(pi t / T))/2; past
    # T_max it goes up and down again, with troughs at t = 2, 6, 10 for T_max = 2
    got = lrs_by_hand(CosineAnnealingLR(opt(1.0), T_max=2, eta_min=0.1), 10)
    want = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 2)) / 2 for t in range(11)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_cosine_warm_up_with_eta_min():
    got = lrs_by_hand(CosineAnnealingLR(opt(1.0), T_max=5, eta_min=0.1, warmup_epochs=2,
                                        warmup_start_factor=0.5), 5)
    # warm-up 0.5, 0.75; at t = W the cosine starts at base_lr; then over T_max - W = 3 epochs
    want = [0.5, 0.75, 1.0, 0.1 + 0.9 * 0.75, 0.1 + 0.9 * 0.25, 0.1]
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_cosine_warm_up_end_resets_to_base_lr_whatever_the_rate():
    # at t = W the cosine starts from its closed form (PyTorch's SequentialLR milestone):
    # base_lr, even if the rate was changed by hand during the warm-up
    o = opt(0.6)
    s = CosineAnnealingLR(o, T_max=5, warmup_epochs=2, warmup_start_factor=0.5)
    s.step()
    o.lr = 0.9
    assert s.step() == pytest.approx(0.6, rel=1e-14)


def test_cosine_and_linear_factor_bounds():
    with pytest.raises(ValueError, match="warmup_start_factor"):
        CosineAnnealingLR(opt(), T_max=5, warmup_epochs=2, warmup_start_factor=0.0)
    with pytest.raises(ValueError, match="start_factor"):
        mm.LinearLR(opt(), start_factor=1.5)
    with pytest.raises(ValueError, match="end_factor"):
        mm.LinearLR(opt(), end_factor=1.5)
    s = mm.LinearLR(opt(1.0), start_factor=1.0, end_factor=1.0, total_iters=2)   # 1.0 allowed
    assert lrs_by_hand(s, 3) == [1.0, 1.0, 1.0, 1.0]


def test_sequential_lr_cosine_second_starts_at_its_closed_form():
    # at a milestone the next schedule starts at its epoch 0 (its closed form): the cosine at
    # base_lr, a cosine with warm-up at base_lr * warmup_start_factor
    o = opt(1.0)
    s = mm.SequentialLR(o, [ExponentialLR(o, gamma=0.5), CosineAnnealingLR(o, T_max=4, eta_min=0.2)],
                        milestones=[2])
    got = lrs_by_hand(s, 4)
    c = math.sqrt(2) / 2
    np.testing.assert_allclose(got, [1.0, 0.5, 1.0, 0.2 + 0.4 * (1 + c), 0.6], rtol=1e-14)
    o = opt(1.0)
    s = mm.SequentialLR(o, [ExponentialLR(o, gamma=0.5),
                            CosineAnnealingLR(o, T_max=5, warmup_epochs=2, warmup_start_factor=0.25)],
                        milestones=[2])
    got = lrs_by_hand(s, 5)
    # warm-up factor 0.25 + 0.75 t / 2 at t = 0, 1; then the cosine over 3 epochs
    np.testing.assert_allclose(got, [1.0, 0.5, 0.25, 0.625, 1.0, 0.75], rtol=1e-14)


def test_sequential_lr_linear_second_restarts_its_warm_up():
    # LinearLR(start_factor=0.25, total_iters=4) from the milestone: base_lr * (0.25 + 0.75 k / 4)
    # at its own epoch k = 0..4, then base_lr
    o = opt(1.0)
    s = mm.SequentialLR(o, [ExponentialLR(o, gamma=0.5), mm.LinearLR(o, start_factor=0.25, total_iters=4)],
                        milestones=[2])
    got = lrs_by_hand(s, 8)
    want = [1.0, 0.5] + [0.25 + 0.75 * min(k, 4) / 4 for k in range(7)]
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_warm_restarts_initial_position():
    s = mm.CosineAnnealingWarmRestarts(T_0=3)      # PyTorch: T_cur = last_epoch = -1 before any step
    assert s.T_cur == -1 and s.T_i == 3
    o = opt(1.0)
    s._attach(o)                                   # the initial step: epoch 0
    assert (s.T_cur, s.T_i, s.last_epoch, o.lr) == (0, 3, 0, 1.0)


def test_warm_restarts_counts_epochs():
    s = mm.CosineAnnealingWarmRestarts(opt(1.0), T_0=2, T_mult=2)
    for _ in range(5):
        s.step()
    # periods [0, 2), [2, 6): epoch 5 is T_cur 3 of T_i 4
    assert (s.last_epoch, s.T_cur, s.T_i) == (5, 3, 4)


@pytest.mark.parametrize("T_0,T_mult,epoch,T_cur,T_i", [
    (3, 1, 7.5, 1.5, 3),        # periods of 3: 7.5 = 2 * 3 + 1.5
    (3, 1, 2, 2, 3),            # inside the first period
    (1, 2, 10, 3, 8),           # periods [0,1), [1,3), [3,7), [7,15)
    (2, 3, 10, 2, 18),          # periods [0,2), [2,8), [8,26)
])
def test_warm_restarts_step_to_an_explicit_epoch(T_0, T_mult, epoch, T_cur, T_i):
    s = mm.CosineAnnealingWarmRestarts(opt(1.0), T_0=T_0, T_mult=T_mult, eta_min=0.1)
    lr = s.step(epoch)
    assert s.T_cur == pytest.approx(T_cur, abs=1e-12) and s.T_i == T_i
    assert s.last_epoch == math.floor(epoch)
    assert lr == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * T_cur / T_i)) / 2, rel=1e-12)


def test_warm_restarts_starts_afresh_on_another_optimizer():
    s = mm.CosineAnnealingWarmRestarts(opt(1.0), T_0=3, T_mult=2)
    for _ in range(4):
        s.step()
    o, _ = _fit_tiny(0.05, 2, [s])                 # fit's optimizer: a fresh start at epoch 0
    assert (s.T_cur, s.T_i, s.last_epoch) == (2, 3, 2)
    want = [0.05 * (1 + math.cos(math.pi * t / 3)) / 2 for t in range(3)]
    np.testing.assert_allclose(s.lrs, want, rtol=1e-14)


def test_warm_restarts_state_checks_T_i_and_keeps_T_cur():
    o = opt(1.0)
    s = mm.CosineAnnealingWarmRestarts(o, T_0=4)
    s.step()
    good = json.loads(json.dumps(s.state_dict()))
    with pytest.raises(ValueError, match="'T_i'"):
        mm.CosineAnnealingWarmRestarts(opt(1.0), T_0=4).load_state_dict(dict(good, T_i=4.5))
    s2 = mm.CosineAnnealingWarmRestarts(opt(1.0), T_0=4)
    s2.load_state_dict(dict(good, T_cur=2.0))
    assert s2.T_cur == 2 and type(s2.T_cur) is int             # a whole T_cur reads back as int
    s3 = mm.CosineAnnealingWarmRestarts(opt(1.0), T_0=4)
    s3.load_state_dict(dict(good, T_cur=1.5))
    assert s3.T_cur == 1.5
    assert s3.step() == pytest.approx((1 + math.cos(math.pi * 2.5 / 4)) / 2, rel=1e-14)


def test_one_cycle_lr_argument_checks():
    def make(**kw):
        return mm.OneCycleLR(opt(), **{"max_lr": 1.0, "total_steps": 10, "cycle_momentum": False, **kw})
    with pytest.raises(ValueError, match="epochs and steps_per_epoch"):
        mm.OneCycleLR(opt(), max_lr=1.0, epochs=5, cycle_momentum=False)
    with pytest.raises(ValueError, match="epochs and steps_per_epoch"):
        mm.OneCycleLR(opt(), max_lr=1.0, steps_per_epoch=5, cycle_momentum=False)
    assert mm.OneCycleLR(opt(), max_lr=1.0, epochs=2, steps_per_epoch=5, cycle_momentum=False).total_steps == 10
    for key, value in [("pct_start", 1.5), ("base_momentum", 1.0), ("max_momentum", 1.0),
                       ("div_factor", 0.0), ("final_div_factor", 0.0)]:
        with pytest.raises(ValueError, match=key):
            make(**{key: value})
    s = make(div_factor=0.5, final_div_factor=0.5)              # factors below 1 are allowed
    assert s.initial_lr == 2.0 and s.min_lr == 4.0
    assert make(pct_start=1.0).pct_start == 1.0


def test_one_cycle_lr_peak_is_in_the_first_phase():
    # PyTorch: step_num <= end_step picks the phase, so at t = pct_start * T - 1 the first
    # phase ends with pct = 1: the cos anneal gives max_lr and base_momentum exactly
    o = mm.SGD([mm.Parameter(np.zeros(2), "w")], lr=0.1, momentum=0.9)
    s = mm.OneCycleLR(o, max_lr=1.0, total_steps=10, base_momentum=0.3, max_momentum=0.9)
    assert o.momentum == pytest.approx(0.9, rel=1e-15)   # t = 0: max_momentum (cos anneal, pct 0)
    s.step()
    s.step()
    assert o.lr == 1.0 and o.momentum == 0.3


def test_one_cycle_lr_step_budget_with_initial_epoch():
    s = mm.OneCycleLR(max_lr=0.1, total_steps=6, cycle_momentum=False)
    # a new schedule in fit(initial_epoch=4) steps to 4 first: 2 of its 6 steps are left
    with pytest.raises(ValueError, match="only 2 of its total_steps=6 are left; build it with total_steps=8"):
        _fit_tiny(0.1, 8, [s], initial_epoch=4)
    s = mm.OneCycleLR(max_lr=0.1, total_steps=6, cycle_momentum=False)
    _fit_tiny(0.1, 6, [s], initial_epoch=4)
    assert s.last_epoch == 6


def test_sequential_lr_milestones_are_checked():
    o = opt()
    with pytest.raises(ValueError, match="milestones"):
        mm.SequentialLR(o, [StepLR(o), StepLR(o)], milestones=[0])
    with pytest.raises(TypeError, match="milestones"):
        mm.SequentialLR(o, [StepLR(o), StepLR(o)], milestones=[1.5])
    with pytest.raises(ValueError, match="milestones must increase"):
        mm.SequentialLR(o, [StepLR(o), StepLR(o), StepLR(o)], milestones=[2, 2])


def test_sequential_lr_takes_its_optimizer_for_parts_built_without_one():
    o = opt(0.4)
    s = mm.SequentialLR(o, [mm.LinearLR(start_factor=0.5, total_iters=2), ExponentialLR(gamma=0.5)],
                        milestones=[2])
    np.testing.assert_allclose(lrs_by_hand(s, 3), [0.2, 0.3, 0.4, 0.2], rtol=1e-14)


def test_sequential_lr_records_every_epoch_and_owns_its_parts():
    o = opt(0.4)
    s = mm.SequentialLR(o, [mm.LinearLR(o, start_factor=0.5, total_iters=2),
                            ExponentialLR(o, gamma=0.5)], milestones=[2])
    for _ in range(5):
        s.step()
    np.testing.assert_allclose(s.lrs, [0.2, 0.3, 0.4, 0.2, 0.1, 0.05], rtol=1e-14)
    assert o.schedules() == [s]                   # the parts are saved inside it
    assert len(o.state_dict()["schedules"]["states"]) == 1


def test_sequential_lr_first_milestone_at_epoch_one():
    o = opt(1.0)
    s = mm.SequentialLR(o, [mm.LinearLR(o, start_factor=0.5, total_iters=2),
                            ExponentialLR(o, gamma=0.5)], milestones=[1])
    # epoch 0 belongs to the first schedule (LinearLR: 0.5); the exponential from epoch 1
    np.testing.assert_allclose(lrs_by_hand(s, 3), [0.5, 1.0, 0.5, 0.25], rtol=1e-14)


def test_sequential_lr_of_one_schedule():
    o = opt(1.0)
    s = mm.SequentialLR(o, [StepLR(o, step_size=2, gamma=0.5)], milestones=[])
    assert lrs_by_hand(s, 4) == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_sequential_lr_state_restores_every_part():
    def make(o):
        return mm.SequentialLR(o, [ExponentialLR(o, gamma=0.9), StepLR(o, step_size=2, gamma=0.5)],
                               milestones=[2])
    o1 = opt(1.0)
    s1 = make(o1)
    for _ in range(3):
        s1.step()                                 # epoch 3: the StepLR at its own epoch 1
    state = json.loads(json.dumps(s1.state_dict()))
    o2 = opt(1.0)
    s2 = make(o2)
    s2.load_state_dict(state)
    assert s2.state_dict() == state
    assert [p.last_epoch for p in s2.schedulers] == [1, 1]     # the exponential ran epochs 0, 1
    o2.lr = o1.lr
    got = [s2.step() for _ in range(4)]
    assert got == [0.5, 0.5, 0.25, 0.25]          # from 1.0 (its epoch 0 at the milestone): halves at 2, 4
    for damaged in (state["schedulers"][:1], None):
        with pytest.raises(ValueError, match="one state per schedule"):
            make(opt(1.0)).load_state_dict(dict(state, schedulers=damaged))


def test_sequential_lr_saved_during_its_first_schedule_resumes():
    """A SequentialLR saved before its last milestone holds last_epoch -1 for the schedules
    not reached yet (as torch's does); loading it resumes the same rates (a bug found by the
    mutation run: the load refused -1)."""
    def make(o):
        return mm.SequentialLR(o, [mm.LinearLR(o, start_factor=0.5, total_iters=4),
                                   ExponentialLR(o, gamma=0.5)], milestones=[4])
    o1 = opt(1.0)
    s1 = make(o1)
    s1.step()                                     # checkpoint during the warm-up
    o2 = opt(1.0)
    o2.load_state_dict(json.loads(json.dumps(o1.state_dict())))
    s2 = make(o2)                                 # takes the saved state when it attaches
    assert [s2.step() for _ in range(5)] == [s1.step() for _ in range(5)]


def test_reduce_on_plateau_state_before_it_is_attached():
    s = ReduceLROnPlateau(mode="max")
    assert (s.best, s.num_bad_epochs, s.cooldown_counter) == (-math.inf, 0, 0)
    assert s.state_dict()["best"] == -math.inf


def test_reduce_on_plateau_starts_afresh_on_fits_optimizer():
    s = ReduceLROnPlateau(opt(1.0), monitor="loss", patience=0, factor=0.5, cooldown=2)
    s.step(0.001)
    s.step(0.002)                                 # bad: 1.0 -> 0.5, cooldown 2
    o, hist = _fit_tiny(0.05, 1, [s])             # another optimizer: best, counters reset
    assert s.best == hist.history["loss"][0]
    assert (s.num_bad_epochs, s.cooldown_counter, s.last_epoch) == (0, 0, 1)
    assert o.lr == 0.05


def test_reduce_on_plateau_state_is_checked():
    o = opt(1.0)
    s = ReduceLROnPlateau(o, patience=3)
    s.step(2.0)
    s.step(3.0)
    good = json.loads(json.dumps(s.state_dict()))
    for key, value in [("best", True), ("best", "x"), ("best", None), ("best", math.nan),
                       ("num_bad_epochs", 1.5), ("num_bad_epochs", 1.0),
                       ("cooldown_counter", 2.5), ("cooldown_counter", 0.0)]:
        with pytest.raises(ValueError, match=f"'{key}'"):
            ReduceLROnPlateau(opt(1.0), patience=3).load_state_dict(dict(good, **{key: value}))
    s2 = ReduceLROnPlateau(opt(1.0), patience=3)
    s2.load_state_dict(dict(good, best=math.inf))
    assert s2.best == math.inf and s2.num_bad_epochs == 1
    s2.load_state_dict(dict(good, best=3))
    assert s2.best == 3.0 and type(s2.best) is float


def _warm_then_restarts(o):
    return mm.SequentialLR(o, [mm.LinearLR(o, start_factor=0.5, total_iters=2),
                               mm.CosineAnnealingWarmRestarts(o, T_0=2)], milestones=[2])


def test_sequential_lr_with_warm_restarts_saved_before_they_start_resumes():
    """The warm restarts not reached yet hold T_cur = -1 (torch's start); the state loads."""
    o1 = opt(1.0)
    s1 = _warm_then_restarts(o1)
    s1.step()
    o2 = opt(1.0)
    o2.load_state_dict(json.loads(json.dumps(o1.state_dict())))
    s2 = _warm_then_restarts(o2)
    assert o2.lr == o1.lr
    assert [s2.step() for _ in range(5)] == [s1.step() for _ in range(5)]


def test_warm_restarts_state_checks_T_i_and_T_cur():
    o = opt(1.0)
    s = mm.CosineAnnealingWarmRestarts(o, T_0=3)
    s.step()
    state = s.state_dict()
    fresh = lambda: mm.CosineAnnealingWarmRestarts(opt(1.0), T_0=3)
    with pytest.raises(ValueError, match="T_i"):
        fresh().load_state_dict(dict(state, T_i=0))
    restored = fresh()
    restored.load_state_dict(dict(state, T_cur=0))
    assert restored.T_cur == 0 and isinstance(restored.T_cur, int)

