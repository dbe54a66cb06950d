"""`rnn-lab experiment sweep`: many seeds per setting, a learning-rate search on validation
data, a cache of finished runs, and tables with 95% intervals (rnn.sweep)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rnn.argtypes import (
    LazyChoices,
    cell_list,
    file_name,
    memory_size,
    non_empty,
    non_negative_float,
    positive_float,
    positive_int,
    seed,
)
from rnn.blas import single_thread_blas
from rnn.errors import UsageError
from rnn.io import check_output_folder, output_folder

EXAMPLE = """\
examples:
  rnn-lab experiment sweep --quick --out /tmp/sweep-quick      # under 2 minutes
  rnn-lab experiment sweep --out results/sweep                 # about 13 min on 2 free cores
  rnn-lab experiment sweep --out results/sweep --seeds 10      # 5 more seeds: only they train
  rnn-lab experiment sweep --config my-sweep.toml --cells lstm,gru --T 50,100
  rnn-lab experiment sweep --preset long-term --out results/long-term
  rnn-lab experiment sweep --scheduler tcp://HOST:8786 --seeds 20   # on a Dask cluster

Each setting (task, cell, init, T, hidden size) first trains every rate of --lrs on its first
seed and keeps the rate with the best final validation metric (never the test set); its other
seeds then train at that rate. Success: adding test MSE < 0.01 (adding-1997: below the same
fraction of its predict-the-mean MSE); copy below 10% of the memoryless baseline; reber every
test string right (the legal next symbols most probable at every step). Every finished run
is kept in DIR/runs/ (one JSON file, keyed by the hash of its spec): a rerun, an interrupted
or an extended sweep trains only what is missing.

The config file is TOML with the keys tasks, cells, inits, T, hidden, seeds, first_seed, lrs,
steps, batch, optimizer, clip, val_size, test_size, val_every, gradients and grad_batch; T and
steps may be tables by task, e.g. T = {adding = [100, 200], copy = [100]}, and inits a table
by cell, e.g. inits = {lstm = ["uniform", "chrono"]} ("default": the cell's own, identity for
irnn). The preset comes first, then the file, then the flags. Presets are in rnn/sweep/presets/.

It writes results.md, results.csv (one row per setting), runs.csv (one row per run),
summary.json, success_vs_T.png and loss_curves.png into --out (and, for the long-term preset,
grad_norms.csv, grad_norm_vs_lag.png and jacobian_spectra.png).
"""


def _presets():
    from rnn.sweep.config import preset_names

    return preset_names()


def _words(text: str) -> tuple:
    """argparse type: comma-separated names ("adding,copy"); checked against the registry
    with the rest of the config."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated names")
    return names


def _list_of(parse, what):
    def parse_list(text: str) -> tuple:
        values = []
        for part in text.split(","):
            try:
                values.append(parse(part.strip()))
            except (argparse.ArgumentTypeError, ValueError):
                raise argparse.ArgumentTypeError(f"not {what}: {part.strip()!r}") from None
        return tuple(values)

    return parse_list


def _rate(text: str) -> float:
    value = float(text)
    if not (value > 0 and value != float("inf")):
        raise ValueError(text)
    return value


def register(names) -> None:
    """Add `sweep` to the experiment's sub-commands."""
    p = names.add_parser(
        "sweep", help="many seeds per setting, a fair learning-rate search, 95%% intervals",
        description="Train every setting over several seeds after a learning-rate search on "
                    "validation data;\ncache every run; report success rates and medians with "
                    "95% intervals.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="default", choices=LazyChoices(_presets),
                   help="the starting config (default: default)")
    p.add_argument("--quick", action="store_true",
                   help="the preset's small version (default -> quick, long-term -> "
                        "long-term-quick)")
    p.add_argument("--config", type=file_name, metavar="FILE.toml",
                   help="a TOML file whose keys override the preset")
    p.add_argument("--out", type=file_name, default="sweep-results", metavar="DIR",
                   help="folder for the tables, plots and the run cache (default "
                        "./sweep-results)")
    p.add_argument("--tasks", type=_words, metavar="LIST",
                   help="comma-separated: adding, adding-1997 (Hochreiter & Schmidhuber's "
                        "definition), copy, reber")
    p.add_argument("--cells", type=cell_list, metavar="LIST", help="registered cells")
    p.add_argument("--inits", type=_words, metavar="LIST", help="initialisations")
    p.add_argument("--T", type=_list_of(int, "a whole number"), metavar="LIST",
                   help="T values of every task that takes one (adding: the length; copy: "
                        "the delay)")
    p.add_argument("--hidden", type=_list_of(int, "a whole number"), metavar="LIST",
                   help="hidden sizes")
    p.add_argument("--seeds", type=positive_int, metavar="N", help="seeds per setting")
    p.add_argument("--seed", type=seed, metavar="S", help="the first seed")
    p.add_argument("--lrs", type=_list_of(_rate, "a positive number"), metavar="LIST",
                   help="the learning-rate grid (at least 3 values)")
    p.add_argument("--steps", type=positive_int, metavar="N",
                   help="training steps per run, every task")
    p.add_argument("--batch", type=positive_int, metavar="N", help="sequences per step")
    p.add_argument("--optimizer", choices=("adam", "sgd"), help="adam or sgd")
    p.add_argument("--clip", type=non_negative_float, metavar="X",
                   help="clip the gradient's norm at X (0: no clipping)")
    p.add_argument("--val-size", type=positive_int, metavar="N", help="validation sequences")
    p.add_argument("--test-size", type=positive_int, metavar="N", help="test sequences")
    p.add_argument("--val-every", type=positive_int, metavar="N",
                   help="validate every N steps")
    p.add_argument("--max-memory", type=memory_size, metavar="SIZE",
                   help="refuse sizes whose memory estimate exceeds SIZE (e.g. 8GB; default "
                        "half the RAM, or RNN_LAB_MAX_MEMORY)")
    add_executor_flags(p)
    p.set_defaults(func=run)


