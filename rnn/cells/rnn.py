"""The Elman RNN cell."""

from __future__ import annotations

from autograd_lite.ops import tanh
from rnn.cells.base import Cell, cat_hx, named
from rnn.kernels import FUSED_RNN


class RNNCell(Cell):
    """Elman cell:  h_t = tanh([h_{t-1}, x_t] @ W + b).

    Parameters: W (H + D, H), b (H,). Call: `h = cell(x, h)`; x is (B, D), h is (B, H) or
    None (zeros). `forget_bias` is accepted for a uniform signature and ignored.
    """

    name = "rnn"
    title = "Elman RNN"
    PARAMS = (("W", "hx"), ("b", None))
    IDENTITY = "W"  # the identity init (Le et al. 2015) sets W[:H] = I
    kernel = FUSED_RNN

    def forward(self, x, h=None):
        x = self._input(x)
        (h_prev,) = self.states(x, h)
        hx = cat_hx(h_prev, x)
        return named(tanh(hx @ self.W + self.b), "h_t")
