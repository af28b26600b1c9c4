"""Background jobs of flow: weekly snapshots and the daily rollups. Each is idempotent."""

import datetime as dt

from celery import shared_task

from streams.flow.rollups import rollups_refresh
from streams.flow.snapshots import flow_snapshot_record, last_complete_week
from streams.models import ValueStream


@shared_task(name="streams.record_flow_snapshots")
def record_flow_snapshots(week_start: str | None = None) -> int:
    """Record every active stream's snapshot of a week (default: the last complete one).

    Run weekly by beat; running it again for the same week replaces the same rows.
    """
    week = dt.date.fromisoformat(week_start) if week_start else last_complete_week()
    streams = ValueStream.objects.filter(status=ValueStream.Status.ACTIVE).only("pk", "name", "slug")
    for stream in streams:
        flow_snapshot_record(stream=stream, week_start=week)
    return len(streams)


@shared_task(name="streams.refresh_flow_rollups")
def refresh_flow_rollups(stream_ids: list[int] | None = None) -> int:
    """Store every stream's complete days that are missing or were invalidated; returns the
    days written. Run by beat every few minutes: when nothing changed it costs one query, and
    after midnight it adds yesterday. Safe to run concurrently and repeatedly."""
    return rollups_refresh(stream_ids=stream_ids)
