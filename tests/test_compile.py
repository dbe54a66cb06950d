"""autograd_lite.compile: a traced step replays the eager step exactly, re-traces when it must,
and refuses what a replay could not repeat."""

import logging
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite import CompileError, CompileWarning, GradientError, ShapeError, Tensor, nn
from autograd_lite.ops import sigmoid, tanh
from rnn.cells import Cell, cat_hx, cell_names, named, unregister
from rnn.layers import make_layer


@pytest.fixture(scope="module")
def registered():
    """A cell registered only while these tests run, to check that any cell compiles."""

    class DampedCell(Cell):
        name = "test-damped"
        PARAMS = (("W", "hx"), ("b", None), ("p", None))

        def forward(self, x, h=None):
            x = self._input(x)
            (h_prev,) = self.states(x, h)
            d = named(sigmoid(self.p * h_prev), "d_t")
            return named(d * h_prev + (1 - d) * tanh(cat_hx(h_prev, x) @ self.W + self.b),
                         "h_t")

    yield DampedCell
    unregister("test-damped")


def _model(cell, D, H, V, dtype=np.float64, fused=False):
    layer = make_layer(cell, D, H, fused=fused, dtype=dtype, rng=0)
    decoder = nn.Linear(H, V, dtype=dtype, rng=1)

    def loss_fn(x, targets):
        outputs, _ = layer(x)
        return al.cross_entropy(decoder(outputs), targets)

    return loss_fn, layer.parameters() + decoder.parameters()


def _loss_and_grads(fn, params, *args):
    for p in params:
        p.grad = None
    loss = fn(*args)
    loss.backward()
    return loss.item(), [p.grad.copy() for p in params]


def _same(eager, compiled, exact):
    (le, ge), (lc, gc) = eager, compiled
    if exact:
        assert le == lc and all(np.array_equal(a, b) for a, b in zip(ge, gc))
    else:
        np.testing.assert_allclose(lc, le, rtol=1e-12, atol=1e-12)
        for a, b in zip(ge, gc):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


# -- equivalence --------------------------------------------------------------------------


@settings(max_examples=6, deadline=None)
@given(T=st.integers(1, 4), B=st.integers(1, 3), D=st.integers(1, 4), H=st.integers(1, 4),
       seed=st.integers(0, 2**16), exact=st.booleans())
def test_compiled_step_equals_eager_step_for_every_cell(registered, T, B, D, H, seed, exact):
    rng = np.random.default_rng(seed)
    for cell in cell_names():
        fn, params = _model(cell, D, H, V=3)
        step = al.compile(fn, exact=exact)
        x, t = rng.standard_normal((T, B, D)), rng.integers(0, 3, (T, B))
        # exact: the same ops in the same order, so the same bits; else within 1e-12
        _same(_loss_and_grads(fn, params, Tensor(x), t), _loss_and_grads(step, params, x, t),
              exact=exact)


@pytest.mark.parametrize("fused", [True, False])
def test_compiled_training_follows_eager_training(fused):
    runs = []
    for compiled in (False, True):
        fn, params = _model("lstm", 3, 5, 4, fused=fused)
        step = al.compile(fn, exact=True) if compiled else fn
        opt = al.optim.SGD(params, lr=0.5)
        rng = np.random.default_rng(0)
        losses = []
        for _ in range(4):  # new arguments and new parameter values at every call
            x, t = rng.standard_normal((6, 2, 3)), rng.integers(0, 4, (6, 2))
            opt.zero_grad()
            loss = step(Tensor(x), t)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs.append(losses)
    assert runs[0] == runs[1]


def test_float32_compiled_step_stays_float32_and_close():
    fn, params = _model("gru", 3, 4, 5, dtype=np.float32)
    step = al.compile(fn)
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    t = np.zeros((4, 2), dtype=np.int64)
    le, ge = _loss_and_grads(fn, params, Tensor(x), t)
    lc, gc = _loss_and_grads(step, params, x, t)
    assert step(x, t).dtype == np.float32 and all(g.dtype == np.float32 for g in gc)
    np.testing.assert_allclose(lc, le, rtol=1e-6)
    for a, b in zip(ge, gc):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_gradients_reach_arguments_that_require_grad():
    W = nn.Parameter(np.arange(6.0).reshape(2, 3))
    step = al.compile(lambda x, y: (al.tanh(x @ W) * y).sum())
    x = Tensor(np.ones((4, 2)), requires_grad=True)
    y = Tensor(np.full((4, 3), 0.5), requires_grad=True)
    step(x, y).backward()
    gx, gy, gW = x.grad, y.grad, W.grad
    x.grad = y.grad = W.grad = None
    (al.tanh(x @ W) * y).sum().backward()
    assert np.array_equal(gx, x.grad) and np.array_equal(gy, y.grad)
    assert np.array_equal(gW, W.grad)


