"""Weights to and from PyTorch: `to_torch(layer)` and `from_torch(module)`.

Supports torch.nn.RNN (tanh), LSTM and GRU (unidirectional, with or without bias, any
num_layers, batch_first) and the single cells torch.nn.RNNCell/LSTMCell/GRUCell. torch is
imported only inside these functions.

Mapping (our W_g is (H + D, H), applied as `[h, x] @ W_g`; torch keeps `weight_ih` (kH, D)
and `weight_hh` (kH, H) with gates stacked in rows):
  LSTM gates i, f, g, o   -> W_i, W_f, W_c, W_o;   RNN -> W;   GRU r, z -> W_r, W_z
  W_g = concat([weight_hh[g].T, weight_ih[g].T])   (rows [:H] act on h, rows [H:] on x)
  bias: torch's two biases per gate sum into our one, b_g = b_ih[g] + b_hh[g] (exact for
  RNN and LSTM: both are added to the same pre-activation). GRU's candidate keeps both:
  b_nx = b_in and b_nh = b_hn, because r_t multiplies only b_hn. Going to torch, b_ih
  carries our bias and b_hh is zero (except b_hn = b_nh).
"""

from __future__ import annotations

import numpy as np

from rnn import cells, layers

# torch gate order -> our parameter names (matrices; each bias is "b" + the suffix)
_GATES = {
    "RNN": (("W", "b"),),
    "LSTM": (("W_i", "b_i"), ("W_f", "b_f"), ("W_c", "b_c"), ("W_o", "b_o")),
    "GRU": (("W_r", "b_r"), ("W_z", "b_z"), ("W_n", "b_n")),
}


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError(
            "rnn.interop needs PyTorch (pip install 'rnn-lab[compare]' or pip install torch)"
        ) from None
    return torch


def _kind_of_ours(obj) -> tuple[str, bool]:
    """('RNN' | 'LSTM' | 'GRU', is_cell) for one of our layers or cells."""
    for kind, layer_cls, cell_cls in (
        ("RNN", layers.RNN, cells.RNNCell),
        ("LSTM", layers.LSTM, cells.LSTMCell),
        ("GRU", layers.GRU, cells.GRUCell),
    ):
        if type(obj) is layer_cls:
            return kind, False
        if type(obj) is cell_cls:
            return kind, True
    raise TypeError(
        f"to_torch: no PyTorch counterpart for {type(obj).__name__} (supported: "
        f"RNN, LSTM, GRU and their cells; peephole LSTMs have none)"
    )


def _to_torch_tensors(cell, kind: str) -> dict[str, np.ndarray]:
    """Our cell's weights as torch's weight_ih, weight_hh, bias_ih, bias_hh arrays."""
    w = cell.weights()
    H = cell.hidden_size
    w_ih, w_hh, b_ih, b_hh = [], [], [], []
    for W_name, b_name in _GATES[kind]:
        if W_name == "W_n":  # GRU candidate: separate input and recurrent parts and biases
            w_ih.append(w["W_nx"].T)
            w_hh.append(w["W_nh"].T)
            b_ih.append(w["b_nx"])
            b_hh.append(w["b_nh"])
            continue
        w_hh.append(w[W_name][:H].T)
        w_ih.append(w[W_name][H:].T)
        b_ih.append(w[b_name])
        b_hh.append(np.zeros(H, dtype=w[b_name].dtype))
    return {
        "weight_ih": np.concatenate(w_ih),
        "weight_hh": np.concatenate(w_hh),
        "bias_ih": np.concatenate(b_ih),
        "bias_hh": np.concatenate(b_hh),
    }


def _from_torch_tensors(t: dict, kind: str, H: int) -> dict[str, np.ndarray]:
    """torch's weight_ih, weight_hh, bias_ih, bias_hh arrays -> our per-gate weights."""
    out = {}
    for k, (W_name, b_name) in enumerate(_GATES[kind]):
        rows = slice(k * H, (k + 1) * H)
        if W_name == "W_n":
            out["W_nx"] = t["weight_ih"][rows].T
            out["W_nh"] = t["weight_hh"][rows].T
            out["b_nx"] = t["bias_ih"][rows]
            out["b_nh"] = t["bias_hh"][rows]
            continue
        out[W_name] = np.concatenate([t["weight_hh"][rows].T, t["weight_ih"][rows].T])
        out[b_name] = t["bias_ih"][rows] + t["bias_hh"][rows]
    return out


