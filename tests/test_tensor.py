"""The Tensor's public API and the backward walk: values, accumulation, depth, dtypes."""

import operator

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import Tensor


def leaf(values, dtype=np.float64, label=None):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True, label=label)


# -- construction and the array protocol ------------------------------------------------------


def test_tensor_copies_its_input():
    source = np.array([1.0, 2.0])
    t = Tensor(source)
    source[0] = 99.0
    assert t.data[0] == 1.0
    assert not np.shares_memory(t.data, source)


def test_tensor_attributes():
    t = Tensor([[1.0, 2.0, 3.0]], requires_grad=True, label="x")
    assert t.shape == (1, 3)
    assert t.dtype == np.float64
    assert t.label == "x"
    assert t.requires_grad and t.grad is None
    assert isinstance(t.data, np.ndarray)
    assert Tensor([1, 2]).dtype == np.int64  # data keeps NumPy's dtype
    assert Tensor(np.ones(2, np.float32)).dtype == np.float32


def test_numpy_and_asarray_give_the_read_only_values():
    t = Tensor([1.0, 2.0])
    assert t.numpy() is t.data
    view = np.asarray(t)
    assert np.shares_memory(view, t.data) and not view.flags.writeable


def test_np_array_of_a_tensor_is_a_writable_copy():
    t = Tensor([1.0, 2.0])
    copy = np.array(t)
    copy[0] = 5.0
    assert t.data[0] == 1.0
    assert np.array(t, dtype=np.float32).dtype == np.float32


def test_detach_shares_values_and_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    d = y.detach()
    assert not d.requires_grad and d.parents == ()
    assert np.shares_memory(d.data, y.data)
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])  # no gradient through d


# -- operators --------------------------------------------------------------------------------

BINARY_OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", BINARY_OPERATORS, ids=lambda f: f.__name__)
def test_binary_operators_match_numpy(op):
    a, b = np.array([[0.5, 1.5], [2.0, 1.0]]), np.array([1.5, -0.5])
    np.testing.assert_allclose(op(Tensor(a), Tensor(b)).data, op(a, b))
    np.testing.assert_allclose(op(Tensor(a), b).data, op(a, b))
    np.testing.assert_allclose(op(a, Tensor(b)).data, op(a, b))  # ndarray defers to Tensor
    np.testing.assert_allclose(op(Tensor(a), 2.0).data, op(a, 2.0))
    np.testing.assert_allclose(op(2.0, Tensor(a)).data, op(2.0, a))
    assert isinstance(op(a, Tensor(b)), Tensor)


def test_matmul_operators_and_unary_minus():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal((Tensor(a) @ Tensor(b)).data, a @ b)
    np.testing.assert_array_equal((a @ Tensor(b)).data, a @ b)
    np.testing.assert_array_equal((-Tensor(a)).data, -a)


def test_comparisons_return_plain_boolean_arrays():
    x = leaf([1.0, 2.0, 3.0])
    for result, expected in [(x < 2, [True, False, False]), (x <= 2, [True, True, False]),
                             (x > 2, [False, False, True]), (x >= 2, [False, True, True]),
                             (x == 2, [False, True, False]), (x != 2, [True, False, True]),
                             (x > Tensor([0.0, 5.0, 0.0]), [True, False, True])]:
        assert type(result) is np.ndarray and result.dtype == bool
        np.testing.assert_array_equal(result, expected)


def test_indexing_transpose_reshape_and_reductions_match_numpy():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = Tensor(a)
    np.testing.assert_array_equal(t[1, :, ::2].data, a[1, :, ::2])
    np.testing.assert_array_equal(t[[0, 0, 1]].data, a[[0, 0, 1]])
    np.testing.assert_array_equal(t.T.data, a.T)
    np.testing.assert_array_equal(t.transpose(1, 0, 2).data, a.transpose(1, 0, 2))
    np.testing.assert_array_equal(t.reshape(6, 4).data, a.reshape(6, 4))
    np.testing.assert_array_equal(t.reshape((4, -1)).data, a.reshape(4, -1))
    for name in ["sum", "mean", "max"]:
        for axis, keepdims in [(None, False), (1, False), ((0, 2), True), (-1, True)]:
            got = getattr(t, name)(axis=axis, keepdims=keepdims).data
            np.testing.assert_array_equal(got, getattr(a, name)(axis=axis, keepdims=keepdims))


