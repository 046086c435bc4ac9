"""Toy data sets, seeded, and the helpers to split, encode and scale them.

Every generator takes ``n`` (the total number of samples), its shape parameters and ``seed``
(an int, a ``numpy.random.Generator`` or ``None`` for fresh entropy; never the global RNG),
and returns ``(X, Y)``:

* ``X``: float64, shape ``(n, D)`` (``D = 2`` for the 2-D sets, 1 for ``sine``);
* classification sets: ``Y`` integer class labels, int64, shape ``(n,)``, values in
  ``[0, classes)``: what ``CrossEntropyLoss`` takes (use ``one_hot`` for ``(n, C)`` rows, or
  ``Y.reshape(-1, 1).astype(float)`` for ``BCEWithLogitsLoss`` with one output);
* regression sets (``sine``, ``tutorial``, ``mazur``): ``Y`` float64, shape ``(n, D_out)``.

Rows come in random order (classes interleaved), so any slice is a fair sample. ``noise``
is the standard deviation of Gaussian noise added to each coordinate of ``X`` (or to ``Y``
for ``sine``). ``DATASETS`` maps names to the generators, for configs and the command line.
"""
from __future__ import annotations

import numbers
from typing import Callable, NamedTuple

import numpy as np

from ._checks import check_real, check_size
from .init import as_generator

Array = np.ndarray


def _shuffled(rng: np.random.Generator, X: Array, Y: Array) -> tuple[Array, Array]:
    order = rng.permutation(X.shape[0])
    return X[order], Y[order]


