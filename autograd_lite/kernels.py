"""NumPy kernels that need care: stable sigmoid/softmax/logsumexp, un-broadcasting, scatter.

Plain functions on ndarrays; the op table uses them as forwards and the NumPy backend as
helpers. `total_norm` is the global gradient norm used for clipping.
"""

from __future__ import annotations

import math
import types

import numpy as np

# exp(x) is never taken below this floor: the result is then ~1e-130 (float64) or ~4e-18
# (float32) instead of an underflow, so extreme logits raise no FloatingPointError even
# under np.errstate(all="raise"). The error this makes is far below any tolerance.
_EXP_FLOOR = {np.dtype(np.float64): -300.0, np.dtype(np.float32): -40.0,
              np.dtype(np.float16): -8.0}


# np.clip's own ufunc, without the Python layers np.clip goes through (3 us a call, a third
# of a sigmoid on a 32 x 128 block); np.clip itself where NumPy keeps it elsewhere.
_clip = getattr(getattr(getattr(np, "_core", None), "umath", None), "clip", None) or np.clip


def exp_floor(dtype) -> float:
    """The smallest argument `exp` is taken at for `dtype` (see `_EXP_FLOOR`)."""
    return _EXP_FLOOR.get(dtype, -300.0)


def sigmoid(x, out=None):
    """1 / (1 + e^-x), finite at any input (into `out` when given; it may be `x` itself)."""
    lim = -exp_floor(x.dtype)
    if out is None:
        out = np.empty(np.shape(x), x.dtype)  # (np.clip of a 0-d array gives a scalar)
    _clip(x, -lim, lim, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.add(1.0, out, out=out)
    return np.divide(1.0, out, out=out)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`, shifted by the maximum."""
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(np.maximum(z, exp_floor(x.dtype)))
    return e / e.sum(axis=axis, keepdims=True)


def logsumexp(x, axis=-1, keepdims=False):
    """log(sum(exp(x))) along `axis`, shifted by the maximum."""
    m = x.max(axis=axis, keepdims=True)
    s = np.exp(np.maximum(x - m, exp_floor(x.dtype))).sum(axis=axis, keepdims=True)
    out = m + np.log(s)
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis`."""
    return x - logsumexp(x, axis=axis, keepdims=True)


def sum_to(x, shape):
    """Sum `x` down to `shape` (the inverse of broadcasting)."""
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1
    )
    return x.sum(axis=axes, keepdims=True).reshape(shape) if axes else x.reshape(shape)


def _is_basic_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice, types.EllipsisType)) or i is None
               for i in items)


def scatter(g, shape, index):
    """Zeros of `shape` with `g` added at `index` (the VJP of indexing)."""
    z = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        z[index] = g
    else:
        np.add.at(z, index, g)  # repeated ids add up
    return z


def _check_ids(name, what, ids, n) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        # (a ShapeError: the engine's errors module cannot be imported here without a cycle;
        # `apply` re-raises ValueErrors from a forward as ShapeErrors naming the inputs)
        raise IndexError(f"{name}: {what} must lie in [0, {n}), got [{ids.min()}, {ids.max()}]")


def embedding(w, ids):
    """Rows of `w` picked by integer `ids` (checked to lie in range: negative ids would wrap)."""
    _check_ids("embedding", "ids", ids, w.shape[0])
    return w[ids]


def pick_index(targets):
    """The index that picks a[..., targets] from an array a of shape targets.shape + (C,)."""
    return (*np.indices(targets.shape, sparse=True), targets)


def pick(a, targets):
    """For each row of `a` (..., C), the entry its integer target (...) names."""
    _check_ids("pick", "targets", targets, a.shape[-1])
    return a[pick_index(targets)]


def total_norm(arrays) -> float:
    """The global L2 norm of a list of arrays (float64 accumulation); finite whenever the
    entries and the norm are, even when their squares overflow (past ~1e154)."""
    arrays = [np.asarray(a, dtype=np.complex128 if np.iscomplexobj(a) else np.float64)
              for a in arrays]
    total = 0.0
    for a in arrays:
        total += float(np.vdot(a, a).real)  # float32 squares would overflow past ~1e19
    if math.isinf(total):  # the squares overflowed: rescale by the largest magnitude
        big = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
        if math.isfinite(big):
            return big * total_norm([a / big for a in arrays])
    return math.sqrt(total)
