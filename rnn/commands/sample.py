"""`rnn-lab sample`: generate text from a character model saved by `rnn-lab train`."""

from __future__ import annotations

import argparse
import sys

from rnn.argtypes import file_name
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
    p.add_argument("--prime", default=None, metavar="TEXT",
                   help="text to start from (default: one random character of the vocabulary)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="X",
                   help="sampling temperature > 0 (default 1.0)")
    p.add_argument("--length", type=int, default=200, metavar="N",
                   help="characters to generate after the prime (default 200)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    single_thread_blas()
    import numpy as np

    from rnn.checkpoint import load_checkpoint
    from rnn.training import check_sample_args, model_from_checkpoint, sample

    check_sample_args(args.temperature, args.length)  # before reading the checkpoint
    ckpt = load_checkpoint(args.checkpoint)
    model, config, vocab = model_from_checkpoint(ckpt)
    if config.task != "text":
        raise UserError(f"{args.checkpoint}: a model of --task {config.task}, not text; "
                        f"sampling needs a character model (train with --task text)")
    rng = np.random.default_rng(args.seed)
    prime = args.prime if args.prime is not None else vocab.chars[rng.integers(len(vocab))]
    text = sample(model, vocab, prime, args.length, args.temperature, rng)
    sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    return 0
