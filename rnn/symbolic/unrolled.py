"""The naive route, kept as an independent check: a whole cell over explicit matrices of symbols,
unrolled over a few steps, then `sympy.diff` of the scalar loss by every entry.

Fine for H <= 3; its cost grows so fast with H that the per-unit route is the one to use.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from rnn.symbolic.compiled import param_shapes
from rnn.symbolic.core import cell_spec


def _sig(v: sp.Matrix) -> sp.Matrix:
    # The plain exponential form: independent of the per-unit `sigmoid` and its derived rule.
    return v.applyfunc(lambda e: 1 / (1 + sp.exp(-e)))


def _tanh(v: sp.Matrix) -> sp.Matrix:
    return v.applyfunc(sp.tanh)


def _matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda r, k: sp.Symbol(f"{name}_{r}_{k}", real=True))


def _step(cell: str, P: dict, x: sp.Matrix, h: sp.Matrix, c: sp.Matrix | None):
    """One step in column-vector form: the cell's equations over whole vectors."""
    z = sp.Matrix.vstack(h, x)
    if cell == "rnn":
        return _tanh(P["W"] * z + P["b"]), None
    if cell == "gru":
        r = _sig(P["W_r"] * z + P["b_r"])
        u = _sig(P["W_z"] * z + P["b_z"])
        n = _tanh(P["W_nx"] * x + P["b_nx"] + r.multiply_elementwise(P["W_nh"] * h + P["b_nh"]))
        return (sp.ones(*u.shape) - u).multiply_elementwise(n) + u.multiply_elementwise(h), None
    peep = cell == "peephole"
    f = P["W_f"] * z + P["b_f"] + (P["p_f"].multiply_elementwise(c) if peep else sp.zeros(*c.shape))
    i = P["W_i"] * z + P["b_i"] + (P["p_i"].multiply_elementwise(c) if peep else sp.zeros(*c.shape))
    f, i = _sig(f), _sig(i)
    c_new = f.multiply_elementwise(c) + i.multiply_elementwise(_tanh(P["W_c"] * z + P["b_c"]))
    o = P["W_o"] * z + P["b_o"] + (P["p_o"].multiply_elementwise(c_new) if peep else 0 * c_new)
    return _sig(o).multiply_elementwise(_tanh(c_new)), c_new


@functools.cache
def unrolled(cell: str, H: int, D: int, T: int):
    """Symbols and ∂L/∂(every entry) for L = Σ_t dh_tᵀ h_t over T steps of explicit matrices.

    Returns (inputs, wrt, grads): inputs maps a name ("W_f", "x", "h0", "c0", "dh") to its
    symbol matrices, wrt lists the differentiated symbols, grads their derivatives.
    """
    shapes = param_shapes(cell, H, D)
    P = {k: _matrix(k, *(s if len(s) == 2 else (s[0], 1))) for k, s in shapes.items()}
    xs = [_matrix(f"x{t}", D, 1) for t in range(T)]
    dhs = [_matrix(f"dh{t}", H, 1) for t in range(T)]
    h0 = _matrix("h0", H, 1)
    has_c = cell_spec(cell).has_cell_state
    c0 = _matrix("c0", H, 1) if has_c else None
    h_t, c_t, loss = h0, c0, sp.Integer(0)
    for t in range(T):
        h_t, c_t = _step(cell, P, xs[t], h_t, c_t)
        loss += (dhs[t].T * h_t)[0, 0]
    inputs = dict(P, x=xs, h0=h0, dh=dhs)
    if has_c:
        inputs["c0"] = c0
    wrt = [s for k in list(P) + ["x", "h0", "c0"] if k in inputs for s in _flat(inputs[k])]
    return inputs, wrt, [sp.diff(loss, s) for s in wrt]


def _flat(m) -> list:
    if isinstance(m, list):
        return [s for part in m for s in _flat(part)]
    return list(m)  # a Matrix iterates row by row


@functools.cache
def _compiled(cell: str, H: int, D: int, T: int):
    inputs, wrt, grads = unrolled(cell, H, D, T)
    args = [s for k in inputs for s in _flat(inputs[k])]
    return inputs, wrt, sp.lambdify(args, grads, modules="numpy", cse=True)


def unrolled_gradients(cell: str, params: dict, xs, h0, c0=None, dhs=None) -> dict:
    """∂L/∂ everything from the unrolled vector derivation, keyed like `bptt`'s result."""
    T, B, D = xs.shape
    H = h0.shape[1]
    inputs, _, fn = _compiled(cell, H, D, T)
    out = {k: np.zeros_like(v) for k, v in params.items()}
    out["x"], out["h0"] = np.zeros_like(xs), np.zeros_like(h0)
    has_c = "c0" in inputs
    if has_c:
        c0 = np.zeros_like(h0) if c0 is None else c0
        out["c0"] = np.zeros_like(c0)
    for b in range(B):  # the symbolic loss is per example: sum over the batch
        values = dict(params, x=xs[:, b], h0=h0[b], dh=dhs[:, b])
        if has_c:
            values["c0"] = c0[b]
        args = [v for k in inputs for v in np.ravel(values[k])]
        flat = iter(fn(*args))
        for k in [k for k in list(params) + ["x", "h0", "c0"] if k in out]:
            target = out[k][:, b] if k == "x" else out[k][b] if k in ("h0", "c0") else out[k]
            target += np.reshape([next(flat) for _ in range(target.size)], target.shape)
    return out


def naive_route(cell: str = "lstm", H: int = 3, D: int = 2):
    """One step over explicit matrices, loss L = dhᵀh_t + dcᵀc_t expanded, `sympy.diff` by every
    parameter entry, then cse + lambdify: the route the per-unit derivation replaces.

    Returns (parameter symbols, other argument symbols, compiled gradient function).
    """
    shapes = param_shapes(cell, H, D)
    P = {k: _matrix(k, *(s if len(s) == 2 else (s[0], 1))) for k, s in shapes.items()}
    x, h0, dh = _matrix("x", D, 1), _matrix("h0", H, 1), _matrix("dh", H, 1)
    has_c = cell_spec(cell).has_cell_state
    c0, dc = (_matrix("c0", H, 1), _matrix("dc", H, 1)) if has_c else (None, None)
    h_t, c_t = _step(cell, P, x, h0, c0)
    loss = (dh.T * h_t)[0, 0] + ((dc.T * c_t)[0, 0] if has_c else 0)
    loss = sp.expand(loss)
    wrt = [s for k in P for s in P[k]]
    grads = [sp.diff(loss, s) for s in wrt]
    others = [s for m in (x, h0, c0, dh, dc) if m is not None for s in m]
    return wrt, others, sp.lambdify(wrt + others, grads, modules="numpy", cse=True)
