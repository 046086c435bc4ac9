"""``minimlp explain``: the printed chain-rule trace against the golden figures.

Expected values come from tests/golden/tutorial_nets.json (two independent implementations,
not minimlp) and from Mazur's post as printed (its ``verification/mazur_published_figures``),
or are worked out by hand in the test.
"""
import json
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

import minimlp as mm
from minimlp.cli import main
from minimlp.explain import build_network, format_markdown, format_text, trace_step
from minimlp.tutorial import tutorial_network

HALF_ULP_9 = 0.5e-9 + 1e-15   # a value printed with 9 decimals is within this of the exact one


def parse_text(text):
    """``label -> printed value`` from the ``label = ... = value`` lines."""
    rows = {}
    for line in text.splitlines():
        if " = " in line and not line.startswith(" "):
            label, value = line.split(" = ")[0], line.rsplit(" = ", 1)[1]
            rows[label] = value
    return rows


def parse_markdown(text):
    rows = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[-1]
    return rows


def run_cli(capsys, *argv):
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def mazur(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 0
    return out, parse_text(out)


GOLDEN_FORWARD = ["net_h1", "net_h2", "out_h1", "out_h2", "net_o1", "net_o2", "out_o1", "out_o2",
                  "E_o1", "E_o2"]
INTERMEDIATES = {  # golden intermediates key -> printed label
    "dE_dout_o1": "dE/dout_o1", "dE_dout_o2": "dE/dout_o2",
    "dout_o1_dnet_o1": "dout_o1/dnet_o1", "dout_o2_dnet_o2": "dout_o2/dnet_o2",
    "delta_o1": "delta_o1", "delta_o2": "delta_o2",
    "dEo1_dout_h1": "dE_o1/dout_h1", "dEo2_dout_h1": "dE_o2/dout_h1",
    "dEo1_dout_h2": "dE_o1/dout_h2", "dEo2_dout_h2": "dE_o2/dout_h2",
    "dE_dout_h1": "dE/dout_h1", "dE_dout_h2": "dE/dout_h2",
    "dout_h1_dnet_h1": "dout_h1/dnet_h1", "dout_h2_dnet_h2": "dout_h2/dnet_h2",
    "delta_h1": "delta_h1", "delta_h2": "delta_h2",
}


def expected_rows(golden, name, bias_mode="frozen"):
    """Printed label -> exact golden value, for one tutorial network."""
    g = golden[name]
    exp = {k: g["forward"][k] for k in GOLDEN_FORWARD}
    exp["E_total"] = g["forward"]["E_total_half_sse"]
    inter = g["gradients"]["half_sse"]["intermediates"]
    exp.update({label: inter[key] for key, label in INTERMEDIATES.items()})
    named = g["gradients"]["half_sse"]["named"]
    step = g["one_step"]["half_sse"][bias_mode]
    for k in range(1, 9):
        exp[f"dE/dw{k}"] = named[f"dE_dw{k}"]
        exp[f"w{k}+"] = step["named"][f"w{k}"]
    exp["E_total+"] = step["E_after"]
    exp["i1"], exp["i2"] = g["setup"]["x"]
    exp["t1"], exp["t2"] = g["setup"]["target"]
    return exp


@pytest.mark.parametrize("name", ["mazur", "notebook"])
def test_printed_trace_matches_golden_to_9_decimals(name, golden, capsys):
    code, out, _ = run_cli(capsys, "--network", name)
    assert code == 0
    rows = parse_text(out)
    exp = expected_rows(golden, name)
    assert set(exp) <= set(rows), f"missing rows: {sorted(set(exp) - set(rows))}"
    for label, value in exp.items():
        printed = rows[label]
        assert len(printed.split(".")[1]) == 9, (label, printed)
        assert abs(float(printed) - value) <= HALF_ULP_9, (label, printed, value)


@pytest.mark.parametrize("name", ["mazur", "notebook"])
def test_trace_values_are_minimlps_full_precision(name, golden):
    net, X, T = tutorial_network(name)
    trace = trace_step(net, X, T, lr=0.5)
    for label, value in expected_rows(golden, name).items():
        assert trace.values[label] == pytest.approx(value, rel=0, abs=1e-12), label


# Mazur's published figure -> the label explain prints it under.
PUBLISHED_LABELS = {
    "net_h1": "net_h1", "out_h1": "out_h1", "out_h2": "out_h2", "net_o1": "net_o1",
    "out_o1": "out_o1", "out_o2": "out_o2", "E_o1": "E_o1", "E_o2": "E_o2", "E_total": "E_total",
    "dE_total/dout_o1": "dE/dout_o1", "dout_o1/dnet_o1": "dout_o1/dnet_o1",
    "dE_total/dw5": "dE/dw5", "w5+": "w5+", "w6+": "w6+", "w7+": "w7+", "w8+": "w8+",
    "dE_o1/dnet_o1 (delta_o1)": "delta_o1", "dE_o1/dout_h1": "dE_o1/dout_h1",
    "dE_total/dout_h1": "dE/dout_h1", "dout_h1/dnet_h1": "dout_h1/dnet_h1",
    "dE_total/dw1": "dE/dw1", "w1+": "w1+", "w2+": "w2+", "w3+": "w3+", "w4+": "w4+",
}


def test_mazur_published_figures_to_the_printed_digits(golden, mazur):
    _, rows = mazur
    figures = golden["verification"]["mazur_published_figures"]
    checked = 0
    for fig in figures:
        if not fig["reproduced_at_printed_precision"]:
            continue
        published = fig["published"]
        decimals = len(published.split(".")[1])
        printed = Decimal(rows[PUBLISHED_LABELS[fig["figure"]]])
        assert printed.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP) == Decimal(published), fig
        checked += 1
    assert checked == 25


