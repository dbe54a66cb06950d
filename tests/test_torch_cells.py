"""Every registered cell on PyTorch: outputs and gradients equal the engine's in float64, the
weights make the round trip, and a cell torch cannot run is refused in one line naming why."""

import numpy as np
import pytest

from autograd_lite import Tensor
from autograd_lite.ops import OPS, apply, defop, sigmoid, tanh, where
from rnn.cells import Cell, cat_hx, cell_class, cell_names, named, unregister
from rnn.errors import UserError
from rnn.interop import from_torch, to_torch
from rnn.layers import make_layer

torch = pytest.importorskip("torch")

from rnn.torch_engine.backend import UnsupportedOp, register_torch_op
from rnn.torch_engine.cells import TorchCell, TorchLayer

T, B, D, H, L = 4, 3, 3, 5, 2


@pytest.fixture(scope="module", autouse=True)
def leaky_cell():
    """A cell defined here (registered for this module's tests only), with every kind of
    parameter."""

    class LeakyCell(Cell):
        """s_t = sigmoid(x_t @ W_s + h_{t-1} @ U_s + p_s * h_{t-1} + b_s)
        a_t = tanh([h_{t-1}, x_t] @ W_a + b_a)
        h_t = s_t * a_t + (1 - s_t) * 0.5 * h_{t-1}
        """

        name = "test-leaky"
        PARAMS = (("W_s", "x"), ("U_s", "h"), ("p_s", None), ("b_s", None), ("W_a", "hx"),
                  ("b_a", None))
        FORGET_BIAS = None

        def forward(self, x, h=None):
            x = self._input(x)
            (h_prev,) = self.states(x, h)
            s = named(sigmoid(x @ self.W_s + h_prev @ self.U_s + self.p_s * h_prev + self.b_s),
                      "s_t")
            a = named(tanh(cat_hx(h_prev, x) @ self.W_a + self.b_a), "a_t")
            return named(s * a + (1 - s) * 0.5 * h_prev, "h_t")

    yield LeakyCell
    for name in ("test-leaky", "test-softsign", "test-peeks"):
        unregister(name)


def _engine_run(layer, x, state):
    out, final = layer(x, state)
    finals = final if isinstance(final, tuple) else (final,)
    loss = (out * out).sum() + sum((f * f * 0.5).sum() for f in finals)
    loss.backward()
    return out, finals


def _torch_run(module, x, state):
    out, final = module(x, state)
    finals = final if isinstance(final, tuple) else (final,)
    loss = (out * out).sum() + sum((f * f * 0.5).sum() for f in finals)
    loss.backward()
    return out, finals


@pytest.mark.parametrize("name", [*cell_names(), "test-leaky"])
def test_every_cell_on_torch_matches_the_engine_in_float64(name):
    layer = make_layer(cell_class(name), D, H, num_layers=L, fused=False, rng=0)
    module = TorchLayer.from_layer(layer)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, B, D))
    states = [rng.standard_normal((L, B, H)) for _ in layer.cell_class.STATE]
    ex = Tensor(x, requires_grad=True)
    es = [Tensor(s, requires_grad=True) for s in states]
    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    pick = (lambda s: s[0]) if len(states) == 1 else tuple
    out, finals = _engine_run(layer, ex, pick(es))
    tout, tfinals = _torch_run(module, tx, pick(ts))
    close = {"rtol": 0, "atol": 1e-10}
    np.testing.assert_allclose(tout.detach().numpy(), out.data, **close)
    for a, b in zip(finals, tfinals):
        np.testing.assert_allclose(b.detach().numpy(), a.data, **close)
    np.testing.assert_allclose(tx.grad.numpy(), ex.grad, **close)
    for a, b in zip(es, ts):
        np.testing.assert_allclose(b.grad.numpy(), a.grad, **close)
    ours = dict(layer.named_parameters())
    theirs = dict(module.named_parameters())
    assert sorted(theirs) == sorted(ours)
    for n, p in ours.items():
        np.testing.assert_allclose(theirs[n].grad.numpy(), p.grad, err_msg=n, **close)


