"""Tests for rnn.sweep.runner, summary and report: the learning rate chosen on validation data
(never test), a cache that makes a rerun train nothing and an extended sweep train only what
is new, corrupt entries recomputed, Ctrl-C keeping finished runs, the reports and the CLI."""

import csv
import json

import pytest

from rnn import cli
from rnn.sweep.cache import RunCache
from rnn.sweep.config import load_config
from rnn.sweep.report import SWEEP_FILES, write_sweep_reports
from rnn.sweep.runner import choose_lr, free_cores_seconds, local_executor, run_sweep
from rnn.sweep.runs import RUN_FORMAT, versions
from rnn.sweep.tasks import sweep_task

TINY = {"tasks": ("adding",), "cells": ("rnn", "lstm"), "T": (5,), "hidden": (4,), "seeds": 2,
        "steps": 12, "batch": 4, "val_size": 8, "test_size": 16, "val_every": 6}
ROW_KEYS = {"task", "cell", "init", "T", "hidden", "steps", "batch", "lr", "seeds", "successes",
            "success_rate", "success_ci", "metric", "median", "median_ci", "baseline",
            "threshold", "median_steps_to_success", "median_seconds", "worse_than_baseline"}


def tiny(**changes):
    return load_config("quick", flags={**TINY, **changes})


class Counting:
    """The local executor (one process), counting the jobs it is given."""

    def __init__(self):
        self.jobs = []

    def __call__(self, fn, jobs, on_result, progress=None):
        self.jobs += jobs
        local_executor(1)(fn, jobs, on_result, progress=False)


def fake_record(spec, val_metric, test_metric):
    """A valid record with chosen validation and test metrics, without training."""
    criterion = sweep_task(spec.task).criterion(spec.T)
    return {"format": RUN_FORMAT, "key": spec.key, "spec": spec.to_dict(),
            "metric": test_metric, "test_loss": test_metric,
            "success": criterion.success(test_metric), "test_baseline": criterion.baseline,
            "worse_than_baseline": criterion.worse_than_baseline(test_metric),
            "steps_to_success": None, "diverged_at": None, "val_step": [spec.steps],
            "val_loss": [val_metric], "val_metric": [val_metric], "train_loss": [0.2],
            "seconds": 0.0, "cpu_seconds": 0.0, **versions(), "finished": "now"}


def test_the_rate_is_chosen_on_validation_even_when_test_disagrees(tmp_path):
    # validation prefers 0.01, the test set would prefer 0.03: the sweep must take 0.01
    scores = {0.003: (0.50, 0.50), 0.01: (0.02, 0.30), 0.03: (0.10, 0.001)}
    phases = []

    def execute(fn, jobs, on_result, progress=None):
        phases.append(jobs)
        for spec in jobs:
            val, test = scores[spec.lr]
            on_result(fake_record(spec, val, test + spec.seed * 1e-3))

    cfg = tiny(cells=("lstm",), seeds=3)
    result = run_sweep(cfg, RunCache(tmp_path / "runs"), execute, log=lambda line: None)
    (setting,) = result.settings
    assert setting.chosen_lr == 0.01
    assert sorted(s.lr for s in phases[0]) == [0.003, 0.01, 0.03]  # the search, first seed
    assert {s.lr for s in phases[1]} == {0.01} and sorted(s.seed for s in phases[1]) == [1, 2]
    assert [r["spec"]["seed"] for r in setting.runs] == [0, 1, 2]
    assert setting.runs[0] is setting.candidates[0.01]  # the search's run is reused
    write_sweep_reports(result, tmp_path)
    (row,) = json.loads((tmp_path / "summary.json").read_text())["rows"]
    assert row["lr"] == 0.01 and row["lr_candidates"]["0.03"]["val_metric"] == 0.10
    assert "| adding | lstm | uniform | 5 | 4 | 0.5 | 0.02 * | 0.1 |" in \
        (tmp_path / "results.md").read_text()


def test_choose_lr_ranks_diverged_runs_last_and_ties_by_the_lower_rate(tmp_path):
    cfg = tiny()
    setting = cfg.settings()[0]
    rec = {lr: fake_record(cfg.spec(setting, lr, 0), 0.05, 0.05) for lr in cfg.lrs}
    assert choose_lr(rec) == min(cfg.lrs)
    rec[min(cfg.lrs)] = dict(rec[min(cfg.lrs)], diverged_at=3, val_metric=[0.0001])
    assert choose_lr(rec) == sorted(cfg.lrs)[1]
    rec[max(cfg.lrs)] = dict(rec[max(cfg.lrs)], val_metric=[0.05], val_loss=[0.01])
    assert choose_lr(rec) == max(cfg.lrs)  # the same metric: the lower validation loss


