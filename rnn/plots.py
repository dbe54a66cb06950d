"""Every matplotlib figure rnn-lab draws, each saved by rnn.io's rule (`save`).

Training history (`rnn-lab train --plot`), the long-term experiment's loss curves and gradient
norms, the demo's character-model loss and LSTM conveyor belt, and the "born in" experiment's
accuracy and gradient against the gap, country units and forget gate.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # figures without pyplot: no window, no global state

from rnn.io import output_target, replacing
from rnn.symbolic.paths import path_magnitudes
from rnn.tasks import ADDING_BASELINE_MSE

CELL_COLOURS = {"rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green",
                "peephole": "tab:purple", "cifg": "tab:orange", "mgu": "tab:brown"}
_MORE_COLOURS = ("tab:pink", "tab:olive", "tab:cyan", "tab:gray")


def cell_colour(cell: str) -> str:
    """One colour per cell in every plot; a cell registered later gets the next free one."""
    if cell not in CELL_COLOURS:
        CELL_COLOURS[cell] = _MORE_COLOURS[(len(CELL_COLOURS) - 6) % len(_MORE_COLOURS)]
    return CELL_COLOURS[cell]


FORMATS = ("png", "pdf", "svg")


def save(fig: Figure, path, dpi: int = 100) -> str:
    """Write `fig` to `path` in the format its suffix names (.png, .pdf or .svg)."""
    output_target(path, "plot")  # an empty name or a special file first
    fmt = Path(path).suffix[1:].lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: a plot's name must end in .png, .pdf or .svg (the suffix "
                         f"chooses the format)")
    with replacing(path, "plot") as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt)
    return str(path)


def moving_average(values, window: int):
    """(steps, means): the mean of each `window` consecutive values, at the step (1-based)
    that ends it; the values themselves, at every step, if window < 2 or there are fewer."""
    values = np.asarray(values, dtype=float)
    if window < 2 or len(values) < window:
        return np.arange(1, len(values) + 1), values
    means = np.convolve(values, np.ones(window) / window, mode="valid")
    return np.arange(window, len(values) + 1), means


def plot_history(history: dict, path, title: str | None = None) -> str:
    """Training and validation loss, and the gradient norm, against step; writes a PNG."""
    loss = np.asarray(history.get("loss", []), dtype=float)
    steps = np.arange(1, len(loss) + 1)
    fig = Figure(figsize=(7, 6))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    if len(loss):
        ax1.plot(steps, loss, lw=0.6, alpha=0.5, label="train (per step)")
        window = max(1, len(loss) // 50)
        if window > 1:
            ax1.plot(*moving_average(loss, window), lw=1.5, label=f"train (mean of {window})")
    if len(history.get("val_loss", [])):
        ax1.plot(history["val_step"], history["val_loss"], "o-", ms=3, label="validation")
    ax1.set_ylabel("loss")
    if len(loss) and np.all(loss > 0):
        ax1.set_yscale("log")
    ax1.legend(loc="upper right", fontsize=8)
    ax1.set_title(title or "training history")
    norm = np.asarray(history.get("grad_norm", []), dtype=float)
    if len(norm):
        ax2.plot(np.arange(1, len(norm) + 1), norm, lw=0.6)
        if np.all(norm > 0):
            ax2.set_yscale("log")
    ax2.set_ylabel("gradient norm (before clipping)")
    ax2.set_xlabel("step")
    fig.tight_layout()
    return save(fig, path)


def plot_char_model(history: dict, vocab_size: int, path, title: str) -> str:
    """Training and validation loss (nats per character) against step, with the loss of a
    uniform guess over the vocabulary for scale."""
    loss = np.asarray(history["loss"], dtype=float)
    steps = np.arange(1, len(loss) + 1)
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    ax.plot(steps, loss, lw=0.7, alpha=0.35, color="tab:blue", label="training (per step)")
    window = max(1, len(loss) // 25)
    if window > 1:
        ax.plot(*moving_average(loss, window), lw=1.8, color="tab:blue",
                label=f"training (mean of {window} steps)")
    if history.get("val_loss"):
        ax.plot(history["val_step"], history["val_loss"], "o-", ms=5, lw=1.8,
                color="tab:orange", label="validation (held-out text)")
    ax.axhline(math.log(vocab_size), color="gray", ls="--", lw=1,
               label=f"uniform guess over {vocab_size} characters")
    ax.set_ylim(0, max(math.log(vocab_size), float(loss.max()) if len(loss) else 0) * 1.05)
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def plot_loss_curves(results, path) -> str:
    """The experiment's training and validation MSE, one panel per lag T, both cells in each."""
    lags = sorted({r.lag for r in results})
    fig = Figure(figsize=(4 * len(lags), 3.4))
    axes = fig.subplots(1, len(lags), sharey=True, squeeze=False)
    for ax, lag in zip(axes[0], lags):
        for r in results:
            if r.lag != lag:
                continue
            colour = cell_colour(r.cell)
            ax.plot(*moving_average(r.loss, 50), color=colour, lw=1, alpha=0.6,
                    label=f"{r.cell} train")
            ax.plot(r.val_step, r.val_loss, color=colour, lw=1.8, label=f"{r.cell} validation")
        ax.axhline(ADDING_BASELINE_MSE, color="gray", ls="--", lw=1, label="predict the mean")
        ax.axhline(0.01, color="gray", ls=":", lw=1, label="0.01")
        ax.set_yscale("log")
        ax.set_title(f"adding problem, T = {lag}")
        ax.set_xlabel("step")
    axes[0][0].set_ylabel("MSE")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return save(fig, path)


