"""The "born in" experiment: "I was born in France . <filler> . I can speak" -> "French".

Every cell gets the same budget (hidden size, embedding, optimizer, learning rate, batches,
steps, and the very same sentences for a given seed). Each batch's gap is drawn log-uniformly
from 1 to the longest gap (short gaps common, long ones rare, as in text). After training,
each model is tested at every gap, and the readable graph gives ||dL/dh|| at the country word:
how much the answer can still teach the step that saw the country.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from autograd_lite import nn, ops
from autograd_lite.tensor import no_grad
from rnn import tasks_born_in as bi
from rnn.cells import cell_names, check_init
from rnn.layers import make_layer
from rnn.pool import run_jobs
from rnn.training import Problem, Trainer

# The registry lists the classic cells first: rnn, lstm, gru.
DEFAULT_CELLS = tuple(cell_names()[:3])


@dataclass
class BornInConfig:
    """The budget every cell shares, the gaps to test and the task's options."""

    cells: tuple = DEFAULT_CELLS
    gaps: tuple = (2, 5, 10, 15, 20, 30, 40, 50, 60)  # tested; training goes up to the last
    seeds: int = 3  # runs per cell, seeds seed, seed + 1, ...
    seed: int = 0
    steps: int = 2000
    hidden: int = 32
    embedding: int = 16
    batch: int = 32
    lr: float = 0.01
    clip: float = 1.0
    level: str = "word"
    countries: int = 10
    distractors: float = 0.0  # probability that a filler sentence names another country
    test_size: int = 500  # sentences per gap
    grad_batch: int = 64
    record_every: int = 250
    analysis_gap: int = 30  # the LSTM's country units and forget gate are shown at this gap
    workers: int = 2
    init: str | None = None  # every cell's initialisation (None: each cell's own default)
    t_max: int | None = None  # chrono's T_max (the longest dependency expected)

    @classmethod
    def quick(cls, **kw) -> BornInConfig:
        """A small version (the same gap range, fewer gaps, two seeds, 700 steps): under a
        minute."""
        base = {"gaps": (2, 5, 10, 20, 40, 60), "seeds": 2, "steps": 700, "test_size": 300,
                "grad_batch": 32}
        return cls(**{**base, **kw})

    @property
    def max_gap(self) -> int:
        return max(self.gaps)

    @property
    def shown_gap(self) -> int:
        """The gap at which the LSTM's units and gates are shown (at most the longest)."""
        return min(self.analysis_gap, self.max_gap)

    @property
    def seed_list(self) -> list[int]:
        return [self.seed + k for k in range(self.seeds)]

    def validate(self) -> BornInConfig:
        """Raise ValueError for a config the task cannot run (one line each)."""
        for gap in self.gaps:
            bi.check_gap(gap)
        bi.check_countries(self.countries)
        bi.check_level(self.level)
        if not self.gaps or not self.cells:
            raise ValueError("born-in: needs at least one gap and one cell")
        for name in ("seeds", "steps", "hidden", "embedding", "batch", "test_size",
                     "grad_batch", "record_every", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"born-in: {name} must be at least 1, got "
                                 f"{getattr(self, name)}")
        if not 0.0 <= self.distractors <= 1.0:
            raise ValueError(f"born-in: distractors is a probability, got {self.distractors}")
        for cell in self.cells:
            check_init(cell, self.init, self.t_max)  # InitError (a ValueError), one line
        return self


class BornInModel(nn.Module):
    """ids (T, B) -> embedding -> recurrent layer -> Linear on the last step -> logits (B, C)."""

    def __init__(self, vocab_size, n_classes, hidden_size, cell="lstm", embedding_dim=16,
                 fused=True, rng=None, init=None, t_max=None):
        rng = np.random.default_rng(rng)  # a Generator passes through as itself
        self.embed = nn.Embedding(vocab_size, embedding_dim, rng=rng)
        self.layer = make_layer(cell, embedding_dim, hidden_size, fused=fused, rng=rng,
                                init=init, t_max=t_max)
        self.decoder = nn.Linear(hidden_size, n_classes, rng=rng)

    def forward(self, ids, state=None):
        """ids (T, B) integers -> (logits (B, C), final state)."""
        outputs, state = self.layer(self.embed(np.asarray(ids)), state)
        return self.decoder(outputs[-1]), state


def make_model(cell: str, cfg: BornInConfig, seed: int, fused: bool = True) -> BornInModel:
    """The model of `cell` for `cfg`, initialised from `seed` (the same draw for every run)."""
    return BornInModel(len(bi.vocabulary(cfg.level)), cfg.countries, cfg.hidden, cell,
                       cfg.embedding, fused=fused, rng=np.random.default_rng([seed, 0]),
                       init=cfg.init, t_max=cfg.t_max)


def sample_gap(max_gap: int, rng) -> int:
    """A gap from 1 to max_gap, log-uniform: P(g) is proportional to log((g + 1) / g)."""
    return min(max_gap, int(math.exp(rng.uniform(0.0, math.log(max_gap + 1)))))


def held_out_batch(cfg: BornInConfig, gap: int, seed: int, size: int | None = None):
    """The fixed test sentences at `gap` for `seed`: the same for every cell."""
    return bi.born_in(gap, size or cfg.test_size, np.random.default_rng([seed, 3, gap]),
                      cfg.level, cfg.countries, cfg.distractors)


