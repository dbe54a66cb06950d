"""`rnn-lab sample`: generate text from a character model saved by `rnn-lab train`."""

from __future__ import annotations

import argparse
import sys

from rnn.argtypes import file_name, non_empty, non_negative_int, positive_float, seed
from rnn.blas import single_thread_blas
from rnn.errors import UserError

EXAMPLE = """\
example:
  rnn-lab train --task text --text input.txt --checkpoint shakespeare.npz --steps 3000
  rnn-lab sample shakespeare.npz --prime "ROMEO:" --temperature 0.8 --length 300 --seed 1

Lower temperatures give safer, more repetitive text; higher ones more surprising text.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sample", help="generate text from a trained character model",
        description="Generate characters from a text model's checkpoint: the prime text is "
                    "fed first, then each next character is drawn from softmax(logits / T).",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=file_name, metavar="CHECKPOINT",
                   help="a checkpoint of --task text")
    p.add_argument("--prime", type=non_empty, default=None, metavar="TEXT",
                   help="text to start from (default: one random character of the vocabulary)")
    p.add_argument("--temperature", type=positive_float, default=1.0, metavar="X",
                   help="sampling temperature > 0 (default 1.0); a temperature so small that "
                        "logits / X overflows picks the likeliest character (greedy)")
    p.add_argument("--length", type=non_negative_int, default=200, metavar="N",
                   help="characters to generate after the prime (default 200), printed as "
                        "they are drawn")
    p.add_argument("--seed", type=seed, default=0, metavar="S",
                   help="random seed, 0 to 2**63 - 1 (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    single_thread_blas()
    import numpy as np

    from rnn.checkpoint import load_checkpoint
    from rnn.training import check_sample_args, generate, model_from_checkpoint

    check_sample_args(args.temperature, args.length)  # before reading the checkpoint
    ckpt = load_checkpoint(args.checkpoint)
    model, config, vocab = model_from_checkpoint(ckpt)
    if config.task != "text":
        raise UserError(f"{args.checkpoint}: a model of --task {config.task}, not text; "
                        f"sampling needs a character model (train with --task text)")
    rng = np.random.default_rng(args.seed)
    prime = args.prime if args.prime is not None else vocab.chars[rng.integers(len(vocab))]
    chars = generate(model, vocab, prime, args.length, args.temperature, rng)
    # Streamed: each line (and every 64 characters) is shown as it is drawn; Ctrl-C keeps
    # what was drawn, ends the line and exits 130.
    out, last = sys.stdout, prime[-1:]
    out.write(prime)
    try:
        for k, ch in enumerate(chars, 1):
            out.write(ch)
            last = ch
            if ch == "\n" or k % 64 == 0:
                out.flush()
    finally:
        if last != "\n":
            out.write("\n")
        out.flush()
    return 0
