"""The Trainer: optimizer steps with clipping by global norm, validation every `val_every`
steps, a tqdm bar, a loss history, and checkpoints (atomic; also on Ctrl-C).

All randomness after initialisation comes from one saved `np.random.Generator`, so a resumed
run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from autograd_lite import optim
from autograd_lite.compile import compile as compile_step
from autograd_lite.errors import CompileError
from autograd_lite.tensor import Tensor, total_norm
from rnn.cells import cell_class
from rnn.checkpoint import (
    Checkpoint,
    CheckpointError,
    check_arrays,
    check_finite,
    load_checkpoint,
    save_checkpoint,
)
from rnn.data import DataError, Vocab
from rnn.errors import UserError
from rnn.interrupts import deferred_stop
from rnn.layers import detach_state
from rnn.training.config import TrainConfig
from rnn.training.problems import Problem, build


class TrainingError(UserError):
    """Training cannot go on (e.g. the gradient became NaN); one line for the CLI."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM: `signum`) during `Trainer.fit`; the state was saved to `path`
    (None if it was not)."""

    def __init__(self, step: int, path: str | None, signum: int = signal.SIGINT):
        super().__init__(f"interrupted at step {step}")
        self.step, self.path, self.signum = step, path, signum


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


def record_metrics(history: dict, step: int, metrics: dict) -> dict:
    """Append validation `metrics` at `step` to `history` (val_step, val_<name>); both
    engines' trainers record them this way. Returns `metrics`."""
    if metrics:
        history["val_step"].append(step)
        for name, value in metrics.items():
            history.setdefault(f"val_{name}", []).append(value)
    return metrics


def run_steps(trainer, steps, *, final, tokens_per_batch, val_every, save_every, stopped):
    """The training loop both engines share: `trainer.train_step()` until step `steps` or
    `stopped()`, a tqdm bar (loss, gradient norm, tokens/s), validation every `val_every`
    steps and at step `final`, and a checkpoint every `save_every` steps before the last.

    `trainer` has `step`, `progress`, `checkpoint_path`, `train_step()`, `validate()`,
    `log(line)` and `save()`: this module's Trainer and rnn.torch_engine's TorchTrainer.
    """
    bar = tqdm(total=steps, initial=trainer.step, disable=not _use_progress(trainer.progress),
               file=sys.stderr, dynamic_ncols=True, unit="step", leave=True)
    tokens, t0 = 0, time.perf_counter()
    try:
        while trainer.step < steps and not stopped():
            loss, norm = trainer.train_step()
            tokens += tokens_per_batch
            bar.update(1)
            elapsed = time.perf_counter() - t0
            if not bar.disable and elapsed > 0:
                bar.set_postfix({"loss": f"{loss:.4f}", "grad norm": f"{norm:.2g}",
                                 "tokens/s": f"{tokens / elapsed:,.0f}"}, refresh=False)
            if trainer.step % val_every == 0 or trainer.step == final:
                metrics = trainer.validate()
                shown = "  ".join(f"val_{k} {v:.4f}" for k, v in metrics.items())
                trainer.log(f"step {trainer.step:>6}  loss {loss:.4f}  {shown}")
            if (save_every and trainer.checkpoint_path
                    and trainer.step % save_every == 0 and trainer.step < steps):
                trainer.save()
    finally:
        bar.close()


