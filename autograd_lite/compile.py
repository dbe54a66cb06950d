"""`autograd_lite.compile`: trace a function once on tensors, then replay it as a flat NumPy
program, forward and backward.

    step = al.compile(loss_fn)
    loss = step(x, targets)  # a Tensor, as loss_fn returns; the first call traces
    loss.backward()          # fills the parameters' .grad, as the eager graph would

What a call reads: tensors and arrays among the arguments (by position, any nesting of
tuples, lists and dicts), and the tensors the function uses from outside, such as a model's
parameters (their current values, at every call). Everything else is fixed at the trace:
Python numbers and other arguments (a new value re-traces), arrays and tensors the function
makes itself (a random mask drawn inside stays the same mask: pass it in), module flags and
globals. Side effects (print, appending to a list) happen at the trace only.

A call re-traces when the arguments' shapes, dtypes or requires_grad change, when grad mode
changes, or when an outside tensor's shape, dtype or requires_grad changes (a debug line on
the "autograd_lite.compile" logger says why). The last `cache_size` programs are kept; a
function that keeps re-tracing gets a CompileWarning. Code a replay cannot repeat raises a
CompileError that names the line: reading a traced tensor's values (`.item()`, `.data`,
comparisons, `np.asarray`), calling backward() or updating parameters inside.

`exact=True` replays the eager step's very ops in its order: the same bits. The default
writes the backward into buffers it reuses, multiplies by contiguous transposes of the
parameters and computes only the gradient columns a concat hands on (the h of [h, x] @ W):
within 1e-12 of eager in float64, and its backward runs once per call (retain_graph=True
needs exact=True). The program's backward runs NumPy rules, so it cannot be differentiated
again: inside an outer `grad` (higher order) the function runs eagerly instead. Not thread
safe: one call at a time.
"""

from __future__ import annotations

import collections
import functools
import logging
import warnings

import numpy as np

from autograd_lite import state
from autograd_lite.errors import CompileError
from autograd_lite.program import Program
from autograd_lite.tensor import Tensor, apply, as_tensor
from autograd_lite.trace import ARG, CONST, EXTERN, Trace

log = logging.getLogger("autograd_lite.compile")
_LEAF = object()  # marks an argument position that holds a tensor or an array


class CompileWarning(UserWarning):
    """A compiled function keeps re-tracing (changing shapes or Python-number arguments)."""


def compile(fn=None, *, cache_size: int = 8, exact: bool = False):  # noqa: A001
    """`fn`, traced at its first call and replayed as a NumPy program after (see the module
    docstring). Usable as `al.compile(fn)` or as a decorator, `@al.compile`; `exact=True`
    gives the eager step's bits (see the module docstring)."""
    if fn is None:
        return functools.partial(compile, cache_size=cache_size, exact=exact)
    if not callable(fn):
        raise TypeError(f"compile: fn must be callable, got {type(fn).__name__}")
    if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
        raise ValueError(f"compile: cache_size must be a positive integer, got {cache_size!r}")
    return Compiled(fn, cache_size, exact)


class Compiled:
    """A compiled function: call it like `fn`. `programs` holds the traced programs (newest
    last); `traces` counts the traces made; `to_networkx(compiled)` draws the newest."""

    def __init__(self, fn, cache_size: int, exact: bool = False):
        self.fn, self.exact = fn, bool(exact)
        self.name = getattr(fn, "__name__", None) or type(fn).__name__
        self.cache_size = cache_size
        self.cache: collections.OrderedDict = collections.OrderedDict()
        self.traces = 0
        self._warned = False
        functools.update_wrapper(self, fn, updated=())

    def __repr__(self):
        return f"<compiled {self.name}: {len(self.cache)} program(s)>"

    @property
    def programs(self) -> list:
        """The cached programs, least recently used first."""
        return [entry.program for entry in self.cache.values()]

    @property
    def program(self) -> Program | None:
        """The program used last (None before the first call)."""
        return next(reversed(self.cache.values())).program if self.cache else None

    def clear(self) -> None:
        """Forget every traced program (the next call traces again)."""
        self.cache.clear()

    def __call__(self, *args, **kwargs):
        if state.tracer is not None or state.grad_depth > 0:
            # Inside another trace the ops are that trace's; inside an outer `grad`, the
            # backward must be recorded, which a NumPy program cannot do: run eagerly.
            return self.fn(*args, **kwargs)
        leaves = []
        tree = _flatten((args, kwargs), leaves)
        key = (tree, tuple(_signature(x) for x in leaves), state.grad_enabled)
        entry = self.cache.get(key)
        if entry is not None:
            stale = entry.program.stale()
            if stale is None:
                self.cache.move_to_end(key)
                return entry.call(leaves)
            del self.cache[key]
            entry = self._trace(args, kwargs, leaves, key, f"re-tracing: {stale}")
        else:
            why = "first call" if not self.cache else "new signature"
            entry = self._trace(args, kwargs, leaves, key, why)
        return entry.call(leaves)

    def _trace(self, args, kwargs, leaves, key, why: str):
        self.traces += 1
        log.debug("compile(%s): tracing (%s) for %s", self.name, why, _describe(key))
        tensors = [x if isinstance(x, Tensor) else as_tensor(x) for x in leaves]
        args, kwargs = _rebuild(key[0], iter(tensors))
        trace = Trace(self.name, tensors)
        with state.tracing(trace):
            result = self.fn(*args, **kwargs)
        trace.finish_labels()
        outs = []
        out_tree = _flatten(result, outs, outputs=True)
        if not outs:
            raise CompileError(f"compile({self.name}): the function returns no tensor "
                               f"(got {type(result).__name__}); nothing would be replayed")
        slots = [_output_slot(trace, t) for t in outs]
        program = Program(trace, slots, self.name, differentiable=state.grad_enabled,
                          exact=self.exact)
        entry = _Entry(program, out_tree, slots, [t.label for t in outs])
        self.cache[key] = entry
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        if self.traces > self.cache_size and not self._warned:
            self._warned = True
            warnings.warn(f"compile({self.name}) has traced {self.traces} times (it keeps "
                          f"{self.cache_size} programs): arguments whose shapes, dtypes or "
                          f"Python values change re-trace; keep them fixed, or pass changing "
                          f"numbers as arrays", CompileWarning, stacklevel=3)
        return entry


