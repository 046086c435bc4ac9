"""Activation values and slopes against their formulas, written out here independently.

The contract and gradient tests check that forward and backward agree; these check that
they are the right functions: the values, the documented slope exactly at each kink, the
in-place keywords called directly, and a layer reused with another dtype at the same shape.
References use Python's math module element by element (or plain numpy formulas), never the
expressions minimlp computes with.
"""
import math
import numpy as np
import pytest
import minimlp as mm
from scipy.special import erf


# Values on both sides of every kink, inside (0, 1] and (-1, 0), and exactly at 0.
X = np.array([[-3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.25, 0.5, 1.0, 2.5],
              [-7.0, -0.2, 0.0, 0.7, 0.999, 1.0, 1.5, 3.0, -2.0, 5.0]])


def elementwise(f):
    """Apply the scalar function f to every entry (a reference independent of numpy's ufuncs)."""
    return lambda A: np.array([[f(float(a)) for a in row] for row in A])


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _softplus(beta, threshold):
    return lambda x: x if beta * x > threshold else math.log(1.0 + math.exp(beta * x)) / beta


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _gelu_tanh_slope(x):
    c = math.sqrt(2.0 / math.pi)
    t = math.tanh(c * (x + 0.044715 * x ** 3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x)


def _softmax_rows(A):
    out = []
    for row in A:
        e = [math.exp(a) for a in row]
        s = sum(e)
        out.append([v / s for v in e])
    return np.array(out)


# (layer factory, value f(x), slope f'(x)); the slope at a kink is the documented one
# (PyTorch's): ReLU 0 at 0, LeakyReLU negative_slope at 0, ELU alpha at 0.
ELEMENTWISE = {
    "Identity": (mm.Identity, lambda x: x, lambda x: 1.0),
    "ReLU": (mm.ReLU, lambda x: x if x > 0 else 0.0, lambda x: 1.0 if x > 0 else 0.0),
    "LeakyReLU(0.1)": (lambda: mm.LeakyReLU(0.1), lambda x: x if x > 0 else 0.1 * x,
                       lambda x: 1.0 if x > 0 else 0.1),
    "LeakyReLU()": (mm.LeakyReLU, lambda x: x if x > 0 else 0.01 * x,
                    lambda x: 1.0 if x > 0 else 0.01),
    "Sigmoid": (mm.Sigmoid, _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x))),
    "Tanh": (mm.Tanh, lambda x: (math.exp(x) - math.exp(-x)) / (math.exp(x) + math.exp(-x)),
             lambda x: 1.0 - math.tanh(x) ** 2),
    "GELU": (mm.GELU, lambda x: x * 0.5 * (1.0 + math.erf(x / math.sqrt(2.0))),
             lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
             + x * math.exp(-x * x / 2.0) / math.sqrt(2.0 * math.pi)),
    "GELU(tanh)": (lambda: mm.GELU(approximate="tanh"), _gelu_tanh, _gelu_tanh_slope),
    "ELU(0.5)": (lambda: mm.ELU(alpha=0.5), lambda x: x if x > 0 else 0.5 * (math.exp(x) - 1.0),
                 lambda x: 1.0 if x > 0 else 0.5 * math.exp(x)),
    "ELU()": (mm.ELU, lambda x: x if x > 0 else math.exp(x) - 1.0,
              lambda x: 1.0 if x > 0 else math.exp(x)),
    "Softplus()": (mm.Softplus, _softplus(1.0, 20.0), lambda x: 1.0 if x > 20 else _sigmoid(x)),
    "Softplus(2, 1)": (lambda: mm.Softplus(beta=2.0, threshold=1.0), _softplus(2.0, 1.0),
                       lambda x: 1.0 if 2 * x > 1 else _sigmoid(2.0 * x)),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("train", [True, False])
