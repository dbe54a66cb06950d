"""Synthetic long-memory tasks, each drawn from a seeded `np.random.Generator`.

The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015; Arjovsky et al. 2016), copy
memory (Arjovsky et al. 2016) and the embedded Reber grammar (Hochreiter & Schmidhuber 1997).
Arrays are time-major: (T, B, ...). Each generator's docstring says what its source defines and
where ours differs. The "born in" sentences live in `rnn.tasks_born_in` (`born_in` is
re-exported here).
"""

from __future__ import annotations

import math

import numpy as np

from rnn.tasks_born_in import born_in  # noqa: F401 - the walk-through's own example

# Predicting the mean (1) of a sum of two U(0,1) values scores Var = 2 * 1/12 = 1/6.
ADDING_BASELINE_MSE = 1.0 / 6.0
# The adding problem's two definitions (see `adding_problem`), and the shortest T each allows.
ADDING_VARIANTS = ("urnn", "1997")
ADDING_MIN_LEN = {"urnn": 2, "1997": 20}
# Hochreiter & Schmidhuber 1997's criterion: a sequence is processed correctly when the absolute
# error at its end is below 0.04 (on the target 0.5 + (X1 + X2) / 4).
ADDING_1997_TOLERANCE = 0.04


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"tasks need a np.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    return rng


def _check_adding(seq_len: int, variant: str) -> None:
    if variant not in ADDING_VARIANTS:
        raise ValueError(f"adding_problem: unknown variant {variant!r}; choose from "
                         f"{', '.join(ADDING_VARIANTS)}")
    if variant == "urnn" and seq_len < 2:
        raise ValueError(f"adding_problem: seq_len must be at least 2, got {seq_len}")
    if seq_len < ADDING_MIN_LEN[variant]:
        raise ValueError(f"adding_problem: the 1997 variant needs seq_len >= 20 (its first "
                         f"marker is one of the first ten steps, its second one of the first "
                         f"T/2), got {seq_len}")


def adding_problem(seq_len: int, batch: int, rng: np.random.Generator, dtype=np.float64,
                   variant: str = "urnn"):
    """Inputs (T, B, 2) and targets (B, 1) of the adding problem, in one of two definitions.

    "urnn" (the default; Arjovsky et al. 2016, Section 5.2, numbered as in the authors' source
    amarshah/complex_RNN paper/uRNN/uRNN.tex, and their generator adding_problem.py): channel
    0 holds values from U[0, 1]; channel 1 marks two of them with 1, one uniformly in the first
    half of the sequence and one in the second; every sequence has length T. The target is the sum of the two marked values.
    Predicting 1 scores MSE 1/6 ("0.167, the variance of the sum of two independent uniform
    distributions", ibid.), `ADDING_BASELINE_MSE`.

    "1997" (Hochreiter & Schmidhuber 1997, Section 5.4, Experiment 4; the NIPS 1996 version's
    Experiment 1 words it the same): values from U(-1, 1); each sequence's length is a random
    integer from T to T + T/10; the marker channel is -1 at the sequence's first and last
    step, +1 at X1 (one of the first ten steps) and at X2 (one of the first T/2 - 1 steps
    still unmarked), 0 elsewhere; a marked first step has its value set to 0. The target is
    0.5 + (X1 + X2) / 4, the sum rescaled to [0, 1]; a sequence counts as correct when the
    absolute error at its end is below 0.04 (`ADDING_1997_TOLERANCE`). The paper trains until
    the mean training error is below 0.01 and the 2000 most recent sequences were correct (at
    T = 100 after 74,000 sequences, as quoted on discuss.pytorch.org/t/21588). Ours differs in
    one way: sequences share one array of T + T//10 steps, each aligned to end at the last
    step, and a shorter one is preceded by steps of zeros (value 0, marker 0), so the readout
    is always at the last step and every distance to the end is the paper's. The baseline is
    `adding_baseline_mse(T, "1997")`, about 0.039.

    Both are deterministic for a given rng; "urnn" draws the same numbers as before variants.
    """
    rng = _check_rng(rng)
    _check_adding(seq_len, variant)
    if variant == "1997":
        return _adding_1997(seq_len, batch, rng, dtype)
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


