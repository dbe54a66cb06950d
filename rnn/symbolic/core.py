"""Per-unit symbolic cells: scalar equations, derived local derivatives and backward deltas.

One hidden unit of a cell is a short list of scalar equations; the chain rule runs over that
list in reverse (Greff et al. 2017, appendix), so no vector expression is ever expanded.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

_LATEX: dict[str, str] = {}
_PRETTY: dict[str, str] = {}


class Var(sp.Symbol):
    """A real scalar symbol that prints with its own LaTeX and Unicode names."""

    def __new__(cls, name: str, latex: str | None = None, pretty: str | None = None, **_):
        _LATEX.setdefault(name, latex or name)
        _PRETTY.setdefault(name, pretty or name)
        return super().__new__(cls, name, real=True)

    def _latex(self, printer):
        return _LATEX[self.name]

    def _pretty(self, printer):
        return prettyForm(_PRETTY[self.name])


def delta(v: Var) -> Var:
    """The symbol δv = ∂L/∂v (named `D<name>` so deltas lead printed products)."""
    return Var("D" + v.name, r"\delta " + _LATEX[v.name], "δ" + _PRETTY[v.name])


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


# ------------------------------------------------------------------------------------------
# Per-unit symbols (one hidden unit at step t)
# ------------------------------------------------------------------------------------------

h_prev = Var("h_prev", "h_{t-1}", "hₜ₋₁")
# In the GRU h_{t-1} also reaches h_t directly; this is that part of its delta only.
Var("Dh_prev", r"\delta h_{t-1}^{\mathrm{direct}}", "δhₜ₋₁(direct)")
c_prev = Var("c_prev", "c_{t-1}", "cₜ₋₁")
h = Var("h_t", "h_t", "hₜ")
c = Var("c_t", "c_t", "cₜ")
f, i, o = Var("f_t", "f_t", "fₜ"), Var("i_t", "i_t", "iₜ"), Var("o_t", "o_t", "oₜ")
g = Var("g_t", r"\tilde{c}_t", "c̃ₜ")  # the candidate cell c~ (called g in code)
r, u, n = Var("r_t", "r_t", "rₜ"), Var("u_t", "u_t", "uₜ"), Var("n_t", "n_t", "nₜ")
a = Var("a", "a_t", "aₜ")
a_f, a_i, a_c, a_o = (Var(f"a_{k}", f"a_{{{k}}}", f"a_{k}") for k in "fico")
a_r, a_z = Var("a_r", "a_{r}", "a_r"), Var("a_z", "a_{z}", "a_z")
a_nx, a_nh = Var("a_nx", "a_{nx}", "a_nx"), Var("a_nh", "a_{nh}", "a_nh")
a_n = Var("a_n", "a_{n}", "a_n")
# Peephole pre-activations: the affine part a_f plus the peephole term give â_f.
ah_f, ah_i, ah_o = (Var(f"ahat_{k}", rf"\hat{{a}}_{{{k}}}", f"â_{k}") for k in "fio")
p_f, p_i, p_o = (Var(f"p_{k}", f"p_{{{k}}}", f"p_{k}") for k in "fio")
dh = delta(h)  # upstream ∂L/∂h_t: from the loss at t and from step t+1
dc_next = Var("Dc_next", r"\delta c_t^{+}", "δcₜ⁺")  # ∂L/∂c_t arriving from step t+1


def _mul(*args):
    # Unevaluated, so equations print in the order papers write them (f_t c_{t-1}, not c_{t-1} f_t).
    return sp.Mul(*args, evaluate=False)


def _add(*args):
    return sp.Add(*args, evaluate=False)


def evaluated(e: sp.Expr) -> sp.Expr:
    """`e` rebuilt with SymPy's automatic evaluation (undoes `evaluate=False`)."""
    return e if e.is_Atom else e.func(*(evaluated(arg) for arg in e.args))


@dataclass(frozen=True)
class Linear:
    """A per-unit input made by a matrix product: `leaf = weight @ source + bias`."""

    leaf: Var
    weight: str
    bias: str
    source: str  # "z" = [h_{t-1}, x_t], "x" or "h"


