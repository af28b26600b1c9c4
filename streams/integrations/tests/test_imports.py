"""Generic CSV import: creates what is missing, is idempotent, all or nothing, and says where it fails."""

import datetime as dt
import io
import textwrap

import pytest

from core.errors import ImportRefused
from streams.flow.engine import Scope
from streams.flow.report import flow_report
from streams.integrations.writer import flow_csv_import
from streams.models import BacklogItem, ReadinessCheck, StateTransition, ValueStream, WorkflowState
from streams.tests.factories import ReadinessCriterionFactory, ValueStreamFactory
from streams.tests.flow_history import WINDOW
from teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

STATES = """\
    name,category,order
    Backlog,backlog,0
    In progress,active,1
    Waiting for review,waiting,2
    Review,active,3
    Done,done,4
    Removed,removed,5
"""
ITEMS = """\
    key,title,type,created_at,parent_key,team
    PAY-1,Checkout epic,feature,2026-03-02T00:00:00+00:00,,checkout
    PAY-2,Pay by link,feature,2026-03-02T00:00:00+00:00,PAY-1,Checkout
    PAY-3,Refund bug,defect,2026-03-02T00:00:00+00:00,,
    PAY-4,Never started,feature,2026-03-02T00:00:00+00:00,,
"""
TRANSITIONS = """\
    key,to_state,at
    PAY-2,Backlog,2026-03-02T00:00:00+00:00
    PAY-2,In progress,2026-03-03T00:00:00+00:00
    PAY-2,Waiting for review,2026-03-05T00:00:00+00:00
    PAY-2,In progress,2026-03-06T02:00:00+02:00
    PAY-2,Review,2026-03-08T00:00:00+00:00
    PAY-2,Done,2026-03-10T00:00:00+00:00
    PAY-3,Backlog,2026-03-02T00:00:00+00:00
    PAY-3,In progress,2026-03-03T00:00:00+00:00
    PAY-3,Done,2026-03-05T00:00:00+00:00
    PAY-3,In progress,2026-03-07T00:00:00+00:00
    PAY-1,Backlog,2026-03-02T00:00:00+00:00
    PAY-1,In progress,2026-03-04T00:00:00+00:00
"""


def files(states=STATES, items=ITEMS, transitions=TRANSITIONS):
    return {
        name: io.StringIO(textwrap.dedent(text))
        for name, text in (("states_file", states), ("items_file", items), ("transitions_file", transitions))
    }


def run(slug="payments", **overrides):
    return flow_csv_import(stream_slug=slug, **files(**overrides))


@pytest.fixture
def team():
    return TeamFactory(name="Checkout", slug="checkout")


def test_import_creates_the_stream_states_items_and_history(team):
    result = run()
    stream = ValueStream.objects.get(slug="payments")
    assert result.stream_created and stream.name == "Payments"
    assert (result.states_created, result.items_created, result.transitions_written) == (6, 4, 13)
    assert list(stream.states.values_list("name", "category")) == [
        ("Backlog", "backlog"),
        ("In progress", "active"),
        ("Waiting for review", "waiting"),
        ("Review", "active"),
        ("Done", "done"),
        ("Removed", "removed"),
    ]
    items = {item.external_key: item for item in BacklogItem.objects.filter(stream=stream)}
    assert items["PAY-2"].parent == items["PAY-1"] and items["PAY-2"].team == team == items["PAY-1"].team
    # Dates come from the history: the +02:00 move is 03-06 00:00 UTC.
    assert items["PAY-2"].started_at == dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    assert items["PAY-2"].finished_at == dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    assert items["PAY-3"].state.name == "In progress" and items["PAY-3"].finished_at is None  # reopened
    assert items["PAY-4"].state.name == "Backlog" and items["PAY-4"].transitions.count() == 1  # entered when created
    chain = list(items["PAY-2"].transitions.order_by("at").values_list("from_state__name", "to_state__name"))
    assert chain[0] == (None, "Backlog") and chain[3] == ("Waiting for review", "In progress")
    assert set(StateTransition.objects.values_list("source", flat=True)) == {"import"}


def test_the_engine_reads_imported_history(team):
    run()
    report = flow_report(scope=Scope.stream(ValueStream.objects.get(slug="payments")), window=WINDOW)
    assert report.throughput == 1 and report.flow_time.p50 == 7.0  # PAY-2: 03-03 to 03-10
    facts = {f.key: f for f in report.finished + report.in_progress}
    assert round(facts["PAY-2"].active_days, 4) == 6 and round(facts["PAY-2"].waiting_days, 4) == 1
    assert facts["PAY-3"].reopens == 1


def test_a_second_run_changes_nothing(team):
    run()
    before = list(StateTransition.objects.order_by("pk").values_list("pk", "item_id", "to_state_id", "at"))
    result = run()
    assert not result.stream_created
    assert (result.states_created, result.states_updated, result.items_created, result.items_updated) == (0, 0, 0, 0)
    assert result.items_unchanged == 4 and result.transitions_written == 0
    assert list(StateTransition.objects.order_by("pk").values_list("pk", "item_id", "to_state_id", "at")) == before


