"""The training loop on PyTorch, one process or one rank of several (DistributedDataParallel).

The run's record is an engine `Trainer` (`rnn.training`): it holds the config, the problem,
the data generator, the step and the history, and writes the checkpoints, so a checkpoint
from either engine is the same file. The torch model and optimizer do the steps; at each
save their arrays are converted to the engine's names and layout and handed to the record.
Ranks stop together: a signal on any rank is agreed on in the step's one all-reduce.
"""

from __future__ import annotations

import math
import os
import signal

import numpy as np

from rnn.interrupts import deferred_stop
from rnn.torch_engine import require_torch
from rnn.torch_engine.backend import torch_dtype
from rnn.torch_engine.models import (
    engine_arrays,
    engine_names,
    from_engine,
    hold_second_biases,
    torch_names,
)
from rnn.torch_engine.tasks import shard_of, torch_task
from rnn.training.trainer import (
    Trainer,
    TrainingError,
    TrainingInterrupted,
    record_metrics,
    run_steps,
)

torch = require_torch("--engine torch")
dist = torch.distributed

# Optimizer state: the engine's slot name -> torch's (per parameter).
_SLOTS = {"adam": (("m", "exp_avg"), ("v", "exp_avg_sq")),
          "sgd": (("velocity", "momentum_buffer"),)}


