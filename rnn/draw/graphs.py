"""Computation graphs: the live graph behind a tensor, drawn as a `graphviz.Digraph`.

The graph comes from the engine's `to_networkx`; node ids are synthetic (its n0, n1, ... plus
suffixes made here) and every label taken from the graph goes through escape_label. An
unrolled recurrent graph gets one cluster per time step, or one box per step when collapsed;
with gradients, everything is shaded by gradient norm (see computation_graph).
"""

from __future__ import annotations

import warnings

import graphviz

from rnn.draw.labels import escape_label, html
from rnn.draw.plan import Edge, Node, Plan, fold_plan, make_plan
from rnn.draw.scale import GradScale
from rnn.draw.style import (
    FONT,
    GRAD_COLOURS,
    GRAD_DARK,
    GRAD_ZERO,
    GREY,
    GREY_FILL,
    GREY_TEXT,
    LEAF_FILL,
    LEAF_LINE,
    LINE,
    OP_FILL,
    OP_LINE,
    PARAM_FILL,
    PARAM_LINE,
    ROOT_FILL,
    ROOT_LINE,
    STEP_FILL,
    STEP_LINE,
    VALUE_FILL,
    digraph,
)
from rnn.draw.timesteps import nx_graph, time_steps

MAX_NODES = 5000  # a graph with more drawn nodes is collapsed by time step (or refused)
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


def _node_style(node: Node, scale: GradScale | None) -> dict:
    """Graphviz attributes of `node`: its kind's, shaded by its gradient with a scale."""
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


def _edge_style(edge: Edge, scale: GradScale | None) -> dict:
    """Graphviz attributes of `edge`: its lane, label, and shade by gradient with a scale."""
    if not edge.visible:
        return {"style": "invis", "minlen": "2", "weight": "0"}
    style = {"label": html(edge.label)} if edge.label else {}
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


def emit(graph, plan: Plan, scale, prefix="") -> None:
    """Add `plan`'s nodes and edges to `graph` (or a cluster), one cluster per time step."""
    clusters = {}
    for node in plan.nodes:
        where = graph
        if node.step is not None:
            where = clusters.get(node.step)
            if where is None:
                where = clusters[node.step] = graphviz.Digraph(f"cluster_{prefix}t{node.step}")
                where.attr(style="rounded,filled", fillcolor=STEP_FILL, color=STEP_LINE,
                           label=html(f"<b>t = {node.step}</b>"), labeljust="l",
                           fontsize="12", margin="6")
        where.node(node.id, label=html(node.label), **_node_style(node, scale))
    for t in sorted(clusters):
        graph.subgraph(clusters[t])
    for edge in plan.edges:
        graph.edge(edge.tail, edge.head, **_edge_style(edge, scale))


def canvas(name: str, rankdir: str, size: int, caption=()) -> graphviz.Digraph:
    """An empty computation-graph diagram for `size` drawn nodes (a faster layout if many)."""
    # newrank: ranks are computed over the whole graph, so the invisible edges that start
    # each step below the one before hold across clusters (without it the steps run diagonally)
    graph = digraph(name, caption, rankdir=rankdir, newrank="true", nodesep="0.15",
                    ranksep="0.25", **(FAST_LAYOUT if size >= FAST_ABOVE else {}))
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
                      name: str = "computation_graph", fold: str | None = None
                      ) -> graphviz.Digraph:
    """The computation graph behind `tensor` (or a graph from `to_networkx`) as a Digraph.

    Values are boxes (label and shape), ops small ellipses between them (an unnamed result is
    drawn inside its op unless `all_values`). An unrolled recurrent graph gets one cluster per
    time step (`steps`: "auto", None for none, or the node ids ending each step, see
    `time_steps`), parameters drawn once per step that uses them (`shared_params=True`: once
    for all). `collapse` draws each step as one box; `grad` shades everything by gradient norm
    (after `backward(retain_grad=True)`) with a colour bar. Beyond `max_nodes` drawn nodes the
    steps are collapsed (GraphCollapsed warning, and a caption) or, with no steps,
    GraphTooLarge is raised. `fold="LSTM"` draws the three levels' first: all the steps as
    one block "LSTM × T" with its recurrent line, the same drawing for any T (then `collapse`
    is the second level, one box per step, and neither the third, every gate). The legend
    (`legend=True`) shows the palette:

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
    g = nx_graph(tensor)
    if grad and all(d.get("grad_norm") is None for _, d in g.nodes(data=True)):
        raise ValueError("grad=True needs gradients: call backward(retain_grad=True) on the "
                         "output first")
    step = time_steps(g, steps) if steps is not None else {}
    options = dict(grad=grad, all_values=all_values, shared_params=shared_params)
    plan = make_plan(g, step, collapse=collapse or fold is not None, **options)
    if fold is not None:
        if not plan.steps:
            raise ValueError("fold: the graph has no time steps to fold")
        plan = fold_plan(plan, fold)
    caption = ()
    if max_nodes is not None and len(plan.nodes) > max_nodes:
        if collapse or not plan.steps:
            raise GraphTooLarge(f"the graph has {len(plan.nodes)} nodes to draw, more than "
                                f"max_nodes={max_nodes}, and no time steps to collapse")
        note = (f"{len(plan.nodes)} nodes are too many to lay out (max_nodes={max_nodes}): "
                f"drawn collapsed, one box per time step")
        warnings.warn(note, GraphCollapsed, stacklevel=2)
        plan = make_plan(g, step, collapse=True, **options)
        caption = (escape_label(note, 200),)
    graph = canvas(name, "TB", len(plan.nodes), caption)
    scale = GradScale.of(n.norm for n in plan.nodes) if grad else None
    emit(graph, plan, scale)
    if legend:
        graph.node("legend", label=graph_legend(), shape="plaintext", margin="0")
    if scale is not None:
        graph.node("colour_bar", label=colour_bar(scale), shape="plaintext", margin="0")
    return graph
