"""Losses refuse targets whose shape would broadcast against the prediction."""

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import ShapeError, Tensor


def test_mse_target_with_another_shape_is_refused():
    pred = Tensor(np.ones((4, 1)), requires_grad=True, label="pred")
    with pytest.raises(ShapeError, match=r"mse: pred 'pred' \(4, 1\) and target 'y' \(4,\) "
                                         r"must have the same shape"):
        al.mse(pred, Tensor(np.ones(4), label="y"))
    with pytest.raises(ShapeError, match=r"\(4, 1\).*\(1, 4\)"):
        al.mse(pred, np.ones((1, 4)))


def test_mse_with_matching_shapes_or_a_single_number():
    pred = Tensor([[1.0], [3.0]], requires_grad=True)
    assert al.mse(pred, np.array([[0.0], [1.0]])).item() == pytest.approx(2.5)
    assert al.mse(pred, 1.0, reduction="sum").item() == pytest.approx(4.0)


def test_mse_checks_the_reduction_before_the_shapes():
    with pytest.raises(ValueError, match="mse: reduction must be 'mean' or 'sum', got 'none'"):
        al.mse(Tensor(np.ones(2)), np.ones(3), reduction="none")


def test_cross_entropy_needs_floating_point_logits():
    with pytest.raises(TypeError, match=r"cross_entropy: logits must be floating point, got "
                                        r"'z' \(1, 2\) of dtype int64"):
        al.cross_entropy(Tensor([[1, 2]], label="z"), np.array([0]))


def test_cross_entropy_scalar_logits_are_a_shape_error():
    with pytest.raises(ShapeError, match=r"cross_entropy: logits 'z' \(\) need targets"):
        al.cross_entropy(Tensor(1.0, label="z"), np.array(0))
