"""Diagrams of recurrent networks in the visual language of colah's "Understanding LSTM Networks",
and the live computation graphs of the autodiff engine, unrolled in time (`computation_graph`).

Every diagram is a function returning a `graphviz.Digraph`; nothing runs Graphviz until `render`.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import math
import shutil
import subprocess
import sys
import unicodedata
import warnings
from functools import partial
from pathlib import Path
from typing import NamedTuple

import graphviz

from rnn.io import output_folder, replacing

# The palette, defined once. Yellow boxes are learned layers, pink circles pointwise operations,
# a green rounded box is one repeating module A, blue and purple circles are inputs x_t and
# outputs h_t, lines are near-black. A highlighted step draws its part in HIGHLIGHT, the rest grey.
LAYER_FILL, LAYER_LINE = "#f6d55c", "#c9a227"
OP_FILL, OP_LINE = "#f4b6c2", "#d1495b"
MODULE_FILL, MODULE_LINE = "#dcefd9", "#5a9e6f"
INPUT_FILL, INPUT_LINE = "#a9d6f5", "#3b8ac4"
OUTPUT_FILL, OUTPUT_LINE = "#dcc6ee", "#8a5cb8"
LINE = "#303030"
HIGHLIGHT = "#1f6fd1"
GREY, GREY_FILL, GREY_TEXT = "#c4c4c4", "#f4f4f4", "#a8a8a8"
FONT = "Helvetica"

FORMATS = ("svg", "png", "pdf", "dot")
MAX_LABEL = 60  # escape_label cuts user text to this many characters
INSTALL_HINT = "install Graphviz (apt-get install graphviz) or pip install pygraphviz"


class GraphvizError(RuntimeError):
    """Graphviz failed to render a diagram."""


class GraphvizNotFound(GraphvizError):
    """Neither the `dot` program nor a Graphviz bundled with pygraphviz is available."""


# ---- labels ----------------------------------------------------------------------------------


def escape_label(text: str, limit: int = MAX_LABEL) -> str:
    """Any text as a fragment of an HTML-like label: escaped, newlines as <br/>, cut to `limit`."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    out = []
    for ch in text:
        if ch == "\n":
            out.append("<br/>")
        elif ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch == "\t":
            out.append(" ")  # Graphviz rejects a label made of tabs alone
        elif _not_xml(ch):
            out.append("\ufffd")  # XML, hence Graphviz, cannot carry control characters
        else:
            out.append(ch)
    return "".join(out) or " "  # never empty: `<>` is a syntax error


# Markup characters become entities. Graphviz still reads backslash escapes in HTML-like labels
# (`\N` shows the node's name, `\\` one backslash), so a backslash is doubled; and `]` alone is a
# syntax error.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
             "\\": "&#92;&#92;", "]": "&#93;"}


def _not_xml(ch: str) -> bool:
    code = ord(ch)
    return (
        code < 0x20
        or 0xD800 <= code <= 0xDFFF  # lone surrogates
        or code in (0xFFFE, 0xFFFF)
        or unicodedata.category(ch) == "Cc"
    )


def _html(fragment: str) -> str:
    return f"<{fragment}>"


def _sub(base: str, sub) -> str:
    return f"{base}<sub>{sub}</sub>"


def _time(offset: int) -> str:
    """The subscript of time step t + offset: t−1, t, t+1."""
    return "t" if offset == 0 else f"t{'+' if offset > 0 else '−'}{abs(offset)}"


SIGMA = "σ"
TILDE = "&#771;"  # a combining tilde: c&#771; is c with a tilde on top


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


def _digraph(name: str, caption=(), **attrs) -> graphviz.Digraph:
    """An empty diagram with graph `attrs`; `caption` lines (HTML fragments) go underneath."""
    graph = graphviz.Digraph(name)
    graph.attr(bgcolor="white", fontname=FONT, **attrs)
    if caption:
        rows = "".join(f"<tr><td>{line}</td></tr>" for line in caption)
        graph.attr(label=_html(f'<table border="0" cellspacing="4">{rows}</table>'),
                   labelloc="b", fontsize="16")
    graph.attr("node", fontname=FONT, fontsize="14", color=LINE, penwidth="1.2")
    graph.attr("edge", color=LINE, penwidth="1.6", arrowsize="0.7")
    return graph


class _Kit:
    """Adds nodes and lines in the palette; when `lit` is given, parts outside it are greyed."""

    def __init__(self, graph: graphviz.Digraph, lit: frozenset | None = None):
        self.graph, self.lit = graph, lit

    def node(self, where, name, kind, label="", **attrs):
        """Add node `name` drawn as `kind` (see _KINDS) to `where`, the graph or a cluster."""
        style = dict(_KINDS[kind])
        if self.lit is not None and _part(name) in self.lit:
            style.update(color=HIGHLIGHT, penwidth="2.5")
        elif self.lit is not None:
            style.update(color=GREY, fontcolor=GREY_TEXT)
            if "fillcolor" in style:
                style["fillcolor"] = GREY_FILL
        style.update(attrs)
        where.node(name, label=_html(label) if label else "", **style)

    def edge(self, tail, head, arrow=True, **attrs):
        """A line from `tail` to `head`; arrow=False for a line that goes on past `head`."""
        style = {} if arrow else {"arrowhead": "none"}
        if self.lit is not None and {_part(tail), _part(head)} <= self.lit:
            style.update(color=HIGHLIGHT, penwidth="2.5")
        elif self.lit is not None:
            style.update(color=GREY)
        self.graph.edge(tail, head, **{**style, **attrs})


def _part(name: str) -> str:
    """The part a node plays, shared by every module: 'm2_sig_f' -> 'sig_f'."""
    return name.split("_", 1)[1]


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return steps


