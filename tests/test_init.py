"""Initialisation schemes: each one's defining property, the cells they fit, the clear error
where they do not, and the config, checkpoints and the IRNN built on them."""

import math
from pathlib import Path

import numpy as np
import pytest

from autograd_lite import Tensor
from rnn.cells import (
    Cell,
    IRNNCell,
    RNNCell,
    cell_class,
    cell_names,
    check_init,
    init_names,
    named,
    unregister,
)
from rnn.cells.init import random_orthogonal
from rnn.checkpoint import load_checkpoint, save_checkpoint
from rnn.errors import InitError, UsageError
from rnn.experiment_born_in import BornInConfig
from rnn.experiment_born_in import make_model as born_in_model
from rnn.layers import make_layer
from rnn.training import TrainConfig, Trainer
from rnn.training.models import make_model, model_from_checkpoint

DATA = Path(__file__).resolve().parent / "data" / "init"
D, H = 3, 4


def _recurrent_blocks(cell):
    """name -> the H x H block acting on h_{t-1} of every weight that has one."""
    H = cell.hidden_size
    return {name: np.array(getattr(cell, name).data[:H]) for name, kind in cell.PARAMS
            if kind in ("hx", "h")}


def test_the_schemes_and_their_order():
    assert init_names() == ("uniform", "orthogonal", "identity", "chrono")


# ---- uniform: today's numbers ----------------------------------------------------------------


def test_uniform_draws_the_numbers_rnn_lab_drew_before_inits_existed():
    # uniform-seed7.npz was written by the commit before inits existed (31eeb4b), with
    # cell_class(n)(3, 4, rng=7, forget_bias=fb).weights() for each cell it had, fb 1.0 / None.
    before = np.load(DATA / "uniform-seed7.npz")
    cells = {key.split("/")[0] for key in before.files}
    assert cells == {"rnn", "lstm", "gru", "peephole", "cifg", "mgu"}
    for key in before.files:
        name, fb, param = key.split("/")
        forget_bias = None if fb == "None" else float(fb)
        for init in (None, "uniform"):
            cell = cell_class(name)(3, 4, rng=7, forget_bias=forget_bias, init=init)
            np.testing.assert_array_equal(cell.weights()[param], before[key], err_msg=key)


@pytest.mark.parametrize("name", cell_names())
def test_uniform_stays_within_one_over_sqrt_hidden(name):
    cell = cell_class(name)(5, 16, forget_bias=None, rng=0, init="uniform")
    for pname, values in cell.weights().items():
        assert np.abs(values).max() <= 1 / 4, pname
    every = np.concatenate([v.ravel() for v in cell.weights().values()])
    assert every.size > 300 and np.abs(every).max() > 0.98 / 4  # and fills the range


# ---- orthogonal ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", cell_names())
def test_orthogonal_makes_every_gates_recurrent_block_orthogonal(name):
    H = 6
    cell = cell_class(name)(D, H, rng=3, init="orthogonal")
    blocks = _recurrent_blocks(cell)
    assert blocks, name
    for pname, W in blocks.items():
        np.testing.assert_allclose(W.T @ W, np.eye(H), rtol=0, atol=1e-12, err_msg=pname)
        np.testing.assert_allclose(W @ W.T, np.eye(H), rtol=0, atol=1e-12, err_msg=pname)
    # each gate its own draw, not one matrix copied
    flat = [W.tobytes() for W in blocks.values()]
    assert len(set(flat)) == len(flat)
    # the rest as uniform: input rows and vectors within +-1/sqrt(H)
    for pname, kind in cell.PARAMS:
        rest = cell.weights()[pname][H:] if kind in ("hx", "h") else cell.weights()[pname]
        if pname == cell.FORGET_BIAS:
            continue
        assert rest.size == 0 or np.abs(rest).max() <= 1 / np.sqrt(H), pname


def test_orthogonal_keeps_the_forget_bias():
    cell = cell_class("lstm")(D, H, rng=0, init="orthogonal")
    np.testing.assert_array_equal(cell.b_f.data, np.ones(H))


def test_random_orthogonal_is_haar_not_biased_by_qr_signs():
    # Without the sign fix, numpy's QR gives R a diagonal of one sign: the diagonal of Q is
    # then skewed. Haar: E[Q_11] = 0, and over 4000 draws of 3 x 3 the mean of Q_11 has a
    # standard deviation of sqrt(1/3 / 4000) = 0.009; 0.05 is more than 5 of them.
    rng = np.random.default_rng(0)
    q11 = np.array([random_orthogonal(3, rng)[0, 0] for _ in range(4000)])
    assert abs(q11.mean()) < 0.05
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3, 4000)).T)
    assert abs(q[:, 0, 0].mean()) > 0.2  # the unfixed QR fails the same check


