"""The chain rule, written out: a trace of one SGD step of a small dense network.

``trace = trace_step(net, X, T, loss, lr)`` runs one training step of a
``Sequential(Dense, act, Dense, act, ...)`` and records every number a person computes when
deriving backpropagation by hand, in that order (Mazur, "A Step by Step Backpropagation
Example", 2015):

1. each neuron's net input and output;
2. the error;
3. for each output-layer weight the factors dE/dout, dout/dnet, dnet/dw and their product
   (with softmax and cross-entropy, dE/dnet = out - t directly);
4. layer by layer backwards, the error reaching each hidden neuron from every neuron after
   it, summed, and that layer's weights' factors;
5. for a batch of several samples, the batched gradient next to the mean of the samples' own;
6. the updated weights, and the loss after the step.

The computing and the writing are apart: ``compute_step`` runs minimlp and returns a
``StepArrays`` (a dataclass of arrays, one ``LayerStep`` per Dense layer); ``trace_step``
writes it as ``Section`` s of ``Row`` s and returns a ``Trace`` with the arrays, the rows,
every value by label (``trace["dE/dw5"]``) and ``to_text()``/``to_markdown()``.

Nothing here differentiates anything. Every value is read from minimlp itself: net inputs
are the ``Dense`` layers' outputs, ``dE/dout`` is ``loss.backward()``, ``dout/dnet`` is the
activation's ``backward`` applied to ones (its local slope, from its cached output or mask),
``delta = dE/dnet`` is the activation's ``backward`` applied to ``dE/dout``, the summed
error reaching a neuron is the next ``Dense.backward``'s ``dX``, the weight gradients are
``Dense.dW`` and the updated weights come from ``SGD.step()``. The product of the printed
factors is checked against ``Dense.dW``, and for a batch the mean of the per-sample
gradients (each from minimlp run on that sample alone) against the batched ``Dense.dW``.

Naming follows Mazur: inputs i1.., hidden neurons h1.. (``h2_1`` is neuron 1 of hidden
layer 2 when there are several), outputs o1..; weights w1, w2, ... numbered neuron by neuron
and layer by layer (into h1 first, then into h2, ..., then into o1, ...), i.e. row by row in
the tutorials' ``(out, in)`` layout. ``Dense.W`` is ``(in, out)``, so the weight from input i
into hidden neuron j is ``W[i, j]``. In a batch, ``net_h1[2]`` is sample 2's.

Run ``minimlp explain`` (see ``minimlp.commands.explain``) to print a trace.
"""
from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass, field

import numpy as np

from .activations import Identity, ReLU, Sigmoid, Softmax, Tanh
from .layers import Dense
from .losses import CrossEntropyLoss, Loss, MSELoss
from .optim import SGD
from .sequential import Sequential
from .step import TrainStep

Array = np.ndarray

#: Activations the trace can explain, with their formula and local slope in words.
ACTIVATIONS = {
    "sigmoid": (Sigmoid, "1/(1+e^-{net})", "{out}(1 - {out})"),
    "relu": (ReLU, "max({net}, 0)", "1 if {net} > 0 else 0"),
    "tanh": (Tanh, "tanh({net})", "1 - {out}^2"),
    "identity": (Identity, "{net}", "1"),
}

def activation_table() -> dict[str, tuple]:
    """``ACTIVATIONS`` and every other elementwise activation of
    ``activations.activation_classes()`` (your own included), the others with a formula in
    words built from the class name; their numbers come from the layer's own forward and
    backward like everyone's, so a new activation is traced without an edit here."""
    from .activations import LogSoftmax, Softmax, activation_classes
    table = {name: (cls, f"{cls.__name__}({{net}})", f"d{cls.__name__}/dnet at {{net}}")
             for name, cls in activation_classes().items()
             if cls not in (Softmax, LogSoftmax) and name != "linear"}
    table = {n: t for n, t in table.items() if t[0] not in {c for c, _, _ in ACTIVATIONS.values()}}
    return {**ACTIVATIONS, **table}


#: The largest layer width the trace accepts: beyond it a printed trace is no longer readable.
MAX_WIDTH = 6
#: The largest batch the trace accepts (each sample gets its own derivation).
MAX_BATCH = 8


@dataclass
class Row:
    """One line of a derivation: ``label = formula = numbers = value``."""

    label: str
    formula: str
    numbers: str
    value: float


@dataclass
class Section:
    """A titled group of rows, with an optional sentence saying where the numbers come from."""

    title: str
    note: str = ""
    rows: list[Row] = field(default_factory=list)


@dataclass
class LayerStep:
    """One ``Dense`` layer and the activation after it, through one step.

    Arrays are ``(N, out)`` per sample unless noted; all are copies, taken from minimlp.
    ``W, dW, W_new`` are ``(in, out)``; ``b, db, b_new`` are ``(out,)``. ``dE_dout`` and
    ``slope`` (dout/dnet) are ``None`` for a softmax output under cross-entropy, whose
    ``delta = dE/dnet = out - t`` comes straight from the loss.
    """

    neurons: list[str]          # "h1", "h2" / "h2_1" / "o1"
    activation: str             # a key of ACTIVATIONS, or "softmax" (cross-entropy output)
    weight_names: list[list[str]]   # (in, out): the name of the weight W[i, j], "w5"
    W: Array
    b: Array
    net: Array
    out: Array
    dE_dout: Array | None
    slope: Array | None
    delta: Array
    dE_dX: Array                # (N, in): Dense.backward's dX, the error sent to the layer before
    dW: Array
    db: Array
    W_new: Array
    b_new: Array


