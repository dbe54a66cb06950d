"""The graph's Node and the backward walk: reverse-mode accumulation over nodes, iteratively.

The walk reads the public fields of nodes and of leaf tensors, and computes through the
backend it is given. Unless the graph is retained, each node's kept arrays are freed once
its rule has run.
"""

from __future__ import annotations

import contextlib
import heapq
import operator
import weakref

import numpy as np

from autograd_lite import state
from autograd_lite.errors import AnomalyError, GradientError, ShapeError, describe


class Node(weakref.ref):
    """One recorded op application: what the backward walk needs, and nothing more.

    `creator` (the Op), `inputs` (per argument: the Node that made it, a leaf Tensor, or a
    Python number), `input_data` / `output` (the arrays the rule reads, as the forward saw
    them; None where the op's `needs` leaves them out), `saved` (what a fused forward kept),
    `attrs`, `seq` (creation number), `label`, `grad` (kept by `retain_grad`), and the
    output's `shape` and `dtype`. A Node is a weak reference to its output Tensor: `node()`
    gives the Tensor while someone holds it (one object per op instead of two). `walked`
    holds the Tensors its inputs were shown as (`Tensor.parents`), so that walking the graph
    twice meets the same objects.
    """

    __slots__ = ("creator", "inputs", "input_data", "output", "saved", "attrs", "seq", "label",
                 "grad", "shape", "dtype", "stand_in", "walked")
    requires_grad = True  # what the backward walk asks of any input
    is_parameter = False
    # nodes are graph vertices, hashed and compared by identity (not by their tensor's)
    __hash__ = object.__hash__
    __eq__ = object.__eq__
    __ne__ = object.__ne__

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        return f"Node({self.creator.name!r}, {describe(self)})"


class _Freed:
    """Marks a node whose kept arrays a backward pass has freed."""

    def __repr__(self):
        return "FREED"


FREED = _Freed()


def topological_order(starts) -> list:
    """The nodes reachable from `starts` (nodes or leaves), children before parents (by
    creation number, which orders every node after its inputs). Iterative: an unrolled LSTM
    is thousands of ops deep. (The walk itself needs no such list: see `sweep`.)"""
    seen = set()
    stack = [s for s in starts if type(s) is Node]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(p for p in node.inputs if type(p) is Node)
    return sorted(seen, key=operator.attrgetter("seq"), reverse=True)


def _seed(root, grad, bk):
    if grad is None:
        if root.size != 1:
            raise GradientError(
                f"backward: {describe(root)} is not a scalar; pass grad= with shape "
                f"{root.shape} (the upstream gradient)"
            )
        g = np.ones(root.shape, root.dtype)
    else:
        g = np.asarray(grad, dtype=root.dtype)  # (a Tensor gives its values: __array__)
        if g.shape != root.shape:
            raise ShapeError(
                f"backward: grad has shape {g.shape} but {describe(root)} has shape {root.shape}"
            )
    return bk.lift(g)


