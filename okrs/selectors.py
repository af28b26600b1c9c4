"""Reads of objectives and key results for pages and the API.

Progress (DESIGN.md): a key result's progress is (current − start) ÷ (target − start), shown as
a percentage with over-achievement kept; an objective's is the weighted mean of its key
results'. A key result's linked work is the items linked to it and, through them, their
children at any depth (a recursive query, so an item reached twice counts once).
"""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses
from dataclasses import dataclass, field
import datetime as dt
from decimal import Decimal
from functools import cached_property
import math

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
import numpy as np

from core import access
from core.freshness import LINKS, OKRS, fresh_cached, ids_key
from core.sql import Dialect
from streams.flow.engine import FlowReport, Scope, Window
from streams.flow.forecast import (
    MIN_FINISHED,
    SEED,
    Pace,
    chance_within,
    too_little_history,
    trial_days,
    trial_quantile,
)
from streams.flow.periods import Period, parse_period, period_containing
from streams.flow.releasable import daily_throughputs
from streams.flow.report import flow_report
from streams.flow.scenarios import NONE as NO_LEVERS
from streams.flow.scenarios import Levers, capped, descoped_closure, finished_by_team, in_progress_order, stream_pace
from streams.models import BacklogItem, WorkflowState
from streams.models.querysets import in_progress_sql
from streams.selectors import every_stream_id, finished_by_stream, work_in_progress_by_stream

from .models import CheckIn, KeyResult, Objective

STALE_AFTER_DAYS = 14  # a key result with no check-in for this long is stale
LOW_CONFIDENCE = 0.5  # below this a key result's latest confidence needs attention


def linked_items_cte(key_result_filter: str) -> str:
    """`WITH RECURSIVE linked(kr, item)`: every item serving each key result the filter (SQL on
    the link table, alias `k`) selects, directly or through a parent. UNION keeps pairs unique."""
    links = KeyResult.items.through._meta.db_table
    children_of = Dialect(connection).children_join
    return f"""
        WITH RECURSIVE linked(kr, item) AS (
            SELECT k.keyresult_id, k.backlogitem_id FROM {links} k WHERE {key_result_filter}
            UNION
            SELECT l.kr, c.id FROM linked l {children_of("l.item")}
        )
    """


def linked_work_counts(key_result_ids: list[int], period: Period) -> dict[int, tuple[int, int]]:
    """Per key result: linked items in progress now, and linked items finished in the period.

    In progress = started, not finished, not removed (the flow engine's WIP at now).
    One query for any number of key results, cached until the data changes (`core.freshness`).
    """
    if not key_result_ids:
        return {}
    return fresh_cached(
        f"linked_work_counts:{period.label}:{ids_key(key_result_ids)}",
        lambda: _linked_work_counts(key_result_ids, period),
    )


