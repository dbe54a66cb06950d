"""Sequence layers on the readable path: shapes, state format, gradients, depth, TBPTT."""

import numpy as np
import pytest

from autograd_lite import Tensor, gradcheck, to_networkx
from autograd_lite.tensor import ShapeError
from rnn.cells import cell_class, cell_names
from rnn.layers import GRU, LSTM, RNN, PeepholeLSTM, RecurrentLayer, detach_state, make_layer

KINDS = list(cell_names())  # every registered cell
TWO_STATES = {n for n in KINDS if len(cell_class(n).STATE) == 2}


def _state(kind, arrays):
    return tuple(arrays) if kind in TWO_STATES else arrays[0]


def _layer_fn(layer, kind):
    """fn(x, *states, *params) for gradcheck: the layer with its parameters swapped in."""
    slots = [(cell, name) for cell in layer.cells for name, _ in cell.PARAMS]
    n_state = 2 if kind in TWO_STATES else 1

    def fn(x, *rest):
        for (cell, name), p in zip(slots, rest[n_state:]):
            setattr(cell, name, p)
        out, final = layer(x, _state(kind, rest[:n_state]))
        return (out, *final) if isinstance(final, tuple) else (out, final)

    return fn


@pytest.mark.parametrize("kind", KINDS)
def test_make_layer_builds_each_kind(kind):
    layer = make_layer(kind, 3, 4, num_layers=2, rng=0)
    named = {"rnn": RNN, "lstm": LSTM, "gru": GRU, "peephole": PeepholeLSTM}
    assert type(layer) is named.get(kind, RecurrentLayer)  # a named layer class where one exists
    assert layer.cell_class is cell_class(kind) and type(layer.cells[0]) is cell_class(kind)
    assert layer.num_layers == 2 and layer.cells[1].input_size == 4