def sweep(roots, grads, bk, inputs=None, retain_grad=False, retain_graph=False,
          tensor_of=None):
    """Reverse-mode sweep from `roots` (Tensors, with upstream `grads`), through `bk`.

    With `inputs=None`, gradients accumulate into the `.grad` of every leaf that requires
    grad. With `inputs` given, their gradients are returned instead (None where unreachable)
    and no `.grad` is touched. When `bk.records`, the sweep is itself recorded; it then needs
    `tensor_of(node, data)`, the Tensor standing for a node.
    """
    for r in roots:
        if not r.requires_grad:
            raise GradientError(
                f"backward: {describe(r)} does not require grad (no input of it requires "
                f"grad, or it was computed under no_grad())"
            )
    create_graph = bk.records
    anomaly = state.anomaly
    free = not retain_graph
    pending: dict = {}  # node or leaf Tensor -> its gradient so far
    # Nodes waiting for their rule, as (-seq, node): a node is made after its inputs, so the
    # newest waiting node has all its gradient once every newer one has run. Only nodes that
    # got a gradient wait: no separate pass over the graph, no sort.
    heap = []
    for r, g in zip(roots, grads):
        g = _seed(r, g, bk)
        key = r.node or r
        if key in pending:
            pending[key] = pending[key] + g
        else:
            pending[key] = g
            if type(key) is Node:
                heap.append((-key.seq, key))
    heapq.heapify(heap)
    targets = None if inputs is None else {t.node or t for t in inputs}
    found = {}
    # Keys whose pending gradient is a sum allocated here: a node's gradient from one
    # parent may be the very array passed to its other parents (add gives (g, g)), so only
    # these may grow in place, like the `dW +=` of a hand-written loop.
    owned: set = set()
    grad_mode = contextlib.nullcontext() if create_graph else state.no_grad()
    keep_grads = retain_grad and inputs is None
    plain = not (create_graph or keep_grads or anomaly or targets)  # the common case
    pop, get, push, take = pending.pop, pending.get, heapq.heappush, heapq.heappop
    node = take(heap)[1] if heap else None
    with grad_mode:
        while node is not None:
            g = pop(node)  # (from here on nothing adds to it: g is never written)
            op = node.creator
            kept = node.input_data
            if kept is FREED:
                raise GradientError(
                    f"backward: the graph through {describe(node)} was freed by an earlier "
                    f"backward pass (a state carried over from an earlier batch? cut it with "
                    f".detach()); pass retain_graph=True to that backward() to keep it")
            if plain:
                # the arrays the forward read, even if a parameter was rebound since; a rule
                # that reads no input values gets the inputs' nodes (shape, ndim, dtype)
                args = kept if op.keeps_inputs else node.inputs
                out = node.output
            else:
                if targets is not None and node in targets:
                    found[node] = g  # gradients w.r.t. an input do not flow past it
                    node = take(heap)[1] if heap else None
                    continue
                args, out = _rule_inputs(node, g, keep_grads, create_graph, tensor_of)
            attrs = node.attrs
            if attrs is None and not op.saves:
                pgs = op.vjp(bk, g, out, *args)
            elif op.saves:
                pgs = op.vjp(bk, g, out, *args, saved=node.saved, **(attrs or {}))
                if free:
                    node.saved = None
            else:
                pgs = op.vjp(bk, g, out, *args, **attrs)
            if free:  # this node's arrays have served: let them go
                node.input_data = FREED
                node.output = None
            unbroadcast = op.broadcasts
            newest = None  # the newest input that got its first gradient just now
            for p, pg in zip(node.inputs, pgs):
                if pg is None:
                    continue
                tp = type(p)
                if tp is not Node and (tp is float or tp is int or not p.requires_grad):
                    continue  # a number or a constant: no gradient
                if unbroadcast and pg.shape != p.shape:  # undo broadcasting, once, here
                    pg = bk.sum_to(pg, p.shape)
                if anomaly:
                    _check_finite(bk.raw(pg), f"the gradient that the backward of {op.name} "
                                              f"passes to {describe(p)}", node)
                prev = get(p)
                if prev is None:
                    pending[p] = pg
                    if tp is Node:
                        if newest is None:
                            newest = p
                        elif p.seq > newest.seq:
                            push(heap, (-newest.seq, newest))
                            newest = p
                        else:
                            push(heap, (-p.seq, p))
                elif p in owned and prev.dtype == pg.dtype:
                    prev += pg  # a sum this loop allocated and nothing else holds
                else:
                    total = pending[p] = prev + pg
                    if type(total) is np.ndarray:  # (0-d sums give NumPy scalars; Tensors
                        owned.add(p)               # under create_graph are never written)
            # Next: the newest waiting node; in a chain, the input just reached (no heap).
            if newest is not None and (not heap or -heap[0][0] < newest.seq):
                node = newest
            else:
                if newest is not None:
                    push(heap, (-newest.seq, newest))
                node = take(heap)[1] if heap else None
    # What is left are the leaves' gradients (and inputs that were reached as leaves).
    if inputs is not None:
        found.update((p, g) for p, g in pending.items() if p in targets)
        # A rule may hand one array to several parents (add gives (g, g)): copy, so no two
        # returned gradients share memory.
        grads = [found.get(t.node or t) for t in inputs]
        return grads if create_graph else [None if g is None else np.array(g) for g in grads]
    for leaf, g in pending.items():
        _accumulate_leaf(leaf, g, create_graph)
    return None


def _rule_inputs(node, g, keep_grads, create_graph, tensor_of):
    """The rule's (inputs, output) when gradients are kept or recorded."""
    if keep_grads:
        _retain(node, g if create_graph else np.array(g))  # own memory: no aliasing
    if not create_graph:
        return (node.input_data if node.creator.keeps_inputs else node.inputs), node.output
    op = node.creator
    if not op.higher_order:
        raise GradientError(
            f"backward: {op.name} has a hand-written NumPy backward and cannot be "
            f"differentiated twice (node {describe(node)}); use the unfused path")
    kept = node.input_data
    args = [tensor_of(p, None if kept is None else kept[k]) if type(p) is Node else p
            for k, p in enumerate(node.inputs)]
    return args, tensor_of(node, None)


def _retain(node, g) -> None:
    node.grad = g
    t = node()
    if t is None and node.stand_in is not None:
        t = node.stand_in()
    if t is not None:
        t.grad = g


def _accumulate_leaf(leaf, g, create_graph: bool) -> None:
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if g.dtype != leaf.dtype:
        g = g.astype(leaf.dtype)
    if leaf.grad is None:
        leaf.grad = np.array(g, copy=True)  # own memory: no two grads alias
    else:
        leaf.grad = leaf.grad + g


def _check_finite(values, what: str, node) -> None:
    if not np.all(np.isfinite(values)):
        bad = "NaN" if np.any(np.isnan(values)) else "Inf"
        raise AnomalyError(f"{bad} in {what} (node {describe(node)})")
