"""Problems: a task as the Trainer sees it (batches, a loss, validation metrics), one class per
task, and `build`, which makes the model and the problem a `TrainConfig` describes."""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np

from autograd_lite.tensor import Tensor, no_grad
from rnn import tasks
from rnn.data import Corpus, DataError, StreamBatches, Vocab, read_text
from rnn.training.budget import check_budget
from rnn.training.config import DTYPES, TrainConfig
from rnn.training.losses import mse_loss, sequence_cross_entropy
from rnn.training.models import make_model


class Problem:
    """A task as the Trainer sees it: batches, a loss, and validation metrics."""

    stateful = False  # carry the final state into the next batch (truncated BPTT)
    tokens_per_batch = 0
    fixed_shapes = True  # every batch has the same shapes (a compiled step is reused)

    def batch(self, step: int, rng: np.random.Generator):
        raise NotImplementedError

    def loss(self, model, batch, state=None):
        """(loss Tensor, final state) on one batch."""
        raise NotImplementedError

    def evaluate(self, model) -> dict[str, float]:
        """Validation metrics; always includes 'loss'."""
        raise NotImplementedError

    def starts_epoch(self, step: int) -> bool:
        return True


def _chunks(n, size):
    return [slice(k, min(k + size, n)) for k in range(0, n, size)]


def regression_mse(model, x, y, chunk: int = 256) -> float:
    """Mean squared error of `model` on inputs x (T, N, D) and targets y (N, ...), without a
    graph, `chunk` sequences at a time."""
    with no_grad():
        total = 0.0
        for s in _chunks(len(y), chunk):
            pred, _ = model(Tensor(x[:, s]))
            total += float(((pred.data - y[s]) ** 2).sum())
    return total / len(y)


class AddingProblem(Problem):
    """The adding problem with MSE; validation on a fixed set (baseline MSE 1/6)."""

    def __init__(self, seq_len, batch, dtype=np.float64, val_size=512, seed=0):
        self.seq_len, self.batch_size, self.dtype = seq_len, batch, dtype
        self.tokens_per_batch = seq_len * batch
        self.val_x, self.val_y = tasks.adding_problem(
            seq_len, val_size, np.random.default_rng([seed, 2]), dtype)

    def batch(self, step, rng):
        return tasks.adding_problem(self.seq_len, self.batch_size, rng, self.dtype)

    def loss(self, model, batch, state=None):
        x, y = batch
        pred, _ = model(Tensor(x))
        return mse_loss(pred, y), None

    def evaluate(self, model):
        return {"loss": regression_mse(model, self.val_x, self.val_y)}


class CopyProblem(Problem):
    """Copy memory with per-step cross-entropy; accuracy on the recalled symbols."""

    def __init__(self, delay, batch, val_size=512, seed=0, n_copy=10):
        self.delay, self.batch_size, self.n_copy = delay, batch, n_copy
        self.tokens_per_batch = (delay + 2 * n_copy) * batch
        self.val_x, self.val_y = tasks.copy_memory(
            delay, val_size, np.random.default_rng([seed, 2]), n_copy)

    def batch(self, step, rng):
        return tasks.copy_memory(self.delay, self.batch_size, rng, self.n_copy)

    def loss(self, model, batch, state=None):
        x, y = batch
        logits, _ = model(x)
        return sequence_cross_entropy(logits, y), None

    def evaluate(self, model):
        with no_grad():
            loss = correct = 0.0
            for s in _chunks(self.val_x.shape[1], 256):
                logits, _ = model(self.val_x[:, s])
                loss += sequence_cross_entropy(logits, self.val_y[:, s]).item() * (s.stop - s.start)
                recall = logits.data[-self.n_copy:].argmax(-1)
                correct += float((recall == self.val_y[-self.n_copy:, s]).sum())
        n = self.val_x.shape[1]
        return {"loss": loss / n, "recall_accuracy": correct / (n * self.n_copy)}


