"""A sweep's reports, each written whole (rnn.io): results.md and results.csv (one row per
setting), runs.csv (one row per run), summary.json (the config, the rows, the search), and
the figures success_vs_T.png and loss_curves.png; with gradients measured (the long-term
preset) also grad_norms.csv, grad_norm_vs_lag.png and jacobian_spectra.png.

`write_long_term_reports` writes the same runs as `rnn-lab experiment long-term` always has
(rnn.reports: one row per cell and T), with runs.csv beside them."""

from __future__ import annotations

import json

from rnn.io import output_folder, write_text
from rnn.reports import REPORT_FILES, csv_text, write_gradients, write_reports
from rnn.sweep.figures import plot_curves, plot_success
from rnn.sweep.long_term import gradient_results, long_term_config, long_term_results
from rnn.sweep.runner import SweepResult, free_cores_seconds
from rnn.sweep.runs import versions
from rnn.sweep.summary import summary_rows
from rnn.sweep.tasks import sweep_task

SWEEP_FILES = ("results.md", "results.csv", "runs.csv", "summary.json", "success_vs_T.png",
               "loss_curves.png")
GRADIENT_FILES = ("grad_norms.csv", "grad_norm_vs_lag.png", "jacobian_spectra.png")

RESULT_COLUMNS = ("task", "variant", "cell", "init", "T", "hidden", "steps", "batch",
                  "optimizer", "clip", "lr", "lr_grid", "seeds", "first_seed", "successes",
                  "success_rate", "success_ci_lo", "success_ci_hi", "criterion", "metric",
                  "median", "median_ci_lo", "median_ci_hi", "baseline", "threshold",
                  "median_steps_to_success", "median_seconds", "median_cpu_seconds",
                  "median_excess", "worse_than_baseline", "runs_worse_than_baseline",
                  "diverged")
RUN_COLUMNS = ("key", "task", "cell", "init", "T", "hidden", "steps", "batch", "optimizer",
               "clip", "lr", "seed", "role", "final_val_metric", "final_val_loss", "metric",
               "test_loss", "test_baseline", "success", "steps_to_success",
               "worse_than_baseline", "diverged_at", "seconds", "cpu_seconds", "rnn_lab",
               "numpy", "python", "finished")


