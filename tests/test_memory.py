"""A training step after warm-up allocates nothing that grows with batch x width.

tracemalloc sees numpy's array allocations (numpy reports its data buffers to it), so the
peak of one step above the memory already held is deterministic. What a step may still
allocate: numpy's ufunc iteration buffers (a broadcast bias add, a bool-mask product), each
at most ``np.getbufsize()`` elements whatever the array size, and small Python objects.
Every configuration below has arrays of batch x width far larger than that allowance, so one
temporary of that size anywhere in the step fails the test, and the peak must not change
when the batch quadruples (so not even a vector of one number per row is allocated).
"""
import tracemalloc

import numpy as np
import pytest

import minimlp as mm

NETS = {
    "relu-ce": ((64, 256, 256, 10), mm.ReLU, "ce"),
    "sigmoid-mse": ((32, 256, 256, 8), mm.Sigmoid, "mse"),
    "tanh-mse": ((16, 256, 256, 16), mm.Tanh, "mse"),
}


def build(name, dtype, optimizer="sgd"):
    widths, act, loss_name = NETS[name]
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(mm.Dense(a, b, rng=i, dtype=dtype))
        if i < len(widths) - 2 or loss_name == "mse":
            layers.append(act())
    net = mm.Sequential(layers)
    loss = mm.CrossEntropyLoss() if loss_name == "ce" else mm.MSELoss()
    params = net.parameters()
    opt = {"sgd": lambda: mm.SGD(params, lr=0.01),
           "momentum": lambda: mm.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4),
           "adam": lambda: mm.Adam(params, lr=1e-3)}[optimizer]()
    return net, loss, opt, widths, loss_name


def data(widths, loss_name, N, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, widths[0])).astype(dtype)
    if loss_name == "ce":
        T = rng.integers(0, widths[-1], size=N).astype(np.intp)
    else:
        T = rng.uniform(0.1, 0.9, (N, widths[-1])).astype(dtype)
    return X, T


def step(net, loss, opt, X, T):
    """One training step through TrainStep's unchecked run, as fit runs it."""
    key = (id(net), id(loss), id(opt))
    planned = _STEPS.get(key)
    if planned is None:
        planned = _STEPS[key] = (mm.TrainStep(net, loss, opt, threads=None), net, loss, opt)
    planned[0].run(X, T)


_STEPS: dict = {}


def step_allocations(net, loss, opt, X, T):
    """(peak bytes above the baseline during one step, bytes still held after it)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        step(net, loss, opt, X, T)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, current - base


def allowance(dtype):
    """Bytes a step may allocate: two ufunc buffers and 16 KiB of Python objects."""
    return 2 * np.getbufsize() * np.dtype(dtype).itemsize + 16 * 1024


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(NETS))
def test_step_allocates_nothing_of_batch_times_width(name, dtype):
    net, loss, opt, widths, loss_name = build(name, dtype)
    N, partial = 256, 200                        # a full batch and an epoch's last, partial one
    full, last = data(widths, loss_name, N, dtype), data(widths, loss_name, partial, dtype, 1)
    for X, T in (full, last, full, last):       # warm-up: buffers sized for the largest batch
        step(net, loss, opt, X, T)
    smallest_big_array = partial * 256 * np.dtype(dtype).itemsize
    assert smallest_big_array > 2 * allowance(dtype)   # the test can see such an array
    for X, T in (full, last, full):
        peak, held = step_allocations(net, loss, opt, X, T)
        assert peak <= allowance(dtype), f"{name} {np.dtype(dtype).name} N={X.shape[0]}: {peak} bytes"
        assert held <= 1024, f"{name}: a step keeps {held} bytes"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(NETS))
def test_step_allocations_do_not_grow_with_the_batch(name, dtype):
    peaks = []
    for N in (256, 1024):
        net, loss, opt, widths, loss_name = build(name, dtype)
        X, T = data(widths, loss_name, N, dtype)
        for _ in range(2):
            step(net, loss, opt, X, T)
        peaks.append(step_allocations(net, loss, opt, X, T)[0])
    assert abs(peaks[1] - peaks[0]) <= 512, f"{name}: {peaks[0]} bytes at N=256, {peaks[1]} at 1024"


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_optimizers_with_state_allocate_nothing_per_step(optimizer):
    net, loss, opt, widths, loss_name = build("relu-ce", np.float64, optimizer)
    X, T = data(widths, loss_name, 256, np.float64)
    for _ in range(2):
        step(net, loss, opt, X, T)
    peak, held = step_allocations(net, loss, opt, X, T)
    assert peak <= allowance(np.float64), f"{optimizer}: {peak} bytes"
    assert held <= 1024


def test_plain_sgd_holds_no_model_sized_scratch():
    # A model-sized scratch would double the memory of the weights; a chunked one stays small.
    net = mm.Sequential(mm.Dense(512, 512, rng=0), mm.ReLU(), mm.Dense(512, 10, rng=1))
    opt = mm.SGD(net.parameters(), lr=0.1)
    largest = max(p.size for p in net.parameters())
    held = sum(s.size for s in opt._scratch)
    assert held < largest


def test_chunked_sgd_update_is_exact():
    # theta - lr * g computed by hand, for a parameter much larger than one chunk.
    layer = mm.Dense(300, 700, rng=0)
    (W, b) = layer.parameters()
    rng = np.random.default_rng(1)
    W.grad[...] = rng.standard_normal(W.shape)
    b.grad[...] = rng.standard_normal(b.shape)
    expected_W = W.value - 0.25 * W.grad
    expected_b = b.value - 0.25 * b.grad
    mm.SGD([W, b], lr=0.25).step()
    np.testing.assert_array_equal(W.value, expected_W)
    np.testing.assert_array_equal(b.value, expected_b)


@pytest.mark.parametrize("name", sorted(NETS))
def test_float32_model_stays_float32_through_a_step(name):
    net, loss, opt, widths, loss_name = build(name, np.float32, "momentum")
    for N in (64, 40):
        X, T = data(widths, loss_name, N, np.float32)
        planned = mm.TrainStep(net, loss, opt, threads=None)
        value = planned.run(X, T)
        Y, dY = planned.output, loss.backward()
        assert Y.dtype == np.float32 and dY.dtype == np.float32
        assert isinstance(value, float)
    for p in net.parameters():
        assert p.value.dtype == np.float32 and p.grad.dtype == np.float32, p
    owners = list(net) + [loss, opt]
    for owner in owners:
        for attr, a in vars(owner).items():
            arrays = a if isinstance(a, list) else [a]
            for arr in arrays:
                if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
                    assert arr.dtype == np.float32, f"{owner!r}.{attr} is {arr.dtype}"


def test_subclass_without_the_in_place_keywords_still_trains():
    # A user's ReLU whose forward/backward predate the keywords: the plan must not pass them.
    class OldReLU(mm.ReLU):
        def forward(self, X, train=True):
            return super().forward(X, train)

        def backward(self, dY):
            return super().backward(dY)

    net = mm.Sequential(mm.Dense(3, 4, rng=0), OldReLU(), mm.Dense(4, 2, rng=1))
    ref = mm.Sequential(mm.Dense(3, 4, rng=0), mm.ReLU(), mm.Dense(4, 2, rng=1))
    X = np.random.default_rng(0).standard_normal((5, 3))
    T = np.array([0, 1, 1, 0, 1])
    for model in (net, ref):
        mm.TrainStep(model, mm.CrossEntropyLoss(), mm.SGD(model.parameters(), lr=0.0))(X, T)
    for p, q in zip(net.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-13)
