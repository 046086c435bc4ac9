"""mm.batches: every row once per epoch, fresh arrays, reproducible shuffles, clear errors."""
import numpy as np
import pytest

import minimlp as mm


def data(N=10):
    X = np.arange(2.0 * N).reshape(N, 2)
    return X, X[:, :1] * 10          # Y's row n is 10 * X[n, 0]: pairs stay matched


def test_in_order_batches_are_the_rows_split_by_hand():
    X, Y = data(10)
    got = list(mm.batches(X, Y, batch_size=4, shuffle=False))
    assert [len(xb) for xb, _ in got] == [4, 4, 2]
    np.testing.assert_array_equal(got[0][0], X[0:4])
    np.testing.assert_array_equal(got[2][1], Y[8:10])
    assert len(mm.batches(X, Y, batch_size=4)) == 3
    assert len(mm.batches(X, Y, batch_size=4, drop_last=True)) == 2
    assert [len(xb) for xb, _ in mm.batches(X, Y, batch_size=4, drop_last=True)] == [4, 4]


def test_shuffled_epoch_covers_every_row_once_with_matching_targets():
    X, Y = data(37)
    rows = []
    for xb, yb in mm.batches(X, Y, batch_size=8, seed=0):
        np.testing.assert_array_equal(yb[:, 0], 10 * xb[:, 0])
        rows += list(xb[:, 0] / 2)
    assert sorted(rows) == list(range(37)) and rows != list(range(37))


def test_seed_reproduces_the_epochs_and_each_epoch_reshuffles():
    X, Y = data(20)
    first = lambda loader: [xb[:, 0].tolist() for xb, _ in loader]
    a, b = mm.batches(X, Y, 5, seed=3), mm.batches(X, Y, 5, seed=3)
    e1, e2 = first(a), first(a)
    assert e1 == first(b) and e2 == first(b)
    assert e1 != e2
    # the order is numpy's permutation from that seed, nothing else
    np.testing.assert_array_equal(np.concatenate(e1), 2 * np.random.default_rng(3).permutation(20))


def test_batches_are_fresh_arrays_not_views_or_buffers():
    X, Y = data(6)
    X0 = X.copy()
    kept = []
    for xb, yb in mm.batches(X, Y, batch_size=3, shuffle=False):
        assert not np.shares_memory(xb, X) and not np.shares_memory(yb, Y)
        xb[...] = -1.0
        kept.append(xb)
    np.testing.assert_array_equal(X, X0)
    assert not np.shares_memory(kept[0], kept[1])


def test_without_targets_yields_x_only():
    X, _ = data(5)
    got = list(mm.batches(X, batch_size=2, shuffle=False))
    assert [b.shape for b in got] == [(2, 2), (2, 2), (1, 2)]


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    (dict(batch_size=2.5), TypeError, "batch_size must be an integer"),
    (dict(shuffle="yes"), TypeError, "shuffle must be True or False"),
    (dict(seed="x"), TypeError, "batches: seed"),
])
def test_bad_arguments_name_themselves(kwargs, error, fragment):
    X, Y = data(4)
    with pytest.raises(error, match=fragment):
        mm.batches(X, Y, **kwargs)


def test_mismatched_rows_are_refused_up_front():
    with pytest.raises(ValueError, match="X has 4 rows but Y has 3"):
        mm.batches(np.zeros((4, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="no rows"):
        mm.batches(np.zeros((0, 2)))


def test_a_hand_written_loop_with_batches_learns_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    T = np.array([0, 1, 1, 0])
    net = mm.Sequential(mm.Dense(2, 8, rng=0), mm.Tanh(), mm.Dense(8, 2, rng=1))
    loss, opt = mm.CrossEntropyLoss(), mm.Adam(net.parameters(), lr=0.05)
    loader = mm.batches(X, T, batch_size=2, seed=0)
    for _ in range(300):
        for xb, tb in loader:
            loss.forward(net.forward(xb), tb)
            net.backward(loss.backward())
            opt.step()
    np.testing.assert_array_equal(net.predict(X).argmax(axis=1), T)
