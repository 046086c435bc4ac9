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


# Mutation-run survivors (tools/mutate.py, 2026-12-01)
# ---------------------------------------------------------------------------------------
# Small custom layers built on the public Layer API (minimlp/layer.py): Parameter
# attributes are the layer's parameters, buffers() its saved state.

class _SeqMutRecorder(mm.Layer):
    """Identity that records the batch size of every forward it sees."""

    def __init__(self):
        self.seen = []

    def forward(self, X, train=True):
        self.seen.append(X.shape[0])
        return X.copy()

    def backward(self, dY):
        return dY


class _SeqMutGain(mm.Layer):
    """``Y = X * g`` with ``g`` of shape (1,) or (D,); ``dg = sum over rows of dY * X``,
    summed in g's own dtype."""

    def __init__(self, g=(0.5,), dtype=np.float64):
        self.g = mm.Parameter(np.array(g, dtype=dtype), "g")
        self._X = None

    def forward(self, X, train=True):
        if train:
            self._X = X
        return X * self.g.value

    def backward(self, dY):
        P = dY * self._X
        if self.g.value.size == 1:
            self.g.grad[...] = np.sum(P, dtype=self.g.grad.dtype)
        else:
            self.g.grad[...] = np.sum(P, axis=0, dtype=self.g.grad.dtype)
        return dY * self.g.value


class _SeqMutState(mm.Layer):
    """Identity holding a 2-D parameter not named W and a 2-D buffer."""

    def __init__(self):
        self.M = mm.Parameter(np.arange(6.0).reshape(2, 3), "M")
        self.table = np.arange(10.0, 16.0).reshape(3, 2)

    def buffers(self):
        return {"table": self.table}

    def forward(self, X, train=True):
        return X.copy()

    def backward(self, dY):
        return dY


class _SeqMutClash(mm.Layer):
    """Parameters "a", "W" and "weight": W is saved as "weight" too, a clash."""

    def __init__(self):
        self.a = mm.Parameter(np.zeros(2), "a")
        self.W = mm.Parameter(np.zeros((2, 2)), "W")
        self.weight = mm.Parameter(np.zeros(2), "weight")

    def forward(self, X, train=True):
        return X.copy()

    def backward(self, dY):
        return dY


# Layer.registry names every Layer subclass; other tests list it: leave it as it was.
for _name in ("_SeqMutRecorder", "_SeqMutGain", "_SeqMutState", "_SeqMutClash"):
    mm.Layer.registry.pop(_name, None)
del _name


def test_predict_batch_size_bounds_every_chunk():
    """predict(batch_size=B) runs the layers on at most B rows at a time (memory bound),
    whatever the input width; B >= N is one pass."""
    rec = _SeqMutRecorder()
    net = mm.Sequential(rec)
    X = np.arange(20.0).reshape(10, 2)   # width 2 < batch size 4 < N = 10
    np.testing.assert_array_equal(net.predict(X, batch_size=4), X)
    assert rec.seen == [4, 4, 2]
    rec.seen.clear()
    Xw = np.arange(30.0).reshape(3, 10)  # width 10 > batch size 4 > N = 3
    np.testing.assert_array_equal(net.predict(Xw, batch_size=4), Xw)
    assert rec.seen == [3]
    rec.seen.clear()
    np.testing.assert_array_equal(net.predict(X, batch_size=10), X)
    assert rec.seen == [10]


def test_sequential_declares_and_honours_input_grad_optional():
    """The layer contract (minimlp/layer.py): input_grad_optional means backward(dY,
    input_grad=False) returns None and still writes every gradient. A Sequential supports
    it (used as a layer of another model), so it declares it."""
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.Tanh(), mm.Dense(4, 2, rng=1))
    assert net.input_grad_optional is True
    X = np.random.default_rng(0).standard_normal((5, 3))
    dY = np.random.default_rng(1).standard_normal((5, 2))
    net.forward(X)
    net.backward(dY)
    want = [p.grad.copy() for p in net.parameters()]
    for p in net.parameters():
        p.grad.fill(np.nan)
    assert net.backward(dY, input_grad=False) is None
    for w, p in zip(want, net.parameters()):
        np.testing.assert_array_equal(p.grad, w)


