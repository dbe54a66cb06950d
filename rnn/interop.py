"""Weights to and from PyTorch: `to_torch(layer)` and `from_torch(module)`, for every cell.

The cells PyTorch has map to its own modules (cuDNN/oneDNN): our RNN, IRNN, LSTM and GRU layers
to torch.nn.RNN (tanh; relu for the IRNN), LSTM and GRU (unidirectional, with or without bias,
any num_layers, batch_first), their cells to torch.nn.RNNCell/LSTMCell/GRUCell. Every other
registered cell (peephole, CIFG, MGU, your own) becomes a `TorchCell` or `TorchLayer` that
replays the cell's own forward on torch tensors (`rnn.torch_engine.cells`), with the cell's
parameter names. torch is imported only inside these functions.

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

import functools

import numpy as np

from rnn import cells, layers
from rnn.torch_engine import require_torch

# torch gate order -> our parameter names (matrices; each bias is "b" + the suffix)
_GATES = {
    "RNN": (("W", "b"),),
    "LSTM": (("W_i", "b_i"), ("W_f", "b_f"), ("W_c", "b_c"), ("W_o", "b_o")),
    "GRU": (("W_r", "b_r"), ("W_z", "b_z"), ("W_n", "b_n")),
}


def _torch():
    return require_torch("rnn.interop")


def _cells_module():
    _torch()  # (the one-line install hint first)
    import rnn.torch_engine.cells

    return rnn.torch_engine.cells


_TORCH_KINDS = {cells.RNNCell: "RNN", cells.IRNNCell: "RNN", cells.LSTMCell: "LSTM",
                cells.GRUCell: "GRU"}


def torch_kind(cell_class) -> str | None:
    """'RNN', 'LSTM' or 'GRU' when PyTorch has this very cell class, else None."""
    return _TORCH_KINDS.get(cell_class)


def _torch_options(kind: str, cell) -> dict:
    """The torch module's options that our cell's own settings choose (an RNN's nonlinearity)."""
    return {"nonlinearity": cell.nonlinearity} if kind == "RNN" else {}


def _kind_of_ours(obj) -> tuple[str | None, bool]:
    """('RNN' | 'LSTM' | 'GRU' | None, is_cell) for one of our layers or cells."""
    if isinstance(obj, cells.Cell):
        return torch_kind(type(obj)), True
    if isinstance(obj, layers.RecurrentLayer):
        return torch_kind(obj.cell_class), False
    raise TypeError(f"to_torch: expected one of our cells or recurrent layers, got "
                    f"{type(obj).__name__}")


def _to_torch_tensors(w: dict, kind: str, H: int) -> dict[str, np.ndarray]:
    """Our weights of one cell as torch's weight_ih, weight_hh, bias_ih, bias_hh arrays."""
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
    """A torch module with this layer's (or cell's) weights: torch.nn.RNN/LSTM/GRU (or
    RNNCell/LSTMCell/GRUCell) for the cells PyTorch has, a TorchLayer (TorchCell) that runs
    the cell's own forward for every other cell."""
    torch = _torch()
    kind, is_cell = _kind_of_ours(layer)
    if kind is None:
        torch_cells = _cells_module()
        return (torch_cells.TorchCell.from_cell(layer) if is_cell else
                torch_cells.TorchLayer.from_layer(layer))
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        np.dtype(layer.dtype)
    ]
    if is_cell:
        module = getattr(torch.nn, kind + "Cell")(layer.input_size, layer.hidden_size, dtype=dtype,
                                                  **_torch_options(kind, layer))
        cells, suffixes = [layer], [""]
    else:
        module = getattr(torch.nn, kind)(
            layer.input_size,
            layer.hidden_size,
            num_layers=layer.num_layers,
            batch_first=layer.batch_first,
            dtype=dtype,
            **_torch_options(kind, layer.cells[0]),
        )
        cells, suffixes = layer.cells, [f"_l{k}" for k in range(layer.num_layers)]
    with torch.no_grad():
        for cell, suffix in zip(cells, suffixes):
            for name, value in _to_torch_tensors(cell.weights(), kind, cell.hidden_size).items():
                value = torch.from_numpy(np.ascontiguousarray(value))
                getattr(module, name + suffix).copy_(value)
    return module


