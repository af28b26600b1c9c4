"""Monte Carlo forecasts from daily throughput, as DESIGN.md defines them.

Days are sampled with replacement from the daily throughput of the last weeks (days with
nothing finished included), 10,000 trials with a fixed seed, so the same history always gives
the same forecast. Results are read at 50/85/95% confidence:
- how many items by a date: the count reached in at least that share of trials;
- when N items will be done: the number of days within which that share of trials finished.
Every forecast states its sample (days, items finished) and refuses below MIN_FINISHED items
finished in it, saying why (`too_little_history`): a pace read from a handful of items is noise.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
import hashlib
import math

from django.core.cache import cache
import numpy as np

TRIALS = 10_000
SEED = 20_260_101
CONFIDENCES = (0.50, 0.85, 0.95)
MAX_DAYS = 3 * 365  # a forecast further out than three years says "not within three years"
MIN_FINISHED = 5  # items finished in the sample, below which no forecast is made


def too_little_history(finished: int, days: int, who: str = "the stream") -> str:
    """The one sentence every forecast refuses with."""
    span = "the last 12 weeks" if days == 84 else f"the {days} days sampled"
    return (
        f"Too little history: {who} finished {finished} item{'s' if finished != 1 else ''} in {span}; "
        f"a forecast needs at least {MIN_FINISHED}."
    )


@dataclass(frozen=True)
class Forecast:
    """A forecast at each confidence level; `values` maps 0.5/0.85/0.95 to a count or a date."""

    values: dict[float, int | dt.date | None]
    sample_days: int
    trials: int = TRIALS
    note: str = ""
    sample_items: int = 0  # items finished in the sample
    refused: str = ""  # why there is no forecast ("" when there is one)

    @property
    def ordered(self) -> list:
        """The values at 50, 85 and 95%, in that order (for tables)."""
        return [self.values[c] for c in CONFIDENCES]


BLOCK_DAYS = 90  # days simulated at once: memory stays at TRIALS x BLOCK_DAYS small integers


@dataclass(frozen=True)
class Pace:
    """A daily throughput sample, some of whose parts a scenario scales.

    `base` holds each sampled day's finished items not scaled; each of `parts` holds, for the same
    days, the items one team finished (in one stream) and the factor its pace is scaled by. A day
    is drawn whole (its parts together); a part scaled by f counts ⌊f⌋ times plus a binomial
    draw of the fraction, so its expected pace is f times its own and nobody else's.
    """

    base: tuple[int, ...]
    parts: tuple[tuple[tuple[int, ...], float], ...] = ()

    @classmethod
    def of(cls, daily_throughput) -> Pace:
        return daily_throughput if isinstance(daily_throughput, Pace) else cls(tuple(int(v) for v in daily_throughput))

    @property
    def days(self) -> int:
        return len(self.base)

    @property
    def daily(self) -> np.ndarray:
        """The expected items finished on each sampled day (parts at their factors)."""
        values = np.asarray(self.base, dtype=float)
        for part, factor in self.parts:
            values = values + factor * np.asarray(part, dtype=float)
        return values

    @property
    def items(self) -> float:
        return float(self.daily.sum())

    def any(self) -> bool:
        return bool((self.daily > 0).any())

    def draw(self, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
        base = np.asarray(self.base, dtype=np.int32)
        if not self.parts:
            return rng.choice(base, size=size, replace=True)
        index = rng.integers(0, len(base), size=size)
        drawn = base[index].astype(np.int64)
        for part, factor in self.parts:
            counts = np.asarray(part, dtype=np.int64)[index]
            whole = int(factor)
            drawn += whole * counts + rng.binomial(counts, factor - whole)
        return drawn


def _blocks(daily_throughput, days: int, seed: int, first_block: int = BLOCK_DAYS):
    """Yield the trials' sampled days in blocks of at most BLOCK_DAYS columns (the first of
    `first_block` columns: a forecast expected to end within days need not draw 90)."""
    rng = np.random.default_rng(seed)
    pace = Pace.of(daily_throughput)
    first = 0
    while first < days:
        width = min(first_block if first == 0 else BLOCK_DAYS, days - first)
        yield first, pace.draw(rng, (TRIALS, width))
        first += width


def forecast_how_many(*, daily_throughput: list[int], days: int, seed: int = SEED) -> Forecast:
    """How many items will be finished in the next `days` days (at most three years), at each confidence."""
    if days > MAX_DAYS:
        raise ValueError(f"a forecast reaches at most {MAX_DAYS} days ahead, not {days}")
    finished = int(sum(daily_throughput))
    if not daily_throughput or days <= 0:
        return Forecast({c: None for c in CONFIDENCES}, len(daily_throughput), note="No days to forecast.")
    if finished < MIN_FINISHED:
        return _refused(daily_throughput)
    totals = np.zeros(TRIALS, dtype=np.int64)
    for _, block in _blocks(daily_throughput, days, seed):
        totals += block.sum(axis=1)
    totals.sort()
    # At confidence c, c of the trials finished at least this many: the (1 − c) quantile, rounded down.
    values = {c: int(totals[int(np.floor((1 - c) * (TRIALS - 1)))]) for c in CONFIDENCES}
    return Forecast(values, len(daily_throughput), sample_items=finished)


def _refused(daily_throughput) -> Forecast:
    finished = int(sum(daily_throughput))
    why = too_little_history(finished, len(daily_throughput))
    return Forecast({c: None for c in CONFIDENCES}, len(daily_throughput), note=why, sample_items=finished, refused=why)


def forecast_when(*, daily_throughput: list[int], items: int, start: dt.date, seed: int = SEED) -> Forecast:
    """By which date `items` items will be finished, counting from `start`, at each confidence."""
    finished = int(sum(daily_throughput))
    if items <= 0:
        return Forecast({c: start for c in CONFIDENCES}, len(daily_throughput), sample_items=finished)
    if finished < MIN_FINISHED:
        return _refused(daily_throughput)
    days_needed = trial_days(daily_throughput=daily_throughput, items=items, seed=seed)
    days_needed.sort()
    values: dict[float, dt.date | None] = {}
    for c in CONFIDENCES:
        needed = days_needed[int(np.ceil(c * (TRIALS - 1)))]
        values[c] = None if np.isinf(needed) else start + dt.timedelta(days=int(needed) - 1)
    note = "" if all(values.values()) else "Some confidence levels reach beyond three years."
    return Forecast(values, len(daily_throughput), note=note, sample_items=finished)


TRIALS_CACHED_SECONDS = 3600  # trials are a pure function of their inputs: any lifetime is right


def trial_days(*, daily_throughput: list[int] | Pace, items: int, share: float = 1.0, seed: int = SEED) -> np.ndarray:
    """`simulated_days`, kept in the cache under its inputs: the same pace, items, share and
    seed always give the same trials, and a key result's or an item's forecast is asked again
    after every edit that leaves them as they were (a move within progress elsewhere). When a
    linked item finishes, the items left change and the trials are simulated again."""
    pace = Pace.of(daily_throughput)
    inputs = repr((pace.base, pace.parts, int(items), float(share), int(seed), TRIALS, MAX_DAYS, BLOCK_DAYS))
    key = "trial-days:" + hashlib.blake2b(inputs.encode(), digest_size=16).hexdigest()
    days_needed = cache.get(key)
    if days_needed is None:
        days_needed = simulated_days(daily_throughput=pace, items=items, share=share, seed=seed)
        cache.set(key, days_needed, TRIALS_CACHED_SECONDS)
    return days_needed.copy()  # callers sort it in place


def simulated_days(
    *, daily_throughput: list[int] | Pace, items: int, share: float = 1.0, seed: int = SEED
) -> np.ndarray:
    """Per trial, the days needed to finish `items` items (the last of them counted whole),
    sampling days from `daily_throughput` (a list, or a scenario's `Pace`), thinned to a `share`
    of it: each item the stream finishes is one of ours with that probability. `inf` for a trial
    that needs more than three years. TRIALS values.

    Thinning is drawn per trial, not per day: our last item is the stream's (items + F)-th, F
    negative-binomial (the stream's items that were not ours before it), which has the law of
    thinning each sampled day binomially and is one draw a trial instead of one a trial-day."""
    if not 0 < share <= 1:
        raise ValueError(f"share is a fraction in (0, 1], not {share}")
    days_needed = np.full(TRIALS, np.inf)
    if items <= 0:
        return np.zeros(TRIALS)
    if not Pace.of(daily_throughput).any():
        return days_needed
    targets = np.full(TRIALS, items, dtype=np.int64)
    if share < 1:
        targets += np.random.default_rng(seed).negative_binomial(items, share, size=TRIALS)
    done = np.zeros(TRIALS, dtype=np.int64)
    # Twice the days the slowest target needs at the mean pace: most forecasts end in the first block.
    pace = Pace.of(daily_throughput)
    expected = float(targets.max()) / (pace.items / pace.days)
    first_block = int(min(BLOCK_DAYS, max(7, math.ceil(2 * expected))))
    for first, block in _blocks(pace, MAX_DAYS, seed, first_block):
        cumulative = done[:, None] + np.cumsum(block, axis=1)
        reached = (cumulative >= targets[:, None]) & np.isinf(days_needed)[:, None]
        hit = reached.any(axis=1)
        days_needed[hit] = first + reached[hit].argmax(axis=1) + 1
        done = cumulative[:, -1]
        if not np.isinf(days_needed).any():
            break
    return days_needed


# Infinite trials (more than three years) stand in as HUGE, so NumPy interpolates beside them
# without NaN (inf - inf). A percentile that falls on or beside one of them is then beyond
# BEYOND (interpolation fractions are 0 or above 1e-16), finite ones are days.
HUGE, BEYOND = 1e300, 1e150


def trial_quantile(values: np.ndarray, q: float) -> float | None:
    """The q-quantile of trials (as `np.quantile` interpolates it), None when it falls on or
    beside a trial that never finishes within three years (`inf`). NumPy gives NaN there."""
    value = float(np.quantile(np.where(np.isinf(values), HUGE, values), q))
    return None if value > BEYOND else value


def chance_within(days_needed: np.ndarray, days: int) -> float:
    """The share of trials (from `trial_days`) that finished within `days` days from tomorrow."""
    return float((days_needed <= max(days, 0)).mean())