def accuracy(model, batch, chunk: int = 250) -> float:
    """The share of sentences whose language is predicted right (argmax at the last step)."""
    hits = 0
    with no_grad():
        for s in range(0, len(batch.y), chunk):
            logits, _ = model(batch.x[:, s:s + chunk])
            hits += int((logits.data.argmax(-1) == batch.y[s:s + chunk]).sum())
    return hits / len(batch.y)


class BornInProblem(Problem):
    """The task as the Trainer sees it: log-uniform gaps, cross-entropy on the language,
    validation loss and accuracy at the longest gap."""

    def __init__(self, cfg: BornInConfig, seed: int):
        self.cfg = cfg
        self.tokens_per_batch = (cfg.max_gap // 2 + 8) * cfg.batch  # roughly, for tokens/s
        self.val = held_out_batch(cfg, cfg.max_gap, seed, size=256)

    def batch(self, step, rng):
        cfg = self.cfg
        return bi.born_in(sample_gap(cfg.max_gap, rng), cfg.batch, rng, cfg.level,
                          cfg.countries, cfg.distractors)

    def loss(self, model, batch, state=None):
        logits, _ = model(batch.x)
        return ops.cross_entropy(logits, batch.y), None

    def evaluate(self, model):
        with no_grad():
            logits, _ = model(self.val.x)
            loss = ops.cross_entropy(logits, self.val.y).item()
        return {"loss": loss, "accuracy": float((logits.data.argmax(-1) == self.val.y).mean())}


def country_gradients(model: BornInModel, batch) -> tuple[float, float]:
    """(mean over sentences of ||dL_b/dh|| at the country word, median over sentences of that
    norm over ||dL_b/dh|| at the last step), L_b being sentence b's cross-entropy, through an
    unfused twin of `model`. The ratio does not depend on how large the loss still is.

    At the character level the country's step is its last character.
    """
    layer = model.layer
    twin = BornInModel(model.embed.weight.shape[0], model.decoder.weight.shape[0],
                       layer.hidden_size, layer.cell_class.name, layer.input_size, fused=False)
    twin.load_state_dict(model.state_dict())
    outputs, _ = twin.layer(twin.embed(batch.x))
    hs = list(outputs.parents)
    if outputs.op != "stack" or len(hs) != batch.x.shape[0]:
        raise RuntimeError("country_gradients: expected the readable layer's outputs to stack "
                           "the per-step h_t nodes")
    ops.cross_entropy(twin.decoder(outputs[-1]), batch.y, reduction="sum").backward(
        retain_grad=True)
    at_country = np.array([np.linalg.norm(hs[t].grad[b])
                           for b, t in enumerate(batch.country_step)])
    at_end = np.linalg.norm(hs[-1].grad, axis=-1)
    shares = at_country[at_end > 0] / at_end[at_end > 0]
    return float(at_country.mean()), float(np.median(shares)) if len(shares) else 0.0


@dataclass
class BornInResult:
    cell: str
    seed: int
    gaps: list
    accuracy: list  # test accuracy at each gap
    grad_init: list  # ||dL/dh|| at the country at each gap, before training
    grad_trained: list  # ... and after
    ratio_init: list  # median ||dL/dh|| at the country over ||dL/dh|| at "speak", before
    ratio_trained: list  # ... and after
    seconds: float = 0.0
    loss: list = field(default_factory=list)
    val_step: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    params: dict | None = None  # the trained model's state dict


def _gradients(model, cfg, seed) -> tuple[list, list]:
    """(norms, ratios) at every gap of cfg, on `cfg.grad_batch` test sentences."""
    pairs = [country_gradients(model, held_out_batch(cfg, g, seed, cfg.grad_batch))
             for g in cfg.gaps]
    return [n for n, _ in pairs], [r for _, r in pairs]


def run_one(cell: str, seed: int, cfg: BornInConfig) -> BornInResult:
    """Train `cell` with the shared budget from `seed`; test it at every gap."""
    t0 = time.perf_counter()
    model = make_model(cell, cfg, seed)
    grad_init, ratio_init = _gradients(model, cfg, seed)
    trainer = Trainer(model, BornInProblem(cfg, seed), lr=cfg.lr, clip=cfg.clip, seed=seed,
                      val_every=cfg.record_every, progress=False)
    trainer.fit(cfg.steps)
    h = trainer.history
    grad_trained, ratio_trained = _gradients(model, cfg, seed)
    return BornInResult(
        cell=cell, seed=seed, gaps=list(cfg.gaps),
        accuracy=[accuracy(model, held_out_batch(cfg, g, seed)) for g in cfg.gaps],
        grad_init=grad_init, grad_trained=grad_trained, ratio_init=ratio_init,
        ratio_trained=ratio_trained,
        loss=h["loss"], val_step=h["val_step"], val_loss=h["val_loss"],
        val_accuracy=h["val_accuracy"], params=model.state_dict(),
        seconds=time.perf_counter() - t0)


def _job(args):
    return run_one(*args)


def run_all(cfg: BornInConfig, progress=None, log=print) -> list[BornInResult]:
    """Every (cell, seed) run, in `cfg.workers` processes; sorted by cell, then seed."""
    jobs = [(cell, seed, cfg) for seed in cfg.seed_list for cell in cfg.cells]
    results = []

    def done(r):
        results.append(r)
        accs = " ".join(f"{a:.2f}" for a in r.accuracy)
        log(f"{r.cell:>8} seed {r.seed}: accuracy at gaps {accs}  ({r.seconds:.0f} s)")

    run_jobs(_job, jobs, cfg.workers, done, progress=progress)
    return sorted(results, key=lambda r: (list(cfg.cells).index(r.cell), r.seed))
