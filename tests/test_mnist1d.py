"""mm.datasets.mnist1d and the paper's MLP recipe (examples/mnist1d_mlp.py), reduced."""
import random
import runpy
from pathlib import Path

import numpy as np
import pytest

import minimlp as mm

pytest.importorskip("mnist1d", reason='MNIST-1D needs the mnist1d extra: pip install "minimlp[mnist1d]"')

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "mnist1d_mlp.py"


def test_mnist1d_is_the_packages_data_set_and_leaves_the_global_rngs_alone():
    np.random.seed(123)
    random.seed(7)
    np_before, py_before = np.random.get_state(), random.getstate()
    X, Y = mm.datasets.mnist1d()
    Xt, Yt = mm.datasets.mnist1d("test")
    np_after, py_after = np.random.get_state(), random.getstate()
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1]) \
        and np_before[2:] == np_after[2:]
    assert py_before == py_after
    assert X.shape == (4000, 40) and Xt.shape == (1000, 40) and X.dtype == np.float64
    assert Y.dtype == np.int64 and set(np.unique(Y)) == set(range(10))
    # the same arrays as the package's own generator with the paper's arguments
    from mnist1d.data import get_dataset_args, make_dataset
    d = make_dataset(get_dataset_args())
    np.testing.assert_array_equal(X, d["x"])
    np.testing.assert_array_equal(Yt, d["y_test"])
    Xa, _ = mm.datasets.mnist1d("all")
    assert Xa.shape == (5000, 40)
    X[0, 0] = 1e9                       # a fresh copy each call, not the cached arrays
    assert mm.datasets.mnist1d()[0][0, 0] != 1e9
    with pytest.raises(ValueError, match="split must be"):
        mm.datasets.mnist1d("validation")


def test_mnist1d_by_name_in_a_config():
    from minimlp.config import check_config, load_data
    X, Y = load_data(check_config({"data": {"name": "mnist1d", "split": "test"}})["data"], 0)
    assert X.shape == (1000, 40)


def test_the_papers_mlp_recipe_reduced():
    # The full recipe (8000 steps, 5 seeds) is examples/mnist1d_mlp.py; this runs 400 steps
    # of it (10 epochs of 40 batches; 62.8% test accuracy here) and checks that it learns
    # well past chance (10%) and the paper's logistic regression (32%).
    example = runpy.run_path(str(EXAMPLE), run_name="example_under_test")
    net = example["build"](0)
    assert [type(l).__name__ for l in net] == ["Dense", "ReLU", "Dense", "ReLU", "Dense"]
    assert (net[0].in_features, net[2].in_features, net[4].out_features) == (40, 256, 10)
    r = example["train_one"](0, steps=400)
    assert r["test_accuracy"] > 0.5, r
