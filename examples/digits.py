"""Handwritten digits (8x8 pixels, scikit-learn's bundled set): a 64-128-64-10 ReLU net.

    pip install "minimlp[digits]"      # scikit-learn, for the data
    python examples/digits.py [--epochs N] [--out DIR]

Prints the test accuracy and writes DIR/digits_history.png. Without scikit-learn it says it
is skipped, names the extra to install, and exits with status 0 (nothing failed).
"""
import argparse
import os
import sys

import minimlp as mm
from minimlp.datasets import load_digits, train_test_split
from minimlp.plot import plot_history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("MINIMLP_EPOCHS", 30)))
    parser.add_argument("--out", default="minimlp-out/examples")
    args = parser.parse_args(argv)

    try:
        X, y = load_digits()                                # X (1797, 64) in [0, 1], y (1797,)
    except ImportError:
        print('digits example skipped: it needs scikit-learn for the data; '
              'pip install "minimlp[digits]" to run it', file=sys.stderr)
        return 0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    rng = mm.init.as_generator(0)
    net = mm.Sequential(mm.Dense(64, 128, init="he_uniform", rng=rng), mm.ReLU(),
                        mm.Dense(128, 64, init="he_uniform", rng=rng), mm.ReLU(),
                        mm.Dense(64, 10, rng=rng))
    history = net.fit(X_train, y_train, loss=mm.CrossEntropyLoss(),
                      optimizer=mm.Adam(net.parameters(), lr=0.002), epochs=args.epochs,
                      batch_size=32, validation_data=(X_test, y_test), metrics=["accuracy"],
                      seed=0, verbose=0)
    print(f"digits: {args.epochs} epochs, test accuracy {history['val_accuracy'][-1]:.3f}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "digits_history.png")
    plot_history(history, path, title="Digits: 64-128-64-10 ReLU, Adam")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