def test_input_grad_false_with_a_first_layer_that_cannot_skip_dX():
    """A first layer without input_grad_optional (BatchNorm1d: its backward has no
    input_grad argument) is run in full: its gamma/beta gradients are written, and
    backward still returns None."""
    bn = mm.BatchNorm1d(3)
    assert not bn.input_grad_optional
    net = mm.Sequential(bn, mm.Dense(3, 2, rng=0))
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 3))
    dY = rng.standard_normal((6, 2))
    net.forward(X)
    # Independent: batch-norm with gamma = 1, beta = 0: Y = X_hat, and D = dY W^T is dL/dY_bn.
    X_hat = (X - X.mean(0)) / np.sqrt(X.var(0) + bn.eps)
    D = dY @ net[1].W.T
    for p in net.parameters():
        p.grad.fill(np.nan)
    assert net.backward(dY, input_grad=False) is None
    np.testing.assert_allclose(bn.parameters()[0].grad, (D * X_hat).sum(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.parameters()[1].grad, D.sum(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net[1].parameters()[0].grad,
                               X_hat.T @ dY, rtol=1e-12, atol=1e-12)
    # A first layer without parameters: nothing to write, None all the same.
    net2 = mm.Sequential(mm.ReLU(), mm.Dense(3, 2, rng=0))
    net2.forward(X)
    assert net2.backward(dY, input_grad=False) is None
    np.testing.assert_allclose(net2[1].parameters()[0].grad, np.maximum(X, 0).T @ dY, rtol=1e-12)


def _linear2_grads(X, dY, W1, b1, W2):
    """dL/d(W1, b1, W2, b2) of Y = (X W1 + b1) W2 + b2, by hand."""
    H = X @ W1 + b1
    dH = dY @ W2.T
    return [X.T @ dH, dH.sum(0), H.T @ dY, dY.sum(0)]


def test_accumulate_after_add_accumulates_the_new_layers_too():
    """accumulate=True after add() grew the model: every parameter, old and new, gets
    grad += dL/dparam."""
    net = mm.Sequential(mm.Dense(2, 3, rng=0))
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 2))
    net.forward(X)
    for p in net.parameters():
        p.grad.fill(0.0)
    net.backward(rng.standard_normal((4, 3)), accumulate=True)   # kept buffers for 2 parameters
    net.add(mm.Dense(3, 1, rng=1))
    dY = rng.standard_normal((4, 1))
    net.forward(X)
    for p in net.parameters():
        p.grad.fill(0.0)
    net.backward(dY, accumulate=True)
    net.backward(dY, accumulate=True)
    want = _linear2_grads(X, dY, net[0].W, net[0].b, net[1].W)
    assert len(net.parameters()) == 4
    for w, p in zip(want, net.parameters()):
        np.testing.assert_allclose(p.grad, 2 * w, rtol=1e-12, atol=1e-12)


def test_accumulate_after_a_parameter_changed_shape():
    """A layer that replaced its parameter by one of another shape: accumulation follows."""
    gain = _SeqMutGain((0.5,))
    net = mm.Sequential(gain)
    X = np.arange(1.0, 13.0).reshape(4, 3)
    dY = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    net.forward(X)
    gain.g.grad.fill(0.0)
    net.backward(dY, accumulate=True)       # kept: one buffer of shape (1,)
    gain.g = mm.Parameter(np.full(3, 0.5), "g")
    net.forward(X)
    net.backward(dY, accumulate=True)
    net.backward(dY, accumulate=True)
    np.testing.assert_allclose(gain.g.grad, 2 * (dY * X).sum(0), rtol=1e-14, atol=1e-14)


