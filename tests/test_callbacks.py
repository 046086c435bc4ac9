"""Callbacks: the hook contract, EarlyStopping, ModelCheckpoint, and divergence handling."""
import numpy as np
import pytest
import minimlp as mm
from minimlp.callbacks import Callback
from minimlp.training import TrainingDiverged
import math


def mlp(seed=0):
    return mm.Sequential(mm.Dense(2, 6, rng=seed), mm.Tanh(), mm.Dense(6, 3, rng=seed + 1))


def data(N=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, 2)), rng.integers(0, 3, N)


def scripted(values):
    """A metric that returns the next of ``values`` each call (one call per full-batch epoch)."""
    it = iter(values)

    def score(Y, T):
        return next(it)
    return score


class Snapshots(Callback):
    """Copies of the parameters at the end of each epoch."""

    def __init__(self):
        self.at = {}

    def on_epoch_end(self, epoch, logs):
        self.at[epoch] = [p.value.copy() for p in self.model.parameters()]


# -- the hook contract ----------------------------------------------------------------------------

def test_hooks_run_in_order_with_the_attributes_set():
    events = []

    class Spy(Callback):
        def on_train_begin(self, logs):
            events.append(("train_begin", self.model is net, self.optimizer is opt,
                           isinstance(self.loss, mm.CrossEntropyLoss), len(self.history)))

        def on_epoch_begin(self, epoch):
            events.append(("epoch_begin", epoch))

        def on_batch_begin(self, batch):
            events.append(("batch_begin", batch))

        def on_batch_end(self, batch, logs):
            events.append(("batch_end", batch, sorted(logs)))

        def on_epoch_end(self, epoch, logs):
            events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs):
            events.append(("train_end", sorted(logs)))

    X, Y = data(N=5)
    net = mlp()
    opt = mm.SGD(net.parameters(), lr=0.1)
    net.fit(X, Y, loss="ce", optimizer=opt, epochs=2, batch_size=3, metrics=["accuracy"],
            validation_data=(X, Y), callbacks=[Spy()], verbose=0)
    batch_keys = ["accuracy", "loss", "size"]
    epoch_keys = ["accuracy", "loss", "val_accuracy", "val_loss"]
    per_epoch = lambda e: [("epoch_begin", e), ("batch_begin", 1), ("batch_end", 1, batch_keys),
                           ("batch_begin", 2), ("batch_end", 2, batch_keys), ("epoch_end", e, epoch_keys)]
    assert events == ([("train_begin", True, True, True, 0)] + per_epoch(1) + per_epoch(2)
                      + [("train_end", epoch_keys)])


def test_on_batch_end_runs_after_the_step_with_that_batch_gradient():
    lr = 0.1
    checks = []

    class Check(Callback):
        def on_batch_begin(self, batch):
            self.before = [p.value.copy() for p in self.model.parameters()]

        def on_batch_end(self, batch, logs):
            for b, p in zip(self.before, self.model.parameters()):   # plain SGD: v' = v - lr g
                checks.append(np.allclose(p.value, b - lr * p.grad, rtol=1e-13, atol=1e-15))
            checks.append(any(np.any(p.grad != 0) for p in self.model.parameters()))

    X, Y = data()
    net = mlp()
    net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=lr), epochs=1, batch_size=6,
            callbacks=[Check()], verbose=0)
    assert len(checks) == 4 * 5 and all(checks)   # 4 batches x (4 parameters + 1)


def test_any_callback_can_stop_training_after_the_epoch():
    class StopAt2(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                self.stop_training = True

    X, Y = data()
    net = mlp()
    h = net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=10,
                callbacks=[StopAt2()], verbose=0)
    assert h.epochs == [1, 2]


def test_batch_hooks_are_not_called_when_not_overridden():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs):
            self.seen = epoch

    def boom(*args):
        raise AssertionError("batch hook called")

    cb = EpochOnly()
    cb.on_batch_end = boom        # an instance attribute is not an override of the class hook
    X, Y = data()
    net = mlp()
    net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1, callbacks=[cb],
            verbose=0)
    assert cb.seen == 1


