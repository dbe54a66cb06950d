"""Modules, parameters, state dicts, optimizers and gradient clipping."""

import math

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import Tensor
from autograd_lite.nn import Embedding, Linear, Module, Parameter
from autograd_lite.optim import SGD, Adam, clip_grad_norm


class TwoLayer(Module):
    def __init__(self, rng=0, dtype=np.float64):
        rng = np.random.default_rng(rng)
        self.embed = Embedding(5, 3, dtype=dtype, rng=rng)
        self.layers = [Linear(3, 4, dtype=dtype, rng=rng), Linear(4, 2, bias=False, dtype=dtype,
                                                                  rng=rng)]
        self.scale = Parameter(np.ones(2, dtype=dtype), label="scale")

    def forward(self, ids):
        h = self.embed(ids)
        h = al.tanh(self.layers[0](h))
        return self.layers[1](h) * self.scale


def quadratic_step(params):
    """Give every parameter the gradient of sum(p^2) / 2, which is p itself."""
    for p in params:
        p.grad = None
    sum(((p * p).sum() * 0.5 for p in params), Tensor(0.0)).backward()


# -- modules ----------------------------------------------------------------------------------


def test_named_parameters_in_attribute_order_with_dotted_names():
    names = [name for name, _ in TwoLayer().named_parameters()]
    assert names == ["embed.weight", "layers.0.weight", "layers.0.bias", "layers.1.weight",
                     "scale"]
    assert all(p.is_parameter and p.requires_grad for p in TwoLayer().parameters())


def test_shared_parameter_is_listed_once():
    class Tied(Module):
        def __init__(self):
            self.a = Linear(2, 2, rng=0)
            self.b = Linear(2, 2, rng=1)
            self.b.weight = self.a.weight

    assert [n for n, _ in Tied().named_parameters()] == ["a.weight", "a.bias", "b.bias"]


def test_zero_grad_resets_every_parameter():
    model = TwoLayer()
    model(np.array([0, 3])).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_and_eval_reach_submodules():
    model = TwoLayer()
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_state_dict_round_trip():
    model = TwoLayer()
    state = model.state_dict()
    before = {k: v.copy() for k, v in state.items()}
    quadratic_step(model.parameters())
    SGD(model.parameters(), lr=0.5).step()
    assert not np.array_equal(model.layers[0].weight.data, before["layers.0.weight"])
    model.load_state_dict(state)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])
        assert not np.shares_memory(p.data, state[name])  # loaded as a copy


def test_state_dict_values_are_copies():
    model = TwoLayer()
    state = model.state_dict()
    state["scale"][:] = 7.0
    np.testing.assert_array_equal(model.scale.data, [1.0, 1.0])


def test_state_dict_loads_into_a_fresh_model():
    trained, fresh = TwoLayer(rng=0), TwoLayer(rng=1)
    fresh.load_state_dict(trained.state_dict())
    ids = np.array([[1, 2], [4, 0]])
    np.testing.assert_array_equal(fresh(ids).data, trained(ids).data)


@pytest.mark.parametrize("edit, pattern", [
    (lambda s: s.pop("scale"), r"missing \['scale'\], unexpected \[\]"),
    (lambda s: s.update(extra=np.zeros(1)), r"missing \[\], unexpected \['extra'\]"),
    (lambda s: s.update(scale=np.zeros(3)), r"'scale' has shape \(2,\), the state has \(3,\)"),
    (lambda s: s.update(scale=np.zeros(2, np.float32)),
     r"'scale' has dtype float64, the state has float32"),
])
def test_load_state_dict_mismatches(edit, pattern):
    model = TwoLayer()
    state = model.state_dict()
    edit(state)
    before = model.state_dict()
    with pytest.raises(ValueError, match=pattern):
        model.load_state_dict(state)
    for name, p in model.named_parameters():  # nothing was half-loaded
        np.testing.assert_array_equal(p.data, before[name])


def test_parameter_assign_checks_shape():
    p = Parameter(np.zeros(3), label="w")
    with pytest.raises(ValueError, match=r"parameter 'w' has shape \(3,\), got \(2,\)"):
        p.assign(np.zeros(2))


