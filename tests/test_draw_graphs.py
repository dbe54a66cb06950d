"""Tests for rnn.draw's computation graphs: time steps, collapsing, the gradient overlay,
escaping of labels taken from the graph, rendering with the real dot, and the CLI."""

import html
import json
import re
import shutil
import subprocess
import sys
import unicodedata
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite.nn import Parameter
from autograd_lite.ops import Op, apply
from rnn import draw
from rnn.layers import make_layer

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")

PYTHON = sys.executable
SVG = "{http://www.w3.org/2000/svg}"
# every node id the computation graphs make: tensor ids from to_networkx, their op nodes,
# per-step parameter copies, collapsed steps, the legend and colour bar; g0_ etc. per model
SYNTHETIC = re.compile(r"(g\d+_)?(n\d+(_op|_t\d+)?|t\d+)|legend|colour_bar")
GATES = {
    "rnn": {"[h_{t-1}, x_t]", "h_t"},
    "lstm": {"[h_{t-1}, x_t]", "f_t", "i_t", "c~_t", "c_t", "o_t", "tanh(c_t)", "h_t"},
    "peephole": {"[h_{t-1}, x_t]", "f_t", "i_t", "c~_t", "c_t", "o_t", "tanh(c_t)", "h_t"},
    "gru": {"[h_{t-1}, x_t]", "r_t", "z_t", "n_t", "h_t"},
}
STATES = {"rnn": {"h_t"}, "lstm": {"h_t", "c_t"}, "peephole": {"h_t", "c_t"}, "gru": {"h_t"}}


# ---- helpers ---------------------------------------------------------------------------------


def dot(source: str, fmt: str) -> bytes:
    """Run the real `dot` on `source`; fail the test on any error."""
    done = subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def parse(graph):
    """Nodes (name -> attributes), edges (tail, head, attributes) and clusters (name ->
    attributes with the set of its node names under "members"), as Graphviz reads the DOT."""
    data = json.loads(dot(graph.source if hasattr(graph, "source") else graph, "json0"))
    objects = data.get("objects", [])
    by_id = {o["_gvid"]: o["name"] for o in objects if "nodes" not in o}
    nodes = {o["name"]: o for o in objects if "nodes" not in o}
    clusters = {o["name"]: {**o, "members": {by_id[i] for i in o["nodes"]}}
                for o in objects if "nodes" in o and o["name"].startswith("cluster")}
    edges = [(by_id[e["tail"]], by_id[e["head"]], e) for e in data.get("edges", [])]
    return nodes, edges, clusters


def text_of(label: str) -> str:
    """The visible text of an HTML-like label: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", " ", label.replace("<br/>", "\n")))


def name_of(label: str) -> str:
    """The bold name in a value box's label ('' if none)."""
    found = re.search(r"<b>(.*?)</b>", label)
    return html.unescape(found.group(1)) if found else ""


def visible(nodes, edges):
    return [(t, h, a) for t, h, a in edges if a.get("style") != "invis"]


def step_of(clusters):
    """Node name -> time step, from the clusters cluster_t1, cluster_t2, ..."""
    return {n: int(name[len("cluster_t"):]) for name, c in clusters.items()
            for n in c["members"]}


