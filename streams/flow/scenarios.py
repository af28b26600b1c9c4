"""What if? The levers a scenario changes, applied to a forecast's inputs and never to real data.

A scenario re-runs the same trials as today's forecast (`streams.flow.releasable`,
`okrs.scenarios`) on inputs changed by its levers:
- a WIP cap on a stream: the items in progress beyond the cap, by backlog rank, stop until a slot
  frees; work within the cap gets a larger share of the stream's throughput (Little's law: at the
  same throughput, less WIP means shorter flow times);
- descoped items: they and their descendants leave the work, and their started items leave the
  stream's WIP;
- a readiness criterion added to a flow type: each item of that type forecast gets one more
  sign-off, drawn from the owner team's history;
- a team's capacity moved between streams it serves: only what that team finished is scaled, in
  the stream it leaves and the one it joins (people are not interchangeable: no other team's pace
  is assumed to change).
With no lever set, every figure equals today's forecast: the code path is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt

from django.db import connection

from core.sql import Dialect
from streams.flow.forecast import Pace
from streams.models import BacklogItem, WorkflowState
from streams.models.querysets import in_progress_sql


@dataclass(frozen=True)
class TeamMove:
    """Move `share` (0–1) of a team's capacity from one stream it serves to another."""

    team_id: int
    from_stream_id: int
    to_stream_id: int
    share: float


@dataclass(frozen=True)
class AddedCheck:
    """A readiness criterion that every forecast item of `flow_type` would have to pass."""

    team_id: int
    name: str
    flow_type: str


@dataclass(frozen=True)
class Levers:
    wip_caps: dict[int, int] = field(default_factory=dict)  # stream id → most items in progress
    descoped: frozenset[int] = frozenset()  # item ids: they and their descendants leave the work
    added_checks: tuple[AddedCheck, ...] = ()
    moves: tuple[TeamMove, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.wip_caps or self.descoped or self.added_checks or self.moves)


NONE = Levers()


# --- Descoped work --------------------------------------------------------------------------


@dataclass
class Descoped:
    """The descoped items with their descendants: every id, and the started ones per stream."""

    ids: frozenset[int] = frozenset()
    started: dict[int, set[int]] = field(default_factory=dict)  # stream id → ids in progress

    def wip_less(self, stream_id: int) -> int:
        return len(self.started.get(stream_id, ()))