# ---- identity (IRNN) -------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: IRNNCell(40, 50, rng=1),
                                  lambda: RNNCell(40, 50, rng=1, init="identity")])
def test_identity_sets_the_recurrent_matrix_to_I_and_the_biases_to_zero(make):
    cell = make()
    W = cell.W.data
    np.testing.assert_array_equal(W[:50], np.eye(50))
    np.testing.assert_array_equal(cell.b.data, np.zeros(50))
    # input weights N(0, 0.001^2): 2000 draws give the sample std within 5% (its relative
    # standard error is 1/sqrt(2 n) = 1.6%), the mean within 5 standard errors
    inputs = W[50:]
    assert abs(inputs.std() / 0.001 - 1) < 0.05
    assert abs(inputs.mean()) < 5 * 0.001 / math.sqrt(inputs.size)


def test_irnn_defaults_to_identity_and_other_cells_to_uniform():
    assert IRNNCell.DEFAULT_INIT == "identity" and IRNNCell(D, H).init == "identity"
    assert check_init("irnn", None) == "identity"
    for name in cell_names():
        if name != "irnn":
            assert check_init(name, None) == "uniform" == cell_class(name)(D, H).init


# ---- chrono ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bias_only():
    """A cell whose only matrix has one row (D = 1, kind "x"), so that H can be large: chrono's
    draws of b_f and b_i, as the LSTM declares them."""

    class BiasOnlyCell(Cell):
        name = "test-bias-only"
        PARAMS = (("W_f", "x"), ("b_f", None), ("b_i", None))
        CHRONO = {"b_f": 1, "b_i": -1}

        def forward(self, x, h=None):
            x = self._input(x)
            (h_prev,) = self.states(x, h)
            return named(h_prev * (x @ self.W_f + self.b_f + self.b_i), "h_t")

    yield BiasOnlyCell
    unregister("test-bias-only")


def _dkw_distance(samples, cdf) -> float:
    """sup |empirical CDF - cdf| (the Kolmogorov-Smirnov statistic)."""
    x = np.sort(samples)
    n = len(x)
    F = cdf(x)
    return float(max(np.max(np.arange(1, n + 1) / n - F), np.max(F - np.arange(n) / n)))


def test_chrono_forget_bias_is_the_log_of_a_uniform_on_1_to_tmax_minus_1(bias_only):
    n, t_max = 100_000, 100
    cell = bias_only(1, n, rng=2024, init="chrono", t_max=t_max)
    b_f, b_i = cell.b_f.data, cell.b_i.data
    np.testing.assert_array_equal(b_i, -b_f)
    assert b_f.min() >= 0 and b_f.max() <= math.log(t_max - 1)

    def uniform_cdf(u):
        return np.clip((u - 1) / (t_max - 2), 0, 1)

    # Dvoretzky-Kiefer-Wolfowitz (Massart's constant): P(sup |F_n - F| > eps) <=
    # 2 exp(-2 n eps^2). At a miss probability of 1e-6, eps = 0.0085 for n = 100,000.
    eps = math.sqrt(math.log(2 / 1e-6) / (2 * n))
    assert _dkw_distance(np.exp(b_f), uniform_cdf) < eps
    # the bound can fail: exp of a uniform on [0, log(T_max - 1)] (log-uniform u) is far off
    wrong = np.exp(np.random.default_rng(0).uniform(0, math.log(t_max - 1), n))
    assert _dkw_distance(wrong, uniform_cdf) > 20 * eps


@pytest.mark.parametrize("name, signs", [("lstm", {"b_f": 1, "b_i": -1}),
                                         ("peephole", {"b_f": 1, "b_i": -1}),
                                         ("cifg", {"b_f": 1}), ("gru", {"b_z": 1}),
                                         ("mgu", {"b_f": -1})])
def test_chrono_sets_each_cells_gate_biases(name, signs):
    t_max = 30
    cell = cell_class(name)(D, 64, rng=5, init="chrono", t_max=t_max)
    assert cell_class(name).CHRONO == signs
    first = next(iter(signs))
    log_u = signs[first] * cell.weights()[first]
    assert log_u.min() >= 0 and log_u.max() <= math.log(t_max - 1)
    assert len(np.unique(log_u)) == 64  # one draw per unit
    for bias, sign in signs.items():
        np.testing.assert_array_equal(cell.weights()[bias], sign * log_u, err_msg=bias)
    # the keeping gate's time constant 1 + u spans [2, T_max]
    keep = 1 / (1 + np.exp(-log_u))
    assert np.all((1 / (1 - keep) >= 2 - 1e-9) & (1 / (1 - keep) <= t_max + 1e-9))


def test_chrono_is_not_overwritten_by_forget_bias():
    for forget_bias in (1.0, 3.0, None):
        cell = cell_class("lstm")(D, H, rng=0, init="chrono", t_max=10, forget_bias=forget_bias)
        np.testing.assert_array_equal(
            cell.b_f.data, cell_class("lstm")(D, H, rng=0, init="chrono", t_max=10).b_f.data)
        assert not np.all(cell.b_f.data == 1.0)


