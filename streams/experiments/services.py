"""Improvement experiments judged from flow data, with the statistics of DESIGN.md.

An experiment changes something in a stream on its start date and is reviewed on its review
date. Its two periods have the same length, L = review − start days:
- before: the L days up to the start (the baseline, read from the history as it was then);
- after: the L days from the start up to the review date (the review day itself is not in
  it, so the judgement can run on that day with complete data).

The samples of each period, with the flow engine's definitions (`streams.flow.engine`), read in
one query for both periods (`streams.experiments.samples`, held to the engine's report by tests):
- flow time and flow efficiency: the items that started *and* finished inside the period.
  Both periods are cut off the same way (an item taking longer than L days is in neither),
  so the comparison is fair even though each sample leaves out the slowest items;
- throughput: items finished on each day of the period (days with none included);
- flow load (WIP): items in progress at the end of each day.

The tests (two-sided, at 5%):
- flow time: Mann-Whitney U (the normal approximation with tie and continuity corrections,
  which is what scipy's "auto" method picks for samples of `MIN_ITEMS` or more;
  `streams.experiments.ranks`);
- throughput, efficiency and WIP: a bootstrap 95% interval of after − before (10,000
  resamples with a fixed seed): throughput resamples days, efficiency resamples items and
  recomputes Σ active ÷ Σ flow, WIP resamples whole weeks (days in a row are not independent).

Verdict: "improved" when the test finds a change in the direction the hypothesis expected,
"worse" when it finds one in the other direction, "no evidence" otherwise, including when a
period has too few items to judge (the result says why). Whether the change reached the
expected size is recorded beside the verdict.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import datetime as dt
import math

from django.db import connection, transaction
from django.utils import timezone
import numpy as np

from streams.experiments.ranks import MIN_SAMPLE, mann_whitney_u
from streams.experiments.samples import period_figures
from streams.flow.engine import FLOW_TYPES, Scope, Window
from streams.flow.report import flow_report
from streams.models import BacklogItem, ImprovementExperiment, WorkflowState

ALPHA = 0.05
MIN_ITEMS = 10  # items per period for flow time and efficiency; in both periods together for throughput
# The rank test's normal approximation (scipy's choice for samples of more than 8) needs as many.
assert MIN_ITEMS >= MIN_SAMPLE
MIN_DAYS = 14  # days per period: the shortest experiment the form accepts
TRIALS = 10_000
SEED = 20_261_121
WEEK = 7

Metric = ImprovementExperiment.Metric
Verdict = ImprovementExperiment.Verdict

METHODS = {
    Metric.FLOW_TIME: (
        "Mann-Whitney U test (two-sided, 5%) on the flow times of the items that started and finished in each period"
    ),
    Metric.THROUGHPUT: ("Bootstrap 95% interval (10,000 resamples of days) of the change in items finished per week"),
    Metric.EFFICIENCY: (
        "Bootstrap 95% interval (10,000 resamples of items) of the change in flow efficiency "
        "(Σ active ÷ Σ flow time) of the items that started and finished in each period"
    ),
    Metric.WIP: "Bootstrap 95% interval (10,000 resamples of whole weeks) of the change in mean day-end WIP",
}
UNITS = {
    Metric.FLOW_TIME: "days",
    Metric.THROUGHPUT: "items per week",
    Metric.EFFICIENCY: "%",
    Metric.WIP: "items",
}
INTERVAL_UNITS = UNITS | {Metric.EFFICIENCY: "percentage points"}
LABELS = {
    Metric.FLOW_TIME: "Median flow time",
    Metric.THROUGHPUT: "Items finished per week",
    Metric.EFFICIENCY: "Flow efficiency",
    Metric.WIP: "Mean day-end WIP",
}


# --- Periods and samples ----------------------------------------------------------------------


@dataclass(frozen=True)
class Periods:
    before: Window
    after: Window

    @property
    def days(self) -> int:
        return self.after.days


def experiment_periods(experiment: ImprovementExperiment) -> Periods:
    """The before and after periods: L whole UTC days each, L = review − start."""
    length = (experiment.review_date - experiment.start_date).days
    if length < 1:
        raise ValueError("the review date must be after the start date")

    def period(first: dt.date) -> Window:
        last = first + dt.timedelta(days=length - 1)
        as_of = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
        return Window.build(start=first, end=last, as_of=as_of)

    return Periods(
        before=period(experiment.start_date - dt.timedelta(days=length)), after=period(experiment.start_date)
    )


@dataclass
class Sample:
    """What one period measured, for the experiment's items (its stream, maybe one flow type)."""

    window: Window
    flow_days: list[float] = field(default_factory=list)  # items started and finished in the period
    active_days: list[float] = field(default_factory=list)  # the same items' active time
    daily_throughput: list[int] = field(default_factory=list)
    daily_wip: list[int] = field(default_factory=list)
    measurable: bool = True  # the stream maps a waiting state (efficiency needs one)

    @property
    def items(self) -> int:
        return len(self.flow_days)

    @property
    def finished(self) -> int:
        return sum(self.daily_throughput)

    @property
    def median_flow(self) -> float | None:
        return float(np.median(self.flow_days)) if self.flow_days else None

    @property
    def per_week(self) -> float:
        return WEEK * self.finished / len(self.daily_throughput) if self.daily_throughput else 0.0

    @property
    def efficiency(self) -> float | None:
        total = sum(self.flow_days)
        return sum(self.active_days) / total if self.measurable and total > 0 else None

    @property
    def mean_wip(self) -> float | None:
        return sum(self.daily_wip) / len(self.daily_wip) if self.daily_wip else None

    def value(self, metric: str) -> float | None:
        """The period's figure for the metric, in the units of UNITS."""
        if metric == Metric.FLOW_TIME:
            return self.median_flow
        if metric == Metric.THROUGHPUT:
            return self.per_week
        if metric == Metric.EFFICIENCY:
            return None if self.efficiency is None else 100 * self.efficiency
        return self.mean_wip

    def summary(self, metric: str) -> dict:
        """What the page shows of a period (JSON-ready)."""
        last = self.window.end - dt.timedelta(days=1)
        data = {
            "from": self.window.start.date().isoformat(),
            "to": last.date().isoformat(),
            "days": self.window.days,
            "value": _round(self.value(metric)),
            "label": LABELS[metric],
            "unit": UNITS[metric],
            "finished": self.finished,
            "started_and_finished": self.items,
        }
        if self.flow_days:
            data["flow_p50"] = _round(float(np.percentile(self.flow_days, 50)))
            data["flow_p85"] = _round(float(np.percentile(self.flow_days, 85)))
        return data


