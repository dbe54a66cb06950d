"""The "born in" experiment's reports: results.csv, summary.json, results.md and its figures,
each written whole by rnn.io's rule, and one checkpoint per cell (`<cell>.npz`, its first
seed's model, for rnn-lab inspect); `born_in` runs the experiment and writes them all.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import numpy as np

from rnn.born_in_analysis import conveyor_belt, country_units
from rnn.born_in_checkpoint import save_born_in
from rnn.experiment_born_in import BornInConfig, BornInResult, make_model, run_all
from rnn.io import output_folder, write_text
from rnn.plots import (
    plot_accuracy_vs_gap,
    plot_country_gradients,
    plot_country_units,
    plot_forget_gate,
)
from rnn.reports import csv_text

# What write_reports writes; the last two only when an LSTM was trained.
REPORT_FILES = ("results.csv", "summary.json", "results.md", "accuracy_vs_gap.png",
                "country_gradients.png", "country_units.png", "forget_gate.png")
ANALYSIS_CELL = "lstm"


def by_cell(results: list[BornInResult], cfg: BornInConfig, name: str) -> dict:
    """{cell: (seeds, gaps) array of the results' `name` field}, cells in cfg's order."""
    return {cell: np.array([getattr(r, name) for r in results if r.cell == cell])
            for cell in cfg.cells if any(r.cell == cell for r in results)}


def analyse(results: list[BornInResult], cfg: BornInConfig) -> dict | None:
    """The first seed's trained LSTM: its country units and its forget gate along one
    sentence (None without an LSTM)."""
    run = next((r for r in results if r.cell == ANALYSIS_CELL), None)
    if run is None:
        return None
    model = make_model(ANALYSIS_CELL, cfg, run.seed, fused=False)
    model.load_state_dict(run.params)
    units = country_units(model, cfg, run.seed)
    return {"seed": run.seed, "units": units, "belt": conveyor_belt(model, cfg, run.seed)}


def write_checkpoints(results: list[BornInResult], cfg: BornInConfig, out) -> dict:
    """Each cell's model of the first seed it ran, as `<cell>.npz` in folder `out` (made if
    missing); returns {cell: file name}."""
    folder = output_folder(out)
    written = {}
    for cell in cfg.cells:
        run = next((r for r in results if r.cell == cell), None)
        if run is not None:
            save_born_in(folder / f"{cell}.npz", run, cfg)
            written[cell] = f"{cell}.npz"
    return written


def write_reports(results, cfg: BornInConfig, out, seconds: float, analysis=None,
                  checkpoints=None) -> dict:
    """Write REPORT_FILES into folder `out` (made if missing); returns the summary, which
    names the `checkpoints` ({cell: file}) written beside them."""
    folder = output_folder(out)
    header = ["cell", "seed", "gap", "accuracy", "grad_country_init", "grad_country_trained",
              "grad_share_init", "grad_share_trained", "steps", "hidden", "lr", "seconds"]
    rows = [[r.cell, r.seed, g, f"{r.accuracy[k]:.4f}", f"{r.grad_init[k]:.6e}",
             f"{r.grad_trained[k]:.6e}", f"{r.ratio_init[k]:.6e}",
             f"{r.ratio_trained[k]:.6e}", cfg.steps, cfg.hidden, cfg.lr, f"{r.seconds:.1f}"]
            for r in results for k, g in enumerate(r.gaps)]
    write_text(folder / "results.csv", csv_text([header, *rows]), "report")
    accuracy = by_cell(results, cfg, "accuracy")
    summary = _summary(accuracy, results, cfg, seconds, analysis)
    if checkpoints:
        summary["checkpoints"] = dict(checkpoints)
    write_text(folder / "summary.json", json.dumps(summary, indent=2), "report")
    write_text(folder / "results.md", _markdown(accuracy, results, cfg, summary), "report")
    subtitle = f"\n{cfg.level} level, {cfg.countries} countries, hidden {cfg.hidden}, " \
               f"{cfg.steps} steps" + (", with distractors" if cfg.distractors else "")
    plot_accuracy_vs_gap(list(cfg.gaps), accuracy, 1 / cfg.countries,
                         folder / "accuracy_vs_gap.png", subtitle)
    plot_country_gradients(list(cfg.gaps), by_cell(results, cfg, "grad_init"),
                           by_cell(results, cfg, "ratio_trained"),
                           folder / "country_gradients.png")
    if analysis is not None:
        units = analysis["units"]
        plot_country_units(units, folder / "country_units.png")
        plot_forget_gate(analysis["belt"], units["order"], folder / "forget_gate.png",
                         marked=units["top"].tolist())
    return summary


def _geometric_mean(runs) -> list:
    """Per gap, the geometric mean over the seeds (the rows): norms span many decades."""
    return np.exp(np.log(np.maximum(runs, 1e-300)).mean(axis=0)).tolist()


def _summary(accuracy, results, cfg, seconds, analysis) -> dict:
    s = {"config": asdict(cfg), "wall_seconds": round(seconds, 1), "chance": 1 / cfg.countries,
         "accuracy": {cell: {"gaps": list(cfg.gaps), "mean": a.mean(axis=0).tolist(),
                             "min": a.min(axis=0).tolist(), "max": a.max(axis=0).tolist()}
                      for cell, a in accuracy.items()},
         "gradients": {cell: {"init": _geometric_mean(g)}
                       for cell, g in by_cell(results, cfg, "grad_init").items()}}
    for cell, g in by_cell(results, cfg, "ratio_trained").items():
        s["gradients"][cell]["share_trained"] = _geometric_mean(g)
    if analysis is not None:
        u, b = analysis["units"], analysis["belt"]
        s["lstm"] = {"seed": analysis["seed"], "gap": u["gap"],
                     "country_units": u["top"].tolist(),
                     "unit_scores": [float(u["scores"][k]) for k in u["top"]],
                     "best_unit_accuracy": u["unit_accuracy"],
                     "top_units_accuracy": u["top_accuracy"],
                     "all_units_accuracy": u["all_accuracy"],
                     "sentence": " ".join(b["tokens"]) if cfg.level == "word"
                     else "".join(b["tokens"]),
                     "prediction": b["prediction"], "probability": b["probability"]}
    return s


def _markdown(accuracy, results, cfg, summary) -> str:
    gaps = list(cfg.gaps)
    lines = [
        '# "I was born in France … I can speak French": accuracy against the gap',
        "",
        f"Same budget for every cell: hidden {cfg.hidden}, embedding {cfg.embedding}, Adam lr "
        f"{cfg.lr}, batch {cfg.batch}, {cfg.steps} steps, clipping at {cfg.clip}; the same "
        f"sentences for a given seed. Training gaps log-uniform from 1 to {cfg.max_gap}; "
        f"{cfg.level} level, {cfg.countries} countries (chance {1 / cfg.countries:.0%})"
        + (f", distractor countries in {cfg.distractors:.0%} of the filler sentences"
           if cfg.distractors else "")
        + f". Seeds {', '.join(map(str, cfg.seed_list))}; {cfg.test_size} test sentences per "
        f"gap. Wall time {summary['wall_seconds']:.0f} s.",
        "",
        "Test accuracy, mean over seeds [min – max]:",
        "",
        "| cell | " + " | ".join(f"gap {g}" for g in gaps) + " |",
        "|---|" + "---:|" * len(gaps),
    ]
    for cell, a in accuracy.items():
        lines.append(f"| {cell} | " + " | ".join(
            f"{a[:, k].mean():.0%} [{a[:, k].min():.0%}–{a[:, k].max():.0%}]"
            for k in range(len(gaps))) + " |")
    lines += ["", "||dL/dh|| at the country word at initialisation (mean over "
              f"{cfg.grad_batch} sentences), and after training as a share of ||dL/dh|| at "
              '"speak" (median over the sentences); geometric mean over the seeds:', "",
              "| cell | " + " | ".join(f"gap {g}" for g in gaps) + " |",
              "|---|" + "---:|" * len(gaps)]
    for cell, g in summary["gradients"].items():
        lines.append(f"| {cell} (init) | " + " | ".join(f"{v:.1e}" for v in g["init"]) + " |")
        lines.append(f"| {cell} (trained, share) | "
                     + " | ".join(f"{v:.1e}" for v in g["share_trained"]) + " |")
    if "lstm" in summary:
        s = summary["lstm"]
        lines += ["", f"## The trained LSTM (seed {s['seed']}, gap {s['gap']})", "",
                  "Country units (cell state at \"speak\"): "
                  f"{', '.join(map(str, s['country_units']))}. "
                  f"The best one alone names the country for {s['best_unit_accuracy']:.0%} of "
                  f"held-out sentences, the top {len(s['country_units'])} for "
                  f"{s['top_units_accuracy']:.0%}, all units for {s['all_units_accuracy']:.0%} "
                  "(nearest class mean).", "",
                  f"Forget gate and cell state along: `{s['sentence']}` → {s['prediction']} "
                  f"(p = {s['probability']:.2f}).", ""]
    lines += ["", "Files: results.csv, summary.json, accuracy_vs_gap.png, "
              "country_gradients.png" + (", country_units.png, forget_gate.png"
                                         if "lstm" in summary else "") + "."]
    if summary.get("checkpoints"):
        models = summary["checkpoints"]
        first = models.get(ANALYSIS_CELL, next(iter(models.values())))
        lines += ["", f"Models (seed {cfg.seed}, one per cell): {', '.join(models.values())}; "
                  f"open one with `rnn-lab inspect {first} -o page`."]
    lines.append("")
    return "\n".join(lines)


def born_in(out, cfg: BornInConfig, progress=None, log=print) -> dict:
    """Run the experiment, analyse the LSTM and write the reports into `out`; the summary."""
    t0 = time.perf_counter()
    results = run_all(cfg, progress=progress, log=log)
    analysis = analyse(results, cfg)
    checkpoints = write_checkpoints(results, cfg, out)
    return write_reports(results, cfg, out, time.perf_counter() - t0, analysis, checkpoints)
