"""Helpers shared by the fused kernels."""

from __future__ import annotations

import numpy as np


def flat(a):
    """(T, B, K) -> (T * B, K), a view when possible."""
    return a.reshape(-1, a.shape[-1])


def sigmoid_from_tanh(block):
    """Turn `block`, holding tanh(a / 2), into sigmoid(a) in place."""
    block *= 0.5
    block += 0.5


def halved(W, b, n_sigmoid):
    """Copies of packed W (rows, K) and b (K,) with the first `n_sigmoid` columns halved."""
    Ws, bs = W.copy(), b.copy()
    Ws[:, :n_sigmoid] *= 0.5
    bs[:n_sigmoid] *= 0.5
    return Ws, bs


def weight_gradients(A, h_prev, x, W, need_dx):
    """The tail of the backward passes: (dW, db, dx) from the pre-activation gradients
    A (T, B, K) of `hx @ W + b`, with h_prev = h_0 .. h_{T-1} (T, B, H) and x (T, B, D)."""
    H = h_prev.shape[-1]
    Af = flat(A)
    dW = np.empty_like(W)
    np.matmul(flat(h_prev).T, Af, out=dW[:H])
    np.matmul(flat(x).T, Af, out=dW[H:])
    dx = (Af @ W[H:].T).reshape(x.shape) if need_dx else None
    return dW, Af.sum(axis=0), dx
