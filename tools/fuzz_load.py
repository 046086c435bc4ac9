"""A coverage-guided fuzz target for ``minimlp.load`` (atheris, libFuzzer).

Not part of the test suite or of CI: it runs for as long as you let it. The property it
checks is the one ``load`` promises (docs/errors.md, "Damaged and hostile model files"):
any input is either loaded or refused with a ``ValueError`` naming the file. Any other
exception is a crash; libFuzzer writes the input to ``crash-<hash>``. Memory and time are
bounded by libFuzzer's own options (``-rss_limit_mb``, ``-timeout``).

Two modes:

* ``raw`` (default): the fuzzer's bytes are the whole file.
* ``--header``: the bytes are the JSON header's text, put into a valid model file whose
  arrays are kept; this reaches the header checks much faster than raw bytes do.

Run it (``pip install atheris`` first; Linux or macOS, CPython 3.8 to 3.11+)::

    mkdir -p corpus && python tools/fuzz_load.py corpus -rss_limit_mb=512 -timeout=2 -max_total_time=300
    python tools/fuzz_load.py --header corpus-h -rss_limit_mb=512 -timeout=2 -max_total_time=300
    python tools/fuzz_load.py crash-1234abcd       # replay one input

An empty corpus folder given on the command line is first filled with a few valid model
files (with and without optimizer state, BatchNorm buffers, a nested Sequential, float32),
so that the fuzzer starts from inputs that reach deep into ``load``.
"""
from __future__ import annotations

import io
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if __name__ != "__main__":   # imported (by a test): no instrumentation wanted
    import minimlp as mm  # noqa: E402

_PATH = os.path.join(tempfile.mkdtemp(prefix="fuzz_load."), "input.npz")
_MODE = {"header": False}


def seed_models() -> list:
    """Small models that cover every kind of array a file holds."""
    a = mm.Sequential(mm.Dense(2, 3, rng=0), mm.ReLU(), mm.BatchNorm1d(3), mm.Dense(3, 2, rng=1))
    b = mm.Sequential(mm.Dense(3, 4, rng=0, dtype=np.float32), mm.Tanh(),
                      mm.Sequential(mm.Dense(4, 4, rng=1, dtype=np.float32), mm.LayerNorm(4, dtype=np.float32)),
                      mm.Dense(4, 1, rng=2, dtype=np.float32))
    c = mm.Sequential(mm.Dense(2, 2, rng=3, bias=False), mm.Dropout(0.1), mm.Softmax())
    return [(a, mm.Adam(a.parameters(), lr=0.01)), (b, mm.SGD(b.parameters(), lr=0.1, momentum=0.9)),
            (c, None)]


def seed_files() -> list[bytes]:
    out = []
    for model, opt in seed_models():
        mm.save(model, _PATH, optimizer=opt)
        with open(_PATH, "rb") as f:
            out.append(f.read())
    return out


_BASE = {}


def _with_header(text: str) -> bytes:
    """A valid file's arrays with ``text`` as its header."""
    if "arrays" not in _BASE:
        model, opt = seed_models()[0]
        mm.save(model, _PATH, optimizer=opt)
        with np.load(_PATH, allow_pickle=False) as f:
            _BASE["arrays"] = {k: f[k] for k in f.files}
    arrays = dict(_BASE["arrays"])
    arrays["__minimlp__"] = np.array(text)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def one_input(data: bytes) -> None:
    """The target: load ``data`` (or a file with ``data`` as its header) and accept only a
    model or a ValueError naming the file."""
    if _MODE["header"]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return
        data = _with_header(text)
    with open(_PATH, "wb") as f:
        f.write(data)
    for with_optimizer in (False, True):
        try:
            mm.load(_PATH, with_optimizer=with_optimizer)
        except ValueError as e:
            if repr(_PATH) not in str(e):
                raise AssertionError(f"a ValueError that does not name the file: {e}") from None


def _fill_empty_corpora(args: list[str]) -> None:
    for arg in args:
        if os.path.isdir(arg) and not os.listdir(arg):
            seeds = seed_files()
            if _MODE["header"]:
                seeds = []
                for model, opt in seed_models():
                    mm.save(model, _PATH, optimizer=opt)
                    with np.load(_PATH, allow_pickle=False) as f:
                        seeds.append(str(f["__minimlp__"]).encode())
            for i, raw in enumerate(seeds):
                with open(os.path.join(arg, f"seed{i}"), "wb") as f:
                    f.write(raw)


def main(argv: list[str]) -> None:
    import atheris   # only here: the module imports without it (tests call one_input)

    global mm
    with atheris.instrument_imports(include=["minimlp"]):   # coverage of minimlp only
        import minimlp as mm
    if "--header" in argv:
        argv = [a for a in argv if a != "--header"]
        _MODE["header"] = True
    _fill_empty_corpora([a for a in argv[1:] if not a.startswith("-")])
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