# -- EarlyStopping -------------------------------------------------------------------------------

def fit_scripted(values, *callbacks, epochs=None):
    X, Y = data()
    net = mlp()
    snaps = Snapshots()
    h = net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1),
                epochs=epochs or len(values), batch_size=len(X), metrics=[scripted(values)],
                callbacks=[*callbacks, snaps], shuffle=False, verbose=0)
    return net, h, snaps


def test_early_stopping_waits_patience_epochs_then_restores_the_best():
    es = mm.EarlyStopping(monitor="score", patience=2, mode="min")
    net, h, snaps = fit_scripted([5.0, 4.0, 4.5, 4.2, 3.0, 1.0], es)
    assert h.epochs == [1, 2, 3, 4]              # no improvement in epochs 3 and 4
    assert (es.best, es.best_epoch, es.stopped_epoch) == (4.0, 2, 4)
    for p, w in zip(net.parameters(), snaps.at[2]):
        np.testing.assert_array_equal(p.value, w)


def test_early_stopping_min_delta_and_max_mode():
    es = mm.EarlyStopping(monitor="score", patience=1, min_delta=0.1, mode="min",
                          restore_best_weights=False)
    net, h, snaps = fit_scripted([1.0, 0.95, 0.85, 0.8], es)
    assert h.epochs == [1, 2]                    # 0.95 is not 0.1 better than 1.0
    for p, w in zip(net.parameters(), snaps.at[2]):   # weights of the last epoch kept
        np.testing.assert_array_equal(p.value, w)
    es = mm.EarlyStopping(monitor="score", patience=1, mode="max")
    _, h, _ = fit_scripted([0.1, 0.5, 0.4, 0.9], es)
    assert h.epochs == [1, 2, 3] and es.best_epoch == 2


def test_early_stopping_auto_mode():
    assert mm.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert mm.EarlyStopping(monitor="val_loss").mode == "min"
    assert mm.EarlyStopping(monitor="mae").mode == "min"


def test_early_stopping_restores_best_even_without_stopping():
    es = mm.EarlyStopping(monitor="score", patience=5)
    net, h, snaps = fit_scripted([3.0, 1.0, 2.0], es)
    assert len(h) == 3 and es.stopped_epoch == 0
    for p, w in zip(net.parameters(), snaps.at[2]):
        np.testing.assert_array_equal(p.value, w)


@pytest.mark.parametrize("kwargs,match", [(dict(patience=-1), "patience"), (dict(patience=1.5), "patience"),
                                          (dict(min_delta=-0.1), "min_delta"), (dict(mode="up"), "mode")])
def test_early_stopping_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mm.EarlyStopping(**kwargs)


def test_monitoring_a_value_that_is_not_logged_fails_before_training():
    X, Y = data()
    net = mlp()
    before = [p.value.copy() for p in net.parameters()]
    with pytest.raises(ValueError, match="'val_loss' is not among.*validation_data"):
        net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=3,
                callbacks=[mm.EarlyStopping()], verbose=0)
    for b, p in zip(before, net.parameters()):
        np.testing.assert_array_equal(b, p.value)


# -- ModelCheckpoint -----------------------------------------------------------------------------

def test_checkpoint_every_epoch_with_a_formatted_path(tmp_path):
    ck = mm.ModelCheckpoint(tmp_path / "ck-{epoch:02d}.npz")
    _, _, snaps = fit_scripted([1.0, 2.0, 3.0], ck)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck-01.npz", "ck-02.npz", "ck-03.npz"]
    for e in (1, 3):
        loaded = mm.load(tmp_path / f"ck-{e:02d}.npz")
        for p, w in zip(loaded.parameters(), snaps.at[e]):
            np.testing.assert_array_equal(p.value, w)


