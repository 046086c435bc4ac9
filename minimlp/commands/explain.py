"""``minimlp explain``: print the chain rule of one training step, number by number."""
from __future__ import annotations

import copy
import difflib
import json
import sys
from pathlib import Path
from ..explain import activation_table, build_stack, format_markdown, format_text, mazur_note, trace_step
from ..tutorial import NETWORKS
from ..cli import UsageError
from .. import CrossEntropyLoss, MSELoss, plot as plots
from ..config import check_output_file, ConfigError

HELP = "print the chain-rule trace of one SGD step of a small network (default: Mazur's 2-2-2)"

#: Keys a config file may hold (JSON or TOML); a flag on the command line wins over the file.
CONFIG_KEYS = ("network", "inputs", "targets", "weights", "biases", "activation",
               "output_activation", "lr", "train_biases", "loss")

EPILOG = """\
weights are given in the tutorials' (out, in) layout: row j holds the weights into neuron j,
so Mazur's network is --weights '[[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]]'
(hidden layer first; give more matrices for more hidden layers). --biases takes one entry per
layer, a number shared by the layer's neurons (as in the post) or a list with one value per
neuron. --inputs and --targets take one sample or a batch (a list of samples): the trace then
derives each sample and shows that the batch's gradient is the mean of theirs. A config file
(JSON, or TOML on Python >= 3.11 or with tomli) holds the same keys: network, inputs, targets,
weights, biases, activation, output_activation, lr, train_biases, loss.
examples:
  minimlp explain --weights '[[[1, -1]], [[2]]]' --inputs '[0.5, 0.2]' --targets '[1]' --biases '[0, 0]' --activation relu --output-activation identity
  minimlp explain --loss cross_entropy --targets '[0, 1]'          # softmax outputs
  minimlp explain --inputs '[[0.05, 0.1], [0.5, 0.2]]' --targets '[[0.01, 0.99], [0.5, 0.5]]'
  minimlp explain --plot mazur.png        # also draw the network with every number on it
"""


def add_arguments(parser) -> None:
    import argparse


    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--network", choices=sorted(NETWORKS), default=None,
                        help="start from a tutorial network (default mazur); other flags override its values")
    parser.add_argument("--config", metavar="FILE", help="JSON or TOML file with the network's values")
    parser.add_argument("--weights", metavar="JSON",
                        help="[W_hidden, W_output], each a matrix in (out, in) layout; more "
                             "matrices for more hidden layers")
    parser.add_argument("--biases", metavar="JSON", help="[b_hidden, b_output], numbers or lists")
    parser.add_argument("--inputs", metavar="JSON",
                        help="one sample, e.g. [0.05, 0.10], or a batch, e.g. [[0.05, 0.10], [1, 0]]")
    parser.add_argument("--targets", metavar="JSON", help="its targets, e.g. [0.01, 0.99] (a row per sample)")
    parser.add_argument("--loss", choices=("mse", "cross_entropy"), default=None,
                        help="mse (default, as the post) or cross_entropy (softmax outputs; the output "
                             "activation is then identity)")
    parser.add_argument("--plot", metavar="FILE",
                        help="also draw the network with every number of the step on it (PNG)")
    parser.add_argument("--activation", choices=sorted(activation_table()), default=None,
                        help="hidden-layer activation (default sigmoid)")
    parser.add_argument("--output-activation", choices=sorted(activation_table()), default=None,
                        help="output-layer activation (default sigmoid)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default 0.5)")
    parser.add_argument("--train-biases", action="store_true", default=None,
                        help="update the biases too (Mazur's post keeps them frozen)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text",
                        help="plain text (default) or Markdown tables")
    parser.add_argument("--digits", type=int, default=9,
                        help="decimals printed (default 9, as in Mazur's post)")


def _json(text: str, flag: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{flag}: not valid JSON ({e.msg} at column {e.colno}): {text!r}") from None


def _read_config(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--config: no such file: {path}")
    text = p.read_text()
    if p.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            cfg = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise UsageError(f"--config {path}: not valid TOML: {e}") from None
    else:
        try:
            cfg = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"--config {path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(cfg, dict):
        raise UsageError(f"--config {path}: expected an object with keys {', '.join(CONFIG_KEYS)}")
    unknown = sorted(set(cfg) - set(CONFIG_KEYS))
    train_tables = sorted(set(unknown) & {"data", "model", "optimizer", "training", "output"})
    if train_tables:
        raise UsageError(f"--config {path}: this is a 'minimlp train' config (it has "
                         f"{', '.join(f'[{t}]' for t in train_tables)}); run 'minimlp train "
                         f"--config {path}', or give explain a file with the keys "
                         f"{', '.join(CONFIG_KEYS)}")
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), CONFIG_KEYS, n=1, cutoff=0.6)
            hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
        raise UsageError(f"--config {path}: unknown key{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(hints)}; allowed: {', '.join(CONFIG_KEYS)}")
    return cfg


