"""EarlyStopping(baseline=, start_from_epoch=) with Keras's semantics, and
restore_best_weights=False (Keras's default; minimlp's default is True).

Keras's rule (keras/src/callbacks/early_stopping.py, epochs counted from 0 there, from 1
in minimlp), restated here as `keras_stop_epoch` and also worked by hand on short sequences.
"""
import math

import numpy as np
import pytest

import minimlp as mm


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
