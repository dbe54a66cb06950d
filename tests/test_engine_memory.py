"""Memory: a node keeps only the arrays its rule reads, and backward lets them go."""

import tracemalloc
import weakref

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import GradientError, Tensor
from autograd_lite.backward import FREED
from autograd_lite.table import OPS


def leaf(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_every_op_declares_what_its_rule_reads():
    assert all(op.needs in ("inputs", "output", "both", "none") for op in OPS.values())
    assert OPS["tanh"].needs == OPS["sigmoid"].needs == OPS["exp"].needs == "output"
    assert OPS["add"].needs == OPS["sub"].needs == OPS["concat"].needs == "none"
    assert OPS["reshape"].needs == "none" and OPS["mul"].needs == OPS["matmul"].needs == "inputs"


def test_a_node_keeps_only_what_its_rule_reads():
    x, W = leaf(3, 4), leaf(4, 5, seed=1)
    a = x @ W  # keeps x and W
    z = a + 1.0  # keeps nothing
    y = al.tanh(z)  # keeps its output
    assert a.node.input_data[0] is x.data and a.node.output is None
    assert z.node.input_data is None and z.node.output is None
    assert y.node.input_data is None and y.node.output is y.data


def test_an_intermediate_no_rule_reads_is_freed_at_once():
    x, W = leaf(30, 40), leaf(40, 50, seed=1)
    a = x @ W
    ref = weakref.ref(a.data)
    y = al.tanh(a + 1.0)
    del a
    assert ref() is None  # neither add nor tanh needs the product's values
    y.sum().backward()
    assert x.grad.shape == (30, 40)


def test_backward_frees_the_kept_arrays_unless_the_graph_is_retained():
    x = leaf(5)
    y = al.sigmoid(x * 2.0)
    out = y.node.output
    ref = weakref.ref(out)
    del out
    y.sum().backward(retain_graph=True)
    assert y.node.output is not None and y.node.input_data is not FREED
    loss = y.sum()
    node = y.node
    del y
    loss.backward()
    assert node.input_data is FREED and node.output is None and ref() is None
    with pytest.raises(GradientError, match="freed by an earlier backward pass"):
        loss.backward()


def test_a_freed_graph_still_draws_but_unkept_values_say_why_they_are_gone():
    x = leaf(2, 3)
    loss = (al.tanh(x @ leaf(3, 3, seed=2)) + 1.0).sum()
    loss.backward()
    g = al.to_networkx(loss)  # x, W, matmul, tanh, 1.0, add, sum
    assert g.number_of_nodes() == 7
    assert [g.nodes[n]["shape"] for n in g.nodes] == [(2, 3), (3, 3), (2, 3), (2, 3), (),
                                                      (2, 3), ()]
    (add,) = loss.parents
    product = add.parents[0].parents[0]
    assert product.op == "matmul" and product.shape == (2, 3)
    with pytest.raises(GradientError, match=r"'matmul' \(2, 3\): its values were not kept"):
        _ = product.data  # no rule reads the product


def test_retain_grad_reaches_parents_seen_through_the_graph():
    x = leaf(4)
    h = al.tanh(x)
    out = al.stack([h * 2.0, h * 3.0])
    parts = list(out.parents)  # their tensors were never held: they stand in for the nodes
    del h
    out.sum().backward(retain_grad=True)
    assert [p.grad.tolist() for p in parts] == [[1.0] * 4, [1.0] * 4]


def test_a_labelled_value_stays_readable_through_the_graph_and_walks_meet_the_same_parents():
    x = leaf(2, 3)
    product = x @ leaf(3, 3, seed=2)  # no rule reads it: only its label keeps it
    product.label = "z"
    expected = product.data.copy()
    loss = (product + 1.0).sum()
    del product
    (add,) = loss.parents
    assert add.parents is add.parents and add.parents[0].label == "z"
    np.testing.assert_array_equal(add.parents[0].data, expected)


def _peak_of_unrolled_chain(steps=40, n=20_000):
    x = Tensor(np.linspace(-1, 1, n), requires_grad=True)
    w = Tensor(np.full(n, 0.5), requires_grad=True)
    tracemalloc.start()
    h = x
    for _ in range(steps):
        h = al.tanh(h * w + 0.1)  # mul keeps h and w; add keeps nothing; tanh its output
    h.sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / (n * 8)  # in arrays of the chain's size


def test_peak_memory_is_what_the_rules_read():
    # Per step, the product (no rule reads it) is freed at once: about one kept array per
    # step (tanh's output, which the next mul also reads), not three.
    assert _peak_of_unrolled_chain() < 1.5 * 40


def test_compiled_step_frees_its_run_after_backward():
    W = al.nn.Parameter(np.ones((3, 3)))
    step = al.compile(lambda x: al.tanh(x @ W).sum())
    loss = step(np.ones((2, 3)))
    assert loss.node.saved is not None and step.program.idle == []  # the run holds its frame
    loss.backward()
    assert loss.node.saved is None and len(step.program.idle) == 1
