"""Fused sequence kernels: a whole recurrent layer over T steps as ONE graph node.

Each kernel is an engine primitive (`defop(..., saves=True)`) with a hand-written NumPy
backward. Forward: the input projection of all steps is one matrix product before the loop;
inside the loop only the recurrent product and in-place ufuncs on preallocated arrays.
Backward: the loop only carries the recurrence; the weight gradients are computed after it,
one product over all steps for the recurrent rows and one for the input rows. The readable
cells in `rnn.cells` are the reference these kernels are tested against.

Op inputs: `(x, h0[, c0], *cell.parameter_list())`, x time-major (T, B, D), states (B, H),
parameters in the cell's layout (`hx @ W_f`, W_f of shape (H + D, H)).
Op outputs (one array per node):
  fused_rnn, fused_gru                -> (T, B, H): h_1 .. h_T
  fused_lstm, fused_peephole_lstm     -> (T + 1, B, H): h_1 .. h_T, then c_T in the last row
`run_fused` slices these with indexing nodes into (outputs, final state).

Sigmoid gates are computed as sigmoid(a) = (1 + tanh(a / 2)) / 2: one tanh call covers
every gate of a step, and it cannot overflow. The halving is folded into a copy of the
weights (multiplying by 0.5 is exact), so no extra pass is needed.
"""

from __future__ import annotations

import numpy as np

from autograd_lite.ops import apply, defop
from autograd_lite.tensor import Tensor


def _flat(a):
    """(T, B, K) -> (T * B, K), a view when possible."""
    return a.reshape(-1, a.shape[-1])


def _sigmoid_from_tanh(block):
    # block holds tanh(a / 2); turn it into sigmoid(a) in place
    block *= 0.5
    block += 0.5


def _halved(W, b, n_sigmoid):
    """Copies of packed W (rows, K) and b (K,) with the first `n_sigmoid` columns halved."""
    Ws, bs = W.copy(), b.copy()
    Ws[:, :n_sigmoid] *= 0.5
    bs[:n_sigmoid] *= 0.5
    return Ws, bs


# ------------------------------------------------------------------------------------------
# LSTM. Gates packed in the order o, f, i, g (g = c~): the three sigmoid gates first, and
# the three gates that multiply dc in backward (f, i, g) last.
# ------------------------------------------------------------------------------------------


def _lstm_pack(W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o):
    return (np.concatenate([W_o, W_f, W_i, W_c], axis=1), np.concatenate([b_o, b_f, b_i, b_c]))


def _lstm_forward(x, h0, c0, W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o, need_dx=True):
    T, B, D = x.shape
    H = h0.shape[-1]
    dt = np.result_type(x, h0, c0, W_f)
    W, b = _lstm_pack(W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o)  # (H + D, 4H), (4H,)
    Ws, bs = _halved(W, b, 3 * H)
    Wh = np.ascontiguousarray(Ws[:H])
    # all input projections at once: G[t] = x_t @ W_x + b, then the loop adds h_{t-1} @ W_h
    G = np.matmul(_flat(x), Ws[H:]).reshape(T, B, 4 * H)
    G += bs
    P = np.empty((T + 2, B, H), dt)  # h_0, h_1 .. h_T, c_T: out is the view P[1:]
    P[0] = h0
    C = np.empty((T + 1, B, H), dt)  # c_0 .. c_T
    C[0] = c0
    TC = np.empty((T, B, H), dt)  # tanh(c_t)
    rec = np.empty((B, 4 * H), dt)
    ig = np.empty((B, H), dt)
    for t in range(T):
        g = G[t]
        np.matmul(P[t], Wh, out=rec)
        g += rec
        np.tanh(g, out=g)
        _sigmoid_from_tanh(g[:, : 3 * H])
        o, f, i, c_tilde = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        np.multiply(f, C[t], out=C[t + 1])  # c_t = f_t * c_{t-1} + i_t * c~_t
        np.multiply(i, c_tilde, out=ig)
        C[t + 1] += ig
        np.tanh(C[t + 1], out=TC[t])
        np.multiply(o, TC[t], out=P[t + 1])  # h_t = o_t * tanh(c_t)
    P[T + 1] = C[T]
    return P[1:], (G, C, TC, P, W)


