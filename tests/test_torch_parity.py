"""Parity with PyTorch (float64, 1e-10): every optimizer and schedule over several steps of
the same network, data and hyperparameters; the new layers and losses forward and backward.

Skipped only when torch is not installed (``pip install minimlp[bench]`` installs it).
minimlp's Dense keeps ``W`` as (in, out), which is ``torch.nn.Linear.weight.T``.
"""
import numpy as np
import pytest

import minimlp as mm
from minimlp.schedules import CosineAnnealingLR, ExponentialLR, ReduceLROnPlateau, StepLR

torch = pytest.importorskip("torch")
nn = torch.nn

TOL = dict(rtol=1e-10, atol=1e-10)
RNG = np.random.default_rng(11)
X = RNG.standard_normal((16, 4))
Y = RNG.standard_normal((16, 3))


@pytest.fixture(autouse=True)
def _float64_torch():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


def n(x):
    return x.detach().numpy()


def pair(*middle):
    """A minimlp net and the same torch net: Dense(4,5) [middle...] Tanh Dense(5,3)."""
    layers = [mm.Dense(4, 5, init="pytorch", rng=0), *(m for m, _ in middle), mm.Tanh(),
              mm.Dense(5, 3, init="pytorch", rng=1)]
    net = mm.Sequential(*layers)
    tl = [nn.Linear(4, 5), *(tm for _, tm in middle), nn.Tanh(), nn.Linear(5, 3)]
    tnet = nn.Sequential(*tl)
    with torch.no_grad():
        for ml, tm in zip(layers, tl):
            if isinstance(ml, mm.Dense):
                tm.weight.copy_(t(ml.W.T))
                tm.bias.copy_(t(ml.b))
    return net, tnet


def torch_params_like(tnet):
    """torch parameters in minimlp's order and layout (Linear weight transposed)."""
    out = []
    for m in tnet:
        if isinstance(m, nn.Linear):
            out += [n(m.weight).T, n(m.bias)]
        elif isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)) and m.weight is not None:
            out += [n(m.weight), n(m.bias)]
    return out


def assert_same_weights(net, tnet):
    mine = [p.value for p in net.parameters()]
    theirs = torch_params_like(tnet)
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, **TOL)


def train_steps(net, tnet, opt, topt, steps=6, batch=8, sched=None, tsched=None, clip=None):
    loss, tloss = mm.MSELoss(), nn.MSELoss()
    for s in range(steps):
        rows = slice((s * batch) % 16, (s * batch) % 16 + batch)
        loss.forward(net.forward(X[rows]), Y[rows])
        net.backward(loss.backward())
        opt.step()
        topt.zero_grad()
        tloss(tnet(t(X[rows])), t(Y[rows])).backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(tnet.parameters(), clip)
        topt.step()
        if sched is not None:
            sched.step()
            tsched.step()
            assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-13, abs=1e-16)
    assert_same_weights(net, tnet)


OPTIMIZERS = [
    ("sgd", lambda p: mm.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd-momentum", lambda p: mm.SGD(p, lr=0.1, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("sgd-nesterov-wd", lambda p: mm.SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("sgd-wd", lambda p: mm.SGD(p, lr=0.1, weight_decay=0.05),
     lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.05)),
    ("adam", lambda p: mm.Adam(p, lr=0.01, betas=(0.8, 0.99)),
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99))),
    ("adam-wd", lambda p: mm.Adam(p, lr=0.01, weight_decay=0.1),
     lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1)),
    ("adamw", lambda p: mm.AdamW(p, lr=0.01, weight_decay=0.1),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    ("adamw-default", lambda p: mm.AdamW(p), lambda p: torch.optim.AdamW(p)),
    ("rmsprop", lambda p: mm.RMSprop(p, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("rmsprop-centered-momentum-wd",
     lambda p: mm.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
    ("adagrad", lambda p: mm.Adagrad(p, lr=0.1), lambda p: torch.optim.Adagrad(p, lr=0.1)),
    ("adagrad-decay-wd-init",
     lambda p: mm.Adagrad(p, lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.2),
     lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.2)),
]


@pytest.mark.parametrize("name,make,tmake", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_parity(name, make, tmake):
    net, tnet = pair()
    assert_same_weights(net, tnet)
    train_steps(net, tnet, make(net.parameters()), tmake(tnet.parameters()))


@pytest.mark.parametrize("opt_name", ["sgd-momentum", "adam", "rmsprop"])
def test_gradient_clipping_parity(opt_name):
    _, make, tmake = next(o for o in OPTIMIZERS if o[0] == opt_name)
    net, tnet = pair()
    opt = make(net.parameters())
    opt.clip_norm = 0.05                    # small: every step clips
    train_steps(net, tnet, opt, tmake(tnet.parameters()), clip=0.05)


SCHEDULES = [
    ("step", lambda o: StepLR(o, step_size=2, gamma=0.5),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)),
    ("exponential", lambda o: ExponentialLR(o, gamma=0.8),
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8)),
    ("cosine", lambda o: CosineAnnealingLR(o, T_max=4, eta_min=0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=0.01)),
    ("cosine-warmup", lambda o: CosineAnnealingLR(o, T_max=6, warmup_epochs=2, warmup_start_factor=0.25),
     lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
         torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=2),
         torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4)], milestones=[2])),
]


