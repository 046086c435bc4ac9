"""mm.to_torch / from_torch / from_sklearn / export_onnx: the same function on the other side.

The expected outputs are computed by the other library (torch, scikit-learn, onnxruntime),
never by minimlp: a copied weight in the wrong layout or a wrong activation changes them.
"""
import numpy as np
import pytest

import minimlp as mm

pytestmark = pytest.mark.filterwarnings("ignore:.*Maximum iterations")  # short sklearn fits
from minimlp.cli import main


def every_layer_net(dtype=np.float64):
    """One of each supported layer, with non-trivial norm statistics and parameters."""
    rng = np.random.default_rng(0)
    net = mm.Sequential(
        mm.Dense(3, 6, rng=1, dtype=dtype), mm.BatchNorm1d(6, eps=1e-3, dtype=dtype), mm.ReLU(),
        mm.Dense(6, 5, rng=2, dtype=dtype), mm.LayerNorm(5, dtype=dtype), mm.Tanh(),
        mm.Dense(5, 5, rng=3, dtype=dtype), mm.GELU(), mm.Dropout(0.3, rng=0),
        mm.Dense(5, 5, rng=4, dtype=dtype), mm.GELU("tanh"),
        mm.Sequential(mm.Dense(5, 5, rng=5, dtype=dtype), mm.ELU(0.7)),
        mm.Dense(5, 5, rng=6, dtype=dtype), mm.LeakyReLU(0.1),
        mm.Dense(5, 5, rng=7, dtype=dtype), mm.Softplus(beta=2.0, threshold=3.0),
        mm.Dense(5, 4, rng=8, dtype=dtype), mm.Sigmoid(), mm.Dense(4, 3, rng=9, dtype=dtype),
        mm.Identity(), mm.Softmax())
    bn, ln = net[1], net[4]
    bn.running_mean[...] = rng.normal(size=6)
    bn.running_var[...] = rng.uniform(0.5, 2.0, size=6)
    bn.gamma[...] = rng.normal(size=6)
    bn.beta[...] = rng.normal(size=6)
    ln.gamma[...] = rng.normal(size=5)
    ln.beta[...] = rng.normal(size=5)
    return net


def inputs(dtype=np.float64, N=17):
    return (3 * np.random.default_rng(42).normal(size=(N, 3))).astype(dtype)


# -- torch ----------------------------------------------------------------------------------

def test_to_torch_computes_the_same_function_in_float64():
    torch = pytest.importorskip("torch", reason="torch not installed: pip install 'minimlp[torch]'")
    net, X = every_layer_net(), inputs()
    module = mm.to_torch(net)
    assert isinstance(module, torch.nn.Sequential) and not module.training
    assert isinstance(module[0], torch.nn.Linear) and module[0].weight.dtype == torch.float64
    np.testing.assert_array_equal(module[0].weight.detach().numpy(), net[0].W.T)   # (out, in)
    with torch.no_grad():
        Y_torch = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(net.predict(X), Y_torch, rtol=0, atol=1e-12)


def test_from_torch_computes_the_same_function_and_round_trips():
    torch = pytest.importorskip("torch", reason="torch not installed: pip install 'minimlp[torch]'")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ELU(), nn.Sequential(nn.Linear(8, 4), nn.Tanh()),
                           nn.LayerNorm(4), nn.Linear(4, 2), nn.Softmax(dim=1)).double()
    with torch.no_grad():   # give BatchNorm running statistics that are not 0 and 1
        module.train()(torch.randn(64, 3, dtype=torch.float64) * 2 + 1)
    module.eval()
    X = inputs()
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    net = mm.from_torch(module)
    assert [type(l).__name__ for l in net] == ["Dense", "BatchNorm1d", "ELU", "Dense", "Tanh", "LayerNorm",
                                              "Dense", "Softmax"]
    assert net.dtype == np.float64
    np.testing.assert_allclose(net.predict(X), expected, rtol=0, atol=1e-12)
    with torch.no_grad():
        again = mm.to_torch(net)(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(again, expected, rtol=0, atol=1e-12)


def test_from_torch_names_a_module_it_cannot_convert():
    torch = pytest.importorskip("torch", reason="torch not installed: pip install 'minimlp[torch]'")
    with pytest.raises(TypeError, match="Conv1d.*no equivalent"):
        mm.from_torch(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3)))


@pytest.mark.parametrize("package, call", [
    ("torch", lambda net, tmp: mm.to_torch(net)), ("torch", lambda net, tmp: mm.from_torch(None)),
    ("onnx", lambda net, tmp: mm.export_onnx(net, tmp / "x.onnx"))])
def test_a_missing_package_gives_the_install_line(monkeypatch, tmp_path, package, call):
    import importlib

    import minimlp.interop as interop
    real = importlib.import_module

    def without(name, *args, **kwargs):   # as if the package were not installed (no real re-import)
        if name == package or name.startswith(package + "."):
            raise ModuleNotFoundError(f"No module named {package!r}", name=package)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(interop.importlib, "import_module", without)
    with pytest.raises(ModuleNotFoundError, match=rf"needs the '{package}' package.*minimlp\[{package}\]"):
        call(mm.Sequential(mm.Dense(2, 2)), tmp_path)
    assert not (tmp_path / "x.onnx").exists()


