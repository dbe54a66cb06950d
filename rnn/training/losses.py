"""Losses for sequence models: per-step cross-entropy (with an optional mask) and MSE."""

from __future__ import annotations

import numpy as np

from autograd_lite import ops
from autograd_lite.tensor import Tensor


def sequence_cross_entropy(logits, targets, mask=None) -> Tensor:
    """Mean cross-entropy of logits (T, B, V) against integer targets (T, B).

    With a mask (T, B) of 0/1 weights, the mean is over the steps where the mask is 1.
    """
    if mask is None:
        return ops.cross_entropy(logits, targets)
    mask = np.asarray(mask, dtype=logits.dtype)
    if mask.shape != np.shape(targets):
        raise ValueError(f"sequence_cross_entropy: mask {mask.shape} must match targets "
                         f"{np.shape(targets)}")
    n_classes = logits.shape[-1]
    logp = ops.log_softmax(logits.reshape((-1, n_classes)), axis=-1)
    flat = np.asarray(targets).reshape(-1)
    picked = logp[np.arange(flat.size), flat]
    return -(picked * mask.reshape(-1)).sum() / max(float(mask.sum()), 1.0)


def mse_loss(pred, target) -> Tensor:
    """Mean squared error."""
    return ops.mse(pred, target)