def test_mazur_typo_is_not_copied(mazur):
    # The post prints dE_o2/dout_h1 as -0.01904919 and -0.019049119; the exact value is
    # delta_o2 * w7 = -0.0380982365... * 0.5 = -0.01904911825...
    _, rows = mazur
    assert rows["dE_o2/dout_h1"] == "-0.019049118"


def note_rows(out):
    """The closing table of the Mazur trace: ``{figure: (post, this method)}``."""
    note = out[out.index("The post's figures after training"):]
    rows = {}
    for line in note.splitlines()[2:]:
        cells = [c for c in line.strip().split("   ") if c.strip()]
        rows[cells[0].strip()] = tuple(c.strip() for c in cells[1:])
    return rows


def test_mazur_note_on_after_training_figures(golden, mazur):
    out, _ = mazur
    rows = note_rows(out)
    # The correct values, from the golden training run (biases frozen, E = 1/2 SSE).
    train = golden["mazur"]["training"]["half_sse"]["frozen"]
    E1 = train["E_after_steps"]["1"]
    E10k = train["E_after_steps"]["10000"]
    E9999 = train["E_after_steps"]["9999"]
    o1, o2 = train["outputs_after_steps"]["10000"]
    assert rows["E after the first round"] == ("0.291027924", f"{E1:.9f}")
    assert rows["E after 10,000 rounds"] == ("0.000035085", f"{E10k:.10f}")
    assert rows["E after 9,999 rounds (other copies' 10,000-round figure)"] == (
        "0.0000351085", f"{E9999:.10f}")
    assert rows["out_o1, out_o2 after 10,000 rounds"] == (
        "0.015912196, 0.984065734", f"{o1:.9f}, {o2:.9f}")
    # ... which are the corrected figures of the golden README
    assert (f"{E1:.9f}", f"{E10k:.10f}", f"{o1:.9f}", f"{o2:.9f}") == (
        "0.291027774", "0.0000351019", "0.015913620", "0.984064274")


def test_markdown_has_the_same_numbers(capsys):
    _, text, _ = run_cli(capsys)
    code, md, _ = run_cli(capsys, "--format", "markdown")
    assert code == 0
    md_rows, text_rows = parse_markdown(md), parse_text(text)
    assert md_rows and md_rows == {k: v for k, v in text_rows.items() if k in md_rows}
    assert len(md_rows) == 48   # 4 inputs/targets, 8 forward, 3 errors, 10 + 14 backward, 9 update
    assert md.startswith("### ")


