"""The concept diagrams of colah's "Understanding LSTM Networks": the RNN folded and unrolled, the
repeating modules of the RNN, LSTM, GRU and peephole LSTM, the walk-through's steps, the cell
state, a gate and the legend. Each function returns a `graphviz.Digraph`.
"""

from __future__ import annotations

import itertools
from functools import partial

import graphviz

from rnn.draw import layouts
from rnn.draw.labels import html, sub, time_subscript
from rnn.draw.layouts import LSTM_STEPS, UNIT_X, UNIT_Y, Cell
from rnn.draw.style import (
    GREY,
    GREY_FILL,
    GREY_TEXT,
    HIGHLIGHT,
    INPUT_FILL,
    INPUT_LINE,
    LAYER_FILL,
    LAYER_LINE,
    LINE,
    MODULE_FILL,
    MODULE_LINE,
    OP_FILL,
    OP_LINE,
    OUTPUT_FILL,
    OUTPUT_LINE,
    digraph,
)

# ---- drawing kit -----------------------------------------------------------------------------

_KINDS = {
    "layer": dict(shape="box", style="filled", fillcolor=LAYER_FILL, color=LAYER_LINE,
                  width="0.55", height="0.38", margin="0.06,0.04"),
    "op": dict(shape="circle", style="filled", fillcolor=OP_FILL, color=OP_LINE,
               width="0.34", fixedsize="true"),
    "op_wide": dict(shape="ellipse", style="filled", fillcolor=OP_FILL, color=OP_LINE,
                    width="0.34", height="0.34", margin="0.03,0.02"),
    "point": dict(shape="point", width="0.03", color=LINE),
    "end": dict(shape="point", style="invis", width="0"),  # where a line starts or stops
    "module": dict(shape="box", style="rounded,filled", fillcolor=MODULE_FILL, color=MODULE_LINE,
                   width="0.9", height="0.7", fontsize="18", penwidth="2"),
    "input": dict(shape="circle", style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE,
                  width="0.5", fixedsize="true"),
    "output": dict(shape="circle", style="filled", fillcolor=OUTPUT_FILL, color=OUTPUT_LINE,
                   width="0.5", fixedsize="true"),
    "text": dict(shape="plaintext", margin="0.04"),
}


class Kit:
    """Adds nodes and lines in the palette; when `lit` is given, parts outside it are greyed."""

    def __init__(self, graph: graphviz.Digraph, lit: frozenset | None = None):
        self.graph, self.lit = graph, lit

    def node(self, where, name, kind, label="", **attrs):
        """Add node `name` drawn as `kind` (see _KINDS) to `where`, the graph or a cluster."""
        style = dict(_KINDS[kind])
        if self.lit is not None and part(name) in self.lit:
            style.update(color=HIGHLIGHT, penwidth="2.5")
        elif self.lit is not None:
            style.update(color=GREY, fontcolor=GREY_TEXT)
            if "fillcolor" in style:
                style["fillcolor"] = GREY_FILL
        style.update(attrs)
        where.node(name, label=html(label) if label else "", **style)

    def edge(self, tail, head, arrow=True, **attrs):
        """A line from `tail` to `head`; arrow=False for a line that goes on past `head`."""
        style = {} if arrow else {"arrowhead": "none"}
        if self.lit is not None and {part(tail), part(head)} <= self.lit:
            style.update(color=HIGHLIGHT, penwidth="2.5")
        elif self.lit is not None:
            style.update(color=GREY)
        self.graph.edge(tail, head, **{**style, **attrs})


def part(name: str) -> str:
    """The part a node plays, shared by every module: 'm2_sig_f' -> 'sig_f'."""
    return name.split("_", 1)[1]


def check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return steps


def _pin(col, row) -> dict:
    """Graphviz attributes that pin a node at grid column `col`, row `row`."""
    return {"pos": f"{col * UNIT_X:.3f},{row * UNIT_Y:.3f}!"}