@dataclass
class StepArrays:
    """The numbers of one SGD step, before any is written out.

    ``X (N, D)``, ``T (N, K)`` (one-hot rows for class labels), ``layers`` one ``LayerStep``
    per Dense layer, input to output; ``E`` the loss of the batch (minimlp's), ``E_samples
    (N,)`` each sample's, ``E_after`` the loss at the updated weights. For a batch (N > 1),
    ``samples`` holds the ``StepArrays`` of minimlp run on each sample alone (from the same
    starting weights), whose gradients average to the batch's.
    """

    X: Array
    T: Array
    loss: str                   # "mse" or "cross_entropy"
    lr: float
    train_biases: bool
    inputs: list[str]
    layers: list[LayerStep]
    E: float
    E_samples: Array
    E_after: float
    samples: list["StepArrays"] = field(default_factory=list)


@dataclass
class Trace:
    """A recorded SGD step: the arrays, the derivation's rows and every value by label.

    Attributes: ``step`` (the ``StepArrays``; also as ``trace.layers``, ``trace.E``,
    ``trace.E_after``, ``trace.X``, ``trace.T``), ``sections`` in derivation order,
    ``values`` (label -> full-precision float, also ``trace[label]``), ``title``,
    ``header``, ``footer``/``footer_table`` (closing remarks). ``to_text()`` and
    ``to_markdown()`` write it out with ``digits`` decimals.
    """

    title: str
    header: list[str]
    sections: list[Section]
    values: dict[str, float]
    footer: list[str] = field(default_factory=list)
    #: A closing table (header row first), e.g. the post's figures against this method's.
    footer_table: list[tuple[str, ...]] = field(default_factory=list)
    digits: int = 9
    step: StepArrays | None = None

    layers = property(lambda self: self.step.layers)
    E = property(lambda self: self.step.E)
    E_after = property(lambda self: self.step.E_after)
    X = property(lambda self: self.step.X)
    T = property(lambda self: self.step.T)

    def __getitem__(self, label: str) -> float:
        return self.values[label]

    def to_text(self) -> str:
        """Plain text, one ``label = formula = numbers = value`` line per quantity."""
        return format_text(self)

    def to_markdown(self) -> str:
        """Markdown: a heading and a table (quantity, formula, numbers, value) per step."""
        return format_markdown(self)


def _activation_name(layer) -> str:
    for name, (cls, _, _) in activation_table().items():
        if type(layer) is cls:
            return name
    raise ValueError(
        f"explain: layer {layer!r} is not an activation the trace can explain; expected one of "
        f"{', '.join(c.__name__ for c, _, _ in activation_table().values())}")


def _loss_name(loss) -> str:
    if type(loss) is MSELoss or type(loss) is CrossEntropyLoss:
        if loss.reduction != "mean":
            raise ValueError(f"explain: {loss!r}: the trace explains reduction='mean' only")
        return "mse" if type(loss) is MSELoss else "cross_entropy"
    raise ValueError(f"explain: loss {loss!r} is not one the trace explains; expected MSELoss() or "
                     "CrossEntropyLoss() (softmax and cross-entropy on the last Dense's logits)")


def _stages(net: Sequential) -> list[tuple[Dense, object]]:
    """``[(Dense, activation or None), ...]``, refusing any other structure."""
    if not isinstance(net, Sequential):
        raise TypeError(f"explain: expected a Sequential, got {type(net).__name__}")
    layers, stages, i = net.layers, [], 0
    shape = ("explain: expected Sequential(Dense, activation, Dense, activation, ...) with at least "
             f"one hidden layer, got {[type(l).__name__ for l in layers]}")
    while i < len(layers):
        if not isinstance(layers[i], Dense):
            if isinstance(layers[i], Softmax) and i == len(layers) - 1:
                raise ValueError(f"explain: {layers[i]!r} as the last layer is not an activation the "
                                 "trace can explain; for softmax end the net in Dense and trace with "
                                 "loss=CrossEntropyLoss(), which applies the softmax")
            raise ValueError(shape if not stages else
                             f"explain: layer {i} ({layers[i]!r}) is not an activation the trace can "
                             f"explain; expected one of "
                             f"{', '.join(c.__name__ for c, _, _ in activation_table().values())}")
        act = layers[i + 1] if i + 1 < len(layers) and not isinstance(layers[i + 1], Dense) else None
        if act is not None:
            _activation_name(act)
        elif i + 1 < len(layers):
            raise ValueError(f"explain: {layers[i]!r} is followed by another Dense; put an activation "
                             "(e.g. Identity()) between them")
        stages.append((layers[i], act))
        i += 2 if act is not None else 1
    if len(stages) < 2:
        raise ValueError(shape)
    for d, _ in stages:
        if max(d.in_features, d.out_features) > MAX_WIDTH:
            raise ValueError(f"explain: {d!r} is too wide to print readably (at most {MAX_WIDTH} "
                             "neurons per layer)")
        if d.b is None:
            raise ValueError(f"explain: {d!r} has no bias; build it with bias=True")
    return stages


