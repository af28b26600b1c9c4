"""Jira and GitHub imports: history from the changelog, mapping, relations, idempotence, refusals."""

import copy
import datetime as dt
import gc
import io
import json
from pathlib import Path

from django.core.management import CommandError, call_command
import pytest

from core.errors import ImportRefused
from streams.backlog.services import item_change_state
from streams.integrations.jobs import toolchain_import
from streams.integrations.toolchain import Mapping
from streams.models import (
    BacklogItem,
    Dependency,
    ImportMapping,
    ImportProject,
    StateTransition,
    ValueStream,
    WorkflowState,
)

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
UTC = dt.UTC


def jira() -> dict:
    return json.loads((FIXTURES / "jira_search.json").read_text())


def github() -> list:
    return json.loads((FIXTURES / "github_issues.json").read_text())


def as_file(data) -> io.BytesIO:
    return io.BytesIO(json.dumps(data).encode())


def run_jira(data=None, slug="payments", mapping=None):
    return toolchain_import(source="jira", stream_slug=slug, file=as_file(data or jira()), mapping=mapping)


def run_github(data=None, slug="shop"):
    return toolchain_import(source="github", stream_slug=slug, file=as_file(data or github()))


def items(slug) -> dict[str, BacklogItem]:
    return {i.external_key: i for i in BacklogItem.objects.filter(stream__slug=slug).select_related("state", "parent")}


def history(item) -> list[tuple[str, dt.datetime]]:
    return list(item.transitions.order_by("at", "pk").values_list("to_state__name", "at"))


def snapshot():
    return (
        sorted(BacklogItem.objects.values_list("pk", "external_key", "state_id", "parent_id", "flow_type", "title")),
        sorted(StateTransition.objects.values_list("pk", "item_id", "from_state_id", "to_state_id", "at")),
        sorted(Dependency.objects.values_list("item_id", "blocked_by_id")),
    )


def issue(data: dict, key: str) -> dict:
    return next(i for i in data["issues"] if i["key"] == key)


def test_jira_export_becomes_items_with_their_true_history():
    result = run_jira()
    assert result.stream_created and result.items_created == 13
    stream = ValueStream.objects.get(slug="payments")
    categories = dict(stream.states.values_list("name", "category"))
    assert categories == {
        "To Do": "backlog",
        "Selected for Development": "backlog",
        "In Progress": "active",
        "In Review": "active",
        "Waiting for QA": "waiting",
        "Done": "done",
        "Won't Do": "removed",  # the name wins over Jira's coarse "done" category
    }
    got = items("payments")
    # Types: issue types by default, labels that mean a type win.
    assert {k: i.flow_type for k, i in got.items() if i.flow_type != "feature"} == {
        "PAY-7": "risk",  # Task labelled security
        "PAY-8": "debt",  # Story labelled tech-debt
        "PAY-11": "defect",  # Bug
        "PAY-12": "risk",  # Bug labelled vulnerability
    }
    # Work already in progress keeps the start the changelog gives, not the day of the import.
    assert got["PAY-4"].state.name == "In Progress"
    assert got["PAY-4"].started_at == dt.datetime(2026, 5, 18, 10, 30, tzinfo=UTC)
    # -0500 in the changelog: 10:15 in New York is 15:15 UTC.
    assert got["PAY-5"].started_at == dt.datetime(2026, 3, 4, 15, 15, tzinfo=UTC)
    assert [name for name, _ in history(got["PAY-3"])] == [
        "To Do",
        "In Progress",
        "In Review",
        "In Progress",
        "In Review",
        "Done",
    ]
    assert got["PAY-3"].finished_at == dt.datetime(2026, 1, 28, 10, 20, tzinfo=UTC)
    assert got["PAY-6"].state.name == "In Progress" and got["PAY-6"].finished_at is None  # reopened
    assert got["PAY-10"].state.category == "removed"
    # No changelog: the item entered its status when created (+0100 → 15:40 UTC).
    assert history(got["PAY-9"]) == [("To Do", dt.datetime(2026, 1, 9, 15, 40, tzinfo=UTC))]
    # Relations: parents (epics and sub-tasks), "is blocked by" links; "relates to" is ignored.
    assert got["PAY-3"].parent.external_key == "PAY-1" and got["PAY-13"].parent.external_key == "PAY-4"
    assert got["PAY-1"].parent is None
    assert set(Dependency.objects.values_list("item__external_key", "blocked_by__external_key")) == {
        ("PAY-5", "PAY-7"),
        ("PAY-9", "PAY-3"),
    }
    assert set(StateTransition.objects.values_list("source", flat=True)) == {"import"}
    assert ImportProject.objects.get(source="jira", project="PAY").stream == stream
    remembered = ImportMapping.objects.filter(stream=stream, source="jira", kind="status")
    assert remembered.get(value="Won't Do").category == "removed"


