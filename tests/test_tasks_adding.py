"""Tests for the adding problem's two definitions: "urnn" unchanged, "1997" as Hochreiter &
Schmidhuber define it, and each baseline MSE against a Monte Carlo estimate."""

import numpy as np
import pytest

from rnn import tasks


def _adding_before_variants(seq_len, batch, rng):
    """The generator as it was before variants existed, kept here to pin its numbers."""
    half = seq_len // 2
    values = rng.uniform(0.0, 1.0, (seq_len, batch))
    first = rng.integers(0, half, batch)
    second = rng.integers(half, seq_len, batch)
    markers = np.zeros((seq_len, batch))
    cols = np.arange(batch)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values[first, cols] + values[second, cols]).reshape(batch, 1)
    return x, y


@pytest.mark.parametrize("seq_len", [2, 7, 50])
def test_urnn_is_the_default_and_draws_the_same_numbers_as_before(seq_len):
    old = _adding_before_variants(seq_len, 9, np.random.default_rng(11))
    default = tasks.adding_problem(seq_len, 9, np.random.default_rng(11))
    named = tasks.adding_problem(seq_len, 9, np.random.default_rng(11), variant="urnn")
    for a, b, c in zip(old, default, named):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def _parts(x):
    """Per column: the step where its sequence starts, its values and its markers."""
    values, markers = x[:, :, 0], x[:, :, 1]
    starts = np.argmax(markers != 0, axis=0)
    return starts, values, markers


@pytest.mark.parametrize("seq_len", [20, 21, 100])
def test_1997_layout_follows_the_paper(seq_len):
    batch = 400
    x, y = tasks.adding_problem(seq_len, batch, np.random.default_rng(3), variant="1997")
    steps = seq_len + seq_len // 10
    assert x.shape == (steps, batch, 2) and y.shape == (batch, 1)
    starts, values, markers = _parts(x)
    lengths = steps - starts
    assert lengths.min() >= seq_len and lengths.max() <= steps
    if seq_len >= 100:  # with 400 draws every length from T to T + T/10 turns up
        assert set(lengths) == set(range(seq_len, steps + 1))
    for b in range(batch):
        s = starts[b]
        assert np.all(values[:s, b] == 0) and np.all(markers[:s, b] == 0)  # zero lead-in
        seq_m, seq_v = markers[s:, b], values[s:, b]
        plus = np.flatnonzero(seq_m == 1.0)
        assert len(plus) == 2, "exactly two marked steps"
        assert plus.min() < 10, "X1 is one of the first ten steps"
        assert plus.max() < seq_len // 2, "X2 is one of the first T/2"
        assert seq_m[-1] == -1.0, "the last step is marked -1"
        assert seq_m[0] == (1.0 if 0 in plus else -1.0), "the first step: -1 unless marked"
        assert np.count_nonzero(seq_m == -1.0) == (1 if 0 in plus else 2)
        if 0 in plus:
            assert seq_v[0] == 0.0, "a marked first step holds 0"
        assert np.all(np.abs(seq_v) <= 1.0)
        np.testing.assert_allclose(y[b, 0], 0.5 + seq_v[plus].sum() / 4.0)
    assert np.all((y >= 0.0) & (y <= 1.0))


def test_1997_markers_fall_where_the_paper_draws_them():
    # X1 uniform on the first ten steps; X2 uniform on the other h - 1 of the first h = T/2.
    # A step p < 10 is marked with probability 1/10 + (9/10)/(h - 1), a step 10 <= p < h with
    # 1/(h - 1), a later step never: each count within 5 binomial deviations.
    seq_len, n = 40, 20000
    h = seq_len // 2
    x, _ = tasks.adding_problem(seq_len, n, np.random.default_rng(8), variant="1997")
    starts, _, markers = _parts(x)
    t, b = np.nonzero(markers == 1.0)
    counts = np.bincount(t - starts[b], minlength=seq_len + seq_len // 10)
    p = np.zeros(len(counts))
    p[:10] = 0.1 + 0.9 / (h - 1)
    p[10:h] = 1.0 / (h - 1)
    assert counts[h:].sum() == 0
    np.testing.assert_array_less(np.abs(counts - n * p)[:h], 5 * np.sqrt(n * p * (1 - p))[:h])


def test_1997_is_deterministic_and_keeps_its_dtype():
    a = tasks.adding_problem(30, 5, np.random.default_rng(2), np.float32, variant="1997")
    b = tasks.adding_problem(30, 5, np.random.default_rng(2), np.float32, variant="1997")
    c = tasks.adding_problem(30, 5, np.random.default_rng(4), np.float32, variant="1997")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].dtype == a[1].dtype == np.float32


def test_bad_variant_or_length_is_a_clear_error():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown variant 'hs97'.*urnn, 1997"):
        tasks.adding_problem(50, 2, rng, variant="hs97")
    with pytest.raises(ValueError, match="1997 variant needs seq_len >= 20.*got 19"):
        tasks.adding_problem(19, 2, rng, variant="1997")
    with pytest.raises(ValueError, match="at least 2, got 1"):
        tasks.adding_problem(1, 2, rng)
    with pytest.raises(ValueError, match="unknown variant"):
        tasks.adding_baseline_mse(50, "nips")


def _monte_carlo_baseline(seq_len, variant, n, seed):
    """Mean and standard error of (y - mean)^2 over n fresh sequences, in chunks."""
    sq = []
    rng = np.random.default_rng(seed)
    mean = 1.0 if variant == "urnn" else 0.5
    for _ in range(n // 10000):
        _, y = tasks.adding_problem(seq_len, 10000, rng, variant=variant)
        sq.append((y[:, 0] - mean) ** 2)
    sq = np.concatenate(sq)
    return sq.mean(), sq.std() / np.sqrt(len(sq))


@pytest.mark.parametrize("seq_len,variant", [(20, "1997"), (100, "1997"), (30, "urnn")])
def test_baseline_mse_matches_monte_carlo(seq_len, variant):
    formula = tasks.adding_baseline_mse(seq_len, variant)
    estimate, se = _monte_carlo_baseline(seq_len, variant, 200000, seed=seq_len)
    assert abs(estimate - formula) < 4 * se


def test_1997_baseline_counts_the_zeroed_first_step():
    # At T = 20 X2 sits on the first step one time in ten; ignoring it (19/480) is off by far
    # more than the Monte Carlo error, so the test above can tell the two apart.
    formula = tasks.adding_baseline_mse(20, "1997")
    _, se = _monte_carlo_baseline(20, "1997", 200000, seed=20)
    assert formula == pytest.approx(0.6 / 16)
    assert abs(19 / 480 - formula) > 8 * se
    assert tasks.adding_baseline_mse(100, "1997") == pytest.approx(0.0392007, abs=1e-6)
    assert tasks.adding_baseline_mse(100, "urnn") == tasks.ADDING_BASELINE_MSE
