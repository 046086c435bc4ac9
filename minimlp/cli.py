"""The ``minimlp`` command (also ``python -m minimlp``).

Each subcommand lives in ``minimlp/commands/<name>.py`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Errors the user can fix (a wrong flag,
an unknown layer name, a bad config) print a message and exit with code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import sys

COMMANDS = ("demo", "train", "predict", "bench", "explain", "study")


class UsageError(Exception):
    """A mistake in the command line or a config file: printed, exit code 2."""


def _available_commands():
    for name in COMMANDS:
        try:
            yield name, importlib.import_module(f"minimlp.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"minimlp.commands.{name}":
                raise


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="minimlp", allow_abbrev=False, description="minimlp: a small, vectorized MLP framework on numpy. "
        "Without a command, runs 'demo'.")
    parser.add_argument("--version", action="version", version=f"minimlp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _available_commands():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, allow_abbrev=False)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str | None):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def _reject_unknown(parser: argparse.ArgumentParser, args, unknown: list[str]) -> None:
    """Exit 2 with the subcommand's usage, naming the unknown arguments and, for a mistyped
    flag, the closest flag the subcommand has (``--actvation`` -> ``--activation``)."""
    p = _subparser(parser, getattr(args, "command", None))
    flags = [s for a in p._actions for s in a.option_strings if s.startswith("--")]
    by_name = {f[2:]: f for f in flags}
    hints = []
    for arg in unknown:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            close = difflib.get_close_matches(flag[2:], by_name, n=1, cutoff=0.6)
            if close:
                hints.append((flag, by_name[close[0]]))
    if len(hints) == 1:
        hint = f" (did you mean {hints[0][1]}?)"
    else:
        hint = "".join(f" ({flag}: did you mean {close}?)" for flag, close in hints)
    p.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["demo"] + argv
    sub = _subparser(parser, argv[0]) if argv else parser
    if sub is not parser:   # unknown flags first, before "required" errors hide them
        known = {s for a in sub._actions for s in a.option_strings}
        rest = argv[1:argv.index("--")] if "--" in argv else argv[1:]
        flags = [a for a in rest if a.startswith("--") and a.split("=", 1)[0] not in known]
        if flags:
            _reject_unknown(parser, argparse.Namespace(command=argv[0]), flags)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _reject_unknown(parser, args, unknown)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"minimlp {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
