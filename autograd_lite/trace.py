"""Tracing a function once for `autograd_lite.compile`: every op it applies, what each value is
(an argument, a parameter read at replay, a constant, an op's output), and a clear error at
the line where Python would read a traced value (a replay never re-runs that Python)."""

from __future__ import annotations

import inspect
import linecache
import os

import numpy as np

from autograd_lite import state
from autograd_lite.errors import CompileError, describe
from autograd_lite.table import Op

ARG, EXTERN, CONST, OP = "argument", "extern", "constant", "op"
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


class Value:
    """One value of a traced program: its `kind`, shape, dtype, whether it requires grad,
    whether it changes from call to call (`dynamic`), and its `label`. `source` is the flat
    argument position (ARG), the Tensor read at replay (EXTERN), the array or Python number
    (CONST), or the index of the instruction that makes it (OP)."""

    __slots__ = ("kind", "source", "shape", "dtype", "requires_grad", "dynamic", "label")

    def __init__(self, kind, source, shape, dtype, requires_grad, dynamic, label=None):
        self.kind, self.source, self.shape, self.dtype = kind, source, shape, dtype
        self.requires_grad, self.dynamic, self.label = requires_grad, dynamic, label

    @property
    def ndim(self) -> int:
        return len(self.shape)


class Instr:
    """One op application: `op` on the values in slots `inputs`, with `attrs`, into `out`."""

    __slots__ = ("op", "inputs", "attrs", "out")

    def __init__(self, op, inputs, attrs, out):
        self.op, self.inputs, self.attrs, self.out = op, inputs, attrs, out


def user_line(skip_engine: bool = True) -> str:
    """`file:line (source)` of the innermost frame outside the engine package."""
    frame = inspect.currentframe()
    while frame is not None and (frame.f_code.co_filename.startswith(_PACKAGE) and skip_engine):
        frame = frame.f_back
    if frame is None:
        return "an unknown line"
    path, line = frame.f_code.co_filename, frame.f_lineno
    text = linecache.getline(path, line).strip()
    return f"{os.path.basename(path)}:{line}" + (f" (`{text}`)" if text else "")


