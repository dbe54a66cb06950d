"""The naive route, kept as an independent check: a whole cell over explicit matrices of symbols,
unrolled over a few steps, then `sympy.diff` of the scalar loss by every entry.

The cell's traced equations are applied to every unit of row vectors, its products are
explicit matrix products, and sigmoid is written out as 1 / (1 + e^-x), so nothing of the
per-unit route (its derived σ', its chain rule) is reused. Fine for H <= 3; its cost grows so
fast with H that the per-unit route is the one to use.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from rnn.symbolic.compiled import param_shapes
from rnn.symbolic.core import sigmoid
from rnn.symbolic.trace import cell_spec, state_out, state_prev


def _matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda r, k: sp.Symbol(f"{name}_{r}_{k}", real=True))


def _plain(expr: sp.Expr) -> sp.Expr:
    # The plain exponential form: independent of the per-unit `sigmoid` and its derived rule.
    return expr.replace(sigmoid, lambda e: 1 / (1 + sp.exp(-e)))


def _step(cell, P: dict, x: sp.Matrix, states: list) -> list:
    """One step over row vectors (1, H): the cell's equations for every unit at once."""
    spec = cell_spec(cell)
    H = states[0].shape[1]
    vals = {state_prev(s): v for s, v in zip(spec.states, states)}
    vals.update({p: P[p.name] for p in spec.elementwise})
    linears, eqs = list(spec.linear), list(spec.equations)
    while linears or eqs:
        ready = [lin for lin in linears if all(p == "x" or p in vals for p in lin.parts)]
        for lin in ready:
            src = sp.Matrix.hstack(*(x if p == "x" else vals[p] for p in lin.parts))
            vals[lin.leaf] = src * P[lin.weight] + (P[lin.bias] if lin.bias else sp.zeros(1, H))
            linears.remove(lin)
        done = [e for e in eqs if e[1].free_symbols <= set(vals)]
        for item in done:
            node, plain = item[0], _plain(item[1])
            vals[node] = sp.Matrix(1, H, lambda _, u: plain.xreplace(
                {a: vals[a][0, u] for a in plain.free_symbols}))
            eqs.remove(item)
        if not ready and not done:
            raise RuntimeError(f"{spec.name}: the forward reads a value never computed")
    return [vals[state_out(s)] for s in spec.states]


@functools.cache
def unrolled(cell, H: int, D: int, T: int):
    """Symbols and ∂L/∂(every entry) for L = Σ_t dh_t · h_t over T steps of explicit matrices.

    Returns (inputs, wrt, grads): inputs maps a name ("W_f", "x", "h0", "c0", "dh") to its
    symbol matrices, wrt lists the differentiated symbols, grads their derivatives.
    """
    spec = cell_spec(cell)
    shapes = param_shapes(cell, H, D)
    P = {k: _matrix(k, *(s if len(s) == 2 else (1, s[0]))) for k, s in shapes.items()}
    xs = [_matrix(f"x{t}", 1, D) for t in range(T)]
    dhs = [_matrix(f"dh{t}", 1, H) for t in range(T)]
    starts = {f"{s}0": _matrix(f"{s}0", 1, H) for s in spec.states}
    states, loss = list(starts.values()), sp.Integer(0)
    for t in range(T):
        states = _step(cell, P, xs[t], states)
        loss += (dhs[t] * states[0].T)[0, 0]
    inputs = dict(P, x=xs, **starts, dh=dhs)
    wrt = [s for k in [*P, "x", *starts] for s in _flat(inputs[k])]
    return inputs, wrt, [sp.diff(loss, s) for s in wrt]


def _flat(m) -> list:
    if isinstance(m, list):
        return [s for part in m for s in _flat(part)]
    return list(m)  # a Matrix iterates row by row


@functools.cache
def _compiled(cell, H: int, D: int, T: int):
    inputs, wrt, grads = unrolled(cell, H, D, T)
    args = [s for k in inputs for s in _flat(inputs[k])]
    return inputs, wrt, sp.lambdify(args, grads, modules="numpy", cse=True)


def unrolled_gradients(cell, params: dict, xs, h0, c0=None, dhs=None) -> dict:
    """∂L/∂ everything from the unrolled vector derivation, keyed like `bptt`'s result."""
    T, B, D = xs.shape
    H = h0.shape[1]
    inputs, _, fn = _compiled(cell, H, D, T)
    starts = {"h0": h0}
    if "c0" in inputs:
        starts["c0"] = np.zeros_like(h0) if c0 is None else c0
    out = {k: np.zeros_like(v) for k, v in params.items()}
    out["x"] = np.zeros_like(xs)
    out.update({k: np.zeros_like(v) for k, v in starts.items()})
    for b in range(B):  # the symbolic loss is per example: sum over the batch
        values = dict(params, x=xs[:, b], dh=dhs[:, b], **{k: v[b] for k, v in starts.items()})
        args = [v for k in inputs for v in np.ravel(values[k])]
        flat = iter(fn(*args))
        for k in [*params, "x", *starts]:
            target = out[k][:, b] if k == "x" else out[k][b] if k in starts else out[k]
            target += np.reshape([next(flat) for _ in range(target.size)], target.shape)
    return out


def naive_route(cell="lstm", H: int = 3, D: int = 2):
    """One step over explicit matrices, loss L = dh·h_t + dc·c_t expanded, `sympy.diff` by every
    parameter entry, then cse + lambdify: the route the per-unit derivation replaces.

    Returns (parameter symbols, other argument symbols, compiled gradient function).
    """
    spec = cell_spec(cell)
    shapes = param_shapes(cell, H, D)
    P = {k: _matrix(k, *(s if len(s) == 2 else (1, s[0]))) for k, s in shapes.items()}
    x = _matrix("x", 1, D)
    starts = [_matrix(f"{s}0", 1, H) for s in spec.states]
    ups = [_matrix(f"d{s}", 1, H) for s in spec.states]
    news = _step(cell, P, x, starts)
    loss = sp.expand(sum((u * n.T)[0, 0] for u, n in zip(ups, news)))
    wrt = [s for k in P for s in P[k]]
    grads = [sp.diff(loss, s) for s in wrt]
    others = [s for m in (x, *starts, *ups) for s in m]
    return wrt, others, sp.lambdify(wrt + others, grads, modules="numpy", cse=True)
