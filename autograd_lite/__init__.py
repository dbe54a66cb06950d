"""autograd_lite: a small reverse-mode autodiff engine written from scratch on NumPy."""

from autograd_lite.compile import Compiled, CompileWarning, compile
from autograd_lite.functional import grad, hvp, value_and_grad, vjp
from autograd_lite.gradcheck import GradcheckError, gradcheck
from autograd_lite.graph import to_networkx
from autograd_lite.ops import (
    OPS,
    Op,
    apply,
    broadcast_to,
    concat,
    cross_entropy,
    defop,
    embedding,
    exp,
    log,
    log_softmax,
    logsumexp,
    matmul,
    mse,
    pick,
    relu,
    sigmoid,
    softmax,
    split,
    stack,
    tanh,
    transpose,
    where,
)
from autograd_lite.errors import AnomalyError, CompileError, GradientError, ShapeError
from autograd_lite.state import detect_anomaly, is_grad_enabled, no_grad
from autograd_lite.tensor import Tensor
from autograd_lite import nn, optim  # noqa: E402,F401

__all__ = [
    "Tensor", "Op", "OPS", "defop", "apply", "no_grad", "is_grad_enabled", "detect_anomaly",
    "grad", "value_and_grad", "hvp", "vjp", "gradcheck", "GradcheckError", "to_networkx",
    "compile", "Compiled", "CompileError", "CompileWarning",
    "ShapeError", "GradientError", "AnomalyError", "nn", "optim",
    "sigmoid", "tanh", "relu", "exp", "log", "matmul", "concat", "stack", "split", "where",
    "softmax", "log_softmax", "logsumexp", "cross_entropy", "mse", "embedding", "pick",
    "broadcast_to", "transpose",
]
