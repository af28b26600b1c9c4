"""The figures an experiment's periods are judged on, read from the history in one pass.

For each period (a `Window`, the history read as of its end), with the flow engine's
definitions (`streams.flow.engine`; the tests hold these figures to its report):
- the items that started and finished inside the period, in the engine's order (finish,
  start, id), with their flow time and active time (time in active states within their flow,
  less the time flagged blocked then, overlapping blocked periods counted once);
- the items finished on each day of the period;
- the items in an active or waiting state at the end of each day (WIP).

The engine builds four temporary tables per period, each indexed and analysed, over every
item it may need; a verdict needs two periods and only these figures. Here the transitions of
the items that can count in either period are read once into a temporary table, and one
statement returns every period's figures as its rows. Those items: the ones started by the
last period's end and not finished before the first one's start, the cut-short items (their
start may be unknown), and the items that entered a done state during a period (one done
without being in progress starts when it finishes, and may have been reopened since; its
`started_at` follows its last finish).
Each period then reads the rows dated up to its end (a stay whose next move is later is open
at that instant, as the engine, reading the history up to then, finds it), leaving out the
items done before it starts, as the engine does.

Measured on the largest stream at the DESIGN.md scale (30,362 items, load ~5): the two
periods' samples in 0.6-1.2 s against 0.9-1.9 s for the engine narrowed to each period (four
indexed, analysed temporary tables each) and 2.7-4.2 s for the engine's whole reports. What
is left is mostly the read of the moves: ~6,000 items probed by id, then their moves by
(item, at); about 140 ms of PostgreSQL's CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
import itertools

from django.db import connection, transaction

from core.sql import Dialect
from streams.flow.engine import Scope, Window, merged_blocks_sql
from streams.models import BacklogItem, BlockedPeriod, StateTransition, WorkflowState

ITEMS, MOVES, STATES, BLOCKS = (m._meta.db_table for m in (BacklogItem, StateTransition, WorkflowState, BlockedPeriod))
MOVED, BLOCKED = "experiment_moves", "experiment_blocked"  # temporary tables, dropped after the query


@contextmanager
def planner_settings(cursor, sql: Dialect, **settings: str) -> Iterator[None]:
    """PostgreSQL planner settings for the statements inside, put back after (SQLite: none).
    Local to the transaction, which a failure rolls back with them."""
    if not sql.postgres:
        yield
        return
    before = {}
    for name, value in settings.items():
        cursor.execute("SELECT current_setting(%s)", [name])
        (before[name],) = cursor.fetchone()
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    yield
    for name, value in before.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


@dataclass
class PeriodFigures:
    window: Window
    flow_days: list[float] = field(default_factory=list)
    active_days: list[float] = field(default_factory=list)
    daily_throughput: list[int] = field(default_factory=list)
    daily_wip: list[int] = field(default_factory=list)


def period_figures(
    scope: Scope, windows: list[Window], *, active: bool = True, wip: bool = True
) -> list[PeriodFigures]:
    """Each window's figures for a scope within one stream (the scope's id is the stream's,
    as `streams.experiments.services.experiment_scope` builds it). A fixed number of statements.

    A verdict on one metric need not read them all: without `active` the sample's active days
    are left empty (no blocked periods, no time per state), without `wip` the day-end WIP
    (then only the items that entered a done state in a window are read: an item counts in
    the sample or the throughput only if it finished in one)."""
    sql = Dialect(connection)
    ctes, selects = [], []
    for p, window in enumerate(windows):
        period_ctes, period_selects = _period_sql(sql, p, window, active=active, wip=wip)
        ctes += period_ctes
        selects += period_selects
    query = f"""
        WITH {", ".join(ctes)}
        SELECT kind, p, x, y, o1, o2, o3 FROM ({" UNION ALL ".join(selects)}) figures
        ORDER BY kind, p, o1, o2, o3
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {MOVED}")
        cursor.execute(f"DROP TABLE IF EXISTS {BLOCKED}")
        # The items are joined by id (a few thousand probes): at PostgreSQL's default cost of a
        # random page (4, spinning disks) that was planned as a scan of all 500,000 items; 1.1
        # is the usual figure for SSDs and cached tables. 50,000 moves sorted for their window
        # spilled to disk at the default work_mem.
        with planner_settings(cursor, sql, random_page_cost="1.1", work_mem="32MB"):
            cursor.execute(sql.temp_table(MOVED, _moves_sql(sql, scope, windows, wip=wip)))
            if active:
                # Only an item that has been in a done state can be in a sample.
                cursor.execute(
                    sql.temp_table(
                        BLOCKED,
                        f"SELECT b.item_id, b.started_at, b.ended_at FROM {BLOCKS} b "
                        f"WHERE b.item_id IN (SELECT m.item_id FROM {MOVED} m WHERE m.category = 'done')",
                    )
                )
        # Below, only these two tables and the expressions over them: the planner, with no
        # statistics of either, took a few thousand items for one and re-ran whole subqueries
        # in nested loops (a minute); hash joins read each once.
        with planner_settings(cursor, sql, enable_nestloop="off", work_mem="32MB"):
            cursor.execute(query)
            rows = cursor.fetchall()
        cursor.execute(f"DROP TABLE {MOVED}")
        cursor.execute(f"DROP TABLE IF EXISTS {BLOCKED}")
    figures = [PeriodFigures(window=w, daily_throughput=[0] * w.days, daily_wip=[0] * (w.days + 1)) for w in windows]
    for kind, p, x, y, *_ in rows:
        f = figures[p]
        if kind == "s":
            f.flow_days.append(float(x))
            if active:
                f.active_days.append(float(y))
        elif kind == "t":
            f.daily_throughput[int(x)] += int(y)
        else:  # "w": +n at the first day-end a stay covers, −n at the first it no longer does
            f.daily_wip[int(x)] += int(y)
    for f in figures:
        f.daily_wip = list(itertools.accumulate(f.daily_wip[1:])) if wip else []
    return figures


