"""The Tensor: an ndarray with a place in the computation graph, and the one way nodes are made.

Operators and methods are one-liners into the op table (`autograd_lite.table`); `apply` runs
any table op; the backward walk lives in `autograd_lite.backward`.
"""

from __future__ import annotations

import numbers

import numpy as np

from autograd_lite import backward, state, table
from autograd_lite.errors import AnomalyError, GradientError, ShapeError, describe
from autograd_lite.kernels import total_norm
from autograd_lite.state import detect_anomaly, is_grad_enabled, next_seq, no_grad

__all__ = [
    "Tensor", "as_tensor", "apply", "backprop", "ENGINE_BACKEND", "describe", "total_norm",
    "ShapeError", "GradientError", "AnomalyError", "no_grad", "is_grad_enabled",
    "detect_anomaly",
]


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    `Tensor(data)` copies `data` (numbers only). `.data` is read-only, so no in-place write
    can change what backward will read; to update a parameter use `Parameter.sub_` or
    `Parameter.assign`. Gradients land in `.grad` (an ndarray of the same shape and dtype)
    when `.backward()` runs. Node fields, set by the op that made the tensor: `creator` (the
    Op; None for a leaf), `parents` (in argument order), `parent_data` (the arrays the
    forward read), `attrs`, `saved` (what a fused forward kept) and `seq` (creation number).
    """

    __slots__ = ("data", "grad", "requires_grad", "label", "is_parameter", "creator", "parents",
                 "parent_data", "attrs", "saved", "seq", "__weakref__")
    __array_priority__ = 1000  # ndarray OP Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, label: str | None = None, dtype=None):
        array = np.array(data.data if isinstance(data, Tensor) else data, dtype=dtype)  # a copy
        _check_numeric(array, label)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(
                f"Tensor{_named(label)}: only floating-point tensors can require grad, got "
                f"dtype {array.dtype} with shape {array.shape}"
            )
        self._fill(_frozen(array), bool(requires_grad), label)

    def _fill(self, data, requires_grad, label, creator=None, parents=(), parent_data=None,
              attrs=None, saved=None):
        """Set every slot: the one place it happens (constructor, leaves and op outputs)."""
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.label = label
        self.is_parameter = False
        self.creator = creator
        self.parents = parents
        self.parent_data = parent_data
        self.attrs = attrs
        self.saved = saved
        self.seq = next_seq()

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
        return None if self.creator is None else self.creator.name

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self):
        # Data-dependent control flow is refused on purpose: the graph would not record it.
        raise TypeError(f"the truth value of a Tensor is not defined ({describe(self)}); use "
                        f".item() for a number, or compare arrays with .data")

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
        return _binary(table.POW, self, other)

    def __rpow__(self, other):
        return _binary(table.POW, other, self)

    def __matmul__(self, other):
        return _matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul(other, self)

    def __neg__(self):
        return apply(table.NEG, self)

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, list):
            index = np.asarray(index)
        return apply(table.GETITEM, self, index=index)

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
    def backward(self, grad=None, create_graph: bool = False, retain_grad: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires grad.

        `grad` is the upstream gradient (required unless self has one element). With
        `create_graph=True` gradients are Tensors recorded in the graph (for higher order);
        with `retain_grad=True` intermediate tensors keep their gradient too (for drawing).
        """
        backprop([self], [grad], create_graph=create_graph, retain_grad=retain_grad)


def backprop(roots, grads, inputs=None, create_graph=False, retain_grad=False):
    """Reverse-mode sweep from `roots` (with upstream `grads`).

    With `inputs=None`, gradients accumulate into the `.grad` of every leaf that requires
    grad. With `inputs` given, their gradients are returned instead (None where unreachable)
    and no `.grad` is touched. With `create_graph=True` the sweep is itself recorded.
    """
    bk = ENGINE_BACKEND if create_graph else table.NUMPY_BACKEND
    return backward.sweep(roots, grads, bk, inputs=inputs, retain_grad=retain_grad)


# ------------------------------------------------------------------------------------------
# Leaves
# ------------------------------------------------------------------------------------------


def _named(label) -> str:
    return f" {label!r}" if label else ""


def _check_numeric(array: np.ndarray, label) -> None:
    if array.dtype.kind not in "biufc":
        raise TypeError(f"Tensor{_named(label)}: data must be numbers (bool, integer, "
                        f"floating-point or complex), got dtype {array.dtype}")


def _frozen(array: np.ndarray) -> np.ndarray:
    # Arrays kept in the graph are read-only, so a later in-place write cannot silently
    # corrupt what backward will read: numpy raises "assignment destination is read-only".
    array.setflags(write=False)
    return array


def _leaf(array: np.ndarray, label=None) -> Tensor:
    """A constant leaf holding `array`: shared when already read-only, else a frozen copy."""
    if array.flags.writeable:
        # A read-only view of a caller's writable array would still change when the caller
        # writes to it, silently changing what backward reads: copy instead.
        array = _frozen(array.copy())
    t = Tensor.__new__(Tensor)
    t._fill(array, False, label)
    return t


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


