"""Test inputs for the engine: one or more gradcheck cases for every primitive in the table.

Each case is `(op name, expression, function, float64 inputs)`, inputs kept inside the op's
domain and away from kinks. Used by `rnn-lab gradcheck` and by the engine's tests.
"""

from __future__ import annotations

import numpy as np

import autograd_lite as al
from autograd_lite import ops


def cases():
    """(op name, expression, function, float64 inputs) for every primitive, in table order."""
    rng = np.random.default_rng(0)

    def normal(*shape):
        return rng.standard_normal(shape)

    def positive(*shape):
        return rng.uniform(0.5, 2.0, shape)

    def away_from_zero(*shape):
        return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)

    def distinct(*shape):  # max needs a unique maximum: no ties
        return rng.permutation(np.arange(int(np.prod(shape)), dtype=float)).reshape(shape) / 3

    ids = np.array([[0, 2], [2, 4]])
    return [
        ("add", "a + b", lambda a, b: a + b, [normal(3, 4), normal(4)]),
        ("sub", "a - b", lambda a, b: a - b, [normal(2, 3), normal(2, 1)]),
        ("mul", "a * b", lambda a, b: a * b, [normal(2, 3), normal(3)]),
        ("div", "a / b", lambda a, b: a / b, [normal(2, 3), away_from_zero(1, 3)]),
        ("neg", "-a", lambda a: -a, [normal(3)]),
        ("pow", "a ** 3", lambda a: a**3, [normal(2, 3)]),
        ("pow", "a ** -1.5", lambda a: a**-1.5, [positive(4)]),
        ("pow_tensor", "a ** b", lambda a, b: a**b, [positive(2, 3), normal(3)]),
        ("exp", "exp(a)", al.exp, [normal(2, 3)]),
        ("log", "log(a)", al.log, [positive(2, 3)]),
        ("sigmoid", "sigmoid(a)", al.sigmoid, [normal(2, 3)]),
        ("tanh", "tanh(a)", al.tanh, [normal(2, 3)]),
        ("relu", "relu(a)", al.relu, [away_from_zero(2, 3)]),
        ("matmul", "a @ b", al.matmul, [normal(2, 3), normal(3, 4)]),
        ("matmul", "a @ b", al.matmul, [normal(3), normal(2, 3, 2)]),
        ("matmul", "a @ b", al.matmul, [normal(2, 2, 3), normal(3)]),
        ("matmul", "a @ b", al.matmul, [normal(2, 1, 2, 3), normal(3, 3, 2)]),
        ("sum", "a.sum(axis=1)", lambda a: a.sum(axis=1), [normal(2, 3, 2)]),
        ("mean", "a.mean((0, 2), keepdims)", lambda a: a.mean(axis=(0, 2), keepdims=True),
         [normal(2, 3, 2)]),
        ("max", "a.max(axis=-1)", lambda a: a.max(axis=-1), [distinct(3, 4)]),
        ("reshape", "a.reshape(3, 2)", lambda a: a.reshape(3, 2), [normal(2, 3)]),
        ("transpose", "transpose(a, (2, 0, 1))", lambda a: al.transpose(a, (2, 0, 1)),
         [normal(2, 3, 4)]),
        ("getitem", "a[1:, ::2]", lambda a: a[1:, ::2], [normal(3, 4)]),
        ("getitem", "a[[0, 2, 0]]", lambda a: a[np.array([0, 2, 0])], [normal(3, 2)]),
        ("scatter", "scatter(g, (4,2), [1,3,1]) (getitem's VJP)",
         lambda g: ops.apply(ops.SCATTER, g, shape=(4, 2), index=np.array([1, 3, 1])),
         [normal(3, 2)]),
        ("embedding", "embedding(W, ids 2x2)", lambda w: al.embedding(w, ids), [normal(5, 3)]),
        ("pick", "pick(a, targets [2, 0, 3])", lambda a: al.pick(a, np.array([2, 0, 3])),
         [normal(3, 4)]),
        ("broadcast_to", "broadcast_to(a, (2, 3, 4))",
         lambda a: al.broadcast_to(a, (2, 3, 4)), [normal(3, 1)]),
        ("sum_to", "sum_to(a, (3, 1)) (un-broadcast)", lambda a: ops.sum_to(a, (3, 1)),
         [normal(2, 3, 4)]),
        ("astype", "a.astype(float64)", lambda a: a.astype(np.float64), [normal(2, 3)]),
        ("concat", "concat([a, b], axis=1)", lambda a, b: al.concat([a, b], axis=1),
         [normal(2, 3), normal(2, 2)]),
        ("stack", "stack([a, b], axis=-1)", lambda a, b: al.stack([a, b], axis=-1),
         [normal(2, 3), normal(2, 3)]),
        ("where", "where(cond, a, b)",
         lambda a, b: al.where(np.array([[True, False, True], [False, True, True]]), a, b),
         [normal(2, 3), normal(3)]),
        ("softmax", "softmax(a, axis=-1)", al.softmax, [normal(2, 4)]),
        ("log_softmax", "log_softmax(a, axis=0)", lambda a: al.log_softmax(a, axis=0),
         [normal(3, 2)]),
        ("logsumexp", "logsumexp(a, axis=-1)", al.logsumexp, [normal(2, 4)]),
    ]
