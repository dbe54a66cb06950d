"""Engine-wide switches (graph recording, anomaly checks, tracing) and the creation counter.

Read them as `state.grad_enabled`, `state.anomaly` and `state.tracer`; change them only
through the context managers below (and `autograd_lite.compile`, which sets the tracer).
`state.watched` is True while anomaly checks or a trace need to see every new tensor.
"""

from __future__ import annotations

import contextlib
import itertools

grad_enabled = True
anomaly = False
tracer = None  # the trace being recorded by autograd_lite.compile, if any
watched = False
# How many `grad` functions are evaluating their `f` right now. A `grad` called inside
# another one (directly, through argnums or through a closure) must record its backward
# pass, so that the outer one can differentiate through it.
grad_depth = 0

# Every node and leaf gets the next number when it is made; a node is always made after its
# inputs, so sorting by this number is a topological order.
next_seq = itertools.count().__next__


def _rewatch() -> None:
    global watched
    watched = anomaly or tracer is not None


@contextlib.contextmanager
def no_grad():
    """Ops run inside this context record no graph (for evaluation and updates)."""
    global grad_enabled
    previous, grad_enabled = grad_enabled, False
    try:
        yield
    finally:
        grad_enabled = previous


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph."""
    return grad_enabled


@contextlib.contextmanager
def detect_anomaly():
    """Check every forward output and every gradient for NaN/Inf and name the op at fault."""
    global anomaly
    previous, anomaly = anomaly, True
    _rewatch()
    try:
        yield
    finally:
        anomaly = previous
        _rewatch()


@contextlib.contextmanager
def tracing(trace):
    """Let `trace` see every op applied and every value read (one trace at a time)."""
    global tracer
    if tracer is not None:
        raise RuntimeError("compile: a compiled function was called while another one was "
                           "being traced; compile the outer function only")
    tracer = trace
    _rewatch()
    try:
        yield trace
    finally:
        tracer = None
        _rewatch()
