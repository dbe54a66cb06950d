"""The training problems (`rnn.training.problems`) with losses and metrics in torch.

Batches come from the engine's problem, whole: every rank draws the same global batch from
the same generator, keeps its shard of the batch axis (`shard`), and returns its loss as a
SUM with the GLOBAL count it is to be divided by. The mean over the global batch is then
the sum over ranks, whatever size each shard has (a masked Reber batch included).
"""

from __future__ import annotations

import math

import numpy as np

from rnn.torch_engine import require_torch
from rnn.training.problems import AddingProblem, CopyProblem, ReberProblem, TextProblem

torch = require_torch("--engine torch")
F = torch.nn.functional


def shard_of(n: int, rank: int, world: int) -> slice:
    """The columns rank `rank` of `world` takes of a batch of `n` (array_split's cut)."""
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def _chunks(n, size):
    return [slice(k, min(k + size, n)) for k in range(0, n, size)]


def _ce_sum(logits, targets):
    """Summed cross-entropy of logits (..., V) against targets (...): (T, B) per step kept."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           reduction="none").reshape(targets.shape)


class TorchTask:
    """One problem on torch: `loss` on a rank's shard, `evaluate` on the validation data."""

    def __init__(self, problem, device, dtype, rank: int = 0, world: int = 1):
        self.problem, self.device, self.dtype = problem, device, dtype
        self.rank, self.world = rank, world

    def tensor(self, array, float_data=True):
        array = np.ascontiguousarray(array)
        t = torch.from_numpy(array).to(self.device)
        return t.to(self.dtype) if float_data and array.dtype.kind == "f" else t

    def shard(self, n: int) -> slice:
        return shard_of(n, self.rank, self.world)

    def loss(self, model, batch, state=None):
        """(summed loss on this rank's shard, the global count to divide by, final state)."""
        raise NotImplementedError

    def evaluate(self, model) -> dict[str, float]:
        raise NotImplementedError


class AddingTask(TorchTask):
    def loss(self, model, batch, state=None):
        x, y = batch
        s = self.shard(y.shape[0])
        pred, _ = model(self.tensor(x[:, s]))
        return ((pred - self.tensor(y[s])) ** 2).sum(), y.size, None

    def evaluate(self, model):
        p = self.problem
        total = 0.0
        with torch.no_grad():
            for s in _chunks(len(p.val_y), 256):
                pred, _ = model(self.tensor(p.val_x[:, s]))
                total += float(((pred - self.tensor(p.val_y[s])) ** 2).sum())
        return {"loss": total / len(p.val_y)}


class CopyTask(TorchTask):
    def loss(self, model, batch, state=None):
        x, y = batch
        s = self.shard(x.shape[1])
        logits, _ = model(self.tensor(x[:, s]))
        return _ce_sum(logits, self.tensor(y[:, s])).sum(), y.size, None

    def evaluate(self, model):
        p = self.problem
        n, loss, correct = p.val_x.shape[1], 0.0, 0.0
        with torch.no_grad():
            for s in _chunks(n, 256):
                logits, _ = model(self.tensor(p.val_x[:, s]))
                y = self.tensor(p.val_y[:, s])
                loss += float(_ce_sum(logits, y).mean()) * (s.stop - s.start)
                recall = logits[-p.n_copy:].argmax(-1)
                correct += float((recall == y[-p.n_copy:]).sum())
        return {"loss": loss / n, "recall_accuracy": correct / (n * p.n_copy)}


class ReberTask(TorchTask):
    def loss(self, model, batch, state=None):
        x, y, mask, _ = batch
        s = self.shard(x.shape[1])
        logits, _ = model(self.tensor(x[:, s]))
        picked = _ce_sum(logits, self.tensor(y[:, s])) * self.tensor(mask[:, s])
        return picked.sum(), max(float(mask.sum()), 1.0), None

    def evaluate(self, model):
        x, y, mask, key = self.problem.val
        with torch.no_grad():
            logits, _ = model(self.tensor(x))
            m = self.tensor(mask)
            loss = float((_ce_sum(logits, self.tensor(y)) * m).sum()) / max(float(mask.sum()), 1)
        cols = np.arange(x.shape[1])
        hits = logits[key, cols].argmax(-1).cpu().numpy() == y[key, cols]
        return {"loss": loss, "key_accuracy": float(hits.mean())}


class TextTask(TorchTask):
    def loss(self, model, batch, state=None):
        x, y = batch
        s = self.shard(x.shape[1])
        logits, state = model(self.tensor(x[:, s]), state)
        return _ce_sum(logits, self.tensor(y[:, s])).sum(), y.size, state

    def evaluate(self, model):
        batches = self.problem.val_batches
        if batches is None:
            return {}
        total, state = 0.0, None
        n = min(len(batches), 50)
        with torch.no_grad():
            for k in range(n):
                x, y = batches.batch(k)
                logits, state = model(self.tensor(x), state)
                total += float(_ce_sum(logits, self.tensor(y)).mean())
        loss = total / n
        return {"loss": loss, "bits_per_char": loss / math.log(2)}


_TASKS = ((AddingProblem, AddingTask), (CopyProblem, CopyTask), (ReberProblem, ReberTask),
          (TextProblem, TextTask))


def torch_task(problem, device, dtype, rank=0, world=1) -> TorchTask:
    """The torch side of an engine problem."""
    for problem_class, task_class in _TASKS:
        if isinstance(problem, problem_class):
            return task_class(problem, device, dtype, rank, world)
    raise TypeError(f"no torch form for the problem {type(problem).__name__}")
