"""Statistics of a setting's seeds, in NumPy only: a success rate with its Wilson interval, a
median with a percentile-bootstrap interval, and medians that skip what is missing."""

from __future__ import annotations

import math

import numpy as np

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20150630  # fixed: the same runs always give the same interval


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% by default).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or n
    successes: 0 of 5 gives (0, 0.43), 5 of 5 gives (0.57, 1).
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: need 0 <= successes <= n and n >= 1, got "
                         f"{successes} of {n}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at 0 or n successes one end is exactly 0 or 1; keep rounding from moving it
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def bootstrap_median_interval(values, resamples: int = BOOTSTRAP_RESAMPLES,
                              level: float = 0.95, seed: int = BOOTSTRAP_SEED
                              ) -> tuple[float, float]:
    """A percentile-bootstrap interval of the median of `values` (a fixed rng: the same values
    give the same interval). Infinite values (runs that diverged) are allowed and rank last.

    The quantiles are read off the resampled medians without interpolation, so an interval
    whose end reaches a diverged run is infinite rather than NaN.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) == 0 or np.isnan(values).any():
        raise ValueError("bootstrap_median_interval: need a 1-d sequence of numbers (not NaN)")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), (resamples, len(values)))
    medians = np.median(values[picks], axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(medians, [tail, 1 - tail], method="inverted_cdf")
    return float(lo), float(hi)


def median_or_none(values) -> float | None:
    """The median of the values that are not None, or None when there are none."""
    kept = [v for v in values if v is not None]
    return float(np.median(kept)) if kept else None