@pytest.mark.parametrize("name", [*cell_names(), "test-leaky"])
def test_every_cell_makes_the_round_trip(name):
    layer = make_layer(cell_class(name), D, H, num_layers=L, rng=0)
    back = from_torch(to_torch(layer))
    assert back.cell_class is layer.cell_class and back.num_layers == L
    for a, b in zip(layer.cells, back.cells):
        for n, value in a.weights().items():
            np.testing.assert_allclose(b.weights()[n], value, rtol=0, atol=1e-15)
    cell = cell_class(name)(D, H, rng=0)
    again = from_torch(to_torch(cell))
    assert type(again) is type(cell)
    for n, value in cell.weights().items():
        np.testing.assert_array_equal(again.weights()[n], value)


@pytest.mark.parametrize("name", ["peephole", "cifg", "mgu", "test-leaky"])
def test_cells_torch_lacks_become_modules_named_like_the_cell(name):
    module = to_torch(make_layer(cell_class(name), D, H, rng=0))
    assert isinstance(module, TorchLayer)
    names = {n.split(".")[-1] for n, _ in module.named_parameters()}
    assert names == {n for n, _ in cell_class(name).PARAMS}
    single = to_torch(cell_class(name)(D, H, rng=0))
    assert isinstance(single, TorchCell)
    assert {n for n, _ in single.named_parameters()} == names


def test_a_torch_cell_steps_like_our_cell():
    cell = cell_class("peephole")(D, H, rng=0)
    module = to_torch(cell)
    x = np.random.default_rng(0).standard_normal((B, D))
    h, c = cell(x)
    th, tc = module(torch.from_numpy(x))
    np.testing.assert_allclose(th.detach().numpy(), h.data, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tc.detach().numpy(), c.data, rtol=0, atol=1e-12)


def test_float32_cells_stay_float32():
    module = to_torch(make_layer("mgu", D, H, dtype=np.float32, rng=0))
    assert module.cells[0].W_f.dtype == torch.float32
    out, _ = module(torch.zeros((T, B, D), dtype=torch.float32))
    assert out.dtype == torch.float32
    assert from_torch(module).dtype == np.float32


def test_batch_first_layer_matches():
    layer = make_layer("cifg", D, H, batch_first=True, fused=False, rng=0)
    module = to_torch(layer)
    x = np.random.default_rng(0).standard_normal((B, T, D))
    np.testing.assert_allclose(module(torch.from_numpy(x))[0].detach().numpy(),
                               layer(x)[0].data, rtol=0, atol=1e-12)


def test_a_cell_with_an_op_torch_lacks_is_refused_naming_the_op():
    softsign = defop("softsign_test", lambda a: a / (1 + np.abs(a)),
                     lambda bk, g, out, a: (g * (1 - bk.raw(out) ** 2),))

    class SoftsignCell(Cell):
        name = "test-softsign"
        PARAMS = (("W", "hx"), ("b", None))

        def forward(self, x, h=None):
            x = self._input(x)
            (h_prev,) = self.states(x, h)
            return named(apply(softsign, cat_hx(h_prev, x) @ self.W + self.b), "h_t")

    try:
        with pytest.raises(UnsupportedOp, match="'softsign_test'") as info:
            to_torch(make_layer(SoftsignCell, D, H, rng=0))
        assert isinstance(info.value, UserError) and "\n" not in str(info.value)
        register_torch_op("softsign_test", lambda torch, a: a / (1 + a.abs()))
        layer = make_layer(SoftsignCell, D, H, fused=False, rng=0)
        x = np.random.default_rng(0).standard_normal((T, B, D))
        np.testing.assert_allclose(to_torch(layer)(torch.from_numpy(x))[0].detach().numpy(),
                                   layer(x)[0].data, rtol=0, atol=1e-12)
    finally:
        OPS.pop("softsign_test", None)
        from rnn.torch_engine.backend import TORCH_FORWARDS

        TORCH_FORWARDS.pop("softsign_test", None)


def test_a_forward_that_reads_input_values_is_refused():
    class PeekingCell(Cell):
        name = "test-peeks"
        PARAMS = (("W", "hx"), ("b", None))

        def forward(self, x, h=None):
            x = self._input(x)
            (h_prev,) = self.states(x, h)
            a = cat_hx(h_prev, x) @ self.W + self.b
            return named(where(a.data > 0, a, 0.1 * a), "h_t")  # frozen at trace time

    with pytest.raises(UserError, match="depends on the input values"):
        to_torch(make_layer(PeekingCell, D, H, rng=0))