def plot_grad_norms(grads: dict, grad_lag: int, path) -> str:
    """Mean ||dL/dh_t|| against the lag T - t, before (dotted) and after training, per cell."""
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for cell, r in grads.items():
        for kind, style in (("trained", "-"), ("init", ":")):
            norms = np.asarray(getattr(r, "grad_" + kind))[::-1]  # index = lag
            ax.plot(np.arange(len(norms)), norms, color=cell_colour(cell), ls=style,
                    label=f"{cell} ({kind})")
    ax.set_yscale("log")
    ax.set_xlabel("lag T - t (steps before the loss)")
    ax.set_ylabel("mean ||dL/dh_t||")
    ax.set_title(f"gradient reaching h_t, adding problem T = {grad_lag}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def plot_conveyor_belt(belt: dict, path) -> str:
    """Heat maps of f_t and c_t per unit (rows) over time (columns), markers dashed in red."""
    f, c, x, marks = belt["f"], belt["c"], belt["x"], belt["marks"]
    H, T = f.shape
    # Units that the first marked value changes most go on top: the ones that store it.
    before = c[:, marks[0] - 1] if marks[0] > 0 else np.zeros(H)
    order = np.argsort(-np.abs(c[:, marks[0]] - before), kind="stable")
    t = np.arange(1, T + 1)
    extent = (0.5, T + 0.5, H + 0.5, 0.5)

    fig = Figure(figsize=(11, 8))
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 2.6, 2.6], width_ratios=[60, 1],
                            hspace=0.42, wspace=0.03)
    ax0 = fig.add_subplot(grid[0, 0])
    colours = np.where(x[:, 1] > 0, "tab:red", "#b0b0b0")
    ax0.bar(t, x[:, 0], width=0.8, color=colours)
    ax0.set_ylim(0, 1.05)
    ax0.set_ylabel("input value")
    a, b = x[marks, 0]
    ax0.set_title(f"one adding-problem sequence, T = {T}: target {a:.2f} + {b:.2f} = "
                  f"{belt['target']:.3f}, the trained LSTM predicts {belt['prediction']:.3f}",
                  fontsize=10)

    ax1 = fig.add_subplot(grid[1, 0], sharex=ax0)
    im1 = ax1.imshow(f[order], aspect="auto", cmap="viridis", vmin=0, vmax=1, extent=extent,
                     interpolation="nearest")
    fig.colorbar(im1, cax=fig.add_subplot(grid[1, 1]), label="$f_t$")
    ax1.set_title("forget gate $f_t$ per unit: 1 keeps the cell state, 0 erases it", fontsize=10)
    ax1.set_ylabel("unit")

    ax2 = fig.add_subplot(grid[2, 0], sharex=ax0)
    lim = max(float(np.abs(c).max()), 1e-6)
    im2 = ax2.imshow(c[order], aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                     extent=extent, interpolation="nearest")
    fig.colorbar(im2, cax=fig.add_subplot(grid[2, 1]), label="$c_t$")
    ax2.set_title("cell state $c_t$ per unit: what the conveyor belt carries", fontsize=10)
    ax2.set_ylabel("unit")
    ax2.set_xlabel("time step t")
    for ax in (ax0, ax1, ax2):
        for m in marks:
            # outline the marked column (a line through it would hide what happens there)
            for edge in (m + 0.5, m + 1.5):
                ax.axvline(edge, color="tab:red", ls="--", lw=0.9)
    ax0.set_xlim(0.5, T + 0.5)
    fig.suptitle("The LSTM's conveyor belt at work: the two marked steps (red, dashed) "
                 "over one sequence\n(units sorted by how much the first marked step "
                 "changes $c$)", fontsize=11)
    return save(fig, path)


