"""Every default hyperparameter that mirrors PyTorch, pinned once, without torch.

The expected values are PyTorch's documented defaults (torch 2.x signatures of
``torch.optim.*``, ``torch.nn.*`` and ``torch.optim.lr_scheduler.*``), written here by hand;
nothing is read from minimlp to build them. Every numeric test elsewhere passes these
arguments explicitly, and the torch-parity tests that use the defaults are skipped without
torch, so this file is what keeps ``RMSprop(params)`` from silently running another algorithm.
Where PyTorch has no default (``ExponentialLR``'s gamma, ``StepLR``'s step_size,
``CosineAnnealingLR``'s T_max), minimlp's own documented value is pinned and marked so.
"""
import math

import numpy as np
import pytest

import minimlp as mm


def _params():
    return [mm.Parameter(np.array([1.0, -2.0, 0.5]), "w")]


TORCH = "torch"          # the value is PyTorch's documented default
OWN = "minimlp"          # PyTorch has no default; minimlp's docstring states this one

# (what, factory, {attribute: expected}, source)
DEFAULTS = [
    ("SGD", lambda: mm.SGD(_params()), {"momentum": 0.0, "nesterov": False, "weight_decay": 0.0}, TORCH),
    ("SGD.lr", lambda: mm.SGD(_params()), {"lr": 1e-3}, TORCH),   # torch >= 2.2
    ("Adam", lambda: mm.Adam(_params()),
     {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}, TORCH),
    ("AdamW", lambda: mm.AdamW(_params()),
     {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}, TORCH),
    ("RMSprop", lambda: mm.RMSprop(_params()),
     {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False}, TORCH),
    ("Adagrad", lambda: mm.Adagrad(_params()),
     {"lr": 1e-2, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10}, TORCH),
    ("optimizers clip nothing", lambda: mm.Adam(_params()), {"clip_norm": None}, OWN),
    ("LeakyReLU", mm.LeakyReLU, {"negative_slope": 0.01}, TORCH),
    ("ELU", mm.ELU, {"alpha": 1.0}, TORCH),
    ("GELU", mm.GELU, {"approximate": "none"}, TORCH),
    ("Softplus", mm.Softplus, {"beta": 1.0, "threshold": 20.0}, TORCH),
    ("Dropout", mm.Dropout, {"p": 0.5}, TORCH),
    ("BatchNorm1d", lambda: mm.BatchNorm1d(3), {"eps": 1e-5, "momentum": 0.1, "affine": True}, TORCH),
    ("LayerNorm", lambda: mm.LayerNorm(3), {"eps": 1e-5, "elementwise_affine": True}, TORCH),
    ("Dense", lambda: mm.Dense(2, 3, rng=0), {"init": "glorot_uniform"}, OWN),
    ("HuberLoss", mm.HuberLoss, {"delta": 1.0, "reduction": "mean"}, TORCH),
    ("MSELoss", mm.MSELoss, {"reduction": "mean"}, TORCH),
    ("L1Loss", mm.L1Loss, {"reduction": "mean"}, TORCH),
    ("CrossEntropyLoss", mm.CrossEntropyLoss, {"reduction": "mean"}, TORCH),
    ("BCELoss", mm.BCELoss, {"reduction": "mean"}, TORCH),
    ("BCEWithLogitsLoss", mm.BCEWithLogitsLoss, {"reduction": "mean"}, TORCH),
    ("StepLR", lambda: mm.StepLR(mm.SGD(_params(), lr=0.1)), {"gamma": 0.1}, TORCH),
    ("StepLR.step_size", lambda: mm.StepLR(mm.SGD(_params(), lr=0.1)), {"step_size": 10}, OWN),
    ("ExponentialLR", lambda: mm.ExponentialLR(mm.SGD(_params(), lr=0.1)), {"gamma": 0.9}, OWN),
    ("CosineAnnealingLR", lambda: mm.CosineAnnealingLR(mm.SGD(_params(), lr=0.1)),
     {"eta_min": 0.0, "warmup_epochs": 0, "warmup_start_factor": 1.0 / 3.0}, TORCH),   # LinearLR's start_factor
    ("CosineAnnealingLR.T_max", lambda: mm.CosineAnnealingLR(mm.SGD(_params(), lr=0.1)), {"T_max": 10}, OWN),
    ("ReduceLROnPlateau", lambda: mm.ReduceLROnPlateau(mm.SGD(_params(), lr=0.1)),
     {"mode": "min", "factor": 0.1, "patience": 10, "threshold": 1e-4, "threshold_mode": "rel",
      "cooldown": 0, "min_lr": 0.0, "eps": 1e-8}, TORCH),
]


