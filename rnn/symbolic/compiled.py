"""The closed forms compiled with `sympy.cse` + `sympy.lambdify` into NumPy step and BPTT functions.

Arrays are batches of row vectors: x_t (B, D), h_t and c_t (B, H), in the engine's layout: a
weight acting on z = [h_{t-1}, x_t] is (H + D, H) and the affine part is `z @ W + b`. Also
here: the traced per-unit forward over whole arrays (with optional leading stack axes) and
central finite differences over it.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from rnn.cells import cell_class
from rnn.symbolic.core import dh
from rnn.symbolic.derive import Derivation, derivation
from rnn.symbolic.trace import (
    Linear,
    cell_spec,
    source_delta,
    state_next_delta,
    state_out,
    state_prev,
)


def _sigmoid(x):
    # Stable for any x: exp of a non-positive number only.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


_MODULES = [{"sigmoid": _sigmoid, "relu": lambda x: np.maximum(x, 0.0)}, "numpy"]


def param_shapes(cell, H: int, D: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of `cell` with H hidden units and D inputs, in the
    engine's layout (matrices (rows, H))."""
    rows = {"hx": H + D, "x": D, "h": H}
    return {name: (H,) if kind is None else (rows[kind], H)
            for name, kind in cell_class(cell).PARAMS}


def init_params(cell, H: int, D: int, seed: int = 0, scale: float = 0.5) -> dict:
    """Random float64 parameters, N(0, scale²/fan_in) weights and N(0, 0.1²) biases."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in param_shapes(cell, H, D).items():
        std = scale / np.sqrt(shape[0]) if len(shape) == 2 else 0.1
        out[name] = rng.normal(0.0, std, shape)
    return out


def _concat(parts):
    """Concatenate along the last axis, broadcasting the leading (stack, batch) axes."""
    lead = np.broadcast_shapes(*(p.shape[:-1] for p in parts))
    return np.concatenate([np.broadcast_to(p, lead + p.shape[-1:]) for p in parts], axis=-1)


def _vector(p):
    # a (stacked) vector parameter (..., H) broadcasts over the batch axis
    return p[..., None, :] if p.ndim > 1 else p


class CompiledCell:
    """One cell's per-unit forward and closed-form backward, compiled for NumPy arrays."""

    def __init__(self, d: Derivation):
        self.derivation = d
        self.spec = d.spec
        self.forward_fns = []
        for node, expr in d.equations:
            args = sorted(expr.free_symbols, key=lambda s: s.name)
            self.forward_fns.append((node, args, sp.lambdify(args, expr, modules=_MODULES)))
        self.stages = self._stages(d)

    @staticmethod
    def _stages(d: Derivation) -> list:
        """Groups of per-unit deltas to evaluate in order. A delta that needs a source delta
        (MGU's δs_t, from the product that reads s_t) waits until every product reading it
        has run; the other cells need one stage. Each stage is one cse'd function."""
        spec, known = d.spec, set(d.upstream[: len(d.spec.states)])
        readers = {v: [lin.leaf for lin in spec.linear if v in lin.parts]
                   for v in spec.source_parts}
        pending, done, stages = list(d.inputs), set(), []
        while pending:
            ready = [v for v in pending if not (d.closed[v].free_symbols & set(d.upstream))
                     - known]
            if not ready:
                raise RuntimeError(f"{spec.name}: the backward deltas depend on each other "
                                   f"in a cycle ({pending})")
            exprs = [d.closed[v] for v in ready]
            args = sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name)
            stages.append((ready, args, sp.lambdify(args, exprs, modules=_MODULES, cse=True)))
            done.update(ready)
            pending = [v for v in pending if v not in done]
            known |= {source_delta(v) for v, leaves in readers.items() if set(leaves) <= done}
        return stages

    def _linear(self, lin: Linear, vals, params, x):
        parts = [x if p == "x" else vals[p] for p in lin.parts]
        src = parts[0] if len(parts) == 1 else _concat(parts)
        out = src @ params[lin.weight]
        return out if lin.bias is None else out + _vector(params[lin.bias])

    def step(self, params: dict, x, states: tuple):
        """One forward step from `states` (h_prev[, c_prev]): (new states, cache)."""
        spec = self.spec
        vals = {state_prev(s): v for s, v in zip(spec.states, states)}
        vals.update({p: _vector(params[p.name]) for p in spec.elementwise})
        linears, eqs = list(spec.linear), list(zip(spec.equations, self.forward_fns))
        while linears or eqs:  # each product and equation as soon as what it reads is there
            ready = [lin for lin in linears if all(p == "x" or p in vals for p in lin.parts)]
            for lin in ready:
                vals[lin.leaf] = self._linear(lin, vals, params, x)
                linears.remove(lin)
            done = [e for e in eqs if all(a in vals for a in e[1][1])]
            for item in done:
                (node, _), (_, args, fn) = item
                vals[node] = fn(*(vals[a] for a in args))
                eqs.remove(item)
            if not ready and not done:
                raise RuntimeError(f"{spec.name}: the forward reads a value never computed")
        srcs = {}
        for lin in spec.linear:
            parts = [x if p == "x" else vals[p] for p in lin.parts]
            srcs[lin.leaf] = parts[0] if len(parts) == 1 else _concat(parts)
        new = tuple(np.broadcast_to(v, np.broadcast_shapes(np.shape(v), np.shape(states[0])))
                    for v in (vals[state_out(s)] for s in spec.states))
        return new, (vals, srcs, np.shape(x))

    def backward_step(self, params: dict, cache, dh_t, dnext=()) -> dict:
        """Gradients of one step from the closed forms, given ∂L/∂h_t and the deltas of the
        other states from step t+1. Returns the parameter gradients of this step and "x",
        "h_prev" (and "c_prev")."""
        spec = self.spec
        vals, srcs, x_shape = cache
        vals = dict(vals)
        shape = dh_t.shape
        H = shape[1]
        vals[dh] = dh_t
        for s, d in zip(spec.states[1:], dnext or (None,) * (len(spec.states) - 1)):
            vals[state_next_delta(s)] = np.zeros(shape) if d is None else d
        for v in spec.source_parts:
            vals[source_delta(v)] = np.zeros(shape)
        grads, deltas = {}, {}
        d_prev = {s: np.zeros(shape) for s in spec.states}
        dx = 0.0
        by_leaf = {lin.leaf: lin for lin in spec.linear}
        for ready, args, fn in self.stages:
            outs = fn(*(vals[a] for a in args))
            for v, o in zip(ready, outs):
                deltas[v] = np.broadcast_to(np.asarray(o, dtype=dh_t.dtype), shape)
            for v in ready:  # the vector level: matrix products of the per-unit deltas
                lin = by_leaf.get(v)
                if lin is None:
                    continue
                d, W = deltas[v], params[lin.weight]
                grads[lin.weight] = srcs[v].T @ d
                if lin.bias is not None:
                    grads[lin.bias] = d.sum(axis=0)
                d_src, start = d @ W.T, 0
                D = W.shape[0] - H * sum(part != "x" for part in lin.parts)
                for part in lin.parts:
                    width = D if part == "x" else H
                    piece = d_src[:, start:start + width]
                    start += width
                    if part == "x":
                        dx = dx + piece
                    elif part in spec.source_parts:
                        vals[source_delta(part)] = vals[source_delta(part)] + piece
                    else:  # a previous state, read through the product
                        d_prev[part.name[: -len("_prev")]] += piece
        grads["x"] = dx + np.zeros(x_shape)
        for s in spec.states:
            direct = deltas.get(state_prev(s), 0.0)
            grads[f"{s}_prev"] = d_prev[s] + direct
        for p in spec.elementwise:
            grads[p.name] = deltas[p].sum(axis=0)
        return grads


