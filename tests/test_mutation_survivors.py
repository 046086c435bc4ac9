"""Behaviour the mutation review (shared/reviews/test-strength-review.md) found unasserted:
optimizer API nothing called, training and schedule details, and model-file checks.

Everything here goes through the public API (Sequential, fit/evaluate, callbacks, schedules,
optimizers, save/load), so that it survives rewrites of the engine's internals.
"""
import json

import numpy as np
import pytest

import minimlp as mm


def _net(seed=0, dtype=np.float64):
    return mm.Sequential(mm.Dense(3, 4, rng=seed, dtype=dtype), mm.Tanh(),
                         mm.Dense(4, 2, rng=seed + 1, dtype=dtype))


def _data(N=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 3))
    return X, rng.normal(size=(N, 2))


# -- optimizer API ---------------------------------------------------------------------------
@pytest.mark.parametrize("make", [mm.SGD, lambda p: mm.SGD(p, momentum=0.9), mm.Adam, mm.RMSprop,
                                  mm.Adagrad], ids=["sgd", "momentum", "adam", "rmsprop", "adagrad"])
def test_zero_grad_zeroes_every_gradient(make):
    net = _net()
    opt = make(net.parameters())
    for p in net.parameters():
        p.grad.fill(1.5)
    before = [p.value.copy() for p in net.parameters()]
    opt.zero_grad()
    for p, v in zip(net.parameters(), before):
        assert np.array_equal(p.grad, np.zeros_like(p.grad))
        assert np.array_equal(p.value, v)                  # values untouched


def test_grad_scale_is_the_factor_clipping_applied():
    net = _net()
    opt = mm.SGD(net.parameters(), lr=0.0, clip_norm=0.5)
    assert opt.grad_scale == 1.0
    grads = []
    for i, p in enumerate(net.parameters()):
        p.grad[...] = np.arange(p.size, dtype=float).reshape(p.shape) + i
        grads.append(p.grad.copy())
    total = np.sqrt(sum(float((g ** 2).sum()) for g in grads))
    opt.step()
    assert opt.grad_scale == pytest.approx(0.5 / (total + 1e-6), rel=1e-12)
    for p, g in zip(net.parameters(), grads):                # the gradients as clipped
        np.testing.assert_allclose(p.grad, g * (0.5 / (total + 1e-6)), rtol=1e-12)
    for p in net.parameters():
        p.grad[...] = 1e-3                                  # norm below 0.5: no clipping
    opt.step()
    assert opt.grad_scale == 1.0


@pytest.mark.parametrize("make", [mm.SGD, mm.Adam, mm.AdamW, mm.RMSprop, mm.Adagrad])
def test_clip_norm_must_be_positive(make):
    with pytest.raises(ValueError, match=r"invalid clip_norm 0\.0; expected a value in \(0\.0, inf\)"):
        make(_net().parameters(), clip_norm=0.0)
    with pytest.raises(ValueError, match="invalid clip_norm"):
        make(_net().parameters(), clip_norm=-1.0)


@pytest.mark.parametrize("make", [mm.Adam, mm.AdamW, mm.RMSprop])
def test_eps_must_be_positive(make):
    with pytest.raises(ValueError, match=r"invalid eps 0\.0; expected a value in \(0\.0, inf\)"):
        make(_net().parameters(), eps=0.0)


@pytest.mark.parametrize("make, key", [(mm.Adam, "_m"), (lambda p: mm.SGD(p, momentum=0.9), "_buf"),
                                       (mm.Adagrad, None), (mm.RMSprop, None)],
                         ids=["adam", "momentum", "adagrad", "rmsprop"])
def test_load_state_dict_refuses_state_arrays_of_the_wrong_shape_or_count(make, key):
    net = _net()
    opt = make(net.parameters())
    state = opt.state_dict()
    key = key or next(k for k, v in state.items() if isinstance(v, list))
    good = [a.copy() for a in state[key]]
    before = [a.copy() for a in opt.state_dict()[key]]
    for bad in ([np.zeros(1)] + good[1:], good[:-1], good + [good[0]]):
        state[key] = bad
        with pytest.raises(ValueError, match=rf"state '{key}' does not fit the parameters"):
            opt.load_state_dict(state)
        for a, b in zip(opt.state_dict()[key], before):     # nothing was written
            np.testing.assert_array_equal(a, b)


