"""The item page: an item's life on one page.

Its timeline (state changes with who made them and through which door, blocked periods,
readiness sign-offs), its readiness checklist, its dependencies both ways, its children, the
key results it serves and its change history. The number of queries is fixed: a long history
or many children cost rows, not queries.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt

from django.db.models import Q
from django.utils import timezone

from core.audit import HistoryPage, history_of
from streams.flow.releasable import Releasable, releasable_forecast
from streams.models import BacklogItem, BlockedPeriod, Dependency, ReadinessCheck, StateTransition, WorkflowState

Category = WorkflowState.Category
CHILDREN_SHOWN = 50
TIMELINE_SHOWN = 200
HISTORY_SHOWN = 30


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    kind: str  # state, blocked, unblocked, readiness
    text: str
    who: str = ""
    via: str = ""


@dataclass
class ItemPage:
    item: BacklogItem
    events: list[Event]
    events_more: bool
    checks: list[ReadinessCheck]
    blocked_by: list[Dependency]
    blocking: list[Dependency]
    children: list[BacklogItem]
    children_count: int
    history: HistoryPage
    age_days: float | None  # in progress: since it started
    flow_days: float | None  # finished: from start to finish
    returned_since: dt.datetime | None = None  # started, unfinished, in a backlog state again: since when
    releasable: Releasable | None = None  # when it can go live, for work in progress


def item_for_page(pk: int) -> BacklogItem:
    """The item with what its header shows; `BacklogItem.DoesNotExist` if there is none."""
    related = ("stream", "state", "team", "parent__state", "proposed_by")
    return BacklogItem.objects.select_related(*related).get(pk=pk)


def _events(item: BacklogItem, checks: list[ReadinessCheck]) -> tuple[list[Event], bool]:
    """The newest events first: state changes, blocked periods and readiness decisions."""
    transitions = list(
        StateTransition.objects.filter(item=item)
        .select_related("from_state", "to_state", "actor")
        .order_by("-at", "-pk")[: TIMELINE_SHOWN + 1]
    )
    more = len(transitions) > TIMELINE_SHOWN
    events = [
        Event(
            t.at,
            "state",
            f"{t.from_state.name} → {t.to_state.name}" if t.from_state else f"Created in {t.to_state.name}",
            t.actor.get_username() if t.actor else "",
            t.get_source_display(),
        )
        for t in transitions[:TIMELINE_SHOWN]
    ]
    for period in BlockedPeriod.objects.filter(item=item).order_by("-started_at")[:TIMELINE_SHOWN]:
        reason = period.get_reason_display() + (f": {period.note}" if period.note else "")
        events.append(Event(period.started_at, "blocked", f"Blocked ({reason})"))
        if period.ended_at:
            events.append(Event(period.ended_at, "unblocked", f"Unblocked ({period.get_reason_display()})"))
    for check in checks:
        if check.signed_off_at:
            text = f"{check.criterion.name}: {check.get_status_display().lower()}"
            text += f" ({check.reason})" if check.reason else ""
            who = check.signed_off_by.get_username() if check.signed_off_by else ""
            events.append(Event(check.signed_off_at, "readiness", text, who))
    events.sort(key=lambda e: e.at, reverse=True)
    return events, more


def item_page(item: BacklogItem) -> ItemPage:
    checks = list(
        ReadinessCheck.objects.filter(item=item)
        .select_related("criterion__owner_team", "signed_off_by")
        .order_by("criterion__name", "pk")
    )
    events, more = _events(item, checks)
    dependencies = Dependency.objects.filter(Q(item=item) | Q(blocked_by=item)).select_related(
        "item__state", "blocked_by__state"
    )
    blocked_by = [d for d in dependencies if d.item_id == item.pk]
    blocking = [d for d in dependencies if d.blocked_by_id == item.pk]
    children_all = item.children.select_related("state", "team").order_by("rank", "pk")
    children = list(children_all[: CHILDREN_SHOWN + 1])
    children_count = len(children) if len(children) <= CHILDREN_SHOWN else children_all.count()
    now = timezone.now()
    age = flow = None
    if item.started_at and item.finished_at:
        flow = (item.finished_at - item.started_at).total_seconds() / 86400
    elif item.started_at and item.state.category not in (Category.DONE, Category.REMOVED):
        age = (now - item.started_at).total_seconds() / 86400
    returned = returned_since(item) if age is not None and item.state.category == Category.BACKLOG else None
    return ItemPage(
        item=item,
        events=events,
        events_more=more,
        checks=checks,
        blocked_by=blocked_by,
        blocking=blocking,
        children=children[:CHILDREN_SHOWN],
        children_count=children_count,
        history=history_of(BacklogItem, item.pk, limit=HISTORY_SHOWN),
        age_days=age,
        flow_days=flow,
        returned_since=returned,
        releasable=releasable_forecast(item, now)
        if item.state.category in (Category.ACTIVE, Category.WAITING)
        else None,
    )


def returned_since(item: BacklogItem) -> dt.datetime | None:
    """When a started item now in a backlog state got there: the first move after its last
    stay outside the backlog (as the flow engine's `returned_since`)."""
    moves = StateTransition.objects.filter(item=item).order_by("-at", "-pk")
    last_out = moves.exclude(to_state__category=Category.BACKLOG).values_list("at", "pk").first()
    if last_out is None:
        return None
    at, pk = last_out
    back = moves.filter(Q(at__gt=at) | Q(at=at, pk__gt=pk)).order_by("at", "pk").values_list("at", flat=True).first()
    return back
