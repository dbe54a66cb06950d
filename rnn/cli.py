"""The `rnn-lab` command line: one argparse subcommand per module in `rnn.commands`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from rnn import io
from rnn.argtypes import Parser
from rnn.errors import UsageError, UserError
from rnn.interrupts import exit_status, signal_name, signal_of, sigterm_as_interrupt

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


def _tolerant_streams() -> None:
    """Characters the terminal cannot show (δ, σ on an ASCII terminal) print as \\u escapes
    instead of failing with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _os_error(exc: OSError) -> str:
    """An OSError as one sentence that names the file: "x.txt: permission denied (...)"."""
    if exc.filename is not None:
        return f"{exc.filename}: {io.reason(exc)}"
    return io.reason(exc)


def _check_environment() -> None:
    """A bad RNN_LAB_KERNELS stops any command before it starts work (UsageError)."""
    value = os.environ.get("RNN_LAB_KERNELS")
    if value:
        from rnn.kernels import select  # only when the variable is set: --help stays fast

        select.check(value)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rnn-lab` console script and of `python -m rnn`."""
    _tolerant_streams()
    args = build_parser().parse_args(argv)
    name = f"rnn-lab {args.command}"
    with sigterm_as_interrupt(), io.new_folders() as made:
        try:
            _check_environment()
            status = int(args.func(args) or 0)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (rnn.interrupts.Terminated)
            print(f"{name}: interrupted ({signal_name(signal_of(exc))})", file=sys.stderr)
            status = exit_status(exc)
        except BrokenPipeError:
            # The reader went away (`rnn-lab ... | head`): stop quietly, as shell tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            status = 141
        except UsageError as exc:
            print(f"{name}: error: {exc} (see --help)", file=sys.stderr)
            status = 2
        except UserError as exc:
            # One clear line, no traceback: the message already names the file or value.
            print(f"{name}: error: {exc}", file=sys.stderr)
            status = 1
        except OSError as exc:
            print(f"{name}: error: {_os_error(exc)}", file=sys.stderr)
            status = 1
        except MemoryError:
            print(f"{name}: error: out of memory; try smaller sizes", file=sys.stderr)
            status = 1
        if status != 0:
            io.remove_empty(made)  # no empty folder this failed run made is left behind
    return status


if __name__ == "__main__":
    sys.exit(main())
