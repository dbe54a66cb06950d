"""The Tensor, and the one way graph nodes are made.

A Tensor is what code holds: values and a gradient. An op on tensors that require grad also
makes a Node (`autograd_lite.backward`): the op, its inputs, and only the arrays its VJP reads
(the op's `needs`). Nodes point to nodes, never to tensors, so an intermediate that nobody
holds and no rule reads is freed at once. Operators are one-liners into the op table.
"""

from __future__ import annotations

import weakref

import numpy as np

from autograd_lite import backward, state, table
from autograd_lite.backward import FREED, Node
from autograd_lite.errors import AnomalyError, GradientError, ShapeError, describe
from autograd_lite.fields import Graphed
from autograd_lite.kernels import total_norm
from autograd_lite.mishaps import shape_error, watch
from autograd_lite.state import detect_anomaly, is_grad_enabled, next_seq, no_grad
from autograd_lite.values import (
    array_of,
    check_numeric,
    frozen,
    named,
    plain_number,
    takes_dtype,
)

__all__ = ["Tensor", "Node", "as_tensor", "apply", "unary", "backprop", "ENGINE_BACKEND",
           "describe", "total_norm", "ShapeError", "GradientError", "AnomalyError", "no_grad",
           "is_grad_enabled", "detect_anomaly"]


