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
from .activations import (ELU, GELU, Identity, LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid, SiLU,
                          Softmax,
                          Softplus, Tanh)
from .dropout import Dropout
from .gradcheck import GradcheckResult, gradcheck
from .io import load, save
from .layer import Layer, Parameter
from .layers import Dense
from .losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, Loss, MSELoss,
                     NLLLoss, PoissonNLLLoss, SmoothL1Loss)
from .normalization import BatchNorm1d, LayerNorm
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm, clip_grad_value
from .sequential import Sequential
from . import callbacks, datasets, metrics, objective
from .callbacks import Callback, EarlyStopping
from .checkpoint import ModelCheckpoint
from .step import TrainStep, TrainingDiverged
from .history import History
from .training import evaluate, fit, predict_classes, predict_proba
from .weighting import SampleWeighted
from .schedules import (CosineAnnealingLR, CosineAnnealingWarmRestarts, ExponentialLR, LinearLR,
                        LRScheduler, OneCycleLR, ReduceLROnPlateau, SequentialLR, StepLR)
from .health import HealthMonitor
from .data import Batches, batches
from .interop import export_onnx, from_sklearn, from_torch, to_torch
from . import explain, plot   # plot imports matplotlib only when it draws
from .noise import GradientNoiseScale, per_example_grad_norms, plot_noise_scale
from . import noise, study

__version__ = "0.1.0"

__all__ = [
    "Layer", "Parameter", "Sequential",
    "Dense",
    "Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softmax", "LogSoftmax",
    "GELU", "ELU", "Softplus", "SiLU", "PReLU", "Dropout", "BatchNorm1d", "LayerNorm",
    "Loss", "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss", "L1Loss", "HuberLoss", "BCELoss",
    "SmoothL1Loss", "NLLLoss", "PoissonNLLLoss", "SampleWeighted",
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "clip_grad_norm", "clip_grad_value",
    "gradcheck", "GradcheckResult",
    "save", "load",
    "TrainStep", "fit", "evaluate",
    "History", "TrainingDiverged", "predict_classes", "predict_proba",
    "Callback", "EarlyStopping", "ModelCheckpoint", "callbacks", "datasets", "metrics", "objective",
    "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau",
    "LinearLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "SequentialLR",
    "HealthMonitor",
    "batches", "Batches", "explain", "plot",
    "to_torch", "from_torch", "from_sklearn", "export_onnx",
    "GradientNoiseScale", "per_example_grad_norms", "plot_noise_scale", "noise", "study",
    "__version__",
]
