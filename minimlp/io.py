"""Saving and loading models (and optimizer state) without pickle.

One file, written with ``numpy.savez``, holds:

* ``__minimlp__``: a string array with a JSON header: ``format`` (``"minimlp-model"``),
  ``format_version``, ``minimlp_version``, ``dtype``, the architecture (each layer's class
  name from ``Layer.registry`` and its ``get_config()``), the names of the parameter and
  buffer arrays, and, when saved, the optimizer's type, step count, hyperparameters and the
  names of the model parameters it holds (so an optimizer over a subset restores);
* ``param/<name>``: every parameter array, named as ``Sequential.named_parameters`` does
  (``"0.W"``, ``"0.b"``, ...);
* ``buffer/<name>``: every ``layer.buffers()`` array (non-trainable state);
* ``optim/<state>/<k>``: the optimizer's per-parameter arrays (``state_dict()``).

Loading uses ``numpy.load(..., allow_pickle=False)``: a model file can never run code.
Writes are atomic: the file is written to a temporary file in the same folder, flushed to
disk, then renamed over the target, so a crash mid-save leaves the previous file intact.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

from .layer import Array, Layer, Parameter
from .optim import Optimizer
from .sequential import Sequential

FORMAT = "minimlp-model"
#: The newest file format this minimlp writes and reads.
FORMAT_VERSION = 1
HEADER = "__minimlp__"


# -- saving ------------------------------------------------------------------------------
def save(model: Layer, path, *, optimizer: Optimizer | None = None) -> None:
    """Write ``model`` (and optionally ``optimizer``'s state) to the ``.npz`` file ``path``.

    The file is written exactly at ``path`` (no suffix is added), atomically: a temporary
    file in the same folder, ``fsync``, then ``os.replace``. The optimizer must hold only
    parameters of ``model``; which ones is recorded by name, so an optimizer over a subset
    (frozen biases, say) is restored over the same subset by ``load(path, with_optimizer=True)``.

    Raises ``TypeError`` for a model that is not a ``Layer`` or an optimizer that is not an
    ``Optimizer``, ``ValueError`` for an optimizer holding a parameter that is not the model's,
    ``FileNotFoundError`` naming ``path`` when its folder does not exist (it is not created).
    """
    if not isinstance(model, Layer):
        raise TypeError(f"save: model must be a minimlp Layer or Sequential, got {type(model).__name__}")
    from . import __version__

    params = _named_parameters(model)
    buffers = _named_buffers(model)
    arrays: dict[str, Array] = {}
    for name, p in params:
        arrays[f"param/{name}"] = p.value
    for name, a in buffers:
        arrays[f"buffer/{name}"] = np.asarray(a)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "minimlp_version": __version__,
        "dtype": _model_dtype(model, params).name,
        "architecture": _architecture(model),
        "parameters": [name for name, _ in params],
        "buffers": [name for name, _ in buffers],
        "optimizer": None,
    }
    if optimizer is not None:
        header["optimizer"] = _optimizer_header(optimizer, params, arrays)
    arrays[HEADER] = np.array(json.dumps(header, default=_json_default))
    path = os.fspath(path)
    try:
        _atomic_savez(path, arrays)
    except FileNotFoundError:  # name the path asked for, not the temporary file beside it
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(folder):
            raise
        raise FileNotFoundError(f"save: cannot write {path!r}: the folder {folder!r} does not "
                                "exist (create it first, e.g. os.makedirs(folder, exist_ok=True))") from None


def _named_parameters(layer: Layer, prefix: str = "") -> list[tuple[str, Parameter]]:
    """``(name, Parameter)`` for every parameter; a flat ``Sequential`` gives the names of
    ``named_parameters()``, a nested one ``"1.0.W"``."""
    if isinstance(layer, Sequential):
        return [pair for i, sub in enumerate(layer) for pair in _named_parameters(sub, f"{prefix}{i}.")]
    return [(f"{prefix}{p.name}", p) for p in layer.parameters()]


def _named_buffers(layer: Layer, prefix: str = "") -> list[tuple[str, Array]]:
    if isinstance(layer, Sequential):
        return [pair for i, sub in enumerate(layer) for pair in _named_buffers(sub, f"{prefix}{i}.")]
    return [(f"{prefix}{name}", a) for name, a in layer.buffers().items()]


def _architecture(layer: Layer) -> dict:
    if isinstance(layer, Sequential):
        return {"class": "Sequential", "layers": [_architecture(sub) for sub in layer]}
    name = type(layer).__name__
    if Layer.registry.get(name) is not type(layer):
        raise TypeError(f"save: layer class {name} is not the one registered under that name "
                        "in Layer.registry (two classes share the name?)")
    return {"class": name, "config": layer.get_config()}


def _model_dtype(model: Layer, params) -> np.dtype:
    dtype = getattr(model, "dtype", None)
    if dtype is None:
        dtype = params[0][1].value.dtype if params else np.float64
    return np.dtype(dtype)


def _optimizer_header(optimizer: Optimizer, params, arrays: dict) -> dict:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"save: optimizer must be a minimlp Optimizer, got {type(optimizer).__name__}")
    names_by_id = {id(p): name for name, p in params}
    held = []
    for i, p in enumerate(optimizer.params):
        if id(p) not in names_by_id:
            raise ValueError(f"save: {type(optimizer).__name__} parameter {i} ({p!r}) is not a "
                             "parameter of the model being saved")
        held.append(names_by_id[id(p)])
    state = optimizer.state_dict()
    out = {"type": state["type"], "steps": int(state["steps"]), "hyper": state.get("hyper", {}),
           "parameters": held, "state": {}, "extra": {}}
    for key, value in state.items():
        if key in ("type", "steps", "hyper"):
            continue
        if isinstance(value, (list, tuple)) and all(isinstance(a, np.ndarray) for a in value):
            out["state"][key] = len(value)
            for k, a in enumerate(value):
                arrays[f"optim/{key}/{k}"] = a
        else:
            out["extra"][key] = value
    return out


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"save: cannot store {obj!r} ({type(obj).__name__}) in the JSON header")


def _atomic_savez(path: str, arrays: dict) -> None:
    """``np.savez`` to a temporary file beside ``path``, fsync, then rename over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable (POSIX); not possible on every platform."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- loading -----------------------------------------------------------------------------
def load(path, *, with_optimizer: bool = False):
    """Read a model written by ``save``; never unpickles anything.

    Returns the model, or ``(model, optimizer)`` with ``with_optimizer=True`` (``optimizer``
    is ``None`` when the file holds no optimizer state). The model is rebuilt from its
    architecture (``Layer.registry[name](**config)``) and its arrays copied in; the
    optimizer is rebuilt over the same parameters (by name) with its hyperparameters, step
    count and per-parameter state, so training resumes exactly where it stopped.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError``, naming the file, for
    one that is not a minimlp model, is truncated or corrupt, has a newer format version,
    holds arrays that do not fit the architecture, or contains a pickled object array.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    where = f"load: {path!r}"
    try:
        npz = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        if raw.startswith(b"PK\x03\x04"):  # a zip archive's first bytes: damaged, not foreign
            raise ValueError(f"{where} is truncated or corrupt (a damaged .npz archive: {e})") from None
        why = "neither an .npz archive nor a .npy array" if "pickle" in str(e) else f"not an .npz archive: {e}"
        raise ValueError(f"{where} is not a minimlp model file ({why})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{where} is not a minimlp model file (a single .npy array, not an .npz archive)")
    with npz:
        arrays = _read_all(npz, where)
    header = _read_header(arrays, where)
    model = _build(header["architecture"], where, "model")
    _fill(model, header, arrays, where)
    if not with_optimizer:
        return model
    optimizer = None
    if header.get("optimizer") is not None:
        optimizer = _build_optimizer(model, header["optimizer"], arrays, where)
    return model, optimizer


def _read_all(npz, where: str) -> dict[str, Array]:
    arrays = {}
    for key in npz.files:
        try:
            arrays[key] = npz[key]
        except ValueError as e:
            if "pickle" in str(e).lower():
                raise ValueError(f"{where} contains a pickled object array {key!r}; minimlp "
                                 "never unpickles (a model file must not be able to run code)") from None
            raise ValueError(f"{where}: array {key!r} is unreadable ({e}); the file is corrupt") from None
        except Exception as e:  # OSError, EOFError, BadZipFile, zlib.error: a damaged archive
            raise ValueError(f"{where}: array {key!r} is unreadable ({type(e).__name__}: {e}); "
                             "the file is truncated or corrupt") from None
    return arrays


def _read_header(arrays: dict, where: str) -> dict:
    if HEADER not in arrays:
        raise ValueError(f"{where} is not a minimlp model file (an .npz archive without the "
                         f"{HEADER!r} header entry)")
    entry = arrays[HEADER]
    if entry.dtype.kind != "U" or entry.shape != ():
        raise ValueError(f"{where}: the {HEADER!r} header must be a string, got an array of "
                         f"dtype {entry.dtype} and shape {entry.shape}")
    try:
        header = json.loads(str(entry))
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: the header is not valid JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{where} is not a minimlp model file (header format "
                         f"{header.get('format') if isinstance(header, dict) else header!r}, "
                         f"expected {FORMAT!r})")
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{where}: invalid format_version {version!r} in the header")
    if version > FORMAT_VERSION:
        raise ValueError(f"{where} has format version {version}, written by minimlp "
                         f"{header.get('minimlp_version', '?')}; this minimlp reads format "
                         f"versions up to {FORMAT_VERSION}: upgrade minimlp to load it")
    for key, kind in (("architecture", dict), ("parameters", list), ("buffers", list)):
        if not isinstance(header.get(key), kind):
            raise ValueError(f"{where}: the header has no valid {key!r} entry")
    return header


def _build(spec, where: str, what: str) -> Layer:
    if not isinstance(spec, dict) or not isinstance(spec.get("class"), str):
        raise ValueError(f"{where}: {what} has an invalid layer description {spec!r}")
    name = spec["class"]
    if name == "Sequential":
        subs = spec.get("layers")
        if not isinstance(subs, list):
            raise ValueError(f"{where}: {what} (Sequential) has no list of layers")
        layers = [_build(sub, where, f"{what} layer {i}") for i, sub in enumerate(subs)]
        try:
            return Sequential(*layers)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: the saved layers do not form a valid Sequential: {e}") from None
    cls = Layer.registry.get(name)
    if cls is None:
        public = sorted(n for n in Layer.registry if not n.startswith("_"))
        close = [n for n in public if n.lower() == name.lower()]
        if not close:
            import difflib
            close = difflib.get_close_matches(name, public, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{where}: {what} is of unknown layer class {name!r}{hint}; known: "
                         f"{', '.join(public)}. If it is your own layer, "
                         "import the module that defines it before loading")
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"{where}: {what} ({name}) has an invalid config {config!r}")
    try:
        return cls(**config)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: cannot rebuild {what} as {name}(**{config!r}): {e}") from None


def _fill(model: Layer, header: dict, arrays: dict, where: str) -> None:
    params = _named_parameters(model)
    buffers = dict(_named_buffers(model))
    expected = [name for name, _ in params]
    if header["parameters"] != expected:
        raise ValueError(f"{where}: the saved parameters {header['parameters']} do not fit the "
                         f"architecture, which has parameters {expected}")
    if sorted(header["buffers"]) != sorted(buffers):
        raise ValueError(f"{where}: the saved buffers {header['buffers']} do not fit the "
                         f"architecture, which has buffers {sorted(buffers)}")
    known = {HEADER} | {f"param/{n}" for n in expected} | {f"buffer/{n}" for n in buffers}
    opt = header.get("optimizer")
    if isinstance(opt, dict) and isinstance(opt.get("state"), dict):
        known |= {f"optim/{k}/{i}" for k, n in opt["state"].items() if isinstance(n, int)
                  for i in range(n)}
    unexpected = sorted(set(arrays) - known)
    if unexpected:
        raise ValueError(f"{where}: arrays {unexpected} do not belong to the architecture")
    for name, p in params:
        _copy_into(p.value, arrays, f"param/{name}", where)
    for name, a in buffers.items():
        _copy_into(a, arrays, f"buffer/{name}", where)


def _copy_into(dst: Array, arrays: dict, key: str, where: str) -> None:
    if key not in arrays:
        raise ValueError(f"{where}: array {key!r} is missing (the file is incomplete)")
    src = arrays[key]
    if src.shape != dst.shape or src.dtype != dst.dtype:
        raise ValueError(f"{where}: array {key!r} has shape {src.shape} and dtype {src.dtype}, "
                         f"but the architecture needs shape {dst.shape} and dtype {dst.dtype}")
    dst[...] = src


def _optimizer_classes() -> dict[str, type]:
    found, todo = {}, [Optimizer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            found.setdefault(sub.__name__, sub)
            todo.append(sub)
    return found


def _build_optimizer(model: Layer, spec: dict, arrays: dict, where: str) -> Optimizer:
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: invalid optimizer entry in the header")
    classes = _optimizer_classes()
    name = spec.get("type")
    if name not in classes:
        raise ValueError(f"{where}: unknown optimizer type {name!r}; known: {', '.join(sorted(classes))}")
    named = dict(_named_parameters(model))
    held = spec.get("parameters")
    if not isinstance(held, list) or not held or any(n not in named for n in held):
        raise ValueError(f"{where}: the optimizer's parameters {held!r} are not parameters of the "
                         f"model ({list(named)})")
    hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.get("hyper", {}).items()}
    try:
        optimizer = classes[name]([named[n] for n in held], **hyper)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: cannot rebuild optimizer {name}({hyper}): {e}") from None
    state = {"type": name, "steps": spec.get("steps", 0), "hyper": hyper, **spec.get("extra", {})}
    mine = optimizer.state_dict()
    for key, n in spec.get("state", {}).items():
        loaded = [arrays.get(f"optim/{key}/{i}") for i in range(n)]
        ref = mine.get(key)
        if (not isinstance(ref, list) or len(ref) != n
                or any(a is None or a.shape != r.shape or a.dtype != r.dtype for a, r in zip(loaded, ref))):
            raise ValueError(f"{where}: optimizer state {key!r} does not fit the parameters "
                             f"{held} (missing arrays, or wrong shapes or dtypes)")
        state[key] = loaded
    try:
        optimizer.load_state_dict(state)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{where}: cannot restore the optimizer state: {e}") from None
    return optimizer