@pytest.mark.parametrize("name,make,tmake", SCHEDULES, ids=[s[0] for s in SCHEDULES])
@pytest.mark.parametrize("opt_name", ["sgd-momentum", "adam"])
def test_schedule_parity(name, make, tmake, opt_name):
    _, omake, tomake = next(o for o in OPTIMIZERS if o[0] == opt_name)
    net, tnet = pair()
    opt, topt = omake(net.parameters()), tomake(tnet.parameters())
    sched, tsched = make(opt), tmake(topt)
    assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-13)
    train_steps(net, tnet, opt, topt, steps=8, sched=sched, tsched=tsched)


def test_reduce_on_plateau_parity():
    values = [1.0, 0.9, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.5, 0.6, 0.6, 0.6, 0.6]
    for kw in [dict(factor=0.5, patience=1), dict(factor=0.3, patience=0, cooldown=2, min_lr=0.02),
               dict(mode="max", threshold=0.05, threshold_mode="abs", patience=1)]:
        net, tnet = pair()
        opt, topt = mm.SGD(net.parameters(), lr=0.1), torch.optim.SGD(tnet.parameters(), lr=0.1)
        s, ts = ReduceLROnPlateau(opt, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
        for v in values:
            s.step(v)
            ts.step(v)
            assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-14), kw


def test_network_with_new_layers_trains_like_torch():
    bn, tbn = mm.BatchNorm1d(5, momentum=0.2), nn.BatchNorm1d(5, momentum=0.2)
    ln, tln = mm.LayerNorm(5), nn.LayerNorm(5)
    net, tnet = pair((bn, tbn), (mm.GELU(approximate="tanh"), nn.GELU(approximate="tanh")), (ln, tln))
    # SGD, not Adam: the bias of the Dense before BatchNorm has gradient exactly 0, so both
    # libraries hold only roundoff (~1e-17) there, which Adam's m / (sqrt(v) + eps) scales up
    # to ~1e-11 per step in each, differently: a difference of noise, not of formulas.
    train_steps(net, tnet, mm.SGD(net.parameters(), lr=0.1, momentum=0.9),
                torch.optim.SGD(tnet.parameters(), lr=0.1, momentum=0.9))
    np.testing.assert_allclose(bn.running_mean, n(tbn.running_mean), **TOL)
    np.testing.assert_allclose(bn.running_var, n(tbn.running_var), **TOL)
    tnet.eval()
    np.testing.assert_allclose(net.predict(X), n(tnet(t(X))), **TOL)


# -- layers: forward and backward ----------------------------------------------------------
def layer_parity(layer, tlayer, X_in, train=True):
    Xt = t(X_in).requires_grad_(True)
    tlayer.train(train)
    tlayer.zero_grad()
    Yt = tlayer(Xt)
    Y = layer.forward(X_in, train=train)
    np.testing.assert_allclose(Y, n(Yt), **TOL)
    if not train:
        return
    dY = np.random.default_rng(3).standard_normal(Y.shape)
    Yt.backward(t(dY))
    np.testing.assert_allclose(layer.backward(dY), n(Xt.grad), **TOL)
    tparams = [p for p in tlayer.parameters()]
    for p, tp in zip(layer.parameters(), tparams):
        np.testing.assert_allclose(p.grad, n(tp.grad), **TOL)
    assert len(layer.parameters()) == len(tparams)


XW = RNG.standard_normal((8, 5)) * 3