def _lstm_local_derivatives(G, C, TC):
    """For all steps at once: M = (tanh(c) o', c_{t-1} f', c~ i', i (1 - c~^2)), the factors
    that turn (dh, dc, dc, dc) into the gate pre-activation gradients, and
    K = o (1 - tanh(c)^2), which carries dh into dc. Returns (M, K, M as (T, B, 4, H))."""
    T, B, H = TC.shape
    o, i, c_tilde = G[..., :H], G[..., 2 * H : 3 * H], G[..., 3 * H :]
    M = np.subtract(1, G)
    sig = M[..., : 3 * H]
    sig *= G[..., : 3 * H]  # s (1 - s) for o, f, i at once
    M4 = M.reshape(T, B, 4, H)
    Mg = M4[:, :, 3]
    np.multiply(c_tilde, c_tilde, out=Mg)
    np.subtract(1, Mg, out=Mg)
    Mg *= i  # da_g = dc * i (1 - c~^2)
    M4[:, :, 0] *= TC  # da_o = dh * tanh(c_t) o (1 - o)
    M4[:, :, 1] *= C[:T]  # da_f = dc * c_{t-1} f (1 - f)
    M4[:, :, 2] *= c_tilde  # da_i = dc * c~ i (1 - i)
    K = np.multiply(TC, TC)
    np.subtract(1, K, out=K)
    K *= o
    return M, K, M4


def _lstm_vjp(B_, g, out, x, h0, c0, *params, saved, need_dx=True):
    G, C, TC, P, W = saved
    T, B, H = TC.shape
    f = G[..., H : 2 * H]
    # Local derivatives of all steps at once; the loop turns M into dA (the gradient with
    # respect to the gate pre-activations) in place.
    M, K, M4 = _lstm_local_derivatives(G, C, TC)
    WhT = np.ascontiguousarray(W[:H].T)  # (4H, H)
    dH = g[:-1]
    dc = g[-1].copy()  # dL/dc_T from the packed last row
    dh = np.empty((B, H), G.dtype)
    tmp = np.empty((B, H), G.dtype)
    for t in range(T - 1, -1, -1):
        if t == T - 1:
            dh[...] = dH[t]
        else:
            np.matmul(M[t + 1], WhT, out=dh)  # backprop through h_t @ W_h
            dh += dH[t]
        np.multiply(dh, K[t], out=tmp)
        dc += tmp
        M4[t, :, 0] *= dh
        M4[t, :, 1:] *= dc[:, None, :]
        dc *= f[t]  # dL/dc_{t-1} through c_t = f_t * c_{t-1} + ...
    dh0 = M[0] @ WhT
    A = _flat(M)
    dW = np.empty_like(W)
    np.matmul(_flat(P[:T]).T, A, out=dW[:H])
    np.matmul(_flat(x).T, A, out=dW[H:])
    db = A.sum(axis=0)
    dx = (A @ W[H:].T).reshape(x.shape) if need_dx else None
    go, gf, gi, gg = (slice(k * H, (k + 1) * H) for k in range(4))
    return (dx, dh0, dc, dW[:, gf], db[gf], dW[:, gi], db[gi], dW[:, gg], db[gg], dW[:, go], db[go])


FUSED_LSTM = defop("fused_lstm", _lstm_forward, _lstm_vjp, saves=True)


# ------------------------------------------------------------------------------------------
# Peephole LSTM: as the LSTM, plus p_f * c_{t-1} and p_i * c_{t-1} in f and i, and p_o * c_t
# in o (so o is computed after c_t).
# ------------------------------------------------------------------------------------------


