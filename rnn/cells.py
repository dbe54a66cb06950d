"""Recurrent cells written as graphs of primitives: one line per equation, every node labelled.

These are the readable path; `rnn.fused` holds the fast kernels that are tested against them.

Weight layout (all cells): row-vector convention, as the engine works on batches of rows.
A gate's weight acts on the concatenation `hx = [h_{t-1}, x_t]` (B, H + D) from the right:
`a_t = hx @ W_f + b_f` with `W_f` of shape (H + D, H): rows `[:H]` act on h_{t-1}, rows `[H:]`
on x_t. In column-vector notation the papers' matrix is `W_f.T` (PyTorch's
`weight_hh`/`weight_ih` rows for that gate are `W_f[:H].T` and `W_f[H:].T`).
"""

from __future__ import annotations

import numpy as np

from autograd_lite import nn
from autograd_lite.ops import concat, sigmoid, tanh
from autograd_lite.tensor import ShapeError, Tensor, as_tensor

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(owner: str, dtype) -> np.dtype:
    """The dtype as np.dtype; only float32 and float64 are allowed."""
    dtype = np.dtype(dtype)
    if dtype not in DTYPES:
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype}")
    return dtype


def as_input(owner: str, x, dtype) -> Tensor:
    """A Tensor of `dtype`: arrays and lists are converted, Tensors must already match."""
    if isinstance(x, Tensor):
        if x.dtype != dtype:
            raise TypeError(
                f"{owner}: input {x.label or 'x'} has dtype {x.dtype}, the "
                f"parameters are {dtype} (convert with .astype({dtype}))"
            )
        return x
    return as_tensor(np.asarray(x, dtype=dtype))


def check_state(owner: str, name: str, state, shape: tuple, dtype) -> Tensor:
    """The state as a Tensor of exactly `shape` (zeros when None); never broadcast."""
    if state is None:
        return Tensor(np.zeros(shape, dtype=dtype), label=f"{name}_0")
    state = as_input(owner, state, dtype)
    if tuple(state.shape) != tuple(shape):
        axes = "(batch, hidden)" if len(shape) == 2 else "(num_layers, batch, hidden)"
        raise ShapeError(
            f"{owner}: state {name} has shape {tuple(state.shape)}, expected {tuple(shape)} {axes}"
        )
    return state


class Cell(nn.Module):
    """Shared parts of the cells: parameter creation, input checks and `weights()`.

    Subclasses list their parameters in `PARAMS` as (name, rows) where rows is "hx"
    (H + D), "x" (D), "h" (H) for a matrix with H columns, or None for a vector of size H.
    """

    PARAMS: tuple = ()
    STATE: tuple = ("h",)  # names of the state tensors, in the order the call takes them

    def __init__(self, input_size, hidden_size, dtype=np.float64, forget_bias=1.0, rng=None):
        if int(input_size) < 1 or int(hidden_size) < 1:
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be "
                f"positive, got {input_size} and {hidden_size}"
            )
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.dtype = check_dtype(type(self).__name__, dtype)
        self.forget_bias = forget_bias
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        H, D = self.hidden_size, self.input_size
        rows = {"hx": H + D, "x": D, "h": H}
        bound = 1.0 / np.sqrt(H)  # PyTorch's init for every recurrent weight and bias
        for name, kind in self.PARAMS:
            shape = (H,) if kind is None else (rows[kind], H)
            values = rng.uniform(-bound, bound, shape)
            if name == "b_f" and forget_bias is not None:
                values = np.full(shape, forget_bias)
            setattr(self, name, nn.Parameter(values, label=name, dtype=self.dtype))

    def parameter_list(self) -> list[nn.Parameter]:
        """The parameters in `PARAMS` order (the order the fused ops take them)."""
        return [getattr(self, name) for name, _ in self.PARAMS]

    def weights(self) -> dict[str, np.ndarray]:
        """Each parameter by its name (`W_f`, `b_f`, ...) as a NumPy copy, in the documented
        layout: matrices (rows, H) applied from the right (`hx @ W_f`), vectors (H,)."""
        return {name: np.array(getattr(self, name).data) for name, _ in self.PARAMS}

    def load_weights(self, weights: dict) -> None:
        """Set parameters from a `weights()`-style dict (same names, shapes)."""
        for name, _ in self.PARAMS:
            getattr(self, name).assign(weights[name])

    def _input(self, x) -> Tensor:
        owner = type(self).__name__
        x = as_input(owner, x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ShapeError(
                f"{owner}: input x has shape {tuple(x.shape)}, expected (batch, {self.input_size})"
            )
        return x

    def _pair(self, state) -> tuple:
        if state is None:
            return None, None
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(
                f"{type(self).__name__}: state is a pair (h, c) of (batch, "
                f"{self.hidden_size}) arrays, got {type(state).__name__}"
            )
        return tuple(state)

    def _state(self, name, state, batch) -> Tensor:
        return check_state(type(self).__name__, name, state, (batch, self.hidden_size), self.dtype)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, dtype={self.dtype})"
        )


def _hx(h_prev: Tensor, x: Tensor) -> Tensor:
    hx = concat([h_prev, x], axis=1)
    hx.label = "[h_{t-1}, x_t]"
    return hx


def _named(t: Tensor, label: str) -> Tensor:
    t.label = label
    return t


