"""Fused sequence kernels: one node each, equal to the readable path on values and gradients."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite import Tensor, gradcheck, to_networkx
from autograd_lite.functional import grad
from autograd_lite.tensor import GradientError
from rnn.cells import cell_class, cell_names
from rnn.kernels import run_fused
from rnn.layers import make_layer

KINDS = [n for n in cell_names() if cell_class(n).fused_kernel() is not None]  # with a kernel
TWO_STATES = {n for n in KINDS if len(cell_class(n).STATE) == 2}
OP_NAMES = {n: cell_class(n).fused_kernel().name for n in KINDS}


def test_the_shipped_kernels():
    assert OP_NAMES == {"rnn": "fused_rnn", "lstm": "fused_lstm", "gru": "fused_gru",
                        "peephole": "fused_peephole_lstm", "cifg": "fused_cifg",
                        "irnn": "fused_rnn_relu"}
    assert TWO_STATES == {"lstm", "peephole", "cifg"}


def _run(kind, fused, sizes, seed, with_state, upstream):
    """Outputs, final state and every gradient (x, states, parameters) of one layer."""
    T, B, D, H, L, batch_first = sizes
    # uniform for every cell: the IRNN's identity init would hide a transposed block
    layer = make_layer(kind, D, H, num_layers=L, batch_first=batch_first, fused=fused, rng=seed,
                       init="uniform")
    rng = np.random.default_rng(seed + 1)
    x = Tensor(rng.standard_normal((B, T, D) if batch_first else (T, B, D)), requires_grad=True)
    states = []
    if with_state:
        states = [
            Tensor(rng.standard_normal((L, B, H)), requires_grad=True)
            for _ in range(2 if kind in TWO_STATES else 1)
        ]
    state = None if not states else tuple(states) if kind in TWO_STATES else states[0]
    out, final = layer(x, state)
    finals = final if isinstance(final, tuple) else (final,)
    # a random linear functional of everything the layer returns
    loss = (out * Tensor(upstream[0](out.shape))).sum()
    for f, u in zip(finals, upstream[1:]):
        loss = loss + (f * Tensor(u(f.shape))).sum()
    loss.backward()
    grads = [x.grad, *[s.grad for s in states], *[p.grad for p in layer.parameters()]]
    return [out.data, *[f.data for f in finals]], grads


def _upstream(seed):
    rng = np.random.default_rng(seed + 100)
    return [lambda shape, r=rng: r.standard_normal(shape) for _ in range(3)]


sizes_strategy = st.tuples(
    st.integers(1, 6),
    st.integers(1, 4),
    st.integers(1, 5),
    st.integers(1, 6),
    st.integers(1, 2),
    st.booleans(),
)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=12, deadline=None)
@given(sizes=sizes_strategy, seed=st.integers(0, 2**16), with_state=st.booleans())
def test_fused_equals_readable_values_and_gradients(kind, sizes, seed, with_state):
    values_f, grads_f = _run(kind, True, sizes, seed, with_state, _upstream(seed))
    values_r, grads_r = _run(kind, False, sizes, seed, with_state, _upstream(seed))
    for a, b in zip(values_f, values_r):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert len(grads_f) == len(grads_r)
    for k, (a, b) in enumerate(zip(grads_f, grads_r)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=f"gradient {k}")


@pytest.mark.parametrize("kind", KINDS)
def test_fused_equals_readable_at_a_larger_size(kind):
    sizes = (12, 5, 7, 9, 2, True)
    values_f, grads_f = _run(kind, True, sizes, 3, True, _upstream(3))
    values_r, grads_r = _run(kind, False, sizes, 3, True, _upstream(3))
    for a, b in zip(values_f + grads_f, values_r + grads_r):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_op_gradcheck(kind):
    T, B, D, H = 4, 2, 3, 4
    cell = make_layer(kind, D, H, rng=0, init="uniform").cells[0]
    names = [name for name, _ in cell.PARAMS]
    n_state = len(cell.STATE)
    rng = np.random.default_rng(1)

    def fn(x, *rest):
        for name, p in zip(names, rest[n_state:]):
            setattr(cell, name, p)
        out, final = run_fused(cell, x, rest[:n_state])
        return (out, *final)

    inputs = [
        rng.standard_normal((T, B, D)),
        *[rng.standard_normal((B, H))] * n_state,
        *[p.data for p in cell.parameter_list()],
    ]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_layer_is_one_node_per_layer(kind):
    layer = make_layer(kind, 3, 4, num_layers=2, rng=0)
    out, _ = layer(np.ones((50, 2, 3)))
    ops = [d["op"] for _, d in to_networkx(out).nodes(data=True)]
    assert ops.count(OP_NAMES[kind]) == 2
    assert len(ops) < 40  # independent of T


@pytest.mark.parametrize("kind", KINDS)
def test_fused_float32_stays_float32(kind):
    layer = make_layer(kind, 3, 4, dtype=np.float32, rng=0)
    x = Tensor(np.ones((5, 2, 3), dtype=np.float32), requires_grad=True)
    out, state = layer(x)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    assert all(s.dtype == np.float32 for s in (state if isinstance(state, tuple) else (state,)))


@pytest.mark.parametrize("kind", KINDS)
def test_fused_float32_close_to_float64(kind):
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    out64, _ = make_layer(kind, 3, 4, rng=0)(x)
    out32, _ = make_layer(kind, 3, 4, dtype=np.float32, rng=0)(x)
    np.testing.assert_allclose(out32.data, out64.data, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_repeated_backward_gives_the_same_gradients(kind):
    layer = make_layer(kind, 3, 4, rng=0)
    out, _ = layer(np.random.default_rng(0).standard_normal((5, 2, 3)))
    loss = (out * out).sum()
    loss.backward(retain_graph=True)  # (backward frees the kept arrays unless asked not to)
    first = [p.grad.copy() for p in layer.parameters()]
    loss.backward()  # accumulates: exactly twice, saved buffers intact
    for a, p in zip(first, layer.parameters()):
        np.testing.assert_allclose(p.grad, 2 * a, rtol=1e-14, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_extreme_inputs_stay_finite(kind):
    layer = make_layer(kind, 3, 4, rng=0)
    x = Tensor(1e4 * np.random.default_rng(0).standard_normal((5, 2, 3)), requires_grad=True)
    with np.errstate(all="raise"):
        out, _ = layer(x)
        (out * out).sum().backward()
    assert np.isfinite(out.data).all() and np.isfinite(x.grad).all()
    assert all(np.isfinite(p.grad).all() for p in layer.parameters())


def test_fused_inputs_without_grad_get_none():
    layer = make_layer("lstm", 3, 4, rng=0)
    x = Tensor(np.ones((5, 2, 3)))
    out, _ = layer(x)
    out.sum().backward()
    assert x.grad is None and layer.cells[0].W_f.grad is not None


def test_fused_second_derivative_is_refused_with_a_clear_error():
    layer = make_layer("lstm", 2, 3, rng=0)

    def f(x):
        out, _ = layer(x)
        return (out * out).sum()

    with pytest.raises(GradientError, match="fused_lstm"):
        grad(lambda x: (grad(f)(x) ** 2).sum())(np.ones((3, 1, 2)))


def test_fused_node_is_labelled():
    out, _ = make_layer("lstm", 2, 3, rng=0)(np.ones((3, 1, 2)))
    labels = {d["op"]: d["label"] for _, d in to_networkx(out).nodes(data=True)}
    assert labels["fused_lstm"] == "h_1..T, c_T"
