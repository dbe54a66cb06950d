"""Every gate and state of a model over a text (its characters, or its words for a word-level
model), read from the readable cell graph.

Two passes per layer: a step-by-step pass (no graph) finds the state before each character;
then the readable cell runs once more on blocks of steps at a time, with time as the batch
axis, and every labelled node of that graph (`f_t`, `i_t`, `c~_t`, `c_t`, `o_t`, `h_t`, ...)
is read off as a (T, H) array. The values are the readable graph's own. Step t is token t.
"""

from __future__ import annotations

import difflib
import html
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from autograd_lite.tensor import Tensor, no_grad
from rnn.data import DataError, Vocab, WordVocab, one_hot
from rnn.errors import UserError
from rnn.io import replacing

TOP_K = 5
BLOCK_STEPS = 4096  # steps per batched readable-graph call (bounds the memory it needs)


class UnknownCharacters(DataError):
    """A text holding characters the model's vocabulary lacks; `count` and `distinct` say how
    many."""

    def __init__(self, message: str, count: int, distinct: int):
        super().__init__(message)
        self.count, self.distinct = count, distinct


class UnknownWords(DataError):
    """A text holding words the model's vocabulary lacks; the message names the first one and
    where it is."""


def prepare_words(text: str, vocab: WordVocab, what: str = "text") -> tuple[str, ...]:
    """The words of `text` (split as `vocab` splits them); a word outside the vocabulary
    raises UnknownWords naming it, its line and column and its number in the text (a
    word-level vocabulary has no unknown token to stand in for it)."""
    found = vocab.split(text)
    if not found:
        raise DataError(f"{what}: no words")
    unknown = [(k, w, at) for k, (w, at) in enumerate(found) if w not in vocab.index]
    if unknown:
        k, word, at = unknown[0]
        line = text.count("\n", 0, at) + 1
        column = at - text.rfind("\n", 0, at)
        close = ([t for t in vocab.tokens if t.lower() == word.lower()]
                 or difflib.get_close_matches(word, vocab.tokens, n=1))
        more = len({w for _, w, _ in unknown}) - 1
        raise UnknownWords(
            f"{what}: line {line}, column {column} (word {k + 1}): {word!r} is not in the "
            f"model's vocabulary of {len(vocab)} words"
            + (f"; did you mean {close[0]!r}?" if close else "")
            + (f" ({more} other unknown word{'s' if more > 1 else ''} after it)" if more else ""))
    return tuple(w for w, _ in found)


def quantity_key(label: str) -> str:
    """The short name of a node label: `f_t` -> `f`, `c~_t` -> `c~`, `tanh(c_t)` -> `tanh(c)`."""
    return re.sub(r"_t(?![A-Za-z0-9])", "", label)


def prepare_text(text: str, vocab: Vocab, replace: str | None = None, what: str = "text"):
    """`text` with every character in `vocab`: unknown ones raise UnknownCharacters, or, when
    `replace` is given, become `replace` ("" picks a space, or the vocabulary's first
    character). Returns (text, number of characters replaced)."""
    if not text:
        raise DataError(f"{what}: no text")
    unknown = Counter(c for c in text if c not in vocab.index)
    if not unknown:
        return text, 0
    count = sum(unknown.values())
    if replace is None:
        shown = ", ".join(f"{c!r} x{n}" for c, n in unknown.most_common(5))
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise UnknownCharacters(
            f"{what}: {count} of {len(text)} characters ({len(unknown)} distinct) are not in "
            f"the model's vocabulary: {shown}{more}", count, len(unknown))
    if replace == "":
        replace = " " if " " in vocab.index else vocab.chars[0]
    if len(replace) != 1 or replace not in vocab.index:
        raise UserError(f"the replacement {replace!r} must be one character of the model's "
                        f"vocabulary")
    return "".join(c if c in vocab.index else replace for c in text), count


