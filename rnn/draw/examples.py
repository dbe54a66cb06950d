"""Small models to draw, unrolled on the readable path (every gate a node), the gradient
overlay of an RNN beside an LSTM, and `draw_all`, which writes every figure into a folder."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import graphviz
import numpy as np

from autograd_lite import compile as compile_step
from autograd_lite.graph import to_networkx
from autograd_lite.nn import Parameter
from autograd_lite.ops import mse
from rnn.draw import graphs as _graphs  # MAX_NODES is read at each call: it may be lowered
from rnn.draw.auto import figures
from rnn.draw.concepts import check_steps
from rnn.draw.graphs import canvas, colour_bar, computation_graph, emit
from rnn.draw.labels import escape_label, html
from rnn.draw.plan import make_plan
from rnn.draw.rendering import render
from rnn.draw.scale import GradScale
from rnn.draw.style import GREY
from rnn.cells import cell_class
from rnn.draw.timesteps import nx_graph, time_steps
from rnn.io import output_folder
from rnn.layers import make_layer


def unrolled_loss(cell: str = "lstm", steps: int = 3, *, hidden: int = 4, inputs: int = 2,
                  seed: int = 0, backward: bool = False, compiled: bool = False):
    """The loss of a small model unrolled `steps` steps on the readable path (every gate a node).

    One layer of `cell` reads random inputs; a linear readout of the last hidden state h_T is
    compared with a target, so the loss sits on the last step only. With `backward`, the
    gradients are kept on every node (for the overlay). Fixed seed: the same graph every run.
    With `compiled`, the loss is computed by the program `autograd_lite.compile` makes of
    it; the result is that compiled function (draw it with `to_networkx`).
    """
    check_steps(steps)
    rng = np.random.default_rng(seed)
    layer = make_layer(cell, inputs, hidden, fused=False, rng=rng)
    x = rng.normal(size=(steps, 1, inputs))
    bound = 1 / math.sqrt(hidden)
    W_y = Parameter(rng.uniform(-bound, bound, (hidden, 1)), label="W_y")
    b_y = Parameter(np.zeros(1), label="b_y")

    def loss_of(x):
        _, state = layer(x)
        h_n = state[0] if isinstance(state, tuple) else state
        y = h_n[0] @ W_y + b_y
        y.label = "y"
        loss = mse(y, np.ones((1, 1)))
        loss.label = "loss"
        return loss

    if compiled:
        step = compile_step(loss_of)
        step(x)
        return step
    loss = loss_of(x)
    if backward:
        loss.backward(retain_grad=True)
    return loss


def unrolled_graph(cell: str = "lstm", steps: int = 3, *, grad: bool = False,
                   collapse: bool = False, fold: bool = False, compiled: bool = False,
                   **model) -> graphviz.Digraph:
    """The computation graph of `unrolled_loss(cell, steps)`; with `grad`, the gradient overlay;
    `collapse`: one box per step; `fold`: one block "LSTM × T" for all of them; `compiled`:
    the program that `autograd_lite.compile` makes of the same loss."""
    if compiled and grad:
        raise ValueError("a compiled program keeps no gradients to draw: --grad is for the "
                         "eager graph")
    loss = unrolled_loss(cell, steps, backward=grad, compiled=compiled, **model)
    source = to_networkx(loss) if compiled else loss
    return computation_graph(source, grad=grad, collapse=collapse, max_nodes=_graphs.MAX_NODES,
                             name=f"{cell}_unrolled{'_grad' if grad else ''}"
                                  f"{'_compiled' if compiled else ''}",
                             fold=cell_class(cell).title.split(" (")[0] if fold else None)


def gradient_overlay(steps: int = 30, cells=("rnn", "lstm"), **model) -> graphviz.Digraph:
    """An RNN and an LSTM unrolled `steps` steps, side by side, shaded by ‖∂L/∂h_t‖.

    The loss reads only the last step, so the colour of step t shows how much gradient comes
    back across T − t steps: the RNN's fades by orders of magnitude, the LSTM's far less.
    One colour scale for both; each model is a cluster, each step one box.
    """
    plans = []
    for k, cell in enumerate(cells):
        g = nx_graph(unrolled_loss(cell, steps, backward=True, **model))
        plans.append(make_plan(g, time_steps(g), prefix=f"g{k}_", collapse=True, grad=True,
                               detail=False))
    scale = GradScale.of(n.norm for plan in plans for n in plan.nodes)
    caption = ("‖∂L/∂h<sub>t</sub>‖ with the loss on the last step only: how much gradient "
               f"reaches step t from {steps} steps on",)
    graph = canvas("gradient_overlay", "TB", sum(len(p.nodes) for p in plans), caption)
    for k, (cell, plan) in enumerate(zip(cells, plans)):
        frame = graphviz.Digraph(f"cluster_g{k}")
        frame.attr(label=html(f"<b>{escape_label(cell.upper())}</b>"), labeljust="l",
                   style="rounded", color=GREY, fontsize="16")
        emit(frame, plan, scale, prefix=f"g{k}_")
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


def draw_all(folder, format: str = "svg", graphs: bool = True, png=()) -> list[Path]:
    """Write every figure (`figures()`) to `folder` as NAME.dot (its source) and NAME.<format>.

    With `graphs`, the example computation graphs (EXAMPLE_GRAPHS) too; names in `png` are
    also written as NAME.png (for pages whose browsers misplace SVG subscripts).
    """
    folder = output_folder(folder)
    written = []
    makers = {**figures(), **(EXAMPLE_GRAPHS if graphs else {})}
    for name, make in makers.items():
        graph = make()
        written.append(render(graph, folder / f"{name}.dot", "dot"))
        for fmt in dict.fromkeys([format, "png"] if name in png else [format]):
            if fmt != "dot":
                written.append(render(graph, folder / f"{name}.{fmt}", fmt))
    return written
