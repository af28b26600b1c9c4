"""Alignment of work to outcomes (DESIGN.md): for a stream, a team, a director's streams or
the portfolio, in a period.

- Aligned work serves a key result of an objective in force in the period (the period's own
  objectives and, for a quarter, its year's), directly or through a parent at any depth.
- The aligned share of finished work: items finished in the period so far that are aligned,
  over all items finished then. Of WIP: items in progress now (started, not finished) that
  are aligned, over the WIP. Each item counts once however many key results it serves;
  removed items count nowhere.
- Orphan work: WIP that serves no key result of the period, listed by name, oldest first.
- Unsupported key results: key results of the scope's objectives with no linked work in
  progress or finished in the period.
- Team objectives of the scope that align to no parent objective.

Every figure is computed by the database in a fixed number of queries, whatever the scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt

from django.db import connection
from django.db.models import Q
from django.utils import timezone
import numpy as np

from core.freshness import DELIVERY, LINKS, OKRS, fresh_cached, ids_key
from core.sql import Dialect
from streams.flow.engine import Scope
from streams.flow.periods import Period
from streams.models import BacklogItem, ValueStream, WorkflowState
from streams.models.querysets import in_progress_sql
from streams.selectors import work_in_progress_by_stream

from .models import KeyResult, Objective
from .selectors import linked_work_counts

ORPHANS_LISTED = 50


def objectives_q(scope: Scope) -> Q:
    """The objectives that belong to a scope: its streams' and those of the teams serving them."""
    if scope.kind == "portfolio":
        return Q()
    if scope.kind == "team":
        return Q(team_id=scope.id)
    streams = scope.stream_ids_query()
    return Q(stream__in=streams) | Q(team__streams__in=streams)


@dataclass
class Alignment:
    wip: int = 0
    wip_aligned: int = 0
    finished: int = 0
    finished_aligned: int = 0

    @property
    def wip_share(self) -> float | None:
        return self.wip_aligned / self.wip if self.wip else None

    @property
    def finished_share(self) -> float | None:
        return self.finished_aligned / self.finished if self.finished else None

    @property
    def orphans(self) -> int:
        return self.wip - self.wip_aligned

    def __add__(self, other: Alignment) -> Alignment:
        return Alignment(
            self.wip + other.wip,
            self.wip_aligned + other.wip_aligned,
            self.finished + other.finished,
            self.finished_aligned + other.finished_aligned,
        )


@dataclass
class OrphanItem:
    item_id: int
    key: str
    title: str
    flow_type: str
    stream: str
    state: str
    age_days: float


@dataclass
class AlignmentReport:
    scope: Scope
    period: Period
    totals: Alignment
    by_stream: dict[int, Alignment] = field(default_factory=dict)
    orphans: list[OrphanItem] = field(default_factory=list)  # the oldest ORPHANS_LISTED
    unsupported: list[KeyResult] = field(default_factory=list)
    unparented: list[Objective] = field(default_factory=list)


def period_labels(period: Period) -> list[str]:
    """The objectives in force in a period: its own and, for a quarter, its year's."""
    return sorted({period.label, str(period.start.year)})


def key_results_in_force_sql(period: Period) -> tuple[str, list]:
    """SQL selecting the ids of the key results in force in the period, and its parameters."""
    labels = period_labels(period)
    placeholders = ", ".join(["%s"] * len(labels))
    sql = (
        f"SELECT kr.id FROM {KeyResult._meta.db_table} kr JOIN {Objective._meta.db_table} o "
        f"ON o.id = kr.objective_id WHERE o.period IN ({placeholders})"
    )
    return sql, labels


def aligned_items(period: Period) -> list[int]:
    """The distinct items serving any key result in force in the period, directly or through a
    parent (an item serving many key results is walked once). The walk is cached until a write
    could change it (`core.freshness.LINKS`), not at every change of the data, and kept as an
    object in the process (callers read it, never change it)."""
    return fresh_cached(
        f"aligned_items:{period.label}", lambda: _aligned_items(period), generation=LINKS, in_process=True
    )


def aligned_array(period: Period) -> np.ndarray:
    """`aligned_items` as a sorted array (for NumPy's set operations), cached alike."""
    return fresh_cached(  # read only (searched), so kept as an object in the process
        f"aligned_array:{period.label}",
        lambda: np.unique(np.array(aligned_items(period), dtype=np.int64)),
        generation=LINKS,
        in_process=True,
    )


