"""The cliff experiment (Pascanu, Mikolov & Bengio 2013): clipping bounds every step, the default
run is thrown by the cliff, SymPy's gradient equals the engine's and finite differences, and the
command writes files that open."""

import csv
import json

import matplotlib.image
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn import cli, cliff
from rnn.reports_cliff import REPORT_FILES, CliffConfig

finite = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)
positive = st.floats(1e-6, 1e6, allow_nan=False)
ULPS = 4 * np.finfo(np.float64).eps  # the rescaled vector's norm, as rounded


def norm(v) -> float:
    return float(np.hypot(*v))  # no overflow on the way, unlike sqrt(sum of squares)


# ---- clipping -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.tuples(finite, finite), positive)
def test_a_clipped_gradient_is_never_longer_than_the_threshold(grad, threshold):
    grad = np.array(grad)
    clipped = cliff.clip_by_norm(grad, threshold)
    if norm(grad) <= threshold:
        np.testing.assert_array_equal(clipped, grad)  # a short gradient is left alone
    else:
        assert norm(clipped) <= threshold * (1 + ULPS)
        # rescaled to the threshold (less the engine's 1e-6 guard: threshold·n / (n + 1e-6))
        assert norm(clipped) >= threshold * (1 - 1e-12) - 1e-6
        assert np.all(clipped * grad >= 0)  # in the same direction
        cross = grad[0] / norm(grad) * clipped[1] - grad[1] / norm(grad) * clipped[0]
        assert abs(cross) <= 1e-9 * threshold


@settings(max_examples=12, deadline=None)
@given(st.floats(3.0, 8.0), st.floats(-5.0, 0.0), st.floats(0.1, 5.0), st.floats(0.01, 2.0))
def test_a_clipped_trajectory_never_steps_further_than_lr_times_the_threshold(w, b, lr, clip):
    run = cliff.descend((w, b), lr, 25, clip=clip)
    assert run.stopped is None and len(run.step) == 25
    assert max(run.step) <= lr * clip * (1 + 1e-12)


def test_an_unclipped_run_that_leaves_the_float64_range_stops_and_says_so():
    w = 5.0
    b = float(cliff.cliff_line(w)) + 1e-10  # the gradient is ~1e3 here
    run = cliff.descend((w, b), 1e307, 3)
    assert run.stopped == "(w, b) left the float64 range at iteration 1"
    assert run.step == [] and len(run.w) == 1


# ---- the cliff ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_runs():
    cfg = CliffConfig()
    return cfg, cliff.descend(cfg.start, cfg.lr, cfg.steps), \
        cliff.descend(cfg.start, cfg.lr, cfg.steps, clip=cfg.clip)


def test_the_default_start_is_thrown_by_the_cliff_without_clipping(default_runs):
    cfg, unclipped, _ = default_runs
    length, k = unclipped.largest_step()
    assert length > 10 * cfg.lr * cfg.clip  # ten times any clipped step
    w, b = unclipped.w[k], unclipped.b[k]
    # it leaves from the cliff: on the line b = x_0 - w σ(x_0), where x_0 is a fixed point
    assert abs(b - (cliff.X0 - w / (1 + np.exp(-cliff.X0)))) < 0.02
    # every earlier step was short: the run came down the slope to the cliff
    assert max(unclipped.step[:k]) < cfg.lr * cfg.clip
    # and lands on a flat plateau, σ(x_50) = 1, that it never leaves
    assert unclipped.loss[-1] == pytest.approx((1 - cliff.TARGET) ** 2, abs=1e-6)
    assert max(unclipped.step[k + 1:]) < 1e-6


def test_the_clipped_run_crosses_the_same_place_and_goes_on_down(default_runs):
    cfg, unclipped, clipped = default_runs
    k = unclipped.largest_step()[1]
    assert clipped.w[:k + 1] == unclipped.w[:k + 1]  # the same path up to the cliff
    assert clipped.step[k] == pytest.approx(cfg.lr * cfg.clip, rel=1e-5)  # clipped there
    assert max(clipped.step) <= cfg.lr * cfg.clip
    assert clipped.loss[-1] < unclipped.loss[-1] / 20


