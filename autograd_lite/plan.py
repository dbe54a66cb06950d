"""Planning a compiled program's forward: which instructions run, which buffer each value is
written into (`out=`), and when a buffer is free again for the next value of its shape."""

from __future__ import annotations

import numpy as np

from autograd_lite import kernels, table

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
NEVER = float("inf")


class Buffers:
    """A frame's buffers as the planners hand them out: (shape, dtype) per buffer, and the
    buffers free at the current point of the plan."""

    def __init__(self):
        self.keys: list[tuple] = []
        self.free: dict[tuple, list] = {}
        self.busy: set = set()

    def take(self, key) -> int:
        pool = self.free.get(key)
        b = pool.pop() if pool else None
        if b is None:
            b = len(self.keys)
            self.keys.append(key)
        self.busy.add(b)
        return b

    def give(self, b: int) -> None:
        if b in self.busy:
            self.busy.discard(b)
            self.free.setdefault(self.keys[b], []).append(b)



class Frame:
    """One set of buffers, with the program's steps bound to them (`forward`, `backward`)."""

    __slots__ = ("arrays", "forward", "backward")

    def __init__(self, keys, forward, backward):
        self.arrays = [np.empty(shape, dtype) for shape, dtype in keys]
        self.forward = [bind(self.arrays) for bind in forward]
        self.backward = [bind(self.arrays) for bind in backward]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays)


def live(instrs, outputs) -> list:
    """The instructions the outputs depend on, in order (the rest is never run)."""
    needed = set(outputs)
    kept = []
    for ins in reversed(instrs):
        if ins.out in needed:
            kept.append(ins)
            needed.update(ins.inputs)
    return kept[::-1]


def plan_forward(instrs, values, keep, outputs, buffers: Buffers):
    """Run steps for the instructions; returns (steps, roots): `roots[slot]` is the set of
    buffers a value's memory may belong to.

    A value lives in a buffer from its op to its last reader; then the buffer serves the next
    value of the same shape and dtype. Values backward reads (`keep`) and outputs keep theirs
    to the end of the forward. An op that is not written `into` a buffer may return a view of
    an input, so its result keeps its inputs' buffers alive as long as it lives.
    """
    part_of = _stacked_in_place(instrs, values)
    roots: dict[int, frozenset] = {}
    owner: dict[int, int] = {}  # root slot -> the buffer it was written into
    for ins in instrs:
        if ins.op in INTO:
            roots[ins.out] = frozenset((part_of.get(ins.out, (ins.out,))[0],))
        else:
            roots[ins.out] = frozenset().union(*(roots.get(s, frozenset()) for s in ins.inputs))
    last: dict[int, float] = {}  # slot owning a buffer -> index of the buffer's last reader
    for i, ins in enumerate(instrs):
        for s in ins.inputs:
            for r in roots.get(s, ()):
                last[r] = max(last.get(r, -1), i)
    for slot in keep | outputs:
        for r in roots.get(slot, ()):
            last[r] = NEVER
    dying: dict[int, list] = {}
    for r, i in last.items():
        if i != NEVER:
            dying.setdefault(i, []).append(r)
    steps = []
    for i, ins in enumerate(instrs):
        into = INTO.get(ins.op)
        if into is None:
            steps.append(_plain_step(ins))
        elif ins.out in part_of:  # written straight into its row of the stack's buffer
            stack, row = part_of[ins.out]
            if stack not in owner:
                v = values[stack]
                owner[stack] = buffers.take((v.shape, v.dtype))
            steps.append(_into_step(into, ins, owner[stack], row))
        elif ins.op is table.STACK and ins.out in owner:  # its rows are there already
            steps.append(_done_step(ins.out, owner[ins.out]))
        else:
            v = values[ins.out]
            key = (v.shape, v.dtype)
            b = None
            if ins.op in INPLACE:  # write over an input buffer that dies here
                for s in ins.inputs:
                    if roots.get(s) == {s} and last.get(s) == i and \
                            (values[s].shape, values[s].dtype) == key:
                        b = owner[s]
                        break
            owner[ins.out] = buffers.take(key) if b is None else b
            steps.append(_into_step(into, ins, owner[ins.out]))
        steps[-1].op = ins.op.name  # (for profiles and debugging)
        for r in dying.get(i, ()):  # buffers whose last reader was this op are free again
            if r in owner and owner[r] != owner.get(ins.out):
                buffers.give(owner[r])
    return steps, {s: frozenset(owner[r] for r in rs) for s, rs in roots.items()}


def _stacked_in_place(instrs, values) -> dict:
    """Values that are written straight into their row of a stack's buffer (so the stack
    copies nothing): slot -> (the stack's slot, row). All rows of a stack along axis 0, each
    made by an op that writes into a given array, each stacked once."""
    made_by = {ins.out: ins for ins in instrs}
    part_of = {}
    for ins in instrs:
        if ins.op is not table.STACK or (ins.attrs or {}).get("axis", 0) != 0:
            continue
        v = values[ins.out]
        rows = ins.inputs
        if len(set(rows)) != len(rows) or any(
                s in part_of or s not in made_by or made_by[s].op not in INTO
                or made_by[s].op is table.STACK or values[s].dtype != v.dtype
                for s in rows):
            continue
        for k, s in enumerate(rows):
            part_of[s] = (ins.out, k)
    return part_of


def _done_step(o, buffer: int):
    def bind(frame):
        out = frame[buffer]

        def step(v, extras):
            v[o] = out
        return step
    return bind


def _into_step(into, ins, buffer: int, row=None):
    a = ins.inputs
    o, attrs = ins.out, ins.attrs or {}

    def bind(frame):
        out = frame[buffer] if row is None else frame[buffer][row]
        if len(a) == 1 and not attrs:
            i0 = a[0]

            def step(v, extras):
                v[o] = into(out, v[i0])
        elif len(a) == 2 and not attrs:
            i0, i1 = a

            def step(v, extras):
                v[o] = into(out, v[i0], v[i1])
        else:
            def step(v, extras):
                v[o] = into(out, *[v[s] for s in a], **attrs)
        return step
    return bind


def _plain_step(ins):
    op, a, o, attrs = ins.op, ins.inputs, ins.out, ins.attrs or {}
    forward = op.forward
    if op.saves:
        def step(v, extras):
            v[o], extras[o] = forward(*[v[s] for s in a], **attrs)
    elif len(a) == 1:
        i0 = a[0]

        def step(v, extras):
            v[o] = forward(v[i0], **attrs)
    else:
        def step(v, extras):
            v[o] = forward(*[v[s] for s in a], **attrs)
    return lambda frame: step
