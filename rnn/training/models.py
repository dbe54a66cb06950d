"""The models a run trains: a per-step classifier over tokens and a sequence regressor, built
from a `TrainConfig` or restored from a checkpoint."""

from __future__ import annotations

import numpy as np

from autograd_lite import nn
from autograd_lite.ops import embedding
from autograd_lite.tensor import Tensor
from rnn import tasks
from rnn.cells import cell_class
from rnn.checkpoint import Checkpoint, CheckpointError, check_arrays, check_finite
from rnn.data import Vocab
from rnn.layers import make_layer
from rnn.training.budget import check_budget
from rnn.training.config import DTYPES, TrainConfig


def _fused(cell, fused: bool) -> bool:
    # A model asks for the fused kernel where the cell has one; a cell without one trains on
    # its readable graph, and the model says so in its description, not with a warning.
    return fused and cell_class(cell).fused_kernel() is not None


class CharModel(nn.Module):
    """Per-step classifier over a token vocabulary: tokens -> recurrent layer -> logits.

    Tokens enter one-hot (`embedding_dim=0`) or through a learned embedding. Used for
    characters (char-rnn), copy-memory symbols and Reber-grammar symbols. `init` and `t_max`
    choose the recurrent layer's initialisation (`rnn.cells.init_names()`).
    """

    def __init__(self, vocab_size, hidden_size, cell="lstm", num_layers=1, embedding_dim=0,
                 dtype=np.float64, fused=True, forget_bias=1.0, rng=None, init=None,
                 t_max=None):
        rng = np.random.default_rng(rng)  # a Generator passes through as itself
        self.vocab_size, self.dtype = vocab_size, np.dtype(dtype)
        self.embed = (nn.Embedding(vocab_size, embedding_dim, dtype=dtype, rng=rng)
                      if embedding_dim else None)
        self.layer = make_layer(cell, embedding_dim or vocab_size, hidden_size,
                                num_layers=num_layers, dtype=dtype, fused=_fused(cell, fused),
                                forget_bias=forget_bias, rng=rng, init=init, t_max=t_max)
        self.decoder = nn.Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)
        # One-hot vectors are the rows of the identity, picked by an op: the ids stay an input
        # of the graph, so a compiled step reads new ids at every call.
        self.one_hot = Tensor(np.eye(vocab_size, dtype=dtype), label="one-hot")

    def forward(self, ids, state=None):
        """ids (T, B) integers (an array or a Tensor) -> (logits (T, B, V), final state)."""
        if not isinstance(ids, Tensor):
            ids = np.asarray(ids)
        x = self.embed(ids) if self.embed is not None else embedding(self.one_hot, ids)
        outputs, state = self.layer(x, state)
        return self.decoder(outputs), state


class RegressionModel(nn.Module):
    """Sequence -> recurrent layer -> Linear on the last output (the adding problem); `init`
    and `t_max` choose the recurrent layer's initialisation."""

    def __init__(self, input_size, hidden_size, cell="lstm", output_size=1, num_layers=1,
                 dtype=np.float64, fused=True, forget_bias=1.0, rng=None, init=None,
                 t_max=None):
        rng = np.random.default_rng(rng)  # a Generator passes through as itself
        self.dtype = np.dtype(dtype)
        self.layer = make_layer(cell, input_size, hidden_size, num_layers=num_layers,
                                dtype=dtype, fused=_fused(cell, fused), forget_bias=forget_bias,
                                rng=rng, init=init, t_max=t_max)
        self.decoder = nn.Linear(hidden_size, output_size, dtype=dtype, rng=rng)

    def forward(self, x, state=None):
        """x (T, B, D) -> (prediction (B, output_size), final state)."""
        outputs, state = self.layer(x, state)
        return self.decoder(outputs[-1]), state


def make_model(config: TrainConfig, vocab_size: int | None = None, rng=None):
    """The model for `config`'s task (`vocab_size` is needed for text only)."""
    common = dict(dtype=DTYPES[config.dtype], fused=config.fused,
                  forget_bias=config.forget_bias, init=config.init, t_max=config.t_max,
                  rng=np.random.default_rng([config.seed, 0]) if rng is None else rng)
    if config.task == "adding":
        return RegressionModel(2, config.hidden, config.cell, 1, config.layers, **common)
    size = {"copy": tasks.COPY_VOCAB, "reber": len(tasks.REBER_SYMBOLS)}.get(config.task,
                                                                            vocab_size)
    return CharModel(size, config.hidden, config.cell, config.layers, config.embedding,
                     **common)


def model_from_checkpoint(ckpt: Checkpoint):
    """(model, config, vocab) with the checkpoint's parameters, without reading any data;
    CheckpointError for a config too large to build or parameters that are not finite."""
    config = TrainConfig.from_checkpoint(ckpt)
    vocab = Vocab(ckpt.vocab) if ckpt.vocab else None
    if config.task == "text" and vocab is None:
        raise CheckpointError(f"{ckpt.path}: a text model's checkpoint needs a vocabulary")
    check_budget(config, len(vocab) if vocab else None, batch=1, seq_len=1,
                 what=f"the model in {ckpt.path} (--hidden {config.hidden}, --layers "
                      f"{config.layers})")
    check_finite(ckpt.path, ckpt.params)
    model = make_model(config, len(vocab) if vocab else None, rng=0)
    check_arrays(ckpt.path, "parameter", ckpt.params, model.state_dict())
    model.load_state_dict(ckpt.params)
    return model, config, vocab
