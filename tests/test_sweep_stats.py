"""Tests for rnn.sweep.stats against known cases: Wilson intervals from the literature, and
the bootstrap interval's coverage of a known median."""

import math

import numpy as np
import pytest

from rnn.sweep.stats import bootstrap_median_interval, median_or_none, wilson_interval


@pytest.mark.parametrize("k, n, lo, hi", [
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998), Statistics in Medicine 17, example (a)
    (15, 148, 0.0624, 0.1605),  # Newcombe (1998), example (b)
    (0, 20, 0.0, 0.1611),  # Newcombe (1998), example (c)
    (1, 29, 0.0061, 0.1718),  # Newcombe (1998), example (d)
    (3, 10, 0.1078, 0.6032),
])
def test_wilson_interval_matches_published_values(k, n, lo, hi):
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=5e-5)


def test_wilson_interval_at_the_ends_is_exact_and_never_empty():
    assert wilson_interval(0, 5) == (0.0, pytest.approx(0.4345, abs=1e-4))
    assert wilson_interval(5, 5) == (pytest.approx(0.5655, abs=1e-4), 1.0)
    for n in (1, 2, 5, 50):
        for k in range(n + 1):
            lo, hi = wilson_interval(k, n)
            assert 0 <= lo < k / n + 1e-12 or k == 0
            assert lo <= k / n <= hi <= 1 and hi - lo > 0


def test_wilson_interval_rejects_impossible_counts():
    for k, n in ((3, 2), (-1, 5), (0, 0)):
        with pytest.raises(ValueError, match="wilson_interval"):
            wilson_interval(k, n)


def test_bootstrap_of_equal_values_is_that_value():
    assert bootstrap_median_interval([0.25] * 5) == (0.25, 0.25)
    assert bootstrap_median_interval([3.0]) == (3.0, 3.0)


def test_bootstrap_is_fixed_by_its_seed_and_brackets_the_median():
    values = np.random.default_rng(0).exponential(size=50)
    a = bootstrap_median_interval(values)
    assert a == bootstrap_median_interval(values.copy())
    assert a != bootstrap_median_interval(values, seed=1)
    assert a[0] <= np.median(values) <= a[1]
    assert min(values) <= a[0] and a[1] <= max(values)


def test_bootstrap_interval_covers_the_true_median_about_95_percent():
    # Normal samples of 41 with true median 0: the interval should hold 0 in about 95% of
    # samples (the percentile bootstrap of a median is a little conservative at this size).
    rng = np.random.default_rng(1)
    hits = [lo <= 0 <= hi for lo, hi in (bootstrap_median_interval(rng.normal(size=41),
                                                                   resamples=400, seed=k)
                                         for k in range(200))]
    assert 0.88 <= np.mean(hits) <= 0.995
    # and its width is near the asymptotic 2 * 1.96 * sqrt(pi / 2) / sqrt(n)
    lo, hi = bootstrap_median_interval(rng.normal(size=400))
    assert hi - lo == pytest.approx(2 * 1.96 * math.sqrt(math.pi / 2) / 20, rel=0.3)


def test_bootstrap_ranks_diverged_runs_last():
    lo, hi = bootstrap_median_interval([0.1, 0.2, math.inf, math.inf, math.inf])
    assert lo <= 0.2 and hi == math.inf
    with pytest.raises(ValueError):
        bootstrap_median_interval([0.1, math.nan])


def test_median_or_none_skips_the_missing():
    assert median_or_none([None, 300, 100, None]) == 200
    assert median_or_none([None, None]) is None