# -- scikit-learn ---------------------------------------------------------------------------

@pytest.mark.parametrize("classes, activation", [(3, "relu"), (2, "tanh"), (4, "logistic"), (3, "identity")])
def test_from_sklearn_classifier_predict_proba_agrees(classes, activation):
    sk = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4))
    y = rng.integers(0, classes, size=60)
    est = sk.MLPClassifier(hidden_layer_sizes=(7, 5), activation=activation, max_iter=30, random_state=0).fit(X, y)
    net = mm.from_sklearn(est)
    P = est.predict_proba(X)
    if classes == 2:
        np.testing.assert_allclose(net.predict(X)[:, 0], P[:, 1], rtol=0, atol=1e-12)
    else:
        np.testing.assert_allclose(net.predict(X), P, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mm.predict_proba(net, X)[:, -1], P[:, -1], rtol=0, atol=1e-12)
    logit_net = mm.from_sklearn(est, logits=True)
    np.testing.assert_allclose(mm.predict_proba(logit_net, X)[:, -1], P[:, -1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(est.classes_[mm.predict_classes(net, X)], est.predict(X))


def test_from_sklearn_regressor_agrees():
    sk = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    Y = np.column_stack([X.sum(1), X[:, 0] * X[:, 1]])
    est = sk.MLPRegressor(hidden_layer_sizes=(6,), max_iter=50, random_state=0).fit(X, Y)
    np.testing.assert_allclose(mm.from_sklearn(est).predict(X), est.predict(X), rtol=0, atol=1e-12)


def test_from_sklearn_refuses_an_unfitted_estimator():
    sk = pytest.importorskip("sklearn.neural_network")
    with pytest.raises(TypeError, match="is it fitted"):
        mm.from_sklearn(sk.MLPClassifier())


def test_from_sklearn_copies_a_minimlp_estimators_model():
    pytest.importorskip("sklearn")
    from minimlp.sklearn import MLPClassifier
    X = np.random.default_rng(3).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    net = mm.from_sklearn(est)
    assert net is not est.model_ and net[0].W is not est.model_[0].W
    np.testing.assert_array_equal(net.predict(X), est.model_.predict(X))


# -- ONNX -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_export_onnx_runs_in_onnxruntime_with_the_same_outputs(tmp_path, dtype, atol):
    pytest.importorskip("onnx", reason="onnx not installed: pip install 'minimlp[onnx]'")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed: pip install 'minimlp[onnx]'")
    net, X = every_layer_net(dtype), inputs(dtype)
    mm.export_onnx(net, tmp_path / "net.onnx")
    session = ort.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    (Y,) = session.run(None, {"X": X})
    assert Y.dtype == dtype and Y.shape == (17, 3)
    np.testing.assert_allclose(Y, net.predict(X), rtol=0, atol=atol)
    (Y1,) = session.run(None, {"X": X[:1]})                # the batch axis is dynamic
    np.testing.assert_allclose(Y1, Y[:1], rtol=0, atol=atol)


def test_export_onnx_matches_on_large_and_small_activations(tmp_path):
    """Softplus, ELU and GELU formulas written in ONNX operators stay finite and exact far out."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    X = np.linspace(-40, 40, 81).reshape(-1, 1)
    for act in (mm.Softplus(), mm.Softplus(beta=0.5, threshold=5.0), mm.ELU(), mm.GELU(), mm.LeakyReLU(0.2)):
        net = mm.Sequential(mm.Dense(1, 1, init="zeros", bias=False), act)
        net[0].W[...] = 1.0
        mm.export_onnx(net, tmp_path / "a.onnx")
        (Y,) = ort.InferenceSession(str(tmp_path / "a.onnx"), providers=["CPUExecutionProvider"]).run(None, {"X": X})
        np.testing.assert_allclose(Y, net.predict(X), rtol=1e-13, atol=1e-13, err_msg=repr(act))


def test_cli_export_writes_an_onnx_model(tmp_path, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    net = mm.Sequential(mm.Dense(2, 4, rng=0), mm.Tanh(), mm.Dense(4, 3, rng=1))
    mm.save(net, tmp_path / "m.npz")
    assert main(["export", "--model", str(tmp_path / "m.npz"), "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out
    X = np.random.default_rng(0).normal(size=(5, 2))
    (Y,) = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"X": X})
    np.testing.assert_allclose(Y, net.predict(X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("argv, fragment", [
    (["--model", "nosuch.npz", "--onnx", "x.onnx"], "does not exist"),
    (["--model", "MODEL", "--onnx", "nodir/x.onnx"], "nodir"),
])
def test_cli_export_mistakes_exit_2(tmp_path, capsys, argv, fragment, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mm.save(mm.Sequential(mm.Dense(2, 1, rng=0)), tmp_path / "m.npz")
    argv = [str(tmp_path / "m.npz") if a == "MODEL" else a for a in argv]
    assert main(["export", *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
