"""Export the graph that produced a tensor as a networkx.DiGraph, for drawing and analysis."""

from __future__ import annotations

import networkx as nx
import numpy as np

from autograd_lite.tensor import Tensor


def _ancestors(root: Tensor) -> list[Tensor]:
    # Iterative post-order over all parents (also those that need no grad), parents first,
    # in argument order: the same graph always gets the same node ids.
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in reversed(node.parents):
            if id(p) not in seen:
                stack.append((p, False))
    return order


def to_networkx(tensor: Tensor) -> nx.DiGraph:
    """The graph that produced `tensor`: one node per tensor, edges parent -> child.

    Node ids are `n0, n1, ...` in topological order. Attributes: op (None for a leaf),
    label, shape, dtype, is_parameter, requires_grad, grad_norm (None before backward or
    when no gradient was kept), and `attrs` (the op's attributes, as text). Edges carry
    `arg`, the argument position, and `args`, all positions (`(0, 1)` for `x * x`). The root
    has `is_output=True`.
    """
    nodes = _ancestors(tensor)
    ids = {id(t): f"n{k}" for k, t in enumerate(nodes)}
    g = nx.DiGraph()
    for t in nodes:
        grad = t.grad.data if isinstance(t.grad, Tensor) else t.grad
        g.add_node(
            ids[id(t)],
            op=t.op,
            label=t.label,
            shape=tuple(t.shape),
            dtype=str(t.dtype),
            is_parameter=bool(t.is_parameter),
            requires_grad=bool(t.requires_grad),
            grad_norm=None if grad is None else float(np.linalg.norm(np.ravel(grad))),
            attrs=_attrs_text(t),
            is_output=t is tensor,
        )
        for k, p in enumerate(t.parents):
            edge = (ids[id(p)], ids[id(t)])
            if g.has_edge(*edge):  # the same parent twice (x * x): keep every position
                g.edges[edge]["args"] += (k,)
            else:
                g.add_edge(*edge, arg=k, args=(k,))
    return g


def _attrs_text(t: Tensor) -> str:
    if not t.attrs:
        return ""
    parts = []
    for key, value in t.attrs.items():
        if isinstance(value, np.ndarray):
            value = f"array{value.shape}"
        parts.append(f"{key}={value}")
    return ", ".join(parts)
