"""A Tensor holds numbers only, has no truth value, and only floats may require grad."""

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import Tensor


@pytest.mark.parametrize("data, dtype", [("hello", "<U5"), (None, "object"),
                                         ([1.0, "a"], "<U32"), (b"ab", "|S2")])
def test_non_numeric_data_is_refused_at_construction(data, dtype):
    with pytest.raises(TypeError, match=rf"Tensor 'x': data must be numbers \(bool, integer, "
                                        rf"floating-point or complex\), got dtype {dtype}"):
        Tensor(data, label="x")


def test_non_numeric_operand_is_refused_where_it_meets_a_tensor():
    with pytest.raises(TypeError, match=r"data must be numbers .* got dtype <U1"):
        Tensor([1.0]) + "a"
    with pytest.raises(TypeError, match=r"got dtype <U1"):
        al.where(np.array([True]), Tensor([1.0]), "b")


def test_numeric_dtypes_are_all_accepted():
    for data in [True, 3, np.uint8(2), 2.5, 1 + 2j]:
        Tensor(data)


@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 2), (0,)])
def test_truth_value_of_a_tensor_is_refused(shape):
    t = Tensor(np.zeros(shape), label="h")
    with pytest.raises(TypeError, match=r"the truth value of a Tensor is not defined \('h' .*\); "
                                        r"use \.item\(\) for a number, or compare arrays with "
                                        r"\.data"):
        bool(t)
    with pytest.raises(TypeError, match="truth value of a Tensor"):
        if t:  # data-dependent control flow is refused on purpose
            pass


def test_comparisons_still_give_arrays_with_a_truth_value():
    t = Tensor([1.0, 2.0])
    assert (t > 0).all() and not (t > 5).any()
    assert bool(Tensor(3.0).item())


def test_complex_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match=r"Tensor 'z': only floating-point tensors can require "
                                        r"grad, got dtype complex128"):
        Tensor([1 + 2j], requires_grad=True, label="z")


def test_complex_constants_still_compute():
    np.testing.assert_array_equal((Tensor([1 + 2j]) * 2).data, [2 + 4j])


@pytest.mark.parametrize("f, df", [
    (lambda x: 2.5 - x, lambda x: -np.ones_like(x)),
    (lambda x: x - 2.5, lambda x: np.ones_like(x)),
    (lambda x: 2.5 * x, lambda x: np.full_like(x, 2.5)),
    (lambda x: x * 2.5, lambda x: np.full_like(x, 2.5)),
    (lambda x: 2.5 / x, lambda x: -2.5 / x**2),
    (lambda x: x / 2.5, lambda x: np.full_like(x, 0.4)),
])
def test_number_operands_give_the_tensor_its_gradient_and_the_op_its_name(f, df):
    x0 = np.array([0.5, -2.0, 3.0])
    x = al.Tensor(x0, requires_grad=True)
    y = f(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, df(x0), rtol=1e-12)
    np.testing.assert_array_equal(y.data, f(x0))
    assert y.op in ("sub", "mul", "div") and len(y.parents) == 2


def test_number_operands_keep_the_sign_of_zero_and_the_dtype():
    x = al.Tensor([1.0, -2.0], requires_grad=True)
    assert np.array_equal(np.signbit((x * -0.0).data), [True, False])
    assert (al.Tensor(np.ones(2, np.float32)) * 0.1).dtype == np.float32
    assert (al.Tensor([1, 2]) + 0.5).dtype == np.float64


def test_op_outputs_are_read_only_when_handed_out_and_detach_shares_them():
    x = al.Tensor([1.0, -2.0], requires_grad=True)
    y = al.tanh(x) * 2.0
    assert not y.data.flags.writeable and not np.asarray(y).flags.writeable
    t = al.tanh(x)
    d = t.detach()
    assert np.shares_memory(d.data, t.data) and not d.data.flags.writeable
