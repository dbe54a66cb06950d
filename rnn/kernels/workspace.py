"""Buffers the fused kernels reuse from step to step, instead of fresh allocations.

A training step's big arrays (every step's gates, the states, the backward's factors) have
the same shapes each step. Freshly allocated, their pages fault in again every step: about a
fifth of a float32 LSTM step on the benchmark's sizes. A buffer is handed out again only when
nothing else holds it or any view of it (its reference count says so), so outputs a caller
keeps, and arrays a graph node saved for its backward, are never overwritten.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

import numpy as np

LIMIT = 256 * 2**20  # bytes of buffers kept per thread; beyond it the least recent go
SMALLEST = 64 * 2**10  # smaller arrays come from the allocator as usual


class _Pool(threading.local):
    """This thread's buffers: (shape, dtype) -> list of arrays, least recently used first."""

    def __init__(self):
        self.buffers: OrderedDict = OrderedDict()
        self.bytes = 0


_pool = _Pool()


def _count(buffers: list, k: int) -> int:
    return sys.getrefcount(buffers[k])


# The count of a buffer held by its list alone, measured through the same call as the checks
# below (the interpreter's own references differ between Python versions).
_UNHELD = _count([np.empty(0)], 0)


def empty(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array of `shape` and `dtype`, reused when one is free."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < SMALLEST:
        return np.empty(shape, dtype)
    key = (tuple(shape), dtype)
    buffers = _pool.buffers.get(key)
    if buffers is None:
        buffers = _pool.buffers[key] = []
    else:
        _pool.buffers.move_to_end(key)
        for k in range(len(buffers)):
            if _count(buffers, k) == _UNHELD:
                return buffers[k]
    out = np.empty(shape, dtype)
    if nbytes <= LIMIT:
        _make_room(nbytes)
        buffers.append(out)
        _pool.bytes += nbytes
    return out


def zeros(shape: tuple, dtype) -> np.ndarray:
    """As `empty`, filled with zeros."""
    out = empty(shape, dtype)
    out.fill(0)
    return out


def _make_room(nbytes: int) -> None:
    """Forget free buffers, least recently used first, until `nbytes` more fit the limit."""
    for key in list(_pool.buffers):
        if _pool.bytes + nbytes <= LIMIT:
            return
        buffers = _pool.buffers[key]
        for k in range(len(buffers) - 1, -1, -1):
            if _count(buffers, k) == _UNHELD:
                _pool.bytes -= buffers[k].nbytes
                del buffers[k]
        if not buffers:
            del _pool.buffers[key]


def held_bytes() -> int:
    """Bytes of the buffers this thread's pool keeps (in use or free)."""
    return _pool.bytes


def clear() -> None:
    """Forget this thread's buffers (those in use stay with their users)."""
    _pool.buffers.clear()
    _pool.bytes = 0
