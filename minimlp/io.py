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

Loading reads the archive with ``zipfile`` and each member's ``.npy`` header with
``numpy.lib.format`` (object arrays refused, so a model file can never run code), and it
checks the file as hostile, in an order that keeps every refusal cheap (see ``load``).
Writes are atomic: the file is written to a temporary file ``.<name>.<pid>.<random>.tmp`` in
the same folder, flushed to disk, then renamed over the target, so a crash mid-save leaves
the previous file intact (and the next save removes the temporary file).
"""
from __future__ import annotations

import functools
import json
import math
import os
import re
import stat
import tempfile
import zipfile

import numpy as np

from .layer import Array, Layer
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

    Saving over an existing file keeps its mode (a ``0600`` model stays private) and, where
    permitted, its owner; saving to a symlink writes through it (the target is replaced, the
    link stays). Temporary files of earlier saves to ``path`` whose process no longer runs
    (a save killed mid-write) are removed first.

    Raises ``TypeError`` for a model that is not a ``Layer`` (or holds a private or abstract
    layer class, which ``load`` would refuse) or an optimizer that is not an ``Optimizer``,
    ``ValueError`` for an optimizer holding a parameter that is not the model's,
    ``FileNotFoundError`` naming ``path`` when its folder does not exist (it is not created),
    and any other ``OSError`` (disk full, read-only folder) with its type and errno kept and a
    message naming ``path``, not the temporary file.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"save: model must be a minimlp Layer or Sequential, got {type(model).__name__}")
    from . import __version__

    params = model.named_parameters()
    buffers = model.named_buffers()
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
    except OSError as e:  # name the path asked for, not the temporary file beside it
        folder = os.path.dirname(os.path.abspath(path))
        if isinstance(e, FileNotFoundError) and not os.path.isdir(folder):
            raise FileNotFoundError(f"save: cannot write {path!r}: the folder {folder!r} does not "
                                    "exist (create it first, e.g. os.makedirs(folder, exist_ok=True))") from None
        why = e.strerror or str(e)
        try:
            named = (type(e)(f"save: cannot write {path!r}: {why}") if e.errno is None
                     else type(e)(e.errno, f"save: cannot write {path!r}: {why}"))
        except Exception:   # noqa: BLE001 - an OSError subclass with another constructor
            named = OSError(e.errno, f"save: cannot write {path!r}: {why}")
        raise named from None


def _architecture(layer: Layer) -> dict:
    if isinstance(layer, Sequential):
        return {"class": "Sequential", "layers": [_architecture(sub) for sub in layer]}
    name = type(layer).__name__
    if name.startswith("_") or name in _ABSTRACT:
        raise TypeError(f"save: layer class {name} cannot be saved: load refuses private "
                        "(underscore) and abstract layer classes; give it a public name")
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
        if key in ("type", "steps", "hyper", "state", "param_groups"):   # (the last two: PyTorch's view)
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
    """``np.savez`` to a temporary file beside ``path``, fsync, then rename over ``path``.

    A symlink at ``path`` is written through: the temporary file goes beside its target and
    replaces the target, so the link stays a link. The mode of a file being replaced is
    kept (its owner too, where the process may set it). Temporary files left by saves to
    the same path from processes that no longer run (a kill -9) are removed first.
    """
    target = os.path.realpath(path) if os.path.islink(path) else path
    folder = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    _remove_stale_temporaries(folder, base)
    try:
        old = os.stat(target)
    except OSError:
        old = None
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        if old is not None and stat.S_ISREG(old.st_mode):
            os.chmod(tmp, stat.S_IMODE(old.st_mode))   # a private (0600) model stays private
            if hasattr(os, "chown") and (old.st_uid, old.st_gid) != _owner(tmp):
                try:
                    os.chown(tmp, old.st_uid, old.st_gid)
                except OSError:
                    pass   # only the owner's group, or root, may give a file away
        else:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


def _owner(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid


#: A temporary file of ``save``: ``.<name>.<pid>.<random>.tmp`` (mkstemp's random part has
#: no dot), so the pid of the process that wrote it can be read back.
_TEMP_RE = re.compile(r"(\d+)\.[A-Za-z0-9_]+\.tmp")


def _remove_stale_temporaries(folder: str, base: str) -> None:
    """Remove ``.<base>.<pid>.*.tmp`` files whose process no longer runs: what a save killed
    mid-write (kill -9, power loss) left. Files of running processes are kept (they may be
    saving right now), and so is anything that does not follow the pattern."""
    if os.name != "posix":
        return
    prefix = f".{base}."
    try:
        entries = [e.name for e in os.scandir(folder) if e.name.startswith(prefix)]
    except OSError:
        return
    for name in entries:
        m = _TEMP_RE.fullmatch(name[len(prefix):])
        if m is None or _process_runs(int(m.group(1))):
            continue
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def _process_runs(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0   # another user's process (or a pid we cannot ask about)
    return True


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
# A model file is read as if an attacker wrote it. The order makes every refusal cheap:
#   1. the path must be a regular file (no device, FIFO or socket is ever read);
#   2. the archive's directory: member names, sizes and compression, nothing decompressed;
#      the declared sizes may not exceed what the file holds (times _MAX_EXPANSION);
#   3. the JSON header: bounded size, depth and integers, every field type-checked; the
#      members must be exactly the ones it names (counts bounded by the members present);
#   4. the shapes the architecture implies, inferred from the configs of minimlp's own
#      layers without building them, against every member's .npy header (no data read);
#   5. only then are the layers built and the data read, member by member, each checked
#      for NaN/inf (and sign, for variances) before it is copied into the model.

#: A deflated member may expand at most this much (numpy.savez writes them uncompressed,
#: so a saved model expands 1x; a compressed copy of random weights about 1.1x).
_MAX_EXPANSION = 4
#: Slack for the expansion bound, so that tiny deflated files are not refused.
_EXPANSION_SLACK = 1 << 16
#: The JSON header's largest size in characters (a 1000-layer model needs about 100 K).
_MAX_HEADER_CHARS = 1 << 22
#: The JSON header's deepest nesting (a model nested 30 Sequentials deep needs about 65).
_MAX_DEPTH = 100
#: Integers in the header have at most this many digits (int64 has 19).
_MAX_INT_DIGITS = 19
#: The most layers (Sequentials included) a model file may describe.
_MAX_LAYERS = 4096
#: numpy.lib.format's own bound on a .npy header.
_MAX_NPY_HEADER = 10000


class _Refused(ValueError):
    """A reason to refuse a file; ``load`` prefixes the file's name."""