def test_elementwise_values_equal_the_formula(name, train):
    make, f, _ = ELEMENTWISE[name]
    np.testing.assert_allclose(make().forward(X.copy(), train=train), elementwise(f)(X),
                               rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_slopes_equal_the_derivative(name):
    make, _, df = ELEMENTWISE[name]
    layer = make()
    layer.forward(X.copy())
    dY = np.linspace(-2.0, 3.0, X.size).reshape(X.shape)
    np.testing.assert_allclose(layer.backward(dY), dY * elementwise(df)(X), rtol=1e-13, atol=1e-15)


def test_softmax_values_and_jacobian_vector_product():
    Z = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 0.0, 0.0], [3.0, -2.0, 0.1, 7.0]])
    P = _softmax_rows(Z)
    layer = mm.Softmax()
    np.testing.assert_allclose(layer.forward(Z), P, rtol=1e-14)
    dY = np.array([[1.0, -2.0, 0.5, 3.0], [0.3, 0.1, -0.4, 2.0], [-1.0, 1.0, 2.0, 0.0]])
    # dX[n] = J[n]^T dY[n] with the Jacobian J[n] = diag(p) - p p^T, built entry by entry.
    expected = np.array([[sum((P[n, i] * ((i == j) - P[n, j])) * dY[n, i] for i in range(4))
                          for j in range(4)] for n in range(3)])
    np.testing.assert_allclose(layer.backward(dY), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(mm.Softmax().forward(Z, train=False), P, rtol=1e-14)


# -- exactly at the kinks ------------------------------------------------------------------
@pytest.mark.parametrize("layer, slope", [
    (mm.ReLU(), 0.0), (mm.LeakyReLU(0.1), 0.1), (mm.LeakyReLU(), 0.01),
    (mm.ELU(alpha=0.5), 0.5), (mm.ELU(alpha=2.0), 2.0),
], ids=repr)
def test_slope_exactly_at_zero_is_the_documented_one(layer, slope):
    Y = layer.forward(np.zeros((2, 3)))
    assert np.array_equal(Y, np.zeros((2, 3)))
    dY = np.full((2, 3), 4.0)
    assert np.array_equal(layer.backward(dY), np.full((2, 3), 4.0 * slope))


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 5.0), (0.5, 3.0)])
def test_softplus_at_its_threshold_is_still_the_smooth_branch(beta, threshold):
    # PyTorch: linear only where beta * X > threshold; at beta * X == threshold it is smooth.
    x = threshold / beta
    layer = mm.Softplus(beta=beta, threshold=threshold)
    Y = layer.forward(np.array([[x]]))
    np.testing.assert_allclose(Y, [[math.log1p(math.exp(threshold)) / beta]], rtol=1e-14)
    np.testing.assert_allclose(layer.backward(np.ones((1, 1))),
                               [[1.0 / (1.0 + math.exp(-threshold))]], rtol=1e-14)
    above = np.nextafter(x, np.inf)
    assert layer.forward(np.array([[above]]))[0, 0] == above           # the linear branch
    assert layer.backward(np.ones((1, 1)))[0, 0] == 1.0


def test_softplus_default_threshold_is_20():
    # Between 20 and 21 the smooth branch differs from X by exp(-x) ~ 2e-9: visible at 1e-12.
    x = 20.5
    layer = mm.Softplus()
    assert layer.forward(np.array([[x]]))[0, 0] == x
    assert layer.backward(np.ones((1, 1)))[0, 0] == 1.0
    y = mm.Softplus().forward(np.array([[19.5]]))[0, 0]
    np.testing.assert_allclose(y, math.log1p(math.exp(19.5)), rtol=1e-15)
    assert y != 19.5


# -- the plan's in-place calls, made directly ---------------------------------------------------
# TrainStep passes out=X to a forward and out=dY to a backward when the layer declares
# "forward" / "backward" in its in_place set; the values must be the plain ones, on arrays
# small enough for one block and large enough for several (activations.BLOCK elements).
IN_PLACE = [n for n in ELEMENTWISE if "forward" in type(ELEMENTWISE[n][0]()).in_place]
WIDE = np.random.default_rng(5).standard_normal((40, 1000)) * 2.0   # 40000 > BLOCK


