"""Modules and parameters: the containers that models are built from."""

from __future__ import annotations

import numbers

import numpy as np

from autograd_lite import ops, state
from autograd_lite.errors import ShapeError, describe
from autograd_lite.tensor import Tensor


class Parameter(Tensor):
    """A trainable tensor: requires grad, drawn apart in graphs, found by `Module`.

    Its `.data` is read-only, like every tensor's, so `p.data -= lr * p.grad` fails with
    NumPy's "output array is read-only". Update it with `p.sub_(lr * p.grad)` or
    `p.assign(values)`: both install a new array, so graphs built earlier keep theirs.
    """

    __slots__ = ()
    is_parameter = True

    def __init__(self, data, label=None, dtype=None):
        super().__init__(data, requires_grad=True, label=label, dtype=dtype)

    def assign(self, values) -> None:
        """Replace the values (same shape and dtype); the old array stays intact."""
        if state.tracer is not None:  # (said before any read of the old values)
            state.tracer.mutated(self)
        values = np.array(values, dtype=self.dtype)
        if values.shape != self.shape:
            raise ValueError(f"assign: parameter '{self.label}' has shape {self.shape}, "
                             f"got {values.shape}")
        values.setflags(write=False)
        self.data = values

    def sub_(self, delta) -> "Parameter":
        """p <- p - delta, for hand-written updates (delta is cast to p's dtype); returns p."""
        if state.tracer is not None:
            state.tracer.mutated(self)
        delta = np.asarray(delta.data if isinstance(delta, Tensor) else delta, dtype=self.dtype)
        values = self.data - delta
        if values.shape != self.shape:
            raise ShapeError(f"sub_: parameter {describe(self)} cannot take a delta of shape "
                             f"{delta.shape}")
        values.setflags(write=False)
        self.data = values
        return self


def check_size(owner: str, name: str, value) -> int:
    """`value` as a positive int (integral floats allowed), else an error naming both."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a positive integer, got {value!r} "
                        f"of type {type(value).__name__}")
    if not (isinstance(value, numbers.Integral) or float(value).is_integer()) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


class Module:
    """A container of parameters and submodules, discovered from its attributes in order."""

    training = True

    def named_parameters(self, prefix: str = ""):
        """Yield (dotted name, Parameter) for this module and its submodules, in order."""
        seen = set()
        for name, value in vars(self).items():
            yield from _named(value, prefix + name, seen)

    def parameters(self) -> list[Parameter]:
        """All parameters, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def modules(self):
        """This module and every submodule, depth first."""
        yield self
        for value in vars(self).values():
            for m in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(m, Module):
                    yield from m.modules()

    def zero_grad(self) -> None:
        """Forget all accumulated gradients."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> "Module":
        """Set training mode on this module and its submodules."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (the same as `train(False)`)."""
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameter name -> a copy of its values."""
        return {name: np.array(p.data) for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Load values saved by `state_dict`; names, shapes and dtypes must all match."""
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"load_state_dict: missing {missing}, unexpected {unexpected}")
        for name, p in own.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict: '{name}' has shape {p.shape}, "
                                 f"the state has {value.shape}")
            if value.dtype != p.dtype:
                raise ValueError(f"load_state_dict: '{name}' has dtype {p.dtype}, "
                                 f"the state has {value.dtype}")
        for name, p in own.items():
            p.assign(state[name])

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")


def _named(value, name, seen):
    if isinstance(value, Parameter):
        if id(value) not in seen:
            seen.add(id(value))
            yield name, value
    elif isinstance(value, Module):
        for sub, p in value.named_parameters(prefix=name + "."):
            if id(p) not in seen:
                seen.add(id(p))
                yield sub, p
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            yield from _named(item, f"{name}.{k}", seen)


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Linear(Module):
    """y = x @ W.T + b, with W of shape (out_features, in_features), PyTorch's layout.

    Initialised uniformly in +-1/sqrt(in_features), as PyTorch does.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float64, rng=None):
        in_features = check_size("Linear", "in_features", in_features)
        out_features = check_size("Linear", "out_features", out_features)
        rng = _rng(rng)
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_features, in_features)),
                                label="W", dtype=dtype)
        self.bias = (Parameter(rng.uniform(-bound, bound, out_features), label="b",
                               dtype=dtype) if bias else None)

    def forward(self, x):
        y = ops.matmul(x, self.weight.T)
        return y if self.bias is None else y + self.bias


class Embedding(Module):
    """A lookup table: integer ids (any shape) -> rows of `weight` (num, dim), N(0, 1) init."""

    def __init__(self, num_embeddings, embedding_dim, dtype=np.float64, rng=None):
        num_embeddings = check_size("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = check_size("Embedding", "embedding_dim", embedding_dim)
        self.weight = Parameter(_rng(rng).standard_normal((num_embeddings, embedding_dim)),
                                label="E", dtype=dtype)

    def forward(self, ids):
        return ops.embedding(self.weight, ids)
