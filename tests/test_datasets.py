"""Toy data sets: shapes, dtypes, seeding, the geometry each docstring promises, and helpers."""
import sys

import numpy as np
import pytest

from minimlp import datasets as ds

CLASSIFIERS = {  # name -> (call, number of classes, X width)
    "xor": (lambda seed: ds.xor(50, seed=seed), 2, 2),
    "spirals": (lambda seed: ds.spirals(61, classes=4, seed=seed), 4, 2),
    "moons": (lambda seed: ds.moons(51, seed=seed), 2, 2),
    "circles": (lambda seed: ds.circles(51, seed=seed), 2, 2),
    "blobs": (lambda seed: ds.blobs(62, centers=5, dim=3, seed=seed), 5, 3),
    "checkerboard": (lambda seed: ds.checkerboard(80, tiles=3, seed=seed), 2, 2),
}


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classification_sets_shapes_dtypes_and_labels(name):
    make, classes, width = CLASSIFIERS[name]
    X, Y = make(0)
    n = X.shape[0]
    assert X.shape == (n, width) and X.dtype == np.float64
    assert Y.shape == (n,) and Y.dtype == np.int64
    assert set(np.unique(Y)) == set(range(classes))
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_same_seed_same_data_other_seed_other_data(name):
    make = CLASSIFIERS[name][0]
    X1, Y1 = make(3)
    X2, Y2 = make(3)
    X3, _ = make(4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(Y1, Y2)
    assert not np.array_equal(X1, X3)


def test_generators_accept_a_generator_and_do_not_touch_the_global_rng():
    state = np.random.get_state()[1].copy()
    X1, _ = ds.moons(20, seed=np.random.default_rng(7))
    X2, _ = ds.moons(20, seed=7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("n,classes,expected", [(10, 3, [4, 3, 3]), (9, 3, [3, 3, 3]), (7, 2, [4, 3])])
def test_classes_are_balanced(n, classes, expected):
    _, Y = ds.spirals(n, classes=classes, seed=0)
    assert np.bincount(Y).tolist() == expected


def test_xor_without_noise_is_the_truth_table():
    X, Y = ds.xor(8, noise=0.0, seed=0)
    np.testing.assert_array_equal(X[:4], [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(Y, [0, 1, 1, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(X[4:], X[:4])


def test_spirals_without_noise_follow_the_formula():
    K, turns = 3, 0.75
    X, Y = ds.spirals(90, classes=K, noise=0.0, turns=turns, seed=1)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() == 0.0 and np.isclose(r.max(), 1.0)
    keep = r > 1e-9
    angle = np.arctan2(X[keep, 1], X[keep, 0])
    expected = 2 * np.pi * (Y[keep] / K + turns * r[keep])
    diff = np.angle(np.exp(1j * (angle - expected)))  # difference wrapped to (-pi, pi]
    np.testing.assert_allclose(diff, 0, atol=1e-9)


def test_moons_without_noise_lie_on_their_half_circles():
    X, Y = ds.moons(40, noise=0.0, seed=0)
    upper, lower = X[Y == 0], X[Y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    assert (upper[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_circles_without_noise_have_radius_one_and_factor():
    X, Y = ds.circles(30, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[Y == 0], 1.0)
    np.testing.assert_allclose(r[Y == 1], 0.3)


def test_blobs_with_given_centers_and_zero_std_sit_on_the_centers():
    C = np.array([[0.0, 1.0], [5.0, -2.0]])
    X, Y = ds.blobs(9, centers=C, std=0.0, seed=0)
    np.testing.assert_array_equal(X, C[Y])
    assert np.bincount(Y).tolist() == [5, 4]


def test_sine_without_noise_is_sin_on_minus_pi_to_pi():
    X, Y = ds.sine(50, noise=0.0, seed=0)
    assert X.shape == Y.shape == (50, 1) and Y.dtype == np.float64
    assert X.min() >= -np.pi and X.max() <= np.pi
    np.testing.assert_array_equal(Y, np.sin(X))


def test_checkerboard_labels_are_the_tile_colours():
    X, Y = ds.checkerboard(200, tiles=4, seed=0)
    assert X.min() >= 0 and X.max() < 1
    for (x1, x2), y in zip(X, Y):
        assert y == (int(x1 * 4) + int(x2 * 4)) % 2


def test_tutorial_and_mazur_samples():
    X, Y = ds.tutorial()
    np.testing.assert_array_equal(X, [[0.15, 0.85]])
    np.testing.assert_array_equal(Y, [[0.95, 0.25]])
    X, Y = ds.mazur()
    np.testing.assert_array_equal(X, [[0.05, 0.10]])
    np.testing.assert_array_equal(Y, [[0.01, 0.99]])


@pytest.mark.parametrize("call,err", [
    (lambda: ds.moons(0), ValueError), (lambda: ds.spirals(2, classes=3), ValueError),
    (lambda: ds.spirals(10, classes=1), ValueError), (lambda: ds.xor(10, noise=-1), ValueError),
    (lambda: ds.circles(10, factor=1.5), ValueError), (lambda: ds.sine(2.5), TypeError),
    (lambda: ds.blobs(2, centers=3), ValueError), (lambda: ds.checkerboard(10, tiles=0), ValueError),
    (lambda: ds.moons(10, seed="x"), TypeError),
])
def test_bad_arguments_raise(call, err):
    with pytest.raises(err):
        call()


def test_datasets_registry_names_every_generator():
    assert set(ds.DATASETS) == {"xor", "spirals", "moons", "circles", "blobs", "sine",
                                "checkerboard", "tutorial", "mazur", "digits", "mnist1d"}
    assert ds.CLASSIFICATION | ds.REGRESSION == set(ds.DATASETS)


# -- helpers ------------------------------------------------------------------------------

def test_train_test_split_partitions_the_rows():
    X = np.arange(20.0).reshape(10, 2)
    Y = np.arange(10)
    Xtr, Xte, Ytr, Yte = ds.train_test_split(X, Y, test_size=0.3, seed=0)
    assert Xte.shape == (3, 2) and Xtr.shape == (7, 2)
    assert sorted(Ytr.tolist() + Yte.tolist()) == list(range(10))
    np.testing.assert_array_equal(Xtr[:, 0], 2 * Ytr)          # rows stay paired
    np.testing.assert_array_equal(Xte[:, 0], 2 * Yte)
    assert (np.diff(Ytr) > 0).all()                            # original order kept
    again = ds.train_test_split(X, Y, test_size=3, seed=0)
    np.testing.assert_array_equal(again[3], Yte)


@pytest.mark.parametrize("test_size", [0.0, 1.0, 0, 10, -0.2, 0.01])
def test_train_test_split_refuses_empty_parts(test_size):
    with pytest.raises(ValueError, match="test_size"):
        ds.train_test_split(np.zeros((10, 2)), np.zeros(10), test_size=test_size)


def test_train_test_split_refuses_different_row_counts():
    with pytest.raises(ValueError, match="same number of rows"):
        ds.train_test_split(np.zeros((10, 2)), np.zeros(9))


def test_one_hot():
    T = ds.one_hot(np.array([2, 0, 1, 2]))
    np.testing.assert_array_equal(T, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert T.dtype == np.float64
    assert ds.one_hot(np.array([1]), classes=4).tolist() == [[0, 1, 0, 0]]
    with pytest.raises(ValueError, match="does not fit"):
        ds.one_hot(np.array([3]), classes=3)
    with pytest.raises(ValueError, match="integer"):
        ds.one_hot(np.array([0.5]))
    with pytest.raises(ValueError, match=">= 0"):
        ds.one_hot(np.array([-1, 0]))


def test_standardize_fits_on_train_and_applies_to_test():
    Xtr = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]])
    Xte = np.array([[3.0, 6.0, 5.0]])
    out = ds.standardize(Xtr, Xte)
    mean = np.array([3.0, 5.0, 5.0])
    std = np.array([np.sqrt(8 / 3), 1.0, np.sqrt(26 / 3)])      # by hand; constant column -> 1
    np.testing.assert_allclose(out.mean, mean)
    np.testing.assert_allclose(out.std, std)
    np.testing.assert_allclose(out.train, (Xtr - mean) / std)
    np.testing.assert_allclose(out.test, [[0.0, 1.0, 0.0]])
    Xs, Xt, m, s = out                                           # unpacks as four
    assert Xt is out.test
    assert ds.standardize(Xtr).test is None
    with pytest.raises(ValueError, match="X_test"):
        ds.standardize(Xtr, np.zeros((2, 2)))


def test_load_digits_through_scikit_learn():
    pytest.importorskip("sklearn")
    X, Y = ds.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert Y.shape == (1797,) and Y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(Y)) == set(range(10))
    assert ds.load_digits(scale=False)[0].max() == 16.0


def test_load_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)   # makes the import fail
    with pytest.raises(ImportError, match=r'pip install "minimlp\[digits\]"'):
        ds.load_digits()
