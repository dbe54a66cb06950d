"""Tests for rnn.sweep.paper_run and `rnn-lab experiment paper`: every record in paper.md and
paper.csv (a record without a run says "not run"), a rerun trains nothing, and the table's
"ours" is the sweep's own summary of that record's setting. Tiny budgets keep them fast."""

import csv

import pytest

from rnn import cli
from rnn.sweep import paper
from rnn.sweep.cache import RunCache
from rnn.sweep.paper_run import (PAPER_FILES, SWEEPS_FOLDER, paper_configs, result_of,
                                 run_paper, write_paper_reports)
from rnn.sweep.report import SWEEP_FILES
from rnn.sweep.runner import local_executor, run_sweeps
from rnn.sweep.summary import summary_rows

TINY = paper.Budget("tiny", max_hidden=4, max_T=20, steps=6, batch=4, seeds=2)
SMALL = {"val_size": 8, "test_size": 16, "val_every": 3}
KEYS = [r.key for r in paper.RECORDS]


class Counting:
    """The local executor (one process), counting its calls and the jobs it is given."""

    def __init__(self):
        self.calls, self.jobs = 0, []

    def __call__(self, fn, jobs, on_result, progress=None):
        self.calls += 1
        self.jobs += jobs
        local_executor(1)(fn, jobs, on_result, progress=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny budget's paper run, trained once, its reports written."""
    out = tmp_path_factory.mktemp("paper")
    settings = paper_configs(TINY, extra=SMALL)
    execute = Counting()
    run = run_paper(settings, RunCache(out / "runs", log=lambda line: None), execute,
                    log=lambda line: None)
    write_paper_reports(run, out)
    return out, settings, run, execute


def _csv(path):
    return list(csv.DictReader(open(path, newline="")))


def test_each_distinct_setting_is_one_single_setting_sweep():
    for budget in ("quick", "default"):
        settings = paper_configs(budget)
        assert [k for s in settings for k in s.records] == KEYS  # every record, in order, once
        assert all(len(s.config.settings()) == 1 for s in settings)
        assert len({s.config.settings()[0] for s in settings}) == len(settings)
    quick = {s.records: s.config for s in paper_configs("quick")}
    shared = quick[("urnn-adding-irnn", "le-adding-irnn")]  # both cut to T = 50, hidden 16
    assert shared.settings() == [("adding", "irnn", "identity", 50, 16)]
    assert quick[("cybertron-adding-lstm",)].settings() == [
        ("adding-1997", "lstm", "uniform", 50, 8)]
    assert quick[("hs1997-reber-lstm",)].settings() == [("reber", "lstm", "uniform", None, 4)]
    assert len(paper_configs("default")) == len(KEYS)  # T = 100 and 200 keep the IRNNs apart


def test_settings_keep_the_budget_and_take_the_rest_from_the_preset():
    for s in paper_configs(TINY, extra=SMALL):
        cfg = s.config
        (task,) = cfg.tasks
        assert (cfg.steps[task], cfg.batch, cfg.seeds) == (6, 4, 2)
        assert (cfg.val_size, cfg.test_size, cfg.val_every) == (8, 16, 3)
        assert len(cfg.lrs) >= 3 and cfg.hidden[0] <= 4
    default = paper_configs("default")[0].config
    assert default.lrs == (0.001, 0.003, 0.01, 0.03) and default.test_size == 1000


def test_several_sweeps_train_each_phase_together(tiny_run):
    _, settings, run, execute = tiny_run
    assert execute.calls == 2  # the search of every setting, then every other seed
    count = sum(s.config.run_count() for s in settings)
    assert len(execute.jobs) == count == run.trained and run.cached == 0
    assert [r.trained for r in run.results] == [s.config.run_count() for s in settings]


def test_paper_files_hold_every_record(tiny_run):
    out, settings, _, _ = tiny_run
    assert set(PAPER_FILES) <= {p.name for p in out.iterdir()}
    rows = _csv(out / "paper.csv")
    assert [r["record"] for r in rows] == KEYS
    assert all(r["verdict"] != "not run" for r in rows)
    md = (out / "paper.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(table) == 1 + len(KEYS)
    for s in settings:
        assert set(SWEEP_FILES) <= {p.name for p in (out / SWEEPS_FOLDER / s.name).iterdir()}
        assert f"{SWEEPS_FOLDER}/{s.name}/" in md


def test_ours_is_the_sweeps_summary_of_the_records_setting(tiny_run):
    out, _, run, _ = tiny_run
    rows = {r["record"]: r for r in _csv(out / "paper.csv")}
    md = (out / "paper.md").read_text()
    for rec in paper.RECORDS:
        (summary,) = summary_rows(result_of(run, rec.key))
        got = rows[rec.key]
        assert paper.match(rec, run.rows) == summary
        for ours, key in (("ours_T", "T"), ("ours_hidden", "hidden"), ("ours_lr", "lr"),
                          ("ours_seeds", "seeds"), ("ours_successes", "successes")):
            assert got[ours] == ("" if summary[key] is None else str(summary[key])), rec.key
        for ours, value in (("ours_median", summary["median"]),
                            ("ours_median_lo", summary["median_ci"][0]),
                            ("ours_median_hi", summary["median_ci"][1]),
                            ("ours_success_lo", summary["success_ci"][0]),
                            ("ours_success_hi", summary["success_ci"][1])):
            assert got[ours] == ("" if value is None else repr(value)), (rec.key, ours)
        assert paper.ours_text(summary).replace("|", "\\|") in md
    # and the setting's own results.csv says the same
    lstm = _csv(out / SWEEPS_FOLDER / "urnn-adding-lstm" / "results.csv")[0]
    assert lstm["median"] == rows["urnn-adding-lstm"]["ours_median"]


def test_a_rerun_trains_nothing(tiny_run):
    out, settings, first, _ = tiny_run
    again = Counting()
    run = run_paper(settings, RunCache(out / "runs", log=lambda line: None), again,
                    log=lambda line: None)
    assert again.jobs == [] and run.trained == 0 and run.cached == first.trained
    assert run.rows == first.rows


def test_a_record_without_a_run_says_not_run(tiny_run, tmp_path):
    out, settings, _, _ = tiny_run
    rest = [s for s in settings if "urnn-copy-lstm" not in s.records]
    run = run_paper(rest, RunCache(out / "runs", log=lambda line: None), Counting(),
                    log=lambda line: None)
    write_paper_reports(run, tmp_path)
    rows = {r["record"]: r for r in _csv(tmp_path / "paper.csv")}
    assert list(rows) == KEYS
    assert rows["urnn-copy-lstm"]["verdict"] == "not run"
    assert rows["urnn-copy-lstm"]["ours_median"] == ""
    assert "| not run | not run |" in (tmp_path / "paper.md").read_text()
    assert not (tmp_path / SWEEPS_FOLDER / "urnn-copy-lstm").exists()


def test_run_sweeps_equals_one_sweep_at_a_time(tiny_run, tmp_path):
    out, settings, run, _ = tiny_run
    cfgs = [s.config for s in settings[:2]]
    alone = [run_sweeps([cfg], RunCache(out / "runs", log=lambda line: None), Counting(),
                        log=lambda line: None)[0] for cfg in cfgs]
    assert [summary_rows(r) for r in alone] == [summary_rows(r) for r in run.results[:2]]


def test_cli_paper_writes_the_table_and_a_rerun_trains_nothing(tmp_path, capsys, monkeypatch):
    # the quick budget, shrunk: its preset's learning rates and data sizes, a few steps
    tiny = paper.Budget("quick", max_hidden=4, max_T=20, steps=4, batch=4, seeds=1)
    monkeypatch.setitem(paper.BUDGETS, "quick", tiny)
    # hidden 4 merges the two 1997 LSTMs (4 and 8 units): 7 settings, 3 rates + 1 seed each
    n = len(paper_configs(tiny))
    assert n == 7
    args = ["experiment", "paper", "--quick", "--seeds", "2", "--workers", "1",
            "--no-progress", "--out", str(tmp_path / "out")]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "paper (quick budget): hidden <= 4, T <= 20, 4 steps x batch 4, 2 seeds" in out
    assert f"{n} settings for 9 records, up to {4 * n} runs" in out
    assert f"{4 * n} runs trained, 0 from the cache" in out
    for key in KEYS:
        assert f"\n  {key}: " in out
    rows = _csv(tmp_path / "out" / "paper.csv")
    assert [r["record"] for r in rows] == KEYS and {r["ours_seeds"] for r in rows} == {"2"}
    assert cli.main(args) == 0
    assert f"0 runs trained, {4 * n} from the cache" in capsys.readouterr().out
