"""The long-term dependency experiment: a tanh RNN against an LSTM on the adding problem.

Both cells get the same budget (hidden size, optimizer, learning rate, batches, steps) at
several lags T. After training, the readable (unfused) graph of the T = 100 models gives
||dL/dh_t|| for every step t: it decays exponentially with the lag T - t for the RNN
(Hochreiter 1991; Bengio et al. 1994) and not for the LSTM (Hochreiter & Schmidhuber 1997).

Each run is a sweep run (rnn.sweep.runs); `rnn-lab experiment long-term` is the sweep's
long-term preset, which also chooses each run's learning rate on validation data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rnn.pool import cores, run_jobs
from rnn.sweep.runs import RunSpec, hidden_grad_norms, train_run

__all__ = ["LongTermConfig", "RunResult", "decay_per_step", "hidden_grad_norms", "pool_size",
           "run_all", "run_one", "run_result", "run_spec"]

VAL_SIZE = 256  # validation sequences of each run


@dataclass
class LongTermConfig:
    """The cells (any registered ones), the budget they share, and the lags to try."""

    cells: tuple = ("rnn", "lstm")
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
    lrs: tuple = ()  # the grid the rate was chosen from, per cell and lag (a sweep); () = lr

    @classmethod
    def quick(cls, seed: int = 0, steps: int | None = None,
              cells: tuple = ("rnn", "lstm")) -> "LongTermConfig":
        """A small version (short lags) that finishes in well under a minute."""
        return cls(cells=tuple(cells), lags=(10, 25), grad_lag=25, steps=steps or 1000,
                   hidden=32, batch=32, lr=0.01, seed=seed, test_size=500, grad_batch=32,
                   record_every=50)


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
    lr: float | None = None  # the run's learning rate (None: the config's)


def run_spec(cell: str, lag: int, cfg: LongTermConfig) -> RunSpec:
    """The sweep run (rnn.sweep) of one cell at one lag with the config's budget."""
    return RunSpec("adding", cell, "uniform", lag, cfg.hidden, cfg.steps, cfg.batch, cfg.lr,
                   "adam", cfg.clip, VAL_SIZE, cfg.test_size, cfg.record_every, cfg.seed,
                   cfg.grad_batch if lag == cfg.grad_lag else 0)


def _mse(metric):
    return float("inf") if metric is None else metric  # None: the run diverged


def run_result(record: dict) -> RunResult:
    """A sweep record of the adding problem as this experiment's RunResult."""
    s = record["spec"]
    result = RunResult(
        cell=s["cell"], lag=s["T"], steps=s["steps"],
        train_loss=float(np.mean(record["train_loss"][-100:])), test_mse=_mse(record["metric"]),
        seconds=record["seconds"], first_below=record["steps_to_success"],
        loss=record["train_loss"], val_step=record["val_step"], val_loss=record["val_loss"],
        lr=s["lr"])
    if "grad_trained" in record:
        result.grad_init = record["grad_init"]
        result.grad_trained = record["grad_trained"]
        result.params = {k: np.asarray(v) for k, v in record["params"].items()}
    return result


def run_one(cell: str, lag: int, cfg: LongTermConfig) -> RunResult:
    """Train one cell at one lag with the shared budget (fused path); measure what we report
    (rnn.sweep.runs.train_run: test MSE on its own stream, gradient norms at the gradient
    lag)."""
    return run_result(train_run(run_spec(cell, lag, cfg)))


def _job(args):
    return run_one(*args)


def pool_size(cfg: LongTermConfig) -> int:
    """Processes the runs use: `cfg.workers`, but never more than the runs or the cores."""
    return max(1, min(cfg.workers, len(cfg.cells) * len(cfg.lags), cores()))


def run_all(cfg: LongTermConfig, progress=None, log=print) -> list[RunResult]:
    """Every (cell, lag) run, in `pool_size(cfg)` processes (BLAS single-threaded in each).

    Ctrl-C or SIGTERM in this process (a KeyboardInterrupt) or an error ends every worker
    before it propagates.
    """
    jobs = sorted(((cell, lag, cfg) for lag in cfg.lags for cell in cfg.cells),
                  key=lambda j: -j[1])  # longest first
    results = []

    def done(r):
        results.append(r)
        log(f"{r.cell:>4} T={r.lag:<4} test MSE {r.test_mse:.4f}  ({r.seconds:.0f} s)")

    run_jobs(_job, jobs, pool_size(cfg), done, progress=progress)
    return sorted(results, key=lambda r: (r.lag, cfg.cells.index(r.cell)))


def decay_per_step(norms) -> float:
    """The geometric mean factor by which ||dL/dh_t|| shrinks per step of lag (a fit)."""
    norms = np.asarray(norms[::-1], dtype=float)  # index = lag T - t
    lags = np.arange(len(norms))
    ok = norms > 0
    slope = np.polyfit(lags[ok], np.log(norms[ok]), 1)[0]
    return float(math.exp(slope))
