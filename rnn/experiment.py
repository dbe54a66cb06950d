"""The long-term dependency experiment: a tanh RNN against an LSTM on the adding problem.

Both cells get the same budget (hidden size, optimizer, learning rate, batches, steps) at
several lags T. After training, the readable (unfused) graph of the T = 100 models gives
||dL/dh_t|| for every step t: it decays exponentially with the lag T - t for the RNN
(Hochreiter 1991; Bengio et al. 1994) and not for the LSTM (Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from autograd_lite.tensor import Tensor
from rnn import tasks
from rnn.blas import single_thread_blas

CELLS = ("rnn", "lstm")


@dataclass
class LongTermConfig:
    """The budget shared by both cells, and the lags to try."""

    lags: tuple = (10, 25, 50, 100)
    grad_lag: int = 100  # the lag at which gradient norms are measured
    steps: int = 3000
    hidden: int = 32
    batch: int = 32
    lr: float = 0.01
    clip: float = 1.0
    seed: int = 0
    test_size: int = 1000
    grad_batch: int = 64
    record_every: int = 50  # validation points on the loss curves
    workers: int = 2

    @classmethod
    def quick(cls, seed: int = 0, steps: int | None = None) -> "LongTermConfig":
        """A small version (short lags) that finishes in well under a minute."""
        return cls(lags=(10, 25), grad_lag=25, steps=steps or 1000, hidden=32, batch=32,
                   lr=0.01, seed=seed, test_size=500, grad_batch=32, record_every=50)


@dataclass
class RunResult:
    cell: str
    lag: int
    steps: int
    train_loss: float  # mean of the last 100 training losses
    test_mse: float
    seconds: float
    first_below: int | None  # first recorded step with validation MSE < 0.01
    loss: list = field(default_factory=list)
    val_step: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    grad_init: list | None = None
    grad_trained: list | None = None
    params: dict | None = None  # the trained model's state dict, kept at the gradient lag


def _model(cell, hidden, fused, seed):
    from rnn.train import RegressionModel

    return RegressionModel(2, hidden, cell, fused=fused, rng=np.random.default_rng([seed, 0]))


def hidden_grad_norms(model, x, y) -> np.ndarray:
    """Mean over the batch of ||dL_b/dh_t|| for t = 1..T, through the readable graph.

    `model` is a RegressionModel (fused or not); its parameters are copied into an unfused
    twin whose per-step `h_t` nodes keep their gradient (`backward(retain_grad=True)`).
    L_b is the squared error of example b, so the norms do not depend on the batch size.
    """
    from rnn.layers import LAYERS
    from rnn.train import RegressionModel

    layer = model.layer
    cell = next(name for name, cls in LAYERS.items() if type(layer) is cls)
    twin = RegressionModel(layer.input_size, layer.hidden_size, cell,
                           output_size=model.decoder.weight.shape[0],
                           num_layers=layer.num_layers, fused=False, dtype=layer.dtype)
    twin.load_state_dict(model.state_dict())
    outputs, _ = twin.layer(Tensor(x))
    hs = list(outputs.parents)
    if outputs.op != "stack" or len(hs) != x.shape[0] or any(h.label != "h_t" for h in hs):
        raise RuntimeError("hidden_grad_norms: expected the readable layer's outputs to stack "
                           "the per-step h_t nodes")
    pred = twin.decoder(outputs[-1])
    diff = pred - y
    (diff * diff).sum().backward(retain_grad=True)
    return np.array([np.linalg.norm(h.grad, axis=-1).mean() for h in hs])


def run_one(cell: str, lag: int, cfg: LongTermConfig) -> RunResult:
    """Train one cell at one lag with the shared budget (fused path); measure what we report."""
    from rnn.train import AddingProblem, Trainer, regression_mse

    t0 = time.perf_counter()
    model = _model(cell, cfg.hidden, True, cfg.seed)
    measure = lag == cfg.grad_lag
    if measure:
        gx, gy = tasks.adding_problem(lag, cfg.grad_batch, np.random.default_rng([cfg.seed, 4]))
        grad_init = hidden_grad_norms(model, gx, gy).tolist()
    problem = AddingProblem(lag, cfg.batch, val_size=256, seed=cfg.seed)
    trainer = Trainer(model, problem, lr=cfg.lr, clip=cfg.clip, seed=cfg.seed,
                      val_every=cfg.record_every, progress=False)
    trainer.fit(cfg.steps)
    tx, ty = tasks.adding_problem(lag, cfg.test_size, np.random.default_rng([cfg.seed, 3]))
    h = trainer.history
    below = [s for s, v in zip(h["val_step"], h["val_loss"]) if v < 0.01]
    result = RunResult(
        cell=cell, lag=lag, steps=cfg.steps,
        train_loss=float(np.mean(h["loss"][-100:])), test_mse=regression_mse(model, tx, ty),
        seconds=0.0, first_below=below[0] if below else None,
        loss=h["loss"], val_step=h["val_step"], val_loss=h["val_loss"])
    if measure:
        result.grad_init = grad_init
        result.grad_trained = hidden_grad_norms(model, gx, gy).tolist()
        result.params = model.state_dict()
    result.seconds = time.perf_counter() - t0
    return result


def _job(args):
    return run_one(*args)


def _worker_init():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    # tqdm's default lock is a multiprocessing semaphore: one made in a worker that is then
    # terminated (Ctrl-C) is reported as leaked at exit. The workers show no bars anyway.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


def run_all(cfg: LongTermConfig, progress=None, log=print) -> list[RunResult]:
    """Every (cell, lag) run; in `cfg.workers` processes (BLAS single-threaded in each)."""
    from tqdm.auto import tqdm

    jobs = sorted(((cell, lag, cfg) for lag in cfg.lags for cell in CELLS),
                  key=lambda j: -j[1])  # longest first
    show = progress if progress is not None else os.isatty(2)
    bar = tqdm(total=len(jobs), unit="run", disable=not show, file=sys.stderr, leave=False)
    results = []

    def done(r):
        results.append(r)
        bar.update(1)
        log(f"{r.cell:>4} T={r.lag:<4} test MSE {r.test_mse:.4f}  ({r.seconds:.0f} s)")

    try:
        if cfg.workers <= 1:
            for job in jobs:
                done(_job(job))
        else:
            single_thread_blas()  # in the workers: spawned, so before NumPy loads
            ctx = multiprocessing.get_context("spawn")
            pool = ctx.Pool(cfg.workers, initializer=_worker_init)
            try:
                for r in pool.imap_unordered(_job, jobs):
                    done(r)
                pool.close()
            except BaseException:
                pool.terminate()
                raise
            finally:
                pool.join()
    finally:
        bar.close()
    return sorted(results, key=lambda r: (r.lag, CELLS.index(r.cell)))


def decay_per_step(norms) -> float:
    """The geometric mean factor by which ||dL/dh_t|| shrinks per step of lag (a fit)."""
    norms = np.asarray(norms[::-1], dtype=float)  # index = lag T - t
    lags = np.arange(len(norms))
    ok = norms > 0
    slope = np.polyfit(lags[ok], np.log(norms[ok]), 1)[0]
    return float(math.exp(slope))


# ------------------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------------------


def write_reports(results: list[RunResult], cfg: LongTermConfig, out: str,
                  seconds: float) -> dict:
    """results.csv, grad_norms.csv, results.md, loss_curves.png, grad_norm_vs_lag.png."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cell", "lag_T", "steps", "hidden", "batch", "lr", "train_loss",
                    "test_mse", "below_0.01", "first_step_below_0.01", "seconds"])
        for r in results:
            w.writerow([r.cell, r.lag, r.steps, cfg.hidden, cfg.batch, cfg.lr,
                        f"{r.train_loss:.6f}", f"{r.test_mse:.6f}", r.test_mse < 0.01,
                        r.first_below if r.first_below is not None else "",
                        f"{r.seconds:.1f}"])
    grads = {r.cell: r for r in results if r.grad_trained is not None}
    T = cfg.grad_lag
    with open(os.path.join(out, "grad_norms.csv"), "w", newline="") as f:
        w = csv.writer(f)
        cols = [(c, k) for c in CELLS if c in grads for k in ("init", "trained")]
        w.writerow(["lag", "t"] + [f"{c}_{k}" for c, k in cols])
        for lag in range(T):
            t = T - lag
            w.writerow([lag, t] + [f"{getattr(grads[c], 'grad_' + k)[t - 1]:.6e}"
                                   for c, k in cols])
    summary = _summary(results, grads, cfg, seconds)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(_markdown(results, grads, cfg, summary))
    _plot_losses(results, cfg, os.path.join(out, "loss_curves.png"))
    _plot_grads(grads, cfg, os.path.join(out, "grad_norm_vs_lag.png"))
    return summary


