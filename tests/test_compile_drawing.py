"""A compiled program is drawn like an eager graph: `rnn-lab draw graph --compiled`."""

import collections
import shutil
import subprocess
import sys

import pytest

import autograd_lite as al
from rnn import draw
from rnn.draw.timesteps import time_steps

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")


def test_the_program_has_the_eager_graphs_ops_labels_and_steps():
    eager = al.to_networkx(draw.unrolled_loss("lstm", 3))
    program = al.to_networkx(draw.unrolled_loss("lstm", 3, compiled=True))

    def count(g, field):
        return collections.Counter(g.nodes[n][field] for n in g.nodes)

    # The same ops, plus those that read the argument x, which are constants to the eager
    # graph (x needs no gradient): x[t] at each step, and the first step's [h_0, x_1].
    extra = count(program, "op") - count(eager, "op")
    assert extra == collections.Counter({"getitem": 3, "concat": 1})
    assert all(op is None for op in count(eager, "op") - count(program, "op"))  # leaves
    assert count(program, "label") - count(eager, "label") == collections.Counter({None: 3})
    assert len(set(time_steps(program).values())) == len(set(time_steps(eager).values())) == 3


def test_draw_graph_compiled_writes_a_figure(tmp_path):
    out = tmp_path / "program.svg"
    result = subprocess.run([sys.executable, "-m", "rnn", "draw", "graph", "--compiled",
                             "--steps", "2", "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "f_t" in out.read_text() and "h_t" in out.read_text()


def test_draw_graph_compiled_refuses_grad():
    result = subprocess.run([sys.executable, "-m", "rnn", "draw", "graph", "--compiled",
                             "--grad"], capture_output=True, text=True)
    assert result.returncode == 2 and "keeps no gradients" in result.stderr