def load(path, *, with_optimizer: bool = False):
    """Read a model written by ``save``; never unpickles anything.

    Returns the model, or ``(model, optimizer)`` with ``with_optimizer=True`` (``optimizer``
    is ``None`` when the file holds no optimizer state). The model is rebuilt from its
    architecture (``Layer.registry[name](**config)``) and its arrays copied in; the
    optimizer is rebuilt over the same parameters (by name) with its hyperparameters, step
    count and per-parameter state, so training resumes exactly where it stopped.

    The file is treated as hostile: its header, its archive directory and every array's
    shape and dtype are checked against the architecture before any layer is built or any
    array is read, so a damaged or crafted file is refused at a cost bounded by its size
    (see docs/errors.md, "Damaged and hostile model files"). Layer classes of your own are
    built from their saved config before their arrays are compared.

    Raises ``FileNotFoundError`` for a missing file, ``IsADirectoryError`` for a folder, and
    ``ValueError``, naming the file, for anything else that is not a loadable model: not a
    regular file (a device, a pipe), not a minimlp model, truncated or corrupt, a newer
    format version, arrays that do not fit the architecture, NaN or inf values, impossible
    optimizer state, a pickled object array, or sizes beyond the bounds above.
    """
    path = os.fspath(path)
    where = f"load: {path!r}"
    try:
        with _open_regular(path, where) as f:
            archive, members = _open_archive(f)
            with archive:
                return _load_archive(archive, members, with_optimizer)
    except _Refused as e:
        raise ValueError(f"{where}{e}") from None


