"""`rnn-lab inspect`: an offline page of a model's activations over a text, the units that follow
a pattern, and (with --gradients) how the gradient flows. It opens a character model (rnn-lab
train --task text) and the models of the born-in experiment (word or character level)."""

from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import dataclass, field

from rnn.argtypes import file_name, memory_size, positive_int, seed
from rnn.blas import single_thread_blas
from rnn.errors import UsageError, UserError
from rnn.resources import ENV as MEMORY_ENV

EXAMPLE = """\
examples:
  rnn-lab train --task text --text input.txt --checkpoint model.npz --steps 3000
  rnn-lab inspect model.npz --text input.txt -o inspect-out
  rnn-lab inspect model.npz --text input.txt -o inspect-out --find '"[^"]*"' --find-depth
  rnn-lab inspect model.npz --text code.py -o out --find-column --unit 17 --quantity c
  rnn-lab inspect model.npz --text input.txt -o out --gradients --grad-chars 60
  rnn-lab experiment born-in --quick --out born-in-out   # writes born-in-out/lstm.npz, ...
  rnn-lab inspect born-in-out/lstm.npz -o page           # a generated sentence, gap 30
  rnn-lab inspect born-in-out/lstm.npz -o page --gap 50 --seed 3 --country Japan --gradients
  rnn-lab inspect born-in-out/gru.npz -o page --text mine.txt --find 'France.*speak'

Writes DIR/index.html (open it in a browser; it needs no network), DIR/data/ (what the page
loads), DIR/activations.npz (text, l0/f, l0/c, l0/h, ... of shape (T, H), top5/ids, top5/p)
and, with --gradients, DIR/gradients.npz and three plots.

A born-in model reads words (or characters, if trained with --level char): without --text it
runs over a sentence the task generates ("I was born in <country> . <filler> . I can speak").
A text is split into the task's words at spaces, each full stop a word of its own; a word
outside the model's vocabulary stops the command with its line and column (the vocabulary
has no unknown token). The page shows one token per word, starts on the country unit (the
unit that best separates the countries at "speak") and, on hover, the model's top-5
languages if it were asked there; activations.npz holds `words` instead of `text`.
"""

MAX_GAP = 10_000  # words in a generated sentence's filler


