"""The backward walk: reverse-mode accumulation over a recorded graph, iteratively.

It knows tensors only through their public node fields (`creator`, `parents`,
`parent_data`, `attrs`, `saved`, `seq`) and computes through the backend it is given.
"""

from __future__ import annotations

import contextlib

import numpy as np

from autograd_lite import state
from autograd_lite.errors import AnomalyError, GradientError, ShapeError, describe


def topological_order(roots) -> list:
    """Tensors reachable from `roots` that require grad, parents before children.

    Iterative (an unrolled LSTM is thousands of ops deep): collect the reachable nodes,
    then sort them by creation number, which orders every node after its parents.
    """
    seen = {}
    stack = [r for r in roots if r.requires_grad]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        for p in node.parents:
            if p.requires_grad and id(p) not in seen:
                stack.append(p)
    return sorted(seen.values(), key=_seq_of)


def _seq_of(t) -> int:
    return t.seq


def _seed(root, grad, bk):
    if grad is None:
        if root.data.size != 1:
            raise GradientError(
                f"backward: {describe(root)} is not a scalar; pass grad= with shape "
                f"{root.shape} (the upstream gradient)"
            )
        g = np.ones_like(root.data)
    else:
        g = np.asarray(grad, dtype=root.dtype)  # (a Tensor gives its values: __array__)
        if g.shape != root.shape:
            raise ShapeError(
                f"backward: grad has shape {g.shape} but {describe(root)} has shape {root.shape}"
            )
    return bk.lift(g)


def sweep(roots, grads, bk, inputs=None, retain_grad=False):
    """Reverse-mode sweep from `roots` (with upstream `grads`), computing through `bk`.

    With `inputs=None`, gradients accumulate into the `.grad` of every leaf that requires
    grad. With `inputs` given, their gradients are returned instead (None where unreachable)
    and no `.grad` is touched. When `bk.records`, the sweep is itself recorded.
    """
    for r in roots:
        if not r.requires_grad:
            raise GradientError(
                f"backward: {describe(r)} does not require grad (no input of it requires "
                f"grad, or it was computed under no_grad())"
            )
    create_graph = bk.records
    anomaly = state.anomaly
    order = topological_order(roots)
    targets = None if inputs is None else {id(t) for t in inputs}
    pending: dict[int, object] = {}
    for r, g in zip(roots, grads):
        g = _seed(r, g, bk)
        pending[id(r)] = g if id(r) not in pending else pending[id(r)] + g

    grad_mode = contextlib.nullcontext() if create_graph else state.no_grad()
    found = {}
    # Keys whose pending gradient is a sum allocated here: a node's gradient from one
    # parent may be the very array passed to its other parents (add gives (g, g)), so only
    # these may grow in place, like the `dW +=` of a hand-written loop.
    owned: set[int] = set()
    with grad_mode:
        for node in reversed(order):
            g = pending.pop(id(node), None)
            if g is None:
                continue
            owned.discard(id(node))  # from here on g may be shared: never written again
            if targets is not None and id(node) in targets:
                found[id(node)] = g
                continue  # gradients w.r.t. an input do not flow past it
            op = node.creator
            if create_graph and op is not None and not op.higher_order:
                raise GradientError(
                    f"backward: {op.name} has a hand-written NumPy backward and cannot be "
                    f"differentiated twice (node {describe(node)}); use the unfused path"
                )
            if op is None:
                if inputs is None:
                    _accumulate_leaf(node, g, create_graph)
                continue
            if retain_grad and inputs is None:
                node.grad = g if create_graph else np.array(g)  # own memory: no aliasing
            parents = node.parents
            if create_graph:
                args = parents
                out = node
            else:
                args = node.parent_data  # the arrays the forward read, even if since rebound
                out = node.data
            if op.saves:
                pgs = op.vjp(bk, g, out, *args, saved=node.saved, **(node.attrs or {}))
            elif node.attrs:
                pgs = op.vjp(bk, g, out, *args, **node.attrs)
            else:
                pgs = op.vjp(bk, g, out, *args)
            for p, pg in zip(parents, pgs):
                if pg is None or not p.requires_grad:
                    continue
                if pg.shape != p.data.shape:  # undo broadcasting, once, here
                    pg = bk.sum_to(pg, p.data.shape)
                if anomaly:
                    _check_finite(bk.raw(pg), f"the gradient that the backward of {op.name} "
                                              f"passes to {describe(p)}", node)
                key = id(p)
                prev = pending.get(key)
                if prev is None:
                    pending[key] = pg
                elif key in owned and prev.dtype == pg.dtype:
                    prev += pg  # a sum this loop allocated and nothing else holds
                else:
                    total = pending[key] = prev + pg
                    if type(total) is np.ndarray:  # (0-d sums give NumPy scalars; Tensors
                        owned.add(key)             # under create_graph are never written)
    if inputs is not None:
        # A rule may hand one array to several parents (add gives (g, g)): copy, so no two
        # returned gradients share memory.
        grads = [found.get(id(t)) for t in inputs]
        return grads if create_graph else [None if g is None else np.array(g) for g in grads]
    return None


def _accumulate_leaf(leaf, g, create_graph: bool) -> None:
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
    if leaf.grad is None:
        leaf.grad = np.array(g, copy=True)  # own memory: no two grads alias
    else:
        leaf.grad = leaf.grad + g


def _check_finite(values, what: str, node) -> None:
    if not np.all(np.isfinite(values)):
        bad = "NaN" if np.any(np.isnan(values)) else "Inf"
        raise AnomalyError(f"{bad} in {what} (node {describe(node)})")
