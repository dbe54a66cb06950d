"""Gradient checking: analytic Jacobians against central finite differences in float64."""

from __future__ import annotations

import warnings

import numpy as np

from autograd_lite.tensor import Tensor, backprop


class GradcheckError(AssertionError):
    """Analytic and numeric Jacobians disagree; says where and by how much."""


def _outputs(result) -> list[Tensor]:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def numeric_jacobian(fn, arrays, i, eps):
    """d(outputs)/d(arrays[i]) by central differences: a list of (out_size, in_size)."""
    base = [a.copy() for a in arrays]
    x = base[i]
    flat = x.reshape(-1)
    columns = []
    # No no_grad() here: the inputs require no grad, so nothing is recorded anyway, and fn
    # may itself take gradients (a gradcheck of grad(f) or hvp).
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        plus = [o.data.reshape(-1).copy() for o in _outputs(fn(*[Tensor(a) for a in base]))]
        flat[k] = old - eps
        minus = [o.data.reshape(-1).copy() for o in _outputs(fn(*[Tensor(a) for a in base]))]
        flat[k] = old
        columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    n_out = len(columns[0]) if columns else len(_outputs(fn(*[Tensor(a) for a in base])))
    jac = []
    for j in range(n_out):
        cols = [c[j] for c in columns]
        jac.append(np.stack(cols, axis=1) if cols else np.zeros((0, 0)))
    return jac


def analytic_jacobian(fn, arrays):
    """d(outputs)/d(inputs) by reverse mode, one backward pass per output element."""
    inputs = [Tensor(a, requires_grad=True, label=f"input{i}") for i, a in enumerate(arrays)]
    outs = _outputs(fn(*inputs))
    jac = [[np.zeros((o.data.size, a.size)) for a in arrays] for o in outs]
    for j, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for k in range(o.data.size):
            seed = np.zeros(o.data.size, dtype=o.dtype)
            seed[k] = 1.0
            grads = backprop([o], [seed.reshape(o.shape)], inputs=inputs, retain_graph=True)
            for i, g in enumerate(grads):
                if g is not None:
                    if g.shape != arrays[i].shape:
                        raise GradcheckError(
                            f"input {i}: gradient shape {g.shape} != input shape "
                            f"{arrays[i].shape}")
                    jac[j][i][k] = np.asarray(g).reshape(-1)
    return jac


def gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5) -> bool:
    """Check `fn`'s full Jacobian against central differences; raise GradcheckError if off.

    `fn(*tensors)` returns a Tensor or a tuple of Tensors. Every input is differentiated.
    Passes when |analytic - numeric| <= atol + rtol * |numeric| everywhere.
    """
    arrays = []
    for i, x in enumerate(inputs):
        a = np.array(x.data if isinstance(x, Tensor) else x)
        if a.dtype != np.float64:
            warnings.warn(f"gradcheck: input {i} has dtype {a.dtype}; finite differences "
                          f"need float64, so it is checked in float64", stacklevel=2)
            a = a.astype(np.float64)
        arrays.append(a)
    analytic = analytic_jacobian(fn, arrays)
    for i in range(len(arrays)):
        numeric = numeric_jacobian(fn, arrays, i, eps)
        for j, num in enumerate(numeric):
            ana = analytic[j][i]
            if ana.shape != num.shape:
                raise GradcheckError(f"output {j}, input {i}: Jacobian shapes {ana.shape} "
                                     f"(analytic) and {num.shape} (numeric) differ")
            err = np.abs(ana - num) - (atol + rtol * np.abs(num))
            err = np.where(np.isnan(err), np.inf, err)  # a NaN anywhere is a failure
            if err.size and err.max() > 0:
                r, c = np.unravel_index(np.argmax(err), err.shape)
                raise GradcheckError(
                    f"gradcheck failed for output {j} w.r.t. input {i} (shape "
                    f"{arrays[i].shape}): worst at output element {r}, input element "
                    f"{tuple(int(k) for k in np.unravel_index(c, arrays[i].shape))}: "
                    f"analytic {ana[r, c]:.10g} vs numeric {num[r, c]:.10g} "
                    f"(|diff| {abs(ana[r, c] - num[r, c]):.3g}, atol {atol}, rtol {rtol})")
    return True
