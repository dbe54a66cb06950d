"""Sequence layers over any registered cell, with PyTorch's calling convention.

`fused=True` (the default) runs each layer as one fused node when the cell class declares a
kernel (`rnn.kernels`); a cell without one, or `fused=False`, unrolls the readable cell step
by step, so every gate of every step is a node in the graph.

Truncated BPTT: pass the final state of one batch, cut from the graph with
`detach_state(state)`, as the initial state of the next; the graph then never grows
across batches.
"""

from __future__ import annotations

import warnings

import numpy as np

from autograd_lite import nn
from autograd_lite.ops import stack, transpose
from autograd_lite.tensor import ShapeError, Tensor
from rnn.cells import (
    Cell,
    as_input,
    cell_class,
    cell_names,
    check_dtype,
    check_init,
    check_size,
    check_state,
)
from rnn.kernels import run_fused


class FusedFallback(UserWarning):
    """A layer asked for `fused=True` runs a cell that has no fused kernel."""


_NOTIFIED: set = set()  # cell classes whose fallback notice was already given


class RecurrentLayer(nn.Module):
    """A stack of `num_layers` cells of one registered class run over a sequence.

    `RecurrentLayer(input_size, hidden_size, cell="mgu")`, or a subclass that sets `CELL`.
    `forward(x, state=None) -> (outputs, final_state)`: x is (T, B, D), or (B, T, D) with
    `batch_first`; outputs are the last layer's h_t, (T, B, H) (or (B, T, H)). The state is
    `h` of shape (num_layers, B, H) for one-state cells and a tuple such as `(h, c)` of such
    arrays otherwise; None starts from zeros. Parameters live in `self.cells[l]` (named
    `cells.0.W_f`, ...); per-gate arrays of layer l come from `self.cells[l].weights()`.

    `fused=True` runs each layer as one fused node when the cell has a kernel (otherwise it
    falls back to the readable graph, with a one-time notice); `fused=False` unrolls the
    readable cell; `forget_bias` is the initial forget-gate bias of the cells that have one;
    `init` names the initialisation of every layer's cell (`rnn.cells.init_names()`; None:
    the cell's default) and `t_max` is chrono's longest expected dependency; `dtype` is
    float32 or float64; `rng` is a seed or a np.random.Generator.
    """

    CELL: type[Cell] | str | None = None
    _NAMED: dict = {}  # cell name -> the subclass that names it (LSTM, GRU, ...)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.CELL is not None:
            RecurrentLayer._NAMED.setdefault(cell_class(cls.CELL).name, cls)

    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=False,
                 dtype=np.float64, fused=True, forget_bias=1.0, rng=None, cell=None, init=None,
                 t_max=None):
        self.cell_class = cell_class(cell if cell is not None else self.CELL)
        name = self._name()
        self.input_size = check_size(name, "input_size", input_size)
        self.hidden_size = check_size(name, "hidden_size", hidden_size)
        self.num_layers = check_size(name, "num_layers", num_layers)
        self.batch_first = bool(batch_first)
        self.dtype = check_dtype(name, dtype)
        self.fused = bool(fused)
        self.init, self.t_max = check_init(self.cell_class, init, t_max), t_max
        rng = np.random.default_rng(rng)
        self.cells = [
            self.cell_class(self.input_size if layer == 0 else self.hidden_size,
                            self.hidden_size, dtype=self.dtype, forget_bias=forget_bias, rng=rng,
                            init=self.init, t_max=t_max)
            for layer in range(self.num_layers)
        ]

    def _name(self) -> str:
        return type(self).__name__ if self.CELL is not None else \
            f"{type(self).__name__}({self.cell_class.name})"

    def __repr__(self) -> str:
        cell = "" if self.CELL is not None else f"cell={self.cell_class.name!r}, "
        return (f"{type(self).__name__}({cell}input_size={self.input_size}, "
                f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, dtype={self.dtype}, fused={self.fused})")

    @property
    def runs_fused(self) -> bool:
        """Whether forward runs the fused kernel (asked for, and the cell has one)."""
        return self.fused and self.cell_class.fused_kernel() is not None

    def forward(self, x, state=None):
        name = self._name()
        x = as_input(name, x, self.dtype)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            order = "(batch, time, " if self.batch_first else "(time, batch, "
            raise ShapeError(
                f"{name}: input x has shape {tuple(x.shape)}, expected {order}{self.input_size})"
            )
        if x.shape[1 if self.batch_first else 0] == 0:
            raise ShapeError(f"{name}: input x has no time steps (shape {tuple(x.shape)})")
        if self.batch_first:
            x = transpose(x, (1, 0, 2))
        initial = self._initial_states(state, x.shape[1])
        fused = self.runs_fused
        if self.fused and not fused:
            _notify_fallback(self.cell_class)
        finals = []
        seq = x
        for cell, init in zip(self.cells, initial):
            seq, final = run_fused(cell, seq, init) if fused else _unroll(cell, seq, init)
            finals.append(final)
        outputs = stack(seq, axis=0) if isinstance(seq, list) else seq
        if self.batch_first:
            outputs = transpose(outputs, (1, 0, 2))
        outputs.label = "outputs"
        final_state = []
        for k, state_name in enumerate(self.cell_class.STATE):
            s = stack([f[k] for f in finals], axis=0)
            s.label = f"{state_name}_n"
            final_state.append(s)
        return outputs, final_state[0] if len(final_state) == 1 else tuple(final_state)

    def _initial_states(self, state, batch) -> list[tuple]:
        """Per layer, a tuple of (B, H) Tensors (zeros where no state was given)."""
        name, names = self._name(), self.cell_class.STATE
        shape = (self.num_layers, batch, self.hidden_size)
        if state is None:
            parts = [None] * len(names)
        elif len(names) == 1:
            if isinstance(state, (tuple, list)):
                raise TypeError(
                    f"{name}: state is a single array h of shape {shape}, "
                    f"got a {type(state).__name__}"
                )
            parts = [state]
        else:
            if not isinstance(state, (tuple, list)) or len(state) != len(names):
                raise TypeError(
                    f"{name}: state is a tuple ({', '.join(names)}), each of "
                    f"shape {shape}, got {type(state).__name__}"
                )
            parts = list(state)
        parts = [check_state(name, n, s, shape, self.dtype) for n, s in zip(names, parts)]
        return [tuple(p[layer] for p in parts) for layer in range(self.num_layers)]


