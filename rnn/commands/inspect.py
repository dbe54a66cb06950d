"""`rnn-lab inspect`: an offline page of a character model's activations over a text, the units
that follow a pattern, and (with --gradients) how the gradient flows."""

from __future__ import annotations

import argparse
import os
import re
import time

from rnn.argtypes import file_name, memory_size, positive_int
from rnn.blas import single_thread_blas
from rnn.errors import UsageError, UserError
from rnn.resources import ENV as MEMORY_ENV

EXAMPLE = """\
examples:
  rnn-lab train --task text --text input.txt --checkpoint model.npz --steps 3000
  rnn-lab inspect model.npz --text input.txt -o inspect-out
  rnn-lab inspect model.npz --text input.txt -o inspect-out --find '"[^"]*"' --find-depth
  rnn-lab inspect model.npz --text code.py -o out --find-column --unit 17 --quantity c
  rnn-lab inspect model.npz --text input.txt -o out --gradients --grad-chars 60

Writes DIR/index.html (open it in a browser; it needs no network), DIR/data/ (what the page
loads), DIR/activations.npz (text, l0/f, l0/c, l0/h, ... of shape (T, H), top5/ids, top5/p)
and, with --gradients, DIR/gradients.npz and three plots.
"""


def regex(text: str) -> str:
    """argparse type: a regular expression that compiles."""
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"the regex {text!r} does not compile: {exc}") \
            from None
    return text


def bracket_pairs(text: str) -> str:
    """argparse type: bracket openers and closers in pairs, e.g. "()[]{}"."""
    if len(text) < 2 or len(text) % 2:
        raise argparse.ArgumentTypeError(f"bracket pairs {text!r}: give openers and closers "
                                         f"in pairs, e.g. '()[]{{}}'")
    return text


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect", help="see a character model's gates over a text, find units that follow "
                        "a pattern",
        description="Run a character model over a text and write an offline HTML page: every "
                    "character coloured by one unit's activation (h, c or any gate, any "
                    "layer), every gate and the top-5 next characters on hover, and a search "
                    "for the units that follow a pattern.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=file_name, metavar="CHECKPOINT",
                   help="a checkpoint of a character model (rnn-lab train --task text)")
    p.add_argument("--text", type=file_name, required=True, metavar="FILE",
                   help="UTF-8 text to run the model over")
    p.add_argument("-o", "--out", type=file_name, required=True, metavar="DIR",
                   help="folder to write into (made if missing)")
    p.add_argument("--find", type=regex, action="append", default=[], metavar="REGEX",
                   help="rank the units by correlation with the spans REGEX matches "
                        "(repeatable), e.g. '\"[^\"]*\"' for inside quotes")
    p.add_argument("--find-depth", nargs="?", const="()[]{}", type=bracket_pairs,
                   metavar="PAIRS",
                   help="rank the units by correlation with the bracket nesting depth "
                        "(default pairs: ()[]{})")
    p.add_argument("--find-column", action="store_true",
                   help="rank the units by correlation with the position in the line")
    p.add_argument("--top", type=positive_int, default=10, metavar="N",
                   help="units to list per search (default 10)")
    p.add_argument("--layer", type=int, default=None, metavar="L",
                   help="layer the page shows first (default: the best unit's, else 0)")
    p.add_argument("--unit", type=int, default=None, metavar="J",
                   help="unit the page shows first (default: the best one found, else 0)")
    p.add_argument("--quantity", default=None, metavar="Q",
                   help="quantity the page shows first: h, c, f, i, o, ... (default c or h)")
    p.add_argument("--replace-unknown", nargs="?", const="", default=None, metavar="CHAR",
                   help="map characters outside the model's vocabulary to CHAR (default: a "
                        "space) instead of stopping")
    p.add_argument("--gradients", action="store_true",
                   help="also measure connectivity, per-step gradient contributions and the "
                        "Jacobian chain over the first --grad-chars characters")
    p.add_argument("--grad-chars", type=positive_int, default=50, metavar="N",
                   help="characters for --gradients (default 50)")
    p.add_argument("--max-memory", type=memory_size, metavar="SIZE",
                   help="refuse a text whose activations would need more memory, e.g. 8GB "
                        "(default: $RNN_LAB_MAX_MEMORY, else half the RAM)")
    p.set_defaults(func=run)


