"""`rnn-lab experiment paper`: the published figures on the long-memory tasks next to ours,
each from a sweep of the setting that mirrors it within a budget (rnn.sweep.paper,
rnn.sweep.paper_run)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rnn.argtypes import file_name, positive_int
from rnn.blas import single_thread_blas
from rnn.commands.experiment_sweep import _executor, add_executor_flags
from rnn.io import check_output_folder, output_folder

EXAMPLE = """\
examples:
  rnn-lab experiment paper --quick --out /tmp/paper-quick   # 85 s on 2 cores (measured)
  rnn-lab experiment paper --out results/paper        # about 12 min on 2 cores
  rnn-lab experiment paper --out results/paper --seeds 10     # 5 more seeds: only they train
  rnn-lab experiment paper --quick --steps 2000 --out /tmp/paper-longer
  rnn-lab experiment paper --scheduler tcp://HOST:8786 --out results/paper  # on Dask

Each published record (Arjovsky, Shah & Bengio 2016 on adding and copy; Le, Jaitly & Hinton
2015 on adding; Hochreiter & Schmidhuber 1997 on the embedded Reber grammar and their own
adding problem; a public NumPy reproduction of the 1997 experiments) becomes one sweep
setting: its task under the source's definition (the adding problem in the uRNN's U[0, 1]
version or the 1997 one), its cell and init, its hidden size and T cut down to the budget
(quick: hidden <= 16, T <= 50, 800 steps, 3 seeds; default: hidden <= 32, T <= 200, 3000
steps, 5 seeds; batch 32). Every setting searches its learning rate on validation data as
`rnn-lab experiment sweep` does; records that come down to the same setting share its runs.

It writes paper.md and paper.csv into --out: for each record the published figure, ours
(median with its 95% bootstrap interval, success rate with its 95% Wilson interval), a
verdict on the record's claim, and every way our run differs from the source's (task
definition, cell, hidden size, T, training sequences, seeds); a record without a run says
"not run". Each setting's own sweep reports (results.md, results.csv, runs.csv,
summary.json, plots) are in --out/sweeps/<record>/, and every finished run in --out/runs/
(one JSON file each): a rerun trains nothing, an interrupted run resumes.
"""


def register(names) -> None:
    """Add `paper` to the experiment's sub-commands."""
    p = names.add_parser(
        "paper", help="published figures on adding, copy and Reber next to ours, with 95%% "
                      "intervals",
        description="Mirror each published result on the long-memory tasks with a sweep "
                    "within a budget;\nwrite the paper's figure next to ours, with 95% "
                    "intervals, a verdict and the differences.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="the quick budget (hidden <= 16, T <= 50, 800 steps, 3 seeds)")
    p.add_argument("--out", type=file_name, default="paper-results", metavar="DIR",
                   help="folder for the tables, the sweeps' reports and the run cache "
                        "(default ./paper-results)")
    p.add_argument("--steps", type=positive_int, metavar="N",
                   help="training steps per run instead of the budget's")
    p.add_argument("--seeds", type=positive_int, metavar="N",
                   help="seeds per setting instead of the budget's")
    add_executor_flags(p)
    p.set_defaults(func=run)


def budget_of(args):
    """The paper budget the flags ask for: quick or default, with --steps and --seeds."""
    from dataclasses import replace

    from rnn.sweep.paper import BUDGETS

    budget = BUDGETS["quick" if args.quick else "default"]
    changes = {k: v for k, v in (("steps", args.steps), ("seeds", args.seeds)) if v}
    return replace(budget, **changes) if changes else budget


def _g(value) -> str:
    return "-" if value in ("", None) else f"{value:.3g}"


def _line(r: dict) -> str:
    """One record of paper.csv as a line: its setting, our median and successes, the verdict."""
    if r["verdict"] == "not run":
        return f"  {r['record']}: not run"
    at = f" T={r['ours_T']}" if r["ours_T"] != "" else ""
    return (f"  {r['record']}: {r['task']}{' ' + r['variant'] if r['variant'] else ''}{at} "
            f"{r['cell']} {r['ours_hidden']}: {r['metric']} median {_g(r['ours_median'])} "
            f"[{_g(r['ours_median_lo'])}, {_g(r['ours_median_hi'])}], solved "
            f"{r['ours_successes']}/{r['ours_seeds']}; {r['verdict']}")


def run(args) -> int:
    t0 = time.perf_counter()
    single_thread_blas()
    from rnn.sweep.cache import RunCache
    from rnn.sweep.paper_run import (BUDGET_PRESETS, SWEEPS_FOLDER, paper_configs, run_paper,
                                     write_paper_reports)

    budget = budget_of(args)
    # the named budget's preset, even with --steps or --seeds changed
    settings = paper_configs(budget, preset=BUDGET_PRESETS[budget.name])
    check_output_folder(args.out)
    execute = _executor(args)  # every check before the folder is made
    output_folder(args.out)

    def log(line):
        print(line, flush=True)

    runs = sum(s.config.run_count() for s in settings)
    log(f"paper ({budget.name} budget): hidden <= {budget.max_hidden}, T <= {budget.max_T}, "
        f"{budget.steps} steps x batch {budget.batch}, {budget.seeds} seeds; "
        f"{len(settings)} settings for {sum(len(s.records) for s in settings)} records, up "
        f"to {runs} runs")
    result = run_paper(settings, RunCache(Path(args.out) / "runs", log), execute,
                       progress=False if args.no_progress else None, log=log)
    _, rows = write_paper_reports(result, args.out)
    for values in rows[1:]:
        log(_line(dict(zip(rows[0], values))))
    log(f"wrote {os.path.join(args.out, 'paper.md')}, paper.csv and each setting's reports "
        f"in {os.path.join(args.out, SWEEPS_FOLDER)}/ (wall time "
        f"{time.perf_counter() - t0:.0f} s; {result.trained} runs trained, {result.cached} "
        f"from the cache)")
    return 0
