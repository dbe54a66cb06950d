"""Gradient-check cases for the fused kernels: one per registered cell that declares one."""

from __future__ import annotations

import numpy as np

from autograd_lite.ops import apply
from rnn.cells import cell_class, cell_names


def kernel_cases(T: int = 3, B: int = 2, D: int = 3, H: int = 2, seed: int = 1) -> list:
    """(op name, description, function, float64 inputs) for each cell class's kernel."""
    rng = np.random.default_rng(seed)
    table = []
    for name in cell_names():
        cls = cell_class(name)
        op = cls.fused_kernel()
        if op is None:
            continue
        cell = cls(D, H, rng=0, init="uniform")  # (not symmetric, unlike the identity init)
        states = [0.5 * rng.standard_normal((B, H)) for _ in cls.STATE]
        params = [np.array(p.data) for p in cell.parameter_list()]

        def fn(*xs, op=op):
            return apply(op, *xs, need_dx=True)

        table.append((op.name, f"{name}, T={T} B={B} D={D} H={H}", fn,
                      [rng.standard_normal((T, B, D)), *states, *params]))
    return table