def test_importing_the_same_export_twice_gives_the_same_rows():
    run_jira()
    before = snapshot()
    result = run_jira()
    assert (result.items_created, result.items_updated, result.histories_written) == (0, 0, 0)
    assert result.items_unchanged == 13 and result.transitions_written == 0
    assert snapshot() == before


def test_the_pages_of_jira_clouds_search_jql_saved_in_one_array_import_as_one_export():
    """Jira Cloud's `POST /rest/api/3/search/jql` pages by `nextPageToken`: an export is the
    array of its answers. It gives the same rows as the same issues in one answer."""
    whole = jira()["issues"]
    pages = [
        {"issues": whole[:5], "nextPageToken": "CAEaAggD", "isLast": False},
        {"issues": whole[5:], "isLast": True},
    ]
    paged = run_jira(pages)
    assert paged.items_created == 13
    whole_again = run_jira()  # the same issues in one answer change nothing
    assert (whole_again.items_unchanged, whole_again.transitions_written) == (13, 0)


def test_a_newer_export_changes_only_what_changed():
    run_jira()
    untouched = {k: list(i.transitions.values_list("pk", flat=True)) for k, i in items("payments").items()}
    newer = jira()
    pay4 = issue(newer, "PAY-4")
    pay4["fields"]["status"] = {"name": "Done", "statusCategory": {"key": "done"}}
    pay4["changelog"]["histories"].append(
        {
            "id": "99001",
            "created": "2026-06-20T12:00:00.000+0000",
            "items": [{"field": "status", "fromString": "In Progress", "toString": "Done"}],
        }
    )
    issue(newer, "PAY-9")["fields"]["summary"] = "Renamed in Jira"
    issue(newer, "PAY-9")["fields"]["issuelinks"] = []  # the blocking link was removed
    issue(newer, "PAY-3")["fields"]["issuelinks"] = []
    result = run_jira(newer)
    assert (result.histories_written, result.items_updated, result.items_unchanged) == (1, 1, 11)
    assert result.dependencies_removed == 1
    got = items("payments")
    assert got["PAY-4"].finished_at == dt.datetime(2026, 6, 20, 12, tzinfo=UTC)
    assert got["PAY-4"].started_at == dt.datetime(2026, 5, 18, 10, 30, tzinfo=UTC)
    assert got["PAY-9"].title == "Renamed in Jira"
    for key, pks in untouched.items():
        if key != "PAY-4":
            assert list(got[key].transitions.values_list("pk", flat=True)) == pks
    assert not Dependency.objects.filter(item__external_key="PAY-9").exists()


def test_moves_recorded_live_after_the_export_are_kept_and_never_duplicated():
    run_jira()
    item = items("payments")["PAY-4"]
    review = WorkflowState.objects.get(stream=item.stream, name="In Review")
    at = dt.datetime(2026, 6, 25, 9, tzinfo=UTC)
    item_change_state(item=item, to_state=review, at=at, via="webhook")
    run_jira()  # the old export again: the webhook's move stays
    assert history(BacklogItem.objects.get(pk=item.pk))[-1] == ("In Review", at)
    newer = jira()
    pay4 = issue(newer, "PAY-4")
    pay4["fields"]["status"] = {"name": "In Review", "statusCategory": {"key": "indeterminate"}}
    pay4["changelog"]["histories"].append(
        {
            "created": at.isoformat(),
            "items": [{"field": "status", "fromString": "In Progress", "toString": "In Review"}],
        }
    )
    run_jira(newer)  # the export that holds the same move: once, not twice
    moves = history(BacklogItem.objects.get(pk=item.pk))
    assert moves.count(("In Review", at)) == 1 and moves[-1] == ("In Review", at)


