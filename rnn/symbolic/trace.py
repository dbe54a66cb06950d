"""Per-unit equations read off a cell's own `forward`: the cell runs once on tiny engine
tensors, and its recorded graph is translated node by node into SymPy.

`[h_{t-1}, x_t] @ W_g + b_g` becomes the unit's pre-activation symbol a_g (a `Linear`);
sigmoid, tanh, exp, relu, `*`, `+`, `-` become their SymPy forms; a node whose label is a name
(`f_t`, `c~_t`, `â_f`) becomes an equation with that symbol, and other nodes are inlined.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import sympy as sp

from autograd_lite.graph import in_creation_order
from autograd_lite.tensor import Tensor
from rnn.cells import cell_class
from rnn.symbolic.core import Var, latex_of, pretty_of, relu, sigmoid

# Symbol names that differ from the label. The candidate cell sorts as g (its letter in
# papers and code) in printed products; the "~" keeps its name apart from a gate a cell
# labels "g_t".
NAMES = {"c~_t": "g_t~"}
_LABEL = re.compile(r"(?P<base>[A-Za-zâ]+)(?P<tilde>~?)(?:_(?P<sub>[A-Za-z0-9]+))?\Z")
_SUBSCRIPT_T = "ₜ"


class SymbolicUnsupported(TypeError):
    """A cell's forward uses something the per-unit derivation cannot express."""


def _var(label: str, name: str | None = None) -> Var:
    """The symbol for a node label: `f_t` -> fₜ, `c~_t` -> c̃ₜ, `â_f` -> â_f, `a_n` -> a_n."""
    m = _LABEL.match(label)
    if m is None:  # (a SYMBOLS entry that is not a name: shown as written)
        return Var(name or label, label, label)
    base, tilde, sub = m["base"], m["tilde"], m["sub"]
    latex = r"\hat{a}" if base == "â" else base
    pretty = base
    if tilde:
        latex, pretty = rf"\tilde{{{latex}}}", pretty + "\u0303"
    if sub == "t":
        latex, pretty = latex + "_t", pretty + _SUBSCRIPT_T
    elif sub:
        latex, pretty = latex + f"_{{{sub}}}", pretty + f"_{sub}"
    if name is None:
        name = label.replace("~", "tilde").replace("â", "ahat")
    return Var(name, latex, pretty)


def is_name(label) -> bool:
    """Whether a node label names a variable (and so becomes an equation)."""
    return isinstance(label, str) and _LABEL.match(label) is not None


def state_prev(s: str) -> Var:
    """The previous value of state `s` read by one unit: h_prev is hₜ₋₁."""
    return Var(f"{s}_prev", f"{s}_{{t-1}}", f"{s}ₜ₋₁")


def state_out(s: str) -> Var:
    """The new value of state `s`: h_t."""
    return Var(f"{s}_t", f"{s}_t", f"{s}{_SUBSCRIPT_T}")


def state_next_delta(s: str) -> Var:
    """∂L/∂s_t arriving from step t+1, for a state other than h (δcₜ⁺)."""
    return Var(f"D{s}_next", rf"\delta {s}_t^{{+}}", f"δ{s}ₜ⁺")


def source_delta(v: Var) -> Var:
    """∂L/∂v arriving through a matrix product that reads v (vector level)."""
    return Var(f"D{v.name}_in", rf"\delta {latex_of(v)}^{{\mathrm{{in}}}}",
               f"δ{pretty_of(v)}(in)")


@dataclass(frozen=True)
class Linear:
    """A per-unit input made by a matrix product: `leaf = [parts] @ weight + bias`.

    `parts` are what the product reads, concatenated: "x" (the input x_t) or per-unit
    symbols (h_prev, or an equation such as MGU's f_t * h_{t-1})."""

    leaf: Var
    weight: str
    bias: str | None
    parts: tuple

    @property
    def source(self) -> str:
        """"z" for [h_{t-1}, x_t], "x", "h" for h_{t-1}, else "other"."""
        names = tuple(p if p == "x" else p.name for p in self.parts)
        return {("h_prev", "x"): "z", ("x",): "x", ("h_prev",): "h"}.get(names, "other")