def _summary(results, grads, cfg, seconds):
    s = {"config": asdict(cfg), "wall_seconds": round(seconds, 1),
         "test_mse": {f"{r.cell}@{r.lag}": r.test_mse for r in results}, "gradients": {}}
    T = cfg.grad_lag
    for cell, r in grads.items():
        for kind in ("init", "trained"):
            norms = getattr(r, "grad_" + kind)
            s["gradients"][f"{cell}_{kind}"] = {
                "norm_at_lag_0": norms[T - 1], "norm_at_lag_max": norms[0],
                "ratio_lag_max_to_0": norms[0] / norms[T - 1],
                "decay_per_step": decay_per_step(norms)}
    return s


def _markdown(results, grads, cfg, summary) -> str:
    lines = [
        "# Long-term dependencies: tanh RNN vs LSTM on the adding problem",
        "",
        f"Same budget for both cells: hidden {cfg.hidden}, Adam lr {cfg.lr}, batch "
        f"{cfg.batch}, {cfg.steps} steps, gradient clipping at norm {cfg.clip}, seed "
        f"{cfg.seed}. Test MSE on {cfg.test_size} fresh sequences; predicting the mean "
        f"scores {tasks.ADDING_BASELINE_MSE:.3f}. Wall time {summary['wall_seconds']:.0f} s.",
        "",
        "| cell | T | test MSE | solved (< 0.01) | first step < 0.01 | train loss | s |",
        "|---|---:|---:|:---:|---:|---:|---:|",
    ]
    for r in results:
        first = r.first_below if r.first_below is not None else "-"
        lines.append(f"| {r.cell} | {r.lag} | {r.test_mse:.4f} | "
                     f"{'yes' if r.test_mse < 0.01 else 'no'} | {first} | "
                     f"{r.train_loss:.4f} | {r.seconds:.0f} |")
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
              "grad_norm_vs_lag.png.", ""]
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _smooth(values, window):
    values = np.asarray(values, dtype=float)
    if len(values) < window or window < 2:
        return np.arange(1, len(values) + 1), values
    kernel = np.ones(window) / window
    return np.arange(window, len(values) + 1), np.convolve(values, kernel, mode="valid")


