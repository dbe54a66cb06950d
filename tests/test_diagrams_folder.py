"""The diagrams/ folder is what `rnn-lab draw --all diagrams` writes, and never goes stale."""

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rnn import draw

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "diagrams"
FIGURES = {**draw.figures(), **draw.EXAMPLE_GRAPHS}
SVG = "{http://www.w3.org/2000/svg}"
REGENERATE = "regenerate with: rnn-lab draw --all diagrams"

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")


def committed(name: str) -> str:
    return (FOLDER / f"{name}.dot").read_text(encoding="utf-8")


def test_folder_holds_every_figure_and_nothing_else():
    # plots/ holds the README's matplotlib plots, copied from a full `rnn-lab demo` run,
    # (born_in_*) from `rnn-lab experiment born-in` and (cliff) from `rnn-lab experiment cliff`
    names = {p.name for p in FOLDER.iterdir()} - {"plots"}
    want = {f"{n}.{ext}" for n in FIGURES for ext in ("dot", "svg")}
    want |= {f"{n}.png" for n in draw.PNG_FIGURES}
    assert names == want, f"{REGENERATE}: missing {sorted(want - names)}, extra " \
                          f"{sorted(names - want)}"


@pytest.mark.parametrize("name", list(FIGURES))
def test_committed_dot_source_is_up_to_date(name):
    assert committed(name) == FIGURES[name]().source, f"{name}.dot is stale; {REGENERATE}"


def test_dot_sources_hold_no_addresses_and_no_long_floats():
    for name in FIGURES:
        source = committed(name)
        assert not re.search(r"0x[0-9a-fA-F]{6,}", source), name
        assert not re.search(r"\d\.\d{5,}", source), name  # gradients: 2 significant digits


def test_graph_sources_are_the_same_in_a_fresh_process_with_other_threads_and_hashes():
    # Gradient values land in labels and colours: they must not depend on BLAS threads,
    # hash seeds or the order of earlier work in the process.
    code = ("import sys, json; from rnn import draw; "
            "print(json.dumps({n: m().source for n, m in draw.EXAMPLE_GRAPHS.items()}))")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for name, source in json.loads(done.stdout).items():
        assert source == committed(name), name


@needs_dot
@pytest.mark.parametrize("name", list(FIGURES))
def test_committed_svg_is_drawn_from_the_committed_source(name):
    svg = ET.parse(FOLDER / f"{name}.svg").getroot()
    assert svg.tag == f"{SVG}svg"
    titles = {t.text for g in svg.iter(f"{SVG}g") if g.get("class") in ("node", "cluster")
              for t in g.findall(f"{SVG}title")}
    done = subprocess.run(["dot", "-Tjson0"], input=committed(name).encode(),
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    objects = json.loads(done.stdout).get("objects", [])
    # every cluster has a group in the SVG; invisible nodes have none
    expected = {o["name"] for o in objects if o["name"].startswith("cluster")
                or ("nodes" not in o and o.get("style") != "invis")}
    assert titles == expected, f"{name}.svg does not match {name}.dot; {REGENERATE}"


def test_readme_plots_are_png_images():
    plots = sorted((FOLDER / "plots").iterdir())
    assert [p.name for p in plots] == ["born_in_accuracy_vs_gap.png", "born_in_country_units.png",
                                       "born_in_forget_gate.png", "cliff.png",
                                       "conveyor_belt.png", "grad_norm_vs_lag.png"]
    for p in plots:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_copies_are_images():
    for name in draw.PNG_FIGURES:
        assert (FOLDER / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