def _peephole_forward(
    x, h0, c0, W_f, p_f, b_f, W_i, p_i, b_i, W_c, b_c, W_o, p_o, b_o, need_dx=True
):
    T, B, D = x.shape
    H = h0.shape[-1]
    dt = np.result_type(x, h0, c0, W_f)
    W, b = _lstm_pack(W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o)
    Ws, bs = _halved(W, b, 3 * H)
    half_fi = 0.5 * np.stack([p_f, p_i])  # (2, H): peepholes of f and i, halved too
    half_o = 0.5 * p_o
    Wh = np.ascontiguousarray(Ws[:H])
    G = np.matmul(_flat(x), Ws[H:]).reshape(T, B, 4 * H)
    G += bs
    G4 = G.reshape(T, B, 4, H)
    P = np.empty((T + 2, B, H), dt)
    P[0] = h0
    C = np.empty((T + 1, B, H), dt)
    C[0] = c0
    TC = np.empty((T, B, H), dt)
    rec = np.empty((B, 4 * H), dt)
    peep = np.empty((B, 2, H), dt)
    tmp = np.empty((B, H), dt)
    for t in range(T):
        g = G[t]
        np.matmul(P[t], Wh, out=rec)
        g += rec
        np.multiply(C[t][:, None, :], half_fi, out=peep)
        G4[t, :, 1:3] += peep
        np.tanh(g[:, H:], out=g[:, H:])  # f, i, g; o waits for c_t
        _sigmoid_from_tanh(g[:, H : 3 * H])
        o, f, i, c_tilde = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        np.multiply(f, C[t], out=C[t + 1])
        np.multiply(i, c_tilde, out=tmp)
        C[t + 1] += tmp
        np.multiply(C[t + 1], half_o, out=tmp)
        o += tmp
        np.tanh(o, out=o)
        _sigmoid_from_tanh(o)
        np.tanh(C[t + 1], out=TC[t])
        np.multiply(o, TC[t], out=P[t + 1])
    P[T + 1] = C[T]
    return P[1:], (G, C, TC, P, W)


def _peephole_vjp(
    B_,
    g,
    out,
    x,
    h0,
    c0,
    W_f,
    p_f,
    b_f,
    W_i,
    p_i,
    b_i,
    W_c,
    b_c,
    W_o,
    p_o,
    b_o,
    saved,
    need_dx=True,
):
    G, C, TC, P, W = saved
    T, B, H = TC.shape
    f = G[..., H : 2 * H]
    M, K, M4 = _lstm_local_derivatives(G, C, TC)
    WhT = np.ascontiguousarray(W[:H].T)
    dH = g[:-1]
    dc = g[-1].copy()
    dh = np.empty((B, H), G.dtype)
    tmp = np.empty((B, H), G.dtype)
    for t in range(T - 1, -1, -1):
        if t == T - 1:
            dh[...] = dH[t]
        else:
            np.matmul(M[t + 1], WhT, out=dh)
            dh += dH[t]
        np.multiply(dh, K[t], out=tmp)
        dc += tmp
        da_o = M4[t, :, 0]
        da_o *= dh
        np.multiply(da_o, p_o, out=tmp)  # o_t sees c_t through p_o
        dc += tmp
        M4[t, :, 1:] *= dc[:, None, :]
        dc *= f[t]
        np.multiply(M4[t, :, 1], p_f, out=tmp)  # f_t and i_t see c_{t-1}
        dc += tmp
        np.multiply(M4[t, :, 2], p_i, out=tmp)
        dc += tmp
    dh0 = M[0] @ WhT
    A = _flat(M)
    dW = np.empty_like(W)
    np.matmul(_flat(P[:T]).T, A, out=dW[:H])
    np.matmul(_flat(x).T, A, out=dW[H:])
    db = A.sum(axis=0)
    dp_o = np.einsum("tbh,tbh->h", M4[:, :, 0], C[1:])
    dp_f = np.einsum("tbh,tbh->h", M4[:, :, 1], C[:T])
    dp_i = np.einsum("tbh,tbh->h", M4[:, :, 2], C[:T])
    dx = (A @ W[H:].T).reshape(x.shape) if need_dx else None
    go, gf, gi, gg = (slice(k * H, (k + 1) * H) for k in range(4))
    return (
        dx,
        dh0,
        dc,
        dW[:, gf],
        dp_f,
        db[gf],
        dW[:, gi],
        dp_i,
        db[gi],
        dW[:, gg],
        db[gg],
        dW[:, go],
        dp_o,
        db[go],
    )