def test_centered_rmsprop_survives_negative_roundoff_of_its_variance():
    # With a constant gradient, v - a^2 tends to 0 and goes negative by roundoff (measured:
    # from step ~320 on); the clamp at 0 keeps sqrt finite (the suite raises on invalid ops).
    g = np.random.default_rng(0).uniform(-3, 3, size=(64,))
    p = mm.Parameter(np.zeros(64), "w")
    opt = mm.RMSprop([p], lr=1e-3, alpha=0.9, centered=True)
    p.grad[...] = g
    for _ in range(500):
        opt.step()
    assert np.isfinite(p.value).all()


def test_plain_sgd_updates_a_large_strided_parameter():
    value = np.ones((600, 400))[:, :300]          # 180,000 elements, not contiguous
    p = mm.Parameter(value, "W")
    p.grad[...] = 1.0
    mm.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(value, 0.9, rtol=1e-15)


# -- Sequential and fit ----------------------------------------------------------------------
@pytest.mark.parametrize("first", [mm.Sigmoid, mm.Tanh, mm.ReLU, mm.GELU, mm.Softplus])
def test_training_a_model_that_starts_with_an_activation_leaves_X_alone(first):
    net = mm.Sequential(first(), mm.Dense(3, 1, rng=0))
    X = np.linspace(-2, 2, 24).reshape(8, 3)
    X0 = X.copy()
    T = X.sum(axis=1, keepdims=True)
    net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.01), epochs=2,
            batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_array_equal(X, X0)
    Y = net.forward(X, train=True)
    net.backward(np.ones_like(Y))
    np.testing.assert_array_equal(X, X0)


def test_mixed_dtypes_name_the_right_layers():
    with pytest.raises(ValueError, match=r"layer 1 \(Dense\(2, 2, dtype=float32\)\) is float32 but "
                                         r"layer 0 \(Dense\(2, 2, bias=False\)\) is float64"):
        mm.Sequential(mm.Dense(2, 2, bias=False), mm.Dense(2, 2, dtype=np.float32))
    with pytest.raises(ValueError, match=r"layer 2 .* is float64 but layer 0 .* is float32"):
        mm.Sequential(mm.Dense(2, 2, dtype=np.float32), mm.ReLU(), mm.Dense(2, 2))


def test_summary_layout():
    net = mm.Sequential(mm.Dense(2, 3, rng=0), mm.ReLU(), mm.Dense(3, 1, rng=0))
    lines = net.summary().splitlines()
    assert len(lines) == len(net) + 3                      # header, rule, a row per layer, total
    assert lines[0].split() == ["#", "layer", "output", "shape", "params"]
    assert set(lines[1]) == {"-"} and len(lines[1]) >= max(len(s) for s in lines[2:-1])
    assert [ln.split()[0] for ln in lines[2:-1]] == ["0", "1", "2"]
    assert lines[-1] == "total parameters: 13 (float64)"
    # the params column is right-aligned under its header; the text columns are left-aligned
    ends = {len(ln.rstrip()) for ln in lines[:-1] if ln.strip("-")}
    assert ends == {len(lines[0])}
    assert [ln.rstrip().split()[-1] for ln in lines[2:-1]] == ["9", "0", "4"]
    assert lines[2].index("Dense(2, 3)") == lines[3].index("ReLU()") == lines[0].index("layer")
    assert lines[2].index("(N, 3)") == lines[0].index("output")


def test_training_diverged_message_is_the_exception_text():
    net = mm.Sequential(mm.Dense(1, 1, rng=0))
    X = np.full((4, 1), 10.0)
    with pytest.raises(mm.TrainingDiverged) as e:
        net.fit(X, np.zeros((4, 1)), loss="mse", optimizer=mm.SGD(net.parameters(), lr=1e308),
                epochs=3, batch_size=2, shuffle=False, verbose=0)
    assert str(e.value).startswith("fit: training diverged at epoch 1, batch 1/2: ")
    assert e.value.args == (str(e.value),)
    assert (e.value.epoch, e.value.batch) == (1, 1)


