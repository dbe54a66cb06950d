"""Fused sequence kernels: a whole recurrent layer over T steps as ONE graph node.

Each kernel is an engine primitive (`defop(..., saves=True)`) with a hand-written NumPy
backward. Forward: the input projection of all steps is one matrix product before the loop;
inside the loop only the recurrent product and in-place ufuncs on preallocated arrays.
Backward: the loop only carries the recurrence; the weight gradients are computed after it,
one product over all steps for the recurrent rows and one for the input rows. A cell class
opts in by declaring `kernel = FUSED_...`; the readable cells are the reference these
kernels are tested against. The per-step elementwise work of the LSTM family also has a
numba version (`rnn.kernels.select` chooses; `rnn.kernels.jit`), tested against NumPy's.
Big buffers come from `rnn.kernels.workspace`, reused from call to call.

Op inputs: `(x, h0[, c0], *cell.parameter_list())`, x time-major (T, B, D), states (B, H),
parameters in the cell's layout (`hx @ W_f`, W_f of shape (H + D, H)).
Op output (one array per node): h_1 .. h_T (T, B, H), followed by the final value of each
further state (c_T for the LSTM family): (T + len(STATE) - 1, B, H).

Sigmoid gates are computed as sigmoid(a) = (1 + tanh(a / 2)) / 2: one tanh call covers
every gate of a step, and it cannot overflow. The halving is folded into a copy of the
weights (multiplying by 0.5 is exact), so no extra pass is needed.
"""

from __future__ import annotations

from autograd_lite.ops import apply
from autograd_lite.tensor import Tensor
from rnn.kernels.gru import FUSED_GRU
from rnn.kernels.lstm import FUSED_CIFG, FUSED_LSTM, FUSED_PEEPHOLE
from rnn.kernels.rnn import FUSED_RNN, FUSED_RNN_RELU
from rnn.kernels.select import fused_path, numba_installed, use

# The kernels whose per-step elementwise work has a numba version (rnn.kernels.jit); the others
# run NumPy on either path.
JIT_KERNELS = frozenset(op.name for op in (FUSED_LSTM, FUSED_PEEPHOLE, FUSED_CIFG))


def run_fused(cell, x: Tensor, state: tuple) -> tuple[Tensor, tuple]:
    """Run `cell`'s own kernel over time-major `x` (T, B, D) from `state` (tuple of (B, H)).

    Returns (outputs (T, B, H), final state tuple of (B, H) Tensors): one fused node, then
    indexing nodes that slice it.
    """
    op = cell.fused_op()
    if op is None:
        raise TypeError(f"{type(cell).__name__} declares no fused kernel")
    T = x.shape[0]
    packed = apply(op, x, *state, *cell.parameter_list(), need_dx=bool(x.requires_grad))
    if len(state) == 1:
        packed.label = "h_1..T"
        return packed, (packed[T - 1],)
    packed.label = "h_1..T, " + ", ".join(f"{s}_T" for s in cell.STATE[1:])
    return packed[:T], (packed[T - 1], *(packed[T + k] for k in range(len(state) - 1)))


__all__ = ["FUSED_CIFG", "FUSED_GRU", "FUSED_LSTM", "FUSED_PEEPHOLE", "FUSED_RNN",
           "FUSED_RNN_RELU", "JIT_KERNELS", "fused_path", "numba_installed", "run_fused", "use"]