def test_accumulate_after_a_parameter_changed_dtype():
    """A float32 parameter replaced by a float64 one of the same shape: the kept gradient is
    float64 too, so nothing is rounded to float32 on the way."""
    gain = _SeqMutGain((1.0,), dtype=np.float32)
    net = mm.Sequential(gain)
    X = np.array([[1.0], [2.0 ** -30]])
    dY = np.ones((2, 1))
    net.forward(X)
    gain.g.grad.fill(0.0)
    net.backward(dY, accumulate=True)       # kept: one float32 buffer
    gain.g = mm.Parameter(np.ones(1), "g")  # float64
    net.forward(X)
    gain.g.grad.fill(0.0)
    net.backward(dY, accumulate=True)
    net.backward(dY, accumulate=True)
    one = 1.0 + 2.0 ** -30                  # the exact gradient, not a float32 number
    assert float(np.float32(one)) != one
    assert gain.g.grad.dtype == np.float64
    assert gain.g.grad[0] == 2 * one


def test_summary_layout_header_rule_and_empty_model():
    """The line under the header is dashes exactly as long as the header line; a model
    without layers has a header, a rule and the total."""
    lines = small_net().summary().splitlines()
    assert lines[0].split() == ["#", "layer", "output", "shape", "params"]
    assert lines[1] == "-" * len(lines[0])
    assert lines[-1] == f"total parameters: {3 * 5 + 5 + 5 * 4 + 4 + 4 * 2} (float64)"
    empty = mm.Sequential().summary().splitlines()
    assert empty[0].split() == ["#", "layer", "output", "shape", "params"]
    assert empty[1] == "-" * len(empty[0])
    assert empty[2:] == ["total parameters: 0 (float64)"]


