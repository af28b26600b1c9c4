"""The engine's faster paths against the slower ones they replaced, on awkward histories.

`HistoryEngine.item_rows` (times spelled by PostgreSQL) must give exactly `item_row` of each of
`item_facts`; the daily series, read from entries and exits per state with the WIP added up from
the active and waiting states, must give exactly what the four scans over the stays gave
(`FourScanDaily` keeps that code), and what a day-by-day walk through each item's moves gives.
"""

from collections import defaultdict
import datetime as dt
import random

from django.db import connection, transaction
import pytest

from core.sql import Dialect
from streams.flow.engine import CATEGORIES, HistoryEngine, Scope, Window, item_row, report_daily
from streams.models import BacklogItem, BlockedPeriod, StateTransition
from streams.tests.factories import DEFAULT_WORKFLOW, ValueStreamFactory
from streams.tests.flow_history import bulk_items

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
# Where work may go next (backward moves, reopens and removals included).
MOVES = {
    "Backlog": ["Ready", "In progress", "In progress", "Removed"],
    "Ready": ["In progress", "Backlog", "Done"],
    "In progress": ["Waiting for review", "Review", "Backlog", "Done", "Done", "Removed"],
    "Waiting for review": ["In progress", "Review"],
    "Review": ["Done", "In progress", "Waiting for review", "Done Elsewhere"],
    "Done": ["In progress", "Backlog"],
    "Done Elsewhere": ["Review"],
    "Removed": ["Backlog"],
}
# The default workflow with a second done state: the settled items are counted per state.
DONE_AT = [name for name, _ in DEFAULT_WORKFLOW].index("Done") + 1
WORKFLOW = [*DEFAULT_WORKFLOW[:DONE_AT], ("Done Elsewhere", "done"), *DEFAULT_WORKFLOW[DONE_AT:]]


def random_board(seed: int, items: int = 80, workflow=WORKFLOW, blocked: int = 10):
    """A stream whose items move at random between 20 days before T0 and 20 days after, some at
    exact midnights, some at the same instant twice, some with microseconds; a few blocked."""
    rng = random.Random(seed)
    stream = ValueStreamFactory(workflow=workflow)
    names = {name for name, _ in workflow}
    specs = []
    for _ in range(items):
        created = T0 + dt.timedelta(days=rng.uniform(-20, 15))
        at, moves, here = created, [], "Backlog"
        moves.append((here, at))
        for _ in range(rng.randrange(0, 7)):
            step = rng.choice(["midnight", "same", "micro", "hours"])
            if step == "midnight":
                at = dt.datetime.combine(at.date() + dt.timedelta(days=rng.randrange(1, 4)), dt.time(), dt.UTC)
            elif step == "micro":
                at += dt.timedelta(hours=rng.uniform(1, 60))
            elif step == "hours":
                at += dt.timedelta(hours=rng.randrange(1, 50))
            here = rng.choice([name for name in MOVES[here] if name in names])
            moves.append((here, at))
        specs.append((created, moves if rng.random() > 0.05 else []))  # a few without history
    created_items = bulk_items(stream, specs)
    for item in rng.sample(created_items, blocked):
        start = T0 + dt.timedelta(days=rng.uniform(-10, 10))
        for _ in range(rng.randrange(1, 3)):  # overlapping periods, some open
            end = start + dt.timedelta(days=rng.uniform(0.2, 4)) if rng.random() > 0.2 else None
            BlockedPeriod.objects.create(item=item, reason="dependency", started_at=start, ended_at=end)
            start += dt.timedelta(days=rng.uniform(0, 2))
    return stream


WINDOWS = [
    # The whole span, up to after the last move.
    Window.build(start=dt.date(2026, 2, 8), end=dt.date(2026, 4, 10), as_of=T0 + dt.timedelta(days=45)),
    # Cutting through stays at both ends, items done before it.
    Window.build(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 12), as_of=T0 + dt.timedelta(days=45)),
    # The last day partial: the history read up to mid-day, after the last move.
    Window.build(start=dt.date(2026, 3, 20), as_of=dt.datetime(2026, 4, 16, 13, 30, 0, 250, tzinfo=dt.UTC)),
]


def engine_for(scope: Scope, window: Window, engine_class=HistoryEngine):
    """Run an engine inside the caller's transaction and cursor; the caller drops it."""
    cursor = connection.cursor()
    engine = engine_class(cursor, Dialect(connection), scope, window, with_items=False)
    engine.run()
    return engine


@pytest.mark.parametrize("window", WINDOWS)
def test_item_rows_are_item_row_of_each_item_facts(window):
    stream = random_board(seed=3)
    for scope in (Scope.stream(stream), Scope.portfolio()):
        with transaction.atomic():
            engine = engine_for(scope, window)
            expected = [tuple(item_row(facts).values()) for facts in engine.item_facts()]
            rows = list(engine.item_rows(chunk=7))  # chunks cut through the finished and the rest
            engine.drop()
        assert expected, "the board has items in the window"
        assert rows == expected


