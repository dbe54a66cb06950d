"""The IRNN (Le, Jaitly & Hinton 2015): a ReLU Elman RNN started at the identity."""

from __future__ import annotations

import numpy as np

from rnn.cells.rnn import RNNCell
from rnn.kernels import FUSED_RNN_RELU


class IRNNCell(RNNCell):
    """ReLU Elman cell:  h_t = relu([h_{t-1}, x_t] @ W + b).

    Parameters: W (H + D, H), b (H,). By default initialised as in the paper (`identity`):
    W[:H] = I, b = 0 and the input rows W[H:] from N(0, 0.001^2), so each unit starts by
    carrying its value unchanged; any other init that fits (`uniform`, `orthogonal`) can be
    asked for. Call: `h = cell(x, h)`.
    """

    name = "irnn"
    title = "IRNN (ReLU RNN, Le et al. 2015)"
    NONLINEARITY = "relu"
    DEFAULT_INIT = "identity"
    kernel = FUSED_RNN_RELU

    def __init__(self, input_size, hidden_size, dtype=np.float64, forget_bias=1.0, rng=None,
                 init=None, t_max=None, nonlinearity="relu"):
        if nonlinearity != "relu":
            raise ValueError(f"IRNNCell is the ReLU RNN; for nonlinearity={nonlinearity!r} "
                             f"use RNNCell (the cell 'rnn')")
        super().__init__(input_size, hidden_size, dtype=dtype, forget_bias=forget_bias, rng=rng,
                         init=init, t_max=t_max, nonlinearity=nonlinearity)
