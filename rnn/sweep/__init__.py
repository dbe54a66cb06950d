"""Sweeps: many seeds per setting, a fair learning-rate search, an on-disk cache, intervals.

`config` (SweepConfig, presets, TOML), `tasks` (each task's model, metric, baseline and
criterion), `runs` (RunSpec and `train_run`), `cache` (one JSON record per run), `runner`
(the two phases through an executor, one sweep or several at once), `stats` (Wilson and
bootstrap intervals), `summary` (the per-setting rows), `report` and `figures` (the files),
`long_term` (the long-term experiment as a sweep), `paper_run` (the paper-vs-ours runs). The
CLIs are `rnn-lab experiment sweep` and `rnn-lab experiment paper`.
"""

from rnn.sweep.cache import RunCache
from rnn.sweep.config import SweepConfig, load_config, preset_names
from rnn.sweep.runner import (SweepResult, bind_executor, choose_lr, local_executor, run_sweep,
                              run_sweeps)
from rnn.sweep.runs import RunSpec, train_run
from rnn.sweep.stats import bootstrap_median_interval, wilson_interval
from rnn.sweep.summary import summary_rows

__all__ = ["RunCache", "RunSpec", "SweepConfig", "SweepResult", "bind_executor",
           "bootstrap_median_interval", "choose_lr", "load_config", "local_executor",
           "preset_names", "run_sweep", "run_sweeps", "summary_rows", "train_run",
           "wilson_interval"]
