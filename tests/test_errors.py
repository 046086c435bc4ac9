"""The catalogue of user mistakes: each raises the right exception, with a message that names
the layer (and its index in the Sequential) or the argument, what was expected and what came
in, and leaves the model's parameters, gradients and the optimizer's state unchanged.

Each row is ``(id, mistake, exception type, regex the message must match)``; ``mistake``
receives a context with a trained-for-one-step model ``net`` (Dense(3, 4) -> ReLU ->
Dense(4, 2)), its Adam optimizer ``opt``, a one-output model ``net1``, inputs ``X`` (5, 3).
The rules these rows pin down are listed in docs/errors.md.
"""
import io
import warnings
import json
import re
import types

import numpy as np
import pytest

import minimlp as mm


def make_context():
    rng = np.random.default_rng(0)
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.ReLU(), mm.Dense(4, 2, rng=1))
    net1 = mm.Sequential(mm.Dense(3, 1, rng=2))
    opt = mm.Adam(net.parameters(), lr=0.01)
    opt1 = mm.SGD(net1.parameters(), lr=0.1, momentum=0.9)
    X = rng.standard_normal((5, 3))
    ce = mm.CrossEntropyLoss()
    mse = mm.MSELoss()
    ce.forward(net.forward(X), np.array([0, 1, 1, 0, 1]))
    net.backward(ce.backward())
    mse.forward(net1.forward(X), rng.standard_normal((5, 1)))
    net1.backward(mse.backward())
    opt.step()   # optimizer state is non-zero now
    opt1.step()
    return types.SimpleNamespace(net=net, net1=net1, opt=opt, opt1=opt1, X=X, rng=rng,
                                 labels=np.array([0, 1, 1, 0, 1]))


def snapshot(ctx):
    params = ctx.net.parameters() + ctx.net1.parameters()
    states = [ctx.opt.state_dict(), ctx.opt1.state_dict()]
    return {
        "values": [p.value.copy() for p in params],
        "grads": [p.grad.copy() for p in params],
        "opt_arrays": [a.copy() for st in states for v in st.values() if isinstance(v, list)
                       for a in v if isinstance(a, np.ndarray)],
        "opt_scalars": [(st["steps"], json.dumps(st["hyper"], sort_keys=True)) for st in states],
    }


def assert_unchanged(before, after):
    for key in ("values", "grads", "opt_arrays"):
        for a, b in zip(before[key], after[key]):
            np.testing.assert_array_equal(a, b, err_msg=f"{key} changed")
    assert before["opt_scalars"] == after["opt_scalars"]


