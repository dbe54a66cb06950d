"""Elementwise VJP rules derived with SymPy, and a checker for an autodiff op table.

Each rule is `g * ∂out/∂input`, rewritten through the output where that is what papers write
(σ' = out(1 - out), tanh' = 1 - out², exp' = out), the form the engine's op table uses.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from autograd_lite import ops
from rnn.symbolic.core import Var, sigmoid

x = Var("x", "x", "x")
y = Var("y", "y", "y")
grad_out = Var("g", "g", "g")  # upstream gradient
out = Var("out", r"\mathrm{out}", "out")


@dataclass(frozen=True)
class VJPRule:
    """One op: its forward expression and, per input, the derived VJP in (g, out, inputs)."""

    name: str
    inputs: tuple[Var, ...]
    forward: sp.Expr
    vjps: tuple[sp.Expr, ...]
    domain: str  # how inputs are sampled: "any", "positive", "away0", "denominator"

    def _repr_latex_(self) -> str:
        rows = [rf"\bar{{{sp.latex(v)}}} &= {sp.latex(e)}"
                for v, e in zip(self.inputs, self.vjps, strict=True)]
        head = rf"\mathrm{{{self.name}}}:\ \mathrm{{out}} = {sp.latex(self.forward)}"
        return "$$\\begin{aligned}" + head + r" \\ " + r" \\ ".join(rows) + r"\end{aligned}$$"


# name -> (forward expression, inputs, domain of the inputs)
_FORWARDS = {
    "add": (x + y, (x, y), "any"),
    "sub": (x - y, (x, y), "any"),
    "neg": (-x, (x,), "any"),
    "mul": (x * y, (x, y), "any"),
    "div": (x / y, (x, y), "denominator"),
    "pow": (x**y, (x, y), "positive"),
    "exp": (sp.exp(x), (x,), "any"),
    "log": (sp.log(x), (x,), "positive"),
    "sigmoid": (sigmoid(x), (x,), "any"),
    "tanh": (sp.tanh(x), (x,), "any"),
    # relu away from its kink: a Piecewise that SymPy differentiates branch by branch.
    "relu": (sp.Piecewise((x, x > 0), (0, True)), (x,), "away0"),
}


def _derive(name: str) -> VJPRule:
    expr, inputs, domain = _FORWARDS[name]
    vjps = []
    for v in inputs:
        d = grad_out * sp.powsimp(sp.diff(expr, v))  # y*x**y/x -> y*x**(y - 1)
        # Through the output: σ(x) -> out, e^x -> out, x**y -> out (not for add, mul, ...).
        if expr.is_Function or expr.is_Pow:
            d = d.xreplace({expr: out})
        vjps.append(d)
    return VJPRule(name, inputs, expr, tuple(vjps), domain)


@functools.cache
def vjp_rules() -> dict[str, VJPRule]:
    """Every elementwise rule, derived once: name -> VJPRule."""
    return {name: _derive(name) for name in _FORWARDS}


@functools.cache
def _numeric(name: str):
    rule = vjp_rules()[name]
    modules = [{"sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v))}, "numpy"]
    fwd = sp.lambdify(rule.inputs, rule.forward, modules=modules)
    back = sp.lambdify((grad_out, out) + rule.inputs, list(rule.vjps), modules=modules)
    return fwd, back


def _sample(domain: str, shape, rng):
    if domain == "positive":
        return rng.uniform(0.2, 3.0, shape)
    if domain == "away0":
        return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return rng.normal(0.0, 1.5, shape)


@dataclass(frozen=True)
class RuleCheck:
    """The worst |table − derived| of one op's VJP for one input (None = no gradient given)."""

    op: str
    input: int
    max_abs_error: float | None
    note: str = ""


ALIASES = {"pow_tensor": "pow"}  # table op name -> derived rule


def check_op_table(ops: dict, backend, n_points: int = 64, seed: int = 0,
                   names=None) -> list[RuleCheck]:
    """Compare an op table's VJP rules with the derived ones at random points in each domain.

    `ops` maps name -> object with `.vjp(B, g, out, *inputs, **attrs)` returning a tuple aligned
    with the inputs. Inputs after those the rule returns gradients for are treated as constant
    attributes (e.g. `pow` with a fixed exponent). Ops without a derived rule are skipped.
    """
    rng = np.random.default_rng(seed)
    results = []
    for op_name in names or sorted(ops):
        rule_name = ALIASES.get(op_name, op_name)
        if rule_name not in vjp_rules():
            continue
        rule, (fwd, back) = vjp_rules()[rule_name], _numeric(rule_name)
        shape = (n_points,)
        inputs = [_sample(rule.domain, shape, rng) for _ in rule.inputs]
        if rule.domain == "denominator":
            inputs[1] = _sample("away0", shape, rng) * 2
        g = rng.normal(size=shape)
        value = np.broadcast_to(fwd(*inputs), shape).astype(np.float64)
        expected = back(g, value, *inputs)
        got = ops[op_name].vjp(backend, g, value, *inputs)
        for k, e in enumerate(expected):
            if k >= len(got):
                results.append(RuleCheck(op_name, k, None, "constant attribute"))
            elif got[k] is None:
                results.append(RuleCheck(op_name, k, None, "no gradient returned"))
            else:
                err = np.max(np.abs(np.asarray(got[k], dtype=np.float64) - e))
                results.append(RuleCheck(op_name, k, float(err)))
    return results


def check_engine_ops(n_points: int = 64, seed: int = 0) -> list[RuleCheck]:
    """`check_op_table` on `autograd_lite.ops.OPS` with the NumPy backend."""
    return check_op_table(ops.OPS, ops.NUMPY_BACKEND, n_points, seed)
