"""The periods' samples read for a verdict equal those of the engine's whole report, on an
awkward history: returns to the backlog, blocked time, removed, held-back and cut-short items,
items done without being in progress, reopened ones, two done states, moves at midnight."""

import datetime as dt
import math

import pytest

from streams.backlog.services import items_refresh_flow_dates
from streams.experiments.services import (
    experiment_periods,
    experiment_scope,
    judge,
    period_sample,
    period_sample_from_report,
    period_samples,
)
from streams.flow.engine import Window
from streams.models import BacklogItem, BlockedPeriod, ImprovementExperiment, WorkflowState
from streams.tests.factories import ValueStreamFactory
from streams.tests.flow_history import make

from .test_experiments import BEFORE, REVIEW, START, at

pytestmark = pytest.mark.django_db


def awkward_stream():
    """A stream whose items cover every rule the samples depend on, around both periods."""
    stream = ValueStreamFactory()
    WorkflowState.objects.create(stream=stream, name="Released", category="done", order=10)
    other = ValueStreamFactory()
    items = {}

    def item(name, moves, flow_type="feature", created=None, into=stream):
        items[name] = make(into, name, flow_type, moves, created=created or at(BEFORE, -60))
        return items[name]

    for first in (BEFORE, START):
        for k in range(12):
            # Plain items, active then waiting then done, some of them defects.
            s = at(first, 0.3 + 2 * k)
            item(
                f"plain {first} {k}",
                [
                    ("In progress", s),
                    ("Waiting for review", s + dt.timedelta(days=1)),
                    ("Done", s + dt.timedelta(2 + k % 4)),
                ],
                flow_type="defect" if k % 3 == 0 else "feature",
            )
    # Started before the before period, finished inside it (not in its flow-time sample).
    item("old start", [("In progress", at(BEFORE, -10)), ("Done", at(BEFORE, 5))])
    # In progress across both periods; another done exactly at the after period's start.
    item("long", [("In progress", at(BEFORE, -40)), ("Review", at(BEFORE, 3))])
    item("at midnight", [("In progress", at(BEFORE)), ("Released", at(START))])
    item("starts at the end", [("In progress", at(REVIEW))])
    # Returned to the backlog, then picked up again and finished; and one left there.
    item(
        "returned",
        [
            ("In progress", at(BEFORE, 1)),
            ("Backlog", at(BEFORE, 3)),
            ("In progress", at(BEFORE, 6)),
            ("Done", at(BEFORE, 9)),
        ],
    )
    item("left in backlog", [("In progress", at(START, 2)), ("Ready", at(START, 4))])
    # Reopened after a finish, finished again later.
    item(
        "reopened",
        [("In progress", at(BEFORE, 2)), ("Done", at(BEFORE, 4)), ("Review", at(BEFORE, 20)), ("Done", at(START, 3))],
    )
    # Done without being in progress: inside a period; inside the before period then reopened
    # into the backlog and done directly again after (its start moved with its last finish).
    item("direct", [("Done", at(START, 5))])
    item("direct twice", [("Done", at(BEFORE, 7)), ("Backlog", at(START, 2)), ("Released", at(REVIEW, 3))])
    item("direct then backlog", [("Done", at(BEFORE, 8)), ("Ready", at(START, 1))])
    # Removed: inside the after period, and after it (still in the before period's figures).
    item("removed inside", [("In progress", at(START, 1)), ("Removed", at(START, 6))])
    item("removed later", [("In progress", at(BEFORE, 10)), ("Done", at(BEFORE, 12)), ("Removed", at(REVIEW, 2))])
    item("removed in progress later", [("In progress", at(BEFORE, 5)), ("Removed", at(START, 10))])
    # Blocked: overlapping periods while active, one while waiting, one still open.
    blocked = item(
        "blocked",
        [
            ("In progress", at(START, 1)),
            ("Waiting for review", at(START, 5)),
            ("Review", at(START, 7)),
            ("Done", at(START, 12)),
        ],
    )
    BlockedPeriod.objects.create(item=blocked, reason="dependency", started_at=at(START, 2), ended_at=at(START, 4))
    BlockedPeriod.objects.create(item=blocked, reason="approval", started_at=at(START, 3), ended_at=at(START, 6))
    BlockedPeriod.objects.create(item=blocked, reason="capacity", started_at=at(START, 8), ended_at=None)
    open_block = item("blocked open", [("In progress", at(BEFORE, 15)), ("Done", at(BEFORE, 25))])
    BlockedPeriod.objects.create(item=open_block, reason="other", started_at=at(BEFORE, 16), ended_at=at(START, 3))
    # Held back by a sync, and cut short by an export.
    held = item("held", [("In progress", at(START, 2)), ("Done", at(START, 4))])
    cut = item("cut", [("In progress", at(BEFORE, 3)), ("Done", at(BEFORE, 6))])
    cut_open = item("cut open", [("Review", at(START, 3))])
    BacklogItem.objects.filter(pk=held.pk).update(held_back=True)
    BacklogItem.objects.filter(pk__in=[cut.pk, cut_open.pk]).update(history_cut_short=True)
    items_refresh_flow_dates(BacklogItem.objects.filter(stream=stream))
    # Never started; and another stream's work.
    item("never started", [])
    item("elsewhere", [("In progress", at(START, 1)), ("Done", at(START, 3))], into=other)
    return stream