class Trace:
    """What one traced call did, recorded as it happened (see `state.tracing`).

    `values` (slot -> Value) and `instrs` grow as ops run; a value made from arguments or
    parameters is dynamic, one made only from constants is folded into a constant.
    """

    def __init__(self, name: str, arguments):
        self.name = name
        self.start = state.next_seq()  # tensors numbered from here on were made by the trace
        self.values: list[Value] = []
        self.instrs: list[Instr] = []
        self.slot_of: dict[int, int] = {}  # id(tensor or node) -> slot
        self.keep: list = []  # every tensor seen, kept alive so that ids stay unique
        self.externs: list = []  # the tensors read at replay by identity (parameters, ...)
        self.args = []
        for k, t in enumerate(arguments):
            self.args.append(self._add(t, Value(ARG, k, t.shape, t.dtype, t.requires_grad, True,
                                                t.label)))

    # -- recording ------------------------------------------------------------------------
    def _add(self, t, value) -> int:
        slot = len(self.values)
        self.values.append(value)
        self.slot_of[id(t)] = slot
        node = t.node
        if node is not None:
            self.slot_of[id(node)] = slot
        self.keep.append(t)
        return slot

    def slot(self, x, array) -> int:
        """The slot of op input `x` (a Tensor or a number; `array`: the values the op read)."""
        if not hasattr(x, "requires_grad"):  # a Python number: a constant operand
            self.values.append(Value(CONST, x, (), None, False, False))
            return len(self.values) - 1
        slot = self.slot_of.get(id(x))
        if slot is None and x.node is not None:
            slot = self.slot_of.get(id(x.node))  # (a tensor standing in for a traced node)
        if slot is not None:
            return slot
        if x.seq < self.start:  # made before the call: read again at every replay
            self.externs.append(x)
            return self._add(x, Value(EXTERN, x, x.shape, x.dtype, x.requires_grad, True,
                                      x.label))
        if x.requires_grad:
            raise CompileError(
                f"compile({self.name}): the function creates {describe(x)}, a tensor that "
                f"requires grad, at {user_line()}; create it outside and pass it in (or use "
                f"it from the enclosing scope), so that its gradient can be returned")
        # A leaf made inside the function: its values are captured now, once.
        return self._add(x, Value(CONST, array, array.shape, array.dtype, False, False,
                                  x.label))

    def op(self, op, inputs, arrays, attrs, t, out) -> None:
        """Record one op application: `t` (values `out`) = op(inputs) (called by the engine
        for every tensor an op makes)."""
        ins = tuple(self.slot(x, a) for x, a in zip(inputs, arrays))
        if not any(self.values[s].dynamic for s in ins):  # constants in: a constant out
            self._add(t, Value(CONST, out, out.shape, out.dtype, False, False))
            return
        slot = self._add(t, Value(OP, len(self.instrs), out.shape, out.dtype, t.requires_grad,
                                  True))
        self.instrs.append(Instr(op, ins, attrs, slot))

    def detached(self, out, source, array) -> None:
        """`out = source.detach()` (values `array`): the same values, with no gradient."""
        self._derived(out, source, array, DETACH, None)

    def copied(self, out, source, array) -> None:
        """`out = Tensor(source)` (values `array`): a copy, with no gradient."""
        if out.requires_grad and self.is_dynamic(source):
            raise CompileError(
                f"compile({self.name}): the function makes a tensor that requires grad from "
                f"the values of {describe(source)} at {user_line()}; a replay cannot give "
                f"it a gradient. Use the tensor itself (or make the new one outside)")
        self._derived(out, source, array, COPY, {"dtype": array.dtype})

    def _derived(self, out, source, array, op, attrs) -> None:
        if self.is_dynamic(source):
            slot = self.slot(source, array)
            new = self._add(out, Value(OP, len(self.instrs), array.shape, array.dtype, False,
                                       True))
            self.instrs.append(Instr(op, (slot,), attrs, new))

    def finish_labels(self) -> None:
        """Labels set after an op ran (`named(t, "f_t")`) are read once the call is done."""
        for t in self.keep:
            slot = self.slot_of[id(t)]
            if self.values[slot].label is None:
                self.values[slot].label = t.label

    # -- refusals -----------------------------------------------------------------------
    def is_dynamic(self, t) -> bool:
        """Whether `t`'s values can change from call to call."""
        slot = self.slot_of.get(id(t))
        if slot is None and t.node is not None:
            slot = self.slot_of.get(id(t.node))
        if slot is not None:
            return self.values[slot].dynamic
        return t.seq < self.start  # made before the call: a parameter, an outside tensor

    def read(self, t, what: str) -> None:
        """A read of `t`'s values by Python (`.data`, `.item()`, a comparison, ...)."""
        if self.is_dynamic(t):
            raise CompileError(
                f"compile({self.name}): the function reads the values of {describe(t)} "
                f"through {what} at {user_line()}. A compiled function replays its ops "
                f"without running its Python again, so a branch or a number taken from a "
                f"tensor's values would stay as they were at the first call. Move this out of "
                f"the compiled function, or compute it with ops (where, max, ...)")

    def mutated(self, t) -> None:
        raise CompileError(
            f"compile({self.name}): the function changes the values of {describe(t)} "
            f"(assign, sub_ or .data =) at {user_line()}; a replay would not do it again. "
            f"Update parameters outside the compiled function (e.g. optimizer.step())")

    def refuse(self, what: str) -> None:
        raise CompileError(
            f"compile({self.name}): the function calls {what} at {user_line()}; compile the "
            f"function that computes the loss, and call backward() on what it returns")


def _no_gradient(bk, g, out, a):
    return (None,)


# `x.detach()` and `Tensor(x)` inside a traced function: the values pass (as they are, or
# copied), the gradient does not. (Ops made without registering them: they are not
# primitives of the table, only steps of a program.)
DETACH = Op("detach", lambda a: a, _no_gradient, needs="none", broadcasts=False)
COPY = Op("copy", lambda a, dtype: np.array(a, dtype=dtype), _no_gradient, needs="none",
          broadcasts=False)
