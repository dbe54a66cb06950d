"""`rnn-lab draw`: render the concept diagrams (colah's LSTM figures) and computation graphs."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from rnn.argtypes import CELL_CHOICES, LazyChoices, file_name, int_between
from rnn.errors import UsageError, UserError
from rnn.io import output_folder, output_target

GRAPHS = ("graph", "gradient-overlay")  # computation graphs of a live model
# Spelled out here so that `--help` does not import graphviz; a test keeps them in step with
# rnn.draw.FORMATS and STEPPED. The figure names come from rnn.draw.figures() (the concept
# diagrams and a module figure per registered cell), imported only when NAME is checked.
NAMES = LazyChoices(lambda: (*_draw().figures(), *GRAPHS))
FORMATS = ("svg", "png", "pdf", "dot")
STEPPED = ("unrolled", "rnn-module", "lstm-module", "gru", "peephole")
MAX_STEPS = 50
MAX_FOLDED = 1000  # a folded graph draws the same few nodes for any T
DEFAULT_STEPS = {"graph": 3, "gradient-overlay": 30}

EPILOG = """\
examples:
  rnn-lab draw lstm-module -o lstm.svg       the LSTM chain, three modules
  rnn-lab draw unrolled --steps 6 -o rnn.png an RNN unrolled for six time steps
  rnn-lab draw forget --format pdf           writes forget.pdf here
  rnn-lab draw graph --steps 4 --cell gru    the live computation graph of a GRU, 4 steps
  rnn-lab draw graph --grad --collapse       after backward, shaded by gradient norm
  rnn-lab draw graph --compiled              the program autograd_lite.compile makes of it
  rnn-lab draw graph --fold --steps 500      one block "LSTM × 500" with its recurrent line
  rnn-lab draw graph --steps 500 --pages g   g/index.html: folded, one box per step, and each
                                             box linked to that step's gates (steps/tK.svg)
  rnn-lab draw gradient-overlay --steps 30   RNN beside LSTM: the vanishing gradient
  rnn-lab draw mgu -o mgu.svg                a registered cell's module, drawn automatically
  rnn-lab draw --all diagrams                every figure as NAME.svg and NAME.dot

