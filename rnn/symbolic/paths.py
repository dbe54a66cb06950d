"""The long-term gradient path: ∂c_T/∂c_0 along the LSTM cell state is a product of forget gates,
∂h_T/∂h_0 of the plain RNN a product of diag(1 - h_t²) W; derived for small T, measured for large.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from rnn.symbolic.core import Var, latex_of, pretty_of
from rnn.symbolic.trace import state_out, state_prev

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _seq(letter: str, k: int, latex: str | None = None) -> Var:
    return Var(f"{letter}_{k}", f"{latex or letter}_{{{k}}}", f"{letter}{str(k).translate(_SUB)}")


@dataclass(frozen=True)
class PathDerivation:
    """A derived path derivative next to the product it should equal."""

    title: str
    lhs_latex: str
    lhs_pretty: str
    derived: sp.Expr
    product: sp.Expr
    verified: bool  # simplify(derived - product) == 0
    general_latex: str  # the statement for any T

    def _repr_latex_(self) -> str:
        return (rf"$$\begin{{aligned}}{self.lhs_latex} &= {sp.latex(self.derived)}"
                rf" \\ \text{{any }}T:\quad {self.general_latex}\end{{aligned}}$$")

    def __str__(self) -> str:
        return f"{self.lhs_pretty} = {sp.pretty(self.derived, use_unicode=True)}"


def _at_step(v: Var, k: int) -> Var:
    """The per-step copy of a per-unit symbol: f_t -> f_k."""
    sub = str(k).translate(_SUB)
    return Var(f"{v.name}@{k}", latex_of(v).replace("_t", f"_{{{k}}}"),
               pretty_of(v).replace("ₜ", sub))


def state_path(d, T: int = 3) -> PathDerivation | None:
    """∂s_T/∂s_0 along the cell's carried state s (c, else h) with the gates held fixed,
    derived over T steps of the cell's own equation for s; None when s_t does not read
    s_{t-1} directly (the plain RNN: there the path runs through W, see `rnn_path`)."""
    s = d.spec.states[-1]
    prev, out = state_prev(s), state_out(s)
    expr = dict(d.equations)[out]
    factor = sp.diff(expr, prev)
    if factor == 0:
        return None
    start = _seq(s, 0)
    state, factors = start, []
    for k in range(1, T + 1):
        step = {v: _at_step(v, k) for v in expr.free_symbols if v != prev}
        state = expr.xreplace({**step, prev: state})
        factors.append(factor.xreplace(step))
    derived, product = sp.diff(state, start), sp.Mul(*factors)
    order = [v for v, _ in d.equations]
    held = sorted(expr.free_symbols - {prev}, key=lambda v: order.index(v) if v in order else -1)
    names = ",".join(latex_of(v).replace("_t", "") for v in held)
    fixed = rf"\Big\vert_{{{names}\ \mathrm{{fixed}}}}"
    return PathDerivation(
        f"{d.spec.title}: {s}_T with the gates fixed, T={T}",
        rf"\frac{{\partial {s}_{{{T}}}}}{{\partial {s}_0}}{fixed}",
        f"∂{s}{str(T).translate(_SUB)}/∂{s}₀", derived, product,
        sp.simplify(derived - product) == 0,
        rf"\frac{{\partial {s}_T}}{{\partial {s}_0}}{fixed} = \prod_{{t=1}}^{{T}} "
        rf"{sp.latex(factor)}")


def rnn_path(T: int = 3) -> PathDerivation:
    """∂h_T/∂h_0 of a one-unit RNN h_t = tanh(w h_{t-1} + v x_t + b), rewritten in the h_t."""
    w, v, b = Var("w"), Var("v"), Var("b")
    xs = [_seq("x", k) for k in range(1, T + 1)]
    hs = [_seq("h", k) for k in range(T + 1)]
    state = hs[0]
    for k in range(T):
        state = sp.tanh(w * state + v * xs[k] + b)
    d = sp.diff(state, hs[0])
    # Innermost first: tanh(w h_0 + ...) -> h_1, which turns the next tanh into tanh(w h_1 + ...).
    for k in range(T):
        d = d.xreplace({sp.tanh(w * hs[k] + v * xs[k] + b): hs[k + 1]})
    product = sp.Mul(*[w * (1 - hs[k] ** 2) for k in range(1, T + 1)])
    return PathDerivation(
        f"RNN: hidden state, one unit, T={T}",
        rf"\frac{{\partial h_{{{T}}}}}{{\partial h_0}}", f"∂h{str(T).translate(_SUB)}/∂h₀",
        d, product, sp.simplify(d - product) == 0,
        r"\frac{\partial h_T}{\partial h_0} = "
        r"\prod_{t=T}^{1} \mathrm{diag}\left(1 - h_t^{2}\right) W_h")


def rnn_jacobian(H: int = 2, T: int = 2) -> tuple[sp.Matrix, sp.Matrix, bool]:
    """(derived ∂h_T/∂h_0, Π diag(1 - h_t²) W_h, equal?) for an H-unit RNN over symbols."""
    W = sp.Matrix(H, H, lambda r, k: Var(f"w_{r}{k}", f"w_{{{r}{k}}}"))
    hs = [sp.Matrix(H, 1, lambda r, _, t=t: Var(f"h{t}_{r}", f"h_{{{t},{r}}}"))
          for t in range(T + 1)]
    # The input part U x_t + b of each step is held fixed: one symbol per unit and step.
    us = [sp.Matrix(H, 1, lambda r, _, t=t: Var(f"u{t}_{r}", f"u_{{{t},{r}}}"))
          for t in range(1, T + 1)]
    state = hs[0]
    for t in range(T):
        state = (W * state + us[t]).applyfunc(sp.tanh)
    J = state.jacobian(hs[0])
    for t in range(T):  # innermost first, as in `rnn_path`
        pre = W * hs[t] + us[t]
        J = J.xreplace({sp.tanh(pre[r]): hs[t + 1][r] for r in range(H)})
    product = sp.eye(H)
    for t in range(1, T + 1):
        product = sp.diag(*[1 - hs[t][r] ** 2 for r in range(H)]) * W * product
    return J, product, (J - product).applyfunc(sp.simplify) == sp.zeros(H, H)


# ------------------------------------------------------------------------------------------
# Numbers: how fast the path shrinks or grows with T
# ------------------------------------------------------------------------------------------

STEPS = (1, 2, 5, 10, 20, 50, 100)


def path_magnitudes(steps=STEPS, H: int = 32, gains=(0.9, 1.0, 1.5),
                    forgets=(0.5, 0.9, 0.99), seed: int = 0) -> dict[str, np.ndarray]:
    """Norm of the path Jacobian at each T in `steps`: label -> array aligned with `steps`.

    RNN: spectral norm of Π diag(1 - h_t²) W_h along a real forward pass (W_h ~ N(0, gain²/H),
    so its spectral radius is about `gain`). LSTM: Π f_t along the cell state with forget gates
    σ(logit(f̄) + N(0, 0.5²)) around a typical value f̄; the norm of a diagonal is its max.
    """
    rng = np.random.default_rng(seed)
    T_max = max(steps)
    want = {t: k for k, t in enumerate(steps)}
    out = {}
    xs = rng.normal(size=(T_max, H))
    U = rng.normal(0.0, 1.0 / np.sqrt(H), (H, H))
    for gain in gains:
        W = rng.normal(0.0, gain / np.sqrt(H), (H, H))
        h, J, norms = np.zeros(H), np.eye(H), np.zeros(len(steps))
        for t in range(1, T_max + 1):
            h = np.tanh(W @ h + U @ xs[t - 1])
            J = (1 - h**2)[:, None] * W @ J  # diag(1 - h_t²) W_h times the path so far
            if t in want:
                norms[want[t]] = np.linalg.norm(J, 2)
        out[f"RNN gain {gain:g}"] = norms
    for fbar in forgets:
        logits = np.log(fbar / (1 - fbar)) + rng.normal(0.0, 0.5, (T_max, H))
        f = 1.0 / (1.0 + np.exp(-logits))
        prod = np.cumprod(f, axis=0)
        out[f"LSTM f≈{fbar:g}"] = np.array([prod[t - 1].max() for t in steps])
    return out


def path_table(magnitudes: dict[str, np.ndarray], steps=STEPS) -> str:
    """The magnitudes as a plain-text table (rows T, columns the settings)."""
    labels = list(magnitudes)
    width = max(12, *(len(s) + 2 for s in labels))
    lines = ["T".rjust(5) + "".join(s.rjust(width) for s in labels)]
    for k, t in enumerate(steps):
        lines.append(f"{t:>5}" + "".join(f"{magnitudes[s][k]:>{width}.3e}" for s in labels))
    return "\n".join(lines)


__all__ = ["PathDerivation", "state_path", "path_magnitudes", "path_table",
           "rnn_jacobian", "rnn_path"]
