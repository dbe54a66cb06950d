"""The closed forms compiled with `sympy.cse` + `sympy.lambdify` into NumPy step and BPTT functions.

Arrays are batches of row vectors: x_t (B, D), h_t and c_t (B, H); a weight acting on
z = [h_{t-1}, x_t] is (H, H+D) and the affine part is `z @ W.T + b`. Also here: a plain NumPy
reference forward for each cell and central finite differences over it.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from rnn.symbolic.core import (
    CELL_NAMES,
    Derivation,
    c,
    c_prev,
    cell_spec,
    dc_next,
    derivation,
    dh,
    h,
    h_prev,
)


def _sigmoid(x):
    # Stable for any x: exp of a non-positive number only.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


_MODULES = [{"sigmoid": _sigmoid}, "numpy"]


def param_shapes(cell: str, H: int, D: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of `cell` with H hidden units and D inputs."""
    spec = cell_spec(cell)
    width = {"z": H + D, "x": D, "h": H}
    shapes = {}
    for lin in spec.linear:
        shapes[lin.weight] = (H, width[lin.source])
        shapes[lin.bias] = (H,)
    shapes.update({p.name: (H,) for p in spec.elementwise})
    return shapes


def init_params(cell: str, H: int, D: int, seed: int = 0, scale: float = 0.5) -> dict:
    """Random float64 parameters, N(0, scale²/fan_in) weights and N(0, 0.1²) biases."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in param_shapes(cell, H, D).items():
        std = scale / np.sqrt(shape[1]) if len(shape) == 2 else 0.1
        out[name] = rng.normal(0.0, std, shape)
    return out


class CompiledCell:
    """One cell's per-unit forward and closed-form backward, compiled for NumPy arrays."""

    def __init__(self, d: Derivation):
        self.derivation = d
        self.spec = d.spec
        self.forward_fns = []
        for node, expr in d.equations:
            args = sorted(expr.free_symbols, key=lambda s: s.name)
            self.forward_fns.append((node, args, sp.lambdify(args, expr, modules=_MODULES)))
        exprs = [d.closed[v] for v in d.inputs]
        self.backward_args = sorted(set().union(*(e.free_symbols for e in exprs)),
                                    key=lambda s: s.name)
        # One function for every per-unit delta; cse shares the common factors (δc_t, ...).
        self.backward_fn = sp.lambdify(self.backward_args, exprs, modules=_MODULES, cse=True)

    def step(self, params: dict, x, h_in, c_in=None):
        """One forward step: (h_t, c_t or None, cache for `backward_step`)."""
        spec = self.spec
        src = {"x": x, "h": h_in, "z": np.concatenate([h_in, x], axis=1)}
        vals = {h_prev: h_in}
        if spec.has_cell_state:
            vals[c_prev] = np.zeros_like(h_in) if c_in is None else c_in
        for lin in spec.linear:
            vals[lin.leaf] = src[lin.source] @ params[lin.weight].T + params[lin.bias]
        for p in spec.elementwise:
            vals[p] = params[p.name]
        for node, args, fn in self.forward_fns:
            vals[node] = fn(*(vals[s] for s in args))
        return vals[h], vals.get(c), (vals, src)

    def backward_step(self, params: dict, cache, dh_t, dc_t=None) -> dict:
        """Gradients of one step from the closed forms, given ∂L/∂h_t and ∂L/∂c_t from t+1.

        Returns the parameter gradients of this step and "x", "h_prev" (and "c_prev").
        """
        spec = self.spec
        vals, src = cache
        vals = dict(vals)
        vals[dh] = dh_t
        vals[dc_next] = np.zeros_like(dh_t) if dc_t is None else dc_t
        shape = dh_t.shape
        outs = self.backward_fn(*(vals[s] for s in self.backward_args))
        deltas = {v: np.broadcast_to(np.asarray(o, dtype=dh_t.dtype), shape)
                  for v, o in zip(self.derivation.inputs, outs)}
        grads, d_src = {}, {"z": 0.0, "x": 0.0, "h": 0.0}
        for lin in spec.linear:  # the vector level: matrix products of per-unit deltas
            d = deltas[lin.leaf]
            grads[lin.weight] = d.T @ src[lin.source]
            grads[lin.bias] = d.sum(axis=0)
            d_src[lin.source] = d_src[lin.source] + d @ params[lin.weight]
        H = shape[1]
        dz = np.broadcast_to(d_src["z"], src["z"].shape)
        grads["x"] = dz[:, H:] + d_src["x"]
        grads["h_prev"] = dz[:, :H] + d_src["h"] + deltas.get(h_prev, 0.0)
        if spec.has_cell_state:
            grads["c_prev"] = np.array(deltas[c_prev])
        for p in spec.elementwise:
            grads[p.name] = deltas[p].sum(axis=0)
        return grads


@functools.cache
def compiled(cell: str) -> CompiledCell:
    """The compiled cell `cell`, built once per process."""
    return CompiledCell(derivation(cell))


def backward_step(cell: str, params: dict, x, h_prev, c_prev=None, dh=None,
                  dc_next=None) -> dict:
    """Gradients of one step of `cell` (forward recomputed); see `CompiledCell.backward_step`."""
    cc = compiled(cell)
    _, _, cache = cc.step(params, x, h_prev, c_prev)
    return cc.backward_step(params, cache, np.zeros_like(h_prev) if dh is None else dh, dc_next)


def lstm_backward_step(params: dict, x, h_prev, c_prev, dh, dc_next=None) -> dict:
    """One LSTM step's gradients from the closed forms (batch × units vectorised)."""
    return backward_step("lstm", params, x, h_prev, c_prev, dh, dc_next)