@pytest.mark.parametrize("size", ["small", "blocks"])
@pytest.mark.parametrize("name", IN_PLACE)
def test_forward_in_place_gives_the_plain_values(name, size):
    make, f, df = ELEMENTWISE[name]
    layer = make()
    X0 = X if size == "small" else WIDE
    Xc = X0.copy()
    Y = layer.forward(Xc, train=True, out=Xc)
    assert Y is Xc
    atol = 1e-15 if size == "small" else 1e-14   # |X| up to 8: 1 + tanh(u) cancels in GELU(tanh)
    np.testing.assert_allclose(Y, elementwise(f)(X0), rtol=1e-13, atol=atol)
    np.testing.assert_allclose(layer.backward(np.ones_like(X0)), elementwise(df)(X0), rtol=1e-13, atol=atol)


@pytest.mark.parametrize("size", ["small", "blocks"])
@pytest.mark.parametrize("name", list(ELEMENTWISE) + ["Softmax"])
def test_backward_in_place_gives_the_plain_gradient(name, size):
    make = mm.Softmax if name == "Softmax" else ELEMENTWISE[name][0]
    X0 = X if size == "small" else WIDE
    dY = np.linspace(-1.0, 2.0, X0.size).reshape(X0.shape)
    plain = make()
    plain.forward(X0.copy())
    expected = plain.backward(dY.copy()).copy()
    layer = make()
    layer.forward(X0.copy())
    if "backward" in type(layer).in_place:
        dYc = dY.copy()
        np.testing.assert_allclose(layer.backward(dYc, out=dYc), expected, rtol=1e-15, atol=1e-300)
    # and the values are the formula's (so that `expected` is not wrong the same way)
    if name != "Softmax":
        np.testing.assert_allclose(expected, dY * elementwise(ELEMENTWISE[name][2])(X0), rtol=1e-13,
                                   atol=1e-15 if size == "small" else 1e-14)


def test_softmax_forward_in_place():
    Z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 4.0]])
    Zc = Z.copy()
    np.testing.assert_allclose(mm.Softmax().forward(Zc, out=Zc), _softmax_rows(Z), rtol=1e-14)


# -- one layer, two dtypes at the same shape --------------------------------------------------
@pytest.mark.parametrize("name", list(ELEMENTWISE) + ["Softmax"])
def test_a_layer_reused_in_float32_after_float64_returns_float32(name):
    make = mm.Softmax if name == "Softmax" else ELEMENTWISE[name][0]
    layer = make()
    dY = np.linspace(-1.0, 2.0, X.size).reshape(X.shape)
    layer.forward(X.copy())
    layer.backward(dY.copy())
    fresh = make()
    X32, dY32 = X.astype(np.float32), dY.astype(np.float32)
    expected_Y = fresh.forward(X32.copy()).copy()
    expected_dX = fresh.backward(dY32.copy()).copy()
    assert expected_Y.dtype == np.float32 and expected_dX.dtype == np.float32
    Y = layer.forward(X32.copy())
    dX = layer.backward(dY32.copy())
    assert Y.dtype == np.float32 and dX.dtype == np.float32
    np.testing.assert_array_equal(Y, expected_Y)
    np.testing.assert_array_equal(dX, expected_dX)
    # and back to float64
    layer.forward(X.copy())
    assert layer.backward(dY.copy()).dtype == np.float64


# -- from breadth_acts.py: GELU, ELU, Softplus: values against formulas written out here (scipy/math). ----------

RNG_BREADTH = np.random.default_rng(42)
X_BREADTH = RNG_BREADTH.standard_normal((6, 4)) * 2.0


# -- activations: values ------------------------------------------------------------------
def gelu_ref(x):
    return np.vectorize(lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))))(x)


