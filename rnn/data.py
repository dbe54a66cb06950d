"""A UTF-8 text file as a character corpus: vocabulary, encoding, splits and char-rnn batches.

Batches follow char-rnn: the training ids are cut into B parallel streams, and batch k holds
steps [kT, (k+1)T) of every stream, so a final state carried (detached) from one batch is the
right initial state for the next (truncated backpropagation through time).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass

import numpy as np

from rnn.errors import UserError
from rnn.io import reason
from rnn.resources import format_size, limit_source, memory_limit

TEXT_BYTES_PER_CHAR = 20  # memory per character of text: bytes, str, int64 ids, a hash's copy


class DataError(UserError):
    """A text file or a piece of text that cannot be used as a corpus; names the path."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def text_limit() -> int:
    """The largest text file, in bytes, that fits the memory limit (rnn.resources)."""
    return memory_limit() // TEXT_BYTES_PER_CHAR


def read_text(path, limit: int | None = None) -> str:
    """The contents of a UTF-8 text file; missing, empty, binary or non-UTF-8 files raise, and
    so do folders, pipes and devices, and files over `limit` bytes (default `text_limit()`)."""
    path = os.fspath(path)
    limit = text_limit() if limit is None else limit
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {reason(exc)}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise DataError(f"{path}: is {_kind(info.st_mode)}, not a text file; give a UTF-8 "
                        f"text file")
    with open(fd, "rb") as f:
        size = info.st_size
        if size > limit:
            raise DataError(f"{path}: {format_size(size)} is more text than fits in memory "
                            f"(at most {format_size(limit)}: {limit_source()})")
        os.set_blocking(fd, True)
        try:
            raw = f.read(limit + 1)  # the file may have grown since
        except OSError as exc:
            raise DataError(f"{path}: cannot read: {reason(exc)}") from None
    if len(raw) > limit:
        raise DataError(f"{path}: more than {format_size(limit)} of text (the most that fits "
                        f"in memory: {limit_source()})")
    if not raw:
        raise DataError(f"{path}: the file is empty; give a UTF-8 text file with some text")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{path}: looks binary (NUL byte at offset {nul}); "
                        f"give a UTF-8 text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset "
                        f"{exc.start}); convert it, e.g. iconv -t UTF-8") from None
    if text.startswith("\ufeff"):  # a byte-order mark is not part of the text
        text = text[1:]
    if not text:
        raise DataError(f"{path}: the file holds no text")
    return text