def assert_same(fast, exact):
    assert fast.window == exact.window
    assert fast.flow_days == exact.flow_days
    assert len(fast.active_days) == len(exact.active_days)
    # Sums of floats the database may add up in another order: equal to the last digits.
    assert all(
        math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
        for a, b in zip(fast.active_days, exact.active_days, strict=True)
    )
    assert fast.daily_throughput == exact.daily_throughput
    assert fast.daily_wip == exact.daily_wip
    assert fast.measurable == exact.measurable


@pytest.mark.parametrize("flow_type", ["", "feature", "defect"])
def test_the_periods_samples_equal_the_engines(flow_type):
    stream = awkward_stream()
    experiment = ImprovementExperiment(stream=stream, flow_type=flow_type, start_date=START, review_date=REVIEW)
    scope = experiment_scope(experiment)
    periods = experiment_periods(experiment)
    for window in (periods.before, periods.after):
        fast, exact = period_sample(scope, window), period_sample_from_report(scope, window)
        assert exact.items > 0 and sum(exact.daily_wip) > 0 and exact.finished > 0
        assert_same(fast, exact)


def test_windows_on_other_days_and_a_partial_last_day_agree_too():
    stream = awkward_stream()
    scope = experiment_scope(ImprovementExperiment(stream=stream, start_date=START, review_date=REVIEW))
    windows = [
        Window.build(start=BEFORE + dt.timedelta(days=k), end=START + dt.timedelta(days=k), as_of=at(START, k + 1))
        for k in (3, 10, 20)
    ] + [Window.build(start=START, end=REVIEW, as_of=at(START, 9.5))]
    for window in windows:
        assert_same(period_sample(scope, window), period_sample_from_report(scope, window))


def test_a_stream_without_a_waiting_state_is_not_measurable_either_way():
    stream = ValueStreamFactory(workflow=[("Backlog", "backlog"), ("In progress", "active"), ("Done", "done")])
    for k in range(5):
        make(stream, f"i{k}", "feature", [("In progress", at(START, k)), ("Done", at(START, k + 2))])
    experiment = ImprovementExperiment(stream=stream, start_date=START, review_date=REVIEW)
    after = experiment_periods(experiment).after
    fast, exact = (
        period_sample(experiment_scope(experiment), after),
        period_sample_from_report(experiment_scope(experiment), after),
    )
    assert fast.measurable is exact.measurable is False
    assert_same(fast, exact)


def test_a_flow_type_with_no_items_gives_empty_samples_either_way():
    stream = awkward_stream()
    experiment = ImprovementExperiment(stream=stream, flow_type="risk", start_date=START, review_date=REVIEW)
    scope, after = experiment_scope(experiment), experiment_periods(experiment).after
    fast, exact = period_sample(scope, after), period_sample_from_report(scope, after)
    assert exact.items == exact.finished == 0 and not any(exact.daily_wip)
    assert_same(fast, exact)


def test_a_flow_type_whose_items_never_started_is_measurable_but_empty_either_way():
    stream = awkward_stream()
    make(stream, "debt never started", "debt", [])
    experiment = ImprovementExperiment(stream=stream, flow_type="debt", start_date=START, review_date=REVIEW)
    scope, after = experiment_scope(experiment), experiment_periods(experiment).after
    fast, exact = period_sample(scope, after), period_sample_from_report(scope, after)
    assert exact.items == exact.finished == 0 and exact.measurable
    assert_same(fast, exact)


@pytest.mark.parametrize("metric", ImprovementExperiment.Metric.values)
def test_a_verdict_reads_only_what_its_metric_needs_and_judges_the_same(metric):
    stream = awkward_stream()
    experiment = ImprovementExperiment.objects.create(
        stream=stream, title="t", hypothesis="-", change="-", target_metric=metric, start_date=START, review_date=REVIEW
    )
    scope, periods = experiment_scope(experiment), experiment_periods(experiment)
    windows = [periods.before, periods.after]
    full, read = period_samples(scope, windows), period_samples(scope, windows, metric=metric)
    for whole, part in zip(full, read, strict=True):
        assert (part.flow_days, part.daily_throughput, part.measurable) == (
            whole.flow_days,
            whole.daily_throughput,
            whole.measurable,
        )
        assert part.active_days == (whole.active_days if metric == "efficiency" else [])
        assert part.daily_wip == (whole.daily_wip if metric == "wip" else [])
    assert judge(experiment, *read).result == judge(experiment, *full).result