def linked_pairs(key_result_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(key results, items), two arrays of equal length: a pair for every item serving each key
    result, directly or through a parent: the walk down the item tree, cached until a write could
    change it (`core.freshness.LINKS`: links, key results, objectives, items created, deleted or
    re-parented), not at every change. Arrays, not tuples: 50,000 pairs load from the cache and
    count (`_linked_work_counts`) in a few milliseconds."""
    return fresh_cached(
        f"linked_pair_arrays:{ids_key(key_result_ids)}",
        lambda: _linked_pairs(key_result_ids),
        generation=LINKS,
    )


def _pairs_indexed(key_result_ids: list[int]) -> tuple[np.ndarray, ...]:
    """`linked_pairs` with the distinct items, the key results served and each pair's index among
    them: sorting millions of pairs (np.unique) took 0.5 s of each OKR or alignment view at ten
    times the DESIGN.md scale, for what only the links change. Cached alike, kept in the process."""

    def indexed() -> tuple[np.ndarray, ...]:
        krs, linked = linked_pairs(key_result_ids)
        served, which = np.unique(krs, return_inverse=True)
        return krs, linked, np.unique(linked), served, which

    return fresh_cached(f"linked_pairs_indexed:{ids_key(key_result_ids)}", indexed, generation=LINKS, in_process=True)


def _linked_pairs(key_result_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    placeholders = ", ".join(["%s"] * len(key_result_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            linked_items_cte(f"k.keyresult_id IN ({placeholders})") + " SELECT kr, item FROM linked",
            key_result_ids,
        )
        pairs = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def _ids(cursor) -> np.ndarray:
    """The first column of the cursor's rows, as an array of ids."""
    rows = cursor.fetchall()
    return np.fromiter((pk for (pk,) in rows), dtype=np.int64, count=len(rows))


def _joined(arrays) -> np.ndarray:
    return np.concatenate([np.empty(0, dtype=np.int64), *arrays])


PROBED_AT_MOST = 5_000  # linked items looked up by primary key; beyond, the ids in progress and finished read whole


def _among(ids: list[int]) -> tuple[str, list]:
    """SQL narrowing `i` to the ids (one array parameter on PostgreSQL), and its parameters."""
    if connection.vendor == "postgresql":
        return "i.id = ANY(%s) AND ", [ids]
    return f"i.id IN ({', '.join(['%s'] * len(ids))}) AND ", ids


def _linked_work_counts(key_result_ids: list[int], period: Period) -> dict[int, tuple[int, int]]:
    """The linked items in progress and those finished in the period, counted against the cached
    (key result, item) pairs with NumPy. A few thousand linked items (one objective: the key result
    page, an htmx card) are looked up by primary key; the whole tree's 50,000 read the items in
    progress and finished through their covering indexes instead: the planner, blind to the
    pairs' ids, chose sorts and parallel merge joins for them (0.15 s; this 0.05 s)."""
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    start = dt.datetime.combine(period.start, dt.time(), dt.UTC)
    end = dt.datetime.combine(period.end, dt.time(), dt.UTC)
    krs, linked, distinct, served, which = _pairs_indexed(key_result_ids)
    if not len(linked):
        return {}
    if len(distinct) <= PROBED_AT_MOST:
        among, params = _among(distinct.tolist())
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT i.id FROM {items} i JOIN {states} s ON s.id = i.state_id WHERE {among}{in_progress_sql()}",
                params,
            )
            wip = _ids(cursor)
            cursor.execute(
                f"SELECT i.id FROM {items} i WHERE {among}i.finished_at >= %s AND i.finished_at < %s",
                [*params, start, end],
            )
            done = _ids(cursor)
    else:  # every stream's ids, kept per stream: after an edit only the streams written are read again
        streams = every_stream_id()
        wip = _joined(ids for ids, _ in work_in_progress_by_stream(streams).values())
        done = _joined(finished_by_stream(streams, start, end).values())
    wip_n = np.bincount(which[np.isin(linked, wip)], minlength=len(served))
    done_n = np.bincount(which[np.isin(linked, done)], minlength=len(served))
    return {int(kr): (int(w), int(d)) for kr, w, d in zip(served, wip_n, done_n, strict=True)}


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
    trend: list[tuple[dt.date, Decimal]] = field(default_factory=list)  # check-ins in its period, by date

    @property
    def owner(self):
        """Who checks in on it: its own owner, else its objective's."""
        return self.key_result.owner or self.key_result.objective.owner

    @property
    def low_confidence(self) -> bool:
        return self.confidence is not None and self.confidence < LOW_CONFIDENCE


@dataclass
class ObjectiveNode:
    objective: Objective
    key_results: list[KeyResultRow] = field(default_factory=list)
    children: list[ObjectiveNode] = field(default_factory=list)
    may_change: bool = False
    context: bool = False  # shown only because objectives beneath it match the page's filter
    continued: bool = False  # shown again above objectives of its own on a later page of the tree

    @cached_property  # read once per key-result row on the tree
    def period(self) -> Period:
        return parse_period(self.objective.period)

    @cached_property
    def elapsed(self) -> float:
        return period_elapsed(self.period)

    @property
    def needs_attention(self) -> bool:
        return any(row.stale or row.low_confidence for row in self.key_results)

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


