"""The argparse parser and value types shared by every `rnn-lab` command and benchmark."""

from __future__ import annotations

import argparse
import os

from rnn.resources import parse_size


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


MAX_SEED = 2**63 - 1


def seed(text: str) -> int:
    """argparse type: a random seed, a whole number from 0 to 2**63 - 1 (NumPy's seeds are
    non-negative; a negative one is refused rather than silently mapped)."""
    value = _whole(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to 2**63 - 1, "
                                         f"got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """argparse type: a number from 0 up to (not including) 1, such as a momentum."""
    value = _number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 up to 1 (not 1), "
                                         f"got {text!r}")
    return value


def int_between(low: int, high: int):
    """argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        value = _whole(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def memory_size(text: str) -> int:
    """argparse type: a memory size such as 8GB, 512MiB or a number of bytes."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def file_name(text: str) -> str:
    """argparse type: a file or folder name, which cannot be empty."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty string")
    return text


def non_empty(text: str) -> str:
    """argparse type: a piece of text of at least one character."""
    if not text:
        raise argparse.ArgumentTypeError("expected at least one character, got an empty string")
    return text


def file_with_suffix(*suffixes: str):
    """argparse type: a file name ending in one of `suffixes` (".png", ...): the suffix
    chooses the format, so a name that names none is refused before any work."""

    def parse(text: str) -> str:
        name = file_name(text)
        suffix = os.path.splitext(name)[1].lower()
        if suffix not in suffixes:
            raise argparse.ArgumentTypeError(
                f"{name}: the name must end in {', '.join(suffixes[:-1])} or {suffixes[-1]} "
                f"(the suffix chooses the format)")
        return name

    return parse


class LazyChoices:
    """argparse `choices` computed on first use (a membership test, the help text or an
    error), so that building the parser imports nothing heavy: `rnn-lab --help` stays fast."""

    def __init__(self, make):
        self._make, self._values = make, None

    def _get(self) -> tuple:
        if self._values is None:
            self._values = tuple(self._make())
        return self._values

    def __contains__(self, value) -> bool:
        return value in self._get()

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _registered_cells() -> tuple:
    from rnn.cells import cell_names  # the registry: importing it imports every cell

    return cell_names()


CELL_CHOICES = LazyChoices(_registered_cells)
"""Every registered cell name (`rnn.cells.cell_names()`), for `--cell` options."""


def _init_schemes() -> tuple:
    from rnn.cells import init_names  # (with the registry, as for --cell)

    return init_names()


INIT_CHOICES = LazyChoices(_init_schemes)
"""Every initialisation scheme's name (`rnn.cells.init_names()`), for `--init` options."""


def cell_list(text: str) -> tuple:
    """argparse type: comma-separated registered cell names, e.g. "rnn,lstm,mgu"."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in CELL_CHOICES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"{', '.join(map(repr, unknown)) or 'no cell'}: choose from "
            f"{', '.join(CELL_CHOICES)} (comma-separated)")
    return names
