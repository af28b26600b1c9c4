"""Daily rollups of flow: what reports over many streams read instead of the whole history.

The exact engine (`streams.flow.engine`) reads every transition of every item not finished before
the window; for the whole portfolio that is close to a million stays. Most of it describes
days that are over and will not change, so the refresh job stores, per stream and complete
UTC day, what the engine computes for that day:

- `FlowDay`: items per category and the WIP at the day's end (cumulative flow, mean WIP);
- `FlowDayEfficiency`: the items finished that day, by efficiency bin, with Σ active and
  Σ flow days (flow efficiency and its histogram);
- `FlowDayState`: days those items spent in each state (bottleneck).

A report over many streams sums those rows for the window's complete days, reads today live
(the current states for the day's end, the exact engine narrowed to the items finished
today), and takes throughput, flow and lead times and WIP straight from the started/finished
dates the state service keeps on each item. The result equals the exact engine's.

It stays equal only if every change that rewrites a stored day says so. `rollups_invalidate`
pulls a stream's `FlowDayMark.valid_until` back; callers: the state service (a move dated
before today, a reopen or any move of a past finish, a start that moves, entering or leaving
a removed state), item creation dated before today, imports, a state's category change, and
signals on blocked periods of finished items and on deleted items. While any stream in scope
is not valid for the window's days, or the history has moves after `as_of`, `rollup_report`
returns None and the caller reads the history: a report is never answered from stale rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt

from django.db import connection, transaction
from django.db.models import Case, F, Min, Q, Sum, Value, When
from django.utils import timezone
import numpy as np

from core.freshness import fresh_cached_by_stream
from core.parallel import each_side_by_side
from core.sql import Dialect
from streams.flow.engine import (
    CATEGORIES,
    FLOW_TYPES,
    PERCENTILES,
    FlowReport,
    HistoryEngine,
    Scope,
    Window,
    finished_stats_sql,
    report_bottleneck,
    report_daily,
    report_efficiency,
    report_finished_stats,
    report_littles_law,
    report_targets_and_limits,
    report_throughput,
    workflow_states,
)
from streams.models import (
    BacklogItem,
    FlowDay,
    FlowDayEfficiency,
    FlowDayMark,
    FlowDayState,
    StateTransition,
    ValueStream,
    WorkflowState,
)
from streams.models.querysets import in_progress_sql, returned_sql

DAY = dt.timedelta(days=1)


def utc_day(instant: dt.datetime) -> dt.date:
    return instant.astimezone(dt.UTC).date()


def affected_day(instant: dt.datetime) -> dt.date:
    """The first day whose stored rows an event at `instant` can change: a day's end counts
    what is there at its last instant, midnight included (as the engine's daily series does)."""
    return utc_day(instant - dt.timedelta(microseconds=1))


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


# --- Computing days with the exact engine ---------------------------------------------------------


@dataclass
class DayRows:
    """What the engine found, per stream and day (day = index from the window's first day)."""

    days: list[dict] = field(default_factory=list)  # the engine's daily series (one stream; states by id)
    efficiency: list[tuple] = field(default_factory=list)  # stream, day, bin, items, Σ active, Σ flow
    states: list[tuple] = field(default_factory=list)  # stream, day, state, Σ days


class _DayEngine(HistoryEngine):
    """The exact engine's tables, aggregated per stream and finishing day instead of per window.

    `finished_since` narrows the history read to the items finished since then (today's part
    of a report); without the cumulative flow (`with_days=False`), which needs every item.
    """

    def __init__(self, cursor, dialect, scope, window, *, finished_since=None, with_days=True):
        super().__init__(cursor, dialect, scope, window, with_items=False)
        self.finished_since = finished_since
        self.with_days = with_days

    def item_filter(self) -> str:
        where = super().item_filter()
        if self.finished_since is not None:
            where += f" AND i.finished_at >= {self.sql.timestamp(self.finished_since)}"
        return where

    def rows(self) -> DayRows:
        self.drop()
        self._build_segments()
        self._build_items()
        self._build_blocks()
        self._build_state_time()
        out = DayRows()
        if self.with_days:
            self._daily_series()
            # Per state by id (a state renamed later keeps its rows), states with no item left out.
            ids = {state["name"]: str(state["id"]) for state in self.report.cfd_states}
            moves = self._moves()
            out.days = [
                {
                    **day,
                    "states": {ids[name]: n for name, n in day.get("states", {}).items() if n},
                    "moves": moves.get(k, {}),
                }
                for k, day in enumerate(self.report.daily)
            ]
        sql = self.sql
        day = sql.floor(sql.days("f.finish", self.ws))
        flow = sql.days("f.finish", "f.start")
        bin_ = sql.least(sql.floor("10 * active / flow"), "9")
        out.efficiency = self.fetchall(
            f"""
            SELECT stream_id, day, CASE WHEN flow > 0 THEN {bin_} END AS bin, COUNT(*), SUM(active), SUM(flow)
            FROM (
                SELECT f.item_id, f.stream_id, {day} AS day, {flow} AS flow,
                       COALESCE(SUM(CASE WHEN t.category = 'active' THEN t.days - t.blocked ELSE 0 END), 0) AS active
                FROM {self.ITEM} f LEFT JOIN {self.STATE_TIME} t ON t.item_id = f.item_id
                WHERE {self.finished} AND f.start IS NOT NULL
                GROUP BY f.item_id, f.stream_id, f.finish, f.start
            ) per_item
            GROUP BY stream_id, day, bin
            """
        )
        out.states = self.fetchall(
            f"""
            SELECT f.stream_id, {day} AS finish_day, t.state_id, SUM(t.days)
            FROM {self.STATE_TIME} t JOIN {self.ITEM} f ON f.item_id = t.item_id
            WHERE {self.finished}
            GROUP BY f.stream_id, finish_day, t.state_id
            """
        )
        self.drop()
        return out

    def _moves(self) -> dict[int, dict[str, int]]:
        """Per day of the window, the stream's items' moves dated then, by "from-to" state ids
        (as `streams.flow.quality` counts them: every item of the stream, held back or not).

        An item done before the window starts, and done still, made its last move then (its
        finish is its last entry into a done state, `_build_segments` relies on the same), so
        only unfinished items and those finished since are read: for the nightly day, a few
        hundred of a stream's thousands."""
        day = self.sql.floor(self.sql.days("t.at", self.ws))
        rows = self.fetchall(
            f"""
            SELECT {day} AS k, t.from_state_id, t.to_state_id, COUNT(*)
            FROM {StateTransition._meta.db_table} t JOIN {BacklogItem._meta.db_table} i ON i.id = t.item_id
            WHERE i.stream_id = {int(self.scope.id)} AND t.from_state_id IS NOT NULL
              AND (i.finished_at IS NULL OR i.finished_at >= {self.ws})
              AND t.at >= {self.ws} AND t.at < {self.we}
            GROUP BY k, t.from_state_id, t.to_state_id
            """
        )
        moves: dict[int, dict[str, int]] = {}
        for k, from_id, to_id, n in rows:
            moves.setdefault(int(k), {})[f"{from_id}-{to_id}"] = int(n)
        return moves


def day_rows(*, scope: Scope, window: Window, finished_since=None, with_days: bool = True) -> DayRows:
    with transaction.atomic(), connection.cursor() as cursor:
        engine = _DayEngine(
            cursor, Dialect(connection), scope, window, finished_since=finished_since, with_days=with_days
        )
        return engine.rows()


# --- Keeping the stored days ----------------------------------------------------------------------


def rollups_invalidate(*, stream_id: int, since: dt.date | None, create_mark: bool = True) -> None:
    """The history of the stream changed from `since` on (None: anywhere): stop trusting the
    stored days from there until the refresh job recomputes them.

    Call it inside the transaction that changes the history, so both commit together. The
    version bump also stops a refresh that is computing meanwhile from marking its rows valid.
    `create_mark=False` is for a stream being deleted, whose mark goes with it.
    """
    valid_until = (
        None if since is None else Case(When(valid_until__gt=since, then=Value(since)), default=F("valid_until"))
    )
    updated = FlowDayMark.objects.filter(stream_id=stream_id).update(valid_until=valid_until, version=F("version") + 1)
    if not updated and create_mark:
        # No mark yet: create one that trusts nothing. A refresh creating its own mark waits
        # for this transaction (same primary key) and then sees the version moved.
        FlowDayMark.objects.get_or_create(stream_id=stream_id, defaults={"version": 1})


def stream_rollups_refresh(*, stream_id: int, as_of: dt.datetime | None = None) -> int:
    """Compute and store the stream's days that are not valid, up to the day before `as_of`
    (default: now). Returns the number of days written; 0 when all were valid already, or
    when the history changed while computing (the next run picks those days up).
    """
    as_of = as_of or timezone.now()
    mark, _ = FlowDayMark.objects.get_or_create(stream_id=stream_id)
    last = utc_day(as_of) - DAY
    first = mark.valid_until
    if first is None:
        began = StateTransition.objects.filter(item__stream_id=stream_id, at__lte=as_of).aggregate(first=Min("at"))
        first = affected_day(began["first"]) if began["first"] else last + DAY
    rows = None
    if first <= last:
        window = Window.build(start=first, end=last, as_of=as_of)
        rows = day_rows(scope=Scope("stream", stream_id), window=window)
    elif mark.valid_until is not None and mark.valid_until >= first:
        return 0  # nothing new, and nothing to record
    with transaction.atomic():
        locked = FlowDayMark.objects.select_for_update().get(pk=stream_id)
        if locked.version != mark.version:
            return 0
        stored = {"stream_id": stream_id}
        if mark.valid_until is not None:
            stored["day__gte"] = first
        for model in (FlowDay, FlowDayEfficiency, FlowDayState):
            model.objects.filter(**stored).delete()
        if rows is not None:
            _store(stream_id, first, rows)
        FlowDayMark.objects.filter(pk=stream_id).update(valid_until=last + DAY, computed_as_of=as_of)
    return max((last - first).days + 1, 0)


def _store(stream_id: int, first: dt.date, rows: DayRows) -> None:
    FlowDay.objects.bulk_create(
        [
            FlowDay(stream_id=stream_id, **{key: day[key] for key in ("day", *CATEGORIES, "wip", "states", "moves")})
            for day in rows.days
            if any(day[key] for key in (*CATEGORIES, "wip", "moves"))
        ],
        batch_size=2000,
    )
    FlowDayEfficiency.objects.bulk_create(
        [
            FlowDayEfficiency(
                stream_id=stream,
                day=first + int(k) * DAY,
                bin=None if bin_ is None else int(bin_),
                items=n,
                active_days=float(active or 0),
                flow_days=float(flow or 0),
            )
            for stream, k, bin_, n, active, flow in rows.efficiency
        ],
        batch_size=2000,
    )
    FlowDayState.objects.bulk_create(
        [
            FlowDayState(stream_id=stream, day=first + int(k) * DAY, state_id=state, days=float(days or 0))
            for stream, k, state, days in rows.states
        ],
        batch_size=2000,
    )


def rollups_refresh(*, as_of: dt.datetime | None = None, stream_ids=None, workers: int | None = None) -> int:
    """Bring every stream's stored days up to yesterday (or the given streams'); returns the
    days written. Streams whose days are valid already cost one query between them. Streams
    are refreshed `workers` at a time, each on its own connection (default: one per core on
    PostgreSQL outside a transaction, `core.parallel`): the work is mostly the database's, and
    each stream's refresh is its own transaction, safe beside another's."""
    as_of = as_of or timezone.now()
    through = utc_day(as_of)
    streams = ValueStream.objects.all() if stream_ids is None else ValueStream.objects.filter(pk__in=stream_ids)
    stale = streams.exclude(
        Q(pk__in=FlowDayMark.objects.filter(valid_until__gte=through).values("stream_id"))
    ).values_list("pk", flat=True)
    written = each_side_by_side(
        list(stale.order_by("pk")), lambda pk: stream_rollups_refresh(stream_id=pk, as_of=as_of), workers
    )
    return sum(written)


# --- Answering a report from them -----------------------------------------------------------------


def stored_moves(*, stream_id: int, window: Window) -> dict[tuple[int, int], int] | None:
    """The stream's moves dated in a window of whole days, per (from, to) state ids, summed from
    the stored days; None when those cannot answer (the window cuts a day, or the stream's
    stored days are not valid through it: a move dated in the past pulls them back)."""
    first, end = utc_day(window.start), utc_day(window.end)
    if window.start != midnight(first) or window.end != midnight(end):
        return None
    trusted = FlowDayMark.objects.filter(stream_id=stream_id, valid_until__gte=end, computed_as_of__lte=window.as_of)
    if not trusted.exists():
        return None
    counts: dict[tuple[int, int], int] = {}
    for moves in FlowDay.objects.filter(stream_id=stream_id, day__gte=first, day__lt=end).values_list(
        "moves", flat=True
    ):
        for pair, n in moves.items():
            from_id, to_id = (int(pk) for pk in pair.split("-"))
            counts[from_id, to_id] = counts.get((from_id, to_id), 0) + n
    return counts


def rollup_report(*, scope: Scope, window: Window) -> FlowReport | None:
    """The aggregates of the report (no per-item rows) from the stored days, or None when they
    cannot answer exactly: a stream in scope has stale days in the window or was refreshed
    after `as_of`, or the history holds moves after `as_of` (the stored dates would not be
    those of `as_of`)."""
    streams = scope.stream_ids_query()
    today = utc_day(window.as_of)
    stored_end = min(window.end, midnight(today))  # the window's complete days end here
    stored_days = max((stored_end - window.start).days, 0)
    if stored_days:
        trusted = FlowDayMark.objects.filter(
            stream_id__in=streams,
            valid_until__gte=utc_day(window.start) + stored_days * DAY,
            computed_as_of__lte=window.as_of,
        )
        if trusted.count() != ValueStream.objects.filter(pk__in=streams).count():
            return None
    if StateTransition.objects.filter(at__gt=window.as_of, to_state__stream__in=streams).exists():
        return None

    r = FlowReport(scope=scope, window=window, method="daily rollups")
    # WIP now (no moves after as_of): started, unfinished, active or waiting; the items
    # returned to the backlog; and, for a window ending today, today's day-end (every item:
    # else only the started, unfinished ones, which the index of work in progress holds).
    live_point = window.days > stored_days
    if scope.kind == "stream":
        finished, throughput, now_rows = _item_figures(scope.item_filter_sql("i"), window, live_point)
    else:  # each stream's part kept under its version: after an edit only that stream is read
        finished, throughput, now_rows = _merged(
            fresh_cached_by_stream(
                f"rollup-items:{window.start.isoformat()}:{window.end.isoformat()}:{live_point}",
                list(streams.values_list("pk", flat=True)),
                lambda ids: _stream_item_figures(ids, window, live_point),
                generation=(),
            ).values()
        )
    report_finished_stats(r, finished)
    report_throughput(r, throughput)
    now = dict.fromkeys((*CATEGORIES, "wip"), 0)
    now_states: dict[str, int] = {}
    r.wip_by_type = dict.fromkeys(FLOW_TYPES, 0)
    for state_id, category, flow_type, count, wip, returned in now_rows:
        now[category] += count
        now_states[str(state_id)] = now_states.get(str(state_id), 0) + count
        now["wip"] += wip
        r.wip_by_type[flow_type] += wip
        r.returned += returned
    r.wip = now["wip"]

    if scope.kind == "stream":  # cumulative flow per state, in the workflow's order
        r.cfd_states = workflow_states(scope.id)
    report_daily(r, _daily(window, streams, stored_days, now, r.cfd_states, now_states))

    stored = {
        "stream_id__in": streams,
        "day__gte": utc_day(window.start),
        "day__lt": utc_day(window.start) + stored_days * DAY,
    }
    measurable = WorkflowState.objects.filter(category=WorkflowState.Category.WAITING, stream_id__in=streams).values(
        "stream_id"
    )
    efficiency = [
        (row["bin"], row["n"], row["active"], row["flow"])
        for row in FlowDayEfficiency.objects.filter(**{**stored, "stream_id__in": measurable})
        .values("bin")
        .annotate(n=Sum("items"), active=Sum("active_days"), flow=Sum("flow_days"))
        .order_by()
    ]
    states = dict(
        FlowDayState.objects.filter(**stored)
        .values("state_id")
        .annotate(days=Sum("days"))
        .order_by()
        .values_list("state_id", "days")
    )
    if window.end > midnight(today):  # today so far, from the history of the items finished today
        since = max(window.start, midnight(today))
        live = day_rows(
            scope=scope,
            window=Window.build(start=utc_day(since), end=today, as_of=window.as_of),
            finished_since=since,
            with_days=False,
        )
        measurable_ids = set(ValueStream.objects.filter(pk__in=measurable).values_list("pk", flat=True))
        efficiency += [(b, n, a, f) for stream, _, b, n, a, f in live.efficiency if stream in measurable_ids]
        for _, _, state, days in live.states:
            states[state] = states.get(state, 0.0) + float(days or 0)
    report_efficiency(r, efficiency)
    _bottleneck(r, states)
    report_targets_and_limits(r)
    report_littles_law(r)
    return r


def _finished_and_now_sql(item_filter: str, window: Window, live_point: bool, *, by_stream: bool) -> tuple[str, ...]:
    """The three reads of the items behind a report from the rollups: the items finished in
    the window (their figures, or with `by_stream` each one's flow and lead time), their count
    by day and type, and the items now by state and type (in progress, returned)."""
    sql = Dialect(connection)
    ws, we = sql.timestamp(window.start), sql.timestamp(window.end)
    items = f"{BacklogItem._meta.db_table} i"
    where = f"{item_filter} AND i.finished_at >= {ws} AND i.finished_at < {we}"
    stream = "i.stream_id, " if by_stream else ""
    if by_stream:
        flow, lead = sql.days("i.finished_at", "i.started_at"), sql.days("i.finished_at", "i.created_at")
        finished = f"SELECT i.stream_id, {flow}, {lead} FROM {items} WHERE {where}"
    else:
        columns = finished_stats_sql(sql, start="i.started_at", finish="i.finished_at", created="i.created_at")
        finished = f"SELECT {columns} FROM {items} WHERE {where}"
    day = sql.floor(sql.days("i.finished_at", ws))
    throughput = (
        f"SELECT {stream}{day} AS day, i.flow_type, COUNT(*) FROM {items} WHERE {where} "
        f"GROUP BY {stream}day, i.flow_type"
    )
    started = "" if live_point else "AND i.started_at IS NOT NULL AND i.finished_at IS NULL"
    now = f"""SELECT {stream}s.id, s.category, i.flow_type, COUNT(*),
                     SUM(CASE WHEN {in_progress_sql()} THEN 1 ELSE 0 END),
                     SUM(CASE WHEN {returned_sql()} THEN 1 ELSE 0 END)
              FROM {items} JOIN {WorkflowState._meta.db_table} s ON s.id = i.state_id
              WHERE {item_filter} AND s.category <> 'removed' {started}
              GROUP BY {stream}s.id, s.category, i.flow_type"""
    return finished, throughput, now


def _item_figures(item_filter: str, window: Window, live_point: bool) -> tuple[tuple, list, list]:
    """The finished items' figures (a `finished_stats_sql` row), the throughput rows and the
    rows of items now, for one SQL condition on the items (the dates the state service keeps
    are the engine's start and finish)."""
    finished, throughput, now = _finished_and_now_sql(item_filter, window, live_point, by_stream=False)
    with connection.cursor() as cursor:
        cursor.execute(finished)
        stats = cursor.fetchone()
        cursor.execute(throughput)
        days = cursor.fetchall()
        cursor.execute(now)
        return stats, days, cursor.fetchall()


@dataclass
class StreamItemFigures:
    """One stream's part of a report from the rollups: the flow and lead times of its items
    finished in the window (flow time only for those with a start), its throughput rows and its
    rows of items now."""

    flow: np.ndarray
    lead: np.ndarray
    throughput: list = field(default_factory=list)
    now: list = field(default_factory=list)


def _stream_item_figures(stream_ids: list[int], window: Window, live_point: bool) -> dict[int, StreamItemFigures]:
    """`_item_figures` of each stream, in the same three reads for all of them."""
    ids = ", ".join(str(int(pk)) for pk in stream_ids)
    finished, throughput, now = _finished_and_now_sql(
        f"i.stream_id IN ({ids}) AND NOT i.held_back", window, live_point, by_stream=True
    )
    times: dict[int, tuple[list, list]] = {pk: ([], []) for pk in stream_ids}
    parts = {}
    with connection.cursor() as cursor:
        cursor.execute(finished)
        for stream_id, flow, lead in cursor.fetchall():
            if flow is not None:
                times[stream_id][0].append(float(flow))
            times[stream_id][1].append(float(lead))
        for pk, (flow, lead) in times.items():
            parts[pk] = StreamItemFigures(np.array(flow, dtype=float), np.array(lead, dtype=float))
        cursor.execute(throughput)
        for stream_id, *row in cursor.fetchall():
            parts[stream_id].throughput.append(tuple(row))
        cursor.execute(now)
        for stream_id, *row in cursor.fetchall():
            parts[stream_id].now.append(tuple(row))
    return parts


def _merged(parts) -> tuple[tuple, list, list]:
    """Streams' parts as one scope's: the finished items' figures as `finished_stats_sql` gives
    them (means; percentiles interpolated between the closest ranks, as percentile_cont), the
    throughput rows and the rows of items now."""
    parts = list(parts)
    flow = np.concatenate([p.flow for p in parts]) if parts else np.array([])
    lead = np.concatenate([p.lead for p in parts]) if parts else np.array([])

    def figures(values: np.ndarray) -> list:
        if not len(values):
            return [None] * (1 + len(PERCENTILES))
        return [float(values.mean()), *(float(v) for v in np.percentile(values, [100 * p for p in PERCENTILES]))]

    (mean_flow, *flow_p), (mean_lead, *lead_p) = figures(flow), figures(lead)
    stats = (len(lead), len(flow), mean_flow, mean_lead, *flow_p, *lead_p)
    return stats, [row for p in parts for row in p.throughput], [row for p in parts for row in p.now]


def _daily(window: Window, streams, stored_days: int, now: dict, named: list[dict], now_states: dict) -> list[dict]:
    """The stored day-ends summed over the streams, then now for a window ending today; with
    `named` (one stream's states) each day also counts its items per state, as the engine's."""
    first = utc_day(window.start)
    stored = FlowDay.objects.filter(stream_id__in=streams, day__gte=first, day__lt=first + stored_days * DAY)
    if named:  # one stream: a row per day already
        sums = {row["day"]: row for row in stored.values("day", "states", *CATEGORIES, "wip")}
    else:
        sums = {
            row["day"]: row
            for row in stored.values("day").annotate(**{key: Sum(key) for key in (*CATEGORIES, "wip")}).order_by()
        }
    series = []
    for k in range(stored_days):
        day = first + k * DAY
        row = sums.get(day, {})
        point = {"day": day, **{key: int(row.get(key) or 0) for key in (*CATEGORIES, "wip")}}
        if named:
            point["states"] = _by_name(named, row.get("states") or {})
        series.append(point)
    if window.days > stored_days:  # the window ends today: its last point is now
        point = {"day": utc_day(window.end - dt.timedelta(microseconds=1)), **now}
        if named:
            point["states"] = _by_name(named, now_states)
        series.append(point)
    return series


def _by_name(named: list[dict], counts: dict[str, int]) -> dict[str, int]:
    return {state["name"]: int(counts.get(str(state["id"]), 0)) for state in named}


def _bottleneck(r: FlowReport, states: dict[int, float]) -> None:
    """Name the states (one query) and order them as the engine does: most days first."""
    named = WorkflowState.objects.filter(pk__in=list(states)).values_list("pk", "name", "category", "stream__name")
    rows = [(name, category, stream, states[pk]) for pk, name, category, stream in named]
    report_bottleneck(r, sorted(rows, key=lambda row: (-float(row[3] or 0), row[0])))
