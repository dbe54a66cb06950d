"""What a tensor holds and how its values are read: `Values`, the Tensor's array half (every
read passes a running trace's check), read-only arrays, numeric dtypes, and plain numbers as
operands (they stay numbers: no Tensor, no gradient).
"""

from __future__ import annotations

import numbers

import numpy as np

from autograd_lite import state
from autograd_lite.errors import GradientError, describe

# Which Python scalars take the other operand's dtype, by that dtype's kind.
_SCALAR_FITS = {"f": numbers.Real, "c": numbers.Complex, "i": numbers.Integral,
                "u": numbers.Integral}
_INT64 = (-(2**63), 2**63)


def named(label) -> str:
    """` 'label'` for messages (empty without a label)."""
    return f" {label!r}" if label else ""


def check_numeric(array: np.ndarray, label) -> None:
    """Refuse arrays that are not numbers (strings, objects, dates)."""
    if array.dtype.kind not in "biufc":
        raise TypeError(f"Tensor{named(label)}: data must be numbers (bool, integer, "
                        f"floating-point or complex), got dtype {array.dtype}")


def frozen(array: np.ndarray) -> np.ndarray:
    """`array`, made read-only, so a later in-place write cannot silently corrupt what
    backward will read: numpy raises "assignment destination is read-only"."""
    array.setflags(write=False)
    return array


def takes_dtype(x, kind: str) -> bool:
    """Whether the Python scalar `x` takes the dtype of a tensor of `kind` (as NumPy does)."""
    if type(x) is float:  # the common case, decided first
        return kind in "fc"
    return not isinstance(x, bool) and isinstance(x, _SCALAR_FITS.get(kind, ()))


def plain_number(x):
    """`x` as a Python float or int when it can be an operand as it is, else None.

    NumPy treats Python numbers as "weak" (NEP 50): float32 stays float32, and a float with
    an integer tensor gives float64, exactly what a constant of the tensor's dtype gives.
    NumPy scalars become Python numbers (their exact values); bools, complex numbers and
    integers beyond int64 are left to the general path.
    """
    kind = type(x)
    if kind is float or (kind is int and _INT64[0] <= x < _INT64[1]):
        return x
    if isinstance(x, (np.floating, np.integer)) and not isinstance(x, np.longdouble):
        return plain_number(x.item())
    return None


def array_of(x):
    """The array in `x`: a tensor's values (a read, checked by a trace), or `x` itself."""
    return x.values("a comparison") if isinstance(x, Values) else x


class Values:
    """The array half of a Tensor: its slots, and every way its values are read.

    `.data`, `.numpy()`, `.item()`, `np.asarray(t)` and comparisons all go through `values`,
    which a running trace (`autograd_lite.compile`) checks for data-dependent code, and which
    makes the array read-only before handing it out (the engine writes to none it made). Values
    that no backward rule reads are not kept for tensors reached only through the graph.
    """

    # `shape` is a plain field (read on every backward step), set wherever `_data` is.
    __slots__ = ("_data", "shape", "grad", "requires_grad", "_node", "_label", "_seq",
                 "__weakref__")
    __array_priority__ = 1000  # ndarray OP Tensor defers to Tensor's reflected operator

    @property
    def data(self) -> np.ndarray:
        """The values (a read-only ndarray)."""
        return self.values("data")

    @data.setter
    def data(self, array) -> None:
        if state.tracer is not None:
            state.tracer.mutated(self)
        self._data = array
        self.shape = array.shape

    def values(self, what: str = "data") -> np.ndarray:
        """The values; `what` names the access in errors (a trace refuses data-dependence)."""
        d = self._data
        if d is None:
            raise GradientError(f"{describe(self)}: its values were not kept (no backward rule "
                                f"reads them); hold a reference to the tensor to read them")
        if state.tracer is not None:
            state.tracer.read(self, what)
        if d.flags.writeable:  # an op's fresh output is made read-only when first handed out
            d.setflags(write=False)
        return d

    @property
    def dtype(self):
        d = self._data
        return self._node.dtype if d is None else d.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0] if self.shape else len(self._data)  # (0-d: numpy's TypeError)

    def __bool__(self):
        # Data-dependent control flow is refused on purpose: the graph would not record it.
        raise TypeError(f"the truth value of a Tensor is not defined ({describe(self)}); use "
                        f".item() for a number, or compare arrays with .data")

    def __repr__(self) -> str:
        extra = f", label={self.label!r}" if self.label else ""
        extra += ", requires_grad=True" if self.requires_grad else ""
        values = "<not kept>" if self._data is None else \
            np.array2string(self._data, precision=4, threshold=8)
        return f"Tensor({values}{extra})"

    def __array__(self, dtype=None, copy=None):
        data = self.values("np.asarray(tensor)")
        if copy:  # np.array(t) asks for a copy: give a writable one
            return np.array(data, dtype=dtype, copy=True)
        return data if dtype is None else data.astype(dtype)

    def numpy(self) -> np.ndarray:
        """The value as a (read-only) ndarray."""
        return self.values("numpy()")

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self.values("item()").item()

    # Comparisons give plain boolean arrays: they have no gradient.
    def __lt__(self, other):
        return self.values("a comparison") < array_of(other)

    def __le__(self, other):
        return self.values("a comparison") <= array_of(other)

    def __gt__(self, other):
        return self.values("a comparison") > array_of(other)

    def __ge__(self, other):
        return self.values("a comparison") >= array_of(other)

    def __eq__(self, other):
        return self.values("a comparison") == array_of(other)

    def __ne__(self, other):
        return self.values("a comparison") != array_of(other)

    __hash__ = object.__hash__  # tensors are graph nodes: hashed by identity
