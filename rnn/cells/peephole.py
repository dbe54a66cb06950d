"""The peephole LSTM cell (Gers & Schmidhuber 2000): the gates also see the cell state."""

from __future__ import annotations

from autograd_lite.ops import sigmoid, tanh
from rnn.cells.base import Cell, cat_hx, named
from rnn.kernels import FUSED_PEEPHOLE


class PeepholeLSTMCell(Cell):
    """LSTM whose gates also see the cell state:

        f_t  = sigmoid([h_{t-1}, x_t] @ W_f + p_f * c_{t-1} + b_f)
        i_t  = sigmoid([h_{t-1}, x_t] @ W_i + p_i * c_{t-1} + b_i)
        c~_t = tanh([h_{t-1}, x_t] @ W_c + b_c)
        c_t  = f_t * c_{t-1} + i_t * c~_t
        o_t  = sigmoid([h_{t-1}, x_t] @ W_o + p_o * c_t + b_o)
        h_t  = o_t * tanh(c_t)

    Parameters: as LSTMCell plus the elementwise peephole weights p_f, p_i, p_o (H,),
    uniform in +-1/sqrt(H). The pre-activations that include a peephole are labelled â_f,
    â_i, â_o. Call: `h, c = cell(x, (h, c))`.
    """

    name = "peephole"
    title = "Peephole LSTM (Gers & Schmidhuber)"
    PARAMS = (("W_f", "hx"), ("p_f", None), ("b_f", None), ("W_i", "hx"), ("p_i", None),
              ("b_i", None), ("W_c", "hx"), ("b_c", None), ("W_o", "hx"), ("p_o", None),
              ("b_o", None))
    STATE = ("h", "c")
    CHRONO = {"b_f": 1, "b_i": -1}  # as the LSTM's; the peephole weights stay uniform
    kernel = FUSED_PEEPHOLE

    def forward(self, x, state=None):
        x = self._input(x)
        h_prev, c_prev = self.states(x, state)
        hx = cat_hx(h_prev, x)
        f = named(sigmoid(named(hx @ self.W_f + self.p_f * c_prev + self.b_f, "â_f")), "f_t")
        i = named(sigmoid(named(hx @ self.W_i + self.p_i * c_prev + self.b_i, "â_i")), "i_t")
        c_tilde = named(tanh(hx @ self.W_c + self.b_c), "c~_t")
        c = named(f * c_prev + i * c_tilde, "c_t")
        o = named(sigmoid(named(hx @ self.W_o + self.p_o * c + self.b_o, "â_o")), "o_t")
        h = named(o * named(tanh(c), "tanh(c_t)"), "h_t")
        return h, c
