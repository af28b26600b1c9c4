"""Daily rollups answer many-stream reports with the exact engine's numbers, and never stale ones.

Every test compares `flow_report` read from the rollups with the same report read from the
history (`use_rollups=False`) on the hand-computed history of flow_history.py, after the
changes that rewrite past days; before the refresh the rollups must refuse to answer.
"""

import datetime as dt
import io
import math
import textwrap

from django.db import connection
from django.test.utils import CaptureQueriesContext
import pytest

from streams.backlog.services import item_change_state, item_create, workflow_state_category_changed
from streams.flow import rollups
from streams.flow.engine import Scope, Window, report_dict
from streams.flow.report import flow_report
from streams.flow.rollups import day_rows, rollups_invalidate, rollups_refresh, stream_rollups_refresh
from streams.integrations.writer import flow_csv_import
from streams.models import BacklogItem, BlockedPeriod, FlowDay, FlowDayMark, WorkflowState
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory, state
from streams.tests.flow_history import WINDOW, build_history, d, make
from teams.tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

AS_OF = WINDOW.as_of  # d(14), midnight: the window's 14 days are complete
LATER = d(14) + dt.timedelta(hours=6)


@pytest.fixture
def history():
    """The hand-computed stream, plus a stream with no waiting state led by a director."""
    payments = build_history()
    lending = ValueStreamFactory(
        name="Lending", workflow=[("Backlog", "backlog"), ("In progress", "active"), ("Done", "done")]
    )
    make(lending, "L1", "feature", [("In progress", d(1)), ("Done", d(2) + dt.timedelta(hours=5))])
    make(lending, "L2", "defect", [("In progress", d(6))])
    make(lending, "L3", "feature", [("In progress", d(2)), ("Backlog", d(4))])  # returned to the backlog
    director = PersonFactory()
    LeadershipAssignmentFactory(person=director, stream=payments)
    return {"payments": payments, "lending": lending, "director": director}


def comparable(report) -> dict:
    data = report_dict(report)
    data.pop("method")
    bottleneck = sorted(data.pop("bottleneck"), key=lambda row: (row["stream"], row["state"]))
    return {"report": data, "bottleneck": bottleneck}


def assert_same(report, exact) -> None:
    a, b = comparable(report), comparable(exact)
    assert a["report"] == b["report"]
    assert [(r["stream"], r["state"]) for r in a["bottleneck"]] == [(r["stream"], r["state"]) for r in b["bottleneck"]]
    for x, y in zip(a["bottleneck"], b["bottleneck"], strict=True):
        assert math.isclose(x["days"], y["days"], abs_tol=1e-3) and math.isclose(x["share"], y["share"], abs_tol=1e-3)


def both(scope: Scope, window: Window):
    fast = flow_report(scope=scope, window=window, with_items=False)
    exact = flow_report(scope=scope, window=window, with_items=False, use_rollups=False)
    assert exact.method == "history"
    return fast, exact


WINDOWS = {
    "the whole window": WINDOW,
    "a week inside it": Window.build(start=dt.date(2026, 3, 5), end=dt.date(2026, 3, 11), as_of=AS_OF),
    "a window ending today": Window.build(start=dt.date(2026, 3, 6), end=dt.date(2026, 3, 16), as_of=LATER),
}


@pytest.mark.parametrize("name", WINDOWS)
def test_stream_portfolio_and_director_from_rollups_equal_the_history(history, name):
    payments = history["payments"]
    window = WINDOWS[name]
    if window.as_of > AS_OF:  # something finished today, before as_of: today's part is read live
        item_change_state(
            item=BacklogItem.objects.get(external_key="J"),
            to_state=state(payments, "Done"),
            at=d(14) + dt.timedelta(hours=2),
        )
    assert rollups_refresh(as_of=AS_OF) > 0
    scopes = (
        Scope.stream(payments),
        Scope.stream(history["lending"]),
        Scope.portfolio(),
        Scope.director(history["director"]),
    )
    for scope in scopes:
        fast, exact = both(scope, window)
        assert fast.method == "daily rollups"
        assert_same(fast, exact)
    # A stream's cumulative flow per state (the stream page's) is stored per day too.
    fast, exact = both(Scope.stream(payments), window)
    assert fast.cfd_states and [day["states"] for day in fast.daily] == [day["states"] for day in exact.daily]
    # The hand-computed figures hold on this path too (test_flow.py works them out).
    if name == "the whole window":
        portfolio = flow_report(scope=Scope.portfolio(), window=window, with_items=False)
        assert portfolio.throughput == 7 and portfolio.efficiency_excluded_streams == ["Lending"]


