"""Fused kernels of the LSTM family: LSTM, peephole LSTM and CIFG, sharing one backward loop.

Gates are packed with the sigmoid gates first, o then f: (o, f, i, g) for the LSTM and the
peephole LSTM, (o, f, g) for CIFG, where g = c~ and i = 1 - f. In backward, gate 0 (o)
multiplies dh and every other gate multiplies dc; `_backward` runs that loop for all three.
"""

from __future__ import annotations

import numpy as np

from autograd_lite.ops import defop
from rnn.kernels import select, workspace
from rnn.kernels.common import (
    halved,
    packed,
    projected,
    sigmoid_from_tanh,
    transposed,
    weight_gradients,
)


def _buffers(x, h0, c0, W, b, n_sigmoid):
    """Halved weights, the input projections G and the state buffers of a forward pass."""
    T, B, _ = x.shape
    H = h0.shape[-1]
    dt = np.result_type(x, h0, c0, W)
    Ws, bs = halved(W, b, n_sigmoid)
    # all input projections at once: G[t] = x_t @ W_x + b; the loop adds h_{t-1} @ W_h
    G = projected(x, Ws[H:], bs, dt)
    P = workspace.empty((T + 2, B, H), dt)  # h_0, h_1 .. h_T, c_T: the op's output is P[1:]
    P[0] = h0
    C = workspace.empty((T + 1, B, H), dt)  # c_0 .. c_T
    C[0] = c0
    TC = workspace.empty((T, B, H), dt)  # tanh(c_t)
    return Ws[:H], G, P, C, TC, np.empty((B, G.shape[-1]), dt), np.empty((B, H), dt)


def _gates(G, t, P, Wh, rec, n_sigmoid):
    """Step t's gates in place in G[t]: add h_{t-1} @ W_h, then squash (sigmoid for the first
    `n_sigmoid` columns, through the halved weights, tanh for the rest)."""
    g = G[t]
    np.matmul(P[t], Wh, out=rec)
    g += rec
    np.tanh(g, out=g)
    sigmoid_from_tanh(g[:, :n_sigmoid])
    return g


def _cell_output(o, t, P, C, TC):
    np.tanh(C[t + 1], out=TC[t])
    np.multiply(o, TC[t], out=P[t + 1])  # h_t = o_t * tanh(c_t)


def _lstm_pack(W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o):
    dt = W_f.dtype
    return packed([W_o, W_f, W_i, W_c], dt), packed([b_o, b_f, b_i, b_c], dt)


def _jit_forward(steps, x, Wh, G, P, C, TC, rec, n_sigmoid):
    """The forward loop with numba's per-step function (the LSTM and CIFG)."""
    for t in range(x.shape[0]):
        np.matmul(P[t], Wh, out=rec)
        steps.lstm_forward_step(G[t], rec, C[t], C[t + 1], TC[t], P[t + 1], n_sigmoid)


def _lstm_forward(x, h0, c0, W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o, need_dx=True):
    H = h0.shape[-1]
    W, b = _lstm_pack(W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o)  # (H + D, 4H), (4H,)
    Wh, G, P, C, TC, rec, ig = _buffers(x, h0, c0, W, b, 3 * H)
    steps = select.steps(select.fused_path(G.dtype))
    if steps is not None:
        _jit_forward(steps, x, Wh, G, P, C, TC, rec, 3)
    else:
        for t in range(x.shape[0]):
            g = _gates(G, t, P, Wh, rec, 3 * H)
            o, f, i, c_tilde = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
            np.multiply(f, C[t], out=C[t + 1])  # c_t = f_t * c_{t-1} + i_t * c~_t
            np.multiply(i, c_tilde, out=ig)
            C[t + 1] += ig
            _cell_output(o, t, P, C, TC)
    P[-1] = C[-1]
    return P[1:], (G, C, TC, P, W)


def _peephole_forward(x, h0, c0, W_f, p_f, b_f, W_i, p_i, b_i, W_c, b_c, W_o, p_o, b_o,
                      need_dx=True):
    T, B, _ = x.shape
    H = h0.shape[-1]
    W, b = _lstm_pack(W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o)
    Wh, G, P, C, TC, rec, tmp = _buffers(x, h0, c0, W, b, 3 * H)
    half_fi = 0.5 * np.stack([p_f, p_i])  # (2, H): peepholes of f and i, halved too
    half_o = 0.5 * p_o
    steps = select.steps(select.fused_path(G.dtype))
    if steps is not None:
        for t in range(T):
            np.matmul(P[t], Wh, out=rec)
            steps.peephole_forward_step(G[t], rec, C[t], C[t + 1], TC[t], P[t + 1],
                                        half_fi[0], half_fi[1], half_o)
        P[-1] = C[-1]
        return P[1:], (G, C, TC, P, W)
    G4 = G.reshape(T, B, 4, H)
    peep = np.empty((B, 2, H), G.dtype)
    for t in range(T):
        g = G[t]
        np.matmul(P[t], Wh, out=rec)
        g += rec
        np.multiply(C[t][:, None, :], half_fi, out=peep)
        G4[t, :, 1:3] += peep
        np.tanh(g[:, H:], out=g[:, H:])  # f, i, g; o waits for c_t
        sigmoid_from_tanh(g[:, H : 3 * H])
        o, f, i, c_tilde = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        np.multiply(f, C[t], out=C[t + 1])
        np.multiply(i, c_tilde, out=tmp)
        C[t + 1] += tmp
        np.multiply(C[t + 1], half_o, out=tmp)  # o_t sees the new cell state
        o += tmp
        np.tanh(o, out=o)
        sigmoid_from_tanh(o)
        _cell_output(o, t, P, C, TC)
    P[-1] = C[-1]
    return P[1:], (G, C, TC, P, W)