def period_elapsed(period: Period, today: dt.date | None = None) -> float:
    """How much of the period has gone by, 0 to 1: where progress would be if it were linear."""
    today = today or timezone.localdate()
    return min(1.0, max(0.0, (today - period.start).days / (period.end - period.start).days))


@dataclass(frozen=True)
class TreeFilter:
    """What the OKR page narrows its tree to; every condition given must hold.

    owner: the objective's owner or one of its key results' owners; stream: an objective of the
    stream or of a team serving it; team: the team's objectives; attention: a key result stale
    or below LOW_CONFIDENCE.
    """

    owner_id: int | None = None
    stream_id: int | None = None
    team_id: int | None = None
    attention: bool = False

    @property
    def active(self) -> bool:
        return bool(self.owner_id or self.stream_id or self.team_id or self.attention)

    def matches(self, node: ObjectiveNode) -> bool:
        objective = node.objective
        if self.owner_id and not (
            objective.owner_id == self.owner_id
            or any(row.owner and row.owner.pk == self.owner_id for row in node.key_results)
        ):
            return False
        if self.stream_id and objective.stream_id != self.stream_id:
            served = [stream.pk for stream in objective.team.streams.all()] if objective.team_id else []
            if self.stream_id not in served:
                return False
        if self.team_id and objective.team_id != self.team_id:
            return False
        return not self.attention or node.needs_attention


def tree_filtered(roots: list[ObjectiveNode], tree_filter: TreeFilter) -> list[ObjectiveNode]:
    """The objectives the filter matches, each under its ancestors (marked `context`)."""
    if not tree_filter.active:
        return roots

    def keep(node: ObjectiveNode) -> bool:
        node.children = [child for child in node.children if keep(child)]
        node.context = not tree_filter.matches(node)
        return not node.context or bool(node.children)

    return [root for root in roots if keep(root)]


def tree_nodes(roots: list[ObjectiveNode]) -> Iterator[ObjectiveNode]:
    """Every node of the forest, each once (in no particular order)."""
    stack = list(roots)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        yield node


def tree_counts(roots: list[ObjectiveNode]) -> dict[str, int]:
    """Objectives and key results shown, with how many of the key results are stale or low."""
    counts = {"objectives": 0, "key_results": 0, "stale": 0, "low_confidence": 0}
    for node in tree_nodes(roots):
        if node.context:
            continue
        counts["objectives"] += 1
        counts["key_results"] += len(node.key_results)
        counts["stale"] += sum(row.stale for row in node.key_results)
        counts["low_confidence"] += sum(row.low_confidence for row in node.key_results)
    return counts


def check_in_trends(key_results: list[KeyResult]) -> dict[int, list[tuple[dt.date, Decimal]]]:
    """Each key result's check-ins within its objective's period, oldest first (one query)."""
    if not key_results:
        return {}
    by_label = {label: parse_period(label) for label in {kr.objective.period for kr in key_results}}
    periods = {kr.pk: by_label[kr.objective.period] for kr in key_results}
    rows = (
        CheckIn.objects.filter(
            key_result_id__in=list(periods),
            date__gte=min(p.start for p in periods.values()),
            date__lt=max(p.end for p in periods.values()),
        )
        .order_by("key_result_id", "date", "pk")
        .values_list("key_result_id", "date", "value")
    )
    trends: dict[int, list[tuple[dt.date, Decimal]]] = {}
    for kr_id, day, value in rows:
        if periods[kr_id].start <= day < periods[kr_id].end:
            trends.setdefault(kr_id, []).append((day, value))
    return trends


def current_period() -> Period:
    return period_containing(timezone.localdate())