def _adding_1997(seq_len: int, batch: int, rng: np.random.Generator, dtype):
    """The 1997 definition (see `adding_problem`): steps (T + T//10, B, 2), targets (B, 1)."""
    steps = seq_len + seq_len // 10
    lengths = rng.integers(seq_len, steps + 1, batch)
    values = rng.uniform(-1.0, 1.0, (steps, batch))
    first = rng.integers(0, 10, batch)
    # one of the first T/2 - 1 pairs still unmarked: a step of the first T/2 other than X1's
    second = rng.integers(0, seq_len // 2 - 1, batch)
    second += second >= first
    start = steps - lengths  # each sequence ends at the last step
    cols = np.arange(batch)
    values[np.arange(steps)[:, None] < start] = 0.0  # the zero steps before a shorter one
    markers = np.zeros((steps, batch))
    markers[start, cols] = -1.0
    markers[steps - 1, cols] = -1.0
    markers[start + first, cols] = 1.0
    markers[start + second, cols] = 1.0
    values[start, cols] *= markers[start, cols] != 1.0  # a marked first step holds 0
    x1, x2 = values[start + first, cols], values[start + second, cols]
    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (0.5 + (x1 + x2) / 4.0).reshape(batch, 1).astype(dtype)
    return x, y


def adding_baseline_mse(seq_len: int, variant: str = "urnn") -> float:
    """MSE of always predicting the target's mean: the score of a model that remembers nothing.

    "urnn": Var(X1 + X2) with X ~ U[0, 1], 2/12 = 1/6 for every T. "1997": the target
    0.5 + (X1 + X2)/4 has mean 0.5 and variance (Var X1 + Var X2) / 16, where a value from
    U(-1, 1) has variance 1/3 unless it sits on the sequence's first step (then it is 0): X1
    does with probability 1/10, X2 with probability (9/10) / (T//2 - 1). So
    Var X1 = 0.9/3 and Var X2 = (1 - 0.9/(T//2 - 1))/3; at T = 100 the MSE is 0.0392.
    """
    _check_adding(seq_len, variant)
    if variant == "urnn":
        return ADDING_BASELINE_MSE
    var_x1 = (1.0 - 1.0 / 10.0) / 3.0
    var_x2 = (1.0 - 0.9 / (seq_len // 2 - 1)) / 3.0
    return (var_x1 + var_x2) / 16.0


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

    This is Arjovsky et al. 2016's task (Section 5.1) with their T as `delay`: an input of
    T + 20 symbols, "the first 10" drawn uniformly with replacement from 8 data symbols, "the
    next T - 1" blanks, one delimiter and 10 more blanks; the output is T + 10 blanks and then
    the 10 data symbols, scored by the cross-entropy averaged over all T + 20 steps. Their
    paper text numbers the symbols a0..a7 (data), a8 (blank), a9 (delimiter); their code
    (amarshah/complex_RNN memory_problem.py) uses 1..8, 0 and 9, as we do. The lengths, the
    delimiter's step and the target's layout match both, checked in tests/test_tasks.py.
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
    """Cross-entropy of the memoryless strategy: blanks, then uniform guesses at the end.

    Arjovsky et al. 2016 (Section 5.1): predict the blank for T + 10 steps and a uniform
    guess among the 8 data symbols for the last 10, "10 log(8) / (T + 20)" averaged per step;
    with `delay` = T and n_copy = 10 this is that formula (0.173 at T = 100).
    """
    return n_copy * math.log(COPY_SYMBOLS) / (delay + 2 * n_copy)


# Embedded Reber grammar. Node -> [(symbol, next node)]; node 5 emits the final E. The automaton
# of Cleeremans, Servan-Schreiber & McClelland 1989, which Hochreiter & Schmidhuber 1997 use;
# the same table as cybertronai/schmidhuber-problems embedded-reber/embedded_reber.py.
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

    Hochreiter & Schmidhuber 1997 (Section 5.1, Experiment 1) count a trial as successful
    when every symbol of every string in both the training and the test set is predicted
    correctly: the output units of the possible next symbols are always the most active. As
    quoted by cybertronai/schmidhuber-problems (embedded-reber/README.md), their Table 1 has
    an LSTM of 4 memory cell blocks of size 1 succeed in 148 of 150 trials after 8,440
    training sequences on average (3 blocks of size 2: 150 of 150 after 8,550).
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