def to_torch(layer):
    """A torch.nn.RNN/LSTM/GRU (or RNNCell/LSTMCell/GRUCell) with this layer's weights."""
    torch = _torch()
    kind, is_cell = _kind_of_ours(layer)
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        np.dtype(layer.dtype)
    ]
    if is_cell:
        module = getattr(torch.nn, kind + "Cell")(layer.input_size, layer.hidden_size, dtype=dtype)
        cells, suffixes = [layer], [""]
    else:
        module = getattr(torch.nn, kind)(
            layer.input_size,
            layer.hidden_size,
            num_layers=layer.num_layers,
            batch_first=layer.batch_first,
            dtype=dtype,
        )
        cells, suffixes = layer.cells, [f"_l{k}" for k in range(layer.num_layers)]
    with torch.no_grad():
        for cell, suffix in zip(cells, suffixes):
            for name, value in _to_torch_tensors(cell, kind).items():
                value = torch.from_numpy(np.ascontiguousarray(value))
                getattr(module, name + suffix).copy_(value)
    return module


def from_torch(module, fused: bool = True):
    """One of our layers (or cells) with the weights of a torch RNN/LSTM/GRU (or cell).

    The dtype follows the torch weights (float32 or float64). Bidirectional modules,
    projections (proj_size) and the relu RNN have no counterpart and raise ValueError;
    dropout between layers is not reproduced (our layers have none) and also raises.
    """
    torch = _torch()
    cell_kinds = {torch.nn.RNNCell: "RNN", torch.nn.LSTMCell: "LSTM", torch.nn.GRUCell: "GRU"}
    layer_kinds = {torch.nn.RNN: "RNN", torch.nn.LSTM: "LSTM", torch.nn.GRU: "GRU"}
    mtype = type(module)
    if mtype not in cell_kinds and mtype not in layer_kinds:
        raise TypeError(
            f"from_torch: expected torch.nn.RNN, LSTM, GRU or their cells, got {mtype.__name__}"
        )
    kind = cell_kinds.get(mtype) or layer_kinds[mtype]
    name = mtype.__name__
    if getattr(module, "nonlinearity", "tanh") != "tanh":
        raise ValueError(
            f"from_torch: {name} uses nonlinearity={module.nonlinearity!r}; only "
            f"tanh has a counterpart here"
        )
    if getattr(module, "bidirectional", False):
        raise ValueError(f"from_torch: {name} is bidirectional; only one direction is supported")
    if getattr(module, "proj_size", 0):
        raise ValueError(
            f"from_torch: {name} has proj_size={module.proj_size}; projections are not supported"
        )
    if getattr(module, "dropout", 0):
        raise ValueError(
            f"from_torch: {name} has dropout={module.dropout}; our layers have no "
            f"dropout between layers"
        )
    dtype = (module.weight_ih if mtype in cell_kinds else module.weight_ih_l0).dtype
    np_dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(dtype)
    if np_dtype is None:
        raise TypeError(f"from_torch: {name} has dtype {dtype}; use float32 or float64")
    H = module.hidden_size
    if mtype in cell_kinds:
        ours = {"RNN": cells.RNNCell, "LSTM": cells.LSTMCell, "GRU": cells.GRUCell}[kind](
            module.input_size, H, dtype=np_dtype
        )
        targets, suffixes = [ours], [""]
    else:
        ours = {"RNN": layers.RNN, "LSTM": layers.LSTM, "GRU": layers.GRU}[kind](
            module.input_size,
            H,
            num_layers=module.num_layers,
            batch_first=module.batch_first,
            dtype=np_dtype,
            fused=fused,
        )
        targets, suffixes = ours.cells, [f"_l{k}" for k in range(module.num_layers)]
    for cell, suffix in zip(targets, suffixes):
        arrays = {}
        for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            value = getattr(module, part + suffix, None)
            if value is None:  # bias=False: zero biases
                rows = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind] * H
                arrays[part] = np.zeros(rows, dtype=np_dtype)
            else:
                arrays[part] = value.detach().cpu().numpy().astype(np_dtype)
        cell.load_weights(_from_torch_tensors(arrays, kind, H))
    return ours
