"""The long-term experiment's reports: results.csv, grad_norms.csv, summary.json, results.md
and its plots, each written whole by rnn.io's rule (the runs come from rnn.experiment's
`run_all` or from a sweep of the long-term preset, rnn.sweep)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

import numpy as np

from rnn import tasks
from rnn.experiment import LongTermConfig, RunResult, decay_per_step
from rnn.inspect.jacobians import jacobian_chain
from rnn.io import output_folder, write_text
from rnn.plots import plot_grad_norms, plot_jacobian_spectra, plot_loss_curves
from rnn.training import RegressionModel

# What write_reports writes into its folder.
REPORT_FILES = ("results.csv", "grad_norms.csv", "summary.json", "results.md", "loss_curves.png",
                "grad_norm_vs_lag.png", "jacobian_spectra.png")


def csv_text(rows) -> str:
    """Rows as CSV text, in the csv module's dialect (CRLF line ends)."""
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue()


def write_reports(results: list[RunResult], cfg: LongTermConfig, out, seconds: float,
                  extra: dict | None = None) -> dict:
    """Write REPORT_FILES into folder `out` (made if missing); returns the summary (with the
    entries of `extra` added)."""
    folder = output_folder(out)
    header = ["cell", "lag_T", "steps", "hidden", "batch", "lr", "train_loss", "test_mse",
              "below_0.01", "first_step_below_0.01", "seconds"]
    rows = [[r.cell, r.lag, r.steps, cfg.hidden, cfg.batch, r.lr if r.lr is not None else cfg.lr,
             f"{r.train_loss:.6f}", f"{r.test_mse:.6f}", r.test_mse < 0.01,
             r.first_below if r.first_below is not None else "", f"{r.seconds:.1f}"]
            for r in results]
    write_text(folder / "results.csv", csv_text([header, *rows]), "report")
    grads = {r.cell: r for r in results if r.grad_trained is not None}
    summary = {"config": asdict(cfg), "wall_seconds": round(seconds, 1),
               "test_mse": {f"{r.cell}@{r.lag}": r.test_mse for r in results},
               "gradients": write_gradients(grads, cfg, folder), **(extra or {})}
    write_text(folder / "summary.json", json.dumps(summary, indent=2), "report")
    write_text(folder / "results.md", _markdown(results, grads, cfg, summary), "report")
    plot_loss_curves(results, folder / "loss_curves.png")
    return summary


def write_gradients(grads: dict, cfg: LongTermConfig, folder) -> dict:
    """grad_norms.csv, grad_norm_vs_lag.png and (for results that kept their parameters)
    jacobian_spectra.png into `folder`, from `grads` (cell -> RunResult at the gradient lag);
    returns each norm curve's summary."""
    T = cfg.grad_lag
    cols = [(c, k) for c in cfg.cells if c in grads for k in ("init", "trained")]
    rows = [[lag, T - lag] + [f"{getattr(grads[c], 'grad_' + k)[T - lag - 1]:.6e}"
                              for c, k in cols] for lag in range(T)]
    write_text(folder / "grad_norms.csv",
               csv_text([["lag", "t"] + [f"{c}_{k}" for c, k in cols], *rows]), "report")
    plot_grad_norms(grads, T, folder / "grad_norm_vs_lag.png")
    chains = trained_chains(grads, cfg)
    if chains:  # the trained models' state Jacobians (results that kept their parameters)
        plot_jacobian_spectra(chains, folder / "jacobian_spectra.png",
                              f"trained models, one adding-problem sequence of T = {T}")
    summary = {}
    for cell, r in grads.items():
        for kind in ("init", "trained"):
            norms = getattr(r, "grad_" + kind)
            summary[f"{cell}_{kind}"] = {
                "norm_at_lag_0": norms[T - 1], "norm_at_lag_max": norms[0],
                "ratio_lag_max_to_0": norms[0] / norms[T - 1],
                "decay_per_step": decay_per_step(norms)}
    return summary


def trained_chains(grads: dict, cfg: LongTermConfig) -> dict:
    """Per cell, the JacobianChain of the trained model at the gradient lag along one test
    sequence (cells whose result kept no parameters are left out)."""
    x, _ = tasks.adding_problem(cfg.grad_lag, 1, np.random.default_rng([cfg.seed, 5]))
    chains = {}
    for cell, r in grads.items():
        if r.params is not None:
            model = RegressionModel(2, cfg.hidden, cell)
            model.load_state_dict(r.params)
            chains[f"{cell} (trained)"] = jacobian_chain(model, x[:, 0])
    return chains


def _rate(cfg: LongTermConfig) -> str:
    if cfg.lrs:
        return (f"learning rate chosen for each cell and T on validation data from "
                f"{', '.join(f'{lr:g}' for lr in cfg.lrs)} (column lr)")
    return f"lr {cfg.lr}"


def _markdown(results, grads, cfg, summary) -> str:
    lines = [
        "# Long-term dependencies: tanh RNN vs LSTM on the adding problem",
        "",
        f"Same budget for both cells: hidden {cfg.hidden}, Adam {_rate(cfg)}, batch "
        f"{cfg.batch}, {cfg.steps} steps, gradient clipping at norm {cfg.clip}, seed "
        f"{cfg.seed}. Test MSE on {cfg.test_size} fresh sequences; predicting the mean "
        f"scores {tasks.ADDING_BASELINE_MSE:.3f}. Wall time {summary['wall_seconds']:.0f} s.",
        "",
        "| cell | T | test MSE | solved (< 0.01) | first step < 0.01 | train loss | lr | s |",
        "|---|---:|---:|:---:|---:|---:|---:|---:|",
    ]
    for r in results:
        first = r.first_below if r.first_below is not None else "-"
        lines.append(f"| {r.cell} | {r.lag} | {r.test_mse:.4f} | "
                     f"{'yes' if r.test_mse < 0.01 else 'no'} | {first} | "
                     f"{r.train_loss:.4f} | {r.lr if r.lr is not None else cfg.lr:g} | "
                     f"{r.seconds:.0f} |")
    if grads:
        T = cfg.grad_lag
        lags = sorted({0, 1, 5, 10, 25, 50, T - 1} & set(range(T)))
        lines += [
            "",
            f"## ||dL/dh_t|| against the lag T - t (T = {T}, mean over {cfg.grad_batch} "
            f"sequences, readable graph)",
            "",
            "| model | " + " | ".join(f"lag {k}" for k in lags)
            + " | lag max / lag 0 | fitted factor per step |",
            "|---|" + "---:|" * (len(lags) + 2),
        ]
        for cell, r in grads.items():
            for kind in ("init", "trained"):
                norms = getattr(r, "grad_" + kind)
                g = summary["gradients"][f"{cell}_{kind}"]
                lines.append(f"| {cell} ({kind}) | "
                             + " | ".join(f"{norms[T - 1 - k]:.2e}" for k in lags)
                             + f" | {g['ratio_lag_max_to_0']:.2e} | "
                             f"{g['decay_per_step']:.3f} |")
    lines += ["", "Files: results.csv, grad_norms.csv, summary.json, loss_curves.png, "
              "grad_norm_vs_lag.png, jacobian_spectra.png (trained runs).", ""]
    return "\n".join(lines)