def gap(text: str) -> int:
    """argparse type: the gap of a generated sentence, in words (1 to MAX_GAP)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of words: {text!r}") from None
    if not 1 <= value <= MAX_GAP:
        raise argparse.ArgumentTypeError(f"a gap is from 1 to {MAX_GAP:,} words, got {value}")
    return value


def regex(text: str) -> str:
    """argparse type: a regular expression that compiles."""
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"the regex {text!r} does not compile: {exc}") \
            from None
    return text


def bracket_pairs(text: str) -> str:
    """argparse type: bracket openers and closers in pairs, e.g. "()[]{}"."""
    if len(text) < 2 or len(text) % 2:
        raise argparse.ArgumentTypeError(f"bracket pairs {text!r}: give openers and closers "
                                         f"in pairs, e.g. '()[]{{}}'")
    return text


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect", help="see a model's gates over a text (a character model, or a born-in "
                        "model), find units that follow a pattern",
        description="Run a character model (or a born-in model, word by word) over a text and "
                    "write an offline HTML page: every token coloured by one unit's "
                    "activation (h, c or any gate, any layer), every gate and the model's "
                    "top-5 outputs on hover, and a search for the units that follow a pattern.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=file_name, metavar="CHECKPOINT",
                   help="a checkpoint of a character model (rnn-lab train --task text) or a "
                        "model of rnn-lab experiment born-in (OUT/lstm.npz)")
    p.add_argument("--text", type=file_name, metavar="FILE",
                   help="UTF-8 text to run the model over (a born-in model's default: a "
                        "sentence of its task)")
    p.add_argument("-o", "--out", type=file_name, required=True, metavar="DIR",
                   help="folder to write into (made if missing)")
    p.add_argument("--find", type=regex, action="append", default=[], metavar="REGEX",
                   help="rank the units by correlation with the spans REGEX matches "
                        "(repeatable), e.g. '\"[^\"]*\"' for inside quotes; over words, the "
                        "words a match overlaps")
    p.add_argument("--find-depth", nargs="?", const="()[]{}", type=bracket_pairs,
                   metavar="PAIRS",
                   help="rank the units by correlation with the bracket nesting depth "
                        "(default pairs: ()[]{}; character models)")
    p.add_argument("--find-column", action="store_true",
                   help="rank the units by correlation with the position in the line "
                        "(character models)")
    p.add_argument("--top", type=positive_int, default=10, metavar="N",
                   help="units to list per search (default 10)")
    p.add_argument("--layer", type=int, default=None, metavar="L",
                   help="layer the page shows first (default: the best unit's, else 0)")
    p.add_argument("--unit", type=int, default=None, metavar="J",
                   help="unit the page shows first (default: the best one found; a born-in "
                        "model's country unit; else 0)")
    p.add_argument("--quantity", default=None, metavar="Q",
                   help="quantity the page shows first: h, c, f, i, o, ... (default c or h)")
    p.add_argument("--replace-unknown", nargs="?", const="", default=None, metavar="CHAR",
                   help="map characters outside the model's vocabulary to CHAR (default: a "
                        "space) instead of stopping (character models)")
    p.add_argument("--gap", type=gap, metavar="N",
                   help="born-in, no --text: words between the country and the question in "
                        "the generated sentence (default: the gap the experiment analysed, 30)")
    p.add_argument("--seed", type=seed, metavar="S",
                   help="born-in, no --text: the seed of the generated sentence (default 0)")
    p.add_argument("--country", metavar="NAME",
                   help="born-in, no --text: the country the sentence names (default: drawn)")
    p.add_argument("--gradients", action="store_true",
                   help="also measure connectivity, per-step gradient contributions and the "
                        "Jacobian chain over the first --grad-chars tokens")
    p.add_argument("--grad-chars", type=positive_int, default=50, metavar="N",
                   help="tokens (characters, or words) for --gradients (default 50)")
    p.add_argument("--max-memory", type=memory_size, metavar="SIZE",
                   help="refuse a text whose activations would need more memory, e.g. 8GB "
                        "(default: $RNN_LAB_MAX_MEMORY, else half the RAM)")
    p.set_defaults(func=run)


@dataclass
class Subject:
    """What the page shows: a model, its tokens over one text, and how to name things."""

    model: object
    vocab: object
    text: str | tuple  # characters, or words
    cell: str
    title: str
    replaced: int = 0
    classes: list | None = None  # the names of the model's outputs, if it names a class
    answer: int | None = None  # the class the text calls for
    default: dict | None = None  # the view the page starts on
    extra: dict = field(default_factory=dict)  # for the page (rnn.inspect.page.page_meta)
    lines: list = field(default_factory=list)  # printed after the recording


def _sentence_flags(args) -> list[str]:
    return [f for f, v in (("--gap", args.gap), ("--seed", args.seed),
                           ("--country", args.country)) if v is not None]


def _character_model(args, ckpt) -> Subject:
    """A character model of rnn-lab train over --text."""
    from rnn.data import read_text
    from rnn.inspect import UnknownCharacters, prepare_text
    from rnn.training import model_from_checkpoint

    model, config, vocab = model_from_checkpoint(ckpt)
    if config.task != "text":
        raise UserError(f"{args.checkpoint}: a model of --task {config.task}, not a character "
                        f"model; inspect needs one trained with --task text")
    if _sentence_flags(args):
        raise UsageError(f"{', '.join(_sentence_flags(args))}: only for a born-in model's "
                         f"generated sentence; {args.checkpoint} is a character model of "
                         f"rnn-lab train")
    if args.text is None:
        raise UsageError(f"--text FILE is needed: {args.checkpoint} is a character model of "
                         f"rnn-lab train; give the text to run it over")
    try:
        text, replaced = prepare_text(read_text(args.text), vocab, args.replace_unknown,
                                      args.text)
    except UnknownCharacters as exc:
        raise UserError(f"{exc}; pass --replace-unknown[=CHAR] to map them to a space "
                        f"(or CHAR)") from None
    return Subject(model, vocab, text, config.cell, f"rnn-lab inspect: {config.cell} on "
                   f"{args.text}", replaced)


def _born_in_text(args, run) -> tuple[str, str]:
    """(text, where it comes from): --text, else a sentence of the task."""
    import numpy as np

    from rnn import tasks_born_in as bi
    from rnn.data import read_text

    if args.text is not None:
        if _sentence_flags(args):
            raise UsageError(f"{', '.join(_sentence_flags(args))}: only for the sentence "
                             f"inspect generates; drop it with --text")
        return read_text(args.text), args.text
    country, known = None, bi.COUNTRIES[:run.cfg.countries]
    if args.country is not None:
        if args.country not in known or args.country not in run.countries:
            raise UsageError(f"--country {args.country!r}: the model knows "
                             f"{', '.join(run.countries)}")
        country = known.index(args.country)
    gap_, seed_ = args.gap or run.cfg.shown_gap, args.seed or 0
    words, _ = bi.born_in_sentence(gap_, np.random.default_rng(seed_), run.cfg.countries,
                                   run.cfg.distractors, country)
    return bi.as_text(words), f"a sentence of the task (gap {gap_}, seed {seed_})"


def _born_in_model(args, ckpt) -> Subject:
    """A model of the born-in experiment over --text or a sentence of its task."""
    from rnn import tasks_born_in as bi
    from rnn.born_in_analysis import ANALYSIS_SENTENCES, country_unit
    from rnn.born_in_checkpoint import from_checkpoint
    from rnn.inspect import UnknownCharacters, UnknownWords, prepare_text, prepare_words

    run = from_checkpoint(ckpt)
    if run.level == "word":
        for flag, given in (("--replace-unknown", args.replace_unknown is not None),
                            ("--find-depth", args.find_depth is not None),
                            ("--find-column", args.find_column)):
            if given:
                raise UsageError(f"{flag} reads characters; {args.checkpoint} is a word-level "
                                 f"born-in model (use --find REGEX over its words)")
    text, source = _born_in_text(args, run)
    if run.level == "word":
        try:
            tokens, replaced = prepare_words(text, run.vocab, source), 0
        except UnknownWords as exc:
            raise UsageError(str(exc)) from None
    else:
        try:
            tokens, replaced = prepare_text(text, run.vocab, args.replace_unknown, source)
        except UnknownCharacters as exc:
            raise UserError(f"{exc}; pass --replace-unknown[=CHAR] to map them") from None
    answer = bi.born_country(text, run.countries)
    quantity, unit, score = country_unit(run.model, run.cfg, run.seed)
    layers = len(run.model.layer.cells)
    where = (f'layer {layers - 1}, {quantity}, unit {unit}: of all units it best separates the '
             f'{run.cfg.countries} countries at "speak", between/within variance {score:.2f} '
             f'over {ANALYSIS_SENTENCES} sentences at gap {run.cfg.shown_gap}')
    extra = {"note": f"The page starts on the country unit: {where}.",
             "answer": None if answer is None else run.languages[answer],
             "findPattern": (f"{run.countries[answer]}.*speak" if answer is not None
                             else "born.*speak")}
    return Subject(run.model, run.vocab, tokens, run.cell,
                   f"rnn-lab inspect: {run.cell} born-in model ({run.level} level) on {source}",
                   replaced, run.languages, answer,
                   {"layer": layers - 1, "unit": unit, "quantity": quantity}, extra,
                   [f"country unit: {where}"])


def _initial_view(args, finds, quantities, default=None) -> dict:
    """The unit the page shows first: the one asked for, else the best one found, else the
    model's own default (a born-in model's country unit)."""
    best = next((m for f in finds for m in f.matches
                 if args.layer in (None, m.layer) and args.quantity in (None, m.quantity)), None)
    if args.unit is None and best is not None:
        return {"layer": best.layer, "unit": best.unit, "quantity": best.quantity}
    default = default or {}
    if args.layer is not None and args.layer != default.get("layer"):
        default = {}  # the default unit belongs to another layer
    return {"layer": args.layer if args.layer is not None else default.get("layer", 0),
            "unit": args.unit if args.unit is not None else default.get("unit", 0),
            "quantity": args.quantity or default.get("quantity")
            or ("c" if "c" in quantities else "h")}


def run(args) -> int:
    single_thread_blas()
    if args.max_memory is not None:
        os.environ[MEMORY_ENV] = str(args.max_memory)  # read by the memory checks
    from rnn.checkpoint import load_checkpoint
    from rnn.inspect import record
    from rnn.inspect.find import rank_units, targets
    from rnn.inspect.page import write_page
    from rnn.inspect.report import gradient_flow, write_gradient_flow
    from rnn.io import check_output_folder, output_folder
    from rnn.resources import check_memory

    ckpt = load_checkpoint(args.checkpoint)
    subject = (_born_in_model if ckpt.kind == "born-in" else _character_model)(args, ckpt)
    model, vocab, text = subject.model, subject.vocab, subject.text
    token = "word" if isinstance(text, tuple) else "character"
    layer = model.layer
    if args.layer is not None and not 0 <= args.layer < layer.num_layers:
        raise UsageError(f"--layer {args.layer} is out of range: the model has "
                        f"{layer.num_layers} layer(s), 0 to {layer.num_layers - 1}")
    if args.unit is not None and not 0 <= args.unit < layer.hidden_size:
        raise UsageError(f"--unit {args.unit} is out of range: the model has "
                        f"{layer.hidden_size} units per layer, 0 to {layer.hidden_size - 1}")
    quantities = record(model, vocab, text[:1]).quantities(args.layer or 0)
    if args.quantity is not None and args.quantity not in quantities:
        raise UsageError(f"--quantity {args.quantity!r}: a {subject.cell} layer has "
                        f"{', '.join(quantities)}")
    if args.gradients and subject.classes is not None and subject.answer is None:
        raise UserError("--gradients needs the answer its loss names: the text names none of "
                        "the model's countries after \"born in\"")
    wanted = targets(text, args.find, args.find_depth, args.find_column, vocab.separator,
                     token)
    # every quantity of every layer as float64 (T, H), about twice over while it is written
    check_memory(2 * 8 * len(text) * layer.hidden_size * layer.num_layers
                 * (len(quantities) + 1), f"the activations of {len(text):,} {token}s")
    check_output_folder(args.out)

    t0 = time.perf_counter()
    acts = record(model, vocab, text, classes=subject.classes)
    acts.replaced = subject.replaced
    seconds = time.perf_counter() - t0
    finds = [rank_units(acts, series, name, args.top) for name, series in wanted]
    flow = None
    if args.gradients and subject.classes is not None:
        flow = gradient_flow(model, vocab, text[:args.grad_chars], subject.answer)
    elif args.gradients:
        flow = gradient_flow(model, vocab, text[:args.grad_chars + 1])

    folder = output_folder(args.out)
    acts.save(folder / "activations.npz")
    figures = write_gradient_flow(flow, folder) if flow is not None else ()
    initial = _initial_view(args, finds, quantities, subject.default)
    page = write_page(acts, folder, subject.title, finds, initial, figures, subject.extra)
    print(f"recorded {len(acts.keys())} arrays of {len(text)} {token}s x {acts.hidden_size} "
          f"({subject.cell}, {layer.num_layers} layer(s)) in {seconds:.1f} s"
          + (f"; {subject.replaced} unknown characters replaced" if subject.replaced else ""))
    for line in subject.lines:
        print(line)
    for f in finds:
        print(f.table())
    for line in flow.summary() if flow is not None else ():
        print(line)
    print(f"wrote {folder / 'activations.npz'} and {page} (open it in a browser)")
    return 0
