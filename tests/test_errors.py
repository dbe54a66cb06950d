"""Mistakes give clear errors, raised where they are made, naming the op, labels and shapes."""

import warnings

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import AnomalyError, GradcheckError, GradientError, ShapeError, Tensor, ops


def x23():
    return Tensor(np.ones((2, 3)), requires_grad=True, label="x")


def y4():
    return Tensor(np.ones(4), label="y")


# -- shape mismatches in forward --------------------------------------------------------------


@pytest.mark.parametrize("op, call", [
    ("add", lambda x, y: x + y),
    ("sub", lambda x, y: x - y),
    ("mul", lambda x, y: x * y),
    ("div", lambda x, y: x / y),
    ("pow_tensor", lambda x, y: x**y),
    ("concat", lambda x, y: al.concat([x, y])),
    ("stack", lambda x, y: al.stack([x, y])),
    ("where", lambda x, y: al.where(np.ones(3, bool), x, y)),
])
def test_shape_mismatch_names_op_labels_and_both_shapes(op, call):
    with pytest.raises(ShapeError, match=rf"^{op}: .*'x' \(2, 3\), 'y' \(4,\)"):
        call(x23(), y4())


def test_matmul_mismatch_names_labels_and_shapes():
    W = Tensor(np.ones((4, 2)), label="W")
    with pytest.raises(ShapeError, match=r"matmul: .*'x' \(2, 3\), 'W' \(4, 2\)"):
        x23() @ W
    with pytest.raises(ShapeError, match=r"matmul: scalars are not matrices"):
        al.matmul(x23(), Tensor(2.0))


@pytest.mark.parametrize("call, pattern", [
    (lambda x: x.reshape(5), r"reshape: .*'x' \(2, 3\).*size 6 into shape \(5,\)"),
    (lambda x: al.broadcast_to(x, (3, 3)), r"broadcast_to: .*'x' \(2, 3\)"),
    (lambda x: x.sum(axis=3), r"sum: .*'x' \(2, 3\).*axis 3"),
    (lambda x: x.max(axis=-3), r"max: .*'x' \(2, 3\)"),
    (lambda x: al.transpose(x, (0, 0)), r"transpose: .*'x' \(2, 3\)"),
    (lambda x: x[5], r"getitem: .*'x' \(2, 3\)"),
    (lambda x: al.split(x, 2, axis=1), r"split: 'x' \(2, 3\) axis 1 of size 3"),
    (lambda x: al.cross_entropy(x, np.array([0, 1, 2])),
     r"cross_entropy: logits 'x' \(2, 3\) need targets of shape \(2,\), got \(3,\)"),
    (lambda x: al.cross_entropy(x, np.array([0, 3])), r"targets must lie in \[0, 3\)"),
    (lambda x: al.embedding(x, np.array([0, 5])), r"embedding: ids must lie in \[0, 2\)"),
])
def test_single_input_shape_errors(call, pattern):
    with pytest.raises(ShapeError, match=pattern):
        call(x23())


def test_shape_error_is_a_value_error():
    assert issubclass(ShapeError, ValueError)


# -- backward misuse --------------------------------------------------------------------------


def test_backward_on_non_scalar_without_gradient():
    with pytest.raises(GradientError, match=r"'mul' \(2, 3\) is not a scalar; pass grad="):
        (x23() * 2.0).backward()


def test_backward_with_wrong_gradient_shape():
    with pytest.raises(ShapeError, match=r"grad has shape \(3,\) but 'mul' \(2, 3\)"):
        (x23() * 2.0).backward(np.ones(3))


def test_backward_on_tensor_without_graph():
    with pytest.raises(GradientError, match="does not require grad"):
        Tensor([1.0, 2.0]).sum().backward()
    with al.no_grad():
        y = (x23() * 2.0).sum()
    with pytest.raises(GradientError, match="no_grad"):
        y.backward()


def test_grad_of_non_scalar_function():
    with pytest.raises(GradientError, match=r"f must return a scalar Tensor, got Tensor of shape"):
        al.grad(lambda v: v * 2.0)(np.ones(3))


def test_hvp_vector_shape_mismatch():
    with pytest.raises(GradientError, match=r"hvp: v has shape \(2,\) but x has shape \(3,\)"):
        al.hvp(lambda v: (v * v).sum(), np.ones(3), np.ones(2))


def test_op_with_numpy_only_backward_cannot_be_differentiated_twice():
    op = ops.defop("test_square_fused", lambda a: (a * a, a),
                   lambda B, g, out, a, saved: (2 * g * saved,), saves=True)
    try:
        x = Tensor([1.0, 2.0], requires_grad=True)
        ops.apply(op, x).sum().backward()
        np.testing.assert_array_equal(x.grad, [2.0, 4.0])
        with pytest.raises(GradientError, match="test_square_fused .*cannot be differentiated"):
            al.grad(lambda v: al.grad(lambda u: ops.apply(op, u).sum())(v).sum())(np.ones(2))
    finally:
        del ops.OPS["test_square_fused"]


