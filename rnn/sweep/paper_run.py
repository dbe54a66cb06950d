"""Paper vs ours, run: each distinct paper setting of a budget as a one-setting sweep config
(`paper_configs`), all trained together through the sweep's cache (`run_paper`), and the
files: paper.md, paper.csv and each setting's sweep reports (`write_paper_reports`)."""

from __future__ import annotations

from dataclasses import dataclass

from rnn.io import output_folder, write_text
from rnn.reports import csv_text
from rnn.sweep.cache import RunCache
from rnn.sweep.config import SweepConfig, load_config
from rnn.sweep.paper import RECORDS, Budget, paper_settings, paper_table
from rnn.sweep.report import write_sweep_reports
from rnn.sweep.runner import SweepResult, run_sweeps
from rnn.sweep.summary import summary_rows
from rnn.sweep.tasks import task_name

PAPER_FILES = ("paper.md", "paper.csv")
SWEEPS_FOLDER = "sweeps"  # one folder of sweep reports per setting, named by its first record
# The sweep preset that gives each named budget what the budget leaves open: the learning-rate
# grid, the optimiser, clipping, validation and test sizes. Any other budget takes "quick".
BUDGET_PRESETS = {"quick": "quick", "default": "default"}
SETTING_KEYS = ("task", "variant", "cell", "init", "T", "hidden", "steps", "batch", "seeds")


@dataclass(frozen=True)
class PaperSetting:
    """One distinct setting: the records it stands for and its one-setting sweep config."""

    records: tuple  # record keys, in RECORDS' order
    config: SweepConfig

    @property
    def name(self) -> str:
        """The folder of its sweep reports: its first record's key."""
        return self.records[0]


def paper_configs(budget="default", preset: str | None = None,
                  extra: dict | None = None) -> list[PaperSetting]:
    """The paper settings of `budget` (a name of paper.BUDGETS or a Budget) without
    duplicates, each as a one-setting sweep config on `preset` (default: the budget's, see
    BUDGET_PRESETS) with `extra` sweep keys on top (e.g. {"test_size": 100})."""
    name = budget.name if isinstance(budget, Budget) else budget
    preset = preset or BUDGET_PRESETS.get(name, "quick")
    groups: dict[tuple, list[str]] = {}
    settings = {}
    for s in paper_settings(budget):
        key = tuple(s[k] for k in SETTING_KEYS)
        groups.setdefault(key, []).append(s["record"])
        settings.setdefault(key, s)
    out = []
    for key, records in groups.items():
        s = settings[key]
        task = task_name(s["task"], s["variant"])
        flags = {"tasks": (task,), "cells": (s["cell"],), "inits": {s["cell"]: [s["init"]]},
                 "hidden": (s["hidden"],), "seeds": s["seeds"], "steps": {task: s["steps"]},
                 "batch": s["batch"], **(extra or {})}
        if s["T"] is not None:
            flags["T"] = {task: (s["T"],)}
        out.append(PaperSetting(tuple(records), load_config(preset, flags=flags)))
    return out


@dataclass
class PaperRun:
    """The settings, their sweeps' results (in the same order) and every summary row."""

    settings: list
    results: list

    @property
    def rows(self) -> list[dict]:
        """The sweeps' per-setting summary rows, in the settings' order."""
        return [row for result in self.results for row in summary_rows(result)]

    @property
    def trained(self) -> int:
        return sum(r.trained for r in self.results)

    @property
    def cached(self) -> int:
        return sum(r.cached for r in self.results)

    def table(self) -> tuple[str, list[list]]:
        """paper_table over every record: (Markdown, CSV rows with the header first)."""
        return paper_table(RECORDS, self.rows)


def run_paper(settings: list[PaperSetting], cache: RunCache, execute, progress=None,
              log=print) -> PaperRun:
    """Train every setting's sweep, all at once (rnn.sweep.runner.run_sweeps): runs already
    in `cache` are read, not trained, so a rerun trains nothing and an interrupted run
    resumes."""
    results = run_sweeps([s.config for s in settings], cache, execute, progress, log)
    return PaperRun(list(settings), results)


def _notes(run: PaperRun) -> str:
    """What paper.md says under the table: the budget as run, the shared records, the files."""
    lines = ["", "Settings (each a sweep of its own; its reports are in "
                 f"{SWEEPS_FOLDER}/<record>/, its runs in runs/):", ""]
    for s, result in zip(run.settings, run.results):
        (row,) = summary_rows(result)
        shared = f" (also {', '.join(s.records[1:])})" if len(s.records) > 1 else ""
        T = f", T = {row['T']}" if row["T"] is not None else ""
        lines.append(f"- {SWEEPS_FOLDER}/{s.name}/{shared}: {row['sweep_task']}, "
                     f"{row['cell']} ({row['init']}){T}, hidden {row['hidden']}, "
                     f"{row['steps']} steps x batch {row['batch']}, {row['seeds']} seeds, lr "
                     f"{row['lr']:g} chosen on validation from "
                     f"{', '.join(f'{lr:g}' for lr in row['lr_grid'])}")
    seconds = run.results[0].seconds if run.results else 0.0
    lines += ["", f"Wall time {seconds:.0f} s: {run.trained} runs trained, {run.cached} read "
                  f"from the cache.", ""]
    return "\n".join(lines)


def write_paper_reports(run: PaperRun, out) -> tuple[str, list[list]]:
    """paper.md and paper.csv in folder `out`, and each setting's sweep reports in
    out/sweeps/<record>/; returns the table (Markdown, CSV rows)."""
    folder = output_folder(out)
    for s, result in zip(run.settings, run.results):
        output_folder(folder / SWEEPS_FOLDER)
        write_sweep_reports(result, folder / SWEEPS_FOLDER / s.name)
    markdown, rows = run.table()
    title = "# Paper vs ours: published figures on the long-memory tasks next to our runs\n\n"
    write_text(folder / "paper.md", title + markdown + _notes(run), "report")
    write_text(folder / "paper.csv", csv_text(rows), "report")
    return markdown, rows


def result_of(run: PaperRun, record: str) -> SweepResult:
    """The sweep whose setting stands for `record` (a key of RECORDS)."""
    for s, result in zip(run.settings, run.results):
        if record in s.records:
            return result
    raise KeyError(record)