class Vocab:
    """Characters sorted by code point; id k is the k-th character."""

    separator = ""  # what stands between two tokens in the text

    def __init__(self, chars):
        chars = list(chars)
        if not chars:
            raise DataError("a vocabulary needs at least one character")
        if len(set(chars)) != len(chars) or chars != sorted(chars):
            raise DataError("a vocabulary must list distinct characters in sorted order")
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise DataError("a vocabulary holds single characters only")
        self.chars = chars
        self.index = {c: k for k, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        """The vocabulary of every character that occurs in `text`."""
        return cls(sorted(set(text)))

    @property
    def tokens(self) -> list[str]:
        """The tokens, in id order: here the characters."""
        return self.chars

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"Vocab({len(self)} chars)"

    def encode(self, text: str, what: str = "text") -> np.ndarray:
        """Character ids (int64) of `text`; characters outside the vocabulary raise."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise DataError(f"{what} has characters not in the vocabulary: {shown}{more}")
        return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        """The text of a sequence of ids."""
        return "".join(self.chars[int(k)] for k in np.asarray(ids).reshape(-1))

    def to_json(self) -> str:
        """The vocabulary as a JSON list of characters."""
        return json.dumps(self.chars, ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> "Vocab":
        """Inverse of `to_json`."""
        chars = json.loads(text)
        if not isinstance(chars, list):
            raise DataError("a vocabulary in JSON must be a list of characters")
        return cls(chars)


class WordVocab:
    """Words in the order of their ids (id k is the k-th word), for a word-level model. A text
    splits into words at white space, and each full stop is a word of its own."""

    separator = " "
    PATTERN = re.compile(r"[^\s.]+|\.")

    def __init__(self, words):
        words = list(words)
        if not words:
            raise DataError("a vocabulary needs at least one word")
        bad = [w for w in words if not isinstance(w, str) or not self.PATTERN.fullmatch(w)]
        if bad:
            raise DataError(f"a word vocabulary holds words without spaces (or a full stop "
                            f"alone), got {bad[0]!r}")
        if len(set(words)) != len(words):
            raise DataError("a vocabulary must list distinct words")
        self.tokens = words
        self.index = {w: k for k, w in enumerate(words)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, WordVocab) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"WordVocab({len(self)} words)"

    def split(self, text: str) -> list[tuple[str, int]]:
        """The words of `text`, each with the offset of its first character."""
        return [(m[0], m.start()) for m in self.PATTERN.finditer(text)]

    def encode(self, words, what: str = "text") -> np.ndarray:
        """Word ids (int64) of a sequence of words; a word outside the vocabulary raises."""
        words = list(words)
        unknown = [w for w in words if w not in self.index]
        if unknown:
            raise DataError(f"{what} has words not in the vocabulary: "
                            f"{', '.join(map(repr, unknown[:10]))}")
        return np.array([self.index[w] for w in words], dtype=np.int64)

    def decode(self, ids) -> list[str]:
        """The words of a sequence of ids."""
        return [self.tokens[int(k)] for k in np.asarray(ids).reshape(-1)]


def split_ids(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split ids into a leading training part and a trailing validation part."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    n_val = int(round(len(ids) * val_fraction))
    return ids[: len(ids) - n_val], ids[len(ids) - n_val:]


@dataclass
class Corpus:
    """A text, its vocabulary, and its ids split into training and validation parts."""

    text: str
    vocab: Vocab
    train: np.ndarray
    val: np.ndarray

    @classmethod
    def from_text(cls, text: str, val_fraction: float = 0.1, vocab: Vocab | None = None,
                  source: str = "text") -> "Corpus":
        """Build a corpus from a string (the vocabulary of `text` unless one is given)."""
        if not text:
            raise DataError(f"{source}: no text")
        vocab = vocab or Vocab.from_text(text)
        ids = vocab.encode(text, what=source)
        train, val = split_ids(ids, val_fraction)
        return cls(text, vocab, train, val)

    @classmethod
    def from_file(cls, path, val_fraction: float = 0.1, vocab: Vocab | None = None) -> "Corpus":
        """Read a UTF-8 text file as a corpus (see `read_text` for the checks)."""
        return cls.from_text(read_text(path), val_fraction, vocab, source=os.fspath(path))


class StreamBatches:
    """B parallel streams of T steps over `ids`, as char-rnn cuts them.

    `batch(k)` returns inputs and targets (T, B) for batch k (taken modulo `len(self)`), the
    targets being the inputs shifted by one character. Consecutive batches continue each
    stream, so the final state of batch k is the initial state of batch k + 1; batch 0 of
    every pass starts the streams afresh (`starts_epoch(k)`).
    """

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int, name: str = "text"):
        ids = np.asarray(ids, dtype=np.int64)
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be positive, "
                             f"got {batch_size} and {seq_len}")
        per_stream = (len(ids) - 1) // batch_size
        n_batches = per_stream // seq_len
        if n_batches < 1:
            need = batch_size * seq_len + 1
            raise DataError(f"{name}: {len(ids)} characters are too few for {batch_size} "
                            f"streams of {seq_len} steps (need at least {need}); "
                            f"use a smaller --batch or --seq-len")
        used = n_batches * seq_len * batch_size
        # Stream b reads ids[b*L : (b+1)*L] where L = n_batches * seq_len.
        self.inputs = ids[:used].reshape(batch_size, -1).T  # (L, B)
        self.targets = ids[1:used + 1].reshape(batch_size, -1).T
        self.batch_size, self.seq_len, self.n_batches = batch_size, seq_len, n_batches

    def __len__(self) -> int:
        return self.n_batches

    def starts_epoch(self, k: int) -> bool:
        """Whether batch k starts a new pass (so no state should be carried into it)."""
        return k % self.n_batches == 0

    def batch(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets, each (T, B) int64, of batch k (modulo the number of batches)."""
        start = (k % self.n_batches) * self.seq_len
        rows = slice(start, start + self.seq_len)
        return self.inputs[rows], self.targets[rows]


def one_hot(ids, size: int, dtype=np.float64) -> np.ndarray:
    """ids (...) -> one-hot vectors (..., size)."""
    ids = np.asarray(ids)
    out = np.zeros(ids.shape + (size,), dtype=dtype)
    np.put_along_axis(out, ids[..., None], 1, axis=-1)
    return out
