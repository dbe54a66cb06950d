"""rnn.symbolic: derived canonical forms, compiled BPTT vs finite differences and the unrolled
derivation, VJP rules, LaTeX/Markdown output, the `derive` command, and no string evaluation."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from rnn import symbolic as S
from rnn.cells import cell_class, cell_names
from rnn.layers import make_layer
from rnn.plots import plot_path_magnitudes
from rnn.symbolic import core as C
from rnn.symbolic.vjp import grad_out, out, x, y

ROOT = Path(__file__).resolve().parents[1]
CELLS = cell_names()

# The symbols the derivations use, by name (Var equality is by name).
V = C.Var
f, i, g, o, c, c_prev, h, h_prev = map(V, ("f_t", "i_t", "g_t~", "o_t", "c_t", "c_prev", "h_t",
                                           "h_prev"))
r, u, n = V("r_t"), V("u_t"), V("n_t")
a_f, a_i, a_c, a_o, a_r, a_z, a_nx, a_nh, a_n, a_h = map(
    V, ("a_f", "a_i", "a_c", "a_o", "a_r", "a_z", "a_nx", "a_nh", "a_n", "a_h"))
ah_f, ah_i, ah_o = V("ahat_f"), V("ahat_i"), V("ahat_o")
p_f, p_i, p_o = V("p_f"), V("p_i"), V("p_o")
h_tilde, s_t = V("htilde_t"), V("s_t")


def assert_close(a, n, what=""):
    """The project's finite-difference rule: |a - n| <= 1e-7 + 1e-5 |n|."""
    bad = np.abs(a - n) > 1e-7 + 1e-5 * np.abs(n)
    assert not bad.any(), f"{what}: max error {np.max(np.abs(a - n)):.3e}"


def derived(cell):
    return {(ld.node, ld.wrt): ld.derived for ld in S.derivation(cell).local}


def same(a, b):
    return sp.simplify(a - b) == 0


# ------------------------------------------------------------------------------------------
# Canonical forms: derived, then compared with the textbook here
# ------------------------------------------------------------------------------------------


def test_sigmoid_derivative_is_derived_from_its_definition():
    s, d = S.sigmoid_prime()
    assert same(d, s * (1 - s))
    z = sp.Symbol("z")
    assert same(sp.diff(S.sigmoid(z), z), S.sigmoid(z) * (1 - S.sigmoid(z)))
    assert same(S.sigmoid(z).rewrite(sp.exp), 1 / (1 + sp.exp(-z)))


def test_tanh_derivative_is_derived_from_its_definition():
    t, d = S.tanh_prime()
    assert same(d, 1 - t**2)


def test_lstm_local_derivatives_have_canonical_forms():
    d = derived("lstm")
    expected = {
        (f, a_f): f * (1 - f), (i, a_i): i * (1 - i), (o, a_o): o * (1 - o),
        (g, a_c): 1 - g**2,
        (c, f): c_prev, (c, i): g, (c, g): i, (c, c_prev): f,
        (h, o): sp.tanh(c), (h, c): o * (1 - sp.tanh(c) ** 2),
    }
    assert set(expected) == set(d)
    for key, form in expected.items():
        assert same(d[key], form), key


def test_gru_local_derivatives_have_canonical_forms():
    d = derived("gru")
    expected = {
        (r, a_r): r * (1 - r), (u, a_z): u * (1 - u), (n, a_n): 1 - n**2,
        (a_n, r): a_nh, (a_n, a_nh): r, (a_n, a_nx): 1,
        (h, u): h_prev - n, (h, n): 1 - u, (h, h_prev): u,
    }
    assert set(expected) == set(d)
    for key, form in expected.items():
        assert same(d[key], form), key


def test_peephole_local_derivatives_have_canonical_forms():
    d = derived("peephole")
    expected = {
        (f, ah_f): f * (1 - f), (ah_f, c_prev): p_f, (ah_f, p_f): c_prev,
        (i, ah_i): i * (1 - i), (ah_i, c_prev): p_i, (ah_i, p_i): c_prev,
        (o, ah_o): o * (1 - o), (ah_o, c): p_o, (ah_o, p_o): c,
        (c, f): c_prev, (h, c): o * (1 - sp.tanh(c) ** 2),
    }
    for key, form in expected.items():
        assert same(d[key], form), key