def check_network(net: Sequential, loss: Loss | None = None) -> tuple[str, ...]:
    """The activation name after each Dense layer of ``net``, for the trace.

    ``net`` is ``Sequential(Dense, act, Dense, act, ...)``: two or more Dense layers, each
    hidden one followed by Sigmoid, ReLU, Tanh or Identity; the last one by one of those or
    nothing (``"identity"``). With ``CrossEntropyLoss`` the last one is followed by nothing
    and its name is ``"softmax"`` (the loss applies it). Raises ``ValueError`` for any other
    structure or for a layer wider than ``MAX_WIDTH``.
    """
    stages = _stages(net)
    names = [_activation_name(a) if a is not None else "identity" for _, a in stages]
    if loss is not None and _loss_name(loss) == "cross_entropy":
        if stages[-1][1] is not None and names[-1] != "identity":
            raise ValueError(f"explain: CrossEntropyLoss applies the softmax to the last Dense's "
                             f"outputs (logits); the net ends in {stages[-1][1]!r} instead")
        names[-1] = "softmax"
    return tuple(names)


class _Fmt:
    def __init__(self, digits: int):
        self.digits = digits

    def __call__(self, v: float) -> str:
        return f"{v:.{self.digits}f}"

    def p(self, v: float) -> str:
        """A number as a term of an expression: negative numbers in parentheses."""
        s = self(v)
        return f"({s})" if v < 0 else s


def _neuron_names(widths: list[int]) -> list[list[str]]:
    """Names per layer of neurons (after the inputs): h1.. or h1_1.., then o1.."""
    hidden = widths[1:-1]
    names = []
    for l, w in enumerate(hidden):
        names.append([f"h{j + 1}" if len(hidden) == 1 else f"h{l + 1}_{j + 1}" for j in range(w)])
    names.append([f"o{k + 1}" for k in range(widths[-1])])
    return names


def compute_step(net: Sequential, X, T, loss: Loss | None = None, lr: float = 0.5, *,
                 train_biases: bool = False) -> StepArrays:
    """Run one SGD step of ``net`` on ``X (N, D)``, ``T`` and return its numbers, unwritten.

    ``loss`` is ``MSELoss()`` (default) or ``CrossEntropyLoss()`` (targets one-hot ``(N, K)``
    or labels ``(N,)``); ``N <= MAX_BATCH``. ``net``'s weights (and, with ``train_biases``,
    biases) are updated in place by ``SGD(lr)``. See ``StepArrays``.
    """
    loss = MSELoss() if loss is None else loss
    acts = check_network(net, loss)
    kind = _loss_name(loss)
    stages = _stages(net)
    X = net.check_input(X)
    N = X.shape[0]
    if N > MAX_BATCH:
        raise ValueError(f"explain: traces at most {MAX_BATCH} samples; got a batch of {N} (X of shape {X.shape})")
    K = stages[-1][0].out_features
    T = loss.check_targets(T, (N, K), net.dtype)
    T_rows = np.eye(K, dtype=net.dtype)[T] if T.ndim == 1 else np.array(T)
    start = copy.deepcopy(net) if N > 1 else None
    widths = [stages[0][0].in_features] + [d.out_features for d, _ in stages]
    names = _neuron_names(widths)
    offset, weight_names = 0, []
    for l, (d, _) in enumerate(stages):
        weight_names.append([[f"w{offset + j * d.in_features + i + 1}" for j in range(d.out_features)]
                             for i in range(d.in_features)])
        offset += d.in_features * d.out_features
    W0 = [d.W.copy() for d, _ in stages]
    b0 = [d.b.copy() for d, _ in stages]

    # ---- forward, layer by layer (what Sequential.forward does), keeping each output
    nets, outs, a = [], [], X
    for d, act in stages:
        z = d.forward(a).copy()
        a = act.forward(z).copy() if act is not None else z
        nets.append(z)
        outs.append(a)
    E = loss.forward(outs[-1], T)
    if kind == "cross_entropy":     # the loss's softmax, by minimlp's Softmax layer
        outs[-1] = Softmax().forward(nets[-1]).copy()
    # ---- backward, in reverse
    g = loss.backward().copy()
    back = [None] * len(stages)
    for l in range(len(stages) - 1, -1, -1):
        d, act = stages[l]
        if l == len(stages) - 1 and kind == "cross_entropy":
            dE_dout, slope, delta = None, None, g
        else:
            dE_dout = g
            if act is None:
                slope, delta = np.ones_like(g), g.copy()
            else:
                slope = act.backward(np.ones_like(g)).copy()
                delta = act.backward(dE_dout).copy()
        g = d.backward(delta).copy()            # sum over the next neurons: delta W^T
        back[l] = (dE_dout, slope, delta, g, d.dW.copy(), d.db.copy())
    # ---- the update: every gradient above was taken at the original weights
    params = net.parameters() if train_biases else [p for p in net.parameters() if p.name == "W"]
    SGD(params, lr=lr).step()
    E_after = loss.forward(net.predict(X), T)

    P = outs[-1]
    if kind == "mse":
        E_samples = ((T_rows - P) ** 2).sum(axis=1) / K
    else:
        E_samples = -(T_rows * np.log(P)).sum(axis=1)
    layers = [LayerStep(names[l], acts[l], weight_names[l], W0[l], b0[l], nets[l], outs[l], *back[l][:4],
                        back[l][4], back[l][5], d.W.copy(), d.b.copy())
              for l, (d, _) in enumerate(stages)]
    samples = []
    if N > 1:   # each sample alone, from the same starting weights
        for n in range(N):
            samples.append(compute_step(copy.deepcopy(start), X[n:n + 1], T_rows[n:n + 1], type(loss)(),
                                        lr, train_biases=train_biases))
    inputs = [f"i{i + 1}" for i in range(widths[0])]
    return StepArrays(X.copy(), T_rows, kind, float(lr), bool(train_biases), inputs, layers, float(E),
                      E_samples, float(E_after), samples)


