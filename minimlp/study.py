"""Batch-size studies: steps and seconds to a target at every batch size (Shallue et al. 2018).

For every (batch size, learning rate, seed) a *trial* trains the configured model until a
target (say ``val_accuracy >= 0.9``) is reached or a step budget runs out, and records the
steps it took. For each batch size the best learning rate is kept, as Shallue et al. do
("Measuring the Effects of Data Parallelism on Neural Network Training", JMLR 2019). Plotted
log-log against the batch size, steps-to-target shows three regimes: perfect scaling (twice
the batch, half the steps), diminishing returns, and maximal data parallelism (more batch,
no fewer steps). McCandlish et al. 2018 model the curve as ``S = S_min (1 + B_crit / B)``
and predict the bend ``B_crit`` by the gradient noise scale ``B_simple`` (``minimlp.noise``);
each trial measures ``B_simple`` where it stops.

Trials are independent tasks: run in this process (``workers=1``), in local worker
processes (``workers=N``, BLAS pinned to one thread in each), or on a Dask distributed
cluster (``scheduler="tcp://HOST:PORT"``, the optional extra ``minimlp[distributed]``).
What a worker gets: the data arrays once (``client.scatter``, or the pool's initializer)
and, per trial, a small dict (the configuration, batch size, learning rate, seed, target,
budget); it sends back one row. A trial depends only on that, so the same seeds give the
same rows, bit for bit, wherever they run. Rows stream into ``trials.csv`` as trials finish;
a study started again in the same folder skips the trials already there.
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["Target", "LearningRates", "parse_target", "parse_lrs", "batch_size_study",
           "run_trial", "StudyResult", "COLUMNS"]

#: trials.csv's columns: the first seven are the interface scripts rely on.
COLUMNS = ("batch_size", "lr", "seed", "steps_to_target", "seconds", "seconds_per_step",
           "final_metric", "epochs_to_target", "steps", "b_simple")


# -- the inputs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """``metric`` (``"val_accuracy"``, ``"val_loss"``, ``"accuracy"``, ...) reaching
    ``value``: ``>=`` when higher is better (accuracy), ``<=`` otherwise (losses, errors)."""

    metric: str
    value: float

    @property
    def higher(self) -> bool:
        from .metrics import HIGHER_IS_BETTER
        base = self.metric[4:] if self.metric.startswith("val_") else self.metric
        return base in HIGHER_IS_BETTER

    @property
    def validation(self) -> bool:
        return self.metric.startswith("val_")

    @property
    def base(self) -> str:
        """The name without ``val_``: ``"loss"`` or a metric of ``minimlp.metrics``."""
        return self.metric[4:] if self.validation else self.metric

    def reached(self, value: float) -> bool:
        return value >= self.value if self.higher else value <= self.value

    def __str__(self) -> str:
        return f"{self.metric} {'>=' if self.higher else '<='} {self.value:g}"


def parse_target(text) -> Target:
    """``"val_accuracy=0.9"`` -> ``Target("val_accuracy", 0.9)``; also ``val_loss=0.1``,
    ``accuracy=...`` (on the training set), ``val_mae=...``; ``acc`` is ``accuracy``."""
    from .metrics import METRIC_ALIASES, METRICS
    if isinstance(text, Target):
        return text
    name, sep, value = str(text).partition("=")
    name = name.strip()
    prefix = "val_" if name.startswith("val_") else ""
    base = METRIC_ALIASES.get(name[len(prefix):], name[len(prefix):])
    allowed = ["loss"] + sorted(set(METRICS) - set(METRIC_ALIASES))
    if not sep or base not in allowed:
        raise ValueError(f"target: expected METRIC=VALUE with METRIC one of "
                         f"{', '.join('val_' + a for a in allowed)} (or without val_: on the "
                         f"training set), e.g. val_accuracy=0.9; got {text!r}")
    try:
        v = float(value)
    except ValueError:
        raise ValueError(f"target: {value.strip()!r} is not a number (in {text!r})") from None
    if not math.isfinite(v):
        raise ValueError(f"target: the value must be finite, got {text!r}")
    return Target(prefix + base, v)


@dataclass(frozen=True)
class LearningRates:
    """The learning rates tried at each batch size.

    Either ``values`` (the same list at every batch size), or a scaling ``rule`` around a
    base rate ``base`` at batch size ``ref``, times each of ``factors``::

        linear: lr(B) = base * B / ref        sqrt: lr(B) = base * sqrt(B / ref)
        const:  lr(B) = base
    """

    values: tuple[float, ...] = ()
    rule: str = ""
    base: float = 0.0
    ref: int = 1
    factors: tuple[float, ...] = (1.0,)

    def rates(self, batch_size: int) -> list[float]:
        if self.values:
            return list(self.values)
        scale = {"linear": batch_size / self.ref, "sqrt": math.sqrt(batch_size / self.ref),
                 "const": 1.0}[self.rule]
        return [float(self.base * scale * f) for f in self.factors]

    def __str__(self) -> str:
        if self.values:
            return ",".join(f"{v:g}" for v in self.values)
        text = f"{self.rule}:{self.base:g}@{self.ref}"
        return text if self.factors == (1.0,) else text + ":" + ",".join(f"{f:g}" for f in self.factors)


def parse_lrs(text) -> LearningRates:
    """``"0.001,0.003,0.01"`` (a list) or a rule ``RULE:BASE@REF[:F1,F2,...]``, e.g.
    ``"sqrt:0.01@32:0.5,1,2"``: at batch size B the rates ``0.01 * sqrt(B/32) * {0.5, 1, 2}``
    (rules ``linear``, ``sqrt``, ``const``; see ``LearningRates``)."""
    if isinstance(text, LearningRates):
        return text
    if isinstance(text, (int, float)):
        text = str(text)
    if not isinstance(text, str):
        return _rate_list([float(v) for v in text], repr(text))
    s = text.strip()
    rule, sep, rest = s.partition(":")
    if not sep:
        return _rate_list(_floats(s, text), text)
    if rule not in ("linear", "sqrt", "const"):
        raise ValueError(f"lrs: unknown rule {rule!r} in {text!r}; allowed: linear, sqrt, const "
                         "(e.g. sqrt:0.01@32:0.5,1,2), or a list like 0.001,0.01")
    center, _, factors = rest.partition(":")
    base, at, ref = center.partition("@")
    if not at:
        ref = "1"
    try:
        base_v, ref_v = float(base), int(ref)
    except ValueError:
        raise ValueError(f"lrs: expected {rule}:BASE@REF like {rule}:0.01@32, got {text!r}") from None
    f = tuple(_floats(factors, text)) if factors else (1.0,)
    if not (base_v > 0 and math.isfinite(base_v)) or ref_v < 1 or min(f) <= 0:
        raise ValueError(f"lrs: the base rate and factors must be > 0 and REF >= 1, got {text!r}")
    return LearningRates(rule=rule, base=base_v, ref=ref_v, factors=f)


def _floats(s: str, text: str) -> list[float]:
    try:
        return [float(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"lrs: expected numbers separated by commas, got {text!r}") from None


def _rate_list(values: list[float], text: str) -> LearningRates:
    if not values or any(not (v > 0 and math.isfinite(v)) for v in values):
        raise ValueError(f"lrs: learning rates must be finite numbers > 0, got {text}")
    return LearningRates(values=tuple(values))


# -- the data, prepared once ------------------------------------------------------------------
def prepare_data(config: dict, say=print) -> dict:
    """Load ``config["data"]`` and split off the validation rows: the config's
    ``training.validation_split``, or 0.2 when it has none (said through ``say``). Returns
    the arrays (``X``, ``T``, ``X_val``, ``T_val``) and what a trial needs to build the
    model (``loss``, ``out_features``)."""
    from .config import get_loss, load_data, task_of
    from .losses import BCEWithLogitsLoss, CrossEntropyLoss
    t = config["training"]
    X, Y = load_data(config["data"], t["seed"])
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y)
    task = task_of(Y)
    loss_name = t["loss"] or ("cross_entropy" if task == "classification" else "mse")
    loss = get_loss(loss_name)
    if task == "classification":
        classes = int(Y.max()) + 1
        out_features = 1 if isinstance(loss, BCEWithLogitsLoss) and classes == 2 else classes
        if isinstance(loss, CrossEntropyLoss):
            T = Y
        elif out_features == 1:
            T = Y.reshape(-1, 1).astype(np.float64)
        else:
            T = np.eye(out_features)[Y]
    else:
        out_features = Y.shape[1] if Y.ndim == 2 else 1
        T = Y.reshape(len(Y), -1)
    fraction = t["validation_split"]
    if not fraction:
        fraction = 0.2
        say("the config has no validation split: holding out 0.2 of the data for validation")
    n_val = int(round(len(X) * fraction))
    if not 1 <= n_val < len(X):
        raise ValueError(f"validation split {fraction:g} of {len(X)} rows leaves no validation "
                         "or no training row")
    perm = np.random.default_rng(np.random.SeedSequence(t["seed"], spawn_key=(0,))).permutation(len(X))
    val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return {"X": X[train], "T": T[train], "X_val": X[val], "T_val": T[val], "loss": loss_name,
            "out_features": out_features, "task": task, "validation_split": fraction}


# -- one trial ------------------------------------------------------------------------------
def _eval_steps(max_steps: int, growth: float):
    """The steps after which the target is checked: 1..10, then about ``growth`` times the
    previous one (a constant relative resolution on the log-log plot), and ``max_steps``."""
    s = 1
    while s < max_steps:
        yield s
        s = s + 1 if s < 10 else max(s + 1, int(math.ceil(s * growth)))
    yield max_steps


def run_trial(spec: dict, data: dict | None = None) -> dict:
    """Train one (batch size, learning rate, seed) until the target or the budget; one row.

    ``spec``: ``config`` (a checked training configuration), ``batch_size``, ``lr``, ``seed``,
    ``target`` (text like ``"val_accuracy=0.9"``), ``max_steps``, ``eval_growth``. The
    weights come from ``config["model"]`` with ``seed`` as the model seed; batches are drawn
    without replacement from a fresh permutation per epoch (the last partial batch of an
    epoch is dropped), from the stream ``SeedSequence(seed, spawn_key=(1,))``. BLAS runs on
    one thread, so the row is the same bit for bit wherever it runs (``seconds`` aside).

    Returns ``COLUMNS``: ``steps_to_target`` (``None`` when not reached: the first checked
    step at which the target held), ``seconds`` (training time to the target or to the end,
    the checks not counted), ``seconds_per_step``, ``final_metric`` (the target's metric
    where training stopped), ``epochs_to_target``, ``steps`` (run) and ``b_simple`` (the
    gradient noise scale there, from per-example norms of up to 1024 training rows; ``None``
    for models that give none).
    """
    from threadpoolctl import threadpool_limits
    data = _WORKER_DATA if data is None else data
    with threadpool_limits(limits=1), np.errstate(all="ignore"):
        return _train(spec, data)


def _train(spec: dict, data: dict) -> dict:
    from .config import build_model, build_optimizer, get_loss
    from .training import evaluate
    config, B0, lr, seed = spec["config"], int(spec["batch_size"]), float(spec["lr"]), int(spec["seed"])
    target = parse_target(spec["target"])
    max_steps = int(spec["max_steps"])
    X, T = data["X"], data["T"]
    Xe, Te = (data["X_val"], data["T_val"]) if target.validation else (X, T)
    model = build_model({**config["model"], "seed": seed}, X.shape[1], data["out_features"])
    X, Xe = X.astype(model.dtype), Xe.astype(model.dtype)
    optimizer = build_optimizer({**config["optimizer"], "lr": lr}, model.parameters())
    loss = get_loss(data["loss"])
    metrics = [] if target.base == "loss" else [target.base]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    N = X.shape[0]
    B = min(B0, N)
    from .step import NonFiniteLoss, TrainStep
    train_step = TrainStep(model, loss, optimizer, threads=None)   # the step fit runs
    T = loss.check_targets(T, (N, model.output_features(X.shape[1])), model.dtype) \
        if hasattr(loss, "check_targets") else T
    order, pos = rng.permutation(N), 0
    checks = _eval_steps(max_steps, float(spec.get("eval_growth", 1.1)))
    next_check = next(checks)
    clock = time.perf_counter
    train_s = 0.0
    reached = None
    metric = math.nan
    step = 0
    while step < max_steps:
        if pos + B > N:
            order, pos = rng.permutation(N), 0
        idx = order[pos:pos + B]
        pos += B
        xb, tb = X[idx], T[idx]
        t0 = clock()
        try:
            train_step.run(xb, tb)
        except NonFiniteLoss:       # diverged: this trial never reaches the target
            metric = math.nan
            break
        train_s += clock() - t0
        step += 1
        if step == next_check:
            next_check = next(checks, None)
            logs = evaluate(model, Xe, Te, loss=loss, metrics=metrics)
            metric = float(logs[target.base])
            if target.reached(metric):
                reached = step
                break
    return {"batch_size": B0, "lr": lr, "seed": seed, "steps_to_target": reached,
            "seconds": train_s, "seconds_per_step": train_s / max(step, 1),
            "final_metric": metric, "epochs_to_target": None if reached is None else reached * B / N,
            "steps": step, "b_simple": _noise_scale(model, loss, X, T, rng)}


def _noise_scale(model, loss, X, T, rng, rows: int = 1024) -> float | None:
    from .noise import noise_scale_estimates, per_example_grad_norms
    n = min(rows, X.shape[0])
    idx = np.sort(rng.choice(X.shape[0], n, replace=False))
    try:
        r = per_example_grad_norms(model, loss, X[idx], T[idx])
    except (TypeError, ValueError):   # a layer that gives no per-example norms (BatchNorm1d)
        return None
    g2, trace = noise_scale_estimates(float(r.total.mean()), 1, r.batch_sq_norm, n)
    return trace / g2 if g2 > 0 and math.isfinite(trace / g2) else None


_WORKER_DATA: dict | None = None


def _init_worker(data: dict) -> None:
    """A local worker process: keep the data, pin BLAS to one thread for good."""
    global _WORKER_DATA
    from threadpoolctl import threadpool_limits
    _WORKER_DATA = data
    threadpool_limits(limits=1)


def _run_with(data, spec):   # a module-level function: picklable for Dask
    return run_trial(spec, data)


# -- the results file -------------------------------------------------------------------------
def _key(batch_size, lr, seed) -> tuple:
    return int(batch_size), float(lr), int(seed)


def _format(row: dict) -> list[str]:
    out = []
    for c in COLUMNS:
        v = row.get(c)
        out.append("" if v is None or (isinstance(v, float) and math.isnan(v) and c != "final_metric")
                   else repr(float(v)) if isinstance(v, float) else str(v))
    return out


def _parse(rec: dict) -> dict:
    row = {}
    for c in COLUMNS:
        v = rec.get(c, "")
        if c in ("batch_size", "seed", "steps"):
            row[c] = int(v)
        elif c == "steps_to_target":
            row[c] = int(v) if v != "" else None
        else:
            row[c] = float(v) if v != "" else None
    return row


def read_trials(path) -> list[dict]:
    """The rows of a ``trials.csv`` (a last line cut short by a kill is left out)."""
    if not os.path.exists(path):
        return []
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    if not lines or lines[0].strip().split(",") != list(COLUMNS):
        raise ValueError(f"{path}: not a study's trials.csv (header {lines[:1]!r})")
    for line in lines[1:]:
        if not line.endswith("\n"):
            break   # written in part when the study was killed
        try:
            rows.append(_parse(next(csv.DictReader([lines[0], line]))))
        except (ValueError, StopIteration):
            break
    return rows


# -- the study ------------------------------------------------------------------------------
@dataclass
class StudyResult:
    """What ``batch_size_study`` returns: every trial's row, the best learning rate's rows per
    batch size (``best``: ``{B: {"lr", "steps" (median over seeds, None if a seed missed),
    "steps_min", "steps_max", "reached" (seeds that reached), "seconds_per_step" (bench),
    "seconds" (to target here)}}``), the fitted ``S_min``, ``B_crit`` (measured, from
    ``S = S_min (1 + B_crit / B)``), the noise-scale prediction ``b_simple``, the fastest
    batch size here, and the paths written."""

    trials: list[dict]
    best: dict
    target: Target
    s_min: float | None
    b_crit: float | None
    b_simple: float | None
    fastest: int | None
    paths: list[str]


def batch_size_study(config: dict, *, batch_sizes, lrs, seeds: int = 2, target="val_accuracy=0.9",
                     max_steps: int = 2000, workers: int | None = None, scheduler: str | None = None,
                     out: str = "minimlp-study", eval_growth: float = 1.1, bench: bool = True,
                     progress: bool = True, plots: bool = True, say=print) -> StudyResult:
    """Run a batch-size study; see the module docstring.

    Parameters
    ----------
    config : dict
        A training configuration as ``minimlp train`` takes it (``minimlp.config.read_config``
        or ``check_config``): data, model, optimizer; ``training.seed`` seeds the data and
        the validation split, ``training.validation_split`` (0.2 if 0) gives validation rows.
    batch_sizes : list of int, or text like ``"8,16,...,512"`` (doubling)
    lrs : ``LearningRates``, text (``parse_lrs``) or a list of rates
    seeds : int
        Trials per (batch size, rate): seeds ``training.seed + 0 .. seeds - 1``.
    target : text like ``"val_accuracy=0.9"`` or a ``Target``
    max_steps : int, the step budget of each trial
    workers : int or None
        Local worker processes (default: the number of cores; 1: run in this process).
    scheduler : str or None
        Address of a Dask distributed scheduler (``tcp://HOST:PORT``): run the trials there.
    out : folder of ``trials.csv``, ``study.json``, ``summary.md`` and the plots.
    eval_growth : float > 1, the spacing of the target checks (see ``run_trial``).
    bench : time each batch size's step here (as ``minimlp bench`` does) for seconds-to-target.
    """
    from .bench import parse_batch_sizes
    from ._checks import check_size
    if isinstance(batch_sizes, str):
        batch_sizes = parse_batch_sizes(batch_sizes)
    batch_sizes = [check_size(b, "batch_sizes", "study") for b in batch_sizes]
    if not batch_sizes or sorted(set(batch_sizes)) != list(batch_sizes):
        raise ValueError(f"study: batch_sizes must be distinct and increasing, got {batch_sizes}")
    grid = parse_lrs(lrs)
    seeds = check_size(seeds, "seeds", "study")
    target = parse_target(target)
    max_steps = check_size(max_steps, "max_steps", "study")
    if not eval_growth > 1:
        raise ValueError(f"study: eval_growth must be > 1, got {eval_growth}")
    if workers is None:
        workers = os.cpu_count() or 1
    workers = check_size(workers, "workers", "study")
    data = prepare_data(config, say)
    if target.base == "accuracy" and data["task"] != "classification":
        raise ValueError(f"study: target {target.metric} needs a classification data set")

    # What a trial depends on (not the output folder, verbosity, epochs or batch size).
    config = {"data": config["data"], "model": config["model"], "optimizer": config["optimizer"],
              "training": {k: config["training"][k] for k in ("loss", "seed", "validation_split")}}
    os.makedirs(out, exist_ok=True)
    study = {"config": config, "target": target.metric + "=" + repr(target.value),
             "max_steps": max_steps, "eval_growth": eval_growth,
             "validation_split": data["validation_split"]}
    meta = os.path.join(out, "study.json")
    if os.path.exists(meta):
        with open(meta, encoding="utf-8") as f:
            before = json.load(f)
        if before != json.loads(json.dumps(study)):
            raise ValueError(f"study: {out!r} holds a different study (its study.json differs in "
                             f"{', '.join(k for k in study if before.get(k) != json.loads(json.dumps(study))[k])}); "
                             "use another --out folder or delete it")
    else:
        with open(meta, "w", encoding="utf-8") as f:
            json.dump(study, f, indent=1)
    path = os.path.join(out, "trials.csv")
    done = read_trials(path)
    with open(path, "w", encoding="utf-8", newline="") as f:   # without a cut-off last line
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(_format(r) for r in done)
    have = {_key(r["batch_size"], r["lr"], r["seed"]) for r in done}
    base_seed = int(config["training"]["seed"])
    todo = [{"config": config, "batch_size": B, "lr": lr, "seed": base_seed + s,
             "target": study["target"], "max_steps": max_steps, "eval_growth": eval_growth}
            for B in batch_sizes for lr in grid.rates(B) for s in range(seeds)]
    wanted = {_key(t["batch_size"], t["lr"], t["seed"]) for t in todo}
    todo = [t for t in todo if _key(t["batch_size"], t["lr"], t["seed"]) not in have]
    if have & wanted:
        say(f"resuming: {len(have & wanted)} trial(s) already in {path}, {len(todo)} to run")
    where = f"the Dask cluster at {scheduler}" if scheduler else \
        "this process" if workers == 1 else f"{workers} local worker processes"
    say(f"study: {len(todo)} trial(s) on {where}; target {target}, at most {max_steps} steps")

    rows = [r for r in done if _key(r["batch_size"], r["lr"], r["seed"]) in wanted]
    with open(path, "a", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")

        def record(row):
            w.writerow(_format(row))
            f.flush()
            rows.append(row)

        _run_all(todo, data, workers, scheduler, record, progress)
    return summarize(rows, target, batch_sizes, out, config=config, data=data, bench=bench,
                     plots=plots, say=say)


def _run_all(todo, data, workers, scheduler, record, progress) -> None:
    from tqdm import tqdm
    bar = tqdm(total=len(todo), desc="trials", unit="trial", disable=not progress or not todo,
               smoothing=0.1, dynamic_ncols=True)
    try:
        if scheduler:
            _run_dask(todo, data, scheduler, record, bar)
        elif workers == 1 or len(todo) <= 1:
            for spec in todo:
                record(run_trial(spec, data))
                bar.update()
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed
            # The platform's default start method: fork on Linux starts a worker in
            # milliseconds, where spawn re-imports numpy and minimlp in each (seconds on a
            # busy machine, measured: benchmarks/study_overhead.py).
            ctx = multiprocessing.get_context()
            with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx,
                                     initializer=_init_worker, initargs=(data,)) as pool:
                futures = [pool.submit(run_trial, spec) for spec in todo]
                try:
                    for fut in as_completed(futures):
                        record(fut.result())
                        bar.update()
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
    finally:
        bar.close()


def _run_dask(todo, data, scheduler, record, bar) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ImportError('a study on a Dask cluster needs the distributed extra: '
                          'pip install "minimlp[distributed]"') from None
    import uuid
    run = uuid.uuid4().hex[:8]   # task keys unique to this run: no mix-up with another study
    with Client(scheduler, timeout="30s") as client:
        shared = client.scatter(data, broadcast=True)
        futures = [client.submit(_run_with, shared, s, pure=False,
                                 key=f"minimlp-trial-{run}-{i}-B{s['batch_size']}-lr{s['lr']!r}-seed{s['seed']}")
                   for i, s in enumerate(todo)]
        try:
            for fut in as_completed(futures):
                record(fut.result())
                bar.update()
        finally:
            client.cancel(futures)


# -- the summary ----------------------------------------------------------------------------
def _median(values):
    return float(np.median(values)) if values else None


def best_rates(rows: list[dict], batch_sizes=None) -> dict:
    """Per batch size, the learning rate with the fewest steps to the target (the median over
    seeds, a seed that missed counting as infinitely many), as Shallue et al. choose it."""
    best = {}
    sizes = batch_sizes or sorted({r["batch_size"] for r in rows})
    for B in sizes:
        by_lr: dict[float, list] = {}
        for r in rows:
            if r["batch_size"] == B:
                by_lr.setdefault(r["lr"], []).append(r)
        choice = None
        for lr, rs in sorted(by_lr.items()):
            steps = [r["steps_to_target"] if r["steps_to_target"] is not None else math.inf for r in rs]
            score = (float(np.median(steps)), -sum(s < math.inf for s in steps), lr)
            if choice is None or score < choice[0]:
                choice = (score, lr, rs, steps)
        if choice is None:
            continue
        _, lr, rs, steps = choice
        hit = [s for s in steps if s < math.inf]
        med = float(np.median(steps))
        best[B] = {"lr": lr, "steps": None if med == math.inf else med,
                   "steps_min": min(hit) if hit else None, "steps_max": max(hit) if hit else None,
                   "reached": len(hit), "seeds": len(steps),
                   "trial_seconds_per_step": _median([r["seconds_per_step"] for r in rs]),
                   "b_simple": _median([r["b_simple"] for r in rs if r["b_simple"] is not None])}
    return best


def fit_critical_batch(best: dict) -> tuple[float | None, float | None]:
    """``(S_min, B_crit)`` of McCandlish et al.'s ``S = S_min (1 + B_crit / B)``, fitted to
    the median steps-to-target: linear in ``1/B`` (``S = S_min + E_min / B``,
    ``B_crit = E_min / S_min``), least squares on relative errors."""
    pts = [(B, v["steps"]) for B, v in best.items() if v["steps"] is not None]
    if len(pts) < 2:
        return None, None
    B = np.array([p[0] for p in pts], float)
    S = np.array([p[1] for p in pts], float)
    A = np.stack([np.ones_like(B), 1.0 / B], axis=1) / S[:, None]
    (s_min, e_min), *_ = np.linalg.lstsq(A, np.ones_like(S), rcond=None)
    if not (s_min > 0 and e_min > 0):
        return None, None
    return float(s_min), float(e_min / s_min)


def bench_step_seconds(config: dict, data: dict, batch_sizes, min_time: float = 0.01,
                       rounds: int = 5) -> dict:
    """Seconds per training step of the study's model at each batch size on this machine:
    the step ``minimlp bench`` times (``bench.minimlp_step``: the hot path, one BLAS
    thread), timed in CPU seconds of this process (``time.process_time``), the fastest of
    ``rounds`` blocks of at least ``min_time``. CPU time is the step's time on a free core;
    on a shared machine the wall time also counts the neighbours' turns."""
    from threadpoolctl import threadpool_limits
    from .bench import minimlp_step
    from .config import build_model, get_loss
    out = {}
    X, T = data["X"], data["T"]
    clock = time.process_time
    with threadpool_limits(limits=1):
        for B in batch_sizes:
            model = build_model(config["model"], X.shape[1], data["out_features"])
            n = min(B, X.shape[0])
            loss = get_loss(data["loss"])
            xb = X[:n].astype(model.dtype)
            tb = loss.check_targets(T[:n], (n, data["out_features"]), model.dtype)
            step = minimlp_step(model, loss, xb, tb)
            number, best = 1, math.inf
            for r in range(rounds + 1):
                while True:
                    t0 = clock()
                    for _ in range(number):
                        step()
                    dt = clock() - t0
                    if dt >= min_time or number >= 1 << 16:
                        break
                    number *= 2
                if r:   # the first round warms up
                    best = min(best, dt / number)
            out[B] = best
    return out


def summarize(rows, target, batch_sizes, out, *, config=None, data=None, bench=True,
              plots=True, say=print) -> StudyResult:
    """Best rates, the fitted and predicted critical batch size, seconds to target here;
    writes ``summary.md`` and the plots into ``out``."""
    target = parse_target(target)
    best = best_rates(rows, batch_sizes)
    s_min, b_crit = fit_critical_batch(best)
    noise = [v["b_simple"] for v in best.values() if v["b_simple"] is not None]
    b_simple = float(np.median(noise)) if noise else None
    step_s = bench_step_seconds(config, data, list(best)) if bench and config is not None and best else {}
    for B, v in best.items():
        v["seconds_per_step"] = step_s.get(B, v["trial_seconds_per_step"])
        v["seconds"] = None if v["steps"] is None or v["seconds_per_step"] is None else v["steps"] * v["seconds_per_step"]
    timed = [(v["seconds"], B) for B, v in best.items() if v["seconds"] is not None]
    fastest = min(timed)[1] if timed else None
    paths = []
    os.makedirs(out, exist_ok=True)
    md = os.path.join(out, "summary.md")
    with open(md, "w", encoding="utf-8") as f:
        f.write(summary_markdown(best, target, s_min, b_crit, b_simple, fastest, bool(step_s)))
    paths.append(md)
    if plots and any(v["steps"] is not None for v in best.values()):
        paths += plot_study(best, target, s_min, b_crit, b_simple, out)
    for line in summary_markdown(best, target, s_min, b_crit, b_simple, fastest, bool(step_s)).splitlines():
        if line.startswith(("- ", "|")):
            say(line)
    for p in [os.path.join(out, "trials.csv")] + paths:
        say(f"wrote {p}")
    return StudyResult(rows, best, target, s_min, b_crit, b_simple, fastest, paths)


def _g(v, fmt="{:.4g}"):
    return "-" if v is None else fmt.format(v)


def summary_markdown(best, target, s_min, b_crit, b_simple, fastest, benched) -> str:
    lines = [f"# Batch-size study: steps to {target}", "",
             "| batch size | best lr | steps to target (median) | min | max | seeds reached | "
             "s/step | seconds to target |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for B, v in best.items():
        lines.append(f"| {B} | {v['lr']:.4g} | {_g(v['steps'], '{:.0f}')} | {_g(v['steps_min'])} | "
                     f"{_g(v['steps_max'])} | {v['reached']}/{v['seeds']} | "
                     f"{_g(v['seconds_per_step'], '{:.3g}')} | {_g(v['seconds'], '{:.3g}')} |")
    lines.append("")
    how = ("the step time of `minimlp bench`'s step measured here (one BLAS thread, CPU "
           "seconds, fastest of 5 rounds)" if benched else "the trials' own step time")
    lines.append(f"- seconds to target: median steps x {how}")
    if b_crit is not None:
        lines.append(f"- measured critical batch size (fit S = S_min (1 + B_crit/B)): "
                     f"B_crit = {b_crit:.3g}, S_min = {s_min:.3g} steps")
    lines.append(f"- noise-scale prediction (B_simple where the best trials stopped, median): "
                 f"{_g(b_simple, '{:.3g}')}")
    lines.append(f"- fastest batch size here: {fastest if fastest is not None else '- (none reached the target)'}")
    return "\n".join(lines) + "\n"


def plot_study(best, target, s_min, b_crit, b_simple, out) -> list[str]:
    """``steps_to_target.png`` (log-log, perfect scaling, seed spread, B_crit and B_simple)
    and ``seconds_to_target.png``; returns their paths."""
    from .plot import pyplot
    plt = pyplot()
    Bs = [B for B, v in best.items() if v["steps"] is not None]
    S = np.array([best[B]["steps"] for B in Bs], float)
    lo = S - np.array([best[B]["steps_min"] for B in Bs], float)
    hi = np.array([best[B]["steps_max"] for B in Bs], float) - S
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.errorbar(Bs, S, yerr=[lo, hi], fmt="o-", capsize=3, label="median over seeds (bars: min-max)")
    grid = np.geomspace(min(Bs), max(best), 50)
    ax.plot(grid, S[0] * Bs[0] / grid, "k--", lw=1, label="perfect scaling")
    if b_crit is not None:
        ax.plot(grid, s_min * (1 + b_crit / grid), ":", color="C2",
                label=f"fit S_min(1 + B_crit/B), B_crit = {b_crit:.3g}")
        ax.axvline(b_crit, color="C2", lw=0.8)
    if b_simple is not None:
        ax.axvline(b_simple, color="C3", lw=1.2, ls="-.", label=f"noise scale B_simple = {b_simple:.3g}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel(f"steps to {target}")
    ax.legend(fontsize=8)
    ax.set_title("steps to target")
    fig.tight_layout()
    paths = [os.path.join(out, "steps_to_target.png")]
    fig.savefig(paths[0], dpi=100)
    plt.close(fig)
    timed = [(B, best[B]["seconds"]) for B in Bs if best[B].get("seconds") is not None]
    if timed:
        fig, ax = plt.subplots(figsize=(6, 4.2))
        ax.plot([t[0] for t in timed], [t[1] for t in timed], "o-", color="C1")
        B_best, s_best = min(timed, key=lambda t: t[1])
        ax.plot([B_best], [s_best], "*", ms=14, color="C3", label=f"fastest: batch {B_best}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("seconds to target (this machine)")
        ax.set_title("seconds to target: steps x seconds per step")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(os.path.join(out, "seconds_to_target.png"))
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths
