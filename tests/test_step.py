"""TrainStep: the planned step equals the plain path, touches nothing of the caller's, and
allocates nothing; the plan; threads; the one walk over a model."""
import tracemalloc

import numpy as np
import pytest

import minimlp as mm
from minimlp.step import choose_threads, pin_threads, plan

from layer_cases import LAYER_CASES, MIN_TRAIN_BATCH, make_input

CASE_IDS = [c[0] for c in LAYER_CASES]


def around(case, dtype=np.float64):
    """The row's layer between two Dense layers: what a network makes of it (a Dense output
    before it, which the plan may overwrite; a Dense after it, which may write over it)."""
    case_id, factory, width = case
    layer = factory(dtype)
    out = layer.output_features(width)
    return mm.Sequential(mm.Dense(3, width, rng=10, dtype=dtype), layer, mm.Dense(out, 2, rng=11, dtype=dtype))


def twins(case, dtype=np.float64):
    a, b = around(case, dtype), around(case, dtype)
    for p, q in zip(a.parameters(), b.parameters()):   # Dropout draws from its own seed
        q.value[...] = p.value
    return a, b


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_train_step_equals_the_plain_loop(case, dtype):
    """The planned step (outputs over inputs, gradients over gradients) gives bit for bit
    the loss, gradients and updated parameters of the README's plain loop, over batch sizes
    that change, and never writes into the caller's X or T."""
    plain, planned = twins(case, dtype)
    loss_p, loss_s = mm.MSELoss(), mm.MSELoss()
    opt_p = mm.SGD(plain.parameters(), lr=0.1, momentum=0.5)
    step = mm.TrainStep(planned, loss_s, mm.SGD(planned.parameters(), lr=0.1, momentum=0.5), threads=None)
    rng = np.random.default_rng(0)
    for N in (6, 3, 6, 2):
        N = max(N, MIN_TRAIN_BATCH.get(case[0], 1))
        X = rng.standard_normal((N, 3)).astype(dtype)
        T = rng.standard_normal((N, 2)).astype(dtype)
        X0, T0 = X.copy(), T.copy()
        value_p = loss_p.forward(plain.forward(X), T)
        assert plain.backward(loss_p.backward(), input_grad=False) is None
        grads = [p.grad.copy() for p in plain.parameters()]
        opt_p.step()
        value_s = step(X, T)
        assert value_s == value_p
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(T, T0)
        for g, q in zip(grads, planned.parameters()):
            np.testing.assert_array_equal(q.grad, g)
        for p, q in zip(plain.parameters(), planned.parameters()):
            np.testing.assert_array_equal(q.value, p.value)
            assert q.value.dtype == np.dtype(dtype) and q.grad.dtype == np.dtype(dtype)