def _save_model(net, **arrays_to_change):
    """The bytes of ``mm.save(net)``, optionally with arrays replaced/added (None removes)."""
    import tempfile, os
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.npz")
        mm.save(net, path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    for k, v in arrays_to_change.items():
        if v is None:
            arrays.pop(k, None)
        else:
            arrays[k] = v
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _fit(ctx, X=None, Y=None, model=None, **kwargs):
    args = dict(loss="cross_entropy", optimizer=ctx.opt, epochs=2, batch_size=2, verbose=0, seed=0)
    args.update(kwargs)
    return (ctx.net if model is None else model).fit(ctx.X if X is None else X, ctx.labels if Y is None else Y, **args)


def _config():
    from minimlp import config
    return config


def _load_bytes(tmp_path, data, name="model.npz"):
    path = tmp_path / name
    path.write_bytes(data)
    return mm.load(path)


def _header_with(net, **changes):
    buf = _save_model(net)
    with np.load(io.BytesIO(buf), allow_pickle=False) as npz:
        header = json.loads(str(npz["__minimlp__"]))
    header.update(changes)
    return _save_model(net, __minimlp__=np.array(json.dumps(header)))


# (id, mistake(ctx, tmp_path), exception, message regex)
CATALOGUE = [
    # -- the input X ------------------------------------------------------------------------
    ("X-wrong-features", lambda c, t: c.net.forward(np.ones((5, 4))),
     ValueError, r"layer 0 \(Dense\(3, 4\)\).*\(N, 3\).*got \(5, 4\)"),
    ("X-wrong-features-predict", lambda c, t: c.net.predict(np.ones((2, 7))),
     ValueError, r"layer 0 \(Dense\(3, 4\)\).*\(N, 3\).*got \(2, 7\)"),
    ("X-1d", lambda c, t: c.net.forward(np.ones(3)),
     ValueError, r"input X.*expected a 2-D array \(N, D\).*got shape \(3,\).*reshape\(1, -1\)"),
    ("X-3d", lambda c, t: c.net.forward(np.ones((2, 5, 3))),
     ValueError, r"input X.*expected a 2-D array.*got shape \(2, 5, 3\)"),
    ("X-scalar", lambda c, t: c.net.predict(3.0),
     ValueError, r"input X.*expected a 2-D array.*got shape \(\)"),
    ("X-empty-batch", lambda c, t: c.net.forward(np.ones((0, 3))),
     ValueError, r"input X.*empty batch.*at least one row.*\(0, 3\)"),
    ("X-nan", lambda c, t: c.net.forward(np.where(np.eye(5, 3) > 0, np.nan, 1.0)),
     ValueError, r"input X.*NaN or inf.*index \(0, 0\)"),
    ("X-inf", lambda c, t: c.net.predict(np.array([[1.0, 2.0, 3.0], [1.0, -np.inf, 0.0]])),
     ValueError, r"input X.*NaN or inf.*index \(1, 1\)"),
    ("X-complex", lambda c, t: c.net.forward(np.ones((5, 3), dtype=complex)),
     TypeError, r"input X.*real numeric array.*got dtype complex128"),
    ("X-object", lambda c, t: c.net.forward(np.array([[1, 2, None]], dtype=object)),
     TypeError, r"input X.*real numeric array.*got dtype object"),
    ("X-strings", lambda c, t: c.net.forward(np.array([["1", "2", "3"]])),
     TypeError, r"input X.*real numeric array.*got dtype <U1"),
    ("X-ragged-list", lambda c, t: c.net.forward([[1.0, 2.0, 3.0], [1.0]]),
     TypeError, r"input X.*numeric array.*could not convert"),
    ("X-none", lambda c, t: c.net.forward(None),
     TypeError, r"input X.*real numeric array.*got dtype object"),

    # -- targets and losses -----------------------------------------------------------------
    ("T-N-vs-N1", lambda c, t: mm.MSELoss().forward(c.net1.forward(c.X), np.zeros(5)),
     ValueError, r"MSELoss.*shape of the predictions \(5, 1\), got \(5,\).*reshape\(-1, 1\).*never broadcast"),
    ("T-wrong-width", lambda c, t: mm.MSELoss().forward(c.net.forward(c.X), np.zeros((5, 3))),
     ValueError, r"MSELoss.*\(5, 2\), got \(5, 3\)"),
    ("T-wrong-rows", lambda c, t: mm.MSELoss().forward(c.net.forward(c.X), np.zeros((4, 2))),
     ValueError, r"MSELoss.*\(5, 2\), got \(4, 2\)"),
    ("T-nan", lambda c, t: mm.MSELoss().forward(c.net.forward(c.X), np.full((5, 2), np.nan)),
     ValueError, r"MSELoss.*targets contain NaN or inf \(first at index \(0, 0\)\)"),
    ("T-inf-bce", lambda c, t: mm.BCEWithLogitsLoss().forward(c.net.forward(c.X), np.full((5, 2), np.inf)),
     ValueError, r"BCEWithLogitsLoss.*targets contain NaN or inf"),
    ("T-complex", lambda c, t: mm.MSELoss().forward(c.net.forward(c.X), np.zeros((5, 2), complex)),
     TypeError, r"MSELoss.*targets must be real numbers, got dtype complex128"),
    ("T-bce-out-of-range", lambda c, t: mm.BCEWithLogitsLoss().forward(c.net.forward(c.X), np.full((5, 2), 2.0)),
     ValueError, r"BCEWithLogitsLoss.*targets must lie in \[0, 1\].*got values in \[2\.0, 2\.0\]"),
    ("CE-label-too-large", lambda c, t: mm.CrossEntropyLoss().forward(c.net.forward(c.X), np.array([0, 1, 2, 0, 1])),
     ValueError, r"CrossEntropyLoss.*labels must lie in \[0, 1\] for 2 classes.*got values in \[0, 2\]"),
    ("CE-label-negative", lambda c, t: mm.CrossEntropyLoss().forward(c.net.forward(c.X), np.array([0, -1, 1, 0, 1])),
     ValueError, r"CrossEntropyLoss.*labels must lie in \[0, 1\].*got values in \[-1, 1\]"),
    ("CE-label-float", lambda c, t: mm.CrossEntropyLoss().forward(c.net.forward(c.X), np.array([0.0, 1, 1, 0, 1])),
     TypeError, r"CrossEntropyLoss.*labels of shape \(N,\) must be integers, got dtype float64"),
    ("CE-label-bool", lambda c, t: mm.CrossEntropyLoss().forward(c.net.forward(c.X), np.array([0, 1, 1, 0, 1], bool)),
     TypeError, r"CrossEntropyLoss.*must be integers, got dtype bool"),
    ("CE-label-count", lambda c, t: mm.CrossEntropyLoss().forward(c.net.forward(c.X), np.array([0, 1, 1])),
     ValueError, r"CrossEntropyLoss.*expected 5 labels.*\(5, 2\), got 3"),
    ("CE-label-column", lambda c, t: mm.CrossEntropyLoss().forward(c.net.forward(c.X), c.labels.reshape(-1, 1)),
     ValueError, r"CrossEntropyLoss.*\(5, 2\), got \(5, 1\)"),
    ("CE-probs-not-summing-to-1", lambda c, t: mm.CrossEntropyLoss().forward(c.net.forward(c.X), np.full((5, 2), 0.6)),
     ValueError, r"CrossEntropyLoss.*probabilities \(>= 0, summing to 1\).*row sums lie in \[1\.2, 1\.2\]"),
    ("CE-probs-negative", lambda c, t: mm.CrossEntropyLoss().forward(c.net.forward(c.X), np.tile([1.5, -0.5], (5, 1))),
     ValueError, r"CrossEntropyLoss.*probabilities \(>= 0"),
    ("loss-Y-1d", lambda c, t: mm.MSELoss().forward(np.zeros(5), np.zeros(5)),
     ValueError, r"MSELoss.*predictions must be a 2-D float array \(N, D\), got \(5,\)"),
    ("loss-Y-empty", lambda c, t: mm.MSELoss().forward(np.zeros((0, 2)), np.zeros((0, 2))),
     ValueError, r"MSELoss.*empty batch"),
    ("loss-backward-first", lambda c, t: mm.CrossEntropyLoss().backward(),
     RuntimeError, r"CrossEntropyLoss.*backward\(\) called before forward"),

    # -- building layers and models -----------------------------------------------------------
    ("Dense-zero", lambda c, t: mm.Dense(0, 3),
     ValueError, r"Dense\(0, 3\).*in_features must be >= 1, got 0"),
    ("Dense-negative", lambda c, t: mm.Dense(3, -2),
     ValueError, r"Dense\(3, -2\).*out_features must be >= 1, got -2"),
    ("Dense-float-size", lambda c, t: mm.Dense(2.5, 3),
     TypeError, r"Dense\(2\.5, 3\).*in_features must be an integer, got 2\.5 \(float\)"),
    ("Dense-string-size", lambda c, t: mm.Dense(3, "4"),
     TypeError, r"Dense\(3, 4\).*out_features must be an integer, got '4' \(str\)"),
    ("Dense-int-dtype", lambda c, t: mm.Dense(3, 4, dtype=np.int32),
     ValueError, r"Dense\(3, 4\).*dtype must be float32 or float64, got .*int32"),
    ("Dense-unknown-init", lambda c, t: mm.Dense(3, 4, init="xavier"),
     ValueError, r"Dense\(3, 4\).*unknown initializer 'xavier'; allowed: .*glorot_uniform.*he_normal"),
    ("Dense-bad-rng", lambda c, t: mm.Dense(3, 4, rng=1.5),
     TypeError, r"Dense\(3, 4\).*rng must be None, an int seed or a numpy.random.Generator, got float"),
    ("Dense-bias-not-bool", lambda c, t: mm.Dense(3, 4, bias="no"),
     TypeError, r"Dense\(3, 4\): bias must be True or False, got 'no'"),
    ("LeakyReLU-bad-slope", lambda c, t: mm.LeakyReLU("0.1"),
     TypeError, r"LeakyReLU.*negative_slope must be a real number, got '0\.1'"),
    ("Sequential-width-mismatch", lambda c, t: mm.Sequential(mm.Dense(3, 4), mm.ReLU(), mm.Dense(5, 2)),
     ValueError, r"layer 2 \(Dense\(5, 2\)\) expects 5 input features.*outputs 4"),
    ("Sequential-class-not-instance", lambda c, t: mm.Sequential(mm.Dense(3, 4), mm.ReLU),
     TypeError, r"layer 1 is a type, not a minimlp Layer.*parentheses"),
    ("Sequential-layer-used-twice", lambda c, t: mm.Sequential(c.net[0], c.net[1], mm.Dense(4, 4), c.net[1]),
     ValueError, r"Sequential: layer 3 \(ReLU\(\)\) is the same object as layer 1; a layer can appear only once"),
    ("predict-batch-size-zero", lambda c, t: c.net.predict(c.X, batch_size=0),
     ValueError, r"Sequential\.predict: batch_size must be >= 1, got 0"),
    ("Sequential-mixed-dtypes", lambda c, t: mm.Sequential(mm.Dense(3, 4), mm.Dense(4, 2, dtype=np.float32)),
     ValueError, r"layers mix dtypes: layer 1 \(Dense\(4, 2, dtype=float32\)\) is float32 but layer 0 \(Dense\(3, 4\)\) is float64"),

    # -- optimizers ----------------------------------------------------------------------------
    ("SGD-negative-lr", lambda c, t: mm.SGD(c.net.parameters(), lr=-0.1),
     ValueError, r"SGD.*invalid lr \(learning rate\) -0\.1; expected a value in \[0\.0, inf\)"),
    ("SGD-nan-lr", lambda c, t: mm.SGD(c.net.parameters(), lr=float("nan")),
     ValueError, r"SGD.*invalid lr .*nan"),
    ("SGD-momentum-1", lambda c, t: mm.SGD(c.net.parameters(), momentum=1.0),
     ValueError, r"SGD.*invalid momentum 1\.0; expected a value in \[0\.0, 1\.0\)"),
    ("SGD-momentum-negative", lambda c, t: mm.SGD(c.net.parameters(), momentum=-0.5),
     ValueError, r"SGD.*invalid momentum -0\.5; expected a value in \[0\.0, 1\.0\)"),
    ("SGD-nesterov-without-momentum", lambda c, t: mm.SGD(c.net.parameters(), nesterov=True),
     ValueError, r"SGD.*nesterov=True requires momentum > 0, got momentum=0\.0"),
    ("SGD-negative-weight-decay", lambda c, t: mm.SGD(c.net.parameters(), weight_decay=-1e-4),
     ValueError, r"SGD.*invalid weight_decay -0\.0001; expected a value in \[0\.0, inf\)"),
    ("Adam-beta1-1", lambda c, t: mm.Adam(c.net.parameters(), betas=(1.0, 0.999)),
     ValueError, r"Adam.*invalid beta1 1\.0; expected a value in \[0\.0, 1\.0\)"),
    ("Adam-beta2-negative", lambda c, t: mm.Adam(c.net.parameters(), betas=(0.9, -0.1)),
     ValueError, r"Adam.*invalid beta2 -0\.1; expected a value in \[0\.0, 1\.0\)"),
    ("Adam-betas-not-a-pair", lambda c, t: mm.Adam(c.net.parameters(), betas=0.9),
     ValueError, r"Adam.*betas must be a pair \(beta1, beta2\), got 0\.9"),
    ("Adam-eps-zero", lambda c, t: mm.Adam(c.net.parameters(), eps=0.0),
     ValueError, r"Adam.*invalid eps 0\.0; expected a value in \(0\.0, inf\)"),
    ("Adam-eps-negative", lambda c, t: mm.Adam(c.net.parameters(), eps=-1e-8),
     ValueError, r"Adam.*invalid eps -1e-08"),
    ("optimizer-empty-list", lambda c, t: mm.SGD([], lr=0.1),
     ValueError, r"SGD.*empty parameter list"),
    ("optimizer-array-not-parameter", lambda c, t: mm.Adam([c.net[0].W]),
     TypeError, r"Adam.*params\[0\] is a ndarray, not a Parameter.*model\.parameters\(\)"),
    ("optimizer-integer-parameter", lambda c, t: mm.SGD([mm.Parameter(np.array([1, 2]), "w")], lr=0.1),
     TypeError, r"SGD: params\[0\] \(Parameter\('w'.*must hold a float array.*got value dtype int64"),
    ("optimizer-given-the-model", lambda c, t: mm.SGD(c.net, lr=0.1),
     TypeError, r"SGD.*params\[0\] is a Dense, not a Parameter.*model\.parameters\(\)"),
    ("optimizer-duplicate-parameter", lambda c, t: mm.SGD(c.net.parameters() * 2, lr=0.1),
     ValueError, r"SGD.*appears more than once in params: params\[4\] \(Parameter\('W'.*is params\[0\] again"),
    ("optimizer-set-negative-lr", lambda c, t: setattr(c.opt, "lr", -1),
     ValueError, r"Adam.*invalid lr \(learning rate\) -1\.0"),

    # -- backward ------------------------------------------------------------------------------
    ("backward-before-forward", lambda c, t: mm.Sequential(mm.Dense(3, 2)).backward(np.ones((5, 2))),
     RuntimeError, r"Sequential.*backward\(\) called without a preceding forward\(X, train=True\)"),
    # Only a fresh model: after a training forward, a predict leaves its caches alone.
    ("backward-after-only-predict", lambda c, t: (lambda net: (net.predict(c.X), net.backward(np.ones((5, 2)))))(
        mm.Sequential(mm.Dense(3, 4, rng=0), mm.ReLU(), mm.Dense(4, 2, rng=1))),
     RuntimeError, r"Sequential.*backward\(\) called without a preceding forward.*predict\(\) keeps no cache"),
    ("backward-wrong-shape", lambda c, t: (c.net.forward(c.X), c.net.backward(np.ones((5, 3)))),
     ValueError, r"Sequential.*backward expected a gradient of shape \(5, 2\).*got \(5, 3\)"),
    ("backward-transposed", lambda c, t: (c.net.forward(c.X), c.net.backward(np.ones((2, 5)))),
     ValueError, r"Sequential.*backward expected a gradient of shape \(5, 2\).*got \(2, 5\)"),
    ("backward-nan", lambda c, t: (c.net.forward(c.X), c.net.backward(np.full((5, 2), np.nan))),
     ValueError, r"Sequential backward dY.*NaN or inf"),
    ("batchnorm-one-sample", lambda c, t: mm.Sequential(mm.Dense(3, 4), mm.BatchNorm1d(4), mm.ReLU()).forward(c.X[:1]),
     ValueError, r"Sequential: layer 1: BatchNorm1d\(4\): training needs at least 2 samples.*got input of shape \(1, 4\)"),
    ("Dropout-p-above-1", lambda c, t: mm.Dropout(1.5),
     ValueError, r"Dropout: invalid p \(drop probability\) 1\.5; expected a value in \[0\.0, 1\.0\]"),
    ("loss-unknown-reduction", lambda c, t: mm.MSELoss(reduction="avg"),
     ValueError, r"MSELoss: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    ("BCELoss-given-logits", lambda c, t: mm.BCELoss().forward(c.net.forward(c.X) * 10, np.ones((5, 2))),
     ValueError, r"BCELoss\(\): predictions must be probabilities in \[0, 1\], got values in .*BCEWithLogitsLoss"),
    ("layer-backward-after-only-inference", lambda c, t: (lambda d: (d.forward(np.ones((5, 4)), train=False),
                                                                   d.backward(np.ones((5, 2)))))(mm.Dense(4, 2, rng=1)),
     RuntimeError, r"Dense\(4, 2\).*backward\(\) called without a preceding forward"),
    ("layer-wrong-features", lambda c, t: c.net[2].forward(np.ones((5, 3))),
     ValueError, r"Dense\(4, 2\).*expected input of shape \(N, 4\), got \(5, 3\)"),

    # -- fit -----------------------------------------------------------------------------------
    ("fit-batch-size-zero", lambda c, t: _fit(c, batch_size=0),
     ValueError, r"fit: batch_size must be >= 1, got 0"),
    ("fit-batch-size-negative", lambda c, t: _fit(c, batch_size=-4),
     ValueError, r"fit: batch_size must be >= 1, got -4"),
    ("fit-batch-size-float", lambda c, t: _fit(c, batch_size=2.5),
     TypeError, r"fit: batch_size must be an integer, got 2\.5"),
    ("fit-epochs-zero", lambda c, t: _fit(c, epochs=0),
     ValueError, r"fit: epochs must be >= 1, got 0"),
    ("fit-validation-split-1", lambda c, t: _fit(c, validation_split=1.0),
     ValueError, r"fit: invalid validation_split 1\.0; expected a value in \[0\.0, 1\.0\)"),
    ("fit-validation-split-negative", lambda c, t: _fit(c, validation_split=-0.2),
     ValueError, r"fit: invalid validation_split -0\.2"),
    ("fit-rows-mismatch", lambda c, t: _fit(c, Y=c.labels[:4]),
     ValueError, r"fit.*X has 5 rows but Y has 4"),
    ("fit-bad-targets", lambda c, t: _fit(c, Y=c.labels + 5),
     ValueError, r"CrossEntropyLoss.*labels must lie in \[0, 1\].*got values in \[5, 6\]"),
    ("fit-bad-X", lambda c, t: _fit(c, X=np.ones((5, 4))),
     ValueError, r"fit input X: layer 0 \(Dense\(3, 4\)\) expects input of shape \(N, 3\), got \(5, 4\)"),
    ("fit-batchnorm-batch-of-one", lambda c, t: _fit(
        c, X=np.ones((5, 3)), optimizer=mm.SGD(c.net.parameters(), lr=0.1),
        model=mm.Sequential(c.net[0], mm.BatchNorm1d(4), mm.ReLU(), c.net[2]), batch_size=2),
     ValueError, r"fit: layer 1 \(BatchNorm1d\(4\)\) needs at least 2 samples per training batch, "
                 r"but batch_size=2 on 5 training rows leaves a batch of 1"),
    ("fit-unknown-metric", lambda c, t: _fit(c, metrics=["accuracyy"]),
     ValueError, r"fit: unknown metric 'accuracyy'; allowed: accuracy \(or acc, binary_accuracy\), mae, mse"),
    ("fit-validation-data-wrong-width", lambda c, t: _fit(c, validation_data=(np.ones((2, 4)), np.array([0, 1]))),
     ValueError, r"validation_data X: layer 0 \(Dense\(3, 4\)\) expects input of shape \(N, 3\), got \(2, 4\)"),
    ("fit-validation-data-bad-labels", lambda c, t: _fit(c, validation_data=(np.ones((2, 3)), np.array([0, 5]))),
     ValueError, r"CrossEntropyLoss.*labels must lie in \[0, 1\].*got values in \[0, 5\]"),
    ("fit-callback-class", lambda c, t: _fit(c, callbacks=[mm.EarlyStopping]),
     TypeError, r"fit: callbacks\[0\] is a type, not a minimlp\.callbacks\.Callback.*instead of an instance"),
    ("fit-unknown-loss", lambda c, t: _fit(c, loss="cross_entropyy"),
     ValueError, r"fit: unknown loss 'cross_entropyy'; allowed: .*cross_entropy"),
    ("fit-foreign-optimizer", lambda c, t: _fit(c, optimizer=c.opt1),
     ValueError, r"fit: the optimizer holds parameters that are not this model's"),
    ("fit-optimizer-class", lambda c, t: _fit(c, optimizer=mm.SGD),
     TypeError, r"fit: optimizer must be a minimlp Optimizer.*got type"),
    ("fit-both-validations", lambda c, t: _fit(c, validation_split=0.2, validation_data=(c.X, c.labels)),
     ValueError, r"fit: pass validation_data or validation_split, not both"),
    ("fit-softmax-before-cross-entropy", lambda c, t: _fit(c, model=mm.Sequential(*c.net.layers, mm.Softmax())),
     ValueError, r"fit: the model ends in Softmax\(\), but CrossEntropyLoss\(\) takes logits.*applied twice.*"
                 r"Remove the final Softmax layer"),
    ("fit-sigmoid-before-bce-with-logits", lambda c, t: _fit(
        c, model=mm.Sequential(*c.net1.layers, mm.Sigmoid()), optimizer=c.opt1, loss="bce_with_logits",
        Y=c.labels.reshape(-1, 1).astype(float)),
     ValueError, r"fit: the model ends in Sigmoid\(\), but BCEWithLogitsLoss\(\) takes logits.*"
                 r"Remove the final Sigmoid layer, or keep it and use BCELoss"),
    ("fit-monitor-alias", lambda c, t: _fit(c, metrics=["acc"], validation_data=(c.X, c.labels),
                                            callbacks=[mm.EarlyStopping(monitor="val_acc")]),
     ValueError, r"EarlyStopping: monitor 'val_acc' is not among the logged values "
                 r"\['loss', 'accuracy', 'val_loss', 'val_accuracy'\] \(did you mean 'val_accuracy'\?\)$"),
    ("checkpoint-field-not-logged", lambda c, t: _fit(c, callbacks=[mm.ModelCheckpoint(str(t / "x-{val_loss:.2f}.npz"))]),
     ValueError, r"ModelCheckpoint: path '.*x-\{val_loss:\.2f\}\.npz' has the field \{val_loss\}.*"
                 r"\['epoch', 'loss'\].*pass validation_data or validation_split"),
    ("checkpoint-misspelled-field", lambda c, t: _fit(c, callbacks=[mm.ModelCheckpoint(str(t / "x-{epcoh}.npz"))]),
     ValueError, r"ModelCheckpoint: .* has the field \{epcoh\}.*\(did you mean 'epoch'\?\)"),
    ("checkpoint-bad-format-spec", lambda c, t: _fit(c, callbacks=[mm.ModelCheckpoint(str(t / "x-{loss:03d}.npz"))]),
     ValueError, r"ModelCheckpoint: path .* cannot be formatted .*format code 'd'"),
    ("checkpoint-missing-folder", lambda c, t: _fit(c, callbacks=[mm.ModelCheckpoint(t / "nodir" / "x.npz")]),
     ValueError, r"ModelCheckpoint: the folder '[^']*nodir' of path '[^']*nodir/x\.npz' does not exist; create it first"),

    # -- names in configurations and on the command line ----------------------------------------
    ("config-unknown-activation", lambda c, t: _config().get_activation("relu6"),
     ValueError, r"unknown activation 'relu6'.*allowed: .*relu.*tanh"),
    ("config-misspelled-activation", lambda c, t: _config().get_activation("sigmiod"),
     ValueError, r"unknown activation 'sigmiod' \(did you mean 'sigmoid'\?\); allowed:"),
    ("config-unknown-optimizer", lambda c, t: _config().build_optimizer({"name": "adamm"}, c.net.parameters()),
     ValueError, r"unknown optimizer 'adamm'.*allowed:"),

    # -- files ---------------------------------------------------------------------------------
    ("save-missing-folder", lambda c, t: mm.save(c.net, t / "nodir" / "m.npz"),
     FileNotFoundError, r"^save: cannot write '[^']*nodir/m\.npz': the folder '[^']*nodir' does not exist"),
    ("load-not-a-model", lambda c, t: _load_bytes(t, b"epoch,loss\n1,0.5\n", "m.csv"),
     ValueError, r"load: .*m\.csv.* is not a minimlp model file"),
    ("load-npz-without-header", lambda c, t: _load_bytes(t, _save_model(c.net, __minimlp__=None)),
     ValueError, r"load: .* is not a minimlp model file .*without the '__minimlp__' header"),
    ("load-truncated", lambda c, t: _load_bytes(t, _save_model(c.net)[:300]),
     ValueError, r"load: .* (truncated or corrupt|is not a minimlp model file)"),
    ("load-newer-format", lambda c, t: _load_bytes(t, _header_with(c.net, format_version=99)),
     ValueError, r"load: .* has format version 99.*reads format versions up to 1.*upgrade"),
    ("load-array-does-not-fit", lambda c, t: _load_bytes(t, _save_model(c.net, **{"param/0.W": np.ones((4, 4))})),
     ValueError, r"load: .*'param/0\.W' has shape \(4, 4\).*needs shape \(3, 4\)"),
    ("load-missing-array", lambda c, t: _load_bytes(t, _save_model(c.net, **{"param/2.b": None})),
     ValueError, r"load: .*'param/2\.b' is missing"),
    # (A pickled array under a name the header does not list is refused by its name, unopened.)
    ("load-pickled-object", lambda c, t: _load_bytes(t, _save_model(c.net, **{"param/0.W": np.array([{"x": 1}], dtype=object)})),
     ValueError, r"load: .*pickled object array 'param/0\.W'.*never unpickles"),
    ("load-unknown-layer-class", lambda c, t: _load_bytes(t, _header_with(
        c.net, architecture={"class": "Sequential", "layers": [{"class": "Dense", "config": {
            "in_features": 3, "out_features": 4, "bias": True, "dtype": "float64"}},
            {"class": "Relu", "config": {}}, {"class": "Dense", "config": {
                "in_features": 4, "out_features": 2, "bias": True, "dtype": "float64"}}]})),
     ValueError, r"load: .*model layer 1 is of unknown layer class 'Relu' \(did you mean 'ReLU'\?\); known: .*LeakyReLU, .*ReLU, "),
]


def test_catalogue_is_large_enough():
    assert len(CATALOGUE) >= 25
    assert len({row[0] for row in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("case_id,mistake,exc,pattern", CATALOGUE, ids=[row[0] for row in CATALOGUE])
def test_mistake_is_loud_and_harmless(case_id, mistake, exc, pattern, tmp_path):
    ctx = make_context()
    before = snapshot(ctx)
    with pytest.raises(exc) as info:
        mistake(ctx, tmp_path)
    assert type(info.value) is exc or issubclass(type(info.value), exc)
    assert re.search(pattern, str(info.value), flags=re.S), \
        f"message does not match {pattern!r}:\n{info.value}"
    assert_unchanged(before, snapshot(ctx))
    # Still usable, and trained exactly like an untouched copy.
    twin = make_context()
    for c in (ctx, twin):
        loss = mm.CrossEntropyLoss()
        loss.forward(c.net.forward(c.X), c.labels)
        c.net.backward(loss.backward())
        c.opt.step()
        loss = mm.MSELoss()
        loss.forward(c.net1.forward(c.X), c.X[:, :1])
        c.net1.backward(loss.backward())
        c.opt1.step()
    for p, q in zip(ctx.net.parameters() + ctx.net1.parameters(),
                    twin.net.parameters() + twin.net1.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


def test_targets_N_against_N1_never_broadcast():
    """(N,) against (N, 1) would broadcast to (N, N) in numpy: the loss must refuse it."""
    for loss in (mm.MSELoss(), mm.BCEWithLogitsLoss()):
        with pytest.raises(ValueError, match=r"never broadcast"):
            loss.forward(np.zeros((4, 1)), np.zeros(4))
        with pytest.raises(ValueError):
            loss.forward(np.zeros((4, 1)), np.zeros((1, 4)))


# -- what is accepted, and how it is cast ------------------------------------------------------
ACCEPTED_X = [
    ("int64", lambda X: np.rint(X * 3).astype(np.int64)),
    ("int8", lambda X: np.rint(X * 3).astype(np.int8)),
    ("uint16", lambda X: np.abs(np.rint(X * 3)).astype(np.uint16)),
    ("bool", lambda X: X > 0),
    ("float32", lambda X: X.astype(np.float32)),
    ("float64", lambda X: X.astype(np.float64)),
    ("nested-list", lambda X: X.tolist()),
]


@pytest.mark.parametrize("model_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,convert", ACCEPTED_X, ids=[r[0] for r in ACCEPTED_X])
def test_real_inputs_are_cast_once_to_the_model_dtype(name, convert, model_dtype):
    net = mm.Sequential(mm.Dense(3, 4, rng=0, dtype=model_dtype), mm.Tanh(), mm.Dense(4, 2, rng=1, dtype=model_dtype))
    X = np.random.default_rng(1).standard_normal((6, 3))
    Xc = convert(X)
    expected = net.predict(np.asarray(Xc).astype(model_dtype))
    np.testing.assert_array_equal(net.predict(Xc), expected)
    Y = net.forward(Xc)
    assert Y.dtype == np.dtype(model_dtype)
    np.testing.assert_array_equal(Y, expected)
    dX = net.backward(np.ones_like(Y))
    assert dX.dtype == np.dtype(model_dtype)


@pytest.mark.parametrize("model_dtype", [np.float32, np.float64])
def test_targets_are_cast_to_the_prediction_dtype(model_dtype):
    Y = np.random.default_rng(2).standard_normal((4, 2)).astype(model_dtype)
    for loss, T in [(mm.MSELoss(), np.array([[1, 0], [0, 1], [2, 3], [1, 1]])),
                    (mm.BCEWithLogitsLoss(), np.array([[1, 0], [0, 1], [0, 0], [1, 1]], dtype=bool)),
                    (mm.CrossEntropyLoss(), np.array([0, 1, 1, 0], dtype=np.uint8)),
                    (mm.CrossEntropyLoss(), np.eye(2, dtype=np.int32)[[0, 1, 1, 0]])]:
        loss.forward(Y, T)
        assert loss.backward().dtype == np.dtype(model_dtype), repr(loss)


def test_fit_batch_size_larger_than_the_data_is_clamped():
    """Decided (and documented in fit): a batch_size above N means full-batch training."""
    ctx = make_context()
    full = make_context()
    history = _fit(ctx, batch_size=100, epochs=1, shuffle=False)
    assert history.params["batch_size"] == 5 and history.params["steps"] == 1
    _fit(full, batch_size=5, epochs=1, shuffle=False)
    for p, q in zip(ctx.net.parameters(), full.net.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


@pytest.mark.parametrize("errors", ["raise", "ignore"])
def test_divergence_stops_loudly_with_finite_weights(errors):
    """A learning rate of 1e6 diverges: fit raises TrainingDiverged naming the epoch and batch
    and suggesting a smaller lr, and never leaves NaN or inf in the model (with numpy's
    floating-point errors raised, as in this suite, or ignored, as by default)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4))
    T = X @ rng.standard_normal((4, 2)) * 100
    net = mm.Sequential(mm.Dense(4, 16, rng=0), mm.Tanh(), mm.Dense(16, 2, rng=1))
    opt = mm.SGD(net.parameters(), lr=1e6)
    with np.errstate(over=errors, invalid=errors, divide=errors), warnings.catch_warnings():
        warnings.simplefilter("ignore" if errors == "ignore" else "error")
        with pytest.raises(mm.TrainingDiverged) as info:
            net.fit(X, T, loss="mse", optimizer=opt, epochs=20, batch_size=16, verbose=0, seed=0)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, FloatingPointError)
    assert re.search(r"training diverged at epoch \d+, batch \d+/4", str(err)), str(err)
    assert re.search(r"smaller learning rate \(lr is 1e\+06; e\.g\. lr=100000\)", str(err)), str(err)
    assert err.epoch >= 1 and err.restored in ("best", "before_step", "epoch_start")
    assert all(np.isfinite(p.value).all() for p in net.parameters())
    assert np.isfinite(net.predict(X)).all()


def test_a_failed_forward_leaves_nothing_for_backward():
    """An error inside a layer (not at the input check) still names the layer's index, and
    backward then refuses instead of mixing caches of two different batches."""
    net = mm.Sequential(mm.Dense(3, 4, rng=0), mm.BatchNorm1d(4), mm.ReLU(), mm.Dense(4, 2, rng=1))
    X = np.random.default_rng(0).standard_normal((5, 3))
    Y = net.forward(X)
    with pytest.raises(ValueError, match=r"layer 1: BatchNorm1d"):
        net.forward(X[:1])
    with pytest.raises(RuntimeError, match="without a preceding forward"):
        net.backward(np.ones_like(Y))
    net.forward(X)
    assert net.backward(np.ones_like(Y)).shape == X.shape
