"""fit, evaluate, History, metrics and the classifier helpers.

Expected values come from formulas written out here (plain numpy gradient descent for a
linear model, softmax by hand), never from the code under test.
"""
import csv
import io
import json
import tracemalloc
import warnings

import numpy as np
import pytest

import minimlp as mm
from minimlp import metrics
from minimlp.callbacks import Callback, ProgressBar
from minimlp.layer import Layer
from minimlp.training import LOSSES, History, TrainingDiverged, evaluate, fit, predict_classes, predict_proba


def mlp(D_in=2, H=8, D_out=3, dtype=np.float64, seed=0):
    return mm.Sequential(mm.Dense(D_in, H, rng=seed, dtype=dtype), mm.Tanh(),
                         mm.Dense(H, D_out, rng=seed + 1, dtype=dtype))


def data(N=40, D_in=2, C=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, D_in)), rng.integers(0, C, N)


def weights(model):
    return [p.value.copy() for p in model.parameters()]


class Recorder(Layer):
    """Identity layer that records the rows it sees in training forwards."""

    def __init__(self):
        self.seen = []

    def forward(self, X, train=True):
        if train:
            self.seen.append(X.copy())
        return X

    def backward(self, dY):
        return dY


class BatchLog(Callback):
    def __init__(self):
        self.batches = []

    def on_batch_end(self, batch, logs):
        self.batches.append(dict(logs))


# -- the step is gradient descent -----------------------------------------------------------

@pytest.mark.parametrize("batch_size", [12, 100])   # 100 > N is clamped to full batch
def test_full_batch_sgd_equals_hand_written_gradient_descent(batch_size):
    rng = np.random.default_rng(1)
    X, T = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    net = mm.Sequential(mm.Dense(3, 2, rng=0))
    W, b = net[0].W.copy(), net[0].b.copy()
    lr = 0.1
    for _ in range(3):   # L = 1/(N D) sum (XW + b - T)^2
        G = 2 * (X @ W + b - T) / T.size
        W, b = W - lr * X.T @ G, b - lr * G.sum(axis=0)
    h = net.fit(X, T, loss=mm.MSELoss(), optimizer=mm.SGD(net.parameters(), lr=lr), epochs=3,
                batch_size=batch_size, shuffle=False, verbose=0)
    np.testing.assert_allclose(net[0].W, W, rtol=1e-12)
    np.testing.assert_allclose(net[0].b, b, rtol=1e-12)
    assert h.params["batch_size"] == 12 and h.params["steps"] == 1


def test_unshuffled_minibatches_are_consecutive_slices():
    rng = np.random.default_rng(2)
    X, T = rng.standard_normal((10, 2)), rng.standard_normal((10, 1))
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    W, b = net[0].W.copy(), net[0].b.copy()
    for s in (0, 4, 8):      # the last batch has 2 rows and is used
        Xb, Tb = X[s:s + 4], T[s:s + 4]
        G = 2 * (Xb @ W + b - Tb) / Tb.size
        W, b = W - 0.05 * Xb.T @ G, b - 0.05 * G.sum(axis=0)
    net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.05), epochs=1,
            batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(net[0].W, W, rtol=1e-12)
    np.testing.assert_allclose(net[0].b, b, rtol=1e-12)


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses():
    X, Y = data(N=10)
    net = mlp()
    log = BatchLog()
    h = net.fit(X, Y, loss=mm.CrossEntropyLoss(), optimizer=mm.SGD(net.parameters(), lr=0.1),
                epochs=1, batch_size=4, metrics=["accuracy"], callbacks=[log], seed=0, verbose=0)
    sizes = [b["size"] for b in log.batches]
    assert sizes == [4, 4, 2]
    expected = sum(b["size"] * b["loss"] for b in log.batches) / 10
    assert h["loss"][0] == pytest.approx(expected, rel=1e-12)
    acc = sum(b["size"] * b["accuracy"] for b in log.batches) / 10
    assert h["accuracy"][0] == pytest.approx(acc, rel=1e-12)


# -- shuffling and the validation split ---------------------------------------------------------

def seen_rows(X, Y, **kw):
    rec = Recorder()
    net = mm.Sequential(rec, mm.Dense(X.shape[1], 3, rng=0))
    kw.setdefault("epochs", 2)
    net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.0), batch_size=7,
            verbose=0, **kw)
    per_epoch = len(rec.seen) // kw["epochs"]
    return [np.concatenate(rec.seen[i * per_epoch:(i + 1) * per_epoch]) for i in range(kw["epochs"])]


def test_each_epoch_sees_every_row_once_in_the_documented_order():
    X = np.arange(60.0).reshape(30, 2)
    Y = np.zeros(30, dtype=int)
    epochs = seen_rows(X, Y, seed=5)
    for e, rows in enumerate(epochs, 1):
        np.testing.assert_array_equal(np.sort(rows[:, 0]), X[:, 0])     # each row once
        ss = np.random.SeedSequence(5, spawn_key=(1, e))                # module docstring
        np.testing.assert_array_equal(rows, X[np.random.default_rng(ss).permutation(30)])
    assert not np.array_equal(epochs[0], epochs[1])
    unshuffled = seen_rows(X, Y, seed=5, shuffle=False)
    np.testing.assert_array_equal(unshuffled[0], X)