# -- dtypes -----------------------------------------------------------------------------------


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match=r"Tensor 'ids': only floating-point .* got dtype int64"):
        Tensor([1, 2], requires_grad=True, label="ids")
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        al.nn.Parameter(np.arange(3))


@pytest.mark.parametrize("fn", [al.exp, al.log, al.sigmoid, al.tanh, al.relu, al.softmax,
                                al.log_softmax, al.logsumexp, lambda t: t**2],
                         ids=["exp", "log", "sigmoid", "tanh", "relu", "softmax",
                              "log_softmax", "logsumexp", "pow"])
def test_integer_input_to_differentiable_op(fn):
    with pytest.raises(TypeError, match=r"needs a floating-point input, got 'n' \(2,\) of "
                                        r"dtype int64"):
        fn(Tensor([1, 2], label="n"))


def test_non_integer_ids_and_targets():
    with pytest.raises(TypeError, match="embedding: ids must be integers, got dtype float64"):
        al.embedding(x23(), np.array([0.0]))
    with pytest.raises(TypeError, match="cross_entropy: targets must be integers"):
        al.cross_entropy(x23(), np.array([0.0, 1.0]))


def test_unknown_reduction():
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum', got 'none'"):
        al.cross_entropy(x23(), np.array([0, 1]), reduction="none")
    with pytest.raises(ValueError, match="mse: reduction must be"):
        al.mse(x23(), 0.0, reduction="max")


# -- arrays saved for backward are read-only --------------------------------------------------


def test_in_place_write_to_a_saved_array_raises():
    x = x23()
    y = al.tanh(x)  # saves x (input) and y (output) for backward
    with pytest.raises(ValueError, match="read-only"):
        y.data[0, 0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        x.data[0, 0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        np.add(x.data, 1.0, out=x.data)
    with pytest.raises(ValueError, match="read-only"):
        x.numpy()[:] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(y)[0, 0] = 0.0
    y.sum().backward()  # nothing was changed, so backward still sees the forward values
    np.testing.assert_allclose(x.grad, 1 - np.tanh(1.0) ** 2)


def test_gradients_are_writable_and_private():
    x = x23()
    (x * 2.0).sum().backward()
    x.grad[0, 0] = 0.0  # gradients are the caller's to edit (e.g. for manual clipping)
    assert x.grad[0, 1] == 2.0


# -- gradcheck and detect_anomaly -------------------------------------------------------------


def test_gradcheck_failure_names_output_input_worst_element_and_values():
    def wrong(a, b):  # d/db is wrong: the rule for b is missing a factor of 3
        return a * 2.0, a + Tensor(3.0) * b.detach() + b

    with pytest.raises(GradcheckError, match=r"output 1 w\.r\.t\. input 1 \(shape \(2,\)\): "
                                             r"worst at output element 0, input element \(0,\):"
                                             r" analytic 1 vs numeric 4"):
        al.gradcheck(wrong, [np.array([1.0, 2.0]), np.array([0.5, 0.25])])


def test_gradcheck_rejects_nan_gradients():
    with pytest.raises(GradcheckError, match="analytic nan"):
        al.gradcheck(lambda a: a * np.nan, [np.ones(2)])


def test_gradcheck_warns_for_non_float64_inputs():
    with pytest.warns(UserWarning, match="input 0 has dtype float32; finite differences need"):
        assert al.gradcheck(lambda a: a * 2.0, [np.ones(2, np.float32)])


def test_gradcheck_passes_silently_for_float64():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert al.gradcheck(al.tanh, [np.array([0.1, -0.4])])


def test_detect_anomaly_in_forward_names_op_and_input_labels():
    p = Tensor([0.0, 1.0], requires_grad=True, label="p")
    with al.detect_anomaly(), np.errstate(all="ignore"):
        with pytest.raises(AnomalyError, match=r"Inf in the output of log \(inputs 'p' \(2,\)\)"):
            al.log(p)
        with pytest.raises(AnomalyError, match=r"NaN in the output of div \(inputs 'p' \(2,\), "
                                               r"'q' \(2,\)\)"):
            p / Tensor([0.0, 1.0], label="q")


def test_detect_anomaly_in_backward_names_op_and_node_label():
    p = Tensor([0.0, 1.0], requires_grad=True, label="p")
    with al.detect_anomaly(), np.errstate(divide="ignore"):
        s = p**0.5
        s.label = "s"
        with pytest.raises(AnomalyError, match=r"Inf in the gradient that the backward of pow "
                                               r"passes to 'p' \(2,\) \(node 's' \(2,\)\)"):
            s.sum().backward()


def test_without_detect_anomaly_nan_passes_through():
    p = Tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        (p**0.5).sum().backward()
    assert np.isinf(p.grad[0])