class TorchTrainer:
    """Trains the torch twin of `record.model` on `record.problem`; see `fit`.

    `record` is an engine Trainer (fresh or resumed); `device` a torch device; `rank` and
    `world` place this process in an initialised process group (world 1: no group).
    """

    def __init__(self, record: Trainer, device="cpu", rank: int = 0, world: int = 1,
                 progress=None, log=None, parent_pid: int | None = None):
        self.record, self.config = record, record.config
        self.device = torch.device(device)
        self.rank, self.world = rank, world
        self.progress = progress if rank == 0 else False
        self.log = (log or (lambda line: None)) if rank == 0 else (lambda line: None)
        self.parent_pid = parent_pid  # stop (and save) if this process is orphaned
        self.model = from_engine(record.model).to(self.device)
        self.net = self.model
        if world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.params = list(self.model.parameters())
        self.held = hold_second_biases(self.model)
        self.optimizer = _make_optimizer(self.config, self.params)
        self.slots = () if self.config.optimizer == "sgd" and not self.config.momentum else \
            _SLOTS[self.config.optimizer]
        self._load_optimizer(record.optimizer.state_dict())
        dtype = torch_dtype(torch, record.model.dtype)
        self.task = torch_task(record.problem, self.device, dtype, rank, world)
        self.carry = self._carry_from(record.carry)
        self.flag = {"signum": None}  # a stop signal that reached this process
        self.stopping = None  # the stop signal every rank agreed on after this step

    # -- the record's state -------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.record.step

    @property
    def history(self) -> dict:
        return self.record.history

    @property
    def checkpoint_path(self):
        return self.record.checkpoint_path

    # -- one step -----------------------------------------------------------------------
    def train_step(self) -> tuple[float, float]:
        """One optimizer step on the global batch; returns (loss, gradient norm before
        clipping), the same on every rank."""
        r, problem = self.record, self.record.problem
        if problem.stateful and problem.starts_epoch(r.step):
            self.carry = None
        batch = problem.batch(r.step, r.rng)  # the global batch, the same on every rank
        self.optimizer.zero_grad(set_to_none=True)
        total, count, state = self.task.loss(self.net, batch, self.carry)
        # DDP averages gradients over ranks: scaled so, the sum is the global mean's.
        (total * (self.world / count)).backward()
        # One all-reduce: the loss, and how many ranks saw SIGINT and SIGTERM.
        wants = self._wants_stop()
        stats = torch.tensor([float(total.detach()), wants == signal.SIGINT,
                              wants == signal.SIGTERM], dtype=torch.float64, device=self.device)
        if self.world > 1:
            dist.all_reduce(stats)
        value = float(stats[0]) / count
        self.stopping = signal.SIGTERM if stats[2] > 0 else signal.SIGINT if stats[1] > 0 \
            else None
        if not math.isfinite(value):
            raise TrainingError(f"the loss became {value} at step {r.step + 1}; "
                                f"try a lower --lr or a smaller --clip")
        for p, mask in self.held:
            p.grad.mul_(mask)
        clip = self.config.clip if self.config.clip > 0 else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.params, clip))
        if not math.isfinite(norm):
            raise TrainingError(f"the gradient norm became {norm} at step {r.step + 1}; "
                                f"try a lower --lr or a smaller --clip")
        self.optimizer.step()
        self.opt_steps += 1
        if problem.stateful:
            self.carry = _detach(state)
        r.step += 1
        r.history["loss"].append(value)
        r.history["grad_norm"].append(norm)
        return value, norm

    def _wants_stop(self) -> int | None:
        """The stop signal this process got (SIGTERM if its supervisor has gone), or None."""
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            return signal.SIGTERM
        return self.flag["signum"]

    def validate(self) -> dict[str, float]:
        """Validation metrics (rank 0 only; others return {}), recorded in the history."""
        if self.rank != 0:
            return {}
        return record_metrics(self.history, self.step, self.task.evaluate(self.model))

    # -- the loop -----------------------------------------------------------------------
    def fit(self, steps: int | None = None) -> dict:
        """Train until step `steps` (the config's by default); the history.

        SIGINT or SIGTERM finishes the step (every rank the same one), saves a checkpoint
        and raises TrainingInterrupted; a second signal aborts at once without saving.
        """
        steps = self.config.steps if steps is None else steps
        with deferred_stop() as self.flag:
            self.log(f"training {self._describe()} from step {self.step} to {steps}")
            self._loop(steps)
        if self.stopping is not None:
            path = self.save() if self.checkpoint_path else None
            raise TrainingInterrupted(self.step, path, self.stopping)
        if self.checkpoint_path:
            self.save()
        return self.history

    def _describe(self) -> str:
        c = self.config
        where = f"PyTorch on {self.device.type}"
        if self.world > 1:
            where += f", {self.world} processes of {_shard_size(c.batch, self.world)}"
        return f"{c.cell} (hidden {c.hidden}, {where}{c.init_words()}) on {c.task}"

    def _loop(self, steps):
        record = self.record
        run_steps(self, steps, final=self.config.steps,
                  tokens_per_batch=record.problem.tokens_per_batch,
                  val_every=record.val_every, save_every=record.save_every,
                  stopped=lambda: self.stopping is not None)

    # -- checkpoints (the engine's format, through the record) ---------------------------
    def save(self) -> str | None:
        """Hand the torch state to the record and write its checkpoint (rank 0; every rank
        must call it, as the carried state is gathered from all of them)."""
        carry = self._global_carry()
        if self.rank != 0:
            return None
        r = self.record
        r.model.load_state_dict(engine_arrays(self.model))
        r.optimizer.load_state_dict(self._optimizer_state())
        r.carry = carry
        return r.save()

    def _optimizer_state(self) -> dict[str, np.ndarray]:
        names = list(self.record.model.state_dict())
        out = {"steps": np.array(self.opt_steps)}
        for ours, theirs in self.slots:
            arrays = {}
            for name, p in self.model.named_parameters():
                value = self.optimizer.state.get(p, {}).get(theirs)
                arrays[name] = (np.zeros_like(p.detach().cpu().numpy()) if value is None
                                else value.detach().cpu().numpy())
            ours_named = engine_names(self.model, arrays)
            out.update({f"{ours}.{k}": ours_named[n] for k, n in enumerate(names)})
        return out

    def _load_optimizer(self, state: dict) -> None:
        self.opt_steps = int(state["steps"])
        if self.opt_steps == 0:
            return  # torch starts its moments at zero, as the engine does
        names = list(self.record.model.state_dict())
        params = dict(self.model.named_parameters())
        for ours, theirs in self.slots:
            arrays = torch_names(self.model, {n: state[f"{ours}.{k}"]
                                              for k, n in enumerate(names)})
            for name, a in arrays.items():
                slot = self.optimizer.state[params[name]]
                slot[theirs] = torch.from_numpy(np.array(a)).to(self.device)
                if self.config.optimizer == "adam":
                    slot["step"] = torch.tensor(float(self.opt_steps), dtype=torch.float32)

    def _carry_from(self, carry):
        """The record's carried state (global, engine Tensors) as this rank's torch shard."""
        if carry is None:
            return None
        parts = carry if isinstance(carry, (tuple, list)) else (carry,)
        s = shard_of(self.config.batch, self.rank, self.world)
        torch_parts = tuple(torch.from_numpy(np.array(getattr(p, "data", p)))[:, s]
                            .to(self.device) for p in parts)
        return torch_parts[0] if len(torch_parts) == 1 else torch_parts

    def _global_carry(self):
        """The carried state of the whole batch as arrays (gathered from every rank)."""
        if self.carry is None:
            return None
        parts = [t.detach().cpu().numpy() for t in _as_tuple(self.carry)]
        if self.world > 1:
            gathered = [None] * self.world
            dist.all_gather_object(gathered, parts)
            parts = [np.concatenate([g[k] for g in gathered], axis=1)
                     for k in range(len(parts))]
        return parts


def _make_optimizer(config, params):
    # The engine's Adam defaults (betas 0.9, 0.999; eps 1e-8) are torch's.
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)


def _as_tuple(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def _detach(state):
    if state is None:
        return None
    parts = tuple(s.detach() for s in _as_tuple(state))
    return parts[0] if len(parts) == 1 else parts


def _shard_size(batch: int, world: int) -> str:
    sizes = {shard_of(batch, r, world).stop - shard_of(batch, r, world).start
             for r in range(world)}
    return "/".join(map(str, sorted(sizes, reverse=True))) + " sequences each"
