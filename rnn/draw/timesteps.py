"""Time steps of an unrolled computation graph: the node ending each step, and the step each node
belongs to. The graph is the engine's `to_networkx` (node ids n0, n1, ...)."""

from __future__ import annotations

import itertools

import networkx as nx

from autograd_lite.graph import to_networkx
from autograd_lite.tensor import Tensor

STATE_LABEL = "h_t"  # the cells' label on each step's output: how time steps are found


def nx_graph(source):
    """A networkx graph from `to_networkx`, made from a Tensor, or given as one."""
    if isinstance(source, Tensor):
        return to_networkx(source)
    if hasattr(source, "nodes") and hasattr(source, "predecessors"):
        return source
    raise TypeError(f"expected a Tensor or a graph from to_networkx, got {type(source).__name__}")


def graph_order(g) -> list:
    """Nodes parents first (to_networkx already inserts them so: keep that order)."""
    order = list(g.nodes)
    position = {n: k for k, n in enumerate(order)}
    if all(position[a] < position[b] for a, b in g.edges):
        return order
    return list(nx.topological_sort(g))


def parents_in_order(g, n) -> list:
    """The parents of `n` in argument order, one entry per argument (`x * x` gives x twice)."""
    pairs = sorted((k, p) for p in g.predecessors(n) for k in g.edges[p, n].get("args", (0,)))
    return [p for _, p in pairs]


def step_outputs(g) -> list:
    """The node ending each time step of an unrolled graph, in time order ([] if none).

    The readable cells label each step's output `h_t`. Tried in turn: the parents of a layer's
    `outputs` stack (argument order is time order); the `h_t` nodes if they form one chain (each
    depends on the one before); the parents of the stack with the most `h_t` parents.
    """
    order = graph_order(g)
    label = {n: g.nodes[n].get("label") for n in order}
    stacks = []
    for n in order:
        if g.nodes[n].get("op") == "stack":
            parents = parents_in_order(g, n)
            if parents and all(label[p] == STATE_LABEL for p in parents):
                stacks.append((label[n] == "outputs", len(parents), parents))
    named = [stack for stack in stacks if stack[0]]
    if named:
        return named[0][2]
    hs = [n for n in order if label[n] == STATE_LABEL]
    if hs and all(_depends(g, b, a) for a, b in itertools.pairwise(hs)):
        return hs
    return max(stacks, key=lambda s: s[1])[2] if stacks else []


def _depends(g, node, on) -> bool:
    """Whether `node` depends on `on` (a walk back from `node` reaches it)."""
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n == on:
            return True
        for p in g.predecessors(n):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return False


def time_steps(g, outputs="auto") -> dict:
    """The time step (1..T) of each node inside a step of an unrolled graph; others are absent.

    `outputs` lists the node ending each step in time order ("auto": `step_outputs(g)`). Step t
    holds what its output depends on that no earlier step holds: the walk back from h_t stops
    at the previous step's state. Parameters, leaves used by several steps and nodes that feed
    steps other than their own and the next (not a state) stay outside every step.
    """
    roots = step_outputs(g) if outputs == "auto" else list(outputs or ())
    step = {}
    for t, root in enumerate(roots, 1):
        if root in step:
            raise ValueError(f"step output {root} is already part of step {step[root]}: the "
                             f"outputs must be listed in time order")
        stack = [root]
        while stack:
            n = stack.pop()
            if n in step:
                continue
            step[n] = t
            stack.extend(p for p in g.predecessors(n) if p not in step)
    ends = set(roots)
    for n in reversed(graph_order(g)):  # consumers first, so a node leaving a step frees its inputs
        s = step.get(n)
        if s is None or n in ends:
            continue
        used = {step.get(c) for c in g.successors(n)} - {None}
        attrs = g.nodes[n]
        shared = (attrs.get("is_parameter") or not used or not used <= {s, s + 1}
                  or (attrs.get("op") is None and len(used) > 1))
        if shared:
            del step[n]
    return step
