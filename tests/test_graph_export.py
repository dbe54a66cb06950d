"""to_networkx: node ids, attributes, argument order and gradient norms."""

import networkx as nx
import numpy as np

import autograd_lite as al
from autograd_lite import Tensor
from autograd_lite.nn import Parameter


def small_net():
    W = Parameter(np.arange(6.0).reshape(2, 3) / 10, label="W")
    x = Tensor([1.0, -1.0, 0.5], label="x")
    b = Parameter([0.1, -0.2], label="b")
    h = al.tanh(W @ x + b)
    h.label = "h"
    loss = (h * h).sum()
    return W, x, b, h, loss


def test_node_ids_are_synthetic_and_in_topological_argument_order():
    *_, loss = small_net()
    g = al.to_networkx(loss)
    ops = [g.nodes[n]["op"] for n in g.nodes]
    labels = [g.nodes[n]["label"] for n in g.nodes]
    assert list(g.nodes) == [f"n{k}" for k in range(8)]
    assert ops == [None, None, "matmul", None, "add", "tanh", "mul", "sum"]
    assert labels == ["W", "x", None, "b", None, "h", None, None]
    assert nx.is_directed_acyclic_graph(g)
    assert list(nx.topological_sort(g))[-1] == "n7"


def test_export_is_deterministic():
    first = al.to_networkx(small_net()[-1])
    second = al.to_networkx(small_net()[-1])
    assert list(first.nodes(data=True)) == list(second.nodes(data=True))
    assert list(first.edges(data=True)) == list(second.edges(data=True))


def test_node_attributes():
    *_, loss = small_net()
    g = al.to_networkx(loss)
    W, x, matmul, b = (g.nodes[f"n{k}"] for k in range(4))
    assert W["shape"] == (2, 3) and W["dtype"] == "float64"
    assert W["is_parameter"] and W["requires_grad"]
    assert not x["is_parameter"] and not x["requires_grad"]
    assert matmul["shape"] == (2,) and matmul["requires_grad"] and not matmul["is_parameter"]
    assert b["is_parameter"]
    assert g.nodes["n7"]["is_output"] and not g.nodes["n6"]["is_output"]
    assert all(g.nodes[n]["grad_norm"] is None for n in g.nodes)  # no backward yet


def test_edges_carry_argument_positions():
    a = Tensor([1.0, 2.0], requires_grad=True, label="a")
    b = Tensor([3.0, 4.0], requires_grad=True, label="b")
    g = al.to_networkx(b - a)  # b is argument 0 even though a was made first
    ids = {g.nodes[n]["label"]: n for n in g.nodes}
    assert g.edges[ids["b"], "n2"]["arg"] == 0
    assert g.edges[ids["a"], "n2"]["arg"] == 1


def test_repeated_parent_keeps_both_positions():
    x = Tensor(3.0, requires_grad=True, label="x")
    g = al.to_networkx(x * x)
    assert list(g.edges(data=True)) == [("n0", "n1", {"arg": 0, "args": (0, 1)})]


def test_grad_norms_after_backward_with_retain_grad():
    W, x, b, h, loss = small_net()
    loss.backward(retain_grad=True)
    g = al.to_networkx(loss)
    norms = {g.nodes[n]["label"]: g.nodes[n]["grad_norm"] for n in g.nodes}
    assert norms["W"] == np.linalg.norm(W.grad)
    assert norms["b"] == np.linalg.norm(b.grad)
    assert norms["h"] == np.linalg.norm(2 * h.data)
    assert norms["x"] is None  # a constant gets no gradient
    assert g.nodes["n7"]["grad_norm"] == 1.0


def test_leaf_grad_norms_without_retain_grad():
    W, x, b, h, loss = small_net()
    loss.backward()
    g = al.to_networkx(loss)
    assert g.nodes["n0"]["grad_norm"] == np.linalg.norm(W.grad)
    assert g.nodes["n5"]["grad_norm"] is None  # intermediate gradients are not kept


def test_op_attributes_as_text():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    g = al.to_networkx(x.sum(axis=1, keepdims=True))
    assert g.nodes["n1"]["attrs"] == "axis=1, keepdims=True"
    assert g.nodes["n0"]["attrs"] == ""


def test_deep_graph_exports_without_recursion():
    x = Tensor(1.0, requires_grad=True)
    h = x
    for _ in range(5000):
        h = al.tanh(h)
    g = al.to_networkx(h)
    assert g.number_of_nodes() == 5001 and g.number_of_edges() == 5000


def test_graph_of_a_constant_is_a_single_node():
    g = al.to_networkx(Tensor([1.0]) * 2.0)
    assert list(g.nodes) == ["n0"]
    assert g.nodes["n0"]["requires_grad"] is False
