"""Dropout: the identity in prediction, scaled masks in training, seeded and fresh per call."""

import numpy as np

import minimlp as mm

RNG = np.random.default_rng(42)
X = RNG.standard_normal((6, 4)) * 2.0


# -- Dropout ------------------------------------------------------------------------------
def test_dropout_is_identity_in_prediction_and_scales_in_training():
    x = np.ones((400, 50))
    d = mm.Dropout(0.25, rng=0)
    np.testing.assert_array_equal(d.forward(x, train=False), x)
    Y = d.forward(x)
    kept = Y != 0
    np.testing.assert_allclose(Y[kept], 1.0 / 0.75)           # inverted: survivors scaled
    assert abs(kept.mean() - 0.75) < 0.01                     # 20000 draws: sd 0.003
    dY = RNG.standard_normal(x.shape)
    np.testing.assert_allclose(d.backward(dY), dY * kept / 0.75)   # same mask backward


def test_dropout_reproducible_from_seed_and_fresh_per_call():
    x = np.ones((8, 10))
    a, b = mm.Dropout(0.5, rng=3), mm.Dropout(0.5, rng=3)
    m1, m2 = a.forward(x).copy(), a.forward(x).copy()
    np.testing.assert_array_equal(m1, b.forward(x))
    np.testing.assert_array_equal(m2, b.forward(x))
    assert not np.array_equal(m1, m2)


def test_dropout_frozen_mask_and_edges():
    x = np.ones((5, 6))
    d = mm.Dropout(0.5, rng=1)
    d.freeze_mask = True
    np.testing.assert_array_equal(d.forward(x).copy(), d.forward(x))
    np.testing.assert_array_equal(mm.Dropout(0.0, rng=0).forward(x), x)
    np.testing.assert_array_equal(mm.Dropout(1.0, rng=0).forward(x), 0 * x)


def test_dropout_in_a_network_train_vs_predict():
    net = mm.Sequential(mm.Dense(4, 8, rng=0), mm.ReLU(), mm.Dropout(0.5, rng=0), mm.Dense(8, 2, rng=1))
    P1, P2 = net.predict(X), net.predict(X)
    np.testing.assert_array_equal(P1, P2)
    assert not np.allclose(net.forward(X), P1)