def _cifg_forward(x, h0, c0, W_f, b_f, W_c, b_c, W_o, b_o, need_dx=True):
    H = h0.shape[-1]
    dt = W_f.dtype
    W, b = packed([W_o, W_f, W_c], dt), packed([b_o, b_f, b_c], dt)  # (H + D, 3H), (3H,)
    Wh, G, P, C, TC, rec, tmp = _buffers(x, h0, c0, W, b, 2 * H)
    steps = select.steps(select.fused_path(G.dtype))
    if steps is not None:
        _jit_forward(steps, x, Wh, G, P, C, TC, rec, 2)
    else:
        for t in range(x.shape[0]):
            g = _gates(G, t, P, Wh, rec, 2 * H)
            o, f, c_tilde = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
            # c_t = f c_{t-1} + (1 - f) c~ = c~ + f (c_{t-1} - c~)
            np.subtract(C[t], c_tilde, out=tmp)
            tmp *= f
            np.add(c_tilde, tmp, out=C[t + 1])
            _cell_output(o, t, P, C, TC)
    P[-1] = C[-1]
    return P[1:], (G, C, TC, P, W)


def _sigmoid_factors(M, G, n_sigmoid):
    """M[..., :n] = s (1 - s) for the first n packed gates (outputs already in G)."""
    np.subtract(1, G[..., :n_sigmoid], out=M[..., :n_sigmoid])
    M[..., :n_sigmoid] *= G[..., :n_sigmoid]


def _lstm_factors(G, C, TC):
    """Local factors (tanh(c) o', c_{t-1} f', c~ i', i (1 - c~²)) of all steps at once."""
    T, B, H = TC.shape
    M = workspace.empty(G.shape, G.dtype)
    _sigmoid_factors(M, G, 3 * H)
    i, c_tilde = G[..., 2 * H : 3 * H], G[..., 3 * H :]
    M4 = M.reshape(T, B, 4, H)
    np.multiply(c_tilde, c_tilde, out=M4[:, :, 3])
    np.subtract(1, M4[:, :, 3], out=M4[:, :, 3])
    M4[:, :, 3] *= i  # da_g = dc * i (1 - c~²)
    M4[:, :, 1] *= C[:T]  # da_f = dc * c_{t-1} f (1 - f)
    M4[:, :, 2] *= c_tilde  # da_i = dc * c~ i (1 - i)
    return M


def _cifg_factors(G, C, TC):
    """Local factors (tanh(c) o', (c_{t-1} - c~) f', (1 - f)(1 - c~²)) of all steps."""
    T, _, H = TC.shape
    M = workspace.empty(G.shape, G.dtype)
    _sigmoid_factors(M, G, 2 * H)
    f, c_tilde = G[..., H : 2 * H], G[..., 2 * H :]
    M[..., H : 2 * H] *= C[:T] - c_tilde
    np.multiply(c_tilde, c_tilde, out=M[..., 2 * H :])
    np.subtract(1, M[..., 2 * H :], out=M[..., 2 * H :])
    M[..., 2 * H :] *= 1 - f
    return M


