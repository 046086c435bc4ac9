"""scikit-learn estimators backed by minimlp: ``MLPClassifier`` and ``MLPRegressor``.

They take scikit-learn's ``MLPClassifier``/``MLPRegressor`` parameters (same names, defaults
and meaning) plus ``dropout``, so they drop into ``Pipeline``, ``cross_val_score`` and
``GridSearchCV``. Importing this module imports scikit-learn (the ``dev`` extra); ``import
minimlp`` alone never does.

Training follows scikit-learn's: Glorot-uniform weights and biases drawn from the same
``RandomState`` stream (factor 2 for logistic, 6 otherwise; so the same ``random_state``
gives scikit-learn's initial weights), batches of ``min(200, n_samples)`` by default, one
epoch per iteration, the same stopping rule (the training loss, or with ``early_stopping``
the validation score, fails to improve by ``tol`` for more than ``n_iter_no_change``
epochs), the ``"invscaling"`` and ``"adaptive"`` rates of ``"sgd"``, and ``"lbfgs"``
through ``scipy.optimize.minimize(method="L-BFGS-B")``. The objective is
``minimlp.objective``'s: a sample-weighted loss on the output layer's pre-activation and
``alpha/(2 S) * sum |W|^2`` on the weights (``S`` the batch's total sample weight):

============================  ================  ===================  ======================
estimator, targets            output            loss                 ``out_activation_``
============================  ================  ===================  ======================
classifier, 2 classes         1 unit            SigmoidLogLoss       ``"logistic"``
classifier, multilabel (n,k)  k units           SigmoidLogLoss       ``"logistic"``
classifier, >2 classes        n_classes units   SoftmaxLogLoss       ``"softmax"``
regressor, squared_error      n_targets units   HalfSquaredError     ``"identity"``
regressor, poisson            n_targets units   HalfPoissonDeviance  ``"exp"``
============================  ================  ===================  ======================

Known differences from scikit-learn: ``"sgd"`` with momentum applies a changed learning
rate to the whole momentum buffer (PyTorch's rule; scikit-learn's velocity keeps the older
rates), so ``"invscaling"``/``"adaptive"`` with momentum drift apart after the first change;
Adam adds ``epsilon`` after the bias correction (PyTorch's rule); with several regression
targets the squared-error gradient carries the ``1/n_targets`` of the loss (scikit-learn's
leaves it out). A diverging fit raises ``minimlp.TrainingDiverged`` (a ``ValueError``)
and leaves the estimator as it was before the call (``err.restored`` is ``"unfitted"`` after
a first fit, ``"before_call"`` after a warm start or ``partial_fit``); with
``early_stopping`` it records a NaN validation score and keeps the best weights instead.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils import shuffle as _shuffle
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted

from .activations import Identity, ReLU, Sigmoid, Tanh, activation_classes
from .dropout import Dropout
from .layers import Dense
from .objective import (HalfPoissonDeviance, HalfSquaredError, L2Penalty, Penalized, SigmoidLogLoss,
                        SoftmaxLogLoss)
from .optim import SGD, Adam
from .sequential import Sequential
from .step import NonFiniteLoss, TrainingDiverged, TrainStep

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(est, *args, **kwargs):
        return est._validate_data(*args, **kwargs)

def activation_names() -> dict[str, type]:
    """scikit-learn's activation names (``identity``, ``logistic``, ``tanh``, ``relu``), then
    every name of ``activations.activation_classes()`` (``leaky_relu``, ``elu``, ``gelu``,
    ``silu``, your own...), read at each call, so a new activation needs no edit here."""
    return {"identity": Identity, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU,
            **{k: v for k, v in activation_classes().items() if k not in ("sigmoid", "linear")}}

__all__ = ["MLPClassifier", "MLPRegressor"]

#: Rows per dense chunk when a sparse X is densified (lbfgs's full pass, predict).
_SPARSE_CHUNK = 1024

_DIVERGED = ("Solver produced non-finite parameter weights. The input data may contain large "
             "values and need to be preprocessed (e.g. with StandardScaler), or the learning "
             "rate is too high (lower learning_rate_init).")


def _random_state(random_state) -> np.random.RandomState:
    """scikit-learn's ``random_state`` as the ``RandomState`` it draws from (an int seeds a
    new one, an instance is used as is); ``None`` gives fresh OS entropy (minimlp never
    touches numpy's global RNG)."""
    if random_state is None:
        return np.random.RandomState(np.random.MT19937())
    return check_random_state(random_state)


class _Arrays(list):
    """The list behind ``coefs_``/``intercepts_``: ``arrays[i] = A`` writes ``A`` into the
    network (checked as an assignment of the whole list), as scikit-learn's list would."""

    def __init__(self, est, what: str, arrays: list):
        super().__init__(arrays)
        self._est, self._what = est, what

    def __setitem__(self, i, value) -> None:
        values = list(self)
        values[i] = value
        setattr(self._est, self._what, values)
        super().__setitem__(i, getattr(self._est, self._what)[i])


class _BaseMLP(BaseEstimator):
    """Shared fitting code; the subclasses say how targets map to outputs and the loss."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
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
        self.max_fun = max_fun
        self.dropout = dropout

    # -- parameters -------------------------------------------------------------------
    def _check_params(self) -> list[int]:
        name = type(self).__name__
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if np.isscalar(hidden) else list(hidden)
        if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
            raise ValueError(f"{name}: hidden_layer_sizes must be positive integers, got "
                             f"{self.hidden_layer_sizes!r}")
        choices = {"activation": activation_names(), "solver": ("lbfgs", "sgd", "adam"),
                   "learning_rate": ("constant", "invscaling", "adaptive")}
        for param, allowed in choices.items():
            if getattr(self, param) not in allowed:
                raise ValueError(f"{name}: {param} must be one of {sorted(allowed)}, got "
                                 f"{getattr(self, param)!r}")
        ranges = [("alpha", 0, None, False), ("learning_rate_init", 0, None, True),
                  ("power_t", 0, None, False), ("tol", 0, None, False),
                  ("momentum", 0, 1, False), ("beta_1", 0, 1, False), ("beta_2", 0, 1, False),
                  ("epsilon", 0, None, True)]
        for param, low, high, open_low in ranges:
            v = getattr(self, param)
            ok = isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and np.isfinite(v) \
                and (v > low if open_low else v >= low) and (high is None or v < high)
            if not ok:
                raise ValueError(f"{name}: {param} must be a number {'>' if open_low else '>='} "
                                 f"{low}{'' if high is None else f' and < {high}'}, got {v!r}")
        for param in ("max_iter", "max_fun"):
            v = getattr(self, param)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: {param} must be an integer >= 1, got {v!r}")
        if not (self.n_iter_no_change == np.inf or (isinstance(self.n_iter_no_change, (int, np.integer))
                                                    and self.n_iter_no_change >= 1)):
            raise ValueError(f"{name}: n_iter_no_change must be an integer >= 1 or np.inf, got "
                             f"{self.n_iter_no_change!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {self.dropout!r}")
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            raise ValueError(f"{name}: validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if self.batch_size != "auto" and not (isinstance(self.batch_size, (int, np.integer))
                                              and not isinstance(self.batch_size, bool)
                                              and self.batch_size >= 1):
            raise ValueError(f"{name}: batch_size must be 'auto' or an integer >= 1, got {self.batch_size!r}")
        return [int(h) for h in hidden]

    def _check_solver(self) -> bool:
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    # -- the network ------------------------------------------------------------------
    def _initialize(self, sizes: list[int], dtype, rs: np.random.RandomState) -> None:
        """Build ``model_`` with scikit-learn's initial weights (the same draws from ``rs``)
        and reset the training record, as scikit-learn's first fit does."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        dense = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(factor / (a + b))
            layer = Dense(a, b, init="zeros", dtype=dtype)
            layer.W[...] = rs.uniform(-bound, bound, (a, b))
            layer.b[...] = rs.uniform(-bound, bound, b)
            dense.append(layer)
        drop_rng = np.random.default_rng(rs.randint(2 ** 31)) if self.dropout else None
        layers = []
        for i, layer in enumerate(dense):
            layers.append(layer)
            if i < len(dense) - 1:
                layers.append(activation_names()[self.activation]())
                if self.dropout:
                    layers.append(Dropout(self.dropout, rng=drop_rng))
        self.model_ = Sequential(layers)
        self._dense = dense
        self.n_layers_ = len(sizes)
        self.n_outputs_ = sizes[-1]
        self.out_activation_ = self._out_activation()
        self.n_iter_ = 0
        self.t_ = 0
        self._optimizer = None
        self._best_params = [p.value.copy() for p in self.model_.parameters()]
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._no_improvement_count = 0
            self.best_loss_ = None if self.early_stopping else np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _weights_then_biases(self) -> list:
        """The parameters in scikit-learn's packing order: every ``W``, then every ``b``."""
        return [d.parameters()[0] for d in self._dense] + [d.parameters()[1] for d in self._dense]

    def _make_loss(self):
        return {"logistic": SigmoidLogLoss, "softmax": SoftmaxLogLoss, "identity": HalfSquaredError,
                "exp": HalfPoissonDeviance}[self.out_activation_]()

    def _make_optimizer(self):
        params = self.model_.parameters()
        if self.solver == "adam":
            return Adam(params, lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                        eps=self.epsilon)
        return SGD(params, lr=self.learning_rate_init, momentum=self.momentum,
                   nesterov=bool(self.nesterovs_momentum and self.momentum > 0))

    def _set_arrays(self, what: str, values, index: int) -> None:
        check_is_fitted(self)
        values = list(values)
        targets = [d.parameters()[index].value for d in self._dense]
        if len(values) != len(targets):
            raise ValueError(f"{type(self).__name__}: {what} needs {len(targets)} arrays, got "
                             f"{len(values)}")
        new = [np.asarray(v) for v in values]
        for i, (v, t) in enumerate(zip(new, targets)):
            if v.shape != t.shape or v.dtype.kind not in "fiu" or not np.isfinite(v).all():
                raise ValueError(f"{type(self).__name__}: {what}[{i}] must be a finite real array of "
                                 f"shape {t.shape}, got shape {v.shape} and dtype {v.dtype}")
        for v, t in zip(new, targets):
            t[...] = v

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices ``W`` (fan_in, fan_out) of the Dense layers (scikit-learn's
        ``coefs_``); live arrays. Assigning a list of arrays of the same shapes, or one array
        (``coefs_[i] = W``), copies them into the network."""
        check_is_fitted(self)
        return _Arrays(self, "coefs_", [d.W for d in self._dense])

    @coefs_.setter
    def coefs_(self, values) -> None:
        self._set_arrays("coefs_", values, 0)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors ``b`` (fan_out,) of the Dense layers; assignable as ``coefs_``."""
        check_is_fitted(self)
        return _Arrays(self, "intercepts_", [d.b for d in self._dense])

    @intercepts_.setter
    def intercepts_(self, values) -> None:
        self._set_arrays("intercepts_", values, 1)

    # -- data -------------------------------------------------------------------------
    @staticmethod
    def _sample_weight(sample_weight, n: int, dtype) -> np.ndarray:
        if sample_weight is None:
            return np.ones(n, dtype=dtype)
        w = np.asarray(sample_weight)
        if w.ndim == 0:
            w = np.full(n, w)
        if w.dtype.kind not in "fiub":
            raise ValueError(f"sample_weight must be real numbers, got dtype {w.dtype}")
        w = w.astype(dtype)
        if w.shape != (n,):
            raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)!")
        if not np.isfinite(w).all() or w.min() < 0:
            raise ValueError("sample_weight must be finite and >= 0, got values in "
                             f"[{w.min()}, {w.max()}]")
        if not w.sum() > 0:
            raise ValueError("sample_weight is all zero: at least one weight must be positive")
        return w

    def _output(self, X) -> np.ndarray:
        """The network's output (pre-activation) ``Z`` on validated ``X``; sparse ``X`` is
        densified ``_SPARSE_CHUNK`` rows at a time."""
        net = self.model_
        with np.errstate(over="ignore", invalid="ignore"):
            if not sp.issparse(X):
                return net.predict(X.astype(net.dtype, copy=False))
            X = X.tocsr()
            return np.concatenate([net.predict(X[i:i + _SPARSE_CHUNK].toarray().astype(net.dtype, copy=False))
                                   for i in range(0, X.shape[0], _SPARSE_CHUNK)])

    def _raw(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, accept_sparse=["csr", "csc"],
                           dtype=(np.float64, np.float32))
        return self._output(X)

    # -- training ---------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, incremental: bool, classes=None):
        name = type(self).__name__
        hidden = self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        fresh = not self.__sklearn_is_fitted__() or not (incremental or self.warm_start)
        before = None if fresh else self._snapshot()
        X, T = self._validate_input(X, y, incremental, reset=fresh, classes=classes)
        n = X.shape[0]
        dtype = X.dtype if fresh else self.model_.dtype
        X = X.astype(dtype, copy=False)
        w = self._sample_weight(sample_weight, n, dtype)
        n_val = math.ceil(self.validation_fraction * n)       # train_test_split's count
        if self.early_stopping and self.solver != "lbfgs" and n_val < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             f"or the size of your dataset ({name}: {n} samples and "
                             f"validation_fraction={self.validation_fraction} leave {n_val} for "
                             "validation; at least 2 are needed).")
        rs = _random_state(self.random_state)
        try:
            if fresh:
                self._initialize([X.shape[1], *hidden, T.shape[1]], dtype, rs)
            elif T.shape[1] != self.n_outputs_:
                raise ValueError(f"{name}: y has {T.shape[1]} outputs, but the model was fitted "
                                 f"with {self.n_outputs_}")
            Tw = np.empty((n, T.shape[1] + 1), dtype=dtype)   # targets, then weights
            Tw[:, :-1] = T
            Tw[:, -1] = w
            self._loss = self._make_loss()
            weights = self._weights_then_biases()[:len(self._dense)]
            self._penalty = L2Penalty(weights, float(self.alpha))
            self._weighted = sample_weight is not None
            with np.errstate(all="ignore"):       # divergence is checked, never warned about
                if self.solver == "lbfgs":
                    self._fit_lbfgs(X, Tw)
                else:
                    self._fit_stochastic(X, Tw, rs, incremental)
            if not all(np.isfinite(p.value).all() for p in self.model_.parameters()):
                raise TrainingDiverged(f"{name}: {_DIVERGED}", self.n_iter_, None)
        except BaseException as e:
            if fresh:
                self._forget()
            else:
                self._restore(before)
            if isinstance(e, TrainingDiverged):
                e.restored = "unfitted" if fresh else "before_call"
            raise
        return self

    def _snapshot(self) -> dict:
        """What a failed warm start or partial_fit must put back."""
        state = {k: v for k, v in vars(self).items() if k not in self._get_param_names()}
        copy = lambda v: [a.copy() if isinstance(a, np.ndarray) else a for a in v] \
            if isinstance(v, list) else v
        state = {k: copy(v) for k, v in state.items()}
        state["_params"] = [p.value.copy() for p in self.model_.parameters()]
        opt = state.get("_optimizer")
        state["_opt_state"] = None if opt is None else opt.state_dict()
        return state

    def _restore(self, state: dict) -> None:
        for p, v in zip(self.model_.parameters(), state.pop("_params")):
            p.value[...] = v
        opt_state = state.pop("_opt_state")
        self._forget()
        vars(self).update(state)
        if opt_state is not None:
            self._optimizer.load_state_dict(opt_state)

    def _forget(self) -> None:
        """Back to unfitted: every attribute that is not a constructor parameter goes."""
        keep = set(self._get_param_names())
        for k in [k for k in vars(self) if k not in keep]:
            delattr(self, k)

    def _fit_stochastic(self, X, Tw, rs, incremental: bool) -> None:
        name = type(self).__name__
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()
        opt = self._optimizer
        update = Penalized(opt, self._penalty, self._loss)      # the L2 gradient, then the update
        step = TrainStep(self.model_, self._loss, update, threads=None)
        X_val = Tw_val = None
        if self.early_stopping:
            stratify = Tw[:, 0] if is_classifier(self) and self.n_outputs_ == 1 else None
            X, X_val, Tw, Tw_val = train_test_split(X, Tw, random_state=rs, stratify=stratify,
                                                    test_size=self.validation_fraction)
        n, sparse = X.shape[0], sp.issparse(X)
        if sparse:
            X = X.tocsr()        # rows are gathered by batch; the data set stays sparse
        if self.batch_size == "auto":
            bs = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", UserWarning)
            bs = min(int(self.batch_size), n)
        Xbuf = np.empty((bs, X.shape[1]), dtype=Tw.dtype)
        Tbuf = np.empty((bs, Tw.shape[1]), dtype=Tw.dtype)
        order = np.arange(n)
        sgd = self.solver == "sgd"
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            if self.shuffle:
                order = _shuffle(order, random_state=rs)
            total = 0.0
            for batch, start in enumerate(range(0, n, bs), 1):
                rows = order[start:start + bs] if self.shuffle else slice(start, start + bs)
                Xb, Tb = self._gather(X, Tw, rows, Xbuf, Tbuf, sparse)
                try:
                    value = step.run(Xb, Tb) + update.penalty_value   # data checked once, in fit
                except NonFiniteLoss as e:                            # raised before any update
                    value = e.value
                if not np.isfinite(value):
                    self._diverged(batch, value)
                    return
                total += value * Xb.shape[0]
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = total / n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            self._update_no_improvement(X_val, Tw_val)
            if sgd and self.learning_rate == "invscaling":
                opt.lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if X_val is not None else "Training loss"
                msg = (f"{what} did not improve more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs.")
                if sgd and self.learning_rate == "adaptive" and opt.lr > 1e-6:
                    opt.lr = opt.lr / 5.0
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(f"{msg} Setting learning rate to {opt.lr:f}")
                else:
                    if self.verbose:
                        small = " Learning rate too small." if sgd and self.learning_rate == "adaptive" else ""
                        print(f"{msg}{small} Stopping.")
                    break
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                              f"and the optimization hasn't converged yet ({name}).",
                              ConvergenceWarning)
        if self.early_stopping:
            self._load_best()

    def _gather(self, X, Tw, rows, Xbuf, Tbuf, sparse: bool):
        """The batch ``X[rows]``, ``Tw[rows]``: views for a slice, else gathered into the
        reused buffers; sparse rows are densified into ``Xbuf``."""
        if isinstance(rows, slice):
            Tb = Tw[rows]
            m = Tb.shape[0]
            if not sparse:
                return X[rows], Tb
        else:
            m = len(rows)
            Tb = np.take(Tw, rows, axis=0, out=Tbuf[:m])
            if not sparse:
                return np.take(X, rows, axis=0, out=Xbuf[:m]), Tb
        Xb = Xbuf[:m]
        Xb.fill(0)
        X[rows].toarray(out=Xb)       # (csr's toarray adds into out)
        return Xb, Tb

    def _diverged(self, batch: int, value: float) -> None:
        """A non-finite batch loss: with early stopping, record NaN and keep the best
        weights (as scikit-learn); otherwise raise TrainingDiverged."""
        name = type(self).__name__
        epoch = self.n_iter_ + 1
        where = f"{name}: training diverged in epoch {epoch}, batch {batch} (the loss is {value})"
        if not self.early_stopping:
            raise TrainingDiverged(f"{where}. {_DIVERGED}", epoch, batch)
        self.n_iter_ = epoch
        self.loss_ = float("nan")
        self.loss_curve_.append(self.loss_)
        self.validation_scores_.append(float("nan"))
        warnings.warn(f"{where}; kept the weights of the best validation score "
                      f"({self.best_validation_score_}). {_DIVERGED}", ConvergenceWarning)
        self._load_best()

    def _load_best(self) -> None:
        for p, v in zip(self.model_.parameters(), self._best_params):
            p.value[...] = v

    def _update_no_improvement(self, X_val, Tw_val) -> None:
        if X_val is not None:
            score = self._validation_score(X_val, Tw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
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

    def _validation_score(self, X_val, Tw_val) -> float:
        """The score (accuracy or R^2) on the held-out rows; NaN where the network's output
        is not finite (a diverged run), as scikit-learn."""
        Z = self._output(X_val)
        if not np.isfinite(Z).all():
            return float("nan")
        w = Tw_val[:, -1] if self._weighted else None
        return float(self._score_outputs(Z, Tw_val[:, :-1], w))

    def _fit_lbfgs(self, X, Tw) -> None:
        params = self._weights_then_biases()
        ends = np.cumsum([p.size for p in params])
        spans = list(zip(np.concatenate([[0], ends[:-1]]), ends))

        def objective(x):
            for p, (a, b) in zip(params, spans):
                p.value[...] = x[a:b].reshape(p.shape)
            value = self._full_batch(X, Tw)
            return value, np.concatenate([p.grad.ravel() for p in params]).astype(np.float64)

        x0 = np.concatenate([p.value.ravel() for p in params]).astype(np.float64)
        res = scipy.optimize.minimize(objective, x0, method="L-BFGS-B", jac=True,
                                      options={"maxfun": self.max_fun, "maxiter": self.max_iter,
                                               "gtol": self.tol})
        self.n_iter_ = min(int(res.nit), self.max_iter)
        self.loss_ = float(res.fun)
        for p, (a, b) in zip(params, spans):
            p.value[...] = res.x[a:b].reshape(p.shape)
        if not np.isfinite(self.loss_):
            raise TrainingDiverged(f"{type(self).__name__}: lbfgs ended with the loss {self.loss_}. "
                                   f"{_DIVERGED}", self.n_iter_, None)
        if self.verbose:
            print(f"lbfgs: {self.n_iter_} iterations, {res.nfev} evaluations, loss = "
                  f"{self.loss_:.8f}: {res.message}")
        if res.status != 0:
            hint = (f"\nIncrease the number of iterations to improve the convergence "
                    f"(max_iter={self.max_iter}).") if self.n_iter_ == self.max_iter else ""
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                          f"(status={res.status}):\n{res.message}\n{hint}", ConvergenceWarning)

    def _full_batch(self, X, Tw) -> float:
        """The objective over the whole data set; its gradient is left in every ``grad``.
        A sparse ``X`` goes through in dense chunks, their gradients weighted together."""
        net, loss = self.model_, self._loss
        if not sp.issparse(X):
            value = loss.forward(net.forward(X), Tw)
            if np.isfinite(value):
                net.backward(loss.backward())
            S = loss.weight_sum
        else:
            X = X.tocsr()
            params = net.parameters()
            acc = [np.zeros_like(p.value) for p in params]
            S = float(Tw[:, -1].sum())
            value = 0.0
            for i in range(0, X.shape[0], _SPARSE_CHUNK):
                Tc = Tw[i:i + _SPARSE_CHUNK]
                if not Tc[:, -1].sum() > 0:
                    continue                       # rows of weight 0 add nothing
                v = loss.forward(net.forward(X[i:i + _SPARSE_CHUNK].toarray()), Tc)
                share = loss.weight_sum / S
                value += share * v
                if np.isfinite(v):
                    net.backward(loss.backward())
                    for a, p in zip(acc, params):
                        a += share * p.grad
            for a, p in zip(acc, params):
                p.grad[...] = a
        if not np.isfinite(value):
            return float("inf")        # L-BFGS-B backs off from an infinite value
        return value + self._penalty.add_to_grads(S)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = False
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier (scikit-learn API) trained by minimlp.

    ``X (n_samples, n_features)`` (dense, or scipy.sparse CSR/CSC) and labels ``y
    (n_samples,)`` of any type, or a multilabel indicator matrix ``(n_samples, n_labels)``;
    network ``Dense -> activation [-> Dropout] -> ... -> Dense(n_outputs)`` with softmax
    cross-entropy (more than two classes), one logistic unit (two classes) or one logistic
    unit and binary cross-entropy per label (multilabel). Parameters as
    ``sklearn.neural_network.MLPClassifier`` (solvers ``"lbfgs"``, ``"sgd"``, ``"adam"``),
    plus ``dropout`` (probability after each hidden activation, 0 = none).
    ``fit``/``partial_fit`` take ``sample_weight``; float32 ``X`` trains a float32 network.

    Attributes: ``classes_``, ``model_`` (the ``minimlp.Sequential``), ``coefs_``,
    ``intercepts_``, ``n_iter_`` (of the last fit), ``t_``, ``loss_``, ``loss_curve_``,
    ``best_loss_``, ``validation_scores_``, ``best_validation_score_``, ``n_layers_``,
    ``n_outputs_``, ``out_activation_``, ``n_features_in_``, ``feature_names_in_``.
    """

    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset, classes=None):
        X, y = _validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                              dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        name = type(self).__name__
        if reset:
            binarizer = LabelBinarizer().fit(y if classes is None or y.ndim == 2 else classes)
            if binarizer.y_type_ != "multilabel-indicator" and len(binarizer.classes_) < 2:
                raise ValueError(f"{name}: needs samples of at least 2 classes in the data, got "
                                 f"1 class: {binarizer.classes_[0]!r}")
            unseen = np.setdiff1d(unique_labels(y), binarizer.classes_)
            if len(unseen):
                raise ValueError(f"{name}: y has labels not in classes={list(binarizer.classes_)}: "
                                 f"{list(unseen)}")
            self._label_binarizer, self.classes_ = binarizer, binarizer.classes_
        else:
            seen = unique_labels(y)
            if not incremental and set(seen) != set(self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes as "
                                 f"in the previous call to fit. Previously got {self.classes_}, "
                                 f"`y` has {seen}")
            if len(np.setdiff1d(seen, self.classes_)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {seen}.")
        return X, self._label_binarizer.transform(y)

    def fit(self, X, y, sample_weight=None):
        """Train from scratch (or from the last weights with ``warm_start``); returns self.

        ``X (n, d)`` dense or sparse, ``y (n,)`` labels or ``(n, k)`` multilabel indicators,
        ``sample_weight (n,)`` of weights >= 0 (default: all 1).
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X``, ``y``; ``classes`` (every label) is required on the first call."""
        first = not self.__sklearn_is_fitted__()
        if first and classes is None:
            raise ValueError(f"{type(self).__name__}: classes must be passed on the first call "
                             "to partial_fit")
        if not first and classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                             f"partial_fit, was: {self.classes_!r}")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _score_outputs(self, Z, T, w) -> float:
        if Z.shape[1] > 1 and self.out_activation_ == "softmax":
            correct = Z.argmax(axis=1) == T.argmax(axis=1)
        else:
            correct = ((Z > 0) == (T > 0.5)).all(axis=1)
        return np.average(correct, weights=w)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)`` with rows summing to 1
        (multilabel: each label's probability, ``(n_samples, n_labels)``)."""
        P = self._loss_predict(self._raw(X))
        if self.n_outputs_ == 1:
            return np.column_stack([1.0 - P[:, 0], P[:, 0]])
        return P

    def _loss_predict(self, Z):
        return (SoftmaxLogLoss if self.out_activation_ == "softmax" else SigmoidLogLoss)().predict(Z)

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))`` (computed from the logits: finite)."""
        Z = self._raw(X)
        if self.out_activation_ == "logistic":
            from scipy.special import log_expit
            if self.n_outputs_ == 1:
                return np.column_stack([log_expit(-Z[:, 0]), log_expit(Z[:, 0])])
            return log_expit(Z)
        Z = Z - Z.max(axis=1, keepdims=True)
        return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """The most probable class for each row, ``(n_samples,)`` (multilabel: the
        indicator matrix ``(n_samples, n_labels)``)."""
        Z = self._raw(X)
        if self.out_activation_ == "softmax":
            return self.classes_[Z.argmax(axis=1)]
        scores = Z.ravel() if self.n_outputs_ == 1 else Z
        return self._label_binarizer.inverse_transform(scores, threshold=0.0)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the ``predict_proba`` columns: the class labels as strings."""
        check_is_fitted(self)
        return np.asarray([str(c) for c in self.classes_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor (scikit-learn API) trained by minimlp.

    ``X (n_samples, n_features)`` (dense, or scipy.sparse CSR/CSC), ``y (n_samples,)`` or
    ``(n_samples, n_targets)``; network ``Dense -> activation [-> Dropout] -> ... ->
    Dense(n_targets)`` with ``loss="squared_error"`` (identity output, ``1/2 * mean (Y -
    T)^2``) or ``loss="poisson"`` (the rate ``exp(Z)``, half the Poisson deviance; ``y >=
    0``). Parameters as ``sklearn.neural_network.MLPRegressor``, plus ``dropout``.
    Attributes as ``MLPClassifier`` (without ``classes_``).
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate,
                         learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
                         verbose=verbose, warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
                         dropout=dropout)
        self.loss = loss

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset, classes=None):
        name = type(self).__name__
        if self.loss not in ("squared_error", "poisson"):
            hint = ("; hidden_layer_sizes is the second positional argument, as in scikit-learn "
                    f"(write hidden_layer_sizes={self.loss!r})") if not isinstance(self.loss, str) else ""
            raise ValueError(f"{name}: loss must be 'squared_error' or 'poisson', got "
                             f"{self.loss!r}{hint}")
        X, y = _validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                              y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and y.min() < 0:
            raise ValueError(f"{name}(loss='poisson'): y must be >= 0 (counts or rates), got a "
                             f"minimum of {y.min()}")
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y)

    def fit(self, X, y, sample_weight=None):
        """Train from scratch (or from the last weights with ``warm_start``); returns self.

        ``X (n, d)`` dense or sparse, ``y (n,)`` or ``(n, k)``, ``sample_weight (n,)``.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X``, ``y``; returns self."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _score_outputs(self, Z, T, w) -> float:
        from sklearn.metrics import r2_score
        return r2_score(T, self._loss_predict(Z), sample_weight=w)

    def _loss_predict(self, Z):
        return (HalfPoissonDeviance if self.out_activation_ == "exp" else HalfSquaredError)().predict(Z)

    def predict(self, X) -> np.ndarray:
        """Predictions ``(n_samples,)`` for one target, else ``(n_samples, n_targets)``
        (``exp`` of the output with ``loss="poisson"``)."""
        Y = self._loss_predict(self._raw(X))
        return Y.ravel() if Y.shape[1] == 1 else Y

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the predicted targets: ``mlpregressor0``, ``mlpregressor1``, ..."""
        check_is_fitted(self)
        return np.asarray([f"mlpregressor{i}" for i in range(self.n_outputs_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