def _counts(n: int, k: int) -> Array:
    """``n`` split into ``k`` nearly equal parts (the first ``n % k`` get one more)."""
    return np.full(k, n // k) + (np.arange(k) < n % k)


def _noise(noise, name: str) -> float:
    return check_real(noise, "noise", name, low=0.0)


def xor(n: int = 200, noise: float = 0.1, seed=None) -> tuple[Array, Array]:
    """The XOR problem: points near the corners of the unit square, label ``x1 XOR x2``.

    Sample ``i`` sits at corner ``i % 4`` of ``(0,0), (0,1), (1,0), (1,1)`` (labels 0, 1, 1, 0)
    plus N(0, noise^2) per coordinate, so ``xor(4, noise=0)`` is the truth table (rows in
    that order: this set alone is not shuffled). Returns ``X (n, 2)``, ``Y (n,)``.
    """
    n = check_size(n, "n", "xor")
    noise = _noise(noise, "xor")
    rng = as_generator(seed)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    c = np.arange(n) % 4
    X = corners[c] + noise * rng.standard_normal((n, 2))
    Y = np.array([0, 1, 1, 0], dtype=np.int64)[c]
    return X, Y


def spirals(n: int = 300, classes: int = 3, noise: float = 0.05, turns: float = 0.75,
            seed=None) -> tuple[Array, Array]:
    """``classes`` interleaved spiral arms from the origin out to radius 1.

    Arm ``k`` at ``t`` evenly spaced in [0, 1]: radius ``r = t``, angle
    ``theta = 2 pi (k / classes + turns * t)``; ``x = r (cos theta, sin theta)`` plus
    N(0, noise^2) per coordinate. ``n`` is the total over all arms (split evenly).
    Returns ``X (n, 2)``, ``Y (n,)`` in ``[0, classes)``.
    """
    n = check_size(n, "n", "spirals")
    classes = check_size(classes, "classes", "spirals", minimum=2)
    if n < classes:
        raise ValueError(f"spirals: n must be >= classes ({classes}), got {n}")
    noise = _noise(noise, "spirals")
    turns = check_real(turns, "turns", "spirals", low=0.0, low_open=True)
    rng = as_generator(seed)
    Xs, Ys = [], []
    for k, m in enumerate(_counts(n, classes)):
        t = np.linspace(0.0, 1.0, m)
        theta = 2 * np.pi * (k / classes + turns * t)
        Xs.append(np.column_stack([t * np.cos(theta), t * np.sin(theta)]))
        Ys.append(np.full(m, k, dtype=np.int64))
    X = np.concatenate(Xs) + noise * rng.standard_normal((n, 2))
    return _shuffled(rng, X, np.concatenate(Ys))


def moons(n: int = 200, noise: float = 0.1, seed=None) -> tuple[Array, Array]:
    """Two interleaving half circles of radius 1.

    Class 0: ``(cos a, sin a)``; class 1: ``(1 - cos a, 0.5 - sin a)``, ``a`` evenly spaced
    in [0, pi]; plus N(0, noise^2) per coordinate. Returns ``X (n, 2)``, ``Y (n,)`` in {0, 1}.
    """
    n = check_size(n, "n", "moons", minimum=2)
    noise = _noise(noise, "moons")
    rng = as_generator(seed)
    n0, n1 = _counts(n, 2)
    a0, a1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.concatenate([np.column_stack([np.cos(a0), np.sin(a0)]),
                        np.column_stack([1 - np.cos(a1), 0.5 - np.sin(a1)])])
    X += noise * rng.standard_normal((n, 2))
    Y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _shuffled(rng, X, Y)


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed=None) -> tuple[Array, Array]:
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor`` (0 < factor < 1).

    Angles evenly spaced in [0, 2 pi); plus N(0, noise^2) per coordinate.
    Returns ``X (n, 2)``, ``Y (n,)`` in {0, 1}.
    """
    n = check_size(n, "n", "circles", minimum=2)
    noise = _noise(noise, "circles")
    factor = check_real(factor, "factor", "circles", low=0.0, high=1.0, low_open=True, high_open=True)
    rng = as_generator(seed)
    n0, n1 = _counts(n, 2)
    a0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    a1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate([np.column_stack([np.cos(a0), np.sin(a0)]),
                        factor * np.column_stack([np.cos(a1), np.sin(a1)])])
    X += noise * rng.standard_normal((n, 2))
    Y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _shuffled(rng, X, Y)


def blobs(n: int = 300, centers=3, std: float = 1.0, dim: int = 2, seed=None) -> tuple[Array, Array]:
    """Gaussian blobs: class ``k`` is N(center_k, std^2 I).

    ``centers`` is a count (centers drawn uniformly from [-10, 10]^dim) or an array
    ``(K, dim)`` of centers. ``n`` is split evenly over the K blobs.
    Returns ``X (n, dim)``, ``Y (n,)`` in ``[0, K)``.
    """
    n = check_size(n, "n", "blobs")
    std = check_real(std, "std", "blobs", low=0.0)
    rng = as_generator(seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        K = check_size(centers, "centers", "blobs")
        dim = check_size(dim, "dim", "blobs")
        C = rng.uniform(-10.0, 10.0, size=(K, dim))
    else:
        C = np.asarray(centers, dtype=np.float64)
        if C.ndim != 2 or C.shape[0] < 1 or not np.isfinite(C).all():
            raise ValueError(f"blobs: centers must be a count or a finite (K, dim) array, got shape {C.shape}")
        K, dim = C.shape
    if n < K:
        raise ValueError(f"blobs: n must be >= the number of centers ({K}), got {n}")
    Y = np.repeat(np.arange(K, dtype=np.int64), _counts(n, K))
    X = C[Y] + std * rng.standard_normal((n, dim))
    return _shuffled(rng, X, Y)


def sine(n: int = 200, noise: float = 0.1, seed=None) -> tuple[Array, Array]:
    """Regression: ``y = sin(x) + N(0, noise^2)`` with ``x`` uniform in [-pi, pi].

    Returns ``X (n, 1)``, ``Y (n, 1)`` (float64), as ``MSELoss`` takes them.
    """
    n = check_size(n, "n", "sine")
    noise = _noise(noise, "sine")
    rng = as_generator(seed)
    X = rng.uniform(-np.pi, np.pi, size=(n, 1))
    Y = np.sin(X) + noise * rng.standard_normal((n, 1))
    return X, Y


def checkerboard(n: int = 400, tiles: int = 4, noise: float = 0.0, seed=None) -> tuple[Array, Array]:
    """Points uniform in [0, 1)^2, labelled by the colour of their tile on a ``tiles x tiles``
    board: ``(floor(tiles x1) + floor(tiles x2)) mod 2``; noise (if any) is added after
    labelling. Returns ``X (n, 2)``, ``Y (n,)`` in {0, 1}.
    """
    n = check_size(n, "n", "checkerboard")
    tiles = check_size(tiles, "tiles", "checkerboard")
    noise = _noise(noise, "checkerboard")
    rng = as_generator(seed)
    X = rng.uniform(0.0, 1.0, size=(n, 2))
    cells = np.floor(X * tiles).astype(np.int64)
    Y = (cells.sum(axis=1) % 2).astype(np.int64)
    if noise:
        X = X + noise * rng.standard_normal((n, 2))
    return X, Y


def _tutorial_sample(name: str) -> tuple[Array, Array]:
    from .tutorial import NETWORKS
    s = NETWORKS[name]
    return np.array([s.x], dtype=np.float64), np.array([s.target], dtype=np.float64)


def tutorial() -> tuple[Array, Array]:
    """The tutorial notebook's single sample: ``X = [[0.15, 0.85]]``, ``Y = [[0.95, 0.25]]``
    (shapes ``(1, 2)`` each; see ``minimlp.tutorial`` for its network)."""
    return _tutorial_sample("notebook")


def mazur() -> tuple[Array, Array]:
    """Matt Mazur's backpropagation example: ``X = [[0.05, 0.10]]``, ``Y = [[0.01, 0.99]]``
    (shapes ``(1, 2)`` each)."""
    return _tutorial_sample("mazur")


def load_digits(scale: bool = True) -> tuple[Array, Array]:
    """scikit-learn's bundled handwritten digits: 1797 images of 8x8 pixels, 10 classes.

    Returns ``X (1797, 64)`` float64 (pixel values 0..16, divided by 16 when ``scale``) and
    ``Y (1797,)`` int64 labels 0..9. Needs the optional extra: ``pip install "minimlp[digits]"``.
    """
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError:
        raise ImportError('load_digits needs scikit-learn: pip install "minimlp[digits]"') from None
    d = _load()
    X = np.asarray(d.data, dtype=np.float64)
    return (X / 16.0 if scale else X), np.asarray(d.target, dtype=np.int64)


# -- helpers ------------------------------------------------------------------------------

def train_test_split(X, Y, test_size: float | int = 0.25, seed=None) -> tuple[Array, Array, Array, Array]:
    """Random split of the rows into ``(X_train, X_test, Y_train, Y_test)``.

    ``test_size``: a fraction in (0, 1) (``round(N * test_size)`` rows) or a row count.
    Both parts keep the original row order. Shapes: ``X (N, ...)``, ``Y (N, ...)``.
    """
    X, Y = np.asarray(X), np.asarray(Y)
    if X.ndim == 0 or Y.ndim == 0 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"train_test_split: X and Y need the same number of rows, got shapes "
                         f"{X.shape} and {Y.shape}")
    N = X.shape[0]
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        frac = check_real(test_size, "test_size", "train_test_split", low=0.0, high=1.0,
                          low_open=True, high_open=True)
        n_test = int(round(N * frac))
    if not 1 <= n_test <= N - 1:
        raise ValueError(f"train_test_split: test_size={test_size!r} of {N} rows gives {n_test} "
                         "test rows; need between 1 and N - 1")
    perm = as_generator(seed).permutation(N)
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return X[train], X[test], Y[train], Y[test]


def one_hot(labels, classes: int | None = None) -> Array:
    """Integer labels ``(N,)`` -> float64 one-hot rows ``(N, classes)``: ``T[n, labels[n]] = 1``.

    ``classes`` defaults to ``max(labels) + 1``.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"one_hot: labels must be a 1-D integer array, got shape {y.shape}, dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError(f"one_hot: labels must be >= 0, got {y.min()}")
    top = int(y.max()) + 1 if y.size else 0
    if classes is None:
        classes = max(top, 1)
    classes = check_size(classes, "classes", "one_hot")
    if top > classes:
        raise ValueError(f"one_hot: label {top - 1} does not fit {classes} classes")
    T = np.zeros((y.shape[0], classes))
    T[np.arange(y.shape[0]), y] = 1.0
    return T


