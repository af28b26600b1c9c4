"""Weekly flow snapshots per stream, for trend lines."""

import datetime as dt

from django.utils import timezone

from streams.flow.engine import Scope, Window, report_dict
from streams.flow.report import flow_report
from streams.models import FlowSnapshot, ValueStream


def last_complete_week(today: dt.date | None = None) -> dt.date:
    """The Monday of the last full week (Monday to Sunday) before today."""
    today = today or timezone.now().astimezone(dt.UTC).date()
    return today - dt.timedelta(days=today.weekday() + 7)


def flow_snapshot_record(*, stream: ValueStream, week_start: dt.date) -> FlowSnapshot:
    """Compute and store the stream's metrics for the week starting `week_start` (a Monday).

    The history is read as of the week's end, so a snapshot taken late says what was true
    then. Idempotent: a second run replaces the row with the same figures.
    """
    if week_start.weekday() != 0:
        raise ValueError(f"{week_start} is not a Monday")
    week_end = dt.datetime.combine(week_start + dt.timedelta(days=7), dt.time(), dt.UTC)
    if week_end > timezone.now():
        raise ValueError(f"the week of {week_start} has not ended yet")
    window = Window.build(start=week_start, end=week_start + dt.timedelta(days=6), as_of=week_end)
    report = flow_report(scope=Scope.stream(stream), window=window, with_items=False)
    snapshot, _ = FlowSnapshot.objects.update_or_create(
        stream=stream,
        week_start=week_start,
        defaults={
            "throughput": report.throughput,
            "wip": report.wip,
            "flow_time_p50": report.flow_time.p50,
            "flow_time_p85": report.flow_time.p85,
            "efficiency": report.efficiency,
            "metrics": report_dict(report),
        },
    )
    return snapshot


def flow_snapshots_backfill(*, weeks: int, streams=None) -> int:
    """Record the last `weeks` complete weeks for the given streams (default: every active one)."""
    streams = streams if streams is not None else ValueStream.objects.filter(status=ValueStream.Status.ACTIVE)
    last = last_complete_week()
    count = 0
    for stream in streams:
        for back in range(weeks):
            flow_snapshot_record(stream=stream, week_start=last - dt.timedelta(weeks=back))
            count += 1
    return count
