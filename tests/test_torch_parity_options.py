"""Parity with PyTorch (float64, 1e-10) for the loss and layer options of issue 14:
CrossEntropyLoss(weight, ignore_index, label_smoothing) on labels and probabilities,
reduction="none" with an upstream gradient on every loss, BCEWithLogitsLoss(weight,
pos_weight), SmoothL1Loss(beta), NLLLoss with LogSoftmax, BatchNorm1d(momentum=None) and
LayerNorm(bias=False).

Skipped when torch is not installed; tests/test_loss_options.py and test_normalization.py
check the same options against formulas written out by hand.
"""
import itertools

import numpy as np
import pytest

import minimlp as mm

torch = pytest.importorskip("torch")
nn = torch.nn

TOL = dict(rtol=1e-10, atol=1e-12)
RNG = np.random.default_rng(2024)
N, C = 7, 4
Z = RNG.standard_normal((N, C)) * 2
LABELS = np.array([0, 3, 1, 1, 2, 0, 3])
IGNORED = np.array([0, -100, 1, 1, -100, 0, 3])     # two labels at torch's default ignore_index
PROBS = RNG.dirichlet(np.ones(C), N)
W = np.array([0.5, 2.0, 1.0, 3.0])
Y = RNG.standard_normal((N, C))
T = RNG.standard_normal((N, C))
B = RNG.uniform(0, 1, (N, C))
P = RNG.uniform(0.02, 0.98, (N, C))


@pytest.fixture(autouse=True)
def _float64_torch():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


def target(a):
    return torch.tensor(a) if np.asarray(a).dtype.kind == "i" else t(a)


def check(loss, tloss, Yc, Tc, reduction):
    """Value and gradient of ``loss`` equal torch's; for "none" with a random upstream dL."""
    Yt = t(Yc).requires_grad_(True)
    tv = tloss(Yt, target(Tc))
    value = loss.forward(Yc.copy(), Tc)
    if reduction == "none":
        dL = np.random.default_rng(3).standard_normal(tv.shape)
        tv.backward(t(dL))
        assert value.shape == tuple(tv.shape)
        np.testing.assert_allclose(value, tv.detach().numpy(), **TOL)
        np.testing.assert_allclose(loss.backward(dL), Yt.grad.numpy(), **TOL)
    else:
        tv.backward()
        assert value == pytest.approx(tv.item(), rel=1e-12, abs=1e-14)
        np.testing.assert_allclose(loss.backward(), Yt.grad.numpy(), **TOL)


REDUCTIONS = ["mean", "sum", "none"]
# (ignore_index, labels): none ignored; two at torch's default -100; every label 1 ignored
IGNORE_CASES = {"none-ignored": (-100, LABELS), "default-ignored": (-100, IGNORED),
                "class-1-ignored": (1, LABELS)}
CE_LABEL_OPTIONS = [(f"w{w is not None}-{case}-e{e}", dict(weight=w, ignore_index=IGNORE_CASES[case][0],
                                                          label_smoothing=e), IGNORE_CASES[case][1])
                    for w, case, e in itertools.product([None, W], IGNORE_CASES, [0.0, 0.2])]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,opts,labels", CE_LABEL_OPTIONS, ids=[c[0] for c in CE_LABEL_OPTIONS])
def test_cross_entropy_labels(name, opts, labels, reduction):
    tw = None if opts["weight"] is None else t(opts["weight"])
    check(mm.CrossEntropyLoss(opts["weight"], ignore_index=opts["ignore_index"],
                              label_smoothing=opts["label_smoothing"], reduction=reduction),
          nn.CrossEntropyLoss(weight=tw, ignore_index=opts["ignore_index"],
                              label_smoothing=opts["label_smoothing"], reduction=reduction),
          Z, labels, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight,e", [(None, 0.0), (W, 0.0), (None, 0.3), (W, 0.3)])
def test_cross_entropy_probabilities(weight, e, reduction):
    tw = None if weight is None else t(weight)
    check(mm.CrossEntropyLoss(weight, label_smoothing=e, reduction=reduction),
          nn.CrossEntropyLoss(weight=tw, label_smoothing=e, reduction=reduction),
          Z, PROBS, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight,pos_weight", [(None, None), (W, None), (None, W[::-1].copy()),
                                               (W, np.array([1.0, 0.0, 4.0, 0.25]))])
def test_bce_with_logits_weights(weight, pos_weight, reduction):
    check(mm.BCEWithLogitsLoss(weight, reduction=reduction, pos_weight=pos_weight),
          nn.BCEWithLogitsLoss(weight=None if weight is None else t(weight), reduction=reduction,
                               pos_weight=None if pos_weight is None else t(pos_weight)),
          Z, B, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.3, 2.5, 0.0])
def test_smooth_l1(beta, reduction):
    Yc = Y.copy()
    Yc[0, 0] = T[0, 0] + beta      # exactly at the joint
    Yc[1, 1] = T[1, 1]             # zero difference
    check(mm.SmoothL1Loss(beta, reduction=reduction), nn.SmoothL1Loss(reduction=reduction, beta=beta),
          Yc, T, reduction)


