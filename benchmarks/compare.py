"""minimlp against its GEMM floor, a tight numpy step, PyTorch, JAX and scikit-learn.

    python benchmarks/compare.py                    # all rows, 1 thread, ~1 minute
    python benchmarks/compare.py --quick            # fewer rounds, for a smoke test
    python benchmarks/compare.py --only small --json results.json

Every row times its candidates in interleaved rounds (one block of each per round, the
first round discarded) and reports medians; ratios compare medians from the same run.
BLAS threads are pinned with threadpoolctl (and PyTorch's with ``torch.set_num_threads``),
1 thread unless ``--threads`` says otherwise. PyTorch, JAX and scikit-learn are optional:
their columns are empty when they are not installed (``pip install minimlp[bench]``,
``pip install jax``).

minimlp is timed two ways: ``minimlp`` is ``TrainStep`` (what ``fit`` runs), ``plain`` the
README's hand-written loop through the public, checked API with ``input_grad=False``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from minimlp import bench  # noqa: E402
from tight_numpy import TightStep  # noqa: E402

LR = 0.01


@dataclass
class StepCase:
    """One training step of a Dense stack on a fixed batch."""
    name: str
    widths: tuple
    activation: str
    loss: str
    batch: int
    dtype: type
    group: str  # "small" or "large": which targets apply


STEP_CASES = [
    StepCase("2-2-2 sigmoid MSE, batch 1, f64", (2, 2, 2), "sigmoid", "mse", 1, np.float64, "small"),
    StepCase("64-128-64-10 ReLU CE, batch 32, f64", (64, 128, 64, 10), "relu", "ce", 32, np.float64, "small"),
    StepCase("784-512-512-10 ReLU CE, batch 128, f32", (784, 512, 512, 10), "relu", "ce", 128, np.float32, "large"),
    StepCase("784-512-512-10 ReLU CE, batch 512, f32", (784, 512, 512, 10), "relu", "ce", 512, np.float32, "large"),
    StepCase("1024-1024-1024-1024 ReLU MSE, batch 256, f32", (1024,) * 4, "relu", "mse", 256, np.float32, "large"),
]
EPOCH_BATCHES = (32, 128)


# -- optional competitors ------------------------------------------------------------------
def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return None
    return sklearn


def torch_step(case: StepCase, X, T, threads: int):
    """The same step in PyTorch: nn.Sequential, its loss, backward, optim.SGD."""
    torch = _torch()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[case.activation]
    layers = []
    w = case.widths
    for i, (a, b) in enumerate(zip(w[:-1], w[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(w) - 2 or (case.loss == "mse" and case.activation == "sigmoid"):
            layers.append(act())
    dtype = torch.float64 if case.dtype == np.float64 else torch.float32
    model = nn.Sequential(*layers).to(dtype)
    loss_fn = nn.CrossEntropyLoss() if case.loss == "ce" else nn.MSELoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    if case.loss == "ce":
        Tt = Tt.long()

    def step():
        opt.zero_grad()
        loss_fn(model(Xt), Tt).backward()
        opt.step()

    return step


def _jax():
    try:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
    except ImportError:
        return None
    return jax


def jax_step(widths, activation, loss, X, T, lr=LR):
    """One SGD step as a single ``jax.jit`` function (parameters in, parameters out), on the
    CPU; inputs are put on the device once. ``step()`` blocks until the result is ready."""
    jax = _jax()
    update, params = _jax_update(widths, activation, loss, X.dtype, lr)
    Xd, Td = jax.device_put(X), jax.device_put(T)
    state = {"params": params}

    def step():
        value, state["params"] = update(state["params"], Xd, Td)
        value.block_until_ready()

    step()   # compile
    return step


def plain_step(net, loss, X, T, lr=LR):
    """The README's loop: ``loss.forward(net.forward(X), T)``, ``net.backward(...,
    input_grad=False)``, ``opt.step()``, every call checked."""
    import minimlp as mm
    opt = mm.SGD(net.parameters(), lr=lr)

    def step():
        loss.forward(net.forward(X), T)
        net.backward(loss.backward(), input_grad=False)
        opt.step()

    return step


def sklearn_step(case: StepCase, X, T):
    """scikit-learn's MLP doing one ``partial_fit`` on the batch (one SGD step, plus its
    per-call input validation). Its regressor's output layer is linear, whatever the case."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    kind = MLPClassifier if case.loss == "ce" else MLPRegressor
    act = {"relu": "relu", "sigmoid": "logistic", "tanh": "tanh"}[case.activation]
    model = kind(hidden_layer_sizes=case.widths[1:-1], activation=act, solver="sgd",
                 batch_size=case.batch, learning_rate_init=LR, momentum=0.0,
                 nesterovs_momentum=False, alpha=0.0, shuffle=False, random_state=0)
    if case.loss == "ce":
        classes = np.arange(case.widths[-1])
        model.partial_fit(X, T, classes=classes)
    else:
        model.partial_fit(X, T)
    return lambda: model.partial_fit(X, T)