def _numpy_backward(g, saved, M, peep):
    """The backward loop of the family in NumPy. M (T, B, k·H) holds each step's local
    factors: gate 0 (o) is multiplied by dh, the others by dc, in place, leaving the gradients
    of the pre-activations. `peep` = (p_f, p_i, p_o) adds the peephole paths into dc."""
    G, _, TC, _, W = saved
    T, B, H = TC.shape
    Mk = M.reshape(T, B, -1, H)
    Mk[:, :, 0] *= TC  # da_o = dh * tanh(c_t) o (1 - o)
    f = G[..., H : 2 * H]
    K = np.multiply(TC, TC, out=workspace.empty(TC.shape, TC.dtype))
    np.subtract(1, K, out=K)  # o (1 - tanh(c)²) carries dh into dc
    K *= G[..., :H]
    WhT = transposed(W[:H])
    dc = g[-1].copy()  # dL/dc_T from the packed last row
    dh = np.empty((B, H), G.dtype)
    tmp = np.empty((B, H), G.dtype)
    for t in range(T - 1, -1, -1):
        if t == T - 1:
            dh[...] = g[t]
        else:
            np.matmul(M[t + 1], WhT, out=dh)  # backprop through h_t @ W_h
            dh += g[t]
        np.multiply(dh, K[t], out=tmp)
        dc += tmp
        Mk[t, :, 0] *= dh
        if peep is not None:
            np.multiply(Mk[t, :, 0], peep[2], out=tmp)  # o_t sees c_t through p_o
            dc += tmp
        Mk[t, :, 1:] *= dc[:, None, :]
        dc *= f[t]  # dL/dc_{t-1} through c_t = f_t * c_{t-1} + ...
        if peep is not None:
            np.multiply(Mk[t, :, 1], peep[0], out=tmp)  # f_t and i_t see c_{t-1}
            dc += tmp
            np.multiply(Mk[t, :, 2], peep[1], out=tmp)
            dc += tmp
    return dc, WhT


def _jit_backward(steps, g, saved, n_sigmoid, peep):
    """The same loop with numba's per-step function, which also computes the local factors."""
    G, C, TC, _, W = saved
    T, B, H = TC.shape
    M = workspace.empty(G.shape, G.dtype)
    WhT = transposed(W[:H])
    g = np.ascontiguousarray(g)
    dc = g[-1].copy()
    dh = np.zeros((B, H), G.dtype)  # nothing comes through h_T @ W_h
    none = np.empty(0, G.dtype)
    p_f, p_i, p_o = (none, none, none) if peep is None else peep
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            np.matmul(M[t + 1], WhT, out=dh)
        steps.lstm_backward_step(dh, g[t], G[t], C[t], TC[t], dc, M[t], n_sigmoid, p_f, p_i,
                                 p_o)
    return M, dc, WhT


def _backward(g, x, saved, need_dx, factors, n_sigmoid, peep=None):
    """(dx, dh_0, dc_0, dW, db, M) of the family, M the pre-activation gradients."""
    steps = select.steps(select.fused_path(saved[0].dtype))
    if steps is None:
        M = factors(*saved[:3])
        dc, WhT = _numpy_backward(g, saved, M, peep)
    else:
        M, dc, WhT = _jit_backward(steps, g, saved, n_sigmoid, peep)
    P, W = saved[3:]
    dW, db, dx = weight_gradients(M, P[: M.shape[0]], x, W, need_dx)
    return dx, M[0] @ WhT, dc, dW, db, M


def _lstm_vjp(bk, g, out, x, h0, c0, *params, saved, need_dx=True):
    dx, dh0, dc, dW, db, _ = _backward(g, x, saved, need_dx, _lstm_factors, 3)
    H = h0.shape[-1]
    go, gf, gi, gg = (slice(k * H, (k + 1) * H) for k in range(4))
    return (dx, dh0, dc, dW[:, gf], db[gf], dW[:, gi], db[gi], dW[:, gg], db[gg], dW[:, go],
            db[go])


def _peephole_vjp(bk, g, out, x, h0, c0, W_f, p_f, b_f, W_i, p_i, b_i, W_c, b_c, W_o, p_o,
                  b_o, saved, need_dx=True):
    C, TC = saved[1:3]
    T = TC.shape[0]
    dx, dh0, dc, dW, db, M = _backward(g, x, saved, need_dx, _lstm_factors, 3,
                                       peep=(p_f, p_i, p_o))
    H = h0.shape[-1]
    M4 = M.reshape(T, -1, 4, H)
    dp_o = np.einsum("tbh,tbh->h", M4[:, :, 0], C[1:])
    dp_f = np.einsum("tbh,tbh->h", M4[:, :, 1], C[:T])
    dp_i = np.einsum("tbh,tbh->h", M4[:, :, 2], C[:T])
    go, gf, gi, gg = (slice(k * H, (k + 1) * H) for k in range(4))
    return (dx, dh0, dc, dW[:, gf], dp_f, db[gf], dW[:, gi], dp_i, db[gi], dW[:, gg], db[gg],
            dW[:, go], dp_o, db[go])


def _cifg_vjp(bk, g, out, x, h0, c0, *params, saved, need_dx=True):
    dx, dh0, dc, dW, db, _ = _backward(g, x, saved, need_dx, _cifg_factors, 2)
    H = h0.shape[-1]
    go, gf, gg = (slice(k * H, (k + 1) * H) for k in range(3))
    return dx, dh0, dc, dW[:, gf], db[gf], dW[:, gg], db[gg], dW[:, go], db[go]


FUSED_LSTM = defop("fused_lstm", _lstm_forward, _lstm_vjp, saves=True)
FUSED_PEEPHOLE = defop("fused_peephole_lstm", _peephole_forward, _peephole_vjp, saves=True)
FUSED_CIFG = defop("fused_cifg", _cifg_forward, _cifg_vjp, saves=True)