def plot_path_magnitudes(path, magnitudes: dict | None = None, steps=None) -> str:
    """A log-scale plot of the long-term path norms against T (default 1..100)
    (`rnn.symbolic.path_magnitudes`)."""
    steps = tuple(range(1, 101)) if steps is None else tuple(steps)
    magnitudes = magnitudes or path_magnitudes(steps)
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for label, values in magnitudes.items():
        ax.semilogy(steps, np.maximum(values, 1e-300), label=label,
                    linestyle="-" if label.startswith("RNN") else "--")
    ax.set_xlabel("T (steps back)")
    ax.set_ylabel("norm of ∂state_T / ∂state_0")
    ax.set_title("Long-term gradient path: plain RNN vs LSTM cell state")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path, dpi=120)


# -- the "born in" experiment ---------------------------------------------------------------

def _band(ax, x, runs, colour, label, k=0, geometric=False):
    """Mean over the rows of `runs` (seeds) as a line (geometric: for a log axis), their min
    to max as a band; the k-th curve gets its own marker and a thinner line, so that equal
    curves stay visible."""
    runs = np.asarray(runs, dtype=float)
    mean = np.exp(np.log(np.maximum(runs, 1e-300)).mean(axis=0)) if geometric \
        else runs.mean(axis=0)
    ax.fill_between(x, runs.min(axis=0), runs.max(axis=0), color=colour, alpha=0.18, lw=0)
    ax.plot(x, mean, "os^Dv<>P"[k % 8] + "-", color=colour, ms=6 - 0.8 * (k % 4),
            lw=max(3.2 - 0.8 * k, 1.0), label=label)