def test_divergence_found_in_a_parameter_at_the_end_of_an_epoch():
    # One batch per epoch: the loss of epoch 1 is finite, its step overflows W to inf, and
    # only the end-of-epoch check sees it.
    net = mm.Sequential(mm.Dense(1, 1, rng=0))
    W0 = net[0].W.copy()
    X = np.full((4, 1), 10.0)
    with pytest.raises(mm.TrainingDiverged, match=r"diverged at epoch 1 \(found at the end of the "
                                                  r"epoch\): a parameter or buffer became NaN or inf") as e, \
            np.errstate(over="ignore", invalid="ignore"):   # no FloatingPointError in the step
        net.fit(X, np.zeros((4, 1)), loss="mse", optimizer=mm.SGD(net.parameters(), lr=1e308),
                epochs=3, batch_size=4, shuffle=False, verbose=0)
    assert (e.value.epoch, e.value.batch, e.value.restored) == (1, None, "epoch_start")
    np.testing.assert_array_equal(net[0].W, W0)


def test_divergence_in_validation_names_the_epoch_and_the_place():
    net = mm.Sequential(mm.Dense(1, 1, rng=0))
    X = np.linspace(-1, 1, 8).reshape(8, 1)
    Xv = np.full((2, 1), 1e200)                       # finite input, infinite validation loss
    with pytest.raises(mm.TrainingDiverged, match=r"diverged at epoch 1 \(in validation\): "
                                                  r"the validation loss became inf") as e:
        net.fit(X, X, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.01), epochs=2,
                validation_data=(Xv, np.zeros((2, 1))), verbose=0)
    assert (e.value.epoch, e.value.batch) == (1, None)


def test_a_floating_point_error_from_a_callback_is_not_divergence():
    class Raises(mm.Callback):
        def on_batch_begin(self, batch):
            raise FloatingPointError("from the callback")

    net = _net()
    X, T = _data()
    with pytest.raises(FloatingPointError, match="from the callback") as e:
        net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters()), epochs=1, verbose=0,
                callbacks=[Raises()])
    assert not isinstance(e.value, mm.TrainingDiverged)


def test_after_divergence_the_latest_best_weights_of_several_callbacks_are_restored():
    X = np.linspace(-1, 1, 16).reshape(8, 2)
    T = X @ np.array([[1.0], [-2.0]])
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    opt = mm.SGD(net.parameters(), lr=0.1)
    snapshots = {}

    class Blowup(mm.Callback):
        def on_epoch_end(self, epoch, logs):
            snapshots[epoch] = [p.value.copy() for p in net.parameters()]

        def on_epoch_begin(self, epoch):
            if epoch == 4:
                opt.lr = 1e308

    by_loss = mm.EarlyStopping(monitor="loss", patience=100)          # improves every epoch
    by_val = mm.EarlyStopping(monitor="val_loss", patience=100)       # best at epoch 1
    with pytest.raises(mm.TrainingDiverged, match="the weights a callback kept from epoch 3") as e:
        net.fit(X, T, loss="mse", optimizer=opt, epochs=6, batch_size=8, shuffle=False, verbose=0,
                validation_data=(X, -T), callbacks=[by_val, by_loss, Blowup()])
    assert e.value.restored == "best"
    assert by_val.restorable_weights()[0] == 1 and by_loss.restorable_weights()[0] == 3
    for p, s in zip(net.parameters(), snapshots[3]):
        np.testing.assert_array_equal(p.value, s)


def test_a_model_without_a_fixed_width_can_be_evaluated_and_fitted():
    X = np.linspace(-1, 1, 12).reshape(4, 3)
    assert mm.Sequential(mm.Identity()).evaluate(X, X, loss="mse") == {"loss": 0.0}
    net = mm.Sequential(mm.Sigmoid())
    S = 1.0 / (1.0 + np.exp(-X))
    assert net.evaluate(X, S, loss="mse")["loss"] == pytest.approx(0.0, abs=1e-30)
    with pytest.raises(ValueError, match="targets must have the shape of the predictions"):
        net.evaluate(X, S[:, :2], loss="mse")