def test_iteration_and_unpacking_give_rows():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    top, bottom = x
    assert [row.data.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0]]
    (top * 2 + bottom).sum().backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 2.0], [1.0, 1.0]])


def test_module_level_functions_match_numpy():
    a = np.array([[0.5, -1.0, 2.0], [0.0, 1.0, -0.5]])
    t = Tensor(a)
    np.testing.assert_allclose(al.sigmoid(t).data, 1 / (1 + np.exp(-a)))
    np.testing.assert_allclose(al.tanh(t).data, np.tanh(a))
    np.testing.assert_allclose(al.relu(t).data, np.maximum(a, 0))
    np.testing.assert_allclose(al.exp(t).data, np.exp(a))
    np.testing.assert_allclose(al.log(al.exp(t)).data, a)
    softmax = np.exp(a) / np.exp(a).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(al.softmax(t).data, softmax)
    np.testing.assert_allclose(al.log_softmax(t).data, np.log(softmax))
    np.testing.assert_allclose(al.logsumexp(t).data, np.log(np.exp(a).sum(axis=-1)))
    np.testing.assert_array_equal(al.concat([t, t], axis=0).data, np.concatenate([a, a]))
    np.testing.assert_array_equal(al.stack([t, t], axis=1).data, np.stack([a, a], axis=1))
    left, right = al.split(t, [1], axis=1)
    np.testing.assert_array_equal(right.data, a[:, 1:])
    np.testing.assert_array_equal(al.where(a > 0, t, 0.0).data, np.where(a > 0, a, 0.0))
    np.testing.assert_array_equal(al.broadcast_to(t, (4, 2, 3)).data,
                                  np.broadcast_to(a, (4, 2, 3)))
    np.testing.assert_array_equal(al.transpose(t).data, a.T)
    np.testing.assert_allclose(al.mse(t, np.zeros_like(a)).data, np.mean(a**2))
    np.testing.assert_array_equal(al.embedding(t, np.array([1, 1, 0])).data, a[[1, 1, 0]])


# -- the backward walk ------------------------------------------------------------------------


def test_grad_fanout_sums_paths():
    x = leaf([1.0, -2.0, 0.5])
    (x * x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data + 1)


def test_grad_diamond():
    # x feeds a and b, which meet again in c: dc/dx = 3*tanh(x) + 3x*(1 - tanh(x)^2) + 3
    x = leaf([0.3, -1.2])
    a = x * 3.0
    b = al.tanh(x)
    c = a * b + a
    c.sum().backward()
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad, 3 * t + 3 * x.data * (1 - t**2) + 3)


def test_grad_many_uses_of_one_node():
    x = leaf(2.0)
    y = x * 1.0
    total = y
    for _ in range(99):
        total = total + y
    total.backward()
    assert x.grad == 100.0


def test_repeated_backward_accumulates_and_zero_grad_resets():
    # Documented: .backward() adds into .grad; call zero_grad() (or set None) between steps.
    # (Backward frees the graph's kept arrays unless retain_graph=True.)
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, 2 * (2 * x.data))
    x.zero_grad()
    assert x.grad is None
    y.backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_backward_with_explicit_upstream_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2.0
    y.backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, -2.0])


def test_backward_of_a_leaf_and_of_a_one_element_tensor():
    x = leaf(3.0)
    x.backward()
    assert x.grad == 1.0
    z = leaf([[2.0]])
    (z * 5.0).backward()  # one element: no upstream gradient needed
    np.testing.assert_array_equal(z.grad, [[5.0]])


def test_retain_grad_keeps_intermediate_gradients():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    z = (y * y).sum()
    z.backward(retain_grad=True)
    np.testing.assert_array_equal(y.grad, 2 * y.data)
    assert z.grad == 1.0


