"""Display of a derivation: LaTeX (`sympy.latex`), Unicode text (`sympy.pretty`) and Markdown
with $$ math blocks that GitHub renders.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from rnn.symbolic.core import Var, delta, h_prev, relu, relu_prime, sigmoid_prime, tanh_prime
from rnn.symbolic.derive import Derivation, derivation
from rnn.symbolic.paths import path_magnitudes, path_table, rnn_path, state_path
from rnn.symbolic.trace import Linear, source_delta, state_prev

_SOURCE = {"z": ("z_t", "zₜ"), "x": ("x_t", "xₜ"), "h": ("h_{t-1}", "hₜ₋₁")}


def _show(latex: str, pretty: str) -> Var:
    """A symbol that only displays: an equation's left side, or a formula kept as text."""
    return Var("show:" + latex, latex, pretty)


def _L(e, order=None) -> str:
    return sp.latex(e, mul_symbol="dot", order=order)


def _P(e, order=None) -> str:
    return sp.pretty(e, use_unicode=True, wrap_line=False, order=order)


@dataclass(frozen=True)
class Section:
    """A titled list of equations; order="none" prints terms as stored (as papers write them)."""

    title: str
    prose: str
    rows: list  # (left side, right side, note)
    order: str | None = None


def _partial(num, den) -> Var:
    return _show(rf"\frac{{\partial {_L(num)}}}{{\partial {_L(den)}}}", f"∂{_P(num)}/∂{_P(den)}")


def _weight(name: str) -> tuple[str, str]:
    base, _, sub = name.partition("_")
    return (f"{base}_{{{sub}}}" if sub else base), name


def _source(lin: Linear) -> tuple[str, str]:
    """(LaTeX, text) of what a product reads: z_t, x_t, h_{t-1} or [s_t, x_t]."""
    if lin.source in _SOURCE:
        return _SOURCE[lin.source]
    parts = [("x_t", "xₜ") if p == "x" else (_L(p), _P(p)) for p in lin.parts]
    return (r"\left[" + ", ".join(a for a, _ in parts) + r"\right]",
            "[" + ", ".join(b for _, b in parts) + "]")


def _affine(lin: Linear) -> tuple[str, str]:
    (wl, wp), src = _weight(lin.weight), _source(lin)
    if lin.bias is None:
        return f"{wl} {src[0]}", f"{wp}·{src[1]}"
    bl, bp = _weight(lin.bias)
    return f"{wl} {src[0]} + {bl}", f"{wp}·{src[1]} + {bp}"


def sections(d: Derivation) -> list[Section]:
    """The whole derivation as sections of equations."""
    spec = d.spec
    forward = []
    for lin in spec.linear:
        forward.append((lin.leaf, _show(*_affine(lin)), ""))
    forward += [(node, expr, "") for node, expr in spec.equations]

    s, ds = sigmoid_prime()
    t, dt = tanh_prime()
    sig_out, tanh_out = _show(r"\sigma", "σ"), _show(r"\tanh", "tanh")
    local = [(_show(r"\sigma'(x)", "σ'(x)"), ds.xreplace({s: sig_out}),
              "σ = σ(x): derived from σ(x) = 1/(1 + e^-x) at x = σ⁻¹(σ)"),
             (_show(r"\tanh'(x)", "tanh'(x)"), dt.xreplace({t: tanh_out}),
              "tanh = tanh(x): derived from (e^x - e^-x)/(e^x + e^-x) at x = tanh⁻¹(tanh)")]
    if any(e.has(relu) for _, e in d.equations):
        r, dr = relu_prime()
        local.append((_show(r"\operatorname{relu}'(x)", "relu'(x)"),
                      dr.xreplace({r: _show(r"\operatorname{relu}", "relu")}),
                      "relu = relu(x): derived from relu(x) = x for x > 0, else 0"))
    for ld in d.local:
        local.append((_partial(ld.node, ld.wrt), ld.derived, "✓" if ld.verified else "unchecked"))
    for lhs_l, lhs_p, derived, _, ok in d.extra:
        local.append((_show(lhs_l, lhs_p), derived, "✓" if ok else "unchecked"))

    chain = [(v, e, "") for v, e in d.chain]
    closed = [(delta(v), d.closed[v], "") for v in d.inputs]
    return [
        Section("Forward equations (one unit at step t)",
                "zₜ = [hₜ₋₁, xₜ]; every line is per unit (elementwise).", forward, "none"),
        Section("Local derivatives",
                "SymPy differentiates each equation and rewrites the result in gate outputs; "
                "✓ means simplify(derived - textbook form) == 0.", local),
        Section("Backward pass of one step (Greff et al. 2017, appendix)",
         "δhₜ = ∂L/∂hₜ (from the loss at t and from step t+1); "
         + "".join(f"δ{s}ₜ⁺ = ∂L/∂{s}ₜ arriving from step t+1. " for s in spec.states[1:])
         + "".join(f"{_P(source_delta(v))} arrives through the matrix product that reads "
                   f"{_P(v)}. " for v in spec.source_parts)
                + "Each delta is written through the deltas of the equations that use it.",
                chain),
        Section("Closed forms (gate outputs and upstream deltas only)",
                "What the compiled backward step evaluates (after sympy.cse).", closed),
        Section("Vector level (column vectors, sums over t and the batch)",
                "The per-unit deltas above, assembled by matrix products.", _vector_rows(d)),
    ]