def test_a_single_metric_may_be_a_bare_string_or_function():
    X = np.linspace(-1, 1, 24).reshape(8, 3)
    labels = (X.sum(axis=1) > 0).astype(int)
    net = mm.Sequential(mm.Dense(3, 2, rng=0))
    h = net.fit(X, labels, loss="cross_entropy", optimizer=mm.SGD(net.parameters(), lr=0.1),
                epochs=2, metrics="accuracy", verbose=0)
    assert set(h.history) >= {"loss", "accuracy"} and len(h.history["accuracy"]) == 2
    assert not any(len(k) == 1 for k in h.history)            # not iterated letter by letter

    def hits(Y, T):
        return float((Y.argmax(axis=1) == T).mean())
    h = net.fit(X, labels, loss="cross_entropy", optimizer=mm.SGD(net.parameters(), lr=0.1),
                epochs=1, metrics=hits, verbose=0)
    assert "hits" in h.history


def _history(n):
    h = mm.History()
    for e in range(1, n + 1):
        h.append(e, {"loss": 1.0 / e})
    return h


def _body_epochs(table):
    return [int(line.split("|")[1]) for line in table.splitlines()[2:]]


def test_history_table_max_rows():
    assert _body_epochs(_history(5).table(max_rows=None)) == [1, 2, 3, 4, 5]
    assert _body_epochs(_history(5).table(max_rows=2)) == [1, 5]
    assert _body_epochs(_history(5).table(max_rows=3)) == [1, 3, 5]
    assert _body_epochs(_history(3).table(max_rows=1)) == [1, 2, 3]   # too few to sample: all
    assert _body_epochs(_history(3).table(max_rows=5)) == [1, 2, 3]
    # the first, every k-th with k = ceil(n / (max_rows - 1)), the last
    assert _body_epochs(_history(30).table()) == [1] + list(range(2, 30, 2)) + [30]


# -- schedules -------------------------------------------------------------------------------
def test_schedule_attached_by_fit_records_one_lr_per_epoch():
    net = _net()
    X, T = _data()
    opt = mm.SGD(net.parameters(), lr=0.05)
    sched = mm.StepLR(step_size=2, gamma=0.5)
    seen = []

    class Spy(mm.Callback):
        def on_epoch_begin(self, epoch):
            seen.append(opt.lr)

    net.fit(X, T, loss="mse", optimizer=opt, epochs=5, callbacks=[sched, Spy()], verbose=0)
    assert seen == [0.05, 0.05, 0.025, 0.025, 0.0125]
    assert sched.lrs == [0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125]      # t = 0..5
    assert sched.last_epoch == 5


def test_schedule_resumed_by_fit_starts_at_initial_epoch():
    net = _net()
    X, T = _data()
    opt = mm.SGD(net.parameters(), lr=0.08)
    sched = mm.StepLR(step_size=2, gamma=0.5)
    net.fit(X, T, loss="mse", optimizer=opt, epochs=4, initial_epoch=2, callbacks=[sched], verbose=0)
    assert sched.lrs == [0.08, 0.08, 0.04, 0.04, 0.02]   # lrs[t]: the rate at epoch t = 0..4
    assert sched.last_epoch == 4


def test_reduce_on_plateau_counts_epochs():
    opt = mm.SGD(_net().parameters(), lr=1.0)
    sched = mm.ReduceLROnPlateau(opt)
    assert sched.last_epoch == 0
    for v in (3.0, 2.0, 2.5):
        sched.step(v)
    assert sched.last_epoch == 3 and sched.lrs == [1.0, 1.0, 1.0]


def test_reduce_on_plateau_changes_lr_only_by_more_than_eps():
    # PyTorch: the lr is reduced only if old - new > eps.
    opt = mm.SGD(_net().parameters(), lr=1.0)
    sched = mm.ReduceLROnPlateau(opt, factor=0.5, patience=0, eps=0.5)
    sched.step(1.0)
    sched.step(2.0)                      # no improvement: 1.0 - 0.5 = 0.5 is not > eps
    assert opt.lr == 1.0
    opt2 = mm.SGD(_net().parameters(), lr=1.0)
    sched2 = mm.ReduceLROnPlateau(opt2, factor=0.5, patience=0, eps=0.49)
    sched2.step(1.0)
    sched2.step(2.0)
    assert opt2.lr == 0.5