def _initial_view(args, finds, quantities) -> dict:
    """The unit the page shows first: the one asked for, else the best one found."""
    best = next((m for f in finds for m in f.matches
                 if args.layer in (None, m.layer) and args.quantity in (None, m.quantity)), None)
    if args.unit is None and best is not None:
        return {"layer": best.layer, "unit": best.unit, "quantity": best.quantity}
    return {"layer": args.layer or 0, "unit": args.unit or 0,
            "quantity": args.quantity or ("c" if "c" in quantities else "h")}


def run(args) -> int:
    single_thread_blas()
    if args.max_memory is not None:
        os.environ[MEMORY_ENV] = str(args.max_memory)  # read by the memory checks
    from rnn.checkpoint import load_checkpoint
    from rnn.data import read_text
    from rnn.inspect import UnknownCharacters, prepare_text, record
    from rnn.inspect.find import rank_units, targets
    from rnn.inspect.page import write_page
    from rnn.inspect.report import gradient_flow, write_gradient_flow
    from rnn.io import check_output_folder, output_folder
    from rnn.resources import check_memory
    from rnn.training import model_from_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    model, config, vocab = model_from_checkpoint(ckpt)
    if config.task != "text":
        raise UserError(f"{args.checkpoint}: a model of --task {config.task}, not a character "
                        f"model; inspect needs one trained with --task text")
    try:
        text, replaced = prepare_text(read_text(args.text), vocab, args.replace_unknown,
                                      args.text)
    except UnknownCharacters as exc:
        raise UserError(f"{exc}; pass --replace-unknown[=CHAR] to map them to a space "
                        f"(or CHAR)") from None
    layer = model.layer
    if args.layer is not None and not 0 <= args.layer < layer.num_layers:
        raise UsageError(f"--layer {args.layer} is out of range: the model has "
                        f"{layer.num_layers} layer(s), 0 to {layer.num_layers - 1}")
    if args.unit is not None and not 0 <= args.unit < layer.hidden_size:
        raise UsageError(f"--unit {args.unit} is out of range: the model has "
                        f"{layer.hidden_size} units per layer, 0 to {layer.hidden_size - 1}")
    quantities = record(model, vocab, text[:1]).quantities(args.layer or 0)
    if args.quantity is not None and args.quantity not in quantities:
        raise UsageError(f"--quantity {args.quantity!r}: a {config.cell} layer has "
                        f"{', '.join(quantities)}")
    wanted = targets(text, args.find, args.find_depth, args.find_column)
    # every quantity of every layer as float64 (T, H), about twice over while it is written
    check_memory(2 * 8 * len(text) * layer.hidden_size * layer.num_layers
                 * (len(quantities) + 1), f"the activations of {len(text):,} characters")
    check_output_folder(args.out)

    t0 = time.perf_counter()
    acts = record(model, vocab, text)
    acts.replaced = replaced
    seconds = time.perf_counter() - t0
    finds = [rank_units(acts, series, name, args.top) for name, series in wanted]
    flow = gradient_flow(model, vocab, text[:args.grad_chars + 1]) if args.gradients else None

    folder = output_folder(args.out)
    acts.save(folder / "activations.npz")
    figures = write_gradient_flow(flow, folder) if flow is not None else ()
    initial = _initial_view(args, finds, quantities)
    page = write_page(acts, folder, f"rnn-lab inspect: {config.cell} on {args.text}", finds,
                      initial, figures)
    print(f"recorded {len(acts.keys())} arrays of {len(text)} x {acts.hidden_size} "
          f"({config.cell}, {layer.num_layers} layer(s)) in {seconds:.1f} s"
          + (f"; {replaced} unknown characters replaced" if replaced else ""))
    for f in finds:
        print(f.table())
    for line in flow.summary() if flow is not None else ():
        print(line)
    print(f"wrote {folder / 'activations.npz'} and {page} (open it in a browser)")
    return 0