NAME is a concept diagram (folded, unrolled, rnn-module, lstm-module, legend, cell-state, gate,
forget, input, update, output, gru, peephole), the module of any other registered cell by its
name (cifg, mgu, ...: drawn from the cell's traced equations), graph or gradient-overlay.
graph draws a small model unrolled T steps (--steps, default 3) on the readable path, every
gate a node, one cluster per time step; --collapse draws each step as one box, --fold all
the steps as one block "LSTM × T" with its recurrent line (any T up to 1000), --grad
shades every node and line by the norm of the loss's gradient (log scale, colour bar).
gradient-overlay draws an RNN and an LSTM (or --cell) unrolled T steps (default 30) side by
side, the loss on the last step only, each step shaded by the gradient reaching it."""


def _draw():
    import rnn.draw  # graphviz, sympy: only when a figure name is checked or drawn

    return rnn.draw


def register(subparsers) -> None:
    """Add the `draw` subcommand to the `rnn-lab` parser."""
    parser = subparsers.add_parser(
        "draw",
        help="draw the RNN and LSTM concept diagrams and computation graphs",
        description="Draw the RNN and LSTM concept diagrams with Graphviz, in the visual\n"
        "language of colah's 'Understanding LSTM Networks', and the live computation\n"
        "graph of a small model, unrolled in time.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", choices=NAMES, metavar="NAME", help="the diagram")
    which.add_argument("--all", type=file_name, metavar="FOLDER",
                       help="write every diagram into FOLDER")
    parser.add_argument("--steps", type=int_between(1, MAX_FOLDED), metavar="T",
                        help=f"time steps or modules in a row ({', '.join(STEPPED + GRAPHS)}; "
                        f"at most {MAX_STEPS}, or {MAX_FOLDED} with --fold)")
    parser.add_argument("-o", "--output", type=file_name, metavar="FILE",
                        help="default: NAME.FORMAT here")
    parser.add_argument("--format", choices=FORMATS,
                        help="svg, png, pdf or dot (default: from the -o suffix, else svg)")
    parser.add_argument("--cell", choices=CELL_CHOICES, metavar="CELL",
                        help="graph: the cell to unroll (default lstm); gradient-overlay: "
                        "the cell drawn beside the RNN (default lstm)")
    parser.add_argument("--grad", action="store_true",
                        help="graph: run backward and shade by gradient norm")
    parser.add_argument("--collapse", action="store_true",
                        help="graph: one box per time step instead of every gate")
    parser.add_argument("--compiled", action="store_true",
                        help="graph: draw the compiled program (autograd_lite.compile) of the "
                             "same model instead of its eager graph")
    parser.add_argument("--fold", action="store_true",
                        help="graph: all the time steps as one block with its recurrent line")
    parser.add_argument("--pages", type=file_name, metavar="FOLDER",
                        help="graph: write the three levels into FOLDER (index.html, "
                        "folded.svg, steps.svg, steps/tK.svg), each step its own drawing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Render the diagram(s) asked for; mistakes raise UserError (one line, exit status 1)."""
    from rnn import draw

    graph_only = [flag for flag, given in (("--cell", args.cell), ("--grad", args.grad),
                                           ("--collapse", args.collapse),
                                           ("--compiled", args.compiled),
                                           ("--fold", args.fold)) if given]
    if args.pages is not None:
        return _pages(args)
    if args.steps is not None and args.steps > MAX_STEPS and not args.fold:
        raise UsageError(f"--steps {args.steps}: at most {MAX_STEPS} unless the graph is "
                         f"drawn with --fold")
    if args.fold and args.collapse:
        raise UsageError("--fold and --collapse are two levels of one drawing: choose one")
    if args.all is not None:
        if args.output or args.steps or graph_only:
            raise UsageError("--all draws every diagram at its default size into FOLDER; "
                            "-o, --steps, --cell, --grad, --collapse, --fold and --compiled "
                            "are for one diagram")
        folder = output_folder(args.all)
        fmt = args.format or "svg"
        try:
            written = draw.draw_all(folder, fmt, png=draw.PNG_FIGURES if fmt == "svg" else ())
        except draw.GraphvizError as exc:
            raise UserError(str(exc)) from None
        print(f"wrote {len(written)} files to {folder}")
        return 0
    if args.name not in GRAPHS and graph_only:
        raise UsageError(f"{', '.join(graph_only)}: only for graph (--cell also for "
                         f"gradient-overlay), not for the concept diagram {args.name}")
    if args.steps and args.name not in STEPPED + GRAPHS:
        raise UsageError(f"--steps is for {', '.join(STEPPED + GRAPHS)}; {args.name} is drawn "
                         f"at one size")
    if args.name == "gradient-overlay" and (args.collapse or args.grad or args.fold
                                            or args.compiled):
        raise UsageError("gradient-overlay is always collapsed and shaded by gradient; "
                         "--grad, --collapse, --fold and --compiled are for graph")
    if args.compiled and args.grad:
        raise UsageError("--compiled draws a program, which keeps no gradients; --grad is for "
                         "the eager graph")
    if args.name == "gradient-overlay" and args.cell == "rnn":
        raise UsageError("gradient-overlay draws the RNN beside another cell: choose "
                         "--cell lstm, gru, peephole, cifg, mgu, ...")
    if args.output:
        try:
            fmt = draw.format_of(args.output, args.format)
        except ValueError as exc:
            raise UsageError(f"-o {exc}") from None
    else:
        fmt = args.format or "svg"
    out = Path(args.output or f"{args.name}.{fmt}")
    output_target(out, "figure")  # a bad -o fails before the drawing
    try:
        if args.name in GRAPHS:
            graph = _computation_graph(draw, args)
        else:
            graph = draw.diagram(args.name, args.steps)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        draw.render(graph, out, fmt)
    except draw.GraphvizError as exc:
        raise UserError(str(exc)) from None
    print(out)
    return 0


def _pages(args) -> int:
    """`draw graph --pages FOLDER`: the three levels of the graph as linked drawings."""
    from rnn.cells import cell_class
    from rnn.draw.examples import unrolled_loss
    from rnn.draw.stepped import write_step_pages

    if args.name != "graph" or args.all or args.output or args.fold or args.collapse \
            or args.grad or args.compiled or args.format not in (None, "svg"):
        raise UsageError("--pages is for graph alone (with --steps and --cell): it writes "
                         "every level itself, as SVG")
    cell = args.cell or "lstm"
    steps = args.steps or DEFAULT_STEPS["graph"]
    title = cell_class(cell).title.split(" (")[0]
    print(write_step_pages(unrolled_loss(cell, steps), args.pages, title))
    return 0


def _computation_graph(draw, args):
    """The live computation graph asked for; notes (a graph collapsed for size) go to stderr."""
    steps = args.steps or DEFAULT_STEPS[args.name]
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", draw.GraphCollapsed)
        if args.name == "graph":
            graph = draw.unrolled_graph(args.cell or "lstm", steps, grad=args.grad,
                                        collapse=args.collapse, fold=args.fold,
                                        compiled=args.compiled)
        else:
            graph = draw.gradient_overlay(steps, cells=("rnn", args.cell or "lstm"))
    for note in notes:
        print(f"rnn-lab draw: note: {note.message}", file=sys.stderr)
    return graph
