"""mm.save / mm.load: round trips, resumed training, atomic writes, refusing bad files.

Expected values never come from minimlp itself: a round trip is compared with the model that
was saved (bit for bit), a resumed run with an uninterrupted run of the same steps, and the
file's contents are read back with numpy directly.
"""
import json
import os

import numpy as np
import pytest

import minimlp as mm
from minimlp.layer import Layer
from minimlp.tutorial import tutorial_network, weight_parameters


def make_net(dtype=np.float64, seed=0, logits=False):
    """A net of many layer kinds; ``logits=True`` leaves out the final Softmax (for training
    with CrossEntropyLoss, which applies softmax itself; fit refuses the pair)."""
    return mm.Sequential(
        mm.Dense(3, 8, rng=seed, dtype=dtype), mm.LeakyReLU(0.2),
        mm.Dense(8, 6, bias=False, rng=seed + 1, dtype=dtype), mm.Tanh(),
        mm.Dense(6, 5, init="pytorch", rng=seed + 2, dtype=dtype), mm.Sigmoid(),
        mm.Dense(5, 4, rng=seed + 3, dtype=dtype), mm.ReLU(),
        mm.Dense(4, 3, rng=seed + 4, dtype=dtype), mm.Identity(),
        *([] if logits else [mm.Softmax()]),
    )


