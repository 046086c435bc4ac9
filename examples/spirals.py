"""Three interleaved spirals: a 2-64-64-3 ReLU net with cross-entropy and Adam.

    python examples/spirals.py [--epochs N] [--out DIR]

Prints the final training and validation accuracy and writes DIR/spirals_history.png and
DIR/spirals_boundary.png. (``minimlp train --config examples/spirals.toml`` is the same run
from the command line.)
"""
import argparse
import os

import minimlp as mm
from minimlp.datasets import spirals
from minimlp.plot import plot_decision_boundary, plot_history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("MINIMLP_EPOCHS", 300)))
    parser.add_argument("--out", default="minimlp-out/examples")
    args = parser.parse_args(argv)

    X, y = spirals(n=900, classes=3, noise=0.04, turns=1.0, seed=0)
    rng = mm.init.as_generator(0)
    net = mm.Sequential(mm.Dense(2, 64, init="he_uniform", rng=rng), mm.ReLU(),
                        mm.Dense(64, 64, init="he_uniform", rng=rng), mm.ReLU(),
                        mm.Dense(64, 3, init="he_uniform", rng=rng))
    history = net.fit(X, y, loss=mm.CrossEntropyLoss(), optimizer=mm.Adam(net.parameters(), lr=0.005),
                      epochs=args.epochs, batch_size=32, validation_split=0.2,
                      metrics=["accuracy"], seed=0, verbose=0)
    print(f"spirals: {args.epochs} epochs, accuracy {history['accuracy'][-1]:.3f}, "
          f"validation accuracy {history['val_accuracy'][-1]:.3f}")
    os.makedirs(args.out, exist_ok=True)
    for name, draw in [("spirals_history.png", lambda p: plot_history(history, p)),
                       ("spirals_boundary.png", lambda p: plot_decision_boundary(net, X, y, p))]:
        draw(os.path.join(args.out, name))
        print(f"wrote {os.path.join(args.out, name)}")
    return history


if __name__ == "__main__":
    main()