# -- rows --------------------------------------------------------------------------------
def step_row(case: StepCase, threads: int, repeats: int, min_time: float) -> dict:
    dtype = np.dtype(case.dtype)
    net, loss = bench.build_model(case.widths, case.activation, case.loss, dtype, seed=0)
    X, T = bench.make_data(case.widths, case.batch, case.loss, dtype, seed=1)
    net2, loss2 = bench.build_model(case.widths, case.activation, case.loss, dtype, seed=0)
    cands = {"minimlp": bench.minimlp_step(net, loss, X, T, LR),
             "plain": plain_step(net2, loss2, X, T, LR),
             "floor": bench.gemm_floor(case.widths, case.batch, dtype),
             "tight": TightStep(case.widths, case.activation, case.loss, X, T, LR).step}
    if _torch() is not None:
        cands["torch"] = torch_step(case, X, T, threads)
    if _jax() is not None and case.group == "small":
        cands["jax"] = jax_step(case.widths, case.activation, case.loss, X, T)
    if _sklearn() is not None:
        cands["sklearn"] = sklearn_step(case, X, T)
    times = bench.time_interleaved(cands, repeats=repeats, warmup=1, min_time=min_time)
    med = {k: bench.median(v) for k, v in times.items()}
    return {"name": case.name, "kind": "step", "group": case.group, "batch": case.batch,
            "us": {k: v * 1e6 for k, v in med.items()}, "rounds": len(times["minimlp"]),
            "spread": {k: (max(v) - min(v)) / bench.median(v) for k, v in times.items()}}


def digits_data():
    """The digits data (1797 x 64) from scikit-learn, or random data of its shape."""
    try:
        from sklearn.datasets import load_digits
        d = load_digits()
        return d.data / 16.0, d.target.astype(np.intp), "sklearn load_digits"
    except ImportError:
        rng = np.random.default_rng(0)
        return rng.uniform(0, 1, (1797, 64)), rng.integers(0, 10, 1797), "random (1797 x 64)"


