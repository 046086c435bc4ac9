"""Initializers: bounds and standard deviations from their formulas, determinism from a seed,
no use of the global RNG, helpful errors for unknown names.

The statistical checks draw 200 x 300 = 60,000 weights with a fixed seed; margins are
several standard errors wide (the standard error of a sample std here is about 0.3%).
"""
import numpy as np
import pytest

import minimlp as mm
from minimlp import init

FAN_IN, FAN_OUT = 200, 300

UNIFORM = {  # name -> bound a of U(-a, a), written from the formulas
    "glorot_uniform": np.sqrt(6.0 / (FAN_IN + FAN_OUT)),
    "xavier_uniform": np.sqrt(6.0 / (FAN_IN + FAN_OUT)),
    "he_uniform": np.sqrt(6.0 / FAN_IN),
    "kaiming_uniform": np.sqrt(6.0 / FAN_IN),
    "lecun_uniform": np.sqrt(3.0 / FAN_IN),
    "pytorch": 1.0 / np.sqrt(FAN_IN),
}
NORMAL = {  # name -> std of N(0, std^2)
    "glorot_normal": np.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "xavier_normal": np.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "he_normal": np.sqrt(2.0 / FAN_IN),
    "kaiming_normal": np.sqrt(2.0 / FAN_IN),
    "lecun_normal": np.sqrt(1.0 / FAN_IN),
    "lecun": np.sqrt(1.0 / FAN_IN),
}


def test_every_name_is_covered_here():
    assert set(init.INITIALIZERS) == set(UNIFORM) | set(NORMAL) | {"zeros"}


@pytest.mark.parametrize("name", sorted(UNIFORM))
def test_uniform_bounds_and_std(name):
    a = UNIFORM[name]
    layer = mm.Dense(FAN_IN, FAN_OUT, init=name, rng=0)
    W = layer.W
    assert W.shape == (FAN_IN, FAN_OUT)
    assert np.abs(W).max() <= a
    assert np.abs(W).max() > 0.99 * a                      # the whole interval is used
    assert abs(W.mean()) < 0.02 * a
    assert W.std() == pytest.approx(a / np.sqrt(3.0), rel=0.02)   # std of U(-a, a)
    if name == "pytorch":   # torch.nn.Linear draws the bias from the same interval
        assert np.abs(layer.b).max() <= a and np.abs(layer.b).max() > 0.5 * a
    else:
        np.testing.assert_array_equal(layer.b, 0.0)


@pytest.mark.parametrize("name", sorted(NORMAL))
def test_normal_std(name):
    std = NORMAL[name]
    W = mm.Dense(FAN_IN, FAN_OUT, init=name, rng=1).W
    assert abs(W.mean()) < 0.02 * std
    assert W.std() == pytest.approx(std, rel=0.02)
    # Normal, not uniform: about 4.6% of draws lie beyond 2 std (a uniform of that std has none beyond 1.74 std).
    assert 0.035 < np.mean(np.abs(W) > 2 * std) < 0.057


def test_zeros():
    layer = mm.Dense(4, 3, init="zeros", rng=0)
    np.testing.assert_array_equal(layer.W, 0.0)
    np.testing.assert_array_equal(layer.b, 0.0)


def test_default_is_glorot_uniform():
    a = np.sqrt(6.0 / (FAN_IN + FAN_OUT))
    W = mm.Dense(FAN_IN, FAN_OUT, rng=2).W
    assert np.abs(W).max() <= a and W.std() == pytest.approx(a / np.sqrt(3), rel=0.02)
    np.testing.assert_array_equal(W, mm.Dense(FAN_IN, FAN_OUT, init="glorot_uniform", rng=2).W)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
def test_dtype_and_determinism_from_seed(name, dtype):
    a = mm.Dense(5, 7, init=name, rng=42, dtype=dtype)
    b = mm.Dense(5, 7, init=name, rng=42, dtype=dtype)
    assert a.W.dtype == dtype and a.b.dtype == dtype
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.b, b.b)
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(mm.Dense(5, 7, init=name, rng=g1, dtype=dtype).W,
                                  mm.Dense(5, 7, init=name, rng=g2, dtype=dtype).W)
    if name != "zeros":
        c = mm.Dense(5, 7, init=name, rng=43, dtype=dtype)
        assert not np.array_equal(a.W, c.W)


def test_a_generator_advances_so_layers_differ():
    rng = np.random.default_rng(0)
    a, b = mm.Dense(4, 4, rng=rng), mm.Dense(4, 4, rng=rng)
    assert not np.array_equal(a.W, b.W)


def test_the_global_rng_is_never_used():
    np.random.seed(123)
    expected_next = np.random.random(5)
    np.random.seed(123)
    for name in sorted(init.INITIALIZERS):
        mm.Dense(6, 4, init=name, rng=0)
        mm.Dense(6, 4, init=name, rng=np.random.default_rng(1))
        mm.Dense(6, 4, init=name)                     # rng=None: fresh OS entropy, not np.random
    np.testing.assert_array_equal(np.random.random(5), expected_next)


def test_rng_none_gives_different_weights():
    assert not np.array_equal(mm.Dense(8, 8).W, mm.Dense(8, 8).W)


def test_unknown_name_lists_the_allowed_ones():
    with pytest.raises(ValueError) as info:
        mm.Dense(3, 2, init="glorot")
    msg = str(info.value)
    assert "'glorot'" in msg
    for name in init.INITIALIZERS:
        assert name in msg


def test_bad_rng_type():
    with pytest.raises(TypeError, match="rng"):
        mm.Dense(3, 2, rng="seed")


def test_callable_initializer_is_used_and_shape_checked():
    def ones(fan_in, fan_out, rng, dtype):
        return np.ones((fan_in, fan_out), dtype=dtype)
    np.testing.assert_array_equal(mm.Dense(3, 2, init=ones).W, 1.0)

    def wrong(fan_in, fan_out, rng, dtype):
        return np.ones((fan_out, fan_in), dtype=dtype)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        mm.Dense(3, 2, init=wrong)


def test_pytorch_init_draws_the_bias_whether_given_by_name_or_as_the_function():
    by_name = mm.Dense(9, 5, init="pytorch", rng=3)
    by_function = mm.Dense(9, 5, init=mm.init.pytorch, rng=3)
    np.testing.assert_array_equal(by_function.W, by_name.W)
    np.testing.assert_array_equal(by_function.b, by_name.b)
    assert np.all(np.abs(by_name.b) <= 1 / 3) and np.any(by_name.b != 0)