def period_from(label: str | None) -> Period:
    """The period a page asks for; the current quarter when none (ValidationError if malformed)."""
    return parse_period(label) if label else current_period()


def key_results_of(objectives) -> list[KeyResult]:
    """Key results of the objectives with their latest check-in's date and confidence."""
    # A person's latest check-in: the portal's readings of a measured key result carry no confidence
    # and do not make it fresh (someone still has to look at it).
    latest = CheckIn.objects.filter(key_result=OuterRef("pk"), system=False).order_by("-date", "-pk")
    progress = ExpressionWrapper(
        (F("current_value") - F("start_value")) / (F("target_value") - F("start_value")),
        output_field=DecimalField(max_digits=20, decimal_places=6),
    )
    return list(
        KeyResult.objects.filter(objective__in=objectives)
        .select_related("owner")
        .annotate(
            last_check_in=Subquery(latest.values("date")[:1]),
            last_confidence=Subquery(latest.values("confidence")[:1]),
            progress_value=progress,
        )
        .order_by("objective", "order", "pk")
    )


def objectives_in_force(period: Period, objective_id: int | None = None) -> tuple[list[Objective], list[KeyResult]]:
    """The objectives in force in the period (its own and, for a quarter, its year's; or the one
    asked) in the tree's order, and their key results with their latest check-ins, each pointing
    at its objective. Reads the objectives' tables and the names of people, teams and streams
    only (`core.freshness.OKRS`)."""
    labels = {period.label, str(period.start.year)}
    objectives = (
        Objective.objects.filter(period__in=labels)
        .select_related("owner", "stream", "team")  # the parent by its id only: the tree links the nodes
        .prefetch_related("team__streams")
    )
    if objective_id is not None:
        objectives = objectives.filter(pk=objective_id)
    objectives = list(objectives.order_by("level", "title", "pk"))
    key_results = key_results_of(objectives)
    by_pk = {objective.pk: objective for objective in objectives}
    for kr in key_results:
        kr.objective = by_pk[kr.objective_id]  # no query for access checks and periods below
    return objectives, key_results


def objective_tree(
    *,
    user,
    period: Period,
    objective_id: int | None = None,
    tree_filter: TreeFilter | None = None,
    trends: bool = True,
    rights: bool = True,
) -> list[ObjectiveNode]:
    """The objectives in force in the period (its own and, for a quarter, its year's), as a
    forest: company objectives first, each with the objectives aligned to it beneath.

    `objective_id` narrows the result to that one objective's node (for an htmx refresh);
    `tree_filter` to the objectives it matches, under their ancestors. `trends=False` leaves
    the key results' check-in trends empty and `rights=False` what the user may do with each
    (`may_change`, `may_check_in`), for `with_trends` and `with_rights` to read for the page
    shown only. The whole tree's objectives and key results are cached until they change
    (`core.freshness.OKRS`); the linked work is read per stream (cached under each stream's
    version). A fixed number of queries.
    """
    if objective_id is None:
        objectives, key_results = fresh_cached(  # read, never changed, below: kept as objects
            f"okr-tree:{period.label}", lambda: objectives_in_force(period), generation=OKRS, in_process=True
        )
    else:
        objectives, key_results = objectives_in_force(period, objective_id)
    counts = linked_work_counts([kr.pk for kr in key_results], period)
    trend_of = check_in_trends(key_results) if trends else {}
    today = timezone.localdate()
    stale_before = {  # an ended period's key results are stale against its last day, not today
        label: min(today, parse_period(label).last_day) - dt.timedelta(days=STALE_AFTER_DAYS)
        for label in {objective.period for objective in objectives}
    }
    nodes = {objective.pk: ObjectiveNode(objective) for objective in objectives}
    for kr in key_results:
        node = nodes[kr.objective_id]
        wip, finished = counts.get(kr.pk, (0, 0))
        node.key_results.append(
            KeyResultRow(
                key_result=kr,
                progress=float(kr.progress_value),
                confidence=None if kr.last_confidence is None else float(kr.last_confidence),
                last_check_in=kr.last_check_in,
                stale=kr.last_check_in is None or kr.last_check_in <= stale_before[kr.objective.period],
                wip=wip,
                finished=finished,
                may_check_in=False,
                trend=trend_of.get(kr.pk, []),
            )
        )
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.objective.parent_id)
        if parent is not None and objective_id is None:
            parent.children.append(node)
        else:
            roots.append(node)
    roots = tree_filtered(roots, tree_filter or TreeFilter())
    return with_rights(roots, user) if rights else roots


