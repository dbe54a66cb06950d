"""Gradient flow measured by rnn.inspect: connectivity against finite differences and PyTorch,
per-step contributions that sum to the gradient, and the Jacobian chain on closed-form cases."""

import numpy as np
import pytest

from autograd_lite.tensor import Tensor, no_grad
from rnn.cells import Cell, cat_hx, named, unregister
from rnn.data import Vocab
from rnn.experiment import LongTermConfig, run_one
from rnn.inspect import connectivity, contributions, jacobian_chain, step_jacobians
from rnn.inspect.activations import state_sequence
from rnn.layers import make_layer
from rnn.reports import trained_chains, write_reports
from rnn.training import CharModel, RegressionModel

EPS = 1e-6


def close(analytic, numeric):
    """TESTING.md's gradient tolerance: 1e-7 absolute plus 1e-5 relative."""
    assert np.all(np.abs(analytic - numeric) <= 1e-7 + 1e-5 * np.abs(numeric)), \
        np.max(np.abs(analytic - numeric))


def layer_outputs(layer, x):
    with no_grad():
        return layer(Tensor(x[:, None, :]))[0].data[:, 0]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_connectivity_matches_finite_differences(cell):
    rng = np.random.default_rng(0)
    model = RegressionModel(2, 3, cell, num_layers=2, rng=1)
    x = rng.normal(size=(6, 2))
    conn = connectivity(model, x)
    numeric = np.zeros_like(conn.jacobian)
    for s in range(6):
        for d in range(2):
            up, down = x.copy(), x.copy()
            up[s, d] += EPS
            down[s, d] -= EPS
            numeric[:, :, s, d] = (layer_outputs(model.layer, up)
                                   - layer_outputs(model.layer, down)) / (2 * EPS)
    close(conn.jacobian, numeric)
    assert np.all(np.triu(conn.matrix, 1) == 0) and np.all(np.diag(conn.matrix) > 0)
    by_lag = conn.by_lag()
    assert by_lag[5, 5] == conn.matrix[5, 0] and np.isnan(by_lag[0, 1])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_connectivity_matches_torch_autograd(cell):
    torch = pytest.importorskip("torch")
    from rnn.interop import to_torch

    layer = make_layer(cell, 3, 4, rng=2)
    x = np.random.default_rng(1).normal(size=(7, 3))
    ours = connectivity(layer, x).jacobian
    module = to_torch(layer).double()
    jac = torch.autograd.functional.jacobian(
        lambda xt: module(xt[:, None, :])[0][:, 0], torch.tensor(x))
    np.testing.assert_allclose(ours, jac.numpy(), rtol=1e-10, atol=1e-12)


def test_connectivity_of_a_character_model_reads_ids():
    vocab = Vocab.from_text("abc ")
    model = CharModel(len(vocab), 5, "lstm", embedding_dim=3, rng=0)
    conn = connectivity(model, vocab.encode("abc ab"))
    assert conn.jacobian.shape == (6, 5, 6, 3) and conn.matrix.shape == (6, 6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "mgu"])
def test_per_step_contributions_sum_to_the_full_gradient(cell):
    vocab = Vocab.from_text("hello world")
    model = CharModel(len(vocab), 5, cell, num_layers=2, rng=3)
    ids = vocab.encode("hello world")
    contrib = contributions(model, ids[:-1], ids[1:])
    assert set(contrib.names) == {f"l{k}/{p}" for k in range(2) for p, _ in
                                  model.layer.cells[0].PARAMS}
    for name in contrib.names:
        terms = contrib.per_step[name]
        assert terms.shape == (10, *contrib.full[name].shape)
        np.testing.assert_allclose(terms.sum(axis=0), contrib.full[name], rtol=0, atol=1e-10)
        # an honest split: many steps contribute, and no single one carries it all
        assert np.count_nonzero(np.abs(terms).reshape(10, -1).max(axis=1) > 1e-12) >= 9
    assert contrib.max_sum_error() < 1e-10
    assert contrib.norms().shape == (len(contrib.names), 10)


def test_contributions_of_a_regression_model_and_its_loss():
    rng = np.random.default_rng(0)
    model = RegressionModel(2, 4, "lstm", rng=0)
    x, y = rng.normal(size=(8, 3, 2)), rng.normal(size=(3, 1))
    contrib = contributions(model, x, y)
    assert contrib.max_sum_error() < 1e-10
    pred, _ = model(Tensor(x))
    assert contrib.loss == pytest.approx(float(np.mean((pred.data - y) ** 2)), abs=1e-12)
    # the last step's weight term is the only one reaching the loss directly: it is largest
    assert np.argmax(contrib.norms()[0]) == 7