def _aligned_items(period: Period) -> list[int]:
    links = KeyResult.items.through._meta.db_table
    in_force, labels = key_results_in_force_sql(period)
    children_of = Dialect(connection).children_join
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE aligned(item) AS (
                SELECT k.backlogitem_id FROM {links} k
                WHERE k.keyresult_id IN ({in_force})
                UNION
                SELECT c.id FROM aligned a {children_of("a.item")}
            )
            SELECT item FROM aligned
            """,
            labels,
        )
        return [int(item) for (item,) in cursor.fetchall()]


def _bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(period.start, dt.time(), dt.UTC)
    end = min(dt.datetime.combine(period.end, dt.time(), dt.UTC), timezone.now())
    return start, end


def alignment_counts(period: Period, *, where: str = "1 = 1", group_by: str = "i.stream_id") -> dict:
    """Per group (a stream by default): WIP now and items finished in the period, all and aligned.

    One query. WIP is read through the partial index of items in progress; finished items
    through (stream, finished_at). Cached until the data changes (`core.freshness`).
    """
    today = timezone.now().astimezone(dt.UTC).date()
    return fresh_cached(
        f"alignment_counts:{period.label}:{today}:{where}:{group_by}",
        lambda: _alignment_counts(period, where=where, group_by=group_by),
    )


def _alignment_counts(period: Period, *, where: str, group_by: str) -> dict:
    """The items in progress (each through its covering index) counted in Python against the
    cached aligned items (handed to PostgreSQL as an array, the planner could not see how few
    they are and hashed or sorted far more than it needed), with the finished ones' counts."""
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    aligned = set(aligned_items(period))
    counts: dict = {
        grp: [0, 0, finished, served] for grp, (finished, served) in _finished_counts(period, where, group_by).items()
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {group_by}, i.id FROM {items} i JOIN {states} s ON s.id = i.state_id
            WHERE ({where}) AND {in_progress_sql()}
            """
        )
        for grp, pk in cursor.fetchall():
            row = counts.setdefault(grp, [0, 0, 0, 0])
            row[0] += 1
            row[1] += pk in aligned
    return {grp: Alignment(*row) for grp, row in counts.items()}


def _finished_counts(period: Period, where: str, group_by: str) -> dict:
    """Per group, the items finished in the period so far and how many of them are aligned:
    most of the rows counted (59,000 of 72,000 at the DESIGN.md scale), and what an ordinary
    move leaves as it is. Cached until an item's start, finish, stream or existence changes
    (`core.freshness.DELIVERY`) or the links do (`LINKS`)."""
    today = timezone.now().astimezone(dt.UTC).date()
    return fresh_cached(
        f"aligned_finished:{period.label}:{today}:{where}:{group_by}",
        lambda: _finished_counted(period, where, group_by),
        generation=(DELIVERY, LINKS),
    )


def _finished_counted(period: Period, where: str, group_by: str) -> dict:
    start, end = _bounds(period)
    aligned = set(aligned_items(period))
    counts: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {group_by}, i.id FROM {BacklogItem._meta.db_table} i "
            f"WHERE ({where}) AND i.finished_at >= %s AND i.finished_at < %s",
            [start, end],
        )
        for grp, pk in cursor.fetchall():
            row = counts.setdefault(grp, [0, 0])
            row[0] += 1
            row[1] += pk in aligned
    return {grp: tuple(row) for grp, row in counts.items()}


def in_sorted(values: np.ndarray, sorted_array: np.ndarray) -> np.ndarray:
    """Which of `values` are in `sorted_array` (sorted, as `aligned_array` is), by binary search:
    `np.isin` sorts both sides at each call, so counting 1,000 streams' work against 1.6 million
    aligned items cost 3 ms a stream at ten times the DESIGN.md scale."""
    if not len(sorted_array):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_array, values), len(sorted_array) - 1)
    return sorted_array[at] == values


def stream_alignment(period: Period, stream_ids: list[int]) -> dict[int, Alignment]:
    """`alignment_counts` of the given streams, by stream: their work in progress kept per
    stream (`streams.selectors.work_in_progress_by_stream`: after an edit, only the streams
    written are read again) counted against the cached aligned items, with the finished counts.
    Streams with no work have no entry, as with `alignment_counts`."""
    ids = ", ".join(str(int(pk)) for pk in stream_ids) or "NULL"
    aligned = aligned_array(period)
    counts: dict = {
        pk: [0, 0, finished, served]
        for pk, (finished, served) in _finished_counts(
            period, f"i.stream_id IN ({ids}) AND NOT i.held_back", "i.stream_id"
        ).items()
    }
    for pk, (wip, _) in work_in_progress_by_stream(stream_ids).items():
        if len(wip):
            row = counts.setdefault(pk, [0, 0, 0, 0])
            row[0], row[1] = len(wip), int(in_sorted(wip, aligned).sum())
    return {pk: Alignment(*row) for pk, row in counts.items()}


def stream_orphans(period: Period, stream_ids: list[int], limit: int = ORPHANS_LISTED) -> list[OrphanItem]:
    """`orphan_work` of the given streams, from their work in progress kept per stream."""
    aligned = aligned_array(period)
    work = work_in_progress_by_stream(stream_ids).values()
    ids = np.concatenate([np.empty(0, dtype=np.int64), *(ids for ids, _ in work)])
    started = np.concatenate([np.empty(0, dtype=np.float64), *(days for _, days in work)])
    orphan = ~in_sorted(ids, aligned)
    ids, started = ids[orphan], started[orphan]
    oldest = ids[np.lexsort((ids, started))[:limit]].tolist()
    return _orphan_items(_orphan_rows_of(oldest))


def orphan_work(period: Period, *, where: str, limit: int = ORPHANS_LISTED) -> list[OrphanItem]:
    """The oldest items in progress that serve no key result in force in the period (the
    list is cached until the data changes; ages are reckoned now)."""
    return _orphan_items(
        fresh_cached(f"orphans:{period.label}:{limit}:{where}", lambda: _orphan_rows(period, where, limit))
    )


def _orphan_items(rows: list[tuple]) -> list[OrphanItem]:
    now = timezone.now()
    return [
        OrphanItem(
            pk,
            key or f"#{pk}",
            title,
            flow_type,
            stream,
            state,
            (now - Dialect.to_datetime(started)).total_seconds() / 86400,
        )
        for pk, key, title, flow_type, stream, state, started in rows
    ]


def _orphan_rows(period: Period, where: str, limit: int) -> list[tuple]:
    """The oldest items in progress in the scope not among the cached aligned items: their ids
    and start read through the WIP index, the few listed read whole."""
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    aligned = set(aligned_items(period))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT i.id FROM {items} i JOIN {states} s ON s.id = i.state_id
                WHERE ({where}) AND {in_progress_sql()} ORDER BY i.started_at, i.id"""
        )
        oldest = [pk for (pk,) in cursor.fetchall() if pk not in aligned][:limit]
    return _orphan_rows_of(oldest)


