"""Which code runs the fused kernels' per-step elementwise work: NumPy (the reference, and the
default when numba is absent) or numba (the optional `fast` extra: `pip install rnn-lab[fast]`).

The choice is `use(path)` when set, else the environment variable RNN_LAB_KERNELS, else
"auto": numba for float32 when it is installed, NumPy otherwise (in float64 numba's scalar
tanh is slower than NumPy's vectorized one; `rnn-lab bench lstm --kernels` measures both).
The matrix products run on NumPy's BLAS either way.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os

import numpy as np

from rnn.errors import UsageError

ENV = "RNN_LAB_KERNELS"
CHOICES = ("auto", "numpy", "numba")

_chosen: list[str] = []  # the innermost `use(...)`, last
_numba: list[bool] = []  # whether numba can be imported, asked once


def numba_installed() -> bool:
    """Whether the optional numba dependency is there (it is not imported by this)."""
    if not _numba:
        _numba.append(importlib.util.find_spec("numba") is not None)
    return _numba[0]


def check(choice: str, where: str = ENV) -> str:
    """`choice` if it names a path this machine can run; else a UsageError naming `where`."""
    if choice not in CHOICES:
        raise UsageError(f"{where}={choice!r}: choose one of {', '.join(CHOICES)}")
    if choice == "numba" and not numba_installed():
        raise UsageError(f"{where}=numba: numba is not installed (pip install 'rnn-lab[fast]')")
    return choice


def choice() -> str:
    """"auto", "numpy" or "numba": what `use` or RNN_LAB_KERNELS asks for."""
    return _chosen[-1] if _chosen else check(os.environ.get(ENV) or "auto")


def fused_path(dtype=np.float32) -> str:
    """The path the next kernel call on arrays of `dtype` takes: "numpy" or "numba"."""
    chosen = choice()
    if chosen == "auto":
        return "numba" if np.dtype(dtype) == np.float32 and numba_installed() else "numpy"
    return chosen


@contextlib.contextmanager
def use(path: str):
    """Run the kernels inside the block on `path` ("auto", "numpy" or "numba")."""
    _chosen.append(check(path, "path"))
    try:
        yield
    finally:
        _chosen.pop()


def steps(path: str):
    """The module with numba's per-step functions for path "numba", None for "numpy"."""
    if path != "numba":
        return None
    import rnn.kernels.jit  # importing numba takes a while: a NumPy run never pays it

    return rnn.kernels.jit