def data(n=20, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.integers(0, 3, size=n)


def read_raw(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def write_raw(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


# -- round trips ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_gives_identical_predictions(tmp_path, dtype):
    net = make_net(dtype)
    X, labels = data()
    # Train a little so that no parameter is at its initial value (biases included).
    loss, opt = mm.CrossEntropyLoss(), mm.Adam(net.parameters(), lr=0.01)
    for _ in range(3):
        loss.forward(net.forward(X), labels)
        net.backward(loss.backward())
        opt.step()
    path = tmp_path / "net.npz"
    mm.save(net, path)
    back = mm.load(path)
    assert isinstance(back, mm.Sequential)
    assert repr(back) == repr(net)
    assert back.dtype == np.dtype(dtype)
    assert back[1].negative_slope == 0.2
    assert back[2].b is None
    for (n1, p1), (n2, p2) in zip(net.named_parameters(), back.named_parameters()):
        assert n1 == n2
        assert p1.value.dtype == p2.value.dtype
        np.testing.assert_array_equal(p1.value, p2.value)
        assert p1.value is not p2.value
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_file_records_format_versions_and_dtype_and_holds_no_object_arrays(tmp_path):
    net = make_net(np.float32)
    mm.save(net, tmp_path / "m.npz")
    raw = read_raw(tmp_path / "m.npz")
    header = json.loads(str(raw["__minimlp__"]))
    assert header["format"] == "minimlp-model"
    assert header["format_version"] == 1
    assert header["minimlp_version"] == mm.__version__
    assert header["dtype"] == "float32"
    assert [layer["class"] for layer in header["architecture"]["layers"]] == [
        "Dense", "LeakyReLU", "Dense", "Tanh", "Dense", "Sigmoid", "Dense", "ReLU", "Dense",
        "Identity", "Softmax"]
    assert header["parameters"] == ["0.W", "0.b", "2.W", "4.W", "4.b", "6.W", "6.b", "8.W", "8.b"]
    assert all(a.dtype.kind != "O" for a in raw.values())
    np.testing.assert_array_equal(raw["param/4.W"], net[4].W)
    assert raw["param/4.W"].dtype == np.float32


def test_path_is_used_exactly_and_str_paths_work(tmp_path):
    net, X, _ = tutorial_network("mazur")
    path = str(tmp_path / "model-without-suffix")
    mm.save(net, path)
    assert os.path.exists(path) and not os.path.exists(path + ".npz")
    np.testing.assert_array_equal(mm.load(path).predict(X), net.predict(X))


def test_nested_sequential_round_trip(tmp_path):
    inner = mm.Sequential(mm.Dense(4, 4, rng=1), mm.Tanh())
    net = mm.Sequential(mm.Dense(2, 4, rng=0), mm.ReLU(), inner, mm.Dense(4, 1, rng=2))
    mm.save(net, tmp_path / "n.npz")
    back = mm.load(tmp_path / "n.npz")
    X = np.random.default_rng(0).standard_normal((5, 2))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    assert isinstance(back[2], mm.Sequential)


class IOTestShift(Layer):
    """A test layer with a buffer: Y = X - mu, mu non-trainable."""

    def __init__(self, width: int = 2):
        self.width = width
        self.mu = np.zeros(width)

    def get_config(self):
        return {"width": self.width}

    def buffers(self):
        return {"mu": self.mu}

    def forward(self, X, train=True):
        return X - self.mu

    def backward(self, dY):
        return dY


def test_buffers_are_saved_and_restored(tmp_path):
    net = mm.Sequential(mm.Dense(2, 3, rng=0), IOTestShift(3))
    net[1].mu[...] = [0.5, -1.25, 3.0]
    mm.save(net, tmp_path / "b.npz")
    assert json.loads(str(read_raw(tmp_path / "b.npz")["__minimlp__"]))["buffers"] == ["1.mu"]
    back = mm.load(tmp_path / "b.npz")
    np.testing.assert_array_equal(back[1].mu, [0.5, -1.25, 3.0])


# -- optimizer state: resuming equals an uninterrupted run --------------------------------
OPTIMIZERS = {
    "sgd-momentum": lambda params: mm.SGD(params, lr=0.05, momentum=0.9),
    "sgd-nesterov-decay": lambda params: mm.SGD(params, lr=0.05, momentum=0.8, nesterov=True,
                                                weight_decay=1e-3),
    "adam": lambda params: mm.Adam(params, lr=0.01, betas=(0.8, 0.95), eps=1e-7),
    "adam-decay": lambda params: mm.Adam(params, lr=0.01, weight_decay=1e-2),
}


def batches(steps, dtype):
    rng = np.random.default_rng(42)
    for _ in range(steps):
        yield rng.standard_normal((7, 3)).astype(dtype), rng.integers(0, 3, size=7)


def train(net, opt, batch_list):
    loss = mm.CrossEntropyLoss()
    for X, labels in batch_list:
        loss.forward(net.forward(X), labels)
        net.backward(loss.backward())
        opt.step()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
def test_resumed_training_equals_uninterrupted_run(tmp_path, opt_name, dtype):
    all_batches = list(batches(12, dtype))
    straight = make_net(dtype)
    train(straight, OPTIMIZERS[opt_name](straight.parameters()), all_batches)

    first = make_net(dtype)
    opt = OPTIMIZERS[opt_name](first.parameters())
    train(first, opt, all_batches[:6])
    mm.save(first, tmp_path / "ckpt.npz", optimizer=opt)
    resumed, opt2 = mm.load(tmp_path / "ckpt.npz", with_optimizer=True)
    assert type(opt2) is type(opt) and opt2.steps == 6
    assert opt2.hyperparameters() == opt.hyperparameters()
    train(resumed, opt2, all_batches[6:])

    for (_, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        np.testing.assert_array_equal(a.value, b.value)

    # The test can tell: resuming with a fresh optimizer (state lost) ends elsewhere.
    lost = mm.load(tmp_path / "ckpt.npz")
    train(lost, OPTIMIZERS[opt_name](lost.parameters()), all_batches[6:])
    assert not np.array_equal(lost[0].W, straight[0].W)


def test_optimizer_over_a_subset_restores_over_the_same_subset(tmp_path):
    net, X, T = tutorial_network("notebook")
    opt = mm.SGD(weight_parameters(net), lr=0.5, momentum=0.5)
    loss = mm.MSELoss()
    for _ in range(3):
        loss.forward(net.forward(X), T)
        net.backward(loss.backward())
        opt.step()
    mm.save(net, tmp_path / "t.npz", optimizer=opt)
    back, opt2 = mm.load(tmp_path / "t.npz", with_optimizer=True)
    named = dict(back.named_parameters())
    assert [p for p in opt2.params] == [named["0.W"], named["2.W"]]
    for _ in range(2):
        loss.forward(back.forward(X), T)
        back.backward(loss.backward())
        opt2.step()
    np.testing.assert_array_equal(back[0].b, [0.35, 0.35])  # biases stay frozen
    np.testing.assert_array_equal(back[2].b, [0.60, 0.60])


def test_load_without_optimizer_state(tmp_path):
    net = make_net()
    mm.save(net, tmp_path / "m.npz")
    back, opt = mm.load(tmp_path / "m.npz", with_optimizer=True)
    assert opt is None and isinstance(back, mm.Sequential)


def test_save_refuses_an_optimizer_over_foreign_parameters(tmp_path):
    net, other = make_net(), make_net()
    with pytest.raises(ValueError, match="not a parameter of the model"):
        mm.save(net, tmp_path / "m.npz", optimizer=mm.SGD(other.parameters(), lr=0.1))
    assert not os.path.exists(tmp_path / "m.npz")


def test_save_refuses_non_models(tmp_path):
    with pytest.raises(TypeError, match="Layer or Sequential"):
        mm.save({"W": np.ones(2)}, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="Optimizer"):
        mm.save(make_net(), tmp_path / "m.npz", optimizer="adam")


# -- atomic writes ---------------------------------------------------------------------------
def _savez_failing_midway(file, **arrays):
    file.write(b"PK\x03\x04 half of a zip archive")
    raise OSError("disk full (simulated)")


@pytest.mark.parametrize("where", ["savez", "fsync", "replace"])
def test_a_failure_during_save_leaves_the_old_file_intact(tmp_path, monkeypatch, where):
    path = tmp_path / "model.npz"
    old = make_net(seed=0)
    mm.save(old, path)
    before = path.read_bytes()
    if where == "savez":
        monkeypatch.setattr(np, "savez", _savez_failing_midway)
    elif where == "fsync":
        def fsync(fd):
            raise OSError("I/O error (simulated)")
        monkeypatch.setattr(os, "fsync", fsync)
    else:
        def replace(src, dst):
            raise OSError("rename failed (simulated)")
        monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="simulated"):
        mm.save(make_net(seed=7), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temporary file left behind
    X, _ = data()
    np.testing.assert_array_equal(mm.load(path).predict(X), old.predict(X))


def test_save_keeps_usual_permissions(tmp_path):
    mm.save(make_net(), tmp_path / "m.npz")
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "m.npz").st_mode & 0o777 == 0o666 & ~mask


# -- refusing bad files ------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.npz"
    mm.save(make_net(), path)
    return path


def rewrite(tmp_path, saved, change):
    arrays = read_raw(saved)
    header = json.loads(str(arrays["__minimlp__"]))
    change(header, arrays)
    arrays["__minimlp__"] = np.array(json.dumps(header))
    bad = tmp_path / "bad.npz"
    write_raw(bad, arrays)
    return bad


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        mm.load(tmp_path / "nope.npz")


def test_a_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are not weights\n")
    with pytest.raises(ValueError, match=r"notes\.npz.*not a minimlp model"):
        mm.load(path)


def test_a_plain_npy_file_is_refused(tmp_path):
    path = tmp_path / "W.npy"
    np.save(path, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"W\.npy.*not a minimlp model.*single \.npy"):
        mm.load(path)


def test_an_npz_without_header_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    write_raw(path, {"W": np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"other\.npz.*not a minimlp model.*__minimlp__"):
        mm.load(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_file_is_refused(tmp_path, saved, fraction):
    raw = saved.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[:int(len(raw) * fraction)])
    with pytest.raises(ValueError, match=r"cut\.npz' is truncated or corrupt"):
        mm.load(cut)


def test_a_newer_format_version_is_refused(tmp_path, saved):
    def newer(header, arrays):
        header["format_version"] = 99
        header["minimlp_version"] = "9.0"
    with pytest.raises(ValueError, match=r"bad\.npz' has format version 99.*minimlp 9\.0.*up to 1.*upgrade"):
        mm.load(rewrite(tmp_path, saved, newer))


def test_another_format_is_refused(tmp_path, saved):
    def other(header, arrays):
        header["format"] = "keras"
    with pytest.raises(ValueError, match="not a minimlp model.*keras"):
        mm.load(rewrite(tmp_path, saved, other))


@pytest.mark.parametrize("case", ["shape", "dtype", "missing", "extra", "config", "layer"])
def test_arrays_that_do_not_fit_the_architecture_are_refused(tmp_path, saved, case):
    def change(header, arrays):
        if case == "shape":
            arrays["param/0.W"] = np.ones((3, 9))
        elif case == "dtype":
            arrays["param/2.W"] = arrays["param/2.W"].astype(np.float32)
        elif case == "missing":
            del arrays["param/4.b"]
        elif case == "extra":
            arrays["param/9.W"] = np.ones((3, 3))
        elif case == "config":
            header["architecture"]["layers"][0]["config"]["out_features"] = 7
        elif case == "layer":
            header["architecture"]["layers"][1]["class"] = "LeakyRelu"
    expected = {
        "shape": r"'param/0\.W' has shape \(3, 9\).*needs shape \(3, 8\)",
        "dtype": r"'param/2\.W' has shape \(8, 6\) and dtype float32.*dtype float64",
        "missing": r"'param/4\.b' is missing",
        "extra": r"\['param/9\.W'\] do not belong",
        "config": r"'param/0\.W' has shape \(3, 8\).*architecture needs shape \(3, 7\)",
        "layer": r"unknown layer class 'LeakyRelu' \(did you mean 'LeakyReLU'\?\)",
    }[case]
    with pytest.raises(ValueError, match=r"bad\.npz.*" + expected):
        mm.load(rewrite(tmp_path, saved, change))


UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(1)
    return "ran"


class _Trap:
    def __reduce__(self):
        return (_record_unpickling, ())


def test_a_pickled_object_array_is_refused_and_never_unpickled(tmp_path, saved):
    arrays = read_raw(saved)
    arrays["param/0.W"] = np.array([_Trap()], dtype=object)
    bad = tmp_path / "pickled.npz"
    write_raw(bad, arrays)  # np.savez pickles object arrays
    with pytest.raises(ValueError, match=r"pickled\.npz' contains a pickled object array 'param/0\.W'"):
        mm.load(bad)
    assert UNPICKLED == []


def test_optimizer_state_that_does_not_fit_is_refused(tmp_path):
    net = make_net()
    opt = mm.Adam(net.parameters(), lr=0.01)
    mm.save(net, tmp_path / "good.npz", optimizer=opt)

    def change(header, arrays):
        arrays["optim/_m/0"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"bad\.npz': array 'optim/_m/0' has shape \(2, 2\).*optimizer state needs shape \(3, 8\)"):
        mm.load(rewrite(tmp_path, tmp_path / "good.npz", change), with_optimizer=True)


def test_a_corrupted_byte_is_refused(tmp_path, saved):
    raw = bytearray(saved.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"flipped\.npz"):
        mm.load(bad)


@pytest.mark.parametrize("opt_name", ["sgd-momentum", "adam"])
def test_fit_resumed_from_a_saved_file_equals_an_uninterrupted_fit(tmp_path, opt_name):
    X, labels = data(n=50, seed=3)
    kwargs = dict(loss=mm.CrossEntropyLoss(), batch_size=8, seed=5, verbose=0, validation_split=0.2)
    straight = make_net(logits=True)
    straight.fit(X, labels, optimizer=OPTIMIZERS[opt_name](straight.parameters()), epochs=4, **kwargs)

    first = make_net(logits=True)
    opt = OPTIMIZERS[opt_name](first.parameters())
    first.fit(X, labels, optimizer=opt, epochs=2, **kwargs)
    mm.save(first, tmp_path / "ckpt.npz", optimizer=opt)
    resumed, opt2 = mm.load(tmp_path / "ckpt.npz", with_optimizer=True)
    resumed.fit(X, labels, optimizer=opt2, epochs=4, initial_epoch=2, **kwargs)
    for (_, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        np.testing.assert_array_equal(a.value, b.value)


# -- every layer and every optimizer minimlp has ---------------------------------------------
from layer_cases import LAYER_CASES  # noqa: E402  (the shared layer table)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_every_layer_round_trips_with_its_parameters_config_and_buffers(tmp_path, case, dtype):
    case_id, factory, width = case
    layer = factory(dtype)
    net = mm.Sequential(mm.Dense(width, width, rng=0, dtype=dtype), layer)
    rng = np.random.default_rng(1)
    for p in net.parameters():                       # every value distinct from a fresh layer's
        p.value[...] = rng.standard_normal(p.value.shape)
    for name, buf in layer.buffers().items():        # e.g. BatchNorm's running statistics
        buf[...] = rng.uniform(0.5, 2.0, buf.shape)
    mm.save(net, tmp_path / "m.npz")
    back = mm.load(tmp_path / "m.npz")
    assert type(back[1]) is type(layer) and back[1].get_config() == layer.get_config()
    for (n1, p1), (n2, p2) in zip(net.named_parameters(), back.named_parameters()):
        assert n1 == n2 and p1.value.dtype == p2.value.dtype
        np.testing.assert_array_equal(p1.value, p2.value)
    assert sorted(back[1].buffers()) == sorted(layer.buffers())
    for name, buf in layer.buffers().items():
        np.testing.assert_array_equal(back[1].buffers()[name], buf)
    X = rng.standard_normal((6, width)).astype(dtype)
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def _all_optimizers():
    from minimlp.config import optimizer_types
    return sorted(optimizer_types().items())


@pytest.mark.parametrize("name,cls", _all_optimizers(), ids=[n for n, _ in _all_optimizers()])
def test_every_optimizer_resumes_exactly(tmp_path, name, cls):
    all_batches = list(batches(8, np.float64))
    straight = make_net()
    train(straight, cls(straight.parameters(), lr=0.01), all_batches)
    first = make_net()
    opt = cls(first.parameters(), lr=0.01)
    train(first, opt, all_batches[:4])
    mm.save(first, tmp_path / "c.npz", optimizer=opt)
    resumed, opt2 = mm.load(tmp_path / "c.npz", with_optimizer=True)
    assert type(opt2) is cls and opt2.hyperparameters() == opt.hyperparameters()
    train(resumed, opt2, all_batches[4:])
    for (_, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        np.testing.assert_array_equal(a.value, b.value)


def test_an_interrupt_during_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    mm.save(make_net(seed=0), path)
    before = path.read_bytes()

    def savez_interrupted(file, **arrays):
        file.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt  # Ctrl-C (a BaseException, not an Exception) mid-write
    monkeypatch.setattr(np, "savez", savez_interrupted)
    with pytest.raises(KeyboardInterrupt):
        mm.save(make_net(seed=3), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


@pytest.mark.parametrize("name,cls", _all_optimizers(), ids=[n for n, _ in _all_optimizers()])
def test_gradient_clipping_survives_a_round_trip(tmp_path, name, cls):
    net = make_net()
    opt = cls(net.parameters(), lr=0.01, clip_norm=0.5)
    mm.save(net, tmp_path / "c.npz", optimizer=opt)
    _, opt2 = mm.load(tmp_path / "c.npz", with_optimizer=True)
    assert opt2.clip_norm == 0.5


# -- files: modes, symlinks, messages, stale temporaries (reliability review L1, L2, L3) -------------
def test_l2_saving_over_a_private_file_keeps_its_mode(tmp_path):
    path = tmp_path / "private.npz"
    mm.save(make_net(seed=0), path)
    os.chmod(path, 0o600)
    mm.save(make_net(seed=1), path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    os.chmod(path, 0o640)
    mm.save(make_net(seed=2), path)
    assert os.stat(path).st_mode & 0o777 == 0o640
    np.testing.assert_array_equal(mm.load(path)[0].W, make_net(seed=2)[0].W)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_l2_saving_over_a_symlink_writes_through_to_its_target(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "model-v3.npz"
    mm.save(make_net(seed=0), target)
    os.chmod(target, 0o600)
    link = tmp_path / "latest.npz"
    os.symlink(target, link)
    mm.save(make_net(seed=5), link)
    assert os.path.islink(link) and os.readlink(link) == str(target)
    assert os.stat(target).st_mode & 0o777 == 0o600
    np.testing.assert_array_equal(mm.load(target)[0].W, make_net(seed=5)[0].W)
    assert sorted(os.listdir(tmp_path / "runs")) == ["model-v3.npz"]   # the temporary went there


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_l2_a_dangling_symlink_is_written_through_too(tmp_path):
    link = tmp_path / "latest.npz"
    os.symlink(tmp_path / "new.npz", link)
    mm.save(make_net(seed=1), link)
    assert os.path.islink(link) and os.path.isfile(tmp_path / "new.npz")


@pytest.mark.parametrize("errno_, strerror", [(13, "Permission denied"), (28, "No space left on device"),
                                              (30, "Read-only file system")])
def test_l3_a_failed_save_names_the_users_path_not_the_temporary(tmp_path, monkeypatch, errno_, strerror):
    path = tmp_path / "m.npz"
    import tempfile
    real_mkstemp = tempfile.mkstemp

    def failing(*args, **kwargs):
        if errno_ == 28:   # the disk fills while writing: the temporary exists, then fails
            fd, name = real_mkstemp(*args, **kwargs)
            os.close(fd)
            os.unlink(name)
        raise OSError(errno_, strerror, os.path.join(str(tmp_path), ".m.npz.123.abcdefgh.tmp"))
    monkeypatch.setattr(tempfile, "mkstemp", failing)
    with pytest.raises(OSError) as info:
        mm.save(make_net(), path)
    message = str(info.value)
    assert f"save: cannot write {str(path)!r}: {strerror}" in message
    assert ".tmp" not in message
    assert info.value.errno == errno_


def test_l3_a_failure_while_writing_names_the_users_path(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"save: cannot write '.*m\.npz': No space left on device"):
        mm.save(make_net(), tmp_path / "m.npz")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def _dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.skipif(os.name != "posix", reason="pids of temporaries are read on POSIX")
def test_l1_temporaries_of_killed_saves_are_removed_at_the_next_save(tmp_path):
    path = tmp_path / "ckpt.npz"
    mm.save(make_net(seed=0), path)
    dead = _dead_pid()
    stale = [tmp_path / f".ckpt.npz.{dead}.k3j9x_2q.tmp", tmp_path / f".ckpt.npz.{dead}.a1b2c3d4.tmp"]
    live = tmp_path / f".ckpt.npz.{os.getpid()}.zz99yy88.tmp"       # a save running right now
    other = [tmp_path / f".other.npz.{dead}.k3j9x_2q.tmp",            # another path's temporary
             tmp_path / ".ckpt.npz.notapid.tmp", tmp_path / "ckpt.npz.bak"]
    for f in stale + [live] + other:
        f.write_bytes(b"PK\x03\x04 half a checkpoint")
    mm.save(make_net(seed=1), path)
    left = set(os.listdir(tmp_path))
    assert not any(f.name in left for f in stale)
    assert {live.name, *(f.name for f in other), "ckpt.npz"} == left
    np.testing.assert_array_equal(mm.load(path)[0].W, make_net(seed=1)[0].W)


@pytest.mark.skipif(os.name != "posix", reason="pids of temporaries are read on POSIX")
def test_l1_a_save_killed_mid_write_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "ckpt.npz"
    # A child that stops forever inside np.savez, after the temporary exists; then kill -9.
    code = (f"import os, signal, numpy as np, minimlp as mm\n"
            f"def hang(f, **a):\n    f.write(b'PK partial'); f.flush(); print('writing', flush=True); signal.pause()\n"
            f"np.savez = hang\n"
            f"mm.save(mm.Sequential(mm.Dense(2, 2, rng=0)), {str(path)!r})\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(mm.__file__))))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout.readline() == b"writing\n"
    finally:
        child.kill()
        child.wait()
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".ckpt.npz.{child.pid}.")
    mm.save(make_net(), path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


class IOTestFortranShift(IOTestShift):
    """A test layer whose buffer is a Fortran-ordered matrix (np.savez keeps the order)."""

    def __init__(self, width: int = 2):
        super().__init__(width)
        self.M = np.asfortranarray(np.zeros((width, 3)))

    def buffers(self):
        return {"mu": self.mu, "M": self.M}


def test_a_fortran_ordered_buffer_round_trips(tmp_path):
    net = mm.Sequential(mm.Dense(2, 3, rng=0), IOTestFortranShift(3))
    net[1].M[...] = np.arange(9.0).reshape(3, 3)
    mm.save(net, tmp_path / "f.npz")
    back = mm.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(back[1].M, np.arange(9.0).reshape(3, 3))
