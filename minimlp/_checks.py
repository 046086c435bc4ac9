"""Argument and array validation shared by the public entry points (not on the hot path)."""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype, what: str = "dtype") -> np.dtype:
    """float32 or float64, as a ``numpy.dtype`` (``None`` means float64, as in numpy).

    Anything else, an unknown name such as ``"bogus"`` included, raises ``ValueError``.
    """
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        dt = None
    # ``np.dtype("float64") == None`` is True in numpy, so test ``None`` before ``in``.
    if dt is None or not any(dt == f for f in FLOAT_DTYPES):
        raise ValueError(f"{what} must be float32 or float64, got {dtype!r}")
    return dt


def check_size(value, name: str, owner: str, minimum: int = 1) -> int:
    """A whole number >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value, name: str, owner: str, low=None, high=None,
               low_open=False, high_open=False) -> float:
    """A finite real number within [low, high] (either end may be open)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    value = float(value)
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{owner}: invalid {name} {value!r}; expected a value in {interval}")
    return value


def as_float_array(X, dtype: np.dtype, what: str, ndim: int | None = 2) -> np.ndarray:
    """``X`` as an array of ``dtype``: floats, ints and bools are cast once; complex, object
    and string arrays are refused; NaN and inf are refused, and so are finite values that
    ``dtype`` cannot hold (1e300 for a float32 model).

    ndarray subclasses become plain arrays: an ``np.matrix`` is taken as its 2-D array, a
    masked array as its data when nothing is masked (a masked entry is refused, since its
    value is not data).
    """
    if isinstance(X, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(X)
        if mask.any():
            first = tuple(int(i) for i in np.argwhere(mask)[0])
            raise ValueError(
                f"{what}: masked array with {int(mask.sum())} masked entries (first at index "
                f"{first}); fill them (X.filled(value)) or drop those rows first")
        X = np.asarray(X.data)
    elif type(X) is not np.ndarray:
        try:
            X = np.asarray(X)
        except (ValueError, TypeError) as e:
            raise TypeError(f"{what}: expected a numeric array, could not convert: {e}") from None
    kind = X.dtype.kind
    if kind not in "fiub":
        raise TypeError(
            f"{what}: expected a real numeric array (float, int or bool), got dtype {X.dtype}"
        )
    if ndim is not None and X.ndim != ndim:
        hint = ""
        if ndim == 2 and X.ndim == 1:
            hint = (" (one sample of D features: X.reshape(1, -1); N samples of one feature: "
                    "X.reshape(-1, 1))")
        elif ndim == 2 and X.ndim > 2:
            hint = f" (flatten each sample first: X.reshape({X.shape[0]}, -1))"
        raise ValueError(f"{what}: expected a {ndim}-D array (N, D), got shape {X.shape} "
                         f"({X.ndim}-D){hint}")
    source = X
    if X.dtype != dtype:
        with np.errstate(over="ignore", invalid="ignore"):   # an overflow is reported below
            X = X.astype(dtype)
    if kind == "f" and not all_finite(X):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(X))[0])
        if np.isfinite(source[bad]):
            limit = float(np.finfo(dtype).max)
            hint = ", or use a float64 model" if np.dtype(dtype) == np.float32 else ""
            raise ValueError(
                f"{what}: value {np.format_float_scientific(source[bad], precision=4, trim='-')} at "
                f"index {bad} is outside the {np.dtype(dtype).name} range "
                f"(|x| <= {limit:.4g}); scale the inputs{hint}")
        raise ValueError(f"{what}: contains NaN or inf (first at index {bad})")
    return X


def all_finite(A: np.ndarray) -> bool:
    """Whether every entry of the float array ``A`` is finite, in one pass that allocates
    nothing: a NaN or an inf anywhere makes the sum NaN or inf. Only a sum that overflowed
    from finite entries (or a real NaN/inf) needs the exact, allocating check."""
    try:
        if np.isfinite(np.add.reduce(A, axis=None)):
            return True
    except FloatingPointError:   # np.errstate(over="raise"), and the sum overflowed
        pass
    return bool(np.isfinite(A).all())
