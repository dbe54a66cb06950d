"""Tests for the long-term experiment as the sweep's long-term preset: the gradient reports
from both writers, and `rnn.experiment.run_one` giving exactly the sweep's run."""

import csv

from rnn.experiment import LongTermConfig, run_one, run_spec
from rnn.sweep.cache import RunCache
from rnn.sweep.config import load_config
from rnn.sweep.report import (
    GRADIENT_FILES,
    LONG_TERM_FILES,
    SWEEP_FILES,
    write_long_term_reports,
    write_sweep_reports,
)
from rnn.sweep.runner import local_executor, run_sweep
from rnn.sweep.runs import train_run


def test_the_long_term_preset_writes_its_gradient_reports_both_ways(tmp_path):
    cfg = load_config("long-term-quick", flags={"steps": 8, "T": (6, 4), "hidden": (3,),
                                                "val_every": 4, "test_size": 8,
                                                "grad_batch": 2})
    assert cfg.grad_lag == 6
    result = run_sweep(cfg, RunCache(tmp_path / "runs"), local_executor(1), log=lambda line: None)
    write_sweep_reports(result, tmp_path / "sweep")
    assert set(SWEEP_FILES + GRADIENT_FILES) <= {p.name for p in (tmp_path / "sweep").iterdir()}
    summary = write_long_term_reports(result, tmp_path / "lt")
    assert set(LONG_TERM_FILES) <= {p.name for p in (tmp_path / "lt").iterdir()}
    rows = list(csv.DictReader(open(tmp_path / "lt" / "results.csv")))
    chosen = {(s.setting[1], s.setting[3]): s.chosen_lr for s in result.settings}
    assert [(r["cell"], int(r["lag_T"]), float(r["lr"])) for r in rows] == [
        (c, T, chosen[c, T]) for T in (4, 6) for c in ("rnn", "lstm")]
    assert set(summary["gradients"]) == {"rnn_init", "rnn_trained", "lstm_init",
                                         "lstm_trained"}
    assert len(summary["rows"]) == 4



def test_run_one_is_the_sweep_run_of_its_spec():
    cfg = LongTermConfig(lags=(5,), grad_lag=5, steps=10, hidden=3, batch=4, test_size=8,
                         grad_batch=2, record_every=5, workers=1)
    r = run_one("lstm", 5, cfg)
    record = train_run(run_spec("lstm", 5, cfg))
    assert r.test_mse == record["metric"] and r.loss == record["train_loss"]
    assert r.grad_trained == record["grad_trained"] and r.lr == cfg.lr
    assert run_spec("lstm", 5, cfg) == load_config(
        "long-term", flags={"cells": ("lstm",), "T": (5,), "steps": 10, "hidden": (3,),
                            "batch": 4, "test_size": 8, "grad_batch": 2, "val_every": 5}
    ).spec(("adding", "lstm", "uniform", 5, 3), cfg.lr, 0)
