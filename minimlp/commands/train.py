"""``minimlp train``: a network from flags or a TOML config, trained on a toy data set."""
from __future__ import annotations

import os
import time

import numpy as np

from ..callbacks import Callback, state_arrays
from ..cli import Interrupted, UsageError
from ..config import (activation_types, check_config, ConfigError, DEFAULTS, layer_types,
                      optimizer_types, output_paths, parse_value, read_config, SCHEDULES)
from ..datasets import DATASETS
from ..metrics import METRICS
from ..training import fit, LOSSES, TrainingDiverged
from ..losses import BCEWithLogitsLoss, CrossEntropyLoss
from .. import io, plot

HELP = "train a network on a toy data set, from flags or a TOML config file"

EPILOG = """\
examples:
  minimlp train --config examples/spirals.toml
  minimlp train --data moons --layers 2-32-32-2 --activation tanh --epochs 50
  minimlp train --data sine --layers 1-32-32-1 --activation tanh --loss mse --lr 0.01
  minimlp train --config examples/spirals.toml --epochs 20 --out /tmp/run1

Flags override the config file. Data sets, layers, activations, losses and optimizers:
see 'minimlp train --list'.
"""


def add_arguments(parser) -> None:
    import argparse
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--config", metavar="FILE",
                        help="TOML file with [data], [model], [optimizer], [training], [output] "
                             "tables (see examples/*.toml)")
    parser.add_argument("--list", action="store_true",
                        help="list the data sets, layer types, activations, losses, optimizers "
                             "and metrics that can be named, then exit")
    g = parser.add_argument_group("data")
    g.add_argument("--data", metavar="NAME", help="data set from minimlp.datasets (default spirals)")
    g.add_argument("--data-param", metavar="KEY=VALUE", action="append", default=[],
                   help="an argument of the data set function, e.g. noise=0.2 (repeatable)")
    g = parser.add_argument_group("model")
    g.add_argument("--layers", metavar="WIDTHS",
                   help="layer widths from input to output, e.g. 2-64-64-3 (default "
                        "<inputs>-64-64-<outputs>)")
    g.add_argument("--activation", metavar="NAME", help="activation between Dense layers (default relu)")
    g.add_argument("--output-activation", metavar="NAME",
                   help="activation after the last Dense layer (default none: logits or "
                        "linear output)")
    g.add_argument("--dtype", choices=("float64", "float32"), help="parameter dtype (default float64)")
    g = parser.add_argument_group("training")
    g.add_argument("--loss", metavar="NAME",
                   help="loss (default cross_entropy for class labels, mse for regression)")
    g.add_argument("--optimizer", metavar="NAME", help="optimizer (default adam)")
    g.add_argument("--lr", type=float, help="learning rate (default 0.01)")
    g.add_argument("--optimizer-param", metavar="KEY=VALUE", action="append", default=[],
                   help="another optimizer argument, e.g. momentum=0.9 (repeatable)")
    g.add_argument("--epochs", type=int, help="number of epochs (default 100)")
    g.add_argument("--batch-size", type=int, help="rows per mini-batch (default 32)")
    g.add_argument("--seed", type=int, help="seed of the data, the weights and the shuffling (default 0)")
    g.add_argument("--validation-split", type=float, metavar="FRACTION",
                   help="fraction of the data held out for validation (default 0.2)")
    g.add_argument("--max-loss-growth", type=float, metavar="FACTOR",
                   help="stop as diverged when a batch loss exceeds FACTOR times the first "
                        "(default 1e4; 0 turns the check off)")
    g.add_argument("--early-stopping-patience", type=int, metavar="EPOCHS",
                   help="stop when the monitored value has not improved for EPOCHS epochs "
                        "([early_stopping] patience; off by default)")
    g.add_argument("--early-stopping-monitor", metavar="KEY",
                   help="what early stopping watches (default val_loss; e.g. val_accuracy)")
    g.add_argument("--no-early-stopping", action="store_true",
                   help="turn off the config's [early_stopping]")
    g.add_argument("--schedule", metavar="NAME[:KEY=VALUE,...]",
                   help="learning-rate schedule, e.g. step:step_size=10,gamma=0.5 or "
                        "cosine:T_max=100 ([schedule]; 'none' turns it off)")
    g.add_argument("--verbose", type=int, choices=(0, 1, 2),
                   help="0 quiet, 1 progress per epoch, 2 one line per epoch (default 1)")
    g = parser.add_argument_group("output")
    g.add_argument("--out", metavar="DIR", help="folder for the outputs (default minimlp-out)")
    g.add_argument("--model-file", metavar="NAME",
                   help="model file: a name or relative path inside --out, or an absolute "
                        "path (default model.npz; '' for none)")
    g.add_argument("--history", metavar="NAME", action="append",
                   help="history file, .csv or .json: a name or relative path inside --out, "
                        "or an absolute path (repeatable; default history.csv)")
    g.add_argument("--no-plots", action="store_true", help="write no PNG plots")


