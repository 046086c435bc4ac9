"""Conventions users bring from Keras, PyTorch and scikit-learn (issue 13, section 4)."""
import io
import re

import numpy as np
import pytest
from scipy.special import softmax

import minimlp as mm
from minimlp.callbacks import ProgressBar
from minimlp.cli import main


def mlp(seed=0, out=3):
    return mm.Sequential(mm.Dense(2, 5, rng=seed), mm.Tanh(), mm.Dense(5, out, rng=seed + 1))


def data(N=12, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, 2)), rng.integers(0, classes, N)


# -- predict_proba / predict_classes -----------------------------------------------------------
def test_predict_proba_and_classes_are_methods():
    net, (X, _) = mlp(), data()
    Z = net.predict(X)
    e = np.exp(Z - Z.max(axis=1, keepdims=True))   # softmax written out
    np.testing.assert_allclose(net.predict_proba(X), e / e.sum(axis=1, keepdims=True), atol=1e-15)
    np.testing.assert_array_equal(net.predict_classes(X), Z.argmax(axis=1))
    one = mlp(out=1)
    z = one.predict(X)[:, 0]
    np.testing.assert_allclose(one.predict_proba(X)[:, 0], 1 / (1 + np.exp(-z)), atol=1e-15)
    np.testing.assert_array_equal(one.predict_classes(X, threshold=0.3), (z > 0.3).astype(int))


# -- add -----------------------------------------------------------------------------------------
def test_add_appends_and_chains_widths():
    net = mm.Sequential()
    net.add(mm.Dense(2, 4, rng=0))
    net.add(mm.ReLU())
    net.add(mm.Dense(4, 3, rng=1))
    assert len(net) == 3 and net.in_features == 2 and net.out_features == 3
    X = data()[0]
    ref = mm.Sequential(mm.Dense(2, 4, rng=0), mm.ReLU(), mm.Dense(4, 3, rng=1))
    np.testing.assert_array_equal(net.predict(X), ref.predict(X))


@pytest.mark.parametrize("bad, error, words", [
    (mm.ReLU, TypeError, "forget the parentheses"),
    ("same", ValueError, "same object"),
    (mm.Dense(4, 2, rng=0), ValueError, "expects 4 input features"),
    (mm.Dense(3, 2, rng=0, dtype=np.float32), ValueError, "mix dtypes"),
])
def test_add_refuses_like_the_constructor_and_leaves_the_model_unchanged(bad, error, words):
    net = mlp()
    if isinstance(bad, str):
        bad = net[0]
    X = data()[0]
    before = net.predict(X)
    with pytest.raises(error, match=words):
        net.add(bad)
    assert len(net) == 3 and net.out_features == 3 and net.dtype == np.float64
    np.testing.assert_array_equal(net.predict(X), before)


# -- state_dict ---------------------------------------------------------------------------------
def bn_net():
    return mm.Sequential(mm.Dense(2, 4, rng=0), mm.BatchNorm1d(4), mm.ReLU(), mm.Dense(4, 3, rng=1))


def test_state_dict_uses_torch_names_and_layout():
    net = bn_net()
    sd = net.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias",
                        "1.running_mean", "1.running_var"]
    assert sd["0.weight"].shape == (4, 2)          # torch's (out, in)
    np.testing.assert_array_equal(sd["0.weight"], net[0].W.T)
    sd["0.weight"][0, 0] += 1                      # a copy
    assert net.state_dict()["0.weight"][0, 0] != sd["0.weight"][0, 0]
    nested = mm.Sequential(mm.Dense(2, 4, rng=0), mm.Sequential(mm.Tanh(), mm.LayerNorm(4),
                                                                 mm.Dense(4, 1, rng=1)))
    assert list(nested.state_dict()) == ["0.weight", "0.bias", "1.1.weight", "1.1.bias",
                                         "1.2.weight", "1.2.bias"]
    assert nested.state_dict()["1.2.weight"].shape == (1, 4)


def test_load_state_dict_round_trips_into_another_model():
    a, b = bn_net(), mm.Sequential(mm.Dense(2, 4, rng=5), mm.BatchNorm1d(4), mm.ReLU(),
                                   mm.Dense(4, 3, rng=6))
    X = data()[0]
    a.forward(X)                                   # moves the running statistics
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(b.predict(X), a.predict(X))


