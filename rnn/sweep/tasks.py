"""The tasks a sweep trains, each with its model, its metric, its trivial baseline and its
success criterion, stated once here and used by the runs, the tables and the plots.

- adding (as set by Arjovsky et al. 2016: values in U[0, 1], the variant "urnn"): test MSE;
  success below 0.01; the mean predictor scores 1/6.
- adding-1997 (Hochreiter & Schmidhuber 1997's definition, the variant "1997": values in
  U(-1, 1), the target rescaled to 0.5 + (X1 + X2) / 4, lengths T to T + T/10): test MSE;
  success below the same fraction of its predict-the-mean MSE (about 0.039) as 0.01 is of 1/6.
- copy (Arjovsky et al. 2016): test cross-entropy per step; success below 10% of the
  memoryless baseline 10 ln 8 / (T + 20).
- reber (Hochreiter & Schmidhuber 1997, embedded Reber grammar): the fraction of test strings
  with a wrong prediction; success when every string is right, that is when at every step
  the legal next symbols are exactly the most probable ones.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from rnn import tasks
from rnn.training import (
    AddingProblem,
    CharModel,
    CopyProblem,
    ReberProblem,
    RegressionModel,
)


@dataclass(frozen=True)
class Criterion:
    """What counts as solved, and the score of the trivial strategy, for one task and T."""

    metric: str  # the metric's name, lower is better
    threshold: float
    baseline: float
    text: str  # the criterion in words, as the tables print it
    strict: bool = True  # success is metric < threshold (False: metric <= threshold)

    def success(self, metric: float | None) -> bool:
        if metric is None:  # not finite: the run diverged
            return False
        return metric < self.threshold if self.strict else metric <= self.threshold

    def worse_than_baseline(self, metric: float | None, trivial: float | None = None) -> bool:
        """No better than the trivial strategy: than its score `trivial` on the same test
        sequences when given (the stated baseline otherwise); a diverged run counts as worse."""
        return metric is None or metric >= (self.baseline if trivial is None else trivial)


def strings_wrong(logits, legal, mask) -> float:
    """The fraction of strings (columns) with a step where some illegal symbol scores at least
    as high as some legal one (logits (T, B, V), legal (T, B, V) bool, mask (T, B))."""
    lowest_legal = np.where(legal, logits, np.inf).min(-1)
    highest_illegal = np.where(legal, -np.inf, logits).max(-1)
    right = (lowest_legal > highest_illegal) | (mask == 0)
    return float(1.0 - right.all(axis=0).mean())


class ReberStrings(ReberProblem):
    """Embedded Reber with one more validation metric: 'strings_wrong' (see `strings_wrong`)."""

    def __init__(self, batch, val_size=512, seed=0):
        super().__init__(batch, val_size, seed)
        self.val_legal = tasks.reber_legal(*self.val[:3])

    def metrics(self, logits, loss):
        out = super().metrics(logits, loss)
        out["strings_wrong"] = strings_wrong(logits, self.val_legal, self.val[2])
        return out


class SweepTask:
    """One task as a sweep sees it. Subclasses set the class attributes and `criterion`."""

    name = ""
    title = ""
    min_T: int | None = None  # None: the task has no T (its sequences set their own length)
    val_metric = "loss"  # the Trainer history key (after "val_") the criterion reads
    family = ""  # the task as rnn.training and the tables of published results name it
    variant: str | None = None  # the adding problem's definition (rnn.tasks.ADDING_VARIANTS)

    def length(self, T) -> int | None:
        """The length of the sequences the model reads (chrono's T_max), None if it varies."""
        return T

    def model(self, cell, hidden, rng, **init):
        raise NotImplementedError

    def problem(self, T, batch, val_size, seed):
        raise NotImplementedError

    def criterion(self, T) -> Criterion:
        raise NotImplementedError

    def held_out(self, problem, T, size, rng):
        """A copy of `problem` whose validation set is a held-out set drawn from `rng`."""
        raise NotImplementedError

    def trivial(self, test, T) -> float:
        """The trivial strategy's metric on the held-out set of `test` (a `held_out` copy)."""
        return self.criterion(T).baseline  # the same on every set (copy, reber)

    def test_metrics(self, model, problem, T, size, seed) -> dict:
        """'metric', 'loss' and 'trivial' (the trivial strategy's metric) on a test set of
        `size` drawn from its own stream [seed, 3]."""
        test = self.held_out(problem, T, size, np.random.default_rng([seed, 3]))
        scores = test.evaluate(model)
        return {"metric": scores[self.val_metric], "loss": scores["loss"],
                "trivial": self.trivial(test, T)}


class Adding(SweepTask):
    name, title, min_T, family, variant = "adding", "adding problem", 2, "adding", "urnn"

    def model(self, cell, hidden, rng, **init):
        return RegressionModel(2, hidden, cell, rng=rng, **init)

    mean = 1.0  # the target's mean: what the trivial strategy predicts

    def problem(self, T, batch, val_size, seed):
        return AddingProblem(T, batch, val_size=val_size, seed=seed)

    def trivial(self, test, T):
        return float(np.mean((test.val_y - self.mean) ** 2))  # predict the mean

    def criterion(self, T):
        return Criterion("test MSE", 0.01, tasks.ADDING_BASELINE_MSE, "test MSE < 0.01")

    def held_out(self, problem, T, size, rng):
        test = copy.copy(problem)
        test.val_x, test.val_y = tasks.adding_problem(T, size, rng)
        return test


class Adding1997Problem(AddingProblem):
    """The adding problem in Hochreiter & Schmidhuber 1997's definition (rnn.tasks)."""

    def __init__(self, seq_len, batch, val_size=512, seed=0):
        self.seq_len, self.batch_size, self.dtype = seq_len, batch, np.float64
        self.tokens_per_batch = (seq_len + seq_len // 10) * batch
        self.val_x, self.val_y = tasks.adding_problem(
            seq_len, val_size, np.random.default_rng([seed, 2]), variant="1997")

    def batch(self, step, rng):
        return tasks.adding_problem(self.seq_len, self.batch_size, rng, variant="1997")


class Adding1997(Adding):
    name, title, variant = "adding-1997", "adding problem (1997 definition)", "1997"
    min_T = tasks.ADDING_MIN_LEN["1997"]
    mean = 0.5

    def length(self, T):
        return T + T // 10

    def problem(self, T, batch, val_size, seed):
        return Adding1997Problem(T, batch, val_size=val_size, seed=seed)

    def criterion(self, T):
        base = tasks.adding_baseline_mse(T, "1997")
        threshold = 0.01 / tasks.ADDING_BASELINE_MSE * base  # 6% of the baseline, as 0.01
        return Criterion("test MSE", threshold, base,
                         f"test MSE < {threshold:.4g} (6% of its predict-the-mean MSE, as "
                         f"0.01 is of the uRNN definition's 1/6)")

    def held_out(self, problem, T, size, rng):
        test = copy.copy(problem)
        test.val_x, test.val_y = tasks.adding_problem(T, size, rng, variant="1997")
        return test


class Copy(SweepTask):
    name, title, min_T, family = "copy", "copy memory", 1, "copy"

    def length(self, T):
        return tasks.copy_memory_length(T)

    def model(self, cell, hidden, rng, **init):
        return CharModel(tasks.COPY_VOCAB, hidden, cell, rng=rng, **init)

    def problem(self, T, batch, val_size, seed):
        return CopyProblem(T, batch, val_size=val_size, seed=seed)

    def criterion(self, T):
        base = tasks.copy_memory_baseline(T)
        return Criterion("test cross-entropy", 0.1 * base, base,
                         f"cross-entropy < 10% of the memoryless baseline ({0.1 * base:.4f})")

    def held_out(self, problem, T, size, rng):
        test = copy.copy(problem)
        test.val_x, test.val_y = tasks.copy_memory(T, size, rng, problem.n_copy)
        return test


class Reber(SweepTask):
    name, title, family = "reber", "embedded Reber grammar", "reber"
    val_metric = "strings_wrong"

    def length(self, T):
        return None  # each string has its own length

    def model(self, cell, hidden, rng, **init):
        return CharModel(len(tasks.REBER_SYMBOLS), hidden, cell, rng=rng, **init)

    def problem(self, T, batch, val_size, seed):
        return ReberStrings(batch, val_size=val_size, seed=seed)

    def criterion(self, T):
        # A predictor blind to the past ranks the symbols alike at every step; every string
        # needs T or P first and B next, so it gets every string wrong (tested).
        return Criterion("test strings wrong", 0.0, 1.0,
                         "every test string right (the legal next symbols most probable at "
                         "every step)", strict=False)

    def held_out(self, problem, T, size, rng):
        test = copy.copy(problem)
        test.val = tasks.reber_batch(size, rng)
        test.val_legal = tasks.reber_legal(*test.val[:3])
        return test


TASKS = {task.name: task for task in (Adding(), Adding1997(), Copy(), Reber())}


def task_name(family: str, variant: str | None = None) -> str:
    """The sweep's name of a task as published tables name it: ("adding", "1997") ->
    "adding-1997"; ("adding", None) is the uRNN definition, "adding"."""
    for task in TASKS.values():
        if task.family == family and task.variant == (variant or task.variant):
            if variant is None and task.variant not in (None, "urnn"):
                continue
            return task.name
    raise ValueError(f"no sweep task for {family!r} (variant {variant!r})")


def sweep_task(name: str) -> SweepTask:
    """The task called `name`; ValueError naming the choices otherwise."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    return TASKS[name]
