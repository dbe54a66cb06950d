"""The long-term dependency experiment: a tanh RNN against an LSTM on the adding problem.

Both cells get the same budget (hidden size, optimizer, learning rate, batches, steps) at
several lags T. After training, the readable (unfused) graph of the T = 100 models gives
||dL/dh_t|| for every step t: it decays exponentially with the lag T - t for the RNN
(Hochreiter 1991; Bengio et al. 1994) and not for the LSTM (Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from autograd_lite.tensor import Tensor
from rnn import tasks
from rnn.pool import cores, run_jobs
from rnn.training import AddingProblem, RegressionModel, Trainer, regression_mse


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


def _model(cell, hidden, fused, seed):
    return RegressionModel(2, hidden, cell, fused=fused, rng=np.random.default_rng([seed, 0]))


def hidden_grad_norms(model, x, y) -> np.ndarray:
    """Mean over the batch of ||dL_b/dh_t|| for t = 1..T, through the readable graph.

    `model` is a RegressionModel (fused or not); its parameters are copied into an unfused
    twin whose per-step `h_t` nodes keep their gradient (`backward(retain_grad=True)`).
    L_b is the squared error of example b, so the norms do not depend on the batch size.
    """
    layer = model.layer
    cell = layer.cell_class.name
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
