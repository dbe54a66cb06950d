"""The LSTM benchmark's starting point and its variants: one character-level training step
(65 symbols one-hot in, hidden 128, 64 steps of a batch of 32, a linear decoder and softmax
cross-entropy at every step, backward, one SGD update), written six ways: this toolkit's
fused kernel, its readable primitive graph run eagerly or as a compiled program
(`autograd_lite.compile`), a hand-written NumPy loop, and PyTorch (nn.LSTM, primitives).

Each variant returns `step(ids) -> loss` that trains once on a batch of ids (T + 1, B); all
start from the same weights. PyTorch is imported only by the torch variants.
"""

from __future__ import annotations

import contextlib

import numpy as np

from autograd_lite import Tensor, cross_entropy, nn, optim
from autograd_lite import compile as compile_step
from rnn.cells import LSTMCell
from rnn.interop import to_torch
from rnn.kernels import select
from rnn.layers import LSTM

T, B, V, H = 64, 32, 65, 128  # steps, batch, symbols, hidden units
LR = 0.1


def batch_ids(seed=0):
    """Symbol ids (T + 1, B): inputs are ids[:-1] one-hot, targets ids[1:]."""
    return np.random.default_rng(seed).integers(0, V, (T + 1, B))


def one_hot(ids, dtype):
    return np.eye(V, dtype=dtype)[ids]


def initial_weights(seed=0):
    """Per-gate LSTM weights (our layout) and a decoder, all float64."""
    cell = LSTMCell(V, H, rng=seed)
    rng = np.random.default_rng(seed + 1)
    bound = 1.0 / np.sqrt(H)
    w = cell.weights()
    w["W_y"] = rng.uniform(-bound, bound, (V, H))  # decoder, (out, in) as nn.Linear
    w["b_y"] = rng.uniform(-bound, bound, V)
    return w


def our_model(weights, dtype, fused=True):
    """(LSTM layer, nn.Linear decoder, SGD over both), all starting from `weights`."""
    lstm = LSTM(V, H, dtype=dtype, fused=fused)
    lstm.cells[0].load_weights(weights)  # reads the cell's own names, ignores W_y, b_y
    decoder = nn.Linear(H, V, dtype=dtype)
    decoder.weight.assign(weights["W_y"])
    decoder.bias.assign(weights["b_y"])
    return lstm, decoder, optim.SGD(lstm.parameters() + decoder.parameters(), lr=LR)


def torch_model(weights, dtype_name: str):
    """(torch.nn.LSTM, torch.nn.Linear, torch SGD over both), all starting from `weights`."""
    import torch  # optional: only when PyTorch is compared

    layer = LSTM(V, H, dtype=np.dtype(dtype_name))
    layer.cells[0].load_weights(weights)
    lstm = _same_training(to_torch(layer))
    decoder = torch.nn.Linear(H, V, dtype=getattr(torch, dtype_name))
    with torch.no_grad():
        decoder.weight.copy_(torch.from_numpy(weights["W_y"]))
        decoder.bias.copy_(torch.from_numpy(weights["b_y"]))
    optimizer = torch.optim.SGD(list(lstm.parameters()) + list(decoder.parameters()), lr=LR)
    return lstm, decoder, optimizer


