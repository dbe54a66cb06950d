"""The op table: every primitive's forward and its vector-Jacobian product, side by side.

A VJP rule is `vjp(B, g, out, *inputs, **attrs) -> tuple aligned with inputs` (None = no
gradient). `B` is a backend: NumPy arrays for an ordinary backward pass, or the engine's
own ops when the backward pass is itself recorded (`create_graph=True`, `grad(grad(f))`).
Broadcasting is undone once, centrally, in `tensor.backprop`, never inside a rule.
"""

from __future__ import annotations

import types

import numpy as np

from autograd_lite.tensor import (
    AnomalyError,
    ShapeError,
    Tensor,
    _leaf,
    _next_seq,
    _state,
    as_tensor,
    describe,
)


class Op:
    """A primitive: a name, a NumPy forward and a VJP rule.

    With `saves=True` the forward returns `(out, saved)` and the rule receives `saved=`;
    such ops (the fused RNN kernels) have a hand-written backward in NumPy only, so they
    cannot be differentiated twice (`higher_order=False`).
    """

    __slots__ = ("name", "forward", "vjp", "saves", "higher_order")

    def __init__(self, name, forward, vjp, saves=False, higher_order=True):
        self.name, self.forward, self.vjp = name, forward, vjp
        self.saves, self.higher_order = saves, higher_order

    def __repr__(self):
        return f"Op({self.name!r})"


OPS: dict[str, Op] = {}


def defop(name, forward, vjp, saves=False, higher_order=None) -> Op:
    """Register a primitive in the op table and return it."""
    op = Op(name, forward, vjp, saves, (not saves) if higher_order is None else higher_order)
    OPS[name] = op
    return op


# ------------------------------------------------------------------------------------------
# Applying an op: the one place where graph nodes are made
# ------------------------------------------------------------------------------------------


def _shape_error(op, inputs, exc) -> ShapeError:
    names = ", ".join(describe(t) for t in inputs)
    return ShapeError(f"{op.name}: inputs do not fit: {names} ({exc})")


def _node(op, out, parents, attrs=None, saved=None) -> Tensor:
    if type(out) is not np.ndarray:  # ufuncs on 0-d arrays return NumPy scalars
        out = np.asarray(out)
    t = Tensor.__new__(Tensor)
    out.setflags(write=False)  # (setflags: a third faster than flags.writeable = False)
    t.data = out
    t.grad = None
    t.label = None
    t.is_parameter = False
    t._seq = _next_seq()
    needs_grad = False
    if _state["grad"]:
        for p in parents:
            if p.requires_grad:
                needs_grad = True
                break
    if needs_grad:
        t.requires_grad = True
        t._op, t._parents, t._attrs, t._saved = op, parents, attrs, saved
        t._inputs = [p.data for p in parents]
    else:
        t.requires_grad = False
        t._op, t._parents, t._attrs, t._saved = None, (), None, None
        t._inputs = None
    if _state["anomaly"] and not np.all(np.isfinite(out)):
        # The new node has no label yet: name the op and the inputs it was given.
        bad = "NaN" if np.any(np.isnan(out)) else "Inf"
        names = ", ".join(describe(p) for p in parents)
        raise AnomalyError(f"{bad} in the output of {op.name} (inputs {names})")
    return t


def apply(op: Op, *inputs, **attrs) -> Tensor:
    """Run `op` on tensors (or array-likes) and record the result in the graph."""
    tensors = tuple(as_tensor(x) for x in inputs)
    try:
        out = op.forward(*[t.data for t in tensors], **attrs)
    except ValueError as exc:
        raise _shape_error(op, tensors, exc) from None
    saved = None
    if op.saves:
        out, saved = out
    return _node(op, out, tensors, attrs or None, saved)


def _binary(op, a, b) -> Tensor:
    # The hot path of every +, -, *, /: no **attrs, one try, one node.
    if not isinstance(a, Tensor):  # (isinstance: a Parameter is a Tensor too)
        a = as_tensor(a, b.data.dtype)
    elif not isinstance(b, Tensor):
        b = as_tensor(b, a.data.dtype)
    try:
        out = op.forward(a.data, b.data)
    except ValueError as exc:
        raise _shape_error(op, (a, b), exc) from None
    return _node(op, out, (a, b))


def _float_input(op, x) -> Tensor:
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        raise TypeError(
            f"{op.name}: needs a floating-point input, got {describe(x)} of dtype {x.dtype}"
        )
    return x