# -- model files -----------------------------------------------------------------------------
def _read(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _rewrite(src, dst, change):
    arrays = _read(src)
    header = json.loads(str(arrays["__minimlp__"]))
    change(header, arrays)
    arrays["__minimlp__"] = np.array(json.dumps(header))
    with open(dst, "wb") as f:
        np.savez(f, **arrays)
    return dst


@pytest.mark.parametrize("version", [True, "1", 1.0, None, [1], 0, -1])
def test_a_format_version_that_is_not_a_positive_int_is_refused(tmp_path, version):
    mm.save(_net(), tmp_path / "good.npz")

    def change(header, arrays):
        header["format_version"] = version
    bad = _rewrite(tmp_path / "good.npz", tmp_path / "bad.npz", change)
    with pytest.raises(ValueError, match=r"bad\.npz': invalid format_version"):
        mm.load(bad)


@pytest.mark.parametrize("count", [1, 3, 5])
def test_an_optimizer_state_with_the_wrong_number_of_arrays_is_refused(tmp_path, count):
    net = _net()                                           # 4 parameters: 4 arrays per state
    mm.save(net, tmp_path / "good.npz", optimizer=mm.Adam(net.parameters()))

    def change(header, arrays):
        assert header["optimizer"]["state"]["_m"] == 4
        header["optimizer"]["state"]["_m"] = count
        for i in range(count, 4):
            del arrays[f"optim/_m/{i}"]
        for i in range(4, count):
            arrays[f"optim/_m/{i}"] = arrays["optim/_m/0"]
    bad = _rewrite(tmp_path / "good.npz", tmp_path / "bad.npz", change)
    with pytest.raises(ValueError, match=r"optimizer state '_m' has \d+ arrays, but the optimizer holds 4 parameters"):
        mm.load(bad, with_optimizer=True)


# -- optimizer memory (through tracemalloc, which sees numpy's allocations) ------------------
def _peak_bytes(fn, held=False):
    """The peak bytes allocated while ``fn`` runs (``held=True``: those still held after it)."""
    import tracemalloc
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[0 if held else 1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("make", [
    lambda p: mm.Adam(p, weight_decay=1e-4), lambda p: mm.AdamW(p, weight_decay=1e-2),
    lambda p: mm.RMSprop(p, weight_decay=1e-4), lambda p: mm.RMSprop(p, momentum=0.9),
    lambda p: mm.RMSprop(p, centered=True, momentum=0.5), lambda p: mm.Adagrad(p, weight_decay=1e-4),
    lambda p: mm.SGD(p, momentum=0.9, weight_decay=1e-4, nesterov=True),
], ids=["adam-wd", "adamw", "rmsprop-wd", "rmsprop-momentum", "rmsprop-centered", "adagrad-wd", "nesterov-wd"])
def test_optimizer_steps_with_weight_decay_or_momentum_allocate_nothing_model_sized(make):
    layer = mm.Dense(256, 256, rng=0)              # W: 65,536 float64 = 512 KiB
    layer.dW[...] = 0.01
    layer.db[...] = 0.01
    opt = make(layer.parameters())
    opt.step()
    opt.step()
    peak = _peak_bytes(opt.step)
    assert peak < 64 * 1024, f"{opt!r}: a step allocated {peak} bytes"


def test_plain_sgd_holds_no_model_sized_scratch():
    # Plain SGD updates through a shared scratch of at most 65,536 elements (512 KiB), not
    # one the size of the largest parameter (here 262,144 elements, 2 MiB).
    net = mm.Sequential(mm.Dense(512, 512, rng=0), mm.ReLU(), mm.Dense(512, 10, rng=1))
    holder = []
    held = _peak_bytes(lambda: holder.append(mm.SGD(net.parameters(), lr=0.1)), held=True)
    assert held < 1024 * 1024, f"SGD holds {held} bytes of scratch"
    for p in net.parameters():
        p.grad[...] = 1.0
    before = [p.value.copy() for p in net.parameters()]
    holder[0].step()
    for p, v in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.value, v - 0.1)


# -- ReduceLROnPlateau's improvement rule, every mode (PyTorch's) --------------------------
def _plateau(values, **kw):
    opt = mm.SGD(_net().parameters(), lr=1.0)
    sched = mm.ReduceLROnPlateau(opt, factor=0.5, patience=0, **kw)
    return [sched.step(v) for v in values], sched


@pytest.mark.parametrize("kw, values, lrs", [
    # min, rel: better when value < best * (1 - threshold)
    ({"threshold": 0.1}, [10.0, 9.0], [1.0, 0.5]),            # 9.0 == 10 * 0.9: not better
    ({"threshold": 0.1}, [10.0, 8.99], [1.0, 1.0]),
    # min, abs: better when value < best - threshold
    ({"threshold": 0.5, "threshold_mode": "abs"}, [10.0, 9.5], [1.0, 0.5]),
    ({"threshold": 0.5, "threshold_mode": "abs"}, [10.0, 9.49], [1.0, 1.0]),
    ({"threshold": 0.5, "threshold_mode": "abs"}, [10.0, 10.2], [1.0, 0.5]),
    # max, rel: better when value > best * (1 + threshold)
    ({"mode": "max", "threshold": 0.1}, [10.0, 11.0], [1.0, 0.5]),
    ({"mode": "max", "threshold": 0.1}, [10.0, 11.01], [1.0, 1.0]),
    ({"mode": "max", "threshold": 0.1}, [10.0, 9.0], [1.0, 0.5]),
    # max, abs: better when value > best + threshold
    ({"mode": "max", "threshold": 0.5, "threshold_mode": "abs"}, [10.0, 10.5], [1.0, 0.5]),
    ({"mode": "max", "threshold": 0.5, "threshold_mode": "abs"}, [10.0, 10.51], [1.0, 1.0]),
    ({"mode": "max", "threshold": 0.5, "threshold_mode": "abs"}, [10.0, 10.4, 10.52], [1.0, 0.5, 0.5]),
])
def test_reduce_on_plateau_improvement_rule(kw, values, lrs):
    got, _ = _plateau(values, **kw)
    assert got == lrs


def test_reduce_on_plateau_best_follows_the_mode():
    _, low = _plateau([3.0, 2.0, 2.5])
    assert low.best == 2.0
    _, high = _plateau([3.0, 4.0, 3.5], mode="max")
    assert high.best == 4.0


def test_reduce_on_plateau_starts_with_no_bad_epochs_and_no_cooldown():
    # An infinite first value is no improvement on best = inf: one bad epoch, not two.
    _, sched = _plateau([])
    assert (sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch) == (0, 0, 0)
    opt = mm.SGD(_net().parameters(), lr=1.0)
    patient = mm.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    assert patient.step(float("inf")) == 1.0 and patient.num_bad_epochs == 1
    opt = mm.SGD(_net().parameters(), lr=1.0)
    eager = mm.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    assert eager.step(float("inf")) == 0.5                 # no cooldown left over to skip it


def test_a_schedule_without_an_optimizer_starts_at_epoch_0():
    for sched in (mm.StepLR(), mm.ExponentialLR(), mm.CosineAnnealingLR()):
        assert sched.last_epoch == 0 and sched.lrs == [] and sched.optimizer is None


@pytest.mark.parametrize("factor", [1.5, -0.1, 1.0000001])
def test_cosine_warmup_start_factor_lies_in_0_1(factor):
    with pytest.raises(ValueError, match="invalid warmup_start_factor"):
        mm.CosineAnnealingLR(mm.SGD(_net().parameters(), lr=0.1), T_max=5, warmup_epochs=2,
                             warmup_start_factor=factor)
    sched = mm.CosineAnnealingLR(mm.SGD(_net().parameters(), lr=0.1), T_max=5, warmup_epochs=2,
                                 warmup_start_factor=1.0)
    assert sched.lrs == [0.1]


# -- files that are not model files -----------------------------------------------------------
def test_a_text_file_is_said_to_be_neither_npz_nor_npy(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a model\n" * 10)
    with pytest.raises(ValueError, match=r"is not a minimlp model file \(neither an \.npz archive "
                                         r"nor a \.npy array\)"):
        mm.load(path)


def test_an_empty_file_is_said_to_be_no_npz_archive(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npz' is not a minimlp model file") as e:
        mm.load(path)
    assert ".npz archive" in str(e.value)


# -- more of Sequential's and the files' public behaviour -----------------------------------
@pytest.mark.parametrize("layers", [
    lambda: [mm.Dense(3, 4, rng=0), mm.ReLU()],
    lambda: [mm.Dense(3, 4, rng=0), mm.ReLU(), mm.Dense(4, 2, rng=1), mm.ReLU()],
    lambda: [mm.Dense(3, 4, rng=0), mm.Sigmoid()],
], ids=["dense-relu", "dense-relu-dense-relu", "dense-sigmoid"])
def test_forward_backward_and_fit_leave_the_callers_arrays_alone(layers):
    net = mm.Sequential(*layers())
    X = np.linspace(-2, 2, 24).reshape(8, 3)
    X0 = X.copy()
    Y = net.forward(X)
    dY = np.ones_like(Y)
    dX = net.backward(dY)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(dY, np.ones_like(Y))
    # dX = dY W^T through the activation's slope, against a fresh copy of the net
    twin = mm.Sequential(*layers())
    twin.forward(X0.copy())
    np.testing.assert_allclose(dX, twin.backward(np.ones_like(Y)), rtol=1e-15)
    T = np.zeros_like(Y)
    net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.01), epochs=2, batch_size=8,
            shuffle=False, verbose=0)
    np.testing.assert_array_equal(X, X0)


def test_a_network_of_identities_never_returns_the_callers_array():
    X = np.ones((2, 3))
    for net in (mm.Sequential(mm.Identity()), mm.Sequential()):
        for train in (True, False):
            Y = net.forward(X, train=train)
            assert Y is not X and not np.shares_memory(Y, X)
            np.testing.assert_array_equal(Y, X)
        assert not np.shares_memory(net.predict(X), X)


def test_fit_trains_a_first_layer_with_parameters_but_no_input_gradient_switch():
    # BatchNorm1d first: fit must still run its backward (its gamma and beta learn), as the
    # loop written by hand does.
    def make():
        return mm.Sequential(mm.BatchNorm1d(3), mm.Dense(3, 1, rng=0))
    X = np.linspace(-2, 3, 24).reshape(8, 3) ** 2
    T = X @ np.array([[1.0], [-2.0], [0.5]])
    net = make()
    net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1, batch_size=8,
            shuffle=False, verbose=0)
    ref = make()
    opt, loss = mm.SGD(ref.parameters(), lr=0.1), mm.MSELoss()
    loss.forward(ref.forward(X), T)
    ref.backward(loss.backward())
    opt.step()
    assert not np.array_equal(ref[0].gamma, np.ones(3))
    for p, q in zip(net.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-13)


