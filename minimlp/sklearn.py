"""scikit-learn estimators backed by minimlp: ``MLPClassifier`` and ``MLPRegressor``.

They take scikit-learn's ``MLPClassifier``/``MLPRegressor`` parameters (same names, defaults
and meaning for the ``"adam"`` and ``"sgd"`` solvers with a constant learning rate) plus
``dropout``, so they drop into ``Pipeline``, ``cross_val_score`` and ``GridSearchCV``.
Importing this module imports scikit-learn (the ``dev`` extra); ``import minimlp`` alone
never does.

Training matches scikit-learn's: Glorot-uniform weights and biases (factor 2 for logistic,
6 otherwise), an L2 penalty ``alpha/2 * sum |W|^2 / batch`` on weights only, batches of
``min(200, n_samples)`` by default, one epoch per iteration, and the same stopping rule
(the training loss, or with ``early_stopping`` the validation score, fails to improve by
``tol`` for more than ``n_iter_no_change`` epochs). The output layer and loss: softmax +
cross-entropy (multiclass), one logistic unit + binary cross-entropy (two classes),
identity + half squared error (regression) -- minimlp's fused losses on the logits.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .activations import ELU, GELU, Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .dropout import Dropout
from .layers import Dense
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .optim import SGD, Adam
from .sequential import Sequential

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(est, *args, **kwargs):
        return est._validate_data(*args, **kwargs)

ACTIVATIONS = {"identity": Identity, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU,
               "leaky_relu": LeakyReLU, "elu": ELU, "gelu": GELU}

__all__ = ["MLPClassifier", "MLPRegressor"]


def _generator(random_state) -> np.random.Generator:
    """scikit-learn's ``random_state`` (None, int, RandomState) as a numpy Generator; None
    gives fresh OS entropy (minimlp never touches numpy's global RNG)."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    return np.random.default_rng(check_random_state(random_state).randint(2 ** 31))


class _BaseMLP(BaseEstimator):
    """Shared fitting code; the subclasses say how targets map to outputs and the loss."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dropout=0.0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout

    # -- parameters -------------------------------------------------------------------
    def _check_params(self) -> list[int]:
        name = type(self).__name__
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if np.isscalar(hidden) else list(hidden)
        if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
            raise ValueError(f"{name}: hidden_layer_sizes must be positive integers, got "
                             f"{self.hidden_layer_sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"{name}: activation must be one of {sorted(ACTIVATIONS)}, got "
                             f"{self.activation!r}")
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"{name}: solver must be 'adam' or 'sgd' (minimlp has no lbfgs), "
                             f"got {self.solver!r}")
        if self.learning_rate != "constant":
            raise ValueError(f"{name}: only learning_rate='constant' is supported (use a "
                             f"minimlp schedule with minimlp.fit for others), got {self.learning_rate!r}")
        if not self.max_iter >= 1:
            raise ValueError(f"{name}: max_iter must be >= 1, got {self.max_iter!r}")
        if not self.alpha >= 0:
            raise ValueError(f"{name}: alpha must be >= 0, got {self.alpha!r}")
        if not self.learning_rate_init > 0:
            raise ValueError(f"{name}: learning_rate_init must be > 0, got {self.learning_rate_init!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {self.dropout!r}")
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            raise ValueError(f"{name}: validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if self.batch_size != "auto" and not (isinstance(self.batch_size, (int, np.integer))
                                              and self.batch_size >= 1):
            raise ValueError(f"{name}: batch_size must be 'auto' or an integer >= 1, got {self.batch_size!r}")
        return [int(h) for h in hidden]

    # -- the network ------------------------------------------------------------------
    def _build(self, n_in: int, n_out: int, rng: np.random.Generator) -> None:
        sizes = [n_in, *self._hidden, n_out]
        factor = 2.0 if self.activation == "logistic" else 6.0
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = np.sqrt(factor / (a + b))
            dense = Dense(a, b, init="zeros")
            dense.W[...] = rng.uniform(-bound, bound, (a, b))
            dense.b[...] = rng.uniform(-bound, bound, b)
            layers.append(dense)
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[self.activation]())
                if self.dropout:
                    layers.append(Dropout(self.dropout, rng=rng))
        self.model_ = Sequential(layers)
        self._weights = [d._W for d in layers if isinstance(d, Dense)]
        params = self.model_.parameters()
        if self.solver == "adam":
            self._optimizer = Adam(params, lr=self.learning_rate_init,
                                   betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        else:
            self._optimizer = SGD(params, lr=self.learning_rate_init, momentum=self.momentum,
                                  nesterov=bool(self.nesterovs_momentum and self.momentum > 0))
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self._no_improvement_count = 0
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices ``W`` (in, out) of the Dense layers (as scikit-learn's)."""
        check_is_fitted(self, "model_")
        return [p.value for p in self._weights]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors ``b`` of the Dense layers."""
        check_is_fitted(self, "model_")
        return [d.b for d in self.model_ if isinstance(d, Dense)]

    # -- training ---------------------------------------------------------------------
    def _fit(self, X: np.ndarray, T: np.ndarray, incremental: bool) -> None:
        fresh = not hasattr(self, "model_") or not (incremental or self.warm_start)
        if fresh:
            self._hidden = self._check_params()
            self._rng = _generator(self.random_state)
            self._build(X.shape[1], self.n_outputs_, self._rng)
        loss = self._make_loss()
        X_val = T_val = None
        if self.early_stopping and not incremental:
            X, X_val, T, T_val = train_test_split(
                X, T, test_size=self.validation_fraction, random_state=int(self._rng.integers(2 ** 31)),
                stratify=self._stratify(T))
        n = X.shape[0]
        bs = min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)
        epochs = 1 if incremental else self.max_iter
        net, opt, alpha = self.model_, self._optimizer, float(self.alpha)
        for _ in range(epochs):
            order = self._rng.permutation(n) if self.shuffle else np.arange(n)
            total = 0.0
            for start in range(0, n, bs):
                rows = order[start:start + bs]
                Xb, Tb = X[rows], T[rows]
                m = len(rows)
                value = loss.forward(net.forward(Xb), Tb)
                G = loss.backward()
                if self._half:
                    G *= 0.5                    # scikit-learn's squared error is MSE / 2
                    value *= 0.5
                net.backward(G)
                if alpha:
                    for p in self._weights:     # L2 on weights only, per batch, as scikit-learn
                        p.grad += (alpha / m) * p.value
                    value += 0.5 * alpha * sum(float(np.vdot(p.value, p.value)) for p in self._weights) / m
                opt.step()
                total += value * m
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = total / n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            if self._no_improvement(X_val, T_val):
                break
        else:
            if not incremental and self.max_iter > 0:
                warnings.warn(f"{type(self).__name__}: maximum iterations ({self.max_iter}) "
                              "reached and the optimization hasn't converged yet.", ConvergenceWarning)
        if self.early_stopping and not incremental and getattr(self, "_best_params", None) is not None:
            for p, v in zip(self.model_.parameters(), self._best_params):
                p.value[...] = v

    def _no_improvement(self, X_val, T_val) -> bool:
        if X_val is not None:
            score = self._val_score(X_val, T_val)
            self.validation_scores_.append(score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = [p.value.copy() for p in self.model_.parameters()]
        else:
            if self.loss_ > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_)
        return self._no_improvement_count > self.n_iter_no_change

    def _raw(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = _validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.predict(X)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier (scikit-learn API) trained by minimlp.

    ``X (n_samples, n_features)`` and labels ``y (n_samples,)`` of any type; network
    ``Dense -> activation [-> Dropout] -> ... -> Dense(n_outputs)`` with softmax
    cross-entropy (more than two classes) or one logistic unit (two classes).
    Parameters as ``sklearn.neural_network.MLPClassifier`` (solvers ``"adam"``, ``"sgd"``),
    plus ``dropout`` (probability after each hidden activation, 0 = none).

    Attributes: ``classes_``, ``model_`` (the ``minimlp.Sequential``), ``coefs_``,
    ``intercepts_``, ``n_iter_``, ``loss_``, ``loss_curve_``, ``best_loss_``,
    ``validation_scores_``, ``n_features_in_``, ``n_outputs_``.
    """

    _half = False

    def _make_loss(self):
        return BCEWithLogitsLoss() if len(self.classes_) == 2 else CrossEntropyLoss()

    def _targets(self, y) -> np.ndarray:
        idx = np.searchsorted(self.classes_, y)
        bad = (idx >= len(self.classes_)) | (self.classes_[np.minimum(idx, len(self.classes_) - 1)] != y)
        if bad.any():
            raise ValueError(f"{type(self).__name__}: y contains labels not in classes_ "
                             f"{list(self.classes_)}: {sorted(set(np.asarray(y)[bad].tolist()))}")
        if len(self.classes_) == 2:
            return idx.astype(np.float64).reshape(-1, 1)
        return idx

    def _stratify(self, T):
        return T.ravel() if T.ndim == 2 else T

    def _set_classes(self, classes) -> None:
        self.classes_ = np.unique(classes)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__}: needs samples of at least 2 classes in the "
                             f"data, got 1 class: {self.classes_[0]!r}")
        self.n_outputs_ = 1 if len(self.classes_) == 2 else len(self.classes_)

    def fit(self, X, y):
        """Train from scratch (or from the last weights with ``warm_start``); returns self."""
        X, y = _validate_data(self, X, y, dtype=np.float64, y_numeric=False, multi_output=False)
        check_classification_targets(y)
        if not (self.warm_start and hasattr(self, "model_")):
            self._set_classes(y)
        self._fit(X, self._targets(y), incremental=False)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, ``y``; ``classes`` (every label) is required on the first call."""
        first = not hasattr(self, "model_")
        X, y = _validate_data(self, X, y, dtype=np.float64, reset=first, multi_output=False)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError(f"{type(self).__name__}: classes must be passed on the first "
                                 "call to partial_fit")
            self._set_classes(classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"{type(self).__name__}: classes={classes!r} is not the same as on "
                             f"the first call to partial_fit, {self.classes_!r}")
        self._fit(X, self._targets(y), incremental=True)
        return self

    def _val_score(self, X_val, T_val) -> float:
        Z = self.model_.predict(X_val)
        pred = (Z[:, 0] > 0).astype(np.intp) if Z.shape[1] == 1 else Z.argmax(axis=1)
        truth = T_val[:, 0].astype(np.intp) if T_val.ndim == 2 else T_val
        return float((pred == truth).mean())

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)``, rows summing to 1."""
        Z = self._raw(X)
        if Z.shape[1] == 1:
            from scipy.special import expit
            p = expit(Z[:, 0])
            return np.column_stack([1.0 - p, p])
        Z = Z - Z.max(axis=1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=1, keepdims=True)
        return Z

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))`` (computed from the logits: finite)."""
        Z = self._raw(X)
        if Z.shape[1] == 1:
            from scipy.special import log_expit
            return np.column_stack([log_expit(-Z[:, 0]), log_expit(Z[:, 0])])
        Z = Z - Z.max(axis=1, keepdims=True)
        return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """The most probable class for each row, shape ``(n_samples,)``."""
        Z = self._raw(X)
        idx = (Z[:, 0] > 0).astype(np.intp) if Z.shape[1] == 1 else Z.argmax(axis=1)
        return self.classes_[idx]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor (scikit-learn API) trained by minimlp.

    ``X (n_samples, n_features)``, ``y (n_samples,)`` or ``(n_samples, n_targets)``; network
    ``Dense -> activation [-> Dropout] -> ... -> Dense(n_targets)`` with a linear output and
    scikit-learn's squared error ``L = 1/2 * mean over all elements (Y - T)^2``.
    Parameters as ``sklearn.neural_network.MLPRegressor`` (solvers ``"adam"``, ``"sgd"``),
    plus ``dropout``. Attributes as ``MLPClassifier`` (without ``classes_``).
    """

    _half = True

    def _make_loss(self):
        return MSELoss()

    def _stratify(self, T):
        return None

    def _prepare(self, X, y, reset: bool):
        X, y = _validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True,
                              reset=reset)
        if reset:
            self._y_1d = y.ndim == 1
        T = y.reshape(-1, 1) if y.ndim == 1 else y
        return X, T.astype(np.float64, copy=False)

    def fit(self, X, y):
        """Train from scratch (or from the last weights with ``warm_start``); returns self."""
        warm = self.warm_start and hasattr(self, "model_")
        X, T = self._prepare(X, y, reset=not warm)
        self.n_outputs_ = T.shape[1]
        self._fit(X, T, incremental=False)
        return self

    def partial_fit(self, X, y):
        """One epoch over ``X``, ``y``; returns self."""
        first = not hasattr(self, "model_")
        X, T = self._prepare(X, y, reset=first)
        if not first and T.shape[1] != self.n_outputs_:
            raise ValueError(f"{type(self).__name__}: y has {T.shape[1]} targets, but the model "
                             f"was fitted with {self.n_outputs_}")
        self.n_outputs_ = T.shape[1]
        self._fit(X, T, incremental=True)
        return self

    def _val_score(self, X_val, T_val) -> float:
        from sklearn.metrics import r2_score
        return float(r2_score(T_val, self.model_.predict(X_val)))

    def predict(self, X) -> np.ndarray:
        """Predictions, ``(n_samples,)`` if fitted on 1-D ``y``, else ``(n_samples, n_targets)``."""
        Y = self._raw(X)
        return Y.ravel() if self._y_1d else Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