class ReberProblem(Problem):
    """Embedded Reber next-symbol prediction; accuracy on the second-to-last symbol."""

    fixed_shapes = False  # each batch is as long as its longest string

    def __init__(self, batch, val_size=512, seed=0):
        self.batch_size = batch
        self.tokens_per_batch = 12 * batch  # about the mean string length
        self.val = tasks.reber_batch(val_size, np.random.default_rng([seed, 2]))

    def batch(self, step, rng):
        return tasks.reber_batch(self.batch_size, rng)

    def loss(self, model, batch, state=None):
        x, y, mask, _ = batch
        logits, _ = model(x)
        return sequence_cross_entropy(logits, y, mask), None

    def evaluate(self, model):
        x, y, mask, _ = self.val
        with no_grad():
            logits, _ = model(x)
            loss = sequence_cross_entropy(logits, y, mask).item()
        return self.metrics(logits.data, loss)

    def metrics(self, logits, loss) -> dict[str, float]:
        """The validation metrics from the validation logits (T, B, V) and loss."""
        _, y, _, key = self.val
        cols = np.arange(y.shape[1])
        hits = logits[key, cols].argmax(-1) == y[key, cols]
        return {"loss": loss, "key_accuracy": float(hits.mean())}


class TextProblem(Problem):
    """Character-level language modelling on B parallel streams (char-rnn)."""

    stateful = True

    def __init__(self, corpus: Corpus, seq_len, batch, source="text"):
        self.corpus = corpus
        self.train_batches = StreamBatches(corpus.train, batch, seq_len, name=source)
        self.tokens_per_batch = seq_len * batch
        val = corpus.val
        if len(val) < 2:
            self.val_batches = None
        else:
            # Validation: up to 8 streams over the held-out text, state carried along.
            streams = max(1, min(8, (len(val) - 1) // max(seq_len, 1)))
            steps = max(1, min(seq_len, (len(val) - 1) // streams))
            self.val_batches = StreamBatches(val, streams, steps, name=f"{source} (validation)")

    def starts_epoch(self, step):
        return self.train_batches.starts_epoch(step)

    def batch(self, step, rng):
        return self.train_batches.batch(step)

    def loss(self, model, batch, state=None):
        x, y = batch
        logits, state = model(x, state)
        return sequence_cross_entropy(logits, y), state

    def evaluate(self, model):
        if self.val_batches is None:
            return {}
        total, state = 0.0, None
        n = min(len(self.val_batches), 50)
        with no_grad():
            for k in range(n):
                x, y = self.val_batches.batch(k)
                logits, state = model(x, state)
                total += sequence_cross_entropy(logits, y).item()
        loss = total / n
        return {"loss": loss, "bits_per_char": loss / math.log(2)}


def text_sha256(text: str) -> str:
    """The sha256 of a text's characters (as UTF-8): what a checkpoint keeps of its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build(config: TrainConfig, vocab: Vocab | None = None, text_path=None):
    """The model, the problem and the vocabulary (text only) that `config` describes.

    Nothing is allocated before the run's memory estimate passes (`check_budget`). For text,
    the corpus is read from `text_path` (default `config.text`); a config that holds a hash
    (resuming) must match the text's, and `config.text` and `config.text_sha256` become the
    file's name and hash. With `vocab` given (resuming), the text must fit that vocabulary.
    """
    if config.task != "text":
        check_budget(config)
    if config.task == "adding":
        problem = AddingProblem(config.seq_len, config.batch, DTYPES[config.dtype],
                                config.val_size, config.seed)
    elif config.task == "copy":
        problem = CopyProblem(config.seq_len, config.batch, config.val_size, config.seed)
    elif config.task == "reber":
        problem = ReberProblem(config.batch, config.val_size, config.seed)
    else:
        path = os.fspath(text_path if text_path is not None else config.text)
        text = read_text(path)
        digest = text_sha256(text)
        if config.text_sha256 and digest != config.text_sha256:
            raise DataError(f"{path}: not the text this run was trained on ({config.text}, "
                            f"sha256 {config.text_sha256[:12]}...; this file's is "
                            f"{digest[:12]}...); give --text the same file")
        config.text, config.text_sha256 = os.path.basename(path) or path, digest
        corpus = Corpus.from_text(text, config.val_fraction, vocab, source=path)
        vocab = corpus.vocab
        check_budget(config, len(vocab), len(text))
        problem = TextProblem(corpus, config.seq_len, config.batch, source=path)
    return make_model(config, len(vocab) if vocab else None), problem, vocab
