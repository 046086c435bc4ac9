"""The chain rule, written out: a trace of one SGD step of a small two-layer network.

``trace_step(net, X, T)`` runs one training step of a ``Sequential(Dense, act, Dense, act)``
on one sample and records every number a person computes when deriving backpropagation by
hand, in that order (Mazur, "A Step by Step Backpropagation Example", 2015):

1. each neuron's net input and output;
2. for each output-layer weight the three factors dE/dout, dout/dnet, dnet/dw and their
   product;
3. the error reaching each hidden neuron from every output, summed, and the hidden-layer
   weights' factors;
4. the updated weights, and the loss after the step.

Nothing here differentiates anything. Every value is read from minimlp itself: net inputs
are the ``Dense`` layers' outputs, ``dE/dout`` is ``loss.backward()``, ``dout/dnet`` is the
activation's ``backward`` applied to ones (its local slope, from its cached output or mask),
``delta = dE/dnet`` is the activation's ``backward`` applied to ``dE/dout``, the summed
hidden error is the output ``Dense.backward``'s ``dX``, the weight gradients are ``Dense.dW``
and the updated weights come from ``SGD.step()``. The product of the three printed factors
is checked against ``Dense.dW``.

Naming follows Mazur: inputs i1.., hidden neurons h1.., outputs o1..; weights w1, w2, ...
numbered neuron by neuron (into h1 first, then into h2, ..., then into o1, ...), i.e. row by
row in the tutorials' ``(out, in)`` layout. ``Dense.W`` is ``(in, out)``, so the weight from
input i into hidden neuron j is ``W[i, j]``.

Run ``minimlp explain`` (see ``minimlp.commands.explain``) to print a trace.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .layers import Dense
from .losses import MSELoss
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

#: The largest layer width the trace accepts: beyond it a printed trace is no longer readable.
MAX_WIDTH = 6


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
class Trace:
    """The recorded step: ``sections`` in derivation order, ``values`` by label (full precision)."""

    title: str
    header: list[str]
    sections: list[Section]
    values: dict[str, float]
    footer: list[str] = field(default_factory=list)
    #: A closing table (header row first), e.g. the post's figures against this method's.
    footer_table: list[tuple[str, ...]] = field(default_factory=list)
    digits: int = 9


def _activation_name(layer) -> str:
    for name, (cls, _, _) in ACTIVATIONS.items():
        if type(layer) is cls:
            return name
    raise ValueError(
        f"explain: layer {layer!r} is not an activation the trace can explain; expected one of "
        f"{', '.join(c.__name__ for c, _, _ in ACTIVATIONS.values())}")


def check_network(net: Sequential) -> tuple[str, str]:
    """The (hidden, output) activation names of ``Sequential(Dense, act, Dense, act)``.

    Raises ``ValueError`` for any other structure or for a layer wider than ``MAX_WIDTH``.
    """
    if not isinstance(net, Sequential):
        raise TypeError(f"explain: expected a Sequential, got {type(net).__name__}")
    layers = net.layers
    if len(layers) != 4 or not isinstance(layers[0], Dense) or not isinstance(layers[2], Dense):
        raise ValueError("explain: expected Sequential(Dense, activation, Dense, activation) "
                         f"(one hidden layer), got {[type(l).__name__ for l in layers]}")
    for d in (layers[0], layers[2]):
        if max(d.in_features, d.out_features) > MAX_WIDTH:
            raise ValueError(f"explain: {d!r} is too wide to print readably (at most {MAX_WIDTH} "
                             "neurons per layer)")
        if d.b is None:
            raise ValueError(f"explain: {d!r} has no bias; build it with bias=True")
    return _activation_name(layers[1]), _activation_name(layers[3])


class _Fmt:
    def __init__(self, digits: int):
        self.digits = digits

    def __call__(self, v: float) -> str:
        return f"{v:.{self.digits}f}"

    def p(self, v: float) -> str:
        """A number as a term of an expression: negative numbers in parentheses."""
        s = self(v)
        return f"({s})" if v < 0 else s


def trace_step(net: Sequential, X, T, lr: float = 0.5, *, train_biases: bool = False,
               title: str | None = None, digits: int = 9, mazur: bool = False) -> Trace:
    """Run one SGD step of ``net`` on one sample and record the chain rule as a person derives it.

    ``net`` is ``Sequential(Dense(D, H), act, Dense(H, K), act)`` with ``act`` one of
    Sigmoid, ReLU, Tanh, Identity; ``X`` has shape ``(1, D)`` and ``T`` shape ``(1, K)``.
    The loss is ``MSELoss``: ``E = MSE = 1/K * sum_k (t_k - o_k)^2``, which for K = 2 outputs
    is Mazur's ``E = sum_k 1/2 (t_k - o_k)^2`` (the trace says so only then). The weights are
    updated in place by ``SGD(lr)``; the biases only when ``train_biases``. ``mazur`` says the
    network is Mazur's own, so the text may point to his post (frozen biases).
    ``digits`` is the number of decimals in the rows' ``numbers`` strings.
    """
    hid_act, out_act = check_network(net)
    X = net.check_input(X)
    if X.shape[0] != 1:
        raise ValueError(f"explain: traces one sample; got a batch of {X.shape[0]} (X of shape {X.shape})")
    dense_h, act_h, dense_o, act_o = net.layers
    D, H, K = dense_h.in_features, dense_h.out_features, dense_o.out_features
    loss = MSELoss()
    T = loss.check_targets(T, (1, K), net.dtype)
    f = _Fmt(digits)
    inp = [f"i{i + 1}" for i in range(D)]
    hid = [f"h{j + 1}" for j in range(H)]
    out = [f"o{k + 1}" for k in range(K)]

    def w_hidden(i, j):  # weight from input i into hidden neuron j
        return f"w{j * D + i + 1}"

    def w_output(j, k):  # weight from hidden neuron j into output neuron k
        return f"w{D * H + k * H + j + 1}"

    W_h0, b_h0 = dense_h.W.copy(), dense_h.b.copy()
    W_o0, b_o0 = dense_o.W.copy(), dense_o.b.copy()

    # ---- forward, layer by layer (what Sequential.forward does), keeping each output
    net_h = dense_h.forward(X).copy()
    out_h = act_h.forward(net_h).copy()
    net_o = dense_o.forward(out_h).copy()
    out_o = act_o.forward(net_o).copy()
    E = loss.forward(out_o, T)
    # ---- backward, in reverse
    dE_dout_o = loss.backward().copy()
    slope_o = act_o.backward(np.ones_like(out_o)).copy()
    delta_o = act_o.backward(dE_dout_o).copy()
    dE_dout_h = dense_o.backward(delta_o).copy()          # sum over outputs: delta_o W_o^T
    dW_o, db_o = dense_o.dW.copy(), dense_o.db.copy()
    slope_h = act_h.backward(np.ones_like(out_h)).copy()
    delta_h = act_h.backward(dE_dout_h).copy()
    dense_h.backward(delta_h)
    dW_h, db_h = dense_h.dW.copy(), dense_h.db.copy()
    # ---- the update: every gradient above was taken at the original weights
    params = net.parameters() if train_biases else [p for p in net.parameters() if p.name == "W"]
    SGD(params, lr=lr).step()
    E_after = loss.forward(net.predict(X), T)

    values: dict[str, float] = {}
    sections: list[Section] = []

    def row(sec: Section, label: str, formula: str, numbers: str, value) -> None:
        value = float(value)
        values[label] = value
        sec.rows.append(Row(label, formula, numbers, value))

    x, t = X[0], T[0]
    sec = Section("The inputs and targets")
    for i in range(D):
        row(sec, inp[i], "", "", x[i])
    for k in range(K):
        row(sec, f"t{k + 1}", "", "", t[k])
    sections.append(sec)

    def forward_section(title, names, prev_names, prev_vals, W, b, wname, nets, outs, act):
        sec = Section(title)
        _, fwd, _ = ACTIVATIONS[act]
        for j, n in enumerate(names):
            terms = [f"{wname(i, j)}*{p}" for i, p in enumerate(prev_names)]
            nums = [f"{f.p(W[i, j])}*{f.p(prev_vals[i])}" for i in range(len(prev_names))]
            row(sec, f"net_{n}", " + ".join(terms + [f"b_{n}"]), " + ".join(nums + [f.p(b[j])]), nets[j])
            row(sec, f"out_{n}", f"{act}(net_{n}) = " + fwd.format(net=f"net_{n}"),
                "" if act == "identity" else fwd.format(net=f.p(nets[j])), outs[j])
        return sec

    sections.append(forward_section(
        "Forward pass, hidden layer", hid, inp, x, W_h0, b_h0, w_hidden, net_h[0], out_h[0], hid_act))
    sections[-1].note = "Net inputs from Dense.forward, outputs from the activation's forward"
    hid_out_names = [f"out_{n}" for n in hid]
    sections.append(forward_section(
        "Forward pass, output layer", out, hid_out_names, out_h[0], W_o0, b_o0, w_output,
        net_o[0], out_o[0], out_act))

    sec = Section("The error", f"{_mse(K)}, minimlp's MSELoss"
                  + ("; with 2 outputs it equals Mazur's E = sum_k 1/2 (t_k - out_ok)^2 (1/2 SSE)"
                     if K == 2 else ""))
    half = "" if K == 1 else f"1/{K} "
    for k in range(K):
        row(sec, f"E_{out[k]}", f"{half}(t{k + 1} - out_{out[k]})^2",
            f"{half}({f(t[k])} - {f(out_o[0, k])})^2", (t[k] - out_o[0, k]) ** 2 / K)
    row(sec, "E_total", " + ".join(f"E_{o}" for o in out), "", E)
    sections.append(sec)

    # ---- output layer
    _, _, slope_o_txt = ACTIVATIONS[out_act]
    sec = Section("Backward pass, output layer",
                  "The loss gradient dE/dout from loss.backward(); dout/dnet from the activation's backward of ones; "
                  "dE/dw from Dense.dW; dnet/dw is the input the weight multiplies")
    for k, o in enumerate(out):
        if K == 2:  # 2/K = 1: Mazur's dE/dout = -(target - out)
            formula, numbers = f"out_{o} - t{k + 1}", f"{f(out_o[0, k])} - {f(t[k])}"
        else:
            two = "2" if K == 1 else f"2/{K}"
            formula, numbers = f"{two} (out_{o} - t{k + 1})", f"{two} ({f(out_o[0, k])} - {f(t[k])})"
        row(sec, f"dE/dout_{o}", formula, numbers, dE_dout_o[0, k])
        row(sec, f"dout_{o}/dnet_{o}", slope_o_txt.format(out=f"out_{o}", net=f"net_{o}"), "",
            slope_o[0, k])
        row(sec, f"delta_{o}", f"dE/dnet_{o} = dE/dout_{o} * dout_{o}/dnet_{o}",
            f"{f.p(dE_dout_o[0, k])} * {f.p(slope_o[0, k])}", delta_o[0, k])
    for k, o in enumerate(out):
        for j, h in enumerate(hid):
            w = w_output(j, k)
            product = dE_dout_o[0, k] * slope_o[0, k] * out_h[0, j]
            _check(product, dW_o[j, k], w)
            row(sec, f"dE/d{w}", f"dE/dout_{o} * dout_{o}/dnet_{o} * dnet_{o}/d{w}",
                f"{f.p(dE_dout_o[0, k])} * {f.p(slope_o[0, k])} * {f.p(out_h[0, j])}", dW_o[j, k])
    sections.append(sec)

    # ---- hidden layer
    _, _, slope_h_txt = ACTIVATIONS[hid_act]
    sec = Section("Backward pass, hidden layer",
                  "Each output sends back delta_o * w; their sum is Dense.backward's dX; the "
                  "original output weights are used, not the updated ones")
    for j, h in enumerate(hid):
        parts = []
        for k, o in enumerate(out):
            w = w_output(j, k)
            contrib = delta_o[0, k] * W_o0[j, k]
            parts.append(contrib)
            row(sec, f"dE_{o}/dout_{h}", f"delta_{o} * {w}", f"{f.p(delta_o[0, k])} * {f.p(W_o0[j, k])}",
                contrib)
        _check(sum(parts), dE_dout_h[0, j], f"dE/dout_{h}")
        row(sec, f"dE/dout_{h}", " + ".join(f"dE_{o}/dout_{h}" for o in out),
            " + ".join(f.p(p) for p in parts), dE_dout_h[0, j])
        row(sec, f"dout_{h}/dnet_{h}", slope_h_txt.format(out=f"out_{h}", net=f"net_{h}"), "",
            slope_h[0, j])
        row(sec, f"delta_{h}", f"dE/dnet_{h} = dE/dout_{h} * dout_{h}/dnet_{h}",
            f"{f.p(dE_dout_h[0, j])} * {f.p(slope_h[0, j])}", delta_h[0, j])
    for j, h in enumerate(hid):
        for i, a in enumerate(inp):
            w = w_hidden(i, j)
            _check(dE_dout_h[0, j] * slope_h[0, j] * x[i], dW_h[i, j], w)
            row(sec, f"dE/d{w}", f"dE/dout_{h} * dout_{h}/dnet_{h} * dnet_{h}/d{w}",
                f"{f.p(dE_dout_h[0, j])} * {f.p(slope_h[0, j])} * {f.p(x[i])}", dW_h[i, j])
    sections.append(sec)

    # ---- the update
    sec = Section("The update",
                  f"w+ = w - lr * dE/dw with lr = {lr:g}, by SGD.step(), after all gradients were computed"
                  + ("" if train_biases else
                     "; the biases stay frozen" + (", as in Mazur's post" if mazur else "")))
    for dense, W0, names_w, rows_n, cols_n, dW in (
            (dense_o, W_o0, w_output, H, K, dW_o), (dense_h, W_h0, w_hidden, D, H, dW_h)):
        for c in range(cols_n):
            for r in range(rows_n):
                w = names_w(r, c)
                row(sec, f"{w}+", f"{w} - lr * dE/d{w}", f"{f(W0[r, c])} - {lr:g} * {f.p(dW[r, c])}",
                    dense.W[r, c])
    if train_biases:
        for names, b0, db, dense in ((out, b_o0, db_o, dense_o), (hid, b_h0, db_h, dense_h)):
            for j, n in enumerate(names):
                row(sec, f"b_{n}+", f"b_{n} - lr * delta_{n}", f"{f(b0[j])} - {lr:g} * {f.p(db[j])}",
                    dense.b[j])
    row(sec, "E_total+", "E at the updated weights (a fresh forward pass)", "", E_after)
    sections.append(sec)

    header = [
        f"network: {D}-{H}-{K}, {'/'.join(inp)} -> {'/'.join(hid)} ({hid_act}) -> "
        f"{'/'.join(out)} ({out_act}); one sample; weights w1..w{D * H + H * K} numbered neuron by "
        "neuron (the weights into h1 first)",
        f"loss: MSELoss, {_mse(K)}; SGD lr = {lr:g}; biases "
        + ("trained" if train_biases else "frozen"),
    ]
    return Trace(title or f"One SGD step of a {D}-{H}-{K} network, by the chain rule",
                 header, sections, values, digits=digits)


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
    list with one value per neuron.
    """
    W_hidden = _matrix(W_hidden, "W_hidden")
    W_output = _matrix(W_output, "W_output")
    H, D = W_hidden.shape
    K, H2 = W_output.shape
    if H2 != H:
        raise ValueError(f"explain: the output weights have {_plural(H2, 'column')} (one per hidden "
                         f"neuron), but the hidden weights give {_plural(H, 'hidden neuron')}")
    acts = []
    for name in (activation, output_activation):
        if name not in ACTIVATIONS:
            raise ValueError(f"explain: unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
        acts.append(ACTIVATIONS[name][0]())
    dense_h, dense_o = Dense(D, H, init="zeros"), Dense(H, K, init="zeros")
    dense_h.W[...] = W_hidden.T
    dense_o.W[...] = W_output.T
    dense_h.b[...] = _bias(b_hidden, H, "hidden")
    dense_o.b[...] = _bias(b_output, K, "output")
    net = Sequential(dense_h, acts[0], dense_o, acts[1])
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