def test_cifg_local_derivatives_have_canonical_forms():
    d = derived("cifg")
    expected = {
        (f, a_f): f * (1 - f), (g, a_c): 1 - g**2, (o, a_o): o * (1 - o),
        (c, f): c_prev - g, (c, g): 1 - f, (c, c_prev): f,
        (h, o): sp.tanh(c), (h, c): o * (1 - sp.tanh(c) ** 2),
    }
    assert set(expected) == set(d)
    for key, form in expected.items():
        assert same(d[key], form), key


def test_mgu_local_derivatives_have_canonical_forms():
    d = derived("mgu")
    expected = {
        (f, a_f): f * (1 - f), (s_t, f): h_prev, (s_t, h_prev): f, (h_tilde, a_h): 1 - h_tilde**2,
        (h, f): h_tilde - h_prev, (h, h_tilde): f, (h, h_prev): 1 - f,
    }
    assert set(expected) == set(d)
    for key, form in expected.items():
        assert same(d[key], form), key


def test_mgu_candidate_reads_the_reset_state_through_a_product():
    spec = S.cell_spec("mgu")
    (lin,) = [lin for lin in spec.linear if lin.weight == "W_h"]
    assert lin.parts == (s_t, "x") and lin.bias == "b_h"
    # δa_f needs δs_t, which only the vector level (W_h) can give: a second stage
    d = S.derivation("mgu")
    assert V("Ds_t_in") in d.closed[a_f].free_symbols
    assert len(S.compiled("mgu").stages) == 2


def test_every_local_derivative_is_verified_against_the_module_textbook():
    for cell in CELLS:
        d = S.derivation(cell)
        assert d.local and all(ld.verified and ld.textbook is not None for ld in d.local), cell
        assert all(ok for *_, ok in d.extra), cell


def test_lstm_backward_deltas_are_greff_forms():
    d = S.derivation("lstm")
    dh, dcn = C.dh, C.dc_next
    delta_c = dh * o * (1 - sp.tanh(c) ** 2) + dcn
    assert same(d.closed[a_o], dh * sp.tanh(c) * o * (1 - o))
    assert same(d.closed[a_f], delta_c * c_prev * f * (1 - f))
    assert same(d.closed[a_i], delta_c * g * i * (1 - i))
    assert same(d.closed[a_c], delta_c * i * (1 - g**2))
    assert same(d.closed[c_prev], delta_c * f)
    chain = dict(d.chain)
    assert same(chain[C.delta(a_f)], C.delta(f) * f * (1 - f))  # δa_f = δf f(1 - f)


def test_peephole_cell_path_adds_the_peephole_terms():
    (_, _, jac, _, ok), = S.derivation("peephole").extra
    assert ok and same(jac, f + p_f * f * (1 - f) * c_prev + p_i * i * (1 - i) * g)


