"""The cliff experiment's figure: the loss surface of Pascanu et al.'s one-unit RNN over (w, b)
with gradient descent drawn over it, with and without clipping; saved by rnn.plots' `save`."""

from __future__ import annotations

import numpy as np
from matplotlib import patheffects
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from rnn.cliff import Surface, Trajectory, cliff_line
from rnn.plots import save

RUN_STYLE = {"unclipped": {"color": "tab:red", "ls": "-"},
             "clipped": {"color": "white", "ls": "--"}}
OUTLINE = [patheffects.withStroke(linewidth=3, foreground="black")]  # seen on any colour


def _style(run: Trajectory) -> dict:
    return RUN_STYLE["unclipped" if run.clip is None else "clipped"]


def _inside(w, b, frame) -> bool:
    (w0, w1), (b0, b1) = frame
    return w0 <= w <= w1 and b0 <= b <= b1


def plot_cliff(surf: Surface, runs: list[Trajectory], path, x0: float, title: str) -> str:
    """Left: log-scaled loss over (w, b), the cliff line, and each run's path; right: each
    run's loss and step length against the iteration, with the clipped run's bound."""
    fig = Figure(figsize=(13, 6.2))
    outer = fig.add_gridspec(1, 2, width_ratios=[1.5, 1], wspace=0.3)
    left = outer[0].subgridspec(1, 2, width_ratios=[30, 1], wspace=0.04)
    right = outer[1].subgridspec(2, 1, hspace=0.38)
    ax = fig.add_subplot(left[0])
    loss = np.where(np.isfinite(surf.loss), surf.loss, np.nan)
    positive = loss[loss > 0]
    low = max(float(positive.min()), 1e-8) if positive.size else 1e-8
    image = ax.pcolormesh(surf.w, surf.b, np.maximum(loss, low), shading="nearest",
                          cmap="viridis", norm=LogNorm(low, max(float(np.nanmax(loss)), low * 10)),
                          rasterized=True)
    fig.colorbar(image, cax=fig.add_subplot(left[1]),
                 label="loss $E_{50}$ (log scale)")
    frame = ((surf.w[0], surf.w[-1]), (surf.b[0], surf.b[-1]))
    ws = np.linspace(*frame[0], 400)
    ax.plot(ws, cliff_line(ws, x0), color="magenta", lw=2, ls=":",
            label=f"the cliff: $x_0 = {x0:g}$ is a repelling fixed point")
    for run in runs:
        s = _style(run)
        ax.plot(run.w, run.b, color=s["color"], ls=s["ls"], lw=1.3,
                label=f"gradient descent, {run.name}", path_effects=OUTLINE)
        ax.plot(run.w, run.b, color=s["color"], ls="none", marker=".", ms=2.5)
        if not _inside(run.w[-1], run.b[-1], frame):
            continue
        ax.plot(run.w[-1], run.b[-1], marker="X", ms=10, color=s["color"], mec="black", mew=0.6)
    ax.plot(runs[0].w[0], runs[0].b[0], marker="*", ms=16, color="gold", mec="black",
            label=f"start ({runs[0].w[0]:g}, {runs[0].b[0]:g})", ls="none")
    bounds = [r.lr * r.clip for r in runs if r.clip is not None]
    for run in runs:
        if run.clip is None:
            _mark_jump(ax, run, frame, 2 * max(bounds) if bounds else None)
    ax.set_xlim(*frame[0])
    ax.set_ylim(*frame[1])
    ax.set_xlabel("recurrent weight $w$")
    ax.set_ylabel("bias $b$")
    ax.set_title(f"$x_t = w\\,\\sigma(x_{{t-1}}) + b$, $x_0 = {x0:g}$, loss "
                 f"$E_{{50}} = (\\sigma(x_{{50}}) - 0.7)^2$ (X: where a run ends)", fontsize=10)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.85)

    top, bottom = fig.add_subplot(right[0]), fig.add_subplot(right[1])
    for run in runs:
        s = _style(run)
        colour = "black" if s["color"] == "white" else s["color"]
        top.plot(np.arange(len(run.loss)), run.loss, color=colour, ls=s["ls"], lw=1.4,
                 label=run.name)
        steps = np.asarray(run.step, dtype=float)
        bottom.plot(np.arange(1, len(steps) + 1), np.where(steps > 0, steps, np.nan),
                    color=colour, ls=s["ls"], lw=1.2, label=run.name)
        still = _still_from(steps)
        if still is not None:
            bottom.annotate(f"{run.name}: every step from iteration {still} on is 0 (the "
                            f"gradient is exactly 0)", xy=(0.02, 0.04 + 0.07 * len(bottom.texts)),
                            xycoords="axes fraction", fontsize=7, color=colour)
        if run.clip is not None:
            bottom.axhline(run.lr * run.clip, color="gray", lw=0.9, ls=":",
                           label=f"lr × clip = {run.lr * run.clip:g}: no clipped step is longer")
    top.set_yscale("log")
    top.set_ylabel("loss")
    top.set_title("loss at each iteration", fontsize=10)
    bottom.set_yscale("log")
    bottom.set_ylabel("step length ||Δ(w, b)||")
    bottom.set_xlabel("iteration")
    bottom.set_title("length of each step", fontsize=10)
    for a, place in ((top, "lower left"), (bottom, "center right")):
        a.grid(True, alpha=0.3, which="both")
        a.legend(fontsize=7, loc=place)
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.85, bottom=0.09)
    return save(fig, path)


def _still_from(steps: np.ndarray) -> int | None:
    """The iteration (1-based) from which every step is exactly 0, if the last one is."""
    moving = np.flatnonzero(steps > 0)
    if len(steps) == 0 or steps[-1] > 0:
        return None
    return int(moving[-1]) + 2 if moving.size else 1


def _mark_jump(ax, run: Trajectory, frame, least: float | None) -> None:
    """Label a run's longest step when it is longer than `least` (default: a tenth of the
    frame)."""
    length, k = run.largest_step()
    if least is None:
        least = max(frame[0][1] - frame[0][0], frame[1][1] - frame[1][0]) / 10
    if length <= least:
        return
    w, b = run.w[k + 1], run.b[k + 1]
    where = "" if _inside(w, b, frame) else ", out of the frame"
    if np.hypot(run.w[-1] - w, run.b[-1] - b) < 1e-3 * length:
        end = f"it stays there, at loss {run.loss[-1]:.3g}"
    else:
        end = f"it ends at ({run.w[-1]:.3g}, {run.b[-1]:.3g}), loss {run.loss[-1]:.3g}"
    ax.annotate(f"{run.name}, iteration {k + 1}: one step of {length:.3g}\nthrows it to "
                f"({w:.3g}, {b:.3g}){where};\n{end}",
                xy=(run.w[k], run.b[k]), xytext=(0.03, 0.05), textcoords="axes fraction",
                fontsize=8, color="black", ha="left",
                bbox={"boxstyle": "round", "fc": "white", "alpha": 0.9},
                arrowprops={"arrowstyle": "->", "color": _style(run)["color"], "lw": 1.2})
