"""The `rnn-lab` command line: one argparse subcommand per module in `rnn.commands`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from rnn.argtypes import Parser
from rnn.errors import UserError

# Subcommand name -> module that defines `register(subparsers)`; each module keeps its
# heavy imports inside the function that runs, so `--help` stays fast.
COMMANDS = {
    "demo": "rnn.commands.demo",
    "gradcheck": "rnn.commands.gradcheck",
    "derive": "rnn.commands.derive",
    "bench": "rnn.commands.bench",
    "draw": "rnn.commands.draw",
    "train": "rnn.commands.train",
    "sample": "rnn.commands.sample",
    "experiment": "rnn.commands.experiment",
    "inspect": "rnn.commands.inspect",
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = Parser(
        prog="rnn-lab",
        description="See inside recurrent networks: derive, draw and train RNNs and LSTMs.",
        epilog="Example: rnn-lab demo --quick   (each subcommand has its own --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rnn-lab` console script and of `python -m rnn`."""
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
    except KeyboardInterrupt:
        print("rnn-lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`rnn-lab ... | head`): stop quietly, as shell tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (UserError, OSError) as exc:
        # One clear line, no traceback: the message already names the file or value.
        print(f"rnn-lab {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