def test_the_gradient_explodes_at_the_cliff_line():
    # (for larger w the layer where it explodes, ~exp(-50 log(w σ'(x_0))) wide, is thinner
    # than float64 resolves: there the loss just jumps from one float to the next)
    w = np.linspace(4.6, 6, 30)
    on = cliff.cliff_line(w)
    for side in (1, -1):
        _, gw, gb = cliff.sympy_gradient(w, on + side * 1e-9)
        _, fw, fb = cliff.sympy_gradient(w, on + side * 0.5)
        assert np.all(np.hypot(gw, gb) > 100 * np.hypot(fw, fb))
    assert np.isnan(cliff.cliff_line(np.array([0.0, 4.0, -4.0]))).all()  # below 1/σ'(x_0)
    # 1 / σ'(0.5), with σ'(x) = (1 - tanh²(x / 2)) / 4
    assert cliff.cliff_threshold() == pytest.approx(4 / (1 - np.tanh(0.25) ** 2), rel=1e-12)


# ---- the gradient three ways ------------------------------------------------------------


def test_surface_loss_equals_the_engine_loss():
    w, b = cliff.check_points((-10, 12), (-10, 10), 200, seed=1)
    loss, _, _ = cliff.engine_gradient(w, b)
    np.testing.assert_allclose(cliff.surface_loss(w, b), loss, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(cliff.sympy_gradient(w, b)[0], loss, rtol=1e-12, atol=1e-300)


def test_sympy_gradient_equals_the_engine_to_1e_10_also_where_it_explodes():
    w, b = cliff.check_points((0, 10), (-7, 3), 300, seed=2)
    _, sw, sb = cliff.sympy_gradient(w, b)
    _, ew, eb = cliff.engine_gradient(w, b)
    assert np.max(np.abs(sw)) > 1e6  # the check reaches the exploding gradients
    np.testing.assert_allclose(sw, ew, rtol=1e-10, atol=0)
    np.testing.assert_allclose(sb, eb, rtol=1e-10, atol=0)
    check = cliff.gradient_check(w, b)
    assert check.ok and check.points == 600 and check.max_rel_engine < 1e-10


def test_sympy_gradient_equals_central_differences_away_from_the_cliff():
    rng = np.random.default_rng(3)
    w, b = rng.uniform(-2, 10, 400), rng.uniform(-7, 4, 400)
    away = np.abs(b - (cliff.X0 - w / (1 + np.exp(-cliff.X0)))) > 0.5
    w, b = w[away], b[away]
    _, sw, sb = cliff.sympy_gradient(w, b)
    eps = 1e-6
    fw = (cliff.surface_loss(w + eps, b) - cliff.surface_loss(w - eps, b)) / (2 * eps)
    fb = (cliff.surface_loss(w, b + eps) - cliff.surface_loss(w, b - eps)) / (2 * eps)
    np.testing.assert_allclose(sw, fw, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sb, fb, rtol=1e-5, atol=1e-7)
    check = cliff.gradient_check(w, b)
    assert check.fd_points > 0.9 * len(w) and check.max_fd_ratio <= 1


def test_the_derivation_is_the_papers_model():
    d = cliff.derivation()
    assert d.lines()[0] == "x_t = b + w*σ(x_{t-1})"
    x, pw, pb, w, b = 0.3, 0.7, -1.1, 5.0, -2.0
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(d.step(x, pw, pb, w, b),
                               (w * s + b, s + w * s * (1 - s) * pw, 1 + w * s * (1 - s) * pb),
                               rtol=1e-14)


def test_the_sweep_counts_what_single_runs_do():
    frame, lr, steps = ((4.0, 5.5), (-2.5, -1.0)), 1.0, 60
    swept = cliff.sweep(*frame, 3, lr, steps, threshold=3.0)
    runs = [cliff.descend((w, b), lr, steps) for b in np.linspace(*frame[1], 3)
            for w in np.linspace(*frame[0], 3)]
    longest = [r.largest_step()[0] for r in runs]
    assert swept.starts == 9 and swept.thrown == sum(s > 3.0 for s in longest)
    assert 0 < swept.thrown < 9  # some are thrown, some are not
    assert swept.largest == pytest.approx(max(longest), rel=1e-9)


# ---- the command --------------------------------------------------------------------------


def test_the_command_writes_files_that_open(tmp_path, capsys):
    out = tmp_path / "cliff"
    status = cli.main(["experiment", "cliff", "--quick", "--steps", "60", "--grid", "30",
                       "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)
    image = matplotlib.image.imread(out / "cliff.png")
    assert image.ndim == 3 and image.shape[0] > 400 and image.shape[1] > 800
    with open(out / "trajectories.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 61 and {r["run"] for r in rows} == {"unclipped", "clipped at 0.3"}
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"]["unclipped"]["largest_step"] > 10 * 0.3
    assert summary["runs"]["clipped"]["largest_step"] <= 0.3
    assert summary["gradient_check"]["ok"]
    text = (out / "results.md").read_text()
    assert "Gradient check" in text and "Pascanu" in text
    assert "unclipped: longest step" in printed
