"""Experiment verdicts on constructed histories whose answer is known, and the daily job."""

import datetime as dt
import io

from django.conf import settings
from django.core.management import CommandError, call_command
import numpy as np
import pytest

from portal.celery import app as celery_app
from streams.experiments.services import (
    MIN_ITEMS,
    bootstrap_difference,
    experiment_decide,
    experiment_periods,
    experiments_review,
    weekly_means,
)
from streams.experiments.tasks import review_experiments
from streams.models import ImprovementExperiment
from streams.tests.factories import ValueStreamFactory
from streams.tests.flow_history import bulk_items

pytestmark = pytest.mark.django_db

START = dt.date(2026, 6, 1)
REVIEW = dt.date(2026, 6, 29)  # 28 days: the before period is 4 May to 31 May
BEFORE = dt.date(2026, 5, 4)
AFTER_REVIEW = REVIEW + dt.timedelta(days=1)


def at(day: dt.date, days: float = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(days=days)


def flows(stream, first: dt.date, flow_days, *, active_share=0.5, flow_type="feature"):
    """Items starting every half day from `first`, active then waiting, done after `flow_days`."""
    specs = []
    for k, flow in enumerate(flow_days):
        start = at(first, 0.25 + 0.5 * k)
        moves = [("In progress", start), ("Waiting for review", start + dt.timedelta(days=flow * active_share))]
        specs.append((start - dt.timedelta(hours=1), [*moves, ("Done", start + dt.timedelta(days=flow))]))
    return bulk_items(stream, specs, flow_type=flow_type)


def experiment(stream, **fields):
    values = {
        "title": "WIP limit",
        "hypothesis": "If we limit WIP, flow time falls.",
        "change": "WIP limit of 5",
        "target_metric": "flow_time",
        "expected_direction": "decrease",
        "expected_size_percent": 20,
        "start_date": START,
        "review_date": REVIEW,
    } | fields
    return ImprovementExperiment.objects.create(stream=stream, **values)


def decided(exp) -> ImprovementExperiment:
    assert experiment_decide(experiment_id=exp.pk, today=REVIEW)
    exp.refresh_from_db()
    return exp


SLOW = [8 + k % 5 for k in range(20)]  # 8 to 12 days, median 10
FAST = [3 + k % 3 for k in range(20)]  # 3 to 5 days, median 4


def test_periods_are_equally_long_and_end_before_the_review_day():
    exp = ImprovementExperiment(start_date=START, review_date=REVIEW)
    periods = experiment_periods(exp)
    assert (periods.before.start, periods.before.end) == (at(BEFORE), at(START))
    assert (periods.after.start, periods.after.end) == (at(START), at(REVIEW))
    assert periods.before.as_of == at(START)
    assert periods.days == 28


def test_clear_improvement_of_flow_time_is_improved_and_other_types_do_not_count():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, SLOW)
    flows(stream, START, FAST)
    # Defects got slower: a feature-only experiment must not see them.
    flows(stream, BEFORE, FAST, flow_type="defect")
    flows(stream, START, SLOW, flow_type="defect")
    exp = decided(experiment(stream, flow_type="feature"))

    assert exp.verdict == "improved"
    result = exp.result
    assert result["before"]["started_and_finished"] == 20 and result["after"]["started_and_finished"] == 20
    assert result["before"]["value"] == 10 and result["after"]["value"] == 4
    assert result["change_percent"] == -60.0
    assert result["size_reached"] is True
    assert result["p_value"] < 0.001
    assert result["p_after_longer"] == 0  # every item after was faster than every item before
    assert exp.baseline == result["before"]
    assert exp.decided_at is not None


def test_the_same_flow_times_give_no_evidence():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, SLOW)
    flows(stream, START, list(reversed(SLOW)))
    exp = decided(experiment(stream))
    assert exp.verdict == "no_evidence"
    assert exp.result["p_value"] == 1.0
    assert exp.result["change_percent"] == 0
    assert "could be chance" in exp.result["reason"]


def test_longer_flow_times_are_worse():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, FAST)
    flows(stream, START, SLOW)
    exp = decided(experiment(stream))
    assert exp.verdict == "worse"
    assert exp.result["change_percent"] == 150.0
    assert exp.result["size_reached"] is False


def test_too_few_items_give_no_evidence_and_say_why():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, SLOW[:5])
    flows(stream, START, FAST[: MIN_ITEMS - 1])
    exp = decided(experiment(stream))
    assert exp.verdict == "no_evidence"
    assert exp.result["too_few"] is True
    assert exp.result["reason"] == (
        f"Too few items to judge: 5 started and finished before the change and {MIN_ITEMS - 1} after; "
        f"at least {MIN_ITEMS} are needed in each period."
    )


def test_items_finishing_after_the_period_are_in_neither_sample():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, SLOW)
    # Started in the after period but finished after the review: not in the sample.
    flows(stream, START, [40] * 20)
    exp = decided(experiment(stream))
    assert exp.result["after"]["started_and_finished"] == 0
    assert exp.verdict == "no_evidence"