def gelu_tanh_ref(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def elu_ref(x, alpha):
    return np.vectorize(lambda v: v if v > 0 else alpha * (math.exp(v) - 1.0))(x)


def softplus_ref(x, beta, threshold):
    return np.vectorize(lambda v: v if v * beta > threshold
                        else math.log(1.0 + math.exp(beta * v)) / beta)(x)


@pytest.mark.parametrize("layer,ref", [
    (mm.GELU(), gelu_ref),
    (mm.GELU(approximate="tanh"), gelu_tanh_ref),
    (mm.ELU(), lambda x: elu_ref(x, 1.0)),
    (mm.ELU(alpha=0.3), lambda x: elu_ref(x, 0.3)),
    (mm.Softplus(), lambda x: softplus_ref(x, 1.0, 20.0)),
    (mm.Softplus(beta=3.0, threshold=2.0), lambda x: softplus_ref(x, 3.0, 2.0)),
], ids=["gelu", "gelu-tanh", "elu", "elu-0.3", "softplus", "softplus-b3-t2"])
@pytest.mark.parametrize("train", [True, False])
def test_activation_values(layer, ref, train):
    np.testing.assert_allclose(layer.forward(X_BREADTH, train=train), ref(X_BREADTH), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("layer", [mm.GELU(), mm.GELU(approximate="tanh"), mm.ELU(0.7),
                                   mm.Softplus(beta=2.0, threshold=5.0)], ids=repr)
def test_activation_slope_matches_finite_difference(layer):
    x = np.linspace(-6, 6, 241)[None, :] + 0.013   # avoid the kinks exactly at 0 / threshold
    layer.forward(x)
    slope = layer.backward(np.ones_like(x))
    h = 1e-6
    num = (layer.forward(x + h, train=False) - layer.forward(x - h, train=False)) / (2 * h)
    np.testing.assert_allclose(slope, num, rtol=1e-6, atol=1e-8)


def test_activations_finite_at_extreme_inputs():
    x = np.array([[-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4]])
    for layer in (mm.GELU(), mm.ELU(), mm.Softplus(), mm.Softplus(beta=0.01)):
        Y = layer.forward(x)
        dX = layer.backward(np.ones_like(x))
        assert np.isfinite(Y).all() and np.isfinite(dX).all(), layer
    # softplus(-1e4) underflows to 0, softplus(1e4) = 1e4; beta small: log(1+e^100)/0.01
    np.testing.assert_allclose(mm.Softplus(beta=0.01).forward(x, train=False)[0, -2],
                               (800 * 0.01 + math.log1p(math.exp(-8.0))) / 0.01)


def test_activation_float32_stays_float32():
    x32 = X_BREADTH.astype(np.float32)
    for layer in (mm.GELU(), mm.GELU(approximate="tanh"), mm.ELU(), mm.Softplus()):
        Y = layer.forward(x32)
        assert Y.dtype == np.float32 and layer.backward(np.ones_like(Y)).dtype == np.float32


def test_bad_arguments():
    with pytest.raises(ValueError, match="approximate"):
        mm.GELU(approximate="fast")
    with pytest.raises(ValueError, match="beta"):
        mm.Softplus(beta=0)
    with pytest.raises(ValueError, match="alpha"):
        mm.ELU(alpha=-1)
    with pytest.raises(ValueError, match="Dropout"):
        mm.Dropout(1.5)
    with pytest.raises(TypeError, match="Dropout"):
        mm.Dropout("0.5")
    with pytest.raises(ValueError, match="momentum"):
        mm.BatchNorm1d(3, momentum=2.0)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\).*\(N, 3\).*\(5, 4\)"):
        mm.BatchNorm1d(3).forward(np.ones((5, 4)))
    with pytest.raises(ValueError, match="normalized_shape"):
        mm.LayerNorm((2, 3))


# -- PReLU and the activation table (survivors of the post-engine mutation run) -------------------
def test_prelu_values_in_both_modes_and_its_gradients():
    X0 = np.array([[1.5, -2.0, 0.0, -0.5], [-3.0, 0.25, 2.0, -1.0]])
    layer = mm.PReLU(4, init=0.1)
    layer.weight.value[...] = [0.1, 0.2, 0.3, 0.4]
    a = layer.weight.value
    expected = np.where(X0 > 0, X0, a * X0)
    np.testing.assert_array_equal(layer.forward(X0, train=False), expected)
    np.testing.assert_array_equal(layer.forward(X0, train=True), expected)
    dY = np.array([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 2.0, 1.0]])
    np.testing.assert_array_equal(layer.backward(dY), np.where(X0 > 0, dY, a * dY))
    np.testing.assert_allclose(layer.weight.grad, (dY * np.minimum(X0, 0.0)).sum(axis=0), rtol=1e-15)
    one = mm.PReLU()                                   # torch's default: one slope, 0.25
    assert one.num_parameters == 1 and one.weight.value.tolist() == [0.25] and one.in_features is None
    np.testing.assert_array_equal(one.forward(X0, train=False), np.where(X0 > 0, X0, 0.25 * X0))
    one.forward(X0)
    one.backward(dY)
    assert one.weight.grad[0] == pytest.approx(float((dY * np.minimum(X0, 0.0)).sum()), rel=1e-15)
    with pytest.raises(ValueError, match=r"PReLU\(num_parameters=4"):
        layer.forward(np.ones((2, 3)))


