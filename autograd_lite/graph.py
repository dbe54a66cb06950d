"""Export the graph that produced a tensor, or a compiled program, as a networkx.DiGraph, for
drawing and analysis."""

from __future__ import annotations

import networkx as nx
import numpy as np

from autograd_lite.compile import Compiled
from autograd_lite.program import Program
from autograd_lite.tensor import Tensor
from autograd_lite.trace import EXTERN


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


def in_creation_order(outs) -> list[Tensor]:
    """Every tensor the tensors `outs` depend on (themselves included), in the order the
    forward made them (by `seq`)."""
    seen, stack = {}, list(outs)
    while stack:
        t = stack.pop()
        if id(t) not in seen:
            seen[id(t)] = t
            stack.extend(t.parents)
    return sorted(seen.values(), key=lambda t: t.seq)


def nearest_labelled(node: Tensor, label: str) -> Tensor:
    """The nearest ancestor of `node` (breadth first) labelled `label` (LookupError if none)."""
    seen, frontier = {id(node)}, [node]
    while frontier:
        nxt = []
        for t in frontier:
            for p in t.parents:
                if p.label == label:
                    return p
                if id(p) not in seen:
                    seen.add(id(p))
                    nxt.append(p)
        frontier = nxt
    raise LookupError(f"no {label} node behind {node.label}")


def to_networkx(tensor) -> nx.DiGraph:
    """The graph that produced `tensor`: one node per tensor, edges parent -> child.

    `tensor` may also be a compiled function (its newest program is drawn) or a Program:
    one node per value of the program (arguments, outside tensors, constants, op outputs),
    with the same attributes (grad_norm is None: a program keeps no gradients).

    Node ids are `n0, n1, ...` in topological order. Attributes: op (None for a leaf),
    label, shape, dtype, is_parameter, requires_grad, grad_norm (None before backward or
    when no gradient was kept), and `attrs` (the op's attributes, as text). Edges carry
    `arg`, the argument position, and `args`, all positions (`(0, 1)` for `x * x`). The root
    has `is_output=True`.
    """
    if isinstance(tensor, Compiled):
        if tensor.program is None:
            raise ValueError(f"to_networkx: {tensor!r} has not been called yet, so it has no "
                             f"program to draw")
        tensor = tensor.program
    if isinstance(tensor, Program):
        return _program_graph(tensor)
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
            attrs=_attrs_text(t.attrs),
            is_output=t is tensor,
        )
        for k, p in enumerate(t.parents):
            edge = (ids[id(p)], ids[id(t)])
            if g.has_edge(*edge):  # the same parent twice (x * x): keep every position
                g.edges[edge]["args"] += (k,)
            else:
                g.add_edge(*edge, arg=k, args=(k,))
    return g


def _program_graph(program: Program) -> nx.DiGraph:
    values = program.values
    used = set(program.outputs)
    for ins in program.instrs:
        used.update(ins.inputs)
        used.add(ins.out)
    ids = {slot: f"n{k}" for k, slot in enumerate(sorted(used))}  # slots are in trace order
    made_by = {ins.out: ins for ins in program.instrs}
    g = nx.DiGraph()
    for slot in sorted(used):
        v, ins = values[slot], made_by.get(slot)
        g.add_node(
            ids[slot],
            op=None if ins is None else ins.op.name,
            label=v.label,
            shape=tuple(v.shape),
            dtype=type(v.source).__name__ if v.dtype is None else str(v.dtype),
            is_parameter=v.kind == EXTERN and bool(v.source.is_parameter),
            requires_grad=bool(v.requires_grad),
            grad_norm=None,
            attrs="" if ins is None else _attrs_text(ins.attrs),
            is_output=slot in program.outputs,
        )
    for ins in program.instrs:
        for k, s in enumerate(ins.inputs):
            edge = (ids[s], ids[ins.out])
            if g.has_edge(*edge):
                g.edges[edge]["args"] += (k,)
            else:
                g.add_edge(*edge, arg=k, args=(k,))
    return g


def _attrs_text(attrs) -> str:
    if not attrs:
        return ""
    parts = []
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            value = f"array{value.shape}"
        parts.append(f"{key}={value}")
    return ", ".join(parts)
