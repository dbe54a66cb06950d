"""The op table: every primitive's forward and its VJP rule side by side, and the backends.

A rule is `vjp(bk, g, out, *inputs, **attrs) -> tuple aligned with inputs` (None = no
gradient); `bk` is the backend it computes with: NumPy, or engine ops recorded for higher
order (`B` means a batch size, never a backend). Broadcasting is undone in the backward walk.
Each op declares what its rule reads (`needs`); a graph node keeps only that.
"""

from __future__ import annotations

import numpy as np

from autograd_lite import kernels


NEEDS = ("inputs", "output", "both", "none")


class Op:
    """A primitive: a name, a NumPy forward and a VJP rule.

    With `saves=True` the forward returns `(out, saved)` and the rule receives `saved=`;
    such ops (the fused RNN kernels) have a hand-written backward in NumPy only, so they
    cannot be differentiated twice (`higher_order=False`). With `float_only=True` every
    input must be floating point (a TypeError names the op otherwise).

    `needs` says which values the rule reads: "inputs", "output", "both" or "none". A graph
    node keeps only those arrays; a rule that reads no input values still gets one object per
    input, with its `shape`, `ndim` and `dtype` (what un-broadcasting and reshaping need).
    `broadcasts=False` promises that the rule returns gradients of exactly the inputs' shapes
    (elementwise and shape ops), so the backward walk skips the un-broadcasting check.
    `number_left` / `number_right`: the op a graph node records when that operand of a binary
    op is a Python number (the same op, or a twin whose rule skips the number's gradient).
    """

    __slots__ = ("name", "forward", "vjp", "saves", "higher_order", "float_only", "needs",
                 "keeps_inputs", "keeps_output", "broadcasts", "number_left", "number_right")

    def __init__(self, name, forward, vjp, saves=False, higher_order=True, float_only=False,
                 needs="both", broadcasts=True):
        if needs not in NEEDS:
            raise ValueError(f"op {name!r}: needs must be one of {', '.join(NEEDS)}, "
                             f"got {needs!r}")
        self.name, self.forward, self.vjp = name, forward, vjp
        self.saves, self.higher_order, self.float_only = saves, higher_order, float_only
        self.needs = needs
        self.keeps_inputs = needs in ("inputs", "both")
        self.keeps_output = needs in ("output", "both")
        self.broadcasts = broadcasts
        self.number_left = self.number_right = self

    def __repr__(self):
        return f"Op({self.name!r})"


OPS: dict[str, Op] = {}


def defop(name, forward, vjp, saves=False, higher_order=None, float_only=False,
          needs="both", broadcasts=True) -> Op:
    """Register a primitive in the op table and return it (`needs`, `broadcasts`: see `Op`)."""
    op = Op(name, forward, vjp, saves, (not saves) if higher_order is None else higher_order,
            float_only, needs, broadcasts)
    OPS[name] = op
    return op


class Backend:
    """What a VJP rule computes with (its `bk`): table ops run on arrays or on Tensors.

    Every helper is a table op run through `run`: the op's NumPy forward (NUMPY_BACKEND), or
    `apply`, which records it (ENGINE_BACKEND, for higher order). `raw(x)` is the array in
    x; `lift(array)` makes a value of the backend's kind; `records`: is the sweep recorded.
    """

    __slots__ = ("name", "run", "raw", "lift", "records")

    def __init__(self, name, run, raw, lift, records):
        self.name, self.run, self.raw, self.lift, self.records = name, run, raw, lift, records

    def __repr__(self):
        return f"Backend({self.name!r})"

    def exp(self, x):
        return self.run(EXP, x)

    def log(self, x):
        return self.run(LOG, x)

    def where(self, cond, a, b):
        return self.run(WHERE, a, b, cond=cond)

    def sum_to(self, x, shape):
        return self.run(SUM_TO, x, shape=tuple(shape))

    def broadcast_to(self, x, shape):
        return self.run(BROADCAST, x, shape=tuple(shape))

    def scatter(self, g, shape, index):
        return self.run(SCATTER, g, shape=tuple(shape), index=index)

    def softmax(self, x, axis=-1):
        return self.run(SOFTMAX, x, axis=axis)

    def astype(self, x, dtype):
        return self.run(ASTYPE, x, dtype=np.dtype(dtype))

    def mT(self, x):
        """x with its last two axes swapped."""
        return self.run(TRANSPOSE, x, axes=(*range(x.ndim - 2), x.ndim - 1, x.ndim - 2))


def _run_forward(op, *arrays, **attrs):
    return op.forward(*arrays, **attrs)


def _same(x):
    return x