@dataclass(frozen=True)
class CellSpec:
    """One cell as per-unit equations, and how its inputs come from matrix products."""

    name: str
    title: str
    linear: tuple[Linear, ...]
    equations: tuple[tuple[Var, sp.Expr], ...]  # (node, expression), in forward order;
    # the expressions are unevaluated (for display): use `Derivation.equations` for math.
    elementwise: tuple[Var, ...] = ()  # per-unit parameters (peephole weights)
    has_cell_state: bool = False
    textbook: tuple[tuple[Var, Var, sp.Expr], ...] = ()  # (node, wrt, expected ∂node/∂wrt)

    @property
    def state_leaves(self) -> tuple[Var, ...]:
        """The previous states a unit reads directly (not through a matrix product)."""
        used = set().union(*(e.free_symbols for _, e in self.equations))
        return tuple(v for v in (h_prev, c_prev) if v in used)

    @property
    def leaves(self) -> tuple[Var, ...]:
        """Every per-unit input: affine parts, previous states, elementwise parameters."""
        return tuple(lin.leaf for lin in self.linear) + self.state_leaves + self.elementwise


def _lstm_like(name, title, peephole):
    lin = tuple(Linear(v, f"W_{k}", f"b_{k}", "z") for v, k in zip((a_f, a_i, a_c, a_o), "fico"))
    if not peephole:
        eqs = ((f, sigmoid(a_f)), (i, sigmoid(a_i)), (g, sp.tanh(a_c)),
               (c, _add(_mul(f, c_prev), _mul(i, g))), (o, sigmoid(a_o)),
               (h, _mul(o, sp.tanh(c))))
        gates = ((f, a_f), (i, a_i), (o, a_o))
        peep = ()
    else:
        eqs = ((ah_f, _add(a_f, _mul(p_f, c_prev))), (f, sigmoid(ah_f)),
               (ah_i, _add(a_i, _mul(p_i, c_prev))), (i, sigmoid(ah_i)), (g, sp.tanh(a_c)),
               (c, _add(_mul(f, c_prev), _mul(i, g))), (ah_o, _add(a_o, _mul(p_o, c))),
               (o, sigmoid(ah_o)), (h, _mul(o, sp.tanh(c))))
        gates = ((f, ah_f), (i, ah_i), (o, ah_o))
        one = sp.S.One
        peep = ((ah_f, a_f, one), (ah_f, c_prev, p_f), (ah_f, p_f, c_prev),
                (ah_i, a_i, one), (ah_i, c_prev, p_i), (ah_i, p_i, c_prev),
                (ah_o, a_o, one), (ah_o, c, p_o), (ah_o, p_o, c))
    # The textbook forms, only to check what SymPy derives (see `derive_cell`).
    book = tuple((gate, pre, gate * (1 - gate)) for gate, pre in gates) + (
        (g, a_c, 1 - g**2), (c, f, c_prev), (c, i, g), (c, g, i), (c, c_prev, f),
        (h, o, sp.tanh(c)), (h, c, o * (1 - sp.tanh(c) ** 2))) + peep
    elem = (p_f, p_i, p_o) if peephole else ()
    return CellSpec(name, title, lin, eqs, elem, True, book)


def _gru():
    lin = (Linear(a_r, "W_r", "b_r", "z"), Linear(a_z, "W_z", "b_z", "z"),
           Linear(a_nx, "W_nx", "b_nx", "x"), Linear(a_nh, "W_nh", "b_nh", "h"))
    eqs = ((r, sigmoid(a_r)), (u, sigmoid(a_z)), (a_n, _add(a_nx, _mul(r, a_nh))),
           (n, sp.tanh(a_n)), (h, _add(_mul(_add(1, -u), n), _mul(u, h_prev))))
    book = ((r, a_r, r * (1 - r)), (u, a_z, u * (1 - u)), (a_n, a_nx, sp.S.One),
            (a_n, r, a_nh), (a_n, a_nh, r), (n, a_n, 1 - n**2), (h, u, h_prev - n),
            (h, n, 1 - u), (h, h_prev, u))
    return CellSpec("gru", "GRU (PyTorch convention)", lin, eqs, (), False, book)