def ours(weights, dtype, fused, compiled=False, path=None):
    """This toolkit: LSTM layer (fused kernel or primitive graph), nn.Linear, SGD; with
    `compiled`, the loss and its backward run as a compiled program (`autograd_lite.compile`).
    The fused kernel runs on `path` ("numpy" or "numba"; None: as rnn.kernels.select chooses),
    which the step's `path` records.
    A compiled step's `held()` is the bytes of the buffers its program keeps between calls."""
    lstm, decoder, optimizer = our_model(weights, dtype, fused)

    def loss_of(x, targets):
        outputs, _ = lstm(x)
        # one (T * B, H) product for the decoder, as torch's Linear does with 3-D input
        return cross_entropy(decoder(outputs.reshape((T * B, H))), targets)

    loss_fn = compile_step(loss_of) if compiled else loss_of

    def step(ids):
        with select.use(path) if path else contextlib.nullcontext():
            optimizer.zero_grad()
            x = one_hot(ids[:-1], dtype)
            loss = loss_fn(x if compiled else Tensor(x), ids[1:].reshape(-1))
            loss.backward()
            optimizer.step()
            return loss.item()

    step.path = (path or select.fused_path(dtype)) if fused else None
    if compiled:
        step.held = lambda: sum(p.frame_bytes * len(p.idle) for p in loss_fn.programs)
    return step


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_loop(weights):
    """The same cell written by hand in NumPy, min-char-rnn style: a forward loop with the
    decoder and softmax inside it, a backward loop, one matrix per gate on z = [h, x],
    dz = sum_g da_g @ W_g.T and dh = dz[:, :H] (the work the primitive graph does too)."""
    p = {k: np.array(v) for k, v in weights.items()}
    p["W_y"] = p["W_y"].T.copy()  # (H, V): y = h @ W_y + b_y
    gates = "fico"

    def step(ids):
        xs = one_hot(ids[:-1], np.float64)
        targets = ids[1:]
        rows = np.arange(B)
        zs, cs, hs, acts, tcs, ps = {}, {-1: np.zeros((B, H))}, {-1: np.zeros((B, H))}, {}, {}, {}
        loss = 0.0
        for t in range(T):  # forward pass
            z = zs[t] = np.concatenate([hs[t - 1], xs[t]], axis=1)
            f = _sigmoid(z @ p["W_f"] + p["b_f"])
            i = _sigmoid(z @ p["W_i"] + p["b_i"])
            c_tilde = np.tanh(z @ p["W_c"] + p["b_c"])
            cs[t] = f * cs[t - 1] + i * c_tilde
            o = _sigmoid(z @ p["W_o"] + p["b_o"])
            tcs[t] = np.tanh(cs[t])
            hs[t] = o * tcs[t]
            acts[t] = (f, i, c_tilde, o)
            y = hs[t] @ p["W_y"] + p["b_y"]
            e = np.exp(y - y.max(axis=1, keepdims=True))
            ps[t] = e / e.sum(axis=1, keepdims=True)  # softmax probabilities
            loss -= np.log(ps[t][rows, targets[t]]).sum()
        d = {k: np.zeros_like(v) for k, v in p.items()}
        dh_next, dc_next = np.zeros((B, H)), np.zeros((B, H))
        for t in reversed(range(T)):  # backward pass
            dy = ps[t].copy()
            dy[rows, targets[t]] -= 1  # backprop into y: softmax minus one-hot
            dy /= T * B
            d["W_y"] += hs[t].T @ dy
            d["b_y"] += dy.sum(axis=0)
            dh = dy @ p["W_y"].T + dh_next
            f, i, c_tilde, o = acts[t]
            dc = dc_next + dh * o * (1 - tcs[t] ** 2)  # backprop through tanh(c)
            da = {
                "f": dc * cs[t - 1] * f * (1 - f),
                "i": dc * c_tilde * i * (1 - i),
                "c": dc * i * (1 - c_tilde**2),
                "o": dh * tcs[t] * o * (1 - o),
            }
            dz = np.zeros((B, H + V))
            for g in gates:
                d[f"W_{g}"] += zs[t].T @ da[g]
                d[f"b_{g}"] += da[g].sum(axis=0)
                dz += da[g] @ p[f"W_{g}"].T  # backprop into z = [h, x], as the graph does
            dh_next = dz[:, :H]
            dc_next = dc * f
        for k in p:
            p[k] -= LR * d[k]
        return loss / (T * B)

    return step


def numpy_loop_stacked(weights):
    """As `numpy_loop`, with the four gates stacked into one (H + V, 4H) matrix: fewer,
    larger products (the layout the fused kernel uses). For reference, no target."""
    W = np.concatenate([weights[f"W_{g}"] for g in "ifoc"], axis=1)  # (H + V, 4H)
    b = np.concatenate([weights[f"b_{g}"] for g in "ifoc"])
    Wy, by = weights["W_y"].T.copy(), weights["b_y"].copy()  # (H, V), (V,)
    params = [W, b, Wy, by]

    def step(ids):
        xs = one_hot(ids[:-1], np.float64)
        targets = ids[1:]
        rows = np.arange(B)
        zs, cs, hs, gates, tcs, ps = {}, {-1: np.zeros((B, H))}, {-1: np.zeros((B, H))}, {}, {}, {}
        loss = 0.0
        for t in range(T):  # forward pass
            zs[t] = np.concatenate([hs[t - 1], xs[t]], axis=1)
            a = zs[t] @ W + b
            i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H]), _sigmoid(a[:, 2 * H : 3 * H])
            g = np.tanh(a[:, 3 * H :])
            cs[t] = f * cs[t - 1] + i * g
            tcs[t] = np.tanh(cs[t])
            hs[t] = o * tcs[t]
            gates[t] = (i, f, o, g)
            y = hs[t] @ Wy + by
            e = np.exp(y - y.max(axis=1, keepdims=True))
            ps[t] = e / e.sum(axis=1, keepdims=True)  # softmax probabilities
            loss -= np.log(ps[t][rows, targets[t]]).sum()
        dW, db, dWy, dby = (np.zeros_like(p) for p in params)
        dh_next, dc_next = np.zeros((B, H)), np.zeros((B, H))
        for t in reversed(range(T)):  # backward pass
            dy = ps[t].copy()
            dy[rows, targets[t]] -= 1  # backprop into y: softmax minus one-hot
            dy /= T * B
            dWy += hs[t].T @ dy
            dby += dy.sum(axis=0)
            dh = dy @ Wy.T + dh_next
            i, f, o, g = gates[t]
            dc = dc_next + dh * o * (1 - tcs[t] ** 2)  # backprop through tanh(c)
            da = np.concatenate(
                [
                    dc * g * i * (1 - i),
                    dc * cs[t - 1] * f * (1 - f),
                    dh * tcs[t] * o * (1 - o),
                    dc * i * (1 - g**2),
                ],
                axis=1,
            )
            dW += zs[t].T @ da
            db += da.sum(axis=0)
            dh_next = da @ W[:H].T  # only the h part of [h, x] carries on
            dc_next = dc * f
        for p, d in zip(params, (dW, db, dWy, dby)):
            p -= LR * d
        return loss / (T * B)

    return step