def _modules(steps: int) -> list[tuple[str, int]]:
    """Module node prefixes and time offsets centred on t: 3 steps are t−1, t, t+1."""
    return [(f"m{k}", k - steps // 2) for k in range(_check_steps(steps))]


# ---- the RNN, folded and unrolled ------------------------------------------------------------


def folded_rnn() -> graphviz.Digraph:
    """The RNN folded: x_t goes into A, h_t comes out, and A feeds itself through a loop."""
    graph = _digraph("folded_rnn", rankdir="BT")
    kit = _Kit(graph)
    kit.node(graph, "m0_x", "input", _sub("x", "t"))
    kit.node(graph, "m0_A", "module", "A")
    kit.node(graph, "m0_h", "output", _sub("h", "t"))
    kit.edge("m0_x", "m0_A")
    kit.edge("m0_A", "m0_h")
    kit.edge("m0_A", "m0_A")
    return graph


def unrolled_rnn(steps: int = 4) -> graphviz.Digraph:
    """The same RNN unrolled for `steps` time steps: one copy of A per step, each a cluster."""
    graph = _digraph("unrolled_rnn", rankdir="BT", newrank="true", nodesep="0.5")
    kit = _Kit(graph)
    for t in range(_check_steps(steps)):
        step = graphviz.Digraph(f"cluster_t{t}")
        step.attr(style="invis", margin="4")
        kit.node(step, f"m{t}_x", "input", _sub("x", t))
        kit.node(step, f"m{t}_A", "module", "A")
        kit.node(step, f"m{t}_h", "output", _sub("h", t))
        graph.subgraph(step)
        kit.edge(f"m{t}_x", f"m{t}_A")
        kit.edge(f"m{t}_A", f"m{t}_h")
        if t:
            kit.edge(f"m{t - 1}_A", f"m{t}_A")
    # one row of A's: newrank lets rank=same reach into the clusters
    graph.body.append("\t{rank=same; " + "; ".join(f"m{t}_A" for t in range(steps)) + "}\n")
    return graph


# ---- repeating modules, described as data ----------------------------------------------------

# Modules are drawn on a grid with every node pinned, like colah's hand-drawn figures: lines run
# straight between aligned nodes. The DOT source says `layout=neato`, which `dot` honours.
UNIT_X, UNIT_Y = 0.72, 0.58  # inches per grid column and per grid row


class _Cell(NamedTuple):
    """A repeating module as data.

    nodes: part -> (kind, label, column, row), rows counting upwards from the input line; parts of
    kind input/output sit outside the module box and get the time step as subscript.
    edges: (tail, head, arrow) or (tail, head, arrow, extra attributes).
    chains: (variable, first part, last part, arrow): the line carrying a state from one module to
    the next, with a labelled open end on either side.
    """

    nodes: dict
    edges: list
    chains: list


def _cells(name: str, cell: _Cell, steps: int, lit=None, caption=(), box=True):
    """Draw `steps` copies of `cell` side by side, the states flowing left to right."""
    graph = _digraph(name, caption, layout="neato", splines="line")
    kit = _Kit(graph, None if lit is None else frozenset(lit))
    names = _modules(steps)
    inside = {p: v for p, v in cell.nodes.items() if v[0] not in ("input", "output")}
    left = min(col for _, _, col, _ in inside.values())
    right = max(col for _, _, col, _ in inside.values())
    bottom = min(row for _, _, _, row in inside.values())
    top = max(row for _, _, _, row in inside.values())
    width = right - left + 1.6  # from one module to the next, in columns

    def pin(col, row):
        return {"pos": f"{col * UNIT_X:.3f},{row * UNIT_Y:.3f}!"}

    for k, (m, offset) in enumerate(names):
        frame = graphviz.Digraph(f"cluster_{m}")
        frame.attr(style="rounded,filled" if box else "invis", fillcolor=MODULE_FILL,
                   color=MODULE_LINE, penwidth="2", label="")
        # two invisible corners give the box its margin
        for corner, (col, row) in (("lo", (left - 0.45, bottom - 0.5)),
                                   ("hi", (right + 0.45, top + 0.45))):
            frame.node(f"{m}_box_{corner}", label="", shape="point", style="invis", width="0",
                       **pin(col + k * width, row))
        for part, (kind, label, col, row) in cell.nodes.items():
            where = frame if part in inside else graph
            if part not in inside:
                label = _sub(label, _time(offset))
            kit.node(where, f"{m}_{part}", kind, label, **pin(col + k * width, row))
        graph.subgraph(frame)
        for tail, head, arrow, *extra in cell.edges:
            kit.edge(f"{m}_{tail}", f"{m}_{head}", arrow, **(extra[0] if extra else {}))
    for var, first, last, arrow in cell.chains:
        row = cell.nodes[first][3]
        kit.node(graph, f"io_{var}_prev", "text", _sub(var, _time(names[0][1] - 1)),
                 **pin(left - 1.3, row))
        kit.node(graph, f"io_{var}_next", "text", _sub(var, _time(names[-1][1])),
                 **pin(right + 1.3 + (steps - 1) * width, row))
        kit.edge(f"io_{var}_prev", f"{names[0][0]}_{first}", arrow)
        for (a, _), (b, _) in itertools.pairwise(names):
            kit.edge(f"{a}_{last}", f"{b}_{first}", arrow)
        kit.edge(f"{names[-1][0]}_{last}", f"io_{var}_next")
    return graph


# A plain RNN: [h_{t-1}, x_t] goes up into one tanh layer, whose output is h_t.
_RNN = _Cell(
    nodes={
        "x": ("input", "x", 0, -1.25),
        "cat": ("point", "", 0, 0),
        "j": ("point", "", 0.9, 0),
        "corner": ("point", "", 1.9, 0),
        "tanh": ("layer", "tanh", 0.9, 1),
        "up": ("point", "", 0.9, 2),
        "split": ("point", "", 1.9, 2),
        "h": ("output", "h", 1.9, 3.2),
    },
    edges=[
        ("x", "cat", False), ("cat", "j", False), ("j", "tanh", True), ("tanh", "up", False),
        ("up", "split", False), ("split", "h", True), ("split", "corner", False),
    ],
    chains=[("h", "cat", "corner", False)],
)

# The LSTM as in colah's figure: the cell state c runs along the top, [h_{t-1}, x_t] along the
# bottom, and between them the four layers: forget, input, candidate c~, output.
_LSTM = _Cell(
    nodes={
        "x": ("input", "x", 0, -1.25),
        "cat": ("point", "", 0, 0),
        "j_f": ("point", "", 1, 0),
        "j_i": ("point", "", 2, 0),
        "j_g": ("point", "", 3, 0),
        "j_o": ("point", "", 4, 0),
        "corner": ("point", "", 5, 0),
        "sig_f": ("layer", SIGMA, 1, 1),
        "sig_i": ("layer", SIGMA, 2, 1),
        "tanh_g": ("layer", "tanh", 3, 1),
        "sig_o": ("layer", SIGMA, 4, 1),
        "k_i": ("point", "", 2, 2),
        "mul_i": ("op", "×", 3, 2),
        "mul_o": ("op", "×", 4, 2),
        "split": ("point", "", 5, 2),
        "tanh_c": ("op_wide", "tanh", 4, 3),
        "mul_f": ("op", "×", 1, 4),
        "add": ("op", "+", 3, 4),
        "c_copy": ("point", "", 4, 4),
        "h": ("output", "h", 5, 5.2),
    },
    edges=[
        # [h_{t-1}, x_t] runs along the bottom and is copied up into each layer
        ("x", "cat", False), ("cat", "j_f", False), ("j_f", "j_i", False),
        ("j_i", "j_g", False), ("j_g", "j_o", False),
        ("j_f", "sig_f", True), ("j_i", "sig_i", True), ("j_g", "tanh_g", True),
        ("j_o", "sig_o", True),
        # c_t = f_t * c_{t-1} + i_t * c~_t along the top
        ("sig_f", "mul_f", True), ("sig_i", "k_i", False), ("k_i", "mul_i", True),
        ("tanh_g", "mul_i", True), ("mul_i", "add", True), ("mul_f", "add", True),
        ("add", "c_copy", False),
        # h_t = o_t * tanh(c_t), sent up as the output and right to the next module
        ("c_copy", "tanh_c", True), ("tanh_c", "mul_o", True), ("sig_o", "mul_o", True),
        ("mul_o", "split", False), ("split", "h", True), ("split", "corner", False),
    ],
    chains=[("c", "mul_f", "c_copy", True), ("h", "cat", "corner", False)],
)

# Gers & Schmidhuber's peephole LSTM: the gates also read the cell state (dashed lines).
_PEEP = {"style": "dashed", "penwidth": "1.3"}
_PEEPHOLE = _Cell(
    nodes={**_LSTM.nodes, "peep_f": ("point", "", 0.2, 4), "peep_i": ("point", "", 0.55, 4),
           "peep_o": ("point", "", 4.6, 4)},
    edges=_LSTM.edges + [
        ("peep_f", "peep_i", False), ("peep_i", "mul_f", True), ("c_copy", "peep_o", False),
        ("peep_f", "sig_f", True, {**_PEEP, "headport": "nw"}),
        ("peep_i", "sig_i", True, {**_PEEP, "headport": "nw"}),
        ("peep_o", "sig_o", True, {**_PEEP, "headport": "ne"}),
    ],
    chains=[("c", "peep_f", "peep_o", False), ("h", "cat", "corner", False)],
)

# The GRU in PyTorch's convention, as `rnn.cells.GRUCell` computes it: h runs along the top; the
# reset gate r_t scales the recurrent part of the candidate, W_nh·h_{t-1} + b_nh (the small
# linear layer on the left), and the update gate z_t keeps h_{t-1} where it is near 1 and takes
# the candidate n_t, through 1 − z_t, where it is near 0.
_GRU = _Cell(
    nodes={
        "x": ("input", "x", 0.5, -1.25),
        "xs": ("point", "", 0.5, 0),
        "xg": ("point", "", 3.6, 0),
        "h_down": ("point", "", 0, 1),
        "cat": ("point", "", 0.5, 1),
        "j_r": ("point", "", 1, 1),
        "j_z": ("point", "", 2, 1),
        "k_down": ("point", "", 2.8, 1),
        "cat_g": ("point", "", 3.6, 1),
        "sig_r": ("layer", SIGMA, 1, 2),
        "sig_z": ("layer", SIGMA, 2, 2),
        "tanh_g": ("layer", "tanh", 3.6, 2),
        "mul_r": ("op", "×", 1, 3),
        "k_up": ("point", "", 2.8, 3),
        "tap": ("point", "", 0, 4.2),
        "lin_h": ("layer", "W<sub>nh</sub>", 1, 4.2),
        "z_copy": ("point", "", 2, 4),
        "one_minus": ("op_wide", "1−", 2.8, 4),
        "mul_z": ("op", "×", 3.6, 4),
        "h_copy": ("point", "", 0, 6),
        "mul_h": ("op", "×", 2, 6),
        "add": ("op", "+", 3.6, 6),
        "out": ("point", "", 4.6, 6),
        "h": ("output", "h", 4.6, 7.2),
    },
    edges=[
        # the gates read [h_{t-1}, x_t]: h_{t-1} comes down the left side, x_t up from below
        ("x", "xs", False), ("xs", "cat", False), ("h_copy", "tap", False),
        ("tap", "h_down", False), ("h_down", "cat", False), ("cat", "j_r", False),
        ("j_r", "j_z", False), ("j_r", "sig_r", True), ("j_z", "sig_z", True),
        # the candidate reads [r_t * (W_nh·h_{t-1} + b_nh), x_t]
        ("tap", "lin_h", True), ("lin_h", "mul_r", True), ("sig_r", "mul_r", True),
        ("mul_r", "k_up", False), ("k_up", "k_down", False), ("k_down", "cat_g", False),
        ("xs", "xg", False), ("xg", "cat_g", False), ("cat_g", "tanh_g", True),
        # h_t = (1 − z_t) * n_t + z_t * h_{t-1}
        ("sig_z", "z_copy", False), ("z_copy", "mul_h", True), ("h_copy", "mul_h", True),
        ("z_copy", "one_minus", True), ("one_minus", "mul_z", True), ("tanh_g", "mul_z", True),
        ("mul_h", "add", True), ("mul_z", "add", True), ("add", "out", False),
        ("out", "h", True),
    ],
    chains=[("h", "h_copy", "out", False)],
)

# The cell state alone, and a gate alone: the two ideas the LSTM is built from.
_CELL_STATE = _Cell(
    nodes={
        "in_f": ("end", "", 0, 0),
        "in_i": ("end", "", 2, 0),
        "mul_f": ("op", "×", 0, 1.2),
        "add": ("op", "+", 2, 1.2),
    },
    edges=[("in_f", "mul_f", True), ("in_i", "add", True), ("mul_f", "add", True)],
    chains=[("c", "mul_f", "add", True)],
)
_GATE = _Cell(
    nodes={
        "in": ("end", "", 0, 0),
        "sig": ("layer", SIGMA, 0, 1),
        "a": ("end", "", -1.2, 2.2),
        "mul": ("op", "×", 0, 2.2),
        "b": ("end", "", 1.2, 2.2),
    },
    edges=[("in", "sig", True), ("sig", "mul", True), ("a", "mul", True), ("mul", "b", True)],
    chains=[],
)

_T1 = "<sub>t−1</sub>"
_HX = f"[h{_T1}, x<sub>t</sub>]"
_GATE_INPUTS = {"h_prev", "x", "cat", "j_f"}

# Each step of colah's walk-through: the parts of the LSTM it highlights, and its equations.
LSTM_STEPS = {
    "forget": (
        _GATE_INPUTS | {"sig_f", "mul_f"},
        (f"f<sub>t</sub> = {SIGMA}(W<sub>f</sub>·{_HX} + b<sub>f</sub>)",),
    ),
    "input": (
        _GATE_INPUTS | {"j_i", "j_g", "sig_i", "k_i", "tanh_g", "mul_i"},
        (f"i<sub>t</sub> = {SIGMA}(W<sub>i</sub>·{_HX} + b<sub>i</sub>)",
         f"c{TILDE}<sub>t</sub> = tanh(W<sub>c</sub>·{_HX} + b<sub>c</sub>)"),
    ),
    "update": (
        {"c_prev", "mul_f", "mul_i", "add", "c_copy", "c_next"},
        (f"c<sub>t</sub> = f<sub>t</sub> * c{_T1} + i<sub>t</sub> * c{TILDE}<sub>t</sub>",),
    ),
    "output": (
        _GATE_INPUTS
        | {"j_i", "j_g", "j_o", "sig_o", "c_copy", "tanh_c", "mul_o", "split", "h", "corner"}
        | {"h_next"},
        (f"o<sub>t</sub> = {SIGMA}(W<sub>o</sub>·{_HX} + b<sub>o</sub>)",
         "h<sub>t</sub> = o<sub>t</sub> * tanh(c<sub>t</sub>)"),
    ),
}


def rnn_module(steps: int = 3) -> graphviz.Digraph:
    """The repeating module of a plain RNN: a single tanh layer inside each A."""
    return _cells("rnn_module", _RNN, steps)


def lstm_module(steps: int = 3, highlight: str | None = None) -> graphviz.Digraph:
    """The LSTM's repeating module, `steps` in a row; `highlight` is one of LSTM_STEPS."""
    if highlight is None:
        return _cells("lstm_module", _LSTM, steps)
    if highlight not in LSTM_STEPS:
        raise ValueError(f"highlight must be one of {', '.join(LSTM_STEPS)}, got {highlight!r}")
    lit, caption = LSTM_STEPS[highlight]
    return _cells(f"lstm_{highlight}", _LSTM, steps, lit=lit, caption=caption)


def lstm_step(step: str) -> graphviz.Digraph:
    """One LSTM module with one step (forget, input, update, output) highlighted."""
    return lstm_module(steps=1, highlight=step)


def peephole_module(steps: int = 1) -> graphviz.Digraph:
    """The peephole LSTM: the three gates also read the cell state (dashed lines)."""
    reads = [(g, f"c{_T1}") for g in "fi"] + [("o", "c<sub>t</sub>")]
    caption = [f"{g}<sub>t</sub> = {SIGMA}(W<sub>{g}</sub>·[{c}, {_HX[1:]} + b<sub>{g}</sub>)"
               for g, c in reads]
    return _cells("peephole_module", _PEEPHOLE, steps, caption=caption)


def gru_module(steps: int = 1) -> graphviz.Digraph:
    """The GRU as `GRUCell` computes it (PyTorch's convention): reset gate r_t, update gate z_t,
    candidate n_t, and h_t = (1 − z_t) * n_t + z_t * h_{t-1}."""
    caption = (
        f"r<sub>t</sub> = {SIGMA}(W<sub>r</sub>·{_HX} + b<sub>r</sub>)",
        f"z<sub>t</sub> = {SIGMA}(W<sub>z</sub>·{_HX} + b<sub>z</sub>)",
        "n<sub>t</sub> = tanh(W<sub>nx</sub>·x<sub>t</sub> + b<sub>nx</sub> + r<sub>t</sub> * "
        f"(W<sub>nh</sub>·h{_T1} + b<sub>nh</sub>))",
        f"h<sub>t</sub> = (1 − z<sub>t</sub>) * n<sub>t</sub> + z<sub>t</sub> * h{_T1}",
    )
    return _cells("gru_module", _GRU, steps, caption=caption)


def cell_state() -> graphviz.Digraph:
    """The cell state alone: c_{t-1} passes a multiply and an add on its way to c_t."""
    return _cells("cell_state", _CELL_STATE, 1)


def gate() -> graphviz.Digraph:
    """A gate: a sigmoid layer and a pointwise multiply that lets through 0 to all of a line."""
    return _cells("gate", _GATE, 1, box=False)


def legend() -> graphviz.Digraph:
    """What the shapes and lines mean: layer, pointwise operation, transfer, concatenate, copy."""
    graph = _digraph("legend", layout="neato", splines="line")
    kit = _Kit(graph)
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
        for part, (kind, label, col, row) in [*nodes.items(), ("text", ("text", text, 0, -1.5))]:
            top = {"labelloc": "t", "height": "0.5"} if kind == "text" else {}
            kit.node(item, f"i{k}_{part}", kind, label,
                     pos=f"{(x + col) * UNIT_X:.3f},{row * UNIT_Y:.3f}!", **top)
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


def diagram(name: str, steps: int | None = None) -> graphviz.Digraph:
    """The concept diagram called `name`, drawn for `steps` steps if it has steps."""
    if name not in CONCEPT_DIAGRAMS:
        raise ValueError(f"unknown diagram {name!r}; choose from {', '.join(CONCEPT_DIAGRAMS)}")
    if steps is None:
        return CONCEPT_DIAGRAMS[name]()
    if name not in STEPPED:
        raise ValueError(f"{name} has no steps; steps apply to {', '.join(STEPPED)}")
    return STEPPED[name](steps)


def draw_all(folder, format: str = "svg", graphs: bool = True, png=()) -> list[Path]:
    """Write every concept diagram to `folder` as NAME.dot (its source) and NAME.<format>.

    With `graphs`, the example computation graphs (EXAMPLE_GRAPHS) too; names in `png` are
    also written as NAME.png (for pages whose browsers misplace SVG subscripts).
    """
    folder = output_folder(folder)
    written = []
    makers = {**CONCEPT_DIAGRAMS, **(EXAMPLE_GRAPHS if graphs else {})}  # (defined below)
    for name, make in makers.items():
        graph = make()
        written.append(render(graph, folder / f"{name}.dot", "dot"))
        for fmt in dict.fromkeys([format, "png"] if name in png else [format]):
            if fmt != "dot":
                written.append(render(graph, folder / f"{name}.{fmt}", fmt))
    return written


# ---- rendering -------------------------------------------------------------------------------


def render(graph, path, format: str = "svg", timeout: float = 30) -> Path:
    """Write `graph` to `path` as svg, png, pdf or dot, by rnn.io's rule (a failure or Ctrl-C
    leaves no file; a link is written through; a pipe or device is refused)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    source = graph.source if hasattr(graph, "source") else str(graph)
    with replacing(path, "figure") as tmp:
        if format == "dot":
            tmp.write_text(source, encoding="utf-8")
        else:
            _graphviz(source, format, tmp, timeout, Path(path).name)
    return Path(path)


def _graphviz(source: str, format: str, out: Path, timeout: float, name: str):
    """Lay out and render DOT `source` into file `out` with the system `dot` or pygraphviz;
    errors call the figure `name`."""
    exe = shutil.which("dot")
    if exe is None:
        if _bundled_graphviz(source, format, out, timeout, name):
            return
        raise GraphvizNotFound(f"Graphviz's `dot` program is not on PATH: {INSTALL_HINT}")
    try:
        # an argument list, never a shell; the source goes in on stdin
        done = subprocess.run([exe, f"-T{format}", "-o", str(out)], input=source.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"Graphviz took longer than {timeout} s to draw {name}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphvizError(f"Graphviz failed: {message[0] if message else done.returncode}")


# Runs in a child process, so the bundled Graphviz gets the same timeout as `dot`; the DOT
# source arrives on stdin, the format and the output path as arguments.
_BUNDLED = (
    "import sys, pygraphviz\n"
    "pygraphviz.AGraph(string=sys.stdin.read()).draw(sys.argv[2], format=sys.argv[1], "
    "prog='dot')\n"
)


def _bundled_graphviz(source: str, format: str, out: Path, timeout: float, name: str) -> bool:
    """Render with the Graphviz that pygraphviz 2.0+ wheels bundle; False if there is none."""
    try:
        version = importlib.metadata.version("pygraphviz")
    except importlib.metadata.PackageNotFoundError:
        return False
    if int(version.split(".")[0]) < 2:
        return False  # older pygraphviz needs the system Graphviz we just failed to find
    try:
        done = subprocess.run([sys.executable, "-c", _BUNDLED, format, str(out)],
                              input=source.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"Graphviz took longer than {timeout} s to draw {name}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphvizError(f"Graphviz (pygraphviz) failed: "
                            f"{message[-1] if message else done.returncode}")
    return True


# ==== computation graphs =======================================================================
# The live graph behind a tensor, read through the engine's `to_networkx`. Node ids are synthetic
# (to_networkx's n0, n1, ... plus suffixes made here) and every label taken from the graph goes
# through escape_label.

# The palette of computation graphs, in the concept diagrams' colours: see computation_graph's
# docstring; graph_legend draws it as a table, colour_bar the gradient scale.
PARAM_FILL, PARAM_LINE = LAYER_FILL, LAYER_LINE
LEAF_FILL, LEAF_LINE = INPUT_FILL, INPUT_LINE
VALUE_FILL = "#ffffff"
ROOT_FILL, ROOT_LINE = OUTPUT_FILL, OUTPUT_LINE
STEP_FILL, STEP_LINE = MODULE_FILL, MODULE_LINE
GRAD_COLOURS = ("#fecf92", "#fea571", "#f9795d", "#e95462", "#c83e73", "#a3307e", "#7e2482",
                "#5c167f", "#36106b", "#140e36")  # magma, reversed: one colour per decade
GRAD_DARK = 5  # from this colour on, text is white
GRAD_ZERO = "#ffffff"
SMALL_TEXT = "#555555"

MAX_NODES = 5000  # a graph with more drawn nodes is collapsed by time step (or refused)
STATE_LABEL = "h_t"  # the cells' label on each step's output: how time steps are found
OP_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "neg": "−", "matmul": "@",
              "sigmoid": SIGMA, "pow": "^", "pow_tensor": "^"}
# Cheaper layout for big graphs: dot spends much of its time placing nodes across (network
# simplex); two passes per node instead of running to the optimum take a peephole LSTM
# unrolled 50 steps (2,200 drawn nodes) from 0.8 s to 0.5 s and hardly change the drawing
# (fewer passes, such as 0.5, do: lines start to wander).
FAST_LAYOUT = {"nslimit": "2", "nslimit1": "2"}
FAST_ABOVE = 1000  # drawn nodes from which FAST_LAYOUT is used


class GraphTooLarge(ValueError):
    """A computation graph has too many nodes to lay out, and no time steps to collapse."""


class GraphCollapsed(UserWarning):
    """A computation graph was too large to lay out in full and was collapsed by time step."""


def _nx_graph(source):
    """A networkx graph from `to_networkx`, made from a Tensor, or given as one."""
    from autograd_lite.graph import to_networkx
    from autograd_lite.tensor import Tensor

    if isinstance(source, Tensor):
        return to_networkx(source)
    if hasattr(source, "nodes") and hasattr(source, "predecessors"):
        return source
    raise TypeError(f"expected a Tensor or a graph from to_networkx, got {type(source).__name__}")


def _order(g) -> list:
    """Nodes parents first (to_networkx already inserts them so: keep that order)."""
    import networkx as nx

    order = list(g.nodes)
    position = {n: k for k, n in enumerate(order)}
    if all(position[a] < position[b] for a, b in g.edges):
        return order
    return list(nx.topological_sort(g))


def _in_order(g, n) -> list:
    """The parents of `n` in argument order, one entry per argument (`x * x` gives x twice)."""
    pairs = sorted((k, p) for p in g.predecessors(n) for k in g.edges[p, n].get("args", (0,)))
    return [p for _, p in pairs]


def step_outputs(g) -> list:
    """The node ending each time step of an unrolled graph, in time order ([] if none).

    The readable cells label each step's output `h_t`. Tried in turn: the parents of a layer's
    `outputs` stack (argument order is time order); the `h_t` nodes if they form one chain (each
    depends on the one before); the parents of the stack with the most `h_t` parents.
    """
    order = _order(g)
    label = {n: g.nodes[n].get("label") for n in order}
    stacks = []
    for n in order:
        if g.nodes[n].get("op") == "stack":
            parents = _in_order(g, n)
            if parents and all(label[p] == STATE_LABEL for p in parents):
                stacks.append((label[n] == "outputs", len(parents), parents))
    named = [stack for stack in stacks if stack[0]]
    if named:
        return named[0][2]
    hs = [n for n in order if label[n] == STATE_LABEL]
    if hs and all(_depends(g, b, a) for a, b in itertools.pairwise(hs)):
        return hs
    return max(stacks, key=lambda s: s[1])[2] if stacks else []


def _depends(g, node, on) -> bool:
    """Whether `node` depends on `on` (a walk back from `node` reaches it)."""
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n == on:
            return True
        for p in g.predecessors(n):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return False


def time_steps(g, outputs="auto") -> dict:
    """The time step (1..T) of each node inside a step of an unrolled graph; others are absent.

    `outputs` lists the node ending each step in time order ("auto": `step_outputs(g)`). Step t
    holds what its output depends on that no earlier step holds: the walk back from h_t stops
    at the previous step's state. Parameters, leaves used by several steps and nodes that feed
    steps other than their own and the next (not a state) stay outside every step.
    """
    roots = step_outputs(g) if outputs == "auto" else list(outputs or ())
    step = {}
    for t, root in enumerate(roots, 1):
        if root in step:
            raise ValueError(f"step output {root} is already part of step {step[root]}: the "
                             f"outputs must be listed in time order")
        stack = [root]
        while stack:
            n = stack.pop()
            if n in step:
                continue
            step[n] = t
            stack.extend(p for p in g.predecessors(n) if p not in step)
    ends = set(roots)
    for n in reversed(_order(g)):  # consumers first, so a node leaving a step frees its inputs
        s = step.get(n)
        if s is None or n in ends:
            continue
        used = {step.get(c) for c in g.successors(n)} - {None}
        attrs = g.nodes[n]
        shared = (attrs.get("is_parameter") or not used or not used <= {s, s + 1}
                  or (attrs.get("op") is None and len(used) > 1))
        if shared:
            del step[n]
    return step


class GradScale(NamedTuple):
    """Decades `low`..`high` of gradient norms, one colour each (norms below `low` join it)."""

    low: int
    high: int

    @classmethod
    def of(cls, norms) -> "GradScale":
        """The scale covering `norms` (None and 0 skipped), at most len(GRAD_COLOURS) decades."""
        decades = [d for d in map(_decade, norms) if d is not None]
        if not decades:
            return cls(0, 0)
        high = max(decades)
        return cls(max(min(decades), high - len(GRAD_COLOURS) + 1), high)

    def index(self, norm) -> int | None:
        """Which of GRAD_COLOURS shades `norm` (None for no gradient, zero or not finite).

        The top decade takes the darkest colour and each decade below the next paler one, so
        a colour always means the same distance from the largest gradient.
        """
        decade = _decade(norm)
        if decade is None:
            return None
        return len(GRAD_COLOURS) - 1 - (self.high - max(min(decade, self.high), self.low))

    def colour(self, norm) -> str:
        """The fill for `norm`: a decade's colour, GRAD_ZERO for 0, GREY_FILL for none."""
        k = self.index(norm)
        if k is not None:
            return GRAD_COLOURS[k]
        return GRAD_ZERO if norm == 0 else GREY_FILL


def _rounded(norm) -> str:
    """A gradient norm to 2 significant digits: the same text on every run and BLAS."""
    if norm is None:
        return "none"
    if norm == 0:
        return "0"
    return f"{norm:.1e}"


def _decade(norm) -> int | None:
    """The power of ten of `norm` as printed by _rounded (9.96e-6 prints 1.0e-05: -5)."""
    if norm is None or not math.isfinite(norm) or norm <= 0:
        return None
    return int(_rounded(norm).split("e")[1])


def _small(text: str, dim: bool = True) -> str:
    """Small print; `dim` greys it (not on gradient fills, which set their own text colour)."""
    colour = f' color="{SMALL_TEXT}"' if dim else ""
    return f'<font point-size="9"{colour}>{text}</font>'


def _shape_text(attrs) -> str:
    shape = tuple(attrs.get("shape") or ())
    dtype = attrs.get("dtype") or "float64"
    text = str(shape) + ("" if dtype == "float64" else f" {dtype}")
    return escape_label(text, 40)


def _rows(rows) -> str:
    """Lines of a label as rows of a borderless table: unlike <br/>, rows keep an underscore
    (W_f) clear of the line below."""
    if len(rows) == 1:
        return rows[0]
    cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
    return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{cells}</table>'


def _grad_text(norm) -> str:
    return _small(f"∇ {_rounded(norm)}", dim=False)


class _Node(NamedTuple):
    id: str
    step: int | None
    kind: str  # param, leaf, value, root, op or step
    label: str  # an HTML fragment, every user text escaped
    norm: float | None


class _Edge(NamedTuple):
    tail: str
    head: str
    norm: float | None
    label: str = ""
    visible: bool = True
    lane: int = 0  # parallel lines between two collapsed steps (h_t, c_t) keep apart


class _Plan(NamedTuple):
    """What one graph draws: nodes (with their time step) and edges, before any styling."""

    nodes: list
    edges: list
    steps: int


def _plan(g, step, prefix="", collapse=False, grad=False, all_values=False,
          shared_params=False, detail=True) -> _Plan:
    """What drawing networkx graph `g` takes: nodes and edges, `step` from time_steps."""
    order = _order(g)
    nodes, edges = [], []
    steps = max(step.values(), default=0)
    attrs = g.nodes

    def value_text(n, name=None):
        d = attrs[n]
        rows = [f"<b>{escape_label(d['label'])}</b>" if d.get("label") else name,
                _small(_shape_text(d), not grad)]
        return _rows(rows + ([_grad_text(d.get("grad_norm"))] if grad else []))

    def op_text(n, merged):
        d = attrs[n]
        rows = [escape_label(OP_SYMBOLS.get(d["op"], d["op"]), 20)]
        if merged:
            extra = escape_label(d["attrs"], 24) if d.get("attrs") else ""
            rows.append(_small(_shape_text(d) + (f" {extra}" if extra else ""), not grad))
            if grad:
                rows.append(_grad_text(d.get("grad_norm")))
        return _rows(rows)

    # where each tensor is drawn: a parameter may get one copy per step it is used in
    merged = {n for n in order if attrs[n].get("op") is not None and not attrs[n].get("label")
              and not attrs[n].get("is_output") and not all_values}
    copies = {}  # parameter -> {group (a step or None): node id}
    for n in order:
        d = attrs[n]
        if not (d.get("is_parameter") and steps and not shared_params):
            continue
        groups = sorted({step.get(c) for c in g.successors(n)}, key=lambda s: s or 0)
        copies[n] = {s: prefix + n if s is None else f"{prefix}{n}_t{s}" for s in groups}

    def tail(p, at):
        return copies[p].get(at, prefix + p) if p in copies else prefix + p

    def head(n):
        return prefix + n if n in merged else f"{prefix}{n}_op"

    def absorbed(p, at):  # a parameter copy inside a collapsed step
        return collapse and p in copies and at is not None

    def leaf(n, group, node_id):
        d = attrs[n]
        kind = "root" if d.get("is_output") else "param" if d.get("is_parameter") else "leaf"
        text = value_text(n, "constant" if not d.get("requires_grad") else "leaf")
        nodes.append(_Node(node_id, group, kind, text, d.get("grad_norm")))

    drawn = set()  # parameter copies are drawn just before their first use in each step,
    # which keeps every step in the same order (dot starts crossing reduction from it)
    for n in order:
        d, s = attrs[n], step.get(n)
        norm = d.get("grad_norm")
        if collapse and s is not None:
            continue
        if d.get("op") is None:
            if n not in copies:
                leaf(n, s, prefix + n)
            elif not g.out_degree(n):
                leaf(n, None, prefix + n)
            continue
        for p in _in_order(g, n):
            node_id = tail(p, s)
            if p in copies and node_id not in drawn and not absorbed(p, s):
                drawn.add(node_id)
                leaf(p, s, node_id)
        is_merged = n in merged
        nodes.append(_Node(head(n), s, "op", op_text(n, is_merged), norm))
        if not is_merged:
            kind = "root" if d.get("is_output") else "value"
            nodes.append(_Node(prefix + n, s, kind, value_text(n, "output"), norm))
            edges.append(_Edge(head(n), prefix + n, norm))

    seen = set()
    box = {t: f"{prefix}t{t}" for t in range(1, steps + 1)}
    for n in order:
        sv = step.get(n)
        for p in _in_order(g, n):
            su = step.get(p)
            if absorbed(p, sv):
                continue
            norm = attrs[p].get("grad_norm")
            if not collapse:
                edges.append(_Edge(tail(p, sv), head(n), norm))
                continue
            if su is not None and su == sv:
                continue
            a = box[su] if su is not None else tail(p, sv)
            b = box[sv] if sv is not None else head(n)
            crossing = su is not None and sv is not None and attrs[p].get("label")
            label = escape_label(attrs[p]["label"], 20) if crossing else ""
            if (a, b, label) not in seen:  # one line per state passed on (h_t, c_t)
                lane = sum(1 for pair in seen if pair[:2] == (a, b)) if label else 0
                seen.add((a, b, label))
                edges.append(_Edge(a, b, norm, label, lane=lane))

    # each step's output: its h_t that no node of the same step reads (the top layer's)
    ends = {s: n for n, s in step.items() if attrs[n].get("label") == STATE_LABEL
            and all(step.get(c) != s for c in g.successors(n))}
    if not collapse:
        # Step t + 1 starts below step t. Without a push, the nodes that step t + 1 computes
        # from step t's states and its own leaves alone (the concat of h_{t-1} and x_t) float up
        # beside the end of step t, and the steps run diagonally. One invisible line from h_t
        # to each such node is enough: everything else in the step hangs below them.
        step_of = {node.id: node.step for node in nodes}
        fed = {e.head for e in edges}
        inner = {e.head for e in edges if step_of.get(e.head) is not None
                 and step_of.get(e.tail) == step_of[e.head] and e.tail in fed}
        for node in nodes:
            s = node.step
            if s and s - 1 in ends and node.id in fed and node.id not in inner:
                edges.append(_Edge(prefix + ends[s - 1], node.id, None, visible=False))
    if collapse:
        members = {t: [] for t in box}
        for n in order:
            if n in step:
                members[step[n]].append(n)
        for t, node_id in box.items():
            end = ends.get(t)
            norm = attrs[end].get("grad_norm") if end is not None else None
            rows = [f"<b>t = {t}</b>"]
            if detail:
                names = list(dict.fromkeys(escape_label(attrs[n]["label"], 20)
                                           for n in members[t] if attrs[n].get("label")))
                rows += [" ".join(names[k:k + 4]) for k in range(0, len(names), 4)][:3]
                ops = sum(attrs[n].get("op") is not None for n in members[t])
                rows.append(_small(f"{ops} ops", not grad))
            if grad:
                rows.append(_small(f"∇h<sub>t</sub> {_rounded(norm)}", dim=False))
            nodes.insert(t - 1, _Node(node_id, None, "step", _rows(rows), norm))
    return _Plan(nodes, edges, steps)


_CG_KINDS = {
    "param": dict(shape="box", style="filled", fillcolor=PARAM_FILL, color=PARAM_LINE,
                  penwidth="2"),
    "leaf": dict(shape="box", style="filled", fillcolor=LEAF_FILL, color=LEAF_LINE),
    "value": dict(shape="box", style="filled", fillcolor=VALUE_FILL, color=LINE),
    "root": dict(shape="box", style="filled", fillcolor=ROOT_FILL, color=ROOT_LINE,
                 penwidth="2"),
    "op": dict(shape="ellipse", style="filled", fillcolor=OP_FILL, color=OP_LINE,
               width="0.3", height="0.25", margin="0.03,0.01"),
    "step": dict(shape="box", style="rounded,filled", fillcolor=STEP_FILL, color=STEP_LINE,
                 penwidth="2", margin="0.12,0.06"),
}


def _node_style(node: _Node, scale: GradScale | None) -> dict:
    style = dict(_CG_KINDS[node.kind])
    if scale is None:
        return style
    k = scale.index(node.norm)
    style["fillcolor"] = scale.colour(node.norm)
    if k is not None and k >= GRAD_DARK:
        style["fontcolor"] = "white"
    if node.norm is None:
        style["style"] += ",dashed"
        style["fontcolor"] = GREY_TEXT
    if node.kind not in ("param", "root", "step"):
        style["color"] = LINE
    return style


def _edge_style(edge: _Edge, scale: GradScale | None) -> dict:
    if not edge.visible:
        return {"style": "invis", "minlen": "2", "weight": "0"}
    style = {"label": _html(edge.label)} if edge.label else {}
    if 0 < edge.lane < 3:
        side = "e" if edge.lane == 1 else "w"
        style.update(tailport=f"s{side}", headport=f"n{side}")
    if scale is not None:
        k = scale.index(edge.norm)
        if k is None:
            style.update(color=GREY if edge.norm is None else LINE, style="dashed")
        else:
            style.update(color=GRAD_COLOURS[k], penwidth=f"{1.2 + 0.25 * k:.2f}")
    return style


def _emit(graph, plan: _Plan, scale, prefix="") -> None:
    """Add `plan`'s nodes and edges to `graph` (or a cluster), one cluster per time step."""
    clusters = {}
    for node in plan.nodes:
        where = graph
        if node.step is not None:
            where = clusters.get(node.step)
            if where is None:
                where = clusters[node.step] = graphviz.Digraph(f"cluster_{prefix}t{node.step}")
                where.attr(style="rounded,filled", fillcolor=STEP_FILL, color=STEP_LINE,
                           label=_html(f"<b>t = {node.step}</b>"), labeljust="l",
                           fontsize="12", margin="6")
        where.node(node.id, label=_html(node.label), **_node_style(node, scale))
    for t in sorted(clusters):
        graph.subgraph(clusters[t])
    for edge in plan.edges:
        graph.edge(edge.tail, edge.head, **_edge_style(edge, scale))


def _canvas(name: str, rankdir: str, size: int, caption=()) -> graphviz.Digraph:
    # newrank: ranks are computed over the whole graph, so the invisible edges that start
    # each step below the one before hold across clusters (without it the steps run diagonally)
    graph = _digraph(name, caption, rankdir=rankdir, newrank="true", nodesep="0.15",
                     ranksep="0.25",
                     **(FAST_LAYOUT if size >= FAST_ABOVE else {}))
    graph.attr("node", fontsize="11", margin="0.06,0.03", height="0.3")
    graph.attr("edge", penwidth="1.1", arrowsize="0.5", fontname=FONT, fontsize="10")
    return graph


def graph_legend() -> str:
    """The palette of computation graphs as an HTML-like label: a table of swatches."""
    rows = [(PARAM_FILL, "parameter"), (LEAF_FILL, "input or constant (no gradient)"),
            (VALUE_FILL, "named value (f<sub>t</sub>, c<sub>t</sub>, h<sub>t</sub>, ...)"),
            (OP_FILL, "op (an unnamed result is drawn in its op)"), (ROOT_FILL, "output"),
            (STEP_FILL, "one time step")]
    cells = "".join(f'<tr><td bgcolor="{fill}" width="18"> </td>'
                    f'<td align="left" border="0">{text}</td></tr>' for fill, text in rows)
    return (f'<<table border="0" cellborder="1" cellspacing="3" cellpadding="3">'
            f'<tr><td colspan="2" border="0"><b>legend</b></td></tr>{cells}</table>>')


def colour_bar(scale: GradScale) -> str:
    """The gradient colour bar as an HTML-like label: one cell per decade, 10^k in each."""
    cells = [f'<td bgcolor="{GRAD_ZERO}">0</td>']
    for decade in range(scale.low, scale.high + 1):
        k = scale.index(10.0**decade)
        text = f"{'≤' if decade == scale.low else ''}10<sup>{decade}</sup>".replace("-", "−")
        font = ' color="white"' if k >= GRAD_DARK else ""
        cells.append(f'<td bgcolor="{GRAD_COLOURS[k]}"><font{font}>{text}</font></td>')
    cells.append(f'<td bgcolor="{GREY_FILL}" style="dashed"><font color="{GREY_TEXT}">none'
                 f'</font></td>')
    title = "gradient norm ‖∂L/∂v‖, one colour per decade"
    return (f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
            f'<tr><td colspan="{len(cells)}" border="0">{title}</td></tr>'
            f'<tr>{"".join(cells)}</tr></table>>')


def computation_graph(tensor, *, collapse: bool = False, grad: bool = False, steps="auto",
                      all_values: bool = False, shared_params: bool = False,
                      legend: bool = True, max_nodes: int | None = MAX_NODES,
                      name: str = "computation_graph") -> graphviz.Digraph:
    """The computation graph behind `tensor` (or a graph from `to_networkx`) as a Digraph.

    Values are boxes (label and shape), ops small ellipses between them (an unnamed result is
    drawn inside its op unless `all_values`). An unrolled recurrent graph gets one cluster per
    time step (`steps`: "auto", None for none, or the node ids ending each step, see
    `time_steps`), parameters drawn once per step that uses them (`shared_params=True`: once
    for all). `collapse` draws each step as one box; `grad` shades everything by gradient norm
    (after `backward(retain_grad=True)`) with a colour bar. Beyond `max_nodes` drawn nodes the
    steps are collapsed (GraphCollapsed warning, and a caption) or, with no steps,
    GraphTooLarge is raised. The legend (`legend=True`) shows the palette:

        parameter       PARAM_FILL yellow box, like colah's learned layers
        input/constant  LEAF_FILL blue box: a leaf needing no gradient (input, initial state)
        value           VALUE_FILL white box: a named value (f_t, c~_t, c_t, h_t, ...)
        output          ROOT_FILL purple box: the tensor drawn from (the loss)
        op              OP_FILL pink ellipse, like colah's pointwise operations
        time step       STEP_FILL green rounded cluster, or one green box when collapsed

    With `grad`, fills and lines take GRAD_COLOURS by the decade of the gradient's norm (2
    significant digits): the top decade the darkest, each decade below one paler (vanishing
    gradients are pale); a line takes the norm at its tail, the gradient flowing back along
    it; parameters keep their thick yellow outline; white is an exact 0, dashed grey none.
    """
    g = _nx_graph(tensor)
    if grad and all(d.get("grad_norm") is None for _, d in g.nodes(data=True)):
        raise ValueError("grad=True needs gradients: call backward(retain_grad=True) on the "
                         "output first")
    step = time_steps(g, steps) if steps is not None else {}
    options = dict(grad=grad, all_values=all_values, shared_params=shared_params)
    plan = _plan(g, step, collapse=collapse, **options)
    caption = ()
    if max_nodes is not None and len(plan.nodes) > max_nodes:
        if collapse or not plan.steps:
            raise GraphTooLarge(f"the graph has {len(plan.nodes)} nodes to draw, more than "
                                f"max_nodes={max_nodes}, and no time steps to collapse")
        note = (f"{len(plan.nodes)} nodes are too many to lay out (max_nodes={max_nodes}): "
                f"drawn collapsed, one box per time step")
        warnings.warn(note, GraphCollapsed, stacklevel=2)
        plan = _plan(g, step, collapse=True, **options)
        caption = (escape_label(note, 200),)
    graph = _canvas(name, "TB", len(plan.nodes), caption)
    scale = GradScale.of(n.norm for n in plan.nodes) if grad else None
    _emit(graph, plan, scale)
    if legend:
        graph.node("legend", label=graph_legend(), shape="plaintext", margin="0")
    if scale is not None:
        graph.node("colour_bar", label=colour_bar(scale), shape="plaintext", margin="0")
    return graph


# ---- small models to draw --------------------------------------------------------------------

CELL_NAMES = ("rnn", "lstm", "gru", "peephole")


def unrolled_loss(cell: str = "lstm", steps: int = 3, *, hidden: int = 4, inputs: int = 2,
                  seed: int = 0, backward: bool = False):
    """The loss of a small model unrolled `steps` steps on the readable path (every gate a node).

    One layer of `cell` reads random inputs; a linear readout of the last hidden state h_T is
    compared with a target, so the loss sits on the last step only. With `backward`, the
    gradients are kept on every node (for the overlay). Fixed seed: the same graph every run.
    """
    import numpy as np

    from autograd_lite.nn import Parameter
    from autograd_lite.ops import mse
    from rnn.layers import make_layer

    _check_steps(steps)
    rng = np.random.default_rng(seed)
    layer = make_layer(cell, inputs, hidden, fused=False, rng=rng)
    _, state = layer(rng.normal(size=(steps, 1, inputs)))
    h_n = state[0] if isinstance(state, tuple) else state
    bound = 1 / math.sqrt(hidden)
    W_y = Parameter(rng.uniform(-bound, bound, (hidden, 1)), label="W_y")
    b_y = Parameter(np.zeros(1), label="b_y")
    y = h_n[0] @ W_y + b_y
    y.label = "y"
    loss = mse(y, np.ones((1, 1)))
    loss.label = "loss"
    if backward:
        loss.backward(retain_grad=True)
    return loss


def unrolled_graph(cell: str = "lstm", steps: int = 3, *, grad: bool = False,
                   collapse: bool = False, **model) -> graphviz.Digraph:
    """The computation graph of `unrolled_loss(cell, steps)`; with `grad`, the gradient overlay."""
    loss = unrolled_loss(cell, steps, backward=grad, **model)
    return computation_graph(loss, grad=grad, collapse=collapse, max_nodes=MAX_NODES,
                             name=f"{cell}_unrolled{'_grad' if grad else ''}")


def gradient_overlay(steps: int = 30, cells=("rnn", "lstm"), **model) -> graphviz.Digraph:
    """An RNN and an LSTM unrolled `steps` steps, side by side, shaded by ‖∂L/∂h_t‖.

    The loss reads only the last step, so the colour of step t shows how much gradient comes
    back across T − t steps: the RNN's fades by orders of magnitude, the LSTM's far less.
    One colour scale for both; each model is a cluster, each step one box.
    """
    plans = []
    for k, cell in enumerate(cells):
        g = _nx_graph(unrolled_loss(cell, steps, backward=True, **model))
        plans.append(_plan(g, time_steps(g), prefix=f"g{k}_", collapse=True, grad=True,
                           detail=False))
    scale = GradScale.of(n.norm for plan in plans for n in plan.nodes)
    caption = ("‖∂L/∂h<sub>t</sub>‖ with the loss on the last step only: how much gradient "
               f"reaches step t from {steps} steps on",)
    graph = _canvas("gradient_overlay", "TB", sum(len(p.nodes) for p in plans), caption)
    for k, (cell, plan) in enumerate(zip(cells, plans)):
        frame = graphviz.Digraph(f"cluster_g{k}")
        frame.attr(label=_html(f"<b>{escape_label(cell.upper())}</b>"), labeljust="l",
                   style="rounded", color=GREY, fontsize="16")
        _emit(frame, plan, scale, prefix=f"g{k}_")
        graph.subgraph(frame)
    graph.node("colour_bar", label=colour_bar(scale), shape="plaintext", margin="0")
    return graph


# Example computation graphs for the diagrams folder, by file name, and the figures that also get
# a PNG copy there (for pages whose browsers misplace SVG subscripts).
EXAMPLE_GRAPHS = {
    "graph-lstm": partial(unrolled_graph, "lstm", 3),
    "graph-lstm-grad": partial(unrolled_graph, "lstm", 3, grad=True),
    "graph-lstm-collapsed": partial(unrolled_graph, "lstm", 6, collapse=True),
    "gradient-overlay": gradient_overlay,
}
PNG_FIGURES = ("lstm-module", "gru", "graph-lstm", "gradient-overlay")
