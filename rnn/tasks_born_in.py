"""The walk-through's own long-term dependency as a task: "I was born in France . <filler> .
I can speak" -> "French". Sentences come from a seeded generator (no data files), at the word
or the character level.

The gap is the number of words (full stops count as words) strictly between the country and
the question "I can speak"; the prediction is read at "speak", gap + 3 steps after the country.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# The fixed table of country -> language pairs; `countries=k` uses the first k.
PAIRS = (("France", "French"), ("Germany", "German"), ("Spain", "Spanish"),
         ("Italy", "Italian"), ("Japan", "Japanese"), ("China", "Chinese"),
         ("Russia", "Russian"), ("Greece", "Greek"), ("Poland", "Polish"),
         ("Portugal", "Portuguese"))
COUNTRIES = tuple(c for c, _ in PAIRS)
LANGUAGES = tuple(lang for _, lang in PAIRS)
LEVELS = ("word", "char")
KEY = ("I", "was", "born", "in")  # then the country and a full stop
QUESTION = ("I", "can", "speak")  # the prediction is read at the last of these
STOP = "."
PAD = "_"  # character level: sequences are padded on the left with it

# The filler grammar: neutral words only (no country, no language, none of the key words).
WORDS = {
    "DET": "the a my our your his her their this that".split(),
    "PRON": "he she we they you".split(),
    "N": ("dog cat bird horse child teacher doctor farmer baker painter neighbour friend "
          "sister brother mother father uncle aunt student driver book letter song story "
          "garden house river tree window door table chair lamp clock bicycle car train boat "
          "bridge road market kitchen apple bread soup cake coffee tea cup plate hat coat "
          "shoe bag box key ball kite picture flower field hill lake forest village street "
          "shop farm fish duck goat sheep").split(),
    "ADJ": ("old young small big tall quiet happy tired kind clever red green blue yellow "
            "brown warm cold new busy gentle lazy bright dark heavy little noisy calm sleepy "
            "hungry friendly").split(),
    "VI": ("slept laughed waited smiled sang danced arrived left rested walked ran cried "
           "listened nodded shouted stayed swam jumped whistled yawned").split(),
    "VT": ("saw found painted cleaned opened closed carried watched fixed bought sold cooked "
           "read wrote liked washed moved kept dropped lost").split(),
    "ADV": "slowly quickly quietly loudly today yesterday again early later outside".split(),
    "PREP": "near under behind beside by with without across along past".split(),
    "INTJ": "yes no well indeed okay sure right really sadly anyway".split(),
}
# One-word bridges that may stand just before the question ("... . so I can speak").
CONNECTORS = ("so", "now", "thus", "therefore", "naturally")
# Sentence templates by length in words (the full stop is added after).
TEMPLATES = {
    1: ["INTJ"],
    2: ["PRON VI"],
    3: ["DET N VI", "PRON VI ADV"],
    4: ["DET ADJ N VI", "DET N VI ADV", "PRON VT DET N"],
    5: ["DET N VT DET N", "DET ADJ N VI ADV", "PRON VT DET ADJ N", "PRON VI PREP DET N",
        "PRON VT DET N ADV"],
    6: ["DET ADJ N VT DET N", "DET N VT DET ADJ N", "DET N VI PREP DET N",
        "PRON VT DET ADJ N ADV"],
    7: ["DET ADJ N VT DET ADJ N", "DET ADJ N VI PREP DET N", "DET N VI PREP DET ADJ N"],
    8: ["DET ADJ N VI PREP DET ADJ N", "DET ADJ N VT DET ADJ N ADV"],
}
# Distractor sentences name another country (C): the model must keep the first one.
DISTRACTOR_TEMPLATES = {3: ["PRON visited C"], 4: ["DET N visited C", "PRON flew to C"],
                        5: ["DET ADJ N visited C", "DET N flew to C"],
                        6: ["DET ADJ N flew to C"]}
MAX_SENTENCE = max(TEMPLATES)

VOCAB = tuple(dict.fromkeys(
    [PAD, STOP, *KEY, *QUESTION, *CONNECTORS, "visited", "flew", "to", *COUNTRIES, *LANGUAGES]
    + [w for kind in WORDS.values() for w in kind]))
CHARS = tuple(sorted({ch for w in VOCAB for ch in w} | {" "}))  # the pad "_" is among them


def vocabulary(level: str = "word") -> tuple[str, ...]:
    """The tokens of `level`: words (index 0 is the pad) or characters ("_" is the pad)."""
    return VOCAB if check_level(level) == "word" else CHARS


def check_level(level) -> str:
    if level not in LEVELS:
        raise ValueError(f"born_in: unknown level {level!r}; choose word or char")
    return level


def check_gap(gap) -> int:
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 1:
        raise ValueError(f"born_in: the gap must be a whole number of at least 1 word, "
                         f"got {gap!r}")
    return int(gap)


def check_countries(countries) -> int:
    if isinstance(countries, bool) or not isinstance(countries, (int, np.integer)) \
            or not 2 <= countries <= len(PAIRS):
        raise ValueError(f"born_in: countries must be between 2 and {len(PAIRS)}, "
                         f"got {countries!r}")
    return int(countries)


def _sentence_lengths(fill: int, rng) -> list[int]:
    """Sentence lengths n (words, each followed by a full stop) filling exactly `fill` words."""
    lengths = []
    while fill:
        # a sentence takes n + 1 words; never leave exactly 1 (no sentence is that short)
        options = [n for n in TEMPLATES if n + 1 <= fill and fill - (n + 1) != 1]
        n = options[rng.integers(len(options))]
        lengths.append(n)
        fill -= n + 1
    return lengths


def _sentence(n: int, rng, distractor: str | None) -> list[str]:
    templates = DISTRACTOR_TEMPLATES[n] if distractor else TEMPLATES[n]
    words = []
    for slot in templates[rng.integers(len(templates))].split():
        if slot == "C":
            words.append(distractor)
        elif slot in WORDS:
            words.append(WORDS[slot][rng.integers(len(WORDS[slot]))])
        else:
            words.append(slot)
    return words + [STOP]


def filler(gap: int, rng, countries: int = len(PAIRS), distractors: float = 0.0,
           exclude: int | None = None) -> list[str]:
    """The `gap` words between the country and the question: its full stop, neutral sentences
    and maybe a connector. With `distractors` > 0, each sentence of 3 to 6 words names another
    country (not `exclude`) with that probability."""
    gap, countries = check_gap(gap), check_countries(countries)
    if not 0.0 <= distractors <= 1.0:
        raise ValueError(f"born_in: distractors is a probability, got {distractors!r}")
    fill = gap - 1
    # a connector before the question covers an odd word out; else it comes half the time
    connector = fill == 1 or (fill >= 3 and rng.random() < 0.5)
    words = [STOP]
    others = [k for k in range(countries) if k != exclude]
    for n in _sentence_lengths(fill - connector, rng):
        other = None
        if distractors and n in DISTRACTOR_TEMPLATES and rng.random() < distractors:
            other = COUNTRIES[others[rng.integers(len(others))]]
        words += _sentence(n, rng, other)
    if connector:
        words.append(CONNECTORS[rng.integers(len(CONNECTORS))])
    return words


def born_in_sentence(gap: int, rng, countries: int = len(PAIRS), distractors: float = 0.0,
                     country: int | None = None) -> tuple[list[str], int]:
    """(words up to "speak", country index) of one sentence; the answer is LANGUAGES[index]."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"born_in: needs a np.random.Generator, got {type(rng).__name__}")
    countries = check_countries(countries)
    k = int(rng.integers(countries)) if country is None else int(country)
    return [*KEY, COUNTRIES[k], *filler(gap, rng, countries, distractors, k), *QUESTION], k


