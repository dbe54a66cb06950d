"""rnn-lab: recurrent cells, layers, training, symbolic derivations and diagrams."""

import importlib

# Lazy exports (PEP 562): `from rnn import LSTM` works while `import rnn` stays light (CLI).
_LAZY = dict.fromkeys(("RNNCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell"), "rnn.cells")
_LAZY |= dict.fromkeys(("RNN", "LSTM", "GRU", "PeepholeLSTM", "make_layer", "detach_state"),
                       "rnn.layers")
_LAZY |= dict.fromkeys(("to_torch", "from_torch"), "rnn.interop")


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnn' has no attribute {name!r}")
