"""Synthetic long-memory tasks, each drawn from a seeded `np.random.Generator`.

The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015), copy memory (Arjovsky
et al. 2016) and the embedded Reber grammar (Hochreiter & Schmidhuber 1997). Arrays are
time-major: (T, B, ...). The "born in" sentences live in `rnn.tasks_born_in` (`born_in` is
re-exported here).
"""

from __future__ import annotations

import math

import numpy as np

from rnn.tasks_born_in import born_in  # noqa: F401 - the walk-through's own example

# Predicting the mean (1) of a sum of two U(0,1) values scores Var = 2 * 1/12 = 1/6.
ADDING_BASELINE_MSE = 1.0 / 6.0


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"tasks need a np.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    return rng


def adding_problem(seq_len: int, batch: int, rng: np.random.Generator, dtype=np.float64):
    """Inputs (T, B, 2) and targets (B, 1) of the adding problem.

    Channel 0 holds values uniform in [0, 1]; channel 1 marks two of them with 1, one in the
    first half of the sequence and one in the second. The target is the sum of the two marked
    values, so the two facts to remember can be up to T - 1 steps apart.
    """
    rng = _check_rng(rng)
    if seq_len < 2:
        raise ValueError(f"adding_problem: seq_len must be at least 2, got {seq_len}")
    half = seq_len // 2
    values = rng.uniform(0.0, 1.0, (seq_len, batch))
    first = rng.integers(0, half, batch)
    second = rng.integers(half, seq_len, batch)
    markers = np.zeros((seq_len, batch))
    cols = np.arange(batch)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (values[first, cols] + values[second, cols]).reshape(batch, 1).astype(dtype)
    return x, y


# Copy memory: symbols 1..8 are data, 0 is the blank, 9 the delimiter ("now recall").
COPY_BLANK, COPY_DELIMITER, COPY_SYMBOLS = 0, 9, 8
COPY_VOCAB = 10


def copy_memory_length(delay: int, n_copy: int = 10) -> int:
    """The length of a copy-memory sequence: the data, the delay and the recall."""
    return delay + 2 * n_copy


def copy_memory(delay: int, batch: int, rng: np.random.Generator, n_copy: int = 10):
    """Inputs and targets (delay + 2 * n_copy, B) of the copy-memory task, as int64 ids.

    The input is `n_copy` random data symbols, `delay - 1` blanks, the delimiter and
    `n_copy` blanks; the target is blank for `delay + n_copy` steps and then the data symbols.
    """
    rng = _check_rng(rng)
    if delay < 1 or n_copy < 1:
        raise ValueError(f"copy_memory: delay and n_copy must be positive, "
                         f"got {delay} and {n_copy}")
    length = copy_memory_length(delay, n_copy)
    data = rng.integers(1, COPY_SYMBOLS + 1, (n_copy, batch))
    x = np.full((length, batch), COPY_BLANK, dtype=np.int64)
    y = np.full((length, batch), COPY_BLANK, dtype=np.int64)
    x[:n_copy] = data
    x[n_copy + delay - 1] = COPY_DELIMITER
    y[-n_copy:] = data
    return x, y


def copy_memory_baseline(delay: int, n_copy: int = 10) -> float:
    """Cross-entropy of the memoryless strategy: blanks, then uniform guesses at the end."""
    return n_copy * math.log(COPY_SYMBOLS) / (delay + 2 * n_copy)


# Embedded Reber grammar. Node -> [(symbol, next node)]; node 5 emits the final E.
REBER_SYMBOLS = "BEPSTVX"
REBER_GRAPH = {
    0: [("T", 1), ("P", 2)],
    1: [("S", 1), ("X", 3)],
    2: [("T", 2), ("V", 4)],
    3: [("X", 2), ("S", 5)],
    4: [("P", 3), ("V", 5)],
}


def reber_string(rng: np.random.Generator) -> str:
    """One string of the (plain) Reber grammar, e.g. 'BTSSXXTVVE'."""
    rng = _check_rng(rng)
    out, node = ["B"], 0
    while node != 5:
        symbol, node = REBER_GRAPH[node][rng.integers(2)]
        out.append(symbol)
    out.append("E")
    return "".join(out)


def embedded_reber_string(rng: np.random.Generator) -> str:
    """B, then T or P, a Reber string, the same T or P again, and E."""
    branch = "TP"[_check_rng(rng).integers(2)]
    return "B" + branch + reber_string(rng) + branch + "E"


def is_reber(s: str) -> bool:
    """Whether `s` is a string of the plain Reber grammar."""
    if len(s) < 2 or s[0] != "B" or s[-1] != "E":
        return False
    node = 0
    for symbol in s[1:-1]:
        nexts = dict(REBER_GRAPH.get(node, []))
        if symbol not in nexts:
            return False
        node = nexts[symbol]
    return node == 5


def is_embedded_reber(s: str) -> bool:
    """Whether `s` is a string of the embedded Reber grammar."""
    return (len(s) >= 4 and s[0] == "B" and s[-1] == "E" and s[1] in "TP"
            and s[-2] == s[1] and is_reber(s[2:-2]))


def reber_batch(batch: int, rng: np.random.Generator):
    """Next-symbol prediction on B embedded Reber strings, padded to the longest.

    Returns inputs and targets (T, B) int64 ids into `REBER_SYMBOLS`, a float mask (T, B)
    that is 1 on real steps, and the step of each column (B,) whose target is the
    deterministic second-to-last symbol (the T or P that repeats the second symbol).
    """
    strings = [embedded_reber_string(rng) for _ in range(batch)]
    index = {c: k for k, c in enumerate(REBER_SYMBOLS)}
    length = max(len(s) for s in strings) - 1
    x = np.zeros((length, batch), dtype=np.int64)
    y = np.zeros((length, batch), dtype=np.int64)
    mask = np.zeros((length, batch))
    key_step = np.zeros(batch, dtype=np.int64)
    for b, s in enumerate(strings):
        ids = [index[c] for c in s]
        n = len(s) - 1
        x[:n, b] = ids[:-1]
        y[:n, b] = ids[1:]
        mask[:n, b] = 1.0
        key_step[b] = n - 2  # input is the inner E; the target is the second-to-last symbol
    return x, y, mask, key_step


def bracket_nesting(length: int, rng: np.random.Generator, max_depth: int = 4,
                    letters: str = "ab", p_open: float = 0.3, p_close: float = 0.3):
    """Text of balanced bracket lines, and its nesting depth after each character.

    Each step opens "(" (below `max_depth`), closes ")" (above depth 0), ends the line
    (only at depth 0) or writes a letter. To predict ")", "(" or the newline a model has to
    know the depth: a trained LSTM counts it in one unit. Returns (text, depth (length,)).
    """
    rng = _check_rng(rng)
    if length < 1 or max_depth < 1:
        raise ValueError(f"bracket_nesting: length and max_depth must be positive, "
                         f"got {length} and {max_depth}")
    out, depth = [], np.zeros(length, dtype=np.int64)
    d = 0
    for t in range(length):
        u = rng.random()
        if u < p_open and d < max_depth:
            c, d = "(", d + 1
        elif u < p_open + p_close and d > 0:
            c, d = ")", d - 1
        elif d == 0 and u > 0.9 and out and out[-1] != "\n":
            c = "\n"
        else:
            c = letters[rng.integers(len(letters))]
        out.append(c)
        depth[t] = d
    return "".join(out), depth
