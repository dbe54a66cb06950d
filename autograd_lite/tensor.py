"""The Tensor: an ndarray with a place in the computation graph, and the backward walk.

Every value made by an op remembers the op, its ordered parents and its attributes; the
gradient rules themselves live in one table in `autograd_lite.ops`.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers

import numpy as np


class ShapeError(ValueError):
    """An op got inputs whose shapes do not fit; names the op, the labels and the shapes."""


class AnomalyError(FloatingPointError):
    """NaN or Inf produced inside `detect_anomaly()`; names the op and its label."""


class GradientError(RuntimeError):
    """A backward pass that cannot run as asked (non-scalar root, no graph, ...)."""


_state = {"grad": True, "anomaly": False}
# Every tensor gets the next number when it is made; a node is always made after its
# parents, so sorting by this number is a topological order.
_next_seq = itertools.count().__next__


@contextlib.contextmanager
def no_grad():
    """Ops run inside this context record no graph (for evaluation and updates)."""
    previous = _state["grad"]
    _state["grad"] = False
    try:
        yield
    finally:
        _state["grad"] = previous


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph."""
    return _state["grad"]


@contextlib.contextmanager
def detect_anomaly():
    """Check every forward output and every gradient for NaN/Inf and name the op at fault."""
    previous = _state["anomaly"]
    _state["anomaly"] = True
    try:
        yield
    finally:
        _state["anomaly"] = previous


def _frozen(array: np.ndarray) -> np.ndarray:
    # Arrays kept in the graph are read-only, so a later in-place write cannot silently
    # corrupt what backward will read: numpy raises "assignment destination is read-only".
    array.setflags(write=False)
    return array