def experiment_scope(experiment: ImprovementExperiment) -> Scope:
    """The experiment's stream, or only its items of one flow type."""
    stream = experiment.stream
    if not experiment.flow_type:
        return Scope.stream(stream)
    if experiment.flow_type not in FLOW_TYPES:
        raise ValueError(f"unknown flow type {experiment.flow_type!r}")
    items = BacklogItem._meta.db_table
    return Scope.items(
        f"{stream.name}: {experiment.get_flow_type_display()} items",
        f"SELECT id FROM {items} WHERE stream_id = {int(stream.pk)} AND flow_type = '{experiment.flow_type}'",
        id=stream.pk,
    )


def period_sample_from_report(scope: Scope, window: Window) -> Sample:
    """One period's samples from the engine's whole report (`flow_report`, every metric and
    every item's facts, the history as of the period's end): the reference `period_sample`
    is held to by the tests."""
    report = flow_report(scope=scope, window=window)
    started_inside = [f for f in report.finished if f.start is not None and f.start >= window.start]
    return Sample(
        window=window,
        flow_days=[f.flow_days for f in started_inside],
        active_days=[f.active_days for f in started_inside],
        daily_throughput=list(report.daily_throughput),
        daily_wip=[day["wip"] for day in report.daily],
        measurable=report.efficiency_measurable,
    )


def period_sample(scope: Scope, window: Window) -> Sample:
    """One period's samples, the history read as of its end (`period_samples`)."""
    return period_samples(scope, [window])[0]


def period_samples(scope: Scope, windows: list[Window], *, metric: str | None = None) -> list[Sample]:
    """Each period's samples, the history read as of its end: what `period_sample_from_report`
    finds, read for all the periods in one query (`streams.experiments.samples`). `scope` lies
    in one stream, whose id is the scope's (`experiment_scope`).

    With a `metric`, only what its judgement and summaries read: the active days for
    efficiency, the day-end WIP for WIP (the lists not read stay empty)."""
    figures = period_figures(
        scope,
        windows,
        active=metric in (None, Metric.EFFICIENCY),
        wip=metric in (None, Metric.WIP),
    )
    # Items counted in a figure are items in the scope.
    seen = any(f.flow_days or any(f.daily_throughput) or any(f.daily_wip) for f in figures)
    measurable = scope_measurable(scope, has_items=seen or None)
    return [
        Sample(
            window=f.window,
            flow_days=f.flow_days,
            active_days=f.active_days,
            daily_throughput=f.daily_throughput,
            daily_wip=f.daily_wip,
            measurable=measurable,
        )
        for f in figures
    ]


