"""``minimlp predict``: run a saved model on the rows of a CSV file."""
from __future__ import annotations

import sys

import numpy as np

HELP = "run a saved model (.npz from 'minimlp train' or mm.save) on the rows of a CSV file"


def add_arguments(parser) -> None:
    parser.add_argument("--model", metavar="FILE", required=True,
                        help="model file written by 'minimlp train' or mm.save")
    parser.add_argument("--input", metavar="CSV", required=True,
                        help="comma-separated numbers, one sample per row, one column per input "
                             "feature; a first line that is not numeric is taken as a header")
    parser.add_argument("--output", metavar="CSV",
                        help="where to write the predictions (default: print them)")
    parser.add_argument("--classes", action="store_true",
                        help="write the predicted class of each row instead of the model's "
                             "outputs (argmax, or output > 0 for a one-output logit model)")


def read_csv(path: str) -> np.ndarray:
    """The numbers of a CSV file as an ``(N, D)`` float64 array (a non-numeric first line is
    a header and skipped). Raises ``ValueError`` saying which line is wrong."""
    with open(path, encoding="utf-8") as f:
        lines = [(i + 1, line.strip()) for i, line in enumerate(f) if line.strip()]
    if not lines:
        raise ValueError(f"{path!r} is empty")
    rows = []
    for k, (number, line) in enumerate(lines):
        fields = [x.strip() for x in line.split(",")]
        try:
            rows.append([float(x) for x in fields])
        except ValueError:
            if k == 0:
                continue  # a header
            raise ValueError(f"{path!r} line {number}: expected comma-separated numbers, "
                             f"got {line[:60]!r}") from None
        if len(rows[-1]) != len(rows[0]):
            raise ValueError(f"{path!r} line {number}: {len(rows[-1])} columns, but the first "
                             f"row has {len(rows[0])}")
    if not rows:
        raise ValueError(f"{path!r} has a header but no rows of numbers")
    X = np.array(rows, dtype=np.float64)
    if not np.isfinite(X).all():
        bad = int(np.argwhere(~np.isfinite(X))[0][0])
        raise ValueError(f"{path!r}: row {bad + 1} of the data contains NaN or inf")
    return X


def run(args) -> int:
    from .. import io
    from ..cli import UsageError
    from ..training import predict_classes
    try:
        model = io.load(args.model)
    except FileNotFoundError:
        raise UsageError(f"model file {args.model!r} does not exist") from None
    except (ValueError, IsADirectoryError) as e:
        raise UsageError(str(e)) from None
    try:
        X = read_csv(args.input)
    except FileNotFoundError:
        raise UsageError(f"input file {args.input!r} does not exist") from None
    except (ValueError, UnicodeDecodeError, IsADirectoryError) as e:
        raise UsageError(f"input {e}") from None
    if model.in_features is not None and X.shape[1] != model.in_features:
        raise UsageError(f"input {args.input!r} has {X.shape[1]} columns, but the model "
                         f"{args.model!r} takes {model.in_features} features")
    if args.classes:
        Y = predict_classes(model, X).reshape(-1, 1)
        header, fmt = "class", "%d"
    else:
        Y = model.predict(X)
        header = ",".join(f"y{k}" for k in range(Y.shape[1]))
        fmt = "%.17g"
    target = args.output if args.output else sys.stdout
    np.savetxt(target, Y, fmt=fmt, delimiter=",", header=header, comments="")
    if args.output:
        print(f"wrote {Y.shape[0]} predictions to {args.output}")
    return 0
