"""The engine's errors, and `describe`, which names a tensor in their messages."""

from __future__ import annotations


class ShapeError(ValueError):
    """An op got inputs whose shapes do not fit; names the op, the labels and the shapes."""


class AnomalyError(FloatingPointError):
    """NaN or Inf produced inside `detect_anomaly()`; names the op and its label."""


class GradientError(RuntimeError):
    """A backward pass that cannot run as asked (non-scalar root, no graph, ...)."""


class CompileError(RuntimeError):
    """A function that `autograd_lite.compile` cannot replay; says why, and at which line."""


def describe(t) -> str:
    """A short name for a tensor (or graph node) in error messages: its label or op, and its
    shape."""
    name = t.label
    if not name:
        name = "tensor" if t.creator is None else t.creator.name
    return f"'{name}' {tuple(t.shape)}"
