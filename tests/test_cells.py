"""The readable cells: gradients, labels, state checks, init and dtypes."""

import numpy as np
import pytest

from autograd_lite import Tensor, gradcheck, to_networkx
from autograd_lite.tensor import ShapeError
from rnn.cells import GRUCell, LSTMCell, PeepholeLSTMCell, RNNCell, cell_class, cell_names

CELLS = [cell_class(name) for name in cell_names()]  # every registered cell
B, D, H = 2, 3, 4


def _call(cell, x, states):
    return cell(x, tuple(states) if len(states) > 1 else states[0])


def _cell_fn(cell):
    """fn(x, *states, *params) for gradcheck: the cell with its parameters swapped in."""
    names = [name for name, _ in cell.PARAMS]
    n_state = len(cell.STATE)

    def fn(x, *rest):
        for name, p in zip(names, rest[n_state:]):
            setattr(cell, name, p)
        return _call(cell, x, rest[:n_state])

    return fn


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_cell_gradcheck_all_inputs_states_and_parameters(cls):
    rng = np.random.default_rng(0)
    cell = cls(D, H, rng=1)
    x = rng.standard_normal((B, D))
    states = [rng.standard_normal((B, H)) for _ in cell.STATE]
    params = [p.data for p in cell.parameter_list()]
    assert gradcheck(_cell_fn(cell), [x, *states, *params])


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_cell_gradcheck_from_zero_state(cls):
    rng = np.random.default_rng(1)
    cell = cls(D, H, rng=2)
    names = [name for name, _ in cell.PARAMS]

    def fn(x, *params):
        for name, p in zip(names, params):
            setattr(cell, name, p)
        return cell(x)

    assert gradcheck(fn, [rng.standard_normal((B, D)), *[p.data for p in cell.parameter_list()]])


