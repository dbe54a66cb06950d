"""The cell registry: a cell is one class, and everything else comes from it."""

import re
import warnings

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.ops import exp, log, sigmoid, tanh
from rnn import draw, symbolic
from rnn.cells import Cell, CellDefinitionError, cat_hx, cell_class, cell_names, named, unregister
from rnn.layers import FusedFallback, RecurrentLayer, make_layer


@pytest.fixture(scope="module")
def leaky():
    """A throwaway variant defined only here (inside a fixture, so the registry holds it only
    while these tests run): h_t = (1 - g) h_{t-1} + g tanh(hx @ W + b), with a per-unit leak
    gate g = sigmoid(p * h_{t-1} + q)."""

    class LeakyTanhCell(Cell):
        name = "test-leaky"
        PARAMS = (("W", "hx"), ("b", None), ("p", None), ("q", None))

        def forward(self, x, h=None):
            x = self._input(x)
            (h_prev,) = self.states(x, h)
            g = named(sigmoid(self.p * h_prev + self.q), "g_t")
            cand = named(tanh(cat_hx(h_prev, x) @ self.W + self.b), "h~_t")
            return named((1 - g) * h_prev + g * cand, "h_t")

    yield LeakyTanhCell
    unregister("test-leaky")


def test_defining_a_cell_registers_it(leaky):
    assert "test-leaky" in cell_names()
    assert cell_class("test-leaky") is leaky
    assert cell_names()[:7] == ("rnn", "lstm", "gru", "peephole", "cifg", "irnn", "mgu")


