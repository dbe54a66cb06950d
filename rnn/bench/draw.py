"""How long drawing takes: a live computation graph from model to SVG, phase by phase.

The graph is the readable (primitive) path of a cell unrolled T steps, every gate a node. The
phases: build the model's graph (forward pass, and backward with --grad), export it with
`to_networkx`, build the graphviz.Digraph, lay it out and write SVG with `dot`. Medians of a
few runs; the budget is 2 s from model to SVG for an LSTM unrolled 50 steps.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from autograd_lite.graph import to_networkx
from rnn import draw
from rnn.argtypes import Parser, int_between, positive_int
from rnn.cells import cell_names

BUDGET = 2.0  # seconds, model to SVG, LSTM at T = 50
PHASES = ("model graph", "to_networkx", "Digraph", "dot layout + svg")
MAX_STEPS = 500  # a longer graph is collapsed anyway; beyond it only the wait grows


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's own options (after `rnn-lab bench draw`)."""
    parser = Parser(
        prog="rnn-lab bench draw",
        description="Time drawing the computation graph of an unrolled cell, model to SVG.",
        epilog="Example: rnn-lab bench draw --steps 50 --repeats 5",
    )
    parser.add_argument("--steps", type=int_between(1, MAX_STEPS), default=50, metavar="T",
                        help=f"time steps to unroll, 1 to {MAX_STEPS} (default 50)")
    parser.add_argument("--cell", choices=cell_names(), default="lstm",
                        help="the cell (default lstm)")
    parser.add_argument("--repeats", type=positive_int, default=5, metavar="N",
                        help="runs per phase; medians are printed (default 5)")
    parser.add_argument("--format", choices=("svg", "png", "pdf"), default="svg",
                        help="what dot writes (default svg)")
    parser.add_argument("--grad", action="store_true",
                        help="also run backward and draw the gradient overlay")
    parser.add_argument("--collapse", action="store_true", help="one box per time step")
    parser.add_argument("--check", action="store_true",
                        help=f"exit with status 1 if the total is over {BUDGET:g} s")
    return parser


def run_once(args, folder: Path) -> tuple[list[float], dict]:
    """One pass through the four phases: their times and the sizes of what was drawn."""
    times = []
    start = time.perf_counter()
    loss = draw.unrolled_loss(args.cell, args.steps, backward=args.grad)
    times.append(time.perf_counter() - start)

    start = time.perf_counter()
    g = to_networkx(loss)
    times.append(time.perf_counter() - start)

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", draw.GraphCollapsed)
        graph = draw.computation_graph(g, grad=args.grad, collapse=args.collapse)
        source = graph.source
    times.append(time.perf_counter() - start)

    start = time.perf_counter()
    out = draw.render(graph, folder / f"graph.{args.format}", args.format, timeout=120)
    times.append(time.perf_counter() - start)

    sizes = {
        "tensors": g.number_of_nodes(),
        "drawn nodes": sum(1 for line in source.splitlines()
                           if " [label=" in line and "->" not in line),
        "drawn edges": source.count(" -> "),
        "invisible edges": source.count("style=invis"),
        "time steps": len(draw.step_outputs(g)),
        f"{args.format} bytes": out.stat().st_size,
        "notes": [str(n.message) for n in notes],
    }
    return times, sizes


def concept_diagrams(folder: Path) -> float:
    """Seconds to build and render every concept diagram once."""
    start = time.perf_counter()
    for name, make in draw.CONCEPT_DIAGRAMS.items():
        draw.render(make(), folder / f"{name}.svg")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print each phase's median; returns an exit status."""
    args = build_parser().parse_args(argv)
    if shutil.which("dot") is None:
        print("rnn-lab bench draw: needs Graphviz's dot on PATH (apt-get install graphviz)",
              file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench_draw_") as tmp:
        folder = Path(tmp)
        run_once(args, folder)  # warm-up: imports, font cache
        runs, sizes = [], {}
        for _ in range(args.repeats):
            times, sizes = run_once(args, folder)
            runs.append(times)
        concepts = concept_diagrams(folder)
    medians = [statistics.median(r[k] for r in runs) for k in range(len(PHASES))]
    total = statistics.median(sum(r) for r in runs)
    what = f"{args.cell.upper()} unrolled {args.steps} steps, readable path"
    what += ", backward + gradient overlay" if args.grad else ""
    what += ", collapsed" if args.collapse else ""
    print(f"draw benchmark: {what}; median of {args.repeats} runs")
    print(f"  {sizes['tensors']} tensors, {sizes['time steps']} time steps -> "
          f"{sizes['drawn nodes']} drawn nodes, {sizes['drawn edges']} edges "
          f"({sizes['invisible edges']} invisible, for layout), "
          f"{sizes[f'{args.format} bytes'] / 1e6:.1f} MB of {args.format}")
    for note in sizes["notes"]:
        print(f"  note: {note}")
    for phase, seconds in zip(PHASES, medians):
        print(f"  {phase:<18} {seconds * 1e3:8.1f} ms")
    verdict = "within" if total <= BUDGET else "OVER"
    print(f"  {'total':<18} {total * 1e3:8.1f} ms   ({verdict} the {BUDGET:g} s budget)")
    print(f"all concept diagrams built and rendered to SVG, once: {concepts * 1e3:.0f} ms")
    return 1 if args.check and total > BUDGET else 0


if __name__ == "__main__":
    sys.exit(main())
