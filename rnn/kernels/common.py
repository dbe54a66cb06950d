"""Helpers shared by the fused kernels."""

from __future__ import annotations

import numpy as np

from rnn.kernels import workspace


def flat(a):
    """(T, B, K) -> (T * B, K), a view when possible."""
    return a.reshape(-1, a.shape[-1])


def sigmoid_from_tanh(block):
    """Turn `block`, holding tanh(a / 2), into sigmoid(a) in place."""
    block *= 0.5
    block += 0.5


def packed(blocks, dtype):
    """The blocks side by side, (rows, sum of widths), in a reused buffer."""
    shape = (blocks[0].shape[0], sum(a.shape[1] for a in blocks)) if blocks[0].ndim == 2 \
        else (sum(a.shape[0] for a in blocks),)
    return np.concatenate(blocks, axis=-1, out=workspace.empty(shape, dtype))


def halved(W, b, n_sigmoid):
    """Copies of packed W (rows, K) and b (K,) with the first `n_sigmoid` columns halved."""
    Ws = workspace.empty(W.shape, W.dtype)
    np.copyto(Ws, W)
    bs = b.copy()
    Ws[:, :n_sigmoid] *= 0.5
    bs[:n_sigmoid] *= 0.5
    return Ws, bs


def projected(x, W, b, dtype):
    """x (T, B, D) @ W (D, K) + b for all steps at once, (T, B, K), in a reused buffer."""
    T, B, _ = x.shape
    G = workspace.empty((T, B, W.shape[1]), dtype)
    np.matmul(flat(x), W, out=flat(G))
    G += b
    return G


def transposed(a):
    """A C-contiguous copy of a.T, in a reused buffer."""
    out = workspace.empty(a.shape[::-1], a.dtype)
    np.copyto(out, a.T)
    return out


def weight_gradients(A, h_prev, x, W, need_dx):
    """The tail of the backward passes: (dW, db, dx) from the pre-activation gradients
    A (T, B, K) of `hx @ W + b`, with h_prev = h_0 .. h_{T-1} (T, B, H) and x (T, B, D)."""
    H = h_prev.shape[-1]
    Af = flat(A)
    dW = workspace.empty(W.shape, W.dtype)
    np.matmul(flat(h_prev).T, Af, out=dW[:H])
    np.matmul(flat(x).T, Af, out=dW[H:])
    dx = (Af @ W[H:].T).reshape(x.shape) if need_dx else None
    return dW, Af.sum(axis=0), dx
