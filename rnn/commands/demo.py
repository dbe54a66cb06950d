"""`rnn-lab demo`: the main job, the first thing to run (derive, draw, train, plot, summarise)."""

from __future__ import annotations

import argparse
import sys

from rnn.argtypes import file_name, seed
from rnn.blas import single_thread_blas
from rnn.interrupts import exit_status, signal_name, signal_of

EXAMPLE = """\
examples:
  rnn-lab demo                          the full demo (about 2 minutes) into ./rnn-lab-demo
  rnn-lab demo --quick --out /tmp/demo  every part, smaller, in under 30 seconds
  rnn-lab demo --text input.txt         train the character model on your own text

The five parts:
  1. derive the LSTM's gate gradients with SymPy and cross-check them against the engine
  2. draw the walk-through's figures and an RNN-vs-LSTM computation graph shaded by gradient
  3. train a tanh RNN and an LSTM on the adding problem with the same budget, and a
     character LSTM on a text (default: the Python language reference), then sample from it
  4. plot the loss curves, the gradient norm against lag and the LSTM's conveyor belt
  5. print a summary; open DIR/index.html to see everything together
The same --seed gives the same numbers. Ctrl-C (exit status 130) or SIGTERM (143) stops it,
ends its worker processes and leaves only complete files behind (and no empty folder).
"""


def register(subparsers) -> None:
    """Add the `demo` subcommand to the `rnn-lab` parser."""
    p = subparsers.add_parser(
        "demo", help="the main job: derive, draw and train, with an index.html of it all",
        description="Run the whole tour in a few minutes: symbolic LSTM gradients, the "
                    "walk-through's figures,\nRNN vs LSTM on a long-term dependency, a "
                    "character model, and plots, gathered in DIR/index.html.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=file_name, default="rnn-lab-demo", metavar="DIR",
                   help="folder for everything the demo writes (default ./rnn-lab-demo)")
    p.add_argument("--seed", type=seed, default=0, metavar="S",
                   help="random seed, 0 to 2**63 - 1; the same seed gives the same numbers "
                        "(default 0)")
    p.add_argument("--quick", action="store_true",
                   help="smaller models and shorter runs: every part in under 30 seconds")
    p.add_argument("--text", type=file_name, metavar="FILE",
                   help="UTF-8 text for the character model (default: the Python language "
                        "reference shipped with Python, pydoc_data.topics)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the demo; a bad input or output raises UserError, Ctrl-C returns 130."""
    single_thread_blas()  # before NumPy loads: the workers and this process run 1 BLAS thread
    from tqdm.auto import tqdm

    from rnn.demo import run_demo

    progress = not args.no_progress and sys.stderr.isatty()

    def log(line: str) -> None:
        tqdm.write(line, file=sys.stdout)  # above any progress bar
        sys.stdout.flush()

    try:
        run_demo(args.out, seed=args.seed, quick=args.quick, text_path=args.text, log=log,
                 progress=progress)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM
        sys.stdout.flush()
        print(f"rnn-lab demo: interrupted ({signal_name(signal_of(exc))}); the files already "
              f"in {args.out} are complete", file=sys.stderr)
        return exit_status(exc)
    return 0
