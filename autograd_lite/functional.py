"""Functional autodiff: `grad(f)` returns a function computing gradients; it composes."""

from __future__ import annotations

import numpy as np

from autograd_lite.tensor import GradientError, Tensor, backprop, describe


# How many `grad` functions are evaluating their `f` right now. A `grad` called inside
# another one (directly, through argnums or through a closure) must record its backward
# pass, so that the outer one can differentiate through it.
_tracing = {"depth": 0}


def _as_input(x) -> Tensor:
    """A tensor to differentiate with respect to."""
    if isinstance(x, Tensor):
        if x.requires_grad:
            return x  # keep the graph so an outer grad can see through it
        x = x.data
    array = np.asarray(x)
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    return Tensor(array, requires_grad=True)


def grad(f, argnums=0):
    """The gradient function of scalar-valued `f` with respect to argument(s) `argnums`.

    Composable: `grad(grad(f))` gives second derivatives. Arrays in, arrays out; inside an
    outer `grad` the results are Tensors recorded in the graph.
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def gradient(*args):
        args = list(args)
        nested = _tracing["depth"] > 0
        inputs = []
        for n in nums:
            args[n] = _as_input(args[n])
            inputs.append(args[n])
        _tracing["depth"] += 1
        try:
            out = f(*args)
        finally:
            _tracing["depth"] -= 1
        if not isinstance(out, Tensor) or out.data.size != 1:
            shape = out.shape if isinstance(out, Tensor) else np.shape(out)
            raise GradientError(f"grad: f must return a scalar Tensor, got "
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


def value_and_grad(f, argnums=0):
    """Like `grad`, but returns `(f(*args) as a float, gradient)`."""
    holder = {}

    def traced(*args):
        out = f(*args)
        holder["value"] = out.item() if isinstance(out, Tensor) else out
        return out

    g = grad(traced, argnums)

    def both(*args):
        gradients = g(*args)
        return holder["value"], gradients

    return both


def hvp(f, x, v):
    """Hessian-vector product H(x) @ v of scalar `f` at `x`, by differentiating twice."""
    v = np.asarray(v.data if isinstance(v, Tensor) else v)
    x_shape = np.shape(x.data if isinstance(x, Tensor) else x)
    if v.shape != x_shape:
        raise GradientError(f"hvp: v has shape {v.shape} but x has shape {x_shape}")
    df = grad(f)
    return grad(lambda y: (df(y) * v).sum())(x)


def vjp(f, *primals):
    """`(out, pullback)`: pullback(g) returns the gradients of `f` at `primals` given g."""
    inputs = [_as_input(p) for p in primals]
    out = f(*inputs)

    def pullback(g):
        if not out.requires_grad:
            return tuple(np.zeros_like(t.data) for t in inputs)
        grads = backprop([out], [g], inputs=inputs)
        return tuple(np.zeros_like(t.data) if gr is None else gr for t, gr in zip(inputs, grads))

    return out, pullback


__all__ = ["grad", "value_and_grad", "hvp", "vjp", "describe"]
