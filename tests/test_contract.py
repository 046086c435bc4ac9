"""The layer contract, checked for every row of tests/layer_cases.py in float32 and float64.

A new layer gets all of these by adding one row to LAYER_CASES: output shape and dtype,
dX.shape == X.shape, gradient shapes and dtypes equal parameter shapes and dtypes, no input
mutated, a readable repr, no cache after forward(train=False), a config that rebuilds the
layer through Layer.registry, and batch invariance of the inference pass.
"""
import numpy as np
import pytest

import minimlp as mm
from layer_cases import LAYER_CASES, make_input

DTYPES = [np.float32, np.float64]
CASE_IDS = [c[0] for c in LAYER_CASES]


def build(case, dtype):
    case_id, factory, width = case
    return case_id, factory(dtype), width


def expected_width(layer, width):
    return layer.output_features(width)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_forward_backward_shapes_and_dtypes(case, dtype):
    case_id, layer, width = build(case, dtype)
    N = 5
    X = make_input(case_id, N, width, dtype)
    Y = layer.forward(X)
    assert Y.shape == (N, expected_width(layer, width))
    assert Y.dtype == np.dtype(dtype), f"{case_id}: forward upcast/downcast to {Y.dtype}"
    dY = np.random.default_rng(1).standard_normal(Y.shape).astype(dtype)
    dX = layer.backward(dY)
    assert dX.shape == X.shape
    assert dX.dtype == np.dtype(dtype)
    for p in layer.parameters():
        assert isinstance(p, mm.Parameter)
        assert p.grad.shape == p.value.shape, p.name
        assert p.grad.dtype == p.value.dtype == np.dtype(dtype), p.name
        assert np.isfinite(p.grad).all()
    assert np.isfinite(Y).all() and np.isfinite(dX).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_inputs_not_mutated(case, dtype):
    case_id, layer, width = build(case, dtype)
    X = make_input(case_id, 6, width, dtype)
    X0 = X.copy()
    Y = layer.forward(X)
    np.testing.assert_array_equal(X, X0, err_msg=f"{case_id}: forward mutated its input")
    dY = np.random.default_rng(2).standard_normal(Y.shape).astype(dtype)
    dY0 = dY.copy()
    layer.backward(dY)
    np.testing.assert_array_equal(dY, dY0, err_msg=f"{case_id}: backward mutated dY")
    np.testing.assert_array_equal(X, X0, err_msg=f"{case_id}: backward mutated the input")
    layer.forward(X, train=False)
    np.testing.assert_array_equal(X, X0, err_msg=f"{case_id}: forward(train=False) mutated X")


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_repr_is_readable(case):
    case_id, layer, width = build(case, np.float64)
    r = repr(layer)
    assert r.startswith(type(layer).__name__ + "(") and r.endswith(")"), r
    assert "object at 0x" not in r and "\n" not in r
    if not layer.parameters():
        # A parameterless layer's repr is the expression that builds it.
        rebuilt = eval(r, {name: getattr(mm, name) for name in mm.__all__})
        assert type(rebuilt) is type(layer)
        assert rebuilt.get_config() == layer.get_config()
        assert repr(rebuilt) == r


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_inference_forward_leaves_the_training_cache_alone(case):
    """A prediction between a training forward and its backward changes nothing (as in
    PyTorch, where an eval forward in between is allowed)."""
    case_id, layer, width = build(case, np.float64)
    X = make_input(case_id, 3, width, np.float64)
    dY = np.random.default_rng(3).standard_normal((3, layer.output_features(width)))
    layer.forward(X, train=True)
    expected = layer.backward(dY).copy()
    grads = [p.grad.copy() for p in layer.parameters()]
    layer.forward(X, train=True)
    layer.forward(make_input(case_id, 5, width, np.float64, seed=9), train=False)   # in between
    np.testing.assert_array_equal(layer.backward(dY), expected)
    for p, g in zip(layer.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_backward_after_only_an_inference_forward_raises(case):
    case_id, layer, width = build(case, np.float64)
    X = make_input(case_id, 3, width, np.float64)
    Y = layer.forward(X, train=False)   # no training forward: nothing to differentiate
    with pytest.raises(RuntimeError, match="backward"):
        layer.backward(np.ones_like(Y))


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_backward_before_forward_raises(case):
    case_id, layer, width = build(case, np.float64)
    out = layer.output_features(width)
    with pytest.raises(RuntimeError, match="backward"):
        layer.backward(np.ones((3, out)))


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_backward_rejects_wrong_gradient_shape(case):
    case_id, layer, width = build(case, np.float64)
    X = make_input(case_id, 3, width, np.float64)
    Y = layer.forward(X)
    with pytest.raises(ValueError, match=r"\(3, %d\).*\(4, %d\)" % (Y.shape[1], Y.shape[1])):
        layer.backward(np.ones((4, Y.shape[1])))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_get_config_rebuilds_an_equivalent_layer(case, dtype):
    case_id, layer, width = build(case, dtype)
    config = layer.get_config()
    import json
    assert json.loads(json.dumps(config)) == config, "config must be JSON-safe"
    cls = mm.Layer.registry[type(layer).__name__]
    assert cls is type(layer)
    rebuilt = cls(**config)
    assert rebuilt.get_config() == config
    assert repr(rebuilt) == repr(layer)
    src, dst = layer.parameters(), rebuilt.parameters()
    assert [(p.name, p.shape, p.value.dtype) for p in src] == \
           [(p.name, p.shape, p.value.dtype) for p in dst]
    for p, q in zip(src, dst):
        q.value[...] = p.value
    assert sorted(layer.buffers()) == sorted(rebuilt.buffers())
    X = make_input(case_id, 4, width, dtype)
    np.testing.assert_array_equal(rebuilt.forward(X, train=False), layer.forward(X, train=False))


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_batch_equals_stacked_rows_at_inference(case):
    case_id, layer, width = build(case, np.float64)
    X = make_input(case_id, 7, width, np.float64, seed=3)
    Y = layer.forward(X, train=False).copy()
    rows = np.vstack([layer.forward(X[i:i + 1], train=False) for i in range(X.shape[0])])
    np.testing.assert_allclose(Y, rows, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_parameter_arrays_are_never_rebound(case):
    """Optimizers hold the arrays: forward/backward must update grads in place."""
    case_id, layer, width = build(case, np.float64)
    before = [(p.value, p.grad) for p in layer.parameters()]
    for n in (3, 5, 2):
        X = make_input(case_id, n, width, np.float64, seed=n)
        Y = layer.forward(X)
        layer.backward(np.ones_like(Y))
    after = [(p.value, p.grad) for p in layer.parameters()]
    assert all(v0 is v1 and g0 is g1 for (v0, g0), (v1, g1) in zip(before, after))