def test_a_rerun_trains_nothing_and_an_extended_sweep_only_what_is_new(tmp_path):
    lines = []
    cache = RunCache(tmp_path / "runs", log=lines.append)
    first = Counting()
    a = run_sweep(tiny(), cache, first, log=lines.append)
    assert a.trained == len(first.jobs) == tiny().run_count() == 2 * (3 + 1)
    again = Counting()
    b = run_sweep(tiny(), cache, again, log=lines.append)
    assert again.jobs == [] and b.trained == 0 and b.cached == a.trained
    assert [s.runs for s in b.settings] == [s.runs for s in a.settings]
    more = Counting()
    bigger = tiny(seeds=3, T=(5, 7))
    c = run_sweep(bigger, cache, more, log=lines.append)
    new = {r["key"] for r in c.records()} - {r["key"] for r in a.records()}
    assert {s.key for s in more.jobs} == new
    assert len(new) == 2 * 1 + 2 * (3 + 2)  # a third seed at T = 5; all of T = 7
    assert not any(line.startswith("cache:") for line in lines)


def test_a_corrupt_entry_is_reported_and_trained_again(tmp_path):
    lines = []
    cache = RunCache(tmp_path / "runs", log=lines.append)
    a = run_sweep(tiny(), cache, Counting(), log=lambda line: None)
    victim = a.settings[1].runs[1]
    cache.path(victim["key"]).write_text('{"format": 1, "metric": NaN}')
    redo = Counting()
    b = run_sweep(tiny(), cache, redo, log=lines.append)
    assert [s.key for s in redo.jobs] == [victim["key"]] and b.trained == 1
    assert sum(line.startswith("cache:") for line in lines) == 1
    assert str(cache.path(victim["key"])) in lines[0]
    assert b.settings[1].runs[1]["metric"] == victim["metric"]  # the same numbers again
    assert cache.load(redo.jobs[0]) is not None  # replaced by a good entry


def test_ctrl_c_keeps_every_finished_run(tmp_path):
    cache = RunCache(tmp_path / "runs")

    def interrupted(fn, jobs, on_result, progress=None):
        for spec in jobs[:2]:
            on_result(fn(spec))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(tiny(), cache, interrupted, log=lambda line: None)
    assert len(list((tmp_path / "runs").glob("*.json"))) == 2
    rest = Counting()
    run_sweep(tiny(), cache, rest, log=lambda line: None)
    assert len(rest.jobs) == tiny().run_count() - 2


def test_reports_are_written_and_readable(tmp_path):
    cfg = tiny(tasks=("adding", "reber"))
    result = run_sweep(cfg, RunCache(tmp_path / "runs"), Counting(), log=lambda line: None)
    summary = write_sweep_reports(result, tmp_path)
    assert set(SWEEP_FILES) <= {p.name for p in tmp_path.iterdir()}
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [(r["task"], r["cell"], r["T"]) for r in rows] == [
        ("adding", "rnn", "5"), ("adding", "lstm", "5"), ("reber", "rnn", ""),
        ("reber", "lstm", "")]
    assert rows[0]["criterion"] == "test MSE < 0.01" and float(rows[0]["baseline"]) > 0.16
    runs = list(csv.DictReader(open(tmp_path / "runs.csv")))
    assert len(runs) == cfg.run_count() == len({r["key"] for r in runs})
    assert {r["role"] for r in runs} == {"search", "search, chosen", "seed"}
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["rows"] == summary["rows"] and saved["trained"] == cfg.run_count()
    for row in saved["rows"]:
        assert ROW_KEYS <= set(row)
        assert row["successes"] <= row["seeds"] == 2
        lo, hi = row["success_ci"]
        assert 0 <= lo <= row["success_rate"] <= hi <= 1
        assert row["median_ci"][0] <= row["median"] <= row["median_ci"][1]
        assert row["worse_than_baseline"] == (row["median_excess"] >= 0)
    md = (tmp_path / "results.md").read_text()
    assert "every test string right" in md and "95% Wilson interval" in md
    for png in ("success_vs_T.png", "loss_curves.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_cli_sweep_runs_and_a_rerun_trains_nothing(tmp_path, capsys):
    args = ["experiment", "sweep", "--quick", "--tasks", "adding", "--cells", "rnn", "--T", "5",
            "--hidden", "4", "--seeds", "2", "--steps", "12", "--batch", "4", "--val-size",
            "8", "--test-size", "16", "--val-every", "6", "--workers", "1", "--no-progress",
            "--out", str(tmp_path / "out")]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "sweep (quick)" in out and "4 runs trained, 0 from the cache" in out
    assert "adding rnn (uniform) T=5:" in out
    assert cli.main(args) == 0
    assert "0 runs trained, 4 from the cache" in capsys.readouterr().out
    assert (tmp_path / "out" / "results.md").exists()


def test_free_cores_seconds_schedules_the_two_phases(tmp_path):
    # search runs of 4, 3 and 3 CPU seconds on two cores end at 6; then seeds of 2, 2, 2
    # end at 6 + 4 = 10 (the first seed's run at the chosen rate is not run again)
    cfg = tiny(cells=("lstm",), seeds=4)
    cpu = {0.003: 4.0, 0.01: 3.0, 0.03: 3.0}

    def execute(fn, jobs, on_result, progress=None):
        for spec in jobs:
            seconds = cpu[spec.lr] if spec.seed == 0 else 2.0
            on_result(dict(fake_record(spec, 0.1, 0.1), cpu_seconds=seconds))

    result = run_sweep(cfg, RunCache(tmp_path / "runs"), execute, log=lambda line: None)
    assert free_cores_seconds(result, workers=2) == 10.0
    assert free_cores_seconds(result, workers=1) == 4 + 3 + 3 + 3 * 2