def test_a_remembered_mapping_is_used_next_time():
    run_jira()
    stream = ValueStream.objects.get(slug="payments")
    ImportMapping.objects.filter(stream=stream, source="jira", kind="status", value="Waiting for QA").update(
        state_name="QA queue", category="waiting"
    )
    run_jira()
    assert items("payments")["PAY-5"].state.name == "QA queue"


def test_github_export_becomes_items_with_history_parents_and_dependencies():
    result = run_github()
    assert result.items_created == 12  # the two pull requests are skipped
    got = items("shop")
    assert "acme/shop#8" not in got and "acme/shop#14" not in got
    assert got["acme/shop#13"].flow_type == "defect" and got["acme/shop#10"].flow_type == "risk"
    assert got["acme/shop#7"].flow_type == "debt" and got["acme/shop#1"].flow_type == "feature"
    assert got["acme/shop#4"].state.category == "removed"  # closed as not planned
    assert got["acme/shop#6"].state.name == "In progress" and got["acme/shop#6"].finished_at is None
    assert got["acme/shop#3"].started_at == dt.datetime(2026, 5, 20, 9, 15, tzinfo=UTC)
    assert [n for n, _ in history(got["acme/shop#2"])] == ["Open", "Todo", "In progress", "In review", "Closed"]
    assert {got[k].parent.external_key for k in ("acme/shop#2", "acme/shop#3", "acme/shop#4")} == {"acme/shop#1"}
    assert set(Dependency.objects.values_list("item__external_key", "blocked_by__external_key")) == {
        ("acme/shop#12", "acme/shop#9"),
        ("acme/shop#10", "acme/shop#7"),
    }
    before = snapshot()
    run_github()
    assert snapshot() == before


def refused(run, data) -> list[str]:
    with pytest.raises(ImportRefused) as caught:
        run(data)
    assert not ValueStream.objects.exists() and not BacklogItem.objects.exists()
    assert not ImportMapping.objects.exists() and not StateTransition.objects.exists()
    return [str(error) for error in caught.value.errors]


