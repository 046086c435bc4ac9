"""Input kinds at the model's boundary (reliability review M1, M6, L4): unknown dtype
strings, ndarray subclasses (masked arrays, np.matrix) and finite values beyond float32's
range are refused with a message naming the argument, or converted, never passed on."""
import warnings

import numpy as np
import pytest

import minimlp as mm
from minimlp._checks import as_float_array, check_dtype


def net(dtype=np.float64, out=2):
    return mm.Sequential(mm.Dense(3, 4, rng=0, dtype=dtype), mm.ReLU(),
                         mm.Dense(4, out, rng=1, dtype=dtype))


# -- M1: unknown dtype strings ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["bogus", "nope", "float16", np.float16, "int32", 3, "complex128"])
def test_dense_refuses_an_unknown_dtype_naming_it(dtype):
    with pytest.raises(ValueError, match=r"Dense\(2, 3\): dtype must be float32 or float64, got"):
        mm.Dense(2, 3, dtype=dtype)


def test_batchnorm_refuses_an_unknown_dtype():
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got 'nope'"):
        mm.BatchNorm1d(3, dtype="nope")


@pytest.mark.parametrize("dtype, expected", [("float32", np.float32), ("f4", np.float32),
                                             (np.float64, np.float64), ("float64", np.float64),
                                             (None, np.float64)])
def test_check_dtype_accepts_the_two_float_types(dtype, expected):
    assert check_dtype(dtype) == np.dtype(expected)


def test_config_dtype_bogus_is_refused():
    from minimlp.config import ConfigError, build_model, check_config
    config = check_config({"model": {"dtype": "bogus"}})
    with pytest.raises(ConfigError, match="model.dtype must be float32 or float64, got 'bogus'"):
        build_model(config["model"], 2, 3)


# -- M6: masked arrays and np.matrix ---------------------------------------------------------
def test_masked_array_without_masked_entries_gives_the_plain_result():
    X = np.arange(15, dtype=float).reshape(5, 3) / 10
    model = net()
    expected = model.predict(X)
    got = model.predict(np.ma.masked_array(X))
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, expected)


def test_masked_array_with_masked_entries_is_refused_naming_the_first():
    X = np.ma.masked_array(np.ones((5, 3)), mask=np.zeros((5, 3), bool))
    X.mask[2, 1] = True
    X.data[2, 1] = np.nan           # a masked NaN must not slip through either
    with pytest.raises(ValueError, match=r"masked array with 1 masked entries \(first at index "
                                         r"\(2, 1\)\); fill them"):
        net().predict(X)


def test_masked_array_in_fit_is_refused_and_the_model_is_unchanged():
    model = net()
    before = [p.value.copy() for p in model.parameters()]
    X = np.ma.masked_array(np.ones((6, 3)), mask=np.eye(6, 3, dtype=bool))
    with pytest.raises(ValueError, match="masked array"):
        model.fit(X, np.zeros(6, dtype=int), loss="cross_entropy",
                  optimizer=mm.SGD(model.parameters(), lr=0.1), epochs=1, verbose=0)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.value, b)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_np_matrix_is_taken_as_its_array():
    X = np.arange(10, dtype=float).reshape(2, 5) / 10
    model = mm.Sequential(mm.Dense(5, 3, rng=0), mm.Softmax())
    got = model.predict(np.matrix(X))
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, model.predict(X))
    # softmax rows sum to one: an independent check that the reduction ran on a 2-D array
    np.testing.assert_allclose(got.sum(axis=1), 1.0)


# -- L4: finite values beyond float32's range --------------------------------------------------
def test_float32_model_refuses_1e300_with_the_range_and_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"value 1e\+300 at index \(0, 0\) is outside the "
                                             r"float32 range") as e:
            net(np.float32).predict(np.full((2, 3), 1e300))
    assert "NaN" not in str(e.value)


def test_float32_range_check_names_the_first_offending_index():
    X = np.zeros((3, 3))
    X[1, 2] = -4e38                 # float32's max is about 3.4028e38
    with pytest.raises(ValueError, match=r"value -4e\+38 at index \(1, 2\) is outside"):
        as_float_array(X, np.dtype(np.float32), "X")


def test_float32_max_itself_is_accepted():
    X = np.full((1, 3), float(np.finfo(np.float32).max))
    assert as_float_array(X, np.dtype(np.float32), "X")[0, 0] == np.finfo(np.float32).max


def test_real_nan_is_still_reported_as_nan():
    X = np.ones((2, 3))
    X[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"contains NaN or inf \(first at index \(1, 0\)\)"):
        net(np.float32).predict(X)
