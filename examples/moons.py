"""Two moons: a 2-32-32-2 ReLU net trained with SGD and Nesterov momentum.

    python examples/moons.py [--epochs N] [--out DIR]

Prints the accuracy on held-out points and writes DIR/moons.png (the decision boundary).
"""
import argparse
import os

import minimlp as mm
from minimlp.datasets import moons, train_test_split
from minimlp.plot import plot_decision_boundary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("MINIMLP_EPOCHS", 100)))
    parser.add_argument("--out", default="minimlp-out/examples")
    args = parser.parse_args(argv)

    X, y = moons(n=400, noise=0.15, seed=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    rng = mm.init.as_generator(0)
    net = mm.Sequential(mm.Dense(2, 32, init="he_uniform", rng=rng), mm.ReLU(),
                        mm.Dense(32, 32, init="he_uniform", rng=rng), mm.ReLU(),
                        mm.Dense(32, 2, rng=rng))
    opt = mm.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    net.fit(X_train, y_train, loss=mm.CrossEntropyLoss(), optimizer=opt, epochs=args.epochs,
            batch_size=16, seed=0, verbose=0)
    test = net.evaluate(X_test, y_test, loss=mm.CrossEntropyLoss(), metrics=["accuracy"])
    print(f"moons: {args.epochs} epochs, test loss {test['loss']:.4f}, "
          f"test accuracy {test['accuracy']:.3f}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "moons.png")
    plot_decision_boundary(net, X_test, y_test, path)
    print(f"wrote {path}")
    return test


if __name__ == "__main__":
    main()