def _modules(steps: int) -> list[tuple[str, int]]:
    """Module node prefixes and time offsets centred on t: 3 steps are t−1, t, t+1."""
    return [(f"m{k}", k - steps // 2) for k in range(check_steps(steps))]


# ---- the RNN, folded and unrolled ------------------------------------------------------------


def folded_rnn() -> graphviz.Digraph:
    """The RNN folded: x_t goes into A, h_t comes out, and A feeds itself through a loop."""
    graph = digraph("folded_rnn", rankdir="BT")
    kit = Kit(graph)
    kit.node(graph, "m0_x", "input", sub("x", "t"))
    kit.node(graph, "m0_A", "module", "A")
    kit.node(graph, "m0_h", "output", sub("h", "t"))
    kit.edge("m0_x", "m0_A")
    kit.edge("m0_A", "m0_h")
    kit.edge("m0_A", "m0_A")
    return graph


def unrolled_rnn(steps: int = 4) -> graphviz.Digraph:
    """The same RNN unrolled for `steps` time steps: one copy of A per step, each a cluster."""
    graph = digraph("unrolled_rnn", rankdir="BT", newrank="true", nodesep="0.5")
    kit = Kit(graph)
    for t in range(check_steps(steps)):
        step = graphviz.Digraph(f"cluster_t{t}")
        step.attr(style="invis", margin="4")
        kit.node(step, f"m{t}_x", "input", sub("x", t))
        kit.node(step, f"m{t}_A", "module", "A")
        kit.node(step, f"m{t}_h", "output", sub("h", t))
        graph.subgraph(step)
        kit.edge(f"m{t}_x", f"m{t}_A")
        kit.edge(f"m{t}_A", f"m{t}_h")
        if t:
            kit.edge(f"m{t - 1}_A", f"m{t}_A")
    # one row of A's: newrank lets rank=same reach into the clusters
    graph.body.append("\t{rank=same; " + "; ".join(f"m{t}_A" for t in range(steps)) + "}\n")
    return graph


# ---- repeating modules -----------------------------------------------------------------------


def _cells(name: str, cell: Cell, steps: int, lit=None, caption=(), box=True):
    """Draw `steps` copies of `cell` side by side, the states flowing left to right."""
    graph = digraph(name, caption, layout="neato", splines="line")
    kit = Kit(graph, None if lit is None else frozenset(lit))
    names = _modules(steps)
    inside = {p: v for p, v in cell.nodes.items() if v[0] not in ("input", "output")}
    left = min(col for _, _, col, _ in inside.values())
    right = max(col for _, _, col, _ in inside.values())
    bottom = min(row for _, _, _, row in inside.values())
    top = max(row for _, _, _, row in inside.values())
    width = right - left + 1.6  # from one module to the next, in columns
    for k, (m, offset) in enumerate(names):
        frame = graphviz.Digraph(f"cluster_{m}")
        frame.attr(style="rounded,filled" if box else "invis", fillcolor=MODULE_FILL,
                   color=MODULE_LINE, penwidth="2", label="")
        # two invisible corners give the box its margin
        for corner, (col, row) in (("lo", (left - 0.45, bottom - 0.5)),
                                   ("hi", (right + 0.45, top + 0.45))):
            frame.node(f"{m}_box_{corner}", label="", shape="point", style="invis", width="0",
                       **_pin(col + k * width, row))
        for role, (kind, label, col, row) in cell.nodes.items():
            where = frame if role in inside else graph
            if role not in inside:
                label = sub(label, time_subscript(offset))
            kit.node(where, f"{m}_{role}", kind, label, **_pin(col + k * width, row))
        graph.subgraph(frame)
        for tail, head, arrow, *extra in cell.edges:
            kit.edge(f"{m}_{tail}", f"{m}_{head}", arrow, **(extra[0] if extra else {}))
    for var, first, last, arrow in cell.chains:
        row = cell.nodes[first][3]
        kit.node(graph, f"io_{var}_prev", "text", sub(var, time_subscript(names[0][1] - 1)),
                 **_pin(left - 1.3, row))
        kit.node(graph, f"io_{var}_next", "text", sub(var, time_subscript(names[-1][1])),
                 **_pin(right + 1.3 + (steps - 1) * width, row))
        kit.edge(f"io_{var}_prev", f"{names[0][0]}_{first}", arrow)
        for (a, _), (b, _) in itertools.pairwise(names):
            kit.edge(f"{a}_{last}", f"{b}_{first}", arrow)
        kit.edge(f"{names[-1][0]}_{last}", f"io_{var}_next")
    return graph


def rnn_module(steps: int = 3) -> graphviz.Digraph:
    """The repeating module of a plain RNN: a single tanh layer inside each A."""
    return _cells("rnn_module", layouts.RNN, steps)


def lstm_module(steps: int = 3, highlight: str | None = None) -> graphviz.Digraph:
    """The LSTM's repeating module, `steps` in a row; `highlight` is one of LSTM_STEPS."""
    if highlight is None:
        return _cells("lstm_module", layouts.LSTM, steps)
    if highlight not in LSTM_STEPS:
        raise ValueError(f"highlight must be one of {', '.join(LSTM_STEPS)}, got {highlight!r}")
    lit, caption = LSTM_STEPS[highlight]
    return _cells(f"lstm_{highlight}", layouts.LSTM, steps, lit=lit, caption=caption)


def lstm_step(step: str) -> graphviz.Digraph:
    """One LSTM module with one step (forget, input, update, output) highlighted."""
    return lstm_module(steps=1, highlight=step)


def peephole_module(steps: int = 1) -> graphviz.Digraph:
    """The peephole LSTM: the three gates also read the cell state (dashed lines)."""
    return _cells("peephole_module", layouts.PEEPHOLE, steps,
                  caption=layouts.PEEPHOLE_EQUATIONS)


def gru_module(steps: int = 1) -> graphviz.Digraph:
    """The GRU as `GRUCell` computes it (PyTorch's convention): reset gate r_t, update gate z_t,
    candidate n_t, and h_t = (1 − z_t) * n_t + z_t * h_{t-1}."""
    return _cells("gru_module", layouts.GRU, steps, caption=layouts.GRU_EQUATIONS)


def cell_state() -> graphviz.Digraph:
    """The cell state alone: c_{t-1} passes a multiply and an add on its way to c_t."""
    return _cells("cell_state", layouts.CELL_STATE, 1)


def gate() -> graphviz.Digraph:
    """A gate: a sigmoid layer and a pointwise multiply that lets through 0 to all of a line."""
    return _cells("gate", layouts.GATE, 1, box=False)


def legend() -> graphviz.Digraph:
    """What the shapes and lines mean: layer, pointwise operation, transfer, concatenate, copy."""
    graph = digraph("legend", layout="neato", splines="line")
    kit = Kit(graph)
    items = [
        ("Neural Network<br/>Layer", {"box": ("layer", "", 0, 0)}, []),
        ("Pointwise<br/>Operation", {"op": ("op", "", 0, 0)}, []),
        ("Vector<br/>Transfer", {"a": ("end", "", -0.6, 0), "b": ("end", "", 0.6, 0)},
         [("a", "b", True)]),
        ("Concatenate",
         {"a": ("end", "", -0.7, 0.45), "b": ("end", "", -0.7, -0.45),
          "m": ("point", "", -0.05, 0), "c": ("end", "", 0.6, 0)},
         [("a", "m", False), ("b", "m", False), ("m", "c", True)]),
        ("Copy",
         {"a": ("end", "", -0.7, 0), "m": ("point", "", -0.05, 0),
          "b": ("end", "", 0.6, 0.45), "c": ("end", "", 0.6, -0.45)},
         [("a", "m", False), ("m", "b", True), ("m", "c", True)]),
    ]
    for k, (text, nodes, edges) in enumerate(items):
        item = graphviz.Digraph(f"cluster_item{k}")
        item.attr(style="invis")
        x = k * 2.1
        for role, (kind, label, col, row) in [*nodes.items(), ("text", ("text", text, 0, -1.5))]:
            top = {"labelloc": "t", "height": "0.5"} if kind == "text" else {}
            kit.node(item, f"i{k}_{role}", kind, label, **_pin(x + col, row), **top)
        graph.subgraph(item)
        for tail, head, arrow in edges:
            kit.edge(f"i{k}_{tail}", f"i{k}_{head}", arrow)
    return graph


# ---- the catalogue ---------------------------------------------------------------------------

# The concept diagrams by name, in reading order (the order of colah's post).
CONCEPT_DIAGRAMS = {
    "folded": folded_rnn,
    "unrolled": unrolled_rnn,
    "rnn-module": rnn_module,
    "lstm-module": lstm_module,
    "legend": legend,
    "cell-state": cell_state,
    "gate": gate,
    **{step: partial(lstm_step, step) for step in LSTM_STEPS},
    "gru": gru_module,
    "peephole": peephole_module,
}
# The diagrams that take a number of steps (time steps, or modules in a row).
STEPPED = {"unrolled": unrolled_rnn, "rnn-module": rnn_module, "lstm-module": lstm_module,
           "gru": gru_module, "peephole": peephole_module}