def test_gradient_only_reaches_leaves_that_require_it():
    x = leaf([1.0, 2.0])
    c = Tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_no_grad_records_nothing_and_restores_state():
    x = leaf([1.0, 2.0])
    assert al.is_grad_enabled()
    with al.no_grad():
        assert not al.is_grad_enabled()
        y = x * 2.0
        with al.no_grad():
            pass
        assert not al.is_grad_enabled()
    assert al.is_grad_enabled()
    assert not y.requires_grad and y.parents == ()
    assert (x * 2.0).requires_grad


def test_changing_a_constant_array_after_use_does_not_change_the_gradient():
    w = np.array([1.0, 2.0])
    x = leaf([5.0, 5.0])
    y = (x * w).sum()
    w[:] = 100.0  # the caller reuses its buffer
    y.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


def test_chain_of_100k_ops_has_no_recursion_error():
    x = leaf(0.5)
    h = x
    for _ in range(100_000):
        h = h + 1.0
    h.backward()
    assert x.grad == 1.0
    assert h.item() == pytest.approx(100_000.5)


def test_functional_grad_through_a_deep_chain():
    def f(x):
        for _ in range(20_000):
            x = x * 1.0
        return x.sum()

    np.testing.assert_array_equal(al.grad(f)(np.ones(3)), np.ones(3))


# -- dtypes -----------------------------------------------------------------------------------


def test_python_scalars_do_not_upcast_float32():
    x = leaf([0.5, 1.5], dtype=np.float32)
    results = [x * 2.0, 2.0 - x, x / 3, x + 1, x**2, 2.0**x, -x, al.where(x > 1, x, 0.0),
               al.mse(x, 0.0), x * np.float64(0.5)]
    for r in results:
        assert r.dtype == np.float32
    sum(r.sum() for r in results).backward()
    assert x.grad.dtype == np.float32


def test_integer_tensor_with_float_scalar_follows_numpy():
    assert (Tensor([1, 2]) * 0.5).data.tolist() == [0.5, 1.0]
    assert (Tensor([1, 2]) + 1).dtype == np.int64
    assert (Tensor(np.array([1, 2], np.int32)) * 3).dtype == np.int32


def test_float32_leaf_grads_stay_float32_through_a_small_network():
    rng = np.random.default_rng(0)
    W = leaf(rng.standard_normal((4, 3)), dtype=np.float32)
    b = leaf(np.zeros(4), dtype=np.float32)
    x = Tensor(rng.standard_normal((5, 3)).astype(np.float32))
    logits = al.tanh(x @ W.T + b)
    loss = al.cross_entropy(logits, np.array([0, 1, 2, 3, 0]))
    assert loss.dtype == np.float32
    loss.backward()
    assert W.grad.dtype == np.float32 and b.grad.dtype == np.float32


def test_fan_in_accumulation_in_place_keeps_shared_gradients_apart():
    # z = a + b hands one array to both parents; a then gets two more contributions.
    # Summing those in place must not change b's gradient.
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    s = a + b
    loss = (s + a * 2.0 + a * 3.0 + b).sum()
    loss.backward()
    np.testing.assert_array_equal(a.grad, [6.0, 6.0])
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])


def test_many_contributions_to_a_scalar_accumulate_exactly():
    x = Tensor(np.array(2.0), requires_grad=True)
    total = x * 1.0
    for k in range(2, 6):
        total = total + x * float(k)
    total.backward()
    assert x.grad == 15.0


def test_backward_uses_the_values_the_forward_saw_after_a_parameter_is_rebound():
    w = al.nn.Parameter(np.array([2.0, 3.0]), label="w")
    x = Tensor(np.array([5.0, 7.0]), requires_grad=True)
    loss = (w * x).sum()
    w.assign([100.0, 100.0])  # e.g. an optimizer step between forward and backward
    loss.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])
    np.testing.assert_array_equal(w.grad, [5.0, 7.0])