def test_cosine_repr_names_its_non_default_arguments():
    opt = mm.SGD(_net().parameters(), lr=0.1)
    assert repr(mm.CosineAnnealingLR(opt, T_max=5)) == "CosineAnnealingLR(T_max=5)"
    assert repr(mm.CosineAnnealingLR(opt, T_max=5, eta_min=0.01)) == "CosineAnnealingLR(T_max=5, eta_min=0.01)"
    assert (repr(mm.CosineAnnealingLR(opt, T_max=5, eta_min=0.01, warmup_epochs=2, warmup_start_factor=0.5))
            == "CosineAnnealingLR(T_max=5, eta_min=0.01, warmup_epochs=2, warmup_start_factor=0.5)")
    assert (repr(mm.CosineAnnealingLR(opt, T_max=5, warmup_epochs=2))
            == "CosineAnnealingLR(T_max=5, warmup_epochs=2, warmup_start_factor=0.3333333333333333)")


@pytest.mark.parametrize("layer", [mm.Tanh(), mm.Dropout(0.3), mm.Sequential(mm.ReLU())], ids=repr)
def test_a_model_without_parameters_or_dtype_round_trips(tmp_path, layer):
    mm.save(layer, tmp_path / "m.npz")
    header = json.loads(str(_read(tmp_path / "m.npz")["__minimlp__"]))
    assert header["dtype"] == "float64"
    back = mm.load(tmp_path / "m.npz")
    assert repr(back) == repr(layer)


def test_an_unknown_layer_class_gets_the_closest_name(tmp_path):
    mm.save(mm.Sequential(mm.Dense(2, 2, rng=0), mm.Softplus()), tmp_path / "good.npz")

    def change(header, arrays):
        header["architecture"]["layers"][1]["class"] = "Sofplus"
    bad = _rewrite(tmp_path / "good.npz", tmp_path / "bad.npz", change)
    with pytest.raises(ValueError, match=r"unknown layer class 'Sofplus' \(did you mean 'Softplus'\?\)"):
        mm.load(bad)