def test_split_and_shuffle_streams_are_independent():
    X = np.arange(80.0).reshape(40, 2)
    Y = np.zeros(40, dtype=int)
    # The validation split does not depend on shuffling ...
    a = seen_rows(X, Y, seed=3, validation_split=0.25, shuffle=True)[0]
    b = seen_rows(X, Y, seed=3, validation_split=0.25, shuffle=False)[0]
    np.testing.assert_array_equal(np.sort(a[:, 0]), b[:, 0])
    held_out = np.setdiff1d(X[:, 0], b[:, 0])
    assert held_out.size == 10
    perm = np.random.default_rng(np.random.SeedSequence(3, spawn_key=(0,))).permutation(40)
    np.testing.assert_array_equal(held_out, np.sort(X[perm[:10], 0]))
    # ... and the shuffle order does not depend on whether a split was drawn before it.
    c = seen_rows(X, Y, seed=3)[0]
    d = seen_rows(X, Y, seed=3, validation_data=(X[:5], Y[:5]))[0]
    np.testing.assert_array_equal(c, d)


def test_validation_split_holds_out_rows_and_reports_val_loss():
    X, Y = data(N=50)
    net = mlp()
    h = net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=2,
                validation_split=0.2, metrics=["accuracy"], seed=0, verbose=0)
    assert h.params["samples"] == 40 and h.params["validation_samples"] == 10
    assert list(h.keys()) == ["loss", "accuracy", "val_loss", "val_accuracy", "time"]


def test_validation_values_match_a_hand_computed_loss():
    rng = np.random.default_rng(4)
    X, T = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    Xv, Tv = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    net = mm.Sequential(mm.Dense(3, 2, rng=0))
    h = net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
                batch_size=5, validation_data=(Xv, Tv), metrics=["mae"], seed=0, verbose=0)
    P = Xv @ net[0].W + net[0].b
    assert h["val_loss"][0] == pytest.approx(np.mean((P - Tv) ** 2), rel=1e-12)
    assert h["val_mae"][0] == pytest.approx(np.mean(np.abs(P - Tv)), rel=1e-12)


# -- reproducibility ------------------------------------------------------------------------

def run(seed, **kw):
    X, Y = data(N=45)
    net = mlp()
    opt = mm.Adam(net.parameters(), lr=0.01)
    h = net.fit(X, Y, loss="ce", optimizer=opt, epochs=3, batch_size=8, validation_split=0.2,
                metrics=["accuracy"], seed=seed, verbose=0, **kw)
    return h, weights(net)


def test_same_seed_gives_bit_identical_history_and_weights():
    h1, w1 = run(11)
    h2, w2 = run(11)
    for k in h1.keys():
        if k != "time":
            assert h1[k] == h2[k]
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    _, w3 = run(12)
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))


def test_seed_none_records_its_entropy_and_replays():
    h1, w1 = run(None)
    h2, w2 = run(h1.params["seed"])
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_resuming_with_initial_epoch_matches_an_uninterrupted_run():
    X, Y = data(N=30)
    kw = dict(loss="ce", batch_size=7, seed=9, verbose=0)
    a = mlp()
    a.fit(X, Y, optimizer=mm.SGD(a.parameters(), lr=0.1, momentum=0.9), epochs=4, **kw)
    b = mlp()
    opt = mm.SGD(b.parameters(), lr=0.1, momentum=0.9)
    b.fit(X, Y, optimizer=opt, epochs=2, **kw)
    h = b.fit(X, Y, optimizer=opt, epochs=4, initial_epoch=2, **kw)
    assert h.epochs == [3, 4]
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


# -- argument checks: clear errors, nothing changed ----------------------------------------------

X0, Y0 = data(N=20)
BAD = [
    (dict(epochs=0), ValueError, "epochs"),
    (dict(epochs=2.5), TypeError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=-3), ValueError, "batch_size"),
    (dict(batch_size=4.0), TypeError, "batch_size"),
    (dict(validation_split=1.0), ValueError, "validation_split"),
    (dict(validation_split=-0.1), ValueError, "validation_split"),
    (dict(validation_split=0.01), ValueError, "validation_split"),
    (dict(Y=Y0[:19]), ValueError, "20 rows"),
    (dict(validation_data=(X0[:, :1], Y0)), ValueError, "validation_data"),
    (dict(validation_data=(X0, Y0[:5])), ValueError, "validation_data"),
    (dict(validation_data=X0), TypeError, "validation_data"),
    (dict(validation_data=(X0, Y0), validation_split=0.2), ValueError, "not both"),
    (dict(metrics=["accuracy", "f1"]), ValueError, r"allowed: accuracy \(or acc, binary_accuracy\), mae, mse"),
    (dict(metrics=[3]), TypeError, "metric"),
    (dict(loss="hinge"), ValueError, "allowed: mse"),
    (dict(loss=mm.Dense), TypeError, "loss"),
    (dict(optimizer=42), TypeError, "optimizer"),
    (dict(optimizer="sgdd"), ValueError, "unknown optimizer 'sgdd'"),
    (dict(callbacks=[Callback]), TypeError, "callbacks\\[0\\]"),
    (dict(verbose=3), ValueError, "verbose"),
    (dict(shuffle="yes"), TypeError, "shuffle"),
    (dict(initial_epoch=3), ValueError, "initial_epoch"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed="abc"), TypeError, "seed"),
    (dict(X=X0[:, :1]), ValueError, "expects input of shape \\(N, 2\\)"),
    (dict(Y=Y0 + 3), ValueError, "class labels"),
    (dict(callbacks=[mm.EarlyStopping()]), ValueError, "val_loss"),
]


@pytest.mark.parametrize("change,err,match", BAD)
def test_bad_arguments_raise_and_change_nothing(change, err, match):
    net = mlp()
    opt = mm.Adam(net.parameters(), lr=0.1)
    before = weights(net)
    kw = dict(X=X0, Y=Y0, loss="ce", optimizer=opt, epochs=3, verbose=0)
    kw.update(change)
    X, Y = kw.pop("X"), kw.pop("Y")
    with pytest.raises(err, match=match):
        net.fit(X, Y, **kw)
    for a, p in zip(before, net.parameters()):
        np.testing.assert_array_equal(a, p.value)
    assert opt.steps == 0 and all((m == 0).all() for m in opt._m)


