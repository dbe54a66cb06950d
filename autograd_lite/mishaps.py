"""What an op application does off its fast path: naming inputs that do not fit, and the
per-op watch of anomaly mode and of a running trace.
"""

from __future__ import annotations

import numpy as np

from autograd_lite import state
from autograd_lite.errors import AnomalyError, ShapeError, describe
from autograd_lite.values import Values


def watch(op, out, inputs, arrays, attrs, t) -> None:
    """Let anomaly mode check, and a running trace record, the op that just made `t`."""
    out.setflags(write=False)  # (what a trace records stays as it was)
    if state.anomaly and not np.all(np.isfinite(out)):
        # The new node has no label yet: name the op and the inputs it was given.
        bad = "NaN" if np.any(np.isnan(out)) else "Inf"
        names = ", ".join(describe(p) if isinstance(p, Values) else repr(p) for p in inputs)
        raise AnomalyError(f"{bad} in the output of {op.name} (inputs {names})")
    if state.tracer is not None:
        state.tracer.op(op, inputs, arrays, attrs, t, out)


def shape_error(op, inputs, exc) -> ShapeError:
    """The ShapeError for `op`'s forward failing with `exc`: the op, the inputs, the shapes."""
    names = ", ".join(describe(t) for t in inputs)
    if str(exc).startswith(f"{op.name}: "):  # the forward's own check: say it, then inputs
        return ShapeError(f"{exc} (inputs {names})")
    return ShapeError(f"{op.name}: inputs do not fit: {names} ({exc})")