def trace_step(net: Sequential, X, T, loss: Loss | None = None, lr: float = 0.5, *,
               train_biases: bool = False, title: str | None = None, digits: int = 9,
               mazur: bool = False) -> Trace:
    """Run one SGD step of ``net`` and record the chain rule as a person derives it.

    ``net`` is ``Sequential(Dense, act, ..., Dense[, act])`` with one or more hidden layers,
    ``act`` one of Sigmoid, ReLU, Tanh, Identity, at most ``MAX_WIDTH`` neurons a layer.
    ``X`` is ``(N, D)`` with ``1 <= N <= MAX_BATCH``, ``T`` is ``(N, K)`` (or labels ``(N,)``
    for cross-entropy). ``loss`` is ``MSELoss()`` (the default):
    ``E = 1/N sum_n 1/K sum_k (t_nk - o_nk)^2``, which for one sample and K = 2 outputs is
    Mazur's ``E = sum_k 1/2 (t_k - o_k)^2`` (the trace says so only then); or
    ``CrossEntropyLoss()`` on the last Dense's logits: ``o = softmax(net)``,
    ``E = -1/N sum_n sum_k t_nk log o_nk``. The weights are updated in place by ``SGD(lr)``;
    the biases only when ``train_biases``. ``mazur`` says the network is Mazur's own, so the
    text may point to his post (frozen biases). ``digits`` is the number of decimals in the
    rows' ``numbers`` strings.

    Returns a ``Trace``: ``trace.layers[l].dW``, ``trace["dE/dw5"]``, ``trace.to_text()``.

    >>> import minimlp as mm
    >>> from minimlp.tutorial import tutorial_network
    >>> net, X, T = tutorial_network("mazur")
    >>> trace = mm.explain.trace_step(net, X, T, mm.MSELoss(), lr=0.5)
    >>> round(trace["dE/dw5"], 9), round(trace.E_after, 9)
    (0.082167041, 0.291027774)
    """
    if isinstance(loss, numbers.Real) and not isinstance(loss, bool):   # trace_step(net, X, T, 0.5)
        loss, lr = None, float(loss)
    step = compute_step(net, X, T, loss, lr, train_biases=train_biases)
    return _write(step, title=title, digits=digits, mazur=mazur)


# -- writing the sections -------------------------------------------------------------------

class _Writer:
    def __init__(self, digits: int):
        self.f = _Fmt(digits)
        self.values: dict[str, float] = {}

    def row(self, sec: Section, label: str, formula: str, numbers: str, value) -> None:
        value = float(value)
        self.values[label] = value
        sec.rows.append(Row(label, formula, numbers, value))


def _layer_title(kind: str, l: int, L: int) -> str:
    if l == L - 1:
        return f"{kind}, output layer"
    return f"{kind}, hidden layer" + ("" if L == 2 else f" {l + 1}")


