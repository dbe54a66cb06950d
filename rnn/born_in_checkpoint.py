"""A model the born-in experiment trained, as a checkpoint in rnn.checkpoint's format (kind
"born-in"): its parameters and loss trace, the task's vocabulary (words or characters), the
country -> language table (the languages are the model's output classes), its cell and seed,
and the experiment's config. `rnn-lab inspect` opens it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from rnn import tasks_born_in as bi
from rnn.cells import cell_names
from rnn.checkpoint import (
    Checkpoint,
    CheckpointError,
    check_arrays,
    check_finite,
    check_kind,
    save_checkpoint,
)
from rnn.data import DataError, Vocab, WordVocab
from rnn.experiment_born_in import BornInConfig, BornInModel, BornInResult
from rnn.resources import check_memory
from rnn.training.budget import parameter_count

KIND = "born-in"
_KEYS = {"cell", "seed", "pairs", "experiment"}
_HISTORY = ("loss", "val_step", "val_loss", "val_accuracy")


@dataclass
class BornInRun:
    """A trained born-in model and what it was trained on: `model` reads token ids (T, B) and
    gives logits over `languages`."""

    model: BornInModel
    cfg: BornInConfig
    cell: str
    seed: int
    vocab: Vocab | WordVocab
    pairs: list[tuple[str, str]]
    step: int
    path: str | None = None

    @property
    def countries(self) -> list[str]:
        return [c for c, _ in self.pairs]

    @property
    def languages(self) -> list[str]:
        """The model's output classes, in the order of its logits."""
        return [lang for _, lang in self.pairs]

    @property
    def level(self) -> str:
        return self.cfg.level


def to_checkpoint(result: BornInResult, cfg: BornInConfig) -> Checkpoint:
    """The checkpoint of one trained run of the experiment."""
    if result.params is None:
        raise ValueError(f"born-in: the {result.cell} run of seed {result.seed} kept no "
                         f"parameters")
    config = {"cell": result.cell, "seed": result.seed,
              "pairs": [list(p) for p in bi.PAIRS[:cfg.countries]],
              "experiment": dataclasses.asdict(cfg)}
    history = {name: np.asarray(getattr(result, name), dtype=np.float64) for name in _HISTORY}
    return Checkpoint(config=config, params=dict(result.params), step=cfg.steps,
                      history=history, vocab=list(bi.vocabulary(cfg.level)), kind=KIND)


def save_born_in(path, result: BornInResult, cfg: BornInConfig) -> str:
    """Write the run's checkpoint to `path` atomically (rnn.checkpoint's rule)."""
    return save_checkpoint(path, to_checkpoint(result, cfg))


def _experiment(saved, path) -> BornInConfig:
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: the experiment's config must be a JSON object")
    names = {f.name for f in dataclasses.fields(BornInConfig)}
    unknown = sorted(set(saved) - names)
    if unknown:
        raise CheckpointError(f"{path}: unknown experiment config keys: {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()}
    try:
        cfg = BornInConfig(**values).validate()
        for name in ("hidden", "embedding", "countries"):
            if isinstance(getattr(cfg, name), bool) or not isinstance(getattr(cfg, name), int):
                raise TypeError(f"{name} must be a whole number")
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid experiment config ({exc})") from None
    return cfg


def _pairs(saved, cfg: BornInConfig, path) -> list[tuple[str, str]]:
    if not (isinstance(saved, list) and len(saved) == cfg.countries
            and all(isinstance(p, list) and len(p) == 2 and all(isinstance(w, str) and w
                                                                 for w in p) for p in saved)):
        raise CheckpointError(f"{path}: 'pairs' must list {cfg.countries} [country, language] "
                              f"pairs of words")
    return [(c, lang) for c, lang in saved]


def _vocab(tokens, level: str, path) -> Vocab | WordVocab:
    if tokens is None:
        raise CheckpointError(f"{path}: a born-in model's checkpoint needs its vocabulary")
    try:
        return WordVocab(tokens) if level == "word" else Vocab(tokens)
    except DataError as exc:
        raise CheckpointError(f"{path}: invalid {level}-level vocabulary ({exc})") from None


def from_checkpoint(ckpt: Checkpoint) -> BornInRun:
    """The model a born-in checkpoint holds, every part checked; CheckpointError naming the
    path for any defect (and ResourceError for a model too large to build)."""
    path = ckpt.path
    check_kind(ckpt, KIND, "rnn-lab inspect --text FILE reads it")
    config = ckpt.config
    if set(config) != _KEYS:
        raise CheckpointError(f"{path}: a born-in config holds {', '.join(sorted(_KEYS))}; "
                              f"got {', '.join(sorted(config)) or 'nothing'}")
    cfg = _experiment(config["experiment"], path)
    cell, seed = config["cell"], config["seed"]
    if cell not in cell_names():
        raise CheckpointError(f"{path}: unknown cell {cell!r}; this rnn-lab has "
                              f"{', '.join(cell_names())}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise CheckpointError(f"{path}: invalid seed {seed!r}")
    pairs = _pairs(config["pairs"], cfg, path)
    vocab = _vocab(ckpt.vocab, cfg.level, path)
    count, _ = parameter_count(cell, cfg.embedding, cfg.hidden)
    count += len(vocab) * cfg.embedding + (cfg.hidden + 1) * cfg.countries
    check_memory(3 * 8 * count, f"the {cell} model in {path} (hidden {cfg.hidden})")
    check_finite(path, ckpt.params)
    # built for the checkpoint's own vocabulary, which the ids of the text come from
    model = BornInModel(len(vocab), cfg.countries, cfg.hidden, cell, cfg.embedding, rng=0)
    check_arrays(path, "parameter", ckpt.params, model.state_dict())
    model.load_state_dict(ckpt.params)
    return BornInRun(model, cfg, cell, seed, vocab, pairs, ckpt.step, path)