def _orphan_rows_of(oldest: list[int]) -> list[tuple]:
    """The listed orphans read whole, oldest first."""
    if not oldest:
        return []
    items, states, streams = BacklogItem._meta.db_table, WorkflowState._meta.db_table, ValueStream._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.id, i.external_key, i.title, i.flow_type, v.name, s.name, i.started_at
            FROM {items} i JOIN {states} s ON s.id = i.state_id JOIN {streams} v ON v.id = i.stream_id
            WHERE i.id IN ({", ".join(str(int(pk)) for pk in oldest)})
            ORDER BY i.started_at, i.id
            """
        )
        return cursor.fetchall()


def unsupported_key_results(period: Period, scope: Scope, stream_ids: list[int] | None = None) -> list[KeyResult]:
    """Key results of the scope's objectives in force in the period with no linked work in
    progress or finished in it. The key results are kept under the objectives' generation
    (`core.freshness.OKRS`) as objects in the process: an edit of work left them as they were,
    yet 5,000 of them with their objectives were read and built again after each one (0.3 s of
    the alignment page at ten times the DESIGN.md scale). `stream_ids`, the streams a
    portfolio, director or stream scope covers, name them in the key (a director's streams
    follow the leadership assignments, which that generation does not count)."""
    if scope.kind == "portfolio":
        covered = "portfolio"
    elif scope.kind == "team":
        covered = f"team:{int(scope.id)}"
    else:
        ids = stream_ids if stream_ids is not None else list(scope.stream_ids_query().values_list("pk", flat=True))
        covered = f"streams:{ids_key(ids)}"
    key_results = fresh_cached(
        f"alignment-key-results:{period.label}:{covered}",
        lambda: list(
            KeyResult.objects.filter(objective__period__in=period_labels(period))
            .filter(objective__in=Objective.objects.filter(objectives_q(scope)).values("pk"))
            .select_related("objective__stream", "objective__team")
            .order_by("objective__title", "order", "pk")
        ),
        generation=OKRS,
        in_process=True,
    )
    counts = linked_work_counts([kr.pk for kr in key_results], period)
    return [kr for kr in key_results if counts.get(kr.pk, (0, 0)) == (0, 0)]


def unparented_team_objectives(period: Period, scope: Scope) -> list[Objective]:
    """Team objectives of the scope in force in the period that align to no parent objective."""
    return list(
        Objective.objects.filter(
            level=Objective.Level.TEAM,
            parent__isnull=True,
            period__in=period_labels(period),
            pk__in=Objective.objects.filter(objectives_q(scope)).values("pk"),
        )
        .select_related("team")
        .order_by("team__name", "title")
    )


def alignment_stream_ids(scope: Scope, report: AlignmentReport):
    """The streams a scope covers (all of them for the portfolio, the director's for a
    director), plus any stream the scope's work lies in; a queryset of ids or a list."""
    if scope.kind in ("portfolio", "director"):
        return scope.stream_ids_query()
    return list(report.by_stream)


def alignment_report(scope: Scope, period: Period) -> AlignmentReport:
    """Everything the alignment page shows for a scope, in a fixed number of queries."""
    where = scope.item_filter_sql("i")
    stream_ids = None
    if scope.kind in ("portfolio", "director", "stream"):  # whole streams: read per stream
        stream_ids = list(scope.stream_ids_query().values_list("pk", flat=True))
        by_stream, orphans = stream_alignment(period, stream_ids), stream_orphans(period, stream_ids)
    else:
        by_stream, orphans = alignment_counts(period, where=where), orphan_work(period, where=where)
    totals = sum(by_stream.values(), Alignment())
    return AlignmentReport(
        scope=scope,
        period=period,
        totals=totals,
        by_stream=by_stream,
        orphans=orphans,
        unsupported=unsupported_key_results(period, scope, stream_ids),
        unparented=unparented_team_objectives(period, scope),
    )
