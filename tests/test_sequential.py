"""Sequential as a container and as a model: len, iteration, indexing, slicing, repr, summary,
named_parameters, width checks, predict, fresh output arrays."""
import numpy as np
import pytest

import minimlp as mm


def small_net(dtype=np.float64):
    return mm.Sequential(mm.Dense(3, 5, rng=0, dtype=dtype), mm.ReLU(),
                         mm.Dense(5, 4, rng=1, dtype=dtype), mm.Tanh(),
                         mm.Dense(4, 2, bias=False, rng=2, dtype=dtype))


def test_container_protocol():
    layers = [mm.Dense(3, 5, rng=0), mm.ReLU(), mm.Dense(5, 2, rng=1)]
    net = mm.Sequential(*layers)
    assert len(net) == 3
    assert list(net) == layers
    assert net[0] is layers[0] and net[-1] is layers[2]
    assert net.layers == layers and net.layers is not net.layers
    from_list = mm.Sequential(layers)
    assert list(from_list) == layers
    assert len(mm.Sequential()) == 0


def test_slicing_returns_a_sequential_sharing_layers():
    net = small_net()
    head = net[:2]
    tail = net[2:]
    assert isinstance(head, mm.Sequential) and isinstance(tail, mm.Sequential)
    assert list(head) == list(net)[:2] and list(tail) == list(net)[2:]
    assert head[0] is net[0]
    # Shared layers: changing a weight through the slice changes the whole model.
    head[0].W[0, 0] = 123.0
    assert net[0].W[0, 0] == 123.0
    # The slices compose back to the whole network.
    X = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(tail.predict(head.predict(X)), net.predict(X), rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="layer 1"):
        mm.Sequential(net[:1], net[3:])[0]   # widths 5 -> 4 do not chain: a Sequential of slices is checked too


def test_repr_lists_layers_with_indices():
    r = repr(small_net())
    assert r.startswith("Sequential(") and r.endswith(")")
    for line in ["(0) Dense(3, 5)", "(1) ReLU()", "(2) Dense(5, 4)", "(3) Tanh()", "(4) Dense(4, 2, bias=False)"]:
        assert line in r
    assert "float32" in repr(small_net(np.float32))


def test_summary_shapes_and_counts():
    s = small_net().summary()
    lines = s.splitlines()
    body = [ln for ln in lines if ln[:1].isdigit()]
    assert len(body) == 5
    expected = [("Dense(3, 5)", "(N, 5)", 3 * 5 + 5), ("ReLU()", "(N, 5)", 0),
                ("Dense(5, 4)", "(N, 4)", 5 * 4 + 4), ("Tanh()", "(N, 4)", 0),
                ("Dense(4, 2, bias=False)", "(N, 2)", 4 * 2)]
    for line, (name, shape, count) in zip(body, expected):
        assert name in line and shape in line, line
        assert line.split()[-1].replace(",", "") == str(count), line
    total = 15 + 5 + 20 + 4 + 8
    assert f"total parameters: {total}" in s
    assert "float64" in s
    big = mm.Sequential(mm.Dense(100, 100, rng=0)).summary()
    assert "10,100" in big


def test_parameters_and_named_parameters():
    net = small_net()
    named = net.named_parameters()
    assert [n for n, _ in named] == ["0.W", "0.b", "2.W", "2.b", "4.W"]
    assert [p for _, p in named] == net.parameters()
    assert named[0][1].value is net[0].W and named[1][1].grad is net[0].db
    assert all(isinstance(p, mm.Parameter) for p in net.parameters())


def test_width_mismatch_at_construction_names_the_layer():
    with pytest.raises(ValueError, match=r"layer 2 \(Dense\(4, 2\)\).*4 input features.*outputs 5"):
        mm.Sequential(mm.Dense(3, 5, rng=0), mm.ReLU(), mm.Dense(4, 2, rng=0))


def test_not_a_layer_at_construction():
    with pytest.raises(TypeError, match="layer 1.*parentheses"):
        mm.Sequential(mm.Dense(3, 5, rng=0), mm.ReLU)