@dataclass(frozen=True)
class CellSpec:
    """One cell as per-unit equations, and how its inputs come from matrix products."""

    name: str
    title: str
    states: tuple[str, ...]
    linear: tuple[Linear, ...]
    equations: tuple[tuple[Var, sp.Expr], ...]  # (node, expression), in forward order;
    # the expressions are unevaluated (for display): use `Derivation.equations` for math.
    elementwise: tuple[Var, ...] = ()  # per-unit parameters (peephole weights)

    @property
    def has_cell_state(self) -> bool:
        """Whether the cell carries a second state (c) besides h."""
        return len(self.states) > 1

    @property
    def state_leaves(self) -> tuple[Var, ...]:
        """The previous states a unit reads directly (not through a matrix product)."""
        used = set().union(*(e.free_symbols for _, e in self.equations))
        return tuple(v for v in map(state_prev, self.states) if v in used)

    @property
    def leaves(self) -> tuple[Var, ...]:
        """Every per-unit input: affine parts, previous states, elementwise parameters."""
        return tuple(lin.leaf for lin in self.linear) + self.state_leaves + self.elementwise

    @property
    def source_parts(self) -> tuple[Var, ...]:
        """Equation symbols that a matrix product reads (their delta comes from it)."""
        eqs = {v for v, _ in self.equations}
        return tuple(dict.fromkeys(p for lin in self.linear for p in lin.parts if p in eqs))


def _mul(*args):
    # Unevaluated, so equations print in the order papers write them (f_t c_{t-1}).
    return sp.Mul(*args, evaluate=False)


def _add(*args):
    return sp.Add(*args, evaluate=False)


_UNARY = {"sigmoid": sigmoid, "tanh": sp.tanh, "exp": sp.exp, "relu": relu}