def test_a_cell_defined_in_a_test_gets_its_layer_and_trains(leaky):
    layer = make_layer("test-leaky", 3, 4, fused=False, rng=0)
    assert isinstance(layer, RecurrentLayer) and layer.cell_class is leaky
    head = al.nn.Linear(4, 1, rng=1)
    params = layer.parameters() + head.parameters()
    opt = al.optim.Adam(params, lr=0.05)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 8, 3)), rng.normal(size=(8, 1))
    losses = []
    for _ in range(30):
        outputs, h_n = layer(x)
        loss = al.mse(head(outputs[-1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert h_n.shape == (1, 8, 4)
    assert losses[-1] < 0.5 * losses[0]


def test_a_cell_defined_in_a_test_is_derived_and_cross_checked(leaky):
    spec = symbolic.cell_spec("test-leaky")
    assert [v.name for v, _ in spec.equations] == ["g_t", "htilde_t", "h_t"]
    # its gate g_t is not the LSTM's candidate c~_t, which prints as c̃ₜ wherever it appears
    assert "c̃ₜ" in symbolic.derivation_pretty("lstm")
    assert {p.name for p in spec.elementwise} == {"p", "q"}
    d = symbolic.derivation("test-leaky")
    assert all(ld.verified for ld in d.local)
    result = symbolic.cross_check("test-leaky", H=3, D=2, references=("engine", "fused", "fd"))
    assert result.ok, result.table()
    assert result.skipped == {"fused": "LeakyTanhCell declares no fused kernel"}
    assert result.max_error("engine") <= 1e-10
    assert "δ" in symbolic.derivation_pretty("test-leaky")


def test_a_cell_defined_in_a_test_is_drawn(leaky):
    layer = make_layer("test-leaky", 2, 3, fused=False, rng=0)
    outputs, _ = layer(np.ones((3, 1, 2)))
    loss = (outputs * outputs).sum()
    loss.backward(retain_grad=True)
    source = draw.computation_graph(loss, grad=True).source
    labels = set(re.findall(r"<b>([^<]*)</b>", source))
    assert {"g_t", "h~_t", "h_t", "W", "b", "p", "q", "t = 3"} <= labels


def test_fused_true_without_a_kernel_falls_back_once_with_a_notice(leaky):
    x = np.ones((2, 1, 3))
    fused = make_layer("test-leaky", 3, 2, rng=0)  # fused=True is the default
    plain = make_layer("test-leaky", 3, 2, rng=0, fused=False)
    assert fused.fused and not fused.runs_fused
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, _ = fused(x)
        fused(x)
    assert [w.category for w in caught] == [FusedFallback]
    assert "LeakyTanhCell" in str(caught[0].message)
    np.testing.assert_array_equal(out.data, plain(x)[0].data)


def test_a_subclass_does_not_inherit_its_parents_kernel():
    lstm = cell_class("lstm")

    class SlowLSTM(lstm):
        name = "test-dup"

    unregister("test-dup")
    assert lstm.fused_kernel() is not None and SlowLSTM.fused_kernel() is None


# ---- bad definitions: clear errors at class definition ----------------------------------


def _define(**body):
    def forward(self, x, h=None):
        return x

    namespace = {"forward": forward, "name": "test-bad", "PARAMS": (("W", "hx"),)}
    namespace.update(body)
    namespace = {k: v for k, v in namespace.items() if v is not _MISSING}
    return type("BadCell", (Cell,), namespace)


_MISSING = object()


@pytest.mark.parametrize("body, message", [
    ({"name": _MISSING}, r"BadCell: needs `name"),
    ({"name": "Has Space"}, r"BadCell: needs `name"),
    ({"PARAMS": _MISSING}, r"BadCell: PARAMS must be a non-empty tuple"),
    ({"PARAMS": (("W", "hxx"),)}, r"BadCell: parameter 'W' has unknown kind 'hxx'; kinds are"),
    ({"PARAMS": (("W", "hx"), ("W", None))}, r"parameter 'W' is listed twice"),
    ({"PARAMS": ("W",)}, r"PARAMS entry 'W' is not \(name, kind\)"),
    ({"forward": _MISSING}, r"BadCell: defines no forward"),
    ({"STATE": ("c",)}, r"STATE must be a tuple of names starting with 'h'"),
    ({"kernel": "fast"}, r"kernel must be an engine Op"),
    ({"name": "lstm"}, r"the name 'lstm' is already taken by rnn.cells.lstm.LSTMCell"),
])
def test_a_bad_cell_class_is_refused_when_defined(body, message):
    with pytest.raises(CellDefinitionError, match=message):
        _define(**body)
    assert "test-bad" not in cell_names()


def test_an_op_the_symbolic_side_cannot_express_is_named_and_the_engine_still_works():
    class SoftplusCell(Cell):
        name = "test-softplus"
        PARAMS = (("W", "hx"), ("b", None))

        def forward(self, x, h=None):
            x = self._input(x)
            (h_prev,) = self.states(x, h)
            return named(log(1 + exp(cat_hx(h_prev, x) @ self.W + self.b)), "h_t")

    try:
        with pytest.raises(symbolic.SymbolicUnsupported,
                           match=r"'test-softplus'.*op 'log'.*engine path .* still works"):
            symbolic.cell_spec("test-softplus")
        layer = make_layer("test-softplus", 2, 3, fused=False, rng=0)
    finally:
        unregister("test-softplus")
    out, _ = layer(np.ones((2, 1, 2)))
    al.gradcheck(lambda x: layer(x)[0], [np.random.default_rng(0).normal(size=(2, 1, 2))])
    assert out.shape == (2, 1, 3)


def test_unknown_cell_names_list_the_registered_ones():
    with pytest.raises(ValueError, match="unknown cell 'nosuch'; choose one of rnn, lstm"):
        make_layer("nosuch", 2, 3)


@pytest.mark.parametrize("size", [2.5, 0, -1, True, "3"])
def test_cell_sizes_must_be_positive_integers(size):
    with pytest.raises((TypeError, ValueError), match="LSTMCell: input_size must be a positive"):
        cell_class("lstm")(size, 4)


def test_a_cell_defined_again_replaces_itself_and_is_traced_again():
    def define(activation):  # as a notebook cell run twice with an edit in between
        class Again(Cell):
            name = "test-again"
            PARAMS = (("W", "hx"), ("b", None))

            def forward(self, x, h=None):
                x = self._input(x)
                (h_prev,) = self.states(x, h)
                return named(activation(cat_hx(h_prev, x) @ self.W + self.b), "h_t")

        return Again

    try:
        first = define(tanh)
        assert "tanh" in str(symbolic.cell_spec("test-again").equations)
        second = define(sigmoid)
        assert cell_class("test-again") is second is not first
        assert "sigmoid" in str(symbolic.cell_spec("test-again").equations)
    finally:
        unregister("test-again")
