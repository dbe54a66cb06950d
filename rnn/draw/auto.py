"""Module figures drawn from a cell's traced equations, for cells that have no hand-drawn figure.

The visual language is the hand-drawn figures': a product of the input followed by σ, tanh (or
relu) is a yellow layer box, every other operation a pink circle (×, +, 1−, tanh), lines that
merge at a dot are a concatenation, x_t enters from below, h_t leaves upwards, and each state
enters and leaves as a labelled line. Graphviz's `dot` lays the figure out (the hand-drawn ones
are pinned to a grid); the equations, printed from the same trace, go underneath.
"""

from __future__ import annotations

import re
from functools import partial

import graphviz
import sympy as sp

from rnn.cells import cell_names
from rnn.draw.concepts import CONCEPT_DIAGRAMS, STEPPED, Kit
from rnn.draw.labels import SIGMA, TILDE, sub
from rnn.draw.style import MODULE_FILL, MODULE_LINE, digraph
from rnn.symbolic.core import latex_of, relu, sigmoid
from rnn.symbolic.trace import CellSpec, Linear, cell_spec, state_out, state_prev

# The cells whose module is drawn by hand (rnn.draw.layouts), and the figure's name.
HAND_DRAWN = {"rnn": "rnn-module", "lstm": "lstm-module", "gru": "gru", "peephole": "peephole"}
_DASHED = {"style": "dashed", "penwidth": "1.3"}
_SOURCE_NAMES = {"h_prev": f"h{sub('', 't−1')}", "x": f"x{sub('', 't')}"}
ACTIVATIONS = {sigmoid: SIGMA, sp.tanh: "tanh", relu: "relu"}  # function -> its label


def symbol_html(v) -> str:
    """A symbol as an HTML label: f_t -> f<sub>t</sub>, \\tilde{h}_t -> h&#771;<sub>t</sub>."""
    if v == "x":
        return sub("x", "t")
    latex = latex_of(v)
    m = re.fullmatch(r"(?:\\(tilde|hat)\{(\w+)\}|(\w+?))(?:_\{?([\w\-]+)\}?)?", latex)
    if m is None:
        return v.name
    mark, marked, plain, index = m.groups()
    base = marked + (TILDE if mark == "tilde" else "&#770;") if mark else plain
    return sub(base, index.replace("t-1", "t−1")) if index else base


class _Figure:
    """Builds one module: a node per operation of the traced equations, shared where reused."""

    def __init__(self, spec: CellSpec, graph: graphviz.Digraph, frame: graphviz.Digraph):
        self.spec, self.graph, self.frame = spec, graph, frame
        self.kit = Kit(graph)
        self.linear = {lin.leaf: lin for lin in spec.linear}
        self.equations = dict(spec.equations)
        self.params = set(spec.elementwise)
        self.nodes: dict = {}  # symbol or sub-expression -> node name
        self.count = 0

    def new(self, kind: str, label: str = "", outside: bool = False) -> str:
        self.count += 1
        name = f"m0_n{self.count}"
        self.kit.node(self.graph if outside else self.frame, name, kind, label)
        return name

    def link(self, tail: str, head: str, dashed: bool = False, arrow: bool = True) -> None:
        self.kit.edge(tail, head, arrow, **(_DASHED if dashed else {}))

    def source(self, lin: Linear) -> str:
        """The point where the parts a product reads are concatenated (or the one part)."""
        key = ("source", lin.parts)
        if key not in self.nodes:
            parts = [self.value(p) for p in lin.parts]
            if len(parts) == 1:
                self.nodes[key] = parts[0]
            else:
                point = self.new("point")
                for p in parts:
                    self.link(p, point, arrow=False)
                self.nodes[key] = point
        return self.nodes[key]

    def value(self, expr) -> str:
        """The node whose output line carries `expr`."""
        if expr in self.nodes:
            return self.nodes[expr]
        if expr in self.equations:
            node = self.value(self.equations[expr])
        elif expr in self.linear:  # a product used other than inside an activation
            node = self.new("layer", symbol_html(sp.Symbol(self.linear[expr].weight)))
            self.link(self.source(self.linear[expr]), node)
        elif expr.func in ACTIVATIONS:
            node = self.activation(expr)
        elif expr.is_Add and len(expr.args) == 2 and sp.S.One in expr.args:
            node = self.new("op_wide", "1−")  # 1 - z
            self.link(self.value(-(expr - 1)), node)
        elif expr.is_Add or expr.is_Mul:
            node = self.new("op", "+" if expr.is_Add else "×")
            for arg in expr.args:
                if arg not in self.params and not arg.is_Number:
                    self.link(self.value(arg), node)
        else:
            raise ValueError(f"no drawing for {expr}")
        self.nodes[expr] = node
        return node

    def activation(self, expr) -> str:
        """σ, tanh or relu: a layer box when it squashes a product (plus pointwise extras,
        drawn dashed, as the peephole lines), a pointwise circle otherwise."""
        label = ACTIVATIONS[expr.func]
        arg = expr.args[0]
        inner = self.equations.get(arg, arg)
        terms = inner.args if inner.is_Add else (inner,)
        products = [t for t in terms if t in self.linear]
        if len(products) != 1:
            node = self.new("op_wide", label)
            self.link(self.value(arg), node)
            return node
        node = self.new("layer", label)
        self.link(self.source(self.linear[products[0]]), node)
        for t in terms:
            if t is not products[0]:
                extras = [a for a in (t.args if t.is_Mul else (t,)) if a not in self.params]
                for a in extras:
                    self.link(self.value(a), node, dashed=True)
        return node


