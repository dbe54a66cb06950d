"""`rnn-lab experiment`: reproducible experiments that write tables and plots."""

from __future__ import annotations

import argparse
import os
import sys

from rnn.argtypes import cell_list, file_name, positive_int, seed
from rnn.blas import single_thread_blas
from rnn.commands import experiment_born_in, experiment_cliff
from rnn.io import output_folder

EXAMPLE = """\
examples:
  rnn-lab experiment long-term --quick --out /tmp/lt-quick     # T = 10 and 25, under 30 s
  rnn-lab experiment long-term --out results/long-term          # the full run, a few minutes
  rnn-lab experiment long-term --quick --cells rnn,lstm,cifg,mgu --out /tmp/lt-cells
  rnn-lab experiment born-in --quick --out /tmp/born-in         # "born in France", under 1 min

long-term trains a tanh RNN and an LSTM with the same budget on the adding problem at
T = 10, 25, 50 and 100, and measures ||dL/dh_t|| against the lag T - t. It writes
results.md, results.csv, grad_norms.csv, summary.json, loss_curves.png and
grad_norm_vs_lag.png into --out.

born-in trains RNN, LSTM and GRU on "I was born in France . ... . I can speak" -> French and
plots accuracy against the gap; see `rnn-lab experiment born-in --help`.
"""


def register(subparsers) -> None:
    experiment = subparsers.add_parser(
        "experiment", help="run an experiment (long-term: RNN vs LSTM on the adding problem; "
                           "born-in: \"I was born in France ... I can speak French\")",
        description="Run an experiment and write its tables and plots.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = experiment.add_subparsers(dest="name", metavar="NAME",
                                      help="long-term or born-in (each has its own --help)")
    names.required = True
    p = names.add_parser(
        "long-term", help="a tanh RNN and an LSTM on the adding problem at several lags",
        description="A tanh RNN and an LSTM with the same budget on the adding problem.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=file_name, default="long-term-results", metavar="DIR",
                   help="folder for the tables and plots (default ./long-term-results)")
    p.add_argument("--steps", type=positive_int, metavar="N",
                   help="training steps per run (default 3000; 1000 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="short lags and a small budget, for a demo or a test")
    p.add_argument("--cells", type=cell_list, default=("rnn", "lstm"), metavar="C1,C2",
                   help="registered cells to compare, same budget each (default rnn,lstm)")
    p.add_argument("--seed", type=seed, default=0, metavar="S",
                   help="random seed, 0 to 2**63 - 1 (default 0)")
    p.add_argument("--workers", type=positive_int, default=2, metavar="N",
                   help="training processes in parallel (default 2; never more than the runs "
                        "or the CPU cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    experiment_born_in.register(names)
    experiment_cliff.register(names)


def run(args) -> int:
    single_thread_blas()
    from rnn.experiment import LongTermConfig, pool_size
    from rnn.reports import long_term

    output_folder(args.out)  # made now: a bad --out fails before the training
    if args.quick:
        cfg = LongTermConfig.quick(seed=args.seed, steps=args.steps, cells=args.cells)
    else:
        cfg = LongTermConfig(cells=args.cells, seed=args.seed)
        if args.steps:
            cfg.steps = args.steps
    cfg.workers = args.workers

    def log(line):
        print(line, flush=True)

    log(f"long-term: cells {', '.join(cfg.cells)}, lags {', '.join(map(str, cfg.lags))}, "
        f"{cfg.steps} steps each, hidden {cfg.hidden}, lr {cfg.lr}, batch {cfg.batch}, "
        f"{pool_size(cfg)} processes")
    summary = long_term(args.out, cfg, progress=False if args.no_progress else None, log=log)
    for key, mse in summary["test_mse"].items():
        if key.endswith(f"@{cfg.grad_lag}"):
            log(f"T={cfg.grad_lag}: {key.split('@')[0]} test MSE {mse:.4f}")
    for key, g in summary["gradients"].items():
        log(f"{key}: ||dL/dh|| at lag {cfg.grad_lag - 1} / lag 0 = "
            f"{g['ratio_lag_max_to_0']:.2e}, fitted factor per step {g['decay_per_step']:.3f}")
    log(f"wrote {os.path.join(args.out, 'results.md')} and plots "
        f"(wall time {summary['wall_seconds']:.0f} s)")
    sys.stdout.flush()
    return 0
