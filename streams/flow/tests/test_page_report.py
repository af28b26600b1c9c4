"""The stream page's report (aggregates from the daily rollups, item dates from the stored
columns, full facts of the rows shown) equals the engine's over the whole history."""

import dataclasses
import datetime as dt

import pytest

from streams.backlog.services import items_refresh_flow_dates
from streams.flow.engine import Scope, Window, item_row
from streams.flow.report import flow_report, rebased, stream_page_report
from streams.flow.rollups import rollups_refresh
from streams.models import BacklogItem, BlockedPeriod
from streams.tests.flow_history import T0, build_history, d, make

from .test_rollups import assert_same

pytestmark = pytest.mark.django_db

AS_OF = T0 + dt.timedelta(days=14, hours=5)
WINDOWS = {
    "complete days": Window.build(start=T0.date(), end=(T0 + dt.timedelta(days=13)).date(), as_of=AS_OF),
    "ending now": Window.build(start=(T0 + dt.timedelta(days=3)).date(), as_of=AS_OF),
}
LIGHT = ("item_id", "key", "title", "flow_type", "finish", "category", "flow_days", "lead_days")
FULL = ("created_at", "start", "active_days", "waiting_days", "blocked_days", "returned_days", "reopens")


@pytest.fixture
def stream():
    """build_history's items and the awkward cases: reopened, returned, cut short, blocked."""
    stream = build_history()
    make(stream, "O", "feature", [("Done", d(1)), ("Backlog", d(2)), ("Done", d(9))])
    make(stream, "R", "risk", [("In progress", d(1)), ("Backlog", d(3))])  # returned to the backlog
    make(stream, "S", "debt", [("In progress", d(2)), ("Done", d(4)), ("Backlog", d(6))])  # reopened into it
    cut = make(stream, "T", "feature", [("In progress", d(3)), ("Done", d(7))])
    unfinished_cut = make(stream, "U", "feature", [("Review", d(5))])
    BacklogItem.objects.filter(pk__in=[cut.pk, unfinished_cut.pk]).update(history_cut_short=True)
    items_refresh_flow_dates(BacklogItem.objects.filter(stream=stream))
    j = BacklogItem.objects.get(stream=stream, external_key="J")
    BlockedPeriod.objects.create(item=j, reason="dependency", started_at=d(11), ended_at=None)
    return stream


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("shown", [1, 3, 100])
def test_the_page_report_equals_the_engine(stream, name, shown):
    window = WINDOWS[name]
    assert rollups_refresh(as_of=AS_OF) > 0
    page = stream_page_report(scope=Scope.stream(stream), window=window, shown=shown)
    exact = flow_report(scope=Scope.stream(stream), window=window, use_rollups=False)
    assert page.method == "daily rollups" and exact.method == "history"
    assert_same(_aggregates(page), _aggregates(exact))

    def light(rows):
        return [[getattr(facts, name) for name in LIGHT] for facts in rows]

    assert light(page.finished) == light(exact.finished) and page.finished
    assert light(page.in_progress) == light(exact.in_progress) and page.in_progress
    assert [f.age_days for f in page.in_progress] == [f.age_days for f in exact.in_progress]
    assert [f.pace for f in page.in_progress] == [f.pace for f in exact.in_progress]
    assert [item_row(f) for f in page.returned_items] == [item_row(f) for f in exact.returned_items]
    assert page.returned_items  # R
    # The finished rows the table shows carry every fact; the others' are not read (the table
    # of work in progress shows age and pace only).
    exact_by_id = {f.item_id: f for f in exact.finished}
    longest = sorted(page.finished, key=lambda f: (f.flow_days is not None, f.flow_days or 0), reverse=True)
    for facts in longest[:shown]:
        assert item_row(facts) == item_row(exact_by_id[facts.item_id])
    for facts in (*longest[shown:], *page.in_progress):
        assert all(getattr(facts, name) is None for name in FULL)


def test_a_report_read_earlier_is_rebased_to_now_exactly(stream):
    """The cached page report of a window of complete days, read again hours later with no
    change of the data, equals the report read then: ages, paces and returned time moved on."""
    assert rollups_refresh(as_of=AS_OF) > 0
    first, last = T0.date(), (T0 + dt.timedelta(days=13)).date()
    earlier = stream_page_report(
        scope=Scope.stream(stream), window=Window.build(start=first, end=last, as_of=AS_OF), shown=100
    )
    later_window = Window.build(start=first, end=last, as_of=AS_OF + dt.timedelta(days=3, hours=7))
    later = stream_page_report(scope=Scope.stream(stream), window=later_window, shown=100)
    moved = rebased(earlier, later_window)
    assert moved.window == later.window
    assert [(f.item_id, f.age_days, f.pace) for f in moved.in_progress] == [
        (f.item_id, pytest.approx(f.age_days), f.pace) for f in later.in_progress
    ]
    assert [f.pace for f in moved.in_progress] != [f.pace for f in earlier.in_progress]  # J crossed a percentile
    assert [(f.item_id, f.age_days, f.returned_days) for f in moved.returned_items] == [
        (f.item_id, pytest.approx(f.age_days), pytest.approx(f.returned_days)) for f in later.returned_items
    ]
    assert [item_row(f) for f in moved.finished] == [item_row(f) for f in later.finished]


def test_stale_rollups_send_the_page_to_the_engine(stream):
    window = WINDOWS["complete days"]
    page = stream_page_report(scope=Scope.stream(stream), window=window, shown=100)  # never refreshed
    assert page.method == "history"
    assert [item_row(f) for f in page.in_progress] == [
        item_row(f) for f in flow_report(scope=Scope.stream(stream), window=window).in_progress
    ]


def _aggregates(report):
    return dataclasses.replace(report, finished=[], in_progress=[], returned_items=[])
