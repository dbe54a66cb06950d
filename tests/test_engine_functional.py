"""grad, value_and_grad, vjp and hvp name the argument that is wrong."""

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import GradientError, ShapeError


def f(x, y=None):
    return (x * x).sum()


def test_argnums_out_of_range_names_argnums_and_the_argument_count():
    with pytest.raises(TypeError, match=r"grad: argnums=5 asks for argument 5, but f was called "
                                        r"with 1 positional argument"):
        al.grad(f, argnums=5)(np.ones(2))
    with pytest.raises(TypeError, match=r"value_and_grad: argnums=\(0, 2\) asks for argument 2, "
                                        r"but f was called with 2 positional argument"):
        al.value_and_grad(f, argnums=(0, 2))(np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match=r"argnums=-3 .* 2 positional"):
        al.grad(f, argnums=-3)(np.ones(2), np.ones(2))


def test_negative_argnums_count_from_the_end():
    g = al.grad(lambda x, y: (x * y).sum(), argnums=-1)(np.array([2.0]), np.array([3.0]))
    np.testing.assert_array_equal(g, [2.0])


@pytest.mark.parametrize("argnums", ["0", 1.0, True, (), (0, "1"), None])
def test_argnums_must_be_ints(argnums):
    with pytest.raises(TypeError, match=r"grad: argnums must be an int or a non-empty tuple of "
                                        r"ints, got "):
        al.grad(f, argnums=argnums)


@pytest.mark.parametrize("make, name", [
    (lambda: al.grad(3), "grad"),
    (lambda: al.value_and_grad("f"), "value_and_grad"),
    (lambda: al.vjp(None, np.ones(2)), "vjp"),
    (lambda: al.hvp(2.0, np.ones(2), np.ones(2)), "hvp"),
])
def test_f_must_be_callable(make, name):
    with pytest.raises(TypeError, match=rf"^{name}: f must be callable, got "):
        make()


def test_value_and_grad_names_itself_when_f_is_not_scalar():
    with pytest.raises(GradientError, match=r"^value_and_grad: f must return a scalar Tensor"):
        al.value_and_grad(lambda x: x * 2.0)(np.ones(3))


def test_vjp_needs_a_tensor_output_and_a_cotangent_of_its_shape():
    with pytest.raises(TypeError, match=r"vjp: f must return a Tensor, got float"):
        al.vjp(lambda x: 1.0, np.ones(2))
    out, pullback = al.vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ShapeError, match=r"vjp: the cotangent has shape \(2,\) but f's output "
                                         r"'mul' \(3,\) has shape \(3,\)"):
        pullback(np.ones(2))
    np.testing.assert_array_equal(pullback(np.ones(3))[0], [2.0, 2.0, 2.0])


def test_hvp_names_itself_when_f_is_not_scalar():
    with pytest.raises(GradientError, match=r"^hvp: f must return a scalar Tensor"):
        al.hvp(lambda x: x * x, np.ones(2), np.ones(2))


def test_grad_of_complex_input_is_refused_not_truncated():
    with pytest.raises(TypeError, match="only floating-point tensors can require grad, got dtype "
                                        "complex128"):
        al.grad(f)(np.array([1.0 + 2.0j]))


def test_grad_of_integer_input_still_works_in_float64():
    g = al.grad(f)(np.array([1, 2]))
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, [2.0, 4.0])
