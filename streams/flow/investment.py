"""Investment by effort (DESIGN.md "Investment"): where the active time of a scope's work went
over a window, by flow type, by team and by stream, beside the share by item count and the
stream's target mix. Effort is active time from the history (no timesheets): each item's stays
in `active` states inside the window, less the time flagged blocked (`HistoryEngine.build_effort`).

`effort_table(scope, window)` is a context manager holding the per-item table for the caller's
own aggregates (`okrs.investment` splits it by key result); `investment(scope, window)` gives
this module's aggregates in a fixed number of queries, whatever the volume.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
import datetime as dt

from django.db import connection, transaction
from django.db.models import Sum

from core.sql import Dialect
from streams.flow.engine import FLOW_TYPES, HistoryEngine, Scope, Window
from streams.flow.periods import period_containing
from streams.models import BacklogItem, FlowType, TargetMix, ValueStream
from teams.models import Membership, Team

GAP_NAMED_FROM = 5  # percentage points between effort and target worth naming


@dataclass
class Share:
    """One row of an investment table: a flow type, team, stream, objective or key result."""

    key: str | int | None
    label: str
    effort_days: float = 0.0
    items: float = 0.0  # items with active time in the window (fractions when split across key results)
    effort_share: float | None = None
    item_share: float | None = None
    target: float | None = None  # the target share (flow types of a stream scope)
    fte: float | None = None  # teams: full-time equivalents on this scope

    @property
    def gap(self) -> float | None:
        """Effort share − target share, in percentage points."""
        if self.target is None or self.effort_share is None:
            return None
        return 100 * (self.effort_share - self.target)


@dataclass
class Investment:
    scope: Scope
    window: Window
    effort_days: float = 0.0
    items: int = 0
    by_type: list[Share] = field(default_factory=list)
    by_team: list[Share] = field(default_factory=list)
    by_stream: list[Share] = field(default_factory=list)
    target_period: str = ""
    gaps: list[str] = field(default_factory=list)  # the flow types furthest from their target, in words
    extra: object = None  # what the caller's `also` read from the per-item table


@contextmanager
def effort_table(scope: Scope, window: Window) -> Iterator[tuple[str, object]]:
    """The per-item effort table of the scope and window and a cursor to read it with; dropped
    on leaving (with the transaction's rollback on failure)."""
    with transaction.atomic(), connection.cursor() as cursor:
        engine = HistoryEngine(cursor, Dialect(connection), scope, window, with_items=False)
        table = engine.build_effort()
        try:
            yield table, cursor
        finally:
            engine.drop_effort()


def shares(rows: list[Share]) -> list[Share]:
    """Fill each row's effort and item shares of the rows' totals."""
    effort, items = sum(r.effort_days for r in rows), sum(r.items for r in rows)
    for row in rows:
        row.effort_share = row.effort_days / effort if effort else None
        row.item_share = row.items / items if items else None
    return rows


def _grouped(cursor, table: str, column: str) -> list[tuple]:
    cursor.execute(f"SELECT {column}, SUM(active), COUNT(*) FROM {table} GROUP BY {column}")
    return cursor.fetchall()


def investment(scope: Scope, window: Window, *, also=None) -> Investment:
    """The scope's effort over the window by flow type, team and stream, with item-count shares,
    the stream's target mix for the quarter the window ends in, and each team's full-time
    equivalents on the scope (its members' allocations × the share of the team's effort spent here).

    `also(table, cursor)`, when given, reads the per-item table too (its answer is `extra`)."""
    result = Investment(scope=scope, window=window)
    with effort_table(scope, window) as (table, cursor):
        by_type = {code: (float(active), n) for code, active, n in _grouped(cursor, table, "flow_type")}
        by_team = _grouped(cursor, table, "team_id")
        by_stream = _grouped(cursor, table, "stream_id")
        if also is not None:
            result.extra = also(table, cursor)
    labels = dict(FlowType.choices)
    result.by_type = shares(
        [Share(code, labels[code], *by_type.get(code, (0.0, 0))) for code in FLOW_TYPES if code in by_type]
    )
    result.effort_days = sum(r.effort_days for r in result.by_type)
    result.items = int(sum(r.items for r in result.by_type))
    result.by_team = _teams(scope, window, by_team)
    names = dict(ValueStream.objects.filter(pk__in=[k for k, _, _ in by_stream]).values_list("pk", "name"))
    result.by_stream = shares(
        sorted(
            (Share(k, names.get(k, "?"), float(active), n) for k, active, n in by_stream),
            key=lambda r: -r.effort_days,
        )
    )
    if scope.kind == "stream":
        _targets(result, scope.id)
    return result


def _teams(scope: Scope, window: Window, rows: list[tuple]) -> list[Share]:
    """Teams by effort here; with their FTE on the scope: Σ members' allocation ÷ 100 × the share
    of the team's whole effort (over every stream it works in) that went to this scope."""
    team_ids = [k for k, _, _ in rows if k is not None]
    totals: dict[int, float] = {}
    if team_ids and scope.kind not in ("team", "portfolio"):
        ids = ", ".join(str(int(k)) for k in team_ids)
        items = BacklogItem._meta.db_table
        everywhere = Scope.items("The teams' work anywhere", f"SELECT id FROM {items} WHERE team_id IN ({ids})")
        with effort_table(everywhere, window) as (table, cursor):
            totals = {k: float(active) for k, active, _ in _grouped(cursor, table, "team_id")}
    else:
        totals = {k: float(active) for k, active, _ in rows if k is not None}
    teams = Team.objects.in_bulk(team_ids)
    fte = dict(
        Membership.objects.filter(team_id__in=team_ids)
        .values("team_id")
        .annotate(total=Sum("allocation_percent"))
        .values_list("team_id", "total")
    )
    result = []
    for key, active, n in rows:
        team = teams.get(key)
        row = Share(key, team.name if team else "No team", float(active), n)
        if team is not None and totals.get(key):
            row.fte = (fte.get(key) or 0) / 100 * float(active) / totals[key]
        result.append(row)
    return shares(sorted(result, key=lambda r: -r.effort_days))


def _targets(result: Investment, stream_id: int) -> None:
    period = period_containing((result.window.end - dt.timedelta(microseconds=1)).date())
    result.target_period = period.label
    targets = dict(
        TargetMix.objects.filter(stream_id=stream_id, period=period.label).values_list("flow_type", "percent")
    )
    if not targets:
        return
    labels, present = dict(FlowType.choices), {row.key for row in result.by_type}
    result.by_type += [Share(code, labels[code]) for code in targets if code not in present]
    shares(result.by_type)
    for row in result.by_type:
        row.target = targets.get(row.key, 0) / 100
    named = sorted(
        (r for r in result.by_type if r.gap is not None and abs(r.gap) >= GAP_NAMED_FROM), key=lambda r: -abs(r.gap)
    )
    result.gaps = [
        f"{r.label}: {100 * (r.effort_share or 0):.0f}% of the effort against a {100 * r.target:.0f}% target, "
        f"{abs(r.gap):.0f} points {'over' if r.gap > 0 else 'under'}"
        for r in named
    ]