def _sample_sections(w: _Writer, s: StepArrays, sfx: str, tag: str) -> list[Section]:
    """Inputs, forward, error and backward sections of one sample (``s`` has N = 1)."""
    f, row = w.f, w.row
    x, t = s.X[0], s.T[0]
    L, K = len(s.layers), s.T.shape[1]
    out_names = s.layers[-1].neurons
    sections = []
    sec = Section("The inputs and targets" + tag)
    for i, name in enumerate(s.inputs):
        row(sec, f"{name}{sfx}", "", "", x[i])
    for k in range(K):
        row(sec, f"t{k + 1}{sfx}", "", "", t[k])
    sections.append(sec)

    prev_names, prev_vals = s.inputs, x
    for l, layer in enumerate(s.layers):
        sec = Section(_layer_title("Forward pass", l, L) + tag)
        if l == 0:
            sec.note = "Net inputs from Dense.forward, outputs from the activation's forward"
        for j, n in enumerate(layer.neurons):
            terms = [f"{layer.weight_names[i][j]}*{p}" for i, p in enumerate(prev_names)]
            nums = [f"{f.p(layer.W[i, j])}*{f.p(prev_vals[i])}" for i in range(len(prev_names))]
            row(sec, f"net_{n}{sfx}", " + ".join(terms + [f"b_{n}"]), " + ".join(nums + [f.p(layer.b[j])]),
                layer.net[0, j])
            if layer.activation == "softmax":
                all_e = " + ".join(f"e^net_{o}" for o in layer.neurons)
                row(sec, f"out_{n}{sfx}", f"softmax(net_o)_{j + 1} = e^net_{n} / ({all_e})",
                    f"e^{f.p(layer.net[0, j])} / ({' + '.join(f'e^{f.p(v)}' for v in layer.net[0])})",
                    layer.out[0, j])
            else:
                _, fwd, _ = activation_table()[layer.activation]
                row(sec, f"out_{n}{sfx}", f"{layer.activation}(net_{n}) = " + fwd.format(net=f"net_{n}"),
                    "" if layer.activation == "identity" else fwd.format(net=f.p(layer.net[0, j])),
                    layer.out[0, j])
        sections.append(sec)
        prev_names, prev_vals = [f"out_{n}" for n in layer.neurons], layer.out[0]

    o = s.layers[-1].out[0]
    if s.loss == "mse":
        sec = Section("The error" + tag, f"{_mse(K)}, minimlp's MSELoss"
                      + ("; with 2 outputs it equals Mazur's E = sum_k 1/2 (t_k - out_ok)^2 (1/2 SSE)"
                         if K == 2 else ""))
        half = "" if K == 1 else f"1/{K} "
        for k in range(K):
            row(sec, f"E_{out_names[k]}{sfx}", f"{half}(t{k + 1} - out_{out_names[k]})^2",
                f"{half}({f(t[k])} - {f(o[k])})^2", (t[k] - o[k]) ** 2 / K)
    else:
        sec = Section("The error" + tag, f"{_ce()}, minimlp's CrossEntropyLoss")
        for k in range(K):
            row(sec, f"E_{out_names[k]}{sfx}", f"-t{k + 1} log(out_{out_names[k]})",
                f"-{f.p(t[k])} log({f(o[k])})", -t[k] * np.log(o[k]))
    row(sec, f"E_total{sfx}", " + ".join(f"E_{n}" for n in out_names), "", s.E)
    sections.append(sec)

    for l in range(L - 1, -1, -1):
        layer = s.layers[l]
        prev = s.inputs if l == 0 else [f"out_{n}" for n in s.layers[l - 1].neurons]
        prev_vals = s.X[0] if l == 0 else s.layers[l - 1].out[0]
        if l == L - 1:
            sec = _output_backward(w, s, layer, sfx, tag)
        else:
            sec = _hidden_backward(w, s, l, sfx, tag)
        for j, n in enumerate(layer.neurons):
            for i, a in enumerate(prev):
                wn = layer.weight_names[i][j]
                if layer.dE_dout is None:       # softmax + cross-entropy: delta directly
                    _check(layer.delta[0, j] * prev_vals[i], layer.dW[i, j], wn)
                    formula = f"dE/dnet_{n} * dnet_{n}/d{wn}"
                    nums = f"{f.p(layer.delta[0, j])} * {f.p(prev_vals[i])}"
                else:
                    _check(layer.dE_dout[0, j] * layer.slope[0, j] * prev_vals[i], layer.dW[i, j], wn)
                    formula = f"dE/dout_{n} * dout_{n}/dnet_{n} * dnet_{n}/d{wn}"
                    nums = (f"{f.p(layer.dE_dout[0, j])} * {f.p(layer.slope[0, j])} * "
                            f"{f.p(prev_vals[i])}")
                row(sec, f"dE{sfx}/d{wn}", formula, nums, layer.dW[i, j])
        sections.append(sec)
    return sections


def _output_backward(w: _Writer, s: StepArrays, layer: LayerStep, sfx: str, tag: str) -> Section:
    f, row = w.f, w.row
    K = len(layer.neurons)
    t = s.T[0]
    if layer.dE_dout is None:
        sec = Section(_layer_title("Backward pass", len(s.layers) - 1, len(s.layers)) + tag,
                      "Softmax and cross-entropy together: dE/dnet = out - t (the softmax's slopes and "
                      "the log's 1/out cancel), from CrossEntropyLoss.backward(); dE/dw from Dense.dW; "
                      "dnet/dw is the input the weight multiplies")
        for k, o in enumerate(layer.neurons):
            row(sec, f"delta_{o}{sfx}", f"dE/dnet_{o} = out_{o} - t{k + 1}",
                f"{f(layer.out[0, k])} - {f(t[k])}", layer.delta[0, k])
        return sec
    sec = Section(_layer_title("Backward pass", len(s.layers) - 1, len(s.layers)) + tag,
                  "The loss gradient dE/dout from loss.backward(); dout/dnet from the activation's backward of ones; "
                  "dE/dw from Dense.dW; dnet/dw is the input the weight multiplies")
    _, _, slope_txt = activation_table()[layer.activation]
    for k, o in enumerate(layer.neurons):
        if K == 2:  # 2/K = 1: Mazur's dE/dout = -(target - out)
            formula, numbers = f"out_{o} - t{k + 1}", f"{f(layer.out[0, k])} - {f(t[k])}"
        else:
            two = "2" if K == 1 else f"2/{K}"
            formula, numbers = f"{two} (out_{o} - t{k + 1})", f"{two} ({f(layer.out[0, k])} - {f(t[k])})"
        row(sec, f"dE/dout_{o}{sfx}", formula, numbers, layer.dE_dout[0, k])
        row(sec, f"dout_{o}/dnet_{o}{sfx}", slope_txt.format(out=f"out_{o}", net=f"net_{o}"), "",
            layer.slope[0, k])
        row(sec, f"delta_{o}{sfx}", f"dE/dnet_{o} = dE/dout_{o} * dout_{o}/dnet_{o}",
            f"{f.p(layer.dE_dout[0, k])} * {f.p(layer.slope[0, k])}", layer.delta[0, k])
    return sec