class _Entry:
    """A cached program with what it needs to rebuild the function's return value."""

    def __init__(self, program, tree, slots, labels):
        self.program, self.tree, self.slots, self.labels = program, tree, slots, labels

    def call(self, leaves):
        program = self.program
        args = [_argument(leaves[program.values[s].source], s in program.read_later)
                for s in program.arg_slots]
        packed = apply(program.op, *args, *program.externs)
        parts = program.unpack(packed) if program.packed else {}
        single = len(program.packed) == 1
        outs = []
        for slot, label in zip(self.slots, self.labels):
            v = program.values[slot]
            if slot in parts:
                t = packed if single else parts[slot]  # (views of the packed tensor: recorded)
            elif v.kind == ARG:
                t = as_tensor(leaves[v.source])
            elif v.kind == EXTERN:
                t = v.source
            elif v.kind == CONST:
                t = as_tensor(np.asarray(v.source))
            else:  # an output that carries no gradient: a copy made by the run
                t = as_tensor(program.last[slot])
            if v.kind not in (ARG, EXTERN) and label is not None:
                t.label = label
            outs.append(t)
        return _rebuild(self.tree, iter(outs))


def _argument(x, read_later: bool):
    """An array argument as the program reads it: backward reading it needs a copy the
    caller cannot change (as the eager engine makes); else a read-only view will do."""
    if isinstance(x, np.ndarray) and not read_later and x.flags.writeable:
        x = x.view()
        x.setflags(write=False)
    return x


def _output_slot(trace, t) -> int:
    slot = trace.slot_of.get(id(t))
    if slot is None and t.node is not None:
        slot = trace.slot_of.get(id(t.node))
    if slot is None:  # a tensor no op read: an outside tensor, or a constant made inside
        slot = trace.slot(t, t.values("(output)"))
    return slot


# ------------------------------------------------------------------------------------------
# Arguments and results as trees: tensors and arrays are leaves, the rest is fixed structure
# ------------------------------------------------------------------------------------------


def _flatten(obj, leaves: list, outputs: bool = False):
    """A hashable description of `obj`'s structure; tensors (and arrays) go to `leaves`."""
    if isinstance(obj, Tensor) or (isinstance(obj, np.ndarray) and not outputs):
        leaves.append(obj)
        return _LEAF
    if isinstance(obj, (tuple, list)):
        return (type(obj), tuple(_flatten(x, leaves, outputs) for x in obj))
    if isinstance(obj, dict):
        return (dict, tuple((k, _flatten(v, leaves, outputs)) for k, v in obj.items()))
    try:
        hash(obj)
    except TypeError:
        what = "result" if outputs else "argument"
        raise CompileError(f"compile: an {what} of type {type(obj).__name__} is neither a "
                           f"tensor, an array nor hashable: it cannot be part of a program's "
                           f"signature") from None
    return ("value", obj)


def _rebuild(tree, leaves):
    if tree is _LEAF:
        return next(leaves)
    kind, body = tree
    if kind == "value":
        return body
    if kind is dict:
        return {k: _rebuild(v, leaves) for k, v in body}
    items = [_rebuild(x, leaves) for x in body]
    if kind is tuple or kind is list:
        return kind(items)
    return kind(*items) if hasattr(kind, "_fields") else kind(items)  # (namedtuples)


def _signature(x) -> tuple:
    if isinstance(x, Tensor):
        return (x.shape, x.dtype, x.requires_grad)
    return (x.shape, x.dtype, False)


def _describe(key) -> str:
    _, sigs, grad = key
    parts = [f"{shape} {dtype}{' requires grad' if rg else ''}" for shape, dtype, rg in sigs]
    return f"arguments [{', '.join(parts)}], grad {'enabled' if grad else 'disabled'}"


__all__ = ["compile", "Compiled", "CompileError", "CompileWarning"]
