"""Fused kernels of the Elman RNN: h_t = act(x_t W_x + h_{t-1} W_h + b), act tanh or relu."""

from __future__ import annotations

import numpy as np

from autograd_lite.ops import defop
from rnn.kernels.common import flat, weight_gradients


def _tanh(a):
    np.tanh(a, out=a)


def _relu(a):
    np.maximum(a, 0, out=a)


def _tanh_slope(h):
    """tanh'(a) written through the output h = tanh(a): 1 - h^2."""
    slope = np.multiply(h, h)
    np.subtract(1, slope, out=slope)
    return slope


def _relu_slope(h):
    """relu'(a) written through the output h = relu(a): 1 where h > 0, else 0 (so 0 at
    the kink, as the engine's relu)."""
    return (h > 0).astype(h.dtype)


def _kernel(name, activation, slope):
    def forward(x, h0, W, b, need_dx=True):
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
            activation(P[t + 1])
        return P[1:], (P,)

    def vjp(bk, g, out, x, h0, W, b, saved, need_dx=True):
        (P,) = saved
        T, B, H = g.shape
        M = slope(P[1:])  # becomes da = dh * act'(a)
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

    return defop(name, forward, vjp, saves=True)


FUSED_RNN = _kernel("fused_rnn", _tanh, _tanh_slope)
FUSED_RNN_RELU = _kernel("fused_rnn_relu", _relu, _relu_slope)