def run_cli(*args, cwd):
    return subprocess.run([PYTHON, "-m", "rnn", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


# ---- time steps ------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "peephole"])
def test_step_outputs_are_the_h_t_of_each_step_in_order(cell):
    g = al.to_networkx(draw.unrolled_loss(cell, 4))
    ends = draw.step_outputs(g)
    assert len(ends) == 4 and all(g.nodes[n]["label"] == "h_t" for n in ends)
    steps = draw.time_steps(g)
    assert [steps[n] for n in ends] == [1, 2, 3, 4]


def test_time_steps_put_each_gate_in_its_own_step():
    g = al.to_networkx(draw.unrolled_loss("lstm", 5))
    steps = draw.time_steps(g)
    for label in ("f_t", "i_t", "c~_t", "c_t", "o_t", "h_t"):
        found = sorted(steps[n] for n in g if g.nodes[n]["label"] == label)
        assert found == [1, 2, 3, 4, 5], label
    params = [n for n in g if g.nodes[n]["is_parameter"]]
    assert params and not set(params) & set(steps)  # parameters are shared: no step
    outside = {g.nodes[n]["label"] for n in g if n not in steps}
    assert {"h_n", "y", "loss"} <= outside


def test_multi_layer_steps_come_from_the_outputs_stack():
    layer = make_layer("gru", 2, 3, num_layers=2, fused=False, rng=0)
    outputs, _ = layer(np.ones((4, 1, 2)))
    g = al.to_networkx(outputs.sum())
    steps = draw.time_steps(g)
    assert sorted(set(steps.values())) == [1, 2, 3, 4]
    for t in range(1, 5):  # both layers of step t are in step t
        assert sum(g.nodes[n]["label"] == "h_t" for n, s in steps.items() if s == t) == 2


def test_explicit_step_outputs_must_be_in_time_order():
    g = al.to_networkx(draw.unrolled_loss("rnn", 3))
    ends = draw.step_outputs(g)
    assert draw.time_steps(g, ends[:2]).keys() < draw.time_steps(g).keys()
    with pytest.raises(ValueError, match="time order"):
        draw.time_steps(g, ends[::-1])


def test_graph_without_time_steps_has_no_clusters():
    W = Parameter(np.ones((2, 2)), label="W")
    loss = al.tanh(W @ al.Tensor([1.0, 2.0], label="x")).sum()
    assert draw.step_outputs(al.to_networkx(loss)) == []
    nodes, _, clusters = parse(draw.computation_graph(loss))
    assert not clusters
    assert nodes["n0"]["fillcolor"] == draw.PARAM_FILL
    assert nodes["n1"]["fillcolor"] == draw.LEAF_FILL


def test_fused_layer_is_one_node_and_no_steps():
    layer = make_layer("lstm", 2, 3, rng=0)
    outputs, _ = layer(np.ones((5, 1, 2)))
    nodes, _, clusters = parse(draw.computation_graph(outputs.sum()))
    assert not clusters
    assert sum("fused_lstm" in a.get("label", "") for a in nodes.values()) == 1


# ---- the unrolled graph ----------------------------------------------------------------------


@pytest.mark.parametrize("cell,steps", [("rnn", 1), ("lstm", 3), ("gru", 4), ("peephole", 2)])
def test_expanded_graph_has_one_cluster_per_step_with_every_gate(cell, steps):
    nodes, _, clusters = parse(draw.unrolled_graph(cell, steps))
    assert sorted(clusters) == sorted(f"cluster_t{t}" for t in range(1, steps + 1))
    for t in range(1, steps + 1):
        cluster = clusters[f"cluster_t{t}"]
        assert text_of(cluster["label"]).strip() == f"t = {t}"
        names = {name_of(nodes[n]["label"]) for n in cluster["members"]}
        assert GATES[cell] <= names, (t, GATES[cell] - names)
    for node in nodes:
        assert SYNTHETIC.fullmatch(node), node


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "peephole"])
def test_states_cross_from_each_step_into_the_next_only(cell):
    nodes, edges, clusters = parse(draw.unrolled_graph(cell, 4))
    step = step_of(clusters)
    crossing = {}
    for tail, head, _ in visible(nodes, edges):
        if tail in step and head in step and step[tail] != step[head]:
            assert step[head] == step[tail] + 1, (tail, head)
            crossing.setdefault(step[tail], set()).add(name_of(nodes[tail]["label"]))
    assert crossing == {t: STATES[cell] for t in (1, 2, 3)}


def test_later_steps_start_below_earlier_ones():
    nodes, _, clusters = parse(draw.unrolled_graph("lstm", 3))
    data = json.loads(dot(draw.unrolled_graph("lstm", 3).source, "json"))
    boxes = {o["name"]: [float(v) for v in o["bb"].split(",")] for o in data["objects"]
             if o["name"].startswith("cluster")}
    for t in (1, 2):  # y grows upwards: step t + 1 lies wholly below step t
        assert boxes[f"cluster_t{t + 1}"][3] < boxes[f"cluster_t{t}"][1]


