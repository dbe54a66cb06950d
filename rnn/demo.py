"""The main job (`rnn-lab demo`): derive the LSTM's gradients, draw it, train a tanh RNN and an
LSTM on the adding problem and a character model on text, and gather it all in one index.html.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnn.errors import UserError
from rnn.io import output_folder, replacing, write_text
from rnn.plots import plot_char_model, plot_conveyor_belt
from rnn.reports import REPORT_FILES, write_reports
from rnn.symbolic import plot_path_magnitudes

DEFAULT_OUT = "rnn-lab-demo"
MIN_TEXT = 500  # characters: less than this is too little to train a character model on
DEFAULT_TEXT_NAME = "the Python language reference"  # pydoc_data.topics
PARTS = 5


@dataclass(frozen=True)
class DemoConfig:
    """Sizes and budgets of every part; `quick_config()` is the sub-30-second version."""

    seed: int = 0
    quick: bool = False
    # cross-check of the closed forms (sizes of the random problem)
    check: tuple = (4, 3, 2, 6)  # H, D, B, T
    # the adding problem, one run per (cell, lag), all with the same budget
    lags: tuple = (50, 100)
    adding_steps: int = 2000
    adding_hidden: int = 32
    workers: int = 2
    # the gradient overlay: an RNN and an LSTM unrolled this many steps
    overlay_steps: int = 30
    # the character model
    char_hidden: int = 128
    char_seq: int = 64
    char_batch: int = 64
    char_steps: int = 1500
    char_lr: float = 5e-3
    char_val_every: int = 250
    val_fraction: float = 0.05
    sample_length: int = 400
    temperature: float = 0.8

    @classmethod
    def full(cls, seed: int = 0) -> DemoConfig:
        """The full demo: about two minutes on two cores."""
        return cls(seed=seed)

    @classmethod
    def quick_config(cls, seed: int = 0) -> DemoConfig:
        """Every part, with small models and short runs (well under 30 seconds)."""
        return cls(seed=seed, quick=True, check=(3, 2, 2, 3), lags=(10, 25), adding_steps=1000,
                   overlay_steps=12, char_hidden=64, char_seq=32, char_batch=32,
                   char_steps=300, char_lr=1e-2, char_val_every=100, sample_length=160)

    @property
    def grad_lag(self) -> int:
        """The lag at which gradient norms and the conveyor belt are measured."""
        return max(self.lags)

    def experiment(self):
        """The `rnn.experiment.LongTermConfig` for the adding-problem part."""
        from rnn.experiment import LongTermConfig

        if self.quick:
            cfg = LongTermConfig.quick(seed=self.seed, steps=self.adding_steps)
        else:
            cfg = LongTermConfig(lags=self.lags, grad_lag=self.grad_lag,
                                 steps=self.adding_steps, hidden=self.adding_hidden,
                                 seed=self.seed)
        cfg.workers = self.workers
        return cfg


# ------------------------------------------------------------------------------------------
# Inputs and outputs
# ------------------------------------------------------------------------------------------


def default_text() -> str:
    """The Python language reference that ships with every Python (pydoc_data.topics)."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise UserError("this Python has no pydoc_data (the language reference); "
                        "give a UTF-8 text file with --text FILE") from None
    return "".join(topics.values())


def load_text(path=None) -> tuple[str, str]:
    """(text, name): `path` read as UTF-8 (with clear errors), or the default text."""
    from rnn.data import read_text

    if path is None:
        text, name = default_text(), DEFAULT_TEXT_NAME
    else:
        text, name = read_text(path), os.fspath(path)
    if len(text) < MIN_TEXT:
        raise UserError(f"{name}: {len(text)} characters is too little text to train a "
                        f"character model on; give at least {MIN_TEXT}")
    return text, name


def prepare_folder(folder) -> Path:
    """`folder` (made if missing, in a folder that exists) with its subfolders."""
    folder = output_folder(folder)
    for sub in ("figures", "plots", "experiment"):
        output_folder(folder / sub)
    return folder


# ------------------------------------------------------------------------------------------
# Part 1: the derivation
# ------------------------------------------------------------------------------------------


