"""The ``minimlp`` command (also ``python -m minimlp``).

Each subcommand lives in ``minimlp/commands/<name>.py`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Errors the user can fix (a wrong flag,
an unknown layer name, a bad config) print a message and exit with code 2, never a traceback.

Exit codes: 0 done; 1 done, but an output could not be written where asked (it went to a
fallback file, named in the message); 2 a usage mistake (flags, config, input files, too
little memory, a missing optional package); 3 training diverged; 130 interrupted (Ctrl-C);
141 the output pipe was closed (``minimlp train --list | head -1``), quietly.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import sys

COMMANDS = ("demo", "train", "predict", "bench", "explain", "export", "study")

#: Exit codes of ``main``.
EXIT_OK, EXIT_OUTPUT, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 3, 130, 141

#: Optional packages by import name: what to install to get them.
EXTRAS = {
    "matplotlib": 'pip install matplotlib (it comes with "pip install minimlp")',
    "sklearn": 'pip install "minimlp[sklearn]"',
    "torch": 'pip install "minimlp[bench]"',
    "threadpoolctl": 'pip install threadpoolctl (it comes with "pip install minimlp")',
    "tqdm": 'pip install tqdm (it comes with "pip install minimlp")',
    "scipy": 'pip install scipy (it comes with "pip install minimlp")',
}


class UsageError(Exception):
    """A mistake in the command line or a config file: printed, exit code 2."""


class Interrupted(Exception):
    """Ctrl-C stopped the command; the message says what was saved. Exit code 130."""


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
    """Run the ``minimlp`` command line ``argv`` (default ``sys.argv[1:]``); returns the
    exit code."""
    try:
        return _main(argv)
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_PIPE
    except SystemExit:   # --help, --version, a usage error from argparse
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
        raise


def _main(argv) -> int:
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
    return _run(args)


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _run(args) -> int:
    """``args.func(args)`` with every failure a user can cause turned into one line on
    stderr and an exit code (see the module docstring)."""
    from .training import TrainingDiverged

    def fail(message: str, code: int) -> int:
        print(f"minimlp {args.command}: {_one_line(message)}", file=sys.stderr)
        return code

    try:
        code = args.func(args)
        sys.stdout.flush()   # a closed pipe shows here, not at exit
        return code
    except UsageError as e:
        return fail(f"error: {e}", EXIT_USAGE)
    except TrainingDiverged as e:
        return fail(f"error: {e} Nothing was written; try a smaller --lr (exit code "
                    f"{EXIT_DIVERGED}: training diverged).", EXIT_DIVERGED)
    except Interrupted as e:
        return fail(str(e), EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_PIPE
    except MemoryError as e:
        return fail(f"error: not enough memory ({str(e) or 'MemoryError'}); use a smaller data set, "
                    "smaller widths or a smaller batch", EXIT_USAGE)
    except ModuleNotFoundError as e:
        top = (e.name or "").split(".")[0]
        if top not in EXTRAS:
            raise
        return fail(f"error: this needs the package {top!r}, which is not installed: "
                    f"{EXTRAS[top]}", EXIT_USAGE)


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the interpreter's last flush
    does not print a second error, as the Python docs advise."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # stdout without a file descriptor
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