def test_parameters_are_coloured_apart_and_drawn_in_each_step():
    nodes, edges, clusters = parse(draw.unrolled_graph("lstm", 3))
    params = {n for n, a in nodes.items() if a.get("fillcolor") == draw.PARAM_FILL}
    names = {name_of(nodes[n]["label"]) for n in params}
    assert names == {"W_f", "b_f", "W_i", "b_i", "W_c", "b_c", "W_o", "b_o", "W_y", "b_y"}
    assert all(nodes[n]["shape"] == "box" for n in params)
    fills = {a.get("fillcolor") for n, a in nodes.items() if n not in params}
    assert draw.PARAM_FILL not in fills
    for t in (1, 2, 3):  # a copy of W_f in each step, feeding that step only
        copies = [n for n in clusters[f"cluster_t{t}"]["members"]
                  if n in params and name_of(nodes[n]["label"]) == "W_f"]
        assert len(copies) == 1 and copies[0].endswith(f"_t{t}")


def test_shared_parameters_are_drawn_once_outside_the_steps():
    loss = draw.unrolled_loss("lstm", 3)
    nodes, edges, clusters = parse(draw.computation_graph(loss, shared_params=True))
    w_f = [n for n, a in nodes.items() if name_of(a.get("label", "")) == "W_f"]
    assert len(w_f) == 1 and w_f[0] not in step_of(clusters)
    assert len([h for t, h, _ in edges if t == w_f[0]]) == 3  # one matmul per step


def test_ops_are_small_ellipses_and_values_are_boxes():
    nodes, edges, _ = parse(draw.unrolled_graph("lstm", 2))
    ops = {n: a for n, a in nodes.items() if a.get("fillcolor") == draw.OP_FILL}
    assert ops and all(a["shape"] == "ellipse" for a in ops.values())
    symbols = {text_of(a["label"]).split()[0] for a in ops.values()}
    assert {"σ", "tanh", "×", "+", "@", "concat"} <= symbols
    f_t = [n for n, a in nodes.items() if name_of(a.get("label", "")) == "f_t"]
    assert all(nodes[n]["shape"] == "box" and "(1, 4)" in text_of(nodes[n]["label"])
               for n in f_t)
    into = {h: t for t, h, _ in edges}
    assert all(into[n] == f"{n}_op" and nodes[f"{n}_op"]["label"] == "σ" for n in f_t)


def test_all_values_draws_a_box_for_every_result():
    loss = draw.unrolled_loss("rnn", 2)
    few, _, _ = parse(draw.computation_graph(loss))
    every, _, _ = parse(draw.computation_graph(loss, all_values=True))
    boxes = {n for n, a in every.items() if a.get("shape") == "box"}
    g = al.to_networkx(loss)
    assert {f"n{k}" for k in range(len(g))} <= boxes | {n.split("_")[0] for n in boxes}
    assert len(every) > len(few)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_collapsed_graph_has_one_box_per_step(cell):
    nodes, edges, clusters = parse(draw.unrolled_graph(cell, 4, collapse=True))
    assert not clusters
    steps = {n: a for n, a in nodes.items() if re.fullmatch(r"t\d+", n)}
    assert sorted(steps) == ["t1", "t2", "t3", "t4"]
    for n, a in steps.items():
        assert a["fillcolor"] == draw.STEP_FILL and "rounded" in a["style"]
        assert text_of(a["label"]).split()[:3] == ["t", "=", n[1:]]
    gates = GATES[cell] - {"h_t"}
    assert not any(name_of(a.get("label", "")) in gates for a in nodes.values())
    between = {(t, h, text_of(a.get("label", ""))) for t, h, a in edges if t in steps}
    for k in (1, 2, 3):
        assert {label for t, h, label in between if (t, h) == (f"t{k}", f"t{k + 1}")} \
            == STATES[cell]