def _rnn():
    lin = (Linear(a, "W", "b", "z"),)
    return CellSpec("rnn", "Elman RNN", lin, ((h, sp.tanh(a)),), (), False,
                    ((h, a, 1 - h**2),))


CELL_NAMES = ("rnn", "lstm", "gru", "peephole")


def cell_spec(name: str) -> CellSpec:
    """The per-unit specification of `rnn`, `lstm`, `gru` or `peephole`."""
    if name == "rnn":
        return _rnn()
    if name == "lstm":
        return _lstm_like("lstm", "LSTM", peephole=False)
    if name == "peephole":
        return _lstm_like("peephole", "Peephole LSTM (Gers & Schmidhuber)", peephole=True)
    if name == "gru":
        return _gru()
    raise ValueError(f"unknown cell {name!r}; choose one of {', '.join(CELL_NAMES)}")


# ------------------------------------------------------------------------------------------
# Derivation: local derivatives, Greff-style deltas, expanded closed forms
# ------------------------------------------------------------------------------------------


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

    def _repr_latex_(self) -> str:
        from rnn.symbolic.report import derivation_latex

        return "$$" + derivation_latex(self) + "$$"

    def __str__(self) -> str:
        from rnn.symbolic.report import derivation_pretty

        return derivation_pretty(self)


def _parents(expr: sp.Expr, order: dict) -> list[Var]:
    return sorted((s for s in expr.free_symbols if s in order), key=order.__getitem__)


def derive_cell(name: str, verify: bool = True) -> Derivation:
    """Derive local derivatives, Greff-style deltas and closed forms for one cell (uncached)."""
    spec = cell_spec(name)
    equations = [(v, evaluated(e)) for v, e in spec.equations]
    order = {v: k for k, v in enumerate(spec.leaves + tuple(v for v, _ in equations))}
    # Gate outputs replace the function applications they stand for: σ(a_f) -> f_t.
    rewrite = {e: v for v, e in equations if isinstance(e, sp.Function)}
    book = {(node, wrt): e for node, wrt, e in spec.textbook}

    local: dict[tuple[Var, Var], sp.Expr] = {}
    checks = []
    consumers = defaultdict(list)
    for node, expr in equations:
        for parent in _parents(expr, order):
            d = sp.diff(expr, parent).xreplace(rewrite)
            local[node, parent] = d
            consumers[parent].append(node)
            expected = book.get((node, parent))
            ok = bool(verify and expected is not None and sp.simplify(d - expected) == 0)
            checks.append(LocalDerivative(node, parent, d, expected, ok))

    # Reverse mode over the unit's equations; h_t's delta is the upstream input δh_t.
    seeds = {c: dc_next} if spec.has_cell_state else {}
    chain, closed = [], {h: dh}
    for v in [v for v, _ in reversed(equations)] + list(spec.leaves):
        if v == h:
            continue
        terms = [delta(k) * local[k, v] for k in consumers[v]] + [seeds.get(v, 0)]
        expr = sp.Add(*terms)
        chain.append((delta(v), expr))
        closed[v] = expr.xreplace({delta(k): closed[k] for k in consumers[v]})

    extra = []
    if spec.has_cell_state:
        # Along the cell state only (δh_t = 0, δc_t⁺ = 1): the diagonal Jacobian ∂c_t/∂c_{t-1}.
        jac = closed[c_prev].xreplace({dh: 0, dc_next: 1})
        expected = f + (p_f * f * (1 - f) * c_prev + p_i * i * (1 - i) * g
                        if spec.elementwise else 0)
        ok = bool(verify and sp.simplify(jac - expected) == 0)
        extra.append((r"\frac{\partial c_t}{\partial c_{t-1}}\Big\vert_{\mathrm{cell}}",
                      "∂cₜ/∂cₜ₋₁ (cell path)", jac, expected, ok))
    closed = {v: e for v, e in closed.items() if v != h}
    return Derivation(spec, equations, checks, chain, closed, extra)


@functools.cache
def derivation(name: str) -> Derivation:
    """The derivation of `name`, computed once per process."""
    return derive_cell(name)
