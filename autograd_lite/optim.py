"""Optimizers (SGD with momentum, Adam) and gradient clipping by global norm."""

from __future__ import annotations

import math
import numbers

import numpy as np

from autograd_lite.kernels import total_norm
from autograd_lite.nn import Parameter
from autograd_lite.tensor import Tensor


def _grad_of(p):
    return None if p.grad is None else np.asarray(p.grad.data if isinstance(p.grad, Tensor)
                                                  else p.grad)


def _check(owner: str, name: str, value, ok, rule: str) -> float:
    """`value` as a float when `ok(value)` holds, else a ValueError naming `name` and `rule`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not ok(float(value)):
        raise ValueError(f"{owner}: {name} must be {rule}, got {value!r}")
    return float(value)


def _positive(x: float) -> bool:
    return 0 < x < math.inf  # False for NaN too


def _unit(x: float) -> bool:
    return 0 <= x < 1


class Optimizer:
    """Base class: holds the parameter list and per-parameter state arrays."""

    def __init__(self, params, lr):
        owner = type(self).__name__
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{owner}: got an empty parameter list")
        for k, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{owner}: params[{k}] is a {type(p).__name__}, not a "
                                f"Parameter (optimizers update Parameters in place)")
        self.lr = _check(owner, "lr", lr, _positive, "positive and finite")
        self.steps = 0

    def zero_grad(self) -> None:
        """Forget the gradients of every parameter."""
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Optimizer state as plain arrays (for checkpoints)."""
        out = {"steps": np.array(self.steps)}
        for key, arrays in self._slots().items():
            for k, a in enumerate(arrays):
                out[f"{key}.{k}"] = np.array(a)
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned; shapes must match the parameters."""
        self.steps = int(state["steps"])
        for key, arrays in self._slots().items():
            for k, p in enumerate(self.params):
                value = np.asarray(state[f"{key}.{k}"])
                if value.shape != p.shape:
                    raise ValueError(f"optimizer state '{key}.{k}' has shape {value.shape}, "
                                     f"parameter has {p.shape}")
                arrays[k] = value.astype(p.dtype, copy=True)

    def _slots(self) -> dict[str, list]:
        return {}


class SGD(Optimizer):
    """p <- p - lr * v, v <- momentum * v + grad (PyTorch's convention)."""

    def __init__(self, params, lr=0.1, momentum=0.0):
        super().__init__(params, lr)
        self.momentum = _check("SGD", "momentum", momentum, _unit, "in [0, 1)")
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def _slots(self):
        return {"velocity": self.velocity} if self.momentum else {}

    def step(self) -> None:
        """One update from the current gradients (parameters without one are skipped)."""
        self.steps += 1
        for k, p in enumerate(self.params):
            g = _grad_of(p)
            if g is None:
                continue
            if self.momentum:
                self.velocity[k] = self.momentum * self.velocity[k] + g
                g = self.velocity[k]
            p.sub_(self.lr * g)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        betas = tuple(betas)
        if len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = _check("Adam", "betas[0]", betas[0], _unit, "in [0, 1)")
        self.beta2 = _check("Adam", "betas[1]", betas[1], _unit, "in [0, 1)")
        self.eps = _check("Adam", "eps", eps, _positive, "positive and finite")
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def _slots(self):
        return {"m": self.m, "v": self.v}

    def step(self) -> None:
        """One update from the current gradients (parameters without one are skipped)."""
        self.steps += 1
        b1, b2 = self.beta1, self.beta2
        c1 = 1.0 - b1 ** self.steps
        c2 = 1.0 - b2 ** self.steps
        for k, p in enumerate(self.params):
            g = _grad_of(p)
            if g is None:
                continue
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * (g * g)
            update = (self.lr / c1) * self.m[k] / (np.sqrt(self.v[k] / c2) + self.eps)
            p.sub_(update)  # (cast to p's dtype)


def clip_grad_norm(params, max_norm: float, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients so their global L2 norm is at most `max_norm`.

    Returns the norm before clipping. A non-finite norm raises when `error_if_nonfinite`,
    and otherwise leaves the gradients untouched. `max_norm` must be > 0 (inf: no clipping).
    """
    _check("clip_grad_norm", "max_norm", max_norm, lambda x: x > 0, "positive")
    params = [p for p in params if p.grad is not None]
    norm = total_norm([_grad_of(p) for p in params])
    if not math.isfinite(norm):
        if error_if_nonfinite:
            raise FloatingPointError(f"clip_grad_norm: the total gradient norm is {norm}")
        return norm
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for p in params:
            p.grad = _grad_of(p) * np.asarray(scale, dtype=p.dtype)
    return norm
