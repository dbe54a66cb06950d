"""The long-term experiment as a sweep: its preset's runs seen as rnn.experiment's RunResults,
so that the experiment's own tables, gradient norms and plots (rnn.reports) read them."""

from __future__ import annotations

from rnn.experiment import LongTermConfig, RunResult, run_result
from rnn.sweep.config import SweepConfig
from rnn.sweep.runner import SweepResult


def long_term_config(cfg: SweepConfig) -> LongTermConfig:
    """The LongTermConfig a sweep of the adding problem stands for (its first hidden size and
    first seed; the rate is chosen per run from `lrs`)."""
    return LongTermConfig(cells=cfg.cells, lags=cfg.T["adding"], grad_lag=cfg.grad_lag or
                          max(cfg.T["adding"]), steps=cfg.steps["adding"], hidden=cfg.hidden[0],
                          batch=cfg.batch, lr=None, clip=cfg.clip, seed=cfg.first_seed,
                          test_size=cfg.test_size, grad_batch=cfg.grad_batch,
                          record_every=cfg.val_every, lrs=cfg.lrs)


def long_term_results(result: SweepResult) -> list[RunResult]:
    """The first seed's run at the chosen rate of each adding setting of the first hidden size
    and init, in (T, cell) order."""
    cfg = result.config
    return [run_result(s.runs[0]) for s in result.settings
            if s.setting[0] == "adding" and s.setting[2] == cfg.inits[s.setting[1]][0]
            and s.setting[4] == cfg.hidden[0]]


def gradient_results(result: SweepResult) -> dict:
    """cell -> RunResult of the runs that measured gradient norms (at the gradient lag)."""
    return {r.cell: r for r in long_term_results(result) if r.grad_trained is not None}
