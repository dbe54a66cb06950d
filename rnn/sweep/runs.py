"""One run of a sweep: its spec (a frozen dataclass, keyed by the hash of its canonical JSON)
and `train_run`, which trains it and returns its record (a JSON-ready dict).

Every random draw of a run comes from its seed, one stream per use: [seed, 0] the initial
weights, [seed, 1] the training batches, [seed, 2] the validation set (the only data any
choice is made on), [seed, 3] the test set, [seed, 4] the sequences the gradient norms are
measured on. The same spec gives the same record, bit for bit, in any process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import math
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from autograd_lite.tensor import Tensor
from rnn import tasks
from rnn.sweep.tasks import sweep_task
from rnn.training import RegressionModel, Trainer, TrainingError

RUN_FORMAT = 1  # bump when a record's meaning changes: older cache entries are then recomputed


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run. `T` is None for tasks without one (reber);
    `grad_batch` > 0 measures ||dL/dh_t|| before and after training on that many sequences
    (the long-term preset) and keeps the trained parameters."""

    task: str
    cell: str
    init: str
    T: int | None
    hidden: int
    steps: int
    batch: int
    lr: float
    optimizer: str
    clip: float
    val_size: int
    test_size: int
    val_every: int
    seed: int
    grad_batch: int = 0

    def __post_init__(self):
        # One spelling per value, so that equal specs hash alike (1 and 1.0, numpy ints)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("lr", "clip"):
                value = float(value)
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                value = int(value)
            object.__setattr__(self, f.name, value)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def canonical(self) -> str:
        """The spec and the record format as canonical JSON: what the key hashes."""
        return json.dumps({"format": RUN_FORMAT, **self.to_dict()}, sort_keys=True,
                          separators=(",", ":"), allow_nan=False)

    @property
    def key(self) -> str:
        """16 hex digits of the sha256 of `canonical()`: the run's name in the cache."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:16]

    @property
    def setting(self) -> tuple:
        """(task, cell, init, T, hidden): the runs of a setting differ in lr and seed only."""
        return (self.task, self.cell, self.init, self.T, self.hidden)

    @property
    def cost(self) -> float:
        """A rough relative cost (sequence steps trained), to start the longest runs first."""
        return self.steps * self.batch * (self.T if self.T else 12)


def versions() -> dict:
    """The versions a record was made with."""
    try:
        ours = importlib.metadata.version("rnn-lab")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        ours = "unknown"
    return {"rnn_lab": ours, "numpy": np.__version__, "python": platform.python_version()}


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


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def train_run(spec: RunSpec) -> dict:
    """Train the run `spec` describes; its record (see rnn.sweep.cache for the fields)."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    task = sweep_task(spec.task)
    criterion = task.criterion(spec.T)
    model = task.model(spec.cell, spec.hidden, np.random.default_rng([spec.seed, 0]),
                       init=spec.init, t_max=task.length(spec.T))
    problem = task.problem(spec.T, spec.batch, spec.val_size, spec.seed)
    grads = {}
    if spec.grad_batch:
        gx, gy = tasks.adding_problem(spec.T, spec.grad_batch,
                                      np.random.default_rng([spec.seed, 4]),
                                      variant=task.variant)
        grads["grad_init"] = hidden_grad_norms(model, gx, gy).tolist()
    trainer = Trainer(model, problem, optimizer=spec.optimizer, lr=spec.lr, clip=spec.clip,
                      seed=spec.seed, val_every=spec.val_every, progress=False)
    diverged = None
    try:
        trainer.fit(spec.steps)
    except TrainingError:  # the loss or the gradient stopped being finite: keep the model
        diverged = trainer.step + 1  # as it was before that step, and say so
        trainer.validate()
    h = trainer.history
    val_metric = [_finite(v) for v in h["val_" + task.val_metric]]
    reached = [s for s, v in zip(h["val_step"], val_metric) if criterion.success(v)]
    test = task.test_metrics(model, problem, spec.T, spec.test_size, spec.seed)
    metric = _finite(test["metric"])
    if spec.grad_batch:
        grads["grad_trained"] = hidden_grad_norms(model, gx, gy).tolist()
        grads["params"] = {k: v.tolist() for k, v in model.state_dict().items()}
    return {
        "format": RUN_FORMAT, "key": spec.key, "spec": spec.to_dict(),
        "metric": metric, "test_loss": _finite(test["loss"]),
        "success": criterion.success(metric),
        "test_baseline": test["trivial"],
        "worse_than_baseline": criterion.worse_than_baseline(metric, test["trivial"]),
        "steps_to_success": reached[0] if reached else None,
        "diverged_at": diverged,
        "val_step": list(h["val_step"]), "val_loss": [_finite(v) for v in h["val_loss"]],
        "val_metric": val_metric,
        "train_loss": [float(v) for v in h["loss"]],
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - cpu0,  # this process's CPU: steadier when shared
        **versions(),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        **grads,
    }