def _one_line(expr) -> str:
    """A SymPy expression on one line, with the derivation's Unicode names: δcₜ·cₜ₋₁."""
    import sympy as sp
    from sympy.printing.precedence import precedence
    from sympy.printing.str import StrPrinter

    class OneLine(StrPrinter):
        def _print_Symbol(self, s):
            return sp.pretty(s, use_unicode=True)

        def _print_sigmoid(self, e):
            return f"σ({self._print(e.args[0])})"

        def _print_Pow(self, e, rational=False):
            if e.exp == 2:
                return self.parenthesize(e.base, precedence(e)) + "²"
            return super()._print_Pow(e, rational)

    return OneLine().doprint(expr).replace("**", "^").replace("*", "·")


def _width(text: str) -> int:
    """Columns `text` takes in a terminal (combining marks such as c̃'s tilde take none)."""
    return sum(not unicodedata.combining(ch) for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def derive(cfg: DemoConfig) -> dict:
    """Derive the LSTM's backward step with SymPy and cross-check it against the engine."""
    from rnn.symbolic import cross_check, derivation, derivation_pretty

    d = derivation("lstm")
    rows = [(_one_line(v), _one_line(e)) for v, e in d.chain]
    width = max(_width(lhs) for lhs, _ in rows)
    lines = [f"{_pad(lhs, width)} = {rhs}" for lhs, rhs in rows]
    # ∂cₜ/∂cₜ₋₁ along the cell state alone: the conveyor belt.
    lines += [f"{lhs.replace(' (cell path)', '')} = {_one_line(derived)} along the cell "
              "state: no weight matrix, no squashing derivative"
              for _, lhs, derived, _, _ in d.extra]
    verified = sum(ld.verified for ld in d.local) + sum(ok for *_, ok in d.extra)
    checked = len(d.local) + len(d.extra)
    H, D, B, T = cfg.check
    check = cross_check("lstm", H=H, D=D, B=B, T=T, seed=cfg.seed,
                        references=("engine", "fused", "fd"))
    return {"lines": lines, "verified": verified, "checked": checked,
            "pretty": derivation_pretty(d), "check": check,
            "errors": {ref: check.max_error(ref) for ref in ("engine", "fused", "fd")}}


# ------------------------------------------------------------------------------------------
# Part 2: figures
# ------------------------------------------------------------------------------------------

CAPTIONS = {
    "folded": "An RNN folded: the module A reads x_t, outputs h_t and feeds itself.",
    "unrolled": "The same RNN unrolled in time: one copy of A per step.",
    "rnn-module": "Inside a plain RNN: a single tanh layer.",
    "lstm-module": "Inside an LSTM: four layers that interact.",
    "legend": "What the shapes mean.",
    "cell-state": "The cell state: a conveyor belt with only a multiply and an add on it.",
    "gate": "A gate: a sigmoid layer and a pointwise multiply.",
    "forget": "Step 1, the forget gate: what to erase from the cell state.",
    "input": "Step 2, the input gate and candidate: what to write.",
    "update": "Step 3, the update: c_t = f_t * c_{t-1} + i_t * c~_t.",
    "output": "Step 4, the output: h_t = o_t * tanh(c_t).",
    "gru": "The GRU: reset and update gates, no separate cell state.",
    "peephole": "The peephole LSTM: gates that also read the cell state.",
    "gradient-overlay": ("RNN vs LSTM computation graphs, one box per step, shaded by the "
                         "gradient norm ||dL/dh_t|| (loss on the last step only)."),
    "graph-lstm-grad": ("The LSTM's computation graph unrolled 3 steps, every gate a node, "
                        "shaded by gradient norm."),
    "graph-rnn-grad": ("The tanh RNN's computation graph unrolled 3 steps, shaded by "
                       "gradient norm."),
}


def draw_figures(folder: Path, cfg: DemoConfig, log=print) -> dict:
    """Every concept diagram and the computation graphs with the gradient overlay, as SVG.

    Returns {"concepts": [paths], "graphs": [paths], "skipped": [reasons]}.
    """
    from rnn import draw

    out = {"concepts": [], "graphs": [], "skipped": []}
    try:
        for name, make in draw.CONCEPT_DIAGRAMS.items():
            out["concepts"].append(draw.render(make(), folder / f"{name}.svg", "svg"))
    except draw.GraphvizError as exc:  # no Graphviz: the rest of the demo still runs
        out["skipped"].append(f"figures: {exc}")
        log(f"      skipped the figures: {exc}")
        return out
    graphs = {}
    if hasattr(draw, "gradient_overlay"):
        graphs["gradient-overlay"] = lambda: draw.gradient_overlay(steps=cfg.overlay_steps)
    if hasattr(draw, "unrolled_graph"):
        graphs["graph-lstm-grad"] = lambda: draw.unrolled_graph("lstm", 3, grad=True)
        graphs["graph-rnn-grad"] = lambda: draw.unrolled_graph("rnn", 3, grad=True)
    if not graphs:
        out["skipped"].append("computation graphs: rnn.draw has no gradient_overlay yet")
        log("      skipped the computation graphs: rnn.draw has no gradient_overlay yet")
    for name, make in graphs.items():
        out["graphs"].append(draw.render(make(), folder / f"{name}.svg", "svg"))
    return out


# ------------------------------------------------------------------------------------------
# Part 3a: the adding problem (rnn.experiment), keeping the trained LSTM for the heat map
# ------------------------------------------------------------------------------------------


def train_adding(cfg, log=print, progress=False):
    """Every (cell, lag) run of `cfg` (a LongTermConfig) through `rnn.experiment.run_all`;
    returns (results sorted by lag and cell, the trained LSTM's state dict at cfg.grad_lag)."""
    from rnn.experiment import run_all

    results = run_all(cfg, progress=progress, log=lambda line: log("      " + line))
    state = next(r.params for r in results if r.cell == "lstm" and r.lag == cfg.grad_lag)
    return results, state


def write_experiment_reports(results, cfg, folder: Path, seconds: float) -> tuple[dict, list]:
    """`rnn.reports.write_reports` into `folder`; returns (its summary, the paths written)."""
    summary = write_reports(results, cfg, folder, seconds)
    return summary, [folder / name for name in sorted(REPORT_FILES)]


def _nearest(node, label: str):
    """The nearest ancestor of `node` (breadth first) labelled `label`."""
    seen, frontier = {id(node)}, [node]
    while frontier:
        nxt = []
        for t in frontier:
            for p in t.parents:
                if p.label == label:
                    return p
                if id(p) not in seen:
                    seen.add(id(p))
                    nxt.append(p)
        frontier = nxt
    raise LookupError(f"no {label} node behind {node.label}")


def conveyor_belt(state: dict, hidden: int, T: int, seed: int) -> dict:
    """Step the trained LSTM's readable cell over one adding-problem sequence of length T.

    Returns f and c as (units, T) arrays, the inputs (T, 2), the marked steps (0-based),
    the target and the model's prediction.
    """
    from autograd_lite.tensor import Tensor
    from rnn import tasks
    from rnn.training import RegressionModel

    model = RegressionModel(2, hidden, "lstm", fused=False, rng=0)
    model.load_state_dict(state)
    x, y = tasks.adding_problem(T, 1, np.random.default_rng([seed, 6]))
    cell = model.layer.cells[0]
    carried, fs, cs = None, [], []
    for t in range(T):
        h, c = cell(Tensor(x[t]), carried)
        carried = (h, c)
        fs.append(np.array(_nearest(c, "f_t").data[0]))  # this step's gate: the nearest f_t
        cs.append(np.array(c.data[0]))
    prediction = float(model.decoder(h).data[0, 0])
    return {"x": x[:, 0, :], "f": np.array(fs).T, "c": np.array(cs).T,
            "marks": np.flatnonzero(x[:, 0, 1]), "target": float(y[0, 0]),
            "prediction": prediction}


# ------------------------------------------------------------------------------------------
# Part 3b: the character model
# ------------------------------------------------------------------------------------------


def train_char_model(text: str, name: str, cfg: DemoConfig, log=print, progress=False):
    """Train a character LSTM on `text`; returns (trainer, corpus, batch, seq_len)."""
    from rnn.data import Corpus
    from rnn.training import CharModel, TextProblem, Trainer

    corpus = Corpus.from_text(text, cfg.val_fraction, source=name)
    # A short text gets fewer (or shorter) streams, so that at least one batch fits.
    n = len(corpus.train)
    batch = max(1, min(cfg.char_batch, (n - 1) // cfg.char_seq))
    seq_len = max(1, min(cfg.char_seq, (n - 1) // batch))
    model = CharModel(len(corpus.vocab), cfg.char_hidden, "lstm", dtype=np.float32,
                      rng=np.random.default_rng([cfg.seed, 7]))
    problem = TextProblem(corpus, seq_len, batch, source=name)
    trainer = Trainer(model, problem, lr=cfg.char_lr, clip=1.0, seed=cfg.seed,
                      val_every=cfg.char_val_every, progress=progress, log=log)
    trainer.fit(cfg.char_steps)
    return trainer, corpus, batch, seq_len


def sample_text(trainer, corpus, cfg: DemoConfig) -> str:
    """A sample from the trained character model, primed with "The " when it can be."""
    from rnn.training import sample

    prime = "The " if all(ch in corpus.vocab.index for ch in "The ") else corpus.text[0]
    return sample(trainer.model, corpus.vocab, prime, cfg.sample_length, cfg.temperature,
                  np.random.default_rng([cfg.seed, 8]))


# ------------------------------------------------------------------------------------------
# Part 5: summary and index.html
# ------------------------------------------------------------------------------------------


def _verdict(mse: float, baseline: float) -> str:
    if mse < 0.01:
        return "learned the long-term dependency (< 0.01)"
    if mse > 0.8 * baseline:
        return f"no better than predicting the mean ({baseline:.3f}): did not learn it"
    return "learned it only partly"


def summary_lines(s: dict) -> list[str]:
    """The measured numbers as the lines the demo prints (no paths, no wall time)."""
    a, ch, x = s["adding"], s["char_model"], s["cross_check"]
    T = a["grad_lag"]
    mse = a["test_mse"]
    lines = [(f"adding problem, T = {T}, {a['steps']} steps each, same budget "
             f"(hidden {a['hidden']}, Adam lr {a['lr']:g}, batch {a['batch']}):")]
    for cell, title in (("rnn", "tanh RNN"), ("lstm", "LSTM")):
        m = mse[f"{cell}@{T}"]
        lines.append(f"  {title:<8} test MSE {m:.4f}   {_verdict(m, a['baseline_mse'])}")
    others = [lag for lag in a["lags"] if lag != T]
    if others:
        lines.append("  (" + "; ".join(f"T = {lag}: RNN {mse[f'rnn@{lag}']:.4f}, LSTM "
                                       f"{mse[f'lstm@{lag}']:.4f}" for lag in others) + ")")
    g = a["gradients"]
    if "rnn_trained" in g and "lstm_trained" in g:
        lines.append(f"gradient ||dL/dh_t|| after training, lag {T - 1} against lag 0:")
        for cell, title in (("rnn", "tanh RNN"), ("lstm", "LSTM")):
            r = g[f"{cell}_trained"]
            lines.append(f"  {title:<8} x{r['ratio_lag_max_to_0']:.1e}   "
                         f"(x{r['decay_per_step']:.3f} per step of lag)")
    lines.append(f"closed forms against the engine, max |error|: {x['engine']:.1e} (primitive "
                 f"graph), {x['fused']:.1e} (fused kernel)")
    lines.append(f"  against finite differences {x['fd']:.1e}: "
                 f"{'OK' if x['ok'] else 'FAILED'}")
    lines.append(f"character LSTM on {ch['text']} ({ch['characters']:,} characters, "
                 f"{ch['vocab']} distinct):")
    lines.append(f"  validation loss {ch['val_loss']:.4f} nats/char = "
                 f"{ch['bits_per_char']:.4f} bits/char after {ch['steps']} steps")
    return lines


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.9em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
        gap: 1.2em; }
figure { margin: 0; border: 1px solid #e4e4e4; padding: 0.6em; background: #fff; }
figure img { width: 100%; height: auto; }
figure.wide img { width: auto; max-width: 100%; }
.scroll { overflow-x: auto; }
.scroll img { max-width: none; height: 260px; width: auto; }
figcaption { font-size: 0.9em; color: #555; }
table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; border: 1px solid #ddd; }
"""


def _figure(folder: Path, path: Path, caption: str, cls: str = "") -> str:
    rel = path.relative_to(folder).as_posix()
    attr = f' class="{cls}"' if cls else ""
    return (f'<figure{attr}><a href="{html.escape(rel)}"><img src="{html.escape(rel)}" '
            f'alt="{html.escape(caption)}"></a><figcaption>{html.escape(caption)}'
            f"</figcaption></figure>")


def index_html(folder: Path, s: dict, files: dict) -> str:
    """The static page that shows every figure and plot, with the summary (relative links)."""
    e = html.escape
    parts = [
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>rnn-lab demo</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        "<h1>rnn-lab demo</h1>",
        (f"<p>{e(s['mode'])} run, seed {s['seed']}, wall time {s['wall_seconds']:.0f} s. "
        "Made by <code>rnn-lab demo</code>; every number below was measured in this run.</p>"),
        "<h2>Summary</h2>", f"<pre>{e(chr(10).join(s['summary']))}</pre>",
        "<h2>1. The LSTM's gradients, derived by SymPy</h2>",
        ("<p>The backward pass of one LSTM unit at step t (δv = ∂L/∂v). SymPy differentiates "
        "each equation of the cell and runs the chain rule over them in reverse; nothing is "
        "typed in. The last line is the conveyor belt: along the cell state the gradient is "
        "only multiplied by the forget gate.</p>"),
        f"<pre>{e(chr(10).join(s['derivation']['lines']))}</pre>",
        f"<pre>{e(s['derivation']['cross_check_table'])}</pre>",
        (f"<p>The whole derivation: <a href=\"{e(files['derivation'])}\">"
        f"{e(files['derivation'])}</a>.</p>"),
    ]
    if "path_magnitudes" in files:
        parts.append('<div class="grid">' + _figure(
            folder, folder / files["path_magnitudes"],
            "Norm of the long-term path Jacobian against T: a plain RNN (random weights) vs "
            "the LSTM's cell state (typical forget gates).") + "</div>")
    parts.append("<h2>2. The walk-through's figures</h2>")
    if files["concepts"]:
        parts.append('<div class="grid">' + "".join(
            _figure(folder, p, CAPTIONS.get(p.stem, p.stem)) for p in files["concepts"])
            + "</div>")
    if files["graphs"]:
        parts.append("<h3>Computation graphs with the gradient overlay</h3>")
        wide = [p for p in files["graphs"] if p.stem == "gradient-overlay"]
        rest = [p for p in files["graphs"] if p not in wide]
        parts += [_figure(folder, p, CAPTIONS.get(p.stem, p.stem), "scroll") for p in wide]
        parts.append('<div class="grid">' + "".join(
            _figure(folder, p, CAPTIONS.get(p.stem, p.stem)) for p in rest) + "</div>")
    for reason in files["skipped"]:
        parts.append(f"<p><em>Skipped: {e(reason)}</em></p>")
    a = s["adding"]
    parts += [
        "<h2>3. Long-term dependencies: tanh RNN vs LSTM on the adding problem</h2>",
        (f"<p>Both cells get the same budget: hidden {a['hidden']}, Adam lr {a['lr']:g}, batch "
        f"{a['batch']}, {a['steps']} steps, gradient clipping at 1. Predicting the mean "
        f"scores an MSE of {a['baseline_mse']:.3f}.</p>"),
        "<table><tr><th>cell</th><th>T</th><th>test MSE</th></tr>",
        *(f"<tr><td>{e(key.split('@')[0])}</td><td>{e(key.split('@')[1])}</td>"
          f"<td>{v:.4f}</td></tr>" for key, v in a["test_mse"].items()),
        "</table>",
        '<div class="grid">',
        _figure(folder, folder / files["loss_curves"],
                "Training and validation MSE of both cells at each lag T."),
        _figure(folder, folder / files["grad_norms"],
                "Mean ||dL/dh_t|| against the lag T - t, before and after training."),
        "</div>",
        f"<p>Tables: <a href=\"{e(files['results_md'])}\">{e(files['results_md'])}</a>.</p>",
        "<h2>4. The conveyor belt at work</h2>",
        ("<p>The trained LSTM's readable cell stepped over one sequence: the forget gate stays "
        "near 1 on the units that hold the marked values, so the cell state carries them to "
        "the end.</p>"),
        _figure(folder, folder / files["conveyor_belt"],
                "Forget gate and cell state per unit over time; the marked steps dashed.",
                "wide"),
    ]
    ch = s["char_model"]
    parts += [
        "<h2>5. A character model</h2>",
        (f"<p>A one-layer LSTM (hidden {ch['hidden']}) trained for {ch['steps']} steps on "
        f"{e(ch['text'])}: validation loss {ch['val_loss']:.4f} nats/char "
        f"({ch['bits_per_char']:.4f} bits/char). A sample at temperature "
        f"{ch['temperature']:g}:</p>"),
        f"<pre>{e(ch['sample'])}</pre>",
        '<div class="grid">',
        _figure(folder, folder / files["char_loss"], "Loss and gradient norm of the "
                "character model."),
        "</div>",
        "<h2>Files</h2>", "<ul>",
        *(f'<li><a href="{e(p)}">{e(p)}</a></li>' for p in s["files"]),
        "</ul>", "</body>", "</html>", "",
    ]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------
# The whole job
# ------------------------------------------------------------------------------------------


class _Steps:
    """Prints "[k/5] what ..." as each part starts and its time when it ends."""

    def __init__(self, log):
        self.log, self.k, self.t0 = log, 0, None

    def start(self, what: str):
        self.end()
        self.k += 1
        self.t0 = time.perf_counter()
        self.log(f"[{self.k}/{PARTS}] {what}")

    def end(self):
        if self.t0 is not None:
            self.log(f"      done in {time.perf_counter() - self.t0:.1f} s")
            self.t0 = None


def run_demo(out=DEFAULT_OUT, seed: int = 0, quick: bool = False, text_path=None,
             log=print, progress: bool = False) -> dict:
    """Run all five parts into folder `out`; returns the summary (also in summary.json)."""
    t_start = time.perf_counter()
    cfg = DemoConfig.quick_config(seed) if quick else DemoConfig.full(seed)
    text, text_name = load_text(text_path)  # fail on a bad file before any work
    folder = prepare_folder(out)
    figures, plots, exp_dir = folder / "figures", folder / "plots", folder / "experiment"
    steps = _Steps(log)
    written: list[Path] = []

    # 1. derivation and cross-check
    steps.start("Deriving the LSTM's gate gradients with SymPy, cross-checking the engine")
    der = derive(cfg)
    log("      backward pass of one LSTM unit at step t (δv = ∂L/∂v), derived by SymPy:")
    for line in der["lines"]:
        log(f"        {line}")
    log(f"      local derivatives equal to the textbook forms: {der['verified']}/"
        f"{der['checked']}")
    H, D, B, T = cfg.check
    log(f"      cross-check of the compiled closed forms (H={H}, D={D}, B={B}, T={T}), "
        f"max |error| over every gradient:")
    names = {"engine": "engine, primitive graph (fused=False)",
             "fused": "engine, fused LSTM kernel", "fd": "finite differences"}
    for ref, label in names.items():
        log(f"        {label:<40} {der['errors'][ref]:.1e}")
    log(f"        {'OK' if der['check'].ok else 'FAILED'} (tolerance 1e-10 against the "
        "engine, 1e-7 + 1e-5|n| against finite differences)")
    written.append(write_text(folder / "derivation.txt", der["pretty"]))
    written.append(write_text(folder / "crosscheck.txt", der["check"].table() + "\n"))

    # 2. figures
    steps.start("Drawing the walk-through's figures and the RNN-vs-LSTM gradient overlay")
    drawn = draw_figures(figures, cfg, log)
    written += drawn["concepts"] + drawn["graphs"]
    log(f"      {len(drawn['concepts'])} concept diagrams and {len(drawn['graphs'])} "
        f"computation graphs in {figures}")

    # 3. training
    exp_cfg = cfg.experiment()
    steps.start("Training a tanh RNN and an LSTM on the adding problem, then a character LSTM")
    log(f"      adding problem: T = {', '.join(map(str, exp_cfg.lags))}; {exp_cfg.steps} steps, "
        f"hidden {exp_cfg.hidden}, the same budget for both cells, {exp_cfg.workers} processes")
    t0 = time.perf_counter()
    results, lstm_state = train_adding(exp_cfg, log, progress)
    exp_seconds = time.perf_counter() - t0
    log(f"      character model: {text_name} ({len(text):,} characters), hidden "
        f"{cfg.char_hidden}, {cfg.char_steps} steps")
    trainer, corpus, batch, seq_len = train_char_model(
        text, text_name, cfg, log=lambda line: log(f"      {line}"), progress=progress)
    sample = sample_text(trainer, corpus, cfg)
    log(f"      sample (temperature {cfg.temperature:g}):")
    for line in sample.splitlines() or [""]:
        log(f"      | {line}")
    written.append(write_text(folder / "sample.txt", sample + "\n"))

    # 4. plots
    steps.start("Plotting: loss curves, gradient norm against lag, the conveyor belt")
    exp_summary, exp_files = write_experiment_reports(results, exp_cfg, exp_dir, exp_seconds)
    written += exp_files
    belt = conveyor_belt(lstm_state, exp_cfg.hidden, exp_cfg.grad_lag, cfg.seed)
    plot_conveyor_belt(belt, plots / "conveyor_belt.png")
    written.append(plots / "conveyor_belt.png")
    plot_char_model(trainer.history, len(corpus.vocab), plots / "char_model_loss.png",
                    f"character LSTM (hidden {cfg.char_hidden}) on {text_name}")
    written.append(plots / "char_model_loss.png")
    with replacing(plots / "path_magnitudes.png", "plot") as tmp:
        plot_path_magnitudes(tmp)  # rnn.symbolic's figure, saved by rnn.io's rule
    written.append(plots / "path_magnitudes.png")
    log(f"      wrote the plots to {plots} and {exp_dir}")

    # 5. summary
    steps.start("Writing summary.json and index.html")
    val = {k[4:]: v[-1] for k, v in trainer.history.items()
           if k.startswith("val_") and k != "val_step" and v}
    summary = {
        "seed": seed,
        "mode": "quick" if quick else "full",
        "derivation": {"lines": der["lines"], "verified": der["verified"],
                       "checked": der["checked"], "cross_check_table": der["check"].table()},
        "cross_check": {**der["errors"], "ok": der["check"].ok, "sizes": list(cfg.check)},
        "adding": {"lags": list(exp_cfg.lags), "grad_lag": exp_cfg.grad_lag,
                   "steps": exp_cfg.steps, "hidden": exp_cfg.hidden, "lr": exp_cfg.lr,
                   "batch": exp_cfg.batch, "baseline_mse": _baseline(),
                   "test_mse": exp_summary["test_mse"],
                   "gradients": exp_summary["gradients"]},
        "conveyor_belt": {"target": belt["target"], "prediction": belt["prediction"],
                          "marks": [int(m) + 1 for m in belt["marks"]]},
        "char_model": {"text": text_name, "characters": len(text), "vocab": len(corpus.vocab),
                       "hidden": cfg.char_hidden, "steps": trainer.step, "batch": batch,
                       "seq_len": seq_len, "val_loss": float(val.get("loss", math.nan)),
                       "bits_per_char": float(val.get("bits_per_char", math.nan)),
                       "temperature": cfg.temperature, "sample": sample},
    }
    summary["summary"] = summary_lines(summary)
    rel = {
        "derivation": "derivation.txt",
        "loss_curves": "experiment/loss_curves.png",
        "grad_norms": "experiment/grad_norm_vs_lag.png",
        "results_md": "experiment/results.md",
        "conveyor_belt": "plots/conveyor_belt.png",
        "char_loss": "plots/char_model_loss.png",
        "path_magnitudes": "plots/path_magnitudes.png",
        "concepts": drawn["concepts"], "graphs": drawn["graphs"], "skipped": drawn["skipped"],
    }
    files = [p.relative_to(folder).as_posix() for p in written]
    summary["files"] = files + ["summary.json", "index.html"]
    summary["wall_seconds"] = time.perf_counter() - t_start
    written.append(write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n"))
    written.append(write_text(folder / "index.html", index_html(folder, summary, rel)))
    summary["wall_seconds"] = time.perf_counter() - t_start
    steps.end()
    log(f"Summary ({summary['mode']} run, seed {seed})")
    for line in summary["summary"]:
        log(f"  {line}")
    log(f"  wall time {summary['wall_seconds']:.0f} s")
    log(f"Wrote {len(written)} files to {folder}:")
    for path in written:
        log(f"  {path}")
    log(f"Open {folder / 'index.html'} in a browser to see everything together.")
    return summary


def _baseline() -> float:
    from rnn.tasks import ADDING_BASELINE_MSE

    return ADDING_BASELINE_MSE
