"""The gated recurrent unit (Cho et al. 2014), in PyTorch's convention."""

from __future__ import annotations

from autograd_lite.ops import sigmoid, tanh
from rnn.cells.base import Cell, cat_hx, named
from rnn.kernels import FUSED_GRU


class GRUCell(Cell):
    """Gated recurrent unit:

        r_t = sigmoid([h_{t-1}, x_t] @ W_r + b_r)                      reset gate
        z_t = sigmoid([h_{t-1}, x_t] @ W_z + b_z)                      update gate
        n_t = tanh(x_t @ W_nx + b_nx + r_t * (h_{t-1} @ W_nh + b_nh))  candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Parameters: W_r, W_z (H + D, H); W_nx (D, H); W_nh (H, H); b_r, b_z, b_nx, b_nh (H,).
    The candidate keeps two biases because r_t multiplies only the recurrent one. All start
    uniform in +-1/sqrt(H) (the default init); `forget_bias` is accepted for a uniform signature
    and ignored; chrono sets b_z (see CHRONO).
    Call: `h = cell(x, h)`.
    """

    name = "gru"
    title = "GRU (PyTorch convention)"
    PARAMS = (("W_r", "hx"), ("b_r", None), ("W_z", "hx"), ("b_z", None),
              ("W_nx", "x"), ("b_nx", None), ("W_nh", "h"), ("b_nh", None))
    # In the derivation z_t means [h_{t-1}, x_t]: the update gate is written u_t there.
    SYMBOLS = {"z_t": "u_t"}
    # chrono: z_t keeps h_{t-1} (h_t = (1 - z_t) n_t + z_t h_{t-1}), so it plays the forget
    # gate, and 1 - z_t the input gate: b_z = log u sets both.
    CHRONO = {"b_z": 1}
    kernel = FUSED_GRU

    def forward(self, x, h=None):
        x = self._input(x)
        (h_prev,) = self.states(x, h)
        hx = cat_hx(h_prev, x)
        r = named(sigmoid(hx @ self.W_r + self.b_r), "r_t")
        z = named(sigmoid(hx @ self.W_z + self.b_z), "z_t")
        a_n = named(x @ self.W_nx + self.b_nx + r * (h_prev @ self.W_nh + self.b_nh), "a_n")
        n = named(tanh(a_n), "n_t")
        return named((1 - z) * n + z * h_prev, "h_t")
