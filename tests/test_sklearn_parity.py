"""minimlp.sklearn against scikit-learn's own MLP: the behaviours of scikit-learn's
``test_mlp.py`` re-written for these estimators, numeric parity with
``sklearn.neural_network`` at 1e-10 (float64) where the algorithms coincide (the same
``random_state`` gives the same initial weights, shuffles and validation split), the
contract items of issue 11 and the options of issue 14, and the objective's losses
(``minimlp.objective``, ``PoissonNLLLoss``) against finite differences and closed forms."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
import scipy.sparse as sp  # noqa: E402
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import minimlp as mm  # noqa: E402
from minimlp import objective  # noqa: E402
from minimlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = (X_IRIS - X_IRIS.mean(0)) / X_IRIS.std(0)
X_REG, Y_REG = make_regression(n_samples=80, n_features=4, noise=0.1, random_state=0)
Y_REG = Y_REG / Y_REG.std()


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def _quiet(fn, *args, **kwargs):
    """Call ``fn`` with ConvergenceWarning silenced (short fits on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


def _max_diff(ours, theirs) -> float:
    return max(float(np.abs(a - b).max()) for a, b in
               zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_))


def _pair(kind, **kw):
    return (MLPRegressor(**kw), SkMLPRegressor(**kw)) if kind == "reg" else \
        (MLPClassifier(**kw), SkMLPClassifier(**kw))


# -- numeric parity with scikit-learn ---------------------------------------------------

@pytest.mark.parametrize("kind,X,y,kw", [
    ("clf", X_IRIS, Y_IRIS, dict(solver="lbfgs", activation="tanh", max_iter=25)),
    ("clf", X_IRIS, Y_IRIS > 0, dict(solver="lbfgs", activation="logistic", alpha=0.1, max_iter=25)),
    ("reg", X_REG, Y_REG, dict(solver="lbfgs", activation="relu", max_iter=30)),
    ("clf", X_IRIS, Y_IRIS, dict(solver="sgd", momentum=0.9, learning_rate_init=0.05, max_iter=15)),
    ("clf", X_IRIS, Y_IRIS, dict(solver="sgd", momentum=0.5, nesterovs_momentum=False,
                                 batch_size=32, max_iter=10)),
    ("reg", X_REG, Y_REG, dict(solver="sgd", momentum=0.9, learning_rate_init=0.01, max_iter=15)),
    ("clf", X_IRIS, Y_IRIS, dict(solver="sgd", momentum=0.0, learning_rate="invscaling",
                                 power_t=0.3, learning_rate_init=0.5, max_iter=20)),
    ("clf", X_IRIS, Y_IRIS, dict(solver="sgd", momentum=0.0, learning_rate="adaptive", tol=0.5,
                                 learning_rate_init=0.2, max_iter=300)),
    ("clf", X_IRIS, Y_IRIS, dict(solver="sgd", early_stopping=True, learning_rate_init=0.05,
                                 max_iter=100)),
    ("reg", X_REG, Y_REG, dict(solver="sgd", early_stopping=True, learning_rate_init=0.01,
                               validation_fraction=0.2, max_iter=60)),
], ids=["lbfgs-multiclass", "lbfgs-binary-alpha", "lbfgs-regression", "sgd-nesterov",
        "sgd-momentum-batch32", "sgd-regression", "sgd-invscaling", "sgd-adaptive",
        "sgd-early-stopping", "sgd-early-stopping-regression"])
def test_whole_fit_equals_sklearns(kind, X, y, kw):
    """Same random_state: the same initial weights, shuffles and split, so the whole fit
    (weights, loss, iteration count, curves) agrees with scikit-learn's to 1e-10."""
    ours, theirs = _pair(kind, hidden_layer_sizes=(6,), random_state=0, **kw)
    _quiet(ours.fit, X, y)
    _quiet(theirs.fit, X, y)
    assert _max_diff(ours, theirs) < 1e-10
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10, abs=1e-12)
    if kw["solver"] != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
        if kw.get("early_stopping"):
            np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-10)
            assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-10)
        if kw.get("learning_rate", "constant") != "constant":
            assert ours._optimizer.lr == pytest.approx(theirs._optimizer.learning_rate, rel=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-10)


def test_adaptive_rate_divides_by_5_until_1e_6():
    """scikit-learn's test_adaptive_learning_rate: the rate ends below 1e-6 and training
    stops before max_iter."""
    est = MLPClassifier(hidden_layer_sizes=(5,), solver="sgd", learning_rate="adaptive", tol=0.5,
                        max_iter=3000, random_state=0).fit(X_IRIS, Y_IRIS)
    assert est.n_iter_ < 3000 and est._optimizer.lr < 1e-6


