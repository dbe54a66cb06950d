"""The demo's summary: the lines it prints, and index.html, filled from the template beside
this file (`index.html`, a `string.Template`) with every text escaped."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

TEMPLATE = Template((Path(__file__).with_name("index.html")).read_text(encoding="utf-8"))

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


def _verdict(mse: float, baseline: float) -> str:
    """What a test MSE says against the baseline of predicting the mean."""
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
    b = s["born_in"]
    lines.append(f"\"I was born in France ... I can speak\" -> French, accuracy at gaps "
                 f"{', '.join(map(str, b['gaps']))} ({b['steps']} steps, same budget, chance "
                 f"{b['chance']:.0%}):")
    for cell, acc in b["accuracy"].items():
        lines.append(f"  {cell:<8} " + "  ".join(f"{a:4.0%}" for a in acc))
    if b.get("lstm"):
        u = b["lstm"]
        lines.append(f"  LSTM country units {', '.join(map(str, u['country_units']))}: the best "
                     f"alone names the country for {u['best_unit_accuracy']:.0%} at gap "
                     f"{u['gap']}")
    lines.append(f"character LSTM on {ch['text']} ({ch['characters']:,} characters, "
                 f"{ch['vocab']} distinct):")
    lines.append(f"  validation loss {ch['val_loss']:.4f} nats/char = "
                 f"{ch['bits_per_char']:.4f} bits/char after {ch['steps']} steps")
    return lines


def _figure(folder: Path, path: Path, caption: str, cls: str = "") -> str:
    """A linked image with its caption; `path` relative to `folder`, the page's own."""
    rel = path.relative_to(folder).as_posix()
    attr = f' class="{cls}"' if cls else ""
    return (f'<figure{attr}><a href="{html.escape(rel)}"><img src="{html.escape(rel)}" '
            f'alt="{html.escape(caption)}"></a><figcaption>{html.escape(caption)}'
            f"</figcaption></figure>")


def _grid(figures: list[str]) -> str:
    return '<div class="grid">' + "".join(figures) + "</div>"


def index_html(folder: Path, s: dict, files: dict) -> str:
    """The static page that shows every figure and plot, with the summary (relative links)."""
    e = html.escape
    a, ch = s["adding"], s["char_model"]

    def figure(name: str, caption: str, cls: str = "") -> str:
        return _figure(folder, folder / files[name], caption, cls)

    wide = [p for p in files["graphs"] if p.stem == "gradient-overlay"]
    rest = [p for p in files["graphs"] if p not in wide]
    graphs = ""
    if files["graphs"]:
        graphs = ("<h3>Computation graphs with the gradient overlay</h3>\n"
                  + "".join(_figure(folder, p, CAPTIONS.get(p.stem, p.stem), "scroll")
                            for p in wide)
                  + _grid([_figure(folder, p, CAPTIONS.get(p.stem, p.stem)) for p in rest]))
    return TEMPLATE.substitute(
        mode=e(s["mode"]), seed=s["seed"], wall_seconds=f"{s['wall_seconds']:.0f}",
        summary=e("\n".join(s["summary"])),
        derivation_lines=e("\n".join(s["derivation"]["lines"])),
        cross_check_table=e(s["derivation"]["cross_check_table"]),
        derivation=e(files["derivation"]),
        path_magnitudes=_grid([figure(
            "path_magnitudes", "Norm of the long-term path Jacobian against T: a plain RNN "
            "(random weights) vs the LSTM's cell state (typical forget gates).")]),
        concepts=_grid([_figure(folder, p, CAPTIONS.get(p.stem, p.stem))
                        for p in files["concepts"]]) if files["concepts"] else "",
        graphs=graphs,
        skipped="".join(f"<p><em>Skipped: {e(reason)}</em></p>" for reason in files["skipped"]),
        hidden=a["hidden"], lr=f"{a['lr']:g}", batch=a["batch"], steps=a["steps"],
        baseline_mse=f"{a['baseline_mse']:.3f}",
        mse_rows="\n".join(f"<tr><td>{e(key.split('@')[0])}</td><td>{e(key.split('@')[1])}"
                           f"</td><td>{v:.4f}</td></tr>" for key, v in a["test_mse"].items()),
        loss_curves=figure("loss_curves",
                           "Training and validation MSE of both cells at each lag T."),
        grad_norms=figure("grad_norms",
                          "Mean ||dL/dh_t|| against the lag T - t, before and after training."),
        results_md=e(files["results_md"]),
        conveyor_belt=figure("conveyor_belt", "Forget gate and cell state per unit over "
                             "time; the marked steps dashed.", "wide"),
        born_in_steps=s["born_in"]["steps"], born_in_hidden=s["born_in"]["hidden"],
        born_in_max=max(s["born_in"]["gaps"]),
        born_in_accuracy=figure("born_in_accuracy", "Accuracy of the language against the "
                                "gap between the country and the question, one curve per cell."),
        born_in_gradients=figure("born_in_gradients", "||dL/dh|| at the country word against "
                                 "the gap: at initialisation, and after training as a share of "
                                 "the gradient at \"speak\"."),
        born_in_units=figure("born_in_units", "The trained LSTM's country units: their cell "
                             "state along the sentence, one line per country.", "wide"),
        born_in_belt=figure("born_in_belt", "Forget gate and cell state of the trained LSTM "
                            "along one sentence, the words as the x axis.", "wide"),
        born_in_md=e(files["born_in_md"]),
        char_hidden=ch["hidden"], char_steps=ch["steps"], char_text=e(ch["text"]),
        val_loss=f"{ch['val_loss']:.4f}", bits_per_char=f"{ch['bits_per_char']:.4f}",
        temperature=f"{ch['temperature']:g}", sample=e(ch["sample"]),
        char_loss=figure("char_loss", "Loss and gradient norm of the character model."),
        files="\n".join(f'<li><a href="{e(p)}">{e(p)}</a></li>' for p in s["files"]),
    )