def epoch_row(batch: int, repeats: int) -> dict:
    import minimlp as mm

    X, y, source = digits_data()
    net = mm.Sequential(mm.Dense(64, 128, init="he_uniform", rng=0), mm.ReLU(),
                        mm.Dense(128, 64, init="he_uniform", rng=1), mm.ReLU(),
                        mm.Dense(64, 10, rng=2))
    loss, opt = mm.CrossEntropyLoss(), mm.SGD(net.parameters(), lr=LR)
    cands = {"minimlp": lambda: net.fit(X, y, loss=loss, optimizer=opt, epochs=1,
                                        batch_size=batch, shuffle=True, seed=0, verbose=0)}
    if _sklearn() is not None:
        from sklearn.neural_network import MLPClassifier
        clf = MLPClassifier(hidden_layer_sizes=(128, 64), activation="relu", solver="sgd",
                            batch_size=batch, learning_rate_init=LR, momentum=0.0,
                            nesterovs_momentum=False, alpha=0.0, shuffle=True, random_state=0)
        clf.partial_fit(X, y, classes=np.arange(10))
        cands["sklearn"] = lambda: clf.partial_fit(X, y)   # one epoch over X in mini-batches
    if _jax() is not None:
        cands["jax"] = jax_epoch(X, y, batch)
    times = bench.time_interleaved(cands, repeats=repeats, warmup=1, min_time=0.0)
    med = {k: bench.median(v) for k, v in times.items()}
    return {"name": f"fit 1 epoch, digits 1797x64, hidden (128, 64), batch {batch}, f64",
            "kind": "epoch", "group": "epoch", "batch": batch, "data": source,
            "us": {k: v * 1e6 for k, v in med.items()}, "rounds": len(times["minimlp"]),
            "spread": {k: (max(v) - min(v)) / bench.median(v) for k, v in times.items()}}


def jax_epoch(X, y, batch: int):
    """An epoch of jitted SGD steps over shuffled batches of the digits data (the
    permutation drawn with numpy, each batch gathered on the device)."""
    jax = _jax()
    N = X.shape[0]
    rng = np.random.default_rng(0)
    bounds = [(s, min(s + batch, N)) for s in range(0, N, batch)]
    update, params = _jax_update((64, 128, 64, 10), "relu", "ce", X.dtype)
    Xd, yd = jax.device_put(X), jax.device_put(y)
    state = {"params": params}

    def epoch():
        perm = rng.permutation(N)
        for s, e in bounds:
            idx = perm[s:e]
            value, state["params"] = update(state["params"], Xd[idx], yd[idx])
        value.block_until_ready()

    epoch()   # compile, for the full and the last batch shape
    return epoch


def _jax_update(widths, activation, loss, dtype, lr=LR):
    """A jitted ``update(params, X, T) -> (loss, params)`` and the initial parameters."""
    jax = _jax()
    jnp = jax.numpy
    if dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    params = [(jnp.asarray((rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b))).astype(dtype)),
               jnp.zeros(b, dtype)) for a, b in zip(widths[:-1], widths[1:])]
    act = {"relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh}[activation]
    last_act = loss == "mse" and activation == "sigmoid"

    def objective(params, X, T):
        A = X
        for i, (W, b) in enumerate(params):
            A = A @ W + b
            if i < len(params) - 1 or last_act:
                A = act(A)
        if loss == "ce":
            logp = jax.nn.log_softmax(A, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, T[:, None], axis=1))
        return jnp.mean((A - T) ** 2)

    @jax.jit
    def update(params, X, T):
        value, grads = jax.value_and_grad(objective)(params, X, T)
        return value, jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

    return update, params


# -- targets and the table ------------------------------------------------------------------
def targets(row: dict) -> list[tuple[str, float, float, bool]]:
    """(target, measured, bound, met) for one row: the goals of the engine issue."""
    us, name, out = row["us"], row["name"], []

    def at_most(label, a, b, bound):
        if a in us and b in us:
            r = us[a] / us[b]
            out.append((f"{label} <= {bound:g}", r, bound, r <= bound))

    def at_least(label, a, b, bound):
        if a in us and b in us:
            r = us[a] / us[b]
            out.append((f"{label} >= {bound:g}", r, bound, r >= bound))

    if row["group"] == "large":
        at_most("TrainStep / GEMM floor", "minimlp", "floor", 1.05)
        at_most("plain loop / GEMM floor", "plain", "floor", 1.10)
    if name.startswith("64-128-64-10"):
        at_most("TrainStep / tight numpy", "minimlp", "tight", 1.05)
        at_most("plain loop / tight numpy", "plain", "tight", 1.20)
    if name.startswith("2-2-2"):
        at_most("TrainStep / tight numpy (the 22-call floor)", "minimlp", "tight", 1.25)
        at_least("JAX / minimlp", "jax", "minimlp", 0.7)
    if row["group"] == "epoch":
        at_least("sklearn / minimlp", "sklearn", "minimlp", 2.5 if row["batch"] == 32 else 2.0)
        if row["batch"] == 32:
            at_least("JAX / minimlp", "jax", "minimlp", 1.0)
    return out