NETS = {
    "relu": lambda: [mm.Dense(3, 6, rng=0), mm.ReLU(), mm.Dense(6, 5, rng=1), mm.ReLU(), mm.Dense(5, 2, rng=2)],
    "sigmoid-tanh": lambda: [mm.Dense(3, 6, rng=0), mm.Sigmoid(), mm.Dense(6, 5, rng=1), mm.Tanh(), mm.Dense(5, 2, rng=2)],
    "leaky-gelu-elu-silu": lambda: [mm.Dense(3, 6, rng=0), mm.LeakyReLU(0.1), mm.Dense(6, 5, rng=1), mm.GELU(),
                                    mm.Dense(5, 4, rng=2), mm.ELU(), mm.SiLU(), mm.Dense(4, 2, rng=3)],
    "activation-first": lambda: [mm.Tanh(), mm.Dense(3, 4, rng=0), mm.ReLU(), mm.ReLU(), mm.Dense(4, 2, rng=1), mm.Softmax()],
    "norms": lambda: [mm.Dense(3, 6, rng=0), mm.BatchNorm1d(6), mm.ReLU(), mm.Dense(6, 5, rng=1),
                      mm.LayerNorm(5), mm.Softplus(), mm.Dense(5, 2, rng=2)],
    "identity-chain": lambda: [mm.Identity(), mm.Sigmoid(), mm.Identity(), mm.Dense(3, 2, rng=0), mm.Identity(), mm.Tanh()],
    "nested": lambda: [mm.Dense(3, 4, rng=0), mm.Sequential(mm.ReLU(), mm.Dense(4, 4, rng=1),
                                                            mm.Sequential(mm.Sigmoid())), mm.Dense(4, 2, rng=2)],
    "prelu": lambda: [mm.Dense(3, 4, rng=0), mm.PReLU(4), mm.Dense(4, 2, rng=1), mm.PReLU()],
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_train_step_equals_the_plain_loop_on_whole_networks(name):
    plain, planned = mm.Sequential(NETS[name]()), mm.Sequential(NETS[name]())
    opt_p = mm.Adam(plain.parameters(), lr=0.01)
    step = mm.TrainStep(planned, "mse", mm.Adam(planned.parameters(), lr=0.01))
    loss = mm.MSELoss()
    rng = np.random.default_rng(1)
    for N in (5, 3, 5, 5):
        X = rng.standard_normal((N, 3))
        T = rng.standard_normal((N, 2))
        X0 = X.copy()
        value = loss.forward(plain.forward(X), T)
        plain.backward(loss.backward())
        opt_p.step()
        assert step(X, T) == value
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(step.output, plain.forward(X, train=False) * 0 + step.output)
        for p, q in zip(plain.parameters(), planned.parameters()):
            np.testing.assert_array_equal(q.value, p.value)


def test_the_plan_reuses_what_no_one_reads_and_nothing_else():
    relu = plan(mm.Sequential(mm.Dense(2, 3), mm.ReLU(), mm.Dense(3, 2)).leaves())
    assert [s["forward_in_place"] for s in relu] == [False, True, False]
    assert [s["backward"] for s in relu] == ["no_input_grad", "in_place", "over_input"]
    # Sigmoid reads its output: the Dense after it keeps its own dX buffer.
    sig = plan(mm.Sequential(mm.Dense(2, 3), mm.Sigmoid(), mm.Dense(3, 2)).leaves())
    assert [s["backward"] for s in sig] == ["no_input_grad", "in_place", "plain"]
    # An activation first never writes over the caller's X, and layers before the first
    # parameters run no backward.
    first = plan(mm.Sequential(mm.Sigmoid(), mm.Dense(2, 2)).leaves())
    assert [s["forward_in_place"] for s in first] == [False, False]
    assert [s["backward"] for s in first] == ["skip", "no_input_grad"]
    # Dense reads its input: an activation after the first layer may not overwrite it if
    # ... it is the caller's X (no layer before) - covered above; after a Dense it may.
    two = plan(mm.Sequential(mm.Dense(2, 2), mm.Tanh(), mm.Tanh()).leaves())
    assert [s["forward_in_place"] for s in two] == [False, True, False]   # the 2nd Tanh's input is read


def test_a_subclass_that_overrides_backward_does_not_inherit_the_in_place_promise():
    class ReadsItsOutput(mm.ReLU):
        """dX = dY * [Y > 0] computed from the output: wrong if the output was overwritten."""
        def _forward(self, X, Y, train):
            Y = super()._forward(X, Y, train)
            self._Y_seen = Y
            return Y

        def _backward(self, dY, dX):
            return np.multiply(dY, self._Y_seen > 0, out=dX)

    assert ReadsItsOutput.in_place == frozenset() and ReadsItsOutput.backward_reads == {"input", "output"}
    assert mm.ReLU.in_place == {"forward", "backward"}   # the parent keeps its own promise
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    grads = []
    for planned in (False, True):
        net = mm.Sequential(mm.Dense(3, 4, rng=1), ReadsItsOutput(), mm.Dense(4, 2, rng=2))
        if planned:
            mm.TrainStep(net, "mse", mm.SGD(net.parameters(), lr=0.0))(X, T)
        else:
            loss = mm.MSELoss()
            loss.forward(net.forward(X), T)
            net.backward(loss.backward())
        grads.append([p.grad.copy() for p in net.parameters()])
    for public, planned in zip(*grads):
        np.testing.assert_array_equal(planned, public)


def test_a_subclass_with_a_plain_forward_and_backward_trains():
    class Square(mm.Layer):
        def forward(self, X, train=True):
            if train:
                self.X = X
            return X * X

        def backward(self, dY):
            return 2 * self.X * dY

    assert Square.in_place == frozenset() and not Square.input_grad_optional
    net = mm.Sequential(mm.Dense(2, 3, rng=0), Square(), mm.Dense(3, 1, rng=1))
    X = np.random.default_rng(0).standard_normal((4, 2))
    T = np.ones((4, 1))
    assert mm.gradcheck(net, X, T, mm.MSELoss()).max_rel_error < 1e-6
    step = mm.TrainStep(net, "mse", mm.SGD(net.parameters(), lr=0.01))
    first = step(X, T)
    for _ in range(50):
        last = step(X, T)
    assert last < first


def test_an_unknown_in_place_declaration_is_refused_when_the_class_is_defined():
    with pytest.raises(ValueError, match=r"in_place: unknown entries \['inplace'\]"):
        class Typo(mm.layer.Layer):
            in_place = frozenset({"inplace"})


# -- input gradient ------------------------------------------------------------------------

def test_backward_without_the_input_gradient_gives_the_same_parameter_gradients():
    net = mm.Sequential(mm.Dense(4, 5, rng=0), mm.Tanh(), mm.Dense(5, 2, rng=1))
    X = np.random.default_rng(0).standard_normal((3, 4))
    dY = np.random.default_rng(1).standard_normal((3, 2))
    net.forward(X)
    dX = net.backward(dY).copy()
    grads = [p.grad.copy() for p in net.parameters()]
    net.forward(X)
    assert net.backward(dY, input_grad=False) is None
    for p, g in zip(net.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)
    np.testing.assert_allclose(dX, dY @ net[2].W.T * (1 - np.tanh(X @ net[0].W + net[0].b) ** 2) @ net[0].W.T,
                               rtol=1e-12)


def test_a_predict_between_forward_and_backward_changes_nothing():
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.BatchNorm1d(4), mm.ReLU(), mm.Dropout(0.3, rng=1),
                        mm.Dense(4, 2, rng=2))
    X = np.random.default_rng(0).standard_normal((6, 3))
    dY = np.random.default_rng(1).standard_normal((6, 2))
    net[3].freeze_mask = True
    net.forward(X)
    expected = net.backward(dY).copy()
    grads = [p.grad.copy() for p in net.parameters()]
    net.forward(X)
    net.predict(np.random.default_rng(2).standard_normal((9, 3)))   # an eval forward in between
    np.testing.assert_array_equal(net.backward(dY), expected)
    for p, g in zip(net.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)
    with pytest.raises(RuntimeError, match="backward"):   # ... but only after a training forward
        fresh = mm.Sequential(mm.Dense(3, 2, rng=0))
        fresh.predict(X)
        fresh.backward(np.ones((6, 2)))