@pytest.mark.parametrize("what, make, expected, source", DEFAULTS,
                         ids=[d[0] if isinstance(d, tuple) else d.id for d in DEFAULTS])
def test_documented_default(what, make, expected, source):
    obj = make()
    got = {k: getattr(obj, k) for k in expected}
    assert got == expected, f"{what}: defaults {got}, expected ({source}) {expected}"


def test_exponential_and_cosine_defaults_through_the_learning_rates():
    opt = mm.SGD(_params(), lr=0.5)
    sched = mm.ExponentialLR(opt)
    assert sched.step() == pytest.approx(0.5 * 0.9, rel=1e-15)
    # the default warm-up factor 1/3: lr(0) = base_lr / 3, lr(1) = base_lr * (1/3 + 2/3 * 1/2)
    cos = mm.CosineAnnealingLR(mm.SGD(_params(), lr=0.6), T_max=5, warmup_epochs=2)
    assert cos.lrs[0] == pytest.approx(0.2, rel=1e-15)
    assert cos.step() == pytest.approx(0.6 * (1 / 3 + (2 / 3) / 2), rel=1e-15)
    # StepLR's default gamma 0.1 after its default step_size of 10 epochs
    step = mm.StepLR(mm.SGD(_params(), lr=1.0))
    lrs = [step.step() for _ in range(10)]
    assert lrs[:9] == [1.0] * 9 and lrs[9] == pytest.approx(0.1, rel=1e-15)


# -- one default step per optimizer, against the update rule written out -------------------
G1 = np.array([0.3, -1.2, 2.0])
G2 = np.array([-0.5, 0.4, 1.0])
THETA = np.array([1.0, -2.0, 0.5])


def _run(opt):
    (p,) = opt.params
    out = []
    for g in (G1, G2):
        p.grad[...] = g
        opt.step()
        out.append(p.value.copy())
    return out


def _adam_expected(lr, wd_decoupled):
    b1, b2, eps = 0.9, 0.999, 1e-8
    theta, m, v = THETA.copy(), np.zeros(3), np.zeros(3)
    out = []
    for t, g in enumerate((G1, G2), 1):
        if wd_decoupled:
            theta = theta * (1.0 - lr * wd_decoupled)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def test_sgd_default_momentum_nesterov_and_decay_give_the_plain_step():
    got = _run(mm.SGD(_params(), lr=0.1))
    np.testing.assert_allclose(got[0], THETA - 0.1 * G1, rtol=1e-15)
    np.testing.assert_allclose(got[1], THETA - 0.1 * G1 - 0.1 * G2, rtol=1e-15)


def test_adam_default_step():
    for want, have in zip(_adam_expected(1e-3, 0.0), _run(mm.Adam(_params()))):
        np.testing.assert_allclose(have, want, rtol=1e-13)


def test_adamw_default_step_decays_by_lr_times_0_01():
    for want, have in zip(_adam_expected(1e-3, 1e-2), _run(mm.AdamW(_params()))):
        np.testing.assert_allclose(have, want, rtol=1e-13)


def test_rmsprop_default_step_is_the_plain_non_centered_rule():
    lr, alpha, eps = 1e-2, 0.99, 1e-8
    v = (1 - alpha) * G1 ** 2
    first = THETA - lr * G1 / (np.sqrt(v) + eps)
    v = alpha * v + (1 - alpha) * G2 ** 2
    second = first - lr * G2 / (np.sqrt(v) + eps)
    got = _run(mm.RMSprop(_params()))
    np.testing.assert_allclose(got[0], first, rtol=1e-13)
    np.testing.assert_allclose(got[1], second, rtol=1e-13)


def test_adagrad_default_step():
    lr, eps = 1e-2, 1e-10
    s = G1 ** 2
    first = THETA - lr * G1 / (np.sqrt(s) + eps)
    s = s + G2 ** 2
    second = first - lr * G2 / (np.sqrt(s) + eps)
    got = _run(mm.Adagrad(_params()))
    np.testing.assert_allclose(got[0], first, rtol=1e-13)
    np.testing.assert_allclose(got[1], second, rtol=1e-13)


def test_leaky_relu_and_dropout_defaults_through_values():
    np.testing.assert_array_equal(mm.LeakyReLU().forward(np.array([[-1.0, 2.0]])), [[-0.01, 2.0]])
    # Dropout(p=0.5): the kept entries are scaled by 1 / (1 - 0.5) = 2, about half are kept
    Y = mm.Dropout(rng=0).forward(np.ones((200, 50)))
    assert set(np.unique(Y)) == {0.0, 2.0}
    assert abs(float((Y == 0).mean()) - 0.5) < 0.02
    assert math.isclose(mm.Softplus().forward(np.array([[0.0]]))[0, 0], math.log(2.0), rel_tol=1e-15)
