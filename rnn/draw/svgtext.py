"""Subscripts and superscripts that every browser lays out: Graphviz writes each run of an
HTML-like label (`f<sub>t</sub> = σ(...)`) as its own <text> at an x of its own font metrics,
the subscript marked `baseline-shift="sub"` and as large as the rest. Chromium then leaves
wide gaps where its glyphs are narrower than Graphviz guessed, and Firefox ignores
baseline-shift. `join_runs` rewrites each such line as one <text> of <tspan>s: the browser
places the runs one after the other, and a `dy` shift, which both browsers honour, lowers
(raises) a smaller sub- (super-)script.
"""

from __future__ import annotations

import re

_TEXT = re.compile(r'<text text-anchor="(?P<anchor>\w+)" x="(?P<x>-?[\d.]+)" '
                   r'y="(?P<y>-?[\d.]+)"(?P<attrs>[^>]*)>(?P<body>[^<]*)</text>\n?')
_SHIFT = re.compile(r' baseline-shift="(sub|super)"')
_SIZE = re.compile(r' font-size="([\d.]+)"')
SCRIPT_SCALE = 0.75  # a sub- or superscript's size, of the text's
DROP = {"sub": 0.3, "super": -0.45}  # baseline shift, in the text's font size (down is +)


def _runs(svg: str):
    """Yield (start, end, [match, ...]) for each line of consecutive <text> runs that share a y
    and hold at least one sub- or superscript."""
    group = []
    for m in _TEXT.finditer(svg):
        if group and (m.start() != group[-1].end() or m["y"] != group[-1]["y"]):
            yield from _shifted(group)
            group = []
        group.append(m)
    yield from _shifted(group)


def _shifted(group):
    # only left-aligned runs: a line's start is then where Graphviz put its first run
    if (len(group) > 1 and any(_SHIFT.search(m["attrs"]) for m in group)
            and all(m["anchor"] == "start" for m in group)):
        yield group[0].start(), group[-1].end(), group


def _line(group) -> str:
    """One <text> for the runs of `group`, each a <tspan> after the one before."""
    first = group[0]
    base_attrs = _SHIFT.sub("", first["attrs"])
    size = float((_SIZE.search(base_attrs) or [None, "14"])[1])
    spans, at = [], 0.0
    for m in group:
        shift = _SHIFT.search(m["attrs"])
        attrs = _SHIFT.sub("", m["attrs"])
        target = DROP[shift[1]] * size if shift else 0.0
        if shift:
            own = float((_SIZE.search(attrs) or [None, size])[1])
            attrs = _SIZE.sub("", attrs) + f' font-size="{own * SCRIPT_SCALE:.2f}"'
        dy = f' dy="{target - at:.2f}"' if target != at else ""
        at = target
        extra = attrs if attrs != base_attrs else ""
        spans.append(f"<tspan{dy}{extra}>{m['body']}</tspan>")
    return (f'<text xml:space="preserve" text-anchor="start" x="{first["x"]}" '
            f'y="{first["y"]}"{base_attrs}>{"".join(spans)}</text>\n')


def join_runs(svg: str) -> str:
    """`svg` with every line of sub- or superscripted runs rewritten as one <text>."""
    out, done = [], 0
    for start, end, group in _runs(svg):
        out += [svg[done:start], _line(group)]
        done = end
    out.append(svg[done:])
    return "".join(out)
