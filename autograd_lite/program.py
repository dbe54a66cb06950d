"""A traced function as a flat NumPy program, for `autograd_lite.compile`.

The forward runs the traced ops in order, writing into preallocated buffers (`out=`) that are
shared once a value is dead; the backward runs the table's own rules from a plan made once:
which gradients to add up, where to un-broadcast, what each rule reads. The whole program is
one op of the engine (`Program.op`), so its outputs are ordinary tensors and `backward()`
reaches the parameters and arguments exactly as the eager graph would.
"""

from __future__ import annotations

import numpy as np

from autograd_lite import kernels, table
from autograd_lite.errors import CompileError, ShapeError
from autograd_lite.table import Op
from autograd_lite.trace import ARG, CONST, EXTERN, OP

# Ops that can write into a given array: into(out, *inputs, **attrs). Elementwise ones may
# write over an input of the same shape (`INPLACE`): a value that dies at that op.
INTO = {
    table.ADD: lambda out, a, b: np.add(a, b, out=out),
    table.SUB: lambda out, a, b: np.subtract(a, b, out=out),
    table.MUL: lambda out, a, b: np.multiply(a, b, out=out),
    table.DIV: lambda out, a, b: np.divide(a, b, out=out),
    table.NEG: lambda out, a: np.negative(a, out=out),
    table.EXP: lambda out, a: np.exp(a, out=out),
    table.LOG: lambda out, a: np.log(a, out=out),
    table.TANH: lambda out, a: np.tanh(a, out=out),
    table.SIGMOID: lambda out, a: kernels.sigmoid(a, out=out),
    table.POW_CONST: lambda out, a, p: np.power(a, p, out=out),
    table.MATMUL: lambda out, a, b: np.matmul(a, b, out=out),
    table.CONCAT: lambda out, *xs, axis=0: np.concatenate(xs, axis=axis, out=out),
    table.STACK: lambda out, *xs, axis=0: np.stack(xs, axis=axis, out=out),
}
INPLACE = {table.ADD, table.SUB, table.MUL, table.DIV, table.NEG, table.EXP, table.LOG,
           table.TANH, table.SIGMOID, table.POW_CONST}
_NEVER = float("inf")


class Run:
    """One call of a program: its values, kept for backward. The buffers go back to the
    program's pool when the run is dropped (after backward, or with its graph)."""

    __slots__ = ("program", "frame", "values", "extras")

    def __init__(self, program, frame, values, extras):
        self.program, self.frame, self.values, self.extras = program, frame, values, extras

    def __del__(self):
        if self.frame is not None:
            self.program.release(self.frame)