def test_checkpoint_best_only_keeps_the_best_epoch_and_optimizer_state(tmp_path):
    path = tmp_path / "best.npz"
    ck = mm.ModelCheckpoint(path, monitor="score", save_best_only=True, mode="min")
    _, _, snaps = fit_scripted([3.0, 1.0, 2.0, 1.5], ck)
    assert ck.best_epoch == 2 and ck.last_saved == str(path)
    model, opt = mm.load(path, with_optimizer=True)
    for p, w in zip(model.parameters(), snaps.at[2]):
        np.testing.assert_array_equal(p.value, w)
    assert opt is not None and opt.steps == 2


# -- divergence ----------------------------------------------------------------------------------

def diverging_setup():
    X, Y = mm.datasets.sine(64, seed=0)
    X = 10 * X
    net = mm.Sequential(mm.Dense(1, 32, rng=1), mm.ReLU(), mm.Dense(32, 32, rng=2), mm.ReLU(),
                        mm.Dense(32, 1, rng=3))
    return net, X, Y


class Before(Callback):
    """The parameters at the start of each batch and of each epoch."""

    def on_epoch_begin(self, epoch):
        self.epoch_start = [p.value.copy() for p in self.model.parameters()]

    def on_batch_begin(self, batch):
        self.batch_start = [p.value.copy() for p in self.model.parameters()]


@pytest.mark.parametrize("errors", ["raise", "ignore"])
def test_divergence_stops_with_a_clear_error_and_finite_weights(errors):
    net, X, Y = diverging_setup()
    rec = Before()
    with np.errstate(all=errors, under="ignore"), pytest.raises(TrainingDiverged) as info:
        net.fit(X, Y, loss="mse", optimizer=mm.SGD(net.parameters(), lr=100.0), epochs=20,
                batch_size=16, seed=0, callbacks=[rec], verbose=0)
    e = info.value
    assert isinstance(e, FloatingPointError) and isinstance(e, ValueError)
    msg = str(e)
    assert f"epoch {e.epoch}" in msg and "smaller learning rate" in msg and "lr is 100" in msg
    if e.batch is not None:
        assert f"batch {e.batch}/4" in msg
    assert all(np.isfinite(p.value).all() for p in net.parameters())
    expected = {"before_step": rec.batch_start, "epoch_start": rec.epoch_start}[e.restored]
    for p, w in zip(net.parameters(), expected):
        np.testing.assert_array_equal(p.value, w)


def test_divergence_restores_the_best_weights_a_callback_kept():
    net, X, Y = diverging_setup()
    snaps = Snapshots()
    es = mm.EarlyStopping(monitor="loss", patience=100)
    opt = mm.SGD(net.parameters(), lr=1e-3)
    net.fit(X, Y, loss="mse", optimizer=opt, epochs=3, batch_size=16, seed=0,
            callbacks=[es, snaps], verbose=0)
    best = es.best_epoch
    opt.lr = 100.0
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as info:
        # The growth check would stop at the end of the first bad epoch, before a callback
        # held anything: turned off, training runs on until NaN and the best is restored.
        net.fit(X, Y, loss="mse", optimizer=opt, epochs=30, initial_epoch=3, batch_size=16,
                seed=0, callbacks=[es, snaps], verbose=0, max_loss_growth=None)
    e = info.value
    assert e.restored == "best" and "epoch" in str(e)
    for p, w in zip(net.parameters(), snaps.at[es.best_epoch]):
        np.testing.assert_array_equal(p.value, w)
    assert es.best_epoch >= best


def test_infinite_validation_loss_is_divergence():
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((20, 2)), rng.standard_normal((20, 1))
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    Xv = np.full((3, 2), 1e308)          # finite inputs whose squared error overflows
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="validation loss"):
        net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=2,
                validation_data=(Xv, T[:3]), verbose=0)
    assert all(np.isfinite(p.value).all() for p in net.parameters())


def test_floating_point_errors_in_callbacks_are_not_taken_for_divergence():
    class Broken(Callback):
        def on_batch_end(self, batch, logs):
            raise FloatingPointError("a bug in my callback")

    X, Y = data()
    net = mlp()
    with pytest.raises(FloatingPointError, match="a bug in my callback") as info:
        net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
                callbacks=[Broken()], verbose=0)
    assert not isinstance(info.value, TrainingDiverged)


