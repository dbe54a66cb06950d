"""Gradient flow, measured exactly by the engine.

Connectivity (Distill's "Memorization in RNNs"): ||dy_t/dx_s|| for every pair of steps s <= t,
y_t being the last layer's h_t. Contributions (RNNbow): a recurrent weight W is shared by
every step, so dL/dW = sum_t dL/dW_t, where W_t is the copy step t reads; each step here gets
its own copy, a leaf, and backward fills in every term.
"""

from __future__ import annotations

import copy
import html
from dataclasses import dataclass

import numpy as np

from autograd_lite import nn
from autograd_lite.functional import vjp
from autograd_lite.ops import cross_entropy, stack
from autograd_lite.tensor import Tensor
from rnn.experiment_born_in import BornInModel
from rnn.inspect.activations import input_vectors
from rnn.training.losses import mse_loss, sequence_cross_entropy
from rnn.training.models import CharModel

MEMORY_BUDGET = 2e8  # bytes of graph a connectivity chunk may hold, roughly


TOKEN_MODELS = (CharModel, BornInModel)  # models that read token ids


def recurrent_layer(model):
    """The RecurrentLayer of a CharModel, BornInModel or RegressionModel (or the layer
    itself)."""
    return getattr(model, "layer", model)


# ------------------------------------------------------------------------------------------
# Connectivity
# ------------------------------------------------------------------------------------------


@dataclass
class Connectivity:
    """`jacobian[t, i, s, d]` = dy_t[i]/dx_s[d]; `matrix[t, s]` its Frobenius norm over
    (i, d), zero for s > t (the future does not reach the past)."""

    jacobian: np.ndarray
    text: str | None = None

    @property
    def matrix(self) -> np.ndarray:
        return np.sqrt((self.jacobian ** 2).sum(axis=(1, 3)))

    def by_lag(self) -> np.ndarray:
        """(T, T): entry [t, k] = ||dy_t/dx_{t-k}||, NaN where t - k < 0."""
        M = self.matrix
        T = len(M)
        out = np.full((T, T), np.nan)
        for k in range(T):
            out[k:, k] = M[np.arange(k, T), np.arange(0, T - k)]
        return out

    def _repr_html_(self) -> str:
        M = self.matrix
        return (f"<p>Connectivity ||dy_t/dx_s|| over {len(M)} steps: largest "
                f"{M.max():.3g}; mean at lag 0 {np.nanmean(self.by_lag()[:, 0]):.3g}, "
                f"at the longest lag {M[-1, 0]:.3g}.</p>")


def sequence_inputs(model, inputs) -> np.ndarray:
    """The (T, D) float inputs of a layer: the ids a model of tokens reads become its input
    vectors."""
    if isinstance(model, TOKEN_MODELS):
        return input_vectors(model, np.asarray(inputs, dtype=np.int64))
    return np.asarray(inputs, dtype=recurrent_layer(model).dtype)