def _open_regular(path: str, where: str):
    """Open ``path`` for reading only if it is a regular file; a FIFO is opened without
    blocking (``O_NONBLOCK``) and refused, and the type is checked again on the open
    descriptor, so a file swapped in between is refused too."""
    mode = os.stat(path).st_mode   # FileNotFoundError, PermissionError: as they are
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, f"{where} is a folder, not a model file", path)
    if not stat.S_ISREG(mode):
        raise _Refused(f" is not a regular file ({_file_kind(mode)}); minimlp reads models "
                       "only from regular files")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _Refused(f" is not a regular file ({_file_kind(mode)}); minimlp reads models "
                           "only from regular files")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a plain file"


# What the zip and .npy readers raise on damaged bytes is open-ended (zipfile alone raises
# BadZipFile, zlib.error, EOFError, NotImplementedError for an unknown "version needed",
# struct.error...; numpy's .npy header parser tokenize.TokenError, SyntaxError...): on
# bytes from the file, any Exception means "damaged".
_ARCHIVE_ERRORS = Exception


def _open_archive(f) -> tuple[zipfile.ZipFile, dict]:
    size = os.fstat(f.fileno()).st_size
    magic = f.read(6)
    f.seek(0)
    if magic.startswith(b"\x93NUMPY"):
        raise _Refused(" is not a minimlp model file (a single .npy array, not an .npz archive)")
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _Refused(" is not a minimlp model file (neither an .npz archive nor a .npy array)")
    try:
        archive = zipfile.ZipFile(f)
        infos = archive.infolist()
    except _ARCHIVE_ERRORS as e:
        raise _Refused(f" is truncated or corrupt (a damaged .npz archive: {type(e).__name__}: {e})") from None
    try:
        return archive, _check_directory(infos, size)
    except BaseException:
        archive.close()
        raise


def _check_directory(infos, size: int) -> dict:
    """``{key: ZipInfo}`` (``key`` is the name without ``.npy``, as ``np.load`` names it)
    from the archive's directory, which costs no decompression."""
    members, declared = {}, 0
    for info in infos:
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if key in members:
            raise _Refused(f" is corrupt: the archive holds two members named {info.filename!r}")
        if info.flag_bits & 0x1:
            raise _Refused(f": member {info.filename!r} is encrypted; minimlp writes plain archives")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Refused(f": member {info.filename!r} is compressed with zip method "
                           f"{info.compress_type}; minimlp reads stored (uncompressed) members, "
                           "and deflated ones")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise _Refused(f" is truncated or corrupt (member {info.filename!r} is stored "
                           f"with {info.compress_size} bytes but declares {info.file_size})")
        members[key] = info
        declared += info.file_size
    if declared > _MAX_EXPANSION * size + _EXPANSION_SLACK:
        raise _Refused(f": its members declare {declared} bytes, but the file holds only {size}: "
                       f"members that expand more than {_MAX_EXPANSION}x are refused (a "
                       "compression bomb?); minimlp writes its files uncompressed")
    return members


def _load_archive(archive: zipfile.ZipFile, members: dict, with_optimizer: bool):
    header = _read_header(archive, members)
    _check_member_names(header, members)
    plan, params, buffers = _plan(header["architecture"], "model", "")
    _check_names(header, params, buffers)
    opt_spec, opt_cls = header["optimizer"], None
    opt_shapes = {}
    if opt_spec is not None:
        opt_cls, opt_shapes = _check_optimizer_header(opt_spec, params)
    wanted = {f"param/{n}": (s, d) for n, s, d in params}
    wanted.update({f"buffer/{n}": (s, d) for n, s, d in buffers})
    wanted.update(opt_shapes)
    npy = {key: _check_npy_header(archive, members[key], key, *wanted[key]) for key in wanted}
    model = _build_plan(plan)
    _fill(model, archive, members, npy)
    if not with_optimizer:
        return model
    optimizer = None
    if opt_spec is not None:
        optimizer = _build_optimizer(model, opt_cls, opt_spec, archive, members, npy)
    return model, optimizer


# -- the header --------------------------------------------------------------------------------
def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits (at most "
                       f"{_MAX_INT_DIGITS} are read)")
    return int(text)


