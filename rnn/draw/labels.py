"""Text inside diagrams: escaping any user text into Graphviz's HTML-like labels, and the small
pieces of markup (subscripts, time steps, σ) the figures are written with."""

from __future__ import annotations

import unicodedata

MAX_LABEL = 60  # escape_label cuts user text to this many characters

SIGMA = "σ"
TILDE = "&#771;"  # a combining tilde: c&#771; is c with a tilde on top


def escape_label(text: str, limit: int = MAX_LABEL) -> str:
    """Any text as a fragment of an HTML-like label: escaped, newlines as <br/>, cut to `limit`."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    out = []
    for ch in text:
        if ch == "\n":
            out.append("<br/>")
        elif ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch == "\t":
            out.append(" ")  # Graphviz rejects a label made of tabs alone
        elif _not_xml(ch):
            out.append("\ufffd")  # XML, hence Graphviz, cannot carry control characters
        else:
            out.append(ch)
    return "".join(out) or " "  # never empty: `<>` is a syntax error


# Markup characters become entities. Graphviz still reads backslash escapes in HTML-like labels
# (`\N` shows the node's name, `\\` one backslash), so a backslash is doubled; and `]` alone is a
# syntax error.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
             "\\": "&#92;&#92;", "]": "&#93;"}


def _not_xml(ch: str) -> bool:
    code = ord(ch)
    return (
        code < 0x20
        or 0xD800 <= code <= 0xDFFF  # lone surrogates
        or code in (0xFFFE, 0xFFFF)
        or unicodedata.category(ch) == "Cc"
    )


def html(fragment: str) -> str:
    """An HTML-like label: `fragment` in angle brackets."""
    return f"<{fragment}>"


def sub(base: str, index) -> str:
    """`base` with the subscript `index`."""
    return f"{base}<sub>{index}</sub>"


def time_subscript(offset: int) -> str:
    """The subscript of time step t + offset: t−1, t, t+1."""
    return "t" if offset == 0 else f"t{'+' if offset > 0 else '−'}{abs(offset)}"
