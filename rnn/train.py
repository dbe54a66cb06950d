"""Training: losses, models, problems (a task plus its loss and metrics), the Trainer, sampling.

The Trainer clips gradients by global norm, validates every `val_every` steps, shows a tqdm
bar, keeps a loss history, and checkpoints (atomically; also on Ctrl-C). All randomness
after initialisation comes from one saved `np.random.Generator`, so a resumed run is
bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from autograd_lite import nn, ops, optim
from autograd_lite.tensor import Tensor, no_grad, total_norm
from rnn import tasks
from rnn.checkpoint import (
    Checkpoint,
    CheckpointError,
    check_arrays,
    load_checkpoint,
    save_checkpoint,
)
from rnn.errors import UserError
from rnn.data import Corpus, DataError, StreamBatches, Vocab, one_hot
from rnn.layers import detach_state, make_layer

CELLS = ("rnn", "lstm", "gru", "peephole")
TASKS = ("adding", "copy", "reber", "text")
DTYPES = {"float32": np.float32, "float64": np.float64}


class TrainingError(UserError):
    """Training cannot go on (e.g. the gradient became NaN); one line for the CLI."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during `Trainer.fit`; the state was saved to `path` (None if it was not)."""

    def __init__(self, step: int, path: str | None):
        super().__init__(f"interrupted at step {step}")
        self.step, self.path = step, path


# ------------------------------------------------------------------------------------------
# Losses
# ------------------------------------------------------------------------------------------


def sequence_cross_entropy(logits, targets, mask=None) -> Tensor:
    """Mean cross-entropy of logits (T, B, V) against integer targets (T, B).

    With a mask (T, B) of 0/1 weights, the mean is over the steps where the mask is 1.
    """
    if mask is None:
        return ops.cross_entropy(logits, targets)
    mask = np.asarray(mask, dtype=logits.dtype)
    if mask.shape != np.shape(targets):
        raise ValueError(f"sequence_cross_entropy: mask {mask.shape} must match targets "
                         f"{np.shape(targets)}")
    n_classes = logits.shape[-1]
    logp = ops.log_softmax(logits.reshape((-1, n_classes)), axis=-1)
    flat = np.asarray(targets).reshape(-1)
    picked = logp[np.arange(flat.size), flat]
    return -(picked * mask.reshape(-1)).sum() / max(float(mask.sum()), 1.0)


def mse_loss(pred, target) -> Tensor:
    """Mean squared error."""
    return ops.mse(pred, target)


# ------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------


def _state_arrays(state) -> list[np.ndarray]:
    """A layer state (None, h, or (h, c)) as a list of plain arrays."""
    if state is None:
        return []
    parts = state if isinstance(state, (tuple, list)) else (state,)
    return [np.array(getattr(p, "data", p)) for p in parts]


def _state_from_arrays(arrays):
    """Inverse of `_state_arrays`."""
    if not arrays:
        return None
    tensors = tuple(Tensor(a) for a in arrays)
    return tensors[0] if len(tensors) == 1 else tensors


class CharModel(nn.Module):
    """Per-step classifier over a token vocabulary: tokens -> recurrent layer -> logits.

    Tokens enter one-hot (`embedding_dim=0`) or through a learned embedding. Used for
    characters (char-rnn), copy-memory symbols and Reber-grammar symbols.
    """

    def __init__(self, vocab_size, hidden_size, cell="lstm", num_layers=1, embedding_dim=0,
                 dtype=np.float64, fused=True, forget_bias=1.0, rng=None):
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        self.vocab_size, self.dtype = vocab_size, np.dtype(dtype)
        self.embed = (nn.Embedding(vocab_size, embedding_dim, dtype=dtype, rng=rng)
                      if embedding_dim else None)
        self.layer = make_layer(cell, embedding_dim or vocab_size, hidden_size,
                                num_layers=num_layers, dtype=dtype, fused=fused,
                                forget_bias=forget_bias, rng=rng)
        self.decoder = nn.Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)

    def forward(self, ids, state=None):
        """ids (T, B) integers -> (logits (T, B, V), final state)."""
        ids = np.asarray(ids)
        x = self.embed(ids) if self.embed is not None else Tensor(
            one_hot(ids, self.vocab_size, self.dtype))
        outputs, state = self.layer(x, state)
        return self.decoder(outputs), state


