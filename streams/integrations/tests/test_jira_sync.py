"""Jira Cloud and Data Center synced against a local server that answers as their REST APIs do."""

import datetime as dt

import pytest

from streams.integrations.connectors.services import connection_create, connection_mapping_save
from streams.integrations.connectors.sync import TimeMark, connection_probe, connection_sync
from streams.integrations.tests.tool_servers import Fault, JiraServer
from streams.integrations.toolchain import Mapping
from streams.models import BacklogItem, Connection, Dependency, HeldItem, SyncRun
from streams.tests.factories import ValueStreamFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)
STATUSES = {
    "To Do": ("Backlog", "backlog"),
    "In Progress": ("In progress", "active"),
    "In Review": ("Review", "waiting"),
    "Done": ("Done", "done"),
}
TYPES = {"Story": "feature", "Bug": "defect", "Epic": "feature"}


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@pytest.fixture
def jira():
    with JiraServer() as server:
        yield server


def connect(server, *, cloud=True, scope=None):
    stream = ValueStreamFactory(workflow=False)
    connection = connection_create(
        stream=stream,
        tool=Connection.Tool.JIRA_CLOUD if cloud else Connection.Tool.JIRA_DATA_CENTER,
        base_url=server.base_url,
        username=server.email if cloud else "",
        token=server.token,
        scope=scope or {"jql": "project = PAY"},
        rate=100,
    )
    connection_mapping_save(connection=connection, mapping=Mapping(statuses=STATUSES, types=TYPES))
    return connection


@pytest.fixture
def connection(jira):
    return connect(jira)


def board(jira):
    jira.create("PAY-1", day(0), summary="Pay by link", type="Epic")
    jira.move("PAY-1", day(1), "In Progress")
    jira.create("PAY-2", day(0), summary="QR codes", parent="PAY-1", blocked_by=["PAY-3"])
    jira.move("PAY-2", day(1), "In Progress")
    jira.move("PAY-2", day(2), "In Review")
    jira.move("PAY-2", day(3), "Done")
    jira.create("PAY-3", day(1), type="Bug", summary="Rounding")
    jira.create("OPS-1", day(1), summary="Not ours")


def history_of(connection, key):
    item = BacklogItem.objects.get(stream=connection.stream, external_key=key)
    return [(t.to_state.name, t.at) for t in item.transitions.select_related("to_state").order_by("at", "pk")]


def test_cloud_backfill_pages_by_token_and_reads_whole_histories(jira, connection):
    board(jira)
    jira.page_cap = 2
    jira.changelog_cap = 1  # the search cuts PAY-2's changelog short: bulkfetch completes it
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert history_of(connection, "PAY-2") == [
        ("Backlog", day(0)),
        ("In progress", day(1)),
        ("Review", day(2)),
        ("Done", day(3)),
    ]
    item = BacklogItem.objects.get(stream=connection.stream, external_key="PAY-2")
    assert not item.history_cut_short and (item.started_at, item.finished_at) == (day(1), day(3))
    assert item.parent.external_key == "PAY-1"
    assert Dependency.objects.filter(item=item, blocked_by__external_key="PAY-3").exists()
    assert not BacklogItem.objects.filter(external_key="OPS-1").exists()
    assert run.items_new == 3
    assert any("/rest/api/3/changelog/bulkfetch" in r for r in jira.requests)
    assert not any(r.endswith("/rest/api/3/search") for r in jira.requests)  # the endpoint Cloud removed
    assert sum("/search/jql" in r for r in jira.requests) >= 2  # pages followed by nextPageToken


def test_the_incremental_query_reads_updates_since_the_watermark_in_the_accounts_time_zone(jira, connection):
    board(jira)
    connection_sync(connection.pk)
    connection.refresh_from_db()
    mark = TimeMark.parse(connection.watermark)
    assert mark.updated and mark.cursor is None
    jira.move("PAY-3", dt.datetime.now(dt.UTC), "In Progress")
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    since = (mark.updated - dt.timedelta(minutes=5)).astimezone(dt.timezone(dt.timedelta(hours=1)))  # Berlin, CET
    assert f'updated >= "{since:%Y/%m/%d %H:%M}"' in jira.searches[-1]
    assert jira.searches[-1].endswith("ORDER BY created ASC")
    assert run.read == 1 and run.items_changed == 1 and run.items_new == 0
    assert history_of(connection, "PAY-3")[-1][0] == "In progress"


