"""The Jacobian along the chain: ds_t/ds_{t-k} = J_t J_{t-1} ... J_{t-k+1}, J_t = ds_t/ds_{t-1},
for the cell's whole state s = [h, c, ...]; its singular values for every k, and the Lyapunov
exponents by repeated QR (Vogt et al. 2020, "On Lyapunov exponents for RNNs").

Each one-step Jacobian is exact: the states before every step are known, so all steps run as
one batch, with row (t, i) seeded by the unit vector of s_t[i] (one backward pass for all).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from autograd_lite.functional import vjp
from autograd_lite.ops import concat
from autograd_lite.tensor import Tensor
from rnn.inspect.activations import state_sequence
from rnn.inspect.gradients import recurrent_layer, sequence_inputs

MAX_ROWS = 8192  # batch rows per Jacobian call


@dataclass
class JacobianChain:
    """`jacobians[t]` (S, S): d s_{t+1} / d s_t for one layer, S = len(states) * H, rows and
    columns ordered as `states` (e.g. ("h", "c")), each block H wide."""

    jacobians: np.ndarray
    states: tuple
    cell: str = ""

    @property
    def hidden(self) -> int:
        return self.jacobians.shape[1] // len(self.states)

    def _slice(self, name):
        if name is None:
            return slice(None)
        k = self.states.index(name)
        return slice(k * self.hidden, (k + 1) * self.hidden)

    def products(self, block: tuple | None = None):
        """Yield ds_T/ds_{T-k} for k = 1..T (or its (rows, cols) block, e.g. ("c", "c")),
        each scaled to norm 1, with the log of the scale: (k, log_scale, matrix)."""
        rows, cols = (None, None) if block is None else block
        P = np.eye(self.jacobians.shape[1])
        log_scale = 0.0
        for k, J in enumerate(self.jacobians[::-1], 1):
            P = P @ J
            norm = np.linalg.norm(P)
            if norm > 0:  # keep the product representable at any length
                P /= norm
                log_scale += np.log(norm)
            yield k, log_scale, P[self._slice(rows), self._slice(cols)]

    def log_singular_values(self, block: tuple | None = None) -> np.ndarray:
        """(T, m): natural logs of the singular values of ds_T/ds_{T-k} (row k - 1), largest
        first; -inf where one is exactly 0."""
        out = []
        for _, log_scale, P in self.products(block):
            with np.errstate(divide="ignore"):
                out.append(np.log(np.linalg.svd(P, compute_uv=False)) + log_scale)
        return np.array(out)

    def singular_values(self, block: tuple | None = None) -> np.ndarray:
        """(T, m): the singular values of ds_T/ds_{T-k}, k = 1..T (they may underflow to 0;
        `log_singular_values` does not)."""
        return np.exp(self.log_singular_values(block))

    def lyapunov(self) -> np.ndarray:
        """The Lyapunov exponents per step, largest first: Q_0 = I, Q_t R_t = J_t Q_{t-1},
        lambda_i = mean over t of ln |R_t[i, i]|."""
        S = self.jacobians.shape[1]
        Q, total = np.eye(S), np.zeros(S)
        for J in self.jacobians:
            Q, R = np.linalg.qr(J @ Q)
            with np.errstate(divide="ignore"):
                total += np.log(np.abs(np.diag(R)))
        return np.sort(total / len(self.jacobians))[::-1]

    def _repr_html_(self) -> str:
        lam = self.lyapunov()
        return (f"<p>{html.escape(self.cell)} state Jacobians over {len(self.jacobians)} "
                f"steps, state {html.escape(', '.join(self.states))} ({lam.size} dims). "
                f"Largest Lyapunov exponent {lam[0]:.4f} per step (a factor "
                f"{np.exp(lam[0]):.4f}); smallest {lam[-1]:.4f}.</p>")


def step_jacobians(cell, x: np.ndarray, before: np.ndarray) -> np.ndarray:
    """(T, S, S): d s_t / d s_{t-1} of `cell` at inputs x (T, D) and states `before`
    (len(STATE), T, H) before each step."""
    T, H = len(x), cell.hidden_size
    n = len(cell.STATE)
    S = n * H
    out = np.zeros((T, S, S))
    steps = max(1, MAX_ROWS // S)
    for a in range(0, T, steps):
        b = min(a + steps, T)
        m = b - a
        rows = [np.repeat(before[k, a:b], S, axis=0) for k in range(n)]  # row (t, i)
        X = np.repeat(x[a:b], S, axis=0)

        def step(*states, X=X):
            new = cell(Tensor(X), states if n > 1 else states[0])
            return concat(list(new) if n > 1 else [new], axis=1)

        _, pullback = vjp(step, *[Tensor(r, requires_grad=True) for r in rows])
        seed = np.tile(np.eye(S, dtype=cell.dtype), (m, 1))
        grads = pullback(seed)  # grads[k][(t, i), j] = d s_t[i] / d state_k[j]
        for k in range(n):
            out[a:b, :, k * H:(k + 1) * H] = grads[k].reshape(m, S, H)
    return out


def jacobian_chain(model, inputs, layer_index: int = -1) -> JacobianChain:
    """The state Jacobians of one layer (the last by default) of a model (CharModel ids (T,),
    otherwise vectors (T, D)) along one sequence, starting from zero states."""
    layer = recurrent_layer(model)
    x = sequence_inputs(model, inputs)
    cells = layer.cells
    layer_index %= len(cells)
    for cell in cells[:layer_index]:
        x = state_sequence(cell, x)[0, 1:]  # the next layer reads h_1 .. h_T
    cell = cells[layer_index]
    states = state_sequence(cell, x)
    J = step_jacobians(cell, x, states[:, :-1])
    return JacobianChain(J, tuple(cell.STATE), layer.cell_class.name)
