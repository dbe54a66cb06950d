"""The demo's parts: derive the LSTM's backward step, draw the figures, train on the adding
problem and on text, and step the trained LSTM over one sequence (the conveyor belt)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import sympy as sp
from sympy.printing.precedence import precedence
from sympy.printing.str import StrPrinter

from autograd_lite.graph import nearest_labelled
from autograd_lite.tensor import Tensor
from rnn import draw, tasks
from rnn.data import Corpus
from rnn.demo.config import DemoConfig
from rnn.experiment import run_all
from rnn.reports import REPORT_FILES, write_reports
from rnn.symbolic import cross_check, derivation, derivation_pretty
from rnn.training import CharModel, RegressionModel, TextProblem, Trainer, sample

# ---- part 1: the derivation ------------------------------------------------------------------


class _OneLine(StrPrinter):
    """SymPy's str printer with Unicode symbol names, σ(...) and squares as ²."""

    def _print_Symbol(self, s):
        return sp.pretty(s, use_unicode=True)

    def _print_sigmoid(self, e):
        return f"σ({self._print(e.args[0])})"

    def _print_Pow(self, e, rational=False):
        if e.exp == 2:
            return self.parenthesize(e.base, precedence(e)) + "²"
        return super()._print_Pow(e, rational)


def _one_line(expr) -> str:
    """A SymPy expression on one line, with the derivation's Unicode names: δcₜ·cₜ₋₁."""
    return _OneLine().doprint(expr).replace("**", "^").replace("*", "·")


def _width(text: str) -> int:
    """Columns `text` takes in a terminal (combining marks such as c̃'s tilde take none)."""
    return sum(not unicodedata.combining(ch) for ch in text)


def _pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns."""
    return text + " " * (width - _width(text))


def derive(cfg: DemoConfig) -> dict:
    """Derive the LSTM's backward step with SymPy and cross-check it against the engine."""
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


# ---- part 2: the figures ---------------------------------------------------------------------


def draw_figures(folder: Path, cfg: DemoConfig, log=print) -> dict:
    """Every concept diagram and the computation graphs with the gradient overlay, as SVG.

    Returns {"concepts": [paths], "graphs": [paths], "skipped": [reasons]}.
    """
    out = {"concepts": [], "graphs": [], "skipped": []}
    try:
        for name, make in draw.CONCEPT_DIAGRAMS.items():
            out["concepts"].append(draw.render(make(), folder / f"{name}.svg", "svg"))
    except draw.GraphvizError as exc:  # no Graphviz: the rest of the demo still runs
        out["skipped"].append(f"figures: {exc}")
        log(f"      skipped the figures: {exc}")
        return out
    graphs = {
        "gradient-overlay": lambda: draw.gradient_overlay(steps=cfg.overlay_steps),
        "graph-lstm-grad": lambda: draw.unrolled_graph("lstm", 3, grad=True),
        "graph-rnn-grad": lambda: draw.unrolled_graph("rnn", 3, grad=True),
    }
    for name, make in graphs.items():
        out["graphs"].append(draw.render(make(), folder / f"{name}.svg", "svg"))
    return out


# ---- part 3: training; the trained LSTM's conveyor belt --------------------------------------


def train_adding(cfg, log=print, progress=False):
    """Every (cell, lag) run of `cfg` (a LongTermConfig) through `rnn.experiment.run_all`;
    returns (results sorted by lag and cell, the trained LSTM's state dict at cfg.grad_lag)."""
    results = run_all(cfg, progress=progress, log=lambda line: log("      " + line))
    state = next(r.params for r in results if r.cell == "lstm" and r.lag == cfg.grad_lag)
    return results, state


def write_experiment_reports(results, cfg, folder: Path, seconds: float) -> tuple[dict, list]:
    """`rnn.reports.write_reports` into `folder`; returns (its summary, the paths written)."""
    summary = write_reports(results, cfg, folder, seconds)
    return summary, [folder / name for name in sorted(REPORT_FILES)]


def conveyor_belt(state: dict, hidden: int, T: int, seed: int) -> dict:
    """Step the trained LSTM's readable cell over one adding-problem sequence of length T.

    Returns f and c as (units, T) arrays, the inputs (T, 2), the marked steps (0-based),
    the target and the model's prediction.
    """
    model = RegressionModel(2, hidden, "lstm", fused=False, rng=0)
    model.load_state_dict(state)
    x, y = tasks.adding_problem(T, 1, np.random.default_rng([seed, 6]))
    cell = model.layer.cells[0]
    carried, fs, cs = None, [], []
    for t in range(T):
        h, c = cell(Tensor(x[t]), carried)
        carried = (h, c)
        fs.append(np.array(nearest_labelled(c, "f_t").data[0]))  # this step's gate: the nearest f_t
        cs.append(np.array(c.data[0]))
    prediction = float(model.decoder(h).data[0, 0])
    return {"x": x[:, 0, :], "f": np.array(fs).T, "c": np.array(cs).T,
            "marks": np.flatnonzero(x[:, 0, 1]), "target": float(y[0, 0]),
            "prediction": prediction}


def train_char_model(text: str, name: str, cfg: DemoConfig, log=print, progress=False):
    """Train a character LSTM on `text`; returns (trainer, corpus, batch, seq_len)."""
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
    prime = "The " if all(ch in corpus.vocab.index for ch in "The ") else corpus.text[0]
    return sample(trainer.model, corpus.vocab, prime, cfg.sample_length, cfg.temperature,
                  np.random.default_rng([cfg.seed, 8]))