def test_a_second_sync_with_nothing_new_writes_nothing(jira, connection):
    board(jira)
    connection_sync(connection.pk)
    versions = BacklogItem.history.count()
    run = connection_sync(connection.pk)
    run.refresh_from_db()
    assert (run.items_new, run.items_changed, run.moves_written) == (0, 0, 0)
    assert BacklogItem.history.count() == versions


def test_a_killed_backfill_resumes_from_the_last_committed_issue(jira, connection, settings):
    board(jira)
    jira.page_cap = 1
    settings.CONNECTOR_BATCH_ITEMS = 1
    settings.CONNECTOR_RETRIES = 0
    jira.faults.append(Fault(path="search/jql", status=500, skip=2))
    failed = connection_sync(connection.pk)
    connection.refresh_from_db()
    mark = TimeMark.parse(connection.watermark)
    assert failed.status == SyncRun.Status.FAILED and mark.cursor == day(0) and mark.updated is None
    assert BacklogItem.objects.filter(stream=connection.stream).count() == 2
    resumed = connection_sync(connection.pk)
    assert resumed.status == SyncRun.Status.SUCCEEDED
    assert 'created >= "2026/10/05 11:00"' in jira.searches[2]  # day 0, 09:00 UTC, read in Berlin (CEST)
    assert BacklogItem.objects.filter(stream=connection.stream).count() == 3
    connection.refresh_from_db()
    assert TimeMark.parse(connection.watermark).updated == mark.begun  # nothing updated meanwhile is missed


def test_issues_deleted_in_jira_end_removed(jira, connection):
    board(jira)
    connection_sync(connection.pk)
    jira.delete("PAY-3")
    connection.refresh_from_db()
    mark = TimeMark.parse(connection.watermark)
    mark.ids_checked = None  # the hourly comparison of the keys in scope is due
    Connection.objects.filter(pk=connection.pk).update(watermark=mark.dump())
    connection_sync(connection.pk)
    assert BacklogItem.objects.get(stream=connection.stream, external_key="PAY-3").state.category == "removed"
    assert BacklogItem.objects.get(stream=connection.stream, external_key="PAY-1").state.category == "active"


def test_a_renamed_status_holds_its_issue_until_mapped(jira, connection):
    board(jira)
    connection_sync(connection.pk)
    jira.move("PAY-3", dt.datetime.now(dt.UTC), "Ready for QA")
    connection_sync(connection.pk)
    assert dict(HeldItem.objects.values_list("external_key", "value")) == {"PAY-3": "Ready for QA"}
    connection_mapping_save(connection=connection, mapping=Mapping(statuses={"Ready for QA": ("QA", "waiting")}))
    # Held items are read again in full at the next run, whatever their updated time.
    connection.refresh_from_db()
    connection_sync(connection.pk)
    assert history_of(connection, "PAY-3")[-1][0] == "QA"
    assert not HeldItem.objects.exists()


def test_data_center_pages_by_start_at_with_a_bearer_token(jira):
    server = jira
    server.cloud = False
    connection = connect(server, cloud=False)
    board(server)
    server.page_cap = 2
    run = connection_sync(connection.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert history_of(connection, "PAY-2")[-1] == ("Done", day(3))
    assert all("/rest/api/2/" in r for r in server.requests)


def test_expired_api_token_stops_the_connection(jira, connection):
    board(jira)
    jira.token = "revoked"
    run = connection_sync(connection.pk)
    connection.refresh_from_db()
    assert run.status == SyncRun.Status.STOPPED and "refused the credentials (401" in connection.status_message


def test_the_probe_counts_issues_in_scope_and_the_scope_is_checked(jira, connection):
    board(jira)
    assert connection_probe(connection).count == 3
    with pytest.raises(Exception, match="not both"):
        connection_create(
            stream=connection.stream,
            tool=Connection.Tool.JIRA_CLOUD,
            base_url=jira.base_url,
            username=jira.email,
            token="t",
            scope={"jql": "project = PAY", "filter": "10042"},
        )