def test_load_state_dict_refuses_with_the_key_named_and_changes_nothing():
    net = bn_net()
    X = data()[0]
    before = net.predict(X)
    sd = net.state_dict()
    missing = {k: v for k, v in sd.items() if k != "3.bias"}
    with pytest.raises(ValueError, match=r"missing key\(s\) '3.bias'"):
        net.load_state_dict(missing)
    extra = dict(sd, **{"0.W": sd["0.weight"]})
    with pytest.raises(ValueError, match=r"unexpected key\(s\) '0.W' \(did you mean '0.weight'"):
        net.load_state_dict(extra)
    wrong = dict(sd, **{"0.weight": net[0].W.copy() + 1})   # minimlp's (in, out) layout
    with pytest.raises(ValueError, match=r"'0.weight' expected shape \(4, 2\), got \(2, 4\).*W.T"):
        net.load_state_dict(wrong)
    nan = dict(sd, **{"3.bias": np.full(3, np.nan)})
    with pytest.raises(ValueError, match="'3.bias' holds NaN"):
        net.load_state_dict(nan)
    net32 = mm.Sequential(mm.Dense(2, 3, rng=0, dtype=np.float32))
    with pytest.raises(ValueError, match="'0.bias' holds NaN or inf .*float32"):
        net32.load_state_dict({"0.weight": np.zeros((3, 2)), "0.bias": np.array([1e300, 0, 0])})
    assert net32[0].b.tolist() == [0, 0, 0]
    with pytest.raises(TypeError, match="'3.bias' must hold real numbers"):
        net.load_state_dict(dict(sd, **{"3.bias": np.array(["a", "b", "c"])}))
    with pytest.raises(TypeError, match="dict of arrays"):
        net.load_state_dict([1, 2])
    np.testing.assert_array_equal(net.predict(X), before)
    # strict=False loads what both have, and reports the rest
    changed = {k: v + 1 for k, v in missing.items() if k.startswith("0.")}
    changed["extra"] = np.zeros(1)
    r = net.load_state_dict(changed, strict=False)
    assert r.unexpected_keys == ["extra"] and "3.bias" in r.missing_keys
    np.testing.assert_array_equal(net[0].b, sd["0.bias"] + 1)


def test_state_dict_matches_torch():
    torch = pytest.importorskip("torch")
    net = mm.Sequential(mm.Dense(2, 4, rng=0), mm.ReLU(), mm.Dense(4, 3, rng=1))
    m = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3)).double()
    tsd = m.state_dict()
    assert list(tsd) == list(net.state_dict())
    assert all(tuple(tsd[k].shape) == v.shape for k, v in net.state_dict().items())
    net.load_state_dict(tsd)                       # torch's tensors load directly
    X = data()[0]
    with torch.no_grad():
        expected = m(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(net.predict(X), expected, atol=1e-12)
    other = mm.Sequential(mm.Dense(2, 4, rng=7), mm.ReLU(), mm.Dense(4, 3, rng=8))
    m.load_state_dict({k: torch.from_numpy(v) for k, v in other.state_dict().items()})
    with torch.no_grad():
        np.testing.assert_allclose(m(torch.from_numpy(X)).numpy(), other.predict(X), atol=1e-12)


def test_optimizer_state_dict_round_trips():
    net, (X, Y) = mlp(), data()
    opt = mm.Adam(net.parameters(), lr=0.01)
    net.fit(X, Y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=4, verbose=0)
    other = mm.Adam(mlp().parameters(), lr=0.01)
    other.load_state_dict(opt.state_dict())
    assert other.steps == opt.steps == 6
    np.testing.assert_array_equal(other.state_dict()["_m"][0], opt.state_dict()["_m"][0])


# -- History.epoch ----------------------------------------------------------------------------
def test_history_epoch_is_zero_based_as_keras():
    net, (X, Y) = mlp(), data()
    h = net.fit(X, Y, loss="cross_entropy", optimizer="adam", epochs=4, initial_epoch=1, verbose=0)
    assert h.epoch == [1, 2, 3] and h.epochs == [2, 3, 4]


# -- gradient accumulation --------------------------------------------------------------------
def grads(net):
    return [p.grad.copy() for p in net.parameters()]


@pytest.mark.parametrize("scaled_mean", [False, True])
def test_accumulated_micro_batches_equal_one_big_batch(scaled_mean):
    X, Y = data(N=12)
    net = mm.Sequential(mm.Dense(2, 5, rng=0), mm.Tanh(), mm.Dense(5, 4, rng=1), mm.Sigmoid(),
                        mm.Dense(4, 3, rng=2))
    T = np.eye(3)[Y]
    # the big batch, with a sum loss: L = 1/2 sum (Y - T)^2, so dL/dY = Y - T
    big_dY = lambda out, t: (out - t) / (4 if scaled_mean else 1)
    net.backward(big_dY(net.forward(X), T), input_grad=False)
    big = grads(net)
    opt = mm.SGD(net.parameters(), lr=0.1)
    opt.zero_grad()
    for s in range(0, 12, 3):                     # 4 micro-batches of 3 rows
        out = net.forward(X[s:s + 3])
        # a mean over each micro-batch of the big batch's mean: scale 1/k with k = 4
        net.backward(big_dY(out, T[s:s + 3]), accumulate=True)
    for g, b in zip(grads(net), big):
        np.testing.assert_allclose(g, b, rtol=0, atol=1e-12)
    assert np.abs(big[0]).max() > 1e-3           # not a vacuous comparison of zeros
    # without accumulate, the last micro-batch's gradient alone
    net.backward(big_dY(out, T[9:12]))
    assert not np.allclose(grads(net)[0], big[0])


def test_accumulate_must_be_a_bool():
    net, (X, _) = mlp(), data()
    Y = net.forward(X)
    with pytest.raises(TypeError, match="accumulate must be True or False"):
        net.backward(np.ones_like(Y), accumulate="yes")


# -- the progress bar ---------------------------------------------------------------------------
def test_progress_bar_fits_80_columns_with_loss_metric_and_eta_from_the_first_batch():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(60, 2)), rng.integers(0, 3, 60)
    out = io.StringIO()
    net = mlp()
    net.fit(X, Y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=10,
            metrics=["accuracy"], validation_split=0.2,
            callbacks=[ProgressBar(file=out, ncols=80)], verbose=0)
    lines = [x for x in re.split("[\r\n]", out.getvalue()) if x.strip()]
    assert all(len(x) <= 80 for x in lines)
    live = [x for x in lines if " 1/5," in x]     # the line drawn after the first batch
    assert len(live) == 3
    assert all(re.search(r"loss=[\d.]+ accuracy=[\d.]+ ETA \d:\d\d:\d\d", x) for x in live)
    ends = [x for x in lines if " 5/5," in x]
    assert len(ends) == 3 and all("accuracy=" in x and "ETA" in x for x in ends)


