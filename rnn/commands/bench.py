"""`rnn-lab bench NAME [args...]`: run one benchmark script, passing its own arguments on."""

from __future__ import annotations

import argparse
import importlib

from rnn.errors import UserError

# Benchmark name -> (module with `main(argv) -> int`, one line on what it measures).
BENCHMARKS = {
    "overhead": ("rnn.bench.overhead",
                 "per-op cost of autograd_lite beside PyTorch eager, HIPS autograd, NumPy"),
    "lstm": ("rnn.bench.lstm", "LSTM training step: readable cell, fused kernel, PyTorch"),
    "symbolic": ("rnn.bench.symbolic", "SymPy derivation and compiled-gradient timings"),
    "draw": ("rnn.bench.draw", "time to build and render the diagrams"),
}


def _listing() -> str:
    width = max(map(len, BENCHMARKS))
    lines = [f"  {name:<{width}}  {about}" for name, (_, about) in BENCHMARKS.items()]
    return "benchmarks:\n" + "\n".join(lines)


def register(subparsers) -> None:
    """Add the `bench` subcommand."""
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark (overhead, lstm, symbolic, draw)",
        description="Run a benchmark script; figures and ratios are measured in one run.\n\n"
        + _listing(),
        epilog="Each benchmark has its own options: rnn-lab bench NAME --help\n"
        "Example: rnn-lab bench overhead --ops 3000 --repeats 15",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=list(BENCHMARKS), metavar="NAME",
                        help="which benchmark: " + ", ".join(BENCHMARKS))
    # Everything after NAME, --help included, goes to the benchmark's own parser.
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args) -> int:
    """Import the benchmark module (only now: they pull in torch and friends) and run it."""

    module_name = BENCHMARKS[args.name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the benchmark exists but something it needs is missing: show that
        raise UserError(f"benchmark '{args.name}' is not available ({module_name} is "
                        f"missing)") from None
    return int(module.main(list(args.args)) or 0)
