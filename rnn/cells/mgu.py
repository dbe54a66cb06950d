"""MGU: the minimal gated unit (Zhou et al. 2016), one gate that both forgets and resets."""

from __future__ import annotations

from autograd_lite.ops import concat, sigmoid, tanh
from rnn.cells.base import Cell, cat_hx, named


class MGUCell(Cell):
    """Minimal gated unit:

        f_t  = sigmoid([h_{t-1}, x_t] @ W_f + b_f)            forget gate
        h~_t = tanh([f_t * h_{t-1}, x_t] @ W_h + b_h)         candidate
        h_t  = (1 - f_t) * h_{t-1} + f_t * h~_t

    Parameters: W_f, W_h (H + D, H); b_f, b_h (H,), all uniform in +-1/sqrt(H).
    No fused kernel: it trains on the primitive graph. Call: `h = cell(x, h)`.
    """

    name = "mgu"
    title = "MGU (minimal gated unit)"
    PARAMS = (("W_f", "hx"), ("b_f", None), ("W_h", "hx"), ("b_h", None))
    # f_t = 1 overwrites h: a positive forget bias would make the unit forget, so b_f
    # keeps the uniform draw.
    FORGET_BIAS = None
    # chrono: f_t writes (h_t = (1 - f_t) h_{t-1} + f_t h~_t), so the keeping gate is 1 - f_t
    # and b_f = -log u: the sign of the LSTM's input gate.
    CHRONO = {"b_f": -1}

    def forward(self, x, h=None):
        x = self._input(x)
        (h_prev,) = self.states(x, h)
        f = named(sigmoid(cat_hx(h_prev, x) @ self.W_f + self.b_f), "f_t")
        reset = named(f * h_prev, "s_t")  # the forget gate also resets what the candidate sees
        h_tilde = named(tanh(concat([reset, x], axis=1) @ self.W_h + self.b_h), "h~_t")
        return named((1 - f) * h_prev + f * h_tilde, "h_t")