ELEMENTWISE = [
    ("mse", lambda r: mm.MSELoss(reduction=r), lambda r: nn.MSELoss(reduction=r), Y, T),
    ("l1", lambda r: mm.L1Loss(reduction=r), lambda r: nn.L1Loss(reduction=r), Y, T),
    ("huber-0.4", lambda r: mm.HuberLoss(0.4, reduction=r), lambda r: nn.HuberLoss(reduction=r, delta=0.4), Y, T),
    ("bce", lambda r: mm.BCELoss(reduction=r), lambda r: nn.BCELoss(reduction=r), P, B),
]


@pytest.mark.parametrize("name,make,tmake,Yc,Tc", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_reduction_none_on_the_other_losses(name, make, tmake, Yc, Tc):
    check(make("none"), tmake("none"), Yc, Tc, "none")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight,ii,labels", [(None, -100, LABELS), (W, -100, IGNORED), (W, 3, LABELS)])
def test_nll_loss(weight, ii, labels, reduction):
    logp = torch.log_softmax(t(Z), dim=1).numpy()
    check(mm.NLLLoss(weight, ignore_index=ii, reduction=reduction),
          nn.NLLLoss(weight=None if weight is None else t(weight), ignore_index=ii, reduction=reduction),
          logp, labels, reduction)


def test_log_softmax_layer():
    X = Z * 30                                           # large logits: the shift matters
    layer, Xt = mm.LogSoftmax(), t(X).requires_grad_(True)
    Yt = nn.LogSoftmax(dim=1)(Xt)
    dY = RNG.standard_normal(X.shape)
    Yt.backward(t(dY))
    np.testing.assert_allclose(layer.forward(X), Yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(layer.backward(dY), Xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.forward(X, train=False), Yt.detach().numpy(), **TOL)


def test_log_softmax_then_nll_trains_like_torch():
    """The hand-built pair in a network: three SGD steps equal torch's."""
    net = mm.Sequential(mm.Dense(4, 5, init="pytorch", rng=0), mm.Tanh(),
                        mm.Dense(5, C, init="pytorch", rng=1), mm.LogSoftmax())
    tnet = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, C), nn.LogSoftmax(dim=1))
    with torch.no_grad():
        for ml, tl in ((net[0], tnet[0]), (net[2], tnet[2])):
            tl.weight.copy_(t(ml.W.T))
            tl.bias.copy_(t(ml.b))
    X = RNG.standard_normal((N, 4))
    loss, tloss = mm.NLLLoss(W), nn.NLLLoss(weight=t(W))
    opt, topt = mm.SGD(net.parameters(), lr=0.3), torch.optim.SGD(tnet.parameters(), lr=0.3)
    for _ in range(3):
        value = loss.forward(net.forward(X), LABELS)
        net.backward(loss.backward())
        opt.step()
        topt.zero_grad()
        tv = tloss(tnet(t(X)), torch.tensor(LABELS))
        tv.backward()
        topt.step()
        assert value == pytest.approx(tv.item(), rel=1e-12)
    np.testing.assert_allclose(net[2].W, tnet[2].weight.detach().numpy().T, **TOL)


def test_batchnorm_cumulative_average():
    """momentum=None: running statistics over several training batches of different sizes,
    then the eval output, the gradients and the count."""
    bn, tbn = mm.BatchNorm1d(C, momentum=None), nn.BatchNorm1d(C, momentum=None)
    g, b = RNG.uniform(0.5, 2, C), RNG.standard_normal(C)
    bn.parameters()[0].value[...] = g
    bn.parameters()[1].value[...] = b
    with torch.no_grad():
        tbn.weight.copy_(t(g))
        tbn.bias.copy_(t(b))
    tbn.train()
    for k, n in enumerate([5, 3, 8, 2]):
        X = RNG.standard_normal((n, C)) * (k + 1) + k
        Xt = t(X).requires_grad_(True)
        Yt = tbn(Xt)
        dY = RNG.standard_normal((n, C))
        Yt.backward(t(dY))
        np.testing.assert_allclose(bn.forward(X), Yt.detach().numpy(), **TOL)
        np.testing.assert_allclose(bn.backward(dY), Xt.grad.numpy(), **TOL)
        np.testing.assert_allclose(bn.parameters()[0].grad, tbn.weight.grad.numpy(), **TOL)
        tbn.weight.grad = tbn.bias.grad = None
    np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), **TOL)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), **TOL)
    assert int(bn.num_batches_tracked) == int(tbn.num_batches_tracked) == 4
    tbn.eval()
    X = RNG.standard_normal((6, C))
    np.testing.assert_allclose(bn.forward(X, train=False), tbn(t(X)).detach().numpy(), **TOL)


@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_without_bias(affine):
    ln = mm.LayerNorm(C, bias=False, elementwise_affine=affine, eps=1e-4)
    tln = nn.LayerNorm(C, bias=False, elementwise_affine=affine, eps=1e-4)
    assert len(ln.parameters()) == len(list(tln.parameters())) == (1 if affine else 0)
    if affine:
        g = RNG.uniform(0.5, 2, C)
        ln.parameters()[0].value[...] = g
        with torch.no_grad():
            tln.weight.copy_(t(g))
    Xt = t(Y).requires_grad_(True)
    Yt = tln(Xt)
    dY = RNG.standard_normal(Y.shape)
    Yt.backward(t(dY))
    np.testing.assert_allclose(ln.forward(Y), Yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(ln.backward(dY), Xt.grad.numpy(), **TOL)
    if affine:
        np.testing.assert_allclose(ln.parameters()[0].grad, tln.weight.grad.numpy(), **TOL)