def test_state_dict_transposes_only_W_and_never_buffers():
    """Only a 2-D "W" is saved transposed (torch's layout); another 2-D parameter and a 2-D
    buffer keep their shapes, and load back in place."""
    layer = _SeqMutState()
    net = mm.Sequential(layer, mm.Dense(3, 2, rng=0))
    sd = net.state_dict()
    assert list(sd) == ["0.M", "1.weight", "1.bias", "0.table"]
    np.testing.assert_array_equal(sd["0.M"], np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(sd["0.table"], np.arange(10.0, 16.0).reshape(3, 2))
    np.testing.assert_array_equal(sd["1.weight"], net[1].W.T)
    new_M, new_table = -np.arange(6.0).reshape(2, 3), -np.arange(6.0).reshape(3, 2)
    net.load_state_dict({**sd, "0.M": new_M, "0.table": new_table})
    np.testing.assert_array_equal(layer.M.value, new_M)
    np.testing.assert_array_equal(layer.table, new_table)
    with pytest.raises(ValueError, match=r"'0\.table' expected shape \(3, 2\), got \(2, 3\)"):
        net.load_state_dict({**sd, "0.table": new_table.T})


def test_state_dict_refuses_two_arrays_with_one_name():
    net = mm.Sequential(_SeqMutClash())
    with pytest.raises(ValueError, match=r"two arrays would be named '0\.weight'"):
        net.state_dict()


def test_load_state_dict_square_weight_is_torch_layout():
    """A square "weight" is read as torch's (out, in): W = weight.T."""
    net = mm.Sequential(mm.Dense(3, 3, rng=0))
    weight = np.arange(9.0).reshape(3, 3)
    net.load_state_dict({"0.weight": weight, "0.bias": np.zeros(3)})
    np.testing.assert_array_equal(net[0].W, weight.T)
    np.testing.assert_array_equal(net.state_dict()["0.weight"], weight)


def test_load_state_dict_layout_hint_only_for_the_transposed_shape():
    net = mm.Sequential(mm.Dense(2, 3, rng=0))
    with pytest.raises(ValueError, match="looks like minimlp's"):
        net.load_state_dict({"0.weight": np.zeros((2, 3)), "0.bias": np.zeros(3)})
    for bad in [np.zeros((4, 4)), np.zeros(6)]:
        with pytest.raises(ValueError, match=r"'0\.weight' expected shape \(3, 2\)") as e:
            net.load_state_dict({"0.weight": bad, "0.bias": np.zeros(3)})
        assert "looks like" not in str(e.value)
    with pytest.raises(ValueError, match=r"'0\.bias' expected shape \(3,\)") as e:
        net.load_state_dict({"0.weight": np.zeros((3, 2)), "0.bias": np.zeros(2)})
    assert "looks like" not in str(e.value)


def test_load_state_dict_integer_buffer_takes_integers_only():
    bn = mm.BatchNorm1d(2, momentum=None)
    net = mm.Sequential(bn)
    sd = net.state_dict()
    assert sd["0.num_batches_tracked"].dtype.kind == "i"
    before = bn.num_batches_tracked.copy()
    with pytest.raises(TypeError, match="num_batches_tracked.*integer count.*float64"):
        net.load_state_dict({**sd, "0.num_batches_tracked": np.array(3.0)})
    np.testing.assert_array_equal(bn.num_batches_tracked, before)   # refused: unchanged
    net.load_state_dict({**sd, "0.num_batches_tracked": np.array(7, dtype=np.int32)})
    assert bn.num_batches_tracked == 7 and bn.num_batches_tracked.dtype == np.int64
    net.load_state_dict({**sd, "0.num_batches_tracked": np.array(True)})
    assert bn.num_batches_tracked == 1


def test_load_state_dict_suggests_a_near_key():
    net = mm.Sequential(mm.Dense(2, 3, rng=0))
    sd = net.state_dict()
    with pytest.raises(ValueError, match=r"unexpected key\(s\) '0\.weigth' \(did you mean '0\.weight'\?\)"):
        net.load_state_dict({"0.weigth": sd["0.weight"], "0.bias": sd["0.bias"]})
    with pytest.raises(ValueError, match=r"unexpected key\(s\) 'zzzzzz';") as e:
        net.load_state_dict({**sd, "zzzzzz": np.zeros(1)})
    assert "did you mean" not in str(e.value)


class _SeqMutFakeTensor:
    """What load_state_dict uses of a torch tensor: detach(), cpu(), numpy()."""

    def __init__(self, a):
        self.a = np.asarray(a)

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.a.copy()


class _SeqMutDetachable:
    """An array-like that has a detach method but no cpu: read through __array__."""

    def __init__(self, a):
        self.a = np.asarray(a)

    def detach(self):
        return "not an array"

    def __array__(self, dtype=None, copy=None):
        return self.a if dtype is None else self.a.astype(dtype)


def test_load_state_dict_accepts_tensors_and_array_likes():
    net = mm.Sequential(mm.Dense(2, 3, rng=0))
    weight = np.arange(6.0).reshape(3, 2)
    net.load_state_dict({"0.weight": _SeqMutFakeTensor(weight), "0.bias": _SeqMutFakeTensor([1.0, 2.0, 3.0])})
    np.testing.assert_array_equal(net[0].W, weight.T)
    np.testing.assert_array_equal(net[0].b, [1.0, 2.0, 3.0])
    net.load_state_dict({"0.weight": _SeqMutDetachable(-weight), "0.bias": _SeqMutDetachable([4.0, 5.0, 6.0])})
    np.testing.assert_array_equal(net[0].W, -weight.T)
    np.testing.assert_array_equal(net[0].b, [4.0, 5.0, 6.0])


def test_load_state_dict_may_swap_two_layers_arrays():
    """Values that are the model's own arrays are read before anything is written: swapping
    two biases swaps them (writing one after the other would copy the first into both)."""
    net = mm.Sequential(mm.Dense(2, 2, rng=0), mm.Dense(2, 2, rng=1))
    b0, b1 = net[0].b.copy(), net[1].b.copy()
    net.load_state_dict({"0.bias": net[1].b, "1.bias": net[0].b}, strict=False)
    np.testing.assert_array_equal(net[0].b, b1)
    np.testing.assert_array_equal(net[1].b, b0)