def _key_values(items: list[str], flag: str) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def build_config(args) -> dict:
    """The configuration: the ``--config`` file (or the defaults), overridden by the flags."""
    config = read_config(args.config) if args.config else check_config({})
    overrides = {
        ("data", "name"): args.data, ("model", "layers"): args.layers,
        ("model", "activation"): args.activation, ("model", "output_activation"): args.output_activation,
        ("model", "dtype"): args.dtype, ("training", "loss"): args.loss,
        ("optimizer", "name"): args.optimizer, ("training", "epochs"): args.epochs,
        ("training", "batch_size"): args.batch_size, ("training", "seed"): args.seed,
        ("training", "validation_split"): args.validation_split, ("training", "verbose"): args.verbose,
        ("training", "max_loss_growth"): args.max_loss_growth,
        ("output", "dir"): args.out, ("output", "model"): args.model_file,
        ("output", "history"): args.history,
    }
    raw = {section: dict(table) for section, table in config.items()}
    if args.data is not None and args.data != config["data"]["name"]:
        raw["data"] = {}  # another data set: the config's data arguments belong to the old one
    if args.optimizer is not None and args.optimizer.lower() != config["optimizer"]["name"].lower():
        raw["optimizer"] = {"lr": DEFAULTS["optimizer"]["lr"]}
    for (section, key), value in overrides.items():
        if value is not None:
            raw[section][key] = value
    if args.seed is not None:
        raw["model"]["seed"] = args.seed
    if args.lr is not None:
        raw["optimizer"]["lr"] = args.lr
    raw["data"].update(_key_values(args.data_param, "--data-param"))
    raw["optimizer"].update(_key_values(args.optimizer_param, "--optimizer-param"))
    if args.no_plots:
        raw["output"]["plots"] = False
    _early_stopping_flags(args, raw)
    if args.schedule is not None:
        raw["schedule"] = parse_schedule(args.schedule)
    return check_config(raw, where="command line" if not args.config else args.config)


def _early_stopping_flags(args, raw: dict) -> None:
    es = raw["early_stopping"]
    if args.no_early_stopping:
        if args.early_stopping_patience is not None or args.early_stopping_monitor is not None:
            raise UsageError("--no-early-stopping cannot be combined with "
                             "--early-stopping-patience or --early-stopping-monitor")
        raw["early_stopping"] = {}
        return
    if args.early_stopping_patience is not None:
        es["patience"] = args.early_stopping_patience
    if args.early_stopping_monitor is not None:
        if "patience" not in es:
            raise UsageError("--early-stopping-monitor needs --early-stopping-patience (or "
                             "[early_stopping] patience in the config) to turn early stopping on")
        es["monitor"] = args.early_stopping_monitor


def parse_schedule(spec: str) -> dict:
    """``"step:step_size=10,gamma=0.5"`` -> ``{"name": "step", "step_size": 10, "gamma": 0.5}``;
    ``"none"`` (or ``""``) -> no schedule. Values are read as TOML values (``parse_value``)."""
    name, _, rest = spec.partition(":")
    name = name.strip()
    if name.lower() in ("", "none"):
        if rest.strip():
            raise UsageError(f"--schedule {spec!r}: 'none' takes no arguments")
        return {"name": ""}
    out = {"name": name}
    if rest.strip():
        out.update(_key_values([item for item in rest.split(",")], f"--schedule {name}:"))
    return out