def _vector_rows(d: Derivation) -> list[tuple[Var, Var, str]]:
    spec = d.spec
    rows = []
    into = {"z": [], "x": [], "h": []}
    for lin in spec.linear:
        (wl, wp) = _weight(lin.weight)
        dl, dp = _L(delta(lin.leaf)), _P(delta(lin.leaf))
        src_l, src_p = _source(lin)
        rows.append((_show(rf"\frac{{\partial L}}{{\partial {wl}}}", f"∂L/∂{wp}"),
                     _show(rf"\sum_t {dl}\, {src_l}^{{\top}}", f"Σₜ {dp}·{src_p}ᵀ"), ""))
        if lin.bias is not None:
            bl, bp = _weight(lin.bias)
            rows.append((_show(rf"\frac{{\partial L}}{{\partial {bl}}}", f"∂L/∂{bp}"),
                         _show(rf"\sum_t {dl}", f"Σₜ {dp}"), ""))
        if lin.source in into:
            into[lin.source].append((rf"{wl}^{{\top}} {dl}", f"{wp}ᵀ·{dp}"))
            continue
        # A product over [s_t, x_t]: its delta is split back into the parts it read.
        rows.append((_show(rf"\delta {src_l}", f"δ{src_p}"),
                     _show(rf"{wl}^{{\top}} {dl}", f"{wp}ᵀ·{dp}"), ""))
        for k, part in enumerate(lin.parts):
            piece = (rf"(\delta {src_l})_{{{k + 1}}}", f"(δ{src_p})[{k}]")
            if part == "x":
                into["x"].append(piece)
            elif part == h_prev:
                into["h"].append(piece)
            else:
                rows.append((source_delta(part), _show(*piece), ""))
    for p in spec.elementwise:
        rows.append((_show(rf"\frac{{\partial L}}{{\partial {_L(p)}}}", f"∂L/∂{_P(p)}"),
                     _show(rf"\sum_t {_L(delta(p))}", f"Σₜ {_P(delta(p))}"), ""))
    if into["z"]:
        rows.append((_show(r"\delta z_t", "δzₜ"), _show(" + ".join(a for a, _ in into["z"]),
                                                        " + ".join(b for _, b in into["z"])), ""))
    dx = ([(r"(\delta z_t)_{H+1:H+D}", "(δzₜ)[H:]")] if into["z"] else []) + into["x"]
    rows.append((_show(r"\delta x_t", "δxₜ"), _show(" + ".join(a for a, _ in dx),
                                                    " + ".join(b for _, b in dx)), ""))
    dh = ([(r"(\delta z_t)_{1:H}", "(δzₜ)[:H]")] if into["z"] else []) + into["h"]
    if h_prev in spec.state_leaves:
        dh.append((_L(delta(h_prev)), _P(delta(h_prev))))
    rows.append((_show(r"\delta h_{t-1}", "δhₜ₋₁"), _show(" + ".join(a for a, _ in dh),
                                                       " + ".join(b for _, b in dh)),
                 "plus ∂L/∂hₜ₋₁ from the loss: the δh of step t-1"))
    for s in spec.states[1:]:
        rows.append((_show(rf"\delta {s}_{{t-1}}^{{+}}", f"δ{s}ₜ₋₁⁺"), delta(state_prev(s)),
                     f"the {'cell-state' if s == 'c' else s} delta handed to step t-1"))
    return rows


