"""The op table on PyTorch, and a cell's forward replayed on torch tensors.

`TORCH_FORWARDS` gives each primitive of `autograd_lite.table` a torch forward
`fn(torch, *inputs, **attrs)` with the table's attributes; torch differentiates it, so no VJP
is needed. `trace(cls, ...)` runs a cell's own `forward` once on engine tensors and keeps its
graph as a program; `Trace.replay` runs that program with torch functions. The forward cannot
branch on values (a Tensor has no truth value), so one trace per batch size is the whole cell.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from autograd_lite.graph import in_creation_order
from autograd_lite.tensor import Tensor
from rnn.errors import UserError


class UnsupportedOp(UserError):
    """A cell's forward uses an op that has no torch form (the message names the op)."""


def _dims(a, axis):
    # The table's axis (None = all axes, int or tuple) as torch's dim.
    return tuple(range(a.dim())) if axis is None else axis


def _index(torch, index, device):
    # NumPy arrays inside an index become torch tensors on the data's device.
    if isinstance(index, tuple):
        return tuple(_index(torch, i, device) for i in index)
    if isinstance(index, np.ndarray):
        return torch.as_tensor(index, device=device)
    return index


def _permute(a, axes):
    return a.permute(*(axes if axes is not None else reversed(range(a.dim()))))


def _scatter(torch, g, shape, index):
    # Zeros of `shape` with g added at `index` (repeated ids add up), as kernels.scatter.
    out = g.new_zeros(shape)
    index = _index(torch, index, g.device)
    items = index if isinstance(index, tuple) else (index,)
    if all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items):
        out[index] = g
        return out
    return out.index_put(items, g, accumulate=True)


def _sum_to(a, shape):
    shape = tuple(shape)
    return a if tuple(a.shape) == shape else a.sum_to_size(shape).reshape(shape)


# One line per primitive: its forward on torch tensors, with the table's attributes.
TORCH_FORWARDS = {
    "add": lambda torch, a, b: a + b,
    "sub": lambda torch, a, b: a - b,
    "mul": lambda torch, a, b: a * b,
    "div": lambda torch, a, b: a / b,
    "neg": lambda torch, a: -a,
    "pow": lambda torch, a, p: a ** p,
    "pow_tensor": lambda torch, a, b: a ** b,
    "exp": lambda torch, a: torch.exp(a),
    "log": lambda torch, a: torch.log(a),
    "sigmoid": lambda torch, a: torch.sigmoid(a),
    "tanh": lambda torch, a: torch.tanh(a),
    "relu": lambda torch, a: torch.relu(a),
    "matmul": lambda torch, a, b: a @ b,
    "sum": lambda torch, a, axis=None, keepdims=False:
        a.sum(dim=_dims(a, axis), keepdim=keepdims),
    "mean": lambda torch, a, axis=None, keepdims=False:
        a.mean(dim=_dims(a, axis), keepdim=keepdims),
    # amax shares the gradient among ties, as the table's max does
    "max": lambda torch, a, axis=None, keepdims=False:
        torch.amax(a, dim=_dims(a, axis), keepdim=keepdims),
    "reshape": lambda torch, a, shape: a.reshape(shape),
    "transpose": lambda torch, a, axes=None: _permute(a, axes),
    "getitem": lambda torch, a, index: a[_index(torch, index, a.device)],
    "scatter": _scatter,
    "embedding": lambda torch, w, ids: w[ids.long()],
    "broadcast_to": lambda torch, a, shape: a.expand(shape),
    "sum_to": lambda torch, a, shape: _sum_to(a, shape),
    "astype": lambda torch, a, dtype: a.to(torch_dtype(torch, dtype)),
    "concat": lambda torch, *xs, axis=0: torch.cat(xs, dim=axis),
    "stack": lambda torch, *xs, axis=0: torch.stack(xs, dim=axis),
    "where": lambda torch, a, b, cond: torch.where(torch.as_tensor(cond, device=a.device), a, b),
    "softmax": lambda torch, a, axis=-1: torch.softmax(a, dim=axis),
    "log_softmax": lambda torch, a, axis=-1: torch.log_softmax(a, dim=axis),
    "logsumexp": lambda torch, a, axis=-1, keepdims=False:
        torch.logsumexp(a, dim=_dims(a, axis), keepdim=keepdims),
}


def register_torch_op(name: str, forward) -> None:
    """Give a primitive of your own (`defop(name, ...)`) its torch form:
    `forward(torch, *inputs, **attrs)` on torch tensors, differentiable by torch."""
    TORCH_FORWARDS[name] = forward


def torch_dtype(torch, dtype):
    """The torch dtype for a NumPy dtype."""
    return getattr(torch, np.dtype(dtype).name)


@dataclass(frozen=True)
class Step:
    """One recorded op: its torch forward, the value slots it reads, its attributes."""

    op: str
    forward: object
    args: tuple[int, ...]
    attrs: dict