FUSED_PEEPHOLE = defop("fused_peephole_lstm", _peephole_forward, _peephole_vjp, saves=True)


# ------------------------------------------------------------------------------------------
# GRU. Gates packed r, z, n. The input side carries b_r, b_z, b_nx; the recurrent side
# carries b_nh only, and its n block is kept apart because r_t multiplies it.
# ------------------------------------------------------------------------------------------


def _gru_forward(x, h0, W_r, b_r, W_z, b_z, W_nx, b_nx, W_nh, b_nh, need_dx=True):
    T, B, D = x.shape
    H = h0.shape[-1]
    dt = np.result_type(x, h0, W_r)
    Wx = np.concatenate([W_r[H:], W_z[H:], W_nx], axis=1)  # (D, 3H)
    Wh = np.concatenate([W_r[:H], W_z[:H], W_nh], axis=1)  # (H, 3H)
    Wx_s, bx_s = _halved(Wx, np.concatenate([b_r, b_z, b_nx]), 2 * H)
    Wh_s = Wh.copy()
    Wh_s[:, : 2 * H] *= 0.5
    G = np.matmul(_flat(x), Wx_s).reshape(T, B, 3 * H)
    G += bx_s
    HN = np.empty((T, B, H), dt)  # h_{t-1} @ W_nh + b_nh, which r_t multiplies
    P = np.empty((T + 1, B, H), dt)  # h_0 .. h_T: out is the view P[1:]
    P[0] = h0
    rec = np.empty((B, 3 * H), dt)
    tmp = np.empty((B, H), dt)
    for t in range(T):
        g = G[t]
        np.matmul(P[t], Wh_s, out=rec)
        rz = g[:, : 2 * H]
        rz += rec[:, : 2 * H]
        np.tanh(rz, out=rz)
        _sigmoid_from_tanh(rz)
        r, z, n = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
        np.add(rec[:, 2 * H :], b_nh, out=HN[t])
        np.multiply(r, HN[t], out=tmp)  # n_t = tanh(x W_nx + b_nx + r_t * (h W_nh + b_nh))
        n += tmp
        np.tanh(n, out=n)
        np.subtract(P[t], n, out=tmp)  # h_t = (1 - z) n + z h_{t-1} = n + z (h_{t-1} - n)
        tmp *= z
        np.add(n, tmp, out=P[t + 1])
    return P[1:], (G, HN, P, Wx, Wh)