def test_more_items_finished_per_week_is_improved_throughput():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, [1] * 14)  # 14 in 4 weeks: 3.5 a week
    flows(stream, START, [1] * 40)  # 40 in 4 weeks: 10 a week
    exp = decided(
        experiment(stream, target_metric="throughput", expected_direction="increase", expected_size_percent=50)
    )
    assert exp.verdict == "improved"
    assert exp.result["before"]["value"] == 3.5 and exp.result["after"]["value"] == 10
    low, high = exp.result["interval"]
    assert 0 < low < 6.5 < high
    assert exp.result["size_reached"] is True


def test_fewer_items_finished_is_worse_throughput_even_when_the_after_period_has_none():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, [1] * 30)
    exp = decided(experiment(stream, target_metric="throughput", expected_direction="increase"))
    assert exp.verdict == "worse"
    assert exp.result["after"]["finished"] == 0


def test_more_active_time_is_improved_efficiency():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, SLOW, active_share=0.2)
    flows(stream, START, SLOW, active_share=0.6)
    exp = decided(experiment(stream, target_metric="efficiency", expected_direction="increase"))
    assert exp.verdict == "improved"
    assert exp.result["before"]["value"] == pytest.approx(20)
    assert exp.result["after"]["value"] == pytest.approx(60)


def test_efficiency_without_a_waiting_state_is_not_judged():
    stream = ValueStreamFactory(workflow=[("Backlog", "backlog"), ("In progress", "active"), ("Done", "done")])
    specs = [
        (at(first, k) - dt.timedelta(hours=1), [("In progress", at(first, k)), ("Done", at(first, k + 2))])
        for first in (BEFORE, START)
        for k in range(12)
    ]
    bulk_items(stream, specs)
    exp = decided(experiment(stream, target_metric="efficiency", expected_direction="increase"))
    assert exp.verdict == "no_evidence"
    assert "no waiting state" in exp.result["reason"]


def test_less_work_in_progress_is_improved_wip():
    stream = ValueStreamFactory()
    # Ten items in progress through the whole before period, all finished an hour into the change.
    long_running = [
        (at(BEFORE, -2), [("In progress", at(BEFORE, -1)), ("Done", at(START) + dt.timedelta(hours=1))])
        for _ in range(10)
    ]
    bulk_items(stream, long_running)
    exp = decided(experiment(stream, target_metric="wip"))
    assert exp.verdict == "improved"
    assert exp.result["before"]["value"] == 10 and exp.result["after"]["value"] == 0
    assert exp.result["interval"] == [-10, -10]


def test_bootstrap_interval_of_identical_constant_samples_is_zero_and_of_shifted_ones_the_shift():
    def mean(resampled):
        return resampled.mean(axis=1)

    assert bootstrap_difference([2, 2, 2], [2, 2], mean) == (0, 0)
    assert bootstrap_difference([2, 2, 2], [5, 5], mean) == (3, 3)
    low, high = bootstrap_difference(np.arange(50), np.arange(50) + 100, mean)
    assert 90 < low < 100 < high < 110


def test_weekly_means_keep_a_short_last_week():
    assert weekly_means([1] * 7 + [3] * 7 + [5, 7]) == [1, 3, 6]


def test_the_daily_job_records_baselines_and_verdicts_once():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, SLOW)
    flows(stream, START, FAST)
    due = experiment(stream)
    running = experiment(stream, title="Later", review_date=REVIEW + dt.timedelta(days=30))
    not_started = experiment(
        stream, title="Not yet", start_date=REVIEW + dt.timedelta(days=1), review_date=REVIEW + dt.timedelta(days=30)
    )

    assert experiments_review(today=REVIEW) == {"baselines": 2, "verdicts": 1}
    due.refresh_from_db()
    running.refresh_from_db()
    not_started.refresh_from_db()
    assert due.verdict == "improved" and due.baseline["value"] == 10
    assert running.verdict == "pending" and running.baseline["started_and_finished"] == 20
    assert not_started.baseline is None and not_started.verdict == "pending"

    first = (due.decided_at, due.result, running.baseline)
    assert experiments_review(today=REVIEW) == {"baselines": 0, "verdicts": 0}
    due.refresh_from_db()
    running.refresh_from_db()
    assert (due.decided_at, due.result, running.baseline) == first


def test_the_beat_schedule_runs_the_registered_daily_task():
    schedule = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "streams.review_experiments" in schedule
    assert "streams.review_experiments" in celery_app.tasks
    assert review_experiments() == {"baselines": 0, "verdicts": 0}


def test_the_command_does_what_the_beat_job_does_and_refuses_a_bad_date():
    stream = ValueStreamFactory()
    flows(stream, BEFORE, SLOW)
    flows(stream, START, FAST)
    exp = experiment(stream)
    out = io.StringIO()
    call_command("review_experiments", "--today", REVIEW.isoformat(), stdout=out)
    assert out.getvalue().strip() == "1 baseline(s) and 1 verdict(s) recorded."
    exp.refresh_from_db()
    assert exp.verdict == "improved"
    with pytest.raises(CommandError, match="--today must be a date like"):
        call_command("review_experiments", "--today", "tomorrow")
