"""Training configurations for ``minimlp train``: read a TOML file, check it, build the objects.

A configuration is a dict of these tables (every key optional; defaults below)::

    [data]        name = "spirals", then the data set function's own arguments (n, noise, seed...)
    [model]       layers = "2-64-64-3" (widths) or a list of {type = "Dense", ...} tables;
                  activation = "relu", output_activation = "" (none), init = "", dtype, seed
    [optimizer]   name = "adam", then the optimizer's arguments (lr, betas, momentum, ...)
    [training]    loss, epochs, batch_size, seed, shuffle, validation_split, metrics, verbose,
                  max_loss_growth
    [output]      dir, model, history (.csv/.json files), plots (true/false); a relative
                  model/history path is inside dir, an absolute one is used as it is
    [early_stopping]  off unless ``patience`` is given; then any ``EarlyStopping`` argument
                  (monitor = "val_loss", patience, min_delta, mode, restore_best_weights,
                  baseline, start_from_epoch)
    [schedule]    name = "" (none) or a learning-rate schedule (``SCHEDULES``: step,
                  exponential, linear, cosine, cosine_warm_restarts, one_cycle, plateau),
                  then its class's arguments (step_size, gamma, T_max, ...)

Every mistake (an unknown table or key, a wrong type, an unknown data set, layer, activation,
loss or optimizer name) raises ``ConfigError`` (a ``ValueError``) whose message names the
key, says what is allowed and, for a typo, suggests the closest name.
"""
from __future__ import annotations

import difflib
import inspect
import math
import numbers
import os
import re
import sys
import tempfile

import numpy as np

from .layer import Layer
from .optim import Optimizer


class ConfigError(ValueError):
    """A mistake in a training configuration (the message says what and what is allowed)."""


DEFAULTS: dict[str, dict] = {
    "data": {"name": "spirals"},
    "model": {"layers": None, "activation": "relu", "output_activation": "", "init": "",
              "dtype": "float64", "seed": 0},
    "optimizer": {"name": "adam", "lr": 0.01},
    "training": {"loss": "", "epochs": 100, "batch_size": 32, "seed": 0, "shuffle": True,
                 "validation_split": 0.2, "metrics": None, "verbose": 1, "max_loss_growth": 1e4},
    "output": {"dir": "minimlp-out", "model": "model.npz", "history": ["history.csv"],
               "plots": True},
    "early_stopping": {},
    "schedule": {"name": ""},
}

#: ``[schedule] name`` -> the ``minimlp.schedules`` class (the class names work too).
SCHEDULES = {"step": "StepLR", "exponential": "ExponentialLR", "linear": "LinearLR",
             "cosine": "CosineAnnealingLR", "cosine_warm_restarts": "CosineAnnealingWarmRestarts",
             "one_cycle": "OneCycleLR", "plateau": "ReduceLROnPlateau"}

#: A config file larger than this is refused before it is parsed.
MAX_CONFIG_BYTES = 1 << 20

#: Keys of [data] that are not arguments of the data set function.
_DATA_OWN = ("name",)
#: Keys of [optimizer] that are not arguments of the optimizer class.
_OPTIMIZER_OWN = ("name",)


# -- reading -------------------------------------------------------------------------------
def _toml():
    if sys.version_info >= (3, 11):
        import tomllib
        return tomllib
    try:
        import tomli
    except ModuleNotFoundError:  # pragma: no cover - tomli is a dependency on 3.10
        raise ConfigError("reading TOML on Python 3.10 needs the 'tomli' package "
                          "(pip install tomli)") from None
    return tomli


def read_config(path) -> dict:
    """The TOML file ``path`` as a checked configuration (defaults filled in)."""
    toml = _toml()
    name = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file {name!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {name!r} is a directory") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {name!r}: {e.strerror or e}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {name!r} is larger than {MAX_CONFIG_BYTES // 2**20} MiB; "
                          "a training configuration is a few lines of TOML")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"config file {name!r} is not UTF-8 text (byte 0x{data[e.start]:02x} on "
                          f"line {line}); TOML files are UTF-8: save it as UTF-8") from None
    try:
        raw = toml.loads(text)
    except toml.TOMLDecodeError as e:
        raise ConfigError(f"config file {name!r} is not valid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"config file {name!r} nests arrays or tables too deeply to read; "
                          "a training configuration needs at most a few levels") from None
    return check_config(raw, where=name)