# -- checks and divergence -------------------------------------------------------------------

def test_train_step_validates_like_the_public_api_and_changes_nothing():
    net = mm.Sequential(mm.Dense(3, 2, rng=0))
    step = mm.TrainStep(net, "mse", mm.SGD(net.parameters(), lr=0.1))
    W = net[0].W.copy()
    with pytest.raises(ValueError, match=r"TrainStep X: .*layer 0 \(Dense\(3, 2\)\) expects input of shape \(N, 3\), got \(4, 5\)"):
        step(np.ones((4, 5)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"MSELoss\(\): targets must have the shape of the predictions \(4, 2\), got \(4,\)"):
        step(np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match="NaN or inf"):
        step(np.full((4, 3), np.nan), np.ones((4, 2)))
    np.testing.assert_array_equal(net[0].W, W)
    with pytest.raises(ValueError, match=r"TrainStep: the model ends in Softmax\(\)"):
        mm.TrainStep(mm.Sequential(mm.Dense(3, 2), mm.Sequential(mm.Softmax())), "ce", "sgd")
    with pytest.raises(ValueError, match="not this model's"):
        mm.TrainStep(net, "mse", mm.SGD(mm.Sequential(mm.Dense(3, 2)).parameters()))


def test_a_non_finite_loss_raises_before_any_update():
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    step = mm.TrainStep(net, "mse", mm.SGD(net.parameters(), lr=0.1))
    net[0].W[...] = 1e200
    W = net[0].W.copy()
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(mm.TrainingDiverged, match="smaller learning rate") as info:
        step(np.full((3, 2), 1e200), np.zeros((3, 1)))
    assert info.value.restored == "unchanged"
    np.testing.assert_array_equal(net[0].W, W)


# -- threads ---------------------------------------------------------------------------------

def _blas_threads():
    from threadpoolctl import threadpool_info
    return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]