def compiled(cell) -> CompiledCell:
    """The compiled cell `cell`, built once per process (per class)."""
    return _compiled(cell_class(cell))


@functools.cache
def _compiled(cls) -> CompiledCell:
    return CompiledCell(derivation(cls))


def _initial(cell, h0, c0):
    spec = cell_spec(cell)
    if not spec.has_cell_state:
        return (h0,)
    return h0, (np.zeros_like(h0) if c0 is None else c0)


def backward_step(cell, params: dict, x, h_prev, c_prev=None, dh=None,
                  dc_next=None) -> dict:
    """Gradients of one step of `cell` (forward recomputed); see `CompiledCell.backward_step`."""
    cc = compiled(cell)
    _, cache = cc.step(params, x, _initial(cell, h_prev, c_prev))
    dh = np.zeros_like(h_prev) if dh is None else dh
    return cc.backward_step(params, cache, dh, (dc_next,) if cc.spec.has_cell_state else ())


def lstm_backward_step(params: dict, x, h_prev, c_prev, dh, dc_next=None) -> dict:
    """One LSTM step's gradients from the closed forms (batch × units vectorised)."""
    return backward_step("lstm", params, x, h_prev, c_prev, dh, dc_next)


def forward(cell, params: dict, xs, h0, c0=None):
    """Run `cell` over xs (T, B, D), or stacked copies (..., T, B, D): (hs, caches)."""
    cc = compiled(cell)
    states, hs, caches = _initial(cell, h0, c0), [], []
    for t in range(xs.shape[-3]):
        states, cache = cc.step(params, xs[..., t, :, :], states)
        hs.append(states[0])
        caches.append(cache)
    return np.stack(hs, axis=-3), caches


