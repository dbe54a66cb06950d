"""A sweep's figures, drawn and saved the way rnn.plots draws every figure (its `save` and
its colour per cell): success rate against T with Wilson intervals, and validation
curves."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from rnn.plots import cell_colour, save
from rnn.sweep.runner import SweepResult
from rnn.sweep.tasks import sweep_task


def _labeller(pairs):
    """A label per (cell, init): the cell's name, with the init for cells run with several."""
    inits = {}
    for cell, init in pairs:
        inits.setdefault(cell, set()).add(init)
    return lambda cell, init: cell if len(inits[cell]) == 1 else f"{cell} ({init})"


def plot_success(rows: list[dict], path) -> str:
    """Success rate per cell with its 95% Wilson interval: against T (error bars and a band)
    for tasks with a T, as bars for the others; one panel per task and hidden size, one
    legend below them."""
    panels = list(dict.fromkeys((r["sweep_task"], r["hidden"]) for r in rows))
    fig = Figure(figsize=(4.4 * len(panels), 4.0))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    label = _labeller((r["cell"], r["init"]) for r in rows)
    handles = {}
    for ax, (task, hidden) in zip(axes, panels, strict=True):
        mine = [r for r in rows if r["sweep_task"] == task and r["hidden"] == hidden]
        lines = list(dict.fromkeys((r["cell"], r["init"]) for r in mine))
        for k, (cell, init) in enumerate(lines):
            rs = sorted((r for r in mine if (r["cell"], r["init"]) == (cell, init)),
                        key=lambda r: r["T"] or 0)
            rate = np.array([r["success_rate"] for r in rs])
            lo = np.array([r["success_ci"][0] for r in rs])
            hi = np.array([r["success_ci"][1] for r in rs])
            colour, name = cell_colour(cell), label(cell, init)
            if rs[0]["T"] is None:
                ax.bar(k, rate[0], color=colour, alpha=0.7)
                ax.errorbar(k, rate[0], yerr=[[rate[0] - lo[0]], [hi[0] - rate[0]]],
                            color="black", capsize=4, lw=1)
                continue
            T = np.array([r["T"] for r in rs], dtype=float)
            # side by side at each T, so that equal rates stay visible
            x = T * (1 + 0.015 * (k - (len(lines) - 1) / 2))
            ax.fill_between(x, lo, hi, color=colour, alpha=0.07, lw=0)
            handles[name] = ax.errorbar(x, rate, yerr=[rate - lo, hi - rate],
                                        fmt="os^Dv<>P"[k % 8] + "-", color=colour, capsize=3,
                                        lw=1.2)
        if mine[0]["T"] is None:
            ax.set_xticks(range(len(lines)), [label(c, i) for c, i in lines], fontsize=8,
                          rotation=30)
        else:
            Ts = sorted({r["T"] for r in mine})
            ax.set_xlabel("T")
            ax.set_xticks(Ts)
            ax.set_xlim(Ts[0] * 0.85 - 1, Ts[-1] * 1.15 + 1)
        ax.set_ylim(-0.03, 1.03)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        n = mine[0]["seeds"]
        ax.set_title(f"{sweep_task(task).title}, hidden {hidden}\n({n} seeds; bars: 95% "
                     f"Wilson interval)", fontsize=9)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("runs solved")
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=min(len(handles), 8), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08 if handles else 0, 1, 1))
    return save(fig, path)


def plot_curves(result: SweepResult, path) -> str:
    """The validation metric against the step at each setting's chosen rate: per cell the
    median over seeds, the band from the best to the worst seed; one panel per task, T and
    hidden size, with the trivial baseline and the success threshold."""
    groups = {}
    for s in result.settings:
        task, _, _, T, hidden = s.setting
        groups.setdefault((task, T, hidden), []).append(s)
    fig = Figure(figsize=(4.4 * len(groups), 3.5))
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    label = _labeller(s.setting[1:3] for s in result.settings)
    for ax, ((task, T, hidden), settings) in zip(axes, groups.items(), strict=True):
        criterion = sweep_task(task).criterion(T)
        log = task != "reber"
        for s in settings:
            curves = [r["val_metric"] for r in s.runs]
            n = min(len(c) for c in curves)
            if n == 0:
                continue
            steps = s.runs[0]["val_step"][:n]
            values = np.array([[np.nan if v is None else v for v in c[:n]] for c in curves])
            if log:
                values = np.maximum(values, 1e-8)
            colour = cell_colour(s.setting[1])
            ax.fill_between(steps, np.nanmin(values, 0), np.nanmax(values, 0), color=colour,
                            alpha=0.15, lw=0)
            ax.plot(steps, np.nanmedian(values, 0), color=colour, lw=1.5,
                    label=f"{label(*s.setting[1:3])} (lr {s.chosen_lr:g})")
        ax.axhline(criterion.baseline, color="gray", ls="--", lw=1, label="trivial baseline")
        if criterion.threshold > 0:
            ax.axhline(criterion.threshold, color="gray", ls=":", lw=1, label="success below")
        if log:
            ax.set_yscale("log")
        at = f", T = {T}" if T is not None else ""
        ax.set_title(f"{sweep_task(task).title}{at}, hidden {hidden}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel(f"validation {criterion.metric.replace('test ', '')}", fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    return save(fig, path)