def _moves_sql(sql: Dialect, scope: Scope, windows: list[Window], *, wip: bool) -> str:
    """Every move up to the last window's end of the items that can count in any window, with
    the next move's time and the item's cut-short flag."""
    first = sql.timestamp(min(w.start for w in windows))
    last_end = sql.timestamp(max(w.end for w in windows))
    last_as_of = sql.timestamp(max(w.as_of for w in windows))
    stream = int(scope.id)
    done_inside = " OR ".join(f"(t.at >= {sql.timestamp(w.start)} AND t.at < {sql.timestamp(w.end)})" for w in windows)
    done_in_a_window = f"""
        SELECT t.item_id FROM {MOVES} t
        WHERE ({done_inside}) AND t.to_state_id IN (
            SELECT s.id FROM {STATES} s WHERE s.stream_id = {stream} AND s.category = 'done')
    """
    candidates = (
        done_in_a_window
        if not wip
        else f"""
        SELECT j.id FROM {ITEMS} j
        WHERE j.stream_id = {stream} AND j.started_at <= {last_end}
          AND (j.finished_at IS NULL OR j.finished_at >= {first})
        UNION
        SELECT j.id FROM {ITEMS} j WHERE j.stream_id = {stream} AND j.history_cut_short
        UNION
        {done_in_a_window}
    """
    )
    return f"""
        SELECT t.item_id, t.to_state_id AS state_id, s.category, t.at,
               LEAD(t.at) OVER w AS next_at,
               -- The item's first move into progress up to this move (its start as of then).
               MIN(CASE WHEN s.category IN ('active', 'waiting') THEN t.at END) OVER w AS first_start,
               CASE WHEN i.history_cut_short THEN 1 ELSE 0 END AS cut, i.finished_at
        FROM {MOVES} t
        JOIN {STATES} s ON s.id = t.to_state_id
        JOIN {ITEMS} i ON i.id = t.item_id
        WHERE {scope.item_filter_sql("i")} AND i.id IN ({candidates}) AND t.at <= {last_as_of}
        WINDOW w AS (PARTITION BY t.item_id ORDER BY t.at, t.id)
    """


