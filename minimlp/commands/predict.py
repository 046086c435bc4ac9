"""``minimlp predict``: run a saved model on the rows of a CSV file."""
from __future__ import annotations

import sys

import numpy as np
from .. import io
from ..cli import UsageError
from ..config import check_output_file, ConfigError
from ..training import predict_classes, predict_proba

HELP = "run a saved model (.npz from 'minimlp train' or mm.save) on the rows of a CSV file"


def add_arguments(parser) -> None:
    parser.add_argument("--model", metavar="FILE", required=True,
                        help="model file written by 'minimlp train' or mm.save")
    parser.add_argument("--input", metavar="CSV", required=True,
                        help="comma-separated numbers, one sample per row, one column per input "
                             "feature; a first line with no numbers is taken as a header; "
                             "'-' reads standard input")
    parser.add_argument("--output", metavar="CSV",
                        help="where to write the predictions (default: print them); its folder "
                             "must exist")
    parser.add_argument("--classes", action="store_true",
                        help="write the predicted class of each row instead of the model's "
                             "outputs: argmax over several outputs; for one output, output > 0.5 "
                             "when the model ends in Sigmoid, else give --threshold")
    parser.add_argument("--proba", action="store_true",
                        help="write class probabilities instead of the model's outputs: softmax "
                             "over several logits (columns p0, p1, ...), sigmoid of one logit "
                             "(P(class 1)); a model ending in Softmax or Sigmoid is written as is")
    parser.add_argument("--threshold", type=float, metavar="T",
                        help="with --classes on a one-output model: class 1 when output > T "
                             "(e.g. 0 for a logit model trained with bce_with_logits)")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: A CSV line longer than this is refused (a header or row of about 50,000 columns).
MAX_LINE_CHARS = 1 << 20


def _lines(path: str, f):
    """``(line number, stripped text)`` of the non-blank lines of ``f``, read one at a time
    (so a huge file is never held as one string); a UTF-8 byte-order mark at the start is
    dropped; a line longer than ``MAX_LINE_CHARS`` raises ``ValueError``."""
    number = 0
    while True:
        line = f.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        if number == 1 and line.startswith("\ufeff"):   # Excel's UTF-8 byte-order mark
            line = line[1:]
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            raise ValueError(f"{path!r} line {number} is longer than {MAX_LINE_CHARS:,} "
                             "characters; a header or row that long is not a CSV of numbers "
                             "minimlp can read")
        line = line.strip()
        if line:
            yield number, line


def read_csv(path: str, file=None) -> np.ndarray:
    """The numbers of a CSV file as an ``(N, D)`` float64 array (a first line without any
    number is a header and skipped; a UTF-8 byte-order mark is allowed; no line may be
    longer than ``MAX_LINE_CHARS``). ``file``, when given, is read instead of opening
    ``path`` (e.g. ``sys.stdin``; ``path`` then only names it in messages). Raises
    ``ValueError`` saying which line and column is wrong."""
    if file is None:
        with open(path, encoding="utf-8-sig") as f:
            return _parse_rows(path, _lines(path, f))
    return _parse_rows(path, _lines(path, file))


