"""Rendering: DOT source to svg, png or pdf with Graphviz (the system `dot`, else the Graphviz
bundled in the pygraphviz wheel), each file written by rnn.io's rule."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

from rnn.draw.svgtext import join_runs
from rnn.io import replacing

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = "install Graphviz (apt-get install graphviz) or pip install pygraphviz"


class GraphvizError(RuntimeError):
    """Graphviz failed to render a diagram."""


class GraphvizNotFound(GraphvizError):
    """Neither the `dot` program nor a Graphviz bundled with pygraphviz is available."""


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
            if format == "svg":  # subscripts every browser lays out (rnn.draw.svgtext)
                tmp.write_text(join_runs(tmp.read_text(encoding="utf-8")), encoding="utf-8")
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
