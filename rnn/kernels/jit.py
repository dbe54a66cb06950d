"""numba versions of the LSTM family's per-step elementwise work (the optional `fast` extra).

Each function does, for one time step, what the NumPy kernel in `rnn.kernels.lstm` does with
several whole-array passes: one pass over the step's gates, reading and writing the same
buffers, in the same layout (gates packed o, f, i, g; sigmoid(a) = (1 + tanh(a / 2)) / 2
through the halved weights). The matrix products stay on NumPy's BLAS, outside.

tanh: in float32 a rational approximation that the compiler vectorizes (Eigen's
`generic_fast_tanh_float`, within 5 ulp; libm's scalar tanhf would be several times slower
than NumPy's SIMD tanh); in float64 libm's tanh. Compiled on first use for each dtype
(`cache=True`: later processes load the machine code from __pycache__).
error_model="numpy" lets a division give inf instead of raising, which is what lets the
loops vectorize; NaN and inf propagate as in NumPy (no fastmath flags that assume them away).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

JIT = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}

# tanh(x) = x P(x²) / Q(x²) on [-C, C], ±1 beyond (to float32 precision)
_CLAMP = np.float32(7.90531110763549805)
_P = tuple(np.float32(a) for a in (-2.76076847742355e-16, 2.00018790482477e-13,
                                   -8.60467152213735e-11, 5.12229709037114e-08,
                                   1.48572235717979e-05, 6.37261928875436e-04,
                                   4.89352455891786e-03))
_Q = tuple(np.float32(b) for b in (1.19825839466702e-06, 1.18534705686654e-04,
                                   2.26843463243900e-03, 4.89352518554385e-03))


def tanh(x):
    """tanh of a scalar; inside compiled code, the float32 or float64 form below."""
    return np.tanh(x)


def _tanh32(x):
    c = _CLAMP
    x = c if x > c else x  # noqa: FURB136 (written out: NaN > c is False, so NaN stays)
    x = -c if x < -c else x  # noqa: FURB136
    x2 = x * x
    p = _P[0]
    p = p * x2 + _P[1]
    p = p * x2 + _P[2]
    p = p * x2 + _P[3]
    p = p * x2 + _P[4]
    p = p * x2 + _P[5]
    p = p * x2 + _P[6]
    q = _Q[0]
    q = q * x2 + _Q[1]
    q = q * x2 + _Q[2]
    q = q * x2 + _Q[3]
    return x * p / q


def _tanh64(x):
    return np.tanh(x)


@overload(tanh, jit_options={k: v for k, v in JIT.items() if k != "cache"})
def _tanh_for(x):
    return _tanh32 if x == types.float32 else _tanh64


@njit(**JIT)
def lstm_forward_step(g, rec, c_prev, c, tc, h, n_sigmoid):
    """One step of the LSTM and CIFG forward, in place: g (B, k·H) holds x_t W_x + b and
    becomes the gates; rec (B, k·H) is h_{t-1} W_h; c, tc, h get c_t, tanh(c_t), h_t.
    n_sigmoid is 3 for the LSTM (o, f, i, g), 2 for CIFG (o, f, g with i = 1 - f)."""
    B, H = c.shape
    K = g.shape[1]
    half = g.dtype.type(0.5)
    ns = n_sigmoid * H
    for b in range(B):
        for j in range(K):
            g[b, j] = tanh(g[b, j] + rec[b, j])
        for j in range(ns):
            g[b, j] = half + half * g[b, j]
        if n_sigmoid == 3:
            for j in range(H):
                cc = g[b, H + j] * c_prev[b, j] + g[b, 2 * H + j] * g[b, 3 * H + j]
                c[b, j] = cc
        else:  # c = c~ + f (c_{t-1} - c~)
            for j in range(H):
                gg = g[b, 2 * H + j]
                c[b, j] = gg + g[b, H + j] * (c_prev[b, j] - gg)
        for j in range(H):
            t = tanh(c[b, j])
            tc[b, j] = t
            h[b, j] = g[b, j] * t


@njit(**JIT)
def peephole_forward_step(g, rec, c_prev, c, tc, h, half_f, half_i, half_o):
    """As `lstm_forward_step` for the peephole LSTM: f and i also see c_{t-1}, o sees c_t,
    through the halved peephole weights half_f, half_i, half_o (H,)."""
    B, H = c.shape
    half = g.dtype.type(0.5)
    for b in range(B):
        for j in range(H):
            g[b, H + j] = g[b, H + j] + rec[b, H + j] + half_f[j] * c_prev[b, j]
            g[b, 2 * H + j] = g[b, 2 * H + j] + rec[b, 2 * H + j] + half_i[j] * c_prev[b, j]
        for j in range(H, 3 * H):
            g[b, j] = half + half * tanh(g[b, j])
        for j in range(3 * H, 4 * H):
            g[b, j] = tanh(g[b, j] + rec[b, j])
        for j in range(H):
            cc = g[b, H + j] * c_prev[b, j] + g[b, 2 * H + j] * g[b, 3 * H + j]
            c[b, j] = cc
            g[b, j] = half + half * tanh(g[b, j] + rec[b, j] + half_o[j] * cc)
        for j in range(H):
            t = tanh(c[b, j])
            tc[b, j] = t
            h[b, j] = g[b, j] * t


@njit(**JIT)
def lstm_backward_step(dh, g_t, gates, c_prev, tc, dc, da, n_sigmoid, p_f, p_i, p_o):
    """One step of the family's backward, in place. dh (B, H) is the gradient reaching h_t
    through h_t W_h (zeros at the last step), g_t the upstream gradient of h_t; gates,
    c_prev = c_{t-1} and tc = tanh(c_t) come from the forward. dc (B, H) holds dL/dc_t from
    the later steps and leaves with dL/dc_{t-1}; da (B, k·H) gets the gradients of the
    pre-activations. p_f, p_i, p_o are the peephole weights (empty arrays: no peepholes)."""
    B, H = dc.shape
    one = dc.dtype.type(1)
    peep = p_o.shape[0] > 0
    for b in range(B):
        for j in range(H):
            d = dh[b, j] + g_t[b, j]
            o = gates[b, j]
            t = tc[b, j]
            da_o = d * t * o * (one - o)  # through h_t = o_t tanh(c_t)
            da[b, j] = da_o
            dc[b, j] = dc[b, j] + d * o * (one - t * t)
            if peep:
                dc[b, j] = dc[b, j] + da_o * p_o[j]  # o_t sees c_t
        if n_sigmoid == 3:
            for j in range(H):
                f = gates[b, H + j]
                i = gates[b, 2 * H + j]
                gg = gates[b, 3 * H + j]
                d = dc[b, j]
                da_f = d * c_prev[b, j] * f * (one - f)
                da_i = d * gg * i * (one - i)
                da[b, H + j] = da_f
                da[b, 2 * H + j] = da_i
                da[b, 3 * H + j] = d * i * (one - gg * gg)
                dc[b, j] = d * f  # through c_t = f_t c_{t-1} + ...
                if peep:
                    dc[b, j] = dc[b, j] + da_f * p_f[j] + da_i * p_i[j]
        else:  # CIFG: c_t = c~ + f (c_{t-1} - c~)
            for j in range(H):
                f = gates[b, H + j]
                gg = gates[b, 2 * H + j]
                d = dc[b, j]
                da[b, H + j] = d * (c_prev[b, j] - gg) * f * (one - f)
                da[b, 2 * H + j] = d * (one - f) * (one - gg * gg)
                dc[b, j] = d * f
