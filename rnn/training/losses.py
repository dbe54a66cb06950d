"""Losses for sequence models: per-step cross-entropy (with an optional mask) and MSE."""

from __future__ import annotations

import numpy as np

from autograd_lite import ops
from autograd_lite.tensor import Tensor, as_tensor


def sequence_cross_entropy(logits, targets, mask=None) -> Tensor:
    """Mean cross-entropy of logits (T, B, V) against integer targets (T, B).

    With a mask (T, B) of 0/1 weights, the mean is over the steps where the mask is 1 (over
    one step if none is). Targets and mask stay inputs of the graph (ops read them), so a
    compiled step reads new ones at every call.
    """
    if mask is None:
        return ops.cross_entropy(logits, targets)
    targets = as_tensor(targets)
    mask = as_tensor(mask if isinstance(mask, Tensor) else np.asarray(mask, logits.dtype))
    if mask.shape != targets.shape:
        raise ValueError(f"sequence_cross_entropy: mask {mask.shape} must match targets "
                         f"{targets.shape}")
    if mask.dtype != logits.dtype:
        mask = mask.astype(logits.dtype)
    n_classes = logits.shape[-1]
    logp = ops.log_softmax(logits.reshape((-1, n_classes)), axis=-1)
    picked = ops.pick(logp, targets.reshape(-1))
    steps = mask.sum()
    return -(picked * mask.reshape(-1)).sum() / (ops.relu(steps - 1.0) + 1.0)  # max(steps, 1)


def mse_loss(pred, target) -> Tensor:
    """Mean squared error."""
    return ops.mse(pred, target)