def _depth(obj) -> int:
    """The nesting depth of a parsed JSON value (exact, without recursion)."""
    deepest, todo = 0, [(obj, 1)]
    while todo:
        node, d = todo.pop()
        if d > deepest:
            deepest = d
            if d > _MAX_DEPTH:
                break
        for v in node.values() if isinstance(node, dict) else node:
            if isinstance(v, (dict, list)):
                todo.append((v, d + 1))
    return deepest


def _read_header(archive, members: dict) -> dict:
    if HEADER not in members:
        raise _Refused(f" is not a minimlp model file (an .npz archive without the {HEADER!r} "
                       "header entry)")
    info = members[HEADER]
    shape, dtype, offset, _ = _npy_header(archive, info, HEADER)
    if dtype.kind != "U" or shape != ():
        raise _Refused(f": the {HEADER!r} header must be a string, got an array of dtype "
                       f"{dtype} and shape {shape}")
    if dtype.itemsize > 4 * _MAX_HEADER_CHARS:
        raise _Refused(f": the header is {dtype.itemsize // 4} characters long; minimlp reads "
                       f"headers of at most {_MAX_HEADER_CHARS}")
    data = _read_data(archive, info, HEADER, offset, dtype.itemsize)
    try:
        text = str(np.frombuffer(data, dtype=dtype)[0]) if data else ""
    except (ValueError, UnicodeError) as e:
        raise _Refused(f": the header is not valid text ({e})") from None
    try:
        header = json.loads(text, parse_int=_bounded_int)
    except (_Refused, json.JSONDecodeError, RecursionError, ValueError) as e:
        why = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise _Refused(f": the header is not valid JSON ({why})") from None
    if isinstance(header, (dict, list)) and _depth(header) > _MAX_DEPTH:
        raise _Refused(f": the header is nested more than {_MAX_DEPTH} levels deep")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else header
        raise _Refused(f" is not a minimlp model file (header format {_short(found)}, "
                       f"expected {FORMAT!r})")
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _Refused(f": invalid format_version {_short(version)} in the header")
    if version > FORMAT_VERSION:
        raise _Refused(f" has format version {version}, written by minimlp "
                       f"{_short(header.get('minimlp_version', '?'), quote=False)}; this minimlp "
                       f"reads format versions up to {FORMAT_VERSION}: upgrade minimlp to load it")
    if not isinstance(header.get("architecture"), dict):
        raise _Refused(": the header has no valid 'architecture' entry")
    for key in ("parameters", "buffers"):
        names = header.get(key)
        if not _is_name_list(names):
            raise _Refused(f": the header has no valid {key!r} entry (a list of distinct "
                           f"names), got {_short(names)}")
    opt = header.setdefault("optimizer", None)
    if opt is not None:
        _check_optimizer_types(opt)
    return header


def _is_name_list(names) -> bool:
    return (isinstance(names, list) and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names))