def test_refresh_stores_each_complete_day_once_and_is_idempotent(history):
    written = rollups_refresh(as_of=AS_OF)
    mark = FlowDayMark.objects.get(stream=history["payments"])
    assert mark.valid_until == dt.date(2026, 3, 16) and mark.computed_as_of == AS_OF
    # Both histories start at d(0) 00:00, which the end of 1 March already counts (a day's end
    # includes its last instant): 15 days each, 1 to 15 March.
    assert written == 30
    assert FlowDay.objects.filter(stream=history["payments"]).count() == 15
    assert rollups_refresh(as_of=AS_OF) == 0
    assert FlowDay.objects.filter(stream=history["payments"]).count() == 15


def _reopen(h):
    item_change_state(
        item=BacklogItem.objects.get(external_key="B"), to_state=state(h["payments"], "In progress"), at=LATER
    )


def _remove(h):
    item_change_state(
        item=BacklogItem.objects.get(external_key="A"), to_state=state(h["payments"], "Removed"), at=LATER
    )


def _block_finished(h):
    BlockedPeriod.objects.create(
        item=BacklogItem.objects.get(external_key="D"), reason="approval", started_at=d(3), ended_at=d(4)
    )


def _unblock_finished(h):
    BlockedPeriod.objects.filter(item__external_key="G").first().delete()


def _category_changed(h):
    review = state(h["payments"], "Review")
    review.category = WorkflowState.Category.WAITING
    review.save()
    workflow_state_category_changed(stream_id=review.stream_id)


def _item_deleted(h):
    BacklogItem.objects.get(external_key="H").delete()


def _backdated_item(h):
    item = item_create(
        stream_id=h["payments"].pk, title="K", flow_type="feature", created_at=d(2), external_key="K", via="import"
    )
    item_change_state(item=item, to_state=state(h["payments"], "In progress"), at=d(3))


def _start_moves(h):
    # E went straight to Done on d4 (start d4); reopened and then worked on, it starts on d(14).
    item = BacklogItem.objects.get(external_key="E")
    item_change_state(item=item, to_state=state(h["payments"], "Backlog"), at=d(14) + dt.timedelta(hours=1))
    item_change_state(item=item, to_state=state(h["payments"], "In progress"), at=LATER)


def _import(h):
    files = [
        io.StringIO(textwrap.dedent(text))
        for text in (
            "name,category,order\nBacklog,backlog,0\nIn progress,active,1\nDone,done,2\n",
            "key,title,type,created_at\nX-1,Imported,feature,2026-03-03T00:00:00+00:00\n",
            "key,to_state,at\nX-1,Backlog,2026-03-03T00:00:00+00:00\nX-1,Done,2026-03-05T00:00:00+00:00\n",
        )
    ]
    flow_csv_import(stream_slug=h["lending"].slug, states_file=files[0], items_file=files[1], transitions_file=files[2])