def from_torch(module, fused: bool = True):
    """One of our layers (or cells) with the weights of a torch RNN/LSTM/GRU (or cell), or of
    a TorchLayer (TorchCell) made by `to_torch`.

    The dtype follows the torch weights (float32 or float64); a relu RNN becomes our IRNN.
    Bidirectional modules and projections (proj_size) have no counterpart and raise ValueError;
    dropout between layers is not reproduced (our layers have none) and also raises.
    """
    torch = _torch()
    torch_cells = _cells_module()
    if isinstance(module, torch_cells.TorchCell):
        cell = module.cell_class(module.input_size, module.hidden_size, dtype=module.np_dtype)
        cell.load_weights(module.weights())
        return cell
    if isinstance(module, torch_cells.TorchLayer):
        layer = layers.make_layer(module.cell_class, module.input_size, module.hidden_size,
                                  num_layers=module.num_layers, batch_first=module.batch_first,
                                  dtype=module.np_dtype, fused=fused)
        for ours, theirs in zip(layer.cells, module.cells):
            ours.load_weights(theirs.weights())
        return layer
    cell_kinds = {torch.nn.RNNCell: "RNN", torch.nn.LSTMCell: "LSTM", torch.nn.GRUCell: "GRU"}
    layer_kinds = {torch.nn.RNN: "RNN", torch.nn.LSTM: "LSTM", torch.nn.GRU: "GRU"}
    mtype = type(module)
    if mtype not in cell_kinds and mtype not in layer_kinds:
        raise TypeError(
            f"from_torch: expected torch.nn.RNN, LSTM, GRU or their cells, got {mtype.__name__}"
        )
    kind = cell_kinds.get(mtype) or layer_kinds[mtype]
    name = mtype.__name__
    relu = getattr(module, "nonlinearity", "tanh") == "relu"  # (torch allows tanh or relu)
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
        cls = cells.IRNNCell if relu else {"RNN": cells.RNNCell, "LSTM": cells.LSTMCell,
                                              "GRU": cells.GRUCell}[kind]
        ours = cls(module.input_size, H, dtype=np_dtype)
        targets = [ours]
    else:
        ours = (functools.partial(layers.make_layer, "irnn") if relu else
                {"RNN": layers.RNN, "LSTM": layers.LSTM, "GRU": layers.GRU}[kind])(
            module.input_size,
            H,
            num_layers=module.num_layers,
            batch_first=module.batch_first,
            dtype=np_dtype,
            fused=fused,
        )
        targets = ours.cells
    weights = engine_arrays(module, {name: p.detach().cpu().numpy().astype(np_dtype)
                                     for name, p in module.named_parameters()})
    for k, cell in enumerate(targets):  # (bias=False: zero biases)
        prefix = f"cells.{k}." if mtype in layer_kinds else ""
        cell.load_weights({name: weights[prefix + name] for name, _ in cell.PARAMS})
    return ours


# ------------------------------------------------------------------------------------------
# Per-parameter arrays between a module from `to_torch` and our layer's names
# ------------------------------------------------------------------------------------------


def _torch_parts(module) -> tuple[str, list[str]] | None:
    """(kind, parameter-name suffix per layer) of a torch RNN/LSTM/GRU or one of their
    cells; None for a TorchLayer or TorchCell (whose names are ours already)."""
    nn = _torch().nn
    for kind in ("RNN", "LSTM", "GRU"):
        if isinstance(module, getattr(nn, kind)):
            return kind, [f"_l{k}" for k in range(module.num_layers)]
        if isinstance(module, getattr(nn, kind + "Cell")):
            return kind, [""]
    return None


def engine_arrays(module, arrays: dict) -> dict[str, np.ndarray]:
    """Arrays by the parameter names of a module from `to_torch` (its weights, or optimizer
    moments) -> by our layer's names (`cells.0.W_f`; a cell's: `W_f`), in our layout.

    torch's two biases of a gate add into our one; `to_torch` sets the second to 0 (GRU's
    b_hn aside), so for a module trained with it held at 0 this maps moments exactly too."""
    parts = _torch_parts(module)
    if parts is None:
        return {name: np.asarray(a) for name, a in arrays.items()}
    kind, suffixes = parts
    H, rows = module.hidden_size, len(_GATES[kind]) * module.hidden_size
    out = {}
    for k, suffix in enumerate(suffixes):
        weight = np.asarray(arrays["weight_ih" + suffix])
        one = {part: np.asarray(arrays.get(part + suffix, np.zeros(rows, weight.dtype)))
               for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        prefix = f"cells.{k}." if suffix else ""
        out.update({prefix + n: a for n, a in _from_torch_tensors(one, kind, H).items()})
    return out


def torch_arrays(module, ours: dict) -> dict[str, np.ndarray]:
    """The inverse of `engine_arrays`: arrays by our names -> by the module's parameter
    names (each gate's second bias 0, GRU's b_hn aside)."""
    parts = _torch_parts(module)
    if parts is None:
        return {name: np.asarray(a) for name, a in ours.items()}
    kind, suffixes = parts
    own = {name for name, _ in module.named_parameters()}
    out = {}
    for k, suffix in enumerate(suffixes):
        prefix = f"cells.{k}." if suffix else ""
        weights = {n[len(prefix):]: a for n, a in ours.items() if n.startswith(prefix)}
        for part, a in _to_torch_tensors(weights, kind, module.hidden_size).items():
            if part + suffix in own:  # (bias=False: no bias parameters)
                out[part + suffix] = a
    return out
