"""`rnn-lab experiment born-in`: "I was born in France . ... . I can speak" -> French, for every
cell with the same budget; accuracy and gradient against the gap, and the LSTM's country units."""

from __future__ import annotations

import argparse
import os

from rnn.argtypes import cell_list, file_name, int_between, positive_float, positive_int
from rnn.blas import single_thread_blas
from rnn.errors import UserError
from rnn.io import output_folder

EXAMPLE = """\
examples:
  rnn-lab experiment born-in --quick --out /tmp/born-in      # 6 gaps, 2 seeds, under a minute
  rnn-lab experiment born-in --out results/born-in           # gaps 2 to 60, 3 seeds, ~2 min
  rnn-lab experiment born-in --cells rnn,lstm,mgu --gaps 5,20,40 --seeds 5
  rnn-lab experiment born-in --quick --level char --gaps 2,5,10,20 --distractors

The model reads "I was born in <country> . <filler sentences> . I can speak" and names the
language. The gap is the number of words (full stops count) between the country and the
question. Every cell gets the same budget and the same sentences for a given seed; training
gaps are drawn log-uniformly from 1 to the longest --gaps value. It writes results.md,
results.csv, summary.json, accuracy_vs_gap.png, country_gradients.png and, when an LSTM is
trained, country_units.png and forget_gate.png into --out, and each cell's model of the first
seed as <cell>.npz, which rnn-lab inspect opens:

  rnn-lab inspect born-in-results/lstm.npz -o page        # then open page/index.html
"""


def gap_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated gaps in words, each at least 1 ("2,10,30")."""
    gaps = []
    for part in text.split(","):
        try:
            gap = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number of words: {part!r}") from None
        if gap < 1:
            raise argparse.ArgumentTypeError(f"a gap must be at least 1 word, got {gap}")
        gaps.append(gap)
    return tuple(sorted(set(gaps)))


def probability(text: str) -> float:
    """argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability from 0 to 1, got {text!r}")
    return value


def register(names) -> None:
    """Add `born-in` to the experiment's sub-commands."""
    p = names.add_parser(
        "born-in", help='"I was born in France ... I can speak French": accuracy against the gap',
        description='Train recurrent cells on "I was born in <country> . <filler> . I can speak '
                    '<language>"\nwith the same budget and report accuracy and gradient '
                    "against the gap.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=file_name, default="born-in-results", metavar="DIR",
                   help="folder for the tables and plots (default ./born-in-results)")
    p.add_argument("--quick", action="store_true",
                   help="gaps 2, 5, 10, 20, 40, 60, two seeds, 700 steps: under a minute")
    p.add_argument("--cells", type=cell_list, metavar="LIST",
                   help="comma-separated registered cells (default rnn,lstm,gru)")
    p.add_argument("--gaps", type=gap_list, metavar="LIST",
                   help="gaps to test, in words (default 2,5,10,15,20,30,40,50,60)")
    p.add_argument("--seeds", type=positive_int, metavar="N",
                   help="runs per cell (default 3; 2 with --quick)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (default 0)")
    p.add_argument("--steps", type=positive_int, metavar="N",
                   help="training steps per run (default 2000; 700 with --quick)")
    p.add_argument("--hidden", type=positive_int, metavar="H", help="hidden units (default 32)")
    p.add_argument("--lr", type=positive_float, metavar="LR",
                   help="Adam learning rate (default 0.01)")
    p.add_argument("--level", choices=("word", "char"), default="word",
                   help="read words or characters (default word; char is ~5x slower)")
    p.add_argument("--countries", type=int_between(2, 10), default=10, metavar="K",
                   help="countries in play, 2 to 10 (default 10: chance is 10%%)")
    p.add_argument("--distractors", type=probability, nargs="?", const=0.3, default=0.0,
                   metavar="P", help="filler sentences name another country with "
                                     "probability P (0.3 if no P is given)")
    p.add_argument("--workers", type=positive_int, default=2, metavar="N",
                   help="training processes in parallel (default 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    single_thread_blas()
    from rnn.experiment_born_in import BornInConfig
    from rnn.reports_born_in import born_in

    chosen = {"cells": args.cells, "gaps": args.gaps, "seeds": args.seeds,
              "steps": args.steps, "hidden": args.hidden, "lr": args.lr}
    chosen = {k: v for k, v in chosen.items() if v is not None}
    chosen.update(seed=args.seed, level=args.level, countries=args.countries,
                  distractors=args.distractors, workers=args.workers)
    cfg = BornInConfig.quick(**chosen) if args.quick else BornInConfig(**chosen)
    try:
        cfg.validate()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    output_folder(args.out)  # made now: a bad --out fails before the training

    def log(line):
        print(line, flush=True)

    log(f"born-in: cells {', '.join(cfg.cells)}; gaps {', '.join(map(str, cfg.gaps))}; "
        f"seeds {', '.join(map(str, cfg.seed_list))}; {cfg.steps} steps each, hidden "
        f"{cfg.hidden}, lr {cfg.lr}, batch {cfg.batch}, {cfg.level} level, {cfg.countries} "
        f"countries")
    # (rnn.cli turns SIGTERM into an interrupt, as Ctrl-C: the pool ends its workers)
    summary = born_in(args.out, cfg, progress=False if args.no_progress else None, log=log)
    log("accuracy (mean over seeds) at gaps " + ", ".join(map(str, cfg.gaps)) + ":")
    for cell, a in summary["accuracy"].items():
        log(f"  {cell:>8}: " + "  ".join(f"{m:4.0%}" for m in a["mean"]))
    if "lstm" in summary:
        s = summary["lstm"]
        log(f"LSTM country units {s['country_units']}: the best alone names the country for "
            f"{s['best_unit_accuracy']:.0%} of sentences at gap {s['gap']}")
    log(f"wrote {os.path.join(args.out, 'results.md')} and plots "
        f"(wall time {summary['wall_seconds']:.0f} s)")
    models = summary.get("checkpoints", {})
    if models:
        first = os.path.join(args.out, models.get("lstm", next(iter(models.values()))))
        log(f"models: {', '.join(os.path.join(args.out, f) for f in models.values())}; see "
            f"inside one with: rnn-lab inspect {first} -o page")
    return 0
