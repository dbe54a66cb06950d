"""Sequence layers (RNN, LSTM, GRU, PeepholeLSTM) over the cells, with PyTorch's calling convention.

`fused=True` (the default) runs each layer as one fused node (`rnn.fused`); `fused=False`
unrolls the readable cell step by step, so every gate of every step is a node in the graph.

Truncated BPTT: pass the final state of one batch, cut from the graph with
`detach_state(state)`, as the initial state of the next; the graph then never grows
across batches.
"""

from __future__ import annotations

import numpy as np

from autograd_lite import nn
from autograd_lite.ops import stack, transpose
from autograd_lite.tensor import ShapeError, Tensor
from rnn.cells import (
    GRUCell,
    LSTMCell,
    PeepholeLSTMCell,
    RNNCell,
    as_input,
    check_dtype,
    check_state,
)
from rnn.fused import run_fused


class RecurrentLayer(nn.Module):
    """A stack of `num_layers` cells run over a sequence.

    `forward(x, state=None) -> (outputs, final_state)`: x is (T, B, D), or (B, T, D) with
    `batch_first`; outputs are the last layer's h_t, (T, B, H) (or (B, T, H)). The state is
    `h` of shape (num_layers, B, H) for RNN and GRU and a tuple `(h, c)` of two such arrays
    for the LSTMs; None starts from zeros. Parameters live in `self.cells[l]` (named
    `cells.0.W_f`, ...); per-gate arrays of layer l come from `self.cells[l].weights()`.

    `fused=True` runs each layer as one fused node, `fused=False` unrolls the readable cell;
    `forget_bias` is the initial b_f of the LSTMs (RNN and GRU have no forget gate and
    ignore it); `dtype` is float32 or float64; `rng` is a seed or a np.random.Generator.
    """

    CELL: type = None

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        batch_first=False,
        dtype=np.float64,
        fused=True,
        forget_bias=1.0,
        rng=None,
    ):
        name = type(self).__name__
        if int(num_layers) < 1:
            raise ValueError(f"{name}: num_layers must be at least 1, got {num_layers}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers = int(num_layers)
        self.batch_first = bool(batch_first)
        self.dtype = check_dtype(name, dtype)
        self.fused = bool(fused)
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.cells = [
            self.CELL(
                self.input_size if layer == 0 else self.hidden_size,
                self.hidden_size,
                dtype=self.dtype,
                forget_bias=forget_bias,
                rng=rng,
            )
            for layer in range(self.num_layers)
        ]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
            f"batch_first={self.batch_first}, dtype={self.dtype}, fused={self.fused})"
        )

    def forward(self, x, state=None):
        name = type(self).__name__
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
        batch = x.shape[1]
        initial = self._initial_states(state, batch)
        finals = []
        seq = x
        for cell, init in zip(self.cells, initial):
            if self.fused:
                seq, final = run_fused(cell, seq, init)
            else:
                seq, final = _unroll(cell, seq, init)
            finals.append(final)
        outputs = stack(seq, axis=0) if isinstance(seq, list) else seq
        if self.batch_first:
            outputs = transpose(outputs, (1, 0, 2))
        outputs.label = "outputs"
        final_state = []
        for k, state_name in enumerate(self.CELL.STATE):
            s = stack([f[k] for f in finals], axis=0)
            s.label = f"{state_name}_n"
            final_state.append(s)
        return outputs, final_state[0] if len(final_state) == 1 else tuple(final_state)

    def _initial_states(self, state, batch) -> list[tuple]:
        """Per layer, a tuple of (B, H) Tensors (zeros where no state was given)."""
        name, names = type(self).__name__, self.CELL.STATE
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

    CELL = RNNCell


class LSTM(RecurrentLayer):
    """LSTM layer (see `LSTMCell` for the equations); state `(h, c)`."""

    CELL = LSTMCell


class GRU(RecurrentLayer):
    """GRU layer in PyTorch's convention (see `GRUCell`)."""

    CELL = GRUCell


class PeepholeLSTM(RecurrentLayer):
    """LSTM layer with peephole connections (see `PeepholeLSTMCell`); state `(h, c)`."""

    CELL = PeepholeLSTMCell


LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU, "peephole": PeepholeLSTM}


def make_layer(cell: str, input_size, hidden_size, **kw) -> RecurrentLayer:
    """A layer by cell name ("rnn", "lstm", "gru" or "peephole"); `kw` go to the layer."""
    try:
        cls = LAYERS[cell.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"make_layer: unknown cell {cell!r}; choose one of {', '.join(LAYERS)}"
        ) from None
    return cls(input_size, hidden_size, **kw)


def detach_state(state):
    """The state cut from the graph (for truncated BPTT): a Tensor, a tuple of them, or None."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(s.detach() for s in state)
    return state.detach()