# -- early stopping and schedules from the CLI and TOML -----------------------------------------
def run_train(tmp_path, *flags, config=None):
    args = ["train", "--data", "moons", "--layers", "2-8-2", "--epochs", "40", "--verbose", "0",
            "--no-plots", "--out", str(tmp_path)]
    if config is not None:
        path = tmp_path / "c.toml"
        path.write_text(config)
        args += ["--config", str(path)]
    return main(args + list(flags))


def history_csv(tmp_path):
    return (tmp_path / "history.csv").read_text().strip().splitlines()


def test_early_stopping_from_the_command_line(tmp_path, capsys):
    # patience 0 with a huge min_delta: epoch 2 cannot improve on epoch 1, so training stops
    assert run_train(tmp_path, "--early-stopping-patience", "0",
                     config="[early_stopping]\npatience = 5\nmin_delta = 1e9\n") == 0
    assert len(history_csv(tmp_path)) == 1 + 2
    assert "trained 2 epochs" in capsys.readouterr().out


def test_no_early_stopping_turns_the_table_off(tmp_path, capsys):
    assert run_train(tmp_path, "--no-early-stopping", "--epochs", "5",
                     config="[early_stopping]\npatience = 0\nmin_delta = 1e9\n") == 0
    assert len(history_csv(tmp_path)) == 1 + 5


def test_schedule_from_the_command_line_and_toml(tmp_path):
    from minimlp.commands.train import parse_schedule
    assert parse_schedule("step:step_size=2,gamma=0.5") == {"name": "step", "step_size": 2, "gamma": 0.5}
    assert parse_schedule("none") == {"name": ""}
    import minimlp.commands.train as train
    seen = {}
    real = train.fit

    def spy(*a, **k):
        h = real(*a, **k)
        seen["lr"] = k["optimizer"].lr
        return h
    train.fit = spy
    try:
        assert run_train(tmp_path, "--epochs", "5", "--lr", "0.08",
                         "--schedule", "step:step_size=2,gamma=0.5") == 0
        assert seen["lr"] == pytest.approx(0.08 * 0.5 ** 2)   # halved after epochs 2 and 4
        assert run_train(tmp_path, "--epochs", "3", "--lr", "0.08",
                         config='[schedule]\nname = "exponential"\ngamma = 0.5\n') == 0
        assert seen["lr"] == pytest.approx(0.08 * 0.5 ** 3)
    finally:
        train.fit = real


