"""Extreme inputs: finite values and gradients with the right limits, and no NumPy warning."""

import warnings

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import Tensor

EXTREMES = [1000.0, -1000.0, 1e4, -1e4]
DTYPES = [np.float64, np.float32]


@pytest.fixture(autouse=True)
def strict_numpy():
    """Every test here runs with NumPy floating-point errors and all warnings as errors."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def run(fn, values, dtype):
    """fn's value and gradient (of a weighted sum of its output) at `values`."""
    x = Tensor(np.asarray(values, dtype=dtype), requires_grad=True)
    out = fn(x)
    weights = np.linspace(1.0, 2.0, out.data.size).reshape(out.shape).astype(dtype)
    (out * weights).sum().backward()
    assert out.dtype == dtype and x.grad.dtype == dtype
    assert np.all(np.isfinite(out.data)), out.data
    assert np.all(np.isfinite(x.grad)), x.grad
    return out.data.astype(np.float64), x.grad.astype(np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", EXTREMES)
def test_sigmoid_saturates_to_0_and_1(v, dtype):
    out, grad = run(al.sigmoid, [v, -v], dtype)
    assert out[0 if v > 0 else 1] == 1.0
    assert 0.0 <= out[1 if v > 0 else 0] < 1e-15
    assert np.all(np.abs(grad) < 1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", EXTREMES)
def test_tanh_saturates_to_plus_minus_1(v, dtype):
    out, grad = run(al.tanh, [v, -v], dtype)
    np.testing.assert_array_equal(out, [np.sign(v), -np.sign(v)])
    np.testing.assert_array_equal(grad, [0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", EXTREMES)
def test_log_softmax_at_extremes(v, dtype):
    logits = np.array([v, 0.0, -v])
    out, grad = run(al.log_softmax, logits, dtype)
    np.testing.assert_allclose(out, logits - abs(v), rtol=1e-6)  # the max term dominates
    weights = np.linspace(1.0, 2.0, 3)
    expected = weights - np.eye(3)[np.argmax(logits)] * weights.sum()  # softmax is one-hot
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", EXTREMES)
def test_logsumexp_at_extremes(v, dtype):
    out, grad = run(lambda x: al.logsumexp(x, axis=-1), [[v, 0.0, -v], [v, v, v]], dtype)
    np.testing.assert_allclose(out, [abs(v), v + np.log(3.0)], rtol=1e-6)
    one_hot = np.eye(3)[0 if v > 0 else 2]
    np.testing.assert_allclose(grad, [1.0 * one_hot, [2.0 / 3] * 3], atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", EXTREMES)
def test_softmax_at_extremes(v, dtype):
    out, grad = run(al.softmax, [v, 0.0, -v], dtype)
    np.testing.assert_allclose(out, np.eye(3)[0 if v > 0 else 2], atol=1e-15)
    np.testing.assert_allclose(grad, 0.0, atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", EXTREMES)
def test_cross_entropy_at_extremes(v, dtype, reduction):
    logits = Tensor(np.array([[v, 0.0, -v], [v, 0.0, -v]], dtype=dtype), requires_grad=True)
    targets = np.array([0, 2])
    loss = al.cross_entropy(logits, targets, reduction=reduction)
    loss.backward()
    assert loss.dtype == dtype and logits.grad.dtype == dtype
    # Each row's loss is logsumexp - logit[target] = |v| - logit[target].
    per_row = np.array([abs(v) - v, abs(v) + v])
    expected = per_row.mean() if reduction == "mean" else per_row.sum()
    assert float(loss.data) == pytest.approx(expected, rel=1e-6)
    scale = 0.5 if reduction == "mean" else 1.0
    winner = np.eye(3)[0 if v > 0 else 2]
    expected_grad = scale * (winner - np.eye(3)[targets])  # softmax - one_hot(target)
    np.testing.assert_allclose(logits.grad, expected_grad, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ordinary_values_are_not_distorted_by_the_safety_floors(dtype):
    x = np.array([-20.0, -3.0, 0.0, 2.5], dtype=dtype)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(al.sigmoid(Tensor(x)).data, 1 / (1 + np.exp(-x.astype(float))),
                               rtol=tol)
    ref = x.astype(float) - np.log(np.exp(x.astype(float)).sum())
    np.testing.assert_allclose(al.log_softmax(Tensor(x)).data, ref, rtol=tol, atol=tol)
