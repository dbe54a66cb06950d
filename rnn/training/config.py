"""The run's configuration (`TrainConfig`): every choice that defines a training run, validated,
stored as JSON in each checkpoint."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

import numpy as np

from rnn import tasks
from rnn.cells import cell_class, cell_names, check_init
from rnn.checkpoint import Checkpoint, CheckpointError, check_kind
from rnn.errors import InitError, UserError

TASKS = ("adding", "copy", "reber", "text")
DTYPES = {"float32": np.float32, "float64": np.float64}

_FIELD_TYPES = {"task": (str,), "cell": (str,), "hidden": (int,), "layers": (int,),
                "seq_len": (int,), "batch": (int,), "steps": (int,), "lr": (float, int),
                "optimizer": (str,), "momentum": (float, int), "clip": (float, int),
                "seed": (int,), "dtype": (str,), "val_every": (int,), "val_size": (int,),
                "text": (str,), "text_sha256": (str,), "val_fraction": (float, int),
                "embedding": (int,), "forget_bias": (float, int), "fused": (bool,),
                "compile": (bool,), "init": (str,), "t_max": (int, float)}

# Sequence length per task when --seq-len is not given (for copy it is the delay).
DEFAULT_SEQ_LEN = {"adding": 50, "copy": 20, "reber": 0, "text": 64}
MAX_LAYERS = 100  # a deeper stack takes minutes per step; the memory limit bounds the rest
MAX_SEED = 2**63 - 1


def task_length(task: str, seq_len: int) -> int | None:
    """The length of the sequences a task's model reads, chrono's default T_max: adding
    --seq-len, copy its delay plus data and recall, text --seq-len (the truncated BPTT
    window); None for reber, whose strings each have their own length."""
    if task == "copy":
        return tasks.copy_memory_length(seq_len)
    return None if task == "reber" else seq_len


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
    text: str | None = None  # the text's file name (a path when given by the caller)
    text_sha256: str | None = None  # the text's content, so a resumed run reads the same
    val_fraction: float = 0.1
    embedding: int = 0
    forget_bias: float = 1.0
    fused: bool = True
    # Run the training step as a compiled program (autograd_lite.compile): None chooses, and
    # the Trainer stores what it chose (on for the readable graph when batches keep their
    # shapes; the fused kernel is fast already).
    compile: bool | None = None
    # The initialisation (rnn.cells.init_names()); None: the cell's default, stored resolved,
    # so a checkpoint names it (one written before inits existed reads as the default,
    # "uniform"). t_max is chrono's longest expected dependency; None: the task's length.
    init: str | None = None
    t_max: int | float | None = None

    def __post_init__(self):
        if self.seq_len is None:
            self.seq_len = DEFAULT_SEQ_LEN.get(self.task, 50)
        self.validate()
        self._resolve_init()

    def _resolve_init(self) -> None:
        """Fill in the cell's default init and chrono's T_max (the task's length); InitError
        (a usage error) for an init that does not fit the cell."""
        if self.init is None:
            self.init = cell_class(self.cell).DEFAULT_INIT
        if self.init == "chrono" and self.t_max is None:
            self.t_max = task_length(self.task, self.seq_len)
            if self.t_max is None:
                raise InitError(f"init chrono on --task {self.task} needs --init-tmax N (the "
                                f"longest dependency expected): its sequences have no fixed "
                                f"length")
        check_init(self.cell, self.init, self.t_max)

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
        if self.cell not in cell_names():
            raise UserError(f"unknown cell {self.cell!r}; choose from {', '.join(cell_names())}")
        if self.dtype not in DTYPES:
            raise UserError(f"unknown dtype {self.dtype!r}; choose float32 or float64")
        if self.optimizer not in ("adam", "sgd"):
            raise UserError(f"unknown optimizer {self.optimizer!r}; choose adam or sgd")
        for name in ("hidden", "layers", "batch", "val_every", "val_size"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, "
                                f"got {getattr(self, name)}")
        if self.layers > MAX_LAYERS:
            raise UserError(f"--layers must be at most {MAX_LAYERS}, got {self.layers}")
        if not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"--seed must be a whole number from 0 to 2**63 - 1, "
                            f"got {self.seed}")
        if self.embedding < 0:
            raise UserError(f"--embedding must not be negative, got {self.embedding}")
        if self.embedding and self.task == "adding":
            raise UserError("--embedding is for tasks with tokens (copy, reber, text); the "
                            "adding problem's inputs are numbers")
        if not 0 <= self.momentum < 1:
            raise UserError(f"--momentum must be from 0 up to 1 (not 1), got {self.momentum}")
        if self.momentum and self.optimizer != "sgd":
            raise UserError(f"--momentum is for --optimizer sgd; {self.optimizer} keeps its "
                            f"own moments")
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

    def init_words(self) -> str:
        """", init chrono T_max 50" for a run's log line; "" for the cell's default init."""
        if self.init == cell_class(self.cell).DEFAULT_INIT:
            return ""
        return f", init {self.init}" + (f" T_max {self.t_max:g}" if self.init == "chrono" else "")

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

    @classmethod
    def from_checkpoint(cls, ckpt: Checkpoint) -> "TrainConfig":
        """The config a checkpoint holds; CheckpointError if it is not a valid one."""
        check_kind(ckpt, "train", "rnn-lab inspect opens it")
        saved = dict(ckpt.config)
        # Checkpoints written before rnn-lab kept a text's name and hash held its absolute
        # path, and could hold options that had no effect (momentum with Adam, an embedding
        # for the adding problem): read them as what they did.
        if isinstance(saved.get("text"), str):
            saved["text"] = os.path.basename(saved["text"]) or saved["text"]
        if saved.get("optimizer", "adam") != "sgd" and saved.get("momentum"):
            saved["momentum"] = 0.0
        if saved.get("task", "adding") == "adding" and saved.get("embedding"):
            saved["embedding"] = 0
        try:
            return cls.from_dict(saved)
        except (UserError, TypeError) as exc:
            raise CheckpointError(f"{ckpt.path}: invalid config ({exc})") from None
