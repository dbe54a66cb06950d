"""Find the units that follow a property of the text (LSTMVis, Karpathy's quote cell): a target
series over the characters, and every unit ranked by its Pearson correlation with it.

Targets: the span indicator of a regex (1 on characters inside a match, or on the words a
match overlaps), the nesting depth of brackets, and the position in the line. Value t
describes the text up to and including token t, as activation t does.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import numpy as np

from rnn.errors import UserError

BRACKETS = "()[]{}"


def compile_pattern(pattern: str) -> re.Pattern:
    """`pattern` compiled; UserError naming the problem when it does not compile."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UserError(f"the pattern {pattern!r} does not compile: {exc}") from None


def span_indicator(text, pattern, separator: str = "") -> np.ndarray:
    """1.0 on every token a match of `pattern` (str or compiled) overlaps, else 0.0. `text`
    is a str (its characters are the tokens) or a sequence of tokens, matched as they are
    joined with `separator` between them (which belongs to no token)."""
    regex = compile_pattern(pattern) if isinstance(pattern, str) else pattern
    if isinstance(text, str):
        y = np.zeros(len(text))
        for m in regex.finditer(text):
            y[m.start():m.end()] = 1.0
        return y
    tokens = list(text)
    joined = separator.join(tokens)
    inside = span_indicator(joined, regex)
    ends = np.cumsum([len(t) + len(separator) for t in tokens]) - len(separator)
    starts = ends - [len(t) for t in tokens]
    return np.array([float(inside[a:b].any()) for a, b in zip(starts, ends)])


def bracket_depth(text: str, pairs: str = BRACKETS) -> np.ndarray:
    """The number of open brackets after reading each character (all pair kinds counted
    together; a closer with nothing open is ignored). `pairs`: opener, closer, opener, ..."""
    if len(pairs) < 2 or len(pairs) % 2:
        raise UserError(f"bracket pairs {pairs!r}: give openers and closers in pairs, "
                        f"e.g. {BRACKETS!r}")
    step = dict.fromkeys(pairs[0::2], 1) | dict.fromkeys(pairs[1::2], -1)
    depth, out = 0, np.zeros(len(text))
    for t, c in enumerate(text):
        depth = max(depth + step.get(c, 0), 0)
        out[t] = depth
    return out


def line_position(text: str) -> np.ndarray:
    """How many characters of the current line have been read (0 on a newline)."""
    out, col = np.zeros(len(text)), 0
    for t, c in enumerate(text):
        col = 0 if c == "\n" else col + 1
        out[t] = col
    return out


def correlations(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of `values` (T, H) with `target` (T,); a constant
    column scores 0."""
    a = values - values.mean(axis=0)
    y = target - target.mean()
    denom = np.sqrt((a * a).sum(axis=0) * (y @ y))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (y @ a) / denom
    return np.where(denom > 0, r, 0.0)


@dataclass(frozen=True)
class UnitMatch:
    """One unit's score: `layer`, `quantity` (f, c, h, ...), `unit` and correlation `r`."""

    layer: int
    quantity: str
    unit: int
    r: float

    @property
    def key(self) -> str:
        return f"l{self.layer}/{self.quantity}[{self.unit}]"


@dataclass
class FindResult:
    """The units ranked by |r| against one target; `matches[0]` follows it best."""

    target: str
    series: np.ndarray
    matches: list[UnitMatch]

    @property
    def best(self) -> UnitMatch:
        return self.matches[0]

    def table(self) -> str:
        """The ranking as text lines."""
        lines = [f"{self.target}:", "  rank  unit                 r"]
        lines += [f"  {k:>4}  {m.key:<18} {m.r:+.3f}" for k, m in enumerate(self.matches, 1)]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"target": self.target,
                "matches": [{"layer": m.layer, "quantity": m.quantity, "unit": m.unit,
                             "r": round(m.r, 4)} for m in self.matches]}

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{k}</td><td>{html.escape(m.key)}</td><td>{m.r:+.3f}</td></tr>"
                       for k, m in enumerate(self.matches, 1))
        return (f"<p>{html.escape(self.target)}</p><table><tr><th>rank</th><th>unit</th>"
                f"<th>r</th></tr>{rows}</table>")


def check_target(target: np.ndarray, name: str, token: str = "character") -> np.ndarray:
    """`target`, or UserError if it is the same on every token (nothing correlates)."""
    if len(target) == 0 or np.ptp(target) == 0:
        value = f" ({target[0]:g})" if len(target) else ""
        raise UserError(f"{name}: the target is the same on every {token}{value}, so "
                        f"nothing can correlate with it")
    return target


def targets(text, patterns=(), depth: str | None = None, column: bool = False,
            separator: str = "", token: str = "character") -> list:
    """(name, series) for each regex in `patterns`, the bracket depth of `depth` pairs and the
    line position; checked before any model runs. `text`, `separator`: see span_indicator
    (depth and column read characters)."""
    out = [(f"inside /{p}/", span_indicator(text, p, separator)) for p in patterns]
    if depth is not None:
        out.append((f"nesting depth of {depth}", bracket_depth(text, depth)))
    if column:
        out.append(("position in the line", line_position(text)))
    return [(name, check_target(series, name, token)) for name, series in out]


def rank_units(acts, target: np.ndarray, name: str, top: int = 10,
               quantities=None) -> FindResult:
    """Every unit of every layer and quantity (or only `quantities`) ranked by |correlation|
    with `target` (T,)."""
    target = np.asarray(target, dtype=np.float64)
    if target.shape != (len(acts.text),):
        raise ValueError(f"rank_units: target has shape {target.shape}, the text "
                         f"{len(acts.text)} {acts.token_name}s")
    check_target(target, name, acts.token_name)
    found = []
    for layer, qs in enumerate(acts.layers):
        for q, values in qs.items():
            if quantities is None or q in quantities:
                r = correlations(np.asarray(values, dtype=np.float64), target)
                found += [UnitMatch(layer, q, j, float(r[j])) for j in range(len(r))]
    found.sort(key=lambda m: (-abs(m.r), m.layer, m.unit))
    return FindResult(name, target, found[:top])


def find_pattern(acts, pattern: str, top: int = 10, quantities=None) -> FindResult:
    """Units that follow the spans where regex `pattern` matches (e.g. `"[^"]*"`: inside
    quotes; over a word-level model's text, the words a match overlaps)."""
    return rank_units(acts, span_indicator(acts.text, pattern, acts.vocab.separator),
                      f"inside /{pattern}/", top, quantities)


def find_depth(acts, pairs: str = BRACKETS, top: int = 10, quantities=None) -> FindResult:
    """Units that follow the nesting depth of the brackets in `pairs`."""
    return rank_units(acts, bracket_depth(acts.text, pairs), f"nesting depth of {pairs}", top,
                      quantities)


def find_column(acts, top: int = 10, quantities=None) -> FindResult:
    """Units that follow the position in the line."""
    return rank_units(acts, line_position(acts.text), "position in the line", top, quantities)
