"""The Mann-Whitney U test in NumPy, as scipy's `mannwhitneyu` computes it for the verdicts.

Importing `scipy.stats` took 0.8 s of CPU (1.6-2 s of wall time on a loaded machine), more
than the rest of a verdict; the verdicts only ever need the normal approximation, which is a
few lines. scipy (`mannwhitneyu(x, y, alternative="two-sided", method="auto")`) takes the
exact distribution only when a sample has 8 values or fewer and there are no ties; a verdict
needs at least `MIN_SAMPLE` items in each period, so "auto" always means the approximation
there. The tests compare this function with scipy's on many samples.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

# scipy's "auto" uses the normal approximation when both samples have more than 8 values.
MIN_SAMPLE = 9


@dataclass(frozen=True)
class RankTest:
    statistic: float  # U of the first sample: pairs (x, y) with x > y, ties counting half
    pvalue: float  # two-sided


def mann_whitney_u(x, y) -> RankTest:
    """Two-sided Mann-Whitney U test of x against y: the normal approximation with the tie
    correction and the continuity correction (scipy's method 2 of `mannwhitneyu`)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n1, n2 = len(x), len(y)
    if min(n1, n2) < MIN_SAMPLE:
        raise ValueError(f"the normal approximation needs at least {MIN_SAMPLE} values in each sample")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("the samples must not contain NaNs")
    values = np.concatenate([x, y])
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    # Tie groups of the sorted values: the average rank of a group is the mean of its first
    # and last 1-based positions.
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    counts = np.diff(np.append(starts, len(values)))
    average = starts + (counts + 1) / 2
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(average, counts)
    u1 = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    n = n1 + n2
    tied = counts.astype(float)
    tie_term = float(np.sum(tied**3 - tied))
    spread = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.float64(u - n1 * n2 / 2 - 0.5) / spread
    # Twice the normal upper tail of z, 2 × ½ erfc(z / √2); all values tied: z = −inf, p = 1.
    pvalue = math.erfc(float(z) / math.sqrt(2))
    return RankTest(statistic=u1, pvalue=min(max(pvalue, 0.0), 1.0))