def test_optimizer_of_another_model_is_refused():
    net = mlp()
    with pytest.raises(ValueError, match="not this model's"):
        net.fit(X0, Y0, loss="ce", optimizer=mm.SGD(mlp().parameters()), epochs=1, verbose=0)


def test_loss_names():
    assert isinstance(LOSSES["ce"](), mm.CrossEntropyLoss)
    assert isinstance(LOSSES["cross_entropy"](), mm.CrossEntropyLoss)
    assert isinstance(LOSSES["mse"](), mm.MSELoss)
    assert isinstance(LOSSES["bce_with_logits"](), mm.BCEWithLogitsLoss)


# -- dtypes and targets -------------------------------------------------------------------------

def test_float32_model_casts_float64_data_once_and_stays_float32():
    X, Y = data(N=30)
    net = mlp(dtype=np.float32)
    h = net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=2, verbose=0,
                seed=0)
    assert all(p.value.dtype == np.float32 for p in net.parameters())
    assert np.isfinite(h["loss"]).all()


def test_one_hot_targets_and_labels_train_identically():
    X, Y = data(N=24)
    kw = dict(loss="ce", epochs=2, batch_size=5, seed=1, verbose=0)
    a, b = mlp(), mlp()
    a.fit(X, Y, optimizer=mm.SGD(a.parameters(), lr=0.3), **kw)
    b.fit(X, mm.datasets.one_hot(Y, 3), optimizer=mm.SGD(b.parameters(), lr=0.3), **kw)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-12, atol=1e-15)


def test_binary_classification_with_one_logit():
    X, y = mm.datasets.moons(120, noise=0.05, seed=0)
    net = mm.Sequential(mm.Dense(2, 16, rng=0), mm.Tanh(), mm.Dense(16, 1, rng=1))
    h = net.fit(X, y.reshape(-1, 1).astype(float), loss=mm.BCEWithLogitsLoss(),
                optimizer=mm.Adam(net.parameters(), lr=0.05), epochs=100, batch_size=16,
                metrics=["accuracy"], seed=0, verbose=0)
    assert h["accuracy"][-1] > 0.95
    assert (predict_classes(net, X) == y).mean() > 0.95


# -- a step allocates nothing proportional to batch x width --------------------------------------

def test_steady_state_batches_allocate_no_batch_sized_arrays():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((600, 16)), rng.integers(0, 4, 600)
    net = mm.Sequential(mm.Dense(16, 512, rng=0), mm.ReLU(), mm.Dense(512, 512, rng=1), mm.ReLU(),
                        mm.Dense(512, 4, rng=2))

    class Peak(Callback):
        def on_batch_begin(self, batch):
            if batch == 2:
                tracemalloc.start()
                tracemalloc.reset_peak()

        def on_batch_end(self, batch, logs):
            if batch == self.params["steps"]:
                self.peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()

    cb = Peak()
    net.fit(X, Y, loss="ce", optimizer=mm.Adam(net.parameters()), epochs=1, batch_size=128,
            callbacks=[cb], metrics=["accuracy"], seed=0, verbose=0)
    one_activation = 128 * 512 * 8   # a (batch, width) float64 array: 512 KiB
    # numpy's ufunc casting buffer (8192 elements, 64 KiB) is the largest allowed temporary.
    assert cb.peak < one_activation / 4


# -- evaluate, metrics, classifier helpers ------------------------------------------------------

def test_evaluate_matches_hand_computation_and_chunks_agree():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((11, 2)), rng.integers(0, 3, 11)
    net = mlp()
    Z = np.tanh(X @ net[0].W + net[0].b) @ net[2].W + net[2].b
    logp = Z - Z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    ce = -logp[np.arange(11), Y].mean()
    acc = (Z.argmax(1) == Y).mean()
    for bs in (None, 4):
        out = evaluate(net, X, Y, loss="ce", metrics=["accuracy"], batch_size=bs)
        assert out["loss"] == pytest.approx(ce, rel=1e-12)
        assert out["accuracy"] == pytest.approx(acc, rel=1e-12)
    assert net.evaluate(X, Y, metrics=["accuracy"]) == {"accuracy": pytest.approx(acc)}
    with pytest.raises(ValueError, match="nothing to compute"):
        evaluate(net, X, Y)


def test_metric_functions_by_hand():
    Y = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert metrics.accuracy(Y, np.array([1, 1, 1])) == pytest.approx(2 / 3)
    assert metrics.accuracy(Y, np.array([[0, 1], [1, 0], [1, 0]])) == pytest.approx(2 / 3)
    one = np.array([[0.2], [-0.4], [0.7]])
    assert metrics.accuracy(one, np.array([[1.0], [0.0], [0.0]])) == pytest.approx(1 / 3)
    assert metrics.accuracy(one, np.array([[1.0], [0.0], [0.0]]), threshold=0.0) == pytest.approx(2 / 3)
    P, T = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[2.0, 2.0], [1.0, 5.0]])
    assert metrics.mae(P, T) == pytest.approx(3 / 4)
    assert metrics.mse(P, T) == pytest.approx(5 / 4)


def test_one_column_accuracy_thresholds_logits_at_zero_with_bce_with_logits():
    name, f = metrics.get_metric("accuracy", logits=True)
    assert name == "accuracy"
    assert f(np.array([[0.2], [-0.4]]), np.array([[1.0], [0.0]])) == 1.0


