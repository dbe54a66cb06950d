"""The LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)."""

from __future__ import annotations

from autograd_lite.ops import sigmoid, tanh
from rnn.cells.base import Cell, cat_hx, named
from rnn.kernels import FUSED_LSTM


class LSTMCell(Cell):
    """Long short-term memory cell:

        f_t  = sigmoid([h_{t-1}, x_t] @ W_f + b_f)      forget gate
        i_t  = sigmoid([h_{t-1}, x_t] @ W_i + b_i)      input gate
        c~_t = tanh([h_{t-1}, x_t] @ W_c + b_c)         candidate cell
        c_t  = f_t * c_{t-1} + i_t * c~_t               cell state
        o_t  = sigmoid([h_{t-1}, x_t] @ W_o + b_o)      output gate
        h_t  = o_t * tanh(c_t)                          hidden state

    Parameters: W_f, W_i, W_c, W_o (H + D, H); b_f, b_i, b_c, b_o (H,). All start uniform in
    +-1/sqrt(H) except b_f, which starts at `forget_bias` (1.0; None keeps the uniform draw),
    so the cell remembers by default. Call: `h, c = cell(x, (h, c))` or `cell(x)` (zeros).
    """

    name = "lstm"
    title = "LSTM"
    PARAMS = (("W_f", "hx"), ("b_f", None), ("W_i", "hx"), ("b_i", None),
              ("W_c", "hx"), ("b_c", None), ("W_o", "hx"), ("b_o", None))
    STATE = ("h", "c")
    CHRONO = {"b_f": 1, "b_i": -1}  # chrono: b_f = log u keeps, b_i = -log u writes
    kernel = FUSED_LSTM

    def forward(self, x, state=None):
        x = self._input(x)
        h_prev, c_prev = self.states(x, state)
        hx = cat_hx(h_prev, x)
        f = named(sigmoid(hx @ self.W_f + self.b_f), "f_t")
        i = named(sigmoid(hx @ self.W_i + self.b_i), "i_t")
        c_tilde = named(tanh(hx @ self.W_c + self.b_c), "c~_t")
        c = named(f * c_prev + i * c_tilde, "c_t")
        o = named(sigmoid(hx @ self.W_o + self.b_o), "o_t")
        h = named(o * named(tanh(c), "tanh(c_t)"), "h_t")
        return h, c
