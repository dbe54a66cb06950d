"""The folded computation graph: one block "LSTM × T" with its recurrent line, whatever T."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnn import draw

ROOT = Path(__file__).resolve().parents[1]


def drawn_nodes(graph) -> list:
    """The ids of the nodes a DOT source declares (lines `id [label=...`)."""
    return re.findall(r"^\s*(\w+) \[", graph.source, flags=re.M)


@pytest.mark.parametrize("cell, title", [("lstm", "LSTM"), ("gru", "GRU")])
def test_the_folded_graph_has_the_same_nodes_for_5_and_500_steps(cell, title):
    small, large = (draw.unrolled_graph(cell, T, fold=True) for T in (5, 500))
    assert len(drawn_nodes(small)) == len(drawn_nodes(large)) < 20
    assert f"{title} × 500" in large.source and f"{title} × 5<" in small.source
    loops = re.findall(r"^\s*(\w+) -> (\w+)", large.source, flags=re.M)
    assert ("folded", "folded") in loops  # the recurrent line
    assert len(loops) == len(re.findall(r"^\s*(\w+) -> (\w+)", small.source, flags=re.M))


def test_the_three_levels_shrink_in_order():
    full, boxes, folded = (len(drawn_nodes(draw.unrolled_graph("lstm", 8, **kw)))
                           for kw in ({}, {"collapse": True}, {"fold": True}))
    assert full > boxes > folded


def test_draw_graph_fold_on_the_command_line(tmp_path):
    out = tmp_path / "fold.dot"
    result = subprocess.run([sys.executable, "-m", "rnn", "draw", "graph", "--fold", "--steps",
                             "200", "-o", out], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "LSTM × 200" in out.read_text(encoding="utf-8")
    too_long = subprocess.run([sys.executable, "-m", "rnn", "draw", "graph", "--steps", "200",
                               "-o", out], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert too_long.returncode == 2 and "--fold" in too_long.stderr
    assert len(too_long.stderr.strip().splitlines()) == 1


def test_draw_graph_pages_links_every_step_to_its_own_drawing(tmp_path):
    out = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "rnn", "draw", "graph", "--steps", "12",
                             "--pages", out], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    steps = sorted((out / "steps").glob("t*.svg"), key=lambda p: int(p.stem[1:]))
    assert [p.stem for p in steps] == [f"t{k}" for k in range(1, 13)]
    chain = (out / "steps.svg").read_text(encoding="utf-8")
    for k in range(1, 13):
        assert f'href="steps/t{k}.svg"' in chain  # each box links to its step
    sizes = [p.stat().st_size for p in steps]
    assert max(sizes) < 1.5 * min(sizes)  # one step each, however long the chain
    assert "step t = 7 of 12" in steps[6].read_text(encoding="utf-8")
    assert "LSTM × 12" in (out / "folded.svg").read_text(encoding="utf-8")
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'data="folded.svg"' in page and 'href="steps/t12.svg"' in page