def test_pin_threads_pins_and_restores():
    before = _blas_threads()
    with pin_threads(1):
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before
    with pin_threads(None):
        assert _blas_threads() == before


def test_auto_threads_is_one_below_the_work_threshold_and_recorded_by_fit():
    assert choose_threads(1e6) == 1
    net = mm.Sequential(mm.Dense(2, 2, rng=0))
    step = mm.TrainStep(net, "mse", "sgd")
    assert step.threads == "auto" and step.thread_count(32) == 1
    assert mm.TrainStep(net, "mse", "sgd", threads=2).thread_count(32) == 2
    assert mm.TrainStep(net, "mse", "sgd", threads=None).thread_count(32) is None
    with pytest.raises(ValueError, match="threads must be 'auto', None or an integer >= 1, got 0"):
        mm.TrainStep(net, "mse", "sgd", threads=0)
    X = np.random.default_rng(0).standard_normal((8, 2))
    h = net.fit(X, X, loss="mse", optimizer="sgd", epochs=1, verbose=0, threads=1)
    assert h.params["threads"] == 1


# -- the one walk ------------------------------------------------------------------------------

def nested():
    return mm.Sequential(mm.Dense(3, 4, rng=0), mm.Sequential(mm.Dense(4, 5, rng=1), mm.ReLU(), mm.Dense(5, 4, rng=2)),
                         mm.Dense(4, 2, rng=3))


def test_walk_and_named_parameters_are_unique_and_recursive():
    net = nested()
    assert [path for path, _ in net.walk()] == ["0", "1", "1.0", "1.1", "1.2", "2"]
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.W", "0.b", "1.0.W", "1.0.b", "1.2.W", "1.2.b", "2.W", "2.b"]
    assert [type(l).__name__ for l in net.leaves()] == ["Dense", "Dense", "ReLU", "Dense", "Dense"]


def test_gradcheck_of_a_nested_model_checks_every_parameter_once():
    """Two parameters once shared the name '1.W' and gradcheck reported an error of 1.77."""
    X = np.random.default_rng(0).standard_normal((4, 3))
    T = np.random.default_rng(1).standard_normal((4, 2))
    result = mm.gradcheck(nested(), X, T, mm.MSELoss())
    assert result.max_rel_error < 1e-6, result
    assert set(result.errors) == {"X", "0.W", "0.b", "1.0.W", "1.0.b", "1.2.W", "1.2.b", "2.W", "2.b"}


def test_predict_proba_sees_a_sigmoid_inside_a_nested_sequential():
    """The final Sigmoid in a nested Sequential was applied twice (0.607 instead of 0.434)."""
    net = mm.Sequential(mm.Dense(2, 1, rng=0), mm.Sequential(mm.Sigmoid()))
    X = np.array([[0.3, -0.8]])
    z = (X @ net[0].W + net[0].b).item()
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(mm.predict_proba(net, X)[0, 0], p, rtol=1e-14)
    assert mm.predict_classes(net, X)[0] == int(p > 0.5)


# -- zero allocation -----------------------------------------------------------------------------

def _peak(fn) -> int:
    fn()
    fn()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def wide(case, dtype, width=64):
    """The row's layer at a width where one batch-sized temporary dwarfs numpy's buffers."""
    case_id, factory, w = case
    layer = factory(dtype)
    try:
        inner = type(layer)(**{**layer.get_config(), **_widened(layer, width)})
    except TypeError:
        inner = layer
    if hasattr(layer, "freeze_mask"):
        inner.freeze_mask = True
    d_in = inner.in_features or width
    return mm.Sequential(mm.Dense(16, d_in, rng=0, dtype=dtype), inner,
                         mm.Dense(inner.output_features(d_in), 8, rng=1, dtype=dtype))


