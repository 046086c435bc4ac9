"""mm.load treats a model file as hostile: every damaged file is refused cheaply with a
ValueError naming it, and no file of at most 1 MB costs more than 1 s or 64 MB to refuse.

One test per defect of the reliability review (H1, H2, M2, M3, M4, L7, L11), each written
from the review's reproduction, then a hypothesis strategy that damages model files at
random (byte flips, truncations, header edits, swapped members, bombs) and checks the goal.
Memory is measured with tracemalloc (numpy reports its allocations to it); time as the
process's CPU time, which a loaded machine does not inflate. The margins are generous.
"""
import contextlib
import json
import os
import signal
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import minimlp as mm

MB = 2**20

try:   # the project's profiles, "ci" (default) and "dev", as tests/test_properties.py has them
    settings.get_profile("dev")
except InvalidArgument:   # this file runs alone
    settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", max_examples=300, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- helpers ------------------------------------------------------------------------------------
def read_raw(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def write_raw(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def header_of(arrays):
    return json.loads(str(arrays["__minimlp__"]))


def with_header(arrays, header_text):
    out = dict(arrays)
    out["__minimlp__"] = np.array(header_text)
    return out


@contextlib.contextmanager
def alarm(seconds):
    """Interrupt a load that runs away (a defect) instead of hanging the suite."""
    def stop(signum, frame):
        raise TimeoutError(f"load ran for more than {seconds} s")
    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _outcome(path, kwargs):
    try:
        with alarm(5):
            mm.load(path, **kwargs)
    except Exception as e:   # noqa: BLE001 - the outcome is what the tests inspect
        return e
    return None


def cost_of_load(path, **kwargs):
    """``(outcome, cpu seconds, peak traced bytes)`` of ``mm.load(path)``; outcome is the
    exception raised, or None. Time and memory come from two loads (tracemalloc slows
    Python's own allocations several times); each runs under a 5 s alarm."""
    t0 = time.process_time()
    outcome = _outcome(path, kwargs)
    cpu = time.process_time() - t0
    tracemalloc.start()
    try:
        again = _outcome(path, kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert type(again) is type(outcome)
    return outcome, cpu, peak


def assert_refused_cheaply(path, match="", max_peak=64 * MB, **kwargs):
    outcome, cpu, peak = cost_of_load(path, **kwargs)
    assert isinstance(outcome, ValueError), f"{type(outcome).__name__}: {outcome}"
    assert os.path.basename(str(path)) in str(outcome)
    if match:
        import re
        assert re.search(match, str(outcome)), str(outcome)
    assert peak < max_peak, f"peak {peak / MB:.1f} MB"
    assert cpu < 2.0, f"{cpu:.2f} s of CPU"
    return outcome


def npy_header_bytes(dtype, shape):
    """The bytes of a version 1.0 .npy header, as numpy writes it."""
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(shape)})
    return buf.getvalue()


def add_deflated_member(path, name, header, nbytes, fill=b"\0"):
    """Append a member ``name`` whose data is ``nbytes`` of ``fill``, deflated, streamed so
    that the test itself never holds it in memory."""
    chunk = fill * (MB // len(fill))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open(name, "w", force_zip64=True) as m:
            m.write(header)
            left = nbytes
            while left > 0:
                m.write(chunk[:left])
                left -= len(chunk)


def small_net():
    return mm.Sequential(mm.Dense(2, 3, rng=0), mm.ReLU(), mm.BatchNorm1d(3), mm.Dense(3, 2, rng=1))


@pytest.fixture
def good(tmp_path):
    """A small model with BatchNorm buffers and Adam state after two steps."""
    net = small_net()
    opt = mm.Adam(net.parameters(), lr=0.01)
    X = np.random.default_rng(0).standard_normal((8, 2))
    loss = mm.MSELoss()
    for _ in range(2):
        loss.forward(net.forward(X), np.zeros((8, 2)))
        net.backward(loss.backward())
        opt.step()
    path = tmp_path / "good.npz"
    mm.save(net, path, optimizer=opt)
    return path


def edited(tmp_path, good, change, name="evil.npz"):
    arrays = read_raw(good)
    header = header_of(arrays)
    change(header, arrays)
    arrays["__minimlp__"] = np.array(json.dumps(header))
    path = tmp_path / name
    write_raw(path, arrays)
    return path


# -- H1: counts taken from the header -----------------------------------------------------------
@pytest.mark.parametrize("with_optimizer", [False, True])
def test_h1_a_huge_optimizer_state_count_is_refused_at_once(tmp_path, good, with_optimizer):
    def change(h, a):
        h["optimizer"]["state"]["_m"] = 10**12
    path = edited(tmp_path, good, change)
    assert_refused_cheaply(path, r"optimizer state '_m'.*10+ arrays", with_optimizer=with_optimizer)


def test_h1_a_header_of_300000_layers_is_refused_cheaply(tmp_path, good):
    # (The review's case had 10**6 layers; 3 * 10**5 already cost the old load seconds and
    # hundreds of MB.)
    arrays = read_raw(good)
    h = header_of(arrays)
    h["architecture"]["layers"] += [{"class": "ReLU", "config": {}}] * (3 * 10**5)
    path = tmp_path / "layers.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, v in with_header(arrays, json.dumps(h)).items():
            with z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, v)
    assert path.stat().st_size < 1 * MB
    assert_refused_cheaply(path)


# -- H2: allocations and decompression before any check ----------------------------------------
@pytest.mark.parametrize("width", [4000, 20000, 10**12])
def test_h2_header_widths_are_checked_before_any_layer_is_built(tmp_path, good, width):
    def change(h, a):
        h["architecture"]["layers"][0]["config"].update(in_features=width, out_features=width)
    path = edited(tmp_path, good, change)
    assert_refused_cheaply(path, r"param/0\.W' has shape \(2, 3\).*needs shape", max_peak=16 * MB)


def test_h2_batchnorm_width_is_checked_before_it_is_built(tmp_path, good):
    def change(h, a):
        h["architecture"]["layers"][2]["config"]["num_features"] = 10**9
    assert_refused_cheaply(edited(tmp_path, good, change), "param/2.gamma", max_peak=16 * MB)


def test_h2_an_unknown_member_is_refused_without_decompressing_it(tmp_path, good):
    path = tmp_path / "bomb.npz"
    path.write_bytes(good.read_bytes())
    add_deflated_member(path, "junk.npy", npy_header_bytes("f8", (4 * MB,)), 32 * MB)
    assert path.stat().st_size < 1 * MB
    assert_refused_cheaply(path, r"\['junk'\] do not belong|expand more than", max_peak=8 * MB)


def test_h2_an_unknown_member_is_refused_from_the_directory_without_opening_it(tmp_path, good, monkeypatch):
    path = tmp_path / "extra.npz"
    path.write_bytes(good.read_bytes())
    with zipfile.ZipFile(path, "a") as z:
        with z.open("junk.npy", "w") as m:
            np.lib.format.write_array(m, np.zeros(1000))
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)
    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    assert_refused_cheaply(path, r"\['junk'\] do not belong")
    assert "junk.npy" not in opened