class Standardized(NamedTuple):
    """What ``standardize`` returns; unpacks as ``X_train, X_test, mean, std``."""
    train: Array
    test: Array | None
    mean: Array
    std: Array


def standardize(X_train, X_test=None) -> Standardized:
    """Scale each column to mean 0, standard deviation 1, with statistics of the training set.

    ``mean = X_train.mean(0)``, ``std = X_train.std(0)`` (1 where a column is constant), then
    ``(X - mean) / std`` for ``X_train`` and, with the same mean and std, ``X_test``.
    Shapes: ``(N, D)`` in and out; ``mean``, ``std`` ``(D,)``.
    """
    Xtr = np.asarray(X_train, dtype=np.float64)
    if Xtr.ndim != 2 or Xtr.shape[0] == 0:
        raise ValueError(f"standardize: X_train must be a non-empty 2-D array (N, D), got shape {Xtr.shape}")
    mean = Xtr.mean(axis=0)
    std = Xtr.std(axis=0)
    std[std == 0] = 1.0
    test = None
    if X_test is not None:
        Xte = np.asarray(X_test, dtype=np.float64)
        if Xte.ndim != 2 or Xte.shape[1] != Xtr.shape[1]:
            raise ValueError(f"standardize: X_test must have shape (M, {Xtr.shape[1]}), got {Xte.shape}")
        test = (Xte - mean) / std
    return Standardized((Xtr - mean) / std, test, mean, std)