def test_custom_metric_function():
    def worst(Y, T):
        return float(np.abs(Y - T).max())
    X, T = np.ones((6, 2)), np.zeros((6, 1))
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    h = net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.0), epochs=1,
                metrics=[worst], verbose=0)
    assert h["worst"][0] == pytest.approx(abs(net[0].W.sum() + net[0].b[0]))


def test_predict_proba_and_classes():
    X = np.random.default_rng(0).standard_normal((7, 2))
    net = mlp()
    Z = net.predict(X)
    P = np.exp(Z) / np.exp(Z).sum(1, keepdims=True)
    np.testing.assert_allclose(predict_proba(net, X), P, rtol=1e-12)
    np.testing.assert_array_equal(predict_classes(net, X), Z.argmax(1))
    binary = mm.Sequential(mm.Dense(2, 1, rng=0))
    z = binary.predict(X)[:, 0]
    np.testing.assert_allclose(predict_proba(binary, X)[:, 0], 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_array_equal(predict_classes(binary, X), (z > 0).astype(int))
    with_sigmoid = mm.Sequential(mm.Dense(2, 1, rng=0), mm.Sigmoid())
    p = with_sigmoid.predict(X)[:, 0]
    np.testing.assert_array_equal(predict_classes(with_sigmoid, X), (p > 0.5).astype(int))
    np.testing.assert_array_equal(predict_proba(with_sigmoid, X)[:, 0], p)


# -- History ------------------------------------------------------------------------------------

def make_history():
    h = History(["loss", "val_loss", "time"])
    h.append(1, {"loss": 0.5, "val_loss": 0.7, "time": 0.01})
    h.append(2, {"loss": 0.25, "val_loss": 0.6, "time": 0.02})
    return h


def test_history_access_and_exports(tmp_path):
    h = make_history()
    assert len(h) == 2 and h.epochs == [1, 2] and h["loss"] == [0.5, 0.25]
    with pytest.raises(KeyError, match="keys"):
        h["accuracy"]
    rows = list(csv.reader(io.StringIO(h.to_csv(tmp_path / "h.csv"))))
    assert rows[0] == ["epoch", "loss", "val_loss", "time"]
    assert [float(x) for x in rows[2]] == [2, 0.25, 0.6, 0.02]
    assert (tmp_path / "h.csv").read_text() == h.to_csv()
    h.to_json(tmp_path / "h.json")
    assert json.loads((tmp_path / "h.json").read_text()) == {
        "epoch": [1, 2], "loss": [0.5, 0.25], "val_loss": [0.7, 0.6], "time": [0.01, 0.02]}
    table = h.table().splitlines()
    assert [c.strip() for c in table[0].split("|")[1:-1]] == ["epoch", "loss", "val_loss", "time (s)"]
    assert set(table[1]) <= set("|-:")
    assert [c.strip() for c in table[3].split("|")[1:-1]] == ["2", "0.25", "0.6", "0.02"]


def test_history_table_shortens_long_runs():
    h = History(["loss"])
    for e in range(1, 101):
        h.append(e, {"loss": 1.0 / e})
    lines = h.table(max_rows=5).splitlines()[2:]
    shown = [int(line.split("|")[1]) for line in lines]
    assert len(shown) == 5 and shown[0] == 1 and shown[-1] == 100
    assert set(np.diff(shown)) <= {24, 25, 26}


def test_history_table_steps_evenly_and_names_the_time_unit():
    """D14: 300 epochs in 6 rows were 1, 61, 121, 180, 240, 300."""
    h = History(["loss", "time"])
    for e in range(1, 301):
        h.append(e, {"loss": 1.0 / e, "time": 0.01})
    lines = h.table(max_rows=6).splitlines()
    assert "time (s)" in lines[0]
    assert [int(line.split("|")[1]) for line in lines[2:]] == [1, 60, 120, 180, 240, 300]


def test_evaluate_returns_plain_floats():
    X, Y = data(N=20)
    net = mlp()
    out = mm.evaluate(net, X, Y, loss="ce", metrics=["accuracy"])
    assert all(type(v) is float for v in out.values()), out


# -- progress output ----------------------------------------------------------------------------

def test_verbose_levels(capsys):
    X, Y = data(N=20)
    net = mlp()
    kw = dict(loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=3, metrics=["accuracy"])
    net.fit(X, Y, verbose=0, **kw)
    assert capsys.readouterr().out == ""
    net.fit(X, Y, verbose=1, **kw)             # captured stdout is not a terminal: one line each
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3") and "accuracy" in lines[0]
    net.fit(X, Y, verbose=2, validation_split=0.25, **kw)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "val_loss" in lines[2]


def test_progress_bar_writes_a_bar_per_epoch():
    out = io.StringIO()
    X, Y = data(N=20)
    net = mlp()
    net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=2, batch_size=5,
            callbacks=[ProgressBar(file=out)], verbose=0)
    text = out.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text and "4/4" in text and "loss" in text


# -- metric aliases ---------------------------------------------------------------------------------

def test_metric_aliases_log_as_accuracy_and_configs_accept_them():
    from minimlp.config import get_metrics
    X, Y = data(N=20)
    for alias in ("acc", "ACC", "binary_accuracy"):
        net = mlp()
        h = net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
                    metrics=[alias], validation_split=0.25, verbose=0, seed=0)
        assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "time"}
    assert get_metrics(["acc", "binary_accuracy", "mae"], "classification") == ["acc", "binary_accuracy", "mae"]


# -- an output activation the loss applies itself ---------------------------------------------------