def scope_measurable(scope: Scope, *, has_items: bool | None = None) -> bool:
    """Whether flow efficiency is measurable for a scope within one stream (id: the stream's),
    as the engine's report says: the stream maps a waiting state, and for a scope of items, it
    has some (the report finds the streams of the items: none without items); `has_items`
    when the caller knows. The report's query over every stream took 2-2.7 s for a scope of
    items."""
    waiting = WorkflowState.objects.filter(stream_id=scope.id, category=WorkflowState.Category.WAITING).exists()
    if not waiting or scope.kind == "stream" or has_items is not None:
        return waiting and (scope.kind == "stream" or bool(has_items))
    # A count, not EXISTS: PostgreSQL read the items in id order hoping for an early match
    # (0.8 s for a flow type with few items); the count reads the stream's items by index.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {BacklogItem._meta.db_table} i WHERE {scope.item_filter_sql('i')}")
        return cursor.fetchone()[0] > 0


# --- Statistics -------------------------------------------------------------------------------


def bootstrap_difference(
    before, after, statistic, *, trials: int = TRIALS, seed: int = SEED, chunk: int = 250
) -> tuple[float, float]:
    """95% percentile interval of statistic(after) − statistic(before), each period resampled
    with replacement on its own. `before`/`after` are arrays of units, or of rows of two
    columns. For units, `statistic` maps the resampled units, an array of shape (trials, n), to
    (trials,); for rows it maps their two column sums, a pair of arrays of shape (trials,) (a
    ratio of sums, say), to (trials,).

    Trials are drawn `chunk` at a time, so memory stays at chunk × n units (a few MB for
    thousands of items) instead of trials × n. A row's two columns travel as one complex
    number, so one gather and one sum serve both with the same picks: gathering whole rows
    into a (trials, n, 2) array and summing across its middle axis took ten times as long (0.6 s
    of the efficiency verdict on 2,000 items), and one gather per column 308 ms of CPU where
    this takes 212 (2,100 items a period).

    Each period has its own generator (the seed's two children) and is resampled on a thread of
    its own: drawing the picks, gathering and summing run outside the GIL, one period on each
    core. The picks are drawn as the smallest unsigned integers that hold the period's indexes
    (16 bits up to 65,536 units), which numpy draws in half the time of 64-bit ones."""
    generators = [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2)]
    periods = [_packed(np.asarray(units, dtype=float)) for units in (before, after)]

    def statistics(period: int) -> np.ndarray:
        units, rng = periods[period], generators[period]
        index = _index_type(len(units))
        values = []
        for first in range(0, trials, chunk):
            picks = rng.integers(0, len(units), size=(min(chunk, trials - first), len(units)), dtype=index)
            # np.take: the same values as units[picks], in two thirds of the time.
            taken = np.take(units, picks)
            if np.iscomplexobj(units):
                sums = taken.sum(axis=1)
                values.append(statistic((sums.real, sums.imag)))
            else:
                values.append(statistic(taken))
        return np.concatenate(values)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="bootstrap") as pool:
        of_before, of_after = pool.map(statistics, (0, 1))
    low, high = np.nanpercentile(of_after - of_before, [2.5, 97.5])
    return float(low), float(high)


def _index_type(n: int) -> type:
    """The smallest unsigned integer type that holds the indexes of n units."""
    return next(kind for kind in (np.uint16, np.uint32, np.uint64) if n - 1 <= np.iinfo(kind).max)


def _packed(units: np.ndarray) -> np.ndarray:
    """Units as they are; rows of two columns as complex numbers (real: the first column)."""
    if units.ndim == 1:
        return units
    if units.shape[1] != 2:
        raise ValueError(f"rows of two columns are resampled, not of {units.shape[1]}")
    return units[:, 0] + 1j * units[:, 1]


def _mean(resampled):
    return resampled.mean(axis=1)