class Tensor(Graphed):
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    `Tensor(data)` copies `data` (numbers only). `.data` is read-only, so no in-place write
    can change what backward will read; to update a parameter use `Parameter.sub_` or
    `Parameter.assign`. Gradients land in `.grad` (same shape and dtype) when `.backward()`
    runs. Graph fields, from the tensor's Node: `creator` (the Op; None for a leaf), `parents`
    (Tensors, in argument order), `attrs`, `saved`, `seq`. A parent reached through the graph
    keeps its values if a rule reads them or it has a label (until backward frees them).
    """

    __slots__ = ()  # (declared by Values)
    is_parameter = False  # (Parameter says True)

    def __init__(self, data, requires_grad: bool = False, label: str | None = None, dtype=None):
        source = data if isinstance(data, Tensor) else None
        if source is not None:  # (a copy of its values: a trace records it as one)
            data = source._data if source._data is not None else source.values("Tensor()")
        array = np.array(data, dtype=dtype)  # a copy
        check_numeric(array, label)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(
                f"Tensor{named(label)}: only floating-point tensors can require grad, got "
                f"dtype {array.dtype} with shape {array.shape}"
            )
        _init_leaf(self, frozen(array), bool(requires_grad), label)
        if source is not None and state.tracer is not None:
            state.tracer.copied(self, source, array)

    @property
    def parents(self) -> tuple:
        """The inputs of the op that made this tensor, as Tensors in argument order."""
        node = self._node
        return () if node is None else _parents(node)

    def __iter__(self):
        # Without this, iteration (and `a, b = t`) would probe t[len(t)] and get a ShapeError.
        return (self[i] for i in range(len(self)))

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (shares memory, requires no grad)."""
        data = self.values("detach()") if self._data is None else frozen(self._data)
        out = _leaf(data, self.label)
        if state.tracer is not None:
            state.tracer.detached(out, self, data)
        return out

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    # -- operators: one-liners into the op table -----------------------------------------
    def __add__(self, other):
        return _binary(table.ADD, self, other)

    def __radd__(self, other):
        return _binary(table.ADD, other, self)

    def __sub__(self, other):
        return _binary(table.SUB, self, other)

    def __rsub__(self, other):
        return _binary(table.SUB, other, self)

    def __mul__(self, other):
        return _binary(table.MUL, self, other)

    def __rmul__(self, other):
        return _binary(table.MUL, other, self)

    def __truediv__(self, other):
        return _binary(table.DIV, self, other)

    def __rtruediv__(self, other):
        return _binary(table.DIV, other, self)

    def __pow__(self, other):
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return apply(table.POW_CONST, self, p=other)  # a constant exponent: an attribute
        return apply(table.POW, self, other)

    def __rpow__(self, other):
        return apply(table.POW, other, self)

    def __matmul__(self, other):
        return _matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul(other, self)

    def __neg__(self):
        return apply(table.NEG, self)

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.values("indexing by a tensor")
        elif isinstance(index, list):
            index = np.asarray(index)
        return apply(table.GETITEM, self, index=index)

    @property
    def T(self):
        return self.transpose()

    def transpose(self, *axes):
        """Permute the axes (reverse them when none are given)."""
        axes = axes[0] if len(axes) == 1 else (axes or None)
        return apply(table.TRANSPOSE, self, axes=None if axes is None else tuple(axes))

    def reshape(self, *shape):
        """The same values in a new shape."""
        shape = shape[0] if len(shape) == 1 else shape
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        return apply(table.RESHAPE, self, shape=shape)

    def sum(self, axis=None, keepdims=False):
        """Sum over `axis` (all axes when None)."""
        return apply(table.SUM, self, axis=_axis(axis), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over `axis` (all axes when None)."""
        return apply(table.MEAN, self, axis=_axis(axis), keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        """Maximum over `axis`; ties share the gradient."""
        return apply(table.MAX, self, axis=_axis(axis), keepdims=keepdims)

    def astype(self, dtype):
        """Cast to `dtype`; the gradient is cast back."""
        return apply(table.ASTYPE, self, dtype=np.dtype(dtype))

    # -- autodiff ---------------------------------------------------------------------------
    def backward(self, grad=None, create_graph: bool = False, retain_grad: bool = False,
                 retain_graph: bool | None = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires grad.

        `grad` is the upstream gradient (needed unless self has one element). Each node's kept
        arrays are freed once its gradient is passed on, unless `retain_graph=True`.
        `create_graph=True` records the gradients (higher order; retains the graph);
        `retain_grad=True` keeps intermediate tensors' gradients too (for drawing)."""
        backprop([self], [grad], create_graph=create_graph, retain_grad=retain_grad,
                 retain_graph=retain_graph)


def backprop(roots, grads, inputs=None, create_graph=False, retain_grad=False,
             retain_graph=None):
    """Reverse-mode sweep from `roots` (with upstream `grads`).

    With `inputs=None`, gradients accumulate into the `.grad` of every leaf that requires
    grad. With `inputs` given, their gradients are returned instead (None where unreachable)
    and no `.grad` is touched. `create_graph=True` records the sweep; kept arrays are freed
    as it passes, unless `retain_graph` (default: `create_graph`)."""
    if state.tracer is not None:
        state.tracer.refuse("backward()")
    if retain_graph is None:
        retain_graph = create_graph
    bk = ENGINE_BACKEND if create_graph else table.NUMPY_BACKEND
    return backward.sweep(roots, grads, bk, inputs=inputs, retain_grad=retain_grad,
                          retain_graph=retain_graph, tensor_of=_tensor_of)


# ------------------------------------------------------------------------------------------
# Leaves, and tensors seen through the graph
# ------------------------------------------------------------------------------------------


def _init_leaf(t: Tensor, array, requires_grad: bool, label) -> None:
    t._data = array
    t.shape = array.shape
    t.grad = None
    t.requires_grad = requires_grad
    t._node = None
    t._label = label
    t._seq = next_seq()


def _leaf(array: np.ndarray, label=None) -> Tensor:
    """A constant leaf holding `array`: shared when already read-only, else a frozen copy."""
    if array.flags.writeable:
        # A read-only view of a caller's writable array would still change when the caller
        # writes to it, silently changing what backward reads: copy instead.
        array = frozen(array.copy())
    t = _new(Tensor)
    _init_leaf(t, array, False, label)
    return t


def _tensor_of(node: Node, data=None) -> Tensor:
    """The live Tensor of `node`, or one standing in for it (values: `data`, the kept output,
    or none), the same one for as long as someone holds it."""
    t = node()
    if t is None and node.stand_in is not None:
        t = node.stand_in()
    if t is None:
        t = _new(Tensor)
        t._data = node.output if data is None else data
        t.shape = node.shape
        t.grad = node.grad
        t.requires_grad = True
        t._node = node
        node.stand_in = _ref(t)
    return t


def _parents(node: Node) -> tuple:
    # Kept by the node: a walk that meets a parent twice meets the same Tensor (ids stay valid)
    if node.walked is not None:
        return node.walked
    parents = []
    for k, p in enumerate(node.inputs):
        if type(p) is Node:
            kept = node.input_data
            p = _tensor_of(p, kept[k] if kept is not None and kept is not FREED
                           else None)
        elif not isinstance(p, Tensor):  # a number operand: shown as the constant it was
            p = _leaf(frozen(np.array(p, dtype=node.dtype)))
            p._seq = node.seq - 0.5  # (made now, but sorts before the node that read it)
            node.inputs = (*node.inputs[:k], p, *node.inputs[k + 1:])
        parents.append(p)
    node.walked = tuple(parents)
    return node.walked


def as_tensor(x, dtype=None) -> Tensor:
    """`x` itself if it is a Tensor, else a constant leaf (Python numbers take `dtype`)."""
    if isinstance(x, Tensor):
        return x
    if dtype is not None and takes_dtype(x, np.dtype(dtype).kind):
        # A Python scalar takes the other operand's dtype, so float32 stays float32; a
        # float scalar with an integer tensor still gives float64, as in NumPy.
        return _leaf(frozen(np.array(x, dtype=dtype)))  # fresh: frozen without a copy
    array = np.asarray(x)
    check_numeric(array, None)
    return _leaf(array)


# ------------------------------------------------------------------------------------------
# Applying an op: where graph nodes are made (apply, and _binary for + - * /)
# ------------------------------------------------------------------------------------------

_new = object.__new__
_new_ref = weakref.ref.__new__
_ref = weakref.ref
_INT64 = (-(2**63), 2**63)  # Python ints NumPy takes as weak scalars
_F64 = np.dtype(np.float64)
_FLOAT64S: dict = {}  # Python floats as 0-d float64 arrays (see _float64)


def apply(op, *inputs, **attrs) -> Tensor:
    """Run table op `op` on tensors (or array-likes) and record the result in the graph.

    Python numbers among the inputs take the dtype of the first tensor among them.
    """
    if len(inputs) == 1:  # (the common case, kept short: one input)
        x = inputs[0]
        if not isinstance(x, Tensor):
            x = as_tensor(x)
            inputs = (x,)
        arrays = (x._data,)
        record = x.requires_grad
    else:
        for x in inputs:
            if not isinstance(x, Tensor):
                inputs = _lift(inputs)
                break
        record = False
        for x in inputs:
            if x.requires_grad:
                record = True
                break
        arrays = tuple([x._data for x in inputs])
    if op.float_only:
        for t in inputs:
            if t._data.dtype.kind != "f":
                raise TypeError(f"{op.name}: needs a floating-point input, got {describe(t)} "
                                f"of dtype {t.dtype}")
    try:
        out = op.forward(*arrays, **attrs)
    except (ValueError, IndexError) as exc:  # (numpy's AxisError is both)
        raise shape_error(op, inputs, exc) from None
    except TypeError:
        _check_kept(op, inputs)
        raise
    saved = None
    if op.saves:
        out, saved = out
    if type(out) is not np.ndarray:  # ufuncs on 0-d arrays return NumPy scalars
        out = np.asarray(out)
    t = _new(Tensor)
    t._data = out
    t.shape = shape = out.shape
    t.grad = None
    if record and state.grad_enabled:  # (as in _binary: keep the two alike)
        node = _new_ref(Node, t)
        node.creator = op
        node.inputs = (x._node or x,) if len(inputs) == 1 else \
            tuple([i._node or i for i in inputs])
        node.input_data = arrays if op.keeps_inputs else None
        node.output = out if op.keeps_output else None
        node.saved = saved
        node.label = node.grad = node.stand_in = node.walked = None
        node.attrs = attrs or None
        node.seq = next_seq()
        node.shape = shape
        node.dtype = out.dtype
        t.requires_grad = True
        t._node = node
    else:
        t.requires_grad = False
        t._node = None
        t._label = None
        t._seq = next_seq()
    if state.watched:
        watch(op, out, inputs, arrays, attrs or None, t)
    return t


def unary(op, x) -> Tensor:
    """`apply(op, x)` for an op of one input and no attributes (tanh, exp, ...), unrolled for
    the hot path (keep it alike with `apply` and `_binary`)."""
    data = x._data if isinstance(x, Tensor) else None
    if data is None or op.float_only and data.dtype.kind != "f":
        return apply(op, x)  # (a number, a value not kept, an integer: the general path)
    try:
        out = op.forward(data)
    except (ValueError, IndexError) as exc:
        raise shape_error(op, (x,), exc) from None
    if type(out) is not np.ndarray:  # ufuncs on 0-d arrays return NumPy scalars
        out = np.asarray(out)
    t = _new(Tensor)
    t._data = out
    t.shape = shape = out.shape
    t.grad = None
    if x.requires_grad and state.grad_enabled:
        node = _new_ref(Node, t)
        node.creator = op
        node.inputs = (x._node or x,)
        node.input_data = (data,) if op.keeps_inputs else None
        node.output = out if op.keeps_output else None
        node.attrs = node.saved = node.label = node.grad = node.stand_in = node.walked = None
        node.seq = next_seq()
        node.shape = shape
        node.dtype = out.dtype
        t.requires_grad = True
        t._node = node
    else:
        t.requires_grad = False
        t._node = None
        t._label = None
        t._seq = next_seq()
    if state.watched:
        watch(op, out, (x,), (data,), None, t)
    return t


def _lift(inputs) -> tuple:
    dtype = next((x._data.dtype for x in inputs if isinstance(x, Tensor)), None)
    return tuple(as_tensor(x, dtype) for x in inputs)


def _check_kept(op, inputs) -> None:
    for t in inputs:
        if t._data is None:
            t.values(f"an input of {op.name}")  # raises: the values were not kept


def _binary(op, a, b) -> Tensor:
    # `apply` unrolled for the hot path of every +, -, *, /: two inputs, no attributes (keep
    # the two alike). A Python number stays a number (NumPy keeps the tensor's dtype: NEP 50).
    number = 0  # which operand is a Python number: 0 none, 1 the left, 2 the right
    if isinstance(a, Tensor):
        x = a._data
        if isinstance(b, Tensor):
            y = b._data
            record = a.requires_grad or b.requires_grad
        else:
            kind = type(b)
            if kind is not float and (kind is not int or not _INT64[0] <= b < _INT64[1]):
                n = plain_number(b)  # (NumPy scalars become numbers; bools, arrays, ...: not)
                b = as_tensor(b, x.dtype) if n is None else n
                if isinstance(b, Tensor):
                    return _binary(op, a, b)
            y = _FLOAT64S.get(b) if kind is float and x.dtype is _F64 else b
            if y is None:
                y = _float64(b)
            record = a.requires_grad
            number = 2
    else:
        y = b._data
        kind = type(a)
        if kind is not float and (kind is not int or not _INT64[0] <= a < _INT64[1]):
            n = plain_number(a)
            a = as_tensor(a, y.dtype) if n is None else n
            if isinstance(a, Tensor):
                return _binary(op, a, b)
        x = _FLOAT64S.get(a) if kind is float and y.dtype is _F64 else a
        if x is None:
            x = _float64(a)
        record = b.requires_grad
        number = 1
    try:
        out = op.forward(x, y)
    except ValueError as exc:
        raise shape_error(op, (a, b), exc) from None
    except TypeError:
        _check_kept(op, [t for t in (a, b) if isinstance(t, Tensor)])
        raise
    if type(out) is not np.ndarray:  # ufuncs on 0-d arrays return NumPy scalars
        out = np.asarray(out)
    t = _new(Tensor)
    t._data = out
    t.shape = shape = out.shape
    t.grad = None
    if record and state.grad_enabled:
        node = _new_ref(Node, t)
        if number == 0:
            node.creator = op
            node.inputs = (a._node or a, b._node or b)
        elif number == 1:  # a number: the op's twin skips its gradient
            node.creator = op.number_left
            node.inputs = (a, b._node or b)
        else:
            node.creator = op.number_right
            node.inputs = (a._node or a, b)
        node.input_data = (x, y) if op.keeps_inputs else None
        node.output = out if op.keeps_output else None
        node.attrs = node.saved = node.label = node.grad = node.stand_in = node.walked = None
        node.seq = next_seq()
        node.shape = shape
        node.dtype = out.dtype
        t.requires_grad = True
        t._node = node
    else:
        t.requires_grad = False
        t._node = None
        t._label = None
        t._seq = next_seq()
    if state.watched:
        watch(op, out, (a, b), (a if number == 1 else x, b if number == 2 else y), None, t)
    return t


def _float64(n: float):
    """`n` as a read-only 0-d float64 array kept for reuse (or `n`, if not kept): beside a
    float64 array NumPy takes one faster than a Python float, to the same result (NEP 50)."""
    if not n or n != n or len(_FLOAT64S) >= 4096:  # (0.0 == -0.0; NaN != NaN)
        return n
    array = _FLOAT64S[n] = frozen(np.array(n, dtype=_F64))
    return array


def _matmul(a, b) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    if a._data.ndim == 0 or b._data.ndim == 0:
        raise ShapeError(f"matmul: scalars are not matrices: {describe(a)}, {describe(b)}")
    return _binary(table.MATMUL, a, b)


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# The backend whose helpers are recorded ops: VJP rules run on it under create_graph=True.
ENGINE_BACKEND = table.Backend("engine", run=apply, raw=array_of, lift=as_tensor, records=True)
