"""A sweep's per-setting summary rows: success rate with its Wilson interval, the median test
metric with its bootstrap interval, median steps to success and wall time, the chosen rate
and every candidate's validation score.

The row schema is fixed (other reports read it): task, cell, init, T, hidden, steps, batch,
lr, seeds, successes, success_rate, success_ci [lo, hi], metric (its name), median,
median_ci [lo, hi], baseline, threshold, median_steps_to_success, median_seconds,
worse_than_baseline; and, added here, criterion, optimizer, clip, first_seed, lr_grid,
lr_candidates, runs_worse_than_baseline, diverged, median_cpu_seconds, median_excess (the
median over seeds of the metric minus the trivial strategy's on the same test sequences:
worse_than_baseline is median_excess >= 0); variant (the adding
problem's definition, "urnn" or "1997"; None for other tasks) and sweep_task (the sweep's name
of the task: "adding-1997" is task "adding", variant "1997"). A median or interval end that is
not finite (runs that diverged) is None.
"""

from __future__ import annotations

import math

import numpy as np

from rnn.sweep.runner import SettingResult, SweepResult, validation_score
from rnn.sweep.stats import bootstrap_median_interval, median_or_none, wilson_interval
from rnn.sweep.tasks import sweep_task


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def setting_row(s: SettingResult) -> dict:
    """The summary row of one setting."""
    task, cell, init, T, hidden = s.setting
    criterion = sweep_task(task).criterion(T)
    spec = s.runs[0]["spec"]
    n = len(s.runs)
    wins = sum(r["success"] for r in s.runs)
    metrics = [math.inf if r["metric"] is None else r["metric"] for r in s.runs]
    median = float(np.median(metrics))  # a diverged run counts as +inf: it ranks last
    lo, hi = bootstrap_median_interval(metrics)
    excess = [m - r["test_baseline"] for m, r in zip(metrics, s.runs, strict=True)]
    candidates = {}
    for lr, record in sorted(s.candidates.items()):
        diverged, val_metric, val_loss = validation_score(record)
        candidates[f"{lr:g}"] = {"val_metric": _finite(val_metric),
                                 "val_loss": _finite(val_loss), "diverged": diverged}
    kind = sweep_task(task)
    return {
        "task": kind.family, "variant": kind.variant, "sweep_task": task,
        "cell": cell, "init": init, "T": T, "hidden": hidden,
        "steps": spec["steps"], "batch": spec["batch"], "lr": s.chosen_lr,
        "seeds": n, "successes": wins, "success_rate": wins / n,
        "success_ci": list(wilson_interval(wins, n)),
        "metric": criterion.metric, "median": _finite(median),
        "median_ci": [_finite(lo), _finite(hi)],
        "baseline": criterion.baseline, "threshold": criterion.threshold,
        "median_steps_to_success": median_or_none(r["steps_to_success"] for r in s.runs),
        "median_seconds": median_or_none(r["seconds"] for r in s.runs),
        "median_cpu_seconds": median_or_none(r["cpu_seconds"] for r in s.runs),
        # the median run no better than the trivial strategy on its own test sequences
        "worse_than_baseline": bool(np.median(excess) >= 0),
        "median_excess": _finite(float(np.median(excess))),
        "criterion": criterion.text, "optimizer": spec["optimizer"], "clip": spec["clip"],
        "first_seed": s.runs[0]["spec"]["seed"], "lr_grid": sorted(s.candidates),
        "lr_candidates": candidates,
        "runs_worse_than_baseline": sum(r["worse_than_baseline"] for r in s.runs),
        "diverged": sum(r["diverged_at"] is not None for r in s.runs),
    }


def summary_rows(result: SweepResult) -> list[dict]:
    """One row per setting, in the config's order."""
    return [setting_row(s) for s in result.settings]
