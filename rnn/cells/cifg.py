"""CIFG: the LSTM with coupled input and forget gates (Greff et al. 2017)."""

from __future__ import annotations

from autograd_lite.ops import sigmoid, tanh
from rnn.cells.base import Cell, cat_hx, named
from rnn.kernels import FUSED_CIFG


class CIFGCell(Cell):
    """LSTM whose input gate is 1 - f_t: the cell forgets only when it writes something new.

        f_t  = sigmoid([h_{t-1}, x_t] @ W_f + b_f)      forget gate
        c~_t = tanh([h_{t-1}, x_t] @ W_c + b_c)         candidate cell
        c_t  = f_t * c_{t-1} + (1 - f_t) * c~_t         cell state
        o_t  = sigmoid([h_{t-1}, x_t] @ W_o + b_o)      output gate
        h_t  = o_t * tanh(c_t)

    Parameters: W_f, W_c, W_o (H + D, H); b_f, b_c, b_o (H,); b_f starts at `forget_bias`.
    Call: `h, c = cell(x, (h, c))`.
    """

    name = "cifg"
    title = "CIFG LSTM (coupled input and forget gates)"
    PARAMS = (("W_f", "hx"), ("b_f", None), ("W_c", "hx"), ("b_c", None),
              ("W_o", "hx"), ("b_o", None))
    STATE = ("h", "c")
    CHRONO = {"b_f": 1}  # chrono: the input gate is 1 - f_t, so b_f alone sets both
    kernel = FUSED_CIFG

    def forward(self, x, state=None):
        x = self._input(x)
        h_prev, c_prev = self.states(x, state)
        hx = cat_hx(h_prev, x)
        f = named(sigmoid(hx @ self.W_f + self.b_f), "f_t")
        c_tilde = named(tanh(hx @ self.W_c + self.b_c), "c~_t")
        c = named(f * c_prev + (1 - f) * c_tilde, "c_t")
        o = named(sigmoid(hx @ self.W_o + self.b_o), "o_t")
        h = named(o * named(tanh(c), "tanh(c_t)"), "h_t")
        return h, c