# ---- every init on every cell ----------------------------------------------------------------


@pytest.mark.parametrize("init", init_names())
@pytest.mark.parametrize("name", cell_names())
def test_every_init_builds_on_every_cell_or_says_why_not(name, init):
    cls = cell_class(name)
    fits = {"uniform": True, "orthogonal": True, "identity": cls.IDENTITY is not None,
            "chrono": bool(cls.CHRONO)}[init]
    if fits:
        layer = make_layer(name, D, H, num_layers=2, rng=0, init=init, t_max=10, fused=False)
        assert layer.init == init and all(c.init == init for c in layer.cells)
        out, _ = layer(np.ones((3, 2, D)))
        assert np.all(np.isfinite(out.data))
        again = make_layer(name, D, H, num_layers=2, rng=0, init=init, t_max=10, fused=False)
        for a, b in zip(layer.parameters(), again.parameters()):
            np.testing.assert_array_equal(a.data, b.data)  # deterministic for a given rng
        other = make_layer(name, D, H, num_layers=2, rng=1, init=init, t_max=10, fused=False)
        assert any(not np.array_equal(a.data, b.data)
                   for a, b in zip(layer.parameters(), other.parameters()))
    else:
        with pytest.raises(InitError, match=rf"^{init} does not fit the .* `{name}`: "):
            make_layer(name, D, H, init=init, t_max=10)
        with pytest.raises(ValueError):  # InitError is a ValueError for library callers
            check_init(name, init, 10)


def test_chrono_on_the_elman_rnn_says_it_has_no_forget_gate():
    with pytest.raises(InitError) as caught:
        check_init("rnn", "chrono", 50)
    assert str(caught.value) == "chrono does not fit the Elman RNN `rnn`: it has no forget gate"
    assert isinstance(caught.value, UsageError)  # the CLI prints it as one line, exit 2


@pytest.mark.parametrize("t_max", [None, 2, 2.99, 0, -5, float("nan"), float("inf"), True,
                                   "50", [50]])
def test_chrono_needs_a_t_max_of_at_least_three(t_max):
    with pytest.raises(InitError, match="chrono needs t_max"):
        check_init("lstm", "chrono", t_max)
    with pytest.raises(InitError, match="chrono needs t_max"):
        cell_class("lstm")(D, H, init="chrono", t_max=t_max)


def test_chrono_accepts_three_and_other_inits_ignore_t_max():
    assert check_init("lstm", "chrono", 3) == "chrono"
    assert check_init("lstm", "chrono", np.int64(400)) == "chrono"
    assert check_init("lstm", "orthogonal", None) == "orthogonal"
    assert check_init("lstm", "uniform", 2) == "uniform"


@pytest.mark.parametrize("init", ["glorot", "", "Uniform", 3])
def test_an_unknown_init_lists_the_known_ones(init):
    with pytest.raises(InitError, match="unknown init .*; choose one of uniform, orthogonal, "
                                        "identity, chrono"):
        check_init("lstm", init)


def test_a_cell_of_ones_own_gets_the_inits_it_declares(bias_only):
    assert check_init("test-bias-only", "chrono", 10) == "chrono"
    with pytest.raises(InitError, match="orthogonal does not fit .*no recurrent weight"):
        check_init("test-bias-only", "orthogonal")


# ---- the models, the config and checkpoints --------------------------------------------------


@pytest.mark.parametrize("task, seq_len, t_max", [("adding", 40, 40), ("copy", 30, 50),
                                                  ("text", 16, 16)])