def descoped_closure(levers: Levers) -> Descoped:
    """One query: the descoped items and their descendants, whether each is in progress."""
    if not levers.descoped:
        return Descoped()
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    ids = ", ".join(str(int(pk)) for pk in sorted(levers.descoped))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE tree(id) AS (
                SELECT id FROM {items} WHERE id IN ({ids})
                UNION SELECT c.id FROM {items} c JOIN tree t ON c.parent_id = t.id
            )
            SELECT i.id, i.stream_id, CASE WHEN {in_progress_sql()} THEN 1 ELSE 0 END
            FROM {items} i JOIN {states} s ON s.id = i.state_id WHERE i.id IN (SELECT id FROM tree)
            """
        )
        rows = cursor.fetchall()
    started: dict[int, set[int]] = {}
    for pk, stream_id, in_progress in rows:
        if in_progress:
            started.setdefault(stream_id, set()).add(pk)
    return Descoped(frozenset(pk for pk, _, _ in rows), started)


# --- WIP caps -------------------------------------------------------------------------------


def in_progress_order(stream_ids: set[int]) -> dict[int, list[int]]:
    """Each capped stream's items in progress in backlog order (rank, then id): one query."""
    if not stream_ids:
        return {}
    items, states = BacklogItem._meta.db_table, WorkflowState._meta.db_table
    ids = ", ".join(str(int(pk)) for pk in sorted(stream_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.stream_id, i.id FROM {items} i JOIN {states} s ON s.id = i.state_id "
            f"WHERE i.stream_id IN ({ids}) AND {in_progress_sql()} ORDER BY i.stream_id, i.rank, i.id"
        )
        order: dict[int, list[int]] = {pk: [] for pk in stream_ids}
        for stream_id, pk in cursor.fetchall():
            order[stream_id].append(pk)
    return order


@dataclass(frozen=True)
class Capped:
    kept: int  # of our started items, those within the cap
    wip: int  # the stream's items in progress under the cap
    wait: int  # items the stream must finish before one of ours gets a slot (0: some are kept)


def capped(order: list[int], ours: set[int], cap: int, descoped: frozenset[int] = frozenset()) -> Capped:
    """Which of our started items keep going under a cap: the first `cap` items in progress by
    rank go on, the rest stop. When none of ours is within the cap, ours wait until enough
    items ahead finish to free a slot for the first of them."""
    order = [pk for pk in order if pk not in descoped]
    kept = len(ours.intersection(order[:cap]))
    wip = min(len(order), cap)
    if kept or not ours:
        return Capped(kept, wip, 0)
    first = next((n for n, pk in enumerate(order) if pk in ours), len(order))
    return Capped(1, wip, first - cap + 1)


# --- Team moves -----------------------------------------------------------------------------


def finished_by_team(team_ids: set[int], start: dt.datetime, end: dt.datetime) -> dict[int, dict[int, list[int]]]:
    """Per team, per stream: the items it finished on each day from `start` to `end` (one query)."""
    if not team_ids:
        return {}
    days = (end - start).days
    sql = Dialect(connection)
    day = sql.floor(sql.days("i.finished_at", sql.timestamp(start)))
    ids = ", ".join(str(int(pk)) for pk in sorted(team_ids))
    result: dict[int, dict[int, list[int]]] = {pk: {} for pk in team_ids}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT i.team_id, i.stream_id, {day} AS d, COUNT(*) FROM {BacklogItem._meta.db_table} i
                WHERE i.team_id IN ({ids}) AND i.finished_at >= {sql.timestamp(start)}
                  AND i.finished_at < {sql.timestamp(end)}
                GROUP BY i.team_id, i.stream_id, d""",
        )
        for team_id, stream_id, d, n in cursor.fetchall():
            result[team_id].setdefault(stream_id, [0] * days)[int(d)] += int(n)
    return result


def stream_pace(stream_id: int, sample: list[int], moves: tuple[TeamMove, ...], by_team: dict) -> Pace:
    """The stream's daily throughput with the moves that touch it: the moving team's own days
    scaled, the rest as they were. A team joining a stream it finished nothing in brings the
    pace it had in the stream it leaves."""
    base = list(sample)
    parts = []
    for move in moves:
        if stream_id not in (move.from_stream_id, move.to_stream_id):
            continue
        team = by_team.get(move.team_id, {})
        total = sum(sum(days) for days in team.values())
        source = team.get(move.from_stream_id) or [0] * len(base)
        moved = move.share * total  # items over the sample that capacity finished
        if stream_id == move.from_stream_id and sum(source):
            base = [b - s for b, s in zip(base, source, strict=True)]
            parts.append((tuple(source), max(0.0, (sum(source) - moved) / sum(source))))
        elif stream_id == move.to_stream_id:
            own = team.get(stream_id)
            if own and sum(own):
                base = [b - s for b, s in zip(base, own, strict=True)]
                parts.append((tuple(own), (sum(own) + moved) / sum(own)))
            elif sum(source):
                parts.append((tuple(source), moved / sum(source)))
    return Pace(tuple(base), tuple(parts))


def team_split(team_id: int, by_team: dict) -> dict[int, float]:
    """The share of a team's finished items in each stream over the sample (its capacity's split)."""
    team = by_team.get(team_id, {})
    total = sum(sum(days) for days in team.values())
    return {stream_id: sum(days) / total for stream_id, days in team.items()} if total else {}


# --- Little's law ---------------------------------------------------------------------------

LITTLE_CAVEATS = (
    "Little's law relates averages over a stable period: average WIP = average throughput × average flow time. "
    "It holds when about as many items start as finish and none is abandoned; it says nothing about one item's "
    "flow time or the 85th percentile. The scenario assumes throughput stays as it was: in practice a lower WIP "
    "often raises it (less switching, fewer waits), and items stopped by a cap still wait."
)


@dataclass(frozen=True)
class Little:
    wip: int
    throughput: float  # items a day
    measured_flow_time: float | None  # days: average of items finished in the sample

    @property
    def flow_time(self) -> float | None:
        """The average flow time Little's law implies: WIP ÷ throughput (days)."""
        return self.wip / self.throughput if self.throughput else None


def measured_average_flow_time(stream_id: int, start: dt.datetime, end: dt.datetime) -> float | None:
    sql = Dialect(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT AVG({sql.days('finished_at', 'started_at')}) FROM {BacklogItem._meta.db_table} "
            "WHERE stream_id = %s AND started_at IS NOT NULL AND finished_at >= %s AND finished_at < %s",
            [stream_id, start, end],
        )
        value = cursor.fetchone()[0]
    return None if value is None else float(value)
