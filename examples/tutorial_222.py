"""The tutorial notebook's 2-2-2 sigmoid network, trained as the notebook meant to.

    python examples/tutorial_222.py [--epochs N] [--out DIR]

Inputs x = [0.15, 0.85], targets y = [0.95, 0.25], the notebook's weights, biases b1 = 0.35
and b2 = 0.60 frozen (the notebook never updates them), SGD with learning rate 0.5 for 500
epochs of one sample, and E = 1/2 sum (t - o)^2 (equal to MSELoss for one sample with two
outputs). Prints the loss on the way, then the outputs and the loss after training (the
numbers tests/golden holds: E = 0.00016174519813361927 after 500 epochs), and writes
DIR/tutorial_222.png, a diagram of the trained network.
"""
import argparse
import os

import minimlp as mm
from minimlp.plot import plot_network
from minimlp.tutorial import tutorial_network, weight_parameters


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("MINIMLP_EPOCHS", 500)))
    parser.add_argument("--out", default="minimlp-out/examples")
    args = parser.parse_args(argv)

    net, X, T = tutorial_network("notebook")      # Dense(2,2) Sigmoid Dense(2,2) Sigmoid
    loss = mm.MSELoss()
    opt = mm.SGD(weight_parameters(net), lr=0.5)   # the weights only: biases stay frozen
    print(f"before training: outputs {net.predict(X)[0]}, E = {loss.forward(net.predict(X), T):.12f}")
    for epoch in range(1, args.epochs + 1):
        loss.forward(net.forward(X), T)            # forward pass and loss
        net.backward(loss.backward())              # backward pass: every weight's gradient
        opt.step()                                 # W -= 0.5 * dE/dW
        if epoch % 100 == 0:
            print(f"epoch {epoch:4d}: E = {loss.forward(net.predict(X), T):.12g}")
    out = net.predict(X)
    E = loss.forward(out, T)
    print(f"Output after {args.epochs} epochs of training: {out[0].tolist()}")
    print(f"target: {T[0].tolist()}")
    print(f"E = 1/2 sum (t - o)^2 = {E!r}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "tutorial_222.png")
    plot_network(net, path, title=f"The notebook's network after {args.epochs} epochs")
    print(f"wrote {path}")
    return out, E


if __name__ == "__main__":
    main()