def test_the_activation_table_lists_activations_only_and_picks_up_new_ones():
    from minimlp.activations import Activation, activation_classes

    names = activation_classes()
    assert {"relu", "sigmoid", "tanh", "leakyrelu", "leaky_relu", "gelu", "elu", "softplus", "silu",
            "softmax", "logsoftmax", "identity", "linear", "prelu"} <= set(names)
    assert not {"dense", "dropout", "batchnorm1d", "layernorm", "layer", "activation", "sequential"} & set(names)
    assert names["leaky_relu"] is mm.LeakyReLU and names["linear"] is mm.Identity

    class Cube(Activation):
        backward_reads = frozenset({"input"})

        def _forward(self, X, Y, train):
            if train:
                self._cache = X
            return np.power(X, 3, out=Y)

        def _backward(self, dY, dX):
            return np.multiply(dY, 3 * self._cache ** 2, out=dX)

    try:
        assert activation_classes()["cube"] is Cube
    finally:
        del mm.Layer.registry["Cube"]   # other tests list the registry
    assert "cube" not in activation_classes()


# -- Mutation-run survivors (tools/mutate.py, 2026-12-01) --------------------------------------
from minimlp.activations import BLOCK, activation_classes  # noqa: E402


def test_block_size_is_the_documented_one():
    """docs/benchmarks.md states the size of a temporary block; keep the two in step."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md").read_text()
    stated = re.search(r"`activations\.BLOCK` = (\d+)", text)
    assert stated is not None
    size = int(stated.group(1))
    assert BLOCK == size
    # and the layers' blocks are that size: one column of size + 1 rows is two blocks
    blocks = list(mm.Sigmoid().blocks(np.zeros((size + 1, 1))))
    assert [b[0].shape[0] for b in blocks] == [size, 1]


@pytest.mark.parametrize("N, D", [(5, 4), (BLOCK // 8, 8), (BLOCK // 8 * 2 + 3, 8), (3, BLOCK + 1),
                                  (BLOCK + 5, 1), (7, 0), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocks_tile_the_rows_in_blocks_of_at_most_BLOCK_elements(N, D, dtype):
    layer = mm.ELU()                                   # two temporaries: one float, one bool
    X = np.arange(N * D, dtype=dtype).reshape(N, D)
    Y = -X
    blocks = list(layer.blocks(X, None, Y))
    rows = max(1, BLOCK // D) if D else BLOCK         # the rows of a block but the last
    assert len(blocks) == -(-N // rows)
    start = 0
    for i, block in enumerate(blocks):
        x, none, y, t_f, t_b = block
        n = x.shape[0]
        assert n == (rows if i < len(blocks) - 1 else N - start)
        assert x.shape == y.shape == (n, D) and n * D <= max(BLOCK, D)
        assert none is None
        np.testing.assert_array_equal(x, X[start:start + n])
        np.testing.assert_array_equal(y, Y[start:start + n])
        assert np.shares_memory(x, X) or x.size == 0      # views: writes reach the caller's array
        assert t_f.shape == (n, D) and t_f.dtype == dtype
        assert t_b.shape == (n, D) and t_b.dtype == np.bool_
        start += n
    assert start == N


def test_blocks_of_one_array():
    layer = mm.Sigmoid()
    X = np.ones((3, BLOCK + 1), dtype=np.float32)
    blocks = list(layer.blocks(X))
    assert len(blocks) == 3
    for x, t in blocks:
        assert x.shape == t.shape == (1, BLOCK + 1) and t.dtype == np.float32


def test_blocks_in_place_work_reaches_every_row():
    """Writing through the blocks fills the whole array (no row skipped or done twice)."""
    layer = mm.Tanh()
    X = np.zeros((BLOCK // 16 * 3 + 7, 16))
    for x, t in layer.blocks(X):
        t.fill(1.0)
        x += t
    np.testing.assert_array_equal(X, 1.0)


SLOPE_OF_OUTPUT = {"Sigmoid": (mm.Sigmoid, lambda Y: Y * (1.0 - Y)),
                   "Tanh": (mm.Tanh, lambda Y: 1.0 - Y * Y)}


def _trained_forward(name, shape, seed):
    """A Sigmoid or Tanh after one training forward: (layer, dY, the expected dX)."""
    make, slope = SLOPE_OF_OUTPUT[name]
    rng = np.random.default_rng(seed)
    X0 = rng.standard_normal(shape) * 2.0
    dY = rng.standard_normal(shape)
    layer = make()
    Y = layer.forward(X0.copy()).copy()
    return layer, dY, dY * slope(Y)


@pytest.mark.parametrize("shape", [(4, 5), (8, BLOCK // 8), (40, 1000)])
@pytest.mark.parametrize("name", list(SLOPE_OF_OUTPUT))
def test_backward_into_the_callers_out_returns_it(name, shape):
    layer, dY, expected = _trained_forward(name, shape, 1)
    out = np.full(shape, np.nan)
    dX = layer.backward(dY, out=out)
    assert dX is out
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("shape", [(4, 5), (8, BLOCK // 8), (8, BLOCK // 8 + 1), (40, 1000)])
@pytest.mark.parametrize("name", list(SLOPE_OF_OUTPUT))
def test_backward_in_place_values_and_large_arrays_stay_in_place(name, shape):
    layer, dY, expected = _trained_forward(name, shape, 2)
    dYc = dY.copy()
    dX = layer.backward(dYc, out=dYc)
    np.testing.assert_allclose(dX, expected, rtol=1e-13, atol=1e-300)
    if dY.size > BLOCK:              # no buffer of that size: the gradient is written over dY
        assert dX is dYc


def test_prelu_is_in_the_activation_table():
    layer = activation_classes()["prelu"](init=0.5)
    assert type(layer) is mm.PReLU
    np.testing.assert_array_equal(layer.forward(np.array([[-2.0, 3.0]]), train=False), [[-1.0, 3.0]])


@pytest.mark.parametrize("init", [-0.5, 0.25])
def test_prelu_eval_forward_is_the_formula_at_zero_too(init):
    """``Y = X if X > 0 else a X``: at a zero the slope branch, bit for bit (the sign of
    zero included), in both modes."""
    X = np.array([[0.0, -0.0, 1.5, -2.0]])
    a = init
    expected = np.where(X > 0, X, a * X)
    for train in (False, True):
        Y = mm.PReLU(init=init).forward(X.copy(), train=train)
        np.testing.assert_array_equal(Y, expected)
        np.testing.assert_array_equal(np.signbit(Y), np.signbit(expected))