def add_executor_flags(p) -> None:
    """--workers, --scheduler, --scheduler-timeout and --no-progress: where the runs train
    (`_executor` reads them), for `experiment sweep` and `experiment paper`."""
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="training processes in parallel (default 2; never more than the runs "
                        "or the CPU cores)")
    p.add_argument("--scheduler", type=non_empty, metavar="ADDRESS",
                   help="train on the Dask cluster whose scheduler is at ADDRESS (e.g. "
                        "tcp://HOST:8786) instead of local processes; results come back into "
                        "the same cache, a lost worker's run is run again (needs "
                        "rnn-lab[cluster] here, on the scheduler and on every worker)")
    p.add_argument("--scheduler-timeout", type=positive_float, metavar="S",
                   help="seconds to wait for the scheduler and for a worker (default 10)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _executor(args):
    """Where the runs train: local processes, or the Dask cluster at --scheduler (reached,
    with a worker running this rnn-lab, before anything is written)."""
    from rnn.sweep.runner import bind_executor, local_executor

    if args.scheduler is None:
        if args.scheduler_timeout is not None:
            raise UsageError("--scheduler-timeout is for --scheduler")
        return local_executor(args.workers or 2)
    if args.workers is not None:
        raise UsageError("--workers sets the local processes; with --scheduler the cluster's "
                         "workers train")
    from rnn import cluster

    timeout = args.scheduler_timeout or 10.0
    cluster.connect_client(args.scheduler, timeout).close()
    return bind_executor(cluster.run_jobs_dask, args.scheduler, timeout=timeout)


FLAG_KEYS = {"tasks": "tasks", "cells": "cells", "inits": "inits", "T": "T",
             "hidden": "hidden", "seeds": "seeds", "seed": "first_seed", "lrs": "lrs",
             "steps": "steps", "batch": "batch", "optimizer": "optimizer", "clip": "clip",
             "val_size": "val_size", "test_size": "test_size", "val_every": "val_every"}


def run(args) -> int:
    t0 = time.perf_counter()
    single_thread_blas()
    from rnn.resources import ENV as MEMORY_ENV
    from rnn.sweep.cache import RunCache
    from rnn.sweep.config import QUICK, load_config
    from rnn.sweep.report import write_sweep_reports
    from rnn.sweep.runner import run_sweep

    if args.max_memory is not None:
        os.environ[MEMORY_ENV] = str(args.max_memory)  # read by the memory checks
    preset = QUICK.get(args.preset, args.preset) if args.quick else args.preset
    flags = {key: getattr(args, name) for name, key in FLAG_KEYS.items()}
    cfg = load_config(preset, args.config, flags)
    check_output_folder(args.out)
    execute = _executor(args)  # every check before the folder is made
    output_folder(args.out)

    def log(line):
        print(line, flush=True)

    cache = RunCache(Path(args.out) / "runs", log)
    T = "; ".join(f"{t} T {', '.join(map(str, v))}" for t, v in cfg.T.items())
    log(f"sweep ({preset}): tasks {', '.join(cfg.tasks)}{'; ' + T if T else ''}; cells "
        f"{', '.join(cfg.cells)}; inits {cfg.inits_text()}; hidden "
        f"{', '.join(map(str, cfg.hidden))}; {cfg.seeds} seeds; lr grid "
        f"{', '.join(f'{lr:g}' for lr in cfg.lrs)}; {len(cfg.settings())} settings, up to "
        f"{cfg.run_count()} runs")
    result = run_sweep(cfg, cache, execute, progress=False if args.no_progress else None,
                       log=log)
    summary = write_sweep_reports(result, args.out)
    for r in summary["rows"]:
        at = f" T={r['T']}" if r["T"] is not None else ""
        median = "diverged" if r["median"] is None else f"{r['median']:.4g}"
        flag = "  (no better than the baseline)" if r["worse_than_baseline"] else ""
        log(f"  {r['task']} {r['cell']} ({r['init']}){at}: {r['successes']}/{r['seeds']} "
            f"solved at lr {r['lr']:g}, median {r['metric']} {median}{flag}")
    log(f"wrote {os.path.join(args.out, 'results.md')}, results.csv, runs.csv and plots "
        f"(wall time {time.perf_counter() - t0:.0f} s; {result.trained} runs trained, "
        f"{result.cached} from the cache)")
    return 0
