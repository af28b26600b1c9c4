"""The verdicts' statistics against the slower ways they replaced: scipy's Mann-Whitney U, and
the bootstrap that resampled whole rows. No database."""

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from streams.experiments import services
from streams.experiments.ranks import MIN_SAMPLE, mann_whitney_u
from streams.experiments.services import MIN_ITEMS, SEED, TRIALS, bootstrap_difference, ratio_of_sums


def samples():
    rng = np.random.default_rng(7)
    for k in range(300):
        n1, n2 = (int(n) for n in rng.integers(MIN_ITEMS, 400, 2))
        if k % 3 == 0:  # many ties
            yield rng.integers(0, 5, n1).astype(float), rng.integers(0, 6, n2).astype(float)
        elif k % 3 == 1:  # none
            yield rng.exponential(3, n1), rng.exponential(3.5, n2)
        else:  # flow times in days, some equal
            yield np.round(rng.exponential(3, n1), 1), np.round(rng.exponential(2.5, n2), 1)
    yield [4.0] * 12, [4.0] * 10  # every value tied
    yield list(range(10)), list(range(100, 110))  # completely apart


def test_the_rank_test_equals_scipys_auto_method_for_samples_a_verdict_judges():
    for x, y in samples():
        ours, scipys = mann_whitney_u(x, y), mannwhitneyu(x, y, alternative="two-sided", method="auto")
        assert ours.statistic == float(scipys.statistic)
        assert ours.pvalue == pytest.approx(float(scipys.pvalue), rel=1e-12, abs=1e-300)


def test_the_rank_test_refuses_samples_scipy_would_judge_exactly():
    with pytest.raises(ValueError, match="at least 9"):
        mann_whitney_u(range(MIN_SAMPLE - 1), range(20))


def whole_rows_interval(before, after, seed):
    """The bootstrap as it was: rows gathered whole into (trials, n, 2) and summed across n, one
    period after the other; the picks drawn as `bootstrap_difference` draws them (each period
    from its own child of the seed, as the smallest unsigned integers that hold its indexes)."""
    generators = [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2)]

    def ratio(resampled):
        flow = resampled[..., 1].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(flow > 0, resampled[..., 0].sum(axis=1) / flow, np.nan)

    ratios = []
    for rows, rng in zip((before, after), generators, strict=True):
        rows = np.asarray(rows, dtype=float)
        index = services._index_type(len(rows))
        chunks = []
        for first in range(0, TRIALS, 250):
            picks = rng.integers(0, len(rows), size=(min(250, TRIALS - first), len(rows)), dtype=index)
            chunks.append(ratio(rows[picks]))
        ratios.append(np.concatenate(chunks))
    low, high = np.nanpercentile(ratios[1] - ratios[0], [2.5, 97.5])
    return float(low), float(high)


def test_picks_are_drawn_as_the_smallest_unsigned_integers_that_hold_the_indexes():
    assert [services._index_type(n) for n in (1, 65_536, 65_537, 2**32, 2**32 + 1)] == [
        np.uint16,
        np.uint16,
        np.uint32,
        np.uint32,
        np.uint64,
    ]


@pytest.mark.parametrize("n_before, n_after", [(10, 12), (300, 250), (2100, 2000)])
def test_the_efficiency_interval_equals_resampling_whole_rows(n_before, n_after):
    rng = np.random.default_rng(n_before)

    def rows(n):
        flow = rng.exponential(6, n)
        flow[::7] = 0  # items finished as they started
        return list(zip(flow * rng.uniform(0, 1, n), flow, strict=True))

    before, after = rows(n_before), rows(n_after)
    ours = bootstrap_difference(before, after, ratio_of_sums, seed=SEED + 3)
    # Column sums add the same numbers in another order: equal to the last digits.
    assert ours == pytest.approx(whole_rows_interval(before, after, SEED + 3), rel=1e-12, abs=1e-15)
