"""Regression: fit y = sin(x) plus noise with a 1-32-32-1 tanh net and MSE.

    python examples/sine.py [--epochs N] [--out DIR]

Prints the mean squared and absolute error on held-out points and writes DIR/sine.png.
"""
import argparse
import os

import minimlp as mm
from minimlp.datasets import sine, train_test_split
from minimlp.plot import plot_regression


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("MINIMLP_EPOCHS", 500)))
    parser.add_argument("--out", default="minimlp-out/examples")
    args = parser.parse_args(argv)

    X, Y = sine(n=400, noise=0.1, seed=0)                  # X (400, 1), Y (400, 1)
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.25, seed=0)
    rng = mm.init.as_generator(0)
    net = mm.Sequential(mm.Dense(1, 32, rng=rng), mm.Tanh(), mm.Dense(32, 32, rng=rng), mm.Tanh(),
                        mm.Dense(32, 1, rng=rng))
    net.fit(X_train, Y_train, loss=mm.MSELoss(), optimizer=mm.Adam(net.parameters(), lr=0.01),
            epochs=args.epochs, batch_size=32, seed=0, verbose=0)
    test = net.evaluate(X_test, Y_test, loss=mm.MSELoss(), metrics=["mae"])
    print(f"sine: {args.epochs} epochs, test MSE {test['loss']:.4f}, test MAE {test['mae']:.4f} "
          "(the noise alone gives MSE 0.01)")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "sine.png")
    plot_regression(net, X_test, Y_test, path)
    print(f"wrote {path}")
    return test


if __name__ == "__main__":
    main()
