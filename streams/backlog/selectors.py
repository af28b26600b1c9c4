"""Reads of the backlog: a stream's items in rank order, one item with what its row shows, and
the lists the API serves (items with their display key, transitions, blocks, dependencies)."""

from __future__ import annotations

from django.db.models import CharField, F, Prefetch, QuerySet, Value
from django.db.models.functions import Cast, Coalesce, Concat, NullIf

from streams.models import BacklogItem, BlockedPeriod, Dependency, ReadinessCheck, StateTransition, ValueStream


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


def item_list(*, user) -> QuerySet[BacklogItem]:
    """The items of the streams the user may see, with stream, team and state, each annotated
    with its display key (the source tool's key, or #id) as `item_key`, so lists can filter and
    sort by it in the database."""
    items = BacklogItem.objects.for_user(user).select_related("stream", "team", "state")
    return items.annotate(
        item_key=Coalesce(
            NullIf(F("external_key"), Value("")),
            Concat(Value("#"), Cast("id", CharField())),
            output_field=CharField(),
        )
    )


def transition_list() -> QuerySet[StateTransition]:
    """Every item's state changes with the states they left and entered: the history every
    flow metric is computed from."""
    return StateTransition.objects.select_related("from_state", "to_state")


def blocked_period_list() -> QuerySet[BlockedPeriod]:
    return BlockedPeriod.objects.all()


def dependency_list() -> QuerySet[Dependency]:
    return Dependency.objects.all()