def _hidden_backward(w: _Writer, s: StepArrays, l: int, sfx: str, tag: str) -> Section:
    f, row = w.f, w.row
    layer, nxt = s.layers[l], s.layers[l + 1]
    into = "output" if l + 1 == len(s.layers) - 1 else "neuron of the next layer"
    sec = Section(_layer_title("Backward pass", l, len(s.layers)) + tag,
                  f"Each {into} sends back delta_{'o' if into == 'output' else 'next'} * w; their sum is "
                  f"Dense.backward's dX; the original {'output' if into == 'output' else 'later'} "
                  "weights are used, not the updated ones")
    _, _, slope_txt = activation_table()[layer.activation]
    for j, h in enumerate(layer.neurons):
        parts = []
        for k, o in enumerate(nxt.neurons):
            wn = nxt.weight_names[j][k]
            contrib = nxt.delta[0, k] * nxt.W[j, k]
            parts.append(contrib)
            row(sec, f"dE_{o}/dout_{h}{sfx}", f"delta_{o} * {wn}",
                f"{f.p(nxt.delta[0, k])} * {f.p(nxt.W[j, k])}", contrib)
        _check(sum(parts), layer.dE_dout[0, j], f"dE/dout_{h}")
        row(sec, f"dE/dout_{h}{sfx}", " + ".join(f"dE_{o}/dout_{h}" for o in nxt.neurons),
            " + ".join(f.p(p) for p in parts), layer.dE_dout[0, j])
        row(sec, f"dout_{h}/dnet_{h}{sfx}", slope_txt.format(out=f"out_{h}", net=f"net_{h}"), "",
            layer.slope[0, j])
        row(sec, f"delta_{h}{sfx}", f"dE/dnet_{h} = dE/dout_{h} * dout_{h}/dnet_{h}",
            f"{f.p(layer.dE_dout[0, j])} * {f.p(layer.slope[0, j])}", layer.delta[0, j])
    return sec


def _batch_section(w: _Writer, s: StepArrays) -> Section:
    """The batch's E and gradients next to the means of the samples' own."""
    f, row = w.f, w.row
    N = s.X.shape[0]
    sec = Section(f"The batch of {N} samples",
                  f"One batched forward and backward pass: E is the mean of the samples' errors, and "
                  f"Dense.dW (and db) the mean of their gradients, because the loss divides by N = {N}")
    _check(np.mean([p.E for p in s.samples]), s.E, "E_total")
    row(sec, "E_total", f"1/{N} (" + " + ".join(f"E_total[{n + 1}]" for n in range(N)) + ")",
        f"1/{N} (" + " + ".join(f.p(p.E) for p in s.samples) + ")", s.E)
    for l, layer in enumerate(s.layers):
        for j in range(len(layer.neurons)):
            for i in range(layer.W.shape[0]):
                wn = layer.weight_names[i][j]
                per = [p.layers[l].dW[i, j] for p in s.samples]
                _check(np.mean(per), layer.dW[i, j], f"dE/d{wn} of the batch")
                row(sec, f"dE/d{wn}", f"1/{N} (" + " + ".join(f"dE[{n + 1}]/d{wn}" for n in range(N)) + ")",
                    f"1/{N} (" + " + ".join(f.p(v) for v in per) + ")", layer.dW[i, j])
        if s.train_biases:
            for j, n_ in enumerate(layer.neurons):
                per = [p.layers[l].db[j] for p in s.samples]
                _check(np.mean(per), layer.db[j], f"dE/db_{n_} of the batch")
                row(sec, f"dE/db_{n_}", f"1/{N} (" + " + ".join(f"delta_{n_}[{n + 1}]" for n in range(N)) + ")",
                    f"1/{N} (" + " + ".join(f.p(v) for v in per) + ")", layer.db[j])
    return sec