@pytest.mark.parametrize("max_fun", [5, 12])
@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_lbfgs_max_fun_bounds_the_evaluations_as_sklearn(kind, max_fun):
    X, y = (X_IRIS, Y_IRIS) if kind == "clf" else (X_REG, Y_REG)
    ours, theirs = _pair(kind, hidden_layer_sizes=(6,), solver="lbfgs", max_fun=max_fun,
                         max_iter=150, random_state=0)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        ours.fit(X, y)
    _quiet(theirs.fit, X, y)
    assert max_fun >= ours.n_iter_ == theirs.n_iter_
    assert _max_diff(ours, theirs) < 1e-10


def test_lbfgs_has_no_partial_fit():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")


def test_multilabel_lbfgs_equals_sklearn():
    X, Y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    ours, theirs = _pair("clf", hidden_layer_sizes=(20,), solver="lbfgs", activation="logistic",
                         alpha=1e-5, max_iter=15, random_state=0)
    _quiet(ours.fit, X, Y)
    _quiet(theirs.fit, X, Y)
    assert ours.out_activation_ == theirs.out_activation_ == "logistic"
    assert ours.n_outputs_ == Y.shape[1]
    assert _max_diff(ours, theirs) < 1e-10
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)
    assert ours.predict_proba(X).shape == Y.shape


def test_multilabel_learns_and_partial_fit():
    """scikit-learn's test_multilabel_classification: lbfgs fits the training set; sgd
    partial_fit keeps improving."""
    X, Y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    est = _quiet(MLPClassifier(solver="lbfgs", hidden_layer_sizes=50, alpha=1e-5, max_iter=150,
                               random_state=0, activation="logistic").fit, X, Y)
    assert est.score(X, Y) > 0.97
    est = MLPClassifier(solver="sgd", hidden_layer_sizes=50, max_iter=150, random_state=0,
                        activation="logistic", alpha=1e-5, learning_rate_init=0.2)
    for _ in range(100):
        est.partial_fit(X, Y, classes=[0, 1, 2, 3, 4])
    assert est.score(X, Y) > 0.9


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_sample_weight_equals_sklearn(kind, solver):
    X, y = (X_IRIS, Y_IRIS) if kind == "clf" else (X_REG, Y_REG)
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    ours, theirs = _pair(kind, hidden_layer_sizes=(5,), solver=solver, alpha=0.1, max_iter=12,
                         learning_rate_init=0.05, random_state=0)
    _quiet(ours.fit, X, y, sample_weight=w)
    _quiet(theirs.fit, X, y, sample_weight=w)
    assert _max_diff(ours, theirs) < 1e-10
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_partial_fit_with_sample_weight_equals_sklearn(kind):
    X, y = (X_IRIS, Y_IRIS) if kind == "clf" else (X_REG, Y_REG)
    w = np.random.default_rng(2).uniform(0.0, 2.0, len(y))
    ours, theirs = _pair(kind, hidden_layer_sizes=(5,), solver="sgd", batch_size=16,
                         learning_rate_init=0.05, random_state=0)
    extra = {"classes": np.unique(y)} if kind == "clf" else {}
    for _ in range(3):
        ours.partial_fit(X, y, sample_weight=w, **extra)
        theirs.partial_fit(X, y, sample_weight=w, **extra)
    assert _max_diff(ours, theirs) < 1e-10


def test_sample_weight_of_ones_is_no_weight_and_zero_weight_removes_a_row():
    kw = dict(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30, random_state=0)
    a = _quiet(MLPRegressor(**kw).fit, X_REG, Y_REG)
    b = _quiet(MLPRegressor(**kw).fit, X_REG, Y_REG, sample_weight=np.ones(len(Y_REG)))
    np.testing.assert_array_equal(a.predict(X_REG), b.predict(X_REG))
    # lbfgs is full-batch: integer weights are repeated rows; weight 0 is a removed row.
    w = np.r_[np.zeros(10), np.full(70, 2.0)]
    c = _quiet(MLPRegressor(**kw).fit, X_REG, Y_REG, sample_weight=w)
    d = _quiet(MLPRegressor(**kw).fit, np.r_[X_REG[10:], X_REG[10:]], np.r_[Y_REG[10:], Y_REG[10:]])
    np.testing.assert_allclose(c.predict(X_REG), d.predict(X_REG), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("bad,word", [(np.ones(3), "shape"), (-np.ones(80), ">= 0"),
                                      (np.zeros(80), "zero"), (np.full(80, np.nan), "finite")])
def test_bad_sample_weight_is_refused(bad, word):
    with pytest.raises(ValueError, match=word):
        MLPRegressor(max_iter=1).fit(X_REG, Y_REG, sample_weight=bad)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_poisson_equals_sklearn(solver):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (100, 2))
    y = rng.poisson(np.exp(X @ [1.0, -0.5] + 0.5))
    ours, theirs = _pair("reg", loss="poisson", hidden_layer_sizes=(4,), solver=solver,
                         max_iter=20, learning_rate_init=0.01, random_state=0)
    _quiet(ours.fit, X, y)
    _quiet(theirs.fit, X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert _max_diff(ours, theirs) < 1e-10
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)