def _fmt_us(v):
    if v is None:
        return ""
    return f"{v / 1000:,.2f} ms" if v >= 1000 else f"{v:,.1f} us"


def markdown(rows: list[dict]) -> str:
    cols = ("minimlp", "plain", "floor", "tight", "torch", "jax", "sklearn")
    head = ("| configuration | TrainStep | plain loop | GEMM floor | tight numpy | PyTorch | JAX "
            "| scikit-learn | TrainStep / floor | plain / floor | TrainStep / tight | plain / tight "
            "| PyTorch / minimlp | JAX / minimlp | sklearn / minimlp |")
    lines = [head, "|" + "---|" * 15]
    for r in rows:
        us = r["us"]
        ratio = lambda a, b: f"{us[a] / us[b]:.2f}" if a in us and b in us else ""
        lines.append("| " + " | ".join([r["name"]] + [_fmt_us(us.get(c)) for c in cols] + [
            ratio("minimlp", "floor"), ratio("plain", "floor"), ratio("minimlp", "tight"),
            ratio("plain", "tight"), ratio("torch", "minimlp"), ratio("jax", "minimlp"),
            ratio("sklearn", "minimlp")]) + " |")
    lines += ["", "| target | configuration | measured | met |", "|---|---|---|---|"]
    for r in rows:
        for name, value, _, ok in targets(r):
            lines.append(f"| {name} | {r['name']} | {value:.2f} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines)


def environment(threads: int) -> dict:
    cpu = platform.processor()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    env = {"python": platform.python_version(), "numpy": np.__version__, "cpu": cpu,
           "cores": os.cpu_count(), "threads": threads, "blas": bench.blas_info(),
           "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    if _torch() is not None:
        env["torch"] = _torch().__version__
    if _sklearn() is not None:
        env["sklearn"] = _sklearn().__version__
    if _jax() is not None:
        env["jax"] = _jax().__version__
    return env


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS/PyTorch threads (default 1)")
    ap.add_argument("--repeats", type=int, default=9, help="timed rounds per row (default 9)")
    ap.add_argument("--min-time", type=float, default=0.02,
                    help="seconds one timed block lasts at least (default 0.02)")
    ap.add_argument("--only", choices=("small", "large", "epoch"), help="run one group of rows")
    ap.add_argument("--quick", action="store_true", help="3 rounds of short blocks")
    ap.add_argument("--json", metavar="PATH", help="write the medians and ratios as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.min_time = 3, 0.002
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(limits=args.threads):
        env = environment(args.threads)
        print(f"# {env['cpu']}, {env['cores']} cores; numpy {env['numpy']}; "
              f"{bench.blas_summary()}; threads pinned to {args.threads}", flush=True)
        for peer, found, how in (("PyTorch", _torch, 'pip install "minimlp[bench]"'),
                                 ("JAX", _jax, "pip install jax"),
                                 ("scikit-learn", _sklearn, 'pip install "minimlp[sklearn]"')):
            if found() is None:
                print(f"# {peer} is not installed: its column stays empty ({how})", flush=True)
        for case in STEP_CASES:
            if args.only in (None, case.group):
                rows.append(step_row(case, args.threads, args.repeats, args.min_time))
                print(f"  done: {case.name}", file=sys.stderr, flush=True)
        if args.only in (None, "epoch"):
            for batch in EPOCH_BATCHES:
                rows.append(epoch_row(batch, args.repeats))
                print(f"  done: epoch, batch {batch}", file=sys.stderr, flush=True)
    for r in rows:
        r["targets"] = [{"target": t, "measured": v, "bound": b, "met": ok}
                        for t, v, b, ok in targets(r)]
    print(markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "rows": rows}, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
