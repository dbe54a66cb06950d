"""Tests for rnn.draw's concept diagrams: their structure, rendering, label escaping and CLI."""

import html
import importlib.metadata
import itertools
import json
import re
import shutil
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnn import draw
from rnn.commands import draw as draw_command
from rnn.draw import rendering

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")

PYTHON = sys.executable
SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[1]


# ---- helpers ---------------------------------------------------------------------------------


def dot(source: str, fmt: str) -> bytes:
    """Run the real `dot` on `source`; fail the test on any error."""
    done = subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), capture_output=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def parse(graph):
    """Nodes (name -> attributes, with x and y), edges (tail, head, attributes) and clusters
    (name -> node names) of a diagram, as Graphviz itself reads its DOT source."""
    data = json.loads(dot(graph.source, "json"))
    objects = data.get("objects", [])
    nodes = {o["name"]: o for o in objects if "nodes" not in o and "pos" in o}
    by_id = {o["_gvid"]: o["name"] for o in objects if "nodes" not in o}
    for attrs in nodes.values():
        attrs["x"], attrs["y"] = map(float, attrs["pos"].split(","))
    clusters = {o["name"]: {by_id[i] for i in o["nodes"]}
                for o in objects if "nodes" in o and o["name"].startswith("cluster")}
    edges = [(by_id[e["tail"]], by_id[e["head"]], e) for e in data.get("edges", [])]
    return nodes, edges, clusters


def text_of(label: str) -> str:
    """The visible text of an HTML-like label: tags dropped, entities decoded, no spaces."""
    return squeeze(html.unescape(re.sub(r"<[^>]*>", "", label)))


def squeeze(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace())


def svg_texts(svg: bytes) -> dict[str, str]:
    """Text shown by each node of an SVG (by node name), plus '' for the graph's caption."""
    root = ET.fromstring(svg)
    shown = {}
    for group in root.iter(f"{SVG}g"):
        kind = group.get("class")
        if kind in ("node", "graph"):
            name = group.find(f"{SVG}title").text if kind == "node" else ""
            own = group if kind == "node" else [t for t in group if t.tag == f"{SVG}text"]
            texts = own.iter(f"{SVG}text") if kind == "node" else own
            shown[name] = squeeze("".join("".join(t.itertext()) for t in texts))
    return shown


def caption(graph) -> str:
    """The diagram's own label (its caption), as Graphviz reads it; '' if it has none."""
    return json.loads(dot(graph.source, "json")).get("label", "")


def layers(nodes, module="m0"):
    """The neural network layers (yellow boxes) of one module."""
    return {n: a for n, a in nodes.items()
            if n.startswith(f"{module}_") and a["shape"] == "box" and a["style"] == "filled"}


def ops(nodes, module="m0"):
    """The pointwise operations (circles, ellipses; not the x_t, h_t circles) of one module."""
    return {n: a for n, a in nodes.items() if n.startswith(f"{module}_")
            and a["shape"] in ("circle", "ellipse") and "<sub>" not in a["label"]}