def list_choices() -> str:
    rows = [("data sets", DATASETS), ("layer types (model.layers tables)", layer_types()),
            ("activations", activation_types()), ("losses", LOSSES),
            ("optimizers", optimizer_types()), ("schedules ([schedule] name, --schedule)", SCHEDULES),
            ("metrics", METRICS)]
    return "\n".join(f"{title}: {', '.join(names)}" for title, names in rows)


def _targets(Y, task: str, loss, out_features: int):
    """Targets in the form ``loss`` takes: labels for cross-entropy, a 0/1 column for a
    one-output binary loss, one-hot rows for MSE on classes."""
    if task == "regression":
        if isinstance(loss, (CrossEntropyLoss, BCEWithLogitsLoss)):
            raise UsageError(f"loss {loss!r} needs class labels, but the data set is a regression "
                             "problem (float targets); use mse")
        return Y
    if isinstance(loss, CrossEntropyLoss):
        return Y
    if out_features == 1:
        return Y.reshape(-1, 1).astype(np.float64)
    return np.eye(out_features)[Y]


def _check_split(n: int, fraction: float, data: str) -> None:
    """Raise ``ConfigError`` when ``fraction`` of ``n`` rows leaves no validation or no
    training row (as ``fit`` would, but before the model summary is printed)."""
    if not fraction:
        return
    n_val = int(round(n * fraction))
    if n_val < 1 or n_val >= n:
        if n == 1:
            raise ConfigError(f"data set {data!r} has a single sample, which cannot be split "
                              f"into training and validation rows; use --validation-split 0 "
                              "(training.validation_split = 0)")
        raise ConfigError(f"validation_split {fraction:g} of the {n} rows of {data!r} leaves "
                          f"{n_val} validation and {n - n_val} training rows; both need >= 1 "
                          "(change --validation-split, or 0 for none)")


class _LastEpoch(Callback):
    """A callback that keeps, in memory, the model and optimizer state at the end of the
    latest finished epoch, so that an interrupted run can still save a consistent model.
    Two buffers are swapped, so an interrupt during the copy leaves the older one whole."""

    def __init__(self):
        self.epoch, self.arrays, self.optimizer_state = None, None, None
        self._spare = None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        live = state_arrays(self.model)
        spare = self._spare
        if spare is None or len(spare) != len(live):
            spare = [a.copy() for a in live]
        else:
            for dst, src in zip(spare, live):
                np.copyto(dst, src)
        try:
            opt_state = self.optimizer.state_dict() if self.optimizer is not None else None
        except (AttributeError, TypeError, ValueError):   # then the model alone is saved
            opt_state = None
        self._spare, self.arrays, self.optimizer_state, self.epoch = (
            self.arrays, spare, opt_state, epoch)

    def restore(self, model, optimizer) -> bool:
        """Put the kept state back into ``model`` and ``optimizer``; False if the optimizer's
        state could not be restored (then it should not be saved)."""
        for dst, src in zip(state_arrays(model), self.arrays):
            np.copyto(dst, src)
        if self.optimizer_state is None:
            return False
        try:
            optimizer.load_state_dict(self.optimizer_state)
        except (TypeError, ValueError, KeyError):
            return False
        return True


def _fallback_paths(path: str):
    """Where an output that could not be written at ``path`` goes instead, in turn: a new
    file named after it (``minimlp-rescued-model-XXXX.npz``) in the current folder, then in
    the temporary folder. Each is created empty, so nothing is overwritten."""
    import tempfile
    stem, ext = os.path.splitext(os.path.basename(path))
    for folder in (os.getcwd(), tempfile.gettempdir()):
        try:
            fd, other = tempfile.mkstemp(prefix=f"minimlp-rescued-{stem}-", suffix=ext, dir=folder)
        except OSError:
            continue
        os.close(fd)
        yield other