def _aligned(sec: Section) -> str:
    return " \\\\\n".join(f"{_L(lhs)} &= {_L(rhs, sec.order)}" for lhs, rhs, _ in sec.rows)


def derivation_latex(cell) -> str:
    """The whole derivation as one LaTeX `aligned` block (`cell`: a name or a Derivation)."""
    d = derivation(cell) if isinstance(cell, str) else cell
    parts = []
    for sec in sections(d):
        parts.append(rf"&\textbf{{{sec.title}}} \\" + "\n" + _aligned(sec))
    return "\\begin{aligned}\n" + " \\\\[6pt]\n".join(parts) + "\n\\end{aligned}"


def derivation_pretty(cell) -> str:
    """The whole derivation as Unicode text (`sympy.pretty`)."""
    d = derivation(cell) if isinstance(cell, str) else cell
    out = [f"{d.spec.title}: closed-form gradients derived with SymPy", ""]
    for sec in sections(d):
        out += [sec.title, "-" * len(sec.title), sec.prose, ""]
        for lhs, rhs, note in sec.rows:
            text = _P(sp.Eq(lhs, rhs, evaluate=False), sec.order)
            out.append(text + (f"    [{note}]" if note and note != "✓" else
                               "    ✓" if note else ""))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _long_term(d: Derivation) -> list[str]:
    p = state_path(d, 3) or rnn_path(3)
    mags = path_magnitudes()
    lines = [f"{p.title} ({'✓ equals the product' if p.verified else 'unchecked'}):", "",
             f"$$\n{p.lhs_latex} = {_L(p.derived)}\n$$", "",
             "For any T (matrices for H units):", "", f"$$\n{p.general_latex}\n$$", "",
             ("Norm of the path Jacobian against T (H=32, random weights; LSTM: typical "
              "forget-gate values; `rnn.symbolic.path_magnitudes`):"), "", "```",
             path_table(mags), "```"]
    return lines


def derivation_markdown(cell) -> str:
    """A Markdown report of the derivation, with $$ math blocks that GitHub renders."""
    d = derivation(cell) if isinstance(cell, str) else cell
    out = [f"# {d.spec.title}: closed-form gradients derived with SymPy", "",
           (f"Generated by `rnn-lab derive {d.spec.name} --markdown FILE` (module "
            "`rnn.symbolic`). Every formula below was produced by SymPy from the cell's "
            "equations; none is typed in."), ""]
    for sec in sections(d):
        out += [f"## {sec.title}", "", sec.prose, ""]
        if sec.title == "Local derivatives":
            out += ["| derivative | derived by SymPy | check |", "|---|---|---|"]
            for lhs, rhs, note in sec.rows:
                out.append(f"| ${_L(lhs)}$ | ${_L(rhs, sec.order)}$ | {note} |")
            out.append("")
            continue
        for lhs, rhs, note in sec.rows:
            out += ["$$", f"{_L(lhs)} = {_L(rhs, sec.order)}", "$$", ""]
            if note:
                out += [f"<sub>{note}</sub>", ""]
    out += ["## Long-term path", ""] + _long_term(d) + [""]
    return "\n".join(out)


def closed_forms_latex(cell: str) -> dict[str, str]:
    """Name of each per-unit input -> LaTeX of its closed-form delta."""
    d = derivation(cell)
    return {v.name: f"{_L(delta(v))} = {_L(d.closed[v])}" for v in d.inputs}


__all__ = ["Section", "closed_forms_latex", "derivation_latex", "derivation_markdown",
           "derivation_pretty", "sections"]
