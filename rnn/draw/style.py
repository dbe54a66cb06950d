"""The drawings' palette, defined once, and the empty diagram every figure starts from.

Yellow boxes are learned layers, pink circles pointwise operations, a green rounded box is one
repeating module A, blue and purple circles are inputs x_t and outputs h_t, lines are
near-black. A highlighted step draws its part in HIGHLIGHT, the rest grey. Computation graphs
reuse the same colours for parameters, leaves, outputs and time steps, and shade by gradient
norm with GRAD_COLOURS.
"""

from __future__ import annotations

import graphviz

from rnn.draw.labels import html

LAYER_FILL, LAYER_LINE = "#f6d55c", "#c9a227"
OP_FILL, OP_LINE = "#f4b6c2", "#d1495b"
MODULE_FILL, MODULE_LINE = "#dcefd9", "#5a9e6f"
INPUT_FILL, INPUT_LINE = "#a9d6f5", "#3b8ac4"
OUTPUT_FILL, OUTPUT_LINE = "#dcc6ee", "#8a5cb8"
LINE = "#303030"
HIGHLIGHT = "#1f6fd1"
GREY, GREY_FILL, GREY_TEXT = "#c4c4c4", "#f4f4f4", "#a8a8a8"
FONT = "Helvetica"

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


def digraph(name: str, caption=(), **attrs) -> graphviz.Digraph:
    """An empty diagram with graph `attrs`; `caption` lines (HTML fragments) go underneath."""
    graph = graphviz.Digraph(name)
    graph.attr(bgcolor="white", fontname=FONT, **attrs)
    if caption:
        rows = "".join(f"<tr><td>{line}</td></tr>" for line in caption)
        graph.attr(label=html(f'<table border="0" cellspacing="4">{rows}</table>'),
                   labelloc="b", fontsize="16")
    graph.attr("node", fontname=FONT, fontsize="14", color=LINE, penwidth="1.2")
    graph.attr("edge", color=LINE, penwidth="1.6", arrowsize="0.7")
    return graph