def test_h2_a_member_that_expands_far_beyond_the_file_is_refused(tmp_path):
    # A file that is valid in every respect, but deflated: the header says Dense(2000, 2000)
    # and the member holds 32 MB of zeros in 32 KB. Refused before anything is built.
    net = mm.Sequential(mm.Dense(2, 2, rng=0))
    mm.save(net, tmp_path / "small.npz")
    arrays = read_raw(tmp_path / "small.npz")
    h = header_of(arrays)
    h["architecture"]["layers"][0]["config"].update(in_features=2000, out_features=2000)
    path = tmp_path / "dense-bomb.npz"
    with zipfile.ZipFile(path, "w") as z:
        with z.open("__minimlp__.npy", "w") as m:
            np.lib.format.write_array(m, np.array(json.dumps(h)))
        with z.open("param/0.b.npy", "w") as m:
            np.lib.format.write_array(m, np.zeros(2000))
    add_deflated_member(path, "param/0.W.npy", npy_header_bytes("f8", (2000, 2000)), 2000 * 2000 * 8)
    assert path.stat().st_size < 1 * MB
    assert_refused_cheaply(path, r"expand|compress", max_peak=8 * MB)


def test_h2_a_header_bomb_is_refused_without_decompressing_it(tmp_path, good):
    # A 20M-character header (80 MB as .npy unicode) in 80 KB (the review's had 50M).
    arrays = read_raw(good)
    path = tmp_path / "header-bomb.npz"
    with zipfile.ZipFile(path, "w") as z:
        for k, v in arrays.items():
            if k != "__minimlp__":
                with z.open(k + ".npy", "w") as m:
                    np.lib.format.write_array(m, v)
    n = 20 * 10**6
    add_deflated_member(path, "__minimlp__.npy", npy_header_bytes(f"<U{n}", ()), 4 * n,
                        fill=" ".encode("utf-32-le"))
    assert path.stat().st_size < 1 * MB
    assert_refused_cheaply(path, "header", max_peak=8 * MB)


# -- M2: only ValueError, whatever the damage -------------------------------------------------
def _nested_json(depth):
    return "[" * depth + "]" * depth


def _nested_sequential(depth):
    return '{"class": "Sequential", "layers": [' * depth + "]}" * depth


M2_CASES = {
    "json nested 1e5 deep": lambda h, a: a.update(__minimlp__=np.array(
        json.dumps(h)[:-1] + ', "deep": ' + _nested_json(10**5) + "}")),
    "Sequential nested 3000 deep": lambda h, a: h["architecture"]["layers"].append("NESTED"),
    "member that is not .npy": lambda h, a: a.update({"param/0.W": b"junk"}),
    "header that is not .npy": lambda h, a: a.update({"__minimlp__": b"junk"}),
    "optimizer hyper []": lambda h, a: h["optimizer"].update(hyper=[]),
    "optimizer extra [1]": lambda h, a: h["optimizer"].update(extra=[1]),
    "optimizer type ['Adam']": lambda h, a: h["optimizer"].update(type=["Adam"]),
    "buffers [1, 'a']": lambda h, a: h.update(buffers=[1, "a"]),
    "parameters [[1]]": lambda h, a: h.update(parameters=[[1]]),
    "layer config []": lambda h, a: h["architecture"]["layers"][0].update(config=[]),
    "layer dtype bogus": lambda h, a: h["architecture"]["layers"][1].update(config={"dtype": "bogus"}),
    "Dense dtype bogus": lambda h, a: h["architecture"]["layers"][0]["config"].update(dtype="bogus"),
    "layer class _Norm": lambda h, a: h["architecture"]["layers"][2].update({"class": "_Norm"}),
    "optimizer steps 'x'": lambda h, a: h["optimizer"].update(steps="x"),
    "optimizer extra steps": lambda h, a: h["optimizer"].update(extra={"steps": -1}),
    "architecture list": lambda h, a: h.update(architecture=[]),
}


@pytest.mark.parametrize("case", list(M2_CASES))
def test_m2_every_damaged_header_or_member_raises_value_error(tmp_path, good, case):
    arrays = read_raw(good)
    h = header_of(arrays)
    M2_CASES[case](h, arrays)
    if case not in ("json nested 1e5 deep", "header that is not .npy"):
        arrays["__minimlp__"] = np.array(json.dumps(h).replace('"NESTED"', _nested_sequential(3000)))
    path = tmp_path / "damaged.npz"
    with zipfile.ZipFile(path, "w") as z:   # np.savez would pickle the bytes members
        for k, v in arrays.items():
            with z.open(k + ".npy", "w") as m:
                if isinstance(v, bytes):
                    m.write(v)
                else:
                    np.lib.format.write_array(m, v, allow_pickle=False)
    for with_optimizer in (False, True):
        assert_refused_cheaply(path, with_optimizer=with_optimizer)