def resolve(args) -> dict:
    """The network's values: the tutorial network, then the config file, then the flags."""

    cfg = _read_config(args.config) if args.config else {}
    for key in ("weights", "biases", "inputs", "targets"):
        flag = getattr(args, key)
        if flag is not None:
            cfg[key] = _json(flag, f"--{key}")
    for key in ("network", "activation", "output_activation", "lr", "train_biases", "loss"):
        if getattr(args, key, None) is not None:     # callers may build args without the newer flags
            cfg[key] = getattr(args, key)
    name = cfg.get("network", "mazur")
    if name not in NETWORKS:
        raise UsageError(f"unknown network {name!r}; allowed: {', '.join(NETWORKS)}")
    s = NETWORKS[name]
    values = {"network": name, "inputs": list(s.x), "targets": list(s.target),
              "weights": [s.W_hidden, s.W_output], "biases": [s.b1, s.b2],
              "activation": "sigmoid", "output_activation": "sigmoid", "lr": s.lr,
              "train_biases": False, "loss": "mse"}
    same = lambda a, b: json.dumps(a) == json.dumps(b)  # tuples and lists alike
    changed = sorted(k for k in cfg if k != "network" and not same(cfg[k], values[k]))
    if values_loss(cfg) == "cross_entropy" and "output_activation" not in cfg:
        cfg["output_activation"] = "identity"     # the loss applies the softmax
    values.update(cfg)
    values["changed"] = changed
    for key in ("weights", "biases"):
        v = values[key]
        if isinstance(v, dict):  # {"hidden": ..., "output": ...}, as TOML tables read well
            if set(v) != {"hidden", "output"}:
                raise UsageError(f"{key}: expected keys hidden and output, got {sorted(v)}")
            values[key] = [v["hidden"], v["output"]]
        elif not isinstance(v, (list, tuple)) or len(v) < 2:
            raise UsageError(f"{key}: expected two entries [hidden, output] (or more, one per layer: "
                             f"[hidden 1, hidden 2, ..., output]), got {v!r}")
    if len(values["weights"]) != len(values["biases"]):
        raise UsageError(f"biases: expected {len(values['weights'])} entries, one per layer of the "
                         f"weights, got {len(values['biases'])}")
    if values["loss"] not in ("mse", "cross_entropy"):
        raise UsageError(f"loss: expected mse or cross_entropy, got {values['loss']!r}")
    if not isinstance(values["train_biases"], bool):
        raise UsageError(f"train_biases: expected true or false, got {values['train_biases']!r}")
    return values


def values_loss(cfg: dict) -> str:
    return cfg.get("loss", "mse")


def _rows(value, what: str):
    import numpy as np
    try:
        A = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise UsageError(f"explain: {what} must be a list of numbers (or a list of such lists, one per "
                         f"sample), got {value!r}") from None
    return A[None, :] if A.ndim == 1 else A


def explain(values: dict, fmt: str = "text", digits: int = 9, plot: str | None = None) -> str:
    """The formatted trace for resolved ``values`` (see ``resolve``); draws it to ``plot``."""

    net = build_stack(values["weights"], values["biases"], values["activation"], values["output_activation"])
    X = _rows(values["inputs"], "inputs")
    T = _rows(values["targets"], "targets")
    if X.ndim != 2 or X.shape[1] != net.in_features:
        raise ValueError(f"explain: inputs must be a list of {net.in_features} numbers (the hidden "
                         f"weights' rows have {net.in_features} entries), got {values['inputs']!r}")
    if T.ndim != 2 or T.shape[1] != net.out_features or T.shape[0] != X.shape[0]:
        raise ValueError(f"explain: targets must be a list of {net.out_features} numbers (one per "
                         f"output neuron), got {values['targets']!r}")
    name, changed = values["network"], values["changed"]
    title = {"mazur": "Mazur's 2-2-2 network", "notebook": "The tutorial notebook's 2-2-2 network"}[name]
    if {"weights", "biases", "inputs", "targets"} <= set(changed):
        title = "A 2-2-2 network of your own"
    elif changed:
        words = [{"lr": "learning rate"}.get(k, k.replace("_", " ")) for k in changed]
        listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
        title = f"{title}, with its {listed} changed"
    is_mazur = name == "mazur" and not {"weights", "biases"} & set(changed)
    loss = CrossEntropyLoss() if values["loss"] == "cross_entropy" else MSELoss()
    start = copy.deepcopy(net) if plot else None
    trace = trace_step(net, X, T, loss, lr=values["lr"], train_biases=values["train_biases"],
                       title=f"{title}: one SGD step, by the chain rule", digits=digits,
                       mazur=is_mazur)
    if plot:
        plots.pyplot().close(plots.plot_network(start, X, T, plot, loss=loss, lr=values["lr"],
                                                 train_biases=values["train_biases"]))
    if name == "mazur" and not changed:
        mazur_note(net, X, T, trace)
    return format_markdown(trace) if fmt == "markdown" else format_text(trace)


def run(args) -> int:

    if not 1 <= args.digits <= 17:
        raise UsageError(f"--digits must be between 1 and 17, got {args.digits}")
    values = resolve(args)
    try:
        if args.plot:
            try:
                check_output_file(args.plot, "--plot")
            except ConfigError as e:
                raise UsageError(str(e)) from None
        text = explain(values, args.format, args.digits, args.plot)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    sys.stdout.write(text)
    return 0
