"""Fused kernel of the GRU (gates packed r, z, n; the input side carries b_r, b_z, b_nx,
the recurrent side b_nh only, its n block kept apart because r_t multiplies it)."""

from __future__ import annotations

import numpy as np

from autograd_lite.ops import defop
from rnn.kernels.common import flat, halved, sigmoid_from_tanh


def _gru_forward(x, h0, W_r, b_r, W_z, b_z, W_nx, b_nx, W_nh, b_nh, need_dx=True):
    T, B, D = x.shape
    H = h0.shape[-1]
    dt = np.result_type(x, h0, W_r)
    Wx = np.concatenate([W_r[H:], W_z[H:], W_nx], axis=1)  # (D, 3H)
    Wh = np.concatenate([W_r[:H], W_z[:H], W_nh], axis=1)  # (H, 3H)
    Wx_s, bx_s = halved(Wx, np.concatenate([b_r, b_z, b_nx]), 2 * H)
    Wh_s = Wh.copy()
    Wh_s[:, : 2 * H] *= 0.5
    G = np.matmul(flat(x), Wx_s).reshape(T, B, 3 * H)
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
        sigmoid_from_tanh(rz)
        r, z, n = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
        np.add(rec[:, 2 * H :], b_nh, out=HN[t])
        np.multiply(r, HN[t], out=tmp)  # n_t = tanh(x W_nx + b_nx + r_t * (h W_nh + b_nh))
        n += tmp
        np.tanh(n, out=n)
        np.subtract(P[t], n, out=tmp)  # h_t = (1 - z) n + z h_{t-1} = n + z (h_{t-1} - n)
        tmp *= z
        np.add(n, tmp, out=P[t + 1])
    return P[1:], (G, HN, P, Wx, Wh)


def _gru_vjp(bk, g, out, x, h0, *params, saved, need_dx=True):
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
    A, AHf = flat(M), flat(AH)
    dWx = flat(x).T @ A
    dWh = flat(P[:T]).T @ AHf
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