def parse_value(text: str):
    """A command-line ``KEY=VALUE`` value as TOML would read it: ``3`` int, ``0.5`` float,
    ``true`` bool, ``[0.9, 0.99]`` list; anything else is the string itself."""
    toml = _toml()
    try:
        return toml.loads(f"v = {text}")["v"]
    except (toml.TOMLDecodeError, RecursionError):
        return text


def _suggest(name: str, allowed) -> str:
    close = difflib.get_close_matches(str(name), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown(what: str, name, allowed) -> ConfigError:
    allowed = list(allowed)
    return ConfigError(f"unknown {what} {name!r}{_suggest(name, allowed)}; allowed: "
                       f"{', '.join(map(str, allowed))}")


def check_config(raw: dict, where: str = "config") -> dict:
    """``raw`` (e.g. parsed TOML) merged over ``DEFAULTS``, with every table and key checked.

    Keys of ``[data]`` and ``[optimizer]`` besides ``name`` are checked later, against the
    chosen data set function's and optimizer's arguments (``load_data``, ``build_optimizer``).
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected tables [data], [model], ..., got {type(raw).__name__}")
    config = {section: dict(values) for section, values in DEFAULTS.items()}
    for section, table in raw.items():
        if section not in DEFAULTS:
            raise ConfigError(f"{where}: unknown table [{section}]{_suggest(section, DEFAULTS)}; "
                              f"allowed: {', '.join(f'[{s}]' for s in DEFAULTS)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] must be a table of keys, got {table!r}")
        for key, value in table.items():
            if section not in ("data", "optimizer", "early_stopping", "schedule") \
                    and key not in DEFAULTS[section]:
                raise ConfigError(f"{where}: unknown key {key!r} in [{section}]"
                                  f"{_suggest(key, DEFAULTS[section])}; allowed: "
                                  f"{', '.join(DEFAULTS[section])}")
            config[section][key] = value
    _check_types(config, where)
    _check_callback_tables(config, where)
    return config


def _keyword_names(fn, skip=("self", "optimizer")) -> list[str]:
    return [n for n, p in inspect.signature(fn).parameters.items()
            if n not in skip and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def schedule_class(name: str, where: str = "schedule.name") -> type:
    """The schedule class for a ``[schedule] name`` (``"step"`` or ``"StepLR"``, any case)."""
    from . import schedules
    by_name = {**SCHEDULES, **{v.lower(): v for v in SCHEDULES.values()}}
    key = str(name).lower().replace("-", "_")
    if key not in by_name:
        raise _unknown(f"schedule in {where}", name, SCHEDULES)
    return getattr(schedules, by_name[key])


def _check_callback_tables(c: dict, where: str) -> None:
    """The keys of [early_stopping] and [schedule], against the arguments of the classes
    they build (values are checked by the constructors, in ``build_callbacks``)."""
    from .callbacks import EarlyStopping
    allowed = _keyword_names(EarlyStopping.__init__)
    for key in c["early_stopping"]:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} in [early_stopping]"
                              f"{_suggest(key, allowed)}; allowed: {', '.join(allowed)}")
    if c["early_stopping"] and "patience" not in c["early_stopping"]:
        raise ConfigError(f"{where}: [early_stopping] needs patience = <epochs> (it turns early "
                          "stopping on); the other keys are optional")
    sched = c["schedule"]
    name = sched.get("name", "")
    if not isinstance(name, str):
        raise ConfigError(f"{where}: schedule.name must be a schedule name, got {name!r}")
    if not name:
        extra = [k for k in sched if k != "name"]
        if extra:
            raise ConfigError(f"{where}: [schedule] has {', '.join(extra)} but no name; add "
                              f"name = \"step\" (or {', '.join(SCHEDULES)})")
        return
    cls = schedule_class(name)
    allowed = _keyword_names(cls.__init__)
    for key in sched:
        if key != "name" and key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} in [schedule] {name}"
                              f"{_suggest(key, ['name'] + allowed)}; allowed: name, "
                              f"{', '.join(allowed)}")


def build_callbacks(config: dict, optimizer) -> list:
    """The ``EarlyStopping`` and schedule that ``[early_stopping]`` and ``[schedule]`` ask
    for (an empty list when neither does), the schedule attached to ``optimizer``."""
    from .callbacks import EarlyStopping
    out = []
    if config["early_stopping"]:
        out.append(_call_checked(EarlyStopping, dict(config["early_stopping"]), "[early_stopping]"))
    sched = config["schedule"]
    if sched.get("name"):
        cls = schedule_class(sched["name"])
        kwargs = {k: v for k, v in sched.items() if k != "name"}
        try:
            out.append(cls(optimizer, **kwargs))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"[schedule] {sched['name']}: {e}") from None
    return out


def _check_types(c: dict, where: str) -> None:
    def need(ok: bool, key: str, expected: str, value):
        if not ok:
            raise ConfigError(f"{where}: {key} must be {expected}, got {value!r}")

    def is_int(v, low):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low

    def is_str(v):
        return isinstance(v, str)

    need(is_str(c["data"]["name"]), "data.name", "a data set name", c["data"]["name"])
    layers = c["model"]["layers"]
    need(layers is None or is_str(layers) or (isinstance(layers, list) and layers
                                              and all(isinstance(t, dict) for t in layers)),
         "model.layers", 'widths like "2-64-64-3" or a list of tables like {type = "Dense", '
         'in_features = 2, out_features = 64}', layers)
    for key in ("activation", "output_activation", "init", "dtype"):
        need(is_str(c["model"][key]), f"model.{key}", "a string", c["model"][key])
    need(is_int(c["model"]["seed"], 0), "model.seed", "an integer >= 0", c["model"]["seed"])
    need(is_str(c["optimizer"]["name"]), "optimizer.name", "an optimizer name", c["optimizer"]["name"])
    t = c["training"]
    need(is_str(t["loss"]), "training.loss", "a loss name", t["loss"])
    need(is_int(t["epochs"], 1), "training.epochs", "an integer >= 1", t["epochs"])
    need(is_int(t["batch_size"], 1), "training.batch_size", "an integer >= 1", t["batch_size"])
    need(is_int(t["seed"], 0), "training.seed", "an integer >= 0", t["seed"])
    need(isinstance(t["shuffle"], bool), "training.shuffle", "true or false", t["shuffle"])
    vs = t["validation_split"]
    need(isinstance(vs, numbers.Real) and not isinstance(vs, bool) and 0 <= vs < 1,
         "training.validation_split", "a number in [0, 1)", vs)
    need(t["metrics"] is None or (isinstance(t["metrics"], list) and all(map(is_str, t["metrics"]))),
         "training.metrics", 'a list of names like ["accuracy"]', t["metrics"])
    need(t["verbose"] in (0, 1, 2) and not isinstance(t["verbose"], bool), "training.verbose",
         "0, 1 or 2", t["verbose"])
    g = t["max_loss_growth"]
    need(g == 0 or isinstance(g, numbers.Real) and not isinstance(g, bool) and g > 1 and math.isfinite(g),
         "training.max_loss_growth", "a number > 1 (or 0 to turn the check off)", g)
    o = c["output"]
    need(is_str(o["dir"]), "output.dir", "a folder path", o["dir"])
    need(is_str(o["model"]), "output.model", 'a file name ("" for none)', o["model"])
    hist = [o["history"]] if is_str(o["history"]) else o["history"]
    need(isinstance(hist, list) and all(is_str(h) and (h == "" or h.endswith((".csv", ".json")))
                                        for h in hist),
         "output.history", 'file names ending in .csv or .json (a list, or "" for none)', o["history"])
    o["history"] = [h for h in hist if h]
    need(isinstance(o["plots"], bool), "output.plots", "true or false", o["plots"])


# -- output paths ----------------------------------------------------------------------------
def _cannot_create(folder: str, kind: str) -> str | None:
    """Why a file (``kind="file"``) or a folder (``"folder"``) cannot be created inside the
    existing folder ``folder``, or ``None`` when it can: found by creating one there and
    removing it at once. ``os.access`` alone says yes to root on read-only places such as
    ``/proc``."""
    try:
        if kind == "folder":
            os.rmdir(tempfile.mkdtemp(prefix=".minimlp-probe-", dir=folder))
        else:
            fd, probe = tempfile.mkstemp(prefix=".minimlp-probe-", dir=folder)
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        import errno
        if e.errno == errno.ENOENT:   # the folder exists: a virtual file system (/proc, /sys)
            return "nothing can be created there (a virtual file system such as /proc?)"
        if e.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        return e.strerror or str(e)
    return None


def check_output_dir(folder: str, what: str = "output folder") -> None:
    """Raise ``ConfigError`` unless ``folder`` is a writable folder or can be created (its
    first existing ancestor is a writable folder, not a file). Leaves nothing behind: the
    check creates a file (or folder) there and removes it."""
    path = os.path.abspath(folder or ".")
    if os.path.isdir(path):
        reason = "permission denied" if not os.access(path, os.W_OK | os.X_OK) else \
            _cannot_create(path, "file")
        if reason:
            raise ConfigError(f"{what} {folder!r} is not writable: {reason}")
        return
    if os.path.exists(path):
        raise ConfigError(f"{what} {folder!r} is a file, not a folder; name a folder")
    parent = os.path.dirname(path)
    while parent != os.path.dirname(parent) and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ConfigError(f"cannot create {what} {folder!r}: {parent!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot create {what} {folder!r}: {parent!r} is not writable")
    reason = _cannot_create(parent, "folder")
    if reason:
        raise ConfigError(f"cannot create {what} {folder!r}: {reason} (in {parent!r})")


def check_output_file(path: str, what: str = "output file") -> None:
    """Raise ``ConfigError`` unless ``path`` can be written now: its folder exists and is
    writable, and ``path`` is not a folder. Leaves nothing behind (the check creates a file
    in the folder and removes it)."""
    full = os.path.abspath(path)
    if os.path.isdir(full):
        raise ConfigError(f"{what} {path!r} is a folder; name a file")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise ConfigError(f"cannot write {what} {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(full) and not os.access(full, os.W_OK)):
        raise ConfigError(f"cannot write {what} {path!r}: permission denied")
    reason = _cannot_create(folder, "file")
    if reason:
        raise ConfigError(f"cannot write {what} {path!r}: {reason}")


def output_paths(output: dict) -> list[tuple[str, str]]:
    """``[("output.model", path), ("output.history", path), ...]``: where ``[output]`` puts
    its files. A relative ``model``/``history`` name is inside ``dir`` (its sub-folders are
    created with ``dir``); an absolute path is used as it is."""
    paths = []
    if output["model"]:
        paths.append(("output.model", os.path.join(output["dir"], output["model"])))
    for name in output["history"]:
        paths.append(("output.history", os.path.join(output["dir"], name)))
    return paths


def check_output(output: dict) -> None:
    """Raise ``ConfigError`` before any training when ``[output]`` cannot be written: ``dir``
    is a file or cannot be created, a file's folder is missing outside ``dir``, or a file
    name is an existing folder. Creates nothing."""
    check_output_dir(output["dir"], "output.dir (--out)")
    root = os.path.abspath(output["dir"] or ".")
    for what, path in output_paths(output):
        full = os.path.abspath(path)
        if os.path.isdir(full):
            raise ConfigError(f"{what}: {path!r} is a folder; name a file")
        folder = os.path.dirname(full)
        if folder == root or folder.startswith(root + os.sep):
            check_output_dir(folder, f"{what}: folder")   # created with output.dir
        elif not os.path.isdir(folder):
            raise ConfigError(f"{what}: cannot write {path!r}: folder {folder!r} does not exist "
                              "(relative names are put inside output.dir)")
        else:
            check_output_file(full, what)


# -- data ----------------------------------------------------------------------------------
def _call_checked(fn, kwargs: dict, what: str, extra_allowed=()):
    """``fn(**kwargs)`` after checking every key against ``fn``'s signature."""
    sig = inspect.signature(fn)
    names = [n for n, p in sig.parameters.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    takes_any = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    for key in kwargs:
        if key not in names and not takes_any:
            allowed = list(extra_allowed) + names
            raise ConfigError(f"{what}: unknown key {key!r}{_suggest(key, allowed)}; allowed: "
                              f"{', '.join(allowed)}")
    try:
        return fn(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{what}: {e}") from None


def load_data(data: dict, seed: int):
    """``(X, Y)`` from ``[data]``: ``DATASETS[name](**the other keys)``; the data set's ``seed``
    defaults to the training seed."""
    from .datasets import DATASETS
    name = data["name"]
    if name not in DATASETS:
        raise _unknown("data set", name, DATASETS)
    fn = DATASETS[name]
    kwargs = {k: v for k, v in data.items() if k not in _DATA_OWN}
    if "seed" in inspect.signature(fn).parameters and "seed" not in kwargs:
        kwargs["seed"] = seed
    try:
        out = _call_checked(fn, kwargs, f"[data] {name}", _DATA_OWN)
    except ImportError as e:  # an optional extra (scikit-learn for digits) is missing
        raise ConfigError(f"[data] {name}: {e}") from None
    except MemoryError as e:
        raise ConfigError(f"[data] {name}: not enough memory for the data set with "
                          f"{_args(kwargs)} ({str(e) or 'MemoryError'}); use a smaller n") from None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise ConfigError(f"[data] {name}: the data set function must return (X, Y)")
    return out


def _args(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "seed") or "its defaults"


def task_of(Y) -> str:
    """``"classification"`` for integer labels ``(N,)``, else ``"regression"``."""
    Y = np.asarray(Y)
    return "classification" if Y.ndim == 1 and Y.dtype.kind in "iub" else "regression"


# -- model ---------------------------------------------------------------------------------
_ABSTRACT = {"Layer", "Activation", "Sequential"}


def layer_types() -> dict[str, type]:
    """Layer classes a configuration may name (``Layer.registry`` without the abstract ones)."""
    return {n: c for n, c in sorted(Layer.registry.items())
            if n not in _ABSTRACT and not n.startswith("_")}


def activation_types() -> dict[str, type]:
    """Activation names for ``--activation``: lower-case class names (``relu``, ``tanh``...),
    plus ``leaky_relu`` and ``linear`` (= identity); see ``activations.activation_classes``."""
    from .activations import activation_classes
    return activation_classes()


def get_activation(name: str, what: str = "activation"):
    acts = activation_types()
    key = name.lower().replace("-", "_")
    if key not in acts:
        raise _unknown(what, name, acts)
    return acts[key]()


def parse_widths(spec: str) -> list[int]:
    """``"2-64-64-3"`` -> ``[2, 64, 64, 3]``: two or more whole numbers >= 1 joined by ``-``
    (nothing else between them; spaces around the whole are ignored). Every command that
    takes ``--layers`` (``train``, ``bench``) and the ``layers`` key of a config use it, so
    ``784x512`` or ``2--3`` is refused everywhere with the same message."""
    text = spec.strip() if isinstance(spec, str) else ""
    if not re.fullmatch(r"[0-9]+(-[0-9]+)+", text) or min(int(p) for p in text.split("-")) < 1:
        hint = ""
        if re.fullmatch(r"[0-9]+([x,][0-9]+)+", text):
            hint = " (only '-' separates widths)"
        raise ConfigError(f"layers {spec!r}: expected positive widths joined by '-', from the "
                          f"input width to the output width, e.g. \"2-64-64-3\"{hint}")
    return [int(p) for p in text.split("-")]


def _memory_bytes() -> int:
    """This machine's physical memory in bytes (2**40 when the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return 1 << 40


def check_parameter_count(shapes, dtype, what: str = "model") -> int:
    """Raise ``ConfigError`` when Dense layers of ``(in, out)`` ``shapes`` could not fit in
    this machine's memory, before anything is allocated. A parameter costs about four arrays
    of its dtype while training (the value, its gradient and two optimizer moments), so
    ``4 * itemsize * sum(in * out + out)`` bytes must not exceed the physical memory.
    Returns the parameter count."""
    count = sum(int(a) * int(b) + int(b) for a, b in shapes)
    need = 4 * np.dtype(dtype).itemsize * count
    have = _memory_bytes()
    if need > have:
        raise ConfigError(f"{what}: {count:,} parameters would need about {need / 2**30:,.0f} "
                          f"GiB while training (weights, gradients, optimizer state), more than "
                          f"this machine's {have / 2**30:,.0f} GiB; use smaller widths")
    return count


def build_model(model: dict, in_features: int, out_features: int, data: str = "",
                outputs_hint: str = ""):
    """A ``Sequential`` from ``[model]`` for data of ``in_features`` columns and
    ``out_features`` outputs (classes, or target columns). ``data`` (e.g. ``"data set
    'moons'"``) names the data in messages; ``outputs_hint`` is added to a message about the
    number of outputs."""
    data = f" ({data})" if data else ""
    from . import Dense, Sequential
    from ._checks import check_dtype
    try:
        dtype = check_dtype(model["dtype"], "model.dtype")
    except ValueError as e:
        raise ConfigError(str(e)) from None
    rng = np.random.default_rng(model["seed"])
    spec = model["layers"]
    if spec is None:
        spec = f"{in_features}-64-64-{out_features}"
    if isinstance(spec, str):
        widths = parse_widths(spec)
        if widths[0] != in_features or widths[-1] != out_features:
            raise ConfigError(f"layers {spec!r}: the data have {in_features} input features and "
                              f"need {out_features} outputs{data}, so the widths must run "
                              f"{in_features}-...-{out_features}{outputs_hint}")
        check_parameter_count(zip(widths, widths[1:]), dtype, f"layers {spec!r}")
        act_name = model["activation"]
        get_activation(act_name)  # check the name once, before building anything
        _check_init(model["init"], "model.init")
        init = model["init"] or ("he_uniform" if act_name.lower() in ("relu", "leaky_relu", "leakyrelu")
                                 else "glorot_uniform")
        layers = []
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            try:
                layers.append(Dense(a, b, init=init, rng=rng, dtype=dtype))
            except (TypeError, ValueError) as e:
                raise ConfigError(f"model: {e}") from None
            if i < len(widths) - 2:
                layers.append(get_activation(act_name))
    else:
        dense = [(t.get("in_features"), t.get("out_features")) for t in spec]
        check_parameter_count([(a, b) for a, b in dense if is_whole(a) and is_whole(b)
                               and a > 0 and b > 0], dtype, "model.layers")
        layers = [_layer_from_table(t, i, rng, dtype) for i, t in enumerate(spec)]
    if model["output_activation"]:
        layers.append(get_activation(model["output_activation"], "output_activation"))
    try:
        net = Sequential(*layers)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model.layers: {e}") from None
    if net.in_features is not None and net.in_features != in_features:
        raise ConfigError(f"model.layers: the first layer takes {net.in_features} features, but "
                          f"the data have {in_features}{data}")
    width = net.output_features(in_features)
    if width != out_features:
        raise ConfigError(f"model.layers: the network outputs {width} columns, but the data "
                          f"need {out_features}{data}{outputs_hint}")
    return net


def is_whole(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_init(init, what: str) -> None:
    """An initializer name must be one of ``INITIALIZERS`` ("" means the default)."""
    from .init import INITIALIZERS
    if isinstance(init, str) and init and init not in INITIALIZERS:
        raise _unknown(what, init, INITIALIZERS)


def _layer_from_table(table: dict, i: int, rng, dtype) -> Layer:
    types = layer_types()
    kwargs = dict(table)
    name = kwargs.pop("type", None)
    if not isinstance(name, str):
        raise ConfigError(f"model.layers[{i}]: needs type = \"<layer class>\"; allowed: "
                          f"{', '.join(types)}")
    if name not in types:
        lower = {n.lower(): n for n in types}
        if name.lower() in lower:
            name = lower[name.lower()]
        else:
            raise _unknown(f"layer type in model.layers[{i}]", name, types)
    cls = types[name]
    if "init" in kwargs:
        _check_init(kwargs["init"], f"init in model.layers[{i}] ({name})")
    params = inspect.signature(cls.__init__).parameters
    if "rng" in params and "rng" not in kwargs:
        kwargs["rng"] = rng
    if "dtype" in params and "dtype" not in kwargs:
        kwargs["dtype"] = dtype
    return _call_checked(cls, kwargs, f"model.layers[{i}] ({name})", ("type",))


# -- loss and optimizer ----------------------------------------------------------------------
def get_loss(name: str):
    from .training import LOSSES
    key = name.lower().replace("-", "_")
    if key not in LOSSES:
        raise _unknown("loss", name, LOSSES)
    return LOSSES[key]()


def optimizer_types() -> dict[str, type]:
    """Optimizer classes by lower-case name (``sgd``, ``adam``, ...)."""
    found, todo = {}, [Optimizer]
    while todo:
        for sub in todo.pop().__subclasses__():
            if not sub.__name__.startswith("_"):
                found.setdefault(sub.__name__.lower(), sub)
            todo.append(sub)
    return dict(sorted(found.items()))


def build_optimizer(optimizer: dict, params):
    types = optimizer_types()
    name = optimizer["name"]
    if name.lower() not in types:
        raise _unknown("optimizer", name, types)
    cls = types[name.lower()]
    kwargs = {k: v for k, v in optimizer.items() if k not in _OPTIMIZER_OWN}
    hyper = [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "params")]
    for key in kwargs:
        if key not in hyper:
            raise ConfigError(f"[optimizer] {name}: unknown key {key!r}{_suggest(key, hyper)}; "
                              f"allowed: name, {', '.join(hyper)}")
    try:
        return cls(params, **kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"[optimizer] {name}: {e}") from None


def get_metrics(names, task: str) -> list[str]:
    from .metrics import METRICS
    if names is None:
        return ["accuracy"] if task == "classification" else ["mae"]
    for n in names:
        if n not in METRICS:
            raise _unknown("metric in training.metrics", n, METRICS)
    return list(names)