class RegressionModel(nn.Module):
    """Sequence -> recurrent layer -> Linear on the last output (the adding problem)."""

    def __init__(self, input_size, hidden_size, cell="lstm", output_size=1, num_layers=1,
                 dtype=np.float64, fused=True, forget_bias=1.0, rng=None):
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        self.dtype = np.dtype(dtype)
        self.layer = make_layer(cell, input_size, hidden_size, num_layers=num_layers,
                                dtype=dtype, fused=fused, forget_bias=forget_bias, rng=rng)
        self.decoder = nn.Linear(hidden_size, output_size, dtype=dtype, rng=rng)

    def forward(self, x, state=None):
        """x (T, B, D) -> (prediction (B, output_size), final state)."""
        outputs, state = self.layer(x, state)
        return self.decoder(outputs[-1]), state


# ------------------------------------------------------------------------------------------
# Configuration and problems
# ------------------------------------------------------------------------------------------

_FIELD_TYPES = {"task": (str,), "cell": (str,), "hidden": (int,), "layers": (int,),
                "seq_len": (int,), "batch": (int,), "steps": (int,), "lr": (float, int),
                "optimizer": (str,), "momentum": (float, int), "clip": (float, int),
                "seed": (int,), "dtype": (str,), "val_every": (int,), "val_size": (int,),
                "text": (str,), "val_fraction": (float, int), "embedding": (int,),
                "forget_bias": (float, int), "fused": (bool,)}

# Sequence length per task when --seq-len is not given (for copy it is the delay).
DEFAULT_SEQ_LEN = {"adding": 50, "copy": 20, "reber": 0, "text": 64}


@dataclass
class TrainConfig:
    """Everything that defines a run; stored as JSON in every checkpoint."""

    task: str = "adding"
    cell: str = "lstm"
    hidden: int = 64
    layers: int = 1
    seq_len: int | None = None
    batch: int = 32
    steps: int = 1000
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.0
    clip: float = 1.0
    seed: int = 0
    dtype: str = "float64"
    val_every: int = 100
    val_size: int = 512
    text: str | None = None
    val_fraction: float = 0.1
    embedding: int = 0
    forget_bias: float = 1.0
    fused: bool = True

    def __post_init__(self):
        if self.seq_len is None:
            self.seq_len = DEFAULT_SEQ_LEN.get(self.task, 50)
        self.validate()

    def validate(self) -> None:
        """Raise UserError for values no run can use."""
        for f in dataclasses.fields(self):
            value, kind = getattr(self, f.name), _FIELD_TYPES.get(f.name)
            if value is None and f.default is None:
                continue
            if kind is not None and (not isinstance(value, kind) or
                                     (isinstance(value, bool) and bool not in kind)):
                raise UserError(f"config {f.name}={value!r}: expected "
                                f"{' or '.join(k.__name__ for k in kind)}")
        if self.task not in TASKS:
            raise UserError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        if self.cell not in CELLS:
            raise UserError(f"unknown cell {self.cell!r}; choose from {', '.join(CELLS)}")
        if self.dtype not in DTYPES:
            raise UserError(f"unknown dtype {self.dtype!r}; choose float32 or float64")
        if self.optimizer not in ("adam", "sgd"):
            raise UserError(f"unknown optimizer {self.optimizer!r}; choose adam or sgd")
        for name in ("hidden", "layers", "batch", "val_every", "val_size"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, "
                                f"got {getattr(self, name)}")
        if self.steps < 0:
            raise UserError(f"--steps must not be negative, got {self.steps}")
        if self.task in ("adding",) and self.seq_len < 2:
            raise UserError(f"--seq-len must be at least 2 for the adding problem, "
                            f"got {self.seq_len}")
        if self.task in ("copy", "text") and self.seq_len < 1:
            raise UserError(f"--seq-len must be at least 1, got {self.seq_len}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise UserError(f"--lr must be a positive number, got {self.lr}")
        if not (self.clip >= 0 and math.isfinite(self.clip)):
            raise UserError(f"--clip must be >= 0 (0 turns clipping off), got {self.clip}")
        if self.task == "text" and not self.text:
            raise UserError("--task text needs --text FILE (a UTF-8 text file)")
        if self.task != "text" and self.text:
            raise UserError(f"--text is only used with --task text (got --task {self.task})")

    def to_dict(self) -> dict:
        """The config as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build from a dict (e.g. a checkpoint's JSON); unknown keys raise UserError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise UserError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**d)


class Problem:
    """A task as the Trainer sees it: batches, a loss, and validation metrics."""

    stateful = False  # carry the final state into the next batch (truncated BPTT)
    tokens_per_batch = 0

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
        x, y, mask, key = self.val
        with no_grad():
            logits, _ = model(x)
            loss = sequence_cross_entropy(logits, y, mask).item()
        cols = np.arange(x.shape[1])
        hits = logits.data[key, cols].argmax(-1) == y[key, cols]
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


def make_model(config: TrainConfig, vocab_size: int | None = None, rng=None):
    """The model for `config`'s task (`vocab_size` is needed for text only)."""
    common = dict(dtype=DTYPES[config.dtype], fused=config.fused,
                  forget_bias=config.forget_bias,
                  rng=np.random.default_rng([config.seed, 0]) if rng is None else rng)
    if config.task == "adding":
        return RegressionModel(2, config.hidden, config.cell, 1, config.layers, **common)
    size = {"copy": tasks.COPY_VOCAB, "reber": len(tasks.REBER_SYMBOLS)}.get(config.task,
                                                                            vocab_size)
    return CharModel(size, config.hidden, config.cell, config.layers, config.embedding,
                     **common)


def build(config: TrainConfig, vocab: Vocab | None = None):
    """The model, the problem and the vocabulary (text only) that `config` describes.

    For text, the corpus is read from `config.text`; with `vocab` given (resuming), the
    text must fit that vocabulary.
    """
    if config.task == "adding":
        problem = AddingProblem(config.seq_len, config.batch, DTYPES[config.dtype],
                                config.val_size, config.seed)
    elif config.task == "copy":
        problem = CopyProblem(config.seq_len, config.batch, config.val_size, config.seed)
    elif config.task == "reber":
        problem = ReberProblem(config.batch, config.val_size, config.seed)
    else:
        corpus = Corpus.from_file(config.text, config.val_fraction, vocab)
        vocab = corpus.vocab
        problem = TextProblem(corpus, config.seq_len, config.batch, source=config.text)
    return make_model(config, len(vocab) if vocab else None), problem, vocab


def model_from_checkpoint(ckpt: Checkpoint):
    """(model, config, vocab) with the checkpoint's parameters, without reading any data."""
    try:
        config = TrainConfig.from_dict(ckpt.config)
    except (UserError, TypeError) as exc:
        raise CheckpointError(f"{ckpt.path}: invalid config ({exc})") from None
    vocab = Vocab(ckpt.vocab) if ckpt.vocab else None
    if config.task == "text" and vocab is None:
        raise CheckpointError(f"{ckpt.path}: a text model's checkpoint needs a vocabulary")
    model = make_model(config, len(vocab) if vocab else None, rng=0)
    check_arrays(ckpt.path, "parameter", ckpt.params, model.state_dict())
    model.load_state_dict(ckpt.params)
    return model, config, vocab


# ------------------------------------------------------------------------------------------
# The Trainer
# ------------------------------------------------------------------------------------------


def make_optimizer(name, params, lr, momentum=0.0):
    """Adam (default) or SGD (with optional momentum)."""
    if name == "adam":
        return optim.Adam(params, lr=lr)
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum)
    raise UserError(f"unknown optimizer {name!r}; choose adam or sgd")


