"""Any registered cell as a torch.nn.Module: the cell's own forward, replayed on torch tensors
(`rnn.torch_engine.backend`), with the cell's parameter names (`W_f`, `b_f`, ...) and layout.

`TorchCell` is one cell; `TorchLayer` runs a stack of them over a sequence with
`RecurrentLayer`'s conventions (time-major or batch_first, state `h` or `(h, c)` of shape
(num_layers, B, H)). `rnn.interop.to_torch` makes them from our cells and layers.
"""

from __future__ import annotations

import numpy as np

from rnn.cells import Cell
from rnn.cells.base import state_parts
from rnn.torch_engine import require_torch
from rnn.torch_engine.backend import check_replay, trace

torch = require_torch("a cell on PyTorch")


class TorchCell(torch.nn.Module):
    """`cell_class`'s forward on torch tensors; parameters named as in its PARAMS.

    `forward(x, state=None)`: x (B, D); state `h` (B, H) or a tuple in STATE order (zeros
    where None); returns h, or the tuple of new states, as the cell does.
    """

    def __init__(self, cell_class: type[Cell], input_size: int, hidden_size: int,
                 dtype=np.float64, weights: dict | None = None):
        super().__init__()
        self.cell_class = cell_class
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.np_dtype = np.dtype(dtype)
        if weights is None:
            weights = cell_class(input_size, hidden_size, dtype=dtype, rng=0).weights()
        for name, _ in cell_class.PARAMS:
            value = torch.from_numpy(np.array(weights[name], dtype=self.np_dtype))
            self.register_parameter(name, torch.nn.Parameter(value))
        # Trace once now: an op without a torch form fails here, not at the first batch.
        first = trace(cell_class, self.input_size, self.hidden_size, 2, self.np_dtype)
        check_replay(torch, first, self.input_size, self.hidden_size, 2, self.np_dtype)
        self._constants = {}  # (batch, device) -> the trace's constants as tensors

    @classmethod
    def from_cell(cls, cell: Cell) -> TorchCell:
        """A torch copy of one of our cells (same weights)."""
        return cls(type(cell), cell.input_size, cell.hidden_size, cell.dtype, cell.weights())

    def weights(self) -> dict[str, np.ndarray]:
        """Each parameter by its name, as a NumPy copy (our layout)."""
        return {name: getattr(self, name).detach().cpu().numpy().copy()
                for name, _ in self.cell_class.PARAMS}

    def extra_repr(self) -> str:
        return (f"{self.cell_class.name!r}, input_size={self.input_size}, "
                f"hidden_size={self.hidden_size}")

    def _states(self, x, state) -> list:
        names, owner = self.cell_class.STATE, f"{self.cell_class.__name__} (torch)"
        parts = state_parts(owner, names, state, self.hidden_size, "tensors")
        shape = (x.shape[0], self.hidden_size)
        out = []
        for name, s in zip(names, parts):
            if s is None:
                s = x.new_zeros(shape)
            elif tuple(s.shape) != shape:
                raise ValueError(f"{owner}: state {name} has shape {tuple(s.shape)}, "
                                 f"expected {shape} (batch, hidden)")
            out.append(s)
        return out

    def forward(self, x, state=None):
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{self.cell_class.__name__} (torch): input x has shape "
                             f"{tuple(x.shape)}, expected (batch, {self.input_size})")
        states = self._states(x, state)
        batch = x.shape[0]
        tr = trace(self.cell_class, self.input_size, self.hidden_size, batch, self.np_dtype)
        key = (batch, x.device)
        if key not in self._constants:
            self._constants[key] = tr.constants_on(torch, x.device)
        params = [getattr(self, name) for name, _ in self.cell_class.PARAMS]
        out = tr.replay(torch, x, states, params, self._constants[key])
        return out[0] if len(out) == 1 else out


class TorchLayer(torch.nn.Module):
    """A stack of `num_layers` TorchCells over a sequence, as `RecurrentLayer` runs them.

    `forward(x, state=None) -> (outputs, final state)`; parameters `cells.0.W_f`, ... as in
    our layer's state_dict.
    """

    def __init__(self, cell_class: type[Cell], input_size: int, hidden_size: int,
                 num_layers: int = 1, batch_first: bool = False, dtype=np.float64,
                 weights: list[dict] | None = None):
        super().__init__()
        self.cell_class = cell_class
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.batch_first = int(num_layers), bool(batch_first)
        self.np_dtype = np.dtype(dtype)
        self.cells = torch.nn.ModuleList(
            TorchCell(cell_class, input_size if k == 0 else hidden_size, hidden_size, dtype,
                      None if weights is None else weights[k])
            for k in range(self.num_layers))

    @classmethod
    def from_layer(cls, layer) -> TorchLayer:
        """A torch copy of one of our RecurrentLayers (same weights)."""
        return cls(layer.cell_class, layer.input_size, layer.hidden_size, layer.num_layers,
                   layer.batch_first, layer.dtype, [c.weights() for c in layer.cells])

    def extra_repr(self) -> str:
        return f"{self.cell_class.name!r}, batch_first={self.batch_first}"

    def _initial(self, state, batch, like) -> list:
        names = self.cell_class.STATE
        if state is None:
            return [None] * self.num_layers
        parts = [state] if len(names) == 1 else list(state)
        shape = (self.num_layers, batch, self.hidden_size)
        for name, p in zip(names, parts):
            if tuple(p.shape) != shape:
                raise ValueError(f"{type(self).__name__}: state {name} has shape "
                                 f"{tuple(p.shape)}, expected {shape}")
        if len(names) == 1:
            return [parts[0][k] for k in range(self.num_layers)]
        return [tuple(p[k] for p in parts) for k in range(self.num_layers)]

    def forward(self, x, state=None):
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input x has shape {tuple(x.shape)}, "
                             f"expected 3 axes ending in {self.input_size}")
        if self.batch_first:
            x = x.transpose(0, 1)
        steps = list(x.unbind(0))
        finals = []
        for cell, s in zip(self.cells, self._initial(state, x.shape[1], x)):
            hs = []
            for x_t in steps:
                s = cell(x_t, s)
                hs.append(s[0] if isinstance(s, tuple) else s)
            steps = hs
            finals.append(s if isinstance(s, tuple) else (s,))
        outputs = torch.stack(steps, dim=0)
        if self.batch_first:
            outputs = outputs.transpose(0, 1)
        final = tuple(torch.stack([f[k] for f in finals], dim=0)
                      for k in range(len(self.cell_class.STATE)))
        return outputs, final[0] if len(final) == 1 else final
