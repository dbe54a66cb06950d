"""Optimizers, clipping, layer sizes and parameter updates refuse nonsense, naming it."""

import math

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import ShapeError, Tensor
from autograd_lite.nn import Embedding, Linear, Parameter, check_size
from autograd_lite.optim import SGD, Adam, clip_grad_norm


def params():
    return [Parameter([1.0, -2.0], label="w")]


# -- optimizer hyperparameters ----------------------------------------------------------------


@pytest.mark.parametrize("make, pattern", [
    (lambda: SGD(params(), lr=float("nan")), r"SGD: lr must be positive and finite, got nan"),
    (lambda: SGD(params(), lr=float("inf")), r"SGD: lr must be positive and finite, got inf"),
    (lambda: SGD(params(), lr=-0.1), r"SGD: lr must be positive and finite, got -0.1"),
    (lambda: Adam(params(), lr=0), r"Adam: lr must be positive and finite, got 0"),
    (lambda: Adam(params(), lr="0.1"), r"Adam: lr must be positive and finite, got '0.1'"),
    (lambda: SGD(params(), lr=True), r"SGD: lr must be positive and finite, got True"),
    (lambda: SGD(params(), momentum=-0.5), r"SGD: momentum must be in \[0, 1\), got -0.5"),
    (lambda: SGD(params(), momentum=1.0), r"SGD: momentum must be in \[0, 1\), got 1.0"),
    (lambda: SGD(params(), momentum=float("nan")), r"SGD: momentum must be .* got nan"),
    (lambda: Adam(params(), betas=(1.0, 0.999)), r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (lambda: Adam(params(), betas=(0.9, -0.1)), r"Adam: betas\[1\] must be in \[0, 1\), got -0.1"),
    (lambda: Adam(params(), betas=(0.9,)), r"Adam: betas must be a pair \(beta1, beta2\)"),
    (lambda: Adam(params(), eps=0.0), r"Adam: eps must be positive and finite, got 0.0"),
    (lambda: Adam(params(), eps=-1e-8), r"Adam: eps must be positive and finite, got -1e-08"),
])
def test_optimizer_rejects_nonsense_hyperparameters(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_optimizer_takes_only_parameters():
    with pytest.raises(TypeError, match=r"SGD: params\[1\] is a Tensor, not a Parameter"):
        SGD([Parameter([1.0]), Tensor([1.0], requires_grad=True)], lr=0.1)


def test_sensible_hyperparameters_are_accepted():
    SGD(params(), lr=np.float32(0.1), momentum=0.0)
    Adam(params(), lr=1, betas=(0, 0.5), eps=1e-12)


@pytest.mark.parametrize("max_norm", [-1.0, 0.0, float("nan"), "1"])
def test_clip_rejects_a_max_norm_that_is_not_positive(max_norm):
    p = Parameter([3.0, 4.0], label="w")
    p.grad = np.array([3.0, 4.0])
    with pytest.raises(ValueError, match=r"clip_grad_norm: max_norm must be positive, got "):
        clip_grad_norm([p], max_norm=max_norm)
    np.testing.assert_array_equal(p.grad, [3.0, 4.0])  # no sign flip, nothing scaled


def test_clip_with_infinite_max_norm_clips_nothing():
    p = Parameter([0.0, 0.0])
    p.grad = np.array([3.0, 4.0])
    assert clip_grad_norm([p], max_norm=math.inf) == 5.0
    np.testing.assert_array_equal(p.grad, [3.0, 4.0])


# -- layer sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize("make, error, pattern", [
    (lambda: Linear(0, 2), ValueError, r"Linear: in_features must be a positive integer, got 0"),
    (lambda: Linear(2.5, 4), ValueError, r"Linear: in_features must be .* got 2.5"),
    (lambda: Linear(3, -1), ValueError, r"Linear: out_features must be .* got -1"),
    (lambda: Linear(True, 4), TypeError, r"Linear: in_features must be .* got True of type bool"),
    (lambda: Linear("3", 4), TypeError, r"Linear: in_features must be .* got '3' of type str"),
    (lambda: Linear(3, float("nan")), ValueError, r"Linear: out_features .* got nan"),
    (lambda: Embedding(0, 3), ValueError, r"Embedding: num_embeddings must be a positive "),
    (lambda: Embedding(5, 1.5), ValueError, r"Embedding: embedding_dim must be .* got 1.5"),
])
def test_layer_sizes_must_be_positive_integers(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_integral_sizes_of_any_integer_type_are_accepted():
    assert Linear(3.0, np.int64(2), rng=0).weight.shape == (2, 3)
    assert Embedding(np.int32(4), 2, rng=0).weight.shape == (4, 2)
    assert check_size("GRU", "hidden_size", 4.0) == 4 and type(check_size("a", "b", 4.0)) is int


def test_check_size_is_exported_from_nn():
    assert al.nn.check_size is check_size


# -- updating parameters by hand --------------------------------------------------------------


def test_in_place_write_to_parameter_data_still_raises():
    p = Parameter([1.0, 2.0])
    with pytest.raises(ValueError, match="read-only"):
        p.data -= 0.1
    assert "sub_" in Parameter.__doc__ and "read-only" in Parameter.__doc__


def test_sub_updates_the_values_and_keeps_saved_arrays():
    p = Parameter([1.0, 2.0], label="w")
    y = (p * p).sum()  # backward reads the values p had here
    old = p.data
    assert p.sub_(np.array([0.5, 0.5])) is p
    np.testing.assert_array_equal(p.data, [0.5, 1.5])
    np.testing.assert_array_equal(old, [1.0, 2.0])
    assert not p.data.flags.writeable
    y.backward()
    np.testing.assert_array_equal(p.grad, [2.0, 4.0])


def test_hand_written_sgd_loop_with_sub_matches_the_optimizer():
    mine, theirs = Parameter([1.0, -2.0]), Parameter([1.0, -2.0])
    opt = SGD([theirs], lr=0.1)
    for _ in range(3):
        for p in (mine, theirs):
            p.grad = None
            (p * p).sum().backward()
        mine.sub_(0.1 * mine.grad)
        opt.step()
    np.testing.assert_array_equal(mine.data, theirs.data)


def test_sub_keeps_dtype_and_accepts_tensors_and_broadcasting():
    p = Parameter(np.ones(3, np.float32))
    p.sub_(Tensor(np.float64(0.25)))
    assert p.dtype == np.float32
    np.testing.assert_array_equal(p.data, [0.75, 0.75, 0.75])


def test_sub_with_a_delta_that_changes_the_shape_is_refused():
    p = Parameter([1.0, 2.0], label="w")
    with pytest.raises(ShapeError, match=r"sub_: parameter 'w' \(2,\) cannot take a delta of "
                                         r"shape \(3, 2\)"):
        p.sub_(np.ones((3, 2)))
    np.testing.assert_array_equal(p.data, [1.0, 2.0])