def test_final_softmax_with_cross_entropy_is_refused_before_training():
    """CrossEntropyLoss applies softmax to its input itself: a final Softmax layer would make
    it softmax(softmax(Z)), whose loss cannot go below log(1 + (C-1)/e) for C classes."""
    X, Y = data(N=20)
    net = mm.Sequential(*mlp().layers, mm.Softmax())
    before = weights(net)
    with pytest.raises(ValueError, match=r"ends in Softmax\(\).*Remove the final Softmax layer"):
        net.fit(X, Y, loss=mm.CrossEntropyLoss(), optimizer=mm.SGD(net.parameters(), lr=0.1),
                epochs=2, verbose=0)
    for b, p in zip(before, net.parameters()):
        np.testing.assert_array_equal(b, p.value)
    # a Softmax elsewhere, and a final Sigmoid with BCELoss (probabilities), are fine
    ok = mm.Sequential(mm.Dense(2, 3, rng=0), mm.Softmax(), mm.Dense(3, 3, rng=1))
    ok.fit(X, Y, loss="ce", optimizer=mm.SGD(ok.parameters(), lr=0.1), epochs=1, verbose=0)
    probs = mm.Sequential(mm.Dense(2, 1, rng=0), mm.Sigmoid())
    probs.fit(X, (Y == 1).astype(float).reshape(-1, 1), loss=mm.BCELoss(),
              optimizer=mm.SGD(probs.parameters(), lr=0.1), epochs=1, verbose=0)


def test_final_sigmoid_with_bce_with_logits_is_refused_also_when_nested():
    X, Y = data(N=20)
    net = mm.Sequential(mm.Dense(2, 4, rng=0), mm.Sequential(mm.Dense(4, 1, rng=1), mm.Sigmoid()))
    with pytest.raises(ValueError, match=r"ends in Sigmoid\(\).*BCEWithLogitsLoss.*use BCELoss"):
        net.fit(X, (Y == 1).astype(float).reshape(-1, 1), loss="bce_with_logits",
                optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1, verbose=0)


# -- divergence under numpy's default error settings --------------------------------------------------

def test_divergence_under_default_numpy_settings_emits_no_runtime_warning():
    """With numpy's defaults (warn on overflow/invalid) the user sees TrainingDiverged, not a
    RuntimeWarning about an overflow in matmul first; "raise" (this suite's setting) is kept."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4))
    T = X @ rng.standard_normal((4, 2)) * 100
    for setting in ("warn", "raise"):
        net = mm.Sequential(mm.Dense(4, 16, rng=0), mm.ReLU(), mm.Dense(16, 2, rng=1))
        with np.errstate(over=setting, invalid=setting, divide=setting), warnings.catch_warnings():
            warnings.simplefilter("error")          # any warning would fail the fit
            with pytest.raises(TrainingDiverged) as info:
                net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=1e3), epochs=30,
                        batch_size=16, verbose=0, seed=0)
            assert np.geterr()["over"] == setting   # fit leaves the caller's settings alone
        assert "training diverged at epoch" in str(info.value)
        assert all(np.isfinite(p.value).all() for p in net.parameters())


def test_a_summed_loss_is_reported_independently_of_the_batch_size():
    """reduction="sum": the epoch and evaluation loss is the sum over all samples, the same
    number however the rows are batched (a mean weighting would scale it with the batch)."""
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((50, 3)), rng.standard_normal((50, 2))
    net = mm.Sequential(mm.Dense(3, 2, rng=0))
    expected = float(((net.predict(X) - T) ** 2).sum())          # by hand
    for bs in (None, 50, 10, 7, 1):
        got = net.evaluate(X, T, loss=mm.MSELoss(reduction="sum"), batch_size=bs)["loss"]
        assert got == pytest.approx(expected, rel=1e-12)
    opt = mm.SGD(net.parameters(), lr=0.0)                          # lr 0: the weights stay
    for bs in (50, 7):
        h = net.fit(X, T, loss=mm.MSELoss(reduction="sum"), optimizer=opt, epochs=1,
                    batch_size=bs, shuffle=False, verbose=0)
        assert h.history["loss"][0] == pytest.approx(expected, rel=1e-12)


def test_a_regression_metric_with_class_labels_never_broadcasts():
    """(N, C) predictions against (N,) labels would broadcast to (N, N) - silently when N == C."""
    rng = np.random.default_rng(0)
    X, labels = rng.standard_normal((3, 2)), np.array([0, 1, 2])
    net = mm.Sequential(mm.Dense(2, 3, rng=0))
    opt = mm.SGD(net.parameters(), lr=0.1)
    W0 = net[0].W.copy()
    with pytest.raises(ValueError, match=r"metric 'mae': targets must have the shape of the predictions \(3, 3\), got \(3,\)"):
        net.fit(X, labels, loss=mm.CrossEntropyLoss(), optimizer=opt, epochs=1, metrics=["mae"], verbose=0)
    np.testing.assert_array_equal(net[0].W, W0)


def test_the_recorded_seed_replays_a_run_seeded_with_a_spawned_sequence():
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((40, 3)), rng.standard_normal((40, 1))

    def run(seed):
        net = mm.Sequential(mm.Dense(3, 1, rng=0))
        h = net.fit(X, T, loss=mm.MSELoss(), optimizer=mm.SGD(net.parameters(), lr=0.1),
                    epochs=2, batch_size=8, validation_split=0.25, seed=seed, verbose=0)
        return h, net[0].W.copy()

    child = np.random.SeedSequence(123).spawn(3)[1]
    h1, W1 = run(child)
    p = h1.params
    h2, W2 = run(np.random.SeedSequence(p["seed"], spawn_key=p["seed_spawn_key"]))
    np.testing.assert_array_equal(W2, W1)
    assert h2.history["val_loss"] == h1.history["val_loss"]


def test_a_batchnorm_inside_a_nested_model_is_refused_a_last_batch_of_one_before_training():
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.Sequential(mm.BatchNorm1d(4), mm.ReLU()),
                        mm.Dense(4, 1, rng=1))
    before = [p.value.copy() for p in net.parameters()]
    with pytest.raises(ValueError, match=r"layer 1\.0 \(BatchNorm1d\(4\)\) needs at least 2 samples"):
        net.fit(X, T, loss=mm.MSELoss(), optimizer=mm.SGD(net.parameters(), lr=0.1),
                epochs=1, batch_size=2, shuffle=False, verbose=0)
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.value, b)


# Mutation-run survivors (tools/mutate.py, 2026-12-01) ---------------------------------------------

def test_a_generator_seed_is_reproducible_advances_and_draws_from_the_full_range():
    """seed=Generator: two generators in the same state give the same run; the generator
    advances; distinct generators give distinct recorded seeds (no small range of seeds)."""
    X, T = np.arange(8.0).reshape(4, 2), np.zeros((4, 1))

    def run(seed):
        net = mm.Sequential(mm.Dense(2, 1, rng=0))
        h = net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.0), epochs=1,
                    batch_size=2, seed=seed, verbose=0)
        return h.params["seed"]

    a, b = np.random.default_rng(0), np.random.default_rng(0)
    s1, s2 = run(a), run(b)
    assert s1 == s2
    assert run(a) != s1                       # the generator was advanced
    seeds = {run(np.random.default_rng(k)) for k in range(40)}
    assert len(seeds) == 40                   # 40 draws from a range of 2**63 never collide


def test_evaluate_with_metrics_only_reads_integer_labels_as_labels_only_for_several_columns():
    """loss=None: (N,) integer labels are class labels for a multi-column output; for one
    output column they are values that must have the output's shape (N, 1)."""
    X = np.random.default_rng(0).standard_normal((4, 2))
    one = mm.Sequential(mm.Dense(2, 1, rng=0))
    with pytest.raises(ValueError, match=r"Loss\(\): targets must have the shape of the "
                                         r"predictions \(4, 1\), got \(4,\) \(use T.reshape"):
        evaluate(one, X, np.zeros(4, dtype=np.int64), metrics=["accuracy"])
    with pytest.raises(ValueError, match=r"Loss\(\): targets must have the shape"):
        evaluate(one, X, np.array([0, 1, 1, 0]), metrics=["accuracy"])
    assert "accuracy" in evaluate(one, X, np.zeros((4, 1)), metrics=["accuracy"])
    three = mm.Sequential(mm.Dense(2, 3, rng=0))
    labels = np.array([0, 2, 1, 2])
    acc = (three.predict(X).argmax(1) == labels).mean()
    assert evaluate(three, X, labels, metrics=["accuracy"])["accuracy"] == pytest.approx(acc)
    with pytest.raises(ValueError, match=r"Loss\(\): targets must have the shape"):
        evaluate(three, X, labels.astype(float), metrics=["mae"])