def test_linear_matches_pytorch_layout_and_gradchecks():
    layer = Linear(3, 2, rng=0)
    x = np.array([[1.0, 2.0, -1.0]])
    expected = x @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(layer(x).data, expected)
    bound = 1 / math.sqrt(3)
    assert np.all(np.abs(layer.weight.data) <= bound)
    al.gradcheck(lambda w, b, xx: al.matmul(xx, w.T) + b,
                 [layer.weight.data, layer.bias.data, x])
    assert Linear(3, 2, bias=False, rng=0).bias is None


def test_embedding_gradient_adds_up_repeated_ids():
    emb = Embedding(4, 2, rng=0)
    out = emb(np.array([[1, 1], [3, 1]]))
    assert out.shape == (2, 2, 2)
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad, [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_float32_model_stays_float32():
    model = TwoLayer(dtype=np.float32)
    out = model(np.array([0, 1, 2]))
    assert out.dtype == np.float32
    out.sum().backward()
    for opt in [SGD(model.parameters(), lr=0.1, momentum=0.9), Adam(model.parameters())]:
        opt.step()
    assert all(p.dtype == np.float32 for p in model.parameters())


# -- optimizers -------------------------------------------------------------------------------


def test_sgd_momentum_matches_hand_computation():
    # v <- mu * v + g;  p <- p - lr * v   (g = p here; lr 0.1, mu 0.9)
    # step 1: v = [1, -2]                        p = [0.9, -1.8]
    # step 2: v = 0.9 [1, -2] + [0.9, -1.8]      = [1.8, -3.6];   p = [0.72, -1.44]
    # step 3: v = 0.9 [1.8, -3.6] + [0.72, -1.44] = [2.34, -4.68]; p = [0.486, -0.972]
    p = Parameter([1.0, -2.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    expected = [[0.9, -1.8], [0.72, -1.44], [0.486, -0.972]]
    for want in expected:
        quadratic_step([p])
        opt.step()
        np.testing.assert_allclose(p.data, want, rtol=1e-14)
    np.testing.assert_allclose(opt.velocity[0], [2.34, -4.68], rtol=1e-14)


def test_sgd_without_momentum_is_plain_gradient_descent():
    p = Parameter([1.0, -2.0])
    quadratic_step([p])
    SGD([p], lr=0.25).step()
    np.testing.assert_array_equal(p.data, [0.75, -1.5])


def test_adam_matches_hand_computation():
    # m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  p <- p - lr m^ / (sqrt(v^) + eps)
    # with m^ = m / (1 - b1^t), v^ = v / (1 - b2^t); lr 0.1, betas (0.9, 0.999), eps 1e-8.
    # step 1 (g = [1, -2]): m^ = g, v^ = g^2, so p = p - 0.1 * g / (|g| + 1e-8)
    #   = [1 - 0.1 / (1 + 1e-8), -2 + 0.2 / (2 + 1e-8)] = [0.900000001, -1.9000000005]
    # step 2 (g = p): m = 0.09 g1 + 0.1 g2, v = 0.000999 g1^2 + 0.001 g2^2,
    #   m^ = m / 0.19, v^ = v / 0.001999  ->  p = [0.80041222971..., -1.80016648662...]
    p = Parameter([1.0, -2.0])
    opt = Adam([p], lr=0.1)
    quadratic_step([p])
    opt.step()
    np.testing.assert_allclose(p.data, [0.900000001, -1.9000000005], rtol=1e-15)
    g1, g2 = np.array([1.0, -2.0]), p.data.copy()
    quadratic_step([p])
    opt.step()
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1**2 + 0.001 * g2**2
    by_hand = g2 - 0.1 * (m / 0.19) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8)
    np.testing.assert_allclose(p.data, by_hand, rtol=1e-14)
    np.testing.assert_allclose(p.data, [0.8004122297123382, -1.800166486621093], rtol=1e-12)


def test_optimizer_skips_parameters_without_gradient():
    a, b = Parameter([1.0]), Parameter([2.0])
    (a * 3.0).sum().backward()
    Adam([a, b], lr=0.1).step()
    assert b.data[0] == 2.0 and a.data[0] != 1.0


def test_optimizer_state_dict_round_trip_resumes_identically():
    p = Parameter([1.0, -2.0, 0.5])
    opt = Adam([p], lr=0.05)
    for _ in range(2):
        quadratic_step([p])
        opt.step()
    saved_params, saved_state = p.data.copy(), opt.state_dict()
    quadratic_step([p])
    opt.step()
    expected = p.data.copy()

    q = Parameter(saved_params)
    resumed = Adam([q], lr=0.05)
    resumed.load_state_dict(saved_state)
    quadratic_step([q])
    resumed.step()
    np.testing.assert_array_equal(q.data, expected)


def test_optimizer_argument_errors():
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr must be positive"):
        Adam([Parameter([1.0])], lr=0.0)


# -- gradient clipping ------------------------------------------------------------------------


def with_grads(*grads, dtype=np.float64):
    params = []
    for g in grads:
        p = Parameter(np.zeros(np.shape(g)), dtype=dtype)
        p.grad = np.array(g, dtype=dtype)
        params.append(p)
    return params


def test_clip_returns_pre_clip_norm_and_scales_down():
    params = with_grads([3.0, 4.0], [12.0])  # global norm 13
    norm = clip_grad_norm(params, max_norm=6.5)
    assert norm == 13.0
    after = math.sqrt(sum(float((p.grad**2).sum()) for p in params))
    assert after <= 6.5 and after == pytest.approx(6.5, rel=1e-6)
    np.testing.assert_allclose(params[0].grad / params[1].grad[0], [0.25, 1 / 3])  # direction


def test_clip_leaves_small_gradients_alone():
    params = with_grads([0.3, 0.4])
    assert clip_grad_norm(params, max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(params[0].grad, [0.3, 0.4])


def test_clip_with_zero_gradients_is_safe():
    params = with_grads([0.0, 0.0], [[0.0]])
    with np.errstate(all="raise"):
        assert clip_grad_norm(params, max_norm=1.0) == 0.0
    assert all(np.array_equal(p.grad, np.zeros_like(p.grad)) for p in params)


def test_clip_ignores_parameters_without_gradient():
    params = with_grads([3.0, 4.0]) + [Parameter([1.0])]
    assert clip_grad_norm(params, max_norm=10.0) == 5.0
    assert params[1].grad is None


def test_clip_scales_a_finite_gradient_whose_squares_overflow():
    params = with_grads([3e200, -4e200], [12e200])  # norm 1.3e201; its square is inf
    with np.errstate(over="raise"):
        assert clip_grad_norm(params, max_norm=1.0) == pytest.approx(1.3e201, rel=1e-12)
    after = math.sqrt(sum(float((p.grad**2).sum()) for p in params))
    assert after <= 1.0 and after == pytest.approx(1.0, rel=1e-6)


def test_clip_non_finite_raises_when_asked_and_otherwise_leaves_grads():
    params = with_grads([1.0, np.inf])
    with pytest.raises(FloatingPointError, match="total gradient norm is inf"):
        clip_grad_norm(params, max_norm=1.0, error_if_nonfinite=True)
    assert math.isnan(clip_grad_norm(with_grads([np.nan]), max_norm=1.0))
    assert clip_grad_norm(params, max_norm=1.0) == math.inf
    np.testing.assert_array_equal(params[0].grad, [1.0, np.inf])


def test_clip_float32_large_gradients_keep_dtype_and_finite_norm():
    params = with_grads([3e20, 4e20], dtype=np.float32)  # squares overflow float32
    norm = clip_grad_norm(params, max_norm=1.0, error_if_nonfinite=True)
    assert norm == pytest.approx(5e20, rel=1e-6)
    assert params[0].grad.dtype == np.float32
    np.testing.assert_allclose(params[0].grad, [0.6, 0.8], rtol=1e-5)


def test_parameter_works_with_scalars_and_arrays_on_either_side():
    p = Parameter([1.0, 2.0], label="p")
    results = [p * 3.0, 3.0 * p, p + 1, 1 - p, p / 2.0, 2.0 / p, p**2, p * np.ones(2),
               np.ones(2) - p, al.where(np.array([True, False]), p, 0.0)]
    total = sum(r.sum() for r in results)
    total.backward()
    expected = 3 + 3 + 1 - 1 + 0.5 - 2 / p.data**2 + 2 * p.data + 1 - 1 + np.array([1, 0])
    np.testing.assert_allclose(p.grad, expected)