def test_best_weights_include_layer_buffers():
    X, Y = data(N=24)
    net = mm.Sequential(mm.Dense(2, 6, rng=0), mm.BatchNorm1d(6), mm.Tanh(), mm.Dense(6, 3, rng=1))
    bn = net[1]

    class Stats(Callback):
        def __init__(self):
            self.at = {}

        def on_epoch_end(self, epoch, logs):
            self.at[epoch] = {k: v.copy() for k, v in bn.buffers().items()}

    stats = Stats()
    es = mm.EarlyStopping(monitor="score", patience=5)
    net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=3, batch_size=8,
            metrics=[scripted([2.0, 2.0, 2.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0])], callbacks=[es, stats],
            verbose=0)
    assert es.best_epoch == 2      # batch scores 2, 1, 2 -> epoch means 2, 5/3, 3
    for k, v in bn.buffers().items():
        np.testing.assert_array_equal(v, stats.at[2][k])
        assert not np.array_equal(v, stats.at[3][k])


# -- checks made when training begins ---------------------------------------------------------------

@pytest.mark.parametrize("name,match", [
    ("x-{val_loss:.2f}.npz", r"field \{val_loss\}.*pass validation_data or validation_split"),
    ("nodir/x.npz", r"the folder '[^']*nodir' of path '[^']*nodir/x\.npz' does not exist"),
])
def test_checkpoint_path_is_checked_before_any_training(tmp_path, name, match):
    X, Y = data()
    net = mlp()
    before = [p.value.copy() for p in net.parameters()]
    ck = mm.ModelCheckpoint(str(tmp_path / name))
    with pytest.raises(ValueError, match=match):
        net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=2,
                callbacks=[ck], verbose=0)
    for b, p in zip(before, net.parameters()):
        np.testing.assert_array_equal(b, p.value)
    assert list(tmp_path.iterdir()) == []          # nothing written, no folder created


def test_checkpoint_path_with_validation_fields_and_an_existing_folder_works(tmp_path):
    X, Y = data()
    net = mlp()
    (tmp_path / "runs").mkdir()
    ck = mm.ModelCheckpoint(tmp_path / "runs" / "x-{epoch}-{val_accuracy:.2f}.npz")
    h = net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=2,
                validation_split=0.25, metrics=["acc"], callbacks=[ck], verbose=0, seed=0)
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert names == [f"x-{e}-{a:.2f}.npz" for e, a in zip((1, 2), h["val_accuracy"])]


def test_monitor_suggests_the_logged_name():
    X, Y = data()
    net = mlp()
    for monitor, guess in [("val_acc", "val_accuracy"), ("val_los", "val_loss"), ("acc", "accuracy")]:
        with pytest.raises(ValueError) as info:
            net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
                    metrics=["accuracy"], validation_split=0.25, verbose=0,
                    callbacks=[mm.EarlyStopping(monitor=monitor)])
        assert f"did you mean {guess!r}?" in str(info.value)
        assert "validation_split" not in str(info.value)   # validation is there already


# -- (formerly test_early_stopping_options.py) EarlyStopping(baseline=, start_from_epoch=) with Keras's semantics, an --

def keras_stop_epoch(values, patience, baseline=None, start_from_epoch=0, min_delta=0.0, mode="min"):
    """(stopped epoch, best epoch), 1-based as minimlp reports them, by Keras's algorithm
    with its 0-based epochs; stopped epoch 0 when it never stops."""
    better = (lambda a, b: a - min_delta < b) if mode == "min" else (lambda a, b: a + min_delta > b)
    best, best_epoch, wait = (math.inf if mode == "min" else -math.inf), None, 0
    for epoch, value in enumerate(values):                  # Keras: 0-based
        if epoch < start_from_epoch:
            continue
        wait += 1
        if better(value, best):
            best, best_epoch = value, epoch + 1
            if baseline is None or better(value, baseline):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch + 1, best_epoch
    return 0, best_epoch