def with_rights(roots: list[ObjectiveNode], user) -> list[ObjectiveNode]:
    """What the user may do with the objectives given and those beneath: change each objective,
    check in on each key result."""
    check_in = CheckIn()  # asked about for each key result in turn: 500 model instances cost 10 ms
    for node in tree_nodes(roots):
        node.may_change = access.may(user, access.CHANGE, node.objective)
        for row in node.key_results:
            check_in.key_result = row.key_result
            row.may_check_in = access.may(user, access.ADD, check_in)
    return roots


TREE_PAGE = 100  # objectives a page of the OKR tree shows


def tree_page(roots: list[ObjectiveNode], number) -> tuple[list[ObjectiveNode], Page]:
    """A page of the tree (`number` as asked: Django's `get_page` reads a missing or bad one as
    the first or last): TREE_PAGE objectives in reading order, each after the one it is aligned
    to, under the objectives above it. Those above a filter's match count towards no page; an
    objective shown on an earlier page comes again above its own on a later one, marked
    `continued`, so the tree still reads. Returns the page's roots and the page."""
    order: list[tuple[ObjectiveNode, tuple[ObjectiveNode, ...]]] = []
    stack = [(root, ()) for root in reversed(roots)]
    while stack:
        node, ancestors = stack.pop()
        if not node.context:
            order.append((node, ancestors))
        stack.extend((child, (*ancestors, node)) for child in reversed(node.children))
    page = Paginator(order, TREE_PAGE).get_page(number)
    shown = {id(node) for node, _ in page.object_list}
    above = {id(node) for _, ancestors in page.object_list for node in ancestors} - shown

    def cut(node: ObjectiveNode) -> ObjectiveNode:
        kept = [cut(child) for child in node.children if id(child) in shown or id(child) in above]
        return dataclasses.replace(node, children=kept, continued=id(node) in above and not node.context)

    return [cut(root) for root in roots if id(root) in shown or id(root) in above], page


def with_trends(roots: list[ObjectiveNode]) -> list[ObjectiveNode]:
    """The key results' check-in trends of the objectives given and those beneath (one query)."""
    rows = [row for node in tree_nodes(roots) for row in node.key_results]
    trends = check_in_trends([row.key_result for row in rows])
    for row in rows:
        row.trend = trends.get(row.key_result.pk, [])
    return roots


# --- Linking work and key results --------------------------------------------------------------

SEARCH_RESULTS = 20


LITERAL_IDS_AT_MOST = 10_000  # linked items written into SQL as literals; beyond, the walk runs in SQL


def linked_items_sql(key_result_id: int) -> str:
    """SQL for `IN (...)`: the ids of every item serving the key result (directly or through a
    parent). Up to LITERAL_IDS_AT_MOST, the ids of the cached walk (`linked_pairs`) as literals:
    the flow engine and the forecast put this in half a dozen queries, each of which walked the
    item tree again (5-9 ms a walk at scale); beyond, the walk itself (one query, ids gathered)."""
    _, linked = linked_pairs([key_result_id])
    if len(linked) <= LITERAL_IDS_AT_MOST:
        return ", ".join(map(str, np.unique(linked).tolist())) or "NULL"
    return Dialect(connection).id_list(
        linked_items_cte(f"k.keyresult_id = {int(key_result_id)}") + " SELECT item FROM linked"
    )