def test_gradients_flow_on_into_an_outer_eager_graph():
    W = nn.Parameter(np.array([[1.0, -2.0], [0.5, 3.0]]))
    step = al.compile(lambda h, *, scale: (al.tanh(h @ W) * scale).sum())
    x = Tensor(np.array([[0.1, 0.2], [0.3, -0.4]]), requires_grad=True)
    h = al.sigmoid(x * 2.0)  # not a leaf: the compiled call's gradient goes on through it
    step(h, scale=3.0).backward()
    compiled = (x.grad.copy(), W.grad.copy())
    x.grad = W.grad = None
    (al.tanh(al.sigmoid(x * 2.0) @ W) * 3.0).sum().backward()
    np.testing.assert_allclose(compiled[0], x.grad, rtol=1e-12)
    np.testing.assert_allclose(compiled[1], W.grad, rtol=1e-12)


def test_nested_arguments_and_returning_an_argument():
    step = al.compile(lambda pair, opts: (pair[0] * pair[1] + opts["bias"], pair[0]))
    a, b = Tensor(np.array([1.0, 2.0])), np.array([3.0, 4.0])
    out, same = step((a, b), {"bias": np.array(0.5)})
    assert out.data.tolist() == [3.5, 8.5] and same is a


def test_several_outputs_each_carry_gradient():
    W = nn.Parameter(np.array([[0.5, -1.0], [2.0, 0.25]]))

    def f(x):
        h = al.tanh(x @ W)
        return h.sum(), (h * h, {"last": h[-1]})

    step = al.compile(f)
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    loss, (sq, parts) = step(x)
    (loss + sq.sum() + 3.0 * parts["last"].sum()).backward()
    compiled = W.grad.copy()
    W.grad = None
    loss, (sq, parts) = f(Tensor(x))
    (loss + sq.sum() + 3.0 * parts["last"].sum()).backward()
    np.testing.assert_array_equal(compiled, W.grad)


def test_a_fused_kernel_runs_inside_a_compiled_function():
    fn, params = _model("lstm", 2, 3, 4, fused=True)
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((5, 2, 2)), rng.integers(0, 4, (5, 2))
    for exact in (True, False):
        step = al.compile(fn, exact=exact)
        _same(_loss_and_grads(fn, params, Tensor(x), t), _loss_and_grads(step, params, x, t),
              exact=exact)
    assert any(ins.op.saves for ins in step.program.instrs)


def test_outputs_that_need_no_gradient_and_no_grad_calls():
    W = nn.Parameter(np.ones((2, 2)))
    step = al.compile(lambda x: (x @ W).sum())
    with al.no_grad():
        out = step(np.ones((3, 2)))
    assert not out.requires_grad and out.item() == 12.0
    assert step(np.ones((3, 2))).requires_grad  # grad mode is part of the signature
    assert step.traces == 2


# -- guards: what re-traces, and what does not --------------------------------------------


def test_a_new_shape_retraces_with_a_debug_line(caplog):
    step = al.compile(lambda x: (x * 2.0).sum())
    with caplog.at_level(logging.DEBUG, logger="autograd_lite.compile"):
        step(np.ones(3))
        step(np.ones(3) * 5)
        step(np.ones(4))
    assert step.traces == 2
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "first call" in lines[0] and "(4,) float64" in lines[1]


def test_a_parameter_that_stops_requiring_grad_retraces():
    W = nn.Parameter(np.ones((2, 2)), label="W")
    step = al.compile(lambda x: (x @ W).sum())
    step(np.ones((1, 2))).backward()
    W.requires_grad = False
    out = step(np.ones((1, 2)))
    assert step.traces == 2 and not out.requires_grad


def test_the_cache_is_bounded_and_warns_when_it_keeps_retracing():
    step = al.compile(lambda x: x.sum(), cache_size=2)
    step(np.ones(1))
    step(np.ones(2))
    with pytest.warns(CompileWarning, match="traced 3 times"):
        step(np.ones(3))
    step(np.ones(4))  # (warned once)
    assert len(step.programs) == 2 and step.traces == 4


def test_python_numbers_are_part_of_the_signature():
    step = al.compile(lambda x, scale: (x * scale).sum())
    assert step(np.ones(2), 2.0).item() == 4.0
    assert step(np.ones(2), 3.0).item() == 6.0
    assert step.traces == 2


# -- refusals: a replay never silently differs from the eager function --------------------


@pytest.mark.parametrize("body, what", [
    (lambda h: h * (2.0 if h.sum().item() > 0 else 1.0), r"item\(\)"),
    (lambda h: h * float(h.data.max()), r"through data"),
    (lambda h: al.where(h > 0, h, 0.0), "a comparison"),
    (lambda h: h * np.asarray(h).mean(), r"np\.asarray"),
])
def test_reading_a_traced_value_names_the_line(body, what):
    W = nn.Parameter(np.ones((2, 2)))
    step = al.compile(lambda x: body(x @ W).sum())
    with pytest.raises(CompileError, match=rf"reads the values of .*{what}.* at "
                                           rf"test_compile\.py:\d+"):
        step(np.ones((1, 2)))


def test_truth_value_is_refused_inside_as_outside():
    step = al.compile(lambda x: x if x.sum() else -x)
    with pytest.raises(TypeError, match="truth value of a Tensor is not defined"):
        step(np.ones(2))


