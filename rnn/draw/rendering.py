"""Rendering: DOT source to svg, png or pdf with Graphviz (the system `dot`, else the Graphviz
bundled in the pygraphviz wheel), each file written by rnn.io's rule."""

from __future__ import annotations

import importlib.metadata
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from rnn.draw.svgtext import join_runs
from rnn.io import output_target, replacing

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = "install Graphviz (apt-get install graphviz) or pip install pygraphviz"


class GraphvizError(RuntimeError):
    """Graphviz failed to render a diagram."""


class GraphvizNotFound(GraphvizError):
    """Neither the `dot` program nor a Graphviz bundled with pygraphviz is available."""


# What to do when Graphviz is ended by a signal, beside the signal's name.
_SIGNAL_HINTS = {
    signal.SIGXFSZ: "the file size limit was reached: raise it (ulimit -f) or draw fewer steps",
    signal.SIGKILL: "killed, perhaps out of memory: draw fewer steps or use --collapse",
    signal.SIGSEGV: "Graphviz crashed: try another format or fewer steps",
    signal.SIGABRT: "Graphviz aborted: try another format or fewer steps",
    signal.SIGTERM: "stopped from outside",
}


def format_of(path, format: str | None = None) -> str:
    """The format that `path`'s suffix names (svg, png, pdf or dot); ValueError for a suffix
    that names none, or that disagrees with `format` when one is given."""
    suffix = Path(path).suffix[1:].lower()
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if suffix not in FORMATS:
        raise ValueError(f"{Path(path).name}: the name must end in .svg, .png, .pdf or .dot "
                         f"(format must be one of {', '.join(FORMATS)})")
    if format is not None and format != suffix:
        raise ValueError(f"{Path(path).name} ends in .{suffix} but the format asked for is "
                         f"{format}; make them agree")
    return suffix


def _failure(returncode: int, stderr: bytes, name: str, who: str = "Graphviz") -> str:
    """Why Graphviz failed, in words: its first error line, or the signal that ended it."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"{who} was ended by signal {-returncode} while drawing {name}"
        hint = _SIGNAL_HINTS.get(sig, "try again, or with fewer steps")
        return f"{who} was killed by {sig.name} while drawing {name} ({hint})"
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    detail = lines[0] if who == "Graphviz" and lines else (lines[-1] if lines else "")
    return f"{who} failed to draw {name}: {detail or f'exit status {returncode}'}"


def render(graph, path, format: str | None = None, timeout: float = 30) -> Path:
    """Write `graph` to `path` by rnn.io's rule (a failure or Ctrl-C leaves no file; a link is
    written through; a pipe or device is refused), in the format its suffix names: .svg,
    .png, .pdf or .dot. `format`, if given, must agree with the suffix (ValueError)."""
    output_target(path, "figure")  # an empty name or a special file first
    format = format_of(path, format)
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
        raise GraphvizError(_failure(done.returncode, done.stderr, name))


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
        raise GraphvizError(_failure(done.returncode, done.stderr, name,
                                     "Graphviz (pygraphviz)"))
    return True