def item_search(query: str, *, exclude_key_result: KeyResult | None = None, limit: int = SEARCH_RESULTS):
    """Items whose title contains the text, or whose key is it ("#123" or an imported key like
    PAY-12); removed items are left out (they serve nothing). Newest first, at most `limit`."""
    query = (query or "").strip()
    if not query:
        return []
    match = Q(title__icontains=query) | Q(external_key__iexact=query)
    if query.startswith("#") and query[1:].isdigit():
        match = Q(pk=int(query[1:]))
    items = (
        BacklogItem.objects.filter(match)
        .exclude(state__category=WorkflowState.Category.REMOVED)
        .select_related("stream", "state", "parent")
        .order_by("-pk")
    )
    if exclude_key_result is not None:
        items = items.exclude(key_results=exclude_key_result)
    return list(items[:limit])


def open_period_labels(today: dt.date | None = None) -> list[str]:
    """Periods work can still be linked to: this year and next, and their quarters not yet over."""
    today = today or timezone.localdate()
    labels = []
    for year in (today.year, today.year + 1):
        labels.append(str(year))
        labels += [f"{year}-Q{q}" for q in range(1, 5) if parse_period(f"{year}-Q{q}").end > today]
    return labels


def key_result_search(query: str, *, exclude_item: BacklogItem | None = None, limit: int = SEARCH_RESULTS):
    """Key results of objectives in an open period whose title, or whose objective's, contains the text."""
    query = (query or "").strip()
    if not query:
        return []
    key_results = (
        KeyResult.objects.filter(objective__period__in=open_period_labels())
        .filter(Q(title__icontains=query) | Q(objective__title__icontains=query))
        .select_related("objective__stream", "objective__team", "objective__owner", "owner")
        .order_by("objective__period", "objective__title", "order", "pk")
    )
    if exclude_item is not None:
        key_results = key_results.exclude(items=exclude_item)
    return list(key_results[:limit])


@dataclass
class ItemLink:
    key_result: KeyResult
    via: BacklogItem | None  # the ancestor the link is on; None when the item itself is linked