# ------------------------------------------------------------------------------------------
# Compiled closed forms: against finite differences, one step, and the unrolled derivation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
def test_traced_forward_matches_the_cells_own_forward(cell):
    params, xs, h0, c0, _ = S.random_problem(cell, H=4, D=3, B=2, T=4)
    hs, _ = S.forward(cell, params, xs, h0, c0)
    layer = make_layer(cell, 3, 4, fused=False)
    layer.cells[0].load_weights(params)
    state = h0[None] if c0 is None else (h0[None], c0[None])
    outputs, _ = layer(xs, state)
    np.testing.assert_allclose(hs, outputs.data, rtol=0, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
def test_compiled_bptt_matches_finite_differences(cell):
    problem = S.random_problem(cell, H=3, D=2, B=2, T=3, seed=1)
    ours = S.bptt(cell, *problem)
    numeric = S.finite_difference_grads(cell, *problem, eps=1e-6)
    assert set(ours) == set(numeric)
    for name in numeric:
        assert ours[name].shape == numeric[name].shape
        assert_close(ours[name], numeric[name], f"{cell} {name}")


def test_lstm_backward_step_is_one_step_of_bptt():
    params, xs, h0, c0, dhs = S.random_problem("lstm", H=3, D=2, B=4, T=1)
    step = S.lstm_backward_step(params, xs[0], h0, c0, dhs[0])
    full = S.bptt("lstm", params, xs, h0, c0, dhs)
    for name in params:
        np.testing.assert_allclose(step[name], full[name], atol=1e-15)
    np.testing.assert_allclose(step["c_prev"], full["c0"], atol=1e-15)
    np.testing.assert_allclose(step["x"], full["x"][0], atol=1e-15)


def test_backward_step_uses_the_cell_delta_from_the_next_step():
    params, xs, h0, c0, _ = S.random_problem("lstm", H=3, D=2, B=2, T=1)
    zero = np.zeros_like(h0)
    dc = np.random.default_rng(3).normal(size=h0.shape)
    only_c = S.lstm_backward_step(params, xs[0], h0, c0, zero, dc)
    # With δh = 0 only the cell path carries gradient: δc_{t-1} = δc_t⁺ ⊙ f_t.
    f = 1 / (1 + np.exp(-(np.concatenate([h0, xs[0]], 1) @ params["W_f"] + params["b_f"])))
    np.testing.assert_allclose(only_c["c_prev"], dc * f, atol=1e-15)
    assert np.all(only_c["W_o"] == 0)


@pytest.mark.parametrize("cell, H, D, T", [("rnn", 3, 2, 3), ("lstm", 2, 1, 2),
                                           ("gru", 2, 1, 2), ("peephole", 2, 2, 1)])
def test_per_unit_closed_forms_assemble_to_the_unrolled_vector_gradients(cell, H, D, T):
    problem = S.random_problem(cell, H=H, D=D, B=2, T=T, seed=2)
    ours = S.bptt(cell, *problem)
    full = S.unrolled_gradients(cell, *problem)
    assert set(ours) == set(full)
    for name in full:
        np.testing.assert_allclose(ours[name], full[name], rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", CELLS)
def test_cross_check_against_the_engine_paths(cell):
    pytest.importorskip("rnn.layers")
    result = S.cross_check(cell, H=3, D=2, B=2, T=3, references=("engine", "fused"))
    has_kernel = cell_class(cell).fused_kernel() is not None
    assert result.ok, result.table()
    assert set(result.skipped) == (set() if has_kernel else {"fused"}), result.skipped
    assert {row.reference for row in result.rows} == ({"engine", "fused"} if has_kernel
                                                      else {"engine"})
    assert all(result.max_error(ref) <= 1e-10 for ref in {r.reference for r in result.rows})


def test_cross_check_table_marks_a_failure():
    result = S.CrossCheck("lstm", {"H": 1}, [S.crosscheck.CheckRow("engine", "W_f", 1e-3, False)])
    assert not result.ok
    assert "!" in result.table() and result.table().endswith("FAILED")


# ------------------------------------------------------------------------------------------
# VJP rules of the op table
# ------------------------------------------------------------------------------------------


def test_vjp_rules_are_derived_through_the_output():
    rules = S.vjp_rules()
    expected = {
        "sigmoid": (grad_out * out * (1 - out),), "tanh": (grad_out * (1 - out**2),),
        "exp": (grad_out * out,), "log": (grad_out / x,), "neg": (-grad_out,),
        "add": (grad_out, grad_out), "sub": (grad_out, -grad_out),
        "mul": (grad_out * y, grad_out * x), "div": (grad_out / y, -grad_out * x / y**2),
        "pow": (grad_out * y * x ** (y - 1), grad_out * out * sp.log(x)),
    }
    for name, forms in expected.items():
        assert len(rules[name].vjps) == len(forms)
        for got, want in zip(rules[name].vjps, forms):
            assert same(got, want), name
    relu = rules["relu"].vjps[0]
    assert relu.subs(x, 2) == grad_out and relu.subs(x, -2) == 0


def test_check_op_table_catches_a_wrong_rule():
    class Op:
        def __init__(self, vjp):
            self.vjp = vjp

    table = {"sigmoid": Op(lambda B, g, o, a: (g * o,)),  # forgot (1 - out)
             "tanh": Op(lambda B, g, o, a: (g * (1 - o * o),))}
    errors = {r.op: r.max_abs_error for r in S.check_op_table(table, None)}
    assert errors["tanh"] < 1e-14 and errors["sigmoid"] > 1e-2


def test_engine_op_table_matches_the_derived_vjp_rules():
    pytest.importorskip("autograd_lite.ops")
    results = S.check_engine_ops()
    checked = {r.op for r in results if r.max_abs_error is not None}
    assert set(S.vjp_rules()) <= checked
    for r in results:
        assert r.max_abs_error is None or r.max_abs_error <= 1e-12, r


# ------------------------------------------------------------------------------------------
# Long-term path
# ------------------------------------------------------------------------------------------


def test_cell_state_path_is_a_product_of_forget_gates():
    p = S.state_path(S.derivation("lstm"), T=4)
    assert p.verified and len(p.derived.args) == 4 and "f_{1}" in p._repr_latex_()
    assert S.state_path(S.derivation("gru"), T=3).derived == sp.Mul(*(V(f"u_t@{k}")
                                                                      for k in (1, 2, 3)))
    mgu = S.state_path(S.derivation("mgu"), T=2)  # h carries itself through 1 - f
    assert mgu.verified and mgu.product == sp.Mul(*(1 - V(f"f_t@{k}") for k in (1, 2)))
    assert S.state_path(S.derivation("rnn")) is None  # the RNN's path runs through W


def test_rnn_path_is_a_product_of_tanh_slopes_and_weights():
    assert S.rnn_path(T=3).verified
    assert S.rnn_jacobian(H=2, T=1)[2] and S.rnn_jacobian(H=2, T=2)[2]


def test_path_magnitudes_table_and_plot(tmp_path):
    mags = S.path_magnitudes(steps=(1, 10, 50), H=16)
    assert all(v.shape == (3,) for v in mags.values())
    lstm = mags["LSTM f≈0.9"]
    assert lstm[0] > lstm[1] > lstm[2] > 0
    assert "LSTM f≈0.99" in S.path_table(mags, steps=(1, 10, 50))
    png = tmp_path / "paths.png"
    plot_path_magnitudes(png, mags, steps=(1, 10, 50))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------
# Output: LaTeX, pretty text, Markdown
# ------------------------------------------------------------------------------------------


def test_markdown_report_has_equations_derivatives_and_deltas():
    md = S.derivation_markdown("lstm")
    assert md.startswith("# LSTM")
    assert md.count("$$") % 2 == 0 and md.count("$$") > 40
    for piece in [r"f_t = \sigma\left(a_{f}\right)", r"c_t = f_t \cdot c_{t-1} + i_t",
                  r"f_t \cdot \left(1 - f_t\right)", r"\delta a_{f}",
                  r"\frac{\partial L}{\partial W_{f}}", "## Backward pass", "## Long-term path",
                  "| derivative | derived by SymPy | check |"]:
        assert piece in md, piece
    for line in md.splitlines():  # a table row must not be split by a | inside its math
        if line.startswith("| $"):
            assert line.count("|") == 4, line


def test_latex_is_one_balanced_aligned_block():
    tex = S.derivation_latex("gru")
    assert tex.startswith(r"\begin{aligned}") and tex.endswith(r"\end{aligned}")
    assert tex.count("{") == tex.count("}")
    assert r"\delta a_{nh}" in tex and r"h_{t-1} - n_t" in tex


def test_derivations_display_as_latex_in_jupyter():
    assert S.derivation("rnn")._repr_latex_().startswith("$$")
    assert S.vjp_rules()["tanh"]._repr_latex_().startswith("$$")
    assert S.rnn_path(2)._repr_latex_().startswith("$$")


def test_pretty_text_shows_gate_outputs():
    text = S.derivation_pretty("lstm")
    assert "δa_f = cₜ₋₁⋅fₜ⋅(1 - fₜ)" in text and "σ(a_f)" in text


# ------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------


def rnn_lab(*args):
    return subprocess.run([sys.executable, "-m", "rnn", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_derive_prints_pretty_text():
    result = rnn_lab("derive", "lstm")
    assert result.returncode == 0, result.stderr
    assert "δa_f" in result.stdout and "Backward pass" in result.stdout


def test_cli_derive_latex():
    result = rnn_lab("derive", "peephole", "--latex")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(r"\begin{aligned}") and r"\hat{a}_{f}" in result.stdout


def test_cli_derive_markdown_writes_the_file(tmp_path):
    target = tmp_path / "gru.md"
    result = rnn_lab("derive", "gru", "--markdown", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_text(encoding="utf-8").startswith("# GRU")


def test_cli_derive_check_prints_a_passing_table():
    result = rnn_lab("derive", "rnn", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "engine" in result.stdout and result.stdout.rstrip().endswith("OK")


def test_cli_derive_rejects_an_unknown_cell():
    result = rnn_lab("derive", "transformer")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "invalid choice" in result.stderr


def test_cli_derive_help_has_an_example():
    result = rnn_lab("derive", "--help")
    assert result.returncode == 0 and "Examples:" in result.stdout


# ------------------------------------------------------------------------------------------
# Safety: no string evaluation anywhere in the packages
# ------------------------------------------------------------------------------------------


def test_no_string_evaluation_in_sources():
    # sympify/parse_expr anywhere (also as sympy.sympify); eval as the builtin, not as a method
    # such as Module.eval() (defined with `def eval(` or called as `.eval(`).
    pattern = re.compile(r"\b(sympify|parse_expr)\(|(?<![\w.])(?<!def )eval\(")
    hits = []
    for package in ("rnn", "autograd_lite"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{k}: {line.strip()}")
    assert not hits, "string evaluation found:\n" + "\n".join(hits)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "peephole"])
def test_stacked_finite_differences_match_one_at_a_time(cell):
    from rnn.symbolic import finite_difference_grads, random_problem, reference_loss

    params, xs, h0, c0, dhs = random_problem(cell, H=2, D=2, B=2, T=2, seed=3)
    c0 = np.zeros_like(h0) if c0 is None else c0
    stacked = finite_difference_grads(cell, params, xs, h0, c0, dhs, chunk=3)
    eps = 1e-6
    matrix = next(k for k, v in params.items() if np.ndim(v) == 2)
    vector = next(k for k, v in params.items() if np.ndim(v) == 1)
    for name in (matrix, vector, "x"):
        arrays = {**{k: np.array(v) for k, v in params.items()}, "x": np.array(xs)}
        arr = arrays[name]
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = reference_loss(cell, {k: arrays[k] for k in params}, arrays["x"], h0, c0, dhs)
            arr[idx] = old - eps
            down = reference_loss(cell, {k: arrays[k] for k in params}, arrays["x"], h0, c0,
                                  dhs)
            arr[idx] = old
            assert abs(stacked[name][idx] - (up - down) / (2 * eps)) < 1e-8


# ------------------------------------------------------------------------------------------
# The four classic derivations print what they printed before cells were traced
# ------------------------------------------------------------------------------------------

GOLDEN = ROOT / "tests" / "data" / "derive"  # `rnn-lab derive CELL` and `--latex` output,
# captured from the hand-written per-unit specs before the tracer replaced them


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "peephole"])
def test_traced_derivation_prints_as_the_hand_written_one_did(cell):
    assert S.derivation_pretty(cell) == (GOLDEN / f"{cell}.txt").read_text(encoding="utf-8")
    assert S.derivation_latex(cell) + "\n" == (GOLDEN / f"{cell}.tex").read_text(
        encoding="utf-8")