def ratio_of_sums(sums):
    """Σ active ÷ Σ flow of resampled (active, flow) rows, given their two column sums; NaN
    when no flow time at all."""
    active, flow = sums
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(flow > 0, active / flow, np.nan)


def weekly_means(daily: list[int]) -> list[float]:
    """Means of consecutive 7-day blocks (a shorter last block counts as one more)."""
    return [sum(block) / len(block) for block in (daily[k : k + WEEK] for k in range(0, len(daily), WEEK))]


@dataclass
class Judgement:
    verdict: str
    reason: str
    result: dict


def _direction(difference_sign: int, expected: str) -> str:
    """improved / worse for a significant change of that sign, given the expected direction."""
    moved_up = difference_sign > 0
    return Verdict.IMPROVED if moved_up == (expected == ImprovementExperiment.Direction.INCREASE) else Verdict.WORSE


def judge(experiment: ImprovementExperiment, before: Sample, after: Sample) -> Judgement:
    """The verdict and its evidence for two period samples (pure: no database)."""
    metric = experiment.target_metric
    result: dict = {
        "metric": metric,
        "method": METHODS[metric],
        "alpha": ALPHA,
        "before": before.summary(metric),
        "after": after.summary(metric),
    }
    too_few = _too_few(metric, before, after)
    if too_few:
        result["too_few"] = True
        return _done(experiment, Verdict.NO_EVIDENCE, too_few, result)

    sign = 0
    if metric == Metric.FLOW_TIME:
        test = mann_whitney_u(after.flow_days, before.flow_days)
        # U of "after" over n1·n2: the chance that an item after the change took longer than one
        # before (ties count half); 0.5 means no tendency either way.
        superiority = float(test.statistic) / (after.items * before.items)
        result |= {
            "u": float(test.statistic),
            "p_value": float(f"{test.pvalue:.4g}"),
            "p_after_longer": _round(superiority),
        }
        significant = test.pvalue < ALPHA
        sign = 1 if superiority > 0.5 else -1 if superiority < 0.5 else 0
        evidence = (
            f"p = {test.pvalue:.3g}; an item after the change took longer than one before in {superiority:.0%} of pairs"
        )
    else:
        if metric == Metric.THROUGHPUT:
            units_before, units_after, statistic, scale = before.daily_throughput, after.daily_throughput, _mean, WEEK
        elif metric == Metric.EFFICIENCY:
            units_before = list(zip(before.active_days, before.flow_days, strict=True))
            units_after = list(zip(after.active_days, after.flow_days, strict=True))
            statistic, scale = ratio_of_sums, 100
        else:
            units_before, units_after = weekly_means(before.daily_wip), weekly_means(after.daily_wip)
            statistic, scale = _mean, 1
        low, high = bootstrap_difference(units_before, units_after, statistic, seed=SEED + experiment.pk)
        low, high = low * scale, high * scale
        result |= {"interval": [_round(low), _round(high)], "interval_unit": INTERVAL_UNITS[metric]}
        significant = low > 0 or high < 0
        sign = 1 if low > 0 else -1 if high < 0 else 0
        evidence = f"95% interval of the change: {low:+.2f} to {high:+.2f} {INTERVAL_UNITS[metric]}"

    change = _relative_change(before.value(metric), after.value(metric))
    result["change_percent"] = None if change is None else _round(100 * change, 1)
    if significant and sign:
        verdict = _direction(sign, experiment.expected_direction)
        size_reached = (
            change is not None and verdict == Verdict.IMPROVED and abs(change) * 100 >= experiment.expected_size_percent
        )
        result["size_reached"] = size_reached
        return _done(experiment, verdict, evidence, result)
    return _done(experiment, Verdict.NO_EVIDENCE, f"The difference could be chance: {evidence}.", result)


def _too_few(metric: str, before: Sample, after: Sample) -> str:
    """Why the periods cannot be judged, or ""."""
    if before.window.days < MIN_DAYS:
        return f"Each period has {before.window.days} days; at least {MIN_DAYS} are needed."
    if metric in (Metric.FLOW_TIME, Metric.EFFICIENCY):
        if metric == Metric.EFFICIENCY and not (before.measurable and after.measurable):
            return "Flow efficiency is not measurable: the stream's workflow has no waiting state."
        if min(before.items, after.items) < MIN_ITEMS:
            return (
                f"Too few items to judge: {before.items} started and finished before the change and "
                f"{after.items} after; at least {MIN_ITEMS} are needed in each period."
            )
    if metric == Metric.THROUGHPUT and before.finished + after.finished < 2 * MIN_ITEMS:
        return (
            f"Too few items to judge: {before.finished} finished before the change and {after.finished} "
            f"after; at least {2 * MIN_ITEMS} are needed in the two periods together."
        )
    if metric == Metric.WIP and not any(before.daily_wip + after.daily_wip):
        return "No work was in progress in either period."
    return ""