def _write(s: StepArrays, *, title: str | None, digits: int, mazur: bool) -> Trace:
    w = _Writer(digits)
    f, row = w.f, w.row
    N = s.X.shape[0]
    K = s.T.shape[1]
    sections: list[Section] = []
    if N == 1:
        sections += _sample_sections(w, s, "", "")
    else:
        for n, p in enumerate(s.samples):
            for layer_b, layer_p in zip(s.layers, p.layers):   # the batch's rows are the samples'
                _check(layer_b.out[n, 0], layer_p.out[0, 0], f"out_{layer_b.neurons[0]}[{n + 1}]")
            sections += _sample_sections(w, p, f"[{n + 1}]", f" (sample {n + 1} of {N})")
        sections.append(_batch_section(w, s))
    lr = s.lr
    sec = Section("The update",
                  f"w+ = w - lr * dE/dw with lr = {lr:g}, by SGD.step(), after all gradients were computed"
                  + ("" if s.train_biases else
                     "; the biases stay frozen" + (", as in Mazur's post" if mazur else "")))
    for layer in reversed(s.layers):
        for c in range(layer.W.shape[1]):
            for r in range(layer.W.shape[0]):
                wn = layer.weight_names[r][c]
                row(sec, f"{wn}+", f"{wn} - lr * dE/d{wn}", f"{f(layer.W[r, c])} - {lr:g} * {f.p(layer.dW[r, c])}",
                    layer.W_new[r, c])
    if s.train_biases:
        for layer in reversed(s.layers):
            for j, n in enumerate(layer.neurons):
                g = f"delta_{n}" if N == 1 else f"dE/db_{n}"
                row(sec, f"b_{n}+", f"b_{n} - lr * {g}", f"{f(layer.b[j])} - {lr:g} * {f.p(layer.db[j])}",
                    layer.b_new[j])
    row(sec, "E_total+", "E at the updated weights (a fresh forward pass)", "", s.E_after)
    sections.append(sec)

    widths = [len(s.inputs)] + [len(layer.neurons) for layer in s.layers]
    n_w = sum(a * b for a, b in zip(widths, widths[1:]))
    stages = " -> ".join([f"{'/'.join(s.inputs)}"] + [
        f"{'/'.join(layer.neurons)} ({'softmax, in the loss' if layer.activation == 'softmax' else layer.activation})"
        for layer in s.layers])
    samples = "one sample" if N == 1 else f"a batch of {N} samples"
    first = s.layers[0].neurons[0]
    if s.loss == "mse":
        loss_txt = f"MSELoss, {_mse(K)}" + ("" if N == 1 else f", averaged over the {N} samples")
    else:
        loss_txt = f"CrossEntropyLoss, {_ce()}" + ("" if N == 1 else f", averaged over the {N} samples")
    header = [
        f"network: {'-'.join(map(str, widths))}, {stages}; {samples}; weights w1..w{n_w} numbered neuron by "
        f"neuron (the weights into {first} first)",
        f"loss: {loss_txt}; SGD lr = {lr:g}; biases " + ("trained" if s.train_biases else "frozen"),
    ]
    return Trace(title or f"One SGD step of a {'-'.join(map(str, widths))} network, by the chain rule",
                 header, sections, w.values, digits=digits, step=s)


def _ce() -> str:
    return "E = -sum_k t_k log(out_ok) with out_o = softmax(net_o)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _mse(K: int) -> str:
    """The loss as printed: the mean over the ``K`` outputs."""
    return f"E = MSE = 1/n * sum_k (t_k - out_ok)^2 with n = {_plural(K, 'output')}"


def _check(product: float, minimlp_value: float, what: str) -> None:
    """The printed factors must multiply to what minimlp's backward computed."""
    if not np.isclose(product, minimlp_value, rtol=1e-9, atol=1e-15):
        raise AssertionError(f"explain: the chain-rule factors of {what} give {product!r}, but "
                             f"minimlp's backward gives {minimlp_value!r}")


def train_more(net: Sequential, X, T, lr: float, steps: int) -> tuple[float, Array]:
    """Continue training ``net`` (weights only) for ``steps`` SGD steps; returns (E, outputs)."""
    loss = MSELoss()
    step = TrainStep(net, loss, SGD([p for p in net.parameters() if p.name == "W"], lr=lr))
    X = net.check_input(X)
    T = loss.check_targets(T, (X.shape[0], net.output_features(X.shape[1])), net.dtype)
    for _ in range(steps):
        step.run(X, T)
    Y = net.predict(X)
    return loss.forward(Y, T), Y[0]


def mazur_note(net: Sequential, X, T, trace: Trace, total_steps: int = 10000) -> None:
    """Add to ``trace`` the post's after-training figures next to what its method gives.

    Trains ``net`` (already one step in, by ``trace_step``) to ``total_steps`` updates,
    records ``E_total@<steps>``, ``E_total@<steps - 1>`` and ``out_o<k>@<steps>`` in
    ``trace.values``, and fills ``trace.footer`` and ``trace.footer_table``.
    """
    E_before, _ = train_more(net, X, T, 0.5, total_steps - 2)
    E, Y = train_more(net, X, T, 0.5, 1)
    trace.values[f"E_total@{total_steps - 1}"] = E_before
    trace.values[f"E_total@{total_steps}"] = E
    for k, y in enumerate(Y):
        trace.values[f"out_o{k + 1}@{total_steps}"] = float(y)
    E1 = trace.values["E_total+"]
    n = f"{total_steps:,}"
    trace.footer = [
        "The post's figures after training do not follow from the method it describes. They come "
        "from the first version of its script, which updated w5..w8 before computing the hidden "
        "deltas (see docs/tutorial-errata.md). This method, continued by minimlp:",
    ]
    trace.footer_table = [
        ("figure", "the post", "this method"),
        ("E after the first round", "0.291027924", f"{E1:.9f}"),
        (f"E after {n} rounds", "0.000035085", f"{E:.10f}"),
        (f"E after {total_steps - 1:,} rounds (other copies' {n}-round figure)",
         "0.0000351085", f"{E_before:.10f}"),
        (f"out_o1, out_o2 after {n} rounds", "0.015912196, 0.984065734", f"{Y[0]:.9f}, {Y[1]:.9f}"),
    ]