@pytest.mark.parametrize(
    "cls, labels",
    [
        (RNNCell, {"h_t"}),
        (LSTMCell, {"f_t", "i_t", "c~_t", "c_t", "o_t", "h_t", "tanh(c_t)"}),
        (PeepholeLSTMCell, {"f_t", "i_t", "c~_t", "c_t", "o_t", "h_t"}),
        (GRUCell, {"r_t", "z_t", "n_t", "h_t"}),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_cell_nodes_carry_equation_labels(cls, labels):
    cell = cls(D, H, rng=0)
    out = cell(np.ones((B, D)))
    h = out[0] if isinstance(out, tuple) else out
    graph = to_networkx(h)
    found = {data["label"] for _, data in graph.nodes(data=True)}
    assert labels <= found
    params = {data["label"] for _, data in graph.nodes(data=True) if data["is_parameter"]}
    assert params == {name for name, _ in cell.PARAMS}


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_cell_graph_uses_only_readable_primitives(cls):
    cell = cls(D, H, rng=0)
    out = cell(np.ones((B, D)))
    h = out[0] if isinstance(out, tuple) else out
    ops = {data["op"] for _, data in to_networkx(h).nodes(data=True)} - {None}
    assert ops <= {"concat", "matmul", "add", "sub", "mul", "sigmoid", "tanh", "relu"}


def test_lstm_cell_matches_equations_in_numpy():
    rng = np.random.default_rng(3)
    cell = LSTMCell(D, H, rng=4)
    x, h, c = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    w = cell.weights()
    hx = np.concatenate([h, x], axis=1)

    def sig(a):
        return 1 / (1 + np.exp(-a))

    f, i = sig(hx @ w["W_f"] + w["b_f"]), sig(hx @ w["W_i"] + w["b_i"])
    c_new = f * c + i * np.tanh(hx @ w["W_c"] + w["b_c"])
    h_new = sig(hx @ w["W_o"] + w["b_o"]) * np.tanh(c_new)
    h_t, c_t = cell(x, (h, c))
    np.testing.assert_allclose(h_t.data, h_new, atol=1e-14)
    np.testing.assert_allclose(c_t.data, c_new, atol=1e-14)


def test_gru_cell_matches_equations_in_numpy():
    rng = np.random.default_rng(5)
    cell = GRUCell(D, H, rng=6)
    x, h = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    w = cell.weights()
    hx = np.concatenate([h, x], axis=1)

    def sig(a):
        return 1 / (1 + np.exp(-a))

    r, z = sig(hx @ w["W_r"] + w["b_r"]), sig(hx @ w["W_z"] + w["b_z"])
    n = np.tanh(x @ w["W_nx"] + w["b_nx"] + r * (h @ w["W_nh"] + w["b_nh"]))
    np.testing.assert_allclose(cell(x, h).data, (1 - z) * n + z * h, atol=1e-14)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_missing_state_starts_at_zeros(cls):
    cell = cls(D, H, rng=0)
    x = np.random.default_rng(0).standard_normal((B, D))
    zeros = [np.zeros((B, H))] * len(cell.STATE)
    a, b = cell(x), _call(cell, x, zeros)
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        np.testing.assert_array_equal(u.data, v.data)


@pytest.mark.parametrize("bad", [(3, H), (B, H + 1), (1, H), (H,), (1, B, H)])
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_wrong_state_shape_raises_naming_cell_state_and_shapes(cls, bad):
    cell = cls(D, H, rng=0)
    x = np.ones((B, D))
    states = [np.zeros((B, H)) for _ in cell.STATE]
    states[-1] = np.zeros(bad)  # c for the LSTMs, h otherwise
    with pytest.raises(ShapeError) as info:
        _call(cell, x, states)
    message = str(info.value)
    assert cls.__name__ in message and f"state {cell.STATE[-1]}" in message
    assert str(bad) in message and str((B, H)) in message


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_wrong_input_shape_raises(cls):
    cell = cls(D, H, rng=0)
    for bad in [(B, D + 1), (D,), (1, B, D)]:
        with pytest.raises(ShapeError, match=cls.__name__):
            cell(np.ones(bad))


def test_lstm_forget_bias_starts_at_one_and_is_configurable():
    assert np.all(LSTMCell(D, H, rng=0).b_f.data == 1.0)
    assert np.all(PeepholeLSTMCell(D, H, rng=0).b_f.data == 1.0)
    assert np.all(LSTMCell(D, H, forget_bias=2.5, rng=0).b_f.data == 2.5)
    b_f = LSTMCell(D, H, forget_bias=None, rng=0).b_f.data
    assert np.all(np.abs(b_f) <= 1 / np.sqrt(H)) and len(set(b_f)) == H


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_init_uniform_within_one_over_sqrt_hidden(cls):
    cell = cls(5, 16, forget_bias=None, rng=0, init="uniform")
    for name, p in cell.named_parameters():
        assert np.abs(p.data).max() <= 1 / np.sqrt(16), name
        assert p.label == name


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_same_seed_same_weights_and_generator_accepted(cls):
    a, b = cls(D, H, rng=7), cls(D, H, rng=np.random.default_rng(7))
    for (name, u), v in zip(a.weights().items(), b.weights().values()):
        np.testing.assert_array_equal(u, v, err_msg=name)


def test_weights_dict_has_documented_shapes_and_is_a_copy():
    w = LSTMCell(D, H, rng=0).weights()
    assert set(w) == {"W_f", "b_f", "W_i", "b_i", "W_c", "b_c", "W_o", "b_o"}
    assert all(w[f"W_{g}"].shape == (H + D, H) for g in "fico")
    assert all(w[f"b_{g}"].shape == (H,) for g in "fico")
    w["W_f"][...] = 0  # a copy: the cell is untouched
    g = GRUCell(D, H, rng=0).weights()
    assert g["W_r"].shape == (H + D, H) and g["W_nx"].shape == (D, H)
    assert g["W_nh"].shape == (H, H) and g["b_nh"].shape == (H,)
    p = PeepholeLSTMCell(D, H, rng=0).weights()
    assert all(p[f"p_{g}"].shape == (H,) for g in "fio")


def test_load_weights_round_trip():
    a, b = GRUCell(D, H, rng=0), GRUCell(D, H, rng=1)
    b.load_weights(a.weights())
    x = np.ones((B, D))
    np.testing.assert_array_equal(a(x).data, b(x).data)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_float32_cell_stays_float32(cls):
    cell = cls(D, H, dtype=np.float32, rng=0)
    out = cell(np.ones((B, D)))  # float64 array input is converted
    for t in out if isinstance(out, tuple) else (out,):
        assert t.dtype == np.float32
    with pytest.raises(TypeError, match="float64"):
        cell(Tensor(np.ones((B, D))))


def test_bad_dtype_rejected():
    with pytest.raises(TypeError, match="float32 or float64"):
        LSTMCell(D, H, dtype=np.int32)


def test_lstm_cell_state_must_be_a_pair():
    cell = LSTMCell(D, H, rng=0)
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        cell(np.ones((B, D)), np.zeros((B, H)))
