"""``History``: the per-epoch records of a ``fit`` call."""
from __future__ import annotations

import csv
import io as _io
import json
from typing import Sequence


class History:
    """Per-epoch records of a ``fit`` call.

    Attributes
    ----------
    history : dict[str, list[float]]
        ``"loss"``, each metric, ``"val_loss"`` and ``"val_<metric>"`` when validating, and
        ``"time"`` (wall seconds of the epoch, validation included); one value per epoch.
        The training ``loss`` and metrics are the means over the epoch's batches, each
        measured while the weights were still changing (as Keras reports them); the
        ``val_`` values are measured once, with the epoch's final weights. So the last
        training accuracy differs from the final weights' accuracy on the training rows.
    epochs : list[int]
        The epoch numbers, 1-based (they start at ``initial_epoch + 1``), as printed.
    epoch : list[int]
        The same epochs 0-based, as Keras's ``History.epoch``: ``epoch[i] == epochs[i] - 1``
        (a new list each time). The CSV/JSON column ``epoch`` holds the 1-based numbers.
    params : dict
        The settings of the run, including the ``seed`` entropy and ``seed_spawn_key``:
        ``seed=SeedSequence(params["seed"], spawn_key=params["seed_spawn_key"])`` reproduces
        it (for an int seed the key is empty and ``seed=params["seed"]`` is enough).

    ``h["loss"]`` is ``h.history["loss"]``; ``len(h)`` the number of epochs recorded.
    """

    def __init__(self, keys: Sequence[str] = (), params: dict | None = None):
        self.history: dict[str, list[float]] = {k: [] for k in keys}
        self.epochs: list[int] = []
        self.params = dict(params or {})

    def append(self, epoch: int, logs: dict) -> None:
        """Record one epoch's logs (a value per key)."""
        self.epochs.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    @property
    def epoch(self) -> list[int]:
        """The recorded epochs 0-based (Keras's ``History.epoch``): ``[e - 1 for e in epochs]``."""
        return [e - 1 for e in self.epochs]

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"History has no {key!r}; keys: {list(self.history)}") from None

    def __contains__(self, key) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self):
        return self.history.keys()

    def to_dict(self) -> dict:
        """``{"epoch": [...], "<key>": [...], ...}``: plain lists, JSON-safe."""
        return {"epoch": list(self.epochs), **{k: list(v) for k, v in self.history.items()}}

    def to_json(self, path=None) -> str:
        """The ``to_dict`` as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        return text

    def to_csv(self, path=None) -> str:
        """A CSV table, one row per epoch, header ``epoch,loss,...``; written to ``path`` when given."""
        buf = _io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        keys = list(self.history)
        w.writerow(["epoch"] + keys)
        for i, e in enumerate(self.epochs):
            w.writerow([e] + [repr(self.history[k][i]) for k in keys])
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        return text

    def table(self, max_rows: int | None = 20) -> str:
        """A markdown table of the epochs: at most ``max_rows`` of them, the first, every
        k-th (k the smallest step that fits, so 1, 60, 120, ..., 300) and the last. The
        ``time`` column is in seconds."""
        keys = list(self.history)
        n = len(self.epochs)
        rows = list(range(n))
        if max_rows is not None and n > max_rows >= 2:
            k = -(-n // (max_rows - 1))                # ceil(n / (max_rows - 1))
            rows = sorted({0, n - 1} | set(range(k - 1, n - 1, k)))   # epochs 1, k, 2k, ..., n
        head = ["epoch"] + [f"{k} (s)" if k == "time" else k for k in keys]
        body = [[str(self.epochs[i])] + [f"{self.history[k][i]:.4g}" for k in keys] for i in rows]
        widths = [max(len(r[c]) for r in [head] + body) for c in range(len(head))]
        line = lambda r: "| " + " | ".join(x.rjust(w) for x, w in zip(r, widths)) + " |"
        sep = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
        return "\n".join([line(head), sep] + [line(r) for r in body])

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v and k != "time")
        return f"History({len(self)} epochs{': ' + last if last else ''})"
