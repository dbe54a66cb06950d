"""Functional autodiff: `grad(f)` returns a function computing gradients; it composes."""

from __future__ import annotations

import numpy as np

from autograd_lite import state
from autograd_lite.errors import GradientError, ShapeError, describe
from autograd_lite.tensor import Tensor, backprop


def _as_input(x) -> Tensor:
    """A tensor to differentiate with respect to (integers and bools become float64)."""
    if isinstance(x, Tensor):
        if x.requires_grad:
            return x  # keep the graph so an outer grad can see through it
        x = x.data
    array = np.asarray(x)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    return Tensor(array, requires_grad=True)  # (other non-float dtypes raise a TypeError)


def _check_callable(name: str, f) -> None:
    if not callable(f):
        raise TypeError(f"{name}: f must be callable, got {type(f).__name__}")


def _argnums(name: str, argnums) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else argnums
    if (not isinstance(nums, (tuple, list)) or not nums
            or any(isinstance(n, bool) or not isinstance(n, int) for n in nums)):
        raise TypeError(f"{name}: argnums must be an int or a non-empty tuple of ints, "
                        f"got {argnums!r}")
    return tuple(nums)


def _gradient_function(f, argnums, name: str):
    """The gradient function behind `grad` and `value_and_grad` (errors say `name`)."""
    _check_callable(name, f)
    single = isinstance(argnums, int) and not isinstance(argnums, bool)
    nums = _argnums(name, argnums)

    def gradient(*args):
        args = list(args)
        for n in nums:
            if not -len(args) <= n < len(args):
                raise TypeError(f"{name}: argnums={argnums!r} asks for argument {n}, but f "
                                f"was called with {len(args)} positional argument(s)")
        nested = state.grad_depth > 0
        inputs = []
        for n in nums:
            args[n] = _as_input(args[n])
            inputs.append(args[n])
        state.grad_depth += 1
        try:
            out = f(*args)
        finally:
            state.grad_depth -= 1
        if not isinstance(out, Tensor) or out.size != 1:
            shape = out.shape if isinstance(out, Tensor) else np.shape(out)
            raise GradientError(f"{name}: f must return a scalar Tensor, got "
                                f"{type(out).__name__} of shape {shape}")
        if not out.requires_grad:
            grads = [None] * len(inputs)
        else:
            grads = backprop([out], [None], inputs=inputs, create_graph=nested)
        zero = Tensor if nested else np.asarray
        grads = [zero(np.zeros_like(t.data)) if g is None else g for t, g in zip(inputs, grads)]
        if not nested:
            grads = [np.asarray(g) for g in grads]
        return grads[0] if single else tuple(grads)

    gradient.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    return gradient


def grad(f, argnums=0):
    """The gradient function of scalar-valued `f` with respect to argument(s) `argnums`.

    Composable: `grad(grad(f))` gives second derivatives. Arrays in, arrays out; inside an
    outer `grad` the results are Tensors recorded in the graph.
    """
    return _gradient_function(f, argnums, "grad")


def value_and_grad(f, argnums=0):
    """Like `grad`, but returns `(f(*args) as a float, gradient)`."""
    _check_callable("value_and_grad", f)
    holder = {}

    def traced(*args):
        out = f(*args)
        scalar = isinstance(out, Tensor) and out.size == 1  # (else `gradient` says so)
        holder["value"] = out.item() if scalar else out
        return out

    g = _gradient_function(traced, argnums, "value_and_grad")

    def both(*args):
        gradients = g(*args)
        return holder["value"], gradients

    return both


def hvp(f, x, v):
    """Hessian-vector product H(x) @ v of scalar `f` at `x`, by differentiating twice."""
    _check_callable("hvp", f)
    v = np.asarray(v.data if isinstance(v, Tensor) else v)
    x_shape = np.shape(x.data if isinstance(x, Tensor) else x)
    if v.shape != x_shape:
        raise GradientError(f"hvp: v has shape {v.shape} but x has shape {x_shape}")
    df = _gradient_function(f, 0, "hvp")
    return grad(lambda y: (df(y) * v).sum())(x)


def vjp(f, *primals):
    """`(out, pullback)`: pullback(g) returns the gradients of `f` at `primals` given g."""
    _check_callable("vjp", f)
    inputs = [_as_input(p) for p in primals]
    out = f(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"vjp: f must return a Tensor, got {type(out).__name__}")

    def pullback(g):
        g_shape = np.shape(g.data if isinstance(g, Tensor) else g)
        if g_shape != out.shape:
            raise ShapeError(f"vjp: the cotangent has shape {g_shape} but f's output "
                             f"{describe(out)} has shape {out.shape}")
        if not out.requires_grad:
            return tuple(np.zeros_like(t.data) for t in inputs)
        grads = backprop([out], [g], inputs=inputs, retain_graph=True)  # (called again)
        return tuple(np.zeros_like(t.data) if gr is None else gr for t, gr in zip(inputs, grads))

    return out, pullback


__all__ = ["grad", "value_and_grad", "hvp", "vjp", "describe"]
