"""Higher-order derivatives: grad composes, hvp, and every rule differentiated twice."""

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import Tensor
from autograd_lite.tensor import backprop
from autograd_lite.testing import cases

X = np.array([-1.3, -0.2, 0.4, 1.1])


def second_derivative(f):
    """x -> f''(x) elementwise, for an elementwise f, by grad(grad(.))."""
    first = al.grad(lambda x: f(x).sum())
    return al.grad(lambda x: first(x).sum())


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize(
    "f, analytic, x",
    [
        (al.sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x)) * (1 - 2 * sigmoid(x)), X),
        (al.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), X),
        (al.exp, np.exp, X),
        (al.log, lambda x: -1 / x**2, np.abs(X) + 0.5),
        (lambda x: x * x * x, lambda x: 6 * x, X),
        (lambda x: al.sigmoid(x) * al.tanh(x),
         lambda x: (sigmoid(x) * (1 - sigmoid(x)) * (1 - 2 * sigmoid(x)) * np.tanh(x)
                    + 2 * sigmoid(x) * (1 - sigmoid(x)) * (1 - np.tanh(x) ** 2)
                    - 2 * sigmoid(x) * np.tanh(x) * (1 - np.tanh(x) ** 2)), X),
        (lambda x: x / (x * x + 1.0), lambda x: 2 * x * (x**2 - 3) / (x**2 + 1) ** 3, X),
    ],
    ids=["sigmoid", "tanh", "exp", "log", "mul_chain", "sigmoid_times_tanh", "div"],
)
def test_grad_of_grad_matches_analytic_second_derivative(f, analytic, x):
    np.testing.assert_allclose(second_derivative(f)(x), analytic(x), rtol=1e-12, atol=1e-12)


def test_third_derivative_by_composing_grad_three_times():
    d3 = al.grad(al.grad(al.grad(lambda x: x**4)))
    assert d3(1.5) == pytest.approx(24 * 1.5)


def test_mixed_partial_with_argnums():
    d_dx = al.grad(lambda x, y: (x * x * y).sum(), argnums=0)  # 2xy
    d2_dxdy = al.grad(lambda x, y: d_dx(x, y).sum(), argnums=1)  # sum_i 2 x_i, per y
    np.testing.assert_allclose(d2_dxdy(np.array([1.0, 2.0]), np.array(3.0)), 6.0)


def test_grad_of_grad_through_matmul():
    # f(x) = sum(tanh(A x)); grad = A^T tanh'(Ax); Hessian = A^T diag(tanh''(Ax)) A.
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)

    def f(v):
        return al.tanh(al.matmul(A, v)).sum()

    z = A @ x
    hessian = A.T @ np.diag(-2 * np.tanh(z) * (1 - np.tanh(z) ** 2)) @ A
    for k in range(4):  # row k of the Hessian is the gradient of (grad f)_k
        row = al.grad(lambda v, k=k: al.grad(f)(v)[k])(x)
        np.testing.assert_allclose(row, hessian[k], atol=1e-12)


def test_hvp_matches_explicit_hessian():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 4))
    x, v = rng.standard_normal(4), rng.standard_normal(4)

    def f(y):
        quadratic = 0.5 * (y * al.matmul(A, y)).sum()  # Hessian (A + A^T) / 2
        return quadratic + al.exp(y).sum()  # Hessian diag(exp(y))

    hessian = 0.5 * (A + A.T) + np.diag(np.exp(x))
    np.testing.assert_allclose(al.hvp(f, x, v), hessian @ v, rtol=1e-12, atol=1e-12)


def test_hvp_of_a_matrix_input():
    W = np.array([[0.5, -1.0], [2.0, 0.25]])
    V = np.array([[1.0, 0.0], [0.0, 2.0]])
    # f(W) = sum(W^3): Hessian is diagonal 6W, so H V = 6 W * V.
    np.testing.assert_allclose(al.hvp(lambda w: (w**3).sum(), W, V), 6 * W * V)


def test_value_and_grad_and_vjp():
    value, g = al.value_and_grad(lambda x: (x * x).sum())(np.array([1.0, 2.0]))
    assert value == 5.0
    np.testing.assert_array_equal(g, [2.0, 4.0])
    out, pullback = al.vjp(lambda a, b: a * b, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    ga, gb = pullback(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(out.data, [3.0, 8.0])
    np.testing.assert_array_equal(ga, [3.0, -4.0])
    np.testing.assert_array_equal(gb, [1.0, -2.0])


def test_grad_returns_zeros_when_f_ignores_its_argument():
    g = al.grad(lambda x, y: (y * 2.0).sum())(np.ones(3), Tensor([1.0]))
    np.testing.assert_array_equal(g, np.zeros(3))


def test_grad_with_several_argnums_returns_unaliased_arrays():
    gx, gy = al.grad(lambda x, y: (x + y).sum(), argnums=(0, 1))(np.ones(2), np.ones(2))
    np.testing.assert_array_equal(gx, [1.0, 1.0])
    assert not np.shares_memory(gx, gy)


def test_create_graph_backward_leaves_tensor_grads():
    x = Tensor([0.5, -1.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert isinstance(x.grad, Tensor)
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2)
    first = x.grad
    x.zero_grad()
    first.sum().backward()
    np.testing.assert_allclose(x.grad, 6 * x.data)


# Every rule's VJP is also written against the engine's own ops (the backend `B`), so the
# gradient function itself can be gradchecked: that differentiates each rule once more.


def _loss(out):
    # Quadratic in out, so the upstream gradient (w * out) depends on the inputs and the
    # second pass also differentiates each rule with respect to its upstream gradient.
    w = np.cos(np.arange(out.data.size)).reshape(out.shape) + 2.0
    return (out * out * w).sum() * 0.5


def first_gradients(fn):
    """Inputs -> gradients of _loss(fn(inputs)) as Tensors recorded in the graph."""

    def gradients(*xs):
        xs = [x if x.requires_grad else Tensor(x.data, requires_grad=True) for x in xs]
        grads = backprop([_loss(fn(*xs))], [None], inputs=xs, create_graph=True)
        return tuple(Tensor(np.zeros(x.shape)) if g is None else g for x, g in zip(xs, grads))

    return gradients


@pytest.mark.parametrize("case", cases(), ids=lambda c: f"{c[0]}:{c[1]}")
def test_engine_backend_rules_agree_with_numpy_rules(case):
    _, _, fn, arrays = case
    recorded = first_gradients(fn)(*[Tensor(a) for a in arrays])
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    plain = backprop([_loss(fn(*xs))], [None], inputs=xs)
    for r, p in zip(recorded, plain):
        np.testing.assert_allclose(r.data, p, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("case", cases(), ids=lambda c: f"{c[0]}:{c[1]}")
def test_every_rule_differentiated_twice(case):
    _, _, fn, arrays = case
    al.gradcheck(first_gradients(fn), arrays)