def _widened(layer, width):
    config = layer.get_config()
    for key in ("in_features", "num_features", "normalized_shape"):
        if key in config:
            return {key: width}
    if config.get("num_parameters", 1) > 1:
        return {"num_parameters": width}
    return {}


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("path", ["TrainStep", "plain loop"])
def test_a_step_allocates_nothing_that_grows_with_the_batch(case, path):
    """After warm-up, the peak memory a step allocates does not change when the batch
    quadruples (only numpy's ufunc buffers, at most ``np.getbufsize()`` elements each, and
    small objects remain): one temporary of batch x width anywhere fails it. The plain
    loop may allocate only the fresh output Sequential.forward hands back."""
    peaks = {}
    for N in (256, 1024):   # past numpy's ufunc buffer (8192 elements), which is bounded
        net = wide(case, np.float64)
        X = np.random.default_rng(0).standard_normal((N, 16))
        T = np.random.default_rng(1).standard_normal((N, 8))
        opt = mm.SGD(net.parameters(), lr=1e-3)
        loss = mm.MSELoss()
        if path == "TrainStep":
            step = mm.TrainStep(net, loss, opt, threads=None)
            fn = lambda: step.run(X, T)
        else:
            def fn():
                loss.forward(net.forward(X), T)
                net.backward(loss.backward(), input_grad=False)
                opt.step()
        peaks[N] = _peak(fn) - (N * 8 * 8 if path == "plain loop" else 0)   # the fresh output
    assert peaks[1024] <= peaks[256] + 4096, f"{case[0]}: {peaks}"


def test_a_parameter_free_nested_sequential_keeps_float32():
    """L5: Sequential(Dense(f32), Sequential(ReLU())) gave float64 output: the nested
    container, having no parameters of its own, cast to its default float64."""
    net = mm.Sequential(mm.Dense(3, 4, rng=0, dtype=np.float32), mm.Sequential(mm.ReLU()),
                        mm.Dense(4, 2, rng=1, dtype=np.float32))
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    assert net.forward(X).dtype == np.float32 and net.predict(X).dtype == np.float32
    net.backward(np.ones((5, 2), np.float32))
    assert all(p.grad.dtype == np.float32 for p in net.parameters())
    step = mm.TrainStep(net, "mse", "sgd")
    step(X, np.zeros((5, 2), np.float32))
    assert step.output.dtype == np.float32


def test_named_leaves_give_every_computing_layer_its_path():
    net = nested()
    assert [(p, type(l).__name__) for p, l in net.named_leaves()] == [
        ("0", "Dense"), ("1.0", "Dense"), ("1.1", "ReLU"), ("1.2", "Dense"), ("2", "Dense")]
    relu = mm.ReLU()
    assert relu.named_leaves() == [("", relu)]


# Mutation-run survivors (tools/mutate.py, 2026-12-01) ------------------------------------

def test_non_finite_loss_messages():
    from minimlp.step import NonFiniteLoss
    grew = NonFiniteLoss(5e4, 1e4)
    assert str(grew) == "the loss grew to 5e+04, past the limit 1e+04" and grew.value == 5e4
    assert grew.args == (str(grew),)
    assert str(NonFiniteLoss(float("nan"), float("inf"))) == "the loss became nan"
    assert str(NonFiniteLoss(float("inf"), 10.0)) == "the loss became inf"
    assert str(NonFiniteLoss(3.0, float("inf"))) == "the loss became 3.0"


