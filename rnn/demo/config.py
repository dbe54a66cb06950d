"""The demo's sizes and budgets (`DemoConfig`, full or quick) and the text its character model
learns from."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rnn.data import read_text
from rnn.errors import UserError
from rnn.experiment import LongTermConfig
from rnn.experiment_born_in import BornInConfig

try:
    from pydoc_data.topics import topics  # the language reference, in most Pythons
except ImportError:
    topics = None

DEFAULT_OUT = "rnn-lab-demo"
MIN_TEXT = 500  # characters: less than this is too little to train a character model on
DEFAULT_TEXT_NAME = "the Python language reference"  # pydoc_data.topics


@dataclass(frozen=True)
class DemoConfig:
    """Sizes and budgets of every part; `quick_config()` is the sub-30-second version."""

    seed: int = 0
    quick: bool = False
    # cross-check of the closed forms (sizes of the random problem)
    check: tuple = (4, 3, 2, 6)  # H, D, B, T
    # the adding problem, one run per (cell, lag), all with the same budget
    lags: tuple = (50, 100)
    adding_steps: int = 2000
    adding_hidden: int = 32
    workers: int = 2
    # "I was born in France ... I can speak French": one seed per cell, the same budget
    born_in_gaps: tuple = (2, 5, 10, 20, 30, 45, 60)
    born_in_steps: int = 2000
    born_in_hidden: int = 32
    # the gradient overlay: an RNN and an LSTM unrolled this many steps
    overlay_steps: int = 30
    # the character model
    char_hidden: int = 128
    char_seq: int = 64
    char_batch: int = 64
    char_steps: int = 1500
    char_lr: float = 5e-3
    char_val_every: int = 250
    val_fraction: float = 0.05
    sample_length: int = 400
    temperature: float = 0.8

    @classmethod
    def full(cls, seed: int = 0) -> DemoConfig:
        """The full demo: about two minutes on two cores."""
        return cls(seed=seed)

    @classmethod
    def quick_config(cls, seed: int = 0) -> DemoConfig:
        """Every part, with small models and short runs (well under 30 seconds)."""
        return cls(seed=seed, quick=True, check=(3, 2, 2, 3), lags=(10, 25), adding_steps=1000,
                   born_in_gaps=(2, 5, 10, 20), born_in_steps=250, born_in_hidden=16,
                   overlay_steps=12, char_hidden=64, char_seq=32, char_batch=32,
                   char_steps=300, char_lr=1e-2, char_val_every=100, sample_length=160)

    @property
    def grad_lag(self) -> int:
        """The lag at which gradient norms and the conveyor belt are measured."""
        return max(self.lags)

    def experiment(self):
        """The `rnn.experiment.LongTermConfig` for the adding-problem part."""
        if self.quick:
            cfg = LongTermConfig.quick(seed=self.seed, steps=self.adding_steps)
        else:
            cfg = LongTermConfig(lags=self.lags, grad_lag=self.grad_lag,
                                 steps=self.adding_steps, hidden=self.adding_hidden,
                                 seed=self.seed)
        cfg.workers = self.workers
        return cfg

    def born_in(self) -> BornInConfig:
        """The `BornInConfig` of the "born in" part (the experiment's defaults otherwise)."""
        return BornInConfig(gaps=self.born_in_gaps, steps=self.born_in_steps,
                            hidden=self.born_in_hidden, seeds=1, seed=self.seed,
                            test_size=200 if self.quick else 500, grad_batch=32,
                            workers=self.workers)


def default_text() -> str:
    """The Python language reference that ships with every Python (pydoc_data.topics)."""
    if topics is None:
        raise UserError("this Python has no pydoc_data (the language reference); "
                        "give a UTF-8 text file with --text FILE")
    return "".join(topics.values())


def load_text(path=None) -> tuple[str, str]:
    """(text, name): `path` read as UTF-8 (with clear errors), or the default text."""
    if path is None:
        text, name = default_text(), DEFAULT_TEXT_NAME
    else:
        text, name = read_text(path), os.fspath(path)
    if len(text) < MIN_TEXT:
        raise UserError(f"{name}: {len(text)} characters is too little text to train a "
                        f"character model on; give at least {MIN_TEXT}")
    return text, name