def _gru_vjp(B_, g, out, x, h0, *params, saved, need_dx=True):
    G, HN, P, Wx, Wh = saved
    T, B, H = HN.shape
    r, z, n = G[..., :H], G[..., H : 2 * H], G[..., 2 * H :]
    one_minus_z = np.subtract(1, z)
    M = np.empty_like(G)  # becomes dA_x = (da_r, da_z, da_n)
    Mr, Mz, Mn = M[..., :H], M[..., H : 2 * H], M[..., 2 * H :]
    np.subtract(1, r, out=Mr)  # da_r = da_n * (h W_nh + b_nh) * r (1 - r)
    Mr *= r
    Mr *= HN
    np.subtract(P[:T], n, out=Mz)  # da_z = dh * (h_{t-1} - n) * z (1 - z)
    Mz *= z
    Mz *= one_minus_z
    np.multiply(n, n, out=Mn)  # da_n = dh * (1 - z) * (1 - n^2)
    np.subtract(1, Mn, out=Mn)
    Mn *= one_minus_z
    AH = np.empty_like(G)  # gradient w.r.t. the recurrent product (da_r, da_z, da_n * r)
    M3 = M.reshape(T, B, 3, H)
    WhT = np.ascontiguousarray(Wh.T)  # (3H, H)
    dh = g[T - 1].copy()
    tmp = np.empty((B, H), G.dtype)
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            dh *= z[t + 1]  # through h_{t+1} = ... + z_{t+1} * h_t
            np.matmul(AH[t + 1], WhT, out=tmp)  # through h_t @ W_h
            dh += tmp
            dh += g[t]
        M3[t, :, 1:] *= dh[:, None, :]
        M3[t, :, 0] *= M3[t, :, 2]
        AH[t, :, : 2 * H] = M[t, :, : 2 * H]
        np.multiply(M3[t, :, 2], r[t], out=AH[t, :, 2 * H :])
    dh0 = AH[0] @ WhT + dh * z[0]
    A, AHf = _flat(M), _flat(AH)
    dWx = _flat(x).T @ A
    dWh = _flat(P[:T]).T @ AHf
    dbx = A.sum(axis=0)
    db_nh = AHf[:, 2 * H :].sum(axis=0)
    dx = (A @ Wx.T).reshape(x.shape) if need_dx else None
    gr, gz, gn = (slice(k * H, (k + 1) * H) for k in range(3))
    return (
        dx,
        dh0,
        np.concatenate([dWh[:, gr], dWx[:, gr]]),
        dbx[gr],
        np.concatenate([dWh[:, gz], dWx[:, gz]]),
        dbx[gz],
        dWx[:, gn],
        dbx[gn],
        dWh[:, gn],
        db_nh,
    )


FUSED_GRU = defop("fused_gru", _gru_forward, _gru_vjp, saves=True)


# ------------------------------------------------------------------------------------------
# Elman RNN: h_t = tanh(x_t W_x + h_{t-1} W_h + b)
# ------------------------------------------------------------------------------------------


def _rnn_forward(x, h0, W, b, need_dx=True):
    T, B, D = x.shape
    H = h0.shape[-1]
    dt = np.result_type(x, h0, W)
    Wh = np.ascontiguousarray(W[:H])
    G = np.matmul(_flat(x), W[H:]).reshape(T, B, H)
    G += b
    P = np.empty((T + 1, B, H), dt)
    P[0] = h0
    for t in range(T):
        np.matmul(P[t], Wh, out=P[t + 1])
        P[t + 1] += G[t]
        np.tanh(P[t + 1], out=P[t + 1])
    return P[1:], (P,)


def _rnn_vjp(B_, g, out, x, h0, W, b, saved, need_dx=True):
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
    dh0 = M[0] @ WhT
    A = _flat(M)
    dW = np.empty_like(W)
    np.matmul(_flat(P[:T]).T, A, out=dW[:H])
    np.matmul(_flat(x).T, A, out=dW[H:])
    dx = (A @ W[H:].T).reshape(x.shape) if need_dx else None
    return dx, dh0, dW, A.sum(axis=0)


FUSED_RNN = defop("fused_rnn", _rnn_forward, _rnn_vjp, saves=True)


# ------------------------------------------------------------------------------------------
# Running a cell's fused op
# ------------------------------------------------------------------------------------------

FUSED_OPS = {
    "RNNCell": FUSED_RNN,
    "LSTMCell": FUSED_LSTM,
    "GRUCell": FUSED_GRU,
    "PeepholeLSTMCell": FUSED_PEEPHOLE,
}


def run_fused(cell, x: Tensor, state: tuple) -> tuple[Tensor, tuple]:
    """Run `cell` over time-major `x` (T, B, D) from `state` (tuple of (B, H) Tensors).

    Returns (outputs (T, B, H), final state tuple of (B, H) Tensors). One fused node, then
    indexing nodes that slice it.
    """
    op = FUSED_OPS[type(cell).__name__]
    T = x.shape[0]
    packed = apply(op, x, *state, *cell.parameter_list(), need_dx=bool(x.requires_grad))
    if len(state) == 1:
        packed.label = "h_1..T"
        return packed, (packed[T - 1],)
    packed.label = "h_1..T, c_T"
    outputs = packed[:T]
    return outputs, (packed[T - 1], packed[T])