def _write_outputs(model, optimizer, history, output: dict, warn) -> tuple[list[str], list[str]]:
    """Write the model and history files of ``output``; returns ``(written, problems)``.
    An output that cannot be written where asked (a full disk, a folder gone or read-only
    since the check) is written to a fallback file instead, and both are reported."""
    written, problems = [], []

    def write(what, path):
        if what == "output.model":
            io.save(model, path, optimizer=optimizer)
        else:
            (history.to_json if path.endswith(".json") else history.to_csv)(path)

    for what, path in output_paths(output):
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            write(what, path)
            written.append(path)
            continue
        except OSError as e:
            reason = e.strerror or str(e)
        for other in _fallback_paths(path):
            try:
                write(what, other)
            except OSError:
                try:
                    os.unlink(other)
                except OSError:
                    pass
                continue
            problems.append(f"cannot write {path}: {reason}; wrote it to {other} instead")
            written.append(other)
            break
        else:
            problems.append(f"cannot write {path}: {reason}, nor a copy in the current or the "
                            "temporary folder; it was not saved")
    for p in problems:
        warn(p)
    return written, problems


def _check_plotting() -> None:
    """Raise ``UsageError`` (before any training) when matplotlib, which draws the plots, is
    missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("the plots need matplotlib, which is not installed: pip install "
                         "matplotlib (it comes with 'pip install minimlp'), or pass --no-plots") from None


def run_config(config: dict, out=print, warn=None) -> dict:
    """Train what ``config`` describes and write its outputs; returns a summary dict with
    the final ``logs``, the ``history``, the ``model``, the ``paths`` written and the
    ``problems`` met writing them (an output that could not be written where asked went to
    a fallback file, named there).

    Raises ``UsageError`` for a mistake in ``config`` (before any training),
    ``TrainingDiverged`` when training diverges, and ``Interrupted`` after Ctrl-C, once the
    model and history of the last finished epoch are saved."""
    import sys
    from ..config import (DEFAULTS, ConfigError, build_callbacks, build_model, build_optimizer,
                          check_output, get_loss, get_metrics, load_data, task_of)

    if warn is None:
        def warn(message):
            print(f"minimlp: warning: {message}", file=sys.stderr)
    t = config["training"]
    o = config["output"]
    try:
        check_output(o)   # fail before the training, not after it
        if o["plots"]:
            _check_plotting()
        X, Y = load_data(config["data"], t["seed"])
        X, Y = np.asarray(X), np.asarray(Y)
        _check_split(len(X), t["validation_split"], config["data"]["name"])
        task = task_of(Y)
        loss_name = t["loss"] or ("cross_entropy" if task == "classification" else "mse")
        loss = get_loss(loss_name)
        hint = ""
        if task == "classification":
            classes = int(Y.max()) + 1
            out_features = 1 if isinstance(loss, BCEWithLogitsLoss) and classes == 2 else classes
            if classes == 2 and out_features == 2:
                hint = " (or 1 output with --loss bce_with_logits)"
        else:
            out_features = Y.shape[1] if Y.ndim == 2 else 1
        name = config["data"]["name"]
        data = f"data set {name!r}"
        if name == DEFAULTS["data"]["name"]:
            data += ", the default when neither [data] name nor --data names one"
        model = build_model(config["model"], X.shape[1], out_features, data=data,
                            outputs_hint=hint)
        optimizer = build_optimizer(config["optimizer"], model.parameters())
        metrics = get_metrics(t["metrics"], task)
        extra = build_callbacks(config, optimizer)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    T = _targets(Y, task, loss, out_features)
    out(f"data {config['data']['name']}: X {X.shape}, {task}"
        + (f" with {int(Y.max()) + 1} classes" if task == "classification" else f", Y {Y.shape}"))
    out(model.summary())
    out(f"loss {loss!r}, optimizer {optimizer!r}")
    last = _LastEpoch()
    start = time.perf_counter()
    try:
        history = fit(model, X, T, loss=loss, optimizer=optimizer, epochs=t["epochs"],
                      batch_size=t["batch_size"], shuffle=t["shuffle"],
                      validation_split=t["validation_split"], metrics=metrics, seed=t["seed"],
                      verbose=t["verbose"], callbacks=[*extra, last],
                      max_loss_growth=t["max_loss_growth"] or None)
    except KeyboardInterrupt:
        raise Interrupted(_save_interrupted(model, optimizer, last, t["epochs"], o, warn)) from None
    except TrainingDiverged:
        raise
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    seconds = time.perf_counter() - start
    logs = {k: v[-1] for k, v in history.history.items() if k != "time" and v}
    out(f"trained {_plural(len(history), 'epoch')} in {seconds:.2f} s: "
        + "  ".join(f"{k} {v:.4g}" for k, v in logs.items()))

    try:
        os.makedirs(o["dir"] or ".", exist_ok=True)
    except OSError as e:
        warn(f"cannot create output.dir (--out) {o['dir']!r}: {e.strerror or e}")
    before = {p for p in _existing_outputs(o)}   # to say which files this run replaces
    paths, problems = _write_outputs(model, optimizer, history, o, warn)
    if o["plots"]:
        try:
            paths += _plots(model, X, Y, task, history, o["dir"])
        except OSError as e:
            problems.append(f"cannot write the plots into {o['dir']!r}: {e.strerror or e}")
            warn(problems[-1])
    for p in paths:
        out(f"wrote {p}" + (" (replacing the file of an earlier run)" if os.path.abspath(p) in before else ""))
    return {"logs": logs, "history": history, "model": model, "paths": paths, "seconds": seconds,
            "problems": problems}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _save_interrupted(model, optimizer, last: _LastEpoch, epochs: int, output: dict, warn) -> str:
    """After Ctrl-C: save the model and history of the last finished epoch; returns the
    message saying where they went."""
    history = last.history
    if last.epoch is None:
        return (f"interrupted in epoch 1/{epochs}, before any epoch finished; nothing was "
                "saved")
    with_optimizer = last.restore(model, optimizer)
    try:
        os.makedirs(output["dir"] or ".", exist_ok=True)
    except OSError:
        pass
    paths, _ = _write_outputs(model, optimizer if with_optimizer else None, history, output,
                              warn)
    done = f"interrupted after epoch {last.epoch}/{epochs}"
    if not paths:
        return f"{done}; nothing was saved"
    return f"{done}; saved that epoch's outputs: {', '.join(paths)}"


def _plots(model, X, Y, task, history, folder) -> list[str]:
    plt = plot.pyplot()
    written = []
    fig = plot.plot_history(history, os.path.join(folder, "history.png"))
    plt.close(fig)
    written.append(os.path.join(folder, "history.png"))
    if task == "classification" and X.shape[1] == 2:
        fig = plot.plot_decision_boundary(model, X, Y, os.path.join(folder, "decision_boundary.png"))
        plt.close(fig)
        written.append(os.path.join(folder, "decision_boundary.png"))
    elif task == "regression" and X.shape[1] == 1 and model.output_features(1) == 1:
        fig = plot.plot_regression(model, X, Y, os.path.join(folder, "regression.png"))
        plt.close(fig)
        written.append(os.path.join(folder, "regression.png"))
    return written


def run(args) -> int:
    """Exit codes: 0 trained and saved; 1 trained, but an output went to a fallback file
    (named on stderr); 2 a mistake in the flags or the config; 3 training diverged
    (``TrainingDiverged``, raised to ``cli.main``); 130 interrupted with Ctrl-C."""
    if args.list:
        print(list_choices())
        return 0
    try:
        config = build_config(args)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    result = run_config(config)
    return 1 if result["problems"] else 0


def _existing_outputs(o: dict) -> set[str]:
    """Absolute paths of the files already in the output folder that a run may replace."""
    folder = o["dir"] or "."
    try:
        return {os.path.abspath(os.path.join(folder, n)) for n in os.listdir(folder)}
    except OSError:
        return set()
