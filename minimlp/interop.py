"""Models that leave minimlp and come in: PyTorch, scikit-learn and ONNX.

- ``to_torch(net)`` -> ``torch.nn.Sequential``; ``from_torch(module)`` -> ``Sequential``.
- ``from_sklearn(estimator)`` -> ``Sequential`` from a fitted ``MLPClassifier``/``MLPRegressor``.
- ``export_onnx(net, path)`` writes an ONNX model that ``onnxruntime`` runs without minimlp.

The weights are copied, never shared. Layout: ``Dense.W`` is ``(in, out)`` like scikit-learn's
``coefs_``; ``torch.nn.Linear.weight`` is ``(out, in)``, so it is ``W.T``. Each needs an optional
package (``pip install "minimlp[torch]"`` or ``"minimlp[onnx]"``), imported only when called.
Supported layers: ``Dense``, the activations (Identity, Sigmoid, Tanh, ReLU, LeakyReLU,
Softmax, GELU, ELU, Softplus), ``Dropout`` (an identity at inference), ``BatchNorm1d`` (its
running statistics) and ``LayerNorm``; nested ``Sequential`` models are flattened.
"""
from __future__ import annotations

import copy
import importlib
import os

import numpy as np

from .activations import ELU, GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .dropout import Dropout
from .layers import Dense
from .normalization import BatchNorm1d, LayerNorm
from .sequential import Sequential

__all__ = ["to_torch", "from_torch", "from_sklearn", "export_onnx"]


def _require(module: str, extra: str, what: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] == module.split(".")[0]:
            raise ModuleNotFoundError(
                f"{what} needs the {module.split('.')[0]!r} package, which is not installed: "
                f'pip install "minimlp[{extra}]"', name=e.name) from None
        raise


def _flat(net) -> list:
    if not isinstance(net, Sequential):
        raise TypeError(f"expected a minimlp Sequential, got {type(net).__name__}")
    out = []
    for layer in net:
        out += _flat(layer) if isinstance(layer, Sequential) else [layer]
    return out


def _unsupported(layer, where: str):
    return TypeError(f"{where}: layer {layer!r} ({type(layer).__name__}) has no equivalent; "
                     "supported: Dense/Linear, the activations, Dropout, BatchNorm1d, LayerNorm")


# -- PyTorch ------------------------------------------------------------------------------

def to_torch(net: Sequential):
    """A ``torch.nn.Sequential`` computing the same function as ``net``, weights copied.

    ``Dense(in, out)`` becomes ``nn.Linear(in, out)`` with ``weight = W.T`` ``(out, in)`` and
    ``bias = b``; activations, ``Dropout``, ``BatchNorm1d`` (with its running statistics) and
    ``LayerNorm`` map to their ``torch.nn`` namesakes. The module has the model's dtype
    (float64 stays float64) and is in eval mode. Shape: ``(N, D_in) -> (N, D_out)``.
    """
    torch = _require("torch", "torch", "to_torch")
    nn = torch.nn
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    t = lambda a: torch.tensor(np.asarray(a), dtype=dtype)
    mods = []
    for layer in _flat(net):
        kind = type(layer)
        if kind is Dense:
            m = nn.Linear(layer.in_features, layer.out_features, bias=layer.b is not None, dtype=dtype)
            with torch.no_grad():
                m.weight.copy_(t(layer.W.T))
                if layer.b is not None:
                    m.bias.copy_(t(layer.b))
        elif kind in (Identity, Sigmoid, Tanh, ReLU):
            m = {Identity: nn.Identity, Sigmoid: nn.Sigmoid, Tanh: nn.Tanh, ReLU: nn.ReLU}[kind]()
        elif kind is LeakyReLU:
            m = nn.LeakyReLU(layer.negative_slope)
        elif kind is Softmax:
            m = nn.Softmax(dim=1)
        elif kind is GELU:
            m = nn.GELU(approximate=layer.approximate)
        elif kind is ELU:
            m = nn.ELU(layer.alpha)
        elif kind is Softplus:
            m = nn.Softplus(layer.beta, layer.threshold)
        elif kind is Dropout:
            m = nn.Dropout(layer.p)
        elif kind is BatchNorm1d:
            m = nn.BatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum,
                               affine=layer.affine, dtype=dtype)
            with torch.no_grad():
                m.running_mean.copy_(t(layer.running_mean))
                m.running_var.copy_(t(layer.running_var))
                if layer.affine:
                    m.weight.copy_(t(layer.gamma))
                    m.bias.copy_(t(layer.beta))
        elif kind is LayerNorm:
            m = nn.LayerNorm(layer.normalized_shape, eps=layer.eps,
                             elementwise_affine=layer.elementwise_affine, dtype=dtype)
            if layer.elementwise_affine:
                with torch.no_grad():
                    m.weight.copy_(t(layer.gamma))
                    m.bias.copy_(t(layer.beta))
        else:
            raise _unsupported(layer, "to_torch")
        mods.append(m)
    return nn.Sequential(*mods).eval()