@pytest.mark.parametrize("layer,tlayer", [
    (mm.GELU(), nn.GELU()),
    (mm.GELU(approximate="tanh"), nn.GELU(approximate="tanh")),
    (mm.ELU(), nn.ELU()),
    (mm.ELU(alpha=0.4), nn.ELU(alpha=0.4)),
    (mm.Softplus(), nn.Softplus()),
    (mm.Softplus(beta=2.0, threshold=3.0), nn.Softplus(beta=2.0, threshold=3.0)),
], ids=repr)
def test_activation_parity(layer, tlayer):
    layer_parity(layer, tlayer, XW)


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_parity_train_then_eval(affine):
    bn = mm.BatchNorm1d(5, eps=1e-3, momentum=0.3, affine=affine)
    tbn = nn.BatchNorm1d(5, eps=1e-3, momentum=0.3, affine=affine)
    if affine:
        g, b = RNG.uniform(0.5, 2, 5), RNG.standard_normal(5)
        bn.parameters()[0].value[...] = g
        bn.parameters()[1].value[...] = b
        with torch.no_grad():
            tbn.weight.copy_(t(g))
            tbn.bias.copy_(t(b))
    for k in range(3):
        layer_parity(bn, tbn, XW + k, train=True)
        np.testing.assert_allclose(bn.running_mean, n(tbn.running_mean), **TOL)
        np.testing.assert_allclose(bn.running_var, n(tbn.running_var), **TOL)
    layer_parity(bn, tbn, XW[:3] * 2, train=False)


def test_layernorm_parity():
    ln, tln = mm.LayerNorm(5, eps=1e-4), nn.LayerNorm(5, eps=1e-4)
    g, b = RNG.uniform(0.5, 2, 5), RNG.standard_normal(5)
    ln.parameters()[0].value[...] = g
    ln.parameters()[1].value[...] = b
    with torch.no_grad():
        tln.weight.copy_(t(g))
        tln.bias.copy_(t(b))
    layer_parity(ln, tln, XW)
    layer_parity(mm.LayerNorm(5, elementwise_affine=False), nn.LayerNorm(5, elementwise_affine=False), XW)


# -- losses: value and gradient, both reductions --------------------------------------------
P = RNG.uniform(0.02, 0.98, (6, 3))
B = RNG.uniform(0, 1, (6, 3))
Z = RNG.standard_normal((6, 3)) * 2
T = RNG.standard_normal((6, 3))
LABELS = RNG.integers(0, 3, 6)
PROBS = RNG.dirichlet(np.ones(3), 6)

LOSSES = [
    ("mse", lambda r: mm.MSELoss(reduction=r), lambda r: nn.MSELoss(reduction=r), Z, T),
    ("l1", lambda r: mm.L1Loss(reduction=r), lambda r: nn.L1Loss(reduction=r), Z, T),
    ("huber", lambda r: mm.HuberLoss(reduction=r), lambda r: nn.HuberLoss(reduction=r), Z, T),
    ("huber-0.4", lambda r: mm.HuberLoss(0.4, reduction=r), lambda r: nn.HuberLoss(reduction=r, delta=0.4), Z, T),
    ("bce", lambda r: mm.BCELoss(reduction=r), lambda r: nn.BCELoss(reduction=r), P, B),
    ("bce-logits", lambda r: mm.BCEWithLogitsLoss(reduction=r), lambda r: nn.BCEWithLogitsLoss(reduction=r), Z, B),
    ("ce-labels", lambda r: mm.CrossEntropyLoss(reduction=r), lambda r: nn.CrossEntropyLoss(reduction=r), Z, LABELS),
    ("ce-probs", lambda r: mm.CrossEntropyLoss(reduction=r), lambda r: nn.CrossEntropyLoss(reduction=r), Z, PROBS),
]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name,make,tmake,Yc,Tc", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_parity(name, make, tmake, Yc, Tc, reduction):
    loss = make(reduction)
    value = loss.forward(Yc, Tc)
    Yt = t(Yc).requires_grad_(True)
    Tt = torch.tensor(Tc) if Tc.dtype.kind == "i" else t(Tc)
    tv = tmake(reduction)(Yt, Tt)
    tv.backward()
    assert value == pytest.approx(tv.item(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), n(Yt.grad), **TOL)


def test_bce_clamps_like_torch():
    P0 = np.array([[0.0, 1.0, 1e-50, 0.5]])
    T0 = np.array([[1.0, 0.0, 1.0, 1.0]])
    value = mm.BCELoss().forward(P0, T0)
    assert value == pytest.approx(nn.BCELoss()(t(P0), t(T0)).item(), rel=1e-12)
