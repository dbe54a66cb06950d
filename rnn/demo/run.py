"""The whole demo: the five parts in order, each announced with "[k/5]" and timed, every file
written whole (rnn.io) into one folder, and a summary.json and index.html of it all."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from rnn.demo.config import DEFAULT_OUT, DemoConfig, load_text
from rnn.demo.page import index_html, summary_lines
from rnn.demo.parts import (
    conveyor_belt,
    derive,
    draw_figures,
    sample_text,
    train_adding,
    train_char_model,
    write_experiment_reports,
)
from rnn.experiment import pool_size
from rnn.experiment_born_in import run_all as run_born_in
from rnn.io import output_folder, write_text
from rnn.plots import plot_char_model, plot_conveyor_belt, plot_path_magnitudes
from rnn.reports_born_in import REPORT_FILES as BORN_IN_FILES
from rnn.reports_born_in import analyse
from rnn.reports_born_in import write_reports as write_born_in_reports
from rnn.tasks import ADDING_BASELINE_MSE

PARTS = 5

# Where index.html finds each file, relative to the demo's folder.
PAGE_FILES = {
    "derivation": "derivation.txt",
    "loss_curves": "experiment/loss_curves.png",
    "grad_norms": "experiment/grad_norm_vs_lag.png",
    "results_md": "experiment/results.md",
    "conveyor_belt": "plots/conveyor_belt.png",
    "char_loss": "plots/char_model_loss.png",
    "path_magnitudes": "plots/path_magnitudes.png",
    "born_in_accuracy": "born-in/accuracy_vs_gap.png",
    "born_in_gradients": "born-in/country_gradients.png",
    "born_in_units": "born-in/country_units.png",
    "born_in_belt": "born-in/forget_gate.png",
    "born_in_md": "born-in/results.md",
}


class _Steps:
    """Prints "[k/5] what ..." as each part starts and its time when it ends."""

    def __init__(self, log):
        self.log, self.k, self.t0 = log, 0, None

    def start(self, what: str):
        self.end()
        self.k += 1
        self.t0 = time.perf_counter()
        self.log(f"[{self.k}/{PARTS}] {what}")

    def end(self):
        if self.t0 is not None:
            self.log(f"      done in {time.perf_counter() - self.t0:.1f} s")
            self.t0 = None


def prepare_folder(folder) -> Path:
    """`folder` (made if missing, in a folder that exists) with its subfolders."""
    folder = output_folder(folder)
    for sub in ("figures", "plots", "experiment", "born-in"):
        output_folder(folder / sub)
    return folder


def _log_derivation(der: dict, cfg: DemoConfig, log) -> None:
    """Print part 1's closed forms and the cross-check's largest errors."""
    log("      backward pass of one LSTM unit at step t (δv = ∂L/∂v), derived by SymPy:")
    for line in der["lines"]:
        log(f"        {line}")
    log(f"      local derivatives equal to the textbook forms: {der['verified']}/"
        f"{der['checked']}")
    H, D, B, T = cfg.check
    log(f"      cross-check of the compiled closed forms (H={H}, D={D}, B={B}, T={T}), "
        f"max |error| over every gradient:")
    names = {"engine": "engine, primitive graph (fused=False)",
             "fused": "engine, fused LSTM kernel", "fd": "finite differences"}
    for ref, label in names.items():
        log(f"        {label:<40} {der['errors'][ref]:.1e}")
    log(f"        {'OK' if der['check'].ok else 'FAILED'} (tolerance 1e-10 against the "
        "engine, 1e-7 + 1e-5|n| against finite differences)")


def _summary(cfg: DemoConfig, exp_cfg, der, exp_summary, belt, text, text_name, corpus,
             trainer, batch, seq_len, sample, born_in) -> dict:
    """The measured numbers of a run, as summary.json holds them."""
    val = {k[4:]: v[-1] for k, v in trainer.history.items()
           if k.startswith("val_") and k != "val_step" and v}
    summary = {
        "seed": cfg.seed,
        "mode": "quick" if cfg.quick else "full",
        "derivation": {"lines": der["lines"], "verified": der["verified"],
                       "checked": der["checked"], "cross_check_table": der["check"].table()},
        "cross_check": {**der["errors"], "ok": der["check"].ok, "sizes": list(cfg.check)},
        "adding": {"lags": list(exp_cfg.lags), "grad_lag": exp_cfg.grad_lag,
                   "steps": exp_cfg.steps, "hidden": exp_cfg.hidden, "lr": exp_cfg.lr,
                   "batch": exp_cfg.batch, "baseline_mse": ADDING_BASELINE_MSE,
                   "test_mse": exp_summary["test_mse"],
                   "gradients": exp_summary["gradients"]},
        "conveyor_belt": {"target": belt["target"], "prediction": belt["prediction"],
                          "marks": [int(m) + 1 for m in belt["marks"]]},
        "char_model": {"text": text_name, "characters": len(text), "vocab": len(corpus.vocab),
                       "hidden": cfg.char_hidden, "steps": trainer.step, "batch": batch,
                       "seq_len": seq_len, "val_loss": float(val.get("loss", math.nan)),
                       "bits_per_char": float(val.get("bits_per_char", math.nan)),
                       "temperature": cfg.temperature, "sample": sample},
        "born_in": {"gaps": born_in["config"]["gaps"], "steps": born_in["config"]["steps"],
                    "hidden": born_in["config"]["hidden"], "chance": born_in["chance"],
                    "accuracy": {c: a["mean"] for c, a in born_in["accuracy"].items()},
                    "lstm": born_in.get("lstm")},
    }
    summary["summary"] = summary_lines(summary)
    return summary


def run_demo(out=DEFAULT_OUT, seed: int = 0, quick: bool = False, text_path=None,
             log=print, progress: bool = False) -> dict:
    """Run all five parts into folder `out`; returns the summary (also in summary.json)."""
    t_start = time.perf_counter()
    cfg = DemoConfig.quick_config(seed) if quick else DemoConfig.full(seed)
    text, text_name = load_text(text_path)  # fail on a bad file before any work
    folder = prepare_folder(out)
    figures, plots, exp_dir = folder / "figures", folder / "plots", folder / "experiment"
    steps = _Steps(log)
    written: list[Path] = []

    steps.start("Deriving the LSTM's gate gradients with SymPy, cross-checking the engine")
    der = derive(cfg)
    _log_derivation(der, cfg, log)
    written.append(write_text(folder / "derivation.txt", der["pretty"]))
    written.append(write_text(folder / "crosscheck.txt", der["check"].table() + "\n"))

    steps.start("Drawing the walk-through's figures and the RNN-vs-LSTM gradient overlay")
    drawn = draw_figures(figures, cfg, log)
    written += drawn["concepts"] + drawn["graphs"]
    log(f"      {len(drawn['concepts'])} concept diagrams and {len(drawn['graphs'])} "
        f"computation graphs in {figures}")

    exp_cfg = cfg.experiment()
    steps.start("Training a tanh RNN and an LSTM on the adding problem, RNN, LSTM and GRU on "
                "\"I was born in France ... I can speak French\", then a character LSTM")
    log(f"      adding problem: T = {', '.join(map(str, exp_cfg.lags))}; {exp_cfg.steps} steps, "
        f"hidden {exp_cfg.hidden}, the same budget for both cells, "
        f"{pool_size(exp_cfg)} processes")
    t0 = time.perf_counter()
    results, lstm_state = train_adding(exp_cfg, log, progress)
    exp_seconds = time.perf_counter() - t0
    bi_cfg = cfg.born_in()
    log(f"      born in France: gaps {', '.join(map(str, bi_cfg.gaps))}; {bi_cfg.steps} steps, "
        f"hidden {bi_cfg.hidden}, cells {', '.join(bi_cfg.cells)}")
    t0 = time.perf_counter()
    bi_results = run_born_in(bi_cfg, progress=progress, log=lambda line: log("      " + line))
    bi_seconds = time.perf_counter() - t0
    log(f"      character model: {text_name} ({len(text):,} characters), hidden "
        f"{cfg.char_hidden}, {cfg.char_steps} steps")
    trainer, corpus, batch, seq_len = train_char_model(
        text, text_name, cfg, log=lambda line: log(f"      {line}"), progress=progress)
    sample = sample_text(trainer, corpus, cfg)
    log(f"      sample (temperature {cfg.temperature:g}):")
    for line in sample.splitlines() or [""]:
        log(f"      | {line}")
    written.append(write_text(folder / "sample.txt", sample + "\n"))

    steps.start("Plotting: loss curves, gradient norm against lag, the conveyor belt, "
                "accuracy against the gap, the country units")
    exp_summary, exp_files = write_experiment_reports(results, exp_cfg, exp_dir, exp_seconds)
    written += exp_files
    belt = conveyor_belt(lstm_state, exp_cfg.hidden, exp_cfg.grad_lag, cfg.seed)
    plot_conveyor_belt(belt, plots / "conveyor_belt.png")
    written.append(plots / "conveyor_belt.png")
    plot_char_model(trainer.history, len(corpus.vocab), plots / "char_model_loss.png",
                    f"character LSTM (hidden {cfg.char_hidden}) on {text_name}")
    written.append(plots / "char_model_loss.png")
    plot_path_magnitudes(plots / "path_magnitudes.png")
    written.append(plots / "path_magnitudes.png")
    bi_summary = write_born_in_reports(bi_results, bi_cfg, folder / "born-in", bi_seconds,
                                       analyse(bi_results, bi_cfg))
    written += [folder / "born-in" / name for name in sorted(BORN_IN_FILES)]
    log(f"      wrote the plots to {plots}, {exp_dir} and {folder / 'born-in'}")

    steps.start("Writing summary.json and index.html")
    summary = _summary(cfg, exp_cfg, der, exp_summary, belt, text, text_name, corpus, trainer,
                       batch, seq_len, sample, bi_summary)
    summary["files"] = [p.relative_to(folder).as_posix() for p in written] + [
        "summary.json", "index.html"]
    summary["wall_seconds"] = time.perf_counter() - t_start
    page_files = {**PAGE_FILES, "concepts": drawn["concepts"], "graphs": drawn["graphs"],
                  "skipped": drawn["skipped"]}
    written.append(write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n"))
    written.append(write_text(folder / "index.html", index_html(folder, summary, page_files)))
    summary["wall_seconds"] = time.perf_counter() - t_start
    steps.end()
    log(f"Summary ({summary['mode']} run, seed {seed})")
    for line in summary["summary"]:
        log(f"  {line}")
    log(f"  wall time {summary['wall_seconds']:.0f} s")
    log(f"Wrote {len(written)} files to {folder}:")
    for path in written:
        log(f"  {path}")
    log(f"Open {folder / 'index.html'} in a browser to see everything together.")
    return summary