def from_torch(module) -> Sequential:
    """A minimlp ``Sequential`` from a ``torch.nn.Sequential`` (or one module), weights copied.

    ``nn.Linear`` becomes ``Dense`` with ``W = weight.T``; ``nn.Identity``, ``Sigmoid``,
    ``Tanh``, ``ReLU``, ``LeakyReLU``, ``Softmax(dim=1 or -1)``, ``GELU``, ``ELU``,
    ``Softplus``, ``Dropout``, ``BatchNorm1d`` and ``LayerNorm`` (over the last axis) map to
    minimlp's; nested ``nn.Sequential`` are flattened. The model takes the dtype of the first
    parameter (float32 or float64). Any other module raises ``TypeError`` naming it.
    """
    torch = _require("torch", "torch", "from_torch")
    nn = torch.nn
    mods = _flat_torch(module, nn)
    params = [p for m in mods for p in m.parameters()]
    dtype = np.float64 if params and params[0].dtype == torch.float64 else np.float32
    if not params:
        dtype = np.float64
    a = lambda x: x.detach().cpu().numpy().astype(dtype)
    layers = []
    for m in mods:
        kind = type(m)
        if kind is nn.Linear:
            d = Dense(m.in_features, m.out_features, bias=m.bias is not None, init="zeros", dtype=dtype)
            d.W[...] = a(m.weight).T
            if m.bias is not None:
                d.b[...] = a(m.bias)
            layers.append(d)
        elif kind in (nn.Identity, nn.Sigmoid, nn.Tanh, nn.ReLU):
            layers.append({nn.Identity: Identity, nn.Sigmoid: Sigmoid, nn.Tanh: Tanh, nn.ReLU: ReLU}[kind]())
        elif kind is nn.LeakyReLU:
            layers.append(LeakyReLU(m.negative_slope))
        elif kind is nn.Softmax:
            if m.dim not in (1, -1):
                raise TypeError(f"from_torch: {m!r}: only a softmax over the features (dim=1) has an equivalent")
            layers.append(Softmax())
        elif kind is nn.GELU:
            layers.append(GELU(m.approximate))
        elif kind is nn.ELU:
            layers.append(ELU(m.alpha))
        elif kind is nn.Softplus:
            layers.append(Softplus(m.beta, m.threshold))
        elif kind is nn.Dropout:
            layers.append(Dropout(m.p))
        elif kind is nn.BatchNorm1d:
            if not m.track_running_stats:
                raise TypeError(f"from_torch: {m!r} keeps no running statistics")
            bn = BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine, dtype=dtype)
            bn.running_mean[...] = a(m.running_mean)
            bn.running_var[...] = a(m.running_var)
            if m.affine:
                bn.gamma[...] = a(m.weight)
                bn.beta[...] = a(m.bias)
            layers.append(bn)
        elif kind is nn.LayerNorm:
            if len(m.normalized_shape) != 1:
                raise TypeError(f"from_torch: {m!r}: only a LayerNorm over the last axis has an equivalent")
            ln = LayerNorm(m.normalized_shape[0], eps=m.eps, elementwise_affine=m.elementwise_affine,
                           dtype=dtype)
            if m.elementwise_affine:
                ln.gamma[...] = a(m.weight)
                if m.bias is not None:
                    ln.beta[...] = a(m.bias)
            layers.append(ln)
        else:
            raise _unsupported(m, "from_torch")
    return Sequential(*layers)