def test_newer_history_replaces_only_the_items_that_changed(team):
    run()
    untouched = list(BacklogItem.objects.get(external_key="PAY-2").transitions.values_list("pk", flat=True))
    newer = TRANSITIONS + "    PAY-3,Done,2026-03-09T00:00:00+00:00\n"
    result = run(transitions=newer)
    # Only PAY-3's history changed: its fields did not, and the other items are untouched.
    assert (result.histories_written, result.items_updated, result.items_unchanged) == (1, 0, 3)
    pay3 = BacklogItem.objects.get(external_key="PAY-3")
    assert pay3.state.name == "Done" and pay3.finished_at == dt.datetime(2026, 3, 9, tzinfo=dt.UTC)
    assert pay3.transitions.count() == 5
    assert list(BacklogItem.objects.get(external_key="PAY-2").transitions.values_list("pk", flat=True)) == untouched


def test_every_problem_names_file_line_and_field_and_nothing_is_written(team):
    bad_items = ITEMS.replace("PAY-3,Refund bug,defect", "PAY-3,Refund bug,bug").replace(
        "2026-03-02T00:00:00+00:00,,\n    PAY-4", "2026-03-02 00:00,,\n    PAY-4"
    )
    bad_transitions = (
        TRANSITIONS + "    PAY-9,Done,2026-03-09T00:00:00+00:00\n    PAY-1,Shipped,2026-03-05T00:00:00+00:00\n"
    )
    bad_transitions += "    PAY-1,Backlog,2026-03-01T00:00:00+00:00\n    PAY-4,Backlog,2999-01-01T00:00:00+00:00\n"
    with pytest.raises(ImportRefused) as refused:
        run(items=bad_items, transitions=bad_transitions)
    messages = [str(error) for error in refused.value.errors]
    assert "items.csv, line 4, field 'type': 'bug' is not one of feature, defect, risk, debt." in messages
    assert any(
        m.startswith("items.csv, line 4, field 'created_at': '2026-03-02 00:00' has no UTC offset") for m in messages
    )
    assert "transitions.csv, line 14, field 'key': 'PAY-9' is not the key of an item in items.csv." in messages
    assert any(m.startswith("transitions.csv, line 15, field 'to_state': 'Shipped'") for m in messages)
    assert any(m.startswith("transitions.csv, line 16, field 'at'") and "earlier than" in m for m in messages)
    assert "transitions.csv, line 17, field 'at': 2999-01-01T00:00:00+00:00 is in the future." in messages
    assert not ValueStream.objects.exists() and not BacklogItem.objects.exists()


def reordered(text: str, order: list[str], prefix: str) -> str:
    """A CSV of the test's (indented) text with its columns in `order` ("extra": a column not
    read), keys given `prefix` instead of PAY-, and times in other ISO spellings of the same instant."""
    lines = textwrap.dedent(text).splitlines()
    header = lines[0].split(",")
    out = [",".join(order)]
    for number, line in enumerate(lines[1:]):
        row = dict(zip(header, line.replace("PAY-", prefix).split(","), strict=True))
        for column in ("created_at", "at"):
            if row.get(column, "").endswith("T00:00:00+00:00"):
                day = dt.date.fromisoformat(row[column][:10])
                row[column] = (  # the second, only Django's parse_datetime reads
                    f"{day} 00:00:00.000Z" if number % 2 else f"{day.year}-{day.month}-{day.day} 0:00:00 Z"
                )
        out.append(",".join(row.get(column, "x") for column in order) + ",past the header")
    return "\n".join(out) + "\n"


def stored(stream: str, prefix: str) -> list[tuple]:
    items = BacklogItem.objects.filter(stream__slug=stream).order_by("external_key")
    return [
        (
            item.external_key.removeprefix(prefix),
            item.title,
            item.flow_type,
            item.created_at,
            item.team_id,
            item.parent.external_key.removeprefix(prefix) if item.parent else None,
            item.state.name,
            item.started_at,
            item.finished_at,
            [(t.to_state.name, t.at) for t in item.transitions.order_by("at", "pk")],
        )
        for item in items
    ]


def test_columns_in_another_order_and_other_time_spellings_read_as_the_plain_files(team):
    """The plain files take the readers' fast paths (a header of exactly the columns read, times
    that fromisoformat reads); the others the general ones: the same items and history."""
    run()
    run(
        slug="lending",
        items=reordered(ITEMS, ["team", "extra", "key", "title", "type", "created_at", "parent_key"], "LEN-"),
        transitions=reordered(TRANSITIONS, ["at", "key", "extra", "to_state"], "LEN-"),
    )
    assert stored("lending", "LEN-") == stored("payments", "PAY-")
    assert len(stored("payments", "PAY-")) == 4


def test_a_missing_column_is_named(team):
    with pytest.raises(ImportRefused, match="items.csv, line 1: the header must name the columns .* missing: type"):
        run(items="key,title,created_at\nA,B,2026-03-02T00:00:00+00:00\n")


