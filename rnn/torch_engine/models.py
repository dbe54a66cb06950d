"""The training models on PyTorch, made from the engine's (`rnn.training.models`): the same
layers, the same initial weights, and arrays that convert to and from the engine's names.

The recurrent layer is `rnn.interop.to_torch(engine_model.layer)`: torch.nn.RNN/LSTM/GRU for
the cells PyTorch has, a TorchLayer for every other cell. Where torch keeps two biases per
gate and we keep one, the second is held at 0 while training (`hold_second_biases`), so the
pair learns as the one bias the engine has and every array maps back exactly.
"""

from __future__ import annotations

import numpy as np

from rnn import interop
from rnn.torch_engine import require_torch
from rnn.torch_engine.backend import torch_dtype
from rnn.training.models import CharModel

torch = require_torch("--engine torch")

_LAYER = "layer."


class TorchCharModel(torch.nn.Module):
    """Per-step classifier over tokens (the engine's CharModel): tokens -> layer -> logits."""

    def __init__(self, engine: CharModel):
        super().__init__()
        dtype = torch_dtype(torch, engine.dtype)
        self.vocab_size = engine.vocab_size
        self.embed = None
        if engine.embed is not None:
            self.embed = torch.nn.Embedding(*engine.embed.weight.shape, dtype=dtype)
        self.layer = interop.to_torch(engine.layer)
        self.decoder = torch.nn.Linear(*reversed(engine.decoder.weight.shape), dtype=dtype)
        load_engine_arrays(self, engine.state_dict())

    def forward(self, ids, state=None):
        """ids (T, B) int64 -> (logits (T, B, V), final state)."""
        if self.embed is not None:
            x = self.embed(ids)
        else:
            x = torch.nn.functional.one_hot(ids, self.vocab_size).to(self.decoder.weight.dtype)
        outputs, state = self.layer(x, state)
        return self.decoder(outputs), state


class TorchRegressionModel(torch.nn.Module):
    """Sequence -> layer -> Linear on the last output (the engine's RegressionModel)."""

    def __init__(self, engine):
        super().__init__()
        dtype = torch_dtype(torch, engine.dtype)
        self.layer = interop.to_torch(engine.layer)
        self.decoder = torch.nn.Linear(*reversed(engine.decoder.weight.shape), dtype=dtype)
        load_engine_arrays(self, engine.state_dict())

    def forward(self, x, state=None):
        """x (T, B, D) -> (prediction (B, output_size), final state)."""
        outputs, state = self.layer(x, state)
        return self.decoder(outputs[-1]), state


def from_engine(engine_model):
    """The torch twin of an engine training model, with its weights."""
    if isinstance(engine_model, CharModel):
        return TorchCharModel(engine_model)
    return TorchRegressionModel(engine_model)


def engine_names(model, arrays: dict) -> dict[str, np.ndarray]:
    """Per-parameter arrays by the torch model's names -> by the engine model's names."""
    layer = {n[len(_LAYER):]: a for n, a in arrays.items() if n.startswith(_LAYER)}
    out = {n: np.asarray(a) for n, a in arrays.items() if not n.startswith(_LAYER)}
    out.update({_LAYER + n: a for n, a in interop.engine_arrays(model.layer, layer).items()})
    return out


def torch_names(model, ours: dict) -> dict[str, np.ndarray]:
    """The inverse of `engine_names`."""
    layer = {n[len(_LAYER):]: a for n, a in ours.items() if n.startswith(_LAYER)}
    out = {n: np.asarray(a) for n, a in ours.items() if not n.startswith(_LAYER)}
    out.update({_LAYER + n: a for n, a in interop.torch_arrays(model.layer, layer).items()})
    return out


def engine_arrays(model) -> dict[str, np.ndarray]:
    """The torch model's weights by the engine's names, in the engine's layout."""
    return engine_names(model, {n: p.detach().cpu().numpy()
                                for n, p in model.named_parameters()})


def load_engine_arrays(model, ours: dict) -> None:
    """Set the torch model's weights from arrays by the engine's names."""
    arrays = torch_names(model, ours)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(np.ascontiguousarray(arrays[name])))


def hold_second_biases(model) -> list[tuple]:
    """(parameter, mask) pairs: multiply each gradient by its mask after backward, so that
    torch's second bias of a gate stays 0 where the engine has one bias (all of RNN's and
    LSTM's bias_hh; GRU's but the candidate's b_hn)."""
    layer = model.layer
    if not isinstance(layer, (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU)):
        return []
    H = layer.hidden_size
    held = []
    for name, p in layer.named_parameters():
        if name.startswith("bias_hh"):
            mask = torch.zeros_like(p)
            if isinstance(layer, torch.nn.GRU):
                mask[2 * H:] = 1.0  # b_hn is the engine's b_nh
            held.append((p, mask))
    return held