class _Tracer:
    """Translates one traced forward pass into a CellSpec."""

    def __init__(self, cls):
        self.cls = cls
        self.where = f"cell {cls.name!r} ({cls.__name__})"
        self.memo: dict[int, object] = {}
        self.linear: list[Linear] = []
        self.equations: list[tuple[Var, sp.Expr]] = []
        self.elementwise: dict[str, Var] = {}
        self.biases: set[str] = set()

    def spec(self, D: int = 3, H: int = 2) -> CellSpec:
        cls = self.cls
        cell = cls(D, H, dtype=np.float64, rng=0)
        self.x = Tensor(np.zeros((1, D)), requires_grad=True, label="x_t")
        prev = [Tensor(np.zeros((1, H)), requires_grad=True, label=f"{s}_prev")
                for s in cls.STATE]
        self.leaves = {id(t): state_prev(s) for t, s in zip(prev, cls.STATE)}
        out = cell(self.x, prev[0] if len(prev) == 1 else tuple(prev))
        outs = out if isinstance(out, tuple) else (out,)
        if len(outs) != len(cls.STATE):
            raise SymbolicUnsupported(f"{self.where}: forward returned {len(outs)} values for "
                                      f"the {len(cls.STATE)} states {cls.STATE}")
        # Visit in creation order, so equations come out in the order forward wrote them.
        for node in in_creation_order(outs):
            self._translate(node)
        for s, node in zip(cls.STATE, outs):
            self._output(s, node)
        return CellSpec(cls.name, cls.title, tuple(cls.STATE), tuple(self.linear),
                        tuple(self.equations),
                        tuple(v for k, v in self.elementwise.items() if k not in self.biases))

    def _output(self, s: str, node: Tensor) -> None:
        target = state_out(s)
        value = self.memo[id(node)]
        if value != target:  # an unlabelled output: make it the state's equation
            self._check_per_unit(value, node)
            self.equations.append((target, value))

    def _fail(self, node: Tensor, why: str):
        raise SymbolicUnsupported(
            f"{self.where}: {why} (node {node.op or 'leaf'} {node.label or ''!s}, shape "
            f"{tuple(node.shape)}); the symbolic derivation cannot express it, but the engine "
            f"path (training, gradcheck) still works")

    def _check_per_unit(self, value, node) -> None:
        if not isinstance(value, sp.Expr):
            self._fail(node, "a matrix or concatenation is used where a per-unit value is "
                             "needed")

    def _translate(self, node: Tensor):
        value = self._value(node)
        linear_leaf = any(value == lin.leaf for lin in self.linear)
        if (node.op is not None and is_name(node.label) and isinstance(value, sp.Expr)
                and not linear_leaf):
            label = self.cls.SYMBOLS.get(node.label, node.label)
            sym = _var(label, NAMES.get(label))
            self.equations.append((sym, value))
            value = sym
        self.memo[id(node)] = value
        return value

    def _arg(self, node: Tensor, k: int):
        return self.memo[id(node.parents[k])]

    def _value(self, node: Tensor):
        if id(node) in self.leaves:
            return self.leaves[id(node)]
        if node is self.x:
            return "x"
        if node.op is None:
            return self._leaf(node)
        op = node.op
        if op == "concat":
            return self._concat(node)
        if op == "matmul":
            return self._matmul(node)
        if op == "add":
            return self._add(node)
        args = [self._arg(node, k) for k in range(len(node.parents))]
        for a, p in zip(args, node.parents):
            self._check_per_unit(a, p)
        if op == "sub":
            return _add(args[0], -args[1])
        if op == "mul":
            return _mul(*args)
        if op == "neg":
            return -args[0]
        if op in _UNARY:
            return _UNARY[op](args[0])
        self._fail(node, f"op {op!r} has no per-unit SymPy form")

    def _leaf(self, node: Tensor):
        if node.is_parameter:
            name = node.label
            if node.ndim == 2:
                return ("W", name)
            v = self.elementwise.get(name)
            if v is None:
                m = re.match(r"([A-Za-z]+)_(\w+)\Z", name)
                latex = f"{m[1]}_{{{m[2]}}}" if m else name
                v = self.elementwise[name] = Var(name, latex, name)
            return v
        values = np.unique(node.data)
        if values.size != 1:
            self._fail(node, "a constant array that is not one repeated number")
        number = float(values[0])
        return sp.Integer(int(number)) if number.is_integer() else sp.Float(number)

    def _concat(self, node: Tensor):
        parts = []
        for k, p in enumerate(node.parents):
            value = self._arg(node, k)
            if value != "x" and not isinstance(value, Var):
                self._fail(node, "a matrix product reads a part that is not x_t, a state or "
                                 "a labelled node")
            parts.append(value)
        return ("concat", tuple(parts))

    def _matmul(self, node: Tensor):
        src, weight = self._arg(node, 0), self._arg(node, 1)
        if not (isinstance(weight, tuple) and weight[0] == "W"):
            self._fail(node, "the right operand of a product must be a weight matrix")
        if isinstance(src, tuple) and src[0] == "concat":
            parts = src[1]
        elif src == "x" or isinstance(src, Var):
            parts = (src,)
        else:
            self._fail(node, "a product reads something other than x_t, a state or a "
                             "concatenation of them")
        name = weight[1]
        _, _, suffix = name.partition("_")
        leaf = Var(f"a_{suffix}", f"a_{{{suffix}}}", f"a_{suffix}") if suffix else \
            Var("a", "a_t", "aₜ")
        self.linear.append(Linear(leaf, name, None, parts))
        return leaf

    def _terms(self, node: Tensor) -> list:
        """The terms of a chain of unlabelled additions, in order."""
        if node.op == "add" and not is_name(node.label):
            return [t for p in node.parents for t in self._terms(p)]
        return [self.memo[id(node)]]

    def _add(self, node: Tensor):
        """A sum; `product + bias` in it becomes the product's Linear (its pre-activation)."""
        terms = [t for p in node.parents for t in self._terms(p)]
        for k, lin in enumerate(self.linear):
            if lin.leaf not in terms:
                continue
            if lin.bias is None:  # the first bare vector parameter is this product's bias
                bias = next((t for t in terms if isinstance(t, Var) and t.name in
                             self.elementwise and t.name not in self.biases), None)
                if bias is None:
                    continue
                self.linear[k] = Linear(lin.leaf, lin.weight, bias.name, lin.parts)
                self.biases.add(bias.name)
            bias = self.elementwise[self.linear[k].bias]
            if bias in terms:  # (attached already, or just now): the product carries it
                terms.remove(bias)
        for t in terms:
            if not isinstance(t, sp.Expr):
                self._fail(node, "a matrix or concatenation is added to a per-unit value")
        return terms[0] if len(terms) == 1 else _add(*terms)


def cell_spec(name) -> CellSpec:
    """The per-unit specification of a registered cell, traced from its forward."""
    return _spec(cell_class(name))


@functools.cache
def _spec(cls) -> CellSpec:
    # Cached by class, so a cell defined again (a re-run notebook cell) is traced again.
    if len(cls.STATE) > 2:
        raise SymbolicUnsupported(f"cell {cls.name!r}: the symbolic derivation handles cells "
                                  f"with h and at most one more state, not {cls.STATE}")
    return _Tracer(cls).spec()
