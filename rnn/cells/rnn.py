"""The Elman RNN cell, with a tanh (default) or ReLU nonlinearity."""

from __future__ import annotations

import numpy as np

from autograd_lite.ops import relu, tanh
from rnn.cells.base import Cell, cat_hx, named
from rnn.kernels import FUSED_RNN, FUSED_RNN_RELU

# nonlinearity -> (the engine op, the fused kernel that computes the same)
ACTIVATIONS = {"tanh": (tanh, FUSED_RNN), "relu": (relu, FUSED_RNN_RELU)}


class RNNCell(Cell):
    """Elman cell:  h_t = tanh([h_{t-1}, x_t] @ W + b)  (or relu: `nonlinearity="relu"`).

    Parameters: W (H + D, H), b (H,). Call: `h = cell(x, h)`; x is (B, D), h is (B, H) or
    None (zeros). `forget_bias` is accepted for a uniform signature and ignored. The
    registered cell `irnn` is the ReLU version with the identity init (Le et al. 2015).
    """

    name = "rnn"
    title = "Elman RNN"
    PARAMS = (("W", "hx"), ("b", None))
    IDENTITY = "W"  # the identity init (Le et al. 2015) sets W[:H] = I
    NONLINEARITY = "tanh"  # the class's default, what its derivation and kernel compute
    kernel = FUSED_RNN

    def __init__(self, input_size, hidden_size, dtype=np.float64, forget_bias=1.0, rng=None,
                 init=None, t_max=None, nonlinearity=None):
        nonlinearity = type(self).NONLINEARITY if nonlinearity is None else nonlinearity
        if nonlinearity not in ACTIVATIONS:
            raise ValueError(f"{type(self).__name__}: nonlinearity must be "
                             f"{' or '.join(map(repr, ACTIVATIONS))}, got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, dtype=dtype, forget_bias=forget_bias, rng=rng,
                         init=init, t_max=t_max)

    def fused_op(self):
        # The kernel of this cell's nonlinearity, where the class declares a kernel at all.
        return ACTIVATIONS[self.nonlinearity][1] if type(self).fused_kernel() else None

    def forward(self, x, h=None):
        x = self._input(x)
        (h_prev,) = self.states(x, h)
        hx = cat_hx(h_prev, x)
        activation = ACTIVATIONS[self.nonlinearity][0]
        return named(activation(hx @ self.W + self.b), "h_t")
