"""Reads of objectives and key results for pages and the API.

Progress (DESIGN.md): a key result's progress is (current − start) ÷ (target − start), shown as
a percentage with over-achievement kept; an objective's is the weighted mean of its key
results'. A key result's linked work is the items linked to it and, through them, their
children at any depth (a recursive query, so an item reached twice counts once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt

from django.db import connection
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Subquery
from django.utils import timezone

from streams.models import BacklogItem, WorkflowState
from streams.periods import Period, parse_period, period_containing
from teams import access

from .models import CheckIn, KeyResult, Objective

STALE_AFTER_DAYS = 14  # a key result with no check-in for this long is stale


def linked_items_cte(key_result_filter: str) -> str:
    """`WITH RECURSIVE linked(kr, item)`: every item serving each key result the filter (SQL on
    the link table, alias `k`) selects, directly or through a parent. UNION keeps pairs unique."""
    links = KeyResult.items.through._meta.db_table
    items = BacklogItem._meta.db_table
    return f"""
        WITH RECURSIVE linked(kr, item) AS (
            SELECT k.keyresult_id, k.backlogitem_id FROM {links} k WHERE {key_result_filter}
            UNION
            SELECT l.kr, c.id FROM linked l JOIN {items} c ON c.parent_id = l.item
        )
    """


def linked_work_counts(key_result_ids: list[int], period: Period) -> dict[int, tuple[int, int]]:
    """Per key result: linked items in progress now, and linked items finished in the period.

    In progress = started, not finished, not removed (the flow engine's WIP at now).
    One query for any number of key results.
    """
    if not key_result_ids:
        return {}
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    placeholders = ", ".join(["%s"] * len(key_result_ids))
    start = dt.datetime.combine(period.start, dt.time(), dt.UTC)
    end = dt.datetime.combine(period.end, dt.time(), dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            linked_items_cte(f"k.keyresult_id IN ({placeholders})")
            + f"""
            SELECT l.kr,
                   SUM(CASE WHEN i.started_at IS NOT NULL AND i.finished_at IS NULL AND s.category <> 'removed'
                            THEN 1 ELSE 0 END),
                   SUM(CASE WHEN i.finished_at >= %s AND i.finished_at < %s THEN 1 ELSE 0 END)
            FROM linked l
            JOIN {items} i ON i.id = l.item
            JOIN {states} s ON s.id = i.state_id
            GROUP BY l.kr
            """,
            [*key_result_ids, start, end],
        )
        return {kr: (int(wip or 0), int(done or 0)) for kr, wip, done in cursor.fetchall()}


@dataclass
class KeyResultRow:
    key_result: KeyResult
    progress: float
    confidence: float | None
    last_check_in: dt.date | None
    stale: bool
    wip: int
    finished: int
    may_check_in: bool


@dataclass
class ObjectiveNode:
    objective: Objective
    key_results: list[KeyResultRow] = field(default_factory=list)
    children: list[ObjectiveNode] = field(default_factory=list)
    may_change: bool = False

    @property
    def progress(self) -> float | None:
        """Weighted mean of the key results' progress (None without weighted key results)."""
        weight = sum(float(row.key_result.weight) for row in self.key_results)
        if not weight:
            return None
        return sum(float(row.key_result.weight) * row.progress for row in self.key_results) / weight

    @property
    def confidence(self) -> float | None:
        """Weighted mean of the latest confidence of the key results that have one."""
        rated = [row for row in self.key_results if row.confidence is not None]
        weight = sum(float(row.key_result.weight) for row in rated)
        if not weight:
            return None
        return sum(float(row.key_result.weight) * row.confidence for row in rated) / weight

    @property
    def stale(self) -> bool:
        return any(row.stale for row in self.key_results)


def current_period() -> Period:
    return period_containing(timezone.localdate())


def period_from(label: str | None) -> Period:
    """The period a page asks for; the current quarter when none (ValidationError if malformed)."""
    return parse_period(label) if label else current_period()


def key_results_of(objectives) -> list[KeyResult]:
    """Key results of the objectives with their latest check-in's date and confidence."""
    latest = CheckIn.objects.filter(key_result=OuterRef("pk")).order_by("-date", "-pk")
    progress = ExpressionWrapper(
        (F("current_value") - F("start_value")) / (F("target_value") - F("start_value")),
        output_field=DecimalField(max_digits=20, decimal_places=6),
    )
    return list(
        KeyResult.objects.filter(objective__in=objectives)
        .annotate(
            last_check_in=Subquery(latest.values("date")[:1]),
            last_confidence=Subquery(latest.values("confidence")[:1]),
            progress_value=progress,
        )
        .order_by("objective", "order", "pk")
    )


def objective_tree(*, user, period: Period, objective_id: int | None = None) -> list[ObjectiveNode]:
    """The objectives in force in the period (its own and, for a quarter, its year's), as a
    forest: company objectives first, each with the objectives aligned to it beneath.

    `objective_id` narrows the result to that one objective's node (for an htmx refresh).
    A fixed number of queries: objectives, key results, linked work, and the user's scope.
    """
    labels = {period.label, str(period.start.year)}
    objectives = (
        Objective.objects.filter(period__in=labels)
        .select_related("owner", "stream", "team", "parent")
        .prefetch_related("team__streams")
    )
    if objective_id is not None:
        objectives = objectives.filter(pk=objective_id)
    objectives = list(objectives.order_by("level", "title", "pk"))
    key_results = key_results_of(objectives)
    counts = linked_work_counts([kr.pk for kr in key_results], period)
    today = timezone.localdate()
    stale_before = today - dt.timedelta(days=STALE_AFTER_DAYS)

    nodes = {
        objective.pk: ObjectiveNode(objective, may_change=access.may(user, access.CHANGE, objective))
        for objective in objectives
    }
    for kr in key_results:
        node = nodes[kr.objective_id]
        kr.objective = node.objective  # no query for access checks below
        wip, finished = counts.get(kr.pk, (0, 0))
        node.key_results.append(
            KeyResultRow(
                key_result=kr,
                progress=float(kr.progress_value),
                confidence=None if kr.last_confidence is None else float(kr.last_confidence),
                last_check_in=kr.last_check_in,
                stale=kr.last_check_in is None or kr.last_check_in <= stale_before,
                wip=wip,
                finished=finished,
                may_check_in=access.may(user, access.ADD, CheckIn(key_result=kr)),
            )
        )
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.objective.parent_id)
        if parent is not None and objective_id is None:
            parent.children.append(node)
        else:
            roots.append(node)
    return roots