def test_graph_too_large_is_collapsed_with_a_note():
    loss = draw.unrolled_loss("lstm", 8)
    with pytest.warns(draw.GraphCollapsed, match="max_nodes=100"):
        graph = draw.computation_graph(loss, max_nodes=100)
    nodes, _, clusters = parse(graph)
    assert not clusters and {f"t{k}" for k in range(1, 9)} <= set(nodes)
    assert "too many to lay out" in graph.source


def test_graph_too_large_without_steps_is_refused():
    x = al.Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(60):
        y = al.tanh(y)
    with pytest.raises(draw.GraphTooLarge, match="max_nodes=50"):
        draw.computation_graph(y.sum(), max_nodes=50)
    assert draw.computation_graph(y.sum(), max_nodes=None).source


def test_big_graphs_get_the_cheaper_layout():
    small = draw.unrolled_graph("lstm", 2).source
    big = draw.unrolled_graph("lstm", 30).source
    assert "nslimit" not in small and "nslimit=2" in big


def test_legend_lists_the_palette():
    graph = draw.unrolled_graph("rnn", 2)
    nodes, _, _ = parse(graph)
    legend = nodes["legend"]["label"]
    for fill in (draw.PARAM_FILL, draw.LEAF_FILL, draw.VALUE_FILL, draw.OP_FILL, draw.ROOT_FILL,
                 draw.STEP_FILL):
        assert f'bgcolor="{fill}"' in legend
    assert "parameter" in legend and "colour_bar" not in nodes  # no bar without --grad


# ---- the gradient overlay --------------------------------------------------------------------


def fill_index(attrs):
    fill = attrs.get("fillcolor")
    return draw.GRAD_COLOURS.index(fill) if fill in draw.GRAD_COLOURS else None


def test_grad_overlay_needs_a_backward_pass():
    with pytest.raises(ValueError, match="retain_grad=True"):
        draw.computation_graph(draw.unrolled_loss("lstm", 2), grad=True)


def test_grad_overlay_shades_every_node_by_its_gradient_norm():
    loss = draw.unrolled_loss("lstm", 4, backward=True)
    g = al.to_networkx(loss)
    graph = draw.computation_graph(g, grad=True)
    nodes, edges, _ = parse(graph)
    assert "colour_bar" in nodes
    scale = draw.GradScale.of(d["grad_norm"] for _, d in g.nodes(data=True))
    pairs = []
    for name, attrs in nodes.items():
        base = re.fullmatch(r"(n\d+)(_op|_t\d+)?", name)
        if base is None or (base.group(2) or "").startswith("_t"):
            continue  # parameter copies carry the parameter's (total) gradient too
        norm = g.nodes[base.group(1)]["grad_norm"]
        if norm:
            pairs.append((norm, fill_index(attrs)))
            assert fill_index(attrs) == scale.index(norm)
    pairs.sort()
    indices = [k for _, k in pairs]
    assert indices == sorted(indices)  # larger gradient, darker colour
    assert len(set(indices)) >= 3
    # the loss's own gradient is 1, in the top decade: the darkest colour; h_1 is paler
    root = f"n{len(g) - 1}"
    assert g.nodes[root]["is_output"] and fill_index(nodes[root]) == len(draw.GRAD_COLOURS) - 1
    ends = draw.step_outputs(g)
    assert fill_index(nodes[ends[0]]) < fill_index(nodes[ends[-1]])
    for tail, head, attrs in visible(nodes, edges):
        norm = g.nodes[tail.split("_")[0]]["grad_norm"] if tail.startswith("n") else None
        if norm:
            assert attrs["color"] == draw.GRAD_COLOURS[scale.index(norm)], (tail, head)


def test_grad_values_are_printed_to_two_significant_digits():
    source = draw.unrolled_graph("gru", 3, grad=True).source
    values = re.findall(r"∇(?:h<sub>t</sub>)? ([^<]+)<", source)
    assert values and all(re.fullmatch(r"\d\.\de[+-]\d\d|0|none", v) for v in values), values