def test_evaluate_refuses_a_layer_that_is_not_a_sequential_and_other_objects():
    X, Y = np.ones((3, 2)), np.zeros(3, dtype=int)

    class Fake:
        def check_input(self, X, what=""):
            return X

    for model in (mm.Dense(2, 3, rng=0), Fake(), object()):
        with pytest.raises(TypeError, match="evaluate: model must be a minimlp Sequential"):
            evaluate(model, X, Y, loss="ce")


def test_evaluate_refuses_a_sample_weighted_loss():
    from minimlp.weighting import SampleWeighted
    X, Y = data(N=6)
    with pytest.raises(TypeError, match=r"evaluate: pass the unweighted loss \(CrossEntropyLoss\(\)\)"):
        evaluate(mlp(), X, Y, loss=SampleWeighted(mm.CrossEntropyLoss()))


def test_evaluate_accuracy_thresholds_logits_at_zero_with_bce_with_logits():
    """evaluate's metrics know the loss: with BCEWithLogitsLoss the one-column accuracy
    thresholds the logits at 0 (not at 0.5, the threshold for probabilities)."""
    net = mm.Sequential(mm.Dense(1, 1, rng=0))
    net[0].W[...] = 1.0
    net[0].b[...] = 0.0
    X = np.array([[0.25], [-0.25], [0.3], [0.7]])          # logits = X
    T = np.array([[1.0], [0.0], [1.0], [1.0]])
    out = evaluate(net, X, T, loss="bce_with_logits", metrics=["accuracy"])
    assert out["accuracy"] == 1.0                           # thresholded at 0.5 it would be 0.5


def test_predict_classes_an_output_exactly_at_the_threshold_is_class_0():
    X = np.ones((3, 2))
    logits = mm.Sequential(mm.Dense(2, 1, rng=0))
    logits[0].W[...] = 0.0
    logits[0].b[...] = 0.0
    np.testing.assert_array_equal(predict_classes(logits, X), [0, 0, 0])       # 0 > 0 is False
    probs = mm.Sequential(mm.Dense(2, 1, rng=0), mm.Sigmoid())
    probs[0].W[...] = 0.0
    probs[0].b[...] = 0.0
    assert (probs.predict(X) == 0.5).all()
    np.testing.assert_array_equal(predict_classes(probs, X), [0, 0, 0])        # 0.5 > 0.5 False
    np.testing.assert_array_equal(predict_classes(probs, X, threshold=0.25), [1, 1, 1])


def test_max_loss_growth_must_exceed_1():
    X, Y = data(N=8)
    for bad in (1.0, 0.5):
        net = mlp()
        with pytest.raises(ValueError, match="max_loss_growth"):
            net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
                    max_loss_growth=bad, verbose=0)
    for ok in (1.0000001, 1.5):
        net = mlp()
        net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.0), epochs=1,
                max_loss_growth=ok, verbose=0)


