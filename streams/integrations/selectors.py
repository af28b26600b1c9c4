"""Reads of live connections and their sync runs for the API (the pages read them in their views)."""

from __future__ import annotations

from django.db.models import QuerySet

from streams.models import Connection, SyncRun


def connection_list() -> QuerySet[Connection]:
    return Connection.objects.order_by("pk")


def sync_run_list() -> QuerySet[SyncRun]:
    """Sync runs, newest first."""
    return SyncRun.objects.order_by("-started_at", "-pk")
