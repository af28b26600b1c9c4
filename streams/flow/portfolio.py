"""The five flow metrics of many streams at once, for the leaders' portfolio table.

The window is the 12 complete weeks (84 UTC days) before today, so every figure is exact
without reading today's history, and the same for every reader of the day:
- flow velocity: items finished in the window per week;
- flow time: 85th percentile of finish − start of those items;
- flow efficiency: Σ active ÷ Σ flow time of those items, from the daily rollups
  (`streams.flow.rollups`); "—" while a stream's stored days are being recomputed;
- flow load: items in progress now (started, not finished, not removed);
- flow distribution: share of each flow item type among the items finished in the window.

Start and finish are the dates the state service keeps on each item (the engine's own), so
each metric is one grouped query for all streams, whatever their number.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
import datetime as dt

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from core.freshness import DELIVERY, fresh_cached, fresh_cached_by_stream, ids_key
from core.sql import Dialect
from streams.flow.engine import DEFAULT_WEEKS, FLOW_TYPES, PERCENTILES, default_days
from streams.flow.rollups import DAY, midnight, utc_day
from streams.models import BacklogItem, FlowDayEfficiency, FlowDayMark, FlowSnapshot, WorkflowState
from streams.models.querysets import in_progress_sql

WINDOW_DAYS = 7 * DEFAULT_WEEKS
TREND_WEEKS = 12


@dataclass
class StreamFlow:
    throughput: int = 0
    flow_time_p85: float | None = None
    efficiency: float | None = None
    efficiency_fresh: bool = True  # False while the stored days are being recomputed
    wip: int = 0
    by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FLOW_TYPES, 0))
    trend: list[int] = field(default_factory=list)  # weekly throughput, oldest first
    trend_p85: list[float | None] = field(default_factory=list)
    # Read in the same passes for the flow health scorecard (customer contact).
    customer_facing_finished: int = 0
    customer_facing_wip: int = 0

    @property
    def velocity(self) -> float:
        return self.throughput / (WINDOW_DAYS / 7)

    @property
    def distribution(self) -> dict[str, float]:
        return {t: (n / self.throughput if self.throughput else 0.0) for t, n in self.by_type.items()}


@dataclass(frozen=True)
class PortfolioWindow:
    """The default window (`streams.flow.engine.default_days`) as the portfolio reads it: complete days."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def ending_before(cls, now: dt.datetime | None = None) -> PortfolioWindow:
        first, last = default_days(now or timezone.now())
        return cls(midnight(first), midnight(last + DAY))

    def describe(self) -> str:
        return f"{self.start:%Y-%m-%d} to {self.end - DAY:%Y-%m-%d} ({WINDOW_DAYS} complete days)"

    @property
    def query(self) -> str:
        """The window as the stream page's query string, so a link opens the same figures: the
        last 12 weeks of complete days, which the page's "Last" choice reads the same way (and
        which the reader can still change there)."""
        return f"weeks={WINDOW_DAYS // 7}"


def stream_flows(stream_ids: list[int], window: PortfolioWindow | None = None) -> dict[int, StreamFlow]:
    """Per stream, the five flow metrics over the window and the weekly trend (six queries)."""
    window = window or PortfolioWindow.ending_before()
    flows = {pk: StreamFlow() for pk in stream_ids}
    if not stream_ids:
        return flows
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    sql = Dialect(connection)
    ids = ", ".join(str(int(pk)) for pk in stream_ids)
    ws, we = sql.timestamp(window.start), sql.timestamp(window.end)
    finished = f"i.stream_id IN ({ids}) AND i.finished_at >= {ws} AND i.finished_at < {we}"
    p85 = sql.percentile(sql.days("i.finished_at", "i.started_at"), PERCENTILES[1])
    customer = "SUM(CASE WHEN i.customer_facing THEN 1 ELSE 0 END)"
    by_type = ", ".join(f"SUM(CASE WHEN i.flow_type = '{t}' THEN 1 ELSE 0 END)" for t in FLOW_TYPES)
    # One pass over the items finished in the window: counts by type and the percentile. They
    # change only with an item's dates, stream, type or existence (`core.freshness.DELIVERY`).
    rows = fresh_cached(
        f"flows_finished:{ids_key(stream_ids)}:{window.start.isoformat()}:{window.end.isoformat()}",
        lambda: _fetched(
            f"SELECT i.stream_id, {p85}, {customer}, {by_type} FROM {items} i WHERE {finished} GROUP BY i.stream_id"
        ),
        generation=DELIVERY,
    )
    with connection.cursor() as cursor:
        for stream_id, value, facing, *counts in rows:
            flow = flows[stream_id]
            flow.flow_time_p85 = None if value is None else float(value)
            flow.customer_facing_finished = int(facing or 0)
            flow.by_type = {t: int(n or 0) for t, n in zip(FLOW_TYPES, counts, strict=True)}
            flow.throughput = sum(flow.by_type.values())
        cursor.execute(
            f"""SELECT i.stream_id, COUNT(*), {customer} FROM {items} i JOIN {states} s ON s.id = i.state_id
                WHERE i.stream_id IN ({ids}) AND {in_progress_sql()}
                GROUP BY i.stream_id"""
        )
        for stream_id, count, facing in cursor.fetchall():
            flows[stream_id].wip, flows[stream_id].customer_facing_wip = int(count), int(facing or 0)
    _efficiency(flows, stream_ids, window)
    _trend(flows, stream_ids, window)
    return flows