def item_key_results(item: BacklogItem) -> list[ItemLink]:
    """The key results an item serves: its own links and those of its ancestors (two queries)."""
    items, links = BacklogItem._meta.db_table, KeyResult.items.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE up(id, depth) AS (
                SELECT id, 0 FROM {items} WHERE id = %s
                UNION ALL
                SELECT i.parent_id, up.depth + 1 FROM up JOIN {items} i ON i.id = up.id
                WHERE i.parent_id IS NOT NULL AND up.depth < 50
            )
            SELECT k.keyresult_id, k.backlogitem_id, up.depth FROM {links} k JOIN up ON up.id = k.backlogitem_id
            ORDER BY up.depth
            """,
            [item.pk],
        )
        rows = cursor.fetchall()
    via_ids = {item_id for _, item_id, depth in rows if depth}
    ancestors = BacklogItem.objects.in_bulk(via_ids) if via_ids else {}
    key_results = KeyResult.objects.select_related("objective__stream", "objective__team").in_bulk(
        {kr for kr, _, _ in rows}
    )
    seen, result = set(), []
    for kr_id, item_id, depth in rows:  # nearest link first: a direct link wins over an inherited one
        if kr_id in seen:
            continue
        seen.add(kr_id)
        result.append(ItemLink(key_results[kr_id], ancestors.get(item_id) if depth else None))
    return sorted(result, key=lambda link: (link.key_result.objective.period, link.key_result.objective.title))


LINKED_LISTED = 100  # linked items a key result's page lists; "show all" lists every one


def key_result_direct_items(key_result: KeyResult, *, limit: int | None = None) -> list[BacklogItem]:
    """The items linked to the key result itself (the first `limit`, by stream and id), with how
    many children count through each."""
    items = (
        key_result.items.select_related("stream", "state")
        .annotate(child_count=Count("children", distinct=True))
        .order_by("stream__name", "pk")
    )
    return list(items if limit is None else items[:limit])


# --- The flow behind a key result ------------------------------------------------------------

THROUGHPUT_SAMPLE_WEEKS = 12


@dataclass
class KeyResultForecast:
    """When the key result's linked work left will be finished, and the chance it is by the
    period's end: Monte Carlo on the daily throughput of the streams holding the work left
    (the last 12 complete weeks), the work given the share of their WIP it holds."""

    linked: int  # linked items (children included) not removed, finished or not
    remaining: int  # linked items not finished (and not removed), started or not
    remaining_started: int
    stream_wip: int
    share: float  # of the streams' capacity assumed to go to the linked work
    share_note: str
    sample_days: int
    sample_items: int  # items the streams finished in the sample
    days_left: int  # from tomorrow to the period's last day, inclusive
    chance: float | None
    p50: dt.date | None = None  # the linked work left finished, at 50% and 85% of trials
    p85: dt.date | None = None
    refused: str = ""  # why there is no forecast ("" when there is one)
    stream_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a scenario's levers changed


def key_result_forecast(key_result: KeyResult, period: Period, levers: Levers = NO_LEVERS) -> KeyResultForecast:
    """The key result's forecast today, or under a scenario's `levers` (`streams.flow.scenarios`):
    the same trials on changed inputs, so no lever gives exactly today's figures."""
    now = timezone.now()
    today = now.astimezone(dt.UTC).date()
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    midnight = dt.datetime.combine(today, dt.time(), dt.UTC)
    sample_start = midnight - dt.timedelta(weeks=THROUGHPUT_SAMPLE_WEEKS)
    descoped = descoped_closure(levers)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.id, i.stream_id, i.finished_at IS NULL, CASE WHEN {in_progress_sql()} THEN 1 ELSE 0 END
            FROM {items} i JOIN {states} s ON s.id = i.state_id
            WHERE i.id IN ({linked_items_sql(key_result.pk)}) AND s.category <> 'removed'
            """
        )
        rows = cursor.fetchall()
        linked = len(rows)
        left = [(pk, stream_id, bool(started)) for pk, stream_id, unfinished, started in rows if unfinished]
        stream_ids = sorted({stream_id for _, stream_id, _ in left})
        wip_by_stream = {}
        if stream_ids:
            ids = ", ".join(str(pk) for pk in stream_ids)
            cursor.execute(
                f"SELECT i.stream_id, COUNT(*) FROM {items} i JOIN {states} s ON s.id = i.state_id "
                f"WHERE i.stream_id IN ({ids}) AND {in_progress_sql()} GROUP BY i.stream_id"
            )
            wip_by_stream = dict(cursor.fetchall())
    per_day = daily_throughputs(stream_ids, midnight, THROUGHPUT_SAMPLE_WEEKS)
    left = [row for row in left if row[0] not in descoped.ids]
    remaining, ours = len(left), {}
    for pk, stream_id, started in left:
        if started:
            ours.setdefault(stream_id, set()).add(pk)
    remaining_started = sum(len(ids) for ids in ours.values())
    sample = [sum(days) for days in zip(*per_day.values(), strict=True)] or [0] * (7 * THROUGHPUT_SAMPLE_WEEKS)
    by_team = finished_by_team({move.team_id for move in levers.moves}, sample_start, midnight)
    paces = [stream_pace(pk, per_day[pk], levers.moves, by_team) for pk in stream_ids]
    pace = Pace(
        tuple(int(v) for v in np.sum([p.base for p in paces], axis=0)) if paces else tuple(sample),
        tuple(part for p in paces for part in p.parts),
    )
    orders = in_progress_order({pk for pk in stream_ids if pk in levers.wip_caps})
    stream_wip, kept, wait, notes = 0, 0, 0, []
    for stream_id in stream_ids:
        wip = wip_by_stream.get(stream_id, 0) - descoped.wip_less(stream_id)
        mine = ours.get(stream_id, set())
        if stream_id in levers.wip_caps:
            held = capped(orders[stream_id], mine, levers.wip_caps[stream_id], descoped.ids)
            stream_wip, kept = stream_wip + held.wip, kept + (held.kept if not held.wait else 0)
            wait = max(wait, held.wait)
            notes.append(
                f"Capped at {levers.wip_caps[stream_id]} items in progress, {held.kept if not held.wait else 0} of "
                f"the {len(mine)} linked items in progress in that stream rank within the cap."
            )
        else:
            stream_wip, kept = stream_wip + wip, kept + len(mine)
    if levers.wip_caps and remaining_started and not kept:
        kept = 1  # waits for a slot, then holds one
        notes.append(f"None of the linked work ranks within the caps: it waits until {wait} items ahead finish.")
    else:
        wait = 0
    if kept and stream_wip:
        share = min(1.0, kept / stream_wip)
        note = (
            f"The linked work holds {kept} of the {stream_wip} items in progress in its streams, "
            f"so it is given {share:.0%} of their throughput."
        )
    else:
        share = 1.0
        note = (
            "None of the linked work left has started, so the forecast gives it all of its streams' "
            "throughput: an upper bound."
        )
    days_left = (period.last_day - today).days
    forecast = KeyResultForecast(
        linked=linked,
        remaining=remaining,
        remaining_started=remaining_started,
        stream_wip=stream_wip,
        share=share,
        share_note=note,
        sample_days=len(sample),
        sample_items=sum(sample),
        days_left=max(days_left, 0),
        chance=None,
        stream_ids=stream_ids,
        notes=notes,
    )
    if not linked:
        forecast.share_note = (
            "No work is linked to this key result, so there is no chance to show: link the items that deliver it."
        )
        return forecast
    if remaining and sum(sample) < MIN_FINISHED:
        forecast.refused = too_little_history(sum(sample), len(sample), "the streams holding the work left")
        return forecast
    needed = trial_days(daily_throughput=pace, items=remaining, share=share)
    if wait:
        needed = needed + trial_days(daily_throughput=pace, items=wait, seed=SEED + 2)
    forecast.chance = chance_within(needed, days_left)
    for attribute, q in (("p50", 0.5), ("p85", 0.85)):
        value = trial_quantile(needed, q)
        setattr(forecast, attribute, None if value is None else today + dt.timedelta(days=math.ceil(value)))
    return forecast


@dataclass
class KeyResultFlow:
    """The linked work's flow over the key result's period so far, and its forecast."""

    report: FlowReport
    forecast: KeyResultForecast

    def __getattr__(self, name):  # linked, remaining, chance... read from the forecast
        return getattr(self.forecast, name)


def key_result_flow(key_result: KeyResult, period: Period) -> KeyResultFlow:
    """Linked WIP with its aging, flow time of the linked work finished in the period, and the
    Monte Carlo chance that every linked item left is finished by the period's end
    (`key_result_forecast`). With no linked work there is no chance to show (None, never "100%")."""
    now = timezone.now()
    today = now.astimezone(dt.UTC).date()
    start = min(period.start, today)
    report = flow_report(
        scope=Scope.items(f"Work linked to “{key_result.title}”", linked_items_sql(key_result.pk), key_result.pk),
        window=Window.build(start=start, end=min(period.last_day, today), as_of=now),
    )
    return KeyResultFlow(report=report, forecast=key_result_forecast(key_result, period))


KeyResultLink = KeyResult.items.through  # which items serve which key results (direct links)


def objective_list() -> QuerySet[Objective]:
    return Objective.objects.all()


def key_result_list() -> QuerySet[KeyResult]:
    return KeyResult.objects.all()


def key_result_link_list() -> QuerySet:
    return KeyResultLink.objects.all()


def check_in_list() -> QuerySet[CheckIn]:
    return CheckIn.objects.all()