def torch_lstm(weights, dtype_name):
    """torch.nn.LSTM + nn.Linear + F.cross_entropy + optim.SGD."""
    import torch  # optional: only when PyTorch is compared

    lstm, decoder, optimizer = torch_model(weights, dtype_name)

    def step(ids):
        optimizer.zero_grad()
        x = torch.from_numpy(one_hot(ids[:-1], np.dtype(dtype_name)))
        outputs, _ = lstm(x)
        logits = decoder(outputs)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, V), torch.from_numpy(ids[1:]).reshape(-1)
        )
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _same_training(lstm):
    """torch keeps two biases per gate; SGD on both moves their sum twice as far as our one
    bias. Freezing bias_hh (zero after `to_torch`) makes the training identical to ours."""
    for name, p in lstm.named_parameters():
        if name.startswith("bias_hh"):
            p.requires_grad_(False)
    return lstm


def torch_primitives(weights, dtype_name="float64"):
    """The readable cell written with torch ops (per-gate matmuls, cat, sigmoid, tanh)."""
    import torch  # optional: only when PyTorch is compared

    dtype = getattr(torch, dtype_name)
    p = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in weights.items()}
    params = list(p.values())

    def step(ids):
        x = torch.from_numpy(one_hot(ids[:-1], np.dtype(dtype_name)))
        h = c = torch.zeros(B, H, dtype=dtype)
        hs = []
        for t in range(T):
            hx = torch.cat([h, x[t]], dim=1)
            f = torch.sigmoid(hx @ p["W_f"] + p["b_f"])
            i = torch.sigmoid(hx @ p["W_i"] + p["b_i"])
            c_tilde = torch.tanh(hx @ p["W_c"] + p["b_c"])
            c = f * c + i * c_tilde
            o = torch.sigmoid(hx @ p["W_o"] + p["b_o"])
            h = o * torch.tanh(c)
            hs.append(h)
        logits = torch.stack(hs) @ p["W_y"].T + p["b_y"]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, V), torch.from_numpy(ids[1:]).reshape(-1)
        )
        loss.backward()
        with torch.no_grad():
            for q in params:
                q -= LR * q.grad
                q.grad = None
        return loss.item()

    return step


def variants(weights, use_torch: bool, kernels: str = "auto") -> dict:
    """Name -> step function (torch variants only when asked and importable). "eager" and
    "compiled" run the readable primitive graph, every gate a node. The fused kernels take
    the path `kernels` chooses (see rnn.kernels.select); where that is numba, the NumPy path
    runs too, as "... numpy", so that both are measured in one run."""
    out = {}
    for dtype in (np.float32, np.float64):
        with select.use(kernels):
            path = select.fused_path(dtype)
        name = f"ours fused {np.dtype(dtype).name}"
        out[name] = ours(weights, dtype, fused=True, path=path)
        if path != "numpy":
            out[f"{name} numpy"] = ours(weights, dtype, fused=True, path="numpy")
    out.update({
        "ours eager float64": ours(weights, np.float64, fused=False),
        "ours compiled float64": ours(weights, np.float64, fused=False, compiled=True),
        "ours compiled float32": ours(weights, np.float32, fused=False, compiled=True),
        "numpy loop float64": numpy_loop(weights),
        "numpy stacked float64": numpy_loop_stacked(weights),
    })
    if use_torch:
        out["torch nn.LSTM float32"] = torch_lstm(weights, "float32")
        out["torch nn.LSTM float64"] = torch_lstm(weights, "float64")
        out["torch primitives float64"] = torch_primitives(weights)
        out["torch primitives float32"] = torch_primitives(weights, "float32")
    return out
