"""Derivation of one cell: local derivatives, backward deltas and closed forms, per unit.

One hidden unit of a cell is a short list of scalar equations (traced from the cell's own
forward, `rnn.symbolic.trace`); the chain rule runs over that list in reverse (Greff et al.
2017, appendix), so no vector expression is ever expanded. Each local derivative SymPy
finds is checked against the textbook rule of its op (σ' = σ(1 - σ), tanh' = 1 - tanh²,
product and sum rules), applied structurally: an independent route to the same result.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

import sympy as sp

from rnn.cells import cell_class
from rnn.symbolic.core import Var, delta, dh, evaluated, relu, sigmoid
from rnn.symbolic.trace import (
    CellSpec,
    cell_spec,
    source_delta,
    state_next_delta,
    state_out,
    state_prev,
)


@dataclass(frozen=True)
class LocalDerivative:
    """∂node/∂wrt: SymPy's derivative rewritten in gate outputs, checked against the textbook."""

    node: Var
    wrt: Var
    derived: sp.Expr
    textbook: sp.Expr | None
    verified: bool  # simplify(derived - textbook) == 0

    def _repr_latex_(self) -> str:
        lhs = rf"\frac{{\partial {sp.latex(self.node)}}}{{\partial {sp.latex(self.wrt)}}}"
        return f"$${lhs} = {sp.latex(self.derived)}$$"


@dataclass
class Derivation:
    """Everything derived for one cell; displays as LaTeX in Jupyter."""

    spec: CellSpec
    equations: list[tuple[Var, sp.Expr]]  # the spec's equations, evaluated
    local: list[LocalDerivative]
    chain: list[tuple[Var, sp.Expr]]  # δv in terms of the deltas of v's consumers
    closed: dict[Var, sp.Expr]  # δv in gate outputs, states and upstream deltas only
    # Whole-step derivatives: (latex lhs, pretty lhs, derived, textbook, verified).
    extra: list[tuple[str, str, sp.Expr, sp.Expr, bool]]

    @property
    def inputs(self) -> tuple[Var, ...]:
        """Per-unit inputs whose deltas the backward step returns."""
        return self.spec.leaves

    @property
    def upstream(self) -> tuple[Var, ...]:
        """The deltas a step receives: δh_t, δc_t⁺ (from step t+1) and, for a matrix product
        that reads an equation (MGU's f_t h_{t-1}), that equation's delta through it."""
        return ((dh,) + tuple(state_next_delta(s) for s in self.spec.states[1:])
                + tuple(source_delta(v) for v in self.spec.source_parts))

    def _repr_latex_(self) -> str:
        from rnn.symbolic.report import derivation_latex  # (report imports this module)

        return "$$" + derivation_latex(self) + "$$"

    def __str__(self) -> str:
        from rnn.symbolic.report import derivation_pretty

        return derivation_pretty(self)


def textbook_diff(expr: sp.Expr, wrt: Var) -> sp.Expr:
    """∂expr/∂wrt by the textbook rules, structurally: sums, products, σ' = σ(1 - σ),
    tanh' = 1 - tanh², exp' = exp, relu' = 1 where relu > 0 else 0. Independent of `sp.diff`
    and the derived σ', relu'."""
    if expr == wrt:
        return sp.S.One
    if wrt not in expr.free_symbols:
        return sp.S.Zero
    if expr.is_Add:
        return sp.Add(*(textbook_diff(a, wrt) for a in expr.args))
    if expr.is_Mul:
        args = expr.args
        return sp.Add(*(sp.Mul(*args[:k], textbook_diff(a, wrt), *args[k + 1:])
                        for k, a in enumerate(args)))
    if expr.is_Pow and expr.exp.is_Integer:
        return expr.exp * expr.base ** (expr.exp - 1) * textbook_diff(expr.base, wrt)
    inner = textbook_diff(expr.args[0], wrt) if len(expr.args) == 1 else None
    if isinstance(expr, sigmoid):
        return expr * (1 - expr) * inner
    if isinstance(expr, sp.tanh):
        return (1 - expr**2) * inner
    if isinstance(expr, sp.exp):
        return expr * inner
    if isinstance(expr, relu):
        return sp.Piecewise((1, expr > 0), (0, True)) * inner
    raise NotImplementedError(f"no textbook rule for {expr.func}")


def _parents(expr: sp.Expr, order: dict) -> list[Var]:
    return sorted((s for s in expr.free_symbols if s in order), key=order.__getitem__)


def derive_cell(name, verify: bool = True) -> Derivation:
    """Derive local derivatives, Greff-style deltas and closed forms for one cell (uncached)."""
    spec = cell_spec(name)
    equations = [(v, evaluated(e)) for v, e in spec.equations]
    order = {v: k for k, v in enumerate(spec.leaves + tuple(v for v, _ in equations))}
    # Gate outputs replace the function applications they stand for: σ(a_f) -> f_t.
    rewrite = {e: v for v, e in equations if isinstance(e, sp.Function)}

    local: dict[tuple[Var, Var], sp.Expr] = {}
    checks = []
    consumers = defaultdict(list)
    for node, expr in equations:
        for parent in _parents(expr, order):
            d = sp.diff(expr, parent).xreplace(rewrite)
            local[node, parent] = d
            consumers[parent].append(node)
            expected = textbook_diff(expr, parent).xreplace(rewrite)
            ok = bool(verify and sp.simplify(d - expected) == 0)
            checks.append(LocalDerivative(node, parent, d, expected, ok))

    # Reverse mode over the unit's equations; h_t's delta is the upstream input δh_t, the
    # other new states and the equations a matrix product reads get theirs from outside.
    h = state_out("h")
    seeds = {state_out(s): state_next_delta(s) for s in spec.states[1:]}
    seeds.update({v: source_delta(v) for v in spec.source_parts})
    chain, closed = [], {h: dh}
    for v in [v for v, _ in reversed(equations)] + list(spec.leaves):
        if v == h:
            continue
        terms = [delta(k) * local[k, v] for k in consumers[v]] + [seeds.get(v, 0)]
        expr = sp.Add(*terms)
        chain.append((delta(v), expr))
        closed[v] = expr.xreplace({delta(k): closed[k] for k in consumers[v]})

    extra = []
    for s in spec.states[1:]:
        # Along the state only (δh_t = 0, δs_t⁺ = 1): the diagonal Jacobian ∂s_t/∂s_{t-1},
        # against the forward-mode chain rule over the textbook local derivatives.
        jac = closed[state_prev(s)].xreplace({dh: 0, state_next_delta(s): 1})
        tangent = {state_prev(s): sp.S.One}
        for node, expr in equations:
            tangent[node] = sp.Add(*(textbook_diff(expr, p).xreplace(rewrite) * tangent[p]
                                     for p in _parents(expr, order) if p in tangent))
        expected = tangent[state_out(s)]
        ok = bool(verify and sp.simplify(jac - expected) == 0)
        extra.append((rf"\frac{{\partial {s}_t}}{{\partial {s}_{{t-1}}}}\Big\vert_"
                      r"{\mathrm{cell}}", f"∂{s}ₜ/∂{s}ₜ₋₁ (cell path)", jac, expected, ok))
    closed = {v: e for v, e in closed.items() if v != h}
    return Derivation(spec, equations, checks, chain, closed, extra)


def derivation(name) -> Derivation:
    """The derivation of a registered cell, computed once per process (per class)."""
    return _derivation(cell_class(name))


@functools.cache
def _derivation(cls) -> Derivation:
    return derive_cell(cls)
