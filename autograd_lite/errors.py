"""The engine's errors, and `describe`, which names a tensor in their messages."""

from __future__ import annotations


class ShapeError(ValueError):
    """An op got inputs whose shapes do not fit; names the op, the labels and the shapes."""


class AnomalyError(FloatingPointError):
    """NaN or Inf produced inside `detect_anomaly()`; names the op and its label."""


class GradientError(RuntimeError):
    """A backward pass that cannot run as asked (non-scalar root, no graph, ...)."""


def describe(t) -> str:
    """A short name for a tensor in error messages: its label or op, and its shape."""
    name = t.label or t.op or "tensor"
    return f"'{name}' {tuple(t.data.shape)}"