def _notify_fallback(cls) -> None:
    if cls not in _NOTIFIED:
        _NOTIFIED.add(cls)
        warnings.warn(f"{cls.__name__} ({cls.name!r}) has no fused kernel: it runs on the "
                      f"readable primitive graph (pass fused=False to silence this)",
                      FusedFallback, stacklevel=4)


def _unroll(cell, seq, init):
    """The readable path: call the cell once per step. `seq` is a (T, B, D) Tensor or a list
    of (B, D) Tensors (the previous layer's outputs); returns (list of h_t, final state)."""
    steps = [seq[t] for t in range(seq.shape[0])] if isinstance(seq, Tensor) else seq
    state = init if len(init) > 1 else init[0]
    hs = []
    for x_t in steps:
        state = cell(x_t, state)
        hs.append(state[0] if isinstance(state, tuple) else state)
    return hs, state if isinstance(state, tuple) else (state,)


class RNN(RecurrentLayer):
    """Elman RNN layer: h_t = tanh([h_{t-1}, x_t] @ W + b) per layer (see `RNNCell`)."""

    CELL = "rnn"


class LSTM(RecurrentLayer):
    """LSTM layer (see `LSTMCell` for the equations); state `(h, c)`."""

    CELL = "lstm"


class GRU(RecurrentLayer):
    """GRU layer in PyTorch's convention (see `GRUCell`)."""

    CELL = "gru"


class PeepholeLSTM(RecurrentLayer):
    """LSTM layer with peephole connections (see `PeepholeLSTMCell`); state `(h, c)`."""

    CELL = "peephole"


def make_layer(cell, input_size, hidden_size, **kw) -> RecurrentLayer:
    """A layer of any registered cell, by name ("lstm", "mgu", ...) or class; `kw` go to the
    layer (num_layers, batch_first, dtype, fused, forget_bias, rng, init, t_max)."""
    try:
        cls = cell_class(cell)
    except ValueError:
        raise ValueError(f"make_layer: unknown cell {cell!r}; choose one of "
                         f"{', '.join(cell_names())}") from None
    named_layer = RecurrentLayer._NAMED.get(cls.name)
    if named_layer is not None and cell_class(named_layer.CELL) is cls:
        return named_layer(input_size, hidden_size, **kw)
    return RecurrentLayer(input_size, hidden_size, cell=cls, **kw)


def detach_state(state):
    """The state cut from the graph (for truncated BPTT): a Tensor, a tuple of them, or None."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(s.detach() for s in state)
    return state.detach()