def test_item_rows_spell_times_as_isoformat_does():
    stream = random_board(seed=5, items=30)
    window = WINDOWS[0]
    with transaction.atomic():
        engine = engine_for(Scope.stream(stream), window)
        rows = list(engine.item_rows())
        engine.drop()
    times = {row[index] for row in rows for index in (4, 5, 6, 16)} - {None}  # created, start, finish, since
    assert any("." in text for text in times) and any("." not in text for text in times)
    for text in times:
        assert dt.datetime.fromisoformat(text).astimezone(dt.UTC).isoformat() == text


class FourScanDaily(HistoryEngine):
    """The daily series as it was computed before: the WIP a band of its own, read from the
    stays in four scans."""

    def _daily_series(self, rows: None = None) -> None:  # (`aggregate` gives no rows read elsewhere)
        sql = self.sql
        days = self.window.days
        first = sql.greatest(sql.ceil(sql.days("g.seg_start", self.ws)), "1")
        until = f"CASE WHEN g.next_at IS NULL THEN {days + 1} ELSE {sql.ceil(sql.days('g.next_at', self.ws))} END"
        wip = "g.category IN ('active', 'waiting')"
        stays = f"""
            SELECT g.state_id AS band, g.category, {first} AS k_from, {until} AS k_to,
                   CASE WHEN {wip} THEN 1 ELSE 0 END AS is_wip
            FROM {self.SEG} g JOIN {self.ITEM} f ON f.item_id = g.item_id
            WHERE (g.next_at IS NULL OR g.next_at > {self.ws}) AND g.seg_start <= {self.we}
        """
        rows = self.fetchall(
            f"""
            WITH stays AS ({stays}),
                 covering AS (SELECT * FROM stays WHERE k_from <= {days} AND k_to > k_from)
            SELECT band, category, k, SUM(delta) FROM (
                SELECT band, category, k_from AS k, 1 AS delta FROM covering
                UNION ALL SELECT band, category, k_to, -1 FROM covering WHERE k_to <= {days}
                UNION ALL SELECT 0, 'wip', k_from, 1 FROM covering WHERE is_wip = 1
                UNION ALL SELECT 0, 'wip', k_to, -1 FROM covering WHERE is_wip = 1 AND k_to <= {days}
            ) steps GROUP BY band, category, k
            """
        )
        named = self._workflow_states()
        done_states = [state["id"] for state in named or () if state["category"] == "done"]
        if named is None or len(done_states) == 1:
            count = self.fetchall(
                f"""SELECT COUNT(*) FROM streams_backlogitem i
                    WHERE {self.scope.item_filter_sql("i")} AND i.finished_at < {self.ws}"""
            )[0][0]
            settled = [(done_states[0] if done_states else -1, "done", count)]
        else:
            settled = self.fetchall(
                f"""SELECT i.state_id, s.category, COUNT(*) FROM streams_backlogitem i
                    JOIN streams_workflowstate s ON s.id = i.state_id
                    WHERE {self.scope.item_filter_sql("i")} AND i.finished_at < {self.ws}
                    GROUP BY i.state_id, s.category"""
            )
        category_of: dict[int, str] = {0: "wip"}
        steps: dict[int, dict[int, int]] = defaultdict(dict)
        for band, category, k, delta in rows:
            category_of[int(band)] = category
            steps[int(band)][int(k)] = int(delta)
        running = dict.fromkeys(category_of, 0)
        for state_id, category, count in settled:
            category_of[state_id] = category
            running[state_id] = running.get(state_id, 0) + int(count)
        series = []
        for k in range(1, days + 1):
            for band in running:
                running[band] += steps[band].get(k, 0)
            totals = dict.fromkeys((*CATEGORIES, "wip"), 0)
            for band, count in running.items():
                if category_of[band] in totals:
                    totals[category_of[band]] += count
            instant = min(self.window.start + dt.timedelta(days=k), self.window.end)
            day = {"day": (instant - dt.timedelta(microseconds=1)).date(), **totals}
            if named is not None:
                day["states"] = {state["name"]: running.get(state["id"], 0) for state in named}
            series.append(day)
        self.report.cfd_states = named or []
        report_daily(self.report, series)


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("workflow", [WORKFLOW, [state for state in WORKFLOW if state[0] != "Done Elsewhere"]])
def test_daily_series_is_what_the_four_scans_gave(window, workflow):
    stream = random_board(seed=7, workflow=workflow)
    random_board(seed=8)  # another stream: the portfolio's series sums both
    for scope in (Scope.stream(stream), Scope.portfolio()):
        with transaction.atomic():
            new = engine_for(scope, window)
            new.drop()
            old = engine_for(scope, window, FourScanDaily)
            old.drop()
        assert new.report.daily == old.report.daily
        assert new.report.cfd_states == old.report.cfd_states
        assert new.report.mean_wip == old.report.mean_wip