def test_plan_decisions_written_out_from_the_declarations():
    """Each net's plan derived by hand from the layers' declarations (layer.py): an
    activation may write its output over its input only if that memory is not the caller's
    X and no layer reads it in backward (the layer before reading its output, or a layer
    reading its input); BatchNorm1d declares nothing, so it may read its input and output."""
    def decisions(*layers):
        steps = plan(list(layers))
        return [s["forward_in_place"] for s in steps], [s["backward"] for s in steps]

    # ReLU then ReLU: both write over the Dense output, which no one reads.
    assert decisions(mm.Dense(2, 3), mm.ReLU(), mm.ReLU(), mm.Dense(3, 1)) == (
        [False, True, True, False], ["no_input_grad", "in_place", "in_place", "over_input"])
    # A layer that may read its output (BatchNorm1d): the Sigmoid after it keeps its own.
    assert decisions(mm.Dense(2, 3), mm.BatchNorm1d(3), mm.Sigmoid(), mm.Dense(3, 1)) == (
        [False, False, False, False], ["no_input_grad", "plain", "in_place", "plain"])
    assert decisions(mm.BatchNorm1d(2), mm.Tanh(), mm.Dense(2, 1)) == (
        [False, False, False], ["plain", "in_place", "plain"])
    # A Dense reads its input: the Sigmoid before it may not overwrite that input, but the
    # Dense's dX may go over it only if the Sigmoid (which reads its output) does not need it.
    assert decisions(mm.Dense(2, 2), mm.ReLU(), mm.Dense(2, 2), mm.Sigmoid(), mm.Dense(2, 1)) == (
        [False, True, False, True, False],
        ["no_input_grad", "in_place", "over_input", "in_place", "plain"])


class _ThreadProbe(mm.Layer):
    """Records the BLAS thread count while the step runs its forward."""
    seen: list = []

    def forward(self, X, train=True):
        from threadpoolctl import threadpool_info
        _ThreadProbe.seen.append(max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"))
        return X

    def backward(self, dY):
        return dY


def test_a_step_pins_threads_per_call_from_1e7_flops_on():
    """TrainStep.flops: 2 N D_in D_out per product, two products for the first Dense (no dX):
    4 * 10 * 500 * 500 = 1e7 exactly at N = 10, which is pinned (>= 1e7); N = 9 is not."""
    from threadpoolctl import threadpool_limits
    net = mm.Sequential(mm.Dense(500, 500, rng=0), _ThreadProbe())
    step = mm.TrainStep(net, "mse", mm.SGD(net.parameters(), lr=0.0), threads=1)
    assert step.flops(10) == 10_000_000 and step.flops(9) == 9_000_000
    rng = np.random.default_rng(0)
    with threadpool_limits(limits=2, user_api="blas"):
        for N in (9, 10, 9, 10):
            _ThreadProbe.seen = []
            step(rng.standard_normal((N, 500)), np.zeros((N, 500)))
            assert _ThreadProbe.seen == [1 if N == 10 else 2], N


def test_flops_count_three_products_per_dense_after_the_first():
    net = mm.Sequential(mm.Dense(3, 4), mm.ReLU(), mm.Dense(4, 2), mm.Sigmoid())
    step = mm.TrainStep(net, "mse", mm.SGD(net.parameters(), lr=0.1))
    assert step.flops(5) == 2 * (2 * 5 * 3 * 4) + 3 * (2 * 5 * 4 * 2)
    lead = mm.Sequential(mm.Sigmoid(), mm.Dense(3, 4))     # the first Dense computes no dX
    assert mm.TrainStep(lead, "mse", mm.SGD(lead.parameters(), lr=0.1)).flops(7) == 2 * (2 * 7 * 3 * 4)


def test_a_step_on_a_model_without_a_fixed_width_reads_the_width_from_X():
    """Sequential(PReLU()) has no out_features: the step takes the output width from X's
    columns (3), not from its rows (4)."""
    net = mm.Sequential(mm.PReLU())
    step = mm.TrainStep(net, "mse", mm.SGD(net.parameters(), lr=0.1))
    X = -np.ones((4, 3))
    loss = step(X, np.zeros((4, 3)))
    assert loss == pytest.approx(0.25 ** 2)     # PReLU's initial slope 0.25: Y = -0.25


def test_plan_never_runs_in_place_a_layer_that_does_not_declare_it():
    class Scale(mm.Layer):
        """Y = 2 X; reads nothing in backward, but computes into a fresh array."""
        backward_reads = frozenset()
        in_place = frozenset()

        def forward(self, X, train=True):
            return 2 * X

        def backward(self, dY):
            return 2 * dY

    steps = plan([mm.Dense(2, 2), mm.ReLU(), Scale(), mm.Dense(2, 1)])
    assert [s["forward_in_place"] for s in steps] == [False, True, False, False]