def test_mixed_dtypes_at_construction():
    with pytest.raises(ValueError, match="float32.*float64|float64.*float32"):
        mm.Sequential(mm.Dense(3, 5, rng=0), mm.Dense(5, 2, rng=0, dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_equals_forward_and_keeps_no_cache(dtype):
    net = small_net(dtype)
    X = np.random.default_rng(1).standard_normal((6, 3)).astype(dtype)
    Y_train = net.forward(X)
    P = net.predict(X)
    assert P.dtype == np.dtype(dtype) and Y_train.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(P, Y_train)
    fresh = small_net(dtype)
    fresh.predict(X)
    with pytest.raises(RuntimeError, match="backward"):   # predict alone keeps no cache
        fresh.backward(np.ones_like(P))
    np.testing.assert_allclose(net.predict(X, batch_size=4), P, rtol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_array_equal(net(X), Y_train)


def test_forward_returns_a_fresh_array():
    net = small_net()
    rng = np.random.default_rng(2)
    X1, X2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    Y1 = net.forward(X1)
    kept = Y1.copy()
    Y2 = net.forward(X2)
    np.testing.assert_array_equal(Y1, kept)   # the second forward did not overwrite Y1
    assert not np.shares_memory(Y1, Y2)
    P1 = net.predict(X1)
    net.predict(X2)
    np.testing.assert_array_equal(P1, kept)


@pytest.mark.parametrize("make", [lambda: mm.Sequential(mm.Identity()), lambda: mm.Sequential()],
                         ids=["identity", "empty"])
def test_output_never_aliases_the_input(make):
    net = make()
    X = np.arange(6.0).reshape(3, 2)
    for Y in (net.forward(X), net.predict(X)):
        assert not np.shares_memory(Y, X)
        Y[0, 0] = -1.0
        assert X[0, 0] == 0.0


def test_backward_returns_dX_and_writes_every_grad():
    net = small_net()
    X = np.random.default_rng(3).standard_normal((5, 3))
    Y = net.forward(X)
    for p in net.parameters():
        p.grad.fill(np.nan)
    dX = net.backward(np.ones_like(Y))
    assert dX.shape == X.shape
    assert all(np.isfinite(p.grad).all() for p in net.parameters())


def test_inputs_are_cast_once_to_the_model_dtype():
    net = small_net(np.float32)
    X64 = np.random.default_rng(4).standard_normal((3, 3))
    Y = net.forward(X64)
    assert Y.dtype == np.float32
    np.testing.assert_array_equal(net.predict(X64), net.predict(X64.astype(np.float32)))
    Xi = np.array([[1, 0, 2], [0, 1, 1]])
    np.testing.assert_array_equal(net.predict(Xi), net.predict(Xi.astype(np.float32)))
    np.testing.assert_array_equal(net.predict(Xi.astype(bool)), net.predict((Xi > 0).astype(np.float32)))
    np.testing.assert_array_equal(net.predict(Xi.tolist()), net.predict(Xi.astype(np.float32)))


def test_training_through_the_public_api_reduces_the_loss():
    net = small_net()
    X = np.random.default_rng(5).standard_normal((16, 3))
    T = np.tanh(X[:, :2])
    loss, opt = mm.MSELoss(), mm.SGD(net.parameters(), lr=0.1, momentum=0.9)
    first = loss.forward(net.forward(X), T)
    for _ in range(50):
        loss.forward(net.forward(X), T)
        net.backward(loss.backward())
        opt.step()
    assert loss.forward(net.forward(X), T) < 0.5 * first


HOT_PATH_NETS = {
    "relu": lambda: [mm.Dense(3, 6, rng=0), mm.ReLU(), mm.Dense(6, 5, rng=1), mm.ReLU(), mm.Dense(5, 2, rng=2)],
    "sigmoid-tanh": lambda: [mm.Dense(3, 6, rng=0), mm.Sigmoid(), mm.Dense(6, 5, rng=1), mm.Tanh(), mm.Dense(5, 2, rng=2)],
    "leaky-gelu-elu": lambda: [mm.Dense(3, 6, rng=0), mm.LeakyReLU(0.1), mm.Dense(6, 5, rng=1), mm.GELU(),
                               mm.Dense(5, 4, rng=2), mm.ELU(), mm.Dense(4, 2, rng=3)],
    "activation-first": lambda: [mm.Tanh(), mm.Dense(3, 4, rng=0), mm.ReLU(), mm.ReLU(), mm.Dense(4, 2, rng=1), mm.Softmax()],
    "norms": lambda: [mm.Dense(3, 6, rng=0), mm.BatchNorm1d(6), mm.ReLU(), mm.Dense(6, 5, rng=1),
                      mm.LayerNorm(5), mm.Softplus(), mm.Dense(5, 2, rng=2)],
    "identity-only": lambda: [mm.Identity()],
}
# (TrainStep against this plain path: tests/test_step.py.)


def test_second_backward_gives_the_same_gradients():
    """Public backward reads its caches without consuming them."""
    for make in HOT_PATH_NETS.values():
        net = mm.Sequential(make())
        width = net.in_features or 3
        X = np.random.default_rng(1).standard_normal((4, width))
        Y = net.forward(X)
        dY = np.random.default_rng(2).standard_normal(Y.shape)
        dY0 = dY.copy()
        dX1 = net.backward(dY).copy()
        g1 = [p.grad.copy() for p in net.parameters()]
        dX2 = net.backward(dY)
        np.testing.assert_array_equal(dY, dY0)
        np.testing.assert_array_equal(dX1, dX2)
        for a, p in zip(g1, net.parameters()):
            np.testing.assert_array_equal(a, p.grad)


def test_a_layer_repeated_inside_a_nested_sequential_is_refused():
    relu = mm.ReLU()
    with pytest.raises(ValueError, match=r"layer 2\.1 \(ReLU\(\)\) is the same object as layer 1"):
        mm.Sequential(mm.Dense(2, 2), relu, mm.Sequential(mm.Dense(2, 2), relu))
    inner = mm.Sequential(mm.Dense(2, 2), mm.ReLU())
    with pytest.raises(ValueError, match="same object"):
        mm.Sequential(inner, inner)
