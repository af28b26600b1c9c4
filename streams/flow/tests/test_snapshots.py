"""Weekly flow snapshots: the week's numbers as of its end, recorded idempotently by beat and command."""

import datetime as dt
import io

from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse
import pytest

from streams.flow.engine import Scope, Window
from streams.flow.report import flow_report
from streams.flow.snapshots import flow_snapshot_record, last_complete_week
from streams.flow.tasks import record_flow_snapshots
from streams.models import FlowSnapshot
from streams.tests.flow_history import build_history

pytestmark = pytest.mark.django_db

WEEK = dt.date(2026, 3, 2)  # the Monday the hand-computed history starts on


@pytest.fixture
def stream():
    return build_history()


def test_a_snapshot_holds_the_weeks_numbers_as_of_its_end(stream):
    snapshot = flow_snapshot_record(stream=stream, week_start=WEEK)
    week = Window.build(start=WEEK, end=WEEK + dt.timedelta(days=6), as_of=dt.datetime(2026, 3, 9, tzinfo=dt.UTC))
    report = flow_report(scope=Scope.stream(stream), window=week)
    # H, E, D and G finished in the first week; A and B (finished d7, d8) belong to the next.
    assert snapshot.throughput == report.throughput == 4
    # As of d7: A in review and I in progress (B finishes exactly at d7: the next week's).
    # Flow times of the week [0, 0.25, 3, 5]: p85 at rank 2.55 = 3 + 0.55 * 2 = 4.1.
    assert snapshot.wip == 2 and round(snapshot.flow_time_p85, 4) == 4.1
    assert snapshot.metrics["throughput"]["n"] == 4


def test_recording_a_week_twice_keeps_one_row(stream):
    first = flow_snapshot_record(stream=stream, week_start=WEEK)
    second = flow_snapshot_record(stream=stream, week_start=WEEK)
    assert first.pk == second.pk and FlowSnapshot.objects.count() == 1
    assert second.throughput == first.throughput


def test_only_finished_weeks_that_start_on_a_monday(stream):
    with pytest.raises(ValueError, match="not a Monday"):
        flow_snapshot_record(stream=stream, week_start=dt.date(2026, 3, 3))
    with pytest.raises(ValueError, match="has not ended"):
        flow_snapshot_record(stream=stream, week_start=last_complete_week() + dt.timedelta(weeks=1))


def test_the_beat_task_records_every_active_stream_and_is_idempotent(stream):
    assert record_flow_snapshots.delay(WEEK.isoformat()).get() == 1
    assert record_flow_snapshots.delay(WEEK.isoformat()).get() == 1
    assert FlowSnapshot.objects.filter(stream=stream, week_start=WEEK).count() == 1
    schedule = settings.CELERY_BEAT_SCHEDULE["weekly-flow-snapshots"]
    assert schedule["task"] == record_flow_snapshots.name


def test_the_backfill_command(stream):
    out = io.StringIO()
    call_command("flow_snapshots", "--weeks", "3", "--stream", stream.slug, stdout=out)
    assert "Recorded 3 weekly snapshots" in out.getvalue()
    assert FlowSnapshot.objects.filter(stream=stream).count() == 3
    with pytest.raises(CommandError, match="No value stream"):
        call_command("flow_snapshots", "--stream", "nope")


def test_the_stream_page_draws_the_trend_from_snapshots(viewer_client, stream):
    empty = viewer_client.get(reverse("streams:stream-detail", args=[stream.slug]))
    assert "No weekly snapshots yet" in empty.content.decode()
    flow_snapshot_record(stream=stream, week_start=WEEK)
    flow_snapshot_record(stream=stream, week_start=WEEK + dt.timedelta(weeks=1))
    response = viewer_client.get(reverse("streams:stream-detail", args=[stream.slug]))
    trend = response.context["chart_data"]["trend"]
    assert trend["weeks"] == ["2026-03-02", "2026-03-09"] and trend["throughput"] == [4, 2]
