"""Reads of streams and what belongs to a stream as a whole, used by pages, the API and tasks."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from streams.models import Connection, LeadershipAssignment, TargetMix, ValueStream, WorkflowState
from teams.models import Team


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
    for connection in rows.order_by("pk"):
        found.setdefault(connection.stream_id, []).append(connection)
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
