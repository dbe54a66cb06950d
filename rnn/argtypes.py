"""The argparse parser and value types shared by every `rnn-lab` command and benchmark."""

from __future__ import annotations

import argparse


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def int_between(low: int, high: int):
    """argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def file_name(text: str) -> str:
    """argparse type: a file or folder name, which cannot be empty."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty string")
    return text


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


def cell_list(text: str) -> tuple:
    """argparse type: comma-separated registered cell names, e.g. "rnn,lstm,mgu"."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in CELL_CHOICES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"{', '.join(map(repr, unknown)) or 'no cell'}: choose from "
            f"{', '.join(CELL_CHOICES)} (comma-separated)")
    return names
