"""The one door to flow figures: the daily rollups when they can answer exactly, else the
engine over the history. Neither of those two modules imports the other; this one picks."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import connection, transaction

from core.freshness import fresh_cached_by_stream
from core.sql import Dialect
from streams.flow.engine import ROLLUP_SCOPES, FlowReport, HistoryEngine, ItemFacts, Scope, Window, pace_of
from streams.flow.rollups import midnight, rollup_report, utc_day
from streams.models import BacklogItem, WorkflowState
from streams.models.querysets import in_progress_sql, returned_sql


def flow_report(
    *, scope: Scope, window: Window | None = None, with_items: bool = True, use_rollups: bool = True
) -> FlowReport:
    """Every flow metric of DESIGN.md for the scope over the window, with per-item facts of
    the items finished in it and in progress at its end (`with_items=False` skips those rows
    when only the aggregates are wanted, as for the whole portfolio).

    Runs a fixed number of queries whatever the volume: the history is read once into
    temporary tables that the aggregate queries share, then dropped. Aggregates of whole
    streams (a stream, the portfolio, a director's) are summed from the daily rollups when
    those are fresh (`streams.flow.rollups`; `use_rollups=False` always reads the history):
    the same numbers.
    """
    window = window or Window.build()
    if use_rollups and not with_items and scope.kind in ROLLUP_SCOPES:
        report = rollup_report(scope=scope, window=window)
        if report is not None:
            return report
    with transaction.atomic(), connection.cursor() as cursor:
        engine = HistoryEngine(cursor, Dialect(connection), scope, window, with_items=with_items)
        report = engine.run()
        # On failure the transaction's rollback drops the tables (and the error stays visible).
        engine.drop()
        return report


def stream_page_report(*, scope: Scope, window: Window, shown: int) -> FlowReport:
    """A stream's report as its page shows it: the aggregates from the daily rollups, every
    item finished in the window and in progress with the dates the state service keeps (the
    charts' points: flow time, lead time, age, pace), and the full facts (active, waiting,
    blocked and returned days, reopens) of the rows the page's tables show that need them: the
    `shown` longest finished and the items returned to the backlog, read by the engine
    narrowed to those items.

    The other items' remaining facts (creation, start, active, waiting, blocked and returned
    days, reopens) are None (not read): exports use `flow_report`, which reads every item's.
    Falls back to `flow_report` when the rollups cannot answer. Tested against it.

    A window of complete days (the page's default) is cached until the stream's data changes
    (`core.freshness.fresh_cached_by_stream`: a change in another stream keeps it): what moves
    with the clock alone, the ages of the work in progress and of the returned items (and the
    returned items' current stay in the backlog), is reckoned again at each view (`rebased`).
    """
    if scope.kind != "stream":
        return flow_report(scope=scope, window=window)
    if window.end <= midnight(utc_day(window.as_of)):
        key = f"stream-page:{window.start.isoformat()}:{window.end.isoformat()}:{shown}"

        def compute(ids: list[int]) -> dict:
            return {scope.id: _page_report(scope, window, shown)}

        report = fresh_cached_by_stream(key, [scope.id], compute, generation=())[scope.id]
        report = None if report is None else rebased(report, window)
    else:
        report = _page_report(scope, window, shown)
    return flow_report(scope=scope, window=window) if report is None else report


def rebased(report: FlowReport, window: Window) -> FlowReport:
    """A page report read as of an earlier instant, as of `window.as_of` (same bounds, no change
    of the data since): items in progress and returned to the backlog are older by the time
    gone by, their pace placed again, and a returned item's current stay in a backlog state
    (part of its returned time) longer by as much. Nothing else in a window of complete days
    depends on the instant it is read."""
    shift = (window.as_of - report.window.as_of) / dt.timedelta(days=1)

    def older(facts: ItemFacts) -> ItemFacts:
        age = facts.age_days + shift
        return dataclasses.replace(facts, age_days=age, pace=pace_of(age, report.flow_time))

    def longer(facts: ItemFacts) -> ItemFacts:
        return dataclasses.replace(facts, age_days=facts.age_days + shift, returned_days=facts.returned_days + shift)

    return dataclasses.replace(
        report,
        window=window,
        in_progress=[older(facts) for facts in report.in_progress],
        returned_items=[longer(facts) for facts in report.returned_items],
    )


def _page_report(scope: Scope, window: Window, shown: int) -> FlowReport | None:
    report = rollup_report(scope=scope, window=window)
    if report is None:
        return None
    finished, in_progress, returned = _item_dates(report)
    for facts in in_progress:
        facts.pace = pace_of(facts.age_days, report.flow_time)
    longest = sorted(finished, key=lambda f: (f.flow_days is not None, f.flow_days or 0), reverse=True)[:shown]
    read = _facts_of([f.item_id for f in longest] + returned, window)
    full = {facts.item_id: facts for facts in read.finished}
    report.finished = [full.get(f.item_id, f) for f in finished]
    report.in_progress = in_progress
    report.returned_items = read.returned_items
    return report


def _item_dates(report: FlowReport) -> tuple[list[ItemFacts], list[ItemFacts], list[int]]:
    """Items finished in the window and in progress at its end (the engine's order), with what
    the charts draw, from the stored dates: finish, flow and lead time, age (no other time is
    read: parsing thousands of timestamps was a fifth of the page); and the ids of the items
    returned to the backlog."""
    sql = Dialect(connection)
    window = report.window
    ws, we, as_of = (sql.timestamp(t) for t in (window.start, window.end, window.as_of))
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    finished = f"i.finished_at >= {ws} AND i.finished_at < {we}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT i.id, i.external_key, i.title, i.flow_type, i.stream_id, i.team_id, i.finished_at, s.category,
                       CASE WHEN i.finished_at IS NOT NULL THEN {sql.days("i.finished_at", "i.started_at")} END,
                       CASE WHEN i.finished_at IS NOT NULL THEN {sql.days("i.finished_at", "i.created_at")} END,
                       CASE WHEN i.finished_at IS NULL THEN {sql.days(as_of, "i.started_at")} END,
                       CASE WHEN {returned_sql()} THEN 1 ELSE 0 END
                FROM {items} i JOIN {states} s ON s.id = i.state_id
                WHERE {report.scope.item_filter_sql("i")}
                  AND (({finished}) OR ({in_progress_sql()}) OR ({returned_sql()}))
                ORDER BY i.finished_at, i.started_at, i.id"""
        )
        rows = cursor.fetchall()
    finished_rows, in_progress, returned = [], [], []
    for row in rows:
        if row[11]:
            returned.append(row[0])
            continue
        facts = ItemFacts(
            item_id=row[0],
            key=row[1] or f"#{row[0]}",
            title=row[2],
            flow_type=row[3],
            stream_id=row[4],
            team_id=row[5],
            created_at=None,
            start=None,
            finish=sql.to_datetime(row[6]),
            category=row[7],
            flow_days=_float(row[8]),
            lead_days=_float(row[9]),
            age_days=_float(row[10]),
            active_days=None,
            waiting_days=None,
            blocked_days=None,
            reopens=None,
            returned_days=None,
        )
        (finished_rows if facts.finish is not None else in_progress).append(facts)
    return finished_rows, in_progress, returned


class _FactsEngine(HistoryEngine):
    """The engine's per-item facts only (no aggregates), for a few items, in one statement: the
    tables the engine would materialise become the WITH clauses of the query reading the facts
    (for a few dozen items, creating and dropping four temporary tables cost more than the reads)."""

    def run(self) -> FlowReport:
        self.clauses: list[str] = []
        self._build_segments()
        self._build_items()
        self._build_blocks()
        self._build_state_time()
        self._items()
        return self.report

    def create(self, name: str, select_sql: str) -> None:
        self.clauses.append(f"{name} AS ({select_sql})")

    def fetchall(self, sql: str) -> list[tuple]:
        return super().fetchall(f"WITH {', '.join(self.clauses)} {sql}")


def _facts_of(ids: list[int], window: Window) -> FlowReport:
    """The engine's facts of the given items over the window (the page's table rows)."""
    scope = Scope.items("shown", "SELECT 0" if not ids else ", ".join(str(int(pk)) for pk in ids))
    with connection.cursor() as cursor:
        return _FactsEngine(cursor, Dialect(connection), scope, window, with_items=True).run()


def _float(value) -> float | None:
    return None if value is None else float(value)
