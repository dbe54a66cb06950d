"""The symbolic vocabulary: scalar symbols that print as papers write them, deltas, and the
activations (sigmoid, tanh, relu) with derivatives derived from their definitions.
"""

from __future__ import annotations

import functools

import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

_LATEX: dict[str, str] = {}
_PRETTY: dict[str, str] = {}


class Var(sp.Symbol):
    """A real scalar symbol that prints with its own LaTeX and Unicode names."""

    def __new__(cls, name: str, latex: str | None = None, pretty: str | None = None, **_):
        # An explicit form replaces the stored one; a bare Var("x") only fills a gap.
        _LATEX[name] = latex if latex is not None else _LATEX.get(name, name)
        _PRETTY[name] = pretty if pretty is not None else _PRETTY.get(name, name)
        return super().__new__(cls, name, real=True)

    def _latex(self, printer):
        return _LATEX[self.name]

    def _pretty(self, printer):
        return prettyForm(_PRETTY[self.name])


def latex_of(v: sp.Symbol) -> str:
    """The LaTeX a symbol prints as (its name when it has no form of its own)."""
    return _LATEX.get(v.name, v.name)


def pretty_of(v: sp.Symbol) -> str:
    """The Unicode text a symbol prints as (its name when it has no form of its own)."""
    return _PRETTY.get(v.name, v.name)


def delta(v: Var) -> Var:
    """The symbol δv = ∂L/∂v (named `D<name>` so deltas lead printed products). A delta given
    its own form first (δhₜ₋₁(direct) below) keeps it."""
    name = "D" + v.name
    if name in _LATEX:
        return Var(name)
    return Var(name, r"\delta " + _LATEX[v.name], "δ" + _PRETTY[v.name])


# ------------------------------------------------------------------------------------------
# The two activations, with derivatives derived from their definitions
# ------------------------------------------------------------------------------------------


@functools.cache
def sigmoid_prime() -> tuple[sp.Symbol, sp.Expr]:
    """(s, σ'(x) written in the output s = σ(x)), derived from σ(x) = 1 / (1 + e^-x)."""
    x, s = sp.Symbol("x", real=True), sp.Symbol("s", positive=True)
    d = sp.diff(1 / (1 + sp.exp(-x)), x)
    # Evaluate at x = σ⁻¹(s) = log(s / (1 - s)): the derivative in terms of the output.
    return s, sp.simplify(d.subs(x, sp.log(s / (1 - s))))


@functools.cache
def tanh_prime() -> tuple[sp.Symbol, sp.Expr]:
    """(t, tanh'(x) written in the output t = tanh(x)), derived from the exponential form."""
    x, t = sp.Symbol("x", real=True), sp.Symbol("t", real=True)
    d = sp.diff((sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x)), x)
    return t, sp.simplify(d.subs(x, sp.log((1 + t) / (1 - t)) / 2))


class sigmoid(sp.Function):  # lower case, like sympy.tanh
    """The logistic function σ(x) = 1 / (1 + e^-x); `fdiff` uses the derived σ'."""

    def fdiff(self, argindex=1):
        s, d = sigmoid_prime()
        return d.xreplace({s: self})

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _latex(self, printer, exp=None):
        power = "" if exp is None else f"^{{{exp}}}"  # σ²(x) when SymPy prints a power
        return rf"\sigma{power}\left({printer._print(self.args[0])}\right)"

    def _pretty(self, printer):
        return printer._print_Function(self, func_name="σ")


@functools.cache
def relu_prime() -> tuple[sp.Symbol, sp.Expr]:
    """(r, relu'(x) written in the output r = relu(x)), derived from relu(x) = x for x > 0,
    else 0: SymPy differentiates the branches, and x > 0 exactly where r > 0. At the kink it
    is 0, as the engine's relu."""
    x, r = sp.Symbol("x", real=True), sp.Symbol("r", real=True)
    d = sp.diff(sp.Piecewise((x, x > 0), (0, True)), x)  # Piecewise((1, x > 0), (0, True))
    return r, d.subs(x, r)


class relu(sp.Function):
    """The rectifier relu(x) = max(x, 0); `fdiff` uses the derived relu' (1 where the output
    is positive, else 0)."""

    def fdiff(self, argindex=1):
        r, d = relu_prime()
        return d.xreplace({r: self})

    def _eval_rewrite_as_Piecewise(self, x, **kwargs):
        return sp.Piecewise((x, x > 0), (0, True))

    def _latex(self, printer, exp=None):
        power = "" if exp is None else f"^{{{exp}}}"
        return rf"\operatorname{{relu}}{power}\left({printer._print(self.args[0])}\right)"


# ------------------------------------------------------------------------------------------
# Per-unit symbols (one hidden unit at step t)
# ------------------------------------------------------------------------------------------

h_prev = Var("h_prev", "h_{t-1}", "hₜ₋₁")
# In the GRU h_{t-1} also reaches h_t directly; this is that part of its delta only.
Var("Dh_prev", r"\delta h_{t-1}^{\mathrm{direct}}", "δhₜ₋₁(direct)")
c_prev = Var("c_prev", "c_{t-1}", "cₜ₋₁")
h = Var("h_t", "h_t", "hₜ")
c = Var("c_t", "c_t", "cₜ")
dh = delta(h)  # upstream ∂L/∂h_t: from the loss at t and from step t+1
dc_next = Var("Dc_next", r"\delta c_t^{+}", "δcₜ⁺")  # ∂L/∂c_t arriving from step t+1


def evaluated(e: sp.Expr) -> sp.Expr:
    """`e` rebuilt with SymPy's automatic evaluation (undoes `evaluate=False`)."""
    return e if e.is_Atom else e.func(*(evaluated(arg) for arg in e.args))