def test_colour_bar_shows_one_cell_per_decade():
    scale = draw.GradScale.of([3e-7, 2e-3, 0.5, 0, None])
    assert scale == draw.GradScale(-7, -1)
    bar = draw.colour_bar(scale)
    assert bar.count("10<sup>") == 7 and "≤10<sup>−7</sup>" in bar
    top = draw.GRAD_COLOURS[-1]
    assert f'bgcolor="{top}"' in bar and scale.colour(0.5) == top
    assert scale.colour(0) == draw.GRAD_ZERO and scale.colour(None) == draw.GREY_FILL
    wide = draw.GradScale.of([1e-20, 1.0])
    assert wide.high - wide.low + 1 == len(draw.GRAD_COLOURS)
    assert wide.index(1e-20) == 0  # clamped into the palest colour


def test_decades_follow_the_printed_value():
    assert draw._rounded(9.96e-6) == "1.0e-05" and draw._decade(9.96e-6) == -5
    assert draw._decade(9.94e-6) == -6
    assert draw._decade(float("nan")) is None and draw._decade(float("inf")) is None


def test_rnn_gradient_vanishes_faster_than_the_lstm_gradient():
    graph = draw.gradient_overlay(steps=30)
    nodes, edges, clusters = parse(graph)
    assert sorted(clusters) == ["cluster_g0", "cluster_g1"]
    assert [text_of(clusters[c]["label"]).strip() for c in sorted(clusters)] == ["RNN", "LSTM"]
    assert "colour_bar" in nodes
    rnn = [fill_index(nodes[f"g0_t{t}"]) for t in range(1, 31)]
    lstm = [fill_index(nodes[f"g1_t{t}"]) for t in range(1, 31)]
    assert None not in rnn + lstm
    # the loss is on the last step: the gradient fades going back in time
    assert rnn == sorted(rnn) and lstm == sorted(lstm)
    assert rnn[0] <= 2 and rnn[-1] - rnn[0] >= 6  # the RNN's early steps: pale, small
    assert lstm[0] - rnn[0] >= 3  # the LSTM keeps orders of magnitude more
    # its cell state carries at least as much gradient as its hidden state
    c_edges = {t: fill_index({"fillcolor": a["color"]}) for t, h, a in edges
               if text_of(a.get("label", "")).strip() == "c_t" and t.startswith("g1_t")}
    assert len(c_edges) == 29
    assert all(k >= lstm[int(t[len("g1_t"):]) - 1] for t, k in c_edges.items())


def test_overlay_can_compare_another_cell():
    nodes, _, clusters = parse(draw.gradient_overlay(steps=4, cells=("rnn", "gru")))
    assert [text_of(clusters[c]["label"]).strip() for c in sorted(clusters)] == ["RNN", "GRU"]
    assert {f"g{k}_t{t}" for k in (0, 1) for t in range(1, 5)} <= set(nodes)


def test_graph_sources_are_deterministic():
    for make in draw.EXAMPLE_GRAPHS.values():
        first = make().source
        assert first == make().source
        assert not re.search(r"0x[0-9a-f]{6,}", first)  # no memory addresses


# ---- rendering -------------------------------------------------------------------------------


def svg_node_texts(svg: bytes) -> dict:
    """Node name -> the text it shows, from an SVG made by dot."""
    root = ET.fromstring(svg)
    shown = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            name = group.find(f"{SVG}title").text
            shown[name] = " ".join("".join(t.itertext()) for t in group.iter(f"{SVG}text"))
    return shown


def test_svg_shows_the_gates_of_every_step(tmp_path):
    graph = draw.unrolled_graph("lstm", 3)
    svg = draw.render(graph, tmp_path / "g.svg").read_bytes()
    shown = svg_node_texts(svg)
    assert all(SYNTHETIC.fullmatch(n) for n in shown)
    names = [text.split()[0] for text in shown.values() if text]
    for gate in ("f_t", "i_t", "c~_t", "c_t", "o_t", "h_t", "W_f", "loss"):
        assert names.count(gate) == (1 if gate == "loss" else 3), gate
    titles = [t.text for t in ET.fromstring(svg).iter(f"{SVG}title")]
    assert sum(t.startswith("cluster_t") for t in titles) == 3