def bptt(cell, params: dict, xs, h0, c0=None, dhs=None) -> dict:
    """Backpropagation through time from the compiled closed forms.

    The loss is L = Σ_t <dhs[t], h_t> (dhs = ∂L/∂h_t from outside the recurrence, (T, B, H)).
    Returns ∂L/∂ for every parameter name, "x" (T, B, D), "h0" and, with a cell state, "c0".
    """
    cc = compiled(cell)
    hs, caches = forward(cell, params, xs, h0, c0)
    dhs = np.zeros_like(hs) if dhs is None else dhs
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dxs = np.zeros_like(xs)
    dh_rec = np.zeros_like(h0)
    dnext = tuple(np.zeros_like(h0) for _ in cc.spec.states[1:])
    for t in reversed(range(len(xs))):
        step = cc.backward_step(params, caches[t], dhs[t] + dh_rec, dnext)
        for k in grads:
            grads[k] += step[k]
        dxs[t] = step["x"]
        dh_rec = step["h_prev"]
        dnext = tuple(step[f"{s}_prev"] for s in cc.spec.states[1:])
    grads["x"], grads["h0"] = dxs, dh_rec
    for s, d in zip(cc.spec.states[1:], dnext):
        grads[f"{s}0"] = d
    return grads


def reference_forward(cell, params: dict, xs, h0, c0=None):
    """The traced forward over xs (T, B, D), any leading stack axes allowed: hs (T, B, H)."""
    return forward(cell, params, xs, h0, c0)[0]


def reference_loss(cell, params: dict, xs, h0, c0, dhs):
    """L = Σ_t <dhs[t], h_t> with the traced forward (one value per stacked copy)."""
    hs = reference_forward(cell, params, xs, h0, c0)
    loss = np.sum(dhs * hs, axis=(-3, -2, -1))
    return float(loss) if np.ndim(loss) == 0 else loss


def finite_difference_grads(cell, params: dict, xs, h0, c0=None, dhs=None,
                            eps: float = 1e-6, chunk: int = 512) -> dict:
    """Central differences of `reference_loss`, keyed like `bptt`'s result.

    All +eps and -eps copies of one array (up to `chunk` at a time) run as one stacked
    forward pass; each copy computes exactly what the one-at-a-time loop would.
    """
    inputs = dict(params, x=xs, h0=h0)
    if cell_spec(cell).has_cell_state:
        inputs["c0"] = np.zeros_like(h0) if c0 is None else c0
    inputs = {k: np.array(v, dtype=np.float64) for k, v in inputs.items()}

    def losses(name, stacked):
        args = dict(inputs)
        args[name] = stacked
        p = {k: args[k] for k in params}
        return reference_loss(cell, p, args["x"], args["h0"], args.get("c0"), dhs)

    grads = {}
    for name, arr in inputs.items():
        n = arr.size
        gr = np.empty(n)
        for start in range(0, n, chunk):
            k = np.arange(start, min(n, start + chunk))
            stacked = np.repeat(arr.reshape(1, -1), 2 * len(k), axis=0)
            rows = np.arange(len(k))
            stacked[rows, k] += eps
            stacked[rows + len(k), k] -= eps
            out = losses(name, stacked.reshape((2 * len(k),) + arr.shape))
            gr[k] = (out[: len(k)] - out[len(k):]) / (2 * eps)
        grads[name] = gr.reshape(arr.shape)
    return grads


def random_problem(cell, H: int = 3, D: int = 2, B: int = 2, T: int = 3, seed: int = 0):
    """(params, xs, h0, c0, dhs): a random float64 problem for checking gradients."""
    rng = np.random.default_rng(seed + 1000)
    params = init_params(cell, H, D, seed=seed, scale=1.0)
    for name in params:  # nonzero biases and peepholes so every term matters
        if params[name].ndim == 1:
            params[name] = rng.normal(0.0, 0.5, params[name].shape)
    xs = rng.normal(size=(T, B, D))
    h0 = rng.normal(0.0, 0.5, (B, H))
    c0 = rng.normal(0.0, 0.5, (B, H)) if cell_spec(cell).has_cell_state else None
    dhs = rng.normal(size=(T, B, H))
    return params, xs, h0, c0, dhs


__all__ = [
    "CompiledCell", "backward_step", "bptt", "compiled", "finite_difference_grads",
    "forward", "init_params", "lstm_backward_step", "param_shapes", "random_problem",
    "reference_forward", "reference_loss",
]