NUMPY_BACKEND = Backend("numpy", run=_run_forward, raw=_same, lift=_same, records=False)


# ------------------------------------------------------------------------------------------
# Shape helpers for the reductions' rules
# ------------------------------------------------------------------------------------------


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

ADD = defop("add", np.add, lambda bk, g, out, a, b: (g, g), needs="none")
SUB = defop("sub", np.subtract, lambda bk, g, out, a, b: (g, -g), needs="none")
MUL = defop("mul", np.multiply, lambda bk, g, out, a, b: (g * b, g * a), needs="inputs")
DIV = defop("div", np.divide, lambda bk, g, out, a, b: (g / b, -g * out / b), needs="both")
NEG = defop("neg", np.negative, lambda bk, g, out, a: (-g,), needs="none")
# a ** p for a constant exponent p; a ** b with a tensor exponent differentiates both.
POW_CONST = defop("pow", lambda a, p: np.power(a, p),
                  lambda bk, g, out, a, p: (g * p * a ** (p - 1),), float_only=True,
                  needs="inputs")
POW = defop("pow_tensor", np.power,
            lambda bk, g, out, a, b: (g * b * a ** (b - 1),
                                      g * out * bk.log(bk.where(bk.raw(a) > 0, a, 1.0))),
            needs="both")
EXP = defop("exp", np.exp, lambda bk, g, out, a: (g * out,), float_only=True, needs="output")
LOG = defop("log", np.log, lambda bk, g, out, a: (g / a,), float_only=True, needs="inputs")
# Activations are differentiated through their output, as papers write them.
# (1.0, not 1: NumPy takes a Python float beside a float array faster than an int)
SIGMOID = defop("sigmoid", kernels.sigmoid, lambda bk, g, out, a: (g * out * (1.0 - out),),
                float_only=True, needs="output")
TANH = defop("tanh", np.tanh, lambda bk, g, out, a: (g * (1.0 - out * out),), float_only=True,
              needs="output")
RELU = defop("relu", lambda a: np.maximum(a, 0), lambda bk, g, out, a: (g * (bk.raw(a) > 0),),
             float_only=True, needs="inputs")


def _matmul_vjp(bk, g, out, a, b):
    if a.ndim >= 2 and b.ndim >= 2:  # central sum_to folds broadcast batch dims
        return g @ bk.mT(b), bk.mT(a) @ g
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    if a.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
        g2 = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        ga = bk.sum_to(g2 @ bk.mT(b), (1, a.shape[0])).reshape(a.shape)
        return ga, a.reshape((a.shape[0], 1)) @ g2
    g2 = g.reshape(g.shape + (1,))  # (..., m, k) @ (k,) -> (..., m)
    gb = bk.sum_to(bk.mT(a) @ g2, (b.shape[0], 1)).reshape(b.shape)
    return g2 @ b.reshape((1, b.shape[0])), gb


def _max_vjp(bk, g, out, a, axis=None, keepdims=False):
    # Ties share the gradient equally.
    mask = bk.raw(a) == _keep_axes(bk.raw(out), a.shape, axis, keepdims)
    mask = mask / mask.sum(axis=axis, keepdims=True)
    return (_keep_axes(g, a.shape, axis, keepdims) * mask.astype(bk.raw(a).dtype),)


def _transpose_vjp(bk, g, out, a, axes=None):
    if axes is None:
        return (g.transpose(),)
    return (g.transpose(tuple(np.argsort([k % a.ndim for k in axes]))),)  # inverse permutation


MATMUL = defop("matmul", np.matmul, _matmul_vjp, needs="inputs")
SUM = defop("sum", lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims),
            lambda bk, g, out, a, axis=None, keepdims=False:
            (bk.broadcast_to(_keep_axes(g, a.shape, axis, keepdims), a.shape),), needs="none")
MEAN = defop("mean",
             lambda a, axis=None, keepdims=False: np.mean(a, axis=axis, keepdims=keepdims),
             lambda bk, g, out, a, axis=None, keepdims=False:
             (bk.broadcast_to(_keep_axes(g, a.shape, axis, keepdims)
                              / _axis_size(a.shape, axis), a.shape),), needs="none")
MAX = defop("max", lambda a, axis=None, keepdims=False: np.max(a, axis=axis, keepdims=keepdims),
            _max_vjp, needs="both")
RESHAPE = defop("reshape", lambda a, shape: np.reshape(a, shape),
                lambda bk, g, out, a, shape: (g.reshape(a.shape),), needs="none")
TRANSPOSE = defop("transpose", lambda a, axes=None: np.transpose(a, axes), _transpose_vjp,
                  needs="none")