def _parse_rows(path: str, lines, chunk: int = 8192) -> np.ndarray:
    """The rows of numbers of ``lines``, kept as float64 blocks of ``chunk`` rows (not as
    Python floats) while reading."""
    rows, blocks, width = [], [], None
    seen = False
    try:
        for k, (number, line) in enumerate(lines):
            seen = True
            fields = [x.strip() for x in line.split(",")]
            if k == 0 and not any(_is_number(x) for x in fields):
                continue  # a header
            for col, x in enumerate(fields):
                if not _is_number(x):
                    for sep, name in (("\t", "tab"), (";", "semicolon"), (" ", "space")):
                        if len(fields) == 1 and sep in x:
                            raise ValueError(
                                f"{path!r} line {number}: the file is not comma-separated (the "
                                f"numbers are {name}-separated: {line[:60]!r}); separate the "
                                "columns with commas")
                    raise ValueError(f"{path!r} line {number}, column {col + 1}: {x[:30]!r} is "
                                     f"not a number (line {line[:60]!r})")
            width = len(fields) if width is None else width
            if len(fields) != width:
                raise ValueError(f"{path!r} line {number}: {_plural(len(fields), 'column')}, "
                                 f"but the first row has {width}")
            rows.append([float(x) for x in fields])
            if len(rows) == chunk:
                blocks.append(np.array(rows, dtype=np.float64))
                rows.clear()
    except UnicodeDecodeError:
        raise ValueError(f"{path!r} is not a text file of numbers (it is not UTF-8 text; is it "
                         "a model or another binary file?)") from None
    if not seen:
        raise ValueError(f"{path!r} is empty")
    if rows:
        blocks.append(np.array(rows, dtype=np.float64))
    if not blocks:
        raise ValueError(f"{path!r} has a header line but no rows of numbers after it")
    X = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    if not np.isfinite(X).all():
        bad = int(np.argwhere(~np.isfinite(X))[0][0])
        raise ValueError(f"{path!r}: row {bad + 1} of the data contains NaN or inf")
    return X


def run(args) -> int:
    try:
        model = io.load(args.model)
    except FileNotFoundError:
        raise UsageError(f"model file {args.model!r} does not exist") from None
    except ValueError as e:   # a damaged or foreign file: load's message names it
        raise UsageError(str(e)) from None
    except IsADirectoryError:
        raise UsageError(f"model file {args.model!r} is a folder, not a model file") from None
    except OSError as e:      # e.g. no permission to read it
        raise UsageError(f"cannot read model file {args.model!r}: {e.strerror or e}") from None
    if args.output:
        try:
            check_output_file(args.output, "--output")   # before the work, not after it
        except ConfigError as e:
            raise UsageError(str(e)) from None
    if args.proba and args.classes:
        raise UsageError("--proba and --classes exclude each other: choose probabilities or labels")
    if args.threshold is not None and not args.classes:
        raise UsageError("--threshold only applies with --classes")
    try:
        if args.input == "-":
            X = read_csv("<stdin>", sys.stdin)
        else:
            X = read_csv(args.input)
    except FileNotFoundError:
        raise UsageError(f"input file {args.input!r} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"input {args.input!r} is a folder; name a CSV file") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"input {e}") from None
    except OSError as e:
        raise UsageError(f"cannot read input {args.input!r}: {e.strerror or e}") from None
    if model.in_features is not None and X.shape[1] != model.in_features:
        raise UsageError(f"input {args.input!r} has {_plural(X.shape[1], 'column')}, but the "
                         f"model {args.model!r} takes {_plural(model.in_features, 'feature')}")
    if args.classes:
        ends_in_sigmoid = bool(model.layers) and type(model.layers[-1]).__name__ == "Sigmoid"
        if (args.threshold is None and not ends_in_sigmoid
                and model.output_features(X.shape[1]) == 1):
            raise UsageError(
                f"--classes: the model {args.model!r} has one output and does not end in "
                "Sigmoid, so its output may be a regression value rather than a class score; "
                "give --threshold T (class 1 when output > T, e.g. 0 for a logit model trained "
                "with bce_with_logits), or drop --classes")
        if args.threshold is not None and model.output_features(X.shape[1]) != 1:
            raise UsageError("--threshold applies to a one-output model; this one has "
                             f"{model.output_features(X.shape[1])} outputs and --classes takes "
                             "their argmax")
        Y = predict_classes(model, X, threshold=args.threshold).reshape(-1, 1)
        header, fmt = "class", "%d"
    elif args.proba:
        Y = predict_proba(model, X)
        header, fmt = ",".join(f"p{k}" for k in range(Y.shape[1])), "%.17g"
    else:
        Y = model.predict(X)
        header = ",".join(f"y{k}" for k in range(Y.shape[1]))
        fmt = "%.17g"
    target = args.output if args.output else sys.stdout
    np.savetxt(target, Y, fmt=fmt, delimiter=",", header=header, comments="")
    if args.output:
        print(f"wrote {Y.shape[0]} predictions to {args.output}")
    return 0