def test_make_layer_unknown_cell_names_choices():
    with pytest.raises(ValueError, match="rnn, lstm, gru, peephole"):
        make_layer("transformer", 3, 4)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_output_and_state_shapes_follow_pytorch(kind, fused):
    T, B, D, H, L = 5, 3, 2, 4, 2
    layer = make_layer(kind, D, H, num_layers=L, fused=fused, rng=0)
    out, state = layer(np.ones((T, B, D)))
    assert out.shape == (T, B, H)
    for s in state if kind in TWO_STATES else (state,):
        assert s.shape == (L, B, H)
    np.testing.assert_array_equal(
        (state[0] if kind in TWO_STATES else state).data[-1], out.data[-1]
    )
    bf = make_layer(kind, D, H, num_layers=L, batch_first=True, fused=fused, rng=0)
    out_bf, _ = bf(np.ones((B, T, D)))
    assert out_bf.shape == (B, T, H)
    np.testing.assert_allclose(out_bf.data, out.data.transpose(1, 0, 2), atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_readable_layer_gradcheck(kind):
    rng = np.random.default_rng(0)
    T, B, D, H, L = 3, 2, 3, 4, 2
    layer = make_layer(kind, D, H, num_layers=L, fused=False, rng=1)
    x = rng.standard_normal((T, B, D))
    states = [rng.standard_normal((L, B, H)) for _ in range(2 if kind in TWO_STATES else 1)]
    params = [p.data for p in layer.parameters()]
    assert gradcheck(_layer_fn(layer, kind), [x, *states, *params])


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_state_shape_raises_naming_layer_state_and_shapes(kind):
    layer = make_layer(kind, 2, 4, num_layers=2, rng=0)
    x = np.ones((5, 3, 2))
    good = np.zeros((2, 3, 4))
    for bad in [(1, 3, 4), (2, 2, 4), (2, 3, 5), (3, 4)]:
        arrays = [good, np.zeros(bad)] if kind in TWO_STATES else [np.zeros(bad)]
        with pytest.raises(ShapeError) as info:
            layer(x, _state(kind, arrays))
        message = str(info.value)
        assert type(layer).__name__ in message and str(bad) in message
        assert str((2, 3, 4)) in message


def test_lstm_state_must_be_a_pair_and_gru_state_a_single_array():
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        LSTM(2, 4)(np.ones((5, 3, 2)), np.zeros((1, 3, 4)))
    with pytest.raises(TypeError, match="single array"):
        GRU(2, 4)(np.ones((5, 3, 2)), (np.zeros((1, 3, 4)),))


def test_wrong_input_shape_raises():
    with pytest.raises(ShapeError, match=r"LSTM: input x has shape \(5, 3, 7\)"):
        LSTM(2, 4)(np.ones((5, 3, 7)))
    with pytest.raises(ShapeError, match="batch, time"):
        LSTM(2, 4, batch_first=True)(np.ones((5, 2)))


def test_unroll_2000_steps_without_recursion_error():
    T = 2000
    layer = LSTM(2, 3, fused=False, rng=0)
    x = Tensor(np.random.default_rng(0).standard_normal((T, 1, 2)), requires_grad=True)
    out, (h, c) = layer(x)
    loss = (h * h).sum() + out[0].sum()
    loss.backward()
    assert np.isfinite(layer.cells[0].W_f.grad).all()
    assert x.grad.shape == x.shape
    assert to_networkx(loss).number_of_nodes() > 15 * T
    del loss, out, h, c  # freeing a deep graph must not recurse either


def _graph_sizes(layer, detach: bool, batches: int = 4) -> list[int]:
    rng = np.random.default_rng(0)
    state, sizes = None, []
    for _ in range(batches):
        out, state = layer(rng.standard_normal((4, 2, 2)), state)
        loss = (out * out).sum()
        loss.backward(retain_graph=not detach)  # (without detach, the next one reaches it)
        sizes.append(to_networkx(loss).number_of_nodes())
        if detach:
            state = detach_state(state)
    return sizes


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_truncated_bptt_graph_does_not_grow(kind, fused):
    layer = make_layer(kind, 2, 3, fused=fused, rng=0)
    sizes = _graph_sizes(layer, detach=True)
    assert len(set(sizes)) == 1, sizes
    # without detach_state the graph reaches back through every earlier batch
    grown = _graph_sizes(layer, detach=False)
    assert grown == sorted(grown) and grown[-1] > grown[0], grown


def test_detach_state_cuts_tensors_and_tuples():
    h = Tensor(np.ones((1, 2, 3)), requires_grad=True) * 2
    assert not detach_state(h).requires_grad
    pair = detach_state((h, h))
    assert isinstance(pair, tuple) and not any(s.requires_grad for s in pair)
    assert detach_state(None) is None


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_float32_layer_stays_float32(kind, fused):
    layer = make_layer(kind, 2, 3, dtype=np.float32, fused=fused, num_layers=2, rng=0)
    out, state = layer(np.ones((4, 2, 2)))
    loss = out.sum()
    loss.backward()
    assert out.dtype == np.float32
    assert all(s.dtype == np.float32 for s in (state if isinstance(state, tuple) else (state,)))
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


def test_unrolled_graph_carries_labels():
    out, _ = LSTM(2, 3, fused=False, rng=0)(np.ones((3, 1, 2)))
    labels = [d["label"] for _, d in to_networkx(out).nodes(data=True)]
    for name in ["f_t", "i_t", "c~_t", "c_t", "o_t", "h_t"]:
        assert labels.count(name) == 3, name
    assert "outputs" in labels


def test_named_parameters_by_layer_and_gate():
    names = [n for n, _ in LSTM(2, 3, num_layers=2).named_parameters()]
    assert names[:2] == ["cells.0.W_f", "cells.0.b_f"] and "cells.1.W_o" in names


def test_bad_arguments_rejected():
    with pytest.raises(ValueError, match="num_layers"):
        LSTM(2, 3, num_layers=0)
    with pytest.raises(TypeError, match="float32 or float64"):
        GRU(2, 3, dtype=np.float16)
    with pytest.raises(ShapeError, match="no time steps"):
        RNN(2, 3)(np.ones((0, 1, 2)))
