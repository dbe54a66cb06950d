"""Tests for rnn.tasks: shapes, determinism under a seed, and target statistics."""

import math

import numpy as np
import pytest

from rnn import tasks


def test_adding_problem_shapes_and_dtype():
    x, y = tasks.adding_problem(20, 7, np.random.default_rng(0), dtype=np.float32)
    assert x.shape == (20, 7, 2) and y.shape == (7, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32


def test_adding_problem_markers_one_per_half():
    x, y = tasks.adding_problem(30, 200, np.random.default_rng(1))
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=0) == 2)
    assert np.all(markers[:15].sum(axis=0) == 1) and np.all(markers[15:].sum(axis=0) == 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=0))
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] <= 1))


def test_adding_problem_is_deterministic_under_seed():
    a = tasks.adding_problem(10, 4, np.random.default_rng(5))
    b = tasks.adding_problem(10, 4, np.random.default_rng(5))
    c = tasks.adding_problem(10, 4, np.random.default_rng(6))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_adding_problem_mean_prediction_scores_one_sixth():
    _, y = tasks.adding_problem(50, 20000, np.random.default_rng(2))
    assert abs(y.mean() - 1.0) < 0.01
    assert abs(((y - 1.0) ** 2).mean() - tasks.ADDING_BASELINE_MSE) < 0.005
    assert abs(tasks.ADDING_BASELINE_MSE - 0.1667) < 1e-4


def test_adding_problem_needs_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        tasks.adding_problem(10, 2, 0)


def test_copy_memory_layout():
    x, y = tasks.copy_memory(15, 6, np.random.default_rng(0), n_copy=10)
    assert x.shape == y.shape == (35, 6) and x.dtype == np.int64
    data = x[:10]
    assert np.all((data >= 1) & (data <= tasks.COPY_SYMBOLS))
    assert np.all(x[10:24] == tasks.COPY_BLANK)
    assert np.all(x[24] == tasks.COPY_DELIMITER)
    assert np.all(x[25:] == tasks.COPY_BLANK)
    assert np.all(y[:25] == tasks.COPY_BLANK)
    np.testing.assert_array_equal(y[25:], data)


def test_copy_memory_deterministic_and_baseline():
    a = tasks.copy_memory(5, 3, np.random.default_rng(9))
    b = tasks.copy_memory(5, 3, np.random.default_rng(9))
    np.testing.assert_array_equal(a[0], b[0])
    assert tasks.copy_memory_baseline(100) == pytest.approx(10 * math.log(8) / 120)


def test_reber_strings_follow_the_grammar():
    rng = np.random.default_rng(0)
    for _ in range(200):
        s = tasks.embedded_reber_string(rng)
        assert tasks.is_embedded_reber(s), s
        assert s[1] == s[-2]
    assert tasks.is_reber("BTSSXXTVVE") and tasks.is_reber("BPVVE")
    assert not tasks.is_reber("BTSSXXTVPE")
    assert not tasks.is_embedded_reber("BTBPVVEPE")


def test_reber_batch_targets_and_key_step():
    x, y, mask, key = tasks.reber_batch(50, np.random.default_rng(3))
    T, B = x.shape
    assert y.shape == mask.shape == (T, B) and key.shape == (B,)
    symbols = tasks.REBER_SYMBOLS
    for b in range(B):
        n = int(mask[:, b].sum())
        s = "".join(symbols[k] for k in x[:n, b]) + symbols[y[n - 1, b]]
        assert tasks.is_embedded_reber(s)
        np.testing.assert_array_equal(y[:n - 1, b], x[1:n, b])  # next-symbol targets
        assert symbols[x[key[b], b]] == "E"  # the inner string's end ...
        assert symbols[y[key[b], b]] == s[1]  # ... predicts the repeated second symbol
    assert np.all(mask[int(mask[:, 0].sum()):, 0] == 0)


def test_reber_batch_deterministic():
    a = tasks.reber_batch(8, np.random.default_rng(4))
    b = tasks.reber_batch(8, np.random.default_rng(4))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_embedded_reber_next_lists_the_grammar_s_choices():
    s = "BTBTSSXXTVVETE"
    assert tasks.embedded_reber_next(s) == ["PT", "B", "PT", "SX", "SX", "SX", "SX", "TV",
                                            "TV", "PV", "E", "T", "E"]  # BEPSTVX order
    with pytest.raises(ValueError, match="not an embedded Reber"):
        tasks.embedded_reber_next("BTBTSSXXTVVEPE")  # the branch symbol does not repeat


def test_reber_legal_holds_every_actual_next_symbol():
    x, y, mask, _ = tasks.reber_batch(100, np.random.default_rng(7))
    legal = tasks.reber_legal(x, y, mask)
    steps, cols = np.nonzero(mask)
    assert legal[steps, cols, y[steps, cols]].all()  # what came next was legal
    assert set(legal[steps, cols].sum(-1)) == {1, 2}
    assert not legal[mask == 0].any()