def test_renders_png_and_pdf(tmp_path):
    graph = draw.unrolled_graph("rnn", 2, grad=True, collapse=True)
    assert draw.render(graph, tmp_path / "g.png", "png").read_bytes()[:4] == b"\x89PNG"
    assert draw.render(graph, tmp_path / "g.pdf", "pdf").read_bytes()[:5] == b"%PDF-"
    assert draw.render(graph, tmp_path / "g.dot", "dot").read_text() == graph.source


def test_jupyter_gets_a_digraph():
    graph = draw.unrolled_graph("rnn", 1)
    assert hasattr(graph, "_repr_mimebundle_") and type(graph).__name__ == "Digraph"


# ---- escaping labels taken from the graph ----------------------------------------------------

NASTY = [
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "\\N \\G \\E \\L \\n \\\\N",
    "two\nlines\nhere",
    "<lambda> <map>",
    "]; node [shape=box color=red",
    '"]; n9 [label="x"]; n0 -> n9 [',
    "<b>bold</b> &amp; &#60; &",
    "ünïcødé σ(x) ✓ 漢字 🙂",
    "tab\there\r\nand\rreturns",
    "nul\x00 bell\x07 del\x7f",
    "x" * 10_000,
    "h_t",  # the step label itself: no steps come of it here
]
ALLOWED = {"_gvid", "name", "label", "shape", "style", "fillcolor", "color", "penwidth",
           "fontcolor", "width", "height", "margin", "fontsize", "fontname", "fixedsize", "pos"}


def comparable(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace() and ch not in "\ufffd\ufffe\uffff"
                   and unicodedata.category(ch) not in {"Cc", "Cs", "Zl", "Zp", "Zs"})


def expected(text: str, limit: int = draw.MAX_LABEL) -> str:
    text = text.replace("\r\n", "\n")
    return comparable(text if len(text) <= limit else text[: limit - 1] + "…")


def nasty_graph(texts):
    """A graph whose parameters, values, op name and op attribute carry `texts`."""
    op = Op(texts[0], lambda a, note: a * 2, lambda B, g, out, a, note: (2 * g,))
    tensors = []
    for k, text in enumerate(texts):
        W = Parameter(np.full((2,), k + 1.0), label=text)
        y = apply(op, al.tanh(W), note=text)
        y.label = text
        tensors.append(y.sum())
    loss = tensors[0]
    for t in tensors[1:]:
        loss = loss + t
    loss.label = texts[-1]
    loss.backward(retain_grad=True)
    return loss


def check_graph_survives(texts):
    """Draw, lay out and render a graph labelled with `texts`; check ids, attributes, SVG."""
    loss = nasty_graph(texts)
    g = al.to_networkx(loss)
    nodes, _, _ = parse(draw.computation_graph(loss))  # steps="auto" copes with any labels
    assert all(SYNTHETIC.fullmatch(n) for n in nodes), list(nodes)
    for grad in (False, True):
        graph = draw.computation_graph(loss, grad=grad, steps=None)
        nodes, edges, clusters = parse(graph)
        assert not clusters
        assert all(SYNTHETIC.fullmatch(n) for n in nodes), list(nodes)
        assert len(nodes) == len(g) + sum(1 for n in g if g.nodes[n]["label"]
                                          and g.nodes[n]["op"]) + 1 + grad
        for name, attrs in nodes.items():
            assert set(attrs) <= ALLOWED, (name, set(attrs) - ALLOWED)
        assert len(visible(nodes, edges)) == g.number_of_edges() + sum(
            1 for n in g if g.nodes[n]["label"] and g.nodes[n]["op"])
        shown = svg_node_texts(dot(graph.source, "svg"))  # valid XML
        for n in g:
            label = g.nodes[n]["label"]
            if label:
                assert comparable(shown[n]).startswith(expected(label)), (n, label)
        ops = [shown[n + "_op"] if n + "_op" in shown else shown[n] for n in g
               if g.nodes[n]["op"] == texts[0]]
        # an op named like a built-in one ("mul", "sigmoid") is drawn with its symbol
        op_text = draw.OP_SYMBOLS.get(texts[0], texts[0])
        assert ops and all(comparable(o).startswith(expected(op_text, 20)) for o in ops)


