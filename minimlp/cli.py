"""The ``minimlp`` command (also ``python -m minimlp``).

Each subcommand lives in ``minimlp/commands/<name>.py`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Errors the user can fix (a wrong flag,
an unknown layer name, a bad config) print a message and exit with code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("demo", "train", "predict", "bench", "explain")


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
        prog="minimlp", description="minimlp: a small, vectorized MLP framework on numpy. "
        "Without a command, runs 'demo'.")
    parser.add_argument("--version", action="version", version=f"minimlp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _available_commands():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["demo"] + argv
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"minimlp {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
