"""Cross-check: the compiled closed forms against the engine (primitive graph and fused op),
finite differences and, for small cells, the unrolled full-vector SymPy derivative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autograd_lite.tensor import Tensor
from rnn.cells import cell_class
from rnn.layers import make_layer
from rnn.symbolic.compiled import bptt, finite_difference_grads, forward, random_problem
from rnn.symbolic.trace import cell_spec
from rnn.symbolic.unrolled import unrolled_gradients

EXACT_TOL = 1e-10  # float64 references that are exact up to rounding
FD_ABS, FD_REL = 1e-7, 1e-5  # finite differences: |a - n| <= FD_ABS + FD_REL |n|


@dataclass(frozen=True)
class CheckRow:
    """The worst error of one gradient against one reference."""

    reference: str
    gradient: str
    max_abs_error: float
    ok: bool


@dataclass
class CrossCheck:
    """All rows of a cross-check, plus the references that could not run and why."""

    cell: str
    sizes: dict
    rows: list[CheckRow] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every row is within its reference's tolerance."""
        return all(row.ok for row in self.rows)

    def max_error(self, reference: str) -> float:
        """The worst error over all gradients against `reference`."""
        return max(row.max_abs_error for row in self.rows if row.reference == reference)

    def table(self) -> str:
        """A plain-text table: one row per gradient, one column per reference."""
        refs = list(dict.fromkeys(row.reference for row in self.rows))
        grads = list(dict.fromkeys(row.gradient for row in self.rows))
        cells = {(row.gradient, row.reference): row for row in self.rows}
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        lines = [f"cross-check {self.cell} ({sizes}): max |closed form - reference|",
                 f"{'gradient':<10}" + "".join(f"{ref:>16}" for ref in refs)]
        for name in grads:
            line = f"{name:<10}"
            for ref in refs:
                row = cells.get((name, ref))
                line += f"{'':>16}" if row is None else (
                    f"{row.max_abs_error:>15.2e}" + (" " if row.ok else "!"))
            lines.append(line)
        lines.append(f"tolerance: {EXACT_TOL:g} (engine, fused, unrolled); "
                     f"{FD_ABS:g} + {FD_REL:g}|n| (fd); ! marks a failure")
        lines += [f"skipped {ref}: {why}" for ref, why in self.skipped.items()]
        lines.append("OK" if self.ok else "FAILED")
        return "\n".join(lines)


def engine_gradients(cell, params: dict, xs, h0, c0=None, dhs=None,
                     fused: bool = False) -> dict:
    """Gradients from the engine: `rnn.layers` unrolled (primitive graph) or fused, keyed
    like `bptt`'s result (the same weight layout), plus "h_t", the forward's outputs."""
    D, H = xs.shape[2], h0.shape[1]
    layer = make_layer(cell, D, H, fused=fused, dtype=np.float64)
    engine_cell = layer.cells[0]
    engine_cell.load_weights(params)
    x = Tensor(xs, requires_grad=True, label="x")
    h = Tensor(h0[None], requires_grad=True, label="h0")
    state = h
    if cell_spec(cell).has_cell_state:
        c = Tensor((np.zeros_like(h0) if c0 is None else c0)[None], requires_grad=True,
                   label="c0")
        state = (h, c)
    outputs, _ = layer(x, state)
    outputs.backward(np.asarray(dhs, dtype=np.float64))
    grads = {k: getattr(engine_cell, k).grad for k in params}
    grads = {k: np.zeros_like(params[k]) if v is None else v for k, v in grads.items()}
    grads["x"], grads["h0"] = x.grad, h.grad[0]
    if cell_spec(cell).has_cell_state:
        grads["c0"] = c.grad[0]
    grads["h_t"] = np.array(outputs.data)
    return grads


def _exact_rows(name: str, ours: dict, ref: dict) -> list[CheckRow]:
    rows = []
    for k in [k for k in ours if k in ref]:
        err = float(np.max(np.abs(ours[k] - ref[k]))) if ours[k].size else 0.0
        rows.append(CheckRow(name, k, err, err <= EXACT_TOL))
    return rows


def _fd_rows(ours: dict, ref: dict) -> list[CheckRow]:
    rows = []
    for k in [k for k in ours if k in ref]:
        diff = np.abs(ours[k] - ref[k])
        ok = bool(np.all(diff <= FD_ABS + FD_REL * np.abs(ref[k])))
        rows.append(CheckRow("fd", k, float(diff.max()) if diff.size else 0.0, ok))
    return rows


REFERENCES = ("engine", "fused", "fd", "unrolled")


def cross_check(cell: str, H: int = 3, D: int = 2, B: int = 2, T: int = 3, seed: int = 0,
                references=("engine", "fused", "fd")) -> CrossCheck:
    """Compare the compiled closed-form BPTT of `cell` with each reference on a random problem.

    references: "engine" (rnn.layers, fused=False: the graph of primitives), "fused"
    (rnn.layers' fused op), "fd" (central differences of the NumPy reference) and "unrolled"
    (sympy.diff of the whole cell over explicit matrices; slow, H <= 3 only).
    """
    cls = cell_class(cell)  # ValueError naming the registered cells
    unknown = set(references) - set(REFERENCES)
    if unknown:
        raise ValueError(f"unknown references {sorted(unknown)}; choose from {REFERENCES}")
    problem = random_problem(cell, H, D, B, T, seed)
    ours = bptt(cell, *problem)
    # The forward that the closed forms differentiate, traced from the cell: the engine's
    # rows compare it with the cell's own outputs (h_t) before any gradient.
    ours["h_t"] = forward(cell, *problem[:4])[0]
    result = CrossCheck(cls.name, {"H": H, "D": D, "B": B, "T": T})
    for ref in references:
        if ref == "fused" and cls.fused_kernel() is None:
            result.skipped[ref] = f"{cls.__name__} declares no fused kernel"
        elif ref in ("engine", "fused"):
            other = engine_gradients(cell, *problem, fused=(ref == "fused"))
            result.rows += _exact_rows(ref, ours, other)
        elif ref == "fd":
            result.rows += _fd_rows(ours, finite_difference_grads(cell, *problem))
        elif H > 3:
            result.skipped[ref] = f"H={H}: the unrolled derivation is only run for H <= 3"
        else:
            result.rows += _exact_rows(ref, ours, unrolled_gradients(cell, *problem))
    return result
