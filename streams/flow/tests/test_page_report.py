"""The stream page's report (aggregates from the daily rollups, item dates from the stored
columns, full facts of the rows shown) equals the engine's over the whole history."""

import dataclasses
import datetime as dt

import pytest

from streams.backlog.services import items_refresh_flow_dates
from streams.flow.engine import Scope, Window, item_row
from streams.flow.report import flow_report, stream_page_report
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
    # The rows the tables show carry every fact; the others' are not read.
    exact_by_id = {f.item_id: f for f in (*exact.finished, *exact.in_progress)}
    longest = sorted(page.finished, key=lambda f: (f.flow_days is not None, f.flow_days or 0), reverse=True)
    oldest = sorted(page.in_progress, key=lambda f: f.age_days, reverse=True)
    for rows in (longest, oldest):
        for facts in rows[:shown]:
            assert item_row(facts) == item_row(exact_by_id[facts.item_id])
        for facts in rows[shown:]:
            assert all(getattr(facts, name) is None for name in FULL)


def test_stale_rollups_send_the_page_to_the_engine(stream):
    window = WINDOWS["complete days"]
    page = stream_page_report(scope=Scope.stream(stream), window=window, shown=100)  # never refreshed
    assert page.method == "history"
    assert [item_row(f) for f in page.in_progress] == [
        item_row(f) for f in flow_report(scope=Scope.stream(stream), window=window).in_progress
    ]


def _aggregates(report):
    return dataclasses.replace(report, finished=[], in_progress=[], returned_items=[])