def stream_flows_fresh(stream_ids: list[int], window: PortfolioWindow | None = None) -> dict[int, StreamFlow]:
    """`stream_flows`, each stream's kept under its version (`core.freshness.fresh_cached_by_stream`:
    it reads the stream's items, states, rollups and snapshots only), so after a change in one
    stream only that stream's figures are read again."""
    window = window or PortfolioWindow.ending_before()
    today = timezone.now().astimezone(dt.UTC).date()
    return fresh_cached_by_stream(
        f"stream-flows:{window.start.isoformat()}:{window.end.isoformat()}:{today}",
        stream_ids,
        lambda missing: stream_flows(missing, window),
        generation=(),
    )


def _fetched(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _efficiency(flows: dict[int, StreamFlow], stream_ids: list[int], window: PortfolioWindow) -> None:
    """Σ active ÷ Σ flow days of the items finished in the window, from the stored days of
    streams that map a waiting state (others are not measurable: "—")."""
    first, end = utc_day(window.start), utc_day(window.end)
    fresh = set(
        FlowDayMark.objects.filter(stream_id__in=stream_ids, valid_until__gte=end).values_list("stream_id", flat=True)
    )
    measurable = set(
        WorkflowState.objects.filter(stream_id__in=stream_ids, category=WorkflowState.Category.WAITING)
        .values_list("stream_id", flat=True)
        .distinct()
    )
    sums = (
        FlowDayEfficiency.objects.filter(stream_id__in=stream_ids, day__gte=first, day__lt=end)
        .values("stream_id")
        .annotate(active=Sum("active_days"), flow=Sum("flow_days"))
        .order_by()
    )
    for row in sums:
        flow = flows[row["stream_id"]]
        if row["stream_id"] in measurable and row["flow"]:
            flow.efficiency = row["active"] / row["flow"]
    for pk, flow in flows.items():
        flow.efficiency_fresh = pk in fresh
        if not flow.efficiency_fresh:
            flow.efficiency = None


def _trend(flows: dict[int, StreamFlow], stream_ids: list[int], window: PortfolioWindow) -> None:
    """Weekly throughput and flow time p85 of the last weeks, from the weekly snapshots (one query)."""
    last_monday = utc_day(window.end) - dt.timedelta(days=utc_day(window.end).weekday() + 7)
    weeks = [last_monday - dt.timedelta(weeks=n) for n in range(TREND_WEEKS - 1, -1, -1)]
    rows = defaultdict(dict)
    for stream_id, week, throughput, p85 in FlowSnapshot.objects.filter(
        stream_id__in=stream_ids, week_start__gte=weeks[0]
    ).values_list("stream_id", "week_start", "throughput", "flow_time_p85"):
        rows[stream_id][week] = (throughput, p85)
    for pk, flow in flows.items():
        known = rows.get(pk, {})
        if known:
            flow.trend = [known.get(week, (0, None))[0] for week in weeks]
            flow.trend_p85 = [known.get(week, (0, None))[1] for week in weeks]