# Which Python scalars take the other operand's dtype, by that dtype's kind.
_SCALAR_FITS = {"f": numbers.Real, "c": numbers.Complex, "i": numbers.Integral,
                "u": numbers.Integral}


def _takes_dtype(x, kind: str) -> bool:
    if type(x) is float:  # the common case, decided first
        return kind in "fc"
    return not isinstance(x, bool) and isinstance(x, _SCALAR_FITS.get(kind, ()))


def as_tensor(x, dtype=None) -> Tensor:
    """`x` itself if it is a Tensor, else a constant leaf (Python numbers take `dtype`)."""
    if isinstance(x, Tensor):
        return x
    if dtype is not None and _takes_dtype(x, np.dtype(dtype).kind):
        # A Python scalar takes the other operand's dtype, so float32 stays float32; a
        # float scalar with an integer tensor still gives float64, as in NumPy.
        return _leaf(_frozen(np.array(x, dtype=dtype)))  # fresh: frozen without a copy
    array = np.asarray(x)
    _check_numeric(array, None)
    return _leaf(array)


# ------------------------------------------------------------------------------------------
# Applying an op: the one place where graph nodes are made
# ------------------------------------------------------------------------------------------


def _node(op, out, parents, arrays, attrs=None, saved=None) -> Tensor:
    # `arrays` are the parents' arrays the forward read: backward reads exactly these.
    if type(out) is not np.ndarray:  # ufuncs on 0-d arrays return NumPy scalars
        out = np.asarray(out)
    out.setflags(write=False)  # (setflags: a third faster than flags.writeable = False)
    t = Tensor.__new__(Tensor)
    recorded = False
    if state.grad_enabled:
        for p in parents:
            if p.requires_grad:
                recorded = True
                break
    if recorded:
        t._fill(out, True, None, op, parents, arrays, attrs, saved)
    else:
        t._fill(out, False, None)
    if state.anomaly and not np.all(np.isfinite(out)):
        # The new node has no label yet: name the op and the inputs it was given.
        bad = "NaN" if np.any(np.isnan(out)) else "Inf"
        names = ", ".join(describe(p) for p in parents)
        raise AnomalyError(f"{bad} in the output of {op.name} (inputs {names})")
    return t


def _shape_error(op, inputs, exc) -> ShapeError:
    names = ", ".join(describe(t) for t in inputs)
    return ShapeError(f"{op.name}: inputs do not fit: {names} ({exc})")


def apply(op, *inputs, **attrs) -> Tensor:
    """Run table op `op` on tensors (or array-likes) and record the result in the graph.

    Python numbers among the inputs take the dtype of the first tensor among them.
    """
    if len(inputs) == 1:  # (the common case, kept short: one input, nothing to lift)
        if not isinstance(inputs[0], Tensor):
            inputs = (as_tensor(inputs[0]),)
        arrays = (inputs[0].data,)
    else:
        for x in inputs:
            if not isinstance(x, Tensor):
                inputs = _lift(inputs)
                break
        arrays = [t.data for t in inputs]
    if op.float_only:
        for t in inputs:
            if t.data.dtype.kind != "f":
                raise TypeError(f"{op.name}: needs a floating-point input, got {describe(t)} "
                                f"of dtype {t.dtype}")
    try:
        out = op.forward(*arrays, **attrs)
    except (ValueError, IndexError) as exc:  # (numpy's AxisError is both)
        raise _shape_error(op, inputs, exc) from None
    if op.saves:
        out, saved = out
        return _node(op, out, inputs, arrays, attrs or None, saved)
    return _node(op, out, inputs, arrays, attrs or None)


def _lift(inputs) -> tuple:
    dtype = next((x.data.dtype for x in inputs if isinstance(x, Tensor)), None)
    return tuple(as_tensor(x, dtype) for x in inputs)


def _binary(op, a, b) -> Tensor:
    # `apply` unrolled for the hot path of every +, -, *, /, @: two inputs, no attributes.
    if not isinstance(a, Tensor):  # (isinstance: a Parameter is a Tensor too)
        a = as_tensor(a, b.data.dtype)
    elif not isinstance(b, Tensor):
        b = as_tensor(b, a.data.dtype)
    x, y = a.data, b.data
    try:
        out = op.forward(x, y)
    except ValueError as exc:
        raise _shape_error(op, (a, b), exc) from None
    return _node(op, out, (a, b), (x, y))


def _matmul(a, b) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    if a.data.ndim == 0 or b.data.ndim == 0:
        raise ShapeError(f"matmul: scalars are not matrices: {describe(a)}, {describe(b)}")
    return _binary(table.MATMUL, a, b)


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# The backend whose helpers are recorded ops: VJP rules run on it under create_graph=True.
ENGINE_BACKEND = table.Backend("engine", run=apply, raw=_raw, lift=as_tensor, records=True)