class Trainer:
    """Trains `model` on `problem` step by step; see `fit`.

    `history` holds per-step 'loss' and 'grad_norm' (the norm before clipping), and per
    validation 'val_step', 'val_loss' and 'val_<metric>'. `log` (a callable taking a line)
    receives the start line and the validation results. `compile=True` runs each batch's
    loss and backward as a program compiled by `autograd_lite.compile` (the same training to
    1e-12 per step, faster on the readable graph); None (default) chooses it where it pays.
    """

    def __init__(self, model, problem: Problem, *, optimizer="adam", lr=1e-3, momentum=0.0,
                 clip=1.0, seed=0, val_every=100, checkpoint=None, save_every=0,
                 config: TrainConfig | None = None, vocab: Vocab | None = None,
                 progress=None, log=None, compile=None):
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
        # The loss of one batch, eager or as a compiled program (`compile`: None chooses: on
        # for the readable graph when batches keep their shapes). A config keeps the choice,
        # so that a resumed run makes the same one.
        self.compile = bool(compile) if compile is not None else self._compile_pays()
        self._chosen = compile is None
        if config is not None:
            config.compile = self.compile
        self._batch_loss = compile_step(self._eager_loss) if self.compile else self._eager_loss

    def _compile_pays(self) -> bool:
        layer = getattr(self.model, "layer", None)
        return layer is not None and not layer.runs_fused and self.problem.fixed_shapes

    def _eager_loss(self, batch, state):
        return self.problem.loss(self.model, batch, state)

    @classmethod
    def from_config(cls, config: TrainConfig, vocab: Vocab | None = None, text_path=None,
                    **kwargs) -> "Trainer":
        """A fresh Trainer (model, problem, optimizer) for `config`; `vocab` is the one the
        text must fit (when resuming); `text_path` the text file (default `config.text`).
        The Trainer keeps a copy of `config` (a text run's holds the text's name and hash)."""
        config = dataclasses.replace(config)
        model, problem, vocab = build(config, vocab, text_path)
        return cls(model, problem, optimizer=config.optimizer, lr=config.lr,
                   momentum=config.momentum, clip=config.clip, seed=config.seed,
                   val_every=config.val_every, config=config, vocab=vocab,
                   compile=kwargs.pop("compile", config.compile), **kwargs)

    @classmethod
    def resume(cls, path, steps: int | None = None, text_path=None, **kwargs) -> "Trainer":
        """A Trainer restored from the checkpoint at `path` (the config is the saved one).

        A text run reads its text from `text_path` only (a checkpoint keeps the file's name
        and hash, never a path to follow); the text must have the saved hash.
        """
        ckpt = load_checkpoint(path)
        config = TrainConfig.from_checkpoint(ckpt)
        if steps is not None:
            config.steps = steps
        if config.task == "text" and text_path is None:
            known = f", sha256 {config.text_sha256[:12]}..." if config.text_sha256 else ""
            raise UserError(f"resuming {path} needs its text: give --text FILE (the run was "
                            f"trained on {config.text}{known})")
        try:
            trainer = cls.from_config(config, Vocab(ckpt.vocab) if ckpt.vocab else None,
                                      text_path, checkpoint=path, **kwargs)
        except DataError as exc:
            raise UserError(f"cannot resume from {path}: {exc}") from None
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
        loss, state = self._loss(batch)
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

    def _loss(self, batch):
        try:
            return self._batch_loss(batch, self.carry)
        except CompileError as exc:
            if not self._chosen:
                raise UserError(f"--compile: {exc}") from None
            # Chosen, not asked for: this model's step cannot be compiled; run it eagerly.
            self.log(f"note: the step runs eagerly ({exc})")
            self.compile, self._batch_loss = False, self._eager_loss
            if self.config is not None:
                self.config.compile = False
            return self._batch_loss(batch, self.carry)

    def validate(self) -> dict[str, float]:
        """Run the problem's validation and record it in the history."""
        return record_metrics(self.history, self.step, self.problem.evaluate(self.model))

    # -- the loop -----------------------------------------------------------------------
    def fit(self, steps: int | None = None) -> dict:
        """Train until `self.step == steps` (the config's steps by default); the history.

        Ctrl-C or SIGTERM finishes the current step, saves a checkpoint (when a path is set)
        and raises `TrainingInterrupted`; a second one aborts at once without saving.
        """
        if steps is None:
            steps = self.config.steps if self.config else self.step
        with deferred_stop() as flag:
            self.log(f"training {self._describe()} from step {self.step} to {steps}")
            self._loop(steps, flag)
        if flag["signum"] is not None:
            path = self.save() if self.checkpoint_path else None
            raise TrainingInterrupted(self.step, path, flag["signum"])
        if self.checkpoint_path:
            self.save()
        return self.history

    def _describe(self) -> str:
        c = self.config
        if c is None:
            return type(self.model).__name__
        layer = getattr(self.model, "layer", None)
        path = "" if layer is None or layer.runs_fused else ", readable graph"
        path += ", compiled" if self.compile else ""
        return f"{c.cell} (hidden {c.hidden}{path}{c.init_words()}) on {c.task}"

    def _loop(self, steps, flag):
        # The run's last step is always validated; an intermediate target (fit(k) of a
        # longer run) is not, so a run split in parts records what an unsplit one does.
        run_steps(self, steps, final=self.config.steps if self.config else steps,
                  tokens_per_batch=self.problem.tokens_per_batch, val_every=self.val_every,
                  save_every=self.save_every, stopped=lambda: flag["signum"] is not None)

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
        check_finite(path, ckpt.params)
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
        return [shape] * len(cell_class(c.cell).STATE)  # one array per state of the cell


def train(config: TrainConfig, *, checkpoint=None, resume=False, progress=None, log=None,
          save_every=0) -> Trainer:
    """Train per `config` (resuming from `checkpoint` when `resume`); the finished Trainer."""
    if resume:
        text = config.text if config.task == "text" else None
        trainer = Trainer.resume(checkpoint, steps=config.steps, text_path=text,
                                 progress=progress, log=log, save_every=save_every)
    else:
        trainer = Trainer.from_config(config, checkpoint=checkpoint, progress=progress,
                                      log=log, save_every=save_every)
    trainer.fit()
    return trainer
