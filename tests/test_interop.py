"""Weights to and from PyTorch: equal outputs and gradients (skipped without torch)."""

import sys

import numpy as np
import pytest

from autograd_lite import Tensor
from rnn.cells import GRUCell, LSTMCell, RNNCell
from rnn.interop import from_torch, to_torch
from rnn.layers import make_layer

KINDS = ["rnn", "lstm", "gru"]


def _torch():
    return pytest.importorskip("torch")


def _torch_state(kind, arrays, torch):
    tensors = [torch.from_numpy(a) for a in arrays]
    return tuple(tensors) if kind == "lstm" else tensors[0]


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_to_torch_outputs_match(kind, batch_first, fused):
    torch = _torch()
    L, T, B, D, H = 2, 5, 3, 4, 6
    layer = make_layer(kind, D, H, num_layers=L, batch_first=batch_first, fused=fused, rng=0)
    module = to_torch(layer)
    assert isinstance(
        module, {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    arrays = [rng.standard_normal((L, B, H)) for _ in range(2 if kind == "lstm" else 1)]
    ours, our_state = layer(x, tuple(arrays) if kind == "lstm" else arrays[0])
    theirs, their_state = module(torch.from_numpy(x), _torch_state(kind, arrays, torch))
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=0, atol=1e-6)
    pairs = zip(our_state, their_state) if kind == "lstm" else [(our_state, their_state)]
    for a, b in pairs:
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_from_torch_outputs_match(kind):
    torch = _torch()
    torch.manual_seed(0)
    module = getattr(torch.nn, kind.upper())(4, 5, num_layers=2, dtype=torch.float64)
    layer = from_torch(module)
    assert layer.num_layers == 2 and layer.dtype == np.float64
    x = np.random.default_rng(0).standard_normal((6, 3, 4))
    ours, _ = layer(x)
    theirs, _ = module(torch.from_numpy(x))
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_keeps_weights(kind):
    _torch()
    layer = make_layer(kind, 3, 4, num_layers=2, rng=0)
    back = from_torch(to_torch(layer))
    for a, b in zip(layer.cells, back.cells):
        for name, value in a.weights().items():
            np.testing.assert_allclose(b.weights()[name], value, rtol=0, atol=1e-15)


def test_lstm_gradients_match_torch():
    torch = _torch()
    T, B, D, H = 5, 3, 4, 6
    layer = make_layer("lstm", D, H, rng=0)
    module = to_torch(layer)
    x = np.random.default_rng(1).standard_normal((T, B, D))
    out, _ = layer(Tensor(x))
    (out * out).sum().backward()
    theirs, _ = module(torch.from_numpy(x))
    (theirs * theirs).sum().backward()
    cell = layer.cells[0]
    for k, gate in enumerate("ifco"):  # torch's gate order i, f, g, o
        rows = slice(k * H, (k + 1) * H)
        W_grad = getattr(cell, f"W_{gate}").grad
        np.testing.assert_allclose(W_grad[:H], module.weight_hh_l0.grad[rows].numpy().T, atol=1e-10)
        np.testing.assert_allclose(W_grad[H:], module.weight_ih_l0.grad[rows].numpy().T, atol=1e-10)
        # our single bias gets the gradient each of torch's two biases gets
        np.testing.assert_allclose(
            getattr(cell, f"b_{gate}").grad, module.bias_ih_l0.grad[rows].numpy(), atol=1e-10
        )


def test_gru_keeps_both_candidate_biases():
    torch = _torch()
    torch.manual_seed(0)
    module = torch.nn.GRU(3, 4, dtype=torch.float64)
    cell = from_torch(module).cells[0]
    np.testing.assert_array_equal(cell.b_nx.data, module.bias_ih_l0[8:].detach().numpy())
    np.testing.assert_array_equal(cell.b_nh.data, module.bias_hh_l0[8:].detach().numpy())
    np.testing.assert_allclose(
        cell.b_r.data, (module.bias_ih_l0 + module.bias_hh_l0)[:4].detach().numpy(), atol=1e-15
    )


@pytest.mark.parametrize(
    "ours, theirs", [(RNNCell, "RNNCell"), (LSTMCell, "LSTMCell"), (GRUCell, "GRUCell")]
)
def test_cells_map_to_torch_cells(ours, theirs):
    torch = _torch()
    cell = ours(3, 4, rng=0)
    module = to_torch(cell)
    assert type(module).__name__ == theirs
    x, h = np.random.default_rng(0).standard_normal((2, 3)), np.zeros((2, 4))
    a = cell(x)
    b = module(
        torch.from_numpy(x), (torch.from_numpy(h),) * 2 if ours is LSTMCell else torch.from_numpy(h)
    )
    a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
    np.testing.assert_allclose(a.data, b.detach().numpy(), atol=1e-6)
    assert type(from_torch(module)) is ours


def test_the_irnn_maps_to_torchs_relu_rnn_and_back():
    torch = _torch()
    layer = make_layer("irnn", 3, 5, num_layers=2, rng=0, init="orthogonal")
    module = to_torch(layer)
    assert isinstance(module, torch.nn.RNN) and module.nonlinearity == "relu"
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    np.testing.assert_allclose(layer(x)[0].data, module(torch.from_numpy(x))[0].detach().numpy(),
                               rtol=0, atol=1e-6)
    back = from_torch(module)
    assert back.cell_class.name == "irnn"
    for a, b in zip(layer.cells, back.cells):
        for name, value in a.weights().items():
            np.testing.assert_allclose(b.weights()[name], value, rtol=0, atol=1e-15)
    cell = RNNCell(3, 5, rng=0, nonlinearity="relu", init="orthogonal")
    torch_cell = to_torch(cell)
    assert isinstance(torch_cell, torch.nn.RNNCell) and torch_cell.nonlinearity == "relu"
    np.testing.assert_allclose(cell(x[0]).data,
                               torch_cell(torch.from_numpy(x[0])).detach().numpy(), atol=1e-6)
    assert type(from_torch(torch_cell)).__name__ == "IRNNCell"


def test_float32_maps_to_float32():
    torch = _torch()
    module = to_torch(make_layer("lstm", 3, 4, dtype=np.float32, rng=0))
    assert module.weight_ih_l0.dtype == torch.float32
    assert from_torch(module).dtype == np.float32


def test_from_torch_bias_false_gives_zero_biases():
    torch = _torch()
    module = torch.nn.LSTM(3, 4, bias=False, dtype=torch.float64)
    cell = from_torch(module).cells[0]
    assert not np.any(cell.b_f.data)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    np.testing.assert_allclose(
        from_torch(module)(x)[0].data, module(torch.from_numpy(x))[0].detach().numpy(), atol=1e-6
    )


def test_unsupported_modules_raise_clear_errors():
    torch = _torch()
    with pytest.raises(TypeError, match="recurrent layers, got dict"):
        to_torch({})
    with pytest.raises(ValueError, match="bidirectional"):
        from_torch(torch.nn.LSTM(3, 4, bidirectional=True))
    with pytest.raises(ValueError, match="proj_size"):
        from_torch(torch.nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(TypeError, match="Linear"):
        from_torch(torch.nn.Linear(3, 4))


def test_missing_torch_raises_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(ImportError, match="needs PyTorch"):
        to_torch(make_layer("lstm", 3, 4))
