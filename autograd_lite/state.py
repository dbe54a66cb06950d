"""Engine-wide switches (graph recording, anomaly checks) and the tensor creation counter.

Read them as `state.grad_enabled` and `state.anomaly`; change them only through the
context managers below.
"""

from __future__ import annotations

import contextlib
import itertools

grad_enabled = True
anomaly = False

# Every tensor gets the next number when it is made; a node is always made after its
# parents, so sorting by this number is a topological order.
next_seq = itertools.count().__next__


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
    try:
        yield
    finally:
        anomaly = previous
