"""A tight hand-written numpy training step: the yardstick for minimlp's per-call overhead.

No classes per layer, no checks, no dispatch: the arrays of one Dense/activation stack, a
preallocated buffer for every intermediate, in-place ufuncs, the activation derivative
applied in place to the incoming gradient, and a plain SGD update. It does the same work
as a minimlp step (forward, loss value, backward, update), so ``minimlp / tight`` measures
what minimlp's layer objects cost on top of the arithmetic.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit


class TightStep:
    """``step()`` trains the stack ``widths`` on fixed ``(X, T)`` once.

    ``activation`` ("relu" or "sigmoid") follows every hidden layer; the last layer is
    linear for ``loss="ce"`` (softmax cross-entropy on integer labels ``T`` (N,)) and, for
    ``loss="mse"`` (mean over all elements), sigmoid when ``activation="sigmoid"``, else
    linear. Shapes: ``X (N, widths[0])``, ``T (N,)`` or ``(N, widths[-1])``.
    """

    def __init__(self, widths, activation, loss, X, T, lr=0.01, seed=0):
        dtype, N = X.dtype, X.shape[0]
        rng = np.random.default_rng(seed)
        L = len(widths) - 1
        self.W = [(rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b))).astype(dtype)
                  for a, b in zip(widths[:-1], widths[1:])]
        self.b = [np.zeros(b, dtype) for b in widths[1:]]
        self.dW = [np.empty_like(W) for W in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.scratch = [np.empty_like(W) for W in self.W] + [np.empty_like(b) for b in self.b]
        self.params = list(zip(self.W + self.b, self.dW + self.db, self.scratch))
        self.A = [X] + [np.empty((N, d), dtype) for d in widths[1:]]   # layer outputs
        self.D = [None] + [np.empty((N, d), dtype) for d in widths[1:]]  # dL/d(pre-activation)
        self.mask = [None] + [np.empty((N, d), np.bool_) for d in widths[1:]]
        self.S = [None] + [np.empty((N, d), dtype) for d in widths[1:]]  # sigmoid slopes
        self.act = [activation] * (L - 1) + [activation if (loss == "mse" and activation == "sigmoid") else None]
        self.loss, self.T, self.L, self.N = loss, T, L, N
        self.rows = np.arange(N)
        self.lr = float(lr)   # a Python float keeps float32 arrays float32 (NEP 50) and is faster than a numpy scalar

    def step(self) -> float:
        A, D, W, b, L = self.A, self.D, self.W, self.b, self.L
        for i in range(L):
            Z = np.matmul(A[i], W[i], out=A[i + 1])
            Z += b[i]
            act = self.act[i]
            if act == "relu":
                np.greater(Z, 0, out=self.mask[i + 1])
                np.maximum(Z, 0, out=Z)
            elif act == "sigmoid":
                expit(Z, out=Z)
        Y, G = A[L], D[L]
        if self.loss == "mse":
            np.subtract(Y, self.T, out=G)
            flat = G.reshape(-1)
            value = float(np.dot(flat, flat)) / G.size
            G *= 2.0 / G.size
        else:
            np.subtract(Y, Y.max(axis=1, keepdims=True), out=G)
            picked = G[self.rows, self.T].sum()
            np.exp(G, out=G)
            s = G.sum(axis=1, keepdims=True)
            value = float(np.log(s).sum() - picked) / self.N
            G /= s
            G[self.rows, self.T] -= 1.0
            G *= 1.0 / self.N
        for i in reversed(range(L)):
            dY = D[i + 1]
            if self.act[i] == "relu":
                dY *= self.mask[i + 1]
            elif self.act[i] == "sigmoid":
                S = np.subtract(1.0, A[i + 1], out=self.S[i + 1])
                S *= A[i + 1]
                dY *= S
            if self.N == 1:
                np.multiply(A[i].T, dY, out=self.dW[i])
            else:
                np.matmul(A[i].T, dY, out=self.dW[i])
            np.add.reduce(dY, axis=0, out=self.db[i])
            if i > 0:
                np.matmul(dY, W[i].T, out=D[i])
        lr = self.lr
        for p, g, s in self.params:
            np.multiply(g, lr, out=s)
            p -= s
        return value