def _unary(op, x) -> Tensor:
    x = _float_input(op, x)
    return _node(op, op.forward(x.data), (x,))


# ------------------------------------------------------------------------------------------
# Numerically safe helpers
# ------------------------------------------------------------------------------------------

# exp(x) is never taken below this floor: the result is then ~1e-130 (float64) or ~4e-18
# (float32) instead of an underflow, so extreme logits raise no FloatingPointError even
# under np.errstate(all="raise"). The error this makes is far below any tolerance.
_EXP_FLOOR = {np.dtype(np.float64): -300.0, np.dtype(np.float32): -40.0,
              np.dtype(np.float16): -8.0}


def _floor(dtype) -> float:
    return _EXP_FLOOR.get(dtype, -300.0)


def _sigmoid(x):
    lim = -_floor(x.dtype)
    return 1.0 / (1.0 + np.exp(-np.clip(x, -lim, lim)))


def _softmax(x, axis=-1):
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(np.maximum(z, _floor(x.dtype)))
    return e / e.sum(axis=axis, keepdims=True)


def _logsumexp(x, axis=-1, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    s = np.exp(np.maximum(x - m, _floor(x.dtype))).sum(axis=axis, keepdims=True)
    out = m + np.log(s)
    return out if keepdims else np.squeeze(out, axis=axis)


def _log_softmax(x, axis=-1):
    return x - _logsumexp(x, axis=axis, keepdims=True)


def _sum_to(x, shape):
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


def _scatter(g, shape, index):
    """Zeros of `shape` with `g` added at `index` (the VJP of indexing)."""
    z = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        z[index] = g
    else:
        np.add.at(z, index, g)  # repeated ids add up
    return z


def _keep_axes(g, shape, axis, keepdims):
    # Reshape a reduced gradient so it broadcasts against the input's shape.
    if keepdims or axis is None and g.ndim == len(shape):
        return g
    if axis is None:
        return g.reshape((1,) * len(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    axes = {a % len(shape) for a in axes}
    return g.reshape(tuple(1 if i in axes else s for i, s in enumerate(shape)))


def _axis_size(shape, axis) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


# ------------------------------------------------------------------------------------------
# The table: forward and VJP of each primitive
# ------------------------------------------------------------------------------------------

ADD = defop("add", np.add, lambda B, g, out, a, b: (g, g))
SUB = defop("sub", np.subtract, lambda B, g, out, a, b: (g, -g))
MUL = defop("mul", np.multiply, lambda B, g, out, a, b: (g * b, g * a))
DIV = defop("div", np.divide, lambda B, g, out, a, b: (g / b, -g * out / b))
NEG = defop("neg", np.negative, lambda B, g, out, a: (-g,))
# a ** p for a constant exponent p; a ** b with a tensor exponent differentiates both.
POW_CONST = defop("pow", lambda a, p: np.power(a, p),
                  lambda B, g, out, a, p: (g * p * a ** (p - 1),))
POW = defop("pow_tensor", np.power,
            lambda B, g, out, a, b: (g * b * a ** (b - 1),
                                     g * out * B.log(B.where(B.raw(a) > 0, a, 1.0))))
EXP = defop("exp", np.exp, lambda B, g, out, a: (g * out,))
LOG = defop("log", np.log, lambda B, g, out, a: (g / a,))
# Activations are differentiated through their output, as papers write them.
SIGMOID = defop("sigmoid", _sigmoid, lambda B, g, out, a: (g * out * (1 - out),))
TANH = defop("tanh", np.tanh, lambda B, g, out, a: (g * (1 - out * out),))
RELU = defop("relu", lambda a: np.maximum(a, 0), lambda B, g, out, a: (g * (B.raw(a) > 0),))


def _matmul_vjp(B, g, out, a, b):
    if a.ndim >= 2 and b.ndim >= 2:  # central sum_to folds broadcast batch dims
        return g @ B.mT(b), B.mT(a) @ g
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    if a.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
        g2 = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        ga = B.sum_to(g2 @ B.mT(b), (1, a.shape[0])).reshape(a.shape)
        return ga, a.reshape((a.shape[0], 1)) @ g2
    g2 = g.reshape(g.shape + (1,))  # (..., m, k) @ (k,) -> (..., m)
    gb = B.sum_to(B.mT(a) @ g2, (b.shape[0], 1)).reshape(b.shape)
    return g2 @ b.reshape((1, b.shape[0])), gb


MATMUL = defop("matmul", np.matmul, _matmul_vjp)
SUM = defop("sum", lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims),
            lambda B, g, out, a, axis=None, keepdims=False:
            (B.broadcast_to(_keep_axes(g, a.shape, axis, keepdims), a.shape),))
MEAN = defop("mean",
             lambda a, axis=None, keepdims=False: np.mean(a, axis=axis, keepdims=keepdims),
             lambda B, g, out, a, axis=None, keepdims=False:
             (B.broadcast_to(_keep_axes(g, a.shape, axis, keepdims)
                             / _axis_size(a.shape, axis), a.shape),))


def _max_vjp(B, g, out, a, axis=None, keepdims=False):
    # Ties share the gradient equally.
    mask = B.raw(a) == _keep_axes(B.raw(out), a.shape, axis, keepdims)
    mask = mask / mask.sum(axis=axis, keepdims=True)
    return (_keep_axes(g, a.shape, axis, keepdims) * mask.astype(B.raw(a).dtype),)


MAX = defop("max", lambda a, axis=None, keepdims=False: np.max(a, axis=axis, keepdims=keepdims),
            _max_vjp)
RESHAPE = defop("reshape", lambda a, shape: np.reshape(a, shape),
                lambda B, g, out, a, shape: (g.reshape(a.shape),))
TRANSPOSE = defop(
    "transpose", lambda a, axes=None: np.transpose(a, axes),
    lambda B, g, out, a, axes=None:
    (g.transpose(None if axes is None else tuple(np.argsort(axes))),))
GETITEM = defop("getitem", lambda a, index: a[index],
                lambda B, g, out, a, index: (B.scatter(g, a.shape, index),))
SCATTER = defop("scatter", lambda g, shape, index: _scatter(g, shape, index),
                lambda B, g, out, a, shape, index: (g[index],))
EMBEDDING = defop("embedding", lambda w, ids: w[ids],
                  lambda B, g, out, w, ids: (B.scatter(g, w.shape, B.raw(ids)), None))
# broadcast_to's VJP is the identity: the central un-broadcast sums g back down.
BROADCAST = defop("broadcast_to", lambda a, shape: np.broadcast_to(a, shape),
                  lambda B, g, out, a, shape: (g,))
SUM_TO = defop("sum_to", _sum_to, lambda B, g, out, a, shape: (B.broadcast_to(g, a.shape),))
ASTYPE = defop("astype", lambda a, dtype: a.astype(dtype),
               lambda B, g, out, a, dtype: (B.astype(g, a.dtype),))


def _concat_vjp(B, g, out, *xs, axis=0):
    ends = np.cumsum([x.shape[axis] for x in xs])
    lead = (slice(None),) * (axis % g.ndim)
    return tuple(g[lead + (slice(e - x.shape[axis], e),)] for x, e in zip(xs, ends))


def _stack_vjp(B, g, out, *xs, axis=0):
    lead = (slice(None),) * (axis % g.ndim)
    return tuple(g[lead + (i,)] for i in range(len(xs)))


CONCAT = defop("concat", lambda *xs, axis=0: np.concatenate(xs, axis=axis), _concat_vjp)
STACK = defop("stack", lambda *xs, axis=0: np.stack(xs, axis=axis), _stack_vjp)
WHERE = defop("where", lambda a, b, cond: np.where(cond, a, b),
              lambda B, g, out, a, b, cond: (B.where(cond, g, 0.0), B.where(cond, 0.0, g)))
SOFTMAX = defop("softmax", _softmax,
                lambda B, g, out, a, axis=-1: (out * (g - (g * out).sum(axis, keepdims=True)),))
LOG_SOFTMAX = defop(
    "log_softmax", _log_softmax,
    lambda B, g, out, a, axis=-1: (g - B.softmax(a, axis) * g.sum(axis, keepdims=True),))
LOGSUMEXP = defop(
    "logsumexp", _logsumexp,
    lambda B, g, out, a, axis=-1, keepdims=False:
    (_keep_axes(g, a.shape, axis, keepdims) * B.softmax(a, axis),))


# ------------------------------------------------------------------------------------------
# Public functions (module level) over the table
# ------------------------------------------------------------------------------------------


def add(a, b):
    """a + b, broadcasting."""
    return _binary(ADD, a, b)


def sub(a, b):
    """a - b, broadcasting."""
    return _binary(SUB, a, b)


def mul(a, b):
    """Pointwise a * b, broadcasting."""
    return _binary(MUL, a, b)


def div(a, b):
    """a / b, broadcasting."""
    return _binary(DIV, a, b)


def neg(a):
    """-a."""
    a = as_tensor(a)
    return _node(NEG, np.negative(a.data), (a,))


def power(a, b):
    """a ** b; a constant exponent stays an attribute of the node."""
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        a = _float_input(POW_CONST, a)
        return _node(POW_CONST, np.power(a.data, b), (a,), {"p": b})
    return _binary(POW, a, b)


def exp(x):
    """e ** x."""
    return _unary(EXP, x)


def log(x):
    """Natural logarithm."""
    return _unary(LOG, x)


def sigmoid(x):
    """1 / (1 + e^-x), finite at any input."""
    return _unary(SIGMOID, x)


def tanh(x):
    """Hyperbolic tangent."""
    return _unary(TANH, x)


def relu(x):
    """max(x, 0)."""
    return _unary(RELU, x)


def matmul(a, b):
    """Matrix product with NumPy's rules (batch dims broadcast, 1-D operands allowed)."""
    if type(a) is not Tensor:
        a = as_tensor(a)
    if type(b) is not Tensor:
        b = as_tensor(b)
    if a.data.ndim == 0 or b.data.ndim == 0:
        raise ShapeError(f"matmul: scalars are not matrices: {describe(a)}, {describe(b)}")
    try:
        out = np.matmul(a.data, b.data)
    except ValueError as exc:
        raise _shape_error(MATMUL, (a, b), exc) from None
    return _node(MATMUL, out, (a, b))


def sum(x, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy
    """Sum over `axis` (all axes when None)."""
    return _reduce(SUM, x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (all axes when None)."""
    return _reduce(MEAN, x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy
    """Maximum over `axis`; ties share the gradient."""
    return _reduce(MAX, x, axis, keepdims)


def _reduce(op, x, axis, keepdims):
    x = as_tensor(x)
    if isinstance(axis, list):
        axis = tuple(axis)
    try:
        out = op.forward(x.data, axis=axis, keepdims=keepdims)
    except (ValueError, np.exceptions.AxisError) as exc:
        raise _shape_error(op, (x,), exc) from None
    return _node(op, out, (x,), {"axis": axis, "keepdims": keepdims})


def reshape(x, shape):
    """The same values in a new shape."""
    x = as_tensor(x)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    try:
        out = np.reshape(x.data, shape)
    except ValueError as exc:
        raise _shape_error(RESHAPE, (x,), exc) from None
    return _node(RESHAPE, out, (x,), {"shape": shape})


def transpose(x, axes=None):
    """Permute axes (reverse them when `axes` is None)."""
    x = as_tensor(x)
    axes = None if axes is None else tuple(axes)
    try:
        out = np.transpose(x.data, axes)
    except ValueError as exc:
        raise _shape_error(TRANSPOSE, (x,), exc) from None
    if axes is not None:
        axes = tuple(a % x.ndim for a in axes)  # the VJP inverts axes with argsort
    return _node(TRANSPOSE, out, (x,), {"axes": axes})


def getitem(x, index):
    """x[index]: basic slicing or integer-array indexing."""
    x = as_tensor(x)
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, list):
        index = np.asarray(index)
    try:
        out = x.data[index]
    except IndexError as exc:
        raise ShapeError(f"getitem: index does not fit {describe(x)}: {exc}") from None
    return _node(GETITEM, out, (x,), {"index": index})


def broadcast_to(x, shape):
    """x repeated along new or size-1 axes to `shape`."""
    return apply(BROADCAST, x, shape=tuple(shape))


def sum_to(x, shape):
    """Sum x down to `shape` (the adjoint of broadcast_to)."""
    return apply(SUM_TO, x, shape=tuple(shape))


def astype(x, dtype):
    """Cast to `dtype`; the gradient is cast back."""
    x = as_tensor(x)
    return _node(ASTYPE, x.data.astype(dtype), (x,), {"dtype": np.dtype(dtype)})


def concat(tensors, axis=0):
    """Join tensors along an existing axis."""
    return apply(CONCAT, *tensors, axis=axis)


def stack(tensors, axis=0):
    """Join tensors along a new axis."""
    return apply(STACK, *tensors, axis=axis)


def split(x, sections, axis=0):
    """Split into equal `sections` (an int) or at the given indices; a list of tensors."""
    x = as_tensor(x)
    n = x.shape[axis]
    if isinstance(sections, (int, np.integer)):
        if sections <= 0 or n % sections:
            raise ShapeError(f"split: {describe(x)} axis {axis} of size {n} does not divide "
                             f"into {sections} equal parts")
        cuts = list(range(0, n + 1, n // sections))
    else:
        cuts = [0, *sections, n]
    lead = (slice(None),) * (axis % x.ndim)
    return [x[lead + (slice(a, b),)] for a, b in zip(cuts[:-1], cuts[1:])]


def where(cond, a, b):
    """Pick a where cond holds, else b (cond is a boolean array: no gradient)."""
    cond = np.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=bool)
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    dtype = ref.dtype if ref is not None else None
    return apply(WHERE, as_tensor(a, dtype), as_tensor(b, dtype), cond=cond)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`, stable at any input."""
    x = _float_input(SOFTMAX, x)
    return apply(SOFTMAX, x, axis=axis)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis`, stable at any input."""
    x = _float_input(LOG_SOFTMAX, x)
    return apply(LOG_SOFTMAX, x, axis=axis)


def logsumexp(x, axis=-1, keepdims=False):
    """log(sum(exp(x))) along `axis`, stable at any input."""
    x = _float_input(LOGSUMEXP, x)
    return apply(LOGSUMEXP, x, axis=axis, keepdims=keepdims)


def embedding(weight, ids):
    """Rows of `weight` picked by integer `ids` (any shape): out.shape = ids.shape + (dim,)."""
    ids_array = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    weight = as_tensor(weight)
    if ids_array.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be integers, got dtype {ids_array.dtype}")
    if ids_array.size and (ids_array.min() < 0 or ids_array.max() >= weight.shape[0]):
        raise ShapeError(f"embedding: ids must lie in [0, {weight.shape[0]}) for "
                         f"{describe(weight)}, got [{ids_array.min()}, {ids_array.max()}]")
    return apply(EMBEDDING, weight, _leaf(ids_array))


def cross_entropy(logits, targets, reduction="mean"):
    """Cross-entropy from unnormalised logits (..., C) and integer targets (...)."""
    logits = _float_input(LOG_SOFTMAX, logits)
    t = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integers, got dtype {t.dtype}")
    if logits.shape[:-1] != t.shape:
        raise ShapeError(f"cross_entropy: logits {describe(logits)} need targets of shape "
                         f"{logits.shape[:-1]}, got {t.shape}")
    n_classes = logits.shape[-1]
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        raise ShapeError(f"cross_entropy: targets must lie in [0, {n_classes}), "
                         f"got [{t.min()}, {t.max()}]")
    logp = log_softmax(logits.reshape((-1, n_classes)), axis=-1)
    picked = logp[np.arange(t.size), t.reshape(-1)]
    if reduction == "mean":
        return -picked.mean()
    if reduction == "sum":
        return -picked.sum()
    raise ValueError(f"cross_entropy: reduction must be 'mean' or 'sum', got {reduction!r}")


def mse(pred, target, reduction="mean"):
    """Mean (or summed) squared error."""
    diff = as_tensor(pred) - as_tensor(target, as_tensor(pred).dtype)
    sq = diff * diff
    if reduction == "mean":
        return sq.mean()
    if reduction == "sum":
        return sq.sum()
    raise ValueError(f"mse: reduction must be 'mean' or 'sum', got {reduction!r}")


# ------------------------------------------------------------------------------------------
# Backends for the VJP rules
# ------------------------------------------------------------------------------------------


def _mT(x):
    return x.swapaxes(-1, -2) if isinstance(x, np.ndarray) else transpose(
        x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


NUMPY_BACKEND = types.SimpleNamespace(
    name="numpy",
    exp=np.exp,
    log=np.log,
    where=np.where,
    sum_to=_sum_to,
    broadcast_to=np.broadcast_to,
    scatter=_scatter,
    softmax=_softmax,
    astype=lambda g, dtype: g.astype(dtype),
    mT=_mT,
    raw=lambda x: x,
)

ENGINE_BACKEND = types.SimpleNamespace(
    name="engine",
    exp=exp,
    log=log,
    where=where,
    sum_to=sum_to,
    broadcast_to=broadcast_to,
    scatter=lambda g, shape, index: apply(SCATTER, g, shape=shape, index=index),
    softmax=softmax,
    astype=astype,
    mT=_mT,
    raw=lambda x: x.data if isinstance(x, Tensor) else x,
)
