"""Learning-rate schedules: the lr after each step against formulas written out here, by hand
and as callbacks of fit (ReduceLROnPlateau driven by fit's validation loss)."""
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