def _flat_torch(module, nn) -> list:
    if isinstance(module, nn.Sequential):
        return [m for child in module for m in _flat_torch(child, nn)]
    if not isinstance(module, nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    return [module]


# -- scikit-learn -------------------------------------------------------------------------

_SK_HIDDEN = {"identity": Identity, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU}


def from_sklearn(estimator, *, logits: bool = False) -> Sequential:
    """A minimlp ``Sequential`` from a fitted scikit-learn ``MLPClassifier``/``MLPRegressor``.

    The layers are ``Dense(coefs_[i].shape)`` with ``W = coefs_[i]`` ``(in, out)`` and
    ``b = intercepts_[i]``, the hidden ``activation`` between them and ``out_activation_`` at
    the end: ``Softmax`` (multiclass), ``Sigmoid`` (two classes: P(classes_[1]), one column)
    or none (regression), so ``net.predict(X)`` equals ``predict_proba(X)`` (multiclass), its
    second column (two classes) or ``predict(X)`` reshaped to ``(N, n_outputs_)``.
    ``logits=True`` leaves the output function out, for training on with
    ``CrossEntropyLoss``/``BCEWithLogitsLoss``. A ``minimlp.sklearn`` estimator gives a copy of
    its ``model_``. Float64.
    """
    model = getattr(estimator, "model_", None)
    if isinstance(model, Sequential):                      # minimlp.sklearn's own estimators
        return copy.deepcopy(model)
    for attr in ("coefs_", "intercepts_", "out_activation_", "activation"):
        if not hasattr(estimator, attr):
            raise TypeError(f"from_sklearn: expected a fitted sklearn MLPClassifier or MLPRegressor, "
                            f"got {type(estimator).__name__} without {attr!r} (is it fitted?)")
    if estimator.activation not in _SK_HIDDEN:
        raise ValueError(f"from_sklearn: unknown activation {estimator.activation!r}")
    layers = []
    n = len(estimator.coefs_)
    for i, (W, b) in enumerate(zip(estimator.coefs_, estimator.intercepts_)):
        W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
        d = Dense(W.shape[0], W.shape[1], init="zeros")
        d.W[...], d.b[...] = W, b
        layers.append(d)
        if i < n - 1:
            layers.append(_SK_HIDDEN[estimator.activation]())
    out = estimator.out_activation_
    if out not in ("softmax", "logistic", "identity"):
        raise ValueError(f"from_sklearn: unknown out_activation_ {out!r}")
    if not logits and out != "identity":
        layers.append(Softmax() if out == "softmax" else Sigmoid())
    return Sequential(*layers)


# -- ONNX ---------------------------------------------------------------------------------

#: The ONNX operator set the exported graphs use (LayerNormalization needs 17).
ONNX_OPSET = 17


def export_onnx(net: Sequential, path, *, opset: int = ONNX_OPSET):
    """Write ``net`` to ``path`` as an ONNX model (built with ``onnx.helper``); returns the
    ``onnx.ModelProto``.

    The graph takes input ``"X"`` of shape ``(N, D_in)`` (``N`` dynamic) in the model's dtype
    (float32 or float64) and returns ``"Y"`` ``(N, D_out)``, what ``net.predict(X)`` returns:
    ``Dense`` is ``Gemm(X, W, b)``; the activations are ONNX operators or (GELU, ELU,
    Softplus, LeakyReLU, whose ONNX kernels lack float64) short formulas of basic operators;
    ``Dropout`` is left out (inference); ``BatchNorm1d`` is ``(X - running_mean) *
    gamma / sqrt(running_var + eps) + beta``; ``LayerNorm`` is ``LayerNormalization``.
    The model is checked with ``onnx.checker`` before it is written.
    """
    onnx = _require("onnx", "onnx", "export_onnx")
    from onnx import TensorProto, helper, numpy_helper
    layers = _flat(net)
    dtype = np.dtype(net.dtype)
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    nodes, inits = [], []
    counter = iter(range(10 ** 9))

    def const(value, name):
        name = f"{name}_{next(counter)}"
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(op, inputs, **attrs):
        out = f"{op.lower()}_{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    x = "X"
    for i, layer in enumerate(layers):
        kind = type(layer)
        if kind is Dense:
            ins = [x, const(layer.W, f"W{i}")] + ([const(layer.b, f"b{i}")] if layer.b is not None else [])
            x = node("Gemm", ins)
        elif kind is Identity or kind is Dropout:
            continue
        elif kind in (Sigmoid, Tanh, ReLU):
            x = node({Sigmoid: "Sigmoid", Tanh: "Tanh", ReLU: "Relu"}[kind], [x])
        elif kind is Softmax:
            x = node("Softmax", [x], axis=1)
        elif kind is LeakyReLU:                 # max(x, 0) + slope * min(x, 0)
            zero = const(0.0, "zero")
            x = node("Add", [node("Max", [x, zero]),
                             node("Mul", [node("Min", [x, zero]), const(layer.negative_slope, "slope")])])
        elif kind is ELU:                       # x if x > 0 else alpha (e^x - 1)
            zero = const(0.0, "zero")
            neg = node("Mul", [const(layer.alpha, "alpha"),
                               node("Sub", [node("Exp", [node("Min", [x, zero])]), const(1.0, "one")])])
            x = node("Where", [node("Greater", [x, zero]), x, neg])
        elif kind is GELU:
            half = const(0.5, "half")
            if layer.approximate == "none":     # x/2 (1 + erf(x / sqrt 2))
                z = node("Mul", [x, const(1.0 / np.sqrt(2.0), "rsqrt2")])
                inner = node("Erf", [z]) if dtype == np.float32 else _erf64(z, node, const)
            else:                               # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
                cube = node("Mul", [node("Mul", [x, x]), x])
                poly = node("Add", [x, node("Mul", [cube, const(0.044715, "c")])])
                inner = node("Tanh", [node("Mul", [poly, const(np.sqrt(2.0 / np.pi), "k")])])
            x = node("Mul", [node("Mul", [x, half]), node("Add", [inner, const(1.0, "one")])])
        elif kind is Softplus:                  # x if beta x > threshold else log(1 + e^(beta x)) / beta
            bx = node("Mul", [x, const(layer.beta, "beta")])
            # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): finite at any z
            sp = node("Add", [node("Max", [bx, const(0.0, "zero")]),
                              node("Log", [node("Add", [const(1.0, "one"),
                                                        node("Exp", [node("Neg", [node("Abs", [bx])])])])])])
            x = node("Where", [node("Greater", [bx, const(layer.threshold, "thr")]), x,
                               node("Div", [sp, const(layer.beta, "beta")])])
        elif kind is BatchNorm1d:
            scale = 1.0 / np.sqrt(layer.running_var + layer.eps)
            if layer.affine:
                scale = scale * layer.gamma
            x = node("Mul", [node("Sub", [x, const(layer.running_mean, f"mean{i}")]), const(scale, f"scale{i}")])
            if layer.affine:
                x = node("Add", [x, const(layer.beta, f"beta{i}")])
        elif kind is LayerNorm:
            D = layer.normalized_shape
            g = layer.gamma if layer.elementwise_affine else np.ones(D)
            b = layer.beta if layer.elementwise_affine else np.zeros(D)
            x = node("LayerNormalization", [x, const(g, f"gamma{i}"), const(b, f"beta{i}")],
                     axis=-1, epsilon=float(layer.eps))
        else:
            raise _unsupported(layer, "export_onnx")
    nodes.append(helper.make_node("Identity", [x], ["Y"]))
    D_out = net.output_features(net.in_features) if net.in_features is not None else None
    graph = helper.make_graph(
        nodes, "minimlp", [helper.make_tensor_value_info("X", elem, ["N", net.in_features])],
        [helper.make_tensor_value_info("Y", elem, ["N", D_out])], initializer=inits)
    model = helper.make_model(graph, producer_name="minimlp",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 9)      # readable by onnxruntime releases since 1.16
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.fspath(path))
    return model


