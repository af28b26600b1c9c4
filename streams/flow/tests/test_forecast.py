"""Monte Carlo forecasts on throughput histories whose answers are known."""

import datetime as dt

import numpy as np
import pytest

from streams.flow.forecast import (
    MIN_FINISHED,
    Pace,
    chance_within,
    forecast_how_many,
    forecast_when,
    simulated_days,
    trial_days,
    trial_quantile,
)

MONDAY = dt.date(2026, 3, 2)


def test_a_steady_stream_forecasts_exactly():
    assert forecast_how_many(daily_throughput=[2] * 28, days=10).values == {0.5: 20, 0.85: 20, 0.95: 20}
    # 2 a day: 9 items need 5 days, the last of them Friday.
    assert forecast_when(daily_throughput=[2] * 28, items=9, start=MONDAY).values[0.85] == dt.date(2026, 3, 6)


def test_higher_confidence_promises_fewer_items_and_later_dates():
    history = [0, 0, 1, 3, 0, 2, 5, 0, 1, 0, 4, 0, 0, 2] * 4
    many = forecast_how_many(daily_throughput=history, days=30).values
    assert many[0.5] >= many[0.85] >= many[0.95] > 0
    when = forecast_when(daily_throughput=history, items=40, start=MONDAY).values
    assert when[0.5] <= when[0.85] <= when[0.95]
    # Mean 1.29 a day: about 39 in 30 days at the median.
    assert 33 <= many[0.5] <= 45


def test_the_same_history_gives_the_same_forecast():
    history = [0, 1, 0, 3, 2, 0, 0, 1]
    first = forecast_how_many(daily_throughput=history, days=20)
    assert first == forecast_how_many(daily_throughput=history, days=20)


def test_no_throughput_means_no_finish_date():
    forecast = forecast_when(daily_throughput=[0] * 14, items=3, start=MONDAY)
    assert forecast.values == {0.5: None, 0.85: None, 0.95: None}
    assert forecast.refused == "Too little history: the stream finished 0 items in the 14 days sampled; " + (
        "a forecast needs at least 5."
    )


def test_every_forecast_states_its_sample_and_refuses_below_the_minimum():
    few = [0] * 80 + [1] * (MIN_FINISHED - 1)
    for forecast in (
        forecast_how_many(daily_throughput=few, days=30),
        forecast_when(daily_throughput=few, items=3, start=MONDAY),
    ):
        assert forecast.values == {0.5: None, 0.85: None, 0.95: None}
        assert forecast.sample_days == 84 and forecast.sample_items == MIN_FINISHED - 1
        assert forecast.refused.startswith("Too little history: the stream finished 4 items in the last 12 weeks")
    enough = [0] * 79 + [1] * MIN_FINISHED
    for forecast in (
        forecast_how_many(daily_throughput=enough, days=30),
        forecast_when(daily_throughput=enough, items=3, start=MONDAY),
    ):
        assert not forecast.refused and forecast.sample_items == MIN_FINISHED and forecast.values[0.5] is not None


def test_a_forecast_reaches_at_most_three_years():
    with pytest.raises(ValueError, match="at most"):
        forecast_how_many(daily_throughput=[1], days=4000)
    far = forecast_when(daily_throughput=[0] * 995 + [1] * 5, items=50, start=MONDAY)
    assert far.values[0.95] is None and "beyond three years" in far.note


@pytest.mark.parametrize(
    ("sample", "items", "days", "share", "expected"),
    [
        ([1], 0, 10, 1.0, 1.0),  # nothing left: done
        ([1], 10, 10, 1.0, 1.0),  # exactly enough every trial
        ([1], 11, 10, 1.0, 0.0),  # never enough
        ([0, 2], 10, 10, 1.0, 0.623),  # P(Binomial(10, ½) ≥ 5)
        ([1], 5, 10, 0.5, 0.623),  # thinning a steady 1 a day to half gives the same law
    ],
)
def test_the_chance_of_finishing_within_a_number_of_days(sample, items, days, share, expected):
    chance = chance_within(trial_days(daily_throughput=sample, items=items, share=share), days)
    assert chance == pytest.approx(expected, abs=0.02)


def test_a_share_is_a_fraction():
    with pytest.raises(ValueError, match="fraction"):
        trial_days(daily_throughput=[1], items=3, share=0)


def test_thinning_per_trial_has_the_law_of_thinning_each_day():
    """A large stream (about 50 a day) and work holding 2% of it: the days `trial_days` gives
    match a direct simulation that thins every sampled day binomially."""
    rng = np.random.default_rng(7)
    sample = list(rng.poisson(50, 84))
    fast = trial_days(daily_throughput=sample, items=10, share=0.02)
    days = rng.choice(sample, size=(4000, 60))
    ours = np.cumsum(rng.binomial(days, 0.02), axis=1)
    direct = (ours < 10).sum(axis=1) + 1
    for q in (0.15, 0.5, 0.85):
        assert abs(np.quantile(fast, q) - np.quantile(direct, q)) <= 1
    assert np.mean(fast) == pytest.approx(np.mean(direct), rel=0.05)


def test_a_percentile_of_trials_some_never_finishing_is_a_day_or_none_never_nan():
    """NumPy's interpolation gives NaN beside an infinite trial, which crashed the key result
    page (`math.ceil(nan)`) on a key result whose streams barely finish anything."""
    assert trial_quantile(np.array([1.0, np.inf]), 0.0) == 1.0
    assert trial_quantile(np.array([3.0, 4.0, np.inf, np.inf]), 0.5) is None
    assert trial_quantile(np.array([3.0, 4.0, 5.0, 6.0]), 0.5) == np.quantile([3.0, 4.0, 5.0, 6.0], 0.5)
    sparse = trial_days(daily_throughput=[0] * 995 + [1] * 5, items=6)  # some trials pass three years
    assert np.isinf(sparse).any() and not np.isinf(sparse).all()
    finishing = np.isfinite(sparse).mean()
    values = [trial_quantile(sparse, q) for q in (0.01, finishing / 2, 0.99)]
    assert 0 < values[0] <= values[1] < np.inf and values[2] is None  # days while trials finish, then None


def test_trials_kept_in_the_cache_are_the_simulated_ones_and_callers_get_their_own_copy():
    """`trial_days` keeps its trials under its inputs (a pure function of pace, items, share and
    seed): the kept trials equal a fresh simulation, and sorting one answer leaves the next as
    simulated."""
    pace = Pace((3, 0, 1, 4, 0, 2, 5) * 12, (((1, 0, 0, 2, 0, 1, 1) * 12, 1.5),))
    fresh = simulated_days(daily_throughput=pace, items=40, share=0.5)
    first = trial_days(daily_throughput=pace, items=40, share=0.5)
    first.sort()
    again = trial_days(daily_throughput=pace, items=40, share=0.5)
    assert np.array_equal(again, fresh) and not np.array_equal(again, first)
    assert not np.array_equal(trial_days(daily_throughput=pace, items=41, share=0.5), fresh)
