"""The cliff experiment (Pascanu, Mikolov & Bengio 2013): `cliff` runs it and writes cliff.png,
trajectories.csv, summary.json and results.md, each whole by rnn.io's rule."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import tqdm.auto

from rnn import cliff as model
from rnn.io import output_folder, write_text
from rnn.plots_cliff import plot_cliff
from rnn.reports import csv_text

REPORT_FILES = ("cliff.png", "trajectories.csv", "summary.json", "results.md")
PAPER = ("Pascanu, Mikolov & Bengio, \"On the difficulty of training recurrent neural "
         "networks\", ICML 2013, section 2.3, eq. (8) and Fig. 6")


@dataclass
class CliffConfig:
    """What `rnn-lab experiment cliff` runs: gradient descent from `start` = (w, b) with
    learning rate `lr` for `steps` iterations, unclipped and clipped at norm `clip`."""

    start: tuple = (5.3, -0.9)
    lr: float = 1.0
    clip: float = 0.3
    steps: int = 200
    grid: int = 300          # the surface drawn is grid × grid
    sweep: int = 24          # starts per side of the sweep over the frame
    check: int = 500         # points of the gradient check: as many again near the cliff
    seed: int = 0            # of the gradient check's points

    @classmethod
    def quick(cls, **chosen) -> CliffConfig:
        """A small run for a demo or a test: a coarser surface, a smaller sweep and check."""
        return cls(**{"steps": 100, "grid": 120, "sweep": 10, "check": 100, **chosen})

    @property
    def thrown_at(self) -> float:
        """A step longer than this (ten times the longest clipped step) counts as thrown."""
        return 10 * self.lr * self.clip


def cliff(out, cfg: CliffConfig, progress=None) -> dict:
    """Run the experiment and write REPORT_FILES into folder `out`; returns the summary."""
    began = time.time()
    folder = output_folder(out)
    show = progress if progress is not None else os.isatty(2)
    with tqdm.auto.tqdm(total=2 * cfg.steps + cfg.steps, unit="step", disable=not show,
                        file=sys.stderr, leave=False) as bar:
        runs = [model.descend(cfg.start, cfg.lr, cfg.steps, bar=bar),
                model.descend(cfg.start, cfg.lr, cfg.steps, clip=cfg.clip, bar=bar)]
        frame = model.frame(runs)
        swept = model.sweep(*frame, cfg.sweep, cfg.lr, cfg.steps, cfg.thrown_at, bar=bar)
    surf = model.surface(*frame, cfg.grid)
    check = model.gradient_check(*model.check_points(*frame, cfg.check, cfg.seed))
    summary = _summary(cfg, runs, frame, swept, check, time.time() - began)
    rows = [["run", "iteration", "w", "b", "loss", "grad_norm", "step"]]
    for run in runs:
        for k in range(len(run.w)):
            step = f"{run.step[k]:.17g}" if k < len(run.step) else ""
            rows.append([run.name, k, f"{run.w[k]:.17g}", f"{run.b[k]:.17g}",
                         f"{run.loss[k]:.17g}", f"{run.grad_norm[k]:.17g}", step])
    write_text(folder / "trajectories.csv", csv_text(rows), "report")
    write_text(folder / "summary.json", json.dumps(summary, indent=2), "report")
    write_text(folder / "results.md", _markdown(cfg, summary), "report")
    unclipped, clipped = summary["runs"]["unclipped"], summary["runs"]["clipped"]
    plot_cliff(surf, runs, folder / "cliff.png", model.X0,
               f"Gradient descent from ({cfg.start[0]:g}, {cfg.start[1]:g}), lr {cfg.lr:g}: "
               f"unclipped, its longest step is {unclipped['largest_step']:.3g} and it ends at "
               f"loss {unclipped['final_loss']:.3g};\nclipped at norm {cfg.clip:g}, its longest "
               f"step is {clipped['largest_step']:.3g} and it ends at loss "
               f"{clipped['final_loss']:.3g}")
    summary["wall_seconds"] = time.time() - began
    return summary


def _run_summary(run: model.Trajectory) -> dict:
    length, k = run.largest_step()
    return {"clip": run.clip, "iterations": len(run.step), "largest_step": length,
            "largest_step_iteration": k + 1 if run.step else None,
            "largest_step_from": [run.w[k], run.b[k]] if run.step else None,
            "largest_step_to": [run.w[k + 1], run.b[k + 1]] if run.step else None,
            "largest_grad_norm": float(np.max(run.grad_norm)),
            "final_loss": run.loss[-1], "final_point": [run.w[-1], run.b[-1]],
            "stopped": run.stopped}


def _summary(cfg, runs, frame, swept, check, seconds) -> dict:
    d = model.derivation()
    return {
        "paper": PAPER,
        "model": {"x0": model.X0, "time_steps": model.TIME_STEPS, "target": model.TARGET,
                  "equations": d.lines(), "cliff_from_abs_w": model.cliff_threshold()},
        "config": {**asdict(cfg), "start": list(cfg.start)},
        "frame": {"w": list(frame[0]), "b": list(frame[1])},
        "runs": {"unclipped": _run_summary(runs[0]), "clipped": _run_summary(runs[1])},
        "gradient_check": {**asdict(check), "ok": check.ok,
                           "fd_tolerance": f"{model.FD_ATOL:g} + {model.FD_RTOL:g}·|fd|"},
        "sweep": {**asdict(swept), "grid": cfg.sweep, "frame": [list(frame[0]),
                                                                list(frame[1])]},
        "seconds": seconds,
    }


def _markdown(cfg: CliffConfig, s: dict) -> str:
    u, c = s["runs"]["unclipped"], s["runs"]["clipped"]
    g, sw = s["gradient_check"], s["sweep"]

    def where(p):
        return f"({p[0]:.4g}, {p[1]:.4g})"

    model_text = (
        f"Model ({PAPER}): x_t = w σ(x_(t-1)) + b, no input, x_0 = {model.X0}, "
        f"{model.TIME_STEPS} steps, loss E = (σ(x_{model.TIME_STEPS}) − {model.TARGET})². "
        f"The cliff is the line b = x_0 − w σ(x_0) for |w| > {model.cliff_threshold():.4g}: "
        "there x_0 is a fixed point that repels, so the sign of a tiny change of (w, b) "
        "decides which attractor x_50 ends in.")
    lines = ["# The cliff: Pascanu et al.'s one-unit RNN", "", model_text, "",
             (f"Gradient descent from {where(cfg.start)}, learning rate {cfg.lr:g}, "
              f"{cfg.steps} iterations, the gradient from autograd_lite:"), "",
             "| run | longest step | at iteration | from | to | final loss | ends at |",
             "|---|---|---|---|---|---|---|"]
    for name, r in (("unclipped", u), (f"clipped at norm {cfg.clip:g}", c)):
        if r["iterations"]:
            lines.append(f"| {name} | {r['largest_step']:.4g} | {r['largest_step_iteration']} "
                         f"| {where(r['largest_step_from'])} | {where(r['largest_step_to'])} "
                         f"| {r['final_loss']:.4g} | {where(r['final_point'])} |")
        else:
            lines.append(f"| {name} | – | – | – | – | {r['final_loss']:.4g} | "
                         f"{where(r['final_point'])} |")
    for name, r in (("unclipped", u), ("clipped", c)):
        if r["stopped"]:
            lines.append(f"\nThe {name} run stopped early: {r['stopped']}.")
    sweep_text = (
        f"A clipped step is at most lr × clip = {cfg.lr * cfg.clip:g} long. Whether an "
        "unclipped run is thrown depends on where its steps land near the cliff: from the "
        f"{sw['starts']} starts of a {sw['grid']} × {sw['grid']} grid over the figure's frame "
        f"(w from {sw['frame'][0][0]:.3g} to {sw['frame'][0][1]:.3g}, b from "
        f"{sw['frame'][1][0]:.3g} to {sw['frame'][1][1]:.3g}), {sw['thrown']} "
        f"({sw['thrown'] / sw['starts']:.0%}) take at least one step longer than "
        f"{sw['threshold']:g} in {cfg.steps} unclipped iterations (the longest: "
        f"{sw['largest']:.3g}).")
    check_text = (
        "Gradient check (float64): SymPy's closed form against the engine at "
        f"{g['points']} points (half of them within 1e-10 to 0.1 of the cliff; gradient "
        f"norms up to {g['largest_gradient']:.2g}): largest relative difference {g['max_rel_engine']:.2g} (bound {g['rtol_engine']:g}); against "
        f"central differences at the {g['fd_points']} points where the loss is smooth at "
        f"the step 1e-6: largest difference {g['max_fd_ratio']:.2g} of the tolerance "
        f"{g['fd_tolerance']}. {'Both pass.' if g['ok'] else 'FAILED.'}")
    lines += ["", sweep_text, "", check_text, "",
              "The derivation (SymPy, one step of the recurrence, then iterated forward):", "",
              "```", *s["model"]["equations"], "```", "",
              "Files: cliff.png, trajectories.csv (every iterate of both runs), summary.json.",
              ""]
    return "\n".join(lines)