def test_backward_and_parameter_updates_inside_are_refused():
    W = nn.Parameter(np.ones(2), label="W")

    def trains(x):
        loss = (x * W).sum()
        loss.backward()
        return loss

    def updates(x):
        W.sub_(np.ones(2))
        return (x * W).sum()

    with pytest.raises(CompileError, match=r"calls backward\(\) at test_compile\.py"):
        al.compile(trains)(np.ones(2))
    with pytest.raises(CompileError, match=r"changes the values of 'W'"):
        al.compile(updates)(np.ones(2))


def test_a_function_that_returns_no_tensor_is_refused():
    with pytest.raises(CompileError, match="returns no tensor"):
        al.compile(lambda x: 3)(np.ones(2))


def test_a_copy_of_an_arguments_values_is_replayed_not_captured():
    W = nn.Parameter(np.ones((2, 2)))
    step = al.compile(lambda x: (Tensor(x, dtype=np.float32) * 2.0).sum() + (x @ W).sum())
    assert step(np.ones((3, 2))).item() == 24.0 and step(np.full((3, 2), 2.0)).item() == 48.0
    with pytest.raises(CompileError, match="makes a tensor that requires grad from"):
        al.compile(lambda x: (Tensor(x, requires_grad=True) * x).sum())(np.ones(2))


def test_constants_made_inside_are_captured_once():
    # Documented: values made inside the function are fixed at the trace.
    step = al.compile(lambda x: (x * Tensor(np.arange(2.0))).sum())
    assert step(np.ones(2)).item() == 1.0 and step(np.full(2, 2.0)).item() == 2.0


def test_an_op_check_still_runs_at_replay():
    step = al.compile(lambda z, t: al.cross_entropy(z, t))
    step(np.zeros((2, 3)), np.array([0, 2]))
    with pytest.raises(ShapeError, match=r"targets must lie in \[0, 3\), got \[0, 3\]"):
        step(np.zeros((2, 3)), np.array([0, 3]))


def test_a_compiled_program_cannot_be_differentiated_twice_but_runs_eagerly_inside_grad():
    step = al.compile(lambda x: (x * x * x).sum())
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(GradientError, match="cannot be differentiated twice"):
        step(x).backward(create_graph=True)
    second = al.grad(lambda y: al.grad(step)(y).sum())(np.array([1.0, 2.0]))
    np.testing.assert_allclose(second, 6 * np.array([1.0, 2.0]))


@pytest.mark.parametrize("exact", [True, False])
def test_backward_twice_needs_retain_graph_and_buffers_are_reused(exact):
    step = al.compile(lambda x: (al.tanh(x) * 3.0).sum(), exact=exact)
    x = Tensor(np.ones(3), requires_grad=True)
    loss = step(x)
    loss.backward(retain_graph=True)
    if exact:  # the same rules as eager: the forward's values are still there
        loss.backward()
        np.testing.assert_allclose(x.grad, 6 * (1 - np.tanh(1.0) ** 2))
        with pytest.raises(GradientError, match="freed by an earlier backward"):
            loss.backward()
    else:  # its backward wrote over the forward's buffers: refused, never wrong
        with pytest.raises(GradientError, match="runs backward once per call; compile "
                                                "with exact=True"):
            loss.backward()
    del loss
    assert len(step.program.idle) == 1  # the run's buffers went back to the program


def test_two_live_calls_do_not_share_buffers():
    step = al.compile(lambda x: (al.tanh(x) * x).sum())
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.full(2, 3.0), requires_grad=True)
    la, lb = step(a), step(b)  # both graphs alive: the second call gets its own buffers
    la.backward()
    lb.backward()
    np.testing.assert_allclose(a.grad, np.tanh(1.0) + (1 - np.tanh(1.0) ** 2))
    np.testing.assert_allclose(b.grad, np.tanh(3.0) + 3 * (1 - np.tanh(3.0) ** 2))


# -- drawing ------------------------------------------------------------------------------


def test_a_compiled_program_is_drawable_like_an_eager_graph():
    fn, _ = _model("lstm", 2, 3, 4)
    step = al.compile(fn)
    with pytest.raises(ValueError, match="has not been called yet"):
        al.to_networkx(step)
    step(np.zeros((2, 1, 2)), np.zeros((2, 1), dtype=np.int64))
    g = al.to_networkx(step)
    labels = {g.nodes[n]["label"] for n in g.nodes}
    ops = {g.nodes[n]["op"] for n in g.nodes}
    assert {"f_t", "c_t", "h_t"} <= labels and {"matmul", "sigmoid", "pick"} <= ops
    params = [n for n in g.nodes if g.nodes[n]["is_parameter"]]
    assert len(params) == 10 and all(g.nodes[n]["requires_grad"] for n in params)
    assert sum(g.nodes[n]["is_output"] for n in g.nodes) == 1


def test_warnings_are_not_raised_for_a_steady_signature():
    step = al.compile(lambda x: x.sum(), cache_size=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(5):
            step(np.ones(2))