#: erf on [0, 6] as 24 pieces of degree-11 polynomials (max error 3e-15; erf(6) = 1 - 2e-17):
#: onnxruntime has no float64 Erf kernel.
_ERF_STEP, _ERF_PIECES, _ERF_DEGREE = 0.25, 24, 11


def _erf_table() -> np.ndarray:
    """Coefficients ``(pieces, degree + 1)``: on piece i, erf(step (i + (s + 1)/2)) = sum c_k s^k."""
    from scipy.special import erf
    s = np.cos(np.pi * (np.arange(64) + 0.5) / 64)           # Chebyshev nodes in [-1, 1]
    return np.array([np.polynomial.polynomial.polyfit(s, erf(_ERF_STEP * (i + (s + 1) / 2)), _ERF_DEGREE)
                     for i in range(_ERF_PIECES)])


def _erf64(z: str, node, const) -> str:
    """ONNX nodes computing erf(z) in float64 from Abs, Floor, Gather and a Horner polynomial."""
    from onnx import TensorProto
    C = _erf_table()
    a = node("Min", [node("Abs", [z]), const(_ERF_STEP * _ERF_PIECES, "erf_end")])
    u = node("Div", [a, const(_ERF_STEP, "erf_step")])
    i = node("Min", [node("Floor", [u]), const(_ERF_PIECES - 1, "erf_last")])
    idx = node("Cast", [i], to=TensorProto.INT64)
    s = node("Sub", [node("Mul", [node("Sub", [u, i]), const(2.0, "two")]), const(1.0, "one")])
    p = node("Gather", [const(C[:, -1], "erf_c"), idx])
    for k in range(_ERF_DEGREE - 1, -1, -1):
        p = node("Add", [node("Mul", [p, s]), node("Gather", [const(C[:, k], "erf_c"), idx])])
    return node("Where", [node("Less", [z, const(0.0, "zero")]), node("Neg", [p]), p])