def test_chrono_t_max_defaults_to_the_tasks_sequence_length(task, seq_len, t_max, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("abc " * 50, encoding="utf-8")
    config = TrainConfig(task=task, seq_len=seq_len, init="chrono", hidden=5,
                         text=str(text) if task == "text" else None)
    assert config.t_max == t_max
    assert TrainConfig(task=task, seq_len=seq_len, init="chrono", t_max=7,
                       text=str(text) if task == "text" else None).t_max == 7


def test_chrono_on_reber_needs_t_max():
    with pytest.raises(InitError, match="--init-tmax"):
        TrainConfig(task="reber", init="chrono")
    assert TrainConfig(task="reber", init="chrono", t_max=20).t_max == 20


def test_the_config_stores_the_resolved_init_and_the_model_uses_it():
    config = TrainConfig(cell="irnn", hidden=5, seq_len=6)
    assert config.init == "identity" and config.to_dict()["init"] == "identity"
    model = make_model(TrainConfig(cell="gru", hidden=5, seq_len=6, init="orthogonal"))
    W = model.layer.cells[0].W_z.data[:5]
    np.testing.assert_allclose(W.T @ W, np.eye(5), atol=1e-12)
    with pytest.raises(InitError, match="identity does not fit"):
        TrainConfig(cell="gru", init="identity")


def test_a_checkpoint_records_the_init_and_one_from_before_loads_as_uniform(tmp_path):
    path = tmp_path / "run.npz"
    config = TrainConfig(cell="lstm", hidden=4, seq_len=5, batch=2, steps=1, val_every=1,
                         val_size=4, init="chrono", t_max=9)
    Trainer.from_config(config, checkpoint=str(path), progress=False).fit()
    ckpt = load_checkpoint(path)
    assert (ckpt.config["init"], ckpt.config["t_max"]) == ("chrono", 9)
    model, saved, _ = model_from_checkpoint(ckpt)
    assert (saved.init, saved.t_max) == ("chrono", 9)
    # a checkpoint written before inits existed has neither key
    old = load_checkpoint(path)
    old.config = {k: v for k, v in old.config.items() if k not in ("init", "t_max")}
    save_checkpoint(tmp_path / "old.npz", old)
    model, saved, _ = model_from_checkpoint(load_checkpoint(tmp_path / "old.npz"))
    assert (saved.init, saved.t_max) == ("uniform", None)
    for name, value in ckpt.params.items():
        np.testing.assert_array_equal(model.state_dict()[name], value)
    resumed = Trainer.resume(str(tmp_path / "old.npz"), steps=2, progress=False)
    resumed.fit()
    assert resumed.step == 2 and resumed.config.init == "uniform"


# ---- RNNCell(nonlinearity) and the IRNN's kernel ---------------------------------------------


def test_rnn_cell_takes_a_relu_nonlinearity_equal_to_the_irnn():
    x = np.random.default_rng(0).standard_normal((2, D))
    relu_rnn = RNNCell(D, H, rng=0, nonlinearity="relu", init="orthogonal")
    irnn = IRNNCell(D, H, rng=0, init="orthogonal")
    np.testing.assert_array_equal(relu_rnn(x).data, irnn(x).data)
    hx = np.concatenate([np.zeros((2, H)), x], axis=1)
    np.testing.assert_allclose(irnn(x).data, np.maximum(hx @ irnn.W.data + irnn.b.data, 0),
                               atol=1e-15)
    assert relu_rnn.fused_op().name == "fused_rnn_relu" == IRNNCell.fused_kernel().name
    assert RNNCell(D, H).fused_op().name == "fused_rnn"
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        RNNCell(D, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="IRNNCell is the ReLU RNN"):
        IRNNCell(D, H, nonlinearity="tanh")


@pytest.mark.parametrize("init", ["uniform", "orthogonal", "identity"])
def test_the_relu_kernel_equals_the_readable_irnn(init):
    # uniform and orthogonal weights are not symmetric: a transposed block would show
    rng = np.random.default_rng(4)
    fused = make_layer("irnn", D, 5, num_layers=2, rng=1, init=init)
    plain = make_layer("irnn", D, 5, num_layers=2, rng=1, init=init, fused=False)
    assert fused.runs_fused
    x, h0 = rng.standard_normal((7, 3, D)), rng.standard_normal((2, 3, 5))
    outs, grads = [], []
    for layer in (fused, plain):
        xt = Tensor(x, requires_grad=True)
        out, h_n = layer(xt, h0)
        ((out * out).sum() + (h_n * h_n).sum()).backward()
        outs.append(out.data)
        grads.append([xt.grad, *[p.grad for p in layer.parameters()]])
    np.testing.assert_allclose(outs[0], outs[1], rtol=0, atol=1e-10)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_a_relu_rnn_cell_in_a_tanh_layer_runs_its_own_kernel():
    layer = make_layer("rnn", D, H, rng=0)
    layer.cells[0] = RNNCell(D, H, rng=0, nonlinearity="relu", init="orthogonal")
    plain = make_layer("rnn", D, H, rng=0, fused=False)
    plain.cells[0] = layer.cells[0]
    x = np.random.default_rng(1).standard_normal((4, 2, D))
    np.testing.assert_allclose(layer(x)[0].data, plain(x)[0].data, rtol=0, atol=1e-12)


def test_the_born_in_model_takes_an_init():
    cfg = BornInConfig(cells=("lstm", "gru"), init="chrono", t_max=40, hidden=6).validate()
    layer = born_in_model("gru", cfg, seed=0).layer
    assert layer.init == "chrono" and layer.cells[0].b_z.data.max() <= math.log(39)
    with pytest.raises(InitError, match="chrono does not fit the Elman RNN"):
        BornInConfig(cells=("rnn", "lstm"), init="chrono", t_max=40).validate()
    assert born_in_model("irnn", BornInConfig(cells=("irnn",)), seed=0).layer.init == "identity"