@pytest.mark.parametrize("vd", [lambda X, Y: (X,), lambda X, Y: (X, Y, None, None),
                                lambda X, Y: [X], lambda X, Y: {0: X, 1: Y}])
def test_validation_data_must_be_a_pair_or_a_triple(vd):
    X, Y = data(N=8)
    net = mlp()
    with pytest.raises(TypeError, match=r"validation_data must be a pair \(X_val, Y_val\) or a triple"):
        net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
                validation_data=vd(X, Y), verbose=0)


def test_validation_split_of_one_row_is_accepted_and_of_every_row_refused():
    X, Y = data(N=20)
    net = mlp()
    h = net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
                validation_split=0.05, seed=0, verbose=0)                  # round(1.0) = 1
    assert h.params["validation_samples"] == 1 and h.params["samples"] == 19
    h = net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
                validation_split=0.95, validation_rows="last", verbose=0)  # 19 and 1
    assert h.params["validation_samples"] == 19 and h.params["samples"] == 1
    with pytest.raises(ValueError, match=r"validation_split=0.98 of 20 rows leaves 20 validation "
                                         r"and 0 training rows"):
        net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=1,
                validation_split=0.98, verbose=0)


def test_shuffled_weighted_batches_with_a_partial_last_batch_match_a_hand_loop():
    rng = np.random.default_rng(5)
    X, T = rng.standard_normal((10, 2)), rng.standard_normal((10, 1))
    w = rng.uniform(0.5, 2.0, 10)
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    W, b = net[0].W.copy(), net[0].b.copy()
    lr, losses = 0.1, []
    for e in (1, 2):
        order = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(1, e))).permutation(10)
        for s in (0, 4, 8):                 # batches of 4, 4 and 2 rows
            i = order[s:s + 4]
            R = X[i] @ W + b - T[i]
            losses.append(float((w[i] * R[:, 0] ** 2).sum() / len(i)))
            G = 2 * w[i][:, None] * R / len(i)
            W, b = W - lr * X[i].T @ G, b - lr * G.sum(axis=0)
    log = BatchLog()
    net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=lr), epochs=2, batch_size=4,
            sample_weight=w, seed=7, callbacks=[log], verbose=0)
    assert [x["size"] for x in log.batches] == [4, 4, 2] * 2
    np.testing.assert_allclose([x["loss"] for x in log.batches], losses, rtol=1e-12)
    np.testing.assert_allclose(net[0].W, W, rtol=1e-12)
    np.testing.assert_allclose(net[0].b, b, rtol=1e-12)


def growth_run(second, *, reduction="mean", max_loss_growth=10.0, first=0.5, **kw):
    """A model whose output is 0, trained with lr 0 on 2 unshuffled batches of 4 rows: the
    batch losses are ``first**2`` and ``second**2`` per sample (MSE on targets)."""
    net = mm.Sequential(mm.Dense(1, 1, rng=0))
    net[0].W[...] = 0.0
    net[0].b[...] = 0.0
    X = np.ones((8, 1))
    T = np.array([[first]] * 4 + [[second]] * 4)
    if max_loss_growth is not None:
        kw["max_loss_growth"] = max_loss_growth
    kw.setdefault("verbose", 0)
    return net.fit(X, T, loss=mm.MSELoss(reduction=reduction), optimizer=mm.SGD(net.parameters(), lr=0.0),
                   epochs=1, batch_size=4, shuffle=False, **kw)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_max_loss_growth_limit_is_factor_times_max_1_first_per_sample_loss(reduction):
    """First batch: 0.25 per sample (< 1, so the limit is 10 * 1 per sample, 40 summed over
    the batch of 4); a second batch at 9.75 per sample trains, at 10.25 it diverges."""
    h = growth_run(np.sqrt(9.75), reduction=reduction)
    assert len(h) == 1
    with pytest.raises(TrainingDiverged, match="past the limit") as info:
        growth_run(np.sqrt(10.25), reduction=reduction)
    assert (info.value.epoch, info.value.batch, info.value.restored) == (1, 2, "before_step")
    limit = "40" if reduction == "sum" else "10"
    assert f"past the limit {limit} " in str(info.value)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_max_loss_growth_limit_scales_with_a_first_loss_above_1(reduction):
    """First batch 4 per sample: limit 10 * 4 = 40 per sample."""
    growth_run(np.sqrt(39.0), reduction=reduction, first=2.0)
    with pytest.raises(TrainingDiverged, match="past the limit"):
        growth_run(np.sqrt(41.0), reduction=reduction, first=2.0)


def test_max_loss_growth_default_is_1e4():
    growth_run(np.sqrt(9999.5), max_loss_growth=None)
    with pytest.raises(TrainingDiverged, match=r"past the limit 1e\+04"):
        growth_run(np.sqrt(10000.5), max_loss_growth=None)