class Program:
    """The replayable form of one trace (see `autograd_lite.compile`).

    `inputs` are the slots read at each call (arguments, then outside tensors such as
    parameters), `outputs` the slots returned. `op` runs it: op(*input arrays) gives the
    differentiable outputs packed into one array, and its rule gives the inputs' gradients.
    """

    def __init__(self, trace, outputs, name: str, differentiable: bool):
        self.name = name
        self.values = trace.values
        self.outputs = list(outputs)
        self.arg_slots = list(trace.args)
        self.externs = list(trace.externs)
        self.extern_slots = [trace.slot_of[id(t)] for t in self.externs]
        self.inputs = self.arg_slots + self.extern_slots
        self.instrs = _live(trace.instrs, self.values, self.outputs)
        diff = [s for s in self.outputs if self.values[s].requires_grad and differentiable]
        self.packed = diff  # the outputs that carry gradient, packed into the op's output
        dtypes = {self.values[s].dtype for s in diff}
        if len(dtypes) > 1:
            raise CompileError(f"compile({name}): the outputs that require grad have several "
                               f"dtypes ({', '.join(sorted(map(str, dtypes)))}); return "
                               f"them from separate compiled functions")
        self.bsteps = _backward_plan(self.instrs, self.values, diff) if diff else []
        saved = _saved_slots(self.bsteps, self.values)
        self.steps, self.buffers = _forward_plan(self.instrs, self.values, saved | set(diff),
                                                 set(self.outputs))
        self.template = [v.source if v.kind == CONST else None for v in self.values]
        kept = saved | set(self.inputs)
        self.drop = [ins.out for ins in self.instrs if ins.out not in kept]
        self.last: dict = {}
        self.idle: list = []  # frames (buffer lists) ready for the next call
        self.op = Op(f"compiled {name}", self.forward, self.vjp, saves=True,
                     higher_order=False, needs="none", broadcasts=False)

    # -- buffers --------------------------------------------------------------------------
    def _frame(self) -> list:
        if self.idle:
            return self.idle.pop()
        return [np.empty(shape, dtype) for shape, dtype in self.buffers]

    def release(self, frame) -> None:
        """Take back a frame whose run is over (one idle frame is kept for the next call)."""
        if not self.idle:
            self.idle.append(frame)

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame: the buffers a call writes into (held between calls)."""
        return sum(int(np.prod(s)) * np.dtype(d).itemsize for s, d in self.buffers)

    # -- forward --------------------------------------------------------------------------
    def forward(self, *arrays):
        """Run the program on the input arrays: (packed differentiable outputs, Run)."""
        frame = self._frame()
        values = list(self.template)
        for slot, a in zip(self.inputs, arrays):
            values[slot] = a
        extras = {}
        try:
            for run_step in self.steps:
                run_step(values, frame, extras)
        except (ValueError, IndexError) as exc:  # (an op's own check, e.g. ids out of range)
            self.release(frame)
            raise ShapeError(f"{self.op.name}: {exc}") from None
        except BaseException:
            self.release(frame)
            raise
        # Outputs leave as copies (the frame is reused next call): those that carry gradient
        # packed into the op's output, the others kept aside for `compile` to hand back.
        if not self.packed:
            packed = np.zeros(0)
        elif len(self.packed) == 1:
            packed = np.array(values[self.packed[0]])
        else:
            packed = np.concatenate([np.ravel(values[s]) for s in self.packed])
        self.last = {s: np.array(values[s]) for s in self.outputs if s not in self.packed}
        for s in self.drop:  # what backward does not read can go now
            values[s] = None
        return packed, Run(self, frame, values, extras)

    def unpack(self, packed) -> dict:
        """Slot -> array for the packed outputs (views into `packed`)."""
        if len(self.packed) == 1:
            return {self.packed[0]: packed}
        out, start = {}, 0
        for s in self.packed:
            v = self.values[s]
            size = int(np.prod(v.shape))
            out[s] = packed[start:start + size].reshape(v.shape)
            start += size
        return out

    # -- backward -------------------------------------------------------------------------
    def vjp(self, bk, g, out, *inputs, saved):
        """Gradients of the program's inputs, given the packed outputs' gradient `g`."""
        values, extras = saved.values, saved.extras
        grads = [None] * len(self.values)
        owned = [False] * len(self.values)
        for slot, part in self.unpack(g).items():
            grads[slot] = part
        sum_to = table.NUMPY_BACKEND.sum_to
        for out_slot, op, attrs, args_of, keep_out, targets in self.bsteps:
            gr = grads[out_slot]
            if gr is None:
                continue
            grads[out_slot] = None  # (consumed: its memory can go)
            args = [values[a] for a in args_of] if op.keeps_inputs else args_of
            res = values[out_slot] if keep_out else None
            if op.saves:
                pgs = op.vjp(bk, gr, res, *args, saved=extras[out_slot], **(attrs or {}))
            elif attrs:
                pgs = op.vjp(bk, gr, res, *args, **attrs)
            else:
                pgs = op.vjp(bk, gr, res, *args)
            for k, slot, shape in targets:
                pg = pgs[k]
                if pg is None:
                    continue
                if shape is not None and pg.shape != shape:  # undo broadcasting
                    pg = sum_to(pg, shape)
                prev = grads[slot]
                if prev is None:
                    grads[slot] = pg
                elif owned[slot] and prev.dtype == pg.dtype:
                    prev += pg  # a sum made here that nothing else holds
                else:
                    total = grads[slot] = prev + pg
                    owned[slot] = type(total) is np.ndarray
        return tuple(grads[s] for s in self.inputs)

    # -- checks ---------------------------------------------------------------------------
    def stale(self) -> str | None:
        """Why the outside tensors no longer match the trace (None: they still do)."""
        for t, slot in zip(self.externs, self.extern_slots):
            v = self.values[slot]
            if t.shape != v.shape or t.dtype != v.dtype or t.requires_grad != v.requires_grad:
                return (f"{t.label or 'a tensor'} read from outside changed from "
                        f"{v.shape} {v.dtype} requires_grad={v.requires_grad} to {t.shape} "
                        f"{t.dtype} requires_grad={t.requires_grad}")
        return None


# ------------------------------------------------------------------------------------------
# Planning
# ------------------------------------------------------------------------------------------


def _live(instrs, values, outputs) -> list:
    """The instructions the outputs depend on, in order (the rest is never run)."""
    needed = set(outputs)
    live = []
    for ins in reversed(instrs):
        if ins.out in needed:
            live.append(ins)
            needed.update(ins.inputs)
    return live[::-1]


def _backward_plan(instrs, values, seeds) -> list:
    """Per instruction that gets a gradient, newest first: (out slot, op, attrs, what the
    rule reads (slots or stand-ins), whether it reads the output, where its results go)."""
    reached = set(seeds)
    steps = []
    for ins in reversed(instrs):
        op = ins.op
        if ins.out not in reached or not values[ins.out].requires_grad:
            continue
        targets = []
        for k, s in enumerate(ins.inputs):
            v = values[s]
            if v.requires_grad:
                reached.add(s)
                targets.append((k, s, v.shape if op.broadcasts else None))
        if not targets:
            continue
        if op.keeps_inputs:
            args = tuple(ins.inputs)  # slots: the arrays the forward read
        else:  # stand-ins with shape, ndim and dtype (numbers stay numbers)
            args = tuple(values[s].source if values[s].dtype is None else values[s]
                         for s in ins.inputs)
        steps.append((ins.out, op, ins.attrs, args, op.keeps_output, tuple(targets)))
    return steps


def _saved_slots(bsteps, values) -> set:
    saved = set()
    for out, op, attrs, args, keep_out, targets in bsteps:
        if keep_out:
            saved.add(out)
        if op.keeps_inputs:
            saved.update(args)
    return saved


def _forward_plan(instrs, values, keep, outputs):
    """Run steps for the instructions, and the buffers they write into.

    A value lives in a buffer from its op to its last reader; then the buffer serves the next
    value of the same shape and dtype. Values backward reads (`keep`) and outputs keep
    theirs for the whole call. An op that is not written `into` a buffer may return a view of
    an input, so its result keeps its inputs' buffers alive as long as it lives.
    """
    roots: dict[int, set] = {}  # slot -> the buffers its memory may belong to
    buffer_of: dict[int, int] = {}
    for ins in instrs:
        if ins.op in INTO:
            roots[ins.out] = {ins.out}
        else:
            roots[ins.out] = set().union(*(roots.get(s, set()) for s in ins.inputs))
    last: dict[int, float] = {}  # buffer owner slot -> index of its last reader
    for i, ins in enumerate(instrs):
        for s in ins.inputs:
            for r in roots.get(s, ()):
                last[r] = max(last.get(r, -1), i)
    for slot in keep | outputs:
        for r in roots.get(slot, ()):
            last[r] = _NEVER
    free: dict[tuple, list] = {}  # (shape, dtype) -> buffers no live value uses
    dying: dict[int, list] = {}  # instruction index -> buffer owners it reads last
    for r, i in last.items():
        if i != _NEVER:
            dying.setdefault(i, []).append(r)
    shapes = []
    steps = []
    for i, ins in enumerate(instrs):
        v = values[ins.out]
        into = INTO.get(ins.op)
        if into is not None:
            key = (v.shape, v.dtype)
            pool = free.setdefault(key, [])
            reuse = None
            if ins.op in INPLACE:  # write over an input buffer that dies here
                for s in ins.inputs:
                    if roots.get(s) == {s} and last.get(s) == i and \
                            (values[s].shape, values[s].dtype) == key:
                        reuse = buffer_of[s]
                        break
            if reuse is None and pool:
                reuse = pool.pop()
            if reuse is None:
                reuse = len(shapes)
                shapes.append(key)
            buffer_of[ins.out] = reuse
            steps.append(_into_step(into, ins, reuse))
        else:
            steps.append(_plain_step(ins))
        for r in dying.get(i, ()):  # buffers whose last reader was this op are free again
            b = buffer_of.get(r)
            if b is not None and b != buffer_of.get(ins.out):
                free.setdefault(shapes[b], []).append(b)
    return steps, shapes


def _into_step(into, ins, buffer: int):
    a = ins.inputs
    o, attrs = ins.out, ins.attrs or {}
    if len(a) == 1 and not attrs:
        i0 = a[0]

        def step(v, frame, extras):
            v[o] = into(frame[buffer], v[i0])
    elif len(a) == 2 and not attrs:
        i0, i1 = a

        def step(v, frame, extras):
            v[o] = into(frame[buffer], v[i0], v[i1])
    else:
        def step(v, frame, extras):
            v[o] = into(frame[buffer], *[v[s] for s in a], **attrs)
    return step


def _plain_step(ins):
    op, a, o, attrs = ins.op, ins.inputs, ins.out, ins.attrs or {}
    forward = op.forward
    if op.saves:
        def step(v, frame, extras):
            v[o], extras[o] = forward(*[v[s] for s in a], **attrs)
    elif len(a) == 1:
        i0 = a[0]

        def step(v, frame, extras):
            v[o] = forward(v[i0], **attrs)
    else:
        def step(v, frame, extras):
            v[o] = forward(*[v[s] for s in a], **attrs)
    return step


__all__ = ["Program", "Run", "INTO", "INPLACE", "ARG", "EXTERN", "CONST", "OP"]