class Trace:
    """A cell's forward as a program: slots 0.. hold x, the states, the parameters (PARAMS
    order) and the constants; each step appends one value; `outputs` are the new states."""

    def __init__(self, cls, constants, steps, outputs):
        self.cls, self.constants, self.steps, self.outputs = cls, constants, steps, outputs

    def replay(self, torch, x, states, params, constants) -> tuple:
        """The new states, computed with torch ops from torch x, states and parameters
        (`constants`: `self.constants` as torch tensors, see `constants_on`)."""
        values = [x, *states, *params, *constants]
        for step in self.steps:
            values.append(step.forward(torch, *[values[k] for k in step.args], **step.attrs))
        return tuple(values[k] for k in self.outputs)

    def constants_on(self, torch, device) -> list:
        """The constants as torch tensors on `device`."""
        return [torch.as_tensor(a, device=device) for a in self.constants]


def _where(cls) -> str:
    return f"cell {cls.name!r} ({cls.__qualname__})"


def _run(cell, inputs):
    x, *states = inputs
    out = cell(x, states[0] if len(states) == 1 else tuple(states))
    return out if isinstance(out, tuple) else (out,)


def _random_inputs(cls, batch, input_size, hidden_size, dtype, seed):
    rng = np.random.default_rng(seed)
    shapes = [(batch, input_size)] + [(batch, hidden_size)] * len(cls.STATE)
    return [Tensor(rng.standard_normal(s), requires_grad=True, dtype=dtype) for s in shapes]


@functools.lru_cache(maxsize=128)
def trace(cls, input_size: int, hidden_size: int, batch: int, dtype) -> Trace:
    """`cls.forward` recorded on a batch of `batch` rows (cached per class and sizes).

    Raises UnsupportedOp when forward uses an op `TORCH_FORWARDS` lacks."""
    dtype = np.dtype(dtype)
    cell = cls(input_size, hidden_size, dtype=dtype, rng=0)  # (its values are not kept)
    inputs = _random_inputs(cls, batch, input_size, hidden_size, dtype, seed=0)
    outs = _run(cell, inputs)
    if len(outs) != len(cls.STATE):
        raise UserError(f"{_where(cls)}: forward returned {len(outs)} values for the "
                        f"{len(cls.STATE)} states {cls.STATE}")
    names = [name for name, _ in cls.PARAMS]
    slot = {id(t): k for k, t in enumerate([*inputs, *(getattr(cell, n) for n in names)])}
    nodes = in_creation_order(outs)
    constants = []
    for node in nodes:  # leaves first: they take the slots after the parameters
        if node.creator is None and id(node) not in slot:
            if node.is_parameter:
                raise UserError(f"{_where(cls)}: forward reads parameter {node.label!r}, "
                                f"which is not in PARAMS")
            slot[id(node)] = len(slot)
            constants.append(np.array(node.data))
    steps = []
    for node in nodes:
        if node.creator is None:
            continue
        forward = TORCH_FORWARDS.get(node.op)
        if forward is None:
            raise UnsupportedOp(
                f"{_where(cls)} uses op {node.op!r}, which the torch backend lacks; give it a "
                f"torch form with rnn.torch_engine.backend.register_torch_op({node.op!r}, fn)")
        slot[id(node)] = len(slot)
        steps.append(Step(node.op, forward, tuple(slot[id(p)] for p in node.parents),
                          dict(node.attrs or {})))
    return Trace(cls, constants, steps, tuple(slot[id(t)] for t in outs))


def check_replay(torch, tr: Trace, input_size, hidden_size, batch, dtype) -> None:
    """Replay `tr` on fresh random inputs and compare with the engine's own forward: a
    forward that picked something from its input values (a `where` on a comparison) would
    have been frozen into the trace, and is refused here."""
    cls = tr.cls
    cell = cls(input_size, hidden_size, dtype=dtype, rng=1)
    inputs = _random_inputs(cls, batch, input_size, hidden_size, dtype, seed=1)
    expected = _run(cell, inputs)
    as_torch = [torch.from_numpy(np.array(t.data)) for t in inputs]
    params = [torch.from_numpy(np.array(getattr(cell, n).data)) for n, _ in cls.PARAMS]
    got = tr.replay(torch, as_torch[0], as_torch[1:], params, tr.constants_on(torch, "cpu"))
    tol = 1e-10 if np.dtype(dtype) == np.float64 else 1e-4
    for e, g in zip(expected, got):
        if not np.allclose(e.data, g.numpy(), rtol=tol, atol=tol, equal_nan=True):
            raise UserError(f"{_where(cls)}: its forward depends on the input values in a "
                            f"way a trace cannot replay (e.g. where() on a comparison); "
                            f"write it with differentiable ops")