def test_a_truncated_file_is_refused_and_nothing_is_written():
    text = json.dumps(jira())
    with pytest.raises(ImportRefused, match="ends early or is broken after issue 7.*truncated"):
        toolchain_import(source="jira", stream_slug="payments", file=io.BytesIO(text[: len(text) * 6 // 10].encode()))
    assert not BacklogItem.objects.exists() and not ValueStream.objects.exists()
    with pytest.raises(ImportRefused, match="not valid JSON|broken"):
        toolchain_import(source="github", stream_slug="shop", file=io.BytesIO(b"[{]"))


def test_bad_issues_are_each_named_and_nothing_is_written():
    data = jira()
    issue(data, "PAY-2")["fields"]["created"] = "2026-02-02T14:00:00.000"  # no offset
    del issue(data, "PAY-3")["fields"]["status"]
    issue(data, "PAY-4")["fields"]["issuetype"] = {}
    issue(data, "PAY-5")["changelog"]["histories"][0]["created"] = "yesterday"
    duplicate = copy.deepcopy(issue(data, "PAY-6"))
    data["issues"].append(duplicate)
    issue(data, "PAY-11")["changelog"]["histories"][0]["items"][0]["toString"] = "Parked"
    issue(data, "PAY-8")["fields"]["created"] = "2099-01-01T00:00:00.000+0000"
    messages = refused(run_jira, data)
    assert any(
        m.startswith("issue PAY-2, field 'fields.created': '2026-02-02T14:00:00.000' has no UTC offset")
        for m in messages
    )
    assert "issue PAY-3, field 'fields.status.name': is missing." in messages
    assert "issue PAY-4, field 'fields.issuetype.name': is missing." in messages
    assert "issue PAY-5, field 'changelog.histories.created': 'yesterday' is not an ISO 8601 date and time." in messages
    assert "issue PAY-6, field 'key': 'PAY-6' appears twice in the file (first as issue 6)." in messages
    assert any(m.startswith("status 'Parked': 1 issue(s) use this status and it has no mapping") for m in messages)
    assert any("--map 'Parked=CATEGORY'" in m for m in messages)
    assert "issue PAY-8, field 'fields.created': '2099-01-01T00:00:00.000+0000' is in the future." in messages


def test_github_issues_without_number_title_or_state_are_named():
    data = github()
    data[2]["title"] = ""
    data[3]["state"] = "merged"
    del data[4]["number"]
    data[5]["created_at"] = "2026-01-20 15:10"
    messages = refused(run_github, data)
    assert any(m.endswith("field 'title': is missing.") for m in messages)
    assert any("field 'state': 'merged' is not open or closed." in m for m in messages)
    assert any(m.startswith("issue 5, field 'number'") for m in messages)
    assert any("has no UTC offset" in m for m in messages)


def test_a_key_in_another_stream_is_refused():
    run_jira()
    with pytest.raises(ImportRefused, match="'PAY-1' already belongs to stream 'payments'"):
        run_jira(slug="lending")
    assert not ValueStream.objects.filter(slug="lending").exists()


def test_the_command_maps_an_unknown_status_and_remembers_it(tmp_path, capsys):
    data = jira()
    issue(data, "PAY-11")["changelog"]["histories"][1]["items"][0]["toString"] = "Parked"
    issue(data, "PAY-11")["changelog"]["histories"][2]["items"][0]["fromString"] = "Parked"
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CommandError, match="status 'Parked'"):
        call_command("import_jira", str(path), "--stream", "payments")
    with pytest.raises(CommandError, match="not STATUS=CATEGORY"):
        call_command("import_jira", str(path), "--stream", "payments", "--map", "Parked=sideways")
    call_command("import_jira", str(path), "--stream", "payments", "--map", "Parked=On hold:waiting")
    assert "items 13 new" in capsys.readouterr().out
    assert WorkflowState.objects.get(stream__slug="payments", name="On hold").category == "waiting"
    call_command("import_jira", str(path), "--stream", "payments")  # remembered: no --map needed
    assert "13 unchanged" in capsys.readouterr().out


def test_a_mapping_given_by_the_page_is_used_as_given():
    mapping = Mapping(statuses={"In Review": ("Review", "active")}, types={"Epic": "feature", "Story": "debt"})
    run_jira(mapping=mapping)
    got = items("payments")
    assert got["PAY-12"].state.name == "Review" and got["PAY-3"].flow_type == "debt"


def test_imported_items_are_ranked_after_the_product_owners_order_in_the_files_order():
    from streams.backlog.services import item_create

    payments = ValueStream.objects.create(slug="payments", name="Payments")
    WorkflowState.objects.create(stream=payments, name="Backlog", category="backlog", order=0)
    ordered = [item_create(stream_id=payments.pk, title=f"Ordered {n}", flow_type="feature", rank=n) for n in (1, 2.5)]
    run_jira()
    ranks = list(BacklogItem.objects.filter(stream=payments).order_by("rank", "pk").values_list("title", "rank"))
    assert ranks[:2] == [(ordered[0].title, 1.0), (ordered[1].title, 2.5)]
    imported = [title for title, _ in ranks[2:]]
    file_order = [issue["fields"]["summary"] for issue in jira()["issues"]]
    assert imported == file_order
    assert [rank for _, rank in ranks[2:]] == [float(n) for n in range(3, 3 + len(file_order))]


def test_an_import_uses_the_streams_own_states_instead_of_near_duplicates():
    """Jira's "In Progress" is the stream's "In progress", and "To Do" lands in its "Backlog"
    (the first state of the category the name means) instead of beside it."""
    payments = ValueStream.objects.create(slug="payments", name="Payments")
    for order, (name, category) in enumerate(
        [("Backlog", "backlog"), ("In  progress", "active"), ("Waiting", "waiting"), ("done", "done")]
    ):
        WorkflowState.objects.create(stream=payments, name=name, category=category, order=order)
    result = run_jira()
    names = list(WorkflowState.objects.filter(stream=payments).order_by("order").values_list("name", flat=True))
    # Only the statuses with no state of their category's name are new: none here but Won't Do
    # (removed: the stream has no removed state).
    assert names == ["Backlog", "In  progress", "Waiting", "done", "Won't Do"], names
    assert result.states_created == 1
    by_state = dict(BacklogItem.objects.filter(stream=payments).values_list("external_key", "state__name").order_by())
    assert set(by_state.values()) <= set(names)
    remembered = dict(ImportMapping.objects.filter(stream=payments, kind="status").values_list("value", "state_name"))
    assert remembered["In Progress"] == "In  progress" and remembered["To Do"] == "Backlog"
    assert remembered["In Review"] == "In  progress" and remembered["Waiting for QA"] == "Waiting"


def cut_short(data: dict, key: str, keep: int) -> None:
    """What Jira's search sends for an issue with more histories than a page: the latest
    `keep`, and `total` counting them all."""
    changelog = issue(data, key)["changelog"]
    changelog["total"] = len(changelog["histories"])
    changelog["histories"] = changelog["histories"][-keep:]


def test_a_history_cut_short_by_the_export_leaves_the_start_unknown_and_says_so():
    """PAY-8 (done) and PAY-12 (in review) come with only their latest history: Jira's
    changelog.total says there were more. PAY-8's start is unknown: it counts in throughput,
    not in flow time; PAY-12 is still in progress (WIP). Both are named in the summary and the
    stream's data-quality panel; a whole export later measures them again."""
    from streams.flow.engine import Scope, Window
    from streams.flow.quality import with_data_quality
    from streams.flow.report import flow_report

    data = jira()
    cut_short(data, "PAY-8", 1)
    cut_short(data, "PAY-12", 1)
    result = run_jira(data)
    assert result.cut_short == ["PAY-12", "PAY-8"]
    assert "history cut short by the export" in result.summary() and "PAY-12, PAY-8" in result.summary()
    assert result.as_dict()["cut_short"] == ["PAY-12", "PAY-8"]
    stored = items("payments")
    assert stored["PAY-8"].history_cut_short and stored["PAY-12"].history_cut_short
    assert not stored["PAY-11"].history_cut_short
    assert stored["PAY-8"].started_at is None and stored["PAY-8"].finished_at == dt.datetime(
        2026, 4, 10, 10, tzinfo=UTC
    )
    assert stored["PAY-12"].started_at is not None  # in progress: its first known progress stands in

    stream = ValueStream.objects.get(slug="payments")
    window = Window.build(
        start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 30), as_of=dt.datetime(2026, 7, 1, tzinfo=UTC)
    )
    report = with_data_quality(flow_report(scope=Scope.stream(stream), window=window))
    finished = {f.key: f for f in report.finished}
    assert set(finished) == {"PAY-8", "PAY-11"} and report.throughput == 2
    assert finished["PAY-8"].flow_days is None and finished["PAY-8"].start is None
    assert report.flow_time.n == 1 and report.lead_time.n == 2  # PAY-11 alone has a flow time
    assert report.efficiency_n + report.efficiency_zero <= 1
    quality = report.data_quality
    assert (quality.cut_short, quality.cut_short_finished) == (2, 1)
    assert [key for _, key in quality.cut_short_named] == ["PAY-12", "PAY-8"]
    now = flow_report(scope=Scope.stream(stream), window=Window.build(as_of=dt.datetime(2026, 7, 1, tzinfo=UTC)))
    assert "PAY-12" in {f.key for f in now.in_progress}

    result = run_jira()  # the whole changelog this time
    assert result.cut_short == []
    whole = items("payments")["PAY-8"]
    assert not whole.history_cut_short and whole.started_at == dt.datetime(2026, 4, 6, 9, tzinfo=UTC)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_export_is_read_with_the_garbage_collector_paused_and_left_as_found(enabled):
    """Reading keeps every issue's history, a million objects on a large export, and makes no
    cycles: the collector would go over them again and again (`writer.collector_paused`)."""
    was, during = gc.isenabled(), []
    (gc.enable if enabled else gc.disable)()
    try:
        toolchain_import(
            source="jira",
            stream_slug="payments",
            file=as_file(jira()),
            progress=lambda issues, read: during.append(gc.isenabled()),
        )
        assert gc.isenabled() is enabled
        text = json.dumps(jira())
        with pytest.raises(ImportRefused):
            toolchain_import(source="jira", stream_slug="other", file=io.BytesIO(text[: len(text) // 2].encode()))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert during and not any(during)