def run_cli(*args, cwd):
    return subprocess.run([PYTHON, "-m", "rnn", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


# ---- the catalogue ---------------------------------------------------------------------------


def test_catalogue_lists_the_thirteen_concept_diagrams_in_order():
    assert list(draw.CONCEPT_DIAGRAMS) == [
        "folded", "unrolled", "rnn-module", "lstm-module", "legend", "cell-state", "gate",
        "forget", "input", "update", "output", "gru", "peephole",
    ]


def test_cli_choices_match_the_catalogue():
    assert tuple(draw_command.NAMES) == (*draw.figures(), *draw_command.GRAPHS)
    assert {"cifg", "mgu"} <= set(draw_command.NAMES)  # registered cells, drawn automatically
    assert draw_command.GRAPHS == ("graph", "gradient-overlay")
    assert draw_command.FORMATS == draw.FORMATS
    assert draw_command.STEPPED == tuple(draw.STEPPED)


@pytest.mark.parametrize("name", list(draw.figures()))
def test_diagram_sources_are_deterministic(name):
    assert draw.diagram(name).source == draw.diagram(name).source


@pytest.mark.parametrize("name", list(draw.figures()))
def test_node_ids_are_synthetic(name):
    nodes, _, _ = parse(draw.diagram(name))
    for node in nodes:
        assert re.fullmatch(r"(m\d+|io|i\d+)_[a-zA-Z_]+\d*", node), node


def test_committed_diagrams_match_their_source():
    committed = [p for p in sorted((ROOT / "diagrams").glob("*.dot"))
                 if p.stem in draw.figures()]
    if not committed:
        pytest.skip("no diagrams committed yet (rnn-lab draw --all diagrams)")
    for path in committed:
        assert path.read_text(encoding="utf-8") == draw.diagram(path.stem).source, path.name


def test_steps_must_be_a_positive_integer():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            draw.unrolled_rnn(bad)


def test_diagram_refuses_steps_for_fixed_diagrams():
    with pytest.raises(ValueError, match="no steps"):
        draw.diagram("legend", steps=3)
    with pytest.raises(ValueError, match="unknown diagram"):
        draw.diagram("lstm")


def test_lstm_module_refuses_an_unknown_highlight():
    with pytest.raises(ValueError, match="forget, input, update, output"):
        draw.lstm_module(highlight="reset")


# ---- structure of each diagram ---------------------------------------------------------------


def test_folded_rnn_loops_a_into_itself():
    nodes, edges, _ = parse(draw.folded_rnn())
    assert sorted(nodes) == ["m0_A", "m0_h", "m0_x"]
    assert {(t, h) for t, h, _ in edges} == {("m0_x", "m0_A"), ("m0_A", "m0_h"),
                                              ("m0_A", "m0_A")}
    assert nodes["m0_x"]["label"] == "x<sub>t</sub>"


@pytest.mark.parametrize("steps", [1, 2, 4, 7])
def test_unrolled_rnn_has_one_cluster_per_step(steps):
    nodes, edges, clusters = parse(draw.unrolled_rnn(steps))
    assert sorted(clusters) == sorted(f"cluster_t{t}" for t in range(steps))
    for t in range(steps):
        assert clusters[f"cluster_t{t}"] == {f"m{t}_x", f"m{t}_A", f"m{t}_h"}
        assert nodes[f"m{t}_x"]["label"] == f"x<sub>{t}</sub>"
        assert nodes[f"m{t}_h"]["y"] > nodes[f"m{t}_A"]["y"] > nodes[f"m{t}_x"]["y"]
    chain = [(t, h) for t, h, _ in edges if t.endswith("_A") and h.endswith("_A")]
    assert chain == [(f"m{t}_A", f"m{t + 1}_A") for t in range(steps - 1)]
    assert len({nodes[f"m{t}_A"]["y"] for t in range(steps)}) == 1  # one row of A's


def test_rnn_module_has_a_single_tanh_layer_per_module():
    nodes, _, clusters = parse(draw.rnn_module(3))
    assert len(clusters) == 3
    for m in ("m0", "m1", "m2"):
        assert [a["label"] for a in layers(nodes, m).values()] == ["tanh"]
        assert not ops(nodes, m)


@pytest.mark.parametrize("steps", [1, 3])
def test_lstm_module_has_four_layers_and_five_pointwise_ops_per_module(steps):
    nodes, _, clusters = parse(draw.lstm_module(steps))
    assert len(clusters) == steps
    for k in range(steps):
        found = layers(nodes, f"m{k}")
        assert sorted(a["label"] for a in found.values()) == ["tanh", "σ", "σ", "σ"]
        assert all(a["fillcolor"] == draw.LAYER_FILL for a in found.values())
        pointwise = ops(nodes, f"m{k}")
        assert sorted(a["label"] for a in pointwise.values()) == ["+", "tanh", "×", "×", "×"]
        assert all(a["fillcolor"] == draw.OP_FILL for a in pointwise.values())


def test_lstm_layers_read_left_to_right_forget_input_candidate_output():
    nodes, _, _ = parse(draw.lstm_module(1))
    order = sorted(layers(nodes), key=lambda n: nodes[n]["x"])
    assert [draw._part(n) for n in order] == ["sig_f", "sig_i", "tanh_g", "sig_o"]
    assert [nodes[n]["label"] for n in order] == ["σ", "σ", "tanh", "σ"]


def test_lstm_cell_state_runs_straight_along_the_top():
    nodes, edges, _ = parse(draw.lstm_module(3))
    line = ["io_c_prev"] + [f"m{k}_{p}" for k in range(3) for p in ("mul_f", "add", "c_copy")]
    line += ["io_c_next"]
    assert len({nodes[n]["y"] for n in line}) == 1
    assert [nodes[n]["x"] for n in line] == sorted(nodes[n]["x"] for n in line)
    top = nodes["m0_mul_f"]["y"]
    inside = [n for n in nodes if n.startswith("m") and not n.endswith(("_h", "_box_hi"))]
    assert all(nodes[n]["y"] <= top for n in inside)
    pairs = {(t, h) for t, h, _ in edges}
    assert all(pair in pairs for pair in itertools.pairwise(line))


def test_lstm_inputs_come_in_at_the_bottom_left():
    nodes, edges, _ = parse(draw.lstm_module(1))
    pairs = {(t, h) for t, h, _ in edges}
    assert {("io_h_prev", "m0_cat"), ("m0_x", "m0_cat")} <= pairs
    assert nodes["m0_cat"]["x"] < min(a["x"] for a in layers(nodes).values())
    assert nodes["m0_cat"]["y"] < min(a["y"] for a in layers(nodes).values())
    assert nodes["m0_h"]["y"] > nodes["m0_mul_f"]["y"]  # h_t leaves through the top


LIT = {
    "forget": ({"sig_f"}, {"mul_f"}, "f<sub>t</sub> = σ(W<sub>f</sub>·[h<sub>t−1</sub>"),
    "input": ({"sig_i", "tanh_g"}, {"mul_i"}, "tanh(W<sub>c</sub>·[h<sub>t−1</sub>"),
    "update": (set(), {"mul_f", "mul_i", "add"},
               "c<sub>t</sub> = f<sub>t</sub> * c<sub>t−1</sub> + i<sub>t</sub> * c"),
    "output": ({"sig_o"}, {"tanh_c", "mul_o"}, "h<sub>t</sub> = o<sub>t</sub> * tanh(c"),
}


@pytest.mark.parametrize("step", list(LIT))
def test_each_lstm_step_highlights_its_part_and_greys_the_rest(step):
    lit_layers, lit_ops, equation = LIT[step]
    graph = draw.lstm_step(step)
    nodes, edges, _ = parse(graph)
    for found, lit in ((layers(nodes), lit_layers), (ops(nodes), lit_ops)):
        assert {draw._part(n) for n, a in found.items() if a["color"] == draw.HIGHLIGHT} == lit
        for n, a in found.items():
            if draw._part(n) not in lit:
                assert (a["color"], a["fillcolor"]) == (draw.GREY, draw.GREY_FILL), n
    assert any(a.get("color") == draw.HIGHLIGHT for _, _, a in edges)
    assert any(a.get("color") == draw.GREY for _, _, a in edges)
    assert equation in graph.source  # the caption, with real subscripts


def test_lstm_step_names_a_known_step():
    with pytest.raises(ValueError):
        draw.lstm_step("forgot")


def test_legend_has_the_five_items():
    nodes, edges, clusters = parse(draw.legend())
    assert len(clusters) == 5
    texts = [text_of(nodes[f"i{k}_text"]["label"]) for k in range(5)]
    assert texts == ["NeuralNetworkLayer", "PointwiseOperation", "VectorTransfer",
                     "Concatenate", "Copy"]
    assert (nodes["i0_box"]["shape"], nodes["i0_box"]["fillcolor"]) == ("box", draw.LAYER_FILL)
    assert (nodes["i1_op"]["shape"], nodes["i1_op"]["fillcolor"]) == ("circle", draw.OP_FILL)
    into = {k: [t for t, h, _ in edges if h == f"i{k}_m"] for k in (3, 4)}
    out_of = {k: [h for t, h, _ in edges if t == f"i{k}_m"] for k in (3, 4)}
    assert (len(into[3]), len(out_of[3])) == (2, 1)  # concatenate: two lines merge
    assert (len(into[4]), len(out_of[4])) == (1, 2)  # copy: one line splits
    assert [(t, h) for t, h, _ in edges if t.startswith("i2_")] == [("i2_a", "i2_b")]


def test_cell_state_is_the_line_alone():
    nodes, _, _ = parse(draw.cell_state())
    assert not layers(nodes)
    assert sorted(a["label"] for a in ops(nodes).values()) == ["+", "×"]
    line = ["io_c_prev", "m0_mul_f", "m0_add", "io_c_next"]
    assert len({nodes[n]["y"] for n in line}) == 1
    assert [nodes[n]["x"] for n in line] == sorted(nodes[n]["x"] for n in line)
    assert nodes["io_c_prev"]["label"] == "c<sub>t−1</sub>"


def test_gate_is_a_sigmoid_layer_feeding_a_multiply():
    nodes, edges, _ = parse(draw.gate())
    assert [a["label"] for a in layers(nodes).values()] == ["σ"]
    assert [a["label"] for a in ops(nodes).values()] == ["×"]
    assert ("m0_sig", "m0_mul") in {(t, h) for t, h, _ in edges}


def test_gru_module_follows_the_cell_in_pytorch_convention():
    # GRUCell: n_t = tanh(W_nx x + b_nx + r_t * (W_nh h + b_nh)), h_t = (1 - z_t) n_t + z_t h_{t-1}
    graph = draw.gru_module()
    nodes, edges, _ = parse(graph)
    assert sorted(a["label"] for a in layers(nodes).values()) == [
        "W<sub>nh</sub>", "tanh", "σ", "σ"]
    assert sorted(a["label"] for a in ops(nodes).values()) == ["+", "1−", "×", "×", "×"]
    pairs = {(t, h) for t, h, _ in edges}
    assert {("m0_tap", "m0_lin_h"), ("m0_lin_h", "m0_mul_r"), ("m0_sig_r", "m0_mul_r"),
            ("m0_z_copy", "m0_one_minus"), ("m0_one_minus", "m0_mul_z"),
            ("m0_tanh_g", "m0_mul_z"), ("m0_z_copy", "m0_mul_h"),
            ("m0_h_copy", "m0_mul_h")} <= pairs
    assert ("m0_one_minus", "m0_mul_h") not in pairs  # 1 − z_t scales n_t, not h_{t-1}
    h_t = "h<sub>t</sub> = (1 − z<sub>t</sub>) * n<sub>t</sub> + z<sub>t</sub> * h<sub>t−1</sub>"
    assert h_t in graph.source
    assert "r<sub>t</sub> * (W<sub>nh</sub>·h<sub>t−1</sub> + b<sub>nh</sub>)" in graph.source


def test_peephole_lines_are_dashed_from_the_cell_state_into_the_three_sigmoids():
    nodes, edges, _ = parse(draw.peephole_module())
    dashed = [(t, h) for t, h, a in edges if a.get("style") == "dashed"]
    assert sorted(h for _, h in dashed) == ["m0_sig_f", "m0_sig_i", "m0_sig_o"]
    assert {nodes[t]["y"] for t, _ in dashed} == {nodes["m0_mul_f"]["y"]}  # on the cell line
    assert nodes["m0_peep_i"]["x"] < nodes["m0_mul_f"]["x"]  # f and i see c_{t-1}
    assert nodes["m0_peep_o"]["x"] > nodes["m0_add"]["x"]  # o sees c_t


def test_labels_are_html_with_real_subscripts():
    source = draw.lstm_module(3).source
    for label in ("x<sub>t−1</sub>", "h<sub>t+1</sub>", "c<sub>t−2</sub>"):
        assert f"label=<{label}>" in source


# ---- rendering -------------------------------------------------------------------------------


def test_draw_all_renders_every_diagram_with_its_labels(tmp_path):
    written = draw.draw_all(tmp_path)  # the example computation graphs too
    # the concept diagrams, the module figure of each cell without a hand-drawn one, examples
    assert {"cifg", "mgu"} <= set(draw.figures())
    assert len(written) == 2 * (len(draw.figures()) + len(draw.EXAMPLE_GRAPHS))
    for name in draw.figures():
        graph = draw.diagram(name)
        assert (tmp_path / f"{name}.dot").read_text(encoding="utf-8") == graph.source
        shown = svg_texts((tmp_path / f"{name}.svg").read_bytes())
        nodes, _, _ = parse(graph)
        labelled = {n: a["label"] for n, a in nodes.items() if a.get("label") not in ("", "\\N")}
        assert labelled, name
        for node, label in labelled.items():
            assert shown[node] == text_of(label), (name, node)
        assert shown[""] == text_of(caption(graph)), name
    assert not list(tmp_path.glob(".*.tmp"))


def test_svg_shows_the_lstm_symbols(tmp_path):
    svg = draw.render(draw.lstm_module(), tmp_path / "lstm.svg").read_bytes()
    texts = "".join("".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text"))
    for symbol in ("σ", "tanh", "×", "+", "x", "h", "c"):
        assert symbol in texts


def test_png_is_real_and_its_text_is_drawn(tmp_path):
    image = pytest.importorskip("PIL.Image")
    png = draw.render(draw.lstm_step("forget"), tmp_path / "forget.png", "png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    with image.open(png) as picture:
        assert len(picture.convert("RGB").getcolors(1 << 20)) > 10

    def one_node(label):
        graph = draw._digraph("probe")
        graph.node("n0", label=f"<{label}>" if label else "", shape="box", width="2",
                   height="0.6", fixedsize="true")
        with image.open(draw.render(graph, tmp_path / f"probe{len(label)}.png", "png")) as p:
            return p.convert("RGB").tobytes()

    assert one_node("Hello σ") != one_node("")  # fonts work: the label leaves ink


def test_render_writes_pdf_and_dot(tmp_path):
    graph = draw.gate()
    assert draw.render(graph, tmp_path / "g.pdf", "pdf").read_bytes()[:5] == b"%PDF-"
    assert draw.render(graph, tmp_path / "g.dot", "dot").read_text() == graph.source


def test_render_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="svg, png, pdf, dot"):
        draw.render(draw.gate(), tmp_path / "g.jpg", "jpg")
    assert not list(tmp_path.iterdir())


def test_failed_render_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    out = tmp_path / "g.svg"
    out.write_text("old")
    with pytest.raises(draw.GraphvizError, match="Graphviz failed"):
        draw.render("digraph { a -> }", out)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["g.svg"]


def test_render_gives_up_after_the_timeout(tmp_path):
    with pytest.raises(draw.GraphvizError, match="longer than"):
        draw.render(draw.lstm_module(3), tmp_path / "g.svg", timeout=1e-6)
    assert not list(tmp_path.iterdir())


def test_interrupted_render_leaves_no_partial_file(tmp_path, monkeypatch):
    def interrupted(args, **kwargs):
        Path(args[args.index("-o") + 1]).write_bytes(b"<svg half")  # dot got this far
        raise KeyboardInterrupt

    monkeypatch.setattr(rendering.subprocess, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        draw.render(draw.gate(), tmp_path / "g.svg")
    assert not list(tmp_path.iterdir())


def test_missing_graphviz_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(rendering.shutil, "which", lambda name: None)

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(rendering.importlib.metadata, "version", not_installed)  # no pygraphviz
    with pytest.raises(draw.GraphvizNotFound) as caught:
        draw.render(draw.gate(), tmp_path / "g.svg")
    assert isinstance(caught.value, RuntimeError)
    assert "apt-get install graphviz" in str(caught.value)
    assert "pip install pygraphviz" in str(caught.value)
    assert not list(tmp_path.iterdir())
    draw.render(draw.gate(), tmp_path / "g.dot", "dot")  # DOT source needs no Graphviz


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_bundled_graphviz_of_pygraphviz_renders_without_dot(tmp_path, monkeypatch, fmt):
    pytest.importorskip("pygraphviz", minversion="2.0")
    monkeypatch.setattr(rendering.shutil, "which", lambda name: None)  # no system `dot`
    out = draw.render(draw.lstm_step("forget"), tmp_path / f"f.{fmt}", fmt)
    assert [p.name for p in tmp_path.iterdir()] == [f"f.{fmt}"]
    if fmt == "svg":
        texts = "".join(ET.parse(out).getroot().itertext())
        assert "σ" in texts and "tanh" in texts
    else:
        blank = draw.render(draw.lstm_module(steps=1), tmp_path / "m.png", "png")
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert out.read_bytes() != blank.read_bytes()


# ---- escaping user text ----------------------------------------------------------------------

NASTY = [
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "\\",
    "\\N \\G \\E \\L \\n \\\\N",
    'quote at end"',
    "two\nlines\nhere",
    "<lambda> <map>",
    "]; node [shape=box color=red",
    '"]; n1 [label="x"]; n0 -> n1 [',
    "<b>bold</b> &amp; &#60; &",
    "ünïcødé σ(x) ✓ 漢字 🙂",
    "tab\there\r\nand\rreturns",
    "nul\x00 bell\x07 del\x7f",
    "x" * 10_000,
    "",
]


def visible(text: str) -> str:
    """What a label made by escape_label should show: cut to 60 characters, spaces dropped."""
    if len(text.replace("\r\n", "\n")) > draw.MAX_LABEL:
        text = text.replace("\r\n", "\n")[: draw.MAX_LABEL - 1] + "…"
    return comparable(text)


def comparable(text: str) -> str:
    skip = {"Cc", "Cs", "Zl", "Zp", "Zs"}
    return "".join(ch for ch in text if not ch.isspace() and ch not in "\ufffd\ufffe\uffff"
                   and unicodedata.category(ch) not in skip)


LAYOUT_KEYS = {"_gvid", "name", "_draw_", "_ldraw_", "height", "width", "pos", "x", "y"}


def check_label_survives(text: str):
    """Put `text` on a node, render it, and check the DOT, the layout and the SVG."""
    graph = graphviz.Digraph()
    graph.node("n0", label=f"<{draw.escape_label(text)}>")
    nodes, edges, clusters = parse(graph)  # valid DOT, as Graphviz reads it
    assert list(nodes) == ["n0"] and not edges and not clusters
    assert set(nodes["n0"]) <= LAYOUT_KEYS | {"label"}  # no attribute was injected
    shown = svg_texts(dot(graph.source, "svg"))  # parses as XML
    assert list(shown) == ["", "n0"]
    assert comparable(shown["n0"]) == visible(text)


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_escaped_label_renders_as_plain_text(text):
    check_label_survives(text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.one_of(st.characters(), st.sampled_from('<>&"\\\n\t[];=NGE ')),
               max_size=120))
def test_any_text_renders_as_plain_text(text):
    check_label_survives(text)


def test_escape_label_leaves_no_markup():
    for text in NASTY:
        escaped = draw.escape_label(text)
        assert '"' not in escaped and "\\" not in escaped
        assert re.sub(r"<br/>", "", escaped).count("<") == 0
        assert ">" not in re.sub(r"<br/>", "", escaped)


def test_escape_label_cuts_long_text_with_an_ellipsis():
    assert draw.escape_label("x" * 10_000) == "x" * (draw.MAX_LABEL - 1) + "…"
    assert draw.escape_label("x" * draw.MAX_LABEL) == "x" * draw.MAX_LABEL
    assert draw.escape_label("ab\ncd") == "ab<br/>cd"


# ---- the command line ------------------------------------------------------------------------


def test_cli_draws_a_diagram_to_a_file(tmp_path):
    (tmp_path / "tmp").mkdir()
    done = run_cli("draw", "lstm-module", "-o", "tmp/x.svg", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ET.parse(tmp_path / "tmp" / "x.svg").getroot().tag == f"{SVG}svg"


def test_cli_missing_folder_is_refused_not_created(tmp_path):
    done = run_cli("draw", "lstm-module", "-o", "tmp/x.svg", cwd=tmp_path)
    assert done.returncode == 1 and "folder tmp does not exist" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_cli_unwritable_folder_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    done = run_cli("draw", "forget", "-o", "afile/x.svg", cwd=tmp_path)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "afile" in done.stderr


def test_cli_help_shows_examples(tmp_path):
    done = run_cli("draw", "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "rnn-lab draw lstm-module -o" in done.stdout and "--all" in done.stdout


def test_cli_needs_a_name_or_all(tmp_path):
    done = run_cli("draw", cwd=tmp_path)
    assert done.returncode == 2 and "NAME --all" in done.stderr


def test_cli_all_writes_svg_and_dot_for_every_diagram(tmp_path):
    done = run_cli("draw", "--all", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = {p.name for p in (tmp_path / "out").iterdir()}
    figures = [*draw.figures(), *draw.EXAMPLE_GRAPHS]
    assert names == ({f"{n}.{ext}" for n in figures for ext in ("svg", "dot")}
                     | {f"{n}.png" for n in draw.PNG_FIGURES})
