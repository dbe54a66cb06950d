"""Text from a trained character model: prime it, then draw each next character from
softmax(logits / temperature)."""

from __future__ import annotations

import math

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


def sample(model: CharModel, vocab: Vocab, prime: str, length: int,
           temperature: float = 1.0, rng=None) -> str:
    """`length` characters generated after `prime` (temperature scales the logits)."""
    check_sample_args(temperature, length)
    rng = np.random.default_rng(rng)
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