def test_train_biases_matches_golden_per_neuron_step(golden, capsys):
    code, out, _ = run_cli(capsys, "--train-biases")
    assert code == 0
    rows = parse_text(out)
    step = golden["mazur"]["one_step"]["half_sse"]["per_neuron"]
    for label, key in [("b_h1+", "b_h1"), ("b_h2+", "b_h2"), ("b_o1+", "b_o1"), ("b_o2+", "b_o2"),
                       ("w1+", "w1"), ("w8+", "w8")]:
        assert abs(float(rows[label]) - step["named"][key]) <= HALF_ULP_9, label
    assert abs(float(rows["E_total+"]) - step["E_after"]) <= HALF_ULP_9
    assert "The post's figures" not in out  # the note is about the frozen-bias walkthrough


def test_lr_flag_changes_the_update(golden, capsys):
    code, out, _ = run_cli(capsys, "--lr", "0.1")
    rows = parse_text(out)
    w5, g5 = 0.40, golden["mazur"]["gradients"]["half_sse"]["named"]["dE_dw5"]
    assert abs(float(rows["w5+"]) - (w5 - 0.1 * g5)) <= HALF_ULP_9


def test_custom_relu_network_worked_by_hand(capsys):
    # 2-1-1: h = relu(1*0.5 - 1*0.2) = 0.3; o = 2*h = 0.6; E = (1 - 0.6)^2 = 0.16 (MSE, K = 1);
    # dE/do = 2(o - t) = -0.8; dE/dw3 = -0.8*1*0.3 = -0.24; dE/dh = -0.8*2 = -1.6;
    # dE/dw1 = -1.6*1*0.5 = -0.8; dE/dw2 = -1.6*0.2 = -0.32; lr 0.5: w1+ = 1.4, w2+ = -0.84,
    # w3+ = 2.12; then h = 1.4*0.5 - 0.84*0.2 = 0.532, o = 2.12*0.532 = 1.12784,
    # E = 0.12784^2 = 0.0163430656.
    code, out, _ = run_cli(capsys, "--weights", "[[[1, -1]], [[2]]]", "--inputs", "[0.5, 0.2]",
                           "--targets", "[1]", "--biases", "[0, 0]", "--activation", "relu",
                           "--output-activation", "identity")
    assert code == 0
    rows = parse_text(out)
    expected = {"net_h1": 0.3, "out_h1": 0.3, "out_o1": 0.6, "E_total": 0.16, "dE/dout_o1": -0.8,
                "dout_h1/dnet_h1": 1.0, "dE/dw3": -0.24, "dE/dout_h1": -1.6, "dE/dw1": -0.8,
                "dE/dw2": -0.32, "w1+": 1.4, "w2+": -0.84, "w3+": 2.12, "E_total+": 0.0163430656}
    for label, value in expected.items():
        assert abs(float(rows[label]) - value) <= HALF_ULP_9, label


CUSTOM_1_OUTPUT = ["--weights", "[[[1, -1]], [[2]]]", "--inputs", "[0.5, 0.2]", "--targets", "[1]",
                   "--biases", "[0, 0]", "--activation", "relu", "--output-activation", "identity"]


def test_one_output_network_prints_the_mse_it_uses_without_mazur(capsys):
    code, out, _ = run_cli(capsys, *CUSTOM_1_OUTPUT)
    assert code == 0
    assert "E = MSE = 1/n * sum_k (t_k - out_ok)^2 with n = 1 output;" in out
    assert "1/1" not in out and "2/1" not in out and "1 outputs" not in out
    assert "E_o1 = (t1 - out_o1)^2 = (1.000000000 - 0.600000000)^2 = 0.160000000" in out
    assert "dE/dout_o1 = 2 (out_o1 - t1) = " in out
    assert "Mazur's" not in out and "1/2 SSE" not in out   # his E = 1/2 SSE needs 2 outputs
    assert "the biases stay frozen)" in out


def test_three_outputs_mean_over_three(capsys):
    code, out, _ = run_cli(capsys, "--weights", "[[[1, 0]], [[1], [2], [3]]]", "--targets", "[0, 0, 0]",
                           "--biases", "[0, 0]", "--activation", "identity", "--output-activation",
                           "identity", "--inputs", "[1, 0]")
    assert code == 0
    assert "with n = 3 outputs" in out and "Mazur" not in out
    # o = (1, 2, 3), t = 0: E = (1 + 4 + 9) / 3
    assert abs(float(parse_text(out)["E_total"]) - 14 / 3) <= HALF_ULP_9