def _use_progress(progress) -> bool:
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


class Trainer:
    """Trains `model` on `problem` step by step; see `fit`.

    `history` holds per-step 'loss' and 'grad_norm' (the norm before clipping), and per
    validation 'val_step', 'val_loss' and 'val_<metric>'. `log` (a callable taking a line)
    receives the start line and the validation results.
    """

    def __init__(self, model, problem: Problem, *, optimizer="adam", lr=1e-3, momentum=0.0,
                 clip=1.0, seed=0, val_every=100, checkpoint=None, save_every=0,
                 config: TrainConfig | None = None, vocab: Vocab | None = None,
                 progress=None, log=None):
        self.model, self.problem = model, problem
        self.params = model.parameters()
        self.optimizer = make_optimizer(optimizer, self.params, lr, momentum)
        self.clip = clip
        self.rng = np.random.default_rng([seed, 1])  # data order; saved in checkpoints
        self.val_every, self.save_every = val_every, save_every
        self.checkpoint_path = checkpoint
        self.config, self.vocab = config, vocab
        self.progress = progress
        self.log = log or (lambda line: None)
        self.step = 0
        self.carry = None  # final state of the previous batch (stateful problems)
        self.history = {"loss": [], "grad_norm": [], "val_step": [], "val_loss": []}

    @classmethod
    def from_config(cls, config: TrainConfig, **kwargs) -> "Trainer":
        """A fresh Trainer (model, problem, optimizer) for `config`."""
        model, problem, vocab = build(config)
        return cls(model, problem, optimizer=config.optimizer, lr=config.lr,
                   momentum=config.momentum, clip=config.clip, seed=config.seed,
                   val_every=config.val_every, config=config, vocab=vocab, **kwargs)

    @classmethod
    def resume(cls, path, steps: int | None = None, **kwargs) -> "Trainer":
        """A Trainer restored from the checkpoint at `path` (the config is the saved one)."""
        ckpt = load_checkpoint(path)
        try:
            config = TrainConfig.from_dict(ckpt.config)
        except (UserError, TypeError) as exc:
            raise CheckpointError(f"{path}: invalid config ({exc})") from None
        if steps is not None:
            config.steps = steps
        vocab = Vocab(ckpt.vocab) if ckpt.vocab else None
        try:
            model, problem, vocab = build(config, vocab)
        except DataError as exc:
            raise UserError(f"cannot resume from {path}: {exc}") from None
        trainer = cls(model, problem, optimizer=config.optimizer, lr=config.lr,
                      momentum=config.momentum, clip=config.clip, seed=config.seed,
                      val_every=config.val_every, config=config, vocab=vocab,
                      checkpoint=path, **kwargs)
        trainer.restore(ckpt)
        return trainer

    # -- one step -----------------------------------------------------------------------
    def train_step(self) -> tuple[float, float]:
        """One optimizer step; returns (loss, gradient norm before clipping)."""
        problem = self.problem
        if problem.stateful and problem.starts_epoch(self.step):
            self.carry = None
        batch = problem.batch(self.step, self.rng)
        self.model.zero_grad()
        loss, state = problem.loss(self.model, batch, self.carry)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingError(f"the loss became {value} at step {self.step + 1}; "
                                f"try a lower --lr or a smaller --clip")
        loss.backward()
        if self.clip > 0:
            norm = optim.clip_grad_norm(self.params, self.clip)
        else:
            norm = total_norm([p.grad for p in self.params if p.grad is not None])
        if not math.isfinite(norm):
            raise TrainingError(f"the gradient norm became {norm} at step {self.step + 1}; "
                                f"try a lower --lr or a smaller --clip")
        self.optimizer.step()
        if problem.stateful:
            self.carry = detach_state(state)
        self.step += 1
        self.history["loss"].append(value)
        self.history["grad_norm"].append(norm)
        return value, norm

    def validate(self) -> dict[str, float]:
        """Run the problem's validation and record it in the history."""
        metrics = self.problem.evaluate(self.model)
        if metrics:
            self.history["val_step"].append(self.step)
            for name, value in metrics.items():
                self.history.setdefault(f"val_{name}", []).append(value)
        return metrics

    # -- the loop -----------------------------------------------------------------------
    def fit(self, steps: int | None = None) -> dict:
        """Train until `self.step == steps` (the config's steps by default); the history.

        Ctrl-C finishes the current step, saves a checkpoint (when a path is set) and raises
        `TrainingInterrupted`; a second Ctrl-C aborts at once without saving.
        """
        if steps is None:
            steps = self.config.steps if self.config else self.step
        flag = {"stop": False}

        def on_sigint(signum, frame):
            if flag["stop"]:
                raise KeyboardInterrupt
            flag["stop"] = True

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, on_sigint) if main else None
        try:
            self.log(f"training {self._describe()} from step {self.step} to {steps}")
            self._loop(steps, flag)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        if flag["stop"]:
            path = self.save() if self.checkpoint_path else None
            raise TrainingInterrupted(self.step, path)
        if self.checkpoint_path:
            self.save()
        return self.history

    def _describe(self) -> str:
        c = self.config
        if c is None:
            return type(self.model).__name__
        return f"{c.cell} (hidden {c.hidden}) on {c.task}"

    def _loop(self, steps, flag):
        from tqdm.auto import tqdm

        # The run's last step is always validated; an intermediate target (fit(k) of a
        # longer run) is not, so a run split in parts records what an unsplit one does.
        final = self.config.steps if self.config else steps
        bar = tqdm(total=steps, initial=self.step, disable=not _use_progress(self.progress),
                   file=sys.stderr, dynamic_ncols=True, unit="step", leave=True)
        tokens, t0 = 0, time.perf_counter()
        try:
            while self.step < steps and not flag["stop"]:
                loss, norm = self.train_step()
                tokens += self.problem.tokens_per_batch
                bar.update(1)
                elapsed = time.perf_counter() - t0
                if not bar.disable and elapsed > 0:
                    bar.set_postfix({"loss": f"{loss:.4f}", "grad norm": f"{norm:.2g}",
                                     "tokens/s": f"{tokens / elapsed:,.0f}"}, refresh=False)
                if self.step % self.val_every == 0 or self.step == final:
                    metrics = self.validate()
                    shown = "  ".join(f"val_{k} {v:.4f}" for k, v in metrics.items())
                    self.log(f"step {self.step:>6}  loss {loss:.4f}  {shown}")
                if (self.save_every and self.checkpoint_path
                        and self.step % self.save_every == 0 and self.step < steps):
                    self.save()
        finally:
            bar.close()

    # -- checkpoints --------------------------------------------------------------------
    def to_checkpoint(self) -> Checkpoint:
        """The full training state as a `Checkpoint`."""
        history = {}
        for name, values in self.history.items():
            dtype = np.int64 if name == "val_step" else np.float64
            history[name] = np.asarray(values, dtype=dtype)
        return Checkpoint(
            config=self.config.to_dict() if self.config else {},
            params=self.model.state_dict(),
            step=self.step,
            optim=self.optimizer.state_dict(),
            rng_state=self.rng.bit_generator.state,
            history=history,
            vocab=self.vocab.chars if self.vocab else None,
            carry=_state_arrays(self.carry),
        )

    def save(self, path=None) -> str:
        """Write a checkpoint (atomically) to `path` or the Trainer's checkpoint path."""
        path = path or self.checkpoint_path
        if not path:
            raise ValueError("Trainer.save: no checkpoint path")
        return save_checkpoint(path, self.to_checkpoint())

    def restore(self, ckpt: Checkpoint) -> None:
        """Load parameters, optimizer state, step, RNG state, history and carried state."""
        path = ckpt.path
        check_arrays(path, "parameter", ckpt.params, self.model.state_dict())
        check_arrays(path, "optimizer state", ckpt.optim, self.optimizer.state_dict())
        if self.vocab is not None and ckpt.vocab != self.vocab.chars:
            raise CheckpointError(f"{path}: the text's vocabulary differs from the checkpoint's")
        for name in ("loss", "grad_norm"):
            if len(ckpt.history.get(name, ())) != ckpt.step:
                raise CheckpointError(f"{path}: history/{name} should have {ckpt.step} "
                                      f"entries")
        if ckpt.rng_state is None:
            raise CheckpointError(f"{path}: the checkpoint holds no RNG state")
        expected_carry = self._carry_shapes() if ckpt.carry else []
        if [a.shape for a in ckpt.carry] != expected_carry:
            raise CheckpointError(f"{path}: carried state has shapes "
                                  f"{[a.shape for a in ckpt.carry]}, expected {expected_carry}")
        self.model.load_state_dict(ckpt.params)
        self.optimizer.load_state_dict(ckpt.optim)
        self.rng.bit_generator.state = ckpt.rng_state
        self.step = ckpt.step
        self.history = {name: a.tolist() for name, a in ckpt.history.items()}
        for name in ("loss", "grad_norm", "val_step", "val_loss"):
            self.history.setdefault(name, [])
        dtype = self.model.dtype
        self.carry = _state_from_arrays([a.astype(dtype) for a in ckpt.carry])

    def _carry_shapes(self):
        c = self.config
        shape = (c.layers, c.batch, c.hidden)
        return [shape, shape] if c.cell in ("lstm", "peephole") else [shape]