def describe(t: "Tensor") -> str:
    """A short name for a tensor in error messages: its label or op, and its shape."""
    name = t.label or (t._op.name if t._op is not None else "tensor")
    return f"'{name}' {tuple(t.data.shape)}"


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    `Tensor(data)` copies `data`; `.data` is read-only (see `_frozen`). Gradients land in
    `.grad` (an ndarray of the same shape and dtype) when `.backward()` runs.
    """

    __slots__ = ("data", "grad", "requires_grad", "label", "_op", "_parents", "_inputs", "_attrs",
                 "_saved", "is_parameter", "_seq", "__weakref__")
    __array_priority__ = 1000  # ndarray OP Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, label: str | None = None, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        array = np.array(data, dtype=dtype)  # always a private copy
        if requires_grad and array.dtype.kind not in "fc":
            raise TypeError(
                f"Tensor{f' {label!r}' if label else ''}: only floating-point tensors can "
                f"require grad, got dtype {array.dtype} with shape {array.shape}"
            )
        self.data = _frozen(array)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.label = label
        self._op = None
        self._parents = ()
        self._inputs = None
        self._attrs = None
        self._saved = None
        self.is_parameter = False
        self._seq = _next_seq()

    # -- basic properties -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def op(self) -> str | None:
        """Name of the op that produced this tensor (None for a leaf)."""
        return None if self._op is None else self._op.name

    @property
    def parents(self) -> tuple:
        """The tensors this one was computed from, in argument order."""
        return self._parents

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        extra = f", label={self.label!r}" if self.label else ""
        extra += ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=8)}{extra})"

    def __array__(self, dtype=None, copy=None):
        if copy:  # np.array(t) asks for a copy: give a writable one
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype)

    def __iter__(self):
        # Without this, iteration (and `a, b = t`) would probe t[len(t)] and get a ShapeError.
        return (self[i] for i in range(len(self)))

    def numpy(self) -> np.ndarray:
        """The value as a (read-only) ndarray."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (shares memory, requires no grad)."""
        return _leaf(self.data, self.label)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    # -- operators: one-liners into the op table -----------------------------------------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.power(self, other)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # Comparisons give plain boolean arrays: they have no gradient.
    def __lt__(self, other):
        return self.data < _raw(other)

    def __le__(self, other):
        return self.data <= _raw(other)

    def __gt__(self, other):
        return self.data > _raw(other)

    def __ge__(self, other):
        return self.data >= _raw(other)

    def __eq__(self, other):
        return self.data == _raw(other)

    def __ne__(self, other):
        return self.data != _raw(other)

    __hash__ = object.__hash__  # tensors are graph nodes: hashed by identity

    @property
    def T(self):
        return _ops.transpose(self)

    def transpose(self, *axes):
        return _ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def reshape(self, *shape):
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def astype(self, dtype):
        return _ops.astype(self, dtype)

    # -- autodiff ---------------------------------------------------------------------------
    def backward(self, grad=None, create_graph: bool = False, retain_grad: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires grad.

        `grad` is the upstream gradient (required unless self has one element). With
        `create_graph=True` gradients are Tensors recorded in the graph (for higher order);
        with `retain_grad=True` intermediate tensors keep their gradient too (for drawing).
        """
        backprop([self], [grad], create_graph=create_graph, retain_grad=retain_grad)


def _leaf(array: np.ndarray, label=None) -> Tensor:
    """A leaf tensor holding `array`: shared when already read-only, else a frozen copy."""
    t = Tensor.__new__(Tensor)
    # A read-only view of a caller's writable array would still change when the caller
    # writes to it, silently changing what backward reads: copy instead.
    t.data = array if not array.flags.writeable else _frozen(array.copy())
    t.grad = None
    t.requires_grad = False
    t.label = label
    t._op = None
    t._parents = ()
    t._inputs = None
    t._attrs = None
    t._saved = None
    t.is_parameter = False
    t._seq = _next_seq()
    return t


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


# Which Python scalars take the other operand's dtype, by that dtype's kind.
_SCALAR_FITS = {"f": numbers.Real, "c": numbers.Complex, "i": numbers.Integral,
                "u": numbers.Integral}


def as_tensor(x, dtype=None) -> Tensor:
    """`x` itself if it is a Tensor, else a constant leaf (Python numbers take `dtype`)."""
    if isinstance(x, Tensor):
        return x
    if (dtype is not None and not isinstance(x, bool)
            and isinstance(x, _SCALAR_FITS.get(np.dtype(dtype).kind, ()))):
        # A Python scalar takes the other operand's dtype, so float32 stays float32; a
        # float scalar with an integer tensor still gives float64, as in NumPy.
        return _leaf(_frozen(np.array(x, dtype=dtype)))  # fresh: frozen without a copy
    return _leaf(np.asarray(x))


# ------------------------------------------------------------------------------------------
# The backward walk
# ------------------------------------------------------------------------------------------


def topological_order(roots) -> list:
    """Tensors reachable from `roots` that require grad, parents before children.

    Iterative (an unrolled LSTM is thousands of ops deep): collect the reachable nodes,
    then sort them by creation number, which orders every node after its parents.
    """
    seen = {}
    stack = [r for r in roots if r.requires_grad]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        for p in node._parents:
            if p.requires_grad and id(p) not in seen:
                stack.append(p)
    return sorted(seen.values(), key=_seq_of)


def _seq_of(t: "Tensor") -> int:
    return t._seq


def _seed(root: Tensor, grad, create_graph: bool):
    if grad is None:
        if root.data.size != 1:
            raise GradientError(
                f"backward: {describe(root)} is not a scalar; pass grad= with shape "
                f"{root.shape} (the upstream gradient)"
            )
        g = np.ones_like(root.data)
    else:
        g = np.asarray(_raw(grad), dtype=root.dtype)
        if g.shape != root.shape:
            raise ShapeError(
                f"backward: grad has shape {g.shape} but {describe(root)} has shape {root.shape}"
            )
    return _leaf(g) if create_graph else g


def backprop(roots, grads, inputs=None, create_graph=False, retain_grad=False):
    """Reverse-mode sweep from `roots` (with upstream `grads`).

    With `inputs=None`, gradients accumulate into the `.grad` of every leaf that requires
    grad. With `inputs` given, their gradients are returned instead (None where unreachable)
    and no `.grad` is touched.
    """
    for r in roots:
        if not r.requires_grad:
            raise GradientError(
                f"backward: {describe(r)} does not require grad (no input of it requires "
                f"grad, or it was computed under no_grad())"
            )
    B = _ops.ENGINE_BACKEND if create_graph else _ops.NUMPY_BACKEND
    anomaly = _state["anomaly"]
    order = topological_order(roots)
    targets = None if inputs is None else {id(t) for t in inputs}
    pending: dict[int, object] = {}
    for r, g in zip(roots, grads):
        g = _seed(r, g, create_graph)
        pending[id(r)] = g if id(r) not in pending else pending[id(r)] + g

    grad_mode = contextlib.nullcontext() if create_graph else no_grad()
    found = {}
    # Keys whose pending gradient is a sum allocated here: a node's gradient from one
    # parent may be the very array passed to its other parents (add gives (g, g)), so only
    # these may grow in place, like the `dW +=` of a hand-written loop.
    owned: set[int] = set()
    with grad_mode:
        for node in reversed(order):
            g = pending.pop(id(node), None)
            if g is None:
                continue
            owned.discard(id(node))  # from here on g may be shared: never written again
            if targets is not None and id(node) in targets:
                found[id(node)] = g
                continue  # gradients w.r.t. an input do not flow past it
            op = node._op
            if create_graph and op is not None and not op.higher_order:
                raise GradientError(
                    f"backward: {op.name} has a hand-written NumPy backward and cannot be "
                    f"differentiated twice (node {describe(node)}); use the unfused path"
                )
            if op is None:
                if inputs is None:
                    _accumulate_leaf(node, g, create_graph)
                continue
            if retain_grad and inputs is None:
                node.grad = g if create_graph else np.array(g)  # own memory: no aliasing
            parents = node._parents
            if create_graph:
                args = parents
                out = node
            else:
                args = node._inputs  # the arrays the forward read, even if since rebound
                out = node.data
            if op.saves:
                pgs = op.vjp(B, g, out, *args, saved=node._saved, **(node._attrs or {}))
            elif node._attrs:
                pgs = op.vjp(B, g, out, *args, **node._attrs)
            else:
                pgs = op.vjp(B, g, out, *args)
            for p, pg in zip(parents, pgs):
                if pg is None or not p.requires_grad:
                    continue
                if pg.shape != p.data.shape:  # undo broadcasting, once, here
                    pg = B.sum_to(pg, p.data.shape)
                if anomaly:
                    _check_finite(pg, f"the gradient that the backward of {op.name} passes to "
                                      f"{describe(p)}", node)
                key = id(p)
                prev = pending.get(key)
                if prev is None:
                    pending[key] = pg
                elif key in owned and prev.dtype == pg.dtype:
                    prev += pg  # a sum this loop allocated and nothing else holds
                else:
                    total = pending[key] = prev + pg
                    if type(total) is np.ndarray:  # (0-d sums give NumPy scalars; Tensors
                        owned.add(key)             # under create_graph are never written)
    if inputs is not None:
        # A rule may hand one array to several parents (add gives (g, g)): copy, so no two
        # returned gradients share memory.
        grads = [found.get(id(t)) for t in inputs]
        return grads if create_graph else [None if g is None else np.array(g) for g in grads]
    return None


def _accumulate_leaf(leaf: Tensor, g, create_graph: bool) -> None:
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
    if leaf.grad is None:
        leaf.grad = np.array(g, copy=True)  # own memory: no two grads alias
    else:
        leaf.grad = leaf.grad + g


def _check_finite(array, what: str, node: Tensor) -> None:
    values = _raw(array)
    if not np.all(np.isfinite(values)):
        bad = "NaN" if np.any(np.isnan(values)) else "Inf"
        raise AnomalyError(f"{bad} in {what} (node {describe(node)})")


def total_norm(arrays) -> float:
    """The global L2 norm of a list of arrays (float64 accumulation)."""
    total = 0.0
    for a in arrays:
        a = np.asarray(a, dtype=np.complex128 if np.iscomplexobj(a) else np.float64)
        total += float(np.vdot(a, a).real)  # float32 squares would overflow past ~1e19
    return math.sqrt(total)


from autograd_lite import ops as _ops  # noqa: E402  (ops needs Tensor defined first)