def test_poisson_without_hidden_nonlinearity_equals_the_glm():
    """scikit-learn's test_mlp_vs_poisson_glm_equivalent."""
    from sklearn.linear_model import PoissonRegressor
    n = 100
    rng = np.random.default_rng(42)
    X = np.linspace(0, 1, n).reshape(n, -1)
    y = rng.poisson(np.exp(X[:, 0] + 1))
    glm = PoissonRegressor(alpha=0, tol=1e-7).fit(X, y)
    mlp = MLPRegressor(loss="poisson", hidden_layer_sizes=(1,), activation="identity", alpha=0,
                       solver="lbfgs", tol=1e-7, random_state=np.random.RandomState(43)).fit(X, y)
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=1e-4)


def test_poisson_refuses_negative_targets():
    with pytest.raises(ValueError, match="y must be >= 0"):
        MLPRegressor(loss="poisson").fit(X_REG, Y_REG)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_sparse_X_equals_dense_and_sklearn(fmt, solver):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 8)) * (rng.uniform(size=(60, 8)) < 0.3)
    y = (X.sum(axis=1) > 0).astype(int)
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    kw = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=10, random_state=0,
              learning_rate_init=0.05)
    a = _quiet(MLPClassifier(**kw).fit, Xs, y)
    b = _quiet(MLPClassifier(**kw).fit, X, y)
    c = _quiet(SkMLPClassifier(**kw).fit, Xs, y)
    assert _max_diff(a, b) < 1e-12 and _max_diff(a, c) < 1e-10
    np.testing.assert_array_equal(a.predict(Xs), b.predict(X))


