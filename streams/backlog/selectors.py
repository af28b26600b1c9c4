"""Reads of the backlog: a stream's items in rank order, and one item with what its row shows."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from streams.models import BacklogItem, ReadinessCheck, ValueStream


def _for_backlog(items: QuerySet[BacklogItem]) -> QuerySet[BacklogItem]:
    checks = ReadinessCheck.objects.select_related("criterion__owner_team").order_by("criterion__name")
    return (
        items.select_related("state", "team", "proposed_by")
        .prefetch_related(Prefetch("readiness_checks", queryset=checks))
        .order_by("rank", "pk")
    )


def backlog_item(pk: int) -> BacklogItem:
    """One item with what its backlog row shows."""
    return _for_backlog(BacklogItem.objects.filter(pk=pk)).get()


def backlog_items(stream: ValueStream) -> QuerySet[BacklogItem]:
    """The stream's items for its backlog page, by rank: their state, team, proposer and
    readiness checks (with criteria and owner teams) loaded with them. The page narrows them
    with `streams.backlog.filters.BacklogPageFilter`."""
    return _for_backlog(BacklogItem.objects.filter(stream=stream))