def test_only_mazurs_own_network_points_to_his_post(capsys):
    _, out, _ = run_cli(capsys)
    assert "the biases stay frozen, as in Mazur's post" in out
    assert "Mazur's E = sum_k 1/2 (t_k - out_ok)^2 (1/2 SSE)" in out    # 2 outputs: the identity holds
    for argv in (["--network", "notebook"], ["--weights", "[[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6], [0.7, 0.8]]]"]):
        _, out, _ = run_cli(capsys, *argv)
        assert "the biases stay frozen" in out and "as in Mazur's post" not in out, argv


def test_one_hidden_neuron_is_singular_in_messages(capsys):
    code, _, err = run_cli(capsys, "--weights", "[[[1, 2]], [[1, 2]]]")
    assert code == 2
    assert "2 columns" in err and "give 1 hidden neuron" in err and "1 hidden neurons" not in err


def test_config_key_typo_gets_a_suggestion(tmp_path, capsys):
    (tmp_path / "c.json").write_text('{"weigths": [], "lr": 1}')
    code, _, err = run_cli(capsys, "--config", str(tmp_path / "c.json"))
    assert code == 2 and "unknown key 'weigths' (did you mean 'weights'?)" in err


def test_relu_slope_is_zero_for_a_negative_net_input():
    net = build_network([[-1.0, 0.0], [1.0, 1.0]], [[1.0, 1.0]], 0.0, 0.0, "relu", "sigmoid")
    trace = trace_step(net, [[1.0, 1.0]], [[0.0]], lr=1.0)
    assert trace.values["net_h1"] == -1.0 and trace.values["out_h1"] == 0.0
    assert trace.values["dout_h1/dnet_h1"] == 0.0
    assert trace.values["dE/dw1"] == 0.0 and trace.values["w1+"] == -1.0
    assert trace.values["dout_h2/dnet_h2"] == 1.0


def test_config_file_json_and_toml_equal_the_flags(tmp_path, capsys):
    cfg = {"weights": [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [[0.7, 0.8]]],
           "biases": [0.1, [0.2]], "inputs": [1, 2, 3], "targets": [0.5], "lr": 0.25}
    (tmp_path / "net.json").write_text(json.dumps(cfg))
    (tmp_path / "net.toml").write_text(
        "inputs = [1, 2, 3]\ntargets = [0.5]\nlr = 0.25\n"
        "[weights]\nhidden = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]\noutput = [[0.7, 0.8]]\n"
        "[biases]\nhidden = 0.1\noutput = [0.2]\n")
    _, from_flags, _ = run_cli(capsys, *[a for k, v in cfg.items() for a in (f"--{k}", json.dumps(v))])
    for name in ("net.json", "net.toml"):
        code, out, err = run_cli(capsys, "--config", str(tmp_path / name))
        assert code == 0, err
        assert out == from_flags
    rows = parse_text(from_flags)
    # net_h1 = 0.1*1 + 0.2*2 + 0.3*3 + 0.1 = 1.5
    assert rows["net_h1"] == "1.500000000"
    assert "w8+" in rows and "w9+" not in rows   # 3*2 + 2*1 = 8 weights
    assert "-- The update --" in from_flags


@pytest.mark.parametrize("argv, fragment", [
    (["--weights", "[[1, 2]"], "not valid JSON"),
    (["--weights", "[[[1, 2]]]"], "two entries"),
    (["--inputs", "[1, 2, 3]"], "inputs must be a list of 2"),
    (["--targets", "[1]"], "targets"),
    (["--weights", "[[[1, 2], [3, 4]], [[1, 2, 3]]]"], "columns"),
    (["--weights", json.dumps([[[0.1] * 2] * 7, [[0.1] * 7]])], "too wide"),
    (["--config", "/nonexistent/cfg.json"], "no such file"),
    (["--digits", "0"], "--digits"),
])
def test_user_mistakes_exit_2_with_a_message(argv, fragment, capsys):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert fragment in err and "Traceback" not in err
    assert out == ""


def test_unknown_config_key_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "c.json").write_text('{"weigths": []}')
    code, _, err = run_cli(capsys, "--config", str(tmp_path / "c.json"))
    assert code == 2 and "weigths" in err