def test_sparse_X_is_densified_batch_by_batch_only(monkeypatch):
    from scipy.sparse._compressed import _cs_matrix
    rows = []
    original = _cs_matrix.toarray

    def recording(self, *args, **kwargs):
        rows.append(self.shape[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_cs_matrix, "toarray", recording)
    rng = np.random.default_rng(0)
    n = 3000
    X = sp.random(n, 20, density=0.05, format="csr", random_state=1)
    y = rng.standard_normal(n)
    for solver in ("sgd", "lbfgs"):
        rows.clear()
        est = _quiet(MLPRegressor(hidden_layer_sizes=(4,), solver=solver, max_iter=2,
                                  random_state=0).fit, X, y)
        est.predict(X)
        assert rows and max(rows) <= 1024 < n, (solver, max(rows))


@pytest.mark.parametrize("kind", ["clf", "reg"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_float32_in_float32_out(kind, solver):
    """scikit-learn's test_mlp_param_dtypes: float32 data trains a float32 network."""
    X, y = (X_IRIS, Y_IRIS) if kind == "clf" else (X_REG, Y_REG)
    est = (MLPClassifier if kind == "clf" else MLPRegressor)(hidden_layer_sizes=(5,), solver=solver,
                                                               max_iter=5, random_state=0)
    _quiet(est.fit, X.astype(np.float32), y)
    assert all(a.dtype == np.float32 for a in est.coefs_ + est.intercepts_)
    out = est.predict_proba(X.astype(np.float32)) if kind == "clf" else est.predict(X.astype(np.float32))
    assert out.dtype == np.float32
    est64 = _quiet((MLPClassifier if kind == "clf" else MLPRegressor)(
        hidden_layer_sizes=(5,), solver=solver, max_iter=5, random_state=0).fit, X, y)
    assert est64.coefs_[0].dtype == np.float64
    np.testing.assert_allclose(est.coefs_[0], est64.coefs_[0], rtol=1e-3, atol=1e-4)


# -- scikit-learn's contract (issue 11, section 4) --------------------------------------

def test_validation_set_of_fewer_than_2_rows_is_refused():
    """scikit-learn's test_minimum_input_sample_size."""
    X, y = make_regression(n_samples=2, n_features=5, random_state=0)
    est = MLPRegressor(early_stopping=True, random_state=0)
    with pytest.raises(ValueError, match="The validation set is too small"):
        est.fit(X, y)
    assert not hasattr(est, "model_")


def test_warm_start_with_a_subset_of_the_classes_is_refused():
    est = _quiet(MLPClassifier(warm_start=True, max_iter=5, random_state=0).fit, X_IRIS, Y_IRIS)
    before = [a.copy() for a in est.coefs_]
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same classes"):
        est.fit(X_IRIS, Y_IRIS % 2)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    for a, b in zip(est.coefs_, before):
        np.testing.assert_array_equal(a, b)


def test_n_iter_counts_the_last_fit():
    """scikit-learn's test_warm_start_full_iteration / test_mlp_warm_start_no_convergence."""
    ours, theirs = _pair("clf", warm_start=True, max_iter=3, solver="sgd", random_state=0,
                         hidden_layer_sizes=(5,))
    for est in (ours, theirs):
        _quiet(est.fit, X_IRIS, Y_IRIS)
        _quiet(est.fit, X_IRIS, Y_IRIS)
    assert ours.n_iter_ == theirs.n_iter_ == 3
    assert ours.t_ == theirs.t_ == 6 * len(Y_IRIS)
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 6
    assert _max_diff(ours, theirs) < 1e-10


def test_best_loss_is_none_with_early_stopping():
    """scikit-learn's test_early_stopping."""
    est = _quiet(MLPClassifier(early_stopping=True, max_iter=20, random_state=0).fit, X_IRIS, Y_IRIS)
    assert est.best_loss_ is None and len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert MLPClassifier(max_iter=2).fit(X_IRIS, Y_IRIS).best_loss_ is not None


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_partial_fit_with_early_stopping_raises(Est):
    """scikit-learn's test_mlp_partial_fit_after_fit."""
    est = _quiet(Est(early_stopping=True, max_iter=5, random_state=0).fit, X_IRIS, Y_IRIS)
    before = [a.copy() for a in est.coefs_]
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        est.partial_fit(X_IRIS, Y_IRIS)
    for a, b in zip(est.coefs_, before):
        np.testing.assert_array_equal(a, b)


def test_regressor_predicts_1d_for_one_target():
    est = _quiet(MLPRegressor(max_iter=3).fit, X_REG, Y_REG.reshape(-1, 1))
    assert est.predict(X_REG).shape == (80,)
    est = _quiet(MLPRegressor(max_iter=3).fit, X_REG, np.c_[Y_REG, Y_REG])
    assert est.predict(X_REG).shape == (80, 2)


@pytest.mark.parametrize("kind,y,loss", [
    ("clf", Y_IRIS, None), ("clf", Y_IRIS > 0, None),
    ("clf", np.c_[Y_IRIS == 0, Y_IRIS == 1].astype(int), None),
    ("reg", np.abs(X_IRIS[:, 0]), "squared_error"), ("reg", np.abs(X_IRIS[:, 0]), "poisson")])
def test_n_layers_and_out_activation_as_sklearn(kind, y, loss):
    kw = dict(hidden_layer_sizes=(4, 3), max_iter=2, random_state=0, **({"loss": loss} if loss else {}))
    ours, theirs = _pair(kind, **kw)
    _quiet(ours.fit, X_IRIS, y)
    _quiet(theirs.fit, X_IRIS, y)
    assert (ours.n_layers_, ours.out_activation_, ours.n_outputs_) == \
        (theirs.n_layers_, theirs.out_activation_, theirs.n_outputs_)


@pytest.mark.parametrize("Ours,Theirs", [(MLPClassifier, SkMLPClassifier),
                                         (MLPRegressor, SkMLPRegressor)])
def test_constructor_parameters_are_sklearns_plus_dropout(Ours, Theirs):
    ours, theirs = Ours().get_params(), Theirs().get_params()
    assert set(ours) == set(theirs) | {"dropout"}
    assert {k: ours[k] for k in theirs} == theirs
    assert {"power_t", "max_fun"} <= set(ours)


def test_coefs_and_intercepts_can_be_assigned():
    """scikit-learn's test_fit sets the weights by assignment, then checks one step."""
    est = _quiet(MLPClassifier(hidden_layer_sizes=(2,), max_iter=1, random_state=0).fit,
                 X_IRIS, Y_IRIS)
    W = [np.full((4, 2), 0.1), np.arange(6.0).reshape(2, 3) / 10]
    b = [np.array([0.1, -0.1]), np.zeros(3)]
    est.coefs_ = W
    est.intercepts_ = b
    H = np.maximum(X_IRIS @ W[0] + b[0], 0)            # relu, then the softmax layer
    Z = H @ W[1] + b[1]
    P = np.exp(Z - Z.max(1, keepdims=True))
    np.testing.assert_allclose(est.predict_proba(X_IRIS), P / P.sum(1, keepdims=True), rtol=1e-12)
    est.coefs_[1] = W[1] * 2                           # scikit-learn's test_fit writes items
    np.testing.assert_array_equal(est.coefs_[1], W[1] * 2)
    with pytest.raises(ValueError, match=r"coefs_\[0\] must be a finite real array of shape \(4, 2\)"):
        est.coefs_ = [np.ones((3, 2)), W[1]]
    with pytest.raises(ValueError, match="needs 2 arrays"):
        est.intercepts_ = b[:1]


def test_convergence_warning_has_sklearns_wording():
    with pytest.warns(ConvergenceWarning, match="Stochastic Optimizer: Maximum iterations"):
        MLPClassifier(max_iter=2, random_state=0).fit(X_IRIS, Y_IRIS)


def test_verbose_says_why_training_stopped(capsys):
    MLPClassifier(max_iter=500, tol=10.0, n_iter_no_change=2, verbose=True, random_state=0).fit(X_IRIS, Y_IRIS)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out
    assert "Training loss did not improve more than tol=10.000000 for 2 consecutive epochs. Stopping." in out
    MLPClassifier(max_iter=500, tol=10.0, n_iter_no_change=2, verbose=True, early_stopping=True,
                  random_state=0).fit(X_IRIS, Y_IRIS)
    out = capsys.readouterr().out
    assert "Validation score: " in out and "Validation score did not improve more than tol" in out


# -- divergence (defect H3, peer-parity findings 2 and 3) -------------------------------

def _no_runtime_warnings():
    w = warnings.catch_warnings()
    w.__enter__()
    warnings.simplefilter("error", RuntimeWarning)
    warnings.simplefilter("ignore", ConvergenceWarning)
    return w


def test_huge_inputs_give_a_message_about_input_scale():
    """scikit-learn's test_nonfinite_params, and no RuntimeWarning on the way."""
    X = np.finfo(np.float64).max * np.random.RandomState(0).uniform(size=(10, 2))
    y = np.random.RandomState(0).standard_normal(10)
    for solver in ("adam", "lbfgs"):
        est = MLPRegressor(solver=solver)
        w = _no_runtime_warnings()
        try:
            with pytest.raises(ValueError, match="Solver produced non-finite parameter weights. "
                                                 "The input data may contain large values"):
                est.fit(X, y)
        finally:
            w.__exit__(None, None, None)
        with pytest.raises(NotFittedError):
            est.predict(X[:2])


def test_diverging_fit_raises_cleanly_and_leaves_no_nan_model():
    """Defect H3's reproduction: a clear error, no RuntimeWarning, and no 'fitted' NaN model."""
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = 1e3 * X[:, 0]
    est = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=10.0,
                       momentum=0.9, max_iter=50, random_state=0)
    w = _no_runtime_warnings()
    try:
        with pytest.raises(mm.TrainingDiverged, match="training diverged in epoch") as err:
            est.fit(X, y)
    finally:
        w.__exit__(None, None, None)
    assert err.value.restored == "unfitted"
    with pytest.raises(NotFittedError):
        est.predict(X[:3])


def test_diverging_warm_start_and_partial_fit_keep_the_previous_weights():
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = X[:, 0]
    est = MLPRegressor(hidden_layer_sizes=(4,), activation="identity", solver="sgd", max_iter=5,
                       random_state=0, warm_start=True, learning_rate_init=0.01)
    _quiet(est.fit, X, y)
    before = [a.copy() for a in est.coefs_ + est.intercepts_]
    n_iter, curve = est.n_iter_, list(est.loss_curve_)
    est.set_params(learning_rate_init=10.0, batch_size=1)
    for call in (est.fit, est.partial_fit):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.raises(mm.TrainingDiverged) as err:
                _quiet(call, X, 1e3 * y)
        assert err.value.restored == "before_call"
        for a, b in zip(est.coefs_ + est.intercepts_, before):
            np.testing.assert_array_equal(a, b)
        assert est.n_iter_ == n_iter and est.loss_curve_ == curve
    est.set_params(learning_rate_init=0.01, batch_size="auto")
    est.partial_fit(X, y)                          # the optimizer state came back too
    assert all(np.isfinite(a).all() for a in est.coefs_)


def test_diverging_fit_with_early_stopping_keeps_the_best_weights():
    """scikit-learn's test_mlp_diverging_loss: a NaN validation score, no crash in r2_score,
    finite weights and predictions."""
    X, y = load_iris(return_X_y=True)
    est = MLPRegressor(hidden_layer_sizes=100, activation="identity", solver="sgd",
                       learning_rate_init=1, max_iter=20, early_stopping=True, random_state=0)
    w = _no_runtime_warnings()
    try:
        est.fit(X, y)
    finally:
        w.__exit__(None, None, None)
    assert str(est.validation_scores_[-1]) == "nan" and isinstance(est.validation_scores_[-1], float)
    assert all(np.isfinite(a).all() for a in est.coefs_ + est.intercepts_)
    assert np.isfinite(est.predict(X)).all()


# -- feature names (pandas) -------------------------------------------------------------

@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_feature_names_with_pandas(Est):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X_IRIS, columns=["a", "b", "c", "d"])
    est = _quiet(Est(max_iter=2, random_state=0).fit, df, Y_IRIS)
    assert est.n_features_in_ == 4
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c", "d"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)      # "X does not have valid feature names"
        est.predict(df)
    expected = ["0", "1", "2"] if Est is MLPClassifier else ["mlpregressor0"]
    np.testing.assert_array_equal(est.get_feature_names_out(), expected)
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(X_IRIS)


# -- the objective's losses and penalty -------------------------------------------------

def _numeric_grad(f, Z, eps=1e-6):
    G = np.zeros_like(Z)
    for idx in np.ndindex(*Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += eps
        Zm[idx] -= eps
        G[idx] = (f(Zp) - f(Zm)) / (2 * eps)
    return G


def _targets(cls, rng, N, D):
    if cls is objective.SoftmaxLogLoss:
        return np.eye(D)[rng.integers(0, D, N)]
    if cls is objective.SigmoidLogLoss:
        return (rng.uniform(size=(N, D)) < 0.5).astype(float)
    if cls is objective.HalfPoissonDeviance:
        return rng.poisson(2.0, (N, D)).astype(float)
    return rng.standard_normal((N, D))


@pytest.mark.parametrize("cls", [objective.HalfSquaredError, objective.SigmoidLogLoss,
                                 objective.SoftmaxLogLoss, objective.HalfPoissonDeviance])
def test_objective_losses_gradients_match_finite_differences(cls):
    rng = np.random.default_rng(0)
    N, D = 6, 3
    Z = rng.standard_normal((N, D))
    Tw = np.c_[_targets(cls, rng, N, D), rng.uniform(0.1, 2.0, N)]
    loss = cls()
    loss.forward(Z, Tw)
    G = loss.backward().copy()
    np.testing.assert_allclose(G, _numeric_grad(lambda z: cls().forward(z, Tw), Z),
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cls", [objective.HalfSquaredError, objective.SigmoidLogLoss,
                                 objective.SoftmaxLogLoss, objective.HalfPoissonDeviance])
def test_objective_losses_equal_closed_forms(cls):
    """Values written out independently (scipy/numpy), weighted mean over rows."""
    from scipy.special import expit, logsumexp, xlogy
    rng = np.random.default_rng(1)
    N, D = 7, 3
    Z = rng.standard_normal((N, D))
    T = _targets(cls, rng, N, D)
    w = rng.uniform(0.1, 2.0, N)
    rows = {objective.HalfSquaredError: lambda: 0.5 * ((Z - T) ** 2).mean(axis=1),
            objective.SigmoidLogLoss: lambda: -(xlogy(T, expit(Z)) + xlogy(1 - T, 1 - expit(Z))).sum(1),
            objective.SoftmaxLogLoss: lambda: -(T * (Z - logsumexp(Z, axis=1, keepdims=True))).sum(1),
            objective.HalfPoissonDeviance: lambda: (xlogy(T, T / np.exp(Z)) - T + np.exp(Z)).sum(1)}[cls]()
    assert cls().forward(Z, np.c_[T, w]) == pytest.approx(np.dot(w, rows) / w.sum(), rel=1e-12)


def test_objective_losses_refuse_bad_targets():
    Z = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"\(N, D \+ 1\)"):
        objective.HalfSquaredError().forward(Z, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="sample weights"):
        objective.HalfSquaredError().forward(Z, np.c_[np.zeros((3, 2)), [-1, 1, 1]])
    with pytest.raises(ValueError, match="sum to 0"):
        objective.HalfSquaredError().forward(Z, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        objective.SigmoidLogLoss().forward(Z, np.c_[np.full((3, 2), 2.0), np.ones(3)])
    with pytest.raises(ValueError, match=">= 0"):
        objective.HalfPoissonDeviance().forward(Z, np.c_[-np.ones((3, 2)), np.ones(3)])


def test_half_poisson_deviance_is_poisson_nll_plus_a_constant():
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((5, 2))
    T = rng.poisson(3.0, (5, 2)).astype(float)
    ours = objective.HalfPoissonDeviance()
    value = ours.forward(Z, np.c_[T, np.ones(5)])
    nll = mm.PoissonNLLLoss(reduction="sum")
    from scipy.special import xlogy
    assert value == pytest.approx(nll.forward(Z, T) / 5 + (xlogy(T, T) - T).sum() / 5, rel=1e-12)
    np.testing.assert_allclose(ours.backward(), nll.backward() / 5, rtol=1e-12)


def test_l2_penalty_value_and_gradient():
    rng = np.random.default_rng(3)
    params = [mm.Parameter(rng.standard_normal((3, 2)), "W"), mm.Parameter(rng.standard_normal(4), "W")]
    for p in params:
        p.grad[...] = 1.0
    pen = objective.L2Penalty(params, alpha=0.3)
    S = 7.0
    expected = 0.5 * 0.3 * sum((p.value ** 2).sum() for p in params) / S
    assert pen.add_to_grads(S) == pytest.approx(expected, rel=1e-12)
    for p in params:
        np.testing.assert_allclose(p.grad, 1.0 + 0.3 / S * p.value, rtol=1e-12)
    assert objective.L2Penalty(params, 0.0).add_to_grads(S) == 0.0
    with pytest.raises(ValueError, match="alpha"):
        objective.L2Penalty(params, -1.0)


# -- PoissonNLLLoss (torch's semantics) -------------------------------------------------

def _poisson_reference(Y, T, log_input, full, eps):
    """torch.nn.functional.poisson_nll_loss, element-wise, written from its documentation."""
    loss = np.exp(Y) - T * Y if log_input else Y - T * np.log(Y + eps)
    if full:
        safe = np.where(T > 1, T, 1.0)
        loss = loss + np.where(T > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe), 0.0)
    return loss


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_poisson_nll_loss_value_and_gradient(log_input, full, reduction):
    rng = np.random.default_rng(4)
    Y = rng.standard_normal((5, 3)) if log_input else rng.uniform(0.1, 3.0, (5, 3))
    T = rng.poisson(2.0, (5, 3)).astype(float)
    ref = _poisson_reference(Y, T, log_input, full, 1e-8)
    if reduction == "none":
        np.testing.assert_allclose(mm.PoissonNLLLoss(log_input=log_input, full=full,
                                                     reduction="none").forward(Y, T), ref, rtol=1e-12)
        return
    ref = ref.mean() if reduction == "mean" else ref.sum()
    loss = mm.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction)
    assert loss.forward(Y, T) == pytest.approx(ref, rel=1e-12)
    G = loss.backward().copy()
    f = lambda y: mm.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction).forward(y, T)
    np.testing.assert_allclose(G, _numeric_grad(f, Y), rtol=1e-6, atol=1e-9)