class RNNCell(Cell):
    """Elman cell:  h_t = tanh([h_{t-1}, x_t] @ W + b).

    Parameters: W (H + D, H), b (H,). Call: `h = cell(x, h)`; x is (B, D), h is (B, H) or
    None (zeros). `forget_bias` is accepted for a uniform signature and ignored.
    """

    PARAMS = (("W", "hx"), ("b", None))

    def forward(self, x, h=None):
        x = self._input(x)
        h_prev = self._state("h", h, x.shape[0])
        hx = _hx(h_prev, x)
        return _named(tanh(hx @ self.W + self.b), "h_t")


class LSTMCell(Cell):
    """Long short-term memory cell (Hochreiter & Schmidhuber 1997, with a forget gate):

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

    PARAMS = (
        ("W_f", "hx"),
        ("b_f", None),
        ("W_i", "hx"),
        ("b_i", None),
        ("W_c", "hx"),
        ("b_c", None),
        ("W_o", "hx"),
        ("b_o", None),
    )
    STATE = ("h", "c")

    def forward(self, x, state=None):
        x = self._input(x)
        h, c = self._pair(state)
        h_prev, c_prev = self._state("h", h, x.shape[0]), self._state("c", c, x.shape[0])
        hx = _hx(h_prev, x)
        f = _named(sigmoid(hx @ self.W_f + self.b_f), "f_t")
        i = _named(sigmoid(hx @ self.W_i + self.b_i), "i_t")
        c_tilde = _named(tanh(hx @ self.W_c + self.b_c), "c~_t")
        c = _named(f * c_prev + i * c_tilde, "c_t")
        o = _named(sigmoid(hx @ self.W_o + self.b_o), "o_t")
        h = _named(o * _named(tanh(c), "tanh(c_t)"), "h_t")
        return h, c


class PeepholeLSTMCell(Cell):
    """LSTM whose gates also see the cell state (Gers & Schmidhuber 2000):

        f_t  = sigmoid([h_{t-1}, x_t] @ W_f + p_f * c_{t-1} + b_f)
        i_t  = sigmoid([h_{t-1}, x_t] @ W_i + p_i * c_{t-1} + b_i)
        c~_t = tanh([h_{t-1}, x_t] @ W_c + b_c)
        c_t  = f_t * c_{t-1} + i_t * c~_t
        o_t  = sigmoid([h_{t-1}, x_t] @ W_o + p_o * c_t + b_o)
        h_t  = o_t * tanh(c_t)

    Parameters: as LSTMCell plus the elementwise peephole weights p_f, p_i, p_o (H,),
    uniform in +-1/sqrt(H). Call: `h, c = cell(x, (h, c))`.
    """

    PARAMS = (
        ("W_f", "hx"),
        ("p_f", None),
        ("b_f", None),
        ("W_i", "hx"),
        ("p_i", None),
        ("b_i", None),
        ("W_c", "hx"),
        ("b_c", None),
        ("W_o", "hx"),
        ("p_o", None),
        ("b_o", None),
    )
    STATE = ("h", "c")

    def forward(self, x, state=None):
        x = self._input(x)
        h, c = self._pair(state)
        h_prev, c_prev = self._state("h", h, x.shape[0]), self._state("c", c, x.shape[0])
        hx = _hx(h_prev, x)
        f = _named(sigmoid(hx @ self.W_f + self.p_f * c_prev + self.b_f), "f_t")
        i = _named(sigmoid(hx @ self.W_i + self.p_i * c_prev + self.b_i), "i_t")
        c_tilde = _named(tanh(hx @ self.W_c + self.b_c), "c~_t")
        c = _named(f * c_prev + i * c_tilde, "c_t")
        o = _named(sigmoid(hx @ self.W_o + self.p_o * c + self.b_o), "o_t")
        h = _named(o * _named(tanh(c), "tanh(c_t)"), "h_t")
        return h, c


class GRUCell(Cell):
    """Gated recurrent unit (Cho et al. 2014) in PyTorch's convention:

        r_t = sigmoid([h_{t-1}, x_t] @ W_r + b_r)                      reset gate
        z_t = sigmoid([h_{t-1}, x_t] @ W_z + b_z)                      update gate
        n_t = tanh(x_t @ W_nx + b_nx + r_t * (h_{t-1} @ W_nh + b_nh))  candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Parameters: W_r, W_z (H + D, H); W_nx (D, H); W_nh (H, H); b_r, b_z, b_nx, b_nh (H,).
    The candidate keeps two biases because r_t multiplies only the recurrent one. All start
    uniform in +-1/sqrt(H); `forget_bias` is accepted for a uniform signature and ignored.
    Call: `h = cell(x, h)`.
    """

    PARAMS = (
        ("W_r", "hx"),
        ("b_r", None),
        ("W_z", "hx"),
        ("b_z", None),
        ("W_nx", "x"),
        ("b_nx", None),
        ("W_nh", "h"),
        ("b_nh", None),
    )

    def forward(self, x, h=None):
        x = self._input(x)
        h_prev = self._state("h", h, x.shape[0])
        hx = _hx(h_prev, x)
        r = _named(sigmoid(hx @ self.W_r + self.b_r), "r_t")
        z = _named(sigmoid(hx @ self.W_z + self.b_z), "z_t")
        n = _named(tanh(x @ self.W_nx + self.b_nx + r * (h_prev @ self.W_nh + self.b_nh)), "n_t")
        return _named((1 - z) * n + z * h_prev, "h_t")


CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell, "peephole": PeepholeLSTMCell}
