"""MNIST-1D with an MLP: reproduce the paper's figure (Greydanus 2020: MLP about 68% test).

The recipe of the mnist1d repository's training code (notebooks/train.py): a 40-256-256-10
ReLU MLP with PyTorch's default initialization, Adam at lr 1e-2 (no weight decay), batches
of 100 taken in order (no shuffling), 8000 steps, cross-entropy; accuracy on the 1000 test
signals at the end. The data come from ``mm.datasets.mnist1d()`` (the paper's data set,
generated locally). Run::

    python examples/mnist1d_mlp.py            # 5 seeds, about 20 s each on a free core
    python examples/mnist1d_mlp.py --seeds 1 --steps 2000
    python examples/mnist1d_mlp.py --seeds 0 --noise-plot noise.png   # B_simple over training
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import minimlp as mm


def build(seed: int, dtype=np.float32) -> mm.Sequential:
    """40-256-256-10 ReLU MLP, initialized as torch.nn.Linear does."""
    rng = np.random.default_rng(seed)
    return mm.Sequential(
        mm.Dense(40, 256, init="pytorch", rng=rng, dtype=dtype), mm.ReLU(),
        mm.Dense(256, 256, init="pytorch", rng=rng, dtype=dtype), mm.ReLU(),
        mm.Dense(256, 10, init="pytorch", rng=rng, dtype=dtype))


def train_one(seed: int, steps: int = 8000, batch_size: int = 100, lr: float = 1e-2,
              data=None, callbacks=()) -> dict:
    """Train one seed with the recipe; returns test and train accuracy and the seconds."""
    X, Y, X_test, Y_test = data if data is not None else load()
    from threadpoolctl import threadpool_limits
    net = build(seed)
    per_epoch = -(-X.shape[0] // batch_size)
    if steps % per_epoch:
        raise ValueError(f"steps must be a multiple of {per_epoch} (batches per epoch)")
    t0 = time.perf_counter()
    # One BLAS thread: these matrices are small, and on a busy machine BLAS threads that
    # wait for each other make a step hundreds of times slower (measured here).
    with threadpool_limits(limits=1):
        net.fit(X, Y, loss=mm.CrossEntropyLoss(), optimizer=mm.Adam(net.parameters(), lr=lr),
                epochs=steps // per_epoch, batch_size=batch_size, shuffle=False, verbose=0,
                seed=seed, callbacks=list(callbacks))
    seconds = time.perf_counter() - t0
    acc = lambda A, B: float(np.mean(mm.predict_classes(net, A) == B))
    return {"seed": seed, "test_accuracy": acc(X_test, Y_test), "train_accuracy": acc(X, Y),
            "seconds": seconds}


def load():
    X, Y = mm.datasets.mnist1d("train")
    X_test, Y_test = mm.datasets.mnist1d("test")
    return X.astype(np.float32), Y, X_test.astype(np.float32), Y_test


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--noise-plot", metavar="PNG", default=None,
                   help="also track the gradient noise scale of seed 0 and plot it there")
    args = p.parse_args(argv)
    data = load()
    if args.noise_plot:
        gns = mm.GradientNoiseScale(data[0], data[1], every=20, batch_size=1000, seed=0)
        r = train_one(0, args.steps, data=data, callbacks=[gns])
        mm.plot_noise_scale(gns, args.noise_plot)
        print(f"seed 0 with the noise scale: test accuracy {r['test_accuracy']:.1%}; B_simple "
              f"{gns.b_simple[len(gns.b_simple) // 8]:.0f} at step {gns.steps[len(gns.steps) // 8]}, "
              f"{gns.b_simple[-1]:.0f} at the end; wrote {args.noise_plot}")
    rows = []
    for seed in range(args.seeds):
        r = train_one(seed, args.steps, data=data)
        rows.append(r)
        print(f"seed {seed}: test accuracy {r['test_accuracy']:.1%}, train {r['train_accuracy']:.1%}, "
              f"{r['seconds']:.0f} s")
    accs = [r["test_accuracy"] for r in rows]
    if not accs:
        return rows
    spread = f" +- {statistics.stdev(accs):.1%} (min {min(accs):.1%}, max {max(accs):.1%})" if len(accs) > 1 else ""
    print(f"MLP on MNIST-1D, {args.steps} steps: test accuracy {statistics.mean(accs):.1%}{spread} "
          f"over {len(accs)} seed(s); the paper: about 68%")
    return rows


if __name__ == "__main__":
    main()
