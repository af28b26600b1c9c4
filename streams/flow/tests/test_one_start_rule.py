"""One rule for start and finish, stated twice: the state service stores it
(`streams.backlog.services.items_refresh_flow_dates`, which `seed_scale` and the imports also
run) and the engine derives it in SQL from the history. On the same histories, every item the
engine reports has the start and finish the service stored."""

import datetime as dt

import pytest

from streams.backlog.services import items_refresh_flow_dates
from streams.flow.engine import Scope, Window, report_items
from streams.flow.report import flow_report
from streams.models import BacklogItem
from streams.tests.flow_history import T0, build_history, d, make

pytestmark = pytest.mark.django_db

# The whole history (d0 to d14), read at its end, so every item the engine knows is reported.
WHOLE = Window.build(start=T0.date(), end=(T0 + dt.timedelta(days=13)).date(), as_of=T0 + dt.timedelta(days=14))


@pytest.fixture
def histories():
    """build_history's items and the awkward cases of DESIGN.md's "Start" and "Data quality"."""
    stream = build_history()
    make(stream, "N", "defect", [("Done", d(2)), ("Backlog", d(5))])  # done for a moment, never started
    make(stream, "O", "feature", [("Done", d(1)), ("Backlog", d(2)), ("Done", d(9))])  # starts at its last finish
    make(stream, "P", "feature", [("Review", d(2)), ("In progress", d(4)), ("Done", d(6))])  # skipped a state
    make(stream, "R", "risk", [("In progress", d(1)), ("Backlog", d(3))])  # returned to the backlog
    make(stream, "S", "debt", [("In progress", d(2)), ("Done", d(4)), ("Backlog", d(6))])  # reopened into it
    cut = make(stream, "T", "feature", [("In progress", d(3)), ("Done", d(7))])  # an export cut its history
    unfinished_cut = make(stream, "U", "feature", [("Review", d(5))])
    BacklogItem.objects.filter(pk__in=[cut.pk, unfinished_cut.pk]).update(history_cut_short=True)
    items_refresh_flow_dates(BacklogItem.objects.filter(stream=stream))
    return stream


def test_every_item_the_engine_reports_has_the_start_and_finish_the_service_stored(histories):
    report = flow_report(scope=Scope.stream(histories), window=WHOLE)
    engine = {facts.key: (facts.start, facts.finish) for facts in report_items(report)}
    stored = {
        item.external_key: (item.started_at, item.finished_at)
        for item in BacklogItem.objects.filter(stream=histories, external_key__in=engine)
    }
    assert engine == stored
    # The cases above are all reported (C is removed, F and N never started: no start to compare).
    assert set(engine) == set("ABDEGHIJOPRSTU")
    assert engine["O"] == (d(9), d(9)) and engine["T"] == (None, d(7)) and engine["U"][0] == d(5)


def test_items_the_engine_leaves_out_have_neither_start_nor_finish_stored_unless_removed(histories):
    report = flow_report(scope=Scope.stream(histories), window=WHOLE)
    reported = {facts.key for facts in report_items(report)}
    left_out = BacklogItem.objects.filter(stream=histories).exclude(external_key__in=reported)
    rows = {item.external_key: (item.state.category, item.started_at, item.finished_at) for item in left_out}
    assert rows == {"C": ("removed", d(1), None), "F": ("backlog", None, None), "N": ("backlog", None, None)}
