"""Gradient norms as colours: one colour of GRAD_COLOURS per decade, the largest the darkest, and
norms printed to two significant digits (the same text on every run and BLAS)."""

from __future__ import annotations

import math
from typing import NamedTuple

from rnn.draw.style import GRAD_COLOURS, GRAD_ZERO, GREY_FILL


class GradScale(NamedTuple):
    """Decades `low`..`high` of gradient norms, one colour each (norms below `low` join it)."""

    low: int
    high: int

    @classmethod
    def of(cls, norms) -> "GradScale":
        """The scale covering `norms` (None and 0 skipped), at most len(GRAD_COLOURS) decades."""
        decades = [d for d in map(decade, norms) if d is not None]
        if not decades:
            return cls(0, 0)
        high = max(decades)
        return cls(max(min(decades), high - len(GRAD_COLOURS) + 1), high)

    def index(self, norm) -> int | None:
        """Which of GRAD_COLOURS shades `norm` (None for no gradient, zero or not finite).

        The top decade takes the darkest colour and each decade below the next paler one, so
        a colour always means the same distance from the largest gradient.
        """
        d = decade(norm)
        if d is None:
            return None
        return len(GRAD_COLOURS) - 1 - (self.high - max(min(d, self.high), self.low))

    def colour(self, norm) -> str:
        """The fill for `norm`: a decade's colour, GRAD_ZERO for 0, GREY_FILL for none."""
        k = self.index(norm)
        if k is not None:
            return GRAD_COLOURS[k]
        return GRAD_ZERO if norm == 0 else GREY_FILL


def rounded(norm) -> str:
    """A gradient norm to 2 significant digits: the same text on every run and BLAS."""
    if norm is None:
        return "none"
    if norm == 0:
        return "0"
    return f"{norm:.1e}"


def decade(norm) -> int | None:
    """The power of ten of `norm` as printed by rounded (9.96e-6 prints 1.0e-05: -5)."""
    if norm is None or not math.isfinite(norm) or norm <= 0:
        return None
    return int(rounded(norm).split("e")[1])