def plot_accuracy_vs_gap(gaps, accuracy: dict, chance: float, path, subtitle: str = "") -> str:
    """Test accuracy of the final prediction against the gap: per cell the mean over seeds,
    and a band from the worst to the best seed."""
    fig = Figure(figsize=(7.5, 4.4))
    ax = fig.subplots()
    for k, (cell, runs) in enumerate(accuracy.items()):
        n = len(runs)
        _band(ax, gaps, runs, cell_colour(cell),
              f"{cell} (mean of {n} seed{'s' if n > 1 else ''}; band: min to max)", k)
    ax.axhline(chance, color="gray", ls="--", lw=1, label=f"chance ({chance:.0%})")
    ax.set_ylim(0, 1.04)
    ax.set_xlim(0, max(gaps) + 1)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel('gap: words between the country and "I can speak"')
    ax.set_ylabel("accuracy of the language")
    ax.set_title('"I was born in France . … . I can speak" → French' + subtitle, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return save(fig, path)


def plot_country_gradients(gaps, init: dict, ratio: dict, path) -> str:
    """Left: ||dL/dh|| at the country word at initialisation, against the gap. Right: after
    training, the same norm as a share of ||dL/dh|| at the question word."""
    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    for k, cell in enumerate(init):
        colour = cell_colour(cell)
        _band(ax1, gaps, init[cell], colour, cell, k, geometric=True)
        _band(ax2, gaps, ratio[cell], colour, cell, k, geometric=True)
    ax1.set_title("at initialisation: ||∂L/∂h|| at the country word", fontsize=10)
    ax2.set_title("after training: ||∂L/∂h|| at the country / at \"speak\" (median)",
                  fontsize=10)
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xlabel("gap (words)")
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize=8)
    ax1.set_ylabel("mean over sentences")
    fig.suptitle("How much of the answer's error signal reaches the step that read the country "
                 "(over sentences; then geometric mean over seeds, band min to max)",
                 fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def plot_country_units(units: dict, path) -> str:
    """The LSTM's country units: each top unit's cell state along the sentence, one line per
    country (mean over sentences), and every unit's separation score at the question word."""
    traj, top, scores = units["trajectories"], units["top"], units["scores"]
    T = traj.shape[-1]
    steps = np.arange(T)
    fig = Figure(figsize=(12, 2.4 + 2.2 * len(top)))
    grid = fig.add_gridspec(len(top), 2, width_ratios=[3.2, 1], wspace=0.25)
    colours = [f"C{k}" for k in range(len(units["countries"]))]
    for row, unit in enumerate(top):
        ax = fig.add_subplot(grid[row, 0])
        for k, name in enumerate(units["countries"]):
            ax.plot(steps, traj[row, k], color=colours[k], lw=1.4, label=name)
        for step, text in ((units["country_step"], "country"), (T - 1, '"speak"')):
            ax.axvline(step, color="gray", ls="--", lw=0.9)
            ax.text(step, 1.0, f" {text}", transform=ax.get_xaxis_transform(), fontsize=8,
                    va="top", ha="left" if step < T - 1 else "right")
        ax.set_ylabel(f"$c_t$ of unit {unit}")
        ax.set_xlim(0, T - 1)
        ax.grid(True, alpha=0.3)
        if row == 0:
            ax.set_title(f"cell state of the top country units over the sentence (gap "
                         f"{units['gap']}; mean per country)", fontsize=10)
            ax.legend(fontsize=7, ncol=5, loc="lower left")
    ax.set_xlabel("step (word)" if units.get("level", "word") == "word" else "step (character)")
    ax = fig.add_subplot(grid[:, 1])
    order = units["order"]
    bar_colours = ["tab:blue" if u in set(top.tolist()) else "#b0b0b0" for u in order]
    ax.barh(np.arange(len(order)), scores[order], color=bar_colours)
    ax.set_yticks(np.arange(len(order)), [str(u) for u in order], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("between / within variance")
    ax.set_ylabel("unit")
    ax.set_title("how well each unit separates\nthe countries at \"speak\"", fontsize=10)
    fig.suptitle(f"The country units: unit {top[0]} alone names the country for "
                 f"{units['unit_accuracy']:.0%} of sentences, the top {len(top)} for "
                 f"{units['top_accuracy']:.0%}, all units for {units['all_accuracy']:.0%} "
                 f"(nearest class mean; chance {1 / len(units['countries']):.0%})",
                 fontsize=10)
    return save(fig, path)


def plot_forget_gate(belt: dict, order, path, marked=()) -> str:
    """Heat maps of f_t and c_t per unit (rows, in `order`) along one sentence (its words as
    columns); the country and the question word are outlined, `marked` units labelled."""
    f, c, tokens = belt["f"][order], belt["c"][order], belt["tokens"]
    H, T = f.shape
    extent = (-0.5, T - 0.5, H - 0.5, -0.5)
    fig = Figure(figsize=(min(max(9, 0.27 * T + 2), 24), 8))  # characters: up to 24 inches
    grid = fig.add_gridspec(2, 2, width_ratios=[60, 1], hspace=0.12, wspace=0.02)
    ax1 = fig.add_subplot(grid[0, 0])
    im1 = ax1.imshow(f, aspect="auto", cmap="viridis", vmin=0, vmax=1, extent=extent,
                     interpolation="nearest")
    fig.colorbar(im1, cax=fig.add_subplot(grid[0, 1]), label="forget gate $f_t$")
    ax2 = fig.add_subplot(grid[1, 0], sharex=ax1)
    lim = max(float(np.abs(c).max()), 1e-6)
    im2 = ax2.imshow(c, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, extent=extent,
                     interpolation="nearest")
    fig.colorbar(im2, cax=fig.add_subplot(grid[1, 1]), label="cell state $c_t$")
    labels = [str(u) + (" ◀" if u in set(marked) else "") for u in order]
    for ax, what in ((ax1, "forget gate $f_t$: 1 keeps the cell state, 0 erases it"),
                     (ax2, "cell state $c_t$: what the conveyor belt carries")):
        ax.set_yticks(np.arange(H), labels, fontsize=6)
        ax.set_ylabel("unit (country units on top)")
        ax.set_title(what, fontsize=10, loc="left")
        for step in (belt["country_step"], belt["question_step"]):
            for edge in (step - 0.5, step + 0.5):
                ax.axvline(edge, color="tab:red", ls="--", lw=0.9)
    ax1.tick_params(labelbottom=False)
    ax2.set_xticks(np.arange(T), [t if t != " " else "␣" for t in tokens], rotation=90,
                   fontsize=8 if T <= 80 else 5)
    fig.suptitle(f"The LSTM's conveyor belt along one sentence: \"{belt['country']}\" is "
                 f"written into the cell state and carried to \"speak\"\n(answer "
                 f"{belt['answer']}; the model says {belt['prediction']}, "
                 f"p = {belt['probability']:.2f}; red dashes: the country and the question word)",
                 fontsize=10)
    fig.subplots_adjust(left=0.07, right=0.93, top=0.88, bottom=0.14)
    return save(fig, path)


# -- rnn.inspect: gradient flow and the Jacobian chain ------------------------------------

def _log10_image(values, floor: float = 1e-300):
    """log10 of non-negative values, NaN where a value is 0 or missing (drawn blank)."""
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > floor, np.log10(np.maximum(values, floor)), np.nan)


def plot_connectivity(matrix, path, chars: str | None = None, title: str = "") -> str:
    """The connectivity heat map log10 ||dy_t/dx_s||: output step t down, input step s
    across; the characters label the axes when there are few enough."""
    M = _log10_image(matrix)
    T = len(M)
    fig = Figure(figsize=(6.4, 5.4))
    ax = fig.subplots()
    im = ax.imshow(M, cmap="magma", interpolation="nearest", origin="upper")
    fig.colorbar(im, ax=ax, label="log10 ||∂h_t / ∂x_s||")
    if chars is not None and T <= 60:
        shown = [repr(c)[1:-1] for c in chars[:T]]
        words = max(map(len, shown), default=0) > 1  # tokens longer than a character
        ax.set_xticks(range(T), shown, fontsize=6, family="monospace",
                      rotation=90 if words else 0)
        ax.set_yticks(range(T), shown, fontsize=6, family="monospace")
    ax.set_xlabel("input step s")
    ax.set_ylabel("output step t")
    ax.set_title(title or f"connectivity over {T} steps (blank: exactly 0)", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def plot_contributions(norms, names, path, chars=None, title: str = "",
                       token: str = "character") -> str:
    """Each step's contribution to each recurrent weight's gradient (RNNbow): log10 of its
    norm, one row per weight, one column per step (labelled by `chars`, the tokens read)."""
    norms = np.asarray(norms, dtype=float)
    fig = Figure(figsize=(min(3 + 0.12 * norms.shape[1], 14), 1.4 + 0.32 * len(names)))
    ax = fig.subplots()
    im = ax.imshow(_log10_image(norms), aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="log10 ||step's term of ∂L/∂W||")
    ax.set_yticks(range(len(names)), names, fontsize=7)
    if chars is not None and norms.shape[1] <= 80:
        shown = [repr(c)[1:-1] for c in chars[:norms.shape[1]]]
        ax.set_xticks(range(norms.shape[1]), shown, fontsize=6, family="monospace",
                      rotation=90 if max(map(len, shown), default=0) > 1 else 0)
    ax.set_xlabel(f"time step (the {token} read)")
    ax.set_title(title or "per-step contributions to the weight gradients", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def plot_jacobian_spectra(chains: dict, path, title: str = "") -> str:
    """Left: the singular values of ∂s_T/∂s_{T-k} against k (largest solid, smallest dotted,
    the rest faint), one colour per model, those below 1e-15 of the largest left out (float64
    rounding); right: the Lyapunov exponents, sorted."""
    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    for k, (name, chain) in enumerate(chains.items()):
        colour = cell_colour(chain.cell) if chain.cell in CELL_COLOURS else f"C{k}"
        logs = chain.log_singular_values() / math.log(10)
        logs[logs < logs[:, :1] - 15] = np.nan  # below rounding of the product
        lags = np.arange(1, len(logs) + 1)
        ax1.plot(lags, logs[:, 1:-1], color=colour, lw=0.4, alpha=0.25)
        ax1.plot(lags, logs[:, 0], color=colour, lw=1.8, label=f"{name}: largest")
        smallest = [row[np.isfinite(row)][-1] for row in logs]
        ax1.plot(lags, smallest, color=colour, lw=1.2, ls=":", label=f"{name}: smallest resolved")
        lam = chain.lyapunov()
        ax2.plot(np.arange(1, len(lam) + 1), lam, "o-", ms=3, color=colour, label=name)
    ax1.set_xlabel("k (steps back)")
    ax1.set_ylabel("log10 singular value of ∂s_T / ∂s_(T−k)")
    ax1.set_title("singular values along the chain", fontsize=10)
    ax1.legend(fontsize=7)
    ax1.grid(True, alpha=0.3)
    ax2.axhline(0, color="gray", lw=0.8)
    ax2.set_xlabel("index")
    ax2.set_ylabel("Lyapunov exponent (per step)")
    ax2.set_title("Lyapunov spectrum (repeated QR)", fontsize=10)
    ax2.legend(fontsize=7)
    ax2.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save(fig, path)