def drive(cb, values):
    """Run the callback's hooks over scripted monitored values; return the epochs run."""
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    cb.model, cb.params = net, {"metrics": ["loss"]}
    cb.on_train_begin({})
    for epoch, v in enumerate(values, start=1):
        net[0].W[...] = epoch                      # a weight that names its epoch
        cb.on_epoch_end(epoch, {"loss": v})
        if cb.stop_training:
            break
    cb.on_train_end({})
    return epoch, net


# -- worked by hand ------------------------------------------------------------------------
def test_baseline_never_beaten_stops_at_the_first_epoch_without_improvement():
    # wait counts 1, 2 (improving, above the baseline: no reset), 3 at 0.85 >= patience 2
    cb = mm.EarlyStopping(monitor="loss", patience=2, baseline=0.5)
    epochs, net = drive(cb, [0.9, 0.8, 0.85, 0.7, 0.6])
    assert (epochs, cb.stopped_epoch, cb.best_epoch) == (3, 3, 2)
    assert net[0].W[0, 0] == 2                   # the best epoch's weights are restored


def test_beating_the_baseline_resets_the_count():
    cb = mm.EarlyStopping(monitor="loss", patience=2, baseline=0.5)
    epochs, _ = drive(cb, [0.9, 0.4, 0.45, 0.46, 0.47, 0.3])
    assert (epochs, cb.stopped_epoch, cb.best) == (4, 4, 0.4)


def test_improving_above_the_baseline_never_stops():
    """Keras's rule: an epoch that improves on the best but not on the baseline neither
    resets the count nor stops training."""
    cb = mm.EarlyStopping(monitor="loss", patience=1, baseline=0.5)
    epochs, _ = drive(cb, [0.9, 0.8, 0.7, 0.6, 0.55])
    assert (epochs, cb.stopped_epoch, cb.wait) == (5, 0, 5)


def test_baseline_counts_min_delta_and_mode():
    # needs < 0.5 - 0.1: 0.45 does not beat the baseline (no reset: wait 1, then 2 stops),
    # 0.35 does (wait 0, 1, 2 stops); without min_delta 0.45 beats it
    cb = mm.EarlyStopping(monitor="loss", patience=2, baseline=0.5, min_delta=0.1)
    assert drive(cb, [0.45, 0.46, 0.47])[0] == 2
    cb = mm.EarlyStopping(monitor="loss", patience=2, baseline=0.5)
    assert drive(cb, [0.45, 0.46, 0.47])[0] == 3
    cb = mm.EarlyStopping(monitor="loss", patience=2, baseline=0.5, min_delta=0.1)
    assert drive(cb, [0.35, 0.36, 0.37, 0.38])[0] == 3
    # mode max: the baseline is a floor to rise above
    cb = mm.EarlyStopping(monitor="loss", patience=1, baseline=0.8, mode="max")
    assert drive(cb, [0.5, 0.4, 0.9])[0] == 2
    cb = mm.EarlyStopping(monitor="loss", patience=1, baseline=0.8, mode="max")
    assert drive(cb, [0.85, 0.9, 0.95, 0.9, 1.0])[0] == 4


def test_start_from_epoch_ignores_the_warm_up():
    values = [0.1, 0.2, 0.9, 0.95, 0.8]
    cb = mm.EarlyStopping(monitor="loss", patience=1)
    assert drive(cb, values)[0] == 2 and cb.best_epoch == 1
    cb = mm.EarlyStopping(monitor="loss", patience=1, start_from_epoch=2)
    epochs, net = drive(cb, values)
    # epochs 1 and 2 unseen: 0.9 at epoch 3 is the first best, 0.95 at epoch 4 stops
    assert (epochs, cb.best_epoch, cb.best) == (4, 3, 0.9)
    assert net[0].W[0, 0] == 3


