"""Reads of streams and what belongs to a stream as a whole, used by pages, the API and tasks."""

from __future__ import annotations

from collections import defaultdict
import datetime as dt

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
import numpy as np

from core.freshness import fresh_cached_by_stream
from core.sql import Dialect
from streams.models import BacklogItem, Connection, LeadershipAssignment, TargetMix, ValueStream, WorkflowState
from streams.models.querysets import in_progress_sql
from teams.models import Team

# Starts are read as days since this instant: one float per item, ordered like the timestamps.
_DAY_ZERO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def stream_get(*, user, slug: str) -> ValueStream:
    """One stream the user may see, with its director and teams; 404 otherwise."""
    streams = (
        ValueStream.objects.for_user(user)
        .with_director()
        .prefetch_related(Prefetch("teams", queryset=Team.objects.only("pk", "name", "slug", "type")))
    )
    return get_object_or_404(streams, slug=slug)


def stream_list(*, user) -> QuerySet[ValueStream]:
    """The streams the user may see, with their teams and required disciplines."""
    return ValueStream.objects.for_user(user).prefetch_related("teams", "required_disciplines")


def workflow_state_list() -> QuerySet[WorkflowState]:
    """Every stream's workflow states (ordered by stream, then the workflow's order)."""
    return WorkflowState.objects.all()


def target_mix_list() -> QuerySet[TargetMix]:
    """The target flow distribution of each stream and period."""
    return TargetMix.objects.all()


def leadership_list() -> QuerySet[LeadershipAssignment]:
    """Who led which stream in which role, and when, with the person and stream."""
    return LeadershipAssignment.objects.select_related("person", "stream")


def connections_by_stream(stream_ids) -> dict[int, list[Connection]]:
    """The live connections feeding each stream, for the "how fresh is this" line of the pages
    (one query, however many streams)."""
    found: dict[int, list[Connection]] = {}
    rows = Connection.objects.filter(stream_id__in=stream_ids).only(
        "pk", "stream_id", "tool", "status", "synced_at", "status_message"
    )
    for tool in rows.order_by("pk"):
        found.setdefault(tool.stream_id, []).append(tool)
    return found


def data_sources(stream_ids) -> list[dict]:
    """Where the streams' data comes from and how fresh it is: each live connection's stream,
    tool, status and last completed sync (`stream_ids`: ids or a query of them)."""
    rows = (
        Connection.objects.filter(stream_id__in=stream_ids)
        .order_by("stream__slug", "pk")
        .values_list("stream__slug", "tool", "status", "synced_at")
    )
    return [
        {
            "stream": slug,
            "tool": tool,
            "status": status,
            # ISO 8601 in UTC, as the API writes instants, so every door gives the same text.
            "synced_at": synced_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if synced_at else None,
        }
        for slug, tool, status, synced_at in rows
    ]


def work_in_progress_by_stream(stream_ids: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per stream, the ids of its items in progress (DESIGN.md, "Flow load") and their starts
    (days since 2000), oldest first (by start, then id). Cached per stream under its version
    (`core.freshness.fresh_cached_by_stream`): after an edit the organisation's pages read the
    work in progress of the streams written since, not of every stream."""
    return fresh_cached_by_stream("wip-ids", list(stream_ids), _work_in_progress_read, generation=())


def _work_in_progress_read(stream_ids: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    sql = Dialect(connection)
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    ids = ", ".join(str(int(pk)) for pk in stream_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT i.stream_id, i.id, {sql.days("i.started_at", sql.timestamp(_DAY_ZERO))}
                FROM {items} i JOIN {states} s ON s.id = i.state_id
                WHERE i.stream_id IN ({ids}) AND {in_progress_sql()}
                ORDER BY i.started_at, i.id"""
        )
        rows = cursor.fetchall()
    grouped: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    for stream_id, pk, started in rows:
        ids, starts = grouped[stream_id]
        ids.append(pk)
        starts.append(started)
    return {
        pk: (np.array(grouped[pk][0], dtype=np.int64), np.array(grouped[pk][1], dtype=np.float64)) for pk in stream_ids
    }


def finished_by_stream(stream_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, np.ndarray]:
    """Per stream, the ids of its items finished in [start, end), cached per stream under its
    version like `work_in_progress_by_stream`."""
    return fresh_cached_by_stream(
        f"finished-ids:{start.isoformat()}:{end.isoformat()}",
        list(stream_ids),
        lambda missing: _finished_read(missing, start, end),
        generation=(),
    )


def _finished_read(stream_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, np.ndarray]:
    ids = ", ".join(str(int(pk)) for pk in stream_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.stream_id, i.id FROM {BacklogItem._meta.db_table} i "
            f"WHERE i.stream_id IN ({ids}) AND i.finished_at >= %s AND i.finished_at < %s",
            [start, end],
        )
        rows = cursor.fetchall()
    grouped: dict[int, list[int]] = defaultdict(list)
    for stream_id, pk in rows:
        grouped[stream_id].append(pk)
    return {pk: np.array(grouped[pk], dtype=np.int64) for pk in stream_ids}


def every_stream_id() -> list[int]:
    """The ids of every stream (for organisation-wide figures read per stream)."""
    return list(ValueStream.objects.order_by("pk").values_list("pk", flat=True))
