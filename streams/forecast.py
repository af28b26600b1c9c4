"""Monte Carlo forecasts from daily throughput, as DESIGN.md defines them.

Days are sampled with replacement from the daily throughput of the last weeks (days with
nothing finished included), 10,000 trials with a fixed seed, so the same history always gives
the same forecast. Results are read at 50/85/95% confidence:
- how many items by a date: the count reached in at least that share of trials;
- when N items will be done: the number of days within which that share of trials finished.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt

import numpy as np

TRIALS = 10_000
SEED = 20_260_101
CONFIDENCES = (0.50, 0.85, 0.95)
MAX_DAYS = 3 * 365  # a forecast further out than three years says "not within three years"


@dataclass(frozen=True)
class Forecast:
    """A forecast at each confidence level; `values` maps 0.5/0.85/0.95 to a count or a date."""

    values: dict[float, int | dt.date | None]
    sample_days: int
    trials: int = TRIALS
    note: str = ""


def _samples(daily_throughput: list[int], days: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(np.asarray(daily_throughput, dtype=np.int64), size=(TRIALS, days), replace=True)


def forecast_how_many(*, daily_throughput: list[int], days: int, seed: int = SEED) -> Forecast:
    """How many items will be finished in the next `days` days, at each confidence."""
    if not daily_throughput or days <= 0:
        return Forecast({c: None for c in CONFIDENCES}, len(daily_throughput), note="No days to forecast.")
    totals = np.sort(_samples(daily_throughput, days, seed).sum(axis=1))
    # At confidence c, c of the trials finished at least this many: the (1 − c) quantile, rounded down.
    values = {c: int(totals[int(np.floor((1 - c) * (TRIALS - 1)))]) for c in CONFIDENCES}
    return Forecast(values, len(daily_throughput))


def forecast_when(*, daily_throughput: list[int], items: int, start: dt.date, seed: int = SEED) -> Forecast:
    """By which date `items` items will be finished, counting from `start`, at each confidence."""
    if items <= 0:
        return Forecast({c: start for c in CONFIDENCES}, len(daily_throughput))
    if not any(daily_throughput):
        return Forecast(
            {c: None for c in CONFIDENCES},
            len(daily_throughput),
            note="Nothing was finished in the sample period, so no finish date can be forecast.",
        )
    cumulative = np.cumsum(_samples(daily_throughput, MAX_DAYS, seed), axis=1)
    reached = cumulative >= items
    # Days needed per trial (1-based); trials that never get there within the horizon get infinity.
    days_needed = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, np.inf)
    days_needed.sort()
    values: dict[float, dt.date | None] = {}
    for c in CONFIDENCES:
        needed = days_needed[int(np.ceil(c * (TRIALS - 1)))]
        values[c] = None if np.isinf(needed) else start + dt.timedelta(days=int(needed) - 1)
    note = "" if all(values.values()) else "Some confidence levels reach beyond three years."
    return Forecast(values, len(daily_throughput), note=note)
