"""minimlp: a small, vectorized multi-layer-perceptron framework on numpy.

Layers, losses and optimizers compose in a ``Sequential``; one training step is a batched
forward pass, a loss, a batched backward pass and an in-place parameter update::

    import minimlp as mm
    net = mm.Sequential(mm.Dense(2, 2), mm.Sigmoid(), mm.Dense(2, 2), mm.Sigmoid())
    loss = mm.MSELoss()
    opt = mm.SGD(net.parameters(), lr=0.5)
    value = loss.forward(net.forward(X), T)
    net.backward(loss.backward())
    opt.step()
"""
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .gradcheck import GradcheckResult, gradcheck
from .io import load, save
from .layer import Layer, Parameter
from .layers import Dense
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .optim import SGD, Adam, Optimizer
from .sequential import Sequential

__version__ = "0.1.0"

__all__ = [
    "Layer", "Parameter", "Sequential",
    "Dense",
    "Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softmax",
    "Loss", "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss",
    "Optimizer", "SGD", "Adam",
    "gradcheck", "GradcheckResult",
    "save", "load",
    "__version__",
]
