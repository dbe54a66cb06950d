"""Text from a trained character model: prime it, then draw each next character from
softmax(logits / temperature); `generate` yields the characters as they are drawn."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from autograd_lite.tensor import no_grad
from rnn.data import Vocab
from rnn.errors import UserError
from rnn.training.models import CharModel


def check_sample_args(temperature: float, length: int) -> None:
    """UserError unless the temperature is a positive number and the length is >= 0."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise UserError(f"--temperature must be a positive number, got {temperature}")
    if length < 0:
        raise UserError(f"--length must not be negative, got {length}")


def next_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / temperature) in float64; a temperature so small that the division
    overflows gives the greedy choice (the largest logits share the probability).

    UserError if the logits are not finite (a model with NaN or inf weights).
    """
    z = np.asarray(logits, dtype=np.float64)
    if not np.isfinite(z).all():
        raise UserError("the model's outputs are not finite numbers (NaN or inf): its "
                        "weights are broken; train it again with a lower --lr")
    with np.errstate(over="ignore"):
        scaled = z / temperature
        if not np.isfinite(scaled).all():  # <= 0 first: a tiny temperature gives -inf, not NaN
            scaled = (z - z.max()) / temperature
    p = np.exp(scaled - scaled.max())
    return p / p.sum()


def generate(model: CharModel, vocab: Vocab, prime: str, length: int,
             temperature: float = 1.0, rng=None) -> Iterator[str]:
    """The `length` characters drawn after feeding `prime`, yielded one at a time; the
    arguments are checked at once (UserError), before the first character."""
    check_sample_args(temperature, length)
    rng = np.random.default_rng(rng)
    if not prime:
        raise UserError("--prime must hold at least one character")
    ids = vocab.encode(prime, what="--prime")
    return _draw(model, vocab, ids, length, temperature, rng)


def _draw(model, vocab, ids, length, temperature, rng) -> Iterator[str]:
    with no_grad():
        logits, state = model(ids[:, None])
        for _ in range(length):
            p = next_probabilities(logits.data[-1, 0], temperature)
            k = min(int(np.searchsorted(np.cumsum(p), rng.random(), side="right")),
                    len(p) - 1)
            yield vocab.chars[k]
            logits, state = model(np.array([[k]]), state)


def sample(model: CharModel, vocab: Vocab, prime: str, length: int,
           temperature: float = 1.0, rng=None) -> str:
    """`length` characters generated after `prime` (temperature scales the logits)."""
    return prime + "".join(generate(model, vocab, prime, length, temperature, rng))