def test_engine_refuses_what_it_cannot_explain():
    net, X, T = tutorial_network("mazur")
    with pytest.raises(ValueError, match="at most 8 samples"):   # a batch is explained, a big one not
        trace_step(net, np.vstack([X] * 9), np.vstack([T] * 9))
    with pytest.raises(ValueError, match="one hidden layer"):
        trace_step(mm.Sequential(mm.Dense(2, 2), mm.Sigmoid()), X, T)
    with pytest.raises(ValueError, match="activation"):
        trace_step(mm.Sequential(mm.Dense(2, 2), mm.Softmax(), mm.Dense(2, 2), mm.Sigmoid()), X, T)


def test_the_step_updates_the_network_like_sgd(golden):
    net, X, T = tutorial_network("mazur")
    trace = trace_step(net, X, T)
    step = golden["mazur"]["one_step"]["half_sse"]["frozen"]["dense_in_out"]
    np.testing.assert_allclose(net[0].W, step["W_hidden"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(net[2].W, step["W_output"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(net[0].b, [0.35, 0.35])   # frozen
    assert format_text(trace).count("\n") > 60
    assert "| `w5+` |" in format_markdown(trace)


def test_the_trace_reads_minimlps_backward_not_its_own_formula(golden, monkeypatch):
    # Break Sigmoid.backward (slope doubled): the trace must show the broken slope, since it
    # reports what minimlp computes rather than recomputing out(1 - out) itself.
    original = mm.Sigmoid.backward

    def doubled(self, dY, *args, **kwargs):
        return 2.0 * original(self, dY, *args, **kwargs)

    monkeypatch.setattr(mm.Sigmoid, "backward", doubled)
    net, X, T = tutorial_network("mazur")
    trace = trace_step(net, X, T)
    slope = golden["mazur"]["gradients"]["half_sse"]["intermediates"]["dout_o1_dnet_o1"]
    assert trace.values["dout_o1/dnet_o1"] == pytest.approx(2 * slope, rel=1e-12)


# -- any small net: softmax + cross-entropy, batches, several hidden layers ------------------

def numpy_loss(weights, biases, acts, X, T, loss):
    """E by plain numpy, weights in the tutorials' (out, in) layout: the finite-difference oracle."""
    f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
         "identity": lambda z: z}
    A = np.asarray(X, float)
    for l, (W, b) in enumerate(zip(weights, biases)):
        Z = A @ np.asarray(W, float).T + b
        A = f[acts[l]](Z)
    if loss == "mse":
        return np.mean((A - T) ** 2)
    P = np.exp(A - A.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return -np.mean(np.sum(T * np.log(P), axis=1))


def numeric_gradients(weights, biases, acts, X, T, loss, h=1e-6):
    """dE/dw for every weight, numbered w1.. neuron by neuron, layer by layer (central differences)."""
    grads, k = {}, 0
    for l, W in enumerate(weights):
        W = np.asarray(W, float)
        for j in range(W.shape[0]):
            for i in range(W.shape[1]):
                k += 1
                plus = [np.array(w, float) for w in weights]
                minus = [np.array(w, float) for w in weights]
                plus[l][j, i] += h
                minus[l][j, i] -= h
                grads[f"dE/dw{k}"] = (numpy_loss(plus, biases, acts, X, T, loss)
                                      - numpy_loss(minus, biases, acts, X, T, loss)) / (2 * h)
    return grads


MAZUR_W = [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]]


def test_batch_gradient_is_the_mean_of_the_per_sample_gradients():
    X = np.array([[0.05, 0.10], [0.5, -0.2], [1.0, 1.0]])
    T = np.array([[0.01, 0.99], [0.3, 0.7], [0.9, 0.1]])
    acts = ["sigmoid", "sigmoid"]
    net = build_network(*MAZUR_W, 0.35, 0.60)
    trace = trace_step(net, X, T, mm.MSELoss(), 0.5)
    whole = numeric_gradients(MAZUR_W, [0.35, 0.60], acts, X, T, "mse")
    for n in range(3):
        own = numeric_gradients(MAZUR_W, [0.35, 0.60], acts, X[n:n + 1], T[n:n + 1], "mse")
        for label, g in own.items():
            assert trace.values[label.replace("dE/", f"dE[{n + 1}]/")] == pytest.approx(g, abs=1e-9)
        assert trace.values[f"E_total[{n + 1}]"] == pytest.approx(
            numpy_loss(MAZUR_W, [0.35, 0.60], acts, X[n:n + 1], T[n:n + 1], "mse"), abs=1e-15)
    for label, g in whole.items():
        assert trace.values[label] == pytest.approx(g, abs=1e-9), label
    assert trace.E == pytest.approx(numpy_loss(MAZUR_W, [0.35, 0.60], acts, X, T, "mse"), abs=1e-15)
    text = trace.to_text()
    assert "-- The batch of 3 samples --" in text
    assert "dE/dw5 = 1/3 (dE[1]/dw5 + dE[2]/dw5 + dE[3]/dw5) = " in text
    assert "-- Forward pass, hidden layer (sample 2 of 3) --" in text
    assert "a batch of 3 samples" in text
    # the update uses the batch's gradient
    assert trace.values["w5+"] == pytest.approx(0.40 - 0.5 * whole["dE/dw5"], abs=1e-9)


def test_softmax_cross_entropy_by_hand(golden):
    # Mazur's forward values (golden) with a softmax on (net_o1, net_o2) and t = (0, 1):
    # p = softmax(net_o1, net_o2); delta_o = p - t; dE/dw5 = delta_o1 * out_h1.
    fwd = golden["mazur"]["forward"]
    net = build_network(*MAZUR_W, 0.35, 0.60, output_activation="identity")
    trace = trace_step(net, [[0.05, 0.10]], [[0.0, 1.0]], mm.CrossEntropyLoss(), 0.5)
    z = np.array([fwd["net_o1"], fwd["net_o2"]])
    p = np.exp(z) / np.exp(z).sum()
    assert trace["out_o1"] == pytest.approx(p[0], abs=1e-12)
    assert trace["delta_o1"] == pytest.approx(p[0] - 0.0, abs=1e-12)
    assert trace["delta_o2"] == pytest.approx(p[1] - 1.0, abs=1e-12)
    assert trace["dE/dw5"] == pytest.approx(p[0] * fwd["out_h1"], abs=1e-12)
    assert trace["E_total"] == pytest.approx(-np.log(p[1]), abs=1e-12)
    assert trace.layers[-1].activation == "softmax" and trace.layers[-1].dE_dout is None
    for label, g in numeric_gradients(MAZUR_W, [0.35, 0.60], ["sigmoid", "identity"],
                                      [[0.05, 0.10]], [[0.0, 1.0]], "ce").items():
        assert trace[label] == pytest.approx(g, abs=1e-9), label
    text = trace.to_text()
    assert "delta_o1 = dE/dnet_o1 = out_o1 - t1 = " in text
    assert "out_o1 = softmax(net_o)_1 = e^net_o1 / (e^net_o1 + e^net_o2) = " in text
    assert "E_o2 = -t2 log(out_o2) = " in text
    # labels as targets give the same trace
    again = trace_step(build_network(*MAZUR_W, 0.35, 0.60, output_activation="identity"),
                       [[0.05, 0.10]], np.array([1]), mm.CrossEntropyLoss(), 0.5)
    assert again.values == trace.values


def test_two_hidden_layers_and_a_batch_against_finite_differences():
    W = [[[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]], [[0.7, -0.8, 0.9], [0.1, 0.2, 0.3]], [[0.5, 0.4], [-0.3, 0.2]]]
    b = [0.1, 0.2, 0.3]
    X, T = np.array([[0.5, 0.2], [1.0, -1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    for loss, out_act in ((mm.MSELoss(), "sigmoid"), (mm.CrossEntropyLoss(), "identity")):
        net = mm.explain.build_stack(W, b, "tanh", out_act)
        trace = trace_step(net, X, T, loss, 0.5)
        kind = "mse" if isinstance(loss, mm.MSELoss) else "ce"
        for label, g in numeric_gradients(W, b, ["tanh", "tanh", out_act], X, T, kind).items():
            assert trace[label] == pytest.approx(g, abs=1e-9), (kind, label)
        assert [l.neurons for l in trace.layers] == [["h1_1", "h1_2", "h1_3"], ["h2_1", "h2_2"], ["o1", "o2"]]
        assert "dE_h2_1/dout_h1_1[1]" in trace.values and "w16+" in trace.values and "w17+" not in trace.values
        assert "-- Backward pass, hidden layer 1 (sample 2 of 2) --" in trace.to_text()


def test_trace_is_a_documented_object_of_arrays():
    net, X, T = tutorial_network("mazur")
    trace = mm.explain.trace_step(net, X, T, mm.MSELoss(), 0.5)
    assert trace.to_text() == format_text(trace) and trace.to_markdown() == format_markdown(trace)
    hidden, output = trace.layers
    assert output.dW.shape == (2, 2) and output.weight_names[0][0] == "w5"
    assert output.dW[0, 0] == trace["dE/dw5"] and hidden.delta[0, 0] == trace["delta_h1"]
    assert output.W[0, 0] == 0.40 and output.W_new[0, 0] == trace["w5+"]
    assert trace.E == trace["E_total"] and trace.E_after == trace["E_total+"]
    np.testing.assert_array_equal(trace.X, X)
    # the old positional lr still works
    assert trace_step(tutorial_network("mazur")[0], X, T, 0.5).values == trace.values


def test_cli_explains_a_batch_a_softmax_and_a_deeper_net(capsys):
    code, out, err = run_cli(capsys, "--inputs", "[[0.05, 0.1], [0.5, 0.2]]",
                             "--targets", "[[0.01, 0.99], [0.5, 0.5]]")
    assert code == 0, err
    rows = parse_text(out)
    assert "dE[2]/dw5" in rows and "net_h1[2]" in rows and "The post's figures" not in out
    code, out, err = run_cli(capsys, "--loss", "cross_entropy", "--targets", "[0, 1]")
    assert code == 0, err
    assert "softmax, in the loss" in out and "delta_o1 = dE/dnet_o1 = out_o1 - t1" in out
    code, out, err = run_cli(capsys, "--weights", json.dumps([[[0.1, 0.2]], [[0.5]], [[0.3], [0.4]]]),
                             "--biases", "[0, 0, 0]")
    assert code == 0, err
    assert "-- Backward pass, hidden layer 2 --" in out and "h2_1" in out
    code, _, err = run_cli(capsys, "--loss", "cross_entropy", "--output-activation", "sigmoid",
                           "--targets", "[0, 1]")
    assert code == 2 and "CrossEntropyLoss applies the softmax" in err
    code, _, err = run_cli(capsys, "--weights", json.dumps(MAZUR_W), "--biases", "[0, 0, 0]")
    assert code == 2 and "expected 2 entries" in err


def test_demo_says_why_its_numbers_differ_from_the_post(golden):
    from minimlp.commands.demo import tutorial_demo
    lines = []
    tutorial_demo("mazur", steps=10000, out=lines.append)
    o1, o2 = golden["mazur"]["training"]["half_sse"]["frozen"]["outputs_after_steps"]["10000"]
    at = next(i for i, line in enumerate(lines) if line.startswith("after 10000 steps"))
    assert f"{o1:.9f}" in lines[at] and f"{o2:.9f}" in lines[at]
    assert "0.015912196, 0.984065734" in lines[at + 1] and "updated w5..w8 before" in lines[at + 1]
    assert "tutorial-errata.md" in lines[at + 1]
    notebook = []
    tutorial_demo("notebook", steps=10, out=notebook.append)
    assert not any("the post prints" in line for line in notebook)


def test_an_activation_without_a_formula_is_traced_from_its_own_backward():
    """SiLU has no entry in the formula table: the trace still shows its numbers (from the
    layer's backward) and the chain rule checks, with the formula in words."""
    net = mm.Sequential(mm.Dense(2, 2, rng=0), mm.SiLU(), mm.Dense(2, 2, rng=1), mm.Sigmoid())
    X, T = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    trace = mm.explain.trace_step(net, X, T, mm.MSELoss(), 0.5)
    text = trace.to_text()
    assert "SiLU(net_h1)" in text
    hidden = trace.layers[0]
    z = X @ hidden.W + hidden.b          # the weights before the step
    np.testing.assert_allclose(hidden.net, z, rtol=1e-14)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(hidden.slope, s * (1 + z * (1 - s)), rtol=1e-12)