def walked_daily(stream, window: Window) -> list[dict]:
    """Each day-end's count per state and category, walking each item's moves: an item counts
    in the state of its last move at or before the instant (moves at one instant in the order
    written), unless it is in a removed state at `as_of`. The history has no move after `as_of`."""
    moves = defaultdict(list)
    for item_id, at, pk, name, category in StateTransition.objects.filter(item__stream=stream).values_list(
        "item_id", "at", "pk", "to_state__name", "to_state__category"
    ):
        moves[item_id].append((at, pk, name, category))
    assert all(at <= window.as_of for history in moves.values() for at, *_ in history)
    series = []
    for k in range(1, window.days + 1):
        instant = window.start + dt.timedelta(days=k)
        day = dict.fromkeys((*CATEGORIES, "wip"), 0)
        states = defaultdict(int)
        for item_id in BacklogItem.objects.filter(stream=stream).values_list("pk", flat=True):
            history = sorted(moves[item_id])
            if not history or history[-1][3] == "removed":
                continue
            passed = [move for move in history if move[0] <= instant]
            if passed:
                _, _, name, category = passed[-1]
                if category != "removed":  # removed then brought back: no band counts the stay
                    day[category] += 1
                    day["wip"] += category in ("active", "waiting")
                    states[name] += 1
        series.append({**day, "states": dict(states)})
    return series


@pytest.mark.parametrize("window", WINDOWS)
def test_daily_series_is_a_walk_through_each_items_moves(window):
    stream = random_board(seed=11)
    with transaction.atomic():
        engine = engine_for(Scope.stream(stream), window)
        engine.drop()
    walked = walked_daily(stream, window)
    daily = engine.report.daily
    assert len(daily) == len(walked) == window.days
    for day, expected in zip(daily, walked, strict=True):
        assert {key: day[key] for key in (*CATEGORIES, "wip")} == {key: expected[key] for key in (*CATEGORIES, "wip")}
        assert {name: n for name, n in day["states"].items() if n} == expected["states"]


class JoinedStateTime(HistoryEngine):
    """The time per item and state as it was always read: every stay joined with the blocked
    periods and grouped by stay, even when nothing was blocked."""

    def _build_state_time(self) -> None:
        self.block_rows = None  # not known: the query with the blocks
        super()._build_state_time()


def state_time_rows(engine) -> list[tuple]:
    engine.cursor.execute(f"SELECT * FROM {engine.STATE_TIME}")  # in the order the table was written
    return engine.cursor.fetchall()


@pytest.mark.parametrize("window", WINDOWS)
def test_time_per_state_without_blocks_is_what_the_join_with_the_blocks_gave(window):
    stream = random_board(seed=13, blocked=0)
    random_board(seed=14, blocked=0)
    for scope in (Scope.stream(stream), Scope.portfolio()):
        with transaction.atomic():
            new = engine_for(scope, window)
            if connection.vendor == "postgresql":
                assert new.block_rows == 0  # the path without the join was taken
            new_rows, new_items = state_time_rows(new), list(new.item_rows())
            new.drop()
            old = engine_for(scope, window, JoinedStateTime)
            old_rows, old_items = state_time_rows(old), list(old.item_rows())
            old.drop()
        assert new_rows and new_items
        assert new_rows == old_rows
        assert new_items == old_items
        assert new.report.bottleneck == old.report.bottleneck
        assert new.report.efficiency == old.report.efficiency


@pytest.mark.parametrize("window", WINDOWS)
def test_daily_steps_read_from_the_moves_are_those_of_the_temporary_tables(window):
    """`daily_steps` reads the stays from the moves (another connection computes them while the
    engine builds, in `flow_metrics`): the same rows as from the built tables, removed items left
    out, and the same report once `aggregate` takes them."""
    stream = random_board(seed=13)
    random_board(seed=14)
    assert BacklogItem.objects.filter(stream=stream, state__category="removed").exists()  # left out
    for scope in (Scope.stream(stream), Scope.portfolio()):
        with transaction.atomic():
            engine = engine_for(scope, window)
            built = engine.fetchall(engine._daily_steps_sql(f"{engine.SEG} g JOIN {engine.ITEM} f USING (item_id)"))
            engine.drop()
            apart = HistoryEngine(connection.cursor(), Dialect(connection), scope, window, with_items=False)
            steps = apart.daily_steps()
            apart.build()
            report = apart.aggregate(daily_steps=lambda steps=steps: steps)
            apart.drop()
        assert sorted(steps) == sorted(built) and steps
        assert report.daily == engine.report.daily and report.mean_wip == engine.report.mean_wip
        assert report.cfd_states == engine.report.cfd_states