def _cell(value) -> str:
    """A value as a CSV cell: empty for None, numbers as Python writes them."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_cell(v) for v in value)
    return str(value)


def results_csv(rows: list[dict]) -> str:
    table = [RESULT_COLUMNS]
    for r in rows:
        flat = dict(r, success_ci_lo=r["success_ci"][0], success_ci_hi=r["success_ci"][1],
                    median_ci_lo=r["median_ci"][0], median_ci_hi=r["median_ci"][1])
        table.append([_cell(flat[c]) for c in RESULT_COLUMNS])
    return csv_text(table)


def run_rows(result: SweepResult) -> list[dict]:
    """One dict per run: its spec, its role (the search, a seed, or both) and its scores."""
    roles = {}
    for s in result.settings:
        for record in s.candidates.values():
            roles[record["key"]] = "search"
        for record in s.runs:
            roles[record["key"]] = "search, chosen" if roles.get(record["key"]) else "seed"

    def last(values):
        return values[-1] if values else None

    out = []
    for record in result.records():
        out.append({**record["spec"], **{k: record[k] for k in RUN_COLUMNS if k in record},
                    "role": roles[record["key"]],
                    "final_val_metric": last(record["val_metric"]),
                    "final_val_loss": last(record["val_loss"])})
    return out


def runs_csv(result: SweepResult) -> str:
    return csv_text([RUN_COLUMNS, *([_cell(r[c]) for c in RUN_COLUMNS]
                                    for r in run_rows(result))])


BASELINE_WORDS = {
    "adding": "predicting the mean scores the baseline (1/6 for the uRNN definition)",
    "copy": "the memoryless baseline is 10 ln 8 / (T + 20)",
    "reber": "a predictor blind to the past gets every string wrong (1.0)",
}


def _num(value, digits=4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def markdown(result: SweepResult, rows: list[dict], seconds: float) -> str:
    """results.md: what was run, each task's criterion, the table, and the rate search."""
    cfg = result.config
    cpu = sum(r["cpu_seconds"] for r in result.records())
    budget = ", ".join(f"{t} {n} steps" for t, n in cfg.steps.items())
    lines = [
        "# Sweep: success rates with 95% intervals",
        "",
        f"Cells {', '.join(cfg.cells)}; initialisations {cfg.inits_text()}; hidden "
        f"{', '.join(map(str, cfg.hidden))}; {cfg.seeds} seeds per setting (from seed "
        f"{cfg.first_seed}); {cfg.optimizer}, batch {cfg.batch}, clipping at norm {cfg.clip}; "
        f"{budget}; validation every {cfg.val_every} steps on {cfg.val_size} sequences; test "
        f"on {cfg.test_size} sequences of their own stream.",
        "",
        f"Learning rate: each setting trains every rate of {list(cfg.lrs)} on its first seed "
        "and keeps the one with the best final validation metric (never the test set); the "
        "other seeds run at that rate. Success rate: 95% Wilson interval. Median: 95% "
        "percentile-bootstrap interval (2000 resamples, fixed seed). Steps to success: the "
        "first validation point meeting the criterion, median over the runs that met it.",
        "",
        f"Wall time {seconds:.0f} s: {result.trained} runs trained, {result.cached} read from "
        f"the cache. The {len(result.records())} runs took {cpu:.0f} s of CPU time in all (one "
        f"process each, BLAS on one thread); on two free cores the two phases, scheduled as "
        f"the sweep schedules them, would take {free_cores_seconds(result):.0f} s.",
        "",
    ]
    for task in cfg.tasks:
        mine = [r for r in rows if r["sweep_task"] == task]
        criterion = sweep_task(task).criterion(mine[0]["T"])
        base = BASELINE_WORDS[sweep_task(task).family]
        lines += [f"## {sweep_task(task).title}", "",
                  f"Solved: {criterion.text}. Metric: {criterion.metric}, lower is better; "
                  f"{base}. Flagged \"no better than trivial\": the median seed's metric is "
                  f"not below the trivial strategy's on its own test sequences.", "",
                  "| cell | init | T | hidden | lr | solved | success rate [95% CI] | "
                  "median [95% CI] | baseline | median steps to success | median s (CPU) | |",
                  "|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---|"]
        for r in mine:
            lo, hi = r["median_ci"]
            flag = "**no better than trivial**" if r["worse_than_baseline"] else ""
            if r["diverged"]:
                flag += f" {r['diverged']} diverged"
            lines.append(
                f"| {r['cell']} | {r['init']} | {_cell(r['T']) or '-'} | {r['hidden']} | "
                f"{r['lr']:g} | {r['successes']}/{r['seeds']} | {r['success_rate']:.0%} "
                f"[{r['success_ci'][0]:.0%}, {r['success_ci'][1]:.0%}] | {_num(r['median'])} "
                f"[{_num(lo)}, {_num(hi)}] | {_num(r['baseline'], 3)} | "
                f"{_num(r['median_steps_to_success'])} | {_num(r['median_seconds'], 3)} "
                f"({_num(r['median_cpu_seconds'], 3)}) | {flag.strip()} |")
        lines.append("")
    lines += ["## Learning-rate search (first seed, final validation metric; * chosen)", "",
              "| task | cell | init | T | hidden | " + " | ".join(f"lr {lr:g}" for lr in cfg.lrs)
              + " |", "|---|---|---|---:|---:|" + "---:|" * len(cfg.lrs)]
    for r in rows:
        cells = []
        for lr in cfg.lrs:
            c = r["lr_candidates"][f"{lr:g}"]
            score = "diverged" if c["diverged"] else _num(c["val_metric"])
            cells.append(score + (" *" if lr == r["lr"] else ""))
        lines.append(f"| {r['sweep_task']} | {r['cell']} | {r['init']} | "
                     f"{_cell(r['T']) or '-'} | {r['hidden']} | " + " | ".join(cells) + " |")
    lines += ["", "Files: " + ", ".join(SWEEP_FILES) + (
        ", " + ", ".join(GRADIENT_FILES) if cfg.grad_lag else "") + "; runs/ holds one JSON "
        "record per run (the cache).", ""]
    return "\n".join(lines)


def write_sweep_reports(result: SweepResult, out) -> dict:
    """Write the reports into folder `out`; returns summary.json's content."""
    folder = output_folder(out)
    rows = summary_rows(result)
    seconds = result.seconds
    summary = {"config": result.config.to_dict(), "rows": rows,
               "wall_seconds": round(seconds, 1),
               "cpu_seconds": round(sum(r["cpu_seconds"] for r in result.records()), 1),
               "free_cores_seconds": round(free_cores_seconds(result), 1),
               "trained": result.trained,
               "cached": result.cached, "versions": versions()}
    write_text(folder / "results.csv", results_csv(rows), "report")
    write_text(folder / "runs.csv", runs_csv(result), "report")
    write_text(folder / "results.md", markdown(result, rows, seconds), "report")
    plot_success(rows, folder / "success_vs_T.png")
    plot_curves(result, folder / "loss_curves.png")
    if result.config.grad_lag:
        grads = gradient_results(result)
        summary["gradients"] = write_gradients(grads, long_term_config(result.config), folder)
    write_text(folder / "summary.json", json.dumps(summary, indent=1, allow_nan=False),
               "report")
    return summary


LONG_TERM_FILES = (*REPORT_FILES, "runs.csv")


def write_long_term_reports(result: SweepResult, out) -> dict:
    """The long-term experiment's reports of a sweep of its preset (LONG_TERM_FILES, the
    summary with the sweep's rows added); returns the summary."""
    folder = output_folder(out)
    write_text(folder / "runs.csv", runs_csv(result), "report")
    return write_reports(long_term_results(result), long_term_config(result.config), folder,
                         result.seconds, extra={"rows": summary_rows(result),
                                                "trained": result.trained,
                                                "cached": result.cached})