def _done(experiment, verdict: str, reason: str, result: dict) -> Judgement:
    result |= {"verdict": verdict, "reason": reason, "expected": _expected(experiment)}
    return Judgement(verdict=verdict, reason=reason, result=result)


def _expected(experiment) -> str:
    word = "rise" if experiment.expected_direction == ImprovementExperiment.Direction.INCREASE else "fall"
    return f"{experiment.get_target_metric_display()} to {word} by {experiment.expected_size_percent}%"


def _relative_change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return (after - before) / before


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(value, digits)


# --- Services: baseline and verdict -----------------------------------------------------------


def today_utc() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def experiment_baseline(experiment: ImprovementExperiment) -> dict:
    """The before period's figures (the page shows them from the start date on)."""
    metric = experiment.target_metric
    (sample,) = period_samples(experiment_scope(experiment), [experiment_periods(experiment).before], metric=metric)
    return sample.summary(metric)


def experiment_record_baseline(*, experiment_id: int, today: dt.date | None = None) -> bool:
    """Store the baseline once the start date has come; returns whether it wrote one."""
    today = today or today_utc()
    with transaction.atomic():
        experiment = (
            ImprovementExperiment.objects.select_for_update(of=("self",)).select_related("stream").get(pk=experiment_id)
        )
        if experiment.baseline is not None or experiment.start_date > today:
            return False
        experiment.baseline = experiment_baseline(experiment)
        experiment.save(update_fields=["baseline"])
        return True


def experiment_decide(*, experiment_id: int, today: dt.date | None = None) -> bool:
    """Judge an experiment whose review date has come; returns whether it recorded a verdict.

    Idempotent: a decided experiment is left alone, and the lock makes two runs at once
    decide it once."""
    today = today or today_utc()
    with transaction.atomic():
        experiment = (
            ImprovementExperiment.objects.select_for_update(of=("self",)).select_related("stream").get(pk=experiment_id)
        )
        if experiment.verdict != Verdict.PENDING or experiment.review_date > today:
            return False
        periods = experiment_periods(experiment)
        scope = experiment_scope(experiment)
        metric = experiment.target_metric
        before, after = period_samples(scope, [periods.before, periods.after], metric=metric)
        judgement = judge(experiment, before, after)
        if experiment.baseline is None:
            experiment.baseline = before.summary(experiment.target_metric)
        experiment.result = judgement.result
        experiment.verdict = judgement.verdict
        experiment.decided_at = timezone.now()
        experiment.save(update_fields=["baseline", "result", "verdict", "decided_at"])
        return True


def experiments_review(*, today: dt.date | None = None) -> dict[str, int]:
    """The daily job: baselines of experiments that have started, verdicts of those due."""
    today = today or today_utc()
    pending = ImprovementExperiment.objects.filter(verdict=Verdict.PENDING)
    baselines = [
        pk
        for pk in pending.filter(baseline__isnull=True, start_date__lte=today).values_list("pk", flat=True)
        if experiment_record_baseline(experiment_id=pk, today=today)
    ]
    decided = [
        pk
        for pk in pending.filter(review_date__lte=today).values_list("pk", flat=True)
        if experiment_decide(experiment_id=pk, today=today)
    ]
    return {"baselines": len(baselines), "verdicts": len(decided)}


def experiment_create(*, experiment: ImprovementExperiment, today: dt.date | None = None) -> ImprovementExperiment:
    """Save a new experiment. One that has started gets its baseline at once; one whose review
    date has passed already (a change made earlier, judged now) gets its verdict at once."""
    today = today or today_utc()
    experiment.full_clean()
    experiment.save()
    experiment_record_baseline(experiment_id=experiment.pk, today=today)
    experiment_decide(experiment_id=experiment.pk, today=today)
    experiment.refresh_from_db()
    return experiment