def format_text(trace: Trace) -> str:
    """The trace as plain text, one ``label = formula = numbers = value`` line per quantity."""
    digits = trace.digits
    lines = [trace.title, "=" * len(trace.title)] + trace.header
    for sec in trace.sections:
        lines += ["", f"-- {sec.title} --"]
        if sec.note:
            lines.append(f"   ({sec.note})")
        for r in sec.rows:
            parts = [r.label] + [p for p in (r.formula, r.numbers) if p] + [f"{r.value:.{digits}f}"]
            lines.append(" = ".join(parts))
    if trace.footer:
        lines += [""] + trace.footer
    if trace.footer_table:
        widths = [max(len(r[c]) for r in trace.footer_table) for c in range(len(trace.footer_table[0]))]
        for r in trace.footer_table:
            lines.append("  " + "   ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return "\n".join(lines) + "\n"


def format_markdown(trace: Trace) -> str:
    """The trace as Markdown: a heading and a table (quantity, formula, numbers, value) per step."""
    digits = trace.digits
    lines = [f"### {trace.title}", ""] + [f"- {h}" for h in trace.header]
    for sec in trace.sections:
        lines += ["", f"#### {sec.title}", ""]
        if sec.note:
            lines += [sec.note + ".", ""]
        lines += ["| quantity | formula | numbers | value |", "|---|---|---|---:|"]
        for r in sec.rows:
            cells = [r.label, r.formula, r.numbers, f"{r.value:.{digits}f}"]
            lines.append("| " + " | ".join(f"`{c}`" if c else "" for c in cells) + " |")
    if trace.footer:
        lines += [""] + trace.footer
    if trace.footer_table:
        head, *rows = trace.footer_table
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def build_network(W_hidden, W_output, b_hidden, b_output, activation: str = "sigmoid",
                  output_activation: str = "sigmoid") -> Sequential:
    """A ``Sequential(Dense, act, Dense, act)`` from weights in the tutorials' ``(out, in)`` layout.

    ``W_hidden`` is ``(H, D)`` and ``W_output`` is ``(K, H)``: row j holds the weights into
    neuron j. Each bias is a number (shared by the layer's neurons, as in Mazur's post) or a
    list with one value per neuron. ``build_stack`` takes any number of layers.
    """
    return build_stack([W_hidden, W_output], [b_hidden, b_output], activation, output_activation)


def build_stack(weights, biases, activation: str = "sigmoid",
                output_activation: str = "sigmoid") -> Sequential:
    """``Sequential(Dense, act, ..., Dense, output_act)`` from one ``(out, in)`` matrix per layer.

    ``weights[l]`` is ``(width_l, width_{l-1})`` (row j: the weights into neuron j), hidden
    layers first and the output layer last; ``biases[l]`` is a number or one value per
    neuron. Every hidden layer gets ``activation``; ``output_activation`` ``"identity"``
    leaves the last Dense bare (its outputs are logits, for cross-entropy).
    """
    if len(weights) < 2 or len(biases) != len(weights):
        raise ValueError(f"explain: expected one weight matrix and one bias per layer, at least two "
                         f"layers; got {len(weights)} matrices and {len(biases)} biases")
    L = len(weights)
    names = ["hidden", "output"] if L == 2 else [f"hidden layer {l + 1}" for l in range(L - 1)] + ["output"]
    mats = [_matrix(W, "W_hidden" if l < L - 1 and L == 2 else
                    ("W_output" if l == L - 1 else f"W_hidden{l + 1}")) for l, W in enumerate(weights)]
    for l in range(1, L):
        cols, H = mats[l].shape[1], mats[l - 1].shape[0]
        if cols != H:
            raise ValueError(f"explain: the {names[l]} weights have {_plural(cols, 'column')} (one per hidden "
                             f"neuron), but the {names[l - 1]} weights give {_plural(H, 'hidden neuron')}")
    for name in (activation, output_activation):
        if name not in activation_table():
            raise ValueError(f"explain: unknown activation {name!r}; expected one of {', '.join(activation_table())}")
    layers = []
    for l, (W, b) in enumerate(zip(mats, biases)):
        d = Dense(W.shape[1], W.shape[0], init="zeros")
        d.W[...] = W.T
        d.b[...] = _bias(b, W.shape[0], names[l])
        layers += [d, activation_table()[activation if l < L - 1 else output_activation][0]()]
    net = Sequential(*layers)
    check_network(net)
    return net


def _matrix(value, what: str) -> Array:
    try:
        A = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"explain: {what} must be a matrix of numbers, got {value!r}") from None
    if A.ndim != 2 or A.size == 0:
        raise ValueError(f"explain: {what} must be a non-empty matrix (rows = neurons), got shape {A.shape}")
    if not np.isfinite(A).all():
        raise ValueError(f"explain: {what} contains NaN or inf")
    return A


def _bias(value, n: int, what: str) -> Array:
    b = np.array(value, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(n, float(b))
    if b.shape != (n,) or not np.isfinite(b).all():
        raise ValueError(f"explain: the {what} bias must be a number or a list of {n} numbers, "
                         f"got {value!r}")
    return b