CHANGES = {
    "reopen": _reopen,
    "removal": _remove,
    "blocked period added to finished work": _block_finished,
    "blocked period deleted": _unblock_finished,
    "category change": _category_changed,
    "item deleted": _item_deleted,
    "item created in the past": _backdated_item,
    "start moves": _start_moves,
    "import": _import,
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_to_past_days_is_never_answered_from_stale_rollups(history, change):
    rollups_refresh(as_of=AS_OF)
    window = Window.build(start=WINDOW.start.date(), end=dt.date(2026, 3, 16), as_of=LATER + dt.timedelta(hours=1))
    before = flow_report(scope=Scope.portfolio(), window=window, with_items=False, use_rollups=False)
    CHANGES[change](history)
    stale = flow_report(scope=Scope.portfolio(), window=window, with_items=False)
    assert stale.method == "history"  # the rollups refused to answer
    rollups_refresh(as_of=window.as_of)
    fast, exact = both(Scope.portfolio(), window)
    assert fast.method == "daily rollups"
    assert_same(fast, exact)
    # The change did move the past (otherwise this test could not catch a stale answer).
    assert past(exact) != past(before)


def past(report) -> dict:
    """What a report says about the days before today."""
    data = comparable(report)
    keys = ("efficiency", "flow_time_days", "lead_time_days")
    return {
        "daily": data["report"]["daily"][:-1],
        "throughput": data["report"]["throughput"]["by_type"],
        "bottleneck": data["bottleneck"],
        **{key: data["report"][key] for key in keys},
    }


def test_a_move_made_today_keeps_the_stored_days(history):
    rollups_refresh(as_of=AS_OF)
    item_change_state(
        item=BacklogItem.objects.get(external_key="F"), to_state=state(history["payments"], "In progress"), at=LATER
    )
    window = Window.build(start=WINDOW.start.date(), end=dt.date(2026, 3, 16), as_of=LATER)
    # The move is dated in the past of the real clock, but on the rollups' open day: nothing stored moved.
    assert FlowDayMark.objects.get(stream=history["payments"]).valid_until == dt.date(2026, 3, 16)
    fast, exact = both(Scope.portfolio(), window)
    assert fast.method == "daily rollups"
    assert_same(fast, exact)


def test_moves_after_as_of_send_the_report_to_the_history(history):
    rollups_refresh(as_of=AS_OF)
    item_change_state(
        item=BacklogItem.objects.get(external_key="F"), to_state=state(history["payments"], "In progress"), at=LATER
    )
    # As of d(14), F's move has not happened; the stored dates already include it.
    assert flow_report(scope=Scope.portfolio(), window=WINDOW, with_items=False).method == "history"


def test_a_change_committed_while_a_refresh_computes_keeps_the_days_invalid(history, monkeypatch):
    stream = history["payments"]
    rollups_refresh(as_of=AS_OF)
    rollups_invalidate(stream_id=stream.pk, since=dt.date(2026, 3, 10))
    computed = day_rows

    def change_meanwhile(**kwargs):
        rows = computed(**kwargs)
        rollups_invalidate(stream_id=stream.pk, since=dt.date(2026, 3, 12))  # another writer, mid-refresh
        return rows

    monkeypatch.setattr(rollups, "day_rows", change_meanwhile)
    assert stream_rollups_refresh(stream_id=stream.pk, as_of=AS_OF) == 0
    assert FlowDayMark.objects.get(stream=stream).valid_until == dt.date(2026, 3, 10)
    monkeypatch.setattr(rollups, "day_rows", computed)
    assert stream_rollups_refresh(stream_id=stream.pk, as_of=AS_OF) == 6
    assert FlowDayMark.objects.get(stream=stream).valid_until == dt.date(2026, 3, 16)


def test_streams_never_refreshed_are_read_from_the_history(history):
    rollups_refresh(as_of=AS_OF, stream_ids=[history["payments"].pk])
    assert flow_report(scope=Scope.portfolio(), window=WINDOW, with_items=False).method == "history"
    assert flow_report(scope=Scope.director(history["director"]), window=WINDOW, with_items=False).method == (
        "daily rollups"
    )


def test_the_query_count_does_not_grow_with_streams_or_items(history, django_assert_max_num_queries):
    rollups_refresh(as_of=AS_OF)
    window = WINDOWS["a window ending today"]
    with django_assert_max_num_queries(40) as few:
        assert flow_report(scope=Scope.portfolio(), window=window, with_items=False).method == "daily rollups"
    for n in range(3):
        extra = ValueStreamFactory(name=f"Extra {n}")
        for k in range(10):
            make(extra, f"X{n}-{k}", "feature", [("In progress", d(1 + k % 5)), ("Done", d(7 + k % 5))])
    rollups_refresh(as_of=LATER)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert flow_report(scope=Scope.portfolio(), window=window, with_items=False).method == "daily rollups"


def test_the_beat_task_brings_every_stream_up_to_yesterday(history, settings):
    from streams.flow.tasks import refresh_flow_rollups

    written = refresh_flow_rollups.delay().get()
    # From 1 March (see above) to yesterday, for both streams.
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    assert written == 2 * ((yesterday - dt.date(2026, 3, 1)).days + 1)
    assert refresh_flow_rollups.delay().get() == 0
    assert set(FlowDayMark.objects.values_list("valid_until", flat=True)) == {yesterday + dt.timedelta(days=1)}
    schedule = next(
        entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == refresh_flow_rollups.name
    )
    assert schedule["schedule"].minute == set(range(0, 60, 5))
    # And the portfolio of today reads them.
    assert flow_report(scope=Scope.portfolio(), with_items=False).method == "daily rollups"


@pytest.mark.django_db(transaction=True)
def test_streams_refreshed_side_by_side_store_the_same_days(history):
    """Each stream on its own connection (the seed's and the beat job's way) stores what one
    connection does."""

    def stored() -> list[tuple]:
        return list(FlowDay.objects.order_by("stream_id", "day").values_list("stream_id", "day", "wip", "states"))

    assert rollups_refresh(as_of=AS_OF, workers=1) == 30
    one_connection = stored()
    for stream in (history["payments"], history["lending"]):
        rollups_invalidate(stream_id=stream.pk, since=dt.date(2026, 3, 1))
    assert rollups_refresh(as_of=AS_OF, workers=2) == 30
    assert stored() == one_connection and len(one_connection) == 30
    fast, exact = both(Scope.portfolio(), WINDOW)
    assert fast.method == "daily rollups"
    assert_same(fast, exact)


def test_days_added_one_night_at_a_time_equal_the_days_computed_at_once():
    """The beat job adds each day the night after, reading only the items that can have
    changed it (unfinished, or finished since the day began): what it stores equals the days
    computed at once from the whole history, the moves between states included."""
    stream = ValueStreamFactory(name="Nightly")
    plans = {
        "A": [("In progress", 1), ("Done", 2)],  # finished early: later nights leave it out
        "B": [("In progress", 1), ("Done", 3), ("In progress", 5), ("Done", 7)],  # reopened
        "C": [("In progress", 2), ("Backlog", 4)],  # sent back
        "D": [("Review", 2), ("Done", 5)],
        "E": [("In progress", 6), ("Review", 8), ("Done", 9)],
        "F": [("In progress", 3)],  # still open
    }
    items = {key: make(stream, key, "feature", []) for key in plans}
    moves = sorted((day, key, name) for key, plan in plans.items() for name, day in plan)

    def stored() -> list[tuple]:
        return list(FlowDay.objects.order_by("day").values_list("day", "wip", "states", "moves"))

    for night in range(1, 11):
        for day, key, name in moves:
            if night - 1 <= day < night:
                item = BacklogItem.objects.get(pk=items[key].pk)
                item_change_state(item=item, to_state=state(stream, name), at=d(day) + dt.timedelta(hours=10))
        rollups_refresh(as_of=d(night) + dt.timedelta(hours=1))
    nightly = stored()
    rollups_invalidate(stream_id=stream.pk, since=None)
    rollups_refresh(as_of=d(10) + dt.timedelta(hours=1))
    assert stored() == nightly
    assert sum(sum(day_moves.values()) for *_rest, day_moves in nightly) == len(moves)


@pytest.mark.django_db(transaction=True)
def test_a_portfolio_report_after_a_move_in_one_stream_reads_that_streams_items_only(history):
    """Each stream's part of a portfolio or director report (its items finished in the window,
    its throughput, its items now) is kept under its version: after a move in Payments only
    Payments' items are read again, and the report still equals the history's."""
    if connection.vendor != "postgresql":
        pytest.skip("per-stream versions are PostgreSQL's; SQLite reads every stream")
    lending = history["lending"]
    assert rollups_refresh(as_of=AS_OF) > 0
    window = Window.build(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 14), as_of=LATER)
    flow_report(scope=Scope.portfolio(), window=window, with_items=False)
    item_change_state(item=BacklogItem.objects.get(external_key="L2"), to_state=state(lending, "Backlog"), at=LATER)
    with CaptureQueriesContext(connection) as queries:
        fast = flow_report(scope=Scope.portfolio(), window=window, with_items=False)
    item_reads = [q["sql"] for q in queries.captured_queries if "FROM streams_backlogitem i" in q["sql"]]
    assert item_reads and all(f"i.stream_id IN ({lending.pk})" in sql for sql in item_reads), item_reads
    assert fast.method == "daily rollups"
    assert_same(fast, flow_report(scope=Scope.portfolio(), window=window, with_items=False, use_rollups=False))