def test_a_key_of_another_stream_is_refused_and_nothing_is_written(team):
    run()
    with pytest.raises(ImportRefused, match="'PAY-1' already belongs to stream 'payments'"):
        run(slug="lending")
    assert not ValueStream.objects.filter(slug="lending").exists()


def test_a_key_of_another_stream_is_refused_beside_keys_the_stream_holds(team):
    run()
    lending = ITEMS.replace("PAY-", "LEN-").replace(",checkout", ",").replace(",Checkout", ",")
    run(slug="lending", items=lending, transitions=TRANSITIONS.replace("PAY-", "LEN-"))
    before = list(BacklogItem.objects.filter(stream__slug="lending").values_list("external_key", "title"))
    with pytest.raises(ImportRefused, match="'PAY-3' already belongs to stream 'payments'"):
        run(
            slug="lending",
            items=lending + "    PAY-3,Taken,defect,2026-03-02T00:00:00+00:00,,\n",
            transitions=TRANSITIONS.replace("PAY-", "LEN-"),
        )
    assert list(BacklogItem.objects.filter(stream__slug="lending").values_list("external_key", "title")) == before
    assert len(before) == 4


def test_an_unknown_team_and_parent_are_refused():
    with pytest.raises(ImportRefused) as refused:
        run(items=ITEMS.replace(",PAY-1,Checkout", ",PAY-7,Nobody"))
    messages = " ".join(str(error) for error in refused.value.errors)
    assert "field 'team': no team has the slug or name 'checkout'" in messages
    assert "field 'parent_key': 'PAY-7' is not the key of an item in the file." in messages


def test_live_imported_work_gets_readiness_checks_but_released_work_does_not(team):
    ReadinessCriterionFactory(name="Support trained", flow_types=["feature", "defect"])
    run()
    checked = set(ReadinessCheck.objects.values_list("item__external_key", flat=True))
    assert checked == {"PAY-1", "PAY-3", "PAY-4"}  # PAY-2 was done before the portal knew it


def test_importing_into_an_existing_stream_reuses_its_states_by_name(team):
    stream = ValueStreamFactory(slug="payments")  # has Backlog, Ready, In progress, ... Done, Removed
    before = dict(stream.states.values_list("name", "pk"))
    result = run()
    assert not result.stream_created and result.states_created == 0
    after = dict(WorkflowState.objects.filter(stream=stream).values_list("name", "pk"))
    assert after == before  # same rows, none added twice
    item = BacklogItem.objects.get(external_key="PAY-2")
    assert item.state_id == before["Done"]


def test_parents_that_form_a_loop_are_refused(team):
    items = ITEMS.replace(
        "PAY-1,Checkout epic,feature,2026-03-02T00:00:00+00:00,,",
        "PAY-1,Checkout epic,feature,2026-03-02T00:00:00+00:00,PAY-2,",
    )
    with pytest.raises(ImportRefused, match="parents cannot form a loop"):
        run(items=items)


def test_a_nul_byte_and_broken_quoting_are_row_errors_not_crashes(team):
    with pytest.raises(ImportRefused) as refused:
        run(items=ITEMS.replace("Pay by link", "Pay\x00by link"))
    assert "items.csv, line 3: contains a NUL byte" in str(refused.value)
    with pytest.raises(ImportRefused, match="is not valid CSV"):
        run(states='name,category,order\n"Backlog,backlog,0\n', items=ITEMS)
    assert not BacklogItem.objects.exists()


def test_states_csv_may_set_wip_limits(team):
    with_limits = STATES.replace("name,category,order", "name,category,order,wip_limit")
    with_limits = with_limits.replace("In progress,active,1", "In progress,active,1,4").replace(
        "Review,active,3", "Review,active,3,2"
    )
    run(states=with_limits)
    stream = ValueStream.objects.get(slug="payments")
    assert dict(stream.states.exclude(wip_limit=None).values_list("name", "wip_limit")) == {
        "In progress": 4,
        "Review": 2,
    }
    report = flow_report(scope=Scope.stream(stream), window=WINDOW)
    assert report.wip_limit == 6  # the limits of the in-progress states add up
    # A second file changes one limit and clears another; an empty cell means no limit.
    result = run(states=with_limits.replace("active,1,4", "active,1,5").replace("active,3,2", "active,3,"))
    assert dict(stream.states.exclude(wip_limit=None).values_list("name", "wip_limit")) == {"In progress": 5}
    assert result.states_updated == 0 and result.warnings["WIP limits set by the import"] == 2
    # Without the column, the limits stay as they are.
    run()
    assert dict(stream.states.exclude(wip_limit=None).values_list("name", "wip_limit")) == {"In progress": 5}


def test_a_bad_wip_limit_is_refused_by_line(team):
    bad = STATES.replace("name,category,order", "name,category,order,wip_limit").replace(
        "In progress,active,1", "In progress,active,1,lots"
    )
    with pytest.raises(ImportRefused) as refused:
        run(states=bad)
    error = refused.value.errors[0]
    assert (error.file, error.line, error.field) == ("states.csv", 3, "wip_limit")
    assert not ValueStream.objects.exists()
