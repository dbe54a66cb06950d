"""Public functions over the op table: arithmetic, activations, joins, indexing and losses.

Each validates its arguments, then runs a table op (`autograd_lite.table`, re-exported here).
VJP rules take the backend first, always named `bk`: `vjp(bk, g, out, *inputs, **attrs)`.
"""

from __future__ import annotations

import numpy as np

from autograd_lite.errors import ShapeError, describe
from autograd_lite.table import (  # noqa: F401  (re-exported: the table's public names)
    ADD,
    ASTYPE,
    BROADCAST,
    CONCAT,
    DIV,
    EMBEDDING,
    EXP,
    GETITEM,
    LOG,
    LOG_SOFTMAX,
    LOGSUMEXP,
    MATMUL,
    MAX,
    MEAN,
    MUL,
    NEG,
    NUMPY_BACKEND,
    OPS,
    PICK,
    POW,
    POW_CONST,
    RELU,
    RESHAPE,
    SCATTER,
    SIGMOID,
    SOFTMAX,
    STACK,
    SUB,
    SUM,
    SUM_TO,
    TANH,
    TRANSPOSE,
    WHERE,
    Backend,
    Op,
    defop,
)
from autograd_lite.tensor import ENGINE_BACKEND, Tensor, apply, as_tensor, unary  # noqa: F401


def _like(x, other) -> Tensor:
    # x as a tensor; a Python number takes the dtype of `other` when that is a tensor.
    return as_tensor(x, other.dtype if isinstance(other, Tensor) else None)


# -- arithmetic (module-level forms of Tensor's operators) ------------------------------------


def add(a, b):
    """a + b, broadcasting."""
    return _like(a, b) + b


def sub(a, b):
    """a - b, broadcasting."""
    return _like(a, b) - b


def mul(a, b):
    """Pointwise a * b, broadcasting."""
    return _like(a, b) * b


def div(a, b):
    """a / b, broadcasting."""
    return _like(a, b) / b


def neg(a):
    """-a."""
    return -as_tensor(a)


def power(a, b):
    """a ** b; a constant exponent stays an attribute of the node."""
    return _like(a, b) ** b


def matmul(a, b):
    """Matrix product with NumPy's rules (batch dims broadcast, 1-D operands allowed)."""
    return as_tensor(a) @ b


# -- pointwise functions ----------------------------------------------------------------------


def exp(x):
    """e ** x."""
    return unary(EXP, x)


def log(x):
    """Natural logarithm."""
    return unary(LOG, x)


def sigmoid(x):
    """1 / (1 + e^-x), finite at any input."""
    return unary(SIGMOID, x)


def tanh(x):
    """Hyperbolic tangent."""
    return unary(TANH, x)


def relu(x):
    """max(x, 0)."""
    return unary(RELU, x)


# -- reductions and shapes --------------------------------------------------------------------


def sum(x, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy
    """Sum over `axis` (all axes when None)."""
    return as_tensor(x).sum(axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (all axes when None)."""
    return as_tensor(x).mean(axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy
    """Maximum over `axis`; ties share the gradient."""
    return as_tensor(x).max(axis, keepdims)


def reshape(x, shape):
    """The same values in a new shape."""
    return as_tensor(x).reshape(shape)


def transpose(x, axes=None):
    """Permute axes (reverse them when `axes` is None)."""
    return as_tensor(x).transpose(axes)


def getitem(x, index):
    """x[index]: basic slicing or integer-array indexing."""
    return as_tensor(x)[index]


def astype(x, dtype):
    """Cast to `dtype`; the gradient is cast back."""
    return as_tensor(x).astype(dtype)


def broadcast_to(x, shape):
    """x repeated along new or size-1 axes to `shape`."""
    return apply(BROADCAST, x, shape=tuple(shape))


def sum_to(x, shape):
    """Sum x down to `shape` (the adjoint of broadcast_to)."""
    return apply(SUM_TO, x, shape=tuple(shape))


# -- joins and selection ----------------------------------------------------------------------


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
    cond = np.asarray(cond.values("where's condition") if isinstance(cond, Tensor) else cond,
                      dtype=bool)
    return apply(WHERE, a, b, cond=cond)


def embedding(weight, ids):
    """Rows of `weight` picked by integer `ids` (any shape): out.shape = ids.shape + (dim,)."""
    ids = as_tensor(ids)  # an input of the op, so a compiled function reads new ids each call
    weight = as_tensor(weight)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be integers, got dtype {ids.dtype}")
    return apply(EMBEDDING, weight, ids)  # (the op checks that ids lie in range)


def pick(x, targets):
    """For each row of `x` (..., C), the entry its integer target (...) names: x[..., t]."""
    x, targets = as_tensor(x), as_tensor(targets)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"pick: targets must be integers, got dtype {targets.dtype}")
    if x.ndim == 0 or x.shape[:-1] != targets.shape:
        raise ShapeError(f"pick: {describe(x)} needs targets of shape {x.shape[:-1]}, got "
                         f"{targets.shape}")
    return apply(PICK, x, targets)


# -- normalisation and losses -----------------------------------------------------------------


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`, stable at any input."""
    return apply(SOFTMAX, x, axis=axis)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis`, stable at any input."""
    return apply(LOG_SOFTMAX, x, axis=axis)


def logsumexp(x, axis=-1, keepdims=False):
    """log(sum(exp(x))) along `axis`, stable at any input."""
    return apply(LOGSUMEXP, x, axis=axis, keepdims=keepdims)


def _check_reduction(name, reduction) -> None:
    if reduction not in ("mean", "sum"):
        raise ValueError(f"{name}: reduction must be 'mean' or 'sum', got {reduction!r}")


def cross_entropy(logits, targets, reduction="mean"):
    """Cross-entropy from unnormalised logits (..., C) and integer targets (...)."""
    _check_reduction("cross_entropy", reduction)
    logits = as_tensor(logits)
    t = as_tensor(targets)  # an input of the graph: compiled functions read it each call
    if logits.dtype.kind != "f":
        raise TypeError(f"cross_entropy: logits must be floating point, got {describe(logits)} "
                        f"of dtype {logits.dtype}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integers, got dtype {t.dtype}")
    if logits.ndim == 0 or logits.shape[:-1] != t.shape:
        raise ShapeError(f"cross_entropy: logits {describe(logits)} need targets of shape "
                         f"{logits.shape[:-1]}, got {t.shape}")
    n_classes = logits.shape[-1]
    logp = log_softmax(logits.reshape((-1, n_classes)), axis=-1)
    picked = apply(PICK, logp, t.reshape(-1))  # (the op checks that targets lie in range)
    return -(picked.mean() if reduction == "mean" else picked.sum())


def mse(pred, target, reduction="mean"):
    """Mean (or summed) squared error; target has pred's shape, or is a single number."""
    _check_reduction("mse", reduction)
    pred = as_tensor(pred)
    target = as_tensor(target, pred.dtype)
    if target.ndim and target.shape != pred.shape:
        # Broadcasting (4, 1) against (4,) would silently compare every prediction with
        # every target, (4, 4) pairs.
        raise ShapeError(f"mse: pred {describe(pred)} and target {describe(target)} must have "
                         f"the same shape")
    diff = pred - target
    sq = diff * diff
    return sq.mean() if reduction == "mean" else sq.sum()