def test_poisson_nll_loss_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for log_input, full in [(True, False), (False, True), (True, True)]:
        Y = rng.standard_normal((6, 2)) if log_input else rng.uniform(0.1, 3.0, (6, 2))
        T = rng.poisson(3.0, (6, 2)).astype(float)
        Yt = torch.tensor(Y, requires_grad=True)
        ref = torch.nn.PoissonNLLLoss(log_input=log_input, full=full)(Yt, torch.tensor(T))
        ref.backward()
        loss = mm.PoissonNLLLoss(log_input=log_input, full=full)
        assert loss.forward(Y, T) == pytest.approx(ref.item(), rel=1e-10)
        np.testing.assert_allclose(loss.backward(), Yt.grad.numpy(), rtol=1e-10)
        Yt.grad = None
        ref = torch.nn.PoissonNLLLoss(log_input=log_input, full=full, reduction="none")(Yt, torch.tensor(T))
        up = rng.standard_normal(ref.shape)
        ref.backward(torch.tensor(up))
        loss = mm.PoissonNLLLoss(log_input=log_input, full=full, reduction="none")
        np.testing.assert_allclose(loss.forward(Y, T), ref.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(loss.backward(up), Yt.grad.numpy(), rtol=1e-10)


def test_poisson_nll_loss_gradcheck_and_refusals():
    rng = np.random.default_rng(6)
    net = mm.Sequential(mm.Dense(3, 2, rng=0))
    X = rng.standard_normal((4, 3))
    T = rng.poisson(1.5, (4, 2)).astype(float)
    assert mm.gradcheck(net, X, T, mm.PoissonNLLLoss()).max_rel_error < 1e-6
    with pytest.raises(ValueError, match=">= 0"):
        mm.PoissonNLLLoss().forward(np.zeros((2, 1)), -np.ones((2, 1)))
    with pytest.raises(ValueError, match="log_input=False"):
        mm.PoissonNLLLoss(log_input=False).forward(-np.ones((2, 1)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="eps"):
        mm.PoissonNLLLoss(eps=0.0)
    with pytest.raises(TypeError, match="full"):
        mm.PoissonNLLLoss(full="yes")
    assert repr(mm.PoissonNLLLoss(log_input=False, reduction="sum")) == \
        "PoissonNLLLoss(log_input=False, reduction='sum')"


def test_penalized_adds_the_penalty_gradient_before_the_update():
    rng = np.random.default_rng(7)
    W = mm.Parameter(rng.standard_normal((3, 2)), "W")
    b = mm.Parameter(rng.standard_normal(2), "b")
    W.grad[...], b.grad[...] = rng.standard_normal((3, 2)), rng.standard_normal(2)
    W0, gW, b0, gb = W.value.copy(), W.grad.copy(), b.value.copy(), b.grad.copy()
    loss = objective.HalfSquaredError()
    loss.forward(np.zeros((4, 1)), np.c_[np.ones(4), [0.5, 1.0, 1.5, 1.0]])     # S = 4
    opt = objective.Penalized(mm.SGD([W, b], lr=0.1), objective.L2Penalty([W], alpha=0.2), loss)
    opt.step()
    np.testing.assert_allclose(W.value, W0 - 0.1 * (gW + 0.2 / 4.0 * W0), rtol=1e-13)
    np.testing.assert_allclose(b.value, b0 - 0.1 * gb, rtol=1e-13)      # biases: no penalty
    assert opt.penalty_value == pytest.approx(0.5 * 0.2 * (W0 ** 2).sum() / 4.0, rel=1e-13)
    opt.lr = 0.01
    assert opt.optimizer.lr == 0.01 and opt.steps == 1
    with pytest.raises(TypeError, match="Optimizer"):
        objective.Penalized("sgd", objective.L2Penalty([W], 0.1), loss)


def test_sample_weight_of_ones_with_early_stopping_is_no_weight():
    """scikit-learn's test_mlp_sample_weight_with_early_stopping."""
    X, y = make_regression(n_samples=100, n_features=2, n_informative=2, random_state=42)
    kw = dict(hidden_layer_sizes=10, solver="adam", early_stopping=True, tol=1e-2,
              learning_rate_init=0.01, batch_size=10, random_state=42)
    a = _quiet(MLPRegressor(**kw).fit, X, y, sample_weight=np.ones_like(y))
    b = _quiet(MLPRegressor(**kw).fit, X, y)
    np.testing.assert_allclose(a.predict(X), b.predict(X))


def test_warm_start_with_early_stopping_keeps_the_record():
    """scikit-learn's test_mlp_warm_start_with_early_stopping."""
    est = MLPClassifier(tol=0.2, hidden_layer_sizes=(5,), early_stopping=True, warm_start=True,
                        random_state=0, max_iter=100)
    est.fit(X_IRIS, Y_IRIS)
    n_scores = len(est.validation_scores_)
    est.set_params(max_iter=20)
    _quiet(est.fit, X_IRIS, Y_IRIS)
    assert len(est.validation_scores_) > n_scores


@pytest.mark.parametrize("cls", [objective.HalfSquaredError, objective.SigmoidLogLoss,
                                 objective.SoftmaxLogLoss, objective.HalfPoissonDeviance])
def test_estimator_step_allocates_nothing_of_batch_times_width(cls):
    """The estimators' step (TrainStep.run with a weighted loss and Penalized) reuses its
    buffers: after a warm-up no array of batch x width is allocated."""
    import tracemalloc
    rng = np.random.default_rng(8)
    N, D = 256, 256
    net = mm.Sequential(mm.Dense(16, 64, rng=0), mm.ReLU(), mm.Dense(64, D, rng=1))
    loss = cls()
    opt = objective.Penalized(mm.SGD(net.parameters(), lr=1e-3, momentum=0.9),
                              objective.L2Penalty([net[0].parameters()[0], net[2].parameters()[0]], 0.1),
                              loss)
    step = mm.TrainStep(net, loss, opt, threads=None)
    X = rng.standard_normal((N, 16))
    Tw = np.c_[_targets(cls, rng, N, D), rng.uniform(0.5, 1.5, N)]
    for _ in range(3):
        step.run(X, Tw)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        step.run(X, Tw)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    allowance = 2 * np.getbufsize() * 8 + 16 * 1024    # two ufunc buffers (strided T), objects
    assert N * D * 8 > 2 * allowance                       # the test can see a batch x width array
    assert peak <= allowance, f"{cls.__name__}: {peak} bytes in one step"


def test_penalized_is_not_listed_as_an_optimizer_of_its_own():
    """A wrapper: configs and saved files name the optimizer it wraps, never 'penalized'."""
    from minimlp.config import optimizer_types
    assert "penalized" not in optimizer_types() and "_penalized" not in optimizer_types()