#: Generators by name (each called with keyword arguments), for configs and the command line.
DATASETS: dict[str, Callable[..., tuple[Array, Array]]] = {
    "xor": xor, "spirals": spirals, "moons": moons, "circles": circles, "blobs": blobs,
    "sine": sine, "checkerboard": checkerboard, "tutorial": tutorial, "mazur": mazur,
    "digits": load_digits,
}

#: Which of ``DATASETS`` are classification sets (integer labels) and which regression.
CLASSIFICATION = frozenset({"xor", "spirals", "moons", "circles", "blobs", "checkerboard", "digits"})
REGRESSION = frozenset({"sine", "tutorial", "mazur"})


_MNIST1D_CACHE: dict = {}


def mnist1d(split: str = "train", num_samples: int = 5000, dataset_seed: int = 42) -> tuple[Array, Array]:
    """MNIST-1D (Greydanus 2020, "Scaling Down Deep Learning"): 10 classes of 1-D signals.

    Generated locally by the ``mnist1d`` package from its ten templates (padded, scaled,
    translated, sheared, with correlated and white noise), no download. The defaults are
    the paper's data set: 5000 signals of 40 points, the first 80% for training.
    ``split``: ``"train"`` -> ``X (4000, 40)``, ``"test"`` -> ``(1000, 40)``, ``"all"`` ->
    ``(5000, 40)`` float64, with ``Y`` int64 labels 0..9. Needs the optional extra
    ``pip install "minimlp[mnist1d]"``. Generated once per process and ``dataset_seed``
    (the arrays returned are fresh copies). The package seeds numpy's and Python's global random
    generators; their states are saved and restored around it, so the caller's are untouched.
    """
    import random
    if split not in ("train", "test", "all"):
        raise ValueError(f"mnist1d: split must be 'train', 'test' or 'all', got {split!r}")
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise ImportError('mnist1d needs the mnist1d package: pip install "minimlp[mnist1d]"') from None
    key = (int(num_samples), int(dataset_seed))
    d = _MNIST1D_CACHE.get(key)
    if d is None:   # generating takes seconds: once per process
        args = get_dataset_args()
        args.num_samples, args.seed = key
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            d = _MNIST1D_CACHE[key] = make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
    parts = {"train": [("x", "y")], "test": [("x_test", "y_test")], "all": [("x", "y"), ("x_test", "y_test")]}[split]
    X = np.concatenate([np.asarray(d[x], dtype=np.float64) for x, _ in parts])
    Y = np.concatenate([np.asarray(d[y], dtype=np.int64) for _, y in parts])
    return X, Y


DATASETS["mnist1d"] = mnist1d
CLASSIFICATION = CLASSIFICATION | {"mnist1d"}
