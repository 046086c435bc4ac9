"""``minimlp predict --proba``: probabilities computed by scipy from the saved weights."""
import numpy as np
from scipy.special import expit, softmax

import minimlp as mm
from minimlp.cli import main


def run(tmp_path, capsys, net, *flags):
    mm.save(net, tmp_path / "m.npz")
    (tmp_path / "x.csv").write_text("a,b\n0.5,-1\n2,3\n")
    code = main(["predict", "--model", str(tmp_path / "m.npz"), "--input", str(tmp_path / "x.csv"), *flags])
    out, err = capsys.readouterr()
    return code, out, err


def test_proba_is_the_softmax_of_the_logits(tmp_path, capsys):
    net = mm.Sequential(mm.Dense(2, 3, rng=0))
    code, out, _ = run(tmp_path, capsys, net, "--proba")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "p0,p1,p2"
    X = np.array([[0.5, -1.0], [2.0, 3.0]])
    expected = softmax(X @ net[0].W + net[0].b, axis=1)
    np.testing.assert_allclose(np.loadtxt(lines[1:], delimiter=","), expected, rtol=0, atol=1e-15)


def test_proba_of_one_logit_is_its_sigmoid(tmp_path, capsys):
    net = mm.Sequential(mm.Dense(2, 1, rng=1))
    code, out, _ = run(tmp_path, capsys, net, "--proba")
    assert code == 0
    X = np.array([[0.5, -1.0], [2.0, 3.0]])
    got = np.loadtxt(out.strip().splitlines()[1:], delimiter=",")
    np.testing.assert_allclose(got, expit(X @ net[0].W + net[0].b)[:, 0], rtol=0, atol=1e-15)


def test_proba_with_classes_is_refused(tmp_path, capsys):
    code, _, err = run(tmp_path, capsys, mm.Sequential(mm.Dense(2, 3, rng=0)), "--proba", "--classes")
    assert code == 2 and "exclude each other" in err