def train(config: TrainConfig, *, checkpoint=None, resume=False, progress=None, log=None,
          save_every=0) -> Trainer:
    """Train per `config` (resuming from `checkpoint` when `resume`); the finished Trainer."""
    if resume:
        trainer = Trainer.resume(checkpoint, steps=config.steps, progress=progress, log=log,
                                 save_every=save_every)
    else:
        trainer = Trainer.from_config(config, checkpoint=checkpoint, progress=progress,
                                      log=log, save_every=save_every)
    trainer.fit()
    return trainer


# ------------------------------------------------------------------------------------------
# Sampling
# ------------------------------------------------------------------------------------------


def sample(model: CharModel, vocab: Vocab, prime: str, length: int,
           temperature: float = 1.0, rng=None) -> str:
    """`length` characters generated after `prime` (temperature scales the logits)."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise UserError(f"--temperature must be a positive number, got {temperature}")
    if length < 0:
        raise UserError(f"--length must not be negative, got {length}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if not prime:
        raise UserError("--prime must hold at least one character")
    ids = vocab.encode(prime, what="--prime")
    out = []
    with no_grad():
        logits, state = model(ids[:, None])
        for _ in range(length):
            z = logits.data[-1, 0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            p /= p.sum()
            k = min(int(np.searchsorted(np.cumsum(p), rng.random() * 1.0, side="right")),
                    len(p) - 1)
            out.append(k)
            logits, state = model(np.array([[k]]), state)
    return prime + vocab.decode(out)
