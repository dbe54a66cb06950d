"""Every primitive's gradient against central differences, over hypothesis-drawn shapes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_lite as al
from autograd_lite import Tensor, ops
from autograd_lite.tensor import backprop
from autograd_lite.testing import cases

SETTINGS = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, max_side=3)


def broadcastable(n):
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=3, max_side=3)


def normal(rng, shape):
    return rng.uniform(-2.0, 2.0, shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng, shape):
    """Magnitudes in [0.3, 2]: in the domain of 1/x and away from relu's kink."""
    return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(rng, shape):
    """Values at least 0.1 apart, so max has no ties (a tie is a kink)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) / 10.0 - 1.0).reshape(shape)


def check(fn, *arrays, wrt=None):
    """gradcheck `fn`, then check that ordinary backward gives grads shaped like the leaves."""
    al.gradcheck(fn, list(arrays))
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    outs = out if isinstance(out, (list, tuple)) else [out]
    for o in outs:
        if o.requires_grad:
            o.backward(np.ones(o.shape))
    for k, leaf in enumerate(leaves):
        if wrt is None or k in wrt:
            assert leaf.grad is not None
            assert leaf.grad.shape == leaf.shape
            assert leaf.grad.dtype == leaf.dtype


# -- pointwise ops over broadcastable shapes ------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, normal, normal),
    "sub": (lambda a, b: a - b, normal, normal),
    "mul": (lambda a, b: a * b, normal, normal),
    "div": (lambda a, b: a / b, normal, away_from_zero),
    "pow_tensor": (lambda a, b: a**b, positive, normal),
}


@pytest.mark.parametrize("name", BINARY)
@SETTINGS
@given(shapes=broadcastable(2), seed=seeds)
def test_binary_op_gradients_broadcast(name, shapes, seed):
    fn, dom_a, dom_b = BINARY[name]
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    check(fn, dom_a(rng, a_shape), dom_b(rng, b_shape))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow_tensor"])
def test_binary_op_with_array_and_scalar_constants(name):
    fn, dom_a, dom_b = BINARY[name]
    rng = np.random.default_rng(1)
    a, b = dom_a(rng, (2, 3)), dom_b(rng, (3,))
    check(lambda x: fn(x, b), a)  # ndarray constant on the right
    check(lambda y: fn(a, y), b)  # ndarray constant on the left (reflected operator)
    check(lambda x: fn(x, 1.5), a)  # Python scalar


UNARY = {
    "neg": (lambda a: -a, normal),
    "exp": (al.exp, normal),
    "log": (al.log, positive),
    "sigmoid": (al.sigmoid, normal),
    "tanh": (al.tanh, normal),
    "relu": (al.relu, away_from_zero),
}


@pytest.mark.parametrize("name", UNARY)
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_unary_op_gradients(name, shape, seed):
    fn, domain = UNARY[name]
    check(fn, domain(np.random.default_rng(seed), shape))


@SETTINGS
@given(shape=shapes, seed=seeds, p=st.sampled_from([2, 3, -1, 0.5, -1.5, 1.7]))
def test_pow_constant_exponent_gradient(shape, seed, p):
    rng = np.random.default_rng(seed)
    base = positive(rng, shape) if isinstance(p, float) else away_from_zero(rng, shape)
    check(lambda a: a**p, base)


def test_rpow_scalar_base_gradient():
    check(lambda b: 2.0**b, np.array([-1.0, 0.5, 2.0]))


@SETTINGS
@given(shapes=broadcastable(3), seed=seeds)
def test_where_gradients_broadcast(shapes, seed):
    rng = np.random.default_rng(seed)
    c_shape, a_shape, b_shape = shapes.input_shapes
    cond = rng.random(c_shape) > 0.5
    check(lambda a, b: al.where(cond, a, b), normal(rng, a_shape), normal(rng, b_shape))


# -- matmul -----------------------------------------------------------------------------------


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2,
                                                max_side=3), seed=seeds)
def test_matmul_gradients_all_operand_ranks(shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    check(al.matmul, normal(rng, a_shape), normal(rng, b_shape))


def test_matmul_operator_and_reflected():
    rng = np.random.default_rng(2)
    a, b = normal(rng, (2, 3)), normal(rng, (3, 4))
    check(lambda x, y: x @ y, a, b)
    check(lambda y: a @ y, b)


# -- reductions -------------------------------------------------------------------------------


def axes_for(ndim):
    """None, a single (possibly negative) axis, or a tuple of axes."""
    if ndim == 0:
        return st.none()
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1), hnp.valid_tuple_axes(ndim))


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@SETTINGS
@given(data=st.data(), shape=shapes, seed=seeds, keepdims=st.booleans())
def test_reduction_gradients(name, data, shape, seed, keepdims):
    axis = data.draw(axes_for(len(shape)), label="axis")
    rng = np.random.default_rng(seed)
    x = distinct(rng, shape) if name == "max" else normal(rng, shape)
    check(lambda a: getattr(a, name)(axis=axis, keepdims=keepdims), x)


def test_max_ties_share_the_gradient():
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5, 0.0])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_softmax_family_gradients(name, data, shape, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    fn = getattr(al, name)
    check(lambda a: fn(a, axis=axis), normal(np.random.default_rng(seed), shape))


@SETTINGS
@given(data=st.data(), shape=shapes, seed=seeds, keepdims=st.booleans())
def test_logsumexp_gradient_axis_none_or_tuple(data, shape, seed, keepdims):
    axis = data.draw(st.one_of(st.none(), hnp.valid_tuple_axes(len(shape), min_size=1))
                     if shape else st.none(), label="axis")
    check(lambda a: al.logsumexp(a, axis=axis, keepdims=keepdims),
          normal(np.random.default_rng(seed), shape))


# -- shape ops --------------------------------------------------------------------------------


@SETTINGS
@given(shape=shapes, seed=seeds, how=st.sampled_from(["flat", "-1", "reversed", "lead1"]))
def test_reshape_gradient(shape, seed, how):
    size = int(np.prod(shape))
    target = {"flat": (size,), "-1": -1, "reversed": tuple(reversed(shape)),
              "lead1": (1, *shape)}[how]
    check(lambda a: a.reshape(target), normal(np.random.default_rng(seed), shape))


@SETTINGS
@given(data=st.data(), shape=shapes, seed=seeds)
def test_transpose_gradient_any_permutation(data, shape, seed):
    ndim = len(shape)
    perm = data.draw(st.permutations(range(ndim)), label="perm")
    negative = data.draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim), label="neg")
    axes = tuple(a - ndim if n else a for a, n in zip(perm, negative))  # negative axes too
    check(lambda a: al.transpose(a, axes), normal(np.random.default_rng(seed), shape))


def test_T_property_gradient():
    check(lambda a: a.T, np.arange(6.0).reshape(2, 3))


@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_getitem_basic_index_gradient(data, shape, seed):
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True), label="index")
    check(lambda a: a[index], normal(np.random.default_rng(seed), shape))


@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_getitem_integer_array_index_gradient_with_repeats(data, shape, seed):
    index = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(
        min_dims=1, max_dims=2, max_side=4)), label="index")
    check(lambda a: a[index], normal(np.random.default_rng(seed), shape))


@SETTINGS
@given(shape=nonscalar_shapes, seed=seeds)
def test_getitem_boolean_mask_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) > 0.5
    check(lambda a: a[mask], normal(rng, shape))


@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_scatter_gradient(data, shape, seed):
    index = data.draw(hnp.integer_array_indices(shape), label="index")
    rng = np.random.default_rng(seed)
    g = normal(rng, np.zeros(shape)[index].shape)
    check(lambda v: ops.apply(ops.SCATTER, v, shape=shape, index=index), g)


@st.composite
def broadcast_pair(draw):
    """(small, big): `small` broadcasts to `big` (fewer dims and/or size-1 axes)."""
    big = draw(shapes)
    keep = draw(st.lists(st.booleans(), min_size=len(big), max_size=len(big)))
    small = tuple(d if k else 1 for d, k in zip(big, keep))
    drop = draw(st.integers(0, len(big)))
    return small[drop:], big


@SETTINGS
@given(pair=broadcast_pair(), seed=seeds)
def test_broadcast_to_gradient(pair, seed):
    small, big = pair
    check(lambda a: al.broadcast_to(a, big), normal(np.random.default_rng(seed), small))


@SETTINGS
@given(pair=broadcast_pair(), seed=seeds)
def test_sum_to_gradient(pair, seed):
    small, big = pair
    check(lambda a: ops.sum_to(a, small), normal(np.random.default_rng(seed), big))


def test_astype_gradient_float64():
    check(lambda a: a.astype(np.float64), np.array([[1.0, -2.0], [0.5, 3.0]]))


@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds, n=st.integers(1, 3))
def test_concat_gradient(data, shape, seed, n):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    rng = np.random.default_rng(seed)
    arrays = []
    for _ in range(n):
        s = list(shape)
        s[axis] = data.draw(st.integers(1, 3), label="size along axis")
        arrays.append(normal(rng, tuple(s)))
    check(lambda *xs: al.concat(xs, axis=axis), *arrays)


@SETTINGS
@given(data=st.data(), shape=shapes, seed=seeds, n=st.integers(1, 3))
def test_stack_gradient(data, shape, seed, n):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)), label="axis")
    rng = np.random.default_rng(seed)
    check(lambda *xs: al.stack(xs, axis=axis), *[normal(rng, shape) for _ in range(n)])


@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_split_gradient(data, shape, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    size = shape[axis]
    sections = data.draw(st.sampled_from([k for k in range(1, size + 1) if size % k == 0]))
    check(lambda a: tuple(al.split(a, sections, axis=axis)),
          normal(np.random.default_rng(seed), shape))


def test_split_at_indices_gradient():
    check(lambda a: tuple(al.split(a, [1, 3], axis=1)), np.arange(10.0).reshape(2, 5))


# -- lookups and losses -----------------------------------------------------------------------


@SETTINGS
@given(ids_shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=4), seed=seeds,
       rows=st.integers(1, 4), dim=st.integers(1, 3))
def test_embedding_gradient_with_repeated_ids(ids_shape, seed, rows, dim):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, rows, ids_shape)
    check(lambda w: al.embedding(w, ids), normal(rng, (rows, dim)))


@SETTINGS
@given(batch=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), classes=st.integers(1, 4),
       seed=seeds)
def test_pick_gradient(batch, classes, seed):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, batch)
    check(lambda z: al.pick(z, targets), normal(rng, (*batch, classes)))


@SETTINGS
@given(batch=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), classes=st.integers(1, 4),
       seed=seeds, reduction=st.sampled_from(["mean", "sum"]))
def test_cross_entropy_gradient(batch, classes, seed, reduction):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, batch)
    check(lambda z: al.cross_entropy(z, targets, reduction=reduction),
          normal(rng, (*batch, classes)))


def test_cross_entropy_matches_definition():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]])
    targets = np.array([0, 1])
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -logp[[0, 1], targets]
    assert al.cross_entropy(Tensor(logits), targets).item() == pytest.approx(expected.mean())
    total = al.cross_entropy(Tensor(logits), targets, reduction="sum").item()
    assert total == pytest.approx(expected.sum())


@SETTINGS
@given(shape=shapes, seed=seeds, reduction=st.sampled_from(["mean", "sum"]))
def test_mse_gradient(shape, seed, reduction):
    rng = np.random.default_rng(seed)
    check(lambda p, t: al.mse(p, t, reduction=reduction), normal(rng, shape), normal(rng, shape))


# -- properties of every rule -------------------------------------------------------------


def _engine_ops():
    return {v.name for v in vars(ops).values() if isinstance(v, ops.Op)}


def test_every_engine_op_is_gradchecked_here():
    tested = {*BINARY, *UNARY, "pow", "where", "matmul", "sum", "mean", "max", "softmax",
              "log_softmax", "logsumexp", "reshape", "transpose", "getitem", "scatter",
              "broadcast_to", "sum_to", "astype", "concat", "stack", "embedding", "pick"}
    assert _engine_ops() <= set(al.OPS)
    assert _engine_ops() - tested == set()


CASES = cases()  # the CLI's representative float64 inputs: one or more per primitive


def _case_id(case):
    return f"{case[0]}:{case[1]}"


def _run(fn, arrays, upstream_scale=1.0, seed=0):
    """Leaves, output and returned gradients for one case with a random upstream gradient."""
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    upstream = np.random.default_rng(seed).standard_normal(out.shape) * upstream_scale
    return leaves, out, upstream


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_upstream_gradient_zero_gives_exact_zero(case):
    _, _, fn, arrays = case
    leaves, out, _ = _run(fn, arrays)
    out.backward(np.zeros(out.shape))
    for leaf in leaves:
        assert np.array_equal(leaf.grad, np.zeros(leaf.shape))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_upstream_gradient_doubled_gives_exactly_twice(case):
    _, _, fn, arrays = case
    leaves, out, g = _run(fn, arrays)
    out.backward(g)
    once = [leaf.grad for leaf in leaves]
    leaves, out, _ = _run(fn, arrays)
    out.backward(2 * g)
    for leaf, ref in zip(leaves, once):
        assert np.array_equal(leaf.grad, 2 * ref)  # scaling by 2 is exact in binary


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_backward_mutates_nothing_and_grads_do_not_alias(case):
    _, _, fn, arrays = case
    arrays = [a.copy() for a in arrays]
    kept = [a.copy() for a in arrays]
    leaves, out, g = _run(fn, arrays)
    out_before, g_before = out.data.copy(), g.copy()
    out.backward(g, retain_grad=True)
    for a, k, leaf in zip(arrays, kept, leaves):
        assert np.array_equal(a, k) and np.array_equal(leaf.data, k)
    assert np.array_equal(out.data, out_before)
    assert np.array_equal(g, g_before)
    grads = [leaf.grad for leaf in leaves] + [out.grad]
    for i, gi in enumerate(grads):
        assert not np.shares_memory(gi, g)
        for leaf in leaves:
            assert not np.shares_memory(gi, leaf.data)
        for gj in grads[i + 1:]:
            assert not np.shares_memory(gi, gj)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_float32_stays_float32_through_forward_and_every_gradient(case):
    _, _, fn, arrays = case
    leaves = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    if case[0] == "astype":
        out = leaves[0].astype(np.float32)
    else:
        out = fn(*leaves)
    assert out.dtype == np.float32
    grads = backprop([out], [np.ones(out.shape, np.float32)], inputs=leaves)
    for leaf, gr in zip(leaves, grads):
        assert gr.dtype == np.float32, f"{case[0]}: gradient of {leaf.shape} is {gr.dtype}"