def test_a_step_divergence_restores_the_running_statistics_from_before_the_batch():
    """BatchNorm's running statistics change in the training forward: a batch whose loss
    grew past the limit leaves them as they were after the previous batch."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 2)) * 3 + 1
    T = np.array([[0.1]] * 4 + [[1e3]] * 4)
    net = mm.Sequential(mm.Dense(2, 3, rng=0), mm.BatchNorm1d(3), mm.Dense(3, 1, rng=1))
    bn = net[1]

    class Keep(Callback):
        def on_batch_end(self, batch, logs):
            if batch == 1:
                self.kept = {k: v.copy() for k, v in bn.buffers().items()}

    keep = Keep()
    with pytest.raises(TrainingDiverged) as info:
        net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.01), epochs=1,
                batch_size=4, shuffle=False, max_loss_growth=10.0, callbacks=[keep], verbose=0)
    assert (info.value.batch, info.value.restored) == (2, "before_step")
    assert not np.array_equal(keep.kept["running_mean"], np.zeros(3))
    for k, v in bn.buffers().items():
        np.testing.assert_array_equal(v, keep.kept[k])


def test_a_floating_point_error_in_the_forward_restores_the_state_before_the_step():
    """np.errstate(over="raise"): an overflow in batch 2's forward/loss (the optimizer has
    not stepped) keeps the parameters of before that batch; reported as batch 2."""
    class Square(Layer):
        def forward(self, X, train=True):
            self.X = X
            return X * X                    # a ufunc: overflows under over="raise"

        def backward(self, dY):
            return 2 * self.X * dY

    X = np.array([[1.0]] * 4 + [[1e300]] * 4)
    T = np.zeros((8, 1))
    net = mm.Sequential(Square(), mm.Dense(1, 1, rng=0))
    net[1].W[...] = 1.0
    net[1].b[...] = 0.0
    opt = mm.SGD(net.parameters(), lr=0.01)
    W1 = 1.0 - 0.01 * 2 * 1.0          # after batch 1: dL/dW = 2 mean(x^2 (x^2 W + b)) = 2
    with np.errstate(over="raise", invalid="raise"):
        with pytest.raises(TrainingDiverged, match="FloatingPointError") as info:
            net.fit(X, T, loss="mse", optimizer=opt, epochs=1, batch_size=4, shuffle=False,
                    max_loss_growth=None, verbose=0)
    assert (info.value.epoch, info.value.batch, info.value.restored) == (1, 2, "before_step")
    assert net[1].W[0, 0] == pytest.approx(W1, rel=1e-12)
    assert opt.steps == 1


def test_a_validation_divergence_restores_the_epoch_start_although_the_weights_are_finite():
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((8, 2)), rng.standard_normal((8, 1))
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    before = weights(net)
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(TrainingDiverged, match=r"epoch 1 \(in validation\)") as info:
            net.fit(X, T, loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=2,
                    batch_size=4, validation_data=(X, np.full((8, 1), 1e200)), verbose=0)
    assert (info.value.epoch, info.value.batch, info.value.restored) == (1, None, "epoch_start")
    for a, p in zip(before, net.parameters()):
        np.testing.assert_array_equal(a, p.value)


def test_fit_defaults_batch_size_32_max_loss_growth_and_no_validation(capsys):
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((33, 2)), rng.standard_normal((33, 1))
    net = mm.Sequential(mm.Dense(2, 1, rng=0))
    opt = mm.SGD(net.parameters(), lr=0.01)
    h = net.fit(X, T, loss="mse", optimizer=opt, epochs=2)              # verbose=1 by default
    assert opt.steps == 4 and h.params["batch_size"] == 32 and h.params["steps"] == 2
    assert h.params["validation_samples"] == 0
    lines = capsys.readouterr().out.splitlines()                          # not a terminal
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2") and lines[1].startswith("epoch 2/2")


def test_validation_runs_in_chunks_of_at_most_8192_rows():
    class Sizes(Layer):
        def __init__(self):
            self.sizes = []

        def forward(self, X, train=True):
            if not train:
                self.sizes.append(X.shape[0])
            return X

        def backward(self, dY):
            return dY

    rng = np.random.default_rng(0)
    Xv, Tv = rng.standard_normal((8193, 2)), rng.standard_normal((8193, 1))
    for n, chunks in ((8192, [8192]), (8193, [8192, 1])):
        rec = Sizes()
        net = mm.Sequential(rec, mm.Dense(2, 1, rng=0))
        h = net.fit(Xv[:4], Tv[:4], loss="mse", optimizer=mm.SGD(net.parameters(), lr=0.0),
                    epochs=1, validation_data=(Xv[:n], Tv[:n]), verbose=0)
        assert rec.sizes == chunks
        P = Xv[:n] @ net[1].W + net[1].b
        assert h["val_loss"][0] == pytest.approx(np.mean((P - Tv[:n]) ** 2), rel=1e-12)


class _FakeStdout:
    def __init__(self, tty=None):
        self.text = []
        if tty is not None:
            self.isatty = lambda: tty

    def write(self, s):
        self.text.append(s)
        return len(s)

    def flush(self):
        pass


def test_verbose_1_without_an_isatty_prints_lines_not_a_bar(monkeypatch):
    import sys
    X, Y = data(N=8)
    net = mlp()
    out = _FakeStdout()                     # no isatty: not a terminal
    monkeypatch.setattr(sys, "stdout", out)
    net.fit(X, Y, loss="ce", optimizer=mm.SGD(net.parameters(), lr=0.1), epochs=2, verbose=1)
    monkeypatch.undo()
    text = "".join(out.text)
    assert "\r" not in text and "%|" not in text
    assert [line[:9] for line in text.splitlines()] == ["epoch 1/2", "epoch 2/2"]


def test_a_progress_bar_is_closed_when_training_raises(monkeypatch):
    import sys
    from tqdm import tqdm
    out = _FakeStdout(tty=True)
    before = set(tqdm._instances)
    monkeypatch.setattr(sys, "stdout", out)
    with pytest.raises(TrainingDiverged) as info:    # batch 2 diverges inside epoch 1's bar
        growth_run(np.sqrt(50.0), verbose=1)
    monkeypatch.undo()
    assert "%|" in "".join(out.text)        # a bar was drawn, and is closed although the
    assert info.value.__traceback__ is not None      # traceback still holds fit's frame
    assert set(tqdm._instances) - before == set()