def test_restore_best_weights_false_keeps_the_last_epoch():
    cb = mm.EarlyStopping(monitor="loss", patience=1, restore_best_weights=False)
    epochs, net = drive(cb, [0.5, 0.7, 0.8])
    assert epochs == 2 and cb.best_epoch == 1
    assert net[0].W[0, 0] == 2
    assert cb.restorable_weights() is None      # nothing for fit to restore on divergence


@pytest.mark.parametrize("seed", range(40))
def test_random_sequences_follow_keras(seed):
    rng = np.random.default_rng(seed)
    values = list(np.round(rng.uniform(0, 1, 12), 1))    # ties happen
    patience, start = int(rng.integers(0, 4)), int(rng.integers(0, 4))
    baseline = [None, 0.3, 0.6][seed % 3]
    mode = ["min", "max"][seed % 2]
    cb = mm.EarlyStopping(monitor="loss", patience=patience, baseline=baseline, start_from_epoch=start,
                          mode=mode, min_delta=0.05 if seed % 4 == 0 else 0.0)
    drive(cb, values)
    assert (cb.stopped_epoch, cb.best_epoch) == keras_stop_epoch(
        values, patience, baseline, start, 0.05 if seed % 4 == 0 else 0.0, mode)


# -- through fit ---------------------------------------------------------------------------
def _constant_loss_fit(**kw):
    """lr = 0: the loss is the same every epoch, so no epoch after the first improves."""
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((12, 2)), rng.standard_normal((12, 1))
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    cb = mm.EarlyStopping(monitor="loss", **kw)
    h = net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.0), epochs=10,
                batch_size=4, shuffle=False, callbacks=[cb], verbose=0)
    return len(h), cb


def test_fit_with_start_from_epoch_and_baseline():
    assert _constant_loss_fit(patience=1)[0] == 2
    assert _constant_loss_fit(patience=1, start_from_epoch=3)[0] == 5
    n, cb = _constant_loss_fit(patience=3)
    assert n == 4
    n, cb = _constant_loss_fit(patience=3, baseline=cb.best / 2)     # never beaten
    assert n == 3 and cb.stopped_epoch == 3


def test_fit_restore_best_weights_false():
    rng = np.random.default_rng(1)
    X, T = rng.standard_normal((12, 2)), rng.standard_normal((12, 1))
    kept = {}

    class Keep(mm.Callback):
        def on_epoch_end(self, epoch, logs):
            kept[epoch] = self.model[0].W.copy()

    for restore in (True, False):
        net = mm.Sequential(mm.Dense(2, 1, rng=0))
        cb = mm.EarlyStopping(monitor="loss", patience=10, mode="max", restore_best_weights=restore)
        net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.05), epochs=4,
                batch_size=4, callbacks=[Keep(), cb], verbose=0, seed=0)
        assert cb.best_epoch == 1               # mode max on a falling loss: the first epoch
        np.testing.assert_array_equal(net[0].W, kept[1] if restore else kept[4])
        assert not np.array_equal(kept[1], kept[4])


@pytest.mark.parametrize("kw,pattern", [
    (dict(baseline="0.5"), r"EarlyStopping: baseline must be None or a finite number, got '0.5'"),
    (dict(baseline=math.nan), r"baseline must be None or a finite number, got nan"),
    (dict(baseline=True), r"baseline must be None or a finite number"),
    (dict(start_from_epoch=-1), r"EarlyStopping: start_from_epoch must be an integer >= 0, got -1"),
    (dict(start_from_epoch=1.5), r"start_from_epoch must be an integer >= 0, got 1.5"),
])
def test_bad_arguments(kw, pattern):
    with pytest.raises(ValueError, match=pattern):
        mm.EarlyStopping(**kw)


def test_repr():
    assert repr(mm.EarlyStopping(baseline=0.5, start_from_epoch=2)) == (
        "EarlyStopping(monitor='val_loss', patience=5, min_delta=0.0, mode='min', "
        "restore_best_weights=True, baseline=0.5, start_from_epoch=2)")
