"""Argument and array validation shared by the public entry points (not on the hot path)."""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype, what: str = "dtype") -> np.dtype:
    """float32 or float64, as a ``numpy.dtype``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
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
    and string arrays are refused; NaN and inf are refused."""
    if not isinstance(X, np.ndarray):
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
    if X.dtype != dtype:
        X = X.astype(dtype)
    if kind == "f" and not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{what}: contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return X
