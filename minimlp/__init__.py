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
from .activations import ELU, GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .dropout import Dropout
from .gradcheck import GradcheckResult, gradcheck
from .io import load, save
from .layer import Layer, Parameter
from .layers import Dense
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, Loss, MSELoss
from .normalization import BatchNorm1d, LayerNorm
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm
from .sequential import Sequential
from . import callbacks, datasets, metrics
from .callbacks import Callback, EarlyStopping, ModelCheckpoint
from .training import History, TrainingDiverged, predict_classes, predict_proba
from .schedules import CosineAnnealingLR, ExponentialLR, LRScheduler, ReduceLROnPlateau, StepLR
from .health import HealthMonitor
from .noise import GradientNoiseScale, per_example_grad_norms, plot_noise_scale
from . import noise, study

__version__ = "0.1.0"

__all__ = [
    "Layer", "Parameter", "Sequential",
    "Dense",
    "Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softmax",
    "GELU", "ELU", "Softplus", "Dropout", "BatchNorm1d", "LayerNorm",
    "Loss", "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss", "L1Loss", "HuberLoss", "BCELoss",
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "clip_grad_norm",
    "gradcheck", "GradcheckResult",
    "save", "load",
    "History", "TrainingDiverged", "predict_classes", "predict_proba",
    "Callback", "EarlyStopping", "ModelCheckpoint", "callbacks", "datasets", "metrics",
    "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau",
    "HealthMonitor",
    "GradientNoiseScale", "per_example_grad_norms", "plot_noise_scale", "noise", "study",
    "__version__",
]