def test_m2_a_flipped_zip_version_byte_raises_value_error(tmp_path, good):
    raw = bytearray(good.read_bytes())
    raw[raw.find(b"PK\x01\x02") + 6] = 0xE4       # "version needed to extract" = 22.8
    path = tmp_path / "v.npz"
    path.write_bytes(bytes(raw))
    assert_refused_cheaply(path, "truncated or corrupt")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_m2_other_compression_methods_raise_value_error(tmp_path, good, method):
    arrays = read_raw(good)
    path = tmp_path / "other-method.npz"
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for k, v in arrays.items():
            with z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, v)
    assert_refused_cheaply(path, "compress")


def test_m2_the_cli_prints_one_line_and_exits_2(tmp_path, good, capsys):
    from minimlp.cli import main

    raw = bytearray(good.read_bytes())
    raw[raw.find(b"PK\x01\x02") + 6] = 0xE4
    bad = tmp_path / "v.npz"
    bad.write_bytes(bytes(raw))
    csv = tmp_path / "in.csv"
    csv.write_text("0.5,0.1\n")
    assert main(["predict", "--model", str(bad), "--input", str(csv)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minimlp predict: error: load: ") and "v.npz" in err
    assert err.count("\n") == 1


# -- M3: abstract and private classes ----------------------------------------------------------
@pytest.mark.parametrize("name", ["Activation", "_SlopeActivation", "_Norm", "Layer"])
def test_m3_abstract_and_private_layer_classes_are_refused(tmp_path, good, name):
    def change(h, a):
        h["architecture"]["layers"][1] = {"class": name, "config": {}}
    assert_refused_cheaply(edited(tmp_path, good, change), f"unknown layer class '{name}'")


# -- M4: non-finite and impossible values ---------------------------------------------------------
M4_CASES = {
    "NaN weight": lambda h, a: a["param/0.W"].__setitem__((0, 0), np.nan),
    "inf bias": lambda h, a: a["param/3.b"].__setitem__(1, np.inf),
    "inf running_var": lambda h, a: a["buffer/2.running_var"].__setitem__(0, np.inf),
    "negative running_var": lambda h, a: a["buffer/2.running_var"].__setitem__(0, -1.0),
    "NaN running_mean": lambda h, a: a["buffer/2.running_mean"].__setitem__(2, np.nan),
}
M4_OPTIMIZER_CASES = {
    "negative steps": lambda h, a: h["optimizer"].update(steps=-5),
    "negative second moment": lambda h, a: a["optim/_v/0"].__setitem__((0, 0), -1.0),
    "NaN first moment": lambda h, a: a["optim/_m/3"].__setitem__(0, np.nan),
    "inf second moment": lambda h, a: a["optim/_v/1"].__setitem__(0, np.inf),
    "state count not the parameters'": lambda h, a: (
        h["optimizer"]["state"].update(_m=5), a.pop("optim/_m/5")),
    "bool steps": lambda h, a: h["optimizer"].update(steps=True),
}


@pytest.mark.parametrize("case", list(M4_CASES))
def test_m4_non_finite_weights_and_buffers_are_refused(tmp_path, good, case):
    def change(h, a):
        M4_CASES[case](h, a)
    path = edited(tmp_path, good, change)
    e = assert_refused_cheaply(path)
    assert "param/" in str(e) or "buffer/" in str(e)


@pytest.mark.parametrize("case", list(M4_OPTIMIZER_CASES))
def test_m4_impossible_optimizer_state_is_refused(tmp_path, good, case):
    def change(h, a):
        M4_OPTIMIZER_CASES[case](h, a)
    path = edited(tmp_path, good, change)
    assert_refused_cheaply(path, "optim", with_optimizer=True)


def test_m4_the_model_alone_still_loads_when_only_optimizer_values_are_bad(tmp_path, good):
    def change(h, a):
        a["optim/_m/3"][0] = np.nan
    path = edited(tmp_path, good, change)
    net = mm.load(path)   # the model's own arrays are fine; the optimizer's are not read
    np.testing.assert_array_equal(net[0].W, read_raw(good)["param/0.W"])


# -- L7: devices and pipes -------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_l7_a_device_is_refused_without_reading_it(tmp_path):
    link = tmp_path / "zero.npz"
    os.symlink("/dev/zero", link)
    for path in ("/dev/zero", link):
        assert_refused_cheaply(path, "not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_l7_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    assert_refused_cheaply(fifo, "not a regular file")


def test_l7_a_folder_is_still_is_a_directory_error(tmp_path):
    with pytest.raises(IsADirectoryError):
        mm.load(tmp_path)


# -- L11: integers beyond Python's conversion limit --------------------------------------------------
def test_l11_a_5000_digit_integer_names_the_file(tmp_path, good):
    arrays = read_raw(good)
    text = json.dumps(header_of(arrays)).replace('"format_version": 1', '"format_version": ' + "9" * 5000)
    path = tmp_path / "digits.npz"
    write_raw(path, with_header(arrays, text))
    assert_refused_cheaply(path, r"digits\.npz': the header is not valid JSON.*digits")


def test_a_small_integer_in_an_unusual_place_still_gets_its_own_message(tmp_path, good):
    def change(h, a):
        h["format_version"] = 10**15
    assert_refused_cheaply(edited(tmp_path, good, change), "has format version 1000000000000000")


# -- what still loads ----------------------------------------------------------------------------------
def test_a_valid_file_still_loads_with_its_optimizer(good):
    net, opt = mm.load(good, with_optimizer=True)
    raw = read_raw(good)
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p.value, raw[f"param/{name}"])
    np.testing.assert_array_equal(net[2].running_var, raw["buffer/2.running_var"])
    assert opt.steps == 2
    np.testing.assert_array_equal(opt._v[0], raw["optim/_v/0"])


def test_a_deflated_copy_of_a_valid_file_still_loads(tmp_path, good):
    path = tmp_path / "deflated.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, v in read_raw(good).items():
            with z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, v)
    np.testing.assert_array_equal(mm.load(path)[3].W, read_raw(good)["param/3.W"])


def test_a_big_valid_file_loads_within_the_goal(tmp_path):
    # Close to 1 MB of weights: loading costs about what the weights need, once or twice.
    net = mm.Sequential(mm.Dense(256, 256, rng=0), mm.Tanh(), mm.Dense(256, 250, rng=1))
    path = tmp_path / "big.npz"
    mm.save(net, path)
    assert 0.9 * MB < path.stat().st_size < 1.1 * MB
    outcome, cpu, peak = cost_of_load(path)
    assert outcome is None
    assert peak < 16 * MB, f"peak {peak / MB:.1f} MB"
    assert cpu < 1.0


# -- random damage: the goal of the issue ----------------------------------------------------------------
def _base_files(folder):
    """A few valid files to damage: with and without optimizer state, BatchNorm buffers,
    a nested Sequential, float32."""
    folder.mkdir(exist_ok=True)
    files = []
    nets = [
        (small_net(), "adam"),
        (mm.Sequential(mm.Dense(3, 4, rng=0, dtype=np.float32), mm.Tanh(),
                       mm.Sequential(mm.Dense(4, 4, rng=1, dtype=np.float32), mm.LayerNorm(4, dtype=np.float32)),
                       mm.Dense(4, 1, rng=2, dtype=np.float32)), "sgd"),
        (mm.Sequential(mm.Dense(2, 2, rng=3), mm.Softmax()), None),
    ]
    for i, (net, opt_name) in enumerate(nets):
        opt = None
        if opt_name == "adam":
            opt = mm.Adam(net.parameters(), lr=0.01)
        elif opt_name == "sgd":
            opt = mm.SGD(net.parameters(), lr=0.1, momentum=0.9)
        path = folder / f"base{i}.npz"
        mm.save(net, path, optimizer=opt)
        files.append(path)
    return files


HUGE = st.sampled_from([10**12, 2**63, -1, 0, 10**6, 20000, 4000, 2**31, 10**30, 1.5, True, None,
                        "x", [], {}, [[[[[]]]]], float("nan"), float("inf")])


@st.composite
def header_edit(draw, header):
    """A copy of the header with one field somewhere replaced by a hostile value."""
    h = json.loads(json.dumps(header))
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append(path + (k,))
                walk(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                paths.append(path + (i,))
                walk(v, path + (i,))
    walk(h, ())
    target = draw(st.sampled_from(paths))
    node = h
    for k in target[:-1]:
        node = node[k]
    node[target[-1]] = draw(HUGE | st.text(max_size=5) | st.integers())
    return h


@st.composite
def damaged_file(draw, bases):
    """``(bytes of a damaged file, what was done)``."""
    base = draw(st.sampled_from(bases))
    kind = draw(st.sampled_from(["flip", "truncate", "header", "array", "extra", "nested", "bomb",
                                 "layers"]))
    raw = base.read_bytes()
    if kind == "flip":
        b = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(b) - 1))
            b[i] = draw(st.integers(0, 255))
        return bytes(b), kind
    if kind == "truncate":
        return raw[:draw(st.integers(0, len(raw) - 1))], kind
    arrays = read_raw(base)
    header = header_of(arrays)
    if kind == "header":
        arrays["__minimlp__"] = np.array(json.dumps(draw(header_edit(header))))
    elif kind == "array":
        key = draw(st.sampled_from(sorted(k for k in arrays if k != "__minimlp__")))
        a = arrays[key]
        change = draw(st.sampled_from(["shape", "dtype", "nan", "inf", "negative", "int", "empty"]))
        if change == "shape":
            arrays[key] = np.zeros(tuple(d + 1 for d in a.shape) or (1,))
        elif change == "dtype":
            arrays[key] = a.astype(np.float32 if a.dtype == np.float64 else np.float64)
        elif change in ("nan", "inf", "negative") and a.size:
            a = a.copy()
            a.flat[draw(st.integers(0, a.size - 1))] = {"nan": np.nan, "inf": np.inf, "negative": -1.0}[change]
            arrays[key] = a
        elif change == "int":
            arrays[key] = a.astype(np.int64)
        else:
            arrays[key] = np.zeros((0,))
    elif kind == "extra":
        arrays[draw(st.sampled_from(["junk", "param/9.W", "optim/_m/99", "buffer/x"]))] = np.zeros(3)
    elif kind == "nested":
        depth = draw(st.sampled_from([10, 100, 1000, 10**5]))
        header["architecture"]["layers"].append({"class": "Sequential", "layers": []})
        text = json.dumps(header).replace('"layers": []}', '"layers": [' + '{"class": "Sequential", "layers": [' * depth
                                          + "]}" * depth + "]}", 1)
        arrays["__minimlp__"] = np.array(text)
    elif kind == "layers":
        n = draw(st.sampled_from([10**3, 10**4, 10**5]))
        header["architecture"]["layers"] += [{"class": "Identity", "config": {}}] * n
        arrays["__minimlp__"] = np.array(json.dumps(header))
    import io
    buf = io.BytesIO()
    deflate = kind in ("bomb", "layers") or draw(st.booleans())
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as z:
        for k, v in arrays.items():
            with z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, v)
        if kind == "bomb":
            n = draw(st.sampled_from([MB, 8 * MB]))
            name = draw(st.sampled_from(["junk.npy", "param/0.W.npy"]))
            with z.open(name if name not in z.namelist() else "junk.npy", "w", force_zip64=True) as m:
                m.write(npy_header_bytes("f8", (n // 8,)))
                zeros = bytes(MB)
                for _ in range(n // MB):
                    m.write(zeros)
    return buf.getvalue(), kind


@pytest.fixture(scope="module")
def base_files(tmp_path_factory):
    return _base_files(tmp_path_factory.mktemp("bases"))


@settings(PROFILE)
@given(data=st.data())
def test_any_damaged_file_is_refused_or_loaded_cheaply(tmp_path_factory, base_files, data):
    raw, kind = data.draw(damaged_file(base_files))
    if len(raw) > 1 * MB:
        return   # the goal is about files of at most 1 MB
    path = tmp_path_factory.mktemp("damaged") / "damaged.npz"
    path.write_bytes(raw)
    for with_optimizer in (False, True):
        outcome, cpu, peak = cost_of_load(path, with_optimizer=with_optimizer)
        if outcome is not None:
            assert isinstance(outcome, ValueError), f"{kind}: {type(outcome).__name__}: {outcome}"
            assert "damaged.npz" in str(outcome), f"{kind}: {outcome}"
        assert peak < 64 * MB, f"{kind}: peak {peak / MB:.1f} MB"
        assert cpu < 1.0, f"{kind}: {cpu:.2f} s of CPU"
        if outcome is None:   # a file that loads must give finite values and the right shapes
            net = mm.load(path)
            for _, p in net.named_parameters():
                assert np.isfinite(p.value).all()


def test_an_npy_header_that_numpy_cannot_tokenize_raises_value_error(tmp_path, good):
    # Found by tools/fuzz_load.py: numpy's header parser raises tokenize.TokenError (not a
    # ValueError) on an unclosed bracket.
    text = b"{'descr': '<f8', 'fortran_order': False, 'shape': ((2, 3), }"
    text += b" " * (63 - len(text) % 64) + b"\n"
    member = b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + bytes(48)
    arrays = read_raw(good)
    path = tmp_path / "token.npz"
    with zipfile.ZipFile(path, "w") as z:
        for k, v in arrays.items():
            with z.open(k + ".npy", "w") as m:
                if k == "param/0.W":
                    m.write(member)
                else:
                    np.lib.format.write_array(m, v)
    assert_refused_cheaply(path, r"array 'param/0\.W' is unreadable")


def test_the_atheris_target_accepts_its_seed_files():
    """tools/fuzz_load.py (run by hand with atheris, not in CI): its target and seeds work."""
    import importlib.util
    tool = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "fuzz_load.py")
    spec = importlib.util.spec_from_file_location("fuzz_load", tool)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    seeds = fuzz.seed_files()
    assert len(seeds) == 3
    for raw in seeds + [b"", b"PK\x03\x04", seeds[0][: len(seeds[0]) // 2]]:
        fuzz.one_input(raw)   # loads, or a ValueError naming the file (which it swallows)
    fuzz._MODE["header"] = True
    try:
        fuzz.one_input(b'{"format": "minimlp-model", "format_version": 1}')
        fuzz.one_input(b"[[[[")
    finally:
        fuzz._MODE["header"] = False


# -- Mutation-run survivors (tools/mutate.py, 2026-12-01) -------------------------------------------
# Each test pins a behaviour that a surviving mutant of minimlp/io.py changed: the documented
# limits at their exact boundary (docs/errors.md, "Damaged and hostile model files"), the
# messages naming what was found, and the paths of save and load that no test reached.
import io as _io
import re
import subprocess
import sys

from minimlp.activations import Activation
from minimlp.layer import Layer, Parameter


@contextlib.contextmanager
def layer_classes_defined_here():
    """Remove the Layer classes defined in the block from Layer.registry afterwards (other
    tests list the registry)."""
    before = set(Layer.registry)
    try:
        yield
    finally:
        for name in set(Layer.registry) - before:
            del Layer.registry[name]


def zip_members(path, arrays, *, raw=None, compression=zipfile.ZIP_STORED, comment=b""):
    """Write ``arrays`` (``{key: ndarray}``) as ``<key>.npy`` members, and ``raw`` (``{key:
    bytes}``) as members holding exactly those bytes; returns the file's size."""
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for k, v in arrays.items():
            with z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, v, allow_pickle=False)
        for k, b in (raw or {}).items():
            with z.open(k + ".npy", "w") as m:
                m.write(b)
        z.comment = comment
    return os.path.getsize(path)


def npy_member(array, header_length):
    """A version 1.0 .npy member of ``array`` whose header text is ``header_length`` characters
    (numpy pads its own to 64-byte blocks; a file may pad more)."""
    text = repr({"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
                 "shape": array.shape})
    text = text + " " * (header_length - 1 - len(text)) + "\n"
    assert len(text) == header_length
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1") + array.tobytes()


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.npz"
    mm.save(mm.Sequential(mm.Dense(2, 2, rng=0)), path)
    arrays = read_raw(path)
    return arrays, header_of(arrays)


# The expansion bound: declared sizes <= 4 * file size + 64 KiB.
def test_the_expansion_bound_is_exactly_4x_the_file_plus_64_kib(tmp_path):
    net = mm.Sequential(mm.Dense(100, 200, rng=0))
    for p in net.parameters():
        p.value[...] = 0.0      # deflates to almost nothing
    mm.save(net, tmp_path / "zeros.npz")
    arrays = read_raw(tmp_path / "zeros.npz")
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, v in arrays.items():
            with z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, v)
        declared = sum(i.file_size for i in z.infolist())
    bare = len(buf.getvalue())
    assert declared % 4 == 0
    pad = (declared - (1 << 16)) // 4 - bare     # the archive comment makes the file this much larger
    assert 1 <= pad <= 65535
    at = tmp_path / "at-limit.npz"
    assert zip_members(at, arrays, compression=zipfile.ZIP_DEFLATED, comment=b" " * pad) == bare + pad
    assert declared == 4 * (bare + pad) + (1 << 16)
    np.testing.assert_array_equal(mm.load(at)[0].W, np.zeros((100, 200)))
    past = tmp_path / "past.npz"     # 4 bytes smaller: the members declare 4 bytes too many
    zip_members(past, arrays, compression=zipfile.ZIP_DEFLATED, comment=b" " * (pad - 1))
    assert_refused_cheaply(past, rf"members declare {declared} bytes, but the file holds only "
                                 rf"{bare + pad - 1}: members that expand more than 4x are refused")


def test_a_header_of_exactly_4_mi_characters_loads_and_one_more_is_refused(tmp_path, tiny):
    arrays, h = tiny
    text = json.dumps(h)
    limit = 4 * MB   # 4 Mi characters (16 MiB as .npy unicode)
    at = tmp_path / "at-limit.npz"
    zip_members(at, with_header(arrays, text + " " * (limit - len(text))))
    assert mm.load(at)[0].W.shape == (2, 2)
    past = tmp_path / "past.npz"
    zip_members(past, with_header(arrays, text + " " * (limit + 1 - len(text))))
    assert_refused_cheaply(past, rf"the header is {limit + 1} characters long; minimlp reads "
                                 rf"headers of at most {limit}")


def test_a_header_nested_exactly_100_levels_loads_and_101_is_refused(tmp_path, tiny):
    arrays, h = tiny
    for depth, ok in ((100, True), (101, False)):   # the header's own dict is level 1
        text = json.dumps(h)[:-1] + ', "deep": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
        path = tmp_path / f"deep{depth}.npz"
        zip_members(path, with_header(arrays, text))
        if ok:
            assert mm.load(path)[0].W.shape == (2, 2)
        else:
            assert_refused_cheaply(path, "the header is nested more than 100 levels deep")


def test_integers_of_19_digits_load_and_20_digits_are_refused(tmp_path, tiny):
    arrays, h = tiny
    for value, ok in ((10**18, True), (-(10**19 - 1), True), (10**19, False), (-(10**19), False)):
        text = json.dumps(h)[:-1] + f', "n": {value}' + "}"
        path = tmp_path / "digits.npz"
        zip_members(path, with_header(arrays, text))
        if ok:
            assert mm.load(path)[0].W.shape == (2, 2), value
        else:
            assert_refused_cheaply(path, r"an integer of 20 digits \(at most 19 are read\)")


def test_exactly_4096_layers_load_and_4097_are_refused(tmp_path, tiny):
    arrays, h = tiny
    for n, ok in ((4096, True), (4097, False)):   # Sequentials count: the outer one and Dense are 2
        h2 = json.loads(json.dumps(h))
        h2["architecture"]["layers"] += [{"class": "Identity", "config": {}}] * (n - 2)
        path = tmp_path / f"layers{n}.npz"
        zip_members(path, with_header(arrays, json.dumps(h2)))
        if ok:
            assert len(mm.load(path)) == 4095
        else:
            assert_refused_cheaply(path, "the architecture describes more than 4096 layers")


def test_an_npy_header_of_10000_characters_loads_and_10001_is_refused(tmp_path, tiny):
    arrays, _ = tiny
    b = arrays.pop("param/0.b")
    at = tmp_path / "at-limit.npz"
    zip_members(at, arrays, raw={"param/0.b": npy_member(b, 10000)})
    np.testing.assert_array_equal(mm.load(at)[0].b, b)
    past = tmp_path / "past.npz"
    zip_members(past, arrays, raw={"param/0.b": npy_member(b, 10001)})
    assert_refused_cheaply(past, r"array 'param/0\.b' is unreadable \(ValueError: Header info length \(10001\)")


def test_a_version_2_npy_member_loads(tmp_path, good):
    arrays = read_raw(good)
    path = tmp_path / "v2.npz"
    with zipfile.ZipFile(path, "w") as z:
        for k, v in arrays.items():
            with z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, v, version=(2, 0) if k in ("param/0.W", "__minimlp__") else None)
    net, opt = mm.load(path, with_optimizer=True)
    np.testing.assert_array_equal(net[0].W, arrays["param/0.W"])
    assert opt.steps == 2


# Values from the file are quoted in messages up to 60 characters, then cut.
def test_a_value_is_quoted_whole_up_to_60_characters_then_cut(tmp_path, tiny):
    arrays, h = tiny
    for n, shown in ((58, "'" + "x" * 58 + "'"), (59, "'" + "x" * 59 + "...")):   # repr: 60, 61 characters
        h2 = dict(h, format="x" * n)
        path = tmp_path / "fmt.npz"
        zip_members(path, with_header(arrays, json.dumps(h2)))
        e = assert_refused_cheaply(path, "is not a minimlp model file")
        assert f"(header format {shown}, expected 'minimlp-model')" in str(e)


@pytest.mark.parametrize("text, shown", [('[1, 2]', "[1, 2]"), ('"hello"', "'hello'"), ("7", "7"),
                                         ('{"format": "other"}', "'other'"), ('{"a": 1}', "None")])
def test_a_header_that_is_not_a_minimlp_dict_names_what_it_holds(tmp_path, tiny, text, shown):
    arrays, _ = tiny
    path = tmp_path / "notdict.npz"
    zip_members(path, with_header(arrays, text))
    assert_refused_cheaply(path, re.escape(f"is not a minimlp model file (header format {shown}, expected"))


@pytest.mark.parametrize("count", [-1, 1.5, True, "2", None])
def test_optimizer_state_counts_must_be_integers_of_at_least_0(tmp_path, good, count):
    def change(h, a):
        h["optimizer"]["state"]["_m"] = count
    path = edited(tmp_path, good, change)
    assert_refused_cheaply(path, "the optimizer's state must map names to counts of arrays", with_optimizer=True)


def test_an_optimizer_state_of_0_arrays_where_the_optimizer_keeps_one_per_parameter(tmp_path):
    net = mm.Sequential(mm.Dense(2, 2, rng=0))
    mm.save(net, tmp_path / "sgd.npz", optimizer=mm.SGD(net.parameters(), lr=0.1, momentum=0.9))
    arrays = read_raw(tmp_path / "sgd.npz")
    h = header_of(arrays)
    assert h["optimizer"]["state"] == {"_buf": 2}
    h["optimizer"]["state"]["_buf"] = 0
    arrays = {k: v for k, v in arrays.items() if not k.startswith("optim/")}
    path = tmp_path / "no-buf.npz"
    zip_members(path, with_header(arrays, json.dumps(h)))
    assert_refused_cheaply(path, re.escape("optimizer state '_buf' does not fit the parameters "
                                           "['0.W', '0.b'] (0 arrays for a SGD that keeps 2)"),
                           with_optimizer=True)
    assert mm.load(path)[0].W.shape == (2, 2)   # the model alone loads


# Layer class names: what the file names, and which classes are offered.
def test_a_layer_class_that_is_not_a_string_is_named_in_the_message(tmp_path, good):
    for name in (5, ["ReLU"], None):
        def change(h, a):
            h["architecture"]["layers"][1] = {"class": name, "config": {}}
        assert_refused_cheaply(edited(tmp_path, good, change), re.escape(f"unknown layer class {name!r};"))


def test_a_close_name_is_suggested_for_names_of_up_to_100_characters(tmp_path, good):
    with layer_classes_defined_here():
        long_names = ["IOTestLong" + "x" * 90, "IOTestLonger" + "x" * 89]   # 100 and 101 characters
        for n in long_names:
            type(n, (mm.Identity,), {})
        for n, hint in zip(long_names, (True, False)):
            def change(h, a):
                h["architecture"]["layers"][1] = {"class": n.lower(), "config": {}}
            e = assert_refused_cheaply(edited(tmp_path, good, change), "unknown layer class")
            assert (f"(did you mean {n!r}?)" in str(e)) is hint, str(e)[:300]


def test_an_activation_that_computes_nothing_is_refused_and_not_offered(tmp_path, good):
    with layer_classes_defined_here():
        type("IOTestHollow", (Activation,), {})                  # neither forward nor _forward
        type("IOTestWhole", (Activation,), {"forward": lambda self, X, train=True: X,
                                             "backward": lambda self, dY: dY})   # its own forward

        def change(h, a):
            h["architecture"]["layers"][1] = {"class": "IOTestHollow", "config": {}}
        e = assert_refused_cheaply(edited(tmp_path, good, change), "unknown layer class 'IOTestHollow'")
        known = str(e).split("known: ")[1]
        assert "IOTestHollow" not in known and "IOTestWhole" in known and "ReLU" in known
        assert not [n for n in known.split(". ")[0].split(", ") if n.startswith("_")]   # _SlopeActivation

        def change(h, a):
            h["architecture"]["layers"][1] = {"class": "IOTestWhole", "config": {}}
        assert type(mm.load(edited(tmp_path, good, change))[1]).__name__ == "IOTestWhole"


def test_layernorm_normalized_shape_may_be_a_1_list(tmp_path):
    net = mm.Sequential(mm.Dense(2, 4, rng=0), mm.LayerNorm(4))
    mm.save(net, tmp_path / "ln.npz")
    arrays = read_raw(tmp_path / "ln.npz")
    h = header_of(arrays)
    h["architecture"]["layers"][1]["config"]["normalized_shape"] = [4]
    path = tmp_path / "ln-list.npz"
    zip_members(path, with_header(arrays, json.dumps(h)))
    back = mm.load(path)
    assert back[1].normalized_shape == 4
    X = np.random.default_rng(0).standard_normal((3, 2))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


# Members whose data does not match their header.
def test_a_member_whose_data_ends_early_is_refused(tmp_path, good):
    # A deflated member whose stream (and CRC) hold 8 bytes fewer than its directory entry
    # declares: zipfile returns the short data without complaint; load must not.
    arrays = read_raw(good)
    full = _io.BytesIO()
    np.lib.format.write_array(full, arrays.pop("param/0.W"))
    full = full.getvalue()
    path = tmp_path / "short.npz"
    zip_members(path, arrays, raw={"param/0.W": full[:-8]}, compression=zipfile.ZIP_DEFLATED)
    raw = bytearray(path.read_bytes())
    name = b"param/0.W.npy"
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):   # the uncompressed size
        i = raw.find(sig)
        while raw[i + (30 if sig == b"PK\x03\x04" else 46):][:len(name)] != name:
            i = raw.find(sig, i + 4)
        raw[i + at:i + at + 4] = len(full).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    assert_refused_cheaply(path, r"array 'param/0\.W' is unreadable \(EOFError: 40 bytes of data instead of 48\)")


def test_arrays_a_rebuilt_layer_holds_beyond_its_shape_rule_are_refused(tmp_path, monkeypatch):
    # A BatchNorm1d that holds one more buffer than the shape rule knows of (a changed class):
    # the message lists every array the rebuilt model holds, parameters first.
    net = mm.Sequential(mm.Dense(2, 3, rng=0), mm.BatchNorm1d(3))
    mm.save(net, tmp_path / "bn.npz")
    real = mm.BatchNorm1d.buffers
    monkeypatch.setattr(mm.BatchNorm1d, "buffers", lambda self: {**real(self), "extra": np.zeros(3)})
    e = assert_refused_cheaply(tmp_path / "bn.npz", "the rebuilt model holds arrays")
    assert ("['param/0.W', 'param/0.b', 'param/1.gamma', 'param/1.beta', 'buffer/1.running_mean', "
            "'buffer/1.running_var', 'buffer/1.extra'], not those its saved config implies") in str(e)


# Paths that are not regular files.
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_and_a_device_are_named_by_their_kind(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    assert_refused_cheaply(fifo, r"is not a regular file \(a named pipe\)")
    if os.path.exists("/dev/zero"):
        assert_refused_cheaply("/dev/zero", r"is not a regular file \(a character device\)")


@pytest.mark.skipif(not (hasattr(os, "mkfifo") and os.path.isdir("/proc/self/fd")), reason="needs FIFOs, /proc")
def test_a_fifo_swapped_in_after_the_stat_is_refused_without_blocking_or_leaking(tmp_path, good, monkeypatch):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    real_stat = os.stat

    def stat_before_the_swap(p, *args, **kwargs):   # os.stat saw a regular file there
        return real_stat(good if os.fspath(p) == str(fifo) else p, *args, **kwargs)
    fds = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "stat", stat_before_the_swap)
    with alarm(5):   # opening a FIFO without O_NONBLOCK waits for a writer
        with pytest.raises(ValueError, match=r"pipe\.npz' is not a regular file \(a named pipe\)"):
            mm.load(fifo)
    monkeypatch.undo()
    assert len(os.listdir("/proc/self/fd")) == fds   # the descriptor was closed


# save: errors, the header's values, owners, and temporaries of running processes.
def test_save_below_a_file_is_not_a_directory_error_not_a_missing_folder(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    path = tmp_path / "afile" / "m.npz"
    with pytest.raises(NotADirectoryError, match=re.escape(f"save: cannot write {str(path)!r}")) as info:
        mm.save(mm.Sequential(mm.Dense(2, 2, rng=0)), path)
    assert not isinstance(info.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mm.save(mm.Sequential(mm.Dense(2, 2, rng=0)), tmp_path / "missing" / "m.npz")


def test_a_model_without_a_dtype_records_its_first_parameters_dtype(tmp_path):
    with layer_classes_defined_here():
        class IOTestMixed(Layer):
            def __init__(self):
                self.W = Parameter(np.ones((2, 2), dtype=np.float32), "W")
                self.s = Parameter(np.full(2, 3.0), "s")

            def forward(self, X, train=True):
                return X

            def backward(self, dY):
                return dY

        layer = IOTestMixed()
        assert getattr(layer, "dtype", None) is None
        mm.save(layer, tmp_path / "mixed.npz")
        assert header_of(read_raw(tmp_path / "mixed.npz"))["dtype"] == "float32"
        back = mm.load(tmp_path / "mixed.npz")
        assert back.W.value.dtype == np.float32 and back.s.value[0] == 3.0


def test_numpy_scalars_in_a_config_are_stored_as_numbers(tmp_path):
    with layer_classes_defined_here():
        class IOTestScaled(Layer):
            def __init__(self, k=1, scale=1.0):
                self.k, self.scale = k, scale

            def get_config(self):   # numpy scalars, as a custom layer may hold them
                return {"k": np.int64(self.k), "scale": np.float32(self.scale)}

            def forward(self, X, train=True):
                return X * self.scale

            def backward(self, dY):
                return dY * self.scale

        mm.save(mm.Sequential(mm.Dense(2, 2, rng=0), IOTestScaled(3, 0.5)), tmp_path / "s.npz")
        assert header_of(read_raw(tmp_path / "s.npz"))["architecture"]["layers"][1]["config"] == {"k": 3, "scale": 0.5}
        back = mm.load(tmp_path / "s.npz")
        assert (back[1].k, back[1].scale) == (3, 0.5)


def test_an_optimizers_list_of_numbers_is_kept_as_extra_state(tmp_path):
    class IOTestHistorySGD(mm.SGD):
        history = ()

        def state_dict(self):
            return {**super().state_dict(), "history": list(self.history), "note": 3}

        def load_state_dict(self, state):
            super().load_state_dict(state)
            self.history, self.note = list(state["history"]), state["note"]

    net = mm.Sequential(mm.Dense(2, 2, rng=0))
    opt = IOTestHistorySGD(net.parameters(), lr=0.1, momentum=0.9)
    opt.history = [0.5, 0.25]
    mm.save(net, tmp_path / "h.npz", optimizer=opt)
    raw = read_raw(tmp_path / "h.npz")
    spec = header_of(raw)["optimizer"]
    assert spec["state"] == {"_buf": 2} and spec["extra"] == {"history": [0.5, 0.25], "note": 3}
    assert not any(k.startswith("optim/history") for k in raw)
    _, back = mm.load(tmp_path / "h.npz", with_optimizer=True)
    assert type(back) is IOTestHistorySGD and back.history == [0.5, 0.25] and back.note == 3


def test_saving_over_a_file_of_another_owner_keeps_its_owner(tmp_path):
    path = tmp_path / "owned.npz"
    mm.save(mm.Sequential(mm.Dense(2, 2, rng=0)), path)
    uid, gid = os.getuid(), os.getgid()
    if os.geteuid() == 0:
        uid, gid = 4242, 4243
    else:
        others = [g for g in os.getgroups() if g != gid]
        if not others:
            pytest.skip("needs root, or a second group to give the file to")
        gid = others[0]
    os.chown(path, uid, gid)
    mm.save(mm.Sequential(mm.Dense(2, 2, rng=1)), path)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (uid, gid)


@pytest.mark.skipif(os.name != "posix", reason="pids of temporaries are read on POSIX")
def test_temporaries_of_running_or_unaskable_processes_are_kept(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    child = subprocess.Popen(["sleep", "30"]) if os.path.exists("/bin/sleep") else \
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        kept = [tmp_path / f".ckpt.npz.{child.pid}.k3j9x_2q.tmp",      # running, ours
                tmp_path / ".ckpt.npz.1.a1b2c3d4.tmp",                 # running, another user's
                tmp_path / f".ckpt.npz.{2**70}.zz99yy88.tmp"]          # no pid os.kill can ask about
        for f in kept:
            f.write_bytes(b"PK\x03\x04 half a checkpoint")
        real_kill = os.kill

        def kill_as_a_user(pid, sig):   # pid 1 belongs to root: a user may not signal it
            if pid == 1:
                raise PermissionError(1, "Operation not permitted")
            return real_kill(pid, sig)
        monkeypatch.setattr(os, "kill", kill_as_a_user)
        mm.save(mm.Sequential(mm.Dense(2, 2, rng=0)), path)
        monkeypatch.undo()
        assert set(os.listdir(tmp_path)) == {"ckpt.npz", *(f.name for f in kept)}
    finally:
        child.kill()
        child.wait()
