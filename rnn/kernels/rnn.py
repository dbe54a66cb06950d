"""Fused kernel of the Elman RNN: h_t = tanh(x_t W_x + h_{t-1} W_h + b)."""

from __future__ import annotations

import numpy as np

from autograd_lite.ops import defop
from rnn.kernels.common import flat, weight_gradients


def _rnn_forward(x, h0, W, b, need_dx=True):
    T, B, D = x.shape
    H = h0.shape[-1]
    dt = np.result_type(x, h0, W)
    Wh = np.ascontiguousarray(W[:H])
    G = np.matmul(flat(x), W[H:]).reshape(T, B, H)
    G += b
    P = np.empty((T + 1, B, H), dt)
    P[0] = h0
    for t in range(T):
        np.matmul(P[t], Wh, out=P[t + 1])
        P[t + 1] += G[t]
        np.tanh(P[t + 1], out=P[t + 1])
    return P[1:], (P,)


def _rnn_vjp(bk, g, out, x, h0, W, b, saved, need_dx=True):
    (P,) = saved
    T, B, H = g.shape
    M = np.multiply(P[1:], P[1:])  # becomes da = dh * (1 - h^2)
    np.subtract(1, M, out=M)
    WhT = np.ascontiguousarray(W[:H].T)
    dh = np.empty((B, H), g.dtype)
    for t in range(T - 1, -1, -1):
        if t == T - 1:
            dh[...] = g[t]
        else:
            np.matmul(M[t + 1], WhT, out=dh)
            dh += g[t]
        M[t] *= dh
    dW, db, dx = weight_gradients(M, P[:T], x, W, need_dx)
    return dx, M[0] @ WhT, dW, db


FUSED_RNN = defop("fused_rnn", _rnn_forward, _rnn_vjp, saves=True)
