"""Tests for rnn.experiment: gradient norms through the readable graph, reports, the CLI."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from autograd_lite.tensor import Tensor
from rnn import tasks
from rnn.experiment import (
    LongTermConfig,
    RunResult,
    decay_per_step,
    hidden_grad_norms,
    run_all,
    run_one,
)
from rnn.reports import write_reports
from rnn.training import RegressionModel

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}


def test_grad_norm_at_the_last_two_steps_matches_the_chain_rule():
    model = RegressionModel(2, 5, "rnn", fused=False, rng=3)
    x, y = tasks.adding_problem(6, 4, np.random.default_rng(0))
    norms = hidden_grad_norms(model, x, y)
    assert norms.shape == (6,)
    outputs, _ = model.layer(Tensor(x))
    h = outputs.data
    pred = h[-1] @ model.decoder.weight.data.T + model.decoder.bias.data
    g_T = 2 * (pred - y) @ model.decoder.weight.data  # d(sum of squared errors)/dh_T
    W = model.layer.cells[0].W.data
    g_prev = (g_T * (1 - h[-1] ** 2)) @ W[:5].T  # back through tanh and the recurrence
    assert norms[-1] == pytest.approx(np.linalg.norm(g_T, axis=-1).mean(), rel=1e-12)
    assert norms[-2] == pytest.approx(np.linalg.norm(g_prev, axis=-1).mean(), rel=1e-12)


def test_grad_norms_same_for_fused_and_readable_models():
    x, y = tasks.adding_problem(8, 3, np.random.default_rng(1))
    fused = RegressionModel(2, 4, "lstm", fused=True, rng=5)
    readable = RegressionModel(2, 4, "lstm", fused=False, rng=5)
    np.testing.assert_allclose(hidden_grad_norms(fused, x, y),
                               hidden_grad_norms(readable, x, y), rtol=1e-12)


def test_decay_per_step_recovers_a_geometric_factor():
    norms = 0.7 ** np.arange(30)[::-1]  # index t, so lag = 29 - t
    assert decay_per_step(norms) == pytest.approx(0.7)


def test_run_one_reports_the_budget_and_gradients():
    cfg = LongTermConfig(lags=(6,), grad_lag=6, steps=20, hidden=4, batch=4,
                         test_size=20, grad_batch=4, record_every=10, workers=1)
    r = run_one("lstm", 6, cfg)
    assert r.cell == "lstm" and r.lag == 6 and len(r.loss) == 20 and r.val_step == [10, 20]
    assert len(r.grad_init) == len(r.grad_trained) == 6
    assert np.isfinite(r.test_mse)


def test_any_registered_cells_share_the_budget_and_are_reported(tmp_path):
    cfg = LongTermConfig(cells=("cifg", "mgu"), lags=(5,), grad_lag=5, steps=12, hidden=4,
                         batch=4, test_size=16, grad_batch=4, record_every=6, workers=1)
    results = run_all(cfg, progress=False, log=lambda line: None)
    assert [(r.cell, r.lag) for r in results] == [("cifg", 5), ("mgu", 5)]
    assert all(len(r.loss) == 12 and len(r.grad_trained) == 5 for r in results)
    write_reports(results, cfg, tmp_path, 1.0)
    assert "cifg_trained,mgu_init" in (tmp_path / "grad_norms.csv").read_text().splitlines()[0]


def _fake_results(cfg):
    out = []
    for lag in cfg.lags:
        for cell, mse in (("rnn", 0.17), ("lstm", 0.001)):
            r = RunResult(cell, lag, cfg.steps, mse, mse, 1.0, None if cell == "rnn" else 50,
                          loss=list(np.linspace(0.2, mse, cfg.steps)), val_step=[50, 100],
                          val_loss=[0.17, mse])
            if lag == cfg.grad_lag:
                factor = 0.5 if cell == "rnn" else 0.99
                r.grad_init = list(factor ** np.arange(lag)[::-1])
                r.grad_trained = list(factor ** np.arange(lag)[::-1])
            out.append(r)
    return out


def test_write_reports(tmp_path):
    cfg = LongTermConfig(lags=(10, 20), grad_lag=20, steps=100)
    summary = write_reports(_fake_results(cfg), cfg, str(tmp_path), 12.0)
    names = sorted(os.listdir(tmp_path))
    assert names == ["grad_norm_vs_lag.png", "grad_norms.csv", "loss_curves.png",
                     "results.csv", "results.md", "summary.json"]
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [(r["cell"], r["lag_T"]) for r in rows] == [
        ("rnn", "10"), ("lstm", "10"), ("rnn", "20"), ("lstm", "20")]
    grads = list(csv.DictReader(open(tmp_path / "grad_norms.csv")))
    assert len(grads) == 20 and float(grads[0]["rnn_trained"]) == 1.0
    assert summary["gradients"]["rnn_trained"]["decay_per_step"] == pytest.approx(0.5)
    assert json.load(open(tmp_path / "summary.json"))["wall_seconds"] == 12.0
    md = (tmp_path / "results.md").read_text()
    assert "| lstm | 20 | 0.0010 | yes | 50 |" in md and "| rnn (trained) |" in md
    for png in ("grad_norm_vs_lag.png", "loss_curves.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rnn", "experiment", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=ENV)


def test_cli_help_has_an_example():
    result = _cli("--help")
    assert result.returncode == 0 and "rnn-lab experiment long-term --quick" in result.stdout


def test_cli_quick_run_writes_the_reports(tmp_path):
    out = tmp_path / "lt"
    result = _cli("long-term", "--quick", "--steps", 40, "--out", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (out / "results.md").exists() and (out / "grad_norm_vs_lag.png").exists()
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert sorted((r["cell"], r["lag_T"]) for r in rows) == [
        ("lstm", "10"), ("lstm", "25"), ("rnn", "10"), ("rnn", "25")]
    assert "lstm_trained" in result.stdout


def test_cli_bad_arguments(tmp_path):
    assert _cli("short-term").returncode == 2
    (tmp_path / "file").write_text("x")
    result = _cli("long-term", "--out", tmp_path / "file")
    assert result.returncode == 1 and "not a folder" in result.stderr
    assert "Traceback" not in result.stderr
    result = _cli("long-term", "--steps", 0, "--out", tmp_path / "x")
    assert result.returncode == 2 and "--steps" in result.stderr