@dataclass
class Activations:
    """A model's activations over a text: `text` is its characters (a str) for a character
    model, its words (a tuple) for a word-level one; token t is step t.

    `layers[l][q]` is quantity q (`"f"`, `"i"`, `"c~"`, `"c"`, `"o"`, `"tanh(c)"`, `"h"`, ...
    as the cell labels its nodes) of layer l, shape (T, H): row t is the value after reading
    token t. `top_ids`/`top_p` (T, k) are the model's k most likely outputs after token t and
    their probabilities: the next token, or one of `classes` for a model that names a class
    (the born-in model's language). `acts["l0/f"]` reads one array.
    """

    text: str | tuple[str, ...]
    vocab: Vocab | WordVocab
    cell: str
    layers: list[dict[str, np.ndarray]]
    top_ids: np.ndarray
    top_p: np.ndarray
    replaced: int = 0
    meta: dict = field(default_factory=dict)
    classes: list[str] | None = None

    @property
    def token_name(self) -> str:
        """What one step reads: "character" or "word"."""
        return "word" if isinstance(self.vocab, WordVocab) else "character"

    @property
    def joined(self) -> str:
        """The text as one string (words with a space between them)."""
        return self.vocab.separator.join(self.text)

    @property
    def outputs(self) -> list[str]:
        """The names `top_ids` index: the classes, else the vocabulary's tokens."""
        return self.classes if self.classes is not None else self.vocab.tokens

    @property
    def hidden_size(self) -> int:
        return next(iter(self.layers[0].values())).shape[1]

    def quantities(self, layer: int = 0) -> tuple[str, ...]:
        """The quantities of `layer`, in the order the cell computes them."""
        return tuple(self.layers[layer])

    def keys(self) -> list[str]:
        """Every `l{layer}/{quantity}` key."""
        return [f"l{k}/{q}" for k, qs in enumerate(self.layers) for q in qs]

    def __getitem__(self, key: str) -> np.ndarray:
        match = re.fullmatch(r"l(\d+)/(.+)", key)
        if not match or int(match[1]) >= len(self.layers) or \
                match[2] not in self.layers[int(match[1])]:
            raise KeyError(f"{key!r}: keys are {', '.join(self.keys())}")
        return self.layers[int(match[1])][match[2]]

    def unit(self, layer: int, unit: int) -> dict[str, np.ndarray]:
        """Every quantity of one unit, each (T,)."""
        check_unit(self, layer, unit)
        return {q: a[:, unit] for q, a in self.layers[layer].items()}

    def arrays(self) -> dict[str, np.ndarray]:
        """What `save` writes: `text` and `vocab` (uint32 code points) for a character model,
        `words` and `vocab` (strings) for a word-level one; each `l{l}/{q}` (T, H);
        `top5/ids`, `top5/p` and the names of the top 5: `top5/chars` (code points), or with
        `classes`, `classes` and `top5/classes` (strings)."""
        if self.token_name == "word":
            out = {"words": np.array(self.text, dtype=str),
                   "vocab": np.array(self.vocab.tokens, dtype=str)}
        else:
            out = {"text": np.frombuffer(self.text.encode("utf-32-le"), dtype="<u4")
                   .astype(np.uint32),
                   "vocab": np.array([ord(c) for c in self.vocab.chars], dtype=np.uint32)}
        for key in self.keys():
            out[key] = self[key]
        k = self.top_ids.shape[1]
        out[f"top{k}/ids"] = self.top_ids
        if self.classes is not None:
            out["classes"] = np.array(self.classes, dtype=str)
            out[f"top{k}/classes"] = out["classes"][self.top_ids]
        else:
            out[f"top{k}/chars"] = out["vocab"][self.top_ids]
        out[f"top{k}/p"] = self.top_p
        return out

    def save(self, path) -> str:
        """Write `arrays()` to an `.npz` file (no pickles), whole or not at all."""
        with replacing(path, "activations") as tmp, open(tmp, "wb") as f:
            np.savez(f, **self.arrays())
        return str(path)

    def show(self, quantity: str = "h", unit: int = 0, layer: int = 0, start: int = 0,
             length: int = 2000) -> ColouredText:
        """Tokens [start, start + length) coloured by one unit (displays in Jupyter)."""
        check_unit(self, layer, unit)
        values = self[f"l{layer}/{quantity}"][:, unit]
        return ColouredText(self.text[start:start + length], values[start:start + length],
                            f"layer {layer}, {quantity}, unit {unit}", self.vocab.separator)

    def _repr_html_(self) -> str:
        q = "c" if "c" in self.layers[-1] else "h"
        return (f"<p>Activations of a {html.escape(self.cell)} model: {len(self.text)} "
                f"{self.token_name}s, {len(self.layers)} layer(s) of {self.hidden_size} units, "
                f"quantities {html.escape(', '.join(self.quantities()))}.</p>"
                + self.show(q, 0, len(self.layers) - 1, length=600)._repr_html_())


@dataclass
class ColouredText:
    """Text coloured by one series of values, one per token: red positive, blue negative."""

    text: str | tuple[str, ...]
    values: np.ndarray
    title: str = ""
    separator: str = ""  # between two tokens, uncoloured

    def _repr_html_(self) -> str:
        scale = float(np.max(np.abs(self.values))) or 1.0
        spans = []
        for ch, v in zip(self.text, self.values):
            a = min(abs(float(v)) / scale, 1.0)
            rgb = "220,50,32" if v >= 0 else "30,90,220"
            shown = "↵\n" if ch == "\n" else html.escape(ch)
            spans.append(f'<span style="background:rgba({rgb},{a:.2f})" '
                         f'title="{float(v):+.3f}">{shown}</span>')
        return (f"<div><b>{html.escape(self.title)}</b><pre style=\"white-space:pre-wrap;"
                f"font-family:monospace;line-height:1.5\">"
                f"{html.escape(self.separator).join(spans)}</pre></div>")