def _plot_losses(results, cfg, path):
    plt = _pyplot()
    lags = sorted({r.lag for r in results})
    fig, axes = plt.subplots(1, len(lags), figsize=(4 * len(lags), 3.4), sharey=True,
                             squeeze=False)
    colors = {"rnn": "tab:red", "lstm": "tab:blue"}
    for ax, lag in zip(axes[0], lags):
        for r in results:
            if r.lag != lag:
                continue
            x, y = _smooth(r.loss, 50)
            ax.plot(x, y, color=colors[r.cell], lw=1, alpha=0.6, label=f"{r.cell} train")
            ax.plot(r.val_step, r.val_loss, color=colors[r.cell], lw=1.8,
                    label=f"{r.cell} validation")
        ax.axhline(tasks.ADDING_BASELINE_MSE, color="gray", ls="--", lw=1,
                   label="predict the mean")
        ax.axhline(0.01, color="gray", ls=":", lw=1, label="0.01")
        ax.set_yscale("log")
        ax.set_title(f"adding problem, T = {lag}")
        ax.set_xlabel("step")
    axes[0][0].set_ylabel("MSE")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_grads(grads, cfg, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    styles = {("rnn", "trained"): ("tab:red", "-"), ("rnn", "init"): ("tab:red", ":"),
              ("lstm", "trained"): ("tab:blue", "-"), ("lstm", "init"): ("tab:blue", ":")}
    for cell, r in grads.items():
        for kind in ("trained", "init"):
            norms = np.asarray(getattr(r, "grad_" + kind))[::-1]  # index = lag
            color, ls = styles[(cell, kind)]
            ax.plot(np.arange(len(norms)), norms, color=color, ls=ls, label=f"{cell} ({kind})")
    ax.set_yscale("log")
    ax.set_xlabel("lag T - t (steps before the loss)")
    ax.set_ylabel("mean ||dL/dh_t||")
    ax.set_title(f"gradient reaching h_t, adding problem T = {cfg.grad_lag}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def long_term(out: str, cfg: LongTermConfig, progress=None, log=print) -> dict:
    """Run the experiment and write its reports into `out`; returns the summary."""
    t0 = time.perf_counter()
    results = run_all(cfg, progress=progress, log=log)
    return write_reports(results, cfg, out, time.perf_counter() - t0)
