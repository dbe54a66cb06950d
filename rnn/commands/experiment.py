"""`rnn-lab experiment`: reproducible experiments that write tables and plots."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rnn.argtypes import cell_list, file_name, positive_int, seed
from rnn.blas import single_thread_blas
from rnn.commands import (experiment_born_in, experiment_cliff, experiment_paper,
                          experiment_sweep)
from rnn.io import output_folder

EXAMPLE = """\
examples:
  rnn-lab experiment long-term --quick --out /tmp/lt-quick     # T = 10 and 25, under 30 s
  rnn-lab experiment long-term --out results/long-term          # the full run, a few minutes
  rnn-lab experiment long-term --quick --cells rnn,lstm,cifg,mgu --out /tmp/lt-cells
  rnn-lab experiment born-in --quick --out /tmp/born-in         # "born in France", under 1 min
  rnn-lab experiment sweep --quick --out /tmp/sweep             # seeds, intervals, < 2 min
  rnn-lab experiment paper --quick --out /tmp/paper             # published vs ours, < 2 min

long-term trains a tanh RNN and an LSTM with the same budget on the adding problem at
T = 10, 25, 50 and 100, and measures ||dL/dh_t|| against the lag T - t. It is the sweep's
long-term preset: each cell and T trains at learning rates 0.003, 0.01 and 0.03 and keeps
the one with the best validation MSE (never the test set). It writes results.md,
results.csv, grad_norms.csv, summary.json, loss_curves.png, grad_norm_vs_lag.png,
jacobian_spectra.png and runs.csv (every run of the search) into --out, and keeps every
finished run in --out/runs/, so a second run trains nothing.

sweep runs many seeds per setting with intervals; see `rnn-lab experiment sweep --help`.
paper puts published figures next to ours; see `rnn-lab experiment paper --help`.

born-in trains RNN, LSTM and GRU on "I was born in France . ... . I can speak" -> French and
plots accuracy against the gap; see `rnn-lab experiment born-in --help`.
"""


def register(subparsers) -> None:
    experiment = subparsers.add_parser(
        "experiment", help="run an experiment: long-term, born-in (\"I was born in France ... "
                           "I can speak French\"), cliff, sweep (seeds and intervals), paper",
        description="Run an experiment and write its tables and plots.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = experiment.add_subparsers(dest="name", metavar="NAME",
                                      help="long-term, born-in, cliff, sweep or paper (each "
                                           "has its own --help)")
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
    p.add_argument("--cells", type=cell_list, metavar="C1,C2",
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
    experiment_sweep.register(names)
    experiment_paper.register(names)


def run(args) -> int:
    t0 = time.perf_counter()
    single_thread_blas()
    from rnn.pool import cores
    from rnn.sweep.cache import RunCache
    from rnn.sweep.config import load_config
    from rnn.sweep.report import write_long_term_reports
    from rnn.sweep.runner import local_executor, run_sweep

    cfg = load_config("long-term-quick" if args.quick else "long-term",
                      flags={"cells": args.cells, "steps": args.steps, "first_seed": args.seed})
    output_folder(args.out)  # made now: a bad --out fails before the training

    def log(line):
        print(line, flush=True)

    cache = RunCache(Path(args.out) / "runs", log)
    lags = cfg.T["adding"]
    log(f"long-term: cells {', '.join(cfg.cells)}, lags {', '.join(map(str, lags))}, "
        f"{cfg.steps['adding']} steps each, hidden {cfg.hidden[0]}, lr chosen from "
        f"{', '.join(f'{lr:g}' for lr in cfg.lrs)} on validation, batch {cfg.batch}, "
        f"{min(args.workers, cfg.run_count(), cores())} processes")
    result = run_sweep(cfg, cache, local_executor(args.workers),
                       progress=False if args.no_progress else None, log=log)
    summary = write_long_term_reports(result, args.out)
    for key, mse in summary["test_mse"].items():
        if key.endswith(f"@{cfg.grad_lag}"):
            log(f"T={cfg.grad_lag}: {key.split('@')[0]} test MSE {mse:.4f}")
    for key, g in summary["gradients"].items():
        log(f"{key}: ||dL/dh|| at lag {cfg.grad_lag - 1} / lag 0 = "
            f"{g['ratio_lag_max_to_0']:.2e}, fitted factor per step {g['decay_per_step']:.3f}")
    log(f"wrote {os.path.join(args.out, 'results.md')} and plots (wall time "
        f"{time.perf_counter() - t0:.0f} s; {result.trained} runs trained, {result.cached} "
        f"from the cache)")
    sys.stdout.flush()
    return 0