def as_text(words) -> str:
    """Words as the character level reads them: spaces between words, full stops attached."""
    return " ".join(words).replace(" " + STOP, STOP)


def born_country(text: str, countries=COUNTRIES) -> int | None:
    """The index in `countries` of the first country named as "born in <country>" in `text`
    (whose language answers the question), or None."""
    names = "|".join(re.escape(c) for c in countries)
    match = re.search(rf"\bborn\s+in\s+({names})\b", text)
    return None if match is None else list(countries).index(match[1])


@dataclass
class BornInBatch:
    """One batch: ids (T, B) into `vocabulary(level)`, the answers (B,) as language indices,
    the step of the country (B,; its last character at the char level) and the sentences."""

    x: np.ndarray
    y: np.ndarray
    country_step: np.ndarray
    sentences: list
    gap: int
    level: str


def born_in(gap: int, batch: int, rng, level: str = "word", countries: int = len(PAIRS),
            distractors: float = 0.0) -> BornInBatch:
    """`batch` sentences with the same gap; deterministic for the state of `rng`.

    Word level: every sentence has gap + 8 tokens and the country is token 4. Character level:
    the texts are padded on the left with "_" to the longest.
    """
    gap, level = check_gap(gap), check_level(level)
    pairs = [born_in_sentence(gap, rng, countries, distractors) for _ in range(batch)]
    sentences = [w for w, _ in pairs]
    y = np.array([k for _, k in pairs], dtype=np.int64)
    if level == "word":
        index = {w: i for i, w in enumerate(VOCAB)}
        x = np.array([[index[w] for w in s] for s in sentences], dtype=np.int64).T
        step = np.full(batch, len(KEY), dtype=np.int64)
    else:
        index = {c: i for i, c in enumerate(CHARS)}
        texts = [as_text(s) for s in sentences]
        length = max(len(t) for t in texts)
        x = np.full((length, batch), index[PAD], dtype=np.int64)
        step = np.empty(batch, dtype=np.int64)
        for b, (t, s) in enumerate(zip(texts, sentences)):
            x[length - len(t):, b] = [index[c] for c in t]
            step[b] = length - len(t) + len(as_text(s[:len(KEY) + 1])) - 1
    return BornInBatch(x, y, step, sentences, gap, level)
