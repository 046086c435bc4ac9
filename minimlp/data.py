"""Mini-batches for hand-written training loops: ``mm.batches``, a small ``DataLoader``.

::

    loader = mm.batches(X, Y, batch_size=32, shuffle=True, seed=0)
    for epoch in range(10):
        for xb, yb in loader:          # a new order every epoch, the same orders every run
            loss.forward(net.forward(xb), yb)
            net.backward(loss.backward())
            opt.step()

``fit`` batches by itself; this is for the loop you write.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._checks import check_size
from .init import as_generator
from .layer import Array


class Batches:
    """An iterable over mini-batches ``(X[idx], Y[idx])`` of one pass through the data.

    Each ``iter()`` is one epoch: the rows ``0..N-1`` are split, in order or (``shuffle``)
    in a fresh random permutation, into ``ceil(N / batch_size)`` batches of ``batch_size``
    rows (the last one smaller unless ``drop_last``). Shapes: ``X (N, ...)``, ``Y (N, ...)``
    or ``None``; a batch is ``(B, ...)``, ``(B, ...)`` with ``B <= batch_size``.

    The batches are **fresh arrays** (``np.take`` copies), never views of ``X`` or reused
    buffers: writing to a batch leaves ``X`` unchanged, and a batch kept from one step stays
    valid after the next. The permutations come from ``seed`` (an int, a ``Generator`` or
    ``None`` for fresh entropy; never the global RNG): the same seed gives the same epochs.
    """

    def __init__(self, X, Y=None, batch_size: int = 32, shuffle: bool = True, seed=None,
                 drop_last: bool = False):
        self.X = _as_rows(X, "X")
        self.Y = None if Y is None else _as_rows(Y, "Y")
        if self.Y is not None and self.Y.shape[0] != self.X.shape[0]:
            raise ValueError(f"batches: X has {self.X.shape[0]} rows but Y has {self.Y.shape[0]}; "
                             "they need one target row per sample")
        self.batch_size = check_size(batch_size, "batch_size", "batches")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"batches: {name} must be True or False, got {flag!r}")
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        try:
            self._rng = as_generator(seed)
        except (TypeError, ValueError) as e:
            raise type(e)(f"batches: seed: {e}") from None

    def __len__(self) -> int:
        """The number of batches per epoch."""
        N = self.X.shape[0]
        return N // self.batch_size if self.drop_last else -(-N // self.batch_size)

    def __iter__(self) -> Iterator:
        N = self.X.shape[0]
        order = self._rng.permutation(N) if self.shuffle else np.arange(N)
        for k in range(len(self)):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            xb = np.take(self.X, idx, axis=0)
            yield xb if self.Y is None else (xb, np.take(self.Y, idx, axis=0))

    def __repr__(self) -> str:
        return (f"batches(N={self.X.shape[0]}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")


def batches(X, Y=None, batch_size: int = 32, shuffle: bool = True, seed=None,
            drop_last: bool = False) -> Batches:
    """Mini-batches of ``(X, Y)`` for a hand-written loop (PyTorch's ``DataLoader``, on arrays).

    Returns a ``Batches`` iterable: each ``for xb, yb in ...`` is one epoch over ``X (N, ...)``
    and ``Y (N, ...)`` (or just ``xb`` when ``Y`` is ``None``), ``ceil(N / batch_size)``
    batches, reshuffled every epoch when ``shuffle`` (reproducibly from ``seed``). The batches
    are fresh arrays, not views or reused buffers.

    >>> import numpy as np, minimlp as mm
    >>> [xb.ravel().tolist() for xb in mm.batches(np.arange(5.0).reshape(5, 1), batch_size=2, shuffle=False)]
    [[0.0, 1.0], [2.0, 3.0], [4.0]]
    """
    return Batches(X, Y, batch_size, shuffle, seed, drop_last)


def _as_rows(A, name: str) -> Array:
    A = np.asarray(A)
    if A.ndim == 0:
        raise ValueError(f"batches: {name} must be an array of rows (N, ...), got a scalar")
    if A.shape[0] == 0:
        raise ValueError(f"batches: {name} has no rows (shape {A.shape})")
    return A