def _short(value, quote: bool = True, limit: int = 60) -> str:
    """A value from the file, for a message: repr, cut to ``limit`` characters."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_optimizer_types(opt) -> None:
    if not isinstance(opt, dict):
        raise _Refused(f": invalid optimizer entry {_short(opt)} in the header")
    if not isinstance(opt.get("type"), str):
        raise _Refused(f": the optimizer's type must be a name, got {_short(opt.get('type'))}")
    steps = opt.get("steps", 0)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise _Refused(f": the optimizer's step count must be an integer >= 0, got {_short(steps)}")
    hyper = opt.get("hyper", {})
    if not isinstance(hyper, dict) or not all(_is_scalar(v) or (isinstance(v, list) and all(map(_is_scalar, v)))
                                              for v in hyper.values()):
        raise _Refused(f": the optimizer's hyperparameters must be a table of numbers, got {_short(hyper)}")
    if not _is_name_list(opt.get("parameters")) or not opt["parameters"]:
        raise _Refused(f": the optimizer's parameters must be a list of distinct names, got "
                       f"{_short(opt.get('parameters'))}")
    state = opt.get("state", {})
    if not isinstance(state, dict) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                              for n in state.values()):
        raise _Refused(f": the optimizer's state must map names to counts of arrays, got {_short(state)}")
    extra = opt.get("extra", {})
    if not isinstance(extra, dict) or set(extra) & ({"type", "steps", "hyper"} | set(state)):
        raise _Refused(f": invalid optimizer 'extra' entry {_short(extra)}")


def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _check_member_names(header: dict, members: dict) -> None:
    """The members must be exactly those the header names: compared on the directory."""
    known = {HEADER} | {f"param/{n}" for n in header["parameters"]}
    known |= {f"buffer/{n}" for n in header["buffers"]}
    opt = header["optimizer"]
    if opt is not None:
        for key, n in opt.get("state", {}).items():
            if n > len(members):
                raise _Refused(f": optimizer state {key!r} claims {n} arrays, but the file holds "
                               f"{len(members)} arrays in all")
            known |= {f"optim/{key}/{i}" for i in range(n)}
    unexpected = sorted(set(members) - known)
    if unexpected:
        raise _Refused(f": arrays {_short(unexpected, limit=200)} do not belong to the architecture")
    missing = sorted(known - set(members))
    if missing:
        raise _Refused(f": array {missing[0]!r} is missing (the file is incomplete)")


# -- the architecture's shapes, without building it -----------------------------------------------
def _layer_class(name, what: str) -> type:
    cls = Layer.registry.get(name) if isinstance(name, str) else None
    if cls is None or name.startswith("_") or name in _ABSTRACT or _is_abstract(cls):
        public = sorted(n for n, c in Layer.registry.items()
                        if not n.startswith("_") and n not in _ABSTRACT and not _is_abstract(c))
        text = name if isinstance(name, str) and len(name) <= 100 else ""
        close = [n for n in public if n.lower() == text.lower()]
        if not close and text:
            import difflib
            close = difflib.get_close_matches(text, public, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _Refused(f": {what} is of unknown layer class {_short(name)}{hint}; known: "
                       f"{', '.join(public)}. If it is your own layer, import the module that "
                       "defines it before loading")
    return cls


#: Base classes that a file may not name (they cannot compute anything).
_ABSTRACT = {"Layer", "Activation"}


@functools.lru_cache(maxsize=None)
def _is_abstract(cls) -> bool:
    """A class that inherits ``forward`` from ``Layer`` itself computes nothing."""
    from .activations import Activation
    if cls is Layer or cls is Activation:
        return True
    if issubclass(cls, Activation):
        return cls._forward is Activation._forward and cls.forward is Activation.forward
    return cls.forward is Layer.forward


def _size(config: dict, key: str, what: str) -> int:
    v = config.get(key)
    if isinstance(v, list) and len(v) == 1 and key == "normalized_shape":
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise _Refused(f": {what} has an invalid {key} {_short(v)} (an integer >= 1)")
    return v


def _flag(config: dict, key: str, what: str) -> bool:
    v = config.get(key, True)
    if not isinstance(v, bool):
        raise _Refused(f": {what} has an invalid {key} {_short(v)} (true or false)")
    return v


def _dtype(config: dict, what: str) -> np.dtype:
    v = config.get("dtype", "float64")
    if v not in ("float32", "float64"):
        raise _Refused(f": {what} has dtype {_short(v)}; minimlp layers are float32 or float64")
    return np.dtype(v)


def _dense_arrays(config: dict, what: str):
    n_in, n_out = _size(config, "in_features", what), _size(config, "out_features", what)
    params = [("W", (n_in, n_out))] + ([("b", (n_out,))] if _flag(config, "bias", what) else [])
    return params, []


def _batchnorm_arrays(config: dict, what: str):
    D = _size(config, "num_features", what)
    params = [("gamma", (D,)), ("beta", (D,))] if _flag(config, "affine", what) else []
    buffers = [("running_mean", (D,)), ("running_var", (D,))]
    if "momentum" in config and config["momentum"] is None:   # a cumulative average counts batches
        buffers.append(("num_batches_tracked", (), np.dtype(np.int64)))
    return params, buffers


def _layernorm_arrays(config: dict, what: str):
    D = _size(config, "normalized_shape", what)
    affine = _flag(config, "elementwise_affine", what)
    params = ([("gamma", (D,))] if affine else []) + (
        [("beta", (D,))] if affine and _flag(config, "bias", what) else [])
    return params, []


@functools.lru_cache(maxsize=None)
def _shape_rules() -> dict:
    """The arrays each of minimlp's layers with arrays holds, from its config alone (its
    constructor allocates and initializes them: too early for a file not yet checked)."""
    from .layers import Dense
    from .normalization import BatchNorm1d, LayerNorm
    return {Dense: _dense_arrays, BatchNorm1d: _batchnorm_arrays, LayerNorm: _layernorm_arrays}


def _plan(spec, what: str, prefix: str):
    """A tree of ``("seq", [children])`` and ``("layer", what, cls, config, built)``, and
    the arrays it implies: ``(params, buffers)``, lists of ``(name, shape, dtype)``.

    The arrays of minimlp's layers with arrays come from ``_shape_rules``, without building
    them; other classes (minimlp's parameter-free ones, your own) are built here, from a
    config already type-checked as JSON.
    """
    params, buffers, count = [], [], [0]

    def walk(spec, what, prefix):
        count[0] += 1
        if count[0] > _MAX_LAYERS:
            raise _Refused(f": the architecture describes more than {_MAX_LAYERS} layers; "
                           "minimlp loads at most that many")
        if not isinstance(spec, dict):
            raise _Refused(f": {what} has an invalid layer description {_short(spec)}")
        name = spec.get("class")
        if name == "Sequential":
            subs = spec.get("layers")
            if not isinstance(subs, list):
                raise _Refused(f": {what} (Sequential) has no list of layers")
            return ("seq", [walk(sub, f"{what} layer {i}", f"{prefix}{i}.") for i, sub in enumerate(subs)])
        cls = _layer_class(name, what)
        config = spec.get("config", {})
        if not isinstance(config, dict):
            raise _Refused(f": {what} ({name}) has an invalid config {_short(config)}")
        rule = _shape_rules().get(cls)
        built = None
        if rule is not None:
            ps, bs = rule(config, f"{what} ({name})")
            dtype = _dtype(config, f"{what} ({name})")
            params.extend((f"{prefix}{n}", shape, dtype) for n, shape in ps)
            buffers.extend((f"{prefix}{b[0]}", b[1], b[2] if len(b) > 2 else dtype) for b in bs)
        else:
            built = _construct(cls, config, what)
            params.extend((f"{prefix}{p.name}", p.value.shape, p.value.dtype) for p in built.parameters())
            buffers.extend((f"{prefix}{n}", np.shape(a), np.asarray(a).dtype)
                           for n, a in built.buffers().items())
        return ("layer", what, cls, config, built)

    return walk(spec, what, prefix), params, buffers


def _construct(cls, config: dict, what: str) -> Layer:
    name = cls.__name__
    try:
        layer = cls(**config)
    except Exception as e:   # noqa: BLE001 - any failure of a constructor on a file's config
        raise _Refused(f": cannot rebuild {what} as {name}(**{_short(config, limit=200)}): "
                       f"{type(e).__name__}: {e}") from None
    return layer


def _check_names(header: dict, params, buffers) -> None:
    expected = [n for n, _, _ in params]
    if header["parameters"] != expected:
        raise _Refused(f": the saved parameters {_short(header['parameters'], limit=200)} do not "
                       f"fit the architecture, which has parameters {_short(expected, limit=200)}")
    names = sorted(n for n, _, _ in buffers)
    if sorted(header["buffers"]) != names:
        raise _Refused(f": the saved buffers {_short(header['buffers'], limit=200)} do not fit the "
                       f"architecture, which has buffers {_short(names, limit=200)}")


# -- the optimizer's header ------------------------------------------------------------------------
def _optimizer_classes() -> dict[str, type]:
    found, todo = {}, [Optimizer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            found.setdefault(sub.__name__, sub)
            todo.append(sub)
    return found


def _check_optimizer_header(spec: dict, params) -> tuple[type, dict]:
    """The optimizer's class and ``{key: (shape, dtype)}`` of its state arrays: one per
    parameter it holds, of that parameter's shape and dtype."""
    classes = _optimizer_classes()
    name = spec["type"]
    if name not in classes or name.startswith("_"):
        raise _Refused(f": unknown optimizer type {_short(name)}; known: "
                       f"{', '.join(sorted(n for n in classes if not n.startswith('_')))}")
    cls = classes[name]
    by_name = {n: (s, d) for n, s, d in params}
    held = spec["parameters"]
    if any(n not in by_name for n in held):
        raise _Refused(f": the optimizer's parameters {_short(held, limit=200)} are not "
                       f"parameters of the model ({_short(list(by_name), limit=200)})")
    shapes = {}
    for key, n in spec.get("state", {}).items():
        if key not in cls._state_names:
            raise _Refused(f": optimizer state {_short(key)} is not a state of {name} "
                           f"({', '.join(cls._state_names) or 'none'})")
        if n not in (0, len(held)):
            raise _Refused(f": optimizer state {key!r} has {n} arrays, but the optimizer holds "
                           f"{len(held)} parameters (one array each, or none)")
        for i in range(n):
            shapes[f"optim/{key}/{i}"] = by_name[held[i]]
    return cls, shapes


# -- the members' .npy headers and data --------------------------------------------------------
def _npy_header(archive, info, key: str) -> tuple[tuple, np.dtype, int, bool]:
    """``(shape, dtype, offset of the data, fortran_order)`` from a member's .npy header,
    nothing else read."""
    try:
        with archive.open(info) as s:
            version = np.lib.format.read_magic(s)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(s, max_header_size=_MAX_NPY_HEADER)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(s, max_header_size=_MAX_NPY_HEADER)
            else:
                raise ValueError(f".npy format version {version} is not one minimlp reads")
            offset = s.tell()
    except _ARCHIVE_ERRORS as e:
        raise _Refused(f": array {key!r} is unreadable ({type(e).__name__}: {e}); the file is "
                       "truncated or corrupt") from None
    if dtype.hasobject:
        raise _Refused(f" contains a pickled object array {key!r}; minimlp never unpickles (a "
                       "model file must not be able to run code)")
    nbytes = math.prod(shape) * dtype.itemsize
    if info.file_size != offset + nbytes:
        raise _Refused(f": array {key!r} declares shape {shape} and dtype {dtype} ({nbytes} "
                       f"bytes), but its member holds {info.file_size - offset}; the file is "
                       "truncated or corrupt")
    return shape, dtype, offset, bool(fortran)


def _check_npy_header(archive, info, key: str, shape: tuple, dtype) -> tuple:
    found_shape, found_dtype, offset, fortran = _npy_header(archive, info, key)
    if found_shape != tuple(shape) or found_dtype != dtype:
        whose = "the optimizer state" if key.startswith("optim/") else "the architecture"
        raise _Refused(f": array {key!r} has shape {found_shape} and dtype {found_dtype}, but "
                       f"{whose} needs shape {tuple(shape)} and dtype {dtype}")
    return found_shape, found_dtype, offset, fortran


def _read_data(archive, info, key: str, offset: int, nbytes: int) -> bytes:
    """The data bytes of a member whose header was checked; reading to the member's end makes
    zipfile check its CRC."""
    try:
        with archive.open(info) as s:
            s.read(offset)   # the .npy header, checked before
            data = s.read(nbytes)
            if len(data) != nbytes or s.read(1):
                raise EOFError(f"{len(data)} bytes of data instead of {nbytes}")
    except _ARCHIVE_ERRORS as e:
        raise _Refused(f": array {key!r} is unreadable ({type(e).__name__}: {e}); the file is "
                       "truncated or corrupt") from None
    return data


def _read_checked(archive, members: dict, npy: dict, key: str, nonnegative: bool = False) -> Array:
    shape, dtype, offset, fortran = npy[key]
    data = _read_data(archive, members[key], key, offset, math.prod(shape) * dtype.itemsize)
    a = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    finite = np.isfinite(a)
    if not finite.all():
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise _Refused(f": array {key!r} contains NaN or inf (first at index {first}); a "
                       "model file holds finite values only")
    if nonnegative and (a < 0).any():
        first = tuple(int(i) for i in np.argwhere(a < 0)[0])
        raise _Refused(f": array {key!r} must be >= 0 (a variance), but holds {a[first]} at "
                       f"index {first}")
    return a


# -- building and filling ----------------------------------------------------------------------------
def _build_plan(plan) -> Layer:
    if plan[0] == "seq":
        layers = [_build_plan(sub) for sub in plan[1]]
        try:
            return Sequential(*layers)
        except Exception as e:   # noqa: BLE001 - widths or dtypes that do not chain
            raise _Refused(f": the saved layers do not form a valid Sequential: {e}") from None
    _, what, cls, config, built = plan
    return built if built is not None else _construct(cls, config, what)


#: Buffers that hold a variance: a negative value is impossible.
_VARIANCES = ("running_var",)


def _fill(model: Layer, archive, members: dict, npy: dict) -> None:
    built = [f"param/{n}" for n, _ in model.named_parameters()]
    built += [f"buffer/{n}" for n, _ in model.named_buffers()]
    if any(key not in npy for key in built):   # a layer unlike its shape rule
        raise _Refused(f": the rebuilt model holds arrays {_short(built, limit=200)}, not those "
                       f"its saved config implies ({_short(sorted(npy), limit=200)})")
    for name, p in model.named_parameters():
        _copy_into(p.value, _read_checked(archive, members, npy, f"param/{name}"), f"param/{name}")
    for name, a in model.named_buffers():
        key = f"buffer/{name}"
        _copy_into(a, _read_checked(archive, members, npy, key, name.endswith(_VARIANCES)), key)


def _copy_into(dst: Array, src: Array, key: str) -> None:
    if src.shape != dst.shape or src.dtype != dst.dtype:   # a layer unlike its shape rule
        raise _Refused(f": array {key!r} has shape {src.shape} and dtype {src.dtype}, but the "
                       f"architecture needs shape {dst.shape} and dtype {dst.dtype}")
    dst[...] = src


def _nonnegative_states(cls: type) -> set:
    """State arrays of ``cls`` that accumulate squares (Adam's ``v``, RMSprop's ``v``,
    Adagrad's ``s``): a negative value is impossible."""
    from .optim import Adagrad, Adam, RMSprop
    if issubclass(cls, (Adam, RMSprop)):
        return {"_v"}
    if issubclass(cls, Adagrad):
        return {"_s"}
    return set()


def _build_optimizer(model: Layer, cls: type, spec: dict, archive, members: dict, npy: dict) -> Optimizer:
    name = cls.__name__
    named = dict(model.named_parameters())
    held = spec["parameters"]
    hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.get("hyper", {}).items()}
    try:
        optimizer = cls([named[n] for n in held], **hyper)
    except Exception as e:   # noqa: BLE001 - any failure of a constructor on a file's values
        raise _Refused(f": cannot rebuild optimizer {name}({_short(hyper, limit=200)}): "
                       f"{type(e).__name__}: {e}") from None
    state = {"type": name, "steps": spec.get("steps", 0), "hyper": hyper, **spec.get("extra", {})}
    mine = optimizer.state_dict()
    positive = _nonnegative_states(cls)
    for key, n in spec.get("state", {}).items():
        ref = mine.get(key)
        if not isinstance(ref, list) or len(ref) != n:
            raise _Refused(f": optimizer state {key!r} does not fit the parameters {held} "
                           f"({n} arrays for a {name} that keeps {len(ref or [])})")
        state[key] = [_read_checked(archive, members, npy, f"optim/{key}/{i}", key in positive)
                      for i in range(n)]
    try:
        optimizer.load_state_dict(state)
    except Exception as e:   # noqa: BLE001 - the state is the file's, not the caller's
        raise _Refused(f": cannot restore the optimizer state: {type(e).__name__}: {e}") from None
    return optimizer
