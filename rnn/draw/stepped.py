"""The three levels of an unrolled graph as a small site: the folded block ("LSTM × T"), one
box per step, each box a link to that step's drawing with every gate. A graph unrolled 500
steps is then 500 small drawings and one chain of boxes, never one huge SVG."""

from __future__ import annotations

import html
from pathlib import Path

from rnn.draw.graphs import computation_graph
from rnn.draw.rendering import render
from rnn.draw.timesteps import nx_graph, step_outputs, time_steps
from rnn.io import output_folder, write_text

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
padding: 0 1em; }} object {{ max-width: 100%; }} .steps a {{ display: inline-block;
min-width: 3em; }}</style></head><body>
<h1>{title}</h1>
<h2>Folded: all {T} steps as one block</h2>
<object data="folded.svg" type="image/svg+xml"></object>
<h2>Unrolled: one box per step (click a box for its gates)</h2>
<div style="overflow-x: auto"><object data="steps.svg" type="image/svg+xml"></object></div>
<h2>Every gate, one step at a time</h2>
<p class="steps">{links}</p>
</body></html>
"""


def step_graph(g, step: dict, t: int):
    """The part of networkx graph `g` in time step t, with the values it reads (the previous
    step's states, the parameters, the inputs) as its inputs."""
    inner = [n for n, s in step.items() if s == t]
    around = {p for n in inner for p in g.predecessors(n)}
    return g.subgraph(set(inner) | around).copy()


def write_step_pages(tensor, folder, title: str) -> Path:
    """Write folded.svg, steps.svg (one linked box per step), steps/t{k}.svg (every gate of
    step k) and index.html into `folder` (made if missing); returns index.html's path."""
    g = nx_graph(tensor)
    step = time_steps(g)
    T = max(step.values(), default=0)
    if T == 0:
        raise ValueError("the graph has no time steps to lay out step by step")
    folder = output_folder(folder)
    output_folder(folder / "steps", "steps folder")
    for t in range(1, T + 1):
        drawing = computation_graph(step_graph(g, step, t), steps=None, legend=False,
                                    name=f"step_{t}")
        drawing.attr(label=f"step t = {t} of {T}", labelloc="t", fontsize="16")
        render(drawing, folder / "steps" / f"t{t}.svg")
    render(computation_graph(g, fold=title), folder / "folded.svg")
    boxes = computation_graph(g, collapse=True, steps=step_outputs(g), max_nodes=None,
                              name="steps")
    for t in range(1, T + 1):  # the collapsed boxes are nodes t1 .. tT: link each
        boxes.node(f"t{t}", href=f"steps/t{t}.svg", target="_top",
                   tooltip=f"step {t}: every gate")
    render(boxes, folder / "steps.svg")
    links = " ".join(f'<a href="steps/t{t}.svg">t = {t}</a>' for t in range(1, T + 1))
    page = PAGE.format(title=html.escape(f"{title} unrolled {T} steps"), T=T, links=links)
    return write_text(folder / "index.html", page, "page")
