"""Data quality of a stream's flow figures (DESIGN.md, "Data quality"): shown beside the figures
it affects, never applied silently.

- Bulk moves: BULK_SIZE or more items entering a done state within the same minute (a clean-up
  of the board, not work finished then). Their share of throughput and their median flow time
  against the rest, and the flow time percentiles with and without them; the headline figures
  keep every item and say so.
- Items with no history (no transition at all), backward moves (into an earlier state of the
  workflow; removals and reopens aside) and reopens (out of a done state) in the window.
- Histories an export cut short (`BacklogItem.history_cut_short`, set by the Jira import): their
  start is unknown, so those finished in the window count in throughput but have no flow time.

It reads the items' stored start and finish (`streams.backlog.services.items_refresh_flow_dates`,
the engine's rule as of now) over the window's finished items, in four queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction

from core.freshness import fresh_cached_by_stream
from core.sql import Dialect
from streams.flow.engine import PERCENTILES, FlowReport, Window
from streams.flow.rollups import stored_moves
from streams.models import BacklogItem, StateTransition, WorkflowState

BULK_SIZE = 10  # items entering done within one minute
CUT_SHORT_NAMED = 20  # items with a history cut short named in the panel


@dataclass
class Percentiles:
    n: int
    p50: float | None
    p85: float | None
    p95: float | None


@dataclass
class DataQuality:
    window: Window
    throughput: int
    bulk_items: int
    bulk_minutes: int
    bulk_median: float | None
    rest_median: float | None
    with_bulk: Percentiles
    without_bulk: Percentiles
    no_history: int
    backward_moves: int
    reopens: int
    cut_short: int = 0  # items of the stream whose history an export cut short
    cut_short_finished: int = 0  # of those, finished in the window (in throughput, not in flow time)
    cut_short_named: list[tuple[int, str]] = field(default_factory=list)  # (id, key) of the first CUT_SHORT_NAMED

    bulk_size: int = BULK_SIZE

    @property
    def bulk_share(self) -> float:
        return self.bulk_items / self.throughput if self.throughput else 0.0

    @property
    def clean(self) -> bool:
        return not (self.bulk_items or self.no_history or self.backward_moves or self.reopens or self.cut_short)

    def as_dict(self) -> dict:
        def rounded(value):
            return None if value is None else round(value, 4)

        def pcts(p: Percentiles) -> dict:
            return {"n": p.n, "p50": rounded(p.p50), "p85": rounded(p.p85), "p95": rounded(p.p95)}

        return {
            "bulk_size": BULK_SIZE,
            "bulk_items": self.bulk_items,
            "bulk_minutes": self.bulk_minutes,
            "bulk_share": rounded(self.bulk_share),
            "bulk_median_flow_days": rounded(self.bulk_median),
            "rest_median_flow_days": rounded(self.rest_median),
            "flow_time_days_with_bulk": pcts(self.with_bulk),
            "flow_time_days_without_bulk": pcts(self.without_bulk),
            "items_without_history": self.no_history,
            "backward_moves": self.backward_moves,
            "reopens": self.reopens,
            "histories_cut_short": self.cut_short,
            "histories_cut_short_finished": self.cut_short_finished,
            "histories_cut_short_named": [key for _, key in self.cut_short_named],
        }


def with_data_quality(report: FlowReport) -> FlowReport:
    """The report of a stream with its data-quality facts attached (pages, API and command alike).

    They depend on the stored data and the window's bounds only (not on the instant the
    history is read), so they are cached until the stream's data changes: the default window, of
    complete days, is computed once per change rather than on every view."""
    if report.scope.kind == "stream":
        stream_id, window = report.scope.id, report.window
        report.data_quality = fresh_cached_by_stream(
            f"quality:{window.start.isoformat()}:{window.end.isoformat()}",
            [stream_id],
            lambda ids: {stream_id: stream_data_quality(stream_id=stream_id, window=window)},
            generation=(),  # it reads the stream's own items, moves and states only
        )[stream_id]
    return report


def stream_data_quality(*, stream_id: int, window: Window) -> DataQuality:
    """The data-quality facts of a stream's figures over `window` (see the module's doc)."""
    sql = Dialect(connection)
    items, states, moves = (m._meta.db_table for m in (BacklogItem, WorkflowState, StateTransition))
    ws, we = sql.timestamp(window.start), sql.timestamp(window.end)
    flow = sql.days("i.finished_at", "i.started_at")
    finished = f"""
        SELECT i.id, {sql.minute("i.finished_at")} AS m, {flow} AS flow
        FROM {items} i JOIN {states} s ON s.id = i.state_id
        WHERE i.stream_id = %s AND s.category = 'done' AND i.started_at IS NOT NULL
          AND i.finished_at >= {ws} AND i.finished_at < {we}
    """
    bulk = f"SELECT m FROM ({finished}) b GROUP BY m HAVING COUNT(*) >= {BULK_SIZE}"
    pcts = sql.percentiles("f.flow", PERCENTILES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT CASE WHEN b.m IS NOT NULL THEN 1 ELSE 0 END AS is_bulk, COUNT(*), COUNT(DISTINCT f.m), {pcts}
            FROM ({finished}) f LEFT JOIN ({bulk}) b ON b.m = f.m  -- a join, not IN: see `entered` below
            GROUP BY is_bulk
            """,
            [stream_id, stream_id],
        )
        groups = {row[0]: row for row in cursor.fetchall()}
        cursor.execute(f"SELECT COUNT(*), {pcts} FROM ({finished}) f", [stream_id])
        everything = cursor.fetchone()
        # Items with no move at all. Nearly every item has a move into one of its stream's states
        # (its entry, a move into the stream): those are ruled out from one index-only scan of
        # the stream's moves (a hash anti join), and only the rest are looked up one by one
        # (4,951 probes were 30-200 ms of the page). Not `NOT IN (moves)`: once the moves no
        # longer fit work_mem as a hash, PostgreSQL ran that subquery again for every item (a
        # board's 630,000 moves: more than ten minutes); an anti join spills to disk instead.
        entered = (
            f"SELECT 1 FROM {moves} t WHERE t.item_id = i.id AND t.to_state_id IN (SELECT w.id FROM {states} w "
            f"WHERE w.stream_id = {int(stream_id)})"
        )
        with transaction.atomic():
            if sql.postgres:  # two workers each hashing the stream's moves cost twice one (19 vs 46 ms)
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute(
                f"""
                SELECT COUNT(*) FROM {items} i
                WHERE i.stream_id = %s AND NOT EXISTS ({entered})
                  AND NOT EXISTS (SELECT 1 FROM {moves} t WHERE t.item_id = i.id)
                """,
                [stream_id],
            )
            (no_history,) = cursor.fetchone()
        cursor.execute(  # few items, from their partial index
            f"""
            SELECT COUNT(*), SUM(CASE WHEN i.finished_at >= {ws} AND i.finished_at < {we} THEN 1 ELSE 0 END)
            FROM {items} i WHERE i.stream_id = %s AND i.history_cut_short
            """,
            [stream_id],
        )
        cut_short, cut_short_finished = cursor.fetchone()
        named = []
        if cut_short:
            cursor.execute(
                f"SELECT i.id, i.external_key FROM {items} i WHERE i.stream_id = %s AND i.history_cut_short "
                f"ORDER BY i.external_key, i.id LIMIT {CUT_SHORT_NAMED}",
                [stream_id],
            )
            named = [(pk, key or f"#{pk}") for pk, key in cursor.fetchall()]
        stored = stored_moves(stream_id=stream_id, window=window)
        if stored is None:
            cursor.execute(
                f"""
                SELECT SUM(CASE WHEN a.category <> 'done' AND b.category <> 'removed' AND b."order" < a."order"
                                THEN 1 ELSE 0 END),
                       SUM(CASE WHEN a.category = 'done' AND b.category NOT IN ('done', 'removed') THEN 1 ELSE 0 END)
                FROM {moves} t
                JOIN {items} i ON i.id = t.item_id
                JOIN {states} a ON a.id = t.from_state_id
                JOIN {states} b ON b.id = t.to_state_id
                WHERE i.stream_id = %s AND t.at >= {ws} AND t.at < {we}
                """,
                [stream_id],
            )
            backward, reopens = cursor.fetchone()
        else:
            backward, reopens = _judged(stored)

    def group(row) -> Percentiles:  # (is_bulk, count, minutes, percentiles...)
        if row is None:
            return Percentiles(0, None, None, None)
        return Percentiles(int(row[1]), *(_float(v) for v in sql.percentile_values(row, 3, len(PERCENTILES))))

    bulk_row, rest_row = groups.get(1), groups.get(0)
    values = sql.percentile_values(everything, 1, len(PERCENTILES))
    with_bulk = Percentiles(int(everything[0]), *(_float(v) for v in values))
    return DataQuality(
        window=window,
        throughput=with_bulk.n,
        bulk_items=int(bulk_row[1]) if bulk_row else 0,
        bulk_minutes=int(bulk_row[2]) if bulk_row else 0,
        bulk_median=group(bulk_row).p50,
        rest_median=group(rest_row).p50,
        with_bulk=with_bulk,
        without_bulk=group(rest_row),
        no_history=int(no_history or 0),
        backward_moves=int(backward or 0),
        reopens=int(reopens or 0),
        cut_short=int(cut_short or 0),
        cut_short_finished=int(cut_short_finished or 0),
        cut_short_named=named,
    )


def _judged(moves: dict[tuple[int, int], int]) -> tuple[int, int]:
    """Backward moves and reopens among moves counted per (from, to) state pair, by the
    states' categories and order now (as the query over the history judges them)."""
    ids = {pk for pair in moves for pk in pair}
    states = {
        pk: (category, order)
        for pk, category, order in WorkflowState.objects.filter(pk__in=ids).values_list("pk", "category", "order")
    }
    backward = reopens = 0
    for (from_id, to_id), n in moves.items():
        (a_category, a_order), (b_category, b_order) = states[from_id], states[to_id]
        if a_category != "done" and b_category != "removed" and b_order < a_order:
            backward += n
        if a_category == "done" and b_category not in ("done", "removed"):
            reopens += n
    return backward, reopens


def _float(value) -> float | None:
    return None if value is None else float(value)