def module_figure(cell) -> graphviz.Digraph:
    """One module of any registered cell, drawn from its traced equations."""
    spec = cell_spec(cell)
    graph = digraph(f"{spec.name}_module", caption=equations_html(spec), rankdir="BT",
                    nodesep="0.35", ranksep="0.35", newrank="true")
    frame = graphviz.Digraph("cluster_m0")
    frame.attr(style="rounded,filled", fillcolor=MODULE_FILL, color=MODULE_LINE, penwidth="2",
               label="", margin="14")
    fig = _Figure(spec, graph, frame)
    fig.nodes["x"] = fig.new("input", sub("x", "t"), outside=True)
    for s in spec.states:
        fig.nodes[state_prev(s)] = fig.new("text", sub(s, "t−1"), outside=True)
    outs = [fig.value(state_out(s)) for s in spec.states]
    for s, node in zip(spec.states, outs):
        fig.link(node, fig.new("text", sub(s, "t"), outside=True))
    fig.link(outs[0], fig.new("output", sub("h", "t"), outside=True))
    graph.subgraph(frame)
    return graph


def equations_html(spec: CellSpec) -> list[str]:
    """The cell's equations as HTML lines, products written out:
    f_t = σ(W_f·[h_{t−1}, x_t] + b_f)."""
    return [f"{symbol_html(v)} = {_expr_html(e, spec)}" for v, e in spec.equations]


def _expr_html(e, spec: CellSpec, top: bool = True) -> str:
    linear = {lin.leaf: lin for lin in spec.linear}
    if e in linear:
        lin = linear[e]
        parts = ", ".join(_SOURCE_NAMES.get(getattr(p, "name", p), None) or symbol_html(p)
                          for p in lin.parts)
        src = f"[{parts}]" if len(lin.parts) > 1 else parts
        text = f"{symbol_html(sp.Symbol(lin.weight))}·{src}"
        return text + (f" + {symbol_html(sp.Symbol(lin.bias))}" if lin.bias else "")
    if isinstance(e, sp.Symbol):
        return symbol_html(e)
    if e.is_Number:
        return str(e)
    if e.func in ACTIVATIONS:
        return f"{ACTIVATIONS[e.func]}({_expr_html(e.args[0], spec)})"
    if e.is_Add:
        text = _expr_html(e.args[0], spec, False)
        for a in e.args[1:]:
            negative = a.is_Mul and a.args[0] == -1
            a = sp.Mul(*a.args[1:]) if negative else a
            text += f" {'−' if negative else '+'} {_expr_html(a, spec, False)}"
        return text if top else f"({text})"
    if e.is_Mul:
        if len(e.args) == 2 and e.args[0] == -1:
            return f"−{_expr_html(e.args[1], spec, False)}"
        return " * ".join(_expr_html(a, spec, False) for a in e.args)
    return str(e)


def figures() -> dict:
    """Every figure by name: the concept diagrams, then a module figure for each registered
    cell that has no hand-drawn one (drawn under the cell's name: `rnn-lab draw mgu`)."""
    auto = {name: partial(module_figure, name) for name in cell_names()
            if name not in HAND_DRAWN and name not in CONCEPT_DIAGRAMS}
    return {**CONCEPT_DIAGRAMS, **auto}


def diagram(name: str, steps: int | None = None) -> graphviz.Digraph:
    """The figure called `name` (see `figures`), drawn for `steps` steps if it has steps."""
    makers = figures()
    if name not in makers:
        raise ValueError(f"unknown diagram {name!r}; choose from {', '.join(makers)}")
    if steps is None:
        return makers[name]()
    if name not in STEPPED:
        raise ValueError(f"{name} has no steps; steps apply to {', '.join(STEPPED)}")
    return STEPPED[name](steps)


__all__ = ["HAND_DRAWN", "diagram", "equations_html", "figures", "module_figure",
           "symbol_html"]
