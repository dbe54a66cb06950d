"""The offline inspection page: `index.html` (from the template `page.html` beside this file)
and small data scripts in `data/` that the page loads as it needs them, with no network.

A view needs one unit of one layer over one page of text: the data is cut into blocks of
BLOCK_CHARS tokens (characters, or words for a word-level model), and each (layer, unit,
block) file holds every quantity of that unit as float16 (base64). The tokens and the top-5
outputs come in one file per block. For the in-page search, `find-{q}.js` holds every unit of
one quantity over the first tokens, quantized to 8 bits per unit (a correlation does not
change under a per-unit affine map).
Browsers refuse `fetch` on file:// pages, so every data file is a script that calls
`RNNI.*(...)`.
"""

from __future__ import annotations

import base64
import json
import string
from pathlib import Path

import numpy as np

from rnn.io import output_folder, write_text

TEMPLATE = string.Template(Path(__file__).with_name("page.html").read_text(encoding="utf-8"))
SCRIPT = Path(__file__).with_name("page.js").read_text(encoding="utf-8")
BLOCK_CHARS = 10_000
PAGE_CHARS = 2_000
FIND_BYTES = 256 * 1024  # per find file: characters searched in the page = this / H


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _half(values: np.ndarray) -> np.ndarray:
    """float16, little-endian, clipped to its finite range."""
    return np.clip(values, -65504, 65504).astype("<f2")


def _js_value(value) -> str:
    """`value` as JSON that can sit inside a <script> element."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("</", "<\\/")


def _id_type(acts) -> str:
    """Output ids (top 5) as one byte each when there are few enough outputs, else two."""
    return "u1" if len(acts.outputs) <= 256 else "<u2"


def _call(name: str, *args) -> str:
    return f"RNNI.{name}({','.join(_js_value(a) for a in args)});\n"


def _ranges(acts) -> list:
    """Per layer, per quantity: [[lo, hi] per unit] over the whole text."""
    return [[np.round(np.stack([v.min(axis=0), v.max(axis=0)], axis=1).astype(float), 5)
             .tolist() for v in layer.values()] for layer in acts.layers]


def find_chars(acts) -> int:
    """How many leading tokens the in-page search covers (one block at most)."""
    return min(len(acts.text), BLOCK_CHARS, max(PAGE_CHARS, FIND_BYTES // acts.hidden_size))


def data_files(acts):
    """Yield every data script of the page as (relative path, text), one at a time."""
    T, H = len(acts.text), acts.hidden_size
    for k, a in enumerate(range(0, T, BLOCK_CHARS)):
        b = min(a + BLOCK_CHARS, T)
        yield f"data/b{k}.js", _call("block", k, _tokens(acts.text[a:b]),
                                     _b64(acts.top_ids[a:b].astype(_id_type(acts))),
                                     _b64(_half(acts.top_p[a:b])))
        for layer, qs in enumerate(acts.layers):
            stacked = np.stack([v[a:b] for v in qs.values()])  # (Q, n, H)
            for unit in range(H):
                yield (f"data/l{layer}/u{unit}-b{k}.js",
                       _call("unit", layer, unit, k, _b64(_half(stacked[:, :, unit]))))
    n = find_chars(acts)
    for layer, qs in enumerate(acts.layers):
        for qi, v in enumerate(qs.values()):
            v = np.asarray(v[:n], dtype=np.float64)
            lo, span = v.min(axis=0), np.ptp(v, axis=0)
            q = np.round((v - lo) / np.where(span > 0, span, 1.0) * 255).astype(np.uint8)
            yield f"data/l{layer}/find-{qi}.js", _call("find", layer, qi, _b64(q))


def _tokens(text):
    """A block's tokens for the page: a string of characters, or a list of words."""
    return text if isinstance(text, str) else list(text)


def page_meta(acts, finds=(), initial=None, extra=None) -> dict:
    """What index.html embeds: sizes, quantity names, ranges, the command line's findings.

    `extra` may hold "note" (a sentence for the summary), "answer" (the output the text
    calls for, shown in bold) and "findPattern" (the search box's first regex)."""
    H = acts.hidden_size
    initial = initial or {}
    extra = extra or {}
    return {
        "cell": acts.cell, "T": len(acts.text), "H": H, "layers": len(acts.layers),
        "quantities": [list(layer) for layer in acts.layers], "ranges": _ranges(acts),
        "token": acts.token_name, "separator": acts.vocab.separator,
        "outputs": acts.outputs, "predicts": "next" if acts.classes is None else "class",
        "note": extra.get("note", ""), "answer": extra.get("answer"),
        "findPattern": extra.get("findPattern", '"[^"]*"'),
        "topK": int(acts.top_ids.shape[1]),
        "idBytes": np.dtype(_id_type(acts)).itemsize,
        "blockChars": BLOCK_CHARS, "pageChars": PAGE_CHARS,
        "findChars": find_chars(acts),
        "finds": [f.to_dict() for f in finds], "replaced": acts.replaced,
        "initial": {"layer": initial.get("layer", 0), "unit": initial.get("unit", 0),
                    "quantity": initial.get("quantity",
                                            "c" if "c" in acts.layers[0] else "h")},
    }


def render(acts, title: str, finds=(), initial=None, figures=(), extra=None) -> str:
    """The text of index.html."""
    meta = page_meta(acts, finds, initial, extra)
    shown = "".join(f'<figure><img src="{_html(name)}" alt="{_html(caption)}">'
                    f"<figcaption>{_html(caption)}</figcaption></figure>\n"
                    for name, caption in figures)
    section = f'<h2>Gradient flow</h2>\n<div class="figures">{shown}</div>' if shown else ""
    return TEMPLATE.substitute(title=_html(title), meta=_js_value(meta), script=SCRIPT,
                               figures=section)


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def write_page(acts, folder, title: str = "rnn-lab inspect", finds=(), initial=None,
               figures=(), extra=None) -> Path:
    """Write index.html and its data scripts into `folder` (made if missing); index.html comes
    last, so a page never points at data that is not there yet. Returns its path.

    `figures`: (file name in `folder`, caption) pairs shown under the text; `extra`: see
    `page_meta`."""
    folder = output_folder(folder)
    page = render(acts, title, finds, initial, figures, extra)
    output_folder(folder / "data", "data folder")
    for layer in range(len(acts.layers)):
        output_folder(folder / "data" / f"l{layer}", "data folder")
    for name, text in data_files(acts):
        write_text(folder / name, text, "page data")
    return write_text(folder / "index.html", page, "page")