GETITEM = defop("getitem", lambda a, index: a[index],
                lambda bk, g, out, a, index: (bk.scatter(g, a.shape, index),), needs="none")
SCATTER = defop("scatter", kernels.scatter,
                lambda bk, g, out, a, shape, index: (g[index],), needs="none")
EMBEDDING = defop("embedding", kernels.embedding,
                  lambda bk, g, out, w, ids: (bk.scatter(g, w.shape, bk.raw(ids)), None),
                  needs="inputs")
# The entry each target names, per row: cross-entropy's log-probabilities of the targets.
PICK = defop("pick", kernels.pick,
             lambda bk, g, out, a, targets:
             (bk.scatter(g, a.shape, kernels.pick_index(bk.raw(targets))), None),
             needs="inputs")
# broadcast_to's VJP is the identity: the central un-broadcast sums g back down.
BROADCAST = defop("broadcast_to", lambda a, shape: np.broadcast_to(a, shape),
                  lambda bk, g, out, a, shape: (g,), needs="none")
SUM_TO = defop("sum_to", kernels.sum_to,
               lambda bk, g, out, a, shape: (bk.broadcast_to(g, a.shape),), needs="none")
ASTYPE = defop("astype", lambda a, dtype: a.astype(dtype),
               lambda bk, g, out, a, dtype: (bk.astype(g, a.dtype),), needs="none")


def _concat_vjp(bk, g, out, *xs, axis=0):
    ends = np.cumsum([x.shape[axis] for x in xs])
    lead = (slice(None),) * (axis % g.ndim)
    return tuple(g[lead + (slice(e - x.shape[axis], e),)] for x, e in zip(xs, ends))


def _stack_vjp(bk, g, out, *xs, axis=0):
    lead = (slice(None),) * (axis % g.ndim)
    return tuple(g[lead + (i,)] for i in range(len(xs)))


CONCAT = defop("concat", lambda *xs, axis=0: np.concatenate(xs, axis=axis), _concat_vjp,
               needs="none")
STACK = defop("stack", lambda *xs, axis=0: np.stack(xs, axis=axis), _stack_vjp, needs="none")
WHERE = defop("where", lambda a, b, cond: np.where(cond, a, b),
              lambda bk, g, out, a, b, cond: (bk.where(cond, g, 0.0), bk.where(cond, 0.0, g)),
              needs="none")
SOFTMAX = defop("softmax", kernels.softmax,
                lambda bk, g, out, a, axis=-1: (out * (g - (g * out).sum(axis, keepdims=True)),),
                float_only=True, needs="output")
LOG_SOFTMAX = defop(
    "log_softmax", kernels.log_softmax,
    lambda bk, g, out, a, axis=-1: (g - bk.softmax(a, axis) * g.sum(axis, keepdims=True),),
    float_only=True, needs="inputs")
LOGSUMEXP = defop(
    "logsumexp", kernels.logsumexp,
    lambda bk, g, out, a, axis=-1, keepdims=False:
    (_keep_axes(g, a.shape, axis, keepdims) * bk.softmax(a, axis),), float_only=True,
    needs="inputs")



def _number_twin(op, vjp) -> Op:
    # Not in OPS: a node shows it as `op`; a trace records `op` itself.
    twin = Op(op.name, op.forward, vjp, op.saves, op.higher_order, op.float_only, op.needs,
              op.broadcasts)
    twin.number_left = op.number_left
    twin.number_right = op.number_right
    return twin


# A Python number needs no gradient: with one as an operand, the rule skips computing it.
SUB.number_left = _number_twin(SUB, lambda bk, g, out, a, b: (None, -g))
SUB.number_right = _number_twin(SUB, lambda bk, g, out, a, b: (g, None))
MUL.number_left = _number_twin(MUL, lambda bk, g, out, a, b: (None, g * a))
MUL.number_right = _number_twin(MUL, lambda bk, g, out, a, b: (g * b, None))
DIV.number_left = _number_twin(DIV, lambda bk, g, out, a, b: (None, -g * out / b))
DIV.number_right = _number_twin(DIV, lambda bk, g, out, a, b: (g / b, None))

# Rules that return gradients of exactly their inputs' shapes: the walk skips un-broadcasting.
for _op in (NEG, POW_CONST, EXP, LOG, SIGMOID, TANH, RELU, SUM, MEAN, MAX, RESHAPE, TRANSPOSE,
            GETITEM, SCATTER, EMBEDDING, PICK, SUM_TO, ASTYPE, CONCAT, STACK, SOFTMAX,
            LOG_SOFTMAX, LOGSUMEXP):
    _op.broadcasts = False
