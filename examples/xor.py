"""XOR: the smallest problem a single-layer net cannot solve; a 2-8-1 tanh net learns it.

    python examples/xor.py [--epochs N] [--out DIR]

Prints the final accuracy and writes DIR/xor.png (the decision boundary).
"""
import argparse
import os

import minimlp as mm
from minimlp.datasets import xor
from minimlp.plot import plot_decision_boundary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("MINIMLP_EPOCHS", 200)))
    parser.add_argument("--out", default="minimlp-out/examples")
    args = parser.parse_args(argv)

    X, y = xor(n=200, noise=0.1, seed=0)
    net = mm.Sequential(mm.Dense(2, 8, rng=0), mm.Tanh(), mm.Dense(8, 1, rng=1))
    T = y.reshape(-1, 1).astype(float)               # one logit per sample: 0/1 targets (N, 1)
    history = net.fit(X, T, loss=mm.BCEWithLogitsLoss(), optimizer=mm.Adam(net.parameters(), lr=0.05),
                      epochs=args.epochs, batch_size=32, metrics=["accuracy"], seed=0, verbose=0)
    print(f"xor: {args.epochs} epochs, loss {history['loss'][-1]:.4f}, "
          f"accuracy {history['accuracy'][-1]:.3f}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "xor.png")
    plot_decision_boundary(net, X, y, path)
    print(f"wrote {path}")
    return history


if __name__ == "__main__":
    main()