def connectivity(model, inputs, text: str | None = None) -> Connectivity:
    """||dh_t/dx_s|| of the model's last layer for one sequence: `inputs` are ids (T,) for a
    model of tokens, else vectors (T, D). One backward pass gives many rows at once: the input is
    repeated along the batch axis and copy (t, i) is seeded with the unit vector of h_t[i]."""
    layer = recurrent_layer(model)
    x = sequence_inputs(model, inputs)
    T, D = x.shape
    H = layer.hidden_size
    jac = np.zeros((T, H, T, D))
    per_row = 20 * T * H * 8 * len(layer.cells) * len(layer.cell_class.STATE)
    rows = max(H, int(MEMORY_BUDGET // per_row) // H * H)  # whole output steps per chunk
    pairs = [(t, i) for t in range(T) for i in range(H)]
    for a in range(0, len(pairs), rows):
        chunk = pairs[a:a + rows]
        last = max(t for t, _ in chunk) + 1  # steps after it cannot change these rows
        X = np.repeat(x[:last, None, :], len(chunk), axis=1)
        seed = np.zeros((last, len(chunk), H), dtype=layer.dtype)
        for b, (t, i) in enumerate(chunk):
            seed[t, b, i] = 1.0
        _, pullback = vjp(lambda X_: layer(X_)[0], Tensor(X, requires_grad=True))
        (dX,) = pullback(seed)
        for b, (t, i) in enumerate(chunk):
            jac[t, i, :last] = dX[:, b, :]
    return Connectivity(jac, text)


# ------------------------------------------------------------------------------------------
# Per-step contributions to the weight gradients
# ------------------------------------------------------------------------------------------


@dataclass
class Contributions:
    """`per_step[name]` (T, *shape): step t's term of dL/d(name); `full[name]`: the gradient
    of the same loss computed by the model's own graph. Names are `l{layer}/{param}`."""

    per_step: dict[str, np.ndarray]
    full: dict[str, np.ndarray]
    loss: float

    @property
    def names(self) -> list[str]:
        return list(self.per_step)

    def norms(self) -> np.ndarray:
        """(weights, T): the Frobenius norm of each step's contribution to each weight."""
        return np.stack([np.sqrt((c.reshape(len(c), -1) ** 2).sum(axis=1))
                         for c in self.per_step.values()])

    def max_sum_error(self) -> float:
        """The largest |sum over steps - full gradient| over all weights."""
        return max(float(np.max(np.abs(self.per_step[n].sum(axis=0) - self.full[n])))
                   for n in self.per_step)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{np.argmax(v)}</td>"
                       f"<td>{v.max():.3g}</td></tr>" for n, v in zip(self.names, self.norms()))
        return (f"<p>Per-step contributions to dL/dW, loss {self.loss:.4f}; they sum to the "
                f"full gradient within {self.max_sum_error():.1e}.</p><table><tr><th>weight"
                f"</th><th>largest at step</th><th>norm</th></tr>{rows}</table>")


def _step_copy(cell) -> tuple:
    """A shallow copy of `cell` whose parameters are fresh leaves holding the same values."""
    twin = copy.copy(cell)
    leaves = {}
    for name, _ in cell.PARAMS:
        leaves[name] = nn.Parameter(getattr(cell, name).data, label=name, dtype=cell.dtype)
        setattr(twin, name, leaves[name])
    return twin, leaves


def _unroll_per_step(layer, x: Tensor):
    """The readable cells over x (T, B, D), each step with its own parameter copies.
    Returns (list of the last layer's h_t, copies[layer][t] = {param: leaf})."""
    seq = [x[t] for t in range(x.shape[0])]
    copies = []
    for cell in layer.cells:
        state, hs, mine = None, [], []
        for x_t in seq:
            twin, leaves = _step_copy(cell)
            mine.append(leaves)
            state = twin(x_t, state)
            hs.append(state[0] if isinstance(state, tuple) else state)
        seq = hs
        copies.append(mine)
    return seq, copies


def _loss(model, outputs: Tensor, targets):
    """The model's training loss on outputs (T, B, H): cross-entropy of next characters for a
    CharModel, of the class read at the last step for a BornInModel, the squared error of
    the last step's prediction otherwise."""
    if isinstance(model, CharModel):
        return sequence_cross_entropy(model.decoder(outputs), targets)
    if isinstance(model, BornInModel):
        return cross_entropy(model.decoder(outputs[-1]), targets)
    return mse_loss(model.decoder(outputs[-1]), targets)


def contributions(model, inputs, targets) -> Contributions:
    """Each step's contribution to the gradient of the model's loss for every recurrent weight.

    CharModel: `inputs` and `targets` are ids (T,) (targets: the next characters). A
    BornInModel: `inputs` are ids (T,), `targets` the class (a language) read at the last
    step. A RegressionModel: `inputs` (T, D) or (T, B, D) and `targets` (B, out).
    """
    layer = recurrent_layer(model)
    if isinstance(model, CharModel):
        x = sequence_inputs(model, inputs)[:, None, :]
        targets = np.asarray(targets, dtype=np.int64).reshape(-1, 1)
    elif isinstance(model, BornInModel):
        x = sequence_inputs(model, inputs)[:, None, :]
        targets = np.asarray(targets, dtype=np.int64).reshape(1)
    else:
        x = np.asarray(inputs, dtype=layer.dtype)
        x = x[:, None, :] if x.ndim == 2 else x
        targets = np.asarray(targets, dtype=layer.dtype).reshape(x.shape[1], -1)
    # the full gradient, by the model's own layer (its fused kernel where it has one)
    params = [p for cell in layer.cells for p in cell.parameter_list()]
    for p in params:
        p.grad = None
    loss = _loss(model, layer(Tensor(x))[0], targets)
    loss.backward()
    full = {f"l{k}/{name}": np.array(getattr(cell, name).grad)
            for k, cell in enumerate(layer.cells) for name, _ in cell.PARAMS}
    for p in model.parameters():
        p.grad = None
    # the same loss with one parameter copy per step
    hs, copies = _unroll_per_step(layer, Tensor(x))
    _loss(model, stack(hs, axis=0), targets).backward()
    per_step = {}
    for k, cell in enumerate(layer.cells):
        for name, _ in cell.PARAMS:
            per_step[f"l{k}/{name}"] = np.stack([
                np.zeros_like(c[name].data) if c[name].grad is None else c[name].grad
                for c in copies[k]])
    for p in model.parameters():
        p.grad = None
    return Contributions(per_step, full, loss.item())

