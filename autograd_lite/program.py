"""A traced function as a flat NumPy program, for `autograd_lite.compile`.

The forward runs the traced ops in order, writing into preallocated buffers (`out=`) that are
shared once a value is dead (`autograd_lite.plan`); the backward runs from a plan made once
(`autograd_lite.gradients`): which gradients to add up, where to un-broadcast, which buffers
to write into or reuse. The whole program is one op of the engine (`Program.op`), so its
outputs are ordinary tensors and `backward()` reaches the parameters and arguments exactly as
the eager graph would.
"""

from __future__ import annotations

import numpy as np

from autograd_lite import gradients, table
from autograd_lite.errors import CompileError, GradientError, ShapeError
from autograd_lite.plan import Buffers, Frame, live, plan_forward
from autograd_lite.table import Op
from autograd_lite.trace import CONST


class Run:
    """One call of a program: its values, kept for backward. The buffers go back to the
    program's pool when the run is dropped (after backward, or with its graph)."""

    __slots__ = ("program", "frame", "values", "extras", "spent")

    def __init__(self, program, frame, values, extras):
        self.program, self.frame, self.values, self.extras = program, frame, values, extras
        self.spent = False  # its backward wrote over the forward's buffers

    def __del__(self):
        if self.frame is not None:
            self.program.release(self.frame)


class Program:
    """The replayable form of one trace (see `autograd_lite.compile`).

    `inputs` are the slots read at each call (arguments, then outside tensors such as
    parameters), `outputs` the slots returned. `op` runs it: op(*input arrays) gives the
    differentiable outputs packed into one array, and its rule gives the inputs' gradients.
    """

    def __init__(self, trace, outputs, name: str, differentiable: bool, exact: bool = False):
        self.name, self.exact = name, exact
        self.values = trace.values
        self.outputs = list(outputs)
        self.arg_slots = list(trace.args)
        self.externs = list(trace.externs)
        self.extern_slots = [trace.slot_of[id(t)] for t in self.externs]
        self.inputs = self.arg_slots + self.extern_slots
        self.instrs = live(trace.instrs, self.outputs)
        diff = [s for s in self.outputs if self.values[s].requires_grad and differentiable]
        self.packed = diff  # the outputs that carry gradient, packed into the op's output
        dtypes = {self.values[s].dtype for s in diff}
        if len(dtypes) > 1:
            raise CompileError(f"compile({name}): the outputs that require grad have several "
                               f"dtypes ({', '.join(sorted(map(str, dtypes)))}); return "
                               f"them from separate compiled functions")
        steps = gradients.reached_steps(self.instrs, self.values, diff) if diff else []
        saved = {s for ins, _ in steps for s in gradients.reads(ins)}
        self.buffers = Buffers()
        self.steps, roots = plan_forward(self.instrs, self.values, saved | set(diff),
                                         set(self.outputs), self.buffers)
        self.extra = 0  # gradient slots beyond the values' (sums kept whole, see gradients)
        if exact:
            self.bsteps = gradients.plan_exact(steps, self.values)
        else:
            self.bsteps, self.extra = gradients.plan_buffered(
                steps, self.values, self.buffers, roots, self.instrs, diff, self.inputs)
        self.template = [v.source if v.kind == CONST else None for v in self.values]
        self.read_later = saved & set(self.arg_slots)  # arguments backward reads
        kept = saved | set(self.inputs)
        self.drop = [ins.out for ins in self.instrs if ins.out not in kept]
        self.last: dict = {}
        self.idle: list = []  # frames (buffer lists) ready for the next call
        self.op = Op(f"compiled {name}", self.forward, self.vjp, saves=True,
                     higher_order=False, needs="none", broadcasts=False)

    # -- buffers --------------------------------------------------------------------------
    def _frame(self) -> Frame:
        if self.idle:
            return self.idle.pop()
        return Frame(self.buffers.keys, self.steps, [] if self.exact else self.bsteps)

    def release(self, frame) -> None:
        """Take back a frame whose run is over (one idle frame is kept for the next call)."""
        if not self.idle:
            self.idle.append(frame)

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame: the buffers a call writes into (held between calls)."""
        return sum(int(np.prod(s)) * np.dtype(d).itemsize for s, d in self.buffers.keys)

    # -- forward --------------------------------------------------------------------------
    def forward(self, *arrays):
        """Run the program on the input arrays: (packed differentiable outputs, Run)."""
        frame = self._frame()
        values = list(self.template)
        for slot, a in zip(self.inputs, arrays):
            values[slot] = a
        extras = {}
        try:
            for run_step in frame.forward:
                run_step(values, extras)
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
        grads = [None] * (len(self.values) + self.extra)
        for slot, part in self.unpack(g).items():
            grads[slot] = part
        if self.exact:
            self._exact_backward(bk, grads, saved)
        else:
            if saved.spent:
                raise GradientError(
                    f"backward: {self.op.name} reuses the buffers of its forward for its "
                    f"backward, so it runs backward once per call; compile with exact=True "
                    f"to run backward through one call again (retain_graph=True)")
            saved.spent = True
            values = saved.values
            call = gradients.Call(values, saved.extras)
            for run_step in saved.frame.backward:
                run_step(values, grads, call)
        return tuple(grads[s] for s in self.inputs)

    def _exact_backward(self, bk, grads, saved):
        values, extras = saved.values, saved.extras
        owned = [False] * len(self.values)
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


__all__ = ["Program", "Run"]