def test_nasty_labels_render_as_plain_text():
    check_graph_survives(NASTY)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=st.one_of(st.characters(), st.sampled_from('<>&"\\\n[];=N ')),
                        min_size=1, max_size=80), min_size=1, max_size=3))
def test_any_labels_render_as_plain_text(texts):
    check_graph_survives(texts)


def test_overlay_refuses_an_unknown_cell():
    with pytest.raises(ValueError, match="unknown cell"):
        draw.gradient_overlay(steps=2, cells=("rnn", '"]; x [label="'))


# ---- the command line ------------------------------------------------------------------------


def test_cli_draws_the_graph_of_a_small_lstm(tmp_path):
    done = run_cli("draw", "graph", "--steps", "3", "-o", "g.svg", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = svg_node_texts((tmp_path / "g.svg").read_bytes())
    names = [text.split()[0] for text in shown.values() if text]
    assert names.count("f_t") == 3 and names.count("h_t") == 3


def test_cli_graph_dot_has_the_clusters_of_its_cell(tmp_path):
    done = run_cli("draw", "graph", "--steps", "2", "--cell", "gru", "--format", "dot",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    source = (tmp_path / "graph.dot").read_text(encoding="utf-8")
    nodes, _, clusters = parse(source)
    assert sorted(clusters) == ["cluster_t1", "cluster_t2"]
    assert {"r_t", "z_t", "n_t"} <= {name_of(a.get("label", "")) for a in nodes.values()}


def test_cli_grad_collapse_draws_boxes_and_a_colour_bar(tmp_path):
    done = run_cli("draw", "graph", "--steps", "4", "--grad", "--collapse", "-o", "g.dot",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    nodes, _, clusters = parse((tmp_path / "g.dot").read_text(encoding="utf-8"))
    assert not clusters and {"t1", "t2", "t3", "t4", "colour_bar"} <= set(nodes)


def test_cli_gradient_overlay(tmp_path):
    done = run_cli("draw", "gradient-overlay", "--steps", "5", "-o", "o.svg", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = svg_node_texts((tmp_path / "o.svg").read_bytes())
    assert {f"g{k}_t{t}" for k in (0, 1) for t in range(1, 6)} <= set(shown)


@pytest.mark.parametrize("args,status,message", [
    (["graph", "--steps", "0"], 2, "between 1 and 1000"),
    (["graph", "--steps", "51"], 2, "at most 50 unless the graph is drawn with --fold"),
    (["graph", "--cell", "elman"], 2, "invalid choice"),
    (["forget", "--grad"], 2, "only for graph"),
    (["gradient-overlay", "--cell", "rnn"], 2, "beside another cell"),
    (["gradient-overlay", "--grad"], 2, "always collapsed"),
    (["--all", "out", "--collapse"], 2, "for one diagram"),
])
def test_cli_mistakes_are_one_line(tmp_path, args, status, message):
    done = run_cli("draw", *args, cwd=tmp_path)
    assert done.returncode == status and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())


def test_cli_help_names_the_graphs(tmp_path):
    done = run_cli("draw", "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "rnn-lab draw graph" in done.stdout and "gradient-overlay" in done.stdout
    assert "--collapse" in done.stdout and "not available" not in done.stdout


def test_cli_note_when_a_graph_is_collapsed(tmp_path):
    # the CLI's largest graph fits; a tiny limit shows how the note reaches the user
    code = ("import sys; from rnn.draw import graphs; graphs.MAX_NODES = 50; "
            "from rnn.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([PYTHON, "-c", code, "draw", "graph", "--steps", "3", "-o", "g.svg"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "note:" in done.stderr and "collapsed" in done.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draw.unrolled_graph("lstm", 50)  # the CLI's largest graph: no note


def test_user_op_named_like_a_builtin_is_drawn_with_its_symbol():
    check_graph_survives(["sigmoid"])