def forward(cell: str, params: dict, xs, h0, c0=None):
    """Run `cell` over xs (T, B, D): (hs (T, B, H), caches)."""
    cc = compiled(cell)
    hs, caches, h_t, c_t = [], [], h0, c0
    for x in xs:
        h_t, c_t, cache = cc.step(params, x, h_t, c_t)
        hs.append(h_t)
        caches.append(cache)
    return np.stack(hs), caches


def bptt(cell: str, params: dict, xs, h0, c0=None, dhs=None) -> dict:
    """Backpropagation through time from the compiled closed forms.

    The loss is L = Σ_t <dhs[t], h_t> (dhs = ∂L/∂h_t from outside the recurrence, (T, B, H)).
    Returns ∂L/∂ for every parameter name, "x" (T, B, D), "h0" and, with a cell state, "c0".
    """
    cc = compiled(cell)
    if cc.spec.has_cell_state and c0 is None:
        c0 = np.zeros_like(h0)
    hs, caches = forward(cell, params, xs, h0, c0)
    dhs = np.zeros_like(hs) if dhs is None else dhs
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dxs = np.zeros_like(xs)
    dh_rec, dc_rec = np.zeros_like(h0), (np.zeros_like(h0) if cc.spec.has_cell_state else None)
    for t in reversed(range(len(xs))):
        step = cc.backward_step(params, caches[t], dhs[t] + dh_rec, dc_rec)
        for k in grads:
            grads[k] += step[k]
        dxs[t] = step["x"]
        dh_rec, dc_rec = step["h_prev"], step.get("c_prev")
    grads["x"], grads["h0"] = dxs, dh_rec
    if cc.spec.has_cell_state:
        grads["c0"] = dc_rec
    return grads


# ------------------------------------------------------------------------------------------
# Plain NumPy reference: the equations line by line, and finite differences over them
# ------------------------------------------------------------------------------------------


# Every function below also takes a leading stack axis K on any argument (weights (K, H, Z),
# vectors (K, 1, H), x (K, T, B, D), states (K, B, H)), so finite differences can run all
# perturbed copies of one array in a single forward pass.


def _matmul_t(v, W):
    return v @ np.swapaxes(W, -1, -2)  # v W^T, with or without a stack axis


def _cat(h_prev, x):
    lead = np.broadcast_shapes(h_prev.shape[:-1], x.shape[:-1])
    return np.concatenate([np.broadcast_to(h_prev, lead + h_prev.shape[-1:]),
                           np.broadcast_to(x, lead + x.shape[-1:])], axis=-1)


def _affine(p, name, v):
    return _matmul_t(v, p["W_" + name]) + p["b_" + name]


def _rnn_step(p, x, h_prev, c_prev):
    z = _cat(h_prev, x)
    return np.tanh(_matmul_t(z, p["W"]) + p["b"]), None


def _lstm_step(p, x, h_prev, c_prev, peephole=False):
    z = _cat(h_prev, x)
    pf, pi, po = (p["p_f"], p["p_i"], p["p_o"]) if peephole else (0.0, 0.0, 0.0)
    f = _sigmoid(_affine(p, "f", z) + pf * c_prev)
    i = _sigmoid(_affine(p, "i", z) + pi * c_prev)
    c_tilde = np.tanh(_affine(p, "c", z))
    c_t = f * c_prev + i * c_tilde
    o = _sigmoid(_affine(p, "o", z) + po * c_t)  # the output peephole sees the new cell
    return o * np.tanh(c_t), c_t


def _gru_step(p, x, h_prev, c_prev):
    z = _cat(h_prev, x)
    r = _sigmoid(_affine(p, "r", z))
    u = _sigmoid(_affine(p, "z", z))
    n = np.tanh(_affine(p, "nx", x) + r * _affine(p, "nh", h_prev))
    return (1 - u) * n + u * h_prev, None


REFERENCE_STEPS = {
    "rnn": _rnn_step,
    "lstm": _lstm_step,
    "gru": _gru_step,
    "peephole": functools.partial(_lstm_step, peephole=True),
}


def reference_forward(cell: str, params: dict, xs, h0, c0=None):
    """Plain NumPy forward over xs (T, B, D): hs (T, B, H)."""
    step = REFERENCE_STEPS[cell]
    h_t, c_t = h0, (np.zeros_like(h0) if c0 is None else c0)
    hs = []
    for t in range(xs.shape[-3]):
        h_t, c_t = step(params, xs[..., t, :, :], h_t, c_t)
        hs.append(h_t)
    return np.stack(hs, axis=-3)


def reference_loss(cell: str, params: dict, xs, h0, c0, dhs):
    """L = Σ_t <dhs[t], h_t> with the plain NumPy forward (one value per stacked copy)."""
    hs = reference_forward(cell, params, xs, h0, c0)
    loss = np.sum(dhs * hs, axis=(-3, -2, -1))
    return float(loss) if np.ndim(loss) == 0 else loss


def finite_difference_grads(cell: str, params: dict, xs, h0, c0=None, dhs=None,
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
        # a stacked vector parameter (K, H) needs a batch axis: (K, 1, H)
        args[name] = stacked[:, None, :] if inputs[name].ndim == 1 else stacked
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


def random_problem(cell: str, H: int = 3, D: int = 2, B: int = 2, T: int = 3, seed: int = 0):
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
    "CELL_NAMES", "CompiledCell", "backward_step", "bptt", "compiled", "finite_difference_grads",
    "forward", "init_params", "lstm_backward_step", "param_shapes", "random_problem",
    "reference_forward", "reference_loss",
]