def check_unit(acts: Activations, layer: int, unit: int) -> None:
    """UserError unless the layer and unit exist."""
    if not 0 <= layer < len(acts.layers):
        raise UserError(f"layer {layer} is out of range: the model has {len(acts.layers)} "
                        f"layer(s), 0 to {len(acts.layers) - 1}")
    if not 0 <= unit < acts.hidden_size:
        raise UserError(f"unit {unit} is out of range: layer {layer} has {acts.hidden_size} "
                        f"units, 0 to {acts.hidden_size - 1}")


def input_vectors(model, ids: np.ndarray) -> np.ndarray:
    """What a model of tokens (a CharModel, a BornInModel) feeds its first layer for `ids`
    (T,): embedding rows or one-hot."""
    if model.embed is not None:
        return np.array(model.embed.weight.data[ids])
    return one_hot(ids, model.vocab_size, model.dtype)


def state_sequence(cell, x: np.ndarray) -> np.ndarray:
    """The cell's states before and after each step, (len(STATE), T + 1, H), from zeros."""
    T, H = len(x), cell.hidden_size
    out = np.zeros((len(cell.STATE), T + 1, H), dtype=cell.dtype)
    state = None
    with no_grad():
        for t in range(T):
            state = cell(x[t:t + 1], state)
            for k, s in enumerate(state if isinstance(state, tuple) else (state,)):
                out[k, t + 1] = s.data[0]
    return out


def labelled_nodes(outputs, batch: int, hidden: int) -> dict[str, np.ndarray]:
    """Each labelled (batch, hidden) node that produced `outputs`, by label, in the order the
    graph made them (leaves and the [h, x] concatenation left out)."""
    found, seen = {}, set()
    stack = list(outputs)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.parents and node.label and node.shape == (batch, hidden):
            found[node] = node.label
        stack.extend(node.parents)
    return {label: np.array(node.data) for node, label in
            sorted(found.items(), key=lambda item: item[0].seq)}


def cell_quantities(cell, x: np.ndarray, before: np.ndarray) -> dict[str, np.ndarray]:
    """Every labelled quantity of the readable cell over steps with inputs x (T, D) and states
    `before` (len(STATE), T, H) before each step: time runs along the batch axis."""
    T, H = len(x), cell.hidden_size
    parts: dict[str, list] = {}
    for a in range(0, T, BLOCK_STEPS):
        b = min(a + BLOCK_STEPS, T)
        leaves = tuple(Tensor(before[k, a:b], requires_grad=True, label=f"{name}_{{t-1}}")
                       for k, name in enumerate(cell.STATE))
        out = cell(Tensor(x[a:b], label="x_t"), leaves if len(leaves) > 1 else leaves[0])
        for label, value in labelled_nodes(out if isinstance(out, tuple) else (out,),
                                           b - a, H).items():
            parts.setdefault(quantity_key(label), []).append(value)
    return {q: np.concatenate(v) for q, v in parts.items()}


def top_k(model, h_last: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """The model's k most likely outputs (T, k) (next tokens, or classes) and their
    probabilities, from the last layer's h_t through the model's decoder."""
    k = min(k, model.decoder.weight.shape[0])
    ids, probs = [], []
    with no_grad():
        for a in range(0, len(h_last), BLOCK_STEPS):
            z = model.decoder(Tensor(h_last[a:a + BLOCK_STEPS])).data.astype(np.float64)
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            best = np.argsort(-p, axis=1, kind="stable")[:, :k]
            ids.append(best)
            probs.append(np.take_along_axis(p, best, axis=1))
    return np.concatenate(ids), np.concatenate(probs)


def record(model, vocab: Vocab | WordVocab, text, replace: str | None = None,
           classes=None) -> Activations:
    """Run a model of tokens over `text` and record every gate and state of every layer and
    its top-5 outputs. A character model (`vocab` a Vocab) reads the characters of a str
    (`replace`: see `prepare_text`) and predicts the next one; a word-level one (a WordVocab)
    reads a sequence of words. `classes` names the outputs of a model that predicts a class
    (e.g. the born-in model's languages) instead of the next token."""
    outputs = model.decoder.weight.shape[0]
    if classes is not None and len(classes) != outputs:
        raise ValueError(f"record: {len(classes)} class names for a model of {outputs} outputs")
    if isinstance(vocab, WordVocab):
        if isinstance(text, str):
            raise TypeError("record: a word-level model reads a sequence of words; split the "
                            "text with prepare_words")
        text, replaced = tuple(text), 0
    else:
        text, replaced = prepare_text(text, vocab, replace)
    ids = vocab.encode(text)
    x = input_vectors(model, ids)
    layers = []
    for cell in model.layer.cells:
        states = state_sequence(cell, x)
        quantities = cell_quantities(cell, x, states[:, :-1])
        layers.append(quantities)
        x = quantities["h"]
    top_ids, top_p = top_k(model, x)
    return Activations(text, vocab, model.layer.cell_class.name, layers, top_ids, top_p,
                       replaced, classes=None if classes is None else list(classes))