@pytest.fixture
def linear_cell():
    class LinearCell(Cell):
        """h_t = [h_{t-1}, x_t] @ W + b, no squashing: a linear RNN."""

        name = "linear-test"
        PARAMS = (("W", "hx"), ("b", None))
        FORGET_BIAS = None

        def forward(self, x, h=None):
            x = self._input(x)
            (h_prev,) = self.states(x, h)
            return named(cat_hx(h_prev, x) @ self.W + self.b, "h_t")

    yield LinearCell
    unregister("linear-test")


def linear_layer(W_h, D=2, seed=0):
    H = len(W_h)
    layer = make_layer("linear-test", D, H, fused=False, rng=seed)
    W = np.array(layer.cells[0].W.data)
    W[:H] = W_h
    layer.cells[0].W.assign(W)
    return layer


def test_a_linear_rnn_with_orthogonal_weights_keeps_every_singular_value_at_one(linear_cell):
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))
    layer = linear_layer(Q)
    chain = jacobian_chain(layer, np.random.default_rng(1).normal(size=(40, 2)))
    np.testing.assert_allclose(chain.jacobians, np.broadcast_to(Q.T, (40, 5, 5)), atol=1e-12)
    np.testing.assert_allclose(chain.singular_values(), 1.0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(chain.lyapunov(), 0.0, atol=1e-10)


@pytest.mark.parametrize("a", [0.8, -1.1])
def test_a_scaled_identity_gives_powers_and_exponent_log_a(linear_cell, a):
    layer = linear_layer(a * np.eye(4))
    chain = jacobian_chain(layer, np.random.default_rng(2).normal(size=(30, 2)))
    k = np.arange(1, 31)[:, None]
    np.testing.assert_allclose(chain.log_singular_values(),
                               np.broadcast_to(k * np.log(abs(a)), (30, 4)), atol=1e-10)
    np.testing.assert_allclose(chain.singular_values(), np.abs(a) ** k * np.ones(4), rtol=1e-10)
    np.testing.assert_allclose(chain.lyapunov(), np.log(abs(a)), atol=1e-10)


def test_lstm_with_no_recurrent_weights_carries_the_cell_state_by_the_forget_gates():
    T, H, D = 12, 3, 2
    layer = make_layer("lstm", D, H, rng=4)
    cell = layer.cells[0]
    for name in ("W_f", "W_i", "W_c", "W_o"):
        W = np.array(getattr(cell, name).data)
        W[:H] = 0.0  # gates read only x_t
        getattr(cell, name).assign(W)
    x = np.random.default_rng(5).normal(size=(T, D))
    chain = jacobian_chain(layer, x)
    hx = np.hstack([np.zeros((T, H)), x])
    f = 1 / (1 + np.exp(-(hx @ cell.W_f.data + cell.b_f.data)))  # f_t depends on x_t only
    for k, log_scale, block in chain.products(("c", "c")):
        expected = np.diag(np.prod(f[T - k:], axis=0))
        np.testing.assert_allclose(block * np.exp(log_scale), expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.exp(chain.log_singular_values(("c", "c"))[-1]),
                               np.sort(np.prod(f, axis=0))[::-1], rtol=1e-10)


def test_step_jacobians_match_finite_differences():
    cell = make_layer("gru", 2, 3, rng=6).cells[0]
    x = np.random.default_rng(7).normal(size=(4, 2))
    before = state_sequence(cell, x)[:, :-1]
    J = step_jacobians(cell, x, before)
    for t in range(4):
        for j in range(3):
            up, down = before[0, t].copy(), before[0, t].copy()
            up[j] += EPS
            down[j] -= EPS
            with no_grad():
                diff = cell(x[t:t + 1], up[None]).data - cell(x[t:t + 1], down[None]).data
            close(J[t, :, j], diff[0] / (2 * EPS))


def test_the_experiment_plots_the_trained_models_jacobian_spectra(tmp_path):
    cfg = LongTermConfig(lags=(8,), grad_lag=8, steps=5, hidden=4, test_size=8, grad_batch=4,
                         record_every=5, workers=1)
    results = [run_one(cell, 8, cfg) for cell in cfg.cells]
    write_reports(results, cfg, tmp_path, 1.0)
    assert (tmp_path / "jacobian_spectra.png").read_bytes()[:4] == b"\x89PNG"
    chains = trained_chains({r.cell: r for r in results}, cfg)
    assert {k: c.jacobians.shape for k, c in chains.items()} == {
        "rnn (trained)": (8, 4, 4), "lstm (trained)": (8, 8, 8)}