def _period_sql(sql: Dialect, p: int, window: Window, *, active: bool, wip: bool) -> tuple[list[str], list[str]]:
    """The common table expressions of window `p` and its selects of figure rows (kind, p, x,
    y, o1, o2, o3): "t" finished items on day x, "s" a sample item (flow days, active days (0
    unless `active`), then its finish, start and id to order by), "w" (with `wip`) a step of y
    in the WIP at day-end x. The engine's temporary tables, as of the window's end: stays
    (flow_seg), items (flow_item: start, finish, removed ones dropped), and `_active_sql`."""
    ws, we, as_of = (sql.timestamp(t) for t in (window.start, window.end, window.as_of))
    days = window.days
    seg, item, done = (f"{name}_{p}" for name in ("seg", "item", "done"))
    next_at = f"CASE WHEN m.next_at <= {as_of} THEN m.next_at END"
    ctes = [
        f"""{seg} AS (
            SELECT m.item_id, m.state_id, m.category, m.at AS seg_start, {next_at} AS next_at,
                   COALESCE({next_at}, {as_of}) AS seg_end, m.cut, m.first_start
            FROM {MOVED} m WHERE m.at <= {as_of} AND (m.finished_at IS NULL OR m.finished_at >= {ws}))""",
        # An item's last move as of the window's end gives its state then, and its start
        # (the first move into progress up to it): a filter, not an aggregate over the stays.
        f"""{item} AS (
            SELECT item_id, CASE WHEN category = 'done' THEN seg_start END AS finish,
                   CASE WHEN cut = 1 AND category = 'done' THEN NULL
                        ELSE COALESCE(first_start, CASE WHEN category = 'done' THEN seg_start END) END AS start
            FROM {seg}
            WHERE next_at IS NULL AND category <> 'removed')""",
        f"""{done} AS (
            SELECT item_id, start, finish FROM {item}
            WHERE finish >= {ws} AND finish < {we} AND start >= {ws})""",
    ]
    day = sql.floor(sql.days("f.finish", ws))
    selects = [
        f"""SELECT 't' AS kind, {p} AS p, {day} AS x, COUNT(*) AS y, NULL AS o1, NULL AS o2, NULL AS o3
            FROM {item} f WHERE f.finish >= {ws} AND f.finish < {we} GROUP BY {day}""",
    ]
    flow = sql.days("f.finish", "f.start")
    if not active:
        selects.append(f"SELECT 's', {p}, {flow}, 0, f.finish, f.start, f.item_id FROM {done} f")
    else:
        ctes += _active_sql(sql, p, window)
        selects.append(
            f"""SELECT 's', {p}, {flow}, COALESCE(t.active, 0), f.finish, f.start, f.item_id
            FROM {done} f
            LEFT JOIN (
                SELECT item_id, SUM(CASE WHEN category = 'active' THEN days - blocked ELSE 0 END) AS active
                FROM st_{p} GROUP BY item_id
            ) t ON t.item_id = f.item_id"""
        )
    if wip:
        first = sql.greatest(sql.ceil(sql.days("g.seg_start", ws)), "1")
        until = f"CASE WHEN g.next_at IS NULL THEN {days + 1} ELSE {sql.ceil(sql.days('g.next_at', ws))} END"
        ctes.append(
            f"""wip_{p} AS (
                SELECT k_from, k_to FROM (
                    SELECT {first} AS k_from, {until} AS k_to
                    FROM {seg} g JOIN {item} f ON f.item_id = g.item_id
                    WHERE g.category IN ('active', 'waiting') AND (g.next_at IS NULL OR g.next_at > {ws})
                      AND g.seg_start <= {we}
                ) covering
                WHERE k_from <= {days} AND k_to > k_from)"""
        )
        selects += [
            f"SELECT 'w', {p}, k_from, COUNT(*), NULL, NULL, NULL FROM wip_{p} GROUP BY k_from",
            f"SELECT 'w', {p}, k_to, -COUNT(*), NULL, NULL, NULL FROM wip_{p} WHERE k_to <= {days} GROUP BY k_to",
        ]
    return ctes, selects


def _active_sql(sql: Dialect, p: int, window: Window) -> list[str]:
    """Window `p`'s merged blocked periods (the engine's flow_block), stays and days per state
    (flow_state_time) of the items that started and finished in it (`done_p`): `st_p`."""
    as_of = sql.timestamp(window.as_of)
    seg, done, blocks, stays, states = (f"{name}_{p}" for name in ("seg", "done", "blk", "stay", "st"))
    lo, hi = sql.greatest("g.seg_start", "f.start"), sql.least("g.seg_end", "f.finish")
    overlap = sql.days(sql.least(hi, "b.e"), sql.greatest(lo, "b.s"))
    open_end = sql.least(f"COALESCE(b.ended_at, {as_of})", as_of)
    raw_blocks = f"""
        SELECT b.item_id, b.started_at AS s, {open_end} AS e
        FROM {BLOCKED} b JOIN {done} f ON f.item_id = b.item_id
        WHERE b.started_at < {as_of}
    """
    return [
        f"{blocks} AS ({merged_blocks_sql(raw_blocks)})",
        f"""{stays} AS (
            SELECT g.item_id, g.state_id, g.category,
                   MAX({sql.days(hi, lo)}) AS days,
                   CASE WHEN g.category = 'active'
                        THEN COALESCE(SUM(CASE WHEN b.item_id IS NOT NULL THEN {overlap} END), 0)
                        ELSE 0 END AS blocked
            FROM {seg} g
            JOIN {done} f ON f.item_id = g.item_id
            LEFT JOIN {blocks} b ON b.item_id = g.item_id AND b.s < {hi} AND b.e > {lo}
            WHERE g.seg_start < f.finish AND g.seg_end > f.start
            GROUP BY g.item_id, g.state_id, g.category, g.seg_start, g.seg_end, f.start, f.finish)""",
        f"""{states} AS (
            SELECT item_id, state_id, category, SUM(days) AS days, SUM(blocked) AS blocked
            FROM {stays} GROUP BY item_id, state_id, category)""",
    ]