@pytest.mark.parametrize("config, words", [
    ('[schedule]\nname = "stpe"\n', "did you mean 'step'"),
    ('[schedule]\nname = "step"\nstep_sise = 3\n', "did you mean 'step_size'"),
    ('[schedule]\ngamma = 0.5\n', "no name"),
    ("[early_stopping]\npatiense = 3\n", "did you mean 'patience'"),
    ('[early_stopping]\nmonitor = "loss"\n', "needs patience"),
    ("[early_stoping]\npatience = 3\n", "did you mean 'early_stopping'"),
    ("[schedule]\nname = \"step\"\ngamma = -1\n", r"\[schedule\] step"),
])
def test_callback_tables_are_checked(tmp_path, capsys, config, words):
    assert run_train(tmp_path, config=config) == 2
    assert re.search(words, capsys.readouterr().err)


def test_state_dict_equals_to_torch_state_dict_with_norms():
    torch = pytest.importorskip("torch")
    net = mm.Sequential(mm.Dense(2, 4, rng=0), mm.BatchNorm1d(4), mm.ReLU(), mm.Dense(4, 4, rng=1),
                        mm.LayerNorm(4), mm.Tanh(), mm.Dense(4, 3, rng=2))
    net.forward(data()[0])                         # running statistics away from 0 and 1
    ours = net.state_dict()
    theirs = {k: v.numpy() for k, v in mm.to_torch(net).state_dict().items()
              if not k.endswith("num_batches_tracked")}   # minimlp keeps it only with momentum=None
    assert sorted(ours) == sorted(theirs)
    for k in ours:
        np.testing.assert_array_equal(ours[k], theirs[k], err_msg=k)


def test_optimizer_state_dict_has_pytorchs_layout_and_names_too():
    """opt.state_dict() holds PyTorch's {"state", "param_groups"} view next to minimlp's
    own keys; a torch optimizer's state_dict loads into the minimlp optimizer."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.Tanh(), mm.Dense(4, 2, rng=1))
    tnet = mm.to_torch(net)
    topt = torch.optim.Adam(tnet.parameters(), lr=0.01)
    for _ in range(3):
        topt.zero_grad()
        torch.nn.functional.mse_loss(tnet(torch.from_numpy(X)), torch.from_numpy(T)).backward()
        topt.step()
    opt = mm.Adam(net.parameters(), lr=0.01)
    step = mm.TrainStep(net, "mse", opt)
    for _ in range(3):
        step(X, T)
    mine = opt.state_dict()
    theirs = topt.state_dict()
    assert sorted(mine["state"][0]) == sorted(theirs["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert mine["param_groups"][0]["params"] == theirs["param_groups"][0]["params"]
    for i in range(4):
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(mine["state"][i][key], theirs["state"][i][key].numpy(), rtol=1e-10)
    fresh = mm.Adam(mm.Sequential(mm.Dense(3, 4, rng=5), mm.Tanh(), mm.Dense(4, 2, rng=6)).parameters(), lr=0.01)
    fresh.load_state_dict({"state": {i: {k: v.numpy() if hasattr(v, "numpy") else v for k, v in s.items()}
                                     for i, s in theirs["state"].items()},
                           "param_groups": [{"lr": 0.01, "params": [0, 1, 2, 3]}]})
    assert fresh.steps == 3
    for a, b in zip(fresh._m, opt._m):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_optimizer_state_in_pytorchs_layout_round_trips_without_torch():
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.ReLU(), mm.Dense(4, 2, rng=1))
    opt = mm.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    step = mm.TrainStep(net, "mse", opt)
    for _ in range(2):
        step(rng.standard_normal((5, 3)), rng.standard_normal((5, 2)))
    sd = opt.state_dict()
    assert sd["state"][0]["momentum_buffer"].shape == (4, 3)          # PyTorch's (out, in)
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], opt._buf[0].T)
    other = mm.SGD(mm.Sequential(mm.Dense(3, 4), mm.ReLU(), mm.Dense(4, 2)).parameters(), lr=0.1, momentum=0.9)
    other.load_state_dict({"state": sd["state"], "param_groups": sd["param_groups"]})
    for a, b in zip(other._buf, opt._buf):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="has no 'momentum_buffer'"):
        other.load_state_dict({"state": {}, "param_groups": sd["param_groups"]})
